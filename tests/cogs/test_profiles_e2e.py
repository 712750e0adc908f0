"""End to end on SimCord: /profile with its consent notice (slash → accept → select → modal) in
French and English, changing a profile, /my-data with its JSON file, /forget-me with its
confirmation, and another member kept away from someone else's buttons."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
import simcord
from simcord.actors import _component_interaction
from sqlalchemy import select

from bot.errors import Forbidden, InvalidInput
from storage.models import Answer, AnswerChoice, AuditEntry, Option, Poll, Profile, Question
from tests.conftest import embed_text
from tests.databases import answer_rows


async def profile_of(sessions, user_id: int) -> Profile | None:
    async with sessions() as session:
        return await session.get(Profile, user_id)


def buttons(message) -> dict[str, str]:
    """label → custom_id of the message's buttons."""
    return {c["label"]: c["custom_id"] for row in message.components for c in row["components"] if c["type"] == 2}


def select_options(message) -> dict[str, str]:
    """value → label of the message's select menu."""
    menus = [c for row in message.components for c in row["components"] if c["type"] == 3]
    assert len(menus) == 1
    return {o["value"]: o["label"] for o in menus[0]["options"]}


def modal_fields(shown) -> dict[str, dict]:
    return {c["component"]["custom_id"]: c for c in shown.modal["components"]}


async def forged_click(actor, message, custom_id: str):
    """SimCord gap: a member can only click what they can see, and an ephemeral message is seen
    by its recipient alone, so no public verb lets another member press its buttons.  A modified
    client replaying a custom_id is what the bot must still refuse: send that click through
    SimCord's own component dispatch, minus the visibility check."""
    stored = actor._env.backend.get_message(message.channel_id, message.id)
    return await _component_interaction(actor, stored, {"custom_id": custom_id, "component_type": 2})


async def seed_answers(sessions, user_id: int, *, author_id: int, status: str = "open") -> None:
    poll = Poll(guild_id=1, channel_id=2, author_id=author_id, title="Besoins des collectivités", lang="fr",
                status=status, anonymous=False)  # a named poll: its answers hold member ids
    question = Question(position=0, code="q1", text="Quel soutien attendez-vous\u202f?", kind="multi", max_choices=3)
    question.options = [Option(position=i, code=f"o{i}", label=label)
                        for i, label in enumerate(("Formation", "Financement", "Mise en réseau"))]
    poll.questions = [question]
    async with sessions.begin() as session:
        session.add(poll)
        await session.flush()
        answer = Answer(question_id=question.id, user_id=user_id, member_type="collectivite")
        answer.choices = [AnswerChoice(option_id=question.options[0].id),
                          AnswerChoice(option_id=question.options[2].id)]
        session.add(answer)


async def consent_and_fill(member, channel, *, member_type: str, values: dict[str, str], accept: str):
    shown = await member.slash(channel, "profile")
    accepted = await member.click(shown.response, label=accept)
    chosen = await member.select(accepted.response, [member_type])
    return await member.submit_modal(chosen, values)


# ------------------------------------------------------------------------------ /profile
async def test_commands_are_synced_with_french_names(world):
    puts = [r for r in world.env.http_requests if r.method == "PUT" and r.path.endswith("/commands")]
    by_name = {c["name"]: c for c in puts[-1].json}
    assert by_name["profile"]["name_localizations"]["fr"] == "profil"
    assert by_name["my-data"]["name_localizations"]["fr"] == "mes-donnees"
    assert by_name["forget-me"]["name_localizations"]["fr"] == "oublier"


