"""A loop that never stalls (issue 15, item 2): votes while a chart and a 1 M-answer export run.

Run from the repository root (a few minutes; prints figures, not a test)::

    python bench/bench_loop.py                          # 1,000,000 answers, 1,000 votes, 3 runs
    python bench/bench_loop.py --answers 200000 --runs 1 --keep --workdir /tmp/bench-loop

With ``--pg-url`` (or ``$RESEAU_BENCH_PG_URL``; that database is **emptied**) the same rows are
copied into PostgreSQL and everything runs again there (ratio names prefixed ``pg-``).

One SQLite file holds a generated survey campaign of ``--answers`` answers (``bench_export``'s
generator) and a 5-option button poll created through ``PollService``.  In one event loop:

* **votes**: ``--votes`` calls of ``PollService.vote`` (the whole vote path: status check, upsert,
  commit, confirmation), one started every ``--interval`` seconds as its own task (members
  arrive independently); latency per vote from its start to its return;
* **loop lag**: a task sleeping 1 ms in a loop; the lag is how late it wakes (max and p99);
* **background work** (not in the idle run): 25-option charts drawn back to back (``--charts
  one``: a single chart, as the issue words it; back to back is the harsher default) and one
  ``/export``-style export (CSV, long layout, pseudonymised) of the whole campaign, started with
  the votes; the run lasts until the votes and the export are done.

Modes (each run ``--runs`` times, interleaved with an idle run):

* ``loop``: as before this issue — charts in a worker thread (``asyncio.to_thread``), the export
  awaited on the event loop;
* ``thread``: charts and the export in worker threads (the export on its own event loop and engine);
* ``process``: charts in the worker process (``charts.draw_in_worker_process``) and the export in a
  process of its own (``bot.services.exports.worker``) — what the running bot does.

The workers run in the idle CPU group ``reseau-bot run`` makes where it may (root, or a systemd
unit with ``Delegate=cpu``: :mod:`bot.services.idle_cgroup`); ``--no-idle-group`` leaves them in
the idle scheduling class alone, as before, for comparison.

``--load worker-spin`` or ``--load server-spin`` puts in the export's place only its worker's or
only its database's share of the CPU (a diagnosis of what the export costs the votes, see
``LOADS``; ratio names get the load as a suffix).  Each run also prints when its slowest votes
(the p99's) started.

Prints per mode the vote p50/p99, the longest loop lag and how many charts were drawn, then::

    ratio loaded-vote-p99-<mode> <loaded p99 / idle p99> (target ≤ 1.5)
    ratio loop-lag-ms-<mode> <longest lag in ms> (target ≤ 20)
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._common import median, percentile, print_machine, print_ratio  # noqa: E402
from bench.bench_export import SECRET, generate, load_into_pg  # noqa: E402

CAMPAIGN = "Enquête membres 2026-2027"
MODES = ("loop", "thread", "process")


def chart_args() -> tuple:
    labels = [f"Réponse possible numéro {i + 1} au sondage du réseau" for i in range(25)]
    return "Sondage du réseau", labels, [(i * 7) % 11 for i in range(25)]


class LagMonitor:
    """How late a 1 ms sleep wakes up, for as long as it runs."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self.late: list[tuple[float, float]] = []  # (seconds since the start, lag) over 20 ms
        self._task: asyncio.Task | None = None

    async def _run(self) -> None:
        start = time.perf_counter()
        while True:
            t0 = time.perf_counter()
            await asyncio.sleep(0.001)
            lag = time.perf_counter() - t0 - 0.001
            self.lags.append(lag)
            if lag > 0.020:
                self.late.append((t0 - start, lag))

    def __enter__(self) -> LagMonitor:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def export_on_thread(config, path: Path) -> None:
    """The export on its own event loop and engine, in a worker thread."""
    from bot.services.exports import Exporter, ExportRequest
    from storage.db import create_engine, session_factory

    async def run() -> None:
        engine = create_engine(config.database.url)
        try:
            await Exporter(session_factory(engine), config, environ={"RESEAU_EXPORT_SECRET": SECRET}).export_to_path(
                ExportRequest(campaign=CAMPAIGN), path)
        finally:
            await engine.dispose()

    await asyncio.to_thread(asyncio.run, run())


