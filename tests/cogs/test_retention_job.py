"""Issue 10, item 16: the running bot applies the retention period itself.  Once READY (the
reconciler has run), one ``privacy-prune-daily`` job is in the scheduler, daily at 04:00 in the
bot's time zone; running it deletes the answers and profiles older than
``privacy.retention_days`` on the real database (SQLite or PostgreSQL) and keeps the rest."""

from __future__ import annotations

from datetime import timedelta

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import func, select

from bot.services.schedule import PRUNE_JOB_ID, job_id
from storage.models import Answer, AuditEntry, Option, Poll, Profile, Question

ALICE, BOB = 111_222_333_444_555_666, 777_888_999_000_111_222


async def count(sessions, model) -> int:
    async with sessions() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def test_the_daily_prune_job_is_declared_and_deletes_what_is_past_the_retention(world, sessions, clock):
    bot = world.env.bot
    assert bot.is_ready()
    assert PRUNE_JOB_ID == job_id("privacy", "prune", "daily") == "privacy-prune-daily"
    job = bot.scheduler.get_job(PRUNE_JOB_ID)
    assert job is not None, [j.id for j in bot.scheduler.get_jobs()]
    assert isinstance(job.trigger, CronTrigger)
    assert str(job.trigger.timezone) == "Europe/Paris" == str(bot.config.tz)
    fields = {f.name: str(f) for f in job.trigger.fields}
    assert (fields["hour"], fields["minute"], fields["day"]) == ("4", "0", "*")
    assert job.next_run_time.astimezone(bot.config.tz).hour == 4

    # what a reconcile does again (a reconfigure) leaves one such job
    await bot.reconcile_jobs()
    assert [j.id for j in bot.scheduler.get_jobs() if j.id.startswith("privacy-")] == [PRUNE_JOB_ID]

    bot.clock = clock
    now = clock()
    days = bot.config.privacy.retention_days
    old = now - timedelta(days=days + 30)
    profiles = bot.services.profiles
    clock.set(old)
    await profiles.record_consent(ALICE)
    await profiles.set_profile(ALICE, "ong")
    clock.set(now - timedelta(days=10))
    await profiles.record_consent(BOB)
    clock.set(now)
    poll = Poll(guild_id=1, channel_id=2, author_id=7, title="Besoins", lang="fr")
    question = Question(position=0, code="q1", text="Quel soutien ?", kind="text")
    question.options = [Option(position=0, code="o0", label="Formation")]
    poll.questions = [question]
    async with sessions.begin() as session:
        session.add(poll)
        await session.flush()
        session.add_all([
            Answer(question_id=question.id, user_id=ALICE, member_type="ong", text="ancienne",
                   answered_at=old, updated_at=old),
            Answer(question_id=question.id, user_id=BOB, member_type=None, text="récente",
                   answered_at=now - timedelta(days=10), updated_at=now - timedelta(days=10)),
        ])
    assert await count(sessions, Answer) == 2 and await count(sessions, Profile) == 2

    await job.func()  # what APScheduler calls at 04:00

    async with sessions() as session:
        left = list(await session.scalars(select(Answer.text)))
        members = list(await session.scalars(select(Profile.user_id)))
        audit = list(await session.scalars(select(AuditEntry).where(AuditEntry.action == "prune")))
    assert left == ["récente"] and members == [BOB]
    assert len(audit) == 1 and audit[0].details["answers"] == 1 and audit[0].details["profiles"] == 1
