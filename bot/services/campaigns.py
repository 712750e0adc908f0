"""Campaigns, without Discord: moderators group polls into a campaign that feeds one members'
survey (for example "Enquête membres 2026-2027"), and one campaign is the *current* one — new
polls (and the follow-up questions of the monthly extracts) go into it unless told otherwise::

    campaigns = CampaignService(sessions)
    await campaigns.create("Enquête membres 2026-2027", actor_id=42, activate=True)
    campaign_id = await current_campaign_id(sessions)   # None when there is no campaign

Campaigns are network-wide (the table has no guild): the network's servers feed one survey.
Creating and activating are audit-logged (``campaign.create``, ``campaign.activate``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from bot.errors import Conflict, NotFound
from bot.services.poll_rules import checked_text
from storage.values import utcnow

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from storage.repositories.campaigns import CampaignRow

__all__ = [
    "MAX_NAME",
    "CampaignService",
    "CampaignView",
    "clean_name",
    "current_campaign_id",
]

MAX_NAME = 100  # the column


@dataclass(frozen=True)
class CampaignView:
    id: int
    name: str
    current: bool
    created_at: datetime
    polls: int = 0
    respondents: int = 0  # distinct members who answered at least one of its polls


def _view(row: CampaignRow) -> CampaignView:
    return CampaignView(row.id, row.name, row.active, row.created_at, row.polls, row.respondents)


def clean_name(name: str | None) -> str:
    """Trimmed, inner whitespace collapsed, 1 to 100 characters, no mention."""
    return checked_text(
        " ".join((name or "").split()),
        MAX_NAME,
        empty="campaign.error.name_empty",
        too_long="campaign.error.name_too_long",
        mention="campaign.error.mention",
    )


async def current_campaign_id(sessions: async_sessionmaker[AsyncSession]) -> int | None:
    """The id of the current (active) campaign, or ``None`` when no campaign is active.

    For the features that create polls on their own (an extract's follow-up question)."""
    from storage.repositories.campaigns import CampaignRepository

    async with sessions() as session:
        return await CampaignRepository(session).current_id()


class CampaignService:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.sessions = sessions
        self.clock = clock

    async def create(
        self,
        name: str,
        *,
        actor_id: int | None,
        activate: bool | None = None,
        guild_id: int | None = None,
    ) -> CampaignView:
        """A new campaign.  ``activate=None`` makes it current only when no campaign is
        current yet (the first campaign); ``True`` makes it the current one.  A name already
        taken (compared case-insensitively) is a :class:`Conflict`."""
        from sqlalchemy.exc import IntegrityError

        from storage import models
        from storage.repositories import AuditRepository
        from storage.repositories.campaigns import CampaignRepository

        name = clean_name(name)
        try:
            async with self.sessions.begin() as session:
                repo = CampaignRepository(session)
                if await repo.by_name(name) is not None:
                    raise Conflict("campaign.error.exists", name=name)
                current = await repo.current_id()
                make_current = current is None if activate is None else activate
                campaign = repo.add(models.Campaign(name=name, active=False, created_at=self.clock()))
                await session.flush()
                if make_current:
                    await repo.activate(campaign.id)
                AuditRepository(session).record(
                    "campaign.create",
                    actor_id=actor_id,
                    target_type="campaign",
                    target_id=campaign.id,
                    guild_id=guild_id,
                    details={"name": name, "current": make_current},
                )
                view = CampaignView(campaign.id, name, make_current, campaign.created_at)
        except IntegrityError as exc:  # a concurrent create with the same name
            raise Conflict("campaign.error.exists", name=name) from exc
        return view

    async def activate(
        self, name: str, *, actor_id: int | None, guild_id: int | None = None
    ) -> tuple[CampaignView, bool]:
        """Make the named campaign the current one (the others stop being current).
        Returns the campaign and whether anything changed (idempotent)."""
        from storage.repositories import AuditRepository
        from storage.repositories.campaigns import CampaignRepository

        name = " ".join((name or "").split())
        async with self.sessions.begin() as session:
            repo = CampaignRepository(session)
            campaign = await repo.by_name(name) if name else None
            if campaign is None:
                raise NotFound("campaign.error.not_found", name=name)
            changed = await repo.activate(campaign.id)
            if changed:
                AuditRepository(session).record(
                    "campaign.activate",
                    actor_id=actor_id,
                    target_type="campaign",
                    target_id=campaign.id,
                    guild_id=guild_id,
                    details={"name": campaign.name},
                )
            view = CampaignView(campaign.id, campaign.name, True, campaign.created_at)
        return view, changed

    async def list(self, *, limit: int = 50) -> list[CampaignView]:
        """Campaigns, newest first, with their number of polls and respondents."""
        from storage.repositories.campaigns import CampaignRepository

        async with self.sessions() as session:
            repo = CampaignRepository(session)
            rows = await repo.listing(limit=limit)
            mixed = {row.id: (await repo.respondent_ids(row.id, anonymous=False),
                              await repo.respondent_ids(row.id, anonymous=True)) for row in rows if row.mixed}
        views = [_view(row) for row in rows]
        if mixed:  # a member who answered named and anonymous polls counts once (their pseudonym)
            from bot.services.privacy import AnswerPseudonyms

            pseudonyms = AnswerPseudonyms(self.sessions, clock=self.clock)
            for index, view in enumerate(views):
                if view.id in mixed:
                    named, anonymous = mixed[view.id]
                    of = await pseudonyms.in_campaign(view.id)
                    views[index] = dataclasses.replace(view, respondents=len(anonymous | set(map(of, named))))
        return views

    async def current(self) -> CampaignView | None:
        from storage.repositories.campaigns import CampaignRepository

        async with self.sessions() as session:
            repo = CampaignRepository(session)
            campaign_id = await repo.current_id()
            campaign = await repo.get(campaign_id) if campaign_id is not None else None
            if campaign is None:
                return None
            return CampaignView(campaign.id, campaign.name, True, campaign.created_at)

    async def current_id(self) -> int | None:
        return await current_campaign_id(self.sessions)

    async def resolve(self, name: str | None) -> int | None:
        """A campaign name typed in a command → its id; no name → the current campaign (or
        ``None``); an unknown name → :class:`NotFound`."""
        from storage.repositories.campaigns import CampaignRepository

        name = " ".join((name or "").split())
        if not name:
            return await self.current_id()
        async with self.sessions() as session:
            campaign = await CampaignRepository(session).by_name(name)
        if campaign is None:
            raise NotFound("campaign.error.not_found", name=name)
        return campaign.id

    async def name_of(self, campaign_id: int | None) -> str | None:
        from storage.repositories.campaigns import CampaignRepository

        if campaign_id is None:
            return None
        async with self.sessions() as session:
            campaign = await CampaignRepository(session).get(campaign_id)
        return campaign.name if campaign is not None else None

    async def search(self, text: str = "") -> list[tuple[str, bool]]:
        """``(name, current)`` for autocompletion, the current campaign first."""
        from storage.repositories.campaigns import CampaignRepository

        async with self.sessions() as session:
            rows = await CampaignRepository(session).search(text.strip())
        return [(name, active) for _, name, active in rows]
