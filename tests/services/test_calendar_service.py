"""The calendar's rules without Discord (issue 12): what moderators type as a start and a
repetition, the occurrences of a series across a clock change, one occurrence posted once by
two processes racing on one database (the primary key of calendar_runs, not a lock), the
duplicate of a poll, and the privacy hook (``/my-data`` lists plans and templates,
``/forget-me`` unlinks them)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from bot.errors import InvalidInput
from bot.services.calendar import (
    check_rule,
    first_occurrence,
    next_occurrence,
    parse_recurrence,
    parse_start,
    poll_payload,
)
from bot.services.container import Services
from storage.db import create_engine, session_factory
from storage.models import CalendarPlan, CalendarRun, Poll

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2027, 3, 23, 8, 0, tzinfo=UTC)  # Tuesday 23 March 2027, 09:00 in Paris (winter time)
WINTER = datetime(2027, 1, 12, 8, 0, tzinfo=UTC)  # weeks away from a clock change


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS).astimezone(UTC)


@pytest.mark.parametrize(("typed", "expected"), [
    ("demain 9 h", paris(2027, 3, 24, 9, 0)),
    ("Demain à 9h30", paris(2027, 3, 24, 9, 30)),
    ("aujourd’hui 18:00", paris(2027, 3, 23, 18, 0)),
    ("après-demain 10h", paris(2027, 3, 25, 10, 0)),
    ("jeudi 14 h", paris(2027, 3, 25, 14, 0)),
    ("mardi 9 h", paris(2027, 3, 30, 9, 0)),  # today is Tuesday: next week's
    ("tomorrow 9am", paris(2027, 3, 24, 9, 0)),
    ("2027-04-02 09:15", paris(2027, 4, 2, 9, 15)),
    ("02/04/2027 9h", paris(2027, 4, 2, 9, 0)),
    ("02/04 9 h", paris(2027, 4, 2, 9, 0)),
    ("dans 2 h", NOW + timedelta(hours=2)),
    ("3j", NOW + timedelta(days=3)),
    # a time alone is a time of day: today, or tomorrow when it has passed (not "in 14 hours")
    ("14h", paris(2027, 3, 23, 14, 0)),
    ("14 h", paris(2027, 3, 23, 14, 0)),
    ("à 14 h", paris(2027, 3, 23, 14, 0)),
    ("9h30", paris(2027, 3, 23, 9, 30)),
    ("14:00", paris(2027, 3, 23, 14, 0)),
    ("2pm", paris(2027, 3, 23, 14, 0)),
    ("8 h", paris(2027, 3, 24, 8, 0)),  # 08:00 has passed today (it is 09:00): tomorrow's
    ("dans 14h", NOW + timedelta(hours=14)),  # a duration says « dans »
    ("90m", NOW + timedelta(minutes=90)),  # or has a unit that is not a time of day
    ("1 semaine", paris(2027, 3, 30, 9, 0)),
    ("mardi 14 h", paris(2027, 3, 23, 14, 0)),  # today is Tuesday and 14:00 is ahead: today
    # across the clock change (28 March) a duration in days or weeks keeps the wall time
    ("dans 1 semaine", paris(2027, 3, 30, 9, 0)),
    ("dans 7 jours", paris(2027, 3, 30, 9, 0)),
    ("dans 168 h", NOW + timedelta(hours=168)),  # in hours: elapsed time (10:00 local)
])
def test_starts_moderators_type(typed, expected):
    assert parse_start(typed, now=NOW, tz=PARIS) == expected


@pytest.mark.parametrize(("typed", "key"), [
    ("un jour peut-être", "calendar.error.start_format"),
    ("demain", "calendar.error.start_format"),
    ("hier 9 h", "calendar.error.start_format"),
    ("2027-03-22 09:00", "calendar.error.start_past"),
    ("2029-01-01 09:00", "calendar.error.start_too_far"),
    ("2027-03-28 02:30", "calendar.error.time_gap"),  # the hour skipped when clocks go forward
    ("32/01 9h", "calendar.error.no_such_date"),  # written as a date: said to be no such day
    ("2027-02-30 10:00", "calendar.error.no_such_date"),
    ("31/04/2027 9 h", "calendar.error.no_such_date"),
])
def test_starts_refused_with_a_reason(typed, key):
    with pytest.raises(InvalidInput) as caught:
        parse_start(typed, now=NOW, tz=PARIS)
    assert caught.value.key == key


def test_repetitions():
    assert parse_recurrence("Hebdomadaire") == "weekly"
    assert parse_recurrence("chaque mois") == "monthly"
    assert parse_recurrence("0 9 * * thu") == "0 9 * * thu"
    assert parse_recurrence("") is None
    for bad in ("tous les jours fériés", "0 9 * *", "99 9 * * *"):
        with pytest.raises(InvalidInput):
            parse_recurrence(bad)


def test_a_cron_day_of_the_week_is_read_as_any_cron_reads_it():
    """« 0 9 * * 4 » posted on Fridays (APScheduler counts from Monday 0; a cron line from
    Sunday 0): the day is kept in names, Thursday."""
    assert parse_recurrence("0 9 * * 4") == "0 9 * * thu"
    assert parse_recurrence("0 9 * * 0") == parse_recurrence("0 9 * * 7") == "0 9 * * sun"
    assert parse_recurrence("0 9 * * 1-5") == "0 9 * * mon,tue,wed,thu,fri"
    assert parse_recurrence("0 9 * * 5-7") == "0 9 * * fri,sat,sun"
    assert parse_recurrence("30 18 * * 0,6") == "30 18 * * sat,sun"
    assert parse_recurrence("0 9 * * mon-sun") == parse_recurrence("0 9 * * *") == "0 9 * * *"
    assert parse_recurrence("0 9 1 * *") == "0 9 1 * *"
    wednesday = paris(2027, 3, 24, 9, 0)
    assert next_occurrence(parse_recurrence("0 10 * * 4"), wednesday, wednesday, PARIS) == paris(2027, 3, 25, 10, 0)
    # a rule stored with a number before: read the same way
    assert next_occurrence("0 10 * * 4", wednesday, wednesday, PARIS) == paris(2027, 3, 25, 10, 0)


@pytest.mark.parametrize("line", ["*/5 * * * *", "0 9,21 * * *", "0 */2 * * mon", "0-30 9 * * *"])
def test_a_cron_line_coming_back_more_than_once_a_day_is_refused(line):
    with pytest.raises(InvalidInput) as caught:
        parse_recurrence(line)
    assert caught.value.key == "calendar.error.too_often"


def test_a_monthly_rule_starts_on_the_28th_at_the_latest():
    """From the 31st it ran in March, May, July and August only while saying « chaque mois »."""
    check_rule("monthly", paris(2027, 1, 28, 9, 0), PARIS)
    check_rule("weekly", paris(2027, 1, 31, 9, 0), PARIS)
    for day in (29, 30, 31):
        with pytest.raises(InvalidInput) as caught:
            check_rule("monthly", paris(2027, 1, day, 9, 0), PARIS)
        assert caught.value.key == "calendar.error.monthly_day"


def test_a_weekly_series_keeps_its_local_time_across_the_clock_change():
    start = paris(2027, 3, 24, 9, 0)  # winter time (UTC+1)
    second = next_occurrence("weekly", start, start, PARIS)
    assert second == paris(2027, 3, 31, 9, 0) and second.hour == 7  # summer time (UTC+2)
    assert next_occurrence("monthly", start, start, PARIS) == paris(2027, 4, 24, 9, 0)
    assert next_occurrence("0 10 * * thu", start, start, PARIS) == paris(2027, 3, 25, 10, 0)
    assert next_occurrence(None, start, start, PARIS) is None
    # catching up after two missed weeks: the next one after "now", not the missed ones
    late = start + timedelta(weeks=2, hours=3)
    assert next_occurrence("weekly", start, late, PARIS) == paris(2027, 4, 14, 9, 0)


def test_one_occurrence_per_local_time_when_clocks_change():
    """The night clocks go back, 02:30 happens twice: a series posts at the first only (each
    fire time would be its own claim, so both were posted); the 02:30 skipped in spring is
    posted at 03:30, once."""
    autumn = paris(2027, 10, 24, 2, 30)
    following = [next_occurrence("weekly", autumn, autumn, PARIS)]
    following.append(next_occurrence("weekly", autumn, following[-1], PARIS))
    assert [local(w) for w in following] == ["2027-10-31 02:30 +0200", "2027-11-07 02:30 +0100"]
    # a cron through the repeated hour: 02:00 and 02:30 once each, then 03:00 and 03:30
    when, times = paris(2027, 10, 30, 23, 0), []
    for _ in range(4):
        when = next_occurrence("0,30 2,3 * * *", autumn, when, PARIS)
        times.append(local(when))
    assert times == ["2027-10-31 02:00 +0200", "2027-10-31 02:30 +0200", "2027-10-31 03:00 +0100",
                     "2027-10-31 03:30 +0100"]
    spring = paris(2027, 3, 21, 2, 30)
    gap = next_occurrence("weekly", spring, spring, PARIS)
    assert local(gap) == "2027-03-28 03:30 +0200"
    assert local(next_occurrence("weekly", spring, gap, PARIS)) == "2027-04-04 02:30 +0200"


def test_a_series_begins_at_its_rules_first_time_from_the_start():
    """Started on a Monday with « every Thursday at 9:00 », the first post was the Monday: it is
    the line's first time at or after the start (weekly and monthly are read from the start);
    through the night clocks go back the repeated local hour is not a first occurrence."""
    monday = paris(2027, 3, 22, 9, 0)
    assert first_occurrence("0 9 * * thu", monday, PARIS) == paris(2027, 3, 25, 9, 0)
    assert first_occurrence("0 8 * * mon", monday, PARIS) == paris(2027, 3, 29, 8, 0)  # 8:00 passed: next week's
    thursday = paris(2027, 3, 25, 9, 0)
    assert first_occurrence("0 9 * * thu", thursday, PARIS) == thursday  # on the rule: the start itself
    assert first_occurrence("0 9 * * thu", thursday + timedelta(seconds=40), PARIS) == thursday  # « dans 2 h »
    assert first_occurrence("weekly", monday, PARIS) == first_occurrence("monthly", monday, PARIS) == monday
    assert first_occurrence(None, monday, PARIS) == monday
    assert first_occurrence("0 9 31 2 *", monday, PARIS) is None
    # 31 October 2027, 02:45+02:00: the 02:30 that comes again an hour later is not an occurrence
    assert local(first_occurrence("30 2 * * *", paris(2027, 10, 31, 2, 45), PARIS)) == "2027-11-01 02:30 +0100"
    assert local(first_occurrence("30 2 * * *", paris(2027, 10, 30, 12, 0), PARIS)) == "2027-10-31 02:30 +0200"
    # 28 March 2027, 02:30 does not exist: APScheduler's 03:30 (summer time), as for the following ones
    assert local(first_occurrence("30 2 * * *", paris(2027, 3, 27, 12, 0), PARIS)) == "2027-03-28 03:30 +0200"


def local(when: datetime) -> str:
    return when.astimezone(PARIS).strftime("%Y-%m-%d %H:%M %z")


async def _run_occurrences(services: Services, clock, plan_id: int, run, count: int) -> list[str]:
    """Move the virtual clock to each next occurrence of the plan and run it (as its job
    would): the local times of the occurrences that ran."""
    ran = []
    for _ in range(count):
        next_at = (await services.calendar.get_plan(plan_id)).next_at
        clock.set(next_at + timedelta(seconds=1))
        outcome = await run()
        assert outcome is not None and outcome.error is None
        ran.append(local(outcome.occurrence_at))
    return ran


async def test_a_weekly_announcement_at_0230_is_posted_once_the_night_clocks_go_back(config, sessions, clock):
    from bot.services import announcements
    from storage.models import Announcement, NetworkChannel
    from tests.services.test_extracts_service import MemorySender

    clock.set(paris(2027, 10, 20, 12, 0))
    services = Services(config, engine=sessions.kw["bind"], sessions=sessions, clock=clock)
    sender = MemorySender()
    services.attach_sender(sender, rate=None)
    try:
        async with sessions.begin() as session:
            session.add(NetworkChannel(channel_id=20, guild_id=1, language="fr", name="annonces"))
        draft = await announcements.create_draft(services.sessions, guild_id=1, author_id=3, title="Veille",
                                                 body="La veille de la semaine.", now=clock())
        plan = await services.calendar.plan_announcement(draft.id, when=paris(2027, 10, 24, 2, 30),
                                                         repeat="hebdomadaire", actor_id=3)
        ran = await _run_occurrences(
            services, clock, plan.id, lambda: services.calendar.run_announcement(plan.id, services.publisher), 3)
        assert ran == ["2027-10-24 02:30 +0200", "2027-10-31 02:30 +0200", "2027-11-07 02:30 +0100"]
        clock.set(paris(2027, 10, 31, 2, 30) + timedelta(hours=1, seconds=1))  # the second 02:30
        assert await services.calendar.run_announcement(plan.id, services.publisher) is None
    finally:
        await services.aclose(dispose_engine=False)
    assert sender.count(20) == 3
    async with sessions() as session:
        copies = await session.scalar(select(func.count()).select_from(Announcement).where(
            Announcement.status == "published"))
    assert copies == 3


async def test_a_series_keeps_one_occurrence_per_local_time_across_both_changes(config, sessions, clock):
    clock.set(paris(2027, 3, 15, 12, 0))
    services = Services(config, engine=sessions.kw["bind"], sessions=sessions, clock=clock)
    posted, post = _recording_post()

    try:
        spring = await services.calendar.plan_poll(guild_id=1, channel_id=2, author_id=3, payload=PAYLOAD,
                                                   start="2027-03-21 02:30", repeat="weekly")
        ran = await _run_occurrences(services, clock, spring.id, lambda: services.calendar.run_poll(spring.id, post), 3)
        assert ran == ["2027-03-21 02:30 +0100", "2027-03-28 03:30 +0200", "2027-04-04 02:30 +0200"]
        await services.calendar.cancel(spring.ref, actor_id=3)
        clock.set(paris(2027, 10, 20, 12, 0))
        autumn = await services.calendar.plan_poll(guild_id=1, channel_id=2, author_id=3, payload=PAYLOAD,
                                                   start="2027-10-24 02:30", repeat="weekly")
        ran = await _run_occurrences(services, clock, autumn.id, lambda: services.calendar.run_poll(autumn.id, post), 3)
        assert ran == ["2027-10-24 02:30 +0200", "2027-10-31 02:30 +0200", "2027-11-07 02:30 +0100"]
    finally:
        await services.aclose(dispose_engine=False)
    assert len(posted) == len(set(posted)) == 6


async def test_a_series_keeps_the_start_typed_only_when_its_first_time_differs(config, sessions, clock):
    """The reply says why the first post is not the date typed (``PlanView.typed_at``): a Monday
    with every Thursday keeps the Monday; a start on the rule's day keeps nothing, nor « dans 2 h »
    landing in the rule's minute (its seconds are not a difference), nor a one-off plan."""
    clock.set(paris(2027, 3, 18, 7, 0, 40))  # a Thursday, 07:00:40
    services = Services(config, engine=sessions.kw["bind"], sessions=sessions, clock=clock)
    try:
        def plan(start: str, repeat: str | None = "0 9 * * thu"):
            return services.calendar.plan_poll(guild_id=1, channel_id=2, author_id=3, payload=PAYLOAD,
                                               start=start, repeat=repeat)

        off = await plan("2027-03-22 09:00")  # a Monday
        assert (off.start_at, off.typed_at) == (paris(2027, 3, 25, 9, 0), paris(2027, 3, 22, 9, 0))
        on = await plan("2027-03-25 09:00")
        assert (on.start_at, on.typed_at) == (paris(2027, 3, 25, 9, 0), None)
        soon = await plan("dans 2 h")  # 09:00:40 today: the rule's 09:00 is this minute
        assert (soon.start_at, soon.typed_at) == (paris(2027, 3, 18, 9, 0), None)
        once = await plan("2027-03-22 09:00", repeat=None)
        assert once.typed_at is None
    finally:
        await services.aclose(dispose_engine=False)


