#!/usr/bin/env python3
"""Refresh the copy of Discord's OpenAPI description kept for the tests.

    python tests/discord_api/refresh.py                 # the newest commit of discord/discord-api-spec
    python tests/discord_api/refresh.py --ref 74fda0f…  # a given commit, tag or branch
    python tests/discord_api/refresh.py --from-file openapi.json --commit 74fda0f… --date 2026-07-18

It downloads ``specs/openapi.json`` and ``LICENSE`` of that commit from GitHub, checks that the
description parses and is OpenAPI 3.1, and rewrites ``SOURCE.toml`` (repository, commit, date,
SHA-256).  ``--from-file`` takes a file already downloaded (for a machine that cannot reach
GitHub).  Then run the suite: a newer description may reject what discord.py sends.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPOSITORY = "discord/discord-api-spec"
SPEC_IN_REPOSITORY = "specs/openapi.json"


def _get(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "reseau-bot-refresh"})
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (fixed https URLs)
        return response.read()


def resolve(ref: str) -> tuple[str, str]:
    """The full commit id of ``ref`` and its date (YYYY-MM-DD), from GitHub's API."""
    data = json.loads(_get(f"https://api.github.com/repos/{REPOSITORY}/commits/{ref}"))
    return data["sha"], data["commit"]["committer"]["date"][:10]


def check(spec: bytes) -> dict:
    document = json.loads(spec)
    if not str(document.get("openapi", "")).startswith("3.1") or "paths" not in document:
        raise SystemExit("refresh: this is not an OpenAPI 3.1 description with paths; nothing written")
    return document


def write(folder: Path, spec: bytes, licence: bytes | None, *, commit: str, date: str) -> Path:
    document = check(spec)
    (folder / "openapi.json").write_bytes(spec)
    if licence is not None:
        (folder / "LICENSE").write_bytes(licence)
    source = folder / "SOURCE.toml"
    source.write_text(
        "# Where tests/discord_api/openapi.json comes from (written by refresh.py).\n"
        f'repository = "https://github.com/{REPOSITORY}"\n'
        f'path = "{SPEC_IN_REPOSITORY}"\n'
        f'commit = "{commit}"\n'
        f'date = "{date}"\n'
        f'api_version = "{document.get("info", {}).get("version", "")}"\n'
        f'sha256 = "{hashlib.sha256(spec).hexdigest()}"\n'
        'licence = "MIT (LICENSE, beside this file)"\n',
        encoding="utf-8",
    )
    return source


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ref", default="main", help="commit, tag or branch of discord/discord-api-spec (default: main)")
    p.add_argument("--from-file", type=Path, help="use this openapi.json instead of downloading it")
    p.add_argument("--commit", help="with --from-file: the commit the file comes from")
    p.add_argument("--date", default="", help="with --from-file: the commit's date (YYYY-MM-DD)")
    p.add_argument("--folder", type=Path, default=HERE, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.from_file:
        if not args.commit:
            p.error("--from-file needs --commit (the description's origin is recorded)")
        source = write(args.folder, args.from_file.read_bytes(), None, commit=args.commit, date=args.date)
    else:
        commit, date = resolve(args.ref)
        base = f"https://raw.githubusercontent.com/{REPOSITORY}/{commit}"
        source = write(args.folder, _get(f"{base}/{SPEC_IN_REPOSITORY}"), _get(f"{base}/LICENSE"),
                       commit=commit, date=date)
    print(source.read_text(encoding="utf-8"), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
