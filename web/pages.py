"""Drawing pages: :func:`render` (every page's context: the signed-in user, the navigation for
their role, the CSP nonce, the CSRF token, messages to show once), the templates' environment
(the app's templates and the GOV.UK Frontend macros of ``govuk-frontend-jinja``), and the
GOV.UK error pages with the exceptions that lead to them.

Exceptions a page (or a dependency) raises to leave it:

* :class:`NotSignedIn`: a redirect (303) to the sign-in page, which brings the person back;
* :class:`Redirect`: a redirect (303) elsewhere (the change-password page, say);
* :class:`Forbidden`: the 403 page, saying why;
* :class:`web.context.ServiceUnavailable`: the 503 page;
* Starlette's ``HTTPException`` (404 and the rest): the GOV.UK page for its status.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, PrefixLoader
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import HTMLResponse, RedirectResponse, Response

from domain.calendar import human_date
from web.context import ServiceUnavailable, web_context
from web.navigation import navigation_for

__all__ = [
    "SERVICE_NAME",
    "Forbidden",
    "NotSignedIn",
    "Redirect",
    "add_error_handlers",
    "error_page",
    "flash",
    "make_templates",
    "render",
]

log = logging.getLogger("cme.web")

SERVICE_NAME = "Children missing education"
TEMPLATES = Path(__file__).parent / "templates"


class NotSignedIn(Exception):
    """The page needs a signed-in person: to the sign-in page, and back to ``next`` after."""

    def __init__(self, next: str | None = None, *, timed_out: bool = False) -> None:
        super().__init__("not signed in")
        self.next = next
        self.timed_out = timed_out


class Redirect(Exception):
    """Leave the page for ``url`` (a path of this app), with a 303."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


class Forbidden(Exception):
    """The signed-in person may not see this page (or send this form): the 403 page says why."""

    def __init__(self, reason: str, *, title: str = "You cannot use this page") -> None:
        super().__init__(reason)
        self.reason = reason
        self.title = title


def make_templates(extra: list[Path] | None = None) -> Jinja2Templates:
    """The app's templates (and ``extra`` folders before them), with the GOV.UK Frontend macros
    under ``govuk_frontend_jinja/``; autoescaped."""
    loader = ChoiceLoader(
        [
            FileSystemLoader([*(extra or []), TEMPLATES]),
            PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")}),
        ]
    )
    environment = Environment(loader=loader, autoescape=True)
    environment.globals["service_name"] = SERVICE_NAME
    environment.filters["human_date"] = human_date  # 2 Mar 2026, as the case words dates
    # GOV.UK's 2025 brand refresh is for services on GOV.UK: this one keeps the classic look.
    environment.globals["govukRebrand"] = False
    return Jinja2Templates(env=environment)


def flash(request: Request, text: str) -> None:
    """A message for the next page drawn in this session (a success banner), shown once."""
    messages = list(request.session.get("_flash", []))
    messages.append(text)
    request.session["_flash"] = messages


def _session(request: Request) -> dict[str, Any] | None:
    return request.scope.get("session")


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """``template`` drawn for this request, with what every page needs: ``user`` (the signed-in
    user, or ``None``), ``navigation`` (for their role, the current page marked), ``csp_nonce``,
    ``csrf_token()`` (for the hidden field of every POST form: see ``macros/forms.html``),
    ``messages`` (shown once) and ``errors`` (a :class:`web.forms.FormErrors`, if any)."""
    from web.csrf import csrf_token  # here: csrf needs sessions, pages do not

    web = web_context(request)
    user = getattr(request.state, "user", None)
    path = request.url.path
    session = _session(request)
    messages = session.pop("_flash", []) if session is not None and "_flash" in session else []
    values: dict[str, Any] = {
        "user": user,
        "navigation": [
            {"text": item.label, "href": item.path, "current": item.current(path)}
            for item in navigation_for(user.role if user is not None else None)
        ],
        "csp_nonce": getattr(request.state, "csp_nonce", ""),
        "csrf_token": lambda: csrf_token(request),
        "messages": messages,
        "errors": None,
        "la_name": web.settings.la_name,
    }
    values.update(context or {})
    return web.templates.TemplateResponse(
        request, template, values, status_code=status_code, headers=headers
    )


def error_page(request: Request, status_code: int, **context: Any) -> HTMLResponse:
    """The GOV.UK page for ``status_code`` (403, 404, 500, 503; the rest share one)."""
    name = status_code if status_code in (403, 404, 500, 503) else "other"
    return render(
        request, f"errors/{name}.html", {"status": status_code, **context}, status_code=status_code
    )


def _sign_in_redirect(request: Request, exc: NotSignedIn) -> Response:
    target = exc.next if exc.next is not None else request.url.path
    query = [f"next={quote(target, safe='/')}"] if target and target != "/" else []
    if exc.timed_out:
        query.append("timeout=1")
    return RedirectResponse("/sign-in" + ("?" + "&".join(query) if query else ""), 303)


def add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, exc: NotSignedIn) -> Response:
        return _sign_in_redirect(request, exc)

    @app.exception_handler(Redirect)
    async def redirect(request: Request, exc: Redirect) -> Response:
        return RedirectResponse(exc.url, 303)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        return error_page(request, 403, reason=exc.reason, title=exc.title)

    @app.exception_handler(ServiceUnavailable)
    async def unavailable(request: Request, exc: ServiceUnavailable) -> Response:
        log.warning("%s does not answer", exc.what)
        return error_page(request, 503, what=exc.what)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        response = error_page(request, exc.status_code)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        return error_page(request, 400)  # never the default answer, which echoes the input
