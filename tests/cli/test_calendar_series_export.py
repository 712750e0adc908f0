"""A recurring poll's occurrences in the main export (issue 12): ``reseau-bot export --series
plan-N`` — the wide layout has one column per occurrence (``q1_2026-12-03``…), the long one an
``occurrence`` column, and the codebook says which occurrence each variable is.  A weekly series
of three occurrences, read back with the csv module and openpyxl, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
from datetime import timedelta

import openpyxl

from bot.config import load_config
from bot.services.container import Services
from tests.cli.test_extracts_cli import run, write_config

GUILD, CHANNEL = 900000000000000001, 900000000000000002
U1, U2 = 401234567890123456, 401234567890123457
SECRET = {"RESEAU_EXPORT_SECRET": "a long enough secret for the tests"}
PAYLOAD = {"question": "Quel format ?", "options": "Visio; Présentiel", "kind": "single", "deadline": "2j",
           "anonymous": False}  # one row per member across occurrences (an anonymous poll pseudonymises per poll)


async def weekly_series(config_path):
    """A weekly poll run three times (each occurrence posted: its message attached) with
    votes — U1: Visio, Présentiel, Visio; U2: only the second, Visio — and a fourth occurrence
    claimed but not posted yet (not exported).  (plan id, [local occurrence times])."""
    now = [None]
    services = Services.from_config(load_config(config_path), clock=lambda: now[0])
    from storage.models import utcnow

    now[0] = utcnow()
    try:
        plan = await services.calendar.plan_poll(guild_id=GUILD, channel_id=CHANNEL, author_id=7, payload=PAYLOAD,
                                                 start="demain 9 h", repeat="weekly")

        async def post(poll, nonce, maybe_sent) -> int:
            await services.polls.attach_message(poll.id, 7_000_000 + poll.id)
            return 7_000_000 + poll.id

        votes = [{U1: "Visio"}, {U1: "Présentiel", U2: "Visio"}, {U1: "Visio"}]
        when = []
        for week, chosen in enumerate(votes):
            now[0] = plan.start_at + timedelta(weeks=week, seconds=30)
            outcome = await services.calendar.run_poll(plan.id, post)
            assert outcome is not None and outcome.error is None
            poll = await services.polls.get(outcome.poll_id)
            for user, label in chosen.items():
                option = next(o for o in poll.options if o.label == label)
                await services.polls.vote(poll.id, user_id=user, option_id=option.id)
            when.append((plan.start_at + timedelta(weeks=week)).astimezone(services.config.tz))

        async def dies(poll, nonce, maybe_sent) -> int:
            raise KeyboardInterrupt  # the fourth occurrence: claimed, never posted

        now[0] = plan.start_at + timedelta(weeks=3, seconds=30)
        try:
            await services.calendar.run_poll(plan.id, dies)
        except KeyboardInterrupt:
            pass
        return plan.id, [w.strftime("%Y-%m-%d %H:%M") for w in when]
    finally:
        await services.aclose()


def read_csv(path):
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh, delimiter=";"))


async def test_a_weekly_series_exported_wide_and_long(database_url, tmp_path):
    config = write_config(tmp_path, database_url)
    plan_id, (d1, d2, d3) = await weekly_series(config)
    days = [d[:10] for d in (d1, d2, d3)]
    columns = [f"q1_{day}" for day in days]

    # wide CSV: one row per respondent, one column per occurrence
    wide = run(config, "export", "--series", f"plan-{plan_id}", "--layout", "wide", "-o", "serie.csv", env=SECRET)
    assert wide.returncode == 0, wide.stderr
    rows = read_csv(tmp_path / "serie.csv")
    assert list(rows[0])[5:] == [name for c in columns for name in (c, f"{c}/o1", f"{c}/o2")], \
        "each occurrence in order (its answer, then its options' 0/1), nothing else"
    cells = sorted(tuple(r[c] for c in columns) for r in rows)
    assert cells == sorted([("o1", "o2", "o1"), ("", "o1", "")])
    book = {r["code"]: r for r in read_csv(tmp_path / "serie.codebook.csv")}
    for column, when in zip(columns, (d1, d2, d3), strict=True):
        assert (book[column]["occurrence"], book[column]["column"], book[column]["type"]) == (when, column, "question")
        assert book[column]["question_text"] == "Quel format ?"
    assert book["o1"]["occurrence"] in (d1, d2, d3)  # an option row names its occurrence too

    # wide with the labels as headings: the question's text and its occurrence
    labelled = run(config, "export", "--series", str(plan_id), "--layout", "wide", "--headings", "labels",
                   "-o", "labels.csv", env=SECRET)
    assert labelled.returncode == 0, labelled.stderr
    headings = [h for h in read_csv(tmp_path / "labels.csv")[0] if h.startswith("Quel format ?")]
    assert headings[::3] == [f"Quel format ? ({d})" for d in (d1, d2, d3)]
    assert headings[1:3] == [f"Quel format ? ({d1}) [Visio]", f"Quel format ? ({d1}) [Présentiel]"]

    # long XLSX: one row per answer, with the occurrence after the poll's title
    long = run(config, "export", "--series", f"plan-{plan_id}", "--layout", "long", "-o", "serie.xlsx", env=SECRET)
    assert long.returncode == 0, long.stderr
    workbook = openpyxl.load_workbook(tmp_path / "serie.xlsx", read_only=True)
    header, *data = [list(r) for r in workbook["answers"].iter_rows(values_only=True)]
    assert header[header.index("poll") + 1] == "occurrence"
    at = {name: header.index(name) for name in ("occurrence", "question_code", "option_label", "respondent")}
    got = sorted((r[at["occurrence"]], r[at["question_code"]], r[at["option_label"]]) for r in data)
    assert got == sorted([
        (d1, columns[0], "Visio"), (d2, columns[1], "Présentiel"), (d2, columns[1], "Visio"), (d3, columns[2], "Visio"),
    ])
    assert len({r[at["respondent"]] for r in data}) == 2 and str(U1) not in str(data)
    codebook_header, *codebook = [list(r) for r in workbook["codebook"].iter_rows(values_only=True)]
    assert codebook_header[-1] == "occurrence"
    assert {(r[0], r[-1]) for r in codebook if r[2] == "question"} == set(zip(columns, (d1, d2, d3), strict=True))

    # a long CSV carries the same column; a poll or campaign export does not
    run(config, "export", "--series", f"plan-{plan_id}", "-o", "long.csv", env=SECRET)
    assert {r["occurrence"] for r in read_csv(tmp_path / "long.csv")} == {d1, d2, d3}
    first_poll = rows and int(next(r for r in read_csv(tmp_path / "long.csv"))["poll_id"])
    single = run(config, "export", "--poll", str(first_poll), "-o", "poll.csv", env=SECRET)
    assert single.returncode == 0 and "occurrence" not in read_csv(tmp_path / "poll.csv")[0]

    # a bad or unknown series: one line, no traceback, no file
    for ref, said in ((f"plan-{plan_id + 50}", "Aucune série"), ("annonce-3", "référence")):
        bad = run(config, "export", "--series", ref, "-o", "bad.csv", env=SECRET)
        assert bad.returncode != 0 and said in bad.stderr and "Traceback" not in bad.stderr, bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "bad.csv").exists()
