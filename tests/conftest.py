"""Shared fixtures: a real database (SQLite file, or PostgreSQL when RESEAU_TEST_DATABASE_URL is
set), the real bot on SimCord, a small network world, and the OpenAPI check of every REST body.

The whole suite runs on either database:

    pytest                                                     # SQLite
    RESEAU_TEST_DATABASE_URL=postgresql+asyncpg://… pytest     # PostgreSQL (.ci/pg-start prints one)

On PostgreSQL, the tests that touch no database — they ask for no ``database_url`` (itself or
through another fixture) and their module does not read ``PG_URL`` — are deselected: they ran,
identical, on SQLite (about half of the suite; CI runs both).  ``RESEAU_TEST_EVERYTHING=1`` keeps them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import discord
import pytest
import pytest_asyncio
import simcord
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bot.client import ReseauBot
from bot.config import Config, NetworkChannel, build_config
from bot.simcord_support import clear_locales, set_locale
from storage.db import create_engine, session_factory, upgrade
from storage.models import Base
from storage.repositories.votes import close_vote_stores
from tests.clock import ManualClock
from tests.databases import migrate

BASE_PG_URL = os.environ.get("RESEAU_TEST_DATABASE_URL", "")
# pytest-xdist runs the suite in several worker processes: each gets a database of its own
# (reseau_test_gw0, reseau_test_gw1…) on the same server, created on first use.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
PG_URL = (make_url(BASE_PG_URL).set(database=f"{make_url(BASE_PG_URL).database}_{WORKER}")
          .render_as_string(hide_password=False) if BASE_PG_URL and WORKER else BASE_PG_URL)


def pytest_report_header(config: pytest.Config) -> str:
    return f"reseau-bot database: {'PostgreSQL ' + PG_URL.rsplit('@', 1)[-1] if PG_URL else 'SQLite (aiosqlite)'}"


def touches_no_database(item: pytest.Item) -> bool:
    """A test that asks for no database and whose module does not read the PostgreSQL URL."""
    return "database_url" not in getattr(item, "fixturenames", ()) and not getattr(
        getattr(item, "module", None), "PG_URL", None)


# SimCord waits 5 s (wall clock) for the bot to settle after each step, a developer machine's
# figure. A loaded CI machine (two xdist workers, a worker process exporting, Chromium) has
# outlasted it: the bot's real work is not faster there, so every SimCord test gets 15 s unless its
# marker says otherwise. Only a test that fails waits that long; settled steps return at once.
SETTLE_TIMEOUT = 15.0


def _default_settle_timeout(item: pytest.Item) -> None:
    marker = item.get_closest_marker("simcord")
    if marker is None or "settle_timeout" not in marker.kwargs:
        item.add_marker(pytest.mark.simcord(*(marker.args if marker else ()),
                                            **{**(marker.kwargs if marker else {}), "settle_timeout": SETTLE_TIMEOUT}))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every SimCord test's settle timeout (above); on PostgreSQL, deselect the tests that touch
    no database (see the module's docstring)."""
    for item in items:
        _default_settle_timeout(item)
    if not PG_URL or os.environ.get("RESEAU_TEST_EVERYTHING"):
        return
    kept = [item for item in items if not touches_no_database(item)]
    if len(kept) < len(items):
        config.hook.pytest_deselected(items=[item for item in items if touches_no_database(item)])
        items[:] = kept


