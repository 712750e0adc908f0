"""Campaigns: groups of polls feeding one members' survey (e.g. "Enquête membres 2026-2027").

The "current" campaign is the active one; :meth:`CampaignRepository.activate` makes exactly one
campaign active in one statement pair inside the caller's transaction.  Should several rows be
active anyway (rows written by hand, an old database where the column defaulted to true), the
most recently created active campaign is the current one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select, update

from storage.models import Answer, Campaign, Poll, Question
from storage.repositories._base import Repository


@dataclass(frozen=True)
class CampaignRow:
    id: int
    name: str
    active: bool
    created_at: datetime
    polls: int
    respondents: int  # distinct stored ids: a member of both a named and an anonymous poll is two
    mixed: bool = False  # named and anonymous polls both: ``respondents`` must be read member by member


class CampaignRepository(Repository):
    async def get(self, campaign_id: int) -> Campaign | None:
        return await self.session.get(Campaign, campaign_id)

    async def by_name(self, name: str) -> Campaign | None:
        """Exact name first, else the one whose name matches case-insensitively (compared in
        Python: SQLite's ``lower()`` only folds ASCII, and campaigns are few)."""
        exact = await self.session.scalar(select(Campaign).where(Campaign.name == name))
        if exact is not None:
            return exact
        wanted = name.casefold()
        for campaign_id, other in await self.session.execute(select(Campaign.id, Campaign.name)):
            if other.casefold() == wanted:
                return await self.session.get(Campaign, campaign_id)
        return None

    async def current_id(self) -> int | None:
        stmt = (
            select(Campaign.id)
            .where(Campaign.active.is_(True))
            .order_by(Campaign.created_at.desc(), Campaign.id.desc())
            .limit(1)
        )
        return await self.session.scalar(stmt)

    async def activate(self, campaign_id: int) -> bool:
        """Make ``campaign_id`` the only active campaign; ``False`` when it already was."""
        was = await self.session.scalar(select(Campaign.active).where(Campaign.id == campaign_id))
        others = await self.session.execute(
            update(Campaign).where(Campaign.id != campaign_id, Campaign.active.is_(True)).values(active=False)
        )
        await self.session.execute(update(Campaign).where(Campaign.id == campaign_id).values(active=True))
        return not was or others.rowcount > 0

    async def listing(self, *, limit: int = 50) -> list[CampaignRow]:
        """Campaigns, newest first, with their number of polls and of distinct respondents."""
        polls = (
            select(Poll.campaign_id.label("campaign_id"), func.count(Poll.id).label("n"),
                   func.sum(case((Poll.anonymous.is_(True), 1), else_=0)).label("anonymous"))
            .where(Poll.campaign_id.is_not(None))
            .group_by(Poll.campaign_id)
            .subquery()
        )
        people = (
            select(
                Poll.campaign_id.label("campaign_id"), func.count(func.distinct(Answer.user_id)).label("n")
            )
            .join(Question, Question.poll_id == Poll.id)
            .join(Answer, Answer.question_id == Question.id)
            .where(Poll.campaign_id.is_not(None))
            .group_by(Poll.campaign_id)
            .subquery()
        )
        stmt = (
            select(
                Campaign.id,
                Campaign.name,
                Campaign.active,
                Campaign.created_at,
                func.coalesce(polls.c.n, 0),
                func.coalesce(people.c.n, 0),
                func.coalesce(polls.c.anonymous, 0),
            )
            .outerjoin(polls, polls.c.campaign_id == Campaign.id)
            .outerjoin(people, people.c.campaign_id == Campaign.id)
            .order_by(Campaign.created_at.desc(), Campaign.id.desc())
            .limit(limit)
        )
        return [
            CampaignRow(id_, name, bool(active), created_at, int(n_polls), int(n_people),
                        mixed=0 < int(n_anonymous) < int(n_polls))
            for id_, name, active, created_at, n_polls, n_people, n_anonymous in await self.session.execute(stmt)
        ]

    async def respondent_ids(self, campaign_id: int, *, anonymous: bool) -> set[int]:
        """The stored respondent ids of a campaign's named (member ids) or anonymous (its
        pseudonyms) polls; unlinked answers left out."""
        stmt = (
            select(Answer.user_id).distinct()
            .join(Question, Question.id == Answer.question_id)
            .join(Poll, Poll.id == Question.poll_id)
            .where(Poll.campaign_id == campaign_id, Poll.anonymous.is_(anonymous), Answer.user_id.is_not(None))
        )
        return {int(uid) for uid in await self.session.scalars(stmt)}

    async def search(self, text: str = "", *, limit: int = 25) -> list[tuple[int, str, bool]]:
        """``(id, name, active)`` of campaigns whose name contains ``text``, the active first."""
        stmt = select(Campaign.id, Campaign.name, Campaign.active).order_by(
            Campaign.active.desc(), Campaign.created_at.desc(), Campaign.id.desc()
        )
        if text:
            stmt = stmt.where(Campaign.name.ilike(f"%{text}%"))
        rows = await self.session.execute(stmt.limit(limit))
        return [(id_, name, bool(active)) for id_, name, active in rows]
