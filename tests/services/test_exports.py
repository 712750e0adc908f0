"""Exports on a real database: every format and layout read back, the codebook against the data,
long and wide holding the same answers, pseudonyms, the CLI."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select

from bot.errors import InvalidInput, NotFound
from bot.services import exports as exports_module
from bot.services.exports import (
    CODEBOOK_COLUMNS,
    LONG_COLUMNS,
    WIDE_FIXED_COLUMNS,
    Exporter,
    ExportRequest,
    ExportTooLarge,
    MissingSecret,
    codebook_path,
    pseudonym,
)
from bot.services.exports import writers as export_writers
from storage.models import AuditEntry
from tests.export_data import CAMPAIGN, FORMULA, OTHER_GUILD, U1, U2, U3, Survey, build_survey
from tests.paths import REPO

SECRET = "correct horse battery staple 2026"
ENV = {"RESEAU_EXPORT_SECRET": SECRET}
GUILD = 111


@pytest.fixture
async def survey(sessions) -> Survey:
    return await build_survey(sessions, GUILD)


@pytest.fixture
def out(tmp_path) -> Path:
    """Where the files go (the SQLite database lives in tmp_path itself)."""
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


@pytest.fixture
def exporter(sessions, config) -> Exporter:
    return Exporter(sessions, config, environ=ENV)


# --------------------------------------------------------------------------- reading back
def read_table(path: Path, fmt: str, separator: str = ",", sheet: str = "answers") -> tuple[list[str], list[dict]]:
    """Header and rows; every cell as a string, a blank cell as None."""

    def norm(value):
        return None if value is None or value == "" else str(value)

    if fmt == "csv":
        raw = path.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf"), "CSV starts with a UTF-8 BOM"
        reader = csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""), delimiter=separator)
        header, *rows = list(reader)
        assert all(len(r) == len(header) for r in rows)
        return header, [{k: norm(v) for k, v in zip(header, r, strict=True)} for r in rows]
    if fmt == "json":
        raw = path.read_bytes()
        assert not raw.startswith(b"\xef\xbb\xbf")
        objects = [json.loads(line) for line in raw.decode("utf-8").splitlines()]
        header = list(objects[0]) if objects else []
        assert all(list(o) == header for o in objects)
        return header, [{k: norm(v) for k, v in o.items()} for o in objects]
    workbook = openpyxl.load_workbook(path, read_only=True)
    values = list(workbook[sheet].iter_rows(values_only=True))
    header = [str(h) for h in values[0]]
    padded = [tuple(r) + (None,) * (len(header) - len(r)) for r in values[1:]]  # trailing blanks are not stored
    return header, [{k: norm(v) for k, v in zip(header, r, strict=True)} for r in padded]


def read_codebook(path: Path, fmt: str, separator: str = ",") -> list[dict]:
    if fmt == "xlsx":
        header, rows = read_table(path, fmt, sheet="codebook")
    else:
        header, rows = read_table(codebook_path(path), fmt, separator)
    assert tuple(header) == CODEBOOK_COLUMNS
    assert header[:2] == ["code", "label"]
    return rows


def exported_code(survey: Survey, poll_id: int, code: str) -> str:
    """``besoin`` exists in both polls of the campaign: the export qualifies it with the poll."""
    return f"besoin_p{poll_id}" if code == "besoin" else code


def shown_text(text: str | None, fmt: str) -> str | None:
    """CSV neutralises texts a spreadsheet would run as a formula."""
    if fmt == "csv" and text and text[0] in "=+-@":
        return "'" + text
    return text


def expected_answers(survey: Survey, fmt: str, respondent_of) -> dict[tuple[str, str], tuple[frozenset, str | None]]:
    out = {}
    for a in survey.answers:
        respondent = f"anon-{a.id}" if a.user_id is None else respondent_of(a.user_id)
        out[(respondent, exported_code(survey, a.poll_id, a.question_code))] = (
            frozenset(a.options), shown_text(a.text, fmt)
        )
    return out


def answers_from_long(rows: list[dict]) -> dict:
    out: dict[tuple[str, str], tuple[set, str | None]] = {}
    for r in rows:
        key = (r["respondent"], r["question_code"])
        options, text = out.setdefault(key, (set(), r["text"]))
        assert text == r["text"], "every row of one answer carries the same text"
        if r["option_code"] is not None:
            options.add(r["option_code"])
    return {k: (frozenset(o), t) for k, (o, t) in out.items()}


def answers_from_wide(rows: list[dict], codebook: list[dict]) -> dict:
    questions = [c for c in codebook if c["type"] == "question"]
    options = {q["code"]: [c for c in codebook if c["type"] == "option" and c["question"] == q["code"]]
               for q in questions}
    out = {}
    for r in rows:
        for q in questions:
            column = q["column"]
            if q["kind"] == "text":
                if r[column] is not None:
                    out[(r["respondent"], q["code"])] = (frozenset(), r[column])
                continue
            flags = {o["code"]: r[o["column"]] for o in options[q["code"]]}
            if all(v is None for v in flags.values()):
                assert r[column] is None, "an unanswered question is blank in all its columns"
                continue
            assert set(flags.values()) <= {"0", "1"}
            chosen = frozenset(code for code, v in flags.items() if v == "1")
            combined = frozenset((r[column] or "").split())
            assert combined == chosen, "the combined column and the 0/1 columns agree"
            out[(r["respondent"], q["code"])] = (chosen, None)
    return out


def check_codebook_covers(rows: list[dict], codebook: list[dict], layout: str, header: list[str]) -> None:
    questions = {c["code"]: c for c in codebook if c["type"] == "question"}
    options = {(c["question"], c["code"]): c["label"] for c in codebook if c["type"] == "option"}
    member_types = {c["code"]: c["label"] for c in codebook if c["type"] == "member_type"}
    assert all(c["label"] for c in codebook), "every code has a label"
    for r in rows:
        if r["member_type"] is not None:
            assert r["member_type"] in member_types
    if layout == "long":
        for r in rows:
            assert r["question_code"] in questions
            if r["option_code"] is not None:
                assert options[(r["question_code"], r["option_code"])] == r["option_label"]
    else:
        columns = {c["column"] for c in codebook if c["column"]}
        assert set(header) - set(WIDE_FIXED_COLUMNS) <= columns, "every wide column is in the codebook"
        for q in questions.values():
            if q["kind"] != "text":
                for r in rows:
                    for code in (r[q["column"]] or "").split():
                        assert (q["code"], code) in options


# --------------------------------------------------------------------------- every format and layout
@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
async def test_long_and_wide_hold_the_same_answers_in_every_format(survey, exporter, out, fmt):
    results = {}
    for layout in ("long", "wide"):
        path = out / f"campaign-{layout}.{fmt}"
        request = ExportRequest(campaign=CAMPAIGN, format=fmt, layout=layout, separator=";" if fmt == "csv" else ",")
        result = await exporter.export_to_path(request, path)
        assert result.files[0] == path
        assert len(result.files) == (1 if fmt == "xlsx" else 2)
        header, rows = read_table(path, fmt, request.separator)
        codebook = read_codebook(path, fmt, request.separator)
        check_codebook_covers(rows, codebook, layout, header)
        results[layout] = (header, rows, codebook, result)

    long_header, long_rows, codebook, long_result = results["long"]
    assert tuple(long_header) == LONG_COLUMNS
    wide_header, wide_rows, wide_codebook, wide_result = results["wide"]
    assert wide_header[: len(WIDE_FIXED_COLUMNS)] == list(WIDE_FIXED_COLUMNS)

    expected = expected_answers(survey, fmt, lambda uid: pseudonym(uid, SECRET.encode()))
    assert answers_from_long(long_rows) == expected
    assert answers_from_wide(wide_rows, wide_codebook) == {
        k: (opts, text) for k, (opts, text) in expected.items()
    }
    # one row per chosen option, one per answer without a choice
    assert len(long_rows) == sum(max(1, len(a.options)) for a in survey.answers) == long_result.rows
    assert long_result.answers == wide_result.answers == len(survey.answers)
    # one wide row per respondent: three members and two unlinked answers
    assert len(wide_rows) == 5 == wide_result.respondents == long_result.respondents
    assert len({r["respondent"] for r in wide_rows}) == 5


async def test_long_rows_order_and_columns(survey, exporter, out):
    path = out / "long.csv"
    await exporter.export_to_path(ExportRequest(campaign=CAMPAIGN, format="csv"), path)
    _, rows = read_table(path, "csv")
    u1 = pseudonym(U1, SECRET.encode())
    mine = [r for r in rows if r["respondent"] == u1]
    # a respondent's rows are together, by poll then question then option position
    first = rows.index(mine[0])
    assert rows[first : first + len(mine)] == mine
    assert [(r["question_code"], r["option_code"]) for r in mine] == [
        (f"besoin_p{survey.poll_a}", "financement"),
        ("themes", "climat"), ("themes", "education"), ("themes", "eau"),
        ("avis", None),
        (f"besoin_p{survey.poll_b}", "oui"),
        ("commentaire", None),
    ]
    themes = mine[1]
    assert themes["member_type"] == "collectivite"
    assert themes["campaign"] == CAMPAIGN
    assert themes["poll_id"] == str(survey.poll_a) and themes["poll"] == "Besoins des membres"
    assert themes["option_label"] == "Climat"
    # times: UTC with Z, local (Europe/Paris) with its offset, winter and summer
    assert themes["answered_at_utc"] == "2026-01-15T09:30:05Z"
    assert themes["answered_at_local"] == "2026-01-15T10:30:05+01:00"
    assert mine[5]["answered_at_utc"] == "2026-07-02T16:45:00Z"
    assert mine[5]["answered_at_local"] == "2026-07-02T18:45:00+02:00"
    assert mine[6]["text"] == "Ligne 1\nLigne 2, avec « guillemets »"
    anon = [r for r in rows if r["respondent"].startswith("anon-")]
    assert len(anon) == 2 and {r["member_type"] for r in anon} == {"collectivite", None}


async def test_wide_row_of_a_respondent(survey, exporter, out):
    path = out / "wide.csv"
    await exporter.export_to_path(ExportRequest(campaign=CAMPAIGN, format="csv", layout="wide"), path)
    header, rows = read_table(path, "csv")
    a, b = survey.poll_a, survey.poll_b
    assert header == [
        *WIDE_FIXED_COLUMNS,
        f"besoin_p{a}", f"besoin_p{a}/formation", f"besoin_p{a}/financement", f"besoin_p{a}/reseau",
        "themes", "themes/climat", "themes/sante", "themes/education", "themes/eau",
        "avis",
        f"besoin_p{b}", f"besoin_p{b}/oui", f"besoin_p{b}/non",
        "commentaire",
    ]
    by_respondent = {r["respondent"]: r for r in rows}
    u1 = by_respondent[pseudonym(U1, SECRET.encode())]
    assert u1["themes"] == "climat education eau"
    assert [u1[f"themes/{c}"] for c in ("climat", "sante", "education", "eau")] == ["1", "0", "1", "1"]
    assert u1["last_answered_at_utc"] == "2026-07-02T16:45:00Z"
    assert u1["campaign"] == CAMPAIGN
    u2 = by_respondent[pseudonym(U2, SECRET.encode())]
    assert u2["themes"] is None and u2["themes/climat"] == "0", "answered, nothing chosen"
    assert u2["avis"] is None
    u3 = by_respondent[pseudonym(U3, SECRET.encode())]
    assert u3[f"besoin_p{a}"] is None and u3[f"besoin_p{a}/formation"] is None, "not answered: blank"
    assert u3["member_type"] == "ong"


async def test_wide_headings_as_labels(survey, exporter, out):
    path = out / "labels.xlsx"
    await exporter.export_to_path(
        ExportRequest(campaign=CAMPAIGN, format="xlsx", layout="wide", headings="labels"), path
    )
    header, rows = read_table(path, "xlsx")
    assert "Quels thèmes vous concernent ?" in header
    assert "Quels thèmes vous concernent ? [Éducation]" in header
    codebook = read_codebook(path, "xlsx")
    column_of = {(c["type"], c["question"], c["code"]): c["column"] for c in codebook}
    assert column_of[("option", "themes", "sante")] == "Quels thèmes vous concernent ? [Santé]"
    # long and wide still agree when read through the codebook's columns
    expected = expected_answers(survey, "xlsx", lambda uid: pseudonym(uid, SECRET.encode()))
    assert answers_from_wide(rows, codebook) == expected


async def test_codebook_lists_questions_options_and_member_types(survey, exporter, out):
    path = out / "poll.json"
    await exporter.export_to_path(ExportRequest(poll_id=survey.poll_a, format="json", layout="wide"), path)
    codebook = read_codebook(path, "json")
    questions = [c for c in codebook if c["type"] == "question"]
    assert [(q["code"], q["kind"]) for q in questions] == [("besoin", "single"), ("themes", "multi"), ("avis", "text")]
    assert questions[1]["label"] == "Quels thèmes vous concernent ?" and questions[1]["max_choices"] == "3"
    option = next(c for c in codebook if c["type"] == "option" and c["code"] == "education")
    assert option["label"] == "Éducation" and option["question"] == "themes"
    assert option["question_text"] == "Quels thèmes vous concernent ?" and option["column"] == "themes/education"
    types = {c["code"]: c["label"] for c in codebook if c["type"] == "member_type"}
    assert types["collectivite"] == "Collectivité territoriale"
    # a single poll: its question code is not qualified, its campaign is still named
    _, rows = read_table(path, "json")
    assert {r["campaign"] for r in rows} == {CAMPAIGN}


async def test_csv_separator_bom_and_formula_neutralised(survey, exporter, out):
    path = out / "fr.csv"
    await exporter.export_to_path(ExportRequest(campaign=CAMPAIGN, format="csv", separator=";"), path)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf" + b"respondent;member_type;campaign;")
    assert "s’il vous plaît ; merci" in raw.decode("utf-8-sig")  # quoted, not split
    _, rows = read_table(path, "csv", ";")
    texts = {r["text"] for r in rows if r["text"]}
    assert "'" + FORMULA in texts and FORMULA not in texts
    assert "'-  mieux coordonner" in texts
    codebook = codebook_path(path).read_bytes()
    assert codebook.startswith(b"\xef\xbb\xbfcode;label;type;")


async def test_xlsx_formula_text_is_a_text_cell_and_codebook_sheet(survey, exporter, out):
    path = out / "x.xlsx"
    await exporter.export_to_path(ExportRequest(campaign=CAMPAIGN, format="xlsx"), path)
    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames == ["answers", "codebook"]
    sheet = workbook["answers"]
    text_col = LONG_COLUMNS.index("text") + 1
    cells = [sheet.cell(row=i, column=text_col) for i in range(2, sheet.max_row + 1)]
    formula = [c for c in cells if c.value == FORMULA]
    assert len(formula) == 1 and formula[0].data_type == "s"
    assert not path.with_name("x.codebook.xlsx").exists()


async def test_xlsx_rolls_over_to_a_new_sheet_past_the_row_limit(survey, exporter, out, monkeypatch):
    monkeypatch.setattr(export_writers, "XLSX_MAX_ROWS", 6)  # where the XLSX writer reads it
    path = out / "roll.xlsx"
    result = await exporter.export_to_path(ExportRequest(campaign=CAMPAIGN, format="xlsx"), path)
    workbook = openpyxl.load_workbook(path, read_only=True)
    data_sheets = [name for name in workbook.sheetnames if name.startswith("answers")]
    assert data_sheets == ["answers", "answers (2)", "answers (3)"]  # 14 rows, 5 a sheet under a header
    assert workbook.sheetnames[3] == "codebook"
    rows = [r for name in data_sheets for r in list(workbook[name].iter_rows(values_only=True))[1:]]
    assert len(rows) == result.rows


# --------------------------------------------------------------------------- respondents
async def test_pseudonyms_are_stable_keyed_and_hide_the_id(survey, sessions, config, out):
    def respondents(path):
        return [r["respondent"] for r in read_table(path, "csv")[1]]

    first, second, other = out / "1.csv", out / "2.csv", out / "3.csv"
    await Exporter(sessions, config, environ=ENV).export_to_path(ExportRequest(campaign=CAMPAIGN), first)
    await Exporter(sessions, config, environ=ENV).export_to_path(ExportRequest(campaign=CAMPAIGN), second)
    await Exporter(sessions, config, environ={"RESEAU_EXPORT_SECRET": "another secret, long enough"}).export_to_path(
        ExportRequest(campaign=CAMPAIGN), other
    )
    assert respondents(first) == respondents(second), "same secret, same pseudonyms"
    linked = {r for r in respondents(first) if not r.startswith("anon-")}
    assert len(linked) == 3
    assert all(re.fullmatch(r"[0-9a-f]{16}", r) for r in linked)
    assert linked == {pseudonym(uid, SECRET.encode()) for uid in (U1, U2, U3)}, "HMAC-SHA256 of the id, as documented"
    assert linked.isdisjoint({r for r in respondents(other) if not r.startswith("anon-")})
    everything = b"".join(p.read_bytes() for p in out.iterdir())
    for uid in (U1, U2, U3):
        assert str(uid).encode() not in everything, "no raw Discord id in a pseudonymised export"
    assert sorted(r for r in respondents(first) if r.startswith("anon-")) == sorted(
        f"anon-{a.id}" for a in survey.answers if a.user_id is None
    )


@pytest.mark.parametrize("secret", [b"k" * 16, "clé très secrète".encode(), b"\x00" * 64, bytes(range(65)), b"s" * 200])
def test_respondent_ids_are_the_documented_hmac_for_every_key_length(secret):
    """The export's per-respondent function spells HMAC out over two keyed SHA-256 states (a key
    longer than a block is hashed first): it gives :func:`pseudonym`, which is the library's
    ``hmac``, for ids given as ints or as the database's text."""
    import hmac
    import random

    from bot.services.exports.pseudonyms import respondent_ids

    of = respondent_ids(secret)
    rng = random.Random(7)
    ids = [0, 1, -1, U1, -(2**63), 2**63 - 1, *(rng.randrange(-(2**63), 2**63) for _ in range(200))]
    for uid in ids:
        expected = hmac.new(secret, str(uid).encode(), "sha256").hexdigest()[:16]
        assert of(uid) == of(str(uid)) == pseudonym(uid, secret) == expected
    assert respondent_ids(None)(U1) == str(U1)


