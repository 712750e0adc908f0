"""deploy/reseau-bot-admin reads /etc/reseau-bot/reseau-bot.env as systemd's EnvironmentFile= does:
values are never expanded nor run (sourcing it with `sh` turned `pa$$word` into `pa<pid>word` and
would have run `…` or $(…) in a value as root), and quotes, escapes, continuation lines and comments
are decoded as systemd decodes them — checked against the installed systemd's own parser when the
machine has one. The script runs for real, with stubs for setpriv and for the venv's reseau-bot
that print the environment the command got (and for systemctl, to say which systemd reads)."""

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


def _run_admin(tmp_path: Path, env_file: str, *, systemd: int | None = None,
               args: tuple[str, ...] = ("check",), files: dict[str, str] | None = None) -> dict[str, str]:
    """The environment the command got; ``systemd``: the version a stub ``systemctl --version``
    says (None: the machine's own systemctl, if any); ``files``: other files of /etc/reseau-bot."""
    etc, home, code, stubs = (tmp_path / n for n in ("etc", "home", "code", "stubs"))
    etc.mkdir(parents=True)
    home.mkdir()
    (etc / "reseau-bot.env").write_bytes(env_file.encode())
    for name, content in (files or {}).items():
        (etc / name).write_text(content)
    # setpriv needs root: this one drops its options and runs the command as it is.
    _stub(stubs / "setpriv", 'while [ "${1#--}" != "$1" ]; do shift; done\nexec "$@"\n')
    if systemd is not None:
        _stub(stubs / "systemctl", f'echo "systemd {systemd} ({systemd}-1)"\necho "+PAM +AUDIT"\n')
    # The bot's command line: prints the variables the env file set (NUL-safe), then its arguments.
    _stub(code / ".venv" / "bin" / "reseau-bot", 'env -0\nprintf "ARGS=%s\\0" "$*"\n')
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
        ["sh", str(SCRIPT), *args], env=environment, capture_output=True, timeout=30, check=False
    )
    if result.returncode:
        return {"EXIT": str(result.returncode), "STDERR": result.stderr.decode()}
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


# What systemd reads in an env file (systemd.exec(5), EnvironmentFile=; its parser,
# src/basic/env-file.c): escapes in double quotes as sh decodes them (only \" \\ \` \$; \n stays
# two characters), single quotes literal, continuation lines, comments, quoted parts joined.
SYSTEMD_CASES = (
    "# the bot's secrets\n"
    "state=comment\n"  # names the reader itself might use: they change nothing of its reading
    "value=v\n"
    "T_PASSWORD=pa$$word\n"
    'T_QUOTED="a \\"quoted\\" \\\\ value"\n'
    "T_SINGLE='single $x'\n"
    "T_RUN=$(touch $MARKER)\n"
    'T_RUN_QUOTED="$(touch $MARKER) `touch $MARKER`"\n'
    'T_ESCAPES="tab\\tnew\\nline \\$HOME \\`x\\` \\a"\n'
    "T_UNQUOTED=a\\ b\\\\c \\$d \\n\n"
    'T_INNER=a"b" c  \n'
    "T_JOINED=\"x\"y'z'\n"
    "T_CONTINUED=foo \\\n"
    "   bar\n"
    'T_MULTI="first\n'
    'second"\n'
    'T_QUOTED_CONTINUED="one \\\n'
    'two"\n'
    "T_SINGLE_MULTI='a\n"
    "b \\'\n"
    "   T_SPACED  =  kept   \n"
    "T_EQUALS=a=b\n"
    "T_EMPTY=\n"
    "T_NO_VALUE\n"
    "9T_DIGIT=dropped\n"
    "T BAD=dropped\n"
    "; a comment too\n"
    "T_TWICE=first\n"
    "T_TWICE=second\n"
    "# a comment ending with a backslash \\\n"
    "T_AFTER_COMMENT=after\n"
    "T_CRLF=x\r\n"
    "T_LAST=no newline"
)
SYSTEMD_VALUES = {
    "state": "comment",
    "value": "v",
    "T_PASSWORD": "pa$$word",
    "T_QUOTED": 'a "quoted" \\ value',
    "T_SINGLE": "single $x",
    "T_RUN": "$(touch $MARKER)",
    "T_RUN_QUOTED": "$(touch $MARKER) `touch $MARKER`",
    "T_ESCAPES": "tab\\tnew\\nline $HOME `x` \\a",
    "T_UNQUOTED": "a b\\c $d n",
    "T_INNER": 'a"b" c',
    "T_JOINED": "xy'z'",
    "T_CONTINUED": "foo    bar",
    "T_MULTI": "first\nsecond",
    "T_QUOTED_CONTINUED": "one two",
    "T_SINGLE_MULTI": "a\nb \\",
    "T_SPACED": "kept",
    "T_EQUALS": "a=b",
    "T_EMPTY": "",
    "T_TWICE": "second",
    "T_CRLF": "x",
    "T_LAST": "no newline",
}


