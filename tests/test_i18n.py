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
from tests.paths import REPO


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
    assert catalogue.t("delivery.failed_title", "fr", count=1) == "⚠️ 1 publication n’a pas pu être postée\u202f:"



def test_a_choice_limit_of_one_is_said_in_the_singular():
    catalogue = Catalogue.load()
    assert catalogue.t("poll.error.too_many_choices", "en", count=1).startswith("You already have 1 choice:")
    assert catalogue.t("poll.error.too_many_choices", "en", count=2).startswith("You already have 2 choices:")


def test_quantities_are_written_with_the_languages_thousands_separator():
    catalogue = Catalogue.load()
    assert "1\u202f095 jours" in catalogue.t("mydata.retention", "fr", count=1095)
    assert "1,095 days" in catalogue.t("mydata.retention", "en", count=1095)
    # and one day is one « jour », one "day" (« conservation 1 jours » before)
    assert "réponses 1 jour," in catalogue.t("mydata.retention", "fr", count=1)
    assert "answers 1 day," in catalogue.t("mydata.retention", "en", count=1)
    assert "effacées 1 jour après" in catalogue.t("profile.consent.how_long_text", "fr", count=1)
    assert catalogue.t("delivery.served", "fr", count=12345) == "12\u202f345 salons servis"
    assert catalogue.t("delivery.served", "fr", count=999) == "999 salons servis"
    # ids are not quantities: « Sondage n° 1234 », never « n° 1 234 »
    assert "1234" in catalogue.t("poll.closed.done", "fr", id=1234, link="x")


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


# ------------------------------------------------------------------ language rules are data

# Code that decides something by naming a language: `lang == "fr"`, `"fr" if …`, `x.fr if …`.
_LANGUAGE_BRANCH = re.compile(r"""[!=]=\s*["'](?:fr|en)["']|["'](?:fr|en)["']\s*(?:==|!=|if\b)|\.(?:fr|en)\s+if\b""")
# Files owned by other work in progress that still branch on a language (issue 9): each must
# still have one (remove it from here once it goes through the catalogue).
_PENDING_BRANCHES: set[str] = set()


