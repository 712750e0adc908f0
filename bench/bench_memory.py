"""Idle memory after READY: ``reseau-bot run`` against a bare ``discord.Client`` (issue 15, item 3).

Run from the repository root (a minute or two; prints figures, not a test)::

    python bench/bench_memory.py                    # no guilds, then 100 guilds × 50 channels
    python bench/bench_memory.py --worlds 0 --runs 1

Both clients connect to the same loopback Discord (``bench/fake_discord.py`` as its own process:
REST and gateway, READY then one GUILD_CREATE per guild).  Each runs as its own process; once it
is READY (the bot's "connected as" line, the bare client's ``on_ready``) and has sat idle for
``--settle`` seconds, its resident set (``VmRSS`` from ``/proc/PID/status``) is read, then it is
stopped with SIGTERM.  The bot runs on an SQLite file migrated beforehand, with its default
configuration and no channel configured (a quiet day: nothing to post, no chart, no export).

Our sources are compiled first (``compileall`` into their ``__pycache__``), as an installed bot
runs: pip compiles a package when it installs it, and a clone's first run writes the same files.
Where ``PYTHONDONTWRITEBYTECODE`` forbids that (this build machine sets it), every start would
compile our 770 KiB of source again, and the compiler's scratch memory stays in the heap: 0.6 MiB
more at rest.

The floor is a bare ``discord.Client`` with the same intents as the bot (``bot.client.intents_for``),
so the same gateway events are cached.  Each side runs ``--runs`` times interleaved; the medians
give ``ratio idle-rss-<world> <ours / floor> (target ≤ 1.3)``.

Under each world's figures, *where ours − floor goes*: a fresh interpreter imports discord.py, then
APScheduler, ``sqlite3`` (the plain store's driver), our configuration and catalogue code, our
runtime and services, our cogs, and prints each group's RSS growth; what is left of the bot's
median is what the running bot builds (catalogue, command tree, the SQLite library's pages,
threads).  SQLAlchemy, the models and the repositories are not there: a quiet bot never loads
them (``storage.plain`` does its start-up reads), and the "heavy libraries" line says so.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._common import interleaved, median, print_machine, print_ratio  # noqa: E402

TOKEN = "MTQ1NjA3NDQ0Mzk4MDgwMDAwMQ.GabcDE.benchmark-token-not-a-real-one-000"

BARE = """
import discord, yarl
discord.http.Route.BASE = {api!r}
discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL({gateway!r})
client = discord.Client(intents=discord.Intents._from_value({intents}))

@client.event
async def on_ready():
    print("connected as", client.user, len(client.guilds), flush=True)

client.run({token!r}, log_handler=None)
"""


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def world(guilds: int, channels: int) -> dict:
    return {"guilds": [
        {"id": 800_000_000_000_000_000 + g, "name": f"Réseau {g}", "bot_member": True,
         "channels": [{"id": 810_000_000_000_000_000 + g * 1000 + c, "name": f"salon-{c}"} for c in range(channels)]}
        for g in range(guilds)
    ]}


def start_fake(folder: Path, guilds: int, channels: int) -> tuple[subprocess.Popen, str]:
    path = folder / f"world-{guilds}.json"
    path.write_text(json.dumps(world(guilds, channels)))
    server = subprocess.Popen(
        [sys.executable, str(REPO / "bench" / "fake_discord.py"), "--port", "0", "--global-rate", "10000",
         "--global-burst", "10000", "--world", str(path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert server.stdout is not None
    return server, server.stdout.readline().strip()


def write_config(folder: Path, api: str) -> Path:
    gateway = api.replace("http://", "ws://").replace("/api/v10", "/gateway")
    config = folder / "config.toml"
    config.write_text(
        f"[database]\nurl = 'sqlite+aiosqlite:///{folder / 'bot.db'}'\n"
        f"[bot]\nlog_level = 'INFO'\n"
        f"[discord]\napi_base_url = '{api}'\ngateway_url = '{gateway}'\n"
    )
    return config


def env() -> dict[str, str]:
    e = {**os.environ, "DISCORD_TOKEN": TOKEN, "PYTHONPATH": str(REPO)}
    e.pop("RESEAU_DATABASE_URL", None)
    return e


def idle_rss(cmd: list[str], cwd: Path, settle: float, timeout: float = 180) -> float:
    """Start ``cmd``, wait for its "connected as" line, ``settle`` seconds, read VmRSS (MiB), stop it."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + timeout
        assert proc.stdout is not None
        while True:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError("exited before READY:\n" + "".join(lines[-30:]))
            lines.append(line)
            if "connected as" in line:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("no READY in time:\n" + "".join(lines[-30:]))
        time.sleep(settle)
        if proc.poll() is not None:
            raise RuntimeError("exited while idle:\n" + "".join(lines[-30:]))
        return rss_kib(proc.pid) / 1024
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def bot_intents(config: Path) -> int:
    """The bot's intents (computed here: the bare client must not import the bot)."""
    from bot.client import intents_for
    from bot.config import build_config

    return intents_for(build_config({}, config, environ={})).value


