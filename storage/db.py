"""Engine, sessions and schema version: the one place that knows which database we talk to."""

from __future__ import annotations

import re
import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig
    from sqlalchemy.engine import Connection
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from storage.plain import PlainStore

# Alembic (and Mako under it) is imported only by the functions that migrate: checking the schema
# version at start-up reads the version files and the ``alembic_version`` table directly, so the
# running bot never loads it (issue 15, item 3; ``tests/test_lazy_imports.py``).
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_REVISION = re.compile(r"^(down_revision|revision)\b[^=]*=\s*(None|\"([^\"]*)\"|'([^']*)')", re.MULTILINE)


class _NotRaised(Exception):
    """Stands for the errors of a library not loaded: none of them was raised."""


def database_errors() -> tuple[type[BaseException], ...]:
    """What the database or its driver raises when it refuses us or cannot be used, for the
    command line's one error path: SQLAlchemy's ``DBAPIError`` and ``ArgumentError``, and the
    drivers' own errors — the running bot's start-up goes through them without SQLAlchemy
    (``storage.plain``: a database that does not exist, a password refused, a file that cannot
    be opened).  Each only once its library is loaded, without importing it: what is not loaded
    raised nothing."""
    found: list[type[BaseException]] = []
    if (sqlalchemy := sys.modules.get("sqlalchemy.exc")) is not None:
        found += [sqlalchemy.DBAPIError, sqlalchemy.ArgumentError]
    if (sqlite3 := sys.modules.get("sqlite3")) is not None:
        found.append(sqlite3.DatabaseError)
    if (asyncpg := sys.modules.get("asyncpg")) is not None:
        found.append(asyncpg.PostgresError)
    return tuple(found) or (_NotRaised,)


class DatabaseMissing(Exception):
    """The SQLite file of ``database.url`` does not exist: a command that only reads or works on
    a database (everything but ``db upgrade`` and the demo) says so instead of creating an empty
    one — and its folders — at a mistyped path."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(f"the SQLite database {path} does not exist")


def require_database(url: str) -> None:
    """Raise :class:`DatabaseMissing` when ``url`` is an SQLite file that does not exist."""
    from storage.urls import parse_url

    parsed = parse_url(url)
    if parsed.backend == "postgresql":
        return
    database = parsed.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        path = Path(database).expanduser()
        if not path.exists():
            raise DatabaseMissing(path)


class SchemaOutOfDate(Exception):
    """The schema is not at the code's head. ``newer``: the database carries a revision this code
    does not know — a newer release upgraded it (a release rolled back): `db upgrade` cannot help."""

    def __init__(self, current: str | None, head: str) -> None:
        self.current, self.head = current, head
        self.newer = schema_is_newer(current)
        advice = ("it was upgraded by a newer release: install that release again or restore a backup"
                  if self.newer else "run `reseau-bot db upgrade` first")
        super().__init__(
            f"the database schema is at {current or 'nothing (empty database)'}, the code needs {head}: {advice}"
        )


def schema_is_newer(current: str | None) -> bool:
    """``current`` names a revision none of this code's migrations has: a newer release's."""
    return current is not None and current not in known_revisions()


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """An async engine; SQLite gets WAL, foreign keys and a busy timeout on every connection."""
    from sqlalchemy import event
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    parsed = make_url(url)
    kwargs: dict[str, Any] = {"echo": echo}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
    engine = create_async_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    from sqlalchemy.ext.asyncio import async_sessionmaker

    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str | None = None) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


@cache
def known_revisions() -> set[str]:
    """Every revision of this code's migrations (read from the version files, as ``head_revision``)."""
    return {
        found["revision"]
        for file in (MIGRATIONS_DIR / "versions").glob("*.py")
        if (found := {m[0]: m[2] or m[3] or None for m in _REVISION.findall(file.read_text(encoding="utf-8"))})
        .get("revision")
    }


