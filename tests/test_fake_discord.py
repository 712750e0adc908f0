"""bench/fake_discord.py driven by discord.py's real HTTP client (not SimCord).

These tests check that the fake answers like Discord (headers, 429 bodies, nonce semantics, error
codes) *and* that discord.py's own rate limiter copes with it: if a header or a body shape were
wrong, discord.py would raise instead of waiting, and the timing assertions would fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import io
import json
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import discord
import pytest
from discord.http import HTTPClient, Route, handle_message_parameters

from tests.paths import REPO

_PATH = REPO / "bench" / "fake_discord.py"
_spec = importlib.util.spec_from_file_location("fake_discord", _PATH)
assert _spec is not None and _spec.loader is not None
fake_discord = importlib.util.module_from_spec(_spec)
sys.modules["fake_discord"] = fake_discord
_spec.loader.exec_module(fake_discord)
FakeDiscordREST = fake_discord.FakeDiscordREST

TOKEN = "fake-bot-token"
AUTH = {"Authorization": f"Bot {TOKEN}"}


@contextlib.asynccontextmanager
async def discord_http(srv: FakeDiscordREST) -> AsyncIterator[HTTPClient]:
    """discord.py's real HTTPClient, pointed at the fake for the duration of the block."""
    old_base = Route.BASE
    Route.BASE = srv.base_url
    http = HTTPClient(asyncio.get_running_loop())
    try:
        await http.static_login(TOKEN)
        yield http
    finally:
        await http.close()
        Route.BASE = old_base


def send(http: HTTPClient, channel_id: int, content: str, **kwargs):
    return http.send_message(channel_id, params=handle_message_parameters(content=content, **kwargs))


# --------------------------------------------------------------------------- fan-out
async def test_fan_out_of_120_messages_is_limited_and_discord_py_recovers() -> None:
    rate, burst, n_channels, per_channel = 50, 5, 30, 4
    total = n_channels * per_channel
    async with FakeDiscordREST(
        global_rate=rate, global_burst=burst, per_channel_limit=5, per_channel_window=1.0
    ) as srv:
        async with discord_http(srv) as http:
            await asyncio.sleep(1 / rate * burst)  # let the login's token come back
            srv.reset_stats()
            jobs = [
                send(http, 900_000 + c, f"post {c}/{m}", nonce=f"m-{c}-{m}")
                for m in range(per_channel)
                for c in range(n_channels)
            ]
            start = time.perf_counter()
            results = await asyncio.gather(*jobs, return_exceptions=True)
            elapsed = time.perf_counter() - start

    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == []
    # every message arrived exactly once, and discord.py got back a decoded message object
    assert srv.stats["created"] == total == len(srv.messages)
    expected = {(str(900_000 + c), f"post {c}/{m}") for c in range(n_channels) for m in range(per_channel)}
    assert {(r["channel_id"], r["content"]) for r in srv.messages} == expected
    assert {r["id"] for r in results} == {r["message_id"] for r in srv.messages}
    assert srv.stats["dedup_by_nonce"] == 0
    # the limiter really limited: global 429s, and discord.py retried them
    assert srv.stats["rate_limited_global"] > 0
    assert srv.stats["requests"] == total + srv.stats["rate_limited_global"]
    # 4 posts per channel stay under 5/window: discord.py never overran a channel bucket
    assert srv.stats["rate_limited_route"] == 0
    floor = (total - burst) / rate
    assert elapsed >= floor - 0.05, f"{total} posts in {elapsed:.2f}s beat the {floor:.2f}s floor"
    # (discord.py's gather ends up to one channel window after the last post: see the report on
    # Ratelimit.__aexit__, which sleeps when remaining - outgoing <= 0 with posts still in flight)
    stamps = sorted(r["ts"] for r in srv.messages)
    assert stamps[-1] - stamps[0] >= floor - 0.05
    assert stamps[-1] - stamps[0] < floor + 1.0, "the limiter throttled far below its rate"
    busiest = max(sum(1 for t in stamps if s <= t < s + 1.0) for s in stamps)
    assert busiest <= rate + burst


