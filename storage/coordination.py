"""How several processes on one database coordinate (issue 14): the database's own means only.

PostgreSQL
    :class:`PgCoordination` is one **dedicated** asyncpg connection per process, outside the
    SQLAlchemy pool (a pool recycles and pre-pings its connections; a session advisory lock lives
    exactly as long as its connection).  On it: ``pg_try_advisory_lock`` for the scheduler's
    election (held until the connection ends, so a killed process's lock is released by the
    server as soon as it sees the connection closed), ``LISTEN`` for the channels other processes
    ``NOTIFY`` on, and ``pg_notify``; and the process's **shard claim** (:meth:`PgCoordination.claim_shards`):
    a shared lock on its shard count and a lock on each gateway shard it runs, so that two
    processes never run one shard, nor two different shard counts.  The server is asked to probe an idle peer with TCP
    keepalives every second (``tcp_keepalives_*``), so that a machine that vanished without
    closing its socket loses its lock within seconds rather than the system's two hours.
SQLite
    One process per database file.  :func:`lock_sqlite` takes an exclusive ``flock`` on
    ``<database>.run.lock`` beside the file, held for the process's life (the kernel releases it
    when the process dies, however it dies); a second ``reseau-bot run`` on the same file is
    refused at start.  SQLite's own locking cannot say this: it serialises writers, it does not
    refuse a second process.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storage.urls import asyncpg_params, parse_url

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from storage.plain import PlainStore

# The advisory lock's key: one 64-bit number for "the scheduler of reseau-bot" on this database.
SCHEDULER_LOCK_KEY = 0x7265_7365_6175_0001  # "reseau" + 1
# A delivery in flight: the two-key form (this class, the delivery's id), another key space.
DELIVERY_LEASE_CLASS = 0x7262_0001
# A gateway shard run by this process: the two-key form (this class, the shard's id), exclusive.
SHARD_CLAIM_CLASS = 0x7262_0002
# The shard count this process runs with (0: no sharding): (this class, the count), *shared* —
# every process of one count holds it together; a process seeing another count held refuses.
SHARD_COUNT_CLASS = 0x7262_0003
# The advisory locks of one class held on this database (pg_locks spans the whole server).
_HELD_IN_CLASS = (
    "SELECT objid::bigint AS key, pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
    "AND objsubid = 2 AND classid::bigint = $1 "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)

# Idle-peer probing asked of the server for this connection (seconds, count).
KEEPALIVES = {"tcp_keepalives_idle": "2", "tcp_keepalives_interval": "1", "tcp_keepalives_count": "3"}


def pool_in_use(engine: AsyncEngine) -> int:
    """Connections of the engine's pool checked out now (0 for a pool that does not count)."""
    checked_out = getattr(engine.sync_engine.pool, "checkedout", None)
    return int(checked_out()) if callable(checked_out) else 0


async def database_answers(engine: AsyncEngine | PlainStore, within: float = 2.0) -> bool:
    """``SELECT 1`` within ``within`` seconds, through the engine's pool or (before the engine
    exists) the plain store's own connection."""
    from storage.plain import PlainStore

    async def ping() -> bool:
        if isinstance(engine, PlainStore):
            return await engine.ping()
        from sqlalchemy import text

        async with engine.connect() as conn:
            return (await conn.scalar(text("SELECT 1"))) == 1

    try:
        return await asyncio.wait_for(ping(), within)
    except Exception:  # noqa: BLE001 — unreachable is an answer here
        return False


# ------------------------------------------------------------------------------------------------
# PostgreSQL


Listener = Callable[[str, str], Any]  # (channel, payload)


