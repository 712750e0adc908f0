"""Quick surveys on Discord: each member's flow of ephemeral steps ("Question 2/5 — …", then a
summary with a way to change an answer), started by the public "Answer the survey" button.

The rules are the poll service's (``PollService.survey_progress`` / ``answer_survey``); this
module only renders steps and turns clicks into service calls.  Steps are in the member's
language, the survey's wording included where it has one in that language (built-in options —
yes/no, Likert… — always; a moderator's options and questions when translated), asked of the
service with ``lang``.

* Every component is a :class:`discord.ui.DynamicItem` (:mod:`cogs.polls.components`) whose
  custom_id carries what it needs — ``rb:survey:<action>:<poll>[:<question>[:<option>]]`` — so a
  step shown before a restart still works after it.  Each handler reloads the survey and checks
  its guild, status and role restriction (the service's ``_checked``).
* Progress is derived from the stored answers: the next step is the first question without an
  answer, so an interrupted flow resumes where it stopped, from any device.
* An open question's modal (custom_id ``rb:survey:text:<poll>:<question>:<member>``) is not
  kept in discord.py's modal store: :meth:`SurveyFlow.on_modal_interaction` handles its
  submission from the raw interaction, so a modal opened before a restart still saves.
* A question's components come from its kind's entry in :mod:`cogs.polls.kinds`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord

from bot.errors import InvalidInput
from bot.services.polls import PollView, QuestionView, SurveyProgress
from cogs._components import option_ids
from cogs._errors import ReportingView, guarded
from cogs.polls._common import answerer, row_below
from cogs.polls._common import clip as _clip
from cogs.polls._common import esc as _esc
from cogs.polls.components import SurveyEditButton, SurveySummaryButton
from cogs.polls.kinds import ui_of
from cogs.polls.modals import TEXT_MODAL, SurveyTextModal, modal_value

if TYPE_CHECKING:
    from bot.services.polls import PollService
    from cogs.polls.commands import Polls

COLOUR = 0x2B6CB0


# ----------------------------------------------------------------------------- the flow
class SurveyFlow:
    def __init__(self, cog: Polls) -> None:
        self.cog = cog
        self.bot = cog.bot

    @property
    def service(self) -> PollService:
        return self.cog.service

    def t(self, key: str, lang: str, /, **params: Any) -> str:
        return self.bot.t(key, lang, **params)

    # ------------------------------------------------------------------ handlers
    async def on_start(self, interaction: discord.Interaction, poll_id: int) -> None:
        progress = await self._progress(interaction, poll_id)
        lang = self.bot.lang(interaction)
        resumed = 0 < progress.answered and not progress.done
        embed, view = self.render(progress, lang, resumed=resumed)
        await interaction.response.send_message(embed=embed, view=view, ephemeral=True)

    async def on_pick(
        self, interaction: discord.Interaction, poll_id: int, question_id: int, option_id: int
    ) -> None:
        await self._answer(interaction, poll_id, question_id, option_ids=[option_id])

    async def on_select(
        self, interaction: discord.Interaction, poll_id: int, question_id: int, values: list[str]
    ) -> None:
        await self._answer(interaction, poll_id, question_id, option_ids=option_ids(values))

    async def on_rank(
        self, interaction: discord.Interaction, poll_id: int, question_id: int, rank: int, values: list[str]
    ) -> None:
        """A rank's select of an ordered question: stored at once; the member stays on the
        question (to rank the next option) until "Continue"."""
        progress = await self.service.answer_survey(
            poll_id, question_id, option_ids=option_ids(values)[:1], position=rank, **answerer(interaction),
            lang=self.bot.lang(interaction),
        )
        question = progress.poll.question_view(question_id)
        if question is None:  # pragma: no cover - the service checked it
            raise InvalidInput("survey.error.unknown_question")
        embed, view = self.step(progress, question, self.bot.lang(interaction))
        await interaction.response.edit_message(embed=embed, view=view)
        self.cog.schedule_refresh(progress.poll.id)

    async def on_write(self, interaction: discord.Interaction, poll_id: int, question_id: int) -> None:
        progress = await self._progress(interaction, poll_id)
        question = progress.poll.question_view(question_id)
        if question is None:
            raise InvalidInput("survey.error.unknown_question")
        if not ui_of(question.kind).free_text:
            raise InvalidInput("poll.error.not_text")
        current = progress.answers.get(question.id)
        modal = SurveyTextModal(
            poll_id,
            question,
            progress.total,
            interaction.user.id,
            self.bot.lang(interaction),
            current.text if current else None,
            self.t,
        )
        await interaction.response.send_modal(modal)
        modal.stop()  # handled by on_modal_interaction, also after a restart

    async def on_modal_interaction(self, interaction: discord.Interaction) -> bool:
        """A submitted open-answer modal (``True`` when it was one of ours)."""
        if interaction.type is not discord.InteractionType.modal_submit:
            return False
        data: dict[str, Any] = interaction.data or {}  # type: ignore[assignment]
        match = TEXT_MODAL.match(str(data.get("custom_id", "")))
        if match is None:
            return False
        text = modal_value(data.get("components"), "answer") or ""
        await guarded(
            interaction, self._save_text(interaction, int(match["poll"]), int(match["question"]), text)
        )
        return True

    async def _save_text(
        self, interaction: discord.Interaction, poll_id: int, question_id: int, text: str
    ) -> None:
        await self._answer(interaction, poll_id, question_id, text=text)

    async def _answer(
        self, interaction: discord.Interaction, poll_id: int, question_id: int, **answer: Any
    ) -> None:
        """Save one answer of the member (``option_ids`` or ``text``) and show the next step."""
        progress = await self.service.answer_survey(
            poll_id, question_id, **answer, **answerer(interaction), lang=self.bot.lang(interaction)
        )
        await self._advance(interaction, progress)

    async def on_edit(self, interaction: discord.Interaction, poll_id: int, question_id: int) -> None:
        progress = await self._progress(interaction, poll_id)
        question = progress.poll.question_view(question_id)
        if question is None:
            raise InvalidInput("survey.error.unknown_question")
        embed, view = self.step(progress, question, self.bot.lang(interaction))
        await interaction.response.edit_message(embed=embed, view=view)

    async def on_summary(self, interaction: discord.Interaction, poll_id: int) -> None:
        progress = await self._progress(interaction, poll_id)
        embed, view = self.render(progress, self.bot.lang(interaction))
        await interaction.response.edit_message(embed=embed, view=view)

    async def _progress(self, interaction: discord.Interaction, poll_id: int) -> SurveyProgress:
        progress = await self.service.survey_progress(
            poll_id, **answerer(interaction), lang=self.bot.lang(interaction)
        )
        if not progress.poll.is_survey:
            raise InvalidInput("survey.error.not_survey")
        return progress

    async def _advance(self, interaction: discord.Interaction, progress: SurveyProgress) -> None:
        """After an answer is stored: the same ephemeral message shows the next step."""
        embed, view = self.render(progress, self.bot.lang(interaction))
        await interaction.response.edit_message(embed=embed, view=view)
        self.cog.schedule_refresh(progress.poll.id)

    # ------------------------------------------------------------------ rendering
    def render(
        self, progress: SurveyProgress, lang: str, *, resumed: bool = False
    ) -> tuple[discord.Embed, discord.ui.View]:
        question = progress.next_question
        if question is None:
            return self.summary(progress, lang)
        return self.step(progress, question, lang, resumed=resumed)

    def answer_text(self, progress: SurveyProgress, question: QuestionView, lang: str) -> str:
        answer = progress.answers.get(question.id)
        if answer is None:
            return self.t("survey.summary.no_answer", lang)
        if answer.text is not None:
            return self.t("format.quote", lang, text=_esc(_clip(answer.text, 200)))
        return ", ".join(f"**{_esc(label)}**" for label in progress.labels(question))

    def _title(self, poll: PollView) -> str:
        return _clip(f"📋 {poll.title}", 256)

    def step(
        self, progress: SurveyProgress, question: QuestionView, lang: str, *, resumed: bool = False
    ) -> tuple[discord.Embed, discord.ui.View]:
        poll = progress.poll
        lines: list[str] = []
        if progress.saved is not None:
            lines.append(
                self.t("survey.step.saved", lang, answer=self.answer_text(progress, progress.saved, lang))
            )
        elif resumed:
            lines.append(self.t("survey.step.resume", lang))
        if lines:
            lines.append("")
        lines.append(
            self.t(
                "survey.step.progress",
                lang,
                number=question.number,
                total=progress.total,
                question=_esc(question.text),
            )
        )
        current = progress.answers.get(question.id)
        if current is not None:
            lines.append(
                self.t("survey.step.current", lang, answer=self.answer_text(progress, question, lang))
            )
        ui = ui_of(question.kind)
        lines += ui.step_lines(question)
        view = ReportingView(timeout=None)
        hint, items = ui.step_items(poll.id, question, current, lang, self.t)
        for item in items:
            view.add_item(item)
        lines.append(f"*{hint}*")
        below = row_below(items)  # the row under the kind's
        if progress.done:
            view.add_item(SurveySummaryButton(poll.id, label=self.t("survey.step.back", lang), row=below))
        elif ui.stays_on_step and current is not None:  # "Continue": the next step or the summary
            view.add_item(SurveySummaryButton(poll.id, label=self.t("survey.step.next", lang), row=below))
        embed = discord.Embed(
            title=self._title(poll), description=_clip("\n".join(lines), 4000), colour=COLOUR
        )
        return embed, view

    def summary(self, progress: SurveyProgress, lang: str) -> tuple[discord.Embed, discord.ui.View]:
        poll = progress.poll
        lines: list[str] = []
        if progress.saved is not None:
            lines.append(
                self.t("survey.step.saved", lang, answer=self.answer_text(progress, progress.saved, lang))
            )
        lines += [self.t("survey.summary.done", lang), ""]
        view = ReportingView(timeout=None)
        for question in poll.questions:
            lines.append(f"**{question.number}.** {_esc(_clip(question.text, 300))}")
            lines.append(f"→ {self.answer_text(progress, question, lang)}")
            view.add_item(
                SurveyEditButton(
                    poll.id,
                    question.id,
                    label=self.t("survey.summary.edit", lang, number=question.number),
                    row=0,
                )
            )
        lines += ["", f"*{self.t('survey.summary.change_hint', lang)}*"]
        embed = discord.Embed(
            title=self._title(poll), description=_clip("\n".join(lines), 4000), colour=COLOUR
        )
        return embed, view
