"""SIGTERM during a scheduled announcement's fan-out (the bot's close, as ``run_bot`` calls it):
the fan-out finishes within the close's grace, as the README promises, and the log has no
APScheduler error and traceback — the scheduler's shutdown cancels its running jobs, the run
itself is in-flight work."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy import select

from bot.services import announcements
from bot.services.delivery import Pacer
from storage.models import Delivery
from storage.values import DELIVERY_SENT, utcnow


async def test_a_fan_out_under_way_at_shutdown_finishes_quietly(world, sessions, caplog):
    bot = world.env.bot
    bot.clock = utcnow  # APScheduler fires the job on the wall clock: so does the bot here
    bot.services.publisher.pacer = Pacer(2.0)  # the second channel's post half a second after the first
    now = utcnow()
    draft = await announcements.create_draft(
        bot.sessions, guild_id=world.guild.id, author_id=world.moderator.id, title="AG", body="Le 12.", now=now,
    )
    await announcements.schedule(bot.sessions, draft.id, when=now + timedelta(seconds=1), now=now, actor_id=None)
    await bot.get_cog("Announcements").reschedule()
    caplog.set_level(logging.INFO)
    for _ in range(200):  # until the fan-out has posted in one channel
        if world.fr.last_message is not None or world.en.last_message is not None:
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the scheduled announcement was not posted")
    async with sessions() as session:
        statuses = list(await session.scalars(select(Delivery.status).where(Delivery.announcement_id == draft.id)))
    assert sorted(statuses).count(DELIVERY_SENT) == 1  # mid fan-out

    await bot.close()

    async with sessions() as session:
        statuses = list(await session.scalars(select(Delivery.status).where(Delivery.announcement_id == draft.id)))
    assert statuses == [DELIVERY_SENT, DELIVERY_SENT]  # finished within the grace, not left for the next start
    assert world.fr.last_message is not None and world.en.last_message is not None
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
    assert any("finishes as in-flight work" in r.getMessage() for r in caplog.records)