async def test_consent_then_profile_in_french(world, sessions):
    member = world.member_fr
    shown = await member.slash(world.fr, "profile")
    assert shown.ephemeral
    notice = embed_text(shown.response)
    for part in ("Ce qui est enregistré", "Pourquoi", "Combien de temps", "1\u202f095 jours", "Comment l’effacer",
                 "/oublier", "/mes-donnees"):
        assert part in notice
    assert set(buttons(shown.response)) == {"J’accepte", "Non merci"}
    assert await profile_of(sessions, member.id) is None, "nothing is stored before the member agrees"

    accepted = await member.click(shown.response, label="J’accepte")
    assert "Quel type de membre" in embed_text(accepted.response)
    assert select_options(accepted.response)["collectivite"] == "Collectivité territoriale"
    profile = await profile_of(sessions, member.id)
    assert profile.consent_at is not None and profile.member_type is None and profile.lang == "fr"

    chosen = await member.select(accepted.response, ["collectivite"])
    assert chosen.modal["title"] == "Votre organisation"
    fields = modal_fields(chosen)
    assert fields["organisation"]["label"] == "Nom de l’organisation (facultatif)"
    assert fields["organisation"]["component"]["required"] is False
    assert (await profile_of(sessions, member.id)).member_type == "collectivite", "the type is kept at once"

    saved = await member.submit_modal(chosen, {"organisation": " Ville de Lyon ", "region": "Auvergne-Rhône-Alpes"})
    assert saved.response.ephemeral
    text = embed_text(saved.response)
    assert "Profil enregistré" in text and "Collectivité territoriale" in text and "Ville de Lyon" in text
    profile = await profile_of(sessions, member.id)
    assert (profile.member_type, profile.organisation, profile.region) == (
        "collectivite", "Ville de Lyon", "Auvergne-Rhône-Alpes"
    )


async def test_consent_then_profile_in_english(world, sessions):
    member = world.member_en
    shown = await member.slash(world.en, "profile")
    notice = embed_text(shown.response)
    assert "What is stored" in notice and "For how long" in notice and "/forget-me" in notice
    accepted = await member.click(shown.response, label="I agree")
    assert "Which member type" in embed_text(accepted.response)
    assert select_options(accepted.response)["ong"] == "NGO / association"
    chosen = await member.select(accepted.response, ["ong"])
    assert chosen.modal["title"] == "Your organisation"
    assert modal_fields(chosen)["region"]["label"] == "Region or country (optional)"
    saved = await member.submit_modal(chosen, {"organisation": "Solidarité Sahel"})
    text = embed_text(saved.response)
    assert "Profile saved" in text and "NGO / association" in text and "not given" in text
    profile = await profile_of(sessions, member.id)
    assert (profile.member_type, profile.organisation, profile.region, profile.lang) == (
        "ong", "Solidarité Sahel", None, "en"
    )


async def test_no_thanks_stores_nothing(world, sessions):
    shown = await world.member_fr.slash(world.fr, "profile")
    declined = await world.member_fr.click(shown.response, label="Non merci")
    assert "rien n’a été enregistré" in embed_text(declined.response)
    assert declined.response.components == []
    assert await profile_of(sessions, world.member_fr.id) is None


async def test_later_profile_shows_the_current_one_and_changes_it(world, sessions):
    member = world.member_fr
    await consent_and_fill(member, world.fr, member_type="collectivite", accept="J’accepte",
                           values={"organisation": "Ville de Lyon", "region": "Auvergne-Rhône-Alpes"})
    again = await member.slash(world.fr, "profile")
    text = embed_text(again.response)
    assert "Ville de Lyon" in text and "Collectivité territoriale" in text and "J’accepte" not in str(
        again.response.components
    )
    menu = [c for row in again.response.components for c in row["components"] if c["type"] == 3][0]
    assert [o["value"] for o in menu["options"] if o.get("default")] == ["collectivite"]

    chosen = await member.select(again.response, ["reseau"])
    assert modal_fields(chosen)["organisation"]["component"]["value"] == "Ville de Lyon", "prefilled"
    await member.submit_modal(chosen, {"organisation": "Réseau Centraider", "region": "Centre-Val de Loire"})
    profile = await profile_of(sessions, member.id)
    assert (profile.member_type, profile.organisation) == ("reseau", "Réseau Centraider")

    third = await member.slash(world.fr, "profile")
    edit = await member.click(third.response, label="Modifier l’organisation et la région")
    assert edit.modal is not None
    cleared = await member.submit_modal(edit, {"organisation": "Réseau Centraider", "region": ""})
    assert "non renseigné" in embed_text(cleared.response)
    assert (await profile_of(sessions, member.id)).region is None


async def test_an_invalid_organisation_is_refused_through_the_error_path(world, sessions):
    member = world.member_fr
    shown = await member.slash(world.fr, "profile")
    accepted = await member.click(shown.response, label="J’accepte")
    chosen = await member.select(accepted.response, ["ong"])
    refused = await member.submit_modal(chosen, {"organisation": "Écrivez à @everyone", "region": "Bretagne"})
    assert refused.ephemeral
    assert "Pas de mention" in refused.response.content
    simcord.assert_error(world.env, InvalidInput)
    assert (await profile_of(sessions, member.id)).organisation is None
    # nothing typed is lost: « Corriger mon profil » opens the form again as it was typed
    again = await member.click(refused.response, label="Corriger mon profil")
    fields = modal_fields(again)
    assert (fields["organisation"]["component"]["value"], fields["region"]["component"]["value"]) == (
        "Écrivez à @everyone", "Bretagne")
    await member.submit_modal(again, {"organisation": "Écrivez à tout le monde", "region": "Bretagne"})
    assert (await profile_of(sessions, member.id)).organisation == "Écrivez à tout le monde"


