"""Quick polls: the rules, without Discord.

What a moderator types is checked here (:meth:`PollService.prepare` → :class:`PollDraft` or
:class:`~bot.errors.InvalidInput` with a catalogue key); votes, withdrawals, open answers,
native-poll gateway votes, closing and results are transactions over the repositories, and
every answer is a plain dataclass.  The cog (``cogs/polls.py``) turns them into messages; a
benchmark or the demo can drive the service directly::

    service = PollService(sessions, catalogue=Catalogue.load(), settings=PollsSection(),
                          tz=ZoneInfo("Europe/Paris"))
    draft = service.prepare(guild_id=1, channel_id=2, author_id=3, question="Lunch?",
                            options="Pizza; Salad")
    poll = await service.create(draft)
    await service.vote(poll.id, user_id=42, option_id=poll.options[0].id)
    results = await service.results(poll.id)

Votes are group-committed: each vote (``vote``, ``choose``, ``native_vote``) is queued with its
change and a future; a flush task, started by the vote that finds none running and ended as soon
as the queue is empty, writes up to ``_MAX_BATCH`` queued votes in one transaction: the poll's
status read under a shared row lock (a close that commits first wins; a close that comes later
waits), one upsert of the (question, member) answers — a unique constraint, so concurrent double
clicks end as one answer — one read of their choices, every change applied in arrival order in
memory (a change that raises, e.g. too many choices, fails only its own vote), then one rewrite
of the choices that changed.  Each vote's future is resolved after the commit (or failed with
the transaction).  The member type is copied from the member's profile at that moment.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
import re
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import DEFAULT_MEMBER_TYPE_OBJECTS, Config, MemberType, PollsSection
from bot.errors import Conflict, Forbidden, InvalidInput, NotFound
from bot.i18n import Catalogue
from bot.services.poll_rules import (  # re-exported: callers import them from here too
    CHOICE_KINDS,
    KINDS,
    MAX_LABEL,
    MAX_OPTIONS,
    MAX_QUESTION,
    MAX_SURVEY_QUESTIONS,
    MAX_TEXT_ANSWER,
    MAX_TITLE,
    MIN_OPTIONS,
    MIN_SURVEY_QUESTIONS,
    NATIVE_MAX_ANSWERS,
    NATIVE_MAX_DAYS,
    NATIVE_MAX_LABEL,
    QuestionDraft,
    has_mention,
)
from storage import models
from storage.repositories import AnswerRepository, AuditRepository, PollRepository

__all__ = [
    "CHOICE_KINDS",
    "KINDS",
    "MAX_LABEL",
    "MAX_OPTIONS",
    "MAX_QUESTION",
    "MAX_SURVEY_QUESTIONS",
    "MAX_TEXT_ANSWER",
    "MAX_TITLE",
    "MIN_OPTIONS",
    "MIN_SURVEY_QUESTIONS",
    "NATIVE_MAX_ANSWERS",
    "NATIVE_MAX_DAYS",
    "NATIVE_MAX_LABEL",
    "CloseResult",
    "OptionCount",
    "OptionView",
    "PollDraft",
    "PollListing",
    "PollResults",
    "PollService",
    "PollView",
    "QuestionAnswer",
    "QuestionDraft",
    "QuestionResults",
    "QuestionView",
    "SurveyProgress",
    "TextAnswer",
    "TypeBreakdown",
    "TypeTable",
    "VoteResult",
    "has_mention",
    "parse_deadline",
    "parse_duration",
    "parse_options",
]

_STRUCTURE_CACHE = 1024
_MAX_ID = 2**31 - 1  # polls.id is an INTEGER column
_MAX_BATCH = 500  # votes written per transaction by the flush task (group commit)

_SEPARATORS = re.compile(r"[;\n]")
_DURATION_PART = re.compile(r"(\d+)\s*([a-zé]+)")
_UNITS: dict[str, timedelta] = {}
for _names, _unit in (
    (("m", "mn", "min", "mins", "minute", "minutes"), timedelta(minutes=1)),
    (("h", "hr", "hrs", "heure", "heures", "hour", "hours"), timedelta(hours=1)),
    (("j", "d", "jour", "jours", "day", "days"), timedelta(days=1)),
    (("w", "sem", "semaine", "semaines", "week", "weeks"), timedelta(weeks=1)),
):
    for _name in _names:
        _UNITS[_name] = _unit
_DATE_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%d/%m/%Y %H:%M", "%d/%m/%Y %Hh%M", "%Y-%m-%d %Hh%M")


# ------------------------------------------------------------------------------ parsing
def parse_options(text: str | None) -> list[str]:
    """Options separated by ``;`` or new lines: trimmed, 2 to 25, none empty, none repeated
    (case-insensitive), each at most ``MAX_LABEL`` characters.  One trailing separator is fine."""
    raw = (text or "").strip()
    parts = _SEPARATORS.split(raw) if raw else []
    if len(parts) > 1 and not parts[-1].strip():
        parts.pop()
    labels: list[str] = []
    seen: dict[str, str] = {}
    for number, part in enumerate(parts, start=1):
        label = " ".join(part.split())
        if not label:
            raise InvalidInput("poll.error.empty_option", number=number)
        if len(label) > MAX_LABEL:
            raise InvalidInput("poll.error.option_too_long", number=number, length=len(label), max=MAX_LABEL)
        folded = label.casefold()
        if folded in seen:
            raise InvalidInput("poll.error.duplicate_option", label=label)
        seen[folded] = label
        labels.append(label)
    if len(labels) < MIN_OPTIONS:
        raise InvalidInput("poll.error.too_few_options", min=MIN_OPTIONS)
    if len(labels) > MAX_OPTIONS:
        raise InvalidInput("poll.error.too_many_options", count=len(labels), max=MAX_OPTIONS)
    if any(has_mention(label) for label in labels):
        raise InvalidInput("poll.error.mention")
    return labels


def parse_duration(text: str) -> timedelta | None:
    """``90m``, ``2h``, ``3d``, ``1j`` (jours), ``1j12h``, ``2 heures``… → a timedelta, or
    ``None`` when the text is not a duration."""
    value = text.strip().lower()
    if not value:
        return None
    position, total, found = 0, timedelta(), False
    for match in _DURATION_PART.finditer(value):
        if value[position : match.start()].strip():
            return None
        unit = _UNITS.get(match.group(2))
        if unit is None:
            return None
        total += int(match.group(1)) * unit
        position, found = match.end(), True
    if not found or value[position:].strip():
        return None
    return total


def parse_deadline(text: str, *, now: datetime, tz: ZoneInfo, max_days: int) -> datetime:
    """A duration from ``now`` or a local date-time (``YYYY-MM-DD HH:MM``, also
    ``DD/MM/YYYY HH:MM``) in ``tz`` → an aware UTC datetime, in the future and at most
    ``max_days`` away.  Raises :class:`InvalidInput`."""
    value = " ".join(text.split())
    duration = parse_duration(value)
    if duration is not None:
        deadline = now + duration
    else:
        for fmt in _DATE_FORMATS:
            try:
                local = datetime.strptime(value, fmt)
            except ValueError:
                continue
            deadline = local.replace(tzinfo=tz).astimezone(UTC)
            break
        else:
            raise InvalidInput("poll.error.deadline_format", value=value, tz=str(tz))
    if deadline <= now:
        raise InvalidInput("poll.error.deadline_past")
    if deadline - now > timedelta(days=max_days):
        raise InvalidInput("poll.error.deadline_too_far", days=max_days)
    return deadline


# ------------------------------------------------------------------------------ results
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
        wanted = set(option_ids)
        return [o.label for o in self.options if o.id in wanted]


@dataclass(frozen=True)
class QuestionView(_HasOptions):
    id: int
    position: int
    code: str
    text: str
    kind: str
    max_choices: int
    options: tuple[OptionView, ...]

    @property
    def multiple(self) -> bool:
        return self.kind == "multi"

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
    author_id: int
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
        return self.kind == "multi"



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
    option_ids: tuple[int, ...]  # in the question's order
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


def _question_view(question: models.Question) -> QuestionView:
    return QuestionView(
        id=question.id,
        position=question.position,
        code=question.code,
        text=question.text,
        kind=question.kind,
        max_choices=question.max_choices,
        options=tuple(OptionView(o.id, o.position, o.code, o.label) for o in question.options),
    )


def _view(poll: models.Poll) -> PollView:
    questions = tuple(_question_view(q) for q in sorted(poll.questions, key=lambda q: q.position))
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


# ------------------------------------------------------------------------------ service
@dataclass(slots=True)
class _PendingVote:
    """A vote waiting for the flush task: its change of the member's choices, and its future."""

    poll: PollView
    user_id: int
    change: Callable[[set[int]], set[int]]
    future: asyncio.Future[VoteResult]


