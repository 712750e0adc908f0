"""The vote path: a click, a selection, a withdrawal, an open answer, a native poll's gateway
vote.  How an answer changes is the kind's rule (:mod:`.kinds`); the write is the group commit
described in :mod:`bot.services.polls` — one transaction per batch of queued votes, the poll's
open status checked inside it, atomically with the writes: under the write lock taken at its start
on SQLite (``BEGIN IMMEDIATE``), under a shared row lock on PostgreSQL.  A vote is either stored
before the close commits (so it is in the closing results) or refused (``poll.error.closed``).

What comes from Discord's data rather than a click on the bot's buttons — a native poll's vote
events, its voter list read at closing — skips the members who asked ``/forget-me`` after the
poll was created (:class:`bot.services.privacy.Tombstones`): Discord still lists their old vote,
which is not a new answer.  A click on a button is one, and is stored as any other.

In an anonymous poll every path stores the member's pseudonym in that poll, never their id
(:class:`bot.services.privacy.AnswerPseudonyms`); the member type is still read from the
member's profile, and the result returned to the member names them (in memory only)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.errors import Conflict, InvalidInput, NotFound
from bot.services.polls.core import PollCore
from bot.services.polls.kinds import kind_of
from bot.services.polls.views import PollView, VoteResult, poll_view

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

_MAX_BATCH = 500  # votes written per transaction by the flush task (group commit)


@dataclass(slots=True)
class _PendingVote:
    """A vote waiting for the flush task: its change of the member's choices (a set, or a
    tuple for a kind whose answers are ordered — the change receives and returns what the kind's
    rule works on, the storage keeps the order), and its future."""

    poll: PollView
    user_id: int
    respondent: int  # what the answer stores: ``user_id``, or its pseudonym in an anonymous poll
    change: Callable[[Collection[int]], Collection[int]]
    future: asyncio.Future[VoteResult]


class _OnConnection:
    """What the repositories' vote-path methods need of a session (``await connection()``),
    over a plain connection: the batch transaction skips the ORM session's own bookkeeping."""

    __slots__ = ("_conn",)

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def connection(self) -> AsyncConnection:
        return self._conn


