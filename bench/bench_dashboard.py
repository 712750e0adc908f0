"""The dashboard under load: the overview and a 10,000-answer poll page, 50 concurrent clients.

    python bench/bench_dashboard.py [--database-url postgresql+asyncpg://…] [--requests 20] [--runs 3]

One process serves (the dashboard over a services container on a fresh database, and — the floor
— a bare aiohttp handler returning the same bytes as each page, on the same loop), another sends
the load: 50 clients, each asking for the page ``--requests`` times in a row, signed in with a
session cookie.  Sides are interleaved (dashboard, floor, dashboard, floor…) ``--runs`` times and
each side's p95 is the median of its runs.  Prints the p95 in milliseconds and::

    ratio dashboard_overview_p95_vs_bare <x> (target ≤ 5)
    ratio dashboard_poll10k_p95_vs_bare <x> (target ≤ 5)

Pages read through a 2-second cache shared by all sessions (``web/cache.py``: concurrent misses
share one read), so under load most requests render cached data; the time of one request past
the cache (the queries themselves) is printed too.

The issue's absolute goal (p95 < 100 ms) is printed beside, with the machine line: on 2 CPUs
shared by several people the absolute figure moves with the load, the ratio much less.
Nothing here is a test.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import median, percentile, print_machine, print_ratio  # noqa: E402

CLIENTS = 50
TARGET = 5.0  # the dashboard's p95 at most five times a bare handler's serving the same bytes
ANSWERS = 10_000
TYPES = ("collectivite", "reseau", "ong", "entreprise", "institution", None)
GUILD, MOD_ROLE, MODERATOR = 1001, 2002, 3003


async def seed(url: str) -> tuple[int, str]:
    """A fresh database: a campaign, a 10,000-answer poll (five options), a few open polls, the
    profiles; a signed-in session.  Returns (the big poll's id, the session cookie's token)."""
    from datetime import UTC, datetime, timedelta
    from pathlib import Path as P

    from sqlalchemy import insert

    from bot.config import build_config
    from bot.services.authority import Actor
    from bot.services.container import Services
    from storage.models import Answer, AnswerChoice, Campaign, Option, Poll, Profile, Question
    from tests.databases import migrate

    await migrate(url, empty_first=url.startswith("postgresql"))
    config = build_config({"database": {"url": url}, "bot": {"moderator_roles": [MOD_ROLE]},
                           "channels": [{"guild_id": GUILD, "channel_id": 1}]}, P("bench.toml"), environ={})
    services = Services.from_config(config)
    now = datetime.now(UTC)
    try:
        async with services.sessions.begin() as session:
            campaign = Campaign(name="Enquête membres (banc d’essai)")
            session.add(campaign)
            await session.flush()
            polls = []
            for n in range(6):
                poll = Poll(guild_id=GUILD, channel_id=1, author_id=MODERATOR, title=f"Sondage {n}",
                            campaign_id=campaign.id, deadline_at=now + timedelta(days=3))
                q = Question(position=0, code="q", text=f"Question {n} : quel soutien attendez-vous ?", kind="single")
                q.options = [Option(position=i, code=f"o{i}", label=f"Option {i}") for i in range(5)]
                poll.questions.append(q)
                session.add(poll)
                polls.append(poll)
            await session.flush()
            big = polls[0]
            options = [o.id for o in big.questions[0].options]
            question_id = big.questions[0].id
            await session.execute(insert(Profile), [
                {"user_id": 10_000_000 + i, "member_type": TYPES[i % len(TYPES)], "created_at": now, "updated_at": now}
                for i in range(ANSWERS + 2_000)])
            await session.execute(insert(Answer), [
                {"question_id": question_id, "user_id": 10_000_000 + i, "member_type": TYPES[i % len(TYPES)],
                 "answered_at": now, "updated_at": now} for i in range(ANSWERS)])
            from sqlalchemy import select

            ids = list(await session.scalars(select(Answer.id).where(Answer.question_id == question_id).order_by(Answer.id)))
            await session.execute(insert(AnswerChoice), [
                {"answer_id": answer_id, "option_id": options[(i * 7) % 5]} for i, answer_id in enumerate(ids)])
        token = await services.sign_in.issue(Actor.of(GUILD, [MOD_ROLE]), MODERATOR)
        browser_token, _ = await services.sign_in.redeem(token)
        return big.id, browser_token
    finally:
        await services.aclose()


def serve(url: str, ports, ready, stop) -> None:
    """The server process: the dashboard on ports[0], the floor on ports[1]."""
    import logging

    logging.disable(logging.WARNING)

    async def main() -> None:
        from aiohttp import web

        from bot.config import build_config
        from bot.services.container import Services
        from web.app import bound_port, create_app, start

        config = build_config({"database": {"url": url}, "bot": {"moderator_roles": [MOD_ROLE]},
                               "channels": [{"guild_id": GUILD, "channel_id": 1}]}, Path("bench.toml"), environ={})
        services = Services.from_config(config)
        dashboard = await start(create_app(services), "127.0.0.1", 0)
        bodies: dict[str, bytes] = {}

        async def bare(request: web.Request) -> web.Response:  # the floor: same bytes, no work
            return web.Response(body=bodies[request.path], content_type="text/html", charset="utf-8")

        async def learn(request: web.Request) -> web.Response:
            bodies[request.query["path"]] = await request.read()
            return web.Response(text="ok")

        floor_app = web.Application()
        floor_app.router.add_post("/_learn", learn)
        floor_app.router.add_get("/{tail:.*}", bare)
        floor = await start(floor_app, "127.0.0.1", 0)
        ports[0], ports[1] = bound_port(dashboard), bound_port(floor)
        ready.set()
        await asyncio.to_thread(stop.wait)
        await dashboard.cleanup()
        await floor.cleanup()
        await services.aclose()

    asyncio.run(main())


async def load(base: str, path: str, cookie: str, requests: int, *, clients: int = CLIENTS) -> list[float]:
    import aiohttp

    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=CLIENTS)
    async with aiohttp.ClientSession(connector=connector, cookies={"rb_session": cookie}) as http:

        async def client() -> None:
            for _ in range(requests):
                start = time.perf_counter()
                async with http.get(base + path) as r:
                    await r.read()
                    assert r.status == 200, (path, r.status)
                latencies.append(time.perf_counter() - start)

        await asyncio.gather(*(client() for _ in range(clients)))
    return latencies


async def run(url: str, requests: int, runs: int) -> None:
    import aiohttp

    poll_id, cookie = await seed(url)
    ctx = multiprocessing.get_context("spawn")
    ports, ready, stop = ctx.Array("i", 2), ctx.Event(), ctx.Event()
    server = ctx.Process(target=serve, args=(url, ports, ready, stop), daemon=True)
    server.start()
    try:
        if not ready.wait(120):
            raise SystemExit("the server process did not start")
        dash, floor = f"http://127.0.0.1:{ports[0]}", f"http://127.0.0.1:{ports[1]}"
        pages = {"overview": "/", "poll10k": f"/polls/{poll_id}"}
        async with aiohttp.ClientSession(cookies={"rb_session": cookie}) as http:
            for path in pages.values():  # the floor serves what the page serves, byte for byte
                async with http.get(dash + path) as r:
                    assert r.status == 200, (path, r.status, await r.text())
                    body = await r.read()
                async with http.post(floor + "/_learn", params={"path": path}, data=body) as r:
                    assert r.status == 200
                print(f"{path}: {len(body) / 1024:.1f} KiB", flush=True)
        for name, path in pages.items():
            await load(dash, path, cookie, 2)  # warm-up
            p95s: dict[str, list[float]] = {"dashboard": [], "bare": []}
            for _ in range(runs):
                for side, base in (("dashboard", dash), ("bare", floor)):
                    p95s[side].append(percentile(await load(base, path, cookie, requests), 95) * 1000)
            ours, bare = median(p95s["dashboard"]), median(p95s["bare"])
            print(f"{name}: p95 {ours:.1f} ms with {CLIENTS} concurrent clients (bare handler {bare:.1f} ms); "
                  f"the issue's goal: p95 < 100 ms → {'met' if ours < 100 else 'NOT met'} on this machine", flush=True)
            print_ratio(f"dashboard_{name}_p95_vs_bare", ours / bare if bare else float("inf"), TARGET)
            cold = []
            for _ in range(3):  # past the pages' 2-second shared cache: the queries themselves
                await asyncio.sleep(4.2)  # past twice the TTL: no stale copy is served either
                cold.append(median(await load(dash, path, cookie, 1, clients=1)) * 1000)
            print(f"{name}: one request past the cache (its queries and rendering): median {median(cold):.1f} ms",
                  flush=True)
    finally:
        stop.set()
        server.join(30)
        if server.is_alive():
            server.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("RESEAU_BENCH_DATABASE_URL"))
    parser.add_argument("--requests", type=int, default=20, help="requests per client and run")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print_machine()
    if args.database_url:
        asyncio.run(run(args.database_url, args.requests, args.runs))
        return
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(run(f"sqlite+aiosqlite:///{folder}/bench.db", args.requests, args.runs))


if __name__ == "__main__":
    main()
