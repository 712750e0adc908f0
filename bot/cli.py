"""``reseau-bot``: the command line.  Each sub-command is one small function.

Exit codes: 0 done, 1 the command failed (a domain error, explained, or a bug), 2 what a person
must fix — bad usage, the configuration, the token, the schema, a folder, a port — and 75
(``EX_TEMPFAIL``) what may pass by itself: a database or Discord that does not answer (a
reboot with a slow network, PostgreSQL restarting); systemd starts ``run`` again after 75, not
after 2.  Each is said in one line naming it (a password is never shown), without a traceback.

The command line speaks the configuration's ``bot.language`` (French by default): help,
messages and argparse's own words come from the catalogue.  ``--config`` is accepted before
or after the sub-command.  Feature modules register themselves through ``bot.cli_base``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tomllib
from pathlib import Path

from bot import cli_argparse
from bot.cli_base import COMMANDS, MAX_PORT, PARSER_EXTENSIONS, Text, bot_token, command, int_between, text
from bot.config import Config, ConfigError, build_config, load_config
from bot.errors import CannotListen, DomainError, describe
from bot.i18n import LANGUAGES
from storage.db import DatabaseMissing, SchemaOutOfDate, database_errors

log = logging.getLogger("reseau.cli")
EXIT_FIX = 2  # a person must fix something: starting again would change nothing
EXIT_TEMPFAIL = 75  # sysexits.h EX_TEMPFAIL: the database or Discord does not answer, try again later
DEFAULT_CONFIG = "config.toml"
FEATURES = (
    "bot.audit_cli",  # audit
    "bot.export_cli",  # export
    "bot.extracts_cli",  # extracts …, schedule
    "bot.calendar_cli",  # schedule --all / --cancel / --postpone (after extracts_cli: it extends schedule)
    "bot.privacy_cli",  # prune
    "bot.check_cli",  # check
    "bot.init_cli",  # init
    "bot.web_cli",  # web (the moderators' dashboard)
)


# Commands that need no feature module: ``run`` serves for weeks, and the CLI-only modules (and
# what they import: the export code for its choices, the checks…) would stay in its memory for
# nothing (issue 15, item 3).  Their parsers are the core ones, so ``run``'s usage is the same.
CORE_ONLY = frozenset({"run"})


def _command_of(argv: list[str]) -> str | None:
    """The sub-command named in ``argv`` (``--config FILE`` may stand anywhere), else None."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--config":
            skip = True
        elif arg == "--":
            return None
        elif not arg.startswith("-"):
            return arg
    return None


def _load_features(argv: list[str] | None = None) -> None:
    """Import the feature modules (each registers its parsers and commands), unless ``argv``
    names a command of ``CORE_ONLY``."""
    import importlib

    if argv is not None and _command_of(argv) in CORE_ONLY:
        return
    for name in FEATURES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a missing feature module is skipped, a broken one is not
                raise


def parser(t: Text | None = None) -> argparse.ArgumentParser:
    t = t or Text("fr")
    p = argparse.ArgumentParser(prog="reseau-bot", description=t("cli.description"))
    p.add_argument("--config", default=DEFAULT_CONFIG, metavar=t("cli.metavar.file"), help=t("cli.config_help"))
    sub = p.add_subparsers(dest="command", required=True, metavar=t("cli.metavar.command"),
                           title=t("cli.commands_title"))
    for extend in (_core_parsers, *PARSER_EXTENSIONS):
        extend(sub, t)
    cli_argparse.accept_option_everywhere(p, "--config")
    return p


