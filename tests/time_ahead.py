"""Times ahead of the real clock for the calendar's SimCord tests.

APScheduler compares its jobs' run dates with the wall clock (SimCord's virtual time does not
drive it): a job dated before the real now would fire by itself.  So the tests' "now" is a
few days ahead of the real one, at a round local time, and they move the bot's clock by hand."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")


def _local(day_offset: int, at_: time) -> datetime:
    day = (datetime.now(PARIS) + timedelta(days=day_offset)).date()
    return datetime.combine(day, at_, tzinfo=PARIS).astimezone(UTC)


NOW = _local(7, time(8, 0))  # the tests' "now": a week ahead, 08:00 in Paris
SOON = _local(9, time(9, 30))  # two days after NOW, 09:30 in Paris


def at(when: datetime) -> Callable[[], datetime]:
    """A clock stopped at ``when``."""
    return lambda: when


def local_text(when: datetime) -> str:
    """``YYYY-MM-DD HH:MM`` in Paris, as moderators type and read it."""
    return when.astimezone(PARIS).strftime("%Y-%m-%d %H:%M")
