"""A migrated database from a URL, shared by tests/conftest.py and bench/bench_polls.py."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import text

from storage.db import create_engine, upgrade


async def migrate(url: str, *, empty_first: bool = False) -> None:
    """Migrate the database at ``url`` to the latest revision; with ``empty_first`` (PostgreSQL)
    drop and recreate its ``public`` schema before, so that nothing of an earlier run is left."""
    engine = create_engine(url)
    try:
        if empty_first:
            async with engine.begin() as conn:
                await conn.execute(text("DROP SCHEMA public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
        await upgrade(engine)
    finally:
        await engine.dispose()


async def answer_rows(sessions, poll_id: int, members: Iterable[int] = ()) -> list[tuple[int | None, int | None]]:
    """(respondent, option) of every answer stored for a poll, one row per chosen option (option
    None for an answer without a choice), as the database holds them.

    An anonymous poll stores a pseudonym per member, never the id: with ``members``, a stored
    pseudonym of one of them in this poll reads as that member's id (the test can then say whose
    answer it is), and finding one of their plain ids in an anonymous poll fails the test."""
    from sqlalchemy import select

    from storage.models import Answer, AnswerChoice, Question

    async with sessions() as session:
        rows = [tuple(row) for row in (await session.execute(
            select(Answer.user_id, AnswerChoice.option_id)
            .join(Question, Question.id == Answer.question_id)
            .join(AnswerChoice, AnswerChoice.answer_id == Answer.id, isouter=True)
            .where(Question.poll_id == poll_id)
        )).all()]
    whose = await respondents(sessions, poll_id, members, stored={user_id for user_id, _ in rows})
    return [(whose.get(user_id, user_id), option_id) for user_id, option_id in rows]


async def respondents(sessions, poll_id: int, members: Iterable[int], *, stored: Iterable[int | None] = ()) -> dict[int, int]:
    """Respondent stored in the poll's answers → member, for ``members``: in a named poll each
    member is their own id; in an anonymous one their pseudonym (computed with the key the bot
    keeps).  ``stored``: respondents found in the poll's answers — one of the members' plain ids
    among them in an anonymous poll fails the test."""
    from sqlalchemy import select

    from bot.services.privacy import answer_pseudonym, pseudonym_scope
    from storage.models import BotState, Poll
    from storage.repositories.forgotten import ANSWER_KEY

    async with sessions() as session:
        anonymous, campaign_id = (await session.execute(
            select(Poll.anonymous, Poll.campaign_id).where(Poll.id == poll_id))).one()
        key = await session.scalar(select(BotState.value).where(BotState.key == ANSWER_KEY))
    members = set(members)
    if not anonymous:
        return {m: m for m in members}
    leaked = members & set(stored)
    assert not leaked, f"member ids stored in the anonymous poll {poll_id}: {sorted(leaked)}"
    if key is None:
        return {}
    scope = pseudonym_scope(poll_id, campaign_id)
    return {answer_pseudonym(bytes.fromhex(key), scope, m): m for m in members}
