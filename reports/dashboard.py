"""The manager's dashboard: open cases by stage and by school, overdue tasks and cases,
child-protection cases whose MASH call is not confirmed, the time from day 1 of absence to the
SAT referral and to the child's location (this term against last term), and referrals per week.

Every figure carries the :class:`~reports.filters.CaseFilter` of the cases behind it: the case
list for that filter, with the same viewer, lists exactly the cases counted. Figures count the
cases the viewer may read (:func:`reports._query.visible`): a manager's are the LA's, a school
user's its own schools'.

**Times are in school days**, counted on the child's school's calendar (the LA's terms less bank
holidays and the school's INSET days), day 1 of absence being school day 1. The process itself
runs on school days: the guidance refers a child to the SAT at the end of school day 10 (seed
2.4) and the absence grounds count 20 school days (2024 regs 9(1)(i)), so a figure in school
days reads directly against those rules; in calendar days a child who went missing before a half
term would look twice as slow as one who went missing after it, for the same work. A case whose
dates lie outside the calendar cannot be counted and is reported as such, not guessed.

**Terms** come from the school calendar: this term is the latest term that has started by
today; last term the one before it. A term's figures take the cases whose event (SAT referral,
location) fell from its first day to the day before the next term's first day (so the holiday
after a term counts with it).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict
from sqlalchemy import and_
from sqlmodel import Session, col, func, select

from activities.register import CaseRow, CaseSchoolRow, TaskRow
from domain.calendar import CalendarError, SchoolCalendar, Term, human_date
from domain.case.model import Actor, CaseKind, Stage, TaskStatus
from domain.clock import local_date
from reports._chart import Bar, bar_chart
from reports._query import CLOSED, case_condition, day_bounds, local_day, visible
from reports._words import STAGE, csv_text
from reports.filters import CaseFilter, Status

__all__ = [
    "DashboardPublic",
    "FigurePublic",
    "MedianPublic",
    "TermComparisonPublic",
    "WeekPublic",
    "build_dashboard",
    "dashboard_csv",
    "referrals_chart",
]

OPEN_STAGES = [s for s in Stage if s is not Stage.CLOSED]
SCHOOL_DAYS = "school days"


class FigurePublic(BaseModel):
    """A count, with the filter of the cases behind it."""

    model_config = ConfigDict(frozen=True)

    key: str  # stable, for tests and CSV: e.g. "open_by_stage.la_investigation"
    label: str
    value: int
    case_filter: CaseFilter
    cases: int | None = None  # when the value counts something else (tasks): the cases


class MedianPublic(BaseModel):
    """The median time over a term's cases, in school days (see the module)."""

    model_config = ConfigDict(frozen=True)

    term: str
    first_day: date
    last_day: date  # the day before the next term starts (or the calendar's last day)
    median: float | None  # None: no case to count
    unit: str = SCHOOL_DAYS
    cases: int  # counted
    not_counted: int  # dates outside the calendar, or no day 1 (no calendar at opening)
    case_filter: CaseFilter


