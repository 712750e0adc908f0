"""A moderator's review of quick surveys, end to end on SimCord over a real database: options
a member can tell apart, a channel the bot cannot post in, results by member type that fit."""

from __future__ import annotations

import discord
import simcord
from sqlalchemy import func, select

from bot.errors import DomainError
from storage.models import Poll
from tests.cogs.test_polls_surveys_e2e import buttons, count, create_survey, number_in, profile, select_menu
from tests.conftest import embed_text

PREFIX = "Davantage de rencontres régionales entre collectivités territoriales et ONG du "
LONG_A = PREFIX + "littoral atlantique"
LONG_B = PREFIX + "bassin méditerranéen"


# ----------------------------------------------------------------------------- finding 1
async def test_survey_options_longer_than_a_button_are_listed_in_full_and_numbered(world):
    assert len(LONG_A) > 80 and len(LONG_B) > 80 and LONG_A[:79] == LONG_B[:79]
    text = f"Quelle priorité pour 2027 ?\n{LONG_A}\n{LONG_B}\nAutre\n\n[oui/non] Venez-vous ?"
    _posted, public = await create_survey(world, text)
    step = await world.member_fr.click(public, label="Répondre au questionnaire")
    shown = embed_text(step.response)
    assert f"**1.** {LONG_A}" in shown and f"**2.** {LONG_B}" in shown and "**3.** Autre" in shown
    labels = list(buttons(step.response))
    assert len(set(labels)) == 3 and all(len(label) <= 80 for label in labels)
    assert labels[0].startswith("1. ") and labels[1].startswith("2. ") and labels[2] == "3. Autre"
    nxt = await world.member_fr.click(step.response, label=labels[1])
    assert "bassin méditerranéen" in embed_text(nxt.response)
    assert list(buttons(nxt.response)) == ["Oui", "Non", "Abstention"], "short options stay as they were"


async def test_quick_poll_options_longer_than_a_button_are_numbered_in_the_message(world):
    await world.moderator.slash(world.fr, "poll create", question="Quelle priorité ?", options=f"{LONG_A}; {LONG_B}")
    message = world.fr.last_message
    shown = embed_text(message)
    assert f"**1.** {LONG_A}" in shown and f"**2.** {LONG_B}" in shown
    labels = [label for label in buttons(message) if label[0].isdigit()]
    assert len(labels) == 2 and labels[0].startswith("1. ") and labels[1].startswith("2. ")
    assert all(len(label) <= 80 for label in labels)
    short = await world.moderator.slash(world.fr, "poll create", question="Lieu ?", options="Lyon; Paris")
    assert short.response is not None
    assert {"Lyon", "Paris"} <= set(buttons(world.fr.last_message))
    assert "**1.**" not in embed_text(world.fr.last_message)


# ----------------------------------------------------------------------------- finding 2
SURVEY = "[oui/non] Venez-vous ?\n\n[texte] Une idée ?"


async def test_survey_in_a_channel_the_bot_cannot_post_in_is_refused_before_the_form(world, sessions):
    closed = world.guild.create_text_channel(
        "ferme", overwrites={world.guild.me: discord.PermissionOverwrite(send_messages=False)})
    shown = await world.moderator.slash(closed, "poll survey")
    assert shown.modal is None, "nothing to type for nothing"
    assert shown.response.content == (
        "Je ne peux pas publier de sondage dans ce salon\u202f: il me manque la permission "
        "«\u202fEnvoyer des messages\u202f»."
    )
    simcord.assert_error(world.env, DomainError)
    bare = world.guild.create_text_channel("nu", overwrites={
        world.guild.me: discord.PermissionOverwrite(send_messages=False, embed_links=False)})
    english = await world.member_en.slash(bare, "poll survey")  # not a moderator: that comes first
    assert english.modal is None
    simcord.assert_error(world.env)
    mod_en = world.guild.add_member(world.env.create_user("robin"), roles=[world.mod_role])
    from bot.simcord_support import set_locale

    set_locale(mod_en, "en-US")
    shown = await mod_en.slash(bare, "poll survey")
    assert shown.response.content == (
        "I cannot post a poll in this channel: I lack the permissions “Send Messages”, “Embed Links”."
    )
    simcord.assert_error(world.env, DomainError)
    assert await count(sessions, select(func.count()).select_from(Poll)) == 0


async def test_survey_whose_post_fails_keeps_the_typed_text_behind_a_retry_button(world, sessions):
    shown = await world.moderator.slash(world.fr, "poll survey")
    world.env.inject_error("POST", f"/channels/{world.fr.id}/messages", status=403, code=50013,
                           message="Missing Permissions")
    failed = await world.moderator.submit_modal(shown, {"title": "Enquête", "questions": SURVEY})
    assert failed.response.content == "Je ne peux pas publier de sondage dans ce salon."
    simcord.assert_error(world.env, DomainError)
    assert await count(sessions, select(func.count()).select_from(Poll)) == 0
    again = await world.moderator.click(failed.response, label="Corriger le questionnaire")
    fields = {c["component"]["custom_id"]: c["component"].get("value") for c in again.modal["components"]}
    assert fields == {"title": "Enquête", "questions": SURVEY}, "what was typed is not lost"
    posted = await world.moderator.submit_modal(again, fields)
    assert "Questionnaire n°" in posted.response.content
    assert await count(sessions, select(func.count()).select_from(Poll)) == 1