def head_revision() -> str:
    """The newest migration: the one revision no other names as its ``down_revision`` (the chain
    is linear; read from the version files without importing Alembic, which agrees —
    ``tests/test_lazy_imports.py``)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for file in (MIGRATIONS_DIR / "versions").glob("*.py"):
        found = {m[0]: m[2] or m[3] or None for m in _REVISION.findall(file.read_text(encoding="utf-8"))}
        if found.get("revision"):
            revisions.add(found["revision"])
            if found.get("down_revision"):
                parents.add(found["down_revision"])
    heads = revisions - parents
    if len(heads) != 1:
        raise RuntimeError(f"the migrations must have exactly one head, not {sorted(heads)}")
    return heads.pop()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision stamped in ``alembic_version`` (``None`` on an empty database), as Alembic's
    ``MigrationContext.get_current_revision`` reads it."""
    from sqlalchemy import inspect, text

    def read(conn: Connection) -> str | None:
        if not inspect(conn).has_table("alembic_version"):
            return None
        rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        if len(rows) > 1:
            raise RuntimeError(f"the database has several schema versions: {sorted(rows)}")
        return rows[0] if rows else None

    async with engine.connect() as conn:
        return await conn.run_sync(read)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database to ``revision`` through the Alembic migrations; ``SchemaOutOfDate``
    (``newer``) when a newer release already upgraded it (Alembic would say it cannot locate it)."""
    from alembic import command

    current = await current_revision(engine)
    if schema_is_newer(current):
        raise SchemaOutOfDate(current, head_revision())
    await _run(engine, lambda cfg: command.upgrade(cfg, revision))


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    from alembic import command

    await _run(engine, lambda cfg: command.downgrade(cfg, revision))


async def _run(engine: AsyncEngine, action: Any, *, configure: Any = None) -> None:
    """Run an Alembic ``action`` (given the config) on a connection of ``engine``; with
    ``configure``, call it on the connection instead (the ``alembic`` command line's env.py)."""

    def run(conn: Connection) -> None:
        if configure is not None:
            configure(conn)
            return
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        action(cfg)

    async with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            # Alembic's batch mode rebuilds a SQLite table (copy, DROP, rename): with foreign keys
            # on, the DROP would cascade to every row pointing at it (a poll's questions, their
            # answers).  The pragma only takes effect outside a transaction, hence before BEGIN.
            await conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            await conn.commit()
        try:
            async with conn.begin():
                await conn.run_sync(run)
                if sqlite:
                    broken = (await conn.exec_driver_sql("PRAGMA foreign_key_check")).all()
                    if broken:
                        raise RuntimeError(f"the migration left rows pointing at nothing: {broken[:5]}")
        finally:
            if sqlite:
                await conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                await conn.commit()


async def ensure_current(engine: AsyncEngine | PlainStore) -> None:
    """Raise ``SchemaOutOfDate`` unless the schema is exactly at the migrations' head (read
    through an engine, or through the running bot's plain store without SQLAlchemy)."""
    from storage.plain import PlainStore

    current = await engine.revision() if isinstance(engine, PlainStore) else await current_revision(engine)
    head = head_revision()
    if current != head:
        raise SchemaOutOfDate(current, head)


class LazySessions:
    """The session factory of ``url`` (and its engine), built at its first use: what
    ``async_sessionmaker`` offers the services (``sessions()``, ``sessions.begin()``,
    ``sessions.kw``), so that a process with nothing to do never loads SQLAlchemy (issue 15,
    item 3; ``storage.plain`` does its start-up reads)."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url, self.echo = url, echo
        self._factory: async_sessionmaker[AsyncSession] | None = None

    @property
    def built(self) -> bool:
        return self._factory is not None

    def factory(self) -> async_sessionmaker[AsyncSession]:
        if self._factory is None:
            self._factory = session_factory(create_engine(self.url, echo=self.echo))
        return self._factory

    @property
    def engine(self) -> AsyncEngine:
        return self.factory().kw["bind"]

    @property
    def kw(self) -> dict[str, Any]:
        return self.factory().kw

    def __call__(self, **local_kw: Any) -> AsyncSession:
        return self.factory()(**local_kw)

    def begin(self) -> Any:
        return self.factory().begin()
