"""School days end at midnight in England: deadlines are dates, timers fire at local midnight."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")


def local_date(moment: datetime) -> date:
    """The date in England at ``moment`` (an aware datetime, e.g. ``workflow.now()``)."""
    return moment.astimezone(LONDON).date()


def start_of_day(day: date) -> datetime:
    return datetime.combine(day, time(0), LONDON)


def end_of_day(day: date) -> datetime:
    """The moment ``day`` is over: local midnight that starts the next day."""
    return start_of_day(day + timedelta(days=1))


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def human_date(d: date) -> str:
    """``7 Nov 2025``: the way dates are written to schools and officers (whatever the locale)."""
    return f"{d.day} {_MONTHS[d.month - 1]} {d.year}"
