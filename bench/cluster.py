"""Several real ``reseau-bot run`` processes on one PostgreSQL database against bench/fake_discord.py.

What ``tests/cli/test_processes.py`` and ``bench/bench_failover.py`` share: a loopback Discord (in
the caller's event loop) with a world of guilds spread over the shards and one text channel per
network channel, a config naming it, and the processes — each ``run --shard-ids i --shard-count
N`` — whose output is read line by line into events (connected, elected leader) with the time
each was seen.  The caller migrates the database.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench._common import this_month  # noqa: E402
from bench.fake_discord import FakeDiscordREST, shard_of  # noqa: E402

TOKEN = "MTQ1NjA3NDQ0Mzk4MDgwMDAwMQ.GabcDE.cluster-token-not-a-real-one-00000"
GUILD_BASE = 1_200_000_000_000_000_000
CHANNEL_BASE = 1_300_000_000_000_000_000
LEADER_LINE = "now the scheduler's leader"
EXTRACT = """---
title = "Ce que les membres attendent du réseau"
month = "{month}"
link = "https://example.org/rapport-enquete"
lang = "fr"
---
Les membres décrivent un réseau qui relie des acteurs très différents.
"""


def guild_ids(count: int) -> list[int]:
    """``count`` guild ids whose shards (``(id >> 22) % n``) go round: guild k on shard k mod n."""
    return [(((GUILD_BASE >> 22) + k) << 22) + 77 for k in range(count)]


@dataclass
class Proc:
    index: int
    process: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)
    events: dict[str, float] = field(default_factory=dict)  # first time each was seen (monotonic)
    elected: asyncio.Event = field(default_factory=asyncio.Event)
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    reader: asyncio.Task[None] | None = None

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    def output(self) -> str:
        return "".join(self.lines)


class Cluster:
    """The fake Discord, the config and the processes of one run."""

    def __init__(
        self,
        folder: Path,
        database_url: str,
        *,
        processes: int = 3,
        guilds: int = 6,
        channels_per_guild: int = 5,
        global_rate: float = 50.0,
        latency: float = 0.0,
        nonce_ttl: float = 0.0,
        extract_cron: str = "* * * * *",
        log_level: str = "INFO",
    ) -> None:
        self.folder = folder
        self.database_url = database_url
        self.count = processes
        self.guilds = guild_ids(guilds)
        self.channels: dict[int, int] = {}  # channel id -> guild id
        for g, guild in enumerate(self.guilds):
            for c in range(channels_per_guild):
                self.channels[CHANNEL_BASE + g * 1000 + c] = guild
        # nonce_ttl 0: the server ignores nonces, so only the bot's own claims and history
        # look-ups stand between a takeover and a duplicate.
        self.server = FakeDiscordREST(
            global_rate=global_rate, latency=latency, nonce_ttl=nonce_ttl, token=TOKEN,
        )
        self.extract_cron = extract_cron
        self.log_level = log_level
        self.procs: list[Proc] = []
        self.config = folder / "config.toml"
        self.sharded = True  # each process runs --shard-ids <its index>

    async def __aenter__(self) -> Cluster:
        for n, guild in enumerate(self.guilds):
            self.server.add_guild(guild, f"Réseau {n}")
        for channel, guild in self.channels.items():
            self.server.add_channel(guild, channel, f"reseau-{channel % 1000}")
        await self.server.start()
        self.write_config()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop_all()
        await self.server.close()

    def write_config(self) -> None:
        lines = [
            "[bot]", f"log_level = '{self.log_level}'",
            "[database]", f"url = '{self.database_url}'",
            "[discord]", f"api_base_url = '{self.server.base_url}'", f"gateway_url = '{self.server.gateway_url}'",
            f"shard_count = {self.count}",
            "[schedule]", f"extract_cron = '{self.extract_cron}'", "catch_up_days = 7",
        ]
        for channel, guild in self.channels.items():
            lines += ["[[channels]]", f"guild_id = {guild}", f"channel_id = {channel}", "language = 'fr'"]
        self.config.write_text("\n".join(lines) + "\n")

    def env(self) -> dict[str, str]:
        env = {**os.environ, "DISCORD_TOKEN": TOKEN, "PYTHONPATH": str(REPO)}
        env.pop("RESEAU_DATABASE_URL", None)
        return env

    async def cli(self, *args: str, config: Path | None = None) -> tuple[int, str]:
        """``reseau-bot <args>`` with the cluster's config (or ``config``), to its end."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "--config", str(config or self.config), *args, env=self.env(),
            cwd=self.folder, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout=120)
        except TimeoutError:  # (a command that should have ended does not: leave no process behind)
            proc.kill()
            await proc.wait()
            raise
        return proc.returncode or 0, out.decode()

    async def import_extract(self, month: str | None = None) -> None:
        source = self.folder / "extrait.md"
        source.write_text(EXTRACT.format(month=month or this_month()))
        code, out = await self.cli("extracts", "import", str(source))
        assert code == 0, out

    # ------------------------------------------------------------------ processes
    async def start(self, index: int, *extra: str) -> Proc:
        """``reseau-bot run --shard-ids index`` (its output read into events as it comes)."""
        shards = ("--shard-ids", str(index % self.count)) if self.sharded else ()
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "--config", str(self.config), "run", *shards, *extra,
            env=self.env(), cwd=self.folder,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        proc = Proc(index, process)
        proc.reader = asyncio.get_running_loop().create_task(self._read(proc))
        self.procs.append(proc)
        return proc

    async def _read(self, proc: Proc) -> None:
        assert proc.process.stdout is not None
        while True:
            raw = await proc.process.stdout.readline()
            if not raw:
                return
            line = raw.decode(errors="replace")
            proc.lines.append(line)
            now = time.monotonic()
            if "connected as" in line:
                proc.events.setdefault("connected", now)
                proc.connected.set()
            if LEADER_LINE in line:
                proc.events["elected"] = now
                proc.elected.set()

    def leader(self) -> Proc | None:
        """The live process elected last (the current leader, once it said so)."""
        live = [p for p in self.procs if p.alive and "elected" in p.events]
        return max(live, key=lambda p: p.events["elected"]) if live else None

    async def wait_leader(self, *, other_than: Proc | None = None, within: float = 60) -> Proc:
        try:
            async with asyncio.timeout(within):
                while True:
                    leader = self.leader()
                    if leader is not None and leader is not other_than:
                        return leader
                    await asyncio.sleep(0.05)
        except TimeoutError:
            raise AssertionError("no leader:\n" + "\n".join(p.output() for p in self.procs)) from None

    async def wait_connected(self, proc: Proc, within: float = 60) -> None:
        try:
            async with asyncio.timeout(within):
                await proc.connected.wait()
        except TimeoutError:
            raise AssertionError(f"{describe(proc)} did not connect:\n{proc.output()}") from None

    async def kill(self, proc: Proc) -> float:
        """SIGKILL; returns when it was sent (monotonic)."""
        at = time.monotonic()
        proc.process.send_signal(signal.SIGKILL)
        await proc.process.wait()
        return at

    async def stop(self, proc: Proc) -> int:
        if proc.alive:
            proc.process.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(proc.process.wait(), timeout=60)
        except TimeoutError:
            proc.process.kill()
            code = await proc.process.wait()
        if proc.reader is not None:
            await proc.reader
        return code

    async def stop_all(self) -> None:
        for proc in self.procs:
            if proc.alive:
                await self.stop(proc)
            elif proc.reader is not None:
                await proc.reader

    # ------------------------------------------------------------------ what Discord saw
    def posts(self) -> dict[int, int]:
        """Messages created per network channel."""
        counts: dict[int, int] = dict.fromkeys(self.channels, 0)
        for record in self.server.messages:
            channel = int(record["channel_id"])
            if channel in counts:
                counts[channel] += 1
        return counts

    def duplicates_and_missing(self) -> tuple[int, int]:
        counts = self.posts()
        return sum(n - 1 for n in counts.values() if n > 1), sum(1 for n in counts.values() if n == 0)

    def shard_of(self, guild_id: int) -> int:
        return shard_of(guild_id, self.count)


def describe(proc: Any) -> str:
    return f"process {proc.index} (pid {proc.process.pid})"
