"""A planned poll's occurrence is never lost and never doubled (issue 12): the process dies
between the claim of the occurrence (``calendar_runs``) and the end of its posting — before its
message was sent, or after Discord took it but before the bot wrote its id down — and the next
start's catch-up (READY) finishes it: one message in the channel, attached to the poll, with its
deadline job, the run ``posted``; another restart changes nothing.

The death is simulated by a :class:`Killed` (a ``BaseException``, as the interpreter's exit: no
``except Exception`` of the bot catches it) raised from the posting step, then the bot is
restarted on SimCord with a later clock.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.services import calendar as service
from storage.models import AuditEntry, CalendarRun, Poll
from tests.cogs.test_calendar_e2e import TOMORROW_9_UTC, plan, poll_posts, polls_in
from tests.time_ahead import NOW, at


class Killed(BaseException):
    """The process dies here."""


async def runs_in(sessions) -> list[CalendarRun]:
    async with sessions() as session:
        return list(await session.scalars(select(CalendarRun).order_by(CalendarRun.occurrence_at)))


async def start_and_die(world, die_after_send: bool) -> int:
    """Plan a poll for tomorrow 9:00 (2 days long), reach its time and die while posting it;
    the plan's id."""
    bot = world.env.bot
    bot.clock = at(NOW)
    await plan(world, start="demain 9 h", deadline="2j")
    [planned] = await bot.services.calendar.plans()
    bot.clock = at(TOMORROW_9_UTC + timedelta(seconds=1))
    cog = bot.get_cog("Calendar")

    async def dying(poll, nonce, maybe_sent) -> int:
        assert not maybe_sent and poll.message_id is None
        if die_after_send:  # Discord took the message; its answer never reached the bot
            channel = bot.get_partial_messageable(poll.channel_id, guild_id=poll.guild_id)
            await cog.polls.messages.post(poll, channel, 1, nonce=nonce)
            await world.env.settle()
        raise Killed

    with pytest.raises(Killed):
        await bot.services.calendar.run_poll(planned.id, dying)
    return planned.id


@pytest.mark.parametrize("die_after_send", [False, True], ids=["before-the-message", "after-the-message"])
async def test_an_occurrence_killed_between_claim_and_post_is_posted_once_after_restart(
    world, sessions, bot_factory, die_after_send
):
    plan_id = await start_and_die(world, die_after_send)
    [run] = await runs_in(sessions)
    [stored] = await polls_in(sessions)
    assert (run.status, run.poll_id, stored.message_id) == ("sending", stored.id, None), "claimed, not posted"
    assert len(poll_posts(world.fr)) == (1 if die_after_send else 0)
    assert (await world.env.bot.services.calendar.get_plan(plan_id)).status == "done", "never run again"

    # the next start, an hour later: READY's catch-up resumes the occurrence
    later = TOMORROW_9_UTC + timedelta(hours=1)
    await world.env.restart_bot(bot_factory(world.config, clock=at(later)))
    await world.env.settle()
    [posted] = poll_posts(world.fr)
    assert [c.label for c in posted.components[0].children] == ["Visio", "Présentiel"]
    [poll] = await polls_in(sessions)
    [run] = await runs_in(sessions)
    assert (run.status, run.poll_id, poll.id, poll.message_id) == ("posted", stored.id, stored.id, posted.id)
    if die_after_send:  # posted at its time: its deadline stands
        assert poll.deadline_at == stored.deadline_at
    else:  # posted an hour late: it stays open as long as planned
        assert poll.deadline_at == stored.deadline_at + timedelta(hours=1, seconds=-1)
    assert world.env.bot.scheduler.get_job(f"poll-close-{poll.id}") is not None
    vote = await world.member_fr.click(posted, label="Visio")  # the posted message is the poll's
    assert vote.ephemeral and "**Visio**" in vote.response.content
    async with sessions() as session:
        actions = [e.action for e in await session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions.count("calendar.run") == 1 and actions.count("calendar.resume") == 1

    # yet another start: nothing left to resume, nothing posted again
    await world.env.restart_bot(bot_factory(world.config, clock=at(later + timedelta(hours=1))))
    await world.env.settle()
    assert len(poll_posts(world.fr)) == 1
    assert not [j.id for j in world.env.bot.scheduler.get_jobs() if j.id.startswith("calendar-resume-")]
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Poll)) == 1
    assert [r.status for r in await runs_in(sessions)] == ["posted"]
    assert service.resume_job_id(plan_id, run.occurrence_at).startswith("calendar-resume-")
