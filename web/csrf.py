"""Cross-site request forgery: every POST form carries this session's token in a hidden field
(``csrf_token``), and comes from the app's own origin (its ``Origin`` header, else its
``Referer``). :func:`verify_csrf` runs before every route (a dependency of the whole app): a
form without both is refused with a 403 page before the page's code runs, so nothing changes.

The token is made on first use (drawing a form) and kept in the session's data; signing in
makes a new one. Routes under ``/api/`` are not checked: the API authenticates each request
with a bearer token, never with the session cookie.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request

from web.context import web_context
from web.pages import Forbidden

__all__ = ["CSRF_FIELD", "CSRF_SESSION_KEY", "EXEMPT_PREFIXES", "csrf_token", "verify_csrf"]

CSRF_FIELD = "csrf_token"
CSRF_SESSION_KEY = "_csrf"
EXEMPT_PREFIXES = ("/api/",)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

REFUSED = (
    "This form was not sent from a page of this service, or the page had expired. Go back, "
    "reload the page and try again. Nothing was changed."
)


def csrf_token(request: Request) -> str:
    """This session's CSRF token (made now if it has none)."""
    token = request.session.get(CSRF_SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        request.session[CSRF_SESSION_KEY] = token
    return token


def expected_origin(request: Request) -> str:
    """The app's origin as the browser sees it: ``CME_WEB_PUBLIC_URL``, else the request's own
    scheme and host."""
    configured = web_context(request).settings.web_public_url
    if configured:
        return configured
    host = request.headers.get("host", "")
    return f"{request.url.scheme}://{host}"


def _same_origin(request: Request) -> bool:
    expected = expected_origin(request)
    origin = request.headers.get("origin")
    if origin is not None:
        return origin == expected
    referer = request.headers.get("referer")
    if referer is not None:
        return referer == expected or referer.startswith(expected + "/")
    return False  # a browser sends Origin with every POST: a form without it is not one of ours


async def verify_csrf(request: Request) -> None:
    """Refuse an unsafe request without this session's token or from another origin (403)."""
    if request.method in SAFE_METHODS or request.url.path.startswith(EXEMPT_PREFIXES):
        return
    if not _same_origin(request):
        raise Forbidden(REFUSED, title="This form could not be sent")
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    expected = request.session.get(CSRF_SESSION_KEY) if "session" in request.scope else None
    if (
        not isinstance(sent, str)
        or not isinstance(expected, str)
        or not expected
        or not hmac.compare_digest(sent.encode(), expected.encode())
    ):
        raise Forbidden(REFUSED, title="This form could not be sent")
