"""Typed configuration, read from one TOML file and validated before anything starts.

Every section is a frozen dataclass; ``load_config`` checks unknown sections and keys, types,
the timezone, the cron expression and duplicate channels, and raises ``ConfigError`` with one
message naming the file and the key.  Secrets never live in the file: the bot token comes from
``DISCORD_TOKEN`` or from ``discord.token_file`` (a path outside the repository), and
``RESEAU_DATABASE_URL`` overrides ``database.url``.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.i18n import LANGUAGES

DEFAULT_MEMBER_TYPES = (
    "collectivite",
    "reseau",
    "ong",
    "entreprise",
    "institution",
)


# scheme://host[:port][/path], no trailing slash, no query, no spaces
_WEB_URL = re.compile(r"^https?://[^/\s?#]+(/[^\s?#]*[^/\s?#])?$")


class ConfigError(Exception):
    """A configuration problem: one line for the operator, naming the file and the key.

    ``key`` names the sentence in ``bot/locales/config.toml`` (``config.error.<key>``) and
    ``params`` fill it; :meth:`text` gives the line in the reader's language (the CLI's),
    ``str()`` in English (logs, tracebacks of a developer)."""

    def __init__(self, path: Path | str | None, key: str, /, **params: Any) -> None:
        self.path, self.key, self.params = path, key, params
        super().__init__(self.text("en"))

    def text(self, lang: str) -> str:
        from bot.i18n import Catalogue

        sentence = Catalogue.load().t(f"config.error.{self.key}", lang, **self.params)
        return sentence if self.path is None else f"{self.path}: {sentence}"


@dataclass(frozen=True)
class BotSection:
    language: str = "fr"
    timezone: str = "Europe/Paris"
    # Role ids (a role's name proves nothing: anyone can create a role named like the moderators').
    moderator_roles: tuple[int, ...] = ()
    # Where network-wide moderation comes from (a staff server…); empty: the servers of [[channels]].
    moderation_guild_ids: tuple[int, ...] = ()
    members_can_create_polls: bool = False
    log_level: str = "INFO"


@dataclass(frozen=True)
class DatabaseSection:
    url: str = "sqlite+aiosqlite:///./data/reseau-bot.db"
    echo: bool = False


@dataclass(frozen=True)
class DiscordSection:
    token_file: str = ""
    api_base_url: str = "https://discord.com/api/v10"
    gateway_url: str = "wss://gateway.discord.gg/"
    members_intent: bool = False
    moderators_log_channel_id: int = 0
    web_base_url: str = "https://discord.com"  # where members open messages (jump links)
    # Sharding (several processes): the total number of shards, and those this process runs
    # (empty: all of them).  0: no sharding, one gateway session.
    shard_count: int = 0
    shard_ids: tuple[int, ...] = ()

    def message_url(self, guild_id: int | None, channel_id: int, message_id: int | None) -> str:
        """The link that opens a message in the configured Discord web app: every jump URL the
        bot writes comes from here, so a self-hosted server gets links to itself."""
        return f"{self.web_base_url}/channels/{guild_id or '@me'}/{channel_id}/{message_id}"


@dataclass(frozen=True)
class MetricsSection:
    """Prometheus ``/metrics`` and the ``/healthz`` / ``/readyz`` probes (``bot.metrics``)."""

    host: str = "127.0.0.1"
    port: int = 0  # 0: not served


@dataclass(frozen=True)
class ScheduleSection:
    extract_cron: str = "0 10 1-7 * mon"
    catch_up_days: int = 7


@dataclass(frozen=True)
class FetchSection:
    allowed_hosts: tuple[str, ...] = ()
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    max_bytes: int = 2_000_000
    # Fetch from private, loopback or link-local addresses (a test server, an intranet): off, so
    # that an allowed name pointed at the machine's own network (DNS rebinding) is refused.
    allow_private_addresses: bool = False


@dataclass(frozen=True)
class PollsSection:
    max_duration_days: int = 32
    default_duration_hours: int = 72
    refresh_seconds: float = 2.0


@dataclass(frozen=True)
class MemberType:
    """A member type offered by /profile: its code (in exports and answers) and its label in each
    language, ``{ code = "ong", labels = { fr = "ONG / association", en = "NGO / association" } }``
    in the config (the older ``{ code, fr, en }`` form is read too)."""

    code: str
    labels: typing.Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", types.MappingProxyType(dict(self.labels)))

    def label(self, lang: str | None, default: str = "fr") -> str:
        """The label in ``lang``, else in ``default`` (the bot's language), else any, else the code."""
        for one in (lang, default):
            if one in self.labels:
                return self.labels[one]
        return next(iter(self.labels.values()), self.code)


@dataclass(frozen=True)
class ProfilesSection:
    member_types: tuple[MemberType, ...] = ()


@dataclass(frozen=True)
class PrivacySection:
    retention_days: int = 1095
    forget_mode: str = "delete"
    pseudonym_secret_env: str = "RESEAU_EXPORT_SECRET"


@dataclass(frozen=True)
class DashboardSection:
    """The moderators' dashboard (``reseau-bot web``, ``reseau-bot run --web``): where it listens
    (127.0.0.1 by default: put it behind a reverse proxy with HTTPS) and the address moderators
    open (``public_url``, the start of the one-time links; empty: ``http://host:port``).  An
    ``https://`` public URL makes the session cookie ``Secure``."""

    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = ""
    # "Se connecter avec Discord" (OAuth2), offered when both are set: the application's client
    # id here, its secret in the environment variable named here (never in the file)
    oauth_client_id: str = ""
    oauth_secret_env: str = "RESEAU_DASHBOARD_OAUTH_SECRET"

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


@dataclass(frozen=True)
class NetworkChannel:
    guild_id: int
    channel_id: int
    language: str = "fr"
    mention_role_id: int = 0
    name: str = ""


@dataclass(frozen=True)
class Config:
    path: Path
    bot: BotSection = field(default_factory=BotSection)
    database: DatabaseSection = field(default_factory=DatabaseSection)
    discord: DiscordSection = field(default_factory=DiscordSection)
    schedule: ScheduleSection = field(default_factory=ScheduleSection)
    fetch: FetchSection = field(default_factory=FetchSection)
    polls: PollsSection = field(default_factory=PollsSection)
    profiles: ProfilesSection = field(default_factory=ProfilesSection)
    privacy: PrivacySection = field(default_factory=PrivacySection)
    metrics: MetricsSection = field(default_factory=MetricsSection)
    dashboard: DashboardSection = field(default_factory=DashboardSection)
    channels: tuple[NetworkChannel, ...] = ()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.bot.timezone)

    @property
    def member_types(self) -> tuple[MemberType, ...]:
        return self.profiles.member_types or DEFAULT_MEMBER_TYPE_OBJECTS

    def channels_in(self, guild_id: int) -> list[NetworkChannel]:
        return [c for c in self.channels if c.guild_id == guild_id]

    def read_token(self, environ: typing.Mapping[str, str] | None = None) -> str | None:
        """The bot token from ``DISCORD_TOKEN`` or ``discord.token_file``; ``None`` if neither."""
        env = os.environ if environ is None else environ
        token = env.get("DISCORD_TOKEN", "").strip()
        if token:
            return token
        if self.discord.token_file:
            path = Path(self.discord.token_file).expanduser()
            try:
                return path.read_text(encoding="utf-8").strip() or None
            except OSError as exc:
                if looks_like_a_token(self.discord.token_file):  # never printed: the token itself
                    raise ConfigError(self.path, "token_file_is_a_token") from None
                raise ConfigError(self.path, "token_unreadable", file=path, reason=exc.strerror) from None
            except UnicodeDecodeError:
                raise ConfigError(self.path, "token_not_text", file=path) from None
        return None


