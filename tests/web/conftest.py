"""The dashboard on a real database, served on a free port of 127.0.0.1, and Debian's Chromium
driven by Playwright (no browser download): the ``dashboard`` and ``browser`` fixtures."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import SimpleNamespace

import pytest
import pytest_asyncio

from bot.config import NetworkChannel
from bot.services.authority import Actor
from bot.services.container import Services
from storage.db import session_factory
from storage.models import Profile
from tests.export_data import U1, U2, U3, build_survey
from tests.test_preview_chromium import CHROMIUM, CHROMIUM_FLAGS

GUILD = 1001
MOD_ROLE = 2002
MODERATOR = 3003
SECRET = "a pseudonym secret long enough for the tests"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="Debian's chromium is not installed (CI installs it; apt-get install chromium)",
)


@pytest_asyncio.fixture
async def dashboard(config, engine, clock, monkeypatch) -> AsyncIterator[SimpleNamespace]:
    """The network's survey (tests/export_data.py) plus profiles, a moderator role, the dashboard
    served over a services container on the test database; ``link()`` gives a one-time link."""
    from web.app import bound_port, create_app, start

    monkeypatch.setenv("RESEAU_EXPORT_SECRET", SECRET)
    config = dataclasses.replace(
        config,
        bot=dataclasses.replace(config.bot, moderator_roles=(MOD_ROLE,)),
        channels=(NetworkChannel(guild_id=GUILD, channel_id=1, language="fr", name="annonces"),),
    )
    sessions = session_factory(engine)
    survey = await build_survey(sessions, GUILD)
    async with sessions.begin() as session:
        for user_id, member_type in ((U1, "collectivite"), (U2, "reseau"), (U3, "ong"),
                                     (11, "collectivite"), (12, "collectivite"), (13, "reseau")):
            session.add(Profile(user_id=user_id, member_type=member_type))
    services = Services(config, engine=engine, sessions=sessions, clock=clock)
    runner = await start(create_app(services), "127.0.0.1", 0)
    base = f"http://127.0.0.1:{bound_port(runner)}"

    async def link(actor: Actor | None = None, actor_id: int = MODERATOR) -> str:
        token = await services.sign_in.issue(actor or Actor.of(GUILD, [MOD_ROLE]), actor_id)
        return services.sign_in.link_url(token, base)

    try:
        yield SimpleNamespace(services=services, base=base, link=link, survey=survey, config=config, clock=clock)
    finally:
        await runner.cleanup()
        await services.aclose(dispose_engine=False)


@pytest_asyncio.fixture
async def browser():
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS[1:])
        try:
            yield chromium
        finally:
            await chromium.close()


async def sign_in(browser, dashboard, **context):
    """A new browser context signed in through a fresh one-time link: (context, page)."""
    ctx = await browser.new_context(accept_downloads=True, locale="fr-FR", **context)
    page = await ctx.new_page()
    await page.goto(await dashboard.link())
    await page.get_by_role("button", name="Ouvrir le tableau de bord").click()
    await page.wait_for_url(dashboard.base + "/")
    return ctx, page


async def upload_extract(page, path, *, base: str | None = None) -> None:
    """Send a Markdown file with the queue's upload form: from the queue page of the dashboard at
    ``base`` when given, else from the page the browser is on (an upload's error page keeps the
    form).  A good file leads to its preview (``**/extracts/*``)."""
    if base is not None:
        await page.goto(base + "/extracts")
    await page.get_by_label("Fichier Markdown de l’extrait").set_input_files(str(path))
    await page.get_by_role("button", name="Envoyer et prévisualiser").click()


@asynccontextmanager
async def bot_dashboard(world, browser):
    """The running bot's dashboard (its own services on SimCord, as ``run --web`` serves it),
    signed in as the French moderator through a one-time link: ``(page, base)`` on the overview."""
    from web.app import bound_port, create_app, start

    services = world.env.bot.services
    runner = await start(create_app(services), "127.0.0.1", 0)
    base = f"http://127.0.0.1:{bound_port(runner)}"
    ctx = await browser.new_context(locale="fr-FR")
    try:
        token = await services.sign_in.issue(Actor.of(world.guild.id, [world.mod_role.id]), world.moderator.id)
        page = await ctx.new_page()
        await page.goto(services.sign_in.link_url(token, base))
        await page.get_by_role("button", name="Ouvrir le tableau de bord").click()
        await page.wait_for_url(base + "/")
        yield page, base
    finally:
        await ctx.close()
        await runner.cleanup()
