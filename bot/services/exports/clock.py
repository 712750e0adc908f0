"""Answer times as ``(UTC, local)`` ISO strings, fast enough for a million rows — or, for a
spreadsheet, as ``(UTC, local)`` date-time values (:class:`_DateClock`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo


class _Clock:
    """``(UTC, local)`` ISO strings, to the second, for an answer time.

    The time comes as the repository gives it: an aware datetime, or (SQLite) the stored UTC
    text ``YYYY-MM-DD HH:MM:SS[.ffffff]``, which is sliced rather than parsed.  The local
    rendering of each UTC hour is cached: when the zone's offset is a whole number of hours and
    does not change within that hour, the local time is the cached local date and hour followed
    by the UTC minutes and seconds; otherwise (an offset change inside the hour, a half-hour
    zone) it is computed exactly."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self._hours: dict[str, tuple[str, str] | None] = {}

    def __call__(self, when: datetime | str) -> tuple[str, str]:
        if when.__class__ is str and len(when) >= 19 and when[10] in " T":  # type: ignore[union-attr]
            text: str = when  # type: ignore[assignment]
        else:
            text = self._text(when)
        hour = text[:13]
        try:
            cached = self._hours[hour]
        except KeyError:
            cached = self._local_hour(hour)
            if len(self._hours) > 100_000:
                self._hours.clear()
            self._hours[hour] = cached
        utc = f"{text[:10]}T{text[11:19]}Z"
        if cached is None:
            exact = datetime.fromisoformat(text[:19]).replace(tzinfo=UTC).astimezone(self.tz)
            return utc, exact.isoformat()
        prefix, suffix = cached
        return utc, f"{prefix}{text[13:19]}{suffix}"

    @staticmethod
    def _text(when: datetime | str) -> str:
        if isinstance(when, str):
            when = datetime.fromisoformat(when)
        if when.tzinfo is not None:
            when = when.astimezone(UTC).replace(tzinfo=None)
        return when.replace(microsecond=0).isoformat(" ")

    def _local_hour(self, hour: str) -> tuple[str, str] | None:
        start = datetime.fromisoformat(f"{hour}:00:00").replace(tzinfo=UTC)
        first = start.astimezone(self.tz)
        last = (start + timedelta(hours=1, microseconds=-1)).astimezone(self.tz)
        offset = first.utcoffset()
        if offset is None or offset != last.utcoffset() or offset.total_seconds() % 3600:
            return None
        return first.strftime("%Y-%m-%dT%H"), first.isoformat()[19:]


class _DateClock(_Clock):
    """``(UTC, local)`` as naive ``datetime`` values to the second, for XLSX: a spreadsheet
    stores a date cell without a time zone, so each column's name says which one it is
    (``answered_at_utc``, ``answered_at_local``).  Built from the same cached strings."""

    def __call__(self, when: datetime | str) -> tuple[datetime, datetime]:  # type: ignore[override]
        utc, local = super().__call__(when)
        return datetime.fromisoformat(utc[:19]), datetime.fromisoformat(local[:19])


def offset_stretches(tz: ZoneInfo, first: datetime, last: datetime) -> list[tuple[datetime | None, int, str]]:
    """The zone's UTC offsets over ``[first, last]`` (aware datetimes) as stretches of one offset:
    ``(start, offset in seconds, ISO suffix)``, the first one's start ``None``, each later one
    starting at the UTC second its offset takes effect — so that the database can write the local
    times itself (``local = UTC + offset``, then the suffix), exactly as :class:`_Clock` does.

    The offset is read at every UTC hour (the resolution at which :class:`_Clock` caches it); a
    change within an hour is found to the second by bisection (zone transitions fall on whole
    seconds)."""

    def offset(when: datetime) -> timedelta:
        return when.astimezone(tz).utcoffset() or timedelta(0)

    def entry(start: datetime | None, value: timedelta) -> tuple[datetime | None, int, str]:
        suffix = datetime(2000, 1, 1, tzinfo=timezone(value)).isoformat()[19:]
        return start, int(value.total_seconds()), suffix

    hour = first.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    end = last.astimezone(UTC)
    current = offset(hour)
    stretches = [entry(None, current)]
    step = timedelta(hours=1)
    while hour <= end:
        following = offset(hour + step)
        if following != current:
            low, high = 0, 3600  # the offset at hour + low is current's, at hour + high following's
            while high - low > 1:
                middle = (low + high) // 2
                if offset(hour + timedelta(seconds=middle)) == current:
                    low = middle
                else:
                    high = middle
            current = following
            stretches.append(entry(hour + timedelta(seconds=high), current))
        hour += step
    return stretches