class Voting(PollCore):
    use_vote_store = True  # False: every batch on a pooled connection (the portable path, tested too)

    def _vote_store(self) -> Any:
        """The database's one-trip vote store (:mod:`storage.repositories.votes`), built at the
        first vote; ``None`` when the sessions are not bound to an engine, or for a database
        another connection cannot open (in-memory SQLite)."""
        from sqlalchemy.ext.asyncio import AsyncEngine

        from storage.repositories.votes import vote_store_for

        if self._store is False:
            bind = self.sessions.kw.get("bind")
            self._store = vote_store_for(bind) if self.use_vote_store and isinstance(bind, AsyncEngine) else None
        return self._store

    async def aclose(self) -> None:
        """Close the vote store's connection (and thread, on SQLite)."""
        store, self._store = self._store, False
        if store:
            await store.aclose()

    async def vote(
        self,
        poll_id: int,
        *,
        user_id: int,
        option_id: int,
        guild_id: int | None = None,
        role_ids: Sequence[int] | None = None,
    ) -> VoteResult:
        """A click on an option's button, as the kind's rule says: single-answer kinds set the
        answer to that option (clicking it again changes nothing); multiple choice toggles it
        (within the maximum)."""
        poll = await self._checked(poll_id, guild_id, role_ids)
        self._require_choice_kind(poll)
        self._require_quick_poll(poll)
        if poll.option(option_id) is None:
            raise InvalidInput("poll.error.unknown_option")
        click, max_choices = kind_of(poll.kind).answer.click, poll.max_choices

        def change(current: Collection[int]) -> Collection[int]:
            return click(current, option_id, max_choices)  # type: ignore[arg-type]

        return await self._write_choices(poll, user_id, change)

    async def place(
        self,
        poll_id: int,
        *,
        user_id: int,
        option_id: int,
        position: int,
        guild_id: int | None = None,
        role_ids: Sequence[int] | None = None,
    ) -> VoteResult:
        """An option chosen at a position (1 = first), e.g. a ranking's "2nd choice" select: the
        kind's rule places it (an ordered kind re-ranks; others treat it as a click)."""
        poll = await self._checked(poll_id, guild_id, role_ids)
        self._require_choice_kind(poll)
        self._require_quick_poll(poll)
        if poll.option(option_id) is None:
            raise InvalidInput("poll.error.unknown_option")
        place, max_choices = kind_of(poll.kind).answer.place, poll.max_choices

        def change(current: Collection[int]) -> Collection[int]:
            return place(current, option_id, position, max_choices)

        return await self._write_choices(poll, user_id, change)

    async def choose(
        self,
        poll_id: int,
        *,
        user_id: int,
        option_ids: Sequence[int],
        guild_id: int | None = None,
        role_ids: Sequence[int] | None = None,
    ) -> VoteResult:
        """A select menu: the answer becomes exactly ``option_ids`` (1 to ``max_choices``; in
        that order for an ordered kind)."""
        poll = await self._checked(poll_id, guild_id, role_ids)
        self._require_choice_kind(poll)
        self._require_quick_poll(poll)
        if not option_ids or any(poll.option(o) is None for o in option_ids):
            raise InvalidInput("poll.error.unknown_option")
        wanted = kind_of(poll.kind).answer.select(option_ids, poll.max_choices)
        return await self._write_choices(poll, user_id, lambda current: wanted)

    async def withdraw(
        self,
        poll_id: int,
        *,
        user_id: int,
        guild_id: int | None = None,
        role_ids: Sequence[int] | None = None,
    ) -> VoteResult:
        """Delete the member's answer; ``changed`` is False when there was none."""
        from storage.repositories import AnswerRepository

        poll = await self._checked(poll_id, guild_id, role_ids)
        self._require_quick_poll(poll)
        respondent = await self._respondent(poll, user_id)
        async with self.sessions.begin() as session:
            deleted = await AnswerRepository(session).delete(poll.question_id, respondent)
            poll = await self._ensure_open(session, poll)
        return VoteResult(poll, user_id, withdrawn=True, changed=deleted)

    async def answer_text(
        self,
        poll_id: int,
        *,
        user_id: int,
        text: str,
        guild_id: int | None = None,
        role_ids: Sequence[int] | None = None,
    ) -> VoteResult:
        """An open answer (a kind answered by text): create or replace the member's text."""
        from storage.repositories import AnswerRepository

        poll = await self._checked(poll_id, guild_id, role_ids)
        self._require_quick_poll(poll)
        if not kind_of(poll.kind).by_text:
            raise InvalidInput("poll.error.not_text")
        text = self._clean_text(text)
        now = self.clock()
        respondent = await self._respondent(poll, user_id)
        async with self.sessions.begin() as session:
            answers = AnswerRepository(session)
            await answers.upsert(poll.question_id, respondent, now=now, text=text, set_text=True, member_id=user_id)
            poll = await self._ensure_open(session, poll)
        return VoteResult(poll, user_id, text=text)

    async def native_vote(
        self,
        *,
        message_id: int,
        user_id: int,
        answer_id: int,
        added: bool,
        guild_id: int | None = None,
    ) -> VoteResult | None:
        """A native poll's gateway vote (add or remove) into the same answers table.

        ``None`` when the message is not one of our native polls, the answer is unknown or the
        poll is closed.  Events for one (message, member) are applied in arrival order."""
        key = (message_id, user_id)
        entry = self._locks.setdefault(key, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:
                return await self._native_vote(message_id, user_id, answer_id, added, guild_id)
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                self._locks.pop(key, None)

    async def _native_vote(
        self, message_id: int, user_id: int, answer_id: int, added: bool, guild_id: int | None
    ) -> VoteResult | None:
        from storage.repositories import PollRepository

        async with self.sessions() as session:
            row = await PollRepository(session).get_by_message(message_id, native=True)
            poll = None if row is None else poll_view(row)
        if poll is None or (guild_id is not None and poll.guild_id != guild_id):
            return None
        if not 1 <= answer_id <= len(poll.options) or not poll.is_open:
            return None
        if await self.tombstones.forgotten_since((user_id,), poll.created_at):
            return None  # possibly a replay of a vote given before /forget-me: not a new answer
        option_id = poll.options[answer_id - 1].id
        rule = kind_of(poll.kind).answer
        apply = rule.gateway_add if added else rule.gateway_remove

        def change(current: Collection[int]) -> Collection[int]:
            return apply(current, option_id)  # type: ignore[arg-type]

        try:
            return await self._write_choices(poll, user_id, change)
        except Conflict:
            return None

    async def reconcile_native(
        self, poll_id: int, votes: dict[int, set[int]], *, remove_missing: bool = True
    ) -> int:
        """Make the stored answers of a native poll equal Discord's voters
        (``{user_id: {answer ids}}``), e.g. at closing, in case gateway events were missed.
        With ``remove_missing=False`` (Discord's list may be partial) answers of members it
        does not list are kept.  Members who asked ``/forget-me`` after the poll was created are
        never written back, and an answer of theirs stored meanwhile (a vote event racing the
        forgetting) is removed: a native poll has no button, so it came from Discord's data.
        Returns the number of members whose answer changed."""
        from storage.repositories import AnswerRepository

        poll = await self.get(poll_id)
        by_answer = {o.answer_id: o.id for o in poll.options}
        wanted = {
            user_id: {by_answer[a] for a in answer_ids if a in by_answer}
            for user_id, answer_ids in votes.items()
        }
        wanted = {user_id: options for user_id, options in wanted.items() if options}
        now = self.clock()
        changed = 0
        async with self.sessions.begin() as session:
            answers = AnswerRepository(session)
            stored = await answers.users_with_choices(poll.question_id)
            listed = wanted.keys() | stored.keys()
            forgotten = await self.tombstones.forgotten_since(listed, poll.created_at) if poll.native else set()
            wanted = {user_id: options for user_id, options in wanted.items() if user_id not in forgotten}
            for user_id in forgotten & stored.keys():
                await answers.delete(poll.question_id, user_id)
                changed += 1
            stored = {user_id: options for user_id, options in stored.items() if user_id not in forgotten}
            for user_id, options in wanted.items():
                if stored.get(user_id) == options:
                    continue
                answer_id = await answers.upsert(poll.question_id, user_id, now=now)
                await answers.set_choices(answer_id, options)
                changed += 1
            for user_id in stored.keys() - wanted.keys() if remove_missing else ():
                await answers.delete(poll.question_id, user_id)
                changed += 1
        return changed

    @contextlib.asynccontextmanager
    async def _vote_transaction(self) -> AsyncIterator[Any]:
        """The batch's transaction: on the engine's connection when the session factory is
        bound to an engine (the vote path only runs Core statements, so the ORM session's own
        bookkeeping is skipped), else in a session.  It starts with the write lock on SQLite
        (``BEGIN IMMEDIATE``): the status read and the writes are one atomic step, as the shared
        row lock makes them on PostgreSQL — a vote is either stored before the close commits
        (and is in the closing results) or refused."""
        from sqlalchemy.ext.asyncio import AsyncEngine

        from storage.repositories import PollRepository

        bind = self.sessions.kw.get("bind")
        if isinstance(bind, AsyncEngine):
            async with bind.begin() as conn:
                session: Any = _OnConnection(conn)
                await PollRepository(session).lock_for_write()
                yield session
        else:
            async with self.sessions.begin() as session:
                await PollRepository(session).lock_for_write()
                yield session

    async def _write_choices(
        self, poll: PollView, user_id: int, change: Callable[[Collection[int]], Collection[int]]
    ) -> VoteResult:
        """Queue the change (group commit): a batch of queued votes is written in one transaction
        — by the vote that finds nothing writing, else by a flush task — and each vote's future
        is resolved after the commit."""
        respondent = await self._respondent(poll, user_id)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[VoteResult] = loop.create_future()
        self._queue.append(_PendingVote(poll, user_id, respondent, change, future))
        flusher = self._flusher
        if (flusher is None or flusher.done() or flusher.get_loop() is not loop) and not self._writing:
            # nothing is writing: this vote writes the queue's first batch itself (its own vote,
            # and any queued meanwhile), without waiting for another task's turn on the loop;
            # what is queued during that write is left to a flush task
            self._writing = True
            try:
                await self._flush_batch()
            finally:
                self._writing = False
                if self._queue:
                    self._flusher = loop.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        """Write the queued votes batch after batch, until the queue is empty (then end)."""
        while self._queue:
            await self._flush_batch()

    async def _flush_batch(self) -> None:
        """Write the queue's first ``_MAX_BATCH`` votes in one transaction and resolve their
        futures (each with its result, or the exception of its vote or of the transaction)."""
        batch = self._queue[:_MAX_BATCH]
        del self._queue[:_MAX_BATCH]
        try:
            outcomes = await self._write_batch(batch)
        except BaseException as exc:  # the transaction failed: every vote of it failed
            for pending in batch:
                if not pending.future.done():
                    pending.future.set_exception(exc)
            if not isinstance(exc, Exception):
                for pending in self._queue:
                    if not pending.future.done():
                        pending.future.set_exception(exc)
                self._queue.clear()
                raise
            return
        for pending, outcome in zip(batch, outcomes, strict=True):
            if pending.future.done():  # the caller was cancelled
                continue
            if isinstance(outcome, BaseException):
                pending.future.set_exception(outcome)
            else:
                pending.future.set_result(outcome)

    async def _write_batch(self, batch: list[_PendingVote]) -> list[VoteResult | Exception]:
        """One batch of queued votes, written atomically with each poll's status check: through
        the database's vote store in one round trip (:mod:`storage.repositories.votes`), or on a
        pooled connection (:meth:`_write_batch_pooled`)."""
        from storage.repositories.votes import Refused, VoteWrite

        store = self._vote_store()
        if store is None:
            return await self._write_batch_pooled(batch)
        writes = [VoteWrite(p.poll.id, p.poll.question_id, p.respondent, p.user_id, p.change) for p in batch]
        outcomes: list[VoteResult | Exception] = []
        for pending, outcome in zip(batch, await store.write(writes, self.clock()), strict=True):
            if isinstance(outcome, Refused):
                self._forget(outcome.poll_id)
                outcomes.append(NotFound("poll.error.unknown_poll") if outcome.missing else Conflict("poll.error.closed"))
            elif isinstance(outcome, Exception):
                outcomes.append(outcome)
            else:
                before, wanted = outcome
                outcomes.append(VoteResult(
                    pending.poll, pending.user_id, self._ordered(pending.poll, wanted),
                    withdrawn=not wanted, changed=wanted != before,
                ))
        return outcomes

    async def _write_batch_pooled(self, batch: list[_PendingVote]) -> list[VoteResult | Exception]:
        """One transaction for the batch: each poll's status once (under the write lock on
        SQLite, a shared row lock on PostgreSQL), one upsert of every distinct (question, member) answer, one read of their
        choices, the changes applied in arrival order in memory (a change that raises fails
        only its vote), then one rewrite of the choices that changed."""
        from storage.repositories import AnswerRepository

        now = self.clock()
        outcomes: list[VoteResult | Exception | None] = [None] * len(batch)
        async with self._vote_transaction() as session:
            answers = AnswerRepository(session)
            refused: dict[int, Exception | None] = {}
            for poll in {pending.poll.id: pending.poll for pending in batch}.values():
                try:
                    await self._ensure_open(session, poll)
                    refused[poll.id] = None
                except (Conflict, NotFound) as exc:
                    refused[poll.id] = exc
            live = []
            for index, pending in enumerate(batch):
                error = refused[pending.poll.id]
                if error is None:
                    live.append(index)
                else:
                    outcomes[index] = error
            if live:
                # answers are keyed by respondent (a pseudonym in an anonymous poll), member
                # types looked up by member
                member_of = {batch[i].respondent: batch[i].user_id for i in live}
                keys = list(dict.fromkeys((batch[i].poll.question_id, batch[i].respondent) for i in live))
                if len(keys) == 1:
                    question_id, respondent = keys[0]
                    answer_of = {
                        keys[0]: await answers.upsert(question_id, respondent, now=now, member_id=member_of[respondent])
                    }
                else:
                    types = await answers.member_types_of(member_of.values())
                    answer_of = await answers.upsert_many(
                        keys, now=now, member_types={r: types.get(m) for r, m in member_of.items()}
                    )
                stored = await answers.choices_of(answer_of.values())
                current = dict(stored)  # the rules return new collections, never change these
                for index in live:
                    pending = batch[index]
                    answer_id = answer_of[(pending.poll.question_id, pending.respondent)]
                    before = current[answer_id]
                    try:
                        wanted = pending.change(before)
                    except Exception as exc:  # e.g. InvalidInput (too many choices): this vote only
                        outcomes[index] = exc
                        continue
                    current[answer_id] = wanted
                    outcomes[index] = VoteResult(
                        pending.poll,
                        pending.user_id,
                        self._ordered(pending.poll, wanted),
                        withdrawn=not wanted,
                        changed=wanted != before,
                    )
                # answers created for votes that all failed have no choice: deleted again
                await answers.replace_choices(
                    {a: options for a, options in current.items() if options != stored[a] or not options},
                    # read above, after the upserts: each answer row is locked by then (SQLite's
                    # write lock, PostgreSQL's row lock), so no other writer changed its choices
                    had={a for a, options in stored.items() if options},
                )
        return outcomes  # type: ignore[return-value]