async def test_a_series_started_off_its_rule_is_stored_and_posted_from_its_first_time(config, sessions, clock):
    """plan_poll and plan_announcement store the rule's first time as the plan's start and next
    occurrence (they stored the start typed), across the night clocks go back; a line that
    never comes or whose first time is beyond a year is refused, nothing stored."""
    from bot.services import announcements
    from storage.models import NetworkChannel

    clock.set(paris(2027, 10, 29, 12, 0))  # Friday
    services = Services(config, engine=sessions.kw["bind"], sessions=sessions, clock=clock)
    posted, post = _recording_post()

    try:
        series = await services.calendar.plan_poll(guild_id=1, channel_id=2, author_id=3, payload=PAYLOAD,
                                                   start="samedi 12 h", repeat="30 2 * * 0")
        assert local(series.start_at) == local(series.next_at) == "2027-10-31 02:30 +0200"
        assert [local(w) for w in services.calendar.following(series)] == [
            "2027-11-07 02:30 +0100", "2027-11-14 02:30 +0100"]
        ran = await _run_occurrences(services, clock, series.id, lambda: services.calendar.run_poll(series.id, post), 2)
        assert ran == ["2027-10-31 02:30 +0200", "2027-11-07 02:30 +0100"]
        async with sessions.begin() as session:
            session.add(NetworkChannel(channel_id=20, guild_id=1, language="fr", name="annonces"))
        draft = await announcements.create_draft(services.sessions, guild_id=1, author_id=3, title="Veille",
                                                 body="La veille.", now=clock())
        monthly = await services.calendar.plan_announcement(
            draft.id, when=paris(2027, 11, 10, 9, 0), repeat="0 9 1 * *", actor_id=3)
        assert monthly.start_at == monthly.next_at == paris(2027, 12, 1, 9, 0)
        for repeat, key in (("0 9 31 2 *", "calendar.error.rule_never"), ("0 9 29 2 *", "calendar.error.rule_too_far")):
            with pytest.raises(InvalidInput) as caught:  # (the next 29 February after March 2028: 2032)
                await services.calendar.plan_poll(guild_id=1, channel_id=2, author_id=3, payload=PAYLOAD,
                                                  start="2028-03-10 09:00", repeat=repeat)
            assert caught.value.key == key
        assert len(await services.calendar.plans()) == 2
    finally:
        await services.aclose(dispose_engine=False)
    assert len(posted) == 2


