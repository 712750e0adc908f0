"""A poll's work in time: its deadline and reminder jobs, closing, and the debounced refresh of
its live counts.

* Deadlines and reminders are APScheduler ``date`` jobs (``poll-close-<id>``,
  ``poll-remind-<id>``) declared by ``bot.services.poll_jobs.feature`` with this object's
  :meth:`run_deadline` and :meth:`run_reminder`; the bot's one reconciler
  (``bot.services.schedule``) rebuilds them from the database when the gateway is ready, closes
  the polls whose deadline passed while the bot was down and sends late reminders.  Every job is
  idempotent.
* The public message's live counts are refreshed by one debounced task per poll: the first vote
  edits at once, later votes within ``polls.refresh_seconds`` are coalesced into one edit.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import discord

import cogs.polls.render as render
from bot.errors import NotFound
from bot.services import poll_jobs

if TYPE_CHECKING:
    from bot.client import ReseauBot
    from bot.services.polls import PollService, PollView
    from bot.services.schedule import JobSpec
    from cogs.polls.messages import PollMessages

log = logging.getLogger("cogs.polls")

REMINDER_MENTIONS_PER_MESSAGE = 40  # 40 user mentions ≈ 900 characters, well within 2,000


class PollJobs:
    def __init__(self, bot: ReseauBot, service: PollService, messages: PollMessages) -> None:
        self.bot = bot
        self.service = service
        self.messages = messages
        self._dirty: set[int] = set()
        self._refreshing: dict[int, asyncio.Task[None]] = {}
        # the polls' jobs, declared once: the reconciler reads the open polls, these do the work
        bot.schedule.declare(poll_jobs.feature(close=self.run_deadline, remind=self.run_reminder))

    # ------------------------------------------------------------------ scheduling
    def _specs(self, poll: PollView) -> list[JobSpec]:
        return poll_jobs.specs_for(poll, self.bot.clock(), close=self.run_deadline, remind=self.run_reminder)

    async def reconcile(self) -> None:
        """Rebuild the poll jobs from the database (the bot's one reconciler, polls only): drop
        stale ones, close the polls whose deadline passed and send missed reminders."""
        await self.bot.reconcile_jobs(poll_jobs.FEATURE)

    def schedule(self, poll: PollView) -> set[str]:
        """``date`` jobs for a poll just written (its deadline and reminder); returns their ids."""
        return set(self.bot.schedule.put(self._specs(poll)))

    def unschedule(self, poll_id: int) -> None:
        self.bot.schedule.remove(poll_jobs.FEATURE, poll_id)

    def drop_all(self) -> None:
        """Jobs point at this object's methods: drop them (a reload declares them again)."""
        self.bot.schedule.withdraw(poll_jobs.FEATURE)

    # ------------------------------------------------------------------ closing
    async def close(
        self, poll_id: int, *, guild_id: int | None = None, actor_id: int | None = None
    ) -> tuple[bool, PollView]:
        """Close the poll (idempotent), drop its jobs and show the final results.  Closing an
        already closed poll redraws its final message (a repair after a failed edit)."""
        result = await self.service.close(poll_id, guild_id=guild_id, actor_id=actor_id)
        self.unschedule(poll_id)
        self._dirty.discard(poll_id)
        if poll_jobs.redraw_on_close(result.changed, by_moderator=actor_id is not None, native=result.poll.native):
            await self.messages.finalise(result.poll)
        self.messages.forget(poll_id)
        return result.changed, result.poll

    async def run_deadline(self, poll_id: int) -> None:
        """The deadline job (idempotent): close the poll if it is open and due."""
        try:
            poll = await self.service.get(poll_id)
            if not poll.is_open:
                return
            if not poll_jobs.may_close_now(poll, self.bot.clock()):
                self.schedule(poll)  # woke up early (clock change): try again at the deadline
                return
            await self.close(poll_id)
        except NotFound:
            return
        except Exception:
            log.exception("closing poll %s at its deadline failed", poll_id)

    # ------------------------------------------------------------------ reminders
    async def reminder_messages(self, poll: PollView, text: str) -> list[tuple[str, discord.AllowedMentions]]:
        """The reminder's messages with their mentions (who is pinged: ``poll_jobs.reminder_targets``;
        with the members intent, the members of the allowed roles the bot sees, else the roles)."""
        guild = self.bot.get_guild(poll.guild_id)
        role_members = None
        if self.bot.intents.members and guild is not None:
            role_members = {
                role_id: [m.id for m in role.members if not m.bot]
                for role_id in poll.allowed_role_ids
                if (role := guild.get_role(role_id))
            }
        targets = await poll_jobs.reminder_targets(
            poll.allowed_role_ids, role_members, lambda: self.service.respondent_ids(poll.id),
            anonymous=poll.anonymous,
        )
        if targets.mode == "channel":
            return [(text, discord.AllowedMentions.none())]
        if targets.mode == "roles":
            mentions = " ".join(f"<@&{role_id}>" for role_id in targets.roles)
            allowed = discord.AllowedMentions(
                everyone=False, users=False, roles=[discord.Object(r) for r in targets.roles]
            )
            return [(f"{mentions}\n{text}", allowed)]
        messages = []
        users = targets.users
        for start in range(0, len(users), REMINDER_MENTIONS_PER_MESSAGE):
            chunk = users[start : start + REMINDER_MENTIONS_PER_MESSAGE]
            mentions = " ".join(f"<@{user_id}>" for user_id in chunk)
            allowed = discord.AllowedMentions(everyone=False, roles=False, users=[discord.Object(u) for u in chunk])
            messages.append((f"{mentions}\n{text}" if start == 0 else mentions, allowed))
        return messages

    async def run_reminder(self, poll_id: int) -> None:
        """The reminder job (idempotent): a message in the poll's channel pinging who should
        still answer (see :meth:`reminder_messages`), then ``reminder_sent``."""
        try:
            poll = await self.service.claim_reminder(poll_id)
            if poll is None or poll.message_id is None:
                return
            text = render.reminder_text(poll, self.messages.wording, link=self.messages.jump_url(poll))
            channel = self.bot.get_partial_messageable(poll.channel_id, guild_id=poll.guild_id)
            try:
                for content, allowed in await self.reminder_messages(poll, text):
                    await channel.send(content, allowed_mentions=allowed)
            except discord.HTTPException as exc:
                log.warning("could not post the reminder of poll %s: %s", poll_id, exc)
                await self.service.release_reminder(poll_id)
        except Exception:
            log.exception("the reminder of poll %s failed", poll_id)

    # ------------------------------------------------------------------ debounced refresh
    def schedule_refresh(self, poll_id: int) -> None:
        """Coalesce a burst of votes: the first vote edits the message at once, the votes of
        the next ``polls.refresh_seconds`` are applied by one more edit, and so on."""
        self._dirty.add(poll_id)
        if poll_id not in self._refreshing:
            self._refreshing[poll_id] = self.bot.track(self._refresh_loop(poll_id), name=f"poll-refresh-{poll_id}")

    async def _refresh_loop(self, poll_id: int) -> None:
        try:
            while poll_id in self._dirty:
                self._dirty.discard(poll_id)
                await self.messages.edit_live(poll_id)
                await asyncio.sleep(self.bot.config.polls.refresh_seconds)
        finally:
            self._refreshing.pop(poll_id, None)
