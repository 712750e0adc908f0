"""What an export is asked for and what it gives back: the request (scope, format, layout,
headings), the result, the column names of each table, the errors."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.errors import DomainError, InvalidInput
from bot.i18n import LANGUAGES

FORMATS = ("csv", "xlsx", "json")
LAYOUTS = ("long", "wide")
HEADINGS = ("codes", "labels")
VALUES = ("codes", "labels")
#: How a language is named in the codebook's label columns (Kobo's ``label::English (en)``).
LANGUAGE_NAMES = {"fr": "Français", "en": "English"}
#: What joins the labels of a multiple or ranked answer in one cell with ``values="labels"``
#: (codes are space-separated, as Kobo writes them; labels hold spaces).
LABEL_JOINER = " | "
SEPARATORS = (",", ";")
EXTENSIONS = {"csv": ".csv", "xlsx": ".xlsx", "json": ".jsonl"}

LONG_COLUMNS = (
    "respondent", "member_type", "campaign", "poll_id", "poll", "question_code", "option_code",
    "option_label", "text", "answered_at_utc", "answered_at_local",
)
WIDE_FIXED_COLUMNS = ("respondent", "member_type", "campaign", "last_answered_at_utc", "last_answered_at_local")


def label_column(lang: str) -> str:
    """The codebook's label column of a language, as KoboToolbox names it: ``label::Français (fr)``."""
    return f"label::{LANGUAGE_NAMES.get(lang, lang)} ({lang})"


#: The codebook, Kobo style: ``code`` and ``label`` (in the export's label language) first, then
#: one label column per catalogue language (blank where no wording exists in that language),
#: and ``postings`` (the channels a question was posted to, with their language).
CODEBOOK_COLUMNS = (
    "code", "label", "type", "question", "question_text", *(label_column(lang) for lang in LANGUAGES),
    "kind", "max_choices", "poll_id", "poll", "column", "postings",
)
#: A series export's codebook ends with the occurrence each question's variable is.
SERIES_CODEBOOK_COLUMNS = (*CODEBOOK_COLUMNS, "occurrence")

Progress = Callable[[int], None]

class MissingSecret(DomainError):
    key = "export.error.no_secret"


class ExportTooLarge(DomainError):
    key = "export.error.too_large"


class IdentifiedRefused(DomainError):
    """``identified`` asked for anonymous polls: their answers name no member to give."""

    key = "export.error.identified_anonymous"


@dataclass(frozen=True)
class ExportRequest:
    """What to export and how.  Exactly one of ``poll_id``, ``campaign`` and ``series`` (a
    recurring poll's plan id, ``plan-3``: its occurrences' polls, each question one variable
    per occurrence — ``q1_2026-12-03`` — and an ``occurrence`` column in the long layout and
    the codebook).

    ``guild_id`` restricts the export to that guild's polls (set from Discord; the CLI exports
    every guild).  ``labels`` is the language of the labels — headings with
    ``headings="labels"``, value cells with ``values="labels"``, the long layout's
    ``option_label``, the codebook's ``label`` — (default: ``lang``, the asking moderator's
    language, else the config's).  ``values="labels"`` writes an answer's option labels and the
    member type's label instead of their codes (several labels joined by ``LABEL_JOINER``); the
    0/1 and rank columns stay numbers.  Every export is recorded in the audit log (scope,
    format, layout, counts, whether it was identified — no personal data)."""

    poll_id: int | None = None
    campaign: str | None = None
    format: str = "csv"
    layout: str = "long"
    headings: str = "codes"
    values: str = "codes"
    labels: str | None = None
    separator: str = ","
    identified: bool = False
    guild_id: int | None = None
    lang: str | None = None
    actor_id: int | None = None  # who asked (the audit log); None from the CLI
    series: int | None = None  # a calendar plan's id (its occurrences: bot.services.calendar)

    def __post_init__(self) -> None:
        if self.series is not None and (self.poll_id is not None or self.campaign):
            raise InvalidInput("export.error.scope_series")
        if self.series is None and (self.poll_id is None) == (not self.campaign):
            raise InvalidInput("export.error.scope")
        if self.format not in FORMATS:
            raise InvalidInput("export.error.format", value=self.format, allowed=", ".join(FORMATS))
        if self.layout not in LAYOUTS:
            raise InvalidInput("export.error.layout", value=self.layout, allowed=", ".join(LAYOUTS))
        if self.headings not in HEADINGS:
            raise InvalidInput("export.error.headings", value=self.headings, allowed=", ".join(HEADINGS))
        if self.values not in VALUES:
            raise InvalidInput("export.error.values", value=self.values, allowed=", ".join(VALUES))
        if self.labels is not None and self.labels not in LANGUAGES:
            raise InvalidInput("export.error.labels", value=self.labels, allowed=", ".join(LANGUAGES))
        if self.separator not in SEPARATORS:
            raise InvalidInput("export.error.separator", value=self.separator)

    def label_lang(self, default: str) -> str:
        """The language the labels are written in."""
        return self.labels or (self.lang if self.lang in LANGUAGES else None) or default

    @property
    def scope_name(self) -> str:
        """A file-name friendly name: ``poll-12`` or ``campaign-enquete-membres-2026-2027``."""
        if self.poll_id is not None:
            return f"poll-{self.poll_id}"
        if self.series is not None:
            return f"series-plan-{self.series}"
        return "campaign-" + _slug(self.campaign or "")

    def default_filename(self) -> str:
        return f"{self.scope_name}-{self.layout}{EXTENSIONS[self.format]}"


@dataclass(frozen=True)
class ExportResult:
    rows: int  # data rows written (long: answer × chosen option; wide: respondents)
    answers: int
    respondents: int
    questions: int
    polls: int
    files: tuple[Path, ...] = ()  # what export_to_path wrote (data, then codebook)
    columns: tuple[str, ...] = field(default=(), repr=False)


def codebook_path(path: Path) -> Path:
    """``answers.csv`` → ``answers.codebook.csv`` (next to the data file)."""
    return path.with_name(f"{path.stem}.codebook{path.suffix}")


def _slug(text: str) -> str:
    import unicodedata

    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:60] or "export"
