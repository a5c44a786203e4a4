"""How the `cme` command talks to a case: requests sent so that the answer is always the truth,
and the case's state read from the right run.

Sending a request (an update of the ``CmeCaseV2`` workflow, by method reference):

1. the update is started with the request's id as its update id and waits until the case has
   *accepted* it (:data:`ANSWER_TIMEOUT_SECONDS` at most). Only an accepted update is in the
   case's history. When the case does not accept it in time (no worker running), nothing is
   recorded yet: the command says so, says the request may still be applied when the worker
   returns, and that running the same command again is safe, and exits
   :data:`NOT_RECORDED_EXIT`. Safe, because the same request carries the same id: Temporal
   applies an update id once within a run, and the case remembers the ids it has applied
   (``CaseState.requests``) and answers a repeat with the first answer and
   ``duplicate_request`` set;
2. once accepted, the command waits for the answer: the case's result, or its refusal
   (``cme: error: rejected: <the case's reason>``; a refused request leaves no trace);
3. a request to a case whose run has completed (a closed episode) is answered from that run's
   state: the stored answer when the run holds this request id (a duplicate), else "closed".

A referral (``cme refer``) is an update-with-start: the workflow's start is durable even when no
worker runs, so when the case does not answer in time but its run was started by this very
referral (the opening request id in the run's input), the referral *is* recorded and the case
opens when the worker runs; the command says exactly that.

Cases still on version 1 (workflow type ``CmeCase``) are refused with a pointer to
``cme migrate``: their updates and state are version 1's.

Used by every trusted client (the ``cme`` command, the web app). Every failure is a
:class:`starter.errors.CaseError` whose class says what happened (refused, not recorded,
recorded but not answered, no such case, closed, unavailable): the CLI prints its ``message``,
the web app its ``reason`` (the same without the command line's words).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import UpdateWorkflowExecutionLifecycleStage
from temporalio.api.update.v1 import UpdateRef, WaitPolicy
from temporalio.api.workflowservice.v1 import PollWorkflowExecutionUpdateRequest
from temporalio.client import (
    Client,
    RPCTimeoutOrCancelledError,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateHandle,
    WorkflowUpdateStage,
)
from temporalio.exceptions import ApplicationError, FailureError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.workflow import UpdateMethodMultiParam

from domain.calendar import human_date
from domain.case.commands import CaseInput, RegisterReferral, Request
from domain.case.machine import request_fingerprint
from domain.case.model import Actor, CaseOutcome, CommandResult, Role
from domain.case.state import CaseState, RequestRecord
from domain.clock import local_date
from domain.intake import AnyReferral
from domain.types import printable
from settings import Settings
from starter.cases import (
    case_reference,
    read_start_failure,
    referral_update,
    start_operation,
)
from starter.errors import (
    CaseClosed,
    CaseError,
    CaseOnVersion1,
    CaseRefused,
    CaseUnavailable,
    CliError,
    NoSuchCase,
    NotRecorded,
    RecordedNotAnswered,
)
from starter.visibility import UNAVAILABLE_WORDS, V1_WORKFLOW_TYPE, quote, rpc_failure
from workflows import search_attributes as sa
from workflows.case import WORKFLOW_TYPE, CmeCase

T = TypeVar("T")

# How long a command waits for the case to accept a request, answer it, or answer a query,
# before saying the worker seems not to be running (a case answers only through a worker).
ANSWER_TIMEOUT_SECONDS = 30.0
# The exit code of a request that is not recorded yet (sysexits' EX_TEMPFAIL: try again).
NOT_RECORDED_EXIT = 75

CaseHandle = WorkflowHandle[CmeCase, CaseOutcome | None]


def no_answer(case: str, settings: Settings) -> str:
    return (
        f"case {case} did not answer within {ANSWER_TIMEOUT_SECONDS:g} s: is the worker running "
        f"(task queue {settings.task_queue})?"
    )


def not_recorded(case: str, request_id: str, settings: Settings) -> NotRecorded:
    """The request was not accepted in time: nothing is recorded yet, and sending it again is
    safe (one line; exit :data:`NOT_RECORDED_EXIT`)."""
    return NotRecorded(
        f"case {case} did not answer within {ANSWER_TIMEOUT_SECONDS:g} s: the worker seems not "
        f"to be running (task queue {settings.task_queue}). Nothing is recorded yet; the request "
        "may still be applied when the worker returns. Running the same command again is safe: "
        f"it is applied once (request id {request_id}).",
        reason=(
            "The case did not answer in time, so nothing is recorded yet (it may still be applied "
            "when the service catches up). Sending the same form again is safe: it is applied "
            "once."
        ),
        exit_code=NOT_RECORDED_EXIT,
    )


def refusal(exc: WorkflowUpdateFailedError) -> CaseError:
    """The case refused the request (its validator, or its handler): the case's reason."""
    cause = exc.cause
    if isinstance(cause, ApplicationError) and cause.type == "Rejected":
        words = printable(cause.message, limit=4000)
        return CaseRefused(f"rejected: {words}", reason=words)
    if isinstance(cause, ApplicationError) and cause.type == "InternalError":
        return CaseError(cause.message)
    reason = cause.message if isinstance(cause, FailureError) else str(cause or exc)
    return CaseError(f"the case could not take the request: {reason}")


