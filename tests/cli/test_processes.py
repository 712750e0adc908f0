"""Several `reseau-bot run` processes on one database (issue 14), as real processes against
bench/fake_discord.py's sharded gateway (bench/cluster.py starts them).

On PostgreSQL: three processes, one shard each; exactly one is elected to run the scheduled work;
the monthly slot posts once per channel; SIGKILL of the leader in the middle of the fan-out →
another takes over within 10 s and finishes it with 0 duplicates and 0 missing (the server
ignores nonces here: only the bot's claims and its history look-up prevent a double post); a poll
due while the leader is dead is closed within 10 s of the takeover.  On SQLite: a second
process on the same file is refused at start.  Both: `/metrics`, `/healthz`, `/readyz`.
"""

from __future__ import annotations

import asyncio
import socket
import time
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select, text, update

from bench.cluster import TOKEN, Cluster
from bot.config import build_config
from bot.i18n import Catalogue
from bot.services.container import Services
from storage import models
from tests.conftest import PG_URL
from tests.databases import answer_rows, migrate

needs_postgresql = pytest.mark.skipif(
    not PG_URL,
    reason="several processes share one database only on PostgreSQL (RESEAU_TEST_DATABASE_URL); "
    "SQLite refuses a second process (tested below)",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def wait_for(predicate, *, within: float, every: float = 0.05):
    """The first true value of ``predicate()``, asked every ``every`` second (a poll: the
    processes are elsewhere), within ``within`` seconds."""
    async with asyncio.timeout(within):
        while True:
            value = await predicate()
            if value:
                return value
            await asyncio.sleep(every)


# --------------------------------------------------------------------------- PostgreSQL


@needs_postgresql
async def test_three_processes_post_the_monthly_slot_once_and_survive_the_leaders_death(database_url, tmp_path):
    """The fan-out of 300 channels (≈ 7 s at 45/s) is cut by SIGKILL of the leader after 40 posts."""
    async with Cluster(tmp_path, database_url, processes=3, guilds=6, channels_per_guild=50) as cluster:
        await cluster.import_extract()
        # a poll whose message is in a guild of shard 1; it will fall due while the leader is dead
        config = build_config({"database": {"url": database_url}}, tmp_path / "config.toml")
        services = Services.from_config(config)
        guild, channel = cluster.guilds[1], 1_400_000_000_000_000_001  # not a network channel
        cluster.server.add_channel(guild, channel, "sondages")
        message_id = await post_message(cluster, channel)
        draft = services.polls.prepare(guild_id=guild, channel_id=channel, author_id=7, question="Quel format ?",
                                       options="A; B", deadline="90m")
        poll = await services.polls.attach_message((await services.polls.create(draft)).id, message_id)

        for index in range(3):
            await cluster.start(index)
        leader = await cluster.wait_leader()
        await wait_for(lambda: asyncio.sleep(0, len(cluster.server.messages) >= 40), within=90)
        assert len(cluster.server.messages) < len(cluster.channels), "the kill must come mid-fan-out"
        followers = [p for p in cluster.procs if p is not leader]
        assert all(p.alive for p in followers), "\n".join(
            f"{p.index} (exit {p.process.returncode}):\n{p.output()}" for p in followers)
        async with services.sessions.begin() as session:  # due now, while no one runs the schedule
            await session.execute(update(models.Poll).where(models.Poll.id == poll.id)
                                  .values(deadline_at=models.utcnow() - timedelta(seconds=1)))
        killed_at = await cluster.kill(leader)

        successor = await cluster.wait_leader(other_than=leader, within=30)
        takeover = successor.events["elected"] - killed_at
        assert takeover < 10, f"takeover took {takeover:.1f} s"

        async def closed() -> bool:
            return not (await services.polls.get(poll.id)).is_open

        await wait_for(closed, within=10)
        closed_after = time.monotonic() - successor.events["elected"]
        assert closed_after < 10
        await wait_for(lambda: asyncio.sleep(0, all(cluster.posts().values())), within=60)
        await asyncio.sleep(1.0)  # anything late would show now
        duplicates, missing = cluster.duplicates_and_missing()
        # every process's shard got its guilds; the dead one's are not served, as on Discord
        assert sorted(cluster.server.identifies) == [(0, 3), (1, 3), (2, 3)]
        elected = [p.index for p in sorted((p for p in cluster.procs if "elected" in p.events),
                                           key=lambda p: p.events["elected"])]
        await cluster.stop_all()  # (stopping the leader first hands the lock to the last one)
        outputs = {p.index: p.output() for p in cluster.procs}
        ever_elected = {p.index for p in cluster.procs if "elected" in p.events}  # (the last one too, at the end)
        async with services.sessions() as session:
            statuses = (await session.execute(select(models.Delivery.status))).scalars().all()
        await services.aclose()

    assert (duplicates, missing) == (0, 0), outputs
    assert elected == [leader.index, successor.index]  # one leader at a time
    assert set(statuses) == {"sent"} and len(statuses) == len(cluster.channels)
    edits = [e for e in cluster.server.edits if e["message_id"] == str(message_id)]
    assert edits, "the closing edits the poll's message"
    for index, output in outputs.items():
        serving = output.split("signal received, stopping")[0]  # (shutting down is another test's)
        assert "Traceback" not in serving, serving
        if index not in ever_elected:  # scheduled work runs only where the lock is held
            assert "catch-up published" not in output
        assert TOKEN not in output


@needs_postgresql
async def test_a_leader_cut_from_the_database_mid_fan_out_steps_down_and_every_channel_gets_one_post(
    database_url, tmp_path
):
    """A network cut, not a death: mid-fan-out the server ends the leader's coordination session
    (the one holding the scheduler's lock and the leases of the rows in flight).  The leader
    keeps running and can still reach Discord: it steps down, the fan-out goes on under whoever
    leads next, and each of the 200 channels ends with exactly one post (Discord's nonces, kept
    5 minutes as Discord does, answer a row that was in flight at the cut)."""
    async with Cluster(tmp_path, database_url, processes=2, guilds=4, channels_per_guild=50,
                       nonce_ttl=300.0) as cluster:
        await cluster.import_extract()
        for index in range(2):
            await cluster.start(index)
        leader = await cluster.wait_leader()
        [session] = [int(line.rsplit("(session ", 1)[1].split(")")[0])
                     for line in leader.lines if "now the scheduler's leader (session" in line]
        await wait_for(lambda: asyncio.sleep(0, len(cluster.server.messages) >= 40), within=90)
        assert len(cluster.server.messages) < len(cluster.channels), "the cut must come mid-fan-out"
        config = build_config({"database": {"url": database_url}}, tmp_path / "config.toml")
        services = Services.from_config(config)
        async with services.engine.begin() as conn:
            assert await conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": session})
        await services.aclose()

        def stepped_down() -> bool:
            return any("stops running the scheduled work" in line for line in leader.lines)

        await wait_for(lambda: asyncio.sleep(0, stepped_down()), within=10)
        assert leader.alive, leader.output()
        await wait_for(lambda: asyncio.sleep(0, all(cluster.posts().values())), within=90)
        await asyncio.sleep(1.0)  # anything late would show now
        duplicates, missing = cluster.duplicates_and_missing()
        leaders_after = [p.index for p in cluster.procs if p.alive and "elected" in p.events]
        await cluster.stop_all()
        outputs = {p.index: p.output() for p in cluster.procs}
    assert (duplicates, missing) == (0, 0), outputs
    assert leaders_after, "someone leads after the cut"
    for output in outputs.values():
        assert "Traceback" not in output.split("signal received, stopping")[0], output


async def post_message(cluster: Cluster, channel_id: int, buttons: tuple[str, ...] = ()) -> int:
    """A message in ``channel_id`` as the bot (the poll's public message, with its buttons)."""
    body = {"content": "Quel format ?"}
    if buttons:
        body["components"] = [{"type": 1, "components": [
            {"type": 2, "style": 2, "label": f"{n}", "custom_id": custom_id} for n, custom_id in enumerate(buttons)
        ]}]
    async with aiohttp.ClientSession(headers={"Authorization": f"Bot {TOKEN}"}) as session:
        async with session.post(f"{cluster.server.base_url}/channels/{channel_id}/messages",
                                json=body) as response:
            assert response.status == 200, await response.text()
            return int((await response.json())["id"])


@needs_postgresql
async def test_votes_on_three_shards_for_one_poll_are_stored_and_every_posting_shows_the_same_counts(
    database_url, tmp_path
):
    """Item 4: one poll posted in three servers, one per shard (so one per process); members
    click on the postings of all three servers, each click reaching the process of that
    server's shard; every vote is stored, and each process edits the posting of its own server
    with the same counts — hearing of the other processes' votes through LISTEN/NOTIFY."""
    async with Cluster(tmp_path, database_url, processes=3, guilds=3, channels_per_guild=1) as cluster:
        config = build_config({"database": {"url": database_url}}, tmp_path / "config.toml")
        services = Services.from_config(config)
        channels = {guild: channel for channel, guild in cluster.channels.items()}
        assert sorted(cluster.shard_of(g) for g in channels) == [0, 1, 2]
        first_guild = cluster.guilds[0]
        draft = services.polls.prepare(guild_id=first_guild, channel_id=channels[first_guild], author_id=7,
                                       question="Quel format ?", options="Atelier; Webinaire", deadline="90m")
        poll = await services.polls.create(draft)
        buttons = tuple(f"rb:poll:vote:{poll.id}:{option.id}" for option in poll.options)
        messages = {}
        for guild, channel in channels.items():
            message_id = await post_message(cluster, channel, buttons)
            messages[guild] = message_id
            posting = await services.postings.claim(poll, guild, channel, "fr")
            await services.postings.attach(posting, message_id)
        poll = await services.polls.attach_message(poll.id, messages[first_guild])
        option_a, option_b = (o.id for o in poll.options)
        for index in range(3):
            await cluster.start(index)
        for proc in cluster.procs:
            await cluster.wait_connected(proc)
        await asyncio.sleep(1.0)  # every process listening
        record = {m["message_id"]: m for m in cluster.server.messages}
        votes = {}  # member -> option
        guilds = list(channels)
        for k in range(6):  # two members per server, one for each option
            member, option, guild = 1_500_000_000_000_000_000 + k, (option_a, option_b)[k % 2], guilds[k // 2]
            votes[member] = option
            shard = await cluster.server.click(record[str(messages[guild])], f"rb:poll:vote:{poll.id}:{option}",
                                               user_id=member, guild_id=guild)
            assert shard == cluster.shard_of(guild)

        async def stored():
            return len(await answer_rows(services.sessions, poll.id)) == len(votes)

        try:
            await wait_for(stored, within=30)
        except TimeoutError:
            raise AssertionError(f"{await answer_rows(services.sessions, poll.id)}\n"
                                 f"{cluster.server.interaction_responses}") from None

        def shown(guild: int) -> str:
            embeds = record[str(messages[guild])]["embeds"]
            return embeds[0].get("description") or "" if embeds else ""  # the options and their counts

        async def same_counts():
            texts = {shown(g) for g in channels}
            return len(texts) == 1 and "3" in texts.pop() and all(record[str(m)]["embeds"] for m in messages.values())

        try:
            await wait_for(same_counts, within=30, every=0.2)
        except TimeoutError:
            raise AssertionError({g: shown(g) for g in channels}) from None
        rows = await answer_rows(services.sessions, poll.id)
        responses = len(cluster.server.interaction_responses)
        edited_by_guild = {g: sum(1 for e in cluster.server.edits if e["message_id"] == str(messages[g]))
                           for g in channels}
        await cluster.stop_all()
        await services.aclose()
    # (anonymous poll: the answers carry a pseudonym, not the member's id)
    assert sorted(option for _, option in rows) == sorted(votes.values())
    assert responses >= len(votes)  # every click answered
    assert all(edited_by_guild.values()), edited_by_guild


@needs_postgresql
async def test_a_second_process_becomes_leader_when_the_first_stops(database_url):
    """The election itself, in one test process: two coordinators on one database; the first
    holds the lock, the second waits; the first closes (its session ends) → the second holds it."""
    from bot.processes import PgCoordinator

    events: list[str] = []

    def hooks(name: str):
        async def elected():
            events.append(f"{name} elected")

        async def deposed():
            events.append(f"{name} deposed")

        return elected, deposed

    first, second = PgCoordinator(database_url, poll_interval=0.1), PgCoordinator(database_url, poll_interval=0.1)
    try:
        await first.start(*hooks("first"))
        await wait_for(lambda: asyncio.sleep(0, first.leader), within=10)
        await second.start(*hooks("second"))
        await asyncio.sleep(0.5)
        assert (first.leader, second.leader) == (True, False)
        await first.close()
        await wait_for(lambda: asyncio.sleep(0, second.leader), within=5)
    finally:
        await first.close()
        await second.close()
    assert events == ["first elected", "second elected"]


@needs_postgresql
async def test_a_leader_whose_session_is_ended_steps_down_and_another_takes_over(database_url):
    """The leader's connection is terminated by the server (what a network cut does): it steps
    down (its jobs dropped) and the other process, or itself once reconnected, leads."""
    from bot.processes import PgCoordinator

    events: list[str] = []
    first = PgCoordinator(database_url, poll_interval=0.1)

    async def elected():
        events.append("elected")

    async def deposed():
        events.append("deposed")

    try:
        await first.start(elected, deposed)
        await wait_for(lambda: asyncio.sleep(0, first.leader), within=10)
        config = build_config({"database": {"url": database_url}}, Path("config.toml"))
        services = Services.from_config(config)
        async with services.engine.begin() as conn:
            await conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'reseau-bot coordination'"
            ))
        await services.aclose()
        await wait_for(lambda: asyncio.sleep(0, len(events) == 3), within=10)
    finally:
        await first.close()
    assert events == ["elected", "deposed", "elected"]


