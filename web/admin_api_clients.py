"""The administrators' pages for the JSON API's clients (role admin only), beside the users: the
list of clients, adding one (name, role, schools: its token is shown once, on the page that made
it, and never kept), revoking one. The same as `cme api-clients` (:mod:`activities.api_clients`),
with the administrator's email as who added or revoked it."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError
from sqlmodel import Session
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.responses import RedirectResponse, Response

from activities.api_clients import (
    API_CLIENT_ROLES,
    ApiClientDetails,
    ApiClientExists,
    ApiClientRow,
    add_api_client,
    list_api_clients,
    revoke_api_client,
)
from domain.case.model import Role
from web.auth import form_data, require_role, role_words
from web.context import register_session, web_context
from web.forms import FormErrors
from web.pages import flash, render
from web.sessions import SignedInUser

__all__ = ["PATH", "router"]

PATH = "/admin/api-clients"
router = APIRouter(prefix=PATH)
Admin = Annotated[SignedInUser, Depends(require_role(Role.ADMIN))]
Db = Annotated[Session, Depends(register_session)]
Form = Annotated[FormData, Depends(form_data)]

FIELDS = ("name", "role", "schools")


def _roles() -> list[dict[str, str]]:
    return [{"value": r.value, "text": role_words(r).capitalize()} for r in API_CLIENT_ROLES]


@router.get("")
def clients(request: Request, admin: Admin, db: Db) -> Response:
    return render(
        request,
        "admin/api_clients.html",
        {
            "title": "API clients",
            "clients": list_api_clients(session=db),
            "role_words": lambda value: role_words(Role(value)),
        },
    )


def _add_page(
    request: Request, values: dict[str, str], errors: FormErrors | None = None
) -> Response:
    return render(
        request,
        "admin/add_api_client.html",
        {"title": "Add an API client", "values": values, "roles": _roles(), "errors": errors},
        status_code=400 if errors else 200,
    )


@router.get("/new")
def add_form(request: Request, admin: Admin) -> Response:
    return _add_page(request, {})


@router.post("/new")
def add_submit(request: Request, admin: Admin, db: Db, form: Form) -> Response:
    values = {name: str(form.get(name) or "") for name in FIELDS}
    errors = FormErrors()
    if not values["name"].strip():
        errors.add("name", "Enter the client's name")
    if values["role"] not in {r.value for r in API_CLIENT_ROLES}:
        errors.add("role", "Select the client's role", id="role")
    details = None
    try:
        details = ApiClientDetails(
            name=values["name"],
            role=Role(values["role"]) if "role" not in errors else Role.MANAGER,
            schools=tuple(s.strip() for s in re.split(r"[,;\n]+", values["schools"]) if s.strip()),
        )
    except ValidationError as exc:
        for name, message in FormErrors.from_validation(exc, order=FIELDS).messages.items():
            if name != "role" or "role" not in errors:
                errors.add(name, _field_words(name, message))
    if errors or details is None:
        ordered = FormErrors()
        for name in FIELDS:
            if name in errors:
                ordered.add(name, errors.messages[name], id=errors.ids.get(name))
        return _add_page(request, values, ordered)
    web = web_context(request)
    try:
        new = add_api_client(session=db, details=details, by=admin.email, at=web.clock())
    except ApiClientExists:
        errors.add("name", f"There is already an API client named {details.name}")
        return _add_page(request, values, errors)
    return render(
        request,
        "admin/api_client_token.html",
        {"title": "API client added", "client": new.client, "token": new.token},
    )


def _field_words(name: str, message: str) -> str:
    """The domain's message, said of the field on this form."""
    words = {"name": "Name", "schools": "School"}
    if name in words and not message.lower().startswith(("a school", "only a school")):
        return f"{words[name]}: {message[:1].lower()}{message[1:]}"
    return message


@router.post("/{client_id}/revoke")
def revoke(request: Request, client_id: int, admin: Admin, db: Db) -> Response:
    if db.get(ApiClientRow, client_id) is None:
        raise HTTPException(404)
    web = web_context(request)
    client, changed = revoke_api_client(
        session=db, client_id=client_id, by=admin.email, at=web.clock()
    )
    if changed:
        flash(request, f"{client.name}'s token is revoked: it is refused from now on")
    return RedirectResponse(PATH, 303)
