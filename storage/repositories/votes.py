"""The vote path's storage: one database round trip per batch of votes (issue 15, item 1).

:class:`bot.services.polls.voting.Voting` queues each vote with its change (the kind's rule, a
pure function of the member's current choices) and writes a batch of them at once.  The
promises stay those of :mod:`bot.services.polls`: a vote is stored before the member is told,
and the poll's open status is checked atomically with the write (a close that commits first
wins, a close that comes later waits).  How each database keeps them in one trip:

* **SQLite** — :class:`SqliteVoteStore`: a thread of its own holds a ``sqlite3`` connection to the
  database file (the engine's PRAGMAs); the whole batch is one function run there:
  ``BEGIN IMMEDIATE`` (the write lock, so no close commits in between), the status read, the
  upserts, the choices read, the changes, the rewrite, ``COMMIT``.  One hop from the event loop to
  that thread and back, where the driver's API costs one per statement.  Its commits never
  checkpoint the write-ahead log (an fsync inside a vote): a thread of its own does, every 100
  batches, without holding up the writers; past ``wal_limit`` (votes without a pause) the vote
  thread checkpoints itself, never waiting.

* **PostgreSQL** — :class:`PgVoteStore`: a connection taken from the engine's pool once and kept;
  the batch is **one statement** (so one transaction, in autocommit; a batch of one vote has a
  smaller statement of its own) that takes a shared lock on
  the open polls' rows (``FOR SHARE``: a close's ``UPDATE`` waits, and a vote racing a close that
  committed first finds it closed) and writes every answer whose row is still the version this
  process last saw — its ``xmin``, which every write to an answer changes (every path that
  changes an answer's choices also writes its row).  The versions and choices are remembered
  per (question, respondent), and a member seen for the first time is assumed to have no answer
  (most votes are a member's first).  A row that moved on meanwhile — another process, a
  withdrawal, a ``/forget-me`` — is left untouched by that statement: its current state is read
  (one more trip), the changes are applied again to it, and the statement is retried.  Nothing
  is lost and nothing is written over: optimistic concurrency on a version the database keeps.

Both return, for each vote of the batch in order, ``(before, after)`` choices, the exception its
change raised (that vote only), or :class:`Refused` when its poll is closed or gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import weakref
from collections import OrderedDict
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.models import Answer, AnswerChoice, Poll, Profile
from storage.repositories.polls import _STATUS, _answer_upsert

_ANSWERS, _CHOICES, _POLLS, _PROFILES = (
    Answer.__tablename__, AnswerChoice.__tablename__, Poll.__tablename__, Profile.__tablename__
)
_CHECKPOINT_EVERY = 100  # SQLite: vote batches (a few pages each) between two checkpoints
_MAX_ATTEMPTS = 20  # PostgreSQL: rounds of "read the rows that moved on, write again" per batch


@dataclass(slots=True)
class VoteWrite:
    """One queued vote: whose answer to which question, and its change of the choices (a set,
    or a tuple for an ordered kind: the change receives and returns what the kind works on)."""

    poll_id: int
    question_id: int
    respondent: int  # the member's id, or their pseudonym in an anonymous poll
    member_id: int  # whose profile gives the answer's member type
    change: Callable[[Collection[int]], Collection[int]]


@dataclass(slots=True, frozen=True)
class Refused:
    """The vote's poll is closed (or past its deadline), or ``missing``."""

    poll_id: int
    missing: bool


Outcome = tuple[Collection[int], Collection[int]] | Refused | Exception


def _ordered(choices: Collection[int]) -> bool:
    return isinstance(choices, tuple)


def _apply(
    writes: Sequence[VoteWrite], indexes: list[int], current: Collection[int], outcomes: list[Any]
) -> Collection[int]:
    """Apply the changes of one answer's votes in arrival order; each vote's outcome is
    ``(before, after)`` or the exception its change raised.  Returns the final choices."""
    for index in indexes:
        try:
            wanted = writes[index].change(current)
        except Exception as exc:  # e.g. InvalidInput (too many choices): this vote only
            outcomes[index] = exc
            continue
        outcomes[index] = (current, wanted)
        current = wanted
    return current


def _choice_rows(chosen: Collection[int]) -> list[tuple[int, int | None]]:
    """``(option id, rank)`` rows: ranks 1, 2… for an ordered answer, ``None`` for a set."""
    if _ordered(chosen):
        return [(option_id, rank) for rank, option_id in enumerate(chosen, 1)]
    return [(option_id, None) for option_id in sorted(chosen)]


