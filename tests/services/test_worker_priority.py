"""The chart and export workers run on the CPU the bot leaves (issue 15, item 2): the same
initializer as their pools, in a real forkserver worker process."""

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
