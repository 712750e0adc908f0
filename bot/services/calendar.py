"""The moderators' calendar: what is planned ahead, and the work it does at its time.  Discord-free.

Plans (``calendar_plans``)
    A poll posted later (``/poll create start:…``), a poll that repeats (a *series*: each
    occurrence is its own poll, read back through ``calendar_runs``), or an announcement that
    repeats (each occurrence a new announcement row, delivered through the outbox).  A plan
    holds its first occurrence (``start_at``), its next one (``next_at``) and, when it
    repeats, its rule: ``weekly``, ``monthly`` (the start's weekday or day of the month, at
    the start's local time) or a five-field cron line (``0 9 * * thu``), in ``bot.timezone``.
    A series begins at its rule's first time at or after the start typed: « lundi 9 h » with
    ``0 9 * * thu`` stores and shows that week's Thursday 9:00 (:func:`first_occurrence`).
    (Series planned before that rule kept the start typed, which the reply had shown: their
    rows are left as they are — ``start_at`` only anchors ``weekly`` and ``monthly``.)

Exactly once
    An occurrence is claimed by inserting ``(plan, occurrence)`` in ``calendar_runs`` (its
    primary key) in the transaction that moves the plan to its following occurrence; only
    then is anything posted.  A recurring announcement's occurrence writes its announcement
    row and its pending deliveries in that same transaction, so a process killed right after
    still delivers it (the outbox's start-up resume) and never twice.  A poll's occurrence is
    written in the claim's transaction too (its poll row, no message yet: run ``claimed``);
    the run is ``sending`` before the first request, whose nonce is derived from the
    occurrence, then ``posted``.  A process killed in between leaves the run ``claimed`` or
    ``sending``: the next READY's catch-up resumes it (``calendar-resume-…``), looking in the
    channel for the bot's message of that poll before sending — posted once, never lost.

Clock changes
    A series keeps its local time.  The night clocks go back, a local time that happens twice
    is one occurrence, the first (02:30+02:00, not 02:30+01:00 an hour later); a time skipped
    when they go forward is posted an hour later, once (02:30 → 03:30).  A one-off start in the
    skipped hour is refused when typed (:func:`parse_start`).

Catch-up
    The reconciler (``bot.services.schedule``) runs a plan whose ``next_at`` passed while the
    bot was down once; missed occurrences of a series collapse into that one (the following
    occurrence is the first after *now*).

The calendar
    :meth:`CalendarService.upcoming` lists everything planned — the next extract slot,
    scheduled announcements, planned polls and series, recurring announcements, poll
    reminders and closings — as plain :class:`CalendarEntry` rows in time order (the slash
    command, the CLI and the dashboard render them).  Each entry has a reference
    (``plan-3``, ``announcement-5``, ``poll-7``) that :meth:`cancel` and :meth:`postpone` take.
"""

from __future__ import annotations