def _choices_from(rows: list[tuple[int, int | None]]) -> Collection[int]:
    """Stored ``(option id, rank)`` rows back to a set, or a tuple in rank order."""
    if any(rank is not None for _, rank in rows):
        return tuple(option_id for option_id, _ in sorted(rows, key=lambda row: row[1] or 0))
    return {option_id for option_id, _ in rows}


# the stores built on each engine, so that whoever disposes of an engine can close them first
_STORES: weakref.WeakKeyDictionary[Any, weakref.WeakSet[Any]] = weakref.WeakKeyDictionary()


def vote_store_for(engine: AsyncEngine) -> SqliteVoteStore | PgVoteStore | None:
    """The store for ``engine``'s database, or ``None`` (an in-memory or URI SQLite database, which
    another connection cannot open: the vote path then runs its batch on a pooled connection)."""
    url = engine.url
    store: SqliteVoteStore | PgVoteStore
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if not database or database == ":memory:" or database.startswith("file:"):
            return None
        store = SqliteVoteStore(database, engine.dialect)
    elif url.get_backend_name() == "postgresql" and url.get_driver_name() == "asyncpg":
        store = PgVoteStore(engine)
    else:
        return None
    _STORES.setdefault(engine.sync_engine, weakref.WeakSet()).add(store)
    return store


async def close_vote_stores(engine: AsyncEngine) -> None:
    """Close every vote store built on ``engine`` (before disposing of it: the PostgreSQL store
    keeps a connection checked out of its pool)."""
    for store in list(_STORES.get(engine.sync_engine, ())):
        await store.aclose()


# ----------------------------------------------------------------------------- SQLite
def _positional(stmt: Any, dialect: Any) -> tuple[str, tuple[str, ...], dict[str, Callable[[Any], Any]]]:
    """A Core statement as the driver's own SQL: the text (SQLite's ``?``), its parameters' names
    in order and their types' bind conversions (aware datetimes → SQLite's stored UTC text)."""
    compiled = stmt.compile(dialect=dialect)
    convert = {}
    for name, bind in compiled.binds.items():
        processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None:
            convert[name] = processor
    return str(compiled), tuple(compiled.positiontup or ()), convert


