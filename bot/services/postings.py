"""One question, many channels and languages (issue 11) — without Discord.

A poll is **posted** to one or several channels: each posting is a message in its channel's
language, and every posting's answers go to the poll's questions, so a question is one variable
(one column of the wide export) however many channels asked it.  A member answers once per
question whichever posting they click — ``answers``' unique (question, member) is shared by the
postings — and results, charts and closing messages count every posting; moderators also see the
respondents by channel (:meth:`PostingService.by_channel`).

Wording per language: a question and its options have their poll's wording (``text``,
``label``) and the other languages' in ``labels`` (``{"en": "…"}``).  A posting shows its
language's wording, or the poll's with a note when there is none (:func:`localized`).

Merging (existing data): polls already posted in several channels before postings existed are
separate polls; :meth:`PostingService.merge` makes two questions one when both polls are closed,
named — or both anonymous in the same campaign (an anonymous poll's respondents are pseudonyms
per campaign, or per poll outside one: only within one campaign do they match) — and their
options match (same kind, same codes in the same order); otherwise it refuses and says why.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from bot.errors import Conflict, InvalidInput, NotFound
from bot.services.poll_rules import MAX_LABEL, MAX_QUESTION
from bot.services.polls.views import OptionView, PollResults, PollView, QuestionView
from storage.values import utcnow

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from storage.repositories.postings import PostingRow


@dataclass(frozen=True)
class Posting:
    """One message of a poll in one channel."""

    id: int
    poll_id: int
    guild_id: int
    channel_id: int
    message_id: int | None
    lang: str
    channel_name: str | None = None  # the network channel's name, when it is one

    @classmethod
    def of(cls, row: PostingRow) -> Posting:
        return cls(row.id, row.poll_id, row.guild_id, row.channel_id, row.message_id, row.lang, row.channel_name)


@dataclass(frozen=True)
class ChannelCount:
    """Respondents of a poll who answered from one posting (``posting`` None: not known, e.g.
    answers stored before postings existed or a native poll's votes read back at closing)."""

    posting: Posting | None
    respondents: int


@dataclass(frozen=True)
class Wording:
    """The other languages' wording of a poll: ``{question id: {lang: text}}`` and
    ``{option id: {lang: label}}``."""

    questions: dict[int, dict[str, str]]
    options: dict[int, dict[str, str]]


@dataclass(frozen=True)
class MergeResult:
    target_poll_id: int
    target_question_id: int
    source_poll_id: int
    moved: int  # answers moved to the target question
    dropped: int  # a member who answered both keeps the target's answer: their other one goes
    postings_moved: int
    source_poll_deleted: bool


def localized(poll: PollView, lang: str, wording: Wording) -> tuple[PollView, bool]:
    """The poll as a posting in ``lang`` shows it: each question's and option's wording in that
    language, else the poll's own.  ``(view, fell_back)``: ``fell_back`` is True when some
    wording was missing (the posting then says it shows the poll's language)."""
    if lang == poll.lang:
        return poll, False
    missing = False

    def text(qid: int, own: str) -> str:
        nonlocal missing
        found = wording.questions.get(qid, {}).get(lang)
        missing = missing or not found
        return found or own

    def options(items: tuple[OptionView, ...]) -> tuple[OptionView, ...]:
        nonlocal missing
        out = []
        for o in items:
            found = wording.options.get(o.id, {}).get(lang)
            missing = missing or not found
            out.append(dataclasses.replace(o, label=found or o.label))
        return tuple(out)

    questions = tuple(
        dataclasses.replace(q, text=text(q.id, q.text), options=options(q.options)) for q in poll.questions
    )
    first: QuestionView | None = questions[0] if questions else None
    view = dataclasses.replace(
        poll,
        lang=lang,
        questions=questions,
        question=first.text if first else text(poll.question_id, poll.question),
        # a quick poll's stored title is its question's wording; a survey's title has no other language
        title=poll.title if poll.is_survey or first is None else first.text,
        options=first.options if first else options(poll.options),
    )
    return view, missing


def localize_results(results: PollResults, view: PollView) -> PollResults:
    """The results as a posting in ``view``'s language shows them: the same counts, the labels
    of that language."""
    labels = {o.id: o.label for q in (view.questions or ()) for o in q.options}
    labels.update({o.id: o.label for o in view.options})
    questions = {q.id: q for q in view.questions}

    def relabel(counts):
        return tuple(dataclasses.replace(c, label=labels.get(c.option_id, c.label)) for c in counts)

    return dataclasses.replace(
        results,
        poll=view,
        options=relabel(results.options),
        questions=tuple(
            dataclasses.replace(q, question=questions.get(q.question.id, q.question), options=relabel(q.options))
            for q in results.questions
        ),
    )


class PostingService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *,
                 clock: Callable[[], datetime] = utcnow,
                 wording_changed: Callable[[int], None] = lambda poll_id: None) -> None:
        self.sessions = sessions
        self.clock = clock
        # told the id of a poll whose wording in another language changed (the poll service
        # drops its cached structure, which holds that wording: ``PollService.forget_cached``)
        self.wording_changed = wording_changed

    # ------------------------------------------------------------------ postings
    async def claim(self, poll: PollView, guild_id: int, channel_id: int, lang: str) -> int | None:
        """Claim posting ``poll`` in the channel (before sending the message): the posting's id,
        or ``None`` when it is already posted there."""
        from storage.repositories.postings import PostingRepository

        async with self.sessions.begin() as session:
            return await PostingRepository(session).claim(poll.id, guild_id, channel_id, lang, now=self.clock())

    async def attach(self, posting_id: int, message_id: int) -> None:
        from storage.repositories.postings import PostingRepository

        async with self.sessions.begin() as session:
            await PostingRepository(session).attach(posting_id, message_id)

    async def release(self, posting_id: int) -> None:
        from storage.repositories.postings import PostingRepository

        async with self.sessions.begin() as session:
            await PostingRepository(session).release(posting_id)

    async def of_poll(self, poll_id: int) -> list[Posting]:
        from storage.repositories.postings import PostingRepository

        async with self.sessions() as session:
            return [Posting.of(row) for row in await PostingRepository(session).of_poll(poll_id)]

    async def poll_of_message(self, message_id: int) -> int | None:
        from storage.repositories.postings import PostingRepository

        async with self.sessions() as session:
            return await PostingRepository(session).poll_of_message(message_id)

    async def answered_from(self, poll: PollView, respondent: int, channel_id: int | None,
                            posting_id: int | None = None) -> None:
        """Note the posting a member answered from (their first one stays), for "by channel"
        (``respondent``: their id in the poll's answers, a pseudonym in an anonymous poll)."""
        from storage.repositories.postings import PostingRepository

        if channel_id is None and posting_id is None:
            return
        async with self.sessions.begin() as session:
            repo = PostingRepository(session)
            if posting_id is None:
                posting_id = await repo.id_in_channel(poll.id, channel_id)  # type: ignore[arg-type]
            if posting_id is not None:
                await repo.set_answer_posting([q.id for q in poll.questions] or [poll.question_id], respondent,
                                              posting_id)

    async def channels(self, poll_id: int) -> dict[int, int]:
        """``{channel id: posting id}`` of the poll's postings."""
        return {p.channel_id: p.id for p in await self.of_poll(poll_id)}

    async def by_channel(self, poll: PollView) -> list[ChannelCount]:
        """Respondents by posting, in posting order (then those whose posting is not known)."""
        from storage.repositories.postings import PostingRepository

        async with self.sessions() as session:
            repo = PostingRepository(session)
            postings = [Posting.of(row) for row in await repo.of_poll(poll.id)]
            # a poll posted in one channel: every answer came from it (``after_vote`` notes
            # nothing there), not from a channel that is not known
            counts = await repo.respondents_by_posting([q.id for q in poll.questions] or [poll.question_id],
                                                       one_posting=postings[0].id if len(postings) == 1 else None)
        out = [ChannelCount(p, counts.get(p.id, 0)) for p in postings]
        known = {p.id for p in postings}
        unknown = sum(n for pid, n in counts.items() if pid not in known)
        if unknown:
            out.append(ChannelCount(None, unknown))
        return out

    async def month_poll(self, extract_id: int) -> int | None:
        """The poll of the month's follow-up question already posted — for this extract in another
        channel, or for its version in another language (same month, same kind, same number of
        options): the follow-up is then one more posting of that poll, not another poll."""
        from storage.repositories.postings import PostingRepository

        async with self.sessions() as session:
            return await PostingRepository(session).month_poll(extract_id)

    async def claim_month_poll(self, extract_id: int) -> tuple[bool, int | None]:
        """Before creating the month's follow-up poll: claim it in the database, so that two
        processes posting the month's extracts (say the French and the English one at once)
        create one poll between them.  ``(True, None)``: create it, then
        :meth:`month_poll_posted`; ``(False, poll id)``: the month's poll exists (closed, since
        :meth:`month_poll` did not find it open); ``(False, None)``: another process is creating
        it right now."""
        from storage.repositories.postings import PostingRepository

        async with self.sessions.begin() as session:
            repo = PostingRepository(session)
            key = await repo.month_key(extract_id)
            if await repo.claim_month_poll(key, now=self.clock()):
                return True, None
            return False, (await repo.month_poll_claimed(key))[1]

    async def month_poll_posted(self, extract_id: int, poll_id: int | None) -> None:
        """The month's poll is posted (its id), or could not be (``None``: the claim is released)."""
        from storage.repositories.postings import PostingRepository

        async with self.sessions.begin() as session:
            repo = PostingRepository(session)
            await repo.set_month_poll(await repo.month_key(extract_id), poll_id)

    # ------------------------------------------------------------------ wording
    async def results_in(self, results: PollResults, lang: str) -> PollResults:
        """Results as a reader of ``lang`` reads them (a moderator's ``/poll results``, the
        dashboard's poll page): the poll's wording in that language when it has one, complete;
        else as they are."""
        if lang == results.poll.lang:
            return results
        view, fell_back = localized(results.poll, lang, await self.wording(results.poll.id))
        return results if fell_back else localize_results(results, view)

    async def wording(self, poll_id: int) -> Wording:
        from storage.repositories.postings import PostingRepository

        async with self.sessions() as session:
            questions, options = await PostingRepository(session).wording(poll_id)
        return Wording(questions, options)

    @staticmethod
    def check_wording(option_count: int, question: str | None, options: Sequence[str]) -> tuple[str | None, list[str]]:
        """A translation of a quick poll's question and its ``option_count`` options, checked:
        the question within ``MAX_QUESTION``, one label per option (or none), each within
        ``MAX_LABEL``."""
        question = (question or "").strip() or None
        labels = [label.strip() for label in options if label.strip()]
        if question is not None and len(question) > MAX_QUESTION:
            raise InvalidInput("postings.error.question_too_long", max=MAX_QUESTION)
        if labels and len(labels) != option_count:
            raise InvalidInput("postings.error.option_count", given=len(labels), expected=option_count)
        if any(len(label) > MAX_LABEL for label in labels):
            raise InvalidInput("postings.error.label_too_long", max=MAX_LABEL)
        return question, labels

    async def set_wording(self, poll: PollView, lang: str, question: str | None, options: Sequence[str]) -> None:
        """Store a quick poll's wording in ``lang`` (checked by :meth:`check_wording`)."""
        from storage.repositories.postings import PostingRepository

        question, labels = self.check_wording(len(poll.options), question, options)
        async with self.sessions.begin() as session:
            await PostingRepository(session).set_wording(
                poll.question_id, lang, question, {o.id: label for o, label in zip(poll.options, labels, strict=False)}
            )
        self.wording_changed(poll.id)

    # ------------------------------------------------------------------ merging
    async def merge(self, target_poll_id: int, source_poll_id: int, *, question: int = 1,
                    actor_id: int | None = None) -> MergeResult:
        """Make question ``question`` (1-based) of the source poll one with the target poll's:
        its answers move to the target question (a member who answered both keeps the target's
        answer), its wording becomes the target's wording in the source poll's language, its
        postings become the target poll's, and it is deleted (its poll too when it had no other
        question).  Refused — nothing changes — unless both polls are closed, named or both
        anonymous in one campaign, and the two questions have the same kind and the same option
        codes in the same order."""
        from storage.repositories.audit import AuditRepository
        from storage.repositories.postings import PostingRepository

        if target_poll_id == source_poll_id:
            raise InvalidInput("postings.merge.same_poll")
        async with self.sessions.begin() as session:
            repo = PostingRepository(session)
            target = await repo.question_at(target_poll_id, question - 1)
            source = await repo.question_at(source_poll_id, question - 1)
            for poll_id, found in ((target_poll_id, target), (source_poll_id, source)):
                if found is None:
                    raise NotFound("postings.merge.not_found", poll=poll_id, question=question)
            assert target is not None and source is not None
            await repo.lock_question(target.id)
            # anonymous respondents are pseudonyms per campaign (per poll outside one): the two
            # polls' match only within one campaign, where a member has the same pseudonym
            same_campaign = target.campaign_id is not None and target.campaign_id == source.campaign_id
            for found in (target, source):
                if found.poll_status == "open":
                    raise Conflict("postings.merge.open", poll=found.poll_id)
                if found.anonymous and not (same_campaign and target.anonymous == source.anonymous):
                    raise InvalidInput("postings.merge.anonymous", poll=found.poll_id)
            target_codes = [code for _, code, _, _ in target.options]
            source_codes = [code for _, code, _, _ in source.options]
            if target.kind != source.kind or target_codes != source_codes:
                raise InvalidInput(
                    "postings.merge.options_differ",
                    target=f"{target.kind}: {', '.join(target_codes) or '-'}",
                    source=f"{source.kind}: {', '.join(source_codes) or '-'}",
                )
            option_map = {s[0]: t[0] for s, t in zip(source.options, target.options, strict=True)}
            moved, dropped = await repo.move_answers(source.id, target.id, option_map)
            if source.poll_lang != target.poll_lang:
                await repo.add_labels(
                    target.id, {**source.labels, source.poll_lang: source.text},
                    {t[0]: {**s[3], source.poll_lang: s[2]} for s, t in zip(source.options, target.options,
                                                                             strict=True)},
                )
            # the source poll goes with its last question: its channels become the target's
            only = await repo.question_count(source_poll_id) == 1
            postings_moved = await repo.move_postings(source_poll_id, target_poll_id) if only else 0
            left = await repo.delete_question(source.id)
            result = MergeResult(target_poll_id, target.id, source_poll_id, moved, dropped, postings_moved, left == 0)
            AuditRepository(session).record(
                "poll_merge", actor_id=actor_id, target_type="poll", target_id=str(target_poll_id),
                details={"source_poll": source_poll_id, "question": question, "moved": moved, "dropped": dropped,
                         "postings_moved": postings_moved},
            )
        for poll_id in (target_poll_id, source_poll_id):
            self.wording_changed(poll_id)
        return result
