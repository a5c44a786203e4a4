"""The cases a client may see, and the requests it may send them.

* ``GET /api/v1/cases``: the episodes the client may read (:func:`reports.case_page`, whose query
  applies :func:`domain.case.rules.can_view`: a school client gets only its own schools' cases,
  MASH the child-protection ones, officers, team leaders and managers every one), narrowed by
  the case list's filters (:class:`reports.CaseFilter`), a page at a time;
* ``GET /api/v1/cases/{case_ref}``: the case's latest episode from the register, with its tasks
  and enquiries; 404, the same as for no case, for a case the client may not see;
* ``POST /api/v1/cases/{case_ref}/{request}``: the task requests of the `cme` command (the same
  names, the same :mod:`domain.case.commands` models, sent by method reference to the case's
  updates by :func:`starter.case_client.send`). The body is the request's fields (its actor and
  request id are the API's: the client, and ``Idempotency-Key`` or an id derived from the
  content); the case enforces who may do what and answers 409 with its reason when it refuses.
  A school client's request to a case not of its schools is a 404, as for no case.

Reads come from the register (what the lists show, synced by the case as it changes): a case
just opened is there once its first sync has run, a moment later.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlmodel import Session
from starlette.responses import JSONResponse, Response

from activities.register import (
    EnquiryPublic,
    TaskPublic,
    list_enquiries,
    list_tasks,
)
from domain.case.commands import RetryProblems
from domain.case.model import CaseKind, CommandResult, Role, Stage
from domain.types import CaseRef
from reports import BadFilter, CaseFilter, CaseItemPublic, Status, case_page, readable_case
from reports.cases import MAX_PAGE_SIZE
from starter import case_client
from starter.cases import request_id_for
from starter.errors import CliError, RecordedNotAnswered
from web.api.answers import IdempotencyKey, case_problem, no_case, request_id_of_key
from web.api.auth import ApiCaller, Caller, require_client_role
from web.api.problems import ApiProblem, FieldError, field_errors, problem_responses
from web.case_requests import PENDING_ID, REQUESTS, RequestSpec, school_may_act
from web.context import register_session, web_context

__all__ = ["REQUESTS", "CaseDetail", "CaseList", "RequestAnswer", "RequestSpec", "router"]

router = APIRouter(tags=["cases"])
Db = Annotated[Session, Depends(register_session)]
Changer = Annotated[
    ApiCaller, Depends(require_client_role(Role.SCHOOL, Role.CME_OFFICER, Role.TEAM_LEADER))
]
_CASE_REF: TypeAdapter[str] = TypeAdapter(CaseRef)
CaseRefPath = Annotated[
    str, Path(description="The case reference, CME-…", examples=["CME-0123456789AB"])
]


def _case_ref(text: str) -> str:
    """A case reference, or the 404 of no case (a malformed one names none)."""
    try:
        return _CASE_REF.validate_python(text)
    except ValidationError:
        raise no_case(text[:40] if text.isprintable() else "(not a case reference)") from None


# -- reading ---------------------------------------------------------------------------------------


class CaseList(BaseModel):
    items: list[CaseItemPublic]
    total: int  # how many match, on every page
    page: int
    page_size: int
    pages: int


_PAGE_PARAMETERS = ("page", "page_size")


@router.get(
    "/cases",
    response_model=CaseList,
    summary="The cases this client may see",
    responses=problem_responses(401, 422, 429),
)
def cases(
    request: Request,
    caller: Caller,
    db: Db,
    status: Status | None = None,
    stage: Stage | None = None,
    kind: CaseKind | None = None,
    school: Annotated[str | None, Query(description="a school's LAESTAB")] = None,
    no_school: bool = False,
    child_protection: bool | None = None,
    overdue: bool | None = None,
    mash_call_pending: bool | None = None,
    opened_from: date | None = None,
    opened_to: date | None = None,
    sat_referred_from: date | None = None,
    sat_referred_to: date | None = None,
    located_from: date | None = None,
    located_to: date | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
) -> CaseList:
    # The filter is read as the case list page reads it (the parameters above are checked and
    # documented by FastAPI): an unknown parameter is refused, not ignored, so that a client
    # never takes an unfiltered list for a filtered one.
    try:
        case_filter = CaseFilter.from_query(
            dict(request.query_params), page_parameters=_PAGE_PARAMETERS
        )
    except BadFilter as bad:
        name = str(bad).split(":", 1)[0]
        raise ApiProblem(
            422,
            "invalid-request",
            "Correct the parameters listed in errors.",
            errors=[FieldError(field=name, pointer="#", location="query", detail=str(bad))],
        ) from None
    found = case_page(
        session=db, viewer=caller.actor, case_filter=case_filter, page=page, page_size=page_size
    )
    return CaseList(
        items=found.items,
        total=found.total,
        page=found.page,
        page_size=found.page_size,
        pages=found.pages,
    )


class TaskOut(BaseModel):
    id: int
    name: str
    assignee: str
    status: str
    opened_at: datetime
    due: date | None
    overdue: bool
    done_by: str | None
    done_by_role: str | None
    done_at: datetime | None


class EnquiryOut(BaseModel):
    id: int
    made_by: str
    kind: str
    made_on: date
    outcome: str
    note: str | None
    recorded_by: str
    recorded_by_role: str
    recorded_at: datetime


class CaseDetail(BaseModel):
    """A case's latest episode, as the register holds it. The child's name is there for the
    reason given on :class:`reports.tasks.TaskItemPublic` (a client that may read the case and
    must act on it); ``None`` once erased."""

    case_ref: str
    episode: int
    repeat: bool
    kind: str
    stage: str
    school: str | None
    schools: list[str]
    child_protection: bool
    opened_at: datetime
    next_deadline: date | None
    overdue: bool
    mash_call_pending: bool
    assigned_officer: str | None
    referrals_received: int
    sat_referred_at: datetime | None
    located_on: date | None
    decision: str | None
    investigation_outcome: str | None
    ground: str | None
    earliest_deletion_date: date | None
    ctf_destination: str | None
    closed_at: datetime | None
    open_problems: int
    first_name: str | None
    last_name: str | None
    tasks: list[TaskOut]
    enquiries: list[EnquiryOut]


@router.get(
    "/cases/{case_ref}",
    response_model=CaseDetail,
    summary="A case",
    responses=problem_responses(401, 404, 422, 429),
)
def case(case_ref: CaseRefPath, caller: Caller, db: Db) -> CaseDetail:
    ref = _case_ref(case_ref)
    found = readable_case(session=db, viewer=caller.actor, case_ref=ref)
    if found is None:
        raise no_case(ref)
    row, schools = found.row, list(found.schools)
    tasks: list[TaskPublic] = list_tasks(session=db, case=ref, episode=row.episode)
    enquiries: list[EnquiryPublic] = list_enquiries(session=db, case=ref, episode=row.episode)
    return CaseDetail(
        **row.model_dump(
            include=set(CaseDetail.model_fields)
            - {"case_ref", "school", "schools", "tasks", "enquiries"}
        ),
        case_ref=row.case_ref,
        school=row.school_laestab,
        schools=schools,
        tasks=[TaskOut.model_validate(t.model_dump()) for t in tasks],
        enquiries=[EnquiryOut.model_validate(e.model_dump()) for e in enquiries],
    )


# -- requests --------------------------------------------------------------------------------------


class RequestAnswer(CommandResult):
    """The case's answer, with the request id it was sent with."""

    request_id: str


