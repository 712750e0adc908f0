"""The questions of an export and its codebook: unique question and option codes, the wide
layout's headings, and the codebook's rows (questions, options, member types)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.config import Config
from bot.services.exports.kinds import KindShape, shape_of
from bot.services.exports.model import LONG_COLUMNS, WIDE_FIXED_COLUMNS
from storage.repositories.exports import CodebookQuestion


@dataclass
class _Option:
    id: int
    code: str
    label: str
    column: str = ""


@dataclass
class _Question:
    id: int
    poll_id: int
    poll_title: str
    campaign: str | None
    code: str  # unique within this export
    text: str
    kind: str
    max_choices: int
    options: list[_Option]
    by_id: dict[int, _Option]
    column: str = ""
    shape: KindShape = field(init=False, repr=False)
    option_pairs: list[tuple[int, str]] = field(init=False, repr=False)  # (id, code), for the cells

    def __post_init__(self) -> None:
        self.shape = shape_of(self.kind)
        self.option_pairs = [(o.id, o.code) for o in self.options]


@dataclass
class _Scope:
    poll_ids: list[int]
    questions: list[_Question]
    campaign: str | None


def _deduplicate(codes: list[str], suffixes: list[str]) -> list[str]:
    """Append its suffix to every code that appears more than once."""
    return [code + suffix if codes.count(code) > 1 else code for code, suffix in zip(codes, suffixes, strict=True)]


def _build_questions(raw: Sequence[CodebookQuestion], headings: str, clean: Callable[[Any], Any]) -> list[_Question]:
    """Unique question codes (and option codes within a question), and the wide headings.
    ``clean`` is applied once to every label and title (CSV formula neutralisation)."""
    codes = [(q.code or "").strip() or f"q{q.id}" for q in raw]
    codes = _deduplicate(codes, [f"_p{q.poll_id}" for q in raw])
    codes = _deduplicate(codes, [f"_q{q.position}" for q in raw])
    questions: list[_Question] = []
    for q, code in zip(raw, codes, strict=True):
        opt_codes = [(o.code or "").strip() or f"o{o.position}" for o in q.options]
        opt_codes = _deduplicate(opt_codes, [f"_{o.position}" for o in q.options])
        options = [_Option(o.id, oc, clean(o.label)) for o, oc in zip(q.options, opt_codes, strict=True)]
        questions.append(
            _Question(q.id, q.poll_id, clean(q.poll_title), clean(q.campaign), code, clean(q.text), q.kind,
                      q.max_choices, options, {o.id: o for o in options})
        )
    seen: set[str] = set(WIDE_FIXED_COLUMNS)

    def unique(heading: str, fallback: str) -> str:
        if heading in seen:
            heading = f"{heading} ({fallback})"
        seen.add(heading)
        return heading

    for q in questions:
        labels = headings == "labels"
        q.column = unique(q.text if labels else q.code, q.code)
        if q.shape.option_columns:
            for o in q.options:
                code_col = f"{q.code}/{o.code}"
                o.column = unique(f"{q.text} [{o.label}]" if labels else code_col, code_col)
    return questions


def long_columns(questions: Iterable[_Question]) -> list[str]:
    """The long layout's header: ``LONG_COLUMNS``, then ``rank`` when a question's options are
    ranked (an ordered kind)."""
    return [*LONG_COLUMNS, *(("rank",) if any(q.shape.ranks for q in questions) else ())]


def wide_columns(questions: Iterable[_Question]) -> list[str]:
    """The wide layout's header: the fixed columns, then each question's."""
    columns = list(WIDE_FIXED_COLUMNS)
    for q in questions:
        columns.extend(q.shape.wide_columns(q))
    return columns


def codebook_rows(questions: Iterable[_Question], config: Config, lang: str,
                  used_types: set[str | None]) -> list[tuple]:
    """Every question with its options, then every member type (the configured ones, then any
    other found in the answers), as rows of ``CODEBOOK_COLUMNS``."""
    rows: list[tuple] = []
    for q in questions:
        rows.extend(q.shape.codebook_rows(q, lang))
    known = {t.code: t.label(lang, config.bot.language) for t in config.member_types}
    for code in [*known, *sorted(c for c in used_types if c and c not in known)]:
        rows.append((code, known.get(code, code), "member_type", "member_type", None, None, None, None, None,
                     "member_type"))
    return rows
