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
change and a future.  The vote that finds nothing writing writes the queue's first batch itself
(up to ``_MAX_BATCH`` votes: its own and any queued meanwhile); what is queued during a write is
left to a flush task, which drains the queue and ends.  A batch is one round trip to the database
(:mod:`storage.repositories.votes`): the poll's status checked atomically with the writes (under
the write lock taken first on SQLite, ``BEGIN IMMEDIATE``; a shared row lock in the same
statement on PostgreSQL), so a close that commits first wins and a close that comes later waits;
one answer per (question, member) — a unique constraint, so concurrent double clicks end as one
answer —; every change applied in arrival order (a change that raises, e.g. too many choices,
fails only its own vote).  Each vote's future is resolved after the commit (or failed with the
transaction).  The member type is copied from the member's profile at that moment.

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
