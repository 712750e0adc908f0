"""A recurring announcement across a real SIGKILL (issue 12): ``reseau-bot run`` against
bench/fake_discord.py's gateway catches up the occurrence due while it was stopped, is killed
with SIGKILL in the middle of its fan-out to 100 channels, and the next run finishes it — each
channel gets the announcement once (the server ignores nonces: only the occurrence's claim in
calendar_runs, the delivery log and the history look-up stand between a restart and a double
post), and the occurrence is not run again."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from bench.cluster import Cluster
from bot.config import load_config
from bot.services import announcements
from bot.services.container import Services
from storage import models


async def wait_for(predicate, *, within: float, every: float = 0.05) -> None:
    """Ask ``predicate()`` every ``every`` second until it is true (the processes are elsewhere)."""
    async with asyncio.timeout(within):
        while True:
            if predicate():
                return
            await asyncio.sleep(every)


async def test_a_recurring_announcement_killed_mid_fan_out_is_posted_once_per_channel(database_url, tmp_path):
    async with Cluster(tmp_path, database_url, processes=1, guilds=2, channels_per_guild=50) as cluster:
        first = await cluster.start(0)  # once, so that the network channels are in the database
        await cluster.wait_connected(first)
        await cluster.stop(first)
        now = models.utcnow()
        services = Services.from_config(load_config(cluster.config), clock=lambda: now - timedelta(minutes=2))
        try:
            draft = await announcements.create_draft(
                services.sessions, guild_id=cluster.guilds[0], author_id=7, title="Réunion mensuelle",
                body="Rappel : la réunion du réseau a lieu jeudi.", now=now,
            )
            plan = await services.calendar.plan_announcement(
                draft.id, when=now - timedelta(minutes=1), repeat="weekly", actor_id=7,
            )
            second = await cluster.start(0)  # catches the occurrence up at READY, then dies
            await wait_for(lambda: len(cluster.server.messages) >= 20, within=90)
            await cluster.kill(second)
            await asyncio.sleep(0.3)  # a request already on the wire lands now
            cut = len(cluster.server.messages)
            assert cut < len(cluster.channels), "the kill must come mid-fan-out"

            third = await cluster.start(0)
            await wait_for(lambda: all(cluster.posts().values()), within=90)
            await asyncio.sleep(1.0)  # anything late would show now
            duplicates, missing = cluster.duplicates_and_missing()
            await cluster.stop(third)
            async with services.sessions() as session:
                runs = list(await session.scalars(select(models.CalendarRun)))
                statuses = (await session.execute(select(models.Delivery.status))).scalars().all()
                copies = await session.scalar(
                    select(func.count()).select_from(models.Announcement).where(models.Announcement.id != draft.id)
                )
            [planned] = await services.calendar.plans()
        finally:
            await services.aclose()
        outputs = "\n".join(p.output() for p in cluster.procs)
    assert (duplicates, missing) == (0, 0), outputs
    assert [(r.occurrence_at, r.status) for r in runs] == [(plan.start_at, "posted")]
    assert copies == 1 and set(statuses) == {"sent"} and len(statuses) == len(cluster.channels)
    assert planned.next_at == (plan.start_at + timedelta(weeks=1)).replace(second=0, microsecond=0)