def language_branches(source: str) -> list[str]:
    """The lines of ``source`` that branch on a language (comments and docstrings aside)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Compare, ast.IfExp)):
            text = ast.get_source_segment(source, node) or ""
            if _LANGUAGE_BRANCH.search(" ".join(text.split())):
                found.append(f"{node.lineno}: {text}")
    return found


def test_the_language_branch_detector_can_fail():
    assert language_branches('x = a if lang == "fr" else b\n')
    assert language_branches('x = member_type.fr if lang == "fr" else member_type.en\n')
    assert language_branches("singular = count < 2 if lang == 'fr' else count == 1\n")
    assert language_branches('locale = "fr" if w.lang == "fr" else "en-US"\n')
    assert language_branches('ok = lang != "en"\n')
    assert not language_branches('"""if lang == "fr" in a docstring"""\nx = t("a.b", lang)\n')


def test_no_code_branches_on_a_language_outside_the_catalogue():
    offenders = {}
    for path in sorted([*REPO.glob("bot/**/*.py"), *REPO.glob("cogs/**/*.py")]):
        name = path.relative_to(REPO).as_posix()
        if name == "bot/i18n.py":
            continue
        found = language_branches(path.read_text(encoding="utf-8"))
        if found:
            offenders[name] = found
    unexpected = {name: lines for name, lines in offenders.items() if name not in _PENDING_BRANCHES}
    assert not unexpected, f"language rules belong in the catalogue (bot/i18n.py, bot/locales): {unexpected}"
    fixed = _PENDING_BRANCHES - set(offenders)
    assert not fixed, f"no language branch left in {sorted(fixed)}: remove them from _PENDING_BRANCHES"


@pytest.mark.parametrize(
    ("value", "options", "fr", "en"),
    [
        (1234, {}, "1\u202f234", "1,234"),
        (1234567.25, {"decimals": 2}, "1\u202f234\u202f567,25", "1,234,567.25"),
        (12, {}, "12", "12"),
        (0.5, {"decimals": 1}, "0,5", "0.5"),
        (50.0, {"decimals": 1, "trim": True}, "50", "50"),
        (2.5, {"decimals": 2, "trim": True}, "2,5", "2.5"),
        (1500.0, {"decimals": 1}, "1\u202f500,0", "1,500.0"),
    ],
)
def test_number_format(value, options, fr, en):
    catalogue = Catalogue.load()
    assert catalogue.number(value, "fr", **options) == fr
    assert catalogue.number(value, "en", **options) == en


def test_quotes_label_value_and_csv_separator():
    catalogue = Catalogue.load()
    assert catalogue.quote("Oui", "fr") == "«\u202fOui\u202f»" and catalogue.quote("Yes", "en") == "“Yes”"
    assert catalogue.label_value("Région", "Bretagne", "fr") == "Région\u202f: Bretagne"
    assert catalogue.label_value("Region", "Brittany", "en") == "Region: Brittany"
    assert catalogue.t("format.csv_separator", "fr") == ";" and catalogue.t("format.csv_separator", "en") == ","
    assert catalogue.t("format.numbered", "fr", id=12) == "n°\u00a012"
    assert catalogue.t("format.numbered", "en", id=12) == "#12"
    # a percentage as the results on Discord write it: « 33,3 % » (no-break space), "33.3%"
    assert catalogue.percent(33.333, "fr", decimals=1) == "33,3\u00a0%" and catalogue.percent(1234, "fr") == "1\u202f234\u00a0%"
    assert catalogue.percent(33.333, "en", decimals=1) == "33.3%" and catalogue.percent(50, "en") == "50%"


def test_month_names():
    catalogue = Catalogue.load()
    assert catalogue.month(2026, 11, "fr") == "novembre 2026"
    assert catalogue.month(2026, 11, "en") == "November 2026"
    assert catalogue.month(2027, 8, "fr") == "août 2027"
    assert catalogue.iso_month("2026-02", "fr") == "février 2026"
    assert catalogue.iso_month("2026-02", "en") == "February 2026"
    assert catalogue.iso_month(None, "fr") == "-" and catalogue.iso_month("", "en", missing="…") == "…"
    assert catalogue.iso_month("2026-13", "fr") == "2026-13", "not a month: shown as it is"


def _member_types(types, **bot):
    from bot.config import build_config

    raw = {"profiles": {"member_types": types}}
    if bot:
        raw["bot"] = bot
    return build_config(raw, Path("config.toml"), environ={}).member_types


def test_member_type_labels_new_and_old_config_forms():
    new, old = _member_types([
        {"code": "ecole", "labels": {"fr": "École", "en": "School"}},
        {"code": "ong", "fr": "ONG / association", "en": "NGO / association"},  # written before labels
    ])
    assert (new.code, new.label("fr"), new.label("en")) == ("ecole", "École", "School")
    assert (old.code, old.label("fr"), old.label("en")) == ("ong", "ONG / association", "NGO / association")
    assert dict(old.labels) == {"fr": "ONG / association", "en": "NGO / association"}
    assert new.label("de") == "École", "an unknown language falls back to the default one"


def test_a_missing_label_falls_back_to_the_bot_language():
    (french_bot,) = _member_types([{"code": "ecole", "labels": {"fr": "École"}}])
    assert french_bot.label("en") == "École"
    (english_bot,) = _member_types([{"code": "school", "labels": {"en": "School"}}], language="en")
    assert english_bot.label("fr") == "School"
    from bot.config import MemberType

    assert MemberType("ecole", {"en": "School"}).label("fr") == "School", "any label rather than the code"
    assert MemberType("ecole").label("fr") == "ecole"


@pytest.mark.parametrize(
    ("member_type", "message"),
    [
        ({"code": "ecole"}, "has no label"),
        ({"code": "ecole", "labels": {"de": "Schule"}}, "labels.de: unknown language"),
        ({"code": "ecole", "fr": "École", "labels": {"fr": "Ecole"}}, "the fr label is given twice"),
        ({"code": "ecole", "labels": "École"}, "must be a table"),
        ({"code": "ecole", "label": {"fr": "École"}}, "unknown key profiles.member_types[0].label"),
        ({"labels": {"fr": "École"}}, "code must be a non-empty string"),
        ({"code": "ecole", "labels": {"fr": 3}}, "labels.fr must be a non-empty string"),
    ],
)
def test_a_bad_member_type_is_refused(member_type, message):
    from bot.config import ConfigError

    with pytest.raises(ConfigError, match=re.escape(message)):
        _member_types([member_type])


def test_profile_labels_come_from_the_member_types():
    from bot.config import DEFAULT_MEMBER_TYPE_OBJECTS

    labels = {t.code: (t.label("fr"), t.label("en")) for t in DEFAULT_MEMBER_TYPE_OBJECTS}
    assert labels["ong"] == ("ONG / association", "NGO / association")


# The number sign in French: « n° 12 », a no-break space after n° (the TOML writes \u00a0).
_OTHER_NUMBER_SIGNS = re.compile(
    r"N°|nº|n°(?!\u00a0)|\bno\.?\s*(?:\{|\d)|\bNo\.?\s*(?:\{|\d)|#\s*\d|#\{(?!channel\})"
)
# Files being edited by other work in progress (issue 9) that still use another form: each must
# still have one (remove it from here once its strings use « n°\u00a0{id} »).
_PENDING_NUMBER_SIGNS: set[str] = set()


def _entries_by_file():
    import tomllib

    from bot.i18n import LOCALES_DIR, _flatten

    for path in sorted(LOCALES_DIR.glob("*.toml")):
        entries = {}
        _flatten(tomllib.loads(path.read_text(encoding="utf-8")), "", entries, path)
        yield path.name, entries


def other_number_signs(entries) -> list[str]:
    return [f"{key}: {text!r}" for key, entry in entries.items() for text in texts(entry["fr"])
            if _OTHER_NUMBER_SIGNS.search(text)]


def test_the_number_sign_detector_can_fail():
    for text in ("Sondage n°{id}", "Sondage n° {id}", "Sondage N° 3", "Sondage no. {id}", "Sondage #{id}", "#3"):
        assert other_number_signs({"k": {"fr": text, "en": ""}}), text
    for text in ("Sondage n°\u00a0{id}", "dans #{channel}", "aucun numéro", "pas de nouvelle"):
        assert not other_number_signs({"k": {"fr": text, "en": ""}}), text


def test_french_has_one_form_of_the_number_sign():
    found = {name: other_number_signs(entries) for name, entries in _entries_by_file()}
    unexpected = {name: texts_ for name, texts_ in found.items() if texts_ and name not in _PENDING_NUMBER_SIGNS}
    assert not unexpected, f"write « n°\\u00a0{{id}} » in French: {unexpected}"
    fixed = {name for name in _PENDING_NUMBER_SIGNS if not found.get(name)}
    assert not fixed, f"{sorted(fixed)} use one form now: remove them from _PENDING_NUMBER_SIGNS"
    assert Catalogue.load().t("extracts.not_found", "fr", id=42) == "Aucun extrait n°\u00a042."


def test_campaign_counts_follow_the_plural_rule():
    catalogue = Catalogue.load()
    assert catalogue.t("campaign.respondents", "fr", count=0) == "0 répondant", "French: 0 is singular"
    assert catalogue.t("campaign.respondents", "en", count=0) == "0 respondents"
    assert catalogue.t("campaign.polls", "fr", count=2) == "2 sondages"
    assert catalogue.t("campaign.polls", "en", count=1) == "1 poll"


def test_french_typography_is_applied_once_to_every_french_string():
    """A narrow no-break space before « : ; ! ? » and inside guillemets, a no-break space before
    « % », in every French string of the catalogue (the files are written with plain spaces);
    English is left alone, and so are the values put into a string."""
    from bot.i18n import french_typography

    assert french_typography("« Oui » : 50 % ; vraiment ? oui !") == (
        "«\u202fOui\u202f»\u202f: 50\u00a0%\u202f; vraiment\u202f? oui\u202f!")
    assert french_typography("10:30 https://x.example/?a=1") == "10:30 https://x.example/?a=1"
    catalogue = Catalogue.load()
    for key, entry in catalogue.entries.items():
        fr = entry["fr"]
        for text in (fr.values() if isinstance(fr, dict) else [fr]):
            assert not re.search(r" [:;!?]|« | »|(?<=[\d}]) %(?!\()", text), f"{key}: {text!r}"
    assert catalogue.t("format.label_value", "en", label="Region", value="x") == "Region: x"
    assert catalogue.t("format.label_value", "fr", label="a ?", value="b : c") == "a ?\u202f: b : c"



@pytest.mark.parametrize(("key", "command"), [
    ("calendar.error.survey", ("poll", "poll.survey")),  # it named « /sondage enquete », which does not exist
    ("export.error.series_not_found", ("calendar", "calendar.list")),  # it said « /calendar » in French
])
def test_a_refusal_names_the_command_as_it_is_called_in_its_language(key, command):
    catalogue = Catalogue.load()
    for lang in LANGUAGES:
        called = "/" + " ".join(catalogue.t(f"cmd.{part}.name", lang) for part in command)
        assert called in catalogue.t(key, lang, ref="plan-3"), (lang, called)
