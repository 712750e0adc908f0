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
