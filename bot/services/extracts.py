"""Monthly extracts: import, queue, publish, and the monthly slot.  Discord-free.

Import
    :func:`import_source` takes a path (a file or a folder) or an ``http(s)://`` URL (a feed or
    a page, fetched only from allowed hosts), parses everything first, then stores it in one
    transaction keyed by ``source_key``: re-importing the same source replaces its extract
    while it is queued and never duplicates it; once the extract has left the queue (published
    or skipped) it is never rewritten, and the source's new content is reported as ``kept``,
    not imported — a new extract comes from a new source (another file name).  An extract
    without a month gets the next free month of its language (from the current month on); a
    re-imported one keeps the month it has.  Any error (bad front matter, host down, oversize
    page…) raises before anything is written.

Queue
    Queued extracts are ordered by month, then id.  ``skip`` takes one out of the queue;
    ``move`` swaps an extract's month with its neighbour's (the dashboard's reordering).

Publish
    :func:`publish_extract` writes one pending delivery per enabled network channel in the
    extract's language (the outbox, see :mod:`bot.services.delivery`) and sends them.
    Publishing an extract again only posts to channels that do not have it yet.
    :func:`plan_publish` says beforehand what a publish would do: how many channels it would
    post to, and what was delivered already — when every channel of the extract's language
    has it, there is nothing to confirm (``already_delivered``), and :func:`publish_extract`
    refuses with :class:`AlreadyDelivered`, which carries the same summary.

The monthly slot
    The cron in ``schedule.extract_cron`` (in ``bot.timezone``) gives the slots.  A slot in month
    ``M`` publishes, for each language that has network channels, the queued extract of month
    ``M`` (the first by id), else the earliest overdue one (month before ``M``); an extract of a
    later month waits for its own slot.  A month is handled once: the last handled month is kept
    in ``bot_state``, written in the same transaction as the delivery rows, so a second run for
    the same month (a restart, the repeated 02:30 of the autumn daylight-saving change, the
    command line while the bot runs) does nothing.  A slot that finds nothing to post leaves its
    month open.  At start-up, :func:`catch_up` runs the last slot before now if it is within
    ``schedule.catch_up_days`` and its month was not handled.

    For the reconciler (:func:`feature`) the slot is the cron job ``extract-slot-monthly``, and a
    missed slot of an unhandled month the catch-up ``extract-catchup-<month>``.

Follow-up questions
    An extract's question is posted as a poll in every channel that received it, once per
    extract and channel: :func:`post_followups` claims each posting by an insert into
    ``followup_postings`` (primary key extract, channel) before posting, so of two calls — in
    one process or two on the same database — only the one whose insert went in posts.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from bot.config import Config
from bot.errors import Conflict, InvalidInput, Label, NotFound
from bot.services.delivery import DeliveryReport, Publisher, write_deliveries
from bot.services.schedule import Feature, JobSpec
from bot.services.schedule import job_id as make_job_id
from storage.values import (
    DELIVERY_FAILED,
    DELIVERY_PENDING,
    DELIVERY_SENT,
    EXTRACT_PUBLISHED,
    EXTRACT_QUEUED,
    EXTRACT_SKIPPED,
)

if TYPE_CHECKING:
    import httpx
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from bot.services.container import Services
    from bot.services.extract_sources import ExtractDraft
    from storage import models
    from storage.plain import PlainStore

log = logging.getLogger(__name__)

SLOT_STATE_KEY = "extracts.last_slot_month"
FEATURE = "extract"
JOB_ID = make_job_id(FEATURE, "slot", "monthly")  # the monthly cron job
_URL = re.compile(r"^https?://", re.IGNORECASE)


# --------------------------------------------------------------------------------------------
# Import


@dataclass(frozen=True)
class KeptExtract:
    """A draft not imported: the extract its source gave before has left the queue (published
    — or being published — or skipped), and such an extract is never rewritten.  ``month`` is the
    draft's (the month the new content was meant for)."""

    extract: models.Extract
    month: str | None

    @property
    def skipped(self) -> bool:
        """Taken out of the queue by a moderator (else published, or being published)."""
        return self.extract.status == EXTRACT_SKIPPED


