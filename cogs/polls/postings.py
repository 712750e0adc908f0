"""A poll posted to several channels, on Discord: posting it in each (in the channel's language),
the other postings' live and closing edits, and the "by channel" line moderators see.

The rules are :mod:`bot.services.postings`' (claims, wording, counts); this module turns them
into messages.  Every posting's buttons carry the same poll id, so a click on any of them answers
the same questions — one answer per member and question, whichever posting they click.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import discord

from bot.config import NetworkChannel
from bot.errors import DomainError, InvalidInput
from bot.services.postings import ChannelCount, Posting, localized
from cogs._errors import ReportingModal

if TYPE_CHECKING:
    from bot.client import ReseauBot
    from bot.services.polls import PollResults, PollView
    from bot.services.postings import PostingService

log = logging.getLogger("cogs.polls")

#: How ``/poll create`` names where a poll goes.
TARGET_HERE, TARGET_NETWORK, TARGET_CHOSEN = "here", "network", "chosen"
TARGETS = (TARGET_HERE, TARGET_NETWORK, TARGET_CHOSEN)
#: The language of ``/poll create``'s ``question_en`` and ``options_en`` (what English channels show).
ENGLISH = "en"
_CHANNEL_REF = re.compile(r"<#(\d+)>|\b(\d{15,20})\b")


def chosen_channels(config_channels: Sequence[NetworkChannel], target: str, chosen: str | None,
                    here: int) -> list[NetworkChannel]:
    """Where ``/poll create`` posts besides the current channel: every network channel, or the
    network channels named in ``chosen`` (mentions or ids; a channel that is not a network
    channel is refused).  The current channel is left out: the poll is posted there first."""
    if target == TARGET_NETWORK:
        return [c for c in config_channels if c.channel_id != here]
    if target != TARGET_CHOSEN:
        return []
    by_id = {c.channel_id: c for c in config_channels}
    ids = [int(a or b) for a, b in _CHANNEL_REF.findall(chosen or "")]
    if not ids:
        raise InvalidInput("postings.error.no_channels")
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        raise InvalidInput("postings.error.not_network", channels=", ".join(f"<#{i}>" for i in unknown))
    return [by_id[i] for i in dict.fromkeys(ids) if i != here]


def with_note(embed: discord.Embed, note: str | None) -> discord.Embed:
    """The fallback note under a posting's embed (kept by every later edit)."""
    if note:
        embed.add_field(name="\u200b", value=f"-# {note}", inline=False)
    return embed


def channel_names(counts: Sequence[ChannelCount], unknown: str) -> list[tuple[str, int]]:
    """``(#name (lang), respondents)`` per posting, for the moderators' "by channel" line."""
    out = []
    for c in counts:
        if c.posting is None:
            out.append((unknown, c.respondents))
        else:
            out.append((f"<#{c.posting.channel_id}> ({c.posting.lang})", c.respondents))
    return out


