"""Who may do what, from where: the bot's security model, in one place.

Plain values in, a verdict out — no Discord types: the caller passes the server the command is
used in, the member's role ids and whether they hold Manage Server there
(``cogs/_checks.py`` is the Discord adapter).

* **The network's servers** are the servers of the ``[[channels]]`` and those of
  ``bot.moderation_guild_ids``; **moderation servers**, where network-wide actions come from, are
  ``bot.moderation_guild_ids`` when set (a staff server, say), else the servers of the
  ``[[channels]]``.  In any other server (and in direct messages) the bot stores nothing: every
  command that would write — a poll, a survey, a profile, a moderator action — is refused with a
  one-line notice (:class:`OutsideNetwork`).  Reading or deleting one's own data (``/my-data``,
  ``/forget-me``) stays open everywhere.
* **Network-wide actions** (:attr:`Scope.NETWORK`: announcements, extracts, campaigns, exporting a
  campaign) reach every network channel: only from a moderation server, by a member holding
  one of ``bot.moderator_roles`` there.  Roles are matched by id
  (a role id belongs to one server; anyone can create a role *named* like the moderators' one).
  Manage Server is not enough: any server's admin has it.
* **Per-server actions** (:attr:`Scope.SERVER`: a poll or survey in that server, closing it, its
  results, exporting one of its polls, ``/status``) need Manage Server or a moderator role in that server —
  which must be one of the network's.
* Everyone else, in a network server: vote, ``/profile``, ``/poll list`` (and ``/poll create``
  when ``bot.members_can_create_polls``).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.errors import Forbidden

if TYPE_CHECKING:
    from bot.config import Config


class Scope(enum.Enum):
    NETWORK = "network"  # acts on every network channel, or on the network's shared data
    SERVER = "server"  # acts in the server the command is used in


@dataclass(frozen=True)
class Actor:
    """A member where they act: the server (``None`` in direct messages), their role ids there,
    and whether they hold Manage Server there."""

    guild_id: int | None
    role_ids: frozenset[int] = frozenset()
    manage_guild: bool = False

    @classmethod
    def of(cls, guild_id: int | None, role_ids: Iterable[int] = (), *, manage_guild: bool = False) -> Actor:
        return cls(guild_id, frozenset(role_ids), manage_guild)


class OutsideNetwork(Forbidden):
    """The server is not one of the network's: the bot stores nothing there."""

    key = "error.not_network"


class NotModerator(Forbidden):
    """A per-server action by a member without Manage Server or a moderator role."""

    key = "error.not_moderator"


class NotNetworkModerator(NotModerator):
    """A network-wide action by a member without a moderator role of a network server."""

    key = "error.not_network_moderator"


def moderation_guild_ids(config: Config) -> frozenset[int]:
    """Where network-wide actions come from: ``bot.moderation_guild_ids``, else the servers of
    ``[[channels]]``."""
    explicit = config.bot.moderation_guild_ids
    return frozenset(explicit) if explicit else frozenset(c.guild_id for c in config.channels)


def network_guild_ids(config: Config) -> frozenset[int]:
    """The network's servers, where the bot stores anything: those of ``[[channels]]`` and the
    moderation servers."""
    return frozenset(c.guild_id for c in config.channels) | frozenset(config.bot.moderation_guild_ids)


def in_network(config: Config, guild_id: int | None) -> bool:
    return guild_id is not None and guild_id in network_guild_ids(config)


def holds_moderator_role(config: Config, actor: Actor) -> bool:
    return not actor.role_ids.isdisjoint(config.bot.moderator_roles)


def may(config: Config, actor: Actor, scope: Scope) -> bool:
    """Whether ``actor`` may take an action of ``scope`` where they are."""
    if not in_network(config, actor.guild_id):
        return False
    if scope is Scope.NETWORK:
        return actor.guild_id in moderation_guild_ids(config) and holds_moderator_role(config, actor)
    return actor.manage_guild or holds_moderator_role(config, actor)


def check(config: Config, actor: Actor, scope: Scope) -> None:
    """Raise the refusal a person reads, or return when ``actor`` may act."""
    require_network(config, actor.guild_id)
    if may(config, actor, scope):
        return
    raise NotNetworkModerator() if scope is Scope.NETWORK else NotModerator()


def require_network(config: Config, guild_id: int | None) -> None:
    """Anything that stores data for a member: only in one of the network's servers."""
    if not in_network(config, guild_id):
        raise OutsideNetwork()