def _write_calls() -> int:
    with open("/proc/self/io", encoding="ascii") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("syscw:"))


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="counts write(2) calls through Linux's /proc")
def test_an_export_file_reaches_the_kernel_in_slices(tmp_path):
    """A batch of lines (megabytes) is written in slices of at most WRITE_SLICE bytes: a long
    write(2) into the page cache holds its CPU in the kernel, where a kernel without preemption
    lets no vote's thread in (issue 15, item 2).  The bytes are the same."""
    data = bytes(range(256)) * (4 * 1024 * 1024 // 256 + 3)  # 4 MiB and a bit
    path = tmp_path / "big.csv"
    before = _write_calls()
    with export_writers.open_output(path) as out:
        out.write(b"header\r\n")
        out.write(data)
        out.write(memoryview(data)[:5])
    calls = _write_calls() - before
    assert path.read_bytes() == b"header\r\n" + data + data[:5]
    assert calls >= len(data) // export_writers.WRITE_SLICE, f"{calls} write(2) calls for {len(data):,} bytes"


async def test_identified_gives_raw_ids_without_a_secret(survey, sessions, config, out):
    path = out / "id.csv"
    exporter = Exporter(sessions, config, environ={})
    await exporter.export_to_path(ExportRequest(campaign=CAMPAIGN, layout="wide", identified=True), path)
    respondents = {r["respondent"] for r in read_table(path, "csv")[1]}
    assert {str(U1), str(U2), str(U3)} <= respondents


@pytest.mark.parametrize("environ", [{}, {"RESEAU_EXPORT_SECRET": ""}, {"RESEAU_EXPORT_SECRET": "short"}])
async def test_missing_secret_is_a_clear_error_and_writes_nothing(survey, sessions, config, out, environ):
    path = out / "none.csv"
    with pytest.raises(MissingSecret) as caught:
        await Exporter(sessions, config, environ=environ).export_to_path(ExportRequest(campaign=CAMPAIGN), path)
    assert caught.value.params["env"] == "RESEAU_EXPORT_SECRET"
    from bot.i18n import Catalogue

    message = Catalogue.load().t(caught.value.key, "en", **caught.value.params)
    assert "RESEAU_EXPORT_SECRET" in message
    assert list(out.iterdir()) == []


async def test_secret_variable_name_comes_from_the_config(survey, sessions, config, out):
    config = dataclasses.replace(
        config, privacy=dataclasses.replace(config.privacy, pseudonym_secret_env="MY_EXPORT_KEY")
    )
    with pytest.raises(MissingSecret) as caught:
        await Exporter(sessions, config, environ=ENV).export_to_path(ExportRequest(campaign=CAMPAIGN), out / "a.csv")
    assert caught.value.params["env"] == "MY_EXPORT_KEY"
    result = await Exporter(sessions, config, environ={"MY_EXPORT_KEY": SECRET}).export_to_path(
        ExportRequest(campaign=CAMPAIGN), out / "b.csv"
    )
    assert result.respondents == 5


# --------------------------------------------------------------------------- scope, limits, audit
async def test_guild_scope_and_unknown_targets(survey, exporter, out):
    with pytest.raises(NotFound) as caught:
        await exporter.export_to_path(ExportRequest(poll_id=survey.poll_c, guild_id=GUILD), out / "c.csv")
    assert caught.value.key == "export.error.poll_not_found"
    with pytest.raises(NotFound) as caught:
        await exporter.export_to_path(ExportRequest(campaign=CAMPAIGN, guild_id=OTHER_GUILD), out / "d.csv")
    assert caught.value.key == "export.error.campaign_empty"
    with pytest.raises(NotFound) as caught:
        await exporter.export_to_path(ExportRequest(campaign="Nope"), out / "e.csv")
    assert caught.value.key == "export.error.campaign_not_found"
    # the CLI (no guild) sees every guild's polls
    result = await exporter.export_to_path(ExportRequest(poll_id=survey.poll_c), out / "f.csv")
    assert result.answers == 0 and result.rows == 0
    assert sorted(out.iterdir()) == [out / "f.codebook.csv", out / "f.csv"]


async def test_a_failed_export_leaves_an_earlier_file_of_that_name_as_it_was(survey, exporter, out):
    """An unknown poll, a size over the limit, a codebook whose place is a folder: the files that
    were there stay as they were, and nothing else is left behind."""
    (out / "k.csv").write_text("keep", encoding="utf-8")
    (out / "k.codebook.csv").write_text("keep too", encoding="utf-8")
    with pytest.raises(NotFound) as caught:
        await exporter.export_to_path(ExportRequest(poll_id=999_999), out / "k.csv")
    assert caught.value.key == "export.error.poll_not_found_anywhere"  # no guild: not « sur ce serveur »
    with pytest.raises(ExportTooLarge):
        await exporter.export_to_path(ExportRequest(campaign=CAMPAIGN), out / "k.csv", max_bytes=200)
    (out / "j.codebook.csv").mkdir()
    (out / "j.csv").write_text("keep", encoding="utf-8")
    with pytest.raises(OSError):
        await exporter.export_to_path(ExportRequest(campaign=CAMPAIGN), out / "j.csv")
    assert (out / "k.csv").read_text(encoding="utf-8") == "keep"
    assert (out / "k.codebook.csv").read_text(encoding="utf-8") == "keep too"
    assert (out / "j.csv").read_text(encoding="utf-8") == "keep"
    assert sorted(p.name for p in out.iterdir()) == ["j.codebook.csv", "j.csv", "k.codebook.csv", "k.csv"]
    # and a successful one replaces them
    result = await exporter.export_to_path(ExportRequest(campaign=CAMPAIGN), out / "k.csv")
    assert result.files == (out / "k.csv", out / "k.codebook.csv")
    assert (out / "k.csv").read_bytes().startswith(b"\xef\xbb\xbfrespondent")


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"poll_id": 1, "campaign": "x"}, {"poll_id": 1, "format": "ods"}, {"poll_id": 1, "layout": "tall"},
     {"poll_id": 1, "headings": "both"}, {"poll_id": 1, "separator": "|"}],
)
def test_bad_requests_are_refused(kwargs):
    with pytest.raises(InvalidInput):
        ExportRequest(**kwargs)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