def looks_like_a_token(value: str) -> bool:
    """Whether ``discord.token_file`` holds a bot token (pasted there) rather than a path: three
    base64url parts joined by dots, or a long text with no folder in it."""
    value = value.strip()
    return bool(_TOKEN_SHAPE.fullmatch(value)) or ("/" not in value and len(value) >= 50)


_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{20,}")
#: Discord ids (snowflakes) are stored as 64-bit signed integers.
MAX_ID = 2**63 - 1
#: The keys that hold Discord ids (not shard_ids: shard numbers start at 0).
_DISCORD_ID_FIELDS = frozenset({"moderator_roles", "moderation_guild_ids", "moderators_log_channel_id", "guild_id",
                                "channel_id", "mention_role_id"})


DEFAULT_MEMBER_TYPE_OBJECTS = (
    MemberType("collectivite", {"fr": "Collectivité territoriale", "en": "Local authority"}),
    MemberType("reseau", {"fr": "Réseau", "en": "Network"}),
    MemberType("ong", {"fr": "ONG / association", "en": "NGO / association"}),
    MemberType("entreprise", {"fr": "Entreprise / fondation", "en": "Company / foundation"}),
    MemberType("institution", {"fr": "Institution / autre", "en": "Institution / other"}),
)

_SECTIONS: dict[str, type] = {
    "bot": BotSection,
    "database": DatabaseSection,
    "discord": DiscordSection,
    "schedule": ScheduleSection,
    "fetch": FetchSection,
    "polls": PollsSection,
    "profiles": ProfilesSection,
    "privacy": PrivacySection,
    "metrics": MetricsSection,
    "dashboard": DashboardSection,
}


