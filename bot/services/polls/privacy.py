"""The polls feature's privacy hook (:mod:`bot.services.privacy`): a member's answers.

``/my-data`` shows every answer of the member (poll, question, chosen labels or text, the member
type frozen when answering) and the polls they created.  ``/forget-me`` deletes their answers
(``delete``: they no longer count) or, with ``unlink``, deletes their answers to polls not yet
closed and unlinks those of closed polls (``user_id`` becomes NULL, they still count
anonymously): one member never counts twice in one poll — an unlinked answer in an open poll
would stay counted while the member, no longer recognised, answers again.  In one transaction;
the hook names the polls whose answers changed
(``records["polls"]``) so that the Discord side refreshes their live counts
(``cogs/polls/privacy.py``).  The polls a member created stay: they are the network's polls,
shown in ``/my-data`` and kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.privacy import Forgotten, iso
from storage.repositories.profiles import MemberAnswerRepository, MemberRecordsRepository

__all__ = ["FEATURE", "PollAnswersHook"]

FEATURE = "polls"


class PollAnswersHook:
    feature = FEATURE

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def describe(self, user_id: int) -> Mapping[str, Any]:
        async with self.sessions() as session:
            answers = await MemberAnswerRepository(session).answers_of(user_id)
            created = await MemberRecordsRepository(session).polls_created_by(user_id)
        return {
            "answers": [
                {
                    "poll_id": a.poll_id,
                    "poll": a.poll_title,
                    "campaign": a.campaign,
                    "question_code": a.question_code,
                    "question": a.question_text,
                    "kind": a.kind,
                    "choices": list(a.choices),
                    "text": a.text,
                    "member_type_when_answered": a.member_type,
                    "answered_at": iso(a.answered_at),
                    "updated_at": iso(a.updated_at),
                }
                for a in answers
            ],
            "polls_created": [
                {"poll_id": p.poll_id, "title": p.title, "status": p.status, "created_at": iso(p.created_at)}
                for p in created
            ],
        }

    async def forget(self, user_id: int, mode: str) -> Forgotten:
        async with self.sessions.begin() as session:
            repo = MemberAnswerRepository(session)
            poll_ids = tuple(await repo.poll_ids_answered_by(user_id))
            if mode == "delete":
                answers = await repo.delete_answers_of(user_id)
            elif mode == "unlink":
                answers = await repo.delete_open_answers_of(user_id)
                answers += await repo.unlink_answers_of(user_id, closed_only=True)
            else:
                raise ValueError(f"unknown forget mode {mode!r}")
            created = len(await MemberRecordsRepository(session).polls_created_by(user_id))
        return Forgotten(removed={"answers": answers}, records={"polls": poll_ids},
                         kept={"polls_created": created})

    async def stored(self, user_id: int) -> int:
        async with self.sessions() as session:
            return await MemberAnswerRepository(session).count_answers(user_id)
