"""Campaigns, quick surveys and results by member type, end to end on SimCord over a real
database: moderators create and activate campaigns and polls land in the current one; a member
answers a three-question survey step by step, interrupts and resumes, changes an answer from
the summary; each answer keeps the member type of the consented profile at that moment;
`/poll results by_type:true` gives the table and the by-type chart; the closing message carries
the breakdown; a survey's buttons (and an open modal) keep working after a restart."""

from __future__ import annotations

import dataclasses
import io
from datetime import timedelta

import pytest
import simcord
from PIL import Image
from sqlalchemy import func, select

from bot.errors import InvalidInput
from bot.services import charts
from bot.services.campaigns import current_campaign_id
from bot.services.profiles import ProfileService
from cogs._errors import NotModerator
from storage.models import Answer, AuditEntry, Campaign, Option, Poll, Question
from tests.conftest import embed_text
from tests.databases import respondents
from tests.forged import click_forged

REFRESH = 30.0
SURVEY = """[oui/non] Avez-vous participé à une rencontre du réseau cette année ?

[multi:2] Quels thèmes vous intéressent ?
- Climat
- Santé
- Éducation

[texte] Une idée pour la prochaine enquête ?"""


@pytest.fixture
def config(config):
    return dataclasses.replace(config, polls=dataclasses.replace(config.polls, refresh_seconds=REFRESH))


# ----------------------------------------------------------------------------- helpers
def buttons(message) -> dict[str, str]:
    """label → custom_id of the buttons of a message (a ResponseMessage or a discord.Message)."""
    out = {}
    for row in message.components:
        children = row["components"] if isinstance(row, dict) else [c.to_dict() for c in row.children]
        for c in children:
            if c["type"] == 2:
                out[c["label"]] = c["custom_id"]
    return out


def select_menu(message) -> dict:
    menus = [c for row in message.components for c in row["components"] if c["type"] == 3]
    assert len(menus) == 1, message.components
    return menus[0]


def number_in(text: str) -> int:
    return int(text.split("°" if "°" in text else "#")[1].split()[0].rstrip(":"))


async def profile(sessions, user_id: int, member_type: str) -> None:
    """The member accepts the consent notice (first time) and sets their type."""
    service = ProfileService(sessions)
    if (await service.get(user_id)) is None:
        await service.record_consent(user_id, lang="fr")
    await service.set_profile(user_id, member_type, "Organisation test")


async def stored_answers(world, sessions, poll_id: int) -> dict[tuple[int, int], tuple[str | None, str | None]]:
    """{(member id, question position): (member_type, text)} (an anonymous survey's pseudonyms of
    the world's members read as their ids)."""
    async with sessions() as session:
        rows = (await session.execute(
            select(Answer.user_id, Question.position, Answer.member_type, Answer.text)
            .join(Question, Question.id == Answer.question_id)
            .where(Question.poll_id == poll_id)
        )).all()
    whose = await respondents(sessions, poll_id, world.guild.member_ids(), stored={u for u, *_ in rows})
    return {(whose.get(u, u), p): (mt, text) for u, p, mt, text in rows}


async def count(sessions, stmt) -> int:
    async with sessions() as session:
        return int(await session.scalar(stmt) or 0)


async def create_survey(world, text: str = SURVEY, title: str = "Enquête éclair", channel=None, **options):
    channel = channel or world.fr
    shown = await world.moderator.slash(channel, "poll survey", **options)
    assert shown.modal is not None, shown
    posted = await world.moderator.submit_modal(shown, {"title": title, "questions": text})
    return posted, channel.last_message


async def png_of(attachment) -> bytes:
    data = await attachment.read()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    Image.open(io.BytesIO(data)).verify()
    return data


def message_now(channel, message):
    return next(m for m in channel.history() if m.id == message.id)