class TermComparisonPublic(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str
    label: str
    this_term: MedianPublic | None
    last_term: MedianPublic | None


class WeekPublic(BaseModel):
    """Cases opened in a week (Monday to Sunday, local days)."""

    model_config = ConfigDict(frozen=True)

    week_start: date
    value: int
    case_filter: CaseFilter

    @property
    def label(self) -> str:
        return f"{self.week_start.day} {human_date(self.week_start).split()[1]}"

    @property
    def long_label(self) -> str:
        return f"Week beginning {human_date(self.week_start)}"


class DashboardPublic(BaseModel):
    model_config = ConfigDict(frozen=True)

    today: date
    open_cases: FigurePublic
    open_by_stage: list[FigurePublic]
    open_by_school: list[FigurePublic]  # by LAESTAB, then "no school" (if any)
    overdue_tasks: FigurePublic  # value: tasks; cases: the cases that have them
    overdue_cases: FigurePublic
    mash_call_unconfirmed: FigurePublic
    time_to_sat_referral: TermComparisonPublic
    time_to_location: TermComparisonPublic
    referrals_per_week: list[WeekPublic]  # oldest first, the last is this week

    def figures(self) -> list[FigurePublic]:
        """Every count, in the order of the page."""
        return [
            self.open_cases,
            *self.open_by_stage,
            *self.open_by_school,
            self.overdue_tasks,
            self.overdue_cases,
            self.mash_call_unconfirmed,
        ]


# -- counts ----------------------------------------------------------------------------------------


def _count(session: Session, viewer: Actor, case_filter: CaseFilter) -> int:
    statement = (
        select(func.count())
        .select_from(CaseRow)
        .where(visible(viewer), case_condition(case_filter))
    )
    return int(session.exec(statement).one())


def _figure(
    session: Session, viewer: Actor, key: str, label: str, case_filter: CaseFilter
) -> FigurePublic:
    value = _count(session, viewer, case_filter)
    return FigurePublic(key=key, label=label, value=value, case_filter=case_filter)


def _by_school(session: Session, viewer: Actor) -> list[FigurePublic]:
    open_cases = CaseFilter(status=Status.OPEN)
    statement = (
        select(CaseSchoolRow.laestab, func.count())
        .join(
            CaseRow,
            and_(
                col(CaseSchoolRow.case_ref) == col(CaseRow.case_ref),
                col(CaseSchoolRow.episode) == col(CaseRow.episode),
            ),
        )
        .where(visible(viewer), case_condition(open_cases))
        .group_by(col(CaseSchoolRow.laestab))
        .order_by(col(CaseSchoolRow.laestab))
    )
    figures = [
        FigurePublic(
            key=f"open_by_school.{laestab}",
            label=laestab,
            value=int(count),
            case_filter=open_cases.with_(school=laestab),
        )
        for laestab, count in session.exec(statement)
    ]
    no_school = open_cases.with_(no_school=True)
    without = _count(session, viewer, no_school)
    if without:
        figures.append(
            FigurePublic(
                key="open_by_school.none",
                label="No school (child on no roll)",
                value=without,
                case_filter=no_school,
            )
        )
    return figures


def _overdue_tasks(session: Session, viewer: Actor) -> FigurePublic:
    """Open tasks past their due date on open cases, as their cases mark them (when the due day
    ends): the cases that have them are the overdue cases."""
    statement = (
        select(TaskRow.case_ref, TaskRow.episode)
        .join(
            CaseRow,
            and_(
                col(TaskRow.case_ref) == col(CaseRow.case_ref),
                col(TaskRow.episode) == col(CaseRow.episode),
            ),
        )
        .where(
            col(TaskRow.status) == TaskStatus.OPEN.value,
            col(CaseRow.stage) != CLOSED,
            visible(viewer),
            col(TaskRow.overdue).is_(True),
        )
    )
    tasks = list(session.exec(statement))
    return FigurePublic(
        key="overdue_tasks",
        label="Overdue tasks",
        value=len(tasks),
        cases=len(set(tasks)),
        case_filter=CaseFilter(status=Status.OPEN, overdue=True),
    )


# -- times -----------------------------------------------------------------------------------------


def _terms(calendar: SchoolCalendar, today: date) -> tuple[Term | None, Term | None, date | None]:
    """This term, last term, and the day this term's period ends (see the module)."""
    started = [i for i, t in enumerate(calendar.terms) if t.first_day <= today]
    if not started:
        return None, None, None
    i = started[-1]
    this = calendar.terms[i]
    last = calendar.terms[i - 1] if i > 0 else None
    following = (
        calendar.terms[i + 1].first_day - timedelta(days=1)
        if i + 1 < len(calendar.terms)
        else this.last_day
    )
    return this, last, following


def _median(
    session: Session,
    viewer: Actor,
    calendar: SchoolCalendar,
    term: Term,
    period_end: date,
    event: str,
) -> MedianPublic:
    if event == "sat":
        case_filter = CaseFilter(
            kind=CaseKind.DESTINATION_NOT_VERIFIED,
            sat_referred_from=term.first_day,
            sat_referred_to=period_end,
        )
    else:
        case_filter = CaseFilter(
            kind=CaseKind.DESTINATION_NOT_VERIFIED,
            located_from=term.first_day,
            located_to=period_end,
        )
    statement = select(
        col(CaseRow.day1),
        col(CaseRow.sat_referred_at),
        col(CaseRow.located_on),
        col(CaseRow.school_laestab),
    ).where(visible(viewer), case_condition(case_filter))
    days: list[int] = []
    not_counted = 0
    for day1, sat_referred_at, located_on, school in session.exec(statement):
        until = local_day(sat_referred_at) if event == "sat" else located_on
        if day1 is None or until is None:
            not_counted += 1
            continue
        try:
            # Day 1 is school day 1: the referral at the end of day 10 counts 10.
            days.append(calendar.count_school_days(day1, until, school))
        except CalendarError:
            not_counted += 1
    return MedianPublic(
        term=term.name,
        first_day=term.first_day,
        last_day=period_end,
        median=float(statistics.median(days)) if days else None,
        cases=len(days),
        not_counted=not_counted,
        case_filter=case_filter,
    )


def _comparison(
    session: Session,
    viewer: Actor,
    calendar: SchoolCalendar,
    today: date,
    event: str,
    key: str,
    label: str,
) -> TermComparisonPublic:
    this, last, this_end = _terms(calendar, today)
    this_median = last_median = None
    if this is not None and this_end is not None:
        this_median = _median(session, viewer, calendar, this, this_end, event)
    if this is not None and last is not None:
        last_end = this.first_day - timedelta(days=1)
        last_median = _median(session, viewer, calendar, last, last_end, event)
    return TermComparisonPublic(key=key, label=label, this_term=this_median, last_term=last_median)


# -- referrals per week ----------------------------------------------------------------------------


def _weeks(session: Session, viewer: Actor, today: date, weeks: int) -> list[WeekPublic]:
    this_monday = today - timedelta(days=today.weekday())
    first = this_monday - timedelta(weeks=weeks - 1)
    start, end = day_bounds(first, this_monday + timedelta(days=6))
    statement = select(CaseRow.opened_at).where(
        visible(viewer), col(CaseRow.opened_at) >= start, col(CaseRow.opened_at) < end
    )
    counts = Counter(
        (day - timedelta(days=day.weekday()))
        for opened in session.exec(statement)
        if (day := local_day(opened)) is not None
    )
    result = []
    for n in range(weeks):
        monday = first + timedelta(weeks=n)
        result.append(
            WeekPublic(
                week_start=monday,
                value=counts.get(monday, 0),
                case_filter=CaseFilter(opened_from=monday, opened_to=monday + timedelta(days=6)),
            )
        )
    return result


# -- the dashboard ---------------------------------------------------------------------------------


def build_dashboard(
    *,
    session: Session,
    viewer: Actor,
    calendar: SchoolCalendar,
    today: date | None = None,
    weeks: int = 12,
) -> DashboardPublic:
    """The dashboard's figures, over the cases ``viewer`` may read, on ``today`` (the local day,
    Europe/London, by default now's). ``calendar``: the LA's school calendar (terms, school
    days). ``weeks``: how many weeks of referrals, this one the last."""
    if weeks < 1:
        raise ValueError("weeks: at least 1")
    today = today if today is not None else local_date(datetime.now(UTC))
    open_cases = CaseFilter(status=Status.OPEN)
    return DashboardPublic(
        today=today,
        open_cases=_figure(session, viewer, "open_cases", "Open cases", open_cases),
        open_by_stage=[
            _figure(
                session,
                viewer,
                f"open_by_stage.{stage.value}",
                STAGE[stage.value],
                open_cases.with_(stage=stage),
            )
            for stage in OPEN_STAGES
        ],
        open_by_school=_by_school(session, viewer),
        overdue_tasks=_overdue_tasks(session, viewer),
        overdue_cases=_figure(
            session, viewer, "overdue_cases", "Overdue cases", open_cases.with_(overdue=True)
        ),
        mash_call_unconfirmed=_figure(
            session,
            viewer,
            "mash_call_unconfirmed",
            "Child-protection cases whose MASH call is not confirmed",
            open_cases.with_(child_protection=True, mash_call_pending=True),
        ),
        time_to_sat_referral=_comparison(
            session,
            viewer,
            calendar,
            today,
            "sat",
            "time_to_sat_referral",
            "Day 1 of absence to SAT referral (median, school days)",
        ),
        time_to_location=_comparison(
            session,
            viewer,
            calendar,
            today,
            "located",
            "time_to_location",
            "Day 1 of absence to the child located (median, school days)",
        ),
        referrals_per_week=_weeks(session, viewer, today, weeks),
    )


def referrals_chart(
    weeks: Sequence[WeekPublic],
    *,
    href: Callable[[CaseFilter], str] | None = None,
    chart_id: str = "referrals-per-week",
    table_visually_hidden: bool = False,
) -> str:
    """The referrals per week as an accessible bar chart: an HTML fragment with the SVG (title and
    description) and a table of the same numbers, each linking (``href``: the case list's URL for
    a filter) to the cases opened that week. Safe to insert unescaped: every text is escaped."""
    bars = [Bar(w.label, w.long_label, w.value, w.case_filter) for w in weeks]
    span = (
        f" ({human_date(weeks[0].week_start)} to "
        f"{human_date(weeks[-1].week_start + timedelta(days=6))})"
        if weeks
        else ""
    )
    return bar_chart(
        bars,
        chart_id=chart_id,
        title=f"Cases opened per week{span}",
        value_heading="Cases opened",
        label_heading="Week",
        href=href,
        table_visually_hidden=table_visually_hidden,
    )


def dashboard_csv(dashboard: DashboardPublic) -> str:
    """Every figure of the dashboard as CSV: one row per figure, with the case-list filter behind
    it (as a query string)."""
    rows: list[list[object]] = []
    for figure in dashboard.figures():
        rows.append(
            [
                figure.key,
                figure.label,
                figure.value,
                "tasks" if figure.key == "overdue_tasks" else "cases",
                figure.cases,
                "",
                "",
                urlencode(figure.case_filter.to_query()),
            ]
        )
    for comparison in (dashboard.time_to_sat_referral, dashboard.time_to_location):
        for which, median in (
            ("this_term", comparison.this_term),
            ("last_term", comparison.last_term),
        ):
            if median is None:
                continue
            rows.append(
                [
                    f"{comparison.key}.{which}",
                    f"{comparison.label}: {median.term}",
                    median.median,
                    median.unit,
                    median.cases,
                    median.first_day,
                    median.last_day,
                    urlencode(median.case_filter.to_query()),
                ]
            )
    for week in dashboard.referrals_per_week:
        rows.append(
            [
                f"referrals_per_week.{week.week_start.isoformat()}",
                week.long_label,
                week.value,
                "cases",
                None,
                week.week_start,
                week.week_start + timedelta(days=6),
                urlencode(week.case_filter.to_query()),
            ]
        )
    header = ["figure", "label", "value", "unit", "cases", "from", "to", "filter"]
    return csv_text(header, rows)