class RecordedAnswer(BaseModel):
    """The case has the request, but its answer did not arrive in time (202)."""

    case: str
    request_id: str
    answered: bool = False
    detail: str


def _command(spec: RequestSpec, body: BaseModel, caller: ApiCaller, request_id: str) -> Any:
    fields = {name: getattr(body, name) for name in type(body).model_fields}
    try:
        return spec.command(by=caller.actor, request_id=request_id, **fields)
    except ValidationError as exc:
        raise ApiProblem(
            422,
            "invalid-request",
            "Correct the fields listed in errors, then send the request again.",
            errors=field_errors(exc.errors(), location="body"),
        ) from None


async def _send(
    request: Request,
    spec: RequestSpec,
    case_ref: str,
    body: BaseModel,
    caller: ApiCaller,
    idempotency_key: str | None,
) -> Response:
    web = web_context(request)
    ref = _case_ref(case_ref)
    given = (
        request_id_of_key(
            caller.client.id,
            idempotency_key,
            secret=web.settings.case_key_secret.get_secret_value(),
        )
        if idempotency_key is not None
        else None
    )
    command = _command(spec, body, caller, given or PENDING_ID)
    client = await web.temporal.client()
    try:
        if not await school_may_act(client, web.settings, caller.actor, ref):
            raise no_case(ref)
        if given is None:
            # As the `cme` command derives it: the same request, the same id. A retry is the same
            # request while the problems are as they were (each attempt moves them on).
            context: list[str] = []
            if spec.command is RetryProblems:
                state = await case_client.state_if_answering(client, ref, web.settings)
                attempts = state.open_problems if state is not None else []
                context = [",".join(f"{p.id}@{p.last_attempt_at.isoformat()}" for p in attempts)]
            content = command.model_dump_json(exclude={"request_id"})
            derived = request_id_for(
                spec.path,
                ref,
                content,
                *context,
                secret=web.settings.case_key_secret.get_secret_value(),
            )
            command = command.model_copy(update={"request_id": derived})
        result = await case_client.send(client, web.settings, ref, spec.update, command)
    except RecordedNotAnswered as exc:
        answer = RecordedAnswer(case=ref, request_id=command.request_id, detail=exc.reason)
        return JSONResponse(answer.model_dump(mode="json"), status_code=202)
    except CliError as exc:
        raise case_problem(exc, ref, command.request_id) from None
    reply = RequestAnswer(**result.model_dump(), request_id=command.request_id)
    headers = {"Idempotent-Replayed": "true"} if reply.duplicate_request else {}
    return JSONResponse(reply.model_dump(mode="json"), status_code=200, headers=headers)