def _is_not_found(exc: RPCError) -> bool:
    return exc.status is RPCStatusCode.NOT_FOUND


def _is_completed(exc: RPCError) -> bool:
    return _is_not_found(exc) and "completed" in exc.message.lower()


async def within(awaitable: Awaitable[T], timeout: float | None = None) -> T:
    """``awaitable``, or :class:`TimeoutError` after ``timeout`` (default
    :data:`ANSWER_TIMEOUT_SECONDS`, read when called so that tests can shorten it)."""
    return await asyncio.wait_for(awaitable, ANSWER_TIMEOUT_SECONDS if timeout is None else timeout)


# -- finding the case's run --------------------------------------------------------------------


async def describe_if_any(
    client: Client, case: str, settings: Settings
) -> WorkflowExecutionDescription | None:
    """The case's latest run, or ``None`` when there is no such case."""
    try:
        return await within(client.get_workflow_handle(case).describe())
    except (TimeoutError, RPCTimeoutOrCancelledError):
        raise CaseUnavailable(
            f"Temporal at {settings.temporal_address} did not answer within "
            f"{ANSWER_TIMEOUT_SECONDS:g} s",
            reason=UNAVAILABLE_WORDS,
        ) from None
    except RPCError as exc:
        if _is_not_found(exc):
            return None
        raise rpc_failure(exc, case, settings) from None


async def describe(client: Client, case: str, settings: Settings) -> WorkflowExecutionDescription:
    """The case's latest run; ``no case`` when there is none."""
    description = await describe_if_any(client, case, settings)
    if description is None:
        raise NoSuchCase(f"no case {case}")
    return description


def refuse_version_1(description: WorkflowExecutionDescription, case: str) -> None:
    if description.workflow_type == V1_WORKFLOW_TYPE:
        raise CaseOnVersion1(
            f"case {case} is still on version 1 of the service: run `cme migrate` (with the "
            "worker running) to move it to version 2, then try again",
            reason=f"Case {case} is still on version 1 of the service: ask the service's "
            "operator to move it to version 2 (cme migrate), then try again.",
        )


def is_running(description: WorkflowExecutionDescription) -> bool:
    return description.status is WorkflowExecutionStatus.RUNNING


def case_handle(client: Client, case: str, run_id: str | None = None) -> CaseHandle:
    return client.get_workflow_handle_for(CmeCase.run, case, run_id=run_id)