class SqliteVoteStore:
    """One thread, one ``sqlite3`` connection: a batch is one function run there."""

    def __init__(self, path: str, dialect: Any) -> None:
        self.path = str(make_url(f"sqlite:///{path}").database)
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None  # opened, used and closed in that thread
        # checkpoints are not the votes' business: a thread of their own (see _checkpoint)
        self._checkpointer: ThreadPoolExecutor | None = None
        self._checkpoint_conn: sqlite3.Connection | None = None
        self._checkpointing = False
        self._batches = 0  # since the last checkpoint
        self.wal_limit = 64 * 2**20  # bytes of log past which the vote thread checkpoints itself
        self.checkpoints = {"beside": 0, "inline": 0}  # done by the checkpoint thread, by the vote thread
        self._upsert = _positional(_answer_upsert("sqlite", from_profile=True, set_text=False), dialect)
        self._status_sql = str(_STATUS.compile(dialect=dialect))  # no FOR SHARE: BEGIN IMMEDIATE's lock covers it
        deadline = Poll.__table__.c.deadline_at.type.dialect_impl(dialect).result_processor(dialect, None)
        self._deadline: Callable[[Any], Any] = deadline or (lambda value: value)

    async def write(self, writes: Sequence[VoteWrite], now: datetime) -> list[Outcome]:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="reseau-votes")
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._write, writes, now)

    async def aclose(self) -> None:
        loop = asyncio.get_running_loop()
        for name, close in (("_executor", self._close), ("_checkpointer", self._close_checkpointer)):
            executor = getattr(self, name)
            setattr(self, name, None)
            if executor is not None:
                await loop.run_in_executor(executor, close)
                executor.shutdown(wait=False)

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _close_checkpointer(self) -> None:
        conn, self._checkpoint_conn = self._checkpoint_conn, None
        if conn is not None:
            conn.close()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            from storage.db import _sqlite_pragmas  # the engine's own PRAGMAs

            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=True)
            _sqlite_pragmas(conn, None)
            conn.execute("PRAGMA wal_autocheckpoint=0")  # this connection's commits never checkpoint
            # when this connection starts the log again, it shrinks it (the file keeps its size else)
            conn.execute(f"PRAGMA journal_size_limit={self.wal_limit // 4}")
            self._conn = conn
        return self._conn

    def _after_commit(self) -> None:
        """Every ``_CHECKPOINT_EVERY`` batches, hand a checkpoint to the checkpoint thread.  SQLite
        checkpoints in the committing connection once the log passes 1,000 pages — an fsync of
        milliseconds inside one member's vote, the tail of the votes' latency; a ``PASSIVE``
        checkpoint elsewhere lets the writers go on meanwhile."""
        self._batches += 1
        if self._batches < _CHECKPOINT_EVERY:
            return
        try:
            log = os.path.getsize(self.path + "-wal")
        except OSError:
            log = 0
        if log > self.wal_limit:
            # votes without a pause: a checkpoint beside them never catches up with the log's end,
            # so the log is never started again — here, between two batches, it is.  PASSIVE never
            # waits (a long export's snapshot, the checkpoint thread at work): when it could not
            # run, again after the next batch; once it ran, 100 batches later
            conn = self._conn
            assert conn is not None
            busy, _log, _done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if not busy:
                self._batches = 0
                self.checkpoints["inline"] += 1
            return
        self._batches = 0
        if self._checkpointing:
            return
        self._checkpointing = True
        if self._checkpointer is None:
            self._checkpointer = ThreadPoolExecutor(1, thread_name_prefix="reseau-checkpoint")
        self._checkpointer.submit(self._checkpoint)

    def _checkpoint(self) -> None:
        try:
            if self._checkpoint_conn is None:
                self._checkpoint_conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self._checkpoint_conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            self.checkpoints["beside"] += 1
        except sqlite3.Error:  # busy or closing: the next one will do, or another connection's own
            pass
        finally:
            self._checkpointing = False

    def _write(self, writes: Sequence[VoteWrite], now: datetime) -> list[Outcome]:
        conn = self._connection()
        outcomes: list[Any] = [None] * len(writes)
        conn.execute("BEGIN IMMEDIATE")  # the write lock first: the status read and the writes are one step
        try:
            self._write_locked(conn, writes, now, outcomes)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        self._after_commit()
        return outcomes

    def _write_locked(
        self, conn: sqlite3.Connection, writes: Sequence[VoteWrite], now: datetime, outcomes: list[Any]
    ) -> None:
        refused: dict[int, Refused | None] = {}
        for poll_id in dict.fromkeys(w.poll_id for w in writes):
            row = conn.execute(self._status_sql, (poll_id,)).fetchone()
            if row is None:
                refused[poll_id] = Refused(poll_id, missing=True)
                continue
            deadline = self._deadline(row[1])
            closed = row[0] != "open" or (deadline is not None and deadline <= now)
            refused[poll_id] = Refused(poll_id, missing=False) if closed else None
        by_key: dict[tuple[int, int], list[int]] = {}
        for index, w in enumerate(writes):
            if refused[w.poll_id] is not None:
                outcomes[index] = refused[w.poll_id]
            else:
                by_key.setdefault((w.question_id, w.respondent), []).append(index)
        if not by_key:
            return
        sql, names, convert = self._upsert
        answer_of: dict[tuple[int, int], int] = {}
        for (question_id, respondent), indexes in by_key.items():
            params = {"q_id": question_id, "u_id": respondent, "m_id": writes[indexes[0]].member_id,
                      "txt": None, "ts": now, "ts_u": now}
            values = [convert[n](params[n]) if n in convert else params[n] for n in names]
            answer_of[(question_id, respondent)] = conn.execute(sql, values).fetchone()[0]
        ids = list(answer_of.values())
        stored_rows: dict[int, list[tuple[int, int | None]]] = {a: [] for a in ids}
        marks = ", ".join("?" * len(ids))
        for answer_id, option_id, rank in conn.execute(
            f"SELECT answer_id, option_id, rank FROM {_CHOICES} WHERE answer_id IN ({marks})", ids
        ):
            stored_rows[answer_id].append((option_id, rank))
        rewrite, inserts, empty = [], [], []
        for key, indexes in by_key.items():
            answer_id = answer_of[key]
            before = _choices_from(stored_rows[answer_id])
            final = _apply(writes, indexes, before, outcomes)
            if final != before or not final:  # answers left without a choice are deleted
                if stored_rows[answer_id]:
                    rewrite.append(answer_id)
                inserts.extend((answer_id, option_id, rank) for option_id, rank in _choice_rows(final))
                if not final:
                    empty.append(answer_id)
        if rewrite:
            conn.execute(f"DELETE FROM {_CHOICES} WHERE answer_id IN ({', '.join('?' * len(rewrite))})", rewrite)
        if inserts:
            conn.executemany(f"INSERT INTO {_CHOICES} (answer_id, option_id, rank) VALUES (?, ?, ?)", inserts)
        if empty:
            conn.execute(f"DELETE FROM {_ANSWERS} WHERE id IN ({', '.join('?' * len(empty))})", empty)


