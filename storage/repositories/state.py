from __future__ import annotations

from sqlalchemy import delete, select

from storage.models import BotState, NetworkChannel
from storage.repositories._base import Repository
from storage.repositories._upsert import insert as upsert_insert


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
    """The network channels (mirrored from the config by ``Services.mirror_channels``)."""

    async def all(self, *, enabled_only: bool = True) -> list[NetworkChannel]:
        stmt = select(NetworkChannel).order_by(NetworkChannel.guild_id, NetworkChannel.channel_id)
        if enabled_only:
            stmt = stmt.where(NetworkChannel.enabled.is_(True))
        return list(await self.session.scalars(stmt))

    async def get(self, channel_id: int) -> NetworkChannel | None:
        return await self.session.get(NetworkChannel, channel_id)

    async def delete_all(self) -> None:
        await self.session.execute(delete(NetworkChannel))
