"""Member profiles and privacy, without Discord.

A member's profile (member type, organisation, region or country) exists only after they accept
the consent notice: :meth:`ProfileService.record_consent` creates the row with ``consent_at``,
and :meth:`ProfileService.set_profile` refuses to store anything before that.  So a member type
on a profile always means consent was given, and the votes that copy it into
``Answer.member_type`` (the polls service) only ever copy a consented type.  A later change of
the profile does not touch existing answers: each answer keeps its snapshot.

Privacy: :meth:`my_data` gathers everything stored about one member, :meth:`forget` deletes their
profile and deletes or unlinks their answers (audit-logged with counts only, never the member's
id), :meth:`prune` applies the retention period (``reseau-bot prune``)::

    service = ProfileService.from_config(sessions, config)
    await service.record_consent(42, lang="fr")
    await service.set_profile(42, "collectivite", "Ville de Lyon", "Auvergne-Rhône-Alpes")
    data = await service.my_data(42)
    result = await service.forget(42, actor_id=42)
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import DEFAULT_MEMBER_TYPE_OBJECTS, Config, MemberType, PrivacySection
from bot.errors import Conflict, InvalidInput
from storage import models
from storage.repositories import AuditRepository, ProfileRepository
from storage.repositories.profiles import AnswerRow, AuditRow, PollRow

__all__ = [
    "FORGET_MODES",
    "MAX_ORGANISATION",
    "MAX_REGION",
    "ConsentFacts",
    "ForgetResult",
    "MyData",
    "ProfileService",
    "ProfileView",
    "PruneResult",
    "StoredCounts",
    "clean_field",
]

MAX_ORGANISATION = 200  # the column
MAX_REGION = 100
FORGET_MODES = ("delete", "unlink")
STORED_FIELDS = ("member_type", "organisation", "region", "lang", "consent_at")
_MENTION = re.compile(r"@(?:everyone|here)\b|<@[!&]?\d+>|<#\d+>", re.IGNORECASE)


# ------------------------------------------------------------------------------ results
@dataclass(frozen=True)
class ConsentFacts:
    """What the consent notice tells a member: the cog words it from the catalogue."""

    stored: tuple[str, ...]  # profile fields kept (``STORED_FIELDS``)
    retention_days: int  # how long, after the last change or answer
    forget_mode: str  # what /forget-me does to answers: "delete" or "unlink"


@dataclass(frozen=True)
class ProfileView:
    user_id: int
    member_type: str | None
    organisation: str | None
    region: str | None
    lang: str | None
    consent_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @property
    def consented(self) -> bool:
        return self.consent_at is not None


@dataclass(frozen=True)
class StoredCounts:
    has_profile: bool
    answers: int

    @property
    def anything(self) -> bool:
        return self.has_profile or self.answers > 0


@dataclass(frozen=True)
class MyData:
    """Everything the bot stores about one member."""

    user_id: int
    generated_at: datetime
    profile: ProfileView | None
    answers: tuple[AnswerRow, ...]
    polls_created: tuple[PollRow, ...] = ()
    audit: tuple[AuditRow, ...] = ()
    retention_days: int = 0

    def to_json(self, member_type_label: Callable[[str | None], str | None]) -> bytes:
        """The member's copy: UTF-8 JSON, times in ISO 8601 UTC."""
        profile = None
        if self.profile is not None:
            profile = {
                "member_type": self.profile.member_type,
                "member_type_label": member_type_label(self.profile.member_type),
                "organisation": self.profile.organisation,
                "region": self.profile.region,
                "language": self.profile.lang,
                "consent_at": _iso(self.profile.consent_at),
                "created_at": _iso(self.profile.created_at),
                "updated_at": _iso(self.profile.updated_at),
            }
        document = {
            "about": "reseau-bot: everything stored about this Discord account",
            "discord_user_id": str(self.user_id),
            "generated_at": _iso(self.generated_at),
            "retention_days": self.retention_days,
            "profile": profile,
            "answers": [
                {
                    "poll_id": a.poll_id,
                    "poll": a.poll_title,
                    "campaign": a.campaign,
                    "question_code": a.question_code,
                    "question": a.question_text,
                    "kind": a.kind,
                    "choices": list(a.choices),
                    "text": a.text,
                    "member_type_when_answered": a.member_type,
                    "answered_at": _iso(a.answered_at),
                    "updated_at": _iso(a.updated_at),
                }
                for a in self.answers
            ],
            "polls_created": [
                {"poll_id": p.poll_id, "title": p.title, "status": p.status, "created_at": _iso(p.created_at)}
                for p in self.polls_created
            ],
            "audit_log_actions": [
                {**asdict(e), "at": _iso(e.at)} for e in self.audit
            ],
        }
        return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")


