"""The moderators' dashboard, without Discord and without HTTP: sign-in links, sessions, and
the reads of its pages.  ``web/`` (the aiohttp app) and ``cogs/dashboard.py`` (``/dashboard``)
call this; neither touches the database.

Sign-in without passwords
    ``/dashboard`` asks :meth:`SignIn.issue` for a link: the same authority rule as the bot's
    network-wide actions (a moderator role of a moderation server, :mod:`bot.services.authority`).
    The link holds a random nonce and its HMAC-SHA256 signature under a key kept in ``bot_state``
    (created once, shared by the bot and the dashboard's process through the database); who asked,
    from which server and with which roles is in ``dashboard_links``, never in the URL.  It expires
    after :data:`LINK_LIFETIME`.  :meth:`SignIn.redeem` opens a session by inserting a row whose
    ``link_nonce`` is unique: a second use of the link fails in the database, whichever process
    tries it.  The browser keeps a random token; the table keeps its SHA-256.  Every request
    re-checks the session against the configuration (:meth:`SignIn.session`): a role removed from
    ``bot.moderator_roles`` or a server removed from the moderation servers closes it.

Pages
    :class:`DashboardReader` gives plain values: the overview (open polls with their respondents,
    the latest deliveries; the next planned posts come from ``services.calendar``), polls of the network's servers, a campaign's
    answers per question and its **coverage** (members of each type who answered at least once,
    each under the type of their most recent answer, against the profiles of that type), the audit log.  A poll's results come from the poll
    service (:meth:`PollService.results`), exports from the :class:`~bot.services.exports.Exporter`,
    the extract queue from :mod:`bot.services.extracts`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.config import Config
from bot.errors import Forbidden, NotFound
from bot.services import authority
from bot.services.authority import Actor, Scope
from bot.services.delivery import Publisher, _NoSender
from bot.services.polls.views import PollView, poll_view
from storage.values import utcnow

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from storage import models
    from storage.repositories.dashboard import DashboardRepository, DeliveryRow

__all__ = [
    "LINK_LIFETIME",
    "DashboardReader",
    "DiscordSignIn",
    "OAuthApp",
    "OAuthRefused",
    "LinkExpired",
    "LinkInvalid",
    "LinkUsed",
    "SignIn",
    "WebSession",
]

log = logging.getLogger(__name__)

LINK_LIFETIME = timedelta(minutes=10)
SESSION_LIFETIME = timedelta(hours=8)
PRUNE_AFTER = timedelta(days=1)  # expired links and sessions are deleted a day later
_LINK_CONTEXT = b"reseau-bot dashboard link:"
_CSRF_CONTEXT = b"reseau-bot dashboard csrf:"


class LinkInvalid(Forbidden):
    """A link that was not made by this bot (bad signature, unknown nonce, garbled)."""

    key = "dashboard.error.link_invalid"


class LinkExpired(Forbidden):
    key = "dashboard.error.link_expired"


class LinkUsed(Forbidden):
    key = "dashboard.error.link_used"


@dataclass(frozen=True)
class WebSession:
    """A signed-in moderator: the session's id (the hash of the browser's token), who, from where."""

    id: str
    actor_id: int
    guild_id: int
    role_ids: tuple[int, ...]
    created_at: datetime
    expires_at: datetime
    ended_at: datetime | None = None


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class _DashboardService:
    """What the dashboard's services are built with (once, in the container): the sessions, the
    configuration (network servers, dashboard settings) and the clock."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], config: Config, *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.config = config
        self.clock = clock