# ----------------------------------------------------------------------------- campaigns
async def test_campaign_commands_are_the_campaigns_cog_s_under_poll(world):
    """The Campaigns cog owns /poll campaign but the tree members see is unchanged: the group
    sits first under /poll, and nowhere else; unloading the extension takes it away."""
    bot = world.env.bot
    poll = bot.tree.get_command("poll")
    assert [c.name for c in poll.commands] == ["campaign", "create", "survey", "close", "results", "merge", "list", "duplicate", "series", "template"]
    group = poll.get_command("campaign")
    assert [c.name for c in group.commands] == ["create", "list", "activate"]
    assert all(c.binding is bot.get_cog("Campaigns") for c in group.commands)
    assert bot.tree.get_command("campaign") is None
    await bot.unload_extension("cogs.campaigns")
    assert poll.get_command("campaign") is None
    await bot.load_extension("cogs.campaigns")
    assert [c.name for c in poll.commands][0] == "campaign"


async def test_campaigns_create_list_activate_and_polls_default_to_the_current_one(world, sessions):
    env = world.env
    mod = world.moderator
    first = await mod.slash(world.fr, "poll campaign create", name="Enquête membres 2026-2027")
    assert first.ephemeral
    assert first.response.content.startswith(
        "Campagne «\u202fEnquête membres 2026-2027\u202f» créée\u202f: c’est la campagne en cours"
    )
    second = await mod.slash(world.fr, "poll campaign create", name="Enquête membres 2027-2028")
    assert "Pour en faire la campagne en cours\u202f: `/sondage campagne activer`" in second.response.content
    duplicate = await mod.slash(world.fr, "poll campaign create", name="enquête MEMBRES 2026-2027")
    assert duplicate.response.content == "Une campagne nommée «\u202fenquête MEMBRES 2026-2027\u202f» existe déjà."
    async with sessions() as session:
        ids = dict((await session.execute(select(Campaign.name, Campaign.id))).all())
    c1, c2 = ids["Enquête membres 2026-2027"], ids["Enquête membres 2027-2028"]
    assert await current_campaign_id(sessions) == c1

    created = await mod.slash(world.fr, "poll create", question="Format ?", options="A; B")
    poll_1 = number_in(created.response.content)
    assert "Campagne\u202f: Enquête membres 2026-2027" in created.response.content

    activated = await mod.slash(world.fr, "poll campaign activate", name="Enquête membres 2027-2028")
    assert activated.response.content.startswith(
        "«\u202fEnquête membres 2027-2028\u202f» est maintenant la campagne en cours"
    )
    again = await mod.slash(world.fr, "poll campaign activate", name="Enquête membres 2027-2028")
    assert again.response.content == "«\u202fEnquête membres 2027-2028\u202f» était déjà la campagne en cours."
    assert await current_campaign_id(sessions) == c2
    poll_2 = number_in(
        (await mod.slash(world.fr, "poll create", question="Lieu ?", options="C; D")).response.content
    )
    chosen = await mod.slash(
        world.fr, "poll create", question="Date ?", options="E; F", campaign="Enquête membres 2026-2027"
    )
    poll_3 = number_in(chosen.response.content)
    async with sessions() as session:
        campaigns = dict((await session.execute(select(Poll.id, Poll.campaign_id))).all())
    assert campaigns == {poll_1: c1, poll_2: c2, poll_3: c1}

    listing = await mod.slash(world.fr, "poll campaign list")
    text = embed_text(listing.response)
    assert listing.ephemeral
    assert "**Enquête membres 2027-2028** — **en cours**\n1 sondage · 0 répondant" in text
    assert "**Enquête membres 2026-2027**\n2 sondages · 0 répondant" in text
    assert "Campagne en cours\u202f: Enquête membres 2027-2028" in text

    choices = await mod.autocomplete(world.fr, "poll create", "campaign", "2026")
    assert [c["value"] for c in choices] == ["Enquête membres 2026-2027"]
    choices = await mod.autocomplete(world.fr, "poll campaign activate", "name", "")
    assert choices[0]["name"] == "Enquête membres 2027-2028 (en cours)"

    unknown = await mod.slash(world.fr, "poll create", question="X ?", options="A; B", campaign="Inconnue")
    assert unknown.response.content == "Aucune campagne nommée «\u202fInconnue\u202f»."
    missing = await world.member_en.slash(
        world.en, "poll campaign activate", name="Enquête membres 2026-2027"
    )
    assert "moderators" in missing.response.content
    simcord.assert_error(env, NotModerator)
    refused = await world.member_fr.slash(world.fr, "poll campaign create", name="Pirate")
    assert "réservée aux modérateurs" in refused.response.content
    simcord.assert_error(env, NotModerator)
    async with sessions() as session:
        actions = sorted((await session.execute(select(AuditEntry.action, AuditEntry.target_id))).all())
    assert [a for a in actions if a[0].startswith("campaign.")] == [
        ("campaign.activate", str(c2)),
        ("campaign.create", str(c1)),
        ("campaign.create", str(c2)),
    ]
    assert await count(sessions, select(func.count()).select_from(Campaign)) == 2
    assert await current_campaign_id(sessions) == c2


