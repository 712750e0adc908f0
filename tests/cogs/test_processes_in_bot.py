"""The bot's side of several processes (issue 14), on SimCord: the process's metrics follow what
it does (a vote and its latency, a fan-out's deliveries), a follower keeps no jobs and hands its
changes to the leader, a deposed leader drops its jobs and an elected one rebuilds them."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from prometheus_client.parser import text_string_to_metric_families

from bot.processes import LocalCoordinator
from bot.services.schedule import Feature, JobSpec, Reconciled, Schedule

T0 = datetime(2035, 12, 3, 12, 0, tzinfo=UTC)


def samples(bot) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the bot's /metrics text, as Prometheus parses it."""
    text = bot.metrics.exposition().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_a_vote_and_a_fan_out_show_in_the_process_metrics(world):
    bot = world.env.bot
    before = samples(bot)
    assert before[("reseau_scheduler_leader", ())] == 1.0  # alone on its database
    assert before.get(("reseau_votes_total", (("kind", "single"),)), 0.0) == 0.0
    cog = bot.get_cog("Polls")
    draft = cog.service.prepare(guild_id=world.guild.id, channel_id=world.fr.id, author_id=world.moderator.id,
                                question="Quel format ?", options="Atelier; Webinaire")
    await cog.publish(draft, bot.get_channel(world.fr.id))
    await world.env.settle()
    message = world.fr.last_message
    await world.member_fr.click(message, label="Atelier")
    await world.member_en.click(message, label="Webinaire")
    await world.env.settle()
    report = await bot.services.publisher.deliver()  # nothing pending: no delivery counted
    after = samples(bot)
    assert after[("reseau_votes_total", (("kind", "single"),))] == 2.0
    assert after[("reseau_vote_latency_seconds_count", ())] == 2.0
    assert 0 < after[("reseau_vote_latency_seconds_sum", ())] < 3.0
    assert after[("reseau_deliveries_total", (("outcome", "sent"),))] == 0.0 and report.delivered == 0
    assert ("reseau_db_pool_in_use", ()) in after


async def test_a_deposed_leader_drops_its_jobs_and_an_elected_one_rebuilds_them(world):
    bot = world.env.bot
    assert isinstance(bot.coordinator, LocalCoordinator)
    jobs = bot.schedule.job_ids()
    assert "extract-slot-monthly" in jobs and "privacy-prune-daily" in jobs
    await bot._deposed()
    assert bot.schedule.job_ids() == set() and not bot.schedule.active
    assert (await bot.reconcile_jobs()) == Reconciled()  # a follower reconciles nothing itself
    assert bot.schedule.job_ids() == set()
    await bot._elected()
    await asyncio.gather(*bot._inflight)  # the reconcile it started (tracked, as every bot task)
    assert bot.schedule.job_ids() == jobs


async def test_a_follower_keeps_no_jobs_and_hands_its_changes_to_the_leader():
    scheduler = AsyncIOScheduler(timezone=UTC)
    scheduler.start(paused=True)
    runs: list[str] = []

    async def run() -> None:
        runs.append("ran")

    async def plan(services, now):
        return [JobSpec("poll-close-1", T0 + timedelta(hours=1), run), JobSpec("poll-close-2", T0, run)]

    bare = SimpleNamespace(now=lambda: T0, plain=SimpleNamespace(one_connection=contextlib.nullcontext))  # no database
    schedule = Schedule(scheduler, bare, clock=lambda: T0)
    schedule.declare(Feature("poll", plan))
    handed: list[set[str]] = []
    schedule.active, schedule.on_inactive = False, handed.append
    try:
        assert schedule.put([JobSpec("poll-close-3", T0 + timedelta(hours=2), run)]) == []
        assert await schedule.reconcile() == Reconciled()
        assert scheduler.get_jobs() == [] and runs == []
        assert handed == [{"poll"}, {"poll"}]
        schedule.active = True  # elected: the overdue close runs once, the other is scheduled
        result = await schedule.reconcile()
        assert (result.scheduled, result.caught_up, runs) == (["poll-close-1"], ["poll-close-2"], ["ran"])
    finally:
        scheduler.shutdown(wait=False)


