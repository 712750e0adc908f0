"""Discord permissions as plain integers: the bits the bot uses, what it needs, a member's
permissions in a channel by Discord's documented algorithm, and the invite URL.  Pure functions,
no I/O (https://discord.com/developers/docs/topics/permissions)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

ADMINISTRATOR = 1 << 3
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
SEND_POLLS = 1 << 49
ALL_PERMISSIONS = (1 << 64) - 1

#: Everything the bot needs, the integer of the invite URL: 562949953670144.
BOT_PERMISSIONS = (
    VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | ATTACH_FILES | READ_MESSAGE_HISTORY | MENTION_EVERYONE | SEND_POLLS
)
#: Needed in every network channel (MENTION_EVERYONE only for a role that is not mentionable).
CHANNEL_PERMISSIONS = BOT_PERMISSIONS & ~MENTION_EVERYONE
#: Needed in the moderators' log channel (plain text reports).
MODLOG_PERMISSIONS = VIEW_CHANNEL | SEND_MESSAGES

#: Posting a poll's or a survey's message here: an embed with buttons.
POST_PERMISSIONS = VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS

#: Permission bits in the order they are named, with their catalogue key.
PERMISSION_KEYS: tuple[tuple[int, str], ...] = (
    (VIEW_CHANNEL, "check.perm.view_channel"),
    (SEND_MESSAGES, "check.perm.send_messages"),
    (EMBED_LINKS, "check.perm.embed_links"),
    (ATTACH_FILES, "check.perm.attach_files"),
    (READ_MESSAGE_HISTORY, "check.perm.read_message_history"),
    (MENTION_EVERYONE, "check.perm.mention_everyone"),
    (SEND_POLLS, "check.perm.send_polls"),
)


def permission_keys(bits: int) -> tuple[str, ...]:
    """The catalogue keys naming the permissions in ``bits`` (those the bot knows of)."""
    return tuple(key for bit, key in PERMISSION_KEYS if bits & bit)


ROLE_OVERWRITE = 0
MEMBER_OVERWRITE = 1

INVITE_SCOPES = ("bot", "applications.commands")


@dataclass(frozen=True)
class Overwrite:
    """A channel permission overwrite: ``type`` 0 for a role (the @everyone role's id is the
    guild's), 1 for a member."""

    id: int
    type: int
    allow: int = 0
    deny: int = 0


def effective_permissions(
    *,
    guild_id: int,
    owner_id: int,
    user_id: int,
    role_permissions: Mapping[int, int],
    member_roles: Iterable[int],
    overwrites: Iterable[Overwrite] = (),
    timed_out: bool = False,
) -> int:
    """A member's permissions in a channel, by Discord's documented algorithm.

    The guild owner has every permission.  Base: the @everyone role (id = ``guild_id``) OR'd with
    each of the member's roles; ADMINISTRATOR there gives every permission.  Then the channel's
    overwrites, in this order: @everyone's deny then allow; the member's roles' denies and allows
    combined (allow wins over deny among roles); the member's own deny then allow.  A timed-out
    member keeps only VIEW_CHANNEL and READ_MESSAGE_HISTORY.  ``role_permissions`` maps role id
    to its permission integer; unknown role ids count as no permission.
    """
    if user_id == owner_id:
        return ALL_PERMISSIONS
    roles = list(member_roles)
    permissions = role_permissions.get(guild_id, 0)
    for role_id in roles:
        permissions |= role_permissions.get(role_id, 0)
    if permissions & ADMINISTRATOR:
        return ALL_PERMISSIONS
    by_target = {(o.type, o.id): o for o in overwrites}
    everyone = by_target.get((ROLE_OVERWRITE, guild_id))
    if everyone is not None:
        permissions &= ~everyone.deny
        permissions |= everyone.allow
    allow = deny = 0
    for role_id in roles:
        overwrite = by_target.get((ROLE_OVERWRITE, role_id))
        if overwrite is not None:
            allow |= overwrite.allow
            deny |= overwrite.deny
    permissions &= ~deny
    permissions |= allow
    member = by_target.get((MEMBER_OVERWRITE, user_id))
    if member is not None:
        permissions &= ~member.deny
        permissions |= member.allow
    if timed_out:
        permissions &= VIEW_CHANNEL | READ_MESSAGE_HISTORY
    return permissions


def invite_url(client_id: int | str, permissions: int = BOT_PERMISSIONS, *, base: str = "https://discord.com") -> str:
    """The URL that adds the bot to a server with its slash commands and ``permissions``."""
    query = urlencode(
        {"client_id": str(client_id), "permissions": str(permissions), "scope": " ".join(INVITE_SCOPES)}
    )
    return f"{base.rstrip('/')}/oauth2/authorize?{query}"
