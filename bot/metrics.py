"""What one process tells Prometheus, and its small health server (issue 14, item 5).

Each ``reseau-bot run`` process serves, on ``[metrics] host:port`` (off while ``port = 0``;
``run --metrics-port`` sets it per process, since several processes share a machine):

``/metrics``
    Prometheus' text format (``prometheus-client``): votes stored and their latency (from the
    click's arrival to the answer stored), deliveries sent / failed / retried, whether this
    process holds the scheduler's leadership, the gateway latency per shard and the database
    connections in use.
``/healthz``
    200 while the event loop answers (the process is alive).
``/readyz``
    200 when the gateway is ready and the database answers ``SELECT 1``; 503 otherwise, with
    what is not ready in the body.

The metrics live in one :class:`Metrics` per process with its own ``CollectorRegistry`` (two
bots in one test process do not share counters).  Services may hold it (it imports no discord);
what is read at scrape time (leadership, gateway latency, pool) comes from callables the bot
hands in.  This server is separate from the dashboard's (``run --web``): a few lines of aiohttp
on a local port, nothing else on it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

log = logging.getLogger("reseau.metrics")

# Seconds: a stored vote is a few milliseconds; Discord's 3 seconds bound the slow end.
VOTE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass
class Probes:
    """What is read when Prometheus scrapes or a probe asks (the bot fills them in)."""

    leader: Callable[[], bool] = lambda: False
    gateway_latencies: Callable[[], list[tuple[int, float]]] = lambda: []
    gateway_ready: Callable[[], bool] = lambda: False
    pool_in_use: Callable[[], int] = lambda: 0
    database_ok: Callable[[], Awaitable[bool]] | None = None


class Metrics:
    """The process's metrics, in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.probes = Probes()
        r = self.registry
        self.votes = Counter("reseau_votes", "Votes (clicks, selections, answers) stored", ["kind"], registry=r)
        self.vote_latency = Histogram(
            "reseau_vote_latency_seconds", "From the interaction's arrival to the answer stored",
            buckets=VOTE_BUCKETS, registry=r,
        )
        self.deliveries = Counter(
            "reseau_deliveries", "Delivery rows (one post to one channel) by outcome: sent, recovered "
            "(found already posted), failed, retried (kept pending after a transient failure)",
            ["outcome"], registry=r,
        )
        for outcome in ("sent", "recovered", "failed", "retried"):
            self.deliveries.labels(outcome)
        self.leader = Gauge("reseau_scheduler_leader", "1 while this process runs the scheduled work", registry=r)
        self.leader.set_function(lambda: 1.0 if self.probes.leader() else 0.0)
        self.takeovers = Counter("reseau_scheduler_takeovers", "Times this process became the leader", registry=r)
        self.gateway_latency = Gauge(
            "reseau_gateway_latency_seconds", "Heartbeat round trip per shard", ["shard"], registry=r
        )
        self.pool_in_use = Gauge("reseau_db_pool_in_use", "Database connections checked out", registry=r)
        self.pool_in_use.set_function(lambda: float(self.probes.pool_in_use()))

    def vote_stored(self, kind: str, seconds: float) -> None:
        self.votes.labels(kind).inc()
        self.vote_latency.observe(max(seconds, 0.0))

    def delivered(self, *, sent: int = 0, recovered: int = 0, failed: int = 0, retried: int = 0) -> None:
        for outcome, count in (("sent", sent), ("recovered", recovered), ("failed", failed), ("retried", retried)):
            if count:
                self.deliveries.labels(outcome).inc(count)

    def exposition(self) -> bytes:
        """The text Prometheus reads (gateway latencies refreshed first: shards come and go)."""
        for shard, latency in self.probes.gateway_latencies():
            if math.isfinite(latency):
                self.gateway_latency.labels(str(shard)).set(latency)
        return generate_latest(self.registry)

    async def readiness(self) -> tuple[bool, list[str]]:
        """(ready, what is not): the gateway and the database."""
        missing = []
        if not self.probes.gateway_ready():
            missing.append("gateway not ready")
        if self.probes.database_ok is not None:
            try:
                ok = await self.probes.database_ok()
            except Exception:  # noqa: BLE001 — unreachable is the answer, not an error
                ok = False
            if not ok:
                missing.append("database unreachable")
        return not missing, missing


class MetricsServer:
    """``/metrics``, ``/healthz`` and ``/readyz`` on one local port (aiohttp, imported here only)."""

    def __init__(self, metrics: Metrics, host: str, port: int) -> None:
        self.metrics = metrics
        self.host = host
        self.port = port
        self._runner = None

    async def start(self) -> int:
        """Listen; returns the port (the one the system chose for ``port = 0`` in tests)."""
        from aiohttp import web

        async def metrics(request: web.Request) -> web.Response:
            return web.Response(body=self.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})

        async def healthz(request: web.Request) -> web.Response:
            return web.Response(text="ok\n")

        async def readyz(request: web.Request) -> web.Response:
            ready, missing = await self.metrics.readiness()
            return web.Response(text="ready\n" if ready else "\n".join(missing) + "\n", status=200 if ready else 503)

        app = web.Application()
        app.router.add_get("/metrics", metrics)
        app.router.add_get("/healthz", healthz)
        app.router.add_get("/readyz", readyz)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = runner.addresses[0][1]
        log.info("metrics and health on http://%s:%d/metrics (/healthz, /readyz)", self.host, self.port)
        return self.port

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
