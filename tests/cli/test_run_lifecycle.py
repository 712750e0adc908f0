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


# What a stricter Discord-compatible server answers a command it does not accept (Discord's
# "Invalid Form Body": errors keyed by the payload's index, then by field path).
REFUSED_INDEX = 3
REFUSAL = {"message": "Invalid Form Body", "code": 50035, "errors": {str(REFUSED_INDEX): {"options": {"0": {
    "name": {"_errors": [{"code": "APPLICATION_COMMAND_INVALID_NAME", "message": "Command name is invalid"}]}
}}}}}
MODLOG = "1456074443980800042"


async def _discord_compatible_api(
    seen: list[str], *, refuse_sync: bool = False, posted: list[dict] | None = None,
    on_post: asyncio.Event | None = None,
) -> web.AppRunner:
    """``refuse_sync``: answer the bulk command PUT with a 400 in Discord's shape (the refused
    command's name is appended to ``seen``); ``posted``: collects the messages sent to the
    moderators' log channel (``on_post`` is set at each)."""
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
            if refuse_sync:
                seen.append(f"REFUSED {body[REFUSED_INDEX]['name']}")
                return _json(REFUSAL, status=400)
            return _json([{**c, "id": str(1000 + i), "application_id": APP_ID, "version": "1"}
                          for i, c in enumerate(body)])
        if posted is not None and request.path.endswith(f"/channels/{MODLOG}"):
            return _json({"id": MODLOG, "type": 0, "guild_id": "7", "name": "moderation-log", "position": 0,
                          "permission_overwrites": [], "nsfw": False, "parent_id": None})
        if posted is not None and request.method == "POST" and request.path.endswith(f"/channels/{MODLOG}/messages"):
            body = await request.json()
            posted.append(body)
            if on_post is not None:
                on_post.set()
            return _json({"id": str(2000 + len(posted)), "channel_id": MODLOG, "author": user,
                          "content": body.get("content", ""), "timestamp": "2026-01-01T00:00:00+00:00",
                          "edited_timestamp": None, "tts": False, "mention_everyone": False, "mentions": [],
                          "mention_roles": [], "attachments": [], "embeds": [], "pinned": False, "type": 0})
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


def _config_and_env(tmp_path: Path, runner: web.AppRunner, discord: str = "") -> tuple[Path, dict[str, str]]:
    """A config naming the loopback server and an SQLite file in tmp_path, and the environment of
    the CLI process: the token, and not the test's own database."""
    port = runner.addresses[0][1]
    config = tmp_path / "config.toml"
    config.write_text(
        f"[database]\nurl = 'sqlite+aiosqlite:///{tmp_path / 'bot.db'}'\n"
        f"[discord]\napi_base_url = 'http://127.0.0.1:{port}/api/v10'\n"
        f"gateway_url = 'ws://127.0.0.1:{port}/gateway'\n{discord}"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "DISCORD_TOKEN": TOKEN}
    env.pop("RESEAU_DATABASE_URL", None)
    return config, env


async def _start_run(config: Path, env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    """`reseau-bot db upgrade`, then `reseau-bot run` as its own process (stdout and stderr joined)."""
    upgrade = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "--config", str(config), "db", "upgrade", env=env, cwd=cwd)
    assert await upgrade.wait() == 0
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "--config", str(config), "run", env=env, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)


async def _until_connected(proc: asyncio.subprocess.Process, lines: list[str]) -> None:
    """Read the bot's output into ``lines`` until it says it is connected (fails if it exits)."""
    while True:
        line = (await proc.stdout.readline()).decode()
        assert line, "the bot exited early:\n" + "".join(lines)
        lines.append(line)
        if "connected as" in line:
            return


async def _stop(proc: asyncio.subprocess.Process) -> tuple[int, str]:
    """SIGTERM, then the exit code and the rest of the output."""
    proc.send_signal(signal.SIGTERM)
    async with asyncio.timeout(60):
        rest = (await proc.stdout.read()).decode()
        return await proc.wait(), rest


