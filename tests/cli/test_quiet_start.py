"""Small at rest (issue 15, item 3), end to end: ``reseau-bot run`` against the loopback Discord
(``bench/fake_discord.py``) on a database with an open poll (deadline and reminder ahead), a
scheduled announcement and an active calendar plan reaches READY, rebuilds every job from the
database and has nothing to do — without ever loading SQLAlchemy, the models or the
repositories (``storage.plain`` reads the rows).  With a delivery left pending, the start-up
resumes it, and that real work loads them: the probe can see them.

A small driver runs the real command line (``bot.cli.main``) and prints, once the start-up's
reconcile and the extracts' start-up task are over, the scheduler's job ids and which of those
modules the process holds."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from datetime import timedelta

from bench.cluster import Cluster
from bot.services import announcements, calendar, extracts, poll_jobs
from bot.services.schedule import PRUNE_JOB_ID
from storage import models
from storage.db import create_engine, session_factory
from storage.values import utcnow

DRIVER = r"""
import asyncio, json, sys
import bot.cli, bot.client

reconcile = bot.client.ReseauBot._reconcile_when_ready

async def observed(self):
    await reconcile(self)
    await asyncio.sleep(0.3)  # the schedule_reconciled listeners start the extracts' start-up task
    for _ in range(200):  # the extracts' start-up task (deliveries to resume, follow-ups to post)
        if not any(t.get_name() == "extracts-startup" for t in self._inflight):
            break
        await asyncio.sleep(0.05)
    heavy = ("sqlalchemy", "storage.models", "storage.repositories")
    print("STARTED " + json.dumps({"jobs": sorted(job.id for job in self.scheduler.get_jobs()),
                                   "loaded": [name for name in heavy if name in sys.modules]}), flush=True)

bot.client.ReseauBot._reconcile_when_ready = observed
sys.exit(bot.cli.main())
"""

HEAVY = ["sqlalchemy", "storage.models", "storage.repositories"]


async def _seed(url: str, *, pending_delivery: bool = False) -> dict[str, int]:
    now = utcnow()
    engine = create_engine(url)
    try:
        async with session_factory(engine).begin() as session:
            poll = models.Poll(guild_id=1, channel_id=10, title="Q", status="open",
                               deadline_at=now + timedelta(days=3), reminder_at=now + timedelta(days=2))
            announcement = models.Announcement(guild_id=1, title="A", body="B", status="scheduled",
                                               scheduled_at=now + timedelta(hours=6))
            plan = models.CalendarPlan(kind="poll", guild_id=1, channel_id=10, title="P", start_at=now,
                                       next_at=now + timedelta(days=7), recurrence="weekly")
            poll.questions = [models.Question(position=0, code="q1", text="Q", kind="single", options=[
                models.Option(position=i, code=f"o{i}", label=label) for i, label in enumerate(("Oui", "Non"))])]
            session.add_all([poll, announcement, plan])
            if pending_delivery:
                extract = models.Extract(source_key="k", title="T", month="2020-01", status="published")
                session.add(extract)
                await session.flush()
                session.add(models.Delivery(extract_id=extract.id, guild_id=1, channel_id=10, status="pending",
                                            nonce="n1"))
            await session.flush()
            return {"poll": poll.id, "announcement": announcement.id, "plan": plan.id}
    finally:
        await engine.dispose()


async def _start_and_observe(cluster: Cluster) -> tuple[dict, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", DRIVER, "--config", str(cluster.config), "run", env=cluster.env(), cwd=cluster.folder,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    lines: list[str] = []
    seen: dict = {}
    try:
        async with asyncio.timeout(90):
            while not seen:
                raw = await process.stdout.readline()
                assert raw, "".join(lines)
                line = raw.decode(errors="replace")
                lines.append(line)
                if line.startswith("STARTED "):
                    seen = json.loads(line.removeprefix("STARTED "))
    except TimeoutError:
        raise AssertionError("no STARTED line within 90 s:\n" + "".join(lines)) from None
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        rest, _ = await asyncio.wait_for(process.communicate(), timeout=60)
        lines.append(rest.decode(errors="replace"))
    assert process.returncode == 0, "".join(lines)
    return seen, "".join(lines)


async def test_a_quiet_start_rebuilds_every_job_without_loading_sqlalchemy(database_url, tmp_path):
    ids = await _seed(database_url)
    async with Cluster(tmp_path, database_url, processes=1, guilds=1, channels_per_guild=1,
                       extract_cron="0 10 7 * *") as cluster:
        cluster.sharded = False
        cluster.config.write_text(cluster.config.read_text().replace("shard_count = 1", "shard_count = 0"))
        seen, output = await _start_and_observe(cluster)
    assert seen["loaded"] == [], output
    assert {
        poll_jobs.close_job_id(ids["poll"]), poll_jobs.remind_job_id(ids["poll"]),
        announcements.job_id(ids["announcement"]), calendar.poll_job_id(ids["plan"]),
        extracts.JOB_ID, PRUNE_JOB_ID,
    } <= set(seen["jobs"]), seen["jobs"]
    assert "Traceback" not in output


async def test_a_delivery_left_pending_is_resumed_at_start_and_that_work_loads_the_orm(database_url, tmp_path):
    await _seed(database_url, pending_delivery=True)
    async with Cluster(tmp_path, database_url, processes=1, guilds=1, channels_per_guild=1,
                       extract_cron="0 10 7 * *") as cluster:
        cluster.sharded = False
        cluster.config.write_text(cluster.config.read_text().replace("shard_count = 1", "shard_count = 0"))
        seen, output = await _start_and_observe(cluster)
    assert seen["loaded"] == HEAVY, output
    assert "delivered" in output  # the publisher's report: the row was taken up