@dataclass(frozen=True)
class ForgetResult:
    mode: str
    profile_deleted: bool
    answers: int  # deleted or unlinked
    poll_ids: tuple[int, ...] = field(default=())  # polls whose counts may have changed


@dataclass(frozen=True)
class PruneResult:
    cutoff: datetime
    retention_days: int
    answers: int
    profiles: int
    dry_run: bool = False


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _view(profile: models.Profile) -> ProfileView:
    return ProfileView(
        user_id=profile.user_id,
        member_type=profile.member_type,
        organisation=profile.organisation,
        region=profile.region,
        lang=profile.lang,
        consent_at=profile.consent_at,
        created_at=profile.created_at,
        updated_at=profile.updated_at,
    )


def clean_field(value: str | None, *, max_length: int, too_long_key: str) -> str | None:
    """Strip and collapse whitespace; empty → ``None``; refuse mentions and over-long text."""
    text = " ".join((value or "").split())
    if not text:
        return None
    if _MENTION.search(text):
        raise InvalidInput("profile.error.mention")
    if len(text) > max_length:
        raise InvalidInput(too_long_key, length=len(text), max=max_length)
    return text


# ------------------------------------------------------------------------------ service
class ProfileService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        member_types: Sequence[MemberType] = DEFAULT_MEMBER_TYPE_OBJECTS,
        privacy: PrivacySection | None = None,
        clock: Callable[[], datetime] = models.utcnow,
    ) -> None:
        self.sessions = sessions
        self.member_types = tuple(member_types)
        self.privacy = privacy or PrivacySection()
        self.clock = clock

    @classmethod
    def from_config(
        cls,
        sessions: async_sessionmaker[AsyncSession],
        config: Config,
        clock: Callable[[], datetime] = models.utcnow,
    ) -> ProfileService:
        return cls(sessions, member_types=config.member_types, privacy=config.privacy, clock=clock)

    def configure(self, config: Config) -> None:
        """Follow a new configuration (``Services.configure``): member types and retention."""
        self.member_types = tuple(config.member_types)
        self.privacy = config.privacy

    # -------------------------------------------------------------------- facts and labels
    def consent_facts(self) -> ConsentFacts:
        return ConsentFacts(
            stored=STORED_FIELDS,
            retention_days=self.privacy.retention_days,
            forget_mode=self.privacy.forget_mode,
        )

    def member_type_label(self, code: str | None, lang: str) -> str | None:
        for member_type in self.member_types:
            if member_type.code == code:
                return member_type.fr if lang == "fr" else member_type.en
        return code

    def check_member_type(self, code: str) -> str:
        codes = [t.code for t in self.member_types]
        if code not in codes:
            raise InvalidInput("profile.error.unknown_type", code=code, choices=", ".join(codes))
        return code

    # -------------------------------------------------------------------- profile
    async def get(self, user_id: int) -> ProfileView | None:
        async with self.sessions() as session:
            profile = await ProfileRepository(session).get(user_id)
        return _view(profile) if profile is not None else None

    async def record_consent(self, user_id: int, *, lang: str | None = None) -> ProfileView:
        """The member accepted the notice: create their (empty) profile with ``consent_at``.
        Accepting again keeps the first date."""
        now = self.clock()
        async with self.sessions.begin() as session:
            repo = ProfileRepository(session)
            current = await repo.get(user_id)
            values: dict[str, Any] = {"lang": lang} if lang else {}
            if current is None or current.consent_at is None:
                values["consent_at"] = now
            profile = await repo.upsert(user_id, now=now, **values)
            return _view(profile)

    async def set_profile(
        self,
        user_id: int,
        member_type: str,
        organisation: str | None = None,
        region: str | None = None,
        *,
        lang: str | None = None,
    ) -> ProfileView:
        """Store the member's type, organisation and region (both optional: empty clears them).
        Refused before consent; answers already given keep the type they were given with."""
        member_type = self.check_member_type(member_type)
        organisation = clean_field(
            organisation, max_length=MAX_ORGANISATION, too_long_key="profile.error.organisation_too_long"
        )
        region = clean_field(region, max_length=MAX_REGION, too_long_key="profile.error.region_too_long")
        now = self.clock()
        async with self.sessions.begin() as session:
            repo = ProfileRepository(session)
            current = await repo.get(user_id)
            if current is None or current.consent_at is None:
                raise Conflict("profile.error.no_consent")
            values: dict[str, Any] = {"member_type": member_type, "organisation": organisation, "region": region}
            if lang:
                values["lang"] = lang
            return _view(await repo.upsert(user_id, now=now, **values))

    # -------------------------------------------------------------------- privacy
    async def stored_counts(self, user_id: int) -> StoredCounts:
        async with self.sessions() as session:
            repo = ProfileRepository(session)
            return StoredCounts(
                has_profile=await repo.get(user_id) is not None, answers=await repo.count_answers(user_id)
            )

    async def my_data(self, user_id: int) -> MyData:
        async with self.sessions() as session:
            repo = ProfileRepository(session)
            profile = await repo.get(user_id)
            return MyData(
                user_id=user_id,
                generated_at=self.clock(),
                profile=_view(profile) if profile is not None else None,
                answers=tuple(await repo.answers_of(user_id)),
                polls_created=tuple(await repo.polls_created_by(user_id)),
                audit=tuple(await repo.audit_entries_by(user_id)),
                retention_days=self.privacy.retention_days,
            )

    async def forget(self, user_id: int, *, actor_id: int | None, mode: str | None = None) -> ForgetResult:
        """Delete the member's profile and delete (or unlink) their answers, in one transaction.

        The audit entry says what was done and how much, never to whom: no user id in it (when
        the member asks for themselves, not even as the actor)."""
        mode = mode or self.privacy.forget_mode
        if mode not in FORGET_MODES:
            raise InvalidInput("profile.error.forget_mode", mode=mode)
        async with self.sessions.begin() as session:
            repo = ProfileRepository(session)
            poll_ids = tuple(await repo.poll_ids_answered_by(user_id))
            if mode == "delete":
                answers = await repo.delete_answers_of(user_id)
            else:
                answers = await repo.unlink_answers_of(user_id)
            profile_deleted = await repo.delete(user_id)
            AuditRepository(session).record(
                "forget_me",
                actor_id=None if actor_id == user_id else actor_id,
                target_type="member",
                details={"mode": mode, "answers": answers, "profile": profile_deleted},
            )
        return ForgetResult(mode=mode, profile_deleted=profile_deleted, answers=answers, poll_ids=poll_ids)

    async def prune(
        self, now: datetime | None = None, retention_days: int | None = None, *, dry_run: bool = False
    ) -> PruneResult:
        """Delete answers given more than ``retention_days`` ago and profiles not changed since
        (unless the member answered since).  ``dry_run`` counts without deleting."""
        days = self.privacy.retention_days if retention_days is None else retention_days
        if days < 1:
            raise InvalidInput("profile.error.retention", days=days)
        now = now or self.clock()
        cutoff = now - timedelta(days=days)
        async with self.sessions() as session:
            answers, profiles = await ProfileRepository(session).prune(cutoff)
            if dry_run:
                await session.rollback()
            else:
                AuditRepository(session).record(
                    "prune",
                    actor_id=None,
                    target_type="retention",
                    target_id=str(days),
                    details={"cutoff": cutoff.isoformat(), "answers": answers, "profiles": profiles},
                )
                await session.commit()
        return PruneResult(cutoff=cutoff, retention_days=days, answers=answers, profiles=profiles, dry_run=dry_run)