import csv
import functools
import io
import logging
import re
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from bot.config import Config
from bot.cron import scheduler_cron
from bot.errors import Conflict, InvalidInput, NotFound
from bot.services import announcements as announcements_service
from bot.services import extracts as extracts_service
from bot.services.authority import NotNetworkModerator
from bot.services.delivery import Publisher, make_nonce, write_deliveries
from bot.services.polls import PollDraft, PollService, PollView, parse_duration
from bot.services.polls.drafts import in_whole_days, parse_deadline
from bot.services.polls.kinds import kind_of
from bot.services.privacy import Forgotten
from bot.services.schedule import MAX_AHEAD, Feature, JobSpec, job_id
from storage.values import (
    ANNOUNCEMENT_DRAFT,
    ANNOUNCEMENT_PUBLISHED,
    PLAN_ACTIVE,
    PLAN_CANCELLED,
    RUN_CLAIMED,
    RUN_FAILED,
    RUN_MISSED,
    RUN_POSTED,
    RUN_SENDING,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from bot.services.container import Services
    from storage import models

__all__ = [
    "CalendarEntry", "CalendarHook", "CalendarService", "PlanView", "RunOutcome", "SeriesOccurrence", "TemplateView",
    "check_rule", "feature", "first_occurrence", "parse_recurrence", "parse_start", "plan_number",
]

log = logging.getLogger("reseau.calendar")

FEATURE = "calendar"
KIND_POLL = "poll"
KIND_ANNOUNCEMENT = "announcement"
ANNOUNCEMENT_RECURRING = announcements_service.ANNOUNCEMENT_RECURRING  # a recurring plan's model
RESUME_SLACK = timedelta(minutes=1)  # a resumed poll's deadline moves by the time lost beyond this
TEMPLATE_NAME_MAX = 100
# what a planned poll keeps of /poll create's input (the rest is the plan's columns)
POLL_FIELDS = (
    "question", "options", "kind", "max_choices", "anonymous", "live_results", "deadline", "reminder",
    "role_ids", "native", "lang", "campaign_id",
)


def resume_job_id(plan_id: int, occurrence: datetime) -> str:
    return job_id(FEATURE, "resume", f"{plan_id}.{int(occurrence.timestamp())}")


def occurrence_nonce(plan_id: int, channel_id: int, occurrence: datetime) -> str:
    """The nonce an occurrence's poll message is sent with (the same at every attempt)."""
    return make_nonce("calendar", plan_id, channel_id, occurrence)


# (the occurrence's poll, its nonce, whether an earlier attempt may have sent it) → message id
PostOccurrence = Callable[[PollView, str, bool], Awaitable[int]]


def poll_job_id(plan_id: int) -> str:
    return job_id(FEATURE, "poll", plan_id)


def announce_job_id(plan_id: int) -> str:
    return job_id(FEATURE, "announce", plan_id)


# --------------------------------------------------------------------------------------------
# What people type: a start ("demain 9 h") and a repetition ("weekly")

_DAY_WORDS = {
    "aujourd'hui": 0, "aujourdhui": 0, "today": 0,
    "demain": 1, "tomorrow": 1,
    "apres-demain": 2, "apres demain": 2,
}
_WEEKDAYS = {
    "lundi": 0, "mardi": 1, "mercredi": 2, "jeudi": 3, "vendredi": 4, "samedi": 5, "dimanche": 6,
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6,
}
_TIME = re.compile(r"^(?:a\s+|at\s+)?(\d{1,2})\s*(?:h|:|heures?)\s*(\d{2})?$|^(?:at\s+)?(\d{1,2})(?::(\d{2}))?\s*(am|pm)$")
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$|^(\d{1,2})/(\d{1,2})(?:/(\d{4}))?$")
_IN = re.compile(r"^(?:dans|in)\s+(.+)$")


def _fold(text: str) -> str:
    """Lower case, no accents, one space, typographic apostrophes made plain."""
    text = unicodedata.normalize("NFKD", text.replace("’", "'").lower())
    return " ".join("".join(c for c in text if not unicodedata.combining(c)).split())


def _parse_time(text: str) -> time | None:
    match = _TIME.match(text.strip())
    if not match:
        return None
    if match.group(1) is not None:
        hour, minute = int(match.group(1)), int(match.group(2) or 0)
    else:
        hour, minute = int(match.group(3)) % 12, int(match.group(4) or 0)
        hour += 12 if match.group(5) == "pm" else 0
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def _parse_day(text: str, today: date) -> date | None:
    if text in _DAY_WORDS:
        return today + timedelta(days=_DAY_WORDS[text])
    if text in _WEEKDAYS:  # the next such day, today included (parse_start moves a passed time a week on)
        return today + timedelta(days=(_WEEKDAYS[text] - today.weekday()) % 7)
    match = _DATE.match(text)
    if not match:
        return None
    try:
        if match.group(1):
            return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        day, month = int(match.group(4)), int(match.group(5))
        year = int(match.group(6)) if match.group(6) else today.year
        found = date(year, month, day)
        return found if match.group(6) or found >= today else date(year + 1, month, day)
    except ValueError:  # written as a date, but no such day (« 2027-02-30 »): said as such
        raise InvalidInput("calendar.error.no_such_date", value=text) from None


def _local_to_utc(day: date, at: time, tz: ZoneInfo, typed: str) -> datetime:
    local = datetime.combine(day, at, tzinfo=tz)
    utc = local.astimezone(UTC)
    if utc.astimezone(tz).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise InvalidInput("calendar.error.time_gap", value=typed)
    return utc


def _after(duration: timedelta, typed: str, *, now: datetime, tz: ZoneInfo) -> datetime:
    """``now`` + a duration.  Typed in days or weeks only (« dans 1 semaine », « 3j »), the
    local wall time is kept across a clock change (08:00 stays 08:00); in hours or minutes it
    is elapsed time."""
    if not in_whole_days(typed):
        return now + duration
    local = now.astimezone(tz)
    wall = local.replace(tzinfo=None) + duration
    return wall.replace(tzinfo=tz).astimezone(UTC)


def parse_start(text: str, *, now: datetime, tz: ZoneInfo) -> datetime:
    """When a moderator wants something to happen, in ``tz`` → aware UTC, in the future and at
    most a year ahead.  Understood: ``demain 9 h``, ``demain 9h30``, ``aujourd’hui 18:00``,
    ``jeudi 9 h`` (today when it is Thursday and 9:00 is still ahead, else next week's),
    ``tomorrow 9am``, ``2026-12-03 09:00``, ``03/12/2026 9h``, ``03/12 9 h``; a time alone
    (``14h``, ``14 h``, ``9h30``, ``14:00``, ``2pm``) is today at that time, tomorrow when it
    has passed; a duration is ``dans 2 h`` / ``in 3d``, or a bare one whose unit is not a time
    of day (``90m``, ``3j``, ``1 semaine``).  Raises :class:`InvalidInput`."""
    typed = " ".join((text or "").split())[:60]
    value = _fold(typed).replace(" a ", " ").replace(" at ", " ")
    if not value:
        raise InvalidInput("calendar.error.start_format", value=typed, tz=str(tz))
    today = now.astimezone(tz).date()
    within = _IN.match(value)
    at_alone = None if within else _parse_time(value)
    when: datetime | None = None
    if at_alone is not None:  # « 14h »: a time of day, not fourteen hours from now
        when = _local_to_utc(today, at_alone, tz, typed)
        if when <= now:
            when = _local_to_utc(today + timedelta(days=1), at_alone, tz, typed)
    elif (duration := parse_duration(within.group(1) if within else value)) is not None:
        when = _after(duration, within.group(1) if within else value, now=now, tz=tz)
    elif within is None:
        for split in range(len(value), 0, -1):  # the longest day phrase, then the time
            phrase = value[:split].strip()
            day = _parse_day(phrase, today)
            if day is None:
                continue
            rest = value[split:].strip()
            at = _parse_time(rest) if rest else None
            if at is not None:
                when = _local_to_utc(day, at, tz, typed)
                if when <= now and phrase in _WEEKDAYS:  # « mardi 9 h » on a Tuesday at 10:00: next week's
                    when = _local_to_utc(day + timedelta(days=7), at, tz, typed)
            break
        if when is None and "t" in value and value[:4].isdigit():  # 2026-12-03T09:00
            day_part, _, time_part = value.partition("t")
            day, at = _parse_day(day_part, today), _parse_time(time_part)
            if day is not None and at is not None:
                when = _local_to_utc(day, at, tz, typed)
    if when is None:
        raise InvalidInput("calendar.error.start_format", value=typed, tz=str(tz))
    if when <= now:
        raise InvalidInput("calendar.error.start_past", value=typed)
    if when - now > MAX_AHEAD:
        raise InvalidInput("calendar.error.start_too_far", days=MAX_AHEAD.days)
    return when


_WEEKLY = {"weekly", "hebdo", "hebdomadaire", "chaque semaine", "every week", "semaine", "week"}
_MONTHLY = {"monthly", "mensuel", "mensuelle", "chaque mois", "every month", "mois", "month"}


MONTHLY_LAST_DAY = 28  # a monthly rule's day exists in every month


def parse_recurrence(text: str | None) -> str | None:
    """``weekly`` / ``monthly`` (French words too) or a five-field cron line → the stored rule
    (a cron line's day of the week in names: ``0 9 * * 4`` → ``0 9 * * thu``, Thursday as in
    any cron); None for nothing typed.  A cron line that comes back more than once a day (more
    than one minute or hour) is refused.  Raises :class:`InvalidInput`."""
    value = _fold(text or "")
    if not value:
        return None
    if value in _WEEKLY:
        return "weekly"
    if value in _MONTHLY:
        return "monthly"
    if len(value.split()) == 5:
        try:
            line = scheduler_cron(value)
            CronTrigger.from_crontab(line, timezone=UTC)
        except ValueError:
            pass
        else:
            minute, hour = value.split()[:2]
            if not (minute.isdigit() and hour.isdigit()):
                raise InvalidInput("calendar.error.too_often", value=(text or "").strip()[:60])
            return line
    raise InvalidInput("calendar.error.recurrence", value=(text or "").strip()[:60])


def check_rule(recurrence: str | None, start_at: datetime, tz: ZoneInfo) -> None:
    """A monthly rule repeats its start's day of the month: refused after the 28th (a month
    without that day would be skipped: from the 31st, seven months a year)."""
    if recurrence == "monthly" and (day := start_at.astimezone(tz).day) > MONTHLY_LAST_DAY:
        raise InvalidInput("calendar.error.monthly_day", day=day, last=MONTHLY_LAST_DAY)


def trigger_of(recurrence: str, start_at: datetime, tz: ZoneInfo) -> CronTrigger:
    """The rule as APScheduler's cron, at the start's local time (weekly: its weekday;
    monthly: its day of the month, 28th at most); a cron line's day of the week is read as any
    cron reads it (Sunday 0 or 7), also in a rule stored before it was kept in names."""
    local = start_at.astimezone(tz)
    if recurrence == "weekly":
        return CronTrigger(day_of_week=local.weekday(), hour=local.hour, minute=local.minute, timezone=tz)
    if recurrence == "monthly":
        return CronTrigger(day=local.day, hour=local.hour, minute=local.minute, timezone=tz)
    return CronTrigger.from_crontab(scheduler_cron(recurrence), timezone=tz)


def repeated_wall_time(when: datetime, tz: ZoneInfo) -> bool:
    """Whether ``when`` is the second of two moments with the same local time: the hour that
    happens twice when clocks go back (02:30+01:00 on the last Sunday of October in Paris, after
    02:30+02:00)."""
    local = when.astimezone(UTC).astimezone(tz)  # zoneinfo sets fold=1 on the repeated hour
    return local.fold == 1 and local.replace(fold=0).utcoffset() != local.utcoffset()


def next_occurrence(recurrence: str | None, start_at: datetime, after: datetime, tz: ZoneInfo) -> datetime | None:
    """The first occurrence strictly after ``after`` (None for a one-off).

    One occurrence per local time: on the night clocks go back, APScheduler's cron fires at
    both 02:30s, and each would be its own occurrence (its own claim in ``calendar_runs``), so
    the second one is skipped — the first, as ``parse_start`` reads an ambiguous time.  A time
    in the hour skipped in spring (02:30 on the last Sunday of March) is APScheduler's: the
    same offset as before the change, i.e. 03:30 local time, once."""
    if recurrence is None:
        return None
    trigger = trigger_of(recurrence, start_at, tz)
    start = after + timedelta(seconds=1)
    while True:
        following = trigger.get_next_fire_time(None, start)
        if following is None:
            return None
        following = following.astimezone(UTC)  # (in UTC: local arithmetic would lose the fold)
        if not repeated_wall_time(following, tz):
            return following.replace(second=0, microsecond=0)
        start = following + timedelta(seconds=1)


def first_occurrence(recurrence: str | None, start: datetime, tz: ZoneInfo) -> datetime | None:
    """A plan's first occurrence from the ``start`` a moderator typed.  A one-off, ``weekly`` and
    ``monthly`` (rules read from the start itself: its weekday or day, its local time) begin at
    the start.  A cron line begins at its own first time at or after the start's minute: started
    « lundi 9 h » with ``0 9 * * thu``, the first post is that week's Thursday at 9:00, not the
    Monday.  Counted as :func:`next_occurrence` counts (the repeated local hour of the night
    clocks go back is not an occurrence again).  None: the line never comes (``0 9 31 2 *``)."""
    if recurrence is None or recurrence in ("weekly", "monthly"):
        return start
    return next_occurrence(recurrence, start, start.replace(second=0, microsecond=0) - timedelta(seconds=1), tz)


def plan_number(ref: str) -> int:
    """The plan id in ``plan-3`` (a series' reference, a bare ``3`` too); :class:`InvalidInput`
    otherwise."""
    text = (ref or "").strip()
    kind, number = CalendarService._ref(f"plan-{text}" if text.isdigit() else text)
    if kind != "plan":  # a series is a plan: say so (not the calendar's every kind of reference)
        raise InvalidInput("calendar.error.bad_series_ref", value=text[:40])
    return number


# --------------------------------------------------------------------------------------------
# Plain results


@dataclass(frozen=True)
class PlanView:
    id: int
    kind: str
    guild_id: int
    channel_id: int | None
    title: str
    recurrence: str | None
    start_at: datetime
    next_at: datetime | None
    status: str
    # the start as typed, when the series' rule first comes later (its first time at or after it)
    typed_at: datetime | None = None

    @property
    def ref(self) -> str:
        return f"plan-{self.id}"

    @property
    def recurring(self) -> bool:
        return self.recurrence is not None


def _plan_view(plan: models.CalendarPlan, *, typed: datetime | None = None) -> PlanView:
    """``typed``: the start as typed at planning, kept when the series' first time differs from it
    (to the minute: « dans 2 h » has seconds, which a cron line's time has not)."""
    moved = (typed is not None and plan.recurrence is not None
             and typed.replace(second=0, microsecond=0) != plan.start_at.replace(second=0, microsecond=0))
    return PlanView(
        plan.id, plan.kind, plan.guild_id, plan.channel_id, plan.title, plan.recurrence, plan.start_at,
        plan.next_at, plan.status, typed if moved else None,
    )


@dataclass(frozen=True)
class CalendarEntry:
    """One thing planned.  ``what``: ``extract`` (the monthly slot and the extract it will post,
    one entry per language), ``extract_none`` (the slot has nothing due for its month),
    ``announcement``, ``poll`` (a poll posted later), ``series`` (a recurring poll's next occurrence), ``recurring_announcement``,
    ``reminder``, ``closing``.  ``ref`` is what cancel/postpone take (None: not movable here)."""

    when: datetime
    what: str
    title: str
    ref: str | None
    channel_id: int | None = None
    recurrence: str | None = None


def _reason(exc: BaseException) -> str:
    """What a failed run stores: a domain error's catalogue key, else the error's text."""
    return str(getattr(exc, "key", None) or f"{type(exc).__name__}: {exc}")


@dataclass(frozen=True)
class RunOutcome:
    plan_id: int
    occurrence_at: datetime
    poll_id: int | None = None
    announcement_id: int | None = None
    error: str | None = None  # what the run stores: the error's catalogue key, else its text
    cause: BaseException | None = field(default=None, compare=False, repr=False)  # to say it to moderators


@dataclass(frozen=True)
class SeriesOccurrence:
    occurrence_at: datetime
    poll_id: int
    status: str
    respondents: int
    counts: tuple[tuple[str, str, int], ...]  # (option code, label, count)


@dataclass(frozen=True)
class TemplateView:
    name: str
    question: str
    kind: str
    created_at: datetime


def poll_payload(poll: PollView) -> dict[str, Any]:
    """What ``/poll create`` would need to re-create ``poll`` (question, options, kind,
    settings), without its deadline nor its campaign: a new poll goes to the campaign current
    when it is made, as any /poll create.  A survey is refused (its questions are typed in a modal)."""
    if poll.is_survey:
        raise InvalidInput("calendar.error.survey")
    spec = kind_of(poll.kind)
    return {
        "question": poll.question,
        "options": "\n".join(o.label for o in poll.options) if spec.options.free else None,
        "kind": poll.kind,
        "max_choices": poll.max_choices if spec.multiple else None,
        "anonymous": poll.anonymous,
        "live_results": poll.live_results,
        "role_ids": list(poll.allowed_role_ids),
        "native": poll.native,
        "lang": poll.lang,
    }


# --------------------------------------------------------------------------------------------
# The service


class CalendarService:
    """Plans, their runs, templates and the calendar.  Built once in the container."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        polls: PollService,
        config: Config,
        *,
        clock: Callable[[], datetime],
    ) -> None:
        self.sessions = sessions
        self.polls = polls
        self.config = config
        self.clock = clock
        # occurrences being posted by this process (a READY's catch-up must not resume them)
        self._in_flight: set[tuple[int, datetime]] = set()

    @property
    def tz(self) -> ZoneInfo:
        return self.config.tz

    def configure(self, config: Config) -> None:
        self.config = config

    # ---------------------------------------------------------------- planning polls
    def check_poll(self, *, guild_id: int, channel_id: int, author_id: int, payload: dict[str, Any]) -> PollDraft:
        """The poll as it would be posted now (raises :class:`InvalidInput` like /poll create)."""
        fields = {key: value for key, value in payload.items() if key in POLL_FIELDS}
        fields["role_ids"] = tuple(fields.get("role_ids") or ())
        return self.polls.prepare(guild_id=guild_id, channel_id=channel_id, author_id=author_id, **fields)

    async def plan_poll(
        self,
        *,
        guild_id: int,
        channel_id: int,
        author_id: int,
        payload: dict[str, Any],
        start: str | None,
        repeat: str | None = None,
        channel_label: str | None = None,
    ) -> PlanView:
        """Store a poll to post at ``start`` (typed in the bot's time zone), once or repeating
        ``repeat`` — a series from its rule's first time at or after ``start`` (a cron line's
        Thursday when ``start`` is a Monday: :func:`first_occurrence`), stored as the plan's
        ``start_at`` and ``next_at``.  Everything is checked now, as /poll create would (a
        series' deadline must be a duration: each occurrence has its own)."""
        from storage import models
        from storage.repositories import AuditRepository
        from storage.repositories.calendar import CalendarRepository

        now = self.clock()
        recurrence = parse_recurrence(repeat)
        if start is None or not start.strip():
            raise InvalidInput("calendar.error.start_missing")
        typed = parse_start(start, now=now, tz=self.tz)
        start_at = self._first(recurrence, typed, now)
        draft = self.check_poll(guild_id=guild_id, channel_id=channel_id, author_id=author_id, payload=payload)
        self._check_deadline(payload, start_at, recurrence)
        stored = {key: value for key, value in payload.items() if key in POLL_FIELDS}
        stored["role_ids"] = list(stored.get("role_ids") or ())
        plan = models.CalendarPlan(
            kind=KIND_POLL, guild_id=guild_id, channel_id=channel_id, author_id=author_id,
            title=draft.title or draft.question, payload=stored, recurrence=recurrence, start_at=start_at,
            next_at=start_at, status=PLAN_ACTIVE, created_at=now, updated_at=now,
        )
        async with self.sessions.begin() as session:
            CalendarRepository(session).add(plan)
            await session.flush()
            AuditRepository(session).record(
                "calendar.plan", actor_id=author_id, target_type="plan", target_id=plan.id, guild_id=guild_id,
                channel_id=channel_id,
                details={"kind": KIND_POLL, "at": start_at.isoformat(), "recurrence": recurrence,
                         "title": plan.title[:100]},
            )
        return _plan_view(plan, typed=typed)

    def _first(self, recurrence: str | None, start: datetime, now: datetime) -> datetime:
        """The first occurrence of a plan typed to start at ``start`` (:func:`first_occurrence`:
        a cron line's first time at or after it), which is what the plan stores as its start and
        its next occurrence, and what the reply and the calendar show.  Refused: a monthly start
        after the 28th, a line that never comes, a first post more than ``MAX_AHEAD`` away."""
        check_rule(recurrence, start, self.tz)
        first = first_occurrence(recurrence, start, self.tz)
        if first is not None and first <= now:  # a start within the minute: the line's next time
            first = next_occurrence(recurrence, start, now, self.tz)
        if first is None:
            raise InvalidInput("calendar.error.rule_never", rule=recurrence or "")
        if first - now > MAX_AHEAD:
            raise InvalidInput("calendar.error.rule_too_far", rule=recurrence or "", when=self.local(first),
                               days=MAX_AHEAD.days)
        return first

    def _check_deadline(self, payload: dict[str, Any], start_at: datetime, recurrence: str | None) -> None:
        """A planned poll's deadline as it will be read when the poll is posted at ``start_at``:
        a series' must be a duration (each occurrence has its own); a date must come after the
        start and within ``polls.max_duration_days`` of it."""
        deadline = (payload.get("deadline") or "").strip()
        if deadline and parse_duration(deadline) is None:
            if recurrence is not None:
                raise InvalidInput("calendar.error.series_deadline")
            parse_deadline(deadline, now=start_at, tz=self.tz, max_days=self.polls.settings.max_duration_days)

    async def run_poll(self, plan_id: int, post: PostOccurrence) -> RunOutcome | None:
        """A planned poll's occurrence, if it is due: in one transaction the occurrence is
        claimed (once), the plan moved on and the occurrence's poll written (no message yet);
        then :meth:`_post_run` posts it.  None when not due (a cancelled plan, a postponed one,
        an occurrence already run).  Killed after the claim, :meth:`resume_poll` finishes it."""
        from storage.repositories import AuditRepository
        from storage.repositories.calendar import CalendarRepository

        now = self.clock()
        failed: str | None = None
        async with self.sessions.begin() as session:
            repo = CalendarRepository(session)
            plan = await repo.get(plan_id)
            if plan is None or plan.kind != KIND_POLL or plan.status != PLAN_ACTIVE or plan.next_at is None:
                return None
            occurrence = plan.next_at
            if occurrence > now:
                return None  # woke early, or postponed meanwhile
            following = next_occurrence(plan.recurrence, plan.start_at, max(now, occurrence), self.tz)
            if not await repo.claim_run(plan.id, occurrence, now=now):
                return None
            if not await repo.advance(plan.id, occurrence, following, now):
                raise Conflict("calendar.error.changed", ref=f"plan-{plan_id}")  # rolls the claim back
            AuditRepository(session).record(
                "calendar.run", actor_id=None, target_type="plan", target_id=plan.id, guild_id=plan.guild_id,
                channel_id=plan.channel_id,
                details={"occurrence": occurrence.isoformat(), "next": following.isoformat() if following else None},
            )
            failed = await self._write_poll(session, plan, occurrence)
        if failed is not None:
            return RunOutcome(plan_id, occurrence, error=_reason(failed), cause=failed)
        return await self._post_run(plan_id, occurrence, post, maybe_sent=False)

    async def _write_poll(self, session: AsyncSession, plan: models.CalendarPlan, occurrence: datetime) -> Exception | None:
        """The occurrence's poll written in ``session`` and named on its run (still ``claimed``);
        the error when the plan's poll can no longer be made (the run is then ``failed``)."""
        from storage.repositories.calendar import CalendarRepository

        repo = CalendarRepository(session)
        try:
            # author None: the moderator who planned it asked /forget-me (the poll has no author)
            draft = self.check_poll(
                guild_id=plan.guild_id, channel_id=plan.channel_id or 0,
                author_id=plan.author_id, payload=plan.payload,  # type: ignore[arg-type]
            )
        except Exception as exc:
            reason = _reason(exc)
            log.warning("planned poll %s (%s) cannot be made: %s", plan.id, occurrence.isoformat(), reason)
            await repo.finish_run(plan.id, occurrence, status=RUN_FAILED, error=reason[:500])
            return exc
        view = await self.polls.add_poll(session, draft)
        await repo.finish_run(plan.id, occurrence, poll_id=view.id)
        return None

    async def _post_run(
        self, plan_id: int, occurrence: datetime, post: PostOccurrence, *, maybe_sent: bool
    ) -> RunOutcome | None:
        """Post a claimed occurrence's poll: the run is marked ``sending`` before the first
        request (so that a later resume looks in the channel before sending again), ``post``
        sends it with the occurrence's nonce (or finds it, when ``maybe_sent``), then the run is
        ``posted``.  A refused post (channel gone, no permission) fails the run and drops the
        unposted poll, as /poll create would.  One process never posts a run twice at once."""
        from storage.repositories.calendar import CalendarRepository

        key = (plan_id, occurrence)
        if key in self._in_flight:
            return None
        self._in_flight.add(key)
        try:
            async with self.sessions.begin() as session:
                repo = CalendarRepository(session)
                run = await repo.run(plan_id, occurrence)
                plan = await repo.get(plan_id)
                if run is None or plan is None or run.poll_id is None:
                    return None
                if not await repo.mark_run(plan_id, occurrence, (RUN_CLAIMED, RUN_SENDING), status=RUN_SENDING):
                    return None
                poll_id, channel_id = run.poll_id, plan.channel_id or 0
            self.polls.forget_cached(poll_id)
            poll = await self.polls.get(poll_id)
            try:
                await post(poll, occurrence_nonce(plan_id, channel_id, occurrence), maybe_sent)
            except Exception as exc:
                reason = _reason(exc)
                log.warning("planned poll %s (%s) could not be posted: %s", plan_id, occurrence.isoformat(), reason)
                async with self.sessions.begin() as session:
                    await CalendarRepository(session).finish_run(
                        plan_id, occurrence, status=RUN_FAILED, error=reason[:500], poll_id=None
                    )
                await self.polls.discard(poll_id)
                return RunOutcome(plan_id, occurrence, error=reason, cause=exc)
            async with self.sessions.begin() as session:
                await CalendarRepository(session).finish_run(plan_id, occurrence, status=RUN_POSTED)
            return RunOutcome(plan_id, occurrence, poll_id=poll_id)
        finally:
            self._in_flight.discard(key)

    async def shift_unposted(self, poll: PollView) -> PollView:
        """An occurrence's poll about to be sent later than it was written (resumed after a
        crash) stays open as long as planned: its deadline and pending reminder move by the
        time lost (beyond :data:`RESUME_SLACK`).  A poll found already posted keeps its own."""
        from storage.repositories import PollRepository
        from storage.repositories.calendar import CalendarRepository

        lost = self.clock() - poll.created_at
        if lost <= RESUME_SLACK or poll.deadline_at is None or poll.message_id is not None:
            return poll
        async with self.sessions.begin() as session:
            row = await PollRepository(session).get(poll.id)
            if row is None or row.message_id is not None or row.deadline_at is None:
                return poll
            reminder = row.reminder_at + lost if row.reminder_at and not row.reminder_sent else row.reminder_at
            await CalendarRepository(session).move_poll_deadline(row.id, row.deadline_at + lost, reminder)
        self.polls.forget_cached(poll.id)
        return await self.polls.get(poll.id)

    async def unfinished_polls(self) -> list[tuple[int, datetime, datetime]]:
        """(plan, occurrence, claimed at) of every poll occurrence claimed and not posted."""
        from storage.repositories.calendar import CalendarRepository

        async with self.sessions() as session:
            return [(r.plan_id, r.occurrence_at, r.claimed_at)
                    for r in await CalendarRepository(session).unfinished_runs(KIND_POLL)]

    async def resume_poll(self, plan_id: int, occurrence: datetime, post: PostOccurrence) -> RunOutcome | None:
        """Finish an occurrence claimed by a process that died before posting it (the
        reconciler's catch-up at READY): its poll is written if it was not, then posted — or
        found already posted (``sending``: the channel's recent messages are looked at first)
        — once (the poster moves an unposted poll's deadline by the time lost:
        :meth:`shift_unposted`).  None when nothing is left
        to do (posted meanwhile, in flight here)."""
        from storage.repositories import AuditRepository
        from storage.repositories.calendar import CalendarRepository

        if (plan_id, occurrence) in self._in_flight:
            return None
        async with self.sessions.begin() as session:
            repo = CalendarRepository(session)
            run = await repo.run(plan_id, occurrence)
            plan = await repo.get(plan_id)
            if run is None or plan is None or plan.kind != KIND_POLL or run.status not in (RUN_CLAIMED, RUN_SENDING):
                return None
            maybe_sent = run.status == RUN_SENDING
            if run.poll_id is None:  # claimed before its poll was written with the claim
                failed = await self._write_poll(session, plan, occurrence)
                if failed is not None:
                    return RunOutcome(plan_id, occurrence, error=_reason(failed), cause=failed)
            AuditRepository(session).record(
                "calendar.resume", actor_id=None, target_type="plan", target_id=plan_id, guild_id=plan.guild_id,
                channel_id=plan.channel_id, details={"occurrence": occurrence.isoformat(), "status": run.status},
            )
        return await self._post_run(plan_id, occurrence, post, maybe_sent=maybe_sent)

    # ---------------------------------------------------------------- recurring announcements
    async def plan_announcement(
        self,
        announcement_id: int,
        *,
        when: datetime,
        repeat: str,
        actor_id: int | None,
        guild_id: int | None = None,
        channel_id: int | None = None,
    ) -> PlanView:
        """Make a draft announcement the model of a recurring one: first at the rule's first
        time from ``when`` (``when`` itself unless a cron line's day or time differs:
        :func:`first_occurrence`), then as ``repeat`` says; each occurrence is a new announcement
        (its own deliveries).  The plan's ``start_at`` is that first occurrence."""
        from storage import models
        from storage.repositories import AnnouncementRepository, AuditRepository
        from storage.repositories.calendar import CalendarRepository

        now = self.clock()
        recurrence = parse_recurrence(repeat)
        if recurrence is None:
            raise InvalidInput("calendar.error.recurrence", value="")
        if when <= now:
            raise InvalidInput("announce.in_past")
        typed, when = when, self._first(recurrence, when, now)  # the rule's first time from the typed start
        async with self.sessions.begin() as session:
            announcements = AnnouncementRepository(session)
            announcement = await announcements.get(announcement_id)
            if announcement is None or (guild_id is not None and announcement.guild_id != guild_id):
                raise NotFound("announce.not_found", id=announcement_id)
            if not await announcements.transition(announcement_id, (ANNOUNCEMENT_DRAFT,), ANNOUNCEMENT_RECURRING):
                raise announcements_service.wrong_status(announcement_id, announcement.status)
            plan = models.CalendarPlan(
                kind=KIND_ANNOUNCEMENT, guild_id=announcement.guild_id, channel_id=announcement.target_channel_id,
                author_id=actor_id, title=announcement.title, payload={"announcement_id": announcement_id},
                recurrence=recurrence, start_at=when, next_at=when, status=PLAN_ACTIVE, created_at=now,
                updated_at=now,
            )
            CalendarRepository(session).add(plan)
            await session.flush()
            AuditRepository(session).record(
                "calendar.plan", actor_id=actor_id, target_type="plan", target_id=plan.id,
                guild_id=announcement.guild_id, channel_id=channel_id,
                details={"kind": KIND_ANNOUNCEMENT, "announcement": announcement_id, "at": when.isoformat(),
                         "recurrence": recurrence, "title": announcement.title[:100]},
            )
        return _plan_view(plan, typed=typed)

    async def run_announcement(self, plan_id: int, publisher: Publisher) -> RunOutcome | None:
        """A recurring announcement's occurrence, if due: in one transaction the occurrence is
        claimed, the plan moved on, a new announcement written (a copy of the model) with one
        pending delivery per channel; then the outbox sends them.  Killed after the commit, the
        start-up resume sends them; run twice, the claim refuses the second.  Caught up later
        than ``announcements.LATE_GRACE`` (the bot was down), the occurrence is recorded
        ``missed`` and not posted — stale news, as for a one-off scheduled announcement."""
        from storage import models
        from storage.repositories import AnnouncementRepository, AuditRepository
        from storage.repositories.calendar import CalendarRepository

        now = self.clock()
        async with self.sessions.begin() as session:
            repo = CalendarRepository(session)
            plan = await repo.get(plan_id)
            if plan is None or plan.kind != KIND_ANNOUNCEMENT or plan.status != PLAN_ACTIVE or plan.next_at is None:
                return None
            occurrence = plan.next_at
            if occurrence > now:
                return None
            following = next_occurrence(plan.recurrence, plan.start_at, max(now, occurrence), self.tz)
            if not await repo.claim_run(plan.id, occurrence, now=now):
                return None
            if not await repo.advance(plan.id, occurrence, following, now):
                raise Conflict("calendar.error.changed", ref=f"plan-{plan_id}")
            if now - occurrence > announcements_service.LATE_GRACE:  # stale news: not posted (as a one-off's)
                await repo.finish_run(plan.id, occurrence, status=RUN_MISSED, error="late")
                AuditRepository(session).record(
                    "announcement.missed", actor_id=None, target_type="plan", target_id=plan.id,
                    guild_id=plan.guild_id, details={"at": occurrence.isoformat(), "title": plan.title[:100]},
                )
                return RunOutcome(plan.id, occurrence, error="late")
            model = await AnnouncementRepository(session).get(int(plan.payload.get("announcement_id", 0)))
            if model is None:
                await repo.finish_run(plan.id, occurrence, status=RUN_FAILED, error="model announcement deleted")
                return RunOutcome(plan.id, occurrence, error="model announcement deleted")
            copy = AnnouncementRepository(session).add(models.Announcement(
                guild_id=model.guild_id, author_id=model.author_id, title=model.title, body=model.body,
                link=model.link, target_channel_id=model.target_channel_id, mention_role_id=model.mention_role_id,
                lang=model.lang, status=ANNOUNCEMENT_PUBLISHED, scheduled_at=occurrence, created_at=now,
                published_at=now, versions=dict(model.versions or {}), image_name=model.image_name,
                image_type=model.image_type, image_data=model.image_data,
            ))
            await session.flush()
            targets = await announcements_service.targets(session, copy)
            await write_deliveries(session, kind="announcement", source_id=copy.id, targets=targets, now=now)
            await repo.finish_run(plan.id, occurrence, status=RUN_POSTED, announcement_id=copy.id)
            AuditRepository(session).record(
                "announcement.publish", actor_id=None, target_type="announcement", target_id=copy.id,
                guild_id=copy.guild_id,
                details={"channels": len(targets), "trigger": "recurring", "plan": plan.id,
                         "occurrence": occurrence.isoformat(), "title": copy.title[:100]},
            )
            announcement_id = copy.id
        await publisher.deliver(announcement_id=announcement_id)
        return RunOutcome(plan_id, occurrence, announcement_id=announcement_id)

    # ---------------------------------------------------------------- cancel, postpone
    async def get_plan(self, plan_id: int, *, guild_id: int | None = None) -> PlanView:
        from storage.repositories.calendar import CalendarRepository

        async with self.sessions() as session:
            plan = await CalendarRepository(session).get(plan_id)
        if plan is None or (guild_id is not None and plan.guild_id != guild_id):
            raise NotFound("calendar.error.not_found", ref=f"plan-{plan_id}")
        return _plan_view(plan)

    async def plans(self, *, guild_id: int | None = None, kind: str | None = None) -> list[PlanView]:
        from storage.repositories.calendar import CalendarRepository

        async with self.sessions() as session:
            return [_plan_view(p) for p in await CalendarRepository(session).active(guild_id=guild_id, kind=kind)]

    async def cancel(self, ref: str, *, actor_id: int | None, guild_id: int | None = None) -> str:
        """Cancel what ``ref`` names (a plan, a scheduled announcement); returns what it was
        (``poll``, ``series``, ``recurring_announcement``, ``announcement``).  ``guild_id``: a
        server's moderator, for that server's planned polls only — an announcement goes to every
        network channel, a network moderator's matter (they give no ``guild_id``)."""
        from storage.repositories import AuditRepository
        from storage.repositories.calendar import CalendarRepository

        kind, number = self._ref(ref)
        if kind == "poll":  # a closing: the poll is closed with /poll close, not cancelled here
            raise InvalidInput("calendar.error.poll_ref", value=ref.strip()[:40])
        if kind == "announcement":
            if guild_id is not None:
                raise NotNetworkModerator()
            await announcements_service.cancel(self.sessions, number, actor_id=actor_id, guild_id=guild_id)
            return "announcement"
        async with self.sessions.begin() as session:
            repo = CalendarRepository(session)
            plan = await repo.get(number)
            if plan is None or (guild_id is not None and plan.guild_id != guild_id):
                raise NotFound("calendar.error.not_found", ref=ref)
            if guild_id is not None and plan.kind != KIND_POLL:
                raise NotNetworkModerator()
            if not await repo.update(number, (PLAN_ACTIVE,), status=PLAN_CANCELLED, next_at=None,
                                     updated_at=self.clock()):
                raise Conflict("calendar.error.not_active", ref=ref)
            AuditRepository(session).record(
                "calendar.cancel", actor_id=actor_id, target_type="plan", target_id=number, guild_id=plan.guild_id,
                details={"kind": plan.kind, "title": plan.title[:100]},
            )
            return self._what(plan)

    async def postpone(self, ref: str, when_text: str, *, actor_id: int | None, guild_id: int | None = None) -> datetime:
        """Move the next occurrence of what ``ref`` names to ``when_text`` (bot time zone); a
        series keeps its rule for the occurrences after it; a poll's closing (``poll-7``) moves
        with its reminder.  Returns the new time (UTC).  ``guild_id`` as for :meth:`cancel`."""
        from storage.repositories import AnnouncementRepository, AuditRepository
        from storage.repositories.calendar import CalendarRepository

        kind, number = self._ref(ref)
        if kind == "announcement" and guild_id is not None:
            raise NotNetworkModerator()
        now = self.clock()
        when = parse_start(when_text, now=now, tz=self.tz)
        async with self.sessions.begin() as session:
            if kind == "poll":
                before = await self._move_closing(session, number, when, now, guild_id)
            elif kind == "announcement":
                announcements = AnnouncementRepository(session)
                announcement = await announcements.get(number)
                if announcement is None or (guild_id is not None and announcement.guild_id != guild_id):
                    raise NotFound("announce.not_found", id=number)
                before = announcement.scheduled_at  # read before the update refreshes the row
                if not await announcements.transition(
                    number, (announcements_service.ANNOUNCEMENT_SCHEDULED,), announcements_service.ANNOUNCEMENT_SCHEDULED,
                    scheduled_at=when,
                ):
                    raise announcements_service.wrong_status(number, announcement.status, "announce.not_scheduled")
            else:
                repo = CalendarRepository(session)
                plan = await repo.get(number)
                if plan is None or (guild_id is not None and plan.guild_id != guild_id):
                    raise NotFound("calendar.error.not_found", ref=ref)
                if guild_id is not None and plan.kind != KIND_POLL:
                    raise NotNetworkModerator()
                if plan.kind == KIND_POLL and plan.status == PLAN_ACTIVE:  # as plan_poll checked it
                    try:
                        self._check_deadline(plan.payload, when, plan.recurrence)
                    except InvalidInput as exc:
                        if exc.key != "poll.error.deadline_past":
                            raise
                        raise InvalidInput(
                            "calendar.error.postpone_past_deadline", ref=f"plan-{number}",
                            deadline=str(plan.payload.get("deadline", "")).strip()[:40],
                        ) from None
                values: dict[str, Any] = {"next_at": when, "updated_at": now}
                if plan.recurrence is None:
                    values["start_at"] = when
                before = plan.next_at
                if not await repo.update(number, (PLAN_ACTIVE,), **values):
                    raise Conflict("calendar.error.not_active", ref=ref)
            AuditRepository(session).record(
                "calendar.postpone", actor_id=actor_id, target_type=kind, target_id=number, guild_id=guild_id,
                details={"from": before.isoformat() if before else None, "to": when.isoformat()},
            )
        return when

    def following(self, plan: PlanView, count: int = 2) -> list[datetime]:
        """A series' occurrences after its first (what its rule means, said in the reply)."""
        found: list[datetime] = []
        when: datetime | None = plan.start_at
        while plan.recurrence and when is not None and len(found) < count:
            when = next_occurrence(plan.recurrence, plan.start_at, when, self.tz)
            found.extend([when] if when is not None else [])
        return found

    def poll_of(self, ref: str) -> int | None:
        """The poll id when ``ref`` names a poll's closing (``poll-7``), else None."""
        kind, number = self._ref(ref)
        return number if kind == "poll" else None

    def plan_number(self, ref: str) -> int:
        """The plan id in ``plan-3`` (a series' reference); :class:`InvalidInput` otherwise."""
        return plan_number(ref)

    @staticmethod
    def _ref(ref: str) -> tuple[str, int]:
        match = re.fullmatch(r"\s*(plan|announcement|annonce|poll|sondage)[-\s#]*(\d+)\s*", (ref or "").lower())
        if not match:
            raise InvalidInput("calendar.error.bad_ref", value=(ref or "")[:40])
        kind = {"annonce": "announcement", "sondage": "poll"}.get(match.group(1), match.group(1))
        return kind, int(match.group(2))

    async def _move_closing(
        self, session: AsyncSession, poll_id: int, when: datetime, now: datetime, guild_id: int | None
    ) -> datetime | None:
        """An open poll's deadline moved to ``when`` (at most ``polls.max_duration_days`` from
        now), its pending reminder kept as far before it; a native poll's is Discord's (refused)."""
        from storage.repositories import PollRepository
        from storage.repositories.calendar import CalendarRepository

        poll = await PollRepository(session).get(poll_id)
        if poll is None or (guild_id is not None and poll.guild_id != guild_id):
            raise NotFound("calendar.error.not_found", ref=f"poll-{poll_id}")
        if poll.status != "open" or poll.deadline_at is None:
            raise Conflict("calendar.error.not_active", ref=f"poll-{poll_id}")
        if poll.native:
            raise Conflict("calendar.error.native_closing", ref=f"poll-{poll_id}")
        max_days = self.polls.settings.max_duration_days
        if when - now > timedelta(days=max_days):
            raise InvalidInput("poll.error.deadline_too_far", days=max_days)
        reminder = poll.reminder_at
        if reminder is not None and not poll.reminder_sent:
            reminder = when - (poll.deadline_at - reminder)
            reminder = reminder if reminder > now else None
        before = poll.deadline_at
        await CalendarRepository(session).move_poll_deadline(poll_id, when, reminder if not poll.reminder_sent else poll.reminder_at)
        self.polls.forget_cached(poll_id)
        return before

    @staticmethod
    def _what(plan: models.CalendarPlan) -> str:
        if plan.kind == KIND_ANNOUNCEMENT:
            return "recurring_announcement"
        return "series" if plan.recurrence else "poll"

    # ---------------------------------------------------------------- the calendar
    async def upcoming(self, *, guild_id: int | None = None, limit: int = 50) -> list[CalendarEntry]:
        """Everything planned from now, soonest first: the next extract slot (with the extracts
        it would post as the queue stands, or ``extract_none``), scheduled announcements, planned polls and series, recurring
        announcements, open polls' reminders and closings.  ``guild_id``: that server's only
        (the extract slot is the network's and always shown)."""
        from storage.repositories import AnnouncementRepository, PollRepository
        from storage.repositories.calendar import CalendarRepository

        now = self.clock()
        entries: list[CalendarEntry] = []
        async with self.sessions() as session:
            for slot in extracts_service.next_runs(self.config, now, count=1):
                # what that slot will really post: the month's extract or an overdue one per
                # language (not the head of the queue, which may be a later month's)
                when = slot.astimezone(UTC)
                due = await extracts_service.slot_would_post(session, extracts_service.month_of(slot, self.tz))
                entries.extend(CalendarEntry(when, "extract", extract.title, None) for extract in due)
                if not due:
                    entries.append(CalendarEntry(when, "extract_none", "", None))
            for plan in await CalendarRepository(session).active(guild_id=guild_id):
                what = "recurring_announcement" if plan.kind == KIND_ANNOUNCEMENT else self._what(plan)
                entries.append(CalendarEntry(
                    plan.next_at, what, plan.title, f"plan-{plan.id}", plan.channel_id, plan.recurrence,  # type: ignore[arg-type]
                ))
            for announcement in await AnnouncementRepository(session).scheduled(guild_id=guild_id):
                if announcement.scheduled_at is not None:
                    entries.append(CalendarEntry(
                        announcement.scheduled_at, "announcement", announcement.title,
                        f"announcement-{announcement.id}", announcement.target_channel_id,
                    ))
            for poll in await PollRepository(session).open_polls():
                if guild_id is not None and poll.guild_id != guild_id:
                    continue
                if poll.reminder_at is not None and not poll.reminder_sent and poll.reminder_at > now:
                    entries.append(CalendarEntry(poll.reminder_at, "reminder", poll.title, None, poll.channel_id))
                if poll.deadline_at is not None:
                    movable = None if poll.native else f"poll-{poll.id}"  # a native poll's end is Discord's
                    entries.append(CalendarEntry(poll.deadline_at, "closing", poll.title, movable, poll.channel_id))
        entries.sort(key=lambda e: (e.when, e.what, e.ref or ""))
        return entries[:limit]

    # ---------------------------------------------------------------- series
    async def series_of(self, poll_id: int, *, guild_id: int | None = None) -> PlanView | None:
        """The series (recurring plan) a poll is an occurrence of, if any."""
        from storage.repositories.calendar import CalendarRepository

        async with self.sessions() as session:
            run = await CalendarRepository(session).run_of_poll(poll_id)
            plan = await CalendarRepository(session).get(run.plan_id) if run is not None else None
        if plan is None or plan.recurrence is None or (guild_id is not None and plan.guild_id != guild_id):
            return None
        return _plan_view(plan)

    async def series(self, plan_id: int, *, guild_id: int | None = None) -> list[SeriesOccurrence]:
        """Each posted occurrence's poll with its counts per option, oldest first."""
        from storage.repositories.calendar import CalendarRepository

        await self.get_plan(plan_id, guild_id=guild_id)
        async with self.sessions() as session:
            rows = await CalendarRepository(session).series_polls(plan_id)
        out = []
        for occurrence_at, poll in rows:
            if poll.message_id is None:
                continue  # an occurrence being posted (or to resume after a crash): not yet in the series
            results = await self.polls.results(poll.id)
            counts = tuple(
                (next((o.code for o in results.poll.options if o.id == c.option_id), ""), c.label, c.count)
                for c in results.options
            )
            out.append(SeriesOccurrence(occurrence_at, poll.id, poll.status, results.respondents, counts))
        return out

    async def series_csv(self, plan_id: int, *, guild_id: int | None = None, layout: str = "long") -> str:
        """The series as a table an analyst reads as it is: ``long`` (one row per occurrence and
        option, with the occurrence's local date) or ``wide`` (one row per option, one column
        per occurrence)."""
        occurrences = await self.series(plan_id, guild_id=guild_id)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        dates = [o.occurrence_at.astimezone(self.tz).strftime("%Y-%m-%d %H:%M") for o in occurrences]
        if layout == "wide":
            writer.writerow(["option_code", "option_label", *dates])
            labels: dict[str, str] = {}
            for o in occurrences:
                for code, label, _ in o.counts:
                    labels.setdefault(code, label)
            for code, label in labels.items():
                row = [next((n for c, _, n in o.counts if c == code), 0) for o in occurrences]
                writer.writerow([code, label, *row])
            writer.writerow(["respondents", "", *[o.respondents for o in occurrences]])
        else:
            writer.writerow(["plan_id", "occurrence", "poll_id", "status", "respondents", "option_code",
                             "option_label", "count"])
            for when, o in zip(dates, occurrences, strict=True):
                for code, label, count in o.counts:
                    writer.writerow([plan_id, when, o.poll_id, o.status, o.respondents, code, label, count])
        return out.getvalue()

    # ---------------------------------------------------------------- duplicate, templates
    async def duplicate_payload(self, poll_id: int, *, guild_id: int | None = None) -> dict[str, Any]:
        """What re-creates a poll: its question, options, kind and settings."""
        return poll_payload(await self.polls.get(poll_id, guild_id=guild_id))

    async def save_template(self, name: str, poll_id: int, *, guild_id: int, actor_id: int | None) -> bool:
        """Save a poll as the template ``name`` (replacing one of that name); True when new."""
        from storage.repositories import AuditRepository
        from storage.repositories.calendar import TemplateRepository

        name = " ".join((name or "").split())
        if not name or len(name) > TEMPLATE_NAME_MAX:
            raise InvalidInput("calendar.error.template_name", max=TEMPLATE_NAME_MAX)
        payload = await self.duplicate_payload(poll_id, guild_id=guild_id)
        async with self.sessions.begin() as session:
            created = await TemplateRepository(session).save(
                guild_id, name, author_id=actor_id, payload=payload, now=self.clock()
            )
            AuditRepository(session).record(
                "template.save", actor_id=actor_id, target_type="template", target_id=name[:64], guild_id=guild_id,
                details={"poll": poll_id, "created": created},
            )
        return created

    async def template_payload(self, name: str, *, guild_id: int) -> dict[str, Any]:
        from storage.repositories.calendar import TemplateRepository

        async with self.sessions() as session:
            template = await TemplateRepository(session).get(guild_id, " ".join((name or "").split()))
        if template is None:
            raise NotFound("calendar.error.template_not_found", name=(name or "")[:100])
        payload = dict(template.payload)
        payload.pop("campaign_id", None)  # (saved before templates stopped keeping one)
        return payload

    async def templates(self, *, guild_id: int) -> list[TemplateView]:
        from storage.repositories.calendar import TemplateRepository

        async with self.sessions() as session:
            return [
                TemplateView(t.name, str(t.payload.get("question", "")), str(t.payload.get("kind", "")), t.created_at)
                for t in await TemplateRepository(session).all(guild_id)
            ]

    async def delete_template(self, name: str, *, guild_id: int, actor_id: int | None) -> None:
        from storage.repositories import AuditRepository
        from storage.repositories.calendar import TemplateRepository

        name = " ".join((name or "").split())
        async with self.sessions.begin() as session:
            if not await TemplateRepository(session).delete(guild_id, name):
                raise NotFound("calendar.error.template_not_found", name=name[:100])
            AuditRepository(session).record(
                "template.delete", actor_id=actor_id, target_type="template", target_id=name[:64], guild_id=guild_id,
            )

    # ---------------------------------------------------------------- helpers for people
    def local(self, when: datetime) -> str:
        return when.astimezone(self.tz).strftime("%Y-%m-%d %H:%M")

    async def channel_language(self, channel_id: int) -> str | None:
        from storage.repositories import ChannelRepository

        async with self.sessions() as session:
            channel = await ChannelRepository(session).get(channel_id)
        return channel.language if channel is not None else None


# --------------------------------------------------------------------------------------------
# Privacy: /my-data and /forget-me


class CalendarHook:
    """The plans and templates a moderator made.  ``/my-data`` lists them; ``/forget-me`` keeps
    them (the network's calendar) with no author — a planned poll is then posted in the
    network's name."""

    feature = "calendar"
    authored = True  # kept without the author (PrivacyRegistry.authored_features)

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def _read(self, user_id: int) -> tuple[list[models.CalendarPlan], list[models.PollTemplate]]:
        from storage.repositories.calendar import CalendarRepository, TemplateRepository

        async with self.sessions() as session:
            return (await CalendarRepository(session).by_author(user_id),
                    await TemplateRepository(session).by_author(user_id))

    async def describe(self, user_id: int) -> dict[str, Any]:
        plans, templates = await self._read(user_id)
        return {
            "calendar_plans": [
                {"plan": f"plan-{p.id}", "kind": p.kind, "title": p.title, "recurrence": p.recurrence,
                 "status": p.status, "created_at": p.created_at.isoformat()}
                for p in plans
            ],
            "poll_templates": [{"name": t.name, "created_at": t.created_at.isoformat()} for t in templates],
        }

    async def forget(self, user_id: int, mode: str) -> Forgotten:
        from storage.repositories.calendar import CalendarRepository, TemplateRepository

        async with self.sessions.begin() as session:
            plans = await CalendarRepository(session).unlink_author(user_id)
            templates = await TemplateRepository(session).unlink_author(user_id)
        return Forgotten(removed={"calendar_plans": plans, "poll_templates": templates})

    async def stored(self, user_id: int) -> int:
        plans, templates = await self._read(user_id)
        return len(plans) + len(templates)


# --------------------------------------------------------------------------------------------
# The reconciler's declaration

PlanRun = Callable[[int], Awaitable[object]]
RunResume = Callable[[int, datetime], Awaitable[object]]


def feature(*, poll: PlanRun, announce: PlanRun, resume: RunResume | None = None) -> Feature:
    """The calendar's declaration: every active plan's next occurrence, ``calendar-poll-<id>``
    (``poll(plan_id)``: the cog posts it) or ``calendar-announce-<id>`` (``announce(plan_id)``);
    an occurrence passed while the bot was down is caught up once by the reconciler.  A poll
    occurrence claimed and not posted (the process died in between) is
    ``calendar-resume-<plan>.<occurrence>``, due when it was claimed: the catch-up at READY
    runs ``resume(plan_id, occurrence)`` once."""

    async def plan(services: Services, now: datetime) -> list[JobSpec]:
        specs = []
        for item in await services.plain.active_plans():  # without SQLAlchemy (storage.plain)
            if item.kind == KIND_POLL:
                specs.append(JobSpec(poll_job_id(item.id), item.next_at, functools.partial(poll, item.id)))
            elif item.kind == KIND_ANNOUNCEMENT:
                specs.append(JobSpec(announce_job_id(item.id), item.next_at, functools.partial(announce, item.id)))
        if resume is not None:
            for plan_id, occurrence, claimed_at in await services.plain.unfinished_runs(KIND_POLL):
                specs.append(JobSpec(
                    resume_job_id(plan_id, occurrence), claimed_at, functools.partial(resume, plan_id, occurrence)
                ))
        return specs

    return Feature(FEATURE, plan)
