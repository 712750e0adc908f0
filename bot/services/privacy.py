"""A privacy hook per feature (Red-DiscordBot's ``red_delete_data_for_user``), without Discord.

Every feature that stores something about a member registers one :class:`PrivacyHook` in the
container's :class:`PrivacyRegistry`.  A hook answers two questions about one member:

``describe(user_id)``
    What ``/my-data`` shows of this feature: a mapping of top-level keys of the member's JSON
    document to plain, JSON-serialisable data (times as ISO 8601 strings).  Two hooks never
    claim the same key.
``forget(user_id, mode)``
    What ``/forget-me`` does here, ``mode`` being ``privacy.forget_mode`` (``"delete"`` or
    ``"unlink"``), in the feature's own transaction: a :class:`Forgotten` saying how many
    records of each kind it removed (deleted or unlinked), which records that touched (e.g. the
    polls whose answers changed, so their public counts can be refreshed) and what it
    deliberately kept.
``stored(user_id)``
    How many of the member's records ``forget`` would remove (0: nothing), for the
    confirmation before ``/forget-me`` and its "nothing to delete" answer.

The :class:`~bot.services.profiles.ProfileService` calls every hook through the registry; a hook
that raises does not stop the others: the result names the feature that failed (``failed``),
and nothing claims it succeeded.  Adding a feature means registering its hook in
``bot/services/container.py``; the profile service does not change.

The hooks kept here are those of records no single feature owns, which name a member as their
author or actor: :class:`AuditHook` (audit-log actions), :class:`AnnouncementsHook`
(announcements written) and :class:`PollsCreatedHook` (polls created).  ``/forget-me`` keeps those
records — they are the network's — and removes the member from them (author or actor NULL), so
that afterwards ``/my-data`` shows nothing and ``/forget-me`` truthfully finds nothing left.
Built-in hooks of features: ``ProfileHook`` (:mod:`bot.services.profiles`) and ``PollAnswersHook``
(:mod:`bot.services.polls.privacy`).

:class:`AnswerPseudonyms` keeps anonymous polls anonymous: their answers are stored under a keyed
pseudonym per poll, never the member's id.

:class:`Tombstones` keeps forgotten members forgotten.  Discord still holds what a member did
in a native poll (its voter list, replayed vote events); ``/forget-me`` leaves a tombstone — a
keyed hash of the member's id (HMAC-SHA256 under a random key kept in the database, never the
id) and when they asked — and the paths that write an answer from Discord's data (a native
poll's vote events and its reconciling at closing, :mod:`bot.services.polls.voting`) skip a
member forgotten after the poll was created.  A new explicit click on one of the bot's buttons
is a new answer (a new consent); a native poll created after the forgetting counts the member's
votes as new ones too.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from storage.values import ANSWER_KEY, TOMBSTONE_KEY, utcnow

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from storage.repositories.forgotten import ForgottenRepository
    from storage.repositories.profiles import MemberRecordsRepository


__all__ = [
    "AnnouncementsHook",
    "AnswerPseudonyms",
    "AuditHook",
    "Described",
    "FeatureFailure",
    "Forgotten",
    "ForgottenAll",
    "PrivacyHook",
    "PollsCreatedHook",
    "PrivacyRegistry",
    "Tombstones",
    "answer_pseudonym",
    "pseudonym_scope",
    "iso",
]

log = logging.getLogger(__name__)


def iso(value: datetime | None) -> str | None:
    """A time as the member's document writes it (ISO 8601, UTC as stored)."""
    return value.isoformat() if value is not None else None


# ------------------------------------------------------------------------------ results
@dataclass(frozen=True)
class Forgotten:
    """What one feature did for ``/forget-me``."""

    removed: Mapping[str, int] = field(default_factory=dict)  # kind of record → deleted or unlinked
    records: Mapping[str, tuple[int, ...]] = field(default_factory=dict)  # e.g. "polls" → ids touched
    kept: Mapping[str, int] = field(default_factory=dict)  # kind of record → deliberately kept


@dataclass(frozen=True)
class FeatureFailure:
    feature: str
    error: str  # the exception's type (details go to the log, not to the member)


@dataclass(frozen=True)
class Described:
    """Every feature's section of ``/my-data``: feature → {document key → plain data}."""

    sections: Mapping[str, Mapping[str, Any]]
    failed: tuple[FeatureFailure, ...] = ()

    def document(self) -> dict[str, Any]:
        """The sections merged into one mapping of document keys."""
        merged: dict[str, Any] = {}
        for section in self.sections.values():
            merged.update(section)
        return merged