def _core_parsers(sub: argparse._SubParsersAction, t: Text) -> None:
    run = sub.add_parser("run", help=t("cli.run.help"), description=t("cli.run.description"))
    run.add_argument("--shard-ids", default=None, metavar="0,1|0-3", help=t("processes.cli.shard_ids"))
    run.add_argument("--shard-count", type=int_between(t, 1), default=None, metavar="N",
                     help=t("processes.cli.shard_count"))
    run.add_argument("--metrics-port", type=int_between(t, 0, MAX_PORT), default=None, metavar="PORT",
                     help=t("processes.cli.metrics_port"))
    run.add_argument("--web", action="store_true", help=t("cli.run_web.help"))
    sub.add_parser("sync-commands", help=t("cli.sync.help"), description=t("cli.sync.description"))
    demo = sub.add_parser("demo", help=t("cli.demo.help"))
    demo.add_argument("--out", default="demo-output", metavar=t("cli.metavar.folder"), help=t("cli.demo.out"))
    demo.add_argument("--preview", action="store_true", help=t("cli.demo.preview"))
    demo.add_argument("--port", type=int_between(t, 0, MAX_PORT), default=None, help=t("cli.demo.port"))
    demo.add_argument("--preview-seconds", type=float, default=None, help=argparse.SUPPRESS)

    db = sub.add_parser("db", help=t("cli.db.help"))
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar=t("cli.metavar.action"))
    db_sub.add_parser("upgrade", help=t("cli.db.upgrade_help"))
    db_sub.add_parser("current", help=t("cli.db.current_help"))
    # Developers only: hidden from the help (argparse lists only the sub-parsers given a help=).
    down = db_sub.add_parser("downgrade")
    down.add_argument("revision")
    rev = db_sub.add_parser("revision")
    rev.add_argument("-m", "--message", required=True)


def read_config(path: str) -> Config:
    if path == DEFAULT_CONFIG and not Path(path).exists():
        return build_config({}, Path(path))
    return load_config(path)


def _language_of(path: str) -> str:
    """The language of a configuration that cannot be used: its ``bot.language`` where the file
    reads as TOML and names one, else French."""
    try:
        with open(path, "rb") as fh:
            language = tomllib.load(fh).get("bot", {}).get("language")
    except (OSError, ValueError, AttributeError):  # ValueError: TOMLDecodeError, UnicodeDecodeError
        return "fr"
    return language if language in LANGUAGES else "fr"


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:  # Ctrl-C at any moment (even while the feature modules load): quietly
        return 130