async def test_window_mode_herd_exhausts_discord_py_five_tries_gcra_mode_does_not() -> None:
    """Discord-observed fixed windows: every 429 retries at the window end, and discord.py gives
    up after 5 tries (HTTPException 429). The default GCRA mode spreads the same herd out."""
    n = 20
    async with FakeDiscordREST(global_rate=20, global_algorithm="window", global_window=0.1) as srv:
        async with discord_http(srv) as http:
            await asyncio.sleep(0.11)
            results = await asyncio.gather(
                *(send(http, 800 + i, "herd") for i in range(n)), return_exceptions=True
            )
    failed = [r for r in results if isinstance(r, BaseException)]
    assert failed and all(isinstance(e, discord.HTTPException) and e.status == 429 for e in failed)
    assert len(srv.messages) == n - len(failed) <= 2 * 5  # 2 per window, 5 tries

    async with FakeDiscordREST(global_rate=40, global_burst=2) as srv:
        async with discord_http(srv) as http:
            await asyncio.sleep(0.1)
            results = await asyncio.gather(
                *(send(http, 800 + i, "herd") for i in range(n)), return_exceptions=True
            )
    assert not [r for r in results if isinstance(r, BaseException)]
    assert len(srv.messages) == n
    assert srv.stats["rate_limited_global"] >= n - 3


async def test_discord_py_waits_on_bucket_headers_without_429() -> None:
    window = 0.3
    async with FakeDiscordREST(global_rate=1000, per_channel_limit=2, per_channel_window=window) as srv:
        async with discord_http(srv) as http:
            start = time.perf_counter()
            await asyncio.gather(*(send(http, 4242, f"m{i}") for i in range(5)))
            elapsed = time.perf_counter() - start
    assert len(srv.messages) == 5
    assert srv.stats["rate_limited_route"] == 0  # X-RateLimit-Remaining/Reset-After were obeyed
    assert elapsed >= 2 * window - 0.02  # 2 + 2 + 1 posts: three windows


async def test_route_429_is_retried_by_discord_py() -> None:
    """A client that does not know the bucket is exhausted (another process, a restart) gets a
    per-route 429 with scope "user" and must retry after retry_after."""
    window = 0.3
    async with FakeDiscordREST(global_rate=1000, per_channel_limit=2, per_channel_window=window) as srv:
        async with aiohttp.ClientSession(headers=AUTH) as session:
            for i in range(2):
                url = f"{srv.base_url}/channels/77/messages"
                async with session.post(url, json={"content": f"other {i}"}) as resp:
                    assert resp.status == 200
        async with discord_http(srv) as http:
            start = time.perf_counter()
            data = await send(http, 77, "late")
            elapsed = time.perf_counter() - start
    assert data["content"] == "late"
    assert srv.stats["rate_limited_route"] == 1
    assert elapsed >= window - 0.1
    assert [m["content"] for m in srv.messages_in(77)] == ["other 0", "other 1", "late"]


# --------------------------------------------------------------------------- wire format
async def test_headers_and_429_bodies_look_like_discord() -> None:
    async with FakeDiscordREST(global_rate=1000, per_channel_limit=3, per_channel_window=2.0) as srv:
        url = f"{srv.base_url}/channels/55/messages"
        async with aiohttp.ClientSession(headers=AUTH) as session:
            remaining = []
            for i in range(3):
                async with session.post(url, json={"content": f"x{i}"}) as resp:
                    assert resp.status == 200
                    assert resp.headers["Content-Type"] == "application/json"
                    assert resp.headers["Via"]
                    assert resp.headers["X-RateLimit-Limit"] == "3"
                    assert resp.headers["X-RateLimit-Bucket"] == fake_discord.MESSAGE_CREATE_BUCKET
                    assert 0 < float(resp.headers["X-RateLimit-Reset-After"]) <= 2.0
                    assert abs(float(resp.headers["X-RateLimit-Reset"]) - time.time()) <= 2.1
                    remaining.append(int(resp.headers["X-RateLimit-Remaining"]))
            assert remaining == [2, 1, 0]
            async with session.post(url, json={"content": "too many"}) as resp:
                assert resp.status == 429
                body = await resp.json()
                assert resp.headers["X-RateLimit-Scope"] == "user"
                assert resp.headers["X-RateLimit-Remaining"] == "0"
                assert "X-RateLimit-Global" not in resp.headers
                assert int(resp.headers["Retry-After"]) >= 1
                assert body["global"] is False and 0 < body["retry_after"] <= 2.0
                assert body["message"] == "You are being rate limited."
            async with session.get(f"{srv.base_url}/users/@me", headers={"Authorization": ""}) as resp:
                assert resp.status == 401
    assert srv.stats["rate_limited_route"] == 1 and len(srv.messages) == 3

    async with FakeDiscordREST(global_rate=2, global_burst=1) as srv:
        async with aiohttp.ClientSession(headers=AUTH) as session:
            async with session.get(f"{srv.base_url}/users/@me") as resp:
                assert resp.status == 200
            async with session.get(f"{srv.base_url}/gateway/bot") as resp:
                assert resp.status == 429
                body = await resp.json()
                assert resp.headers["X-RateLimit-Global"] == "true"
                assert resp.headers["X-RateLimit-Scope"] == "global"
                assert resp.headers["Via"] and resp.headers["Content-Type"] == "application/json"
                assert "X-RateLimit-Bucket" not in resp.headers
                assert body["global"] is True and 0.4 < body["retry_after"] <= 0.5
    assert srv.stats["rate_limited_global"] == 1


