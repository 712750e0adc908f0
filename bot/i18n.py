"""The string catalogue: every sentence a person reads, in French and English.

Strings live in ``bot/locales/*.toml``, one file per feature, each key a table with ``fr`` and
``en``::

    [help]
    title = { fr = "Aide", en = "Help" }

Keys are the dotted path (``help.title``).  Placeholders use ``str.format`` syntax and must be
the same in both languages (a test checks it).  ``Catalogue.t(key, lang, **params)`` formats one.

A text that depends on a number gives, per language, a table of plural forms ``one`` and
``other``; ``t()`` picks the form from its ``count`` parameter (required for such an entry)::

    channels = { fr = { one = "{count} salon servi", other = "{count} salons servis" },
                 en = { one = "{count} channel served", other = "{count} channels served" } }

French uses ``one`` for 0 and 1, English for 1 only (:func:`plural_form`, CLDR's rules for
whole numbers).

Every other language rule is data in a locale file too, read by one method: numbers
(:meth:`Catalogue.number`, separators from ``format.decimal`` / ``format.thousands``), quotes
(:meth:`Catalogue.quote`), « label : value » (:meth:`Catalogue.label_value`), month names
(:meth:`Catalogue.month`), dates in words (:meth:`Catalogue.moment`).  Code outside this module
never branches on a language.
"""

from __future__ import annotations

import re
import string
import tomllib
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from functools import cache
from pathlib import Path
from typing import Any

LANGUAGES = ("fr", "en")
PLURAL_FORMS = ("one", "other")

# What an entry holds for one language: a text, or its plural forms.
Text = str | Mapping[str, str]
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


# The Discord locale a simulated member of each language uses (the inverse of :func:`lang_of`).
DISCORD_LOCALES = {"fr": "fr", "en": "en-US"}

_ISO_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def discord_locale(lang: str) -> str:
    """Our language → a Discord locale of that language (``"en"`` → ``"en-US"``)."""
    return DISCORD_LOCALES.get(lang, DISCORD_LOCALES["en"])


def plural_form(lang: str, count: int | float) -> str:
    """CLDR's plural category of ``count`` in ``lang``: French says « 0 salon », « 1 salon »,
    « 2 salons »; English « 0 channels », « 1 channel », « 2 channels »."""
    n = abs(count)
    if lang == "fr":
        return "one" if n < 2 else "other"
    return "one" if n == 1 else "other"


def is_plural(value: Any) -> bool:
    return isinstance(value, Mapping)


def texts(value: Text) -> list[str]:
    """Every text of one language's value: the text itself, or each of its plural forms."""
    return [value[form] for form in PLURAL_FORMS] if is_plural(value) else [value]  # type: ignore[index]


#: Parameters that are quantities, written with the language's thousands separator (« 1 095 jours »,
#: "1,095 days"); ids and years are never named so.
QUANTITIES = ("count", "days", "total", "answers", "profiles", "sent")


