"""Who may change what the calendar holds, on SimCord: a server's moderator (Manage Server, no
network role) who planned a weekly poll there — a per-server action — lists, postpones and
cancels it with /calendar, as the planning reply tells them; they see and touch nothing of
another server, and an announcement (posted to every network channel) stays the network
moderators' matter."""

from __future__ import annotations

import discord
import simcord

from bot.services import announcements
from bot.services.authority import NotNetworkModerator
from bot.simcord_support import set_locale
from cogs._checks import OutsideNetwork
from tests.cogs.test_calendar_e2e import plain
from tests.conftest import embed_text
from tests.time_ahead import NOW, at


async def test_a_servers_moderator_manages_the_polls_they_planned_there(world, sessions):
    world.env.bot.clock = at(NOW)
    admin = world.guild.add_member(
        world.env.create_user("admin-local"),
        roles=[world.guild.create_role("Admin", permissions=discord.Permissions(manage_guild=True))],
    )
    set_locale(admin, "fr")
    planned = await admin.slash(world.fr, "poll create", question="Chaque semaine ?", options="A; B",
                                start="demain 9 h", repeat="hebdomadaire")
    assert "`plan-1`" in planned.response.content and "/calendrier" in planned.response.content
    listing = await admin.slash(world.fr, "calendar list")
    assert "Chaque semaine ?" in plain(embed_text(listing.response))
    moved = await admin.slash(world.fr, "calendar postpone", reference="plan-1", when="demain 10 h")
    assert moved.response.content.startswith("Déplacé"), moved.response.content
    # an announcement of this server goes to every network channel: not theirs to change
    draft = await announcements.create_draft(sessions, guild_id=world.guild.id, author_id=world.moderator.id,
                                             title="Assemblée", body="Le 12.", now=NOW)
    await announcements.schedule(sessions, draft.id, when=NOW.replace(year=NOW.year + 1, month=1, day=5),
                                 now=NOW, actor_id=world.moderator.id)
    refused = await admin.slash(world.fr, "calendar cancel", reference=f"announcement-{draft.id}")
    assert "réservée aux modérateurs du réseau" in refused.response.content
    simcord.assert_error(world.env, NotNetworkModerator)
    assert [a.id for a in await announcements.list_scheduled(sessions)] == [draft.id], "still scheduled"
    cancelled = await admin.slash(world.fr, "calendar cancel", reference="plan-1")
    assert "plan-1" in cancelled.response.content and "Annul" in cancelled.response.content
    assert (await world.env.bot.services.calendar.get_plan(1)).status == "cancelled"


async def test_a_server_outside_the_network_touches_nothing(world, sessions):
    world.env.bot.clock = at(NOW)
    await world.moderator.slash(world.fr, "poll create", question="Réseau ?", options="A; B", start="demain 9 h")
    other = world.env.create_guild(name="Autre serveur")
    channel = other.create_text_channel("general")
    admin = other.add_member(world.env.create_user("admin-ailleurs"),
                             roles=[other.create_role("Admin", permissions=discord.Permissions(manage_guild=True))])
    set_locale(admin, "fr")
    cancelled = await admin.slash(channel, "calendar cancel", reference="plan-1")
    assert cancelled.response.content == "Ce serveur ne fait pas partie du réseau\u202f: le bot n’y enregistre rien."
    simcord.assert_error(world.env, OutsideNetwork)
    assert (await world.env.bot.services.calendar.get_plan(1)).status == "active", "another server's plan"
