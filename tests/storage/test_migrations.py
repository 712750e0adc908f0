"""Alembic is the only way the schema changes: upgrade from empty, downgrade, upgrade again,
and the models agree with the migrations."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from storage.db import current_revision, downgrade, ensure_current, head_revision, upgrade
from storage.models import Base


async def test_database_is_at_head(engine):
    await ensure_current(engine)
    assert await current_revision(engine) == head_revision()


async def test_models_match_migrations(engine):
    def diff(conn):
        return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), Base.metadata)

    async with engine.connect() as conn:
        changes = await conn.run_sync(diff)
    assert changes == []


async def test_downgrade_to_empty_and_upgrade_again(engine):
    await downgrade(engine, "base")

    async def tables():
        async with engine.connect() as conn:
            return await conn.run_sync(lambda c: set(inspect(c).get_table_names()))

    assert set(Base.metadata.tables) & await tables() == set()
    assert await current_revision(engine) is None
    await upgrade(engine)
    assert set(Base.metadata.tables) <= await tables()
    assert await current_revision(engine) == head_revision()


async def test_the_rank_migration_adds_and_removes_a_nullable_column_keeping_the_choices(engine):
    """0002 (the ranking kind): ``answer_choices.rank`` is added empty under the choices stored
    before it, holds a rank once upgraded, and the downgrade drops it and keeps the choices."""
    from datetime import UTC, datetime

    from sqlalchemy import text

    async def columns() -> set[str]:
        async with engine.connect() as conn:
            return await conn.run_sync(lambda c: {col["name"] for col in inspect(c).get_columns("answer_choices")})

    await downgrade(engine, "base")
    await upgrade(engine, "0001")
    assert "rank" not in await columns()
    now = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    async with engine.begin() as conn:
        for statement in (
            "INSERT INTO polls (id, guild_id, channel_id, author_id, title, native, anonymous, live_results,"
            " allowed_role_ids, lang, status, reminder_sent, created_at)"
            " VALUES (1, 1, 1, 1, 'p', false, true, true, '[]', 'fr', 'open', false, :now)",
            "INSERT INTO questions (id, poll_id, position, code, text, kind, max_choices)"
            " VALUES (1, 1, 0, 'q1', 'q', 'single', 1)",
            "INSERT INTO options (id, question_id, position, code, label) VALUES (1, 1, 0, 'o1', 'A')",
            "INSERT INTO answers (id, question_id, user_id, answered_at, updated_at) VALUES (1, 1, 7, :now, :now)",
            "INSERT INTO answer_choices (answer_id, option_id) VALUES (1, 1)",
        ):
            await conn.execute(text(statement), {"now": now} if ":now" in statement else {})
    await upgrade(engine, "0002")
    assert "rank" in await columns()
    async with engine.begin() as conn:
        assert (await conn.execute(text("SELECT answer_id, option_id, rank FROM answer_choices"))).all() == [
            (1, 1, None)
        ]
        await conn.execute(text("UPDATE answer_choices SET rank = 1"))
    await downgrade(engine, "0001")
    assert "rank" not in await columns()
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT answer_id, option_id FROM answer_choices"))).all() == [(1, 1)]
    await downgrade(engine, "base")
    await upgrade(engine)
    assert await current_revision(engine) == head_revision()
