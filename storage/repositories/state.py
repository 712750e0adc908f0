from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select, text

from storage.models import BotState, NetworkChannel
from storage.repositories._base import Repository
from storage.repositories._upsert import insert as upsert_insert
from storage.values import (  # noqa: F401 — re-exported: the statuses' old home
    CHANNELS_MIRROR_LOCK,
)

# Several processes start together on one PostgreSQL database (issue 14): the channels' mirror
# is written by one at a time (a transaction-level advisory lock, this key).


class StateRepository(Repository):
    async def get(self, key: str) -> str | None:
        row = await self.session.get(BotState, key)
        return row.value if row else None

    async def set(self, key: str, value: str) -> None:
        """Insert or update (an upsert: two processes setting a new key at once both succeed)."""
        row = await self.session.get(BotState, key)
        if row is not None:
            row.value = value
            return
        stmt = upsert_insert(self.session, BotState).values(key=key, value=value)
        await self.session.execute(stmt.on_conflict_do_update(index_elements=[BotState.key], set_={"value": value}))


class ChannelRepository(Repository):
    """The network channels, mirrored from the config at start-up."""

    async def all(self, *, enabled_only: bool = True) -> list[NetworkChannel]:
        stmt = select(NetworkChannel).order_by(NetworkChannel.guild_id, NetworkChannel.channel_id)
        if enabled_only:
            stmt = stmt.where(NetworkChannel.enabled.is_(True))
        return list(await self.session.scalars(stmt))

    async def get(self, channel_id: int) -> NetworkChannel | None:
        return await self.session.get(NetworkChannel, channel_id)

    async def replace_all(self, channels: Iterable[NetworkChannel]) -> None:
        """Make the table equal to ``channels``; channels no longer configured are disabled
        (not deleted), so their delivery history stays readable."""
        if self.session.get_bind().dialect.name == "postgresql":  # one process at a time
            await self.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHANNELS_MIRROR_LOCK})
        wanted = {c.channel_id: c for c in channels}
        existing = {c.channel_id: c for c in await self.all(enabled_only=False)}
        for channel_id, row in existing.items():
            if channel_id not in wanted:
                row.enabled = False
        for channel_id, new in wanted.items():
            row = existing.get(channel_id)
            if row is None:
                self.session.add(new)
            else:
                row.guild_id, row.language, row.enabled = new.guild_id, new.language, True
                row.mention_role_id, row.name = new.mention_role_id, new.name

    async def delete_all(self) -> None:
        await self.session.execute(delete(NetworkChannel))