@dataclass
class ImportResult:
    created: list[models.Extract] = field(default_factory=list)
    updated: list[models.Extract] = field(default_factory=list)  # queued extracts replaced by their source
    kept: list[KeptExtract] = field(default_factory=list)  # left as they are: see KeptExtract

    @property
    def extracts(self) -> list[models.Extract]:
        """The extracts this import created or replaced (not the kept ones)."""
        return sorted(self.created + self.updated, key=lambda e: e.id)


def local(when: datetime, tz: ZoneInfo) -> datetime:
    """The wall-clock time in ``tz``.  Through UTC: APScheduler hands out datetimes already in
    ``tz`` but not normalised (02:30 on the spring-forward night, which is really 03:30), and
    ``astimezone`` to the same zone would return them unchanged."""
    return when.astimezone(UTC).astimezone(tz)


def month_of(when: datetime, tz: ZoneInfo) -> str:
    return local(when, tz).strftime("%Y-%m")


class QuestionCheck(Protocol):
    """Checks a poll question as a moderator's would be (``PollService.prepare_question``);
    raises :class:`~bot.errors.InvalidInput`."""

    def __call__(self, text: str, *, kind: str = ..., options: str | None = ..., lang: str = ...) -> object: ...


def check_followups(drafts: Sequence[ExtractDraft], check_question: QuestionCheck) -> None:
    for draft in drafts:
        if not draft.question:
            continue
        try:
            check_question(
                draft.question, kind=draft.question_kind or "single",
                options="\n".join(draft.question_options) or None, lang=draft.lang,
            )
        except InvalidInput as exc:
            raise InvalidInput("followup.bad_question", source=draft.source_key, detail=exc) from None


@dataclass(frozen=True)
class FollowUp:
    """An extract's follow-up question, due as a poll in one channel where the extract was posted."""

    extract_id: int
    guild_id: int
    channel_id: int
    question: str
    kind: str
    options: tuple[str, ...]


async def followups_due(sessions: async_sessionmaker[AsyncSession]) -> list[FollowUp]:
    """The follow-ups not yet claimed: one process may post them, each after :func:`claim_followup`."""
    from storage.repositories import ExtractRepository

    async with sessions() as session:
        rows = await ExtractRepository(session).followups_due()
    return [
        FollowUp(e.id, d.guild_id, d.channel_id, e.question or "", e.question_kind or "single",
                 tuple(e.question_options or ()))
        for e, d in rows
    ]


async def work_at_ready(store: PlainStore) -> tuple[bool, bool]:
    """Whether the start-up has deliveries to resume and follow-up questions to post: asked
    without SQLAlchemy (``storage.plain``), which a quiet start then never loads."""
    pending, followups = await store.work_at_ready()
    return pending > 0, followups > 0


async def post_followups(
    sessions: async_sessionmaker[AsyncSession],
    post: Callable[[FollowUp], Awaitable[int]],
    *,
    now: Callable[[], datetime],
) -> int:
    """Post every due follow-up, each once: claim it (:func:`claim_followup`), then ``post``
    (the Discord side: the poll posted, its id returned); a posting that fails releases its
    claim (due again at the next call).  Returns how many were posted by this call."""
    posted = 0
    for item in await followups_due(sessions):
        if not await claim_followup(sessions, item, now=now()):
            continue  # another call or process posts it
        try:
            poll_id = await post(item)
        except Exception:
            log.exception("could not post the follow-up question of extract %d in channel %d",
                          item.extract_id, item.channel_id)
            try:
                await release_followup(sessions, item)
            except Exception:
                log.exception("could not release the follow-up of extract %d in channel %d",
                              item.extract_id, item.channel_id)
            continue
        await followup_posted(sessions, item, poll_id)
        posted += 1
    return posted


