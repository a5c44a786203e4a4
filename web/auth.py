"""Who is signed in, and what they may open: the dependencies every page uses, and the pages of
signing in and out and changing one's password.

Dependencies (FastAPI):

* :func:`current_user` (or the annotation :data:`CurrentUser`): the signed-in
  :class:`~web.sessions.SignedInUser`; a person not signed in is sent to the sign-in page (and
  back afterwards), one who must change their password to the change-password page;
* :func:`require_role` ``(*roles)``: the same, and the 403 page for anyone of another role;
* :func:`actor_of` ``(user)``: the :class:`domain.case.model.Actor` (name, role, schools) the
  case's updates carry: the only way the web app makes an actor, so that identity comes from
  the signed-in account, never from what a form says.

Sign-in is throttled in the register, so that every web process counts the same failures: an
account after ``CME_WEB_SIGN_IN_ATTEMPTS`` failed attempts within
``CME_WEB_SIGN_IN_WINDOW_MINUTES`` (since its last successful sign-in), a client address after
``CME_WEB_SIGN_IN_ADDRESS_ATTEMPTS``; a throttled attempt is not checked at all. Every attempt,
sign-out and password change is in the ``auth_event`` audit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlmodel import Session
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from activities.accounts import (
    AccountPublic,
    AuthEvent,
    AuthOutcome,
    find_account,
    get_account,
    password_hash_of,
    record_auth_event,
    record_sign_in,
    set_password,
    sign_in_failures,
)
from domain.case.model import Actor, Role
from web.context import WebContext, register_session, web_context
from web.forms import FormErrors
from web.pages import Forbidden, NotSignedIn, Redirect, flash, render
from web.passwords import MAX_PASSWORD_LENGTH, new_password_problem
from web.sessions import SignedInUser, end_other_sessions, sign_in, sign_out

__all__ = [
    "CHANGE_PASSWORD",
    "SIGN_IN",
    "SIGN_OUT",
    "CurrentUser",
    "actor_of",
    "client_address",
    "current_user",
    "form_data",
    "require_role",
    "role_words",
    "router",
]

SIGN_IN = "/sign-in"
SIGN_OUT = "/sign-out"
CHANGE_PASSWORD = "/change-password"
# What a person who must change their password may still open.
_BEFORE_NEW_PASSWORD = frozenset({CHANGE_PASSWORD, SIGN_OUT})

ROLE_WORDS = {
    Role.SCHOOL: "school user",
    Role.PROFESSIONAL: "professional",
    Role.CME_OFFICER: "CME officer",
    Role.TEAM_LEADER: "team leader",
    Role.MASH: "MASH user",
    Role.MANAGER: "manager",
    Role.ADMIN: "administrator",
    Role.SERVICE: "the service",
}

WRONG_CREDENTIALS = "Enter a correct email address and password"
DISABLED = (
    "Your account has been disabled. Ask your service administrator if you need to use the "
    "service again"
)


def role_words(role: Role) -> str:
    return ROLE_WORDS[role]


def _a(words: str) -> str:
    return f"{'an' if words[:1].lower() in 'aeiou' else 'a'} {words}"


# -- dependencies ----------------------------------------------------------------------------------


async def form_data(request: Request) -> FormData:
    """The request's form (read once: the CSRF check has usually read it already)."""
    return await request.form()


def client_address(request: Request) -> str | None:
    """The client's address (behind a trusted proxy, the one it names: `cme web`)."""
    return request.client.host if request.client else None


