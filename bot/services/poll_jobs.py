"""The rules behind a poll's scheduled work, without Discord: which jobs an open poll needs,
what start-up must catch up (polls whose deadline passed, reminders that are late), who a
reminder pings, and how Discord's list of a native poll's voters is read.

Pure functions over a poll's plain view (``bot.services.polls.PollView``), and the polls'
declaration for the reconciler (:func:`feature`, ids ``poll-close-<poll id>`` and
``poll-remind-<poll id>`` from ``bot.services.schedule.job_id``): the Discord cog
(``cogs/polls/jobs.py``) hands in what closing and reminding do.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from bot.services.schedule import Feature, JobSpec, job_id, parse_job_id

if TYPE_CHECKING:
    from bot.services.container import Services
    from bot.services.polls import PollView
    from storage.plain import PollTimes

FEATURE = "poll"
JobAction = Literal["close", "remind"]


def close_job_id(poll_id: int) -> str:
    return job_id(FEATURE, "close", poll_id)


def remind_job_id(poll_id: int) -> str:
    return job_id(FEATURE, "remind", poll_id)


def is_poll_job(job_id_: str) -> bool:
    parsed = parse_job_id(job_id_)
    return parsed is not None and parsed.feature == FEATURE


@dataclass(frozen=True)
class PollJob:
    """One ``date`` job of a poll: close it at its deadline, or send its reminder."""

    job_id: str
    action: JobAction
    poll_id: int
    run_at: datetime


def deadline_passed(poll: PollView | PollTimes, now: datetime) -> bool:
    """The poll has a deadline and it has come."""
    return poll.deadline_at is not None and poll.deadline_at <= now


def may_close_now(poll: PollView, now: datetime) -> bool:
    """The deadline job's test: close unless the deadline is still ahead (a job that woke up
    early, e.g. after a clock change, is scheduled again instead)."""
    return poll.deadline_at is None or poll.deadline_at <= now


def reminder_pending(poll: PollView | PollTimes) -> bool:
    return poll.reminder_at is not None and not poll.reminder_sent


def reminder_late(poll: PollView, now: datetime) -> bool:
    """The reminder was due while nobody could send it (the bot was down): send it now."""
    return reminder_pending(poll) and poll.reminder_at <= now  # type: ignore[operator]


def jobs_for(poll: PollView, now: datetime) -> list[PollJob]:
    """The jobs an open poll needs: its deadline, and its reminder while it is still ahead."""
    if not poll.is_open:
        return []
    jobs = []
    if poll.deadline_at is not None:
        jobs.append(PollJob(close_job_id(poll.id), "close", poll.id, poll.deadline_at))
    if reminder_pending(poll) and poll.reminder_at > now:  # type: ignore[operator]
        jobs.append(PollJob(remind_job_id(poll.id), "remind", poll.id, poll.reminder_at))  # type: ignore[arg-type]
    return jobs


@dataclass(frozen=True)
class StartupPlan:
    """What start-up does with the open polls: schedule ``jobs``, close the ``overdue`` polls
    (deadline passed while the bot was down) and send the ``late_reminders``."""

    jobs: tuple[PollJob, ...]
    overdue: tuple[int, ...]
    late_reminders: tuple[int, ...]

    @property
    def job_ids(self) -> set[str]:
        return {job.job_id for job in self.jobs}


def plan_startup(open_polls: Iterable[PollView], now: datetime) -> StartupPlan:
    jobs: list[PollJob] = []
    overdue: list[int] = []
    late: list[int] = []
    for poll in open_polls:
        if deadline_passed(poll, now):
            overdue.append(poll.id)
            continue
        jobs += jobs_for(poll, now)
        if reminder_late(poll, now):
            late.append(poll.id)
    return StartupPlan(tuple(jobs), tuple(overdue), tuple(late))


# ------------------------------------------------------------------------------ the declaration
PollRun = Callable[[int], Awaitable[object]]


def specs_for(poll: PollView | PollTimes, now: datetime, *, close: PollRun, remind: PollRun) -> list[JobSpec]:
    """What an open poll needs, overdue work included (the reconciler runs it): its closing at
    the deadline, and its reminder while pending — unless the deadline has passed (closing
    makes a late reminder pointless)."""
    if not poll.is_open:
        return []
    specs = []
    if poll.deadline_at is not None:
        specs.append(JobSpec(close_job_id(poll.id), poll.deadline_at, functools.partial(close, poll.id)))
    if reminder_pending(poll) and not deadline_passed(poll, now):
        specs.append(JobSpec(remind_job_id(poll.id), poll.reminder_at, functools.partial(remind, poll.id)))  # type: ignore[arg-type]
    return specs


def feature(*, close: PollRun, remind: PollRun) -> Feature:
    """The polls' declaration: ``close(poll_id)`` and ``remind(poll_id)`` are the idempotent
    deadline and reminder jobs (the cog's ``run_deadline`` / ``run_reminder``)."""

    async def plan(services: Services, now: datetime) -> list[JobSpec]:
        return [
            spec for poll in await services.plain.open_polls()  # without SQLAlchemy (storage.plain)
            for spec in specs_for(poll, now, close=close, remind=remind)
        ]

    return Feature(FEATURE, plan)


# ------------------------------------------------------------------------------ reminders
@dataclass(frozen=True)
class ReminderTargets:
    """Who a reminder pings.

    * ``channel``: the poll is open to everyone — the reminder pings nobody;
    * ``roles``: the members of the allowed roles are unknown (no members intent) — the roles
      are pinged, so Discord pings every holder, including those who answered;
    * ``members``: the members of the allowed roles who have not answered (none: no reminder).
    """

    mode: Literal["channel", "roles", "members"]
    roles: tuple[int, ...] = ()
    users: tuple[int, ...] = ()


async def reminder_targets(
    role_ids: Sequence[int],
    role_members: Mapping[int, Collection[int]] | None,
    answered: Callable[[], Awaitable[set[int]]],
    *,
    anonymous: bool = False,
) -> ReminderTargets:
    """``role_members``: the (human) members of each allowed role the bot can see, or ``None``
    when it cannot see members; ``answered`` is read only when it matters.  An anonymous poll
    mentions the roles, never members one by one: who is left out would tell who answered."""
    if not role_ids:
        return ReminderTargets("channel")
    if role_members is None or anonymous:
        return ReminderTargets("roles", roles=tuple(role_ids))
    members = {user_id for role_id in role_ids for user_id in role_members.get(role_id, ())}
    return ReminderTargets("members", users=tuple(sorted(members - await answered())))


# ------------------------------------------------------------------------------ native polls
def native_voters(answers: Iterable[tuple[int, int, Iterable[int]]]) -> tuple[dict[int, set[int]], bool]:
    """Discord's voters of a native poll, per answer ``(answer id, vote count, voter ids)``, as
    ``{member: {answer ids}}`` and whether the list is complete (every answer lists at least as
    many voters as its count).  Stored answers that Discord does not list are removed only
    when it is complete (``PollService.reconcile_native(..., remove_missing=complete)``)."""
    votes: dict[int, set[int]] = {}
    complete = True
    for answer_id, vote_count, voters in answers:
        listed = set(voters)
        complete = complete and len(listed) >= vote_count
        for voter_id in listed:
            votes.setdefault(voter_id, set()).add(answer_id)
    return votes, complete


# ------------------------------------------------------------------------------ closing
def redraw_on_close(changed: bool, *, by_moderator: bool, native: bool) -> bool:
    """Whether closing draws the final results: when it closed the poll, or when a moderator
    closes an already closed poll (a repair after a failed edit) — but not a native poll again,
    whose results are a reply that would be posted twice."""
    return changed or (by_moderator and not native)


def shows_live_counts(poll: PollView) -> bool:
    """Whether the public message's counts are refreshed: an open, posted, non-native poll (the
    closing edit owns a closed poll's message; Discord counts a native poll's votes)."""
    return poll.is_open and not poll.native and poll.message_id is not None
