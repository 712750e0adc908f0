"""``reseau-bot audit``: print the audit log."""

from __future__ import annotations

import argparse
import asyncio

from bot.cli_base import Text, command, int_between, parser_extension, text, with_services
from bot.config import Config
from storage.repositories import AuditRepository


@parser_extension
def _parsers(sub: argparse._SubParsersAction, t: Text) -> None:
    audit = sub.add_parser("audit", help=t("cli.audit.help"), description=t("cli.audit.description"))
    audit.add_argument("--limit", type=int_between(t, 1), default=50, metavar="N", help=t("cli.audit.limit"))

@command("audit")
def cmd_audit(args: argparse.Namespace, config: Config) -> int:
    async def work(services) -> list:
        async with services.sessions() as session:
            return await AuditRepository(session).latest(args.limit)

    t = text(config)
    entries = asyncio.run(with_services(config, work))
    tz = config.tz
    for e in reversed(entries):
        where = t("cli.audit.guild", id=e.guild_id) if e.guild_id else "-"
        if e.channel_id:
            where += " " + t("cli.audit.channel", id=e.channel_id)
        who = e.actor_id if e.actor_id is not None else t("cli.audit.system")
        details = " ".join(f"{k}={v}" for k, v in sorted(e.details.items()))
        line = t("cli.audit.line", at=f"{e.at.astimezone(tz):%Y-%m-%d %H:%M}", action=f"{e.action:<22}", who=who,
                 target=f"{e.target_type} {e.target_id}", where=where)
        print(f"{line} {details}".rstrip())
    if not entries:
        print(t("cli.audit.empty"))
    return 0
