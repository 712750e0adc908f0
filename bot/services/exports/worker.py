"""An export written in a worker process, so that the bot's event loop never waits for it.

A 1 M-answer export is seconds of Python work (rows, pseudonyms, local times, CSV/XLSX writing).
On the event loop it delays every vote arriving meanwhile; in a worker *thread* it still competes
for the GIL in 5 ms slices.  :func:`export_to_path_in_worker` runs :meth:`Exporter.export_to_path`
in a process of its own (``forkserver``: never a fork of the threaded bot, never a re-import of
its ``__main__``), on its own engine over the same database, and returns the same
:class:`ExportResult` — or raises the same :class:`~bot.errors.DomainError` (a key and its
parameters, rebuilt here: a domain error's keyword parameters do not survive pickling as they
are).  The process ends with the export, so its memory goes back.  ``bench/bench_loop.py``
measures the loop's lag with the export on the loop, in a thread and here.  The worker runs
in Linux's idle scheduling class (:mod:`bot.services.workers`): the bot's own
process takes the CPU from it the moment it wakes.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.errors import DomainError
from bot.services.workers import members_active, worker_pool

if TYPE_CHECKING:
    from bot.config import Config
    from bot.services.exports.exporter import Exporter
    from bot.services.exports.model import ExportRequest, ExportResult


async def export_to_path_in_worker(
    exporter: Exporter, request: ExportRequest, path: Path, *, max_bytes: int | None = None
) -> ExportResult:
    """:meth:`Exporter.export_to_path` in a worker process (no ``progress`` callback there)."""
    # The pseudonym key goes along by value: the worker descends from the fork server, whose
    # environment is the bot's at the first export, not now; nothing else of it is sent.
    name = exporter.config.privacy.pseudonym_secret_env
    environ = {name: exporter.environ[name]} if name in exporter.environ else {}
    pool = worker_pool()
    try:
        # submitted from a thread: the submission starts the worker process (a fork by the fork
        # server, which itself starts on the first export), tens of ms the loop must not wait
        future = await asyncio.to_thread(
            pool.submit, _export, exporter.config, environ, exporter.batch, request, str(path), max_bytes
        )
        outcome = await asyncio.wrap_future(future)
    finally:
        pool.shutdown(wait=False)
    if outcome[0] == "error":
        _, module, name, key, params = outcome
        error_type = getattr(importlib.import_module(module), name)
        error = error_type.__new__(error_type)
        DomainError.__init__(error, key, **params)
        raise error
    return outcome[1]


def _export(
    config: Config, environ: Mapping[str, str], batch: int, request: ExportRequest, path: str,
    max_bytes: int | None,
) -> tuple[Any, ...]:
    """In the worker: the export by the worker process's own services container (its own
    engine; the worker is a process of its own, so it builds its container once, as the bot
    does); a domain error as plain data."""
    from bot.services.container import Services

    async def run() -> ExportResult:
        services = Services.from_config(config)
        try:
            exporter = services.exports
            exporter.environ = environ
            exporter.batch = batch
            # the running bot's export: PostgreSQL's parallel workers run at normal priority,
            # outside this process's idle class, and took both CPUs from the votes (bench_loop on
            # 2 CPUs: vote p99 70-80 ms with them, 4.7 ms without, the export as fast either way)
            exporter.parallel = False
            # and a large one on PostgreSQL reads range by range, giving the server back to the
            # votes while members are active (bench_loop: vote p99 2-3 x idle in half the runs
            # with one sorted statement, its server process beside theirs)
            exporter.members_active = members_active
            return await exporter.export_to_path(request, Path(path), max_bytes=max_bytes)
        finally:
            await services.aclose()

    try:
        return ("ok", asyncio.run(run()))
    except DomainError as error:
        return ("error", type(error).__module__, type(error).__qualname__, error.key, error.params)
