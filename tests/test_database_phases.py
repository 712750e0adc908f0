"""CI runs the suite twice, on SQLite then on PostgreSQL; the second run keeps only the tests that
touch a database (``tests/conftest.py``): a test asking for ``database_url``, or one whose module
reads ``PG_URL``.  Checked by collecting two files as the PostgreSQL run would (nothing connects
while collecting)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.paths import REPO

FILES = ["tests/test_layers.py", "tests/cli/test_shard_claims.py", "tests/services/test_exports_database_lines.py"]


def collect(**env: str) -> list[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("RESEAU_TEST", "PYTEST_XDIST"))}
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-n", "0", "-p", "no:cacheprovider", *FILES],
        cwd=REPO, env={**clean, **env}, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return [line for line in out.stdout.splitlines() if "::" in line]


def test_the_postgresql_run_keeps_only_the_tests_that_touch_a_database():
    url = "postgresql+asyncpg://nobody@127.0.0.1:9/reseau_unused"
    everything = collect()
    on_postgresql = collect(RESEAU_TEST_DATABASE_URL=url)
    assert {test.split("::")[0] for test in everything} == set(FILES)
    kept = {test.split("::")[0] for test in on_postgresql}
    assert kept == {"tests/cli/test_shard_claims.py", "tests/services/test_exports_database_lines.py"}
    assert [t for t in everything if not t.startswith("tests/test_layers.py")] == on_postgresql
    assert collect(RESEAU_TEST_DATABASE_URL=url, RESEAU_TEST_EVERYTHING="1") == everything
