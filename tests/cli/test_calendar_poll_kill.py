"""A planned poll across a real SIGKILL (issue 12): ``reseau-bot run`` against
bench/fake_discord.py catches up a poll whose time passed while it was stopped, Discord takes
the poll's message but its answer is held, and the process is killed with SIGKILL then — the
occurrence is claimed, its poll written, the message in the channel, its id never learnt.  The
next run resumes the occurrence at READY: it finds the message (the server ignores nonces: only
the run's state and the history look-up stand between a restart and a second poll), attaches
it to the poll, and the channel has the poll once; a third run changes nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from bench.cluster import Cluster
from bot.config import load_config
from bot.services.container import Services
from storage import models
from tests.cli.test_calendar_kill import wait_for

PAYLOAD = {"question": "Quel format pour la rencontre ?", "options": "Visio; Présentiel", "kind": "single",
           "deadline": "2j"}


async def state(services: Services) -> tuple[list[models.CalendarRun], list[models.Poll]]:
    async with services.sessions() as session:
        runs = list(await session.scalars(select(models.CalendarRun)))
        polls = list(await session.scalars(select(models.Poll)))
    return runs, polls


async def test_a_planned_poll_killed_before_its_answer_is_posted_once_after_restart(database_url, tmp_path):
    async with Cluster(tmp_path, database_url, processes=1, guilds=1, channels_per_guild=2) as cluster:
        first = await cluster.start(0)  # once, so that the schema and the channels are there
        await cluster.wait_connected(first)
        await cluster.stop(first)
        channel = next(iter(cluster.channels))
        now = models.utcnow()
        services = Services.from_config(load_config(cluster.config), clock=lambda: now - timedelta(hours=2))

        def polls_in_channel() -> list[dict]:
            return [m for m in cluster.server.messages if m["channel_id"] == str(channel) and m.get("components")]

        try:
            plan = await services.calendar.plan_poll(
                guild_id=cluster.guilds[0], channel_id=channel, author_id=7, payload=PAYLOAD, start="dans 1 h",
            )
            cluster.server.answer_held = 120.0
            second = await cluster.start(0)  # catches the poll up at READY; Discord takes it, then…
            await wait_for(lambda: len(polls_in_channel()) == 1, within=90)
            await cluster.kill(second)  # …the process dies before the answer
            cluster.server.release_answers()
            runs, polls = await state(services)
            assert [(r.status, r.poll_id) for r in runs] == [("sending", polls[0].id)]
            assert [p.message_id for p in polls] == [None]

            third = await cluster.start(0)
            await cluster.wait_connected(third)

            async def posted() -> bool:
                runs, _ = await state(services)
                return [r.status for r in runs] == ["posted"]

            for _ in range(600):  # a minute at most
                if await posted():
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(1.0)  # anything late would show now
            await cluster.stop(third)
            fourth = await cluster.start(0)
            await cluster.wait_connected(fourth)
            await asyncio.sleep(1.0)
            await cluster.stop(fourth)
            runs, polls = await state(services)
            planned = await services.calendar.get_plan(plan.id)
        finally:
            await services.aclose()
        outputs = "\n".join(p.output() for p in cluster.procs)
        messages = polls_in_channel()
    assert len(messages) == 1, outputs
    [poll] = polls
    assert poll.message_id == int(messages[0]["message_id"]) and poll.status == "open"
    assert [(r.occurrence_at, r.status, r.poll_id) for r in runs] == [(plan.start_at, "posted", poll.id)]
    assert planned.status == "done"
