"""The poll service's common ground: its settings, the labels it reads from the catalogue, the
reading of polls, the cache of poll structures and the checks every answer path shares (guild,
status, roles, and the open-status check inside a vote's transaction)."""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Self
from zoneinfo import ZoneInfo

from bot.config import DEFAULT_MEMBER_TYPE_OBJECTS, Config, MemberType, PollsSection
from bot.errors import Conflict, Forbidden, InvalidInput, NotFound
from bot.i18n import Catalogue
from bot.services.poll_rules import MAX_TEXT_ANSWER
from bot.services.polls.kinds import is_ordered, kind_of, names
from bot.services.polls.views import PollListing, PollView, VoteResult, poll_view, reader_view
from bot.services.privacy import AnswerPseudonyms, Tombstones
from storage.values import utcnow

if TYPE_CHECKING:
    import asyncio

    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from bot.services.polls.voting import _PendingVote

_STRUCTURE_CACHE = 1024
MAX_ID = 2**31 - 1  # polls.id is an INTEGER column


class PollCore:
    """The state every part of :class:`~bot.services.polls.PollService` shares."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        catalogue: Catalogue,
        settings: PollsSection | None = None,
        tz: ZoneInfo | None = None,
        member_types: Sequence[MemberType] = DEFAULT_MEMBER_TYPE_OBJECTS,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.catalogue = catalogue
        self.settings = settings or PollsSection()
        self.tz = tz or ZoneInfo("Europe/Paris")
        self.member_types = tuple(member_types)
        self.clock = clock
        self._structures: OrderedDict[int, PollView] = OrderedDict()
        # the cached structures as members of other languages read them: {poll: {lang: view}}
        self._readers: dict[int, dict[str, PollView]] = {}
        self._posted_guilds: set[tuple[int, int]] = set()  # (poll, another server it is posted in)
        # the privacy keys are read from the database once, at first use (no I/O here)
        self.pseudonyms = AnswerPseudonyms(sessions, clock=lambda: self.clock())  # anonymous polls' respondents
        self.tombstones = Tombstones(sessions, clock=lambda: self.clock())  # members who asked /forget-me
        self._locks: dict[tuple[int, int], list[Any]] = {}  # key → [lock, users]
        self._queue: list[_PendingVote] = []  # votes waiting for the flush task (group commit)
        self._flusher: asyncio.Task[None] | None = None
        self._writing = False  # a vote is writing a batch itself (see Voting._write_choices)
        self._store: Any = False  # the vote store, built at the first vote (False: not yet)

    @classmethod
    def from_config(
        cls,
        sessions: async_sessionmaker[AsyncSession],
        config: Config,
        catalogue: Catalogue,
        clock: Callable[[], datetime] = utcnow,
    ) -> Self:
        return cls(
            sessions,
            catalogue=catalogue,
            settings=config.polls,
            tz=config.tz,
            member_types=config.member_types,
            clock=clock,
        )

    @staticmethod
    def kinds() -> tuple[str, ...]:
        """The registered kinds (:mod:`bot.services.polls.kinds`)."""
        return names()

    def configure(self, config: Config) -> None:
        """Follow a new configuration (``ReseauBot.reconfigure``)."""
        self.settings = config.polls
        self.tz = config.tz
        self.member_types = tuple(config.member_types)

    # -------------------------------------------------------------------- labels
    def kind_label(self, kind: str, lang: str, max_choices: int = 1) -> str:
        return kind_of(kind).label(self.catalogue, lang, max_choices)

    def builtin_options(self, kind: str, lang: str) -> tuple[tuple[str, str], ...]:
        """``(code, label)`` of a kind's fixed options (yes/no/abstain, Likert…), in ``lang``."""
        return kind_of(kind).options.builtin(self.catalogue, lang)

    def read_in(self, poll: PollView, lang: str) -> PollView:
        """The poll as a member reading ``lang`` sees it in a private reply (a vote's
        confirmation, a survey's steps): each option in its wording in ``lang`` when the poll has
        one (a built-in option — yes/no, Likert… — has one in every language; a moderator's option
        when the poll is posted in several languages), a built-in option of a poll stored without
        it in the catalogue's wording, else as written; each question likewise in its translation
        when there is one (:func:`~bot.services.polls.views.reader_view`).

        No database access: the wording in other languages is read with the poll and cached with
        its structure, and the view in ``lang`` is built once per cached structure (the vote path
        asks for it at every confirmation).  The poll's own language: the poll as it is."""
        if lang == poll.lang:
            return poll
        cached = self._structures.get(poll.id) is poll
        readers = self._readers.get(poll.id) if cached else None
        view = readers.get(lang) if readers else None
        if view is None:
            view = reader_view(poll, lang, lambda kind: dict(self.builtin_options(kind, lang)))
            if cached:
                self._readers.setdefault(poll.id, {})[lang] = view
        return view

    def vote_in(self, result: VoteResult, lang: str) -> VoteResult:
        """A vote's outcome as the member reading ``lang`` is told it (:meth:`read_in`): the
        chosen options in their language; as it is in the poll's own language."""
        if lang == result.poll.lang:
            return result
        return dataclasses.replace(result, poll=self.read_in(result.poll, lang))

    def member_type_label(self, code: str | None, lang: str) -> str:
        if code is None:
            return self.catalogue.t("poll.results.unknown_type", lang)
        for member_type in self.member_types:
            if member_type.code == code:
                return member_type.label(lang, self.catalogue.default_lang)
        return code

    # -------------------------------------------------------------------- reading
    async def get(self, poll_id: int, *, guild_id: int | None = None) -> PollView:
        """The poll as stored now; :class:`NotFound` / :class:`Forbidden` (another guild's)."""
        async with self.sessions() as session:
            view = await self._stored(session, poll_id)
        self._remember(view)
        self._check_guild(view, guild_id)
        return view

    @staticmethod
    async def _stored(session: AsyncSession, poll_id: int) -> PollView:
        """The poll as stored, read in ``session``; :class:`NotFound` when there is none."""
        from storage.repositories import PollRepository

        if not 0 < poll_id <= MAX_ID:  # a forged id the database cannot even hold
            raise NotFound("poll.error.unknown_poll")
        poll = await PollRepository(session).get(poll_id)
        if poll is None:
            raise NotFound("poll.error.unknown_poll")
        return poll_view(poll)

    async def list_polls(self, guild_id: int, *, recent: int = 10, open_limit: int = 25) -> PollListing:
        from storage.repositories import PollRepository

        async with self.sessions() as session:
            repo = PollRepository(session)
            opened = await repo.list_for_guild(guild_id, status="open", limit=open_limit)
            closed = await repo.list_for_guild(guild_id, status="closed", limit=recent)
            return PollListing(tuple(poll_view(p) for p in opened), tuple(poll_view(p) for p in closed))

    async def search(
        self, guild_id: int, text: str = "", *, open_only: bool = False
    ) -> list[tuple[int, str]]:
        """``(id, question)`` for autocompletion."""
        from storage.repositories import PollRepository

        async with self.sessions() as session:
            polls = await PollRepository(session).search(guild_id, text, open_only=open_only)
            return [(p.id, p.title) for p in polls]

    async def check_can_answer(
        self, poll_id: int, *, guild_id: int | None = None, role_ids: Sequence[int] | None = None
    ) -> PollView:
        """The poll, if this member may answer it now (guild, status, roles); else the refusal."""
        return await self._checked(poll_id, guild_id, role_ids)

    async def my_answer(self, poll_id: int, user_id: int) -> VoteResult | None:
        from storage.repositories import AnswerRepository

        poll = await self._structure(poll_id)
        respondent = await self._respondent(poll, user_id)
        async with self.sessions() as session:
            current = await AnswerRepository(session).current(poll.question_id, respondent)
        if current is None:
            return None
        _, option_ids, text = current
        return VoteResult(poll, user_id, self._ordered(poll, option_ids), text, changed=False)

    # -------------------------------------------------------------------- internals
    async def respondent(self, poll: PollView, user_id: int) -> int:
        """The member's respondent id in the poll's answers (see :meth:`_respondent`)."""
        return await self._respondent(poll, user_id)

    async def _respondent(self, poll: PollView, user_id: int) -> int:
        """Who the member is in the poll's answers: their id in a named poll, their pseudonym
        in an anonymous one (never their id: :class:`~bot.services.privacy.AnswerPseudonyms`)."""
        return await self.pseudonyms.of(poll.id, poll.campaign_id, user_id) if poll.anonymous else user_id

    def _remember(self, poll: PollView) -> None:
        if self._structures.get(poll.id) is not poll:
            self._readers.pop(poll.id, None)  # built from the view this one replaces
        self._structures[poll.id] = poll
        self._structures.move_to_end(poll.id)
        while len(self._structures) > _STRUCTURE_CACHE:
            evicted, _ = self._structures.popitem(last=False)
            self._readers.pop(evicted, None)

    def _forget(self, poll_id: int) -> None:
        self._structures.pop(poll_id, None)
        self._readers.pop(poll_id, None)

    def forget_cached(self, poll_id: int) -> None:
        """Drop the cached view of a poll changed by another service (its closing moved from
        the calendar: ``bot.services.calendar``; its wording in another language stored or
        merged: ``bot.services.postings``)."""
        self._forget(poll_id)

    async def _structure(self, poll_id: int) -> PollView:
        """The poll's options and rules (immutable after creation), cached; the status is
        re-read inside each vote's transaction."""
        poll = self._structures.get(poll_id)
        if poll is None:
            poll = await self.get(poll_id)
        return poll

    @staticmethod
    def _check_guild(poll: PollView, guild_id: int | None) -> None:
        if guild_id is not None and poll.guild_id != guild_id:
            raise Forbidden("poll.error.wrong_guild")

    async def _check_posted_in(self, poll: PollView, guild_id: int | None) -> None:
        """Answering or reading from ``guild_id``: the poll's own server, or one where it is
        posted (a network poll has a posting per channel, across the network's servers); else
        :class:`Forbidden`.  The database is asked only when the servers differ, and a server
        found is remembered (postings are never taken back from a server)."""
        from storage.repositories.postings import PostingRepository

        if guild_id is None or poll.guild_id == guild_id or (poll.id, guild_id) in self._posted_guilds:
            return
        async with self.sessions() as session:
            posted = await PostingRepository(session).posted_in_guild(poll.id, guild_id)
        if not posted:
            raise Forbidden("poll.error.wrong_guild")
        self._posted_guilds.add((poll.id, guild_id))

    async def _checked(self, poll_id: int, guild_id: int | None, role_ids: Sequence[int] | None) -> PollView:
        poll = await self._structure(poll_id)
        await self._check_posted_in(poll, guild_id)
        if not poll.is_open:
            raise Conflict(self._closed_key(poll))
        if poll.allowed_role_ids and role_ids is not None and not set(poll.allowed_role_ids) & set(role_ids):
            raise Forbidden("poll.error.role_restricted")
        return poll

    @staticmethod
    def _require_choice_kind(poll: PollView) -> None:
        if kind_of(poll.kind).by_text:
            raise InvalidInput("poll.error.text_only")

    @staticmethod
    def _clean_text(text: str | None) -> str:
        """An open answer, trimmed: not empty, at most ``MAX_TEXT_ANSWER`` characters."""
        value = (text or "").strip()
        if not value:
            raise InvalidInput("poll.error.text_empty")
        if len(value) > MAX_TEXT_ANSWER:
            raise InvalidInput("poll.error.text_too_long", length=len(value), max=MAX_TEXT_ANSWER)
        return value

    @staticmethod
    def _require_quick_poll(poll: PollView) -> None:
        if poll.is_survey:
            raise InvalidInput("survey.error.use_survey")

    async def _ensure_open(self, session: AsyncSession, poll: PollView) -> PollView:
        """Inside the vote's transaction: the poll is still open, else :class:`Conflict` and the
        transaction rolls back.  Atomic with the vote's writes only when read under a lock: a
        shared row lock on PostgreSQL (taken here), the write lock on SQLite — held once the
        transaction has written (a withdrawal, an open answer: write, then check) or taken at its
        start (a vote batch: ``PollRepository.lock_for_write``, then check, then write)."""
        from storage.repositories import PollRepository

        state = await PollRepository(session).status(poll.id, lock=True)
        if state is None:
            self._forget(poll.id)
            raise NotFound("poll.error.unknown_poll")
        status, deadline_at = state
        if status != "open" or (deadline_at is not None and deadline_at <= self.clock()):
            self._forget(poll.id)
            raise Conflict(self._closed_key(poll))
        return poll

    @staticmethod
    def _closed_key(poll: PollView) -> str:
        """What a member's late click is told: a survey takes answers, a quick poll votes."""
        return "survey.error.closed" if poll.is_survey else "poll.error.closed"

    @staticmethod
    def _ordered(poll: PollView, option_ids: Iterable[int]) -> tuple[int, ...]:
        """The chosen options in the poll's order — or in the member's, for an ordered answer."""
        if is_ordered(option_ids):  # type: ignore[arg-type]
            return option_ids  # type: ignore[return-value]
        chosen = set(option_ids)
        return tuple(o.id for o in poll.options if o.id in chosen)
