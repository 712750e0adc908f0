"""What every ``reseau-bot`` sub-command module stands on: the registry, the CLI's language and
the database helper.  Feature modules (``bot/*_cli.py``) import this, never ``bot.cli``, so the
command line has no import cycle: ``bot.cli`` imports the features, the features import this.
A command that needs the database or a service runs its work in :func:`with_services`, which
hands it the process's services container (``services.sessions``, ``services.profiles``…): no
command constructs a service.

A feature module registers its parser and its handler::

    @parser_extension
    def _parsers(sub: argparse._SubParsersAction, t: Text) -> None:
        p = sub.add_parser("audit", help=t("cli.audit.help"))
        p.add_argument("--limit", type=int, default=50, help=t("cli.audit.limit"))

    @command("audit")
    def cmd_audit(args: argparse.Namespace, config: Config) -> int:
        t = text(config)
        print(t("cli.audit.empty"))
        return 0

Every sentence printed comes from the catalogue (``bot/locales``), in ``bot.language`` of the
configuration (French by default).
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from bot.config import Config
from bot.i18n import Catalogue

if TYPE_CHECKING:
    from bot.services.container import Services

Handler = Callable[[argparse.Namespace, Config], int]
COMMANDS: dict[str, Handler] = {}
T = TypeVar("T")


class Text:
    """The catalogue bound to one language: ``t("cli.db.upgraded", revision=…)``."""

    def __init__(self, lang: str, catalogue: Catalogue | None = None) -> None:
        self.lang = lang
        self.catalogue = catalogue or Catalogue.load(default_lang=lang)

    def __call__(self, key: str, /, **params: Any) -> str:
        return self.catalogue.t(key, self.lang, **params)


ParserExtension = Callable[[argparse._SubParsersAction, Text], None]
PARSER_EXTENSIONS: list[ParserExtension] = []


def int_between(t: Text, low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse ``type``: a whole number from ``low`` to ``high`` (no bound if None), else
    argparse's one line « argument --port : « 99999 » : … » in the CLI's language."""

    def convert(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            number = None
        if number is None or number < low or (high is not None and number > high):
            key = "cli.int_at_least" if high is None else "cli.int_between"
            raise argparse.ArgumentTypeError(t(key, value=value, low=low, high=high))
        return number

    convert.__name__ = "int"
    return convert


#: A TCP port: 0 lets the system pick a free one.
MAX_PORT = 65535


def command(name: str) -> Callable[[Handler], Handler]:
    """Register ``fn`` as the handler of sub-command ``name`` (``"db upgrade"`` for nested ones)."""

    def register(fn: Handler) -> Handler:
        COMMANDS[name] = fn
        return fn

    return register


def parser_extension(fn: ParserExtension) -> ParserExtension:
    """Register a function that adds sub-parsers (called with the language's ``Text``)."""
    PARSER_EXTENSIONS.append(fn)
    return fn


def text(config: Config) -> Text:
    """The CLI's language: the configuration's ``bot.language``."""
    return Text(config.bot.language)


def bot_token(config: Config) -> str | None:
    """The bot token, registered as a secret for the log filter; or None after saying, on
    stderr and in the CLI's language, where to put it (the caller then exits with 2)."""
    import sys

    from bot.runtime import SECRETS

    token = config.read_token()
    if not token:
        print(f"reseau-bot: {text(config)('cli.no_token', path=config.path)}", file=sys.stderr)
        return None
    SECRETS.add(token)
    return token


async def with_services(config: Config, work: Callable[[Services], Awaitable[T]]) -> T:
    """Run ``work(services)`` — the process's one services container (``bot.services.container``)
    — on an up-to-date database, then close it (the engine is disposed of)."""
    from bot.services.container import Services
    from storage.db import ensure_current, require_database

    require_database(config.database.url)  # a mistyped path is said, not created empty
    services = Services.from_config(config)
    try:
        await ensure_current(services.engine)
        return await work(services)
    finally:
        await services.aclose()
