"""The ``/forget-me`` tombstones: keyed hashes of forgotten members (never their ids), and the
keys of the privacy features, kept in ``bot_state`` (each created once, when first needed): the
tombstones' key and the key of the anonymous polls' respondent pseudonyms."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select

from storage.models import BotState, ForgottenMember
from storage.repositories._base import Repository
from storage.repositories._upsert import insert as upsert_insert
from storage.values import (  # noqa: F401 — re-exported: the statuses' old home
    ANSWER_KEY,
    TOMBSTONE_KEY,
)


class ForgottenRepository(Repository):
    async def key(self, name: str = TOMBSTONE_KEY) -> str | None:
        return await self.session.scalar(select(BotState.value).where(BotState.key == name))

    async def create_key(self, value: str, *, now: datetime, name: str = TOMBSTONE_KEY) -> str:
        """Store ``value`` as the key ``name`` unless one exists (two processes creating it at
        once keep one key: the primary key decides); the key stored."""
        stmt = upsert_insert(self.session, BotState).values(key=name, value=value, updated_at=now)
        await self.session.execute(stmt.on_conflict_do_nothing(index_elements=[BotState.key]))
        return await self.key(name) or value

    async def record(self, member_hash: str, *, now: datetime) -> None:
        """The member is forgotten as of ``now`` (a later forgetting moves the time on)."""
        stmt = upsert_insert(self.session, ForgottenMember).values(member_hash=member_hash, forgotten_at=now)
        stmt = stmt.on_conflict_do_update(
            index_elements=[ForgottenMember.member_hash], set_={"forgotten_at": stmt.excluded.forgotten_at}
        )
        await self.session.execute(stmt)

    async def forgotten_at(self, member_hashes: Iterable[str]) -> dict[str, datetime]:
        """member hash → when that member was last forgotten, for the hashes that are tombstones."""
        hashes = list(dict.fromkeys(member_hashes))
        found: dict[str, datetime] = {}
        for start in range(0, len(hashes), 500):
            stmt = select(ForgottenMember.member_hash, ForgottenMember.forgotten_at).where(
                ForgottenMember.member_hash.in_(hashes[start : start + 500])
            )
            found.update({h: at for h, at in await self.session.execute(stmt)})
        return found

    async def count(self) -> int:
        return int(await self.session.scalar(select(func.count()).select_from(ForgottenMember)) or 0)
