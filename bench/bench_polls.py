"""Polls benchmark: button votes through the real discord.py dispatch, and the vote service under load.

Run from the repository root (prints figures; not a test)::

    python bench/bench_polls.py                                   # SQLite only (a temp file)
    python bench/bench_polls.py --pg-url postgresql+asyncpg://…   # SQLite, then PostgreSQL
    RESEAU_BENCH_PG_URL=postgresql+asyncpg://… python bench/bench_polls.py --part b --backend pg

**The PostgreSQL database named by the URL is emptied** (``DROP SCHEMA public CASCADE``) and
migrated before each part: give it a throw-away server, e.g.
``RESEAU_PG_PORT=54339 RESEAU_PGDATA=/tmp/reseau-bench-pg bash .ci/pg-start``.

(a) **Dispatch latency on SimCord.**  The real ``ReseauBot`` (every cog, the real database) runs
on SimCord; a moderator creates a 5-option button poll with ``/poll create``; 1,000 members
click a button, then each changes its vote (2,000 clicks, one after the other).  Measured inside
the process, per interaction: from the INTERACTION_CREATE payload entering discord.py's parser
(``bot._connection.parsers["INTERACTION_CREATE"]`` is wrapped; SimCord's own deep copy of the
payload happens before) to the interaction-callback request (``POST
/interactions/{id}/{token}/callback``) leaving discord.py's HTTP layer.  discord.py sends
interaction responses through its webhook adapter (``discord.webhook.async_.async_context``),
not ``HTTPClient.request``; both are wrapped (the adapter SimCord installs, and ``bot.http``), and
the first callback seen for an interaction id counts.  SimCord's settling between actor calls
(~50 ms pauses) falls outside that window.  The same is measured for the framework floor: a
bare ``commands.Bot`` whose ``DynamicItem`` button only does ``interaction.response.defer()``
(and, second floor, an ephemeral ``send_message``).  Target: our p50 <= 2 x floor p50 + 2 ms
(checked against the ``defer()`` floor, the stricter one).  In the same run, the **storage
floor**: the raw driver's single upsert of an answer row + commit (aiosqlite with our PRAGMAs and
``BEGIN IMMEDIATE`` on SQLite, a prepared asyncpg statement in autocommit on PostgreSQL), on the
same database, measured **between our clicks**: after each vote the same member clicks a button
the benchmark adds to ``ReseauBot`` (a message of its own), whose callback does that one write
(timed alone) and ``defer()``.  So the floor's write meets what our vote's write meets: the same
loop and SimCord settling, a connection idle since the click before.  The verdict line is
``ratio vote-p50-<db> <our p50 / (framework floor p50 + storage floor p50)> (target ≤ 1.5)``, and
the same for p99 (printed, no target).  The same writes **back to back** (2,000, one after the
other) are printed too, with ``ratio vote-p50-<db>-b2b`` (no target): a connection that never
goes idle, whose thread or server process is always awake — on a virtual machine, waking an idle
one costs 0.3–0.7 ms (measured: issue 15's note of 1 December), which a back-to-back loop never
pays and an isolated member's click always does.  Every side runs ``--runs`` times (3),
interleaved; the medians of the runs' percentiles are compared.  ``polls.refresh_seconds`` is set to
an hour: the first vote's edit of the public message happens at once, in the background after
the acknowledgement, and the debounce sleep then stays parked (SimCord virtual time), so it
never delays an actor call.

(b) **Service and database.**  ``PollService.vote`` on a created 5-option poll (guild and role
checks skipped): 10,000 votes from 2,000 members (5 rounds; each round every member votes for
a random option), 200 worker tasks pulling from one queue (200 in flight).  A member's votes
are never in flight together (rounds are 2,000 votes apart; a per-member lock guarantees it and
its waits are counted), so the stored answer must be each member's last vote.  Latency per
vote is the time around ``await service.vote(…)`` (it includes waiting for a pooled
connection).  Then a deliberate double click: the same member, same option, twice at once
(``asyncio.gather``) -> one answer with one choice; repeated for 200 members at once.  Before
the measured votes: a calibration run of 500 votes with 1 in flight (the cost of one vote alone)
and a warm-up of 1,000 votes at the same concurrency (other members; compiled statements,
pooled connections), both printed and not counted.  Little's law links the figures: with N
votes in flight, the mean latency is N / throughput.  Targets: p99 < 50 ms, 0 lost.

Garbage-collector pauses during the measured clicks and votes are printed (a full collection
of this process's heap takes tens of ms and is the usual cause of a lone slow batch).
``ReseauBot.setup_hook`` ends with ``gc.freeze()``, so (a) gets it from the bot itself; (b) runs
the service without a bot and does the same by default: ``gc.freeze()`` after the imports and
again once the service and its poll are set up (``--no-gc-freeze`` to see the heap unfrozen).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import logging
import math
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Collection
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import discord  # noqa: E402
import simcord  # noqa: E402
from discord.ext import commands  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from bench._common import machine, ratio_line  # noqa: E402
from bot.client import ReseauBot  # noqa: E402
from bot.config import NetworkChannel, PollsSection, build_config  # noqa: E402
from bot.i18n import Catalogue  # noqa: E402
from bot.services.polls import PollService  # noqa: E402
from storage.db import create_engine, session_factory  # noqa: E402
from storage.models import Answer, AnswerChoice  # noqa: E402
from tests.databases import migrate  # noqa: E402

OPTIONS = "Présentiel; En ligne; Hybride; Lyon; Paris"
CALLBACK = re.compile(r"/interactions/(\d+)/[^/]+/callback")
_SQLITE_NOW = "2026-01-01 00:00:00.000000"
_PG_NOW = datetime(2026, 1, 1, tzinfo=UTC)
REFRESH_SECONDS = 3600.0  # the debounce sleep stays parked in SimCord's virtual time


# ----------------------------------------------------------------------------- figures
def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def summary(values: list[float]) -> str:
    return (
        f"p50 {ms(pct(values, 50))}  p99 {ms(pct(values, 99))}  max {ms(max(values))}  "
        f"mean {ms(statistics.fmean(values))}  count {len(values)}"
    )


class GcPauses:
    """Garbage-collector pauses while installed (``gc.callbacks``): a gen-2 collection of a
    heap of ~10^5 objects takes tens of ms and shows up as the tail of the latencies."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.pauses.append((info["generation"], time.perf_counter() - self._start))

    def __enter__(self) -> GcPauses:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        gc.callbacks.remove(self)

    def __str__(self) -> str:
        full = [d for g, d in self.pauses if g == 2]
        longest = max((d for _, d in self.pauses), default=0.0)
        return f"GC pauses {len(self.pauses)} ({len(full)} full, {ms(sum(full))}), longest {ms(longest)}"


