"""Compulsory school age in England (Education Act 1996 s.8).

A child *begins* to be of compulsory school age on the first prescribed day (31 March, 31 August
or 31 December) falling on or after their fifth birthday: on the birthday itself when it is a
prescribed day (s.8(2)). A child *ceases* to be of compulsory school age at the end of the school
leaving date (the last Friday in June) of the school year, 1 September to 31 August, in which they
turn 16 (s.8(3)-(4) and the Education (School Leaving Date) Order 1997): a child whose 16th
birthday falls in July or August leaves on the last Friday in June before it.

Both ends are included: a child is of compulsory school age on the prescribed day and on the school
leaving date. A child born on 29 February attains an age on 1 March in a year without one.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

_PRESCRIBED_DAYS = ((3, 31), (8, 31), (12, 31))  # (month, day), in calendar order
_FRIDAY = 4


def birthday(dob: date, age: int) -> date:
    """The day on which someone born on ``dob`` attains ``age`` (29 Feb → 1 Mar in other years)."""
    year = dob.year + age
    if dob.month == 2 and dob.day == 29 and not calendar.isleap(year):
        return date(year, 3, 1)
    return dob.replace(year=year)


def _last_friday_in_june(year: int) -> date:
    d = date(year, 6, 30)
    return d - timedelta(days=(d.weekday() - _FRIDAY) % 7)


def compulsory_school_age_bounds(dob: date) -> tuple[date, date]:
    """(first day, last day) of compulsory school age, both included."""
    fifth = birthday(dob, 5)
    start = next(
        day
        for day in (date(fifth.year, month, dom) for month, dom in _PRESCRIBED_DAYS)
        if day >= fifth
    )
    sixteenth = birthday(dob, 16)
    # The school year runs September to August: a birthday from September on falls in the school
    # year that ends the following June.
    leaving_year = sixteenth.year + 1 if sixteenth.month >= 9 else sixteenth.year
    return start, _last_friday_in_june(leaving_year)


def is_compulsory_school_age(dob: date, on: date) -> bool:
    """Whether a child born on ``dob`` is of compulsory school age on the day ``on``."""
    start, end = compulsory_school_age_bounds(dob)
    return start <= on <= end
