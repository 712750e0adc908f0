"""Moderators' announcements: draft → publish now, or schedule (a row the scheduler follows),
or cancel.  Discord-free.

A scheduled announcement is one job of the reconciler (:func:`feature`): ``announcement-publish-<id>``
at its time, or — when the bot was down past its time and ``grace`` — ``announcement-miss-<id>``,
which marks it ``missed`` (stale news is not posted) and tells the moderators.

An announcement goes to every enabled network channel, or to one channel; its optional role
is mentioned in the channels of the server it was written on.  Every status change is a
guarded transition (``draft``/``scheduled`` → ``published``/``cancelled``), so a second click
or a second scheduler run changes nothing.  Scheduled times are typed in ``bot.timezone``
(``YYYY-MM-DD HH:MM``) and stored in UTC.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.errors import Conflict, InvalidInput, Label, NotFound
from bot.i18n import LANGUAGES
from bot.services.delivery import (
    DeliveryError,
    DeliveryReport,
    Publisher,
    announcement_post,
    write_deliveries,
)
from bot.services.links import LINK_MAX, link_problem
from bot.services.schedule import MAX_AHEAD, Feature, JobSpec
from bot.services.schedule import job_id as make_job_id
from storage.values import (
    ANNOUNCEMENT_CANCELLED,
    ANNOUNCEMENT_DRAFT,
    ANNOUNCEMENT_MISSED,
    ANNOUNCEMENT_PUBLISHED,
    ANNOUNCEMENT_SCHEDULED,
    ANNOUNCEMENT_WITHDRAWN,
    DELIVERY_SENT,
    DELIVERY_WITHDRAWN,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from bot.services.container import Services
    from storage import models

TITLE_MAX = 256
BODY_MAX = 4000
IMAGE_MAX = 8 * 1024 * 1024  # bytes: Discord takes 10 MiB per upload without boosts; room to spare
# what an image's first bytes must be for its declared type (a renamed file is refused)
IMAGE_TYPES = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
}
_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}
ANNOUNCEMENT_RECURRING = "recurring"  # the model of a recurring announcement (bot.services.calendar)
# what /announce edit may still correct
EDITABLE = (ANNOUNCEMENT_DRAFT, ANNOUNCEMENT_SCHEDULED, ANNOUNCEMENT_PUBLISHED, ANNOUNCEMENT_RECURRING)
_WHEN = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})[ T]+(\d{1,2}):(\d{2})\s*$")


FEATURE = "announcement"
# A scheduled announcement whose time passed while the bot was down is still posted within
# this delay; later than that it is marked "missed" and the moderators are told (stale news).
LATE_GRACE = timedelta(hours=6)


def job_id(announcement_id: int) -> str:
    """The job that publishes a scheduled announcement at its time."""
    return make_job_id(FEATURE, "publish", announcement_id)


def missed_job_id(announcement_id: int) -> str:
    """The catch-up that marks a hopelessly late announcement missed."""
    return make_job_id(FEATURE, "miss", announcement_id)


# --------------------------------------------------------------------------------------------
# Input


def parse_local_time(text: str, tz: ZoneInfo) -> datetime:
    """``YYYY-MM-DD HH:MM`` in ``tz`` → aware UTC.  A time that does not exist (the hour skipped
    in spring) is refused; an ambiguous one (the hour repeated in autumn) is the first."""
    match = _WHEN.match(text or "")
    if not match:
        raise InvalidInput("announce.bad_time", value=(text or "")[:40])
    year, month, day, hour, minute = (int(g) for g in match.groups())
    try:
        local = datetime(year, month, day, hour, minute, tzinfo=tz)
    except ValueError:
        raise InvalidInput("announce.bad_time", value=text.strip()[:40]) from None
    utc = local.astimezone(UTC)
    if utc.astimezone(tz).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise InvalidInput("announce.time_gap", value=text.strip()[:40])
    return utc


def _check(title: str, body: str, link: str | None) -> tuple[str, str, str | None]:
    title, body, link = (title or "").strip(), (body or "").strip(), (link or "").strip() or None
    if not title:
        raise InvalidInput("announce.title_empty")
    if len(title) > TITLE_MAX:
        raise InvalidInput("announce.title_too_long", limit=TITLE_MAX)
    if not body:
        raise InvalidInput("announce.body_empty")
    if len(body) > BODY_MAX:
        raise InvalidInput("announce.body_too_long", limit=BODY_MAX)
    problem = link_problem(link) if link is not None else None
    if problem == "not_http":
        raise InvalidInput("announce.bad_link", value=link[:100])
    if problem == "too_long":  # the link becomes a button, whose URL Discord caps
        raise InvalidInput("announce.link_too_long", length=len(link), limit=LINK_MAX)
    return title, body, link


def other_language(lang: str) -> str:
    """The language of an announcement's second version: the catalogue's other one."""
    return next((other for other in LANGUAGES if other != lang), lang)


def _versions(lang: str, other_title: str | None, other_body: str | None) -> dict[str, dict[str, str]]:
    """The other language's version, checked like the main one; none when both are empty."""
    other_title, other_body = (other_title or "").strip(), (other_body or "").strip()
    if not other_title and not other_body:
        return {}
    if not other_title or not other_body:
        raise InvalidInput("announce.version_incomplete")
    title, body, _ = _check(other_title, other_body, None)
    return {other_language(lang): {"title": title, "body": body}}


