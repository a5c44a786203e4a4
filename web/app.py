"""The web app's factory: :func:`create_app` makes the FastAPI app (server-rendered Jinja2 pages in
the GOV.UK Design System; every page works without JavaScript) on the register's engine and a
Temporal client with the encrypting data converter.

What it serves:

* ``/assets/...``: GOV.UK Frontend's built assets (JS, images, and its stylesheet compiled from
  its Sass in Arial), set up from the npm package in ``web/static/govuk`` by
  ``scripts/_frontend.sh`` (run by ``./scripts/dev`` and
  ``./scripts/test``); the app refuses to start without them. ``/static/...``: the app's own.
* ``/healthz``: ``ok`` while the register answers (the compose stack's healthcheck).
* the pages of :data:`ROUTERS`; a GOV.UK page for every error.

Every answer carries the security headers of :mod:`web.headers`; every request but the assets'
has its server-side session (:mod:`web.sessions`: ``request.session``, ``request.state.user``);
every POST passes the CSRF check (:mod:`web.csrf`) before its page runs.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import PlainTextResponse, Response
from temporalio.client import Client

from activities.register import make_engine
from security.converter import data_converter
from security.store import SqlKeyStore
from settings import Settings
from web.api import API_PREFIX, create_api
from web.context import TemporalConnection, WebContext
from web.csrf import verify_csrf
from web.headers import SecurityHeaders
from web.oidc_sign_in import oidc_sign_in_router
from web.pages import add_error_handlers, error_page, make_templates
from web.passwords import Passwords
from web.sessions import SessionMiddleware

__all__ = ["ASSETS_DIR", "ROUTERS", "AssetsMissing", "close_app", "create_app", "govuk_version"]

WEB = Path(__file__).parent
STATIC_DIR = WEB / "static"
ASSETS_DIR = STATIC_DIR / "govuk"

# The pages: each module's ``router``, added in this order.
ROUTERS: list[str] = [
    "web.auth",
    "web.home",
    "web.admin",
    "web.refer",
    "web.dashboard",
    "web.case_list",
    "web.case_page",
    "web.dfe",
    "web.admin_api_clients",
    "web.tasks",
    "web.leader",
]


class AssetsMissing(RuntimeError):
    """GOV.UK Frontend's assets are not where the app serves them from."""


def govuk_version(assets: Path = ASSETS_DIR) -> str:
    """The version of govuk-frontend whose assets are served."""
    try:
        version = json.loads((assets / "package.json").read_text(encoding="utf-8"))["version"]
    except (OSError, ValueError, KeyError) as exc:
        raise AssetsMissing(
            f"GOV.UK Frontend's assets are not in {assets}: run scripts/_frontend.sh "
            "(./scripts/dev and ./scripts/test do), which copies them from the npm package"
        ) from exc
    return str(version)


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    temporal: Client | TemporalConnection | None = None,
    passwords: Passwords | None = None,
    clock: Callable[[], datetime] | None = None,
    assets: Path = ASSETS_DIR,
) -> FastAPI:
    """The web app on ``settings`` (``CME_WEB_SESSION_SECRET`` must be set), the register's
    ``engine`` (made from ``settings.register_url`` when not given, and disposed of by
    :func:`close_app`) and ``temporal`` (a client, or by default one connected on first use)."""
    if settings.web_session_secret is None:
        raise ValueError(
            "CME_WEB_SESSION_SECRET is not set: the web app needs a secret of 32+ characters "
            "(e.g. `openssl rand -hex 32`)"
        )
    govuk_version(assets)
    owns_engine = engine is None
    engine = engine or make_engine(settings.register_url)
    if isinstance(temporal, Client):
        connection = TemporalConnection.of(temporal)
    elif isinstance(temporal, TemporalConnection):
        connection = temporal
    else:
        store = SqlKeyStore(engine, settings.key_ring)

        async def connect() -> Client:
            return await Client.connect(
                settings.temporal_address,
                namespace=settings.temporal_namespace,
                data_converter=data_converter(store),
            )

        connection = TemporalConnection(connect)

    app = FastAPI(
        title="Children missing education",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        debug=False,
        dependencies=[Depends(verify_csrf)],
    )
    web = WebContext(
        settings=settings,
        engine=engine,
        templates=make_templates(),
        temporal=connection,
        passwords=passwords or Passwords(),
        clock=clock or (lambda: datetime.now(UTC)),
        secret=settings.web_session_secret.get_secret_value().encode(),
        owns_engine=owns_engine,
    )
    app.state.web = web

    app.mount("/assets", StaticFiles(directory=assets), name="assets")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(_health_router())
    app.mount(API_PREFIX, create_api(web))  # the JSON API: its own errors and OpenAPI document
    if settings.oidc_enabled:
        app.include_router(oidc_sign_in_router(settings))
    for name in ROUTERS:
        app.include_router(importlib.import_module(name).router)
    add_error_handlers(app)

    def failure_page(request: Request) -> Response:
        return error_page(request, 500)

    # Each middleware added wraps the ones before: the headers (and the 500 page) outermost.
    app.add_middleware(SessionMiddleware, context=web)
    app.add_middleware(
        SecurityHeaders,
        secure=settings.web_secure_cookies,
        form_action=web.form_action_origins,
        error_page=failure_page,
    )
    return app


def close_app(app: FastAPI) -> None:
    """Dispose of what :func:`create_app` made (the register's engine, unless it was given)."""
    web: WebContext = app.state.web
    if web.owns_engine:
        web.engine.dispose()


def _health_router() -> APIRouter:
    router = APIRouter()

    @router.get("/healthz", include_in_schema=False)
    async def healthz(request: Request) -> Response:
        web: WebContext = request.app.state.web

        def ping() -> None:
            with web.engine.connect() as connection:
                connection.execute(text("SELECT 1"))

        try:
            await run_in_threadpool(ping)
        except SQLAlchemyError:
            return PlainTextResponse("the register does not answer", status_code=503)
        return PlainTextResponse("ok")

    return router
