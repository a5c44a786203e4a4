"""A team leader's requests on a case itself, not on one of its tasks: withdraw it (a duplicate
referral among the reasons, with the case it duplicates) and assign it to another CME officer
(``GET``/``POST /cases/{case_ref}/withdraw`` and ``/reassign``), linked from the case page
(:mod:`web.case_page`) for a team leader while the case is open.

The forms are the task forms' (:mod:`web.tasks`): the same reading against the
:mod:`domain.case.commands` model (each problem in the error summary and at its field), the same
key drawn into the form for an idempotent request id, the same CSRF field, and the same truthful
answers (:func:`web.tasks.send_form`); a done request's banner is shown on the case page.

Who may: the case says (a team leader, :mod:`domain.case.machine`). What the pages decide is what
they show: a school's user gets the 404 of a case it cannot see (nothing says a case exists);
an officer, MASH and a manager the 403 page. An officer's form sent all the same reaches the case,
which refuses it in its own words, shown on the page; nothing is recorded.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.exceptions import HTTPException
from starlette.responses import Response

from activities.register import CasePublic
from domain.case.model import Actor, CommandResult, Role, Stage
from domain.clock import local_date
from domain.types import CaseRef
from reports._words import STAGE
from reports.case import readable_case
from web.auth import actor_of, require_role
from web.case_list import VIEWERS, case_href
from web.case_page import LEADER_LINKS
from web.context import web_context
from web.forms import FormErrors
from web.pages import render
from web.sessions import SignedInUser
from web.tasks import (
    _FORM_KEY,
    WORKERS,
    Action,
    Context,
    Posted,
    Read,
    _given,
    _note,
    _stage_now,
    _text,
    _typed,
    send_form,
)

__all__ = ["LEADER_ACTIONS", "REASSIGN", "WITHDRAW", "router"]

router = APIRouter()
# Anyone who reads cases asks for the page (a school's user is answered 404, the others but a
# team leader 403); a form is sent by those who send task forms (the case judges it).
Viewer = Annotated[SignedInUser, Depends(require_role(*VIEWERS))]
Worker = Annotated[SignedInUser, Depends(require_role(*WORKERS))]
_CASE_REF: TypeAdapter[str] = TypeAdapter(CaseRef)
_FOR_A_TEAM_LEADER = require_role(Role.TEAM_LEADER)


def _read_withdraw(context: Context, values: Mapping[str, str]) -> Read:
    read = Read()
    _given(read.fields, "reason", _note(values, "reason"))
    _given(read.fields, "duplicate_of", _text(values, "duplicate_of"))
    return read


def _read_reassign(context: Context, values: Mapping[str, str]) -> Read:
    read = Read()
    _given(read.fields, "officer", _text(values, "officer"))
    return read


def _done_withdraw(result: CommandResult, command: Any) -> str:
    duplicate = f" as a duplicate of {command.duplicate_of}" if command.duplicate_of else ""
    return f"Case {result.case} withdrawn{duplicate}. " + _stage_now(result)


def _done_reassign(result: CommandResult, command: Any) -> str:
    return f"Case {result.case} assigned to {result.assigned_officer or command.officer}."


# The case page links to each form with the form's own heading.
_LABELS = dict(LEADER_LINKS)
WITHDRAW = Action(
    "withdraw",
    _LABELS["withdraw"],
    "Withdraw the case",
    ("reason", "duplicate_of"),
    _read_withdraw,
    _done_withdraw,
)
REASSIGN = Action(
    "reassign",
    _LABELS["reassign"],
    "Reassign the case",
    ("officer",),
    _read_reassign,
    _done_reassign,
)
LEADER_ACTIONS = (WITHDRAW, REASSIGN)


def _not_found() -> HTTPException:
    return HTTPException(404)


def _find(engine: Engine, actor: Actor, case_ref: str) -> CasePublic:
    """The case's latest episode in the register, if ``actor`` may see it (else the 404 of no
    case)."""
    try:
        ref = _CASE_REF.validate_python(case_ref)
    except ValidationError:
        raise _not_found() from None
    with Session(engine) as db:
        readable = readable_case(session=db, viewer=actor, case_ref=ref)
    if readable is None:
        raise _not_found()
    return readable.row


def _context(request: Request, user: SignedInUser, case: CasePublic) -> Context:
    web = web_context(request)
    return Context(actor=actor_of(user), today=local_date(web.clock()), case=case)


def _page(
    request: Request,
    case: CasePublic,
    action: Action,
    values: Mapping[str, str],
    form_key: str,
    *,
    errors: FormErrors | None = None,
    not_recorded: str | None = None,
    status_code: int = 200,
) -> Response:
    names = [n for n in (case.first_name, case.last_name) if n]
    return render(
        request,
        "cases/leader.html",
        {
            "title": action.label,
            "case": case,
            "child_name": " ".join(names) if names else "(erased)",
            "stage_label": STAGE.get(case.stage, case.stage),
            "case_href": case_href(case.case_ref),
            "action": action,
            "post_to": f"{case_href(case.case_ref)}/{action.path}",
            "values": values,
            "form_key": form_key,
            "errors": errors or None,
            "not_recorded": not_recorded,
        },
        status_code=status_code,
    )


def _form_page(action: Action) -> Any:
    async def page(request: Request, case_ref: str, user: Viewer) -> Response:
        if user.role is Role.SCHOOL:
            raise _not_found()  # as for a case it cannot see: nothing says this one exists
        _FOR_A_TEAM_LEADER(user)  # the 403 page for an officer, MASH and a manager
        web = web_context(request)
        case = await run_in_threadpool(_find, web.engine, actor_of(user), case_ref)
        if case.stage == Stage.CLOSED.value:
            raise _not_found()  # closed: nothing more to do on it
        return _page(request, case, action, {}, secrets.token_urlsafe(24))

    return page


def _form_submit(action: Action) -> Any:
    async def submit(request: Request, case_ref: str, user: Worker, posted: Posted) -> Response:
        if user.role is Role.SCHOOL:
            raise _not_found()
        web = web_context(request)
        # A case closed since the form was drawn is still found: the same form sent again gets
        # the case's first answer, any other the case's own.
        case = await run_in_threadpool(_find, web.engine, actor_of(user), case_ref)
        values = _typed(posted)
        form_key = values.get("form_key", "")
        if not _FORM_KEY.fullmatch(form_key):
            raise HTTPException(400)
        context = _context(request, user, case)
        return await send_form(
            request,
            user,
            action,
            context,
            values,
            form_key,
            again=lambda status_code, **more: _page(
                request, case, action, values, form_key, status_code=status_code, **more
            ),
            done_to=case_href(case.case_ref),
            not_found=_not_found,
        )

    return submit


for _action in LEADER_ACTIONS:
    _path = f"/cases/{{case_ref}}/{_action.path}"
    router.add_api_route(_path, _form_page(_action), methods=["GET"])
    router.add_api_route(_path, _form_submit(_action), methods=["POST"])
