"""Announcements with the calendar (issue 12) end to end on SimCord: a French and an English
version, each channel getting its language (a missing version falls back with a note); an image
attached, checked for type and size; an edit applied to every delivered copy through the
delivery log and a withdrawal deleting them, both audited; a recurring announcement posted once
per occurrence, across a process killed right after its occurrence was written."""

from __future__ import annotations

import io
from datetime import timedelta

import simcord
from PIL import Image
from sqlalchemy import func, select

from bot.errors import Conflict, InvalidInput
from bot.services import calendar as calendar_service
from bot.services.delivery import Publisher
from storage.models import Announcement, AuditEntry, CalendarRun, Delivery
from tests.conftest import embed_text
from tests.time_ahead import PARIS, SOON, at, local_text


def posts(channel) -> list:
    return [m for m in channel.history() if m.author.bot]


def plain(text: str) -> str:
    return text.replace("\u202f", " ").replace("\xa0", " ")


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


async def compose(world, *, versions=True, **options):
    shown = await world.moderator.slash(world.fr, "announce new", **options)
    assert shown.modal is not None, shown.response
    fields = {"title": "Assemblée générale", "text": "Rendez-vous le 12 à Lyon.", "link": ""}
    if versions:
        fields |= {"other_title": "General assembly", "other_text": "See you on the 12th in Lyon."}
    return await world.moderator.submit_modal(shown, fields)


async def last_announcement(sessions) -> Announcement:
    async with sessions() as session:
        return await session.scalar(select(Announcement).order_by(Announcement.id.desc()).limit(1))


async def audit(sessions) -> list[tuple[str, int | None]]:
    async with sessions() as session:
        return [(e.action, e.actor_id) for e in await session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


async def test_each_channel_gets_its_language_then_an_edit_and_a_withdrawal_reach_every_copy(world, sessions):
    preview = await compose(world)
    await world.moderator.click(preview.response, label="Publier maintenant")
    [fr], [en] = posts(world.fr), posts(world.en)
    assert (fr.embeds[0].title, fr.embeds[0].description) == ("Assemblée générale", "Rendez-vous le 12 à Lyon.")
    assert (en.embeds[0].title, en.embeds[0].description) == ("General assembly", "See you on the 12th in Lyon.")
    announcement = await last_announcement(sessions)

    form = await world.moderator.slash(world.fr, "announce edit", id=announcement.id)
    assert form.modal is not None
    done = await world.moderator.submit_modal(form, {
        "title": "Assemblée générale (nouvelle salle)", "text": "Rendez-vous le 12 à Lyon, salle B.", "link": "",
        "other_title": "General assembly (new room)", "other_text": "See you on the 12th in Lyon, room B.",
    })
    assert plain(done.response.content) == f"Annonce n° {announcement.id} corrigée : 2 messages modifiés."
    [fr], [en] = posts(world.fr), posts(world.en)  # the same messages, edited in place
    assert fr.embeds[0].title == "Assemblée générale (nouvelle salle)" and "salle B" in fr.embeds[0].description
    assert en.embeds[0].title == "General assembly (new room)" and "room B" in en.embeds[0].description
    edits = [r.path for r in world.env.http_requests if r.method == "PATCH" and r.path.startswith("/channels/")]
    assert sorted(edits) == sorted([f"/channels/{world.fr.id}/messages/{fr.id}", f"/channels/{world.en.id}/messages/{en.id}"])

    gone = await world.moderator.slash(world.fr, "announce withdraw", id=announcement.id)
    assert plain(gone.response.content) == f"Annonce n° {announcement.id} retirée : 2 messages supprimés."
    assert posts(world.fr) == [] and posts(world.en) == []
    again = await world.moderator.slash(world.fr, "announce withdraw", id=announcement.id)
    assert "ne peut pas être retirée" in again.response.content
    log = await audit(sessions)
    assert ("announcement.edit", world.moderator.id) in log and ("announcement.withdraw", world.moderator.id) in log
    async with sessions() as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "announcement.edit"))
    assert entry.details["before"]["title"] == "Assemblée générale"
    simcord.assert_error(world.env, Conflict)


async def test_a_missing_version_falls_back_with_a_note(world, sessions):
    preview = await compose(world, versions=False)
    await world.moderator.click(preview.response, label="Publier maintenant")
    [fr], [en] = posts(world.fr), posts(world.en)
    assert fr.embeds[0].footer.text is None
    assert en.embeds[0].title == "Assemblée générale"
    assert en.embeds[0].footer.text == "No English version: original text in French."
    half = await world.moderator.slash(world.fr, "announce new")
    refused = await world.moderator.submit_modal(half, {"title": "T", "text": "x", "link": "", "other_title": "Only a title"})
    assert "demande un titre et un texte" in refused.response.content
    simcord.assert_error(world.env, InvalidInput)


async def test_an_image_is_checked_then_posted_with_the_announcement(world, sessions):
    preview = await compose(world, image=("affiche.png", png_bytes()))
    await world.moderator.click(preview.response, label="Publier maintenant")
    for channel in (world.fr, world.en):
        [post] = posts(channel)
        assert [a.filename for a in post.attachments] == ["affiche.png"]
        assert post.embeds[0].image.url
    text = await world.moderator.slash(world.fr, "announce new", image=("notes.txt", b"hello"))
    assert text.modal is None and "n’est pas une image PNG, JPEG, GIF ou WebP" in text.response.content
    fake = await compose(world, image=("faux.png", b"not really a png"))
    assert "n’est pas une image" in fake.response.content
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Announcement)) == 1
    simcord.assert_error(world.env, InvalidInput)


