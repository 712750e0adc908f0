"""/status (fr /etat) end to end on SimCord: what is planned, in words, in the network's time
zone and the reader's language — never a scheduler job id — and plural counts."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from bot.services import announcements
from bot.simcord_support import set_locale
from storage.models import Extract
from storage.repositories import StateRepository
from tests.conftest import embed_text

# Friday 16 November 2035, 13:00 in Paris; the default cron's next slot: Monday 3 December, 10:00.
# Far ahead: APScheduler fires date jobs by the wall clock, and these must not run meanwhile.
NOW = datetime(2035, 11, 16, 12, 0, tzinfo=UTC)


def planned_lines(result) -> list[str]:
    [field] = [f for f in result.response.embeds[0].fields if f.name in ("Ce qui est prévu", "What is planned")]
    return field.value.splitlines()


async def plan_a_few_things(world, sessions):
    """A poll closing tomorrow at 18:00 (reminder at 16:00), an announcement on 1 December."""
    bot = world.env.bot
    bot.clock = lambda: NOW
    await bot.reconfigure(world.config)
    created = await world.moderator.slash(
        world.fr, "poll create", question="Quel format pour la rencontre ?", options="Présentiel; En ligne",
        deadline="2035-11-17 18:00", reminder="2h",
    )
    assert "Sondage n°" in created.response.content
    draft = await announcements.create_draft(
        sessions, guild_id=world.guild.id, author_id=world.moderator.id, title="Assemblée générale",
        body="Rendez-vous le 10 décembre.", now=NOW,
    )
    await announcements.schedule(
        sessions, draft.id, when=datetime(2035, 12, 1, 8, 30, tzinfo=UTC), now=NOW, actor_id=world.moderator.id,
    )
    return draft.id


async def test_status_says_what_is_planned_in_french_words(world, sessions):
    announcement_id = await plan_a_few_things(world, sessions)
    result = await world.moderator.slash(world.fr, "status")
    assert result.ephemeral
    assert planned_lines(result) == [
        "Rappel du sondage n°\u00a01 «\u202fQuel format pour la rencontre ?\u202f»\u202f: demain à 16 h",
        "Clôture du sondage n°\u00a01 «\u202fQuel format pour la rencontre ?\u202f»\u202f: demain à 18 h",
        f"Annonce n°\u00a0{announcement_id} «\u202fAssemblée générale\u202f» programmée\u202f: samedi 1er décembre à 9 h 30",
        "Prochain créneau mensuel\u202f: lundi 3 décembre à 10 h — rien à poster, la file n’a pas d’extrait pour ce mois",
    ]
    text = embed_text(result.response)
    assert "2 salons du réseau sur ce serveur" in text
    assert "monthly-extract" not in text and "poll-close" not in text and "announcement-" not in text
    assert not any(job_id in text for job_id in world.env.bot.schedule.job_ids())


async def test_status_in_english_for_an_english_moderator(world, sessions):
    announcement_id = await plan_a_few_things(world, sessions)
    set_locale(world.moderator, "en-GB")
    result = await world.moderator.slash(world.en, "status")
    assert planned_lines(result) == [
        "Reminder for poll #1 “Quel format pour la rencontre ?”: tomorrow at 16:00",
        "Poll #1 “Quel format pour la rencontre ?” closes: tomorrow at 18:00",
        f"Announcement #{announcement_id} “Assemblée générale” scheduled: Saturday 1 December at 09:30",
        "Next monthly slot: Monday 3 December at 10:00 — nothing to post, the queue has no extract for that month",
    ]
    assert "2 network channels on this server" in embed_text(result.response)


async def test_status_in_the_networks_time_zone_and_without_a_month_already_served(world, sessions):
    bot = world.env.bot
    bot.clock = lambda: datetime(2035, 12, 3, 8, 0, tzinfo=UTC)  # the morning of December's slot
    await bot.reconfigure(world.config)
    async with sessions.begin() as session:  # December's and January's extracts are queued
        session.add_all([Extract(source_key="file:x/decembre.md", title="Décembre", month="2035-12", lang="fr"),
                         Extract(source_key="file:x/janvier.md", title="Janvier", month="2036-01", lang="fr")])
    first = await world.moderator.slash(world.fr, "status")
    assert planned_lines(first) == ["Prochain extrait mensuel «\u202fDécembre\u202f»\u202f: aujourd’hui à 10 h"]
    async with sessions.begin() as session:  # December handled (posted by hand or by the slot)
        await StateRepository(session).set("extracts.last_slot_month", "2035-12")
    later = await world.moderator.slash(world.fr, "status")
    assert planned_lines(later) == ["Prochain extrait mensuel «\u202fJanvier\u202f»\u202f: lundi 7 janvier 2036 à 10 h"]


async def test_one_channel_is_singular_and_nothing_planned_is_said(world, sessions):
    bot = world.env.bot
    bot.clock = lambda: NOW
    await bot.reconfigure(dataclasses.replace(world.config, channels=world.config.channels[:1]))
    async with sessions.begin() as session:  # months ahead already served: no slot will post
        await StateRepository(session).set("extracts.last_slot_month", "2036-12")
    result = await world.moderator.slash(world.fr, "status")
    assert "1 salon du réseau sur ce serveur" in embed_text(result.response)
    assert planned_lines(result) == ["Rien de prévu pour l’instant."]
