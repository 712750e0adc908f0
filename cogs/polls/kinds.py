"""The Discord side of each poll kind, in one mapping (:data:`KIND_UI`): the components a member
answers with (on a poll's public message and in a survey's step) and how the kind's results
read.  The renderers and the components ask the mapping instead of branching on the kind, so a
new kind is one entry here (the service's registry says its rules).

Three shapes cover the six kinds: answers counted per option (``single``, ``multi``,
``yesno``, ``likert``: buttons or a select, bars, charts, tables by member type, who chose
what), an open answer (``text``: a modal, the answers quoted) and an order (``ranking``: one
select per rank, the mean rank and first choices, a mean-rank chart).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import discord

from bot.services import charts
from cogs.polls._common import BAR_CELLS, MAX_BUTTON_OPTIONS, button_label, clip, esc, numbered
from cogs.polls.components import (
    AnswerButton,
    RankSelect,
    SurveyPickButton,
    SurveyRankSelect,
    SurveySelect,
    SurveyWriteButton,
    VoteButton,
    VoteSelect,
)

if TYPE_CHECKING:
    from bot.services.polls import (
        PollResults,
        PollView,
        QuestionAnswer,
        QuestionResults,
        QuestionView,
        VoteResult,
    )

Translate = Callable[..., str]  # ``t(key, lang, **params)``


class KindUI:
    """A kind whose answers are counted per option (the default shape)."""

    tallied = True  # counts per option: bars, a chart, the table by member type, who chose what
    free_text = False  # answered in a modal (``poll.error.not_text`` otherwise)
    stays_on_step = False  # a survey step stays on the question after an answer (until "Continue")
    how_to = "poll.message.how_to"  # the public message's footer hint

    # ------------------------------------------------------------------ components
    def message_items(self, poll: PollView, t: Translate) -> list[discord.ui.Item[Any]]:
        """The first row of a quick poll's public message (the withdraw button follows)."""
        lang = poll.lang
        if len(poll.options) <= MAX_BUTTON_OPTIONS:
            numbers = numbered(o.label for o in poll.options)
            return [
                VoteButton(poll.id, option.id, label=button_label(n, option.label, numbered=numbers), row=0)
                for n, option in enumerate(poll.options, start=1)
            ]
        placeholder = (
            t("poll.message.select_placeholder_multi", lang, max=poll.max_choices)
            if poll.multiple
            else t("poll.message.select_placeholder", lang)
        )
        options = [discord.SelectOption(label=o.label, value=str(o.id)) for o in poll.options]
        return [VoteSelect(poll.id, options=options, max_values=poll.max_choices, placeholder=placeholder, row=0)]

    def step_lines(self, question: QuestionView) -> list[str]:
        """What a survey step lists under the question: each option in full after its number
        when one of them does not fit its button (:func:`numbered`), else nothing."""
        if question.multiple or len(question.options) > MAX_BUTTON_OPTIONS:
            return []  # a select menu: its 100-character labels hold any option
        if not numbered(o.label for o in question.options):
            return []
        return [f"**{n}.** {esc(o.label)}" for n, o in enumerate(question.options, start=1)]

    def step_items(
        self, poll_id: int, question: QuestionView, current: QuestionAnswer | None, lang: str, t: Translate
    ) -> tuple[str, list[discord.ui.Item[Any]]]:
        """A survey step: the hint under the question and the first row of components."""
        chosen = set(current.option_ids) if current else set()
        if not question.multiple and len(question.options) <= MAX_BUTTON_OPTIONS:
            numbers = numbered(o.label for o in question.options)
            buttons: list[discord.ui.Item[Any]] = [
                SurveyPickButton(
                    poll_id,
                    question.id,
                    option.id,
                    label=button_label(n, option.label, numbered=numbers),
                    chosen=option.id in chosen,
                    row=0,
                )
                for n, option in enumerate(question.options, start=1)
            ]
            return t("survey.step.hint_buttons", lang), buttons
        if question.multiple:
            hint = t("survey.step.hint_select_multi", lang, max=question.max_choices)
            placeholder = t("poll.message.select_placeholder_multi", lang, max=question.max_choices)
        else:
            hint = t("survey.step.hint_select", lang)
            placeholder = t("poll.message.select_placeholder", lang)
        options = [
            discord.SelectOption(label=o.label, value=str(o.id), default=o.id in chosen) for o in question.options
        ]
        select = SurveySelect(
            poll_id, question.id, options=options, max_values=question.max_choices, placeholder=placeholder, row=0
        )
        return hint, [select]

    # ------------------------------------------------------------------ results
    def message_lines(
        self, poll: PollView, results: PollResults | None, *, show_counts: bool, final: bool, t: Translate
    ) -> list[str]:
        """A quick poll's public message under the question: the options, with a bar and the
        count when counts are shown."""
        lang = poll.lang
        respondents = results.respondents if results else 0
        counts = {o.option_id: o.count for o in results.options} if results else {}
        numbers = len(poll.options) <= MAX_BUTTON_OPTIONS and numbered(o.label for o in poll.options)
        lines = []
        for n, option in enumerate(poll.options, start=1):
            label = f"**{n}.** {esc(option.label)}" if numbers else esc(option.label)
            if show_counts:
                count = counts.get(option.id, 0)
                share = count / respondents if respondents else 0.0
                filled = round(share * BAR_CELLS)
                bar = "█" * filled + "░" * (BAR_CELLS - filled)
                lines.append(f"{label}\n`{bar}` {charts.format_count_pct(count, respondents, lang)}")
            else:
                lines.append(label if numbers else f"• {label}")
        return lines

    def results_lines(
        self, results: PollResults | QuestionResults, lang: str, t: Translate, *, label_clip: int | None = None
    ) -> list[str]:
        """What a moderator reads under the question: each option's label, then its
        :meth:`option_result`."""
        return [
            f"{esc(option.label if label_clip is None else clip(option.label, label_clip))} — "
            f"{self.option_result(option, results, lang, t)}"
            for option in results.options
        ]

    def option_result(self, option: Any, results: PollResults | QuestionResults, lang: str, t: Translate) -> str:
        """One option's result: its count and percentage."""
        return charts.format_count_pct(option.count, results.respondents, lang)

    def survey_lines(self, results: QuestionResults, lang: str, t: Translate, *, final: bool) -> list[str]:
        """A survey question's results (one embed per question), each option in full."""
        return self.results_lines(results, lang, t)

    def vote_line(self, result: VoteResult, lang: str, t: Translate) -> str:
        """The member's choice in a vote's acknowledgement."""
        labels = ", ".join(f"**{esc(label)}**" for label in result.labels)
        if result.poll.multiple:
            return t("poll.vote.choices", lang, count=len(result.option_ids), max=result.poll.max_choices,
                     choices=labels)
        return t("poll.vote.choice", lang, choices=labels)

    def chart_png(
        self, results: PollResults | QuestionResults, title: str, lang: str, t: Translate
    ) -> bytes | None:
        """The kind's own results chart, or ``None`` for the counts chart (by member type when
        answers have one) that :func:`cogs.polls.render.chart_png` draws."""
        return None


