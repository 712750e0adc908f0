"""Extracts, announcements and their deliveries (the outbox).

``DeliveryRepository.create_pending`` writes one ``pending`` row per target channel with
``INSERT … ON CONFLICT DO NOTHING``: the unique constraints on (extract, channel) and
(announcement, channel) make a second publish of the same thing a no-op in the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, select, update

from storage.models import Announcement, Delivery, Extract, FollowupPosting, Poll
from storage.repositories._base import Repository
from storage.repositories._upsert import insert as upsert_insert
from storage.values import (  # noqa: F401 — re-exported: the statuses' old home
    ANNOUNCEMENT_CANCELLED,
    ANNOUNCEMENT_DRAFT,
    ANNOUNCEMENT_MISSED,
    ANNOUNCEMENT_PUBLISHED,
    ANNOUNCEMENT_SCHEDULED,
    ANNOUNCEMENT_WITHDRAWN,
    DELIVERY_FAILED,
    DELIVERY_PENDING,
    DELIVERY_SENT,
    DELIVERY_WITHDRAWN,
    EXTRACT_PUBLISHED,
    EXTRACT_QUEUED,
    EXTRACT_SKIPPED,
)

SAVE_CREATED, SAVE_REPLACED, SAVE_KEPT = "created", "replaced", "kept"  # ExtractRepository.save


class ExtractRepository(Repository):
    async def followups_due(self) -> list[tuple[Extract, Delivery]]:
        """Sent deliveries of extracts that carry a follow-up question, in channels where that
        question is not claimed yet (:meth:`claim_followup`) and has no poll."""
        has_poll = (
            select(Poll.id)
            .where(Poll.extract_id == Extract.id, Poll.channel_id == Delivery.channel_id)
            .exists()
        )
        claimed = (
            select(FollowupPosting.extract_id)
            .where(FollowupPosting.extract_id == Extract.id, FollowupPosting.channel_id == Delivery.channel_id)
            .exists()
        )
        stmt = (
            select(Extract, Delivery)
            .join(Delivery, Delivery.extract_id == Extract.id)
            .where(Delivery.status == "sent", Extract.question.is_not(None), Extract.question != "",
                   ~claimed, ~has_poll)
            .order_by(Delivery.id)
        )
        return [(row[0], row[1]) for row in await self.session.execute(stmt)]

    async def claim_followup(self, extract_id: int, channel_id: int, *, now: datetime) -> bool:
        """Claim the posting of the extract's follow-up in the channel: True for the one caller
        whose insert went in (the primary key refuses every other, in any process)."""
        stmt = upsert_insert(self.session, FollowupPosting).values(
            extract_id=extract_id, channel_id=channel_id, claimed_at=now
        )
        result = await self.session.execute(stmt.on_conflict_do_nothing())
        return bool(result.rowcount)

    async def release_followup(self, extract_id: int, channel_id: int) -> None:
        """The posting failed: the follow-up is due again in that channel."""
        await self.session.execute(
            delete(FollowupPosting).where(
                FollowupPosting.extract_id == extract_id, FollowupPosting.channel_id == channel_id,
                FollowupPosting.poll_id.is_(None),
            )
        )

    async def followup_posted(self, extract_id: int, channel_id: int, poll_id: int) -> None:
        await self.session.execute(
            update(FollowupPosting)
            .where(FollowupPosting.extract_id == extract_id, FollowupPosting.channel_id == channel_id)
            .values(poll_id=poll_id)
        )

    async def get(self, extract_id: int) -> Extract | None:
        return await self.session.get(Extract, extract_id)

    async def by_source_key(self, source_key: str) -> Extract | None:
        return await self.session.scalar(select(Extract).where(Extract.source_key == source_key))

    async def save(self, source_key: str, values: dict[str, Any]) -> tuple[Extract, str]:
        """Store a source's extract: ``(extract, SAVE_CREATED)`` when the source is new,
        ``SAVE_REPLACED`` when its extract was still queued (rewritten), ``SAVE_KEPT`` when its
        extract has left the queue — published, being published (it has deliveries) or
        skipped — and is returned unchanged: a posted extract is never rewritten.  The status
        is checked by the UPDATE itself, so a slot publishing the extract meanwhile (another
        transaction, another process) wins and the import keeps its hands off."""
        row = await self.by_source_key(source_key)
        if row is None:
            row = Extract(source_key=source_key, **values)
            self.session.add(row)
            await self.session.flush()
            return row, SAVE_CREATED
        delivered = select(Delivery.id).where(Delivery.extract_id == Extract.id).exists()
        result = await self.session.execute(
            update(Extract)
            .where(Extract.id == row.id, Extract.status == EXTRACT_QUEUED, ~delivered)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        row = await self.session.scalar(
            select(Extract).where(Extract.id == row.id).execution_options(populate_existing=True)
        )
        assert row is not None
        return row, SAVE_REPLACED if result.rowcount == 1 else SAVE_KEPT

    async def queue(self, *, lang: str | None = None) -> list[Extract]:
        """Queued extracts, by month then id (the order the monthly slot takes them)."""
        stmt = select(Extract).where(Extract.status == EXTRACT_QUEUED)
        if lang is not None:
            stmt = stmt.where(Extract.lang == lang)
        stmt = stmt.order_by(Extract.month.asc().nulls_last(), Extract.id.asc())
        return list(await self.session.scalars(stmt))

    async def all(self) -> list[Extract]:
        stmt = select(Extract).order_by(Extract.month.asc().nulls_last(), Extract.id.asc())
        return list(await self.session.scalars(stmt))

    async def next_queued(self, *, lang: str | None = None) -> Extract | None:
        queue = await self.queue(lang=lang)
        return queue[0] if queue else None

    async def in_month(self, month: str, *, statuses: Sequence[str]) -> list[Extract]:
        stmt = (
            select(Extract)
            .where(Extract.month == month, Extract.status.in_(statuses))
            .order_by(Extract.lang, Extract.id)
        )
        return list(await self.session.scalars(stmt))

    async def taken_months(self, lang: str) -> set[str]:
        """Months that already have a queued or published extract in ``lang``."""
        stmt = select(Extract.month).where(
            Extract.lang == lang,
            Extract.month.is_not(None),
            Extract.status.in_((EXTRACT_QUEUED, EXTRACT_PUBLISHED)),
        )
        return {m for m in await self.session.scalars(stmt) if m}

    async def next_free_month(self, lang: str, start: str, *, also_taken: Iterable[str] = ()) -> str:
        """The first month from ``start`` (``YYYY-MM``) without a queued or published extract in
        ``lang`` (``also_taken``: months being assigned in the same import)."""
        taken = await self.taken_months(lang) | set(also_taken)
        year, month = int(start[:4]), int(start[5:7])
        while f"{year:04d}-{month:02d}" in taken:
            month += 1
            if month == 13:
                year, month = year + 1, 1
        return f"{year:04d}-{month:02d}"

    async def mark_published(self, extract_id: int, at: datetime) -> None:
        await self.session.execute(
            update(Extract).where(Extract.id == extract_id).values(status=EXTRACT_PUBLISHED, published_at=at)
        )


class AnnouncementRepository(Repository):
    async def get(self, announcement_id: int) -> Announcement | None:
        return await self.session.get(Announcement, announcement_id)

    async def scheduled(self, *, guild_id: int | None = None) -> list[Announcement]:
        stmt = select(Announcement).where(Announcement.status == ANNOUNCEMENT_SCHEDULED)
        if guild_id is not None:
            stmt = stmt.where(Announcement.guild_id == guild_id)
        return list(await self.session.scalars(stmt.order_by(Announcement.scheduled_at, Announcement.id)))

    async def transition(self, announcement_id: int, frm: Sequence[str], to: str, **values: Any) -> bool:
        """Move the announcement from one of ``frm`` to ``to``; False if it was not in ``frm``
        (a concurrent click, a second scheduler run): the caller then does nothing."""
        result = await self.session.execute(
            update(Announcement)
            .where(Announcement.id == announcement_id, Announcement.status.in_(frm))
            .values(status=to, **values)
        )
        return result.rowcount == 1


class DeliveryRepository(Repository):
    async def create_pending(self, rows: Sequence[dict[str, Any]]) -> list[int]:
        """One INSERT … ON CONFLICT DO NOTHING for every target; returns the ids of the rows that
        were new (a target that already has a row, whatever its status, is left alone)."""
        if not rows:
            return []
        stmt = upsert_insert(self.session, Delivery).values(list(rows)).on_conflict_do_nothing().returning(Delivery.id)
        return list(await self.session.scalars(stmt))

    async def get(self, delivery_id: int) -> Delivery | None:
        return await self.session.get(Delivery, delivery_id)

    async def pending(
        self, *, extract_id: int | None = None, announcement_id: int | None = None
    ) -> list[Delivery]:
        return await self._with_status(DELIVERY_PENDING, extract_id, announcement_id)

    async def failed(self, *, extract_id: int | None = None, announcement_id: int | None = None) -> list[Delivery]:
        return await self._with_status(DELIVERY_FAILED, extract_id, announcement_id)

    async def _with_status(
        self, status: str, extract_id: int | None, announcement_id: int | None
    ) -> list[Delivery]:
        """The deliveries in ``status``, of one extract or announcement when given, in order."""
        stmt = select(Delivery).where(Delivery.status == status)
        if extract_id is not None:
            stmt = stmt.where(Delivery.extract_id == extract_id)
        if announcement_id is not None:
            stmt = stmt.where(Delivery.announcement_id == announcement_id)
        return list(await self.session.scalars(stmt.order_by(Delivery.id)))

    async def for_source(self, *, extract_id: int | None = None, announcement_id: int | None = None) -> list[Delivery]:
        if extract_id is not None:
            stmt = select(Delivery).where(Delivery.extract_id == extract_id)
        else:
            stmt = select(Delivery).where(Delivery.announcement_id == announcement_id)
        return list(await self.session.scalars(stmt.order_by(Delivery.id)))

    async def set_pending_status(self, announcement_id: int, status: str) -> int:
        """Give an announcement's rows not sent yet another status (a withdrawal: never sent)."""
        result = await self.session.execute(
            update(Delivery)
            .where(Delivery.announcement_id == announcement_id, Delivery.status == DELIVERY_PENDING)
            .values(status=status)
        )
        return int(result.rowcount or 0)

    async def mark_withdrawn(self, delivery_ids: Sequence[int]) -> int:
        """Sent rows whose message a withdrawal deleted: ``withdrawn`` (message id and time kept)."""
        if not delivery_ids:
            return 0
        result = await self.session.execute(
            update(Delivery)
            .where(Delivery.id.in_(list(delivery_ids)), Delivery.status == DELIVERY_SENT)
            .values(status=DELIVERY_WITHDRAWN)
        )
        return int(result.rowcount or 0)

    async def counts(self, *, extract_id: int | None = None, announcement_id: int | None = None) -> dict[str, int]:
        column = Delivery.extract_id if extract_id is not None else Delivery.announcement_id
        wanted = extract_id if extract_id is not None else announcement_id
        stmt = select(Delivery.status, func.count()).where(column == wanted).group_by(Delivery.status)
        return {status: count for status, count in (await self.session.execute(stmt)).all()}

    async def claim(self, delivery_id: int) -> int | None:
        """Count one more attempt on a pending row, before anything is sent.

        Returns the number of attempts made *before* this one (0: nothing can have been sent
        yet), or None when the row is no longer pending (another sender finished it) or another
        process is claiming it this very moment (``FOR UPDATE SKIP LOCKED``: skipped, not waited
        for; on SQLite, where writers are serialised, the row is simply read)."""
        row = (await self.session.execute(
            select(Delivery).where(Delivery.id == delivery_id).with_for_update(skip_locked=True)
        )).scalar_one_or_none()
        if row is None or row.status != DELIVERY_PENDING:
            return None
        before = row.attempts
        row.attempts = before + 1
        return before

    async def mark_sent(self, delivery_id: int, message_id: int, at: datetime) -> bool:
        """The row sent, if it is still pending; False when it changed meanwhile (its
        announcement withdrawn while the message was on its way)."""
        result = await self.session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id, Delivery.status == DELIVERY_PENDING)
            .values(status=DELIVERY_SENT, message_id=message_id, sent_at=at, error=None)
        )
        return result.rowcount == 1

    async def status(self, delivery_id: int) -> str | None:
        return await self.session.scalar(select(Delivery.status).where(Delivery.id == delivery_id))

    async def mark_failed(self, delivery_id: int, reason: str) -> None:
        await self.session.execute(
            update(Delivery)
            .where(and_(Delivery.id == delivery_id, Delivery.status == DELIVERY_PENDING))
            .values(status=DELIVERY_FAILED, error=reason)
        )

    async def note_error(self, delivery_id: int, reason: str) -> None:
        """A transient failure: the row stays pending (retried later) with the last error."""
        await self.session.execute(update(Delivery).where(Delivery.id == delivery_id).values(error=reason))
