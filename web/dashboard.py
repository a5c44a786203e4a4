"""The manager's dashboard (``/dashboard``) and its figures as CSV (``/dashboard.csv``): open cases
by stage and by school, overdue tasks and cases, child-protection cases whose MASH call is not
confirmed, the median time from day 1 of absence to the SAT referral and to the child's location
(this term against last, in school days), and referrals per week as a chart with its table. Every
number links to the case list filtered to the cases behind it (:func:`web.case_list.cases_href`
of the figure's own filter, from :func:`reports.build_dashboard`).

For CME officers, team leaders, managers and MASH. The figures count the cases the viewer may
read (the rule of :mod:`reports`): MASH's are the child-protection cases only, and the page says
so. "Today" is the app's clock's local day; terms and school days are the LA's calendar
(``CME_CALENDAR_FILE``).
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from markupsafe import Markup
from sqlmodel import Session
from starlette.responses import Response

from domain.calendar import CalendarError, SchoolCalendar, human_date
from domain.case.model import Role
from domain.clock import local_date
from reports import DashboardPublic, build_dashboard, dashboard_csv, referrals_chart
from web.auth import actor_of, require_role
from web.case_list import cases_href, csv_response
from web.context import ServiceUnavailable, register_session, web_context
from web.pages import render
from web.sessions import SignedInUser

__all__ = ["DASHBOARD", "DASHBOARD_READERS", "router"]

DASHBOARD = "/dashboard"
DASHBOARD_CSV = "/dashboard.csv"
DASHBOARD_READERS = (Role.CME_OFFICER, Role.TEAM_LEADER, Role.MANAGER, Role.MASH)
WEEKS = 12

log = logging.getLogger("cme.web")

router = APIRouter()
Reader = Annotated[SignedInUser, Depends(require_role(*DASHBOARD_READERS))]
Db = Annotated[Session, Depends(register_session)]


def school_calendar(request: Request) -> SchoolCalendar:
    """The LA's school calendar (``CME_CALENDAR_FILE``); the 503 page when it cannot be read."""
    try:
        return web_context(request).settings.calendar
    except (CalendarError, OSError) as exc:
        log.error("the school calendar cannot be read: %s", exc)
        raise ServiceUnavailable("the school calendar") from exc


def _dashboard(request: Request, user: SignedInUser, db: Session) -> DashboardPublic:
    web = web_context(request)
    return build_dashboard(
        session=db,
        viewer=actor_of(user),
        calendar=school_calendar(request),
        today=local_date(web.clock()),
        weeks=WEEKS,
    )


def _days(median: float | None) -> str:
    if median is None:
        return ""
    shown = f"{median:g}"
    return f"{shown} school {'day' if median == 1 else 'days'}"


@router.get(DASHBOARD)
def dashboard(request: Request, user: Reader, db: Db) -> Response:
    board = _dashboard(request, user, db)
    # Safe to insert as it is: reports escapes every text of the chart (its contract).
    chart = Markup(referrals_chart(board.referrals_per_week, href=cases_href))
    return render(
        request,
        "dashboard/dashboard.html",
        {
            "title": "Dashboard",
            "board": board,
            "chart": chart,
            "href": cases_href,
            "human_date": human_date,
            "days": _days,
            "mash": user.role is Role.MASH,
            "csv_href": DASHBOARD_CSV,
        },
    )


@router.get(DASHBOARD_CSV)
def dashboard_download(request: Request, user: Reader, db: Db) -> Response:
    board = _dashboard(request, user, db)
    return csv_response(dashboard_csv(board), f"dashboard-{board.today.isoformat()}.csv")
