"""The moderators' calendar: plans (a poll later, a series, a recurring announcement), their
occurrences and the saved poll templates.

``CalendarRepository.claim_run`` inserts the (plan, occurrence) row with ``ON CONFLICT DO
NOTHING``: of two processes (or a run and its replay after a crash) only one gets the
occurrence — the primary key is the "exactly once" rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update

from storage.models import CalendarPlan, CalendarRun, Poll, PollTemplate
from storage.repositories._base import Repository
from storage.repositories._upsert import insert as upsert_insert
from storage.values import (  # noqa: F401 — re-exported: the statuses' old home
    PLAN_ACTIVE,
    PLAN_CANCELLED,
    PLAN_DONE,
    RUN_CLAIMED,
    RUN_FAILED,
    RUN_MISSED,
    RUN_POSTED,
    RUN_SENDING,
)


class CalendarRepository(Repository):
    async def get(self, plan_id: int) -> CalendarPlan | None:
        return await self.session.get(CalendarPlan, plan_id)

    async def active(self, *, guild_id: int | None = None, kind: str | None = None) -> list[CalendarPlan]:
        """The plans still to run, the soonest first."""
        stmt = select(CalendarPlan).where(CalendarPlan.status == PLAN_ACTIVE, CalendarPlan.next_at.is_not(None))
        if guild_id is not None:
            stmt = stmt.where(CalendarPlan.guild_id == guild_id)
        if kind is not None:
            stmt = stmt.where(CalendarPlan.kind == kind)
        return list(await self.session.scalars(stmt.order_by(CalendarPlan.next_at, CalendarPlan.id)))

    async def update(self, plan_id: int, frm: Sequence[str], **values: Any) -> bool:
        """Change a plan still in one of the statuses ``frm`` (a guarded write: False if not)."""
        result = await self.session.execute(
            update(CalendarPlan).where(CalendarPlan.id == plan_id, CalendarPlan.status.in_(frm)).values(**values)
        )
        return bool(result.rowcount)

    async def advance(self, plan_id: int, occurrence_at: datetime, following: datetime | None, now: datetime) -> bool:
        """Move an active plan from ``occurrence_at`` to its ``following`` occurrence (None:
        done); False when it is not at that occurrence any more (run elsewhere, postponed)."""
        values: dict[str, Any] = {"next_at": following, "updated_at": now}
        if following is None:
            values["status"] = PLAN_DONE
        result = await self.session.execute(
            update(CalendarPlan)
            .where(CalendarPlan.id == plan_id, CalendarPlan.status == PLAN_ACTIVE,
                   CalendarPlan.next_at == occurrence_at)
            .values(**values)
        )
        return bool(result.rowcount)

    async def claim_run(self, plan_id: int, occurrence_at: datetime, *, now: datetime) -> bool:
        """Claim one occurrence: True for the one caller whose insert went in."""
        stmt = upsert_insert(self.session, CalendarRun).values(
            plan_id=plan_id, occurrence_at=occurrence_at, status=RUN_CLAIMED, claimed_at=now
        )
        result = await self.session.execute(stmt.on_conflict_do_nothing())
        return bool(result.rowcount)

    async def finish_run(self, plan_id: int, occurrence_at: datetime, **values: Any) -> None:
        await self.session.execute(
            update(CalendarRun)
            .where(CalendarRun.plan_id == plan_id, CalendarRun.occurrence_at == occurrence_at)
            .values(**values)
        )

    async def mark_run(self, plan_id: int, occurrence_at: datetime, frm: Sequence[str], **values: Any) -> bool:
        """Change a run still in one of the statuses ``frm`` (a guarded write: False if not)."""
        result = await self.session.execute(
            update(CalendarRun)
            .where(CalendarRun.plan_id == plan_id, CalendarRun.occurrence_at == occurrence_at,
                   CalendarRun.status.in_(frm))
            .values(**values)
        )
        return bool(result.rowcount)

    async def run(self, plan_id: int, occurrence_at: datetime) -> CalendarRun | None:
        return await self.session.get(CalendarRun, (plan_id, occurrence_at))

    async def unfinished_runs(self, kind: str) -> list[CalendarRun]:
        """Occurrences claimed but not yet posted (``claimed``/``sending``) of ``kind`` plans:
        what a process killed between a claim and its post left to resume."""
        stmt = (
            select(CalendarRun)
            .join(CalendarPlan, CalendarPlan.id == CalendarRun.plan_id)
            .where(CalendarPlan.kind == kind, CalendarRun.status.in_((RUN_CLAIMED, RUN_SENDING)))
            .order_by(CalendarRun.claimed_at, CalendarRun.plan_id)
        )
        return list(await self.session.scalars(stmt))

    async def runs(self, plan_id: int) -> list[CalendarRun]:
        stmt = select(CalendarRun).where(CalendarRun.plan_id == plan_id).order_by(CalendarRun.occurrence_at)
        return list(await self.session.scalars(stmt))

    async def run_of_poll(self, poll_id: int) -> CalendarRun | None:
        return await self.session.scalar(select(CalendarRun).where(CalendarRun.poll_id == poll_id))

    async def series_polls(self, plan_id: int) -> list[tuple[datetime, Poll]]:
        """A series' polls with their occurrence, oldest first."""
        stmt = (
            select(CalendarRun.occurrence_at, Poll)
            .join(Poll, Poll.id == CalendarRun.poll_id)
            .where(CalendarRun.plan_id == plan_id)
            .order_by(CalendarRun.occurrence_at)
        )
        return [(row[0], row[1]) for row in await self.session.execute(stmt)]

    async def move_poll_deadline(self, poll_id: int, deadline: datetime, reminder: datetime | None) -> bool:
        """An open poll's closing postponed from the calendar (with its reminder)."""
        result = await self.session.execute(
            update(Poll).where(Poll.id == poll_id, Poll.status == "open")
            .values(deadline_at=deadline, reminder_at=reminder)
        )
        return bool(result.rowcount)

    async def by_author(self, author_id: int) -> list[CalendarPlan]:
        return list(await self.session.scalars(select(CalendarPlan).where(CalendarPlan.author_id == author_id)))

    async def unlink_author(self, author_id: int) -> int:
        result = await self.session.execute(
            update(CalendarPlan).where(CalendarPlan.author_id == author_id).values(author_id=None)
        )
        return int(result.rowcount or 0)


