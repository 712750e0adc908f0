"""Export benchmark: 1,000,000 generated answers to CSV (long layout) against the sqlite3 floor.

Run from the repository root::

    python bench/bench_export.py                  # 100k and 1M answers (a few minutes)
    python bench/bench_export.py --sizes 200000   # one size
    python bench/bench_export.py --keep --workdir /tmp/bench-export   # reuse the generated files

For each size it generates a survey campaign into a SQLite file (schema by the Alembic
migrations, rows by the ``sqlite3`` module in one transaction: 5 polls, 10 questions — single,
multi, yes/no, Likert, text —, every respondent answers every question, 1 % of the answers
unlinked), then times:

- **ours**: ``Exporter.export_to_path`` (CSV, long layout, pseudonymised respondents, local
  times), in a child process so that its peak RSS (``ru_maxrss``) is its own;
- **floor**: the ``sqlite3`` command-line tool writing the same joined rows as CSV
  (``sqlite3 -csv db "SELECT … JOIN … ORDER BY …" > file``): the same joins, filter and order as
  our query, selecting the human-readable columns (campaign, poll title, question code, option
  code and label, text, time) instead of ids — what the file holds, minus the hashing and the
  time zone work the database cannot do.  The ids-only query (exactly ours) is timed too.

Prints the times (median of ``--runs``, ours and the floor interleaved), the ratio (target ≤ 2),
and the peak RSS (``VmHWM``) of the export process at each size with its baseline after imports
(target < 200 MB, flat).  Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SECRET = "benchmark secret, not a real one"
QUESTIONS_PER_RESPONDENT = 10
# (poll, code, kind, options, max choices)
SURVEY = [
    (0, "besoin", "single", ["formation", "financement", "reseau", "plaidoyer", "autre"], 1),
    (0, "themes", "multi", ["climat", "sante", "education", "eau", "genre", "agriculture"], 3),
    (1, "satisfaction", "likert", ["l1", "l2", "l3", "l4", "l5"], 1),
    (1, "avis", "text", [], 1),
    (2, "accompagnement", "yesno", ["oui", "non", "abstention"], 1),
    (2, "outils", "multi", ["discord", "newsletter", "webinaires", "rencontres", "site"], 3),
    (3, "frequence", "single", ["mensuel", "trimestriel", "annuel"], 1),
    (3, "commentaire", "text", [], 1),
    (4, "recommander", "likert", ["l1", "l2", "l3", "l4", "l5"], 1),
    (4, "priorite", "single", ["local", "national", "international"], 1),
]
MEMBER_TYPES = ["collectivite", "reseau", "ong", "entreprise", "institution", None]
TEXTS = [
    "Plus d’échanges entre collectivités territoriales",
    "Des webinaires courts, en fin de journée",
    "Merci pour le travail du réseau ; continuer ainsi",
    "Mieux relayer les appels à projets européens",
    "Un annuaire des membres par thématique",
]


# --------------------------------------------------------------------------- generation
def generate(path: Path, answers: int, seed: int = 2026) -> int:
    """A migrated SQLite file with ``answers`` answers; returns the number of export rows."""
    from storage.db import create_engine, upgrade

    if path.exists():
        path.unlink()

    async def migrate() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        await upgrade(engine)
        await engine.dispose()

    asyncio.run(migrate())
    rng = random.Random(seed)
    db = sqlite3.connect(path)
    db.execute("PRAGMA synchronous=OFF")
    now = "2026-01-01 00:00:00.000000"
    with db:
        db.execute("INSERT INTO campaigns (id, name, active, created_at) VALUES (1, 'Enquête membres 2026-2027', 1, ?)",
                   (now,))
        for poll in range(5):
            db.execute(
                "INSERT INTO polls (id, guild_id, channel_id, author_id, campaign_id, title, native, anonymous, "
                "live_results, allowed_role_ids, lang, status, reminder_sent, created_at) "
                "VALUES (?, 1, 2, 3, 1, ?, 0, 1, 1, '[]', 'fr', 'closed', 0, ?)",
                (poll + 1, f"Sondage {poll + 1} de l’enquête", now),
            )
        options: dict[int, list[int]] = {}
        option_id = 0
        for qid, (poll, code, kind, codes, max_choices) in enumerate(SURVEY, start=1):
            position = sum(1 for p, *_ in SURVEY[: qid - 1] if p == poll)
            db.execute(
                "INSERT INTO questions (id, poll_id, position, code, text, kind, max_choices) VALUES (?,?,?,?,?,?,?)",
                (qid, poll + 1, position, code, f"Question « {code} » ?", kind, max_choices),
            )
            options[qid] = []
            for pos, oc in enumerate(codes):
                option_id += 1
                db.execute("INSERT INTO options (id, question_id, position, code, label) VALUES (?,?,?,?,?)",
                           (option_id, qid, pos, oc, oc.capitalize()))
                options[qid].append(option_id)

        start = datetime(2026, 1, 1, tzinfo=UTC)
        rows = 0
        choices: list[tuple[int, int]] = []

        def answer_rows():
            nonlocal rows
            respondents = answers // QUESTIONS_PER_RESPONDENT
            answer_id = 0
            for r in range(respondents):
                user_id = 400_000_000_000_000_000 + r * 7919
                member_type = MEMBER_TYPES[r % len(MEMBER_TYPES)]
                base = start + timedelta(seconds=rng.randrange(365 * 86400))
                for qid, (_poll, _code, kind, _codes, max_choices) in enumerate(SURVEY, start=1):
                    answer_id += 1
                    at = (base + timedelta(seconds=qid * 37)).strftime("%Y-%m-%d %H:%M:%S.%f")
                    unlinked = rng.random() < 0.01
                    text = rng.choice(TEXTS) if kind == "text" else None
                    if kind == "text":
                        rows += 1
                    else:
                        picked = rng.sample(options[qid], rng.randint(1, max_choices))
                        choices.extend((answer_id, o) for o in picked)
                        rows += len(picked)
                    yield (answer_id, qid, None if unlinked else user_id, member_type, text, at, at)

        db.executemany(
            "INSERT INTO answers (id, question_id, user_id, member_type, text, answered_at, updated_at) "
            "VALUES (?,?,?,?,?,?,?)",
            answer_rows(),
        )
        db.executemany("INSERT INTO answer_choices (answer_id, option_id) VALUES (?,?)", choices)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return rows


# --------------------------------------------------------------------------- the floor
def floor_queries(poll_ids: list[int]) -> tuple[str, str]:
    """(labels query, ids query) as SQLite SQL, from our own statement."""
    from sqlalchemy.dialects import sqlite

    from storage.models import Answer, Campaign, Option, Poll, Question
    from storage.repositories.exports import ExportRepository

    ours = ExportRepository.answers_statement(poll_ids)
    labels = (
        ours.with_only_columns(
            Answer.user_id, Answer.member_type, Campaign.name, Poll.id, Poll.title, Question.code, Option.code,
            Option.label, Answer.text, Answer.answered_at,
        )
        .join(Poll, Poll.id == Question.poll_id)
        .join(Campaign, Campaign.id == Poll.campaign_id, isouter=True)
    )

    def sql(stmt) -> str:
        return str(stmt.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))

    return sql(labels), sql(ours)


def time_sqlite3(db: Path, query: str, out: Path) -> float:
    started = time.perf_counter()
    with out.open("wb") as fh:
        subprocess.run(["sqlite3", "-csv", str(db), query], stdout=fh, check=True)
    return time.perf_counter() - started


# --------------------------------------------------------------------------- ours, in a child
def peak_rss_kib() -> int:
    """This process's resident-set high-water mark, in KiB.

    ``VmHWM`` (Linux) belongs to the process's own address space; ``ru_maxrss`` is the fallback
    elsewhere — on Linux it survives ``exec`` and would report the parent's peak (the generator's
    lists) instead of the export's."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(db: Path, out: Path) -> None:
    """Export once and print a JSON line: seconds, rows, peak RSS (KiB) and the baseline."""
    from bot.config import build_config
    from bot.services.exports import Exporter, ExportRequest
    from storage.db import create_engine, session_factory

    config = build_config({"database": {"url": f"sqlite+aiosqlite:///{db}"}}, Path("bench.toml"), environ={})
    baseline = peak_rss_kib()

    async def run():
        engine = create_engine(config.database.url)
        try:
            exporter = Exporter(session_factory(engine), config, environ={"RESEAU_EXPORT_SECRET": SECRET})
            started = time.perf_counter()
            result = await exporter.export_to_path(ExportRequest(campaign="Enquête membres 2026-2027"), out)
            return time.perf_counter() - started, result
        finally:
            await engine.dispose()

    seconds, result = asyncio.run(run())
    peak = peak_rss_kib()
    print(json.dumps({"seconds": seconds, "rows": result.rows, "answers": result.answers,
                      "peak_kib": peak, "baseline_kib": baseline}))


