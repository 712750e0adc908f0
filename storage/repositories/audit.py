from __future__ import annotations

from typing import Any

from sqlalchemy import select

from storage.models import AuditEntry
from storage.repositories._base import Repository


class AuditRepository(Repository):
    def record(
        self,
        action: str,
        *,
        actor_id: int | None,
        target_type: str = "",
        target_id: str | int = "",
        guild_id: int | None = None,
        channel_id: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> AuditEntry:
        entry = AuditEntry(
            action=action,
            actor_id=actor_id,
            target_type=target_type,
            target_id=str(target_id),
            guild_id=guild_id,
            channel_id=channel_id,
            details=details or {},
        )
        self.session.add(entry)
        return entry

    async def latest(self, limit: int = 50) -> list[AuditEntry]:
        stmt = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
        return list(await self.session.scalars(stmt))
