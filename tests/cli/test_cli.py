"""The command line as an operator uses it: exit codes and messages, schema upgrade, the demo."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp import web

from tests.cli_runner import run_cli
from tests.paths import REPO

FAKE_TOKEN = "MTQ1NjA3NDQ0Mzk4MDgwMDAwMQ.GabcDE.abcdefghijklmnopqrstuvwxyz0123456789AB"


def reseau_bot(*args: str, cwd: Path, env: dict[str, str] | None = None):
    """``reseau-bot ARGS`` in this process (see tests/cli_runner.py)."""
    return run_cli(*args, cwd=cwd, env=env)


def reseau_bot_process(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120):
    """``reseau-bot ARGS`` as its own process, for what is about the process itself."""
    full_env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "RESEAU_DATABASE_URL")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], cwd=cwd, env={**full_env, "PYTHONPATH": str(REPO)},
        capture_output=True, text=True, timeout=timeout,
    )


def test_run_without_token_exits_2_with_one_clear_line(tmp_path):
    result = reseau_bot_process("--config", str(REPO / "config.example.toml"), "run", cwd=tmp_path)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "DISCORD_TOKEN" in lines[0] and "token_file" in lines[0]


@pytest.mark.parametrize(("language", "expected"), [
    ("fr", "reseau-bot: erreur de configuration\u202f: {config}: section [chanels] inconnue (sections connues\u202f: bot,"),
    ("en", "reseau-bot: configuration error: {config}: unknown section [chanels] (known sections: bot,"),
])
def test_unknown_section_exits_2_naming_it_in_the_configurations_language(tmp_path, language, expected):
    """The whole line is in the broken file's own ``bot.language`` (French when it names none)."""
    config = tmp_path / "bad.toml"
    config.write_text(f"[bot]\nlanguage = '{language}'\n[chanels]\nx = 1\n")
    result = reseau_bot("--config", str(config), "run", cwd=tmp_path, env={"DISCORD_TOKEN": FAKE_TOKEN})
    assert result.returncode == 2
    assert result.stderr.startswith(expected.format(config=config)), result.stderr
    assert FAKE_TOKEN not in result.stderr


