"""The Bot: one object holding the services container, the scheduler and the strings.

The services (config, database, clock, catalogue, httpx and every service object: see
``bot.services.container``) are built once in ``bot.runtime.build_bot`` and handed in as
``ReseauBot(config, services=…)``; tests, the demo and the benchmarks may hand in the engine and
session factory instead, and the bot then builds the container itself (here, and only here).
The bot attaches its gateway sender to the container's publisher.  Cogs reach a service as
``self.bot.services.<name>``.  ``setup_hook`` loads the cogs, sets the translator, mirrors the
configured channels into the database, starts the scheduler and syncs the slash commands only
when their definition changed.  A sync the server refuses (a Discord-compatible server with a
stricter schema) is logged in one line naming the command and field; the bot keeps serving with
the commands already registered (the new hash is not stored, so the next start tries again) and
says so in the moderators' log channel once ready.

The bot declares two features of its own to the reconciler: the outbox's retries
(``delivery-retry-<id>``, see ``bot.services.delivery``) and the daily retention run
(``privacy-prune-daily``).
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import hashlib
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from typing import TYPE_CHECKING, Any

import discord
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from discord import app_commands
from discord.ext import commands

from bot.config import Config
from bot.i18n import Catalogue, lang_of
from bot.metrics import Metrics
from bot.posting import GatewaySender
from bot.processes import (
    CHANGED_OUTSIDE,
    COUNTS_CHANNEL,
    DELIVER_CHANNEL,
    RESYNC_SECONDS,
    SCHEDULE_CHANNEL,
    LocalCoordinator,
    fanout_rate,
)
from bot.services import delivery, workers
from bot.services.container import Services
from bot.services.schedule import Reconciled, Schedule, retention_feature
from storage.coordination import database_answers, pool_in_use
from storage.values import utcnow

if TYPE_CHECKING:
    import httpx
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker


# The leader's periodic re-read of the rows the command line may change (bot.processes): the
# scheduler's own job, outside the features' id scheme (no feature reconciles or drops it)
RESYNC_JOB_ID = "resync_changed_outside"
CLOSE_GRACE = 30  # seconds a shutdown waits for in-flight work (a fan-out, a scheduled run)
GIL_SWITCH_INTERVAL = 0.0005  # seconds (Python's default: 0.005)

log = logging.getLogger(__name__)

EXTENSIONS: tuple[str, ...] = (
    "cogs.error_handler",  # first: the command tree's errors go through the one error path
    "cogs.help",
    "cogs.admin",
    "cogs.polls",
    "cogs.campaigns",  # after cogs.polls: /poll campaign sits under its /poll group
    "cogs.extracts",
    "cogs.announcements",
    "cogs.calendar",  # after cogs.polls and cogs.announcements: /poll duplicate, /poll template, /calendar
    "cogs.profile",
    "cogs.exports",
    "cogs.dashboard",  # /dashboard: a one-time link to the web dashboard
)

COMMANDS_HASH_KEY = "commands_hash"
# Discord's global limit is 50 requests/s per bot (all its processes together); interaction
# responses do not count against it; 2/s are left for the bot's other calls (edits, the
# moderators' log).  Several processes share it by shards (bot.processes.fanout_rate).
GATEWAY_RATE = 48.0


def intents_for(config: Config) -> discord.Intents:
    """Only what the features need: guilds (channels, roles), native poll votes, and the
    privileged members intent when the config asks for it (poll reminders use it)."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_polls = True
    intents.members = config.discord.members_intent
    return intents


def release_free_memory() -> None:
    """Hand the C heap's free pages back to the system (glibc's ``malloc_trim``: memory freed by
    the start-up otherwise stays in the process; 1.5 MiB of a quiet bot's 56,
    ``bench/bench_memory.py``).  Elsewhere than glibc, nothing to do."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return
    trim(0)


class Translator(app_commands.Translator):
    """Slash command names and descriptions from the catalogue (``locale_str(..., key=...)``)."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue

    async def translate(
        self, string: app_commands.locale_str, locale: discord.Locale, context: app_commands.TranslationContext
    ) -> str | None:
        key = string.extras.get("key")
        if key is None or locale is not discord.Locale.french or not self.catalogue.has(key):
            return None
        return self.catalogue.t(key, "fr")