# ----------------------------------------------------------------------------- databases
async def fresh_database(kind: str, pg_url: str | None, folder: Path, name: str) -> str:
    """A migrated, empty database: a new SQLite file, or the PostgreSQL database emptied."""
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{folder / (name + '.db')}"
    else:
        assert pg_url
        url = pg_url
    await migrate(url, empty_first=kind != "sqlite")
    return url


async def stored_answers(url: str, question_id: int | None = None) -> dict[int, set[int]]:
    """{user_id: {option ids}} of every answer (of one question)."""
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            stmt = select(Answer.user_id, AnswerChoice.option_id).join(
                AnswerChoice, AnswerChoice.answer_id == Answer.id, isouter=True
            )
            if question_id is not None:
                stmt = stmt.where(Answer.question_id == question_id)
            out: dict[int, set[int]] = {}
            for user_id, option_id in await session.execute(stmt):
                out.setdefault(user_id, set())
                if option_id is not None:
                    out[user_id].add(option_id)
            return out
    finally:
        await engine.dispose()


# ----------------------------------------------------------------------------- (a) probe
class Probe:
    """perf_counter at INTERACTION_CREATE parser entry and at the callback request, by id."""

    def __init__(self) -> None:
        self.start: dict[int, float] = {}
        self.end: dict[int, float] = {}

    def install(self, env: simcord.Env, bot: discord.Client) -> None:
        parsers = bot._connection.parsers
        parse = parsers["INTERACTION_CREATE"]
        start = self.start

        def timed_parse(data: Any) -> None:
            start[int(data["id"])] = time.perf_counter()
            return parse(data)

        parsers["INTERACTION_CREATE"] = timed_parse
        # interaction responses: discord.py's webhook adapter (SimCord's FakeWebhookAdapter)
        self._wrap(env._webhook_adapter, "request")
        # everything else: HTTPClient.request (SimCord's FakeHTTPClient)
        self._wrap(bot.http, "request")

    def _wrap(self, owner: Any, name: str) -> None:
        original = getattr(owner, name)
        end = self.end

        async def timed_request(route: Any, *args: Any, **kwargs: Any) -> Any:
            now = time.perf_counter()
            if route.method == "POST":
                match = CALLBACK.search(route.url)
                if match is not None:
                    end.setdefault(int(match.group(1)), now)
            return await original(route, *args, **kwargs)

        setattr(owner, name, timed_request)

    def latencies(self, ids: list[int]) -> tuple[list[float], int]:
        out, missing = [], 0
        for interaction_id in ids:
            if interaction_id in self.start and interaction_id in self.end:
                out.append(self.end[interaction_id] - self.start[interaction_id])
            else:
                missing += 1
        return out, missing


