"""The JSON API for school MIS and LA systems, mounted at ``/api/v1`` by :func:`web.app.create_app`
(:func:`create_api`): FastAPI routers with pydantic models, its OpenAPI document at
``/api/v1/openapi.json`` (no docs page: FastAPI's loads Swagger UI from a CDN).

* ``POST /referrals`` (:mod:`web.api.referrals`): refer a child, any of the three forms;
* ``GET /cases``, ``GET /cases/{case_ref}``, ``POST /cases/{case_ref}/{request}``
  (:mod:`web.api.cases`): the cases the client may see, and the task requests of the `cme`
  command;
* ``GET /tasks`` (:mod:`web.api.tasks`): the client's open tasks.

Every request authenticates with a client's bearer token (:mod:`web.api.auth`; clients from `cme
api-clients add`), never a session cookie; the case's actor is the client (its name, role and
schools). Errors are problem documents (:mod:`web.api.problems`). Nothing a route logs names a
child; paths carry case references only, which are no personal data.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.intake import referral_json_schemas
from web.api import cases, referrals, tasks
from web.api.auth import RateLimiter
from web.api.problems import ApiProblem, Problem, add_problem_handlers
from web.context import WebContext

__all__ = ["API_PREFIX", "create_api"]

API_PREFIX = "/api/v1"
# The largest request body (a referral is a few kilobytes, as `cme refer` reads it).
MAX_BODY_BYTES = 1_000_000
DESCRIPTION = """\
The case service's API for school MIS and LA systems. Authenticate every request with the
client's token: `Authorization: Bearer <token>` (from `cme api-clients add`). A client acts in
its role (school, CME officer, team leader, MASH, manager), a school client for its own schools
only: it sees and acts on no other school's case (404, as for no case).

Every request is idempotent: send an `Idempotency-Key` header (the same key, the same request:
applied once, answered with the first answer and `Idempotent-Replayed: true`). Answers are
truthful: 503 with `Retry-After` only when nothing is recorded (send the same request again),
202 when the case has the request but did not answer in time. Errors are problem documents
(RFC 9457, `application/problem+json`), field errors listed in `errors`.
"""


def create_api(web: WebContext) -> FastAPI:
    """The API's app, on the web app's shared context (register, Temporal, settings, clock)."""
    api = FastAPI(
        title="Children missing education: API",
        version="1",
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        debug=False,
        # operationId: the route's function name (refer, cases, case, tasks, request_enquiry...)
        generate_unique_id_function=lambda route: route.name,
    )
    api.state.web = web
    api.state.rate_limiter = RateLimiter(web.settings.api_rate_limit_per_minute)
    for module in (referrals, cases, tasks):
        api.include_router(module.router)
    add_problem_handlers(api)
    api.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            document = get_openapi(
                title=api.title,
                version=api.version,
                openapi_version=api.openapi_version,
                description=api.description,
                routes=api.routes,
                servers=[{"url": API_PREFIX}],
            )
            _add_components(document)
            api.openapi_schema = document
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]
    return api


class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes is refused (413) before any route
    sees it, whoever sends it: FastAPI reads a route's body before its dependencies run (the
    bearer token's check among them), so the routes cannot refuse it themselves in time."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        too_large = ApiProblem(413, "too-large", f"The body is over {self.limit} bytes.")
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            await too_large.response()(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            body += message.get("body", b"")
            more = bool(message.get("more_body", False))
            if len(body) > self.limit:
                await too_large.response()(scope, receive, send)
                return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _add_components(document: dict[str, Any]) -> None:
    """The referral forms' schemas (the intake's own, as the referral route reads its body
    itself) and the problem document's."""
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    mapping: dict[str, str] = {}
    for form, schema in referral_json_schemas().items():
        moved = json.loads(json.dumps(schema).replace('"#/$defs/', '"#/components/schemas/'))
        for name, definition in moved.pop("$defs", {}).items():
            schemas.setdefault(name, definition)
        title = moved.get("title", form)
        schemas[title] = moved
        mapping[form] = f"#/components/schemas/{title}"
    schemas["Referral"] = {
        "title": "Referral",
        "oneOf": [{"$ref": ref} for ref in mapping.values()],
        "discriminator": {"propertyName": "form", "mapping": mapping},
    }
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in problem.pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    schemas["Problem"] = problem
