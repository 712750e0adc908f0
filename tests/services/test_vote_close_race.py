"""A vote racing the close (issue 10, item 2), on a real database (SQLite, or PostgreSQL with
RESEAU_TEST_DATABASE_URL): many trials of 30 members voting while a moderator closes the poll
and the closing results are read at once, as the closing message does.

In every trial: every vote confirmed is in the closing results and stored; every vote refused
(``poll.error.closed``, the usual message) is not stored; the closing results are exactly the
stored answers — the closing message and a later export agree.  On SQLite this failed before
the vote batch took the write lock before reading the poll's status (3 to 9 trials in 200)."""

from __future__ import annotations

import asyncio
import random

import pytest
from sqlalchemy import select

from bot.errors import Conflict
from bot.i18n import Catalogue
from bot.services.polls import PollService
from storage.models import Answer

CATALOGUE = Catalogue.load()
TRIALS = 200
VOTERS = 30
SPREAD = 0.010  # seconds over which the votes and the close of one trial arrive (the close takes a few ms)


@pytest.fixture
def service(sessions, config, clock) -> PollService:
    return PollService.from_config(sessions, config, CATALOGUE, clock=clock)


async def _stored_voters(sessions, question_id: int) -> set[int]:
    async with sessions() as session:
        rows = await session.scalars(select(Answer.user_id).where(Answer.question_id == question_id))
        return set(rows)


async def _trial(
    service: PollService, sessions, rng: random.Random, trial: int
) -> tuple[list[str], int, int]:
    poll = await service.create(
        service.prepare(
            guild_id=1, channel_id=10, author_id=100, question=f"Race {trial}?", options="A; B", anonymous=False
        )
    )
    await service.get(poll.id)  # the structure cached, as after the first click
    confirmed: set[int] = set()
    refused: set[int] = set()
    closing: set[int] = set()
    problems: list[str] = []

    async def voter(user_id: int) -> None:
        await asyncio.sleep(rng.random() * SPREAD)  # members click at different moments around the close
        option = poll.options[user_id % 2].id
        try:
            await service.vote(poll.id, user_id=user_id, option_id=option, guild_id=1)
        except Conflict as exc:
            assert exc.key == "poll.error.closed"
            refused.add(user_id)
        else:
            confirmed.add(user_id)

    async def moderator() -> None:
        await asyncio.sleep(0)  # the close starts with the first clicks
        result = await service.close(poll.id, guild_id=1, actor_id=100)
        assert result.changed
        results = await service.results(poll.id)  # what the closing message shows
        closing.update(u for users in results.voters.values() for u in users)
        if results.respondents != len(closing):  # votes written while the results were read
            problems.append(f"trial {trial}: closing respondents {results.respondents} != voters {len(closing)}")

    base = 10_000 * (trial + 1)
    await asyncio.gather(moderator(), *(voter(base + i) for i in range(VOTERS)))
    stored = await _stored_voters(sessions, poll.question_id)
    if confirmed - closing:
        problems.append(f"trial {trial}: confirmed but not in the closing results: {sorted(confirmed - closing)}")
    if confirmed - stored:
        problems.append(f"trial {trial}: confirmed but not stored: {sorted(confirmed - stored)}")
    if refused & stored:
        problems.append(f"trial {trial}: refused but stored: {sorted(refused & stored)}")
    if closing != stored:
        problems.append(f"trial {trial}: closing results {len(closing)} != stored answers {len(stored)}")
    assert confirmed | refused == {base + i for i in range(VOTERS)}
    return problems, len(confirmed), len(refused)


async def test_a_vote_racing_the_close_is_either_counted_or_refused(service, sessions):
    rng = random.Random(20260302)
    problems: list[str] = []
    raced = 0  # trials where some votes were confirmed and others refused: the close fell among them
    for trial in range(TRIALS):
        found, confirmed, refused = await _trial(service, sessions, rng, trial)
        problems += found
        raced += confirmed > 0 and refused > 0
    assert not problems, f"{len(problems)} problems in {TRIALS} trials, e.g. {problems[:5]}"
    assert raced >= TRIALS // 20, f"the close fell among the votes in only {raced} of {TRIALS} trials"


async def test_a_vote_after_the_close_is_refused_even_by_a_process_that_saw_it_open(service, sessions, config, clock):
    """A second process (its own service, its cache saying "open") votes after the first closed
    the poll: refused with the usual message, nothing stored."""
    other = PollService.from_config(sessions, config, CATALOGUE, clock=clock)
    poll = await service.create(
        service.prepare(guild_id=1, channel_id=10, author_id=100, question="Late?", options="A; B")
    )
    assert (await other.get(poll.id)).is_open
    await service.close(poll.id, guild_id=1, actor_id=100)
    with pytest.raises(Conflict) as refused:
        await other.vote(poll.id, user_id=7, option_id=poll.options[0].id, guild_id=1)
    assert refused.value.key == "poll.error.closed"
    assert "clos" in CATALOGUE.t("poll.error.closed", "fr") and "closed" in CATALOGUE.t("poll.error.closed", "en")
    assert await _stored_voters(sessions, poll.question_id) == set()
    assert (await service.results(poll.id)).respondents == 0
