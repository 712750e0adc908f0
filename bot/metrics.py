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
bots in one test process do not share counters).  They are counted in plain Python (a few ints
and a histogram's buckets) and ``prometheus_client`` is imported at the first scrape only: with
``port = 0`` (the default) nobody scrapes, and the library stays out of the idle process
(issue 15, item 3: small at rest).  Services may hold it (it imports no discord);
what is read at scrape time (leadership, gateway latency, pool) comes from callables the bot
hands in.  This server is separate from the dashboard's (``run --web``): a few lines of aiohttp
on a local port, nothing else on it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

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


class Count:
    """A monotonic count (``inc``), exposed as a Prometheus counter."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        if amount < 0:
            raise ValueError("a count only goes up")
        self.value += amount


class Buckets:
    """A histogram's cumulative buckets, count and sum (what Prometheus' ``Histogram`` keeps)."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = (*bounds, math.inf)
        self.counts = [0] * len(self.bounds)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.sum += value
        for i, bound in enumerate(self.bounds):
            if value <= bound:
                self.counts[i] += 1
                break

    def cumulative(self) -> list[tuple[float, int]]:
        total, out = 0, []
        for bound, count in zip(self.bounds, self.counts, strict=True):
            total += count
            out.append((bound, total))
        return out


class Metrics:
    """The process's metrics; the Prometheus registry is built at the first scrape."""

    def __init__(self) -> None:
        self.probes = Probes()
        self.votes: dict[str, Count] = {}
        self.vote_latency = Buckets(VOTE_BUCKETS)
        self.deliveries = {outcome: Count() for outcome in ("sent", "recovered", "failed", "retried")}
        self.takeovers = Count()
        self._registry = None

    def vote_stored(self, kind: str, seconds: float) -> None:
        self.votes.setdefault(kind, Count()).inc()
        self.vote_latency.observe(max(seconds, 0.0))

    def delivered(self, *, sent: int = 0, recovered: int = 0, failed: int = 0, retried: int = 0) -> None:
        for outcome, count in (("sent", sent), ("recovered", recovered), ("failed", failed), ("retried", retried)):
            if count:
                self.deliveries[outcome].inc(count)

    @property
    def registry(self):
        """This process's ``CollectorRegistry`` (``prometheus_client`` imported here, once)."""
        if self._registry is None:
            from prometheus_client import CollectorRegistry

            self._registry = CollectorRegistry(auto_describe=True)
            self._registry.register(_Collector(self))
        return self._registry

    def exposition(self) -> bytes:
        """The text Prometheus reads (gauges read from the probes at this moment)."""
        from prometheus_client.exposition import generate_latest

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


class _Collector:
    """Reads :class:`Metrics` into Prometheus' metric families at each scrape."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def describe(self):
        return []  # unknown until collected: the families' names are checked at the first scrape

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

        m, probes = self.metrics, self.metrics.probes
        votes = CounterMetricFamily("reseau_votes", "Votes (clicks, selections, answers) stored", labels=["kind"])
        for kind, count in m.votes.items():
            votes.add_metric([kind], count.value)
        yield votes
        latency = HistogramMetricFamily("reseau_vote_latency_seconds", "From the interaction's arrival to the answer stored")
        latency.add_metric([], [(_bound(b), c) for b, c in m.vote_latency.cumulative()], m.vote_latency.sum)
        yield latency
        deliveries = CounterMetricFamily(
            "reseau_deliveries", "Delivery rows (one post to one channel) by outcome: sent, recovered "
            "(found already posted), failed, retried (kept pending after a transient failure)", labels=["outcome"],
        )
        for outcome, count in m.deliveries.items():
            deliveries.add_metric([outcome], count.value)
        yield deliveries
        yield GaugeMetricFamily("reseau_scheduler_leader", "1 while this process runs the scheduled work",
                                value=1.0 if probes.leader() else 0.0)
        takeovers = CounterMetricFamily("reseau_scheduler_takeovers", "Times this process became the leader")
        takeovers.add_metric([], m.takeovers.value)
        yield takeovers
        gateway = GaugeMetricFamily("reseau_gateway_latency_seconds", "Heartbeat round trip per shard", labels=["shard"])
        for shard, seconds in probes.gateway_latencies():
            if math.isfinite(seconds):
                gateway.add_metric([str(shard)], seconds)
        yield gateway
        yield GaugeMetricFamily("reseau_db_pool_in_use", "Database connections checked out",
                                value=float(probes.pool_in_use()))


def _bound(value: float) -> str:
    """A bucket's ``le`` as ``prometheus_client`` writes it (``0.005``, ``1.0``, ``+Inf``)."""
    from prometheus_client.utils import floatToGoString

    return floatToGoString(value)


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
            from prometheus_client.exposition import CONTENT_TYPE_LATEST

            body = self.metrics.exposition()
            return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

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
