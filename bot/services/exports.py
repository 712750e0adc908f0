"""Exports of the answers, in the layouts survey tools use — without Discord.

One request (:class:`ExportRequest`) names what to export (one poll, or every poll of a
campaign), the file format (``csv``, ``xlsx``, ``json``), the layout and the headings::

    exporter = Exporter(sessions, config)
    result = await exporter.export_to_path(
        ExportRequest(campaign="Enquête membres 2026-2027", format="csv", layout="wide"),
        Path("enquete.csv"),
    )   # writes enquete.csv and enquete.codebook.csv

Layouts
  ``long``  one row per chosen option of an answer (a multiple-choice answer with three options
            is three rows sharing respondent, question and time), one row per answer without a
            chosen option (text questions); columns ``LONG_COLUMNS``.  This is the "tidy" layout
            R, pandas and Power BI read directly.
  ``wide``  one row per respondent, one column per question; a multiple-choice question is one
            combined column (space-separated option codes, as KoboToolbox writes ``select_multiple``)
            plus one 0/1 column per option named ``<question>/<option>``.  A question the
            respondent did not answer is blank in all its columns (0 means "answered, not chosen").
            ``member_type`` is the type at the respondent's latest answer in the export.
  Both hold exactly the same answers; the tests rebuild the answer set from each and compare.

Headings (wide only, as LimeSurvey offers): ``codes`` (question and option codes) or ``labels``
(question text, and ``Question text [Option label]`` for the 0/1 columns).  The fixed columns
keep their code names in both.

Codebook: written alongside — ``<stem>.codebook.<ext>`` for CSV and JSON, a second sheet
``codebook`` for XLSX — one row per question, per option and per member type, with columns
``CODEBOOK_COLUMNS`` (``code`` and ``label`` first; ``column`` is the heading used in the wide
layout).  Question codes are unique within one export: a code that two exported questions share
becomes ``<code>_p<poll id>`` (and ``…_q<position>`` within one poll), in the data and in the
codebook alike.

Formats: CSV is UTF-8 with a BOM (Excel then reads accents right), ``,`` or ``;`` (French
Excel) as separator, and a free text starting with ``= + - @`` is prefixed with ``'`` so that a
spreadsheet shows it instead of running it as a formula (OWASP "CSV injection").  XLSX is
written by openpyxl in write-only mode (streamed; such texts become text cells); a sheet holds at
most 1,048,576 rows, further rows go to ``answers (2)``, ``answers (3)``….  JSON is **JSON Lines**
(one object per line, UTF-8, no BOM): streamed on writing and on reading (``pandas.read_json(…,
lines=True)``, ``jq``), a blank cell is ``null``.  Times are ISO 8601 strings to the second:
``answered_at_utc`` ends in ``Z``, ``answered_at_local`` carries its offset (config timezone).

Respondents are pseudonymised: the first 16 hex characters of HMAC-SHA256(secret, Discord user
id), the secret read from the environment variable named by ``privacy.pseudonym_secret_env``.
The same member gets the same pseudonym in every export made with the same secret, so exports
can be joined; without the secret the id cannot be recovered.  Raw ids only with
``identified=True`` (the CLI's ``--identified``; never from Discord).  An answer unlinked from its
member (forget-me in "unlink" mode) is a respondent of its own, ``anon-<answer id>``.

Memory stays flat: answers come from a server-side cursor in batches, rows are written as they
come, and the wide layout holds one respondent at a time (the stream is ordered by respondent).
"""

from __future__ import annotations

import csv
import dataclasses
import hmac
import io
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Config
from bot.errors import DomainError, InvalidInput, NotFound
from storage.repositories.audit import AuditRepository
from storage.repositories.exports import DEFAULT_BATCH, CodebookQuestion, ExportRepository

__all__ = [
    "CODEBOOK_COLUMNS",
    "FORMATS",
    "HEADINGS",
    "LAYOUTS",
    "LONG_COLUMNS",
    "WIDE_FIXED_COLUMNS",
    "ExportRequest",
    "ExportResult",
    "ExportTooLarge",
    "Exporter",
    "MissingSecret",
    "codebook_path",
    "pseudonym",
]