class PgCoordination:
    """The process's dedicated coordination connection (see the module's docstring)."""

    def __init__(self, connection: Any) -> None:
        self._conn = connection
        self.pid: int = connection.get_server_pid()
        self._busy = asyncio.Lock()  # one query at a time on an asyncpg connection

    @classmethod
    async def connect(cls, url: str, *, within: float = 5.0) -> PgCoordination:
        import asyncpg

        connection = await asyncpg.connect(
            **asyncpg_params(url), timeout=within, server_settings={
                "application_name": "reseau-bot coordination", **KEEPALIVES,
            },
        )
        return cls(connection)

    @property
    def closed(self) -> bool:
        return self._conn.is_closed()

    async def _value(self, query: str, *args: Any, within: float | None = None) -> Any:
        async with self._busy:
            return await self._conn.fetchval(query, *args, timeout=within)

    async def try_lock(self, key: int = SCHEDULER_LOCK_KEY) -> bool:
        """Take the session advisory lock ``key`` if no other session holds it."""
        return bool(await self._value("SELECT pg_try_advisory_lock($1)", key))

    async def holds(self, key: int = SCHEDULER_LOCK_KEY, *, within: float = 2.0) -> bool:
        """Whether this session still holds ``key`` (a round trip: it also proves the connection)."""
        return bool(await self._value(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND pid = pg_backend_pid() AND objsubid = 1 "
            "AND ((classid::bigint << 32) | objid::bigint) = $1)",
            key, within=within,
        ))

    async def unlock(self, key: int = SCHEDULER_LOCK_KEY) -> None:
        await self._value("SELECT pg_advisory_unlock($1)", key)

    async def try_lease(self, delivery_id: int) -> bool:
        """A delivery in flight here: no other session may send it until released or this
        session ends (the process died: the next claimant looks at the channel's history)."""
        return bool(await self._value("SELECT pg_try_advisory_lock($1, $2)", DELIVERY_LEASE_CLASS, delivery_id))

    async def release_lease(self, delivery_id: int) -> None:
        await self._value("SELECT pg_advisory_unlock($1, $2)", DELIVERY_LEASE_CLASS, delivery_id)

    async def claim_shards(self, count: int, shards: tuple[int, ...], *, ours: frozenset[int] = frozenset()) -> None:
        """Hold, for this session's life, the shard count ``count`` (shared with every process of
        that count) and each of ``shards`` (exclusively).  Raises :class:`ShardsInUse` when
        another session of this database holds another count, or one of these shards — unless
        that session is one of ``ours`` (this process's own earlier sessions, which the server has
        not seen die yet: they are ended, and the claim taken again).

        Two processes starting at once with different counts each take their count before
        looking for another: at least one of them sees the other's (both may, and both refuse).
        No sharding is ``count`` 0 and shard 0: two such processes conflict on the shard, one of
        them and a sharded one on the count."""
        await self._value("SELECT pg_try_advisory_lock_shared($1, $2)", SHARD_COUNT_CLASS, count)
        for attempt in range(2):
            async with self._busy:
                others = await self._conn.fetch(_HELD_IN_CLASS + " AND objid::bigint <> $2 ORDER BY 1",
                                                SHARD_COUNT_CLASS, count)
                taken = await self._conn.fetch(
                    "SELECT shard FROM unnest($2::int[]) AS shard WHERE NOT pg_try_advisory_lock($1, shard)",
                    SHARD_CLAIM_CLASS, list(shards),
                ) if not others else []
                holders = await self._conn.fetch(_HELD_IN_CLASS + " AND objid::bigint = ANY($2::bigint[])",
                                                 SHARD_CLAIM_CLASS, [row["shard"] for row in taken]) if taken else []
            pids = {row["pid"] for row in [*others, *holders]}
            if not pids:
                return
            if not pids <= ours:
                break
            if attempt == 1 or not await self._end_sessions(pids):  # retried with the next connection
                raise ConnectionError(f"this process's earlier coordination sessions {sorted(pids)} still hold its claim")
        if others:
            raise ShardsInUse(count, (), theirs=int(others[0]["key"]))
        raise ShardsInUse(count, tuple(sorted(row["shard"] for row in taken)))

    async def _end_sessions(self, pids: set[int]) -> bool:
        """End this process's own earlier sessions (a connection lost on this side that the server
        still holds); whether they are gone."""
        ended = await self._value("SELECT bool_and(pg_terminate_backend(pid, 2000)) FROM unnest($1::int[]) AS pid",
                                  sorted(pids))
        return bool(ended)

    async def shard_claims(self) -> list[tuple[int, tuple[int, ...]]]:
        """What the running processes of this database hold: (shard count, shards) per session,
        for ``reseau-bot check``."""
        async with self._busy:
            counts = await self._conn.fetch(_HELD_IN_CLASS, SHARD_COUNT_CLASS)
            shards = await self._conn.fetch(_HELD_IN_CLASS, SHARD_CLAIM_CLASS)
        held: dict[int, list[int]] = {}
        for row in shards:
            held.setdefault(row["pid"], []).append(int(row["key"]))
        return sorted((int(row["key"]), tuple(sorted(held.get(row["pid"], ())))) for row in counts)

    async def listen(self, channel: str, callback: Listener) -> None:
        """Call ``callback(channel, payload)`` for each NOTIFY on ``channel`` from another session."""

        def relay(_conn: Any, pid: int, channel_: str, payload: str) -> None:
            if pid != self.pid:
                callback(channel_, payload)

        async with self._busy:
            await self._conn.add_listener(channel, relay)

    async def server_version(self) -> str:
        return str(await self._value("SHOW server_version"))

    async def notify(self, channel: str, payload: str) -> None:
        await self._value("SELECT pg_notify($1, $2)", channel, payload)

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self._conn.close(), 2.0)
        except Exception:  # noqa: BLE001 — a broken connection is being dropped anyway
            self._conn.terminate()


class ShardsInUse(Exception):
    """Another process on this PostgreSQL database runs ``shards`` (of ``count``; no sharding:
    ``count`` 0), or runs with another shard count, ``theirs``."""

    def __init__(self, count: int, shards: tuple[int, ...], *, theirs: int | None = None) -> None:
        super().__init__(f"shard count {count}, shards {shards}, other count {theirs}")
        self.count = count
        self.shards = shards
        self.theirs = theirs


# ------------------------------------------------------------------------------------------------
# SQLite


class DatabaseInUse(Exception):
    """Another process already runs on this SQLite database."""

    def __init__(self, database: Path, lock_file: Path) -> None:
        super().__init__(str(database))
        self.database = database
        self.lock_file = lock_file


def lock_sqlite(url: str) -> int | None:
    """Hold ``<database>.run.lock`` exclusively for this process's life; returns its descriptor
    (None for an in-memory database).  Raises :class:`DatabaseInUse` when another process holds it."""
    database = parse_url(url).database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    path = Path(database).expanduser().resolve()
    lock_file = path.with_name(path.name + ".run.lock")
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise DatabaseInUse(path, lock_file) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd
