"""Small at rest (issue 15, item 3): the heavy libraries load when first needed, not at start-up.

A quiet day of ``reseau-bot run`` draws no chart, reads no feed, writes no XLSX and runs no
migration, so importing the runtime, the client and every extension it loads must not import
matplotlib, numpy, Pillow, feedparser, BeautifulSoup, Alembic (nor Mako under it) or openpyxl.  A
fresh interpreter is the only honest place to look (this test process has imported them all).
The idle-memory figure itself is measured by ``bench/bench_memory.py``, not here."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.paths import REPO

HEAVY = ("matplotlib", "numpy", "PIL", "feedparser", "bs4", "alembic", "mako", "openpyxl")

_PROBE = """
import importlib, json, sys
import bot.cli, bot.runtime
from bot.client import EXTENSIONS
for name in EXTENSIONS:
    importlib.import_module(name)
{after}
print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r}))))
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