# ----------------------------------------------------------------------------- finding 3
async def test_survey_results_by_type_give_each_question_its_table(world, sessions):
    themes = "\n".join(f"Thème numéro {n} de la liste des priorités du réseau" for n in range(1, 9))
    places = "\n".join(f"Lieu numéro {n} pour la prochaine rencontre du réseau" for n in range(1, 9))
    text = (f"[multi] Quels thèmes ?\n{themes}\n\n[multi] Quels lieux ?\n{places}\n\n[oui/non] Venez-vous ?"
            "\n\n[oui/non] Restez-vous ?\n\n[oui/non] Revenez-vous ?")
    posted, public = await create_survey(world, text)
    survey_id = number_in(posted.response.content)
    for member, member_type, yes in ((world.member_fr, "collectivite", "Oui"), (world.member_en, "ong", "Yes")):
        await profile(sessions, member.id, member_type)
        step = await member.click(public, label="Répondre au questionnaire")
        values = [o["value"] for o in select_menu(step.response)["options"]]
        step = await member.select(step.response, values[:3])
        values = [o["value"] for o in select_menu(step.response)["options"]]
        step = await member.select(step.response, values[2:5])
        for _ in range(3):
            step = await member.click(step.response, label=yes)
    results = await world.moderator.slash(world.fr, "poll results", poll=survey_id, by_type=True)
    embeds = results.response.embeds
    for embed in embeds[1:]:
        assert "Collectivité territoriale" in embed.description, embed.description
        assert "ONG / association" in embed.description, embed.description
    assert sum(len(e) for e in embeds) <= 6000
    await world.moderator.slash(world.fr, "poll close", poll=survey_id)
    final = next(m for m in world.fr.history() if m.id == public.id)
    assert sum(len(e) for e in final.embeds) <= 6000
    for embed in final.embeds[1:3]:
        assert "Collectivité territoriale" in embed.description and "ONG / association" in embed.description


async def test_survey_results_too_long_for_one_message_come_in_several(world, sessions):
    def question(n: int) -> str:
        options = "\n".join(f"Option {o:02d} de Q{n} détaillée" for o in range(1, 26))
        return f"[multi] Question {n} ?\n{options}"

    text = "\n\n".join(question(n) for n in range(1, 6))
    posted, public = await create_survey(world, text)
    survey_id = number_in(posted.response.content)
    await profile(sessions, world.member_fr.id, "collectivite")
    step = await world.member_fr.click(public, label="Répondre au questionnaire")
    for _ in range(5):
        values = [o["value"] for o in select_menu(step.response)["options"]]
        step = await world.member_fr.select(step.response, values[:2])
    results = await world.moderator.slash(world.fr, "poll results", poll=survey_id, by_type=True)
    messages = {m.id: m for m in [results.response, *results.followups]}.values()
    assert len(messages) >= 3
    embeds = [e for m in messages for e in m.embeds]
    assert [e.title for e in embeds[1:]] == [f"Question {n}/5" for n in range(1, 6)]
    for message in messages:
        assert sum(len(e) for e in message.embeds) <= 6000
    for embed in embeds[1:]:
        assert "Option 25 de Q" in embed.description, "every option"
        assert "Collectivité territoriale" in embed.description
    assert sum(len(m.attachments) for m in messages) == 5


# ----------------------------------------------------------------------------- finding 4
async def test_a_kind_named_in_an_error_follows_the_reader_s_language(world, sessions):
    from bot.errors import InvalidInput
    from bot.simcord_support import set_locale

    mod_en = world.guild.add_member(world.env.create_user("robin"), roles=[world.mod_role])
    set_locale(mod_en, "en-US")
    refused = await mod_en.slash(world.fr, "poll create", question="Lyon ?", options="A; B", kind="yesno")
    assert refused.response.content == "The “Yes / No / Abstain” kind has its own answers: do not give options."
    simcord.assert_error(world.env, InvalidInput)
    shown = await mod_en.slash(world.fr, "poll survey")
    posted = await mod_en.submit_modal(shown, {"title": "Survey", "questions": "[texte] Idée ?\nA\nB\n\n[oui/non] Ok ?"})
    assert "The “Open answer” kind has its own answers" in posted.response.content
    simcord.assert_error(world.env, InvalidInput)
    french = await world.moderator.slash(world.en, "poll create", question="Lyon ?", options="A; B", kind="likert")
    assert french.response.content.startswith("Le type «\u202fÉchelle de 1 à 5\u202f» a ses propres réponses")
    simcord.assert_error(world.env, InvalidInput)
    assert await count(sessions, select(func.count()).select_from(Poll)) == 0


# ----------------------------------------------------------------------------- finding 6
async def test_a_survey_s_reminder_and_closing_reply_say_questionnaire(world):
    posted, _public = await create_survey(world, SURVEY, deadline="2j", reminder="1j")
    survey_id = number_in(posted.response.content)
    await world.env.bot.get_cog("Polls").run_reminder(survey_id)
    reminder = world.fr.last_message.content
    assert "Rappel\u202f: le questionnaire «\u202fEnquête éclair\u202f» se termine" in reminder
    closed = await world.moderator.slash(world.fr, "poll close", poll=survey_id)
    assert closed.response.content.startswith(f"Questionnaire n°\u00a0{survey_id} clos.")
    again = await world.moderator.slash(world.fr, "poll close", poll=survey_id)
    assert again.response.content == f"Le questionnaire n°\u00a0{survey_id} était déjà clos."
