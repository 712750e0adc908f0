"""The vote path's one-trip store (issue 15, item 1) on a real database (SQLite, or PostgreSQL
with RESEAU_TEST_DATABASE_URL), where it can go wrong: several processes changing one answer.

Each :class:`PollService` below stands for one process — its own vote store, connection and (on
PostgreSQL) its own memory of the answers' versions.  A change made by another process, or by a
path that does not go through the store (a withdrawal, ``/forget-me``), must be read again, never
written over; and the portable path (a batch on a pooled connection) gives the same answers."""

from __future__ import annotations

import asyncio
import random

import pytest
from sqlalchemy import select

from bot.errors import Conflict
from bot.i18n import Catalogue
from bot.services.polls import PollService
from storage.models import Answer, AnswerChoice
from storage.repositories.votes import PgVoteStore, SqliteVoteStore

CATALOGUE = Catalogue.load()


def process(sessions, config, clock, *, store: bool = True) -> PollService:
    service = PollService.from_config(sessions, config, CATALOGUE, clock=clock)
    service.use_vote_store = store
    return service


@pytest.fixture
async def two(sessions, config, clock):
    first, second = process(sessions, config, clock), process(sessions, config, clock)
    yield first, second
    await first.aclose()
    await second.aclose()


async def stored(sessions, question_id: int) -> dict[int, set[int]]:
    async with sessions() as session:
        rows = await session.execute(
            select(Answer.user_id, AnswerChoice.option_id)
            .join(AnswerChoice, AnswerChoice.answer_id == Answer.id, isouter=True)
            .where(Answer.question_id == question_id)
        )
        out: dict[int, set[int]] = {}
        for user_id, option_id in rows:
            out.setdefault(user_id, set())
            if option_id is not None:
                out[user_id].add(option_id)
        return out


async def multi_poll(service: PollService, options: int = 5):
    draft = service.prepare(
        guild_id=1, channel_id=10, author_id=100, question="Quels thèmes ?",
        options=";".join(f"Thème {i}" for i in range(options)), kind="multi", max_choices=options,
        anonymous=False,
    )
    return await service.create(draft)


async def test_each_database_gets_its_one_trip_store(two, database_url):
    first, _ = two
    poll = await multi_poll(first)
    await first.vote(poll.id, user_id=7, option_id=poll.options[0].id)
    expected = SqliteVoteStore if database_url.startswith("sqlite") else PgVoteStore
    assert isinstance(first._vote_store(), expected)


async def test_two_processes_taking_turns_on_one_answer_lose_no_toggle(two, sessions):
    first, second = two
    poll = await multi_poll(first)
    o = [option.id for option in poll.options]
    assert (await first.vote(poll.id, user_id=7, option_id=o[0])).option_ids == (o[0],)
    assert (await second.vote(poll.id, user_id=7, option_id=o[1])).option_ids == (o[0], o[1])
    # the first process remembers {o0}: its next toggle must start from {o0, o1}
    assert (await first.vote(poll.id, user_id=7, option_id=o[2])).option_ids == (o[0], o[1], o[2])
    result = await second.vote(poll.id, user_id=7, option_id=o[0])
    assert result.option_ids == (o[1], o[2]) and result.changed
    assert await stored(sessions, poll.question_id) == {7: {o[1], o[2]}}


async def test_an_answer_withdrawn_elsewhere_is_read_again(two, sessions):
    first, second = two
    poll = await multi_poll(first)
    o = [option.id for option in poll.options]
    await first.vote(poll.id, user_id=7, option_id=o[0])
    await first.vote(poll.id, user_id=7, option_id=o[1])
    withdrawn = await second.withdraw(poll.id, user_id=7)  # a path outside the store: the row is deleted
    assert withdrawn.changed
    result = await first.vote(poll.id, user_id=7, option_id=o[3])
    assert result.option_ids == (o[3],) and result.changed
    assert await stored(sessions, poll.question_id) == {7: {o[3]}}
    # toggled off again by the other process, then on by the first: never a stale write
    assert (await second.vote(poll.id, user_id=7, option_id=o[3])).withdrawn
    assert await stored(sessions, poll.question_id) == {}
    assert (await first.vote(poll.id, user_id=7, option_id=o[4])).option_ids == (o[4],)
    assert await stored(sessions, poll.question_id) == {7: {o[4]}}


@pytest.mark.parametrize("store", [True, False], ids=["one-trip-store", "pooled-connection"])
async def test_concurrent_toggles_from_two_processes_all_count(sessions, config, clock, store):
    """Both processes toggle options of the same members at the same time: each member ends with
    exactly the options toggled an odd number of times, and every vote's result is one of the
    states the answer went through."""
    first, second = process(sessions, config, clock, store=store), process(sessions, config, clock, store=store)
    try:
        poll = await multi_poll(first)
        o = [option.id for option in poll.options]
        rng = random.Random(15)
        members = [7, 8, 9]
        clicks = [(rng.choice((first, second)), rng.choice(members), rng.choice(o)) for _ in range(120)]

        async def click(service: PollService, member: int, option: int) -> None:
            await asyncio.sleep(rng.random() * 0.005)
            await service.vote(poll.id, user_id=member, option_id=option)

        await asyncio.gather(*(click(*c) for c in clicks))
        expected: dict[int, set[int]] = {}
        for _service, member, option in clicks:
            expected.setdefault(member, set()).symmetric_difference_update({option})
        assert await stored(sessions, poll.question_id) == {m: s for m, s in expected.items() if s}
    finally:
        await first.aclose()
        await second.aclose()


