"""The case list (``/cases``): the cases the signed-in person may read, narrowed by the filters in
the page's address (a :class:`reports.CaseFilter`: the dashboard's figures link here with the
filter of the cases behind each), a page at a time, each row linking to its case page
(``/cases/{case_ref}``); the filters shown as a summary, each removable, and as a form; and the
same list as CSV (``/cases.csv``).

Who sees which cases is decided by :mod:`reports` in its query (a school's user only its own
schools' cases, MASH the child-protection ones): the page never filters by role itself.

A filter the address gets wrong (an unknown parameter, a stage that does not exist, a date that is
not one) is a GOV.UK error on the page, each bad parameter named in words, with the form to fix
it: never a 500, and no list that would look like the answer to what was asked.

**The CSV and the children's names.** The list on the page shows each child's name (the person
may read the case, as on the case page). A download leaves the service (it is the LA's to keep
safe and to erase), so by default it holds no personal data: case references, stages, schools,
dates and flags. The names are added on request (``names=yes``) only for the roles that act on
the cases by name: a school's user (its own pupils), CME officers and team leaders. Managers and
MASH read cases and change none: their exports are for figures and oversight, which the case
reference serves, and a name is one click away on the case page.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from sqlmodel import Session
from starlette.responses import Response

from domain.calendar import human_date
from domain.case.model import CaseKind, Role, Stage
from domain.clock import local_date
from reports import BadFilter, CaseFilter, Status, case_page, cases_csv
from reports._words import KIND, STAGE
from web.auth import actor_of, require_role, role_words
from web.context import register_session, web_context
from web.forms import FormErrors
from web.pages import Forbidden, render
from web.sessions import SignedInUser

__all__ = [
    "CASE_LIST",
    "NAMES_IN_EXPORT",
    "VIEWERS",
    "case_href",
    "cases_href",
    "csv_response",
    "router",
]

CASE_LIST = "/cases"
CASES_CSV = "/cases.csv"
# Everyone who reads cases (domain.case.rules.can_view); administrators manage users only.
VIEWERS = (Role.SCHOOL, Role.CME_OFFICER, Role.TEAM_LEADER, Role.MASH, Role.MANAGER)
NAMES_IN_EXPORT = frozenset({Role.SCHOOL, Role.CME_OFFICER, Role.TEAM_LEADER})
PAGE_SIZE = 50
MAX_PAGE_SIZE = 200

router = APIRouter()
Viewer = Annotated[SignedInUser, Depends(require_role(*VIEWERS))]
Db = Annotated[Session, Depends(register_session)]

# The filter's parameters, in the order of the form, with their words.
LABELS: dict[str, str] = {
    "status": "Status",
    "stage": "Stage",
    "kind": "Kind of case",
    "school": "School",
    "no_school": "No school",
    "child_protection": "Child protection",
    "overdue": "Overdue",
    "mash_call_pending": "MASH call not confirmed",
    "opened_from": "Opened from",
    "opened_to": "Opened to",
    "sat_referred_from": "Referred to the SAT from",
    "sat_referred_to": "Referred to the SAT to",
    "located_from": "Located from",
    "located_to": "Located to",
}
STATUS = {Status.OPEN.value: "Open", Status.CLOSED.value: "Closed"}
CHOICES: dict[str, dict[str, str]] = {
    "status": STATUS,
    "stage": {s.value: STAGE[s.value] for s in Stage},
    "kind": {k.value: KIND[k.value] for k in CaseKind},
}
YES_NO = ("child_protection", "overdue", "mash_call_pending")
DATES = (
    "opened_from",
    "opened_to",
    "sat_referred_from",
    "sat_referred_to",
    "located_from",
    "located_to",
)
RANGES = (
    ("opened_from", "opened_to"),
    ("sat_referred_from", "sat_referred_to"),
    ("located_from", "located_to"),
)
PAGE_PARAMETERS = ("page", "page_size")
# What the error summary links to for a parameter the form has no field of.
FILTERS_ID = "filters"


def cases_href(case_filter: CaseFilter, **extra: str) -> str:
    """The case list's address for ``case_filter`` (and page parameters ``extra``)."""
    query = {**case_filter.to_query(), **extra}
    return CASE_LIST + ("?" + urlencode(query) if query else "")


def case_href(case_ref: str) -> str:
    """The case page's address (the case page is another module's)."""
    return f"{CASE_LIST}/{case_ref}"


