"""``reseau-bot check``: is this deployment ready to go live?  Verified over Discord's REST API
only (no gateway session), plus the database and the extracts' sources.

* the token is valid (``GET /users/@me``); the application id for the invite URL comes from
  ``GET /applications/@me`` (else the bot's user id, the same for every bot made since 2016);
  with ``discord.members_intent`` the application must have the Server Members intent enabled,
  or the gateway would refuse the connection (close code 4014);
* each configured server (``[[channels]]`` guild ids, and the guild of
  ``discord.moderators_log_channel_id``) is reachable: the bot is a member;
* each configured channel exists, can be read, is a text or announcement channel and belongs to
  the configured server; the bot holds the permissions it needs there
  (:data:`CHANNEL_PERMISSIONS`, or :data:`MODLOG_PERMISSIONS` in the moderators' log channel),
  computed by :func:`effective_permissions`; a ``mention_role_id`` that is not mentionable needs
  MENTION_EVERYONE;
* the database is at the migrations' head;
* the host of every URL extract source already stored (``page:<url>``, ``feed:<url>…`` source
  keys) is in ``fetch.allowed_hosts``.  Keys that are not URLs (files, feed entry ids such as
  ``tag:…``, hashed long keys) say nothing about a host and are not checked.

Everything here is plain Python (httpx, no discord.py): the result is a list of
:class:`CheckResult`, each a catalogue message (:class:`Msg`) and, when it failed, the fix as
another message.  Network trouble (refused connection, timeout, 5xx, a second 429, a body that
is not JSON or not shaped as expected) becomes a failed result with its reason, never an
exception.  The token is only ever put in the ``Authorization`` header.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from bot.config import Config, NetworkChannel

# --------------------------------------------------------------------------------------------
# Permissions (https://discord.com/developers/docs/topics/permissions)

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

# Application flags (https://discord.com/developers/docs/resources/application#application-object-application-flags)
GATEWAY_GUILD_MEMBERS = 1 << 14
GATEWAY_GUILD_MEMBERS_LIMITED = 1 << 15

ROLE_OVERWRITE = 0
MEMBER_OVERWRITE = 1
TEXT_CHANNEL_TYPES = frozenset({0, 5})  # GUILD_TEXT, GUILD_ANNOUNCEMENT

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


def permission_keys(bits: int) -> tuple[str, ...]:
    """The catalogue keys naming the permissions in ``bits`` (those the bot knows of)."""
    return tuple(key for bit, key in PERMISSION_KEYS if bits & bit)


def invite_url(client_id: int | str, permissions: int = BOT_PERMISSIONS, *, base: str = "https://discord.com") -> str:
    """The URL that adds the bot to a server with its slash commands and ``permissions``."""
    query = urlencode(
        {"client_id": str(client_id), "permissions": str(permissions), "scope": " ".join(INVITE_SCOPES)}
    )
    return f"{base.rstrip('/')}/oauth2/authorize?{query}"


# --------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class Msg:
    """A catalogue key and its parameters; a parameter may itself be a ``Msg`` or a tuple of them
    (a list, joined by the adapter)."""

    key: str
    params: Mapping[str, Any] = field(default_factory=dict)


def msg(key: str, /, **params: Any) -> Msg:
    return Msg(key, params)


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    line: Msg
    fix: Msg | None = None


@dataclass
class CheckReport:
    results: list[CheckResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def failures(self) -> int:
        return sum(1 for r in self.results if not r.ok)


def _passed(line: Msg) -> CheckResult:
    return CheckResult(True, line)


def _failed(line: Msg, fix: Msg) -> CheckResult:
    return CheckResult(False, line, fix)


# --------------------------------------------------------------------------------------------
# Discord over REST


class Unreachable(Exception):
    """Discord did not give a usable answer; ``reason`` says why, as a catalogue message."""

    def __init__(self, reason: Msg) -> None:
        super().__init__(reason.key)
        self.reason = reason


@dataclass(frozen=True)
class Answer:
    status: int
    data: Any

    @property
    def code(self) -> int | None:
        """Discord's JSON error code of an error answer."""
        if self.status >= 400 and isinstance(self.data, dict) and isinstance(self.data.get("code"), int):
            return self.data["code"]
        return None