# ----------------------------------------------------------------------------- PostgreSQL
# One statement: the open polls locked FOR SHARE; each answer inserted (a member not seen before),
# updated or deleted (no choice left) only if its row is still at the version last seen; the
# choices of the answers written made equal to what is wanted.  Returns the answers written (0),
# deleted (1) and the polls found open (2).
_PG_WRITE = f"""
WITH k AS (
  SELECT * FROM unnest($1::int[], $2::int[], $3::int[], $4::bigint[], $5::bigint[], $6::int[], $7::text[],
                       $8::bool[]) AS k(n, poll, q, r, m, aid, ver, empty)
), st AS (
  SELECT id FROM {_POLLS} WHERE id = ANY($9::int[]) AND status = 'open' AND (deadline_at IS NULL OR deadline_at > $10)
  FOR SHARE
), live AS (
  SELECT k.* FROM k WHERE k.poll IN (SELECT id FROM st)
), ins AS (
  INSERT INTO {_ANSWERS} (question_id, user_id, member_type, answered_at, updated_at)
  SELECT q, r, (SELECT p.member_type FROM {_PROFILES} p WHERE p.user_id = live.m), $10, $10
  FROM live WHERE aid IS NULL AND NOT empty
  ON CONFLICT (question_id, user_id) DO NOTHING
  RETURNING id, question_id, user_id, xmin::text AS ver
), upd AS (
  UPDATE {_ANSWERS} a SET updated_at = $10,
         member_type = (SELECT p.member_type FROM {_PROFILES} p WHERE p.user_id = live.m)
  FROM live WHERE a.id = live.aid AND a.xmin::text = live.ver AND NOT live.empty
  RETURNING live.n, a.id, a.xmin::text AS ver
), gone AS (
  DELETE FROM {_ANSWERS} a USING live WHERE a.id = live.aid AND a.xmin::text = live.ver AND live.empty
  RETURNING live.n
), done AS (
  SELECT live.n, ins.id, ins.ver FROM ins JOIN live ON live.q = ins.question_id AND live.r = ins.user_id
  UNION ALL SELECT n, id, ver FROM upd
), want AS (
  SELECT done.id, c.opt, c.rank FROM unnest($11::int[], $12::int[], $13::int[]) AS c(n, opt, rank)
  JOIN done ON done.n = c.n
), dropped AS (
  DELETE FROM {_CHOICES} ac USING done WHERE ac.answer_id = done.id
    AND NOT EXISTS (SELECT 1 FROM want WHERE want.id = ac.answer_id AND want.opt = ac.option_id)
), put AS (
  INSERT INTO {_CHOICES} (answer_id, option_id, rank) SELECT id, opt, rank FROM want
  ON CONFLICT (answer_id, option_id) DO UPDATE SET rank = excluded.rank
  WHERE {_CHOICES}.rank IS DISTINCT FROM excluded.rank
)
SELECT 0 AS tag, n, id, ver FROM done
UNION ALL SELECT 1, n, NULL, NULL FROM gone
UNION ALL SELECT 2, id, NULL, NULL FROM st
"""

