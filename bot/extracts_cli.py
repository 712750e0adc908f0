"""``reseau-bot extracts …`` and ``reseau-bot schedule``.

    reseau-bot extracts import PATH|URL     # a .md/.txt file, a folder of them, a feed or a page
    reseau-bot extracts list                # every extract, queue order, with its deliveries
    reseau-bot extracts show ID
    reseau-bot extracts publish [ID]        # over Discord's REST API only: no gateway session
    reseau-bot schedule [--count N]         # the next monthly posts, local time

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

from bot.cli_base import Text, bot_token, command, int_between, parser_extension, text, with_services
from bot.config import Config
from bot.services import extracts as service
from bot.services.delivery import DeliveryReport, describe_failure
from storage import models

PUBLISH_RATE = 50.0  # Discord's global limit, requests per second; nothing else runs meanwhile
PUBLISH_CONCURRENCY = 50


@parser_extension
def _parsers(sub: argparse._SubParsersAction, t: Text) -> None:
    extracts = sub.add_parser("extracts", help=t("cli.extracts.help"))
    actions = extracts.add_subparsers(dest="extracts_command", required=True, metavar=t("cli.metavar.action"))
    imp = actions.add_parser("import", help=t("cli.extracts.import_help"),
                             description=t("cli.extracts.import_description"))
    imp.add_argument("source", metavar=t("cli.extracts.source_metavar"), help=t("cli.extracts.source_help"))
    actions.add_parser("list", help=t("cli.extracts.list_help"))
    show = actions.add_parser("show", help=t("cli.extracts.show_help"))
    show.add_argument("id", type=int, help=t("cli.extracts.id_help"))
    pub = actions.add_parser("publish", help=t("cli.extracts.publish_help"),
                             description=t("cli.extracts.publish_description"))
    pub.add_argument("id", type=int, nargs="?", help=t("cli.extracts.publish_id_help"))
    schedule = sub.add_parser("schedule", help=t("cli.schedule.help"))
    schedule.add_argument("--count", type=int_between(t, 1), default=3, metavar="N", help=t("cli.schedule.count"))


# Column widths of `extracts list`: at least the heading's, in the CLI's language.
_COLUMNS = ("col_month", "col_lang", "col_status", "col_deliveries")


def _widths(t: Text) -> tuple[int, ...]:
    return tuple(max(len(t(f"cli.extracts.{c}")), minimum) for c, minimum in zip(_COLUMNS, (7, 2, 10, 22), strict=True))


def _status(t: Text, status: str) -> str:
    key = f"cli.extracts.status_{status}"
    return t(key) if t.catalogue.has(key) else status


def _month(t: Text, month: str | None) -> str:
    """An extract's month in words (« novembre 2026 »); the table of `extracts list` keeps 2026-11."""
    return t.catalogue.iso_month(month, t.lang)


def _line(t: Text, e: models.Extract, counts: dict[str, int] | None = None) -> str:
    deliveries = ""
    if counts:
        deliveries = t("cli.extracts.sent_of", sent=counts.get("sent", 0), total=sum(counts.values()))
        if counts.get("failed"):
            deliveries += ", " + t("cli.extracts.n_failed", n=counts["failed"])
        if counts.get("pending"):
            deliveries += ", " + t("cli.extracts.n_pending", n=counts["pending"])
    month, lang, status, sent = _widths(t)
    return (f"{e.id:>4}  {e.month or '-':{month}}  {e.lang:{lang}}  {_status(t, e.status):{status}}  "
            f"{deliveries:<{sent}}  {e.title}")


@command("extracts")
def cmd_extracts(args: argparse.Namespace, config: Config) -> int:
    return {
        "import": _import,
        "list": _list,
        "show": _show,
        "publish": _publish,
    }[args.extracts_command](args, config)


def _import(args: argparse.Namespace, config: Config) -> int:
    async def work(services):
        return await services.import_extracts(args.source)

    t = text(config)
    result = asyncio.run(with_services(config, work))
    for extract in result.extracts:
        verb = t("cli.extracts.created" if extract in result.created else "cli.extracts.updated")
        print(f"{verb:9}  #{extract.id}  {extract.month}  {extract.lang}  {extract.title}")
    for kept in result.kept:  # its extract has left the queue: never rewritten
        extract = kept.extract
        why = t("cli.extracts.kept_skipped" if kept.skipped else "cli.extracts.kept_published", id=extract.id)
        print(f"{t('cli.extracts.kept'):9}  #{extract.id}  {extract.month}  {extract.lang}  {extract.title} — {why}")
    print(t("cli.extracts.import_summary", created=len(result.created), updated=len(result.updated),
            kept=len(result.kept)))
    return 0