async def claim_followup(sessions: async_sessionmaker[AsyncSession], item: FollowUp, *, now: datetime) -> bool:
    """Claim posting ``item`` — the "once per extract and channel" rule is the primary key of
    ``followup_postings``: of two processes (or two calls) the second one's insert fails and it
    posts nothing.  Post only on True; then :func:`followup_posted`, or :func:`release_followup`
    when posting failed (a crash in between leaves the claim: the follow-up is not posted twice,
    and a moderator can post it by hand)."""
    from storage.repositories import ExtractRepository

    async with sessions.begin() as session:
        return await ExtractRepository(session).claim_followup(item.extract_id, item.channel_id, now=now)


async def followup_posted(sessions: async_sessionmaker[AsyncSession], item: FollowUp, poll_id: int) -> None:
    from storage.repositories import ExtractRepository

    async with sessions.begin() as session:
        await ExtractRepository(session).followup_posted(item.extract_id, item.channel_id, poll_id)


async def release_followup(sessions: async_sessionmaker[AsyncSession], item: FollowUp) -> None:
    from storage.repositories import ExtractRepository

    async with sessions.begin() as session:
        await ExtractRepository(session).release_followup(item.extract_id, item.channel_id)


async def save_drafts(
    sessions: async_sessionmaker[AsyncSession],
    drafts: Sequence[ExtractDraft],
    *,
    now: datetime,
    tz: ZoneInfo,
    check_question: QuestionCheck | None = None,
) -> ImportResult:
    """Store parsed drafts in one transaction, by ``source_key``: a new source is a new queued
    extract; a source whose extract is still queued replaces it (``updated``); a source whose
    extract has left the queue — published, being published or skipped — leaves it as it is
    (``kept``): a posted extract is never rewritten, and its source is not queued again (a
    folder or a feed imported again would post it twice).  With ``check_question``
    (``Services.import_extracts`` passes the poll service's), a follow-up question is checked as a
    poll would be, so a bad one is refused here, not at posting time."""
    from storage.repositories import ExtractRepository
    from storage.repositories.extracts import SAVE_CREATED, SAVE_REPLACED

    if check_question is not None:
        check_followups(drafts, check_question)
    result = ImportResult()
    start = month_of(now, tz)
    async with sessions.begin() as session:
        repo = ExtractRepository(session)
        assigned: dict[str, set[str]] = {}
        for draft in drafts:
            existing = await repo.by_source_key(draft.source_key)
            month = draft.month or (existing.month if existing is not None else None)
            if month is None:
                month = await repo.next_free_month(draft.lang, start, also_taken=assigned.get(draft.lang, ()))
            assigned.setdefault(draft.lang, set()).add(month)
            values = {
                "title": draft.title,
                "intro": draft.intro or "",
                "body": draft.body,
                "link": draft.link,
                "image_url": draft.image_url,
                "tags": list(draft.tags),
                "lang": draft.lang,
                "month": month,
                "question": draft.question,
                "question_kind": draft.question_kind,
                "question_options": list(draft.question_options),
                "updated_at": now,
            }
            row, outcome = await repo.save(draft.source_key, values)
            if outcome == SAVE_CREATED:
                result.created.append(row)
            elif outcome == SAVE_REPLACED:
                result.updated.append(row)
            else:
                result.kept.append(KeptExtract(row, draft.month))
    return result


async def import_path(
    sessions: async_sessionmaker[AsyncSession],
    path: str | Path,
    *,
    now: datetime,
    tz: ZoneInfo,
    check_question: QuestionCheck | None = None,
    front_matter_required: bool = False,
) -> ImportResult:
    from bot.services.extract_sources import parse_path  # the parsers load at the first import

    drafts = parse_path(Path(path), front_matter_required=front_matter_required)
    return await save_drafts(sessions, drafts, now=now, tz=tz, check_question=check_question)


