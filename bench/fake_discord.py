"""A loopback stand-in for Discord's REST API, with Discord's rate-limit headers and 429s.

SimCord replaces discord.py's HTTP layer, so discord.py's own rate limiter (``discord/http.py``:
``Ratelimit`` buckets, ``X-RateLimit-*`` headers, 429 handling) never runs in the test suite. This
server answers discord.py's *real* ``HTTPClient`` the way Discord does for the few routes a
fan-out needs, so a benchmark can measure what posting to ~200 channels really costs.

In-process::

    async with FakeDiscordREST(global_rate=50, per_channel_limit=5, per_channel_window=5.0) as srv:
        discord.http.Route.BASE = srv.base_url          # http://127.0.0.1:PORT/api/v10
        ...
        srv.messages, srv.stats

Separate process (prints its base URL on the first stdout line, serves until SIGTERM/SIGINT/SIGKILL)::

    python bench/fake_discord.py --port 0 --state /tmp/posts.jsonl
    python bench/fake_discord.py --summarize /tmp/posts.jsonl     # duplicates per channel, as JSON

Routes (under ``/api/v10``, all behind ``Authorization: Bot <token>``, 401 otherwise):

* ``GET /users/@me`` and ``GET /oauth2/applications/@me`` (what ``discord.Client.login()`` calls),
  ``GET /gateway/bot`` (points at the gateway below);
* ``PUT /applications/{id}/commands`` and ``PUT /applications/{id}/guilds/{guild}/commands`` (a
  command sync: the commands echoed back with ids);
* ``POST /channels/{id}/messages`` (JSON, or multipart with ``payload_json``), honouring
  ``nonce`` + ``enforce_nonce`` like Discord: same nonce in the same channel within ``nonce_ttl``
  seconds returns the first message instead of creating another;
* ``GET /channels/{id}/messages?limit=&before=&after=&around=`` newest first;
* channels in ``missing_channels`` answer 404 ``{"message": "Unknown Channel", "code": 10003}``,
  in ``forbidden_channels`` 403 ``{"message": "Missing Permissions", "code": 50013}``; any other
  path 404 ``{"message": "404: Not Found", "code": 0}``.

A small *world* of guilds, roles, members and channels, for what ``reseau-bot check`` reads (declare
it with ``add_guild`` / ``add_role`` / ``add_member`` / ``add_channel``, the ``world=`` argument or
``--world FILE.json``, shaped like :meth:`FakeDiscordREST.load_world`'s input):

* ``GET /applications/@me`` (the application of the bot, ``flags`` from ``application_flags``);
* ``GET /guilds/{id}``, ``GET /guilds/{id}/roles``: 404 ``Unknown Guild`` (10004) for a guild not
  declared, 403 ``Missing Access`` (50001) for a declared guild the bot is not a member of;
* ``GET /guilds/{id}/members/{user_id}``: 404 ``Unknown Member`` (10007) for a non-member;
* ``GET /channels/{id}`` with its ``permission_overwrites``: 404 ``Unknown Channel`` for a channel
  not declared, 403 ``Missing Access`` when the bot is not in its guild or cannot view it (its
  effective permissions lack VIEW_CHANNEL, computed here independently of the bot's code).

Every body is shaped as Discord's OpenAPI description says (``tests/test_fake_discord.py`` validates
them). ``inject_failure(path, status=…)`` makes the next request(s) on an ``/api`` path answer a 5xx,
a 429 with ``retry_after``, or a body that is not JSON.

A loopback **gateway** websocket at ``ws://127.0.0.1:PORT/gateway`` (``gateway_url``; point
``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` or ``discord.gateway_url`` at it): HELLO,
heartbeat ACKs, and on IDENTIFY a READY listing the world's guilds (the bot's own) as unavailable,
then one GUILD_CREATE per guild with its roles and channels — what a real session start-up sends,
so a benchmark can measure a client at rest after READY (``bench/bench_memory.py``).
``gateway_sessions`` counts the IDENTIFYs.

**Shards**: an IDENTIFY carrying ``shard: [id, count]`` gets a READY with that ``shard`` and only
the guilds Discord routes to it, ``(guild_id >> 22) % count == id``; so does every later event of
a guild (:meth:`FakeDiscordREST.dispatch_guild_event` sends it to the session of the guild's
shard, as Discord does; direct messages go to shard 0).  ``shard_sessions`` maps each shard id to
its open sessions; ``identifies`` lists every ``(shard id, count)`` identified.  Several processes
of one bot share one server and so one global rate limit, Discord's per-bot limit.
``PATCH /channels/{id}/messages/{id}`` edits a stored message (``edits`` counts them).
Interactions: :meth:`FakeDiscordREST.click` sends a button click (INTERACTION_CREATE) of a member
to the shard of the message's guild; the bot's answer (``POST /interactions/{id}/{token}/callback``,
and follow-ups on ``/webhooks/{application}/{token}``) is recorded in ``interaction_responses``.
As on Discord, those routes take no bot token and are not counted in the global limit.

Test-only control routes, outside ``/api`` and never rate limited: ``GET /_fake/stats`` and
``GET /_fake/messages``.

Rate limits:

* message create has one bucket per channel (Discord's major parameter): ``per_channel_limit``
  requests per ``per_channel_window`` seconds, a fixed window opened by the first request (the
  model discord.py's ``Ratelimit`` implements). Every response on that route carries
  ``X-RateLimit-Limit/-Remaining/-Reset/-Reset-After/-Bucket``; going over answers 429 with
  ``X-RateLimit-Scope: user`` and ``"global": false``.
* one global limit of ``global_rate`` requests/s over every ``/api`` route. Going over answers 429
  with ``"global": true``, ``X-RateLimit-Global: true``, ``X-RateLimit-Scope: global`` and no
  bucket headers (as Discord does). Two algorithms:

  - ``"gcra"`` (default): a token bucket of capacity ``global_burst`` (default 5, enough to absorb
    a paced client's timer jitter) refilled at ``global_rate``/s, written as GCRA. N requests
    need at least ``(N - global_burst) / global_rate`` seconds. A rejected request is *given a
    slot*: its ``retry_after`` is the time to the next free slot, and that slot is held for the
    same request (same method, path and payload) when it comes back; fresh requests cannot take
    it. So a herd of concurrent 429s spreads out instead of retrying all at the same instant
    (discord.py gives up after 5 tries). Held slots count against the rate; one never claimed is
    dropped after ``1 s + latency``.
  - ``"window"``: ``global_rate * global_window`` requests per fixed window that opens with the
    first request; every 429 says "retry at the window's end". This is how Discord's global limit
    was observed to behave (1 s windows, discord-api-docs#5144), herd retries included.

Every decision (route bucket, global limiter, nonce look-up, insert) happens without an ``await``
in between, so it is atomic on the server's event loop however many requests are in flight.

Every 429 and every response carries ``Via: 1.1 google`` and an exact
``Content-Type: application/json``: discord.py treats a 429 without ``Via`` (or with a non-JSON
body) as a Cloudflare ban and raises ``HTTPException`` instead of retrying, and it only decodes
bodies whose content type is exactly ``application/json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import math
import os
import signal
import socket
import sys
import time
from collections import Counter, deque
from collections.abc import Hashable, Iterable
from pathlib import Path
from typing import Any

from aiohttp import web

API_PREFIX = "/api/v10"
DISCORD_EPOCH_MS = 1420070400000
MESSAGE_CREATE_BUCKET = "80c17d2f203122d936070c88c8d10f33"  # opaque, like Discord's hashes
DEFAULT_BOT_ID = 1100000000000000001
MAX_NONCE_LENGTH = 25
MAX_CONTENT_LENGTH = 2000

# Permission bits the world's visibility rule needs (Discord's documented values).
ADMINISTRATOR = 1 << 3
VIEW_CHANNEL = 1 << 10
# A new guild's @everyone, roughly: see, write, embed, attach, read history, react, polls.
EVERYONE_DEFAULT = (
    (1 << 6) | (1 << 10) | (1 << 11) | (1 << 14) | (1 << 15) | (1 << 16) | (1 << 18) | (1 << 26) | (1 << 49)
)
GUILD_TEXT = 0
ROLE_OVERWRITE = 0
MEMBER_OVERWRITE = 1

JsonDict = dict[str, Any]


# --------------------------------------------------------------------------- rate limiters
def _ceil_ms(seconds: float) -> float:
    """Round up to the millisecond, so a client that waits exactly this long is never early."""
    return math.ceil(max(seconds, 0.0) * 1000.0) / 1000.0


class GcraLimiter:
    """Token bucket (capacity ``burst``, ``rate`` tokens/s) that holds a slot for each 429.

    ``key`` identifies a request across its retries (method, path and payload): a rejected request
    is promised the next free slot, and only a request with the same key can claim it, so requests
    arriving fresh cannot steal the slots of those told to come back.
    """

    def __init__(self, rate: float, burst: int = 1, *, grace: float = 1.0) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.interval = 1.0 / rate
        self.tolerance = (burst - 1) * self.interval
        self.grace = grace
        self._tat: float | None = None  # theoretical arrival time of the next conforming request
        self._held: dict[Hashable, deque[float]] = {}  # key -> slots promised to it, ascending
        self._last_sweep = 0.0

    def _sweep(self, now: float) -> None:
        """Forget slots never claimed: their capacity is lost, as if they had been used."""
        if now - self._last_sweep < 0.25:
            return
        self._last_sweep = now
        for key in list(self._held):
            slots = self._held[key]
            while slots and slots[0] < now - self.grace:
                slots.popleft()
            if not slots:
                del self._held[key]

    def try_acquire(self, now: float, key: Hashable = None) -> float | None:
        """None if the request may go now, else the seconds to wait (its slot is held for it)."""
        self._sweep(now)
        slots = self._held.get(key)
        if slots:
            if slots[0] <= now:
                slots.popleft()
                if not slots:
                    del self._held[key]
                return None
            return slots[0] - now  # came back early: same slot
        tat = now if self._tat is None else max(self._tat, now)
        self._tat = tat + self.interval
        if tat - self.tolerance <= now:
            return None
        slot = tat - self.tolerance
        self._held.setdefault(key, deque()).append(slot)
        return slot - now


class WindowLimiter:
    """``limit`` requests per fixed ``window`` seconds; the window opens with its first request."""

    def __init__(self, limit: int, window: float) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self._count = 0
        self._reset_at: float | None = None

    def try_acquire(self, now: float, key: Hashable = None) -> float | None:
        if self._reset_at is None or now >= self._reset_at:
            self._count = 0
            self._reset_at = now + self.window
        if self._count < self.limit:
            self._count += 1
            return None
        return self._reset_at - now


class ChannelBucket:
    """Discord's per-route bucket for one channel: ``limit`` per ``window`` seconds, fixed window."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self.count = 0
        self.reset_at: float | None = None

    def _refresh(self, now: float) -> None:
        if self.reset_at is not None and now >= self.reset_at:
            self.count = 0
            self.reset_at = None

    def available(self, now: float) -> bool:
        self._refresh(now)
        return self.count < self.limit

    def consume(self, now: float) -> None:
        self._refresh(now)
        if self.reset_at is None:
            self.reset_at = now + self.window
        self.count += 1

    def reset_after(self, now: float) -> float:
        self._refresh(now)
        return self.window if self.reset_at is None else self.reset_at - now

    def headers(self, now: float) -> dict[str, str]:
        reset_after = _ceil_ms(self.reset_after(now))
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(self.limit - self.count, 0)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": MESSAGE_CREATE_BUCKET,
        }


