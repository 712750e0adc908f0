"""What an export is asked for and what it gives back: the request (scope, format, layout,
headings), the result, the column names of each table, the errors."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.errors import DomainError, InvalidInput

FORMATS = ("csv", "xlsx", "json")
LAYOUTS = ("long", "wide")
HEADINGS = ("codes", "labels")
SEPARATORS = (",", ";")
EXTENSIONS = {"csv": ".csv", "xlsx": ".xlsx", "json": ".jsonl"}

LONG_COLUMNS = (
    "respondent", "member_type", "campaign", "poll_id", "poll", "question_code", "option_code",
    "option_label", "text", "answered_at_utc", "answered_at_local",
)
WIDE_FIXED_COLUMNS = ("respondent", "member_type", "campaign", "last_answered_at_utc", "last_answered_at_local")
CODEBOOK_COLUMNS = (
    "code", "label", "type", "question", "question_text", "kind", "max_choices", "poll_id", "poll", "column",
)

Progress = Callable[[int], None]

class MissingSecret(DomainError):
    key = "export.error.no_secret"


class ExportTooLarge(DomainError):
    key = "export.error.too_large"


@dataclass(frozen=True)
class ExportRequest:
    """What to export and how.  Exactly one of ``poll_id`` and ``campaign``.

    ``guild_id`` restricts the export to that guild's polls (set from Discord; the CLI exports
    every guild).  ``lang`` is the language of the member type labels in the codebook
    (default: the config's language).  Every export is recorded in the audit log (scope,
    format, layout, counts, whether it was identified — no personal data)."""

    poll_id: int | None = None
    campaign: str | None = None
    format: str = "csv"
    layout: str = "long"
    headings: str = "codes"
    separator: str = ","
    identified: bool = False
    guild_id: int | None = None
    lang: str | None = None
    actor_id: int | None = None  # who asked (the audit log); None from the CLI

    def __post_init__(self) -> None:
        if (self.poll_id is None) == (not self.campaign):
            raise InvalidInput("export.error.scope")
        if self.format not in FORMATS:
            raise InvalidInput("export.error.format", value=self.format, allowed=", ".join(FORMATS))
        if self.layout not in LAYOUTS:
            raise InvalidInput("export.error.layout", value=self.layout, allowed=", ".join(LAYOUTS))
        if self.headings not in HEADINGS:
            raise InvalidInput("export.error.headings", value=self.headings, allowed=", ".join(HEADINGS))
        if self.separator not in SEPARATORS:
            raise InvalidInput("export.error.separator", value=self.separator)

    @property
    def scope_name(self) -> str:
        """A file-name friendly name: ``poll-12`` or ``campaign-enquete-membres-2026-2027``."""
        if self.poll_id is not None:
            return f"poll-{self.poll_id}"
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