async def test_the_calendar_names_what_the_monthly_slot_will_really_post(config, sessions, clock):
    """December's extract is out (published by hand), the queue holds January's and later: the
    slot of Monday 7 December posts nothing, and the calendar says so rather than naming
    January's extract (the head of the queue); an overdue extract is named, per language, and
    it is what the slot then posts."""
    from bot.services import extracts
    from storage.models import Extract, NetworkChannel

    clock.set(paris(2026, 12, 1, 12, 0))
    services = Services(config, engine=sessions.kw["bind"], sessions=sessions, clock=clock)
    slot = paris(2026, 12, 7, 10, 0)  # schedule.extract_cron's default: the first Monday, 10:00
    try:
        async with sessions.begin() as session:
            session.add_all([
                NetworkChannel(channel_id=20, guild_id=1, language="fr", name="annonces"),
                NetworkChannel(channel_id=21, guild_id=1, language="en", name="news"),
                Extract(source_key="file:x/decembre.md", title="Décembre", month="2026-12", lang="fr",
                        status="published", published_at=paris(2026, 12, 1, 9, 0)),
                Extract(source_key="file:x/janvier.md", title="Sans mois", month="2027-01", lang="fr"),
                Extract(source_key="file:x/february.md", title="February", month="2027-02", lang="en"),
            ])
        [entry] = [e for e in await services.calendar.upcoming() if e.what.startswith("extract")]
        assert (entry.when, entry.what, entry.title) == (slot, "extract_none", "")

        async with sessions.begin() as session:
            session.add(Extract(source_key="file:x/november.md", title="November", month="2026-11", lang="en"))
        entries = [e for e in await services.calendar.upcoming() if e.what.startswith("extract")]
        assert [(e.when, e.what, e.title) for e in entries] == [(slot, "extract", "November")]
        clock.set(slot)
        outcome = await extracts.run_slot(sessions, None, month="2026-12", now=slot)
        assert [e.title for e in outcome.extracts] == ["November"]
        clock.set(slot + timedelta(hours=1))  # the month is handled: January's slot is next
        entries = [e for e in await services.calendar.upcoming() if e.what.startswith("extract")]
        assert [(e.when, e.what, e.title) for e in entries] == [(paris(2027, 1, 4, 10, 0), "extract", "Sans mois")]
    finally:
        await services.aclose(dispose_engine=False)