async def episode_run(client: Client, case: str, episode: int, settings: Settings) -> str:
    """The run id of ``case``'s episode ``episode``, from visibility (``CmeEpisode``); of a long
    episode continued as new, its last run, which carries the whole episode."""
    query = f"WorkflowId = {quote(case)} AND {sa.EPISODE.name} = {episode}"
    runs = []
    try:
        async for execution in client.list_workflows(query):
            runs.append(execution)
        if not runs and episode == 1:
            v1 = f"WorkflowId = {quote(case)} AND WorkflowType = {quote(V1_WORKFLOW_TYPE)}"
            async for _ in client.list_workflows(v1, limit=1):
                raise CaseOnVersion1(
                    f"episode 1 of case {case} ran on version 1 of the service: its history is "
                    "in the Temporal Web UI (or move a running case to version 2 with "
                    "`cme migrate`)"
                )
    except RPCError as exc:
        raise rpc_failure(exc, None, settings) from None
    if not runs:
        raise NoSuchCase(f"case {case} has no episode {episode}")
    last = max(
        runs,
        key=lambda r: (r.status is not WorkflowExecutionStatus.CONTINUED_AS_NEW, r.start_time),
    )
    return last.run_id


# -- reading the state -------------------------------------------------------------------------


async def query_state(handle: CaseHandle, case: str, settings: Settings) -> CaseState:
    try:
        return await within(handle.query(CmeCase.state))
    except (TimeoutError, RPCTimeoutOrCancelledError):
        raise CaseUnavailable(
            no_answer(case, settings),
            reason=f"Case {case} did not answer in time: the service may be catching up. Try "
            "again in a few minutes.",
        ) from None
    except WorkflowQueryFailedError as exc:
        raise CaseUnavailable(f"case {case} could not answer: {exc.message}") from None
    except RPCError as exc:
        raise rpc_failure(exc, case, settings) from None


async def case_state(
    client: Client, case: str, settings: Settings, *, episode: int | None = None
) -> CaseState:
    """The state of ``case``'s latest run, or of its episode ``episode``."""
    if episode is None:
        description = await describe(client, case, settings)
        refuse_version_1(description, case)
        run_id = description.run_id
    else:
        run_id = await episode_run(client, case, episode, settings)
    return await query_state(case_handle(client, case, run_id), case, settings)


async def state_if_answering(client: Client, case: str, settings: Settings) -> CaseState | None:
    """The state of ``case``'s latest run if it answers now; ``None`` if it does not (no
    worker). No case, or a version 1 case, is still an error."""
    description = await describe(client, case, settings)
    refuse_version_1(description, case)
    try:
        return await query_state(case_handle(client, case, description.run_id), case, settings)
    except CliError:
        return None


# -- sending a request -------------------------------------------------------------------------


def stored_answer(state: CaseState, command: Request) -> CommandResult | None:
    """The answer the case gave ``command`` before (as a duplicate), if it applied it."""
    record: RequestRecord | None = next(
        (r for r in state.requests if r.request_id == command.request_id), None
    )
    if record is None:
        return None
    if record.fingerprint != request_fingerprint(command):
        used = human_date(local_date(record.at))
        raise CaseRefused(
            f"rejected: request id {command.request_id} was already used on {used} for a "
            "different request: send a new request id",
            reason=f"This form was already sent on {used} with different answers: start the "
            "form again to send a new request.",
        )
    return record.result.model_copy(update={"duplicate_request": True})


async def earlier_answer(
    client: Client, case: str, run_id: str, request_id: str
) -> CommandResult | None:
    """The answer the run ``run_id`` gave the update ``request_id``, if it has already applied
    it (as a duplicate); ``None`` if it has not (or not yet). Asked of the server, which keeps
    every applied update's outcome: no worker needed.

    Temporal applies an update id once per run and answers a repeat with the first outcome as it
    was, so this is how the command can tell the person that the request was already recorded.
    """
    request = PollWorkflowExecutionUpdateRequest(
        namespace=client.namespace,
        update_ref=UpdateRef(
            workflow_execution=WorkflowExecution(workflow_id=case, run_id=run_id),
            update_id=request_id,
        ),
        identity=client.identity,
        # the stage it is at now, at once (an update is at least admitted)
        wait_policy=WaitPolicy(
            lifecycle_stage=UpdateWorkflowExecutionLifecycleStage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED
        ),
    )
    try:
        response = await within(client.workflow_service.poll_workflow_execution_update(request))
    except (RPCError, TimeoutError, RPCTimeoutOrCancelledError):
        return None  # unknown here (or no answer): the update itself will tell
    if not response.HasField("outcome") or not response.outcome.HasField("success"):
        return None
    try:
        [value] = await client.data_converter.decode(
            response.outcome.success.payloads, [CommandResult]
        )
    except Exception:
        return None
    if not isinstance(value, CommandResult):
        return None
    return value.model_copy(update={"duplicate_request": True})