class TemplateRepository(Repository):
    async def get(self, guild_id: int, name: str) -> PollTemplate | None:
        return await self.session.scalar(
            select(PollTemplate).where(PollTemplate.guild_id == guild_id, PollTemplate.name == name)
        )

    async def save(self, guild_id: int, name: str, *, author_id: int | None, payload: dict[str, Any],
                   now: datetime) -> bool:
        """Insert or replace the template ``name``; True when it is new."""
        stmt = upsert_insert(self.session, PollTemplate).values(
            guild_id=guild_id, name=name, author_id=author_id, payload=payload, created_at=now
        )
        existing = await self.get(guild_id, name)
        await self.session.execute(stmt.on_conflict_do_update(
            index_elements=["guild_id", "name"],
            set_={"author_id": author_id, "payload": payload, "created_at": now},
        ))
        return existing is None

    async def all(self, guild_id: int) -> list[PollTemplate]:
        stmt = select(PollTemplate).where(PollTemplate.guild_id == guild_id).order_by(PollTemplate.name)
        return list(await self.session.scalars(stmt))

    async def delete(self, guild_id: int, name: str) -> bool:
        result = await self.session.execute(
            delete(PollTemplate).where(PollTemplate.guild_id == guild_id, PollTemplate.name == name)
        )
        return bool(result.rowcount)

    async def by_author(self, author_id: int) -> list[PollTemplate]:
        return list(await self.session.scalars(select(PollTemplate).where(PollTemplate.author_id == author_id)))

    async def unlink_author(self, author_id: int) -> int:
        result = await self.session.execute(
            update(PollTemplate).where(PollTemplate.author_id == author_id).values(author_id=None)
        )
        return int(result.rowcount or 0)
