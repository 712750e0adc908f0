"""``reseau-bot init``: a commented ``config.toml`` from a few questions, or from options.

    reseau-bot init                    # in a terminal: asks the questions
    reseau-bot init --lang fr --channel GUILD_ID:CHANNEL_ID:fr[:ROLE_ID] --moderator-role ROLE_ID \\
        [--database PATH_OR_URL] [--modlog-channel ID] [--output PATH] [--force]

The questions: the language (asked in both languages, the others in the language chosen), the
database, one or more network channels (server id, channel id, language of the posts, an optional
role to mention), the moderators' role ids, an optional moderators' log channel.  Each answer is
checked as it is typed; a wrong one is explained and asked again, nothing already answered is lost.
Options answer questions in advance: with ``--channel`` and ``--moderator-role`` given nothing is
asked (the other options have defaults).  When input is not a terminal and they are missing, the
command exits 2 with one line.  Ctrl-C or end of input stops it, and nothing is written.

The file is written whole or not at all (a temporary file renamed into place) and an existing file
is never overwritten without ``--force``.  The text is validated by :func:`bot.config.build_config`
before it is written.

:func:`render_config` turns answers into the file's text, pure: the layout is :func:`_layout`, the
comments come from the catalogue (``init.file.*`` in ``bot/locales/init.toml``) in the language
chosen.  ``config.example.toml`` is the same rendering, in French, of :data:`EXAMPLE` — a test keeps
the two in sync; regenerate it with ``python -m bot.init_cli > config.example.toml``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
import tempfile
import tomllib
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from bot.cli_base import Text, command, parser_extension, text
from bot.config import (
    DEFAULT_MEMBER_TYPE_OBJECTS,
    BotSection,
    Config,
    DashboardSection,
    DatabaseSection,
    DiscordSection,
    FetchSection,
    MetricsSection,
    NetworkChannel,
    PollsSection,
    PrivacySection,
    ScheduleSection,
    build_config,
)
from bot.i18n import LANGUAGES

DEFAULT_OUTPUT = "config.toml"
DEFAULT_DATABASE_URL = DatabaseSection().url
DEFAULT_SQLITE_PATH = DEFAULT_DATABASE_URL.removeprefix("sqlite+aiosqlite:///")
SNOWFLAKE = re.compile(r"[0-9]{17,20}")
TOML_INT_MAX = 2**63 - 1  # a TOML integer is a signed 64-bit one
YES = frozenset({"o", "oui", "y", "yes"})
NO = frozenset({"n", "non", "no"})
T = TypeVar("T")


# --------------------------------------------------------------------------------------------
# Answers and how each one is checked


@dataclass(frozen=True)
class Answers:
    language: str = "fr"
    database_url: str = DEFAULT_DATABASE_URL
    channels: tuple[NetworkChannel, ...] = ()
    moderator_roles: tuple[int, ...] = ()
    modlog_channel_id: int = 0
    allowed_hosts: tuple[str, ...] = ()


# What config.example.toml shows (its channel commented out, as an example to copy).
EXAMPLE = Answers(
    moderator_roles=(333333333333333333,),
    channels=(NetworkChannel(111111111111111111, 222222222222222222, "fr", 0, "annonces"),),
    allowed_hosts=("example.org",),
)


class BadAnswer(ValueError):
    """An answer that cannot be used: a catalogue key and its parameters, said in any language."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params

    def say(self, t: Text) -> str:
        return t(self.key, **self.params)


def parse_id(value: str) -> int:
    """A Discord id (snowflake): 17 to 20 digits, within TOML's integers."""
    value = value.strip()
    if not SNOWFLAKE.fullmatch(value):
        raise BadAnswer("init.error.snowflake", value=value)
    if int(value) > TOML_INT_MAX:
        raise BadAnswer("init.error.snowflake_range", value=value, max=TOML_INT_MAX)
    return int(value)


def parse_optional_id(value: str) -> int:
    """An id, or 0 (none) for an empty answer."""
    return parse_id(value) if value.strip() not in ("", "0") else 0


def parse_ids(value: str) -> tuple[int, ...]:
    """One or more ids separated by spaces or commas, each once."""
    ids = [parse_id(part) for part in re.split(r"[\s,;]+", value.strip()) if part]
    if not ids:
        raise BadAnswer("init.error.required")
    return tuple(dict.fromkeys(ids))


def parse_language(value: str) -> str:
    lang = value.strip().lower()
    if lang not in LANGUAGES:
        raise BadAnswer("init.error.language", value=value.strip())
    return lang