async def test_campaign_commands_are_localised(world):
    puts = [r for r in world.env.http_requests if r.method == "PUT" and r.path.endswith("/commands")]
    poll = next(c for c in puts[-1].json if c["name"] == "poll")
    group = next(o for o in poll["options"] if o["name"] == "campaign")
    assert group["type"] == 2 and group["name_localizations"]["fr"] == "campagne"
    assert {o["name"]: o["name_localizations"]["fr"] for o in group["options"]} == {
        "create": "creer",
        "list": "liste",
        "activate": "activer",
    }
    survey = next(o for o in poll["options"] if o["name"] == "survey")
    assert survey["name_localizations"]["fr"] == "questionnaire"
    results = next(o for o in poll["options"] if o["name"] == "results")
    assert {o["name"]: o["name_localizations"]["fr"] for o in results["options"]}["by_type"] == "par_type"


# ----------------------------------------------------------------------------- survey flow
async def test_member_answers_a_survey_step_by_step_interrupts_and_resumes(world, sessions):
    env = world.env
    member = world.member_fr
    await world.moderator.slash(world.fr, "poll campaign create", name="Enquête membres 2026-2027")
    posted, public = await create_survey(world)
    assert posted.ephemeral and "Questionnaire n°" in posted.response.content
    assert "Campagne\u202f: Enquête membres 2026-2027" in posted.response.content
    survey_id = number_in(posted.response.content)
    assert buttons(public) == {"Répondre au questionnaire": f"rb:survey:start:{survey_id}"}
    text = embed_text(public)
    assert "Questionnaire n°" in text and "Enquête éclair" in text
    assert "**2.** Quels thèmes vous intéressent ? — *Choix multiple (2 au plus)*" in text
    async with sessions() as session:
        poll = await session.get(Poll, survey_id)
        assert poll.title == "Enquête éclair" and poll.campaign_id is not None
        kinds = (
            await session.execute(
                select(Question.code, Question.kind, Question.max_choices)
                .where(Question.poll_id == survey_id)
                .order_by(Question.position)
            )
        ).all()
    assert kinds == [("q1", "yesno", 1), ("q2", "multi", 2), ("q3", "text", 1)]

    await profile(sessions, member.id, "collectivite")
    step1 = await member.click(public, label="Répondre au questionnaire")
    assert step1.ephemeral
    assert "Question 1/3" in embed_text(step1.response)
    assert "Avez-vous participé" in embed_text(step1.response)
    assert list(buttons(step1.response)) == ["Oui", "Non", "Abstention"]
    assert all(
        len(c) <= 100 and c.startswith(f"rb:survey:pick:{survey_id}:")
        for c in buttons(step1.response).values()
    )

    step2 = await member.click(step1.response, label="Oui")
    text = embed_text(step2.response)
    assert step2.response.id == step1.response.id, "the same ephemeral message moves on"
    assert (
        "Réponse enregistrée\u202f: **Oui**" in text
        and "**Question 2/3** — Quels thèmes vous intéressent ?" in text
    )
    assert await stored_answers(world, sessions, survey_id) == {(member.id, 0): ("collectivite", None)}, (
        "stored at once"
    )

    await profile(sessions, member.id, "ong")  # the member changes their profile mid-way
    menu = select_menu(step2.response)
    assert menu["max_values"] == 2 and [o["label"] for o in menu["options"]] == [
        "Climat",
        "Santé",
        "Éducation",
    ]
    values = {o["label"]: o["value"] for o in menu["options"]}
    step3 = await member.select(step2.response, [values["Santé"], values["Climat"]])
    assert "Réponse enregistrée\u202f: **Climat**, **Santé**" in embed_text(step3.response)
    assert "Question 3/3" in embed_text(step3.response)
    # …and here the member walks away.  Later, a click on the public button resumes at question 3.
    resumed = await member.click(public, label="Répondre au questionnaire")
    text = embed_text(resumed.response)
    assert resumed.response.id != step1.response.id
    assert "Vous reprenez là où vous vous étiez arrêté." in text and "Question 3/3" in text
    assert "Question 1/3" not in text and "Question 2/3" not in text
    shown = await member.click(resumed.response, label="Écrire ma réponse")
    assert shown.modal is not None and shown.modal["title"] == "Question 3/3"
    done = await member.submit_modal(shown, {"answer": "Interroger aussi les partenaires du Sud"})
    summary = embed_text(done.response)
    assert "Merci\u202f! Vos réponses sont enregistrées." in summary
    assert "→ **Oui**" in summary and "→ **Climat**, **Santé**" in summary
    assert "→ «\u202fInterroger aussi les partenaires du Sud\u202f»" in summary
    assert list(buttons(done.response)) == ["Modifier 1", "Modifier 2", "Modifier 3"]

    assert await stored_answers(world, sessions, survey_id) == {
        (member.id, 0): ("collectivite", None),  # answered before the change: not rewritten
        (member.id, 1): ("ong", None),
        (member.id, 2): ("ong", "Interroger aussi les partenaires du Sud"),
    }
    await profile(sessions, member.id, "reseau")
    assert (await stored_answers(world, sessions, survey_id))[(member.id, 0)][0] == "collectivite"

    # change an answer from the summary
    edit = await member.click(done.response, label="Modifier 1")
    assert "Question 1/3" in embed_text(edit.response) and "Votre réponse actuelle\u202f: **Oui**" in embed_text(
        edit.response
    )
    assert "Retour au récapitulatif" in buttons(edit.response)
    changed = await member.click(edit.response, label="Non")
    assert "→ **Non**" in embed_text(changed.response) and "Merci" in embed_text(changed.response)
    assert (await stored_answers(world, sessions, survey_id))[(member.id, 0)] == ("reseau", None)
    again = await member.click(public, label="Répondre au questionnaire")
    assert "Merci\u202f! Vos réponses sont enregistrées." in embed_text(again.response), (
        "a finished survey shows the summary"
    )

    # an English member sees the steps in English (the question texts are the survey's)
    english = await world.member_en.click(public, label="Répondre au questionnaire")
    text = embed_text(english.response)
    assert "**Question 1 of 3** — Avez-vous participé" in text and "Click your answer." in text
    assert list(buttons(english.response)) == ["Yes", "No", "Abstain"], "built-in options in her language"
    await world.member_en.click(english.response, label="Abstain")

    await env.advance_time(REFRESH * 2)
    assert "2 participants (complets\u202f: 1)" in embed_text(message_now(world.fr, public))


