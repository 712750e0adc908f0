"""``reseau-bot prune``: apply the retention period of the config (``privacy.retention_days``).

    reseau-bot prune              # deletes, prints the counts, writes an audit entry
    reseau-bot prune --dry-run    # only counts

Answers given more than ``retention_days`` ago are deleted, and profiles not changed for that
long unless the member answered something since.  Run it daily from cron or a systemd timer.
"""

from __future__ import annotations

import argparse
import asyncio

from bot.cli_base import Text, command, parser_extension, with_sessions
from bot.config import Config
from bot.services.profiles import ProfileService, PruneResult


@parser_extension
def _parsers(sub: argparse._SubParsersAction, t: Text) -> None:
    p = sub.add_parser(
        "prune",
        help="delete answers and profiles older than privacy.retention_days",
        description="Delete the answers given more than privacy.retention_days ago, and the profiles "
        "not changed for that long (unless the member answered since). Logged in the audit log.",
    )
    p.add_argument("--dry-run", action="store_true", help="count what would be deleted, delete nothing")



@command("prune")
def cmd_prune(args: argparse.Namespace, config: Config) -> int:
    async def work(sessions) -> PruneResult:
        return await ProfileService.from_config(sessions, config).prune(dry_run=args.dry_run)

    result = asyncio.run(with_sessions(config, work))
    verb = "would delete" if result.dry_run else "deleted"
    print(
        f"{verb} {result.answers} answer(s) and {result.profiles} profile(s) older than "
        f"{result.cutoff.astimezone(config.tz):%Y-%m-%d %H:%M} (retention {result.retention_days} days)"
    )
    return 0
