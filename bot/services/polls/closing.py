"""Closing a poll (by a moderator or at its deadline: idempotent), its reminder claimed once and
released when it could not be posted, and who answered it."""

from __future__ import annotations

import dataclasses

from bot.errors import NotFound
from bot.services.polls.core import PollCore
from bot.services.polls.views import CloseResult, PollView


class Closing(PollCore):
    async def close(
        self, poll_id: int, *, guild_id: int | None = None, actor_id: int | None = None
    ) -> CloseResult:
        """Close the poll (idempotent: ``changed`` is False when it was already closed).
        ``actor_id`` is the moderator who closed it (``None``: the deadline)."""
        from storage.repositories import AuditRepository, PollRepository

        poll = await self.get(poll_id, guild_id=guild_id)
        async with self.sessions.begin() as session:
            changed = await PollRepository(session).close(poll.id, self.clock())
            if changed:
                AuditRepository(session).record(
                    "poll.close",
                    actor_id=actor_id,
                    target_type="poll",
                    target_id=poll.id,
                    guild_id=poll.guild_id,
                    channel_id=poll.channel_id,
                    details={"by": "moderator" if actor_id is not None else "deadline"},
                )
        self._forget(poll_id)
        return CloseResult(await self.get(poll_id), changed)

    async def claim_reminder(self, poll_id: int) -> PollView | None:
        """Mark the reminder as sent and return the poll, or ``None`` when there is nothing to
        remind (closed, no reminder, already sent, deadline passed)."""
        from storage.repositories import PollRepository

        try:
            poll = await self.get(poll_id)
        except NotFound:
            return None
        now = self.clock()
        if not poll.is_open or poll.reminder_at is None or poll.reminder_sent:
            return None
        if poll.deadline_at is not None and poll.deadline_at <= now:
            return None
        async with self.sessions.begin() as session:
            claimed = await PollRepository(session).mark_reminder_sent(poll_id)
        self._forget(poll_id)
        return dataclasses.replace(poll, reminder_sent=True) if claimed else None

    async def respondent_ids(self, poll_id: int) -> set[int]:
        """Members who answered the poll (at least one question of a survey); for an anonymous
        poll these are pseudonyms, not members (its reminders mention roles)."""
        from storage.repositories import AnswerRepository

        poll = await self.get(poll_id)
        async with self.sessions() as session:
            question_ids = {poll.question_id, *(q.id for q in poll.questions)}
            return await AnswerRepository(session).respondent_ids(question_ids)

    async def release_reminder(self, poll_id: int) -> None:
        """The reminder could not be posted: let the next start-up try again."""
        from storage.repositories import PollRepository

        async with self.sessions.begin() as session:
            await PollRepository(session).mark_reminder_sent(poll_id, False)
        self._forget(poll_id)
