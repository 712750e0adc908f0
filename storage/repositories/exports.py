"""Exports: the only SQL the export feature runs.

Three reads: which polls an export covers (one poll, or the polls of a campaign, optionally
within one guild), the codebook (those polls' questions and options), and the answers
themselves as one **streamed** query — the statement's cursor on aiosqlite, ``COPY … TO
STDOUT`` parsed as it streams on asyncpg — so memory stays flat however many answers there are.

The answer stream has one row per (answer, chosen option), or one row per answer when it has no
chosen option (text questions, an emptied multiple choice), ordered by respondent, then poll,
question position and option position: a respondent's rows are contiguous, which is what the
wide layout needs to build one row per respondent while holding only that respondent in memory.
Rows carry ids, not labels; the service maps them through the codebook (a dict lookup is cheaper
than decoding the same strings a million times).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import operator
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Select, String, func, select, text, type_coerce

from storage.models import Answer, AnswerChoice, Campaign, NetworkChannel, Option, Poll, PollPosting, Question
from storage.repositories._base import Repository

#: Rows per batch of the answer stream (a cursor fetch on SQLite, parsed COPY rows on PostgreSQL).
DEFAULT_BATCH = 20_000


@dataclass(frozen=True)
class CodebookOption:
    id: int
    position: int
    code: str
    label: str  # in the poll's language
    labels: dict[str, str] = field(default_factory=dict)  # the other languages'


@dataclass(frozen=True)
class CodebookPosting:
    """Where a poll was posted: a channel (its name when it is a network channel) and its language."""

    channel_id: int
    channel_name: str | None
    lang: str


@dataclass(frozen=True)
class CodebookQuestion:
    id: int
    poll_id: int
    poll_title: str
    campaign: str | None
    position: int
    code: str
    text: str
    kind: str
    max_choices: int
    lang: str = "fr"  # the poll's language: ``text`` and the options' ``label`` are in it
    labels: dict[str, str] = field(default_factory=dict)  # the wording in the other languages
    options: list[CodebookOption] = field(default_factory=list)
    postings: list[CodebookPosting] = field(default_factory=list)


#: The columns of one streamed answer row (rows themselves are plain tuples, in this order).
ANSWER_COLUMNS = ("answer_id", "user_id", "member_type", "text", "answered_at", "question_id", "option_id")


class ExportRepository(Repository):
    #: The running bot's export (its worker sets it): whether members are interacting with the bot
    #: right now.  With it, a large export on PostgreSQL reads in short statements that wait while
    #: they are (:class:`_Walk`); without it (the command line, the benchmarks), one statement each.
    members_active: Callable[[], bool] | None = None

    async def _walk(self, driver: Any, in_scope: str) -> _Walk | None:
        """The walk a large export on PostgreSQL takes in the running bot, else ``None``."""
        if self.members_active is None or not hasattr(driver, "fetchrow"):
            return None
        plan = await driver.fetchval(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM answers WHERE question_id IN ({in_scope})")
        estimate = (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]["Plan Rows"]
        return _Walk(driver, self.members_active) if estimate >= WALK_MIN_ANSWERS else None

    async def one_snapshot(self) -> None:
        """Every read of this transaction from one snapshot of the database: an export reads in
        several statements (the respondents, then their lines; the bot's walk in hundreds), and an
        answer stored meanwhile must be in all of them or in none — a respondent read by the
        lines but not by the first statement would be written without its pseudonym.  On
        PostgreSQL the transaction's isolation becomes REPEATABLE READ (this must come first); on
        SQLite a transaction reads from one snapshot already."""
        if self.session.get_bind().dialect.name == "postgresql":
            await self.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})

    async def without_parallel_workers(self) -> None:
        """For the rest of this transaction, no parallel worker on PostgreSQL (its workers are
        server processes at normal priority, beside the votes' own; SQLite has none)."""
        conn = await self.session.connection()
        if conn.dialect.name == "postgresql":
            await conn.exec_driver_sql("SET LOCAL max_parallel_workers_per_gather = 0")

    # ------------------------------------------------------------------ scope
    async def poll_ids(
        self, *, poll_id: int | None = None, campaign: str | None = None, guild_id: int | None = None
    ) -> list[int] | None:
        """The polls an export covers, in creation order; ``None`` when the poll or the campaign
        does not exist (or, with ``guild_id``, the poll belongs to another guild)."""
        if (poll_id is None) == (campaign is None):
            raise ValueError("give exactly one of poll_id and campaign")
        if poll_id is not None:
            stmt = select(Poll.id).where(Poll.id == poll_id)
            if guild_id is not None:
                stmt = stmt.where(Poll.guild_id == guild_id)
            found = await self.session.scalar(stmt)
            return None if found is None else [found]
        campaign_id = await self.session.scalar(select(Campaign.id).where(Campaign.name == campaign))
        if campaign_id is None:
            return None
        stmt = select(Poll.id).where(Poll.campaign_id == campaign_id).order_by(Poll.id)
        if guild_id is not None:
            stmt = stmt.where(Poll.guild_id == guild_id)
        return list(await self.session.scalars(stmt))

    async def anonymous_polls(self, poll_ids: Sequence[int]) -> list[int]:
        """Which of the polls are anonymous (their answers carry a pseudonym, not a member)."""
        if not poll_ids:
            return []
        stmt = select(Poll.id).where(Poll.id.in_(list(poll_ids)), Poll.anonymous.is_(True)).order_by(Poll.id)
        return list(await self.session.scalars(stmt))

    async def campaign_names(self, text: str = "", *, limit: int = 25) -> list[str]:
        """Campaign names containing ``text``, active and recent first (autocompletion)."""
        stmt = select(Campaign.name).order_by(Campaign.active.desc(), Campaign.id.desc()).limit(limit)
        if text:
            stmt = stmt.where(Campaign.name.ilike(f"%{text}%"))
        return list(await self.session.scalars(stmt))

    async def polls_matching(self, guild_id: int, text: str = "", *, limit: int = 25) -> list[tuple[int, str]]:
        """``(id, title)`` of the guild's polls whose title contains ``text``, newest first."""
        stmt = select(Poll.id, Poll.title).where(Poll.guild_id == guild_id).order_by(Poll.id.desc()).limit(limit)
        if text:
            stmt = stmt.where(Poll.title.ilike(f"%{text}%"))
        return [(poll_id, title) for poll_id, title in await self.session.execute(stmt)]

    # ------------------------------------------------------------------ codebook
    async def codebook(self, poll_ids: Sequence[int]) -> list[CodebookQuestion]:
        """The questions of the polls (in poll then position order), each with its labels in
        every language, its options and its poll's postings."""
        if not poll_ids:
            return []
        stmt = (
            select(
                Question.id, Question.poll_id, Poll.title, Campaign.name, Question.position,
                Question.code, Question.text, Question.kind, Question.max_choices, Poll.lang, Question.labels,
            )
            .join(Poll, Poll.id == Question.poll_id)
            .join(Campaign, Campaign.id == Poll.campaign_id, isouter=True)
            .where(Question.poll_id.in_(poll_ids))
            .order_by(Question.poll_id, Question.position)
        )
        questions = [CodebookQuestion(*row[:-1], labels=dict(row[-1] or {}))
                     for row in await self.session.execute(stmt)]
        by_id = {q.id: q for q in questions}
        if by_id:
            opts = (
                select(Option.question_id, Option.id, Option.position, Option.code, Option.label, Option.labels)
                .where(Option.question_id.in_(list(by_id)))
                .order_by(Option.question_id, Option.position)
            )
            for question_id, *rest, labels in await self.session.execute(opts):
                by_id[question_id].options.append(CodebookOption(*rest, labels=dict(labels or {})))
        postings: dict[int, list[CodebookPosting]] = {}
        where = (
            select(PollPosting.poll_id, PollPosting.channel_id, NetworkChannel.name, PollPosting.lang)
            .join(NetworkChannel, NetworkChannel.channel_id == PollPosting.channel_id, isouter=True)
            .where(PollPosting.poll_id.in_(poll_ids))
            .order_by(PollPosting.poll_id, PollPosting.id)
        )
        for poll_id, *rest in await self.session.execute(where):
            postings.setdefault(poll_id, []).append(CodebookPosting(*rest))
        for q in questions:
            q.postings.extend(postings.get(q.poll_id, ()))
        return questions

    # ------------------------------------------------------------------ answers
    @staticmethod
    def answers_statement(poll_ids: Sequence[int], dialect: str = "sqlite", where: str | None = None) -> Select[Any]:
        """One row per (answer, chosen option) — per answer without a choice — for the polls,
        ordered by respondent (an unlinked answer is a respondent of its own), then poll,
        question position, rank (an ordered answer's choices: first choice first) and option
        position.  Columns: ``ANSWER_COLUMNS``.

        ``answered_at`` comes as UTC text ``YYYY-MM-DD HH:MM:SS.ffffff`` on both databases,
        without the per-row ``UTCDateTime`` conversion: on SQLite as stored, on PostgreSQL
        formatted by the server (``to_char``).  The export only slices it; a million aware
        datetimes decoded by asyncpg, then converted and formatted in Python, cost three times
        the query itself (issue 15, item 4)."""
        if dialect == "sqlite":
            answered_at = type_coerce(Answer.answered_at, String)
        else:
            answered_at = type_coerce(
                func.to_char(func.timezone("UTC", Answer.answered_at), "YYYY-MM-DD HH24:MI:SS.US"), String
            )
        # Linked answers sort by user id; an unlinked answer (user_id NULL) sorts on its own,
        # negative, key — one portable sort key, without dialect-specific NULLS LAST.
        respondent_key = func.coalesce(Answer.user_id, -Answer.id)
        stmt = (
            select(
                Answer.id, Answer.user_id, Answer.member_type, Answer.text, answered_at,
                Answer.question_id, AnswerChoice.option_id,
            )
            .join(Question, Question.id == Answer.question_id)
            .join(AnswerChoice, AnswerChoice.answer_id == Answer.id, isouter=True)
            .join(Option, Option.id == AnswerChoice.option_id, isouter=True)
            .where(Question.poll_id.in_(poll_ids))
            # an ordered answer's choices by rank (NULL for the other kinds: option order)
            .order_by(respondent_key, Question.poll_id, Question.position, AnswerChoice.rank, Option.position)
        )
        return stmt if where is None else stmt.where(text(where))  # a walk's range (_key_range)

    async def count_answer_rows(self, poll_ids: Sequence[int]) -> int:
        """How many rows ``stream_answers`` will yield (for a progress bar)."""
        stmt = (
            select(func.count())
            .select_from(Answer)
            .join(Question, Question.id == Answer.question_id)
            .join(AnswerChoice, AnswerChoice.answer_id == Answer.id, isouter=True)
            .where(Question.poll_id.in_(poll_ids))
        )
        return int(await self.session.scalar(stmt) or 0)

    async def stream_answers(
        self, poll_ids: Sequence[int], *, batch: int = DEFAULT_BATCH
    ) -> AsyncIterator[Sequence[tuple[Any, ...]]]:
        """The answer rows in batches of at most ``batch`` tuples: on SQLite from the statement's
        cursor, stepped as rows are fetched; on PostgreSQL from ``COPY (query) TO STDOUT``,
        parsed as it streams (:func:`_copied_rows`).  A batch or two is in memory at a time,
        whatever the number of answers."""
        if not poll_ids:
            return
        # The driver itself on the session's connection (same transaction): at a million rows
        # SQLAlchemy's result layer (a Row per row, its processors) cost a third of the query
        # itself; aiosqlite's ``fetchmany`` hands back plain tuples as fast as the sqlite3 module
        # alone, and PostgreSQL's COPY streams (issue 15, item 4; ``bench/bench_export.py``).
        connection = await self.session.connection()
        dialect = connection.dialect
        compiled = self.answers_statement(poll_ids, dialect.name).compile(
            dialect=dialect, compile_kwargs={"render_postcompile": True}
        )
        params = [compiled.params[name] for name in compiled.positiontup or ()]
        driver = (await connection.get_raw_connection()).driver_connection
        if dialect.name == "postgresql":
            in_scope = "SELECT id FROM questions WHERE poll_id IN (" + ", ".join(str(int(p)) for p in poll_ids) + ")"
            walk = await self._walk(driver, in_scope)
            if walk is None:
                async for rows in _copied_rows(driver, str(compiled), params, batch):
                    yield rows
                return
            async for lo, hi in walk.ranges():
                part = self.answers_statement(poll_ids, dialect.name, _key_range(lo, hi, "answers")).compile(
                    dialect=dialect, compile_kwargs={"render_postcompile": True})
                values = [part.params[name] for name in part.positiontup or ()]
                async for rows in _copied_rows(driver, str(part), values, batch):
                    yield rows
            return
        cursor = await driver.execute(str(compiled), params)
        try:
            while rows := await cursor.fetchmany(batch):
                yield rows
        finally:
            await cursor.close()

    async def answer_time_range(self) -> tuple[datetime | None, datetime | None]:
        """The first and last answer times of the whole table (two index lookups): the span the
        local times of any export fall in."""
        first = select(func.min(Answer.answered_at)).scalar_subquery()
        last = select(func.max(Answer.answered_at)).scalar_subquery()
        row = (await self.session.execute(select(first, last))).one()
        return row[0], row[1]

    async def csv_long(
        self, poll_ids: Sequence[int], questions: Mapping[int, str], options: Mapping[int, str],
        respondent: Callable[[Any], str], *, batch: int = DEFAULT_BATCH,
    ) -> CsvLongExport:
        """Prepare the long layout's CSV lines (:class:`CsvLongExport`): ``questions`` and
        ``options`` map each id of the export's questions and their options to its cells (each
        followed by the separator); ``respondent`` gives a user id's cell (the id as an int on
        SQLite, as its decimal text on PostgreSQL), computed once per respondent.  Counts the
        answers, respondents and member types on the way."""
        connection = await self.session.connection()
        dialect = connection.dialect.name
        driver = (await connection.get_raw_connection()).driver_connection
        tables = _PieceTables(driver, dialect)
        await tables.create()
        await tables.insert("export_questions", [(piece, qid) for qid, piece in questions.items()],
                      "SELECT id, poll_id, position, ? FROM questions WHERE id = ?")
        await tables.insert("export_options", [(piece, oid) for oid, piece in options.items()],
                      "SELECT id, position, ? FROM options WHERE id = ?")
        scope = f"SELECT id FROM {tables['export_questions']}"
        member_types: set[str | None] = set()
        walk: _Walk | None = None
        if dialect == "postgresql":
            # (the planner is told how few questions and options an export has: a small export
            # in a large table reads its answers through the (question_id, user_id) index)
            await driver.execute(f"ANALYZE {tables['export_questions']}, {tables['export_options']}")
            # One parallel grouping by respondent and member type gives the counts, the member
            # types found and the respondents, out as COPY text (no Record per row), split in C
            # (no Python step per group); the questions as constants, which the scan tests
            # against a hashed array (a join to the pieces table costs 20 % more).  Each
            # respondent's cell is made once, from the id as the database wrote it, and copied
            # in batch by batch.
            received: list[bytes] = []

            async def keep(chunk: bytes) -> None:
                received.append(chunk)

            in_scope = ", ".join(str(int(question_id)) for question_id in questions) or "NULL"
            grouping = (f"SELECT user_id, member_type, count(*) FROM answers a WHERE question_id IN ({in_scope})"
                        " AND {range} GROUP BY user_id, member_type")
            walk = await self._walk(driver, in_scope)
            ranges = walk.ranges() if walk is not None else _whole()
            async for lo, hi in ranges:
                part = grouping.format(range="TRUE" if walk is None else _key_range(lo, hi, "a"))
                await driver.copy_from_query(part, output=keep, format="text")
            fields = b"".join(received).decode().replace("\n", "\t").split("\t")[:-1]
            received.clear()
            user_ids, counts = fields[0::3], fields[2::3]
            member_types.update(map(_text_value, set(fields[1::3])))
            del fields
            answers = sum(map(int, counts))
            unlinked = sum(int(counts[index]) for index, user_id in enumerate(user_ids) if user_id == "\\N")
            ids = set(user_ids)
            ids.discard("\\N")
            del user_ids, counts
            respondents = len(ids)

            async def cells() -> AsyncIterator[bytes]:
                pending = iter(ids)
                while chunk := list(itertools.islice(pending, batch if walk is None else walk.rows())):
                    yield "".join([f"{user_id}\t{_copy_text(respondent(user_id))}\n" for user_id in chunk]).encode()
                    if walk is not None:
                        await walk.gate()

            await driver.copy_to_table(tables.names["export_respondents"], source=cells(),
                                       schema_name=tables.schema, format="text")
        else:
            # How many answers, how many of them unlinked: from the (question_id, user_id) index
            # alone; the member types found (the codebook lists the unconfigured ones) in a plain
            # scan of the table (unary + keeps it off the index, whose row lookups cost four
            # times as much; a grouping would sort every answer) unless the export is a small part
            # of the table.
            row = await _fetchone(driver, f"SELECT count(*), count(user_id) FROM answers WHERE question_id IN ({scope})")
            answers, unlinked = int(row[0]), int(row[0]) - int(row[1])
            total = (await _fetchone(driver, "SELECT count(*) FROM answers"))[0]  # (the smallest index's pages: 8 ms at 1 M)
            tables.whole = answers * 4 > total
            plus = "+" if tables.whole else ""
            sql = f"SELECT DISTINCT member_type FROM answers WHERE {plus}question_id IN ({scope})"
            member_types.update(member_type for member_type, in await _fetchall(driver, sql))
            # Each respondent's cell, computed once: the distinct user ids from an index, in one
            # statement calling back into Python once per respondent.  An export of every answer
            # reads them in the user id index's order (a third of the time: no temporary index).
            users = ("SELECT DISTINCT user_id FROM answers WHERE user_id IS NOT NULL" if answers == total else
                     f"SELECT DISTINCT user_id FROM answers WHERE question_id IN ({scope}) AND user_id IS NOT NULL")
            await driver.create_function("export_respondent", 1, respondent, deterministic=True)
            try:
                await driver.execute(f"INSERT INTO {tables['export_respondents']} "
                                     f"SELECT user_id, export_respondent(user_id) FROM ({users})")
            finally:  # the pooled connection keeps no reference to the key
                await driver.create_function("export_respondent", 1, None)
            respondents = (await _fetchone(driver, f"SELECT count(*) FROM {tables['export_respondents']}"))[0]
        return CsvLongExport(tables, answers, respondents + unlinked, member_types, walk)


async def _fetchone(driver: Any, sql: str) -> Any:
    """One row of ``sql`` on the raw driver (asyncpg or aiosqlite)."""
    if hasattr(driver, "fetchrow"):
        return await driver.fetchrow(sql)
    async with driver.execute(sql) as cursor:
        return await cursor.fetchone()


async def _fetchall(driver: Any, sql: str) -> Sequence[Any]:
    if hasattr(driver, "fetchrow"):
        return await driver.fetch(sql)
    async with driver.execute(sql) as cursor:
        return await cursor.fetchall()


# --------------------------------------------------------------------------- PostgreSQL COPY
_UNESCAPE = re.compile(r"\\(.)")
_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def _text_value(raw: str) -> str | None:
    """One field of COPY's text format: ``\\N`` is NULL; backslash escapes undone."""
    if raw == "\\N":
        return None
    if "\\" not in raw:
        return raw
    return _UNESCAPE.sub(lambda m: _ESCAPES.get(m[1], m[1]), raw)


def _answer_row(line: str) -> tuple[Any, ...]:
    """An answer row (``ANSWER_COLUMNS``) from one line of COPY's text format."""
    answer_id, user_id, member_type, text, answered_at, question_id, option_id = line.split("\t")
    return (
        int(answer_id),
        None if user_id == "\\N" else int(user_id),
        _text_value(member_type),
        _text_value(text),
        answered_at,
        int(question_id),
        None if option_id == "\\N" else int(option_id),
    )


async def _copied_rows(driver: Any, sql: str, params: list[Any], batch: int) -> AsyncIterator[list[tuple[Any, ...]]]:
    """The rows of ``sql`` through ``COPY (…) TO STDOUT`` (text format) on asyncpg ``driver``,
    in batches of ``batch`` (the last one shorter).  The server streams the rows while the export formats the
    previous batch (a cursor's ``FETCH`` would leave it idle in between): the COPY runs as a task
    feeding a queue of two batches, which holds it back when the export is slower."""
    queue: asyncio.Queue[list[tuple[Any, ...]] | BaseException | None] = asyncio.Queue(maxsize=2)
    pending = b""
    rows: list[tuple[Any, ...]] = []

    async def take(chunk: bytes) -> None:
        nonlocal pending, rows
        data = pending + chunk
        end = data.rfind(b"\n")
        if end < 0:
            pending = data
            return
        pending = data[end + 1:]
        rows.extend(_answer_row(line) for line in data[:end].decode().split("\n"))
        while len(rows) >= batch:
            await queue.put(rows[:batch])
            del rows[:batch]

    async def copy() -> None:
        await driver.copy_from_query(sql, *params, output=take, format="text")
        if rows:
            await queue.put(rows)

    async for item in _drained(queue, copy):
        yield item


# --------------------------------------------------------------------------- CSV lines written by the database
#: The first characters that make a spreadsheet read a text as a formula (``_safe_csv_text``).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_first = operator.itemgetter(0)
#: SQLite's export builds its table of hours (:func:`_hour_rows`) when the answers' span has at most
#: this many hours per exported answer: an hour costs about 4.5 µs to make and insert (a year's
#: table, 8,760 rows, 40 ms), a line looked up about 1 µs less than one computed.
HOURS_PER_ANSWER = 0.25
_HOURS = "".join(f"{hour:02d}" for hour in range(24))  # hour h is characters 2h+1, 2h+2 (SQL substr)


@dataclass
class CsvLongExport:
    """The long layout as CSV lines written by the database itself (issue 15, item 4): the
    pieces that do not depend on the answer — a question's cells, an option's, a respondent's
    pseudonym — are computed once each in Python and put in temporary tables, and one query
    joins them to the answers, quotes the texts, writes the times and sorts: no Python object
    per row.  ``counts``: answers, respondents and the member types found (for the codebook),
    read before the lines; :meth:`lines` streams the lines and drops the tables."""

    tables: _PieceTables
    answers: int
    respondents: int
    member_types: set[str | None]
    walk: _Walk | None = None  # the running bot's large export on PostgreSQL: lines range by range

    async def lines(
        self, *, separator: str, no_option: str, member_types: Mapping[str, str],
        offsets: Sequence[tuple[datetime | None, int, str]], span: tuple[datetime, datetime] | None = None,
        batch: int = DEFAULT_BATCH,
    ) -> AsyncIterator[tuple[bytes, int]]:
        """``(UTF-8 CSV lines, how many)`` in batches, in the answer stream's order.

        ``member_types``: a member type's cell (every code found; NULL is an empty cell);
        ``offsets``: the time zone's stretches of one UTC offset over the answers' times
        (``(start, seconds, ISO suffix)``, the first one's start ``None``).  A line is
        ``respondent,member_type,<question's cells><option's cells or no_option>text,UTC,local``
        ending with CRLF; the text neutralised (``FORMULA_STARTS``) and quoted as ``csv.writer``
        quotes (``QUOTE_MINIMAL``)."""
        try:
            await self._fill_member_types(member_types)
            plain = all(piece == code for code, piece in member_types.items())
            driver = self.tables.driver
            if self.tables.dialect == "postgresql":
                await driver.execute(_PG_EXPORT_SETTINGS)
                ranges = self.walk.ranges() if self.walk is not None else _whole()
                async for lo, hi in ranges:
                    where = None if self.walk is None else _key_range(lo, hi, "a")
                    sql = _pg_lines(self.tables, separator, no_option, plain, offsets, where)
                    async for chunk in _copied_bytes(driver, sql, batch):
                        yield chunk
            else:
                hours = await self._fill_hours(offsets, span)
                cursor = await driver.execute(_sqlite_lines(self.tables, separator, no_option, plain, offsets, hours))
                # The next batch is read (in the connection's thread) while this one is written.
                following = asyncio.ensure_future(cursor.fetchmany(batch))
                try:
                    while rows := await following:
                        following = asyncio.ensure_future(cursor.fetchmany(batch))
                        yield b"".join(map(_first, rows)), len(rows)
                finally:
                    if not following.cancelled():  # (the export's task cancelled while it waited for it)
                        with contextlib.suppress(Exception):  # (a failure of its own was raised above)
                            await following
                    await cursor.close()
        finally:
            with contextlib.suppress(Exception):
                await self.tables.drop()

    async def _fill_member_types(self, member_types: Mapping[str, str]) -> None:
        await self.tables.insert("export_member_types", list(member_types.items()))

    async def _fill_hours(self, offsets: Sequence[tuple[datetime | None, int, str]],
                          span: tuple[datetime, datetime] | None) -> bool:
        """On SQLite, each UTC hour's local hour over the answers' ``span`` (the first and last
        answer times of the table, :meth:`ExportRepository.answer_time_range`, read in the export's
        snapshot: every answer's hour is there) (:func:`_hour_rows`), when the zone allows it and
        the export has enough answers for the span's hours (:data:`HOURS_PER_ANSWER`); whether it
        did."""
        if span is None:
            return False
        start, end = (when.astimezone(UTC).replace(minute=0, second=0, microsecond=0) for when in span)
        if (end - start).total_seconds() // 3600 + 1 > self.answers * HOURS_PER_ANSWER:
            return False
        rows = _hour_rows(offsets, start, end)
        if rows is None:
            return False
        await self.tables.insert("export_hours", rows)
        return True


#: For the lines' query on PostgreSQL, until the export's transaction ends: no JIT (compiling its
#: expressions costs more than it saves on a million rows), times written as ISO text
#: (:func:`_pg_iso`) and at least 32 MiB per sort (a server configured with more keeps its own):
#: at 1 M lines the sort still spills, 70–90 MB a process, but in fewer runs than at the default
#: 4 MiB — with no JIT, 50–100 ms of a 2.3 s export.  Not before the grouping: with more memory
#: the planner chooses a serial hash aggregate there, 25 % slower.
_PG_EXPORT_SETTINGS = (
    "SELECT set_config('jit', 'off', true), set_config('datestyle', 'ISO, YMD', true), set_config('work_mem', "
    "greatest(pg_size_bytes(current_setting('work_mem')), 32 * 1024 * 1024) / 1024 || 'kB', true)"
)


_TABLES = {
    "export_questions": "id BIGINT PRIMARY KEY, poll_id BIGINT NOT NULL, position INTEGER NOT NULL, piece TEXT NOT NULL",
    "export_options": "id BIGINT PRIMARY KEY, position INTEGER NOT NULL, piece TEXT NOT NULL",
    "export_respondents": "id BIGINT PRIMARY KEY, piece TEXT NOT NULL",
    "export_member_types": "code TEXT PRIMARY KEY, piece TEXT NOT NULL",
    # SQLite only: a UTC hour ('YYYY-MM-DD HH', as answered_at starts) -> its local 'YYYY-MM-DDTHH'
    "export_hours": "utc TEXT PRIMARY KEY, local TEXT NOT NULL, suffix TEXT NOT NULL",
}
_SQLITE_ONLY = {"export_hours"}


class _PieceTables:
    """An export's tables of pieces.  On SQLite, temporary tables.  On PostgreSQL, unlogged
    tables of names of their own, created inside the export's transaction and never committed —
    no other session ever sees them, and the rollback that ends the export's session removes
    them, even after a failure — because the planner keeps a query that reads a temporary table
    from running in parallel, and the floor (psql's COPY of the same joins) runs in parallel
    workers; outside a transaction, temporary tables there too."""

    def __init__(self, driver: Any, dialect: str) -> None:
        self.driver, self.dialect = driver, dialect
        self.shared = dialect == "postgresql" and driver.is_in_transaction()
        suffix = f"_{secrets.token_hex(6)}" if self.shared else ""
        self.schema = None if self.shared else "pg_temp" if dialect == "postgresql" else "temp"
        self.names = {table: f"{table}{suffix}" for table in _TABLES}
        # the export reads most of the answers table (SQLite: scan it; else through the index)
        self.whole = True

    def __getitem__(self, table: str) -> str:
        return f"{self.schema}.{self.names[table]}" if self.schema else self.names[table]

    async def create(self) -> None:
        await self.drop()
        kind = "UNLOGGED TABLE" if self.shared else "TEMP TABLE"
        for table, columns in _TABLES.items():
            if self.dialect == "postgresql":
                if table in _SQLITE_ONLY:
                    continue
                await self.driver.execute(f"CREATE {kind} {self[table]} ({columns})")
                continue
            # an INTEGER PRIMARY KEY is the rowid: the fastest lookup; a text key, the table's own
            rowid = " WITHOUT ROWID" if "TEXT PRIMARY KEY" in columns else ""
            columns = columns.replace("BIGINT PRIMARY KEY", "INTEGER PRIMARY KEY")
            await self.driver.execute(f"CREATE {kind} {self[table]} ({columns}){rowid}")

    async def drop(self) -> None:
        for table in _TABLES:
            if self.dialect != "postgresql" or table not in _SQLITE_ONLY:
                await self.driver.execute(f"DROP TABLE IF EXISTS {self[table]}")

    async def insert(self, table: str, rows: Sequence[tuple[Any, ...]], select: str = "") -> None:
        """Rows into a table (``select``: an ``INSERT … SELECT`` tail taking the row's values)."""
        if not rows:
            return
        if self.dialect == "postgresql":
            if not select:
                await self.driver.copy_records_to_table(self.names[table], records=rows, schema_name=self.schema)
                return
            for index in range(1, select.count("?") + 1):
                select = select.replace("?", f"${index}", 1)
        else:
            select = select or f"VALUES ({', '.join('?' * len(rows[0]))})"
        await self.driver.executemany(f"INSERT INTO {self[table]} {select}", rows)


def _copy_text(value: str) -> str:
    """A value in COPY's text format (backslash, tab and line breaks escaped)."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _csv_text(dialect: str, column: str, separator: str, neutralise: bool) -> str:
    """A text column as its CSV cell: NULL stays NULL (an empty cell); a text starting as a
    formula gets a ``'`` first (``neutralise``); one holding the separator, a double quote or a
    line break is quoted, its double quotes doubled."""
    quote = "'\"'"
    if dialect == "postgresql":
        special = " OR ".join(f"strpos({column}, {c}) > 0" for c in (_literal(separator), quote, "chr(10)", "chr(13)"))
        starts = ", ".join("chr(9)" if c == "\t" else "chr(13)" if c == "\r" else _literal(c) for c in FORMULA_STARTS)
        first = f"left({column}, 1)"
    else:
        # (four instr() cost a third less than one GLOB '*[…]*', which tries its class at each character)
        special = " OR ".join(f"instr({column}, {c})" for c in (_literal(separator), quote, "char(10)", "char(13)"))
        starts = ", ".join("char(9)" if c == "\t" else "char(13)" if c == "\r" else _literal(c) for c in FORMULA_STARTS)
        first = f"substr({column}, 1, 1)"
    prefix = f"(CASE WHEN {first} IN ({starts}) THEN '''' ELSE '' END) || " if neutralise else ""
    return (f"CASE WHEN {column} IS NULL THEN NULL WHEN {special} "
            f"THEN {quote} || {prefix}replace({column}, {quote}, '\"\"') || {quote} ELSE {prefix}{column} END")


def _local_time(dialect: str, offsets: Sequence[tuple[datetime | None, int, str]]) -> str:
    """``answers.answered_at`` as local ISO text with its offset: a binary search over the
    stretches of one offset, then UTC + offset.  On SQLite a whole-hour offset is done on the
    stored text (the hour shifted through a table of two-digit hours; ``strftime`` only when
    the day changes), else by ``strftime``; on PostgreSQL by the timestamp's ISO text."""
    column = "a.answered_at"

    def leaf(seconds: int, suffix: str) -> str:
        if dialect == "postgresql":
            local = f"({column} AT TIME ZONE 'UTC') + interval '{seconds} seconds'"
            return f"{_pg_iso(local)} || {_literal(suffix)}"
        exact = f"strftime('%Y-%m-%dT%H:%M:%S', substr({column}, 1, 19), '{seconds:+d} seconds')"
        if seconds % 3600:
            return f"{exact} || {_literal(suffix)}"
        hours = seconds // 3600
        hour = f"CAST(substr({column}, 12, 2) AS INTEGER)"
        same_day = (f"substr({column}, 1, 10) || 'T' || substr('{_HOURS}', {hour} * 2 + {2 * hours + 1}, 2) "
                    f"|| substr({column}, 14, 6)")
        if hours == 0:
            return f"substr({column}, 1, 10) || 'T' || substr({column}, 12, 8) || {_literal(suffix)}"
        text_hour = f"substr({column}, 12, 2)"  # compared as text: no cast
        within = f"{text_hour} < '{24 - hours:02d}'" if hours > 0 else f"{text_hour} >= '{-hours:02d}'"
        return f"(CASE WHEN {within} THEN {same_day} ELSE {exact} END) || {_literal(suffix)}"

    def boundary(start: datetime) -> str:
        text = start.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        return f"TIMESTAMPTZ '{text}+00'" if dialect == "postgresql" else f"'{text}'"

    def search(part: Sequence[tuple[datetime | None, int, str]]) -> str:
        if len(part) == 1:
            return leaf(part[0][1], part[0][2])
        middle = len(part) // 2
        start = part[middle][0]
        assert start is not None
        return f"CASE WHEN {column} < {boundary(start)} THEN {search(part[:middle])} ELSE {search(part[middle:])} END"

    return search(offsets)


def _hour_rows(offsets: Sequence[tuple[datetime | None, int, str]], first: datetime,
               last: datetime) -> list[tuple[str, str, str]] | None:
    """``(UTC hour as answered_at starts, local 'YYYY-MM-DDTHH', ISO suffix)`` for each UTC hour
    from ``first`` to ``last`` (aware, on whole hours), or ``None`` when an hour does not give
    the local time — an offset, or the start of a stretch, that is not on a whole hour (India's
    +05:30): then :func:`_local_time` computes every answer's.  In hours since the epoch, each
    day's date written once (a ``datetime`` per hour cost 2.5 times as much)."""
    if any(seconds % 3600 or (start is not None and start.timestamp() % 3600) for start, seconds, _ in offsets):
        return None
    epoch = date(1970, 1, 1).toordinal()
    days: dict[int, str] = {}

    def day(number: int) -> str:
        text = days.get(number)
        if text is None:
            text = days[number] = date.fromordinal(epoch + number).isoformat()
        return text

    two = [f"{hour:02d}" for hour in range(24)]
    stretches = [(None if start is None else int(start.timestamp()) // 3600, seconds // 3600, suffix)
                 for start, seconds, suffix in offsets]
    rows: list[tuple[str, str, str]] = []
    index, hour, end = 0, int(first.timestamp()) // 3600, int(last.timestamp()) // 3600
    while hour <= end:
        while index + 1 < len(stretches) and stretches[index + 1][0] <= hour:  # type: ignore[operator]
            index += 1
        _, shift, suffix = stretches[index]
        local = hour + shift
        rows.append((f"{day(hour // 24)} {two[hour % 24]}", f"{day(local // 24)}T{two[local % 24]}", suffix))
        hour += 1
    return rows


def _from_clause(tables: _PieceTables, plain_member_types: bool, where: str | None = None,
                 hours: bool = False) -> str:
    """The answers with their pieces, in the answer stream's order (``answers_statement``)."""
    joins = "" if plain_member_types else f" LEFT JOIN {tables['export_member_types']} m ON m.code = a.member_type"
    # SQLite reads the tables in the order written after CROSS JOIN: the whole answers table in
    # one scan when the export holds most of it, else the export's questions then their answers
    # through the (question_id, user_id) index
    if tables.dialect == "postgresql":
        answers = f"answers a JOIN {tables['export_questions']} q ON q.id = a.question_id"
    elif tables.whole:
        answers = f"answers a CROSS JOIN {tables['export_questions']} q ON q.id = a.question_id"
    else:
        answers = f"{tables['export_questions']} q CROSS JOIN answers a ON a.question_id = q.id"
    return (
        f"FROM {answers}"
        f" LEFT JOIN answer_choices c ON c.answer_id = a.id"
        f" LEFT JOIN {tables['export_options']} o ON o.id = c.option_id"
        f" LEFT JOIN {tables['export_respondents']} r ON r.id = a.user_id{joins}"
        + (f" LEFT JOIN {tables['export_hours']} h ON h.utc = substr(a.answered_at, 1, 13)" if hours else "")
        + ("" if where is None else f" WHERE {where}")
        + " ORDER BY coalesce(a.user_id, -a.id), q.poll_id, q.position, c.rank, o.position"
    )


def _sqlite_lines(tables: _PieceTables, separator: str, no_option: str, plain: bool,
                  offsets: Sequence[tuple[datetime | None, int, str]], hours: bool = False) -> str:
    """The lines' query on SQLite; ``hours``: the local times from the table of hours (about half
    the cost of computing each; the computation stays as the fallback, never taken)."""
    member = "a.member_type" if plain else "m.piece"  # plain: every code found is its own cell
    sep = separator
    fmt = _literal(f"%s{sep}%s{sep}%s%s%s{sep}%.10sT%.8sZ{sep}%s\r\n")  # (the CRLF in the literal)
    local = _local_time("sqlite", offsets)
    if hours:
        local = f"coalesce(h.local || substr(a.answered_at, 14, 6) || h.suffix, {local})"
    line = (f"printf({fmt}, coalesce(r.piece, 'anon-' || a.id), {member}, q.piece, "
            f"coalesce(o.piece, {_literal(no_option)}), {_csv_text('sqlite', 'a.text', sep, True)}, "
            f"a.answered_at, substr(a.answered_at, 12), {local})")
    return f"SELECT CAST({line} AS BLOB) {_from_clause(tables, plain, hours=hours)}"


def _pg_iso(timestamp: str) -> str:
    """A ``timestamp`` (without time zone) as ``YYYY-MM-DDTHH:MM:SS``: truncated to the second and
    written by the type's own output (ISO, :data:`_PG_EXPORT_SETTINGS`), whose one space becomes
    the ``T`` — 40 % cheaper than ``to_char`` and its template, twice on every line."""
    return f"replace(date_trunc('second', {timestamp})::text, ' ', 'T')"


def _pg_lines(tables: _PieceTables, separator: str, no_option: str, plain: bool,
              offsets: Sequence[tuple[datetime | None, int, str]], where: str | None = None) -> str:
    member = "a.member_type" if plain else "m.piece"  # plain: every code found is its own cell
    sep = _literal(separator)
    utc = _pg_iso("a.answered_at AT TIME ZONE 'UTC'")
    line = (f"coalesce(r.piece, 'anon-' || a.id) || {sep} || coalesce({member}, '') || {sep} || q.piece || "
            f"coalesce(o.piece, {_literal(no_option)}) || "
            f"coalesce({_csv_text('postgresql', 'a.text', separator, True)}, '') || {sep} || "
            f"{utc} || 'Z' || {sep} || "
            f"{_local_time('postgresql', offsets)}")
    return f"SELECT {line} {_from_clause(tables, plain, where)}"  # COPY (…) TO STDOUT by asyncpg


# --------------------------------------------------------------------------- the bot's walk
#: A large export run by the bot on PostgreSQL (issue 15, item 2): at least this many answers (the
#: planner's estimate) — below, its statements are short anyway.
WALK_MIN_ANSWERS = 50_000
#: Answers per statement while members are interacting with the bot, and while they are not.
WALK_ROWS_ACTIVE = 1_000
WALK_ROWS_QUIET = 20_000
#: While members are active, the walk runs a statement at most this often (it still ends).
WALK_QUIET_WAIT = 1.0


class _Walk:
    """A large export's reads in the running bot on PostgreSQL, range by range of the respondent
    key (``coalesce(user_id, -id)``, the answer stream's first order), each range a short
    statement, run when members are not interacting with the bot (or once a second if they keep
    on).  PostgreSQL has no priorities: one sorted statement over a million answers is a second
    or two of a server process at normal priority, and a vote's own server process waking on its
    CPU waited for the scheduler's next tick (``bench/bench_loop.py``: vote p99 2–3 × idle in
    half the runs).  A range's statement is a few milliseconds; the walk gives the server back to
    the votes between them.  A respondent's key is one value, so a respondent is never split.

    Each range ends where one of the two sources (members by ``ix_answers_user_id``, unlinked
    answers by ``ix_answers_unlinked``) has ``rows()`` more answers, found by two index probes."""

    def __init__(self, driver: Any, active: Callable[[], bool]) -> None:
        self.driver, self.active = driver, active
        self.last = time.monotonic()

    def rows(self) -> int:
        return WALK_ROWS_ACTIVE if self.active() else WALK_ROWS_QUIET

    async def gate(self) -> None:
        """Wait while members are active, at most ``WALK_QUIET_WAIT`` since the last statement."""
        # polled: the bot's process writes the stamp ``active`` reads (shared memory), no event
        while self.active() and time.monotonic() - self.last < WALK_QUIET_WAIT:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        self.last = time.monotonic()

    async def ranges(self) -> AsyncIterator[tuple[int | None, int | None]]:
        """``(lo, hi)``: the keys in ``(lo, hi]`` (``None``: unbounded), in order, covering all."""
        lo: int | None = None
        while True:
            await self.gate()
            skip = self.rows() - 1
            named = await self.driver.fetchval(
                "SELECT user_id FROM answers WHERE "
                + ("user_id IS NOT NULL" if lo is None else f"user_id > {int(lo)}")
                + f" ORDER BY user_id OFFSET {skip} LIMIT 1")
            unlinked = await self.driver.fetchval(
                "SELECT -id FROM answers WHERE user_id IS NULL" + ("" if lo is None else f" AND id < {-int(lo)}")
                + f" ORDER BY id DESC OFFSET {skip} LIMIT 1")
            ends = [int(end) for end in (named, unlinked) if end is not None]
            hi = min(ends) if ends else None
            yield lo, hi
            if hi is None:
                return
            lo = hi


async def _whole() -> AsyncIterator[tuple[int | None, int | None]]:
    """One range: everything (an export outside the walk)."""
    yield None, None


def _key_range(lo: int | None, hi: int | None, alias: str) -> str:
    """The answers whose respondent key ``coalesce(user_id, -id)`` is in ``(lo, hi]`` (``None``:
    unbounded), as a condition each of whose arms an index serves: a member's answers by their
    user id, an unlinked one (``user_id`` NULL, key ``-id``) by its id."""
    named = [f"{alias}.user_id IS NOT NULL"]
    unlinked = [f"{alias}.user_id IS NULL"]
    if lo is not None:
        named.append(f"{alias}.user_id > {int(lo)}")
        unlinked.append(f"{alias}.id < {-int(lo)}")
    if hi is not None:
        named.append(f"{alias}.user_id <= {int(hi)}")
        unlinked.append(f"{alias}.id >= {-int(hi)}")
    return f"(({' AND '.join(named)}) OR ({' AND '.join(unlinked)}))"


_UNESCAPE_BYTES = re.compile(rb"\\(.)", re.S)
_BYTE_ESCAPES = {b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r", b"t": b"\t", b"v": b"\v"}


def _unescape(match: re.Match[bytes]) -> bytes:
    return _BYTE_ESCAPES.get(match[1], match[1])


async def _copied_bytes(driver: Any, sql: str, batch: int) -> AsyncIterator[tuple[bytes, int]]:
    """The one-column rows of ``COPY (…) TO STDOUT`` (text format) as CSV lines: each row's
    newline becomes CRLF and the text format's backslash escapes are undone (only where a
    chunk has a backslash).  About ``batch`` lines per item; the COPY runs as a task feeding a
    queue of two items, as :func:`_copied_rows` does."""
    queue: asyncio.Queue[tuple[bytes, int] | BaseException | None] = asyncio.Queue(maxsize=2)
    pending = b""
    parts: list[bytes] = []
    lines = 0

    async def take(chunk: bytes) -> None:
        nonlocal pending
        data = pending + chunk if pending else chunk
        end = data.rfind(b"\n") + 1
        pending = data[end:]
        if not end:
            return
        data = data[:end]
        count = data.count(b"\n")
        if count <= batch:
            await add(data, count)
            return
        rows = data.split(b"\n")[:-1]  # a chunk longer than a batch (small batches): split it
        for start in range(0, len(rows), batch):
            part = rows[start:start + batch]
            await add(b"\n".join(part) + b"\n", len(part))

    async def add(data: bytes, count: int) -> None:
        nonlocal lines
        data = data.replace(b"\n", b"\r\n")  # COPY's row ends (a text's own are escaped)
        if b"\\" in data:
            data = _UNESCAPE_BYTES.sub(_unescape, data)
        parts.append(data)
        lines += count
        if lines >= batch:
            await flush()

    async def flush() -> None:
        nonlocal lines
        await queue.put((b"".join(parts), lines))
        parts.clear()
        lines = 0

    async def copy() -> None:
        await driver.copy_from_query(sql, output=take, format="text")
        if parts:
            await flush()

    async for item in _drained(queue, copy):
        yield item


async def _drained(queue: asyncio.Queue[Any], produce: Callable[[], Awaitable[None]]) -> AsyncIterator[Any]:
    """Run ``produce`` (a ``COPY … TO STDOUT`` putting batches on ``queue``) as a task and yield
    its batches as they come, its exception re-raised here; the task is cancelled if the consumer
    stops early."""

    async def run() -> None:
        try:
            await produce()
            await queue.put(None)
        except BaseException as exc:  # the consumer re-raises it
            await queue.put(exc)
            raise

    task = asyncio.get_running_loop().create_task(run())
    try:
        while (item := await queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
