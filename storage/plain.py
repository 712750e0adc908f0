"""What the running bot reads and writes when nothing else happens, in plain SQL on the
database's own driver (``sqlite3``, ``asyncpg``): the schema's version, the network channels'
mirror, the command tree's hash, and the rows the scheduler plans its jobs from.  A process with
nothing to do therefore never loads SQLAlchemy, whose import is half of the bot's memory at rest
(issue 15, item 3: ``bench/bench_memory.py``, ``tests/test_lazy_imports.py``).  SQLAlchemy, the
models and the repositories load at the first real work: a vote, a command, a job that runs.

Each call opens one short connection (SQLite: in a worker thread, as aiosqlite would; PostgreSQL:
one asyncpg connection, as the coordination's) and closes it: these calls run at start-up and
when a feature's jobs are rebuilt, never on a member's path.  A rebuild reads every feature's
rows in one PostgreSQL connection (:meth:`PlainStore.one_connection`).  The statements are written once,
with PostgreSQL's ``$n`` placeholders (SQLite reads them as ``?``, in the same order), and read
the tables the models describe; ``tests/storage/test_plain.py`` checks each against the
repositories on both databases.  Times come back as aware UTC datetimes, as ``UTCDateTime``
gives them; SQLite's are written in SQLAlchemy's text format (microseconds always), so that
rows written here and through the ORM compare as text.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from storage.urls import asyncpg_params, parse_url
from storage.values import (
    ANNOUNCEMENT_SCHEDULED,
    CHANNELS_MIRROR_LOCK,
    DELIVERY_PENDING,
    DELIVERY_SENT,
    PLAN_ACTIVE,
    RUN_CLAIMED,
    RUN_SENDING,
)

_PLACEHOLDER = re.compile(r"\$\d+")


@dataclass(frozen=True)
class PollTimes:
    """An open poll's times, all its jobs need (``bot.services.poll_jobs.specs_for``)."""

    id: int
    deadline_at: datetime | None
    reminder_at: datetime | None
    reminder_sent: bool
    status: str = "open"

    @property
    def is_open(self) -> bool:
        return self.status == "open"


@dataclass(frozen=True)
class ChannelRow:
    """A configured network channel, as mirrored into ``network_channels``."""

    channel_id: int
    guild_id: int
    language: str
    mention_role_id: int | None
    name: str


@dataclass(frozen=True)
class PlanTimes:
    id: int
    kind: str
    next_at: datetime


class _Held:
    """One PostgreSQL connection the calls of a :meth:`PlainStore.one_connection` scope share,
    one call at a time; once the scope is over, a call (a task it started) opens its own."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.conn: Any = None
        self.lock = asyncio.Lock()
        self.over = False


_HELD: ContextVar[_Held | None] = ContextVar("plain_held", default=None)


def _sqlite_time(value: datetime) -> str:
    """SQLAlchemy's SQLite storage format for a UTC time (``UTCDateTime`` stores it naive)."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


