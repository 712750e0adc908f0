"""The ranking kind end to end on SimCord (issue 9, "poll kinds as data"): a moderator creates a
ranking poll with ``/poll create``; members rank the options with one select per rank, one
changes her ranking, one ranks only her first choice, one withdraws and ranks again; the live
message, ``/poll results``, the closing message and its chart show the mean rank and the first
choices; the wide and long CSV exports hold the ranks and the codebook says what they are.
Then the same kind as a ``[classement]`` question of a survey."""

from __future__ import annotations

import csv
import dataclasses
import io
import json

import pytest
from PIL import Image
from sqlalchemy import select

from bot.simcord_support import set_locale
from storage.models import Answer, AnswerChoice, Option, Question
from tests.conftest import embed_text
from tests.databases import respondents

SECRET = "a long enough secret for the tests"


@pytest.fixture
def config(config):
    return dataclasses.replace(config, polls=dataclasses.replace(config.polls, refresh_seconds=30.0))


def components(message) -> list[tuple[int, dict]]:
    """(row index, component dict) of a message (a discord.Message or a ResponseMessage)."""
    out = []
    for index, row in enumerate(message.components):
        children = row["components"] if isinstance(row, dict) else [c.to_dict() for c in row.children]
        out.extend((index, c) for c in children)
    return out


def rank_menus(message) -> dict[int, dict]:
    """rank → its select menu (custom_id ``rb:…:rank:…:<rank>``)."""
    return {int(c["custom_id"].rsplit(":", 1)[1]): c for _, c in components(message) if ":rank:" in c["custom_id"]}


def value_of(menu: dict, label: str) -> str:
    return next(o["value"] for o in menu["options"] if o["label"] == label)


async def rank(member, message, position: int, label: str):
    menu = rank_menus(message)[position]
    return await member.select(message, [value_of(menu, label)], custom_id=menu["custom_id"])


async def stored_rankings(world, sessions, question_id: int) -> dict[int, list[tuple[str, int | None]]]:
    """{member id: [(option label, rank)] in rank order} as stored (an anonymous poll's
    pseudonyms of the world's members read as their ids)."""
    async with sessions() as session:
        poll_id = await session.scalar(select(Question.poll_id).where(Question.id == question_id))
        rows = (await session.execute(
            select(Answer.user_id, Option.label, AnswerChoice.rank)
            .join(AnswerChoice, AnswerChoice.answer_id == Answer.id)
            .join(Option, Option.id == AnswerChoice.option_id)
            .where(Answer.question_id == question_id)
            .order_by(Answer.user_id, AnswerChoice.rank)
        )).all()
    whose = await respondents(sessions, poll_id, world.guild.member_ids(), stored={u for u, _, _ in rows})
    out: dict[int, list[tuple[str, int | None]]] = {}
    for user_id, label, position in rows:
        out.setdefault(whose.get(user_id, user_id), []).append((label, position))
    return out


async def question_of(sessions, poll_id: int) -> Question:
    async with sessions() as session:
        return (await session.scalars(select(Question).where(Question.poll_id == poll_id))).one()


def files_of(result) -> dict:
    for message in [result.response, *result.followups]:
        if message is not None and message.attachments:
            return {a.filename: a for a in message.attachments}
    raise AssertionError(f"no attachment in {result!r}")


