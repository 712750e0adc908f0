"""The polls feature's privacy hook (:mod:`bot.services.privacy`): a member's answers.

``/my-data`` shows every answer of the member (poll, question, chosen labels or text, the member
type frozen when answering), the chosen labels also in the other languages where they read
differently (``choices_in``: a built-in option's, or a moderator's translated option's, so the
member reads « Yes » for « Oui »), those of anonymous polls included: they are stored under the
member's pseudonym in that poll (:class:`bot.services.privacy.AnswerPseudonyms`), which the hook
recomputes for every anonymous poll.  ``/forget-me`` deletes their answers
(``delete``: they no longer count) or, with ``unlink``, deletes their answers to polls not yet
closed and unlinks those of closed polls (``user_id`` becomes NULL, they still count
anonymously): one member never counts twice in one poll — an unlinked answer in an open poll
would stay counted while the member, no longer recognised, answers again.  In one transaction;
the hook names the polls whose answers changed
(``records["polls"]``) so that the Discord side refreshes their live counts
(``cogs/polls/privacy.py``).  The polls a member created are another hook's
(:class:`bot.services.privacy.PollsCreatedHook`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bot.services.privacy import AnswerPseudonyms, Forgotten, iso

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from bot.i18n import Catalogue
    from storage.repositories.profiles import AnswerRow, MemberAnswerRepository, MemberAnswers

__all__ = ["FEATURE", "PollAnswersHook"]

FEATURE = "polls"


class PollAnswersHook:
    feature = FEATURE

    def __init__(self, sessions: async_sessionmaker[AsyncSession], catalogue: Catalogue | None = None) -> None:
        self.sessions = sessions
        self.pseudonyms = AnswerPseudonyms(sessions)
        self.catalogue = catalogue  # a built-in option's label in each language (yes/no, Likert…)

    def _choices_in(self, answer: AnswerRow) -> dict[str, list[str]]:
        """The member's choices in each other language where one reads differently: ``{"en":
        ["Yes"]}`` for « Oui » — each option's stored wording in that language, else a built-in
        option's catalogue label (a poll stored before those were stored), else as written, as
        a vote's confirmation says it (``PollService.read_in``)."""
        from bot.i18n import LANGUAGES
        from bot.services.polls.kinds import kind_of

        out: dict[str, list[str]] = {}
        fixed = kind_of(answer.kind).options.fixed if answer.choice_wording else False
        for lang in LANGUAGES:
            if lang == answer.lang:
                continue
            builtin = dict(kind_of(answer.kind).options.builtin(self.catalogue, lang)) if fixed and self.catalogue else {}
            labels = [others.get(lang) or builtin.get(code) or label
                      for label, (code, others) in zip(answer.choices, answer.choice_wording, strict=True)]
            if labels != list(answer.choices):
                out[lang] = labels
        return out

    async def _whose(self, repo: MemberAnswerRepository, user_id: int) -> MemberAnswers:
        """The member's answers: under their id, and under their pseudonym in each anonymous poll."""
        from storage.repositories.profiles import MemberAnswers

        return MemberAnswers(user_id, tuple(await self.pseudonyms.in_polls(await repo.anonymous_polls(), user_id)))

    async def describe(self, user_id: int) -> Mapping[str, Any]:
        from storage.repositories.profiles import MemberAnswerRepository

        async with self.sessions() as session:
            repo = MemberAnswerRepository(session)
            answers = await repo.answers_of(await self._whose(repo, user_id))
        return {
            "answers": [
                {
                    "poll_id": a.poll_id,
                    "poll": a.poll_title,
                    "campaign": a.campaign,
                    "question_code": a.question_code,
                    "question": a.question_text,
                    "kind": a.kind,
                    "choices": list(a.choices),  # as the poll words them
                    "choices_in": self._choices_in(a),  # in other languages, where they differ
                    "text": a.text,
                    "member_type_when_answered": a.member_type,
                    "answered_at": iso(a.answered_at),
                    "updated_at": iso(a.updated_at),
                }
                for a in answers
            ],
        }

    async def forget(self, user_id: int, mode: str) -> Forgotten:
        from storage.repositories.profiles import MemberAnswerRepository

        async with self.sessions.begin() as session:
            repo = MemberAnswerRepository(session)
            whose = await self._whose(repo, user_id)
            poll_ids = tuple(await repo.poll_ids_answered_by(whose))
            if mode == "delete":
                answers = await repo.delete_answers_of(whose)
            elif mode == "unlink":
                answers = await repo.delete_open_answers_of(whose)
                answers += await repo.unlink_answers_of(whose, closed_only=True)
            else:
                raise ValueError(f"unknown forget mode {mode!r}")
        return Forgotten(removed={"answers": answers}, records={"polls": poll_ids})

    async def stored(self, user_id: int) -> int:
        from storage.repositories.profiles import MemberAnswerRepository

        async with self.sessions() as session:
            repo = MemberAnswerRepository(session)
            return await repo.count_answers(await self._whose(repo, user_id))