def _process(config, clock) -> Services:
    engine = create_engine(config.database.url)
    return Services(config, engine=engine, sessions=session_factory(engine), clock=clock)


PAYLOAD = {"question": "Quel format ?", "options": "Visio; Présentiel", "kind": "single", "deadline": "2j"}


async def test_two_processes_racing_post_an_occurrence_once(config, sessions):
    now = [WINTER]
    first, second = _process(config, lambda: now[0]), _process(config, lambda: now[0])
    posted: list[str] = []

    def poster(services: Services, name: str):
        async def post(poll, nonce, maybe_sent) -> int:  # the occurrence's poll is stored with its claim
            await asyncio.sleep(0.05)  # Discord's answer, while the other process runs
            posted.append(name)
            return 1000 + poll.id
        return post

    try:
        plan = await first.calendar.plan_poll(guild_id=1, channel_id=2, author_id=3, payload=PAYLOAD,
                                              start="demain 9 h", repeat="weekly")
        now[0] = plan.start_at + timedelta(seconds=5)
        outcomes = await asyncio.gather(
            first.calendar.run_poll(plan.id, poster(first, "first")),
            second.calendar.run_poll(plan.id, poster(second, "second")),
        )
        assert len(posted) == 1 and sum(o is not None for o in outcomes) == 1
        now[0] = plan.start_at + timedelta(weeks=1, seconds=5)
        await second.calendar.run_poll(plan.id, poster(second, "second"))
    finally:
        await first.engine.dispose()
        await second.engine.dispose()
    assert len(posted) == 2
    async with sessions() as session:
        runs = list(await session.scalars(select(CalendarRun).order_by(CalendarRun.occurrence_at)))
        next_at = await session.scalar(select(CalendarPlan.next_at))
    assert [r.occurrence_at for r in runs] == [plan.start_at, plan.start_at + timedelta(weeks=1)]
    assert all(r.status == "posted" and r.poll_id for r in runs)
    assert next_at == plan.start_at + timedelta(weeks=2)