def load_config(path: str | Path, environ: typing.Mapping[str, str] | None = None) -> Config:
    """Read and validate ``path``; a missing default ``config.toml`` means "all defaults"."""
    path = Path(path)
    env = os.environ if environ is None else environ
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(path, "file_not_found", file=path) from None
    except IsADirectoryError:
        raise ConfigError(path, "is_a_folder") from None
    except OSError as exc:  # not readable by this user (/etc/reseau-bot/config.toml is root:reseau-bot 640)
        raise ConfigError(path, "unreadable", reason=exc.strerror or type(exc).__name__) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(path, "not_utf8", position=exc.start) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "not_toml", detail=exc) from None
    return build_config(raw, path, env)


def build_config(raw: dict[str, Any], path: Path, environ: typing.Mapping[str, str] | None = None) -> Config:
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {"path": path}
    for name, value in raw.items():
        if name == "channels":
            values["channels"] = _channels(value, path)
        elif name in _SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(path, "not_a_table", key=f"[{name}]")
            if name == "bot":
                value = _moderator_role_ids(value, path)
            values[name] = _section(_SECTIONS[name], value, path, name)
        else:
            known = ", ".join(sorted([*_SECTIONS, "channels"]))
            raise ConfigError(path, "unknown_section", name=name, known=known)
    config = Config(**values)
    if config.profiles.member_types:  # a language without a label takes the bot language's one
        member_types = tuple(
            MemberType(t.code, {lang: t.label(lang, config.bot.language) for lang in LANGUAGES})
            for t in config.profiles.member_types
        )
        config = dataclasses.replace(config, profiles=dataclasses.replace(config.profiles, member_types=member_types))
    if env.get("RESEAU_DATABASE_URL"):
        config = dataclasses.replace(
            config, database=dataclasses.replace(config.database, url=env["RESEAU_DATABASE_URL"])
        )
        _check_database_url(config.database.url, None, "RESEAU_DATABASE_URL")
    _check_semantics(config)
    return config


def _moderator_role_ids(bot: dict[str, Any], path: Path) -> dict[str, Any]:
    """``bot.moderator_roles`` holds role ids; a list of texts of digits (what ``init`` wrote
    before) is read as ids, a role name is refused with what to write instead."""
    roles = bot.get("moderator_roles")
    if not isinstance(roles, list):
        return bot
    ids: list[Any] = []
    for role in roles:
        if isinstance(role, str) and role.strip().isdigit():
            role = int(role.strip())
        elif isinstance(role, str):
            raise ConfigError(path, "role_names", role=repr(role))
        ids.append(role)
    return {**bot, "moderator_roles": ids}