async def same_request(
    client: Client, case: str, run_id: str, command: Request, settings: Settings
) -> None:
    """Refuse ``command`` when its request id was used for a different request (the case keeps
    each request's fingerprint). Temporal answers an update id it has seen with the first
    outcome whatever the content, so this is asked of the case; when the case cannot answer
    now, the id is taken at its word (a derived id is the content's own)."""
    try:
        state = await query_state(case_handle(client, case, run_id), case, settings)
    except CliError:
        return
    stored_answer(state, command)


async def closed_answer(
    client: Client, case: str, run_id: str, command: Request, settings: Settings
) -> CommandResult:
    """A request to a completed run: its stored answer if it applied it, else "closed"."""
    try:
        state = await query_state(case_handle(client, case, run_id), case, settings)
    except CliError as exc:
        raise CaseClosed(
            f"case {case} is closed: nothing more can be recorded on it (whether it recorded "
            f"this very request before cannot be checked now: {exc.message})"
        ) from None
    answer = stored_answer(state, command)
    if answer is not None:
        return answer
    raise CaseClosed(
        f"case {case} is closed (episode {state.episode}): nothing more can be recorded on it"
    )


async def send(
    client: Client,
    settings: Settings,
    case: str,
    update: UpdateMethodMultiParam[[CmeCase, Any], CommandResult],
    command: Request,
) -> CommandResult:
    """Send ``command`` to ``case`` with ``update`` (e.g. ``CmeCase.record_enquiry``) and return
    the case's answer; every other ending is a one-line :class:`CliError`."""
    description = await describe(client, case, settings)
    refuse_version_1(description, case)
    command = _acting_for_the_case(command, description)
    if not is_running(description):
        return await closed_answer(client, case, description.run_id, command, settings)
    earlier = await earlier_answer(client, case, description.run_id, command.request_id)
    if earlier is not None:
        await same_request(client, case, description.run_id, command, settings)
        return earlier
    handle = case_handle(client, case)
    try:
        started: WorkflowUpdateHandle[CommandResult] = await within(
            handle.start_update(
                update,
                command,
                id=command.request_id,
                wait_for_stage=WorkflowUpdateStage.ACCEPTED,
            )
        )
    except (TimeoutError, RPCTimeoutOrCancelledError):
        raise not_recorded(case, command.request_id, settings) from None
    except RPCError as exc:
        if _is_completed(exc):  # the run completed as the request arrived
            latest = await describe(client, case, settings)
            return await closed_answer(client, case, latest.run_id, command, settings)
        raise rpc_failure(exc, case, settings) from None
    return await _answer(started, case)


def _acting_for_the_case(command: Request, description: WorkflowExecutionDescription) -> Request:
    """A school user named without schools (``--as school`` and no ``--school``) acts for the
    case's own school, from its search attribute (no personal data)."""
    by = command.by
    if by.role is not Role.SCHOOL or by.schools:
        return command
    school = description.typed_search_attributes.get(sa.SCHOOL)
    if not school:
        raise CliError(
            "--school: this case has no school of its own; say which school you act for",
            exit_code=2,
        )
    return command.model_copy(update={"by": by.model_copy(update={"schools": (school,)})})


async def _answer(started: WorkflowUpdateHandle[CommandResult], case: str) -> CommandResult:
    """The accepted request's answer (the case's refusal is a :class:`CliError`)."""
    try:
        return await within(started.result())
    except WorkflowUpdateFailedError as exc:
        raise refusal(exc) from None
    except (TimeoutError, RPCTimeoutOrCancelledError):
        raise RecordedNotAnswered(
            f"case {case} accepted the request (it is recorded), but its answer did not arrive "
            f"within {ANSWER_TIMEOUT_SECONDS:g} s: see `cme show {case}`",
            reason=f"Case {case} recorded the request, but its answer did not arrive in time: "
            "see the case page.",
        ) from None
    except RPCError as exc:
        raise RecordedNotAnswered(
            f"case {case} accepted the request (it is recorded): {exc.message}"
        ) from None