BUILT_IN_SURVEY = """[oui/non] Avez-vous participé à une rencontre du réseau cette année ?

[likert] Le réseau répond à vos besoins.

[multi:2] Quels thèmes vous intéressent ?
- Climat
- Santé
- Éducation"""


async def test_an_english_member_s_steps_show_built_in_options_in_english(world, sessions):
    """A French survey answered by an English-locale member: the built-in options (yes/no,
    Likert) are in English in every private step — buttons, the saved answer, the current
    answer, the summary and « Change » —, the options the moderator wrote stay as written, or in
    their English wording once the survey has one; a French member still reads French.  (The
    steps showed « Oui », « 4 — Plutôt d’accord » to her although every built-in option has an
    English label.)"""
    from storage.repositories.postings import PostingRepository

    _, public = await create_survey(world, BUILT_IN_SURVEY)
    english = world.member_en
    step1 = await english.click(public, label="Répondre au questionnaire")
    assert list(buttons(step1.response)) == ["Yes", "No", "Abstain"]
    step2 = await english.click(step1.response, label="Yes")
    text = embed_text(step2.response)
    assert "Answer saved: **Yes**" in text and "**Question 2 of 3** — Le réseau répond" in text
    assert list(buttons(step2.response)) == [
        "1 — Strongly disagree", "2 — Disagree", "3 — Neither agree nor disagree", "4 — Agree", "5 — Strongly agree",
    ]
    step3 = await english.click(step2.response, label="4 — Agree")
    assert "Answer saved: **4 — Agree**" in embed_text(step3.response)
    menu = select_menu(step3.response)
    assert [o["label"] for o in menu["options"]] == ["Climat", "Santé", "Éducation"], "the moderator's, as written"
    values = {o["label"]: o["value"] for o in menu["options"]}
    done = await english.select(step3.response, [values["Climat"]])
    summary = embed_text(done.response)
    assert "→ **Yes**" in summary and "→ **4 — Agree**" in summary and "→ **Climat**" in summary
    assert "Oui" not in summary and "Plutôt" not in summary
    edit = await english.click(done.response, label="Change 1")
    assert "Your current answer: **Yes**" in embed_text(edit.response)
    assert list(buttons(edit.response))[:3] == ["Yes", "No", "Abstain"]

    # the survey gets an English wording of the moderator's question and two of its options (as a
    # poll posted in several languages carries it): shown where it exists, the rest as written
    async with sessions.begin() as session:
        question = await session.scalar(select(Question).where(Question.poll_id == number_in(embed_text(public)),
                                                                Question.position == 2))
        options = (await session.execute(select(Option.id, Option.code).where(Option.question_id == question.id))).all()
        by_code = dict((code, oid) for oid, code in options)
        await PostingRepository(session).set_wording(
            question.id, "en", "Which themes interest you?", {by_code["o1"]: "Climate", by_code["o2"]: "Health"})
    # written here under the service: the poll service's cached structure holds the wording, so it
    # is dropped as PostingService.set_wording has it dropped
    world.env.bot.services.polls.forget_cached(question.poll_id)
    back = await english.click(edit.response, label="Back to the summary")
    edit3 = await english.click(back.response, label="Change 3")
    text = embed_text(edit3.response)
    assert "**Question 3 of 3** — Which themes interest you?" in text and "Your current answer: **Climate**" in text
    assert [o["label"] for o in select_menu(edit3.response)["options"]] == ["Climate", "Health", "Éducation"]

    # a survey stored before built-in options had their wording in every language: the catalogue's
    async with sessions.begin() as session:
        first = await session.scalar(select(Question).where(Question.poll_id == question.poll_id, Question.position == 0))
        for option in (await session.scalars(select(Option).where(Option.question_id == first.id))):
            option.labels = {}
    world.env.bot.services.polls.forget_cached(question.poll_id)
    back = await english.click(edit3.response, label="Back to the summary")
    assert "→ **Yes**" in embed_text(back.response) and "→ **Climate**" in embed_text(back.response)
    edit1 = await english.click(back.response, label="Change 1")
    assert list(buttons(edit1.response))[:3] == ["Yes", "No", "Abstain"]

    french = await world.member_fr.click(public, label="Répondre au questionnaire")
    assert list(buttons(french.response)) == ["Oui", "Non", "Abstention"], "a French member still reads French"
    after = await world.member_fr.click(french.response, label="Oui")
    assert "Réponse enregistrée\u202f: **Oui**" in embed_text(after.response)
    assert list(buttons(after.response))[3] == "4 — Plutôt d’accord"


