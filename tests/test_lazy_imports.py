"""Small at rest (issue 15, item 3): the heavy libraries load when first needed, not at start-up.

A quiet day of ``reseau-bot run`` draws no chart, reads no feed, writes no XLSX and runs no
migration, so importing the runtime, the client and every extension it loads must not import
matplotlib, numpy, Pillow, feedparser, BeautifulSoup, Alembic (nor Mako under it), openpyxl,
httpx (built at the first URL fetched), prometheus_client (imported at the first scrape: the
process's metrics are counted in plain Python until then), nor SQLAlchemy, the models and the
repositories (the first real work loads them; the start-up reads through ``storage.plain``).  A
fresh interpreter is the only honest place to look (this test process has imported them all).
The idle-memory figure itself is measured by ``bench/bench_memory.py``, not here."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.paths import REPO

HEAVY = ("matplotlib", "numpy", "PIL", "feedparser", "bs4", "alembic", "mako", "openpyxl", "httpx", "httpcore",
         "prometheus_client",
         # our own code a quiet day does not run: the exports (built at the first /export), the
         # checks and the CLI-only modules (``run`` loads no feature module of the CLI)
         "bot.services.exports", "bot.services.check", "bot.export_cli", "bot.init_cli",
         # … the dashboard's services (/dashboard, the web pages), /status, the extract parsers
         "bot.services.dashboard", "bot.services.status", "bot.services.extract_sources",
         # SQLAlchemy, the models and the repositories (half of the bot's memory at rest): loaded
         # by the first real work; the start-up reads through storage.plain
         # (tests/cli/test_quiet_start.py runs the bot and looks)
         "sqlalchemy", "storage.models", "storage.repositories",
         # PostgreSQL's SQLAlchemy dialect (~2 MiB), imported by the engine of a PostgreSQL URL only
         "sqlalchemy.dialects.postgresql")

_PROBE = """
import importlib, json, sys
import bot.cli, bot.runtime
bot.cli._load_features(["--config", "config.toml", "run"])  # what ``reseau-bot run`` imports for its parser
from bot.client import EXTENSIONS
for name in EXTENSIONS:
    importlib.import_module(name)
from bot.metrics import Metrics
metrics = Metrics()  # the bot's, counting while nobody scrapes
metrics.vote_stored("single", 0.004)
metrics.delivered(sent=1)
metrics.takeovers.inc()
{after}
print(json.dumps(sorted(({{m.split('.')[0] for m in sys.modules}} | set(sys.modules)) & set({heavy!r}))))
"""


def _heavy_loaded(after: str = "") -> list[str]:
    code = _PROBE.format(after=after, heavy=HEAVY)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_runtime_and_its_extensions_import_no_heavy_library():
    assert _heavy_loaded() == []


def test_the_probe_sees_a_heavy_library_once_a_chart_is_drawn():
    """The same probe, after drawing a chart, finds matplotlib: the check above can fail."""
    loaded = _heavy_loaded("from bot.services.charts import results_chart; results_chart('t', ['a'], [1])")
    assert "matplotlib" in loaded and "numpy" in loaded


def test_the_probe_sees_postgresqls_dialect_once_an_upsert_is_built_for_it():
    loaded = _heavy_loaded("from storage.repositories.polls import _answer_upsert\n"
                           "_answer_upsert('postgresql', from_profile=True, set_text=False)")
    assert loaded == ["sqlalchemy", "sqlalchemy.dialects.postgresql", "storage.models", "storage.repositories"]


def test_the_probe_sees_prometheus_client_once_the_metrics_are_scraped():
    assert "prometheus_client" in _heavy_loaded("metrics.exposition()")


def test_the_probe_sees_httpx_once_the_bot_fetches_a_url():
    """The bot's services build their one ``httpx`` client at its first use (its TLS context
    with it), from the fetch timeouts of the configuration."""
    after = ("from bot.config import build_config\nfrom bot.runtime import build_services\n"
             "services = build_services(build_config({}, None, environ={}))\n"
             "assert 'httpx' not in sys.modules\n"
             "client = services.http_client\n"
             "assert client is services.http_client and client.timeout.read == services.config.fetch.read_timeout")
    assert {"httpx", "httpcore"} <= set(_heavy_loaded(after))


def test_counted_metrics_read_as_prometheus_counts_them():
    """The plain-Python counts give what ``prometheus_client``'s own counter and histogram give."""
    from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

    from bot.metrics import VOTE_BUCKETS, Metrics

    ours, registry = Metrics(), CollectorRegistry()
    votes = Counter("reseau_votes", "Votes (clicks, selections, answers) stored", ["kind"], registry=registry)
    latency = Histogram("reseau_vote_latency_seconds", "From the interaction's arrival to the answer stored",
                        buckets=VOTE_BUCKETS, registry=registry)
    for kind, seconds in (("single", 0.0005), ("single", 0.001), ("multi", 0.3), ("single", 9.0), ("multi", -1.0)):
        ours.vote_stored(kind, seconds)
        votes.labels(kind).inc()
        latency.observe(max(seconds, 0.0))

    def lines(text: bytes) -> set[str]:
        return {line for line in text.decode().splitlines()
                if line.startswith(("reseau_votes", "reseau_vote_latency")) and "_created" not in line}

    assert lines(ours.exposition()) == lines(generate_latest(registry))
    assert len(lines(ours.exposition())) == 2 + 13 + 2  # two kinds; 12 buckets and +Inf; count and sum


def test_the_probe_sees_the_export_code_once_an_export_is_asked_for():
    after = ("from bot.config import build_config\nfrom bot.runtime import build_services\n"
             "services = build_services(build_config({}, None, environ={}))\n"
             "assert 'bot.services.exports' not in sys.modules\n"
             "assert services.exports is services.exports")
    assert "bot.services.exports" in _heavy_loaded(after)


def test_every_other_command_loads_the_cli_features():
    loaded = _heavy_loaded("bot.cli._load_features(['export', '--poll', '1', '-o', 'x.csv'])")
    assert {"bot.export_cli", "bot.init_cli", "bot.services.exports"} <= set(loaded)


def test_head_revision_read_without_alembic_agrees_with_alembic():
    from alembic.script import ScriptDirectory

    from storage.db import alembic_config, head_revision

    assert head_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head()


async def test_current_revision_read_without_alembic_agrees_with_alembic(tmp_path):
    from alembic.runtime.migration import MigrationContext

    from storage.db import create_engine, current_revision, upgrade

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'r.db'}")
    try:
        assert await current_revision(engine) is None  # empty database: no alembic_version table
        await upgrade(engine, "0002")
        async with engine.connect() as conn:
            theirs = await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())
        assert await current_revision(engine) == theirs == "0002"
    finally:
        await engine.dispose()


def test_the_command_is_found_wherever_the_config_option_stands():
    from bot.cli import _command_of

    assert _command_of(["run"]) == "run"
    assert _command_of(["--config", "run", "export"]) == "export"  # a config file named "run"
    assert _command_of(["--config=c.toml", "run", "--web"]) == "run"
    assert _command_of(["--config", "c.toml"]) is None
    assert _command_of(["--", "run"]) is None
