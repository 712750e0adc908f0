"""Where a question's kind shapes an export — the one place the exports branch on a kind.

A kind decides whether its options get their own wide columns, the wide layout's columns of a
question and their cells for one respondent, and the question's rows in the codebook.  The long
layout does not depend on the kind (one row per chosen option, one row for an answer without).

Two shapes today: choices (single, multi, yes/no, Likert) and text.  When the poll-kind registry
(``bot.services.polls``) declares each kind's codebook columns, :func:`shape_of` is the function
that reads it; nothing else in the exports names a kind.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.services.exports.codebook import _Question

#: ``(chosen option ids, text)`` of one respondent's answer to one question.
Answer = tuple[list[int], str | None]


class ChoiceShape:
    """A choice question: in the wide layout, one column of the chosen option codes
    (space-separated, as KoboToolbox writes ``select_multiple``) then one 0/1 column per option;
    blank in all of them when the respondent did not answer."""

    option_columns = True

    def wide_columns(self, q: _Question) -> list[str]:
        return [q.column, *(o.column for o in q.options)]

    def wide_cells(self, q: _Question, answer: Answer | None, safe: Callable[[Any], Any]) -> list[Any]:
        if answer is None:
            return [None] * (1 + len(q.options))
        picked = set(answer[0])
        return [" ".join(o.code for o in q.options if o.id in picked), *(1 if o.id in picked else 0 for o in q.options)]

    def codebook_rows(self, q: _Question) -> list[tuple[Any, ...]]:
        """The question's row, then one row per option (``column`` is its wide heading)."""
        rows: list[tuple[Any, ...]] = [
            (q.code, q.text, "question", q.code, q.text, q.kind, q.max_choices, q.poll_id, q.poll_title, q.column)
        ]
        rows.extend((o.code, o.label, "option", q.code, q.text, q.kind, None, q.poll_id, q.poll_title,
                     o.column or None) for o in q.options)
        return rows


class TextShape(ChoiceShape):
    """A free-text question: one column holding the text."""

    option_columns = False

    def wide_columns(self, q: _Question) -> list[str]:
        return [q.column]

    def wide_cells(self, q: _Question, answer: Answer | None, safe: Callable[[Any], Any]) -> list[Any]:
        return [None if answer is None else safe(answer[1])]


CHOICE = ChoiceShape()
TEXT = TextShape()


def shape_of(kind: str) -> ChoiceShape:
    """How a question of ``kind`` appears in an export."""
    return TEXT if kind == "text" else CHOICE
