"""/dashboard (fr /tableau-de-bord): a moderator's one-time link to the web dashboard.

The link is ephemeral (only the moderator sees it), signed, expires after ten minutes and opens
one session (``bot.services.dashboard.SignIn``); the authority rule is that of network-wide
actions.  The reply says where the dashboard is (``dashboard.public_url``)."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import ReseauBot
from cogs import _text
from cogs._checks import Scope, actor, moderator_only


class Dashboard(commands.Cog):
    def __init__(self, bot: ReseauBot) -> None:
        self.bot = bot

    @app_commands.command(name=_text.name("dashboard"), description=_text.desc("dashboard"))
    @app_commands.guild_only()
    @moderator_only(Scope.NETWORK)
    async def dashboard(self, interaction: discord.Interaction) -> None:
        from bot.services.dashboard import LINK_LIFETIME  # the dashboard's code loads at its first use

        await interaction.response.defer(ephemeral=True, thinking=True)
        lang = self.bot.lang(interaction)
        services = self.bot.services
        token = await services.sign_in.issue(actor(interaction), interaction.user.id, lang=lang)
        url = services.sign_in.link_url(token, self.bot.config.dashboard.base_url)
        minutes = int(LINK_LIFETIME.total_seconds() // 60)
        await interaction.followup.send(
            self.bot.t("dashboard.command.link", lang, url=url, minutes=minutes), ephemeral=True,
            suppress_embeds=True,
        )


async def setup(bot: ReseauBot) -> None:
    await bot.add_cog(Dashboard(bot))