# --------------------------------------------------------------------------- both databases


def sqlite_cluster_config(cluster: Cluster, tmp_path: Path, *, metrics_port: int = 0) -> None:
    """The cluster's config on an SQLite file, without shards."""
    text_ = cluster.config.read_text().replace(f"url = '{cluster.database_url}'",
                                               f"url = 'sqlite+aiosqlite:///{tmp_path / 'bot.db'}'")
    text_ = text_.replace(f"shard_count = {cluster.count}", "shard_count = 0")
    cluster.config.write_text(text_ + f"[metrics]\nport = {metrics_port}\n")
    cluster.sharded = False


async def test_a_second_process_on_one_sqlite_file_is_refused_at_start(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    await migrate(url)
    async with Cluster(tmp_path, url, processes=1, guilds=1, channels_per_guild=1) as cluster:
        sqlite_cluster_config(cluster, tmp_path)
        first = await cluster.start(0)
        await cluster.wait_connected(first)
        code, out = await cluster.cli("run")
        assert first.alive
        assert await cluster.stop(first) == 0, first.output()
        again = await cluster.start(0)  # the lock went with the first process
        await cluster.wait_connected(again)
        assert await cluster.stop(again) == 0
    message = Catalogue.load().t("processes.sqlite_in_use", "fr", database=(tmp_path / "bot.db").resolve(),
                                 lock=(tmp_path / "bot.db.run.lock").resolve())
    assert code == 2
    assert out.strip().splitlines()[-1] == f"reseau-bot: {message}", out
    assert "Traceback" not in out


async def test_each_process_serves_metrics_health_and_readiness(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    await migrate(url)
    port = free_port()
    async with Cluster(tmp_path, url, processes=1, guilds=1, channels_per_guild=1) as cluster:
        sqlite_cluster_config(cluster, tmp_path, metrics_port=0)
        await cluster.import_extract()
        proc = await cluster.start(0, "--metrics-port", str(port))
        try:
            await cluster.wait_connected(proc)
            base = f"http://127.0.0.1:{port}"
            health = await get(f"{base}/healthz")

            async def ready():
                status, body = await get(f"{base}/readyz")
                return (status, body) if status == 200 else None

            readiness = await wait_for(ready, within=30, every=0.2)

            async def posted():  # the month's extract, caught up at READY, in the counters
                status, body = await get(f"{base}/metrics")
                return (status, body) if 'reseau_deliveries_total{outcome="sent"} 1.0' in body else None

            status, metrics = await wait_for(posted, within=30, every=0.2)
        finally:
            await cluster.stop(proc)
    assert health == (200, "ok\n")
    assert readiness == (200, "ready\n")
    assert status == 200
    values = dict(
        line.rsplit(" ", 1) for line in metrics.splitlines() if line and not line.startswith("#")
    )
    assert values["reseau_scheduler_leader"] == "1.0"  # alone on its database: the leader
    assert values['reseau_gateway_latency_seconds{shard="0"}'] != "inf"
    assert "reseau_db_pool_in_use" in values
    assert values['reseau_deliveries_total{outcome="failed"}'] == "0.0"
    assert values["reseau_vote_latency_seconds_count"] == "0.0"


def test_run_options_and_their_checks(tmp_path):
    from bot.config import ConfigError
    from bot.processes import parse_shard_ids, with_run_options

    assert parse_shard_ids("0-2,5,1") == (0, 1, 2, 5)
    config = build_config({"discord": {"shard_count": 6}}, tmp_path / "c.toml")
    got = with_run_options(config, shard_ids="3-5", shard_count=None, metrics_port=9464)
    assert (got.discord.shard_ids, got.metrics.port) == ((3, 4, 5), 9464)
    for options, message in [
        # typed on the command line: named as typed, not blamed on the file
        ({"shard_ids": "6", "shard_count": None}, "^--shard-ids: shard 6 does not exist with 6 shards"),
        ({"shard_ids": "a-b", "shard_count": None}, "--shard-ids a-b: expected shard numbers"),
        ({"shard_ids": "1", "shard_count": 0}, "discord.shard_ids needs discord.shard_count"),
    ]:
        with pytest.raises(ConfigError, match=message):
            with_run_options(config, metrics_port=None, **options)
    for raw, message in [
        ({"discord": {"shard_count": 2, "shard_ids": [0, 0]}}, "a shard is listed twice"),
        ({"metrics": {"port": 70000}}, "metrics.port must be between 0"),
        ({"metrics": {"hots": "x"}}, "unknown key metrics.hots"),
    ]:
        with pytest.raises(ConfigError, match=message):
            build_config(raw, tmp_path / "c.toml")



async def test_a_metrics_port_already_taken_is_one_clear_line_and_exit_2(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    await migrate(url)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        async with Cluster(tmp_path, url, processes=1, guilds=1, channels_per_guild=1) as cluster:
            sqlite_cluster_config(cluster, tmp_path)
            code, out = await cluster.cli("run", "--metrics-port", str(port))
    last = out.strip().splitlines()[-1]
    assert code == 2, out
    assert last.startswith(f"reseau-bot: impossible de servir les mesures sur 127.0.0.1:{port} ("), out
    assert "--metrics-port" in last and "Traceback" not in out


async def test_a_database_outage_is_logged_once_then_slowly_and_its_end_once(database_url, caplog):
    """While PostgreSQL is away the coordinator retries every poll_interval; the log says the loss
    once (then "still lost" every 10 s, the pace doubling up to a minute), not once per try."""
    import logging

    from bot.processes import PgCoordinator
    from storage.urls import is_postgresql

    caplog.set_level(logging.INFO, logger="reseau.processes")
    away = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/reseau"  # nothing listens there
    elected: list[bool] = []

    async def on_elected() -> None:
        elected.append(True)

    async def on_deposed() -> None:
        elected.append(False)

    coordinator = PgCoordinator(away, poll_interval=0.01)
    await coordinator.start(on_elected, on_deposed)
    try:
        await asyncio.sleep(1.5)  # a hundred tries or so, each refused at once
        lost = [r.getMessage() for r in caplog.records if "coordination connection" in r.getMessage()]
        assert len(lost) == 1 and lost[0].startswith("coordination connection lost"), lost
        if is_postgresql(database_url):  # the database is back
            coordinator.url = database_url

            async def leads() -> bool:
                return coordinator.leader

            await wait_for(leads, within=10)
            await asyncio.sleep(0.2)
            lines = [r.getMessage() for r in caplog.records if "coordination connection" in r.getMessage()]
            assert len(lines) == 2 and lines[1].startswith("coordination connection restored after"), lines
            assert elected == [True]
    finally:
        await coordinator.close()
