"""An idle CPU group for the bot's workers (issue 15, item 2), where the process may make one.

The workers (charts, exports) run in Linux's idle scheduling class (:mod:`bot.services.workers`),
which gives way at once to the bot's own threads.  It does not give way to PostgreSQL's server
processes: the kernel schedules *groups* first (autogroups: one per session, or control groups),
and a group running only idle-class work still weighs as much as the database server's group,
so a vote's backend waking on a CPU where a worker drew a chart waited for the scheduler's next
tick (4 ms) — ``bench/bench_loop.py`` on PostgreSQL: vote p99 3.4–3.9 × idle with charts alone,
0.94 once the workers sat in a control group whose ``cpu.idle`` is 1 (the group itself idle).

:func:`prepare` makes that group below the process's own CPU control group and names it in
``$RESEAU_WORKER_CGROUP`` for the workers, which join it as they start
(:func:`bot.services.workers.background_priority`; the fork server inherits the variable):

* cgroup v2 (current systemd): the unit must delegate its group (``Delegate=cpu``, as
  ``deploy/reseau-bot.service`` does).  The bot moves itself into ``main/`` (a group that
  hands out CPU to children may hold no process of its own), enables the ``cpu`` controller and
  makes ``reseau-bot-workers/`` with ``cpu.idle`` 1;
* cgroup v1 (older systems, some containers): ``reseau-bot-workers/`` below the process's
  ``cpu`` group, where it may write (as root);
* anywhere else, or where it may not: nothing changes, the workers keep the idle class alone
  (said once in the log, at INFO).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

ENV = "RESEAU_WORKER_CGROUP"
NAME = "reseau-bot-workers"
MAIN = "main"

_prepared: dict[str, Path | None] = {}


def prepare(proc: Path = Path("/proc/self")) -> Path | None:
    """The workers' idle CPU group, made (or found) once per process and named in ``$ENV``;
    ``None`` where there is none to be had (the reason is logged at INFO)."""
    key = str(proc)
    if key in _prepared:
        return _prepared[key]
    inherited = os.environ.get(ENV)
    if inherited and Path(inherited).is_dir():  # made by the process that started this one
        _prepared[key] = Path(inherited)
        return _prepared[key]
    group: Path | None = None
    try:
        found = own_cpu_group(proc)
        if found is None:
            log.info("workers keep the idle scheduling class alone: no CPU control group found")
        else:
            version, own = found
            group = _make(version, own)
            (group / "cpu.idle").write_text("1")
    except OSError as exc:
        log.info("workers keep the idle scheduling class alone: their CPU group could not be made (%s)",
                 exc.strerror or exc)
        group = None
    if group is not None:
        os.environ[ENV] = str(group)
        log.info("workers run in the idle CPU group %s", group)
    _prepared[key] = group
    return group


def join() -> bool:
    """Move the calling process into the group ``prepare`` named (a worker, as it starts)."""
    where = os.environ.get(ENV)
    if not where:
        return False
    try:
        (Path(where) / "cgroup.procs").write_text(str(os.getpid()))
    except OSError:  # gone, or not ours: the idle class alone
        return False
    return True


def own_cpu_group(proc: Path = Path("/proc/self")) -> tuple[int, Path] | None:
    """``(version, directory)`` of the process's CPU control group: cgroup v1's ``cpu``
    hierarchy where it is mounted, else the v2 unified one."""
    try:
        lines = (proc / "cgroup").read_text().splitlines()
        mounts = (proc / "mountinfo").read_text().splitlines()
    except OSError:
        return None
    mounted: list[tuple[str, str, str, list[str]]] = []  # (root, mount point, type, options)
    for line in mounts:
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        mounted.append((_unescape(fields[3]), _unescape(fields[4]), tail[0], tail[2].split(",")))
    unified: str | None = None
    for line in lines:
        number, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if number == "0" and controllers == "":
            unified = path
            continue
        if "cpu" in controllers.split(","):
            for root, point, kind, options in mounted:
                if kind == "cgroup" and "cpu" in options and (inside := _below(path, root)) is not None:
                    return 1, Path(point, inside)
            return None
    if unified is not None:
        for root, point, kind, _ in mounted:
            if kind == "cgroup2" and (inside := _below(unified, root)) is not None:
                return 2, Path(point, inside)
    return None


def _make(version: int, own: Path) -> Path:
    pid = os.getpid()
    if own.name == NAME:  # a worker already
        return own
    if version == 1:
        group = own / NAME
        group.mkdir(exist_ok=True)
        return group
    if own.name == MAIN and (own.parent / NAME).is_dir():  # made earlier by this process's unit
        return own.parent / NAME
    if "cpu" not in (own / "cgroup.subtree_control").read_text().split():
        (own / MAIN).mkdir(exist_ok=True)
        (own / MAIN / "cgroup.procs").write_text(str(pid))
        try:
            (own / "cgroup.subtree_control").write_text("+cpu")
        except OSError:
            (own / "cgroup.procs").write_text(str(pid))  # back where it was (another process stays there)
            raise
    group = own / NAME
    group.mkdir(exist_ok=True)
    return group


def _below(path: str, root: str) -> str | None:
    """``path`` relative to a mount's ``root`` (``None``: not below it)."""
    if root == "/":
        return path.lstrip("/")
    if path == root or path.startswith(root.rstrip("/") + "/"):
        return path[len(root):].lstrip("/")
    return None


def _unescape(field: str) -> str:
    """mountinfo's octal escapes (``\\040`` for a space)."""
    if "\\" not in field:
        return field
    return field.encode().decode("unicode_escape")
