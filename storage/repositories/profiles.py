"""Member profiles and everything stored about one member: the only SQL the privacy features run.

Three small repositories, one per privacy hook (:mod:`bot.services.privacy`):

:class:`ProfileRepository`
    The profile row, written with a dialect-specific ``INSERT … ON CONFLICT (user_id) DO
    UPDATE`` so two concurrent clicks of the same member end as one row; ``prune`` applies the
    retention period (answers and profiles).
:class:`MemberAnswerRepository`
    A member's poll answers, read with their poll, question and chosen option labels for
    ``/my-data``; ``/forget-me`` deletes them (the choices go with them through ``ON DELETE
    CASCADE``) or unlinks those of closed polls (``user_id`` set to NULL: they still count,
    anonymously) and deletes those of open polls.  A member's answers are found by
    :class:`MemberAnswers`: their id, and their pseudonym in each anonymous poll.
:class:`MemberRecordsRepository`
    Records that name a member as their author or actor — polls created, announcements written,
    audit-log actions — shown by ``/my-data``; ``/forget-me`` keeps the records (the network's)
    and sets their author or actor to NULL.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, exists, func, or_, select, tuple_, update

from storage.models import (
    Announcement,
    Answer,
    AnswerChoice,
    AuditEntry,
    Campaign,
    Option,
    Poll,
    Profile,
    Question,
)
from storage.repositories._base import Repository
from storage.repositories._upsert import insert as upsert_insert

POLL_CLOSED = "closed"

PROFILE_FIELDS = ("member_type", "organisation", "region", "lang", "consent_at")


@dataclass(frozen=True)
class AnswerRow:
    """One of a member's answers with what it answered (for ``/my-data``)."""

    answer_id: int
    poll_id: int
    poll_title: str
    campaign: str | None
    question_code: str
    question_text: str
    kind: str
    choices: tuple[str, ...]  # option labels, in the question's order
    text: str | None
    member_type: str | None
    answered_at: datetime
    updated_at: datetime
    lang: str = "fr"  # the poll's language, that of ``choices``
    # each choice's code and its label in the poll's other languages (``Option.labels``)
    choice_wording: tuple[tuple[str, dict[str, str]], ...] = ()


@dataclass(frozen=True)
class MemberAnswers:
    """Whose answers: the member's id, and ``(poll id, respondent id)`` for every anonymous poll
    (there the answers are stored under a pseudonym: :mod:`bot.services.privacy`)."""

    user_id: int
    pseudonyms: tuple[tuple[int, int], ...] = ()

    def condition(self) -> ColumnElement[bool]:
        """Which rows of ``answers`` are the member's."""
        mine = Answer.user_id == self.user_id
        if not self.pseudonyms:
            return mine
        under_pseudonym = (
            select(Answer.id)
            .join(Question, Question.id == Answer.question_id)
            .where(Answer.user_id < 0, tuple_(Question.poll_id, Answer.user_id).in_(self.pseudonyms))
        )
        return or_(mine, Answer.id.in_(under_pseudonym))


@dataclass(frozen=True)
class PollRow:
    poll_id: int
    title: str
    status: str
    created_at: datetime


@dataclass(frozen=True)
class AuditRow:
    at: datetime
    action: str
    target_type: str
    target_id: str


@dataclass(frozen=True)
class AnnouncementRow:
    announcement_id: int
    title: str
    status: str
    created_at: datetime


