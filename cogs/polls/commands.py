"""/poll (fr /sondage): quick polls in chat — create, vote, close, results, list — and quick
surveys (``/poll survey``).  The ``/poll campaign …`` sub-commands are the Campaigns cog's
(``cogs/campaigns.py``), attached under this group.

The rules live in ``bot/services/polls.py`` (and ``bot/services/poll_jobs.py``); this cog only
turns Discord events into service calls and service results into messages:

* :mod:`cogs.polls.components` / :mod:`cogs.polls.modals`: the persistent buttons, selects and
  modals (their callbacks come back to the handlers below);
* :mod:`cogs.polls.kinds`: what differs per kind on Discord, in one mapping;
* :mod:`cogs.polls.render`: pure renderers (a poll, its results → embeds and texts);
* :mod:`cogs.polls.messages`: posting and editing the public message, charts;
* :mod:`cogs.polls.jobs`: deadlines, reminders, closing and the debounced live refresh;
* :mod:`cogs.polls.surveys`: a member's flow through a survey.

Native Discord polls store their gateway votes (``on_raw_poll_vote_add`` / ``_remove``) in the
same answers table; at closing, the voters Discord reports are reconciled into it.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Awaitable, Sequence
from typing import Any

import discord
from discord import app_commands
from discord.app_commands import Choice, locale_str
from discord.ext import commands

import cogs.polls.render as render
from bot.client import ReseauBot
from bot.config import NetworkChannel
from bot.errors import DomainError
from bot.i18n import Catalogue
from bot.services.campaigns import CampaignService
from bot.services.poll_rules import require_posting
from bot.services.polls import PollDraft, PollService, PollView, VoteResult, parse_options
from cogs import _text
from cogs._checks import Scope, is_moderator, moderator_only, require_moderator, require_network
from cogs._components import option_ids
from cogs.polls._common import answerer
from cogs.polls._common import clip as _clip
from cogs.polls._common import role_ids as _role_ids
from cogs.polls.jobs import PollJobs
from cogs.polls.kinds import ui_of
from cogs.polls.messages import PollMessages
from cogs.polls.modals import SurveyCreateModal, TextAnswerModal
from cogs.polls.postings import (
    ENGLISH,
    TARGET_HERE,
    TARGETS,
    EnglishWordingModal,
    channel_names,
    chosen_channels,
    needs_english,
)
from cogs.polls.surveys import SurveyFlow

log = logging.getLogger("cogs.polls")

_CATALOGUE = Catalogue.load()
DEFER_AFTER = 1.5  # seconds: an answer stored later is deferred first (Discord allows 3 for a response)


class _WallClockAlarms:
    """Futures resolved after a delay measured by the wall clock, from one daemon thread.

    Discord's 3 seconds are wall-clock seconds.  The event loop's timers are too in production,
    but a loop on virtual time (SimCord, the demo) only moves while the bot is idle — never while
    a vote waits for a busy database — so this deadline is kept off the loop: one thread, one heap
    of deadlines, notified only when a new deadline comes first.  A cancelled alarm is skipped
    when its time comes.  ``time.perf_counter``: SimCord replaces ``time.monotonic`` with its
    virtual clock."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, asyncio.Future[None]]] = []
        self._cond = threading.Condition()
        self._count = itertools.count()
        self._thread: threading.Thread | None = None

    def after(self, delay: float) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (time.perf_counter() + delay, next(self._count), future)
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="interaction-deadlines", daemon=True)
                self._thread.start()
            if not self._heap or entry[0] < self._heap[0][0]:
                self._cond.notify()
            heapq.heappush(self._heap, entry)
        return future

    def _run(self) -> None:
        with self._cond:
            while True:
                if not self._heap:
                    self._cond.wait()
                    continue
                delay = self._heap[0][0] - time.perf_counter()
                if delay > 0:
                    self._cond.wait(delay)
                    continue
                future = heapq.heappop(self._heap)[2]
                if not future.done():
                    with contextlib.suppress(RuntimeError):  # its loop is closed
                        future.get_loop().call_soon_threadsafe(_ring, future)


