"""Scheduled work, rebuilt from the database: one job-id scheme, the features' declarations, and
the one reconciler.  Discord-free.

Job ids
    ``<feature>-<action>-<key>``: ``poll-close-12``, ``poll-remind-12``,
    ``announcement-publish-5``, ``announcement-miss-5``, ``extract-slot-monthly``,
    ``extract-catchup-2026-11``, ``delivery-retry-7``, ``privacy-prune-daily``, ``calendar-poll-3``
    and ``calendar-announce-4`` (a planned poll's or a recurring announcement's next occurrence,
    ``bot.services.calendar``), ``calendar-resume-3.1796115600`` (a poll occurrence claimed and
    not posted when the process died).  Built by :func:`job_id` and read back by :func:`parse_job_id`
    — nowhere else.  (Hyphens rather than the custom_id's colons: the poll ids were already
    ``poll-close-<id>``, and tests, logs and runbooks name them.)

Declarations
    A feature is a name and an async ``plan(services, now)`` that reads its rows and returns
    the :class:`JobSpec` each of them needs: an id, when (a UTC ``datetime`` for one run, or an
    APScheduler trigger such as the monthly cron) and what to ``run`` — a no-argument coroutine
    function handed in by whoever can do the work (the Discord cog posts a poll's closing; a
    test may hand in a recorder).  ``plan`` only reads: what a job does is in ``run``, and every
    ``run`` is idempotent (it re-reads its row), so running one twice changes nothing.

The reconciler
    :meth:`Schedule.reconcile` asks every declared feature (or the named ones) for its specs,
    puts the jobs whose time is ahead into the scheduler (replacing any of the same id), removes
    the feature's jobs that no spec asks for any more (a closed poll, a cancelled announcement),
    and — the catch-up — runs once, oldest first, the specs whose time has passed (a deadline
    passed while the bot was down, a late reminder, a late announcement).  The runs change the
    rows, so the next reconcile does not find them again.  The bot calls it when the gateway is
    ready (and on a reconfigure); a feature calls it after each change of its rows, with
    ``catch_up=False`` (the change's own jobs are rebuilt; catching up is the start-up's).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from apscheduler.jobstores.base import JobLookupError
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger

if TYPE_CHECKING:
    from apscheduler.schedulers.base import BaseScheduler

    from bot.services.container import Services

__all__ = [
    "Feature", "JobId", "JobSpec", "Reconciled", "Schedule", "job_id", "parse_job_id", "retention_feature",
]

log = logging.getLogger("reseau.schedule")

#: How far ahead anything may be planned (a post, an announcement, a closing): a year and a day.
MAX_AHEAD = timedelta(days=366)
_WORD = re.compile(r"^[a-z]+$")  # a feature or an action: no separator inside
_KEY = re.compile(r"^[A-Za-z0-9_.:-]+$")
SEPARATOR = "-"
# Set while the reconciler runs overdue work (the runs' tasks inherit it).
_IN_CATCH_UP: contextvars.ContextVar[bool] = contextvars.ContextVar("schedule_in_catch_up", default=False)


# --------------------------------------------------------------------------------------------
# Ids


@dataclass(frozen=True)
class JobId:
    """``<feature>-<action>-<key>``; the key may itself hold hyphens (``2026-11``)."""

    feature: str
    action: str
    key: str

    def __post_init__(self) -> None:
        if not _WORD.match(self.feature) or not _WORD.match(self.action) or not _KEY.match(self.key):
            raise ValueError(f"not a job id: {self.feature!r}, {self.action!r}, {self.key!r}")

    def __str__(self) -> str:
        return SEPARATOR.join((self.feature, self.action, self.key))


def job_id(feature: str, action: str, key: object) -> str:
    """The id of ``feature``'s ``action`` job for ``key`` (a record id, a month…)."""
    return str(JobId(feature, action, str(key)))


def parse_job_id(text: str) -> JobId | None:
    """The parts of an id built by :func:`job_id`; None for any other id."""
    parts = text.split(SEPARATOR, 2)
    if len(parts) != 3:
        return None
    try:
        return JobId(*parts)
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------
# Declarations

Run = Callable[[], Awaitable[object]]


@dataclass(frozen=True)
class JobSpec:
    """One job a row needs.  ``grace``: how late APScheduler may still start it (None: however
    late).  A spec whose ``when`` is a passed ``datetime`` is overdue: the reconciler runs it."""

    id: str
    when: datetime | BaseTrigger
    run: Run = field(compare=False)
    grace: timedelta | None = None

    def due(self, now: datetime) -> bool:
        return isinstance(self.when, datetime) and self.when <= now

    @property
    def feature(self) -> str:
        parsed = parse_job_id(self.id)
        if parsed is None:
            raise ValueError(f"{self.id!r} is not built by schedule.job_id")
        return parsed.feature