class ProfileRepository(Repository):
    # ------------------------------------------------------------------ the profile
    async def get(self, user_id: int) -> Profile | None:
        stmt = select(Profile).where(Profile.user_id == user_id).execution_options(populate_existing=True)
        return (await self.session.scalars(stmt)).one_or_none()

    async def upsert(self, user_id: int, *, now: datetime, **values: Any) -> Profile:
        """Create the profile or change the given fields (``member_type``, ``organisation``,
        ``region``, ``lang``, ``consent_at``); ``updated_at`` becomes ``now``."""
        unknown = set(values) - set(PROFILE_FIELDS)
        if unknown:
            raise TypeError(f"unknown profile fields: {sorted(unknown)}")
        stmt = upsert_insert(self.session, Profile).values(user_id=user_id, created_at=now, updated_at=now, **values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[Profile.user_id],
            set_={**{name: getattr(stmt.excluded, name) for name in values}, "updated_at": stmt.excluded.updated_at},
        )
        await self.session.execute(stmt)
        profile = await self.get(user_id)
        assert profile is not None
        return profile

    async def delete(self, user_id: int) -> bool:
        result = await self.session.execute(delete(Profile).where(Profile.user_id == user_id))
        return result.rowcount == 1

    # ------------------------------------------------------------------ retention
    async def prune(self, cutoff: datetime) -> tuple[int, int]:
        """Delete answers given before ``cutoff`` and profiles last changed before it, except the
        profiles of members who answered something since (they are still active).  Returns
        ``(answers, profiles)`` deleted."""
        active = exists().where(Answer.user_id == Profile.user_id, Answer.updated_at >= cutoff)
        profiles = await self.session.execute(
            delete(Profile).where(Profile.updated_at < cutoff, ~active).execution_options(synchronize_session=False)
        )
        answers = await self.session.execute(
            delete(Answer).where(Answer.answered_at < cutoff).execution_options(synchronize_session=False)
        )
        return answers.rowcount or 0, profiles.rowcount or 0


class MemberAnswerRepository(Repository):
    """One member's poll answers (the polls feature's privacy hook)."""
    async def anonymous_polls(self) -> list[tuple[int, int | None]]:
        """``(poll id, campaign id)`` of every anonymous poll (a member's answers there are under
        a pseudonym per campaign, or per poll outside campaigns)."""
        stmt = select(Poll.id, Poll.campaign_id).where(Poll.anonymous.is_(True)).order_by(Poll.id)
        return [(poll_id, campaign_id) for poll_id, campaign_id in await self.session.execute(stmt)]

    async def count_answers(self, whose: MemberAnswers) -> int:
        stmt = select(func.count(Answer.id)).where(whose.condition())
        return int(await self.session.scalar(stmt) or 0)

    async def answers_of(self, whose: MemberAnswers) -> list[AnswerRow]:
        """Every answer of the member, oldest first, with its poll, question and chosen labels."""
        stmt = (
            select(Answer, Question, Poll, Campaign.name)
            .join(Question, Question.id == Answer.question_id)
            .join(Poll, Poll.id == Question.poll_id)
            .outerjoin(Campaign, Campaign.id == Poll.campaign_id)
            .where(whose.condition())
            .order_by(Answer.answered_at, Answer.id)
        )
        rows = (await self.session.execute(stmt)).all()
        labels: dict[int, list[str]] = defaultdict(list)
        wording: dict[int, list[tuple[str, dict[str, str]]]] = defaultdict(list)
        if rows:
            choice_stmt = (
                select(AnswerChoice.answer_id, Option.label, Option.code, Option.labels)
                .join(Option, Option.id == AnswerChoice.option_id)
                .join(Answer, Answer.id == AnswerChoice.answer_id)
                .where(whose.condition())
                # a ranking's choices first choice first (rank; NULL for the other kinds: option order)
                .order_by(AnswerChoice.answer_id, AnswerChoice.rank, Option.position)
            )
            for answer_id, label, code, others in await self.session.execute(choice_stmt):
                labels[answer_id].append(label)
                wording[answer_id].append((code, dict(others or {})))
        return [
            AnswerRow(
                answer_id=answer.id,
                poll_id=poll.id,
                poll_title=poll.title,
                campaign=campaign,
                question_code=question.code,
                question_text=question.text,
                kind=question.kind,
                choices=tuple(labels.get(answer.id, ())),
                text=answer.text,
                member_type=answer.member_type,
                answered_at=answer.answered_at,
                updated_at=answer.updated_at,
                lang=poll.lang,
                choice_wording=tuple(wording.get(answer.id, ())),
            )
            for answer, question, poll, campaign in rows
        ]

    async def poll_ids_answered_by(self, whose: MemberAnswers) -> list[int]:
        stmt = (
            select(Question.poll_id)
            .join(Answer, Answer.question_id == Question.id)
            .where(whose.condition())
            .distinct()
            .order_by(Question.poll_id)
        )
        return list(await self.session.scalars(stmt))

    async def delete_answers_of(self, whose: MemberAnswers) -> int:
        """Delete every answer of the member (their choices go with them); the count deleted."""
        result = await self.session.execute(
            delete(Answer).where(whose.condition()).execution_options(synchronize_session=False)
        )
        return result.rowcount or 0

    async def unlink_answers_of(self, whose: MemberAnswers, *, closed_only: bool = False) -> int:
        """Keep the member's answers but make them point to nobody — neither id nor pseudonym —
        (with ``closed_only``, those of closed polls only); the count unlinked."""
        stmt = update(Answer).where(whose.condition()).execution_options(synchronize_session=False)
        if closed_only:
            stmt = stmt.where(Answer.question_id.in_(self._questions_of_polls(open_=False)))
        result = await self.session.execute(stmt.values(user_id=None))
        return result.rowcount or 0

    async def delete_open_answers_of(self, whose: MemberAnswers) -> int:
        """Delete the member's answers to polls that are not closed (they could answer again
        there); the count deleted."""
        result = await self.session.execute(
            delete(Answer)
            .where(whose.condition(), Answer.question_id.in_(self._questions_of_polls(open_=True)))
            .execution_options(synchronize_session=False)
        )
        return result.rowcount or 0

    @staticmethod
    def _questions_of_polls(*, open_: bool) -> Any:
        closed = Poll.status == POLL_CLOSED
        return (
            select(Question.id)
            .join(Poll, Poll.id == Question.poll_id)
            .where(~closed if open_ else closed)
            .scalar_subquery()
        )