def parse_yes_no(value: str) -> bool:
    answer = value.strip().lower()
    if answer in YES or answer in NO:
        return answer in YES
    raise BadAnswer("init.error.yes_no", value=value.strip())


def parse_database(value: str) -> str:
    """An SQLite path (→ its sqlite+aiosqlite URL) or a PostgreSQL URL (→ postgresql+asyncpg://)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    value = value.strip()
    if not value:
        return DEFAULT_DATABASE_URL
    if value.startswith(("postgresql://", "postgres://")):
        value = "postgresql+asyncpg://" + value.split("://", 1)[1]
    if value.startswith("postgresql+asyncpg://"):
        try:
            url = make_url(value)
        except (ArgumentError, ValueError):  # ValueError: a port that is no number (h:x)
            raise BadAnswer("init.error.database_url", value=without_password(value)) from None
        # A host, or a Unix socket folder in the query (…/reseau?host=/run/postgresql).
        if not (url.host or url.query.get("host")) or not url.database:
            raise BadAnswer("init.error.database_url", value=without_password(value))
        return value
    if value.startswith("sqlite+aiosqlite:///"):
        value = value.removeprefix("sqlite+aiosqlite:///")
    if not value or "://" in value or value.endswith(("/", os.sep)):
        raise BadAnswer("init.error.database", value=value)
    return "sqlite+aiosqlite:///" + os.path.expanduser(value)


def without_password(url: str) -> str:
    """``url`` with its password, if any, as ``***`` — also when the URL cannot be parsed."""
    return re.sub(r"(://[^:/@?#]*:)[^@/?#]*@", r"\1***@", url)


def parse_channel_spec(value: str) -> NetworkChannel:
    """``GUILD_ID:CHANNEL_ID:LANG[:ROLE_ID]`` (the ``--channel`` option)."""
    parts = value.strip().split(":")
    if len(parts) not in (3, 4):
        raise BadAnswer("init.error.channel_spec", value=value)
    role = parse_optional_id(parts[3]) if len(parts) == 4 else 0
    return NetworkChannel(parse_id(parts[0]), parse_id(parts[1]), parse_language(parts[2]), role)


# --------------------------------------------------------------------------------------------
# Answers → the file's text (pure)


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise TypeError(f"no TOML literal for {value!r}")


def _role_ids(ids: tuple[int, ...]) -> tuple[int, ...] | tuple[str, ...]:
    """Role ids as ``bot.moderator_roles`` takes them: texts while its type is ``tuple[str, ...]``,
    numbers once it holds ids only."""
    (item,) = typing.get_args(typing.get_type_hints(BotSection)["moderator_roles"])[:1]
    return tuple(str(i) for i in ids) if item is str else ids


class _Lines:
    NOTE_COLUMN = 38

    def __init__(self, say: Callable[[str], str]) -> None:
        self.say = say
        self.out: list[str] = []

    def comment(self, key: str) -> None:
        self.out.extend(f"# {line}".rstrip() for line in self.say(f"init.file.{key}").splitlines())

    def table(self, name: str, *, array: bool = False, commented: bool = False) -> None:
        self.out.append(("# " if commented else "") + (f"[[{name}]]" if array else f"[{name}]"))

    def blank(self) -> None:
        self.out.append("")

    def setting(self, name: str, value: Any, note: str | None = None, *, commented: bool = False) -> None:
        line = ("# " if commented else "") + f"{name} = {_toml(value)}"
        if note:
            note = self.say(f"init.file.{note}")
            line = f"{line:<{self.NOTE_COLUMN}}# {note}" if len(line) < self.NOTE_COLUMN else f"{line}  # {note}"
        self.out.append(line)

    def raw(self, line: str) -> None:
        self.out.append(line)


def _layout(w: _Lines, a: Answers, *, example: bool) -> None:
    """The file, top to bottom: every key in the order of ``bot.config``'s sections."""
    bot, db, discord, schedule = BotSection(), DatabaseSection(), DiscordSection(), ScheduleSection()
    fetch, polls, privacy = FetchSection(), PollsSection(), PrivacySection()
    example_note = "example" if example else None

    w.comment("header.example" if example else "header.init")
    w.raw("#")
    w.comment("header.ids")
    w.blank()
    w.table("bot")
    w.comment("bot.language")
    w.setting("language", a.language, "bot.language_note")
    w.comment("bot.timezone")
    w.setting("timezone", bot.timezone)
    w.comment("bot.moderator_roles")
    w.setting("moderator_roles", _role_ids(a.moderator_roles), example_note)
    w.comment("bot.members_can_create_polls")
    w.setting("members_can_create_polls", bot.members_can_create_polls)
    w.setting("log_level", bot.log_level, "bot.log_level")
    w.blank()
    w.table("database")
    w.comment("database.url")
    w.setting("url", a.database_url)
    if a.database_url == DEFAULT_DATABASE_URL:
        w.setting("url", "postgresql+asyncpg://reseau:secret@127.0.0.1:5432/reseau", commented=True)
    w.setting("echo", db.echo, "database.echo")
    w.blank()
    w.table("discord")
    w.comment("discord.token_file")
    w.setting("token_file", discord.token_file, "discord.token_file_note")
    w.comment("discord.api")
    w.setting("api_base_url", discord.api_base_url)
    w.setting("gateway_url", discord.gateway_url)
    w.comment("discord.web_base_url")
    w.setting("web_base_url", discord.web_base_url)
    w.comment("discord.members_intent")
    w.setting("members_intent", discord.members_intent)
    w.comment("discord.modlog")
    w.setting("moderators_log_channel_id", a.modlog_channel_id)
    w.comment("discord.shards")
    w.setting("shard_count", discord.shard_count)
    w.setting("shard_ids", list(discord.shard_ids))
    w.blank()
    w.table("metrics")
    w.comment("metrics.intro")
    w.setting("host", MetricsSection().host)
    w.setting("port", MetricsSection().port)
    w.blank()
    w.table("dashboard")
    w.comment("dashboard.intro")
    w.setting("host", DashboardSection().host)
    w.setting("port", DashboardSection().port)
    w.comment("dashboard.public_url")
    w.setting("public_url", DashboardSection().public_url)
    w.comment("dashboard.oauth")
    w.setting("oauth_client_id", DashboardSection().oauth_client_id)
    w.setting("oauth_secret_env", DashboardSection().oauth_secret_env)
    w.blank()
    w.table("schedule")
    w.comment("schedule.extract_cron")
    w.setting("extract_cron", schedule.extract_cron)
    w.comment("schedule.catch_up_days")
    w.setting("catch_up_days", schedule.catch_up_days)
    w.blank()
    w.table("fetch")
    w.comment("fetch.allowed_hosts")
    w.setting("allowed_hosts", a.allowed_hosts, example_note)
    w.setting("connect_timeout", fetch.connect_timeout, "fetch.seconds")
    w.setting("read_timeout", fetch.read_timeout, "fetch.seconds")
    w.setting("max_bytes", fetch.max_bytes, "fetch.max_bytes")
    w.comment("fetch.allow_private_addresses")
    w.setting("allow_private_addresses", fetch.allow_private_addresses)
    w.blank()
    w.table("polls")
    w.comment("polls.intro")
    w.setting("max_duration_days", polls.max_duration_days, "polls.days")
    w.setting("default_duration_hours", polls.default_duration_hours, "polls.hours")
    w.setting("refresh_seconds", polls.refresh_seconds, "fetch.seconds")
    w.blank()
    w.table("profiles")
    w.comment("profiles.member_types")
    w.raw("member_types = [")
    for t in DEFAULT_MEMBER_TYPE_OBJECTS:
        labels = ", ".join(f"{lang} = {_toml(label)}" for lang, label in t.labels.items())
        w.raw(f"  {{ code = {_toml(t.code)}, labels = {{ {labels} }} }},")
    w.raw("]")
    w.blank()
    w.table("privacy")
    w.comment("privacy.intro")
    w.comment("privacy.retention_days")
    w.setting("retention_days", privacy.retention_days)
    w.comment("privacy.forget_mode")
    w.setting("forget_mode", privacy.forget_mode)
    w.comment("privacy.pseudonym_secret_env")
    w.setting("pseudonym_secret_env", privacy.pseudonym_secret_env)
    w.blank()
    w.comment("channels.intro")
    if example:
        w.comment("channels.example")
    for channel in a.channels:
        w.table("channels", array=True, commented=example)
        w.setting("guild_id", channel.guild_id, "channels.guild_id", commented=example)
        w.setting("channel_id", channel.channel_id, "channels.channel_id", commented=example)
        w.setting("language", channel.language, "channels.language", commented=example)
        w.setting("mention_role_id", channel.mention_role_id, "channels.mention_role_id", commented=example)
        w.setting("name", channel.name, "channels.name", commented=example)
        if not example:
            w.blank()


