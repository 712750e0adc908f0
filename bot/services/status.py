"""What moderators (``/status``) and operators see about the deployment."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage.db import current_revision
from storage.repositories import ChannelRepository


@dataclass(frozen=True)
class StatusReport:
    backend: str
    revision: str
    channels_here: list[tuple[int, str]]


async def report(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], *, guild_id: int | None
) -> StatusReport:
    async with sessions() as session:
        channels = await ChannelRepository(session).all()
    return StatusReport(
        backend=engine.dialect.name,
        revision=await current_revision(engine) or "-",
        channels_here=[(c.channel_id, c.language) for c in channels if c.guild_id == guild_id],
    )