# --------------------------------------------------------------------------- nonces
async def test_enforce_nonce_returns_the_existing_message() -> None:
    async with FakeDiscordREST(global_rate=1000, per_channel_limit=50, nonce_ttl=0.3) as srv:
        async with discord_http(srv) as http:
            first = await send(http, 10, "monthly", nonce="2025-01-10")
            again = await asyncio.gather(*(send(http, 10, "monthly", nonce="2025-01-10") for _ in range(3)))
            assert {m["id"] for m in again} == {first["id"]}
            assert first["nonce"] == "2025-01-10"
            # same nonce, other channel: another message
            other = await send(http, 11, "monthly", nonce="2025-01-10")
            assert other["id"] != first["id"]
            # without enforce_nonce the nonce is only echoed
            params = handle_message_parameters(content="loose", nonce="loose-1")
            params.payload["enforce_nonce"] = False
            a = await http.send_message(10, params=params)
            b = await http.send_message(10, params=params)
            assert a["id"] != b["id"]
            # the nonce is only remembered for nonce_ttl
            await asyncio.sleep(0.35)
            later = await send(http, 10, "monthly", nonce="2025-01-10")
            assert later["id"] != first["id"]
            # Discord rejects nonces over 25 characters
            with pytest.raises(discord.HTTPException) as info:
                await send(http, 10, "x", nonce="n" * 26)
            assert info.value.status == 400 and info.value.code == 50035
    assert srv.stats["dedup_by_nonce"] == 3
    assert [m["content"] for m in srv.messages_in(10)] == ["monthly", "loose", "loose", "monthly"]


async def test_discord_client_login_and_send_build_real_message_objects() -> None:
    async with FakeDiscordREST(global_rate=1000) as srv:
        old_base = Route.BASE
        Route.BASE = srv.base_url
        client = discord.Client(intents=discord.Intents.none())
        try:
            await client.login(TOKEN)
            assert client.user is not None and client.user.bot
            channel = client.get_partial_messageable(31337)
            msg = await channel.send("bonjour", nonce="run-1-31337")
            assert isinstance(msg, discord.Message)
            assert msg.content == "bonjour" and msg.author.id == client.user.id and msg.nonce == "run-1-31337"
            assert msg.created_at.year >= 2025
            dup = await channel.send("bonjour", nonce="run-1-31337")
            assert dup.id == msg.id
            with_file = await channel.send(
                "pièce jointe", file=discord.File(io.BytesIO(b"abc"), "extrait.csv")
            )
            assert [(a.filename, a.size) for a in with_file.attachments] == [("extrait.csv", 3)]
            history = [m async for m in channel.history(limit=10)]
            assert [m.id for m in history] == [with_file.id, msg.id]
        finally:
            await client.close()
            Route.BASE = old_base
    assert srv.stats["created"] == 2 and srv.stats["dedup_by_nonce"] == 1


