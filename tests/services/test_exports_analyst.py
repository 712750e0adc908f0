"""Exports an analyst can use as they are (issue 11, item 3): labels in a chosen language
(``labels``), option and member type labels as values (``values``), the Kobo-style codebook with
one label column per language and each question's postings, XLSX with date cells, a frozen
bold header and sensible widths, CSV in Excel-French.

The survey: one French poll posted to a French and an English network channel, its questions
worded in both languages (one without an English wording), answered from both postings."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select

from bot.errors import InvalidInput
from bot.services.exports import CODEBOOK_COLUMNS, Exporter, ExportRequest, codebook_path, pseudonym
from storage.models import Answer, AnswerChoice, NetworkChannel, Option, Poll, PollPosting, Question

SECRET = "correct horse battery staple 2026"
ENV = {"RESEAU_EXPORT_SECRET": SECRET}
GUILD, FR_CHANNEL, EN_CHANNEL = 111, 501, 502
U_FR, U_EN = 401234567890123456, 401234567890123457
WINTER = datetime(2026, 1, 15, 9, 30, 5, tzinfo=UTC)  # 10:30:05 in Paris
SUMMER = datetime(2026, 7, 2, 16, 45, 0, tzinfo=UTC)  # 18:45:00 in Paris


@dataclass
class Bilingual:
    poll_id: int


@pytest.fixture
async def bilingual(sessions) -> Bilingual:
    async with sessions.begin() as session:
        session.add_all([
            NetworkChannel(channel_id=FR_CHANNEL, guild_id=GUILD, language="fr", name="general"),
            NetworkChannel(channel_id=EN_CHANNEL, guild_id=GUILD, language="en", name="general-en"),
        ])
        poll = Poll(guild_id=GUILD, channel_id=FR_CHANNEL, message_id=9001, author_id=2, title="Suivi de janvier",
                    lang="fr")
        besoin = Question(position=0, code="besoin", text="Quel soutien attendez-vous ?", kind="single",
                          labels={"en": "What support do you expect?"})
        besoin.options = [
            Option(position=0, code="formation", label="Formation", labels={"en": "Training"}),
            Option(position=1, code="financement", label="Financement", labels={"en": "Funding"}),
        ]
        themes = Question(position=1, code="themes", text="Quels thèmes ?", kind="multi", max_choices=2,
                          labels={"en": "Which topics?"})
        themes.options = [
            Option(position=0, code="climat", label="Climat", labels={"en": "Climate"}),
            Option(position=1, code="eau", label="Eau", labels={"en": "Water"}),
            Option(position=2, code="sante", label="Santé"),  # no English wording: French shown
        ]
        poll.questions = [besoin, themes]
        session.add(poll)
        await session.flush()
        fr = PollPosting(poll_id=poll.id, guild_id=GUILD, channel_id=FR_CHANNEL, message_id=9001, lang="fr")
        en = PollPosting(poll_id=poll.id, guild_id=GUILD, channel_id=EN_CHANNEL, message_id=9002, lang="en")
        session.add_all([fr, en])
        await session.flush()

        def answer(user, member_type, q, codes, posting, at):
            a = Answer(question_id=q.id, user_id=user, member_type=member_type, answered_at=at, updated_at=at,
                       posting_id=posting.id)
            by_code = {o.code: o for o in q.options}
            a.choices = [AnswerChoice(option_id=by_code[c].id) for c in codes]
            session.add(a)

        answer(U_FR, "collectivite", besoin, ["formation"], fr, WINTER)
        answer(U_FR, "collectivite", themes, ["climat", "sante"], fr, WINTER)
        answer(U_EN, "ong", besoin, ["financement"], en, SUMMER)
        answer(U_EN, "ong", themes, ["eau"], en, SUMMER)
        return Bilingual(poll.id)


@pytest.fixture
def exporter(sessions, config) -> Exporter:
    return Exporter(sessions, config, environ=ENV)


def read_csv(path: Path, separator: str) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""), delimiter=separator))


def who(user_id: int) -> str:
    return pseudonym(user_id, SECRET.encode())


async def test_english_labels_as_values_cell_by_cell(bilingual, exporter, tmp_path):
    """``--labels en --values labels --headings labels``: every cell of the wide CSV."""
    path = tmp_path / "wide.csv"
    await exporter.export_to_path(
        ExportRequest(poll_id=bilingual.poll_id, format="csv", layout="wide", headings="labels", values="labels",
                      labels="en", separator=";"), path)
    header, *rows = read_csv(path, ";")
    assert header == [
        "respondent", "member_type", "campaign", "last_answered_at_utc", "last_answered_at_local",
        "What support do you expect?", "What support do you expect? [Training]",
        "What support do you expect? [Funding]",
        "Which topics?", "Which topics? [Climate]", "Which topics? [Water]", "Which topics? [Santé]",
    ]
    assert sorted(rows) == sorted([
        [who(U_FR), "Local authority", "", "2026-01-15T09:30:05Z", "2026-01-15T10:30:05+01:00",
         "Training", "1", "0", "Climate | Santé", "1", "0", "1"],
        [who(U_EN), "NGO / association", "", "2026-07-02T16:45:00Z", "2026-07-02T18:45:00+02:00",
         "Funding", "0", "1", "Water", "0", "1", "0"],
    ])


async def test_french_labels_and_codes_by_default(bilingual, exporter, tmp_path):
    path = tmp_path / "wide.csv"
    await exporter.export_to_path(
        ExportRequest(poll_id=bilingual.poll_id, format="csv", layout="wide", headings="labels", labels="fr"), path)
    header, *rows = read_csv(path, ",")
    assert header[5:] == [
        "Quel soutien attendez-vous ?", "Quel soutien attendez-vous ? [Formation]",
        "Quel soutien attendez-vous ? [Financement]", "Quels thèmes ?", "Quels thèmes ? [Climat]",
        "Quels thèmes ? [Eau]", "Quels thèmes ? [Santé]",
    ]
    mine = next(r for r in rows if r[0] == who(U_FR))
    assert mine[1] == "collectivite" and mine[5] == "formation" and mine[8] == "climat sante"


async def test_long_layout_labels_in_english(bilingual, exporter, tmp_path):
    path = tmp_path / "long.jsonl"
    await exporter.export_to_path(
        ExportRequest(poll_id=bilingual.poll_id, format="json", values="labels", labels="en"), path)
    import json

    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert {(r["question_code"], r["option_code"], r["option_label"], r["member_type"]) for r in rows} == {
        ("besoin", "formation", "Training", "Local authority"),
        ("themes", "climat", "Climate", "Local authority"),
        ("themes", "sante", "Santé", "Local authority"),
        ("besoin", "financement", "Funding", "NGO / association"),
        ("themes", "eau", "Water", "NGO / association"),
    }


async def test_codebook_has_a_label_column_per_language_and_the_postings(bilingual, exporter, tmp_path):
    path = tmp_path / "wide.csv"
    await exporter.export_to_path(
        ExportRequest(poll_id=bilingual.poll_id, format="csv", layout="wide", labels="en", separator=";"), path)
    header, *rows = read_csv(codebook_path(path), ";")
    assert tuple(header) == CODEBOOK_COLUMNS
    assert header[:2] == ["code", "label"]
    assert "label::Français (fr)" in header and "label::English (en)" in header
    book = [dict(zip(header, r, strict=True)) for r in rows]
    besoin = next(r for r in book if r["type"] == "question" and r["code"] == "besoin")
    assert besoin["label"] == "What support do you expect?"
    assert besoin["label::Français (fr)"] == "Quel soutien attendez-vous ?"
    assert besoin["label::English (en)"] == "What support do you expect?"
    assert besoin["postings"] == "#general (fr), #general-en (en)"
    sante = next(r for r in book if r["type"] == "option" and r["code"] == "sante")
    assert sante["label::Français (fr)"] == "Santé" and sante["label::English (en)"] == "", "no wording: blank"
    assert sante["label"] == "Santé", "the export's label falls back to the poll's wording"
    ong = next(r for r in book if r["type"] == "member_type" and r["code"] == "ong")
    assert (ong["label::Français (fr)"], ong["label::English (en)"]) == ("ONG / association", "NGO / association")


async def test_xlsx_dates_frozen_header_widths_and_codebook_sheet(bilingual, exporter, tmp_path):
    for layout in ("long", "wide"):
        path = tmp_path / f"{layout}.xlsx"
        await exporter.export_to_path(
            ExportRequest(poll_id=bilingual.poll_id, format="xlsx", layout=layout, headings="labels", labels="en"),
            path)
        workbook = openpyxl.load_workbook(path)
        assert workbook.sheetnames == ["answers", "codebook"]
        sheet = workbook["answers"]
        assert sheet.freeze_panes == "B2", "header row (and first column) frozen"
        header = [c.value for c in sheet[1]]
        assert all(c.font.bold for c in sheet[1])
        utc_name = "answered_at_utc" if layout == "long" else "last_answered_at_utc"
        utc_col, local_col = header.index(utc_name) + 1, header.index(utc_name.replace("utc", "local")) + 1
        utc = [sheet.cell(row=i, column=utc_col) for i in range(2, sheet.max_row + 1)]
        local = [sheet.cell(row=i, column=local_col) for i in range(2, sheet.max_row + 1)]
        assert utc and all(c.is_date and isinstance(c.value, datetime) for c in utc + local)
        assert {c.value for c in utc} == {datetime(2026, 1, 15, 9, 30, 5), datetime(2026, 7, 2, 16, 45)}
        assert {c.value for c in local} == {datetime(2026, 1, 15, 10, 30, 5), datetime(2026, 7, 2, 18, 45)}
        widths = [sheet.column_dimensions[openpyxl.utils.get_column_letter(i)].width
                  for i in range(1, len(header) + 1)]
        assert all(8 <= w <= 60 for w in widths)
        assert widths[utc_col - 1] == widths[local_col - 1] == 20  # a date and a time fit
        codebook = workbook["codebook"]
        assert codebook.freeze_panes == "B2"
        assert [c.value for c in codebook[1]] == list(CODEBOOK_COLUMNS)
        label_width = codebook.column_dimensions["B"].width
        assert label_width >= 40, "labels are readable"
    wide = openpyxl.load_workbook(tmp_path / "wide.xlsx")["answers"]
    header = [c.value for c in wide[1]]
    text_col = header.index("What support do you expect?") + 1
    flag_col = header.index("What support do you expect? [Training]") + 1
    letter = openpyxl.utils.get_column_letter
    assert wide.column_dimensions[letter(flag_col)].width < wide.column_dimensions[letter(text_col)].width


async def test_discord_defaults_to_excel_french_csv(bilingual, exporter, tmp_path):
    """The CSV a French moderator gets: BOM, ``;``, labels in French."""
    path = tmp_path / "fr.csv"
    await exporter.export_to_path(
        ExportRequest(poll_id=bilingual.poll_id, format="csv", layout="wide", separator=";", lang="fr",
                      values="labels"), path)
    header, *rows = read_csv(path, ";")
    assert header[0] == "respondent"
    assert {r[1] for r in rows} == {"Collectivité territoriale", "ONG / association"}


@pytest.mark.parametrize("kwargs", [{"values": "names"}, {"labels": "de"}])
def test_bad_values_or_labels_are_refused(kwargs):
    with pytest.raises(InvalidInput) as caught:
        ExportRequest(poll_id=1, **kwargs)
    from bot.i18n import Catalogue

    assert "de" in Catalogue.load().t(caught.value.key, "fr", **caught.value.params) or "names" in Catalogue.load().t(
        caught.value.key, "fr", **caught.value.params)


def test_cli_labels_values_and_excel_french_default(bilingual, database_url, tmp_path):
    """``reseau-bot export --labels en --values labels``; a CSV without ``--separator`` is
    Excel's for the labels' language (``;`` in French, ``,`` in English)."""
    from tests.services.test_exports import run_cli

    out = tmp_path / "out"
    out.mkdir()
    result = run_cli("export", "--poll", str(bilingual.poll_id), "--layout", "wide", "--values", "labels",
                     "--labels", "en", "-o", str(out / "en.csv"), database_url=database_url, cwd=out, secret=SECRET)
    assert result.returncode == 0, result.stderr
    header, *rows = read_csv(out / "en.csv", ",")
    assert {r[header.index("besoin")] for r in rows} == {"Training", "Funding"}
    result = run_cli("export", "--poll", str(bilingual.poll_id), "--layout", "wide", "--values", "labels",
                     "-o", str(out / "fr.csv"), database_url=database_url, cwd=out, secret=SECRET)
    assert result.returncode == 0, result.stderr
    header, *rows = read_csv(out / "fr.csv", ";")
    assert {r[header.index("besoin")] for r in rows} == {"Formation", "Financement"}
    refused = run_cli("export", "--poll", str(bilingual.poll_id), "--labels", "de", "-o", str(out / "x.csv"),
                      database_url=database_url, cwd=out, secret=SECRET)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr


@pytest.mark.parametrize(("labels", "title"), [("en", "Which format?"), ("fr", "Quel format ?")])
async def test_a_quick_polls_title_is_its_question_in_the_label_language(sessions, exporter, tmp_path, labels,
                                                                         title):
    """A quick poll's title is its one question's wording: in the long CSV's ``poll`` column and
    the codebook it follows the label language, as the question does; a survey's own title
    (``Suivi de janvier`` above, no other language) stays as written."""
    async with sessions.begin() as session:
        poll = Poll(guild_id=GUILD, channel_id=FR_CHANNEL, message_id=9101, author_id=2, title="Quel format ?",
                    lang="fr")
        question = Question(position=0, code="format", text="Quel format ?", kind="single",
                            labels={"en": "Which format?"})
        question.options = [Option(position=0, code="ligne", label="En ligne", labels={"en": "Online"})]
        poll.questions = [question]
        session.add(poll)
        await session.flush()
        session.add(Answer(question_id=question.id, user_id=U_EN, member_type="ong", answered_at=SUMMER,
                           updated_at=SUMMER, choices=[AnswerChoice(option_id=question.options[0].id)]))
    path = tmp_path / "long.csv"
    await exporter.export_to_path(ExportRequest(poll_id=poll.id, format="csv", labels=labels), path)
    header, row = read_csv(path, ",")
    assert dict(zip(header, row, strict=True))["poll"] == title
    book_header, *book = read_csv(codebook_path(path), ",")
    entries = [dict(zip(book_header, line, strict=True)) for line in book]
    assert {e["poll"] for e in entries if e["type"] != "member_type"} == {title}


async def test_built_in_options_have_their_wording_in_every_language(sessions, config, exporter, tmp_path):
    """A yes/no question created in French reads « Yes » in English: in the codebook's English
    label column and as an English value; a Likert one too."""
    from bot.i18n import Catalogue
    from bot.services.polls import PollService

    polls = PollService.from_config(sessions, config, Catalogue.load())
    poll = await polls.create(polls.prepare(guild_id=GUILD, channel_id=FR_CHANNEL, author_id=2, lang="fr",
                                            question="Venez-vous ?", kind="yesno"))
    await polls.vote(poll.id, user_id=U_FR, option_id=poll.options[0].id)
    path = tmp_path / "wide.csv"
    await exporter.export_to_path(
        ExportRequest(poll_id=poll.id, format="csv", layout="wide", values="labels", labels="en"), path)
    header, row = read_csv(path, ",")
    assert dict(zip(header, row, strict=True))["q1"] == "Yes"
    book_header, *book = read_csv(codebook_path(path), ",")
    options = {e["code"]: e for e in (dict(zip(book_header, line, strict=True)) for line in book)
               if e["type"] == "option"}
    assert {code: (e["label::Français (fr)"], e["label::English (en)"]) for code, e in options.items()} == {
        "yes": ("Oui", "Yes"), "no": ("Non", "No"), "abstain": ("Abstention", "Abstain")}
    likert = await polls.create(polls.prepare(guild_id=GUILD, channel_id=FR_CHANNEL, author_id=2, lang="en",
                                              question="Useful?", kind="likert"))
    async with sessions() as session:
        labels = [o.labels for o in await session.scalars(
            select(Option).where(Option.question_id == likert.questions[0].id).order_by(Option.position))]
    assert labels[0] == {"fr": Catalogue.load().t("poll.likert.1", "fr")} and len(labels) == 5
