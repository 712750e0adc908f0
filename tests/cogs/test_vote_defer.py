"""Discord's 3 seconds (issue 10, item 9), on SimCord with the real database (SQLite, or
PostgreSQL with RESEAU_TEST_DATABASE_URL).

Another writer holds the database for ~2.5 s (SQLite: its write lock, ``BEGIN IMMEDIATE`` from
another connection; PostgreSQL: the poll's row, ``SELECT … FOR UPDATE``, which the vote's shared
row lock waits for) while a member clicks: the bot defers the interaction (ephemeral
"thinking…") within ~1.6 s, then, once the vote is stored, the confirmation replaces the
"thinking" message; the vote is stored; a second click after the release works as usual (no
defer).  A fast vote is confirmed directly, never deferred.  A vote that cannot be stored is
never confirmed: the follow-up says it was not stored.

The lock is held by a plain thread with its own event loop and engine, outside the bot's loop
and SimCord's settlement; a second thread watches SimCord's record of the interaction and notes,
in real time, when the first response arrived and what it was."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from bot.config import Config, build_config
from cogs.polls.commands import DEFER_AFTER
from storage.db import create_engine
from storage.models import Answer, AnswerChoice
from tests.databases import respondents

HOLD = 2.5  # seconds the other writer holds the database


@pytest.fixture
def config(database_url: str, tmp_path: Path) -> Config:
    """The shared test config without moderator role names (the ``world`` fixture sets the
    moderator role by id): defined here so that this file does not depend on how the shared
    fixture spells moderator roles."""
    raw: dict[str, Any] = {"database": {"url": database_url}}
    return build_config(raw, tmp_path / "config.toml", environ={})


async def create(world, options: str) -> tuple[Any, int]:
    """A poll posted in the French channel through the cog's ``publish`` (what features that
    create polls use; the ``/poll create`` command itself is tested elsewhere): (message, id)."""
    bot = world.env.bot
    cog = bot.get_cog("Polls")
    draft = cog.service.prepare(
        guild_id=world.guild.id,
        channel_id=world.fr.id,
        author_id=world.moderator.id,
        question="Quel format ?",
        options=options,
    )
    poll, _ = await cog.publish(draft, bot.get_channel(world.fr.id))
    await world.env.settle()
    return world.fr.last_message, poll.id


async def answers_of(sessions, user_id: int, poll_id: int) -> list[int]:
    """The member's chosen options in the poll (under their pseudonym: the poll is anonymous)."""
    [respondent] = [r for r, m in (await respondents(sessions, poll_id, [user_id])).items() if m == user_id] or [user_id]
    async with sessions() as session:
        stmt = (
            select(AnswerChoice.option_id)
            .join(Answer, Answer.id == AnswerChoice.answer_id)
            .where(Answer.user_id == respondent)
        )
        return sorted(await session.scalars(stmt))


class Holder(threading.Thread):
    """Another writer: holds the database (see the module docstring) for ``seconds``."""

    def __init__(self, url: str, poll_id: int, seconds: float) -> None:
        super().__init__(daemon=True)
        self.url, self.poll_id, self.seconds = url, poll_id, seconds
        self.holding = threading.Event()
        self.released_at: float | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._hold())
        except BaseException as exc:  # reported by the test
            self.error = exc
            self.holding.set()

    async def _hold(self) -> None:
        engine = create_engine(self.url)
        try:
            async with engine.connect() as conn:
                if make_url(self.url).get_backend_name() == "sqlite":
                    await conn.exec_driver_sql("BEGIN IMMEDIATE")
                else:
                    await conn.execute(
                        text("SELECT id FROM polls WHERE id = :id FOR UPDATE"), {"id": self.poll_id}
                    )
                self.holding.set()
                threading.Event().wait(self.seconds)  # this thread's loop has nothing else to do
                self.released_at = time.perf_counter()
                await conn.rollback()
        finally:
            await engine.dispose()


class FirstResponse(threading.Thread):
    """Notes when SimCord first records a response to an interaction of ``user_id``, and its kind."""

    def __init__(self, backend: Any, user_id: int) -> None:
        super().__init__(daemon=True)
        self.backend, self.user_id = backend, user_id
        self.seen: dict[int, tuple[float, str]] = {}
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            for record in list(self.backend.interactions.values()):
                if record.user_id == self.user_id and record.responded and record.id not in self.seen:
                    self.seen[record.id] = (time.perf_counter(), str(record.response_kind))
            time.sleep(0.002)


async def test_a_slow_vote_is_deferred_then_confirmed_once_stored(world, sessions, database_url):
    message, poll_id = await create(world, "Présentiel; En ligne")
    member = world.member_en
    holder = Holder(database_url, poll_id, HOLD)
    watch = FirstResponse(world.env.backend, member.id)
    watch.start()
    holder.start()
    assert holder.holding.wait(10) and holder.error is None, holder.error
    started = time.perf_counter()
    try:
        vote = await member.click(message, label="En ligne")
    finally:
        watch.done.set()
        holder.join(10)
    finished = time.perf_counter()
    assert holder.error is None, holder.error
    assert holder.released_at is not None and finished >= holder.released_at  # it did wait for the writer

    (first_at, first_kind), = watch.seen.values()
    assert first_kind == "deferred"  # ephemeral "thinking…", not the confirmation
    assert DEFER_AFTER - 0.05 <= first_at - started <= DEFER_AFTER + 0.1 < 3.0
    assert first_at < holder.released_at  # acknowledged while the vote was still waiting
    assert vote.ephemeral  # then the confirmation, once stored, replaced the "thinking" message
    assert "Your choice: **En ligne**" in vote.response.content and vote.followups == []
    assert len(await answers_of(sessions, member.id, poll_id)) == 1

    again = await member.click(message, label="Présentiel")  # after the release: the usual path
    assert not again.deferred and again.ephemeral
    assert "Your choice: **Présentiel**" in again.response.content
    assert len(await answers_of(sessions, member.id, poll_id)) == 1


async def test_a_fast_vote_is_confirmed_at_once_without_defer(world, sessions):
    message, poll_id = await create(world, "Présentiel; En ligne")
    vote = await world.member_en.click(message, label="En ligne")
    assert not vote.deferred and vote.ephemeral
    assert "Your choice: **En ligne**" in vote.response.content
    withdrawn = await world.member_en.click(message, label="Retirer mon vote")
    assert not withdrawn.deferred and withdrawn.response.content == "Your vote has been withdrawn."
    assert await answers_of(sessions, world.member_en.id, poll_id) == []


async def test_a_vote_that_cannot_be_stored_is_never_confirmed(world, sessions, database_url):
    """The answers table gone from under the bot: the write fails; the member reads that the
    answer was not stored — no confirmation, nothing stored."""
    message, poll_id = await create(world, "Présentiel; En ligne")
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql("ALTER TABLE answer_choices RENAME TO answer_choices_away")
        vote = await world.member_en.click(message, label="En ligne")
        assert vote.ephemeral
        assert vote.response.content == "Your answer could not be stored: please try again in a moment."
        async with engine.begin() as conn:
            await conn.exec_driver_sql("ALTER TABLE answer_choices_away RENAME TO answer_choices")
    finally:
        await engine.dispose()
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Answer)) == 0
    assert poll_id


pytestmark = pytest.mark.timeout(120)
