"""The pages' shared read cache (web/cache.py): concurrent misses share one read, a fresh value
is served as it is, a stale one is served while one read refreshes it, a failure reaches its
readers and is not kept, and clearing it makes the next read go to the source."""

from __future__ import annotations

import asyncio

import pytest

from web.cache import ReadCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_single_flight_fresh_stale_and_clear():
    clock, reads = Clock(), []
    cache = ReadCache(ttl=2.0, clock=clock)
    gate = asyncio.Event()

    async def load():
        reads.append(clock.now)
        await gate.wait()
        return len(reads)

    waiting = [asyncio.create_task(cache.get("k", load)) for _ in range(50)]
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*waiting) == [1] * 50 and len(reads) == 1  # one read for fifty
    clock.now = 1.0
    assert await cache.get("k", load) == 1 and len(reads) == 1  # fresh
    clock.now = 2.5
    assert await cache.get("k", load) == 1  # stale: served, refreshed behind
    await asyncio.sleep(0.01)
    assert len(reads) == 2 and await cache.get("k", load) == 2
    clock.now = 10.0  # too old to serve: read again, waiting for it
    assert await cache.get("k", load) == 3
    cache.clear()
    assert await cache.get("k", load) == 4


async def test_a_failed_read_reaches_every_waiter_and_is_not_kept():
    cache = ReadCache(clock=Clock())
    calls = []

    async def broken():
        calls.append(1)
        await asyncio.sleep(0)
        raise RuntimeError("database down")

    results = await asyncio.gather(*(cache.get("k", broken) for _ in range(3)), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results) and len(calls) == 1
    with pytest.raises(RuntimeError):
        await cache.get("k", broken)
    assert len(calls) == 2
