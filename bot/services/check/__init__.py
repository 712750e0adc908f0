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
* each ``bot.moderator_roles`` is a role of one of the network's servers
  (``bot.moderation_guild_ids``, else the servers of ``[[channels]]``), each of
  ``bot.moderation_guild_ids`` a server the bot is in;
* the export pseudonym secret (``privacy.pseudonym_secret_env``) is set — a warning only;
* the database is at the migrations' head;
* the host of every URL extract source already stored (``page:<url>``, ``feed:<url>…`` source
  keys) is in ``fetch.allowed_hosts``.  Keys that are not URLs (files, feed entry ids such as
  ``tag:…``, hashed long keys) say nothing about a host and are not checked;
* on PostgreSQL, the shards the running ``reseau-bot run`` processes claim — a warning when they
  run with another ``discord.shard_count`` than this configuration (its ``run`` would be refused).

Everything here is plain Python (httpx, no discord.py): the result is a list of
:class:`CheckResult`, each a catalogue message (:class:`Msg`) and, when it failed, the fix as
another message.  Network trouble (refused connection, timeout, 5xx, a second 429, a body that
is not JSON or not shaped as expected) becomes a failed result with its reason, never an
exception.  The token is only ever put in the ``Authorization`` header.

The package: :mod:`.report` (messages, results), :mod:`.rest` (Discord's REST API),
:mod:`.discord_checks`, :mod:`.database`; the permission algorithm itself is
:mod:`bot.services.permissions`, usable elsewhere.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping

import httpx

from bot.config import Config
from bot.services.check.database import check_database, source_url
from bot.services.check.discord_checks import (
    GATEWAY_GUILD_MEMBERS,
    GATEWAY_GUILD_MEMBERS_LIMITED,
    TEXT_CHANNEL_TYPES,
    GuildInfo,
    RoleInfo,
    check_discord,
)
from bot.services.check.report import (
    PERMISSION_KEYS,
    CheckReport,
    CheckResult,
    Msg,
    _passed,
    _warned,
    msg,
    permission_keys,
)
from bot.services.check.rest import Answer, DiscordREST, Unreachable
from bot.services.permissions import (
    ADMINISTRATOR,
    ALL_PERMISSIONS,
    ATTACH_FILES,
    BOT_PERMISSIONS,
    CHANNEL_PERMISSIONS,
    EMBED_LINKS,
    INVITE_SCOPES,
    MEMBER_OVERWRITE,
    MENTION_EVERYONE,
    MODLOG_PERMISSIONS,
    READ_MESSAGE_HISTORY,
    ROLE_OVERWRITE,
    SEND_MESSAGES,
    SEND_POLLS,
    VIEW_CHANNEL,
    Overwrite,
    effective_permissions,
    invite_url,
)

__all__ = [
    "ADMINISTRATOR",
    "ALL_PERMISSIONS",
    "ATTACH_FILES",
    "Answer",
    "BOT_PERMISSIONS",
    "CHANNEL_PERMISSIONS",
    "CheckReport",
    "CheckResult",
    "DiscordREST",
    "EMBED_LINKS",
    "GATEWAY_GUILD_MEMBERS",
    "GATEWAY_GUILD_MEMBERS_LIMITED",
    "GuildInfo",
    "INVITE_SCOPES",
    "MEMBER_OVERWRITE",
    "MENTION_EVERYONE",
    "MODLOG_PERMISSIONS",
    "Msg",
    "Overwrite",
    "PERMISSION_KEYS",
    "READ_MESSAGE_HISTORY",
    "ROLE_OVERWRITE",
    "RoleInfo",
    "SEND_MESSAGES",
    "SEND_POLLS",
    "TEXT_CHANNEL_TYPES",
    "Unreachable",
    "VIEW_CHANNEL",
    "check_database",
    "check_discord",
    "effective_permissions",
    "invite_url",
    "msg",
    "permission_keys",
    "run_checks",
    "source_url",
]


async def run_checks(
    config: Config,
    token: str,
    *,
    client: httpx.AsyncClient | None = None,
    now: dt.datetime | None = None,
    environ: Mapping[str, str] | None = None,
) -> CheckReport:
    """Discord (token, servers, channels, permissions, moderator roles), the export secret, then
    the database and the sources."""
    report = CheckReport()
    report.results += await check_discord(config, token, client=client, now=now)
    report.results += check_export_secret(config, os.environ if environ is None else environ)
    report.results += await check_database(config)
    return report


def check_export_secret(config: Config, environ: Mapping[str, str]) -> list[CheckResult]:
    """⚠ when the pseudonym secret's variable is not set: the bot runs, exports refuse."""
    from bot.services.exports.pseudonyms import MIN_SECRET_LENGTH

    name = config.privacy.pseudonym_secret_env
    if len(environ.get(name, "").strip()) >= MIN_SECRET_LENGTH:
        return [_passed(msg("check.export_secret.ok", env=name))]
    return [_warned(msg("check.export_secret.missing", env=name, min=MIN_SECRET_LENGTH),
                    msg("check.export_secret.missing_fix", env=name, min=MIN_SECRET_LENGTH))]
