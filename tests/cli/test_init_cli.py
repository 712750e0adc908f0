"""``reseau-bot init``: the rendering (pure), the options for scripts, the questions in a real
terminal, and a written file that ``run`` and ``db upgrade`` accept."""

from __future__ import annotations

import codecs
import os
import pty
import select
import signal
import sqlite3
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from bot.cli_base import Text
from bot.config import NetworkChannel, build_config, load_config
from bot.init_cli import (
    EXAMPLE,
    Answers,
    BadAnswer,
    example_config,
    parse_channel_spec,
    parse_database,
    parse_id,
    parse_ids,
    render_config,
    write_config,
)
from tests.paths import REPO

GUILD = 123456789012345678
GUILD_2 = 223456789012345678
CHANNEL_FR = 234567890123456789
CHANNEL_EN = 334567890123456789
ROLE_MENTION = 345678901234567890
ROLE_MOD = 456789012345678901
ROLE_MOD_2 = 556789012345678901
MODLOG = 567890123456789012
FR, EN = Text("fr"), Text("en")


def reseau_bot(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120):
    full_env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "RESEAU_DATABASE_URL")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], cwd=cwd, env={**full_env, "PYTHONPATH": str(REPO)},
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
    )


def role_ids(config) -> list[str]:
    return [str(r) for r in config.bot.moderator_roles]


# --------------------------------------------------------------------------------------------
# The rendering


ANSWERS = Answers(
    language="en",
    database_url="postgresql+asyncpg://reseau:secret@db.example:5432/reseau",
    channels=(NetworkChannel(GUILD, CHANNEL_FR, "fr", ROLE_MENTION), NetworkChannel(GUILD_2, CHANNEL_EN, "en")),
    moderator_roles=(ROLE_MOD, ROLE_MOD_2),
    modlog_channel_id=MODLOG,
)


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_rendered_config_passes_validation_with_the_answers(tmp_path, lang):
    content = render_config(ANSWERS, lang)
    config = build_config(tomllib.loads(content), tmp_path / "config.toml", environ={})
    assert config.bot.language == "en"
    assert config.database.url == ANSWERS.database_url
    assert [(c.guild_id, c.channel_id, c.language, c.mention_role_id) for c in config.channels] == [
        (GUILD, CHANNEL_FR, "fr", ROLE_MENTION), (GUILD_2, CHANNEL_EN, "en", 0)]
    assert role_ids(config) == [str(ROLE_MOD), str(ROLE_MOD_2)]
    assert config.discord.moderators_log_channel_id == MODLOG
    assert config.schedule.extract_cron == "0 10 1-7 * mon"
    assert config.fetch.allowed_hosts == ()
    assert render_config(ANSWERS, lang) == content  # pure: same answers, same text


def test_comments_follow_the_language():
    fr, en = render_config(ANSWERS, "fr"), render_config(ANSWERS, "en")
    assert "«\u202fCopier l’identifiant\u202f»" in fr and "Mode développeur" in fr and "premier lundi du mois" in fr
    assert '"Copy ID"' in en and "Developer Mode" in en and "first Monday of the month" in en
    assert "Copy ID" not in fr and "Copier" not in en
    comments = [line for line in fr.splitlines() if line.startswith("#")]
    assert comments and all(len(line) <= 100 for line in [*fr.splitlines(), *en.splitlines()])


def test_config_example_is_the_rendered_template():
    """config.example.toml is generated from the same comments as `init` (in French)."""
    assert (REPO / "config.example.toml").read_text(encoding="utf-8") == example_config(), (
        "config.example.toml is out of date: python -m bot.init_cli > config.example.toml"
    )
    config = load_config(REPO / "config.example.toml", environ={})
    assert config.channels == ()  # its channel is a commented-out example
    assert config.discord.web_base_url == "https://discord.com"
    assert role_ids(config) == [str(r) for r in EXAMPLE.moderator_roles]