async def import_url(
    sessions: async_sessionmaker[AsyncSession],
    url: str,
    *,
    client: httpx.AsyncClient,
    config: Config,
    now: datetime,
    check_question: QuestionCheck | None = None,
) -> ImportResult:
    from bot.services.fetch import load_url  # httpx and the feed/page parsers: at the first URL import

    fetch = config.fetch
    drafts = await load_url(
        url, client=client, allowed_hosts=fetch.allowed_hosts, max_bytes=fetch.max_bytes,
        connect_timeout=fetch.connect_timeout, read_timeout=fetch.read_timeout,
        total_timeout=fetch.connect_timeout + 2 * fetch.read_timeout,
        allow_private=fetch.allow_private_addresses,
    )
    return await save_drafts(sessions, drafts, now=now, tz=config.tz, check_question=check_question)


async def import_source(
    sessions: async_sessionmaker[AsyncSession],
    source: str,
    *,
    config: Config,
    now: datetime,
    client: httpx.AsyncClient | None = None,
    check_question: QuestionCheck | None = None,
    front_matter_required: bool = False,
) -> ImportResult:
    """A path (file or folder) or an http(s) URL.  ``front_matter_required``: a file without
    its front matter is refused (the dashboard's upload; the command line also takes plain text)."""
    if _URL.match(source):
        if client is not None:
            return await import_url(
                sessions, source, client=client, config=config, now=now, check_question=check_question
            )
        import httpx

        async with httpx.AsyncClient(follow_redirects=False) as own:
            return await import_url(sessions, source, client=own, config=config, now=now, check_question=check_question)
    return await import_path(sessions, source, now=now, tz=config.tz, check_question=check_question,
                             front_matter_required=front_matter_required)


# --------------------------------------------------------------------------------------------
# Queue


async def queue(sessions: async_sessionmaker[AsyncSession]) -> list[models.Extract]:
    from storage.repositories import ExtractRepository

    async with sessions() as session:
        return await ExtractRepository(session).queue()


async def queues(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, list[models.Extract]]]:
    """``(language, its queued extracts)``: each language's queue is its own — the monthly slot
    takes each language's first, :func:`move` swaps within one — the catalogue's languages
    first, each queue by month."""
    from bot.i18n import LANGUAGES

    grouped: dict[str, list[models.Extract]] = {}
    for extract in await queue(sessions):
        grouped.setdefault(extract.lang, []).append(extract)
    known = {code: index for index, code in enumerate(LANGUAGES)}
    return [(code, grouped[code]) for code in sorted(grouped, key=lambda c: (known.get(c, len(known)), c))]


async def list_extracts(sessions: async_sessionmaker[AsyncSession]) -> list[models.Extract]:
    from storage.repositories import ExtractRepository

    async with sessions() as session:
        return await ExtractRepository(session).all()


async def get_extract(sessions: async_sessionmaker[AsyncSession], extract_id: int) -> models.Extract:
    from storage.repositories import ExtractRepository

    async with sessions() as session:
        extract = await ExtractRepository(session).get(extract_id)
    if extract is None:
        raise NotFound("extracts.not_found", id=extract_id)
    return extract


async def next_extract(sessions: async_sessionmaker[AsyncSession], *, lang: str | None = None) -> models.Extract:
    """The head of the queue (what ``/extract preview`` and ``/extract publish`` take by default),
    in ``lang`` when one is queued in that language, else in any language."""
    from storage.repositories import ExtractRepository

    async with sessions() as session:
        repo = ExtractRepository(session)
        extract = (await repo.next_queued(lang=lang) if lang else None) or await repo.next_queued()
    if extract is None:
        raise NotFound("extracts.queue_empty")
    return extract


async def extract_or_next(
    sessions: async_sessionmaker[AsyncSession], extract_id: int | None, *, lang: str | None = None
) -> models.Extract:
    if extract_id is None:
        return await next_extract(sessions, lang=lang)
    return await get_extract(sessions, extract_id)


