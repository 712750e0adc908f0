"""``reseau-bot export``: the answers of a poll or a campaign to CSV, XLSX or JSON Lines.

    reseau-bot export --campaign "Enquête membres 2026-2027" --format csv --layout wide \\
        --separator ';' -o enquete.csv        # also writes enquete.codebook.csv
    reseau-bot export --poll 12 --layout wide --headings labels --values labels --labels en \\
        -o poll-12.xlsx                       # English labels as values, codebook sheet
    reseau-bot export --series plan-3 --layout wide -o serie.csv   # one column per occurrence

A CSV's separator defaults to what Excel reads in the labels' language (``;`` in French).

Respondents are pseudonymised with the secret in ``$RESEAU_EXPORT_SECRET`` (the variable named
by ``privacy.pseudonym_secret_env``); ``--identified`` writes raw Discord ids instead, for an
operator who has a reason to.  A progress bar goes to stderr when it is a terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from bot.cli_base import Text, command, parser_extension, text, with_services
from bot.config import Config
from bot.i18n import LANGUAGES
from bot.services.exports import FORMATS, HEADINGS, LAYOUTS, VALUES, ExportRequest

_FORMAT_BY_SUFFIX = {".csv": "csv", ".xlsx": "xlsx", ".json": "json", ".jsonl": "json"}


@parser_extension
def _parsers(sub: argparse._SubParsersAction, t: Text) -> None:
    p = sub.add_parser("export", help=t("cli.export.help"), description=t("cli.export.description"))
    scope = p.add_mutually_exclusive_group(required=True)
    scope.add_argument("--poll", type=int, metavar="ID", help=t("cli.export.poll"))
    scope.add_argument("--campaign", metavar=t("cli.metavar.name"), help=t("cli.export.campaign"))
    scope.add_argument("--series", metavar="plan-N", help=t("cli.export.series"))
    p.add_argument("--format", choices=FORMATS, help=t("cli.export.format"))
    p.add_argument("--layout", choices=LAYOUTS, default="long", help=t("cli.export.layout"))
    p.add_argument("--headings", choices=HEADINGS, default="codes", help=t("cli.export.headings"))
    p.add_argument("--values", choices=VALUES, default="codes", help=t("cli.export.values"))
    p.add_argument("--labels", choices=LANGUAGES, help=t("cli.export.labels"))
    # default: what Excel reads in the labels' language (";" in French: Excel-French CSV)
    p.add_argument("--separator", choices=(",", ";"), metavar="SEP", help=t("cli.export.separator"))
    p.add_argument("--identified", action="store_true", help=t("cli.export.identified"))
    p.add_argument("-o", "--output", required=True, metavar=t("cli.metavar.file"), help=t("cli.export.output"))


@command("export")
def cmd_export(args: argparse.Namespace, config: Config) -> int:
    t = text(config)
    output = Path(args.output)
    by_name = _FORMAT_BY_SUFFIX.get(output.suffix.lower())
    if args.format and by_name and args.format != by_name:  # a CSV named .xlsx: Excel refuses it
        print(f"reseau-bot: {t('cli.export.format_mismatch', name=output.name, format=args.format, suffix=output.suffix)}",
              file=sys.stderr)
        return 2
    fmt = args.format or by_name
    if fmt is None:
        print(f"reseau-bot: {t('cli.export.unknown_format', name=output.name)}", file=sys.stderr)
        return 2
    if not output.parent.is_dir():  # said before opening anything, not after counting the answers
        print(f"reseau-bot: {t('cli.export.no_folder', folder=output.parent)}", file=sys.stderr)
        return 2
    labels = args.labels or config.bot.language
    series = None
    if args.series is not None:  # a recurring poll's occurrences (``reseau-bot schedule`` lists them)
        from bot.services.calendar import plan_number

        series = plan_number(args.series)
    request = ExportRequest(
        poll_id=args.poll, campaign=args.campaign, series=series, format=fmt, layout=args.layout,
        headings=args.headings, values=args.values, labels=labels,
        separator=args.separator or t.catalogue.t("format.csv_separator", labels), identified=args.identified,
    )

    async def work(services):
        exporter = services.exports
        if not request.identified:
            exporter.secret()  # fail before counting anything
        from tqdm import tqdm

        with tqdm(desc=t("cli.export.progress"), unit=t("cli.export.rows_unit"), unit_scale=True, file=sys.stderr, disable=None,
                  mininterval=0.5) as bar:
            if not bar.disable:
                bar.total = await exporter.count_rows(request)

            def progress(done: int) -> None:
                bar.update(done - bar.n)

            return await exporter.export_to_path(request, output, progress=progress)

    result = asyncio.run(with_services(config, work))
    who = t("cli.export.identified_ids" if request.identified else "cli.export.pseudonymised")
    print(t("cli.export.wrote", rows=result.rows, answers=result.answers, respondents=result.respondents, who=who,
            file=result.files[0]))
    print(t("cli.export.codebook_file", file=result.files[1]) if len(result.files) > 1
          else t("cli.export.codebook_sheet"))
    return 0
