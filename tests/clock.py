"""One hand-driven clock for the tests (the ``clock`` fixture in tests/conftest.py).

Services take ``clock: Callable[[], datetime]``; a ``ManualClock`` is such a callable, and the
test moves it on: ``clock.set(when)``, ``clock.advance(timedelta(hours=1))``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday morning, the tests' "now"


class ManualClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime = START) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def __call__(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now

    def __repr__(self) -> str:
        return f"ManualClock({self._now.isoformat()})"