async def test_a_recurring_announcement_is_posted_once_per_occurrence_across_a_kill(
    world, sessions, bot_factory, monkeypatch
):
    bot = world.env.bot
    bot.clock = at(SOON - timedelta(days=1))
    preview = await compose(world)
    form = await world.moderator.click(preview.response, label="Programmer")
    done = await world.moderator.submit_modal(form, {"when": local_text(SOON), "repeat": "hebdomadaire"})
    assert "récurrente (`plan-" in done.response.content and "chaque semaine" in done.response.content
    [plan] = await bot.services.calendar.plans()
    job_id = calendar_service.announce_job_id(plan.id)
    assert bot.scheduler.get_job(job_id).next_run_time == SOON

    # the process dies right after the occurrence is written (announcement + pending deliveries)
    real_deliver = Publisher.deliver

    async def killed(self, **kwargs):
        raise RuntimeError("SIGKILL")

    monkeypatch.setattr(Publisher, "deliver", killed)
    bot.clock = at(SOON + timedelta(seconds=1))
    await bot.scheduler.get_job(job_id).func()
    await world.env.settle()
    assert posts(world.fr) == [] and posts(world.en) == []
    monkeypatch.setattr(Publisher, "deliver", real_deliver)

    await world.env.restart_bot(bot_factory(world.config, clock=at(SOON + timedelta(minutes=5))))
    await world.env.settle()
    assert len(posts(world.fr)) == 1 and len(posts(world.en)) == 1, "the start-up resume sent the occurrence"
    assert posts(world.en)[0].embeds[0].title == "General assembly"
    bot = world.env.bot
    again = await bot.services.calendar.run_announcement(plan.id, bot.services.publisher)
    assert again is None  # the next occurrence is a week away; this one is claimed
    assert bot.scheduler.get_job(job_id).next_run_time == SOON + timedelta(weeks=1)

    bot.clock = at(SOON + timedelta(weeks=1, seconds=1))
    await bot.scheduler.get_job(job_id).func()
    await bot.get_cog("Calendar").run_announcement(plan.id)  # a second run of that occurrence
    await world.env.settle()
    assert len(posts(world.fr)) == 2 and len(posts(world.en)) == 2
    async with sessions() as session:
        runs = list(await session.scalars(select(CalendarRun).order_by(CalendarRun.occurrence_at)))
        deliveries = await session.scalar(select(func.count()).select_from(Delivery))
    assert [r.occurrence_at for r in runs] == [SOON, SOON + timedelta(weeks=1)]
    assert deliveries == 4

    listing = await world.moderator.slash(world.fr, "calendar list")
    text = plain(embed_text(listing.response))
    assert f"{local_text(SOON + timedelta(weeks=2))} · Annonce récurrente · « Assemblée générale »" in text
    announced = plain(embed_text((await world.moderator.slash(world.fr, "announce list")).response))
    assert f"🔁 `{plan.ref}` · {local_text(SOON + timedelta(weeks=2))} · Assemblée générale" in announced
    assert "(chaque semaine)" in announced and f"/calendrier annuler {plan.ref}" in announced
    cancelled = await world.moderator.slash(world.fr, "calendar cancel", reference=plan.ref)
    assert "Annonce récurrente" in cancelled.response.content
    assert bot.scheduler.get_job(job_id) is None
    after = plain(embed_text((await world.moderator.slash(world.fr, "announce list")).response))
    assert plan.ref not in after and "Aucune annonce programmée" in after


async def test_a_recurring_occurrence_missed_by_far_is_recorded_not_posted(world, sessions, bot_factory):
    bot = world.env.bot
    bot.clock = at(SOON - timedelta(days=1))
    preview = await compose(world)
    form = await world.moderator.click(preview.response, label="Programmer")
    await world.moderator.submit_modal(form, {"when": local_text(SOON), "repeat": "weekly"})
    [plan] = await bot.services.calendar.plans()
    await world.env.restart_bot(bot_factory(world.config, clock=at(SOON + timedelta(days=2))))
    await world.env.settle()
    assert posts(world.fr) == [] and posts(world.en) == []
    async with sessions() as session:
        [run] = await session.scalars(select(CalendarRun))
    assert (run.occurrence_at, run.status) == (SOON, "missed")
    [planned] = await world.env.bot.services.calendar.plans()
    assert planned.id == plan.id and planned.next_at == SOON + timedelta(weeks=1)
    assert ("announcement.missed", None) in await audit(sessions)


async def test_a_recurring_announcement_started_off_its_rule_begins_on_the_rules_day(world, sessions):
    """A cron rule whose day is not the start's: the first post is the rule's first time after
    the start (it was the start itself), in the reply, the job and /announce list."""
    bot = world.env.bot
    bot.clock = at(SOON - timedelta(days=1))
    first = SOON + timedelta(days=2)  # 09:30 in Paris, two days after the start typed
    day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[first.astimezone(PARIS).weekday()]
    preview = await compose(world)
    form = await world.moderator.click(preview.response, label="Programmer")
    done = await world.moderator.submit_modal(form, {"when": local_text(SOON), "repeat": f"30 9 * * {day}"})
    text = plain(done.response.content)
    assert f"première fois le {local_text(first)} (Europe/Paris)" in text, text
    assert f"premier jour de sa règle à partir de la date indiquée ({local_text(SOON)})" in text, text  # why
    [plan] = await bot.services.calendar.plans()
    assert (plan.start_at, plan.next_at) == (first, first)
    assert bot.scheduler.get_job(calendar_service.announce_job_id(plan.id)).next_run_time == first
    announced = plain(embed_text((await world.moderator.slash(world.fr, "announce list")).response))
    assert f"🔁 `{plan.ref}` · {local_text(first)} · Assemblée générale" in announced
