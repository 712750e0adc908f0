"""``reseau-bot audit``: print the audit log."""

from __future__ import annotations

import argparse
import asyncio

from bot.cli_base import Text, command, parser_extension, with_sessions
from bot.config import Config
from storage.repositories import AuditRepository


@parser_extension
def _parsers(sub: argparse._SubParsersAction, t: Text) -> None:
    audit = sub.add_parser("audit", help="print the audit log (publishes, schedules, cancels, skips…)")
    audit.add_argument("--limit", type=int, default=50)



@command("audit")
def cmd_audit(args: argparse.Namespace, config: Config) -> int:
    async def work(sessions) -> list:
        async with sessions() as session:
            return await AuditRepository(session).latest(args.limit)

    entries = asyncio.run(with_sessions(config, work))
    tz = config.tz
    for e in reversed(entries):
        where = f"guild {e.guild_id}" if e.guild_id else "-"
        if e.channel_id:
            where += f" channel {e.channel_id}"
        who = e.actor_id if e.actor_id is not None else "system"
        details = " ".join(f"{k}={v}" for k, v in sorted(e.details.items()))
        print(f"{e.at.astimezone(tz):%Y-%m-%d %H:%M} {e.action:<22} by {who} on {e.target_type} {e.target_id} "
              f"({where}) {details}".rstrip())
    if not entries:
        print("audit log is empty")
    return 0
