"""OpenID Connect sign-in for LA staff: the authorization code flow with PKCE (authlib's Starlette
client), against the provider named by ``CME_OIDC_ISSUER`` (Microsoft Entra ID for most LAs).

:func:`oidc_router` gives the app two routes:

* ``GET /sign-in/oidc`` reads the provider's discovery document (its issuer must be the configured
  one), keeps a fresh state, nonce and PKCE verifier in the browser's session and sends the browser
  to the provider;
* ``GET /sign-in/oidc/callback`` refuses a state this session did not start (or started more than
  an hour ago, or already used), an ``iss`` of another provider (RFC 9207) or an error from the
  provider; exchanges the code with the client secret and the PKCE verifier; verifies the ID
  token (signature against the provider's JWKS, ``iss``, ``aud``, ``exp``, ``iat``, ``nonce``,
  ``at_hash``, and ``tid`` for Entra ID when ``CME_OIDC_TENANT_ID`` is set), and hands the app an
  :class:`OidcIdentity`.

Who that identity may be is the app's decision, in its ``on_identity`` (docs/oidc.md: the account
policy). Every failure ends in the app's ``on_error`` page, or a plain one, with a reason in plain
words and a way to start again: never a traceback. Nothing about the user is logged; a refusal is
logged by its kind alone (``oidc sign-in refused: state``).
"""

from __future__ import annotations

import html
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx2
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.base_client import MismatchingStateError, OAuthError
from authlib.integrations.starlette_client import OAuth
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from joserfc.errors import JoseError
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from domain.types import EmailAddress, PersonName
from settings import Settings

__all__ = ["OidcError", "OidcIdentity", "OnError", "OnIdentity", "oidc_router"]

log = logging.getLogger(__name__)

# authlib's name for the provider: its session keys are "_state_oidc_<state>".
_CLIENT = "oidc"
_STATE_KEY = f"_state_{_CLIENT}_"
# An OAuth error code as RFC 6749 allows it, so that it can be shown and logged as it is.
_ERROR_CODE = re.compile(r"[a-z_]{1,64}")
_SUBJECT = re.compile(r"[\x21-\x7e]{1,255}")
_EMAIL = TypeAdapter(EmailAddress)
_NAME = TypeAdapter(PersonName)


class OidcIdentity(BaseModel):
    """Who the provider says signed in, from its verified ID token (and its userinfo endpoint when
    the token carries no email). ``email`` is ``None`` when the provider gave no usable address;
    ``email_verified`` is whether the provider vouches for it (see ``CME_OIDC_TRUST_EMAIL``)."""

    model_config = ConfigDict(frozen=True)

    issuer: str
    subject: str
    email: EmailAddress | None
    email_verified: bool
    name: PersonName | None


