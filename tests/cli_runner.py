"""Run ``reseau-bot`` in the test's own process: same ``bot.cli.main`` as the console script,
without the second or so a new interpreter spends importing discord.py and SQLAlchemy.

Tests that are about the process itself — a signal, a closed pipe, the interpreter's own
traceback, a SIGKILL mid-fan-out, ``run`` against a gateway — keep running it as a subprocess.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import io
import logging
import os
from dataclasses import dataclass
from pathlib import Path

#: What a subprocess of the suite would not inherit from the developer's shell.
DROPPED_ENV = ("DISCORD_TOKEN", "RESEAU_DATABASE_URL")


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Result:
    """``reseau-bot ARGS`` in ``cwd`` with ``env`` added to the environment; everything the
    command changes in the process (environment, working folder, logging) is put back.

    Called from a coroutine (an async test), the command runs in a thread of its own, as the
    CLI's ``asyncio.run`` needs a thread without a running loop; the caller's loop waits."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _run(args, cwd, env)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(_run, args, cwd, env).result()


def _run(args: tuple[str, ...], cwd: Path, env: dict[str, str] | None) -> Result:
    from bot.cli import main

    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    saved_levels = {name: logging.getLogger(name).level for name in ("discord", "apscheduler", "httpx", "alembic")}
    out, err = io.StringIO(), io.StringIO()
    try:
        for name in DROPPED_ENV:
            os.environ.pop(name, None)
        os.environ.update(env or {})
        os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse: --help (0) or bad usage (2)
                code = exc.code if isinstance(exc.code, int) else 1
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        for name, level in saved_levels.items():
            logging.getLogger(name).setLevel(level)
    return Result(code, out.getvalue(), err.getvalue())
