"""The poll service: one object, its work split by responsibility (one module each)."""

from __future__ import annotations

from bot.services.polls.answering import SurveyAnswering
from bot.services.polls.closing import Closing
from bot.services.polls.drafts import Drafting
from bot.services.polls.results import Tallying
from bot.services.polls.voting import Voting

__all__ = ["PollService"]


class PollService(Drafting, Voting, SurveyAnswering, Closing, Tallying):
    """Polls and surveys without Discord.  State and shared checks: :class:`.core.PollCore`;
    creation: :class:`.drafts.Drafting`; votes (group commit): :class:`.voting.Voting`; a
    survey's answers: :class:`.answering.SurveyAnswering`; closing and reminders:
    :class:`.closing.Closing`; results: :class:`.results.Tallying`.  Each kind's rules come
    from :mod:`.kinds`."""