async def test_survey_text_format_errors_are_clear_and_create_nothing(world, sessions):
    env = world.env
    posted, _ = await create_survey(world, text="[oui/non] Une seule question ?")
    assert posted.response.content == (
        "Un questionnaire a de 2 à 5 questions, séparées par une ligne vide\u202f: j’en compte 1."
    )
    posted, _ = await create_survey(world, text="[oui/non] Venez-vous\u202f?\n\nQuel thème ?")
    assert posted.response.content == (
        "Question 2\u202f: Donnez les options sur les lignes suivantes (une par ligne), "
        "ou commencez la question par [texte] pour une réponse libre."
    )
    posted, _ = await create_survey(world, text="[sondage] Venez-vous\u202f?\n\n[likert] Utile\u202f?")
    assert posted.response.content.startswith("Question 1\u202f: Type «\u202f[sondage]\u202f» inconnu")
    posted, _ = await create_survey(world, text="[multi:4] Thèmes\u202f?\nA\nB\nC\n\n[texte] Idée ?")
    assert posted.response.content == "Question 1\u202f: Le nombre de choix possibles doit être entre 1 et 3."
    simcord.assert_error(env, InvalidInput)
    assert await count(sessions, select(func.count()).select_from(Poll)) == 0
    # nothing typed is lost: the refusal has a button reopening the modal with the text
    reopened = await world.moderator.click(posted.response, label="Corriger le questionnaire")
    fields = {c["component"]["custom_id"]: c["component"].get("value") for c in reopened.modal["components"]}
    assert fields == {"title": "Enquête éclair", "questions": "[multi:4] Thèmes\u202f?\nA\nB\nC\n\n[texte] Idée ?"}
    fixed = await world.moderator.submit_modal(
        reopened, {"title": "Enquête éclair", "questions": fields["questions"].replace("multi:4", "multi:2")}
    )
    assert "Questionnaire n°" in fixed.response.content
    assert await count(sessions, select(func.count()).select_from(Poll)) == 1
    early = await world.moderator.slash(world.fr, "poll survey", deadline="demain")
    assert early.modal is None and early.response.content.startswith("Échéance «\u202fdemain\u202f» non comprise")
    simcord.assert_error(env, InvalidInput)
    member = await world.member_fr.slash(world.fr, "poll survey")
    assert member.modal is None and "réservée aux modérateurs" in member.response.content
    simcord.assert_error(env, NotModerator)


