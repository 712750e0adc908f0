"""A poll's work in time: its deadline and reminder jobs, closing, and the debounced refresh of
its live counts.

* Deadlines and reminders are APScheduler ``date`` jobs (ids from ``bot.services.poll_jobs``:
  ``poll-close-<id>``, ``poll-remind-<id>``) rebuilt from the database by :meth:`reconcile` at
  start-up; polls whose deadline passed while the bot was down are closed there and late
  reminders sent (the rules: ``poll_jobs.plan_startup``).  Every job is idempotent.
* The public message's live counts are refreshed by one debounced task per poll: the first vote
  edits at once, later votes within ``polls.refresh_seconds`` are coalesced into one edit.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import discord
from apscheduler.jobstores.base import JobLookupError

import cogs.polls.render as render
from bot.errors import NotFound
from bot.services import poll_jobs

if TYPE_CHECKING:
    from bot.client import ReseauBot
    from bot.services.polls import PollService, PollView
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

    # ------------------------------------------------------------------ scheduling
    async def reconcile(self) -> None:
        """Rebuild the poll jobs from the database, drop stale ones, close the polls whose
        deadline passed while the bot was down and send missed reminders."""
        plan = poll_jobs.plan_startup(await self.service.open_polls(), self.bot.clock())
        for job in plan.jobs:
            self._add(job)
        for job in self.bot.scheduler.get_jobs():
            if poll_jobs.is_poll_job(job.id) and job.id not in plan.job_ids:
                job.remove()
        for poll_id in plan.overdue:
            await self.run_deadline(poll_id)
        for poll_id in plan.late_reminders:
            await self.run_reminder(poll_id)

    def schedule(self, poll: PollView) -> set[str]:
        """``date`` jobs for the poll's deadline and reminder; returns their ids."""
        return {self._add(job) for job in poll_jobs.jobs_for(poll, self.bot.clock())}

    def _add(self, job: poll_jobs.PollJob) -> str:
        """One idempotent ``date`` job (replaced if it exists; run late rather than never)."""
        func = self._deadline_job if job.action == "close" else self._reminder_job
        self.bot.scheduler.add_job(
            func,
            "date",
            run_date=job.run_at,
            args=[job.poll_id],
            id=job.job_id,
            replace_existing=True,
            misfire_grace_time=None,
            coalesce=True,
        )
        return job.job_id

    def unschedule(self, poll_id: int) -> None:
        for job_id in (poll_jobs.close_job_id(poll_id), poll_jobs.remind_job_id(poll_id)):
            try:
                self.bot.scheduler.remove_job(job_id)
            except JobLookupError:
                pass

    def drop_all(self) -> None:
        """Jobs point at this object's methods: drop them (a reload rebuilds them from the DB)."""
        for job in self.bot.scheduler.get_jobs():
            if poll_jobs.is_poll_job(job.id):
                job.remove()

    async def _deadline_job(self, poll_id: int) -> None:
        # tracked, so that ReseauBot.close() lets a closing in progress finish
        await self.bot.track(self.run_deadline(poll_id), name=poll_jobs.close_job_id(poll_id))

    async def _reminder_job(self, poll_id: int) -> None:
        await self.bot.track(self.run_reminder(poll_id), name=poll_jobs.remind_job_id(poll_id))

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
            poll.allowed_role_ids, role_members, lambda: self.service.respondent_ids(poll.id)
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
