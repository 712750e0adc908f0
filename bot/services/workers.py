"""The bot's worker processes (charts, exports): started by one fork server that runs in the idle
scheduling class, so that each worker is in that class from its first instruction.

A worker used to switch to the idle class in its pool's initializer, after the fork server had
forked it and it had unpickled its start-up data and imported its modules: tens of milliseconds
at the bot's priority, at each export, and the fork server's own start (a Python interpreter and
its imports, at the first chart or export) wholly so.  ``bench/bench_loop.py`` under ``perf
sched`` showed votes waiting behind exactly those (a scheduler tick, 4 ms, each time).  The fork
server now imports :mod:`bot.services.idle_process` right after the main module, which puts it in
the idle class, and Linux hands a process's class down to the processes it forks.  The
initializer stays: a fork server started earlier by someone else (a test, a library) keeps its
own class, and the worker still ends up in the idle one.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from bot.services import idle_cgroup

#: What the fork server imports when it starts: the main module (multiprocessing's default, which
#: it always imports first: functions defined there can be sent, and each worker finds it already
#: imported), then the module that lowers its priority.  (Without the main module the server is in
#: the idle class sooner, but each worker imports it again: bench_loop on SQLite, 1.86 and 1.19
#: against 0.87 and 1.01, the exports slower.)
FORK_SERVER_PRELOAD = ["__main__", "bot.services.idle_process"]


def background_priority() -> None:
    """Run only on CPU time the bot's process leaves (Linux ``SCHED_IDLE``: the bot's event loop,
    waking for a click, takes the CPU from the worker at once — with ``nice`` alone it waited
    for the scheduler's next turn, milliseconds on a busy machine); elsewhere, or where that is
    refused, ``nice`` 10.  And in the bot's idle CPU group where it made one
    (:mod:`bot.services.idle_cgroup`), so that the database server's processes take the CPU from
    the worker at once too.  An idle-class task still gets a sliver of the CPU when everything
    else is busy, so a drawing or an export is slowed by a saturated machine, never stopped."""
    idle_cgroup.join()  # the idle CPU group the bot made, if it could (bot.services.idle_cgroup)
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        return
    except (AttributeError, OSError):  # not Linux, or not permitted
        pass
    try:
        os.nice(10)
    except OSError:  # not permitted here: the worker runs at the bot's priority
        pass


#: Members count as active this long after their last interaction with the bot.
ACTIVE_SECONDS = 0.5

#: When a member last interacted with the bot (``time.monotonic()``, the same clock in every
#: process of the machine), in memory shared with the workers: made by the bot's process with its
#: first pool, handed to each worker as it starts.  The bot writes it (:func:`touch_members`),
#: a worker reads it (:func:`members_active`: a large export gives the database back meanwhile).
_stamp: Any = None


def touch_members() -> None:
    """A member is interacting with the bot now (the bot's process, at each interaction)."""
    if _stamp is not None:
        _stamp.value = time.monotonic()


def members_active() -> bool:
    """Whether a member interacted with the bot in the last ``ACTIVE_SECONDS`` (in a worker)."""
    return _stamp is not None and time.monotonic() - _stamp.value < ACTIVE_SECONDS


def _start_worker(stamp: Any) -> None:
    global _stamp
    _stamp = stamp
    background_priority()


def worker_pool() -> ProcessPoolExecutor:
    """A one-process pool on the idle-class fork server (``forkserver``, never ``fork``: the
    bot's process has threads — aiosqlite's, the loop's executor —; and not ``spawn``, which
    would re-import the bot's ``__main__``, ``bot.cli`` and all, in each worker)."""
    global _stamp
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(FORK_SERVER_PRELOAD)  # read when the fork server starts
    if _stamp is None:
        _stamp = context.RawValue("d", 0.0)
    return ProcessPoolExecutor(max_workers=1, mp_context=context, initializer=_start_worker, initargs=(_stamp,))
