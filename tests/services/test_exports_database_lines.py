"""The long layout's CSV lines written by the database (issue 15, item 4) are byte for byte the
lines the export writes row by row in Python (``rows.DATABASE_CSV = False``, the reference), on
SQLite and PostgreSQL: awkward texts (separators, quotes, line breaks, tabs, backslashes, a
literal ``\\N``, formula starts, emoji), awkward member types, unlinked answers, times on both
sides of offset changes and of midnight, in whole-hour (east and west), half-hour and UTC zones,
every CSV option."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.config import build_config
from bot.services.exports import Exporter, ExportRequest, codebook_path
from bot.services.exports import rows as export_rows
from storage.models import Answer, AnswerChoice, Option, Question
from storage.repositories import exports as exports_repository
from storage.repositories.exports import ExportRepository
from tests.export_data import CAMPAIGN, build_survey

ENV = {"RESEAU_EXPORT_SECRET": "correct horse battery staple 2026"}
GUILD = 111
AWKWARD_TEXTS = [
    "tab\there", "line\nbreak\r\nend", "back\\slash \\N \\t", "\\N", "", "é€😀 «»", None, 'say "hi", ok; done',
    "=1+1", "+33 6", "-", "@home", "\tindented", "\rreturn", "'quoted already", "trailing backslash\\", ";", ",",
]
MEMBER_TYPES = ["ong\t2", 'a,"b"', ";x", "=cmd", "collectivite", None, "reseau", "", "\\N"]
TIMES = [  # around Paris's 2026 changes (01:00 UTC), St John's (-03:30 / -02:30) and far away
    datetime(2026, 3, 29, 0, 59, 59, 999999, tzinfo=UTC), datetime(2026, 3, 29, 1, 0, 0, tzinfo=UTC),
    datetime(2026, 10, 25, 0, 30, 0, 500000, tzinfo=UTC), datetime(2026, 10, 25, 1, 0, 0, 1, tzinfo=UTC),
    datetime(2026, 3, 8, 5, 29, 59, tzinfo=UTC), datetime(2026, 3, 8, 5, 30, 0, tzinfo=UTC),
    datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), datetime(2026, 1, 1, 0, 0, 0, tzinfo=UTC),
    datetime(2019, 6, 30, 22, 15, 7, tzinfo=UTC), datetime(2031, 2, 28, 21, 0, 0, tzinfo=UTC),
]


@pytest.fixture
async def survey(sessions):
    """The export tests' survey, and answers with every awkward text, member type and time:
    some from members (positive and negative ids), some unlinked, on a text and a multiple
    choice question."""
    survey = await build_survey(sessions, GUILD)
    async with sessions.begin() as session:
        questions = {q.code: q for q in await session.scalars(
            select(Question).where(Question.poll_id.in_([survey.poll_a, survey.poll_b])))}
        themes = questions["themes"]
        options = list(await session.scalars(select(Option).where(Option.question_id == themes.id)))
        for i, text in enumerate(AWKWARD_TEXTS):
            user = None if i % 5 == 4 else (-1) ** i * (9_000 + i)
            member = MEMBER_TYPES[i % len(MEMBER_TYPES)]
            at = TIMES[i % len(TIMES)]
            session.add(Answer(question_id=questions["avis"].id, user_id=user, member_type=member, text=text,
                               answered_at=at, updated_at=at))
            chosen = [AnswerChoice(option_id=o.id) for o in options[: i % 4]]
            session.add(Answer(question_id=themes.id, user_id=user, member_type=member, answered_at=TIMES[-1 - i % 10],
                               updated_at=at, choices=chosen))
    return survey


def _config(database_url: str, tmp_path: Path, zone: str):
    raw = {"database": {"url": database_url}, "bot": {"timezone": zone}}
    return build_config(raw, tmp_path / "config.toml", environ={})


async def _both(exporter: Exporter, request: ExportRequest, out: Path, monkeypatch) -> None:
    calls = []
    prepare = ExportRepository.csv_long

    async def spy(self, *args, **kwargs):
        calls.append(args[0])
        return await prepare(self, *args, **kwargs)

    monkeypatch.setattr(ExportRepository, "csv_long", spy)
    ours = await exporter.export_to_path(request, out / "database.csv")
    assert len(calls) == 1  # the database wrote the lines
    monkeypatch.setattr(export_rows, "DATABASE_CSV", False)
    reference = await exporter.export_to_path(request, out / "python.csv")
    monkeypatch.setattr(export_rows, "DATABASE_CSV", True)
    data = (out / "database.csv").read_bytes()
    assert data == (out / "python.csv").read_bytes()
    assert codebook_path(out / "database.csv").read_bytes() == codebook_path(out / "python.csv").read_bytes()
    assert dataclasses_without_files(ours) == dataclasses_without_files(reference)
    assert len(calls) == 1  # the reference did not


def dataclasses_without_files(result):
    import dataclasses

    return dataclasses.replace(result, files=())


ZONES = ["Europe/Paris", "America/New_York", "America/St_Johns", "Asia/Kolkata", "UTC"]


@pytest.mark.parametrize("zone", ZONES)
async def test_database_lines_equal_python_lines_in_every_zone(survey, sessions, database_url, tmp_path,
                                                              monkeypatch, zone):
    exporter = Exporter(sessions, _config(database_url, tmp_path, zone), environ=ENV)
    await _both(exporter, ExportRequest(campaign=CAMPAIGN), tmp_path, monkeypatch)


@pytest.mark.parametrize("zone", ZONES)
async def test_sqlite_local_times_from_the_table_of_hours(survey, sessions, database_url, tmp_path, monkeypatch,
                                                          zone):
    """SQLite looks each answer's local hour up in a table of the span's hours when the export
    has four answers for each hour of the span (not the case of these 36 answers over twelve
    years, so the rule is loosened here): the same bytes, in zones of whole hours; half-hour zones
    keep the computation."""
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's table of hours")
    monkeypatch.setattr(exports_repository, "HOURS_PER_ANSWER", 10_000)
    built = []
    fill = exports_repository.CsvLongExport._fill_hours

    async def spy(self, offsets, span):
        built.append(await fill(self, offsets, span))
        return built[-1]

    monkeypatch.setattr(exports_repository.CsvLongExport, "_fill_hours", spy)
    exporter = Exporter(sessions, _config(database_url, tmp_path, zone), environ=ENV)
    await _both(exporter, ExportRequest(campaign=CAMPAIGN), tmp_path, monkeypatch)
    assert built == [zone not in ("America/St_Johns", "Asia/Kolkata")]


@pytest.mark.parametrize("options", [
    {"separator": ";"},
    {"values": "labels", "labels": "en"},
    {"headings": "labels", "values": "labels", "separator": ";"},
    {"identified": True},
])
async def test_database_lines_equal_python_lines_with_every_option(survey, sessions, database_url, tmp_path,
                                                                  monkeypatch, options):
    exporter = Exporter(sessions, _config(database_url, tmp_path, "Europe/Paris"), environ=ENV)
    await _both(exporter, ExportRequest(campaign=CAMPAIGN, **options), tmp_path, monkeypatch)


@pytest.mark.parametrize("poll", ["poll_a", "poll_b"])  # most of the answers (a scan), a few (the index)
async def test_database_lines_of_one_poll_in_small_batches(survey, sessions, database_url, tmp_path, monkeypatch,
                                                           poll):
    exporter = Exporter(sessions, _config(database_url, tmp_path, "Europe/Paris"), environ=ENV, batch=3)
    progress: list[int] = []
    request = ExportRequest(poll_id=getattr(survey, poll))
    result = await exporter.export_to_path(request, tmp_path / "p.csv", progress=progress.append)
    # SQLite: batches of 3 lines; PostgreSQL: as the COPY's chunks come (at least 3 lines each)
    assert progress == sorted(progress) and progress[-1] == result.rows > 3
    await _both(exporter, request, tmp_path, monkeypatch)


@pytest.mark.parametrize("layout", ["long", "wide"])
async def test_the_bots_walk_writes_the_same_file_range_by_range(survey, sessions, database_url, tmp_path,
                                                                 monkeypatch, layout):
    """The running bot's large export on PostgreSQL reads range by range of the respondent key
    (issue 15, item 2: short statements, the server given back to the votes between them): the
    same bytes as one statement, with ranges of a few answers each — members with negative ids
    (anonymous polls' pseudonyms), unlinked answers among them — and a respondent never split."""
    from storage.repositories import exports as repository

    if database_url.startswith("sqlite"):
        pytest.skip("the walk is PostgreSQL's (SQLite's statements run in the bot's own process)")
    exporter = Exporter(sessions, _config(database_url, tmp_path, "Europe/Paris"), environ=ENV)
    request = ExportRequest(campaign=CAMPAIGN, layout=layout)
    whole = await exporter.export_to_path(request, tmp_path / "whole.csv")

    ranges: list[tuple[int | None, int | None]] = []
    walk_ranges = repository._Walk.ranges

    async def counted(self):
        async for pair in walk_ranges(self):
            ranges.append(pair)
            yield pair

    monkeypatch.setattr(repository, "WALK_MIN_ANSWERS", 0)  # the fixture's few answers walk too
    monkeypatch.setattr(repository, "WALK_ROWS_QUIET", 3)
    monkeypatch.setattr(repository._Walk, "ranges", counted)
    exporter.members_active = lambda: False
    walked = await exporter.export_to_path(request, tmp_path / "walked.csv")

    assert len(ranges) > 10  # many short statements…
    assert ranges[0][0] is None and ranges[-1][1] is None
    assert all(hi == next_lo for (_, hi), (next_lo, _) in zip(ranges, ranges[1:], strict=False))
    assert (tmp_path / "walked.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()  # …one file
    assert codebook_path(tmp_path / "walked.csv").read_bytes() == codebook_path(tmp_path / "whole.csv").read_bytes()
    assert dataclasses_without_files(walked) == dataclasses_without_files(whole)


async def test_while_members_are_active_the_walk_waits_between_statements(survey, sessions, database_url, tmp_path,
                                                                        monkeypatch):
    """While members interact with the bot the walk runs a statement only every WALK_QUIET_WAIT
    (and still ends, the same file); while they are quiet it does not wait."""
    import time

    from storage.repositories import exports as repository

    if database_url.startswith("sqlite"):
        pytest.skip("the walk is PostgreSQL's")
    monkeypatch.setattr(repository, "WALK_MIN_ANSWERS", 0)
    monkeypatch.setattr(repository, "WALK_ROWS_ACTIVE", 4)
    monkeypatch.setattr(repository, "WALK_ROWS_QUIET", 4)
    monkeypatch.setattr(repository, "WALK_QUIET_WAIT", 0.1)
    at: list[float] = []
    walk_ranges = repository._Walk.ranges

    async def timed(self):
        async for pair in walk_ranges(self):
            at.append(time.monotonic())
            yield pair

    monkeypatch.setattr(repository._Walk, "ranges", timed)
    exporter = Exporter(sessions, _config(database_url, tmp_path, "Europe/Paris"), environ=ENV)
    exporter.members_active = lambda: True
    await exporter.export_to_path(ExportRequest(campaign=CAMPAIGN), tmp_path / "active.csv")
    gaps = [later - earlier for earlier, later in zip(at, at[1:], strict=False)]
    assert len(gaps) > 5 and min(gaps) >= 0.09  # a range's statements, then the wait

    exporter.members_active = lambda: False
    waits: list[float] = []
    sleep = repository.asyncio.sleep

    async def counted_sleep(seconds: float) -> None:
        waits.append(seconds)
        await sleep(seconds)

    monkeypatch.setattr(repository.asyncio, "sleep", counted_sleep)
    await exporter.export_to_path(ExportRequest(campaign=CAMPAIGN), tmp_path / "quiet.csv")
    assert waits == []
    assert (tmp_path / "active.csv").read_bytes() == (tmp_path / "quiet.csv").read_bytes()


async def test_an_answer_stored_while_the_walk_reads_is_in_none_of_its_statements(survey, sessions, database_url,
                                                                                 tmp_path, monkeypatch):
    """The export reads from one snapshot (REPEATABLE READ on PostgreSQL): a member answering
    between two of the walk's statements is not half in the file (a line without its pseudonym)
    — the file is the one of the moment the export began."""
    from storage.repositories import exports as repository

    if database_url.startswith("sqlite"):
        pytest.skip("the walk is PostgreSQL's")
    exporter = Exporter(sessions, _config(database_url, tmp_path, "Europe/Paris"), environ=ENV)
    request = ExportRequest(campaign=CAMPAIGN)
    await exporter.export_to_path(request, tmp_path / "before.csv")
    async with sessions() as session:
        question_id = await session.scalar(select(Question.id).where(Question.code == "avis").limit(1))

    walk_ranges = repository._Walk.ranges
    seen = 0

    async def answering(self):
        nonlocal seen
        async for pair in walk_ranges(self):
            seen += 1
            if seen == 2:  # a new member answers, last in the respondents' order
                async with sessions.begin() as other:
                    other.add(Answer(question_id=question_id, user_id=2**62, member_type="ong", text="late"))
            yield pair

    monkeypatch.setattr(repository, "WALK_MIN_ANSWERS", 0)
    monkeypatch.setattr(repository, "WALK_ROWS_QUIET", 3)
    monkeypatch.setattr(repository._Walk, "ranges", answering)
    exporter.members_active = lambda: False
    await exporter.export_to_path(request, tmp_path / "during.csv")
    assert seen > 2
    assert (tmp_path / "during.csv").read_bytes() == (tmp_path / "before.csv").read_bytes()
