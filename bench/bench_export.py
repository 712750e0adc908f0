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
  code and label, text, time) instead of ids — what the file holds, minus the pseudonyms (keyed
  hashes the database cannot compute without being given the key) and the local times.  The
  ids-only query (``answers_statement``, what the XLSX, JSON and wide exports read) is timed too.

Ours has the database write the CSV lines (``ExportRepository.csv_long``): each question's,
option's and respondent's cells computed once in Python into tables of pieces, then one sorted
query joins them to the answers, quotes the texts and writes both times; on SQLite the lines come
back as bytes, on PostgreSQL as ``COPY (SELECT line …) TO STDOUT`` (parallel workers, like the
floor).  With ``--pg-url`` (or ``$RESEAU_BENCH_PG_URL``; **that database is emptied**) the same
rows are copied into PostgreSQL and our export is timed against ``psql``'s ``\\copy (the labels
query) TO file WITH CSV`` — the server's ``COPY … TO STDOUT``.  XLSX (``--formats xlsx``) is
timed against openpyxl's write-only floor: the labels query's rows appended to write-only sheets
and saved.

Prints the times (median of ``--runs``, each side interleaved with the others), the machine, the
peak RSS (``VmHWM``) of the export process with its baseline after imports (flat), and one line
per comparison: ``ratio export-<format>-<database>-<size> <ours / floor> (target …)`` — targets
1.3 on SQLite (CSV and XLSX), 1.2 on PostgreSQL.  Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import random
import resource
import shutil
import sqlite3
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


