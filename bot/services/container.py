"""The services, built once: the one place where a service is constructed.

The entry point builds a :class:`Services` from the configuration, the database engine and its
session factory, the clock and the catalogue (and the process's ``httpx`` client), then hands it
to whoever serves people: the bot (``ReseauBot(config, services=…)``), each CLI command
(``bot.cli_base.with_services``), later the dashboard.  Cogs reach a service as
``self.bot.services.polls``; no cog, command or service constructs another one
(``tests/test_wiring.py`` reads the code and fails if one does)::

    services = Services.from_config(config)            # engine, sessions, catalogue, clock
    services.attach_sender(RestSender(...), rate=40)   # who posts the publisher's messages
    await services.publisher.deliver()

What it holds:

``polls``, ``campaigns``, ``profiles``, ``exports``
    The service objects (``PollService``, ``CampaignService``, ``ProfileService``, ``Exporter``).
``privacy``
    The :class:`~bot.services.privacy.PrivacyRegistry`: one hook per feature that stores member
    data (:func:`privacy_hooks`), called by ``profiles`` for ``/my-data`` and ``/forget-me``.
``publisher``
    The outbox :class:`~bot.services.delivery.Publisher`.  It is built without a way to post:
    the process attaches its :class:`~bot.services.delivery.Sender` — the bot its gateway
    sender in ``ReseauBot.__init__``, ``extracts publish`` a REST sender after logging in.
    Until then, sending raises (nothing is marked sent or failed).
Extracts and announcements
    Stay module functions (:mod:`bot.services.extracts`, :mod:`bot.services.announcements`):
    each is one transaction over ``sessions`` with no state of its own, so a class around them
    would only forward arguments.  Their callers pass ``services.sessions`` and
    ``services.publisher``; the one step that needs another service — checking an imported
    extract's follow-up question as a poll would — is bound here in :meth:`import_extracts`.

The clock is read through :meth:`now`, so replacing ``services.clock`` (the tests move the
bot's time) moves every service's time.  :meth:`configure` makes every service follow a new
configuration without rebuilding it (``ReseauBot.reconfigure``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from bot.config import Config
from bot.i18n import Catalogue
from bot.services import extracts
from bot.services.calendar import CalendarHook, CalendarService
from bot.services.campaigns import CampaignService
from bot.services.delivery import Publisher, Sender
from bot.services.polls import PollService
from bot.services.polls.privacy import PollAnswersHook
from bot.services.postings import PostingService
from bot.services.privacy import (
    AnnouncementsHook,
    AuditHook,
    DashboardHook,
    PollsCreatedHook,
    PrivacyRegistry,
)
from bot.services.profiles import ProfileHook, ProfileService
from storage.db import LazySessions
from storage.plain import ChannelRow, PlainStore
from storage.values import utcnow

if TYPE_CHECKING:
    import httpx
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from bot.services.dashboard import DashboardReader, DiscordSignIn, SignIn
    from bot.services.exports import Exporter

__all__ = ["Services", "http_client_for", "privacy_hooks"]


def privacy_hooks(sessions: async_sessionmaker[AsyncSession], catalogue: Catalogue | None = None) -> PrivacyRegistry:
    """Every feature's privacy hook (what ``/my-data`` shows of it, how ``/forget-me`` removes
    it): the profile, the poll answers, the announcements written and the audit-log actions.
    A new feature that stores member data registers its hook here.  ``catalogue``: the built-in
    poll options' labels in each language, for the answers' choices in the member's."""
    return PrivacyRegistry([
        ProfileHook(sessions),
        PollAnswersHook(sessions, catalogue),
        PollsCreatedHook(sessions),
        AnnouncementsHook(sessions),
        AuditHook(sessions),
        DashboardHook(sessions),
        CalendarHook(sessions),
    ])


