"""The persistent components of polls and surveys: :class:`discord.ui.DynamicItem`\\ s whose
``custom_id`` carries what they need, so that a click works after a restart with nothing
re-registered (``setup`` registers them once with ``bot.add_dynamic_items``).

* Polls: ``rb:poll:<action>:<poll>[:<option>|:<rank>]`` — vote, select, rank, withdraw, answer.
* Surveys: ``rb:survey:<action>:<poll>[:<question>[:<option>|:<rank>]]`` — start, pick, select,
  rank, write, edit, summary.

Each callback hands its work to the Polls cog (polls) or its survey flow (surveys), which reload
the poll and check its guild, status and role restriction; discord.py only logs an exception
raised by a DynamicItem callback, so every callback goes through ``guarded`` (the one error
path).  Which items a poll's kind shows is said in :mod:`cogs.polls.kinds`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord

from cogs._components import ID, AnswerSelect, IdButton
from cogs._errors import guarded

if TYPE_CHECKING:
    from cogs.polls.commands import Polls
    from cogs.polls.surveys import SurveyFlow


def _polls(interaction: discord.Interaction) -> Polls:
    cog = interaction.client.get_cog("Polls")  # type: ignore[union-attr]
    if cog is None:  # pragma: no cover - the extension is always loaded with its items
        raise RuntimeError("the Polls cog is not loaded")
    return cog  # type: ignore[return-value]


def _flow(interaction: discord.Interaction) -> SurveyFlow:
    return _polls(interaction).surveys


# ----------------------------------------------------------------------------- polls
class VoteButton(IdButton, template=rf"rb:poll:vote:(?P<poll_id>{ID}):(?P<option_id>{ID})"):
    """One option of a poll with at most five options (single or multiple choice)."""

    prefix = "rb:poll:vote"
    ids = ("poll_id", "option_id")
    style = discord.ButtonStyle.primary
    option_id: int

    async def callback(self, interaction: discord.Interaction) -> None:
        await guarded(interaction, _polls(interaction).on_vote(interaction, self.poll_id, self.option_id))


class VoteSelect(AnswerSelect, template=rf"rb:poll:select:(?P<poll_id>{ID})"):
    """The options of a poll with more than five options (``max_values`` = the poll's maximum)."""

    prefix = "rb:poll:select"

    async def callback(self, interaction: discord.Interaction) -> None:
        values = list(self.item.values)
        await guarded(interaction, _polls(interaction).on_select(interaction, self.poll_id, values))


class RankSelect(AnswerSelect, template=rf"rb:poll:rank:(?P<poll_id>{ID}):(?P<rank>[1-9])"):
    """One rank of an ordered poll (a ranking): the option chosen here takes that rank."""

    prefix = "rb:poll:rank"
    ids = ("poll_id", "rank")
    rank: int

    async def callback(self, interaction: discord.Interaction) -> None:
        values = list(self.item.values)
        await guarded(interaction, _polls(interaction).on_rank(interaction, self.poll_id, self.rank, values))


class WithdrawButton(IdButton, template=rf"rb:poll:withdraw:(?P<poll_id>{ID})"):
    prefix = "rb:poll:withdraw"

    async def callback(self, interaction: discord.Interaction) -> None:
        await guarded(interaction, _polls(interaction).on_withdraw(interaction, self.poll_id))


class AnswerButton(IdButton, template=rf"rb:poll:answer:(?P<poll_id>{ID})"):
    """Opens the open-answer modal (``text`` kind)."""

    prefix = "rb:poll:answer"
    style = discord.ButtonStyle.primary

    async def callback(self, interaction: discord.Interaction) -> None:
        await guarded(interaction, _polls(interaction).on_answer_button(interaction, self.poll_id))


# ----------------------------------------------------------------------------- surveys
class SurveyStartButton(IdButton, template=rf"rb:survey:start:(?P<poll_id>{ID})"):
    """On the public message: start or resume the member's flow."""

    prefix = "rb:survey:start"
    style = discord.ButtonStyle.primary
    emoji = "📋"

    async def callback(self, interaction: discord.Interaction) -> None:
        await guarded(interaction, _flow(interaction).on_start(interaction, self.poll_id))


class SurveyPickButton(
    IdButton, template=rf"rb:survey:pick:(?P<poll_id>{ID}):(?P<question_id>{ID}):(?P<option_id>{ID})"
):
    """One option of a single-answer question (at most five options); the member's current
    choice is green."""

    prefix = "rb:survey:pick"
    ids = ("poll_id", "question_id", "option_id")
    style = discord.ButtonStyle.primary
    question_id: int
    option_id: int

    def __init__(self, *ids: int, label: str = "…", chosen: bool = False, row: int | None = None) -> None:
        super().__init__(*ids, label=label, row=row, style=discord.ButtonStyle.success if chosen else None)

    async def callback(self, interaction: discord.Interaction) -> None:
        await guarded(
            interaction,
            _flow(interaction).on_pick(interaction, self.poll_id, self.question_id, self.option_id),
        )


class SurveySelect(AnswerSelect, template=rf"rb:survey:select:(?P<poll_id>{ID}):(?P<question_id>{ID})"):
    """A multiple-choice question, or a single-answer one with more than five options."""

    prefix = "rb:survey:select"
    ids = ("poll_id", "question_id")
    question_id: int

    async def callback(self, interaction: discord.Interaction) -> None:
        values = list(self.item.values)
        await guarded(
            interaction, _flow(interaction).on_select(interaction, self.poll_id, self.question_id, values)
        )


class SurveyRankSelect(
    AnswerSelect, template=rf"rb:survey:rank:(?P<poll_id>{ID}):(?P<question_id>{ID}):(?P<rank>[1-9])"
):
    """One rank of an ordered question (a ranking) in a survey step."""

    prefix = "rb:survey:rank"
    ids = ("poll_id", "question_id", "rank")
    question_id: int
    rank: int

    async def callback(self, interaction: discord.Interaction) -> None:
        values = list(self.item.values)
        await guarded(
            interaction,
            _flow(interaction).on_rank(interaction, self.poll_id, self.question_id, self.rank, values),
        )


class SurveyWriteButton(IdButton, template=rf"rb:survey:write:(?P<poll_id>{ID}):(?P<question_id>{ID})"):
    """Opens the open-answer modal of a ``text`` question."""

    prefix = "rb:survey:write"
    ids = ("poll_id", "question_id")
    style = discord.ButtonStyle.primary
    question_id: int

    async def callback(self, interaction: discord.Interaction) -> None:
        await guarded(interaction, _flow(interaction).on_write(interaction, self.poll_id, self.question_id))


class SurveyEditButton(IdButton, template=rf"rb:survey:edit:(?P<poll_id>{ID}):(?P<question_id>{ID})"):
    """On the summary: show one question again to change its answer."""

    prefix = "rb:survey:edit"
    ids = ("poll_id", "question_id")
    question_id: int

    async def callback(self, interaction: discord.Interaction) -> None:
        await guarded(interaction, _flow(interaction).on_edit(interaction, self.poll_id, self.question_id))


class SurveySummaryButton(IdButton, template=rf"rb:survey:summary:(?P<poll_id>{ID})"):
    """Back from a question to the summary (when every question has an answer)."""

    prefix = "rb:survey:summary"

    async def callback(self, interaction: discord.Interaction) -> None:
        await guarded(interaction, _flow(interaction).on_summary(interaction, self.poll_id))


DYNAMIC_ITEMS = (
    VoteButton,
    VoteSelect,
    RankSelect,
    WithdrawButton,
    AnswerButton,
    SurveyStartButton,
    SurveyPickButton,
    SurveySelect,
    SurveyRankSelect,
    SurveyWriteButton,
    SurveyEditButton,
    SurveySummaryButton,
)
