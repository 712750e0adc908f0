"""Changes made outside the running bot reach its scheduler: ``reseau-bot schedule --postpone``
moving an announcement earlier (the command line only writes the row) moves the running bot's
job, and a planned poll's (``plan-N``) — at the leader's next re-read of the rows (every minute, SQLite and PostgreSQL), and at once
on PostgreSQL where the command notifies ``reseau_schedule``."""

from __future__ import annotations

import asyncio
import inspect
from datetime import timedelta

from bot.client import RESYNC_JOB_ID
from bot.processes import CHANGED_OUTSIDE, RESYNC_SECONDS, SCHEDULE_CHANNEL
from bot.services import announcements, calendar
from storage.coordination import PgCoordination
from storage.urls import is_postgresql
from tests.cli.test_extracts_cli import run, write_config
from tests.time_ahead import NOW, SOON, at, local_text


async def test_an_announcement_moved_earlier_by_the_command_line_is_posted_at_its_new_time(
    world, database_url, tmp_path
):
    bot = world.env.bot
    bot.clock = at(NOW)
    draft = await announcements.create_draft(
        bot.sessions, guild_id=world.guild.id, author_id=world.moderator.id, title="AG", body="Le 12.", now=NOW,
    )
    await announcements.schedule(bot.sessions, draft.id, when=SOON + timedelta(hours=3), now=NOW, actor_id=None)
    await bot.get_cog("Announcements").reschedule()
    publish = f"announcement-publish-{draft.id}"
    assert bot.scheduler.get_job(publish).next_run_time == SOON + timedelta(hours=3)
    plan = await bot.services.calendar.plan_poll(  # a planned poll, as /poll create start:… stores it
        guild_id=world.guild.id, channel_id=world.fr.id, author_id=world.moderator.id,
        payload={"question": "Quel format ?", "options": "Visio; Présentiel", "kind": "single"},
        start=local_text(SOON + timedelta(hours=4)),
    )
    await bot.reconcile_jobs(calendar.FEATURE, catch_up=False)
    post = calendar.poll_job_id(plan.id)
    assert bot.scheduler.get_job(post).next_run_time == SOON + timedelta(hours=4)

    received: list[str] = []
    listener = None
    if is_postgresql(database_url):  # the leader's coordination connection, as it listens
        listener = await PgCoordination.connect(database_url)
        await listener.listen(SCHEDULE_CHANNEL, lambda _channel, payload: received.append(payload))
    try:
        config = write_config(tmp_path, database_url)
        moved = run(config, "schedule", "--postpone", f"announcement-{draft.id}", local_text(SOON))
        assert moved.returncode == 0, moved.stderr
        moved = run(config, "schedule", "--postpone", plan.ref, local_text(SOON + timedelta(hours=1)))
        assert moved.returncode == 0, moved.stderr
        if listener is not None:
            for _ in range(100):
                if len(received) == 2:
                    break
                await asyncio.sleep(0.05)
            assert received == [",".join(CHANGED_OUTSIDE)] * 2  # the leader reconciles those at once
    finally:
        if listener is not None:
            await listener.close()
    # the bot's own coordinator here is the single process's: only its periodic re-read sees it
    assert bot.scheduler.get_job(publish).next_run_time == SOON + timedelta(hours=3)
    assert bot.scheduler.get_job(post).next_run_time == SOON + timedelta(hours=4)

    resync = bot.scheduler.get_job(RESYNC_JOB_ID)
    assert resync.trigger.interval == timedelta(seconds=bot.resync_seconds)  # the tests' bots: rare
    assert RESYNC_SECONDS == 60 and inspect.signature(type(bot)).parameters["resync_seconds"].default == 60
    await resync.func()
    await asyncio.gather(*bot._inflight)
    assert bot.scheduler.get_job(publish).next_run_time == SOON  # posted at its new time
    assert bot.scheduler.get_job(post).next_run_time == SOON + timedelta(hours=1)  # and the poll