async def test_an_expired_profile_message_says_so(world):
    shown = await world.member_fr.slash(world.fr, "profile")
    await world.env.advance_time(601)
    assert "a expiré" in shown.response.content
    assert shown.response.components == []


# ------------------------------------------------------------------------------ someone else's buttons
async def test_another_member_cannot_use_someone_elses_buttons(world, sessions):
    owner, other = world.member_fr, world.member_en
    shown = await owner.slash(world.fr, "profile")
    with pytest.raises(simcord.SetupError, match="not visible"):
        await other.click(shown.response, label="J’accepte")  # Discord shows it to its owner only

    accept_id = buttons(shown.response)["J’accepte"]
    refused = await forged_click(other, shown.response, accept_id)
    assert refused.ephemeral
    assert "belongs to another member" in refused.response.content  # in the clicker's language
    simcord.assert_error(world.env, Forbidden)
    assert await profile_of(sessions, owner.id) is None
    assert await profile_of(sessions, other.id) is None

    await seed_answers(sessions, owner.id, author_id=world.moderator.id)
    confirm = await owner.slash(world.fr, "forget-me")
    forged = await forged_click(other, confirm.response, buttons(confirm.response)["Oui, m’oublier"])
    assert "belongs to another member" in forged.response.content
    simcord.assert_error(world.env, Forbidden)
    async with sessions() as session:
        assert len(list(await session.scalars(select(Answer).where(Answer.user_id == owner.id)))) == 1

    accepted = await owner.click(shown.response, label="J’accepte")  # the owner still can
    assert "Quel type de membre" in embed_text(accepted.response)


# ------------------------------------------------------------------------------ /my-data
async def test_my_data_sends_a_summary_and_a_json_file(world, sessions):
    member = world.member_fr
    await consent_and_fill(member, world.fr, member_type="collectivite", accept="J’accepte",
                           values={"organisation": "Ville de Lyon", "region": "Auvergne-Rhône-Alpes"})
    await seed_answers(sessions, member.id, author_id=world.moderator.id)
    await seed_answers(sessions, world.member_en.id, author_id=world.moderator.id)

    result = await member.slash(world.fr, "my-data")
    assert result.ephemeral
    text = embed_text(result.response)
    assert "Vos données" in text and "Ville de Lyon" in text
    assert "Réponses aux sondages (1)" in text
    (attachment,) = result.response.attachments
    assert attachment.filename == "mes-donnees-reseau.json"
    document = json.loads(await attachment.read())
    # the poll, its number and the question answered (the poll's title is not the question)
    poll_id = document["answers"][0]["poll_id"]
    assert (f"**Besoins des collectivités** (n°\u00a0{poll_id}), Quel soutien attendez-vous\u202f? — "
            "Formation, Mise en réseau") in text
    assert document["discord_user_id"] == str(member.id)
    assert document["profile"]["member_type"] == "collectivite"
    assert document["profile"]["organisation"] == "Ville de Lyon"
    assert document["profile"]["consent_at"]
    (answer,) = document["answers"]
    assert answer["poll"] == "Besoins des collectivités"
    assert answer["question"] == "Quel soutien attendez-vous\u202f?"
    assert answer["choices"] == ["Formation", "Mise en réseau"]
    assert answer["member_type_when_answered"] == "collectivite"


async def test_my_data_lists_the_latest_answers_and_points_to_the_file_for_the_rest(world, sessions):
    for _ in range(12):
        await seed_answers(sessions, world.member_fr.id, author_id=world.moderator.id)
    result = await world.member_fr.slash(world.fr, "my-data")
    text = embed_text(result.response)
    assert "Réponses aux sondages (12)" in text
    (field,) = [f for f in result.response.embeds[0].fields if f.name == "Réponses aux sondages (12)"]
    *listed, more = field.value.split("\n")
    more_count = re.fullmatch(r"… et (\d+) de plus dans le fichier joint\.", more)
    assert more_count and len(listed) + int(more_count[1]) == 12 and len(listed) >= 5, field.value
    assert all(len(field.value) <= 1024 for field in result.response.embeds[0].fields)
    document = json.loads(await result.response.attachments[0].read())
    assert len(document["answers"]) == 12