def render_config(answers: Answers, lang: str, *, example: bool = False, t: Text | None = None) -> str:
    """The commented TOML text of ``answers``, comments in ``lang``.  ``example``: the
    ``config.example.toml`` form (values marked "example", its channel commented out)."""
    t = t if t is not None and t.lang == lang else Text(lang)
    lines = _Lines(t)
    _layout(lines, answers, example=example)
    while lines.out and not lines.out[-1]:
        lines.out.pop()
    return "\n".join(lines.out) + "\n"


def example_config() -> str:
    """The text of ``config.example.toml``."""
    return render_config(EXAMPLE, "fr", example=True)


# --------------------------------------------------------------------------------------------
# Questions


class _Interrupted(Exception):
    """Ctrl-C (code 130) or end of input (code 1) at a question asked in ``lang``."""

    def __init__(self, code: int, lang: str) -> None:
        super().__init__(code)
        self.code = code
        self.lang = lang


@dataclass
class Questions:
    """Asks on the terminal; a wrong answer is explained and asked again."""

    t: Text
    ask_line: Callable[[str], str] = input
    say: Callable[[str], None] = print

    def ask(self, key: str, parse: Callable[[str], T], default: str | None = None, **params: Any) -> T:
        question = self.t(key, **params)
        while True:
            prompt = (self.t("init.ask.prompt", question=question, default=default) if default
                      else self.t("init.ask.prompt_plain", question=question))
            answer = self._input(prompt)
            if not answer.strip() and default:
                answer = default
            try:
                return parse(answer)
            except BadAnswer as bad:
                self.say(bad.say(self.t))

    def _input(self, prompt: str) -> str:
        try:
            return self.ask_line(prompt)
        except EOFError:
            raise _Interrupted(1, self.t.lang) from None
        except KeyboardInterrupt:
            raise _Interrupted(130, self.t.lang) from None