async def test_forged_survey_ids_are_refused(world, sessions):
    env = world.env
    _, public = await create_survey(world)
    survey_id = int(buttons(public)["Répondre au questionnaire"].rsplit(":", 1)[1])
    _, quick = await create_survey(world, title="Autre")
    other_id = int(buttons(quick)["Répondre au questionnaire"].rsplit(":", 1)[1])
    async with sessions() as session:
        other_q = await session.scalar(
            select(Question.id).where(Question.poll_id == other_id, Question.position == 0)
        )
        other_option = await session.scalar(select(Option.id).where(Option.question_id == other_q))
        first_q = await session.scalar(
            select(Question.id).where(Question.poll_id == survey_id, Question.position == 0)
        )
        first_option = await session.scalar(select(Option.id).where(Option.question_id == first_q))
    wrong, huge, wrong_option, quick_vote = await click_forged(env, public, [
        (world.member_fr, f"rb:survey:pick:{survey_id}:{other_q}:{other_option}"),
        (world.member_fr, "rb:survey:start:99999999999999999999"),
        (world.member_fr, f"rb:survey:pick:{survey_id}:{first_q}:{other_option}"),
        (world.member_en, f"rb:poll:vote:{survey_id}:{first_option}"),
    ])
    assert wrong.response.content == "Cette question ne fait pas partie du questionnaire."
    assert huge.response.content == "Ce sondage n’existe pas (ou plus)."
    assert wrong_option.response.content == "Cette réponse ne fait pas partie du sondage."
    assert quick_vote.response.content == "This is a survey: use the “Answer the survey” button."
    assert await count(sessions, select(func.count()).select_from(Answer)) == 0


