"""One question, many channels and languages, end to end on SimCord (issue 11, "checked by"):

- the month's follow-up, imported as a French and an English extract, is posted to the French
  and the English channel as **one poll** (two postings, each in its language); members of each
  answer; one member clicks both postings and counts once; the wide export has one variable for
  the question; the closing message of each posting counts both channels' answers;
- ``/poll create`` to every network channel (network moderators), with the English wording or
  the French one and a visible note; moderators see the respondents by channel;
- ``/poll merge`` on matching and on non-matching questions."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
import simcord
from sqlalchemy import func, select

from bot.errors import DomainError, InvalidInput
from bot.services import extracts as service
from bot.services.exports import ExportRequest
from cogs._checks import Refused
from storage.models import Answer, Poll, PollPosting
from tests.cogs.test_extracts_e2e import QUIET, posts, use
from tests.conftest import embed_text

NOVEMBER_SLOT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

FR = '''---
title = "L’évaluation au service des projets"
month = "2026-11"
lang = "fr"
question = "Quel accompagnement vous serait le plus utile ?"
kind = "single"
options = ["Des formations courtes", "Des échanges entre pairs", "Un appui individuel"]
---
Les membres demandent un accompagnement à l’évaluation.
'''
EN = '''---
title = "Evaluation that serves projects"
month = "2026-11"
lang = "en"
question = "Which support would help you most?"
kind = "single"
options = ["Short training sessions", "Peer exchanges", "One-to-one support"]
---
Members ask for support with evaluation.
'''


async def polls_and_postings(sessions):
    async with sessions() as session:
        polls = list(await session.scalars(select(Poll).order_by(Poll.id)))
        postings = list(await session.scalars(select(PollPosting).order_by(PollPosting.id)))
    return polls, postings


def current(channel, message):
    return next(m for m in channel.history() if m.id == message.id)


async def test_bilingual_follow_up_is_one_question_in_two_channels(world, sessions, tmp_path, monkeypatch):
    folder = tmp_path / "extraits"
    folder.mkdir()
    (folder / "evaluation.fr.md").write_text(FR, encoding="utf-8")
    (folder / "evaluation.en.md").write_text(EN, encoding="utf-8")
    await service.import_path(sessions, folder, now=QUIET, tz=service.ZoneInfo("Europe/Paris"))
    await use(world, clock=NOVEMBER_SLOT)
    bot = world.env.bot
    await bot.get_cog("Extracts").run_monthly_slot(NOVEMBER_SLOT)
    await world.env.settle()

    [poll], postings = await polls_and_postings(sessions)
    assert {(p.channel_id, p.lang) for p in postings} == {(world.fr.id, "fr"), (world.en.id, "en")}
    fr_poll = posts(world.fr)[-1]
    en_poll = posts(world.en)[-1]
    assert "Quel accompagnement vous serait le plus utile ?" in embed_text(fr_poll)
    assert "Which support would help you most?" in embed_text(en_poll)
    assert "Peer exchanges" in str([c.to_dict() for c in en_poll.components]), "English buttons"

    # members of each channel answer; Sam clicks both postings: one answer, his latest choice
    await world.member_fr.click(fr_poll, label="Des échanges entre pairs")
    await world.member_en.click(en_poll, label="Peer exchanges")
    await world.member_en.click(fr_poll, label="Un appui individuel")
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Answer)) == 2
    # a second pass posts nothing more
    assert await bot.get_cog("Extracts").post_followups() == 0
    assert len((await polls_and_postings(sessions))[1]) == 2

    # one variable in the wide export: the question's code once, both channels in the codebook
    monkeypatch.setenv("RESEAU_EXPORT_SECRET", "x" * 32)
    path = tmp_path / "wide.csv"
    await bot.services.exports.export_to_path(
        ExportRequest(poll_id=poll.id, layout="wide", values="labels", labels="en", separator=";"), path)
    header, *rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig")), delimiter=";"))
    question_columns = [h for h in header[5:] if "/" not in h]
    assert len(question_columns) == 1 and len(rows) == 2
    assert sorted(r[header.index(question_columns[0])] for r in rows) == ["One-to-one support", "Peer exchanges"]
    codebook = (tmp_path / "wide.codebook.csv").read_text(encoding="utf-8-sig")
    question_row = next(line for line in codebook.splitlines() if line.split(";")[2] == "question")
    assert "#annonces (fr)" in question_row and "#announcements (en)" in question_row

    # closing: both postings show the results of both channels, in their language
    closed = await world.moderator.slash(world.fr, "poll close", poll=poll.id)
    assert closed.ephemeral
    await world.env.settle()
    french, english = embed_text(current(world.fr, fr_poll)), embed_text(current(world.en, en_poll))
    assert "Des échanges entre pairs" in french and "2 réponses" in french.replace("\u00a0", " ")
    assert "Peer exchanges" in english and "2 answers" in english.replace("\u00a0", " ")
    assert current(world.en, en_poll).components == [] and current(world.fr, fr_poll).components == []


async def test_network_poll_with_and_without_english_wording(world, sessions):
    asked = await world.moderator.slash(
        world.fr, "poll create", question="Venez-vous à la rencontre ?", options="Oui; Non", target="network")
    assert asked.modal is not None, "the English channels need an English wording: it is asked for"
    assert await polls_and_postings(sessions) == ([], []), "nothing posted before the answer"
    created = await world.moderator.submit_modal(asked, {"question_en": "", "options_en": ""})  # left blank
    assert created.ephemeral
    shown = created.response.content
    assert "announcements" in shown or f"<#{world.en.id}>" in shown
    assert "Pas de version anglaise" in shown
    english = posts(world.en)[-1]
    assert "Venez-vous à la rencontre ?" in embed_text(english)
    assert "No English version" in embed_text(english), "the note is visible on the English posting"
    [poll], postings = await polls_and_postings(sessions)
    assert len(postings) == 2

    untranslated = await world.member_en.click(english, label="Oui")
    assert "Your choice: **Oui**" in untranslated.response.content, "the moderator's option as written"
    await world.member_fr.click(posts(world.fr)[-1], label="Non")
    results = await world.moderator.slash(world.fr, "poll results", poll=poll.id)
    text = embed_text(results.response)
    assert "Par salon" in text and f"<#{world.fr.id}> (fr)\u202f: 1" in text and f"<#{world.en.id}> (en)\u202f: 1" in text

    translated = await world.moderator.slash(
        world.fr, "poll create", question="Une question ?", options="Oui; Non", target="network",
        question_en="A question?", options_en="Yes; No")
    assert "Pas de version anglaise" not in translated.response.content
    english = posts(world.en)[-1]
    assert "A question?" in embed_text(english) and "No English version" not in embed_text(english)
    # the English wording, stored after the poll was posted (and cached) here, is what an English
    # member is told whichever posting she clicks; a French member reads French on either
    on_french = await world.member_en.click(posts(world.fr)[-1], label="Oui")
    assert "Your choice: **Yes**" in on_french.response.content
    on_english = await world.member_fr.click(english, label="No")
    assert "Votre choix\u202f: **Non**" in on_english.response.content


async def test_network_target_needs_a_network_moderator(world, sessions):
    refused = await world.member_fr.slash(world.fr, "poll create", question="Q ?", options="A; B", target="network")
    simcord.assert_error(world.env, Refused)
    text = (refused.response.content or "") + embed_text(refused.response)
    assert text and "modér" in text.lower()
    assert (await polls_and_postings(sessions))[0] == []


@pytest.mark.parametrize("matching", [True, False])
async def test_merge_command(world, sessions, matching):
    await world.moderator.slash(world.fr, "poll create", question="Êtes-vous satisfait ?", options="Oui; Non",
                                anonymous=False)
    await world.moderator.slash(world.en, "poll create", question="Are you satisfied?",
                                options="Yes; No" if matching else "Yes; No; Maybe", anonymous=False)
    fr_message, en_message = posts(world.fr)[-1], posts(world.en)[-1]
    await world.member_fr.click(fr_message, label="Oui")
    await world.member_en.click(en_message, label="No")
    (first, second), _ = await polls_and_postings(sessions)
    for poll in (first, second):
        await world.moderator.slash(world.fr, "poll close", poll=poll.id)
    merged = await world.moderator.slash(world.fr, "poll merge", into=first.id, merged_poll=second.id)
    text = merged.response.content
    polls, postings = await polls_and_postings(sessions)
    if matching:
        assert "1 réponse déplacée, 0 réponse écartée en double" in text and "1 salon ajouté" in text
        assert [p.id for p in polls] == [first.id]
        assert {p.channel_id for p in postings} == {world.fr.id, world.en.id}
        results = await world.moderator.slash(world.fr, "poll results", poll=first.id)
        assert "2 réponses" in embed_text(results.response).replace("\u00a0", " ") or "2 répondants" in embed_text(
            results.response).replace("\u00a0", " ")
    else:
        simcord.assert_error(world.env, InvalidInput)
        assert "les options ne correspondent pas" in text
        assert len(polls) == 2


async def test_chosen_channels_and_what_is_refused(world, sessions):
    """``target:chosen``: the named network channels only; a channel outside the network and a
    native poll to several channels are refused before anything is posted."""
    outside = world.guild.create_text_channel("hors-reseau")
    refused = await world.moderator.slash(world.fr, "poll create", question="Q ?", options="A; B", target="chosen",
                                          channels=f"<#{outside.id}>")
    simcord.assert_error(world.env, InvalidInput)
    assert "pas un salon du réseau" in refused.response.content
    native = await world.moderator.slash(world.fr, "poll create", question="Q ?", options="A; B", target="network",
                                         native=True)
    simcord.assert_error(world.env, DomainError)
    assert "natif" in native.response.content
    later = await world.moderator.slash(world.fr, "poll create", question="Q ?", options="A; B", target="network",
                                        start="demain 9 h")
    simcord.assert_error(world.env, DomainError)
    assert "programmé" in later.response.content
    assert (await polls_and_postings(sessions))[0] == []
    chosen = await world.moderator.slash(world.fr, "poll create", question="Q ?", options="A; B", target="chosen",
                                         channels=f"<#{world.en.id}>", question_en="Q?", options_en="A; B")
    assert f"<#{world.en.id}>" in chosen.response.content
    [poll], postings = await polls_and_postings(sessions)
    assert {p.channel_id for p in postings} == {world.fr.id, world.en.id}


@pytest.mark.simcord(settle_timeout=60)  # exports in a worker process; a busy CI machine needs more than 5 s (tests/cogs/test_exports_e2e.py)
async def test_export_command_with_english_labels_as_values(world, sessions, monkeypatch):
    """/export values:labels language:en — a French moderator gets English labels as values, in
    an XLSX whose times are date cells under a frozen header."""
    import openpyxl

    from tests.export_data import build_survey

    monkeypatch.setenv("RESEAU_EXPORT_SECRET", "a long enough secret for the tests")
    survey = await build_survey(sessions, world.guild.id)
    result = await world.moderator.slash(world.fr, "export", format="xlsx", layout="wide", poll=survey.poll_a,
                                         values="labels", language="en")
    message = next(m for m in [result.response, *result.followups] if m is not None and m.attachments)
    (attachment,) = message.attachments
    workbook = openpyxl.load_workbook(io.BytesIO(await attachment.read()))
    sheet = workbook["answers"]
    header = [c.value for c in sheet[1]]
    types = {sheet.cell(row=r, column=header.index("member_type") + 1).value for r in range(2, sheet.max_row + 1)}
    assert "Local authority" in types and "collectivite" not in types
    assert sheet.freeze_panes == "B2"
    assert sheet.cell(row=2, column=header.index("last_answered_at_utc") + 1).is_date


async def test_the_english_wording_asked_for_is_what_the_english_channel_shows(world, sessions):
    asked = await world.moderator.slash(world.fr, "poll create", question="Faut-il se réunir à Lyon ?", kind="yesno",
                                        target="network")
    assert asked.modal is not None
    done = await world.moderator.submit_modal(asked, {"question_en": "Should we meet in Lyon?",
                                                      "options_en": "Yes\nNo\nAbstain"})
    assert "Pas de version anglaise" not in done.response.content
    english = posts(world.en)[-1]
    assert "Should we meet in Lyon?" in embed_text(english) and "No English version" not in embed_text(english)
    vote = await world.member_en.click(english, label="Yes")
    assert "Yes" in vote.response.content