async def test_too_large_stops_and_leaves_nothing(survey, exporter, out, fmt):
    with pytest.raises(ExportTooLarge):
        await exporter.export_to_path(ExportRequest(campaign=CAMPAIGN, format=fmt), out / f"big.{fmt}",
                                      max_bytes=200)
    assert list(out.iterdir()) == []


async def test_progress_and_audit(survey, exporter, sessions, out):
    seen: list[int] = []
    small = Exporter(exporter.sessions, exporter.config, environ=ENV, batch=3)
    request = ExportRequest(campaign=CAMPAIGN, actor_id=77, guild_id=GUILD)
    total = await small.count_rows(request)
    result = await small.export_to_path(request, out / "p.csv", progress=seen.append)
    assert total == result.rows == seen[-1]
    assert seen == sorted(seen) and len(seen) > 2, "progress is reported batch by batch"
    async with sessions() as session:
        entry = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "export"))).one()
    assert entry.actor_id == 77 and entry.target_type == "campaign" and entry.guild_id == GUILD
    assert entry.details["rows"] == result.rows and entry.details["identified"] is False
    assert str(U1) not in json.dumps(entry.details)


async def test_wide_with_small_batches_splits_no_respondent(survey, exporter, out):
    """A respondent's rows may straddle two batches of the cursor; they still make one row."""
    small = Exporter(exporter.sessions, exporter.config, environ=ENV, batch=2)
    result = await small.export_to_path(ExportRequest(campaign=CAMPAIGN, layout="wide"), out / "w.csv")
    _, rows = read_table(out / "w.csv", "csv")
    assert len(rows) == result.respondents == 5


