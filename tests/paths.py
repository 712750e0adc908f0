"""Where the tests find the repository and their data files, wherever a test module sits in
tests/ (tests/services/, tests/cogs/…): import these rather than counting parents of __file__."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
FIXTURES = TESTS / "fixtures"
