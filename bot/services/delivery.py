"""The outbox publisher: every post to the network's channels goes through delivery rows.

1. One transaction writes a ``pending`` delivery row per target channel (``create_pending``:
   ``INSERT … ON CONFLICT DO NOTHING`` on (extract, channel) / (announcement, channel)).
2. :meth:`Publisher.deliver` then sends every pending row through a :class:`Sender`, at most
   ``concurrency`` at a time and paced to ``rate`` requests per second (Discord's global limit
   is 50/s; discord.py's HTTP client still handles 429s and per-route buckets).  Before the
   first request for a row its attempt counter is committed, so after a crash a row with
   ``attempts > 0`` may already have been posted: the sender first looks for the bot's own
   recent message carrying the row's nonce (or, where the API does not echo nonces, the same
   content), and each message is sent with ``nonce`` + ``enforce_nonce`` so that Discord itself
   returns the first message rather than creating a second one within its nonce window.
3. A row is marked ``sent`` with the message id, or ``failed`` with the reason when the channel
   is gone or the bot may not post there (reported once per fan-out in the moderators' log
   channel); a transient failure (5xx, network) leaves it ``pending``, to be retried, up to
   ``max_attempts`` (then it is ``failed`` and reported like the others).
4. Retries while the bot runs: the ``delivery`` feature (:func:`feature`) gives every row kept
   to retry a ``delivery-retry-<id>`` job at its next attempt, ``retry_delay(attempts)`` after
   the last one (1 min, 2, 4, 8… capped at an hour).  The delay is derived from the row's
   ``attempts`` counter; the time of the last attempt is the publisher's memory (no column holds
   it): a row found pending at start-up is sent by the start-up resume, and gets its retry job
   one delay after the reconcile.  Delays are counted on ``Publisher.timer``, the clock of the
   scheduler that fires the jobs (the wall clock; ``clock`` dates the rows).  :attr:`Publisher.on_kept` tells the process's schedule each
   time rows are kept, so their jobs are put without reading the database again.

Both the gateway bot (``bot.posting.GatewaySender``) and the REST-only command line
(``bot.posting.RestSender``) implement :class:`Sender`.  Nothing here imports discord.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from bot.i18n import Catalogue
from bot.services.extract_render import EmbedPart, render_extract, report_button_label
from bot.services.schedule import Feature, JobSpec, job_id
from storage.values import DELIVERY_FAILED, DELIVERY_PENDING, DELIVERY_SENT, DELIVERY_WITHDRAWN, utcnow

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from bot.services.container import Services
    from storage import models

log = logging.getLogger("reseau.delivery")

NONCE_MAX = 25
MAX_PARTS = 99  # part nonces are "<row nonce>.<index>", at most 25 characters
FEATURE = "delivery"
RETRY_BASE = timedelta(minutes=1)
RETRY_CAP = timedelta(hours=1)
# A row in flight in another process is looked at again every LEASE_WAIT seconds, this many times.
LEASE_WAIT = 0.5
LEASE_WAIT_ROUNDS = 60


def retry_delay(attempts: int) -> timedelta:
    """How long after its ``attempts``-th failed attempt a row is tried again: 1, 2, 4, 8… min."""
    return min(RETRY_BASE * 2 ** max(attempts - 1, 0), RETRY_CAP)


def retry_job_id(delivery_id: int) -> str:
    return job_id(FEATURE, "retry", delivery_id)


# --------------------------------------------------------------------------------------------
# What is sent


@dataclass(frozen=True)
class LinkButton:
    label: str
    url: str


@dataclass(frozen=True)
class FileAttachment:
    """A file posted with a message (an announcement's image); its embed shows it as
    ``attachment://<name>``."""

    name: str
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class MessagePart:
    """One Discord message: optional text (a role mention), embeds, an optional link button.

    ``mention_role_id`` is the one role the message may ping (``allowed_mentions`` lists only
    it); ``mention_everyone`` is set only when a channel is explicitly configured to mention
    ``@everyone`` (its role id is the guild id).  Nothing else in a post ever pings anyone.
    """

    embeds: tuple[EmbedPart, ...]
    content: str | None = None
    button: LinkButton | None = None
    mention_role_id: int | None = None
    mention_everyone: bool = False
    files: tuple[FileAttachment, ...] = ()


@dataclass(frozen=True)
class Post:
    """Everything one delivery sends to one channel, in order."""

    label: str  # what moderators call it in reports ("extract #3 « … »")
    parts: tuple[MessagePart, ...]
    crosspost: bool = False  # publish (crosspost) the first message in announcement channels


def part_nonce(row_nonce: str, index: int) -> str:
    return row_nonce if index == 0 else f"{row_nonce}.{index}"


def make_nonce(kind: str, source_id: int, channel_id: int, created_at: datetime) -> str:
    """22 characters derived from the row (what it posts, where, when it was written)."""
    raw = f"{kind}:{source_id}:{channel_id}:{created_at.isoformat()}"
    return "rb" + hashlib.sha256(raw.encode()).hexdigest()[:20]


def mention(role_id: int | None, guild_id: int) -> tuple[str | None, int | None, bool]:
    """(content, mention_role_id, mention_everyone) for a channel's configured role."""
    if not role_id:
        return None, None, False
    if role_id == guild_id:  # the @everyone role: only because a moderator configured it
        return "@everyone", None, True
    return f"<@&{role_id}>", role_id, False


def extract_post(
    extract: models.Extract,
    *,
    catalogue: Catalogue,
    mention_role_id: int | None = None,
    guild_id: int = 0,
) -> Post:
    """An extract as members see it: the rendered embeds (split across messages when long),
    the channel's role mentioned on the first message, the report button on the last."""
    lang = extract.lang if extract.lang in ("fr", "en") else catalogue.default_lang
    messages = render_extract(extract, lang=lang, catalogue=catalogue)
    if len(messages) > MAX_PARTS:  # pragma: no cover - 99 messages of 6000 characters
        raise ValueError("extract too long to post")
    content, role_id, everyone = mention(mention_role_id, guild_id)
    button = LinkButton(report_button_label(lang, catalogue), extract.link) if extract.link else None
    parts = []
    for index, embeds in enumerate(messages):
        first, last = index == 0, index == len(messages) - 1
        parts.append(MessagePart(
            embeds=tuple(embeds),
            content=content if first else None,
            button=button if last else None,
            mention_role_id=role_id if first else None,
            mention_everyone=everyone if first else False,
        ))
    return Post(label=f"#{extract.id} « {extract.title} »", parts=tuple(parts))


def announcement_post(
    announcement: models.Announcement,
    *,
    catalogue: Catalogue,
    lang: str | None = None,
    guild_id: int | None = None,
) -> Post:
    """An announcement: one embed (title, text, link), a "read more" button when there is a
    link, the chosen role mentioned in the channels of its server; crossposted in news channels.

    ``lang`` is the channel's: the announcement's version in that language when it has one
    (``versions``), else its own text with a note saying so.  Its image, if any, is attached
    and shown in the embed."""
    lang = lang or announcement.lang
    role = announcement.mention_role_id if guild_id in (None, announcement.guild_id) else None
    content, role_id, everyone = mention(role, announcement.guild_id)
    title, body, note = announcement_text(announcement, lang, catalogue)
    files: tuple[FileAttachment, ...] = ()
    if announcement.image_data and announcement.image_name:
        files = (FileAttachment(announcement.image_name, announcement.image_data),)
    embed = EmbedPart(
        title=title, description=body, url=announcement.link or None, footer=note,
        image_url=f"attachment://{announcement.image_name}" if files else None,
    )
    button = LinkButton(catalogue.t("announce.read_more", lang), announcement.link) if announcement.link else None
    part = MessagePart(
        embeds=(embed,), content=content, button=button, mention_role_id=role_id, mention_everyone=everyone,
        files=files,
    )
    return Post(label=f"#{announcement.id} « {announcement.title} »", parts=(part,), crosspost=True)


def announcement_text(announcement: models.Announcement, lang: str, catalogue: Catalogue) -> tuple[str, str, str | None]:
    """(title, text, note) of an announcement in ``lang``: its version in that language, or —
    missing — its own with a note in ``lang`` saying which language it is in."""
    if lang == announcement.lang:
        return announcement.title, announcement.body, None
    version = (announcement.versions or {}).get(lang) or {}
    if version.get("title") and version.get("body"):
        return str(version["title"]), str(version["body"]), None
    note = catalogue.t("announce.version_missing", lang, lang=catalogue.t(f"announce.lang.{announcement.lang}", lang))
    return announcement.title, announcement.body, note


# --------------------------------------------------------------------------------------------
# How it is sent


# Why a send failed, as a row stores it (``deliveries.error``, the audit's ``reason``) and as
# people read it.  The stored text is ``<code>[/<attempts>][: <detail>]``: ``code`` one of
# :data:`REASONS` (its sentence is the catalogue's ``delivery.reason.<code>``), ``attempts`` when
# the outbox gave up after that many, ``detail`` what Discord answered (``403 50013: Missing
# Permissions``), kept for the log; :func:`describe_failure` gives the reader's sentence, with
# Discord's error code as its only detail.

#: Discord's JSON error codes a reason is named after
#: (https://discord.com/developers/docs/topics/opcodes-and-status-codes#json).
DISCORD_CODES = {10003: "unknown_channel", 10008: "unknown_message", 50001: "missing_access", 50013: "missing_permission"}
REASONS = (
    "missing_permission", "missing_access", "unknown_channel", "unknown_message", "not_text_channel", "rejected",
    "unavailable", "unexpected",
)
_STORED = re.compile(r"(?s)^(?P<code>[a-z_]+)(?:/(?P<attempts>[0-9]+))?(?:: (?P<detail>.*))?$")
_HTTP = re.compile(r"\b([1-5][0-9]{2}) ([0-9]+)\b")  # "403 50013": HTTP status, Discord's code (0: none)
# what rows stored before reasons had codes began with, and how a give-up ended
_OLD_PHRASES = (("not a text channel", "not_text_channel"), ("unknown channel", "unknown_channel"),
                ("missing permission", "missing_permission"), ("missing access", "missing_access"))
_OLD_GAVE_UP = re.compile(r"\s*\((?:abandon après|gave up after) ([0-9]+) (?:tentatives|attempts)\)$")


def stored_reason(code: str, detail: str = "", attempts: int | None = None) -> str:
    """What a row stores for a failure (see above)."""
    return code + (f"/{attempts}" if attempts else "") + (f": {detail}" if detail else "")


@dataclass(frozen=True)
class FailureReason:
    """A stored failure read back: ``code`` one of :data:`REASONS`, or ``other`` for a text this
    module cannot place (its ``detail`` is then the whole text)."""

    code: str
    detail: str = ""
    attempts: int | None = None


def failure_reason(stored: str | None) -> FailureReason:
    """Read a row's stored failure; also the English phrases rows held before reasons had codes
    (« missing permission (403 50013: Missing Permissions) », « … (abandon après 5 tentatives) »)."""
    text = (stored or "").strip()
    match = _STORED.match(text)
    if match is not None and match["code"] in REASONS:
        return FailureReason(match["code"], match["detail"] or "", int(match["attempts"] or 0) or None)
    attempts = None
    gave_up = _OLD_GAVE_UP.search(text)
    if gave_up is not None:
        attempts, text = int(gave_up[1]), text[: gave_up.start()]
    http = _HTTP.search(text)
    code = DISCORD_CODES.get(int(http[2])) if http is not None else None
    code = code or next((c for phrase, c in _OLD_PHRASES if text.lower().startswith(phrase)), None)
    if code is None and http is not None:
        status = int(http[1])
        code = "unavailable" if status == 429 or status >= 500 else "rejected"
    return FailureReason(code or "other", text, attempts)


def describe_failure(stored: str | None, catalogue: Catalogue, lang: str | None) -> str:
    """A stored failure as its reader reads it, in ``lang``: « le bot n’a pas les permissions
    nécessaires dans ce salon (code Discord 50013) »; a text it cannot place is shown as it is."""
    reason = failure_reason(stored)
    text = catalogue.t(f"delivery.reason.{reason.code}", lang)
    http = _HTTP.search(reason.detail)
    if reason.code == "other":
        if reason.detail:
            text = catalogue.t("delivery.reason_detail", lang, reason=text, detail=reason.detail[:200])
    elif http is not None and int(http[2]):
        text = catalogue.t("delivery.discord_code", lang, reason=text, code=http[2])
    elif http is not None:
        text = catalogue.t("delivery.http_status", lang, reason=text, status=http[1])
    if reason.attempts:
        text = catalogue.t("delivery.gave_up", lang, reason=text, attempts=reason.attempts)
    return text


class DeliveryError(Exception):
    """A send failed.  ``permanent`` failures mark the row failed; others leave it pending.
    ``code`` says why (one of :data:`REASONS`; each class has its own by default), ``detail``
    what Discord answered; ``reason`` is what the row stores (:func:`stored_reason`)."""

    permanent = False
    code = "unexpected"

    def __init__(self, detail: str = "", *, code: str | None = None) -> None:
        self.code = code or self.code
        self.detail = detail
        self.reason = stored_reason(self.code, detail)
        super().__init__(self.reason)


class ChannelMissing(DeliveryError):
    permanent = True
    code = "unknown_channel"


class MissingPermission(DeliveryError):
    permanent = True
    code = "missing_permission"


class Rejected(DeliveryError):
    """Discord refused the message itself (4xx other than 403/404/429)."""

    permanent = True
    code = "rejected"


class TransientFailure(DeliveryError):
    permanent = False
    code = "unavailable"


class Sender(Protocol):
    async def send(self, channel_id: int, part: MessagePart, nonce: str, *, crosspost: bool = False) -> int:
        """Post one message, return its id; raise ChannelMissing / MissingPermission / Rejected /
        TransientFailure."""
        ...

    async def find_sent(
        self, channel_id: int, parts: Sequence[tuple[str, MessagePart]], after: datetime
    ) -> dict[int, int]:
        """The bot's own messages posted after ``after`` that carry one of these (nonce, part):
        ``{part index: message id}``."""
        ...

    async def notify(self, channel_id: int, text: str) -> None:
        """A plain text message (the moderators' log), mentioning no one."""
        ...

    async def edit(self, channel_id: int, message_id: int, part: MessagePart) -> None:
        """Replace a posted message's text, embeds and button (its attachments stay); raise
        like :meth:`send`."""
        ...

    async def delete(self, channel_id: int, message_id: int) -> None:
        """Delete a posted message (one already gone is not an error)."""
        ...


class Pacer:
    """Spaces requests ``1 / rate`` seconds apart (a token bucket of one), shared by all tasks."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self._next = 0.0

    async def wait(self) -> None:
        if not self.interval:
            return
        # The loop's clock, the one asyncio.sleep counts in (a test double may virtualise it).
        now = asyncio.get_running_loop().time()
        if self._next - now > 60.0:
            # Slots are never booked a minute ahead (that would be 3,000 queued posts at 50/s):
            # the clock was switched under us (SimCord's virtual clock vs the real one). Restart.
            self._next = now
        at = max(now, self._next)
        self._next = at + self.interval
        if at > now:
            await asyncio.sleep(at - now)


@dataclass
class Failure:
    delivery_id: int
    guild_id: int
    channel_id: int
    reason: str
    label: str


@dataclass
class DeliveryReport:
    sent: list[int] = field(default_factory=list)  # delivery ids
    recovered: list[int] = field(default_factory=list)  # found already posted, not resent
    failed: list[Failure] = field(default_factory=list)
    pending: list[int] = field(default_factory=list)  # transient failure: retried next run
    elsewhere: list[int] = field(default_factory=list)  # in flight in another process when tried

    def merge(self, other: DeliveryReport) -> DeliveryReport:
        self.sent += other.sent
        self.recovered += other.recovered
        self.failed += other.failed
        self.pending += other.pending
        return self

    @property
    def delivered(self) -> int:
        return len(self.sent) + len(self.recovered)


PostBuilder = Callable[["models.Delivery", "models.NetworkChannel | None"], Post]


class Lease(Protocol):
    """Who sends a row: ``acquire`` is False while another live process holds the row's lease;
    a lease is released by ``release`` or by its holder's death."""

    async def acquire(self, delivery_id: int) -> bool: ...

    async def release(self, delivery_id: int) -> None: ...


class _SingleProcess:
    """One process on its database: the publisher's own in-flight set is the lease."""

    async def acquire(self, delivery_id: int) -> bool:
        return True

    async def release(self, delivery_id: int) -> None:
        return None


class _NoSender:
    """The publisher's sender until the process attaches one (:meth:`Publisher.attach`)."""

    async def _refuse(self, *args: object, **kwargs: object) -> None:
        raise RuntimeError("no message sender is attached to the publisher (Publisher.attach)")

    send = find_sent = notify = edit = delete = _refuse


class Publisher:
    """Sends pending delivery rows.  One per process (the bot, or one CLI run), held by
    :class:`bot.services.container.Services`; its ``sender`` may be attached later."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        sender: Sender | None,
        *,
        catalogue: Catalogue,
        modlog_channel_id: int = 0,
        lang: str = "fr",
        clock: Callable[[], datetime] = utcnow,
        concurrency: int = 50,
        rate: float | None = 50.0,
        max_attempts: int = 5,
    ) -> None:
        self.sessions = sessions
        self.sender: Sender = sender if sender is not None else _NoSender()
        self.catalogue = catalogue
        self.modlog_channel_id = modlog_channel_id
        self.lang = lang
        self.clock = clock
        self.concurrency = concurrency
        self.pacer = Pacer(rate)
        self.max_attempts = max_attempts
        self._inflight: set[int] = set()
        # the scheduler's clock, on which retry delays are counted (a test may drive both)
        self.timer: Callable[[], datetime] = lambda: datetime.now(UTC)
        # when each row kept to retry is next tried (this process's memory: see the module doc)
        self._retry_at: dict[int, datetime] = {}
        # told {delivery id: next attempt} whenever rows are kept to retry (the bot puts jobs)
        self.on_kept: Callable[[dict[int, datetime]], object] | None = None
        # told every fan-out's report (the process's metrics count them)
        self.on_report: Callable[[DeliveryReport], object] | None = None
        # Several processes (bot.processes): a row is sent by the one holding its lease (a lock
        # that dies with its process); told when a fan-out starts here, so the others join in;
        # which rows to take first (those of this process's own guilds).
        self.lease: Lease = _SingleProcess()
        self.on_fanout: Callable[[str], object] | None = None  # told the scope (see fanout_scope)
        self.prefer: Callable[[models.Delivery], bool] | None = None

    # ---------------------------------------------------------------- public
    def attach(self, sender: Sender, *, rate: float | None, concurrency: int | None = None) -> None:
        """Post through ``sender`` from now on, at most ``rate`` requests a second (None: unpaced)."""
        self.sender = sender
        self.pacer = Pacer(rate)
        if concurrency is not None:
            self.concurrency = concurrency

    async def deliver(
        self,
        *,
        extract_id: int | None = None,
        announcement_id: int | None = None,
        delivery_ids: Iterable[int] | None = None,
        announce: bool = True,
    ) -> DeliveryReport:
        """Send the pending rows (of one extract / announcement, or all of them); with
        ``announce``, tell the other processes (``on_fanout``) so that they take their share."""
        report = DeliveryReport()
        rows = await self._send_pending(extract_id, announcement_id, delivery_ids, report, announce=announce)
        if not rows:
            return report
        # Rows another process had in flight: wait until it sends them, or until its lease is
        # gone with it (then they are this process's to finish, history look-up first).
        for _ in range(LEASE_WAIT_ROUNDS):
            if not report.elsewhere:
                break
            await asyncio.sleep(LEASE_WAIT)
            waiting, report.elsewhere = report.elsewhere, []
            await self._send_pending(extract_id, announcement_id, waiting, report, announce=False)
        if self.on_report is not None:
            self.on_report(report)
        if report.failed:
            await self._report_failures(report.failed)
        if report.pending and self.on_kept is not None:
            try:
                self.on_kept({i: self._retry_at[i] for i in report.pending if i in self._retry_at})
            except Exception:
                log.exception("could not schedule the retry of deliveries %s", report.pending)
        log.info(
            "delivered %d (recovered %d), failed %d, still pending %d",
            len(report.sent), len(report.recovered), len(report.failed), len(report.pending),
        )
        return report

    async def _send_pending(
        self,
        extract_id: int | None,
        announcement_id: int | None,
        delivery_ids: Iterable[int] | None,
        report: DeliveryReport,
        *,
        announce: bool,
    ) -> list[models.Delivery]:
        """One pass over the pending rows asked for: returns the rows tried."""
        from storage.repositories import DeliveryRepository

        async with self.sessions() as session:
            rows = await DeliveryRepository(session).pending(extract_id=extract_id, announcement_id=announcement_id)
            if delivery_ids is not None:
                wanted = set(delivery_ids)
                rows = [r for r in rows if r.id in wanted]
            rows = [r for r in rows if r.id not in self._inflight]
            posts = await self._posts_for(session, rows)
        if not rows:
            return rows
        if self.prefer is not None:
            rows.sort(key=lambda row: (not self.prefer(row), row.id))  # type: ignore[misc]
        if announce and self.on_fanout is not None and delivery_ids is None:  # (a row's retry is its own)
            self.on_fanout(fanout_scope(extract_id, announcement_id))
        self._inflight.update(r.id for r in rows)
        semaphore = asyncio.Semaphore(self.concurrency)

        async def one(row: models.Delivery) -> None:
            async with semaphore:
                await self._deliver_one(row, posts[row.id], report)

        try:
            await asyncio.gather(*(one(row) for row in rows))
        finally:
            self._inflight.difference_update(r.id for r in rows)
        return rows

    async def retry(self, delivery_id: int) -> DeliveryReport:
        """One row's retry job: send it if it is still pending (a no-op once sent or failed)."""
        return await self.deliver(delivery_ids=(delivery_id,))

    def retry_time(self, delivery_id: int, attempts: int) -> datetime:
        """When the row ``delivery_id`` (kept to retry after ``attempts``) is next tried: as noted
        at its last attempt, or — a row kept by an earlier process — one delay from now (noted,
        so that it stays put)."""
        return self._retry_at.setdefault(delivery_id, self.timer() + retry_delay(attempts))

    def retry_specs(self, due: dict[int, datetime]) -> list[JobSpec]:
        return [
            JobSpec(retry_job_id(delivery_id), when, functools.partial(self.retry, delivery_id))
            for delivery_id, when in sorted(due.items())
        ]

    # ---------------------------------------------------------------- internals
    async def _posts_for(self, session: AsyncSession, rows: list[models.Delivery]) -> dict[int, Post]:
        from storage import models
        from storage.repositories import ChannelRepository

        channels = {c.channel_id: c for c in await ChannelRepository(session).all(enabled_only=False)}
        extracts: dict[int, models.Extract] = {}
        announcements: dict[int, models.Announcement] = {}
        posts: dict[int, Post] = {}
        for row in rows:
            channel = channels.get(row.channel_id)
            if row.extract_id is not None:
                extract = extracts.get(row.extract_id) or await session.get(models.Extract, row.extract_id)
                extracts[row.extract_id] = extract
                posts[row.id] = extract_post(
                    extract, catalogue=self.catalogue,
                    mention_role_id=channel.mention_role_id if channel else None, guild_id=row.guild_id,
                )
            else:
                ann = announcements.get(row.announcement_id) or await session.get(
                    models.Announcement, row.announcement_id
                )
                announcements[row.announcement_id] = ann
                posts[row.id] = announcement_post(
                    ann, catalogue=self.catalogue, lang=channel.language if channel else None, guild_id=row.guild_id
                )
        return posts

    async def _deliver_one(self, row: models.Delivery, post: Post, report: DeliveryReport) -> None:
        if not await self.lease.acquire(row.id):
            report.elsewhere.append(row.id)  # in flight in another process
            return
        try:
            await self._deliver_leased(row, post, report)
        finally:
            await self.lease.release(row.id)

    async def _deliver_leased(self, row: models.Delivery, post: Post, report: DeliveryReport) -> None:
        # Wait for a request slot *before* claiming: a crash then leaves at most the rows
        # actually in flight with attempts > 0 (each costs a history look-up on the rerun).
        from storage.repositories import DeliveryRepository

        await self.pacer.wait()
        slot = True
        async with self.sessions.begin() as session:
            before = await DeliveryRepository(session).claim(row.id)
        if before is None:
            return  # finished elsewhere meanwhile, or being claimed elsewhere right now
        nonces = [(part_nonce(row.nonce, i), part) for i, part in enumerate(post.parts)]
        try:
            found: dict[int, int] = {}
            if before > 0:
                # A previous attempt may have posted some or all of it: look before resending.
                found = await self.sender.find_sent(row.channel_id, nonces, row.created_at)
                slot = False
            first_id: int | None = found.get(0)
            posted = list(found.values())
            for index, (nonce, part) in enumerate(nonces):
                if index in found:
                    continue
                if not slot:
                    await self.pacer.wait()
                slot = False
                message_id = await self.sender.send(
                    row.channel_id, part, nonce, crosspost=post.crosspost and index == 0
                )
                posted.append(message_id)
                if index == 0:
                    first_id = message_id
        except Exception as exc:
            if not isinstance(exc, DeliveryError):  # a bug or an unexpected library error: retry later, loudly
                log.exception("delivery %d to channel %d failed unexpectedly", row.id, row.channel_id)
                exc = DeliveryError(f"{type(exc).__name__}: {exc}")
            if exc.permanent:
                await self._fail(row, post, exc.reason, report)
            elif before + 1 >= self.max_attempts:
                await self._fail(row, post, stored_reason(exc.code, exc.detail, before + 1), report)
            else:
                await self._keep_pending(row, exc.reason, before + 1, report)
            return
        assert first_id is not None
        self._retry_at.pop(row.id, None)
        async with self.sessions.begin() as session:
            repo = DeliveryRepository(session)
            marked = await repo.mark_sent(row.id, first_id, self.clock())
            status = None if marked else await repo.status(row.id)
        if status == DELIVERY_WITHDRAWN:  # withdrawn while on its way: taken down as the others were
            await self._take_down(row, posted)
            return
        if found and len(found) == len(nonces):
            report.recovered.append(row.id)
        else:
            report.sent.append(row.id)

    async def _take_down(self, row: models.Delivery, message_ids: list[int]) -> None:
        """The messages of a row whose announcement was withdrawn while they were being sent:
        deleted, as the withdrawal deleted those already sent."""
        for message_id in message_ids:
            try:
                await self.sender.delete(row.channel_id, message_id)
            except DeliveryError as exc:
                log.warning("delivery %d: message %d sent while its announcement was withdrawn could not be "
                            "deleted: %s", row.id, message_id, exc.reason)

    async def _fail(self, row: models.Delivery, post: Post, reason: str, report: DeliveryReport) -> None:
        from storage.repositories import AuditRepository, DeliveryRepository

        log.warning("delivery %d of %s to channel %d failed: %s", row.id, post.label, row.channel_id, reason)
        self._retry_at.pop(row.id, None)
        async with self.sessions.begin() as session:
            await DeliveryRepository(session).mark_failed(row.id, reason)
            AuditRepository(session).record(
                "delivery.failed", actor_id=None,
                target_type="extract" if row.extract_id is not None else "announcement",
                target_id=row.extract_id if row.extract_id is not None else row.announcement_id,
                guild_id=row.guild_id, channel_id=row.channel_id, details={"reason": reason[:200]},
            )
        report.failed.append(Failure(row.id, row.guild_id, row.channel_id, reason, post.label))

    async def _keep_pending(self, row: models.Delivery, reason: str, attempts: int, report: DeliveryReport) -> None:
        from storage.repositories import DeliveryRepository

        at = self.timer() + retry_delay(attempts)
        log.warning(
            "delivery %d to channel %d will be retried at %s (attempt %d of %d failed): %s",
            row.id, row.channel_id, at.isoformat(timespec="seconds"), attempts, self.max_attempts, reason,
        )
        async with self.sessions.begin() as session:
            await DeliveryRepository(session).note_error(row.id, reason)
        self._retry_at[row.id] = at
        report.pending.append(row.id)

    async def _report_failures(self, failures: list[Failure]) -> None:
        if not self.modlog_channel_id:
            return
        lines = [self.catalogue.t("delivery.failed_title", self.lang, count=len(failures))]
        for failure in failures[:20]:
            lines.append(self.catalogue.t(
                "delivery.failed_line", self.lang, label=failure.label, channel=f"<#{failure.channel_id}>",
                channel_id=failure.channel_id, guild_id=failure.guild_id,
                reason=describe_failure(failure.reason, self.catalogue, self.lang),
            ))
        if len(failures) > 20:
            lines.append(self.catalogue.t("delivery.failed_more", self.lang, count=len(failures) - 20))
        text = "\n".join(lines)[:2000]
        try:
            await self.sender.notify(self.modlog_channel_id, text)
        except Exception as exc:  # a missing or closed log channel: one line, the traceback in DEBUG
            reason = exc.reason if isinstance(exc, DeliveryError) else f"{type(exc).__name__}: {exc}"
            log.error("could not report %d failed deliveries in the moderators' log channel %d "
                      "([discord] moderators_log_channel_id): %s", len(failures), self.modlog_channel_id, reason)
            log.debug("moderators' log channel report failed", exc_info=True)


def fanout_scope(extract_id: int | None, announcement_id: int | None) -> str:
    """What a fan-out sends, as the other processes are told: ``extract:3``, ``announcement:5``,
    or ``""`` (every pending row: a resume)."""
    if extract_id is not None:
        return f"extract:{extract_id}"
    if announcement_id is not None:
        return f"announcement:{announcement_id}"
    return ""


def parse_fanout_scope(scope: str) -> dict[str, int]:
    """The ``deliver`` arguments of a scope from :func:`fanout_scope` (``{}``: every pending row)."""
    kind, _, key = scope.partition(":")
    if kind in ("extract", "announcement") and key.isdigit():
        return {f"{kind}_id": int(key)}
    return {}


def feature() -> Feature:
    """The outbox's declaration: a ``delivery-retry-<id>`` job for every row kept to retry (a
    pending row with at least one attempt), run by the container's publisher."""

    async def plan(services: Services, now: datetime) -> list[JobSpec]:
        publisher = services.publisher
        rows = await services.plain.deliveries_to_retry()  # without SQLAlchemy (storage.plain)
        return publisher.retry_specs({row_id: publisher.retry_time(row_id, attempts) for row_id, attempts in rows})

    return Feature(FEATURE, plan)


async def write_deliveries(
    session: AsyncSession,
    *,
    kind: str,
    source_id: int,
    targets: Iterable[tuple[int, int]],
    now: datetime,
) -> list[int]:
    """Pending rows for ``(guild_id, channel_id)`` targets, in the caller's transaction."""
    from storage.repositories import DeliveryRepository

    column = "extract_id" if kind == "extract" else "announcement_id"
    rows = [
        {
            column: source_id,
            "guild_id": guild_id,
            "channel_id": channel_id,
            "status": DELIVERY_PENDING,
            "nonce": make_nonce(kind, source_id, channel_id, now),
            "attempts": 0,
            "created_at": now,
        }
        for guild_id, channel_id in targets
    ]
    return await DeliveryRepository(session).create_pending(rows)


__all__ = [
    "DELIVERY_FAILED",
    "DELIVERY_PENDING",
    "DELIVERY_SENT",
    "ChannelMissing",
    "DeliveryError",
    "DeliveryReport",
    "Failure",
    "FailureReason",
    "FileAttachment",
    "LinkButton",
    "MessagePart",
    "MissingPermission",
    "Post",
    "Publisher",
    "Rejected",
    "Sender",
    "TransientFailure",
    "announcement_post",
    "announcement_text",
    "describe_failure",
    "extract_post",
    "failure_reason",
    "feature",
    "make_nonce",
    "part_nonce",
    "retry_delay",
    "retry_job_id",
    "stored_reason",
    "write_deliveries",
]