def loaded_heavy(config: Path, cwd: Path) -> str:
    """Which heavy libraries ``reseau-bot run`` would have imported (a hint when the ratio is high)."""
    probe = ("import importlib, sys, bot.cli, bot.runtime\nfrom bot.client import EXTENSIONS\n"
             "[importlib.import_module(n) for n in EXTENSIONS]\n"
             "print(sorted({m.split('.')[0] for m in sys.modules} & {'matplotlib', 'numpy', 'PIL', "
             "'feedparser', 'bs4', 'alembic', 'openpyxl', 'sqlalchemy'}))")
    return subprocess.run([sys.executable, "-c", probe], cwd=cwd, env=env(), capture_output=True,
                          text=True).stdout.strip()


BREAKDOWN = """
import importlib, json, sys
def rss():
    with open("/proc/self/status", encoding="ascii") as fh:
        return next(int(l.split()[1]) for l in fh if l.startswith("VmRSS:")) / 1024
import discord
steps = [("discord.py (the floor's import)", rss())]
GROUPS = [
    ("APScheduler", ["apscheduler.schedulers.asyncio", "apscheduler.triggers.cron"]),
    ("sqlite3 (the plain store's driver)", ["sqlite3"]),
    ("our configuration and catalogue code", ["bot.config", "bot.i18n"]),
    ("our runtime, services and plain store", ["bot.cli", "bot.runtime"]),
    ("our cogs", None),  # bot.client.EXTENSIONS, read once the runtime is imported
]
for label, names in GROUPS:
    before = rss()
    for name in names if names is not None else sys.modules["bot.client"].EXTENSIONS:
        importlib.import_module(name)
    steps.append((label, rss() - before))
print(json.dumps(steps))
"""


def breakdown(cwd: Path) -> list[tuple[str, float]]:
    """Where ``reseau-bot run``'s memory goes, import by import, in a fresh interpreter: RSS after
    ``import discord`` then the growth of each group in turn (a module shared by two groups counts
    in the first).  Not the bot's real order, a measure of each group's weight."""
    out = subprocess.run([sys.executable, "-c", BREAKDOWN], cwd=cwd, env=env(),
                         capture_output=True, text=True, check=True).stdout
    return [tuple(step) for step in json.loads(out.strip().splitlines()[-1])]


def print_breakdown(cwd: Path, ours: float, floor: float) -> None:
    steps = breakdown(cwd)
    imported = steps[0][1] + sum(mib for _, mib in steps[1:])
    print(f"  where ours − floor ({ours - floor:.1f} MiB) goes (imports in a fresh interpreter, then the running bot):")
    print(f"    {'discord.py import vs the bare client at READY':44s} {steps[0][1] - floor:+6.1f} MiB")
    for label, mib in steps[1:]:
        print(f"    {label:44s} {mib:+6.1f} MiB")
    print(f"    {'running (catalogue, command tree, SQLite…)':44s} {ours - imported:+6.1f} MiB")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    p.add_argument("--worlds", nargs="+", default=["0x0", "100x50"], help="GUILDSxCHANNELS (default: 0x0 100x50)")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--settle", type=float, default=3.0, help="idle seconds after READY before reading RSS")
    args = p.parse_args(argv)
    print_machine()
    lines = []
    # as installed (see the module's docstring): the compiled sources, not a compile at each start
    subprocess.run([sys.executable, "-m", "compileall", "-q", *(str(REPO / p) for p in ("bot", "cogs", "storage", "web"))],
                   check=True)
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        folder = Path(tmp)
        for spec in args.worlds:
            guilds, channels = (int(x) for x in spec.split("x"))
            server, api = start_fake(folder, guilds, channels)
            try:
                config = write_config(folder, api)
                subprocess.run([sys.executable, "-m", "bot.cli", "--config", str(config), "db", "upgrade"],
                               cwd=folder, env=env(), check=True, capture_output=True)
                bare = folder / "bare.py"
                bare.write_text(BARE.format(api=api, gateway=api.replace("http://", "ws://").replace("/api/v10", "/gateway"),
                                            intents=bot_intents(config), token=TOKEN))
                results = interleaved([
                    ("ours", lambda config=config: idle_rss(
                        [sys.executable, "-m", "bot.cli", "--config", str(config), "run"], folder, args.settle)),
                    ("floor", lambda bare=bare: idle_rss([sys.executable, str(bare)], folder, args.settle)),
                ], runs=args.runs)
            finally:
                server.send_signal(signal.SIGTERM)
                server.communicate(timeout=30)
            ours, floor = median(results["ours"]), median(results["floor"])
            print(f"\n{guilds} guilds × {channels} channels: idle RSS after READY (+{args.settle:g} s), "
                  f"median of {args.runs}")
            print(f"  ours   reseau-bot run    : {ours:6.1f} MiB   runs {' '.join(f'{v:.1f}' for v in results['ours'])}")
            print(f"  floor  bare discord.Client: {floor:6.1f} MiB   runs {' '.join(f'{v:.1f}' for v in results['floor'])}")
            print(f"  heavy libraries imported by the runtime: {loaded_heavy(config, folder)}")
            print_breakdown(folder, ours, floor)
            lines.append(print_ratio(f"idle-rss-{guilds}x{channels}", ours / floor, 1.3))
    print("\n=== summary ===")
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
