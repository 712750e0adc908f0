"""``reseau-bot prune``: apply the retention period of the config (``privacy.retention_days``).

    reseau-bot prune              # deletes, prints the counts, writes an audit entry
    reseau-bot prune --dry-run    # only counts

Answers given more than ``retention_days`` ago are deleted, and profiles not changed for that
long unless the member answered something since.  Run it daily from cron or a systemd timer.
"""

from __future__ import annotations

import argparse
import asyncio

from bot.cli_base import Text, command, parser_extension, text, with_services
from bot.config import Config
from bot.services.profiles import PruneResult


@parser_extension
def _parsers(sub: argparse._SubParsersAction, t: Text) -> None:
    p = sub.add_parser("prune", help=t("cli.prune.help"), description=t("cli.prune.description"))
    p.add_argument("--dry-run", action="store_true", help=t("cli.prune.dry_run"))



@command("prune")
def cmd_prune(args: argparse.Namespace, config: Config) -> int:
    async def work(services) -> PruneResult:
        return await services.profiles.prune(dry_run=args.dry_run)

    t = text(config)
    result = asyncio.run(with_services(config, work))
    print(t("cli.prune.would_delete" if result.dry_run else "cli.prune.deleted",
            answers=result.answers, profiles=result.profiles,
            cutoff=f"{result.cutoff.astimezone(config.tz):%Y-%m-%d %H:%M}", count=result.retention_days))
    return 0
