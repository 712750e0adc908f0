"""The catalogue: every string in French and English with the same placeholders, and the
locale rule (French for fr*, English otherwise, the configured default when unknown)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import discord
import pytest

from bot.i18n import LANGUAGES, Catalogue, lang_of, placeholders

REPO = Path(__file__).resolve().parents[1]


def test_every_entry_has_both_languages_and_same_placeholders():
    catalogue = Catalogue.load()
    assert len(catalogue.entries) > 20
    for key, entry in catalogue.entries.items():
        assert set(entry) == set(LANGUAGES), key
        assert entry["fr"].strip() and entry["en"].strip(), key
        assert placeholders(entry["fr"]) == placeholders(entry["en"]), key


def test_every_key_used_in_code_exists():
    """String literals that look like catalogue keys passed to t()/errors must exist."""
    catalogue = Catalogue.load()
    pattern = re.compile(r"^[a-z_]+(\.[a-z0-9_]+)+$")
    missing = []
    for path in [*REPO.glob("bot/**/*.py"), *REPO.glob("cogs/**/*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            first = node.args[0]
            if name in {"t", "both"} or name.endswith(("Error", "Input", "Found", "Forbidden", "Conflict")):
                if isinstance(first, ast.Constant) and isinstance(first.value, str) and pattern.match(first.value):
                    if not catalogue.has(first.value):
                        missing.append(f"{path.relative_to(REPO)}:{node.lineno} {first.value}")
    assert missing == []


@pytest.mark.parametrize(
    ("locale", "expected"),
    [(discord.Locale.french, "fr"), ("fr", "fr"), (discord.Locale.american_english, "en"),
     (discord.Locale.german, "en"), (None, "fr"), ("", "fr")],
)
def test_locale_rule(locale, expected):
    assert lang_of(locale, default="fr") == expected


def test_default_language_is_configurable():
    assert lang_of(None, default="en") == "en"
    assert Catalogue.load(default_lang="en").t("error.forbidden") == "You are not allowed to do that."


def test_formatting_and_unknown_key():
    catalogue = Catalogue.load()
    assert catalogue.t("error.not_found", "fr") == "Introuvable."
    with pytest.raises(KeyError):
        catalogue.t("no.such.key", "fr")