class DiscordREST:
    """GET requests on Discord's API, one at a time; a 429 is waited out once (its
    ``retry_after``, up to ``max_wait`` seconds), any other trouble raises :class:`Unreachable`."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        max_wait: float = 10.0,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.client = client
        self.max_wait = max_wait
        self.sleep = sleep

    async def get(self, path: str) -> Answer:
        response = await self._send(path)
        if response.status_code == 429:
            wait = _retry_after(response)
            if wait is not None and wait <= self.max_wait:
                await self.sleep(wait)
                response = await self._send(path)
        if response.status_code == 429:
            wait = _retry_after(response)
            raise Unreachable(msg("check.reason.rate_limited", seconds=math.ceil(wait or 0)))
        if response.status_code >= 500:
            raise Unreachable(msg("check.reason.server_error", status=response.status_code))
        try:
            data = response.json()
        except ValueError:
            raise Unreachable(msg("check.reason.bad_json", status=response.status_code)) from None
        return Answer(response.status_code, data)

    async def _send(self, path: str) -> httpx.Response:
        try:
            return await self.client.get(path)
        except httpx.TimeoutException:
            raise Unreachable(msg("check.reason.timeout")) from None
        except httpx.ConnectError as exc:
            raise Unreachable(msg("check.reason.connect", detail=_short(exc))) from None
        except httpx.HTTPError as exc:
            raise Unreachable(msg("check.reason.network", detail=_short(exc))) from None


def _retry_after(response: httpx.Response) -> float | None:
    try:
        body = response.json()
        if isinstance(body, dict) and isinstance(body.get("retry_after"), int | float):
            return max(float(body["retry_after"]), 0.0)
    except ValueError:
        pass
    try:
        return max(float(response.headers.get("Retry-After", "")), 0.0)
    except ValueError:
        return None


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


def _snowflake(data: Any, name: str) -> int:
    """``data[name]`` as an id, or :class:`Unreachable` (the answer is not shaped as Discord's)."""
    try:
        return int(data[name])
    except (KeyError, TypeError, ValueError):
        raise Unreachable(msg("check.reason.bad_shape", field=name)) from None


def _unexpected(answer: Answer) -> Unreachable:
    message = answer.data.get("message") if isinstance(answer.data, dict) else None
    return Unreachable(msg("check.reason.status", status=answer.status, message=str(message or "-")[:200]))


@dataclass(frozen=True)
class RoleInfo:
    id: int
    name: str
    permissions: int
    mentionable: bool


@dataclass(frozen=True)
class GuildInfo:
    id: int
    name: str
    owner_id: int
    roles: dict[int, RoleInfo]
    member_roles: tuple[int, ...]
    timed_out: bool


class _DiscordChecks:
    def __init__(self, config: Config, rest: DiscordREST, now: dt.datetime) -> None:
        self.config = config
        self.rest = rest
        self.now = now
        self.results: list[CheckResult] = []
        self.bot_id = 0
        self.invite = ""
        self.guilds: dict[int, GuildInfo | None] = {}  # None: checked, not reachable

    def add(self, result: CheckResult) -> None:
        self.results.append(result)

    async def run(self) -> list[CheckResult]:
        if not await self._token():
            self.add(_failed(msg("check.discord.skipped"), msg("check.discord.skipped_fix")))
            return self.results
        if not self.config.channels:
            self.add(_failed(msg("check.channels.none"), msg("check.channels.none_fix", path=str(self.config.path))))
        for guild_id in dict.fromkeys(c.guild_id for c in self.config.channels):
            guild = await self._guild(guild_id)
            for channel in self.config.channels_in(guild_id):
                await self._network_channel(channel, guild)
        if self.config.discord.moderators_log_channel_id:
            await self._modlog(self.config.discord.moderators_log_channel_id)
        return self.results

    # ---- token and application
    async def _token(self) -> bool:
        api = self.config.discord.api_base_url
        try:
            me = await self.rest.get("/users/@me")
            if me.status == 401:
                self.add(_failed(msg("check.token.refused"), msg("check.token.refused_fix")))
                return False
            if me.status != 200:
                raise _unexpected(me)
            self.bot_id = _snowflake(me.data, "id")
            name = str(me.data.get("username") or self.bot_id)
        except Unreachable as exc:
            self.add(_failed(msg("check.token.unreachable", url=api, reason=exc.reason),
                             msg("check.token.unreachable_fix")))
            return False
        self.add(_passed(msg("check.token.ok", name=name, id=self.bot_id)))
        application_id, flags = self.bot_id, None
        try:
            app = await self.rest.get("/applications/@me")
            if app.status == 200:
                application_id = _snowflake(app.data, "id")
                raw_flags = app.data.get("flags")
                flags = raw_flags if isinstance(raw_flags, int) else None
        except Unreachable:
            pass  # the invite URL falls back to the bot's user id; the intent is not checked
        # discord.web_base_url (where members open Discord) when the configuration has it
        self.invite = invite_url(application_id, base=getattr(self.config.discord, "web_base_url", "https://discord.com"))
        if self.config.discord.members_intent and flags is not None:
            if flags & (GATEWAY_GUILD_MEMBERS | GATEWAY_GUILD_MEMBERS_LIMITED):
                self.add(_passed(msg("check.intent.ok")))
            else:
                self.add(_failed(msg("check.intent.missing"), msg("check.intent.missing_fix", path=str(self.config.path))))
        return True

    # ---- guilds
    async def _guild(self, guild_id: int) -> GuildInfo | None:
        if guild_id in self.guilds:
            return self.guilds[guild_id]
        info: GuildInfo | None = None
        try:
            guild = await self.rest.get(f"/guilds/{guild_id}")
            if guild.status in (403, 404):
                self.add(_failed(msg("check.guild.not_member", guild=guild_id),
                                 msg("check.guild.not_member_fix", invite=self.invite)))
            elif guild.status != 200:
                raise _unexpected(guild)
            else:
                member = await self.rest.get(f"/guilds/{guild_id}/members/{self.bot_id}")
                if member.status in (403, 404):
                    self.add(_failed(msg("check.guild.not_member", guild=guild_id),
                                     msg("check.guild.not_member_fix", invite=self.invite)))
                elif member.status != 200:
                    raise _unexpected(member)
                else:
                    roles = await self.rest.get(f"/guilds/{guild_id}/roles")
                    if roles.status != 200:
                        raise _unexpected(roles)
                    info = self._guild_info(guild_id, guild.data, roles.data, member.data)
                    self.add(_passed(msg("check.guild.ok", name=info.name, guild=guild_id)))
        except Unreachable as exc:
            self.add(_failed(msg("check.guild.error", guild=guild_id, reason=exc.reason), msg("check.retry_fix")))
        self.guilds[guild_id] = info
        return info

    def _guild_info(self, guild_id: int, guild: Any, roles: Any, member: Any) -> GuildInfo:
        if not isinstance(roles, list) or not isinstance(guild, dict) or not isinstance(member, dict):
            raise Unreachable(msg("check.reason.bad_shape", field="roles"))
        by_id: dict[int, RoleInfo] = {}
        for role in roles:
            role_id = _snowflake(role, "id")
            try:
                permissions = int(role.get("permissions") or 0)
            except (TypeError, ValueError):
                raise Unreachable(msg("check.reason.bad_shape", field="permissions")) from None
            by_id[role_id] = RoleInfo(role_id, str(role.get("name") or role_id), permissions,
                                      bool(role.get("mentionable")))
        try:
            member_roles = tuple(int(r) for r in member.get("roles") or ())
        except (TypeError, ValueError):
            raise Unreachable(msg("check.reason.bad_shape", field="roles")) from None
        return GuildInfo(
            id=guild_id,
            name=str(guild.get("name") or guild_id),
            owner_id=_snowflake(guild, "owner_id"),
            roles=by_id,
            member_roles=member_roles,
            timed_out=self._timed_out(member.get("communication_disabled_until")),
        )

    def _timed_out(self, until: Any) -> bool:
        if not isinstance(until, str) or not until:
            return False
        try:
            moment = dt.datetime.fromisoformat(until)
        except ValueError:
            return False
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return moment > self.now

    # ---- channels
    async def _fetch_channel(self, channel_id: int, label: str) -> Any | None:
        """The channel object, or None after adding the failed result that says why."""
        try:
            answer = await self.rest.get(f"/channels/{channel_id}")
            if answer.status == 200 and isinstance(answer.data, dict):
                _snowflake(answer.data, "id")
                return answer.data
            if answer.status == 404:
                self.add(_failed(msg("check.channel.unknown", channel=label),
                                 msg("check.channel.unknown_fix", path=str(self.config.path))))
            elif answer.status == 403:
                self.add(_failed(msg("check.channel.no_access", channel=label),
                                 msg("check.channel.no_access_fix", channel=label, invite=self.invite)))
            elif answer.status == 200:
                raise Unreachable(msg("check.reason.bad_shape", field="id"))
            else:
                raise _unexpected(answer)
        except Unreachable as exc:
            self.add(_failed(msg("check.channel.error", channel=label, reason=exc.reason), msg("check.retry_fix")))
        return None

    async def _network_channel(self, channel: NetworkChannel, guild: GuildInfo | None) -> None:
        label = f"{channel.name} ({channel.channel_id})" if channel.name else str(channel.channel_id)
        if guild is None:
            self.add(_failed(msg("check.channel.skipped", channel=label, guild=channel.guild_id),
                             msg("check.channel.skipped_fix")))
            return
        data = await self._fetch_channel(channel.channel_id, label)
        if data is None:
            return
        label = f"#{data.get('name') or channel.name or channel.channel_id} ({channel.channel_id})"
        if not self._in_guild(data, guild, label) or not self._is_text(data, label):
            return
        self.add(_passed(msg("check.channel.ok", channel=label, guild=guild.name)))
        permissions = self._permissions(data, guild)
        if permissions is None:
            return
        self._require(permissions, CHANNEL_PERMISSIONS, label)
        if channel.mention_role_id:
            self._mention(channel.mention_role_id, permissions, guild, label)

    async def _modlog(self, channel_id: int) -> None:
        label = str(channel_id)
        data = await self._fetch_channel(channel_id, label)
        if data is None:
            return
        label = f"#{data.get('name') or channel_id} ({channel_id})"
        guild_id = data.get("guild_id")
        if not guild_id or not str(guild_id).isdigit():
            self.add(_failed(msg("check.modlog.not_in_guild", channel=label),
                             msg("check.modlog.not_in_guild_fix", path=str(self.config.path))))
            return
        guild = await self._guild(int(guild_id))
        if guild is None or not self._is_text(data, label):
            return
        self.add(_passed(msg("check.modlog.ok", channel=label, guild=guild.name)))
        permissions = self._permissions(data, guild)
        if permissions is not None:
            self._require(permissions, MODLOG_PERMISSIONS, label)

    def _in_guild(self, data: Any, guild: GuildInfo, label: str) -> bool:
        actual = str(data.get("guild_id") or "")
        if actual == str(guild.id):
            return True
        self.add(_failed(
            msg("check.channel.other_guild", channel=label, actual=actual or "-", guild=guild.id),
            msg("check.channel.other_guild_fix", actual=actual or "-", path=str(self.config.path)),
        ))
        return False

    def _is_text(self, data: Any, label: str) -> bool:
        if data.get("type") in TEXT_CHANNEL_TYPES:
            return True
        self.add(_failed(msg("check.channel.not_text", channel=label),
                         msg("check.channel.not_text_fix", path=str(self.config.path))))
        return False

    def _permissions(self, data: Any, guild: GuildInfo) -> int | None:
        try:
            overwrites = [
                Overwrite(int(o["id"]), int(o["type"]), int(o.get("allow") or 0), int(o.get("deny") or 0))
                for o in data.get("permission_overwrites") or ()
            ]
        except (KeyError, TypeError, ValueError, AttributeError):
            self.add(_failed(msg("check.channel.error", channel=str(data.get("id")),
                                 reason=msg("check.reason.bad_shape", field="permission_overwrites")),
                             msg("check.retry_fix")))
            return None
        return effective_permissions(
            guild_id=guild.id,
            owner_id=guild.owner_id,
            user_id=self.bot_id,
            role_permissions={r.id: r.permissions for r in guild.roles.values()},
            member_roles=guild.member_roles,
            overwrites=overwrites,
            timed_out=guild.timed_out,
        )

    def _require(self, permissions: int, needed: int, label: str) -> None:
        missing = needed & ~permissions
        if not missing:
            self.add(_passed(msg("check.perms.ok", channel=label)))
            return
        names = tuple(Msg(key) for key in permission_keys(missing))
        key = "check.perms.missing" if len(names) == 1 else "check.perms.missing_many"
        self.add(_failed(msg(key, channel=label, permissions=names),
                         msg(f"{key}_fix", channel=label, permissions=names, invite=self.invite)))

    def _mention(self, role_id: int, permissions: int, guild: GuildInfo, label: str) -> None:
        role = guild.roles.get(role_id)
        if role is None:
            self.add(_failed(msg("check.mention.unknown_role", role=role_id, channel=label),
                             msg("check.mention.unknown_role_fix", path=str(self.config.path))))
            return
        name = role.name if role.name.startswith("@") else f"@{role.name}"
        everyone = role_id == guild.id  # @everyone always needs the permission
        if (role.mentionable and not everyone) or permissions & MENTION_EVERYONE:
            self.add(_passed(msg("check.mention.ok", role=name, channel=label)))
            return
        self.add(_failed(msg("check.mention.blocked", role=name, channel=label),
                         msg("check.mention.blocked_fix", role=name, channel=label, invite=self.invite)))


async def check_discord(
    config: Config,
    token: str,
    *,
    client: httpx.AsyncClient | None = None,
    now: dt.datetime | None = None,
) -> list[CheckResult]:
    """The Discord checks, over REST only, against ``config.discord.api_base_url``."""
    own = client is None
    if client is None:
        client = httpx.AsyncClient(
            base_url=config.discord.api_base_url.rstrip("/"),
            headers={"Authorization": f"Bot {token}", "User-Agent": "reseau-bot check"},
            timeout=httpx.Timeout(config.fetch.read_timeout, connect=config.fetch.connect_timeout),
            follow_redirects=False,
        )
    try:
        checks = _DiscordChecks(config, DiscordREST(client), now or dt.datetime.now(dt.UTC))
        return await checks.run()
    finally:
        if own:
            await client.aclose()


# --------------------------------------------------------------------------------------------
# Database and extract sources


def source_url(source_key: str) -> httpx.URL | None:
    """The URL an extract was imported from, when its source key holds one."""
    from bot.services.fetch import _url_of

    prefix, _, rest = source_key.partition(":")
    if prefix not in ("page", "feed") or rest.startswith("sha256:"):
        return None
    return _url_of(rest)


def _host_label(url: httpx.URL) -> str:
    host = url.host
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{url.port}" if url.port else host


async def check_database(config: Config) -> list[CheckResult]:
    """The schema is at head; then the hosts of the stored URL sources are allowed."""
    from sqlalchemy.engine import make_url

    from storage.db import create_engine, current_revision, head_revision

    head = head_revision()
    url = make_url(config.database.url)
    database = url.database or ""
    if url.get_backend_name() == "sqlite" and database not in ("", ":memory:") and not database.startswith("file:"):
        if not Path(database).expanduser().exists():  # do not create an empty file by looking
            return [
                _failed(msg("check.db.missing", head=head), msg("check.db.behind_fix")),
                _failed(msg("check.host.skipped"), msg("check.db.behind_fix")),
            ]
    engine = create_engine(config.database.url)
    try:
        try:
            current = await current_revision(engine)
        except Exception as exc:  # any driver, any failure: one line, no traceback
            return [
                _failed(msg("check.db.unreachable", reason=_db_reason(exc)), msg("check.db.unreachable_fix")),
                _failed(msg("check.host.skipped"), msg("check.db.unreachable_fix")),
            ]
        if current != head:
            return [
                _failed(msg("check.db.behind", current=current, head=head) if current else msg("check.db.missing", head=head),
                        msg("check.db.behind_fix")),
                _failed(msg("check.host.skipped"), msg("check.db.behind_fix")),
            ]
        results = [_passed(msg("check.db.ok", revision=head))]
        try:
            results += await _check_sources(engine, config)
        except Exception as exc:
            results.append(_failed(msg("check.host.error", reason=_db_reason(exc)), msg("check.db.unreachable_fix")))
        return results
    finally:
        await engine.dispose()


def _db_reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)  # a DBAPIError's driver exception, without the SQL
    return _short(orig if orig is not None else exc)


