"""The modals of polls and surveys.

* :class:`TextAnswerModal`: a quick poll's open answer (``text`` kind).
* :class:`SurveyTextModal`: a survey's open answer.  Sent, then dropped from discord.py's modal
  store: its submission (custom_id ``rb:survey:text:<poll>:<question>:<member>``, matched by
  :data:`TEXT_MODAL`) is handled from the raw interaction by the survey flow, so a modal opened
  before a restart still saves.
* :class:`SurveyCreateModal`: the moderator's survey; a refused text comes back with a button
  that reopens the modal holding what was typed.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord

from bot.services.polls import MAX_TEXT_ANSWER, PollView, QuestionView
from cogs._components import ID
from cogs._errors import ReportingModal, RetryingModal
from cogs.polls._common import clip as _clip
from cogs.polls.components import _polls

if TYPE_CHECKING:
    from cogs.polls.commands import Polls

TEXT_MODAL = re.compile(rf"^rb:survey:text:(?P<poll>{ID}):(?P<question>{ID}):(?P<user>{ID})$")


def _open_answer(
    modal: discord.ui.Modal, label: str, question: str, current: str | None
) -> discord.ui.TextInput[Any]:
    """The open-answer field (custom_id ``answer``), added to ``modal`` under its label with the
    question beneath; ``current`` is the member's answer so far."""
    answer: discord.ui.TextInput[Any] = discord.ui.TextInput(
        custom_id="answer",
        style=discord.TextStyle.paragraph,
        max_length=MAX_TEXT_ANSWER,
        required=True,
        default=current,
    )
    modal.add_item(discord.ui.Label(text=label, description=_clip(question, 100), component=answer))
    return answer


class TextAnswerModal(ReportingModal):
    """The open answer; its custom_id is per poll and member so that two members answering at
    the same time do not replace each other's modal in discord.py's store."""

    def __init__(self, poll: PollView, lang: str, user_id: int, current: str | None, t: Any) -> None:
        super().__init__(
            title=t("poll.modal.title", lang),
            custom_id=f"rb:poll:text:{poll.id}:{user_id}",
            timeout=900,
        )
        self.poll_id = poll.id
        self.answer = _open_answer(self, t("poll.modal.label", lang), poll.question, current)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await _polls(interaction).on_text_submit(interaction, self.poll_id, self.answer.value)


class SurveyTextModal(discord.ui.Modal):
    """An open question's answer.  Sent, then dropped from discord.py's modal store: the
    submission is handled by :meth:`SurveyFlow.on_modal_interaction` (restart-proof)."""

    def __init__(
        self,
        poll_id: int,
        question: QuestionView,
        total: int,
        user_id: int,
        lang: str,
        current: str | None,
        t: Any,
    ) -> None:
        super().__init__(
            title=_clip(t("survey.modal.answer_title", lang, number=question.number, total=total), 45),
            custom_id=f"rb:survey:text:{poll_id}:{question.id}:{user_id}",
            timeout=None,
        )
        self.answer = _open_answer(self, t("survey.modal.answer_label", lang), question.text, current)


class SurveyCreateModal(RetryingModal):
    """The moderator's survey: a title and the questions in the compact text format (a mistake
    in it is said with « Corriger le questionnaire », which reopens it as typed)."""

    retry_label = "survey.modal.retry"

    def __init__(
        self,
        cog: Polls,
        lang: str,
        user_id: int,
        options: dict[str, Any],
        *,
        title: str | None = None,
        questions: str | None = None,
    ) -> None:
        t = cog.t
        super().__init__(
            title=t("survey.modal.title", lang), custom_id=f"rb:survey:new:{user_id}", timeout=1800
        )
        self.cog = cog
        self.lang, self.user_id = lang, user_id
        self.options = options
        def field(name: str, style: discord.TextStyle, max_length: int, default: str | None):
            return discord.ui.TextInput(
                custom_id=name, style=style, max_length=max_length, required=True,
                placeholder=t(f"survey.modal.{name}_placeholder", lang), default=default,
            )

        self.title_input: discord.ui.TextInput[SurveyCreateModal] = field(
            "title", discord.TextStyle.short, 200, title)
        self.questions_input: discord.ui.TextInput[SurveyCreateModal] = field(
            "questions", discord.TextStyle.paragraph, 4000, questions)
        self.add_item(discord.ui.Label(text=t("survey.modal.title_label", lang), component=self.title_input))
        self.add_item(
            discord.ui.Label(
                text=t("survey.modal.questions_label", lang),
                description=t("survey.modal.questions_description", lang),
                component=self.questions_input,
            )
        )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await self.cog.on_survey_submit(
            interaction, self.title_input.value, self.questions_input.value, self.options
        )

    def again(self) -> SurveyCreateModal:
        """A mistake in the text: the creation form again, holding what the moderator typed."""
        return SurveyCreateModal(self.cog, self.lang, self.user_id, self.options,
                                 title=self.title_input.value, questions=self.questions_input.value)


def modal_value(components: Any, custom_id: str) -> str | None:
    """The value of the input ``custom_id`` in a raw modal submission (inputs may be nested in
    action rows or labels)."""
    stack = list(components or [])
    while stack:
        component = stack.pop(0)
        if not isinstance(component, dict):
            continue
        if component.get("custom_id") == custom_id and "value" in component:
            return str(component.get("value") or "")
        stack.extend(component.get("components") or [])
        if isinstance(component.get("component"), dict):
            stack.append(component["component"])
    return None