def csv_response(text: str, filename: str) -> Response:
    """A CSV download (RFC 4180, UTF-8 with a byte-order mark, so that Excel reads the names'
    accents right)."""
    return Response(
        content="\ufeff" + text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# -- reading the address ---------------------------------------------------------------------------


@dataclass
class ListQuery:
    """What the page's address asks for: the filter's parameters as given (empty ones dropped: a
    form's "any"), the filter when they make one, the page, and the problems with any of it."""

    values: dict[str, str]
    case_filter: CaseFilter | None
    page: int = 1
    page_size: int = PAGE_SIZE
    errors: FormErrors = field(default_factory=FormErrors)


def _words(name: str) -> str:
    return LABELS.get(name, name)


def _problem(name: str, value: str, bad: BadFilter) -> tuple[str, str]:
    """A bad parameter's message in words, and the id of the field it is about."""
    label = _words(name)
    if name not in LABELS:
        shown = name if len(name) <= 40 else name[:40] + "…"
        return (
            f"The address has a filter the case list does not have ({shown}): clear the "
            "filters, or choose them again below",
            FILTERS_ID,
        )
    if name in CHOICES:
        choices = ", ".join(CHOICES[name].values())
        return f"{label} must be one of: {choices}", name
    if name in YES_NO or name == "no_school":
        return f"{label} must be yes or no", name
    if name in DATES:
        return f"{label} must be a date like 2026-03-02", name
    message = str(bad).partition(": ")[2] or str(bad)
    return message[:1].upper() + message[1:], name


def read_list_query(
    params: Iterable[tuple[str, str]], *, page_parameters: Iterable[str] = PAGE_PARAMETERS
) -> ListQuery:
    """The case list's filter and page from the address's parameters; every bad one is an error
    against its field (not only the first)."""
    own = frozenset(page_parameters)
    values: dict[str, str] = {}
    pages: dict[str, str] = {}
    for name, raw in params:
        value = raw.strip()
        if not value:
            continue
        (pages if name in own else values)[name] = value
    errors = FormErrors()
    for name, value in values.items():
        try:
            CaseFilter.from_query({name: value})
        except BadFilter as bad:
            message, ident = _problem(name, value, bad)
            errors.add(name, message, id=ident)
    case_filter: CaseFilter | None = None
    if not errors:
        try:
            case_filter = CaseFilter.from_query(values)
        except BadFilter:
            case_filter = None
            _cross_field_errors(values, errors)
    page = _whole_number(pages.get("page"), "page", "Page", 1, None, errors)
    page_size = _whole_number(
        pages.get("page_size"), "page_size", "Cases a page", PAGE_SIZE, MAX_PAGE_SIZE, errors
    )
    return ListQuery(
        values=values,
        case_filter=case_filter if not errors else None,
        page=page,
        page_size=page_size,
        errors=errors,
    )


def _cross_field_errors(values: Mapping[str, str], errors: FormErrors) -> None:
    """The problems of parameters that are each right but wrong together."""
    if "school" in values and values.get("no_school") == "true":
        errors.add("school", "Choose a school or no school, not both", id="school")
    for first, last in RANGES:
        if first in values and last in values:
            start, end = date.fromisoformat(values[first]), date.fromisoformat(values[last])
            if start > end:
                errors.add(
                    first,
                    f"{_words(first)} ({human_date(start)}) must be on or before "
                    f"{_words(last).lower()} ({human_date(end)})",
                    id=first,
                )
    if not errors:  # a rule of the filter this page does not know: its own words
        errors.add("filters", "The filters cannot be used together", id=FILTERS_ID)


def _whole_number(
    raw: str | None,
    name: str,
    label: str,
    default: int,
    most: int | None,
    errors: FormErrors,
) -> int:
    if raw is None:
        return default
    if raw.isascii() and raw.isdigit() and int(raw) >= 1 and (most is None or int(raw) <= most):
        return int(raw)
    limit = f" from 1 to {most}" if most is not None else ", 1 or more"
    errors.add(name, f"{label} must be a whole number{limit}", id=FILTERS_ID)
    return default


# -- what the page shows ---------------------------------------------------------------------------


def _value_words(name: str, value: Any) -> str:
    if name in CHOICES:
        return CHOICES[name].get(str(value), str(value))
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, date):
        return human_date(value)
    if name == "school":
        return f"{value} (LAESTAB)"
    return str(value)


def filter_summary(case_filter: CaseFilter) -> list[dict[str, str]]:
    """Each condition of the filter: its words, and the address of the list without it."""
    query = case_filter.to_query()
    rows = []
    for name in LABELS:
        if name not in query:
            continue
        value = getattr(case_filter, name)
        rest = {k: v for k, v in query.items() if k != name}
        rows.append(
            {
                "name": name,
                "label": "School" if name == "no_school" else _words(name),
                "value": (
                    "No school (a child on no roll)"
                    if name == "no_school"
                    else _value_words(name, value)
                ),
                "remove": CASE_LIST + ("?" + urlencode(rest) if rest else ""),
            }
        )
    return rows


