"""Two processes never run one gateway shard (issue 14): the shard claim on PostgreSQL.

Before connecting to Discord, each `reseau-bot run` claims its shards on its coordination
connection (session advisory locks: a shared one on its shard count, one per shard).  As real
processes against bench/fake_discord.py's sharded gateway: disjoint ranges both start; the same
shard, all the shards, another shard count, or no sharding beside a sharded process are refused
with one line and exit code 2, before any IDENTIFY; a killed process's shards are taken by the
next.  On real coordination connections: two unsharded processes conflict; a claim survives the
process's own reconnection (its earlier session, not yet seen dead, is ended), and a process whose
shards another took while its connection was lost is told so.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text

from bench.cluster import Cluster
from bot.config import build_config
from bot.i18n import Catalogue
from bot.processes import PgCoordinator, shard_claim
from bot.services.container import Services
from storage.coordination import PgCoordination, ShardsInUse
from tests.cli.test_processes import free_port, wait_for
from tests.conftest import PG_URL

pytestmark = pytest.mark.skipif(
    not PG_URL, reason="shard claims are PostgreSQL's (RESEAU_TEST_DATABASE_URL); SQLite is one process per file",
)


def last_line(out: str) -> str:
    return out.strip().splitlines()[-1]


async def test_overlapping_shards_or_counts_are_refused_and_a_killed_processs_shards_are_free(database_url, tmp_path):
    t = Catalogue.load().t
    async with Cluster(tmp_path, database_url, processes=2, guilds=2, channels_per_guild=1) as cluster:
        first, second = await cluster.start(0), await cluster.start(1)  # shards 0 and 1 of 2
        await cluster.wait_connected(first)
        await cluster.wait_connected(second)  # disjoint ranges: both start
        identified = list(cluster.server.identifies)

        same = await cluster.cli("run", "--shard-ids", "1")
        every = await cluster.cli("run")  # no shard_ids: every shard of 2
        other_count = await cluster.cli("run", "--shard-count", "3", "--shard-ids", "2")
        unsharded_config = tmp_path / "unsharded.toml"
        unsharded_config.write_text(cluster.config.read_text().replace("shard_count = 2", "shard_count = 0"))
        unsharded = await cluster.cli("run", config=unsharded_config)
        refused_identifies = cluster.server.identifies[len(identified):]

        await cluster.kill(second)  # SIGKILL: the server releases its session's locks
        again = await cluster.start(1)
        await cluster.wait_connected(again)
        assert first.alive and again.alive
        await cluster.stop_all()
        outputs = [p.output() for p in cluster.procs]

    assert same[0] == 2, same[1]
    assert last_line(same[1]) == "reseau-bot: " + t("processes.shard_claimed", "fr", count=1, shards="1", total=2)
    assert every[0] == 2, every[1]
    assert last_line(every[1]) == "reseau-bot: " + t("processes.shard_claimed", "fr", count=2, shards="0, 1", total=2)
    assert other_count[0] == 2, other_count[1]
    assert last_line(other_count[1]) == "reseau-bot: " + t("processes.shard_count_differs", "fr", mine="3", theirs="2")
    assert unsharded[0] == 2, unsharded[1]
    assert last_line(unsharded[1]) == "reseau-bot: " + t(
        "processes.shard_count_differs", "fr", mine=t("processes.shard_count_none", "fr"), theirs="2")
    for _code, out in (same, every, other_count, unsharded):
        assert "Traceback" not in out and "connected as" not in out, out
    assert refused_identifies == [], "a refused process never reaches the gateway"
    assert sorted(cluster.server.identifies) == [(0, 2), (1, 2), (1, 2)]  # the second, then its successor
    for output in outputs:
        assert "Traceback" not in output.split("signal received, stopping")[0], output


async def test_a_second_unsharded_process_is_refused(database_url, tmp_path):
    async with Cluster(tmp_path, database_url, processes=1, guilds=1, channels_per_guild=1) as cluster:
        cluster.config.write_text(cluster.config.read_text().replace("shard_count = 1", "shard_count = 0"))
        cluster.sharded = False
        first = await cluster.start(0)
        await cluster.wait_connected(first)
        code, out = await cluster.cli("run")
        assert first.alive
        assert await cluster.stop(first) == 0, first.output()
    assert code == 2, out
    assert last_line(out) == "reseau-bot: " + Catalogue.load().t("processes.unsharded_claimed", "fr")
    assert "Traceback" not in out


# --------------------------------------------------------------------------- coordination connections


async def claim(url: str, count: int, shards: tuple[int, ...]) -> PgCoordination:
    conn = await PgCoordination.connect(url)
    try:
        await conn.claim_shards(count, shards)
    except BaseException:
        await conn.close()
        raise
    return conn


async def test_claims_on_coordination_connections(database_url, tmp_path):
    config = build_config({"database": {"url": database_url}, "discord": {"shard_count": 4}}, tmp_path / "c.toml")
    assert shard_claim(config) == (4, (0, 1, 2, 3))
    assert shard_claim(build_config({}, tmp_path / "c.toml")) == (0, (0,))

    alone = await claim(database_url, 0, (0,))
    try:
        with pytest.raises(ShardsInUse) as twice:  # two unsharded processes
            await claim(database_url, 0, (0,))
        with pytest.raises(ShardsInUse) as sharded:  # a sharded one beside an unsharded one
            await claim(database_url, 2, (1,))
        assert await alone.shard_claims() == [(0, (0,))]
    finally:
        await alone.close()
    assert (twice.value.count, twice.value.shards, twice.value.theirs) == (0, (0,), None)
    assert (sharded.value.count, sharded.value.theirs) == (2, 0)

    # Two counts claimed at the same moment: never both taken.
    results = await asyncio.gather(claim(database_url, 2, (0,)), claim(database_url, 3, (1,)), return_exceptions=True)
    held = [r for r in results if isinstance(r, PgCoordination)]
    try:
        assert len(held) <= 1, results
        assert all(isinstance(r, ShardsInUse) for r in results if r not in held)
    finally:
        for conn in held:
            await conn.close()

    first = await claim(database_url, 4, (0, 1))
    second = await claim(database_url, 4, (2, 3))  # the same count, disjoint shards
    try:
        assert sorted(await first.shard_claims()) == [(4, (0, 1)), (4, (2, 3))]
    finally:
        await first.close()
        await second.close()
    after = await claim(database_url, 4, (0, 1, 2, 3))  # closed sessions hold nothing
    await after.close()


async def terminate_coordination(database_url: str, pid: int) -> None:
    services = Services.from_config(build_config({"database": {"url": database_url}}, Path("config.toml")))
    try:
        async with services.engine.begin() as conn:
            assert await conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await services.aclose()


async def test_a_reconnection_claims_again_and_a_claim_taken_meanwhile_stops_the_process(database_url):
    async def nothing() -> None:
        pass

    lost: list[ShardsInUse] = []
    coordinator = PgCoordinator(database_url, poll_interval=0.1)
    coordinator.on_claim_lost = lost.append
    intruder = old = None
    try:
        await coordinator.claim(2, (1,))
        await coordinator.start(nothing, nothing)
        # The process's own session outlived (the server did not see it die yet): its next
        # session ends it and takes the claim again.
        old = coordinator._conn
        coordinator._conn = None  # as if the connection were lost on this side only
        await wait_for(lambda: asyncio.sleep(0, coordinator._conn is not None and coordinator._conn.pid != old.pid),
                       within=10)
        with pytest.raises(ShardsInUse):
            await claim(database_url, 2, (1,))
        assert not lost

        # Another process takes shard 1 while this one's connection is lost: it is told, and stops.
        coordinator.url = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/reseau"  # (nothing there)
        await terminate_coordination(database_url, coordinator._conn.pid)
        intruder = await wait_claim(database_url, 2, (1,), within=10)
        coordinator.url = database_url  # the network is back
        await wait_for(lambda: asyncio.sleep(0, lost), within=10)
    finally:
        await coordinator.close()
        for conn in (intruder, old):
            if conn is not None:
                await conn.close()
    assert (lost[0].count, lost[0].shards) == (2, (1,))


async def wait_claim(url: str, count: int, shards: tuple[int, ...], within: float) -> PgCoordination:
    """The claim, as soon as the server has ended the session that held it."""
    async with asyncio.timeout(within):
        while True:
            try:
                return await claim(url, count, shards)
            except ShardsInUse:
                await asyncio.sleep(0.02)


async def test_check_lists_the_shards_the_running_processes_hold(database_url, tmp_path):
    from bot.check_cli import report_lines
    from bot.cli_base import Text
    from bot.services.check import CheckReport
    from bot.services.check.database import check_database

    async def lines(count: int) -> list[str]:
        """``reseau-bot check``'s shard lines (and the fix under a ⚠), with ``shard_count = count``."""
        config = build_config({"database": {"url": database_url}, "discord": {"shard_count": count}},
                              tmp_path / "config.toml")
        report = CheckReport(results=[r for r in await check_database(config) if r.line.key.startswith("check.shards")])
        return report_lines(Text("fr"), report)[:-1]  # (without the summary)

    assert await lines(4) == ["✔ Shards\u202f: aucun processus «\u202freseau-bot run\u202f» en cours sur cette base"]
    held = [await claim(database_url, 4, (0, 1, 2)), await claim(database_url, 4, (3,))]
    try:
        same, other = await lines(4), await lines(2)
    finally:
        for conn in held:
            await conn.close()
    assert same == ["✔ Shards tenus par les 2 processus en cours\u202f: 0-2 sur 4, 3 sur 4"]
    assert other[0] == "⚠ Shards tenus par les 2 processus en cours\u202f: 0-2 sur 4, 3 sur 4", other
    assert "discord.shard_count = 2, les processus en cours 4" in other[1], other


