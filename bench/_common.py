"""What every benchmark shares, so that its figures can be trusted and compared (issue 15, item 5).

* :func:`machine` — one line naming the machine the figures come from (CPUs, load, Python,
  SQLite library and command-line tool, PostgreSQL server/client): a ratio means little without it.
* :func:`interleaved` — runs each side of a comparison ``runs`` times (default 3), *interleaved*
  (A, B, A, B, …), and keeps the median of each side: a busy machine (2 CPUs shared by several
  people) then weighs on both sides alike instead of on whichever ran during the burst.
* :func:`ratio_line` — the one format a benchmark's verdict is printed in::

      ratio <name> <value> (target <value>)

  ``grep '^ratio '`` over the outputs gives the table of the README.

Nothing here is a test and nothing is timed in the suite; the ratios are computed against a floor
measured in the same run, on the same machine.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import sqlite3
import statistics
import subprocess
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def this_month(timezone: str = "Europe/Paris") -> str:
    """The month the bot's schedule is in now (``YYYY-MM``), in the network's time zone (the
    default ``bot.timezone``) and not the machine's: the month of a UTC clock is still the last
    one for an hour or two on the evening a month ends in Paris, and a run then prepared last
    month's extract for a bot that posts this month's."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from bot.services.extracts import month_of

    return month_of(datetime.now(UTC), ZoneInfo(timezone))


DEFAULT_RUNS = 3


def _tool_version(*cmd: str) -> str | None:
    if shutil.which(cmd[0]) is None:
        return None
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return out.split()[0] if cmd[0] == "sqlite3" and out else (out or None)


def machine(pg_server_version: str | None = None) -> str:
    """One line describing where the figures come from.  ``pg_server_version``: the server's own
    ``SHOW server_version`` when the benchmark talks to one (else the ``psql`` client's version)."""
    try:
        load = "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        load = "load ?"
    parts = [
        f"{platform.machine()}",
        f"{os.cpu_count()} CPU(s)",
        load,
        f"Python {platform.python_version()}",
        f"SQLite {sqlite3.sqlite_version} (sqlite3 CLI {_tool_version('sqlite3', '--version') or 'absent'})",
    ]
    try:  # the kernel's task groups per session, which decide how PostgreSQL's backends and the
        # bot's idle-class workers share the CPU (README, section PostgreSQL)
        with open("/proc/sys/kernel/sched_autogroup_enabled") as fh:
            parts.append(f"autogroups {'on' if fh.read().strip() == '1' else 'off'}")
    except OSError:
        pass
    if pg_server_version:
        parts.append(f"PostgreSQL server {pg_server_version}")
    psql = _tool_version("psql", "--version")
    version = re.search(r"\d+(\.\d+)+", psql or "")
    parts.append(f"psql {version[0] if version else 'absent'}")
    return "machine: " + ", ".join(parts)


def print_machine(pg_server_version: str | None = None) -> None:
    print(machine(pg_server_version), flush=True)


def interleaved(sides: Sequence[tuple[str, Callable[[], T]]], runs: int = DEFAULT_RUNS) -> dict[str, list[T]]:
    """Run every side ``runs`` times, in turn (A, B, A, B, …); returns each side's results in order."""
    results: dict[str, list[T]] = {name: [] for name, _ in sides}
    for _ in range(runs):
        for name, run in sides:
            results[name].append(run())
    return results


async def interleaved_async(sides, runs: int = DEFAULT_RUNS) -> dict[str, list]:
    """:func:`interleaved` for coroutine functions."""
    results: dict[str, list] = {name: [] for name, _ in sides}
    for _ in range(runs):
        for name, run in sides:
            results[name].append(await run())
    return results


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0–100) of ``values``."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def ratio_line(name: str, value: float, target: float | str, *, lower_is_better: bool = True) -> str:
    """``ratio <name> <value> (target <value>)``, with a PASS/FAIL word after it."""
    if isinstance(target, str):
        return f"ratio {name} {value:.2f} (target {target})"
    ok = value <= target if lower_is_better else value >= target
    sign = "≤" if lower_is_better else "≥"
    return f"ratio {name} {value:.2f} (target {sign} {target:g}) {'PASS' if ok else 'FAIL'}"


def print_ratio(name: str, value: float, target: float | str, *, lower_is_better: bool = True) -> str:
    line = ratio_line(name, value, target, lower_is_better=lower_is_better)
    print(line, flush=True)
    return line
