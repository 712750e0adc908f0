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

from typing import TYPE_CHECKING, Any

import discord

from cogs._components import ID, PollIdButton, choice_select
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
class VoteButton(
    discord.ui.DynamicItem[discord.ui.Button], template=rf"rb:poll:vote:(?P<poll>{ID}):(?P<option>{ID})"
):
    """One option of a poll with at most five options (single or multiple choice)."""

    def __init__(self, poll_id: int, option_id: int, *, label: str = "…", row: int | None = None) -> None:
        super().__init__(
            discord.ui.Button(
                label=label,
                style=discord.ButtonStyle.primary,
                custom_id=f"rb:poll:vote:{poll_id}:{option_id}",
            ),
            row=row,
        )
        self.poll_id, self.option_id = poll_id, option_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: Any
    ) -> VoteButton:
        return cls(int(match["poll"]), int(match["option"]), label=getattr(item, "label", None) or "…")

    async def callback(self, interaction: discord.Interaction) -> None:
        await guarded(interaction, _polls(interaction).on_vote(interaction, self.poll_id, self.option_id))


class VoteSelect(discord.ui.DynamicItem[discord.ui.Select], template=rf"rb:poll:select:(?P<poll>{ID})"):
    """The options of a poll with more than five options (``max_values`` = the poll's maximum)."""

    def __init__(
        self,
        poll_id: int,
        *,
        options: list[discord.SelectOption] | None = None,
        max_values: int = 1,
        placeholder: str | None = None,
        row: int | None = None,
    ) -> None:
        super().__init__(
            choice_select(
                f"rb:poll:select:{poll_id}", options, max_values=max_values, placeholder=placeholder
            ),
            row=row,
        )
        self.poll_id = poll_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Select, match: Any
    ) -> VoteSelect:
        # getattr: a forged custom_id may come on another kind of component
        return cls(
            int(match["poll"]),
            options=list(getattr(item, "options", None) or []),
            max_values=getattr(item, "max_values", 1),
            placeholder=getattr(item, "placeholder", None),
        )

    async def callback(self, interaction: discord.Interaction) -> None:
        values = list(self.item.values)
        await guarded(interaction, _polls(interaction).on_select(interaction, self.poll_id, values))


class RankSelect(
    discord.ui.DynamicItem[discord.ui.Select], template=rf"rb:poll:rank:(?P<poll>{ID}):(?P<rank>[1-9])"
):
    """One rank of an ordered poll (a ranking): the option chosen here takes that rank."""

    def __init__(
        self,
        poll_id: int,
        rank: int,
        *,
        options: list[discord.SelectOption] | None = None,
        placeholder: str | None = None,
        row: int | None = None,
    ) -> None:
        super().__init__(
            choice_select(f"rb:poll:rank:{poll_id}:{rank}", options, placeholder=placeholder), row=row
        )
        self.poll_id, self.rank = poll_id, rank

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Select, match: Any
    ) -> RankSelect:
        return cls(
            int(match["poll"]),
            int(match["rank"]),
            options=list(getattr(item, "options", None) or []),
            placeholder=getattr(item, "placeholder", None),
        )

    async def callback(self, interaction: discord.Interaction) -> None:
        values = list(getattr(self.item, "values", []) or [])
        await guarded(interaction, _polls(interaction).on_rank(interaction, self.poll_id, self.rank, values))


class WithdrawButton(PollIdButton, template=rf"rb:poll:withdraw:(?P<poll>{ID})"):
    prefix = "rb:poll:withdraw"

    async def callback(self, interaction: discord.Interaction) -> None:
        await guarded(interaction, _polls(interaction).on_withdraw(interaction, self.poll_id))


class AnswerButton(PollIdButton, template=rf"rb:poll:answer:(?P<poll>{ID})"):
    """Opens the open-answer modal (``text`` kind)."""

    prefix = "rb:poll:answer"
    style = discord.ButtonStyle.primary

    async def callback(self, interaction: discord.Interaction) -> None:
        await guarded(interaction, _polls(interaction).on_answer_button(interaction, self.poll_id))



# ----------------------------------------------------------------------------- surveys
class SurveyStartButton(PollIdButton, template=rf"rb:survey:start:(?P<poll>{ID})"):
    """On the public message: start or resume the member's flow."""

    prefix = "rb:survey:start"
    style = discord.ButtonStyle.primary
    emoji = "📋"

    async def callback(self, interaction: discord.Interaction) -> None:
        await guarded(interaction, _flow(interaction).on_start(interaction, self.poll_id))


class SurveyPickButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=rf"rb:survey:pick:(?P<poll>{ID}):(?P<question>{ID}):(?P<option>{ID})",
):
    """One option of a single-answer question (at most five options)."""

    def __init__(
        self,
        poll_id: int,
        question_id: int,
        option_id: int,
        *,
        label: str = "…",
        chosen: bool = False,
        row: int | None = None,
    ) -> None:
        super().__init__(
            discord.ui.Button(
                label=label,
                style=discord.ButtonStyle.success if chosen else discord.ButtonStyle.primary,
                custom_id=f"rb:survey:pick:{poll_id}:{question_id}:{option_id}",
            ),
            row=row,
        )
        self.poll_id, self.question_id, self.option_id = poll_id, question_id, option_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: Any
    ) -> SurveyPickButton:
        return cls(int(match["poll"]), int(match["question"]), int(match["option"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await guarded(
            interaction,
            _flow(interaction).on_pick(interaction, self.poll_id, self.question_id, self.option_id),
        )


class SurveySelect(
    discord.ui.DynamicItem[discord.ui.Select], template=rf"rb:survey:select:(?P<poll>{ID}):(?P<question>{ID})"
):
    """A multiple-choice question, or a single-answer one with more than five options."""

    def __init__(
        self,
        poll_id: int,
        question_id: int,
        *,
        options: list[discord.SelectOption] | None = None,
        max_values: int = 1,
        placeholder: str | None = None,
        row: int | None = None,
    ) -> None:
        super().__init__(
            choice_select(
                f"rb:survey:select:{poll_id}:{question_id}",
                options,
                max_values=max_values,
                placeholder=placeholder,
            ),
            row=row,
        )
        self.poll_id, self.question_id = poll_id, question_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Select, match: Any
    ) -> SurveySelect:
        # getattr: a forged custom_id may come on another kind of component
        return cls(
            int(match["poll"]),
            int(match["question"]),
            options=list(getattr(item, "options", None) or []),
            max_values=getattr(item, "max_values", 1),
        )

    async def callback(self, interaction: discord.Interaction) -> None:
        values = list(getattr(self.item, "values", []) or [])
        await guarded(
            interaction, _flow(interaction).on_select(interaction, self.poll_id, self.question_id, values)
        )


class SurveyRankSelect(
    discord.ui.DynamicItem[discord.ui.Select],
    template=rf"rb:survey:rank:(?P<poll>{ID}):(?P<question>{ID}):(?P<rank>[1-9])",
):
    """One rank of an ordered question (a ranking) in a survey step."""

    def __init__(
        self,
        poll_id: int,
        question_id: int,
        rank: int,
        *,
        options: list[discord.SelectOption] | None = None,
        placeholder: str | None = None,
        row: int | None = None,
    ) -> None:
        super().__init__(
            choice_select(f"rb:survey:rank:{poll_id}:{question_id}:{rank}", options, placeholder=placeholder),
            row=row,
        )
        self.poll_id, self.question_id, self.rank = poll_id, question_id, rank

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Select, match: Any
    ) -> SurveyRankSelect:
        return cls(
            int(match["poll"]),
            int(match["question"]),
            int(match["rank"]),
            options=list(getattr(item, "options", None) or []),
        )

    async def callback(self, interaction: discord.Interaction) -> None:
        values = list(getattr(self.item, "values", []) or [])
        await guarded(
            interaction,
            _flow(interaction).on_rank(interaction, self.poll_id, self.question_id, self.rank, values),
        )


class _QuestionButton(discord.ui.DynamicItem[discord.ui.Button], template=r"rb:survey:__abstract__"):
    action = ""
    style = discord.ButtonStyle.secondary

    def __init__(self, poll_id: int, question_id: int, *, label: str = "…", row: int | None = None) -> None:
        super().__init__(
            discord.ui.Button(
                label=label, style=self.style, custom_id=f"rb:survey:{self.action}:{poll_id}:{question_id}"
            ),
            row=row,
        )
        self.poll_id, self.question_id = poll_id, question_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: Any
    ) -> Any:
        return cls(int(match["poll"]), int(match["question"]), label=getattr(item, "label", None) or "…")


class SurveyWriteButton(_QuestionButton, template=rf"rb:survey:write:(?P<poll>{ID}):(?P<question>{ID})"):
    """Opens the open-answer modal of a ``text`` question."""

    action = "write"
    style = discord.ButtonStyle.primary

    async def callback(self, interaction: discord.Interaction) -> None:
        await guarded(interaction, _flow(interaction).on_write(interaction, self.poll_id, self.question_id))


class SurveyEditButton(_QuestionButton, template=rf"rb:survey:edit:(?P<poll>{ID}):(?P<question>{ID})"):
    """On the summary: show one question again to change its answer."""

    action = "edit"

    async def callback(self, interaction: discord.Interaction) -> None:
        await guarded(interaction, _flow(interaction).on_edit(interaction, self.poll_id, self.question_id))


class SurveySummaryButton(PollIdButton, template=rf"rb:survey:summary:(?P<poll>{ID})"):
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