def _endpoint(spec: RequestSpec) -> Callable[..., Awaitable[Response]]:
    async def endpoint(**values: Any) -> Response:
        return await _send(
            values["request"],
            spec,
            values["case_ref"],
            values["body"],
            values["caller"],
            values["idempotency_key"],
        )

    optional = all(not field.is_required() for field in spec.body.model_fields.values())
    body: Any = Annotated[spec.body, Body(default_factory=spec.body) if optional else Body()]
    keyword = inspect.Parameter.KEYWORD_ONLY
    endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter("request", keyword, annotation=Request),
            inspect.Parameter("case_ref", keyword, annotation=CaseRefPath),
            inspect.Parameter("body", keyword, annotation=body),
            inspect.Parameter("caller", keyword, annotation=Changer),
            inspect.Parameter("idempotency_key", keyword, annotation=IdempotencyKey, default=None),
        ],
        return_annotation=Response,
    )
    endpoint.__name__ = "request_" + spec.path.replace("-", "_")
    return endpoint


for _request in REQUESTS:
    router.add_api_route(
        f"/cases/{{case_ref}}/{_request.path}",
        _endpoint(_request),
        methods=["POST"],
        summary=_request.summary,
        response_model=RequestAnswer,
        responses={
            202: {"model": RecordedAnswer, "description": "recorded; its answer did not arrive"},
            **problem_responses(401, 403, 404, 409, 422, 429, 503),
        },
        tags=["case requests"],
    )
