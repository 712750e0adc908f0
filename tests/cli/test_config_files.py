"""A configuration or token file that cannot be used is one line naming the file or the key —
never a traceback, never the token: a folder given as --config, a file this user cannot read, bytes
that are not UTF-8, the token pasted as discord.token_file, ids no Discord snowflake can have;
Ctrl-C while the command line loads exits quietly with 130."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.test_hardening_errors import FAKE_TOKEN, closed_port, one_line
from tests.cli_runner import run_cli
from tests.paths import REPO


def test_a_folder_as_config_is_one_line(tmp_path: Path) -> None:
    result = run_cli("--config", str(tmp_path), "audit", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "c’est un dossier, pas un fichier de configuration" in one_line(result.stderr)


def test_a_config_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_bytes(b"[bot]\n# caf\xe9 (Latin-1)\n")
    result = run_cli("--config", str(config), "audit", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert f"{config}: ce fichier n’est pas du texte UTF-8" in one_line(result.stderr)


def test_a_config_this_user_cannot_read_is_one_line(tmp_path: Path) -> None:
    """/etc/reseau-bot/config.toml is root:reseau-bot 640: another user cannot read it.  As root
    (the CI's container), the process runs without the capabilities that bypass file modes."""
    config = tmp_path / "config.toml"
    config.write_text("[bot]\nlog_level = 'ERROR'\n")
    config.chmod(0)
    command = [sys.executable, "-m", "bot.cli", "--config", str(config), "audit"]
    if os.geteuid() == 0:
        command = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", *command]
    result = subprocess.run(command, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    line = one_line(result.stderr)
    assert f"{config}: impossible de lire ce fichier (Permission denied)" in line, line


def test_init_with_another_driver_in_the_environment_is_one_line(tmp_path: Path) -> None:
    result = run_cli("init", cwd=tmp_path, env={"RESEAU_DATABASE_URL": "mysql://u:pw@h/db"})
    assert result.returncode == 2, result.stderr
    line = one_line(result.stderr)
    assert "RESEAU_DATABASE_URL doit commencer par sqlite+aiosqlite://" in line and "pw" not in line


def test_the_token_pasted_as_token_file_is_never_printed(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f"[bot]\nlog_level = 'ERROR'\n[discord]\ntoken_file = '{FAKE_TOKEN}'\n")
    result = run_cli("--config", str(config), "check", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    line = one_line(result.stderr)
    assert "discord.token_file doit être le chemin d’un fichier qui contient le jeton" in line
    assert FAKE_TOKEN[:10] not in result.stderr + result.stdout


def test_a_token_file_that_is_not_text_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "token").write_bytes(b"\xff\xfe\x00binary")
    config = tmp_path / "config.toml"
    config.write_text(f"[bot]\nlog_level = 'ERROR'\n[discord]\ntoken_file = '{tmp_path / 'token'}'\n")
    result = run_cli("--config", str(config), "check", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "n’est pas un fichier texte UTF-8" in one_line(result.stderr)


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ("[[channels]]\nguild_id = 1\nchannel_id = 9223372036854775808\nlanguage = 'fr'\n", "channels[0].channel_id"),
        ("[[channels]]\nguild_id = 0\nchannel_id = 5\nlanguage = 'fr'\n", "channels[0].guild_id"),
        ("[[channels]]\nguild_id = -4\nchannel_id = 5\nlanguage = 'fr'\n", "channels[0].guild_id"),
        ("[discord]\nmoderators_log_channel_id = 18446744073709551615\n", "discord.moderators_log_channel_id"),
        ("[bot]\nmoderator_roles = [12, -1]\n", "bot.moderator_roles[1]"),
    ],
)
def test_ids_out_of_discord_range_are_refused_by_name(table: str, key: str, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(table)
    result = run_cli("--config", str(config), "db", "current", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    line = one_line(result.stderr)
    assert f"{key} = " in line and "n’est pas un identifiant Discord" in line, line


def test_ctrl_c_while_the_features_load_exits_quietly_with_130(tmp_path: Path) -> None:
    """A real SIGINT, sent by the process to itself the moment a feature module is imported."""
    script = (
        "import os, signal, sys\n"
        "from bot.cli import main\n"
        "class Interrupt:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'bot.export_cli':\n"
        "            os.kill(os.getpid(), signal.SIGINT)\n"
        "        return None\n"
        "sys.meta_path.insert(0, Interrupt())\n"
        "raise SystemExit(main(['audit']))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 130, result.stderr
    assert result.stderr == ""  # no traceback, no line


def test_check_warns_about_a_token_file_everyone_can_read(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text(FAKE_TOKEN + "\n")
    api = f"http://127.0.0.1:{closed_port()}/api/v10"
    config = tmp_path / "config.toml"
    config.write_text(f"[bot]\nlog_level = 'ERROR'\n[discord]\ntoken_file = '{token}'\napi_base_url = '{api}'\n")
    token.chmod(0o644)
    loose = run_cli("--config", str(config), "check", cwd=tmp_path)
    assert f"⚠ attention\u202f: le fichier du jeton {token} est lisible par tous" in loose.stdout, loose.stdout
    assert "mode 644" in loose.stdout and FAKE_TOKEN not in loose.stdout + loose.stderr
    token.chmod(0o600)
    tight = run_cli("--config", str(config), "check", cwd=tmp_path)
    assert "le fichier du jeton" not in tight.stdout and loose.returncode == tight.returncode
