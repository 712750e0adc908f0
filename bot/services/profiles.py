"""Member profiles and privacy, without Discord.

A member's profile (member type, organisation, region or country) exists only after they accept
the consent notice: :meth:`ProfileService.record_consent` creates the row with ``consent_at``,
and :meth:`ProfileService.set_profile` refuses to store anything before that.  So a member type
on a profile always means consent was given, and the votes that copy it into
``Answer.member_type`` (the polls service) only ever copy a consented type.  A later change of
the profile does not touch existing answers: each answer keeps its snapshot.

Privacy: the service asks every feature's privacy hook (:mod:`bot.services.privacy`; the
container registers them): :meth:`my_data` gathers each feature's section of what is stored
about one member, :meth:`forget` has each feature delete or unlink what it holds (the profile
here, the answers in :mod:`bot.services.polls.privacy`; audit-logged with counts only, never the
member's id), and a feature that fails is reported without stopping the others.  The service
itself knows only the profile table; :meth:`prune` applies the retention period
(``reseau-bot prune``)::

    service = ProfileService.from_config(sessions, config)
    await service.record_consent(42, lang="fr")
    await service.set_profile(42, "collectivite", "Ville de Lyon", "Auvergne-Rhône-Alpes")
    data = await service.my_data(42)
    result = await service.forget(42, actor_id=42)
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.config import DEFAULT_MEMBER_TYPE_OBJECTS, Config, MemberType, PrivacySection
from bot.errors import Conflict, InvalidInput
from bot.services.privacy import FeatureFailure, Forgotten, PrivacyRegistry, Tombstones
from storage.values import utcnow

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from storage import models

__all__ = [
    "FORGET_MODES",
    "MAX_ORGANISATION",
    "MAX_REGION",
    "ConsentFacts",
    "FEATURE",
    "ForgetResult",
    "MyData",
    "ProfileHook",
    "ProfileService",
    "ProfileView",
    "PruneResult",
    "StoredCounts",
    "clean_field",
]

log = logging.getLogger(__name__)

FEATURE = "profiles"  # the profiles feature's privacy hook
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
    """What ``/forget-me`` would remove, per feature (``PrivacyHook.stored``)."""

    per_feature: Mapping[str, int]
    failed: tuple[FeatureFailure, ...] = ()
    authored_features: frozenset[str] = frozenset()  # hooks of records kept without their author

    @property
    def has_profile(self) -> bool:
        return self.per_feature.get(FEATURE, 0) > 0

    @property
    def answers(self) -> int:
        """The records other features would remove (the poll answers, with the built-in hooks),
        not counting the records the member authored."""
        return sum(count for feature, count in self.per_feature.items()
                   if feature != FEATURE and feature not in self.authored_features)

    @property
    def authored(self) -> int:
        """The records naming the member as author or actor (kept, the member removed from them)."""
        return sum(count for feature, count in self.per_feature.items() if feature in self.authored_features)

    @property
    def anything(self) -> bool:
        # a feature that could not count may hold something: let the member ask
        return self.has_profile or self.answers > 0 or self.authored > 0 or bool(self.failed)


@dataclass(frozen=True)
class MyData:
    """Everything the bot stores about one member: each feature's section (plain data, from its
    privacy hook), and the features that could not say (``failed``: the document is incomplete)."""

    user_id: int
    generated_at: datetime
    sections: Mapping[str, Mapping[str, Any]]  # feature → {document key → plain data}
    failed: tuple[FeatureFailure, ...] = ()
    retention_days: int = 0

    def section(self, key: str, default: Any = None) -> Any:
        """One key of the member's document, whichever feature gave it."""
        for section in self.sections.values():
            if key in section:
                return section[key]
        return default

    @property
    def profile(self) -> dict[str, Any] | None:
        return self.section("profile")

    def to_json(self, member_type_label: Callable[[str | None], str | None] | None = None) -> bytes:
        """The member's copy: UTF-8 JSON, times in ISO 8601 UTC, one key per feature's part (and
        ``incomplete`` naming the features that could not answer, if any)."""
        document: dict[str, Any] = {
            "about": "reseau-bot: everything stored about this Discord account",
            "discord_user_id": str(self.user_id),
            "generated_at": _iso(self.generated_at),
            "retention_days": self.retention_days,
        }
        for section in self.sections.values():
            document.update(section)
        profile = document.get("profile")
        if profile is not None and member_type_label is not None:
            document["profile"] = {**profile, "member_type_label": member_type_label(profile.get("member_type"))}
        if self.failed:
            document["incomplete"] = [f.feature for f in self.failed]
        return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")


