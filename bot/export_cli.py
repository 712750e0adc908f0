"""``reseau-bot export``: the answers of a poll or a campaign to CSV, XLSX or JSON Lines.

    reseau-bot export --campaign "Enquête membres 2026-2027" --format csv --layout wide \\
        --separator ';' -o enquete.csv        # also writes enquete.codebook.csv

Respondents are pseudonymised with the secret in ``$RESEAU_EXPORT_SECRET`` (the variable named
by ``privacy.pseudonym_secret_env``); ``--identified`` writes raw Discord ids instead, for an
operator who has a reason to.  A progress bar goes to stderr when it is a terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from bot.cli_base import Text, command, parser_extension, with_sessions
from bot.config import Config
from bot.services.exports import FORMATS, HEADINGS, LAYOUTS, Exporter, ExportRequest

_FORMAT_BY_SUFFIX = {".csv": "csv", ".xlsx": "xlsx", ".json": "json", ".jsonl": "json"}


@parser_extension
def _parsers(sub: argparse._SubParsersAction, t: Text) -> None:
    p = sub.add_parser(
        "export",
        help="export the answers of a poll or a campaign (CSV, XLSX, JSON Lines) with a codebook",
        description="Export answers with their codebook. Respondents are pseudonymised with the secret "
        "in the environment variable named by privacy.pseudonym_secret_env (RESEAU_EXPORT_SECRET).",
    )
    scope = p.add_mutually_exclusive_group(required=True)
    scope.add_argument("--poll", type=int, metavar="ID", help="one poll")
    scope.add_argument("--campaign", metavar="NAME", help="every poll of a campaign")
    p.add_argument("--format", choices=FORMATS, help="file format (default: from the -o suffix)")
    p.add_argument("--layout", choices=LAYOUTS, default="long",
                   help="long: one row per answer (per chosen option); wide: one row per respondent")
    p.add_argument("--headings", choices=HEADINGS, default="codes", help="wide layout question headings")
    p.add_argument("--separator", choices=(",", ";"), default=",", metavar="SEP", help="CSV separator (';' for French Excel)")
    p.add_argument("--identified", action="store_true",
                   help="write raw Discord user ids instead of pseudonyms (operators only; handle with care)")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="data file; the codebook goes next to it")



@command("export")
def cmd_export(args: argparse.Namespace, config: Config) -> int:
    output = Path(args.output)
    fmt = args.format or _FORMAT_BY_SUFFIX.get(output.suffix.lower())
    if fmt is None:
        print(f"reseau-bot: cannot tell the format from {output.name!r}: pass --format csv|xlsx|json",
              file=sys.stderr)
        return 2
    request = ExportRequest(
        poll_id=args.poll, campaign=args.campaign, format=fmt, layout=args.layout,
        headings=args.headings, separator=args.separator, identified=args.identified,
    )

    async def work(sessions):
        exporter = Exporter(sessions, config)
        if not request.identified:
            exporter.secret()  # fail before counting anything
        from tqdm import tqdm

        with tqdm(desc="export", unit=" rows", unit_scale=True, file=sys.stderr, disable=None,
                  mininterval=0.5) as bar:
            if not bar.disable:
                bar.total = await exporter.count_rows(request)

            def progress(done: int) -> None:
                bar.update(done - bar.n)

            return await exporter.export_to_path(request, output, progress=progress)

    result = asyncio.run(with_sessions(config, work))
    who = "raw Discord ids (--identified)" if request.identified else "pseudonymised respondents"
    print(f"wrote {result.rows} rows ({result.answers} answers, {result.respondents} respondents, {who}) "
          f"to {result.files[0]}")
    if len(result.files) > 1:
        print(f"codebook: {result.files[1]}")
    else:
        print("codebook: the 'codebook' sheet of the workbook")
    return 0