# ----------------------------------------------------------------------------- results by type
async def test_results_by_member_type_table_chart_and_closing_message(world, sessions):
    env = world.env
    extra = world.guild.add_member(env.create_user("ines"))
    await profile(sessions, world.member_fr.id, "collectivite")
    await profile(sessions, world.member_en.id, "ong")
    await profile(sessions, extra.id, "collectivite")
    created = await world.moderator.slash(
        world.fr, "poll create", question="Faut-il se réunir à Lyon ?", kind="yesno"
    )
    poll_id = number_in(created.response.content)
    message = world.fr.last_message
    await world.member_fr.click(message, label="Oui")
    await extra.click(message, label="Non")
    await world.member_en.click(message, label="Oui")

    results = await world.moderator.slash(world.fr, "poll results", poll=poll_id, by_type=True)
    text = embed_text(results.response)
    assert "Par type de membre (réponses et % des répondants de chaque type)" in text
    # wider than a phone as a table: one line per member type, which a phone wraps (issue 11, item 4)
    assert "```" not in text
    assert "**Collectivité territoriale** (2)\u202f: Oui 1 (50\u00a0%) · Non 1 (50\u00a0%) · Abstention 0 (0\u00a0%)" in text
    assert "**ONG / association** (1)\u202f: Oui 1 (100\u00a0%) · Non 0 (0\u00a0%) · Abstention 0 (0\u00a0%)" in text
    assert "**Total** (3)\u202f: Oui 2 (66,7\u00a0%) · Non 1 (33,3\u00a0%) · Abstention 0 (0\u00a0%)" in text
    png = await png_of(results.response.attachments[0])
    assert png == charts.results_by_type_chart(
        "Faut-il se réunir à Lyon ?",
        ["Oui", "Non", "Abstention"],
        ["Collectivité territoriale", "ONG / association"],
        [[1, 1, 0], [1, 0, 0]],
        lang="fr",
        respondents=3,
    )

    await world.moderator.slash(world.fr, "poll close", poll=poll_id)
    final = embed_text(message_now(world.fr, message))
    assert (
        "Par type de membre" in final
        and "Collectivité territoriale" in final
        and "ONG / association" in final
    )
    assert "Total" in final


async def test_results_by_type_in_english_for_an_english_moderator(world, sessions):
    env = world.env
    mod_en = world.guild.add_member(env.create_user("robin"), roles=[world.mod_role])
    from bot.simcord_support import set_locale

    set_locale(mod_en, "en-US")
    await profile(sessions, world.member_fr.id, "reseau")
    created = await world.moderator.slash(world.fr, "poll create", question="Lieu ?", options="Lyon; Paris")
    poll_id = number_in(created.response.content)
    await world.member_fr.click(world.fr.last_message, label="Paris")
    await world.member_en.click(world.fr.last_message, label="Lyon")
    results = await mod_en.slash(world.en, "poll results", poll=poll_id, by_type=True)
    text = embed_text(results.response)
    table = text.split("```")[1]
    assert "Member type" in table and "Network" in table and "Not given" in table
    assert "1 (100%)" in table


async def test_survey_results_show_each_question_and_close_at_the_deadline(world, sessions, bot_factory):
    env = world.env
    await profile(sessions, world.member_fr.id, "collectivite")
    await profile(sessions, world.member_en.id, "ong")
    posted, public = await create_survey(world, deadline="2h")
    survey_id = number_in(posted.response.content)
    for member, choice, themes in (
        (world.member_fr, "Oui", ["Climat"]),
        (world.member_en, "No", ["Santé", "Climat"]),  # built-in options in her language
    ):
        step = await member.click(public, label="Répondre au questionnaire")
        step = await member.click(step.response, label=choice)
        values = {o["label"]: o["value"] for o in select_menu(step.response)["options"]}
        await member.select(step.response, [values[t] for t in themes])

    results = await world.moderator.slash(world.fr, "poll results", poll=survey_id, by_type=True)
    embeds = results.response.embeds
    assert [e.title for e in embeds[1:]] == ["Question 1/3", "Question 2/3", "Question 3/3"]
    assert (
        "Oui — 1 (50\u00a0%)" in embeds[1].description and "Climat — 2 (100\u00a0%)" in embeds[2].description
    )
    assert "Collectivité territoriale" in embeds[1].description
    assert "Aucune réponse pour l’instant." in embeds[3].description
    assert len(results.response.attachments) == 2

    async with sessions() as session:
        deadline = (await session.get(Poll, survey_id)).deadline_at
    assert env.bot.scheduler.get_job(f"poll-close-{survey_id}").next_run_time == deadline
    await env.restart_bot(bot_factory(world.config, clock=lambda: deadline + timedelta(minutes=1)))
    final = message_now(world.fr, public)
    assert final.components == []
    assert [e.title for e in final.embeds][0].endswith("— clos")
    assert "Question 2/3" in [e.title for e in final.embeds]
    text = embed_text(final)
    assert "2 participants (complets\u202f: 0)" in text
    assert "**ONG / association** (" in text, "the closing message has the breakdown"
    assert len(final.attachments) == 2


