"""Background work leaves the CPU to the bot (issue 15, item 2): the chart and export workers
run in the idle scheduling class (the same initializer as their pools, in a real forkserver
worker process), and the running bot's exports use no PostgreSQL parallel worker."""

from __future__ import annotations

import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor

import pytest

from bot.services.workers import background_priority


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


_FRESH_PROCESS = """
import os
from bot.services.workers import worker_pool

def parent_and_self():
    return os.sched_getscheduler(os.getppid()), os.sched_getscheduler(0)

if __name__ == "__main__":
    pool = worker_pool()
    try:
        print(*pool.submit(parent_and_self).result(timeout=60))
    finally:
        pool.shutdown()
    print(os.sched_getscheduler(0))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's scheduling classes")
def test_the_workers_fork_server_is_in_the_idle_class_so_workers_are_from_birth(tmp_path):
    """The fork server the bot's pools start (in a fresh process: a test process may have
    started one already) runs in the idle class, so a worker it forks never runs a moment at the
    bot's priority; the bot's own process keeps its class."""
    import subprocess
    from pathlib import Path

    script = tmp_path / "fresh.py"
    script.write_text(_FRESH_PROCESS)
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(repo), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    server, worker, bot = (int(word) for word in done.stdout.split())
    assert server == os.SCHED_IDLE
    assert worker == os.SCHED_IDLE
    assert bot == os.SCHED_OTHER


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

