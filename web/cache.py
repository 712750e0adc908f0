"""A short-lived, shared cache of what the pages read: many moderators (or one impatient one)
asking for the same page at once cost one set of queries, and the counts shown are at most
``ttl`` seconds old (plus one read's time: past ``ttl`` the value is served while one read
refreshes it in the background).  Concurrent misses on one key wait for the same read ("single
flight").  Writes made through the dashboard clear it, so a moderator sees their own change at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

DEFAULT_TTL = 2.0
MAX_ENTRIES = 512


class ReadCache:
    def __init__(self, ttl: float = DEFAULT_TTL, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._values: dict[Hashable, tuple[float, Any]] = {}
        self._flights: dict[Hashable, asyncio.Future[Any]] = {}
        self._refreshing: set[asyncio.Task[Any]] = set()

    async def get(self, key: Hashable, load: Callable[[], Awaitable[Any]]) -> Any:
        now = self.clock()
        hit = self._values.get(key)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        flight = self._flights.get(key)
        if hit is not None and now - hit[0] < 2 * self.ttl:  # stale: serve it, refresh behind
            if flight is None:
                task = asyncio.get_running_loop().create_task(self._read(key, load, self._take_off(key)))
                self._refreshing.add(task)
                task.add_done_callback(self._refreshed)
            return hit[1]
        if flight is not None:
            return await asyncio.shield(flight)
        return await self._read(key, load, self._take_off(key))

    def _take_off(self, key: Hashable) -> asyncio.Future[Any]:
        """Claim the key's read now (synchronously), so that no second read starts meanwhile."""
        flight = asyncio.get_running_loop().create_future()
        self._flights[key] = flight
        return flight

    def _refreshed(self, task: asyncio.Task[Any]) -> None:
        self._refreshing.discard(task)
        if not task.cancelled():
            task.exception()  # a failed refresh: the next request reads (and reports) it itself

    async def _read(self, key: Hashable, load: Callable[[], Awaitable[Any]], flight: asyncio.Future[Any]) -> Any:
        try:
            value = await load()
        except BaseException as exc:
            flight.set_exception(exc)
            flight.exception()  # retrieved: a failure with no other waiter is not logged as lost
            raise
        else:
            flight.set_result(value)
            if len(self._values) >= MAX_ENTRIES:
                self._values.clear()
            self._values[key] = (self.clock(), value)
            return value
        finally:
            self._flights.pop(key, None)

    def clear(self) -> None:
        self._values.clear()