class _OnConnection:
    """What the repositories' vote-path methods need of a session (``await connection()``),
    over a plain connection: the batch transaction skips the ORM session's own bookkeeping."""

    __slots__ = ("_conn",)

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def connection(self) -> AsyncConnection:
        return self._conn


class PollService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        catalogue: Catalogue,
        settings: PollsSection | None = None,
        tz: ZoneInfo | None = None,
        member_types: Sequence[MemberType] = DEFAULT_MEMBER_TYPE_OBJECTS,
        clock: Callable[[], datetime] = models.utcnow,
    ) -> None:
        self.sessions = sessions
        self.catalogue = catalogue
        self.settings = settings or PollsSection()
        self.tz = tz or ZoneInfo("Europe/Paris")
        self.member_types = tuple(member_types)
        self.clock = clock
        self._structures: OrderedDict[int, PollView] = OrderedDict()
        self._locks: dict[tuple[int, int], list[Any]] = {}  # key → [lock, users]
        self._queue: list[_PendingVote] = []  # votes waiting for the flush task (group commit)
        self._flusher: asyncio.Task[None] | None = None

    @classmethod
    def from_config(
        cls,
        sessions: async_sessionmaker[AsyncSession],
        config: Config,
        catalogue: Catalogue,
        clock: Callable[[], datetime] = models.utcnow,
    ) -> PollService:
        return cls(
            sessions,
            catalogue=catalogue,
            settings=config.polls,
            tz=config.tz,
            member_types=config.member_types,
            clock=clock,
        )

    @staticmethod
    def kinds() -> tuple[str, ...]:
        return KINDS

    def configure(self, config: Config) -> None:
        """Follow a new configuration (``ReseauBot.reconfigure``)."""
        self.settings = config.polls
        self.tz = config.tz
        self.member_types = tuple(config.member_types)

    # -------------------------------------------------------------------- labels
    def kind_label(self, kind: str, lang: str, max_choices: int = 1) -> str:
        return self.catalogue.t(
            f"poll.kind.{kind}", lang, **({"max": max_choices} if kind == "multi" else {})
        )

    def builtin_options(self, kind: str, lang: str) -> tuple[tuple[str, str], ...]:
        """``(code, label)`` of the yes/no/abstain and Likert kinds, in ``lang``."""
        if kind == "yesno":
            codes = ("yes", "no", "abstain")
            return tuple((code, self.catalogue.t(f"poll.yesno.{code}", lang)) for code in codes)
        if kind == "likert":
            return tuple((str(n), self.catalogue.t(f"poll.likert.{n}", lang)) for n in range(1, 6))
        return ()

    def member_type_label(self, code: str | None, lang: str) -> str:
        if code is None:
            return self.catalogue.t("poll.results.unknown_type", lang)
        for member_type in self.member_types:
            if member_type.code == code:
                return member_type.fr if lang == "fr" else member_type.en
        return code

    # -------------------------------------------------------------------- creation
    def prepare(
        self,
        *,
        guild_id: int,
        channel_id: int,
        author_id: int,
        question: str,
        options: str | Sequence[str] | None = None,
        kind: str = "single",
        max_choices: int | None = None,
        anonymous: bool | None = None,
        live_results: bool = True,
        deadline: str | None = None,
        reminder: str | None = None,
        role_ids: Sequence[int] = (),
        native: bool = False,
        lang: str = "fr",
        campaign_id: int | None = None,
        extract_id: int | None = None,
    ) -> PollDraft:
        """Check everything a moderator typed; raise :class:`InvalidInput` on the first problem.

        ``options`` is the text typed in the command (``;`` or new lines between options) or a
        list of labels (e.g. an extract's front matter)."""
        now = self.clock()
        if options is not None and not isinstance(options, str):
            options = "\n".join(str(o) for o in options)
        draft = self.prepare_question(
            question, kind=kind, options=options, max_choices=max_choices, lang=lang
        )
        labels, chosen = draft.labels, draft.max_choices

        if native:
            if kind == "text":
                raise InvalidInput("poll.error.native_kind")
            if len(labels) > NATIVE_MAX_ANSWERS:
                raise InvalidInput("poll.error.native_too_many", max=NATIVE_MAX_ANSWERS)
            for number, label in enumerate(labels, start=1):
                if len(label) > NATIVE_MAX_LABEL:
                    raise InvalidInput(
                        "poll.error.native_option_too_long",
                        max=NATIVE_MAX_LABEL,
                        number=number,
                        length=len(label),
                    )
            if anonymous:
                raise InvalidInput("poll.error.native_anonymous")
            if not live_results:
                raise InvalidInput("poll.error.native_hidden")
            if role_ids:
                raise InvalidInput("poll.error.native_roles")
            if kind == "multi" and chosen != len(labels):
                raise InvalidInput("poll.error.native_max_choices")

        deadline_at, reminder_at, native_hours = self._timing(now, deadline, reminder, native=native)
        return PollDraft(
            guild_id=guild_id,
            channel_id=channel_id,
            author_id=author_id,
            question=draft.text,
            kind=draft.kind,
            labels=draft.labels,
            codes=draft.codes,
            max_choices=chosen,
            anonymous=(not native) if anonymous is None else anonymous,
            live_results=live_results,
            deadline_at=deadline_at,
            reminder_at=reminder_at,
            allowed_role_ids=tuple(dict.fromkeys(int(r) for r in role_ids)),
            native=native,
            lang=lang,
            native_hours=native_hours,
            campaign_id=campaign_id,
            extract_id=extract_id,
        )

    def prepare_question(
        self,
        text: str,
        *,
        kind: str = "single",
        options: str | None = None,
        max_choices: int | None = None,
        lang: str = "fr",
    ) -> QuestionDraft:
        """One question: its text, kind and options checked (raises :class:`InvalidInput`)."""
        text = (text or "").strip()
        if not text:
            raise InvalidInput("poll.error.question_empty")
        if len(text) > MAX_QUESTION:
            raise InvalidInput("poll.error.question_too_long", length=len(text), max=MAX_QUESTION)
        if has_mention(text):
            raise InvalidInput("poll.error.mention")
        if kind not in KINDS:
            raise InvalidInput("error.invalid_input")

        if kind in ("single", "multi"):
            labels = parse_options(options)
            codes = tuple(f"o{i}" for i in range(1, len(labels) + 1))
        else:
            if options and options.strip():
                raise InvalidInput("poll.error.options_not_used", kind=self.kind_label(kind, lang, 1))
            builtin = self.builtin_options(kind, lang)
            codes = tuple(code for code, _ in builtin)
            labels = [label for _, label in builtin]

        if kind == "multi":
            chosen = len(labels) if max_choices is None else max_choices
            if not 1 <= chosen <= len(labels):
                raise InvalidInput("poll.error.max_choices", max=len(labels))
        else:
            chosen = 1
        return QuestionDraft(text, kind, tuple(labels), codes, chosen)

    def prepare_survey(
        self,
        *,
        guild_id: int,
        channel_id: int,
        author_id: int,
        title: str,
        questions: str,
        anonymous: bool | None = None,
        live_results: bool = True,
        deadline: str | None = None,
        reminder: str | None = None,
        role_ids: Sequence[int] = (),
        lang: str = "fr",
        campaign_id: int | None = None,
        extract_id: int | None = None,
    ) -> PollDraft:
        """A quick survey: a title and 2 to 5 questions in the compact text format of
        :func:`bot.services.surveys.parse_survey` (one question per paragraph)."""
        from bot.services.surveys import clean_title, parse_survey

        now = self.clock()
        title = clean_title(title)
        drafts = parse_survey(questions, self, lang=lang)
        deadline_at, reminder_at, _ = self._timing(now, deadline, reminder, native=False)
        first = drafts[0]
        return PollDraft(
            guild_id=guild_id,
            channel_id=channel_id,
            author_id=author_id,
            question=first.text,
            kind=first.kind,
            labels=first.labels,
            codes=first.codes,
            max_choices=first.max_choices,
            anonymous=True if anonymous is None else anonymous,
            live_results=live_results,
            deadline_at=deadline_at,
            reminder_at=reminder_at,
            allowed_role_ids=tuple(dict.fromkeys(int(r) for r in role_ids)),
            native=False,
            lang=lang,
            campaign_id=campaign_id,
            extract_id=extract_id,
            title=title,
            questions=drafts,
        )

    def check_timing(self, deadline: str | None, reminder: str | None) -> None:
        """Check a deadline and a reminder now (e.g. before asking for a survey's questions);
        raises :class:`InvalidInput`."""
        self._timing(self.clock(), deadline, reminder, native=False)

    def _timing(
        self, now: datetime, deadline: str | None, reminder: str | None, *, native: bool
    ) -> tuple[datetime, datetime | None, int | None]:
        """The deadline (default: ``polls.default_duration_hours``), the reminder and — native
        polls — the duration in whole hours."""
        max_days = self.settings.max_duration_days
        if deadline and deadline.strip():
            deadline_at = parse_deadline(deadline, now=now, tz=self.tz, max_days=max_days)
        else:
            hours = min(self.settings.default_duration_hours, max_days * 24)
            deadline_at = now + timedelta(hours=hours)
        native_hours = None
        if native:
            native_hours = max(1, math.ceil((deadline_at - now).total_seconds() / 3600))
            if native_hours > NATIVE_MAX_DAYS * 24:
                raise InvalidInput("poll.error.native_too_long", days=NATIVE_MAX_DAYS)
            deadline_at = now + timedelta(hours=native_hours)

        reminder_at = None
        if reminder and reminder.strip():
            before = parse_duration(reminder)
            if before is None or before <= timedelta():
                raise InvalidInput("poll.error.reminder_format", value=reminder.strip())
            reminder_at = deadline_at - before
            if reminder_at <= now:
                raise InvalidInput("poll.error.reminder_too_late")
        return deadline_at, reminder_at, native_hours

    async def create(self, draft: PollDraft, *, actor_id: int | None = None) -> PollView:
        """Store the poll or survey (``open``, no message yet: see :meth:`attach_message`),
        in ``draft.campaign_id`` when it is set."""
        now = self.clock()
        questions = [
            models.Question(
                position=position,
                code=f"q{position + 1}",
                text=question.text,
                kind=question.kind,
                max_choices=question.max_choices,
                options=[
                    models.Option(position=i, code=code, label=label)
                    for i, (code, label) in enumerate(zip(question.codes, question.labels, strict=True))
                ],
            )
            for position, question in enumerate(draft.question_drafts())
        ]
        poll = models.Poll(
            guild_id=draft.guild_id,
            channel_id=draft.channel_id,
            author_id=draft.author_id,
            campaign_id=draft.campaign_id,
            extract_id=draft.extract_id,
            title=draft.title or draft.question,
            native=draft.native,
            anonymous=draft.anonymous,
            live_results=draft.live_results,
            allowed_role_ids=list(draft.allowed_role_ids),
            lang=draft.lang,
            status="open",
            deadline_at=draft.deadline_at,
            reminder_at=draft.reminder_at,
            reminder_sent=False,
            created_at=now,
            questions=questions,
        )
        async with self.sessions.begin() as session:
            PollRepository(session).add(poll)
            await session.flush()
            view = _view(poll)
            details: dict[str, Any] = {"kind": view.kind, "native": view.native, "options": len(view.options)}
            if view.is_survey:
                details = {"kind": "survey", "questions": len(view.questions)}
            if view.campaign_id is not None:
                details["campaign_id"] = view.campaign_id
            if view.extract_id is not None:
                details["extract_id"] = view.extract_id
            AuditRepository(session).record(
                "poll.create",
                actor_id=draft.author_id if actor_id is None else actor_id,
                target_type="poll",
                target_id=view.id,
                guild_id=view.guild_id,
                channel_id=view.channel_id,
                details=details,
            )
        self._remember(view)
        return view

    async def attach_message(self, poll_id: int, message_id: int) -> PollView:
        async with self.sessions.begin() as session:
            await PollRepository(session).set_message(poll_id, message_id)
        self._forget(poll_id)
        return await self.get(poll_id)

    async def discard(self, poll_id: int) -> None:
        """Delete a poll whose message could not be posted."""
        async with self.sessions.begin() as session:
            await PollRepository(session).delete(poll_id)
        self._forget(poll_id)

    # -------------------------------------------------------------------- reading
    async def get(self, poll_id: int, *, guild_id: int | None = None) -> PollView:
        """The poll as stored now; :class:`NotFound` / :class:`Forbidden` (another guild's)."""
        if not 0 < poll_id <= _MAX_ID:  # a forged id the database cannot even hold
            raise NotFound("poll.error.unknown_poll")
        async with self.sessions() as session:
            poll = await PollRepository(session).get(poll_id)
            if poll is None:
                raise NotFound("poll.error.unknown_poll")
            view = _view(poll)
        self._remember(view)
        self._check_guild(view, guild_id)
        return view

    async def list_polls(self, guild_id: int, *, recent: int = 10, open_limit: int = 25) -> PollListing:
        async with self.sessions() as session:
            repo = PollRepository(session)
            opened = await repo.list_for_guild(guild_id, status="open", limit=open_limit)
            closed = await repo.list_for_guild(guild_id, status="closed", limit=recent)
            return PollListing(tuple(_view(p) for p in opened), tuple(_view(p) for p in closed))

    async def search(
        self, guild_id: int, text: str = "", *, open_only: bool = False
    ) -> list[tuple[int, str]]:
        """``(id, question)`` for autocompletion."""
        async with self.sessions() as session:
            polls = await PollRepository(session).search(guild_id, text, open_only=open_only)
            return [(p.id, p.title) for p in polls]

    async def open_polls(self) -> list[PollView]:
        """Every open poll, to reconcile the scheduler with the database."""
        async with self.sessions() as session:
            return [_view(p) for p in await PollRepository(session).open_polls()]

    async def check_can_answer(
        self, poll_id: int, *, guild_id: int | None = None, role_ids: Sequence[int] | None = None
    ) -> PollView:
        """The poll, if this member may answer it now (guild, status, roles); else the refusal."""
        return await self._checked(poll_id, guild_id, role_ids)

    async def my_answer(self, poll_id: int, user_id: int) -> VoteResult | None:
        poll = await self._structure(poll_id)
        async with self.sessions() as session:
            current = await AnswerRepository(session).current(poll.question_id, user_id)
        if current is None:
            return None
        _, option_ids, text = current
        return VoteResult(poll, user_id, self._ordered(poll, option_ids), text, changed=False)

    # -------------------------------------------------------------------- voting
    async def vote(
        self,
        poll_id: int,
        *,
        user_id: int,
        option_id: int,
        guild_id: int | None = None,
        role_ids: Sequence[int] | None = None,
    ) -> VoteResult:
        """A click on an option's button: single-answer kinds set the answer to that option
        (clicking it again changes nothing); multiple choice toggles it (within the maximum)."""
        poll = await self._checked(poll_id, guild_id, role_ids)
        self._require_choice_kind(poll)
        self._require_quick_poll(poll)
        if poll.option(option_id) is None:
            raise InvalidInput("poll.error.unknown_option")

        def change(current: set[int]) -> set[int]:
            if not poll.multiple:
                return {option_id}
            if option_id in current:
                return current - {option_id}
            if len(current) >= poll.max_choices:
                raise InvalidInput("poll.error.too_many_choices", max=poll.max_choices)
            return current | {option_id}

        return await self._write_choices(poll, user_id, change)

    async def choose(
        self,
        poll_id: int,
        *,
        user_id: int,
        option_ids: Sequence[int],
        guild_id: int | None = None,
        role_ids: Sequence[int] | None = None,
    ) -> VoteResult:
        """A select menu: the answer becomes exactly ``option_ids`` (1 to ``max_choices``)."""
        poll = await self._checked(poll_id, guild_id, role_ids)
        self._require_choice_kind(poll)
        self._require_quick_poll(poll)
        wanted = set(option_ids)
        if not wanted or any(poll.option(o) is None for o in wanted):
            raise InvalidInput("poll.error.unknown_option")
        if len(wanted) > poll.max_choices:
            raise InvalidInput("poll.error.too_many_choices", max=poll.max_choices)
        return await self._write_choices(poll, user_id, lambda current: wanted)

    async def withdraw(
        self,
        poll_id: int,
        *,
        user_id: int,
        guild_id: int | None = None,
        role_ids: Sequence[int] | None = None,
    ) -> VoteResult:
        """Delete the member's answer; ``changed`` is False when there was none."""
        poll = await self._checked(poll_id, guild_id, role_ids)
        self._require_quick_poll(poll)
        async with self.sessions.begin() as session:
            deleted = await AnswerRepository(session).delete(poll.question_id, user_id)
            poll = await self._ensure_open(session, poll)
        return VoteResult(poll, user_id, withdrawn=True, changed=deleted)

    async def answer_text(
        self,
        poll_id: int,
        *,
        user_id: int,
        text: str,
        guild_id: int | None = None,
        role_ids: Sequence[int] | None = None,
    ) -> VoteResult:
        """An open answer (``text`` kind): create or replace the member's text."""
        poll = await self._checked(poll_id, guild_id, role_ids)
        self._require_quick_poll(poll)
        if poll.kind != "text":
            raise InvalidInput("poll.error.not_text")
        text = (text or "").strip()
        if not text:
            raise InvalidInput("poll.error.text_empty")
        if len(text) > MAX_TEXT_ANSWER:
            raise InvalidInput("poll.error.text_too_long", length=len(text), max=MAX_TEXT_ANSWER)
        now = self.clock()
        async with self.sessions.begin() as session:
            answers = AnswerRepository(session)
            await answers.upsert(poll.question_id, user_id, now=now, text=text, set_text=True)
            poll = await self._ensure_open(session, poll)
        return VoteResult(poll, user_id, text=text)

    async def native_vote(
        self,
        *,
        message_id: int,
        user_id: int,
        answer_id: int,
        added: bool,
        guild_id: int | None = None,
    ) -> VoteResult | None:
        """A native poll's gateway vote (add or remove) into the same answers table.

        ``None`` when the message is not one of our native polls, the answer is unknown or the
        poll is closed.  Events for one (message, member) are applied in arrival order."""
        key = (message_id, user_id)
        entry = self._locks.setdefault(key, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:
                return await self._native_vote(message_id, user_id, answer_id, added, guild_id)
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                self._locks.pop(key, None)

    async def _native_vote(
        self, message_id: int, user_id: int, answer_id: int, added: bool, guild_id: int | None
    ) -> VoteResult | None:
        async with self.sessions() as session:
            row = await PollRepository(session).get_by_message(message_id, native=True)
            poll = None if row is None else _view(row)
        if poll is None or (guild_id is not None and poll.guild_id != guild_id):
            return None
        if not 1 <= answer_id <= len(poll.options) or not poll.is_open:
            return None
        option_id = poll.options[answer_id - 1].id

        def change(current: set[int]) -> set[int]:
            if not added:
                return current - {option_id}
            return current | {option_id} if poll.multiple else {option_id}

        try:
            return await self._write_choices(poll, user_id, change)
        except Conflict:
            return None

    async def reconcile_native(
        self, poll_id: int, votes: dict[int, set[int]], *, remove_missing: bool = True
    ) -> int:
        """Make the stored answers of a native poll equal Discord's voters
        (``{user_id: {answer ids}}``), e.g. at closing, in case gateway events were missed.
        With ``remove_missing=False`` (Discord's list may be partial) answers of members it
        does not list are kept.  Returns the number of members whose answer changed."""
        poll = await self.get(poll_id)
        by_answer = {o.answer_id: o.id for o in poll.options}
        wanted = {
            user_id: {by_answer[a] for a in answer_ids if a in by_answer}
            for user_id, answer_ids in votes.items()
        }
        wanted = {user_id: options for user_id, options in wanted.items() if options}
        now = self.clock()
        changed = 0
        async with self.sessions.begin() as session:
            answers = AnswerRepository(session)
            stored = await answers.users_with_choices(poll.question_id)
            for user_id, options in wanted.items():
                if stored.get(user_id) == options:
                    continue
                answer_id = await answers.upsert(poll.question_id, user_id, now=now)
                await answers.set_choices(answer_id, options)
                changed += 1
            for user_id in stored.keys() - wanted.keys() if remove_missing else ():
                await answers.delete(poll.question_id, user_id)
                changed += 1
        return changed

    # -------------------------------------------------------------------- surveys
    async def survey_progress(
        self,
        poll_id: int,
        user_id: int,
        *,
        guild_id: int | None = None,
        role_ids: Sequence[int] | None = None,
    ) -> SurveyProgress:
        """Where the member is in the survey (the first question without a stored answer is
        the next one), if they may answer it now (guild, status, roles)."""
        poll = await self._checked(poll_id, guild_id, role_ids)
        return await self._progress(poll, user_id)

    async def answer_survey(
        self,
        poll_id: int,
        question_id: int,
        *,
        user_id: int,
        option_ids: Sequence[int] | None = None,
        text: str | None = None,
        guild_id: int | None = None,
        role_ids: Sequence[int] | None = None,
    ) -> SurveyProgress:
        """Store (or replace) the member's answer to one question of a survey — at once, in
        one transaction, with the member type of their profile at this moment — and return
        their progress.  Choice questions take ``option_ids`` (one, or 1 to ``max_choices``
        for multiple choice), open questions ``text``."""
        poll = await self._checked(poll_id, guild_id, role_ids)
        question = poll.question_view(question_id)
        if question is None:
            raise InvalidInput("survey.error.unknown_question")
        now = self.clock()
        if question.kind == "text":
            value = (text or "").strip()
            if not value:
                raise InvalidInput("poll.error.text_empty")
            if len(value) > MAX_TEXT_ANSWER:
                raise InvalidInput("poll.error.text_too_long", length=len(value), max=MAX_TEXT_ANSWER)
            async with self.sessions.begin() as session:
                answers = AnswerRepository(session)
                await answers.upsert(question.id, user_id, now=now, text=value, set_text=True)
                await self._ensure_open(session, poll)
        else:
            wanted = set(option_ids or ())
            if not wanted or any(question.option(o) is None for o in wanted):
                raise InvalidInput("poll.error.unknown_option")
            if len(wanted) > question.max_choices:
                raise InvalidInput("poll.error.too_many_choices", max=question.max_choices)
            async with self.sessions.begin() as session:
                answers = AnswerRepository(session)
                answer_id = await answers.upsert(question.id, user_id, now=now)
                await self._ensure_open(session, poll)
                await answers.set_choices(answer_id, wanted)
        return dataclasses.replace(await self._progress(poll, user_id), saved=question)

    async def _progress(self, poll: PollView, user_id: int) -> SurveyProgress:
        async with self.sessions() as session:
            stored = await AnswerRepository(session).of_user([q.id for q in poll.questions], user_id)
        answers = {}
        for question in poll.questions:
            if question.id in stored:
                option_ids, text = stored[question.id]
                ordered = tuple(o.id for o in question.options if o.id in option_ids)
                answers[question.id] = QuestionAnswer(ordered, text)
        return SurveyProgress(poll, user_id, answers)

    # -------------------------------------------------------------------- closing
    async def close(
        self, poll_id: int, *, guild_id: int | None = None, actor_id: int | None = None
    ) -> CloseResult:
        """Close the poll (idempotent: ``changed`` is False when it was already closed).
        ``actor_id`` is the moderator who closed it (``None``: the deadline)."""
        poll = await self.get(poll_id, guild_id=guild_id)
        async with self.sessions.begin() as session:
            changed = await PollRepository(session).close(poll.id, self.clock())
            if changed:
                AuditRepository(session).record(
                    "poll.close",
                    actor_id=actor_id,
                    target_type="poll",
                    target_id=poll.id,
                    guild_id=poll.guild_id,
                    channel_id=poll.channel_id,
                    details={"by": "moderator" if actor_id is not None else "deadline"},
                )
        self._forget(poll_id)
        return CloseResult(await self.get(poll_id), changed)

    async def claim_reminder(self, poll_id: int) -> PollView | None:
        """Mark the reminder as sent and return the poll, or ``None`` when there is nothing to
        remind (closed, no reminder, already sent, deadline passed)."""
        try:
            poll = await self.get(poll_id)
        except NotFound:
            return None
        now = self.clock()
        if not poll.is_open or poll.reminder_at is None or poll.reminder_sent:
            return None
        if poll.deadline_at is not None and poll.deadline_at <= now:
            return None
        async with self.sessions.begin() as session:
            claimed = await PollRepository(session).mark_reminder_sent(poll_id)
        self._forget(poll_id)
        return dataclasses.replace(poll, reminder_sent=True) if claimed else None

    async def respondent_ids(self, poll_id: int) -> set[int]:
        """Members who answered the poll (at least one question of a survey)."""
        poll = await self.get(poll_id)
        async with self.sessions() as session:
            return await AnswerRepository(session).respondent_ids({poll.question_id, *(q.id for q in poll.questions)})

    async def release_reminder(self, poll_id: int) -> None:
        """The reminder could not be posted: let the next start-up try again."""
        async with self.sessions.begin() as session:
            await PollRepository(session).mark_reminder_sent(poll_id, False)
        self._forget(poll_id)

    # -------------------------------------------------------------------- results
    async def results(
        self, poll_id: int, *, guild_id: int | None = None, text_limit: int = 20
    ) -> PollResults:
        """Counts per option (SQL ``GROUP BY``), percentages of respondents, the breakdown by
        member type, and — named polls only — who chose what; for every question of a survey."""
        if not 0 < poll_id <= _MAX_ID:
            raise NotFound("poll.error.unknown_poll")
        async with self.sessions() as session:
            row = await PollRepository(session).get(poll_id)
            if row is None:
                raise NotFound("poll.error.unknown_poll")
            poll = _view(row)
            self._check_guild(poll, guild_id)
            answers = AnswerRepository(session)
            questions = tuple(
                [await self._question_results(answers, poll, q, text_limit) for q in poll.questions]
            )
            if poll.is_survey:
                people, completed = await answers.respondents_across(q.id for q in poll.questions)
            else:
                people = completed = questions[0].respondents
        first = questions[0]
        return PollResults(
            poll=poll,
            respondents=first.respondents,
            options=first.options,
            by_type=first.by_type,
            voters=first.voters,
            texts=first.texts,
            questions=questions,
            survey_respondents=people,
            completed=completed,
        )

    async def _question_results(
        self, answers: AnswerRepository, poll: PollView, question: QuestionView, text_limit: int
    ) -> QuestionResults:
        respondents = await answers.respondents(question.id)
        counts = await answers.counts(question.id)
        typed = await answers.counts_by_member_type(question.id)
        typed_respondents = await answers.respondents_by_member_type(question.id)
        voters = {} if poll.anonymous else await answers.voters(question.id)
        texts = await answers.texts(question.id, limit=text_limit) if question.kind == "text" else []
        options = tuple(
            OptionCount(
                o.id,
                o.label,
                counts.get(o.id, 0),
                100.0 * counts.get(o.id, 0) / respondents if respondents else 0.0,
            )
            for o in question.options
        )
        order = {t.code: i for i, t in enumerate(self.member_types)}
        codes = sorted(typed_respondents, key=lambda c: (c is None, order.get(c, len(order)), c or ""))
        by_type = tuple(
            TypeBreakdown(
                code, typed_respondents[code], tuple(typed.get((code, o.id), 0) for o in question.options)
            )
            for code in codes
        )
        return QuestionResults(
            question=question,
            respondents=respondents,
            options=options,
            by_type=by_type,
            voters={o: tuple(users) for o, users in voters.items()},
            texts=tuple(TextAnswer(None if poll.anonymous else u, text, mt) for u, text, mt in texts),
        )

    def type_table(self, results: QuestionResults | PollResults, lang: str) -> TypeTable:
        """Results by member type as a table (member type labels in ``lang``); percentages
        are of each type's respondents (multiple choice: a row can sum past 100)."""

        def cells(counts: Sequence[int], total: int) -> tuple[tuple[int, float], ...]:
            return tuple((n, 100.0 * n / total if total else 0.0) for n in counts)

        rows = tuple(
            (self.member_type_label(b.code, lang), b.respondents, cells(b.counts, b.respondents))
            for b in results.by_type
        )
        total = (
            self.catalogue.t("poll.results.total", lang),
            results.respondents,
            cells([o.count for o in results.options], results.respondents),
        )
        return TypeTable(tuple(o.label for o in results.options), rows, total)

    # -------------------------------------------------------------------- internals
    def _remember(self, poll: PollView) -> None:
        self._structures[poll.id] = poll
        self._structures.move_to_end(poll.id)
        while len(self._structures) > _STRUCTURE_CACHE:
            self._structures.popitem(last=False)

    def _forget(self, poll_id: int) -> None:
        self._structures.pop(poll_id, None)

    async def _structure(self, poll_id: int) -> PollView:
        """The poll's options and rules (immutable after creation), cached; the status is
        re-read inside each vote's transaction."""
        poll = self._structures.get(poll_id)
        if poll is None:
            poll = await self.get(poll_id)
        return poll

    @staticmethod
    def _check_guild(poll: PollView, guild_id: int | None) -> None:
        if guild_id is not None and poll.guild_id != guild_id:
            raise Forbidden("poll.error.wrong_guild")

    async def _checked(self, poll_id: int, guild_id: int | None, role_ids: Sequence[int] | None) -> PollView:
        poll = await self._structure(poll_id)
        self._check_guild(poll, guild_id)
        if not poll.is_open:
            raise Conflict("poll.error.closed")
        if poll.allowed_role_ids and role_ids is not None and not set(poll.allowed_role_ids) & set(role_ids):
            raise Forbidden("poll.error.role_restricted")
        return poll

    @staticmethod
    def _require_choice_kind(poll: PollView) -> None:
        if poll.kind == "text":
            raise InvalidInput("poll.error.text_only")

    @staticmethod
    def _require_quick_poll(poll: PollView) -> None:
        if poll.is_survey:
            raise InvalidInput("survey.error.use_survey")

    async def _ensure_open(self, session: AsyncSession, poll: PollView) -> PollView:
        """Inside the vote's transaction: the poll is still open (shared row lock on
        PostgreSQL), else :class:`Conflict` and the transaction rolls back."""
        state = await PollRepository(session).status(poll.id, lock=True)
        if state is None:
            self._forget(poll.id)
            raise NotFound("poll.error.unknown_poll")
        status, deadline_at = state
        if status != "open" or (deadline_at is not None and deadline_at <= self.clock()):
            self._forget(poll.id)
            raise Conflict("poll.error.closed")
        return poll

    @contextlib.asynccontextmanager
    async def _vote_transaction(self) -> AsyncIterator[Any]:
        """The batch's transaction: on the engine's connection when the session factory is
        bound to an engine (the vote path only runs Core statements, so the ORM session's own
        bookkeeping is skipped), else in a session."""
        bind = self.sessions.kw.get("bind")
        if isinstance(bind, AsyncEngine):
            async with bind.begin() as conn:
                yield _OnConnection(conn)
        else:
            async with self.sessions.begin() as session:
                yield session

    async def _write_choices(
        self, poll: PollView, user_id: int, change: Callable[[set[int]], set[int]]
    ) -> VoteResult:
        """Queue the change (group commit): the flush task writes every queued vote of a batch
        in one transaction and resolves each vote's future after the commit."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[VoteResult] = loop.create_future()
        self._queue.append(_PendingVote(poll, user_id, change, future))
        flusher = self._flusher
        if flusher is None or flusher.done() or flusher.get_loop() is not loop:
            # no idle task: the vote that finds no flush running starts one; it drains the
            # queue (votes queued meanwhile included) and ends as soon as the queue is empty
            self._flusher = loop.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        while self._queue:
            batch = self._queue[:_MAX_BATCH]
            del self._queue[:_MAX_BATCH]
            try:
                outcomes = await self._write_batch(batch)
            except BaseException as exc:  # the transaction failed: every vote of it failed
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(exc)
                if not isinstance(exc, Exception):
                    for pending in self._queue:
                        if not pending.future.done():
                            pending.future.set_exception(exc)
                    self._queue.clear()
                    raise
                continue
            for pending, outcome in zip(batch, outcomes, strict=True):
                if pending.future.done():  # the caller was cancelled
                    continue
                if isinstance(outcome, BaseException):
                    pending.future.set_exception(outcome)
                else:
                    pending.future.set_result(outcome)

    async def _write_batch(self, batch: list[_PendingVote]) -> list[VoteResult | Exception]:
        """One transaction for the batch: each poll's status once (shared row lock on
        PostgreSQL), one upsert of every distinct (question, member) answer, one read of their
        choices, the changes applied in arrival order in memory (a change that raises fails
        only its vote), then one rewrite of the choices that changed."""
        now = self.clock()
        outcomes: list[VoteResult | Exception | None] = [None] * len(batch)
        async with self._vote_transaction() as session:
            answers = AnswerRepository(session)
            refused: dict[int, Exception | None] = {}
            for poll in {pending.poll.id: pending.poll for pending in batch}.values():
                try:
                    await self._ensure_open(session, poll)
                    refused[poll.id] = None
                except (Conflict, NotFound) as exc:
                    refused[poll.id] = exc
            live = []
            for index, pending in enumerate(batch):
                error = refused[pending.poll.id]
                if error is None:
                    live.append(index)
                else:
                    outcomes[index] = error
            if live:
                keys = list(dict.fromkeys((batch[i].poll.question_id, batch[i].user_id) for i in live))
                if len(keys) == 1:
                    question_id, user_id = keys[0]
                    answer_of = {keys[0]: await answers.upsert(question_id, user_id, now=now)}
                else:
                    types = await answers.member_types_of(u for _, u in keys)
                    answer_of = await answers.upsert_many(keys, now=now, member_types=types)
                stored = await answers.choices_of(answer_of.values())
                current = {answer_id: set(options) for answer_id, options in stored.items()}
                for index in live:
                    pending = batch[index]
                    answer_id = answer_of[(pending.poll.question_id, pending.user_id)]
                    before = current[answer_id]
                    try:
                        wanted = set(pending.change(set(before)))
                    except Exception as exc:  # e.g. InvalidInput (too many choices): this vote only
                        outcomes[index] = exc
                        continue
                    current[answer_id] = wanted
                    outcomes[index] = VoteResult(
                        pending.poll,
                        pending.user_id,
                        self._ordered(pending.poll, wanted),
                        withdrawn=not wanted,
                        changed=wanted != before,
                    )
                # answers created for votes that all failed have no choice: deleted again
                await answers.replace_choices(
                    {a: options for a, options in current.items() if options != stored[a] or not options}
                )
        return outcomes  # type: ignore[return-value]

    @staticmethod
    def _ordered(poll: PollView, option_ids: Iterable[int]) -> tuple[int, ...]:
        chosen = set(option_ids)
        return tuple(o.id for o in poll.options if o.id in chosen)
