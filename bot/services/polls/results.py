"""Results: each question tallied by its kind (:mod:`.kinds`), percentages of respondents, the
breakdown by member type, who chose what (named polls) and the texts of open answers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.services.polls.core import PollCore
from bot.services.polls.kinds import kind_of
from bot.services.polls.views import (
    OptionCount,
    PollResults,
    PollView,
    QuestionResults,
    QuestionView,
    TextAnswer,
    TypeBreakdown,
    TypeTable,
)

if TYPE_CHECKING:
    from storage.repositories import AnswerRepository


class Tallying(PollCore):
    async def results(
        self, poll_id: int, *, guild_id: int | None = None, text_limit: int = 20
    ) -> PollResults:
        """Counts per option (SQL ``GROUP BY``), percentages of respondents, the breakdown by
        member type, and — named polls only — who chose what; for every question of a survey."""
        from storage.repositories import AnswerRepository

        async with self.sessions() as session:
            poll = await self._stored(session, poll_id)
            await self._check_posted_in(poll, guild_id)
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
        tally = await kind_of(question.kind).tally(
            answers, question.id, named=not poll.anonymous, text_limit=text_limit
        )
        respondents, counts, typed, typed_respondents = (
            tally.respondents, tally.counts, tally.by_type, tally.type_respondents
        )
        ranks = tally.ranks
        options = tuple(
            OptionCount(
                o.id,
                o.label,
                counts.get(o.id, 0),
                100.0 * counts.get(o.id, 0) / respondents if respondents else 0.0,
                *ranks.get(o.id, (None, 0)),
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
            voters={o: tuple(users) for o, users in tally.voters.items()},
            texts=tuple(TextAnswer(None if poll.anonymous else u, text, mt) for u, text, mt in tally.texts),
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
