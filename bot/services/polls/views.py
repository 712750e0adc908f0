"""What the poll service hands out: plain, frozen dataclasses (a draft, a poll as stored, a vote's
outcome, results, a member's progress in a survey) and the functions that build a view from the
stored rows.  No database access here."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from bot.services.poll_rules import QuestionDraft
from bot.services.polls.kinds import kind_of

if TYPE_CHECKING:
    from storage import models

__all__ = [
    "CloseResult",
    "OptionCount",
    "OptionView",
    "PollDraft",
    "PollListing",
    "PollResults",
    "PollView",
    "QuestionAnswer",
    "QuestionResults",
    "QuestionView",
    "SurveyProgress",
    "TextAnswer",
    "TypeBreakdown",
    "TypeTable",
    "VoteResult",
    "poll_view",
    "question_view",
    "reader_view",
]


@dataclass(frozen=True)
class PollDraft:
    """Validated creation input; nothing is stored yet.

    A quick poll has one question (``question``, ``kind``, ``labels``…); a survey has a
    ``title`` and several ``questions``.  ``campaign_id`` groups the poll into a campaign
    (the cog defaults it to the current campaign); ``extract_id`` links the follow-up question
    of a monthly extract."""

    guild_id: int
    channel_id: int
    author_id: int
    question: str
    kind: str
    labels: tuple[str, ...]
    codes: tuple[str, ...]
    max_choices: int
    anonymous: bool
    live_results: bool
    deadline_at: datetime | None
    reminder_at: datetime | None
    allowed_role_ids: tuple[int, ...]
    native: bool
    lang: str
    native_hours: int | None = None  # the native poll's duration, in whole hours
    campaign_id: int | None = None
    extract_id: int | None = None
    title: str | None = None  # a survey's title (a quick poll's title is its question)
    questions: tuple[QuestionDraft, ...] = ()  # a survey's questions

    def question_drafts(self) -> tuple[QuestionDraft, ...]:
        if self.questions:
            return self.questions
        return (QuestionDraft(self.question, self.kind, self.labels, self.codes, self.max_choices),)


@dataclass(frozen=True)
class OptionView:
    id: int
    position: int
    code: str
    label: str
    # the label in languages other than the poll's, as stored (``{"en": "Yes"}``; read-only):
    # held with the cached structure, so a member's reply in their language reads nothing more
    labels: Mapping[str, str] = field(default_factory=dict, compare=False)

    @property
    def answer_id(self) -> int:
        """The answer id of this option in a native Discord poll (1-based, in order)."""
        return self.position + 1


class _HasOptions:
    """Option look-ups shared by a question and a poll (whose ``options`` are its first question's)."""

    options: tuple[OptionView, ...]

    def option(self, option_id: int) -> OptionView | None:
        return next((o for o in self.options if o.id == option_id), None)

    def labels_of(self, option_ids: Iterable[int]) -> list[str]:
        """The options' labels, in the given order (a vote's or a survey answer's, which is
        the poll's order, or the member's for an ordered answer)."""
        label = {o.id: o.label for o in self.options}
        return [label[o] for o in option_ids if o in label]


@dataclass(frozen=True)
class QuestionView(_HasOptions):
    id: int
    position: int
    code: str
    text: str
    kind: str
    max_choices: int
    options: tuple[OptionView, ...]
    # the question in languages other than the poll's, as stored (read-only, as an option's)
    labels: Mapping[str, str] = field(default_factory=dict, compare=False)

    @property
    def multiple(self) -> bool:
        """Several options can be chosen (the kind says so)."""
        return kind_of(self.kind).multiple

    @property
    def number(self) -> int:
        """1-based, as members read it ("question 2/5")."""
        return self.position + 1


@dataclass(frozen=True)
class PollView(_HasOptions):
    """A poll as stored.  ``question``, ``question_id``, ``kind``, ``options``… describe its
    first (a quick poll's only) question; a survey's questions are all in ``questions``."""

    id: int
    guild_id: int
    channel_id: int
    message_id: int | None
    author_id: int | None  # None once the author asked /forget-me
    question: str
    question_id: int
    kind: str
    max_choices: int
    options: tuple[OptionView, ...]
    native: bool
    anonymous: bool
    live_results: bool
    allowed_role_ids: tuple[int, ...]
    lang: str
    status: str
    deadline_at: datetime | None
    reminder_at: datetime | None
    reminder_sent: bool
    created_at: datetime
    closed_at: datetime | None
    title: str = ""
    campaign_id: int | None = None
    extract_id: int | None = None
    questions: tuple[QuestionView, ...] = ()

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    @property
    def is_survey(self) -> bool:
        return len(self.questions) > 1

    def question_view(self, question_id: int) -> QuestionView | None:
        return next((q for q in self.questions if q.id == question_id), None)

    @property
    def multiple(self) -> bool:
        """Several options can be chosen (the kind says so)."""
        return kind_of(self.kind).multiple


@dataclass(frozen=True)
class VoteResult:
    """The member's answer after the action: chosen options (in the poll's order) or text."""

    poll: PollView
    user_id: int
    option_ids: tuple[int, ...] = ()
    text: str | None = None
    withdrawn: bool = False  # the member has no answer any more
    changed: bool = True

    @property
    def labels(self) -> list[str]:
        return self.poll.labels_of(self.option_ids)


@dataclass(frozen=True)
class CloseResult:
    poll: PollView
    changed: bool  # False when the poll was already closed


@dataclass(frozen=True)
class OptionCount:
    option_id: int
    label: str
    count: int
    percent: float  # of respondents (multiple choice: can sum past 100)
    mean_rank: float | None = None  # an ordered kind: the mean of its ranks (None: nobody ranked it)
    first: int = 0  # an ordered kind: members who ranked it first


@dataclass(frozen=True)
class TypeBreakdown:
    code: str | None  # None: answers from members without a profile
    respondents: int
    counts: tuple[int, ...]  # per option, in the poll's order


@dataclass(frozen=True)
class TextAnswer:
    user_id: int | None  # None for anonymous polls
    text: str
    member_type: str | None


@dataclass(frozen=True)
class QuestionResults:
    """The results of one question (a quick poll has one, a survey several)."""

    question: QuestionView
    respondents: int
    options: tuple[OptionCount, ...]
    by_type: tuple[TypeBreakdown, ...] = ()
    voters: dict[int, tuple[int, ...]] = field(default_factory=dict)  # named polls only
    texts: tuple[TextAnswer, ...] = ()

    @property
    def has_member_types(self) -> bool:
        return any(b.code is not None for b in self.by_type)


@dataclass(frozen=True)
class TypeTable:
    """Results by member type as a table: one row per member type (then the total), one
    column per option; each cell is ``(count, percent of that row's respondents)``."""

    headers: tuple[str, ...]  # option labels
    rows: tuple[tuple[str, int, tuple[tuple[int, float], ...]], ...]  # (type label, respondents, cells)
    total: tuple[str, int, tuple[tuple[int, float], ...]]


@dataclass(frozen=True)
class PollResults:
    """``respondents``, ``options``, ``by_type``… are the first question's; ``questions``
    has every question's results (one for a quick poll).  ``survey_respondents`` counts the
    members who answered at least one question, ``completed`` those who answered them all."""

    poll: PollView
    respondents: int
    options: tuple[OptionCount, ...]
    by_type: tuple[TypeBreakdown, ...] = ()
    voters: dict[int, tuple[int, ...]] = field(default_factory=dict)  # named polls only
    texts: tuple[TextAnswer, ...] = ()
    questions: tuple[QuestionResults, ...] = ()
    survey_respondents: int = 0
    completed: int = 0

    @property
    def has_member_types(self) -> bool:
        return any(b.code is not None for b in self.by_type)

    @property
    def any_member_types(self) -> bool:
        """At least one answer, to any question, has a member type."""
        return any(q.has_member_types for q in self.questions) or self.has_member_types


@dataclass(frozen=True)
class QuestionAnswer:
    option_ids: tuple[int, ...]  # in the question's order (the member's, for an ordered kind)
    text: str | None


@dataclass(frozen=True)
class SurveyProgress:
    """Where a member is in a survey, derived from their stored answers (no extra table):
    the next question is the first one without an answer."""

    poll: PollView
    user_id: int
    answers: dict[int, QuestionAnswer]  # question id → the member's answer
    saved: QuestionView | None = None  # the question just answered, if any

    @property
    def total(self) -> int:
        return len(self.poll.questions)

    @property
    def answered(self) -> int:
        return sum(1 for q in self.poll.questions if q.id in self.answers)

    @property
    def next_question(self) -> QuestionView | None:
        return next((q for q in self.poll.questions if q.id not in self.answers), None)

    @property
    def done(self) -> bool:
        return self.next_question is None

    def labels(self, question: QuestionView) -> list[str]:
        answer = self.answers.get(question.id)
        return question.labels_of(answer.option_ids) if answer else []


@dataclass(frozen=True)
class PollListing:
    open: tuple[PollView, ...]
    recent: tuple[PollView, ...]


def question_view(question: models.Question) -> QuestionView:
    return QuestionView(
        id=question.id,
        position=question.position,
        code=question.code,
        text=question.text,
        kind=question.kind,
        max_choices=question.max_choices,
        options=tuple(OptionView(o.id, o.position, o.code, o.label, dict(o.labels or {})) for o in question.options),
        labels=dict(question.labels or {}),
    )


def poll_view(poll: models.Poll) -> PollView:
    """The stored poll (with its questions and options loaded) as a :class:`PollView`."""
    questions = tuple(question_view(q) for q in sorted(poll.questions, key=lambda q: q.position))
    question = questions[0]
    return PollView(
        id=poll.id,
        guild_id=poll.guild_id,
        channel_id=poll.channel_id,
        message_id=poll.message_id,
        author_id=poll.author_id,
        question=question.text,
        question_id=question.id,
        kind=question.kind,
        max_choices=question.max_choices,
        options=question.options,
        native=poll.native,
        anonymous=poll.anonymous,
        live_results=poll.live_results,
        allowed_role_ids=tuple(int(r) for r in poll.allowed_role_ids or ()),
        lang=poll.lang,
        status=poll.status,
        deadline_at=poll.deadline_at,
        reminder_at=poll.reminder_at,
        reminder_sent=poll.reminder_sent,
        created_at=poll.created_at,
        closed_at=poll.closed_at,
        title=poll.title,
        campaign_id=poll.campaign_id,
        extract_id=poll.extract_id,
        questions=questions,
    )


def reader_view(poll: PollView, lang: str, builtin: Callable[[str], Mapping[str, str]]) -> PollView:
    """``poll`` with each question and option in ``lang`` wherever a wording exists, item by
    item: the stored wording (the views' ``labels``, read with the poll), else for a kind's
    built-in option the catalogue's (``builtin(kind)``: code → label in ``lang``; a poll stored
    before built-in options had their wording in every language), else the poll's own.  Unlike a
    posting's all-or-nothing :func:`bot.services.postings.localized`, a member's private reply
    mixes: « Yes » under a question a moderator wrote in French.  No database access."""

    def question(q: QuestionView) -> QuestionView:
        fixed = builtin(q.kind) if kind_of(q.kind).options.fixed else {}
        relabelled = tuple(
            dataclasses.replace(o, label=o.labels.get(lang) or fixed.get(o.code) or o.label) for o in q.options
        )
        return dataclasses.replace(q, text=q.labels.get(lang) or q.text, options=relabelled)

    translated = tuple(question(q) for q in poll.questions)
    first = translated[0] if translated else None
    return dataclasses.replace(
        poll,
        questions=translated,
        question=first.text if first else poll.question,
        # a quick poll's stored title is its question's wording; a survey's title has no other language
        title=poll.title if poll.is_survey or first is None else first.text,
        options=first.options if first else poll.options,
    )