def _ring(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


_ALARMS = _WallClockAlarms()


def _choice_name(key: str) -> locale_str:
    return locale_str(_CATALOGUE.t(key, "en"), key=key)


KIND_CHOICES = [
    Choice(name=_choice_name(f"cmd.poll.kinds.{kind}"), value=kind) for kind in PollService.kinds()
]
TARGET_CHOICES = [Choice(name=_choice_name(f"cmd.poll.targets.{target}"), value=target) for target in TARGETS]


async def campaign_choices(
    campaigns: CampaignService, lang: str, current: str, t: Any
) -> list[Choice[str]]:
    """The campaigns matching what is typed, the current one marked (an option's autocomplete)."""
    found = await campaigns.search(current)
    mark = t("campaign.current_mark", lang)
    choices = [Choice(name=_clip(f"{name} ({mark})" if active else name, 100), value=name) for name, active in found]
    return choices[:25]


class Polls(commands.Cog):
    """The /poll commands and the handlers of the poll components.  Other features and the
    tests use ``service``, :meth:`publish`, :meth:`close_poll`, :meth:`run_deadline`,
    :meth:`run_reminder` and :meth:`schedule_refresh`."""

    poll = app_commands.Group(name=_text.name("poll"), description=_text.desc("poll"), guild_only=True)

    def __init__(self, bot: ReseauBot) -> None:
        self.bot = bot
        # The services are the container's, built once at the entry point.
        self.service: PollService = bot.services.polls
        self.campaigns: CampaignService = bot.services.campaigns
        self.wording = render.Wording.of(bot.t, self.service)
        self.messages = PollMessages(bot, self.service, self.campaigns, self.wording)
        self.jobs = PollJobs(bot, self.service, self.messages)
        self.surveys = SurveyFlow(self)

    def t(self, key: str, lang: str, /, **params: Any) -> str:
        return self.bot.t(key, lang, **params)

    def jump_url(self, poll: PollView) -> str:
        return self.messages.jump_url(poll)

    async def cog_unload(self) -> None:
        self.jobs.drop_all()

    # ----------------------------------------------------------------- what other features use
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
            message = await self.messages.post(poll, channel, draft.native_hours or 1)
        except discord.HTTPException as exc:
            log.warning("could not post poll %s in %s: %s", poll.id, poll.channel_id, exc)
            await self.service.discard(poll.id)
            raise DomainError("poll.error.no_channel") from exc
        poll = await self.service.attach_message(poll.id, message.id)
        await self.messages.postings.record_first(poll)  # its channel is its first posting
        self.jobs.schedule(poll)
        return poll, message

    async def add_posting(self, poll_id: int, guild_id: int, channel_id: int, lang: str, *,
                          question: str | None = None, options: Sequence[str] = ()) -> int:
        """Post the existing poll in one more channel (an extract's follow-up in another
        channel or language), with ``question``/``options`` as its wording in ``lang`` when
        that is not the poll's language; the poll's id.  Raises ``poll.error.no_channel`` when
        the message cannot be sent."""
        poll = await self.service.get(poll_id)
        if lang != poll.lang and question:
            await self.bot.services.postings.set_wording(poll, lang, question, list(options))
        posted, failed = await self.messages.postings.post_more(
            poll, [NetworkChannel(guild_id, channel_id, lang)],
            lambda view, channel, note: self.messages.post(view, channel, 1, note))
        if failed:
            raise DomainError("poll.error.no_channel")
        return poll.id

    async def post_elsewhere(self, poll: PollView, targets: Any, lang: str, *, question_en: str | None = None,
                             options_en: str | None = None) -> str:
        """Post ``poll`` (already posted here) to the other ``targets`` too — one poll, one
        question, one posting per channel in its language — after storing its English wording;
        what the moderator is told about it (``lang``)."""
        postings = self.bot.services.postings
        english = parse_options(options_en) if options_en else [  # a kind's own options are translated
            label for _, label in self.service.builtin_options(poll.kind, ENGLISH)]
        if poll.lang != ENGLISH and (question_en or english):
            await postings.set_wording(poll, ENGLISH, question_en, english)
        posted, failed = await self.messages.postings.post_more(
            poll, targets, lambda view, channel, note: self.messages.post(view, channel, 1, note))
        lines = []
        if posted:
            lines.append(self.t("postings.created.more", lang, channels=", ".join(
                f"<#{t.channel_id}>" for t in targets if t.channel_id not in failed)))
        if failed:
            lines.append(self.t("postings.created.failed", lang, channels=", ".join(f"<#{c}>" for c in failed)))
        if poll.lang != ENGLISH and not question_en and any(t.language == ENGLISH for t in targets):
            lines.append(self.t("postings.created.fallback", lang))
        return "\n".join(lines)

    async def close_poll(
        self, poll_id: int, *, guild_id: int | None = None, actor_id: int | None = None
    ) -> tuple[bool, PollView]:
        return await self.jobs.close(poll_id, guild_id=guild_id, actor_id=actor_id)

    async def run_deadline(self, poll_id: int) -> None:
        await self.jobs.run_deadline(poll_id)

    async def run_reminder(self, poll_id: int) -> None:
        await self.jobs.run_reminder(poll_id)

    def schedule_refresh(self, poll_id: int, *, announce: bool = True) -> None:
        """The debounced refresh of the poll's postings held here; with ``announce``, the other
        processes refresh those they hold (``bot.counts_changed``)."""
        self.jobs.schedule_refresh(poll_id)
        if announce:
            self.bot.counts_changed(poll_id)

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
        target="poll.opt.target",
        channels="poll.opt.channels",
        question_en="poll.opt.question_en",
        options_en="poll.opt.options_en",
        start="poll.opt.start",
        repeat="poll.opt.repeat",
    )
    @app_commands.choices(kind=KIND_CHOICES, target=TARGET_CHOICES)
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
        start: app_commands.Range[str, 1, 60] | None = None,
        repeat: app_commands.Range[str, 1, 100] | None = None,
        target: str = TARGET_HERE,
        channels: app_commands.Range[str, 1, 1000] | None = None,
        question_en: app_commands.Range[str, 1, 300] | None = None,
        options_en: app_commands.Range[str, 1, 1000] | None = None,
    ) -> None:
        if not self.bot.config.bot.members_can_create_polls:
            require_moderator(interaction)
        if target != TARGET_HERE:  # several channels: network-wide, so its moderators only
            require_moderator(interaction, Scope.NETWORK)
            if native:
                raise DomainError("postings.error.native")
            if start or repeat:  # the calendar posts a planned poll in its channel only
                raise DomainError("postings.error.later")
        lang = self.bot.lang(interaction)
        require_network(interaction)  # outside the network's servers the bot stores nothing
        channel = interaction.channel
        if interaction.guild_id is None or not isinstance(channel, discord.abc.Messageable):
            raise DomainError("poll.error.no_channel")
        campaign_id = await self.campaigns.resolve(campaign)
        if start or repeat:  # later, once or repeating: the calendar stores it and posts it then (cogs/calendar.py)
            await self.bot.get_cog("Calendar").plan_from_create(  # type: ignore[union-attr]
                interaction, start=start, repeat=repeat, payload={
                    "question": question, "options": options, "kind": kind, "max_choices": max_choices,
                    "anonymous": anonymous, "live_results": live_results, "deadline": deadline, "reminder": reminder,
                    "role_ids": [role.id] if role is not None else [], "native": native, "lang": lang,
                    "campaign_id": campaign_id,
                },
            )
            return
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
        targets = chosen_channels(self.bot.config.channels, target, channels, channel.id)  # type: ignore[union-attr]
        if needs_english(draft.lang, targets, question_en):  # ask for the English wording first

            async def submit(submitted: discord.Interaction, question: str | None, labels: str | None) -> None:
                await self._create_posted(submitted, draft, channel, targets, lang, question, labels)

            english = parse_options(options_en) if options_en else [
                label for _, label in self.service.builtin_options(draft.kind, ENGLISH)]
            await interaction.response.send_modal(EnglishWordingModal(
                self, lang, interaction.user.id, submit, question=draft.question, options=english))
            return
        await self._create_posted(interaction, draft, channel, targets, lang, question_en, options_en)

    async def _create_posted(self, interaction: discord.Interaction, draft: PollDraft, channel: Any, targets: Any,
                             lang: str, question_en: str | None, options_en: str | None) -> None:
        """Post the checked draft here, then to the other targets with its English wording."""
        if options_en or question_en:  # checked before anything is posted
            self.bot.services.postings.check_wording(
                len(draft.labels), question_en, parse_options(options_en) if options_en else [])
        await interaction.response.defer(ephemeral=True, thinking=True)
        poll, _message = await self.publish(draft, channel, actor_id=interaction.user.id)
        text = await self._created_text("poll.created.buttons", poll, lang)
        if targets or question_en or options_en:
            more = await self.post_elsewhere(poll, targets, lang, question_en=question_en, options_en=options_en)
            text = "\n".join(part for part in (text, more) if part)
        await interaction.followup.send(text[:2000], ephemeral=True)

    async def _created_text(self, key: str, poll: PollView, lang: str) -> str:
        campaign = await self.campaigns.name_of(poll.campaign_id)
        return render.created_text(key, poll, lang, self.wording, link=self.jump_url(poll), campaign=campaign)

    def _channel_lang(self, channel_id: int, default: str) -> str:
        """A poll posted in a network channel speaks the channel's language."""
        for channel in self.bot.config.channels:
            if channel.channel_id == channel_id:
                return channel.language
        return default

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
        require_posting(interaction.app_permissions.value, thread=isinstance(channel, discord.Thread))
        options = {
            "deadline": deadline,
            "reminder": reminder,
            "anonymous": anonymous,
            "role_ids": [role.id] if role is not None else [],
            "campaign_id": await self.campaigns.resolve(campaign),
        }
        await interaction.response.send_modal(
            SurveyCreateModal(self, lang, interaction.user.id, options)
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

    @create.autocomplete("campaign")
    @survey.autocomplete("campaign")
    async def _campaign_autocomplete(self, interaction: discord.Interaction, current: str) -> list[Choice[str]]:
        if not is_moderator(interaction, Scope.NETWORK):  # campaign names are the network moderators'
            return []
        return await campaign_choices(self.campaigns, self.bot.lang(interaction), current, self.t)

    @poll.command(name=_text.name("poll.close"), description=_text.desc("poll.close"))
    @_text.options(poll_id="poll.opt.poll")
    @moderator_only()
    async def close(self, interaction: discord.Interaction, poll_id: int) -> None:
        lang = self.bot.lang(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        changed, poll = await self.close_poll(
            poll_id, guild_id=interaction.guild_id or 0, actor_id=interaction.user.id
        )
        key = f"{'survey' if poll.is_survey else 'poll'}.closed.{'done' if changed else 'already'}"
        await interaction.followup.send(self.t(key, lang, id=poll.id, link=self.jump_url(poll)), ephemeral=True)

    @poll.command(name=_text.name("poll.results"), description=_text.desc("poll.results"))
    @_text.options(poll_id="poll.opt.poll", by_type="poll.opt.by_type")
    @moderator_only()
    async def results(self, interaction: discord.Interaction, poll_id: int, by_type: bool = False) -> None:
        lang = self.bot.lang(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        results = await self.service.results(poll_id, guild_id=interaction.guild_id or 0)
        results = await self.messages.postings.localize_results(results, lang)  # posted in several languages
        if results.poll.is_survey:
            embeds, files = await self.messages.survey_results(results, lang, final=False, by_type=by_type)
            await self._by_channel(embeds[0], results.poll, lang)
            for group in render.split_messages(embeds):  # each question whole, in as many messages
                shown = {e.image.url for e in group if e.image.url}
                own = [f for f in files if f"attachment://{f.filename}" in shown]
                await interaction.followup.send(embeds=group, files=own, ephemeral=True)
            return
        embed = render.results_embed(results, lang, self.wording, by_type=by_type)
        render.add_campaign_field(embed, await self.messages.campaign_name(results.poll), lang, self.wording)
        if (calendar := self.bot.get_cog("Calendar")) is not None:  # an occurrence of a series: say so
            await calendar.series_field(embed, results.poll.id, interaction.guild_id or 0, lang)  # type: ignore[attr-defined]
        await self._by_channel(embed, results.poll, lang)
        if not ui_of(results.poll.kind).tallied:
            await interaction.followup.send(embed=embed, ephemeral=True)
            return
        file = await self.messages.chart_file(results, lang, by_type=by_type)
        embed.set_image(url=f"attachment://{file.filename}")
        await interaction.followup.send(embed=embed, file=file, ephemeral=True)

    async def _by_channel(self, embed: discord.Embed, poll: PollView, lang: str) -> None:
        """A poll posted in several channels: its respondents by channel (moderators' results)."""
        counts = await self.bot.services.postings.by_channel(poll)
        if len(counts) > 1:
            names = channel_names(counts, self.t("postings.unknown_channel", lang))
            value = " · ".join(self.bot.catalogue.label_value(name, str(n), lang) for name, n in names)
            embed.add_field(name=self.t("postings.by_channel", lang), value=_clip(value, 1024), inline=False)

    @poll.command(name=_text.name("poll.merge"), description=_text.desc("poll.merge"))
    @_text.options(into="poll.opt.into", merged="poll.opt.merged", question_number="poll.opt.question_number")
    @moderator_only()
    async def merge(self, interaction: discord.Interaction, into: app_commands.Range[int, 1],
                    merged: app_commands.Range[int, 1],
                    question_number: app_commands.Range[int, 1, 25] = 1) -> None:
        """One question asked as two polls (before a poll could be posted to several channels)
        becomes one variable — when both are closed and their options match; refused otherwise."""
        require_moderator(interaction, Scope.NETWORK)  # polls of several channels: the network's moderators
        lang = self.bot.lang(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        result = await self.bot.services.postings.merge(into, merged, question=question_number,
                                                        actor_id=interaction.user.id)
        self.messages.postings.forget(into)
        t = self.t
        await interaction.followup.send(t(
            "postings.merge.done", lang, poll=result.target_poll_id,
            moved=t("postings.merge.moved", lang, count=result.moved),
            dropped=t("postings.merge.dropped", lang, count=result.dropped),
            postings=t("postings.merge.postings", lang, count=result.postings_moved)), ephemeral=True)

    @poll.command(name=_text.name("poll.list"), description=_text.desc("poll.list"))
    async def list_polls(self, interaction: discord.Interaction) -> None:
        lang = self.bot.lang(interaction)
        listing = await self.service.list_polls(interaction.guild_id or 0)
        embed = render.list_embed(listing, lang, self.wording, self.jump_url)
        if (calendar := self.bot.get_cog("Calendar")) is not None and is_moderator(interaction):
            await calendar.planned_polls_field(embed, interaction.guild_id or 0, lang)  # type: ignore[attr-defined]
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
        lang = self.bot.lang(interaction)
        return [
            Choice(name=_clip(f"{self.t('format.numbered', lang, id=poll_id)} · {title}", 100), value=poll_id)
            for poll_id, title in found
        ][:25]

    # ================================================================= component handlers
    async def on_vote(self, interaction: discord.Interaction, poll_id: int, option_id: int) -> None:
        await self._store_and_confirm(
            interaction, self.service.vote(poll_id, option_id=option_id, **answerer(interaction))
        )

    async def on_select(self, interaction: discord.Interaction, poll_id: int, values: list[str]) -> None:
        await self._store_and_confirm(
            interaction, self.service.choose(poll_id, option_ids=option_ids(values), **answerer(interaction))
        )

    async def on_rank(self, interaction: discord.Interaction, poll_id: int, rank: int, values: list[str]) -> None:
        """A rank's select (ordered kinds): the chosen option takes that rank."""
        chosen = option_ids(values)
        option_id = chosen[0] if len(chosen) == 1 else 0
        await self._store_and_confirm(
            interaction,
            self.service.place(poll_id, option_id=option_id, position=rank, **answerer(interaction)),
        )

    async def on_withdraw(self, interaction: discord.Interaction, poll_id: int) -> None:
        await self._store_and_confirm(interaction, self.service.withdraw(poll_id, **answerer(interaction)))

    async def on_answer_button(self, interaction: discord.Interaction, poll_id: int) -> None:
        poll = await self.service.check_can_answer(
            poll_id, guild_id=interaction.guild_id or 0, role_ids=_role_ids(interaction)
        )
        if not ui_of(poll.kind).free_text:
            raise DomainError("poll.error.not_text")
        current = await self.service.my_answer(poll_id, interaction.user.id)
        lang = self.bot.lang(interaction)
        modal = TextAnswerModal(  # the question in the member's language when the poll has it
            self.service.read_in(poll, lang), lang, interaction.user.id, current.text if current else None, self.t
        )
        await interaction.response.send_modal(modal)

    async def on_text_submit(self, interaction: discord.Interaction, poll_id: int, text: str) -> None:
        await self._store_and_confirm(
            interaction, self.service.answer_text(poll_id, text=text, **answerer(interaction))
        )

    async def _store_and_confirm(self, interaction: discord.Interaction, storing: Awaitable[VoteResult]) -> None:
        """Store the answer, then confirm it.  Discord wants a first response within 3 seconds:
        when storing takes longer than ``DEFER_AFTER`` (the database busy with another writer),
        the interaction is deferred (ephemeral "thinking…") and the confirmation follows once the
        answer is stored.  A fast write is confirmed directly, as before (no task, no loop timer on
        that path: the alarm is a future the alarm thread resolves).  Nothing confirms an answer
        that is not stored: a refusal says why, a failure says it was not stored."""
        deferring: list[asyncio.Task[Any]] = []
        stored = False

        def defer(_alarm: asyncio.Future[None]) -> None:  # storing is late: "thinking…" meanwhile
            if not stored:
                deferring.append(asyncio.ensure_future(interaction.response.defer(ephemeral=True, thinking=True)))

        alarm = _ALARMS.after(DEFER_AFTER)
        alarm.add_done_callback(defer)
        started = time.perf_counter()
        try:
            result = await storing
            self.bot.metrics.vote_stored(result.poll.kind, time.perf_counter() - started)
        except DomainError:
            raise
        except Exception as exc:
            log.exception("could not store an answer (interaction %s)", interaction.id)
            raise DomainError("poll.storing.failed") from exc
        finally:
            stored = True  # whatever happened: no defer from now on
            alarm.remove_done_callback(defer)
            alarm.cancel()
            if deferring:  # the answer (or the refusal) follows the "thinking…" it replaces
                await deferring[0]
        await self._confirm(interaction, result)

    async def _confirm(self, interaction: discord.Interaction, result: VoteResult) -> None:
        """The ephemeral acknowledgement with the member's current choice (a follow-up when the
        interaction was deferred), then the debounced refresh of the public message."""
        lang = self.bot.lang(interaction)
        # the member's choice in their language (the cached poll's wording: no read)
        text = render.confirmation(self.service.vote_in(result, lang), lang, self.wording)
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)
        if result.changed:
            self.schedule_refresh(result.poll.id)
            if not result.withdrawn:  # which channel's posting (a poll posted in several)
                self.messages.postings.after_vote(result.poll, interaction.user.id, interaction.channel_id)

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
