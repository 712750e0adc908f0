"""The questions of an export and its codebook: unique question and option codes, the wide
layout's headings, and the codebook's rows (questions, options, member types)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.config import Config
from bot.i18n import LANGUAGES
from bot.services.exports.kinds import KindShape, shape_of
from bot.services.exports.model import CODEBOOK_COLUMNS, LABEL_JOINER, LONG_COLUMNS, WIDE_FIXED_COLUMNS
from bot.services.exports.writers import DATE_WIDTH, header_width
from storage.repositories.exports import CodebookPosting, CodebookQuestion


def _in_languages(text: str, lang: str, others: dict[str, str], clean: Callable[[Any], Any]) -> dict[str, Any]:
    """A wording in every catalogue language: ``text`` in ``lang`` (the poll's), the others from
    ``others``; ``None`` where no wording exists in a language."""
    out = {code: clean(others.get(code) or None) for code in LANGUAGES}
    out[lang] = clean(text)
    return out


def _shown(labels: dict[str, Any], lang: str, fallback: str) -> str:
    """The wording in ``lang``, else the poll's own."""
    return labels.get(lang) or fallback


@dataclass
class _Option:
    id: int
    code: str
    label: str  # in the export's label language (else the poll's)
    column: str = ""
    labels: dict[str, Any] = field(default_factory=dict)  # every catalogue language (None: none)


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
    labels: dict[str, Any] = field(default_factory=dict)  # every catalogue language (None: none)
    postings: str | None = None  # "#channel (fr), #channel-en (en)"
    values: str = "codes"  # what the answer cells hold: option codes or labels
    occurrence: str | None = None  # a series export: its poll's occurrence, local "2026-12-03 09:00"
    shape: KindShape = field(init=False, repr=False)
    # (id, code) — or (id, label) with values="labels" —, for the cells
    option_pairs: list[tuple[int, str]] = field(init=False, repr=False)
    joiner: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.shape = shape_of(self.kind)
        by_labels = self.values == "labels"
        self.option_pairs = [(o.id, o.label if by_labels else o.code) for o in self.options]
        self.joiner = LABEL_JOINER if by_labels else " "


@dataclass
class _Scope:
    poll_ids: list[int]
    questions: list[_Question]
    campaign: str | None
    # the member type cell: its code, or with values="labels" its label (unknown codes as they are)
    member_value: Callable[[str | None], str | None] = lambda code: code


def _postings_text(postings: Sequence[CodebookPosting]) -> str | None:
    """Where a question was asked, for the codebook: ``#name (fr), #name (en)`` (the channel id
    when it is not a network channel)."""
    shown = [f"#{p.channel_name or p.channel_id} ({p.lang})" for p in postings]
    return ", ".join(shown) or None


def _deduplicate(codes: list[str], suffixes: list[str]) -> list[str]:
    """Append its suffix to every code that appears more than once."""
    return [code + suffix if codes.count(code) > 1 else code for code, suffix in zip(codes, suffixes, strict=True)]


def _occurrence_suffixes(occurrences: Mapping[int, str]) -> dict[int, str]:
    """A series' variables end with their occurrence's date (``_2026-12-03``), or date and time
    (``_2026-12-03_0900``) when two occurrences share a day."""
    days = {poll_id: when[:10] for poll_id, when in occurrences.items()}
    if len(set(days.values())) == len(days):
        return {poll_id: f"_{day}" for poll_id, day in days.items()}
    return {poll_id: "_" + when.replace(" ", "_").replace(":", "") for poll_id, when in occurrences.items()}


def _build_questions(raw: Sequence[CodebookQuestion], headings: str, clean: Callable[[Any], Any],
                     lang: str = "fr", values: str = "codes",
                     occurrences: Mapping[int, str] | None = None) -> list[_Question]:
    """Unique question codes (and option codes within a question), the labels in ``lang`` (else
    the poll's language) and in every language, and the wide headings.  ``clean`` is applied
    once to every label and title (CSV formula neutralisation).  ``occurrences`` (a series
    export: poll id → its occurrence, in order): the questions in that order, each code and
    heading naming its occurrence."""
    if occurrences:
        order = {poll_id: index for index, poll_id in enumerate(occurrences)}
        raw = sorted(raw, key=lambda q: (order.get(q.poll_id, len(order)), q.position))
    codes = [(q.code or "").strip() or f"q{q.id}" for q in raw]
    if occurrences:
        suffixes = _occurrence_suffixes(occurrences)
        codes = [code + suffixes.get(q.poll_id, f"_p{q.poll_id}") for code, q in zip(codes, raw, strict=True)]
    codes = _deduplicate(codes, [f"_p{q.poll_id}" for q in raw])
    codes = _deduplicate(codes, [f"_q{q.position}" for q in raw])
    per_poll = Counter(q.poll_id for q in raw)
    questions: list[_Question] = []
    for q, code in zip(raw, codes, strict=True):
        opt_codes = [(o.code or "").strip() or f"o{o.position}" for o in q.options]
        opt_codes = _deduplicate(opt_codes, [f"_{o.position}" for o in q.options])
        options = []
        for o, oc in zip(q.options, opt_codes, strict=True):
            labels = _in_languages(o.label, q.lang, o.labels, clean)
            options.append(_Option(o.id, oc, _shown(labels, lang, clean(o.label)), labels=labels))
        labels = _in_languages(q.text, q.lang, q.labels, clean)
        text = _shown(labels, lang, clean(q.text))
        # A quick poll's title is its one question's wording (``/poll create``): written in the
        # label language as the question is; a title of its own (a survey's) has no other language.
        title = text if per_poll[q.poll_id] == 1 and q.poll_title == q.text else clean(q.poll_title)
        questions.append(
            _Question(q.id, q.poll_id, title, clean(q.campaign), code,
                      text, q.kind, q.max_choices, options,
                      {o.id: o for o in options}, labels=labels, postings=clean(_postings_text(q.postings)),
                      values=values, occurrence=(occurrences or {}).get(q.poll_id))
        )
    seen: set[str] = set(WIDE_FIXED_COLUMNS)

    def unique(heading: str, fallback: str) -> str:
        if heading in seen:
            heading = f"{heading} ({fallback})"
        seen.add(heading)
        return heading

    for q in questions:
        labels = headings == "labels"
        text = f"{q.text} ({q.occurrence})" if q.occurrence else q.text
        q.column = unique(text if labels else q.code, q.code)
        if q.shape.option_columns:
            for o in q.options:
                code_col = f"{q.code}/{o.code}"
                o.column = unique(f"{text} [{o.label}]" if labels else code_col, code_col)
    return questions


def long_columns(questions: Iterable[_Question]) -> list[str]:
    """The long layout's header: ``LONG_COLUMNS`` (with ``occurrence`` after ``poll`` in a
    series export), then ``rank`` when a question's options are ranked (an ordered kind)."""
    questions = list(questions)
    columns = list(LONG_COLUMNS)
    if any(q.occurrence for q in questions):
        columns.insert(columns.index("poll") + 1, "occurrence")
    return [*columns, *(("rank",) if any(q.shape.ranks for q in questions) else ())]


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
    questions = list(questions)
    series = any(q.occurrence for q in questions)  # SERIES_CODEBOOK_COLUMNS: the occurrence last
    for q in questions:
        rows.extend((*row, q.occurrence) if series else row for row in q.shape.codebook_rows(q, lang))
    types = {t.code: t for t in config.member_types}
    for code in [*types, *sorted(c for c in used_types if c and c not in types)]:
        known = types.get(code)
        in_languages = [known.label(other, config.bot.language) if known else None for other in LANGUAGES]
        rows.append((code, known.label(lang, config.bot.language) if known else code, "member_type", "member_type",
                     None, *in_languages, None, None, None, None, "member_type", None, *((None,) if series else ())))
    return rows


def member_values(config: Config, lang: str, values: str) -> Callable[[str | None], str | None]:
    """What the ``member_type`` cells hold: the code, or with ``values="labels"`` the type's label
    in ``lang`` (a code no longer configured stays as it is)."""
    if values != "labels":
        return lambda code: code
    labels = {t.code: t.label(lang, config.bot.language) for t in config.member_types}
    return lambda code: labels.get(code, code) if code is not None else None


# --------------------------------------------------------------------------- XLSX column widths
_TEXT = 50  # a free text: wide, the spreadsheet wraps the rest
_OPTION_HEADING = 24  # a 0/1 or rank column holds a digit: its long heading is cut, not the sheet


def _longest(values: Iterable[Any], default: int = 0) -> int:
    return max((len(str(v)) for v in values if v), default=default)


def _answer_width(q: _Question) -> int:
    if not q.options:
        return _TEXT
    return _longest((label for _, label in q.option_pairs), 4) * min(max(q.max_choices, 1), 3)


def column_widths(layout: str, columns: Sequence[str], questions: Sequence[_Question],
                  member_types: Iterable[str]) -> list[float]:
    """Sensible XLSX widths, from what each column holds (the rows are streamed, so their
    content is not measured: the codebook says how long codes, labels and titles are)."""
    fixed: dict[str, float] = {
        "respondent": header_width("", 16), "member_type": header_width("member_type", _longest(member_types)),
        "campaign": header_width("campaign", _longest(q.campaign for q in questions)),
        "poll": header_width("poll", _longest(q.poll_title for q in questions)),
        "question_code": header_width("question_code", _longest(q.code for q in questions)),
        "option_code": header_width("option_code", _longest(o.code for q in questions for o in q.options)),
        "option_label": header_width("option_label", _longest(o.label for q in questions for o in q.options)),
        "text": float(_TEXT),
        "occurrence": header_width("occurrence", 16),
    }
    if layout == "long":
        return [DATE_WIDTH if c.startswith(("answered_at", "last_answered")) else fixed.get(c, header_width(c))
                for c in columns]
    widths = [DATE_WIDTH if c.startswith("last_answered") else fixed.get(c, header_width(c))
              for c in WIDE_FIXED_COLUMNS]
    for q in questions:
        widths.append(header_width(q.column, _answer_width(q)))
        if q.shape.option_columns:
            widths.extend(header_width(o.column[:_OPTION_HEADING]) for o in q.options)
    return widths


CODEBOOK_WIDTHS = [
    header_width(c, {"code": 16, "label": 40, "question_text": 40, "poll": 30, "column": 30, "postings": 30}.get(
        c, 40 if c.startswith("label::") else 0)) for c in CODEBOOK_COLUMNS
]
