"""The administrators' pages (role admin only; an administrator manages users and no case): the
list of users, adding a user (role, schools, one-time password or OpenID Connect only),
disabling a user, resetting a password. A one-time password is shown once, on the page that made
it, and never kept in clear."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError
from sqlmodel import Session
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.responses import RedirectResponse, Response

from activities.accounts import (
    ACCOUNT_ROLES,
    AccountDetails,
    AccountExists,
    AccountPublic,
    get_account,
    list_accounts,
    list_auth_events,
)
from domain.case.model import Role
from web.auth import form_data, require_role, role_words
from web.context import register_session, web_context
from web.forms import FormErrors
from web.pages import Forbidden, flash, render
from web.sessions import SignedInUser
from web.users import add_user, disable_user, reset_password

__all__ = ["router"]

router = APIRouter(prefix="/admin/users")
Admin = Annotated[SignedInUser, Depends(require_role(Role.ADMIN))]
Db = Annotated[Session, Depends(register_session)]
Form = Annotated[FormData, Depends(form_data)]

FIELDS = ("email", "display_name", "role", "schools", "sign_in")


def _roles() -> list[dict[str, str]]:
    return [{"value": r.value, "text": role_words(r).capitalize()} for r in ACCOUNT_ROLES]


def _account(db: Session, account_id: int) -> AccountPublic:
    account = get_account(session=db, account_id=account_id)
    if account is None:
        raise HTTPException(404)
    return account


@router.get("")
def users(request: Request, admin: Admin, db: Db) -> Response:
    return render(
        request,
        "admin/users.html",
        {"title": "Users", "accounts": list_accounts(session=db), "role_words": role_words},
    )


def _add_page(
    request: Request, values: dict[str, str], errors: FormErrors | None = None
) -> Response:
    return render(
        request,
        "admin/add_user.html",
        {"title": "Add a user", "values": values, "roles": _roles(), "errors": errors},
        status_code=400 if errors else 200,
    )


@router.get("/new")
def add_form(request: Request, admin: Admin) -> Response:
    return _add_page(request, {"sign_in": "password"})


@router.post("/new")
def add_submit(request: Request, admin: Admin, db: Db, form: Form) -> Response:
    values = {name: str(form.get(name) or "") for name in FIELDS}
    errors = FormErrors()
    if not values["email"].strip():
        errors.add("email", "Enter their email address")
    if not values["display_name"].strip():
        errors.add("display_name", "Enter their name")
    if values["role"] not in {r.value for r in ACCOUNT_ROLES}:
        errors.add("role", "Select the person's role", id="role")
    if values["sign_in"] not in ("password", "oidc"):
        errors.add("sign_in", "Select how the person signs in", id="sign_in")
    details = None
    try:
        details = AccountDetails(
            email=values["email"],
            display_name=values["display_name"],
            role=values["role"] if "role" not in errors else Role.ADMIN,
            # Commas (or semicolons, or lines) between schools: a LAESTAB may be typed with a
            # space in it (851 2000).
            schools=tuple(s.strip() for s in re.split(r"[,;\n]+", values["schools"]) if s.strip()),
        )
    except ValidationError as exc:
        found = FormErrors.from_validation(exc, order=FIELDS)
        for name, message in found.messages.items():
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
        new = add_user(
            session=db,
            details=details,
            oidc_only=values["sign_in"] == "oidc",
            passwords=web.passwords,
            by=admin.email,
            method="web",
            at=web.clock(),
        )
    except AccountExists:
        errors.add("email", f"There is already an account for {details.email}")
        return _add_page(request, values, errors)
    return render(
        request,
        "admin/password.html",
        {
            "title": "User added",
            "heading": f"{new.account.display_name} can now sign in",
            "account": new.account,
            "password": new.one_time_password,
        },
    )


def _field_words(name: str, message: str) -> str:
    """The domain's message, said of the field on this form."""
    words = {"email": "Email address", "display_name": "Name", "schools": "School"}
    if name in words and not message.lower().startswith(("a school", "only a school")):
        return f"{words[name]}: {message[:1].lower()}{message[1:]}"
    return message


@router.get("/{account_id}")
def user(request: Request, account_id: int, admin: Admin, db: Db) -> Response:
    account = _account(db, account_id)
    return render(
        request,
        "admin/user.html",
        {
            "title": account.display_name,
            "account": account,
            "role": role_words(Role(account.role)),
            "events": list_auth_events(session=db, email=account.email, limit=20),
            "is_self": account.id == admin.id,
        },
    )


@router.post("/{account_id}/disable")
def disable(request: Request, account_id: int, admin: Admin, db: Db) -> Response:
    account = _account(db, account_id)
    if account.id == admin.id:
        raise Forbidden(
            "You cannot disable your own account: ask another administrator.",
            title="You cannot disable your own account",
        )
    web = web_context(request)
    if disable_user(session=db, account=account, by=admin.email, method="web", at=web.clock()):
        flash(request, f"{account.display_name}'s account is disabled: they are signed out")
    return RedirectResponse(f"/admin/users/{account.id}", 303)


@router.post("/{account_id}/reset-password")
def reset(request: Request, account_id: int, admin: Admin, db: Db) -> Response:
    account = _account(db, account_id)
    if account.disabled:
        raise Forbidden(
            f"{account.display_name}'s account is disabled: it cannot sign in.",
            title="The account is disabled",
        )
    if account.id == admin.id:
        raise Forbidden(
            "Change your own password on the change-password page.",
            title="You cannot reset your own password here",
        )
    web = web_context(request)
    password = reset_password(
        session=db,
        account=account,
        passwords=web.passwords,
        by=admin.email,
        method="web",
        at=web.clock(),
    )
    return render(
        request,
        "admin/password.html",
        {
            "title": "Password reset",
            "heading": f"{account.display_name}'s password is reset",
            "account": account,
            "password": password,
        },
    )