async def skip(
    sessions: async_sessionmaker[AsyncSession],
    extract_id: int | None = None,
    *,
    actor_id: int | None,
    guild_id: int | None = None,
    channel_id: int | None = None,
) -> models.Extract:
    """Take one extract (by default the head of the queue) out of the queue."""
    from storage.repositories import AuditRepository, ExtractRepository

    async with sessions.begin() as session:
        repo = ExtractRepository(session)
        extract = await repo.next_queued() if extract_id is None else await repo.get(extract_id)
        if extract is None:
            raise NotFound("extracts.queue_empty") if extract_id is None else NotFound("extracts.not_found", id=extract_id)
        if extract.status != EXTRACT_QUEUED:
            raise Conflict("extracts.not_queued", id=extract.id, status=_status_label(extract.status))
        extract.status = EXTRACT_SKIPPED
        AuditRepository(session).record(
            "extract.skip", actor_id=actor_id, target_type="extract", target_id=extract.id,
            guild_id=guild_id, channel_id=channel_id, details={"month": extract.month, "title": extract.title[:100]},
        )
    return extract


async def move(
    sessions: async_sessionmaker[AsyncSession],
    extract_id: int,
    *,
    up: bool,
    actor_id: int | None,
    guild_id: int | None = None,
) -> models.Extract:
    """Move a queued extract one place up (earlier) or down in its language's queue: it swaps
    months with its neighbour (the queue is ordered by month).  At either end nothing moves, and
    :class:`Conflict` says so."""
    from storage.repositories import AuditRepository, ExtractRepository

    async with sessions.begin() as session:
        repo = ExtractRepository(session)
        extract = await repo.get(extract_id)
        if extract is None:
            raise NotFound("extracts.not_found", id=extract_id)
        if extract.status != EXTRACT_QUEUED:
            raise Conflict("extracts.not_queued", id=extract.id, status=_status_label(extract.status))
        queue = await repo.queue(lang=extract.lang)
        index = next(i for i, e in enumerate(queue) if e.id == extract.id)
        other_index = index - 1 if up else index + 1
        if not 0 <= other_index < len(queue):
            raise Conflict("extracts.first_in_queue" if up else "extracts.last_in_queue", title=extract.title)
        other = queue[other_index]
        extract.month, other.month = other.month, extract.month
        AuditRepository(session).record(
            "extract.move", actor_id=actor_id, target_type="extract", target_id=extract.id, guild_id=guild_id,
            details={"month": extract.month, "swapped_with": other.id},
        )
    return extract


async def delivery_counts(sessions: async_sessionmaker[AsyncSession], extract_id: int) -> dict[str, int]:
    from storage.repositories import DeliveryRepository

    async with sessions() as session:
        return await DeliveryRepository(session).counts(extract_id=extract_id)


async def target_channels(session: AsyncSession, lang: str) -> list[models.NetworkChannel]:
    from storage.repositories import ChannelRepository

    return [c for c in await ChannelRepository(session).all() if c.language == lang]


# --------------------------------------------------------------------------------------------
# Publish


@dataclass
class PublishOutcome:
    extracts: list[models.Extract]
    new_rows: int
    report: DeliveryReport


@dataclass(frozen=True)
class PostedCopy:
    """One channel that has the extract: where, the message (for a link) and when."""

    guild_id: int
    channel_id: int
    message_id: int | None
    sent_at: datetime | None


@dataclass(frozen=True)
class DeliverySummary:
    """What was delivered of one extract so far."""

    sent: tuple[PostedCopy, ...] = ()
    failed: int = 0
    pending: int = 0

    @property
    def last_sent_at(self) -> datetime | None:
        return max((c.sent_at for c in self.sent if c.sent_at is not None), default=None)


@dataclass(frozen=True)
class PublishPlan:
    """What publishing ``extract`` now would do."""

    extract: models.Extract
    to_post: int  # channels it would be sent to: those without it yet, and retries still pending
    delivered: DeliverySummary

    @property
    def already_delivered(self) -> bool:
        """Every channel of its language has a delivery and none is waiting: a publish would post
        nothing (a failed channel stays failed; fix it, then re-import under a new extract)."""
        return self.to_post == 0


