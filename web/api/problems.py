"""The API's errors: problem documents (RFC 9457, ``application/problem+json``), never an HTML
page, a traceback or the input that was refused (it can be a child's personal data).

A route raises :class:`ApiProblem`; :func:`add_problem_handlers` turns it, and everything else
that can go wrong before or after a route (a request FastAPI could not read, an unknown path, the
case service not answering, an unexpected error), into a problem. Field errors are listed in
``errors``, each with the field's dotted path (as the intake names it: ``pupil.upn``), a JSON
pointer into the request (``#/pupil/upn``), where it was (body, query, header, path) and the
message in the service's own words (:mod:`domain.intake`, :mod:`domain.types`).

``type`` is a relative URI naming the kind of problem, ``/api/v1/problems/<kind>`` (the kinds
are :data:`KINDS`; docs/api.md describes each); ``title`` is the kind in words and ``detail``
this occurrence's.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict
from pydantic_core import ErrorDetails
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from domain.types import error_message, printable
from web.context import ServiceUnavailable

__all__ = [
    "KINDS",
    "PROBLEM_JSON",
    "RETRY_AFTER_SECONDS",
    "ApiProblem",
    "FieldError",
    "Problem",
    "add_problem_handlers",
    "field_errors",
    "pointer",
    "problem_responses",
]

log = logging.getLogger("cme.api")

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "/api/v1/problems/"
# How long a client is asked to wait before sending again what was not recorded.
RETRY_AFTER_SECONDS = 30

# Each kind of problem and its title.
KINDS: dict[str, str] = {
    "invalid-request": "The request has errors",
    "invalid-referral": "The referral has errors",
    "bad-request": "The request cannot be read",
    "unauthorized": "No valid bearer token",
    "forbidden": "This client's role may not do this",
    "not-found": "Not found",
    "method-not-allowed": "Method not allowed",
    "case-refused": "The case refused the request",
    "case-closed": "The case is closed",
    "too-large": "The request is too large",
    "unsupported-media-type": "The request must be JSON",
    "rate-limited": "Too many requests",
    "not-recorded": "Nothing is recorded yet",
    "unavailable": "The case service is not answering",
    "server-error": "The service could not complete the request",
}


class FieldError(BaseModel):
    model_config = ConfigDict(frozen=True)

    field: str  # dotted, as the intake names it: pupil.upn, contacts.0.name ("" for the whole)
    pointer: str  # a JSON pointer (RFC 6901) as a URI fragment: #/pupil/upn
    location: Literal["body", "query", "header", "path"] = "body"
    detail: str


class Problem(BaseModel):
    """A problem document (RFC 9457) with this service's extensions: ``errors`` (the fields at
    fault), ``case`` (the case reference it is about) and ``request_id`` (the request's
    idempotency key as the case keeps it)."""

    model_config = ConfigDict(frozen=True)

    type: str
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldError] | None = None
    case: str | None = None
    request_id: str | None = None


class ApiProblem(Exception):
    """Leave the route with a problem document of ``kind`` (one of :data:`KINDS`)."""

    def __init__(
        self,
        status: int,
        kind: str,
        detail: str | None = None,
        *,
        errors: Sequence[FieldError] | None = None,
        headers: Mapping[str, str] | None = None,
        case: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(kind)
        assert kind in KINDS, kind
        self.problem = Problem(
            type=PROBLEM_BASE + kind,
            title=KINDS[kind],
            status=status,
            detail=detail,
            errors=list(errors) if errors is not None else None,
            case=case,
            request_id=request_id,
        )
        self.headers = dict(headers or {})

    def response(self) -> JSONResponse:
        return JSONResponse(
            self.problem.model_dump(mode="json", exclude_none=True),
            status_code=self.problem.status,
            media_type=PROBLEM_JSON,
            headers=self.headers,
        )


def pointer(path: Sequence[str | int]) -> str:
    """A JSON pointer (RFC 6901) to ``path``, as a URI fragment."""
    escaped = [str(p).replace("~", "~0").replace("/", "~1") for p in path]
    return "#" + "".join("/" + part for part in escaped)


def _shown(part: str | int) -> str:
    return printable(str(part), limit=40)  # a key the client sent: one safe line


def field_errors(
    errors: Sequence[ErrorDetails], *, location: Literal["body", "query", "header", "path"]
) -> list[FieldError]:
    """Pydantic's errors (of a model read from the body, say) as field errors in the words of
    :func:`domain.types.error_message`; never the input."""
    found = []
    for error in errors:
        path = [_shown(p) for p in error["loc"]]
        found.append(
            FieldError(
                field=".".join(path),
                pointer=pointer(path),
                location=location,
                detail=_words(error),
            )
        )
    return found


def _words(error: ErrorDetails) -> str:
    match error["type"]:
        case "extra_forbidden":
            return "is not a field of this request"
        case "enum" | "literal_error":
            expected = (error.get("ctx") or {}).get("expected")
            return f"must be one of {expected}" if expected else error["msg"]
        case "model_type" | "model_attributes_type" | "dict_type":
            return "must be a group of fields (a JSON object)"
        case "json_invalid":
            return "is not JSON"
    return error_message(error)


def _request_errors(exc: RequestValidationError) -> list[FieldError]:
    """FastAPI's errors: the first part of each location says where (body, query, ...)."""
    found: list[FieldError] = []
    for error in exc.errors():
        loc = list(error.get("loc", ()))
        where: Literal["body", "query", "header", "path"] = "body"
        rest = loc
        if loc and loc[0] in ("query", "header", "path", "body"):
            where, rest = loc[0], loc[1:]
        details: ErrorDetails = {**error, "loc": tuple(rest)}  # type: ignore[typeddict-item]
        found += field_errors([details], location=where)
    return found


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` of a route's problems."""
    return {
        status: {
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            "description": _STATUS_WORDS.get(status, "a problem"),
        }
        for status in statuses
    }


_STATUS_WORDS = {
    400: "the request cannot be read (not JSON)",
    401: "no bearer token, or not a valid one (WWW-Authenticate says which)",
    403: "this client's role may not do this",
    404: "no such case, or not one this client may see",
    409: "the case refused the request: its reason is the detail",
    413: "the request is over the size limit",
    415: "the request is not JSON",
    422: "fields with errors, each with its message",
    429: "too many requests from this client: wait Retry-After seconds",
    503: "nothing is recorded yet: send the same request again after Retry-After seconds",
}


def add_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiProblem)
    async def api_problem(request: Request, exc: ApiProblem) -> Response:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = _request_errors(exc)
        if any(e.detail == "is not JSON" for e in errors):
            return ApiProblem(400, "bad-request", "The body is not JSON.").response()
        return ApiProblem(
            422,
            "invalid-request",
            "Correct the fields listed in errors, then send the request again.",
            errors=errors,
        ).response()

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        kind = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "bad-request")
        if exc.status_code >= 500:
            kind = "server-error"
        return ApiProblem(exc.status_code, kind, headers=exc.headers).response()

    @app.exception_handler(ServiceUnavailable)
    async def unavailable(request: Request, exc: ServiceUnavailable) -> Response:
        log.warning("%s does not answer", exc.what)
        return ApiProblem(
            503,
            "unavailable",
            "The case service is not answering just now, so nothing has been recorded. Send the "
            "same request again later.",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        ).response()

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception) -> Response:
        # Starlette then raises the exception again: the app's outer middleware logs its type
        # and place only (web.headers), never its text, which may quote a child's data.
        return ApiProblem(
            500,
            "server-error",
            "Something went wrong in the service. Whether the request was applied is not known: "
            "sending the same request again (with the same Idempotency-Key) is safe.",
        ).response()
