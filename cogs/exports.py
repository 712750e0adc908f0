"""/export (moderators): the answers of a poll, a campaign or a series (a recurring poll's
occurrences, ``series:plan-3``) as a file, attached ephemerally.

The file is written to a temporary folder by the export service (streamed, with its codebook:
a second file for CSV and JSON Lines, a second sheet for XLSX) and attached to an ephemeral
reply.  Only this server's polls are exported; respondents are always pseudonymised (raw ids
are a command-line option for operators, never offered here).  Above the interaction's
attachment size limit the export stops and the moderator is told to narrow it or use the CLI.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import discord
from discord import app_commands
from discord.app_commands import Choice, locale_str
from discord.ext import commands

from bot.client import ReseauBot
from bot.i18n import LANGUAGES, Catalogue
from cogs import _text
from cogs._checks import Scope, is_moderator, moderator_only, require_moderator

#: Discord's attachment limit when the interaction does not say (25 MiB).
MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024


_CATALOGUE = Catalogue.load()


def _choice(key: str, value: str) -> Choice[str]:
    """A choice with an English name, translated to French by the tree's translator."""
    full = f"cmd.export.choice.{key}"
    return Choice(name=locale_str(_CATALOGUE.t(full, "en"), key=full), value=value)


FORMAT_CHOICES = [
    Choice(name="CSV", value="csv"),
    Choice(name="Excel (XLSX)", value="xlsx"),
    Choice(name="JSON Lines", value="json"),
]
LAYOUT_CHOICES = [_choice("long", "long"), _choice("wide", "wide")]
HEADING_CHOICES = [_choice("codes", "codes"), _choice("labels", "labels")]
SEPARATOR_CHOICES = [_choice("comma", ","), _choice("semicolon", ";")]
VALUE_CHOICES = [_choice("codes", "codes"), _choice("labels", "labels")]
LANGUAGE_CHOICES = [_choice(lang, lang) for lang in LANGUAGES]


class Exports(commands.Cog):
    def __init__(self, bot: ReseauBot) -> None:
        self.bot = bot
        self.max_attachment_bytes = MAX_ATTACHMENT_BYTES

    @app_commands.command(name=_text.name("export"), description=_text.desc("export"))
    @app_commands.guild_only()
    @moderator_only()
    @_text.options(
        file_format="export.opt.format",
        layout="export.opt.layout",
        poll="export.opt.poll",
        campaign="export.opt.campaign",
        headings="export.opt.headings",
        separator="export.opt.separator",
        values="export.opt.values",
        labels="export.opt.labels",
        series="export.opt.series",
    )
    @app_commands.choices(
        file_format=FORMAT_CHOICES, layout=LAYOUT_CHOICES, headings=HEADING_CHOICES, separator=SEPARATOR_CHOICES,
        values=VALUE_CHOICES, labels=LANGUAGE_CHOICES,
    )
    async def export(
        self,
        interaction: discord.Interaction,
        file_format: str,
        layout: str = "long",
        poll: app_commands.Range[int, 1] | None = None,
        campaign: app_commands.Range[str, 1, 100] | None = None,
        headings: str = "codes",
        separator: str | None = None,
        values: str = "codes",
        labels: str | None = None,
        series: app_commands.Range[str, 1, 40] | None = None,
    ) -> None:
        if campaign is not None:  # a campaign spans the network: its moderators only
            require_moderator(interaction, Scope.NETWORK)
        from bot.services.exports import ExportRequest  # the export code loads at the first export
        from bot.services.exports.worker import export_to_path_in_worker

        lang = self.bot.lang(interaction)
        request = ExportRequest(
            poll_id=poll,
            campaign=campaign,
            series=self.bot.services.calendar.plan_number(series) if series is not None else None,
            format=file_format,
            layout=layout,
            headings=headings,
            values=values,
            labels=labels,
            # what Excel reads in the labels' language (the moderator's when not given)
            separator=separator or self.bot.t("format.csv_separator", labels or lang),
            guild_id=interaction.guild_id,
            lang=lang,
            actor_id=interaction.user.id,
        )
        exporter = self.bot.services.exports
        exporter.secret()  # a missing secret is refused before anything is read
        await interaction.response.defer(ephemeral=True, thinking=True)
        limit = min(getattr(interaction, "filesize_limit", None) or self.max_attachment_bytes,
                    self.max_attachment_bytes)
        with tempfile.TemporaryDirectory(prefix="reseau-export-") as folder:
            path = Path(folder) / request.default_filename()
            # in a worker process: seconds of work for a large campaign, never on the event loop
            result = await export_to_path_in_worker(exporter, request, path, max_bytes=limit)
            key = "export.done_xlsx" if request.format == "xlsx" else "export.done"
            t = self.bot.t
            text = t(key, lang, answers=t("export.answers", lang, count=result.answers),
                     respondents=t("export.respondents", lang, count=result.respondents),
                     rows=t("export.rows", lang, count=result.rows))
            text += "\n" + self.bot.t("export.pseudonymised", lang)
            files = [discord.File(p, filename=p.name) for p in result.files]
            try:
                await interaction.followup.send(text, files=files, ephemeral=True)
            finally:
                for file in files:
                    file.close()

    @export.autocomplete("campaign")
    async def _campaigns(self, interaction: discord.Interaction, current: str) -> list[Choice[str]]:
        if not is_moderator(interaction, Scope.NETWORK):  # nothing moderator-only for members
            return []
        names = await self.bot.services.exports.campaign_names(current)
        return [Choice(name=name[:100], value=name) for name in names][:25]

    @export.autocomplete("series")
    async def _series(self, interaction: discord.Interaction, current: str) -> list[Choice[str]]:
        """This server's recurring polls (the calendar's), as ``plan-3 · title``."""
        if not is_moderator(interaction):
            return []
        plans = await self.bot.services.calendar.plans(guild_id=interaction.guild_id or 0, kind="poll")
        text = current.strip().lower()
        return [Choice(name=f"{p.ref} · {p.title}"[:100], value=p.ref) for p in plans
                if p.recurring and (text in p.ref or text in p.title.lower())][:25]

    @export.autocomplete("poll")
    async def _polls(self, interaction: discord.Interaction, current: str) -> list[Choice[int]]:
        if not is_moderator(interaction):
            return []
        text = "" if current.strip().lstrip("#").isdigit() else current
        found = await self.bot.services.exports.poll_choices(interaction.guild_id or 0, text)
        lang = self.bot.lang(interaction)
        return [Choice(name=f"{self.bot.t('format.numbered', lang, id=poll_id)} · {title}"[:100], value=poll_id)
                for poll_id, title in found][:25]


async def setup(bot: ReseauBot) -> None:
    await bot.add_cog(Exports(bot))
