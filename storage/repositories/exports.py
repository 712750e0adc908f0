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
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, String, func, select, type_coerce

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
    def answers_statement(poll_ids: Sequence[int], dialect: str = "sqlite") -> Select[Any]:
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
        return (
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
            async for rows in _copied_rows(driver, str(compiled), params, batch):
                yield rows
            return
        cursor = await driver.execute(str(compiled), params)
        try:
            while rows := await cursor.fetchmany(batch):
                yield rows
        finally:
            await cursor.close()


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
        try:
            await driver.copy_from_query(sql, *params, output=take, format="text")
            if rows:
                await queue.put(rows)
            await queue.put(None)
        except BaseException as exc:  # the consumer re-raises it
            await queue.put(exc)
            raise

    task = asyncio.get_running_loop().create_task(copy())
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
