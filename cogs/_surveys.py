"""Quick surveys on Discord: the public "Answer the survey" button and each member's flow of
ephemeral steps ("Question 2/5 — …", then a summary with a way to change an answer).

The rules are the poll service's (``PollService.survey_progress`` / ``answer_survey``); this
module only renders steps and turns clicks into service calls.

* Every component is a :class:`discord.ui.DynamicItem` whose custom_id carries what it needs —
  ``rb:survey:<action>:<poll>[:<question>[:<option>]]`` — so a step shown before a restart
  still works after it.  Each handler reloads the survey and checks its guild, status and role
  restriction (the service's ``_checked``).
* Progress is derived from the stored answers: the next step is the first question without an
  answer, so an interrupted flow resumes where it stopped, from any device.
* An open question's modal (custom_id ``rb:survey:text:<poll>:<question>:<member>``) is not
  kept in discord.py's modal store: :meth:`SurveyFlow.on_modal_interaction` handles its
  submission from the raw interaction, so a modal opened before a restart still saves.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord

from bot.errors import DomainError, InvalidInput
from bot.services.polls import (
    MAX_TEXT_ANSWER,
    PollView,
    QuestionView,
    SurveyProgress,
)
from cogs._components import ID, PollIdButton, choice_select, option_ids
from cogs._errors import ReportingModal, ReportingView, guarded, message_for, report_error

if TYPE_CHECKING:
    from cogs.polls import Polls

MAX_BUTTON_OPTIONS = 5
BUTTON_LABEL_MAX = 80
COLOUR = 0x2B6CB0
TEXT_MODAL = re.compile(rf"^rb:survey:text:(?P<poll>{ID}):(?P<question>{ID}):(?P<user>{ID})$")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _esc(text: str) -> str:
    return discord.utils.escape_markdown(text)


def _role_ids(interaction: discord.Interaction) -> list[int]:
    user = interaction.user
    return [role.id for role in user.roles] if isinstance(user, discord.Member) else []


def _flow(interaction: discord.Interaction) -> SurveyFlow:
    cog = interaction.client.get_cog("Polls")  # type: ignore[union-attr]
    if cog is None:  # pragma: no cover - the extension is always loaded with its items
        raise RuntimeError("the Polls cog is not loaded")
    return cog.surveys  # type: ignore[attr-defined,no-any-return]


# ----------------------------------------------------------------------------- components
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
    SurveyStartButton,
    SurveyPickButton,
    SurveySelect,
    SurveyWriteButton,
    SurveyEditButton,
    SurveySummaryButton,
)


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
        self.answer: discord.ui.TextInput[SurveyTextModal] = discord.ui.TextInput(
            custom_id="answer",
            style=discord.TextStyle.paragraph,
            max_length=MAX_TEXT_ANSWER,
            required=True,
            default=current,
        )
        self.add_item(
            discord.ui.Label(
                text=t("survey.modal.answer_label", lang),
                description=_clip(question.text, 100),
                component=self.answer,
            )
        )


class SurveyCreateModal(ReportingModal):
    """The moderator's survey: a title and the questions in the compact text format."""

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
        self.options = options
        self.title_input: discord.ui.TextInput[SurveyCreateModal] = discord.ui.TextInput(
            custom_id="title",
            style=discord.TextStyle.short,
            max_length=200,
            required=True,
            placeholder=t("survey.modal.title_placeholder", lang),
            default=title,
        )
        self.questions_input: discord.ui.TextInput[SurveyCreateModal] = discord.ui.TextInput(
            custom_id="questions",
            style=discord.TextStyle.paragraph,
            max_length=4000,
            required=True,
            placeholder=t("survey.modal.questions_placeholder", lang),
            default=questions,
        )
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

    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:
        """A mistake in the text: say what is wrong, with a button that reopens the modal
        holding what the moderator typed (nothing is lost)."""
        if not isinstance(error, DomainError) or interaction.response.is_done():
            await report_error(interaction, error)
            return
        bot = self.cog.bot
        lang = bot.lang(interaction)
        retry = _RetryView(self, lang, interaction.user.id)
        try:
            await interaction.response.send_message(message_for(bot, lang, error), view=retry, ephemeral=True)
        except discord.HTTPException:
            await report_error(interaction, error)


