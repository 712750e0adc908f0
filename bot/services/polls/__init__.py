"""Quick polls and surveys: the rules, without Discord.

What a moderator types is checked here (:meth:`PollService.prepare` → :class:`PollDraft` or
:class:`~bot.errors.InvalidInput` with a catalogue key); votes, withdrawals, open answers,
native-poll gateway votes, closing and results are transactions over the repositories, and
every answer is a plain dataclass.  The cogs (``cogs/polls/``) turn them into messages; a
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
status read under the write lock on SQLite (the transaction starts with ``BEGIN IMMEDIATE``)
or a shared row lock on PostgreSQL, so the status check and the writes are atomic (a close that
commits first wins; a close that comes later waits), one upsert of the (question, member) answers — a unique constraint, so concurrent double
clicks end as one answer — one read of their choices, every change applied in arrival order in
memory (a change that raises, e.g. too many choices, fails only its own vote), then one rewrite
of the choices that changed.  Each vote's future is resolved after the commit (or failed with
the transaction).  The member type is copied from the member's profile at that moment.

The package, one job per module: :mod:`.kinds` (the registry of poll kinds: options, how an
answer changes, tally, export columns, native poll), :mod:`.views` (the plain dataclasses),
:mod:`.core` (settings, labels, reading, the checks every answer path shares), :mod:`.drafts`
(parsing and checking creation input, storing a poll), :mod:`.voting` (the vote path and its
group commit), :mod:`.answering` (a survey's answers), :mod:`.closing` (closing, reminders),
:mod:`.results` (tallies, results by member type); :mod:`.service` assembles
:class:`PollService`.
"""

from __future__ import annotations

from bot.services.poll_rules import (
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
from bot.services.polls.drafts import parse_deadline, parse_duration, parse_options
from bot.services.polls.kinds import PollKind, kind_of
from bot.services.polls.service import PollService
from bot.services.polls.views import (
    CloseResult,
    OptionCount,
    OptionView,
    PollDraft,
    PollListing,
    PollResults,
    PollView,
    QuestionAnswer,
    QuestionResults,
    QuestionView,
    SurveyProgress,
    TextAnswer,
    TypeBreakdown,
    TypeTable,
    VoteResult,
)

__all__ = [
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
    "PollKind",
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
    "kind_of",
    "parse_deadline",
    "parse_duration",
    "parse_options",
]
