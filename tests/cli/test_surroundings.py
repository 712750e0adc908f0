"""What failed around the command is named, with the exit code systemd acts on: Discord that does
not answer, a port taken or an address that is not this machine's — never blamed on the database
— and exit 75 (``EX_TEMPFAIL``, restarted by the unit) for what may pass by itself, 2 for what a
person must fix.  Discord is bench/fake_discord.py or a closed port; commands that point
discord.py at it run as their own process."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bench.fake_discord import FakeDiscordREST
from tests.cli.test_hardening_errors import FAKE_TOKEN, closed_port, one_line
from tests.cli_runner import run_cli
from tests.paths import REPO


def write_config(folder: Path, database_url: str, extra: str = "") -> Path:
    config = folder / "config.toml"
    config.write_text(f"[database]\nurl = '{database_url}'\n[bot]\nlog_level = 'ERROR'\n{extra}\n")
    return config


def run_process(config: Path, *args: str, token: str = FAKE_TOKEN) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "RESEAU_DATABASE_URL")}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "--config", str(config), *args], cwd=config.parent,
        env={**env, "DISCORD_TOKEN": token, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=60,
    )


def test_extracts_publish_with_discord_down_names_discord_and_exits_75(database_url: str, tmp_path: Path) -> None:
    api = f"http://127.0.0.1:{closed_port()}/api/v10"
    config = write_config(tmp_path, database_url, f"[discord]\napi_base_url = '{api}'\n")
    result = run_process(config, "extracts", "publish")
    assert result.returncode == 75, result.stderr
    line = one_line(result.stderr)  # no « Unclosed client session » after it
    assert line.startswith(f"reseau-bot: Discord ne répond pas à {api}"), line
    assert "base de données" not in line and FAKE_TOKEN not in result.stderr + result.stdout


async def test_a_refused_token_is_one_line_without_an_unclosed_session(database_url: str, tmp_path: Path) -> None:
    async with FakeDiscordREST(token="the-right-token") as srv:
        config = write_config(tmp_path, database_url, f"[discord]\napi_base_url = '{srv.base_url}'\n")
        result = await asyncio.to_thread(run_process, config, "extracts", "publish")
    assert result.returncode == 2, result.stderr
    assert "Discord a refusé le jeton" in one_line(result.stderr)


def _listening() -> tuple[socket.socket, int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock, sock.getsockname()[1]


def test_web_on_a_taken_port_or_an_impossible_host_names_the_address(database_url: str, tmp_path: Path) -> None:
    config = write_config(tmp_path, database_url)
    sock, port = _listening()
    with sock:
        taken = run_cli("--config", str(config), "web", "--port", str(port), "--serve-seconds", "0", cwd=tmp_path)
    assert taken.returncode == 2, taken.stderr
    line = one_line(taken.stderr)
    assert f"impossible d’écouter sur 127.0.0.1:{port}" in line and "base de données" not in line, line
    no_host = run_cli("--config", str(config), "web", "--host", "256.1.1.1", "--port", "0", "--serve-seconds", "0",
                      cwd=tmp_path)
    assert no_host.returncode == 2, no_host.stderr
    line = one_line(no_host.stderr)
    assert "impossible d’écouter sur 256.1.1.1:0" in line and "base de données" not in line, line


def test_run_web_on_a_taken_port_names_the_port(database_url: str, tmp_path: Path) -> None:
    sock, port = _listening()
    api = f"http://127.0.0.1:{closed_port()}/api/v10"
    config = write_config(tmp_path, database_url, f"[discord]\napi_base_url = '{api}'\n[dashboard]\nport = {port}\n")
    with sock:
        result = run_process(config, "run", "--web")
    assert result.returncode == 2, result.stderr
    line = one_line(result.stderr)
    assert f"impossible d’écouter sur 127.0.0.1:{port}" in line and "base de données" not in line, line


def test_the_units_restart_after_75_and_not_after_2() -> None:
    for unit in ("reseau-bot.service", "reseau-bot@.service", "reseau-bot-web.service"):
        lines = (REPO / "deploy" / unit).read_text().splitlines()
        assert "Restart=always" in lines and "RestartPreventExitStatus=2" in lines, unit
        assert not any(line.startswith("RestartPreventExitStatus=") and "75" in line for line in lines)


def test_demo_preview_on_a_taken_port_is_said_before_the_scenario(tmp_path: Path) -> None:
    sock, port = _listening()
    with sock:
        result = run_cli("demo", "--preview", "--port", str(port), "--out", str(tmp_path / "demo"), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert f"impossible d’écouter sur 127.0.0.1:{port}" in one_line(result.stderr)
    assert result.stdout == "" and not (tmp_path / "demo").exists()  # nothing ran


@pytest.mark.parametrize(
    ("args", "option", "expected"),
    [
        (("web", "--port", "99999"), "--port", "« 99999 » : un nombre entier de 0 à 65535"),
        (("demo", "--preview", "--port", "70000"), "--port", "« 70000 » : un nombre entier de 0 à 65535"),
        (("run", "--metrics-port", "-1"), "--metrics-port", "« -1 » : un nombre entier de 0 à 65535"),
        (("audit", "--limit", "0"), "--limit", "« 0 » : un nombre entier d’au moins 1"),
        (("audit", "--limit", "-5"), "--limit", "« -5 » : un nombre entier d’au moins 1"),
        (("schedule", "--count", "-3"), "--count", "« -3 » : un nombre entier d’au moins 1"),
    ],
)
def test_numbers_out_of_range_are_refused_by_argparse(args: tuple[str, ...], option: str, expected: str,
                                                      tmp_path: Path) -> None:
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    last = result.stderr.strip().splitlines()[-1].replace("\u202f", " ")
    assert f"argument {option} : {expected}" in last, last
    assert "Traceback" not in result.stderr and "erreur inattendue" not in result.stderr


def test_a_reversed_shard_range_is_refused(tmp_path: Path) -> None:
    result = run_cli("run", "--shard-ids", "3-1", "--shard-count", "4", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "--shard-ids 3-1\u202f: numéros de shards attendus" in one_line(result.stderr)


def test_web_on_port_0_prints_the_port_it_listens_on(database_url: str, tmp_path: Path) -> None:
    config = write_config(tmp_path, database_url)
    result = run_cli("--config", str(config), "web", "--port", "0", "--serve-seconds", "0", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    url = re.search(r"servi sur (http://127\.0\.0\.1:\d+)", result.stdout)
    assert url and f"adresse publique\u202f: {url[1]})" in result.stdout, result.stdout