class MemberRecordsRepository(Repository):
    """Records naming a member as author or actor: shown by ``/my-data``; ``/forget-me`` keeps
    them and sets the author or actor to NULL (``unlink_…``, each returning the count)."""

    async def unlink_polls_created_by(self, user_id: int) -> int:
        result = await self.session.execute(update(Poll).where(Poll.author_id == user_id).values(author_id=None))
        return result.rowcount or 0

    async def unlink_audit_entries_by(self, user_id: int) -> int:
        result = await self.session.execute(
            update(AuditEntry).where(AuditEntry.actor_id == user_id).values(actor_id=None)
        )
        return result.rowcount or 0

    async def unlink_announcements_by(self, user_id: int) -> int:
        result = await self.session.execute(
            update(Announcement).where(Announcement.author_id == user_id).values(author_id=None)
        )
        return result.rowcount or 0

    async def polls_created_by(self, user_id: int) -> list[PollRow]:
        stmt = select(Poll.id, Poll.title, Poll.status, Poll.created_at).where(Poll.author_id == user_id)
        return [PollRow(*row) for row in await self.session.execute(stmt.order_by(Poll.id))]

    async def audit_entries_by(self, user_id: int) -> list[AuditRow]:
        stmt = (
            select(AuditEntry.at, AuditEntry.action, AuditEntry.target_type, AuditEntry.target_id)
            .where(AuditEntry.actor_id == user_id)
            .order_by(AuditEntry.at, AuditEntry.id)
        )
        return [AuditRow(*row) for row in await self.session.execute(stmt)]

    async def announcements_by(self, user_id: int) -> list[AnnouncementRow]:
        stmt = (
            select(Announcement.id, Announcement.title, Announcement.status, Announcement.created_at)
            .where(Announcement.author_id == user_id)
            .order_by(Announcement.id)
        )
        return [AnnouncementRow(*row) for row in await self.session.execute(stmt)]