def _list(args: argparse.Namespace, config: Config) -> int:
    async def work(services):
        rows = await service.list_extracts(services.sessions)
        return [(e, await service.delivery_counts(services.sessions, e.id)) for e in rows]

    t = text(config)
    rows = asyncio.run(with_services(config, work))
    if not rows:
        print(t("cli.extracts.none_yet"))
        return 0
    headings = [f"{t(f'cli.extracts.{c}'):{w}}" for c, w in zip(_COLUMNS, _widths(t), strict=True)]
    print("  ".join([f"{'ID':>4}", *headings, t("cli.extracts.col_title")]))
    for extract, counts in rows:
        print(_line(t, extract, counts))
    return 0


def _show(args: argparse.Namespace, config: Config) -> int:
    async def work(services):
        extract = await service.get_extract(services.sessions, args.id)
        return extract, await service.delivery_counts(services.sessions, extract.id)

    t = text(config)
    extract, counts = asyncio.run(with_services(config, work))
    print(t("cli.extracts.show_title", id=extract.id, title=extract.title))
    print(t("cli.extracts.show_meta", month=_month(t, extract.month), lang=extract.lang, status=_status(t, extract.status)))
    if extract.published_at:
        print(t("cli.extracts.show_published", at=service.format_local(extract.published_at, config.tz)))
    print(t("cli.extracts.show_source", source=extract.source_key))
    if extract.link:
        print(t("cli.extracts.show_report", link=extract.link))
    if extract.image_url:
        print(t("cli.extracts.show_image", url=extract.image_url))
    if extract.tags:
        print(t("cli.extracts.show_tags", tags=", ".join(extract.tags)))
    if counts:
        print(t("cli.extracts.show_deliveries", counts=", ".join(
            t(f"cli.extracts.delivery.{status}", count=n) if t.catalogue.has(f"cli.extracts.delivery.{status}")
            else f"{n} {status}" for status, n in sorted(counts.items()))))
    if extract.question:
        from bot.services.polls.kinds import kind_of  # the poll rules load only when an extract asks one

        kind = kind_of(extract.question_kind or "single").label(t.catalogue, t.lang, len(extract.question_options))
        print(t("cli.extracts.show_question", kind=kind, question=extract.question))
        for option in extract.question_options:
            print(f"  - {option}")
    print()
    if extract.intro:
        print(extract.intro)
        print()
    print(extract.body)
    return 0


def _print_report(t: Text, report: DeliveryReport, seconds: float) -> None:
    print(t("cli.extracts.report", sent=len(report.sent), recovered=len(report.recovered),
            failed=len(report.failed), pending=len(report.pending), seconds=f"{seconds:.2f}"))
    for failure in report.failed:
        print("  " + t("cli.extracts.report_failure", channel=failure.channel_id, guild=failure.guild_id,
                       reason=describe_failure(failure.reason, t.catalogue, t.lang)))


def _publish(args: argparse.Namespace, config: Config) -> int:
    from bot.posting import RestSender
    from bot.runtime import point_discord_at

    t = text(config)
    token = bot_token(config)
    if token is None:
        return 2
    point_discord_at(config)

    async def work(services):
        import discord

        sessions = services.sessions
        await services.mirror_channels()
        try:
            sender = await RestSender.login(token)
        except discord.LoginFailure:
            print(f"reseau-bot: {t('cli.token_refused')}", file=sys.stderr)
            return 2
        try:
            services.attach_sender(sender, rate=PUBLISH_RATE, concurrency=PUBLISH_CONCURRENCY)
            publisher = services.publisher
            now = services.now()
            started = time.monotonic()
            if args.id is not None:
                outcome = await service.publish_extract(sessions, publisher, args.id, now=now)
                extract = outcome.extracts[0]
                print(t("cli.extracts.published_id", id=extract.id, title=extract.title, month=_month(t, extract.month),
                        lang=extract.lang, n=outcome.new_rows))
                report = outcome.report
            else:
                month = service.month_of(now, config.tz)
                outcome = await service.run_slot(sessions, publisher, month=month, now=now, trigger="cli")
                if outcome is None:
                    print(t("cli.extracts.slot_done", month=_month(t, month)))
                    report = DeliveryReport()
                elif not outcome.extracts:
                    print(t("cli.extracts.slot_empty", month=_month(t, month)))
                    report = outcome.report
                else:
                    for extract in outcome.extracts:
                        print(t("cli.extracts.slot_extract", month=_month(t, month), id=extract.id, title=extract.title,
                                lang=extract.lang))
                    report = outcome.report
            report.merge(await publisher.deliver())  # anything left from an interrupted run
            _print_report(t, report, time.monotonic() - started)
            # a send that failed for good is a failure too: a cron job must hear of it
            return 1 if report.pending or report.failed else 0
        finally:
            await sender.close()

    return asyncio.run(with_services(config, work))


@command("schedule")
def cmd_schedule(args: argparse.Namespace, config: Config) -> int:
    t = text(config)
    print(t("cli.schedule.heading", cron=config.schedule.extract_cron, tz=config.bot.timezone))
    for when in service.next_runs(config, models.utcnow(), count=args.count):
        print("  " + service.format_local(when, config.tz))
    return 0