def ask_language(ask_line: Callable[[str], str] = input, say: Callable[[str], None] = print) -> str:
    """The first question, in both languages."""
    fr, en = Text("fr"), Text("en")
    prompt = fr("init.ask.prompt", question=f"{fr('init.ask.language')} / {en('init.ask.language')}", default="fr")
    q = Questions(fr, ask_line, say)
    while True:
        answer = q._input(prompt).strip() or "fr"
        try:
            return parse_language(answer)
        except BadAnswer as bad:
            say(f"{bad.say(fr)} / {bad.say(en)}")


def ask_channels(q: Questions, lang: str) -> tuple[NetworkChannel, ...]:
    channels: list[NetworkChannel] = []

    def required_id(value: str) -> int:
        if not value.strip():
            raise BadAnswer("init.error.required")
        return parse_id(value)

    def new_channel(value: str) -> int:
        channel_id = required_id(value)
        if any(c.channel_id == channel_id for c in channels):
            raise BadAnswer("init.error.channel_twice", channel_id=channel_id)
        return channel_id

    while True:
        q.say(q.t("init.ask.channel_title", number=len(channels) + 1))
        previous_guild = str(channels[-1].guild_id) if channels else None
        guild_id = q.ask("init.ask.guild", required_id, default=previous_guild)
        channel_id = q.ask("init.ask.channel", new_channel)
        language = q.ask("init.ask.channel_language", parse_language, default=lang)
        role = q.ask("init.ask.mention_role", parse_optional_id)
        channels.append(NetworkChannel(guild_id, channel_id, language, role))
        if not q.ask("init.ask.more_channels", parse_yes_no, default="n"):
            return tuple(channels)


def gather(args: argparse.Namespace, *, interactive: bool, ask_line: Callable[[str], str] = input,
           say: Callable[[str], None] = print) -> Answers:
    """The answers: options first, the terminal for the rest (when ``interactive``)."""
    if not interactive:
        return Answers(
            language=args.lang or "fr",
            database_url=args.database or DEFAULT_DATABASE_URL,
            channels=tuple(args.channel),
            moderator_roles=tuple(dict.fromkeys(args.moderator_role)),
            modlog_channel_id=args.modlog_channel or 0,
        )
    lang = args.lang or ask_language(ask_line, say)
    q = Questions(Text(lang), ask_line, say)
    say(q.t("init.ask.intro", path=args.output))
    database = args.database or q.ask("init.ask.database", parse_database, default=DEFAULT_SQLITE_PATH)
    channels = tuple(args.channel) or ask_channels(q, lang)
    roles = tuple(dict.fromkeys(args.moderator_role)) or q.ask("init.ask.moderator_roles", parse_ids)
    modlog = args.modlog_channel if args.modlog_channel is not None else q.ask("init.ask.modlog", parse_optional_id)
    return Answers(language=lang, database_url=database, channels=channels, moderator_roles=roles,
                   modlog_channel_id=modlog)