async def test_a_process_whose_shard_was_taken_while_it_was_cut_off_stops_with_exit_2(database_url, tmp_path):
    """A network cut: the server ends the process's coordination session (and its claim); another
    process claims its shard before it reconnects.  It stops serving rather than answer twice."""
    async with Cluster(tmp_path, database_url, processes=2, guilds=2, channels_per_guild=1) as cluster:
        proc = await cluster.start(1)
        await cluster.wait_connected(proc)
        services = Services.from_config(build_config({"database": {"url": database_url}}, tmp_path / "c.toml"))
        try:
            async with services.engine.begin() as conn:
                ended = await conn.scalar(text(
                    "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
                    "WHERE application_name = 'reseau-bot coordination' AND datname = current_database()"))
        finally:
            await services.aclose()
        intruder = await wait_claim(database_url, 2, (1,), within=10)
        try:
            code = await asyncio.wait_for(proc.process.wait(), timeout=60)
            await proc.reader
        finally:
            await intruder.close()
    out = proc.output()
    assert ended == 1
    assert code == 2, out
    assert last_line(out) == "reseau-bot: " + Catalogue.load().t("processes.shard_claimed", "fr", count=1,
                                                                 shards="1", total=2)
    assert "another process claimed this process's shards" in out
    assert "Traceback" not in out, out


async def test_a_process_that_claimed_before_its_handlers_still_hears_the_other_processes(database_url):
    """The claim opens the coordination connection before the bot registers what it listens to
    (reseau_counts…): those channels are listened to when the coordinator starts, so a process
    hears the votes of the others (its posting otherwise kept its own votes only)."""
    async def nothing() -> None:
        pass

    heard: list[str] = []
    coordinator = PgCoordinator(database_url, poll_interval=0.1)
    other = await PgCoordination.connect(database_url)
    try:
        await coordinator.claim(2, (0,))
        coordinator.on("reseau_counts", heard.append)
        await coordinator.start(nothing, nothing)
        await other.notify("reseau_counts", "42")
        await wait_for(lambda: asyncio.sleep(0, heard), within=10)
    finally:
        await coordinator.close()
        await other.close()
    assert heard == ["42"]
