"""Cron lines as people write them, read by APScheduler.

A cron line numbers the days of the week from Sunday (0, and 7 again), as every cron and every
web page about cron does; APScheduler's ``CronTrigger`` numbers them from Monday (0).  A line
copied as is would run a day late (« 0 9 * * 4 », Thursday, ran on Fridays).  :func:`scheduler_cron`
rewrites the day-of-week field in names, which both read the same.  Used for the moderators'
``repeat:`` rules; the configuration's ``schedule.extract_cron`` keeps APScheduler's reading,
which the guides document for it (weekdays as names; as numbers, 0 = Monday).
"""

from __future__ import annotations

# a cron line's day of the week as a moderator copies it (Sunday 0 or 7, Monday 1…) → APScheduler's
# names (its numbers start at Monday 0: « 0 9 * * 4 » was a Friday)
_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_SCHEDULER_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _cron_day(text: str) -> int:
    if text.isdigit() and int(text) <= 7:
        return int(text) % 7
    if text[:3] in _CRON_DAYS and len(text) == 3:
        return _CRON_DAYS.index(text)
    raise ValueError(text)


def _weekdays(field: str) -> str:
    """A standard cron day-of-week field (numbers, names, ranges, lists, steps) → APScheduler's
    names (``*`` for every day).  Raises ValueError."""
    days: set[int] = set()
    for item in field.split(","):
        base, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError(item)
        if base == "*":
            first, last = 0, 6
        elif "-" in base:
            first_text, _, last_text = base.partition("-")
            first, last = _cron_day(first_text), int(last_text) if last_text == "7" else _cron_day(last_text)
            last = 7 if last == 0 < first else last  # « mon-sun »
            if last < first:
                raise ValueError(item)
        else:
            first = last = _cron_day(base)
            last = 6 if step_text else last
        days.update(day % 7 for day in range(first, last + 1, step))
    if len(days) == 7:
        return "*"
    return ",".join(name for name in _SCHEDULER_DAYS if _CRON_DAYS.index(name) in days)


def scheduler_cron(line: str) -> str:
    """A five-field cron line with its day of the week in APScheduler's names (ValueError for a
    line that is not five fields or whose day of the week cannot be read)."""
    fields = line.split()
    if len(fields) != 5:
        raise ValueError(f"a cron line has 5 fields, not {len(fields)}")
    return " ".join([*fields[:4], _weekdays(fields[4].lower())])
