"""``reseau-bot``: the command line.  Each sub-command is one small function.

Exit codes: 0 done, 1 the command failed (a domain error, explained), 2 bad usage or
configuration (nothing was started).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from bot.config import Config, ConfigError, build_config, load_config
from bot.errors import DomainError, describe
from bot.i18n import Catalogue

DEFAULT_CONFIG = "config.toml"
Handler = Callable[[argparse.Namespace, Config], int]
COMMANDS: dict[str, Handler] = {}


def command(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        COMMANDS[name] = fn
        return fn

    return register


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="reseau-bot", description="The réseau 2.0 Discord bot.")
    p.add_argument("--config", default=DEFAULT_CONFIG, help="TOML configuration file (default: ./config.toml)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("run", help="connect to Discord and serve (needs DISCORD_TOKEN)")
    sub.add_parser("sync-commands", help="push the slash command definitions to Discord now")
    demo = sub.add_parser("demo", help="play a scenario on a simulated Discord (no token needed)")
    demo.add_argument("--out", default="demo-output", help="folder for the files the demo writes")
    demo.add_argument("--preview", action="store_true", help="then serve a local page to try the bot")
    demo.add_argument("--port", type=int, default=None, help="port of the preview page (default: any free)")
    demo.add_argument("--preview-seconds", type=float, default=None, help=argparse.SUPPRESS)

    db = sub.add_parser("db", help="database schema: upgrade, current")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_sub.add_parser("upgrade", help="bring the database schema to the latest version")
    db_sub.add_parser("current", help="print the schema version of the database")
    down = db_sub.add_parser("downgrade", help="move the schema back to a revision (developers)")
    down.add_argument("revision")
    rev = db_sub.add_parser("revision", help="write a new migration from the models (developers)")
    rev.add_argument("-m", "--message", required=True)

    for extend in PARSER_EXTENSIONS:
        extend(sub)
    return p


PARSER_EXTENSIONS: list[Callable[[argparse._SubParsersAction], None]] = []


def read_config(path: str) -> Config:
    if path == DEFAULT_CONFIG and not Path(path).exists():
        return build_config({}, Path(path))
    return load_config(path)


def main(argv: list[str] | None = None) -> int:
    from bot import commands_cli  # noqa: F401  (registers the feature sub-commands)

    args = parser().parse_args(argv)
    try:
        config = read_config(args.config)
    except ConfigError as exc:
        print(f"reseau-bot: configuration error: {exc}", file=sys.stderr)
        return 2
    from bot.runtime import setup_logging

    setup_logging(config.bot.log_level)
    name = args.command if args.command != "db" else f"db {args.db_command}"
    try:
        return COMMANDS[name](args, config)
    except ConfigError as exc:
        print(f"reseau-bot: configuration error: {exc}", file=sys.stderr)
        return 2
    except DomainError as exc:
        catalogue = Catalogue.load(default_lang=config.bot.language)
        print(f"reseau-bot: {describe(exc, catalogue, config.bot.language)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


@command("run")
def cmd_run(args: argparse.Namespace, config: Config) -> int:
    return _run_with_token(config, sync_only=False)


@command("sync-commands")
def cmd_sync(args: argparse.Namespace, config: Config) -> int:
    return _run_with_token(config, sync_only=True)


def _run_with_token(config: Config, *, sync_only: bool) -> int:
    import discord

    from bot.runtime import run_bot
    from storage.db import SchemaOutOfDate

    token = config.read_token()
    if not token:
        print(
            "reseau-bot: no Discord token: set the DISCORD_TOKEN environment variable, or discord.token_file "
            f"in {config.path} to a file outside the repository (try `reseau-bot demo` without one)",
            file=sys.stderr,
        )
        return 2
    try:
        return asyncio.run(run_bot(config, token, sync_only=sync_only))
    except SchemaOutOfDate as exc:
        print(f"reseau-bot: {exc}", file=sys.stderr)
        return 2
    except discord.LoginFailure:
        print("reseau-bot: Discord refused the token (check DISCORD_TOKEN or discord.token_file)", file=sys.stderr)
        return 2


@command("db upgrade")
def cmd_db_upgrade(args: argparse.Namespace, config: Config) -> int:
    from storage.db import create_engine, current_revision, upgrade

    async def go() -> str | None:
        engine = create_engine(config.database.url)
        try:
            await upgrade(engine)
            return await current_revision(engine)
        finally:
            await engine.dispose()

    revision = asyncio.run(go())
    print(f"database schema at {revision} (head)")
    return 0


@command("db current")
def cmd_db_current(args: argparse.Namespace, config: Config) -> int:
    from storage.db import create_engine, current_revision, head_revision

    async def go() -> str | None:
        engine = create_engine(config.database.url)
        try:
            return await current_revision(engine)
        finally:
            await engine.dispose()

    current = asyncio.run(go())
    head = head_revision()
    state = "up to date" if current == head else "out of date: run `reseau-bot db upgrade`"
    print(f"database schema at {current or 'nothing'}; code expects {head} ({state})")
    return 0 if current == head else 1


@command("db downgrade")
def cmd_db_downgrade(args: argparse.Namespace, config: Config) -> int:
    from storage.db import create_engine, downgrade

    async def go() -> None:
        engine = create_engine(config.database.url)
        try:
            await downgrade(engine, args.revision)
        finally:
            await engine.dispose()

    asyncio.run(go())
    print(f"database schema moved to {args.revision}")
    return 0


@command("db revision")
def cmd_db_revision(args: argparse.Namespace, config: Config) -> int:
    from alembic import command as alembic_command

    from storage.db import alembic_config

    alembic_command.revision(alembic_config(config.database.url), message=args.message, autogenerate=True)
    return 0


@command("demo")
def cmd_demo(args: argparse.Namespace, config: Config) -> int:
    try:
        import simcord  # noqa: F401
    except ImportError:
        print(
            "reseau-bot: the demo runs on SimCord, a simulated Discord; install it with:\n"
            "    pip install -e '.[demo]'",
            file=sys.stderr,
        )
        return 2
    from bot.demo import run_demo

    for noisy in ("discord", "alembic"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    for quiet in ("bot", "cogs", "reseau"):
        logging.getLogger(quiet).setLevel(logging.WARNING)
    return asyncio.run(
        run_demo(config, out=Path(args.out), preview=args.preview, port=args.port, preview_seconds=args.preview_seconds)
    )


if __name__ == "__main__":
    # `python -m bot.cli`: run the importable module's main(), so that the feature
    # sub-commands registered on `bot.cli` (not on `__main__`) are there too.
    from bot.cli import main as _main

    raise SystemExit(_main())
