"""Signing in with the council's account: :func:`web.oidc.oidc_router` (the OpenID Connect flow,
which hands over a verified :class:`~web.oidc.OidcIdentity`) wired into the app with the account
policy of docs/oidc.md. :func:`create_app` adds :func:`oidc_sign_in_router` when
:attr:`Settings.oidc_enabled`; the sign-in page then shows the button (a link to
``/sign-in/oidc``, which carries the page asked for as ``next``).

An identity signs in only as an account an administrator created (`cme users add`, the admin
pages); signing in never creates an account nor changes a role:

1. the account bound to the identity's issuer and subject, if one is;
2. else the account whose email address is the identity's **verified** address, if that account
   is bound to no identity yet: it is bound now (so a later change of the address at the provider
   changes nothing);
3. else refused: "not set up for this service" (an unknown address, or an account bound to
   another identity), or "not verified" (the provider does not vouch for the address, or gave
   none). A disabled account is refused too, with the words of the password sign-in.

Then a new session (:func:`web.sessions.sign_in`, ``method="oidc"``: a new token, no session
fixation), the audit (``auth_event``: method ``oidc``, the outcome and why, the client address;
never a token or the subject) and a redirect to the page asked for. A client address with too many
failed sign-ins in the window (``CME_WEB_SIGN_IN_ADDRESS_ATTEMPTS``, counted with the password
sign-ins) is refused before anything is looked up; there is no per-account count, as no password is
guessed here. The log gets the kind of refusal only (``oidc sign-in refused: unknown-identity``).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from anyio import to_thread
from fastapi import APIRouter, Depends, Request
from sqlmodel import Session
from starlette.responses import RedirectResponse, Response

from activities.accounts import (
    AccountPublic,
    AuthEvent,
    AuthOutcome,
    bind_oidc_identity,
    find_account,
    find_account_by_oidc_identity,
    record_auth_event,
    record_sign_in,
    sign_in_failures,
)
from settings import Settings
from web.auth import DISABLED, _safe_next, client_address
from web.context import WebContext, web_context
from web.oidc import OidcError, OidcIdentity, oidc_router
from web.pages import render
from web.sessions import sign_in

__all__ = ["NOT_SET_UP", "NOT_VERIFIED", "oidc_sign_in_router"]

log = logging.getLogger("cme.web")

METHOD = "oidc"
START = "/sign-in/oidc"
# Where the page asked for waits in the session while the person is at the provider.
_NEXT_KEY = "_oidc_next"

NOT_SET_UP = (
    "Your council account is not set up for this service: ask your CME service administrator."
)
NOT_VERIFIED = (
    "Your council's sign-in service did not confirm your email address, so the service cannot "
    "tell which account is yours: ask your CME service administrator."
)


@dataclass(frozen=True)
class _Refusal:
    kind: str  # for the log
    detail: str  # for the audit
    reason: str  # for the person
    status: int = 403


def _remember_next(request: Request, next: str | None = None) -> None:
    """Keeps the page asked for (``?next=``) while the person signs in at the provider."""
    if request.url.path != START:
        return
    if next is not None:
        request.session[_NEXT_KEY] = _safe_next(next)
    else:  # a sign-in started again without one: not the page of an earlier attempt
        request.session.pop(_NEXT_KEY, None)


def oidc_sign_in_router(settings: Settings) -> APIRouter:
    """The sign-in routes of :mod:`web.oidc`, with the account policy above."""
    router = APIRouter(dependencies=[Depends(_remember_next)])
    router.include_router(oidc_router(settings, _on_identity, on_error=_on_error))
    return router


async def _on_error(request: Request, error: OidcError) -> Response:
    return _refused_page(request, error.reason, error.status)


def _refused_page(request: Request, reason: str, status: int) -> Response:
    return render(
        request,
        "sign_in_refused.html",
        {"title": "You could not be signed in", "reason": reason},
        status_code=status,
    )


async def _on_identity(request: Request, identity: OidcIdentity) -> Response:
    web = web_context(request)
    address = client_address(request)
    target = _safe_next(request.session.pop(_NEXT_KEY, None))
    # The register is synchronous: its work runs in a worker thread.
    account, refusal = await to_thread.run_sync(_account_for, web, identity, address)
    if refusal is not None:
        log.info("oidc sign-in refused: %s", refusal.kind)
        return _refused_page(request, refusal.reason, refusal.status)
    assert account is not None
    await to_thread.run_sync(lambda: sign_in(request, account, method=METHOD))
    return RedirectResponse(target, 303)


def _account_for(
    web: WebContext, identity: OidcIdentity, address: str | None
) -> tuple[AccountPublic | None, _Refusal | None]:
    """The account this identity signs in as (bound to it on a first sign-in), or the refusal;
    either way in the audit."""
    now = web.clock()
    email = identity.email or ""
    with Session(web.engine) as db:

        def audit(outcome: AuthOutcome, account: AccountPublic | None, detail: str) -> None:
            record_auth_event(
                session=db,
                event=AuthEvent.SIGN_IN,
                outcome=outcome,
                method=METHOD,
                email=account.email if account is not None else email,
                account_id=account.id if account is not None else None,
                client_address=address,
                detail=detail,
                at=now,
            )

        def refuse(
            refusal: _Refusal, account: AccountPublic | None = None
        ) -> tuple[None, _Refusal]:
            audit(
                AuthOutcome.THROTTLED if refusal.status == 429 else AuthOutcome.FAILED,
                account,
                refusal.detail,
            )
            return None, refusal

        until = _throttled_until(web, db, address, now)
        if until is not None:
            minutes = max(1, math.ceil((until - now).total_seconds() / 60))
            return refuse(
                _Refusal(
                    "throttled",
                    "too many failed sign-ins from this address",
                    "There have been too many failed attempts to sign in from your network. Wait "
                    f"{minutes} minute{'s' if minutes != 1 else ''}, then try again.",
                    status=429,
                )
            )
        account = find_account_by_oidc_identity(
            session=db, issuer=identity.issuer, subject=identity.subject
        )
        first = account is None
        if account is None:
            if identity.email is None or not identity.email_verified:
                words = "no email address" if identity.email is None else "email not verified"
                return refuse(_Refusal("email-not-verified", words, NOT_VERIFIED))
            account = find_account(session=db, email=identity.email)
            if account is None:
                return refuse(_Refusal("unknown-identity", "no such account", NOT_SET_UP))
            if account.oidc_issuer is not None:
                return refuse(
                    _Refusal(
                        "unknown-identity",
                        "the account is bound to another OpenID Connect identity",
                        NOT_SET_UP,
                    ),
                    account,
                )
        if account.disabled:
            return refuse(_Refusal("account-disabled", "account disabled", DISABLED), account)
        if first:
            bound = bind_oidc_identity(
                session=db,
                account_id=account.id,
                issuer=identity.issuer,
                subject=identity.subject,
            )
            if bound is None:  # bound meanwhile (another first sign-in)
                return refuse(
                    _Refusal(
                        "unknown-identity",
                        "the account is bound to another OpenID Connect identity",
                        NOT_SET_UP,
                    ),
                    account,
                )
            account = bound
        record_sign_in(session=db, account_id=account.id, at=now)
        audit(
            AuthOutcome.SUCCESS,
            account,
            "first sign-in: bound to this OpenID Connect identity" if first else "",
        )
    return account, None


def _throttled_until(
    web: WebContext, db: Session, address: str | None, now: datetime
) -> datetime | None:
    """When sign-in opens again for this client address (``None``: open)."""
    settings = web.settings
    window = timedelta(minutes=settings.web_sign_in_window_minutes)
    _, by_address = sign_in_failures(
        session=db, email=None, client_address=address, since=now - window
    )
    if len(by_address) < settings.web_sign_in_address_attempts:
        return None
    return by_address[settings.web_sign_in_address_attempts - 1] + window