# -- referrals -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Referred:
    """What became of a referral: the case's answer, or (no worker answering) the case's run
    started by this referral, which opens the case when the worker runs."""

    case: str
    request_id: str
    result: CommandResult | None  # None: recorded, not yet answered
    opened_earlier: bool = False  # the referral opened the case before this command ran


async def opened_by(client: Client, case: str, request_id: str) -> bool:
    """Whether the case's latest run was started by the request ``request_id`` (its input's
    opening referral): then that referral is recorded, whether or not a worker has run."""
    try:
        handle = client.get_workflow_handle(case)
        async for event in handle.fetch_history_events(page_size=1):
            attrs = event.workflow_execution_started_event_attributes
            if attrs.workflow_type.name != WORKFLOW_TYPE:
                return False
            [value] = await client.data_converter.decode(attrs.input.payloads, [CaseInput])
            return isinstance(value, CaseInput) and value.opening.request_id == request_id
    except (RPCError, RPCTimeoutOrCancelledError, ValueError):
        return False
    return False


async def refer(
    client: Client,
    settings: Settings,
    referral: AnyReferral,
    by: Actor,
    *,
    request_id: str | None = None,
) -> Referred:
    """Open the child's case with ``referral``, or deliver it to the child's open case."""
    secret = settings.case_key_secret.get_secret_value()
    case = case_reference(referral, secret)
    update = referral_update(referral, by, request_id, secret=secret)
    assert isinstance(update, RegisterReferral)
    description = await describe_if_any(client, case, settings)
    if description is not None and is_running(description):
        refuse_version_1(description, case)
        earlier = await earlier_answer(client, case, description.run_id, update.request_id)
        if earlier is not None:
            await same_request(client, case, description.run_id, update, settings)
            return Referred(case=case, request_id=update.request_id, result=earlier)
    if (
        description is not None
        and not is_running(description)
        and description.workflow_type == WORKFLOW_TYPE
    ):
        # The child's last episode is closed: a new referral opens the next one, but the same
        # referral sent again must not.
        state = await _closed_state_for_referral(client, case, description.run_id, update, settings)
        answer = stored_answer(state, update)
        if answer is not None:
            return Referred(case=case, request_id=update.request_id, result=answer)
    operation = start_operation(
        case, update, task_queue=settings.task_queue, policy=settings.case_policy
    )
    try:
        try:
            started: WorkflowUpdateHandle[CommandResult] = await within(
                client.start_update_with_start_workflow(
                    CmeCase.register_referral,
                    update,
                    start_workflow_operation=operation,
                    id=update.request_id,
                    wait_for_stage=WorkflowUpdateStage.ACCEPTED,
                )
            )
        finally:
            read_start_failure(operation)
    except (TimeoutError, RPCTimeoutOrCancelledError):
        if await opened_by(client, case, update.request_id):
            return Referred(
                case=case,
                request_id=update.request_id,
                result=None,
                opened_earlier=description is not None and is_running(description),
            )
        raise not_recorded(case, update.request_id, settings) from None
    except RPCError as exc:
        raise rpc_failure(exc, None, settings) from None
    return Referred(case=case, request_id=update.request_id, result=await _answer(started, case))


async def _closed_state_for_referral(
    client: Client, case: str, run_id: str, update: RegisterReferral, settings: Settings
) -> CaseState:
    try:
        return await query_state(case_handle(client, case, run_id), case, settings)
    except CliError as exc:
        raise NotRecorded(
            f"the child's case {case} has a closed episode, and whether it already took this "
            f"referral cannot be checked now ({exc.message}). Nothing is recorded yet; running "
            "the same command again once the worker runs is safe: it is applied once (request "
            f"id {update.request_id}).",
            reason="The child's case has a closed episode and the service cannot check just now "
            "whether it already took this referral, so nothing is recorded yet. Sending the same "
            "referral again in a few minutes is safe: it is applied once.",
            exit_code=NOT_RECORDED_EXIT,
        ) from None