def _section(cls: type, data: dict[str, Any], path: Path, prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in hints:
            known = ", ".join(f.name for f in dataclasses.fields(cls))
            raise ConfigError(path, "unknown_key", key=f"{prefix}.{key}", known=known)
        kwargs[key] = _coerce(value, hints[key], path, f"{prefix}.{key}")
    missing = [f.name for f in dataclasses.fields(cls) if f.name not in kwargs
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ConfigError(path, "missing_keys", key=prefix, keys=", ".join(missing))
    for f in dataclasses.fields(cls):
        if f.name in kwargs and f.name in _DISCORD_ID_FIELDS:
            values = kwargs[f.name] if isinstance(kwargs[f.name], tuple) else (kwargs[f.name],)
            for i, value in enumerate(values):
                optional = f.default == 0  # 0: none (moderators_log_channel_id, mention_role_id)
                if not isinstance(value, int) or (value == 0 and optional) or 0 < value <= MAX_ID:
                    continue
                key = f"{prefix}.{f.name}" + (f"[{i}]" if isinstance(kwargs[f.name], tuple) else "")
                raise ConfigError(path, "id_range", key=key, value=value, max=MAX_ID)
    return cls(**kwargs)


def _coerce(value: Any, hint: Any, path: Path, key: str) -> Any:
    origin = typing.get_origin(hint)
    if origin is tuple:
        (item,) = typing.get_args(hint)[:1]
        if not isinstance(value, list):
            raise ConfigError(path, "not_a_list", key=key)
        if item is MemberType:
            return tuple(_member_type(v, path, f"{key}[{i}]") for i, v in enumerate(value))
        return tuple(_coerce(v, item, path, f"{key}[{i}]") for i, v in enumerate(value))
    if origin in (typing.Union, types.UnionType):
        raise AssertionError("unions are not used in config sections")
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, bool) or not isinstance(value, hint):
        raise ConfigError(path, f"must_be_{hint.__name__}", key=key, value=repr(value))
    return value


def _member_type(value: Any, path: Path, key: str) -> MemberType:
    """``{ code, labels = { fr, en } }``; the older ``{ code, fr, en }`` (labels as keys of their
    own) is still read, so configs written before keep working."""
    if not isinstance(value, dict):
        raise ConfigError(path, "member_type_shape", key=key)
    for name in value:
        if name not in ("code", "labels", *LANGUAGES):
            raise ConfigError(path, "unknown_key", key=f"{key}.{name}", known="code, labels")
    code = value.get("code")
    if not isinstance(code, str) or not code:
        raise ConfigError(path, "member_type_code", key=key, value=repr(code))
    labels = value.get("labels", {})
    if not isinstance(labels, dict):
        raise ConfigError(path, "member_type_shape", key=key)
    labels = dict(labels)
    for lang in LANGUAGES:
        if lang in value:  # the older form
            if lang in labels:
                raise ConfigError(path, "label_twice", key=key, lang=lang)
            labels[lang] = value[lang]
    for lang, label in labels.items():
        if lang not in LANGUAGES:
            raise ConfigError(path, "label_language", key=key, lang=lang, known=", ".join(LANGUAGES))
        if not isinstance(label, str) or not label.strip():
            raise ConfigError(path, "label_empty", key=key, lang=lang, value=repr(label))
    if not labels:
        raise ConfigError(path, "no_label", key=key)
    return MemberType(code, labels)


def _channels(value: Any, path: Path) -> tuple[NetworkChannel, ...]:
    if not isinstance(value, list):
        raise ConfigError(path, "channels_shape")
    out: list[NetworkChannel] = []
    seen: dict[int, int] = {}
    for i, item in enumerate(value):
        key = f"channels[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(path, "not_a_table", key=key)
        channel = _section(NetworkChannel, item, path, key)
        if channel.channel_id in seen:
            raise ConfigError(path, "channel_twice", key=key, channel=channel.channel_id,
                              other=seen[channel.channel_id])
        if channel.language not in LANGUAGES:
            raise ConfigError(path, "language", key=f"{key}.language", value=repr(channel.language))
        seen[channel.channel_id] = i
        out.append(channel)
    return tuple(out)


def _check_database_url(url: str, path: Path | None, name: str = "database.url") -> None:
    """A URL of another driver, or one SQLAlchemy cannot read (a port that is not a number, an
    unclosed ``[``…), is named here, before anything connects; the message never shows the
    password.  ``path`` is None for a URL from the environment (no file to blame)."""
    from storage.urls import parse_url

    if not url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        raise ConfigError(path, "database_scheme", name=name)
    try:
        parse_url(url)  # the port too: a port that is not a number is refused
    except ValueError as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        password = re.match(r"^[^:/]+://[^:/@]*:(.+)@", url)
        if password:
            detail = detail.replace(password.group(1), "***")
        raise ConfigError(path, "database_url_malformed", name=name, detail=detail) from None


def _check_semantics(config: Config) -> None:
    path = config.path
    try:
        ZoneInfo(config.bot.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(path, "timezone", value=repr(config.bot.timezone)) from None
    if config.bot.language not in LANGUAGES:
        raise ConfigError(path, "language", key="bot.language", value=repr(config.bot.language))
    if config.bot.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(path, "log_level")
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(config.schedule.extract_cron, timezone=config.tz)
    except ValueError as exc:
        raise ConfigError(path, "cron", value=repr(config.schedule.extract_cron), detail=exc) from None
    if config.schedule.catch_up_days < 0:
        raise ConfigError(path, "catch_up_days")
    _check_database_url(config.database.url, path)
    for url_key in ("api_base_url", "gateway_url"):
        url = getattr(config.discord, url_key)
        if not url.startswith(("http://", "https://", "ws://", "wss://")):
            raise ConfigError(path, "discord_url", name=url_key)
    if not _WEB_URL.match(config.discord.web_base_url):
        raise ConfigError(path, "web_base_url", value=repr(config.discord.web_base_url))
    if not re.match(r"^(https?://[^\s/]+(/\S*)?)?$", config.dashboard.public_url):
        raise ConfigError(path, "public_url", value=repr(config.dashboard.public_url))
    if not 0 <= config.dashboard.port < 65536:
        raise ConfigError(path, "dashboard_port")
    check_processes(config)
    if config.privacy.forget_mode not in ("delete", "unlink"):
        raise ConfigError(path, "forget_mode")
    if config.privacy.retention_days < 1:
        raise ConfigError(path, "retention_days")
    if config.fetch.max_bytes <= 0 or config.fetch.connect_timeout <= 0 or config.fetch.read_timeout <= 0:
        raise ConfigError(path, "fetch_limits")
    if not 1 <= config.polls.max_duration_days <= 32:
        raise ConfigError(path, "max_duration_days")
    if not 1 <= config.polls.default_duration_hours <= config.polls.max_duration_days * 24:
        raise ConfigError(path, "default_duration_hours", most=config.polls.max_duration_days * 24,
                          value=config.polls.default_duration_hours)
    codes = [t.code for t in config.profiles.member_types]
    if len(codes) != len(set(codes)):
        raise ConfigError(path, "member_code_twice")
    if len(codes) > 25:
        raise ConfigError(path, "member_types_most")


def check_processes(config: Config) -> None:
    """Shards and the metrics port (issue 14)."""
    path, discord = config.path, config.discord
    if discord.shard_count < 0:
        raise ConfigError(path, "shard_count")
    if discord.shard_ids and not discord.shard_count:
        raise ConfigError(path, "shard_ids_need_count")
    for shard in discord.shard_ids:
        if not 0 <= shard < discord.shard_count:
            raise ConfigError(path, "shard_missing", shard=shard, count=discord.shard_count,
                              last=discord.shard_count - 1)
    if len(set(discord.shard_ids)) != len(discord.shard_ids):
        raise ConfigError(path, "shard_twice")
    if not 0 <= config.metrics.port <= 65535:
        raise ConfigError(path, "metrics_port", value=config.metrics.port)
    if not config.metrics.host.strip():
        raise ConfigError(path, "metrics_host")