class AlreadyDelivered(Conflict):
    """A publish that could post nothing: the extract is already in every channel concerned."""

    def __init__(self, extract: models.Extract, delivered: DeliverySummary) -> None:
        super().__init__("extracts.already_published", id=extract.id)
        # Plain values: the session that loaded ``extract`` is rolled back as this propagates.
        self.extract_id, self.title = extract.id, extract.title
        self.delivered = delivered


def _summary(rows: Sequence[models.Delivery]) -> DeliverySummary:
    return DeliverySummary(
        sent=tuple(
            PostedCopy(r.guild_id, r.channel_id, r.message_id, r.sent_at) for r in rows if r.status == DELIVERY_SENT
        ),
        failed=sum(r.status == DELIVERY_FAILED for r in rows),
        pending=sum(r.status == DELIVERY_PENDING for r in rows),
    )


async def _plan(session: AsyncSession, extract: models.Extract) -> PublishPlan:
    from storage.repositories import DeliveryRepository

    channels = await target_channels(session, extract.lang)
    if not channels:
        raise Conflict("extracts.no_channels", lang=extract.lang)
    rows = await DeliveryRepository(session).for_source(extract_id=extract.id)
    have = {r.channel_id for r in rows}
    summary = _summary(rows)
    new = sum(c.channel_id not in have for c in channels)
    return PublishPlan(extract, new + summary.pending, summary)


async def plan_publish(
    sessions: async_sessionmaker[AsyncSession], extract_id: int | None = None, *, lang: str | None = None
) -> PublishPlan:
    """What ``/extract publish`` would do for this extract (by default the head of the queue, in
    ``lang`` when one is queued in it): asked before showing a confirm button."""
    extract = await extract_or_next(sessions, extract_id, lang=lang)
    async with sessions() as session:
        return await _plan(session, extract)


async def _queue_extract(
    session: AsyncSession,
    extract: models.Extract,
    *,
    now: datetime,
    actor_id: int | None,
    guild_id: int | None,
    channel_id: int | None,
    details: dict,
) -> int:
    from storage.repositories import AuditRepository, ExtractRepository

    channels = await target_channels(session, extract.lang)
    new = await write_deliveries(
        session, kind="extract", source_id=extract.id,
        targets=[(c.guild_id, c.channel_id) for c in channels], now=now,
    )
    if extract.status != EXTRACT_PUBLISHED:
        await ExtractRepository(session).mark_published(extract.id, now)
        extract.status, extract.published_at = EXTRACT_PUBLISHED, now
    AuditRepository(session).record(
        "extract.publish", actor_id=actor_id, target_type="extract", target_id=extract.id,
        guild_id=guild_id, channel_id=channel_id,
        details={"month": extract.month, "channels": len(channels), "new": len(new), **details},
    )
    return len(new)


async def publish_extract(
    sessions: async_sessionmaker[AsyncSession],
    publisher: Publisher,
    extract_id: int | None = None,
    *,
    now: datetime,
    actor_id: int | None = None,
    guild_id: int | None = None,
    channel_id: int | None = None,
) -> PublishOutcome:
    """Post one extract (by default the head of the queue) to every network channel in its
    language, now.  Raises NotFound, or Conflict when there is nowhere (left) to post it."""
    from storage.repositories import ExtractRepository

    async with sessions.begin() as session:
        repo = ExtractRepository(session)
        extract = await repo.next_queued() if extract_id is None else await repo.get(extract_id)
        if extract is None:
            raise NotFound("extracts.queue_empty") if extract_id is None else NotFound("extracts.not_found", id=extract_id)
        plan = await _plan(session, extract)  # the same rule as the confirm step
        if plan.already_delivered:
            raise AlreadyDelivered(extract, plan.delivered)
        new = await _queue_extract(
            session, extract, now=now, actor_id=actor_id, guild_id=guild_id, channel_id=channel_id,
            details={"trigger": "manual"},
        )
    report = await publisher.deliver(extract_id=extract.id)
    return PublishOutcome([extract], new, report)


