"""What moderators (``/status``) and operators see about the deployment.

:func:`report` also says what is planned, from the database (the truth the scheduler is rebuilt
from) and the config: the next monthly extract slot that will publish, this server's open
polls' deadlines and pending reminders, and its scheduled announcements — as plain values, in
time order, for the cog to put in words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from bot.config import Config
from bot.services import extracts
from storage.db import current_revision

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

EXTRACT_SLOT = "extract_slot"
EXTRACT_SLOT_EMPTY = "extract_slot_empty"  # the next slot has nothing to post
POLL_CLOSE = "poll_close"
POLL_REMINDER = "poll_reminder"
ANNOUNCEMENT = "announcement"


@dataclass(frozen=True)
class Planned:
    """One thing the bot will do by itself: ``kind`` (one of the constants above), when (UTC),
    and the record it concerns (none for the monthly slot)."""

    kind: str
    when: datetime
    record_id: int | None = None
    title: str = ""


@dataclass(frozen=True)
class StatusReport:
    backend: str
    revision: str
    channels_here: list[tuple[int, str]]
    planned: list[Planned] = field(default_factory=list)


async def report(
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    *,
    guild_id: int | None,
    config: Config | None = None,
    now: datetime | None = None,
) -> StatusReport:
    from storage.repositories import ChannelRepository

    async with sessions() as session:
        channels = await ChannelRepository(session).all()
        planned = await _planned(session, config, now, guild_id) if config is not None and now is not None else []
    return StatusReport(
        backend=engine.dialect.name,
        revision=await current_revision(engine) or "-",
        channels_here=[(c.channel_id, c.language) for c in channels if c.guild_id == guild_id],
        planned=planned,
    )


async def _planned(session: AsyncSession, config: Config, now: datetime, guild_id: int | None) -> list[Planned]:
    from storage.repositories import AnnouncementRepository, PollRepository, StateRepository

    out: list[Planned] = []
    # The next slot of a month not handled yet, and what it would post (the slot's own choice:
    # the month's extract or an overdue one per language), or that it has nothing to post.
    handled = await StateRepository(session).get(extracts.SLOT_STATE_KEY)
    for when in extracts.next_runs(config, now, count=3):
        month = extracts.month_of(when, config.tz)
        if handled is None or month > handled:
            chosen = await extracts.slot_would_post(session, month)
            if chosen:
                out.append(Planned(EXTRACT_SLOT, when, title=" · ".join(e.title for e in chosen)))
            else:
                out.append(Planned(EXTRACT_SLOT_EMPTY, when))
            break
    for poll in await PollRepository(session).open_polls():
        if poll.guild_id != guild_id:
            continue
        title = poll.title or (poll.questions[0].text if poll.questions else "")
        if poll.deadline_at is not None and poll.deadline_at > now:
            out.append(Planned(POLL_CLOSE, poll.deadline_at, poll.id, title))
        if poll.reminder_at is not None and not poll.reminder_sent and poll.reminder_at > now:
            out.append(Planned(POLL_REMINDER, poll.reminder_at, poll.id, title))
    if guild_id is not None:
        for announcement in await AnnouncementRepository(session).scheduled(guild_id=guild_id):
            if announcement.scheduled_at is not None:
                out.append(Planned(ANNOUNCEMENT, announcement.scheduled_at, announcement.id, announcement.title))
    out.sort(key=lambda p: (p.when, p.kind, p.record_id or 0))
    return out