@dataclass(frozen=True)
class AnnouncementImage:
    """An image checked for size and type, to post with an announcement."""

    name: str
    content_type: str
    data: bytes


def check_image_meta(filename: str, content_type: str | None, size: int) -> None:
    """Refuse early what cannot be an acceptable image (before downloading it)."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind not in IMAGE_TYPES:
        raise InvalidInput("announce.image_type", name=(filename or "")[:80], type=kind or "?")
    if size > IMAGE_MAX:
        raise InvalidInput("announce.image_too_big", name=(filename or "")[:80], size=size // 1024,
                           limit=IMAGE_MAX // (1024 * 1024))


def check_image(filename: str, content_type: str | None, data: bytes) -> AnnouncementImage:
    """The image if its type is one Discord shows in an embed, its bytes are of that type and
    it is at most ``IMAGE_MAX``; else :class:`InvalidInput` naming the file."""
    check_image_meta(filename, content_type, len(data))
    kind = (content_type or "").split(";")[0].strip().lower()
    if not data.startswith(IMAGE_TYPES[kind]) or (kind == "image/webp" and data[8:12] != b"WEBP"):
        raise InvalidInput("announce.image_type", name=(filename or "")[:80], type=kind)
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", (filename or "image").rsplit(".", 1)[0]).strip("-")[:60] or "image"
    return AnnouncementImage(f"{stem}.{_EXTENSIONS[kind]}", kind, data)


# --------------------------------------------------------------------------------------------
# Records


async def create_draft(
    sessions: async_sessionmaker[AsyncSession],
    *,
    guild_id: int,
    author_id: int,
    title: str,
    body: str,
    link: str | None = None,
    target_channel_id: int | None = None,
    mention_role_id: int | None = None,
    lang: str = "fr",
    now: datetime,
    other_title: str | None = None,
    other_body: str | None = None,
    image: AnnouncementImage | None = None,
) -> models.Announcement:
    """A draft; ``other_title``/``other_body``: its version in the other language (each
    channel gets its language's), ``image``: posted with it (:func:`check_image`)."""
    from storage import models
    from storage.repositories import AnnouncementRepository, ChannelRepository

    title, body, link = _check(title, body, link)
    versions = _versions(lang, other_title, other_body)
    async with sessions.begin() as session:
        if target_channel_id is None and not await ChannelRepository(session).all():
            raise Conflict("announce.no_channels")
        return AnnouncementRepository(session).add(models.Announcement(
            guild_id=guild_id, author_id=author_id, title=title, body=body, link=link,
            target_channel_id=target_channel_id, mention_role_id=mention_role_id or None,
            lang=lang, status=ANNOUNCEMENT_DRAFT, created_at=now, versions=versions,
            image_name=image.name if image else None, image_type=image.content_type if image else None,
            image_data=image.data if image else None,
        ))


async def get_announcement(
    sessions: async_sessionmaker[AsyncSession], announcement_id: int, *, guild_id: int | None = None
) -> models.Announcement:
    """The announcement, if it exists (and belongs to ``guild_id`` when given)."""
    from storage.repositories import AnnouncementRepository

    async with sessions() as session:
        announcement = await AnnouncementRepository(session).get(announcement_id)
    if announcement is None or (guild_id is not None and announcement.guild_id != guild_id):
        raise NotFound("announce.not_found", id=announcement_id)
    return announcement


async def network_channel_count(sessions: async_sessionmaker[AsyncSession]) -> int:
    """How many network channels an announcement "to every channel" goes to."""
    from storage.repositories import ChannelRepository

    async with sessions() as session:
        return len(await ChannelRepository(session).all())


async def list_scheduled(
    sessions: async_sessionmaker[AsyncSession], *, guild_id: int | None = None
) -> list[models.Announcement]:
    from storage.repositories import AnnouncementRepository

    async with sessions() as session:
        return await AnnouncementRepository(session).scheduled(guild_id=guild_id)


async def _targets(session: AsyncSession, announcement: models.Announcement) -> list[tuple[int, int]]:
    from storage.repositories import ChannelRepository

    if announcement.target_channel_id:
        channel = await ChannelRepository(session).get(announcement.target_channel_id)
        guild_id = channel.guild_id if channel is not None else announcement.guild_id
        return [(guild_id, announcement.target_channel_id)]
    return [(c.guild_id, c.channel_id) for c in await ChannelRepository(session).all()]


async def targets(session: AsyncSession, announcement: models.Announcement) -> list[tuple[int, int]]:
    """``(guild id, channel id)`` where an announcement goes (its channel, or every network
    channel), in the caller's transaction (a recurring announcement's occurrence writes its
    deliveries in the transaction that claims it)."""
    return await _targets(session, announcement)


def status_label(status: str) -> Label:
    """An announcement's state as people read it (``announce.status.*``), never its code."""
    return Label(f"announce.status.{status}")


def wrong_status(announcement_id: int, status: str, key: str = "announce.wrong_status") -> Conflict:
    """The refusal of an action the announcement's state does not allow, naming that state."""
    return Conflict(key, id=announcement_id, status=status_label(status))


def _refuse(
    announcement: models.Announcement | None, announcement_id: int, guild_id: int | None,
    key: str = "announce.wrong_status",
) -> None:
    if announcement is None or (guild_id is not None and announcement.guild_id != guild_id):
        raise NotFound("announce.not_found", id=announcement_id)
    raise wrong_status(announcement_id, announcement.status, key)


async def editable(
    sessions: async_sessionmaker[AsyncSession], announcement_id: int, *, guild_id: int | None = None
) -> models.Announcement:
    """The announcement, if ``/announce edit`` may still correct it (checked before its form is
    opened; :func:`edit` checks again, the state may change meanwhile)."""
    announcement = await get_announcement(sessions, announcement_id, guild_id=guild_id)
    if announcement.status not in EDITABLE:
        raise wrong_status(announcement_id, announcement.status)
    return announcement


async def schedulable(
    sessions: async_sessionmaker[AsyncSession], announcement_id: int, *, guild_id: int | None = None
) -> models.Announcement:
    """The announcement, if it is still a draft (checked before the schedule form is opened;
    :func:`schedule` checks again)."""
    announcement = await get_announcement(sessions, announcement_id, guild_id=guild_id)
    if announcement.status != ANNOUNCEMENT_DRAFT:
        raise wrong_status(announcement_id, announcement.status)
    return announcement


# --------------------------------------------------------------------------------------------
# Transitions


@dataclass
class AnnouncementOutcome:
    announcement: models.Announcement
    targets: int
    report: DeliveryReport


async def publish(
    sessions: async_sessionmaker[AsyncSession],
    publisher: Publisher,
    announcement_id: int,
    *,
    now: datetime,
    actor_id: int | None,
    guild_id: int | None = None,
    channel_id: int | None = None,
    scheduled: bool = False,
) -> AnnouncementOutcome | None:
    """Publish a draft now (``scheduled=False``), or a scheduled one when its time has come
    (``scheduled=True``: returns None if it was cancelled or published meanwhile)."""
    from storage.repositories import AnnouncementRepository, AuditRepository

    frm = (ANNOUNCEMENT_SCHEDULED,) if scheduled else (ANNOUNCEMENT_DRAFT,)
    async with sessions.begin() as session:
        repo = AnnouncementRepository(session)
        announcement = await repo.get(announcement_id)
        if announcement is None or (guild_id is not None and announcement.guild_id != guild_id):
            raise NotFound("announce.not_found", id=announcement_id)
        if not await repo.transition(announcement_id, frm, ANNOUNCEMENT_PUBLISHED, published_at=now):
            if scheduled:
                return None
            _refuse(announcement, announcement_id, guild_id)
        targets = await _targets(session, announcement)
        await write_deliveries(session, kind="announcement", source_id=announcement_id, targets=targets, now=now)
        AuditRepository(session).record(
            "announcement.publish", actor_id=actor_id, target_type="announcement", target_id=announcement_id,
            guild_id=guild_id if guild_id is not None else announcement.guild_id, channel_id=channel_id,
            details={
                # no member id in details (``/forget-me`` unlinks the actor column, not JSON): the
                # author is the announcement's own column
                "channels": len(targets), "trigger": "schedule" if scheduled else "manual",
                "title": announcement.title[:100],
            },
        )
    announcement.status, announcement.published_at = ANNOUNCEMENT_PUBLISHED, now
    report = await publisher.deliver(announcement_id=announcement_id)
    return AnnouncementOutcome(announcement, len(targets), report)


async def schedule(
    sessions: async_sessionmaker[AsyncSession],
    announcement_id: int,
    *,
    when: datetime,
    now: datetime,
    actor_id: int | None,
    guild_id: int | None = None,
    channel_id: int | None = None,
) -> models.Announcement:
    from storage.repositories import AnnouncementRepository, AuditRepository

    if when <= now:
        raise InvalidInput("announce.in_past")
    if when - now > MAX_AHEAD:  # as for anything the calendar plans
        raise InvalidInput("calendar.error.start_too_far", days=MAX_AHEAD.days)
    async with sessions.begin() as session:
        repo = AnnouncementRepository(session)
        announcement = await repo.get(announcement_id)
        if announcement is None or (guild_id is not None and announcement.guild_id != guild_id):
            raise NotFound("announce.not_found", id=announcement_id)
        if not await repo.transition(announcement_id, (ANNOUNCEMENT_DRAFT,), ANNOUNCEMENT_SCHEDULED, scheduled_at=when):
            _refuse(announcement, announcement_id, guild_id)
        AuditRepository(session).record(
            "announcement.schedule", actor_id=actor_id, target_type="announcement", target_id=announcement_id,
            guild_id=guild_id if guild_id is not None else announcement.guild_id, channel_id=channel_id,
            details={"at": when.isoformat(), "title": announcement.title[:100]},
        )
    announcement.status, announcement.scheduled_at = ANNOUNCEMENT_SCHEDULED, when
    return announcement


async def cancel(
    sessions: async_sessionmaker[AsyncSession],
    announcement_id: int,
    *,
    actor_id: int | None,
    guild_id: int | None = None,
    channel_id: int | None = None,
) -> models.Announcement:
    """Cancel a draft or a scheduled announcement (the caller removes the scheduler job)."""
    from storage.repositories import AnnouncementRepository, AuditRepository

    async with sessions.begin() as session:
        repo = AnnouncementRepository(session)
        announcement = await repo.get(announcement_id)
        if announcement is None or (guild_id is not None and announcement.guild_id != guild_id):
            raise NotFound("announce.not_found", id=announcement_id)
        before = announcement.status
        if not await repo.transition(
            announcement_id, (ANNOUNCEMENT_DRAFT, ANNOUNCEMENT_SCHEDULED), ANNOUNCEMENT_CANCELLED
        ):
            _refuse(announcement, announcement_id, guild_id)
        AuditRepository(session).record(
            "announcement.cancel", actor_id=actor_id, target_type="announcement", target_id=announcement_id,
            guild_id=guild_id if guild_id is not None else announcement.guild_id, channel_id=channel_id,
            details={"was": before, "title": announcement.title[:100]},
        )
    announcement.status = ANNOUNCEMENT_CANCELLED
    return announcement


# --------------------------------------------------------------------------------------------
# After posting: edit or withdraw every delivered copy (through the delivery log)


@dataclass
class Correction:
    """What an edit or a withdrawal did to the delivered messages."""

    announcement: models.Announcement
    done: int  # messages edited / deleted
    failed: list[tuple[int, str]]  # (channel id, reason)


async def edit(
    sessions: async_sessionmaker[AsyncSession],
    publisher: Publisher,
    announcement_id: int,
    *,
    title: str,
    body: str,
    link: str | None,
    other_title: str | None = None,
    other_body: str | None = None,
    now: datetime,
    actor_id: int | None,
    guild_id: int | None = None,
    channel_id: int | None = None,
) -> Correction:
    """Correct an announcement (a draft, a scheduled or a published one): the row is changed
    and audited (what it said before), then every message the delivery log says was sent is
    edited in its channel's language.  A withdrawn or cancelled one is refused."""
    from storage.repositories import AnnouncementRepository, AuditRepository

    title, body, link = _check(title, body, link)
    async with sessions.begin() as session:
        repo = AnnouncementRepository(session)
        announcement = await repo.get(announcement_id)
        if announcement is None or (guild_id is not None and announcement.guild_id != guild_id):
            raise NotFound("announce.not_found", id=announcement_id)
        versions = _versions(announcement.lang, other_title, other_body)
        before = {"title": announcement.title[:100], "body": announcement.body[:300], "link": announcement.link}
        if announcement.status not in EDITABLE or not await repo.transition(
            announcement_id, (announcement.status,), announcement.status, title=title, body=body, link=link,
            versions=versions, edited_at=now,
        ):
            _refuse(announcement, announcement_id, guild_id)
        AuditRepository(session).record(
            "announcement.edit", actor_id=actor_id, target_type="announcement", target_id=announcement_id,
            guild_id=guild_id if guild_id is not None else announcement.guild_id, channel_id=channel_id,
            details={"before": before, "title": title[:100], "versions": sorted(versions)},
        )
        await session.refresh(announcement)
    done, failed = await _apply_to_delivered(sessions, publisher, announcement, delete=False)
    return Correction(announcement, done, failed)


async def withdraw(
    sessions: async_sessionmaker[AsyncSession],
    publisher: Publisher,
    announcement_id: int,
    *,
    actor_id: int | None,
    guild_id: int | None = None,
    channel_id: int | None = None,
) -> Correction:
    """Take a published announcement down: ``withdrawn`` (audited), its rows still pending
    are never sent, and every delivered message is deleted — its row then ``withdrawn`` too (a
    message that could not be deleted keeps its row ``sent``: it is still there)."""
    from storage.repositories import AnnouncementRepository, AuditRepository, DeliveryRepository

    async with sessions.begin() as session:
        repo = AnnouncementRepository(session)
        announcement = await repo.get(announcement_id)
        if announcement is None or (guild_id is not None and announcement.guild_id != guild_id):
            raise NotFound("announce.not_found", id=announcement_id)
        if not await repo.transition(announcement_id, (ANNOUNCEMENT_PUBLISHED,), ANNOUNCEMENT_WITHDRAWN):
            _refuse(announcement, announcement_id, guild_id, "announce.not_withdrawable")
        await DeliveryRepository(session).set_pending_status(announcement_id, DELIVERY_WITHDRAWN)
        AuditRepository(session).record(
            "announcement.withdraw", actor_id=actor_id, target_type="announcement", target_id=announcement_id,
            guild_id=guild_id if guild_id is not None else announcement.guild_id, channel_id=channel_id,
            details={"title": announcement.title[:100]},
        )
    announcement.status = ANNOUNCEMENT_WITHDRAWN
    done, failed = await _apply_to_delivered(sessions, publisher, announcement, delete=True)
    return Correction(announcement, done, failed)


async def _apply_to_delivered(
    sessions: async_sessionmaker[AsyncSession], publisher: Publisher, announcement: models.Announcement, *,
    delete: bool,
) -> tuple[int, list[tuple[int, str]]]:
    from storage.repositories import ChannelRepository, DeliveryRepository

    async with sessions() as session:
        rows = [
            r for r in await DeliveryRepository(session).for_source(announcement_id=announcement.id)
            if r.status == DELIVERY_SENT and r.message_id
        ]
        languages = {c.channel_id: c.language for c in await ChannelRepository(session).all(enabled_only=False)}
    done, failed, deleted = 0, [], []
    for row in rows:
        try:
            if delete:
                await publisher.sender.delete(row.channel_id, row.message_id)  # type: ignore[arg-type]
                deleted.append(row.id)
            else:
                post = announcement_post(
                    announcement, catalogue=publisher.catalogue, lang=languages.get(row.channel_id),
                    guild_id=row.guild_id,
                )
                await publisher.sender.edit(row.channel_id, row.message_id, post.parts[0])  # type: ignore[arg-type]
            done += 1
        except DeliveryError as exc:
            failed.append((row.channel_id, exc.reason))
    if deleted:
        async with sessions.begin() as session:
            await DeliveryRepository(session).mark_withdrawn(deleted)
    return done, failed


@dataclass
class Reconciliation:
    upcoming: list[models.Announcement]  # to put in the scheduler
    due: list[models.Announcement]  # their time passed while the bot was down, within the grace
    missed: list[models.Announcement]  # too late: marked missed, not posted


async def reconcile(
    sessions: async_sessionmaker[AsyncSession], *, now: datetime, grace: timedelta
) -> Reconciliation:
    """Sort the scheduled rows for the scheduler at start-up; mark the hopelessly late ones
    ``missed`` (audited) rather than posting stale news."""
    from storage.repositories import AnnouncementRepository

    result = Reconciliation([], [], [])
    async with sessions.begin() as session:
        repo = AnnouncementRepository(session)
        for announcement in await repo.scheduled():
            when = announcement.scheduled_at
            if when is None or when > now:
                result.upcoming.append(announcement)
            elif now - when <= grace:
                result.due.append(announcement)
            elif await _mark_missed(session, announcement):
                result.missed.append(announcement)
    return result


async def _mark_missed(session: AsyncSession, announcement: models.Announcement) -> bool:
    """``scheduled`` → ``missed`` (audited); False if it was not scheduled any more."""
    from storage.repositories import AnnouncementRepository, AuditRepository

    if not await AnnouncementRepository(session).transition(
        announcement.id, (ANNOUNCEMENT_SCHEDULED,), ANNOUNCEMENT_MISSED
    ):
        return False
    announcement.status = ANNOUNCEMENT_MISSED
    AuditRepository(session).record(
        "announcement.missed", actor_id=None, target_type="announcement",
        target_id=announcement.id, guild_id=announcement.guild_id,
        details={"at": announcement.scheduled_at.isoformat() if announcement.scheduled_at else None,
                 "title": announcement.title[:100]},
    )
    return True


async def mark_missed(
    sessions: async_sessionmaker[AsyncSession], announcement_id: int
) -> models.Announcement | None:
    """Mark a scheduled announcement missed (once: None if it is not scheduled any more)."""
    from storage.repositories import AnnouncementRepository

    async with sessions.begin() as session:
        announcement = await AnnouncementRepository(session).get(announcement_id)
        if announcement is None or not await _mark_missed(session, announcement):
            return None
    return announcement


# --------------------------------------------------------------------------------------------
# Schedule


def late(scheduled_at: datetime | None, now: datetime, grace: timedelta) -> bool:
    """Its time (``scheduled_at``) passed more than ``grace`` ago: too late to post."""
    return scheduled_at is not None and now - scheduled_at > grace


def feature(
    *,
    publish: Callable[[int], Awaitable[object]],
    missed: Callable[[int], Awaitable[object]],
    grace: timedelta = LATE_GRACE,
) -> Feature:
    """The announcements' declaration: each ``scheduled`` row is published at its time by
    ``publish(id)`` (still within ``grace`` when the bot was down), or, later than that, handed
    to ``missed(id)`` (which calls :func:`mark_missed` and tells the moderators)."""

    async def plan(services: Services, now: datetime) -> list[JobSpec]:
        specs = []
        for announcement_id, scheduled_at in await services.plain.scheduled_announcements():  # storage.plain
            if scheduled_at is None:
                continue
            if late(scheduled_at, now, grace):
                specs.append(JobSpec(
                    missed_job_id(announcement_id), scheduled_at, functools.partial(missed, announcement_id),
                ))
            else:
                specs.append(JobSpec(
                    job_id(announcement_id), scheduled_at, functools.partial(publish, announcement_id), grace=grace,
                ))
        return specs

    return Feature(FEATURE, plan)