def test_db_upgrade_creates_the_schema_in_an_empty_sqlite_file(tmp_path):
    db = tmp_path / "fresh.db"
    env = {"RESEAU_DATABASE_URL": f"sqlite+aiosqlite:///{db}"}
    before = reseau_bot("--config", str(REPO / "config.example.toml"), "db", "current", cwd=tmp_path, env=env)
    assert before.returncode == 2 and f"la base de données {db} n’existe pas" in before.stderr
    assert not db.exists()  # only db upgrade makes a new file: a mistyped path is not created empty
    sub = tmp_path / "typo" / "reseau.db"  # nor its folders
    audit = reseau_bot("--config", str(REPO / "config.example.toml"), "audit", cwd=tmp_path,
                       env={"RESEAU_DATABASE_URL": f"sqlite+aiosqlite:///{sub}"})
    assert audit.returncode == 2 and "n’existe pas" in audit.stderr and not (tmp_path / "typo").exists()
    result = reseau_bot("--config", str(REPO / "config.example.toml"), "db", "upgrade", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    tables = {r[0] for r in sqlite3.connect(db).execute("select name from sqlite_master where type='table'")}
    assert {"polls", "answers", "extracts", "deliveries", "audit_log", "profiles", "alembic_version"} <= tables
    assert sqlite3.connect(db).execute("pragma journal_mode").fetchone()[0] == "wal"
    after = reseau_bot("--config", str(REPO / "config.example.toml"), "db", "current", cwd=tmp_path, env=env)
    assert after.returncode == 0 and "(à jour)" in after.stdout


def test_run_refuses_an_out_of_date_schema(tmp_path):
    db = tmp_path / "empty.db"
    db.touch()  # an empty SQLite database
    env = {"RESEAU_DATABASE_URL": f"sqlite+aiosqlite:///{db}", "DISCORD_TOKEN": FAKE_TOKEN}
    result = reseau_bot_process("--config", str(REPO / "config.example.toml"), "run", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert "reseau-bot db upgrade" in result.stderr
    assert FAKE_TOKEN not in result.stderr + result.stdout


def test_a_database_upgraded_by_a_newer_release_says_so(tmp_path):
    """A release rolled back: the database is at 9999, a revision this code does not know. Neither
    `db current`, `db upgrade` nor `run` advises `db upgrade` (Alembic's « Can't locate revision »
    was an « erreur inattendue »): install that release again or restore a backup."""
    db = tmp_path / "newer.db"
    env = {"RESEAU_DATABASE_URL": f"sqlite+aiosqlite:///{db}", "DISCORD_TOKEN": FAKE_TOKEN}
    config = str(REPO / "config.example.toml")
    assert reseau_bot("--config", config, "db", "upgrade", cwd=tmp_path, env=env).returncode == 0
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    current = reseau_bot("--config", config, "db", "current", cwd=tmp_path, env=env)
    assert current.returncode == 1
    assert "base mise à jour par une version plus récente" in current.stdout, current.stdout
    assert "db upgrade" not in current.stdout
    upgrade = reseau_bot("--config", config, "db", "upgrade", cwd=tmp_path, env=env)
    assert upgrade.returncode == 2, upgrade.stderr
    [line] = upgrade.stderr.splitlines()
    assert "9999" in line and "version plus récente de reseau-bot" in line and "restaurez une sauvegarde" in line
    assert "erreur inattendue" not in line and "db upgrade" not in line
    run = reseau_bot_process("--config", config, "run", cwd=tmp_path, env=env)
    assert run.returncode == 2
    assert "version plus récente" in run.stderr and "db upgrade" not in run.stderr
    assert FAKE_TOKEN not in run.stderr + run.stdout


async def _refusing_discord(port_holder: list[int], ready: asyncio.Event, stop: asyncio.Event) -> None:
    async def unauthorized(request: web.Request) -> web.Response:
        return web.json_response({"message": "401: Unauthorized", "code": 0}, status=401)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", unauthorized)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port_holder.append(site._server.sockets[0].getsockname()[1])
    ready.set()
    await stop.wait()
    await runner.cleanup()


async def test_rejected_token_never_appears_in_output(tmp_path):
    """Against a loopback Discord-compatible API that refuses the token: exit 2, token hidden."""
    port: list[int] = []
    ready, stop = asyncio.Event(), asyncio.Event()
    server = asyncio.create_task(_refusing_discord(port, ready, stop))
    await ready.wait()
    db = tmp_path / "bot.db"
    config = tmp_path / "config.toml"
    config.write_text(
        f"[database]\nurl = 'sqlite+aiosqlite:///{db}'\n[bot]\nlog_level = 'DEBUG'\n"
        f"[discord]\napi_base_url = 'http://127.0.0.1:{port[0]}/api/v10'\n"
        f"gateway_url = 'ws://127.0.0.1:{port[0]}/gateway'\n"
    )
    upgrade = await asyncio.to_thread(reseau_bot_process, "--config", str(config), "db", "upgrade", cwd=tmp_path)
    assert upgrade.returncode == 0, upgrade.stderr
    result = await asyncio.to_thread(
        reseau_bot_process, "--config", str(config), "run", cwd=tmp_path, env={"DISCORD_TOKEN": FAKE_TOKEN}
    )
    stop.set()
    await server
    assert result.returncode == 2, result.stderr
    assert "Discord a refusé le jeton" in result.stderr
    assert FAKE_TOKEN not in result.stderr + result.stdout
    assert FAKE_TOKEN.split(".")[0] not in result.stderr + result.stdout


def test_config_is_accepted_after_the_sub_command_too(tmp_path):
    config = tmp_path / "x.toml"
    config.write_text(f"[database]\nurl = 'sqlite+aiosqlite:///{tmp_path / 'x.db'}'\n")
    after = reseau_bot("run", "--config", str(config), cwd=tmp_path)
    assert after.returncode == 2 and "DISCORD_TOKEN" in after.stderr  # got past parsing and the config
    upgrade = reseau_bot("db", "upgrade", "--config", str(config), cwd=tmp_path)
    assert upgrade.returncode == 0, upgrade.stderr
    assert (tmp_path / "x.db").exists()  # the config given after `db upgrade` was the one used
    assert reseau_bot("--config", str(config), "db", "current", cwd=tmp_path).returncode == 0
    missing = reseau_bot("run", "--config", str(tmp_path / "nope.toml"), cwd=tmp_path)
    assert missing.returncode == 2 and "nope.toml" in missing.stderr and "Traceback" not in missing.stderr


def test_init_is_not_stopped_by_a_broken_config(tmp_path):
    (tmp_path / "config.toml").write_text("[bot\n")  # not TOML
    result = reseau_bot("init", "--force", "--lang", "fr", "--channel", "123456789012345678:223456789012345678:fr",
                        "--moderator-role", "323456789012345678", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "223456789012345678" in (tmp_path / "config.toml").read_text(encoding="utf-8")
    current = reseau_bot("db", "current", cwd=tmp_path)  # the new file loads: the database is what is missing
    assert current.returncode == 2 and "data/reseau-bot.db n’existe pas" in current.stderr


def test_the_cli_speaks_the_configured_language(tmp_path):
    english = tmp_path / "en.toml"
    english.write_text("[bot]\nlanguage = 'en'\n")
    french = reseau_bot("--config", str(REPO / "config.example.toml"), "run", "--help", cwd=tmp_path)
    assert french.returncode == 0 and french.stdout.startswith("usage\u202f: reseau-bot run")
    assert "afficher cette aide et quitter" in french.stdout and "DISCORD_TOKEN" in french.stdout
    en = reseau_bot("--config", str(english), "run", "--help", cwd=tmp_path)
    assert en.stdout.startswith("usage: reseau-bot run") and "show this help message" in en.stdout
    assert "DISCORD_TOKEN" in en.stdout
    wrong = reseau_bot("extracts", "imprt", cwd=tmp_path)
    assert wrong.returncode == 2
    assert "erreur\u202f: argument ACTION\u202f: choix invalide\u202f: 'imprt'" in wrong.stderr
    no_token = reseau_bot("--config", str(english), "run", cwd=tmp_path)
    assert no_token.stderr.startswith("reseau-bot: no Discord token")


def test_every_option_has_help_and_developer_actions_are_hidden():
    import argparse

    from bot.cli import _load_features, parser
    from bot.cli_base import Text

    _load_features()
    top = parser(Text("fr"))
    seen: list[str] = []

    def walk(p: argparse.ArgumentParser, path: str) -> None:
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                listed = {a.dest for a in action._choices_actions}
                for name, child in action.choices.items():
                    if (path, name) in {("db", "downgrade"), ("db", "revision")}:
                        assert name not in listed  # developers only: not in the help
                        continue
                    assert name in listed, f"{path} {name} has no help"
                    walk(child, f"{path} {name}".strip())
            elif action.help != argparse.SUPPRESS and action.dest != "preview_seconds":
                assert action.help, f"{path}: {action.option_strings or action.dest} has no help"
                seen.append(f"{path} {action.dest}")

    walk(top, "")
    assert {"export output", "audit limit", "extracts import source", "schedule count"} <= set(seen)
    help_text = top._subparsers._group_actions[0].choices["db"].format_help()
    assert "upgrade" in help_text and "downgrade" not in help_text and "revision" not in help_text


def test_an_unreachable_database_is_one_line_without_the_password(tmp_path):
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {"RESEAU_DATABASE_URL": f"postgresql+asyncpg://reseau:s3cr3t-pw@127.0.0.1:{port}/reseau"}
    result = reseau_bot("db", "current", cwd=tmp_path, env=env)
    assert result.returncode == 75  # may pass by itself: systemd restarts after 75, not after 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("reseau-bot: la base de données postgresql+asyncpg://reseau:***@127.0.0.1:")
    assert "s3cr3t-pw" not in result.stderr + result.stdout


def test_a_closed_pipe_ends_quietly(tmp_path):
    """`reseau-bot schedule --count 5000 | head -n 1`: no BrokenPipeError traceback."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "RESEAU_DATABASE_URL")}
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "schedule", "--count", "5000"], cwd=tmp_path,
                            env={**env, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline().startswith(b"prochains extraits mensuels")
    proc.stdout.close()  # the reader goes away, as `head` does
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0, stderr
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr


def test_secret_filter_masks_tokens_in_log_records():
    import logging

    from bot.runtime import SecretFilter

    f = SecretFilter(["s3cr3t-value"])
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "token=%s other=%s", ("s3cr3t-value", FAKE_TOKEN), None)
    f.filter(record)
    assert "s3cr3t-value" not in record.getMessage() and FAKE_TOKEN not in record.getMessage()


async def test_debug_logging_writes_no_statement_values(tmp_path, capsys):
    """log_level = "DEBUG" (what an error message may advise) on SQLite: aiosqlite logs every
    statement with its values at DEBUG — the pseudonyms' key, profiles, answers. Capped at INFO."""
    import logging

    from sqlalchemy import text

    from bot.runtime import setup_logging
    from storage.db import create_engine

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    setup_logging("DEBUG")
    try:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (v TEXT)"))
            await conn.execute(text("INSERT INTO t VALUES (:v)"), {"v": "answer-key-f6d6d3a4"})
        await engine.dispose()
        logging.getLogger("reseau.test").debug("our own DEBUG lines still show")
    finally:
        root.handlers[:], root.level = handlers, level
    err = capsys.readouterr().err
    assert "our own DEBUG lines still show" in err
    assert "answer-key-f6d6d3a4" not in err
