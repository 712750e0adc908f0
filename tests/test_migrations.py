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
