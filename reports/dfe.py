"""The DfE's termly elective home education (EHE) and children missing education (CME) data
collection: the CME figures the register can support, as at a census date, and as CSV.

What the collection is (sources, read for this module):

* "Elective home education and children missing education: submit your data" (GOV.UK): each LA
  sends **termly aggregate returns** on its EHE and CME cohorts through DfE's COLLECT service, for
  a **census date** each term (for 2022/23: Thu 6 Oct 2022, Thu 19 Jan 2023, Thu 18 May 2023,
  each returned about four weeks later); no data that could identify a child
  (https://www.fenews.co.uk/resources/elective-home-education-and-children-missing-education-submit-your-data/,
  a copy of the GOV.UK page);
* "Children missing education: methodology" (explore-education-statistics): CME are children of
  compulsory school age who are **not registered pupils at a school** and are not receiving
  suitable education otherwise (s.436A Education Act 1996), including children awaiting a school
  place; **not** children on a school roll who are absent, however long; voluntary from autumn
  2022, mandatory from autumn 2024; the **length of time** a child was missing education at the
  census date and the **primary reason** for CME were added in autumn 2023, five new reasons in
  autumn 2025 (https://explore-education-statistics.service.gov.uk/methodology/children-missing-education);
* the published data set "Children missing education at census date" (cme_census.csv): the
  number of CME at the census date by sex, year group and length of time missing education, in
  columns ``time_period, time_identifier, geographic_level, country_code, country_name,
  region_code, region_name, old_la_code, new_la_code, la_name, breakdown_topic, breakdown,
  child_count``; and "CME at any point in the academic year"
  (https://explore-education-statistics.service.gov.uk/data-catalogue/data-set/5fd47e69-cc0b-4916-8fb6-431a4504974e).

What the register supports (see the README's section for what it does not):

* **CME at the census date**: children with a case of a child on no school roll
  (``not_on_roll``) open at the end of the census date, by year group (from the date of birth)
  and by length of time missing education (from the day the case opened, in calendar days:
  being out of education does not stop in the holidays);
* **CME at any point in the academic year** up to the census date;
* children who **became CME** (a not-on-roll case opened) and who **stopped being CME** (its
  closure, by outcome: the known circumstances) in the period;
* as context, never in the DfE's rows: missing pupils still on roll under enquiry at the census
  date (not CME while registered), pupils deleted in the period whose whereabouts were not found
  (the Lost Pupil Database; CME in the DfE's sense from the deletion, but their cases close with
  it), and children this service saw leave school for home education in the period.

A child is counted once (their case reference) however many episodes they had.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict
from sqlmodel import Session, col, select

from activities.register import CaseRow
from domain.calendar import SchoolCalendar
from domain.case.model import Actor, CaseKind, Decision, InvestigationOutcome, Stage
from reports._query import NotPermitted, local_day, sees_every_case
from reports._words import csv_text

__all__ = [
    "LENGTH_BANDS",
    "DfeFigurePublic",
    "DfeReturnPublic",
    "dfe_cme_return",
    "dfe_cme_return_csv",
]

# Length of time missing education at the census date, in calendar days: (label, from, to).
# The guide's own bands could not be read when this was written (see the README): check them
# against the collection guide of the year and change them here.
LENGTH_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("Less than 4 weeks", 0, 27),
    ("4 weeks to less than 12 weeks", 28, 83),
    ("12 weeks to less than 26 weeks", 84, 181),
    ("26 weeks or more", 182, None),
)
YEAR_GROUPS = ("Reception", *(f"Year {n}" for n in range(1, 12)))
UNKNOWN_YEAR_GROUP = "Year group unknown"
EHE_GROUNDS = frozenset({"9(1)(f)", "8(1)(d)"})  # parent's written notice (2024, 2006 regs)

_CEASED = {
    InvestigationOutcome.PLACED_ON_ROLL.value: "Registered at a school",
    InvestigationOutcome.HOME_EDUCATED.value: "Elective home education",
    InvestigationOutcome.LEFT_AREA.value: "Left the local authority area",
    InvestigationOutcome.NOT_LOCATED.value: "Whereabouts not found (not located)",
}
_WITHDRAWN = "Withdrawn (duplicate or referred in error)"

# The measures of the return, in order: (key, words).
CENSUS = ("cme_census", "CME on census date")
ANY_POINT = ("cme_any_point", "CME at any point in the academic year to the census date")
BECAME = ("became_cme", "Became CME in the period")
CEASED = ("ceased_cme", "Stopped being CME in the period")


class DfeFigurePublic(BaseModel):
    """One number of the return: a measure, a breakdown of it, the count of children."""

    model_config = ConfigDict(frozen=True)

    measure: str  # key
    measure_label: str
    breakdown_topic: str
    breakdown: str
    child_count: int
    in_collection: bool = True  # False: context for the LA, not one of the DfE's items
    note: str = ""


class DfeReturnPublic(BaseModel):
    model_config = ConfigDict(frozen=True)

    census_date: date
    period_start: date
    academic_year_start: date
    time_period: str  # "202526"
    time_identifier: str  # "Autumn term"
    la_code: str
    new_la_code: str
    la_name: str
    figures: list[DfeFigurePublic]

    def figure(self, measure: str, breakdown: str = "Total") -> int:
        """A count by measure key and breakdown (0 when the return has no such row)."""
        for f in self.figures:
            if f.measure == measure and f.breakdown == breakdown:
                return f.child_count
        return 0


def year_group(date_of_birth: date | None, on: date) -> str:
    """The national curriculum year group on ``on`` of a child born on ``date_of_birth``: a
    child starts Reception in the September after their fourth birthday (born September to
    August, one cohort)."""
    if date_of_birth is None:
        return UNKNOWN_YEAR_GROUP
    academic_year = on.year if on.month >= 9 else on.year - 1
    cohort = date_of_birth.year if date_of_birth.month >= 9 else date_of_birth.year - 1
    group = academic_year - (cohort + 5)
    return YEAR_GROUPS[group] if 0 <= group < len(YEAR_GROUPS) else UNKNOWN_YEAR_GROUP


def length_band(days: int) -> str:
    for label, low, high in LENGTH_BANDS:
        if days >= low and (high is None or days <= high):
            return label
    return LENGTH_BANDS[0][0]  # a negative length cannot happen: opened on or before the census


def _term_identifier(calendar: SchoolCalendar, census_date: date) -> str:
    started = [t for t in calendar.terms if t.first_day <= census_date]
    month = (started[-1].first_day if started else census_date).month
    if month >= 8:
        return "Autumn term"
    if month <= 3:
        return "Spring term"
    return "Summer term"


def _open_on(row: CaseRow, day: date) -> bool:
    opened = local_day(row.opened_at)
    closed = local_day(row.closed_at)
    return opened is not None and opened <= day and (closed is None or closed > day)


def _open_during(row: CaseRow, first: date, last: date) -> bool:
    opened = local_day(row.opened_at)
    closed = local_day(row.closed_at)
    return opened is not None and opened <= last and (closed is None or closed >= first)


def _on_or_before(moment: datetime | None, day: date) -> bool:
    local = local_day(moment)
    return local is not None and local <= day


def _children(rows: Iterable[CaseRow]) -> dict[str, CaseRow]:
    """One row per child (case reference): their latest episode among ``rows``."""
    found: dict[str, CaseRow] = {}
    for row in rows:
        if row.case_ref not in found or row.episode > found[row.case_ref].episode:
            found[row.case_ref] = row
    return found


def dfe_cme_return(
    *,
    session: Session,
    viewer: Actor,
    census_date: date,
    calendar: SchoolCalendar,
    period_start: date | None = None,
    new_la_code: str = "",
) -> DfeReturnPublic:
    """The CME figures of the return for ``census_date`` (the DfE sets it each term: see its
    collection guide). ``period_start``: the first day of the period "became / stopped being
    CME" counts (by default the first day of the census date's term, from ``calendar``).
    ``new_la_code``: the LA's 9-character ONS code, for the CSV (the calendar holds the DfE's
    3-digit LA number and name). For the LA's officers, team leaders and managers only."""
    if not sees_every_case(viewer):
        raise NotPermitted(
            "the DfE return is the LA's: for CME officers, team leaders and managers"
        )
    started = [t for t in calendar.terms if t.first_day <= census_date]
    if period_start is None:
        period_start = started[-1].first_day if started else census_date
    if period_start > census_date:
        raise ValueError("period_start: after the census date")
    year_start = date(census_date.year if census_date.month >= 9 else census_date.year - 1, 9, 1)
    rows = list(session.exec(select(CaseRow).order_by(col(CaseRow.case_ref))))
    not_on_roll = [r for r in rows if r.kind == CaseKind.NOT_ON_ROLL.value]

    figures: list[DfeFigurePublic] = []

    def add(
        measure: tuple[str, str],
        topic: str,
        breakdown: str,
        count: int,
        *,
        in_collection: bool = True,
        note: str = "",
    ) -> None:
        figures.append(
            DfeFigurePublic(
                measure=measure[0],
                measure_label=measure[1],
                breakdown_topic=topic,
                breakdown=breakdown,
                child_count=count,
                in_collection=in_collection,
                note=note,
            )
        )

    census = _children(r for r in not_on_roll if _open_on(r, census_date))
    add(CENSUS, "Total", "Total", len(census))
    groups = Counter(year_group(r.date_of_birth, census_date) for r in census.values())
    for group in (*YEAR_GROUPS, UNKNOWN_YEAR_GROUP):
        add(CENSUS, "Year group", group, groups.get(group, 0))
    lengths = Counter(
        length_band((census_date - (local_day(r.opened_at) or census_date)).days)
        for r in census.values()
    )
    for label, _low, _high in LENGTH_BANDS:
        add(CENSUS, "Length of time missing education", label, lengths.get(label, 0))

    any_point = _children(r for r in not_on_roll if _open_during(r, year_start, census_date))
    add(ANY_POINT, "Total", "Total", len(any_point))

    def in_period(moment: datetime | None) -> bool:
        day = local_day(moment)
        return day is not None and period_start <= day <= census_date

    became = _children(r for r in not_on_roll if in_period(r.opened_at))
    add(BECAME, "Total", "Total", len(became))

    ceased = _children(
        r for r in not_on_roll if r.stage == Stage.CLOSED.value and in_period(r.closed_at)
    )
    add(CEASED, "Total", "Total", len(ceased))
    reasons = Counter(
        _CEASED.get(r.investigation_outcome or "", _WITHDRAWN) for r in ceased.values()
    )
    for label in (*_CEASED.values(), _WITHDRAWN):
        add(CEASED, "Known circumstance", label, reasons.get(label, 0))

    # Context for the LA, not the DfE's items.
    on_roll = _children(
        r
        for r in rows
        if r.kind == CaseKind.DESTINATION_NOT_VERIFIED.value
        and _open_on(r, census_date)
        and not _on_or_before(r.concluded_at, census_date)
    )
    add(
        ("context_on_roll", "Missing pupils on roll under enquiry at the census date"),
        "Total",
        "Total",
        len(on_roll),
        in_collection=False,
        note="not CME while registered at a school (DfE definition)",
    )
    lost = _children(
        r
        for r in rows
        if r.kind == CaseKind.DESTINATION_NOT_VERIFIED.value
        and r.decision == Decision.DELETION_AUTHORISED.value
        and r.investigation_outcome == InvestigationOutcome.NOT_LOCATED.value
        and in_period(r.closed_at)
    )
    add(
        ("context_deleted_not_located", "Pupils deleted in the period, whereabouts not found"),
        "Total",
        "Total",
        len(lost),
        in_collection=False,
        note=(
            "CME in the DfE's sense from the deletion (Lost Pupil Database), but the case closes "
            "with it: add them to the census count while the LA still records them as CME"
        ),
    )
    ehe = _children(
        r
        for r in rows
        if r.stage == Stage.CLOSED.value
        and in_period(r.closed_at)
        and (
            r.investigation_outcome == InvestigationOutcome.HOME_EDUCATED.value
            or (r.decision == Decision.DELETION_AUTHORISED.value and r.ground in EHE_GROUNDS)
        )
    )
    add(
        ("context_ehe", "Children this service saw leave for home education in the period"),
        "Total",
        "Total",
        len(ehe),
        in_collection=False,
        note="the EHE part of the collection counts the LA's whole EHE cohort: the EHE team's",
    )

    time_period = f"{year_start.year}{(year_start.year + 1) % 100:02d}"
    return DfeReturnPublic(
        census_date=census_date,
        period_start=period_start,
        academic_year_start=year_start,
        time_period=time_period,
        time_identifier=_term_identifier(calendar, census_date),
        la_code=str(calendar.la_code),
        new_la_code=new_la_code,
        la_name=calendar.la_name,
        figures=figures,
    )


_HEADER = (
    "time_period",
    "time_identifier",
    "geographic_level",
    "country_code",
    "country_name",
    "region_code",
    "region_name",
    "old_la_code",
    "new_la_code",
    "la_name",
    "measure",
    "breakdown_topic",
    "breakdown",
    "child_count",
)


def dfe_cme_return_csv(dfe_return: DfeReturnPublic) -> str:
    """The return's DfE items as CSV, in the columns of the DfE's published CME data (the
    collection's own entry form, in COLLECT, is filled from the same numbers), with a
    ``measure`` column before the breakdown naming which count each row is. Context figures are
    left out. Counts are exact: the DfE rounds when it publishes, not the LA when it returns."""
    r = dfe_return
    rows = [
        [
            r.time_period,
            r.time_identifier,
            "Local authority",
            "E92000001",
            "England",
            "",
            "",
            r.la_code,
            r.new_la_code,
            r.la_name,
            f.measure_label,
            f.breakdown_topic,
            f.breakdown,
            f.child_count,
        ]
        for f in r.figures
        if f.in_collection
    ]
    return csv_text(_HEADER, rows)
