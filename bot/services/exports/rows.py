"""The rows of the two layouts, streamed from the database: ``long`` (one row per chosen option
of an answer) and ``wide`` (one row per respondent, the stream being ordered by respondent)."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.services.exports.clock import _Clock, offset_stretches
from bot.services.exports.codebook import _Option, _Question, _Scope
from bot.services.exports.model import Progress
from bot.services.exports.writers import _csv_cell, _CsvTable, _safe_csv_text, _Table
from storage.repositories.exports import ExportRepository

#: The long layout's CSV lines are written by the database (:func:`_write_long_csv`); ``False``
#: writes them here, row by row — the reference the tests compare the database's bytes with.
DATABASE_CSV = True


class _LongPieces:
    """Parts of a long-layout row as tuples (XLSX, JSON Lines): ``respondent + member_type +
    question + option + tail`` is the row.  With ``ranks``, the tail ends with the ``rank``
    cell (the option's rank in an ordered answer, else empty)."""

    no_option: Any = (None, None)
    ranks = False
    occurrences = False  # a series export: the question's occurrence follows the poll's title

    def respondent(self, name: str) -> Any:
        return (name,)

    def member_type(self, code: str | None) -> Any:
        return (code,)

    def question(self, q: _Question) -> Any:
        if self.occurrences:
            return (q.campaign, q.poll_id, q.poll_title, q.occurrence, q.code)
        return (q.campaign, q.poll_id, q.poll_title, q.code)

    def option(self, o: _Option) -> Any:
        return (o.code, o.label)

    def tail(self, text: str | None, utc: str, local: str, rank: int | None = None) -> Any:
        return (text, utc, local, rank) if self.ranks else (text, utc, local)

    def write(self, table: _Table, rows: list[Any]) -> None:
        table.write(rows)


class _CsvLongPieces(_LongPieces):
    """The same parts as CSV text (each ending with the separator, the tail with the line end),
    quoted exactly as ``csv.writer`` quotes (``QUOTE_MINIMAL``); rows are written as one string
    per batch.  The tests read these files back with the csv module."""

    def __init__(self, separator: str) -> None:
        self.sep = separator
        self.no_option = separator * 2

    def cell(self, value: Any) -> str:
        return _csv_cell(value, self.sep)

    def respondent(self, name: str) -> Any:
        return self.cell(name) + self.sep

    def member_type(self, code: str | None) -> Any:
        return self.cell(code) + self.sep

    def question(self, q: _Question) -> Any:
        return "".join(self.cell(v) + self.sep for v in super().question(q))

    def option(self, o: _Option) -> Any:
        return self.cell(o.code) + self.sep + self.cell(o.label) + self.sep

    def tail(self, text: str | None, utc: str, local: str, rank: int | None = None) -> Any:
        if self.ranks:
            end = (self.sep if rank is None else f"{self.sep}{rank}") + "\r\n"
            return _csv_cell(text, self.sep) + f"{self.sep}{utc}{self.sep}{local}{end}"
        if text is None:
            return f"{self.sep}{utc}{self.sep}{local}\r\n"
        return f"{_csv_cell(text, self.sep)}{self.sep}{utc}{self.sep}{local}\r\n"

    def write(self, table: _Table, rows: list[Any]) -> None:
        table.write_text("".join(rows))  # type: ignore[attr-defined]


async def write_long(
    scope: _Scope, repo: ExportRepository, table: _Table, *, separator: str, safe: Callable[[Any], Any],
    clock: _Clock, respondent_of: Callable[[int], str], batch: int, progress: Progress | None,
    check_size: Callable[[], None],
) -> dict[str, Any]:
    """One row per (answer, chosen option).  A row is assembled from pieces rendered once
    per question, option, respondent and answer — tuples for XLSX and JSON, CSV text for
    CSV — so the per-row work is two concatenations, whatever the format."""
    ranked = {q.id for q in scope.questions if q.shape.ranks}  # their rows carry the option's rank
    if DATABASE_CSV and isinstance(table, _CsvTable) and not ranked and safe is _safe_csv_text:
        return await _write_long_csv(scope, repo, table, _CsvLongPieces(separator), clock=clock,
                                     respondent_of=respondent_of, batch=batch, progress=progress,
                                     check_size=check_size)
    pieces: _LongPieces = (
        _CsvLongPieces(separator) if isinstance(table, _CsvTable) else _LongPieces()
    )
    pieces.ranks = bool(ranked)
    pieces.occurrences = any(q.occurrence for q in scope.questions)
    heads = {q.id: pieces.question(q) for q in scope.questions}
    option_pieces = {q.id: {o.id: pieces.option(o) for o in q.options} for q in scope.questions}
    no_option = pieces.no_option
    tail = pieces.tail
    respondent_piece = pieces.respondent
    type_pieces: dict[str | None, Any] = {}
    member_value = scope.member_value
    done = answers = respondents = 0
    last_answer: int | None = None
    last_user: int | None = None
    who: Any = None
    head: Any = None
    after: Any = None
    options: dict[int, Any] = {}
    ranks_here = False
    rank = 0
    stamp: Any = None
    async for part in repo.stream_answers(scope.poll_ids, batch=batch):
        out = []
        append = out.append
        for answer_id, user_id, member_type, raw_text, answered_at, question_id, option_id in part:
            if answer_id != last_answer:
                last_answer = answer_id
                answers += 1
                if user_id is None:
                    who = respondent_piece(f"anon-{answer_id}")
                    respondents += 1
                    last_user = None
                elif user_id != last_user:
                    who = respondent_piece(respondent_of(user_id))
                    respondents += 1
                    last_user = user_id
                try:
                    type_piece = type_pieces[member_type]
                except KeyError:
                    type_piece = type_pieces[member_type] = pieces.member_type(member_value(member_type))
                head = who + type_piece + heads[question_id]
                options = option_pieces[question_id]
                after = tail(safe(raw_text), *clock(answered_at))
                ranks_here = question_id in ranked
                if ranks_here:  # the stream gives an ordered answer's choices by rank
                    rank, stamp = 0, (safe(raw_text), *clock(answered_at))
            if option_id is None:
                append(head + no_option + after)
            elif ranks_here:
                rank += 1
                append(head + options[option_id] + tail(*stamp, rank))
            else:
                append(head + options[option_id] + after)
        pieces.write(table, out)
        done += len(out)
        check_size()
        if progress is not None:
            progress(done)
    return {"rows": done, "answers": answers, "respondents": respondents, "member_types": set(type_pieces)}


async def _write_long_csv(
    scope: _Scope, repo: ExportRepository, table: _CsvTable, pieces: _CsvLongPieces, *, clock: _Clock,
    respondent_of: Callable[[int], str], batch: int, progress: Progress | None, check_size: Callable[[], None],
) -> dict[str, Any]:
    """The long layout as CSV, its lines written by the database (issue 15, item 4): the same
    bytes as :func:`write_long`'s, without a Python object per row.  What does not depend on
    the answer is rendered here once — each question's and option's cells, each respondent's
    pseudonym, each member type's cell, the time zone's offsets over the answers' span — and
    :meth:`ExportRepository.csv_long` joins them to the answers in one sorted query.  (Ranked
    answers, whose rank cell counts the answer's rows, go through :func:`write_long`.)"""
    cell = pieces.cell
    pieces.occurrences = any(q.occurrence for q in scope.questions)
    options = {o.id: pieces.option(o) for q in scope.questions for o in q.options}
    # (a respondent's cell is the pseudonym — hexadecimal — or the raw id — digits —, which
    # neither separator nor quote can be in: no quoting to do)
    export = await repo.csv_long(
        scope.poll_ids, {q.id: pieces.question(q) for q in scope.questions}, options,
        respondent_of, batch=batch,
    )
    member_value = scope.member_value
    member_types = {code: cell(member_value(code)) for code in export.member_types if code is not None}
    first, last = await repo.answer_time_range()
    offsets = offset_stretches(clock.tz, first, last) if first is not None and last is not None else [(None, 0, "")]
    done = 0
    # The batches are tuples of bytes, which can form no cycle; a million of them would make the
    # cyclic collector walk the young objects every 700 allocations (4 % of the export).
    collecting = gc.isenabled()
    gc.disable()
    try:
        # (closed here when the file grows too large: its statement and tables end in the session)
        async with contextlib.aclosing(export.lines(separator=pieces.sep, no_option=pieces.no_option,
                                                    member_types=member_types, offsets=offsets,
                                                    span=None if first is None or last is None else (first, last),
                                                    batch=batch)) as lines:
            async for data, count in lines:
                table.write_bytes(data)
                done += count
                check_size()
                if progress is not None:
                    progress(done)
    finally:
        if collecting:
            gc.enable()
    return {"rows": done, "answers": export.answers, "respondents": export.respondents,
            "member_types": export.member_types}


async def write_wide(
    scope: _Scope, repo: ExportRepository, table: _Table, *, separator: str, safe: Callable[[Any], Any],
    clock: _Clock, respondent_of: Callable[[int], str], batch: int, progress: Progress | None,
    check_size: Callable[[], None],
) -> dict[str, Any]:
    """One row per respondent: the fixed columns, then each question's cells as its kind gives
    them (:mod:`.kinds`).  The stream is ordered by respondent, so only one is held at a time."""
    renderers = [(q, q.shape.wide_cells) for q in scope.questions]  # the kind's cells
    campaign = scope.campaign
    member_value = scope.member_value
    member_types: set[str] = set()
    done = answers = rows = 0
    # The respondent being accumulated: their answers by question id (chosen option ids, text).
    current_key: int | None = None
    current_name = ""
    current: dict[int, tuple[list[int], str | None]] = {}
    latest: tuple[datetime, str | None] | None = None
    last_answer: int | None = None
    chosen: list[int] = []

    def row() -> tuple[Any, ...]:
        assert latest is not None
        values: list[Any] = [current_name, member_value(latest[1]), campaign, *clock(latest[0])]
        for q, cells in renderers:
            values.extend(cells(q, current.get(q.id), safe))
        return tuple(values)

    async for part in repo.stream_answers(scope.poll_ids, batch=batch):
        out = []
        for answer_id, user_id, member_type, raw_text, answered_at, question_id, option_id in part:
            if answer_id != last_answer:
                last_answer = answer_id
                answers += 1
                key = user_id if user_id is not None else -answer_id
                if key != current_key:
                    if current_key is not None:
                        out.append(row())
                    current_key = key
                    current_name = f"anon-{answer_id}" if user_id is None else respondent_of(user_id)
                    current = {}
                    latest = None
                member_types.add(member_type)
                chosen = []
                current[question_id] = (chosen, raw_text)
                if latest is None or answered_at >= latest[0]:
                    latest = (answered_at, member_type)
            if option_id is not None:
                chosen.append(option_id)
        done += len(part)
        rows += len(out)
        table.write(out)
        check_size()
        if progress is not None:
            progress(done)
    if current_key is not None:
        table.write([row()])
        rows += 1
    return {"rows": rows, "answers": answers, "respondents": rows, "member_types": member_types}
