"""/status (fr /etat): for moderators, the state of the deployment at a glance."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import ReseauBot
from cogs import _text
from cogs._checks import moderator_only

if TYPE_CHECKING:
    from bot.services import status as status_service

# At most this many planned items are listed (an embed field holds 1,024 characters).
MAX_PLANNED = 8
TITLE_MAX = 60


def _clip(text: str, limit: int = TITLE_MAX) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Admin(commands.Cog):
    def __init__(self, bot: ReseauBot) -> None:
        self.bot = bot

    @app_commands.command(name=_text.name("status"), description=_text.desc("status"))
    @app_commands.guild_only()
    @moderator_only()
    async def status(self, interaction: discord.Interaction) -> None:
        from bot.services import status as status_service  # loaded at the first /status

        lang = self.bot.lang(interaction)
        report = await status_service.report(
            self.bot.engine, self.bot.sessions, guild_id=interaction.guild_id,
            config=self.bot.config, now=self.bot.clock(),
        )
        t = self.bot.t
        embed = discord.Embed(title=t("status.title", lang), colour=0x2F855A)
        embed.add_field(name=t("status.database", lang), value=f"{report.backend} · {report.revision}", inline=False)
        channels = "\n".join(f"<#{c}> ({lang_})" for c, lang_ in report.channels_here) or t("status.none", lang)
        embed.add_field(
            name=t("status.channels", lang, count=len(report.channels_here)), value=channels, inline=False
        )
        embed.add_field(name=t("status.planned", lang), value=self._planned(report.planned, lang), inline=False)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    def _planned(self, planned: list[status_service.Planned], lang: str) -> str:
        """One line per planned item, in words: « Clôture du sondage n° 12 « … » : demain à 18 h »."""
        if not planned:
            return self.bot.t("status.planned_none", lang)
        now, tz = self.bot.clock(), self.bot.config.tz
        lines = [
            self.bot.t(
                f"status.plan.{item.kind}", lang, id=item.record_id, title=discord.utils.escape_markdown(_clip(item.title)),
                when=self.bot.catalogue.moment(item.when, lang, now=now, tz=tz),
            )
            for item in planned[:MAX_PLANNED]
        ]
        if len(planned) > MAX_PLANNED:
            lines.append(self.bot.t("status.more", lang, count=len(planned) - MAX_PLANNED))
        return "\n".join(lines)[:1024]


async def setup(bot: ReseauBot) -> None:
    await bot.add_cog(Admin(bot))
