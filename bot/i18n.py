"""The string catalogue: every sentence a person reads, in French and English.

Strings live in ``bot/locales/*.toml``, one file per feature, each key a table with ``fr`` and
``en``::

    [help]
    title = { fr = "Aide", en = "Help" }

Keys are the dotted path (``help.title``).  Placeholders use ``str.format`` syntax and must be
the same in both languages (a test checks it).  ``Catalogue.t(key, lang, **params)`` formats one.
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

LANGUAGES = ("fr", "en")
LOCALES_DIR = Path(__file__).with_name("locales")


def lang_of(locale: Any, default: str = "fr") -> str:
    """Discord locale (``discord.Locale`` or its string) → our language.

    French for every ``fr*`` locale, English for every other known locale, ``default`` when the
    locale is unknown or missing.
    """
    if locale is None:
        return default
    value = str(getattr(locale, "value", locale)).lower()
    if not value:
        return default
    return "fr" if value.startswith("fr") else "en"


class Catalogue:
    def __init__(self, entries: Mapping[str, Mapping[str, str]], default_lang: str = "fr") -> None:
        self.entries = dict(entries)
        self.default_lang = default_lang

    @classmethod
    def load(cls, directory: Path = LOCALES_DIR, default_lang: str = "fr") -> Catalogue:
        return cls(_load_dir(str(directory)), default_lang)

    def has(self, key: str) -> bool:
        return key in self.entries

    def t(self, key: str, lang: str | None = None, /, **params: Any) -> str:
        lang = lang if lang in LANGUAGES else self.default_lang
        entry = self.entries.get(key)
        if entry is None:
            raise KeyError(f"missing catalogue key {key!r}")
        text = entry[lang]
        return text.format(**params) if params else text

    def both(self, key: str, **params: Any) -> dict[str, str]:
        return {lang: self.t(key, lang, **params) for lang in LANGUAGES}


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@cache
def _load_dir(directory: str) -> dict[str, dict[str, str]]:
    entries: dict[str, dict[str, str]] = {}
    for path in sorted(Path(directory).glob("*.toml")):
        with path.open("rb") as fh:
            data = tomllib.load(fh)
        _flatten(data, "", entries, path)
    return entries


def _flatten(node: Mapping[str, Any], prefix: str, out: dict[str, dict[str, str]], path: Path) -> None:
    for name, value in node.items():
        key = f"{prefix}{name}"
        if not isinstance(value, Mapping):
            raise ValueError(f"{path}: {key} must be a table with fr and en")
        if set(value) == set(LANGUAGES) and all(isinstance(v, str) for v in value.values()):
            if key in out:
                raise ValueError(f"{path}: duplicate catalogue key {key}")
            out[key] = dict(value)
        else:
            _flatten(value, key + ".", out, path)
