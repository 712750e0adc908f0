"""Creating a poll or a survey: what a moderator typed is parsed and checked here
(:meth:`Drafting.prepare` → :class:`PollDraft`, or :class:`~bot.errors.InvalidInput` with a
catalogue key), then stored (:meth:`Drafting.create`).  A question's options, its maximum of
choices and whether a native Discord poll can carry it are its kind's (:mod:`.kinds`)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.errors import InvalidInput
from bot.i18n import LANGUAGES
from bot.services.poll_rules import (
    MAX_LABEL,
    MAX_OPTIONS,
    MAX_QUESTION,
    MIN_OPTIONS,
    NATIVE_MAX_ANSWERS,
    NATIVE_MAX_DAYS,
    NATIVE_MAX_LABEL,
    QuestionDraft,
    checked_text,
    has_mention,
)
from bot.services.polls.core import PollCore
from bot.services.polls.kinds import kind_of
from bot.services.polls.views import PollDraft, PollView, poll_view

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

_SEPARATORS = re.compile(r"[;\n]")
_DURATION_PART = re.compile(r"(\d+)\s*([a-zé]+)")
_UNITS: dict[str, timedelta] = {}
for _names, _unit in (
    (("m", "mn", "min", "mins", "minute", "minutes"), timedelta(minutes=1)),
    (("h", "hr", "hrs", "heure", "heures", "hour", "hours"), timedelta(hours=1)),
    (("j", "d", "jour", "jours", "day", "days"), timedelta(days=1)),
    (("w", "sem", "semaine", "semaines", "week", "weeks"), timedelta(weeks=1)),
):
    for _name in _names:
        _UNITS[_name] = _unit
_DATE_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%d/%m/%Y %H:%M", "%d/%m/%Y %Hh%M", "%Y-%m-%d %Hh%M")


# ------------------------------------------------------------------------------ parsing
def parse_options(text: str | None) -> list[str]:
    """Options separated by ``;`` or new lines: trimmed, 2 to 25, none empty, none repeated
    (case-insensitive), each at most ``MAX_LABEL`` characters.  One trailing separator is fine."""
    raw = (text or "").strip()
    parts = _SEPARATORS.split(raw) if raw else []
    if len(parts) > 1 and not parts[-1].strip():
        parts.pop()
    labels: list[str] = []
    seen: dict[str, str] = {}
    for number, part in enumerate(parts, start=1):
        label = " ".join(part.split())
        if not label:
            raise InvalidInput("poll.error.empty_option", number=number)
        if len(label) > MAX_LABEL:
            raise InvalidInput("poll.error.option_too_long", number=number, length=len(label), max=MAX_LABEL)
        folded = label.casefold()
        if folded in seen:
            raise InvalidInput("poll.error.duplicate_option", label=label)
        seen[folded] = label
        labels.append(label)
    if len(labels) < MIN_OPTIONS:
        raise InvalidInput("poll.error.too_few_options", min=MIN_OPTIONS)
    if len(labels) > MAX_OPTIONS:
        raise InvalidInput("poll.error.too_many_options", count=len(labels), max=MAX_OPTIONS)
    if any(has_mention(label) for label in labels):
        raise InvalidInput("poll.error.mention")
    return labels


def parse_duration(text: str) -> timedelta | None:
    """``90m``, ``2h``, ``3d``, ``1j`` (jours), ``1j12h``, ``2 heures``… → a timedelta, or
    ``None`` when the text is not a duration."""
    value = text.strip().lower()
    if not value:
        return None
    position, total, found = 0, timedelta(), False
    for match in _DURATION_PART.finditer(value):
        if value[position : match.start()].strip():
            return None
        unit = _UNITS.get(match.group(2))
        if unit is None:
            return None
        total += int(match.group(1)) * unit
        position, found = match.end(), True
    if not found or value[position:].strip():
        return None
    return total


def in_whole_days(text: str) -> bool:
    """Whether a duration (as :func:`parse_duration` reads it) is written in days or weeks
    only (« 3j », « 1 semaine »), not in hours or minutes."""
    units = [_UNITS.get(match.group(2)) for match in _DURATION_PART.finditer(text.strip().lower())]
    return bool(units) and all(unit is not None and unit >= timedelta(days=1) for unit in units)


def parse_deadline(text: str, *, now: datetime, tz: ZoneInfo, max_days: int) -> datetime:
    """A duration from ``now`` or a local date-time (``YYYY-MM-DD HH:MM``, also
    ``DD/MM/YYYY HH:MM``) in ``tz`` → an aware UTC datetime, in the future and at most
    ``max_days`` away.  Raises :class:`InvalidInput`."""
    value = " ".join(text.split())
    duration = parse_duration(value)
    if duration is not None:
        deadline = now + duration
    else:
        for fmt in _DATE_FORMATS:
            try:
                local = datetime.strptime(value, fmt)
            except ValueError:
                continue
            deadline = local.replace(tzinfo=tz).astimezone(UTC)
            break
        else:
            raise InvalidInput("poll.error.deadline_format", value=value, tz=str(tz))
    if deadline <= now:
        raise InvalidInput("poll.error.deadline_past")
    if deadline - now > timedelta(days=max_days):
        raise InvalidInput("poll.error.deadline_too_far", days=max_days)
    return deadline


class Drafting(PollCore):
    # -------------------------------------------------------------------- creation
    def prepare(
        self,
        *,
        guild_id: int,
        channel_id: int,
        author_id: int,
        question: str,
        options: str | Sequence[str] | None = None,
        kind: str = "single",
        max_choices: int | None = None,
        anonymous: bool | None = None,
        live_results: bool = True,
        deadline: str | None = None,
        reminder: str | None = None,
        role_ids: Sequence[int] = (),
        native: bool = False,
        lang: str = "fr",
        campaign_id: int | None = None,
        extract_id: int | None = None,
    ) -> PollDraft:
        """Check everything a moderator typed; raise :class:`InvalidInput` on the first problem.

        ``options`` is the text typed in the command (``;`` or new lines between options) or a
        list of labels (e.g. an extract's front matter)."""
        now = self.clock()
        if options is not None and not isinstance(options, str):
            options = "\n".join(str(o) for o in options)
        draft = self.prepare_question(
            question, kind=kind, options=options, max_choices=max_choices, lang=lang
        )
        labels, chosen = draft.labels, draft.max_choices

        spec = kind_of(draft.kind)
        if native:
            if not spec.native:
                raise InvalidInput("poll.error.native_kind", kind=spec.name_label(chosen))
            if len(labels) > NATIVE_MAX_ANSWERS:
                raise InvalidInput("poll.error.native_too_many", max=NATIVE_MAX_ANSWERS)
            for number, label in enumerate(labels, start=1):
                if len(label) > NATIVE_MAX_LABEL:
                    raise InvalidInput(
                        "poll.error.native_option_too_long",
                        max=NATIVE_MAX_LABEL,
                        number=number,
                        length=len(label),
                    )
            if anonymous:
                raise InvalidInput("poll.error.native_anonymous")
            if not live_results:
                raise InvalidInput("poll.error.native_hidden")
            if role_ids:
                raise InvalidInput("poll.error.native_roles")
            if spec.multiple and chosen != len(labels):  # Discord: one answer, or any
                raise InvalidInput("poll.error.native_max_choices")

        deadline_at, reminder_at, native_hours = self._timing(now, deadline, reminder, native=native)
        return PollDraft(
            guild_id=guild_id,
            channel_id=channel_id,
            author_id=author_id,
            question=draft.text,
            kind=draft.kind,
            labels=draft.labels,
            codes=draft.codes,
            max_choices=chosen,
            anonymous=(not native) if anonymous is None else anonymous,
            live_results=live_results,
            deadline_at=deadline_at,
            reminder_at=reminder_at,
            allowed_role_ids=tuple(dict.fromkeys(int(r) for r in role_ids)),
            native=native,
            lang=lang,
            native_hours=native_hours,
            campaign_id=campaign_id,
            extract_id=extract_id,
        )

    def prepare_question(
        self,
        text: str,
        *,
        kind: str = "single",
        options: str | None = None,
        max_choices: int | None = None,
        lang: str = "fr",
    ) -> QuestionDraft:
        """One question: its text, kind and options checked (raises :class:`InvalidInput`)."""
        text = checked_text(
            (text or "").strip(),
            MAX_QUESTION,
            empty="poll.error.question_empty",
            too_long="poll.error.question_too_long",
            mention="poll.error.mention",
        )
        spec = kind_of(kind)  # an unknown kind: InvalidInput("error.invalid_input")

        if spec.options.free:
            labels = parse_options(options)
            codes = tuple(f"o{i}" for i in range(1, len(labels) + 1))
        else:
            if options and options.strip():
                raise InvalidInput("poll.error.options_not_used", kind=spec.name_label(1))
            builtin = spec.options.builtin(self.catalogue, lang)
            codes = tuple(code for code, _ in builtin)
            labels = [label for _, label in builtin]

        chosen = spec.max_choices(max_choices, len(labels))
        return QuestionDraft(text, kind, tuple(labels), codes, chosen)

    def _options(self, question: QuestionDraft, lang: str) -> list[Any]:
        """A question's option rows; a built-in option (yes/no, Likert) also gets its wording in
        the other languages, so that it reads « Yes » in English wherever it was created."""
        from storage import models

        wording: dict[str, dict[str, str]] = {}
        rules = kind_of(question.kind).options
        for other in LANGUAGES if rules.fixed else ():
            if other != lang:
                for code, label in rules.builtin(self.catalogue, other):
                    wording.setdefault(code, {})[other] = label
        return [models.Option(position=i, code=code, label=label, labels=wording.get(code, {}))
                for i, (code, label) in enumerate(zip(question.codes, question.labels, strict=True))]

    def prepare_survey(
        self,
        *,
        guild_id: int,
        channel_id: int,
        author_id: int,
        title: str,
        questions: str,
        anonymous: bool | None = None,
        live_results: bool = True,
        deadline: str | None = None,
        reminder: str | None = None,
        role_ids: Sequence[int] = (),
        lang: str = "fr",
        campaign_id: int | None = None,
        extract_id: int | None = None,
    ) -> PollDraft:
        """A quick survey: a title and 2 to 5 questions in the compact text format of
        :func:`bot.services.surveys.parse_survey` (one question per paragraph)."""
        from bot.services.surveys import clean_title, parse_survey

        now = self.clock()
        title = clean_title(title)
        drafts = parse_survey(questions, self, lang=lang)
        deadline_at, reminder_at, _ = self._timing(now, deadline, reminder, native=False)
        first = drafts[0]
        return PollDraft(
            guild_id=guild_id,
            channel_id=channel_id,
            author_id=author_id,
            question=first.text,
            kind=first.kind,
            labels=first.labels,
            codes=first.codes,
            max_choices=first.max_choices,
            anonymous=True if anonymous is None else anonymous,
            live_results=live_results,
            deadline_at=deadline_at,
            reminder_at=reminder_at,
            allowed_role_ids=tuple(dict.fromkeys(int(r) for r in role_ids)),
            native=False,
            lang=lang,
            campaign_id=campaign_id,
            extract_id=extract_id,
            title=title,
            questions=drafts,
        )

    def check_timing(self, deadline: str | None, reminder: str | None) -> None:
        """Check a deadline and a reminder now (e.g. before asking for a survey's questions);
        raises :class:`InvalidInput`."""
        self._timing(self.clock(), deadline, reminder, native=False)

    def _timing(
        self, now: datetime, deadline: str | None, reminder: str | None, *, native: bool
    ) -> tuple[datetime, datetime | None, int | None]:
        """The deadline (default: ``polls.default_duration_hours``), the reminder and — native
        polls — the duration in whole hours."""
        max_days = self.settings.max_duration_days
        if deadline and deadline.strip():
            deadline_at = parse_deadline(deadline, now=now, tz=self.tz, max_days=max_days)
        else:
            hours = min(self.settings.default_duration_hours, max_days * 24)
            deadline_at = now + timedelta(hours=hours)
        native_hours = None
        if native:
            native_hours = max(1, math.ceil((deadline_at - now).total_seconds() / 3600))
            if native_hours > NATIVE_MAX_DAYS * 24:
                raise InvalidInput("poll.error.native_too_long", days=NATIVE_MAX_DAYS)
            deadline_at = now + timedelta(hours=native_hours)

        reminder_at = None
        if reminder and reminder.strip():
            before = parse_duration(reminder)
            if before is None or before <= timedelta():
                raise InvalidInput("poll.error.reminder_format", value=reminder.strip())
            reminder_at = deadline_at - before
            if reminder_at <= now:
                raise InvalidInput("poll.error.reminder_too_late")
        return deadline_at, reminder_at, native_hours

    async def create(self, draft: PollDraft, *, actor_id: int | None = None) -> PollView:
        """Store the poll or survey (``open``, no message yet: see :meth:`attach_message`),
        in ``draft.campaign_id`` when it is set."""
        async with self.sessions.begin() as session:
            view = await self.add_poll(session, draft, actor_id=actor_id)
        self._remember(view)
        return view

    async def add_poll(self, session: AsyncSession, draft: PollDraft, *, actor_id: int | None = None) -> PollView:
        """:meth:`create` in the caller's transaction (the calendar writes an occurrence's
        poll with the claim of that occurrence, so a crash leaves both or neither)."""
        from storage import models
        from storage.repositories import AuditRepository, PollRepository

        now = self.clock()
        questions = [
            models.Question(
                position=position,
                code=f"q{position + 1}",
                text=question.text,
                kind=question.kind,
                max_choices=question.max_choices,
                options=self._options(question, draft.lang),
            )
            for position, question in enumerate(draft.question_drafts())
        ]
        poll = models.Poll(
            guild_id=draft.guild_id,
            channel_id=draft.channel_id,
            author_id=draft.author_id,
            campaign_id=draft.campaign_id,
            extract_id=draft.extract_id,
            title=draft.title or draft.question,
            native=draft.native,
            anonymous=draft.anonymous,
            live_results=draft.live_results,
            allowed_role_ids=list(draft.allowed_role_ids),
            lang=draft.lang,
            status="open",
            deadline_at=draft.deadline_at,
            reminder_at=draft.reminder_at,
            reminder_sent=False,
            created_at=now,
            questions=questions,
        )
        PollRepository(session).add(poll)
        await session.flush()
        view = poll_view(poll)
        details: dict[str, Any] = {"kind": view.kind, "native": view.native, "options": len(view.options)}
        if view.is_survey:
            details = {"kind": "survey", "questions": len(view.questions)}
        if view.campaign_id is not None:
            details["campaign_id"] = view.campaign_id
        if view.extract_id is not None:
            details["extract_id"] = view.extract_id
        AuditRepository(session).record(
            "poll.create",
            actor_id=draft.author_id if actor_id is None else actor_id,
            target_type="poll",
            target_id=view.id,
            guild_id=view.guild_id,
            channel_id=view.channel_id,
            details=details,
        )
        return view

    async def attach_message(self, poll_id: int, message_id: int) -> PollView:
        from storage.repositories import PollRepository

        async with self.sessions.begin() as session:
            await PollRepository(session).set_message(poll_id, message_id)
        self._forget(poll_id)
        return await self.get(poll_id)

    async def discard(self, poll_id: int) -> None:
        """Delete a poll whose message could not be posted."""
        from storage.repositories import PollRepository

        async with self.sessions.begin() as session:
            await PollRepository(session).delete(poll_id)
        self._forget(poll_id)