async def test_a_ranking_poll_created_ranked_changed_closed_charted_and_exported(world, sessions, monkeypatch):
    env = world.env
    lea = world.guild.add_member(env.create_user("lea"))
    set_locale(lea, "fr")
    created = await world.moderator.slash(
        world.fr, "poll create", question="Où tenir la rencontre ?", options="Lyon; Dakar; Montréal", kind="ranking"
    )
    assert created.ephemeral and "Sondage n°" in created.response.content
    poll_id = int(created.response.content.split("°")[1].split()[0])
    message = world.fr.last_message
    text = embed_text(message)
    assert "Classement" in text and "1er choix, puis le 2e" in text
    laid_out = components(message)
    menus = rank_menus(message)
    assert sorted(menus) == [1, 2, 3]  # three options: three ranks
    assert [menus[r]["custom_id"] for r in (1, 2, 3)] == [f"rb:poll:rank:{poll_id}:{r}" for r in (1, 2, 3)]
    assert [menus[r]["placeholder"] for r in (1, 2, 3)] == ["1er choix", "2e choix", "3e choix"]
    assert all([o["label"] for o in m["options"]] == ["Lyon", "Dakar", "Montréal"] for m in menus.values())
    withdraw = next((row, c) for row, c in laid_out if c["custom_id"] == f"rb:poll:withdraw:{poll_id}")
    assert withdraw[0] == 3, "the withdraw button is on the row under the three selects"

    # Awa ranks all three, Sam two, Léa only her first choice
    first = await rank(world.member_fr, message, 1, "Dakar")
    assert first.ephemeral and "Votre classement\u202f: 1. **Dakar**" in first.response.content
    await rank(world.member_fr, message, 2, "Lyon")
    third = await rank(world.member_fr, message, 3, "Montréal")
    assert "1. **Dakar**, 2. **Lyon**, 3. **Montréal**" in third.response.content
    await rank(world.member_en, message, 1, "Lyon")
    sam = await rank(world.member_en, message, 2, "Dakar")
    assert "Your ranking: 1. **Lyon**, 2. **Dakar**" in sam.response.content
    await rank(lea, message, 1, "Dakar")
    # Awa changes her mind: Montréal first; the others move down one
    changed = await rank(world.member_fr, message, 1, "Montréal")
    assert "1. **Montréal**, 2. **Dakar**, 3. **Lyon**" in changed.response.content
    # a rank past the end is the next one (no gap): Léa's "3rd" Lyon is her 2nd…
    gapless = await rank(lea, message, 3, "Lyon")
    assert "1. **Dakar**, 2. **Lyon**" in gapless.response.content
    # …and withdrawing clears the ranking; she ranks only Dakar again
    withdrawn = await lea.click(message, label="Retirer mon vote")
    assert "retiré" in withdrawn.response.content
    await rank(lea, message, 1, "Dakar")

    question = await question_of(sessions, poll_id)
    assert question.kind == "ranking" and question.max_choices == 3
    assert await stored_rankings(world, sessions, question.id) == {
        world.member_fr.id: [("Montréal", 1), ("Dakar", 2), ("Lyon", 3)],
        world.member_en.id: [("Lyon", 1), ("Dakar", 2)],
        lea.id: [("Dakar", 1)],
    }

    # /poll results: mean rank (among those who ranked it) and first choices
    results = await world.moderator.slash(world.fr, "poll results", poll=poll_id)
    shown = embed_text(results.response)
    assert "Dakar — rang moyen 1,7 · 1 fois 1er choix" in shown
    assert "Lyon — rang moyen 2,0 · 1 fois 1er choix" in shown
    assert "Montréal — rang moyen 1,0 · 1 fois 1er choix" in shown

    # closing: the final message keeps the mean ranks and gets the mean-rank chart
    closed = await world.moderator.slash(world.fr, "poll close", poll=poll_id)
    assert closed.ephemeral
    final = next(m for m in world.fr.history() if m.id == message.id)
    text = embed_text(final)
    assert "Résultats définitifs" in text and "3 réponses" in text
    assert "rang moyen 1,7 · 1 fois 1er choix" in text and "rang moyen 1,0" in text
    assert not final.components
    assert len(final.attachments) == 1
    png = await final.attachments[0].read()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    Image.open(io.BytesIO(png)).verify()

    # exports: one column per option holding its rank (wide), the rank of each row (long)
    monkeypatch.setenv("RESEAU_EXPORT_SECRET", SECRET)
    wide = files_of(await world.moderator.slash(world.fr, "export", format="csv", layout="wide", poll=poll_id))
    data_name = next(n for n in wide if not n.endswith(".codebook.csv"))
    rows = list(csv.DictReader(io.StringIO((await wide[data_name].read()).decode("utf-8-sig")), delimiter=";"))
    code = question.code
    assert {f"{code}/o1", f"{code}/o2", f"{code}/o3"} <= set(rows[0])
    cells = sorted((r[code], r[f"{code}/o1"], r[f"{code}/o2"], r[f"{code}/o3"]) for r in rows)
    # options o1 Lyon, o2 Dakar, o3 Montréal; the answer column lists the codes in rank order
    assert cells == sorted([("o3 o2 o1", "3", "2", "1"), ("o1 o2", "1", "2", ""), ("o2", "", "1", "")])
    book_name = next(n for n in wide if n.endswith(".codebook.csv"))
    book = list(csv.DictReader(io.StringIO((await wide[book_name].read()).decode("utf-8-sig")), delimiter=";"))
    values = next(r for r in book if r["type"] == "values")
    assert values["question"] == code and values["kind"] == "ranking"
    assert "Une colonne par option\u202f: son rang" in values["label"] and "vide = option non classée" in values["label"]
    assert [r["column"] for r in book if r["type"] == "option"] == [f"{code}/o1", f"{code}/o2", f"{code}/o3"]

    long = files_of(await world.moderator.slash(world.fr, "export", format="csv", layout="long", poll=poll_id))
    data_name = next(n for n in long if not n.endswith(".codebook.csv"))
    rows = list(csv.DictReader(io.StringIO((await long[data_name].read()).decode("utf-8-sig")), delimiter=";"))
    assert "rank" in rows[0]
    by_respondent: dict[str, list[tuple[str, str]]] = {}
    for row in rows:
        by_respondent.setdefault(row["respondent"], []).append((row["option_code"], row["rank"]))
    assert sorted(by_respondent.values()) == sorted(
        [[("o3", "1"), ("o2", "2"), ("o1", "3")], [("o1", "1"), ("o2", "2")], [("o2", "1")]]
    )

    # /my-data lists Awa's ranking in her order (first choice first), not the options' order
    mine = await world.member_fr.slash(world.fr, "my-data")
    listed = embed_text(mine.response)
    assert "— Montréal, Dakar, Lyon" in listed, listed
    document = json.loads(await mine.response.attachments[0].read())
    ranked = next(a for a in document["answers"] if a["poll_id"] == poll_id)
    assert ranked["choices"] == ["Montréal", "Dakar", "Lyon"]