def _url_of(engine: AsyncEngine | None) -> str:
    if engine is None:
        raise TypeError("Services needs an engine, or LazySessions")
    return engine.url.render_as_string(hide_password=False)


def http_client_for(config: Config) -> httpx.AsyncClient:
    """The process's one ``httpx`` client (extract imports from a URL), with the fetch timeouts."""
    import httpx  # with its TLS context, only when a URL is first fetched (small at rest)

    return httpx.AsyncClient(
        timeout=httpx.Timeout(config.fetch.read_timeout, connect=config.fetch.connect_timeout),
        follow_redirects=False,
    )


class Services:
    """Every service of one process, sharing one config, session factory, clock and catalogue."""

    def __init__(
        self,
        config: Config,
        *,
        engine: AsyncEngine | None,
        sessions: async_sessionmaker[AsyncSession] | LazySessions,
        catalogue: Catalogue | None = None,
        clock: Callable[[], datetime] = utcnow,
        http_client: httpx.AsyncClient | None = None,
        http_client_on_demand: bool = False,
    ) -> None:
        self.config = config
        self._engine = engine
        self.sessions = sessions
        # the start-up reads and writes, without SQLAlchemy (storage.plain)
        self.plain = PlainStore(sessions.url if isinstance(sessions, LazySessions) else _url_of(engine))
        self.catalogue = catalogue or Catalogue.load(default_lang=config.bot.language)
        self.clock = clock
        self._http_client = http_client
        self._http_on_demand = http_client is None and http_client_on_demand
        now = self.now
        self.polls = PollService.from_config(sessions, config, self.catalogue, clock=now)
        self.campaigns = CampaignService(sessions, clock=now)
        self.privacy = privacy_hooks(sessions, self.catalogue)
        self.profiles = ProfileService.from_config(sessions, config, clock=now, hooks=self.privacy)
        self._exports: Exporter | None = None  # built at the first export (see ``exports``)
        self._dashboard: tuple[SignIn, DashboardReader, DiscordSignIn] | None = None  # at first use
        self.calendar = CalendarService(sessions, self.polls, config, clock=now)  # planned ahead (issue 12)
        # one poll, several channels and languages; a wording stored there is in the polls' cache
        self.postings = PostingService(sessions, clock=now, wording_changed=self.polls.forget_cached)
        self.publisher = Publisher(
            sessions, None, catalogue=self.catalogue, clock=now,
            modlog_channel_id=config.discord.moderators_log_channel_id, lang=config.bot.language,
        )

    @classmethod
    def from_config(
        cls,
        config: Config,
        *,
        clock: Callable[[], datetime] = utcnow,
        catalogue: Catalogue | None = None,
        http_client: httpx.AsyncClient | None = None,
        http_client_on_demand: bool = False,
    ) -> Services:
        """Engine and session factory from ``database.url``, built at their first use (a quiet
        process never loads SQLAlchemy: ``storage.plain``); the rest as given."""
        return cls(
            config, engine=None, sessions=LazySessions(config.database.url, echo=config.database.echo),
            catalogue=catalogue, clock=clock,
            http_client=http_client, http_client_on_demand=http_client_on_demand,
        )

    def _dashboard_services(self) -> tuple[SignIn, DashboardReader, DiscordSignIn]:
        """The dashboard's services, built at their first use (/dashboard, the web pages): a quiet
        bot does not carry their code (issue 15, item 3)."""
        if self._dashboard is None:
            from bot.services.dashboard import DashboardReader, DiscordSignIn, SignIn

            sign_in = SignIn(self.sessions, self.config, clock=self.now)
            self._dashboard = (sign_in, DashboardReader(self.sessions, self.config, clock=self.now),
                               DiscordSignIn(sign_in))
        return self._dashboard

    @property
    def sign_in(self) -> SignIn:
        """The dashboard's one-time links and sessions."""
        return self._dashboard_services()[0]

    @property
    def dashboard(self) -> DashboardReader:
        return self._dashboard_services()[1]

    @property
    def discord_sign_in(self) -> DiscordSignIn:
        """Offered when ``dashboard.oauth_*`` are set."""
        return self._dashboard_services()[2]

    @property
    def engine(self) -> AsyncEngine:
        """The database engine (built now if the sessions were not used yet)."""
        if self._engine is None:
            self._engine = self.sessions.engine  # type: ignore[union-attr]  # LazySessions
        return self._engine

    @property
    def database_loaded(self) -> bool:
        """Whether the engine exists (the pool's metrics have nothing to count before)."""
        return self._engine is not None or not isinstance(self.sessions, LazySessions) or self.sessions.built

    @property
    def http_client(self) -> httpx.AsyncClient | None:
        """The process's one ``httpx`` client: the one given; with ``http_client_on_demand``
        (the bot), one built from the config at its first use (an extract imported from a URL,
        a Discord sign-in), so that a quiet day loads no HTTP library; else none."""
        if self._http_client is None and self._http_on_demand:
            self._http_client = http_client_for(self.config)
        return self._http_client

    @property
    def exports(self) -> Exporter:
        """The one ``Exporter``, built at the first export: its code (writers, codebook, worker)
        loads only then, so that a quiet day does not carry it (issue 15, item 3)."""
        if self._exports is None:
            from bot.services.exports import Exporter

            self._exports = Exporter(self.sessions, self.config)
        return self._exports

    def now(self) -> datetime:
        """The process's time (``clock`` may be replaced; every service reads it through here)."""
        return self.clock()

    def attach_sender(self, sender: Sender, *, rate: float | None, concurrency: int | None = None) -> None:
        """Give the publisher its way to post: the gateway bot's sender, or a REST one."""
        self.publisher.attach(sender, rate=rate, concurrency=concurrency)

    def configure(self, config: Config) -> None:
        """Follow a new configuration (member types, retention, channels, language…)."""
        self.config = config
        self.polls.configure(config)
        self.profiles.configure(config)
        if self._exports is not None:
            self._exports.config = config
        if self._dashboard is not None:
            self.sign_in.config = self.dashboard.config = config
        self.calendar.configure(config)
        self.publisher.modlog_channel_id = config.discord.moderators_log_channel_id
        self.publisher.lang = config.bot.language

    async def mirror_channels(self) -> None:
        """The configured network channels into ``network_channels`` (channels no longer
        configured are disabled, not deleted): at the bot's start, at a reconfigure, before
        ``extracts publish``."""
        await self.plain.replace_channels(
            ChannelRow(c.channel_id, c.guild_id, c.language, c.mention_role_id or None, c.name)
            for c in self.config.channels
        )

    async def name_channels(self, names: Mapping[int, str]) -> None:
        """The network channels the configuration leaves unnamed get their name on Discord
        (``names``: channel id → name, what the bot sees; other ids are ignored), so that people
        read « #annonces » where the configuration gives only an id."""
        unnamed = {c.channel_id for c in self.config.channels if not c.name}
        await self.plain.name_channels({
            channel_id: name[:100] for channel_id, name in names.items() if channel_id in unnamed and name
        })

    async def import_extracts(self, source: str, *, front_matter_required: bool = False) -> extracts.ImportResult:
        """Import a path or URL of extracts; each follow-up question is checked as a poll's."""
        return await extracts.import_source(
            self.sessions, source, config=self.config, now=self.now(), client=self.http_client,
            check_question=self.polls.prepare_question, front_matter_required=front_matter_required,
        )

    async def aclose(self, *, dispose_engine: bool = True) -> None:
        """Close the ``httpx`` client and the vote path's connection, and (unless told otherwise)
        dispose of the engine."""
        await self.polls.aclose()
        if self._http_client is not None:
            await self._http_client.aclose()
        if dispose_engine and self.database_loaded:
            await self.engine.dispose()
