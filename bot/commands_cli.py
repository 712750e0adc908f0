"""Feature sub-commands of ``reseau-bot`` (imported by ``bot.cli.main`` to register them)."""

from __future__ import annotations

import argparse
import asyncio

from bot import (
    export_cli,  # noqa: F401  (registers `reseau-bot export`)
    extracts_cli,  # noqa: F401  (registers `reseau-bot extracts …` and `schedule`)
    privacy_cli,  # noqa: F401  (registers `reseau-bot prune`)
)
from bot.cli import PARSER_EXTENSIONS, command
from bot.config import Config
from storage.db import create_engine, ensure_current, session_factory
from storage.repositories import AuditRepository


def _parsers(sub: argparse._SubParsersAction) -> None:
    audit = sub.add_parser("audit", help="print the audit log (publishes, schedules, cancels, skips…)")
    audit.add_argument("--limit", type=int, default=50)


PARSER_EXTENSIONS.append(_parsers)


async def with_sessions(config: Config, work):
    """Run ``work(sessions)`` on an up-to-date database, then dispose of the engine."""
    engine = create_engine(config.database.url)
    try:
        await ensure_current(engine)
        return await work(session_factory(engine))
    finally:
        await engine.dispose()


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