#: ``--load``: what runs beside the charts.  ``export`` is the issue's benchmark; the other two
#: take its CPU apart (see the README's performance section): ``worker-spin`` is a process that
#: only burns the CPU, at the priority of the bot's workers, as long as an export takes;
#: ``server-spin`` (PostgreSQL) is a backend burning the CPU as long, nothing read by the client.
LOADS = ("export", "worker-spin", "server-spin")
SPIN_SECONDS = 4.0


async def spin_in_worker(seconds: float) -> None:
    """A process at the bot's workers' priority (``background_priority``) burning the CPU."""
    code = (f"import sys, time; sys.path.insert(0, {str(REPO)!r})\n"
            "from bot.services.workers import background_priority\n"
            f"background_priority(); end = time.monotonic() + {seconds}\n"
            "while time.monotonic() < end: pass\n")
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", code)
    if await proc.wait():
        raise RuntimeError("the spinning worker failed")


async def spin_in_server(url: str) -> None:
    """A PostgreSQL backend sorting 2.5 M md5 strings (some seconds of its CPU), one row back."""
    import asyncpg

    from storage.urls import asyncpg_params

    conn = await asyncpg.connect(**asyncpg_params(url))
    try:
        await conn.execute("SET max_parallel_workers_per_gather = 0")
        await conn.fetchval("SELECT count(*) FROM (SELECT md5(g::text) FROM generate_series(1, 2500000) g"
                            " ORDER BY 1) s")
    finally:
        await conn.close()