async def test_recent_messages_newest_first() -> None:
    async with FakeDiscordREST(global_rate=1000, per_channel_limit=50) as srv:
        async with discord_http(srv) as http:
            ids = [int((await send(http, 20, f"m{i}"))["id"]) for i in range(5)]
            assert ids == sorted(ids)
            recent = await http.logs_from(20, 3)
            assert [m["content"] for m in recent] == ["m4", "m3", "m2"]
            older = await http.logs_from(20, 10, before=ids[2])
            assert [m["content"] for m in older] == ["m1", "m0"]
            assert await http.logs_from(21, 5) == []


# --------------------------------------------------------------------------- errors
async def test_missing_and_forbidden_channels_map_to_discord_errors() -> None:
    async with FakeDiscordREST(global_rate=1000, missing_channels=[404], forbidden_channels=[403]) as srv:
        async with discord_http(srv) as http:
            with pytest.raises(discord.NotFound) as missing:
                await send(http, 404, "hello")
            assert missing.value.code == 10003 and missing.value.text == "Unknown Channel"
            with pytest.raises(discord.Forbidden) as forbidden:
                await send(http, 403, "hello")
            assert forbidden.value.code == 50013 and forbidden.value.text == "Missing Permissions"
            with pytest.raises(discord.NotFound):
                await http.logs_from(404, 5)
            with pytest.raises(discord.NotFound) as unknown:
                await http.request(Route("GET", "/guilds/{guild_id}/nothing-here", guild_id=1))
            assert unknown.value.code == 0
            with pytest.raises(discord.HTTPException) as empty:
                await send(http, 5, None)
            assert empty.value.status == 400 and empty.value.code == 50006
    assert srv.messages == []
    assert srv.stats["not_found"] == 3 and srv.stats["forbidden"] == 1


