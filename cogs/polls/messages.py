"""A poll's messages on Discord: posting it, the live edit, the closing edit with the final
results and chart, and — for a native Discord poll — reading its voters back at closing.

The words come from the pure renderers (:mod:`cogs.polls.render`); this module does the I/O:
Discord calls, the campaign's name, charts drawn in a thread.  One lock per poll orders its
message edits (a live edit never lands after the closing one).
"""

from __future__ import annotations

import asyncio
import io
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import discord

import cogs.polls.render as render
from bot.errors import NotFound
from bot.services import poll_jobs
from bot.services.polls.kinds import kind_of
from bot.services.postings import localize_results
from cogs._errors import ReportingView
from cogs.polls._common import row_below
from cogs.polls.components import SurveyStartButton, WithdrawButton
from cogs.polls.kinds import ui_of
from cogs.polls.postings import PollPostings, with_note

if TYPE_CHECKING:
    from bot.client import ReseauBot
    from bot.services.campaigns import CampaignService
    from bot.services.polls import PollResults, PollService, PollView

log = logging.getLogger("cogs.polls")


class PollMessages:
    def __init__(
        self, bot: ReseauBot, service: PollService, campaigns: CampaignService, wording: render.Wording
    ) -> None:
        self.bot = bot
        self.service = service
        self.campaigns = campaigns
        self.wording = wording
        self.postings = PollPostings(bot)  # a poll posted in several channels: its other messages
        self._edit_locks: dict[int, asyncio.Lock] = {}

    def jump_url(self, poll: PollView) -> str:
        return self.bot.config.discord.message_url(poll.guild_id, poll.channel_id, poll.message_id)

    def message(self, poll: PollView) -> discord.PartialMessage:
        channel = self.bot.get_partial_messageable(poll.channel_id, guild_id=poll.guild_id)
        return channel.get_partial_message(poll.message_id)  # type: ignore[arg-type]

    def edit_lock(self, poll_id: int) -> asyncio.Lock:
        return self._edit_locks.setdefault(poll_id, asyncio.Lock())

    def forget(self, poll_id: int) -> None:
        self._edit_locks.pop(poll_id, None)

    async def campaign_name(self, poll: PollView) -> str | None:
        return await self.campaigns.name_of(poll.campaign_id)

    # ------------------------------------------------------------------ posting
    def components(self, poll: PollView) -> discord.ui.View | None:
        """The public message's components: the kind's (see :mod:`cogs.polls.kinds`), then
        "withdraw"; a survey has its start button; a closed or native poll has none."""
        if poll.native or not poll.is_open:
            return None
        t = self.wording.t
        view = ReportingView(timeout=None)
        if poll.is_survey:
            view.add_item(SurveyStartButton(poll.id, label=t("survey.message.start", poll.lang), row=0))
            return view
        items = ui_of(poll.kind).message_items(poll, t)
        for item in items:
            view.add_item(item)
        below = row_below(items)  # the row under the kind's
        withdraw = "poll.message.withdraw_text" if kind_of(poll.kind).by_text else "poll.message.withdraw"
        view.add_item(WithdrawButton(poll.id, label=t(withdraw, poll.lang), row=below))
        return view

    async def post(self, poll: PollView, channel: discord.abc.Messageable, native_hours: int,
                   note: str | None = None, *, nonce: str | None = None) -> discord.Message:
        """Post the poll (``note``: shown under it, e.g. that its language's wording is missing;
        ``nonce``: sent with ``enforce_nonce``, for a post that may be retried — the calendar's)."""
        extra: dict[str, Any] = {"nonce": nonce} if nonce else {}
        if poll.native:
            return await channel.send(poll=self.native_poll(poll, native_hours), **extra)
        embed = with_note(render.poll_embed(poll, None, self.wording), note)
        return await channel.send(embed=embed, view=self.components(poll), **extra)

    @staticmethod
    def native_poll(poll: PollView, hours: int) -> discord.Poll:
        native = discord.Poll(question=poll.question, duration=timedelta(hours=hours), multiple=poll.multiple)
        for option in poll.options:
            native.add_answer(text=option.label)
        return native

    # ------------------------------------------------------------------ edits
    async def edit_live(self, poll_id: int) -> None:
        """The live counts of an open poll's public message (the debounced refresh's edit).
        With several processes each edits the postings in its own shards' servers; the others
        hear of the change (``bot.counts_changed``) and edit theirs."""
        owns = self.bot.owns_guild
        async with self.edit_lock(poll_id):
            try:
                results = await self.service.results(poll_id)
            except NotFound:
                return
            poll = results.poll
            if not poll_jobs.shows_live_counts(poll):
                return
            try:
                if owns(poll.guild_id):
                    await self.message(poll).edit(embed=render.poll_embed(poll, results, self.wording))
            except discord.HTTPException as exc:
                log.warning("could not refresh poll %s: %s", poll_id, exc)
            for posting, view, note in await self.postings.others(poll):  # every posting shows every answer
                if not owns(posting.guild_id):
                    continue
                try:
                    embed = with_note(render.poll_embed(view, localize_results(results, view), self.wording), note)
                    await self.postings.message(posting).edit(embed=embed)
                except discord.HTTPException as exc:
                    log.warning("could not refresh poll %s in %s: %s", poll_id, posting.channel_id, exc)

    async def finalise(self, poll: PollView) -> None:
        """The closing edit: final counts and the results chart (native polls: a reply with
        the results under the ended Discord poll)."""
        if poll.message_id is None:
            return
        async with self.edit_lock(poll.id):
            if poll.native:
                await self.reconcile_native(poll)
            results = await self.service.results(poll.id)
            await self._final_edit(poll, results, self.message(poll))
            for posting, view, _note in await self.postings.others(poll):  # the same results, in its language
                await self._final_edit(view, localize_results(results, view), self.postings.message(posting))

    async def refinalise(self, poll_id: int) -> None:
        """A closed poll's final results shown again, after answers were deleted (``/forget-me``):
        its postings stop counting them, chart included.  A native poll's results are a reply
        under Discord's ended poll, which is not posted twice: left as it is."""
        try:
            poll = await self.service.get(poll_id)
        except NotFound:
            return
        if poll.is_open or poll.native:
            return
        await self.finalise(poll)

    async def _final_edit(self, poll: PollView, results: PollResults, message: discord.PartialMessage) -> None:
        """One posting's closing edit (``poll`` and ``results`` in the posting's language)."""
        try:
            if poll.is_survey:
                embeds, files = await self.survey_results(results, poll.lang, final=True)
                await message.edit(embeds=embeds, view=None, attachments=files)
                return
            if not ui_of(poll.kind).tallied:
                embed = render.poll_embed(results.poll, results, self.wording)
                await message.edit(embed=embed, view=None)
                return
            file = await self.chart_file(results, poll.lang)
            if poll.native:
                embed = render.native_results_embed(results, poll.lang, self.wording, image=file.filename)
                await message.reply(embed=embed, file=file, mention_author=False)
            else:
                embed = render.poll_embed(results.poll, results, self.wording, image=file.filename)
                await message.edit(embed=embed, view=None, attachments=[file])
        except discord.HTTPException as exc:
            log.warning("could not show the final results of poll %s: %s", poll.id, exc)

    async def reconcile_native(self, poll: PollView) -> None:
        """Make our answers match the voters Discord reports (votes cast while we were away)."""
        partial = self.message(poll)
        try:
            try:
                message = await partial.end_poll()
            except discord.HTTPException:
                message = await partial.fetch()
            if message.poll is None:
                return
            listed = [
                (answer.id, answer.vote_count, [voter.id async for voter in answer.voters()])
                for answer in message.poll.answers
            ]
        except discord.HTTPException as exc:
            log.warning("could not read the voters of native poll %s: %s", poll.id, exc)
            return
        votes, complete = poll_jobs.native_voters(listed)
        changed = await self.service.reconcile_native(poll.id, votes, remove_missing=complete)
        if changed:
            log.info("native poll %s: %d answer(s) reconciled with Discord's voters", poll.id, changed)

    # ------------------------------------------------------------------ results with charts
    async def chart_file(self, results: PollResults, lang: str, *, by_type: bool = False) -> discord.File:
        png = await asyncio.to_thread(render.chart_png, results, lang, self.wording, by_type=by_type)
        return discord.File(io.BytesIO(png), filename=render.chart_name(results))

    async def survey_results(
        self, results: PollResults, lang: str, *, final: bool, by_type: bool = False
    ) -> tuple[list[discord.Embed], list[discord.File]]:
        """A survey's result embeds (see :func:`render.survey_results_embeds`) and their charts."""
        embeds = render.survey_results_embeds(
            results, lang, self.wording, final=final, by_type=by_type, campaign=await self.campaign_name(results.poll)
        )
        files = []
        for qr, name in render.survey_chart_names(results):
            png = await asyncio.to_thread(render.chart_png, qr, lang, self.wording, by_type=by_type)
            files.append(discord.File(io.BytesIO(png), filename=name))
        return embeds, files
