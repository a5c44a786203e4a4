"""The read side of the case register, for the web app's pages: what a signed-in person may see
(the rule of :func:`domain.case.rules.can_view`, applied in every query), as lists, a dashboard
and the DfE's termly return. Every function is keyword-only and takes a SQLModel session on the
register; nothing here writes.

* :func:`readable_case` (:mod:`reports.case`): one case, if the person may read it (the case
  page's and the API's);
* :func:`open_tasks` (:mod:`reports.tasks`): a person's open tasks, overdue first;
* :func:`case_page`, :func:`list_cases`, :func:`cases_csv` (:mod:`reports.cases`): the case
  list, narrowed by a :class:`CaseFilter` (:mod:`reports.filters`), a page at a time or as CSV;
* :func:`build_dashboard`, :func:`referrals_chart`, :func:`dashboard_csv`
  (:mod:`reports.dashboard`): the manager's figures, each with the filter of its cases;
* :func:`dfe_cme_return`, :func:`dfe_cme_return_csv` (:mod:`reports.dfe`): the CME figures of
  the DfE's termly EHE and CME data collection.

What the register holds for these (the ``case_school`` table and the cases' milestones) is
written by :func:`activities.register.upsert_case`.
"""

from reports._query import NotPermitted
from reports.case import ReadableCase, readable_case
from reports.cases import CaseItemPublic, CasePagePublic, case_page, cases_csv, list_cases
from reports.dashboard import (
    DashboardPublic,
    FigurePublic,
    MedianPublic,
    TermComparisonPublic,
    WeekPublic,
    build_dashboard,
    dashboard_csv,
    referrals_chart,
)
from reports.dfe import DfeFigurePublic, DfeReturnPublic, dfe_cme_return, dfe_cme_return_csv
from reports.filters import BadFilter, CaseFilter, Status
from reports.tasks import TaskItemPublic, open_tasks

__all__ = [
    "BadFilter",
    "CaseFilter",
    "CaseItemPublic",
    "CasePagePublic",
    "DashboardPublic",
    "DfeFigurePublic",
    "DfeReturnPublic",
    "FigurePublic",
    "MedianPublic",
    "NotPermitted",
    "ReadableCase",
    "Status",
    "TaskItemPublic",
    "TermComparisonPublic",
    "WeekPublic",
    "build_dashboard",
    "case_page",
    "cases_csv",
    "dashboard_csv",
    "dfe_cme_return",
    "dfe_cme_return_csv",
    "list_cases",
    "open_tasks",
    "readable_case",
    "referrals_chart",
]