@dataclass(frozen=True)
class ForgottenAll:
    """Every feature's :class:`Forgotten`, and the features that failed."""

    mode: str
    features: Mapping[str, Forgotten]
    failed: tuple[FeatureFailure, ...] = ()

    def removed(self, kind: str) -> int:
        """How many records of ``kind`` were removed, over every feature."""
        return sum(int(f.removed.get(kind, 0)) for f in self.features.values())

    def records(self, kind: str) -> tuple[int, ...]:
        """The ids of ``kind`` touched, over every feature, in order, without repeats."""
        seen: dict[int, None] = {}
        for forgotten in self.features.values():
            seen.update(dict.fromkeys(forgotten.records.get(kind, ())))
        return tuple(seen)

    def totals(self) -> dict[str, int]:
        """Every kind removed → count (the audit entry's details)."""
        out: dict[str, int] = {}
        for forgotten in self.features.values():
            for kind, count in forgotten.removed.items():
                out[kind] = out.get(kind, 0) + count
        return out


# ------------------------------------------------------------------------------ the protocol
@runtime_checkable
class PrivacyHook(Protocol):
    """One feature's part of ``/my-data`` and ``/forget-me``."""

    feature: str  # a short stable name: "profiles", "polls"…

    async def describe(self, user_id: int) -> Mapping[str, Any]: ...

    async def forget(self, user_id: int, mode: str) -> Forgotten: ...

    async def stored(self, user_id: int) -> int: ...


class PrivacyRegistry:
    """The hooks of one process, in registration order (the container holds it)."""

    def __init__(self, hooks: Iterable[PrivacyHook] = ()) -> None:
        self._hooks: dict[str, PrivacyHook] = {}
        for hook in hooks:
            self.register(hook)

    def register(self, hook: PrivacyHook) -> PrivacyHook:
        if not isinstance(hook, PrivacyHook):
            raise TypeError(f"{hook!r} is not a privacy hook (feature, describe, forget, stored)")
        if hook.feature in self._hooks:
            raise ValueError(f"a privacy hook is already registered for {hook.feature!r}")
        self._hooks[hook.feature] = hook
        return hook

    def unregister(self, feature: str) -> None:
        self._hooks.pop(feature, None)

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(self._hooks)

    @property
    def authored_features(self) -> frozenset[str]:
        """The hooks whose records the member made and ``/forget-me`` keeps without their
        author (a hook says so with ``authored = True``): counted apart from what is deleted."""
        return frozenset(hook.feature for hook in self if getattr(hook, "authored", False))

    def __iter__(self):
        return iter(tuple(self._hooks.values()))

    def __len__(self) -> int:
        return len(self._hooks)

    async def describe(self, user_id: int) -> Described:
        """Every hook's section; a hook that fails (or claims a key another already gave) is
        named in ``failed`` and the others still answer."""
        sections: dict[str, Mapping[str, Any]] = {}
        failed: list[FeatureFailure] = []
        claimed: dict[str, str] = {}
        for hook in self:
            try:
                section = dict(await hook.describe(user_id))
                taken = [key for key in section if key in claimed]
                if taken:
                    raise ValueError(f"{hook.feature!r} describes {taken}, already given by {claimed[taken[0]]!r}")
            except Exception as exc:
                log.exception("privacy hook %r failed to describe a member's data", hook.feature)
                failed.append(FeatureFailure(hook.feature, type(exc).__name__))
                continue
            claimed.update(dict.fromkeys(section, hook.feature))
            sections[hook.feature] = section
        return Described(sections=sections, failed=tuple(failed))

    async def forget(self, user_id: int, mode: str) -> ForgottenAll:
        """Every hook forgets, each in its own transaction; a failure is reported, not raised."""
        features: dict[str, Forgotten] = {}
        failed: list[FeatureFailure] = []
        for hook in self:
            try:
                features[hook.feature] = await hook.forget(user_id, mode)
            except Exception as exc:
                log.exception("privacy hook %r failed to forget a member", hook.feature)
                failed.append(FeatureFailure(hook.feature, type(exc).__name__))
        return ForgottenAll(mode=mode, features=features, failed=tuple(failed))

    async def stored(self, user_id: int) -> tuple[dict[str, int], tuple[FeatureFailure, ...]]:
        """feature → how many records ``forget`` would remove; and the features that failed."""
        counts: dict[str, int] = {}
        failed: list[FeatureFailure] = []
        for hook in self:
            try:
                counts[hook.feature] = int(await hook.stored(user_id))
            except Exception as exc:
                log.exception("privacy hook %r failed to count a member's data", hook.feature)
                failed.append(FeatureFailure(hook.feature, type(exc).__name__))
        return counts, tuple(failed)


