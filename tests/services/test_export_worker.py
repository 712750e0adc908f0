"""A loop that never stalls (issue 15, item 2): an export written in a worker process gives the
same files as one written in the bot's process, and the same domain errors (key and parameters);
a chart drawn in the worker process gives the same bytes as one drawn in the calling thread."""

from __future__ import annotations

import pytest

from bot.errors import NotFound
from bot.services import charts
from bot.services.exports import Exporter, ExportRequest, ExportTooLarge, MissingSecret
from bot.services.exports.worker import export_to_path_in_worker
from tests.export_data import CAMPAIGN, build_survey

ENV = {"RESEAU_EXPORT_SECRET": "correct horse battery staple 2026"}


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
async def test_the_worker_writes_the_same_files(sessions, config, tmp_path, fmt):
    await build_survey(sessions, 111)
    exporter = Exporter(sessions, config, environ=ENV)
    here, there = tmp_path / f"here.{fmt}", tmp_path / f"there.{fmt}"
    ours = await exporter.export_to_path(ExportRequest(campaign=CAMPAIGN, format=fmt), here)
    theirs = await export_to_path_in_worker(exporter, ExportRequest(campaign=CAMPAIGN, format=fmt), there)
    assert (theirs.rows, theirs.answers, theirs.columns) == (ours.rows, ours.answers, ours.columns)
    assert theirs.rows > 0
    assert [f.name for f in theirs.files] == [f.name.replace("here", "there") for f in ours.files]
    if fmt == "csv":  # XLSX zips carry a timestamp; the CSV and its codebook are byte for byte
        for mine, other in zip(ours.files, theirs.files, strict=True):
            assert other.read_bytes() == mine.read_bytes()


async def test_the_workers_errors_are_the_same_domain_errors(sessions, config, tmp_path):
    await build_survey(sessions, 111)
    with pytest.raises(NotFound) as missing:
        await export_to_path_in_worker(Exporter(sessions, config, environ=ENV),
                                       ExportRequest(campaign="no such campaign"), tmp_path / "x.csv")
    assert missing.value.key == "export.error.campaign_not_found"
    assert missing.value.params == {"name": "no such campaign"}
    with pytest.raises(MissingSecret) as secret:
        await export_to_path_in_worker(Exporter(sessions, config, environ={}), ExportRequest(campaign=CAMPAIGN),
                                       tmp_path / "y.csv")
    assert secret.value.params["env"] == "RESEAU_EXPORT_SECRET"
    with pytest.raises(ExportTooLarge):
        await export_to_path_in_worker(Exporter(sessions, config, environ=ENV), ExportRequest(campaign=CAMPAIGN),
                                       tmp_path / "z.csv", max_bytes=200)
    assert not any(tmp_path.glob("[xyz]*.csv"))  # nothing left behind


def test_a_chart_drawn_in_the_worker_process_is_the_same_png():
    labels = [f"Réponse {i}" for i in range(25)]
    counts = [(i * 7) % 11 for i in range(25)]
    here = charts.results_chart("Sondage", labels, counts, lang="en")
    charts.draw_in_worker_process()
    try:
        there = charts.results_chart("Sondage", labels, counts, lang="en")
        assert charts._pool is not None  # it did go through the worker
        with pytest.raises(ValueError, match="expected 25 counts"):  # an error comes back as itself
            charts.results_chart("Sondage", labels, counts[:3])
    finally:
        charts.draw_in_worker_process(False)
    assert there == here


async def test_the_answer_stream_keeps_awkward_texts_and_nulls(sessions):
    """On PostgreSQL the stream is COPY's text format parsed as it comes (tabs, newlines and
    backslashes escaped, NULL as ``\\N``); on SQLite the cursor's tuples: the same rows on both."""
    from sqlalchemy import func
    from sqlalchemy import select as sa_select

    from storage.models import Answer, Question
    from storage.repositories.exports import ExportRepository
    from tests.export_data import WINTER

    survey = await build_survey(sessions, 111)
    awkward = ["tab\there", "line\nbreak\r\nend", "back\\slash \\N \\t", "\\N", "", "é€😀 «»", None]
    async with sessions.begin() as session:
        question = (await session.scalars(sa_select(Question).where(Question.poll_id == survey.poll_b,
                                                                    Question.kind == "text"))).one()
        for i, text in enumerate(awkward):
            session.add(Answer(question_id=question.id, user_id=7_000 + i, member_type=None if i % 2 else "ong\t2",
                               text=text, answered_at=WINTER, updated_at=WINTER))
    async with sessions() as session:
        parts = [part async for part in ExportRepository(session).stream_answers([survey.poll_b], batch=2)]
    rows = [row for part in parts for row in part]
    mine = {row[1]: row for row in rows if row[1] is not None and 7_000 <= row[1] < 8_000}
    assert {u: (r[2], r[3]) for u, r in mine.items()} == {
        7_000 + i: (None if i % 2 else "ong\t2", text) for i, text in enumerate(awkward)
    }
    assert all(r[4].startswith("2026-01-15 09:30:05") and r[6] is None for r in mine.values())
    assert all(len(part) == 2 for part in parts[:-1]) and 1 <= len(parts[-1]) <= 2  # batches of 2
    async with sessions() as session:
        stored = await session.scalar(sa_select(func.count()).select_from(Answer).join(Question)
                                      .where(Question.poll_id == survey.poll_b))
    assert len({r[0] for r in rows}) == stored
