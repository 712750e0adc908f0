"""The exporter: runs an export over the database, from the request to the files (data, then
codebook), and records it in the audit log."""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Config
from bot.errors import NotFound
from bot.services.exports.clock import _Clock, _DateClock
from bot.services.exports.codebook import (
    CODEBOOK_WIDTHS,
    _build_questions,
    _Scope,
    codebook_rows,
    column_widths,
    long_columns,
    member_values,
    wide_columns,
)
from bot.services.exports.model import (
    CODEBOOK_COLUMNS,
    SERIES_CODEBOOK_COLUMNS,
    ExportRequest,
    ExportResult,
    ExportTooLarge,
    IdentifiedRefused,
    Progress,
    codebook_path,
)
from bot.services.exports.pseudonyms import read_secret, respondent_ids
from bot.services.exports.rows import write_long, write_wide
from bot.services.exports.writers import (
    _identity,
    _safe_csv_text,
    _XlsxBook,
    header_width,
    open_output,
    open_table,
)
from storage.repositories.audit import AuditRepository
from storage.repositories.calendar import CalendarRepository
from storage.repositories.exports import DEFAULT_BATCH, ExportRepository


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
        # PostgreSQL's parallel workers for the export's queries (the server's own setting); the
        # running bot's exports go without (see bot.services.exports.worker)
        self.parallel = True
        # The running bot's worker sets it (bot.services.workers.members_active): a large export on
        # PostgreSQL then reads range by range, leaving the server to the votes while members are
        # active (storage.repositories.exports._Walk)
        self.members_active: Callable[[], bool] | None = None

    # ------------------------------------------------------------------ public API
    def secret(self) -> bytes:
        """The pseudonymisation key; :class:`MissingSecret` when it is not set or too short."""
        return read_secret(self.environ, self.config.privacy.pseudonym_secret_env)

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
        """Write ``path`` and (CSV, JSON) its codebook ``codebook_path(path)``: each is written
        beside its place under a temporary name and renamed into it once the whole export is
        written, so a failure (an unknown poll, a full disk, Ctrl-C) leaves no partial file and
        an earlier file of that name as it was.  ``max_bytes`` bounds the total size
        (``ExportTooLarge``)."""
        path = Path(path)
        finals = [path] if request.format == "xlsx" else [path, codebook_path(path)]
        token = secrets.token_hex(4)
        written = [final.with_name(f".{final.name}.{token}.part") for final in finals]
        try:
            with open_output(written[0]) as data:
                if request.format == "xlsx":
                    result = await self.export(request, data, progress=progress, max_bytes=max_bytes)
                else:
                    with open_output(written[1]) as codebook:
                        result = await self.export(
                            request, data, codebook, progress=progress, max_bytes=max_bytes
                        )
            if max_bytes is not None and sum(f.stat().st_size for f in written) > max_bytes:
                raise ExportTooLarge(limit_mb=max_bytes // (1024 * 1024))
            for part, final in zip(written[::-1], finals[::-1], strict=True):  # the data last: it names the export
                os.replace(part, final)
        except BaseException:
            for file in written:
                file.unlink(missing_ok=True)
            raise
        return dataclasses.replace(result, files=tuple(finals))

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
        lang = request.label_lang(self.config.bot.language)
        async with self.sessions() as session:
            repo = ExportRepository(session)
            await repo.one_snapshot()  # first: every read of the export sees the same answers
            repo.members_active = self.members_active
            if not self.parallel:
                await repo.without_parallel_workers()
            scope = await self._scope(repo, request)
            columns = long_columns(scope.questions) if request.layout == "long" else wide_columns(scope.questions)
            book = _XlsxBook() if request.format == "xlsx" else None
            widths = (column_widths(request.layout, columns, scope.questions,
                                    [t.label(lang, self.config.bot.language) for t in self.config.member_types])
                      if book is not None else None)
            table = open_table(request.format, request.separator, data, columns, book, widths)
            start = data.tell() if max_bytes is not None and data.seekable() else None

            def check_size() -> None:
                if start is not None and max_bytes is not None:
                    table.flush()
                    if data.tell() - start > max_bytes:
                        raise ExportTooLarge(limit_mb=max_bytes // (1024 * 1024))

            write = write_long if request.layout == "long" else write_wide
            try:
                stats = await write(
                    scope, repo, table, separator=request.separator,
                    safe=_safe_csv_text if request.format == "csv" else _identity,
                    clock=(_DateClock if book is not None else _Clock)(self.config.tz),
                    respondent_of=respondent_ids(secret), batch=self.batch, progress=progress,
                    check_size=check_size,
                )
            finally:
                table.close()  # CSV, JSON: flush, and leave the caller's stream open
        member_types: set[str | None] = stats.pop("member_types")
        rows = codebook_rows(scope.questions, self.config, lang, member_types)
        book_columns = SERIES_CODEBOOK_COLUMNS if request.series is not None else CODEBOOK_COLUMNS
        if book is not None:
            book_widths = [*CODEBOOK_WIDTHS, *(len(book_columns) - len(CODEBOOK_WIDTHS)) * [header_width("", 16)]]
            book.table("codebook", book_columns, book_widths).write(rows)
            book.save(data)
            check_size()
        else:
            assert codebook is not None
            book_table = open_table(request.format, request.separator, codebook, book_columns, None)
            book_table.write(rows)
            book_table.close()
        result = ExportResult(
            questions=len(scope.questions), polls=len(scope.poll_ids), columns=tuple(columns), **stats
        )
        async with self.sessions.begin() as session:
            AuditRepository(session).record(
                "export",
                actor_id=request.actor_id,
                target_type="poll" if request.poll_id is not None else "plan" if request.series else "campaign",
                target_id=(request.poll_id if request.poll_id is not None
                           else request.series if request.series is not None else (request.campaign or "")[:64]),
                guild_id=request.guild_id,
                details={"format": request.format, "layout": request.layout, "headings": request.headings,
                         "values": request.values, "labels": lang,
                         "identified": request.identified, "rows": result.rows, "answers": result.answers},
            )
        return result

    # ------------------------------------------------------------------ scope and shape
    async def _series(self, repo: ExportRepository, request: ExportRequest) -> dict[int, str]:
        """A series' posted polls, oldest occurrence first, each with its local occurrence time
        (``2026-12-03 09:00``, the config's time zone)."""
        assert request.series is not None
        calendar = CalendarRepository(repo.session)
        plan = await calendar.get(request.series)
        if plan is None or plan.kind != "poll" or (request.guild_id is not None and plan.guild_id != request.guild_id):
            key = "export.error.series_not_found" + ("" if request.guild_id is not None else "_anywhere")
            raise NotFound(key, ref=f"plan-{request.series}")
        occurrences = {
            poll.id: when.astimezone(self.config.tz).strftime("%Y-%m-%d %H:%M")
            for when, poll in await calendar.series_polls(request.series) if poll.message_id is not None
        }
        if not occurrences:
            raise NotFound("export.error.series_empty", ref=f"plan-{request.series}")
        return occurrences

    async def _scope(self, repo: ExportRepository, request: ExportRequest) -> _Scope:
        occurrences = await self._series(repo, request) if request.series is not None else None
        poll_ids = (sorted(occurrences) if occurrences is not None else await repo.poll_ids(
            poll_id=request.poll_id, campaign=request.campaign, guild_id=request.guild_id))
        if poll_ids is None:
            if request.poll_id is not None:
                key = "export.error.poll_not_found" + ("" if request.guild_id is not None else "_anywhere")  # the CLI: every guild
                raise NotFound(key, poll=request.poll_id)
            raise NotFound("export.error.campaign_not_found", name=request.campaign)
        if not poll_ids:
            raise NotFound("export.error.campaign_empty", name=request.campaign)
        if request.identified:
            anonymous = await repo.anonymous_polls(poll_ids)
            if anonymous:
                raise IdentifiedRefused(polls=", ".join(map(str, anonymous)), count=len(anonymous))
        clean = _safe_csv_text if request.format == "csv" else _identity
        lang = request.label_lang(self.config.bot.language)
        questions = _build_questions(await repo.codebook(poll_ids), request.headings, clean, lang, request.values,
                                     occurrences)
        campaigns = {q.campaign for q in questions}
        campaign = clean(request.campaign) if request.campaign else (campaigns.pop() if len(campaigns) == 1 else None)
        return _Scope(poll_ids, questions, campaign, member_values(self.config, lang, request.values))
