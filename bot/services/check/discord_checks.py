"""The Discord checks: token and application, each configured server, each network channel and
the moderators' log channel, the permissions the bot holds there and the roles it mentions."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import httpx

from bot.config import Config, NetworkChannel
from bot.services.check.report import CheckResult, Msg, _failed, _passed, msg, permission_keys
from bot.services.check.rest import DiscordREST, Unreachable, _snowflake, _unexpected
from bot.services.permissions import (
    CHANNEL_PERMISSIONS,
    MENTION_EVERYONE,
    MODLOG_PERMISSIONS,
    Overwrite,
    effective_permissions,
    invite_url,
)

# Application flags (https://discord.com/developers/docs/resources/application#application-object-application-flags)
GATEWAY_GUILD_MEMBERS = 1 << 14
GATEWAY_GUILD_MEMBERS_LIMITED = 1 << 15

TEXT_CHANNEL_TYPES = frozenset({0, 5})  # GUILD_TEXT, GUILD_ANNOUNCEMENT


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
        await self._moderator_roles()
        return self.results

    # ---- who may moderate
    async def _moderator_roles(self) -> None:
        """Each ``bot.moderation_guild_ids`` is a server the bot is in; each ``bot.moderator_roles``
        is a role of one of the network's servers (those, else the servers of [[channels]]):
        a role found nowhere lets nobody publish."""
        bot = self.config.bot
        network = tuple(dict.fromkeys(bot.moderation_guild_ids or (c.guild_id for c in self.config.channels)))
        for guild_id in bot.moderation_guild_ids:
            await self._guild(guild_id)
        guilds = [self.guilds[g] for g in network if self.guilds.get(g) is not None]
        for role_id in bot.moderator_roles:
            found = next((g for g in guilds if role_id in g.roles), None)
            if found is not None:
                role = found.roles[role_id]
                name = role.name if role.name.startswith("@") else f"@{role.name}"
                self.add(_passed(msg("check.moderators.ok", role=name, id=role_id, guild=found.name)))
            else:
                self.add(_failed(msg("check.moderators.unknown", role=role_id, guilds=tuple(str(g) for g in network)),
                                 msg("check.moderators.unknown_fix", role=role_id, path=str(self.config.path))))

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
            info = await self._guild_as_member(guild_id)
            if info is None:
                self.add(_failed(msg("check.guild.not_member", guild=guild_id),
                                 msg("check.guild.not_member_fix", invite=self.invite)))
            else:
                self.add(_passed(msg("check.guild.ok", name=info.name, guild=guild_id)))
        except Unreachable as exc:
            self.add(_failed(msg("check.guild.error", guild=guild_id, reason=exc.reason), msg("check.retry_fix")))
        self.guilds[guild_id] = info
        return info

    async def _guild_as_member(self, guild_id: int) -> GuildInfo | None:
        """The server as the bot sees it, or ``None`` when the bot is not in it (Discord answers
        403 or 404 for the server or for the bot's membership); any other refusal is
        :class:`Unreachable`."""
        guild = await self.rest.get(f"/guilds/{guild_id}")
        if guild.status in (403, 404):
            return None
        if guild.status != 200:
            raise _unexpected(guild)
        member = await self.rest.get(f"/guilds/{guild_id}/members/{self.bot_id}")
        if member.status in (403, 404):
            return None
        if member.status != 200:
            raise _unexpected(member)
        roles = await self.rest.get(f"/guilds/{guild_id}/roles")
        if roles.status != 200:
            raise _unexpected(roles)
        return self._guild_info(guild_id, guild.data, roles.data, member.data)

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