class TextUI(KindUI):
    """An open answer typed in a modal; the answers are quoted, not counted."""

    tallied = False
    free_text = True
    how_to = "poll.message.how_to_text"

    def message_items(self, poll: PollView, t: Translate) -> list[discord.ui.Item[Any]]:
        return [AnswerButton(poll.id, label=t("poll.message.answer", poll.lang), row=0)]

    def step_items(
        self, poll_id: int, question: QuestionView, current: QuestionAnswer | None, lang: str, t: Translate
    ) -> tuple[str, list[discord.ui.Item[Any]]]:
        label = t("survey.step.rewrite" if current else "survey.step.write", lang)
        return t("survey.step.hint_text", lang), [SurveyWriteButton(poll_id, question.id, label=label, row=0)]

    def message_lines(
        self, poll: PollView, results: PollResults | None, *, show_counts: bool, final: bool, t: Translate
    ) -> list[str]:
        return [t("poll.message.text_answers", poll.lang)] if final else []

    def results_lines(
        self,
        results: PollResults | QuestionResults,
        lang: str,
        t: Translate,
        *,
        label_clip: int | None = None,
        text_clip: int = 300,
    ) -> list[str]:
        lines = []
        for answer in results.texts:
            who = f" — <@{answer.user_id}>" if answer.user_id is not None else ""
            lines.append(f"> {clip(esc(answer.text), text_clip)}{who}")
        if not results.texts:
            lines.append(t("poll.results.none", lang))
        return lines

    def survey_lines(self, results: QuestionResults, lang: str, t: Translate, *, final: bool) -> list[str]:
        # a closed survey's public message does not quote the answers (exports do)
        if final:
            return [t("survey.message.text_answers", lang)]
        return self.results_lines(results, lang, t, text_clip=200)


