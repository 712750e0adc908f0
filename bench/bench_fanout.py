"""Fan-out benchmark: one extract to 200 channels over 20 guilds, over REST, at Discord's 50/s.

SimCord replaces discord.py's HTTP layer (its rate limiter never runs there), so this drives
the real ``reseau-bot extracts publish`` command — discord.py's real ``HTTPClient``, our
outbox publisher, SQLite — against ``bench/fake_discord.py`` running as a separate process
with Discord's rate-limit headers and 429s (global 50 requests/s, 5 messages per 5 s per
channel) and a JSON-lines state file of every message it created.

Two runs, each on a fresh database and a fresh server:

1. a clean fan-out: total time (first request to last message, as the server saw them, and
   the whole process), the floor 200 / 50 = 4 s, their ratio (target <= 1.2), duplicates and
   missing channels;
2. the publishing process is killed with SIGKILL in the middle of the fan-out, then the same
   command is run again: duplicates and missing channels after both (target: 0 and 0).

``--nonce-ttl 0`` makes the server ignore nonces, so that only the bot's own recovery (its
delivery log and the history look-up) stands between a crash and a duplicate.

Run from the repository root: ``python bench/bench_fanout.py``.  Prints figures; not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._common import print_machine, print_ratio, this_month  # noqa: E402
from bench.fake_discord import load_state, summarize_state  # noqa: E402

TOKEN = "MTQ1NjA3NDQ0Mzk4MDgwMDAwMQ.GabcDE.benchmark-token-not-a-real-one-000"
EXTRACT = """---
title = "Ce que les membres attendent du réseau"
month = "{month}"
link = "https://example.org/rapport-enquete"
lang = "fr"
---
Chaque mois, nous partageons un extrait du rapport d’enquête auprès des membres.

Les membres décrivent un réseau qui relie des acteurs très différents : collectivités, ONG,
entreprises, institutions.