def time_ours(db: Path, out: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", str(db), str(out)], capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000], help="answers per run")
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each (median)")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep (and reuse) the generated databases")
    parser.add_argument("--child", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    if shutil.which("sqlite3") is None:
        sys.exit("the sqlite3 command-line tool is needed for the floor (apt install sqlite3)")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-export-"))
    workdir.mkdir(parents=True, exist_ok=True)
    labels_sql, ids_sql = floor_queries([1, 2, 3, 4, 5])
    print(f"sqlite3 {subprocess.run(['sqlite3', '--version'], capture_output=True, text=True).stdout.split()[0]}, "
          f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs; workdir {workdir}")
    summary = []
    try:
        for size in args.sizes:
            db = workdir / f"answers-{size}.db"
            if not (args.keep and db.exists()):
                started = time.perf_counter()
                generate(db, size)
                print(f"\n{size:,} answers: generated {db.name} ({db.stat().st_size / 2**20:.0f} MiB) "
                      f"in {time.perf_counter() - started:.1f} s")
            else:
                print(f"\n{size:,} answers: reusing {db.name}")
            floor_out, ours_out = workdir / "floor.csv", workdir / "ours.csv"
            time_sqlite3(db, labels_sql, floor_out)  # warm the page cache
            floors, floors_ids, runs = [], [], []
            for _ in range(args.runs):  # interleaved, so that a busy machine weighs on both
                floors.append(time_sqlite3(db, labels_sql, floor_out))
                floors_ids.append(time_sqlite3(db, ids_sql, workdir / "floor-ids.csv"))
                runs.append(time_ours(db, ours_out))
            floor, floor_ids = statistics.median(floors), statistics.median(floors_ids)
            ours = statistics.median(r["seconds"] for r in runs)
            peak = max(r["peak_kib"] for r in runs) / 1024
            baseline = min(r["baseline_kib"] for r in runs) / 1024
            rows = runs[0]["rows"]
            floor_rows = sum(1 for _ in floor_out.open("rb"))
            print(f"  rows: ours {rows:,} (+ header), floor {floor_rows:,} lines")
            print(f"  floor  sqlite3 -csv (labels): {floor:6.2f} s   ({floor_out.stat().st_size / 2**20:.0f} MiB)")
            print(f"  floor  sqlite3 -csv (ids)   : {floor_ids:6.2f} s")
            print(f"  ours   Exporter CSV long    : {ours:6.2f} s   ({ours_out.stat().st_size / 2**20:.0f} MiB)"
                  f"   ratio {ours / floor:.2f} (target ≤ 2)")
            print(f"  peak RSS of the export process: {peak:.0f} MiB (after imports: {baseline:.0f} MiB; "
                  f"export itself +{peak - baseline:.0f} MiB)")
            summary.append((size, ours, floor, peak, baseline))
        if len(summary) > 1:
            print("\nflatness: " + ", ".join(f"{s:,} answers → {p:.0f} MiB peak" for s, _, _, p, _ in summary))
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
