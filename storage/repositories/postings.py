"""Poll postings (one poll, several channels) and merging two questions: the only SQL they run.

A posting is claimed by its insert: the unique (poll, channel) constraint makes "one posting per
poll and channel" a fact of the database, whichever process posts.  A member answers once per
question whichever posting they click: that is ``answers``' unique (question, member), shared by
every posting of the poll.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update

from storage.models import (
    Answer,
    AnswerChoice,
    Extract,
    FollowupPosting,
    NetworkChannel,
    Option,
    Poll,
    PollPosting,
    Question,
)
from storage.repositories._base import Repository
from storage.repositories._upsert import insert as upsert_insert


@dataclass(frozen=True)
class PostingRow:
    id: int
    poll_id: int
    guild_id: int
    channel_id: int
    message_id: int | None
    lang: str
    channel_name: str | None  # the network channel's name, when it is one


@dataclass
class QuestionRow:
    """A question with what a merge compares and moves."""

    id: int
    poll_id: int
    poll_lang: str
    poll_status: str
    anonymous: bool
    campaign_id: int | None
    text: str
    kind: str
    labels: dict[str, Any]
    options: list[tuple[int, str, str, dict[str, Any]]] = field(default_factory=list)  # id, code, label, labels


class PostingRepository(Repository):
    # ------------------------------------------------------------------ postings
    async def claim(self, poll_id: int, guild_id: int, channel_id: int, lang: str, *, now: datetime) -> int | None:
        """Insert the posting of the poll in the channel; its id, or ``None`` when the poll is
        already posted there (the unique constraint refused it, in any process)."""
        stmt = upsert_insert(self.session, PollPosting).values(
            poll_id=poll_id, guild_id=guild_id, channel_id=channel_id, lang=lang, posted_at=now
        ).on_conflict_do_nothing()
        result = await self.session.execute(stmt)
        if not result.rowcount:
            return None
        return await self.session.scalar(
            select(PollPosting.id).where(PollPosting.poll_id == poll_id, PollPosting.channel_id == channel_id)
        )

    async def attach(self, posting_id: int, message_id: int) -> None:
        await self.session.execute(update(PollPosting).where(PollPosting.id == posting_id).values(message_id=message_id))

    async def release(self, posting_id: int) -> None:
        """A posting whose message could not be sent: gone, so it can be tried again."""
        await self.session.execute(delete(PollPosting).where(PollPosting.id == posting_id))

    async def of_poll(self, poll_id: int) -> list[PostingRow]:
        """The poll's postings, first posted first (the poll's own channel is the first)."""
        stmt = (
            select(PollPosting.id, PollPosting.poll_id, PollPosting.guild_id, PollPosting.channel_id,
                   PollPosting.message_id, PollPosting.lang, NetworkChannel.name)
            .join(NetworkChannel, NetworkChannel.channel_id == PollPosting.channel_id, isouter=True)
            .where(PollPosting.poll_id == poll_id)
            .order_by(PollPosting.id)
        )
        return [PostingRow(*row) for row in await self.session.execute(stmt)]

    async def posted_in_guild(self, poll_id: int, guild_id: int) -> bool:
        """Whether the poll has a posting in that server."""
        stmt = select(PollPosting.id).where(PollPosting.poll_id == poll_id, PollPosting.guild_id == guild_id).limit(1)
        return await self.session.scalar(stmt) is not None

    async def id_in_channel(self, poll_id: int, channel_id: int) -> int | None:
        return await self.session.scalar(
            select(PollPosting.id).where(PollPosting.poll_id == poll_id, PollPosting.channel_id == channel_id)
        )

    async def poll_of_message(self, message_id: int) -> int | None:
        """The poll a posted message belongs to (any of its postings)."""
        return await self.session.scalar(select(PollPosting.poll_id).where(PollPosting.message_id == message_id))

    async def set_answer_posting(self, question_ids: Iterable[int], respondent: int, posting_id: int) -> None:
        """Where the member answered from, for the answers that do not say yet (the first posting
        they answered from stays theirs)."""
        await self.session.execute(
            update(Answer)
            .where(Answer.question_id.in_(list(question_ids)), Answer.user_id == respondent,
                   Answer.posting_id.is_(None))
            .values(posting_id=posting_id)
        )

    async def respondents_by_posting(self, question_ids: Iterable[int], *,
                                     one_posting: int | None = None) -> dict[int | None, int]:
        """How many members answered from each posting (``None``: not known).  ``one_posting``:
        the poll's only posting, which every answer came from (its answers do not note it)."""
        respondents = func.count(func.distinct(func.coalesce(Answer.user_id, -Answer.id)))
        where = Answer.question_id.in_(list(question_ids))
        if one_posting is not None:
            return {one_posting: await self.session.scalar(select(respondents).where(where)) or 0}
        stmt = select(Answer.posting_id, respondents).where(where).group_by(Answer.posting_id)
        return {posting: count for posting, count in await self.session.execute(stmt)}

    async def month_poll(self, extract_id: int) -> int | None:
        """The open follow-up poll of an extract of the same month (this one, or its version in
        another language) whose question has the same kind and number of options, if any."""
        mine = (await self.session.execute(
            select(Extract.month, Extract.question_kind, Extract.question_options).where(Extract.id == extract_id)
        )).one_or_none()
        if mine is None or mine[0] is None:
            return None
        month, kind, options = mine
        candidates = await self.session.execute(
            select(Poll.id, Extract.question_options)
            .join(Extract, Extract.id == Poll.extract_id)
            .where(Extract.month == month, Poll.status == "open",
                   func.coalesce(Extract.question_kind, "single") == (kind or "single"))
            .order_by(Poll.id)
        )
        for poll_id, their_options in candidates:
            if len(their_options or ()) == len(options or ()):
                return int(poll_id)
        return None

    async def month_key(self, extract_id: int) -> int:
        """The extract that stands for the month's question: the first of the month's extracts
        whose question has the same kind and number of options as this one's (itself if none)."""
        mine = (await self.session.execute(
            select(Extract.month, Extract.question_kind, Extract.question_options).where(Extract.id == extract_id)
        )).one_or_none()
        if mine is None or mine[0] is None:
            return extract_id
        month, kind, options = mine
        for other_id, their_options in await self.session.execute(
            select(Extract.id, Extract.question_options)
            .where(Extract.month == month, Extract.question.is_not(None),
                   func.coalesce(Extract.question_kind, "single") == (kind or "single"))
            .order_by(Extract.id)
        ):
            if len(their_options or ()) == len(options or ()):
                return int(other_id)
        return extract_id

    async def claim_month_poll(self, key: int, *, now: datetime) -> bool:
        """Claim creating the month's follow-up poll (the row (key extract, channel 0) of
        ``followup_postings``: its primary key lets one process in)."""
        stmt = upsert_insert(self.session, FollowupPosting).values(extract_id=key, channel_id=0, claimed_at=now)
        return bool((await self.session.execute(stmt.on_conflict_do_nothing())).rowcount)

    async def month_poll_claimed(self, key: int) -> tuple[bool, int | None]:
        """``(claimed, poll id)`` of the month's poll claim."""
        row = (await self.session.execute(
            select(FollowupPosting.poll_id).where(FollowupPosting.extract_id == key, FollowupPosting.channel_id == 0)
        )).one_or_none()
        return (row is not None, None if row is None else row[0])

    async def set_month_poll(self, key: int, poll_id: int | None) -> None:
        """The month's poll once posted; ``None`` releases the claim (the posting failed)."""
        where = (FollowupPosting.extract_id == key, FollowupPosting.channel_id == 0)
        if poll_id is None:
            await self.session.execute(delete(FollowupPosting).where(*where))
        else:
            await self.session.execute(update(FollowupPosting).where(*where).values(poll_id=poll_id))

    # ------------------------------------------------------------------ wording per language
    async def wording(self, poll_id: int) -> tuple[dict[int, dict[str, Any]], dict[int, dict[str, Any]]]:
        """``({question id: labels}, {option id: labels})``: the other languages' wording."""
        questions = {
            qid: dict(labels or {})
            for qid, labels in await self.session.execute(
                select(Question.id, Question.labels).where(Question.poll_id == poll_id)
            )
        }
        options = {
            oid: dict(labels or {})
            for oid, labels in await self.session.execute(
                select(Option.id, Option.labels).join(Question, Question.id == Option.question_id)
                .where(Question.poll_id == poll_id)
            )
        }
        return questions, options

    async def set_wording(self, question_id: int, lang: str, text: str | None, option_labels: dict[int, str]) -> None:
        """Store the question's wording and its options' labels in ``lang``."""
        if text:
            labels = dict(await self.session.scalar(select(Question.labels).where(Question.id == question_id)) or {})
            labels[lang] = text
            await self.session.execute(update(Question).where(Question.id == question_id).values(labels=labels))
        for option_id, label in option_labels.items():
            labels = dict(await self.session.scalar(select(Option.labels).where(Option.id == option_id)) or {})
            labels[lang] = label
            await self.session.execute(update(Option).where(Option.id == option_id).values(labels=labels))

    # ------------------------------------------------------------------ merging two questions
    async def question_at(self, poll_id: int, position: int) -> QuestionRow | None:
        row = (await self.session.execute(
            select(Question.id, Question.poll_id, Poll.lang, Poll.status, Poll.anonymous, Poll.campaign_id,
                   Question.text, Question.kind, Question.labels)
            .join(Poll, Poll.id == Question.poll_id)
            .where(Question.poll_id == poll_id, Question.position == position)
        )).one_or_none()
        if row is None:
            return None
        question = QuestionRow(*row[:-1], labels=dict(row[-1] or {}))
        question.options = [
            (oid, code, label, dict(labels or {}))
            for oid, code, label, labels in await self.session.execute(
                select(Option.id, Option.code, Option.label, Option.labels)
                .where(Option.question_id == question.id).order_by(Option.position)
            )
        ]
        return question

    async def lock_question(self, question_id: int) -> None:
        """Serialise merges of one question (PostgreSQL row lock; SQLite's writer lock does it)."""
        conn = await self.session.connection()
        if conn.dialect.name != "sqlite":
            await self.session.execute(select(Question.id).where(Question.id == question_id).with_for_update())

    async def move_answers(self, source_id: int, target_id: int, option_map: dict[int, int]) -> tuple[int, int]:
        """Move the source question's answers to the target (choices to the matching options).
        A member who answered both keeps the target's answer; their source answer is dropped.
        ``(moved, dropped)``."""
        both = select(Answer.user_id).where(Answer.question_id == target_id, Answer.user_id.is_not(None))
        duplicates = list(await self.session.scalars(
            select(Answer.id).where(Answer.question_id == source_id, Answer.user_id.in_(both))
        ))
        if duplicates:
            await self.session.execute(delete(AnswerChoice).where(AnswerChoice.answer_id.in_(duplicates)))
            await self.session.execute(delete(Answer).where(Answer.id.in_(duplicates)))
        moving = list(await self.session.scalars(select(Answer.id).where(Answer.question_id == source_id)))
        for old, new in option_map.items():
            await self.session.execute(
                update(AnswerChoice).where(AnswerChoice.option_id == old, AnswerChoice.answer_id.in_(moving))
                .values(option_id=new)
            )
        if moving:
            await self.session.execute(update(Answer).where(Answer.id.in_(moving)).values(question_id=target_id))
        return len(moving), len(duplicates)

    async def move_postings(self, source_poll: int, target_poll: int) -> int:
        """The source poll's postings become the target's; in a channel where both were posted
        the target's posting stays and the moved answers point to it.  The source's follow-up
        claims point to the target.  Returns how many postings moved."""
        target = {channel: pid for pid, channel in await self.session.execute(
            select(PollPosting.id, PollPosting.channel_id).where(PollPosting.poll_id == target_poll))}
        moved = 0
        for pid, channel in list(await self.session.execute(
                select(PollPosting.id, PollPosting.channel_id).where(PollPosting.poll_id == source_poll))):
            if channel in target:
                await self.session.execute(update(Answer).where(Answer.posting_id == pid)
                                           .values(posting_id=target[channel]))
            else:
                await self.session.execute(update(PollPosting).where(PollPosting.id == pid).values(poll_id=target_poll))
                moved += 1
        await self.session.execute(update(FollowupPosting).where(FollowupPosting.poll_id == source_poll)
                                   .values(poll_id=target_poll))
        return moved

    async def question_count(self, poll_id: int) -> int:
        return int(await self.session.scalar(select(func.count()).where(Question.poll_id == poll_id)) or 0)

    async def delete_question(self, question_id: int) -> int:
        """Delete the (emptied) question; its poll too when no question is left.  Returns the
        number of questions the poll still has."""
        poll_id = await self.session.scalar(select(Question.poll_id).where(Question.id == question_id))
        await self.session.execute(delete(Question).where(Question.id == question_id))
        left = int(await self.session.scalar(select(func.count()).where(Question.poll_id == poll_id)) or 0)
        if not left:
            await self.session.execute(delete(Poll).where(Poll.id == poll_id))
        return left

    async def add_labels(self, question_id: int, labels: dict[str, Any],
                         option_labels: dict[int, dict[str, Any]]) -> None:
        """Merge other languages' wording into the target question and options (existing kept)."""
        current = dict(await self.session.scalar(select(Question.labels).where(Question.id == question_id)) or {})
        await self.session.execute(update(Question).where(Question.id == question_id)
                                   .values(labels={**labels, **current}))
        for option_id, extra in option_labels.items():
            mine = dict(await self.session.scalar(select(Option.labels).where(Option.id == option_id)) or {})
            await self.session.execute(update(Option).where(Option.id == option_id).values(labels={**extra, **mine}))
