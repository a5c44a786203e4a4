"""What every report's query shares: who may see which episodes (:func:`visible`, the rule of
:func:`domain.case.rules.can_view` written as SQL) and a :class:`~reports.filters.CaseFilter` as a
``WHERE`` clause.

Every row of a report is an **episode** of a case (a child's second episode of missing
education is a case of its own in the counts); only a child's latest episode can be open.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, not_, select, true
from sqlalchemy.orm import aliased
from sqlmodel import col

from activities.register import CaseRow, CaseSchoolRow
from domain.case.model import Actor, Role, Stage
from domain.clock import local_date, start_of_day
from reports.filters import CaseFilter, Status

__all__ = [
    "NotPermitted",
    "aware",
    "case_condition",
    "day_bounds",
    "local_day",
    "sees_every_case",
    "visible",
]

CLOSED = Stage.CLOSED.value


def aware(value: datetime) -> datetime:
    """A stored moment as aware UTC (SQLite gives back naive UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def local_day(value: datetime | None) -> date | None:
    """The local (Europe/London) day of a stored moment."""
    return local_date(aware(value)) if value is not None else None


class NotPermitted(PermissionError):
    """The viewer's role may not have this report; the message says whose it is."""


def sees_every_case(viewer: Actor) -> bool:
    """Officers, team leaders and managers read every case (``can_view``)."""
    return viewer.role in (Role.CME_OFFICER, Role.TEAM_LEADER, Role.MANAGER)


def _of_schools(schools: tuple[str, ...]) -> ColumnElement[bool]:
    # An alias: a query that joins case_school itself (counts by school) must not correlate it.
    school = aliased(CaseSchoolRow)
    return exists(
        select(col(school.laestab)).where(
            col(school.case_ref) == col(CaseRow.case_ref),
            col(school.episode) == col(CaseRow.episode),
            col(school.laestab).in_(schools),
        )
    )


def visible(viewer: Actor) -> ColumnElement[bool]:
    """The episodes ``viewer`` may read, as :func:`domain.case.rules.can_view` decides for one:
    officers, team leaders and managers every one; MASH the child-protection ones; a school's
    user those of its own schools (``case_school``: the school the child is missing from, or the
    user's schools for a child on no roll its staff referred); anyone else none."""
    if sees_every_case(viewer):
        return true()
    if viewer.role is Role.MASH:
        return col(CaseRow.child_protection).is_(True)
    if viewer.role is Role.SCHOOL and viewer.schools:
        return _of_schools(tuple(viewer.schools))
    return false()


def day_bounds(first: date | None, last: date | None) -> tuple[datetime | None, datetime | None]:
    """Local days ``first`` to ``last`` (both included) as moments: from the start of ``first``
    (Europe/London) to before the start of the day after ``last``."""
    start = start_of_day(first) if first is not None else None
    end = start_of_day(last + timedelta(days=1)) if last is not None else None
    return start, end


def _moment_between(column: Any, first: date | None, last: date | None) -> list[Any]:
    start, end = day_bounds(first, last)
    conditions: list[Any] = []
    if start is not None:
        conditions.append(column >= start)
    if end is not None:
        conditions.append(column < end)
    return conditions


def case_condition(case_filter: CaseFilter) -> ColumnElement[bool]:
    """``case_filter`` as a condition on ``cme_case``."""
    f = case_filter
    conditions: list[Any] = []
    if f.status is Status.OPEN:
        conditions.append(CaseRow.stage != CLOSED)
    elif f.status is Status.CLOSED:
        conditions.append(CaseRow.stage == CLOSED)
    if f.stage is not None:
        conditions.append(CaseRow.stage == f.stage.value)
    if f.kind is not None:
        conditions.append(CaseRow.kind == f.kind.value)
    if f.school is not None:
        conditions.append(_of_schools((f.school,)))
    if f.no_school:
        school = aliased(CaseSchoolRow)
        conditions.append(
            not_(
                exists(
                    select(col(school.laestab)).where(
                        col(school.case_ref) == col(CaseRow.case_ref),
                        col(school.episode) == col(CaseRow.episode),
                    )
                )
            )
        )
    for name in ("child_protection", "overdue", "mash_call_pending"):
        wanted = getattr(f, name)
        if wanted is not None:
            conditions.append(col(getattr(CaseRow, name)).is_(wanted))
    conditions += _moment_between(col(CaseRow.opened_at), f.opened_from, f.opened_to)
    conditions += _moment_between(
        col(CaseRow.sat_referred_at), f.sat_referred_from, f.sat_referred_to
    )
    if f.located_from is not None:
        conditions.append(col(CaseRow.located_on) >= f.located_from)
    if f.located_to is not None:
        conditions.append(col(CaseRow.located_on) <= f.located_to)
    return and_(true(), *conditions)
