"""Compulsory school age in England (Education Act 1996 s.8).

A child *begins* to be of compulsory school age on the first prescribed day (31 March, 31 August
or 31 December) falling on or after their fifth birthday: on the birthday itself when it is a
prescribed day (s.8(2); Education (Start of Compulsory School Age) Order 1998). A child *ceases* to
be of compulsory school age at the end of the school leaving date (the last Friday in June:
Education (School Leaving Date) Order 1997) of the school year in which they turn 16 (s.8(3)-(4)):
a child whose 16th birthday falls in July or August leaves on the last Friday in June before it.

**The school year, for s.8(3), runs from 1 September to 31 August.** This is a reading, chosen
here, of an ambiguity: s.8(3)(a) ends compulsory school age on a leaving date "if he attains the
age of 16 after that day but before the beginning of the school year next following", and the only
definition of "school year" (s.579(1)) is "in relation to a school": the period beginning with the
first school term to begin after July. Read that way, a child whose 16th birthday falls between
1 September and the first day of the autumn term (e.g. Tue 2 Sep 2025, when Portsmouth's term
began on Wed 3 Sep) would have left on the last Friday of the previous June, a year before their
cohort. We do not read it so, because

* s.8 fixes a child's status "for the purposes of any enactment", including for children on no
  school roll, the very children this service looks for: a definition tied to one school's term
  dates cannot apply to a child with no school, and would give children born on the same day
  different leaving dates by school;
* the 1 September-31 August year is the one year groups, admissions and DfE data use; and
* it errs on the side of keeping a child of compulsory school age (within the CME duty of s.436A
  and on the school roll) for longer, never shorter.

DfE's public page on the school leaving age ("if you'll be 16 by the end of the summer holidays")
points the other way for those few days; an LA that prefers that reading must change
:func:`compulsory_school_age_bounds` (``docs/law.md``, "Ambiguities").

Both ends are included: a child is of compulsory school age on the prescribed day and on the school
leaving date. A child born on 29 February attains an age on 1 March in a year without one.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import NamedTuple

from domain.calendar import SchoolCalendar

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
    # The school year runs 1 September to 31 August (see the module docstring for this reading of
    # s.8(3)(a)): a 16th birthday from 1 September on falls in the school year that ends the
    # following June, whatever day the autumn term begins.
    leaving_year = sixteenth.year + 1 if sixteenth.month >= 9 else sixteenth.year
    return start, _last_friday_in_june(leaving_year)


def is_compulsory_school_age(dob: date, on: date) -> bool:
    """Whether a child born on ``dob`` is of compulsory school age on the day ``on``."""
    start, end = compulsory_school_age_bounds(dob)
    return start <= on <= end


class AgeGroundCheck(NamedTuple):
    """Whether a pupil ceases to be of compulsory school age before the school next meets."""

    met: bool
    leaves_on: date  # the last day of compulsory school age (s.8(3))
    school_next_meets: date  # the first school day of the school after the day asked about
    # The first day the ground is met: the school's last school day on or before ``leaves_on``.
    # ``None`` when the calendar does not reach that far.
    earliest: date | None


def ceases_before_school_next_meets(
    dob: date, on: date, calendar: SchoolCalendar, school: str | None = None
) -> AgeGroundCheck:
    """2024 reg 9(1)(l), 2006 reg 8(1)(k): "will cease to be of compulsory school age before the
    school next meets", asked on the day ``on`` for a pupil born on ``dob``.

    Met when compulsory school age ends before the school's first school day after ``on``: a
    pupil whose compulsory school age ends on Fri 26 Jun 2026 meets it from that Friday (the school
    next meets on the Monday), not on Thu 25 Jun. Raises
    :class:`~domain.calendar.CalendarEndsError` when the calendar cannot say when the school next
    meets.
    """
    _, leaves_on = compulsory_school_age_bounds(dob)
    next_meets = calendar.school_day_after(on, 1, school)
    if next_meets > leaves_on:
        # No school day lies between ``on`` and the end of compulsory school age.
        last = min(on, leaves_on)
        earliest: date | None = None
        if calendar.first_day <= last:
            days = calendar.school_days(calendar.first_day, last, school)
            earliest = days[-1] if days else None
        return AgeGroundCheck(True, leaves_on, next_meets, earliest)
    # The school meets again on or before the last day of compulsory school age.
    earliest = None
    if leaves_on <= calendar.last_day:
        earliest = calendar.school_days(on, leaves_on, school)[-1]
    return AgeGroundCheck(False, leaves_on, next_meets, earliest)
