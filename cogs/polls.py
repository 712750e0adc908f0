"""/poll (fr /sondage): quick polls in chat — create, vote, close, results, list.

The rules live in ``bot/services/polls.py``; this cog only turns Discord events into service
calls and service results into messages.

* Components are :class:`discord.ui.DynamicItem`\\ s whose ``custom_id`` carries what they need
  (``rb:poll:<action>:<poll_id>[:<option_id>]``).  They are registered once with
  ``bot.add_dynamic_items``: a click works after a restart with nothing re-registered, and the
  handler reloads the poll, checks its guild, its status and the role restriction.
* discord.py only logs an exception raised by a DynamicItem callback; every callback here wraps
  its body and hands failures to the one error path (``cogs._errors.report_error``).  Modals
  are :class:`ReportingModal`\\ s.
* The public message's live counts are refreshed by one debounced task per poll: the first vote
  edits at once, later votes within ``polls.refresh_seconds`` are coalesced into one edit.
* Deadlines and reminders are APScheduler ``date`` jobs (``poll-close-<id>``,
  ``poll-remind-<id>``) rebuilt from the database by :meth:`Polls.on_bot_setup`; polls whose
  deadline passed while the bot was down are closed there (catch-up).  Every job is idempotent.
* Native Discord polls store their gateway votes (``on_raw_poll_vote_add`` / ``_remove``) in
  the same answers table; at closing, the voters Discord reports are reconciled into it.
"""

from __future__ import annotations

import asyncio
import io
import logging
from datetime import datetime, timedelta
from typing import Any

import discord
from apscheduler.jobstores.base import JobLookupError
from discord import app_commands
from discord.app_commands import Choice, locale_str
from discord.ext import commands

from bot.client import ReseauBot
from bot.errors import DomainError, NotFound
from bot.i18n import Catalogue
from bot.services import charts
from bot.services.campaigns import CampaignService
from bot.services.polls import (
    MAX_TEXT_ANSWER,
    PollDraft,
    PollResults,
    PollService,
    PollView,
    QuestionResults,
    VoteResult,
)
from cogs import _surveys, _text
from cogs._checks import is_moderator, moderator_only, require_moderator
from cogs._components import ID, PollIdButton, choice_select, option_ids
from cogs._errors import ReportingModal, ReportingView, guarded
from cogs._tables import code_block, type_table_lines

log = logging.getLogger(__name__)

_CATALOGUE = Catalogue.load()
MAX_BUTTON_OPTIONS = 5
BUTTON_LABEL_MAX = 80
OPEN_COLOUR = 0x2B6CB0
CLOSED_COLOUR = 0x718096
BAR_CELLS = 10
EMBED_BUDGET = 5900  # Discord allows 6,000 characters per message's embeds


def _choice_name(key: str) -> locale_str:
    return locale_str(_CATALOGUE.t(key, "en"), key=key)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _role_ids(interaction: discord.Interaction) -> list[int]:
    user = interaction.user
    return [role.id for role in user.roles] if isinstance(user, discord.Member) else []


def _polls(interaction: discord.Interaction) -> Polls:
    cog = interaction.client.get_cog("Polls")  # type: ignore[union-attr]
    if cog is None:  # pragma: no cover - the extension is always loaded with its items
        raise RuntimeError("the Polls cog is not loaded")
    return cog  # type: ignore[return-value]


# ----------------------------------------------------------------------------- components
class VoteButton(
    discord.ui.DynamicItem[discord.ui.Button], template=rf"rb:poll:vote:(?P<poll>{ID}):(?P<option>{ID})"
):
    """One option of a poll with at most five options (single or multiple choice)."""

    def __init__(self, poll_id: int, option_id: int, *, label: str = "…", row: int | None = None) -> None:
        super().__init__(
            discord.ui.Button(
                label=label,
                style=discord.ButtonStyle.primary,
                custom_id=f"rb:poll:vote:{poll_id}:{option_id}",
            ),
            row=row,
        )
        self.poll_id, self.option_id = poll_id, option_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: Any
    ) -> VoteButton:
        return cls(int(match["poll"]), int(match["option"]), label=getattr(item, "label", None) or "…")

    async def callback(self, interaction: discord.Interaction) -> None:
        await guarded(interaction, _polls(interaction).on_vote(interaction, self.poll_id, self.option_id))


class VoteSelect(discord.ui.DynamicItem[discord.ui.Select], template=rf"rb:poll:select:(?P<poll>{ID})"):
    """The options of a poll with more than five options (``max_values`` = the poll's maximum)."""

    def __init__(
        self,
        poll_id: int,
        *,
        options: list[discord.SelectOption] | None = None,
        max_values: int = 1,
        placeholder: str | None = None,
        row: int | None = None,
    ) -> None:
        super().__init__(
            choice_select(
                f"rb:poll:select:{poll_id}", options, max_values=max_values, placeholder=placeholder
            ),
            row=row,
        )
        self.poll_id = poll_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Select, match: Any
    ) -> VoteSelect:
        # getattr: a forged custom_id may come on another kind of component
        return cls(
            int(match["poll"]),
            options=list(getattr(item, "options", None) or []),
            max_values=getattr(item, "max_values", 1),
            placeholder=getattr(item, "placeholder", None),
        )

    async def callback(self, interaction: discord.Interaction) -> None:
        values = list(self.item.values)
        await guarded(interaction, _polls(interaction).on_select(interaction, self.poll_id, values))


class WithdrawButton(PollIdButton, template=rf"rb:poll:withdraw:(?P<poll>{ID})"):
    prefix = "rb:poll:withdraw"

    async def callback(self, interaction: discord.Interaction) -> None:
        await guarded(interaction, _polls(interaction).on_withdraw(interaction, self.poll_id))


class AnswerButton(PollIdButton, template=rf"rb:poll:answer:(?P<poll>{ID})"):
    """Opens the open-answer modal (``text`` kind)."""

    prefix = "rb:poll:answer"
    style = discord.ButtonStyle.primary

    async def callback(self, interaction: discord.Interaction) -> None:
        await guarded(interaction, _polls(interaction).on_answer_button(interaction, self.poll_id))


DYNAMIC_ITEMS = (VoteButton, VoteSelect, WithdrawButton, AnswerButton)


