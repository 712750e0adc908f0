"""``reseau-bot extracts …`` and ``reseau-bot schedule``.

    reseau-bot extracts import PATH|URL     # a .md/.txt file, a folder of them, a feed or a page
    reseau-bot extracts list                # every extract, queue order, with its deliveries
    reseau-bot extracts show ID
    reseau-bot extracts publish [ID]        # over Discord's REST API only: no gateway session
    reseau-bot schedule                     # the next three monthly posts, local time

``extracts publish`` without an id handles the current month's slot (once, like the bot's
scheduler: the bot will not post that month again), then sends every pending delivery — so
running it again after an interruption finishes the fan-out without posting anything twice.
With an id it posts that extract to the channels that do not have it yet.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from bot.cli_base import Text, command, parser_extension, with_sessions
from bot.config import Config
from bot.services import extracts as service
from bot.services.delivery import DeliveryReport
from storage import models

PUBLISH_RATE = 50.0  # Discord's global limit, requests per second; nothing else runs meanwhile
PUBLISH_CONCURRENCY = 50


@parser_extension
def _parsers(sub: argparse._SubParsersAction, t: Text) -> None:
    extracts = sub.add_parser("extracts", help="monthly extracts: import, list, show, publish")
    actions = extracts.add_subparsers(dest="extracts_command", required=True, metavar="ACTION")
    imp = actions.add_parser("import", help="import a Markdown/text file, a folder, an RSS/Atom feed or a web page")
    imp.add_argument("source", metavar="PATH|URL")
    actions.add_parser("list", help="print every extract in queue order")
    show = actions.add_parser("show", help="print one extract")
    show.add_argument("id", type=int)
    pub = actions.add_parser(
        "publish", help="post the due extract (or extract ID) over Discord's REST API, without the gateway"
    )
    pub.add_argument("id", type=int, nargs="?")
    sub.add_parser("schedule", help="print the next three monthly extract posts (local time)")



def _line(e: models.Extract, counts: dict[str, int] | None = None) -> str:
    deliveries = ""
    if counts:
        total = sum(counts.values())
        deliveries = f"{counts.get('sent', 0)}/{total} sent"
        if counts.get("failed"):
            deliveries += f", {counts['failed']} failed"
        if counts.get("pending"):
            deliveries += f", {counts['pending']} pending"
    return f"{e.id:>4}  {e.month or '-':7}  {e.lang:2}  {e.status:9}  {deliveries:<22}  {e.title}"


@command("extracts")
def cmd_extracts(args: argparse.Namespace, config: Config) -> int:
    return {
        "import": _import,
        "list": _list,
        "show": _show,
        "publish": _publish,
    }[args.extracts_command](args, config)


def _import(args: argparse.Namespace, config: Config) -> int:
    async def work(sessions):
        return await service.import_source(sessions, args.source, config=config, now=models.utcnow())

    result = asyncio.run(with_sessions(config, work))
    for extract in result.extracts:
        verb = "created" if extract in result.created else "updated"
        print(f"{verb:7}  #{extract.id}  {extract.month}  {extract.lang}  {extract.title}")
    print(f"{len(result.created)} created, {len(result.updated)} updated")
    return 0


def _list(args: argparse.Namespace, config: Config) -> int:
    async def work(sessions):
        rows = await service.list_extracts(sessions)
        return [(e, await service.delivery_counts(sessions, e.id)) for e in rows]

    rows = asyncio.run(with_sessions(config, work))
    if not rows:
        print("no extract yet: reseau-bot extracts import PATH|URL")
        return 0
    print(f"{'ID':>4}  {'MONTH':7}  {'LANG':2}  {'STATUS':9}  {'DELIVERIES':<22}  TITLE")
    for extract, counts in rows:
        print(_line(extract, counts))
    return 0


def _show(args: argparse.Namespace, config: Config) -> int:
    async def work(sessions):
        extract = await service.get_extract(sessions, args.id)
        return extract, await service.delivery_counts(sessions, extract.id)

    extract, counts = asyncio.run(with_sessions(config, work))
    print(f"#{extract.id}  {extract.title}")
    print(f"month: {extract.month}   language: {extract.lang}   status: {extract.status}")
    if extract.published_at:
        print(f"published: {service.format_local(extract.published_at, config.tz)}")
    print(f"source: {extract.source_key}")
    if extract.link:
        print(f"report: {extract.link}")
    if extract.image_url:
        print(f"image: {extract.image_url}")
    if extract.tags:
        print(f"tags: {', '.join(extract.tags)}")
    if counts:
        print("deliveries: " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
    if extract.question:
        print(f"question ({extract.question_kind or 'single'}): {extract.question}")
        for option in extract.question_options:
            print(f"  - {option}")
    print()
    if extract.intro:
        print(extract.intro)
        print()
    print(extract.body)
    return 0


async def mirror_channels(sessions, config: Config) -> None:
    """The network channels of the config, as the bot mirrors them at start-up."""
    from storage.repositories import ChannelRepository

    async with sessions.begin() as session:
        await ChannelRepository(session).replace_all(
            models.NetworkChannel(
                channel_id=c.channel_id, guild_id=c.guild_id, language=c.language,
                mention_role_id=c.mention_role_id or None, name=c.name,
            )
            for c in config.channels
        )


def _print_report(report: DeliveryReport, seconds: float) -> None:
    print(
        f"{len(report.sent)} sent, {len(report.recovered)} already there (not resent), "
        f"{len(report.failed)} failed, {len(report.pending)} to retry in {seconds:.2f} s"
    )
    for failure in report.failed:
        print(f"  failed: channel {failure.channel_id} (guild {failure.guild_id}): {failure.reason}")


def _publish(args: argparse.Namespace, config: Config) -> int:
    from bot.i18n import Catalogue
    from bot.posting import RestSender
    from bot.runtime import SECRETS, point_discord_at
    from bot.services.delivery import Publisher

    token = config.read_token()
    if not token:
        print(
            "reseau-bot: no Discord token: set DISCORD_TOKEN or discord.token_file "
            f"in {config.path} (publishing talks to Discord's REST API)",
            file=sys.stderr,
        )
        return 2
    SECRETS.add(token)
    point_discord_at(config)

    async def work(sessions):
        import discord

        await mirror_channels(sessions, config)
        try:
            sender = await RestSender.login(token)
        except discord.LoginFailure:
            print("reseau-bot: Discord refused the token (check DISCORD_TOKEN or discord.token_file)", file=sys.stderr)
            return 2
        try:
            publisher = Publisher(
                sessions, sender, catalogue=Catalogue.load(default_lang=config.bot.language),
                modlog_channel_id=config.discord.moderators_log_channel_id, lang=config.bot.language,
                concurrency=PUBLISH_CONCURRENCY, rate=PUBLISH_RATE,
            )
            now = models.utcnow()
            started = time.monotonic()
            if args.id is not None:
                outcome = await service.publish_extract(sessions, publisher, args.id, now=now)
                extract = outcome.extracts[0]
                print(f"extract #{extract.id} « {extract.title} » ({extract.month}, {extract.lang}): "
                      f"{outcome.new_rows} new deliveries")
                report = outcome.report
            else:
                month = service.month_of(now, config.tz)
                outcome = await service.run_slot(sessions, publisher, month=month, now=now, trigger="cli")
                if outcome is None:
                    print(f"{month}: the monthly extract was already handled; finishing pending deliveries")
                    report = DeliveryReport()
                elif not outcome.extracts:
                    print(f"{month}: no queued extract is due (see `reseau-bot extracts list`)")
                    report = outcome.report
                else:
                    for extract in outcome.extracts:
                        print(f"{month}: extract #{extract.id} « {extract.title} » ({extract.lang})")
                    report = outcome.report
            report.merge(await publisher.deliver())  # anything left from an interrupted run
            _print_report(report, time.monotonic() - started)
            return 1 if report.pending else 0
        finally:
            await sender.close()

    return asyncio.run(with_sessions(config, work))


@command("schedule")
def cmd_schedule(args: argparse.Namespace, config: Config) -> int:
    now = models.utcnow()
    for when in service.next_runs(config, now, count=3):
        print(service.format_local(when, config.tz))
    return 0