@dataclass(frozen=True)
class ForgetResult:
    """What ``/forget-me`` did: every feature's part, and the features that failed (nothing of
    theirs is claimed as removed)."""

    mode: str
    profile_deleted: bool
    answers: int  # deleted or unlinked
    poll_ids: tuple[int, ...] = field(default=())  # polls whose counts may have changed
    features: Mapping[str, Forgotten] = field(default_factory=dict)
    failed: tuple[FeatureFailure, ...] = ()
    authored_features: frozenset[str] = frozenset()  # hooks of records kept without their author

    @property
    def complete(self) -> bool:
        return not self.failed

    @property
    def authored(self) -> int:
        """The records the member made (polls, announcements, plans…) that no longer name them."""
        return sum(int(count) for feature, forgotten in self.features.items() if feature in self.authored_features
                   for count in forgotten.removed.values())


@dataclass(frozen=True)
class PruneResult:
    cutoff: datetime
    retention_days: int
    answers: int
    profiles: int
    dry_run: bool = False


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _plain(profile: models.Profile) -> dict[str, Any]:
    """The profile as the member's document writes it."""
    return {
        "member_type": profile.member_type,
        "organisation": profile.organisation,
        "region": profile.region,
        "language": profile.lang,
        "consent_at": _iso(profile.consent_at),
        "created_at": _iso(profile.created_at),
        "updated_at": _iso(profile.updated_at),
    }


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


# ------------------------------------------------------------------------------ privacy hook
class ProfileHook:
    """The profiles feature's privacy hook: the profile row and its consent date.  ``/forget-me``
    deletes it in either mode (``unlink`` concerns answers)."""

    feature = FEATURE

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def describe(self, user_id: int) -> Mapping[str, Any]:
        from storage.repositories import ProfileRepository

        async with self.sessions() as session:
            profile = await ProfileRepository(session).get(user_id)
        return {"profile": _plain(profile) if profile is not None else None}

    async def forget(self, user_id: int, mode: str) -> Forgotten:
        from storage.repositories import ProfileRepository

        async with self.sessions.begin() as session:
            deleted = await ProfileRepository(session).delete(user_id)
        return Forgotten(removed={"profile": int(deleted)})

    async def stored(self, user_id: int) -> int:
        from storage.repositories import ProfileRepository

        async with self.sessions() as session:
            return int(await ProfileRepository(session).get(user_id) is not None)


