"""A calendar as plain data, so a case workflow can hold its school's calendar in its state and
answer school-day questions deterministically (in update validators too) without file I/O.

The calendar a snapshot stands for is built once per process for each distinct snapshot and
shared (:meth:`CalendarSnapshot.to_calendar`): every case of a school holds the same calendar, and
a :class:`~domain.calendar.SchoolCalendar` never changes once built (its only mutable part is a
cache of what follows from its fields), so sharing it changes no answer."""

from __future__ import annotations

import functools
from datetime import date

from pydantic import BaseModel

from domain.calendar import SchoolCalendar, Term


class TermSnapshot(BaseModel):
    name: str
    first_day: date
    last_day: date
    closures: list[tuple[date, date]] = []


class CalendarSnapshot(BaseModel):
    la_code: int
    la_name: str
    terms: list[TermSnapshot]
    inset: dict[str, list[date]] = {}
    bank_holidays: list[date] = []

    @classmethod
    def of(cls, calendar: SchoolCalendar, school: str | None = None) -> CalendarSnapshot:
        """The calendar as data; with ``school``, only that school's INSET days are kept."""
        inset = {
            laestab: sorted(days)
            for laestab, days in calendar.inset.items()
            if school is None or laestab == school
        }
        return cls(
            la_code=calendar.la_code,
            la_name=calendar.la_name,
            terms=[
                TermSnapshot(
                    name=t.name,
                    first_day=t.first_day,
                    last_day=t.last_day,
                    closures=list(t.closures),
                )
                for t in calendar.terms
            ],
            inset=inset,
            bank_holidays=sorted(calendar.bank_holidays or ()),
        )

    def to_calendar(self) -> SchoolCalendar:
        """The calendar, shared by every snapshot with the same content (see module docstring)."""
        return _calendar_of(self.model_dump_json())

    def _build(self) -> SchoolCalendar:
        return SchoolCalendar(
            la_code=self.la_code,
            la_name=self.la_name,
            terms=tuple(
                Term(
                    name=t.name,
                    first_day=t.first_day,
                    last_day=t.last_day,
                    closures=tuple(t.closures),
                )
                for t in self.terms
            ),
            inset={k: frozenset(v) for k, v in self.inset.items()},
            bank_holidays=frozenset(self.bank_holidays),
        )


# As many as an LA's schools with INSET days of their own, and more: a miss only builds again.
CALENDARS_KEPT = 512


@functools.lru_cache(maxsize=CALENDARS_KEPT)
def _calendar_of(snapshot: str) -> SchoolCalendar:
    return CalendarSnapshot.model_validate_json(snapshot)._build()
