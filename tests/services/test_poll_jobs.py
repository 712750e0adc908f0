"""The rules of a poll's scheduled work (``bot/services/poll_jobs.py``), alone: which jobs, what
start-up catches up, who a reminder pings, how Discord's native-poll voters are read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from bot.services import poll_jobs

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def poll(poll_id: int = 1, **changes):
    fields = dict(
        id=poll_id, is_open=True, native=False, message_id=5, deadline_at=None, reminder_at=None, reminder_sent=False
    )
    fields.update(changes)
    return SimpleNamespace(**fields)


def test_jobs_for_an_open_poll():
    assert poll_jobs.jobs_for(poll(), NOW) == []
    jobs = poll_jobs.jobs_for(poll(3, deadline_at=NOW + 2 * HOUR, reminder_at=NOW + HOUR), NOW)
    assert [(j.job_id, j.action, j.run_at) for j in jobs] == [
        ("poll-close-3", "close", NOW + 2 * HOUR),
        ("poll-remind-3", "remind", NOW + HOUR),
    ]
    # a reminder already sent, or due in the past, is no job; a closed poll has none
    assert [j.action for j in poll_jobs.jobs_for(poll(deadline_at=NOW + HOUR, reminder_at=NOW - HOUR), NOW)] == [
        "close"
    ]
    assert poll_jobs.jobs_for(poll(reminder_at=NOW + HOUR, reminder_sent=True), NOW) == []
    assert poll_jobs.jobs_for(poll(is_open=False, deadline_at=NOW + HOUR), NOW) == []
    assert all(poll_jobs.is_poll_job(j) for j in ("poll-close-1", "poll-remind-9"))
    assert not poll_jobs.is_poll_job("announcement-1")


def test_startup_closes_overdue_polls_and_sends_late_reminders():
    polls = [
        poll(1, deadline_at=NOW - HOUR, reminder_at=NOW - 2 * HOUR),  # overdue: closed, no reminder
        poll(2, deadline_at=NOW + HOUR, reminder_at=NOW - HOUR),  # late reminder, deadline job
        poll(3, deadline_at=NOW + 2 * HOUR, reminder_at=NOW + HOUR),  # two jobs
        poll(4, reminder_at=NOW - HOUR, reminder_sent=True),  # nothing
    ]
    plan = poll_jobs.plan_startup(polls, NOW)
    assert plan.overdue == (1,)
    assert plan.late_reminders == (2,)
    assert plan.job_ids == {"poll-close-2", "poll-close-3", "poll-remind-3"}


def test_deadline_job_closes_only_when_due():
    assert poll_jobs.may_close_now(poll(deadline_at=NOW), NOW)
    assert poll_jobs.may_close_now(poll(), NOW)
    assert not poll_jobs.may_close_now(poll(deadline_at=NOW + HOUR), NOW)


async def test_reminder_targets():
    asked = []

    async def answered():
        asked.append(True)
        return {11}

    everyone = await poll_jobs.reminder_targets((), {1: [11]}, answered)
    assert everyone.mode == "channel" and not asked
    roles = await poll_jobs.reminder_targets((7, 8), None, answered)
    assert (roles.mode, roles.roles) == ("roles", (7, 8)) and not asked
    members = await poll_jobs.reminder_targets((7, 8), {7: [13, 11], 8: [12, 13]}, answered)
    assert (members.mode, members.users) == ("members", (12, 13)) and asked
    none_left = await poll_jobs.reminder_targets((7,), {7: [11]}, answered)
    assert none_left.users == ()


def test_native_voters_and_completeness():
    votes, complete = poll_jobs.native_voters([(1, 2, [10, 11]), (2, 1, [11])])
    assert votes == {10: {1}, 11: {1, 2}} and complete
    _, partial = poll_jobs.native_voters([(1, 3, [10, 11]), (2, 0, [])])
    assert not partial


def test_closing_redraws_and_live_counts():
    assert poll_jobs.redraw_on_close(True, by_moderator=False, native=True)
    assert poll_jobs.redraw_on_close(False, by_moderator=True, native=False)
    assert not poll_jobs.redraw_on_close(False, by_moderator=True, native=True)
    assert not poll_jobs.redraw_on_close(False, by_moderator=False, native=False)
    assert poll_jobs.shows_live_counts(poll())
    assert not poll_jobs.shows_live_counts(poll(native=True))
    assert not poll_jobs.shows_live_counts(poll(is_open=False))
    assert not poll_jobs.shows_live_counts(poll(message_id=None))


def test_the_polls_declaration_includes_overdue_work_for_the_reconciler():
    async def close(poll_id):
        return ("close", poll_id)

    async def remind(poll_id):
        return ("remind", poll_id)

    def specs(p):
        return [(s.id, s.when, s.due(NOW)) for s in poll_jobs.specs_for(p, NOW, close=close, remind=remind)]

    # overdue deadline: closing only (a late reminder before closing would be noise)
    assert specs(poll(1, deadline_at=NOW - HOUR, reminder_at=NOW - 2 * HOUR)) == [("poll-close-1", NOW - HOUR, True)]
    # late reminder with the deadline ahead: both, the reminder due now
    assert specs(poll(2, deadline_at=NOW + HOUR, reminder_at=NOW - HOUR)) == [
        ("poll-close-2", NOW + HOUR, False), ("poll-remind-2", NOW - HOUR, True)
    ]
    assert specs(poll(3, is_open=False, deadline_at=NOW + HOUR)) == []
    assert specs(poll(4, reminder_at=NOW + HOUR, reminder_sent=True)) == []
    [spec] = poll_jobs.specs_for(poll(5, deadline_at=NOW + HOUR), NOW, close=close, remind=remind)
    assert spec.feature == "poll"