# The same for one answer (most batches: one vote), one statement per case — a plan of a third of
# the size, which PostgreSQL runs in a third of the time.  The same result rows.
_PG_OPEN_POLL = f"""st AS (
  SELECT id FROM {_POLLS} WHERE id = $1 AND status = 'open' AND (deadline_at IS NULL OR deadline_at > $2)
  FOR SHARE
)"""
_PG_INSERT_ONE = f"""
WITH {_PG_OPEN_POLL}, ins AS (
  INSERT INTO {_ANSWERS} (question_id, user_id, member_type, answered_at, updated_at)
  SELECT $3, $4, (SELECT p.member_type FROM {_PROFILES} p WHERE p.user_id = $5), $2, $2 FROM st
  ON CONFLICT (question_id, user_id) DO NOTHING
  RETURNING id, xmin::text AS ver
), put AS (
  INSERT INTO {_CHOICES} (answer_id, option_id, rank)
  SELECT ins.id, c.opt, c.rank FROM ins, unnest($6::int[], $7::int[]) AS c(opt, rank)
)
SELECT 0 AS tag, 0 AS n, id, ver FROM ins
UNION ALL SELECT 2, id, NULL, NULL FROM st
"""
_PG_UPDATE_ONE = f"""
WITH {_PG_OPEN_POLL}, upd AS (
  UPDATE {_ANSWERS} a SET updated_at = $2,
         member_type = (SELECT p.member_type FROM {_PROFILES} p WHERE p.user_id = $5)
  WHERE a.id = $3 AND a.xmin::text = $4 AND EXISTS (SELECT 1 FROM st)
  RETURNING a.id, a.xmin::text AS ver
), dropped AS (
  DELETE FROM {_CHOICES} ac USING upd WHERE ac.answer_id = upd.id AND ac.option_id <> ALL($6::int[])
), put AS (
  INSERT INTO {_CHOICES} (answer_id, option_id, rank)
  SELECT upd.id, c.opt, c.rank FROM upd, unnest($6::int[], $7::int[]) AS c(opt, rank)
  ON CONFLICT (answer_id, option_id) DO UPDATE SET rank = excluded.rank
  WHERE {_CHOICES}.rank IS DISTINCT FROM excluded.rank
)
SELECT 0 AS tag, 0 AS n, id, ver FROM upd
UNION ALL SELECT 2, id, NULL, NULL FROM st
"""
_PG_DELETE_ONE = f"""
WITH {_PG_OPEN_POLL}, gone AS (
  DELETE FROM {_ANSWERS} a WHERE a.id = $3 AND a.xmin::text = $4 AND EXISTS (SELECT 1 FROM st)
  RETURNING a.id
)
SELECT 1 AS tag, 0 AS n, id, NULL::text AS ver FROM gone
UNION ALL SELECT 2, id, NULL, NULL FROM st
"""

# The current state of answers whose row moved on (or that this process has not seen).
_PG_READ = f"""
SELECT k.n, a.id, a.xmin::text, c.option_id, c.rank
FROM unnest($1::int[], $2::int[], $3::bigint[]) AS k(n, q, r)
JOIN {_ANSWERS} a ON a.question_id = k.q AND a.user_id = k.r
LEFT JOIN {_CHOICES} c ON c.answer_id = a.id
"""

_PG_POLLS = f"SELECT id FROM {_POLLS} WHERE id = ANY($1::int[])"


