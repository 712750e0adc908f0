"""``reseau-bot web`` as its own process, and ``reseau-bot run --web`` embedding the dashboard in
the bot's process (against the loopback Discord-compatible server of the run-lifecycle tests):
each serves the pages on 127.0.0.1, refuses them without a session, and stops on SIGTERM."""

from __future__ import annotations

import asyncio
import re
import sys

import aiohttp

from tests.cli.test_run_lifecycle import _config_and_env, _discord_compatible_api, _stop, _until_connected

LISTENING = re.compile(r"http://127\.0\.0\.1:(\d+)")


async def _check_pages(port: int) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/login") as r:
            assert r.status == 200 and "/tableau-de-bord" in await r.text()
            assert r.headers["X-Frame-Options"] == "DENY"
        async with http.get(f"http://127.0.0.1:{port}/", allow_redirects=False) as r:
            assert r.status == 401


async def test_reseau_bot_web_serves_the_dashboard_and_stops_on_sigterm(tmp_path):
    runner = await _discord_compatible_api([])
    config, env = _config_and_env(tmp_path, runner)
    env.pop("DISCORD_TOKEN")  # no token: the pages work, publishing is off
    try:
        upgrade = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "--config", str(config), "db", "upgrade", env=env, cwd=tmp_path)
        assert await upgrade.wait() == 0
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "--config", str(config), "web", "--port", "0", env=env, cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        lines: list[str] = []
        try:
            async with asyncio.timeout(60):
                while not lines or "Tableau de bord servi sur" not in lines[-1]:  # the CLI's own line
                    line = (await proc.stdout.readline()).decode()
                    assert line, "reseau-bot web exited early:\n" + "".join(lines)
                    lines.append(line)
            await _check_pages(int(LISTENING.search(lines[-1]).group(1)))
            code, rest = await _stop(proc)
        finally:
            if proc.returncode is None:
                proc.kill()
        assert code == 0, "".join(lines) + rest
        assert "Traceback" not in rest
    finally:
        await runner.cleanup()


async def test_run_web_embeds_the_dashboard_in_the_bots_process(tmp_path):
    runner = await _discord_compatible_api([])
    config, env = _config_and_env(tmp_path, runner, discord="[dashboard]\nport = 0\n")
    try:
        upgrade = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "--config", str(config), "db", "upgrade", env=env, cwd=tmp_path)
        assert await upgrade.wait() == 0
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "--config", str(config), "run", "--web", env=env, cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        lines: list[str] = []
        try:
            async with asyncio.timeout(60):
                await _until_connected(proc, lines)
            match = next(m for line in lines if "dashboard listening" in line and (m := LISTENING.search(line)))
            await _check_pages(int(match.group(1)))
            code, rest = await _stop(proc)
        finally:
            if proc.returncode is None:
                proc.kill()
        assert code == 0, "".join(lines) + rest
    finally:
        await runner.cleanup()
