"""``reseau-bot schedule --all`` / ``--cancel REF`` / ``--postpone REF WHEN``: the moderators'
calendar from the command line (issue 12).  Without these options ``reseau-bot schedule`` is
``bot.extracts_cli``'s (the next monthly slots, no database), which this module extends: it is
loaded after it (``bot.cli.FEATURES``).

What the running bot has in its scheduler follows: on PostgreSQL a cancel or a postpone sends
``NOTIFY reseau_schedule`` and the leader rebuilds those jobs at once; on SQLite (and should the
notice be lost) the bot re-reads the rows every minute (``bot.processes.RESYNC_SECONDS``).  A job
that fires meanwhile re-reads its row anyway (a cancelled plan posts nothing; one postponed
later is put again at its new time)."""

from __future__ import annotations

import argparse
import asyncio

from bot.cli_base import COMMANDS, Text, command, parser_extension, text, with_services
from bot.config import Config
from bot.processes import announce_outside_change


@parser_extension
def _parsers(sub: argparse._SubParsersAction, t: Text) -> None:
    schedule = sub.choices.get("schedule")
    if schedule is None:  # bot.extracts_cli not loaded: nothing to extend
        return
    group = schedule.add_mutually_exclusive_group()
    group.add_argument("--all", action="store_true", help=t("cli.calendar.all"))
    group.add_argument("--cancel", metavar="REF", help=t("cli.calendar.cancel"))
    group.add_argument("--postpone", nargs=2, metavar=("REF", "WHEN"), help=t("cli.calendar.postpone"))
    group.add_argument("--series", metavar="REF", help=t("cli.calendar.series"))
    schedule.add_argument("--layout", choices=("long", "wide"), default="long", help=t("cli.calendar.layout"))


_slots = COMMANDS.get("schedule")


@command("schedule")
def cmd_schedule(args: argparse.Namespace, config: Config) -> int:
    if getattr(args, "cancel", None):
        return _cancel(args.cancel, config)
    if getattr(args, "postpone", None):
        return _postpone(*args.postpone, config=config)
    if getattr(args, "series", None):
        return _series(args.series, args.layout, config)
    if not getattr(args, "all", False) and _slots is not None:
        return _slots(args, config)
    return _list(config)


def _list(config: Config) -> int:
    t = text(config)

    async def work(services):
        # the slot reads network_channels, which only `run` and `extracts publish` filled: before
        # the first `run` every queued extract showed as « rien à poster ce mois-là »
        await services.mirror_channels()
        return await services.calendar.upcoming(limit=500)

    entries = asyncio.run(with_services(config, work))
    print(t("cli.calendar.heading", tz=config.bot.timezone))
    for entry in entries:
        when = entry.when.astimezone(config.tz).strftime("%Y-%m-%d %H:%M")
        what = t(f"calendar.what.{entry.what}")
        parts = [when, f"{entry.ref or '-':<16}", what]
        if entry.title:
            parts.append(t("calendar.quoted", title=entry.title))
        if entry.recurrence:
            parts.append(entry.recurrence)
        if entry.channel_id:
            parts.append(t("cli.calendar.channel", id=entry.channel_id))
        print("  " + " · ".join(parts))
    if not entries:
        print("  " + t("calendar.empty"))
    return 0


def _cancel(ref: str, config: Config) -> int:
    t = text(config)

    async def work(services):
        what = await services.calendar.cancel(ref, actor_id=None)
        await announce_outside_change(config.database.url)
        return what

    what = asyncio.run(with_services(config, work))
    print(t(f"calendar.cancelled.{what}", ref=ref.strip()))
    return 0


def _postpone(ref: str, when: str, *, config: Config) -> int:
    t = text(config)

    async def work(services):
        moved = await services.calendar.postpone(ref, when, actor_id=None)
        await announce_outside_change(config.database.url)
        return moved

    moved = asyncio.run(with_services(config, work))
    print(t("calendar.postponed", ref=ref.strip(), when=moved.astimezone(config.tz).strftime("%Y-%m-%d %H:%M"),
            tz=config.bot.timezone))
    return 0


def _series(ref: str, layout: str, config: Config) -> int:
    """A recurring poll's occurrences as CSV on stdout (``> series.csv``)."""

    async def work(services):
        plan_id = services.calendar.plan_number(ref)
        return await services.calendar.series_csv(plan_id, layout=layout)

    print(asyncio.run(with_services(config, work)), end="")
    return 0
