"""Failover benchmark (issue 14): three `reseau-bot run` processes on one PostgreSQL database,
one shard each, against bench/fake_discord.py (its sharded gateway and Discord's per-bot global
limit, 50 requests/s, shared by the three).

1. **Fan-out**: an announcement to every network channel (300 by default), its rows written
   and the fan-out announced as a process would (``NOTIFY reseau_deliver``); the three processes
   share the rows.  Prints the time from the first to the last message as the server saw them,
   the floor ``(N - burst) / 50`` (the server's own GCRA bound) and their ratio (target ≤ 1.1).
2. **Kill cycles** (20 by default): the same fan-out, and once a third of the channels have their
   message the current leader is killed with SIGKILL.  Prints, per cycle and summed: the takeover
   time (the kill to another process saying it leads; target < 10 s), duplicates and missing
   channels once the rows are all sent (target 0 and 0); the killed process is restarted before
   the next cycle.  The server ignores nonces (``nonce_ttl = 0``): only the bot's claims, leases
   and history look-ups prevent a double post.

Run from the repository root::

    python bench/bench_failover.py --pg-url postgresql+asyncpg://…/reseau_bench   # an empty database

Prints figures; not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._common import print_machine, print_ratio  # noqa: E402
from bench.cluster import Cluster  # noqa: E402
from bot.config import build_config  # noqa: E402
from bot.processes import DELIVER_CHANNEL  # noqa: E402
from bot.services import announcements  # noqa: E402
from bot.services.container import Services  # noqa: E402
from bot.services.delivery import DeliveryReport  # noqa: E402
from storage.coordination import PgCoordination  # noqa: E402
from storage.models import utcnow  # noqa: E402
from storage.repositories import DeliveryRepository  # noqa: E402
from tests.databases import migrate  # noqa: E402


class Announcer:
    """The publisher of the process that writes the rows: it only tells the cluster to fan out."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def deliver(self, **_: object) -> DeliveryReport:
        conn = await PgCoordination.connect(self.url)
        try:
            await conn.notify(DELIVER_CHANNEL, "")
        finally:
            await conn.close()
        return DeliveryReport()


async def publish(services: Services, cluster: Cluster, url: str, n: int) -> tuple[int, int]:
    """An announcement to every channel; returns (its id, the server's message count before)."""
    before = len(cluster.server.messages)
    draft = await announcements.create_draft(
        services.sessions, guild_id=cluster.guilds[0], author_id=7, title=f"Annonce {n}",
        body="Assemblée générale le 12.", now=utcnow(),
    )
    await announcements.publish(services.sessions, Announcer(url), draft.id, now=utcnow(), actor_id=7)
    return draft.id, before


async def pending(services: Services, announcement_id: int) -> int:
    async with services.sessions() as session:
        return len(await DeliveryRepository(session).pending(announcement_id=announcement_id))


async def until(predicate, within: float, every: float = 0.05) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(every)
    return False


def counts_since(cluster: Cluster, start: int) -> Counter[int]:
    return Counter(int(m["channel_id"]) for m in cluster.server.messages[start:] if int(m["channel_id"]) in cluster.channels)


async def main(args: argparse.Namespace) -> None:
    url = args.pg_url
    await migrate(url, empty_first=True)
    conn = await PgCoordination.connect(url)
    try:
        print_machine(await conn.server_version())
    finally:
        await conn.close()
    folder = Path(tempfile.mkdtemp(prefix="bench-failover-"))
    config = build_config({"database": {"url": url}}, folder / "config.toml")
    async with Cluster(folder, url, processes=3, guilds=args.guilds, channels_per_guild=args.per_guild,
                       extract_cron="0 10 1-7 * mon") as cluster:
        services = Services.from_config(config)
        channels = len(cluster.channels)
        procs = [await cluster.start(i) for i in range(3)]
        for proc in procs:
            await cluster.wait_connected(proc)
        await cluster.wait_leader()
        await asyncio.sleep(1.0)  # every process listening

        # 1. the fan-out of three processes
        announcement, start = await publish(services, cluster, url, 0)
        if not await until(lambda: asyncio.sleep(0, len(counts_since(cluster, start)) == channels), 120):
            raise SystemExit("the fan-out did not finish")
        stamps = [m["ts"] for m in cluster.server.messages[start:]]
        took = max(stamps) - min(stamps)
        floor = (channels - cluster.server.global_burst) / cluster.server.global_rate
        print(f"fan-out: {channels} channels by 3 processes in {took:.2f} s; floor {floor:.2f} s "
              f"(({channels} - burst {cluster.server.global_burst}) / {cluster.server.global_rate:g} req/s); "
              f"global 429s {cluster.server.stats['rate_limited_global']}")
        print_ratio("failover_fanout_3_processes_vs_floor", took / floor, 1.1)

        # 2. kill cycles
        third = channels // 3
        takeovers: list[float] = []
        total_dup = total_missing = 0
        for cycle in range(1, args.cycles + 1):
            leader = cluster.leader()
            assert leader is not None
            announcement, start = await publish(services, cluster, url, cycle)
            await until(lambda start=start: asyncio.sleep(0, len(counts_since(cluster, start)) >= third), 60,
                        every=0.01)
            posted = len(counts_since(cluster, start))
            killed_at = await cluster.kill(leader)
            successor = await cluster.wait_leader(other_than=leader, within=60)
            takeover = successor.events["elected"] - killed_at
            done = await until(lambda announcement=announcement: _zero(services, announcement), 120, every=0.2)
            finished = time.monotonic() - killed_at
            await asyncio.sleep(1.0)
            per_channel = counts_since(cluster, start)
            dup = sum(n - 1 for n in per_channel.values() if n > 1)
            missing = channels - len(per_channel)
            takeovers.append(takeover)
            total_dup += dup
            total_missing += missing
            print(f"cycle {cycle:2d}: killed process {leader.index} (leader) after "
                  f"{posted} of {channels} posts; takeover {takeover:.2f} s by process "
                  f"{successor.index}; all sent {finished:.1f} s after the kill; duplicates {dup}, missing {missing}{'' if done else ' (rows still pending)'}")
            restarted = await cluster.start(leader.index)
            await cluster.wait_connected(restarted)
            await asyncio.sleep(0.5)
        await services.aclose()
    print(f"over {args.cycles} kill cycles: takeover median {statistics.median(takeovers):.2f} s, "
          f"max {max(takeovers):.2f} s (target < 10 s); duplicates {total_dup}, missing {total_missing} (target 0, 0)")
    print_ratio("failover_takeover_max_seconds_vs_10", max(takeovers) / 10, 1.0)


async def _zero(services: Services, announcement_id: int) -> bool:
    return await pending(services, announcement_id) == 0


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    p.add_argument("--pg-url", default=os.environ.get("RESEAU_TEST_DATABASE_URL"),
                   help="an empty PostgreSQL database (its public schema is dropped first)")
    p.add_argument("--cycles", type=int, default=20)
    p.add_argument("--guilds", type=int, default=6)
    p.add_argument("--per-guild", type=int, default=50)
    args = p.parse_args()
    if not args.pg_url:
        p.error("--pg-url (or RESEAU_TEST_DATABASE_URL) is required: several processes need PostgreSQL")
    return args


if __name__ == "__main__":
    asyncio.run(main(parse()))
