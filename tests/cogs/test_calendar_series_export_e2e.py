"""/export series:plan-N on SimCord (issue 12): a weekly poll's three occurrences, run with
virtual time and answered by members, come out of the main export as one series — wide: one
column per occurrence; long: the occurrence's date in its own column; the codebook names each
variable's occurrence.  The series is offered in the option's autocomplete (moderators only)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import openpyxl
import pytest
import simcord

from bot.errors import InvalidInput, NotFound
from bot.services import calendar as service
from tests.cogs.test_calendar_e2e import TOMORROW_9_UTC, fire, plan, poll_posts, polls_in
from tests.cogs.test_exports_e2e import SECRET, _message_with_files
from tests.command_access import open_to_everyone
from tests.time_ahead import NOW, at, local_text

pytestmark = pytest.mark.simcord(settle_timeout=60)  # exports in a worker process (tests/cogs/test_exports_e2e.py)


async def weekly_series(world) -> tuple[int, list[str]]:
    """A weekly poll (named answers) posted three times; member_fr answers each occurrence
    (Visio, Présentiel, Visio), member_en the second (Visio).  (plan id, local occurrences)."""
    world.env.bot.clock = at(NOW)
    await plan(world, start="demain 9 h", repeat="hebdomadaire", deadline="2j", anonymous=False)
    [planned] = await world.env.bot.services.calendar.plans()
    occurrences = [TOMORROW_9_UTC + timedelta(weeks=k) for k in range(3)]
    for number, when in enumerate(occurrences, start=1):
        await fire(world, service.poll_job_id(planned.id), when)
        posted = poll_posts(world.fr)[-1]
        await world.member_fr.click(posted, label="Visio" if number != 2 else "Présentiel")
        if number == 2:
            await world.member_en.click(posted, label="Visio")
    return planned.id, [local_text(when) for when in occurrences]


async def test_a_weekly_series_in_the_export_wide_and_long(world, sessions, monkeypatch):
    monkeypatch.setenv("RESEAU_EXPORT_SECRET", SECRET)
    plan_id, (d1, d2, d3) = await weekly_series(world)
    assert len(await polls_in(sessions)) == 3
    columns = [f"q1_{d[:10]}" for d in (d1, d2, d3)]

    offered = await world.moderator.autocomplete(world.fr, "export", "series", "")
    assert [c["value"] for c in offered] == [f"plan-{plan_id}"]
    await open_to_everyone(world, "export")
    assert await world.member_fr.autocomplete(world.fr, "export", "series", "") == [], "moderators only"

    wide = await world.moderator.slash(world.fr, "export", format="xlsx", layout="wide", series=f"plan-{plan_id}")
    message = _message_with_files(wide)
    assert message.ephemeral and "Export prêt" in message.content
    (attachment,) = message.attachments
    assert attachment.filename == f"series-plan-{plan_id}-wide.xlsx"
    workbook = openpyxl.load_workbook(io.BytesIO(await attachment.read()), read_only=True)
    header, *rows = [list(r) for r in workbook["answers"].iter_rows(values_only=True)]
    rows = [r + [None] * (len(header) - len(r)) for r in rows]  # a row's trailing blank cells are not written
    assert [h for h in header if h.startswith("q1_") and "/" not in h] == columns
    answers = sorted(tuple(r[header.index(c)] or "" for c in columns) for r in rows)
    assert answers == sorted([("o1", "o2", "o1"), ("", "o1", "")]), "one row per member, one column per occurrence"
    book_header, *book = [list(r) for r in workbook["codebook"].iter_rows(values_only=True)]
    occurrence = book_header.index("occurrence")
    assert [(r[0], r[occurrence]) for r in book if r[2] == "question"] == list(zip(columns, (d1, d2, d3), strict=True))

    long = await world.moderator.slash(world.fr, "export", format="csv", series=f"plan-{plan_id}")
    files = {a.filename: a for a in _message_with_files(long).attachments}
    assert set(files) == {f"series-plan-{plan_id}-long.csv", f"series-plan-{plan_id}-long.codebook.csv"}
    data = (await files[f"series-plan-{plan_id}-long.csv"].read()).decode("utf-8-sig")
    lines = list(csv.DictReader(io.StringIO(data), delimiter=";"))
    assert sorted((r["occurrence"], r["question_code"], r["option_label"]) for r in lines) == sorted([
        (d1, columns[0], "Visio"), (d2, columns[1], "Présentiel"), (d2, columns[1], "Visio"),
        (d3, columns[2], "Visio"),
    ])
    assert list(lines[0])[list(lines[0]).index("poll") + 1] == "occurrence"

    # not a series of this server, not a reference: said clearly, nothing attached
    missing = await world.moderator.slash(world.fr, "export", format="csv", series=f"plan-{plan_id + 9}")
    assert "Aucune série" in missing.response.content and not missing.response.attachments
    simcord.assert_error(world.env, NotFound)
    both = await world.moderator.slash(world.fr, "export", format="csv", series=f"plan-{plan_id}", poll=1)
    assert "une seule chose" in both.response.content
    simcord.assert_error(world.env, InvalidInput)
    other = await world.moderator.slash(world.fr, "export", format="csv", series="announcement-5")
    assert other.response.content == (
        "«\u202fannouncement-5\u202f» n’est pas une série de sondages\u202f: donnez sa référence plan-N "
        "(voir /calendrier liste).")
    simcord.assert_error(world.env, InvalidInput)
    nothing = await world.moderator.slash(world.fr, "export", format="csv")
    assert "une série de sondages" in nothing.response.content  # the three scopes, series included
    simcord.assert_error(world.env, InvalidInput)