class PollPostings:
    """The postings of polls on Discord (used by the poll cog and its messages)."""

    def __init__(self, bot: ReseauBot) -> None:
        self.bot = bot
        # {poll id: {channel id: posting id}}: read once per poll (postings change only when this
        # process posts more or merges, which forget the entry), so a vote on a poll posted once
        # costs nothing more
        self._channels: dict[int, dict[int, int]] = {}

    def forget(self, poll_id: int) -> None:
        self._channels.pop(poll_id, None)

    async def localize_results(self, results: PollResults, lang: str) -> PollResults:
        """Results as a reader of ``lang`` reads them (a moderator's ``/poll results``): the
        poll's wording in that language when it has one."""
        return await self.service.results_in(results, lang)

    def after_vote(self, poll: PollView, user_id: int, channel_id: int | None) -> None:
        """After a member's confirmation: note which posting they answered from, in the
        background — nothing at all for a poll known to be posted in one channel (most)."""
        known = self._channels.get(poll.id)
        if known is not None and len(known) < 2:
            return
        self.bot.track(self.note_answer(poll, user_id, channel_id), name="poll-posting")

    async def note_answer(self, poll: PollView, user_id: int, channel_id: int | None) -> None:
        """Where a member answered a poll posted in several channels (for "by channel"); run
        after the member's confirmation, never before it."""
        channels = self._channels.get(poll.id)
        if channels is None:
            channels = self._channels[poll.id] = await self.service.channels(poll.id)
            if len(self._channels) > 1000:
                self.forget(next(iter(self._channels)))
        if len(channels) < 2 or channel_id not in channels:
            return
        respondent = await self.bot.services.polls.respondent(poll, user_id)
        await self.service.answered_from(poll, respondent, channel_id, channels[channel_id])

    @property
    def service(self) -> PostingService:
        return self.bot.services.postings

    async def record_first(self, poll: PollView) -> None:
        """The channel a poll was created in is its first posting."""
        if poll.message_id is None:
            return
        posting = await self.service.claim(poll, poll.guild_id, poll.channel_id, poll.lang)
        if posting is not None:
            await self.service.attach(posting, poll.message_id)

    def fallback_note(self, poll: PollView, lang: str) -> str:
        """Said on a posting that shows the poll's own wording for want of its language's."""
        return self.bot.t("postings.fallback_note", lang, language=self.bot.t(f"postings.language.{lang}", lang),
                          original=self.bot.t(f"postings.language_name.{poll.lang}", lang))

    async def others(self, poll: PollView) -> list[tuple[Posting, PollView, str | None]]:
        """The poll's postings other than its own message, each with the poll in its language
        and the fallback note when that language's wording is missing."""
        postings = [p for p in await self.service.of_poll(poll.id)
                    if p.message_id is not None and p.message_id != poll.message_id]
        if not postings:
            return []
        wording = await self.service.wording(poll.id)
        out = []
        for p in postings:
            view, fell_back = localized(poll, p.lang, wording)
            out.append((p, view, self.fallback_note(poll, p.lang) if fell_back else None))
        return out

    def message(self, posting: Posting) -> discord.PartialMessage:
        channel = self.bot.get_partial_messageable(posting.channel_id, guild_id=posting.guild_id)
        return channel.get_partial_message(posting.message_id)  # type: ignore[arg-type]

    async def post_more(self, poll: PollView, targets: Sequence[NetworkChannel], send) -> tuple[int, list[int]]:
        """Post ``poll`` in each target channel, in the channel's language (claimed first: a
        channel where it is already posted is skipped).  ``send(view, channel)`` posts a message
        and returns it.  ``(how many posted, channel ids that failed)``; a failed posting is
        released."""
        wording = await self.service.wording(poll.id)
        self.forget(poll.id)
        posted, failed = 0, []
        for target in targets:
            posting_id = await self.service.claim(poll, target.guild_id, target.channel_id, target.language)
            if posting_id is None:
                continue
            view, fell_back = localized(poll, target.language, wording)
            note = self.fallback_note(poll, target.language) if fell_back else None
            try:
                channel = self.bot.get_channel(target.channel_id) or await self.bot.fetch_channel(target.channel_id)
                message = await send(view, channel, note)
            except (discord.HTTPException, DomainError) as exc:
                log.warning("could not post poll %s in %s: %s", poll.id, target.channel_id, exc)
                await self.service.release(posting_id)
                failed.append(target.channel_id)
                continue
            await self.service.attach(posting_id, message.id)
            posted += 1
        self._channels[poll.id] = await self.service.channels(poll.id)  # the votes to come
        return posted, failed


def needs_english(poll_lang: str, targets: Sequence[NetworkChannel], question_en: str | None) -> bool:
    """A poll going to English channels without its English wording: ``/poll create`` asks for
    it (a modal) before posting."""
    return poll_lang != ENGLISH and not question_en and any(t.language == ENGLISH for t in targets)


class EnglishWordingModal(ReportingModal):
    """Asked by ``/poll create`` when the target includes English channels and no English
    wording was given: the question and options in English, prefilled with what the kind
    translates itself (yes/no, Likert…).  Left blank, the English channels show the poll's own
    wording with a visible note.  Held in memory (15 minutes) with the checked draft."""

    def __init__(self, cog: Any, lang: str, user_id: int, submit: Any, *, question: str,
                 options: Sequence[str]) -> None:
        t = cog.t
        super().__init__(title=t("postings.modal.title", lang)[:45], custom_id=f"rb:poll:english:{user_id}",
                         timeout=900)
        self.submit = submit
        self.question_input: discord.ui.TextInput[Any] = discord.ui.TextInput(
            custom_id="question_en", style=discord.TextStyle.short, max_length=300, required=False)
        self.options_input: discord.ui.TextInput[Any] = discord.ui.TextInput(
            custom_id="options_en", style=discord.TextStyle.paragraph, max_length=1000, required=False,
            default="\n".join(options) or None)
        self.add_item(discord.ui.Label(text=t("postings.modal.question", lang)[:45],
                                       description=question[:100], component=self.question_input))
        self.add_item(discord.ui.Label(text=t("postings.modal.options", lang)[:45],
                                       description=t("postings.modal.options_help", lang)[:100],
                                       component=self.options_input))

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await self.submit(interaction, self.question_input.value or None, self.options_input.value or None)