def click_plan(members: int, seed: int = 7) -> list[tuple[int, int, int]]:
    """(round, member index, option index): every member votes, then every member changes."""
    rng = random.Random(seed)
    first = [rng.randrange(5) for _ in range(members)]
    second = [(f + 1 + rng.randrange(4)) % 5 for f in first]
    return [(0, i, first[i]) for i in range(members)] + [(1, i, second[i]) for i in range(members)]


async def click_all(
    env: simcord.Env,
    probe: Probe,
    actors: list[Any],
    message: Any,
    custom_ids: list[str],
    plan: list[tuple[int, int, int]],
    check: Callable[[Any], bool],
    label: str,
    after_each: Callable[[Any], Awaitable[None]] | None = None,
    skip: Collection[int] = (),
) -> tuple[list[float], dict[str, Any]]:
    """Click the plan, one click after the other; ``after_each(actor)`` follows each click (the
    storage floor's own click); the interactions whose ids end in ``skip`` are not counted."""
    refused = 0
    gc.collect()  # earlier phases' garbage is not this phase's pause
    started = time.perf_counter()
    before = set(probe.start)
    with GcPauses() as pauses:
        for n, (_round, member, option) in enumerate(plan, start=1):
            result = await actors[member].click(message, custom_id=custom_ids[option])
            if not check(result):
                refused += 1
            if after_each is not None:
                await after_each(actors[member])
            if n % 500 == 0:
                print(
                    f"    {label}: {n}/{len(plan)} clicks, {time.perf_counter() - started:.0f} s", flush=True
                )
    ids = [i for i in probe.start if i not in before and i not in skip]
    latencies, missing = probe.latencies(ids)
    return latencies, {
        "clicks": len(plan),
        "interactions": len(ids),
        "missing_callback": missing,
        "bad_response": refused,
        "wall": time.perf_counter() - started,
        "gc": str(pauses),
    }


def make_members(env: simcord.Env, guild: Any, count: int) -> list[Any]:
    return [guild.add_member(env.create_user(f"membre{i:04d}")) for i in range(count)]