# --------------------------------------------------------------------------- helpers
def _json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> web.Response:
    # discord.py's json_or_text() compares the content type to exactly "application/json";
    # aiohttp's json_response() would append "; charset=utf-8" and discord.py would see a str.
    all_headers = {"Content-Type": "application/json", "Via": "1.1 google"}
    if headers:
        all_headers.update(headers)
    return web.Response(status=status, body=json.dumps(payload).encode(), headers=all_headers)


def _error(status: int, message: str, code: int, headers: dict[str, str] | None = None, **extra: Any):
    return _json_response(status, {"message": message, "code": code, **extra}, headers)


def _form_error(field: str, code: str, message: str) -> web.Response:
    errors = {field: {"_errors": [{"code": code, "message": message}]}}
    return _error(400, "Invalid Form Body", 50035, errors=errors)


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat()


def load_state(path: str | os.PathLike[str]) -> list[JsonDict]:
    """Records of a ``--state`` file; a torn last line (process killed mid-write) is skipped."""
    records: list[JsonDict] = []
    p = Path(path)
    if not p.exists():
        return records
    with p.open(encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records


def summarize_state(path: str | os.PathLike[str]) -> JsonDict:
    """Count what a run left behind: messages per channel and the duplicates among them."""
    records = load_state(path)
    per_channel = Counter(r["channel_id"] for r in records)
    per_content = Counter((r["channel_id"], r.get("content")) for r in records)
    return {
        "messages": len(records),
        "channels": len(per_channel),
        "channels_with_duplicates": sorted(c for c, n in per_channel.items() if n > 1),
        "duplicate_messages": sum(n - 1 for n in per_channel.values()),
        "duplicate_same_content": sum(n - 1 for n in per_content.values()),
    }


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard Discord routes a guild's events to."""
    return (int(guild_id) >> 22) % max(int(shard_count), 1)


# --------------------------------------------------------------------------- the server
class FakeDiscordREST:
    """aiohttp server on 127.0.0.1 answering like Discord's REST API for a message fan-out."""

    def __init__(
        self,
        *,
        port: int = 0,
        global_rate: float = 50.0,
        global_burst: int = 5,
        global_algorithm: str = "gcra",
        global_window: float = 1.0,
        per_channel_limit: int = 5,
        per_channel_window: float = 5.0,
        latency: float = 0.0,
        nonce_ttl: float = 300.0,
        missing_channels: Iterable[int] = (),
        forbidden_channels: Iterable[int] = (),
        state_path: str | os.PathLike[str] | None = None,
        token: str | None = None,
        bot_user_id: int = DEFAULT_BOT_ID,
        application_flags: int = 0,
        world: JsonDict | None = None,
    ) -> None:
        if global_algorithm not in ("gcra", "window"):
            raise ValueError("global_algorithm must be 'gcra' or 'window'")
        self.port = port
        self.global_rate = global_rate
        self.global_burst = global_burst
        self.global_algorithm = global_algorithm
        self.global_window = global_window
        self.per_channel_limit = per_channel_limit
        self.per_channel_window = per_channel_window
        self.latency = latency
        self.nonce_ttl = nonce_ttl
        # Seconds a created message's answer is held: Discord took the message, its answer is
        # late — a client killed meanwhile never learns the id (the calendar's kill test).
        # release_answers() answers the held requests at once and holds no more.
        self.answer_held = 0.0
        self._release_answers = asyncio.Event()
        self.missing_channels: set[int] = {int(c) for c in missing_channels}
        self.forbidden_channels: set[int] = {int(c) for c in forbidden_channels}
        self.state_path = Path(state_path) if state_path is not None else None
        self.token = token
        self.bot_user: JsonDict = {
            "id": str(bot_user_id),
            "username": "reseau-bot",
            "global_name": None,
            "discriminator": "0",
            "avatar": None,
            "bot": True,
            "system": False,
            "mfa_enabled": False,
            "flags": 0,
            "public_flags": 0,
            "verified": True,
            "primary_guild": None,
            "locale": "en-US",
        }
        self.application_flags = application_flags
        # The world (see the module doc): guild id -> guild, guild id -> role id -> role,
        # guild id -> user id -> role ids, channel id -> channel.
        self.guilds: dict[int, JsonDict] = {}
        self.roles: dict[int, dict[int, JsonDict]] = {}
        self.members: dict[int, dict[int, list[int]]] = {}
        self.channels: dict[int, JsonDict] = {}
        self._failures: dict[str, deque[tuple[int, bytes, dict[str, str]]]] = {}
        if world:
            self.load_world(world)
        self.messages: list[JsonDict] = []
        self.stats: dict[str, int] = {}
        self.reset_stats()
        self._global = self._make_global_limiter()
        self._buckets: dict[int, ChannelBucket] = {}
        self._by_channel: dict[str, list[JsonDict]] = {}
        self._by_nonce: dict[tuple[str, str], JsonDict] = {}
        self._last_snowflake = 0
        self._in_flight = 0
        self._state_fh: Any = None
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        self.gateway_url = ""
        self.gateway_sessions = 0
        self.identifies: list[tuple[int, int]] = []
        self.shard_sessions: dict[int, list[Any]] = {}
        self.edits: list[JsonDict] = []
        self.interaction_responses: list[JsonDict] = []

    # ---- lifecycle
    def _make_global_limiter(self) -> GcraLimiter | WindowLimiter:
        if self.global_algorithm == "window":
            return WindowLimiter(max(1, round(self.global_rate * self.global_window)), self.global_window)
        return GcraLimiter(self.global_rate, self.global_burst, grace=1.0 + self.latency)

    def reset_stats(self) -> None:
        self.stats.clear()
        self.stats.update(
            requests=0,
            created=0,
            dedup_by_nonce=0,
            rate_limited_global=0,
            rate_limited_route=0,
            not_found=0,
            forbidden=0,
            bad_request=0,
            unauthorized=0,
            max_in_flight=0,
        )

    def _open_state(self) -> None:
        if self.state_path is None:
            return
        for record in load_state(self.state_path):
            self._remember(record)
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        self._state_fh = self.state_path.open("a", encoding="utf-8")

    def _close_state(self) -> None:
        if self._state_fh is not None:
            self._state_fh.close()
            self._state_fh = None

    async def start(self) -> str:
        self._open_state()
        app = web.Application(middlewares=[self._middleware], client_max_size=32 * 1024 * 1024)
        r = app.router
        r.add_get("/_fake/stats", self._fake_stats)
        r.add_get("/_fake/messages", self._fake_messages)
        r.add_get(API_PREFIX + "/users/@me", self._get_me)
        r.add_get(API_PREFIX + "/oauth2/applications/@me", self._get_application)
        r.add_get(API_PREFIX + "/applications/@me", self._get_application)
        r.add_get(API_PREFIX + "/guilds/{guild_id}", self._get_guild)
        r.add_get(API_PREFIX + "/guilds/{guild_id}/roles", self._get_roles)
        r.add_get(API_PREFIX + "/guilds/{guild_id}/members/{user_id}", self._get_member)
        r.add_get(API_PREFIX + "/channels/{channel_id}", self._get_channel)
        r.add_get(API_PREFIX + "/gateway/bot", self._get_gateway_bot)
        r.add_get(API_PREFIX + "/gateway", self._get_gateway_bot)
        r.add_post(API_PREFIX + "/channels/{channel_id}/messages", self._create_message)
        r.add_get(API_PREFIX + "/channels/{channel_id}/messages", self._list_messages)
        r.add_patch(API_PREFIX + "/channels/{channel_id}/messages/{message_id}", self._edit_message)
        r.add_post(API_PREFIX + "/interactions/{interaction_id}/{token}/callback", self._interaction_callback)
        r.add_route("*", API_PREFIX + "/webhooks/{application_id}/{token}{tail:.*}", self._interaction_followup)
        r.add_put(API_PREFIX + "/applications/{app_id}/commands", self._put_commands)
        r.add_put(API_PREFIX + "/applications/{app_id}/guilds/{guild_id}/commands", self._put_commands)
        r.add_get("/gateway", self._gateway)
        r.add_route("*", "/{tail:.*}", self._unknown)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(512)
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock, backlog=512).start()
        self.base_url = f"http://127.0.0.1:{self.port}{API_PREFIX}"
        self.gateway_url = f"ws://127.0.0.1:{self.port}/gateway"
        return self.base_url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._close_state()

    async def __aenter__(self) -> FakeDiscordREST:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- data
    def _next_snowflake(self) -> int:
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        value = (ms << 22) | (1 << 17) | ((os.getpid() & 0x1F) << 12)
        if value <= self._last_snowflake:
            value = self._last_snowflake + 1
        self._last_snowflake = value
        return value

    def _remember(self, record: JsonDict) -> None:
        self.messages.append(record)
        self._by_channel.setdefault(record["channel_id"], []).append(record)
        if record.get("nonce") is not None:
            self._by_nonce[(record["channel_id"], str(record["nonce"]))] = record
        self._last_snowflake = max(self._last_snowflake, int(record["message_id"]))

    def _persist(self, record: JsonDict) -> None:
        if self._state_fh is not None:
            self._state_fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            self._state_fh.flush()

    def messages_in(self, channel_id: int) -> list[JsonDict]:
        """Messages of a channel, oldest first."""
        return list(self._by_channel.get(str(channel_id), []))

    # ---- the world: guilds, roles, members, channels
    @property
    def bot_id(self) -> int:
        return int(self.bot_user["id"])

    def add_guild(
        self,
        guild_id: int,
        name: str = "Réseau",
        *,
        owner_id: int = 1100000000000000099,
        everyone_permissions: int = EVERYONE_DEFAULT,
        bot_member: bool = True,
        bot_roles: Iterable[int] = (),
    ) -> JsonDict:
        """A guild with its @everyone role (id = the guild's); the bot is a member unless told."""
        guild = {"id": int(guild_id), "name": name, "owner_id": int(owner_id)}
        self.guilds[int(guild_id)] = guild
        self.roles[int(guild_id)] = {}
        self.members[int(guild_id)] = {}
        self.add_role(guild_id, guild_id, "@everyone", permissions=everyone_permissions, position=0)
        if bot_member:
            self.add_member(guild_id, self.bot_id, roles=bot_roles)
        return guild

    def add_role(
        self,
        guild_id: int,
        role_id: int,
        name: str,
        *,
        permissions: int = 0,
        mentionable: bool = False,
        position: int | None = None,
        managed: bool = False,
    ) -> JsonDict:
        roles = self.roles[int(guild_id)]
        role = {
            "id": int(role_id),
            "name": name,
            "permissions": int(permissions),
            "mentionable": bool(mentionable),
            "position": len(roles) if position is None else position,
            "managed": managed,
        }
        roles[int(role_id)] = role
        return role

    def add_member(self, guild_id: int, user_id: int, *, roles: Iterable[int] = ()) -> None:
        self.members[int(guild_id)][int(user_id)] = [int(r) for r in roles]

    def add_channel(
        self,
        guild_id: int,
        channel_id: int,
        name: str,
        *,
        type: int = GUILD_TEXT,
        overwrites: Iterable[JsonDict] = (),
    ) -> JsonDict:
        """``overwrites``: ``{"id": role or user id, "type": 0 role | 1 member, "allow": int, "deny": int}``."""
        channel = {
            "id": int(channel_id),
            "guild_id": int(guild_id),
            "name": name,
            "type": type,
            "position": len(self.channels),
            "overwrites": [
                {"id": int(o["id"]), "type": int(o.get("type", ROLE_OVERWRITE)), "allow": int(o.get("allow", 0)),
                 "deny": int(o.get("deny", 0))}
                for o in overwrites
            ],
        }
        self.channels[int(channel_id)] = channel
        return channel

    def load_world(self, world: JsonDict) -> None:
        """``{"application_flags": 0, "guilds": [{"id", "name", "owner_id", "everyone_permissions",
        "bot_member", "bot_roles", "roles": [{"id", "name", "permissions", "mentionable"}],
        "members": [{"id", "roles"}], "channels": [{"id", "name", "type", "overwrites"}]}]}``."""
        self.application_flags = int(world.get("application_flags", self.application_flags))
        for g in world.get("guilds", []):
            gid = int(g["id"])
            self.add_guild(gid, g.get("name", "Réseau"), owner_id=int(g.get("owner_id", 1100000000000000099)),
                           everyone_permissions=int(g.get("everyone_permissions", EVERYONE_DEFAULT)),
                           bot_member=False)
            for role in g.get("roles", []):
                self.add_role(gid, int(role["id"]), role.get("name", "role"),
                              permissions=int(role.get("permissions", 0)),
                              mentionable=bool(role.get("mentionable", False)))
            if g.get("bot_member", True):
                self.add_member(gid, self.bot_id, roles=g.get("bot_roles", []))
            for member in g.get("members", []):
                self.add_member(gid, int(member["id"]), roles=member.get("roles", []))
            for ch in g.get("channels", []):
                self.add_channel(gid, int(ch["id"]), ch.get("name", "salon"), type=int(ch.get("type", GUILD_TEXT)),
                                 overwrites=ch.get("overwrites", []))

    def release_answers(self) -> None:
        """Answer the message creations held by ``answer_held`` now, and hold no more."""
        self.answer_held = 0.0
        self._release_answers.set()
        self._release_answers = asyncio.Event()

    def inject_failure(
        self,
        path: str,
        *,
        status: int = 500,
        body: Any = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """The next ``times`` requests on ``path`` (under ``/api/v10``, e.g. ``/users/@me``) answer
        ``status`` with ``body`` as JSON (default: Discord's error shape), or ``raw`` bytes as they
        are (a body that is not JSON). A 429 gets Discord's rate-limit body and headers."""
        if raw is None:
            if body is None:
                if status == 429:
                    body = {"message": "You are being rate limited.", "retry_after": 0.05, "global": False}
                else:
                    body = {"message": f"{status}: Server Error", "code": 0}
            raw = json.dumps(body).encode()
        all_headers = {"Content-Type": "application/json", "Via": "1.1 google", **(headers or {})}
        if status == 429 and isinstance(body, dict):
            all_headers.setdefault("Retry-After", str(max(1, math.ceil(float(body.get("retry_after", 1))))))
            all_headers.setdefault("X-RateLimit-Scope", "user")
        queue = self._failures.setdefault(API_PREFIX + path, deque())
        queue.extend([(status, raw, all_headers)] * times)

    def _injected(self, request: web.Request) -> web.Response | None:
        queue = self._failures.get(request.path)
        if not queue:
            return None
        status, raw, headers = queue.popleft()
        self.stats["injected"] = self.stats.get("injected", 0) + 1
        return web.Response(status=status, body=raw, headers=headers)

    def _can_view(self, channel: JsonDict) -> bool:
        """The bot's VIEW_CHANNEL in ``channel`` by Discord's documented algorithm (base from
        @everyone and the member's roles, ADMINISTRATOR, then @everyone, role and member
        overwrites), written here apart from the bot's own code."""
        gid, uid = channel["guild_id"], self.bot_id
        member_roles = self.members.get(gid, {}).get(uid)
        if member_roles is None:
            return False
        if self.guilds[gid]["owner_id"] == uid:
            return True
        roles = self.roles[gid]
        perms = roles[gid]["permissions"]
        for role_id in member_roles:
            perms |= roles.get(role_id, {}).get("permissions", 0)
        if perms & ADMINISTRATOR:
            return True
        by_id = {(o["type"], o["id"]): o for o in channel["overwrites"]}
        everyone = by_id.get((ROLE_OVERWRITE, gid))
        if everyone:
            perms = (perms & ~everyone["deny"]) | everyone["allow"]
        allow = deny = 0
        for role_id in member_roles:
            o = by_id.get((ROLE_OVERWRITE, role_id))
            if o:
                allow, deny = allow | o["allow"], deny | o["deny"]
        perms = (perms & ~deny) | allow
        mine = by_id.get((MEMBER_OVERWRITE, uid))
        if mine:
            perms = (perms & ~mine["deny"]) | mine["allow"]
        return bool(perms & VIEW_CHANNEL)

    def _role_object(self, role: JsonDict) -> JsonDict:
        obj: JsonDict = {
            "id": str(role["id"]),
            "name": role["name"],
            "permissions": str(role["permissions"]),
            "position": role["position"],
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "managed": role["managed"],
            "mentionable": role["mentionable"],
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }
        return obj

    def _guild_object(self, guild: JsonDict) -> JsonDict:
        return {
            "id": str(guild["id"]),
            "name": guild["name"],
            "icon": None,
            "description": None,
            "home_header": None,
            "splash": None,
            "discovery_splash": None,
            "features": [],
            "banner": None,
            "owner_id": str(guild["owner_id"]),
            "application_id": None,
            "region": "deprecated",
            "afk_channel_id": None,
            "afk_timeout": 300,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "widget_enabled": False,
            "widget_channel_id": None,
            "verification_level": 0,
            "roles": [self._role_object(r) for r in self.roles[guild["id"]].values()],
            "default_message_notifications": 0,
            "mfa_level": 0,
            "explicit_content_filter": 0,
            "max_presences": None,
            "max_members": 500000,
            "max_stage_video_channel_users": 50,
            "max_video_channel_users": 25,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "fr",
            "rules_channel_id": None,
            "safety_alerts_channel_id": None,
            "public_updates_channel_id": None,
            "premium_progress_bar_enabled": False,
            "nsfw": False,
            "nsfw_level": 0,
            "emojis": [],
            "stickers": [],
            "incidents_data": None,
        }

    def _channel_object(self, channel: JsonDict) -> JsonDict:
        return {
            "id": str(channel["id"]),
            "type": channel["type"],
            "flags": 0,
            "guild_id": str(channel["guild_id"]),
            "name": channel["name"],
            "position": channel["position"],
            "parent_id": None,
            "last_message_id": None,
            "topic": None,
            "nsfw": False,
            "rate_limit_per_user": 0,
            "permission_overwrites": [
                {"id": str(o["id"]), "type": o["type"], "allow": str(o["allow"]), "deny": str(o["deny"])}
                for o in channel["overwrites"]
            ],
        }

    def _message_object(self, record: JsonDict) -> JsonDict:
        obj: JsonDict = {
            "id": record["message_id"],
            "channel_id": record["channel_id"],
            "author": self.bot_user,
            "content": record.get("content") or "",
            "timestamp": _iso(record["ts"]),
            "edited_timestamp": None,
            "tts": record.get("tts", False),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": record.get("attachments", []),
            "embeds": record.get("embeds", []),
            "components": record.get("components", []),
            "reactions": [],
            "pinned": False,
            "type": 0,
            "flags": record.get("flags", 0),
        }
        if record.get("nonce") is not None:
            obj["nonce"] = record["nonce"]
        return obj

    # ---- middleware & shared checks
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if not request.path.startswith("/api/"):
            return await handler(request)
        self.stats["requests"] += 1
        self._in_flight += 1
        self.stats["max_in_flight"] = max(self.stats["max_in_flight"], self._in_flight)
        try:
            if self.latency:
                await asyncio.sleep(self.latency / 2)
            injected = self._injected(request)
            response = injected if injected is not None else await handler(request)
            if self.latency:
                await asyncio.sleep(self.latency / 2)
            return response
        finally:
            self._in_flight -= 1

    def _unauthorized(self, request: web.Request) -> web.Response | None:
        auth = request.headers.get("Authorization", "")
        ok = auth.startswith("Bot ") and len(auth) > 4
        if ok and self.token is not None:
            ok = auth == f"Bot {self.token}"
        if ok:
            return None
        self.stats["unauthorized"] += 1
        return _error(401, "401: Unauthorized", 0)

    def _global_429(self, retry_after: float) -> web.Response:
        self.stats["rate_limited_global"] += 1
        retry_after = _ceil_ms(retry_after)
        headers = {
            "Retry-After": str(max(1, math.ceil(retry_after))),
            "X-RateLimit-Global": "true",
            "X-RateLimit-Scope": "global",
        }
        body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": True}
        return _json_response(429, body, headers)

    def _gate(self, request: web.Request) -> web.Response | None:
        """Auth, then the global limit: the shared prologue of every route but message create."""
        denied = self._unauthorized(request)
        if denied is not None:
            return denied
        key = (request.method, request.path_qs)
        retry_after = self._global.try_acquire(time.monotonic(), key)
        return None if retry_after is None else self._global_429(retry_after)

    def _channel_problem(self, channel_id: int, headers: dict[str, str] | None = None) -> web.Response | None:
        if channel_id in self.missing_channels:
            self.stats["not_found"] += 1
            return _error(404, "Unknown Channel", 10003, headers)
        if channel_id in self.forbidden_channels:
            self.stats["forbidden"] += 1
            return _error(403, "Missing Permissions", 50013, headers)
        return None

    # ---- routes
    async def _fake_stats(self, request: web.Request) -> web.Response:
        return _json_response(200, {"stats": dict(self.stats), "messages": len(self.messages)})

    async def _fake_messages(self, request: web.Request) -> web.Response:
        return _json_response(200, self.messages)

    async def _unknown(self, request: web.Request) -> web.Response:
        if request.path.startswith("/api/"):
            gated = self._gate(request)
            if gated is not None:
                return gated
        self.stats["not_found"] += 1
        return _error(404, "404: Not Found", 0)

    async def _get_me(self, request: web.Request) -> web.Response:
        # Never `gate or response`: an aiohttp Response is a mapping, and an empty one is falsy.
        gated = self._gate(request)
        return gated if gated is not None else _json_response(200, self.bot_user)

    async def _get_application(self, request: web.Request) -> web.Response:
        public_user = ("id", "username", "discriminator", "avatar", "global_name", "public_flags", "flags",
                       "primary_guild", "bot")
        app = {
            "id": self.bot_user["id"],
            "name": "reseau-bot",
            "description": "",
            "icon": None,
            "type": None,
            "bot_public": False,
            "bot_require_code_grant": False,
            "owner": {**{k: self.bot_user[k] for k in public_user}, "id": "1100000000000000099",
                      "username": "owner", "bot": False},
            "team": None,
            "verify_key": "0" * 64,
            "flags": self.application_flags,
            "flags_new": str(self.application_flags),
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "role_connections_verification_url": None,
            "approximate_guild_count": len(self.guilds),
            "approximate_user_install_count": 0,
            "approximate_user_authorization_count": 0,
            "explicit_content_filter": 0,
            "eligible_oauth2_scopes": [],
            "bot": {k: self.bot_user[k] for k in public_user},
        }
        gated = self._gate(request)
        return gated if gated is not None else _json_response(200, app)

    async def _get_gateway_bot(self, request: web.Request) -> web.Response:
        body = {
            "url": self.gateway_url,
            "shards": 1,
            "session_start_limit": {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1},
        }
        gated = self._gate(request)
        return gated if gated is not None else _json_response(200, body)

    async def _put_commands(self, request: web.Request) -> web.Response:
        gated = self._gate(request)
        if gated is not None:
            return gated
        body = await request.json()
        app_id = request.match_info["app_id"]
        guild_id = request.match_info.get("guild_id")
        return _json_response(200, [
            {**c, "id": str(self._next_snowflake()), "application_id": app_id, "version": "1",
             "guild_id": guild_id, "default_member_permissions": c.get("default_member_permissions"),
             "type": c.get("type", 1), "description": c.get("description", ""), "nsfw": False,
             "dm_permission": True}
            for c in body
        ])

    # ---- the gateway
    def _guild_create(self, guild_id: int) -> JsonDict:
        """A GUILD_CREATE payload: the guild with its roles, channels and the bot as its one member."""
        channels = [c for c in self.channels.values() if c["guild_id"] == guild_id]
        return {
            **self._guild_object(self.guilds[guild_id]),
            "unavailable": False, "large": False, "member_count": len(self.members[guild_id]),
            "joined_at": _iso(time.time()), "lazy": True,
            "channels": [{k: v for k, v in self._channel_object(c).items() if k != "guild_id"} for c in channels],
            "threads": [], "voice_states": [], "presences": [], "stage_instances": [],
            "guild_scheduled_events": [], "soundboard_sounds": [],
            "members": [{"user": self.bot_user, "roles": [str(r) for r in roles], "joined_at": _iso(time.time()),
                         "deaf": False, "mute": False, "flags": 0, "nick": None, "avatar": None}
                        for user_id, roles in self.members[guild_id].items() if user_id == self.bot_id],
        }

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        """HELLO; heartbeat → ACK; IDENTIFY → READY then a GUILD_CREATE per guild of the bot."""
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        seq = 0

        async def dispatch(event: str, data: JsonDict) -> None:
            nonlocal seq
            seq += 1
            await ws.send_json({"op": 0, "t": event, "s": seq, "d": data})

        ws_closed: list[Any] = []  # what to undo when the session ends
        await ws.send_json({"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None})
        try:
            await self._session(ws, dispatch, ws_closed)
        finally:
            for undo in ws_closed:
                with contextlib.suppress(ValueError):
                    undo(dispatch)
        return ws

    async def _session(self, ws: web.WebSocketResponse, dispatch: Any, ws_closed: list[Any]) -> None:
        async for msg in ws:
            if msg.type != web.WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            if data.get("op") == 1:
                await ws.send_json({"op": 11, "d": None, "s": None, "t": None})
            elif data.get("op") == 2:
                self.gateway_sessions += 1
                shard_id, shard_count = data["d"].get("shard") or (0, 1)
                self.identifies.append((shard_id, shard_count))
                self.shard_sessions.setdefault(shard_id, []).append(dispatch)
                ws_closed.append(self.shard_sessions[shard_id].remove)
                mine = [g for g in self.guilds if self.bot_id in self.members[g]
                        and shard_of(g, shard_count) == shard_id]
                await dispatch("READY", {
                    "v": 10, "user": self.bot_user, "session_id": f"session-{self.gateway_sessions}",
                    "resume_gateway_url": self.gateway_url, "shard": [shard_id, shard_count],
                    "guilds": [{"id": str(g), "unavailable": True} for g in mine],
                    "application": {"id": self.bot_user["id"], "flags": self.application_flags},
                    "private_channels": [], "relationships": [],
                })
                for g in mine:
                    await dispatch("GUILD_CREATE", self._guild_create(g))

    async def dispatch_guild_event(self, guild_id: int | None, event: str, data: JsonDict) -> int | None:
        """Send a guild's event to the session of its shard (shard 0 for ``None``, a DM); returns
        the shard id, or None when no session of that shard is open (the event is lost, as when
        a shard is down)."""
        for shard_id, sessions in self.shard_sessions.items():
            count = next((c for s, c in reversed(self.identifies) if s == shard_id), 1)
            if sessions and shard_of(guild_id or 0, count) == shard_id:
                await sessions[-1](event, data)
                return shard_id
        return None

    def _guild_problem(self, raw_id: str) -> web.Response | None:
        """Discord's answers for a guild the bot cannot read: unknown, or not a member."""
        guild_id = int(raw_id) if raw_id.isdigit() else None
        if guild_id is None:
            return _form_error("guild_id", "NUMBER_TYPE_COERCE", "Not a snowflake.")
        if guild_id not in self.guilds:
            self.stats["not_found"] += 1
            return _error(404, "Unknown Guild", 10004)
        if self.bot_id not in self.members[guild_id]:
            self.stats["forbidden"] += 1
            return _error(403, "Missing Access", 50001)
        return None

    def _guild_gate(self, request: web.Request) -> web.Response | None:
        # Never `gate or problem`: an aiohttp Response is a mapping, and an empty one is falsy.
        gated = self._gate(request)
        return gated if gated is not None else self._guild_problem(request.match_info["guild_id"])

    async def _get_guild(self, request: web.Request) -> web.Response:
        problem = self._guild_gate(request)
        if problem is not None:
            return problem
        return _json_response(200, self._guild_object(self.guilds[int(request.match_info["guild_id"])]))

    async def _get_roles(self, request: web.Request) -> web.Response:
        problem = self._guild_gate(request)
        if problem is not None:
            return problem
        roles = self.roles[int(request.match_info["guild_id"])].values()
        return _json_response(200, [self._role_object(r) for r in roles])

    async def _get_member(self, request: web.Request) -> web.Response:
        problem = self._guild_gate(request)
        if problem is not None:
            return problem
        raw_user = request.match_info["user_id"]
        user_id = self.bot_id if raw_user == "@me" else int(raw_user) if raw_user.isdigit() else None
        members = self.members[int(request.match_info["guild_id"])]
        if user_id not in members:
            self.stats["not_found"] += 1
            return _error(404, "Unknown Member", 10007)
        public_user = ("id", "username", "discriminator", "avatar", "global_name", "public_flags", "flags",
                       "primary_guild", "bot")
        user = {k: self.bot_user[k] for k in public_user}
        if user_id != self.bot_id:
            user.update(id=str(user_id), username=f"member{user_id}", bot=False)
        member = {
            "avatar": None,
            "banner": None,
            "communication_disabled_until": None,
            "flags": 0,
            "joined_at": _iso(time.time() - 86400),
            "nick": None,
            "pending": False,
            "premium_since": None,
            "roles": [str(r) for r in members[user_id]],
            "user": user,
            "mute": False,
            "deaf": False,
        }
        return _json_response(200, member)

    async def _get_channel(self, request: web.Request) -> web.Response:
        refused, channel_id = self._channel_route(request)
        if refused is not None:
            return refused
        channel = self.channels.get(channel_id)
        if channel is None:
            self.stats["not_found"] += 1
            return _error(404, "Unknown Channel", 10003)
        if not self._can_view(channel):
            self.stats["forbidden"] += 1
            return _error(403, "Missing Access", 50001)
        return _json_response(200, self._channel_object(channel))

    def _channel_route(self, request: web.Request) -> tuple[web.Response | None, int]:
        """The prologue of a channel's route: the gate, then a channel id that is a snowflake of
        a channel neither missing nor forbidden: ``(refusal, …)``, or ``(None, channel_id)``."""
        gated = self._gate(request)
        if gated is not None:
            return gated, 0
        channel_id = self._channel_id(request)
        if channel_id is None:
            return _form_error("channel_id", "NUMBER_TYPE_COERCE", "Not a snowflake."), 0
        return self._channel_problem(channel_id), channel_id

    @staticmethod
    def _channel_id(request: web.Request) -> int | None:
        raw = request.match_info["channel_id"]
        return int(raw) if raw.isdigit() else None

    async def _create_message(self, request: web.Request) -> web.Response:
        denied = self._unauthorized(request)
        if denied is not None:
            return denied
        channel_id = self._channel_id(request)
        if channel_id is None:
            gated = self._gate(request)
            return (
                gated
                if gated is not None
                else _form_error("channel_id", "NUMBER_TYPE_COERCE", "Not a snowflake.")
            )
        try:
            payload, attachments = await self._read_payload(request)
            unreadable = None
        except ValueError as exc:
            payload, attachments, unreadable = {}, [], str(exc)
        # The same request on its retries has the same key (a multipart body has a new boundary
        # on each try, so hash the decoded payload, not the raw bytes).
        digest = hashlib.sha1(json.dumps(payload, sort_keys=True).encode(), usedforsecurity=False).hexdigest()
        key = ("POST", request.path, digest, len(attachments))

        # From here on no await: rate limits, nonce look-up and insert are atomic on the loop.
        now = time.monotonic()
        bucket = self._buckets.get(channel_id)
        if bucket is None:
            bucket = self._buckets[channel_id] = ChannelBucket(
                self.per_channel_limit, self.per_channel_window
            )
        if not bucket.available(now):
            self.stats["rate_limited_route"] += 1
            retry_after = _ceil_ms(bucket.reset_after(now))
            headers = bucket.headers(now)
            headers.update({"Retry-After": str(max(1, math.ceil(retry_after))), "X-RateLimit-Scope": "user"})
            body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": False}
            return _json_response(429, body, headers)
        retry_after = self._global.try_acquire(now, key)
        if retry_after is not None:
            return self._global_429(retry_after)
        bucket.consume(now)
        rl_headers = bucket.headers(now)

        problem = self._channel_problem(channel_id, rl_headers)
        if problem is not None:
            return problem
        if unreadable is not None:
            self.stats["bad_request"] += 1
            return _error(400, f"400: Bad Request ({unreadable})", 50109, rl_headers)
        invalid = self._validate(payload, attachments)
        if invalid is not None:
            self.stats["bad_request"] += 1
            return invalid

        cid = str(channel_id)
        nonce = payload.get("nonce")
        enforce = bool(payload.get("enforce_nonce", False))
        wall = time.time()
        if enforce and nonce is not None:
            previous = self._by_nonce.get((cid, str(nonce)))
            if previous is not None and wall - previous["ts"] <= self.nonce_ttl:
                self.stats["dedup_by_nonce"] += 1
                return _json_response(200, self._message_object(previous), rl_headers)
        record: JsonDict = {
            "channel_id": cid,
            "message_id": str(self._next_snowflake()),
            "content": payload.get("content"),
            "embeds": payload.get("embeds") or [],
            "components": payload.get("components") or [],
            "nonce": nonce,
            "enforce_nonce": enforce,
            "ts": wall,
            "tts": bool(payload.get("tts", False)),
            "flags": int(payload.get("flags") or 0),
            "attachments": attachments,
        }
        self._remember(record)
        self._persist(record)
        self.stats["created"] += 1
        if self.answer_held:
            release = self._release_answers
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(release.wait(), self.answer_held)
        return _json_response(200, self._message_object(record), rl_headers)

    async def _read_payload(self, request: web.Request) -> tuple[JsonDict, list[JsonDict]]:
        attachments: list[JsonDict] = []
        if request.content_type == "multipart/form-data":
            form = await request.post()
            raw = form.get("payload_json")
            payload = json.loads(raw) if isinstance(raw, str) else {}
            for name, value in form.items():
                if name.startswith("files[") and hasattr(value, "file"):
                    data = value.file.read()
                    attachments.append(
                        {
                            "id": str(self._next_snowflake()),
                            "filename": value.filename,
                            "size": len(data),
                            "url": f"https://cdn.invalid/attachments/{value.filename}",
                            "proxy_url": f"https://media.invalid/attachments/{value.filename}",
                            "content_type": value.content_type,
                        }
                    )
        else:
            raw_body = await request.read()
            try:
                payload = json.loads(raw_body) if raw_body else {}
            except json.JSONDecodeError as exc:
                raise ValueError("body is not JSON") from exc
        if not isinstance(payload, dict):
            raise ValueError("body is not a JSON object")
        return payload, attachments

    @staticmethod
    def _validate(payload: JsonDict, attachments: list[JsonDict]) -> web.Response | None:
        content = payload.get("content")
        nonce = payload.get("nonce")
        if isinstance(content, str) and len(content) > MAX_CONTENT_LENGTH:
            return _form_error("content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
        if isinstance(nonce, str) and len(nonce) > MAX_NONCE_LENGTH:
            return _form_error("nonce", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        if len(payload.get("embeds") or []) > 10:
            return _form_error("embeds", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
        if not (
            content
            or payload.get("embeds")
            or payload.get("components")
            or attachments
            or payload.get("sticker_ids")
            or payload.get("poll")
        ):
            return _error(400, "Cannot send an empty message", 50006)
        return None

    async def click(
        self, message: JsonDict, custom_id: str, *, user_id: int, guild_id: int, roles: Iterable[int] = (),
        locale: str = "fr",
    ) -> int | None:
        """A member clicks a button of ``message`` (a stored message record): INTERACTION_CREATE
        to the shard of ``guild_id``.  Returns the shard, or None when it has no session."""
        interaction_id = self._next_snowflake()
        user = {"id": str(user_id), "username": f"member{user_id % 10000}", "global_name": None,
                "discriminator": "0", "avatar": None, "public_flags": 0}
        payload = {
            "id": str(interaction_id), "application_id": self.bot_user["id"], "type": 3,
            "token": f"itoken-{interaction_id}", "version": 1, "guild_id": str(guild_id),
            "channel_id": message["channel_id"],
            "channel": {"id": message["channel_id"], "type": GUILD_TEXT, "guild_id": str(guild_id)},
            "member": {"user": user, "roles": [str(r) for r in roles], "joined_at": _iso(time.time()),
                       "deaf": False, "mute": False, "flags": 0, "permissions": str(EVERYONE_DEFAULT)},
            "message": self._message_object(message), "locale": locale, "guild_locale": "fr",
            "app_permissions": str(EVERYONE_DEFAULT), "entitlements": [], "attachment_size_limit": 10 * 1024 * 1024,
            "authorizing_integration_owners": {"0": str(guild_id)}, "context": 0,
            "data": {"custom_id": custom_id, "component_type": 2},
        }
        return await self.dispatch_guild_event(guild_id, "INTERACTION_CREATE", payload)

    async def _interaction_callback(self, request: web.Request) -> web.Response:
        """The bot's first answer to an interaction (no bot token: the interaction's own)."""
        try:
            payload, _ = await self._read_payload(request)
        except ValueError as exc:
            return _error(400, f"400: Bad Request ({exc})", 50109)
        interaction_id = request.match_info["interaction_id"]
        self.interaction_responses.append({"interaction_id": interaction_id, "ts": time.time(), **payload})
        kind = int(payload.get("type", 4))
        return _json_response(200, {"interaction": {
            "id": interaction_id, "type": 3, "response_message_loading": kind == 5,
            "response_message_ephemeral": bool((payload.get("data") or {}).get("flags", 0) & 64),
        }})

    async def _interaction_followup(self, request: web.Request) -> web.Response:
        """Follow-ups and edits of the original answer: recorded, answered with a message."""
        try:
            payload, _ = await self._read_payload(request) if request.can_read_body else ({}, [])
        except ValueError as exc:
            return _error(400, f"400: Bad Request ({exc})", 50109)
        self.interaction_responses.append({"followup": request.path, "ts": time.time(), **payload})
        record = {"channel_id": "0", "message_id": str(self._next_snowflake()), "content": payload.get("content"),
                  "embeds": payload.get("embeds") or [], "ts": time.time()}
        return _json_response(200, self._message_object(record))

    async def _edit_message(self, request: web.Request) -> web.Response:
        """Edit a stored message (content, embeds, components): what a poll's refresh and
        closing send."""
        problem, channel_id = self._channel_route(request)
        if problem is not None:
            return problem
        try:
            payload, _ = await self._read_payload(request)
        except ValueError as exc:
            return _error(400, f"400: Bad Request ({exc})", 50109)
        message_id = request.match_info["message_id"]
        record = next((m for m in self._by_channel.get(str(channel_id), []) if m["message_id"] == message_id), None)
        if record is None:
            self.stats["not_found"] += 1
            return _error(404, "Unknown Message", 10008)
        for key in ("content", "embeds", "components"):
            if key in payload:
                record[key] = payload[key]
        self.edits.append({"channel_id": str(channel_id), "message_id": message_id, "ts": time.time(), **payload})
        return _json_response(200, self._message_object(record))

    async def _list_messages(self, request: web.Request) -> web.Response:
        refused, channel_id = self._channel_route(request)
        if refused is not None:
            return refused
        query = request.query
        try:
            limit = int(query.get("limit", "50"))
            before = int(query["before"]) if "before" in query else None
            after = int(query["after"]) if "after" in query else None
            around = int(query["around"]) if "around" in query else None
        except ValueError:
            return _form_error("limit", "NUMBER_TYPE_COERCE", "Value is not int.")
        if not 1 <= limit <= 100:
            return _form_error("limit", "NUMBER_TYPE_MAX", "int value should be between 1 and 100.")
        records = sorted(self._by_channel.get(str(channel_id), []), key=lambda r: int(r["message_id"]))
        if around is not None:
            older = [r for r in records if int(r["message_id"]) <= around][-(limit - limit // 2) :]
            newer = [r for r in records if int(r["message_id"]) > around][: limit // 2]
            chosen = older + newer
        elif after is not None:
            chosen = [r for r in records if int(r["message_id"]) > after][:limit]
        else:
            if before is not None:
                records = [r for r in records if int(r["message_id"]) < before]
            chosen = records[-limit:]
        chosen.reverse()  # newest first, like Discord
        return _json_response(200, [self._message_object(r) for r in chosen])


# --------------------------------------------------------------------------- CLI
def _ids(text: str) -> list[int]:
    return [int(part) for part in text.replace(",", " ").split() if part]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    p.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: a free one)")
    p.add_argument("--state", help="append-only JSON-lines file of every created message")
    p.add_argument("--global-rate", type=float, default=50.0)
    p.add_argument("--global-burst", type=int, default=5)
    p.add_argument("--global-algorithm", choices=("gcra", "window"), default="gcra")
    p.add_argument("--global-window", type=float, default=1.0)
    p.add_argument("--per-channel-limit", type=int, default=5)
    p.add_argument("--per-channel-window", type=float, default=5.0)
    p.add_argument("--latency", type=float, default=0.0, help="simulated round trip per request, seconds")
    p.add_argument("--nonce-ttl", type=float, default=300.0)
    p.add_argument("--missing", type=_ids, default=[], help="channel ids answering 404 (comma separated)")
    p.add_argument("--forbidden", type=_ids, default=[], help="channel ids answering 403 (comma separated)")
    p.add_argument("--token", help="accept only this bot token (default: any)")
    p.add_argument("--world", metavar="JSON", help="guilds, roles, members and channels to serve (see load_world)")
    p.add_argument("--summarize", metavar="STATE", help="print a duplicate summary of a state file and exit")
    return p


async def _serve(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    srv = FakeDiscordREST(
        port=args.port,
        global_rate=args.global_rate,
        global_burst=args.global_burst,
        global_algorithm=args.global_algorithm,
        global_window=args.global_window,
        per_channel_limit=args.per_channel_limit,
        per_channel_window=args.per_channel_window,
        latency=args.latency,
        nonce_ttl=args.nonce_ttl,
        missing_channels=args.missing,
        forbidden_channels=args.forbidden,
        state_path=args.state,
        token=args.token,
        world=json.loads(Path(args.world).read_text(encoding="utf-8")) if args.world else None,
    )
    async with srv:
        print(srv.base_url, flush=True)
        await stop.wait()
        print(json.dumps({"stats": srv.stats, "messages": len(srv.messages)}), file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.summarize:
        print(json.dumps(summarize_state(args.summarize), indent=2))
        return 0
    asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