class Killed(BaseException):
    """The process dies here (no ``except Exception`` catches it)."""


async def test_an_occurrence_killed_while_posting_is_resumed_once_by_another_process(config, sessions):
    """The first process claims the occurrence, writes its poll, marks it ``sending`` and dies
    in its request; a second process's calendar declares a resume job (due when it was
    claimed), whose run posts it once — told that an earlier attempt may have sent it — and
    later runs of the plan or of the resume do nothing."""
    from bot.services import calendar as calendar_service

    now = [WINTER]
    first, second = _process(config, lambda: now[0]), _process(config, lambda: now[0])
    calls: list[tuple[str, int, str, bool]] = []

    async def dying(poll, nonce, maybe_sent) -> int:
        calls.append(("first", poll.id, nonce, maybe_sent))
        raise Killed

    async def post(poll, nonce, maybe_sent) -> int:
        calls.append(("second", poll.id, nonce, maybe_sent))
        return 1000 + poll.id

    try:
        plan = await first.calendar.plan_poll(guild_id=1, channel_id=2, author_id=3, payload=PAYLOAD,
                                              start="demain 9 h", repeat="weekly")
        now[0] = plan.start_at + timedelta(seconds=5)
        with pytest.raises(Killed):
            await first.calendar.run_poll(plan.id, dying)
        assert await first.calendar.run_poll(plan.id, post) is None, "the occurrence is claimed"
        assert await first.calendar.series(plan.id) == [], "not posted: not yet in the series"
        now[0] = plan.start_at + timedelta(minutes=30)
        declared = calendar_service.feature(poll=_noop, announce=_noop, resume=second.calendar.resume_poll)
        specs = [s for s in await declared.plan(second, now[0]) if s.id.startswith("calendar-resume-")]
        assert [(s.id, s.when) for s in specs] == [
            (calendar_service.resume_job_id(plan.id, plan.start_at), plan.start_at + timedelta(seconds=5))
        ]
        assert specs[0].due(now[0])
        resumed = await second.calendar.resume_poll(plan.id, plan.start_at, post)
        assert await second.calendar.resume_poll(plan.id, plan.start_at, post) is None
        assert await second.calendar.unfinished_polls() == []
    finally:
        await first.engine.dispose()
        await second.engine.dispose()
    [(_, poll_id, nonce, maybe_sent), second_call] = calls
    assert second_call == ("second", poll_id, nonce, True), "the same poll, the same nonce, looked for first"
    assert resumed is not None and resumed.poll_id == poll_id and resumed.error is None
    async with sessions() as session:
        [run] = await session.scalars(select(CalendarRun))
        assert await session.scalar(select(func.count()).select_from(Poll)) == 1
    assert (run.status, run.poll_id) == ("posted", poll_id)