async def run_ours(url: str, folder: Path, members: int) -> tuple[list[float], dict[str, Any]]:
    raw: dict[str, Any] = {
        "database": {"url": url},
        "polls": {"refresh_seconds": REFRESH_SECONDS},
    }
    config = build_config(raw, folder / "config.toml", environ={})
    engine = create_engine(url)
    bot = ReseauBot(config, engine=engine, sessions=session_factory(engine))
    probe = Probe()
    async with simcord.run(bot) as env:
        probe.install(env, bot)
        guild = env.create_guild(name="Réseau (bench)")
        channel = guild.create_text_channel("sondages")
        mod_role = guild.create_role("Modération")
        moderator = guild.add_member(env.create_user("camille"), roles=[mod_role])
        # The network's server and its moderator role (by id), as the tests' world sets them up.
        await bot.reconfigure(dataclasses.replace(
            config, bot=dataclasses.replace(config.bot, moderator_roles=(mod_role.id,)),
            channels=(NetworkChannel(guild_id=guild.id, channel_id=channel.id, language="fr", name="sondages"),),
        ))
        for command in await bot.tree.fetch_commands():
            if command.default_member_permissions is not None:
                guild.set_command_permissions(command, {mod_role: True})
        actors = make_members(env, guild, members)
        created = await moderator.slash(
            channel, "poll create", question="Quel format pour la rencontre ?", options=OPTIONS
        )
        assert created.ephemeral, created
        message = channel.last_message
        custom_ids = [
            child.custom_id
            for row in message.components
            for child in row.children
            if (child.custom_id or "").startswith("rb:poll:vote:")
        ]
        assert len(custom_ids) == 5, custom_ids
        poll_id = int(custom_ids[0].split(":")[3])
        option_ids = [int(c.split(":")[4]) for c in custom_ids]
        plan = click_plan(members)
        # the storage floor between our clicks: its own button, on a message of its own
        bot.add_dynamic_items(StorageFloorButton)
        floor_view = discord.ui.View(timeout=None)
        floor_view.add_item(StorageFloorButton(0))
        floor_message = await bot.get_channel(channel.id).send("storage floor", view=floor_view)
        await env.settle()
        floor_message = channel.last_message
        assert floor_message is not None and floor_message.content == "storage floor", floor_message
        StorageFloorButton.writer = await RawWriter(url, await question_of(url, poll_id)).open()
        StorageFloorButton.latencies, StorageFloorButton.interactions = [], set()

        async def storage_click(actor: Any) -> None:
            result = await actor.click(floor_message, custom_id="bench:store:0")
            assert result.acknowledged, result

        def confirmed(result: Any) -> bool:
            response = result.response
            return response is not None and result.ephemeral and "**" in (response.content or "")

        try:
            latencies, info = await click_all(
                env,
                probe,
                actors,
                message,
                custom_ids,
                plan,
                confirmed,
                "ours",
                after_each=storage_click,
                skip=StorageFloorButton.interactions,
            )
        finally:
            await StorageFloorButton.writer.close()
        info["storage_between"] = list(StorageFloorButton.latencies)
        # let the parked debounce finish (one more edit), so that shutdown has nothing in flight
        await env.advance_time(REFRESH_SECONDS + 1)
        edits = sum(
            1 for r in env.http_requests if r.method == "PATCH" and r.path.endswith(f"/messages/{message.id}")
        )
        # a poll is anonymous by default: its answers hold each member's pseudonym in the poll
        view = await bot.services.polls.get(poll_id)
        respondent = {a.id: await bot.services.polls.respondent(view, a.id) for a in actors}
    expected = {respondent[actors[m].id]: {option_ids[o]} for r, m, o in plan if r == 1}
    floor_rows = range(9_000_000, 9_000_000 + len(info["storage_between"]))
    stored = {
        user: options for user, options in (await stored_answers(url)).items() if user not in floor_rows
    }
    info.update(
        poll_id=poll_id,
        stored=len(stored),
        stored_ok=sum(1 for user, options in expected.items() if stored.get(user) == options),
        expected=len(expected),
        edits=edits,
    )
    return latencies, info