def _pagination(href: str, query: dict[str, str], page: int, pages: int) -> dict[str, Any]:
    """The GOV.UK pagination component's parameters: every page near this one, the first and
    the last, ellipses between."""

    def link(n: int) -> str:
        return href + "?" + urlencode({**query, "page": str(n)})

    shown = sorted({1, pages, *range(max(1, page - 2), min(pages, page + 2) + 1)})
    items: list[dict[str, Any]] = []
    previous = 0
    for n in shown:
        if n - previous > 1:
            items.append({"ellipsis": True})
        items.append({"number": n, "href": link(n), "current": n == page})
        previous = n
    result: dict[str, Any] = {"items": items}
    if page > 1:
        result["previous"] = {"href": link(min(page - 1, pages))}
    if page < pages:
        result["next"] = {"href": link(page + 1)}
    return result


def _form_values(values: Mapping[str, str]) -> dict[str, str]:
    return {name: values.get(name, "") for name in LABELS}


def _choices(name: str, chosen: str, any_words: str) -> list[dict[str, Any]]:
    return [{"value": "", "text": any_words, "selected": not chosen}] + [
        {"value": code, "text": words, "selected": chosen == code}
        for code, words in CHOICES[name].items()
    ]


def _yes_no(chosen: str) -> list[dict[str, Any]]:
    return [
        {"value": "", "text": "Yes or no", "selected": chosen not in ("true", "false")},
        {"value": "true", "text": "Yes", "selected": chosen == "true"},
        {"value": "false", "text": "No", "selected": chosen == "false"},
    ]


@router.get(CASE_LIST)
def case_list(request: Request, user: Viewer, db: Db) -> Response:
    return _list_page(request, user, db, read_list_query(request.query_params.multi_items()))


def _list_page(request: Request, user: SignedInUser, db: Session, query: ListQuery) -> Response:
    values = _form_values(query.values)
    context: dict[str, Any] = {
        "title": "Cases",
        "values": values,
        "choices": {
            "status": _choices("status", values["status"], "Open or closed"),
            "stage": _choices("stage", values["stage"], "Any stage"),
            "kind": _choices("kind", values["kind"], "Any kind"),
            **{name: _yes_no(values[name]) for name in YES_NO},
        },
        "labels": LABELS,
        "dates_open": any(values[name] for name in DATES) or any(n in query.errors for n in DATES),
        "filters_id": FILTERS_ID,
        "user_schools": user.schools,
        "role": user.role.value,
    }
    if query.errors or query.case_filter is None:
        context["errors"] = query.errors
        return render(request, "cases/list.html", context, status_code=400)
    case_filter = query.case_filter
    found = case_page(
        session=db,
        viewer=actor_of(user),
        case_filter=case_filter,
        page=query.page,
        page_size=query.page_size,
    )
    filter_query = case_filter.to_query()
    page_query = dict(filter_query)
    if query.page_size != PAGE_SIZE:
        page_query["page_size"] = str(query.page_size)
    first = (found.page - 1) * found.page_size + 1
    context.update(
        {
            "found": found,
            "first": first,
            "last": first + len(found.items) - 1,
            "summary": filter_summary(case_filter),
            "pagination": (
                _pagination(CASE_LIST, page_query, found.page, found.pages)
                if found.pages > 1 or found.page > 1
                else None
            ),
            "case_href": case_href,
            "human_date": human_date,
            "local_date": local_date,
            "csv_href": CASES_CSV + ("?" + urlencode(filter_query) if filter_query else ""),
            "csv_names_href": (
                CASES_CSV + "?" + urlencode({**filter_query, "names": "yes"})
                if user.role in NAMES_IN_EXPORT
                else None
            ),
        }
    )
    return render(request, "cases/list.html", context)


@router.get(CASES_CSV)
def case_list_csv(request: Request, user: Viewer, db: Db) -> Response:
    query = read_list_query(
        request.query_params.multi_items(), page_parameters=(*PAGE_PARAMETERS, "names")
    )
    names = request.query_params.get("names", "").strip()
    if names not in ("", "yes", "no"):
        query.errors.add("names", "Names must be yes or no", id=FILTERS_ID)
    if query.errors or query.case_filter is None:
        return _list_page(request, user, db, query)
    include_names = names == "yes"
    if include_names and user.role not in NAMES_IN_EXPORT:
        raise Forbidden(
            "The children's names are exported only for school users, CME officers and team "
            f"leaders, who act on the cases by name. You are signed in as {_a(user.role)}: "
            "download the list without names, and open a case to see the child's name.",
            title="You cannot download the children's names",
        )
    text = cases_csv(
        session=db,
        viewer=actor_of(user),
        case_filter=query.case_filter,
        include_names=include_names,
    )
    today = local_date(web_context(request).clock())
    suffix = "-with-names" if include_names else ""
    return csv_response(text, f"cases-{today.isoformat()}{suffix}.csv")


def _a(role: Role) -> str:
    words = role_words(role)
    return f"{'an' if words[:1].lower() in 'aeiou' else 'a'} {words}"
