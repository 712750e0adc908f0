"""/dashboard (fr /tableau-de-bord) on SimCord: a moderator gets an ephemeral one-time link to
the web dashboard; a member, or a server admin who is not a network moderator, gets none."""

from __future__ import annotations

import re

import simcord
from sqlalchemy import func, select

from bot.i18n import Catalogue
from bot.services.dashboard import LinkUsed
from bot.simcord_support import set_locale
from cogs._errors import NotModerator
from storage.models import AuditEntry, DashboardLink
from tests.command_access import open_to_everyone

CATALOGUE = Catalogue.load()
LINK = re.compile(r"(http://127\.0\.0\.1:8080/login\?t=([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+))")


async def links(sessions) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(DashboardLink)))


async def test_a_moderator_gets_an_ephemeral_one_time_link(world, sessions):
    result = await world.moderator.slash(world.fr, "dashboard")
    assert result.ephemeral
    [reply] = [m for m in [result.response, *result.followups] if m is not None and m.content]
    match = LINK.search(reply.content)
    assert match, reply.content
    assert "10 minutes" in reply.content and "une seule fois" in reply.content
    url, token = match.groups()
    assert str(world.moderator.id) not in url and len(url) < 512  # nothing personal, within Discord's limit
    services = world.env.bot.services
    browser_token, session = await services.sign_in.redeem(token)
    assert session.actor_id == world.moderator.id and session.guild_id == world.guild.id
    assert (await services.sign_in.session(browser_token)).actor_id == world.moderator.id
    try:
        await services.sign_in.redeem(token)
    except LinkUsed:
        pass
    else:
        raise AssertionError("a used link opened a second session")
    async with sessions() as session:
        actions = list(await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions == ["dashboard.link", "dashboard.login"]


async def test_the_command_speaks_english_to_an_english_moderator(world, sessions):
    set_locale(world.moderator, "en-US")
    result = await world.moderator.slash(world.fr, "dashboard")
    [reply] = [m for m in [result.response, *result.followups] if m is not None and m.content]
    assert reply.content.startswith("Your sign-in link to the dashboard (valid 10 minutes, once")


async def test_members_and_local_admins_get_no_link(world, sessions):
    await open_to_everyone(world, "dashboard")
    refused = await world.member_fr.slash(world.fr, "dashboard")
    assert refused.response.content == CATALOGUE.t("error.not_network_moderator", "fr")
    assert not LINK.search(refused.response.content)
    simcord.assert_error(world.env, NotModerator)
    assert await links(sessions) == 0
