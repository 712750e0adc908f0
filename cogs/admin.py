"""/status (fr /etat): for moderators, the state of the deployment at a glance."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import ReseauBot
from bot.services import status as status_service
from cogs import _text
from cogs._checks import moderator_only


class Admin(commands.Cog):
    def __init__(self, bot: ReseauBot) -> None:
        self.bot = bot

    @app_commands.command(name=_text.name("status"), description=_text.desc("status"))
    @app_commands.guild_only()
    @moderator_only()
    async def status(self, interaction: discord.Interaction) -> None:
        lang = self.bot.lang(interaction)
        report = await status_service.report(self.bot.engine, self.bot.sessions, guild_id=interaction.guild_id)
        t = self.bot.t
        embed = discord.Embed(title=t("status.title", lang), colour=0x2F855A)
        embed.add_field(name=t("status.database", lang), value=f"{report.backend} · {report.revision}", inline=False)
        channels = "\n".join(f"<#{c}> ({lang_})" for c, lang_ in report.channels_here) or t("status.none", lang)
        embed.add_field(name=t("status.channels", lang), value=channels, inline=False)
        jobs = "\n".join(f"{job_id} → {when:%Y-%m-%d %H:%M}" for job_id, when in self._next_jobs()) or t(
            "status.none", lang
        )
        embed.add_field(name=t("status.jobs", lang), value=jobs, inline=False)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    def _next_jobs(self) -> list[tuple[str, object]]:
        tz = self.bot.config.tz
        jobs = [(job.id, job.next_run_time) for job in self.bot.scheduler.get_jobs() if job.next_run_time]
        jobs.sort(key=lambda item: item[1])
        return [(job_id, when.astimezone(tz)) for job_id, when in jobs[:5]]


async def setup(bot: ReseauBot) -> None:
    await bot.add_cog(Admin(bot))
