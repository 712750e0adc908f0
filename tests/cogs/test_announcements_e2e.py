"""/announce end to end on SimCord: the modal, the preview and its buttons, publish now,
schedule (a row and a date job that survive a restart; time injected), list and cancel, one
channel or all, the optional role, crossposting in announcement channels, late schedules."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import discord
import simcord

from bot.config import NetworkChannel
from bot.errors import InvalidInput
from bot.services import announcements as service
from cogs._errors import NotModerator
from storage import models
from storage.repositories import AuditRepository
from tests.command_access import assert_hidden, open_to_everyone
from tests.conftest import embed_text

PARIS = ZoneInfo("Europe/Paris")


def day_after_tomorrow() -> datetime:
    """09:30 in Paris the day after tomorrow. APScheduler reads the real clock (SimCord's virtual
    one, which starts on 2026-01-01, does not drive it), so scheduled times are taken from the
    real one, when a test runs: a suite started before midnight in Paris ends after it."""
    return datetime.combine((datetime.now(PARIS) + timedelta(days=2)).date(), time(9, 30), tzinfo=PARIS)


def typed(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M")


async def use(world, *, channels=None):
    bot = world.env.bot
    bot.clock = models.utcnow
    config = dataclasses.replace(world.config, channels=channels if channels is not None else world.config.channels)
    await bot.reconfigure(config)
    await world.env.settle()
    return config


def posts(channel) -> list[discord.Message]:
    return [m for m in channel.history() if m.author.bot]


async def compose(world, *, title="Assemblée générale", text="Rendez-vous le 12 à Lyon.", link="https://example.org/ag", **options):
    shown = await world.moderator.slash(world.fr, "announce new", **options)
    assert shown.modal is not None
    return await world.moderator.submit_modal(shown, {"title": title, "text": text, "link": link})


async def actions(sessions) -> list[tuple[str, int | None]]:
    async with sessions() as session:
        return [(e.action, e.actor_id) for e in reversed(await AuditRepository(session).latest(50))]


async def test_compose_preview_then_publish_now_to_every_channel(world, sessions):
    await use(world)
    preview = await compose(world)
    assert preview.ephemeral
    assert "Aperçu" in preview.response.content and "tous les salons du réseau (2)" in preview.response.content
    assert "Assemblée générale" in embed_text(preview.response)
    labels = [c.get("label") for row in preview.response.components for c in row["components"]]
    assert labels == ["Publier maintenant", "Programmer", "Annuler", "En savoir plus"]
    assert posts(world.fr) == [] and posts(world.en) == []

    done = await world.moderator.click(preview.response, label="Publier maintenant")
    assert "publiée\u202f: 2 salons servis." in done.response.content
    [fr], [en] = posts(world.fr), posts(world.en)
    assert [e.to_dict() for e in fr.embeds] == [e.to_dict() for e in preview.response.embeds]
    assert fr.components[0].children[0].label == "En savoir plus"
    assert en.components[0].children[0].label == "Read more"  # the button speaks the channel's language
    assert ("announcement.publish", world.moderator.id) in await actions(sessions)


async def test_one_channel_and_a_role_mention(world, sessions):
    await use(world)
    role = world.guild.create_role("Adhérents")
    preview = await compose(world, channel=world.en, role=role)
    assert f"<#{world.en.id}>" in preview.response.content
    await world.moderator.click(preview.response, label="Publier maintenant")
    assert posts(world.fr) == []
    [post] = posts(world.en)
    assert post.content == f"<@&{role.id}>"
    [request] = [r for r in world.env.http_requests if r.method == "POST" and r.path == f"/channels/{world.en.id}/messages"]
    assert request.json["allowed_mentions"] == {"parse": [], "roles": [role.id]}


async def test_crossposted_in_announcement_channels(world, sessions):
    news = world.guild.create_news_channel("actualites")
    await use(world, channels=(*world.config.channels, NetworkChannel(guild_id=world.guild.id, channel_id=news.id, language="fr")))
    preview = await compose(world)
    await world.moderator.click(preview.response, label="Publier maintenant")
    [post] = posts(news)
    # SimCord 3.2.1 marks a published message with bit 1 (IS_CROSSPOST, "came from another
    # channel") where Discord sets bit 0 (CROSSPOSTED): accept either, the route is checked below.
    assert post.flags.crossposted or post.flags.is_crossposted
    assert posts(world.fr)[0].flags.value == 0
    crossposts = [r.path for r in world.env.http_requests if r.path.endswith("/crosspost")]
    assert crossposts == [f"/channels/{news.id}/messages/{post.id}/crosspost"]


async def test_schedule_survives_a_restart_and_posts_once_at_its_time(world, sessions, bot_factory):
    when = day_after_tomorrow()
    at = typed(when)
    config = await use(world)
    preview = await compose(world)
    form = await world.moderator.click(preview.response, label="Programmer")
    assert form.modal is not None
    scheduled = await world.moderator.submit_modal(form, {"when": at})
    assert f"programmée pour le {at} (Europe/Paris)" in scheduled.response.content
    [row] = await service.list_scheduled(sessions)
    job = world.env.bot.scheduler.get_job(service.job_id(row.id))
    assert job is not None and job.trigger.run_date == when.astimezone(UTC)
    listing = await world.moderator.slash(world.fr, "announce list")
    assert f"n°\u00a0{row.id} · {at} · Assemblée générale" in embed_text(listing.response)
    assert posts(world.fr) == []

    await world.env.restart_bot(bot_factory(config))
    await world.env.settle()
    bot = world.env.bot
    job = bot.scheduler.get_job(service.job_id(row.id))
    assert job is not None, "the date job is rebuilt from the database row"
    assert job.next_run_time == when.astimezone(UTC)
    bot.clock = lambda: when.astimezone(UTC) + timedelta(seconds=1)  # the time has come
    await job.func(*job.args)  # what APScheduler calls at the time
    await world.env.settle()
    assert len(posts(world.fr)) == 1 and len(posts(world.en)) == 1
    await job.func(*job.args)  # a second run posts nothing
    await world.env.settle()
    assert len(posts(world.fr)) == 1
    log = await actions(sessions)
    assert ("announcement.schedule", world.moderator.id) in log and ("announcement.publish", None) in log


async def test_cancel_a_scheduled_announcement(world, sessions):
    when = day_after_tomorrow()
    at = typed(when)
    await use(world)
    preview = await compose(world)
    form = await world.moderator.click(preview.response, label="Programmer")
    await world.moderator.submit_modal(form, {"when": at})
    [row] = await service.list_scheduled(sessions)
    bot = world.env.bot
    job = bot.scheduler.get_job(service.job_id(row.id))
    cancelled = await world.moderator.slash(world.fr, "announce cancel", id=row.id)
    assert cancelled.response.content == f"Annonce n°\u00a0{row.id} annulée."
    assert bot.scheduler.get_job(service.job_id(row.id)) is None
    await job.func(*job.args)  # even if a job had survived, the row says cancelled
    await world.env.settle()
    assert posts(world.fr) == []
    listing = await world.moderator.slash(world.fr, "announce list")
    assert "Aucune annonce programmée." in embed_text(listing.response)
    assert ("announcement.cancel", world.moderator.id) in await actions(sessions)


async def test_discarding_a_draft_posts_nothing(world, sessions):
    await use(world)
    preview = await compose(world)
    discarded = await world.moderator.click(preview.response, label="Annuler")
    assert "annulée" in discarded.response.content
    assert posts(world.fr) == [] and posts(world.en) == []


async def test_bad_or_past_times_are_refused_clearly(world, sessions):
    await use(world)
    preview = await compose(world)
    form = await world.moderator.click(preview.response, label="Programmer")
    bad = await world.moderator.submit_modal(form, {"when": "demain matin"})
    assert "«\u202fdemain matin\u202f» n’est pas un moment compris" in bad.response.content  # the calendar's refusal
    form = await world.moderator.click(preview.response, label="Programmer")
    past = await world.moderator.submit_modal(form, {"when": "2025-12-31 10:00"})
    assert past.response.content == "«\u202f2025-12-31 10:00\u202f» est déjà passé."
    form = await world.moderator.click(preview.response, label="Programmer")
    far = await world.moderator.submit_modal(form, {"when": "2099-01-05 10:00"})
    assert far.response.content == "C’est trop loin\u202f: 366 jours au plus."  # as the calendar's plans
    assert await service.list_scheduled(sessions) == []
    simcord.assert_error(world.env, InvalidInput)  # both went through the one error path


async def test_an_announcement_is_scheduled_with_the_words_the_calendar_takes(world, sessions):
    """The form took only AAAA-MM-JJ HH:MM while /calendar postpone of the same announcement
    took « demain 9 h »: it takes what the calendar takes."""
    await use(world)
    preview = await compose(world)
    form = await world.moderator.click(preview.response, label="Programmer")
    assert "demain 9 h" in str(form.modal).replace("\u202f", " ")  # the form's placeholder says it
    before = day_after_tomorrow()
    scheduled = await world.moderator.submit_modal(form, {"when": "après-demain 9 h 30"})
    when = day_after_tomorrow()
    if when != before:  # midnight passed in Paris during the submit: either day is right
        when = next(w for w in (before, when) if typed(w) in scheduled.response.content)
    assert f"programmée pour le {typed(when)} (Europe/Paris)" in scheduled.response.content
    [row] = await service.list_scheduled(sessions)
    assert row.scheduled_at.replace(tzinfo=UTC) == when.astimezone(UTC)


async def test_a_schedule_missed_while_the_bot_was_down_is_reported_not_posted(world, sessions, bot_factory):
    when = day_after_tomorrow()
    at = typed(when)
    config = await use(world)
    preview = await compose(world)
    form = await world.moderator.click(preview.response, label="Programmer")
    await world.moderator.submit_modal(form, {"when": at})
    late = when.astimezone(UTC) + timedelta(days=3)
    await world.env.restart_bot(bot_factory(config, clock=lambda: late))
    await world.env.settle()
    assert posts(world.fr) == []
    [report] = posts(world.modlog)
    assert "n’a pas été publiée" in report.content and "Assemblée générale" in report.content
    assert await service.list_scheduled(sessions) == []


async def test_a_member_cannot_announce(world):
    await assert_hidden(world.member_fr, world.fr, "announce new")
    await open_to_everyone(world, "announce")
    result = await world.member_fr.slash(world.fr, "announce new")
    assert result.modal is None and "réservée aux modérateurs" in result.response.content
    simcord.assert_error(world.env, NotModerator)
