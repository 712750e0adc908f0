"""The moderators' dashboard: its sign-in links and sessions, its signing key, and the few
network-wide reads its pages need that no other repository gives (polls of every network server,
respondents per poll, coverage of a campaign by member type, the latest deliveries).

A link opens at most one session: :meth:`DashboardRepository.open_session` inserts a row whose
``link_nonce`` is unique, so a second use fails in the database (``IntegrityError``), whichever
process tries it."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, distinct, func, or_, select, update
from sqlalchemy.orm import selectinload

from storage.models import (
    Announcement,
    Answer,
    BotState,
    Campaign,
    DashboardLink,
    DashboardSession,
    Delivery,
    Extract,
    NetworkChannel,
    Poll,
    Profile,
    Question,
)
from storage.repositories._base import Repository
from storage.repositories._upsert import insert as upsert_insert

SIGNING_KEY = "dashboard.signing_key"


@dataclass(frozen=True)
class DeliveryRow:
    """One post of an extract or announcement to one channel, with what it posted."""

    id: int
    kind: str  # "extract" or "announcement"
    source_id: int
    title: str
    guild_id: int
    channel_id: int
    status: str
    attempts: int
    error: str | None
    created_at: datetime
    sent_at: datetime | None
    channel_name: str = ""  # the network channel's name, when it is one and has one


class DashboardRepository(Repository):
    # ------------------------------------------------------------------ signing key
    async def signing_key(self) -> str | None:
        return await self.session.scalar(select(BotState.value).where(BotState.key == SIGNING_KEY))

    async def create_signing_key(self, value: str, *, now: datetime) -> str:
        """Store ``value`` unless a key exists (two processes racing keep one: the primary key
        decides); the key stored."""
        stmt = upsert_insert(self.session, BotState).values(key=SIGNING_KEY, value=value, updated_at=now)
        await self.session.execute(stmt.on_conflict_do_nothing(index_elements=[BotState.key]))
        return await self.signing_key() or value

    # ------------------------------------------------------------------ links and sessions
    def add_link(self, link: DashboardLink) -> DashboardLink:
        return self.add(link)

    async def link(self, nonce: str) -> DashboardLink | None:
        return await self.session.get(DashboardLink, nonce)

    async def link_used(self, nonce: str) -> bool:
        stmt = select(func.count()).select_from(DashboardSession).where(DashboardSession.link_nonce == nonce)
        return bool(await self.session.scalar(stmt))

    async def open_session(self, row: DashboardSession) -> None:
        """Insert the session; raises ``IntegrityError`` when its link opened one already."""
        self.session.add(row)
        await self.session.flush()

    async def get_session(self, session_id: str) -> DashboardSession | None:
        return await self.session.get(DashboardSession, session_id)

    async def end_session(self, session_id: str, *, now: datetime) -> bool:
        result = await self.session.execute(
            update(DashboardSession)
            .where(DashboardSession.id == session_id, DashboardSession.ended_at.is_(None))
            .values(ended_at=now)
        )
        return bool(result.rowcount)

    async def prune(self, cutoff: datetime) -> int:
        """Delete links and sessions that expired before ``cutoff`` (their sessions go with a link)."""
        sessions = await self.session.execute(delete(DashboardSession).where(DashboardSession.expires_at < cutoff))
        links = await self.session.execute(
            delete(DashboardLink).where(
                DashboardLink.expires_at < cutoff,
                ~DashboardLink.nonce.in_(select(DashboardSession.link_nonce)),
            )
        )
        return int(sessions.rowcount or 0) + int(links.rowcount or 0)

    async def of_member(self, user_id: int) -> tuple[list[DashboardLink], list[DashboardSession]]:
        links = await self.session.scalars(select(DashboardLink).where(DashboardLink.actor_id == user_id))
        sessions = await self.session.scalars(select(DashboardSession).where(DashboardSession.actor_id == user_id))
        return list(links), list(sessions)

    async def forget_member(self, user_id: int) -> int:
        """Delete the member's sessions and links (a session's row goes with its link)."""
        s = await self.session.execute(delete(DashboardSession).where(DashboardSession.actor_id == user_id))
        li = await self.session.execute(delete(DashboardLink).where(DashboardLink.actor_id == user_id))
        return int(s.rowcount or 0) + int(li.rowcount or 0)

    # ------------------------------------------------------------------ polls
    async def polls(
        self, guild_ids: Collection[int], *, status: str | None = None, campaign_id: int | None = None,
        limit: int = 100,
    ) -> list[Poll]:
        """Polls of the given servers, newest first (with questions and options)."""
        stmt = (
            select(Poll)
            .where(Poll.guild_id.in_(list(guild_ids)))
            .order_by(Poll.created_at.desc(), Poll.id.desc())
            .limit(limit)
            .options(selectinload(Poll.questions).selectinload(Question.options))
        )
        if status is not None:
            stmt = stmt.where(Poll.status == status)
        if campaign_id is not None:
            stmt = stmt.where(Poll.campaign_id == campaign_id)
        return list(await self.session.scalars(stmt))

    async def respondents_by_poll(self, poll_ids: Iterable[int]) -> dict[int, int]:
        """``{poll id: members (or unlinked answers) who answered at least one question}``."""
        ids = list(poll_ids)
        if not ids:
            return {}
        who = func.coalesce(Answer.user_id, -Answer.id)  # an unlinked answer is a respondent of its own
        stmt = (
            select(Question.poll_id, func.count(distinct(who)))
            .join(Answer, Answer.question_id == Question.id)
            .where(Question.poll_id.in_(ids))
            .group_by(Question.poll_id)
        )
        return {poll_id: int(n) for poll_id, n in await self.session.execute(stmt)}

    async def campaign(self, campaign_id: int) -> Campaign | None:
        return await self.session.get(Campaign, campaign_id)

    @staticmethod
    def _latest_answers(question_ids: Collection[int]) -> Any:
        """Each respondent's most recent answer among these questions (``user_id``,
        ``member_type``, ``updated_at``): the last one changed, the latest id on a tie.  A
        member's type is frozen in each answer when they give or change it, so a type that
        changed mid-campaign is the last answer's.  Unlinked answers are left out: they belong
        to nobody any more."""
        order = (Answer.updated_at.desc(), Answer.id.desc())
        ranked = (
            select(
                Answer.user_id, Answer.member_type, Answer.updated_at,
                func.row_number().over(partition_by=Answer.user_id, order_by=order).label("nth"),
            )
            .where(Answer.question_id.in_(list(question_ids)), Answer.user_id.is_not(None))
            .subquery()
        )
        return select(ranked.c.user_id, ranked.c.member_type, ranked.c.updated_at).where(ranked.c.nth == 1).subquery()

    async def respondents_by_type(self, question_ids: Collection[int]) -> dict[str | None, int]:
        """Respondents who answered at least one of these questions, each counted once, under
        the member type of their most recent answer (``None``: no type).  The answer's own type,
        not the profile's: an anonymous poll's answers hold a pseudonym, not a member to join a
        profile on — and a campaign's anonymous polls share it, so a member counts once there.
        Respondents are the stored ids: questions of named and anonymous polls together would
        count a member of both twice (:meth:`respondent_types` gives what to compare).  Unlinked
        answers are left out: they belong to nobody any more."""
        if not question_ids:
            return {}
        latest = self._latest_answers(question_ids)
        stmt = select(latest.c.member_type, func.count()).group_by(latest.c.member_type)
        return {mt: int(n) for mt, n in await self.session.execute(stmt)}

    async def respondent_types(self, question_ids: Collection[int]) -> list[tuple[str | None, int, datetime]]:
        """``(member type, respondent id, when)`` of everyone who answered one of these
        questions, once per respondent: the type and time of their most recent answer
        (unlinked answers left out)."""
        if not question_ids:
            return []
        latest = self._latest_answers(question_ids)
        stmt = select(latest.c.member_type, latest.c.user_id, latest.c.updated_at)
        return [(mt, int(uid), at) for mt, uid, at in await self.session.execute(stmt)]

    async def profiles_by_type(self) -> dict[str | None, int]:
        stmt = select(Profile.member_type, func.count()).group_by(Profile.member_type)
        return {mt: int(n) for mt, n in await self.session.execute(stmt)}

    async def respondents_by_question(self, question_ids: Collection[int]) -> dict[int, int]:
        if not question_ids:
            return {}
        stmt = (
            select(Answer.question_id, func.count(Answer.id))
            .where(Answer.question_id.in_(list(question_ids)))
            .group_by(Answer.question_id)
        )
        return {qid: int(n) for qid, n in await self.session.execute(stmt)}

    # ------------------------------------------------------------------ deliveries
    async def latest_deliveries(self, limit: int = 20) -> list[DeliveryRow]:
        """The latest posts of extracts and announcements, newest first, with their titles."""
        stmt = (
            select(Delivery, Extract.title, Announcement.title, NetworkChannel.name)
            .join(Extract, Extract.id == Delivery.extract_id, isouter=True)
            .join(Announcement, Announcement.id == Delivery.announcement_id, isouter=True)
            .join(NetworkChannel, NetworkChannel.channel_id == Delivery.channel_id, isouter=True)
            .where(or_(Delivery.extract_id.is_not(None), Delivery.announcement_id.is_not(None)))
            .order_by(func.coalesce(Delivery.sent_at, Delivery.created_at).desc(), Delivery.id.desc())
            .limit(limit)
        )
        out: list[DeliveryRow] = []
        for row, extract_title, announcement_title, channel_name in await self.session.execute(stmt):
            kind = "extract" if row.extract_id is not None else "announcement"
            out.append(DeliveryRow(
                row.id, kind, row.extract_id if row.extract_id is not None else row.announcement_id,
                (extract_title if kind == "extract" else announcement_title) or "",
                row.guild_id, row.channel_id, row.status, row.attempts, row.error, row.created_at, row.sent_at,
                channel_name or "",
            ))
        return out


def session_values(row: DashboardSession) -> dict[str, Any]:
    """A session row as plain values (the ORM object dies with its database session)."""
    return {
        "id": row.id, "actor_id": row.actor_id, "guild_id": row.guild_id,
        "role_ids": tuple(int(r) for r in row.role_ids or ()), "created_at": row.created_at,
        "expires_at": row.expires_at, "ended_at": row.ended_at,
    }