# --------------------------------------------------------------------------- database
@pytest.fixture(scope="session")
def _migrated_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Migrate once per session: a template SQLite file, or the PostgreSQL test database."""
    if PG_URL:

        async def reset() -> None:
            if PG_URL != BASE_PG_URL:  # this worker's own database
                name = make_url(PG_URL).database
                admin = create_async_engine(BASE_PG_URL, isolation_level="AUTOCOMMIT")
                async with admin.connect() as conn:
                    if not await conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
                        await conn.execute(text(f'CREATE DATABASE "{name}"'))
                await admin.dispose()
            await migrate(PG_URL, empty_first=True)

        asyncio.run(reset())
        return PG_URL
    path = tmp_path_factory.mktemp("template") / "template.db"

    async def create() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        await upgrade(engine)
        async with engine.begin() as conn:
            await conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        await engine.dispose()

    asyncio.run(create())
    return str(path)


# A fresh database's state: no rows (children first), every sequence at its start. A connection
# an earlier test left behind (a bot task cancelled mid-query when its loop closed) may still hold
# a lock: it is ended first, or the deletes would wait for it.
_EMPTY_PG = "; ".join([
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid()",
    "BEGIN",
    "SET LOCAL lock_timeout = '30s'",
    *(f"DELETE FROM {table.name}" for table in reversed(Base.metadata.sorted_tables)),
    "SELECT setval(s.seqrelid, s.seqstart, false) FROM pg_sequence s "
    "JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = current_schema()",
    "COMMIT",
])


@pytest_asyncio.fixture
async def database_url(_migrated_template: str, tmp_path: Path) -> str:
    """A fresh, migrated database for one test."""
    if PG_URL:
        engine = create_engine(PG_URL)
        async with engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            # One round trip (asyncpg's simple protocol takes several statements): 1 ms, where
            # TRUNCATE took 50-70 ms a test for tables that hold a few rows.
            await raw.execute(_EMPTY_PG)
        await engine.dispose()
        return PG_URL
    path = tmp_path / "reseau.db"
    shutil.copyfile(_migrated_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest_asyncio.fixture
async def engine(database_url: str):
    engine = create_engine(database_url)
    yield engine
    await close_vote_stores(engine)  # the services' vote stores keep a connection of their own
    await engine.dispose()


@pytest.fixture
def sessions(engine):
    return session_factory(engine)


# --------------------------------------------------------------------------- clock
@pytest.fixture
def clock() -> ManualClock:
    """A clock the test moves by hand, at tests.clock.START (2026-03-02 10:00 UTC)."""
    return ManualClock()


# --------------------------------------------------------------------------- config and bot
@pytest.fixture
def config(database_url: str, tmp_path: Path) -> Config:
    raw: dict[str, Any] = {
        "database": {"url": database_url},
        "fetch": {"allowed_hosts": ["127.0.0.1"], "allow_private_addresses": True},
        # (the live counts' pause between two edits, 2 s by default: SimCord waits for it after
        # each click, as part of the bot's work; the tests of the pause itself set their own)
        "polls": {"refresh_seconds": 0.05},
    }
    return build_config(raw, tmp_path / "config.toml", environ={})


@pytest.fixture
def bot_factory(config: Config) -> Callable[..., ReseauBot]:
    """Builds a real ReseauBot on the test database (a new engine each time, as a restart would)."""

    def make(cfg: Config | None = None, **kwargs: Any) -> ReseauBot:
        cfg = cfg or config
        engine = create_engine(cfg.database.url)
        # the periodic re-read of outside changes runs on the wall clock: not during a test
        # (tests/cogs/test_outside_changes_e2e.py runs it by hand)
        kwargs.setdefault("resync_seconds", 24 * 3600)
        return ReseauBot(cfg, engine=engine, sessions=session_factory(engine), **kwargs)

    return make


@pytest.fixture
def simcord_bot(bot_factory: Callable[..., ReseauBot]) -> ReseauBot:
    return bot_factory()


@pytest.fixture(autouse=True)
def _locales():
    yield
    clear_locales()


# --------------------------------------------------------------------------- a small network
@pytest_asyncio.fixture
async def world(simcord_env: simcord.Env) -> AsyncIterator[SimpleNamespace]:
    """One guild of the network: a French and an English channel, a moderators' log channel, a
    moderator role, a French moderator, a French member and an English member."""
    env = simcord_env
    guild = env.create_guild(name="Réseau (test)")
    fr = guild.create_text_channel("annonces")
    en = guild.create_text_channel("announcements")
    modlog = guild.create_text_channel("moderation-log")
    mod_role = guild.create_role("Modération")
    moderator = guild.add_member(env.create_user("camille"), roles=[mod_role])
    member_fr = guild.add_member(env.create_user("awa"))
    member_en = guild.add_member(env.create_user("sam"))
    set_locale(moderator, "fr")
    set_locale(member_fr, "fr")
    set_locale(member_en, "en-US")
    bot: ReseauBot = env.bot
    channels = (
        NetworkChannel(guild_id=guild.id, channel_id=fr.id, language="fr", name="annonces"),
        NetworkChannel(guild_id=guild.id, channel_id=en.id, language="en", name="announcements"),
    )
    new_config = dataclasses.replace(
        bot.config,
        bot=dataclasses.replace(bot.config.bot, moderator_roles=(mod_role.id,)),
        channels=channels,
        discord=dataclasses.replace(bot.config.discord, moderators_log_channel_id=modlog.id),
    )
    await bot.reconfigure(new_config)
    # What a server admin does once (Server Settings → Integrations): moderators' commands are
    # hidden from members by default permissions; the moderator role is allowed each of them.
    for command in await bot.tree.fetch_commands():
        if command.default_member_permissions is not None:
            guild.set_command_permissions(command, {mod_role: True})
    yield SimpleNamespace(
        env=env, guild=guild, fr=fr, en=en, modlog=modlog, mod_role=mod_role,
        moderator=moderator, member_fr=member_fr, member_en=member_en, config=new_config,
    )


# --------------------------------------------------------------------------- OpenAPI oracle
@pytest.fixture(autouse=True)
def _validate_rest_bodies(request: pytest.FixtureRequest):
    """Every REST body the bot sent in a SimCord test must match Discord's OpenAPI description
    (and the documented rules it leaves out).  A violation fails the test."""
    yield
    from tests.discord_openapi import assert_requests_valid

    for value in list(request.node.funcargs.values()):
        if isinstance(value, simcord.Env):
            assert_requests_valid(value)


def embed_text(message: discord.Message | Any) -> str:
    """All the text a member reads in a message: content and embeds."""
    parts = [getattr(message, "content", "") or ""]
    for embed in getattr(message, "embeds", []) or []:
        parts += [embed.title or "", embed.description or ""]
        parts += [f"{f.name}\n{f.value}" for f in embed.fields]
        if embed.footer and embed.footer.text:
            parts.append(embed.footer.text)
    return "\n".join(parts)