async def test_a_claim_left_without_its_poll_is_resumed_with_a_new_one(config, sessions):
    """A run ``claimed`` with no poll (claimed by a version that wrote the poll after the
    claim, and killed): the resume writes the poll, then posts it (nothing could have been
    sent: it is not looked for)."""
    services = _process(config, lambda: WINTER)
    calls = []

    async def post(poll, nonce, maybe_sent) -> int:
        calls.append((poll.question, maybe_sent))
        return 1000 + poll.id

    try:
        plan = await services.calendar.plan_poll(guild_id=1, channel_id=2, author_id=3, payload=PAYLOAD,
                                                 start="demain 9 h")
        async with services.sessions.begin() as session:
            session.add(CalendarRun(plan_id=plan.id, occurrence_at=plan.start_at, status="claimed",
                                    claimed_at=plan.start_at))
            await session.execute(update(CalendarPlan).values(next_at=None, status="done"))
        services.clock = lambda: plan.start_at + timedelta(hours=2)
        assert [p for p, _, _ in await services.calendar.unfinished_polls()] == [plan.id]
        outcome = await services.calendar.resume_poll(plan.id, plan.start_at, post)
    finally:
        await services.engine.dispose()
    assert calls == [("Quel format ?", False)]
    async with sessions() as session:
        [run] = await session.scalars(select(CalendarRun))
    assert outcome is not None and (run.status, run.poll_id) == ("posted", outcome.poll_id)