async def test_a_vote_after_another_process_closed_the_poll_is_refused(two, sessions):
    first, second = two
    poll = await multi_poll(first)
    await first.vote(poll.id, user_id=7, option_id=poll.options[0].id)
    await second.close(poll.id, guild_id=1, actor_id=100)
    first._forget(poll.id)  # as after a restart: the structure is read again, the status in the write
    with pytest.raises(Conflict):
        await first.vote(poll.id, user_id=8, option_id=poll.options[1].id)
    assert await stored(sessions, poll.question_id) == {7: {poll.options[0].id}}


async def test_a_vote_store_whose_connection_died_reconnects_and_loses_no_vote(two, sessions, database_url):
    """The PostgreSQL store's own connection is ended by the server while idle (a restart, an
    administrator): the next vote is written on a fresh connection from the pool.  (Cut in the
    middle of a statement, that batch fails — its members are told it was not stored — and the
    next batch takes a fresh connection.)"""
    if database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's connection (SQLite's store opens a file)")
    from sqlalchemy import text

    first, _ = two
    poll = await multi_poll(first)
    o = [option.id for option in poll.options]
    await first.vote(poll.id, user_id=7, option_id=o[0])
    pid = await (await first._vote_store()._driver()).fetchval("SELECT pg_backend_pid()")
    async with sessions.begin() as session:
        assert await session.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    await asyncio.sleep(0.2)  # the server's goodbye reaches the idle connection
    outcomes: list[object] = []
    for option in (o[1], o[2]):
        try:
            outcomes.append((await first.vote(poll.id, user_id=7, option_id=option)).option_ids)
        except Exception as exc:  # noqa: BLE001 — the vote on the dead connection
            outcomes.append(type(exc).__name__)
    # asyncpg saw the connection closed while it was idle: nothing was sent on it, so the store
    # takes a fresh one before the vote, and no vote fails
    assert outcomes == [(o[0], o[1]), (o[0], o[1], o[2])]
    assert await stored(sessions, poll.question_id) == {7: {o[0], o[1], o[2]}}


@pytest.mark.parametrize("pauses", [True, False], ids=["bursts", "no-pause"])
async def test_sqlite_votes_keep_the_write_ahead_log_short_without_checkpointing_in_a_vote(
    two, database_url, pauses
):
    """The vote connection never checkpoints in a commit (that fsync was the tail of the votes'
    latency): the checkpoint thread does, between bursts; and when votes come without a pause
    (a checkpoint beside them never reaches the log's end), the vote thread itself does past
    ``wal_limit`` — the log stays short however many votes go by."""
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's write-ahead log")
    import os

    first, _ = two
    poll = await multi_poll(first)
    store = first._vote_store()
    store.wal_limit = 4 * 2**20  # before its connection opens
    if not pauses:
        # the vote thread's own checkpoints, alone: a checkpoint beside them holds the checkpoint
        # lock for as long as the disk takes to fsync — under CI's load, for most of the 2,000
        # batches (a 40 MiB log once, 3 checkpoints inline) — and the votes never wait for it
        store._checkpointing = True
    for member in range(2000):  # each its own batch: one after the other
        await first.vote(poll.id, user_id=10_000 + member, option_id=poll.options[member % 5].id)
        if pauses and member % 50 == 49:
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.5)  # a checkpoint handed over by the last batches finishes
    checkpoints = store.checkpoints
    assert store._executor.submit(lambda: store._conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]).result() == 0
    wal = os.path.getsize(store.path + "-wal")
    # 2,000 commits of a few 4 KiB pages each: ~58 MiB of log without checkpoints; with them, the
    # log starts again (and shrinks to journal_size_limit) every ~100 batches past wal_limit
    assert checkpoints["beside" if pauses else "inline"] >= 1, checkpoints
    assert wal < 12 * 2**20, f"write-ahead log of {wal / 2**20:.1f} MiB ({checkpoints})"


async def test_sqlite_votes_go_on_while_a_long_reader_holds_the_log(two, database_url, tmp_path):
    """An export reading for minutes holds a snapshot: no checkpoint can start the log again
    meanwhile.  Past ``wal_limit`` the vote thread checkpoints what it can without waiting — never
    through the 30 s busy timeout, which would hold every vote behind it (this test would then
    take tens of minutes and hit pytest's timeout)."""
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's write-ahead log")
    import sqlite3

    first, _ = two
    poll = await multi_poll(first)
    store = first._vote_store()
    store.wal_limit = 2**20  # before its connection opens
    await first.vote(poll.id, user_id=9, option_id=poll.options[0].id)
    reader = sqlite3.connect(store.path, isolation_level=None)
    try:
        reader.execute("BEGIN")
        assert reader.execute("SELECT count(*) FROM answers").fetchone()[0] == 1  # its snapshot, kept
        for member in range(2500):
            await first.vote(poll.id, user_id=10_000 + member, option_id=poll.options[member % 5].id)
        assert store.checkpoints["inline"] >= 10  # tried, and gave up quickly, each time
        assert reader.execute("SELECT count(*) FROM answers").fetchone()[0] == 1
    finally:
        reader.close()
    assert len(await stored(first.sessions, poll.question_id)) == 2501