def test_example_cron_comments_match_apscheduler():
    """The examples the file gives are what APScheduler 3 does (AND of day and weekday, 0 = Monday)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from apscheduler.triggers.cron import CronTrigger

    tz = ZoneInfo("Europe/Paris")

    def fires(expr: str, count: int = 4) -> list[datetime]:
        trigger, out, previous, now = CronTrigger.from_crontab(expr, timezone=tz), [], None, datetime(2026, 1, 1, tzinfo=tz)
        while len(out) < count:
            previous = now = trigger.get_next_fire_time(previous, now)
            out.append(now)
        return out

    first_mondays = fires("0 10 1-7 * mon")
    assert all(d.weekday() == 0 and d.day <= 7 and d.hour == 10 for d in first_mondays)
    assert len({d.month for d in first_mondays}) == 4
    assert all(d.weekday() == 3 and d.hour == 9 for d in fires("0 9 * * thu"))
    assert [d.day for d in fires("0 10 1 * *")] == [1, 1, 1, 1]
    assert all(d.day == 1 and d.weekday() == 0 for d in fires("0 10 1 * mon"))  # AND, not OR
    assert all(d.weekday() == 0 for d in fires("0 9 * * 0"))  # 0 is Monday, not Sunday
    with pytest.raises(ValueError):
        CronTrigger.from_crontab("0 9 * * 7")
    example = example_config()
    for expr in ("0 10 1-7 * mon", "0 9 * * thu", "0 10 1 * *", "0 10 1 * mon"):
        assert f'"{expr}"' in example


@pytest.mark.parametrize("value", ["", "abc", "1234567890123456", "123456789012345678901", "12345678901234567x",
                                   "99999999999999999999"])
def test_bad_ids_are_refused(value):
    with pytest.raises(BadAnswer) as info:
        parse_id(value)
    assert value.strip() in info.value.say(FR)


def test_ids_and_databases_and_channel_specs():
    assert parse_id(" 12345678901234567 ") == 12345678901234567
    assert parse_ids(f"{ROLE_MOD}, {ROLE_MOD_2} {ROLE_MOD}") == (ROLE_MOD, ROLE_MOD_2)
    assert parse_database("") == "sqlite+aiosqlite:///./data/reseau-bot.db"
    assert parse_database("/var/lib/reseau/bot.db") == "sqlite+aiosqlite:////var/lib/reseau/bot.db"
    assert parse_database("postgres://u:p@h:5432/db") == "postgresql+asyncpg://u:p@h:5432/db"
    socket = "postgresql+asyncpg:///reseau?host=/run/postgresql"  # peer authentication, no password
    assert parse_database(socket) == socket
    for bad in ("mysql://u@h/db", "postgresql+asyncpg://", "postgresql+asyncpg:///reseau", "data/"):
        with pytest.raises(BadAnswer):
            parse_database(bad)
    assert parse_channel_spec(f"{GUILD}:{CHANNEL_FR}:fr") == NetworkChannel(GUILD, CHANNEL_FR, "fr", 0)
    assert parse_channel_spec(f"{GUILD}:{CHANNEL_FR}:EN:{ROLE_MENTION}").mention_role_id == ROLE_MENTION
    for bad in (f"{GUILD}:{CHANNEL_FR}", f"{GUILD}:{CHANNEL_FR}:de", f"{GUILD}:12:fr"):
        with pytest.raises(BadAnswer):
            parse_channel_spec(bad)


# --------------------------------------------------------------------------------------------
# Options (scripts)


def flags(*extra: str) -> list[str]:
    return ["init", "--channel", f"{GUILD}:{CHANNEL_FR}:fr:{ROLE_MENTION}", "--channel", f"{GUILD_2}:{CHANNEL_EN}:en",
            "--moderator-role", str(ROLE_MOD), "--moderator-role", str(ROLE_MOD_2), *extra]


def test_flags_write_a_config_that_loads(tmp_path):
    db = tmp_path / "bot.db"
    result = reseau_bot(*flags("--lang", "en", "--database", str(db), "--modlog-channel", str(MODLOG),
                               "--output", "conf/written.toml"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    written = tmp_path / "conf" / "written.toml"
    config = load_config(written, environ={})
    assert [(c.guild_id, c.channel_id, c.language, c.mention_role_id) for c in config.channels] == [
        (GUILD, CHANNEL_FR, "fr", ROLE_MENTION), (GUILD_2, CHANNEL_EN, "en", 0)]
    assert role_ids(config) == [str(ROLE_MOD), str(ROLE_MOD_2)]
    assert config.discord.moderators_log_channel_id == MODLOG
    assert config.bot.language == "en" and config.database.url == f"sqlite+aiosqlite:///{db}"
    assert "Developer Mode" in written.read_text(encoding="utf-8")  # English comments
    for step in ("db upgrade --config conf/written.toml", "check --config conf/written.toml",
                 "run --config conf/written.toml"):
        assert f"reseau-bot {step}" in result.stdout
    assert [p.name for p in written.parent.iterdir()] == ["written.toml"]  # no temporary file left


def test_an_existing_file_is_never_overwritten_without_force(tmp_path):
    target = tmp_path / "config.toml"
    target.write_text("# mine\n", encoding="utf-8")
    refused = reseau_bot(*flags("--output", "config.toml"), cwd=tmp_path)
    assert refused.returncode == 1
    assert "--force" in refused.stderr and "config.toml" in refused.stderr
    assert target.read_text(encoding="utf-8") == "# mine\n"
    forced = reseau_bot(*flags("--output", str(target), "--force"), cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert len(load_config(target, environ={}).channels) == 2


def test_write_config_is_whole_or_nothing_and_never_replaces_without_force(tmp_path):
    """Even a file that appears between the check and the write (another init) is kept."""
    target = tmp_path / "config.toml"
    target.write_text("# theirs\n", encoding="utf-8")
    with pytest.raises(FileExistsError):
        write_config(target, "# mine\n", force=False)
    assert target.read_text(encoding="utf-8") == "# theirs\n"
    write_config(target, "# mine\n", force=True)
    assert target.read_text(encoding="utf-8") == "# mine\n"
    assert [p.name for p in tmp_path.iterdir()] == ["config.toml"]  # no temporary file left


def test_missing_options_without_a_terminal_exit_2_with_one_line(tmp_path):
    result = reseau_bot("init", "--channel", f"{GUILD}:{CHANNEL_FR}:fr", cwd=tmp_path)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "--moderator-role" in lines[0] and "--channel" not in lines[0]
    assert not (tmp_path / "config.toml").exists()


def test_a_bad_option_value_is_refused_by_name(tmp_path):
    result = reseau_bot(*flags("--moderator-role", "Modération"), cwd=tmp_path)
    assert result.returncode == 2
    assert "--moderator-role" in result.stderr and "17" in result.stderr
    assert not (tmp_path / "config.toml").exists()


@pytest.mark.parametrize("url", ["postgresql+asyncpg://u:Sup3rSecret@/db", "postgresql+asyncpg://u:Sup3rSecret@h:x/db"])
def test_a_bad_database_url_is_refused_without_its_password(url, tmp_path):
    """No host, or a port that is no number: one line, the password as ***, no function name."""
    result = reseau_bot(*flags("--database", url), cwd=tmp_path)
    assert result.returncode == 2
    assert "Sup3rSecret" not in result.stderr + result.stdout and "parse_database" not in result.stderr
    assert "postgresql+asyncpg://u:***@" in result.stderr and "n’est pas une URL PostgreSQL utilisable" in result.stderr
    assert not (tmp_path / "config.toml").exists()


def test_written_config_is_accepted_by_run_and_db_upgrade(tmp_path):
    db = tmp_path / "data" / "fresh.db"
    assert reseau_bot(*flags("--database", str(db), "--output", "written.toml"), cwd=tmp_path).returncode == 0
    run = reseau_bot("run", "--config", "written.toml", cwd=tmp_path)
    assert run.returncode == 2
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert lines == [f"reseau-bot: {FR('cli.no_token', path='written.toml')}"]  # past validation: no token
    upgrade = reseau_bot("db", "upgrade", "--config", "written.toml", cwd=tmp_path)
    assert upgrade.returncode == 0, upgrade.stderr
    tables = {r[0] for r in sqlite3.connect(db).execute("select name from sqlite_master where type='table'")}
    assert {"polls", "answers", "alembic_version"} <= tables


# --------------------------------------------------------------------------------------------
# Questions, in a real terminal (a pseudo-terminal: init asks only when input is a terminal)


class Terminal:
    def __init__(self, *args: str, cwd: Path) -> None:
        master, slave = pty.openpty()
        env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "RESEAU_DATABASE_URL")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", *args], cwd=cwd, env={**env, "PYTHONPATH": str(REPO)},
            stdin=slave, stdout=slave, stderr=slave, close_fds=True,
            # A run started in the background by a shell inherits SIGINT ignored: put Ctrl-C back.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        os.close(slave)
        self.master = master
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.output = ""
        self.seen = 0

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(self.master, 4096)
        except OSError:  # EIO: the process closed the terminal
            data = b""
        self.output += self.decoder.decode(data)
        return bool(data)

    def expect(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output[self.seen:]:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._read(remaining):
                raise AssertionError(f"never saw {text!r}; the terminal shows:\n{self.output}")
        self.seen = self.output.index(text, self.seen) + len(text)

    def answer(self, prompt: str, line: str) -> None:
        self.expect(prompt)
        os.write(self.master, line.encode() + b"\n")

    def finish(self, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._read(deadline - time.monotonic()):
            pass
        code = self.proc.wait(timeout=max(1, deadline - time.monotonic()))
        os.close(self.master)
        return code


def test_questions_in_a_terminal_write_the_config(tmp_path):
    term = Terminal("init", cwd=tmp_path)
    term.answer("Bot language (fr or en) [fr]", "")
    term.answer(FR("init.ask.database"), "db/reseau.db")
    term.expect(FR("init.ask.channel_title", number=1))
    term.answer(FR("init.ask.guild").strip(), "12345")  # too short: explained, asked again
    term.expect(FR("init.error.snowflake", value="12345"))
    term.answer(FR("init.ask.guild").strip(), str(GUILD))
    term.answer(FR("init.ask.channel").strip(), str(CHANNEL_FR))
    term.answer(FR("init.ask.channel_language").strip(), "")  # the bot's language
    term.answer(FR("init.ask.mention_role").strip(), str(ROLE_MENTION))
    term.answer(FR("init.ask.more_channels"), "peut-être")
    term.expect(FR("init.error.yes_no", value="peut-être"))
    term.answer(FR("init.ask.more_channels"), "o")
    term.expect(FR("init.ask.channel_title", number=2))
    term.answer(f"[{GUILD}]", "")  # the same server by default
    term.answer(FR("init.ask.channel").strip(), str(CHANNEL_FR))
    term.expect(FR("init.error.channel_twice", channel_id=CHANNEL_FR))
    term.answer(FR("init.ask.channel").strip(), str(CHANNEL_EN))
    term.answer(FR("init.ask.channel_language").strip(), "en")
    term.answer(FR("init.ask.mention_role").strip(), "")
    term.answer(FR("init.ask.more_channels"), "n")
    term.answer(FR("init.ask.moderator_roles"), f"{ROLE_MOD}, {ROLE_MOD_2}")
    term.answer(FR("init.ask.modlog"), "")
    term.expect(FR("init.result.written", path="config.toml"))
    assert term.finish() == 0, term.output
    assert "Traceback" not in term.output
    assert "reseau-bot db upgrade" in term.output and "reseau-bot run" in term.output

    config = load_config(tmp_path / "config.toml", environ={})
    assert config.bot.language == "fr"
    assert config.database.url == "sqlite+aiosqlite:///db/reseau.db"
    assert [(c.guild_id, c.channel_id, c.language, c.mention_role_id) for c in config.channels] == [
        (GUILD, CHANNEL_FR, "fr", ROLE_MENTION), (GUILD, CHANNEL_EN, "en", 0)]
    assert role_ids(config) == [str(ROLE_MOD), str(ROLE_MOD_2)]
    assert config.discord.moderators_log_channel_id == 0
    assert "Mode développeur" in (tmp_path / "config.toml").read_text(encoding="utf-8")


def test_a_database_url_with_a_bad_port_is_asked_again(tmp_path):
    term = Terminal("init", cwd=tmp_path)
    term.answer("Bot language (fr or en) [fr]", "")
    term.answer(FR("init.ask.database"), "postgresql+asyncpg://u:Sup3rSecret@h:x/db")
    term.expect(FR("init.error.database_url", value="postgresql+asyncpg://u:***@h:x/db"))
    term.answer(FR("init.ask.database"), "db/reseau.db")
    term.expect(FR("init.ask.channel_title", number=1))
    time.sleep(0.2)  # let it block in input()
    term.proc.send_signal(signal.SIGINT)
    assert term.finish() == 130, term.output
    assert "erreur inattendue" not in term.output and "Traceback" not in term.output


def test_questions_follow_the_language_chosen(tmp_path):
    term = Terminal("init", "--output", "en.toml", cwd=tmp_path)
    term.answer("[fr]", "de")
    term.expect(FR("init.error.language", value="de"))  # both languages, before one is chosen
    term.expect(EN("init.error.language", value="de"))
    term.answer("[fr]", "en")
    term.answer(EN("init.ask.database"), "")
    term.answer(EN("init.ask.guild").strip(), str(GUILD))
    term.answer(EN("init.ask.channel").strip(), str(CHANNEL_EN))
    term.answer(EN("init.ask.channel_language").strip() + " [en]", "")
    term.answer(EN("init.ask.mention_role").strip(), "")
    term.answer(EN("init.ask.more_channels"), "")
    term.answer(EN("init.ask.moderator_roles"), "")  # required: asked again
    term.expect(EN("init.error.required"))
    term.answer(EN("init.ask.moderator_roles"), str(ROLE_MOD))
    term.answer(EN("init.ask.modlog"), str(MODLOG))
    assert term.finish() == 0, term.output
    config = load_config(tmp_path / "en.toml", environ={})
    assert config.bot.language == "en" and config.channels[0].language == "en"
    assert config.discord.moderators_log_channel_id == MODLOG
    assert config.database.url == "sqlite+aiosqlite:///./data/reseau-bot.db"


@pytest.mark.parametrize("stop", ["ctrl-c", "eof"])
def test_interrupted_questions_write_nothing(tmp_path, stop):
    term = Terminal("init", cwd=tmp_path)
    term.answer("[fr]", "fr")
    term.answer(FR("init.ask.database"), "")
    term.expect(FR("init.ask.guild").strip())
    if stop == "ctrl-c":
        time.sleep(0.2)  # let it block in input()
        term.proc.send_signal(signal.SIGINT)
    else:
        os.write(term.master, b"\x04")  # Ctrl-D on an empty line: end of input
    code = term.finish()
    assert code == (130 if stop == "ctrl-c" else 1), term.output
    assert FR("init.result.interrupted") in term.output
    assert "Traceback" not in term.output
    assert list(tmp_path.iterdir()) == []