async def _serve_then_stop(
    config: Path, env: dict[str, str], cwd: Path, runner: web.AppRunner, *, until: asyncio.Event | None = None,
) -> tuple[int, str]:
    """`reseau-bot run` until it is connected (and ``until`` is set, within the same minute), still
    serving, then SIGTERM: its exit code and whole output.  Whatever happens, the bot is killed
    and the loopback Discord closed."""
    proc = await _start_run(config, env, cwd)
    lines: list[str] = []
    try:
        async with asyncio.timeout(60):
            await _until_connected(proc, lines)
            if until is not None:
                await until.wait()
        assert proc.returncode is None, "the bot keeps serving"
        code, rest = await _stop(proc)
    finally:
        if proc.returncode is None:
            proc.kill()
        await runner.cleanup()
    return code, "".join(lines) + rest


async def test_run_logs_in_syncs_and_stops_on_sigterm(tmp_path):
    seen: list[str] = []
    runner = await _discord_compatible_api(seen)
    config, env = _config_and_env(tmp_path, runner)
    code, output = await _serve_then_stop(config, env, tmp_path, runner)
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


async def test_a_refused_sync_commands_is_one_line_and_exit_2(tmp_path):
    seen: list[str] = []
    runner = await _discord_compatible_api(seen, refuse_sync=True)
    config, env = _config_and_env(tmp_path, runner)
    try:
        upgrade = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "--config", str(config), "db", "upgrade", env=env, cwd=tmp_path)
        assert await upgrade.wait() == 0
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "--config", str(config), "sync-commands", env=env, cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    finally:
        await runner.cleanup()
    from bot.i18n import Catalogue

    [refused] = [s.split(" ", 1)[1] for s in seen if s.startswith("REFUSED ")]
    detail = f"command {refused!r}, field options.0.name: Command name is invalid"
    assert proc.returncode == 2, err.decode()
    [line] = [line for line in err.decode().splitlines() if line.startswith("reseau-bot:")]
    assert line == "reseau-bot: " + Catalogue.load().t("sync.refused_cli", "fr", detail=detail)
    assert "Traceback" not in err.decode() + out.decode() and TOKEN not in err.decode() + out.decode()


async def test_a_refused_command_sync_is_logged_in_one_line_and_the_bot_keeps_serving(tmp_path):
    """Issue 10, item 15: the server answers the bulk command PUT with a 400 (code 50035).  The
    bot logs one line naming the command and the field, no traceback, reaches READY, tells the
    moderators' log channel, does not store the new commands' hash, and stops with 0 on SIGTERM."""
    import sqlite3

    from bot.client import COMMANDS_HASH_KEY
    from bot.i18n import Catalogue

    seen: list[str] = []
    posted: list[dict] = []
    reported = asyncio.Event()
    runner = await _discord_compatible_api(seen, refuse_sync=True, posted=posted, on_post=reported)
    config, env = _config_and_env(tmp_path, runner, f"moderators_log_channel_id = {MODLOG}\n")
    # the moderators' log hears of it once READY
    code, output = await _serve_then_stop(config, env, tmp_path, runner, until=reported)
    assert code == 0, output
    assert "Traceback" not in output and "CommandSyncFailure" not in output, output
    [refused] = [s.split(" ", 1)[1] for s in seen if s.startswith("REFUSED ")]
    [logged] = [line for line in output.splitlines() if "sync refused" in line]
    detail = f"command {refused!r}, field options.0.name: Command name is invalid"
    assert detail in logged and "50035" in logged
    assert "synced" not in output
    assert "signal received, stopping" in output
    assert TOKEN not in output
    [message] = posted
    assert message["content"] == Catalogue.load().t("sync.refused", "fr", detail=detail)
    assert message["allowed_mentions"] == {"parse": []}
    with sqlite3.connect(tmp_path / "bot.db") as db:
        stored = db.execute("SELECT value FROM bot_state WHERE key = ?", (COMMANDS_HASH_KEY,)).fetchall()
    assert stored == [], "the refused definition's hash is not stored: the next start tries again"
