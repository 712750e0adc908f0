"""/help (fr /aide): what the bot does and which commands this member can use."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import ReseauBot
from cogs import _text
from cogs._checks import is_moderator


class Help(commands.Cog):
    def __init__(self, bot: ReseauBot) -> None:
        self.bot = bot

    @app_commands.command(name=_text.name("help"), description=_text.desc("help"))
    async def help(self, interaction: discord.Interaction) -> None:
        lang = self.bot.lang(interaction)
        t = self.bot.t
        embed = discord.Embed(title=t("help.title", lang), description=t("help.intro", lang), colour=0x2B6CB0)
        members = t("help.members_list", lang)
        if self.bot.config.bot.members_can_create_polls:  # read at run time: a reconfigured bot
            members += "\n" + t("help.members_create", lang)
        embed.add_field(name=t("help.members", lang), value=members, inline=False)
        if is_moderator(interaction):
            embed.add_field(name=t("help.moderators", lang), value=t("help.moderators_list", lang), inline=False)
        embed.set_footer(text=t("help.footer", lang))
        await interaction.response.send_message(embed=embed, ephemeral=True)


async def setup(bot: ReseauBot) -> None:
    await bot.add_cog(Help(bot))
