"""Issue 10, item 14: errors a person can act on.  An unreachable or malformed database URL, no
network at ``run``, a missing export folder and a negative ``default_duration_hours`` each give one
line naming the problem (the password never shown) and exit code 2, without a traceback.

The commands that touch a database run on the test database (a migrated SQLite copy, or
PostgreSQL when RESEAU_TEST_DATABASE_URL is set).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.cli_runner import run_cli
from tests.conftest import PG_URL
from tests.paths import REPO

PASSWORD = "s3cr3t-pw"
FAKE_TOKEN = "MTQ1NjA3NDQ0Mzk4MDgwMDAwMQ.GabcDE.abcdefghijklmnopqrstuvwxyz0123456789AB"


def closed_port() -> int:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def one_line(stderr: str) -> str:
    """The single line of ``stderr``: no traceback, no second line."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def write_config(folder: Path, database_url: str, extra: str = "") -> Path:
    config = folder / "config.toml"
    config.write_text(f"[database]\nurl = '{database_url}'\n[bot]\nlog_level = 'ERROR'\n{extra}\n")
    return config


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql+asyncpg://reseau:{PASSWORD}@db.example:port/reseau",  # a port that is no number
        f"postgresql+asyncpg://reseau:{PASSWORD}@[::1/reseau",  # an unclosed [
    ],
)
def test_item14_malformed_database_url_is_one_line_exit_2(url: str, tmp_path: Path) -> None:
    from_env = run_cli("db", "current", cwd=tmp_path, env={"RESEAU_DATABASE_URL": url})
    from_file = run_cli("--config", str(write_config(tmp_path, url)), "db", "current", cwd=tmp_path)
    for result, name in ((from_env, "RESEAU_DATABASE_URL"), (from_file, "database.url")):
        assert result.returncode == 2, result.stderr
        line = one_line(result.stderr)
        assert name in line and "est mal formée" in line and "port" in line
        assert PASSWORD not in result.stderr + result.stdout
        assert ("config.toml:" in line) == (name == "database.url")  # the environment's is no file's


@pytest.mark.parametrize(("where", "name"), [("env", "RESEAU_DATABASE_URL"), ("file", "config.toml: database.url")])
def test_another_driver_is_named_where_it_comes_from(where: str, name: str, tmp_path: Path) -> None:
    url = f"mysql://reseau:{PASSWORD}@db.example/reseau"
    if where == "env":
        result = run_cli("db", "current", cwd=tmp_path, env={"RESEAU_DATABASE_URL": url})
    else:
        result = run_cli("--config", str(write_config(tmp_path, url)), "db", "current", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    line = one_line(result.stderr)
    assert line.endswith(f"{name} doit commencer par sqlite+aiosqlite:// ou postgresql+asyncpg://"), line
    assert ("config.toml" in line) == (where == "file")
    assert PASSWORD not in result.stderr + result.stdout


def test_item14_unreachable_database_is_one_line_exit_75(tmp_path: Path) -> None:
    """A database that does not answer may come back by itself (PostgreSQL restarting): exit 75,
    which systemd restarts after; a file in the way of its folder needs a person: exit 2."""
    url = f"postgresql+asyncpg://reseau:{PASSWORD}@127.0.0.1:{closed_port()}/reseau"
    result = run_cli("db", "upgrade", cwd=tmp_path, env={"RESEAU_DATABASE_URL": url})
    assert result.returncode == 75
    line = one_line(result.stderr)
    assert line.startswith("reseau-bot: la base de données postgresql+asyncpg://reseau:***@127.0.0.1:")
    assert PASSWORD not in result.stderr + result.stdout
    # A SQLite file where no folder can be made (a file is in the way): the path, named.
    (tmp_path / "data").write_text("not a folder")
    url = f"sqlite+aiosqlite:///{tmp_path}/data/reseau.db"
    result = run_cli("db", "upgrade", cwd=tmp_path, env={"RESEAU_DATABASE_URL": url})
    assert result.returncode == 2
    assert str(tmp_path / "data") in one_line(result.stderr)


def test_item14_missing_export_folder_is_one_line_exit_2(database_url: str, tmp_path: Path) -> None:
    config = write_config(tmp_path, database_url)
    missing = tmp_path / "exports-2026"
    result = run_cli(
        "--config", str(config), "export", "--campaign", "Enquête", "-o", str(missing / "enquete.csv"),
        cwd=tmp_path, env={"RESEAU_EXPORT_SECRET": "a-long-enough-secret-for-the-pseudonyms"},
    )
    assert result.returncode == 2, result.stderr
    line = one_line(result.stderr)
    assert str(missing) in line and "n’existe pas" in line and "base de données" not in line
    assert not missing.exists()


def test_a_format_the_file_name_contradicts_is_one_line_exit_2(database_url: str, tmp_path: Path) -> None:
    """CSV text in a file named .xlsx would be refused by Excel: said before anything is written."""
    config = write_config(tmp_path, database_url)
    result = run_cli(
        "--config", str(config), "export", "--campaign", "Enquête", "--format", "csv", "-o", str(tmp_path / "x.xlsx"),
        cwd=tmp_path, env={"RESEAU_EXPORT_SECRET": "a-long-enough-secret-for-the-pseudonyms"},
    )
    assert result.returncode == 2, result.stderr
    line = one_line(result.stderr)
    assert "« x.xlsx » se termine par .xlsx, mais --format csv est demandé" in line.replace("\u202f", " ")
    assert not (tmp_path / "x.xlsx").exists() and not (tmp_path / "x.codebook.xlsx").exists()


@pytest.mark.parametrize("hours", [-5, 0])
def test_item14_non_positive_default_duration_is_one_line_exit_2(hours: int, database_url: str, tmp_path: Path) -> None:
    config = write_config(tmp_path, database_url, f"[polls]\ndefault_duration_hours = {hours}\n")
    result = run_cli("--config", str(config), "db", "current", cwd=tmp_path)
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert "polls.default_duration_hours" in line and str(hours) in line


def test_item14_run_without_network_is_one_line_exit_75(database_url: str, tmp_path: Path) -> None:
    """Discord cannot be reached (nothing listens at the API address): one line naming it, exit
    75 (temporary: systemd starts the bot again; 2 would stop it for good after a reboot with a
    slow network).  As its own process: `run` installs signal handlers and points discord.py at
    the address."""
    api = f"http://127.0.0.1:{closed_port()}/api/v10"
    config = write_config(tmp_path, database_url, f"[discord]\napi_base_url = '{api}'\ngateway_url = 'ws://127.0.0.1:1/'\n")
    env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "RESEAU_DATABASE_URL")}
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--config", str(config), "run"], cwd=tmp_path,
        env={**env, "DISCORD_TOKEN": FAKE_TOKEN, "PYTHONPATH": str(REPO)},
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 75, result.stderr
    line = one_line(result.stderr)
    assert line.startswith("reseau-bot: Discord ne répond pas à " + api) and "base de données" not in line
    assert FAKE_TOKEN not in result.stderr + result.stdout


