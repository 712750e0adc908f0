"""The catalogue: every string in French and English with the same placeholders, plural forms
chosen by ``count`` (French: 0 and 1 singular; English: 1), and the locale rule (French for fr*,
English otherwise, the configured default when unknown)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import discord
import pytest

from bot.i18n import LANGUAGES, PLURAL_FORMS, Catalogue, is_plural, lang_of, placeholders, plural_form, texts

REPO = Path(__file__).resolve().parents[1]


def test_every_entry_has_both_languages_and_same_placeholders():
    catalogue = Catalogue.load()
    assert len(catalogue.entries) > 20
    for key, entry in catalogue.entries.items():
        assert set(entry) == set(LANGUAGES), key
        for lang in LANGUAGES:
            if is_plural(entry[lang]):
                assert set(entry[lang]) == set(PLURAL_FORMS), key
            # no empty text (a separator may be a space: French writes 1 234 with a narrow no-break one)
            assert all(text.strip() or (key.startswith("format.") and text) for text in texts(entry[lang])), key
        # the same placeholders in both languages, whatever the form
        assert placeholders(entry["fr"]) == placeholders(entry["en"]), key
        if any(is_plural(entry[lang]) for lang in LANGUAGES):
            assert "count" in placeholders(entry["fr"]), f"{key}: plural forms are chosen by {{count}}"


def _calls(path: Path):
    """(line, function name, first argument, keyword names) of each call with a constant first argument."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                name = getattr(node.func, "attr", getattr(node.func, "id", ""))
                keywords = {k.arg for k in node.keywords}
                if None in keywords:  # **params: cannot tell
                    keywords = set(PLURAL_FORMS) | {"count"}
                yield node.lineno, name, first.value, keywords


def test_every_key_used_in_code_exists():
    """String literals that look like catalogue keys passed to t()/errors must exist."""
    catalogue = Catalogue.load()
    pattern = re.compile(r"^[a-z_]+(\.[a-z0-9_]+)+$")
    missing = []
    for path in [*REPO.glob("bot/**/*.py"), *REPO.glob("cogs/**/*.py")]:
        for line, name, key, _ in _calls(path):
            if name in {"t", "both"} or name.endswith(("Error", "Input", "Found", "Forbidden", "Conflict")):
                if pattern.match(key) and not catalogue.has(key):
                    missing.append(f"{path.relative_to(REPO)}:{line} {key}")
    assert missing == []


def test_every_plural_entry_used_in_code_is_given_a_count():
    catalogue = Catalogue.load()
    plural = {key for key, entry in catalogue.entries.items() if any(is_plural(v) for v in entry.values())}
    assert {"delivery.served", "extracts.confirm", "status.channels"} <= plural
    without = [
        f"{path.relative_to(REPO)}:{line} {key}"
        for path in [*REPO.glob("bot/**/*.py"), *REPO.glob("cogs/**/*.py")]
        for line, name, key, keywords in _calls(path)
        if name in {"t", "both"} and key in plural and "count" not in keywords
    ]
    assert without == []


def test_no_text_hedges_a_plural_with_parentheses():
    """« salon(s) servi(s) » is what plural entries are for."""
    catalogue = Catalogue.load()
    hedged = [
        key for key, entry in catalogue.entries.items()
        for value in entry.values() for text in texts(value)
        if re.search(r"\w\((s|x|es)\)", text) and not key.startswith(("cli.", "check.", "init.", "demo."))
    ]
    assert hedged == []


@pytest.mark.parametrize(
    ("lang", "count", "form"),
    [("fr", 0, "one"), ("fr", 1, "one"), ("fr", 2, "other"), ("fr", 1000, "other"), ("fr", 1.5, "one"),
     ("en", 0, "other"), ("en", 1, "one"), ("en", 2, "other"), ("en", -1, "one")],
)
def test_plural_rule(lang, count, form):
    assert plural_form(lang, count) == form


def test_plural_entry_is_chosen_by_count(tmp_path):
    (tmp_path / "x.toml").write_text(
        '[x]\nchannels = { fr = { one = "{count} salon servi", other = "{count} salons servis" }, '
        'en = { one = "{count} channel served", other = "{count} channels served" } }\n'
        'mixed = { fr = { one = "… et {count} autre", other = "… et {count} autres" }, en = "… and {count} more" }\n',
        encoding="utf-8",
    )
    catalogue = Catalogue.load(tmp_path)
    assert [catalogue.t("x.channels", "fr", count=n) for n in (0, 1, 2)] == [
        "0 salon servi", "1 salon servi", "2 salons servis"
    ]
    assert [catalogue.t("x.channels", "en", count=n) for n in (0, 1, 2)] == [
        "0 channels served", "1 channel served", "2 channels served"
    ]
    assert catalogue.t("x.mixed", "fr", count=3) == "… et 3 autres" and catalogue.t("x.mixed", "en", count=1) == "… and 1 more"
    assert catalogue.both("x.channels", count=1) == {"fr": "1 salon servi", "en": "1 channel served"}
    with pytest.raises(KeyError, match="count"):
        catalogue.t("x.channels", "fr")


def test_a_malformed_plural_table_is_refused(tmp_path):
    (tmp_path / "x.toml").write_text(
        '[x]\nchannels = { fr = { one = "{count} salon" }, en = { one = "{count} channel", other = "{count} channels" } }\n',
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="x.channels"):
        Catalogue.load(tmp_path)


def test_real_plural_texts():
    catalogue = Catalogue.load()
    assert catalogue.t("delivery.served", "fr", count=2) == "2 salons servis"
    assert catalogue.t("delivery.served", "en", count=1) == "1 channel served"
    assert catalogue.t("delivery.failed_title", "fr", count=1) == "⚠️ 1 publication n’a pas pu être postée :"


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
