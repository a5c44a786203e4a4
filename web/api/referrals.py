"""``POST /api/v1/referrals``: a referral, any of the three forms as JSON (its ``form`` field says
which), from a school's MIS or an LA system.

The referral is checked by the intake (:func:`domain.intake.parse_referral`: every rule, today's
date, the school calendar) before anything is sent: a bad one is a 422 problem listing every
field at fault with the intake's own message, and nothing is started. Who may refer what is the
case's own rule (:func:`domain.case.rules.check_referrer`: a school refers its own pupils, or a
child on no roll): 403 otherwise. Then :func:`starter.case_client.refer` opens the child's case or
adds the referral to the child's open case, truthfully:

* 201 (``Location`` the case): a case was opened; 200: the child already had an open case and the
  referral was added to it;
* 202: the referral is recorded (the case's start is durable) but the case did not answer in time:
  it opens when the service catches up;
* 503 with ``Retry-After``: nothing is recorded; sending the same request again is safe.

``Idempotency-Key`` is the request id (the client's own): the same key sent again gets the first
answer, with the same status, ``duplicate_request`` true and ``Idempotent-Replayed: true``, and
the referral is applied once. Without a key, the id is derived from the referral and its sender.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from starlette.responses import JSONResponse, Response

from domain.calendar import CalendarError
from domain.case import Rejected, rules
from domain.case.model import Role, Stage
from domain.clock import local_date
from domain.intake import ReferralInvalid, parse_referral
from starter import case_client
from starter.cases import case_reference, referral_update
from starter.errors import CaseError, RecordedNotAnswered
from web.api.answers import IdempotencyKey, case_problem, request_id_of_key
from web.api.auth import ApiCaller, require_client_role
from web.api.problems import ApiProblem, FieldError, pointer, problem_responses
from web.context import web_context

__all__ = ["MAX_REFERRAL_BYTES", "ReferralAnswer", "router"]

router = APIRouter(tags=["referrals"])

# A referral is a few kilobytes, nested a few levels deep (as `cme refer` reads it).
MAX_REFERRAL_BYTES = 1_000_000
MAX_REFERRAL_DEPTH = 20

Referrer = Annotated[
    ApiCaller, Depends(require_client_role(Role.SCHOOL, Role.CME_OFFICER, Role.TEAM_LEADER))
]


class ReferralAnswer(BaseModel):
    """What became of a referral."""

    case: str  # the case reference, CME-...
    request_id: str
    status: Literal["opened", "added_to_open_case", "recorded"]
    answered: bool  # false: recorded, the case has not answered yet (202)
    detail: str
    episode: int | None = None
    stage: Stage | None = None
    referrals_received: int | None = None
    duplicate_request: bool = False  # the same request sent again: not applied again


def _depth(value: object) -> int:
    """How deeply lists and objects nest in ``value``, without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        children: list[object]
        if isinstance(item, dict):
            children = list(item.values())
        elif isinstance(item, list):
            children = list(item)
        else:
            continue
        deepest = max(deepest, level + 1)
        stack.extend((child, level + 1) for child in children)
    return deepest


async def read_json(request: Request, *, limit: int = MAX_REFERRAL_BYTES) -> Any:
    """The request's JSON body, or the problem saying why it cannot be read."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise ApiProblem(415, "unsupported-media-type", "Send the body as application/json.")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiProblem(413, "too-large", f"The body is over {limit} bytes.")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiProblem(413, "too-large", f"The body is over {limit} bytes.")
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise ApiProblem(400, "bad-request", "The body is not UTF-8 text.") from None
    except json.JSONDecodeError as exc:
        raise ApiProblem(
            400,
            "bad-request",
            f"The body is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}.",
        ) from None
    except (RecursionError, ValueError):
        raise ApiProblem(400, "bad-request", "The body is not JSON a request can be.") from None
    if _depth(data) > MAX_REFERRAL_DEPTH:
        raise ApiProblem(400, "bad-request", "The body's JSON is nested too deeply.")
    return data


def _field_error(field: str, message: str) -> FieldError:
    parts = field.split(".") if field else []
    return FieldError(field=field, pointer=pointer(parts), detail=message)


def _answer(referred: case_client.Referred) -> JSONResponse:
    location = f"/api/v1/cases/{referred.case}"
    result = referred.result
    if result is None:
        answer = ReferralAnswer(
            case=referred.case,
            request_id=referred.request_id,
            status="recorded",
            answered=False,
            detail="The referral is recorded, but the case did not answer in time: it opens (or "
            "takes the referral) when the service catches up. Sending the same request again is "
            "safe: it is applied once.",
        )
        status = 202
    else:
        existing = result.existing
        answer = ReferralAnswer(
            case=result.case,
            request_id=referred.request_id,
            status="added_to_open_case" if existing else "opened",
            answered=True,
            detail=(
                "This child already has an open case: the referral was added to it."
                if existing
                else "A case was opened for the child."
            ),
            episode=result.episode,
            stage=result.stage,
            referrals_received=result.referrals_received,
            duplicate_request=result.duplicate_request,
        )
        status = 200 if existing else 201
    headers = {"Location": location}
    if answer.duplicate_request:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(answer.model_dump(mode="json"), status_code=status, headers=headers)


_REFERRAL_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "One of the three forms, by its `form` field: `pupil_migration_return`, "
        "`school_cme_referral`, `professional_cme_referral`.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Referral"}}},
    }
}


@router.post(
    "/referrals",
    status_code=201,
    response_model=ReferralAnswer,
    summary="Refer a child",
    responses={
        200: {"model": ReferralAnswer, "description": "added to the child's open case"},
        202: {"model": ReferralAnswer, "description": "recorded; the case has not answered yet"},
        **problem_responses(400, 401, 403, 409, 413, 415, 422, 429, 503),
    },
    openapi_extra=_REFERRAL_BODY,
)
async def refer(
    request: Request, caller: Referrer, idempotency_key: IdempotencyKey = None
) -> Response:
    web = web_context(request)
    data = await read_json(request)
    try:
        calendar = web.settings.calendar
    except (CalendarError, OSError):
        raise ApiProblem(
            500, "server-error", "The service's school calendar cannot be read: nothing was sent."
        ) from None
    try:
        referral = parse_referral(data, today=local_date(web.clock()), calendar=calendar)
    except ReferralInvalid as invalid:
        raise ApiProblem(
            422,
            "invalid-referral",
            "Correct the fields listed in errors, then send the referral again. Nothing was "
            "recorded.",
            errors=[_field_error(p.field, p.message) for p in invalid.problems],
        ) from None
    by = caller.actor
    try:
        rules.check_referrer(referral, by)
    except Rejected as refused:
        raise ApiProblem(403, "forbidden", refused.message) from None
    request_id = (
        request_id_of_key(
            caller.client.id,
            idempotency_key,
            secret=web.settings.case_key_secret.get_secret_value(),
        )
        if idempotency_key is not None
        else None
    )
    client = await web.temporal.client()
    try:
        referred = await case_client.refer(
            client, web.settings, referral, by, request_id=request_id
        )
    except RecordedNotAnswered:
        # The case took it (it is in its history); its answer is what did not arrive.
        case = case_reference(referral, web.settings.case_key_secret.get_secret_value())
        secret = web.settings.case_key_secret.get_secret_value()
        rid = request_id or referral_update(referral, by, secret=secret).request_id
        referred = case_client.Referred(case=case, request_id=rid, result=None)
    except CaseError as exc:
        case = case_reference(referral, web.settings.case_key_secret.get_secret_value())
        raise case_problem(exc, case, request_id) from None
    return _answer(referred)
