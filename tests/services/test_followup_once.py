"""Issue 10, item 10: an extract's follow-up question is posted once per extract and channel,
even by two processes on one database — the rule is the primary key of ``followup_postings``,
claimed by an insert before posting (it was a lock in one process's memory)."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from bot.services import extracts as service
from bot.services.container import Services
from storage.db import create_engine, session_factory
from storage.models import Delivery, Extract, FollowupPosting, Poll

CHANNELS = ((1001, 2001), (1001, 2002))  # (guild, channel): the extract was posted in both


async def _published_extract_with_a_question(sessions) -> int:
    async with sessions.begin() as session:
        extract = Extract(source_key="novembre.md", title="Les attentes des collectivités", status="published",
                          question="Quel appui attendez-vous du réseau ?", question_kind="single",
                          question_options=["Des formations", "Des échanges entre pairs"])
        session.add(extract)
        await session.flush()
        for guild_id, channel_id in CHANNELS:
            session.add(Delivery(extract_id=extract.id, guild_id=guild_id, channel_id=channel_id, status="sent",
                                 nonce=f"n{channel_id}", message_id=channel_id * 10))
        return extract.id


def _process(config, clock) -> Services:
    """One bot process: its own engine and services on the shared database."""
    engine = create_engine(config.database.url)
    return Services(config, engine=engine, sessions=session_factory(engine), clock=clock)


def _poster(services: Services, posted: list[tuple[str, int, int]], name: str):
    """What the Discord side does for a follow-up: store the poll, then post it (a network round
    trip, during which the other process runs)."""

    async def post(item: service.FollowUp) -> int:
        polls = services.polls
        draft = polls.prepare(guild_id=item.guild_id, channel_id=item.channel_id, author_id=1,
                              question=item.question, kind=item.kind, options=list(item.options),
                              lang="fr", extract_id=item.extract_id)
        poll = await polls.create(draft)
        await asyncio.sleep(0.05)  # Discord's answer to the post
        posted.append((name, item.extract_id, item.channel_id))
        return poll.id

    return post


async def test_two_processes_racing_post_each_follow_up_once(config, sessions, clock):
    extract_id = await _published_extract_with_a_question(sessions)
    first, second = _process(config, clock), _process(config, clock)
    posted: list[tuple[str, int, int]] = []
    try:
        counts = await asyncio.gather(
            service.post_followups(first.sessions, _poster(first, posted, "first"), now=clock),
            service.post_followups(second.sessions, _poster(second, posted, "second"), now=clock),
        )
        again = await service.post_followups(second.sessions, _poster(second, posted, "second"), now=clock)
    finally:
        await first.engine.dispose()
        await second.engine.dispose()
    assert sorted((e, c) for _, e, c in posted) == [(extract_id, c) for _, c in CHANNELS], "once per channel"
    assert sum(counts) == len(CHANNELS) and again == 0
    async with sessions() as session:
        polls = list(await session.execute(select(Poll.extract_id, Poll.channel_id, Poll.id).order_by(Poll.id)))
        claims = {(c.extract_id, c.channel_id): c.poll_id for c in await session.scalars(select(FollowupPosting))}
    # one poll per channel; which process created its poll first (the lower id) is the race's
    assert sorted((e, c) for e, c, _ in polls) == [(extract_id, c) for _, c in CHANNELS]
    assert claims == {(e, c): poll_id for e, c, poll_id in polls}, "each claim names the poll posted"


async def test_a_posting_that_fails_releases_its_claim_and_is_posted_next_time(config, sessions, clock):
    extract_id = await _published_extract_with_a_question(sessions)
    services = _process(config, clock)
    posted: list[tuple[str, int, int]] = []
    post = _poster(services, posted, "bot")
    failures = [CHANNELS[1][1]]  # the second channel's first posting fails

    async def flaky(item: service.FollowUp) -> int:
        if item.channel_id in failures:
            failures.remove(item.channel_id)
            raise RuntimeError("Discord is down")
        return await post(item)

    try:
        assert await service.post_followups(services.sessions, flaky, now=clock) == 1
        async with sessions() as session:
            assert await session.scalar(select(func.count()).select_from(FollowupPosting)) == 1
        assert await service.post_followups(services.sessions, flaky, now=clock) == 1
        assert await service.post_followups(services.sessions, flaky, now=clock) == 0
    finally:
        await services.engine.dispose()
    assert sorted(c for _, _, c in posted) == [c for _, c in CHANNELS] and {e for _, e, _ in posted} == {extract_id}


async def test_the_migration_claims_the_follow_ups_already_posted_and_downgrades(engine):
    """0003: ``followup_postings`` starts with a claim for every follow-up poll posted before it
    (so none is posted again), ``forgotten_members`` starts empty; the downgrade drops both and
    keeps the polls."""
    from datetime import UTC, datetime

    from sqlalchemy import inspect, text

    from storage.db import downgrade, upgrade

    async def tables() -> set[str]:
        async with engine.connect() as conn:
            return await conn.run_sync(lambda c: set(inspect(c).get_table_names()))

    await downgrade(engine, "0002")
    assert {"followup_postings", "forgotten_members"} & await tables() == set()
    now = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    async with engine.begin() as conn:
        await conn.execute(text(
            "INSERT INTO extracts (id, source_key, title, intro, body, tags, lang, status, question_options,"
            " created_at, updated_at) VALUES (5, 'k', 't', '', '', '[]', 'fr', 'published', '[]', :now, :now)"
        ), {"now": now})
        for poll_id, channel_id, extract_id in ((1, 2001, 5), (2, 2002, 5), (3, 2001, None)):
            await conn.execute(text(
                "INSERT INTO polls (id, guild_id, channel_id, author_id, extract_id, title, native, anonymous,"
                " live_results, allowed_role_ids, lang, status, reminder_sent, created_at)"
                " VALUES (:id, 1, :channel, 1, :extract, 'p', false, true, true, '[]', 'fr', 'open', false, :now)"
            ), {"id": poll_id, "channel": channel_id, "extract": extract_id, "now": now})
    await upgrade(engine, "0003")
    async with engine.connect() as conn:
        claims = (await conn.execute(text(
            "SELECT extract_id, channel_id, poll_id FROM followup_postings ORDER BY channel_id"
        ))).all()
        assert claims == [(5, 2001, 1), (5, 2002, 2)]
        assert (await conn.execute(text("SELECT count(*) FROM forgotten_members"))).scalar() == 0
    await downgrade(engine, "0002")
    assert {"followup_postings", "forgotten_members"} & await tables() == set()
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM polls"))).scalar() == 3
    await upgrade(engine)