class _RetryView(ReportingView):
    """ "Fix the survey": the creation modal again, filled with the text that was refused."""

    def __init__(self, modal: SurveyCreateModal, lang: str, user_id: int) -> None:
        super().__init__(timeout=1800)
        self.modal, self.lang, self.user_id = modal, lang, user_id
        button: discord.ui.Button[_RetryView] = discord.ui.Button(
            label=modal.cog.t("survey.modal.retry", lang), style=discord.ButtonStyle.primary
        )
        button.callback = self.reopen  # type: ignore[method-assign]
        self.add_item(button)

    async def reopen(self, interaction: discord.Interaction) -> None:
        old = self.modal
        await interaction.response.send_modal(
            SurveyCreateModal(
                old.cog,
                self.lang,
                self.user_id,
                old.options,
                title=old.title_input.value,
                questions=old.questions_input.value,
            )
        )


def _modal_value(components: Any, custom_id: str) -> str | None:
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


# ----------------------------------------------------------------------------- the flow
class SurveyFlow:
    def __init__(self, cog: Polls) -> None:
        self.cog = cog
        self.bot = cog.bot

    @property
    def service(self) -> Any:
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
        progress = await self.service.answer_survey(
            poll_id,
            question_id,
            user_id=interaction.user.id,
            option_ids=[option_id],
            guild_id=interaction.guild_id or 0,
            role_ids=_role_ids(interaction),
        )
        await self._advance(interaction, progress)

    async def on_select(
        self, interaction: discord.Interaction, poll_id: int, question_id: int, values: list[str]
    ) -> None:
        progress = await self.service.answer_survey(
            poll_id,
            question_id,
            user_id=interaction.user.id,
            option_ids=option_ids(values),
            guild_id=interaction.guild_id or 0,
            role_ids=_role_ids(interaction),
        )
        await self._advance(interaction, progress)

    async def on_write(self, interaction: discord.Interaction, poll_id: int, question_id: int) -> None:
        progress = await self._progress(interaction, poll_id)
        question = progress.poll.question_view(question_id)
        if question is None:
            raise InvalidInput("survey.error.unknown_question")
        if question.kind != "text":
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
        text = _modal_value(data.get("components"), "answer") or ""
        await guarded(
            interaction, self._save_text(interaction, int(match["poll"]), int(match["question"]), text)
        )
        return True

    async def _save_text(
        self, interaction: discord.Interaction, poll_id: int, question_id: int, text: str
    ) -> None:
        progress = await self.service.answer_survey(
            poll_id,
            question_id,
            user_id=interaction.user.id,
            text=text,
            guild_id=interaction.guild_id or 0,
            role_ids=_role_ids(interaction),
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
            poll_id, interaction.user.id, guild_id=interaction.guild_id or 0, role_ids=_role_ids(interaction)
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
            return (
                f"« {_esc(_clip(answer.text, 200))} »"
                if lang == "fr"
                else f"“{_esc(_clip(answer.text, 200))}”"
            )
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
        view = ReportingView(timeout=None)
        if question.kind == "text":
            hint = self.t("survey.step.hint_text", lang)
            label = self.t("survey.step.rewrite" if current else "survey.step.write", lang)
            view.add_item(SurveyWriteButton(poll.id, question.id, label=label, row=0))
        elif not question.multiple and len(question.options) <= MAX_BUTTON_OPTIONS:
            hint = self.t("survey.step.hint_buttons", lang)
            chosen = set(current.option_ids) if current else set()
            for option in question.options:
                view.add_item(
                    SurveyPickButton(
                        poll.id,
                        question.id,
                        option.id,
                        label=_clip(option.label, BUTTON_LABEL_MAX),
                        chosen=option.id in chosen,
                        row=0,
                    )
                )
        else:
            chosen = set(current.option_ids) if current else set()
            if question.multiple:
                hint = self.t("survey.step.hint_select_multi", lang, max=question.max_choices)
                placeholder = self.t("poll.message.select_placeholder_multi", lang, max=question.max_choices)
            else:
                hint = self.t("survey.step.hint_select", lang)
                placeholder = self.t("poll.message.select_placeholder", lang)
            options = [
                discord.SelectOption(label=o.label, value=str(o.id), default=o.id in chosen)
                for o in question.options
            ]
            view.add_item(
                SurveySelect(
                    poll.id,
                    question.id,
                    options=options,
                    max_values=question.max_choices,
                    placeholder=placeholder,
                    row=0,
                )
            )
        lines.append(f"*{hint}*")
        if progress.done:
            view.add_item(SurveySummaryButton(poll.id, label=self.t("survey.step.back", lang), row=1))
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
