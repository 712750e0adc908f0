"""Quick surveys: the compact text format a moderator types, without Discord.

A survey is a poll with several questions (2 to 5), answered by a member in one flow; its
storage, closing, deadline and results are the poll machinery's (:mod:`bot.services.polls`).
This module reads the text typed in the creation modal — one question per paragraph (paragraphs
are separated by a blank line)::

    [oui/non] Avez-vous participé à une rencontre du réseau cette année ?

    [multi:2] Quels thèmes vous intéressent ?
    Climat
    Santé
    Éducation

    Quel est votre principal besoin ?
    Financement ; Formation ; Mise en relation

    [texte] Une idée pour la prochaine enquête ?

The first line is the question, with an optional kind prefix in square brackets; the next lines
(or one line with ``;`` between them) are the options.  Prefixes (case and accents ignored):

============================================  ===================================
``[unique]`` ``[single]`` (the default)        single choice, 2 to 25 options
``[multi]`` ``[multi:N]`` ``[multiple:N]``     multiple choice, at most N (default: all)
``[oui/non]`` ``[yesno]`` ``[yes/no]``          yes / no / abstain (no options)
``[likert]`` ``[echelle]`` ``[scale]``          1 to 5 agreement scale (no options)
``[texte]`` ``[text]`` ``[libre]`` ``[open]``   open answer (no options)
``[classement]`` ``[classement:N]`` ``[ranking]`` order the options, N ranks at most
============================================  ===================================

The prefixes are the kinds' own (``prefixes`` in :mod:`bot.services.polls.kinds`); a kind that
allows several choices (or ranks) also takes ``:N``, the maximum — out of range, the kind's
own error says the allowed range.  A question may start with its number (``1.``, ``1)``),
which is dropped.  Options may start with a list marker (``-``, ``*``, ``•``), which is dropped.  A question
without a prefix and without options is refused (say ``[texte]`` for an open answer).
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING

from bot.errors import InvalidInput
from bot.services.poll_rules import (
    MAX_SURVEY_QUESTIONS,
    MAX_TITLE,
    MIN_SURVEY_QUESTIONS,
    QuestionDraft,
    checked_text,
)
from bot.services.polls.kinds import kinds

if TYPE_CHECKING:
    from bot.services.polls import PollService

__all__ = ["MAX_SURVEY_TEXT", "clean_title", "parse_kind_prefix", "parse_survey"]

MAX_SURVEY_TEXT = 4000  # a modal's paragraph input
_MAXIMUM = re.compile(r"^(?P<name>.+?)(?::(?P<max>\d+))?$")
_NUMBER = re.compile(r"^\d{1,2}[.)]\s+")  # « 1. » or « 1) » before a question
_PREFIX = re.compile(r"^\[([^\]]*)\]\s*(.*)$", re.DOTALL)
_BULLET = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+")
_BLANK = re.compile(r"\n\s*\n")


def _fold(text: str) -> str:
    """Lower case, no accents, no spaces: ``Oui / Non`` → ``oui/non``, ``Échelle`` → ``echelle``."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c) and not c.isspace())


def parse_kind_prefix(prefix: str) -> tuple[str, int | None] | None:
    """``multi:2`` → ``("multi", 2)``, ``Oui/Non`` → ``("yesno", None)``; ``None`` if unknown."""
    match = _MAXIMUM.match(_fold(prefix))
    if match is None:
        return None
    name, maximum = match.group("name"), match.group("max")
    for kind in kinds():
        if name in kind.prefixes and (maximum is None or kind.takes_maximum):
            return kind.name, int(maximum) if maximum else None
    return None


def clean_title(title: str | None) -> str:
    return checked_text(
        " ".join((title or "").split()),
        MAX_TITLE,
        empty="survey.error.title_empty",
        too_long="survey.error.title_too_long",
        mention="poll.error.mention",
    )


def parse_survey(text: str | None, polls: PollService, *, lang: str = "fr") -> tuple[QuestionDraft, ...]:
    """The questions typed in the modal → checked :class:`QuestionDraft`\\ s (2 to 5).

    A problem in one question raises ``InvalidInput("survey.error.in_question", number=…,
    detail=<the question's own error>)``; the one error path renders ``detail`` in the
    reader's language."""
    raw = (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if len(raw) > MAX_SURVEY_TEXT:
        raise InvalidInput("survey.error.text_too_long", length=len(raw), max=MAX_SURVEY_TEXT)
    paragraphs = [p.strip("\n") for p in _BLANK.split(raw) if p.strip()] if raw else []
    if not MIN_SURVEY_QUESTIONS <= len(paragraphs) <= MAX_SURVEY_QUESTIONS:
        raise InvalidInput(
            "survey.error.count", count=len(paragraphs), min=MIN_SURVEY_QUESTIONS, max=MAX_SURVEY_QUESTIONS
        )
    drafts: list[QuestionDraft] = []
    for number, paragraph in enumerate(paragraphs, start=1):
        try:
            drafts.append(_question(paragraph, polls, lang))
        except InvalidInput as error:
            raise InvalidInput("survey.error.in_question", number=number, detail=error) from error
    return tuple(drafts)


def _question(paragraph: str, polls: PollService, lang: str) -> QuestionDraft:
    lines = [line.strip() for line in paragraph.split("\n") if line.strip()]
    first, option_lines = _NUMBER.sub("", lines[0]), lines[1:]
    kind, max_choices, explicit = "single", None, False
    match = _PREFIX.match(first)
    if match:
        parsed = parse_kind_prefix(match.group(1))
        if parsed is None:
            raise InvalidInput("survey.error.unknown_kind", kind=match.group(1).strip())
        (kind, max_choices), explicit = parsed, True
        first = match.group(2).strip()
    options = "\n".join(_BULLET.sub("", line) for line in option_lines)
    if not explicit and not options.strip():
        raise InvalidInput("survey.error.no_options")
    return polls.prepare_question(first, kind=kind, options=options, max_choices=max_choices, lang=lang)
