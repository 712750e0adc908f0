"""deploy/reseau-bot-admin reads /etc/reseau-bot/reseau-bot.env as systemd's EnvironmentFile= does:
values are literal. Sourcing it with `sh` turned `pa$$word` into `pa<pid>word` and would have run
`…` or $(…) in a value as root. The script runs for real, with stubs for setpriv and for the
venv's reseau-bot that print the environment the command got."""

from __future__ import annotations

import getpass
import os
import subprocess
from pathlib import Path

from tests.paths import REPO

SCRIPT = REPO / "deploy" / "reseau-bot-admin"


def _stub(path: Path, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)


def _run_admin(tmp_path: Path, env_file: str) -> dict[str, str]:
    etc, home, code, stubs = (tmp_path / n for n in ("etc", "home", "code", "stubs"))
    etc.mkdir()
    home.mkdir()
    (etc / "reseau-bot.env").write_text(env_file)
    # setpriv needs root: this one drops its options and runs the command as it is.
    _stub(stubs / "setpriv", 'while [ "${1#--}" != "$1" ]; do shift; done\nexec "$@"\n')
    # The bot's command line: prints the variables the env file set, one per line (NUL-safe).
    _stub(code / ".venv" / "bin" / "reseau-bot", 'env -0\n')
    marker = tmp_path / "ran"
    environment = {
        "PATH": f"{stubs}:{os.environ['PATH']}",
        "RESEAU_BOT_USER": getpass.getuser(),
        "RESEAU_BOT_HOME": str(home),
        "RESEAU_BOT_CODE": str(code),
        "RESEAU_BOT_ETC": str(etc),
        "MARKER": str(marker),
    }
    result = subprocess.run(
        ["sh", str(SCRIPT), "check"], env=environment, capture_output=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr.decode()
    assert not marker.exists(), "a value of the env file was run as a command"
    pairs = (item.split(b"=", 1) for item in result.stdout.split(b"\0") if b"=" in item)
    return {key.decode(): value.decode() for key, value in pairs}


def test_values_are_literal_and_never_run(tmp_path: Path) -> None:
    got = _run_admin(
        tmp_path,
        "# the bot's secrets\n"
        "DISCORD_TOKEN=abc.def$$ghi\n"
        "RESEAU_DATABASE_URL=postgresql+asyncpg://bot:pa$$word@db/reseau\n"
        "RESEAU_EXPORT_SECRET=`touch $MARKER`\n"
        "TWO=$(touch $MARKER)\n"
        'SPACED="a value with  spaces"\n'
        "SINGLE='it $HOME'\n"
        "  INDENTED = kept  \n"
        "; a comment too\n"
        "\n"
        "not a line\n",
    )
    assert got["DISCORD_TOKEN"] == "abc.def$$ghi"
    assert got["RESEAU_DATABASE_URL"] == "postgresql+asyncpg://bot:pa$$word@db/reseau"
    assert got["RESEAU_EXPORT_SECRET"] == "`touch $MARKER`"
    assert got["TWO"] == "$(touch $MARKER)"
    assert got["SPACED"] == "a value with  spaces"
    assert got["SINGLE"] == "it $HOME"
    assert got["INDENTED"] == "kept"


def test_the_postgresql_backup_uses_the_configured_url_without_putting_the_password_on_argv(tmp_path: Path) -> None:
    """deploy/reseau-bot-pg-backup (the backup unit's PostgreSQL line) reaches the configured,
    possibly remote and password-protected database: before, the unit ran `pg_dump reseau` over
    local peer authentication only. pg_dump is a stub recording what it got."""
    import sys

    stubs, backups = tmp_path / "stubs", tmp_path / "backups"
    backups.mkdir()
    record = tmp_path / "pg_dump.txt"
    _stub(stubs / "pg_dump", f'{{ echo "ARGS $*"; env | grep ^PG; }} > {record}\n'
                             'while [ $# -gt 1 ]; do [ "$1" = -f ] && : > "$2"; shift; done\n')
    old = backups / "reseau-2020-01-01.dump"
    old.write_text("old")
    os.utime(old, (0, 0))
    config = tmp_path / "config.toml"
    config.write_text("[database]\nurl = 'sqlite+aiosqlite:///nowhere.db'\n")
    url = "postgresql+asyncpg://bot:pa$$word@db.example:5433/reseau"
    environment = {"PATH": f"{stubs}:{os.environ['PATH']}", "PYTHONPATH": str(REPO), "RESEAU_DATABASE_URL": url}
    result = subprocess.run(
        [sys.executable, str(REPO / "deploy" / "reseau-bot-pg-backup"), str(config), str(backups)],
        env=environment, capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    got = record.read_text()
    assert "PGPASSWORD=pa$$word" in got and "PGHOST=db.example" in got and "PGPORT=5433" in got
    assert "PGUSER=bot" in got and "PGDATABASE=reseau" in got
    [args] = [line for line in got.splitlines() if line.startswith("ARGS")]
    assert "pa$$word" not in args and "-Fc" in args
    assert not old.exists() and len(list(backups.glob("reseau-*.dump"))) == 1