class RankingUI(KindUI):
    """An order of options: one select per rank (« 1er choix », « 2e choix »…, each offering
    every option: choosing one already ranked moves it), the mean rank and first choices."""

    how_to = "poll.ranking.how_to"
    stays_on_step = True

    def step_lines(self, question: QuestionView) -> list[str]:
        return []  # selects: their 100-character labels hold any option

    @staticmethod
    def _placeholder(rank: int, lang: str, t: Translate) -> str:
        return t(f"poll.ranking.rank_{rank}", lang)

    def message_items(self, poll: PollView, t: Translate) -> list[discord.ui.Item[Any]]:
        options = [discord.SelectOption(label=o.label, value=str(o.id)) for o in poll.options]
        return [
            RankSelect(poll.id, rank, options=options, placeholder=self._placeholder(rank, poll.lang, t), row=rank - 1)
            for rank in range(1, poll.max_choices + 1)
        ]

    def step_items(
        self, poll_id: int, question: QuestionView, current: QuestionAnswer | None, lang: str, t: Translate
    ) -> tuple[str, list[discord.ui.Item[Any]]]:
        order = current.option_ids if current else ()
        items: list[discord.ui.Item[Any]] = []
        for rank in range(1, question.max_choices + 1):
            at_rank = order[rank - 1] if rank <= len(order) else None
            options = [
                discord.SelectOption(label=o.label, value=str(o.id), default=o.id == at_rank) for o in question.options
            ]
            items.append(
                SurveyRankSelect(
                    poll_id, question.id, rank, options=options, placeholder=self._placeholder(rank, lang, t), row=rank - 1
                )
            )
        return t("survey.step.hint_rank", lang, max=question.max_choices), items

    @staticmethod
    def _rank_text(option: Any, lang: str, t: Translate) -> str:
        if option.mean_rank is None:
            return t("poll.ranking.not_ranked", lang)
        firsts = t("poll.ranking.firsts", lang, count=option.first)
        return t("poll.ranking.line", lang, mean=charts.format_mean(option.mean_rank, lang), firsts=firsts)

    def message_lines(
        self, poll: PollView, results: PollResults | None, *, show_counts: bool, final: bool, t: Translate
    ) -> list[str]:
        lang = poll.lang
        counted = {o.option_id: o for o in results.options} if results else {}
        lines = []
        for option in poll.options:
            label = esc(option.label)
            counts = counted.get(option.id)
            if show_counts and counts is not None:
                lines.append(f"{label}\n{self._rank_text(counts, lang, t)}")
            else:
                lines.append(f"• {label}")
        if show_counts and results is not None:
            lines += ["", f"*{t('poll.ranking.note', lang)}*"]
        return lines

    def option_result(self, option: Any, results: PollResults | QuestionResults, lang: str, t: Translate) -> str:
        return self._rank_text(option, lang, t)

    def vote_line(self, result: VoteResult, lang: str, t: Translate) -> str:
        ranking = ", ".join(f"{rank}. **{esc(label)}**" for rank, label in enumerate(result.labels, start=1))
        return t("poll.ranking.vote", lang, ranking=ranking)

    def chart_png(
        self, results: PollResults | QuestionResults, title: str, lang: str, t: Translate
    ) -> bytes | None:
        return charts.mean_rank_chart(
            title,
            [o.label for o in results.options],
            [o.mean_rank for o in results.options],
            [o.first for o in results.options],
            lang=lang,
            respondents=results.respondents,
        )


CHOICE = KindUI()
TEXT = TextUI()
RANKING = RankingUI()

KIND_UI: dict[str, KindUI] = {
    "single": CHOICE,
    "multi": CHOICE,
    "yesno": CHOICE,
    "likert": CHOICE,
    "text": TEXT,
    "ranking": RANKING,
}


def ui_of(kind: str) -> KindUI:
    try:
        return KIND_UI[kind]
    except KeyError:  # a kind added to the service without its Discord side
        raise LookupError(f"poll kind {kind!r} has no entry in cogs.polls.kinds.KIND_UI") from None