class SignIn(_DashboardService):
    """One-time links and the sessions they open (see the module doc)."""

    _key: bytes | None = None  # the signing key: once read it never changes

    async def _signing_key(self) -> bytes:
        from storage.repositories.dashboard import DashboardRepository

        if self._key is None:
            async with self.sessions.begin() as session:
                repo = DashboardRepository(session)
                value = await repo.signing_key() or await repo.create_signing_key(
                    secrets.token_hex(32), now=self.clock())
            self._key = bytes.fromhex(value)
        return self._key

    def _sign(self, key: bytes, nonce: str) -> str:
        return _b64(hmac.digest(key, _LINK_CONTEXT + nonce.encode("ascii"), "sha256"))

    # ------------------------------------------------------------------ links
    async def issue(self, actor: Actor, actor_id: int, *, lang: str = "fr", via: str = "command") -> str:
        """A one-time link token for ``actor`` (refused as a network-wide action would be);
        ``via``: ``command`` (``/dashboard``) or ``oauth`` (spent at once by Discord's sign-in)."""
        from storage import models
        from storage.repositories import AuditRepository
        from storage.repositories.dashboard import DashboardRepository

        authority.check(self.config, actor, Scope.NETWORK)
        key = await self._signing_key()
        now = self.clock()
        nonce = _b64(secrets.token_bytes(24))
        async with self.sessions.begin() as session:
            repo = DashboardRepository(session)
            await repo.prune(now - PRUNE_AFTER)
            repo.add_link(models.DashboardLink(
                nonce=nonce, actor_id=actor_id, guild_id=actor.guild_id, role_ids=sorted(actor.role_ids),
                lang=lang, created_at=now, expires_at=now + LINK_LIFETIME,
            ))
            AuditRepository(session).record(
                "dashboard.link", actor_id=actor_id, target_type="dashboard", guild_id=actor.guild_id,
                details={"expires_in_min": int(LINK_LIFETIME.total_seconds() // 60), "via": via},
            )
        return f"{nonce}.{self._sign(key, nonce)}"

    def link_url(self, token: str, base_url: str) -> str:
        return f"{base_url.rstrip('/')}/login?t={token}"

    async def _valid_link(self, session: AsyncSession, token: str) -> models.DashboardLink:
        from storage.repositories.dashboard import DashboardRepository

        nonce, _, signature = (token or "").partition(".")
        if not nonce or not signature or len(token) > 200:
            raise LinkInvalid()
        key = await self._signing_key()
        if not hmac.compare_digest(self._sign(key, nonce), signature):
            raise LinkInvalid()
        repo = DashboardRepository(session)
        link = await repo.link(nonce)
        if link is None:
            raise LinkInvalid()
        if await repo.link_used(nonce):
            raise LinkUsed()
        if link.expires_at <= self.clock():
            raise LinkExpired()
        return link

    async def check_link(self, token: str) -> None:
        """Raise :class:`LinkInvalid`, :class:`LinkExpired` or :class:`LinkUsed`, or return
        (the sign-in page asks before using the link: a link preview must not spend it)."""
        async with self.sessions() as session:
            await self._valid_link(session, token)

    async def redeem(self, token: str) -> tuple[str, WebSession]:
        """Use the link: a new session (the browser's token, the session).  A link already used
        is refused by the database's unique ``link_nonce``."""
        from sqlalchemy.exc import IntegrityError

        from storage import models
        from storage.repositories import AuditRepository
        from storage.repositories.dashboard import DashboardRepository, session_values

        now = self.clock()
        browser_token = _b64(secrets.token_bytes(32))
        try:
            async with self.sessions.begin() as session:
                link = await self._valid_link(session, token)
                row = models.DashboardSession(
                    id=token_hash(browser_token), link_nonce=link.nonce, actor_id=link.actor_id,
                    guild_id=link.guild_id, role_ids=list(link.role_ids or ()), created_at=now,
                    expires_at=now + SESSION_LIFETIME,
                )
                await DashboardRepository(session).open_session(row)
                AuditRepository(session).record(
                    "dashboard.login", actor_id=link.actor_id, target_type="dashboard", guild_id=link.guild_id,
                )
                values = session_values(row)
        except IntegrityError as exc:  # the same link used at the same time elsewhere
            raise LinkUsed() from exc
        return browser_token, WebSession(**values)

    # ------------------------------------------------------------------ sessions
    async def session(self, browser_token: str | None) -> WebSession | None:
        """The live session of this browser token, or None (unknown, ended, expired, or its
        moderator no longer one by the current configuration)."""
        from storage.repositories.dashboard import DashboardRepository, session_values

        if not browser_token or len(browser_token) > 100:
            return None
        async with self.sessions() as session:
            row = await DashboardRepository(session).get_session(token_hash(browser_token))
            values = session_values(row) if row is not None else None
        if values is None:
            return None
        web = WebSession(**values)
        if web.ended_at is not None or web.expires_at <= self.clock():
            return None
        if not authority.may(self.config, Actor.of(web.guild_id, web.role_ids), Scope.NETWORK):
            return None
        return web

    async def end(self, browser_token: str, *, actor_id: int | None = None) -> None:
        from storage.repositories import AuditRepository
        from storage.repositories.dashboard import DashboardRepository

        async with self.sessions.begin() as session:
            if await DashboardRepository(session).end_session(token_hash(browser_token), now=self.clock()):
                AuditRepository(session).record("dashboard.logout", actor_id=actor_id, target_type="dashboard")

    async def csrf_token(self, web: WebSession) -> str:
        """The session's anti-forgery token (derived, nothing stored)."""
        key = await self._signing_key()
        return _b64(hmac.digest(key, _CSRF_CONTEXT + web.id.encode("ascii"), "sha256"))

    async def check_csrf(self, web: WebSession, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(await self.csrf_token(web), str(token))


# ---------------------------------------------------------------------- Discord OAuth2
class OAuthRefused(Forbidden):
    """Discord's sign-in did not go through (refused, state mismatch, Discord unreachable)."""

    key = "dashboard.error.oauth_failed"


@dataclass(frozen=True)
class OAuthApp:
    """The Discord application the dashboard signs in with (``dashboard.oauth_client_id`` and
    the secret from ``dashboard.oauth_secret_env``)."""

    client_id: str
    secret: str
    authorize_url: str  # {discord.web_base_url}/oauth2/authorize
    api_url: str  # discord.api_base_url

    @classmethod
    def from_config(cls, config: Config, environ: Mapping[str, str]) -> OAuthApp | None:
        secret = environ.get(config.dashboard.oauth_secret_env, "")
        if not config.dashboard.oauth_client_id or not secret:
            return None
        return cls(config.dashboard.oauth_client_id, secret, f"{config.discord.web_base_url}/oauth2/authorize",
                   config.discord.api_base_url.rstrip("/"))


class DiscordSignIn:
    """"Se connecter avec Discord": the authorization-code flow (scopes ``identify`` and
    ``guilds.members.read``), then the same authority rule as ``/dashboard`` — the member's roles
    in a moderation server, read from Discord — and a session opened as a one-time link's is."""

    SCOPES = "identify guilds.members.read"

    def __init__(self, sign_in: SignIn, *, environ: Mapping[str, str] | None = None) -> None:
        self.sign_in = sign_in
        self.environ = os.environ if environ is None else environ

    @property
    def app(self) -> OAuthApp | None:
        """The configured application, or None: then the button is not offered."""
        return OAuthApp.from_config(self.sign_in.config, self.environ)

    def authorize_url(self, redirect_uri: str, state: str) -> str:
        from urllib.parse import urlencode

        assert self.app is not None
        query = urlencode({"client_id": self.app.client_id, "redirect_uri": redirect_uri, "response_type": "code",
                           "scope": self.SCOPES, "state": state, "prompt": "none"})
        return f"{self.app.authorize_url}?{query}"

    async def complete(self, code: str, redirect_uri: str, client: Any) -> tuple[str, WebSession]:
        """Exchange ``code``, find a moderation server where the member holds a moderator role,
        and open a session (the browser's token, the session); :class:`OAuthRefused` or the
        authority refusal otherwise."""
        import httpx

        app = self.app
        if app is None:
            raise OAuthRefused()
        try:
            token = await client.post(f"{app.api_url}/oauth2/token", data={
                "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            }, auth=(app.client_id, app.secret))
            if token.status_code != 200:
                raise OAuthRefused()
            headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
            me = await client.get(f"{app.api_url}/users/@me", headers=headers)
            if me.status_code != 200:
                raise OAuthRefused()
            user_id = int(me.json()["id"])
            actor = None
            for guild_id in sorted(authority.moderation_guild_ids(self.sign_in.config)):
                member = await client.get(f"{app.api_url}/users/@me/guilds/{guild_id}/member", headers=headers)
                if member.status_code != 200:
                    continue
                candidate = Actor.of(guild_id, (int(r) for r in member.json().get("roles", ())))
                if authority.may(self.sign_in.config, candidate, Scope.NETWORK):
                    actor = candidate
                    break
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            log.warning("Discord sign-in failed: %s", type(exc).__name__)
            raise OAuthRefused() from exc
        if actor is None:
            raise authority.NotNetworkModerator()
        link = await self.sign_in.issue(actor, user_id, via="oauth")
        return await self.sign_in.redeem(link)


# ---------------------------------------------------------------------- page reads
@dataclass(frozen=True)
class PollLine:
    poll: PollView
    respondents: int


@dataclass(frozen=True)
class Overview:
    open_polls: tuple[PollLine, ...]
    deliveries: tuple[DeliveryRow, ...]

    @property
    def failures(self) -> int:
        return sum(d.status == "failed" for d in self.deliveries)


@dataclass(frozen=True)
class CoverageRow:
    code: str | None  # None: members without a profile (or without a type)
    respondents: int
    profiles: int

    @property
    def percent(self) -> float | None:
        return 100.0 * self.respondents / self.profiles if self.profiles else None


@dataclass(frozen=True)
class CampaignPage:
    id: int
    name: str
    current: bool
    polls: tuple[PollLine, ...]
    questions: tuple[tuple[PollView, int, str, int], ...]  # (poll, question number, text, respondents)
    coverage: tuple[CoverageRow, ...] = field(default_factory=tuple)

    @property
    def respondents(self) -> int:
        return sum(r.respondents for r in self.coverage)


class DashboardReader(_DashboardService):
    """What the dashboard's pages show, network-wide: only polls of the network's servers."""

    def _guilds(self) -> frozenset[int]:
        return authority.network_guild_ids(self.config)

    async def _lines(self, repo: DashboardRepository, polls: list[models.Poll]) -> tuple[PollLine, ...]:
        counts = await repo.respondents_by_poll(p.id for p in polls)
        return tuple(PollLine(poll_view(p), counts.get(p.id, 0)) for p in polls)

    async def overview(self, *, deliveries: int = 15) -> Overview:
        """Open polls with their respondents and the latest deliveries (what is planned comes
        from the calendar service, ``services.calendar.upcoming``)."""
        from storage.repositories.dashboard import DashboardRepository

        async with self.sessions() as session:
            repo = DashboardRepository(session)
            open_polls = await self._lines(repo, await repo.polls(self._guilds(), status="open"))
            latest = tuple(await repo.latest_deliveries(deliveries))
        return Overview(open_polls, latest)

    async def polls(self, *, limit: int = 100) -> tuple[PollLine, ...]:
        from storage.repositories.dashboard import DashboardRepository

        async with self.sessions() as session:
            repo = DashboardRepository(session)
            return await self._lines(repo, await repo.polls(self._guilds(), limit=limit))

    def check_poll(self, poll: PollView) -> None:
        """A poll of another server than the network's is not shown (:class:`NotFound`)."""
        if poll.guild_id not in self._guilds():
            raise NotFound("poll.error.unknown_poll")

    async def campaign(self, campaign_id: int) -> CampaignPage:
        from storage.repositories.dashboard import DashboardRepository

        async with self.sessions() as session:
            repo = DashboardRepository(session)
            campaign = await repo.campaign(campaign_id) if 0 < campaign_id < 2**31 else None
            if campaign is None:
                raise NotFound("dashboard.error.no_campaign")
            polls = await repo.polls(self._guilds(), campaign_id=campaign_id, limit=1000)
            lines = await self._lines(repo, polls)
            question_ids = [q.id for p in polls for q in p.questions]
            per_question = await repo.respondents_by_question(question_ids)
            named = [q.id for p in polls if not p.anonymous for q in p.questions]
            anonymous = [q.id for p in polls if p.anonymous for q in p.questions]
            if named and anonymous:  # ids and pseudonyms: compared member by member below
                pairs = (await repo.respondent_types(named), await repo.respondent_types(anonymous))
            else:
                answered = await repo.respondents_by_type(question_ids)
            profiles = await repo.profiles_by_type()
            name, current = campaign.name, campaign.active
        if named and anonymous:
            answered = await self._members_by_type(campaign_id, *pairs)
        questions = tuple(
            (line.poll, q.number, q.text, per_question.get(q.id, 0))
            for line in sorted(lines, key=lambda line: line.poll.id) for q in line.poll.questions
        )
        return CampaignPage(campaign_id, name, current, lines, questions, self._coverage(answered, profiles))

    async def _members_by_type(self, campaign_id: int, named: list[tuple[str | None, int, datetime]],
                               anonymous: list[tuple[str | None, int, datetime]]) -> dict[str | None, int]:
        """Members by the type of their most recent answer, from a campaign's named answers
        (member ids) and anonymous ones (pseudonyms in the campaign), each side already one row
        per respondent: each member id is turned into the pseudonym the campaign's anonymous
        polls store for that member, so a member who answered both kinds counts once, under the
        type of whichever answer is the later (one HMAC per named respondent, in memory)."""
        from collections import Counter

        from bot.services.privacy import AnswerPseudonyms

        of = await AnswerPseudonyms(self.sessions, clock=self.clock).in_campaign(campaign_id)
        latest: dict[int, tuple[datetime, str | None]] = {}
        for rows, key in ((anonymous, lambda uid: uid), (named, of)):
            for member_type, uid, at in rows:
                member = key(uid)
                if member not in latest or at > latest[member][0]:
                    latest[member] = (at, member_type)
        return dict(Counter(member_type for _, member_type in latest.values()))

    def _coverage(self, answered: Mapping[str | None, int], profiles: Mapping[str | None, int]) -> tuple[CoverageRow, ...]:
        """One row per configured member type (even one nobody has), then the members without a
        type; a stored type no longer configured keeps its own row."""
        codes: list[str | None] = [t.code for t in self.config.member_types]
        codes += sorted(c for c in {*answered, *profiles} if c is not None and c not in codes)
        rows = [CoverageRow(c, answered.get(c, 0), profiles.get(c, 0)) for c in codes]
        if answered.get(None) or profiles.get(None):
            rows.append(CoverageRow(None, answered.get(None, 0), profiles.get(None, 0)))
        return tuple(rows)

    async def record(self, action: str, *, actor_id: int | None, target_type: str = "", target_id: str = "",
                     details: dict[str, Any] | None = None) -> None:
        """One audit-log entry for an action taken on the dashboard."""
        from storage.repositories import AuditRepository

        async with self.sessions.begin() as session:
            AuditRepository(session).record(action, actor_id=actor_id, target_type=target_type,
                                            target_id=target_id, details=details)

    @staticmethod
    def can_publish(publisher: Publisher) -> bool:
        """Whether this process can post (the bot's process, or ``reseau-bot web`` logged in over
        REST); without a sender "publish now" is not offered."""
        return not isinstance(publisher.sender, _NoSender)

    async def audit(self, *, limit: int = 200) -> list[models.AuditEntry]:
        from storage.repositories import AuditRepository

        async with self.sessions() as session:
            return await AuditRepository(session).latest(limit)