# ------------------------------------------------------------------------------ records unlinked by /forget-me
class _UnlinkedRecordsHook:
    """Records that name a member as their author or actor and that belong to the network (an
    announcement published in its name, the audit log's record of what was done): ``/my-data``
    lists them under ``key``; ``/forget-me`` keeps the records but removes the member from them
    (the author or actor becomes NULL, "someone": no id, no pseudonym — nothing that could
    point back to the member).  Subclasses give ``feature``, ``key``, how to read the records
    (``_records``), how one reads in ``/my-data`` (``_entry``) and how to unlink them."""

    feature = ""
    key = ""
    authored = True  # PrivacyRegistry.authored_features

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def _records(self, repo: MemberRecordsRepository, user_id: int) -> Sequence[Any]:
        raise NotImplementedError

    async def _unlink(self, repo: MemberRecordsRepository, user_id: int) -> int:
        raise NotImplementedError

    def _entry(self, record: Any) -> dict[str, Any]:
        raise NotImplementedError

    async def _read(self, user_id: int) -> Sequence[Any]:
        from storage.repositories.profiles import MemberRecordsRepository

        async with self.sessions() as session:
            return await self._records(MemberRecordsRepository(session), user_id)

    async def describe(self, user_id: int) -> Mapping[str, Any]:
        return {self.key: [self._entry(record) for record in await self._read(user_id)]}

    async def forget(self, user_id: int, mode: str) -> Forgotten:
        from storage.repositories.profiles import MemberRecordsRepository

        async with self.sessions.begin() as session:
            unlinked = await self._unlink(MemberRecordsRepository(session), user_id)
        return Forgotten(removed={self.key: unlinked})

    async def stored(self, user_id: int) -> int:
        return len(await self._read(user_id))


class AuditHook(_UnlinkedRecordsHook):
    """The audit-log actions a member took (as a moderator).  ``/forget-me`` keeps the entries
    (the record of what was done) with no actor; its own ``forget_me`` entry names nobody."""

    feature = "audit"
    key = "audit_log_actions"

    async def _records(self, repo: MemberRecordsRepository, user_id: int) -> Sequence[Any]:
        return await repo.audit_entries_by(user_id)

    async def _unlink(self, repo: MemberRecordsRepository, user_id: int) -> int:
        return await repo.unlink_audit_entries_by(user_id)

    def _entry(self, record: Any) -> dict[str, Any]:
        return {"at": iso(record.at), "action": record.action, "target_type": record.target_type,
                "target_id": record.target_id}


class AnnouncementsHook(_UnlinkedRecordsHook):
    """The announcements a member wrote (as a moderator).  ``/forget-me`` keeps them (they were
    published in the network's name) with no author."""

    feature = "announcements"
    key = "announcements_written"

    async def _records(self, repo: MemberRecordsRepository, user_id: int) -> Sequence[Any]:
        return await repo.announcements_by(user_id)

    async def _unlink(self, repo: MemberRecordsRepository, user_id: int) -> int:
        return await repo.unlink_announcements_by(user_id)

    def _entry(self, record: Any) -> dict[str, Any]:
        return {"announcement_id": record.announcement_id, "title": record.title, "status": record.status,
                "created_at": iso(record.created_at)}


class PollsCreatedHook(_UnlinkedRecordsHook):
    """The polls a member created.  ``/forget-me`` keeps them (the network's polls, with their
    answers) with no author."""

    feature = "polls_created"
    key = "polls_created"

    async def _records(self, repo: MemberRecordsRepository, user_id: int) -> Sequence[Any]:
        return await repo.polls_created_by(user_id)

    async def _unlink(self, repo: MemberRecordsRepository, user_id: int) -> int:
        return await repo.unlink_polls_created_by(user_id)

    def _entry(self, record: Any) -> dict[str, Any]:
        return {"poll_id": record.poll_id, "title": record.title, "status": record.status,
                "created_at": iso(record.created_at)}