async def test_my_data_writes_a_written_answer_on_one_line(world, sessions):
    poll = Poll(guild_id=1, channel_id=2, author_id=world.moderator.id, title="Vos idées\u202f?", lang="fr",
                status="open", anonymous=False)
    poll.questions = [Question(position=0, code="q1", text="Vos idées\u202f?", kind="text", max_choices=1)]
    async with sessions.begin() as session:
        session.add(poll)
        await session.flush()
        session.add(Answer(question_id=poll.questions[0].id, user_id=world.member_fr.id, text="Plus d’ateliers\n\n@here  *vite*"))
    result = await world.member_fr.slash(world.fr, "my-data")
    (field,) = [f for f in result.response.embeds[0].fields if f.name.startswith("Réponses aux sondages")]
    # a quick poll's title is its question: said once; the answer on its line (spaces as typed), its
    # markdown shown as typed
    assert field.value.endswith(f"**Vos idées\u202f?** (n°\u00a0{poll.id}) — Plus d’ateliers @here  \\*vite\\*")
    assert "\n" not in field.value


async def test_my_data_in_english_without_a_profile(world):
    result = await world.member_en.slash(world.en, "my-data")
    text = embed_text(result.response)
    assert "Your data" in text and "No profile stored." in text and "No answers stored." in text
    (attachment,) = result.response.attachments
    assert attachment.filename == "my-reseau-data.json"
    document = json.loads(await attachment.read())
    assert document["profile"] is None and document["answers"] == []


# ------------------------------------------------------------------------------ /forget-me
async def test_forget_me_after_confirmation_deletes_everything(world, sessions):
    member = world.member_fr
    await consent_and_fill(member, world.fr, member_type="ong", accept="J’accepte", values={})
    await seed_answers(sessions, member.id, author_id=world.moderator.id)
    forgotten: list = []

    async def on_member_forgotten(user_id, result):
        forgotten.append((user_id, result))

    world.env.bot.add_listener(on_member_forgotten)

    asked = await member.slash(world.fr, "forget-me")
    assert asked.ephemeral
    assert "votre profil et vos réponses aux sondages (1)" in embed_text(asked.response)
    assert await profile_of(sessions, member.id) is not None, "nothing happens before the confirmation"
    done = await member.click(asked.response, label="Oui, m’oublier")
    assert "C’est fait" in embed_text(done.response) and "(1)" in embed_text(done.response)
    assert done.response.components == []
    assert await profile_of(sessions, member.id) is None
    async with sessions() as session:
        assert list(await session.scalars(select(Answer).where(Answer.user_id == member.id))) == []
        assert list(await session.scalars(select(Answer))) == []
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "forget_me"))
    assert entry.details == {"mode": "delete", "answers": 1, "profile": True}
    assert entry.actor_id is None and str(member.id) not in json.dumps(entry.details)
    assert forgotten and forgotten[0][0] == member.id and forgotten[0][1].answers == 1

    nothing = await member.slash(world.fr, "forget-me")
    assert "rien à effacer" in nothing.response.content


async def test_forget_me_unlinks_in_unlink_mode_and_cancel_keeps_everything(world, sessions):
    config = dataclasses.replace(world.config, privacy=dataclasses.replace(world.config.privacy, forget_mode="unlink"))
    await world.env.bot.reconfigure(config)
    member = world.member_en
    await consent_and_fill(member, world.en, member_type="entreprise", accept="I agree", values={})
    # unlink keeps the answers of closed polls (those of open polls are withdrawn)
    await seed_answers(sessions, member.id, author_id=world.moderator.id, status="closed")

    asked = await member.slash(world.en, "forget-me")
    assert "still count but are no longer linked to you (1 answer in all)" in embed_text(asked.response)
    kept = await member.click(asked.response, label="Cancel")
    assert "Nothing was deleted" in embed_text(kept.response)
    assert await profile_of(sessions, member.id) is not None

    asked = await member.slash(world.en, "forget-me")
    done = await member.click(asked.response, label="Yes, forget me")
    assert "no longer linked to you (1 answer in all)" in embed_text(done.response)
    assert await profile_of(sessions, member.id) is None
    async with sessions() as session:
        answers = list(await session.scalars(select(Answer)))
    assert [(a.user_id, a.member_type) for a in answers] == [(None, "collectivite")], "kept, but anonymous"


