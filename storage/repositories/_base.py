"""What every repository shares: the session it works in (the service owns the transaction)."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Base

RecordT = TypeVar("RecordT", bound=Base)


class Repository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, record: RecordT) -> RecordT:
        """Add a new record to the session (written at the next flush) and return it."""
        self.session.add(record)
        return record