Une adhérente résume : « Nous venons chercher des pairs qui ont déjà essayé, et qui acceptent
de raconter ce qui n’a pas marché. »
"""


def write_world(folder: Path, base_url: str, *, guilds: int, per_guild: int) -> tuple[Path, list[int]]:
    channels = []
    lines = [
        "[database]", f"url = 'sqlite+aiosqlite:///{folder / 'bot.db'}'",
        "[bot]", "log_level = 'WARNING'",
        "[discord]", f"api_base_url = '{base_url}'",
    ]
    for g in range(guilds):
        guild_id = 900000000000000000 + g
        for c in range(per_guild):
            channel_id = 910000000000000000 + g * 1000 + c
            channels.append(channel_id)
            lines += ["[[channels]]", f"guild_id = {guild_id}", f"channel_id = {channel_id}", "language = 'fr'"]
    config = folder / "config.toml"
    config.write_text("\n".join(lines) + "\n")
    return config, channels


def cli(config: Path, *args: str, **popen) -> subprocess.Popen:
    env = {**os.environ, "DISCORD_TOKEN": TOKEN, "PYTHONPATH": str(REPO)}
    env.pop("RESEAU_DATABASE_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "--config", str(config), *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=config.parent, **popen,
    )


def run_cli(config: Path, *args: str) -> str:
    proc = cli(config, *args)
    out, err = proc.communicate(timeout=300)
    if proc.returncode != 0:
        raise SystemExit(f"reseau-bot {' '.join(args)} failed ({proc.returncode}):\n{out}\n{err}")
    return out


def start_server(state: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    server = subprocess.Popen(
        [sys.executable, str(REPO / "bench" / "fake_discord.py"), "--port", "0", "--state", str(state), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert server.stdout is not None
    return server, server.stdout.readline().strip()


def stop(server: subprocess.Popen) -> dict:
    server.send_signal(signal.SIGTERM)
    _, err = server.communicate(timeout=30)
    for line in reversed(err.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return {}


def prepare(folder: Path, base_url: str, guilds: int, per_guild: int) -> tuple[Path, list[int]]:
    config, channels = write_world(folder, base_url, guilds=guilds, per_guild=per_guild)
    source = folder / "extrait.md"
    source.write_text(EXTRACT.format(month=this_month()))
    run_cli(config, "db", "upgrade")
    run_cli(config, "extracts", "import", str(source))
    return config, channels


def figures(state: Path, channels: list[int]) -> dict:
    summary = summarize_state(state)
    got = {int(r["channel_id"]) for r in load_state(state)}
    return {
        "messages": summary["messages"],
        "duplicates": summary["duplicate_messages"],
        "missing": len(set(channels) - got),
    }


def clean_run(folder: Path, args: argparse.Namespace) -> dict:
    state = folder / "posts.jsonl"
    server, base_url = start_server(state, "--nonce-ttl", str(args.nonce_ttl))
    try:
        config, channels = prepare(folder, base_url, args.guilds, args.per_guild)
        started = time.monotonic()
        out = run_cli(config, "extracts", "publish")
        process_seconds = time.monotonic() - started
    finally:
        stats = stop(server)
    records = load_state(state)
    span = max(r["ts"] for r in records) - min(r["ts"] for r in records) if records else 0.0
    last = out.strip().splitlines()[-1]
    # "… in 4.03 s" / "… en 4.03 s" (the CLI speaks the configured language)
    publish_seconds = float(re.search(r"([0-9]+[.,][0-9]+)\s*s$", last).group(1).replace(",", "."))
    return {"publish_seconds": publish_seconds, "span_seconds": span, "process_seconds": process_seconds,
            "stats": stats.get("stats", {}), "cli": last, **figures(state, channels)}


def killed_run(folder: Path, args: argparse.Namespace) -> dict:
    state = folder / "posts.jsonl"
    server, base_url = start_server(state, "--nonce-ttl", str(args.nonce_ttl))
    try:
        config, channels = prepare(folder, base_url, args.guilds, args.per_guild)
        target = len(channels) // 2
        proc = cli(config, "extracts", "publish")
        deadline = time.monotonic() + 120
        while len(load_state(state)) < target and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        killed_at = len(load_state(state))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        time.sleep(0.2)
        after_kill = len(load_state(state))
        started = time.monotonic()
        out = run_cli(config, "extracts", "publish")
        rerun_seconds = time.monotonic() - started
    finally:
        stats = stop(server)
    return {"killed_after": killed_at, "posted_before_rerun": after_kill, "rerun_seconds": rerun_seconds,
            "stats": stats.get("stats", {}), "cli": out.strip().splitlines()[-1], **figures(state, channels)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    p.add_argument("--guilds", type=int, default=20)
    p.add_argument("--per-guild", type=int, default=10)
    p.add_argument("--rate", type=float, default=50.0, help="the server's global limit, requests/s")
    p.add_argument("--nonce-ttl", type=float, default=0.0,
                   help="server-side nonce dedup window (0: off, so only our recovery prevents duplicates)")
    p.add_argument("--runs", type=int, default=3, help="clean runs (the median is compared)")
    args = p.parse_args(argv)
    print_machine()
    total = args.guilds * args.per_guild
    floor = total / args.rate  # the server's global limit: no client can post faster
    with tempfile.TemporaryDirectory(prefix="bench-fanout-") as tmp:
        cleans = []
        for n in range(args.runs):
            (Path(tmp) / f"clean{n}").mkdir()
            cleans.append(clean_run(Path(tmp) / f"clean{n}", args))
        (Path(tmp) / "killed").mkdir()
        run2 = killed_run(Path(tmp) / "killed", args)
    run1 = sorted(cleans, key=lambda r: r["publish_seconds"])[len(cleans) // 2]  # the median run
    ratio = run1["publish_seconds"] / floor
    print(f"fan-out: 1 extract to {total} channels over {args.guilds} guilds, global limit {args.rate:g} req/s")
    print(f"run 1 (clean):  total {run1['publish_seconds']:.2f} s, floor {floor:.2f} s, ratio {ratio:.2f} "
          f"(target <= 1.2), duplicates {run1['duplicates']}, missing {run1['missing']}")
    print(f"                (total = the publish command from the slot's transaction to the last delivery "
          f"marked sent; first to last message as the server saw them {run1['span_seconds']:.2f} s; "
          f"whole process with Python start-up and login {run1['process_seconds']:.2f} s)")
    print(f"                server: {run1['stats']}")
    print(f"run 2 (SIGKILL after {run2['killed_after']} messages, {run2['posted_before_rerun']} posted before the "
          f"rerun; rerun {run2['rerun_seconds']:.2f} s): duplicates {run2['duplicates']}, missing {run2['missing']}")
    print(f"                rerun said: {run2['cli']}")
    each = " ".join(f"{r['publish_seconds']:.2f}" for r in cleans)
    print(f"                clean runs (median above): {each} s")
    print_ratio("fanout-200", ratio, 1.2)
    ok = ratio <= 1.2 and not (run1["duplicates"] or run1["missing"] or run2["duplicates"] or run2["missing"])
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
