"""One small repository per aggregate.  Each takes an ``AsyncSession``; the service owns the
transaction (``async with sessions.begin() as session``).  Nothing outside ``storage`` writes SQL."""

from storage.repositories.audit import AuditRepository
from storage.repositories.state import ChannelRepository, StateRepository

__all__ = ["AuditRepository", "ChannelRepository", "StateRepository"]
