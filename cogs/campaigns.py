"""/poll campaign (fr /sondage campagne): create, list and activate the campaigns that group
polls and surveys (a year's questionnaire, a consultation…).

The rules are ``bot/services/campaigns.py``'s.  The sub-commands stay under ``/poll``, as
members and moderators know them: this cog's ``campaign`` group is attached to the Polls cog's
``/poll`` group when it loads (in its place, first), and detached when it unloads — so the
extension is loaded after ``cogs.polls`` (and reloaded with it) and the synced command tree
is unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.app_commands import Choice
from discord.ext import commands

from cogs import _text
from cogs._checks import Scope, is_moderator, moderator_only
from cogs.polls._common import OPEN_COLOUR, clip, esc, join_lines, ts
from cogs.polls.commands import campaign_choices

if TYPE_CHECKING:
    from bot.client import ReseauBot
    from bot.services.campaigns import CampaignService, CampaignView
    from cogs.polls.commands import Polls


def campaign_list_embed(campaigns: list[CampaignView], lang: str, t: Any) -> discord.Embed:
    """/poll campaign list: each campaign with its polls, respondents and creation date; the
    current one marked and named in the footer."""
    lines = []
    current = None
    for c in campaigns:
        polls = t("campaign.polls", lang, count=c.polls)
        people = t("campaign.respondents", lang, count=c.respondents)
        mark = f" — **{t('campaign.current_mark', lang)}**" if c.current else ""
        when = t("campaign.created_on", lang, date=ts(c.created_at, "d"))
        lines.append(f"**{esc(c.name)}**{mark}\n{polls} · {people} · {when}")
        if c.current and current is None:
            current = c.name
    embed = discord.Embed(
        title=t("campaign.list_title", lang),
        description=join_lines(lines, 4096) if lines else t("campaign.list_none", lang),
        colour=OPEN_COLOUR,
    )
    footer = t("campaign.current_footer", lang, name=clip(current, 100)) if current else t("campaign.no_current", lang)
    embed.set_footer(text=footer)
    return embed


class Campaigns(commands.Cog):
    campaign = app_commands.Group(name=_text.name("poll.campaign"), description=_text.desc("poll.campaign"))

    def __init__(self, bot: ReseauBot, polls: Polls) -> None:
        self.bot = bot
        self.polls = polls
        self.campaigns: CampaignService = bot.services.campaigns

    def t(self, key: str, lang: str, /, **params: Any) -> str:
        return self.bot.t(key, lang, **params)

    async def cog_load(self) -> None:
        """Attach ``campaign`` under ``/poll`` (first, where it has always been) instead of as a
        top-level command: discord.py adds only what is left in ``__cog_app_commands__``."""
        group = self.polls.poll
        siblings = list(group.commands)
        for command in siblings:
            group.remove_command(command.name)
        group.add_command(self.campaign)
        for command in siblings:
            group.add_command(command)
        self.__cog_app_commands__ = []

    async def cog_unload(self) -> None:
        if self.polls.poll.get_command(self.campaign.name) is self.campaign:
            self.polls.poll.remove_command(self.campaign.name)

    @campaign.command(name=_text.name("poll.campaign.create"), description=_text.desc("poll.campaign.create"))
    @_text.options(name="poll.opt.campaign_name", current="poll.opt.current")
    @moderator_only(Scope.NETWORK)
    async def campaign_create(
        self,
        interaction: discord.Interaction,
        name: app_commands.Range[str, 1, 100],
        current: bool | None = None,
    ) -> None:
        lang = self.bot.lang(interaction)
        created = await self.campaigns.create(
            name, actor_id=interaction.user.id, activate=current, guild_id=interaction.guild_id
        )
        key = "campaign.created_current" if created.current else "campaign.created"
        await interaction.response.send_message(self.t(key, lang, name=esc(created.name)), ephemeral=True)

    @campaign.command(name=_text.name("poll.campaign.list"), description=_text.desc("poll.campaign.list"))
    @moderator_only(Scope.NETWORK)
    async def campaign_list(self, interaction: discord.Interaction) -> None:
        lang = self.bot.lang(interaction)
        embed = campaign_list_embed(await self.campaigns.list(), lang, self.t)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @campaign.command(
        name=_text.name("poll.campaign.activate"), description=_text.desc("poll.campaign.activate")
    )
    @_text.options(name="poll.opt.campaign_name")
    @moderator_only(Scope.NETWORK)
    async def campaign_activate(
        self, interaction: discord.Interaction, name: app_commands.Range[str, 1, 100]
    ) -> None:
        lang = self.bot.lang(interaction)
        campaign, changed = await self.campaigns.activate(
            name, actor_id=interaction.user.id, guild_id=interaction.guild_id
        )
        key = "campaign.activated" if changed else "campaign.already_current"
        await interaction.response.send_message(self.t(key, lang, name=esc(campaign.name)), ephemeral=True)

    @campaign_activate.autocomplete("name")
    async def _campaign_autocomplete(self, interaction: discord.Interaction, current: str) -> list[Choice[str]]:
        if not is_moderator(interaction, Scope.NETWORK):  # campaign names are the network moderators'
            return []
        return await campaign_choices(self.campaigns, self.bot.lang(interaction), current, self.t)


async def setup(bot: ReseauBot) -> None:
    polls = bot.get_cog("Polls")
    if polls is None:
        raise RuntimeError("cogs.campaigns attaches /poll campaign to the Polls cog: load cogs.polls first")
    await bot.add_cog(Campaigns(bot, polls))  # type: ignore[arg-type]
