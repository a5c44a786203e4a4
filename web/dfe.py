"""The DfE's termly children missing education return (``/dfe-return``): choose the census date
(a GOV.UK date input), see the figures as tables, download them as CSV in the columns of the
DfE's published CME data (``/dfe-return.csv?census_date=YYYY-MM-DD``), and read which items of
the collection the service covers (the README's section "The DfE's termly EHE and CME data
collection", which the page repeats).

For CME officers, team leaders and managers: the return is the LA's (:func:`reports.dfe_cme_return`
refuses anyone else too). The census date cannot be after today (figures "at the census date"
are not known before it ends); ``CME_LA_ONS_CODE`` gives the CSV its ``new_la_code``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from sqlmodel import Session
from starlette.responses import Response

from domain.calendar import human_date
from domain.case.model import Role
from domain.clock import local_date
from reports import DfeFigurePublic, DfeReturnPublic, dfe_cme_return, dfe_cme_return_csv
from reports.dfe import LENGTH_BANDS
from web.auth import actor_of, require_role
from web.case_list import csv_response
from web.context import register_session, web_context
from web.dashboard import school_calendar
from web.date_input import DateField, read_date
from web.forms import FormErrors
from web.pages import render
from web.sessions import SignedInUser

__all__ = ["DFE_READERS", "DFE_RETURN", "router"]

DFE_RETURN = "/dfe-return"
DFE_CSV = "/dfe-return.csv"
DFE_READERS = (Role.CME_OFFICER, Role.TEAM_LEADER, Role.MANAGER)
CENSUS_DATE = "census_date"

router = APIRouter()
Reader = Annotated[SignedInUser, Depends(require_role(*DFE_READERS))]
Db = Annotated[Session, Depends(register_session)]


def _census_date(request: Request) -> tuple[DateField, FormErrors]:
    today = local_date(web_context(request).clock())
    field = read_date(request.query_params, CENSUS_DATE, "Census date", latest=today)
    errors = FormErrors()
    if field.error is not None:
        errors.add(CENSUS_DATE, field.error, id=field.error_id)
    return field, errors


def _return(request: Request, user: SignedInUser, db: Session, census: date) -> DfeReturnPublic:
    return dfe_cme_return(
        session=db,
        viewer=actor_of(user),
        census_date=census,
        calendar=school_calendar(request),
        new_la_code=web_context(request).settings.la_ons_code or "",
    )


def _rows(figures: list[DfeFigurePublic], measure: str, topic: str) -> list[DfeFigurePublic]:
    return [f for f in figures if f.measure == measure and f.breakdown_topic == topic]


def _tables(r: DfeReturnPublic) -> dict[str, Any]:
    """The return's figures as the page shows them: the totals, each breakdown, the context."""
    totals = [f for f in r.figures if f.in_collection and f.breakdown_topic == "Total"]
    return {
        "totals": totals,
        "breakdowns": [
            {
                "id": "by-year-group",
                "caption": "On the census date, by year group",
                "heading": "Year group",
                "rows": _rows(r.figures, "cme_census", "Year group"),
            },
            {
                "id": "by-length",
                "caption": "On the census date, by length of time missing education",
                "heading": "Length of time",
                "rows": _rows(r.figures, "cme_census", "Length of time missing education"),
            },
            {
                "id": "by-circumstance",
                "caption": "Stopped being CME in the period, by known circumstance",
                "heading": "Known circumstance",
                "rows": _rows(r.figures, "ceased_cme", "Known circumstance"),
            },
        ],
        "for_la": [f for f in r.figures if not f.in_collection],
    }


def _page(
    request: Request,
    field: DateField,
    errors: FormErrors | None,
    dfe_return: DfeReturnPublic | None,
    *,
    status_code: int = 200,
) -> Response:
    context: dict[str, Any] = {
        "title": "DfE return: children missing education",
        "census": field,
        "errors": errors or None,
        "dfe": dfe_return,
        "human_date": human_date,
        "length_bands": [label for label, _low, _high in LENGTH_BANDS],
        "ons_code_set": bool(web_context(request).settings.la_ons_code),
    }
    if dfe_return is not None:
        context.update(_tables(dfe_return))
        context["csv_href"] = f"{DFE_CSV}?{CENSUS_DATE}={dfe_return.census_date.isoformat()}"
    return render(request, "dfe/return.html", context, status_code=status_code)


@router.get(DFE_RETURN)
def dfe_return_page(request: Request, user: Reader, db: Db) -> Response:
    field, errors = _census_date(request)
    if not field.given and not any(k.startswith(CENSUS_DATE) for k in request.query_params):
        return _page(request, field, None, None)  # the form, before a date is chosen
    if errors or field.value is None:
        return _page(request, field, errors, None, status_code=400)
    return _page(request, field, None, _return(request, user, db, field.value))


@router.get(DFE_CSV)
def dfe_return_csv(request: Request, user: Reader, db: Db) -> Response:
    field, errors = _census_date(request)
    if errors or field.value is None:
        return _page(request, field, errors, None, status_code=400)
    text = dfe_cme_return_csv(_return(request, user, db, field.value))
    return csv_response(text, f"dfe-cme-return-{field.value.isoformat()}.csv")