# --------------------------------------------------------------------------- separate process
async def _start_process(state: Path) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(_PATH),
        "--port",
        "0",
        "--state",
        str(state),
        "--global-rate",
        "1000",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), timeout=20)
    return proc, line.decode().strip()


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), timeout=10)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def test_separate_process_persists_every_message(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    state = tmp_path / "posts.jsonl"
    proc, base_url = await _start_process(state)
    try:
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/api/v10")
        async with aiohttp.ClientSession(headers=AUTH) as session:
            for channel, nonce in ((1, "a"), (2, "b"), (2, "c")):
                payload = {"content": f"post {channel}", "nonce": nonce, "enforce_nonce": True}
                async with session.post(f"{base_url}/channels/{channel}/messages", json=payload) as resp:
                    assert resp.status == 200
                    last_id = (await resp.json())["id"]
            lines = state.read_text(encoding="utf-8").splitlines()  # flushed line by line
            assert len(lines) == 3 and json.loads(lines[0])["nonce"] == "a"
            stats_url = base_url.removesuffix("/api/v10") + "/_fake/stats"
            async with session.get(stats_url) as resp:
                assert (await resp.json())["stats"]["created"] == 3
    finally:
        await _stop(proc)

    # a second run on the same state file still knows the nonces and the history
    proc, base_url = await _start_process(state)
    try:
        async with aiohttp.ClientSession(headers=AUTH) as session:
            payload = {"content": "post 2", "nonce": "c", "enforce_nonce": True}
            async with session.post(f"{base_url}/channels/2/messages", json=payload) as resp:
                assert (await resp.json())["id"] == last_id
            async with session.post(f"{base_url}/channels/1/messages", json={"content": "post 1"}) as resp:
                assert resp.status == 200
            async with session.get(f"{base_url}/channels/2/messages?limit=5") as resp:
                assert [m["nonce"] for m in await resp.json()] == ["c", "b"]
    finally:
        await _stop(proc)

    summary = fake_discord.summarize_state(state)
    assert summary["messages"] == 4 and summary["channels"] == 2
    assert summary["duplicate_messages"] == 2 and summary["duplicate_same_content"] == 2
    assert summary["channels_with_duplicates"] == ["1", "2"]
    assert fake_discord.main(["--summarize", str(state)]) == 0
    assert json.loads(capsys.readouterr().out)["messages"] == 4


# --------------------------------------------------------------------------- the world (reseau-bot check)
def _response_violations(method: str, path: str, status: int, body: object) -> list[str]:
    """``body`` against the response schema Discord's OpenAPI description gives ``method path``
    for ``status`` (200, or the "4XX" client error), with the same normalisations as requests."""
    from tests.discord_openapi import SPEC_URI, _DiscordValidator, _escape_pointer, get_validator

    spec = get_validator()
    template = spec.match_route(path)
    assert template is not None, f"{path} is not in Discord's description"
    responses = spec.operation(method, template)["responses"]
    code = str(status) if str(status) in responses else f"{str(status)[0]}XX"
    response = responses[code]
    if "$ref" in response:  # a shared response (#/components/responses/…)
        response = spec.document["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
        pointer = f"components/responses/{_escape_pointer(responses[code]['$ref'].rsplit('/', 1)[1])}"
    else:
        pointer = "/".join(_escape_pointer(t) for t in ("paths", template, method.lower(), "responses", code))
    assert "application/json" in response["content"]
    validator = _DiscordValidator(
        {"$ref": f"{SPEC_URI}#/{pointer}/content/application~1json/schema"}, registry=spec.registry
    )
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(body)]


GUILD, OTHER_GUILD, STRANGER_GUILD = 930000000000000001, 930000000000000002, 930000000000000003
BOT_ROLE, MEMBERS_ROLE = 931000000000000001, 931000000000000002
OPEN, HIDDEN, ELSEWHERE = 932000000000000001, 932000000000000002, 932000000000000003


def _world(srv: FakeDiscordREST) -> None:
    srv.add_guild(GUILD, "Réseau Test", everyone_permissions=fake_discord.VIEW_CHANNEL, bot_roles=[BOT_ROLE])
    srv.add_role(GUILD, BOT_ROLE, "reseau-bot", permissions=(1 << 11) | (1 << 14), managed=True)
    srv.add_role(GUILD, MEMBERS_ROLE, "Membres", mentionable=True)
    srv.add_channel(GUILD, OPEN, "annonces", overwrites=[{"id": GUILD, "type": 0, "deny": 1 << 14}])
    # @everyone cannot see it, the bot's role can; then the bot itself is denied by a member overwrite
    srv.add_channel(GUILD, HIDDEN, "moderation", overwrites=[
        {"id": GUILD, "type": 0, "deny": fake_discord.VIEW_CHANNEL},
        {"id": BOT_ROLE, "type": 0, "allow": fake_discord.VIEW_CHANNEL},
        {"id": srv.bot_id, "type": 1, "deny": fake_discord.VIEW_CHANNEL},
    ])
    srv.add_guild(OTHER_GUILD, "Autre serveur", bot_member=False)
    srv.add_channel(OTHER_GUILD, ELSEWHERE, "general")


async def test_world_routes_answer_as_discord_shapes_them() -> None:
    async with FakeDiscordREST(global_rate=100_000, application_flags=1 << 14) as srv:
        _world(srv)
        bot = srv.bot_id
        expected = [
            ("/users/@me", 200),
            ("/applications/@me", 200),
            ("/oauth2/applications/@me", 200),
            (f"/guilds/{GUILD}", 200),
            (f"/guilds/{GUILD}/roles", 200),
            (f"/guilds/{GUILD}/members/{bot}", 200),
            (f"/guilds/{GUILD}/members/1234", 404),
            (f"/channels/{OPEN}", 200),
            (f"/channels/{HIDDEN}", 403),
            (f"/channels/{ELSEWHERE}", 403),
            ("/channels/999", 404),
            (f"/guilds/{OTHER_GUILD}", 403),
            (f"/guilds/{OTHER_GUILD}/roles", 403),
            (f"/guilds/{STRANGER_GUILD}", 404),
        ]
        bodies = {}
        async with aiohttp.ClientSession(headers=AUTH) as session:
            for path, status in expected:
                async with session.get(srv.base_url + path) as resp:
                    body = await resp.json()
                    assert resp.status == status, (path, body)
                    assert resp.headers["Content-Type"] == "application/json"
                    assert _response_violations("GET", path, status, body) == [], path
                    bodies[path] = body
    assert bodies["/applications/@me"]["id"] == str(bot) and bodies["/applications/@me"]["flags"] == 1 << 14
    guild = bodies[f"/guilds/{GUILD}"]
    assert guild["name"] == "Réseau Test" and {r["id"] for r in guild["roles"]} == {str(GUILD), str(BOT_ROLE),
                                                                                     str(MEMBERS_ROLE)}
    roles = {r["name"]: r for r in bodies[f"/guilds/{GUILD}/roles"]}
    assert roles["@everyone"]["permissions"] == str(fake_discord.VIEW_CHANNEL)
    assert roles["Membres"]["mentionable"] is True and roles["reseau-bot"]["managed"] is True
    assert bodies[f"/guilds/{GUILD}/members/{bot}"]["roles"] == [str(BOT_ROLE)]
    assert bodies[f"/guilds/{GUILD}/members/{bot}"]["user"]["id"] == str(bot)
    channel = bodies[f"/channels/{OPEN}"]
    assert channel["guild_id"] == str(GUILD) and channel["name"] == "annonces" and channel["type"] == 0
    assert channel["permission_overwrites"] == [{"id": str(GUILD), "type": 0, "allow": "0", "deny": str(1 << 14)}]
    assert bodies[f"/channels/{HIDDEN}"] == {"message": "Missing Access", "code": 50001}
    assert bodies["/channels/999"]["code"] == 10003
    assert bodies[f"/guilds/{OTHER_GUILD}"]["code"] == 50001
    assert bodies[f"/guilds/{STRANGER_GUILD}"] == {"message": "Unknown Guild", "code": 10004}
    assert bodies[f"/guilds/{GUILD}/members/1234"]["code"] == 10007


async def test_world_visibility_follows_overwrite_precedence() -> None:
    async with FakeDiscordREST(global_rate=100_000) as srv:
        _world(srv)
        # without the member overwrite, the bot's role allow beats @everyone's deny
        srv.channels[HIDDEN]["overwrites"].pop()
        async with aiohttp.ClientSession(headers=AUTH) as session:
            async with session.get(f"{srv.base_url}/channels/{HIDDEN}") as resp:
                assert resp.status == 200
            # an administrator role sees through every overwrite
            srv.channels[HIDDEN]["overwrites"].append({"id": BOT_ROLE, "type": 0, "allow": 0,
                                                       "deny": fake_discord.VIEW_CHANNEL})
            async with session.get(f"{srv.base_url}/channels/{HIDDEN}") as resp:
                assert resp.status == 403
            srv.add_role(GUILD, 931000000000000009, "admin", permissions=fake_discord.ADMINISTRATOR)
            srv.add_member(GUILD, srv.bot_id, roles=[BOT_ROLE, 931000000000000009])
            async with session.get(f"{srv.base_url}/channels/{HIDDEN}") as resp:
                assert resp.status == 200


async def test_world_from_json_and_injected_failures(tmp_path: Path) -> None:
    world = {
        "application_flags": 0,
        "guilds": [{"id": str(GUILD), "name": "Réseau", "everyone_permissions": 1024, "bot_roles": [BOT_ROLE],
                    "roles": [{"id": BOT_ROLE, "name": "bot", "permissions": 2048}],
                    "channels": [{"id": OPEN, "name": "annonces"}]}],
    }
    async with FakeDiscordREST(global_rate=100_000, world=world) as srv:
        srv.inject_failure("/users/@me", status=502)
        srv.inject_failure(f"/channels/{OPEN}", raw=b'{"id": "12', status=200)
        srv.inject_failure(f"/guilds/{GUILD}", status=429, body={"message": "You are being rate limited.",
                                                                  "retry_after": 0.25, "global": False})
        async with aiohttp.ClientSession(headers=AUTH) as session:
            async with session.get(f"{srv.base_url}/users/@me") as resp:
                assert resp.status == 502
            async with session.get(f"{srv.base_url}/users/@me") as resp:
                assert resp.status == 200  # only the next one
            async with session.get(f"{srv.base_url}/channels/{OPEN}") as resp:
                assert resp.status == 200
                with pytest.raises(json.JSONDecodeError):
                    json.loads(await resp.read())
            async with session.get(f"{srv.base_url}/channels/{OPEN}") as resp:
                assert (await resp.json())["name"] == "annonces"
            async with session.get(f"{srv.base_url}/guilds/{GUILD}") as resp:
                assert resp.status == 429 and resp.headers["Retry-After"] == "1"
                assert (await resp.json())["retry_after"] == 0.25
            async with session.get(f"{srv.base_url}/guilds/{GUILD}/roles") as resp:
                assert {r["name"] for r in await resp.json()} == {"@everyone", "bot"}
    assert srv.stats["injected"] == 3

    # and the separate process reads the same world from a file
    path = tmp_path / "world.json"
    path.write_text(json.dumps(world), encoding="utf-8")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(_PATH), "--port", "0", "--world", str(path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        base_url = (await asyncio.wait_for(proc.stdout.readline(), timeout=20)).decode().strip()
        async with aiohttp.ClientSession(headers=AUTH) as session:
            async with session.get(f"{base_url}/channels/{OPEN}") as resp:
                assert (await resp.json())["guild_id"] == str(GUILD)
    finally:
        await _stop(proc)


# --------------------------------------------------------------------------- shards (issue 14)
async def _identify(srv: FakeDiscordREST, shard: list[int]) -> tuple[aiohttp.ClientSession, object, list[dict]]:
    """A gateway session identified on ``shard``: (its HTTP session, the websocket, READY + GUILD_CREATEs)."""
    session = aiohttp.ClientSession()
    ws = await session.ws_connect(srv.gateway_url)
    assert (await ws.receive_json())["op"] == 10
    await ws.send_json({"op": 2, "d": {"token": TOKEN, "intents": 1, "shard": shard, "properties": {}}})
    events = [await ws.receive_json()]
    for _ in events[0]["d"]["guilds"]:
        events.append(await ws.receive_json())
    return session, ws, events


async def test_the_gateway_routes_each_guild_to_its_shard_and_patch_and_callbacks_look_like_discord() -> None:
    guilds = [((1_200_000 + k) << 22) + 77 for k in range(6)]  # (id >> 22) % 3 goes round
    async with FakeDiscordREST(global_rate=100_000, token=TOKEN) as srv:
        for guild in guilds:
            srv.add_guild(guild)
            srv.add_channel(guild, guild + 1, "annonces")
        sessions = [await _identify(srv, [shard, 3]) for shard in range(3)]
        try:
            ready = [events[0]["d"] for _, _, events in sessions]
            created = [[e["d"]["id"] for e in events[1:]] for _, _, events in sessions]
            message = {"channel_id": str(guilds[4] + 1), "message_id": "0", "content": "x", "ts": time.time()}
            async with aiohttp.ClientSession(headers=AUTH) as http:
                async with http.post(f"{srv.base_url}/channels/{guilds[4] + 1}/messages",
                                     json={"content": "Quel format ?"}) as resp:
                    message = await resp.json()
                async with http.patch(f"{srv.base_url}/channels/{guilds[4] + 1}/messages/{message['id']}",
                                      json={"content": "Quel format ? (3 réponses)"}) as resp:
                    edited = (resp.status, await resp.json())
            record = next(m for m in srv.messages if m["message_id"] == message["id"])
            routed = await srv.click(record, "rb:poll:vote:1:2", user_id=42, guild_id=guilds[4])
            click = await sessions[routed][1].receive_json()
            async with aiohttp.ClientSession() as anonymous:  # an interaction's answer carries no bot token
                async with anonymous.post(f"{srv.base_url}/interactions/{click['d']['id']}/{click['d']['token']}"
                                          "/callback?with_response=1",
                                          json={"type": 4, "data": {"content": "ok", "flags": 64}}) as resp:
                    callback = (resp.status, await resp.json())
        finally:
            for session, ws, _ in sessions:
                await ws.close()
                await session.close()
    assert [r["shard"] for r in ready] == [[0, 3], [1, 3], [2, 3]]
    for shard in range(3):
        expected = [str(g) for g in guilds if (g >> 22) % 3 == shard]
        assert [g["id"] for g in ready[shard]["guilds"]] == expected == created[shard]
    assert edited[0] == 200 and edited[1]["content"] == "Quel format ? (3 réponses)"
    assert _response_violations("PATCH", f"/channels/{guilds[4] + 1}/messages/{message['id']}", 200, edited[1]) == []
    assert routed == (guilds[4] >> 22) % 3 and click["t"] == "INTERACTION_CREATE"
    assert click["d"]["data"] == {"custom_id": "rb:poll:vote:1:2", "component_type": 2}
    assert callback[0] == 200 and callback[1]["interaction"]["response_message_ephemeral"] is True
    assert srv.interaction_responses[-1]["data"]["content"] == "ok"
    assert srv.edits[-1]["content"] == "Quel format ? (3 réponses)"
