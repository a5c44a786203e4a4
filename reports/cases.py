"""The case list: the episodes a signed-in person may read, narrowed by a
:class:`~reports.filters.CaseFilter`, a page at a time, and as CSV.

Who sees which cases is decided in the query, by the rule of
:func:`domain.case.rules.can_view` (:func:`reports._query.visible`): a school's user never gets
another school's case, whatever the filter asks (a filter for another school gives an empty
list), MASH gets child-protection cases only, officers, team leaders and managers every case.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from activities.register import CaseRow, CaseSchoolRow
from domain.case.model import Actor
from reports._query import aware, case_condition, local_day, visible
from reports._words import KIND, OUTCOME, STAGE, csv_text
from reports.filters import CaseFilter

__all__ = ["CaseItemPublic", "CasePagePublic", "case_page", "cases_csv", "list_cases"]

MAX_PAGE_SIZE = 200


class CaseItemPublic(BaseModel):
    """One episode of a case in a list. The child's name is there for the reason given on
    :class:`reports.tasks.TaskItemPublic` (a person allowed to read the case, on a signed-in
    page); ``None`` once erased."""

    model_config = ConfigDict(frozen=True)

    case_ref: str
    episode: int
    repeat: bool
    kind: str
    kind_label: str
    stage: str
    stage_label: str
    school: str | None  # the school the child is missing from
    schools: tuple[str, ...]  # every school whose users may see it (case_school)
    child_protection: bool
    overdue: bool
    mash_call_pending: bool
    opened_at: datetime
    next_deadline: date | None
    assigned_officer: str | None
    sat_referred_at: datetime | None
    located_on: date | None
    decision: str | None
    investigation_outcome: str | None
    outcome_label: str | None
    closed_at: datetime | None
    open_problems: int
    first_name: str | None
    last_name: str | None

    @property
    def child_name(self) -> str:
        names = [n for n in (self.first_name, self.last_name) if n]
        return " ".join(names) if names else "(erased)"


class CasePagePublic(BaseModel):
    """A page of the list: its items, how many match in all, and where it is."""

    model_config = ConfigDict(frozen=True)

    items: list[CaseItemPublic]
    total: int
    page: int
    page_size: int
    case_filter: CaseFilter = Field(default_factory=CaseFilter)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def _statement(viewer: Actor, case_filter: CaseFilter) -> SelectOfScalar[CaseRow]:
    return select(CaseRow).where(visible(viewer), case_condition(case_filter))


def _ordered(statement: SelectOfScalar[CaseRow]) -> SelectOfScalar[CaseRow]:
    # The longest-open first: the list is a work list.
    return statement.order_by(col(CaseRow.opened_at), col(CaseRow.case_ref), col(CaseRow.episode))


def _schools(session: Session, rows: list[CaseRow]) -> dict[tuple[str, int], tuple[str, ...]]:
    refs = sorted({row.case_ref for row in rows})
    found: dict[tuple[str, int], list[str]] = {}
    if refs:
        statement = (
            select(CaseSchoolRow)
            .where(col(CaseSchoolRow.case_ref).in_(refs))
            .order_by(col(CaseSchoolRow.laestab))
        )
        for school in session.exec(statement):
            found.setdefault((school.case_ref, school.episode), []).append(school.laestab)
    return {key: tuple(value) for key, value in found.items()}


def _items(session: Session, rows: list[CaseRow]) -> list[CaseItemPublic]:
    schools = _schools(session, rows)
    return [
        CaseItemPublic(
            case_ref=row.case_ref,
            episode=row.episode,
            repeat=row.repeat,
            kind=row.kind,
            kind_label=KIND.get(row.kind, row.kind),
            stage=row.stage,
            stage_label=STAGE.get(row.stage, row.stage),
            school=row.school_laestab,
            schools=schools.get((row.case_ref, row.episode), ()),
            child_protection=row.child_protection,
            overdue=row.overdue,
            mash_call_pending=row.mash_call_pending,
            opened_at=aware(row.opened_at),
            next_deadline=row.next_deadline,
            assigned_officer=row.assigned_officer,
            sat_referred_at=aware(row.sat_referred_at) if row.sat_referred_at else None,
            located_on=row.located_on,
            decision=row.decision,
            investigation_outcome=row.investigation_outcome,
            outcome_label=(
                OUTCOME.get(row.investigation_outcome, row.investigation_outcome)
                if row.investigation_outcome
                else None
            ),
            closed_at=aware(row.closed_at) if row.closed_at else None,
            open_problems=row.open_problems,
            first_name=row.first_name,
            last_name=row.last_name,
        )
        for row in rows
    ]


def case_page(
    *,
    session: Session,
    viewer: Actor,
    case_filter: CaseFilter | None = None,
    page: int = 1,
    page_size: int = 50,
) -> CasePagePublic:
    """Page ``page`` (from 1) of the episodes ``viewer`` may read that match ``case_filter``,
    the longest-open first. ``page_size`` is 1 to 200; a page past the last is empty."""
    if page < 1:
        raise ValueError("page: pages are numbered from 1")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size: 1 to {MAX_PAGE_SIZE} cases a page")
    case_filter = case_filter or CaseFilter()
    statement = _statement(viewer, case_filter)
    total = session.exec(select(func.count()).select_from(statement.subquery())).one()
    rows = list(session.exec(_ordered(statement).offset((page - 1) * page_size).limit(page_size)))
    return CasePagePublic(
        items=_items(session, rows),
        total=int(total),
        page=page,
        page_size=page_size,
        case_filter=case_filter,
    )


def list_cases(
    *, session: Session, viewer: Actor, case_filter: CaseFilter | None = None
) -> list[CaseItemPublic]:
    """Every episode ``viewer`` may read that matches ``case_filter`` (no pages), the
    longest-open first."""
    statement = _ordered(_statement(viewer, case_filter or CaseFilter()))
    return _items(session, list(session.exec(statement)))


_CSV_HEADER = (
    "case_ref",
    "episode",
    "repeat",
    "kind",
    "stage",
    "school",
    "schools",
    "child_protection",
    "overdue",
    "mash_call_pending",
    "opened_on",
    "sat_referred_on",
    "located_on",
    "next_deadline",
    "assigned_officer",
    "decision",
    "investigation_outcome",
    "closed_on",
    "open_problems",
)


def cases_csv(
    *,
    session: Session,
    viewer: Actor,
    case_filter: CaseFilter | None = None,
    include_names: bool = False,
) -> str:
    """The list as CSV (every matching episode, one row each; dates are local days). Without
    the children's names unless ``include_names``: an export leaves the service (a download is
    the LA's to keep safe and to erase), so it carries no personal data unless the person
    exporting needs the names and asks for them."""
    header = list(_CSV_HEADER) + (["first_name", "last_name"] if include_names else [])
    rows = []
    for item in list_cases(session=session, viewer=viewer, case_filter=case_filter):
        row: list[object] = [
            item.case_ref,
            item.episode,
            item.repeat,
            item.kind,
            item.stage,
            item.school,
            " ".join(item.schools),
            item.child_protection,
            item.overdue,
            item.mash_call_pending,
            local_day(item.opened_at),
            local_day(item.sat_referred_at),
            item.located_on,
            item.next_deadline,
            item.assigned_officer,
            item.decision,
            item.investigation_outcome,
            local_day(item.closed_at),
            item.open_problems,
        ]
        if include_names:
            row += [item.first_name, item.last_name]
        rows.append(row)
    return csv_text(header, rows)