async def _slot_choice(session: AsyncSession, month: str) -> list[models.Extract]:
    """What the slot of ``month`` posts, one extract per language that has network channels:
    the queued extract of ``month`` (the first by id), else the earliest overdue one; nothing
    for a language whose extract of ``month`` was published by hand."""
    from storage.repositories import ChannelRepository, ExtractRepository

    repo = ExtractRepository(session)
    languages = sorted({c.language for c in await ChannelRepository(session).all()})
    published_this_month = {e.lang for e in await repo.in_month(month, statuses=(EXTRACT_PUBLISHED,))}
    chosen: list[models.Extract] = []
    for lang in languages:
        if lang in published_this_month:
            continue  # published by hand before the slot: the month is served
        candidates = await repo.queue(lang=lang)
        exact = [e for e in candidates if e.month == month]
        overdue = [e for e in candidates if e.month is not None and e.month < month]
        if exact or overdue:
            chosen.append((exact or overdue)[0])
    return chosen


async def slot_would_post(session: AsyncSession, month: str) -> list[models.Extract]:
    """What the slot of ``month`` would post if it ran now (the calendar says it): the same
    choice as :func:`run_slot`, and nothing once the month is handled."""
    from storage.repositories import StateRepository

    done = await StateRepository(session).get(SLOT_STATE_KEY)
    if done is not None and done >= month:
        return []
    return await _slot_choice(session, month)


async def run_slot(
    sessions: async_sessionmaker[AsyncSession],
    publisher: Publisher | None,
    *,
    month: str,
    now: datetime,
    trigger: str = "schedule",
) -> PublishOutcome | None:
    """Handle the slot of ``month`` once (see the module doc).  None if it was handled already.

    With ``publisher=None`` only the delivery rows are written (the caller sends them)."""
    from storage.repositories import StateRepository

    async with sessions.begin() as session:
        state = StateRepository(session)
        done = await state.get(SLOT_STATE_KEY)
        if done is not None and done >= month:
            return None
        chosen = await _slot_choice(session, month)
        new = 0
        for extract in chosen:
            new += await _queue_extract(
                session, extract, now=now, actor_id=None, guild_id=None, channel_id=None,
                details={"trigger": trigger, "slot_month": month},
            )
        if chosen:
            # Only a month that got its post counts as handled: with an empty queue at the slot,
            # an extract imported later is still posted by a later slot of the month (a weekly
            # cron) or by the catch-up of a restart within the grace.
            await state.set(SLOT_STATE_KEY, month)
    report = DeliveryReport()
    if publisher is not None:
        for extract in chosen:
            report.merge(await publisher.deliver(extract_id=extract.id))
    return PublishOutcome(chosen, new, report)


async def last_handled_month(sessions: async_sessionmaker[AsyncSession]) -> str | None:
    from storage.repositories import StateRepository

    async with sessions() as session:
        return await StateRepository(session).get(SLOT_STATE_KEY)


# --------------------------------------------------------------------------------------------
# Schedule


def extract_trigger(config: Config) -> CronTrigger:
    return CronTrigger.from_crontab(config.schedule.extract_cron, timezone=config.tz)


def fire_times(trigger: CronTrigger, start: datetime, end: datetime | None = None, limit: int | None = 1000) -> list[datetime]:
    """APScheduler's own fire times from ``start`` (inclusive) to ``end`` (inclusive), the first
    ``limit`` of them (``None``: all, which needs an ``end``)."""
    assert limit is not None or end is not None, "fire_times: all the fire times of an endless trigger"
    out: list[datetime] = []
    previous: datetime | None = None
    now = start
    while limit is None or len(out) < limit:
        nxt = trigger.get_next_fire_time(previous, now)
        if nxt is None or (end is not None and nxt > end):
            break
        out.append(nxt)
        previous = now = nxt
    return out