class PlainStore:
    """The bot's start-up statements on the database of ``url`` (see the module's docstring)."""

    def __init__(self, url: str) -> None:
        parsed = parse_url(url)
        self.postgresql = parsed.backend == "postgresql"
        self._url = url
        if not self.postgresql:
            database = parsed.database or ""
            if not database or database == ":memory:" or database.startswith("file:"):
                raise ValueError("the plain store needs an SQLite file (another connection cannot see memory)")
            self._path = str(Path(database).expanduser())
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)  # as the engine does (storage.db)

    # ---------------------------------------------------------------- the driver, one connection per call
    async def _run(self, steps: Sequence[tuple[str, Sequence[Any]]], *, write: bool = False,
                   lock: int | None = None) -> list[list[tuple[Any, ...]]]:
        """Run ``steps`` (statement, parameters) in one transaction; each one's rows, in order."""
        if self.postgresql:
            return await self._run_pg(steps, write=write, lock=lock)
        return await asyncio.to_thread(self._run_sqlite, steps, write)

    def _run_sqlite(self, steps: Sequence[tuple[str, Sequence[Any]]], write: bool) -> list[list[tuple[Any, ...]]]:
        conn = sqlite3.connect(self._path, timeout=30, isolation_level=None)
        try:
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            out = []
            for sql, params in steps:
                args = [_sqlite_time(p) if isinstance(p, datetime) else p for p in params]
                out.append(conn.execute(_PLACEHOLDER.sub("?", sql), args).fetchall())
            conn.execute("COMMIT")
            return out
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()

    @contextlib.asynccontextmanager
    async def one_connection(self) -> AsyncIterator[None]:
        """The calls made inside share one PostgreSQL connection, opened at the first and closed
        at the end: a rebuild of the jobs reads five features' rows, five connections else (a
        server process each).  Nested scopes use the outer one's; SQLite opens a file, no scope."""
        if not self.postgresql or _HELD.get() is not None:
            yield
            return
        held = _Held(self._url)
        token = _HELD.set(held)
        try:
            yield
        finally:
            _HELD.reset(token)
            async with held.lock:
                held.over = True
                if held.conn is not None:
                    await held.conn.close()

    async def _connect_pg(self) -> Any:
        import asyncpg

        return await asyncpg.connect(**asyncpg_params(self._url), timeout=10,
                                     server_settings={"application_name": "reseau-bot"})

    async def _run_pg(self, steps: Sequence[tuple[str, Sequence[Any]]], *, write: bool,
                      lock: int | None) -> list[list[tuple[Any, ...]]]:
        held = _HELD.get()
        if held is not None and held.url == self._url:
            async with held.lock:
                if not held.over:
                    if held.conn is None or held.conn.is_closed():
                        held.conn = await self._connect_pg()
                    return await self._steps_pg(held.conn, steps, write=write, lock=lock)
        conn = await self._connect_pg()
        try:
            return await self._steps_pg(conn, steps, write=write, lock=lock)
        finally:
            await conn.close()

    @staticmethod
    async def _steps_pg(conn: Any, steps: Sequence[tuple[str, Sequence[Any]]], *, write: bool,
                        lock: int | None) -> list[list[tuple[Any, ...]]]:
        async with conn.transaction(readonly=not write):
            if lock is not None:
                await conn.execute("SELECT pg_advisory_xact_lock($1)", lock)
            return [[tuple(r) for r in await conn.fetch(sql, *params)] for sql, params in steps]

    @staticmethod
    def _time(value: Any) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    # ---------------------------------------------------------------- schema and state
    async def ping(self) -> bool:
        """``SELECT 1`` answered (the readiness probe, before the engine exists)."""
        [[(one,)]] = await self._run([("SELECT 1", ())])
        return one == 1

    async def revision(self) -> str | None:
        """The revision stamped in ``alembic_version`` (None on an empty database), as
        ``storage.db.current_revision`` reads it."""
        exists = ("SELECT to_regclass('alembic_version') IS NOT NULL" if self.postgresql
                  else "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'")
        [[(found,)]] = await self._run([(exists, ())])
        if not found:
            return None
        [rows] = await self._run([("SELECT version_num FROM alembic_version", ())])
        if len(rows) > 1:
            raise RuntimeError(f"the database has several schema versions: {sorted(r[0] for r in rows)}")
        return rows[0][0] if rows else None

    async def state(self, key: str) -> str | None:
        """A ``bot_state`` value (``StateRepository.get``)."""
        [rows] = await self._run([("SELECT value FROM bot_state WHERE key = $1", (key,))])
        return rows[0][0] if rows else None

    async def set_state(self, key: str, value: str, now: datetime) -> None:
        """Insert or update a ``bot_state`` value (``StateRepository.set``: two processes setting
        a new key at once both succeed)."""
        await self._run([(
            "INSERT INTO bot_state (key, value, updated_at) VALUES ($1, $2, $3) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            (key, value, now),
        )], write=True)

    async def replace_channels(self, channels: Iterable[ChannelRow]) -> None:
        """Make ``network_channels`` equal to ``channels``: a channel no longer configured is
        disabled, not deleted, so its deliveries stay readable; a channel configured without a
        name keeps the one it has (Discord's, :meth:`name_channels`); one process at a time on
        PostgreSQL."""
        wanted = list({c.channel_id: c for c in channels}.values())
        steps: list[tuple[str, Sequence[Any]]] = [(
            "UPDATE network_channels SET enabled = $1 WHERE enabled = $2", (False, True),
        )]
        for c in wanted:
            steps.append((
                "INSERT INTO network_channels (channel_id, guild_id, language, mention_role_id, name, enabled) "
                "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (channel_id) DO UPDATE SET guild_id = excluded.guild_id, "
                "language = excluded.language, mention_role_id = excluded.mention_role_id, "
                "name = CASE WHEN excluded.name = '' THEN network_channels.name ELSE excluded.name END, "
                "enabled = excluded.enabled",
                (c.channel_id, c.guild_id, c.language, c.mention_role_id, c.name, True),
            ))
        await self._run(steps, write=True, lock=CHANNELS_MIRROR_LOCK)

    async def name_channels(self, names: Mapping[int, str]) -> None:
        """Each channel's name as Discord gives it (``names``: channel id → name), for the
        channels the configuration leaves unnamed; only rows whose name changes are written."""
        steps = [
            ("UPDATE network_channels SET name = $1 WHERE channel_id = $2 AND name <> $3", (name, channel_id, name))
            for channel_id, name in names.items()
        ]
        if steps:
            await self._run(steps, write=True, lock=CHANNELS_MIRROR_LOCK)

    # ---------------------------------------------------------------- what the scheduler plans from
    async def open_polls(self) -> list[PollTimes]:
        """Every open poll's times, by id (``PollRepository.open_polls``)."""
        [rows] = await self._run([(
            "SELECT id, deadline_at, reminder_at, reminder_sent FROM polls WHERE status = 'open' ORDER BY id", (),
        )])
        return [PollTimes(r[0], self._time(r[1]), self._time(r[2]), bool(r[3])) for r in rows]

    async def scheduled_announcements(self) -> list[tuple[int, datetime | None]]:
        """(id, time) of every scheduled announcement, the soonest first
        (``AnnouncementRepository.scheduled``)."""
        [rows] = await self._run([(
            "SELECT id, scheduled_at FROM announcements WHERE status = $1 ORDER BY scheduled_at, id",
            (ANNOUNCEMENT_SCHEDULED,),
        )])
        return [(r[0], self._time(r[1])) for r in rows]

    async def active_plans(self) -> list[PlanTimes]:
        """The calendar's plans still to run, the soonest first (``CalendarRepository.active``)."""
        [rows] = await self._run([(
            "SELECT id, kind, next_at FROM calendar_plans WHERE status = $1 AND next_at IS NOT NULL "
            "ORDER BY next_at, id", (PLAN_ACTIVE,),
        )])
        return [PlanTimes(r[0], r[1], self._time(r[2])) for r in rows]  # type: ignore[arg-type]

    async def unfinished_runs(self, kind: str) -> list[tuple[int, datetime, datetime]]:
        """(plan, occurrence, claimed at) of ``kind`` occurrences claimed and not posted
        (``CalendarRepository.unfinished_runs``)."""
        [rows] = await self._run([(
            "SELECT r.plan_id, r.occurrence_at, r.claimed_at FROM calendar_runs r "
            "JOIN calendar_plans p ON p.id = r.plan_id WHERE p.kind = $1 AND r.status IN ($2, $3) "
            "ORDER BY r.claimed_at, r.plan_id", (kind, RUN_CLAIMED, RUN_SENDING),
        )])
        return [(r[0], self._time(r[1]), self._time(r[2])) for r in rows]  # type: ignore[misc]

    async def deliveries_to_retry(self) -> list[tuple[int, int]]:
        """(id, attempts) of every pending delivery tried at least once: the outbox's retries
        (``DeliveryRepository.pending``, attempted rows)."""
        [rows] = await self._run([(
            "SELECT id, attempts FROM deliveries WHERE status = $1 AND attempts > 0 ORDER BY id", (DELIVERY_PENDING,),
        )])
        return [(r[0], r[1]) for r in rows]

    async def work_at_ready(self) -> tuple[int, int]:
        """(pending deliveries, follow-ups due): what the extracts' start-up has to resume —
        the outbox's pending rows (``DeliveryRepository.pending``) and the sent extracts'
        follow-up questions not claimed nor posted in their channel
        (``ExtractRepository.followups_due``)."""
        [[(pending,)], [(followups,)]] = await self._run([
            ("SELECT count(*) FROM deliveries WHERE status = $1", (DELIVERY_PENDING,)),
            ("SELECT count(*) FROM extracts e JOIN deliveries d ON d.extract_id = e.id "
             "WHERE d.status = $1 AND e.question IS NOT NULL AND e.question <> '' "
             "AND NOT EXISTS (SELECT 1 FROM followup_postings f WHERE f.extract_id = e.id "
             "AND f.channel_id = d.channel_id) "
             "AND NOT EXISTS (SELECT 1 FROM polls p WHERE p.extract_id = e.id AND p.channel_id = d.channel_id)",
             (DELIVERY_SENT,)),
        ])
        return pending, followups
