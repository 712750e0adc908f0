"""Several ``reseau-bot run`` processes on one PostgreSQL database (issue 14).

The rules, in one place:

* **One scheduler, elected.**  Every process runs the gateway (its shard range) and answers
  members; exactly one — the holder of the PostgreSQL session advisory lock
  ``storage.coordination.SCHEDULER_LOCK_KEY`` on its dedicated coordination connection — runs
  the scheduled work: the monthly extract, scheduled announcements, poll closings and reminders,
  delivery retries, retention.  The others try the lock every ``poll_interval`` second.  When the
  leader dies, the server ends its session and frees the lock (at once for a killed process: its
  socket closes; within ~5 s for a vanished machine: the connection's TCP keepalives); the next
  try takes it, rebuilds the jobs from the database and catches up what was due (the bot's one
  reconciler, ``Schedule.reconcile``), then resumes the pending deliveries.  A leader that
  cannot prove its session (``holds`` fails or times out) steps down at once: its jobs are
  dropped and its reconciles become notices to the next leader.
* **Fan-outs are shared, under one budget.**  Whoever writes delivery rows (the leader's
  monthly slot or scheduled announcement, a moderator's "publish now" in any process) announces
  the fan-out (``NOTIFY reseau_deliver``) and every process takes rows, those of its own shards'
  guilds first.  A row is sent by the process holding its lease — a two-key advisory lock on its
  coordination connection, so it dies with the process — and claimed with ``FOR UPDATE SKIP
  LOCKED`` (its attempt counted before the send, as in one process); a row whose lease died with
  its process is finished by another, which first looks for it in the channel's history.  The
  rate rule: Discord's global limit is per bot, so each process paces at ``GATEWAY_RATE`` (48/s)
  times the fraction of the shards it runs (:func:`fanout_rate`); shard ranges that do not
  overlap stay under it together, however many processes there are.
* **Changes go to the leader.**  A follower that writes rows needing jobs (a poll created there,
  an announcement scheduled there) does not put them in its own scheduler: it sends
  ``NOTIFY reseau_schedule, '<feature>'`` and the leader reconciles that feature.  Each time the
  coordination connection is (re)opened on the leader, it reconciles every feature with catch-up,
  so a notice lost while it was reconnecting is made up for.
* **Changes from outside reach the leader.**  ``reseau-bot schedule --cancel/--postpone`` (a
  process without a scheduler) writes its row, then sends ``NOTIFY reseau_schedule`` naming the
  features it may have changed (:data:`CHANGED_OUTSIDE`, :func:`announce_outside_change`); and
  the leader, on SQLite as on PostgreSQL, reconciles those features every
  :data:`RESYNC_SECONDS` (without catch-up: it only reads the rows), so an announcement moved
  earlier is posted at its new time even when no notice could be sent.
* **Live counts across processes.**  A vote stored in one process sends ``NOTIFY
  reseau_counts, '<poll id>'``; the process whose shards hold the poll's guild refreshes its
  message through the same debounced refresh as a local vote.

* **One process per shard.**  Before connecting to Discord a process claims its shards on its
  coordination connection (:meth:`PgCoordinator.claim`, :func:`shard_claim`): a shared lock on its
  shard count and one lock per shard, held by the server as long as the session lives.  A shard
  held by another process, or another shard count held, is refused at start (one line, exit 2).
  When the coordination connection is reopened the claim is taken again (the process's own
  earlier session, which the server may not have seen die, is ended first); if another process
  took one of its shards meanwhile, this one stops (:attr:`PgCoordinator.on_claim_lost`).

SQLite has one process: :func:`storage.coordination.lock_sqlite` refuses a second, and that
process is always the leader (:class:`LocalCoordinator`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from storage.coordination import PgCoordination, ShardsInUse
from storage.urls import is_postgresql

if TYPE_CHECKING:
    from bot.config import Config

log = logging.getLogger("reseau.processes")

SCHEDULE_CHANNEL = "reseau_schedule"
COUNTS_CHANNEL = "reseau_counts"
DELIVER_CHANNEL = "reseau_deliver"
# What ``reseau-bot schedule --cancel/--postpone`` may change: announcements, plans, closings.
CHANGED_OUTSIDE: tuple[str, ...] = ("announcement", "calendar", "poll")
RESYNC_SECONDS = 60  # the leader re-reads those features' rows this often
POLL_INTERVAL = 1.0  # seconds between two tries of the lock, and between two checks of it
HOLD_TIMEOUT = 2.0  # a leader whose check takes longer steps down
# While the database is away the connection is retried every POLL_INTERVAL, but the log says the
# loss once, then "still lost" after LOST_LOG_FIRST seconds, the pace doubling up to LOST_LOG_MAX
# (once a minute), and the recovery once.
LOST_LOG_FIRST = 10.0
LOST_LOG_MAX = 60.0

Hook = Callable[[], Awaitable[Any]]
Handler = Callable[[str], Any]


class LocalCoordinator:
    """One process on its database (SQLite, or a test's bot): always the leader, no peers."""

    def __init__(self) -> None:
        self.leader = True
        self.elected_at: float | None = time.monotonic()
        self.handlers: dict[str, Handler] = {}
        # called with the refusal when this process's shards were claimed by another process while
        # its coordination connection was lost (PostgreSQL only; the bot then stops)
        self.on_claim_lost: Callable[[ShardsInUse], Any] | None = None

    @property
    def shared(self) -> bool:
        """Whether other processes may share the database (then changes are announced)."""
        return False

    def on(self, channel: str, handler: Handler) -> None:
        self.handlers[channel] = handler

    @property
    def leases(self) -> Any:
        """The publisher's delivery leases (None: its own in-flight set suffices)."""
        return None

    async def start(self, on_elected: Hook, on_deposed: Hook) -> None:
        await on_elected()

    def announce(self, channel: str, payload: str) -> None:
        """Tell the other processes (none here)."""

    async def close(self) -> None:
        pass


class PgCoordinator(LocalCoordinator):
    """The election and the notices over one dedicated PostgreSQL connection."""

    def __init__(self, url: str, *, poll_interval: float = POLL_INTERVAL) -> None:
        super().__init__()
        self.url = url
        self.leader = False
        self.elected_at = None
        self.poll_interval = poll_interval
        self._conn: PgCoordination | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._outbox: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._queued: set[tuple[str, str]] = set()  # notices in the outbox, not sent yet
        self._sender: asyncio.Task[None] | None = None
        self._lost_since: float | None = None  # the outage under way (monotonic), for the log
        self._lost_tries = 0
        self._lost_pace = LOST_LOG_FIRST
        self._lost_next_log = 0.0
        self.claimed: tuple[int, tuple[int, ...]] | None = None  # (shard count, shards) held
        self._sessions: set[int] = set()  # this process's coordination sessions so far (server pids)
        self._listening: set[str] = set()  # the channels listened to on the current connection

    @property
    def shared(self) -> bool:
        return True

    async def claim(self, count: int, shards: tuple[int, ...]) -> None:
        """Open the coordination connection and claim these shards on it, before the gateway
        (:meth:`PgCoordination.claim_shards`); raises :class:`ShardsInUse` when refused."""
        self.claimed = (count, shards)
        self._conn = await self._connect()

    @property
    def leases(self) -> DeliveryLeases:
        return DeliveryLeases(self)

    async def start(self, on_elected: Hook, on_deposed: Hook) -> None:
        self._on_elected, self._on_deposed = on_elected, on_deposed
        if self._conn is not None and not self._conn.closed:
            # opened by claim(), before the handlers were known: listen to them now (a process
            # deaf to reseau_counts left its posting with its own votes only)
            await self._listen(self._conn)
        self._task = asyncio.get_running_loop().create_task(self._campaign(), name="scheduler-election")
        self._sender = asyncio.get_running_loop().create_task(self._send_notices(), name="coordination-notices")

    def announce(self, channel: str, payload: str) -> None:
        """Queue a notice; one already waiting to be sent is not queued again (a burst of votes
        on a poll is one ``reseau_counts`` notice, not one per vote: the receivers debounce
        anyway, and each notice is a round trip here and a wake-up in every process)."""
        if (channel, payload) in self._queued:
            return
        self._queued.add((channel, payload))
        self._outbox.put_nowait((channel, payload))

    async def _send_notices(self) -> None:
        while True:
            channel, payload = await self._outbox.get()
            self._queued.discard((channel, payload))  # from now on, a new change is a new notice
            for _ in range(3):
                conn = self._conn
                if conn is None or conn.closed:
                    await asyncio.sleep(self.poll_interval)
                    continue
                try:
                    await conn.notify(channel, payload)
                    break
                except Exception:  # noqa: BLE001 — the campaign loop reconnects
                    log.debug("notify %s failed", channel, exc_info=True)
                    await asyncio.sleep(self.poll_interval)

    async def _connect(self) -> PgCoordination:
        conn = await PgCoordination.connect(self.url)
        try:
            if self.claimed is not None:
                await conn.claim_shards(*self.claimed, ours=frozenset(self._sessions))
        except BaseException:
            await conn.close()
            raise
        self._sessions.add(conn.pid)
        self._listening = set()
        await self._listen(conn)
        return conn

    async def _listen(self, conn: PgCoordination) -> None:
        """Listen on ``conn`` to every registered channel it does not listen to yet."""
        for channel, handler in self.handlers.items():
            if channel not in self._listening:
                await conn.listen(channel, lambda _channel, payload, handler=handler: handler(payload))
                self._listening.add(channel)

    async def _campaign(self) -> None:
        """Try the lock until it is ours; then check it until it is lost; forever."""
        while not self._closing:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = await self._connect()
                    self._restored()
                    if self.leader:  # cannot be: a new session holds nothing
                        await self._step_down("the coordination connection was replaced")
                if not self.leader:
                    if await self._conn.try_lock():
                        self.leader = True
                        self.elected_at = time.monotonic()
                        log.info("this process is now the scheduler's leader (session %d)", self._conn.pid)
                        await self._on_elected()
                elif not await self._conn.holds(within=HOLD_TIMEOUT):
                    await self._step_down("the advisory lock is no longer held")
            except asyncio.CancelledError:
                raise
            except ShardsInUse as exc:  # taken by another process while the connection was lost
                await self._step_down("this process's shards were claimed by another process")
                log.error("another process claimed this process's shards while its coordination connection "
                          "was lost (%s): stopping", exc)
                self._closing = True
                if self.on_claim_lost is not None:
                    self.on_claim_lost(exc)
                return
            except Exception as exc:  # noqa: BLE001 — the database is away: step down, retry
                self._lost(exc)
                await self._step_down("the coordination connection was lost")
                conn, self._conn = self._conn, None
                if conn is not None:
                    await conn.close()
            await asyncio.sleep(self.poll_interval)

    def _lost(self, exc: Exception) -> None:
        """One failure of the coordination connection, logged at a slowing pace (see LOST_LOG_*)."""
        now = time.monotonic()
        if self._lost_since is None:
            self._lost_since, self._lost_tries = now, 1
            self._lost_pace = LOST_LOG_FIRST
            self._lost_next_log = now + self._lost_pace
            log.warning("coordination connection lost (%s: %s); retrying every %g s",
                        type(exc).__name__, exc, self.poll_interval)
            return
        self._lost_tries += 1
        if now >= self._lost_next_log:
            log.warning("coordination connection still lost after %.0f s (%d tries; last: %s: %s)",
                        now - self._lost_since, self._lost_tries, type(exc).__name__, exc)
            self._lost_pace = min(self._lost_pace * 2, LOST_LOG_MAX)
            self._lost_next_log = now + self._lost_pace

    def _restored(self) -> None:
        if self._lost_since is not None:
            log.info("coordination connection restored after %.0f s (%d failed tries)",
                     time.monotonic() - self._lost_since, self._lost_tries)
            self._lost_since = None

    async def _step_down(self, why: str) -> None:
        if not self.leader:
            return
        self.leader = False
        self.elected_at = None
        log.warning("this process stops running the scheduled work: %s", why)
        try:
            await self._on_deposed()
        except Exception:
            log.exception("stepping down failed")

    async def close(self) -> None:
        self._closing = True
        for task in (self._task, self._sender):
            if task is not None:
                task.cancel()
                try:
                    await task
                except (asyncio.CancelledError, Exception):  # noqa: BLE001
                    pass
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()  # frees the lock at once: the next process takes over
        self.leader = False


class DeliveryLeases:
    """A delivery row is sent by the process holding its advisory lock on its coordination
    connection (``storage.coordination.PgCoordination.try_lease``).  Without that connection a
    process sends nothing (the row waits for another process, or for the reconnection)."""

    def __init__(self, coordinator: PgCoordinator) -> None:
        self.coordinator = coordinator
        self._held: dict[int, PgCoordination] = {}

    async def acquire(self, delivery_id: int) -> bool:
        conn = self.coordinator._conn
        if conn is None or conn.closed:
            return False
        try:
            if not await conn.try_lease(delivery_id):
                return False
        except Exception:  # noqa: BLE001 — the campaign loop sees the connection lost
            log.debug("lease of delivery %d failed", delivery_id, exc_info=True)
            return False
        self._held[delivery_id] = conn
        return True

    async def release(self, delivery_id: int) -> None:
        conn = self._held.pop(delivery_id, None)
        if conn is None or conn.closed:
            return  # a closed session released it
        try:
            await conn.release_lease(delivery_id)
        except Exception:  # noqa: BLE001
            log.debug("release of delivery %d failed", delivery_id, exc_info=True)


async def announce_outside_change(database_url: str, features: tuple[str, ...] = CHANGED_OUTSIDE) -> bool:
    """From a process that changed scheduled rows without running a scheduler (the command
    line): ``NOTIFY reseau_schedule`` so the leader rebuilds their jobs at once.  PostgreSQL only
    (SQLite: the leader's periodic re-read); False when no notice was sent (the re-read, within
    :data:`RESYNC_SECONDS`, makes up for it)."""
    if not is_postgresql(database_url):
        return False
    try:
        conn = await PgCoordination.connect(database_url)
    except Exception:  # noqa: BLE001 — the row is written; the leader's re-read follows it
        log.debug("could not notify the scheduler's leader", exc_info=True)
        return False
    try:
        await conn.notify(SCHEDULE_CHANNEL, ",".join(features))
        return True
    except Exception:  # noqa: BLE001
        log.debug("could not notify the scheduler's leader", exc_info=True)
        return False
    finally:
        await conn.close()


def coordinator_for(database_url: str) -> LocalCoordinator:
    """PostgreSQL: the election; anything else: the single process."""
    return PgCoordinator(database_url) if is_postgresql(database_url) else LocalCoordinator()


def shard_claim(config: Config) -> tuple[int, tuple[int, ...]]:
    """(shard count, shards) this process claims: its ``shard_ids`` (all of ``shard_count``'s
    when empty); without sharding, count 0 and shard 0 — one gateway session for every server,
    which no other process may share."""
    shards = config.discord
    if not shards.shard_count:
        return 0, (0,)
    return shards.shard_count, tuple(shards.shard_ids) or tuple(range(shards.shard_count))


def parse_shard_ids(text: str) -> tuple[int, ...]:
    """``0,1,5`` or ``0-3`` (or both, ``0-1,4``) → the shard ids, in order, each once."""
    ids: list[int] = []
    for part in text.split(","):
        part = part.strip()
        first, dash, last = part.partition("-")
        if not first.isdigit() or (dash and not last.isdigit()):
            raise ValueError(part)
        if dash and int(last) < int(first):  # 3-1 would be no shard, which means all of them
            raise ValueError(part)
        for shard in range(int(first), int(last if dash else first) + 1):
            if shard not in ids:
                ids.append(shard)
    return tuple(ids)


def with_run_options(
    config: Config, *, shard_ids: str | None, shard_count: int | None, metrics_port: int | None
) -> Config:
    """``run --shard-ids/--shard-count/--metrics-port`` over the file's values, checked like them."""
    from bot.config import ConfigError, check_processes

    discord, metrics = config.discord, config.metrics
    if shard_count is not None:
        discord = dataclasses.replace(discord, shard_count=shard_count)
    if shard_ids is not None:
        try:
            discord = dataclasses.replace(discord, shard_ids=parse_shard_ids(shard_ids))
        except ValueError:
            raise ConfigError(None, "shard_ids_option", value=shard_ids) from None
    if metrics_port is not None:
        metrics = dataclasses.replace(metrics, port=metrics_port)
    config = dataclasses.replace(config, discord=discord, metrics=metrics)
    try:
        check_processes(config)
    except ConfigError as exc:  # a value typed on the command line: named as typed, not as the file's
        typed = {"shard_missing": shard_ids is not None or shard_count is not None,
                 "metrics_port": metrics_port is not None}
        if typed.get(exc.key):
            raise ConfigError(None, f"{exc.key}_option", **exc.params) from None
        raise
    return config


def fanout_rate(config: Config, total: float) -> float:
    """This process's share of the bot's request budget (Discord's global limit is per bot and
    all processes share it): ``total`` times the fraction of the shards it runs.  Shard ranges
    that do not overlap therefore stay under ``total`` together, whatever the number of processes."""
    shards = config.discord
    if not shards.shard_count or not shards.shard_ids:
        return total
    return total * len(shards.shard_ids) / shards.shard_count