def _here(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def current_user(request: Request) -> SignedInUser:
    """The signed-in person; else to the sign-in page (and back here after)."""
    user: SignedInUser | None = getattr(request.state, "user", None)
    if user is None:
        state = getattr(request.state, "session_state", None)
        raise NotSignedIn(_here(request), timed_out=bool(getattr(state, "timed_out", False)))
    if user.must_change_password and request.url.path not in _BEFORE_NEW_PASSWORD:
        raise Redirect(CHANGE_PASSWORD)
    return user


CurrentUser = Annotated[SignedInUser, Depends(current_user)]


def require_role(*roles: Role) -> Callable[[SignedInUser], SignedInUser]:
    """A dependency: the signed-in person, if their role is one of ``roles`` (else the 403
    page)."""
    allowed = frozenset(roles)
    words = " or ".join(role_words(r) for r in roles)

    def dependency(user: CurrentUser) -> SignedInUser:
        if user.role not in allowed:
            raise Forbidden(
                f"This page is for {_a(words)}. You are signed in as {_a(role_words(user.role))}."
            )
        return user

    return dependency


def actor_of(user: SignedInUser) -> Actor:
    """The actor the case's updates carry for ``user``: their name, role and schools."""
    return Actor(name=user.name, role=user.role, schools=user.schools)


# -- signing in ------------------------------------------------------------------------------------

router = APIRouter()


def _safe_next(target: str | None) -> str:
    """Where to go after sign-in: a path of this app only (never another site)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if any(ch in target for ch in "\r\n\\") or target.startswith(SIGN_IN):
        return "/"
    return target


def _throttled_until(
    web: WebContext, db: Session, email: str, address: str | None, now: datetime
) -> datetime | None:
    """When sign-in opens again for this email address or client address (``None``: open)."""
    settings = web.settings
    window = timedelta(minutes=settings.web_sign_in_window_minutes)
    by_account, by_address = sign_in_failures(
        session=db, email=email, client_address=address, since=now - window
    )
    until: list[datetime] = []
    if len(by_account) >= settings.web_sign_in_attempts:
        until.append(by_account[settings.web_sign_in_attempts - 1] + window)
    if len(by_address) >= settings.web_sign_in_address_attempts:
        until.append(by_address[settings.web_sign_in_address_attempts - 1] + window)
    return max(until) if until else None


def _sign_in_page(
    request: Request,
    *,
    email: str = "",
    next: str = "/",
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Response:
    settings = web_context(request).settings
    return render(
        request,
        "sign_in.html",
        {
            "title": "Sign in",
            "email": email,
            "next": next,
            "errors": errors,
            "timed_out": request.query_params.get("timeout") == "1",
            "signed_out": request.query_params.get("signed-out") == "1",
            # the OpenID Connect sign-in button (web.oidc_sign_in), when it is configured
            "oidc_label": settings.oidc_label if settings.oidc_enabled else None,
        },
        status_code=status_code,
    )


@router.get(SIGN_IN)
def sign_in_form(request: Request, next: str = "/") -> Response:
    if getattr(request.state, "user", None) is not None:
        return RedirectResponse(_safe_next(next), 303)
    return _sign_in_page(request, next=_safe_next(next))


@router.post(SIGN_IN)
def sign_in_submit(
    request: Request,
    form: Annotated[FormData, Depends(form_data)],
    db: Annotated[Session, Depends(register_session)],
) -> Response:
    web = web_context(request)
    email = str(form.get("email") or "").strip()
    password = str(form.get("password") or "")
    target = _safe_next(str(form.get("next") or "/"))
    errors = FormErrors()
    if not email:
        errors.add("email", "Enter your email address")
    elif len(email) > 254:
        errors.add("email", "Enter a correct email address and password")
    if not password:
        errors.add("password", "Enter your password")
    elif len(password) > MAX_PASSWORD_LENGTH:
        errors.add("password", WRONG_CREDENTIALS)
    if errors:
        return _sign_in_page(request, email=email, next=target, errors=errors, status_code=400)

    now = web.clock()
    address = client_address(request)
    until = _throttled_until(web, db, email, address, now)
    if until is not None:
        record_auth_event(
            session=db,
            event=AuthEvent.SIGN_IN,
            outcome=AuthOutcome.THROTTLED,
            method="local",
            email=email,
            client_address=address,
            at=now,
        )
        minutes = max(1, math.ceil((until - now).total_seconds() / 60))
        errors.add(
            "email",
            "You have tried to sign in too many times. Wait "
            f"{minutes} minute{'s' if minutes != 1 else ''}, then try again",
        )
        return _sign_in_page(request, email=email, next=target, errors=errors, status_code=429)

    account = find_account(session=db, email=email)
    password_hash = password_hash_of(session=db, account_id=account.id) if account else None
    correct = web.passwords.verify(password_hash, password)  # as long without an account
    failure = None
    if account is None:
        failure = "no such account"
    elif password_hash is None:
        failure = "no password (signs in with OpenID Connect)"
    elif not correct:
        failure = "wrong password"
    elif account.disabled:
        failure = "account disabled"
    if failure is not None:
        record_auth_event(
            session=db,
            event=AuthEvent.SIGN_IN,
            outcome=AuthOutcome.FAILED,
            method="local",
            email=email,
            account_id=account.id if account else None,
            client_address=address,
            detail=failure,
            at=now,
        )
        # Only someone who knows the password learns that the account is disabled.
        errors.add("email", DISABLED if failure == "account disabled" else WRONG_CREDENTIALS)
        return _sign_in_page(request, email=email, next=target, errors=errors, status_code=400)

    assert account is not None and password_hash is not None
    if web.passwords.needs_rehash(password_hash):
        set_password(
            session=db,
            account_id=account.id,
            password_hash=web.passwords.hash(password),
            must_change_password=account.must_change_password,
            at=account.password_changed_at or now,
        )
    user = sign_in(request, account, method="local")
    record_sign_in(session=db, account_id=account.id, at=now)
    record_auth_event(
        session=db,
        event=AuthEvent.SIGN_IN,
        outcome=AuthOutcome.SUCCESS,
        method="local",
        email=account.email,
        account_id=account.id,
        client_address=address,
        at=now,
    )
    return RedirectResponse(CHANGE_PASSWORD if user.must_change_password else target, 303)


@router.post(SIGN_OUT)
def sign_out_submit(
    request: Request, db: Annotated[Session, Depends(register_session)]
) -> Response:
    web = web_context(request)
    user: SignedInUser | None = getattr(request.state, "user", None)
    method = sign_out(request)
    if user is not None and method is not None:
        record_auth_event(
            session=db,
            event=AuthEvent.SIGN_OUT,
            outcome=AuthOutcome.SUCCESS,
            method=method,
            email=user.email,
            account_id=user.id,
            client_address=client_address(request),
            at=web.clock(),
        )
    return RedirectResponse(f"{SIGN_IN}?signed-out=1", 303)


# -- changing one's password -----------------------------------------------------------------------


def _password_page(
    request: Request,
    user: SignedInUser,
    *,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "change_password.html",
        {
            "title": "Create a new password"
            if user.must_change_password
            else "Change your password",
            "min_length": web_context(request).settings.web_password_min_length,
            "errors": errors,
        },
        status_code=status_code,
    )


@router.get(CHANGE_PASSWORD)
def change_password_form(request: Request, user: CurrentUser) -> Response:
    return _password_page(request, user)


@router.post(CHANGE_PASSWORD)
def change_password_submit(
    request: Request,
    user: CurrentUser,
    form: Annotated[FormData, Depends(form_data)],
    db: Annotated[Session, Depends(register_session)],
) -> Response:
    web = web_context(request)
    if not user.has_password:
        raise Forbidden(
            "Your account signs in with your organisation's account: it has no password here.",
            title="Your account has no password",
        )
    current = str(form.get("current_password") or "")
    new = str(form.get("new_password") or "")
    confirm = str(form.get("confirm_password") or "")
    errors = FormErrors()
    current_hash = password_hash_of(session=db, account_id=user.id)
    if not current:
        errors.add("current_password", "Enter your current password")
    elif len(current) > MAX_PASSWORD_LENGTH or not web.passwords.verify(current_hash, current):
        errors.add("current_password", "Your current password is not correct")
    if not new:
        errors.add("new_password", "Enter a new password")
    else:
        problem = new_password_problem(
            new,
            min_length=web.settings.web_password_min_length,
            email=user.email,
            current_hash=current_hash,
            passwords=web.passwords,
        )
        if problem is not None:
            errors.add("new_password", problem)
        elif confirm != new:
            errors.add("confirm_password", "Enter the same new password twice")
    if errors:
        return _password_page(request, user, errors=errors, status_code=400)

    now = web.clock()
    set_password(
        session=db,
        account_id=user.id,
        password_hash=web.passwords.hash(new),
        must_change_password=False,
        at=now,
    )
    end_other_sessions(request, user.id)
    record_auth_event(
        session=db,
        event=AuthEvent.PASSWORD_CHANGED,
        outcome=AuthOutcome.SUCCESS,
        method=user.method,
        email=user.email,
        account_id=user.id,
        by_email=user.email,
        client_address=client_address(request),
        at=now,
    )
    account: AccountPublic | None = get_account(session=db, account_id=user.id)
    if account is not None:
        request.state.user = SignedInUser.of(account, user.method)
    flash(request, "Your password has been changed")
    return RedirectResponse("/", 303)
