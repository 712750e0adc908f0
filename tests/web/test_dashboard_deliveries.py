"""The overview's « Dernières diffusions » after real posts (the dashboard served over the running
bot's services on SimCord, read in Chromium): a channel that refuses the bot is « Échec » with a
sentence in the reader's language and Discord's error code as its only detail — as the moderators'
log and /announce say it —, and a withdrawn announcement's deleted copies are « Retirée », not
« Envoyée »."""

from __future__ import annotations

import dataclasses
from contextlib import asynccontextmanager

import discord
from simcord.backend.models import Overwrite
from simcord.enums import OverwriteType

from bot.config import NetworkChannel
from tests.cogs.test_announcements_e2e import compose, posts
from tests.web.conftest import bot_dashboard, pytestmark  # noqa: F401 (the module's skip mark)

PERMISSIONS_FR = "le bot n’a pas les permissions nécessaires dans ce salon (code Discord 50013)"
ACCESS_FR = "le bot n’a pas accès à ce salon (code Discord 50001)"
FIRST = "Assemblée générale"


@asynccontextmanager
async def overview(world, browser):
    """The running bot's dashboard, signed in as the French moderator: the overview's page."""
    async with bot_dashboard(world, browser) as (page, _base):
        yield page


async def deliveries(page) -> dict[tuple[str, str], str]:
    """The overview's latest deliveries: (post, channel) → status."""
    out = {}
    for row in await page.locator("section[aria-labelledby=deliveries] tbody tr").all():
        cells = [" ".join(text.split()) for text in await row.locator("td").all_inner_texts()]
        out[(cells[0], cells[1])] = cells[2]
    return out


async def test_a_refusing_channel_reads_in_the_readers_language(world, browser):
    closed = world.guild.create_text_channel(
        "ferme", overwrites={world.guild.me: discord.PermissionOverwrite(send_messages=False)})
    hidden = world.guild.create_text_channel(
        "cache", overwrites={world.guild.me: discord.PermissionOverwrite(view_channel=False)})
    await world.env.bot.reconfigure(dataclasses.replace(world.config, channels=(
        *world.config.channels,
        NetworkChannel(guild_id=world.guild.id, channel_id=closed.id, language="fr", name="ferme"),
        NetworkChannel(guild_id=world.guild.id, channel_id=hidden.id, language="fr", name="cache"),
    )))
    await world.env.settle()
    preview = await compose(world)
    done = await world.moderator.click(preview.response, label="Publier maintenant")
    assert "2 salons servis, 2 en échec" in done.response.content
    [report] = posts(world.modlog)  # the moderators' log in its language, Discord's code as a detail
    assert PERMISSIONS_FR in report.content and ACCESS_FR in report.content
    assert "Missing" not in report.content and "missing" not in report.content

    async with overview(world, browser) as page:
        assert await deliveries(page) == {
            (f"Annonce — {FIRST}", "#annonces"): "Envoyée",
            (f"Annonce — {FIRST}", "#announcements"): "Envoyée",
            (f"Annonce — {FIRST}", "#ferme"): f"Échec — {PERMISSIONS_FR}",
            (f"Annonce — {FIRST}", "#cache"): f"Échec — {ACCESS_FR}",
        }
        assert "2 diffusions en échec ci-dessous." in await page.inner_text("main")
        await page.get_by_role("link", name="English").click()
        english = await deliveries(page)
        assert english[(f"Announcement — {FIRST}", "#ferme")] == (
            "Failed — the bot lacks permissions it needs in this channel (Discord code 50013)")
        assert english[(f"Announcement — {FIRST}", "#cache")] == (
            "Failed — the bot has no access to this channel (Discord code 50001)")


async def test_a_withdrawn_announcements_deleted_copies_read_withdrawn(world, browser):
    preview = await compose(world)
    await world.moderator.click(preview.response, label="Publier maintenant")
    backend = world.env.backend  # the bot loses sight of #announcements: that copy cannot be deleted
    backend.edit_channel(world.en.id, {}, overwrites=[Overwrite(
        target_id=backend.bot_user.id, type=OverwriteType.MEMBER, allow=0,
        deny=discord.Permissions(view_channel=True).value)])
    gone = await world.moderator.slash(world.fr, "announce withdraw", id=1)
    assert gone.response.content.replace("\u202f", " ").replace("\xa0", " ") == (
        f"Annonce n° 1 retirée : 1 message supprimé.\nNon fait dans ces salons :\n• <#{world.en.id}> : {ACCESS_FR}")
    assert posts(world.fr) == []
    second = await compose(world, title="Deuxième annonce", channel=world.fr)
    await world.moderator.click(second.response, label="Publier maintenant")

    async with overview(world, browser) as page:
        assert await deliveries(page) == {
            ("Annonce — Deuxième annonce", "#annonces"): "Envoyée",
            (f"Annonce — {FIRST}", "#annonces"): "Retirée",
            (f"Annonce — {FIRST}", "#announcements"): "Envoyée",  # still there: its deletion was refused
        }
        await page.get_by_role("link", name="English").click()
        assert (await deliveries(page))[(f"Announcement — {FIRST}", "#annonces")] == "Withdrawn"
