"""``reseau-bot check``: is this deployment ready to go live?

    DISCORD_TOKEN=… reseau-bot check        # one line per item, ✔ or ✘, and the fix under a ✘

Over Discord's REST API only (no gateway session): the token, each configured server and channel,
the bot's permissions there, then the database schema and the extract sources' hosts (the
checks themselves are in ``bot.services.check``).  Exit code 0 when everything passes, 1 when
something fails, 2 without a token (the same message as ``run``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import TYPE_CHECKING

from bot.cli_base import Text, bot_token, command, parser_extension, text
from bot.config import Config

if TYPE_CHECKING:  # httpx and the checks load for ``check`` only, not at ``run`` (small at rest)
    from bot.services import check as service

log = logging.getLogger("reseau.check")

OK_MARK = "✔"
FAILED_MARK = "✘"
FIX_PREFIX = "    → "
WARNING_MARK = "⚠"


def _token_file_readable_by_others(config: Config) -> tuple[str, str] | None:
    """``discord.token_file`` and its mode when the token comes from it and users other than its
    owner and group can read it (docs: mode 600); else None."""
    import os
    import stat
    from pathlib import Path

    if os.environ.get("DISCORD_TOKEN", "").strip() or not config.discord.token_file:
        return None
    path = Path(config.discord.token_file).expanduser()
    mode = stat.S_IMODE(path.stat().st_mode)
    return (str(path), f"{mode:o}") if mode & stat.S_IROTH else None


@parser_extension
def _parsers(sub: argparse._SubParsersAction, t: Text) -> None:
    sub.add_parser("check", help=t("check.cli.help"), description=t("check.cli.description"))


def render(t: Text, message: service.Msg) -> str:
    """A result's message in the CLI's language; nested messages first, lists joined."""

    params = {name: _value(t, value) for name, value in message.params.items()}
    return t(message.key, **params)


def _value(t: Text, value: object) -> object:
    from bot.services import check as service
    if isinstance(value, service.Msg):
        return render(t, value)
    if isinstance(value, tuple | list):
        return ", ".join(str(_value(t, v)) for v in value)
    return value


def report_lines(t: Text, report: service.CheckReport) -> list[str]:
    lines: list[str] = []
    for result in report.results:
        mark = WARNING_MARK if result.warning else OK_MARK if result.ok else FAILED_MARK
        lines.append(f"{mark} {render(t, result.line)}")
        if (result.warning or not result.ok) and result.fix is not None:
            lines.append(FIX_PREFIX + render(t, result.fix))
    total = report.checks
    if report.ok:
        lines.append(t("check.summary.ok", count=total))
    else:
        lines.append(t("check.summary.failed", count=report.failures, total=total))
    return lines


@command("check")
def cmd_check(args: argparse.Namespace, config: Config) -> int:
    from bot.runtime import SECRETS
    from bot.services import check as service

    t = text(config)
    token = bot_token(config)
    if token is None:
        return 2
    if (readable := _token_file_readable_by_others(config)) is not None:
        print(f"{WARNING_MARK} {t('check.cli.token_file_readable', file=readable[0], mode=readable[1])}")
    try:
        report = asyncio.run(service.run_checks(config, token))
    except Exception as exc:  # a bug or an unforeseen failure: one line, never a traceback
        log.debug("check failed", exc_info=True)
        print(f"{FAILED_MARK} {t('check.cli.interrupted', error=SECRETS.mask(f'{type(exc).__name__}: {exc}'))}")
        print(FIX_PREFIX + t("check.cli.interrupted_fix"))
        return 1
    for line in report_lines(t, report):
        print(SECRETS.mask(line))
    return 0 if report.ok else 1
