"""Background work leaves the CPU to the bot (issue 15, item 2): the chart and export workers
run in the idle scheduling class (the same initializer as their pools, in a real forkserver
worker process), and the running bot's exports use no PostgreSQL parallel worker."""

from __future__ import annotations

import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor

import pytest

from bot.services.charts import background_priority


def _policy_and_nice() -> tuple[int, int]:
    return os.sched_getscheduler(0), os.nice(0)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's scheduling classes")
def test_a_worker_runs_in_the_idle_scheduling_class_and_the_bot_does_not():
    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("forkserver"), initializer=background_priority)
    try:
        policy, _ = pool.submit(_policy_and_nice).result(timeout=60)
    finally:
        pool.shutdown()
    assert policy == os.SCHED_IDLE
    assert os.sched_getscheduler(0) == os.SCHED_OTHER  # the calling process keeps its class


async def test_an_export_without_parallel_workers_sets_none_for_its_transaction(sessions, database_url):
    """The running bot's exports go without PostgreSQL's parallel workers (server processes at
    normal priority, outside the worker's idle class), for their own transaction only."""
    from sqlalchemy import text

    from storage.repositories.exports import ExportRepository

    if database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's parallel workers")
    async with sessions() as session:
        default = await session.scalar(text("SHOW max_parallel_workers_per_gather"))
        await ExportRepository(session).without_parallel_workers()
        assert await session.scalar(text("SHOW max_parallel_workers_per_gather")) == "0"
    async with sessions() as session:
        assert await session.scalar(text("SHOW max_parallel_workers_per_gather")) == default

