"""Polls and answers: the only SQL the poll feature runs.

A vote is written with a dialect-specific ``INSERT … ON CONFLICT (question_id, user_id) DO
UPDATE`` (SQLite and PostgreSQL both have it): the unique constraint decides, so two concurrent
clicks of the same member end as one answer.  On PostgreSQL the upsert also locks the answer
row until the transaction ends, so whatever the service then reads and writes about that
answer's choices is serialised per (question, member); on SQLite the whole write transaction
is serialised anyway.  Counts are ``GROUP BY`` queries, never Python loops over rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage.models import Answer, AnswerChoice, Option, Poll, Profile, Question
from storage.repositories._upsert import insert as upsert_insert

FROM_PROFILE = object()  # upsert(): copy the member type from the member's profile



class PollRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, poll: Poll) -> Poll:
        self.session.add(poll)
        return poll

    async def get(self, poll_id: int) -> Poll | None:
        stmt = (
            select(Poll)
            .where(Poll.id == poll_id)
            .options(selectinload(Poll.questions).selectinload(Question.options))
            .execution_options(populate_existing=True)
        )
        return (await self.session.scalars(stmt)).one_or_none()

    async def get_by_message(self, message_id: int, *, native: bool | None = None) -> Poll | None:
        stmt = (
            select(Poll)
            .where(Poll.message_id == message_id)
            .options(selectinload(Poll.questions).selectinload(Question.options))
        )
        if native is not None:
            stmt = stmt.where(Poll.native.is_(native))
        return (await self.session.scalars(stmt)).first()

    async def status(self, poll_id: int, *, lock: bool = False) -> tuple[str, datetime | None] | None:
        """The poll's status and deadline; ``lock`` takes a shared row lock (PostgreSQL) so a
        concurrent close waits for this transaction, and this one sees a committed close."""
        stmt = select(Poll.status, Poll.deadline_at).where(Poll.id == poll_id)
        if lock:
            stmt = stmt.with_for_update(read=True)
        row = (await self.session.execute(stmt)).one_or_none()
        return None if row is None else (row[0], row[1])

    async def list_for_guild(self, guild_id: int, *, status: str, limit: int) -> list[Poll]:
        order = Poll.deadline_at.asc() if status == "open" else Poll.closed_at.desc()
        stmt = (
            select(Poll)
            .where(Poll.guild_id == guild_id, Poll.status == status)
            .order_by(order, Poll.id.desc())
            .limit(limit)
            .options(selectinload(Poll.questions).selectinload(Question.options))
        )
        return list(await self.session.scalars(stmt))

    async def search(self, guild_id: int, text: str, *, open_only: bool, limit: int = 25) -> list[Poll]:
        stmt = select(Poll).where(Poll.guild_id == guild_id).order_by(Poll.id.desc()).limit(limit)
        if open_only:
            stmt = stmt.where(Poll.status == "open")
        if text:
            stmt = stmt.where(Poll.title.ilike(f"%{text}%"))
        return list(await self.session.scalars(stmt))

    async def open_polls(self) -> list[Poll]:
        """Every open poll (to reconcile the scheduler with the database)."""
        stmt = (
            select(Poll)
            .where(Poll.status == "open")
            .order_by(Poll.id)
            .options(selectinload(Poll.questions).selectinload(Question.options))
        )
        return list(await self.session.scalars(stmt))

    async def close(self, poll_id: int, now: datetime) -> bool:
        """Close an open poll; ``False`` when it was already closed (idempotent)."""
        result = await self.session.execute(
            update(Poll)
            .where(Poll.id == poll_id, Poll.status == "open")
            .values(status="closed", closed_at=now)
        )
        return result.rowcount == 1

    async def set_message(self, poll_id: int, message_id: int) -> None:
        await self.session.execute(update(Poll).where(Poll.id == poll_id).values(message_id=message_id))

    async def mark_reminder_sent(self, poll_id: int, sent: bool = True) -> bool:
        """Flip ``reminder_sent``; ``False`` when it already had that value (someone did it)."""
        result = await self.session.execute(
            update(Poll)
            .where(Poll.id == poll_id, Poll.reminder_sent.is_(not sent))
            .values(reminder_sent=sent)
        )
        return result.rowcount == 1

    async def delete(self, poll_id: int) -> None:
        await self.session.execute(delete(Poll).where(Poll.id == poll_id))


class AnswerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def member_type_of(self, user_id: int) -> str | None:
        """The member type on the member's profile right now (``None`` without a profile)."""
        return await self.session.scalar(select(Profile.member_type).where(Profile.user_id == user_id))

    async def upsert(
        self,
        question_id: int,
        user_id: int,
        *,
        now: datetime,
        member_type: str | None | object = FROM_PROFILE,
        text: str | None = None,
        set_text: bool = False,
    ) -> int:
        """Create or touch the member's answer row and return its id (one row per question and
        member, whatever the concurrency).  ``answered_at`` keeps the first answer's time.

        ``member_type`` defaults to the type on the member's profile at this moment, read by a
        subquery of the same statement (``NULL`` without a profile)."""
        if member_type is FROM_PROFILE:
            member_type = select(Profile.member_type).where(Profile.user_id == user_id).scalar_subquery()
        stmt = upsert_insert(self.session, Answer).values(
            question_id=question_id,
            user_id=user_id,
            member_type=member_type,
            text=text,
            answered_at=now,
            updated_at=now,
        )
        changes: dict[str, Any] = {
            "member_type": stmt.excluded.member_type,
            "updated_at": stmt.excluded.updated_at,
        }
        if set_text:
            changes["text"] = stmt.excluded.text
        stmt = stmt.on_conflict_do_update(index_elements=[Answer.question_id, Answer.user_id], set_=changes)
        return (await self.session.execute(stmt.returning(Answer.id))).scalar_one()

    async def choices(self, answer_id: int) -> set[int]:
        stmt = select(AnswerChoice.option_id).where(AnswerChoice.answer_id == answer_id)
        return set(await self.session.scalars(stmt))

    async def set_choices(
        self, answer_id: int, option_ids: Iterable[int], current: set[int] | None = None
    ) -> None:
        """Make the answer's choices exactly ``option_ids``."""
        wanted = set(option_ids)
        if current is None:
            current = await self.choices(answer_id)
        gone = current - wanted
        if gone:
            await self.session.execute(
                delete(AnswerChoice).where(
                    AnswerChoice.answer_id == answer_id, AnswerChoice.option_id.in_(gone)
                )
            )
        new = wanted - current
        if new:
            stmt = upsert_insert(self.session, AnswerChoice).values(
                [{"answer_id": answer_id, "option_id": option_id} for option_id in sorted(new)]
            )
            await self.session.execute(stmt.on_conflict_do_nothing())

    async def current(self, question_id: int, user_id: int) -> tuple[int, set[int], str | None] | None:
        """The member's answer: ``(answer_id, option ids, text)``, or ``None``."""
        row = (
            await self.session.execute(
                select(Answer.id, Answer.text).where(
                    Answer.question_id == question_id, Answer.user_id == user_id
                )
            )
        ).one_or_none()
        if row is None:
            return None
        return row[0], await self.choices(row[0]), row[1]

    async def of_user(
        self, question_ids: Iterable[int], user_id: int
    ) -> dict[int, tuple[set[int], str | None]]:
        """The member's answers to several questions (a survey):
        ``{question_id: (option ids, text)}``; unanswered questions are absent."""
        ids = list(question_ids)
        if not ids:
            return {}
        stmt = (
            select(Answer.question_id, Answer.text, AnswerChoice.option_id)
            .join(AnswerChoice, AnswerChoice.answer_id == Answer.id, isouter=True)
            .where(Answer.question_id.in_(ids), Answer.user_id == user_id)
        )
        out: dict[int, tuple[set[int], str | None]] = {}
        for question_id, text, option_id in await self.session.execute(stmt):
            chosen, _ = out.setdefault(question_id, (set(), text))
            if option_id is not None:
                chosen.add(option_id)
        return out

    async def respondents_across(self, question_ids: Iterable[int]) -> tuple[int, int]:
        """``(members who answered at least one of the questions, members who answered all)``
        — linked answers only (an unlinked answer no longer says whose it is)."""
        ids = list(question_ids)
        if not ids:
            return 0, 0
        per_user = (
            select(Answer.user_id, func.count(Answer.id).label("n"))
            .where(Answer.question_id.in_(ids), Answer.user_id.is_not(None))
            .group_by(Answer.user_id)
            .subquery()
        )
        stmt = select(
            func.count(per_user.c.user_id),
            func.coalesce(func.sum(case((per_user.c.n >= len(ids), 1), else_=0)), 0),
        )
        row = (await self.session.execute(stmt)).one()
        return int(row[0] or 0), int(row[1] or 0)

    async def delete(self, question_id: int, user_id: int) -> bool:
        result = await self.session.execute(
            delete(Answer).where(Answer.question_id == question_id, Answer.user_id == user_id)
        )
        return result.rowcount > 0

    async def delete_by_id(self, answer_id: int) -> None:
        await self.session.execute(delete(Answer).where(Answer.id == answer_id))

    async def users_with_choices(self, question_id: int) -> dict[int, set[int]]:
        """Every member's chosen options for one question (to reconcile a native poll)."""
        stmt = (
            select(Answer.user_id, AnswerChoice.option_id)
            .join(AnswerChoice, AnswerChoice.answer_id == Answer.id, isouter=True)
            .where(Answer.question_id == question_id, Answer.user_id.is_not(None))
        )
        out: dict[int, set[int]] = {}
        for user_id, option_id in await self.session.execute(stmt):
            out.setdefault(user_id, set())
            if option_id is not None:
                out[user_id].add(option_id)
        return out

    # ------------------------------------------------------------------ counts
    async def respondents(self, question_id: int) -> int:
        stmt = select(func.count(Answer.id)).where(Answer.question_id == question_id)
        return int(await self.session.scalar(stmt) or 0)

    async def counts(self, question_id: int) -> dict[int, int]:
        """``{option_id: number of answers choosing it}`` (options nobody chose are absent)."""
        stmt = (
            select(AnswerChoice.option_id, func.count())
            .join(Answer, Answer.id == AnswerChoice.answer_id)
            .where(Answer.question_id == question_id)
            .group_by(AnswerChoice.option_id)
        )
        return {option_id: int(count) for option_id, count in await self.session.execute(stmt)}

    async def counts_by_member_type(self, question_id: int) -> dict[tuple[str | None, int], int]:
        """``{(member_type, option_id): count}``; ``member_type`` is ``None`` without a profile."""
        stmt = (
            select(Answer.member_type, AnswerChoice.option_id, func.count())
            .join(Answer, Answer.id == AnswerChoice.answer_id)
            .where(Answer.question_id == question_id)
            .group_by(Answer.member_type, AnswerChoice.option_id)
        )
        return {(mt, option_id): int(count) for mt, option_id, count in await self.session.execute(stmt)}

    async def respondents_by_member_type(self, question_id: int) -> dict[str | None, int]:
        stmt = (
            select(Answer.member_type, func.count(Answer.id))
            .where(Answer.question_id == question_id)
            .group_by(Answer.member_type)
        )
        return {mt: int(count) for mt, count in await self.session.execute(stmt)}

    async def voters(self, question_id: int) -> dict[int, list[int]]:
        """``{option_id: [user ids]}`` in answering order (named polls only)."""
        stmt = (
            select(AnswerChoice.option_id, Answer.user_id)
            .join(Answer, Answer.id == AnswerChoice.answer_id)
            .where(Answer.question_id == question_id, Answer.user_id.is_not(None))
            .order_by(Answer.answered_at, Answer.id)
        )
        out: dict[int, list[int]] = {}
        for option_id, user_id in await self.session.execute(stmt):
            out.setdefault(option_id, []).append(user_id)
        return out

    async def texts(self, question_id: int, *, limit: int) -> list[tuple[int | None, str, str | None]]:
        """The latest open answers: ``(user_id, text, member_type)``, newest first."""
        stmt = (
            select(Answer.user_id, Answer.text, Answer.member_type)
            .where(Answer.question_id == question_id, Answer.text.is_not(None))
            .order_by(Answer.updated_at.desc(), Answer.id.desc())
            .limit(limit)
        )
        return [(user_id, text, mt) for user_id, text, mt in await self.session.execute(stmt)]

    async def option_ids(self, question_id: int) -> list[int]:
        stmt = select(Option.id).where(Option.question_id == question_id).order_by(Option.position)
        return list(await self.session.scalars(stmt))