async def _check_sources(engine: Any, config: Config) -> list[CheckResult]:
    from bot.services.fetch import _is_allowed, _parse_allowed
    from storage.db import session_factory
    from storage.repositories.extracts import ExtractRepository

    async with session_factory(engine)() as session:
        keys = [e.source_key for e in await ExtractRepository(session).all()]
    by_host: dict[str, tuple[httpx.URL, int]] = {}
    for key in keys:
        url = source_url(key)
        if url is not None:
            label = _host_label(url)
            first, count = by_host.get(label, (url, 0))
            by_host[label] = (first, count + 1)
    if not by_host:
        return [_passed(msg("check.host.none"))]
    allowed = _parse_allowed(config.fetch.allowed_hosts)
    results = []
    for label, (url, count) in sorted(by_host.items()):
        if _is_allowed(url, allowed):
            results.append(_passed(msg("check.host.ok", host=label, count=count)))
        else:
            results.append(_failed(msg("check.host.denied", host=label, count=count),
                                   msg("check.host.denied_fix", host=label, path=str(config.path))))
    return results


# --------------------------------------------------------------------------------------------
# Everything


async def run_checks(
    config: Config,
    token: str,
    *,
    client: httpx.AsyncClient | None = None,
    now: dt.datetime | None = None,
) -> CheckReport:
    """Discord (token, servers, channels, permissions), then the database and the sources."""
    report = CheckReport()
    report.results += await check_discord(config, token, client=client, now=now)
    report.results += await check_database(config)
    return report