class OidcError(Exception):
    """A sign-in that cannot go on. ``reason`` is for the person signing in; ``kind`` (a short
    word, with the provider's error code when it gave one) is for the log."""

    def __init__(self, reason: str, *, kind: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind
        self.status = status


OnIdentity = Callable[[Request, OidcIdentity], Awaitable[Response]]
OnError = Callable[[Request, OidcError], Awaitable[Response]]

_START_AGAIN = "This sign-in has expired or was already used. Start again."
_NOT_VERIFIED = (
    "Your council's sign-in service answered, but the service could not verify its answer. "
    "Start again; if this happens again, tell your administrator."
)
_UNREACHABLE = "Your council's sign-in service cannot be reached just now. Try again later."
_PROVIDER_ERRORS = {
    "access_denied": "You cancelled the sign-in, or your council's sign-in service refused it.",
    "login_required": "Your council's sign-in service needs you to sign in again.",
    "interaction_required": "Your council's sign-in service needs you to sign in again.",
    "consent_required": "Your council's sign-in service has not allowed this service access.",
    "temporarily_unavailable": _UNREACHABLE,
}
_TOKEN_ERRORS = {
    "invalid_client": (
        "Your council's sign-in service did not accept this service's credentials. "
        "Tell your administrator (the OpenID Connect client secret may have expired)."
    ),
    "unauthorized_client": (
        "Your council's sign-in service does not allow this service to sign people in. "
        "Tell your administrator."
    ),
    "invalid_grant": _START_AGAIN,
}


def oidc_router(
    settings: Settings,
    on_identity: OnIdentity,
    *,
    on_error: OnError | None = None,
    http_transport: httpx2.AsyncBaseTransport | None = None,
) -> APIRouter:
    """The sign-in routes for the provider of ``settings`` (which must have OpenID Connect
    configured: :attr:`Settings.oidc_enabled`).

    ``on_identity`` gets the verified identity and returns the response (sign the user in and
    redirect, or refuse); ``on_error`` renders a refusal (default: a plain page).
    ``http_transport`` is how the app reaches the provider (tests put a tampering proxy there).
    """
    if not settings.oidc_enabled or settings.oidc_issuer is None:
        raise ValueError(
            "OpenID Connect is not configured: set CME_OIDC_ISSUER, CME_OIDC_CLIENT_ID and "
            "CME_OIDC_CLIENT_SECRET"
        )
    issuer = settings.oidc_issuer
    secret = settings.oidc_client_secret
    client_kwargs: dict[str, Any] = {
        "scope": settings.oidc_scopes,
        "code_challenge_method": "S256",
        "timeout": 15.0,
    }
    if http_transport is not None:
        client_kwargs["transport"] = http_transport
    oauth = OAuth()
    oauth.register(
        name=_CLIENT,
        client_id=settings.oidc_client_id,
        client_secret=secret.get_secret_value() if secret else None,
        server_metadata_url=issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs=client_kwargs,
    )
    client: Any = oauth.create_client(_CLIENT)
    render_error = on_error or _plain_error
    router = APIRouter()

    async def metadata() -> dict[str, Any]:
        """The provider's discovery document, once its issuer is known to be ours (a document
        naming another issuer is dropped, so that the next sign-in reads it again)."""
        try:
            document: dict[str, Any] = await client.load_server_metadata()
        except (httpx2.HTTPError, ValueError, TypeError) as exc:
            client.server_metadata.clear()
            raise OidcError(_UNREACHABLE, kind="discovery", status=502) from exc
        if document.get("issuer") != issuer:
            client.server_metadata.clear()
            raise OidcError(_NOT_VERIFIED, kind="discovery-issuer", status=502)
        return document

    async def refuse(request: Request, error: OidcError) -> Response:
        log.info("oidc sign-in refused: %s", error.kind)
        return await render_error(request, error)

    @router.get("/sign-in/oidc", name="oidc_sign_in")
    async def sign_in(request: Request) -> Response:
        try:
            await metadata()
            redirect_uri = settings.oidc_redirect_uri or str(request.url_for("oidc_callback"))
            response: Response = await client.authorize_redirect(request, redirect_uri)
        except OidcError as exc:
            return await refuse(request, exc)
        except (httpx2.HTTPError, AuthlibBaseError, ValueError, RuntimeError):
            return await refuse(request, OidcError(_UNREACHABLE, kind="start", status=502))
        response.headers["Cache-Control"] = "no-store"
        return response

    @router.get("/sign-in/oidc/callback", name="oidc_callback")
    async def callback(request: Request) -> Response:
        try:
            identity = await _identity(request, settings, client, await metadata())
        except OidcError as exc:
            return await refuse(request, exc)
        return await on_identity(request, identity)

    return router


def _take_state(request: Request) -> None:
    """Refuses a callback whose state this session did not start, or started over an hour ago;
    authlib then checks it again and forgets it (a second use is refused)."""
    state = request.query_params.get("state") or ""
    entry = request.session.get(_STATE_KEY + state) if state else None
    if not isinstance(entry, dict) or float(entry.get("exp", 0)) < time.time():
        _forget_states(request)
        raise OidcError(_START_AGAIN, kind="state")


def _forget_states(request: Request) -> None:
    for key in [k for k in request.session if k.startswith(_STATE_KEY)]:
        del request.session[key]


async def _identity(
    request: Request, settings: Settings, client: Any, metadata: dict[str, Any]
) -> OidcIdentity:
    params = request.query_params
    _take_state(request)
    if "error" in params:
        _forget_states(request)
        code = params["error"] if _ERROR_CODE.fullmatch(params["error"]) else "unknown"
        reason = _PROVIDER_ERRORS.get(
            code, f"Your council's sign-in service could not sign you in ({code})."
        )
        raise OidcError(reason, kind=f"provider:{code}")
    # RFC 9207: the authorization response names its issuer (a mix-up attack answers with
    # another provider's code).
    iss = params.get("iss")
    if (iss is not None and iss != metadata["issuer"]) or (
        iss is None and metadata.get("authorization_response_iss_parameter_supported") is True
    ):
        _forget_states(request)
        raise OidcError(_NOT_VERIFIED, kind="iss")
    try:
        token = await client.authorize_access_token(request)
    except MismatchingStateError as exc:
        raise OidcError(_START_AGAIN, kind="state") from exc
    except OAuthError as exc:  # the token endpoint's refusal
        code = exc.error if isinstance(exc.error, str) and _ERROR_CODE.fullmatch(exc.error) else ""
        reason = _TOKEN_ERRORS.get(code, _NOT_VERIFIED)
        raise OidcError(reason, kind=f"token:{code or 'unknown'}") from exc
    except (AuthlibBaseError, JoseError) as exc:  # the ID token's claims, or its signature
        raise OidcError(_NOT_VERIFIED, kind="id-token") from exc
    except httpx2.HTTPError as exc:
        raise OidcError(_UNREACHABLE, kind="unreachable", status=502) from exc
    except (ValueError, TypeError, KeyError, RuntimeError) as exc:  # a malformed answer
        raise OidcError(_NOT_VERIFIED, kind="malformed") from exc
    claims = token.get("userinfo")
    if not isinstance(claims, dict):  # no ID token at all
        raise OidcError(_NOT_VERIFIED, kind="no-id-token")
    subject = claims.get("sub")
    if not isinstance(subject, str) or not _SUBJECT.fullmatch(subject):
        raise OidcError(_NOT_VERIFIED, kind="sub")
    if settings.oidc_tenant_id is not None and claims.get("tid") != settings.oidc_tenant_id:
        raise OidcError(
            "Your account is not in your council's directory. Sign in with your council account.",
            kind="tid",
        )
    email_claim = settings.oidc_email_claim
    if email_claim not in claims and metadata.get("userinfo_endpoint"):
        claims = {**claims, **await _userinfo(client, token, subject, email_claim)}
    return OidcIdentity(
        issuer=metadata["issuer"],
        subject=subject,
        email=(email := _email(claims.get(email_claim))),
        email_verified=email is not None and _verified(claims, settings),
        name=_name(claims.get("name")),
    )


async def _userinfo(client: Any, token: dict[str, Any], subject: str, claim: str) -> dict[str, Any]:
    """The email (and name) from the userinfo endpoint, for a provider that keeps them out of the
    ID token; only if it answers for the same subject (OpenID Connect Core 5.3.2)."""
    try:
        info = await client.userinfo(token=token)
    except (httpx2.HTTPError, AuthlibBaseError, ValueError, TypeError) as exc:
        raise OidcError(_UNREACHABLE, kind="userinfo", status=502) from exc
    if not isinstance(info, dict) or info.get("sub") != subject:
        raise OidcError(_NOT_VERIFIED, kind="userinfo-sub")
    return {k: info[k] for k in (claim, "email_verified", "name") if k in info}


def _email(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return _EMAIL.validate_python(value)
    except ValidationError:
        return None


def _verified(claims: dict[str, Any], settings: Settings) -> bool:
    """Whether the provider vouches for the address: ``email_verified``, else Entra ID's optional
    ``xms_edov`` (the email's domain is verified as the directory's); when it says neither,
    ``CME_OIDC_TRUST_EMAIL``. A sign-in name (``preferred_username``) is never vouched for."""
    if settings.oidc_email_claim == "email":
        for name in ("email_verified", "xms_edov"):
            flag = claims.get(name)
            # Some providers send the flag as a string.
            if flag is True or flag == "true":
                return True
            if flag is False or flag == "false":
                return False
    return settings.oidc_trust_email


def _name(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return _NAME.validate_python(value)
    except ValidationError:
        return None


async def _plain_error(request: Request, error: OidcError) -> Response:
    """A page that says why, and how to start again (the app passes a GOV.UK one instead)."""
    again = html.escape(str(request.url_for("oidc_sign_in")))
    body = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<title>You could not be signed in</title></head><body>"
        "<h1>You could not be signed in</h1>"
        f"<p>{html.escape(error.reason)}</p>"
        f'<p><a href="{again}">Sign in again</a></p></body></html>'
    )
    return HTMLResponse(body, status_code=error.status, headers={"Cache-Control": "no-store"})
