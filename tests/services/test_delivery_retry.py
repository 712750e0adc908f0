"""Issue 10, item 8: a delivery kept "to retry" is retried while the bot runs, with growing delays,
through the one reconciler's ``delivery-retry-<id>`` job; after ``max_attempts`` it is marked
failed and reported once in the moderators' log channel.  Real database (SQLite or PostgreSQL),
the bot's own wiring (``ReseauBot`` declares the feature and puts the jobs), the shared clock;
the scheduler is paused and a job "fires" when the test moves the clock to its time and calls
what APScheduler would call."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import select

from bot.client import ReseauBot
from bot.config import build_config
from bot.i18n import Catalogue
from bot.services import announcements, delivery
from bot.services.container import Services
from bot.services.delivery import TransientFailure
from bot.services.schedule import parse_job_id
from storage import models
from storage.plain import ChannelRow

MODLOG = 99
CHANNEL = 11


class FlakySender:
    """Fails the first ``failures`` sends to each channel with a transient error (a 503)."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.tries: list = []  # the clock's time of each attempt
        self.posted: list[int] = []
        self.notes: list[tuple[int, str]] = []
        self.clock = None

    async def send(self, channel_id, part, nonce, *, crosspost=False):
        self.tries.append(self.clock())
        if len(self.tries) <= self.failures:
            raise TransientFailure("503 0: Service Unavailable")  # as bot.posting words Discord's 503
        self.posted.append(channel_id)
        return 5000 + len(self.posted)

    async def find_sent(self, channel_id, parts, after):
        return {}

    async def notify(self, channel_id, text):
        self.notes.append((channel_id, text))


@pytest.fixture
async def world(engine, sessions, database_url, clock, tmp_path: Path):
    config = build_config({
        "database": {"url": database_url},
        "discord": {"moderators_log_channel_id": MODLOG},
        "channels": [{"guild_id": 1, "channel_id": CHANNEL, "language": "fr"}],
    }, tmp_path / "config.toml", environ={})
    services = Services(config, engine=engine, sessions=sessions, clock=clock)
    await services.plain.replace_channels([ChannelRow(CHANNEL, 1, "fr", None, "annonces")])
    scheduler = AsyncIOScheduler(timezone=config.tz)
    scheduler.start(paused=True)  # jobs are stored and computed; the test fires them
    bot = ReseauBot(config, services=services, scheduler=scheduler, extensions=())

    def use(sender: FlakySender) -> FlakySender:
        sender.clock = clock
        services.attach_sender(sender, rate=None)
        services.publisher.timer = clock  # the (paused) scheduler's time is the shared clock too
        return sender

    yield SimpleNamespace(bot=bot, services=services, sessions=sessions, clock=clock, use=use)
    scheduler.shutdown(wait=False)
    await services.aclose(dispose_engine=False)


async def publish(world) -> tuple[int, int]:
    """An announcement posted now to the network's channel: (announcement id, delivery id)."""
    draft = await announcements.create_draft(
        world.sessions, guild_id=1, author_id=7, title="Assemblée générale", body="Le 10 décembre.",
        now=world.clock(),
    )
    await announcements.publish(world.sessions, world.services.publisher, draft.id, now=world.clock(), actor_id=7)
    async with world.sessions() as session:
        row = await session.scalar(select(models.Delivery).where(models.Delivery.announcement_id == draft.id))
    return draft.id, row.id


def retry_jobs(world) -> dict[str, object]:
    return {
        job.id: job.trigger.run_date for job in world.bot.scheduler.get_jobs()
        if (parsed := parse_job_id(job.id)) is not None and parsed.feature == delivery.FEATURE
    }


async def fire(world, job_id: str) -> None:
    """What APScheduler does at the job's time: the clock reaches it, the date job leaves the
    store, its function runs."""
    job = world.bot.scheduler.get_job(job_id)
    assert job is not None, f"{job_id} is not scheduled: {retry_jobs(world)}"
    world.clock.set(job.trigger.run_date)
    job.remove()
    await job.func()


async def row(world, delivery_id: int) -> models.Delivery:
    async with world.sessions() as session:
        return await session.get(models.Delivery, delivery_id)


async def test_a_failing_send_is_retried_with_growing_delays_and_posted_once(world):
    sender = world.use(FlakySender(failures=2))
    _, delivery_id = await publish(world)
    job = delivery.retry_job_id(delivery_id)
    assert job == f"delivery-retry-{delivery_id}"
    start = sender.tries[0]
    assert retry_jobs(world) == {job: start + timedelta(minutes=1)}
    assert (await row(world, delivery_id)).status == "pending"

    # a reconcile (READY, a reconfigure) keeps the same job at the same time
    await world.bot.reconcile_jobs()
    assert retry_jobs(world) == {job: start + timedelta(minutes=1)}

    await fire(world, job)  # second attempt, fails again: the next one is twice as far
    assert len(sender.tries) == 2 and sender.posted == []
    assert retry_jobs(world) == {job: sender.tries[1] + timedelta(minutes=2)}

    await fire(world, job)  # third attempt succeeds
    assert sender.posted == [CHANNEL]
    delays = [b - a for a, b in zip(sender.tries, sender.tries[1:], strict=False)]
    assert delays == [timedelta(minutes=1), timedelta(minutes=2)]
    done = await row(world, delivery_id)
    assert (done.status, done.message_id, done.attempts) == ("sent", 5001, 3)
    assert retry_jobs(world) == {}
    assert sender.notes == [], "nothing to report: it was delivered"

    await world.bot.reconcile_jobs()  # nothing left to retry, nothing posted again
    assert retry_jobs(world) == {} and sender.posted == [CHANNEL]


async def test_a_send_that_keeps_failing_ends_failed_and_is_reported_once(world):
    sender = world.use(FlakySender(failures=100))
    announcement_id, delivery_id = await publish(world)
    job = delivery.retry_job_id(delivery_id)
    publisher = world.services.publisher
    for attempt in range(2, publisher.max_attempts + 1):
        await fire(world, job)
        assert len(sender.tries) == attempt
    delays = [b - a for a, b in zip(sender.tries, sender.tries[1:], strict=False)]
    assert delays == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    failed = await row(world, delivery_id)
    catalogue = Catalogue.load()
    assert (failed.status, failed.attempts, failed.error) == ("failed", 5, "unavailable/5: 503 0: Service Unavailable")
    gave_up = "Discord était injoignable ou surchargé (HTTP 503)\u202f; abandon après 5 tentatives"  # in the log's language
    assert retry_jobs(world) == {}
    [(channel, text)] = sender.notes
    assert channel == MODLOG
    assert text.startswith(catalogue.t("delivery.failed_title", "fr", count=1))
    assert f"<#{CHANNEL}>" in text and gave_up in text and "Assemblée générale" in text

    await world.bot.reconcile_jobs()  # a failed row is not retried again, nor reported again
    assert retry_jobs(world) == {} and len(sender.tries) == 5 and len(sender.notes) == 1
    async with world.sessions() as session:
        audit = list(await session.scalars(
            select(models.AuditEntry).where(models.AuditEntry.action == "delivery.failed")
        ))
    assert [(a.target_type, a.target_id) for a in audit] == [("announcement", str(announcement_id))]