async def one_run(mode: str | None, service, poll, config, exporter, workdir: Path, votes: int,
                  interval: float, seed: int, load: str = "export", chart_load: str = "back-to-back") -> dict:
    from bot.services import charts, workers
    from bot.services.exports import ExportRequest
    from bot.services.exports.worker import export_to_path_in_worker

    charts.draw_in_worker_process(mode == "process")
    rng = random.Random(seed)
    option_ids = [o.id for o in poll.options]
    latencies: list[float] = []
    started: list[float] = []  # each vote's start, seconds since the run's start (same order)
    errors = 0
    drawn = 0
    stop = asyncio.Event()
    out = workdir / "export.csv"

    async def vote(user_id: int) -> None:
        nonlocal errors
        workers.touch_members()  # as the bot does at each interaction (ReseauBot.dispatch)
        t0 = time.perf_counter()
        try:
            await service.vote(poll.id, user_id=user_id, option_id=rng.choice(option_ids))
        except Exception:
            errors += 1
        latencies.append(time.perf_counter() - t0)
        started.append(t0 - run_start)

    async def draw_charts() -> None:
        nonlocal drawn
        title, labels, counts = chart_args()
        while not stop.is_set():
            await asyncio.to_thread(charts.results_chart, title, labels, counts)
            drawn += 1
            if chart_load == "one":
                return

    async def export() -> float:
        t0 = time.perf_counter()
        if load == "worker-spin":
            await spin_in_worker(SPIN_SECONDS)
        elif load == "server-spin":
            await spin_in_server(config.database.url)
        elif mode == "loop":
            await exporter.export_to_path(ExportRequest(campaign=CAMPAIGN), out)
        elif mode == "thread":
            await export_on_thread(config, out)
        else:
            await export_to_path_in_worker(exporter, ExportRequest(campaign=CAMPAIGN), out)
        return time.perf_counter() - t0

    gc.collect()
    base = seed * 100_000
    run_start = time.perf_counter()
    with LagMonitor() as monitor:
        t0 = time.perf_counter()
        background = []
        if mode is not None:
            background = [asyncio.create_task(draw_charts()), asyncio.create_task(export())]
        tasks = []
        for i in range(votes):
            tasks.append(asyncio.create_task(vote(10_000_000 + base + i)))
            await asyncio.sleep(interval)
        await asyncio.gather(*tasks)
        votes_done = time.perf_counter() - t0
        export_seconds = None
        if background:
            export_seconds = await background[1]
            stop.set()
            await background[0]
        elapsed = time.perf_counter() - t0
    charts.draw_in_worker_process(False)
    return {
        "p50": percentile(latencies, 50), "p99": percentile(latencies, 99), "errors": errors,
        "lag_max": max(monitor.lags), "lag_p99": percentile(monitor.lags, 99), "charts": drawn,
        "votes_s": votes_done, "export_s": export_seconds, "elapsed": elapsed, "late": monitor.late,
        "slowest": sorted(zip(latencies, started, strict=True), reverse=True)[:max(1, votes // 100)],  # the p99's
    }


async def run_all(args: argparse.Namespace, db: Path, workdir: Path, url: str | None = None) -> list[str]:
    from bot.client import GIL_SWITCH_INTERVAL
    from bot.config import PollsSection, build_config
    from bot.i18n import Catalogue
    from bot.services import idle_cgroup
    from bot.services.exports import Exporter
    from bot.services.polls import PollService
    from storage.db import create_engine, session_factory

    url = url or f"sqlite+aiosqlite:///{db}"
    print(f"database: {url.split('://', 1)[0]}", flush=True)
    config = build_config({"database": {"url": url}}, workdir / "bench.toml", environ={})
    engine = create_engine(url)
    sessions = session_factory(engine)
    service = PollService(sessions, catalogue=Catalogue.load(), settings=PollsSection())
    exporter = Exporter(sessions, config, environ={"RESEAU_EXPORT_SECRET": SECRET})
    lines = []
    try:
        draft = service.prepare(guild_id=1, channel_id=2, author_id=3, question="Quel format ?",
                                options="Présentiel; En ligne; Hybride; Lyon; Paris")
        poll = await service.create(draft)
        await one_run(None, service, poll, config, exporter, workdir, 200, args.interval, 1)  # warm-up
        gc.freeze()  # the end of start-up, as ReseauBot.setup_hook does: the GIL's switch interval too
        sys.setswitchinterval(GIL_SWITCH_INTERVAL)
        if args.idle_group:  # the workers' idle CPU group, as `reseau-bot run` makes it where it may
            print(f"workers' idle CPU group: {idle_cgroup.prepare() or 'none (not permitted here)'}", flush=True)
        results: dict[str, list[dict]] = {"idle": [], **{m: [] for m in args.modes}}
        seed = 2
        for run in range(args.runs):
            for mode in (None, *args.modes):
                r = await one_run(mode, service, poll, config, exporter, workdir, args.votes, args.interval, seed,
                                  args.load, args.charts)
                seed += 1
                results[mode or "idle"].append(r)
                extra = "" if mode is None else (f", {args.load} {r['export_s']:.1f} s, {r['charts']} charts, "
                                                 f"votes over {r['votes_s']:.1f} s")
                print(f"  run {run + 1} {mode or 'idle':8s}: vote p50 {r['p50'] * 1000:6.2f} ms, "
                      f"p99 {r['p99'] * 1000:7.2f} ms, loop lag max {r['lag_max'] * 1000:7.1f} ms "
                      f"(p99 {r['lag_p99'] * 1000:.1f}), errors {r['errors']}{extra}", flush=True)
                slowest = sorted(r["slowest"], key=lambda pair: pair[1])
                print("      slowest votes (the p99's), started at: "
                      + ", ".join(f"{at:.2f} s ({lat * 1000:.1f} ms)" for lat, at in slowest), flush=True)
                if r["late"]:
                    print("      lags over 20 ms at " + ", ".join(f"{t:.2f} s ({lag * 1000:.0f} ms)"
                                                          for t, lag in r["late"][:12]), flush=True)
        idle_p99 = median([r["p99"] for r in results["idle"]])
        print(f"\nmedians of {args.runs}: idle vote p99 {idle_p99 * 1000:.2f} ms, "
              f"lag max {median([r['lag_max'] for r in results['idle']]) * 1000:.1f} ms")
        for mode in args.modes:
            p99 = median([r["p99"] for r in results[mode]])
            lag = median([r["lag_max"] for r in results[mode]])
            print(f"  {mode:8s}: vote p99 {p99 * 1000:.2f} ms, longest loop lag {lag * 1000:.1f} ms, "
                  f"{args.load} {median([r['export_s'] for r in results[mode]]):.1f} s")
            tag = mode if args.load == "export" else f"{mode}-{args.load}"
            tag += "-one-chart" if args.charts == "one" else ""
            lines.append(print_ratio(f"loaded-vote-p99-{tag}", p99 / idle_p99, 1.5))
            lines.append(print_ratio(f"loop-lag-ms-{tag}", lag * 1000, 20))
        idle_lag = median([r["lag_max"] for r in results["idle"]])
        lines.append(f"(context: the idle run's longest loop lag, nothing in the background: {idle_lag * 1000:.1f} ms "
                     f"— what the machine's other load costs the loop by itself)")
        print(lines[-1])
    finally:
        await engine.dispose()
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    p.add_argument("--answers", type=int, default=1_000_000)
    p.add_argument("--votes", type=int, default=1000)
    p.add_argument("--interval", type=float, default=0.005, help="seconds between two votes' arrivals")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    p.add_argument("--load", default="export", choices=LOADS,
                   help="what runs beside the charts: the export (the benchmark), or only its worker's or "
                        "its database's share of the CPU (a diagnosis; see LOADS)")
    p.add_argument("--charts", default="back-to-back", choices=["one", "back-to-back"],
                   help="one 25-option chart beside the export, or charts drawn back to back for the whole run")
    p.add_argument("--idle-group", action=argparse.BooleanOptionalAction, default=True,
                   help="the workers in an idle CPU group where this process may make one, as `reseau-bot run` "
                        "does (--no-idle-group: the idle scheduling class alone, as before)")
    p.add_argument("--backend", nargs="+", default=["sqlite", "pg"], choices=["sqlite", "pg"])
    p.add_argument("--pg-url", default=os.environ.get("RESEAU_BENCH_PG_URL"),
                   help="PostgreSQL URL (its database is EMPTIED and filled with the generated rows)")
    p.add_argument("--workdir", type=Path)
    p.add_argument("--keep", action="store_true", help="keep (and reuse) the generated database")
    args = p.parse_args(argv)
    if args.load == "server-spin" and (args.backend != ["pg"] or not args.pg_url):
        p.error("--load server-spin needs --backend pg and --pg-url")
    print_machine()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-loop-"))
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / f"loop-{args.answers}.db"
    try:
        if not (args.keep and db.exists()):
            t0 = time.perf_counter()
            generate(db, args.answers)
            print(f"generated {args.answers:,} answers in {time.perf_counter() - t0:.1f} s", flush=True)
        os.environ.setdefault("RESEAU_EXPORT_SECRET", SECRET)
        lines = []
        if "sqlite" in args.backend:
            lines += asyncio.run(run_all(args, db, workdir))
        if "pg" in args.backend and args.pg_url:
            t0 = time.perf_counter()
            asyncio.run(load_into_pg(db, args.pg_url))
            print(f"copied into PostgreSQL in {time.perf_counter() - t0:.1f} s", flush=True)
            lines += [line.replace("ratio ", "ratio pg-", 1) for line in asyncio.run(run_all(args, db, workdir, args.pg_url))]
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print("\n=== summary ===")
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
