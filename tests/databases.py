"""A migrated database from a URL, shared by tests/conftest.py and bench/bench_polls.py."""

from __future__ import annotations

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


async def answer_rows(sessions, poll_id: int) -> list[tuple[int | None, int | None]]:
    """(member, option) of every answer stored for a poll, one row per chosen option (option None
    for an answer without a choice), as the database holds them."""
    from sqlalchemy import select

    from storage.models import Answer, AnswerChoice, Question

    async with sessions() as session:
        rows = await session.execute(
            select(Answer.user_id, AnswerChoice.option_id)
            .join(Question, Question.id == Answer.question_id)
            .join(AnswerChoice, AnswerChoice.answer_id == Answer.id, isouter=True)
            .where(Question.poll_id == poll_id)
        )
        return [tuple(row) for row in rows.all()]