class PgVoteStore:
    """One pooled connection kept for the vote path; a batch is one statement (see the module)."""

    def __init__(self, engine: AsyncEngine, *, remember: int = 100_000) -> None:
        self.engine = engine
        self.remember = remember
        self._conn: AsyncConnection | None = None
        self._lock = asyncio.Lock()  # one batch at a time on the connection (the flush task's order)
        # (question, respondent) → (answer id or None, row version, choices): what this process
        # last wrote or read; a wrong guess costs one more round trip, never a wrong write
        self._known: OrderedDict[tuple[int, int], tuple[int | None, str | None, Collection[int]]] = OrderedDict()

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()

    async def _driver(self) -> Any:
        """The kept connection's asyncpg connection; a fresh one from the pool when it is known
        to be closed (the server ended it while it was idle: nothing was sent on it)."""
        if self._conn is not None:
            driver = (await self._conn.get_raw_connection()).driver_connection
            if not driver.is_closed():
                return driver
            conn, self._conn = self._conn, None
            with contextlib.suppress(Exception):
                await conn.invalidate()
        self._conn = await self.engine.connect()
        return (await self._conn.get_raw_connection()).driver_connection

    async def write(self, writes: Sequence[VoteWrite], now: datetime) -> list[Outcome]:
        async with self._lock:
            try:
                driver = await self._driver()
                return await self._write(driver, writes, now)
            except BaseException:
                # the connection may be broken or mid-statement: the next batch takes a fresh one
                conn, self._conn = self._conn, None
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.invalidate()
                raise

    async def _write(self, driver: Any, writes: Sequence[VoteWrite], now: datetime) -> list[Outcome]:
        outcomes: list[Any] = [None] * len(writes)
        by_key: dict[tuple[int, int], list[int]] = {}
        for index, w in enumerate(writes):
            by_key.setdefault((w.question_id, w.respondent), []).append(index)
        known = self._known
        todo = list(by_key)
        unknown: list[tuple[int, int]] = []
        for _attempt in range(_MAX_ATTEMPTS):
            if unknown:
                await self._read(driver, unknown)
            keys: list[tuple[int, int]] = []
            unknown = []
            polls: dict[int, None] = {}
            k_poll, k_q, k_r, k_m, k_aid, k_ver, k_empty = [], [], [], [], [], [], []
            c_n, c_opt, c_rank = [], [], []
            finals: dict[tuple[int, int], Collection[int]] = {}
            for key in todo:
                indexes = by_key[key]
                first = writes[indexes[0]]
                state = known.get(key)
                aid, ver, before = state or (None, None, set())
                final = finals[key] = _apply(writes, indexes, before, outcomes)
                if state is None and not final:
                    # nothing to insert: whether there is an answer to delete must be read first
                    unknown.append(key)
                    continue
                n = len(keys)
                keys.append(key)
                polls[first.poll_id] = None
                k_poll.append(first.poll_id), k_q.append(key[0]), k_r.append(key[1]), k_m.append(first.member_id)
                k_aid.append(aid), k_ver.append(ver), k_empty.append(not final)
                for option_id, rank in _choice_rows(final):
                    c_n.append(n), c_opt.append(option_id), c_rank.append(rank)
            if not keys:
                todo = unknown
                continue
            if len(keys) > 1:
                rows = await driver.fetch(
                    _PG_WRITE, list(range(len(keys))), k_poll, k_q, k_r, k_m, k_aid, k_ver, k_empty, list(polls),
                    now, c_n, c_opt, c_rank,
                )
            elif k_empty[0]:
                rows = await driver.fetch(_PG_DELETE_ONE, k_poll[0], now, k_aid[0], k_ver[0])
            elif k_aid[0] is None:
                rows = await driver.fetch(_PG_INSERT_ONE, k_poll[0], now, k_q[0], k_r[0], k_m[0], c_opt, c_rank)
            else:
                rows = await driver.fetch(_PG_UPDATE_ONE, k_poll[0], now, k_aid[0], k_ver[0], k_m[0], c_opt, c_rank)
            written: dict[int, tuple[int, str]] = {}
            deleted: set[int] = set()
            open_polls: set[int] = set()
            for tag, n, answer_id, ver in rows:
                if tag == 0:
                    written[n] = (answer_id, ver)
                elif tag == 1:
                    deleted.add(n)
                else:
                    open_polls.add(n)
            closed = [p for p in polls if p not in open_polls]
            missing = set(closed) - {row[0] for row in await driver.fetch(_PG_POLLS, closed)} if closed else set()
            todo = list(unknown)
            for n, key in enumerate(keys):
                poll_id = writes[by_key[key][0]].poll_id
                if poll_id not in open_polls:
                    for index in by_key[key]:
                        outcomes[index] = Refused(poll_id, missing=poll_id in missing)
                elif n in written:
                    self._remember(key, (*written[n], finals[key]))
                elif n in deleted or (not finals[key] and k_aid[n] is None):
                    self._remember(key, (None, None, set()))
                else:  # the row moved on since it was last seen: read it, apply the changes again
                    known.pop(key, None)
                    todo.append(key)
                    unknown.append(key)
            if not todo:
                return outcomes
        raise RuntimeError("votes kept meeting concurrent changes of the same answers")

    async def _read(self, driver: Any, keys: list[tuple[int, int]]) -> None:
        found: dict[int, tuple[int, str, list[tuple[int, int | None]]]] = {}
        rows = await driver.fetch(_PG_READ, list(range(len(keys))), [k[0] for k in keys], [k[1] for k in keys])
        for n, answer_id, ver, option_id, rank in rows:
            entry = found.setdefault(n, (answer_id, ver, []))
            if option_id is not None:
                entry[2].append((option_id, rank))
        for n, key in enumerate(keys):
            entry = found.get(n)
            self._remember(key, (None, None, set()) if entry is None else (entry[0], entry[1], _choices_from(entry[2])))

    def _remember(self, key: tuple[int, int], state: tuple[int | None, str | None, Collection[int]]) -> None:
        known = self._known
        known[key] = state
        known.move_to_end(key)
        if len(known) > self.remember:
            known.popitem(last=False)