Plan = Callable[["Services", datetime], Awaitable[Iterable[JobSpec]]]


@dataclass(frozen=True)
class Feature:
    """A feature's declaration: its name (the ids' first part) and how its rows become specs."""

    name: str
    plan: Plan


@dataclass
class Reconciled:
    """What one :meth:`Schedule.reconcile` did, by job id."""

    scheduled: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    caught_up: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


Track = Callable[[Coroutine[Any, Any, Any], str], Awaitable[Any]]


# --------------------------------------------------------------------------------------------
# The reconciler


class Schedule:
    """The scheduler's jobs as the declared features' rows say.

    ``track(coro, name)`` wraps every run (the bot's ``track``, so that closing waits for a run
    in progress); by default a run is simply awaited.  ``clock`` defaults to the container's."""

    def __init__(
        self,
        scheduler: BaseScheduler,
        services: Services,
        *,
        clock: Callable[[], datetime] | None = None,
        track: Track | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.services = services
        self.clock = clock or services.now
        self._track = track
        self._features: dict[str, Feature] = {}
        self._sync_lock = asyncio.Lock()
        self._catch_up_lock = asyncio.Lock()
        # False in a process that is not the scheduler's leader (``bot.processes``): it keeps no
        # jobs, and what would change them is handed to ``on_inactive(features)`` (the leader's).
        self.active = True
        self.on_inactive: Callable[[set[str]], object] | None = None

    def _hand_over(self, features: Iterable[str]) -> None:
        names = set(features)
        if names and self.on_inactive is not None:
            self.on_inactive(names)

    # ---------------------------------------------------------------- declarations
    def declare(self, *features: Feature) -> None:
        """Add (or replace) features; their jobs appear at the next :meth:`reconcile`."""
        for feature in features:
            if not _WORD.match(feature.name):
                raise ValueError(f"feature name {feature.name!r}: lower-case letters only")
            self._features[feature.name] = feature

    def withdraw(self, name: str) -> None:
        """Forget a feature and drop its jobs (its cog is unloaded: the runs point at it)."""
        self._features.pop(name, None)
        self.remove(name)

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(self._features)

    def job_ids(self, feature: str | None = None) -> set[str]:
        """The ids in the scheduler that follow the scheme (of ``feature`` when given)."""
        ids = set()
        for job in self.scheduler.get_jobs():
            parsed = parse_job_id(job.id)
            if parsed is not None and (feature is None or parsed.feature == feature):
                ids.add(job.id)
        return ids

    # ---------------------------------------------------------------- the scheduler, directly
    def put(self, specs: Iterable[JobSpec]) -> list[str]:
        """Put the jobs of specs whose time is ahead (one record just written, without reading
        the database again); overdue specs are the reconciler's catch-up.  Returns their ids."""
        if not self.active:
            self._hand_over(spec.feature for spec in specs)
            return []
        now = self.clock()
        return [self._add(spec) for spec in specs if not spec.due(now)]

    def remove(self, feature: str, key: object | None = None) -> list[str]:
        """Drop ``feature``'s jobs (those of one record when ``key`` is given)."""
        removed = []
        for job in self.scheduler.get_jobs():
            parsed = parse_job_id(job.id)
            if parsed is None or parsed.feature != feature or (key is not None and parsed.key != str(key)):
                continue
            self._drop(job.id)
            removed.append(job.id)
        return removed

    def _add(self, spec: JobSpec) -> str:
        trigger = DateTrigger(run_date=spec.when) if isinstance(spec.when, datetime) else spec.when
        self.scheduler.add_job(
            # a partial, so that job.func() is what APScheduler calls, with nothing else to pass
            functools.partial(self._fire, spec.id, spec.run),
            trigger=trigger,
            id=spec.id,
            name=spec.id,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None if spec.grace is None else max(1, int(spec.grace.total_seconds())),
        )
        return spec.id

    def _drop(self, job_id_: str) -> None:
        try:
            self.scheduler.remove_job(job_id_)
        except JobLookupError:
            pass

    async def _fire(self, job_id_: str, run: Run) -> None:
        """What APScheduler runs.  Its executor cancels the jobs running when the scheduler is
        shut down (SIGTERM): the run itself, tracked, is shielded from that and finishes as the
        bot's in-flight work (a fan-out under way sends its rows within the close's grace); the
        job ends here with one line instead of APScheduler's error and traceback."""
        try:
            await self._run(job_id_, run)
        except asyncio.CancelledError:
            if self._track is not None:
                log.info("scheduler stopped while %s ran: it finishes as in-flight work", job_id_)
            else:
                log.warning("scheduler stopped while %s ran: interrupted, the rest waits for the next start", job_id_)

    async def _run(self, job_id_: str, run: Run) -> bool:
        try:
            coro = run()
            if self._track is not None:
                # shielded: cancelling the caller (the scheduler's shutdown) leaves the run going
                await asyncio.shield(self._track(coro, job_id_))  # type: ignore[arg-type]
            else:
                await coro
            return True
        except Exception:
            log.exception("scheduled job %s failed", job_id_)
            return False

    # ---------------------------------------------------------------- the one reconciler
    async def reconcile(self, *features: str, catch_up: bool = True) -> Reconciled:
        """Rebuild the jobs of ``features`` (default: every declared one) from the database, drop
        the stale ones and, with ``catch_up``, run the overdue ones once, oldest first.

        Without ``catch_up`` an overdue spec is left as it is (its job, if any, stays).  Two
        catching-up reconciles never overlap (the second waits, then finds the rows changed);
        one without catch-up only waits for another's reading of the rows, never for its runs.
        Called from inside a catch-up run (a run that reconciles its feature again), it does
        not catch up: the run in progress is that catch-up."""
        if not self.active:
            self._hand_over(features or self._features)
            return Reconciled()
        if catch_up and _IN_CATCH_UP.get():
            catch_up = False
        if not catch_up:
            result, _ = await self._sync(features, catch_up=False)
            return result
        async with self._catch_up_lock:
            result, overdue = await self._sync(features, catch_up=True)
            token = _IN_CATCH_UP.set(True)
            try:
                for spec in sorted(overdue, key=lambda spec: spec.when):  # type: ignore[arg-type, return-value]
                    ok = await self._run(spec.id, spec.run)
                    (result.caught_up if ok else result.failed).append(spec.id)
            finally:
                _IN_CATCH_UP.reset(token)
        return result

    async def _sync(self, features: tuple[str, ...], *, catch_up: bool) -> tuple[Reconciled, list[JobSpec]]:
        """Put the specs' jobs, drop the stale ones; return the overdue specs to run (with
        ``catch_up``: their jobs are dropped, they run now rather than when the scheduler wakes)."""
        result = Reconciled()
        overdue: list[JobSpec] = []
        async with self._sync_lock, self.services.plain.one_connection():  # the features' reads: one connection
            now = self.clock()
            for name in features or tuple(self._features):
                feature = self._features.get(name)
                if feature is None:
                    continue  # not declared in this process (its cog is not loaded)
                wanted: set[str] = set()
                for spec in await feature.plan(self.services, now):
                    if spec.feature != name:
                        raise ValueError(f"feature {name!r} declared a job of another feature: {spec.id}")
                    wanted.add(spec.id)
                    if not spec.due(now):
                        result.scheduled.append(self._add(spec))
                    elif catch_up:
                        self._drop(spec.id)
                        overdue.append(spec)
                for stale in sorted(self.job_ids(name) - wanted):
                    self._drop(stale)
                    result.removed.append(stale)
        return result, overdue


# --------------------------------------------------------------------------------------------
# Retention: the running bot applies privacy.retention_days itself, every day

PRIVACY_FEATURE = "privacy"
PRUNE_JOB_ID = job_id(PRIVACY_FEATURE, "prune", "daily")
PRUNE_HOUR = 4  # 04:00 in the bot's time zone (bot.timezone), when the network is asleep


def retention_feature() -> Feature:
    """One ``privacy-prune-daily`` job: ``services.profiles.prune()`` (answers and profiles
    older than ``privacy.retention_days``; it writes its own audit entry).  ``reseau-bot prune``
    stays for operators.  A run missed while the bot was down is not caught up: the next day's
    deletes the same rows and more."""

    async def prune(services: Services) -> None:
        result = await services.profiles.prune()
        log.info(
            "retention (%d days): deleted %d answers and %d profiles older than %s",
            result.retention_days, result.answers, result.profiles, result.cutoff.isoformat(timespec="seconds"),
        )

    async def plan(services: Services, now: datetime) -> list[JobSpec]:
        trigger = CronTrigger(hour=PRUNE_HOUR, minute=0, timezone=services.config.tz)
        return [JobSpec(PRUNE_JOB_ID, trigger, functools.partial(prune, services), grace=timedelta(hours=6))]

    return Feature(PRIVACY_FEATURE, plan)