class Catalogue:
    def __init__(self, entries: Mapping[str, Mapping[str, Text]], default_lang: str = "fr") -> None:
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
        if is_plural(text):
            if "count" not in params:
                raise KeyError(f"catalogue key {key!r} has plural forms: pass count=")
            text = text[plural_form(lang, params["count"])]  # type: ignore[index]
        if not params:
            return text  # type: ignore[return-value]
        quantities = {name: self.number(params[name], lang) for name in QUANTITIES
                      if type(params.get(name)) is int and abs(params[name]) >= 1000}
        return text.format(**(params | quantities))  # type: ignore[union-attr]

    def both(self, key: str, **params: Any) -> dict[str, str]:
        return {lang: self.t(key, lang, **params) for lang in LANGUAGES}

    def lang(self, lang: str | None) -> str:
        """``lang`` if the catalogue has it, else the default language."""
        return lang if lang in LANGUAGES else self.default_lang

    def number(self, value: float, lang: str | None, *, decimals: int = 0, trim: bool = False) -> str:
        """``value`` with ``decimals`` decimals and the language's separators (``format.decimal``,
        ``format.thousands``): ``1234.5`` → « 1 234,5 » (narrow no-break space), "1,234.5".
        ``trim`` drops trailing zeros of the fractional part (``50.0`` → ``"50"``, ``2.50`` → ``"2.5"``)."""
        text = f"{value:,.{decimals}f}"
        if trim and "." in text:
            text = text.rstrip("0").removesuffix(".")
        marks = {",": self.t("format.thousands", lang), ".": self.t("format.decimal", lang)}
        return "".join(marks.get(ch, ch) for ch in text)

    def percent(self, value: float, lang: str | None, *, decimals: int = 0) -> str:
        """``value`` (already a percentage) with ``decimals`` decimals and the language's sign
        (``format.percent``): « 33,3 % » (no-break space) in French, "33.3%" in English."""
        return self.t("format.percent", lang, value=self.number(value, lang, decimals=decimals))

    def quote(self, text: str, lang: str | None) -> str:
        """``text`` between the language's quotation marks: « … » in French, “…” in English."""
        return self.t("format.quote", lang, text=text)

    def label_value(self, label: str, value: str, lang: str | None) -> str:
        """« label : value » in French, "label: value" in English."""
        return self.t("format.label_value", lang, label=label, value=value)

    def month(self, year: int, month: int, lang: str | None) -> str:
        """A month in words: « novembre 2026 », "November 2026"."""
        return self.t("time.month_year", lang, month=self.t(f"time.month.{month}", lang), year=year)

    def iso_month(self, value: str | None, lang: str | None, missing: str = "-") -> str:
        """A stored ``"2026-11"`` in words (:meth:`month`); ``missing`` for none, the text as it is
        if it is not a month."""
        if not value:
            return missing
        match = _ISO_MONTH.match(value)
        if match is None or not 1 <= int(match[2]) <= 12:
            return value
        return self.month(int(match[1]), int(match[2]), lang)

    def moment(self, when: datetime, lang: str | None, *, now: datetime, tz: tzinfo) -> str:
        """``when`` in words, on the wall clock of ``tz``, relative to ``now`` when close:
        « demain à 18 h », « lundi 7 décembre à 10 h », « jeudi 1er avril 2027 à 9 h 30 »;
        « tomorrow at 18:00 », « Monday 7 December at 10:00 »."""
        local, today = when.astimezone(UTC).astimezone(tz), now.astimezone(UTC).astimezone(tz).date()
        clock = (
            self.t("time.hour", lang, hour=local.hour)
            if local.minute == 0
            else self.t("time.hour_minute", lang, hour=local.hour, minute=local.minute)
        )
        days = (local.date() - today).days
        relative = {0: "time.today", 1: "time.tomorrow", -1: "time.yesterday"}.get(days)
        if relative:
            return self.t(relative, lang, time=clock)
        return self.t(
            "time.date" if local.year == today.year else "time.date_year", lang,
            weekday=self.t(f"time.weekday.{local.weekday()}", lang),
            day=self.t("time.first_day", lang) if local.day == 1 else local.day,
            month=self.t(f"time.month.{local.month}", lang), year=local.year, time=clock,
        )


def placeholders(text: Text) -> set[str]:
    """The placeholders of a text (of all its plural forms, for a plural value)."""
    return {name for one in texts(text) for _, name, _, _ in string.Formatter().parse(one) if name}


def _is_leaf(value: Mapping[str, Any]) -> bool:
    """An entry: exactly ``fr`` and ``en``, each a text or a table of exactly ``one`` / ``other`` texts."""
    if set(value) != set(LANGUAGES):
        return False
    return all(
        isinstance(v, str)
        or (isinstance(v, Mapping) and set(v) == set(PLURAL_FORMS) and all(isinstance(f, str) for f in v.values()))
        for v in value.values()
    )


@cache
def _load_dir(directory: str) -> dict[str, dict[str, Text]]:
    entries: dict[str, dict[str, Text]] = {}
    for path in sorted(Path(directory).glob("*.toml")):
        with path.open("rb") as fh:
            data = tomllib.load(fh)
        _flatten(data, "", entries, path)
    return entries


# French typography, applied in this one place to every French string as the catalogue is read:
# a narrow no-break space before « : ; ! ? » and inside guillemets, a no-break space before « % ».
# The locale files are written with ordinary spaces; values put into a string stay as they are.
_FRENCH_SPACES = (
    (re.compile(r"[ \u00a0]([:;!?])"), "\u202f\\1"),
    (re.compile(r"«[ \u00a0]"), "«\u202f"),
    (re.compile(r"[ \u00a0]»"), "\u202f»"),
    (re.compile(r"(?<=[\d}]) %(?!\()"), "\u00a0%"),  # a percentage, not a printf placeholder
)


def french_typography(text: str) -> str:
    """``text`` with French spacing: « Sondage n° 3 : clos ! » → narrow no-break spaces."""
    for pattern, replacement in _FRENCH_SPACES:
        text = pattern.sub(replacement, text)
    return text


def _typeset(lang: str, value: Text) -> Text:
    if lang != "fr":
        return value
    if isinstance(value, str):
        return french_typography(value)
    return {form: french_typography(text) for form, text in value.items()}


def _flatten(node: Mapping[str, Any], prefix: str, out: dict[str, dict[str, Text]], path: Path) -> None:
    for name, value in node.items():
        key = f"{prefix}{name}"
        if not isinstance(value, Mapping):
            raise ValueError(f"{path}: {key} must be a table with fr and en")
        if _is_leaf(value):
            if key in out:
                raise ValueError(f"{path}: duplicate catalogue key {key}")
            out[key] = {lang: _typeset(lang, v if isinstance(v, str) else dict(v)) for lang, v in value.items()}
        else:
            _flatten(value, key + ".", out, path)
