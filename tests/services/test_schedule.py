"""The one scheduler reconciler (``bot/services/schedule.py``) on the real database, without
Discord: the job-id scheme, the same job set after a restart, stale jobs dropped when a row is
closed or cancelled, overdue work (a passed deadline, a late reminder, a late or a missed
announcement, the month's extract slot) run once at start — and never twice."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.config import build_config
from bot.services import announcements, extracts, poll_jobs
from bot.services.container import Services
from bot.services.schedule import Feature, JobId, JobSpec, Schedule, job_id, parse_job_id
from storage import models
from storage.repositories import AnnouncementRepository, StateRepository

# Monday 3 December 2035, 13:00 in Paris: the default cron's slot (first Monday, 10:00) passed
# three hours ago.  Far ahead of the wall clock, by which APScheduler would fire date jobs.
T0 = datetime(2035, 12, 3, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


# --------------------------------------------------------------------------------------------
# Ids


def test_job_ids_round_trip():
    assert job_id("poll", "close", 12) == "poll-close-12"
    assert parse_job_id("poll-close-12") == JobId("poll", "close", "12")
    assert str(parse_job_id("extract-catchup-2035-12")) == "extract-catchup-2035-12"
    assert parse_job_id("extract-catchup-2035-12").key == "2035-12"
    for made in (
        poll_jobs.close_job_id(3), poll_jobs.remind_job_id(3), announcements.job_id(5),
        announcements.missed_job_id(5), extracts.JOB_ID, extracts.catch_up_job_id("2035-12"),
    ):
        assert str(parse_job_id(made)) == made
    assert [parse_job_id(i).feature for i in ("poll-remind-3", "announcement-miss-5", extracts.JOB_ID)] == [
        "poll", "announcement", "extract"
    ]
    # ids of another scheme are not ours: never dropped as stale
    for foreign in ("monthly-extract", "announcement-5", "Poll-close-1", "poll--1", "x"):
        assert parse_job_id(foreign) is None
    with pytest.raises(ValueError):
        job_id("poll-kind", "close", 1)
    with pytest.raises(ValueError):
        job_id("poll", "close", "")


# --------------------------------------------------------------------------------------------
# The world: the container over the test database, a clock, runs that do the real work


class MemorySender:
    def __init__(self) -> None:
        self.sent: list[int] = []
        self.notes: list[tuple[int, str]] = []
        self._next = 1000

    async def send(self, channel_id, part, nonce, *, crosspost=False):
        self._next += 1
        self.sent.append(channel_id)
        return self._next

    async def find_sent(self, channel_id, parts, after):
        return {}

    async def notify(self, channel_id, text):
        self.notes.append((channel_id, text))


@pytest.fixture
async def world(engine, sessions, database_url, tmp_path: Path):
    config = build_config({
        "database": {"url": database_url},
        "discord": {"moderators_log_channel_id": 99},
        "channels": [
            {"guild_id": 1, "channel_id": 11, "language": "fr"},
            {"guild_id": 1, "channel_id": 12, "language": "en"},
        ],
    }, tmp_path / "config.toml", environ={})
    clock = SimpleNamespace(now=T0)
    services = Services(config, engine=engine, sessions=sessions, clock=lambda: clock.now)
    sender = MemorySender()
    services.attach_sender(sender, rate=None)
    await services.mirror_channels()
    async with sessions.begin() as session:
        # this month's extract is served (test_overdue_work… opens it again)
        await StateRepository(session).set(extracts.SLOT_STATE_KEY, "2035-12")
    runs: list[str] = []
    schedulers: list[AsyncIOScheduler] = []

    async def close(poll_id):
        runs.append(poll_jobs.close_job_id(poll_id))
        await services.polls.close(poll_id)

    async def remind(poll_id):
        runs.append(poll_jobs.remind_job_id(poll_id))
        await services.polls.claim_reminder(poll_id)

    async def publish(announcement_id):
        runs.append(announcements.job_id(announcement_id))
        await announcements.publish(
            sessions, services.publisher, announcement_id, now=services.now(), actor_id=None, scheduled=True
        )

    async def missed(announcement_id):
        runs.append(announcements.missed_job_id(announcement_id))
        await announcements.mark_missed(sessions, announcement_id)

    async def slot():
        runs.append(extracts.JOB_ID)

    async def catch_up():
        runs.append("extract catch-up")
        await extracts.catch_up(sessions, services.publisher, config, now=services.now())

    def start() -> Schedule:
        """A process starting: a fresh scheduler, the features declared."""
        scheduler = AsyncIOScheduler(timezone=config.tz)
        scheduler.start(paused=True)  # jobs are stored and computed; none fires during a test
        schedulers.append(scheduler)
        schedule = Schedule(scheduler, services)
        schedule.declare(
            poll_jobs.feature(close=close, remind=remind),
            announcements.feature(publish=publish, missed=missed),
            extracts.feature(slot=slot, catch_up=catch_up),
        )
        return schedule

    yield SimpleNamespace(
        config=config, clock=clock, services=services, sessions=sessions, sender=sender, runs=runs,
        start=start, tmp_path=tmp_path,
    )
    for scheduler in schedulers:
        scheduler.shutdown(wait=False)


async def new_poll(world, *, deadline: str, reminder: str | None = None) -> int:
    draft = world.services.polls.prepare(
        guild_id=1, channel_id=11, author_id=7, question="Quel format ?", options="A; B",
        deadline=deadline, reminder=reminder,
    )
    poll = await world.services.polls.create(draft)
    return (await world.services.polls.attach_message(poll.id, 5000 + poll.id)).id


async def new_announcement(world, when: datetime) -> int:
    draft = await announcements.create_draft(
        world.sessions, guild_id=1, author_id=7, title="Assemblée générale", body="Le 10 décembre.",
        now=world.clock.now,
    )
    await announcements.schedule(world.sessions, draft.id, when=when, now=world.clock.now, actor_id=7)
    return draft.id


async def queue_extract(world, month: str) -> None:
    folder = world.tmp_path / "extraits"
    folder.mkdir(exist_ok=True)
    (folder / f"{month}.md").write_text(f'---\ntitle = "Extrait {month}"\nlang = "fr"\nmonth = "{month}"\n---\nTexte.\n')
    await extracts.import_path(world.sessions, folder, now=world.clock.now, tz=world.config.tz)


def jobs(schedule: Schedule) -> dict[str, object]:
    """Every job of the scheme with its next run (the cron's string and time zone)."""
    found = {}
    for job in schedule.scheduler.get_jobs():
        if parse_job_id(job.id) is not None:
            found[job.id] = (str(job.trigger), job.trigger.run_date if hasattr(job.trigger, "run_date") else None)
    return found


async def status(world, model, record_id: int) -> str:
    async with world.sessions() as session:
        return (await session.get(model, record_id)).status


# --------------------------------------------------------------------------------------------
# Rebuild


async def test_rebuild_after_a_restart_gives_the_same_job_set(world):
    first_poll = await new_poll(world, deadline="2j", reminder="1j")
    second_poll = await new_poll(world, deadline="6h")
    announcement = await new_announcement(world, T0 + 3 * HOUR)

    schedule = world.start()
    done = await schedule.reconcile()
    expected = {
        poll_jobs.close_job_id(first_poll), poll_jobs.remind_job_id(first_poll), poll_jobs.close_job_id(second_poll),
        announcements.job_id(announcement), extracts.JOB_ID,
    }
    assert set(done.scheduled) == expected and done.removed == [] and done.caught_up == []
    assert schedule.job_ids() == expected
    before = jobs(schedule)
    assert before[poll_jobs.close_job_id(first_poll)][1] == T0 + timedelta(days=2)
    assert before[poll_jobs.remind_job_id(first_poll)][1] == T0 + timedelta(days=1)
    assert before[announcements.job_id(announcement)][1] == T0 + 3 * HOUR
    cron = schedule.scheduler.get_job(extracts.JOB_ID)
    assert str(cron.trigger.timezone) == "Europe/Paris"
    assert cron.misfire_grace_time == 7 * 86400

    restarted = world.start()  # another process, the same rows
    assert restarted.job_ids() == set()
    again = await restarted.reconcile()
    assert jobs(restarted) == before
    assert again.caught_up == [] and world.runs == []
    # reconciling again changes nothing either
    assert set((await restarted.reconcile()).scheduled) == expected
    assert jobs(restarted) == before and world.runs == []


async def test_a_closed_poll_and_a_cancelled_announcement_lose_their_jobs(world):
    kept = await new_poll(world, deadline="2j", reminder="1j")
    closed = await new_poll(world, deadline="2j", reminder="1j")
    cancelled = await new_announcement(world, T0 + 3 * HOUR)
    schedule = world.start()
    await schedule.reconcile()
    assert {poll_jobs.close_job_id(closed), poll_jobs.remind_job_id(closed), announcements.job_id(cancelled)} <= (
        schedule.job_ids()
    )

    await world.services.polls.close(closed, actor_id=7)
    await announcements.cancel(world.sessions, cancelled, actor_id=7)
    done = await schedule.reconcile("poll", "announcement", catch_up=False)  # after the change
    assert sorted(done.removed) == sorted(
        [poll_jobs.close_job_id(closed), poll_jobs.remind_job_id(closed), announcements.job_id(cancelled)]
    )
    assert schedule.job_ids("poll") == {poll_jobs.close_job_id(kept), poll_jobs.remind_job_id(kept)}
    assert schedule.job_ids("announcement") == set()
    assert extracts.JOB_ID in schedule.job_ids()  # only the named features were reconciled
    assert world.runs == []

    # a feature withdrawn (its cog unloaded) takes its jobs away; foreign jobs are left alone
    schedule.scheduler.add_job(lambda: None, "date", run_date=T0 + HOUR, id="someone-else")
    schedule.withdraw("poll")
    assert schedule.job_ids("poll") == set()
    assert schedule.scheduler.get_job("someone-else") is not None
    assert (await schedule.reconcile()).removed == []


# --------------------------------------------------------------------------------------------
# Catch-up


async def test_overdue_work_runs_once_at_start_and_never_twice(world):
    overdue = await new_poll(world, deadline="2h", reminder="1h")  # deadline passes while down
    late_reminder = await new_poll(world, deadline="2j", reminder="1j")  # reminder due while down
    upcoming = await new_poll(world, deadline="5j", reminder="1j")
    within_grace = await new_announcement(world, T0 + 20 * HOUR)  # 5 h late: still posted
    missed = await new_announcement(world, T0 + 2 * HOUR)  # 23 h late: stale, marked missed
    later = await new_announcement(world, T0 + 3 * 24 * HOUR)
    await queue_extract(world, "2035-12")
    async with world.sessions.begin() as session:
        await StateRepository(session).set(extracts.SLOT_STATE_KEY, "2035-11")  # December not served yet

    world.clock.now = T0 + 25 * HOUR  # the bot comes back the next day
    schedule = world.start()
    done = await schedule.reconcile()
    catch_up_id = extracts.catch_up_job_id("2035-12")
    # oldest first: the extract slot (Monday 10:00), then by time
    assert done.caught_up == [
        catch_up_id, poll_jobs.close_job_id(overdue), announcements.missed_job_id(missed),
        announcements.job_id(within_grace), poll_jobs.remind_job_id(late_reminder),
    ]
    assert done.failed == []
    assert world.runs == [
        "extract catch-up", poll_jobs.close_job_id(overdue), announcements.missed_job_id(missed),
        announcements.job_id(within_grace), poll_jobs.remind_job_id(late_reminder),
    ]
    assert await status(world, models.Poll, overdue) == "closed"
    async with world.sessions() as session:
        assert (await session.get(models.Poll, late_reminder)).reminder_sent
        repo = AnnouncementRepository(session)
        assert [(await repo.get(i)).status for i in (within_grace, missed, later)] == [
            "published", "missed", "scheduled"
        ]
    assert await extracts.last_handled_month(world.sessions) == "2035-12"
    assert sorted(world.sender.sent) == [11, 11, 12]  # the extract (fr), the announcement (fr, en)
    # what is ahead is scheduled; what ran is not scheduled as well
    assert schedule.job_ids() == {
        poll_jobs.close_job_id(late_reminder), poll_jobs.close_job_id(upcoming),
        poll_jobs.remind_job_id(upcoming), announcements.job_id(later), extracts.JOB_ID,
    }

    # idempotent: reconciling again, in this process or after another restart, runs nothing
    world.runs.clear()
    assert (await schedule.reconcile()).caught_up == []
    assert (await world.start().reconcile()).caught_up == []
    world.clock.now += HOUR
    assert (await world.start().reconcile()).caught_up == []
    assert world.runs == [] and sorted(world.sender.sent) == [11, 11, 12]


async def test_two_reconciles_at_once_run_the_overdue_work_once(world):
    polls = [await new_poll(world, deadline="1h") for _ in range(3)]
    world.clock.now = T0 + 2 * HOUR
    schedule = world.start()
    first, second = await asyncio.gather(schedule.reconcile(), schedule.reconcile())
    assert sorted(first.caught_up + second.caught_up) == sorted(poll_jobs.close_job_id(p) for p in polls)
    assert sorted(world.runs) == sorted(poll_jobs.close_job_id(p) for p in polls)


async def test_without_catch_up_overdue_work_waits_and_a_failed_run_is_retried(world):
    poll = await new_poll(world, deadline="1h")
    world.clock.now = T0 + 2 * HOUR
    schedule = world.start()
    done = await schedule.reconcile(catch_up=False)  # after a change: no catching up
    assert done.caught_up == [] and world.runs == []
    assert await status(world, models.Poll, poll) == "open"

    attempts = []

    async def flaky():
        attempts.append(len(attempts))
        if len(attempts) == 1:
            raise RuntimeError("Discord is down")

    async def plan(services, now):
        return [JobSpec(job_id("probe", "run", 1), T0, flaky)]

    schedule.declare(Feature("probe", plan))
    failed = await schedule.reconcile("probe")
    assert failed.failed == ["probe-run-1"] and failed.caught_up == []
    retried = await schedule.reconcile("probe")  # the row still says so: the next reconcile retries
    assert retried.caught_up == ["probe-run-1"] and attempts == [0, 1]


async def test_a_run_that_reconciles_again_does_not_catch_up_inside_itself(world):
    """A run may reconcile its feature after changing its row (the after-change path): that
    nested call only syncs — it neither waits for the catch-up in progress nor runs it again."""
    poll = await new_poll(world, deadline="1h")
    world.clock.now = T0 + 2 * HOUR
    schedule = world.start()
    nested = []

    async def close(poll_id):
        await world.services.polls.close(poll_id)
        nested.append(await schedule.reconcile("poll"))

    async def remind(poll_id):
        raise AssertionError("no reminder")

    schedule.declare(poll_jobs.feature(close=close, remind=remind))
    done = await asyncio.wait_for(schedule.reconcile("poll"), timeout=10)
    assert done.caught_up == [poll_jobs.close_job_id(poll)]
    assert len(nested) == 1 and nested[0].caught_up == []
    assert await status(world, models.Poll, poll) == "closed"


async def test_put_and_remove_one_record(world):
    schedule = world.start()
    spec = JobSpec(poll_jobs.close_job_id(9), T0 + HOUR, lambda: asyncio.sleep(0))
    gone = JobSpec(poll_jobs.remind_job_id(9), T0 - HOUR, lambda: asyncio.sleep(0))
    assert schedule.put([spec, gone]) == [spec.id]  # an overdue spec is the catch-up's, not a job
    assert schedule.scheduler.get_job(spec.id).next_run_time == T0 + HOUR
    assert schedule.remove("poll", 8) == [] and schedule.remove("poll", 9) == [spec.id]
    with pytest.raises(ValueError):
        JobSpec("monthly-extract", T0, lambda: asyncio.sleep(0)).feature  # noqa: B018