FORMATS = ("csv", "xlsx", "json")
LAYOUTS = ("long", "wide")
HEADINGS = ("codes", "labels")
SEPARATORS = (",", ";")
EXTENSIONS = {"csv": ".csv", "xlsx": ".xlsx", "json": ".jsonl"}
MIN_SECRET_LENGTH = 16
PSEUDONYM_LENGTH = 16
XLSX_MAX_ROWS = 1_048_576

LONG_COLUMNS = (
    "respondent", "member_type", "campaign", "poll_id", "poll", "question_code", "option_code",
    "option_label", "text", "answered_at_utc", "answered_at_local",
)
WIDE_FIXED_COLUMNS = ("respondent", "member_type", "campaign", "last_answered_at_utc", "last_answered_at_local")
CODEBOOK_COLUMNS = (
    "code", "label", "type", "question", "question_text", "kind", "max_choices", "poll_id", "poll", "column",
)

Progress = Callable[[int], None]


class MissingSecret(DomainError):
    key = "export.error.no_secret"


class ExportTooLarge(DomainError):
    key = "export.error.too_large"


@dataclass(frozen=True)
class ExportRequest:
    """What to export and how.  Exactly one of ``poll_id`` and ``campaign``.

    ``guild_id`` restricts the export to that guild's polls (set from Discord; the CLI exports
    every guild).  ``lang`` is the language of the member type labels in the codebook
    (default: the config's language).  Every export is recorded in the audit log (scope,
    format, layout, counts, whether it was identified — no personal data)."""

    poll_id: int | None = None
    campaign: str | None = None
    format: str = "csv"
    layout: str = "long"
    headings: str = "codes"
    separator: str = ","
    identified: bool = False
    guild_id: int | None = None
    lang: str | None = None
    actor_id: int | None = None  # who asked (the audit log); None from the CLI

    def __post_init__(self) -> None:
        if (self.poll_id is None) == (not self.campaign):
            raise InvalidInput("export.error.scope")
        if self.format not in FORMATS:
            raise InvalidInput("export.error.format", value=self.format, allowed=", ".join(FORMATS))
        if self.layout not in LAYOUTS:
            raise InvalidInput("export.error.layout", value=self.layout, allowed=", ".join(LAYOUTS))
        if self.headings not in HEADINGS:
            raise InvalidInput("export.error.headings", value=self.headings, allowed=", ".join(HEADINGS))
        if self.separator not in SEPARATORS:
            raise InvalidInput("export.error.separator", value=self.separator)

    @property
    def scope_name(self) -> str:
        """A file-name friendly name: ``poll-12`` or ``campaign-enquete-membres-2026-2027``."""
        if self.poll_id is not None:
            return f"poll-{self.poll_id}"
        return "campaign-" + _slug(self.campaign or "")

    def default_filename(self) -> str:
        return f"{self.scope_name}-{self.layout}{EXTENSIONS[self.format]}"


@dataclass(frozen=True)
class ExportResult:
    rows: int  # data rows written (long: answer × chosen option; wide: respondents)
    answers: int
    respondents: int
    questions: int
    polls: int
    files: tuple[Path, ...] = ()  # what export_to_path wrote (data, then codebook)
    columns: tuple[str, ...] = field(default=(), repr=False)


def codebook_path(path: Path) -> Path:
    """``answers.csv`` → ``answers.codebook.csv`` (next to the data file)."""
    return path.with_name(f"{path.stem}.codebook{path.suffix}")


def pseudonym(user_id: int, secret: bytes) -> str:
    """The respondent id of a member in exports: keyed, stable, not reversible without the key."""
    return hmac.digest(secret, str(user_id).encode(), "sha256").hex()[:PSEUDONYM_LENGTH]


def _deduplicate(codes: list[str], suffixes: list[str]) -> list[str]:
    """Append its suffix to every code that appears more than once."""
    return [code + suffix if codes.count(code) > 1 else code for code, suffix in zip(codes, suffixes, strict=True)]


def _slug(text: str) -> str:
    import unicodedata

    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:60] or "export"


