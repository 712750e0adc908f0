"""Building and running the bot: logging, endpoints, engine, and the process's life and death."""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import sys
from typing import TYPE_CHECKING

import discord
import yarl
from discord import app_commands

from bot.client import ReseauBot, ShardedReseauBot, refused_fields
from bot.config import Config
from bot.services import charts, idle_cgroup
from bot.services.container import Services
from storage.db import ensure_current, require_database

if TYPE_CHECKING:
    from storage.coordination import ShardsInUse

log = logging.getLogger("reseau")


class SecretFilter(logging.Filter):
    """Masks the bot token (and anything shaped like a Discord token) in every log record."""

    TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{23,28}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,}")

    def __init__(self, secrets: list[str] | None = None) -> None:
        super().__init__()
        self.secrets = [s for s in (secrets or []) if s]

    def add(self, secret: str) -> None:
        if secret:
            self.secrets.append(secret)

    def mask(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "[token hidden]")
        return self.TOKEN_SHAPE.sub("[token hidden]", text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = self.mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            if self.mask(text) != text:
                record.exc_text = self.mask(text)
        return True


SECRETS = SecretFilter()


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(SECRETS)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("discord").setLevel(max(logging.INFO, root.level))
    # at DEBUG these write what passes through them — aiosqlite every statement with its values
    # (the pseudonyms' key, profiles, answers), discord.py the gateway's payloads: never below INFO
    for chatty in ("aiosqlite", "asyncpg"):
        logging.getLogger(chatty).setLevel(max(logging.INFO, root.level))
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def point_discord_at(config: Config) -> None:
    """Use another Discord-compatible API (self-hosted, test server) when configured.

    discord.py 2.7 connects to ``DiscordWebSocket.DEFAULT_GATEWAY`` without asking
    ``/gateway/bot``, so both the REST base and the gateway URL are set here.
    """
    discord.http.Route.BASE = config.discord.api_base_url.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(config.discord.gateway_url)


def build_services(config: Config) -> Services:
    """The process's one services container: engine and sessions from the config, the real
    clock, the catalogue in ``bot.language``; its one ``httpx`` client is built at the first URL
    fetched (``Services.http_client``) and closed by the bot."""
    return Services.from_config(config, http_client_on_demand=True)


def build_bot(config: Config, **kwargs) -> ReseauBot:
    """The bot; over ``discord.shard_count`` shards (those of ``discord.shard_ids``) when set."""
    shards = config.discord
    if shards.shard_count:
        return ShardedReseauBot(
            config, services=build_services(config), shard_count=shards.shard_count,
            shard_ids=list(shards.shard_ids) or None, **kwargs,
        )
    return ReseauBot(config, services=build_services(config), **kwargs)


async def start_processes(bot: ReseauBot, config: Config):
    """Before the gateway: refuse a second process on an SQLite file (``None`` returned after
    saying why), take part in the election on PostgreSQL, serve the metrics when configured.
    Returns the metrics server (or ``False`` when refused)."""
    from bot.metrics import MetricsServer
    from bot.processes import PgCoordinator, shard_claim
    from storage.coordination import DatabaseInUse, ShardsInUse, lock_sqlite
    from storage.urls import is_postgresql

    if is_postgresql(config.database.url):
        coordinator = bot.coordinator = PgCoordinator(config.database.url)
        try:
            await coordinator.claim(*shard_claim(config))  # held until the process ends
        except ShardsInUse as exc:
            await coordinator.close()
            print(f"reseau-bot: {shards_in_use(bot, config, exc)}", file=sys.stderr)
            return False
    else:
        try:
            lock_sqlite(config.database.url)  # held until the process ends
        except DatabaseInUse as exc:
            message = bot.t("processes.sqlite_in_use", config.bot.language, database=exc.database, lock=exc.lock_file)
            print(f"reseau-bot: {message}", file=sys.stderr)
            return False
    if not config.metrics.port:
        return None
    server = MetricsServer(bot.metrics, config.metrics.host, config.metrics.port)
    try:
        await server.start()
    except OSError as exc:  # the port is taken (another process on this machine), or the address is wrong
        await server.close()
        message = bot.t("processes.metrics_unavailable", config.bot.language, host=config.metrics.host,
                        port=config.metrics.port, reason=exc.strerror or exc)
        print(f"reseau-bot: {message}", file=sys.stderr)
        return False
    return server


def shards_in_use(bot: ReseauBot, config: Config, exc: ShardsInUse) -> str:
    """The refusal of a shard claim (``storage.coordination.ShardsInUse``), in one line: which
    shards or which shard counts, and what to change."""
    lang = config.bot.language
    if exc.theirs is not None:
        def named(count: int) -> str:
            return bot.t("processes.shard_count_none", lang) if count == 0 else str(count)

        return bot.t("processes.shard_count_differs", lang, mine=named(exc.count),
                     theirs=named(exc.theirs))
    if exc.count == 0:
        return bot.t("processes.unsharded_claimed", lang)
    shards = exc.shards
    return bot.t("processes.shard_claimed", lang, count=len(shards), shards=", ".join(map(str, shards)),
                 total=exc.count)


async def run_bot(config: Config, token: str, *, sync_only: bool = False, web: bool = False) -> int:
    SECRETS.add(token)
    point_discord_at(config)
    require_database(config.database.url)  # a mistyped SQLite path is said, not created empty
    bot = build_bot(config)
    await ensure_current(bot.services.plain)  # without loading SQLAlchemy (storage.plain)
    if sync_only:
        # Log in over REST only (login runs setup_hook, which syncs), then leave.
        bot.force_sync = True
        async with bot:
            try:
                await bot.login(token)
            except app_commands.CommandSyncFailure as exc:  # one line naming what was refused
                detail = refused_fields(exc, bot._sync_order())  # while the cogs' commands are there
                print(f"reseau-bot: {bot.t('sync.refused_cli', config.bot.language, detail=detail)}", file=sys.stderr)
                return 2
        return 0

    metrics_server = await start_processes(bot, config)
    if metrics_server is False:
        await bot.coordinator.close()
        await bot.services.aclose()
        return 2
    idle_cgroup.prepare()  # the workers' idle CPU group, where this process may make one
    charts.draw_in_worker_process()  # charts off the event loop, in a worker started at the first one
    try:
        return await _serve(bot, token, web=web)
    finally:
        charts.draw_in_worker_process(False)
        if metrics_server is not None:
            await metrics_server.close()


async def _serve(bot: ReseauBot, token: str, *, web: bool = False) -> int:
    """Connect and serve until the client stops or a signal asks it to."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with bot:
        dashboard = None
        if web:  # the dashboard in this process, over the bot's services (its sender posts)
            from web.app import serve

            dashboard = await serve(bot.services)
        runner = asyncio.create_task(bot.start(token))
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if stopper not in done:
            stopper.cancel()
            if dashboard is not None:
                await dashboard.cleanup()
            await runner  # the client stopped by itself: let its error (if any) surface
            if bot.claim_lost is not None:  # another process took its shards: a person must look
                print(f"reseau-bot: {shards_in_use(bot, bot.config, bot.claim_lost)}", file=sys.stderr)
                return 2
            return 0
        log.info("signal received, stopping")
        if dashboard is not None:
            await dashboard.cleanup()
        await bot.close()
        try:
            await asyncio.wait_for(runner, timeout=30)
        except Exception:  # noqa: BLE001 — discord.py may trip over its own half-open socket on close
            log.debug("client task ended with an error after close", exc_info=True)
    return 0
