"""`reseau-bot run` as a process against a loopback Discord-compatible server (REST + gateway
websocket) named by `discord.api_base_url` / `discord.gateway_url`: it logs in, syncs its
commands, identifies on the gateway with only the intents it needs, reaches READY, and a SIGTERM
stops it cleanly (exit 0) without the token ever reaching the logs."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from aiohttp import web

from tests.paths import REPO

TOKEN = "MTQ1NjA3NDQ0Mzk4MDgwMDAwMQ.GabcDE.abcdefghijklmnopqrstuvwxyz0123456789AB"
APP_ID = "1456074443980800001"


def _json(data, status=200) -> web.Response:
    # exactly "application/json": discord.py decodes nothing else (no charset parameter)
    return web.Response(body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json"})


async def _discord_compatible_api(seen: list[str]) -> web.AppRunner:
    user = {"id": APP_ID, "username": "reseau-bot", "discriminator": "0", "avatar": None, "bot": True}

    async def handle(request: web.Request) -> web.Response:
        seen.append(f"{request.method} {request.path}")
        assert request.headers.get("Authorization") == f"Bot {TOKEN}"
        if request.path.endswith("/users/@me"):
            return _json(user)
        if request.path.endswith("/oauth2/applications/@me"):
            return _json({"id": APP_ID, "name": "reseau-bot", "icon": None, "description": "", "bot_public": True,
                          "bot_require_code_grant": False, "verify_key": "0" * 64, "flags": 0, "owner": user,
                          "team": None, "summary": ""})
        if request.method == "PUT" and request.path.endswith(f"/applications/{APP_ID}/commands"):
            body = await request.json()
            return _json([{**c, "id": str(1000 + i), "application_id": APP_ID, "version": "1"}
                          for i, c in enumerate(body)])
        return _json({"message": "404: Not Found", "code": 0}, status=404)

    async def gateway(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None})
        async for msg in ws:
            data = json.loads(msg.data)
            if data["op"] == 1:
                await ws.send_json({"op": 11, "d": None, "s": None, "t": None})
            elif data["op"] == 2:
                assert data["d"]["token"] == TOKEN
                seen.append(f"IDENTIFY intents={data['d']['intents']}")
                ready = {"v": 10, "user": user, "guilds": [], "session_id": "s1",
                         "resume_gateway_url": f"ws://127.0.0.1:{request.url.port}/gateway",
                         "application": {"id": APP_ID, "flags": 0}}
                await ws.send_json({"op": 0, "t": "READY", "s": 1, "d": ready})
        return ws

    app = web.Application()
    app.router.add_get("/gateway", gateway)
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner


def _config_and_env(tmp_path: Path, runner: web.AppRunner) -> tuple[Path, dict[str, str]]:
    """A config naming the loopback server and an SQLite file in tmp_path, and the environment of
    the CLI process: the token, and not the test's own database."""
    port = runner.addresses[0][1]
    config = tmp_path / "config.toml"
    config.write_text(
        f"[database]\nurl = 'sqlite+aiosqlite:///{tmp_path / 'bot.db'}'\n"
        f"[discord]\napi_base_url = 'http://127.0.0.1:{port}/api/v10'\n"
        f"gateway_url = 'ws://127.0.0.1:{port}/gateway'\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "DISCORD_TOKEN": TOKEN}
    env.pop("RESEAU_DATABASE_URL", None)
    return config, env


async def test_run_logs_in_syncs_and_stops_on_sigterm(tmp_path):
    seen: list[str] = []
    runner = await _discord_compatible_api(seen)
    config, env = _config_and_env(tmp_path, runner)
    upgrade = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "--config", str(config), "db", "upgrade", env=env, cwd=tmp_path)
    assert await upgrade.wait() == 0
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "--config", str(config), "run", env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    lines: list[str] = []
    try:
        async with asyncio.timeout(60):
            while True:
                line = (await proc.stdout.readline()).decode()
                assert line, "the bot exited early:\n" + "".join(lines)
                lines.append(line)
                if "connected as" in line:
                    break
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(60):
            rest = (await proc.stdout.read()).decode()
            code = await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
        await runner.cleanup()
    output = "".join(lines) + rest
    assert code == 0, output
    assert "signal received, stopping" in output
    assert "shutting down" in output
    assert TOKEN not in output and TOKEN.split(".")[0] not in output
    assert any(s.startswith("PUT") and s.endswith("/commands") for s in seen)
    assert "synced" in output
    import discord

    from bot.client import intents_for
    from bot.config import build_config

    expected = intents_for(build_config({}, config, environ={})).value
    assert f"IDENTIFY intents={expected}" in seen
    assert not discord.Intents._from_value(expected).members  # privileged intent off by default
    assert not discord.Intents._from_value(expected).message_content


async def test_sync_commands_pushes_the_tree_even_when_unchanged(tmp_path):
    seen: list[str] = []
    runner = await _discord_compatible_api(seen)
    config, env = _config_and_env(tmp_path, runner)

    async def cli(*args: str) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "--config", str(config), *args, env=env, cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
        return proc.returncode, out.decode()

    try:
        assert (await cli("db", "upgrade"))[0] == 0
        for _ in range(2):  # the second time the stored hash is unchanged: it syncs anyway
            code, out = await cli("sync-commands")
            assert code == 0, out
            assert TOKEN not in out
    finally:
        await runner.cleanup()
    puts = [s for s in seen if s.startswith("PUT") and s.endswith("/commands")]
    assert len(puts) == 2
    assert not any(s.startswith("IDENTIFY") for s in seen), "sync-commands uses REST only"