# ------------------------------------------------------------------------------ keys kept in the database
class _StateKey:
    """A random 32-byte key created once (by the first use that needs it) and kept in
    ``bot_state`` under ``name``; once read it never changes, so it is read once per process."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], name: str,
                 clock: Callable[[], datetime]) -> None:
        self.sessions = sessions
        self.name = name
        self.clock = clock
        self.value: bytes | None = None

    async def read(self, repo: ForgottenRepository, *, create: bool) -> bytes | None:
        if self.value is None:
            value = await repo.key(self.name)
            if value is None and create:
                value = await repo.create_key(secrets.token_hex(32), now=self.clock(), name=self.name)
            if value is not None:
                self.value = bytes.fromhex(value)
        return self.value

    async def get(self, *, create: bool) -> bytes | None:
        from storage.repositories.forgotten import ForgottenRepository

        if self.value is None:
            async with self.sessions.begin() as session:
                await self.read(ForgottenRepository(session), create=create)
        return self.value


# ------------------------------------------------------------------------------ anonymous answers
_ANSWER_CONTEXT = b"reseau-bot anonymous answer:"
_PSEUDONYM_FLOOR = 1 << 32  # |pseudonym| >= 2**32: apart from any negative sort key an export makes of an answer id


def pseudonym_scope(poll_id: int, campaign_id: int | None) -> str:
    """Where one pseudonym holds: the poll's campaign (one survey: an analyst's wide export has one
    row per respondent across its polls), else the poll alone.  A poll's campaign is set when
    it is created and never changes."""
    return f"c{campaign_id}" if campaign_id is not None else f"p{poll_id}"


def answer_pseudonym(key: bytes, scope: str, user_id: int) -> int:
    """The respondent id stored for ``user_id`` in an anonymous poll of ``scope``
    (:func:`pseudonym_scope`): a negative 64-bit integer from HMAC-SHA256 of (scope, member)
    under ``key`` — never a Discord id (those are positive), the same for every question of the
    poll and every poll of its campaign, different anywhere else."""
    digest = hmac.digest(key, _ANSWER_CONTEXT + f"{scope}:{user_id}".encode(), "sha256")
    return -(_PSEUDONYM_FLOOR + int.from_bytes(digest[:8], "big") % ((1 << 63) - _PSEUDONYM_FLOOR))


def answer_pseudonyms(key: bytes, scope: str) -> Callable[[int], int]:
    """:func:`answer_pseudonym` of one scope for many members (a campaign's coverage): the same
    values, with HMAC (RFC 2104) spelt out over two SHA-256 states keyed once — the inner pad fed
    the scope too — each copied per member, as the exports' pseudonyms do
    (:func:`bot.services.exports.pseudonyms.respondent_ids`): half the time of
    :func:`hmac.digest`, which redoes the key schedule for every member."""
    import hashlib

    block = 64  # SHA-256's block size
    padded = (hashlib.sha256(key).digest() if len(key) > block else key).ljust(block, b"\0")
    inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in padded))
    inner.update(_ANSWER_CONTEXT + f"{scope}:".encode())
    outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in padded))
    copy_inner, copy_outer = inner.copy, outer.copy
    span = (1 << 63) - _PSEUDONYM_FLOOR

    def of(user_id: int) -> int:
        mac = copy_inner()
        mac.update(str(user_id).encode())
        out = copy_outer()
        out.update(mac.digest())
        return -(_PSEUDONYM_FLOOR + int.from_bytes(out.digest()[:8], "big") % span)

    return of


class AnswerPseudonyms:
    """Who answered an anonymous poll is stored as a keyed pseudonym per poll, never the id.

    ``answers.user_id`` holds, for an anonymous poll, :func:`answer_pseudonym` of the poll's
    scope (its campaign, else the poll) and the member: one member still answers once per
    question (the unique constraint), changes their mind and sees their own answer (the bot
    recomputes the pseudonym from the clicking member), and ``/my-data``/``/forget-me`` find
    their answers the same way.  Nothing a moderator can reach turns a pseudonym back into a
    member (results show totals, exports pseudonymise again and refuse ``--identified``); a
    campaign's anonymous polls share the pseudonym (one respondent per member in its wide
    export and its respondent count), and nothing links them to another campaign or poll.  Whoever holds the database *and* a list of member ids can test whether a
    given member answered (the key is in the database): the README says so."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, clock: Callable[[], datetime] = utcnow) -> None:
        self._key = _StateKey(sessions, ANSWER_KEY, clock)

    async def of(self, poll_id: int, campaign_id: int | None, user_id: int) -> int:
        """The member's respondent id in the anonymous poll (creating the key on first use)."""
        key = self._key.value or await self._key.get(create=True)
        assert key is not None
        return answer_pseudonym(key, pseudonym_scope(poll_id, campaign_id), user_id)

    async def in_polls(self, polls: Iterable[tuple[int, int | None]], user_id: int) -> list[tuple[int, int]]:
        """``(poll id, the member's respondent id there)`` for each anonymous ``(poll id,
        campaign id)``; none when no key exists yet (then no anonymous answer was ever stored)."""
        key = await self._key.get(create=False)
        if key is None:
            return []
        return [(poll_id, answer_pseudonym(key, pseudonym_scope(poll_id, campaign_id), user_id))
                for poll_id, campaign_id in polls]

    async def in_campaign(self, campaign_id: int) -> Callable[[int], int]:
        """Member id → their respondent id in the campaign's anonymous polls, for many members
        at once (:func:`answer_pseudonyms`): what to compare a campaign's named respondents with
        (coverage, the campaigns' list).  Without a key yet no anonymous answer was ever stored,
        and the id is its own."""
        key = await self._key.get(create=False)
        if key is None:
            return lambda user_id: user_id
        return answer_pseudonyms(key, pseudonym_scope(0, campaign_id))  # a campaign's scope: no poll of its own