def _from_cases(environment: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in environment.items() if k.startswith("T") or k in ("state", "value")}


def _systemd_reads(path: Path) -> dict[str, str] | None:
    """What the installed systemd makes of the env file: its own parser, from its shared library
    (load_env_file, then the invalid assignments dropped as a service's start does), in a child
    process; None without systemd."""
    import glob
    import sys

    libraries = sorted(
        glob.glob("/usr/lib/*/systemd/libsystemd-shared-*.so") + glob.glob("/lib/systemd/libsystemd-shared-*.so")
    )
    if not libraries:
        return None
    program = (
        "import ctypes, sys\n"
        "lib = ctypes.CDLL(sys.argv[1])\n"
        "strv = ctypes.POINTER(ctypes.c_char_p)\n"
        "lib.load_env_file.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(strv)]\n"
        "lib.strv_env_clean_with_callback.restype = strv\n"
        "lib.strv_env_clean_with_callback.argtypes = [strv, ctypes.c_void_p, ctypes.c_void_p]\n"
        "out = strv()\n"
        "assert lib.load_env_file(None, sys.argv[2].encode(), ctypes.byref(out)) >= 0\n"
        "out = lib.strv_env_clean_with_callback(out, None, None)\n"
        "i = 0\n"
        "while out and out[i] is not None:\n"
        "    sys.stdout.buffer.write(out[i] + b'\\0')\n"
        "    i += 1\n"
    )
    result = subprocess.run([sys.executable, "-c", program, libraries[-1], str(path)], capture_output=True,
                            timeout=30, check=True)
    pairs = (item.split(b"=", 1) for item in result.stdout.split(b"\0") if b"=" in item)
    return {key.decode(): value.decode() for key, value in pairs}


def test_values_are_read_as_systemd_reads_them(tmp_path: Path) -> None:
    """Escapes in double quotes were kept as typed (\\" stayed \\", \\\\ stayed \\\\), single quotes
    and continuation lines were not systemd's: the script reads what the service gets."""
    for version, after_comment in ((252, None), (257, "after")):  # 254 stopped a comment at its end
        folder = tmp_path / str(version)
        got = _from_cases(_run_admin(folder, SYSTEMD_CASES, systemd=version))
        after = got.pop("T_AFTER_COMMENT", None)
        assert got == SYSTEMD_VALUES
        assert after == after_comment
    # the installed systemd (its library, its systemctl) agrees with the script, value for value
    oracle = _systemd_reads(folder / "etc" / "reseau-bot.env")
    if oracle is not None:
        got = _from_cases(_run_admin(tmp_path / "installed", SYSTEMD_CASES))
        assert got == _from_cases(oracle)
        assert {k: v for k, v in got.items() if k != "T_AFTER_COMMENT"} == SYSTEMD_VALUES


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


def test_an_instance_reads_its_own_env_file_after_the_common_one(tmp_path: Path) -> None:
    """``--instance 0-1`` runs the command as reseau-bot@0-1.service runs the bot: 0-1.env's
    values, read the same way, win over reseau-bot.env's; no such file is no error (systemd's
    ``EnvironmentFile=-``); a name that is not a unit instance's is refused, in one line."""
    common = "DISCORD_TOKEN=from-common-file\nMETRICS_PORT=9100\n"
    files = {"0-1.env": "METRICS_PORT=9101\nEXTRA='$(touch $MARKER)'\n"}
    got = _run_admin(tmp_path / "a", common, args=("--instance", "0-1", "db", "upgrade"), files=files)
    assert (got["DISCORD_TOKEN"], got["METRICS_PORT"], got["EXTRA"]) == ("from-common-file", "9101", "$(touch $MARKER)")
    assert got["ARGS"].endswith("config.toml db upgrade"), got["ARGS"]
    alone = _run_admin(tmp_path / "b", common, args=("--instance", "2-3", "check"), files=files)
    assert (alone["METRICS_PORT"], "EXTRA" in alone) == ("9100", False)
    plain = _run_admin(tmp_path / "c", common, files=files)
    assert plain["METRICS_PORT"] == "9100" and plain["ARGS"].endswith("config.toml check")
    for bad in ("../reseau-bot", "", "a b"):
        refused = _run_admin(tmp_path / f"d{len(bad)}", common, args=("--instance", bad, "check"), files=files)
        assert refused["EXIT"] == "2", refused
        assert refused["STDERR"].count("\n") == 1 and "--instance" in refused["STDERR"], refused
