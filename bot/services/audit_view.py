"""The audit log as a person reads it (the dashboard's « Journal »), without Discord or HTTP.

An entry stores codes: its action (``poll.create``), the record it touched (``poll``, ``4``) and
its details, a JSON object (``{"by": "moderator"}``, ``{"before": {"title": …, "link": null}}``).
:func:`audit_line` names each in the reader's language from the catalogue (``bot/locales/
audit.toml``): the action (``audit.action.<action>``), the record (``audit.target.<kind>`` and its
number, « sondage n° 4 »), each detail's key (``audit.key.<key>``) and, where a value is a code,
the value (``audit.value.<key>.<value>``); times, months, quantities, record numbers, languages,
repetitions and yes/no are written as the pages write them, a nested object as a sub-list.  An
action, a key or a value the catalogue does not name is shown as stored, so that nothing is
hidden (a test checks that every action and detail key the code records has its entry).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.i18n import Catalogue
    from storage.models import AuditEntry

__all__ = ["AuditDetail", "AuditLine", "audit_line"]

#: Keys whose values are times (ISO 8601 text), months (``2027-01``), the number of a record,
#: languages, or a poll's repetition rule.
TIME_KEYS = frozenset({"at", "occurrence", "next", "from", "to", "cutoff"})
MONTH_KEYS = frozenset({"month", "slot_month"})
RECORD_KEYS = frozenset({"announcement", "plan", "poll", "source_poll", "swapped_with", "campaign_id", "extract_id"})
LANGUAGE_KEYS = frozenset({"labels", "versions"})
RULE_KEYS = frozenset({"recurrence"})
MAX_TEXT = 200  # a long text (an announcement's body before an edit) is cut there


@dataclass(frozen=True)
class AuditDetail:
    """One detail, « Par : un modérateur »; a nested object's own details in ``parts``."""

    text: str
    parts: tuple[str, ...] = ()


@dataclass(frozen=True)
class AuditLine:
    at: datetime
    action: str
    actor_id: int | None  # None: the bot itself (a deadline, a schedule) or a forgotten member
    target: str
    details: tuple[AuditDetail, ...]


def audit_line(entry: AuditEntry, catalogue: Catalogue, lang: str, *,
               when: Callable[[datetime], str]) -> AuditLine:
    """``entry`` in ``lang``; ``when`` writes a time as the page does."""
    words = _Words(catalogue, lang, when)
    details = entry.details if isinstance(entry.details, Mapping) else {}
    return AuditLine(
        entry.at, words.named("audit.action", entry.action), entry.actor_id,
        words.target(entry.target_type or "", entry.target_id or ""),
        tuple(words.detail(str(key), value) for key, value in details.items()),
    )


class _Words:
    def __init__(self, catalogue: Catalogue, lang: str, when: Callable[[datetime], str]) -> None:
        self.catalogue, self.lang, self.when = catalogue, lang, when

    def t(self, key: str, **params: Any) -> str:
        return self.catalogue.t(key, self.lang, **params)

    def named(self, prefix: str, code: str) -> str:
        """The catalogue's word for ``code`` under ``prefix``, else the code itself."""
        key = f"{prefix}.{code}"
        return self.t(key) if self.catalogue.has(key) else code

    def target(self, kind: str, ident: str) -> str:
        name = self.named("audit.target", kind) if kind else ""
        if not ident:
            return name or "-"
        parts = ident.split(",")
        if all(part.isdigit() for part in parts):
            number = ", ".join(self.t("format.numbered", id=int(part)) for part in parts)
        else:  # a campaign's or a template's name
            number = self.catalogue.quote(ident, self.lang)
        return self.t("audit.object", kind=name, id=number) if name else number

    def detail(self, key: str, value: Any) -> AuditDetail:
        label = self.named("audit.key", key)
        if isinstance(value, Mapping) and value:
            return AuditDetail(self.catalogue.label_value(label, "", self.lang).rstrip(),
                               tuple(self.catalogue.label_value(self.named("audit.key", str(k)), self.value(str(k), v),
                                                                self.lang) for k, v in value.items()))
        return AuditDetail(self.catalogue.label_value(label, self.value(key, value), self.lang))

    def value(self, key: str, value: Any) -> str:
        if value is None or value == "" or value == [] or value == {}:
            return "-"
        if isinstance(value, bool):
            return self.t("audit.yes" if value else "audit.no")
        if isinstance(value, Mapping):
            return ", ".join(self.catalogue.label_value(self.named("audit.key", str(k)), self.value(str(k), v),
                                                        self.lang) for k, v in value.items())
        if isinstance(value, list | tuple):
            return ", ".join(self.value(key, item) for item in value)
        if isinstance(value, int | float):
            if key in RECORD_KEYS and isinstance(value, int):
                return self.t("format.numbered", id=value)
            return self.catalogue.number(value, self.lang, decimals=0 if isinstance(value, int) else 1, trim=True)
        text = str(value)
        if key in TIME_KEYS:
            try:
                return self.when(datetime.fromisoformat(text))
            except ValueError:
                pass
        elif key in MONTH_KEYS:
            return self.catalogue.iso_month(text, self.lang)
        elif key in LANGUAGE_KEYS:
            return self.named("dashboard.language", text)
        elif key in RULE_KEYS:
            rule = f"calendar.rule.{text}"
            return self.t(rule) if self.catalogue.has(rule) else self.t("calendar.rule.cron", cron=text)
        text = self.named(f"audit.value.{key}", text)
        return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"