class ReseauTree(app_commands.CommandTree):
    """Sends every command error to ``error_path``, which ``cogs.error_handler`` installs (the
    one error path lives with the Discord adapters; ``bot/`` does not import them)."""

    error_path: Callable[[discord.Interaction, Exception], Awaitable[None]] | None = None

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        if self.error_path is None:
            await super().on_error(interaction, error)
        else:
            await self.error_path(interaction, error)


class ReseauBot(commands.Bot):
    def __init__(
        self,
        config: Config,
        *,
        services: Services | None = None,
        engine: AsyncEngine | None = None,
        sessions: async_sessionmaker[AsyncSession] | None = None,
        http_client: httpx.AsyncClient | None = None,
        scheduler: AsyncIOScheduler | None = None,
        catalogue: Catalogue | None = None,
        clock: Callable[[], datetime] | None = None,
        extensions: tuple[str, ...] = EXTENSIONS,
        dispose_engine_on_close: bool = True,
        resync_seconds: float = RESYNC_SECONDS,
        **client_options: Any,
    ) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents_for(config),
            tree_cls=ReseauTree,
            help_command=None,
            allowed_mentions=discord.AllowedMentions.none(),
            **client_options,  # shard_count / shard_ids (ShardedReseauBot)
        )
        if services is None:
            if engine is None or sessions is None:
                raise TypeError("ReseauBot needs services=, or engine= and sessions=")
            services = Services(
                config, engine=engine, sessions=sessions, catalogue=catalogue,
                clock=clock or utcnow, http_client=http_client, http_client_on_demand=True,
            )
        elif services.config is not config or any(
            given is not None for given in (engine, sessions, http_client, catalogue, clock)
        ):
            raise TypeError("ReseauBot(services=…): the config, engine, sessions and clock are the container's")
        self.services = services
        # how often the leader re-reads what the command line may have changed (a test's bot,
        # on SimCord, makes it rare: a wall-clock job firing mid-test would be work to settle)
        self.resync_seconds = resync_seconds
        # several processes: each paces at its shards' share of the bot's budget (bot.processes)
        services.attach_sender(GatewaySender(self), rate=fanout_rate(config, GATEWAY_RATE))
        self.scheduler = scheduler or AsyncIOScheduler(timezone=config.tz)
        self.schedule = Schedule(self.scheduler, services, track=lambda coro, name: self.track(coro, name=name))
        self.schedule.declare(delivery.feature(), retention_feature())
        # rows kept to retry get their job at once (a fan-out, a retry that failed again)
        services.publisher.on_kept = lambda due: self.schedule.put(services.publisher.retry_specs(due))
        self.extension_names = extensions
        self.dispose_engine_on_close = dispose_engine_on_close
        self.commands_synced = False
        self.force_sync = False
        self.sync_refusal: str | None = None  # what the server refused, until told to the moderators
        self._inflight: set[asyncio.Task[Any]] = set()
        self._closing = False
        self._memory_released = False
        self._setup_processes()

    # ------------------------------------------------------------------ several processes (issue 14)
    def _setup_processes(self) -> None:
        """Metrics, and the coordinator: one process alone is the leader (``LocalCoordinator``);
        ``bot.runtime.run_bot`` puts a PostgreSQL one before starting (``bot.processes``)."""
        self.metrics = Metrics()
        probes = self.metrics.probes
        probes.leader = lambda: self.coordinator.leader
        probes.gateway_ready = self.is_ready
        probes.gateway_latencies = self.gateway_latencies
        # before the first real work the engine does not exist: no pool, and the plain store asks
        probes.pool_in_use = lambda: pool_in_use(self.engine) if self.services.database_loaded else 0
        probes.database_ok = lambda: database_answers(
            self.engine if self.services.database_loaded else self.services.plain)
        self.services.publisher.on_report = lambda report: self.metrics.delivered(
            sent=len(report.sent), recovered=len(report.recovered), failed=len(report.failed),
            retried=len(report.pending),
        )
        self.coordinator: LocalCoordinator = LocalCoordinator()
        self.claim_lost: Exception | None = None  # another process took this one's shards: it stops
        self._stopping: asyncio.Task[None] | None = None
        # a follower's changes of rows with jobs go to the leader, who reconciles them
        self.schedule.on_inactive = lambda features: self.coordinator.announce(SCHEDULE_CHANNEL, ",".join(features))

    def gateway_latencies(self) -> list[tuple[int, float]]:
        """(shard id, heartbeat latency) for each shard this process runs."""
        latencies = getattr(self, "latencies", None)
        return list(latencies) if latencies is not None else [(self.shard_id or 0, self.latency)]

    def owns_guild(self, guild_id: int | None) -> bool:
        """Whether this process's shards receive ``guild_id``'s events (direct messages: shard 0)."""
        count = self.shard_count or 1
        shard = ((guild_id or 0) >> 22) % count
        ids = getattr(self, "shard_ids", None)
        return shard in ids if ids else self.shard_id in (None, shard)

    async def _start_coordination(self) -> None:
        self.coordinator.on(SCHEDULE_CHANNEL, self._peer_changed_schedule)
        self.coordinator.on(COUNTS_CHANNEL, self._peer_changed_counts)
        self.coordinator.on(DELIVER_CHANNEL, self._peer_fanout)
        publisher = self.services.publisher
        if self.coordinator.leases is not None:
            publisher.lease = self.coordinator.leases
        if self.coordinator.shared:
            publisher.on_fanout = lambda scope: self.coordinator.announce(DELIVER_CHANNEL, scope)
        publisher.prefer = lambda row: self.owns_guild(row.guild_id)
        self.coordinator.on_claim_lost = self._claim_lost
        await self.coordinator.start(self._elected, self._deposed)

    def _claim_lost(self, exc: Exception) -> None:
        """Another process claimed this one's shards while its coordination connection was lost:
        both would answer the same members, so this one stops (``run`` exits with code 2)."""
        self.claim_lost = exc
        self._stopping = asyncio.get_running_loop().create_task(self.close(), name="claim-lost-stop")

    def _peer_fanout(self, payload: str) -> None:
        """Another process started a fan-out (of one extract or announcement, or a resume of
        every pending row): take a share of its rows, those of this process's guilds first."""
        if self.is_ready() and not self._closing:
            scope = delivery.parse_fanout_scope(payload)
            self.track(self.services.publisher.deliver(announce=False, **scope), name="fanout-share")

    async def _elected(self) -> None:
        """This process now runs the scheduled work: jobs rebuilt and what was due caught up
        (once the gateway is ready; ``on_ready`` does it otherwise)."""
        self.schedule.active = True
        if self.coordinator.shared:
            self.metrics.takeovers.inc()
        if self.is_ready():
            self.track(self._reconcile_when_ready(), name="schedule-reconcile")

    async def _deposed(self) -> None:
        self.schedule.active = False
        for feature in self.schedule.features:
            self.schedule.remove(feature)

    def _peer_changed_schedule(self, payload: str) -> None:
        if not self.coordinator.leader or not self.is_ready():
            return
        features = [name for name in payload.split(",") if name in self.schedule.features]
        if features:
            self.track(self.reconcile_jobs(*features, catch_up=False), name="schedule-peer-change")

    async def _resync_changed_outside(self) -> None:
        """Every minute, on the leader: the jobs of what ``reseau-bot schedule --cancel/--postpone``
        may have changed, rebuilt from the rows (an announcement moved earlier by the command
        line moves its job; without catch-up, this only reads).  Tracked, so that a shutdown
        waits for it rather than cancelling it."""
        if self.coordinator.leader and self.is_ready() and not self._closing:
            self.track(self.reconcile_jobs(*CHANGED_OUTSIDE, catch_up=False), name="schedule-resync")

    def _peer_changed_counts(self, payload: str) -> None:
        """Another process stored a vote on poll ``<poll id>``: refresh the postings this
        process holds (the polls cog's debounced refresh edits only those of its shards)."""
        polls = self.get_cog("Polls")
        if polls is not None and payload.isdigit():
            polls.schedule_refresh(int(payload), announce=False)  # type: ignore[attr-defined]

    def counts_changed(self, poll_id: int, guild_id: int | None = None) -> None:
        """Tell the other processes a poll's counts changed (they refresh their postings)."""
        if self.coordinator.shared:
            self.coordinator.announce(COUNTS_CHANNEL, str(poll_id))

    # ------------------------------------------------------------------ the container's, for short
    @property
    def config(self) -> Config:
        return self.services.config

    @property
    def engine(self) -> AsyncEngine:
        return self.services.engine

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return self.services.sessions

    @property
    def catalogue(self) -> Catalogue:
        return self.services.catalogue

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.services.clock

    @clock.setter
    def clock(self, clock: Callable[[], datetime]) -> None:
        """Moves every service's time too (they read it through ``services.now``)."""
        self.services.clock = clock

    # ------------------------------------------------------------------ helpers for cogs
    def dispatch(self, event_name: str, /, *args: Any, **kwargs: Any) -> None:
        if event_name == "interaction":  # a member is here: a large export waits (bot.services.workers)
            workers.touch_members()
        super().dispatch(event_name, *args, **kwargs)

    def lang(self, interaction: discord.Interaction) -> str:
        return lang_of(interaction.locale, self.config.bot.language)

    def t(self, key: str, lang: str | None = None, /, **params: Any) -> str:
        return self.catalogue.t(key, lang, **params)

    def track(self, coro: Coroutine[Any, Any, Any], *, name: str | None = None) -> asyncio.Task[Any]:
        """Run background work that ``close()`` waits for (debounced edits, fan-outs)."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._inflight.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._inflight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())

    # ------------------------------------------------------------------ lifecycle
    async def setup_hook(self) -> None:
        await self.tree.set_translator(Translator(self.catalogue))
        for name in self.extension_names:
            await self.load_extension(name)
        await self.services.mirror_channels()
        if not self.scheduler.running:
            self.scheduler.start()
        self.scheduler.add_job(
            self._resync_changed_outside, "interval", seconds=self.resync_seconds, id=RESYNC_JOB_ID,
            name=RESYNC_JOB_ID, replace_existing=True, coalesce=True, max_instances=1,
        )
        await self._start_coordination()
        await self.sync_commands_if_changed(force=self.force_sync)
        # long-lived start-up objects leave the young generations: full collections under a vote burst stay short
        gc.freeze()
        # a thread waiting for the GIL (the SQLite vote thread, aiosqlite's, the worker pools'
        # managers) gets it within 0.5 ms instead of 5: that wait was the tail of a vote's latency
        # while charts and exports ran (bench_loop: vote p99 3.4-4.3 ms -> 1.1-1.6 ms)
        sys.setswitchinterval(GIL_SWITCH_INTERVAL)

    async def reconfigure(self, config: Config) -> None:
        """Apply a new configuration (network channels, schedule…) without reconnecting."""
        self.services.configure(config)
        await self.services.mirror_channels()
        if self.is_ready():
            await self._name_channels()
        # the schedule follows (the monthly cron); catching up needs the gateway
        await self.reconcile_jobs(catch_up=self.is_ready())
        if self.is_ready():
            self.dispatch("schedule_reconciled")

    async def reconcile_jobs(self, *features: str, catch_up: bool = True) -> Reconciled:
        """The one reconciler: every declared feature's jobs (or those of ``features``) rebuilt
        from the database, stale ones dropped, overdue work run once (``catch_up``)."""
        return await self.schedule.reconcile(*features, catch_up=catch_up)

    async def _reconcile_when_ready(self) -> None:
        try:
            await self.reconcile_jobs()
        finally:
            self.dispatch("schedule_reconciled")
        if not self._memory_released:  # once: the start-up's garbage (READY, the commands' hash…)
            self._memory_released = True
            release_free_memory()

    async def command_payload_hash(self) -> str:
        translator = self.tree.translator
        payload = []
        for command in sorted(self.tree.get_commands(), key=lambda c: c.name):
            if translator is not None:
                payload.append(await command.get_translated_payload(self.tree, translator))
            else:
                payload.append(command.to_dict(self.tree))
        blob = json.dumps(payload, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()

    async def sync_commands_if_changed(self, *, force: bool = False) -> bool:
        """Sync the global command tree only when its definition changed (or when forced)."""
        digest = await self.command_payload_hash()
        stored = await self.services.plain.state(COMMANDS_HASH_KEY)
        if stored == digest and not force:
            log.info("slash commands unchanged, not syncing")
            return False
        try:
            synced = await self.tree.sync()
        except app_commands.CommandSyncFailure as exc:
            if force:
                raise  # `reseau-bot sync-commands` asked for exactly this: it fails
            self.sync_refusal = refused_fields(exc, self._sync_order())
            log.error(
                "slash command sync refused by the server (HTTP %s, code %s): %s; "
                "serving with the commands already registered",
                exc.status, exc.code, self.sync_refusal,
            )
            return False
        await self.services.plain.set_state(COMMANDS_HASH_KEY, digest, self.services.now())
        self.commands_synced = True
        log.info("synced %d slash commands", len(synced))
        return True

    def _sync_order(self) -> list[str]:
        """The commands' names in the order of the sync's payload (the errors' indexes)."""
        return [command.name for command in self.tree.get_commands()]

    async def _report_sync_refusal(self) -> None:
        refusal, self.sync_refusal = self.sync_refusal, None
        channel_id = self.config.discord.moderators_log_channel_id
        if refusal is None or not channel_id:
            return
        text = self.t("sync.refused", self.config.bot.language, detail=refusal)[:2000]
        try:
            await self.services.publisher.sender.notify(channel_id, text)
        except Exception:
            log.exception("could not report the refused command sync in the moderators' log channel")

    async def _name_channels(self) -> None:
        """The configured network channels without a name get the one Discord shows (a
        dashboard, a codebook then say « #annonces », not an id)."""
        names = {}
        for configured in self.config.channels:
            channel = self.get_channel(configured.channel_id)
            if not configured.name and channel is not None and getattr(channel, "name", None):
                names[channel.id] = channel.name
        if names:
            await self.services.name_channels(names)

    async def on_guild_channel_update(self, before: Any, after: Any) -> None:
        if before.name != after.name:
            await self.services.name_channels({after.id: after.name})

    async def on_ready(self) -> None:
        log.info("connected as %s (%s) to %d guild(s)", self.user, getattr(self.user, "id", "?"), len(self.guilds))
        self.track(self._name_channels(), name="channel-names")
        if self.sync_refusal is not None:
            self.track(self._report_sync_refusal(), name="sync-refusal-report")
        # Tracked rather than awaited in setup_hook: the catch-up posts, so it waits for the gateway.
        # Only the scheduler's leader runs scheduled work (bot.processes); a follower waits its turn.
        if self.coordinator.leader:
            self.track(self._reconcile_when_ready(), name="schedule-reconcile")

    async def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        log.info("shutting down: stopping the scheduler and finishing in-flight work")
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        self.schedule.active = False
        if self._inflight:
            done, pending = await asyncio.wait(set(self._inflight), timeout=CLOSE_GRACE)
            if pending:
                log.warning(
                    "shutting down: %d task(s) still running after %d s are stopped (%s); "
                    "deliveries not sent yet are sent at the next start",
                    len(pending), CLOSE_GRACE, ", ".join(sorted(task.get_name() for task in pending)),
                )
            for task in pending:
                task.cancel()
        await super().close()
        await self.coordinator.close()  # after in-flight work: the lock passes to the next process
        await self.services.aclose(dispose_engine=self.dispose_engine_on_close)


class ShardedReseauBot(ReseauBot, commands.AutoShardedBot):
    """The same bot over ``discord.shard_count`` gateway shards, running ``discord.shard_ids``
    (all when empty): discord.py's ``AutoShardedBot``.  Several processes each take a range."""


def refused_fields(exc: discord.HTTPException, names: list[str]) -> str:
    """« command 'poll', field options.0.name: … » for each refused field of a command sync
    (Discord's 50035 body: ``errors`` keyed by the payload's index, then by field path)."""
    errors = getattr(exc, "_errors", None) or {}
    found: list[str] = []

    def walk(node: Any, path: list[str], command: str | None) -> None:
        if not isinstance(node, dict):
            return
        for key, value in node.items():
            if key == "_errors" and isinstance(value, list):
                message = "; ".join(str(e.get("message") or e.get("code") or "") for e in value if isinstance(e, dict))
                where = f"command {command!r}, " if command else ""
                found.append(f"{where}field {'.'.join(path) or '?'}: {message}")
            elif command is None and not path and key.isdigit():
                index = int(key)
                walk(value, [], names[index] if index < len(names) else f"#{index}")
            else:
                walk(value, [*path, key], command)

    walk(errors, [], None)
    return (" | ".join(found) if found else exc.text or str(exc)).replace("\n", " ")