def next_runs(config: Config, now: datetime, count: int = 3) -> list[datetime]:
    """The next ``count`` slots that will publish, in local time: APScheduler's fire times,
    without a second fire in a month already served (a weekly cron, or the 02:30 that happens
    twice on the last Sunday of October, publish once a month)."""
    tz = config.tz
    trigger = extract_trigger(config)
    runs: list[datetime] = []
    start = now.astimezone(tz)
    while len(runs) < count and (found := fire_times(trigger, start, limit=1)):
        runs.append(local(found[0], tz))
        # the month is served: its later fire times publish nothing, so the next run is looked
        # for from the next month (a cron of every minute fires 40,000 times in a month)
        first_day = runs[-1].replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        start = (first_day + timedelta(days=32)).replace(day=1)
    return runs


def last_slot(config: Config, now: datetime, *, within: timedelta) -> datetime | None:
    """The last fire time in ``[now - within, now]``, or None.

    Looked for backwards, in a window doubled from one minute until it holds a fire time: the
    window's newer half had none, so its fire times are few unless the cron fires every minute
    of a long stretch, and all of them are read (from ``now - within`` onwards, the first 1,000
    fire times of a cron of every minute were 17 hours of last week, not the last minute)."""
    trigger = extract_trigger(config)
    end = now.astimezone(config.tz)
    earliest = end - within
    span = timedelta(minutes=1)
    while True:
        start = max(end - span, earliest)
        times = fire_times(trigger, start, end=end, limit=None)
        if times:
            return times[-1]
        if start <= earliest:
            return None
        span *= 2


async def catch_up(
    sessions: async_sessionmaker[AsyncSession], publisher: Publisher | None, config: Config, *, now: datetime
) -> PublishOutcome | None:
    """At start-up: the missed slot's month, once, if it is within ``catch_up_days``."""
    slot = last_slot(config, now, within=timedelta(days=config.schedule.catch_up_days))
    if slot is None:
        return None
    return await run_slot(sessions, publisher, month=month_of(slot, config.tz), now=now, trigger="catch-up")


def catch_up_job_id(month: str) -> str:
    return make_job_id(FEATURE, "catchup", month)


def slot_grace(config: Config) -> timedelta:
    """How late APScheduler may still run the slot (a suspended machine, a busy loop)."""
    return timedelta(seconds=max(60, config.schedule.catch_up_days * 86400))


async def missed_slot(store: PlainStore, config: Config, now: datetime) -> datetime | None:
    """The last slot within ``catch_up_days`` whose month is not handled yet (what
    :func:`catch_up` would run), or None; read without SQLAlchemy (``storage.plain``)."""
    slot = last_slot(config, now, within=timedelta(days=config.schedule.catch_up_days))
    if slot is None:
        return None
    done = await store.state(SLOT_STATE_KEY)
    return slot if done is None or done < month_of(slot, config.tz) else None


def feature(*, slot: Callable[[], Awaitable[object]], catch_up: Callable[[], Awaitable[object]]) -> Feature:
    """The extracts' declaration: the monthly cron (``schedule.extract_cron`` in ``bot.timezone``)
    runs ``slot()``; a missed slot of a month not handled yet is caught up by ``catch_up()``
    (both idempotent per month: :func:`run_slot`)."""

    async def plan(services: Services, now: datetime) -> list[JobSpec]:
        config = services.config
        specs = [JobSpec(JOB_ID, extract_trigger(config), slot, grace=slot_grace(config))]
        missed = await missed_slot(services.plain, config, now)
        if missed is not None:
            specs.append(JobSpec(catch_up_job_id(month_of(missed, config.tz)), missed, catch_up))
        return specs

    return Feature(FEATURE, plan)


def format_local(when: datetime, tz: ZoneInfo) -> str:
    return local(when, tz).strftime("%Y-%m-%d %H:%M")


def _status_label(status: str) -> Label | str:
    """An extract's state as its reader reads it (« publié »), for a refusal."""
    return Label(f"extracts.status.{status}") if status in (EXTRACT_QUEUED, EXTRACT_PUBLISHED, EXTRACT_SKIPPED) else status