# ---------------------------------------------------------------------------------- the codebook
@dataclass
class _Option:
    id: int
    code: str
    label: str
    column: str = ""


@dataclass
class _Question:
    id: int
    poll_id: int
    poll_title: str
    campaign: str | None
    code: str  # unique within this export
    text: str
    kind: str
    max_choices: int
    options: list[_Option]
    by_id: dict[int, _Option]
    column: str = ""

    @property
    def is_text(self) -> bool:
        return self.kind == "text"


def _build_questions(raw: Sequence[CodebookQuestion], headings: str, clean: Callable[[Any], Any]) -> list[_Question]:
    """Unique question codes (and option codes within a question), and the wide headings.
    ``clean`` is applied once to every label and title (CSV formula neutralisation)."""
    codes = [(q.code or "").strip() or f"q{q.id}" for q in raw]
    codes = _deduplicate(codes, [f"_p{q.poll_id}" for q in raw])
    codes = _deduplicate(codes, [f"_q{q.position}" for q in raw])
    questions: list[_Question] = []
    for q, code in zip(raw, codes, strict=True):
        opt_codes = [(o.code or "").strip() or f"o{o.position}" for o in q.options]
        opt_codes = _deduplicate(opt_codes, [f"_{o.position}" for o in q.options])
        options = [_Option(o.id, oc, clean(o.label)) for o, oc in zip(q.options, opt_codes, strict=True)]
        questions.append(
            _Question(q.id, q.poll_id, clean(q.poll_title), clean(q.campaign), code, clean(q.text), q.kind,
                      q.max_choices, options, {o.id: o for o in options})
        )
    seen: set[str] = set(WIDE_FIXED_COLUMNS)

    def unique(heading: str, fallback: str) -> str:
        if heading in seen:
            heading = f"{heading} ({fallback})"
        seen.add(heading)
        return heading

    for q in questions:
        labels = headings == "labels"
        q.column = unique(q.text if labels else q.code, q.code)
        if not q.is_text:
            for o in q.options:
                code_col = f"{q.code}/{o.code}"
                o.column = unique(f"{q.text} [{o.label}]" if labels else code_col, code_col)
    return questions