async def test_a_click_in_a_survey_closed_meanwhile_says_the_survey_is_closed(world, sessions):
    posted, public = await create_survey(world)
    survey_id = number_in(posted.response.content)
    step = await world.member_fr.click(public, label="Répondre au questionnaire")
    await world.moderator.slash(world.fr, "poll close", poll=survey_id)
    late = await world.member_fr.click(step.response, label="Oui")
    assert late.response.content == "Ce questionnaire est clos\u202f: les réponses ne sont plus acceptées."
    assert await count(sessions, select(Answer)) == 0, "nothing stored"


# ----------------------------------------------------------------------------- restart
async def test_survey_buttons_and_open_modal_keep_working_after_a_restart(world, sessions, bot_factory):
    env = world.env
    member = world.member_fr
    posted, public = await create_survey(
        world, text="[oui/non] Venez-vous\u202f?\n\n[texte] Une idée\u202f?\n\n[likert] Utile\u202f?"
    )
    survey_id = number_in(posted.response.content)
    step1 = await member.click(public, label="Répondre au questionnaire")
    await env.restart_bot(bot_factory(world.config))
    assert env.bot.is_ready()
    step2 = await member.click(step1.response, label="Oui")  # a step shown before the restart
    assert "Question 2/3" in embed_text(step2.response)
    shown = await member.click(step2.response, label="Écrire ma réponse")
    await env.restart_bot(bot_factory(world.config))  # the member is typing while the bot restarts
    step3 = await member.submit_modal(shown, {"answer": "Plus de rencontres en région"})
    assert "Question 3/3" in embed_text(step3.response)
    assert "Réponse enregistrée\u202f: «\u202fPlus de rencontres en région\u202f»" in embed_text(step3.response)
    english = await world.member_en.click(public, label="Répondre au questionnaire")
    assert "Question 1 of 3" in embed_text(english.response)
    done = await member.click(step3.response, label="4 — Plutôt d’accord")
    assert "Merci" in embed_text(done.response)
    assert sorted((p, t) for (_, p), (_, t) in (await stored_answers(world, sessions, survey_id)).items()) == [
        (0, None),
        (1, "Plus de rencontres en région"),
        (2, None),
    ]
    blank = await member.click(done.response, label="Modifier 2")
    shown = await member.click(blank.response, label="Modifier ma réponse")
    assert shown.modal["components"][0]["component"]["value"] == "Plus de rencontres en région"
    refused = await member.submit_modal(shown, {"answer": "   "})
    assert refused.response.content == "La réponse est vide."
    assert (await stored_answers(world, sessions, survey_id))[(member.id, 1)][1] == "Plus de rencontres en région"


async def test_a_single_choice_question_with_many_options_uses_a_select_menu(world, sessions):
    regions = "\n".join(f"Région {n}" for n in range(1, 8))
    posted, public = await create_survey(world, text=f"Votre région ?\n{regions}\n\n[likert] Utile\u202f?")
    survey_id = number_in(posted.response.content)
    step = await world.member_en.click(public, label="Répondre au questionnaire")
    menu = select_menu(step.response)
    assert menu["custom_id"].startswith(f"rb:survey:select:{survey_id}:") and menu["max_values"] == 1
    assert len(menu["options"]) == 7 and "Choose your answer in the menu." in embed_text(step.response)
    nxt = await world.member_en.select(step.response, [menu["options"][6]["value"]])
    assert "Answer saved: **Région 7**" in embed_text(nxt.response)
    assert "**Question 2 of 2** — Utile\u202f?" in embed_text(nxt.response)
    assert len(buttons(nxt.response)) == 5
