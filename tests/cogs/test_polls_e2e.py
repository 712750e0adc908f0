"""Polls end to end on SimCord: every kind created by a moderator and answered by members with
buttons, select menus and the open-answer modal; vote change and withdrawal; anonymous, named
and hidden results; the debounced live counts; closing by command, at the deadline and after a
restart (catch-up); clicks after a restart; forged custom_ids; native Discord polls; refusals.

SimCord notes (workarounds live in this file only):

* APScheduler's ``AsyncIOScheduler`` compares its jobs' run dates with the wall clock, while
  ``env.advance_time`` only moves SimCord's virtual clock: advancing time does not fire a poll's
  ``date`` job (checked in ``test_advance_time_does_not_fire_scheduler_jobs``).  Deadlines are
  tested by checking the scheduled job, then calling the job function with an injected clock
  (``bot.clock``), and by the start-up catch-up after ``env.restart_bot``.
* A real client can only click a component that is on the message.  To forge a custom_id, the
  tests rewrite the stored message's components in SimCord's backend and click the forged one
  (``forge``), which is what a stale message or a hand-crafted payload looks like to the bot.
* The debounced refresh sleeps ``polls.refresh_seconds`` between edits; with a value above
  SimCord's settle timeout the sleep is parked until ``env.advance_time``, so these tests use
  30 s and move time explicitly.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
from datetime import timedelta

import pytest
import simcord
from PIL import Image
from sqlalchemy import delete, event, func, select

from bot.config import NetworkChannel
from bot.errors import InvalidInput
from bot.services import charts
from cogs._errors import NotModerator
from storage.models import Answer, AnswerChoice, AuditEntry, Option, Poll, Profile, Question, utcnow
from tests.conftest import embed_text
from tests.databases import answer_rows
from tests.forged import click_forged, forge

REFRESH = 30.0


@pytest.fixture
def config(config):
    return dataclasses.replace(config, polls=dataclasses.replace(config.polls, refresh_seconds=REFRESH))


# ----------------------------------------------------------------------------- helpers
async def create(world, actor=None, channel=None, **options):
    """Run /poll create; return (interaction result, poll message, poll id)."""
    actor = actor or world.moderator
    channel = channel or world.fr
    options.setdefault("question", "Quel format pour la rencontre ?")
    result = await actor.slash(channel, "poll create", **options)
    assert result.ephemeral
    message = channel.last_message
    poll_id = int(result.response.content.split("°" if "°" in result.response.content else "#")[1].split()[0])
    return result, message, poll_id


async def scalar(sessions, stmt):
    async with sessions() as session:
        return await session.scalar(stmt)


async def answers_of(world, sessions, poll_id: int) -> dict[int, set[int]]:
    """{member id: {option ids}} stored for the poll (an anonymous poll's pseudonyms of the
    world's members read as their ids; their plain ids there fail the test)."""
    out: dict[int, set[int]] = {}
    for user_id, option_id in await answer_rows(sessions, poll_id, world.guild.member_ids()):
        out.setdefault(user_id, set())
        if option_id is not None:
            out[user_id].add(option_id)
    return out


def message_now(env, channel, message):
    """The message as stored now (after edits)."""
    return next(m for m in channel.history() if m.id == message.id)


def patches(env, message) -> int:
    return sum(
        1 for r in env.http_requests if r.method == "PATCH" and r.path.endswith(f"/messages/{message.id}")
    )


def custom_ids(message) -> list[str]:
    out = []
    for row in message.components:
        for child in row.children:
            if getattr(child, "custom_id", None):
                out.append(child.custom_id)
    return out


def option_ids(message) -> list[int]:
    return [int(c.split(":")[4]) for c in custom_ids(message) if c.startswith("rb:poll:vote:")]


async def attachment_png(message) -> bytes:
    assert len(message.attachments) == 1
    data = await message.attachments[0].read()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    Image.open(io.BytesIO(data)).verify()
    return data


# ----------------------------------------------------------------------------- single choice
async def test_single_choice_vote_change_and_withdraw(world, sessions):
    env = world.env
    result, message, poll_id = await create(world, options="Présentiel; En ligne; Hybride")
    assert "Sondage n°" in result.response.content and message.jump_url in result.response.content
    assert [b.label for b in message.components[0].children] == ["Présentiel", "En ligne", "Hybride"]
    assert message.components[1].children[0].label == "Retirer mon vote"
    assert all(len(c) <= 100 and c.startswith("rb:poll:") for c in custom_ids(message))
    assert "Quel format pour la rencontre ?" in embed_text(message)

    vote = await world.member_fr.click(message, label="En ligne")
    assert vote.ephemeral and "Votre choix\u202f: **En ligne**" in vote.response.content
    english = await world.member_en.click(message, label="Hybride")
    assert english.ephemeral and "Your choice: **Hybride**" in english.response.content
    a, b, c = option_ids(message)
    assert await answers_of(world, sessions, poll_id) == {world.member_fr.id: {b}, world.member_en.id: {c}}

    changed = await world.member_fr.click(message, label="Présentiel")
    assert "Votre choix\u202f: **Présentiel**" in changed.response.content
    assert await answers_of(world, sessions, poll_id) == {world.member_fr.id: {a}, world.member_en.id: {c}}

    withdrawn = await world.member_en.click(message, label="Retirer mon vote")
    assert withdrawn.response.content == "Your vote has been withdrawn."
    again = await world.member_en.click(message, label="Retirer mon vote")
    assert again.response.content == "You had not voted in this poll yet."
    assert await answers_of(world, sessions, poll_id) == {world.member_fr.id: {a}}

    await env.advance_time(REFRESH * 3)
    text = embed_text(message_now(env, world.fr, message))
    assert "Présentiel\n`██████████` 1 (100\u00a0%)" in text and "1 réponse" in text


async def test_live_counts_are_debounced(world):
    env = world.env
    guild = world.guild
    _, message, _ = await create(world, options="A; B")
    voters = [guild.add_member(env.create_user(f"membre{i}")) for i in range(6)]
    await voters[0].click(message, label="A")
    assert patches(env, message) == 1, "the first vote is shown at once"
    for voter in voters[1:]:
        await voter.click(message, label="B")
    assert patches(env, message) == 1, "a burst of votes waits for the refresh window"
    assert "1 réponse" in embed_text(message_now(env, world.fr, message))
    await env.advance_time(REFRESH)
    assert patches(env, message) == 2, "…and is shown by one edit"
    text = embed_text(message_now(env, world.fr, message))
    assert "6 réponses" in text and "5 (83,3\u00a0%)" in text
    await env.advance_time(REFRESH * 2)
    assert patches(env, message) == 2, "no vote, no edit"


# ----------------------------------------------------------------------------- multiple choice
async def test_multiple_choice_buttons_toggle_within_the_maximum(world, sessions):
    _, message, poll_id = await create(
        world, options="Eau; Énergie; Santé; Éducation", kind="multi", max_choices=2
    )
    assert "Choix multiple (2 au plus)" in embed_text(message)
    first = await world.member_fr.click(message, label="Eau")
    assert "Vos choix (1/2)\u202f: **Eau**" in first.response.content
    second = await world.member_fr.click(message, label="Santé")
    assert "Vos choix (2/2)\u202f: **Eau**, **Santé**" in second.response.content
    refused = await world.member_fr.click(message, label="Énergie")
    assert "Vous avez déjà 2 choix" in refused.response.content and refused.ephemeral
    untick = await world.member_fr.click(message, label="Eau")
    assert "Vos choix (1/2)\u202f: **Santé**" in untick.response.content
    _, _, sante, _ = option_ids(message)
    assert await answers_of(world, sessions, poll_id) == {world.member_fr.id: {sante}}


async def test_select_menu_beyond_five_options(world, sessions):
    cities = [f"Ville {n}" for n in range(1, 8)]
    _, message, poll_id = await create(world, options="; ".join(cities), kind="multi", max_choices=3)
    menu = message.components[0].children[0]
    assert menu.custom_id == f"rb:poll:select:{poll_id}" and menu.max_values == 3 and len(menu.options) == 7
    values = [o.value for o in menu.options]
    chosen = await world.member_fr.select(message, [values[6], values[1]])
    assert "Vos choix (2/3)\u202f: **Ville 2**, **Ville 7**" in chosen.response.content
    changed = await world.member_fr.select(message, [values[0]])
    assert "Vos choix (1/3)\u202f: **Ville 1**" in changed.response.content
    assert await answers_of(world, sessions, poll_id) == {world.member_fr.id: {int(values[0])}}
    _, single, single_id = await create(world, options="; ".join(cities))
    single_menu = single.components[0].children[0]
    assert single_menu.max_values == 1
    await world.member_en.select(single, [single_menu.options[3].value])
    assert await answers_of(world, sessions, single_id) == {world.member_en.id: {int(single_menu.options[3].value)}}


# ----------------------------------------------------------------------------- yes/no, Likert
async def test_yes_no_abstain_in_the_channel_language(world, sessions):
    _, message, poll_id = await create(
        world, channel=world.en, kind="yesno", question="Should we meet in Lyon?"
    )
    assert [b.label for b in message.components[0].children] == ["Yes", "No", "Abstain"]
    assert "Poll #" in embed_text(message) and "Yes / No / Abstain" in embed_text(message)
    vote = await world.member_fr.click(message, label="Abstain")
    assert "Votre choix\u202f: **Abstention**" in vote.response.content, (
        "the confirmation is in the member's language, the built-in option included"
    )
    _, french, _ = await create(world, kind="yesno", question="Faut-il se réunir à Lyon ?")
    assert [b.label for b in french.components[0].children] == ["Oui", "Non", "Abstention"]


@contextlib.contextmanager
def statements(bot):
    """The SQL statements run through the bot's engine meanwhile (the vote store's own
    connection excepted: a vote's one round trip)."""
    seen: list[str] = []

    def note(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    engine = bot.services.sessions.kw["bind"].sync_engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


async def test_an_english_member_reads_her_vote_in_english(world, sessions):
    """A French quick poll voted on by an English-locale member: every private reply about her
    vote names a built-in option (yes/no, Likert) in English — the confirmation, a change —,
    built from the cached poll without a query more than a French member's vote; the options a
    moderator wrote stay as written (a multiple choice's select, a ranking); ``/my-data`` lists
    « Yes » too; a French member still reads « Oui ».  (She read « Your choice: **Oui** »: only
    a poll posted in several languages with a complete English wording was translated.)"""
    _, message, poll_id = await create(world, kind="yesno", question="Faut-il se réunir à Lyon ?")
    assert [b.label for b in message.components[0].children] == ["Oui", "Non", "Abstention"]
    french = await world.member_fr.click(message, label="Oui")
    assert "Votre choix\u202f: **Oui**" in french.response.content
    with statements(world.env.bot) as seen:
        english = await world.member_en.click(message, label="Oui")
    assert english.ephemeral and "Your choice: **Yes**" in english.response.content
    assert "Oui" not in english.response.content
    assert seen == [], "the English confirmation is built from the cached poll: no query"
    changed = await world.member_en.click(message, label="Abstention")
    assert "Your choice: **Abstain**" in changed.response.content
    withdrawn = await world.member_en.click(message, label="Retirer mon vote")
    assert withdrawn.response.content == "Your vote has been withdrawn."
    await world.member_en.click(message, label="Non")

    _, likert, _ = await create(world, kind="likert", question="Le rapport est-il utile ?")
    vote = await world.member_en.click(likert, label="4 — Plutôt d’accord")
    assert "Your choice: **4 — Agree**" in vote.response.content
    french = await world.member_fr.click(likert, label="4 — Plutôt d’accord")
    assert "Votre choix\u202f: **4 — Plutôt d’accord**" in french.response.content

    # the moderator's options stay as written: a multiple choice's select, a ranking
    themes = ["Eau", "Énergie", "Santé", "Éducation", "Climat", "Culture"]
    _, multi, _ = await create(world, options="; ".join(themes), kind="multi", max_choices=2)
    values = {o.label: o.value for o in multi.components[0].children[0].options}
    chosen = await world.member_en.select(multi, [values["Santé"], values["Eau"]])
    assert "Your choices (2/2): **Eau**, **Santé**" in chosen.response.content
    _, ranking, _ = await create(world, options="Lyon; Dakar; Montréal", kind="ranking")
    menu = ranking.components[0].children[0]
    ranked = await world.member_en.select(ranking, [next(o.value for o in menu.options if o.label == "Dakar")],
                                          custom_id=menu.custom_id)
    assert "Your ranking: 1. **Dakar**" in ranked.response.content

    # a poll stored before built-in options had their wording in every language: the catalogue's
    async with sessions.begin() as session:
        for option in await session.scalars(select(Option).join(Question).where(Question.poll_id == poll_id)):
            option.labels = {}
    world.env.bot.services.polls.forget_cached(poll_id)
    again = await world.member_en.click(message, label="Oui")
    assert "Your choice: **Yes**" in again.response.content

    mine = await world.member_en.slash(world.en, "my-data")
    listed = embed_text(mine.response)
    assert f"**Faut-il se réunir à Lyon ?** (#{poll_id}) — Yes" in listed and ") — 4 — Agree" in listed, listed
    assert "Oui" not in listed and "Plutôt" not in listed
    document = json.loads(await mine.response.attachments[0].read())
    yes_no = next(a for a in document["answers"] if a["poll_id"] == poll_id)
    assert yes_no["choices"] == ["Oui"] and yes_no["choices_in"] == {"en": ["Yes"]}, "as stored, and in English"
    theirs = embed_text((await world.member_fr.slash(world.fr, "my-data")).response)
    assert f"**Faut-il se réunir à Lyon ?** (n°\u00a0{poll_id}) — Oui" in theirs, "a French member reads French"


async def test_likert_scale(world, sessions):
    env = world.env
    _, message, poll_id = await create(world, kind="likert", question="Le rapport est-il utile ?")
    labels = [b.label for b in message.components[0].children]
    assert (
        labels[0] == "1 — Pas du tout d’accord"
        and labels[4] == "5 — Tout à fait d’accord"
        and len(labels) == 5
    )
    await world.member_fr.click(message, label=labels[3])
    await world.member_en.click(message, label=labels[4])
    await world.member_en.click(message, label=labels[3])
    ids = option_ids(message)
    assert await answers_of(world, sessions, poll_id) == {world.member_fr.id: {ids[3]}, world.member_en.id: {ids[3]}}
    await env.advance_time(REFRESH)
    assert "4 — Plutôt d’accord\n`██████████` 2 (100\u00a0%)" in embed_text(
        message_now(env, world.fr, message)
    )


# ----------------------------------------------------------------------------- open answers
async def test_open_answer_through_the_modal(world, sessions):
    env = world.env
    _, message, poll_id = await create(world, kind="text", question="Une idée pour la prochaine enquête ?")
    assert [b.label for b in message.components[0].children] == ["Répondre"]
    shown = await world.member_fr.click(message, label="Répondre")
    assert shown.modal is not None and shown.modal["title"] == "Votre réponse"
    saved = await world.member_fr.submit_modal(shown, {"answer": "Interroger aussi les partenaires du Sud"})
    assert saved.ephemeral and "«\u202fInterroger aussi les partenaires du Sud\u202f»" in saved.response.content
    again = await world.member_fr.click(message, label="Répondre")
    label = again.modal["components"][0]
    assert label["component"]["value"] == "Interroger aussi les partenaires du Sud", (
        "the modal shows the answer"
    )
    await world.member_fr.submit_modal(again, {"answer": "Une question sur le climat"})
    english = await world.member_en.click(message, label="Répondre")
    await world.member_en.submit_modal(english, {"answer": "More time for questions"})
    async with sessions() as session:
        texts = set(await session.scalars(select(Answer.text)))
    assert texts == {"Une question sur le climat", "More time for questions"}
    results = await world.moderator.slash(world.fr, "poll results", poll=poll_id)
    text = embed_text(results.response)
    assert "Une question sur le climat" in text and "More time for questions" in text
    assert f"<@{world.member_en.id}>" not in text, "anonymous by default"
    blank = await world.member_en.click(message, label="Répondre")
    refused = await world.member_en.submit_modal(blank, {"answer": "   "})
    assert "The answer is empty." in refused.response.content
    simcord.assert_error(env, InvalidInput)
    # a written answer is withdrawn as an answer, not a vote
    withdrawn = await world.member_en.click(message, label="Retirer ma réponse")
    assert withdrawn.response.content == "Your answer has been withdrawn."
    again = await world.member_en.click(message, label="Retirer ma réponse")
    assert again.response.content == "You had not answered this poll yet."


# ----------------------------------------------------------------------------- privacy, visibility
async def test_named_poll_results_show_who_answered_what(world):
    _, message, poll_id = await create(world, options="A; B", anonymous=False)
    assert "Nominatif" in embed_text(message)
    await world.member_fr.click(message, label="A")
    await world.member_en.click(message, label="B")
    results = await world.moderator.slash(world.fr, "poll results", poll=poll_id)
    text = embed_text(results.response)
    assert f"A\u202f: <@{world.member_fr.id}>" in text and f"B\u202f: <@{world.member_en.id}>" in text


async def test_anonymous_poll_results_name_nobody(world):
    _, message, poll_id = await create(world, options="A; B")
    assert "Anonyme" in embed_text(message)
    await world.member_fr.click(message, label="A")
    results = await world.moderator.slash(world.fr, "poll results", poll=poll_id)
    text = embed_text(results.response)
    assert "A — 1 (100\u00a0%)" in text and f"<@{world.member_fr.id}>" not in text


async def test_hidden_results_until_closing(world):
    env = world.env
    _, message, poll_id = await create(world, options="A; B", live_results=False)
    await world.member_fr.click(message, label="A")
    await world.member_en.click(message, label="A")
    await env.advance_time(REFRESH)
    text = embed_text(message_now(env, world.fr, message))
    assert "Les résultats seront affichés à la clôture" in text
    assert "%" not in text and "█" not in text, "no counts while the poll is open"
    moderator_view = await world.moderator.slash(world.fr, "poll results", poll=poll_id)
    assert "A — 2 (100\u00a0%)" in embed_text(moderator_view.response), "moderators see them at any time"
    await world.moderator.slash(world.fr, "poll close", poll=poll_id)
    final = embed_text(message_now(env, world.fr, message))
    assert "2 (100\u00a0%)" in final and "Résultats définitifs" in final


# ----------------------------------------------------------------------------- closing
async def test_close_by_command_shows_final_results_and_chart(world, sessions):
    env = world.env
    _, message, poll_id = await create(world, options="Présentiel; En ligne")
    await world.member_fr.click(message, label="En ligne")
    await world.member_en.click(message, label="En ligne")
    closed = await world.moderator.slash(world.fr, "poll close", poll=poll_id)
    assert closed.ephemeral and f"Sondage n°\u00a0{poll_id} clos" in closed.response.content
    final = message_now(env, world.fr, message)
    assert final.components == [], "no more buttons"
    text = embed_text(final)
    assert "clos" in text and "En ligne\n`██████████` 2 (100\u00a0%)" in text
    png = await attachment_png(final)
    assert final.embeds[0].image.url.startswith("attachment://")
    expected = charts.results_chart(
        "Quel format pour la rencontre ?", ["Présentiel", "En ligne"], [0, 2], lang="fr"
    )
    assert png == expected, "the chart's bars are the stored counts"
    again = await world.moderator.slash(world.fr, "poll close", poll=poll_id)
    assert f"Le sondage n°\u00a0{poll_id} était déjà clos." in again.response.content
    assert (
        await scalar(
            sessions, select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "poll.close")
        )
        == 1
    )
    assert env.bot.scheduler.get_job(f"poll-close-{poll_id}") is None


async def test_click_on_a_closed_poll_is_refused_and_changes_nothing(world, sessions):
    env = world.env
    _, message, poll_id = await create(world, options="A; B")
    await world.member_fr.click(message, label="A")
    cog = env.bot.get_cog("Polls")
    await cog.service.close(poll_id)  # closed, but say the closing edit never reached Discord
    refused = await world.member_fr.click(message, label="B")
    assert refused.ephemeral and "Ce sondage est clos" in refused.response.content
    english = await world.member_en.click(message, label="Retirer mon vote")
    assert "This poll is closed" in english.response.content
    a, _ = option_ids(message)
    assert await answers_of(world, sessions, poll_id) == {world.member_fr.id: {a}}


async def test_deadline_job_is_scheduled_and_closes_the_poll(world, sessions):
    env = world.env
    bot = env.bot
    _, message, poll_id = await create(world, options="A; B", deadline="2h")
    job = bot.scheduler.get_job(f"poll-close-{poll_id}")
    async with sessions() as session:
        deadline = (await session.get(Poll, poll_id)).deadline_at
    assert job is not None and job.next_run_time == deadline
    assert abs(deadline - (utcnow() + timedelta(hours=2))) < timedelta(minutes=1)
    await world.member_fr.click(message, label="B")
    cog = bot.get_cog("Polls")
    await cog.run_deadline(poll_id)  # too early: nothing happens
    assert message_now(env, world.fr, message).components != []
    bot.clock = lambda: deadline + timedelta(seconds=1)
    await cog.run_deadline(poll_id)
    await env.settle()
    final = message_now(env, world.fr, message)
    assert final.components == [] and "B\n`██████████` 1 (100\u00a0%)" in embed_text(final)
    edits = patches(env, message)
    await cog.run_deadline(poll_id)  # idempotent
    assert patches(env, message) == edits
    async with sessions() as session:
        assert (await session.get(Poll, poll_id)).status == "closed"


async def test_advance_time_does_not_fire_scheduler_jobs(world):
    """Documents the SimCord gap: APScheduler runs on the wall clock."""
    env = world.env
    _, message, poll_id = await create(world, options="A; B", deadline="1h")
    await env.advance_time(2 * 3600)
    assert message_now(env, world.fr, message).components != []
    assert env.bot.scheduler.get_job(f"poll-close-{poll_id}") is not None


async def test_restart_keeps_clicks_working_and_catches_up_missed_deadlines(world, bot_factory, sessions):
    env = world.env
    _, soon, soon_id = await create(world, options="A; B", deadline="1h")
    _, later, later_id = await create(world, options="C; D", deadline="3j")
    await world.member_fr.click(soon, label="A")
    restarted_at = utcnow() + timedelta(hours=2)  # the bot was down past the first deadline
    await env.restart_bot(bot_factory(world.config, clock=lambda: restarted_at))
    assert env.bot.is_ready()
    final = message_now(env, world.fr, soon)
    assert final.components == [] and "A\n`██████████` 1 (100\u00a0%)" in embed_text(final)
    assert len(final.attachments) == 1
    assert env.bot.scheduler.get_job(f"poll-close-{soon_id}") is None
    assert env.bot.scheduler.get_job(f"poll-close-{later_id}") is not None
    vote = await world.member_en.click(later, label="D")
    assert "Your choice: **D**" in vote.response.content
    _, d = option_ids(later)
    assert (await answers_of(world, sessions, later_id))[world.member_en.id] == {d}
    a, _ = option_ids(soon)
    forge(env, soon, f"rb:poll:vote:{soon_id}:{a}", label="Ancien bouton")  # a stale client
    stale = await world.member_en.click(soon, label="⚠ Ancien bouton")
    assert stale.response.content == "This poll is closed: votes are no longer accepted."


# ----------------------------------------------------------------------------- forged ids
async def test_forged_custom_ids_are_refused_and_change_nothing(world, sessions):
    env = world.env
    _, message, poll_id = await create(world, options="A; B")
    other_guild = env.create_guild(name="Autre serveur")
    other_channel = other_guild.create_text_channel("general")
    other_role = other_guild.create_role("Modération")
    other_mod = other_guild.add_member(env.create_user("dominique"), roles=[other_role])
    # A second server of the network (polls are stored only there), its moderator role by id.
    config = env.bot.config
    await env.bot.reconfigure(dataclasses.replace(
        config,
        bot=dataclasses.replace(config.bot, moderator_roles=(*config.bot.moderator_roles, other_role.id)),
        channels=(*config.channels, NetworkChannel(guild_id=other_guild.id, channel_id=other_channel.id)),
    ))
    _, other_message, other_id = await create(world, actor=other_mod, channel=other_channel, options="X; Y")
    other_option = option_ids(other_message)[0]

    unknown, huge, elsewhere, wrong_option, withdraw_elsewhere = await click_forged(env, message, [
        (world.member_fr, "rb:poll:vote:999999:1"),
        (world.member_fr, "rb:poll:select:99999999999999999999"),
        (world.member_en, f"rb:poll:vote:{other_id}:{other_option}"),
        (world.member_fr, f"rb:poll:vote:{poll_id}:{other_option}"),
        (world.member_fr, f"rb:poll:withdraw:{other_id}"),
    ])
    assert unknown.ephemeral and unknown.response.content == "Ce sondage n’existe pas (ou plus)."
    assert huge.response.content == "Ce sondage n’existe pas (ou plus)."
    assert elsewhere.response.content == "This poll does not belong to this server."
    assert wrong_option.response.content == "Cette réponse ne fait pas partie du sondage."
    assert withdraw_elsewhere.response.content == "Ce sondage n’appartient pas à ce serveur."
    assert await answers_of(world, sessions, poll_id) == {} and await answers_of(world, sessions, other_id) == {}
    assert await scalar(sessions, select(func.count()).select_from(Answer)) == 0


# ----------------------------------------------------------------------------- native polls
async def test_native_poll_votes_are_stored_in_the_answers_table(world, sessions):
    env = world.env
    _, message, poll_id = await create(world, options="Oui; Non; Peut-être", native=True, deadline="1j")
    assert message.poll is not None and [a.text for a in message.poll.answers] == ["Oui", "Non", "Peut-être"]
    assert message.components == []
    async with sessions() as session:
        poll = await session.get(Poll, poll_id)
        assert poll.native and poll.message_id == message.id and not poll.anonymous
    yes, no, maybe = await answers_options(sessions, poll_id)
    async with sessions.begin() as session:
        session.add(Profile(user_id=world.member_fr.id, member_type="ong"))
    await world.member_fr.vote(message, answer=1)
    await world.member_en.vote(message, answer=2)
    assert await answers_of(world, sessions, poll_id) == {world.member_fr.id: {yes}, world.member_en.id: {no}}
    await world.member_fr.vote(message, answer=3)  # a change of vote: remove 1, add 3
    assert await answers_of(world, sessions, poll_id) == {world.member_fr.id: {maybe}, world.member_en.id: {no}}
    async with sessions() as session:
        types = dict((await session.execute(select(Answer.user_id, Answer.member_type))).all())
    assert types == {world.member_fr.id: "ong", world.member_en.id: None}
    await world.member_en.remove_vote(message, answer=2)
    assert await answers_of(world, sessions, poll_id) == {world.member_fr.id: {maybe}}

    closed = await world.moderator.slash(world.fr, "poll close", poll=poll_id)
    assert f"Sondage n°\u00a0{poll_id} clos" in closed.response.content
    reply = world.fr.last_message
    assert reply.id != message.id and reply.reference is not None and reply.reference.message_id == message.id
    assert "Peut-être — 1 (100\u00a0%)" in embed_text(reply)
    assert "Par type de membre" in embed_text(reply) and "ONG / association" in embed_text(reply)
    await attachment_png(reply)
    assert env.backend.get_message(world.fr.id, message.id).poll.finalized


async def answers_options(sessions, poll_id):
    from storage.models import Option, Question

    async with sessions() as session:
        return list(
            await session.scalars(
                select(Option.id)
                .join(Question, Question.id == Option.question_id)
                .where(Question.poll_id == poll_id)
                .order_by(Option.position)
            )
        )


async def test_native_poll_limits(world, sessions):
    env = world.env
    result = await world.moderator.slash(
        world.fr, "poll create", question="Trop ?", options=";".join(f"R{i}" for i in range(11)), native=True
    )
    assert "Un sondage Discord natif accepte 10 réponses au plus." in result.response.content
    simcord.assert_error(env, InvalidInput)
    assert await scalar(sessions, select(func.count()).select_from(Poll)) == 0


# ----------------------------------------------------------------------------- permissions, input
async def test_members_may_not_create_polls_unless_the_switch_is_on(world, sessions):
    env = world.env
    refused = await world.member_fr.slash(world.fr, "poll create", question="Une question ?", options="A; B")
    assert refused.ephemeral and "réservée aux modérateurs" in refused.response.content
    simcord.assert_error(env, NotModerator)
    assert await scalar(sessions, select(func.count()).select_from(Poll)) == 0
    config = dataclasses.replace(
        world.config, bot=dataclasses.replace(world.config.bot, members_can_create_polls=True)
    )
    await env.bot.reconfigure(config)
    _, message, poll_id = await create(world, actor=world.member_fr, options="A; B")
    assert message.author.id == env.bot.user.id and poll_id > 0


async def test_bad_input_gets_a_clear_message_in_the_members_language_and_creates_nothing(world, sessions):
    env = world.env
    duplicate = await world.moderator.slash(
        world.fr, "poll create", question="Format ?", options="Lyon; lyon "
    )
    assert duplicate.response.content == "L’option «\u202flyon\u202f» apparaît deux fois."
    config = dataclasses.replace(
        world.config, bot=dataclasses.replace(world.config.bot, members_can_create_polls=True)
    )
    await env.bot.reconfigure(config)
    past = await world.member_en.slash(
        world.en, "poll create", question="When?", options="A; B", deadline="2020-01-01 10:00"
    )
    assert past.response.content == "The deadline is already past."
    mention = await world.member_en.slash(world.en, "poll create", question="Who?", options="@everyone; B")
    assert mention.response.content.startswith("No mentions")
    simcord.assert_error(env, InvalidInput)
    assert await scalar(sessions, select(func.count()).select_from(Poll)) == 0
    assert world.fr.last_message is None and world.en.last_message is None


async def test_role_restriction_and_reminder(world, sessions):
    env = world.env
    bot = env.bot
    role = world.guild.create_role("Collège des ONG")
    member = world.guild.add_member(env.create_user("fatou"), roles=[role])
    _, message, poll_id = await create(world, options="A; B", role=role, deadline="2j", reminder="1j")
    assert f"<@&{role.id}>" in embed_text(message)
    refused = await world.member_fr.click(message, label="A")
    assert "réservé à certains rôles" in refused.response.content
    accepted = await member.click(message, label="A")
    assert "Your choice: **A**" in accepted.response.content
    assert set(await answers_of(world, sessions, poll_id)) == {member.id}

    job = bot.scheduler.get_job(f"poll-remind-{poll_id}")
    async with sessions() as session:
        poll = await session.get(Poll, poll_id)
        reminder_at, deadline = poll.reminder_at, poll.deadline_at
    assert job is not None and job.next_run_time == reminder_at == deadline - timedelta(days=1)
    before = len(world.fr.history())
    cog = bot.get_cog("Polls")
    await cog.run_reminder(poll_id)
    reminder = world.fr.last_message
    assert len(world.fr.history()) == before + 1
    assert reminder.content.startswith(f"<@&{role.id}>") and "Rappel" in reminder.content
    assert message.jump_url in reminder.content
    posted = [
        r
        for r in env.http_requests
        if r.method == "POST" and r.path.endswith(f"/channels/{world.fr.id}/messages")
    ][-1]
    assert posted.json["allowed_mentions"]["roles"] == [role.id]
    await cog.run_reminder(poll_id)
    assert len(world.fr.history()) == before + 1, "one reminder only"
    async with sessions() as session:
        assert (await session.get(Poll, poll_id)).reminder_sent


async def test_poll_list_for_members(world):
    _, message, poll_id = await create(world, options="A; B")
    _, closed_message, closed_id = await create(world, options="C; D", question="Ancienne question ?")
    await world.moderator.slash(world.fr, "poll close", poll=closed_id)
    listing = await world.member_en.slash(world.en, "poll list")
    text = embed_text(listing.response)
    assert listing.ephemeral and "Polls on this server" in text
    assert f"**[#{poll_id}]({message.jump_url})** Quel format pour la rencontre ?" in text
    assert f"**[#{closed_id}](" in text.split("Recently closed")[1] and "Ancienne question ?" in text.split("Recently closed")[1]


async def test_poll_links_follow_the_configured_web_base_url(world):
    bot = world.env.bot
    await bot.reconfigure(dataclasses.replace(
        world.config, discord=dataclasses.replace(world.config.discord, web_base_url="https://chat.example.org")
    ))
    result, message, poll_id = await create(world, options="A; B")
    link = f"https://chat.example.org/channels/{world.guild.id}/{world.fr.id}/{message.id}"
    assert link in result.response.content and "discord.com" not in result.response.content
    listing = await world.member_fr.slash(world.fr, "poll list")
    assert f"({link})" in embed_text(listing.response)
    closed = await world.moderator.slash(world.fr, "poll close", poll=poll_id)
    assert link in closed.response.content


async def test_results_chart_by_member_type(world, sessions):
    _, message, poll_id = await create(world, options="A; B")
    async with sessions.begin() as session:
        session.add(Profile(user_id=world.member_fr.id, member_type="collectivite"))
        session.add(Profile(user_id=world.member_en.id, member_type="ong"))
    await world.member_fr.click(message, label="A")
    await world.member_en.click(message, label="B")
    results = await world.moderator.slash(world.fr, "poll results", poll=poll_id)
    assert results.ephemeral
    text = embed_text(results.response)
    assert "Par type de membre" in text and "**Collectivité territoriale** (1)\u202f: A 1" in text
    png = await attachment_png(results.response)
    expected = charts.results_by_type_chart(
        "Quel format pour la rencontre ?",
        ["A", "B"],
        ["Collectivité territoriale", "ONG / association"],
        [[1, 0], [0, 1]],
        lang="fr",
        respondents=2,
    )
    assert png == expected
    refused = await world.member_fr.slash(world.fr, "poll results", poll=poll_id)
    assert "réservée aux modérateurs" in refused.response.content
    simcord.assert_error(world.env, NotModerator)


async def test_commands_are_localised(world):
    puts = [r for r in world.env.http_requests if r.method == "PUT" and r.path.endswith("/commands")]
    poll = next(c for c in puts[-1].json if c["name"] == "poll")
    assert poll["name_localizations"]["fr"] == "sondage"
    create_cmd = next(o for o in poll["options"] if o["name"] == "create")
    assert create_cmd["name_localizations"]["fr"] == "creer"
    names = {o["name"]: o.get("name_localizations", {}).get("fr") for o in create_cmd["options"]}
    assert names["deadline"] == "echeance" and names["kind"] == "type" and names["native"] == "natif"


async def simultaneous_clicks(env, actor, message, custom_id: str, times: int = 2):
    """Test-only: SimCord refuses overlapping actor operations, so two clicks "at once" are two
    INTERACTION_CREATE payloads emitted before the bot runs either; both go through discord.py's
    real dispatch and run concurrently."""
    from simcord import interactions as sc_interactions
    from simcord.backend import serializers
    from simcord.enums import ComponentType, InteractionType
    from simcord.results import InteractionResult

    backend = env.backend
    stored = backend.get_message(message.channel.id, message.id)
    records = []
    for _ in range(times):
        record, payload = sc_interactions.base_payload(
            backend,
            type=InteractionType.MESSAGE_COMPONENT,
            channel_id=message.channel.id,
            guild_id=message.guild.id,
            user_id=actor.id,
            data={"custom_id": custom_id, "component_type": ComponentType.BUTTON},
        )
        payload["message"] = dict(serializers.message_payload(backend, stored))
        record.source_message_id = stored.id
        records.append(record)
        backend.emit("INTERACTION_CREATE", payload)
    await env.settle()
    return [InteractionResult(env, record) for record in records]


async def test_concurrent_double_click_gives_one_answer(world, sessions):
    env = world.env
    _, message, poll_id = await create(world, options="A; B")
    a, b = option_ids(message)
    results = await simultaneous_clicks(env, world.member_fr, message, f"rb:poll:vote:{poll_id}:{a}")
    assert all(r.acknowledged and "Votre choix\u202f: **A**" in r.response.content for r in results)
    assert await answers_of(world, sessions, poll_id) == {world.member_fr.id: {a}}
    assert await scalar(sessions, select(func.count()).select_from(Answer)) == 1
    assert await scalar(sessions, select(func.count()).select_from(AnswerChoice)) == 1


async def test_native_vote_missed_by_the_gateway_is_recovered_at_closing(world, sessions):
    _, message, poll_id = await create(world, options="Oui; Non", native=True)
    await world.member_fr.vote(message, answer=2)
    await world.member_en.vote(message, answer=1)
    async with sessions.begin() as session:  # as if MESSAGE_POLL_VOTE_ADD had been lost
        await session.execute(delete(Answer).where(Answer.user_id == world.member_en.id))
    await world.moderator.slash(world.fr, "poll close", poll=poll_id)
    yes, no = await answers_options(sessions, poll_id)
    assert await answers_of(world, sessions, poll_id) == {world.member_fr.id: {no}, world.member_en.id: {yes}}
    assert "Oui — 1 (50\u00a0%)" in embed_text(world.fr.last_message)