class FloorButton(discord.ui.DynamicItem[discord.ui.Button], template=r"floor:ack:(?P<n>[0-9]+)"):
    mode = "defer"

    def __init__(self, n: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=f"Option {n}", style=discord.ButtonStyle.primary, custom_id=f"floor:ack:{n}"
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: Any
    ) -> FloorButton:
        return cls(int(match["n"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        if FloorButton.mode == "defer":
            await interaction.response.defer()
        else:
            await interaction.response.send_message("ok", ephemeral=True)


class FloorBot(commands.Bot):
    def __init__(self) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        intents.guild_polls = True  # the same intents as ReseauBot
        super().__init__(command_prefix="!", intents=intents, help_command=None)

    async def setup_hook(self) -> None:
        self.add_dynamic_items(FloorButton)


async def run_floor(mode: str, members: int) -> tuple[list[float], dict[str, Any]]:
    FloorButton.mode = mode
    bot = FloorBot()
    probe = Probe()
    async with simcord.run(bot) as env:
        probe.install(env, bot)
        guild = env.create_guild(name="Floor")
        channel = guild.create_text_channel("sondages")
        actors = make_members(env, guild, members)
        view = discord.ui.View(timeout=None)
        for n in range(5):
            view.add_item(FloorButton(n))
        await bot.get_channel(channel.id).send("Floor poll", view=view)
        await env.settle()
        message = channel.last_message
        custom_ids = [f"floor:ack:{n}" for n in range(5)]

        def acknowledged(result: Any) -> bool:
            return result.acknowledged

        return await click_all(
            env, probe, actors, message, custom_ids, click_plan(members), acknowledged, f"floor {mode}"
        )


class RawWriter:
    """The storage floor of one vote: the raw driver's single upsert of an answer row and its
    commit — aiosqlite with our PRAGMAs and ``BEGIN IMMEDIATE`` on SQLite, a prepared asyncpg
    statement in autocommit on PostgreSQL — on the same database and question as ours, other
    members."""

    def __init__(self, url: str, question_id: int) -> None:
        self.url, self.question_id = url, question_id
        self._db: Any = None  # an aiosqlite connection, or an asyncpg one
        self._statement: Any = None  # PostgreSQL: the prepared upsert

    async def open(self) -> RawWriter:
        if self.url.startswith("sqlite"):
            import aiosqlite

            self._db = await aiosqlite.connect(self.url.split("///", 1)[1], isolation_level=None)
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=30000"):
                await self._db.execute(f"PRAGMA {pragma}")
            return self
        import asyncpg

        self._db = await asyncpg.connect(self.url.replace("postgresql+asyncpg://", "postgresql://", 1))
        self._statement = await self._db.prepare(
            "INSERT INTO answers (question_id, user_id, answered_at, updated_at) VALUES ($1, $2, $3, $3) "
            "ON CONFLICT (question_id, user_id) DO UPDATE SET updated_at = excluded.updated_at"
        )
        return self

    async def write(self, user_id: int) -> float:
        """One upsert + commit; its latency in seconds."""
        if self._statement is None:
            t0 = time.perf_counter()
            await self._db.execute("BEGIN IMMEDIATE")
            await self._db.execute(
                "INSERT INTO answers (question_id, user_id, answered_at, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (question_id, user_id) DO UPDATE SET updated_at = excluded.updated_at",
                (self.question_id, user_id, _SQLITE_NOW, _SQLITE_NOW),
            )
            await self._db.execute("COMMIT")
            return time.perf_counter() - t0
        t0 = time.perf_counter()
        await self._statement.fetch(self.question_id, user_id, _PG_NOW)  # autocommit: its own transaction
        return time.perf_counter() - t0

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None


async def storage_floor(url: str, question_id: int, count: int = 2000) -> list[float]:
    """The storage floor back to back: ``count`` raw writes one after the other, nothing between
    them (the driver's thread or the server process never goes idle).  Per-call latencies."""
    writer = await RawWriter(url, question_id).open()
    try:
        return [await writer.write(8_000_000 + i) for i in range(count)]
    finally:
        await writer.close()


class StorageFloorButton(discord.ui.DynamicItem[discord.ui.Button], template=r"bench:store:(?P<n>[0-9]+)"):
    """The storage floor between our clicks: a button the benchmark adds to ``ReseauBot`` (on a
    message of its own), clicked by the same member right after each vote.  Its callback does one
    raw write (:class:`RawWriter`, timed alone) and ``defer()``; it sees what our vote sees — the
    same bot, loop and SimCord settling, a database connection idle since the click before."""

    writer: RawWriter | None = None
    latencies: list[float] = []
    interactions: set[int] = set()

    def __init__(self, n: int) -> None:
        super().__init__(discord.ui.Button(label="floor", custom_id=f"bench:store:{n}"))

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: Any
    ) -> StorageFloorButton:
        return cls(int(match["n"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        cls = StorageFloorButton
        cls.interactions.add(interaction.id)
        assert cls.writer is not None
        cls.latencies.append(await cls.writer.write(9_000_000 + len(cls.latencies)))
        await interaction.response.defer()


async def question_of(url: str, poll_id: int) -> int:
    from storage.models import Question

    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            return int(await session.scalar(select(Question.id).where(Question.poll_id == poll_id)))
    finally:
        await engine.dispose()


async def part_a(backends: list[tuple[str, str | None]], folder: Path, members: int, runs: int = 3) -> list[str]:
    """Each side ``runs`` times, interleaved (framework floors, then on each database ours and the
    storage floor); the medians of the runs' p50 and p99 give the ratios."""
    verdicts = []
    print(f"\n=== (a) dispatch latency on SimCord: {members} members, {2 * members} button clicks, "
          f"{runs} runs interleaved ===")
    figures: dict[str, dict[str, list[float]]] = {}

    def record(side: str, latencies: list[float]) -> None:
        entry = figures.setdefault(side, {"p50": [], "p99": []})
        entry["p50"].append(pct(latencies, 50))
        entry["p99"].append(pct(latencies, 99))

    for run in range(runs):
        for mode in ("defer", "ephemeral"):
            latencies, info = await run_floor(mode, members)
            record(f"floor-{mode}", latencies)
            print(f"  run {run + 1} floor ({'defer()' if mode == 'defer' else 'ephemeral send_message'}): "
                  f"{summary(latencies)}")
            print(f"    interactions {info['interactions']}, missing callback {info['missing_callback']}, "
                  f"not acknowledged {info['bad_response']}, wall {info['wall']:.1f} s; {info['gc']}")
        for kind, pg_url in backends:
            name = "SQLite" if kind == "sqlite" else "PostgreSQL"
            url = await fresh_database(kind, pg_url, folder, f"dispatch{run}")
            latencies, info = await run_ours(url, folder, members)
            record(f"ours-{kind}", latencies)
            print(f"  run {run + 1} ours, ReseauBot on {name}: {summary(latencies)}")
            print(f"    interactions {info['interactions']}, missing callback {info['missing_callback']}, "
                  f"unconfirmed {info['bad_response']}, wall {info['wall']:.1f} s; stored answers "
                  f"{info['stored']} (expected {info['expected']}), equal to the member's last click "
                  f"{info['stored_ok']}; public message edits {info['edits']}; {info['gc']}")
            record(f"storage-{kind}", info["storage_between"])
            print(f"  run {run + 1} storage floor between our clicks, the raw driver's upsert + commit on {name}: "
                  f"{summary(info['storage_between'])}")
            storage = await storage_floor(url, await question_of(url, info["poll_id"]))
            record(f"storage-b2b-{kind}", storage)
            print(f"  run {run + 1} storage floor back to back, the same writes one after the other: {summary(storage)}")

    def med(side: str, p: str) -> float:
        return statistics.median(figures[side][p])

    print(f"\n  medians of {runs} runs: floor defer() p50 {ms(med('floor-defer', 'p50'))} p99 "
          f"{ms(med('floor-defer', 'p99'))}; ephemeral send p50 {ms(med('floor-ephemeral', 'p50'))}")
    for kind, _ in backends:
        name = "SQLite" if kind == "sqlite" else "PostgreSQL"
        for p in ("p50", "p99"):
            bound = med("floor-defer", p) + med(f"storage-{kind}", p)
            print(f"  {name} {p}: ours {ms(med(f'ours-{kind}', p))} / (framework floor "
                  f"{ms(med('floor-defer', p))} + storage floor between our clicks "
                  f"{ms(med(f'storage-{kind}', p))} = {ms(bound)})")
            verdicts.append(ratio_line(f"vote-{p}-{kind}", med(f"ours-{kind}", p) / bound,
                                       1.5 if p == "p50" else "none, printed"))
            print("  " + verdicts[-1])
        # the same against the back-to-back storage floor (a connection that never goes idle)
        bound = med("floor-defer", "p50") + med(f"storage-b2b-{kind}", "p50")
        print(f"  {name} p50 against the back-to-back storage floor {ms(med(f'storage-b2b-{kind}', 'p50'))}: "
              f"{ms(med(f'ours-{kind}', 'p50'))} / {ms(bound)}")
        verdicts.append(ratio_line(f"vote-p50-{kind}-b2b", med(f"ours-{kind}", "p50") / bound, "none, printed"))
        print("  " + verdicts[-1])
    return verdicts


# ----------------------------------------------------------------------------- (b) service
def service_for(url: str) -> tuple[PollService, Any]:
    engine = create_engine(url)
    service = PollService(session_factory(engine), catalogue=Catalogue.load(), settings=PollsSection())
    return service, engine


async def vote_load(
    service: PollService, poll: Any, plan: list[tuple[int, int]], in_flight: int
) -> tuple[list[float], int, int, dict[int, int]]:
    """Run ``plan`` ((user, option id) in order) with ``in_flight`` workers; returns the
    latencies, the errors, the member-lock waits and each member's last vote sent."""
    queue: asyncio.Queue[tuple[int, int]] = asyncio.Queue()
    for item in plan:
        queue.put_nowait(item)
    locks: dict[int, asyncio.Lock] = {}
    latencies: list[float] = []
    errors: list[BaseException] = []
    waits = 0
    last: dict[int, int] = {}

    async def worker() -> None:
        nonlocal waits
        while True:
            try:
                user_id, option_id = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            lock = locks.setdefault(user_id, asyncio.Lock())
            if lock.locked():
                waits += 1
            async with lock:
                last[user_id] = option_id
                t0 = time.perf_counter()
                try:
                    await service.vote(poll.id, user_id=user_id, option_id=option_id)
                except Exception as exc:  # a vote that raised is a lost vote
                    errors.append(exc)
                latencies.append(time.perf_counter() - t0)

    await asyncio.gather(*(worker() for _ in range(in_flight)))
    if errors:
        kinds = Counter(f"{type(exc).__name__}: {str(exc)[:120]}" for exc in errors)
        for kind, count in kinds.most_common():
            print(f"    error x{count}: {kind}")
    return latencies, len(errors), waits, last


async def part_b(
    backends: list[tuple[str, str | None]],
    folder: Path,
    votes: int,
    members: int,
    in_flight: int,
    warmup: int,
    gc_freeze: bool = True,
) -> list[str]:
    verdicts = []
    print(f"\n=== (b) PollService.vote: {votes} votes from {members} members, {in_flight} in flight ===")
    for kind, pg_url in backends:
        name = "SQLite" if kind == "sqlite" else "PostgreSQL"
        url = await fresh_database(kind, pg_url, folder, "service")
        service, engine = service_for(url)
        try:
            pool = engine.pool
            print(
                f"  {name}: pool {type(pool).__name__} size {getattr(pool, 'size', lambda: '?')()}, "
                f"overflow {getattr(pool, '_max_overflow', '?')}"
            )
            # a named poll: the checks below read the stored answers by member id ((a) votes in the
            # default, anonymous poll, whose answers hold each member's pseudonym)
            draft = service.prepare(
                guild_id=1, channel_id=2, author_id=3, question="Quel format ?", options=OPTIONS, anonymous=False
            )
            poll = await service.create(draft)
            option_ids = [o.id for o in poll.options]
            rng = random.Random(11)
            if gc_freeze:  # the end of start-up, as in ReseauBot.setup_hook
                gc.freeze()

            # calibration: one vote at a time (other members than the load's)
            calib = [(5_000_000 + i, rng.choice(option_ids)) for i in range(500)]
            calib_lat, calib_err, _, _ = await vote_load(service, poll, calib, 1)
            print(
                f"    1 in flight (calibration, {len(calib)} votes): {summary(calib_lat)}, errors {calib_err}"
            )

            # warm-up at the same concurrency (other members; not counted): compiled statements,
            # pool connections, prepared statements
            warm = [(6_000_000 + i, rng.choice(option_ids)) for i in range(warmup)]
            warm_lat, warm_err, _, _ = await vote_load(service, poll, warm, in_flight)
            print(
                f"    warm-up ({len(warm)} votes, {in_flight} in flight, not counted): {summary(warm_lat)}, "
                f"errors {warm_err}"
            )

            rounds = math.ceil(votes / members)
            plan = [(1_000_000 + m, rng.choice(option_ids)) for _ in range(rounds) for m in range(members)][
                :votes
            ]
            gc.collect()
            heap = len(gc.get_objects())
            t0 = time.perf_counter()
            with GcPauses() as pauses:
                latencies, errors, waits, last = await vote_load(service, poll, plan, in_flight)
            elapsed = time.perf_counter() - t0
            stored = await stored_answers(url, poll.question_id)
            load_users = {u: o for u, o in stored.items() if 1_000_000 <= u < 5_000_000}
            matching = sum(1 for user, option in last.items() if load_users.get(user) == {option})
            lost = len(last) - matching
            throughput = len(plan) / elapsed
            print(
                f"    {in_flight} in flight: {len(plan)} votes in {elapsed:.2f} s = {throughput:.0f} votes/s"
            )
            print(f"    latency per vote: {summary(latencies)}; {pauses} (heap {heap} tracked objects)")
            print(
                f"    votes sent {len(plan)}, errors {errors}, member-lock waits {waits}; answers stored "
                f"{len(load_users)} (expected {len(last)} distinct members), equal to the member's last "
                f"vote {matching}, lost {lost}"
            )
            print(
                f"    Little's law: {in_flight} / {throughput:.0f} votes/s = {ms(in_flight / throughput)} "
                f"expected mean latency"
            )

            # deliberate double click: same member, same option, twice at once
            double_user = 9_000_000
            pair = await asyncio.gather(
                service.vote(poll.id, user_id=double_user, option_id=option_ids[2]),
                service.vote(poll.id, user_id=double_user, option_id=option_ids[2]),
                return_exceptions=True,
            )
            pair_errors = [r for r in pair if isinstance(r, BaseException)]
            rows = await answer_rows(engine, poll.question_id, [double_user])
            print(
                f"    double click (1 member, same option, twice at once): answer rows {rows[0]}, "
                f"choice rows {rows[1]}, errors {len(pair_errors)} {[repr(e)[:100] for e in pair_errors]}"
            )
            many = [9_100_000 + i for i in range(200)]
            results = await asyncio.gather(
                *(
                    service.vote(poll.id, user_id=u, option_id=option_ids[i % 5])
                    for i, u in enumerate(many)
                    for _ in range(2)
                ),
                return_exceptions=True,
            )
            many_errors = sum(1 for r in results if isinstance(r, BaseException))
            many_rows = await answer_rows(engine, poll.question_id, many)
            print(
                f"    200 double clicks at once (400 votes): answer rows {many_rows[0]} (expected 200), "
                f"choice rows {many_rows[1]} (expected 200), errors {many_errors}"
            )
            p99 = pct(latencies, 99)
            double_ok = rows == (1, 1) and not pair_errors and many_rows == (200, 200) and not many_errors
            ok = p99 < 0.050 and lost == 0 and errors == 0 and double_ok
            verdict = (
                f"(b) {name}: {throughput:.0f} votes/s, p50 {ms(pct(latencies, 50))}, p99 {ms(p99)} "
                f"(< 50 ms: {'PASS' if p99 < 0.050 else 'FAIL'}), lost {lost} + errors {errors} "
                f"({'PASS' if lost == 0 and errors == 0 else 'FAIL'}), double click stored once: "
                f"{'PASS' if double_ok else 'FAIL'} -> {'PASS' if ok else 'FAIL'}"
            )
            print("  " + verdict)
            verdicts.append(verdict)
        finally:
            await service.aclose()
            await engine.dispose()
    return verdicts


async def answer_rows(engine: Any, question_id: int, users: list[int]) -> tuple[int, int]:
    async with session_factory(engine)() as session:
        answers = await session.scalar(
            select(func.count(Answer.id)).where(Answer.question_id == question_id, Answer.user_id.in_(users))
        )
        choices = await session.scalar(
            select(func.count())
            .select_from(AnswerChoice)
            .join(Answer, Answer.id == AnswerChoice.answer_id)
            .where(Answer.question_id == question_id, Answer.user_id.in_(users))
        )
    return int(answers or 0), int(choices or 0)


# ----------------------------------------------------------------------------- main
async def main(args: argparse.Namespace) -> int:
    pg_url = args.pg_url or os.environ.get("RESEAU_BENCH_PG_URL") or None
    backends: list[tuple[str, str | None]] = []
    if "sqlite" in args.backend:
        backends.append(("sqlite", None))
    if "pg" in args.backend:
        if pg_url:
            backends.append(("pg", pg_url))
        else:
            print("note: PostgreSQL skipped (no --pg-url and no RESEAU_BENCH_PG_URL)")
    print(f"{machine()}, discord.py {discord.__version__}, simcord {simcord.__version__}")
    if args.gc_freeze:
        gc.freeze()
        print(
            "gc.freeze() after the imports and after (b)'s set-up, as ReseauBot.setup_hook does at the "
            "end of start-up (--no-gc-freeze: off)"
        )
    else:
        print(
            "no gc.freeze() in (b) (--no-gc-freeze); (a)'s ReseauBot still freezes at the end of setup_hook"
        )
    verdicts: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-polls-") as tmp:
        folder = Path(tmp)
        if "a" in args.part:
            verdicts += await part_a(backends, folder, args.members, args.runs)
        if "b" in args.part:
            verdicts += await part_b(
                backends, folder, args.votes, args.voters, args.in_flight, args.warmup, args.gc_freeze
            )
    print("\n=== summary ===")
    for verdict in verdicts:
        print(verdict)
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    p.add_argument("--pg-url", help="PostgreSQL URL (emptied!); default: $RESEAU_BENCH_PG_URL")
    p.add_argument("--part", default="ab", help="a, b or ab (default)")
    p.add_argument("--backend", nargs="+", default=["sqlite", "pg"], choices=["sqlite", "pg"])
    p.add_argument("--members", type=int, default=1000, help="(a) members, each clicks twice")
    p.add_argument("--runs", type=int, default=3, help="(a) runs of each side, interleaved (medians)")
    p.add_argument("--votes", type=int, default=10_000, help="(b) votes")
    p.add_argument("--voters", type=int, default=2000, help="(b) members")
    p.add_argument("--in-flight", type=int, default=200, help="(b) concurrent votes")
    p.add_argument(
        "--gc-freeze",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="(b) gc.freeze() after the imports and the set-up, as ReseauBot.setup_hook does (default: on)",
    )
    p.add_argument("--warmup", type=int, default=1000, help="(b) votes before the measured ones")
    return p.parse_args(argv)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    sys.exit(asyncio.run(main(parse_args())))
