"""The plain store (``storage.plain``) reads and writes what the repositories do, on SQLite and on
PostgreSQL: each statement is checked against the repository it stands for, on rows written
through the ORM (and the other way round for its writes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from storage import models
from storage.db import current_revision
from storage.plain import ChannelRow, PlainStore, PollTimes
from storage.repositories import ChannelRepository, DeliveryRepository, ExtractRepository, StateRepository
from storage.repositories.calendar import CalendarRepository
from storage.values import RUN_CLAIMED, RUN_POSTED, RUN_SENDING

T0 = datetime(2026, 3, 2, 10, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
def plain(database_url: str) -> PlainStore:
    return PlainStore(database_url)


async def test_the_schema_version_and_the_state_are_the_repositories(plain, engine, sessions):
    assert await plain.revision() == await current_revision(engine) is not None
    assert await plain.ping() is True
    assert await plain.state("commands_hash") is None
    await plain.set_state("commands_hash", "abc", T0)
    async with sessions() as session:
        assert await StateRepository(session).get("commands_hash") == "abc"
    async with sessions.begin() as session:
        await StateRepository(session).set("commands_hash", "déf")
    assert await plain.state("commands_hash") == "déf"
    await plain.set_state("commands_hash", "ghi", T0 + timedelta(seconds=1))  # an update, not a second row
    async with sessions() as session:
        row = await session.get(models.BotState, "commands_hash")
        assert (row.value, row.updated_at) == ("ghi", T0 + timedelta(seconds=1))


async def test_the_channels_mirror_disables_what_left_and_updates_what_stayed(plain, sessions):
    await plain.replace_channels([ChannelRow(11, 1, "fr", None, "général"), ChannelRow(12, 1, "en", 99, "news")])
    await plain.replace_channels([ChannelRow(12, 2, "fr", None, "actus"), ChannelRow(13, 2, "en", 7, "")])
    async with sessions() as session:
        rows = await ChannelRepository(session).all(enabled_only=False)
        enabled = {c.channel_id for c in await ChannelRepository(session).all()}
    assert [(c.channel_id, c.guild_id, c.language, c.mention_role_id, c.name, c.enabled) for c in rows] == [
        (11, 1, "fr", None, "général", False), (12, 2, "fr", None, "actus", True), (13, 2, "en", 7, "", True),
    ]
    assert enabled == {12, 13}


async def test_an_unnamed_channel_takes_discords_name_and_keeps_it_through_the_mirror(plain, sessions):
    await plain.replace_channels([ChannelRow(11, 1, "fr", None, ""), ChannelRow(12, 1, "en", None, "news")])
    await plain.name_channels({11: "annonces-réseau"})
    await plain.replace_channels([ChannelRow(11, 1, "fr", None, ""), ChannelRow(12, 1, "en", None, "actus")])
    async with sessions() as session:
        names = {c.channel_id: c.name for c in await ChannelRepository(session).all()}
    # the configuration's name wins when it gives one; an unnamed channel keeps Discord's
    assert names == {11: "annonces-réseau", 12: "actus"}
    await plain.name_channels({11: "annonces"})
    await plain.name_channels({})  # nothing to name: nothing written
    async with sessions() as session:
        assert {c.channel_id: c.name for c in await ChannelRepository(session).all()}[11] == "annonces"


async def test_what_the_scheduler_plans_from_is_what_the_repositories_read(plain, sessions):
    async with sessions.begin() as session:
        polls = [
            models.Poll(guild_id=1, channel_id=10, title="a", status="open", deadline_at=T0 + timedelta(days=2),
                        reminder_at=T0 + timedelta(days=1), reminder_sent=False),
            models.Poll(guild_id=1, channel_id=10, title="b", status="open", deadline_at=None, reminder_at=None,
                        reminder_sent=True),
            models.Poll(guild_id=1, channel_id=10, title="c", status="closed", deadline_at=T0),
        ]
        session.add_all(polls)
        announcements = [
            models.Announcement(guild_id=1, title="later", body="x", status="scheduled",
                                scheduled_at=T0 + timedelta(hours=5)),
            models.Announcement(guild_id=1, title="sooner", body="x", status="scheduled", scheduled_at=T0),
            models.Announcement(guild_id=1, title="draft", body="x", status="draft"),
        ]
        session.add_all(announcements)
        plans = [
            models.CalendarPlan(kind="poll", guild_id=1, channel_id=10, title="p", start_at=T0,
                                next_at=T0 + timedelta(days=7), recurrence="weekly"),
            models.CalendarPlan(kind="announcement", guild_id=1, title="q", start_at=T0, next_at=T0),
            models.CalendarPlan(kind="poll", guild_id=1, title="done", start_at=T0, next_at=None),
            models.CalendarPlan(kind="poll", guild_id=1, title="cancelled", start_at=T0, next_at=T0,
                                status="cancelled"),
        ]
        session.add_all(plans)
        extract = models.Extract(source_key="k", title="t", month="2026-03", question="Et vous ?")
        session.add(extract)
        await session.flush()
        session.add_all([
            models.CalendarRun(plan_id=plans[0].id, occurrence_at=T0, status=RUN_SENDING, claimed_at=T0),
            models.CalendarRun(plan_id=plans[0].id, occurrence_at=T0 - timedelta(days=7), status=RUN_CLAIMED,
                               claimed_at=T0 - timedelta(minutes=1)),
            models.CalendarRun(plan_id=plans[0].id, occurrence_at=T0 - timedelta(days=14), status=RUN_POSTED,
                               claimed_at=T0 - timedelta(days=14)),
            models.CalendarRun(plan_id=plans[1].id, occurrence_at=T0, status=RUN_CLAIMED, claimed_at=T0),
            models.Delivery(extract_id=extract.id, guild_id=1, channel_id=10, status="pending", nonce="n1", attempts=2),
            models.Delivery(extract_id=extract.id, guild_id=1, channel_id=11, status="pending", nonce="n2", attempts=0),
            models.Delivery(extract_id=extract.id, guild_id=1, channel_id=12, status="sent", nonce="n3", attempts=1),
            models.Delivery(extract_id=extract.id, guild_id=1, channel_id=13, status="sent", nonce="n4", attempts=1),
        ])
        session.add(models.FollowupPosting(extract_id=extract.id, channel_id=13, claimed_at=T0))

    async with sessions() as session:
        from storage.repositories import AnnouncementRepository, PollRepository

        open_polls = await PollRepository(session).open_polls()
        scheduled = await AnnouncementRepository(session).scheduled()
        active = await CalendarRepository(session).active()
        unfinished = await CalendarRepository(session).unfinished_runs("poll")
        pending = await DeliveryRepository(session).pending()
        due = await ExtractRepository(session).followups_due()

    assert await plain.open_polls() == [
        PollTimes(p.id, p.deadline_at, p.reminder_at, p.reminder_sent) for p in open_polls
    ] == [PollTimes(polls[0].id, T0 + timedelta(days=2), T0 + timedelta(days=1), False),
          PollTimes(polls[1].id, None, None, True)]
    assert await plain.scheduled_announcements() == [(a.id, a.scheduled_at) for a in scheduled] == [
        (announcements[1].id, T0), (announcements[0].id, T0 + timedelta(hours=5))]
    assert [(p.id, p.kind, p.next_at) for p in await plain.active_plans()] == [
        (p.id, p.kind, p.next_at) for p in active] == [(plans[1].id, "announcement", T0),
                                                       (plans[0].id, "poll", T0 + timedelta(days=7))]
    assert await plain.unfinished_runs("poll") == [(r.plan_id, r.occurrence_at, r.claimed_at) for r in unfinished] == [
        (plans[0].id, T0 - timedelta(days=7), T0 - timedelta(minutes=1)), (plans[0].id, T0, T0)]
    assert await plain.deliveries_to_retry() == [(d.id, d.attempts) for d in pending if d.attempts > 0]
    assert len(await plain.deliveries_to_retry()) == 1
    assert await plain.work_at_ready() == (len(pending), len(due)) == (2, 1)
    assert all(t.tzinfo is UTC for p in await plain.open_polls() for t in (p.deadline_at, p.reminder_at) if t)


def test_an_sqlite_database_in_memory_is_refused():
    with pytest.raises(ValueError, match="SQLite file"):
        PlainStore("sqlite+aiosqlite:///:memory:")


async def test_the_calls_of_one_scope_share_one_postgresql_connection_closed_at_its_end(plain):
    """``one_connection()``: a rebuild of the jobs reads in one connection, not one per feature.
    Calls made at once take turns on it; a call left for after the scope opens its own."""
    import asyncio

    async with plain.one_connection():  # SQLite: no scope, the calls work as before
        await plain.set_state("k", "v", T0)
        assert await asyncio.gather(*(plain.state("k") for _ in range(5))) == ["v"] * 5
    if not plain.postgresql:
        return

    async def backend() -> int:
        return (await plain._run([("SELECT pg_backend_pid()", [])]))[0][0][0]

    async def open_backends() -> set[int]:
        """The store's connections to this database but the one asking."""
        rows = await plain._run([(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'reseau-bot' "
            "AND datname = current_database() AND pid <> pg_backend_pid()", [])])
        return {pid for (pid,) in rows[0]}

    later = asyncio.Event()

    async def after_the_scope() -> int:
        await later.wait()
        return await backend()

    async with plain.one_connection():
        first = await backend()
        pids = await asyncio.gather(*(backend() for _ in range(5)))
        async with plain.one_connection():  # nested: the outer scope's
            inner = await backend()
        assert set(pids) == {inner} == {first}
        left_behind = asyncio.create_task(after_the_scope())
    later.set()
    assert await left_behind != first  # its own connection, not the closed one
    for _ in range(50):  # a closed connection's server process ends just after
        if not await open_backends():
            break
        await asyncio.sleep(0.02)
    assert await open_backends() == set()  # the scope's is closed, and nothing reopened it
