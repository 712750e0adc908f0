"""Where a question's kind shapes an export — the one place the exports look at a kind.

The poll-kind registry (:mod:`bot.services.polls.kinds`) declares each kind's export columns
(:class:`~bot.services.polls.kinds.ExportColumns`): the question's own column (the chosen codes,
or the text), whether each option gets a wide column of its own and what it holds (0/1 chosen,
or the rank of an ordered answer), and what the codebook says about those columns.
:func:`shape_of` reads it; nothing else in the exports names a kind.  The long layout adds a
``rank`` column only when an export holds a question whose options are ranked.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from bot.i18n import LANGUAGES, Catalogue
from bot.services.polls.kinds import ExportColumns, kind_of

if TYPE_CHECKING:
    from bot.services.exports.codebook import _Question

#: ``(chosen option ids, text)`` of one respondent's answer to one question (the ids in rank
#: order for an ordered answer: the answer stream is sorted by rank).
Answer = tuple[list[int], str | None]


@cache
def _catalogue() -> Catalogue:
    return Catalogue.load()


class KindShape:
    """A question's columns, cells and codebook rows, as its kind's :class:`ExportColumns` say.
    ``q.option_pairs`` (``(option id, code)``, built once per question) feeds the cells."""

    def __init__(self, export: ExportColumns) -> None:
        self.export = export
        self.option_columns = export.option_columns
        self.ranks = export.per_option == "rank"  # the long layout's ``rank`` column
        self._cells = export.wide_cells

    def wide_columns(self, q: _Question) -> list[str]:
        return self.export.wide_columns(q.column, [o.column for o in q.options])

    def wide_cells(self, q: _Question, answer: Answer | None, safe: Callable[[Any], Any]) -> list[Any]:
        return self._cells(q.option_pairs, answer, safe, q.joiner)

    def codebook_rows(self, q: _Question, lang: str = "fr") -> list[tuple[Any, ...]]:
        """The question's row (its postings listed), what its option columns hold (when the kind
        says it), then one row per option (``column`` is its wide heading); each with its label in
        every catalogue language (``CODEBOOK_COLUMNS``)."""
        rows: list[tuple[Any, ...]] = [
            (q.code, q.text, "question", q.code, q.text, *_every(q.labels), q.kind, q.max_choices, q.poll_id,
             q.poll_title, q.column, q.postings)
        ]
        if self.export.values_key and self.option_columns:
            notes = [_catalogue().t(self.export.values_key, other, max=q.max_choices) for other in LANGUAGES]
            note = _catalogue().t(self.export.values_key, lang, max=q.max_choices)
            rows.append((self.export.per_option, note, "values", q.code, q.text, *notes, q.kind, None, q.poll_id,
                         q.poll_title, None, None))
        rows.extend((o.code, o.label, "option", q.code, q.text, *_every(o.labels), q.kind, None, q.poll_id,
                     q.poll_title, o.column or None, None) for o in q.options)
        return rows


def _every(labels: dict[str, Any]) -> list[Any]:
    """A wording's cells in the codebook's label columns (one per catalogue language)."""
    return [labels.get(lang) for lang in LANGUAGES]


@cache
def _shape(export: ExportColumns) -> KindShape:
    return KindShape(export)


def shape_of(kind: str) -> KindShape:
    """How a question of ``kind`` appears in an export (its registry entry's export columns)."""
    return _shape(kind_of(kind).export)