# ------------------------------------------------------------------------------ /forget-me and live counts
async def _open_poll_answered_by_both(world):
    """An open poll (live counts, 30 s refresh window) answered by the French and the English
    member; its public message, once the refresh has shown both answers."""
    config = dataclasses.replace(world.env.bot.config,
                                 polls=dataclasses.replace(world.env.bot.config.polls, refresh_seconds=30.0))
    await world.env.bot.reconfigure(config)
    await world.moderator.slash(world.fr, "poll create", question="Quel format pour la rencontre ?",
                                options="Présentiel; En ligne")
    message = world.fr.last_message
    await world.member_fr.click(message, label="Présentiel")
    await world.member_en.click(message, label="En ligne")
    await world.env.advance_time(90)
    return message


async def _stored(world, sessions) -> list[tuple[int | None, int | None]]:
    """(member, option) of the one poll's answers (its pseudonyms of the world's members read as ids)."""
    async with sessions() as session:
        poll_id = await session.scalar(select(Poll.id))
    return await answer_rows(sessions, poll_id, world.guild.member_ids())


def _live_text(world, message) -> str:
    return embed_text(next(m for m in world.fr.history() if m.id == message.id))


async def test_forget_me_removes_the_answers_from_the_live_counts_of_an_open_poll(world, sessions):
    message = await _open_poll_answered_by_both(world)
    before = _live_text(world, message)
    assert "2 réponses" in before

    asked = await world.member_fr.slash(world.fr, "forget-me")
    done = await world.member_fr.click(asked.response, label="Oui, m’oublier")
    assert "C’est fait" in embed_text(done.response)
    await world.env.advance_time(90)  # the debounced refresh
    after = _live_text(world, message)
    assert "1 réponse" in after and "2 réponses" not in after, "the forgotten member's answer no longer counts"
    assert [user for user, _ in await _stored(world, sessions)] == [world.member_en.id]


async def test_forget_me_removes_the_answers_from_a_closed_polls_final_results(world, sessions):
    """Delete mode: the final results on a closed poll's message (counts, by member type, chart)
    stop counting the forgotten member, as the moderators' results do."""
    message = await _open_poll_answered_by_both(world)
    async with sessions() as session:
        poll_id = await session.scalar(select(Poll.id))
    await world.moderator.slash(world.fr, "poll close", poll=poll_id)
    before = next(m for m in world.fr.history() if m.id == message.id)
    assert "2 réponses" in embed_text(before) and len(before.attachments) == 1
    chart_before = await before.attachments[0].read()

    asked = await world.member_fr.slash(world.fr, "forget-me")
    await world.member_fr.click(asked.response, label="Oui, m’oublier")
    await world.env.settle()
    after = next(m for m in world.fr.history() if m.id == message.id)
    assert "1 réponse" in embed_text(after) and "2 réponses" not in embed_text(after)
    assert "Présentiel\n`░░░░░░░░░░` 0 (0\xa0%)" in embed_text(after)
    (chart,) = after.attachments
    assert await chart.read() != chart_before, "the chart is drawn again"
    assert after.components == [], "still closed: no buttons"
    results = await world.moderator.slash(world.fr, "poll results", poll=poll_id)
    assert "1 réponse" in embed_text(results.response)


async def test_forget_me_in_unlink_mode_withdraws_the_answers_of_an_open_poll(world, sessions):
    """Issue 10, item 4: an unlinked answer in an open poll would stay counted while the member,
    no longer recognised, answers again — in an open poll, unlink withdraws the answer."""
    message = await _open_poll_answered_by_both(world)
    config = dataclasses.replace(world.env.bot.config,
                                 privacy=dataclasses.replace(world.env.bot.config.privacy, forget_mode="unlink"))
    await world.env.bot.reconfigure(config)
    asked = await world.member_fr.slash(world.fr, "forget-me")
    await world.member_fr.click(asked.response, label="Oui, m’oublier")
    await world.env.advance_time(90)
    after = _live_text(world, message)
    assert "1 réponse" in after and "2 réponses" not in after, "the open poll's answer is withdrawn"
    assert sorted(user or 0 for user, _ in await _stored(world, sessions)) == [world.member_en.id]
