"""A survey, answered question by question: the member's progress is derived from their stored
answers (the first question without one is the next), and each answer is stored at once."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from bot.errors import InvalidInput
from bot.services.polls.core import PollCore
from bot.services.polls.kinds import is_ordered, kind_of
from bot.services.polls.views import PollView, QuestionAnswer, SurveyProgress


class SurveyAnswering(PollCore):
    async def survey_progress(
        self,
        poll_id: int,
        user_id: int,
        *,
        guild_id: int | None = None,
        role_ids: Sequence[int] | None = None,
        lang: str | None = None,
    ) -> SurveyProgress:
        """Where the member is in the survey (the first question without a stored answer is
        the next one), if they may answer it now (guild, status, roles); with ``lang``, the
        survey as the member reads it (:meth:`read_in`)."""
        poll = await self._checked(poll_id, guild_id, role_ids)
        return self._read_in(await self._progress(poll, user_id), lang)

    async def answer_survey(
        self,
        poll_id: int,
        question_id: int,
        *,
        user_id: int,
        option_ids: Sequence[int] | None = None,
        text: str | None = None,
        position: int | None = None,
        guild_id: int | None = None,
        role_ids: Sequence[int] | None = None,
        lang: str | None = None,
    ) -> SurveyProgress:
        """Store (or replace) the member's answer to one question of a survey — at once, in
        one transaction, with the member type of their profile at this moment — and return
        their progress.  Choice questions take ``option_ids`` (one, or 1 to ``max_choices``
        for multiple choice; in order for an ordered kind), open questions ``text``.  With
        ``position``, the one option in ``option_ids`` is placed at that position of the stored
        answer, as the kind's rule says (a ranking's "2nd choice").  With ``lang``, the progress
        as the member reads it (:meth:`read_in`)."""
        from storage.repositories import AnswerRepository

        poll = await self._checked(poll_id, guild_id, role_ids)
        question = poll.question_view(question_id)
        if question is None:
            raise InvalidInput("survey.error.unknown_question")
        now = self.clock()
        respondent = await self._respondent(poll, user_id)
        rule = kind_of(question.kind).answer
        if rule.by_text:
            value = self._clean_text(text)
            async with self.sessions.begin() as session:
                answers = AnswerRepository(session)
                await answers.upsert(question.id, respondent, now=now, text=value, set_text=True, member_id=user_id)
                await self._ensure_open(session, poll)
        else:
            chosen = list(option_ids or ())
            if not chosen or any(question.option(o) is None for o in chosen):
                raise InvalidInput("poll.error.unknown_option")
            if position is None:
                wanted = rule.select(chosen, question.max_choices)
            elif len(chosen) != 1:
                raise InvalidInput("poll.error.unknown_option")
            async with self.sessions.begin() as session:
                answers = AnswerRepository(session)
                answer_id = await answers.upsert(question.id, respondent, now=now, member_id=user_id)
                await self._ensure_open(session, poll)
                if position is not None:
                    current = (await answers.choices_of([answer_id]))[answer_id]
                    wanted = rule.place(current, chosen[0], position, question.max_choices)
                await answers.set_choices(answer_id, wanted)
        return self._read_in(dataclasses.replace(await self._progress(poll, user_id), saved=question), lang)

    def _read_in(self, progress: SurveyProgress, lang: str | None) -> SurveyProgress:
        """The progress with its survey in ``lang`` (its questions, options and the question
        just answered), as the member's private steps show it; as it is without ``lang``."""
        if lang is None or lang == progress.poll.lang:
            return progress
        poll = self.read_in(progress.poll, lang)
        saved = None if progress.saved is None else poll.question_view(progress.saved.id)
        return dataclasses.replace(progress, poll=poll, saved=saved)

    async def _progress(self, poll: PollView, user_id: int) -> SurveyProgress:
        from storage.repositories import AnswerRepository

        respondent = await self._respondent(poll, user_id)
        async with self.sessions() as session:
            stored = await AnswerRepository(session).of_user([q.id for q in poll.questions], respondent)
        answers = {}
        for question in poll.questions:
            if question.id in stored:
                option_ids, text = stored[question.id]
                ordered = (
                    option_ids  # an ordered answer keeps the member's order
                    if is_ordered(option_ids)
                    else tuple(o.id for o in question.options if o.id in option_ids)
                )
                answers[question.id] = QuestionAnswer(ordered, text)
        return SurveyProgress(poll, user_id, answers)
