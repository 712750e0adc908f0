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



_IDLE_GROUP = """
import os
from bot.services import idle_cgroup
from bot.services.workers import worker_pool

def where():
    line = next(l for l in open("/proc/self/cgroup").read().splitlines() if l.split(":")[1] in ("cpu", "") or "cpu" in l.split(":")[1].split(","))
    return line.split(":", 2)[2]

if __name__ == "__main__":
    group = idle_cgroup.prepare()
    if group is None:
        print("none")
    else:
        pool = worker_pool()
        try:
            worker = pool.submit(where).result(timeout=60)
        finally:
            pool.shutdown()
        print(group, worker, open(os.path.join(str(group), "cpu.idle")).read().strip(), where())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's control groups")
def test_the_workers_run_in_an_idle_cpu_group_where_the_bot_may_make_one(tmp_path):
    """Where the process may make control groups (root, or a unit with Delegate=cpu), its workers
    run in a group of their own whose cpu.idle is 1: the database server's processes then take
    the CPU from them at once (bench_loop on PostgreSQL), not only the bot's own threads."""
    import subprocess
    from pathlib import Path

    script = tmp_path / "group.py"
    script.write_text(_IDLE_GROUP)
    repo = Path(__file__).resolve().parents[2]
    env = {key: value for key, value in os.environ.items() if key != "RESEAU_WORKER_CGROUP"}
    env["PYTHONPATH"] = os.pathsep.join([str(repo), os.environ.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    if done.stdout.split() == ["none"]:
        pytest.skip("this process may not make a control group here (not root, no delegation)")
    group, worker, idle, bot = done.stdout.split()
    assert group.endswith("/reseau-bot-workers")
    assert group.endswith(worker) and worker.endswith("/reseau-bot-workers")
    assert idle == "1"
    assert not bot.endswith("/reseau-bot-workers")  # the bot itself stays where it was (or in main/)


def _fake_proc(tmp_path, cgroup: str, mount_type: str, mount_point, options: str = "rw"):
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "cgroup").write_text(cgroup)
    (proc / "mountinfo").write_text(
        f"31 23 0:28 / {mount_point} rw,relatime - {mount_type} {mount_type} {options}\n")
    return proc


def test_under_systemd_delegation_the_bot_moves_to_main_and_makes_the_idle_group(tmp_path, monkeypatch):
    """cgroup v2 (a unit with Delegate=cpu): a group that hands out CPU to children may hold no
    process, so the bot moves itself into main/, enables the cpu controller, and makes the
    workers' group with cpu.idle 1 — written where the unit's group is."""
    from bot.services import idle_cgroup

    monkeypatch.delenv(idle_cgroup.ENV, raising=False)
    fs = tmp_path / "cgroupfs"
    unit = fs / "system.slice" / "reseau-bot.service"
    unit.mkdir(parents=True)
    (unit / "cgroup.subtree_control").write_text("")
    (unit / "cgroup.procs").write_text(f"{os.getpid()}\n")
    proc = _fake_proc(tmp_path, "0::/system.slice/reseau-bot.service\n", "cgroup2", fs, "rw,nsdelegate")

    group = idle_cgroup.prepare(proc)
    monkeypatch.delenv(idle_cgroup.ENV, raising=False)

    assert group == unit / "reseau-bot-workers"
    assert (unit / "main" / "cgroup.procs").read_text() == str(os.getpid())
    assert (unit / "cgroup.subtree_control").read_text() == "+cpu"
    assert (group / "cpu.idle").read_text() == "1"


def test_where_no_group_can_be_made_the_workers_keep_the_idle_class_alone(tmp_path, monkeypatch, caplog):
    from bot.services import idle_cgroup

    monkeypatch.delenv(idle_cgroup.ENV, raising=False)
    proc = _fake_proc(tmp_path, "1:cpu:/\n0::/\n", "cgroup", tmp_path / "not-mounted", "rw,cpu")
    with caplog.at_level("INFO", logger="bot.services.idle_cgroup"):
        assert idle_cgroup.prepare(proc) is None
    assert idle_cgroup.ENV not in os.environ
    assert "idle scheduling class alone" in caplog.text