# ------------------------------------------------------------------------------ tombstones
_TOMBSTONE_CONTEXT = b"reseau-bot forgotten member:"  # keeps these hashes apart from any other use of a key


def member_hash(key: bytes, user_id: int) -> str:
    """A forgotten member's tombstone: HMAC-SHA256 of the id under ``key`` (64 hex digits)."""
    return hmac.digest(key, _TOMBSTONE_CONTEXT + str(user_id).encode(), "sha256").hex()


class Tombstones:
    """Who asked ``/forget-me``, as keyed hashes, and when (the latest time they asked).

    The key is 32 random bytes created by the first forgetting and kept in ``bot_state``: the
    table names nobody, and turning a hash back into a member means trying candidate ids with
    the key.  Members are never listed, only looked up by id."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, clock: Callable[[], datetime] = utcnow) -> None:
        self.sessions = sessions
        self.clock = clock
        self._key = _StateKey(sessions, TOMBSTONE_KEY, clock)

    async def bury(self, user_id: int, *, at: datetime | None = None) -> None:
        """Leave the member's tombstone (``at``: when they asked, by default now)."""
        from storage.repositories.forgotten import ForgottenRepository

        async with self.sessions.begin() as session:
            repo = ForgottenRepository(session)
            key = await self._key.read(repo, create=True)
            assert key is not None
            await repo.record(member_hash(key, user_id), now=at or self.clock())

    async def forgotten_since(self, user_ids: Collection[int], since: datetime) -> set[int]:
        """The members of ``user_ids`` who asked to be forgotten at or after ``since`` (for a
        poll: its creation — what Discord holds of them in it may predate their request)."""
        from storage.repositories.forgotten import ForgottenRepository

        if not user_ids:
            return set()
        async with self.sessions() as session:
            repo = ForgottenRepository(session)
            key = await self._key.read(repo, create=False)
            if key is None:  # nobody was ever forgotten
                return set()
            hashes = {member_hash(key, user_id): user_id for user_id in user_ids}
            found = await repo.forgotten_at(hashes)
        return {hashes[h] for h, at in found.items() if at >= since}


class DashboardHook:
    """The dashboard's sign-in links and sessions name the moderator who asked: ``/my-data``
    lists them, ``/forget-me`` deletes them (a moderator forgotten is signed out)."""

    feature = "dashboard"

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def describe(self, user_id: int) -> Mapping[str, Any]:
        from storage.repositories.dashboard import DashboardRepository

        async with self.sessions() as session:
            links, sessions = await DashboardRepository(session).of_member(user_id)
            return {"dashboard_sessions": [
                {"created_at": iso(s.created_at), "expires_at": iso(s.expires_at), "ended_at": iso(s.ended_at)}
                for s in sessions
            ], "dashboard_links": len(links)}

    async def forget(self, user_id: int, mode: str) -> Forgotten:
        from storage.repositories.dashboard import DashboardRepository

        async with self.sessions.begin() as session:
            removed = await DashboardRepository(session).forget_member(user_id)
        return Forgotten(removed={"dashboard_sessions": removed} if removed else {})

    async def stored(self, user_id: int) -> int:
        from storage.repositories.dashboard import DashboardRepository

        async with self.sessions() as session:
            links, sessions = await DashboardRepository(session).of_member(user_id)
        return len(links) + len(sessions)