class TextAnswerModal(ReportingModal):
    """The open answer; its custom_id is per poll and member so that two members answering at
    the same time do not replace each other's modal in discord.py's store."""

    def __init__(self, poll: PollView, lang: str, user_id: int, current: str | None) -> None:
        super().__init__(
            title=_CATALOGUE.t("poll.modal.title", lang),
            custom_id=f"rb:poll:text:{poll.id}:{user_id}",
            timeout=900,
        )
        self.poll_id = poll.id
        self.answer: discord.ui.TextInput[TextAnswerModal] = discord.ui.TextInput(
            custom_id="answer",
            style=discord.TextStyle.paragraph,
            max_length=MAX_TEXT_ANSWER,
            required=True,
            default=current,
        )
        self.add_item(
            discord.ui.Label(
                text=_CATALOGUE.t("poll.modal.label", lang),
                description=_clip(poll.question, 100),
                component=self.answer,
            )
        )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await _polls(interaction).on_text_submit(interaction, self.poll_id, self.answer.value)


# ----------------------------------------------------------------------------- the cog
KIND_CHOICES = [
    Choice(name=_choice_name(f"cmd.poll.kinds.{kind}"), value=kind) for kind in PollService.kinds()
]


class Polls(commands.Cog):
    poll = app_commands.Group(name=_text.name("poll"), description=_text.desc("poll"), guild_only=True)
    campaign = app_commands.Group(
        name=_text.name("poll.campaign"), description=_text.desc("poll.campaign"), parent=poll
    )

    def __init__(self, bot: ReseauBot) -> None:
        self.bot = bot
        self.service = PollService.from_config(
            bot.sessions, bot.config, bot.catalogue, clock=lambda: bot.clock()
        )
        self.campaigns = CampaignService(bot.sessions, clock=lambda: bot.clock())
        self.surveys = _surveys.SurveyFlow(self)
        self._dirty: set[int] = set()
        self._refreshing: dict[int, asyncio.Task[None]] = {}
        self._edit_locks: dict[int, asyncio.Lock] = {}

    def t(self, key: str, lang: str, /, **params: Any) -> str:
        return self.bot.t(key, lang, **params)

    def jump_url(self, poll: PollView) -> str:
        return self.bot.config.discord.message_url(poll.guild_id, poll.channel_id, poll.message_id)

    async def cog_unload(self) -> None:
        """Jobs point at this cog's methods: drop them (a reload rebuilds them from the DB)."""
        for job in self.bot.scheduler.get_jobs():
            if job.id.startswith(("poll-close-", "poll-remind-")):
                job.remove()

    # ================================================================= commands
    @poll.command(name=_text.name("poll.create"), description=_text.desc("poll.create"))
    @_text.options(
        question="poll.opt.question",
        options="poll.opt.options",
        kind="poll.opt.kind",
        max_choices="poll.opt.max_choices",
        anonymous="poll.opt.anonymous",
        live_results="poll.opt.live_results",
        deadline="poll.opt.deadline",
        reminder="poll.opt.reminder",
        role="poll.opt.role",
        native="poll.opt.native",
        campaign="poll.opt.campaign",
    )
    @app_commands.choices(kind=KIND_CHOICES)
    async def create(
        self,
        interaction: discord.Interaction,
        question: str,
        options: str | None = None,
        kind: str = "single",
        max_choices: app_commands.Range[int, 1, 25] | None = None,
        anonymous: bool | None = None,
        live_results: bool = True,
        deadline: str | None = None,
        reminder: str | None = None,
        role: discord.Role | None = None,
        native: bool = False,
        campaign: app_commands.Range[str, 1, 100] | None = None,
    ) -> None:
        if not self.bot.config.bot.members_can_create_polls:
            require_moderator(interaction)
        lang = self.bot.lang(interaction)
        channel = interaction.channel
        if interaction.guild_id is None or not isinstance(channel, discord.abc.Messageable):
            raise DomainError("poll.error.no_channel")
        campaign_id = await self.campaigns.resolve(campaign)
        draft = self.service.prepare(
            guild_id=interaction.guild_id,
            channel_id=channel.id,  # type: ignore[union-attr]
            author_id=interaction.user.id,
            question=question,
            options=options,
            kind=kind,
            max_choices=max_choices,
            anonymous=anonymous,
            live_results=live_results,
            deadline=deadline,
            reminder=reminder,
            role_ids=[role.id] if role is not None else [],
            native=native,
            lang=self._channel_lang(channel.id, lang),  # type: ignore[union-attr]
            campaign_id=campaign_id,
        )
        await interaction.response.defer(ephemeral=True, thinking=True)
        poll, _message = await self.publish(draft, channel, actor_id=interaction.user.id)  # type: ignore[arg-type]
        await interaction.followup.send(
            await self._created_text("poll.created.buttons", poll, lang), ephemeral=True
        )

    async def publish(
        self, draft: PollDraft, channel: discord.abc.Messageable, *, actor_id: int | None = None
    ) -> tuple[PollView, discord.Message]:
        """Store a prepared poll or survey, post it in ``channel``, attach the message and
        schedule its deadline and reminder.  A post that fails deletes the poll and raises
        ``DomainError("poll.error.no_channel")``.

        For features that create polls themselves (an extract's follow-up question)::

            draft = cog.service.prepare(..., campaign_id=await current_campaign_id(sessions))
            poll, message = await cog.publish(draft, channel)
        """
        poll = await self.service.create(draft, actor_id=actor_id)
        try:
            if poll.native:
                message = await channel.send(poll=self._native_poll(poll, draft.native_hours or 1))
            else:
                message = await channel.send(
                    embed=self.poll_embed(poll, None), view=self.poll_components(poll)
                )
        except discord.HTTPException as exc:
            log.warning("could not post poll %s in %s: %s", poll.id, poll.channel_id, exc)
            await self.service.discard(poll.id)
            raise DomainError("poll.error.no_channel") from exc
        poll = await self.service.attach_message(poll.id, message.id)
        self.schedule_jobs(poll)
        return poll, message

    async def _created_text(self, key: str, poll: PollView, lang: str) -> str:
        text = self.t(key, lang, id=poll.id, link=self.jump_url(poll))
        name = await self.campaigns.name_of(poll.campaign_id)
        if name:
            text += "\n" + self.t("campaign.of_poll", lang, name=discord.utils.escape_markdown(name))
        return text

    # ----------------------------------------------------------------- surveys
    @poll.command(name=_text.name("poll.survey"), description=_text.desc("poll.survey"))
    @_text.options(
        anonymous="poll.opt.anonymous",
        deadline="poll.opt.deadline",
        reminder="poll.opt.reminder",
        role="poll.opt.role",
        campaign="poll.opt.campaign",
    )
    @moderator_only()
    async def survey(
        self,
        interaction: discord.Interaction,
        deadline: str | None = None,
        reminder: str | None = None,
        anonymous: bool | None = None,
        role: discord.Role | None = None,
        campaign: app_commands.Range[str, 1, 100] | None = None,
    ) -> None:
        """Opens the modal where the moderator types the title and the questions."""
        lang = self.bot.lang(interaction)
        channel = interaction.channel
        if interaction.guild_id is None or not isinstance(channel, discord.abc.Messageable):
            raise DomainError("poll.error.no_channel")
        self.service.check_timing(deadline, reminder)  # before the moderator types the questions
        options = {
            "deadline": deadline,
            "reminder": reminder,
            "anonymous": anonymous,
            "role_ids": [role.id] if role is not None else [],
            "campaign_id": await self.campaigns.resolve(campaign),
        }
        await interaction.response.send_modal(
            _surveys.SurveyCreateModal(self, lang, interaction.user.id, options)
        )

    async def on_survey_submit(
        self, interaction: discord.Interaction, title: str, questions: str, options: dict[str, Any]
    ) -> None:
        require_moderator(interaction)
        lang = self.bot.lang(interaction)
        channel = interaction.channel
        if interaction.guild_id is None or not isinstance(channel, discord.abc.Messageable):
            raise DomainError("poll.error.no_channel")
        draft = self.service.prepare_survey(
            guild_id=interaction.guild_id,
            channel_id=channel.id,  # type: ignore[union-attr]
            author_id=interaction.user.id,
            title=title,
            questions=questions,
            anonymous=options["anonymous"],
            deadline=options["deadline"],
            reminder=options["reminder"],
            role_ids=options["role_ids"],
            lang=self._channel_lang(channel.id, lang),  # type: ignore[union-attr]
            campaign_id=options["campaign_id"],
        )
        await interaction.response.defer(ephemeral=True, thinking=True)
        poll, _message = await self.publish(draft, channel, actor_id=interaction.user.id)
        await interaction.followup.send(
            await self._created_text("survey.created.done", poll, lang), ephemeral=True
        )

    # ----------------------------------------------------------------- campaigns
    @campaign.command(name=_text.name("poll.campaign.create"), description=_text.desc("poll.campaign.create"))
    @_text.options(name="poll.opt.campaign_name", current="poll.opt.current")
    @moderator_only()
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
        await interaction.response.send_message(
            self.t(key, lang, name=discord.utils.escape_markdown(created.name)), ephemeral=True
        )

    @campaign.command(name=_text.name("poll.campaign.list"), description=_text.desc("poll.campaign.list"))
    @moderator_only()
    async def campaign_list(self, interaction: discord.Interaction) -> None:
        lang = self.bot.lang(interaction)
        campaigns = await self.campaigns.list()
        lines = []
        current = None
        for c in campaigns:
            polls = self.t(
                "campaign.polls_one" if c.polls == 1 else "campaign.polls_other", lang, count=c.polls
            )
            people = self.t(
                "campaign.respondents_one" if c.respondents == 1 else "campaign.respondents_other",
                lang,
                count=c.respondents,
            )
            mark = f" — **{self.t('campaign.current_mark', lang)}**" if c.current else ""
            when = self.t("campaign.created_on", lang, date=_ts(c.created_at, "d"))
            lines.append(f"**{discord.utils.escape_markdown(c.name)}**{mark}\n{polls} · {people} · {when}")
            if c.current and current is None:
                current = c.name
        embed = discord.Embed(
            title=self.t("campaign.list_title", lang),
            description=_join_lines(lines, 4096) if lines else self.t("campaign.list_none", lang),
            colour=OPEN_COLOUR,
        )
        footer = (
            self.t("campaign.current_footer", lang, name=_clip(current, 100))
            if current
            else self.t("campaign.no_current", lang)
        )
        embed.set_footer(text=footer)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @campaign.command(
        name=_text.name("poll.campaign.activate"), description=_text.desc("poll.campaign.activate")
    )
    @_text.options(name="poll.opt.campaign_name")
    @moderator_only()
    async def campaign_activate(
        self, interaction: discord.Interaction, name: app_commands.Range[str, 1, 100]
    ) -> None:
        lang = self.bot.lang(interaction)
        campaign, changed = await self.campaigns.activate(
            name, actor_id=interaction.user.id, guild_id=interaction.guild_id
        )
        key = "campaign.activated" if changed else "campaign.already_current"
        await interaction.response.send_message(
            self.t(key, lang, name=discord.utils.escape_markdown(campaign.name)), ephemeral=True
        )

    @create.autocomplete("campaign")
    @survey.autocomplete("campaign")
    @campaign_activate.autocomplete("name")
    async def _campaign_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[Choice[str]]:
        if not is_moderator(interaction) and not self.bot.config.bot.members_can_create_polls:
            return []
        lang = self.bot.lang(interaction)
        found = await self.campaigns.search(current)
        mark = self.t("campaign.current_mark", lang)
        return [
            Choice(name=_clip(f"{name} ({mark})" if active else name, 100), value=name)
            for name, active in found
        ][:25]

    @poll.command(name=_text.name("poll.close"), description=_text.desc("poll.close"))
    @_text.options(poll_id="poll.opt.poll")
    @moderator_only()
    async def close(self, interaction: discord.Interaction, poll_id: int) -> None:
        lang = self.bot.lang(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        changed, poll = await self.close_poll(
            poll_id, guild_id=interaction.guild_id or 0, actor_id=interaction.user.id
        )
        key = "poll.closed.done" if changed else "poll.closed.already"
        await interaction.followup.send(self.t(key, lang, id=poll.id, link=self.jump_url(poll)), ephemeral=True)

    @poll.command(name=_text.name("poll.results"), description=_text.desc("poll.results"))
    @_text.options(poll_id="poll.opt.poll", by_type="poll.opt.by_type")
    @moderator_only()
    async def results(self, interaction: discord.Interaction, poll_id: int, by_type: bool = False) -> None:
        lang = self.bot.lang(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        results = await self.service.results(poll_id, guild_id=interaction.guild_id or 0)
        if results.poll.is_survey:
            embeds, files = await self.survey_embeds(results, lang, final=False, by_type=by_type)
            await interaction.followup.send(embeds=embeds, files=files, ephemeral=True)
            return
        embed = self.results_embed(results, lang, by_type=by_type)
        await self._add_campaign_field(embed, results.poll, lang)
        if results.poll.kind == "text":
            await interaction.followup.send(embed=embed, ephemeral=True)
            return
        file = await self.chart_file(results, lang, by_type=by_type)
        embed.set_image(url=f"attachment://{file.filename}")
        await interaction.followup.send(embed=embed, file=file, ephemeral=True)

    @poll.command(name=_text.name("poll.list"), description=_text.desc("poll.list"))
    async def list_polls(self, interaction: discord.Interaction) -> None:
        lang = self.bot.lang(interaction)
        listing = await self.service.list_polls(interaction.guild_id or 0)
        embed = discord.Embed(title=self.t("poll.list.title", lang), colour=OPEN_COLOUR)
        none = self.t("poll.list.none", lang)
        opened = [
            f"**#{p.id}** {'📋 ' if p.is_survey else ''}[{_clip(p.title or p.question, 80)}]({self.jump_url(p)})"
            + (f" — {self.t('poll.list.ends', lang, when=_ts(p.deadline_at, 'R'))}" if p.deadline_at else "")
            for p in listing.open
        ]
        recent = [
            f"**#{p.id}** {'📋 ' if p.is_survey else ''}[{_clip(p.title or p.question, 80)}]({self.jump_url(p)})"
            + (f" — {_ts(p.closed_at, 'd')}" if p.closed_at else "")
            for p in listing.recent
        ]
        embed.add_field(
            name=self.t("poll.list.open", lang), value=_join_lines(opened, 1024) or none, inline=False
        )
        embed.add_field(
            name=self.t("poll.list.recent", lang), value=_join_lines(recent, 1024) or none, inline=False
        )
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @close.autocomplete("poll_id")
    async def _open_polls_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[Choice[int]]:
        return await self._autocomplete(interaction, current, open_only=True)

    @results.autocomplete("poll_id")
    async def _all_polls_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[Choice[int]]:
        return await self._autocomplete(interaction, current, open_only=False)

    async def _autocomplete(
        self, interaction: discord.Interaction, current: str, *, open_only: bool
    ) -> list[Choice[int]]:
        if not is_moderator(interaction):
            return []
        text = "" if current.strip().lstrip("#").isdigit() else current.strip()
        found = await self.service.search(interaction.guild_id or 0, text, open_only=open_only)
        return [Choice(name=_clip(f"#{poll_id} · {title}", 100), value=poll_id) for poll_id, title in found][
            :25
        ]

    # ================================================================= component handlers
    async def on_vote(self, interaction: discord.Interaction, poll_id: int, option_id: int) -> None:
        result = await self.service.vote(
            poll_id,
            user_id=interaction.user.id,
            option_id=option_id,
            guild_id=interaction.guild_id or 0,
            role_ids=_role_ids(interaction),
        )
        await self._confirm(interaction, result)

    async def on_select(self, interaction: discord.Interaction, poll_id: int, values: list[str]) -> None:
        result = await self.service.choose(
            poll_id,
            user_id=interaction.user.id,
            option_ids=option_ids(values),
            guild_id=interaction.guild_id or 0,
            role_ids=_role_ids(interaction),
        )
        await self._confirm(interaction, result)

    async def on_withdraw(self, interaction: discord.Interaction, poll_id: int) -> None:
        result = await self.service.withdraw(
            poll_id,
            user_id=interaction.user.id,
            guild_id=interaction.guild_id or 0,
            role_ids=_role_ids(interaction),
        )
        await self._confirm(interaction, result)

    async def on_answer_button(self, interaction: discord.Interaction, poll_id: int) -> None:
        poll = await self.service.check_can_answer(
            poll_id, guild_id=interaction.guild_id or 0, role_ids=_role_ids(interaction)
        )
        if poll.kind != "text":
            raise DomainError("poll.error.not_text")
        current = await self.service.my_answer(poll_id, interaction.user.id)
        modal = TextAnswerModal(
            poll, self.bot.lang(interaction), interaction.user.id, current.text if current else None
        )
        await interaction.response.send_modal(modal)

    async def on_text_submit(self, interaction: discord.Interaction, poll_id: int, text: str) -> None:
        result = await self.service.answer_text(
            poll_id,
            user_id=interaction.user.id,
            text=text,
            guild_id=interaction.guild_id or 0,
            role_ids=_role_ids(interaction),
        )
        await self._confirm(interaction, result)

    async def _confirm(self, interaction: discord.Interaction, result: VoteResult) -> None:
        """The ephemeral acknowledgement with the member's current choice, then the debounced
        refresh of the public message."""
        lang = self.bot.lang(interaction)
        await interaction.response.send_message(self.confirmation(result, lang), ephemeral=True)
        if result.changed:
            self.schedule_refresh(result.poll.id)

    def confirmation(self, result: VoteResult, lang: str) -> str:
        if result.withdrawn:
            return self.t("poll.vote.withdrawn" if result.changed else "poll.vote.nothing_to_withdraw", lang)
        if result.text is not None:
            line = self.t("poll.vote.text", lang, text=_clip(discord.utils.escape_markdown(result.text), 300))
        else:
            labels = ", ".join(f"**{discord.utils.escape_markdown(label)}**" for label in result.labels)
            if result.poll.multiple:
                line = self.t(
                    "poll.vote.choices",
                    lang,
                    count=len(result.option_ids),
                    max=result.poll.max_choices,
                    choices=labels,
                )
            else:
                line = self.t("poll.vote.choice", lang, choices=labels)
        return f"{line}\n{self.t('poll.vote.change_hint', lang)}"

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """Submitted survey open-answer modals (not kept in discord.py's modal store)."""
        await self.surveys.on_modal_interaction(interaction)

    # ================================================================= native polls
    @commands.Cog.listener()
    async def on_raw_poll_vote_add(self, payload: discord.RawPollVoteActionEvent) -> None:
        await self._native_vote(payload, added=True)

    @commands.Cog.listener()
    async def on_raw_poll_vote_remove(self, payload: discord.RawPollVoteActionEvent) -> None:
        await self._native_vote(payload, added=False)

    async def _native_vote(self, payload: discord.RawPollVoteActionEvent, *, added: bool) -> None:
        try:
            await self.service.native_vote(
                message_id=payload.message_id,
                user_id=payload.user_id,
                answer_id=payload.answer_id,
                added=added,
                guild_id=payload.guild_id,
            )
        except Exception:
            log.exception("could not store a native poll vote (%s)", payload)

    def _native_poll(self, poll: PollView, hours: int) -> discord.Poll:
        native = discord.Poll(question=poll.question, duration=timedelta(hours=hours), multiple=poll.multiple)
        for option in poll.options:
            native.add_answer(text=option.label)
        return native

    async def _reconcile_native(self, poll: PollView) -> None:
        """Make our answers match the voters Discord reports (votes cast while we were away)."""
        partial = self._message(poll)
        try:
            try:
                message = await partial.end_poll()
            except discord.HTTPException:
                message = await partial.fetch()
            if message.poll is None:
                return
            votes: dict[int, set[int]] = {}
            complete = True
            for answer in message.poll.answers:
                voters = {voter.id async for voter in answer.voters()}
                complete = complete and len(voters) >= answer.vote_count
                for voter_id in voters:
                    votes.setdefault(voter_id, set()).add(answer.id)
        except discord.HTTPException as exc:
            log.warning("could not read the voters of native poll %s: %s", poll.id, exc)
            return
        # Answers Discord does not list are removed only when its list is complete.
        changed = await self.service.reconcile_native(poll.id, votes, remove_missing=complete)
        if changed:
            log.info("native poll %s: %d answer(s) reconciled with Discord's voters", poll.id, changed)

    # ================================================================= public message
    def poll_components(self, poll: PollView) -> discord.ui.View | None:
        if poll.native or not poll.is_open:
            return None
        lang = poll.lang
        view = ReportingView(timeout=None)
        if poll.is_survey:
            view.add_item(
                _surveys.SurveyStartButton(poll.id, label=self.t("survey.message.start", lang), row=0)
            )
            return view
        if poll.kind == "text":
            view.add_item(AnswerButton(poll.id, label=self.t("poll.message.answer", lang), row=0))
        elif len(poll.options) <= MAX_BUTTON_OPTIONS:
            for option in poll.options:
                view.add_item(
                    VoteButton(poll.id, option.id, label=_clip(option.label, BUTTON_LABEL_MAX), row=0)
                )
        else:
            placeholder = (
                self.t("poll.message.select_placeholder_multi", lang, max=poll.max_choices)
                if poll.multiple
                else self.t("poll.message.select_placeholder", lang)
            )
            options = [discord.SelectOption(label=o.label, value=str(o.id)) for o in poll.options]
            view.add_item(
                VoteSelect(
                    poll.id, options=options, max_values=poll.max_choices, placeholder=placeholder, row=0
                )
            )
        view.add_item(WithdrawButton(poll.id, label=self.t("poll.message.withdraw", lang), row=1))
        return view

    def poll_embed(
        self, poll: PollView, results: PollResults | None, *, image: str | None = None
    ) -> discord.Embed:
        """The public message: the question, the options (with counts when they are shown),
        the rules, and — once closed — the final results (and the breakdown by member type
        when at least one answer has one)."""
        if poll.is_survey:
            return self.survey_embed(poll, results)
        lang = poll.lang
        final = not poll.is_open
        title_key = "poll.message.title_closed" if final else "poll.message.title"
        lines = [f"**{discord.utils.escape_markdown(poll.question)}**", ""]
        respondents = results.respondents if results else 0
        show_counts = final or poll.live_results
        if poll.kind != "text":
            counts = {o.option_id: o.count for o in results.options} if results else {}
            for option in poll.options:
                label = discord.utils.escape_markdown(option.label)
                if show_counts:
                    count = counts.get(option.id, 0)
                    share = count / respondents if respondents else 0.0
                    filled = round(share * BAR_CELLS)
                    bar = "█" * filled + "░" * (BAR_CELLS - filled)
                    lines.append(f"{label}\n`{bar}` {charts.format_count_pct(count, respondents, lang)}")
                else:
                    lines.append(f"• {label}")
        elif final:
            lines.append(self.t("poll.message.text_answers", lang))
        embed = discord.Embed(
            title=self.t(title_key, lang, id=poll.id),
            description=_clip("\n".join(lines), 4000),
            colour=CLOSED_COLOUR if final else OPEN_COLOUR,
        )
        embed.add_field(
            name=self.t("poll.message.kind", lang),
            value=self.service.kind_label(poll.kind, lang, poll.max_choices),
        )
        if final and poll.closed_at is not None:
            embed.add_field(name=self.t("poll.message.closed_at", lang), value=_ts(poll.closed_at, "f"))
        elif poll.deadline_at is not None:
            embed.add_field(
                name=self.t("poll.message.deadline", lang),
                value=f"{_ts(poll.deadline_at, 'f')} ({_ts(poll.deadline_at, 'R')})",
            )
        else:
            embed.add_field(
                name=self.t("poll.message.deadline", lang), value=self.t("poll.message.no_deadline", lang)
            )
        privacy = "poll.message.anonymous" if poll.anonymous else "poll.message.named"
        embed.add_field(name=self.t("poll.message.privacy", lang), value=self.t(privacy, lang), inline=False)
        if poll.allowed_role_ids:
            embed.add_field(
                name=self.t("poll.message.roles", lang),
                value=" ".join(f"<@&{role_id}>" for role_id in poll.allowed_role_ids),
                inline=False,
            )
        footer = [self._respondents(respondents, lang)]
        if final:
            footer.append(self.t("poll.message.final", lang))
        else:
            if not poll.live_results:
                footer.append(self.t("poll.message.hidden", lang))
            footer.append(
                self.t("poll.message.how_to_text" if poll.kind == "text" else "poll.message.how_to", lang)
            )
        embed.set_footer(text=" · ".join(footer))
        if final and results is not None and results.has_member_types and poll.kind != "text":
            self._add_type_table(embed, results, lang, self.t("poll.results.by_type", lang))
        if image:
            embed.set_image(url=f"attachment://{image}")
        return embed

    def _add_type_table(
        self, embed: discord.Embed, results: PollResults | QuestionResults, lang: str, name: str
    ) -> None:
        """The table by member type as a field, within Discord's 6,000 characters per embed."""
        room = min(1024, EMBED_BUDGET - len(embed) - len(name))
        if room >= 200:
            embed.add_field(name=name, value=self.type_table_block(results, lang, room), inline=False)

    def _respondents(self, count: int, lang: str) -> str:
        singular = count < 2 if lang == "fr" else count == 1
        key = "poll.message.respondents_one" if singular else "poll.message.respondents_other"
        return self.t(key, lang, count=charts.format_count(count, lang))

    def results_embed(self, results: PollResults, lang: str, *, by_type: bool = False) -> discord.Embed:
        """What moderators read with /poll results: counts, percentages, member types (with
        ``by_type``: the full table), and for named polls who answered what."""
        poll = results.poll
        lines = [f"**{discord.utils.escape_markdown(poll.question)}**", ""]
        if poll.kind == "text":
            for answer in results.texts:
                who = f" — <@{answer.user_id}>" if answer.user_id is not None else ""
                lines.append(f"> {_clip(discord.utils.escape_markdown(answer.text), 300)}{who}")
            if not results.texts:
                lines.append(self.t("poll.results.none", lang))
        else:
            for option in results.options:
                count = charts.format_count_pct(option.count, results.respondents, lang)
                lines.append(f"{discord.utils.escape_markdown(option.label)} — {count}")
        embed = discord.Embed(
            title=self.t("poll.results.title", lang, id=poll.id),
            description=_clip("\n".join(lines), 4000),
            colour=OPEN_COLOUR if poll.is_open else CLOSED_COLOUR,
        )
        status = self.t("poll.results.status_open" if poll.is_open else "poll.results.status_closed", lang)
        if poll.is_open and poll.deadline_at is not None:
            status += f" · {self.t('poll.message.deadline', lang)} {_ts(poll.deadline_at, 'f')}"
        embed.add_field(name=self.t("poll.results.status", lang), value=status, inline=False)
        if results.has_member_types and poll.kind != "text" and not by_type:
            type_lines = []
            for breakdown in results.by_type:
                parts = " · ".join(
                    f"{_clip(o.label, 30)} {n}"
                    for o, n in zip(results.options, breakdown.counts, strict=True)
                    if n
                )
                label = self.service.member_type_label(breakdown.code, lang)
                colon = " :" if lang == "fr" else ":"
                type_lines.append(f"**{label}** ({breakdown.respondents}){colon} {parts}")
            embed.add_field(
                name=self.t("poll.results.by_type", lang), value=_join_lines(type_lines, 1024), inline=False
            )
        if results.voters and poll.kind != "text":
            voter_lines = []
            for option in results.options:
                users = results.voters.get(option.option_id, ())
                if users:
                    voter_lines.append(f"{_clip(option.label, 40)} : " + ", ".join(f"<@{u}>" for u in users))
            embed.add_field(
                name=self.t("poll.results.voters", lang), value=_join_lines(voter_lines, 1024), inline=False
            )
        embed.set_footer(text=self._respondents(results.respondents, lang))
        if by_type and results.by_type and poll.kind != "text":
            self._add_type_table(embed, results, lang, self.t("poll.results.by_type_table", lang))
        return embed

    def type_table_block(self, results: PollResults | QuestionResults, lang: str, limit: int) -> str:
        """Results by member type as a code-block table of at most ``limit`` characters."""
        table = self.service.type_table(results, lang)
        return code_block(type_table_lines(table, lang, self.t("poll.results.type_column", lang)), limit)

    def draw_chart(
        self, results: PollResults | QuestionResults, lang: str, *, by_type: bool = False
    ) -> bytes:
        """The results chart as PNG bytes (run it in a thread: ``asyncio.to_thread``): by member
        type when an answer has one (or ``by_type`` is asked and there are answers)."""
        labels = [o.label for o in results.options]
        title = results.question.text if isinstance(results, QuestionResults) else results.poll.question
        if results.has_member_types or (by_type and results.by_type):
            return charts.results_by_type_chart(
                title,
                labels,
                [self.service.member_type_label(b.code, lang) for b in results.by_type],
                [list(b.counts) for b in results.by_type],
                lang=lang,
                respondents=results.respondents,
            )
        return charts.results_chart(
            title, labels, [o.count for o in results.options], lang=lang, respondents=results.respondents
        )

    async def chart_file(self, results: PollResults, lang: str, *, by_type: bool = False) -> discord.File:
        png = await asyncio.to_thread(self.draw_chart, results, lang, by_type=by_type)
        return discord.File(io.BytesIO(png), filename=f"poll-{results.poll.id}-results.png")

    # ----------------------------------------------------------------- survey messages
    def survey_embed(self, poll: PollView, results: PollResults | None) -> discord.Embed:
        """A survey's public message: its title, its questions, the rules and how many members
        took part; once closed, the header of the final results (one embed per question
        follows, see :meth:`survey_embeds`)."""
        lang = poll.lang
        final = not poll.is_open
        lines = [f"**{discord.utils.escape_markdown(poll.title)}**", ""]
        for question in poll.questions:
            kind = self.service.kind_label(question.kind, lang, question.max_choices)
            lines.append(f"**{question.number}.** {discord.utils.escape_markdown(question.text)} — *{kind}*")
        embed = discord.Embed(
            title=self.t(
                "survey.message.title_closed" if final else "survey.message.title", lang, id=poll.id
            ),
            description=_clip("\n".join(lines), 4000),
            colour=CLOSED_COLOUR if final else OPEN_COLOUR,
        )
        if final and poll.closed_at is not None:
            embed.add_field(name=self.t("poll.message.closed_at", lang), value=_ts(poll.closed_at, "f"))
        elif poll.deadline_at is not None:
            embed.add_field(
                name=self.t("poll.message.deadline", lang),
                value=f"{_ts(poll.deadline_at, 'f')} ({_ts(poll.deadline_at, 'R')})",
            )
        privacy = "poll.message.anonymous" if poll.anonymous else "poll.message.named"
        embed.add_field(name=self.t("poll.message.privacy", lang), value=self.t(privacy, lang), inline=False)
        if poll.allowed_role_ids:
            embed.add_field(
                name=self.t("poll.message.roles", lang),
                value=" ".join(f"<@&{role_id}>" for role_id in poll.allowed_role_ids),
                inline=False,
            )
        footer = [self._participants(results, lang)]
        footer.append(self.t("poll.message.final" if final else "survey.message.how_to", lang))
        embed.set_footer(text=" · ".join(footer))
        return embed

    def _participants(self, results: PollResults | None, lang: str) -> str:
        count = results.survey_respondents if results else 0
        singular = count < 2 if lang == "fr" else count == 1
        text = self.t(
            "survey.message.participants_one" if singular else "survey.message.participants_other",
            lang,
            count=charts.format_count(count, lang),
        )
        if results is not None and count:
            text += f" ({self.t('survey.message.completed', lang, count=charts.format_count(results.completed, lang))})"
        return text

    async def survey_embeds(
        self, results: PollResults, lang: str, *, final: bool, by_type: bool = False
    ) -> tuple[list[discord.Embed], list[discord.File]]:
        """A survey's results: a header embed, then one embed per question with its counts,
        its chart (choice questions) and — when asked, or when closing with member types — the
        table by member type.  Kept under Discord's 6,000 characters per message."""
        poll = results.poll
        if final:
            header = self.survey_embed(poll, results)
        else:
            header = discord.Embed(
                title=self.t("survey.message.results_title", lang, id=poll.id),
                description=f"**{discord.utils.escape_markdown(poll.title)}**",
                colour=OPEN_COLOUR if poll.is_open else CLOSED_COLOUR,
            )
            status = self.t(
                "poll.results.status_open" if poll.is_open else "poll.results.status_closed", lang
            )
            header.add_field(name=self.t("poll.results.status", lang), value=status, inline=False)
            header.set_footer(text=self._participants(results, lang))
        await self._add_campaign_field(header, poll, lang)
        budget = max(300, (5600 - len(header)) // max(1, len(results.questions)))
        embeds, files = [header], []
        total = len(results.questions)
        for qr in results.questions:
            question = qr.question
            lines = [f"**{discord.utils.escape_markdown(_clip(question.text, 300))}**"]
            if question.kind == "text":
                if final:
                    lines.append(self.t("survey.message.text_answers", lang))
                else:
                    for answer in qr.texts:
                        who = f" — <@{answer.user_id}>" if answer.user_id is not None else ""
                        lines.append(f"> {_clip(discord.utils.escape_markdown(answer.text), 200)}{who}")
                    if not qr.texts:
                        lines.append(self.t("poll.results.none", lang))
            else:
                for option in qr.options:
                    count = charts.format_count_pct(option.count, qr.respondents, lang)
                    lines.append(f"{discord.utils.escape_markdown(_clip(option.label, 80))} — {count}")
            text = "\n".join(lines)
            if question.kind != "text" and qr.by_type and (by_type or (final and qr.has_member_types)):
                room = budget - len(text) - 2
                if room > 120:
                    text += "\n" + self.type_table_block(qr, lang, min(room, 2000))
            embed = discord.Embed(
                title=self.t("survey.message.question", lang, number=question.number, total=total),
                description=_clip(text, budget),
                colour=CLOSED_COLOUR if final or not poll.is_open else OPEN_COLOUR,
            )
            embed.set_footer(text=self._respondents(qr.respondents, lang))
            if question.kind != "text" and qr.respondents:
                png = await asyncio.to_thread(self.draw_chart, qr, lang, by_type=by_type)
                file = discord.File(io.BytesIO(png), filename=f"survey-{poll.id}-q{question.number}.png")
                embed.set_image(url=f"attachment://{file.filename}")
                files.append(file)
            embeds.append(embed)
        return embeds, files

    async def _add_campaign_field(self, embed: discord.Embed, poll: PollView, lang: str) -> None:
        name = await self.campaigns.name_of(poll.campaign_id)
        if name:
            embed.add_field(name=self.t("campaign.field", lang), value=_clip(name, 100), inline=False)

    def _message(self, poll: PollView) -> discord.PartialMessage:
        channel = self.bot.get_partial_messageable(poll.channel_id, guild_id=poll.guild_id)
        return channel.get_partial_message(poll.message_id)  # type: ignore[arg-type]

    def _channel_lang(self, channel_id: int, default: str) -> str:
        for channel in self.bot.config.channels:
            if channel.channel_id == channel_id:
                return channel.language
        return default

    def _edit_lock(self, poll_id: int) -> asyncio.Lock:
        return self._edit_locks.setdefault(poll_id, asyncio.Lock())

    # ----------------------------------------------------------------- debounced refresh
    def schedule_refresh(self, poll_id: int) -> None:
        """Coalesce a burst of votes: the first vote edits the message at once, the votes of
        the next ``polls.refresh_seconds`` are applied by one more edit, and so on."""
        self._dirty.add(poll_id)
        if poll_id not in self._refreshing:
            self._refreshing[poll_id] = self.bot.track(
                self._refresh_loop(poll_id), name=f"poll-refresh-{poll_id}"
            )

    async def _refresh_loop(self, poll_id: int) -> None:
        try:
            while poll_id in self._dirty:
                self._dirty.discard(poll_id)
                await self._edit_live(poll_id)
                await asyncio.sleep(self.bot.config.polls.refresh_seconds)
        finally:
            self._refreshing.pop(poll_id, None)

    async def _edit_live(self, poll_id: int) -> None:
        async with self._edit_lock(poll_id):
            try:
                results = await self.service.results(poll_id)
            except NotFound:
                return
            poll = results.poll
            if not poll.is_open or poll.native or poll.message_id is None:
                return  # the closing edit owns a closed poll's message
            try:
                await self._message(poll).edit(embed=self.poll_embed(poll, results))
            except discord.HTTPException as exc:
                log.warning("could not refresh poll %s: %s", poll_id, exc)

    # ================================================================= closing
    async def close_poll(
        self, poll_id: int, *, guild_id: int | None = None, actor_id: int | None = None
    ) -> tuple[bool, PollView]:
        """Close the poll (idempotent), drop its jobs and show the final results.  Closing an
        already closed poll redraws its final message (a repair after a failed edit)."""
        result = await self.service.close(poll_id, guild_id=guild_id, actor_id=actor_id)
        self.unschedule_jobs(poll_id)
        self._dirty.discard(poll_id)
        if result.changed or (actor_id is not None and not result.poll.native):
            await self.finalise_message(result.poll)
        self._edit_locks.pop(poll_id, None)
        return result.changed, result.poll

    async def finalise_message(self, poll: PollView) -> None:
        """The closing edit: final counts and the results chart (native polls: a reply with
        the results under the ended Discord poll)."""
        if poll.message_id is None:
            return
        async with self._edit_lock(poll.id):
            if poll.native:
                await self._reconcile_native(poll)
            results = await self.service.results(poll.id)
            try:
                if poll.is_survey:
                    embeds, files = await self.survey_embeds(results, poll.lang, final=True)
                    await self._message(poll).edit(embeds=embeds, view=None, attachments=files)
                    return
                if poll.kind == "text":
                    await self._message(poll).edit(embed=self.poll_embed(results.poll, results), view=None)
                    return
                file = await self.chart_file(results, poll.lang)
                if poll.native:
                    embed = self.results_embed(results, poll.lang)
                    embed.title = self.t(
                        "poll.message.native_results",
                        poll.lang,
                        id=poll.id,
                        question=_clip(poll.question, 200),
                    )
                    embed.description = "\n".join(
                        f"{discord.utils.escape_markdown(o.label)} — {charts.format_count_pct(o.count, results.respondents, poll.lang)}"
                        for o in results.options
                    )
                    embed.clear_fields()
                    if results.has_member_types:
                        self._add_type_table(
                            embed, results, poll.lang, self.t("poll.results.by_type", poll.lang)
                        )
                    embed.set_image(url=f"attachment://{file.filename}")
                    await self._message(poll).reply(embed=embed, file=file, mention_author=False)
                else:
                    embed = self.poll_embed(results.poll, results, image=file.filename)
                    await self._message(poll).edit(embed=embed, view=None, attachments=[file])
            except discord.HTTPException as exc:
                log.warning("could not show the final results of poll %s: %s", poll.id, exc)

    # ================================================================= scheduler
    async def on_bot_setup(self) -> None:
        """At start-up and on reconfigure: follow the config, rebuild the poll jobs from the
        database, close polls whose deadline passed while the bot was down and send missed
        reminders."""
        self.service.configure(self.bot.config)
        now = self.bot.clock()
        wanted: set[str] = set()
        overdue: list[int] = []
        late_reminders: list[int] = []
        for poll in await self.service.open_polls():
            if poll.deadline_at is not None and poll.deadline_at <= now:
                overdue.append(poll.id)
                continue
            wanted |= self.schedule_jobs(poll)
            if poll.reminder_at is not None and not poll.reminder_sent and poll.reminder_at <= now:
                late_reminders.append(poll.id)
        for job in self.bot.scheduler.get_jobs():
            if job.id.startswith(("poll-close-", "poll-remind-")) and job.id not in wanted:
                job.remove()
        for poll_id in overdue:
            await self.run_deadline(poll_id)
        for poll_id in late_reminders:
            await self.run_reminder(poll_id)

    def schedule_jobs(self, poll: PollView) -> set[str]:
        """``date`` jobs for the poll's deadline and reminder; returns their ids."""
        ids: set[str] = set()
        now = self.bot.clock()
        if not poll.is_open:
            return ids
        if poll.deadline_at is not None:
            ids.add(self._date_job(f"poll-close-{poll.id}", self._deadline_job, poll.deadline_at, poll.id))
        if poll.reminder_at is not None and not poll.reminder_sent and poll.reminder_at > now:
            ids.add(self._date_job(f"poll-remind-{poll.id}", self._reminder_job, poll.reminder_at, poll.id))
        return ids

    def _date_job(self, job_id: str, func: Any, when: datetime, poll_id: int) -> str:
        """One idempotent ``date`` job (replaced if it exists; run late rather than never)."""
        self.bot.scheduler.add_job(
            func,
            "date",
            run_date=when,
            args=[poll_id],
            id=job_id,
            replace_existing=True,
            misfire_grace_time=None,
            coalesce=True,
        )
        return job_id

    def unschedule_jobs(self, poll_id: int) -> None:
        for job_id in (f"poll-close-{poll_id}", f"poll-remind-{poll_id}"):
            try:
                self.bot.scheduler.remove_job(job_id)
            except JobLookupError:
                pass

    async def _deadline_job(self, poll_id: int) -> None:
        # tracked, so that ReseauBot.close() lets a closing in progress finish
        await self.bot.track(self.run_deadline(poll_id), name=f"poll-close-{poll_id}")

    async def _reminder_job(self, poll_id: int) -> None:
        await self.bot.track(self.run_reminder(poll_id), name=f"poll-remind-{poll_id}")

    async def run_deadline(self, poll_id: int) -> None:
        """The deadline job (idempotent): close the poll if it is open and due."""
        try:
            poll = await self.service.get(poll_id)
            if not poll.is_open:
                return
            if poll.deadline_at is not None and poll.deadline_at > self.bot.clock():
                self.schedule_jobs(poll)  # woke up early (clock change): try again at the deadline
                return
            await self.close_poll(poll_id)
        except NotFound:
            return
        except Exception:
            log.exception("closing poll %s at its deadline failed", poll_id)

    async def _reminder_messages(
        self, poll: PollView, text: str
    ) -> list[tuple[str, discord.AllowedMentions]]:
        """Who the reminder pings.  With the members intent, only the members of the allowed
        roles who have not answered (nothing if all have); without it (the default), the
        roles themselves — Discord then pings every holder, including those who answered."""
        roles = list(poll.allowed_role_ids)
        guild = self.bot.get_guild(poll.guild_id)
        if not roles:
            return [(text, discord.AllowedMentions.none())]
        if self.bot.intents.members and guild is not None:
            answered = await self.service.respondent_ids(poll.id)
            targets = sorted(
                {
                    m.id
                    for role_id in roles
                    if (role := guild.get_role(role_id))
                    for m in role.members
                    if not m.bot
                }
                - answered
            )
            messages = []
            for start in range(0, len(targets), REMINDER_MENTIONS_PER_MESSAGE):
                chunk = targets[start : start + REMINDER_MENTIONS_PER_MESSAGE]
                mentions = " ".join(f"<@{user_id}>" for user_id in chunk)
                allowed = discord.AllowedMentions(
                    everyone=False, roles=False, users=[discord.Object(u) for u in chunk]
                )
                messages.append((f"{mentions}\n{text}" if start == 0 else mentions, allowed))
            return messages
        mentions = " ".join(f"<@&{role_id}>" for role_id in roles)
        allowed = discord.AllowedMentions(
            everyone=False, users=False, roles=[discord.Object(r) for r in roles]
        )
        return [(f"{mentions}\n{text}", allowed)]

    async def run_reminder(self, poll_id: int) -> None:
        """The reminder job (idempotent): a message in the poll's channel pinging who should
        still answer (see ``_reminder_messages``), then ``reminder_sent``."""
        try:
            poll = await self.service.claim_reminder(poll_id)
            if poll is None or poll.message_id is None:
                return
            text = self.t(
                "poll.reminder.text",
                poll.lang,
                question=_clip(poll.title if poll.is_survey else poll.question, 200),
                when=_ts(poll.deadline_at, "R") if poll.deadline_at else "",
                link=self.jump_url(poll),
            )
            channel = self.bot.get_partial_messageable(poll.channel_id, guild_id=poll.guild_id)
            try:
                for content, allowed in await self._reminder_messages(poll, text):
                    await channel.send(content, allowed_mentions=allowed)
            except discord.HTTPException as exc:
                log.warning("could not post the reminder of poll %s: %s", poll_id, exc)
                await self.service.release_reminder(poll_id)
        except Exception:
            log.exception("the reminder of poll %s failed", poll_id)


REMINDER_MENTIONS_PER_MESSAGE = 40  # 40 user mentions ≈ 900 characters, well within 2,000


def _ts(when: datetime | None, style: str) -> str:
    return f"<t:{int(when.timestamp())}:{style}>" if when else ""


def _join_lines(lines: list[str], limit: int) -> str:
    """Lines joined up to ``limit`` characters (an embed field), then "… (+n)"."""
    out: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        if used + len(line) + 1 > limit - 16:
            out.append(f"… (+{len(lines) - index})")
            break
        out.append(line)
        used += len(line) + 1
    return "\n".join(out)


async def setup(bot: ReseauBot) -> None:
    bot.add_dynamic_items(*DYNAMIC_ITEMS, *_surveys.DYNAMIC_ITEMS)
    await bot.add_cog(Polls(bot))
