"""Security headers on every answer, and the last word on an unexpected error.

* ``Content-Security-Policy``: scripts and styles from the app only; the one inline script (the
  GOV.UK template's, which marks the body as JavaScript-enabled) carries this request's nonce
  (``request.state.csp_nonce``); no plugins, no ``<base>``, forms sent to the app only (and to
  the origins in ``WebContext.form_action_origins``), never framed (``frame-ancestors 'none'``).
* ``X-Frame-Options: DENY``, ``X-Content-Type-Options: nosniff``, ``Referrer-Policy:
  same-origin`` (a form's Origin and Referer still reach the app: the CSRF check reads them),
  ``Cross-Origin-Opener-Policy: same-origin``, a ``Permissions-Policy`` that turns off what the
  app never uses.
* ``Strict-Transport-Security`` when cookies are secure (the app is served over https).
* ``Cache-Control: no-store`` on everything but the static assets: pages hold children's data.

An exception no handler took is logged by its type and place only (its text may quote what it
failed on: a child's name) and answered with the GOV.UK 500 page, or a bare 500 when the page
cannot be drawn.
"""

from __future__ import annotations

import logging
import secrets
import traceback
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["STATIC_PREFIXES", "SecurityHeaders", "content_security_policy"]

log = logging.getLogger("cme.web")

STATIC_PREFIXES = ("/assets/", "/static/")


def content_security_policy(nonce: str, *, form_action: list[str], secure: bool) -> str:
    directives = [
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action " + " ".join(["'self'", *form_action]),
        "frame-ancestors 'none'",
    ]
    if secure:
        directives.append("upgrade-insecure-requests")
    return "; ".join(directives)


class SecurityHeaders:
    """ASGI middleware: the headers above, and the 500 page. ``error_page(request)`` draws it."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        secure: bool,
        form_action: list[str],
        error_page: Callable[[Request], Response],
    ) -> None:
        self.app = app
        self.secure = secure
        self.form_action = form_action
        self.error_page = error_page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(16)
        scope.setdefault("state", {})["csp_nonce"] = nonce
        static = scope["path"].startswith(STATIC_PREFIXES)
        headers = [
            (
                b"content-security-policy",
                content_security_policy(
                    nonce, form_action=self.form_action, secure=self.secure
                ).encode(),
            ),
            (b"x-frame-options", b"DENY"),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
        ]
        if self.secure:
            headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = dict(message)
                existing = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() not in {name for name, _ in headers}
                    and not (not static and k.lower() == b"cache-control")
                ]
                extra = [] if static else [(b"cache-control", b"no-store")]
                message["headers"] = [*existing, *headers, *extra]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:
            frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
            where = f" at {frame.filename}:{frame.lineno}" if frame else ""
            log.error("web request failed: %s%s (details withheld)", type(exc).__name__, where)
            if started:
                return
            try:
                response = self.error_page(Request(scope))
            except Exception:
                response = Response("Sorry, there is a problem with the service", 500)
            await response(scope, receive, send_with_headers)