# --------------------------------------------------------------------------- PostgreSQL copy
async def load_into_pg(db: Path, pg_url: str) -> None:
    """The same rows in PostgreSQL: the database named by ``pg_url`` is emptied, migrated, and
    every table the generator filled is copied from the SQLite file (``COPY … FROM STDIN``)."""
    import asyncpg

    from storage.db import create_engine, upgrade

    engine = create_engine(pg_url)
    async with engine.begin() as conn:
        await conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        await conn.exec_driver_sql("CREATE SCHEMA public")
    await upgrade(engine)
    await engine.dispose()
    src = sqlite3.connect(db)
    pg = await asyncpg.connect(psql_url(pg_url))
    try:
        for table in ("campaigns", "polls", "questions", "options", "answers", "answer_choices"):
            types = dict(await pg.fetch(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = $1", table))
            columns = [row[1] for row in src.execute(f"PRAGMA table_info({table})")]
            convert = [_pg_value(types[c]) for c in columns]
            cursor = src.execute(f"SELECT {', '.join(columns)} FROM {table}")
            while rows := cursor.fetchmany(100_000):
                await pg.copy_records_to_table(
                    table, columns=columns,
                    records=[tuple(f(v) for f, v in zip(convert, row, strict=True)) for row in rows])
            await pg.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                             f"(SELECT coalesce(max(id), 1) FROM {table}))"
                             if "id" in columns else "SELECT 1")
        await pg.execute("VACUUM ANALYZE")
        # The load's pages are written now rather than by the checkpointer during the first runs
        # (server processes at normal priority, beside the votes: bench_loop's first PostgreSQL
        # runs after a load measured them). Needs a superuser or pg_checkpoint; else skipped.
        with contextlib.suppress(asyncpg.InsufficientPrivilegeError):
            await pg.execute("CHECKPOINT")
    finally:
        await pg.close()
        src.close()


def _pg_value(data_type: str):
    def keep(v):
        return v

    if data_type.startswith("timestamp"):
        return lambda v: None if v is None else datetime.fromisoformat(v).replace(tzinfo=UTC)
    if data_type == "boolean":
        return lambda v: None if v is None else bool(v)
    if data_type in ("json", "jsonb"):
        return lambda v: v if v is None or isinstance(v, str) else json.dumps(v)
    return keep


def psql_url(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


# --------------------------------------------------------------------------- the floor
def floor_queries(poll_ids: list[int], dialect: str = "sqlite") -> tuple[str, str]:
    """(labels query, ids query) as SQL of ``dialect``, from our own statement."""
    from sqlalchemy.dialects import postgresql, sqlite

    from storage.models import Answer, Campaign, Option, Poll, Question
    from storage.repositories.exports import ExportRepository

    ours = ExportRepository.answers_statement(poll_ids, dialect)
    labels = (
        ours.with_only_columns(
            Answer.user_id, Answer.member_type, Campaign.name, Poll.id, Poll.title, Question.code, Option.code,
            Option.label, Answer.text, Answer.answered_at,
        )
        .join(Poll, Poll.id == Question.poll_id)
        .join(Campaign, Campaign.id == Poll.campaign_id, isouter=True)
    )
    compiler = sqlite.dialect() if dialect == "sqlite" else postgresql.dialect()

    def sql(stmt) -> str:
        return str(stmt.compile(dialect=compiler, compile_kwargs={"literal_binds": True}))

    return sql(labels), sql(ours)


def time_sqlite3(db: Path, query: str, out: Path) -> float:
    started = time.perf_counter()
    with out.open("wb") as fh:
        subprocess.run(["sqlite3", "-csv", str(db), query], stdout=fh, check=True)
    return time.perf_counter() - started


def time_psql(pg_url: str, query: str, out: Path) -> float:
    """``psql``'s ``\\copy (query) TO 'file' WITH CSV``: the server's COPY streamed to a client file."""
    started = time.perf_counter()
    command = f"\\copy ({' '.join(query.split())}) TO '{out}' WITH (FORMAT csv)"
    subprocess.run(["psql", "-q", "-X", psql_url(pg_url), "-c", command], check=True, capture_output=True)
    return time.perf_counter() - started


def xlsx_floor(db: Path, query: str, out: Path) -> dict:
    """openpyxl's write-only floor, in a child: the labels query's rows (sqlite3 module), the
    answer time as two date-time cells as in ours, appended to write-only sheets of at most
    1,048,575 rows, saved."""
    proc = subprocess.run([sys.executable, __file__, "--xlsx-floor", str(db), str(out), query],
                          capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    return json.loads(proc.stdout.strip().splitlines()[-1])


def xlsx_floor_child(db: str, out: str, query: str) -> None:
    """The rows as typed cells like ours: the answer time as two date-time cells (UTC, local)."""
    from openpyxl import Workbook

    started = time.perf_counter()
    book = Workbook(write_only=True)
    sheet, rows = book.create_sheet("answers"), 0
    cursor = sqlite3.connect(db).execute(query)
    while batch := cursor.fetchmany(20_000):
        for row in batch:
            if rows and rows % 1_048_575 == 0:
                sheet = book.create_sheet(f"answers{rows // 1_048_575 + 1}")
            when = datetime.fromisoformat(row[-1][:19])
            sheet.append((*row[:-1], when, when))
            rows += 1
    book.save(out)
    print(json.dumps({"seconds": time.perf_counter() - started, "rows": rows}))


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


def child(url: str, out: Path, fmt: str) -> None:
    """Export once and print a JSON line: seconds, rows, peak RSS (KiB) and the baseline."""
    from bot.config import build_config
    from bot.services.exports import Exporter, ExportRequest
    from storage.db import create_engine, session_factory

    config = build_config({"database": {"url": url}}, Path("bench.toml"), environ={})
    baseline = peak_rss_kib()

    async def run():
        engine = create_engine(config.database.url)
        try:
            exporter = Exporter(session_factory(engine), config, environ={"RESEAU_EXPORT_SECRET": SECRET})
            started = time.perf_counter()
            result = await exporter.export_to_path(
                ExportRequest(campaign="Enquête membres 2026-2027", format=fmt), out)
            return time.perf_counter() - started, result
        finally:
            await engine.dispose()

    seconds, result = asyncio.run(run())
    peak = peak_rss_kib()
    print(json.dumps({"seconds": seconds, "rows": result.rows, "answers": result.answers,
                      "peak_kib": peak, "baseline_kib": baseline}))


def time_ours(url: str, out: Path, fmt: str = "csv") -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", url, str(out), fmt], capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def runs_text(values: list) -> str:
    """Each run's seconds (a float, or a child's JSON with ``seconds``), in order."""
    return " ".join(f"{v['seconds'] if isinstance(v, dict) else v:.2f}" for v in values)


# --------------------------------------------------------------------------- main
def main() -> None:
    from bench._common import interleaved, median, print_machine, print_ratio

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000], help="answers per run")
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each (median)")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep (and reuse) the generated databases")
    parser.add_argument("--pg-url", default=os.environ.get("RESEAU_BENCH_PG_URL"),
                        help="PostgreSQL URL (its database is EMPTIED); default $RESEAU_BENCH_PG_URL, else no PG")
    parser.add_argument("--formats", nargs="+", default=["csv", "xlsx"], choices=["csv", "xlsx"])
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--xlsx-floor", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), args.child[2])
        return
    if args.xlsx_floor:
        xlsx_floor_child(*args.xlsx_floor)
        return
    if shutil.which("sqlite3") is None:
        sys.exit("the sqlite3 command-line tool is needed for the floor (apt install sqlite3)")
    if args.pg_url and shutil.which("psql") is None:
        sys.exit("the psql client is needed for the PostgreSQL floor")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-export-"))
    workdir.mkdir(parents=True, exist_ok=True)
    labels_sql, ids_sql = floor_queries([1, 2, 3, 4, 5])
    pg_labels_sql, _ = floor_queries([1, 2, 3, 4, 5], "postgresql")
    pg_version = None
    if args.pg_url:
        pg_version = subprocess.run(["psql", "-X", "-A", "-t", psql_url(args.pg_url), "-c", "SHOW server_version"],
                                    capture_output=True, text=True).stdout.strip() or None
    print_machine(pg_version)
    print(f"workdir {workdir}; {args.runs} runs of each side, interleaved; medians")
    ratios: list[str] = []
    try:
        for size in args.sizes:
            db = workdir / f"answers-{size}.db"
            if not (args.keep and db.exists()):
                started = time.perf_counter()
                generate(db, size)
                print(f"\n{size:,} answers: generated {db.name} ({db.stat().st_size / 2**20:.0f} MiB) "
                      f"in {time.perf_counter() - started:.1f} s", flush=True)
            else:
                print(f"\n{size:,} answers: reusing {db.name}", flush=True)
            url = f"sqlite+aiosqlite:///{db}"
            floor_out, ours_out = workdir / "floor.csv", workdir / "ours.csv"
            tag = f"{size // 1000}k" if size < 1_000_000 else f"{size / 1_000_000:g}M"
            if "csv" in args.formats:
                time_sqlite3(db, labels_sql, floor_out)  # warm the page cache
                res = interleaved([
                    ("floor", functools.partial(time_sqlite3, db, labels_sql, floor_out)),
                    ("floor_ids", functools.partial(time_sqlite3, db, ids_sql, workdir / "floor-ids.csv")),
                    ("ours", functools.partial(time_ours, url, ours_out)),
                ], runs=args.runs)
                floor, floor_ids = median(res["floor"]), median(res["floor_ids"])
                ours = median([r["seconds"] for r in res["ours"]])
                peak = max(r["peak_kib"] for r in res["ours"]) / 1024
                baseline = min(r["baseline_kib"] for r in res["ours"]) / 1024
                floor_rows = sum(1 for _ in floor_out.open("rb"))
                print(f"  SQLite, CSV long: rows ours {res['ours'][0]['rows']:,} (+ header), floor {floor_rows:,}")
                print(f"    floor  sqlite3 -csv (labels): {floor:6.2f} s  ({floor_out.stat().st_size / 2**20:.0f} MiB)"
                      f"  runs {runs_text(res['floor'])}")
                print(f"    floor  sqlite3 -csv (ids)   : {floor_ids:6.2f} s")
                print(f"    ours   Exporter CSV long    : {ours:6.2f} s  ({ours_out.stat().st_size / 2**20:.0f} MiB)"
                      f"  runs {runs_text(res['ours'])}")
                print(f"    peak RSS of the export process: {peak:.0f} MiB (after imports {baseline:.0f} MiB, "
                      f"export itself +{peak - baseline:.0f} MiB)")
                ratios.append(print_ratio(f"export-csv-sqlite-{tag}", ours / floor, 1.3))
            if "csv" in args.formats and args.pg_url:
                started = time.perf_counter()
                asyncio.run(load_into_pg(db, args.pg_url))
                print(f"  PostgreSQL: loaded in {time.perf_counter() - started:.1f} s", flush=True)
                time_psql(args.pg_url, pg_labels_sql, floor_out)  # warm the buffers
                res = interleaved([
                    ("floor", functools.partial(time_psql, args.pg_url, pg_labels_sql, floor_out)),
                    ("ours", functools.partial(time_ours, args.pg_url, ours_out)),
                ], runs=args.runs)
                floor, ours = median(res["floor"]), median([r["seconds"] for r in res["ours"]])
                print(f"    floor  psql \\copy (labels) CSV: {floor:6.2f} s  "
                      f"runs {runs_text(res['floor'])}")
                print(f"    ours   Exporter CSV long      : {ours:6.2f} s  "
                      f"runs {runs_text(res['ours'])}; peak RSS "
                      f"{max(r['peak_kib'] for r in res['ours']) / 1024:.0f} MiB")
                ratios.append(print_ratio(f"export-csv-pg-{tag}", ours / floor, 1.2))
            if "xlsx" in args.formats:
                xlsx_out, floor_xlsx = workdir / "ours.xlsx", workdir / "floor.xlsx"
                res = interleaved([
                    ("floor", functools.partial(xlsx_floor, db, labels_sql, floor_xlsx)),
                    ("ours", functools.partial(time_ours, url, xlsx_out, "xlsx")),
                ], runs=args.runs)
                floor, ours = median([r["seconds"] for r in res["floor"]]), median([r["seconds"] for r in res["ours"]])
                print(f"  SQLite, XLSX long: rows ours {res['ours'][0]['rows']:,}, floor {res['floor'][0]['rows']:,}")
                print(f"    floor  openpyxl write-only (labels rows): {floor:6.2f} s "
                      f"({floor_xlsx.stat().st_size / 2**20:.0f} MiB)")
                print(f"    ours   Exporter XLSX long              : {ours:6.2f} s "
                      f"({xlsx_out.stat().st_size / 2**20:.0f} MiB); peak RSS "
                      f"{max(r['peak_kib'] for r in res['ours']) / 1024:.0f} MiB")
                ratios.append(print_ratio(f"export-xlsx-sqlite-{tag}", ours / floor, 1.3))
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print("\n=== summary ===")
    for line in ratios:
        print(line)


if __name__ == "__main__":
    main()