async def _noop(*args: object) -> None:
    return None


async def test_a_failed_posting_is_recorded_and_the_series_goes_on(config, sessions):
    services = _process(config, lambda: WINTER)
    try:
        plan = await services.calendar.plan_poll(guild_id=1, channel_id=2, author_id=3, payload=PAYLOAD,
                                                 start="demain 9 h", repeat="weekly")
        services.clock = lambda: plan.start_at + timedelta(minutes=1)

        async def broken(poll, nonce, maybe_sent) -> int:
            raise RuntimeError("channel gone")

        outcome = await services.calendar.run_poll(plan.id, broken)
        assert outcome is not None and "channel gone" in outcome.error
        [planned] = await services.calendar.plans()
        assert planned.next_at == plan.start_at + timedelta(weeks=1)
    finally:
        await services.engine.dispose()
    async with sessions() as session:
        [run] = await session.scalars(select(CalendarRun))
        polls = await session.scalar(select(func.count()).select_from(Poll))
    assert run.status == "failed" and run.poll_id is None and polls == 0, "the unposted poll is dropped"


async def test_duplicate_payload_and_templates_and_privacy(config, sessions):
    services = _process(config, lambda: NOW)
    try:
        draft = services.polls.prepare(guild_id=1, channel_id=2, author_id=3, question="Date ?",
                                       options="Mars; Avril; Mai", kind="multi", max_choices=2, anonymous=False)
        poll = await services.polls.create(draft)
        payload = poll_payload(poll)
        assert payload | {"lang": "fr"} == {
            "question": "Date ?", "options": "Mars\nAvril\nMai", "kind": "multi", "max_choices": 2, "anonymous": False,
            "live_results": True, "role_ids": [], "native": False, "lang": "fr",
        }
        assert await services.calendar.save_template("AG", poll.id, guild_id=1, actor_id=3) is True
        assert await services.calendar.save_template("AG", poll.id, guild_id=1, actor_id=3) is False
        await services.calendar.plan_poll(guild_id=1, channel_id=2, author_id=3, payload=payload, start="demain 9 h")
        [hook] = [h for h in services.privacy if h.feature == "calendar"]  # registered in the container
        mine = await hook.describe(3)
        assert [p["title"] for p in mine["calendar_plans"]] == ["Date ?"]
        assert [t["name"] for t in mine["poll_templates"]] == ["AG"]
        assert await hook.stored(3) == 2
        counts = await services.profiles.stored_counts(3)
        # the plan, the template, the poll and the audit entries: kept without the author, not poll answers
        assert counts.answers == 0 and counts.authored == 7
        forgotten = await hook.forget(3, "unlink")
        assert dict(forgotten.removed) == {"calendar_plans": 1, "poll_templates": 1}
        assert await hook.stored(3) == 0
        assert (await services.calendar.template_payload("AG", guild_id=1))["question"] == "Date ?"
    finally:
        await services.engine.dispose()
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(CalendarPlan).where(CalendarPlan.author_id.is_(None))) == 1


async def test_scheduled_announcements_are_postponed_and_cancelled_by_reference(config, sessions):
    from bot.services import announcements
    from storage.models import Announcement, AuditEntry, NetworkChannel

    services = _process(config, lambda: WINTER)
    try:
        async with sessions.begin() as session:
            session.add(NetworkChannel(channel_id=20, guild_id=1, language="fr", name="annonces"))
        draft = await announcements.create_draft(services.sessions, guild_id=1, author_id=3, title="AG",
                                                 body="Le 12.", now=WINTER)
        await announcements.schedule(services.sessions, draft.id, when=WINTER + timedelta(days=1), now=WINTER,
                                     actor_id=3)
        [entry] = [e for e in await services.calendar.upcoming() if e.what == "announcement"]
        assert (entry.ref, entry.when) == (f"announcement-{draft.id}", WINTER + timedelta(days=1))
        moved = await services.calendar.postpone(entry.ref, "2027-01-15 10:00", actor_id=3)
        assert moved == paris(2027, 1, 15, 10, 0)
        async with sessions() as session:  # the audit says where it was, not the new time twice
            audit = await session.scalar(select(AuditEntry).where(AuditEntry.action == "calendar.postpone"))
        assert audit.details == {"from": (WINTER + timedelta(days=1)).isoformat(), "to": moved.isoformat()}
        assert await services.calendar.cancel(f"annonce {draft.id}", actor_id=3) == "announcement"
        with pytest.raises(InvalidInput):
            await services.calendar.cancel("poll-4", actor_id=3)  # a closing is the poll's own
        with pytest.raises(InvalidInput):
            await services.calendar.cancel("n'importe quoi", actor_id=3)
    finally:
        await services.engine.dispose()
    async with sessions() as session:
        row = await session.get(Announcement, draft.id)
    assert (row.status, row.scheduled_at) == ("cancelled", paris(2027, 1, 15, 10, 0))