# ---------------------------------------------------------------------------------- time and ids
class _Clock:
    """``(UTC, local)`` ISO strings, to the second, for an answer time.

    The time comes as the repository gives it: an aware datetime, or (SQLite) the stored UTC
    text ``YYYY-MM-DD HH:MM:SS[.ffffff]``, which is sliced rather than parsed.  The local
    rendering of each UTC hour is cached: when the zone's offset is a whole number of hours and
    does not change within that hour, the local time is the cached local date and hour followed
    by the UTC minutes and seconds; otherwise (an offset change inside the hour, a half-hour
    zone) it is computed exactly."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self._hours: dict[str, tuple[str, str] | None] = {}

    def __call__(self, when: datetime | str) -> tuple[str, str]:
        if when.__class__ is str and len(when) >= 19 and when[10] in " T":  # type: ignore[union-attr]
            text: str = when  # type: ignore[assignment]
        else:
            text = self._text(when)
        hour = text[:13]
        try:
            cached = self._hours[hour]
        except KeyError:
            cached = self._local_hour(hour)
            if len(self._hours) > 100_000:
                self._hours.clear()
            self._hours[hour] = cached
        utc = f"{text[:10]}T{text[11:19]}Z"
        if cached is None:
            exact = datetime.fromisoformat(text[:19]).replace(tzinfo=UTC).astimezone(self.tz)
            return utc, exact.isoformat()
        prefix, suffix = cached
        return utc, f"{prefix}{text[13:19]}{suffix}"

    @staticmethod
    def _text(when: datetime | str) -> str:
        if isinstance(when, str):
            when = datetime.fromisoformat(when)
        if when.tzinfo is not None:
            when = when.astimezone(UTC).replace(tzinfo=None)
        return when.replace(microsecond=0).isoformat(" ")

    def _local_hour(self, hour: str) -> tuple[str, str] | None:
        start = datetime.fromisoformat(f"{hour}:00:00").replace(tzinfo=UTC)
        first = start.astimezone(self.tz)
        last = (start + timedelta(hours=1, microseconds=-1)).astimezone(self.tz)
        offset = first.utcoffset()
        if offset is None or offset != last.utcoffset() or offset.total_seconds() % 3600:
            return None
        return first.strftime("%Y-%m-%dT%H"), first.isoformat()[19:]


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _safe_csv_text(value: str | None) -> str | None:
    if value and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _identity(value: Any) -> Any:
    return value


# ---------------------------------------------------------------------------------- writers
class _Table:
    """One table of a file: a header, then rows (tuples; ``None`` is a blank cell)."""

    def write(self, rows: Sequence[Sequence[Any]]) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


class _CsvTable(_Table):
    def __init__(self, stream: BinaryIO, header: Sequence[str], separator: str) -> None:
        self.text = io.TextIOWrapper(stream, encoding="utf-8", newline="", write_through=False)
        self.text.write("\ufeff")
        self.writer = csv.writer(self.text, delimiter=separator)
        self.writer.writerow(header)
        self.write = self.writer.writerows  # type: ignore[method-assign]

    def write_text(self, text: str) -> None:
        self.text.write(text)

    def flush(self) -> None:
        self.text.flush()

    def close(self) -> None:
        self.text.flush()
        self.text.detach()  # the caller owns the binary stream


class _JsonLinesTable(_Table):
    def __init__(self, stream: BinaryIO, header: Sequence[str]) -> None:
        self.text = io.TextIOWrapper(stream, encoding="utf-8", newline="\n", write_through=False)
        self.header = tuple(header)
        self.encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

    def write(self, rows: Sequence[Sequence[Any]]) -> None:
        header, encode = self.header, self.encode
        self.text.write("".join(encode(dict(zip(header, row, strict=True))) + "\n" for row in rows))

    def flush(self) -> None:
        self.text.flush()

    def close(self) -> None:
        self.text.flush()
        self.text.detach()


class _XlsxBook:
    """A write-only openpyxl workbook (rows go to temporary files, zipped on ``save``)."""

    def __init__(self) -> None:
        from openpyxl import Workbook

        self.workbook = Workbook(write_only=True)

    def table(self, title: str, header: Sequence[str]) -> _XlsxTable:
        return _XlsxTable(self, title, header)

    def save(self, stream: BinaryIO) -> None:
        self.workbook.save(stream)


class _XlsxTable(_Table):
    def __init__(self, book: _XlsxBook, title: str, header: Sequence[str]) -> None:
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        self.book, self.title, self.header = book, title, list(header)
        self.illegal = ILLEGAL_CHARACTERS_RE
        self.cell_class = WriteOnlyCell
        self.sheets = 0
        self._new_sheet()

    def _new_sheet(self) -> None:
        self.sheets += 1
        name = self.title if self.sheets == 1 else f"{self.title} ({self.sheets})"
        self.sheet = self.book.workbook.create_sheet(name)
        self.sheet.append(self.header)
        self.rows_in_sheet = 1

    def _cell(self, value: Any) -> Any:
        if isinstance(value, str):
            value = self.illegal.sub("", value)
            if value.startswith("="):  # text, never a formula
                cell = self.cell_class(self.sheet, value)
                cell.data_type = "s"
                return cell
        return value

    def write(self, rows: Sequence[Sequence[Any]]) -> None:
        for row in rows:
            if self.rows_in_sheet >= XLSX_MAX_ROWS:
                self._new_sheet()
            self.sheet.append([self._cell(v) for v in row])
            self.rows_in_sheet += 1


class _LongPieces:
    """Parts of a long-layout row as tuples (XLSX, JSON Lines): ``respondent + member_type +
    question + option + tail`` is the row."""

    no_option: Any = (None, None)

    def respondent(self, name: str) -> Any:
        return (name,)

    def member_type(self, code: str | None) -> Any:
        return (code,)

    def question(self, q: _Question) -> Any:
        return (q.campaign, q.poll_id, q.poll_title, q.code)

    def option(self, o: _Option) -> Any:
        return (o.code, o.label)

    def tail(self, text: str | None, utc: str, local: str) -> Any:
        return (text, utc, local)

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
        return "".join(self.cell(v) + self.sep for v in (q.campaign, q.poll_id, q.poll_title, q.code))

    def option(self, o: _Option) -> Any:
        return self.cell(o.code) + self.sep + self.cell(o.label) + self.sep

    def tail(self, text: str | None, utc: str, local: str) -> Any:
        if text is None:
            return f"{self.sep}{utc}{self.sep}{local}\r\n"
        return f"{_csv_cell(text, self.sep)}{self.sep}{utc}{self.sep}{local}\r\n"

    def write(self, table: _Table, rows: list[Any]) -> None:
        table.write_text("".join(rows))  # type: ignore[attr-defined]


def _csv_cell(value: Any, sep: str) -> str:
    """One CSV field as ``csv.writer`` writes it with ``QUOTE_MINIMAL`` and ``\\r\\n`` lines."""
    if value is None:
        return ""
    text = str(value)
    if sep in text or '"' in text or "\n" in text or "\r" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


# ---------------------------------------------------------------------------------- the exporter
@dataclass
class _Scope:
    poll_ids: list[int]
    questions: list[_Question]
    campaign: str | None


class Exporter:
    """Runs exports over the database: :meth:`export` to open binary streams,
    :meth:`export_to_path` to a file and its codebook."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        config: Config,
        *,
        environ: Mapping[str, str] | None = None,
        batch: int = DEFAULT_BATCH,
    ) -> None:
        self.sessions = sessions
        self.config = config
        self.environ = os.environ if environ is None else environ
        self.batch = batch

    # ------------------------------------------------------------------ public API
    def secret(self) -> bytes:
        """The pseudonymisation key; :class:`MissingSecret` when it is not set or too short."""
        name = self.config.privacy.pseudonym_secret_env
        value = self.environ.get(name, "")
        if len(value.strip()) < MIN_SECRET_LENGTH:
            raise MissingSecret(env=name, min=MIN_SECRET_LENGTH)
        return value.encode()

    async def campaign_names(self, text: str = "") -> list[str]:
        async with self.sessions() as session:
            return await ExportRepository(session).campaign_names(text.strip())

    async def poll_choices(self, guild_id: int, text: str = "") -> list[tuple[int, str]]:
        async with self.sessions() as session:
            return await ExportRepository(session).polls_matching(guild_id, text.strip())

    async def count_rows(self, request: ExportRequest) -> int:
        """How many rows the long layout of ``request`` has (a progress bar's total)."""
        async with self.sessions() as session:
            repo = ExportRepository(session)
            scope = await self._scope(repo, request)
            return await repo.count_answer_rows(scope.poll_ids)

    async def export_to_path(
        self,
        request: ExportRequest,
        path: Path,
        *,
        progress: Progress | None = None,
        max_bytes: int | None = None,
    ) -> ExportResult:
        """Write ``path`` and (CSV, JSON) its codebook ``codebook_path(path)``; on failure, no
        partial file is left behind.  ``max_bytes`` bounds the total size (``ExportTooLarge``)."""
        path = Path(path)
        book = codebook_path(path)
        written = [path] if request.format == "xlsx" else [path, book]
        try:
            with path.open("wb") as data:
                if request.format == "xlsx":
                    result = await self.export(request, data, progress=progress, max_bytes=max_bytes)
                else:
                    with book.open("wb") as codebook:
                        result = await self.export(
                            request, data, codebook, progress=progress, max_bytes=max_bytes
                        )
        except BaseException:
            for file in written:
                file.unlink(missing_ok=True)
            raise
        if max_bytes is not None and sum(f.stat().st_size for f in written) > max_bytes:
            for file in written:
                file.unlink(missing_ok=True)
            raise ExportTooLarge(limit_mb=max_bytes // (1024 * 1024))
        return dataclasses.replace(result, files=tuple(written))

    async def export(
        self,
        request: ExportRequest,
        data: BinaryIO,
        codebook: BinaryIO | None = None,
        *,
        progress: Progress | None = None,
        max_bytes: int | None = None,
    ) -> ExportResult:
        """Stream the export of ``request`` into ``data`` (and the codebook into ``codebook``;
        for XLSX the codebook is a second sheet of ``data`` and ``codebook`` is not used)."""
        if request.format != "xlsx" and codebook is None:
            raise ValueError("a CSV or JSON export needs a codebook stream")
        secret = None if request.identified else self.secret()
        async with self.sessions() as session:
            repo = ExportRepository(session)
            scope = await self._scope(repo, request)
            columns = self._columns(request, scope)
            book = _XlsxBook() if request.format == "xlsx" else None
            table = self._table(request, data, columns, book)
            start = data.tell() if max_bytes is not None and data.seekable() else None

            def check_size() -> None:
                if start is not None and max_bytes is not None:
                    table.flush()
                    if data.tell() - start > max_bytes:
                        raise ExportTooLarge(limit_mb=max_bytes // (1024 * 1024))

            write = self._write_long if request.layout == "long" else self._write_wide
            try:
                stats = await write(request, repo, scope, table, secret, progress, check_size)
            finally:
                table.close()  # CSV, JSON: flush, and leave the caller's stream open
        member_types: set[str | None] = stats.pop("member_types")
        rows = self._codebook_rows(request, scope, member_types)
        if book is not None:
            book.table("codebook", CODEBOOK_COLUMNS).write(rows)
            book.save(data)
            check_size()
        else:
            assert codebook is not None
            book_table = self._table(request, codebook, CODEBOOK_COLUMNS, None)
            book_table.write(rows)
            book_table.close()
        result = ExportResult(
            questions=len(scope.questions), polls=len(scope.poll_ids), columns=tuple(columns), **stats
        )
        async with self.sessions.begin() as session:
            AuditRepository(session).record(
                "export",
                actor_id=request.actor_id,
                target_type="poll" if request.poll_id is not None else "campaign",
                target_id=request.poll_id if request.poll_id is not None else (request.campaign or "")[:64],
                guild_id=request.guild_id,
                details={"format": request.format, "layout": request.layout, "headings": request.headings,
                         "identified": request.identified, "rows": result.rows, "answers": result.answers},
            )
        return result

    # ------------------------------------------------------------------ scope and shape
    async def _scope(self, repo: ExportRepository, request: ExportRequest) -> _Scope:
        poll_ids = await repo.poll_ids(poll_id=request.poll_id, campaign=request.campaign, guild_id=request.guild_id)
        if poll_ids is None:
            if request.poll_id is not None:
                raise NotFound("export.error.poll_not_found", poll=request.poll_id)
            raise NotFound("export.error.campaign_not_found", name=request.campaign)
        if not poll_ids:
            raise NotFound("export.error.campaign_empty", name=request.campaign)
        clean = _safe_csv_text if request.format == "csv" else _identity
        questions = _build_questions(await repo.codebook(poll_ids), request.headings, clean)
        campaigns = {q.campaign for q in questions}
        campaign = clean(request.campaign) if request.campaign else (campaigns.pop() if len(campaigns) == 1 else None)
        return _Scope(poll_ids, questions, campaign)

    @staticmethod
    def _columns(request: ExportRequest, scope: _Scope) -> list[str]:
        if request.layout == "long":
            return list(LONG_COLUMNS)
        columns = list(WIDE_FIXED_COLUMNS)
        for q in scope.questions:
            columns.append(q.column)
            if not q.is_text:
                columns.extend(o.column for o in q.options)
        return columns

    @staticmethod
    def _table(request: ExportRequest, stream: BinaryIO, header: Sequence[str], book: _XlsxBook | None) -> Any:
        if book is not None:
            return book.table("answers", header)
        if request.format == "csv":
            return _CsvTable(stream, header, request.separator)
        return _JsonLinesTable(stream, header)

    def _respondent_id(self, secret: bytes | None) -> Callable[[int], str]:
        if secret is None:
            return str
        keyed = hmac.new(secret, digestmod="sha256")  # the key schedule once, copied per respondent

        def pseudonymise(user_id: int) -> str:
            mac = keyed.copy()
            mac.update(str(user_id).encode())
            return mac.hexdigest()[:PSEUDONYM_LENGTH]

        return pseudonymise

    # ------------------------------------------------------------------ long layout
    async def _write_long(
        self, request: ExportRequest, repo: ExportRepository, scope: _Scope, table: _Table,
        secret: bytes | None, progress: Progress | None, check_size: Callable[[], None],
    ) -> dict[str, Any]:
        """One row per (answer, chosen option).  A row is assembled from pieces rendered once
        per question, option, respondent and answer — tuples for XLSX and JSON, CSV text for
        CSV — so the per-row work is two concatenations, whatever the format."""
        pieces: _LongPieces = (
            _CsvLongPieces(request.separator) if isinstance(table, _CsvTable) else _LongPieces()
        )
        heads = {q.id: pieces.question(q) for q in scope.questions}
        option_pieces = {q.id: {o.id: pieces.option(o) for o in q.options} for q in scope.questions}
        no_option = pieces.no_option
        tail = pieces.tail
        respondent_piece = pieces.respondent
        type_pieces: dict[str | None, Any] = {}
        clock = _Clock(self.config.tz)
        respondent_of = self._respondent_id(secret)
        safe = _safe_csv_text if request.format == "csv" else _identity
        done = answers = respondents = 0
        last_answer: int | None = None
        last_user: int | None = None
        who: Any = None
        head: Any = None
        after: Any = None
        options: dict[int, Any] = {}
        async for part in repo.stream_answers(scope.poll_ids, batch=self.batch):
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
                        kind = type_pieces[member_type]
                    except KeyError:
                        kind = type_pieces[member_type] = pieces.member_type(member_type)
                    head = who + kind + heads[question_id]
                    options = option_pieces[question_id]
                    after = tail(safe(raw_text), *clock(answered_at))
                if option_id is None:
                    append(head + no_option + after)
                else:
                    append(head + options[option_id] + after)
            pieces.write(table, out)
            done += len(out)
            check_size()
            if progress is not None:
                progress(done)
        return {"rows": done, "answers": answers, "respondents": respondents, "member_types": set(type_pieces)}

    # ------------------------------------------------------------------ wide layout
    async def _write_wide(
        self, request: ExportRequest, repo: ExportRepository, scope: _Scope, table: _Table,
        secret: bytes | None, progress: Progress | None, check_size: Callable[[], None],
    ) -> dict[str, Any]:
        clock = _Clock(self.config.tz)
        respondent_of = self._respondent_id(secret)
        safe = _safe_csv_text if request.format == "csv" else _identity
        questions = scope.questions
        campaign = scope.campaign
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
            values: list[Any] = [current_name, latest[1], campaign, *clock(latest[0])]
            for q in questions:
                answer = current.get(q.id)
                if q.is_text:
                    values.append(None if answer is None else safe(answer[1]))
                elif answer is None:
                    values.extend([None] * (1 + len(q.options)))
                else:
                    picked = set(answer[0])
                    values.append(" ".join(o.code for o in q.options if o.id in picked))
                    values.extend(1 if o.id in picked else 0 for o in q.options)
            return tuple(values)

        async for part in repo.stream_answers(scope.poll_ids, batch=self.batch):
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

    # ------------------------------------------------------------------ codebook
    def _codebook_rows(self, request: ExportRequest, scope: _Scope, used_types: set[str | None]) -> list[tuple]:
        rows: list[tuple] = []
        for q in scope.questions:
            rows.append((q.code, q.text, "question", q.code, q.text, q.kind, q.max_choices, q.poll_id,
                         q.poll_title, q.column))
            for o in q.options:
                rows.append((o.code, o.label, "option", q.code, q.text, q.kind, None, q.poll_id, q.poll_title,
                             o.column or None))
        lang = request.lang or self.config.bot.language
        known = {t.code: (t.fr if lang == "fr" else t.en) for t in self.config.member_types}
        for code in [*known, *sorted(c for c in used_types if c and c not in known)]:
            rows.append((code, known.get(code, code), "member_type", "member_type", None, None, None, None, None,
                         "member_type"))
        return rows