# ------------------------------------------------------------------------------ service
class ProfileService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        member_types: Sequence[MemberType] = DEFAULT_MEMBER_TYPE_OBJECTS,
        privacy: PrivacySection | None = None,
        clock: Callable[[], datetime] = utcnow,
        hooks: PrivacyRegistry | None = None,
    ) -> None:
        self.sessions = sessions
        self.member_types = tuple(member_types)
        self.privacy = privacy or PrivacySection()
        self.clock = clock
        # every feature's privacy hook (the container registers the built-in ones); alone, the
        # service answers for the profile only
        self.hooks = hooks if hooks is not None else PrivacyRegistry([ProfileHook(sessions)])
        self.tombstones = Tombstones(sessions, clock=lambda: self.clock())

    @classmethod
    def from_config(
        cls,
        sessions: async_sessionmaker[AsyncSession],
        config: Config,
        clock: Callable[[], datetime] = utcnow,
        hooks: PrivacyRegistry | None = None,
    ) -> ProfileService:
        return cls(sessions, member_types=config.member_types, privacy=config.privacy, clock=clock, hooks=hooks)

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
                return member_type.label(lang)
        return code

    def check_member_type(self, code: str) -> str:
        codes = [t.code for t in self.member_types]
        if code not in codes:
            raise InvalidInput("profile.error.unknown_type", code=code, choices=", ".join(codes))
        return code

    # -------------------------------------------------------------------- profile
    async def get(self, user_id: int) -> ProfileView | None:
        from storage.repositories import ProfileRepository

        async with self.sessions() as session:
            profile = await ProfileRepository(session).get(user_id)
        return _view(profile) if profile is not None else None

    async def record_consent(self, user_id: int, *, lang: str | None = None) -> ProfileView:
        """The member accepted the notice: create their (empty) profile with ``consent_at``.
        Accepting again keeps the first date."""
        from storage.repositories import ProfileRepository

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
        from storage.repositories import ProfileRepository

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
        counts, failed = await self.hooks.stored(user_id)
        return StoredCounts(per_feature=counts, failed=failed, authored_features=self.hooks.authored_features)

    async def my_data(self, user_id: int) -> MyData:
        """Every feature's section of the member's data (a feature that fails is named in
        ``failed``; the others still answer)."""
        described = await self.hooks.describe(user_id)
        return MyData(
            user_id=user_id,
            generated_at=self.clock(),
            sections=described.sections,
            failed=described.failed,
            retention_days=self.privacy.retention_days,
        )

    async def forget(self, user_id: int, *, actor_id: int | None, mode: str | None = None) -> ForgetResult:
        """Every feature forgets the member (profile deleted; answers deleted or unlinked), each
        in its own transaction: one that fails is reported in ``failed`` and does not stop the
        others.

        The member's tombstone (:class:`~bot.services.privacy.Tombstones`) is written first, so
        that what Discord still holds of them (a native poll's voters) is not written back.

        The audit entry says what was done and how much, never to whom: no user id in it (when
        the member asks for themselves, not even as the actor)."""
        from storage.repositories import AuditRepository

        mode = mode or self.privacy.forget_mode
        if mode not in FORGET_MODES:
            raise InvalidInput("profile.error.forget_mode", mode=mode)
        tombstone_failed: tuple[FeatureFailure, ...] = ()
        try:
            await self.tombstones.bury(user_id)
        except Exception as exc:  # reported like a feature that failed; the others still forget
            log.exception("could not write the tombstone of a forget-me request")
            tombstone_failed = (FeatureFailure("tombstone", type(exc).__name__),)
        done = await self.hooks.forget(user_id, mode)
        result = ForgetResult(
            mode=mode,
            profile_deleted=done.removed("profile") > 0,
            answers=done.removed("answers"),
            poll_ids=done.records("polls"),
            features=done.features,
            failed=tombstone_failed + done.failed,
            authored_features=self.hooks.authored_features,
        )
        details: dict[str, Any] = {"mode": mode, **{kind: n for kind, n in done.totals().items() if n},
                                   "answers": result.answers, "profile": result.profile_deleted}
        if result.failed:
            details["failed"] = [f.feature for f in result.failed]
        try:
            async with self.sessions.begin() as session:
                AuditRepository(session).record(
                    "forget_me",
                    actor_id=None if actor_id == user_id else actor_id,
                    target_type="member",
                    details=details,
                )
        except Exception:  # what was forgotten stays forgotten; the log says the entry is missing
            log.exception("could not write the audit entry of a forget-me request: %s", details)
        return result

    async def prune(
        self, now: datetime | None = None, retention_days: int | None = None, *, dry_run: bool = False
    ) -> PruneResult:
        """Delete answers given more than ``retention_days`` ago and profiles not changed since
        (unless the member answered since).  ``dry_run`` counts without deleting."""
        from storage.repositories import AuditRepository, ProfileRepository

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