async def test_a_ranking_question_in_a_survey(world, sessions):
    member = world.member_fr
    shown = await world.moderator.slash(world.fr, "poll survey")
    text = "[classement] Quelles priorités pour l’an prochain ?\n- Climat\n- Santé\n- Éducation\n\n" \
           "[oui/non] Viendrez-vous à la rencontre ?"
    posted = await world.moderator.submit_modal(shown, {"title": "Priorités", "questions": text})
    assert "Questionnaire n°" in posted.response.content
    survey_id = int(posted.response.content.split("°")[1].split()[0].rstrip(":"))
    public = world.fr.last_message
    assert "Classement" in embed_text(public)

    step = await member.click(public, label="Répondre au questionnaire")
    assert "Question 1/2" in embed_text(step.response)
    menus = rank_menus(step.response)
    assert sorted(menus) == [1, 2, 3]
    assert menus[2]["custom_id"].startswith(f"rb:survey:rank:{survey_id}:")
    assert not [c for _, c in components(step.response) if c["type"] == 2], "no Continue before a first rank"

    first = await member.select(step.response, [value_of(menus[1], "Santé")], custom_id=menus[1]["custom_id"])
    text = embed_text(first.response)
    assert "Question 1/2" in text, "the member stays on the question to rank the next option"
    assert "Réponse enregistrée\u202f: **Santé**" in text
    menus = rank_menus(first.response)
    assert [o["label"] for o in menus[1]["options"] if o.get("default")] == ["Santé"]
    second = await member.select(first.response, [value_of(menus[2], "Climat")], custom_id=menus[2]["custom_id"])
    assert "**Santé**, **Climat**" in embed_text(second.response)
    onward = await member.click(second.response, label="Continuer")
    assert "Question 2/2" in embed_text(onward.response)

    async with sessions() as session:
        question = (
            await session.scalars(select(Question).where(Question.poll_id == survey_id, Question.position == 0))
        ).one()
    assert question.kind == "ranking"
    assert await stored_rankings(world, sessions, question.id) == {member.id: [("Santé", 1), ("Climat", 2)]}