# --------------------------------------------------------------------------- the command line
def run_cli(*args: str, database_url: str, cwd: Path, secret: str | None = SECRET):
    env = {k: v for k, v in os.environ.items() if k not in ("RESEAU_EXPORT_SECRET", "DISCORD_TOKEN")}
    env.update({"RESEAU_DATABASE_URL": database_url, "PYTHONPATH": str(REPO)})
    if secret is not None:
        env["RESEAU_EXPORT_SECRET"] = secret
    return subprocess.run(
        [sys.executable, "-c", "import sys; from bot.cli import main; sys.exit(main(sys.argv[1:]))", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )


async def test_cli_exports_with_codebook(survey, database_url, out):
    target = out / "enquete.csv"
    result = run_cli("export", "--campaign", CAMPAIGN, "--format", "csv", "--layout", "wide", "--separator", ";",
                     "-o", str(target), database_url=database_url, cwd=out)
    assert result.returncode == 0, result.stderr
    assert "codebook" in result.stdout
    header, rows = read_table(target, "csv", ";")
    codebook = read_codebook(target, "csv", ";")
    assert answers_from_wide(rows, codebook) == expected_answers(
        survey, "csv", lambda uid: pseudonym(uid, SECRET.encode())
    )
    assert str(U1) not in target.read_text(encoding="utf-8-sig")


async def test_cli_identified_json_and_format_from_suffix(survey, database_url, out):
    target = out / "poll.jsonl"
    result = run_cli("export", "--poll", str(survey.poll_a), "--identified", "-o", str(target),
                     database_url=database_url, cwd=out, secret=None)
    assert result.returncode == 0, result.stderr
    _, rows = read_table(target, "json")
    assert {r["respondent"] for r in rows} >= {str(U1), str(U2), str(U3)}
    assert (out / "poll.codebook.jsonl").exists()


async def test_cli_without_secret_fails_clearly(survey, database_url, out):
    target = out / "x.xlsx"
    result = run_cli("export", "--poll", str(survey.poll_a), "--format", "xlsx", "-o", str(target),
                     database_url=database_url, cwd=out, secret=None)
    assert result.returncode == 1
    assert "RESEAU_EXPORT_SECRET" in result.stderr
    assert not target.exists()


async def test_cli_names_an_unknown_poll_or_series_without_a_server(survey, database_url, out):
    result = run_cli("export", "--poll", "999999", "-o", str(out / "x.csv"), database_url=database_url, cwd=out)
    assert result.returncode == 1 and "Aucun sondage n°\u00a0999999." in result.stderr
    assert "serveur" not in result.stderr and "Traceback" not in result.stderr
    result = run_cli("export", "--series", "plan-999", "-o", str(out / "x.csv"), database_url=database_url, cwd=out)
    assert "« plan-999 » (voir reseau-bot schedule)" in result.stderr.replace("\u202f", " ")
    assert "/calendar" not in result.stderr


# --------------------------------------------------------------------------- the CSV fast path
async def test_csv_long_rows_equal_the_generic_rows(survey, exporter, out):
    """CSV long rows are assembled as text (the fast path); they must hold exactly what the
    generic tuple path writes for JSON Lines."""
    await exporter.export_to_path(ExportRequest(campaign=CAMPAIGN, format="csv"), out / "a.csv")
    await exporter.export_to_path(ExportRequest(campaign=CAMPAIGN, format="json"), out / "a.jsonl")
    _, csv_rows = read_table(out / "a.csv", "csv")
    _, json_rows = read_table(out / "a.jsonl", "json")
    for row in json_rows:
        row["text"] = shown_text(row["text"], "csv")
    assert csv_rows == json_rows


@pytest.mark.parametrize("separator", [",", ";"])
def test_csv_cells_are_quoted_as_the_csv_module_does(separator):
    import random

    rng = random.Random(7)
    alphabet = ["a", "é", " ", ",", ";", '"', "'", "\n", "\r", "\t", "=", "1"]
    rows = [[None if rng.random() < 0.1 else "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6)))
             for _ in range(4)] for _ in range(2000)]
    expected = io.StringIO(newline="")
    csv.writer(expected, delimiter=separator).writerows(rows)
    ours = "".join(separator.join(exports_module._csv_cell(v, separator) for v in row) + "\r\n" for row in rows)
    assert ours == expected.getvalue()


def test_local_times_are_exact_across_offset_changes():
    """The per-hour cache of the clock agrees with zoneinfo, in whole-hour, half-hour and
    45-minute zones, around daylight saving changes, from datetimes and from SQLite text."""
    import random
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    rng = random.Random(3)
    for zone in ("Europe/Paris", "Asia/Kolkata", "Asia/Kathmandu", "America/St_Johns", "Australia/Lord_Howe"):
        tz = ZoneInfo(zone)
        clock = exports_module._Clock(tz)
        when = datetime(2026, 1, 1, tzinfo=UTC)
        while when.year == 2026:  # every UTC hour of a year, so every offset change, at random minutes
            when += timedelta(minutes=rng.randrange(1, 60), seconds=rng.randrange(60), microseconds=rng.randrange(10**6))
            expected = (when.replace(tzinfo=None, microsecond=0).isoformat() + "Z",
                        when.replace(microsecond=0).astimezone(tz).isoformat())
            assert clock(when) == expected
            assert clock(when.replace(tzinfo=None).isoformat(" ")) == expected


async def test_export_to_open_streams_leaves_them_open(survey, exporter):
    data, codebook = io.BytesIO(), io.BytesIO()
    result = await exporter.export(ExportRequest(poll_id=survey.poll_b, layout="wide"), data, codebook)
    assert not data.closed and not codebook.closed
    rows = list(csv.DictReader(io.StringIO(data.getvalue().decode("utf-8-sig"))))
    assert len(rows) == result.respondents == 3  # members 1, 2 and 3 answered poll B
    assert b"commentaire" in codebook.getvalue()