async def test_a_burst_of_votes_is_one_counts_notice_until_it_is_sent():
    """The notices go out through the sender task; a notice still waiting there is not queued
    again (the receivers debounce anyway), and once it is taken for sending a new change is a new
    notice — so the last vote of a burst is always announced after it was stored."""
    from bot.processes import COUNTS_CHANNEL, PgCoordinator

    coordinator = PgCoordinator("postgresql://unused")  # not started: the outbox alone
    for _ in range(50):
        coordinator.announce(COUNTS_CHANNEL, "7")
    coordinator.announce(COUNTS_CHANNEL, "8")
    assert coordinator._outbox.qsize() == 2
    sent = []

    class Conn:
        closed = False

        async def notify(self, channel: str, payload: str) -> None:
            sent.append((channel, payload))
            if len(sent) == 1:
                coordinator.announce(COUNTS_CHANNEL, "7")  # a vote stored while the first goes out

    coordinator._conn = Conn()  # type: ignore[assignment]
    sender = asyncio.get_running_loop().create_task(coordinator._send_notices())
    for _ in range(20):
        await asyncio.sleep(0)
    sender.cancel()
    assert sent == [(COUNTS_CHANNEL, "7"), (COUNTS_CHANNEL, "8"), (COUNTS_CHANNEL, "7")]


def test_a_fan_out_is_announced_with_what_it_sends():
    from bot.services.delivery import fanout_scope, parse_fanout_scope

    assert parse_fanout_scope(fanout_scope(3, None)) == {"extract_id": 3}
    assert parse_fanout_scope(fanout_scope(None, 5)) == {"announcement_id": 5}
    assert parse_fanout_scope(fanout_scope(None, None)) == {}  # a resume: every pending row
    assert parse_fanout_scope("extract:x") == parse_fanout_scope("poll:3") == {}


async def test_a_retry_is_not_announced_and_a_fan_out_is(world):
    bot = world.env.bot
    told: list[str] = []
    publisher = bot.services.publisher
    publisher.on_fanout = told.append
    from bot.services import announcements
    from storage.models import utcnow

    draft = await announcements.create_draft(bot.sessions, guild_id=world.guild.id, author_id=world.moderator.id,
                                             title="AG", body="Le 12.", now=utcnow())
    outcome = await announcements.publish(bot.sessions, publisher, draft.id, now=utcnow(), actor_id=world.moderator.id)
    await publisher.deliver(delivery_ids=(1,))  # a row's retry job: its own business
    assert told == [f"announcement:{draft.id}"] and outcome.report.delivered == 2


def test_every_metric_of_the_grafana_dashboard_is_one_the_bot_serves():
    import json
    import re

    from bot.metrics import Metrics
    from tests.paths import REPO

    dashboard = json.loads((REPO / "deploy" / "grafana-dashboard.json").read_text(encoding="utf-8"))
    queried = {name for panel in dashboard["panels"] for target in panel["targets"]
               for name in re.findall(r"\breseau_[a-z_]+", target["expr"])}
    served = set(re.findall(r"^# TYPE (\S+) ", Metrics().exposition().decode(), re.MULTILINE))
    suffixes = ("_bucket", "_count", "_sum", "_total")
    missing = {n for n in queried if n not in served and not any(n.endswith(s) and n[: -len(s)] in served
                                                                  for s in suffixes)}
    assert queried and missing == set()
    # the dashboard's « job » variable chooses the processes every panel shows, not only « up »
    unscoped = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]
                if re.search(r"\breseau_[a-z_]+(?!\{job=~\"\$job\")(?:\{|\b)", target["expr"])]
    assert unscoped == []