def _run(config: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "RESEAU_DATABASE_URL")}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "--config", str(config), "run"], cwd=tmp_path,
        env={**env, "DISCORD_TOKEN": FAKE_TOKEN, "PYTHONPATH": str(REPO)},
        capture_output=True, text=True, timeout=60,
    )


def test_item14_run_checks_its_database_before_discord_in_one_line_exit_2(tmp_path: Path) -> None:
    """`run` reads its database without SQLAlchemy (``storage.plain``) before it logs in: the
    driver's own errors take the same one-line path as SQLAlchemy's did.  An SQLite file that does
    not exist is said (neither it nor its folder made); an empty one: the schema line; a file in
    the way of the folder: its path."""
    fresh = write_config(tmp_path, f"sqlite+aiosqlite:///{tmp_path}/new/reseau.db")
    result = _run(fresh, tmp_path)
    assert result.returncode == 2, result.stderr
    line = one_line(result.stderr)
    assert f"{tmp_path}/new/reseau.db n’existe pas" in line and "reseau-bot db upgrade" in line, line
    assert not (tmp_path / "new").exists()
    (tmp_path / "empty.db").touch()
    result = _run(write_config(tmp_path, f"sqlite+aiosqlite:///{tmp_path}/empty.db"), tmp_path)
    assert result.returncode == 2, result.stderr
    line = one_line(result.stderr)
    assert "schéma de la base" in line and "reseau-bot db upgrade" in line, line
    (tmp_path / "data").write_text("not a folder")
    blocked = write_config(tmp_path, f"sqlite+aiosqlite:///{tmp_path}/data/reseau.db")
    result = _run(blocked, tmp_path)
    assert result.returncode == 2, result.stderr
    assert str(tmp_path / "data") in one_line(result.stderr)


@pytest.mark.skipif(not PG_URL, reason="a PostgreSQL server refusing a database (RESEAU_TEST_DATABASE_URL)")
def test_item14_run_on_a_postgresql_database_that_does_not_exist_is_one_line_exit_2(tmp_path: Path) -> None:
    url = make_url(PG_URL).set(database="reseau_no_such_database")
    result = _run(write_config(tmp_path, url.render_as_string(hide_password=False)), tmp_path)
    assert result.returncode == 2, result.stderr
    line = one_line(result.stderr)
    assert line.startswith("reseau-bot: la base de données postgresql+asyncpg://"), line
    assert 'database "reseau_no_such_database" does not exist' in line