def _main(argv: list[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    _load_features(argv)
    config_path = cli_argparse.peek_option(argv, "--config") or DEFAULT_CONFIG
    try:
        config: Config | None = read_config(config_path)
        config_error: ConfigError | None = None
    except ConfigError as exc:
        config, config_error = None, exc
    t = text(config) if config else Text(_language_of(config_path))
    with cli_argparse.localised(t):
        args = parser(t).parse_args(argv)
    if config is None and args.command == "init":  # init writes a config: a broken one must not stop it
        try:
            config, config_error = build_config({}, Path(DEFAULT_CONFIG)), None
        except ConfigError as exc:  # RESEAU_DATABASE_URL of another driver: said, as for any command
            config_error = exc
    if config is None:
        assert config_error is not None
        print(f"reseau-bot: {t('cli.config_error', error=config_error.text(t.lang))}", file=sys.stderr)
        return 2
    from bot.runtime import setup_logging

    setup_logging(config.bot.log_level)
    name = args.command if args.command != "db" else f"db {args.db_command}"
    try:
        return COMMANDS[name](args, config)
    except ConfigError as exc:
        print(f"reseau-bot: {t('cli.config_error', error=exc.text(t.lang))}", file=sys.stderr)
        return 2
    except DatabaseMissing as exc:
        print(f"reseau-bot: {t('cli.database_missing', file=exc.path)}", file=sys.stderr)
        return EXIT_FIX
    except SchemaOutOfDate as exc:
        current = exc.current or t("cli.db.nothing")
        key = "cli.schema_newer" if exc.newer else "cli.schema_out_of_date"
        print(f"reseau-bot: {t(key, current=current, head=exc.head)}", file=sys.stderr)
        return 2
    except DomainError as exc:
        print(f"reseau-bot: {describe(exc, t.catalogue, t.lang)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `reseau-bot audit | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except CannotListen as exc:
        print(f"reseau-bot: {t('cli.cannot_listen', address=f'{exc.host}:{exc.port}', reason=exc.reason)}",
              file=sys.stderr)
        return EXIT_FIX
    except discord_errors() as exc:  # before OSError: aiohttp's connection errors are OSErrors
        return _discord_unreachable(config, t, exc)
    except OSError as exc:
        if exc.filename is None:  # a socket: the database (Discord's and our servers' are above)
            return _database_unreachable(config, t, exc)
        log.debug("file error", exc_info=True)
        print(f"reseau-bot: {t('cli.file_error', file=exc.filename, reason=exc.strerror or exc)}", file=sys.stderr)
        return 2
    except database_errors() as exc:
        return _database_unreachable(config, t, exc)
    except Exception as exc:  # a bug: one line here, the traceback in the log at DEBUG
        log.debug("unexpected error", exc_info=True)
        print(f"reseau-bot: {t('cli.unexpected', error=type(exc).__name__, detail=str(exc)[:200])}", file=sys.stderr)
        return 1


def _database_unreachable(config: Config, t: Text, exc: Exception) -> int:
    """The database cannot be reached or refuses us: one line, the URL without its password."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(config.database.url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        url = "database.url"
    reason = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0]
    log.debug("database error", exc_info=True)
    print(f"reseau-bot: {t('cli.database_unreachable', url=url, reason=reason)}", file=sys.stderr)
    return EXIT_TEMPFAIL if _may_pass(exc) else EXIT_FIX


def _may_pass(exc: BaseException) -> bool:
    """Whether a database error may pass by itself: no answer (a refused or timed-out connection,
    a name the network cannot resolve yet) or a server starting up or full.  A refused password,
    a database that does not exist or a file that cannot be opened need a person."""
    seen: set[int] = set()
    error: BaseException | None = exc
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and getattr(error, "filename", None) is None:
            return True
        if type(error).__name__ in ("CannotConnectNowError", "TooManyConnectionsError", "ConnectionDoesNotExistError"):
            return True
        error = getattr(error, "orig", None) or error.__cause__ or error.__context__
    return False


def discord_errors() -> tuple[type[BaseException], ...]:
    """What talking to Discord raises when it cannot be reached or fails on its side: aiohttp's
    client errors (a refused connection, a name not resolved, a dropped answer), no gateway, a
    5xx.  Only once aiohttp or discord.py is loaded, without importing them."""
    found: list[type[BaseException]] = []
    if (aiohttp := sys.modules.get("aiohttp")) is not None:
        found.append(aiohttp.ClientError)
    if (discord := sys.modules.get("discord")) is not None:
        found += [discord.GatewayNotFound, discord.DiscordServerError]
    return tuple(found) or (_NeverRaised,)


class _NeverRaised(Exception):
    pass


def _discord_unreachable(config: Config, t: Text, exc: BaseException) -> int:
    """No network, or no Discord at the configured address, or Discord failing on its side: one
    line naming its address; it may pass by itself (exit 75)."""
    log.debug("Discord unreachable", exc_info=True)
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    print(f"reseau-bot: {t('cli.discord_unreachable', url=config.discord.api_base_url, reason=reason)}",
          file=sys.stderr)
    return EXIT_TEMPFAIL


@command("run")
def cmd_run(args: argparse.Namespace, config: Config) -> int:
    from bot.processes import with_run_options

    config = with_run_options(config, shard_ids=args.shard_ids, shard_count=args.shard_count,
                              metrics_port=args.metrics_port)
    return _run_with_token(config, sync_only=False, web=args.web)


@command("sync-commands")
def cmd_sync(args: argparse.Namespace, config: Config) -> int:
    return _run_with_token(config, sync_only=True)


def _run_with_token(config: Config, *, sync_only: bool, web: bool = False) -> int:
    import aiohttp
    import discord

    from bot.runtime import run_bot

    t = text(config)
    token = bot_token(config)
    if token is None:
        return 2
    try:
        return asyncio.run(run_bot(config, token, sync_only=sync_only, web=web))
    except discord.LoginFailure:
        print(f"reseau-bot: {t('cli.token_refused')}", file=sys.stderr)
        return EXIT_FIX
    except (aiohttp.ClientError, discord.GatewayNotFound, discord.DiscordServerError) as exc:
        # No network (or no Discord at the configured address, or Discord down) when logging in.
        return _discord_unreachable(config, t, exc)


def _on_engine(config: Config, work, *, create: bool = False):
    """``work(engine)`` on the configured database; only ``create`` (``db upgrade``) makes a new
    SQLite file — elsewhere a file that does not exist is said (``DatabaseMissing``)."""
    from storage.db import create_engine, require_database

    if not create:
        require_database(config.database.url)

    async def go():
        engine = create_engine(config.database.url)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    return asyncio.run(go())


@command("db upgrade")
def cmd_db_upgrade(args: argparse.Namespace, config: Config) -> int:
    from storage.db import current_revision, upgrade

    async def work(engine) -> str | None:
        await upgrade(engine)
        return await current_revision(engine)

    print(text(config)("cli.db.upgraded", revision=_on_engine(config, work, create=True)))
    return 0


@command("db current")
def cmd_db_current(args: argparse.Namespace, config: Config) -> int:
    from storage.db import current_revision, head_revision, schema_is_newer

    t = text(config)
    current = _on_engine(config, current_revision)
    head = head_revision()
    key = ("cli.db.current_ok" if current == head
           else "cli.db.current_newer" if schema_is_newer(current) else "cli.db.current_behind")
    print(t(key, current=current or t("cli.db.nothing"), head=head))
    return 0 if current == head else 1


@command("db downgrade")
def cmd_db_downgrade(args: argparse.Namespace, config: Config) -> int:
    from storage.db import downgrade

    _on_engine(config, lambda engine: downgrade(engine, args.revision))
    print(f"database schema moved to {args.revision}")  # developers only, not translated
    return 0


@command("db revision")
def cmd_db_revision(args: argparse.Namespace, config: Config) -> int:
    from alembic import command as alembic_command

    from storage.db import alembic_config

    alembic_command.revision(alembic_config(config.database.url), message=args.message, autogenerate=True)
    return 0


def _check_free_port(host: str, port: int) -> None:
    """Raise :class:`CannotListen` when nothing could listen on ``host:port`` now."""
    import socket

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise CannotListen(host, port, exc.strerror or str(exc)) from None


@command("demo")
def cmd_demo(args: argparse.Namespace, config: Config) -> int:
    import importlib.util

    # Look SimCord up without importing it: importing it prints discord.py warnings that the
    # demo filters out (bot/demo.py installs that filter before it loads SimCord).
    if importlib.util.find_spec("simcord") is None:
        print(f"reseau-bot: {text(config)('cli.demo.needs_simcord')}", file=sys.stderr)
        return 2
    if args.preview and args.port:  # a port taken is said now, not after the whole scenario ran
        _check_free_port("127.0.0.1", args.port)
    from bot.demo import run_demo

    logging.getLogger("alembic").setLevel(logging.ERROR)
    logging.getLogger("discord").setLevel(logging.WARNING)  # its warnings stay; its INFO lines are noise here
    for quiet in ("bot", "cogs", "reseau"):
        logging.getLogger(quiet).setLevel(logging.WARNING)
    return asyncio.run(
        run_demo(config, out=Path(args.out), preview=args.preview, port=args.port, preview_seconds=args.preview_seconds)
    )


if __name__ == "__main__":
    # `python -m bot.cli`: run the importable module's main(), so that the feature
    # sub-commands registered through `bot.cli_base` are those `bot.cli` loads.
    from bot.cli import main as _main

    raise SystemExit(_main())