# --------------------------------------------------------------------------------------------
# Writing


def write_config(path: Path, content: str, *, force: bool) -> None:
    """Write ``content`` to ``path`` whole or not at all.  Without ``force`` an existing file is
    left alone (``FileExistsError``), even one created meanwhile: the new file is linked into place,
    which fails when the name is taken."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        # A PostgreSQL password in the file: readable by its owner only.
        os.chmod(tmp, 0o600 if _has_password(content) else 0o644)
        if force:
            os.replace(tmp, path)
            return
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise
        except OSError:  # no hard links on this file system
            if path.exists():
                raise FileExistsError(path) from None
            os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _has_password(content: str) -> bool:
    url = tomllib.loads(content).get("database", {}).get("url", "")
    return bool(re.match(r"postgresql\+asyncpg://[^/@]*:[^/@]*@", url))


# --------------------------------------------------------------------------------------------
# The sub-command


def _argparse_type(t: Text, parse: Callable[[str], T]) -> Callable[[str], T]:
    def convert(value: str) -> T:
        try:
            return parse(value)
        except BadAnswer as bad:
            raise argparse.ArgumentTypeError(bad.say(t)) from None

    convert.__name__ = parse.__name__
    return convert


@parser_extension
def _parsers(sub: argparse._SubParsersAction, t: Text) -> None:
    p = sub.add_parser("init", help=t("init.help"), description=t("init.description"))
    p.add_argument("--lang", type=_argparse_type(t, parse_language), metavar=t("init.metavar.lang"),
                   help=t("init.opt.lang"))
    p.add_argument("--database", type=_argparse_type(t, parse_database), metavar=t("init.metavar.database"),
                   help=t("init.opt.database"))
    p.add_argument("--channel", type=_argparse_type(t, parse_channel_spec), action="append", default=[],
                   metavar=t("init.metavar.channel"), help=t("init.opt.channel"))
    p.add_argument("--moderator-role", type=_argparse_type(t, parse_id), action="append", default=[],
                   metavar=t("init.metavar.id"), help=t("init.opt.moderator_role"))
    p.add_argument("--modlog-channel", type=_argparse_type(t, parse_id), default=None,
                   metavar=t("init.metavar.id"), help=t("init.opt.modlog_channel"))
    p.add_argument("--output", default=DEFAULT_OUTPUT, metavar=t("cli.metavar.file"), help=t("init.opt.output"))
    p.add_argument("--force", action="store_true", help=t("init.opt.force"))


def _stdin_is_terminal() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


@command("init")
def cmd_init(args: argparse.Namespace, config: Config) -> int:
    t = Text(args.lang) if args.lang else text(config)
    output = Path(args.output)
    if output.exists() and not args.force:
        print(f"reseau-bot: {t('init.result.exists', path=output)}", file=sys.stderr)
        return 1
    seen: set[int] = set()
    for channel in args.channel:
        if channel.channel_id in seen:
            print(f"reseau-bot: {t('init.error.channel_twice', channel_id=channel.channel_id)}", file=sys.stderr)
            return 2
        seen.add(channel.channel_id)
    missing = [flag for flag, value in (("--channel", args.channel), ("--moderator-role", args.moderator_role))
               if not value]
    if missing and not _stdin_is_terminal():
        print(f"reseau-bot: {t('init.result.missing_flags', flags=', '.join(missing))}", file=sys.stderr)
        return 2
    try:
        answers = gather(args, interactive=bool(missing))
    except _Interrupted as stop:
        print(file=sys.stderr)
        print(f"reseau-bot: {Text(stop.lang)('init.result.interrupted')}", file=sys.stderr)
        return stop.code
    t = Text(answers.language)
    content = render_config(answers, answers.language, t=t)
    build_config(tomllib.loads(content), output, environ={})  # never write a file `run` would refuse
    try:
        write_config(output, content, force=args.force)
    except FileExistsError:
        print(f"reseau-bot: {t('init.result.exists', path=output)}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"reseau-bot: {t('init.result.write_failed', path=output, error=exc.strerror or exc)}",
              file=sys.stderr)
        return 1
    print(t("init.result.written", path=output))
    default = Path(DEFAULT_OUTPUT).resolve()
    option = "" if output.resolve() == default else f" --config {shlex.quote(str(output))}"
    print(t("init.result.next_steps", config=option))
    return 0


if __name__ == "__main__":
    sys.stdout.write(example_config())