async def test_a_closing_moves_with_its_reminder_but_not_a_native_polls(config, sessions):
    from bot.errors import Conflict

    services = _process(config, lambda: WINTER)
    try:
        draft = services.polls.prepare(guild_id=1, channel_id=2, author_id=3, question="Date ?", options="A; B",
                                       deadline="2j", reminder="1j")
        poll = await services.polls.create(draft)
        await services.polls.get(poll.id)  # cached
        moved = await services.calendar.postpone(f"poll-{poll.id}", "2027-01-17 18:00", actor_id=3)
        after = await services.polls.get(poll.id)
        assert after.deadline_at == moved == paris(2027, 1, 17, 18, 0)
        assert after.reminder_at == moved - timedelta(days=1)
        native = await services.polls.create(services.polls.prepare(
            guild_id=1, channel_id=2, author_id=3, question="Natif ?", options="A; B", native=True, deadline="1j"))
        with pytest.raises(Conflict) as caught:
            await services.calendar.postpone(f"poll-{native.id}", "2027-01-14 18:00", actor_id=3)
        assert caught.value.key == "calendar.error.native_closing"
        with pytest.raises(InvalidInput):
            await services.calendar.postpone(f"poll-{poll.id}", "2027-03-30 18:00", actor_id=3)  # past 32 days
    finally:
        await services.engine.dispose()


async def test_a_poll_planned_by_a_forgotten_moderator_is_posted_with_no_author(config, sessions):
    from bot.services.calendar import CalendarHook

    services = _process(config, lambda: WINTER)
    try:
        plan = await services.calendar.plan_poll(guild_id=1, channel_id=2, author_id=3, payload=PAYLOAD,
                                                 start="demain 9 h")
        await CalendarHook(services.sessions).forget(3, "unlink")
        services.clock = lambda: plan.start_at + timedelta(seconds=1)
        posted = []

        async def post(poll, nonce, maybe_sent) -> int:
            posted.append(poll)
            return 1000 + poll.id

        await services.calendar.run_poll(plan.id, post)
    finally:
        await services.engine.dispose()
    [poll] = posted
    assert poll.author_id is None


async def test_migration_0006_keeps_the_announcements_and_downgrades(engine):
    """0006 adds the calendar's tables and the announcements' version, image and edit columns
    (an existing announcement gets no other version); the downgrade drops them and keeps it."""
    from sqlalchemy import inspect, text

    from storage.db import downgrade, upgrade

    async def schema() -> tuple[set[str], set[str]]:
        async with engine.connect() as conn:
            return await conn.run_sync(lambda c: (
                set(inspect(c).get_table_names()), {col["name"] for col in inspect(c).get_columns("announcements")}
            ))

    ours = {"calendar_plans", "calendar_runs", "poll_templates"}
    columns = {"versions", "image_name", "image_type", "image_data", "edited_at"}
    await downgrade(engine, "0005")
    tables, announcement_columns = await schema()
    assert ours & tables == set() and columns & announcement_columns == set()
    async with engine.begin() as conn:
        await conn.execute(text(
            "INSERT INTO announcements (id, guild_id, author_id, title, body, lang, status, created_at)"
            " VALUES (4, 1, 7, 'AG', 'Le 12.', 'fr', 'published', :now)"
        ), {"now": WINTER})
    await upgrade(engine, "0006")
    tables, announcement_columns = await schema()
    assert ours <= tables and columns <= announcement_columns
    async with engine.connect() as conn:
        row = (await conn.execute(text("SELECT title, versions, image_data FROM announcements"))).one()
    assert row[0] == "AG" and row[1] in ({}, "{}") and row[2] is None
    await downgrade(engine, "0005")
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM announcements"))).scalar() == 1
    await upgrade(engine)


def _recording_post():
    """The ids of the polls posted, and a ``post`` for ``run_poll`` that records them."""
    posted: list[int] = []

    async def post(poll, nonce, maybe_sent) -> int:
        posted.append(poll.id)
        return 1000 + poll.id

    return posted, post
