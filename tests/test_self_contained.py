"""A fresh clone has nothing beside it: the suite must not need anything outside the repository.

The copy of Discord's OpenAPI description is the one its SOURCE.toml records, its refresh script
records where a new copy comes from, and a copy of the repository in an empty folder (no
team folder) collects the whole suite and passes an end-to-end test.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tomllib

import pytest

from tests.paths import REPO

API = REPO / "tests" / "discord_api"


def test_the_openapi_copy_is_the_recorded_one_with_its_licence():
    source = tomllib.loads((API / "SOURCE.toml").read_text(encoding="utf-8"))
    spec = (API / "openapi.json").read_bytes()
    assert hashlib.sha256(spec).hexdigest() == source["sha256"]
    assert source["repository"] == "https://github.com/discord/discord-api-spec"
    assert len(source["commit"]) == 40
    assert json.loads(spec)["openapi"].startswith("3.1")
    assert (API / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")


def _refresh(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(API / "refresh.py"), *args], capture_output=True, text=True,
                          timeout=60)


def test_refresh_records_a_new_copy_and_refuses_what_is_not_a_description(tmp_path):
    new = tmp_path / "downloaded.json"
    new.write_text(json.dumps({"openapi": "3.1.0", "info": {"version": "10"}, "paths": {}}))
    done = _refresh("--from-file", str(new), "--commit", "a" * 40, "--date", "2026-11-30", "--folder", str(tmp_path))
    assert done.returncode == 0, done.stderr
    recorded = tomllib.loads((tmp_path / "SOURCE.toml").read_text(encoding="utf-8"))
    assert recorded["commit"] == "a" * 40 and recorded["date"] == "2026-11-30"
    assert recorded["sha256"] == hashlib.sha256(new.read_bytes()).hexdigest()
    assert (tmp_path / "openapi.json").read_bytes() == new.read_bytes()

    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"swagger": "2.0"}))
    refused = _refresh("--from-file", str(wrong), "--commit", "b" * 40, "--folder", str(tmp_path))
    assert refused.returncode != 0 and "OpenAPI 3.1" in refused.stderr
    assert tomllib.loads((tmp_path / "SOURCE.toml").read_text(encoding="utf-8"))["commit"] == "a" * 40


def _tracked_files() -> list[str]:
    """What a clone of this working tree holds: tracked and new files, without ignored ones."""
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=REPO,
                         capture_output=True, text=True, check=True).stdout
    return [name for name in out.split("\0") if name and (REPO / name).is_file()]


@pytest.mark.skipif(shutil.which("git") is None or not (REPO / ".git").exists(), reason="needs a git checkout")
def test_a_clone_in_an_empty_folder_collects_the_suite_and_passes_an_end_to_end_test(tmp_path):
    clone = tmp_path / "empty" / "reseau-bot"
    for name in _tracked_files():
        target = clone / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)
    assert sorted(p.name for p in clone.parent.iterdir()) == ["reseau-bot"]  # nothing beside it
    # On SQLite: the clone's session fixture would otherwise reset this run's PostgreSQL database.
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISCORD_OPENAPI_PATH", "PYTHONPATH", "RESEAU_TEST_DATABASE_URL")
           and not k.startswith(("PYTEST_XDIST", "PYTEST_CURRENT"))}
    env["PYTHONPATH"] = str(clone)  # the clone's code, not this checkout's editable install

    where = subprocess.run([sys.executable, "-c", "import bot, tests.discord_openapi as o; "
                            "print(bot.__file__); print(o.default_spec_path())"],
                           cwd=clone, env=env, capture_output=True, text=True, timeout=60)
    assert where.returncode == 0, where.stderr
    assert all(line.startswith(str(clone)) for line in where.stdout.split()), where.stdout

    collected = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "-n", "0"],
                               cwd=clone, env=env, capture_output=True, text=True, timeout=300)
    assert collected.returncode == 0, collected.stdout[-3000:] + collected.stderr[-3000:]
    assert " error" not in collected.stdout.splitlines()[-1]
    assert int(collected.stdout.splitlines()[-1].split()[0]) > 400  # "N tests collected"

    e2e = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0",
         "tests/cogs/test_foundation_e2e.py::test_help_in_french_for_a_french_member"],
        cwd=clone, env=env, capture_output=True, text=True, timeout=300,
    )
    assert e2e.returncode == 0, e2e.stdout[-3000:] + e2e.stderr[-3000:]
    assert "1 passed" in e2e.stdout
