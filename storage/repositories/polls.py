"""Polls and answers: the only SQL the poll feature runs.

A vote is written with a dialect-specific ``INSERT … ON CONFLICT (question_id, user_id) DO
UPDATE`` (SQLite and PostgreSQL both have it): the unique constraint decides, so two concurrent
clicks of the same member end as one answer.  On PostgreSQL the upsert also locks the answer
row until the transaction ends, so whatever the service then reads and writes about that
answer's choices is serialised per (question, member); on SQLite the whole write transaction
is serialised anyway — from its first write, or from its start with :meth:`PollRepository.lock_for_write`
when what it writes depends on what it read first (a vote batch and the poll's status).  Counts are ``GROUP BY`` queries, never Python loops over rows.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, delete, func, select, update
from sqlalchemy.orm import selectinload

from storage.models import Answer, AnswerChoice, Option, Poll, Profile, Question
from storage.repositories._base import Repository
from storage.repositories._upsert import dialect_insert
from storage.repositories._upsert import insert as upsert_insert

FROM_PROFILE = object()  # upsert(): copy the member type from the member's profile

_UPSERTS: dict[tuple[str, bool, bool], Any] = {}
_CHOICE_INSERT = AnswerChoice.__table__.insert()
# the pooled vote path's other statements, built once (a statement built per call costs more than it runs)
_STATUS = select(Poll.status, Poll.deadline_at).where(Poll.id == bindparam("poll_id"))
_STATUS_LOCKED = _STATUS.with_for_update(read=True)
_IDS = bindparam("ids", expanding=True)
_CHOICES_OF = select(AnswerChoice.answer_id, AnswerChoice.option_id, AnswerChoice.rank).where(
    AnswerChoice.answer_id.in_(_IDS)
)
_DELETE_CHOICES_OF = delete(AnswerChoice).where(AnswerChoice.answer_id.in_(_IDS))
_DELETE_ANSWERS = delete(Answer).where(Answer.id.in_(_IDS))
_MEMBER_TYPES = select(Profile.user_id, Profile.member_type).where(Profile.user_id.in_(_IDS))


def _ordered(choices: Collection[int]) -> bool:
    """An ordered answer is a tuple (first = rank 1); a set has no order (``rank`` NULL)."""
    return isinstance(choices, tuple)


def _by_rank(ranked: dict[int, list[tuple[int, int]]], out: dict[Any, Any]) -> None:
    """Turn ``{key: [(rank, option id)]}`` into ordered tuples in ``out``."""
    for key, pairs in ranked.items():
        pairs.sort()
        out[key] = tuple(option_id for _, option_id in pairs)


def _answer_upsert(dialect: str, *, from_profile: bool, set_text: bool) -> Any:
    """The answer upsert for ``dialect``, built once: bind parameters ``q_id``, ``u_id`` (the
    respondent: the member's id, or their pseudonym in an anonymous poll), ``txt``, ``ts`` and
    ``ts_u`` (both ``now``: a name used twice breaks executemany with RETURNING on asyncpg), and
    ``mt`` (the member type) unless it is read by a subquery from the profile of the member
    ``m_id``; ``RETURNING id, question_id, user_id``."""
    key = (dialect, from_profile, set_text)
    stmt = _UPSERTS.get(key)
    if stmt is not None:
        return stmt
    columns = Answer.__table__.c
    user_id = bindparam("u_id", type_=columns.user_id.type)
    if from_profile:
        member_id = bindparam("m_id", type_=columns.user_id.type)
        member_type: Any = select(Profile.member_type).where(Profile.user_id == member_id).scalar_subquery()
    else:
        member_type = bindparam("mt", type_=columns.member_type.type)
    ins = dialect_insert(dialect)(Answer).values(  # only the dialect in use is imported
        question_id=bindparam("q_id", type_=columns.question_id.type),
        user_id=user_id,
        member_type=member_type,
        text=bindparam("txt", type_=columns.text.type),
        answered_at=bindparam("ts", type_=columns.answered_at.type),
        updated_at=bindparam("ts_u", type_=columns.updated_at.type),
    )
    changes: dict[str, Any] = {"member_type": ins.excluded.member_type, "updated_at": ins.excluded.updated_at}
    if set_text:
        changes["text"] = ins.excluded.text
    stmt = ins.on_conflict_do_update(
        index_elements=[Answer.question_id, Answer.user_id], set_=changes
    ).returning(Answer.id, Answer.question_id, Answer.user_id)
    _UPSERTS[key] = stmt
    return stmt


class PollRepository(Repository):
    async def get(self, poll_id: int) -> Poll | None:
        stmt = (
            select(Poll)
            .where(Poll.id == poll_id)
            .options(selectinload(Poll.questions).selectinload(Question.options))
            .execution_options(populate_existing=True)
        )
        return (await self.session.scalars(stmt)).one_or_none()

    async def get_by_message(self, message_id: int, *, native: bool | None = None) -> Poll | None:
        stmt = (
            select(Poll)
            .where(Poll.message_id == message_id)
            .options(selectinload(Poll.questions).selectinload(Question.options))
        )
        if native is not None:
            stmt = stmt.where(Poll.native.is_(native))
        return (await self.session.scalars(stmt)).first()

    async def lock_for_write(self) -> None:
        """At the start of a transaction whose writes depend on what it reads first (a vote batch
        reads the poll's status, then writes): on SQLite, take the database's write lock now
        (``BEGIN IMMEDIATE``), so that no other writer — a close — commits between the read and
        the writes; the busy timeout applies.  On PostgreSQL nothing: the status read takes a
        shared row lock (:meth:`status` with ``lock``) that a close's ``UPDATE`` waits for.

        Must be the transaction's first statement: pysqlite opens its implicit transaction only
        before a write, so an earlier ``SELECT`` ran outside it (and then ``BEGIN`` is refused)."""
        conn = await self.session.connection()
        if conn.dialect.name == "sqlite":
            await conn.exec_driver_sql("BEGIN IMMEDIATE")

    async def status(self, poll_id: int, *, lock: bool = False) -> tuple[str, datetime | None] | None:
        """The poll's status and deadline; ``lock`` takes a shared row lock (PostgreSQL) so a
        concurrent close waits for this transaction, and this one sees a committed close."""
        conn = await self.session.connection()
        row = (await conn.execute(_STATUS_LOCKED if lock else _STATUS, {"poll_id": poll_id})).one_or_none()
        return None if row is None else (row[0], row[1])

    async def list_for_guild(self, guild_id: int, *, status: str, limit: int) -> list[Poll]:
        order = Poll.deadline_at.asc() if status == "open" else Poll.closed_at.desc()
        stmt = (
            select(Poll)
            .where(Poll.guild_id == guild_id, Poll.status == status)
            .order_by(order, Poll.id.desc())
            .limit(limit)
            .options(selectinload(Poll.questions).selectinload(Question.options))
        )
        return list(await self.session.scalars(stmt))

    async def search(self, guild_id: int, text: str, *, open_only: bool, limit: int = 25) -> list[Poll]:
        stmt = select(Poll).where(Poll.guild_id == guild_id).order_by(Poll.id.desc()).limit(limit)
        if open_only:
            stmt = stmt.where(Poll.status == "open")
        if text:
            stmt = stmt.where(Poll.title.ilike(f"%{text}%"))
        return list(await self.session.scalars(stmt))

    async def open_polls(self) -> list[Poll]:
        """Every open poll (to reconcile the scheduler with the database)."""
        stmt = (
            select(Poll)
            .where(Poll.status == "open")
            .order_by(Poll.id)
            .options(selectinload(Poll.questions).selectinload(Question.options))
        )
        return list(await self.session.scalars(stmt))

    async def close(self, poll_id: int, now: datetime) -> bool:
        """Close an open poll; ``False`` when it was already closed (idempotent)."""
        result = await self.session.execute(
            update(Poll)
            .where(Poll.id == poll_id, Poll.status == "open")
            .values(status="closed", closed_at=now)
        )
        return result.rowcount == 1

    async def set_message(self, poll_id: int, message_id: int) -> None:
        await self.session.execute(update(Poll).where(Poll.id == poll_id).values(message_id=message_id))

    async def mark_reminder_sent(self, poll_id: int, sent: bool = True) -> bool:
        """Flip ``reminder_sent``; ``False`` when it already had that value (someone did it)."""
        result = await self.session.execute(
            update(Poll)
            .where(Poll.id == poll_id, Poll.reminder_sent.is_(not sent))
            .values(reminder_sent=sent)
        )
        return result.rowcount == 1

    async def delete(self, poll_id: int) -> None:
        await self.session.execute(delete(Poll).where(Poll.id == poll_id))


class AnswerRepository(Repository):
    async def member_type_of(self, user_id: int) -> str | None:
        """The member type on the member's profile right now (``None`` without a profile)."""
        return await self.session.scalar(select(Profile.member_type).where(Profile.user_id == user_id))

    async def upsert(
        self,
        question_id: int,
        user_id: int,
        *,
        now: datetime,
        member_type: str | None | object = FROM_PROFILE,
        text: str | None = None,
        set_text: bool = False,
        member_id: int | None = None,
    ) -> int:
        """Create or touch the respondent's answer row and return its id (one row per question
        and respondent, whatever the concurrency).  ``answered_at`` keeps the first answer's time.

        ``user_id`` is the respondent stored (a pseudonym in an anonymous poll); ``member_id``
        the member themselves when it differs.  ``member_type`` defaults to the type on the
        member's profile at this moment, read by a subquery of the same statement (``NULL``
        without a profile).  The statement is built once per dialect and runs on the session's
        connection (Core, not the ORM)."""
        conn = await self.session.connection()
        from_profile = member_type is FROM_PROFILE
        stmt = _answer_upsert(conn.dialect.name, from_profile=from_profile, set_text=set_text)
        params: dict[str, Any] = {"q_id": question_id, "u_id": user_id, "txt": text, "ts": now, "ts_u": now}
        if from_profile:
            params["m_id"] = user_id if member_id is None else member_id
        else:
            params["mt"] = member_type
        return (await conn.execute(stmt, params)).scalar_one()

    async def member_types_of(self, user_ids: Iterable[int]) -> dict[int, str | None]:
        """``{user_id: member type}`` of the members with a profile (others absent)."""
        ids = sorted(set(user_ids))
        if not ids:
            return {}
        conn = await self.session.connection()
        return {user_id: mt for user_id, mt in await conn.execute(_MEMBER_TYPES, {"ids": ids})}

    async def upsert_many(
        self, keys: Iterable[tuple[int, int]], *, now: datetime, member_types: dict[int, str | None]
    ) -> dict[tuple[int, int], int]:
        """:meth:`upsert` for many distinct ``(question_id, user_id)`` at once (one statement,
        executemany with RETURNING); the member types are given (``member_types`` by user id,
        ``NULL`` when absent).  Returns ``{(question_id, user_id): answer id}``."""
        rows = [
            {"q_id": q, "u_id": u, "mt": member_types.get(u), "txt": None, "ts": now, "ts_u": now}
            for q, u in sorted(set(keys))
        ]
        if not rows:
            return {}
        conn = await self.session.connection()
        stmt = _answer_upsert(conn.dialect.name, from_profile=False, set_text=False)
        result = await conn.execute(stmt, rows)
        return {(q, u): answer_id for answer_id, q, u in result}

    async def choices_of(self, answer_ids: Iterable[int]) -> dict[int, Collection[int]]:
        """``{answer_id: option ids}`` for several answers (every id present, maybe empty): a set,
        or — for an answer stored with ranks — a tuple in rank order."""
        ids = sorted(set(answer_ids))
        out: dict[int, Any] = {a: set() for a in ids}
        if not ids:
            return out
        conn = await self.session.connection()
        ranked: dict[int, list[tuple[int, int]]] = {}
        for answer_id, option_id, rank in await conn.execute(_CHOICES_OF, {"ids": ids}):
            if rank is None:
                out[answer_id].add(option_id)
            else:
                ranked.setdefault(answer_id, []).append((rank, option_id))
        if ranked:
            _by_rank(ranked, out)
        return out

    async def replace_choices(
        self, wanted: dict[int, Collection[int]], *, had: Collection[int] | None = None
    ) -> None:
        """Make each answer's choices exactly ``wanted[answer_id]`` (a set, or a tuple whose
        order is stored as ranks 1, 2…): one DELETE of their choices, one (executemany) INSERT
        of the new ones; answers left without a choice are deleted.  ``had``: the answers known
        (read in this transaction) to have had choices — the others' DELETE is skipped, and with
        it a statement on a member's first vote (issue 15, item 1)."""
        if not wanted:
            return
        conn = await self.session.connection()
        ids = sorted(wanted)
        stale = ids if had is None else [a for a in ids if a in had]
        if stale:
            await conn.execute(_DELETE_CHOICES_OF, {"ids": stale})
        if any(_ordered(wanted[a]) for a in ids):  # one executemany: every row has a rank, maybe NULL
            rows = []
            for a in ids:
                chosen = wanted[a]
                if _ordered(chosen):
                    rows.extend({"answer_id": a, "option_id": o, "rank": r} for r, o in enumerate(chosen, 1))
                else:
                    rows.extend({"answer_id": a, "option_id": o, "rank": None} for o in sorted(chosen))
        else:
            rows = [{"answer_id": a, "option_id": o} for a in ids for o in sorted(wanted[a])]
        if rows:
            await conn.execute(_CHOICE_INSERT, rows)
        empty = [a for a in ids if not wanted[a]]
        if empty:
            await conn.execute(_DELETE_ANSWERS, {"ids": empty})

    async def choices(self, answer_id: int) -> set[int]:
        stmt = select(AnswerChoice.option_id).where(AnswerChoice.answer_id == answer_id)
        return set(await self.session.scalars(stmt))

    async def set_choices(
        self, answer_id: int, option_ids: Iterable[int], current: set[int] | None = None
    ) -> None:
        """Make the answer's choices exactly ``option_ids`` (a tuple: in that order, its ranks
        stored)."""
        if _ordered(option_ids):  # type: ignore[arg-type]
            await self.replace_choices({answer_id: option_ids})  # type: ignore[dict-item]
            return
        wanted = set(option_ids)
        if current is None:
            current = await self.choices(answer_id)
        gone = current - wanted
        if gone:
            await self.session.execute(
                delete(AnswerChoice).where(
                    AnswerChoice.answer_id == answer_id, AnswerChoice.option_id.in_(gone)
                )
            )
        new = wanted - current
        if new:
            stmt = upsert_insert(self.session, AnswerChoice).values(
                [{"answer_id": answer_id, "option_id": option_id} for option_id in sorted(new)]
            )
            await self.session.execute(stmt.on_conflict_do_nothing())

    async def current(self, question_id: int, user_id: int) -> tuple[int, set[int], str | None] | None:
        """The member's answer: ``(answer_id, option ids, text)``, or ``None``."""
        row = (
            await self.session.execute(
                select(Answer.id, Answer.text).where(
                    Answer.question_id == question_id, Answer.user_id == user_id
                )
            )
        ).one_or_none()
        if row is None:
            return None
        return row[0], (await self.choices_of([row[0]]))[row[0]], row[1]  # type: ignore[return-value]

    async def of_user(
        self, question_ids: Iterable[int], user_id: int
    ) -> dict[int, tuple[Collection[int], str | None]]:
        """The member's answers to several questions (a survey):
        ``{question_id: (option ids, text)}`` — a set, or a tuple in rank order for an answer
        stored with ranks; unanswered questions are absent."""
        ids = list(question_ids)
        if not ids:
            return {}
        stmt = (
            select(Answer.question_id, Answer.text, AnswerChoice.option_id, AnswerChoice.rank)
            .join(AnswerChoice, AnswerChoice.answer_id == Answer.id, isouter=True)
            .where(Answer.question_id.in_(ids), Answer.user_id == user_id)
        )
        out: dict[int, tuple[Any, str | None]] = {}
        ranked: dict[int, list[tuple[int, int]]] = {}
        for question_id, text, option_id, rank in await self.session.execute(stmt):
            chosen, _ = out.setdefault(question_id, (set(), text))
            if rank is not None:
                ranked.setdefault(question_id, []).append((rank, option_id))
            elif option_id is not None:
                chosen.add(option_id)
        if ranked:
            orders: dict[int, tuple[int, ...]] = {}
            _by_rank(ranked, orders)
            for question_id, order in orders.items():
                out[question_id] = (order, out[question_id][1])
        return out

    async def respondents_across(self, question_ids: Iterable[int]) -> tuple[int, int]:
        """``(members who answered at least one of the questions, members who answered all)``
        — linked answers only (an unlinked answer no longer says whose it is)."""
        ids = list(question_ids)
        if not ids:
            return 0, 0
        per_user = (
            select(Answer.user_id, func.count(Answer.id).label("n"))
            .where(Answer.question_id.in_(ids), Answer.user_id.is_not(None))
            .group_by(Answer.user_id)
            .subquery()
        )
        stmt = select(
            func.count(per_user.c.user_id),
            func.coalesce(func.sum(case((per_user.c.n >= len(ids), 1), else_=0)), 0),
        )
        row = (await self.session.execute(stmt)).one()
        return int(row[0] or 0), int(row[1] or 0)

    async def delete(self, question_id: int, user_id: int) -> bool:
        result = await self.session.execute(
            delete(Answer).where(Answer.question_id == question_id, Answer.user_id == user_id)
        )
        return result.rowcount > 0

    async def delete_by_id(self, answer_id: int) -> None:
        await self.session.execute(delete(Answer).where(Answer.id == answer_id))

    async def users_with_choices(self, question_id: int) -> dict[int, set[int]]:
        """Every member's chosen options for one question (to reconcile a native poll)."""
        stmt = (
            select(Answer.user_id, AnswerChoice.option_id)
            .join(AnswerChoice, AnswerChoice.answer_id == Answer.id, isouter=True)
            .where(Answer.question_id == question_id, Answer.user_id.is_not(None))
        )
        out: dict[int, set[int]] = {}
        for user_id, option_id in await self.session.execute(stmt):
            out.setdefault(user_id, set())
            if option_id is not None:
                out[user_id].add(option_id)
        return out

    # ------------------------------------------------------------------ counts
    async def respondent_ids(self, question_ids: Iterable[int]) -> set[int]:
        """Members who answered at least one of these questions."""
        stmt = select(Answer.user_id).where(Answer.question_id.in_(list(question_ids)), Answer.user_id.is_not(None))
        return set(await self.session.scalars(stmt.distinct()))

    async def respondents(self, question_id: int) -> int:
        stmt = select(func.count(Answer.id)).where(Answer.question_id == question_id)
        return int(await self.session.scalar(stmt) or 0)

    async def counts(self, question_id: int) -> dict[int, int]:
        """``{option_id: number of answers choosing it}`` (options nobody chose are absent)."""
        stmt = (
            select(AnswerChoice.option_id, func.count())
            .join(Answer, Answer.id == AnswerChoice.answer_id)
            .where(Answer.question_id == question_id)
            .group_by(AnswerChoice.option_id)
        )
        return {option_id: int(count) for option_id, count in await self.session.execute(stmt)}

    async def rank_stats(self, question_id: int) -> dict[int, tuple[float, int]]:
        """``{option_id: (mean rank, members who ranked it first)}`` over the answers that
        ranked the option (options nobody ranked are absent)."""
        stmt = (
            select(
                AnswerChoice.option_id,
                func.avg(AnswerChoice.rank),
                func.sum(case((AnswerChoice.rank == 1, 1), else_=0)),
            )
            .join(Answer, Answer.id == AnswerChoice.answer_id)
            .where(Answer.question_id == question_id, AnswerChoice.rank.is_not(None))
            .group_by(AnswerChoice.option_id)
        )
        return {
            option_id: (float(mean), int(firsts or 0))
            for option_id, mean, firsts in await self.session.execute(stmt)
        }

    async def counts_by_member_type(self, question_id: int) -> dict[tuple[str | None, int], int]:
        """``{(member_type, option_id): count}``; ``member_type`` is ``None`` without a profile."""
        stmt = (
            select(Answer.member_type, AnswerChoice.option_id, func.count())
            .join(Answer, Answer.id == AnswerChoice.answer_id)
            .where(Answer.question_id == question_id)
            .group_by(Answer.member_type, AnswerChoice.option_id)
        )
        return {(mt, option_id): int(count) for mt, option_id, count in await self.session.execute(stmt)}

    async def respondents_by_member_type(self, question_id: int) -> dict[str | None, int]:
        stmt = (
            select(Answer.member_type, func.count(Answer.id))
            .where(Answer.question_id == question_id)
            .group_by(Answer.member_type)
        )
        return {mt: int(count) for mt, count in await self.session.execute(stmt)}

    async def voters(self, question_id: int) -> dict[int, list[int]]:
        """``{option_id: [user ids]}`` in answering order (named polls only)."""
        stmt = (
            select(AnswerChoice.option_id, Answer.user_id)
            .join(Answer, Answer.id == AnswerChoice.answer_id)
            .where(Answer.question_id == question_id, Answer.user_id.is_not(None))
            .order_by(Answer.answered_at, Answer.id)
        )
        out: dict[int, list[int]] = {}
        for option_id, user_id in await self.session.execute(stmt):
            out.setdefault(option_id, []).append(user_id)
        return out

    async def texts(self, question_id: int, *, limit: int) -> list[tuple[int | None, str, str | None]]:
        """The latest open answers: ``(user_id, text, member_type)``, newest first."""
        stmt = (
            select(Answer.user_id, Answer.text, Answer.member_type)
            .where(Answer.question_id == question_id, Answer.text.is_not(None))
            .order_by(Answer.updated_at.desc(), Answer.id.desc())
            .limit(limit)
        )
        return [(user_id, text, mt) for user_id, text, mt in await self.session.execute(stmt)]

    async def option_ids(self, question_id: int) -> list[int]:
        stmt = select(Option.id).where(Option.question_id == question_id).order_by(Option.position)
        return list(await self.session.scalars(stmt))
