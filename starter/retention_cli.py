"""`cme retention` and `cme erase`: the retention rule's daily schedule, and erasure on request.

    cme retention schedule      # create or update the Temporal Schedule cme-retention (idempotent)
    cme retention run           # run it now; prints what the sweep erased
    cme erase CME-… --reason objection --by "Lead Y" [--as team_leader]

The schedule ``cme-retention`` starts the retention sweep (:mod:`workflows.retention`, workflow
id ``cme-retention-sweep-<time>``) every day at 02:00 Europe/London on the task queue; a sweep
still running at the next start time makes that start skipped (overlap policy SKIP). The sweep
erases every case whose latest episode closed more than ``CME_RETENTION_YEARS`` years ago (6 by
default). The period travels in the schedule's action: `cme retention schedule` again after
changing it (`cme dev` and the compose stack run it at start). A paused schedule stays paused.

`cme erase` erases one closed case now, for a right-to-erasure request (UK GDPR Art. 17): the
reason is one of Art. 17(1)'s grounds, as a code (the record of the erasure holds no free text,
so no personal data). Only a team leader may ask (``--as``, self-declared like every role of the
CLI for now: the service has no sign-in yet). An open case is refused: any running run of the
case's workflow. The erasure is a retention sweep of that one case (workflow id
``cme-erase-<CASE>``, rule ``request``); the command waits for it and says what was erased.
Running it again is safe: a case already erased is said to be.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import timedelta
from typing import Any

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionExecutionStartWorkflow,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
    WorkflowFailureError,
    WorkflowHandle,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

from domain.calendar import human_date
from domain.case.model import Role
from domain.clock import local_date
from domain.retention import (
    REQUEST_REASONS,
    CaseErasure,
    ErasureOutcome,
    ErasureReason,
    ErasureRule,
    RetentionInput,
    RetentionResult,
)
from settings import Settings
from starter.args import add_json, case_arg, name_arg, one_line_errors, print_json
from starter.case_client import NOT_RECORDED_EXIT, describe_if_any, is_running
from starter.connect import connect
from starter.errors import CliError
from starter.output import emit
from starter.words import ROLE_WORDS, local_time, stage_words
from workflows import search_attributes as sa
from workflows.retention import RetentionSweep

SCHEDULE_ID = "cme-retention"
SWEEP_WORKFLOW_ID = "cme-retention-sweep"  # the schedule appends the start time
ERASE_WORKFLOW_PREFIX = "cme-erase-"
TIME_ZONE = "Europe/London"
AT_HOUR = 2  # 02:00 local time, when nobody works on cases
# How long `cme erase` and `cme retention run` wait for the sweep's answer.
WAIT_SECONDS = 60.0
TRIGGER_SECONDS = 15.0  # for the schedule to start the sweep it was asked to run now

REASON_WORDS = {
    ErasureReason.RETENTION_PERIOD: "the retention period has passed",
    ErasureReason.NO_LONGER_NECESSARY: "no longer necessary (Art. 17(1)(a))",
    ErasureReason.OBJECTION: "an objection upheld (Art. 17(1)(c))",
    ErasureReason.UNLAWFUL_PROCESSING: "unlawfully processed (Art. 17(1)(d))",
    ErasureReason.LEGAL_OBLIGATION: "a legal obligation to erase (Art. 17(1)(e))",
}


# -- the schedule ----------------------------------------------------------------------------------


def retention_schedule(settings: Settings) -> Schedule:
    """The ``cme-retention`` schedule: every day at 02:00 Europe/London, start a retention sweep
    on the task queue with the settings' retention period; skip a start while a sweep runs."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            RetentionSweep.run,
            RetentionInput(rule=ErasureRule.RETENTION, retention_years=settings.retention_years),
            id=SWEEP_WORKFLOW_ID,
            task_queue=settings.task_queue,
        ),
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(
                    hour=[ScheduleRange(AT_HOUR)],
                    comment="every day at 02:00 (Europe/London)",
                )
            ],
            time_zone_name=TIME_ZONE,
        ),
        policy=SchedulePolicy(
            overlap=ScheduleOverlapPolicy.SKIP,
            # After an outage, one missed day's sweep still runs; older ones are not queued.
            catchup_window=timedelta(days=1),
        ),
    )


async def ensure_retention_schedule(
    client: Client, settings: Settings, schedule_id: str = SCHEDULE_ID
) -> str:
    """Create the schedule, or bring it up to date with the settings (its pause and note are
    kept): ``"created"`` or ``"updated"``. Idempotent."""
    schedule = retention_schedule(settings)
    try:
        await client.create_schedule(schedule_id, schedule)
        return "created"
    except ScheduleAlreadyRunningError:
        pass

    def update(existing: ScheduleUpdateInput) -> ScheduleUpdate:
        schedule.state = existing.description.schedule.state
        return ScheduleUpdate(schedule=schedule)

    await client.get_schedule_handle(schedule_id).update(update)
    return "updated"


def schedule_words(settings: Settings, schedule_id: str = SCHEDULE_ID) -> str:
    return (
        f"schedule {schedule_id}: every day at {AT_HOUR:02d}:00 {TIME_ZONE}, erases the cases "
        f"closed more than {settings.retention_years} year"
        f"{'s' if settings.retention_years != 1 else ''} ago (task queue {settings.task_queue})"
    )


# -- the commands ----------------------------------------------------------------------------------


def register(subparsers: Any) -> None:
    retention = subparsers.add_parser(
        "retention",
        help="the retention rule's daily schedule (cme-retention)",
        description="The Temporal Schedule that erases, every day, the cases whose retention "
        "period (CME_RETENTION_YEARS after they closed) has passed.",
    )
    actions = retention.add_subparsers(dest="action", required=True, metavar="ACTION")
    schedule = one_line_errors(
        actions.add_parser(
            "schedule",
            help="create or update the schedule (idempotent)",
            description="Create the schedule cme-retention, or update it to the settings "
            "(CME_RETENTION_YEARS, CME_TASK_QUEUE); a paused schedule stays paused.",
        )
    )
    add_json(schedule)
    schedule.set_defaults(handler=schedule_handler)
    run = one_line_errors(
        actions.add_parser(
            "run",
            help="run the retention sweep now and say what it erased",
            description="Trigger the schedule now (skipped if a sweep is running: then that "
            "sweep is waited for) and print what the sweep erased.",
        )
    )
    add_json(run)
    run.set_defaults(handler=run_handler)

    erase = one_line_errors(
        subparsers.add_parser(
            "erase",
            help="erase a closed case now (right to erasure; team leader)",
            description="Erase a closed case's personal data now, for a right-to-erasure "
            "request: its data key is destroyed (its Temporal history can no longer be read), "
            "the register keeps only the anonymous facts, its emails leave the mail folder, and "
            "the erasure is recorded without personal data. Refused for an open case.",
        )
    )
    erase.add_argument("case", type=case_arg, metavar="CASE", help="case reference, CME-…")
    erase.add_argument(
        "--reason",
        required=True,
        choices=[r.value for r in REQUEST_REASONS],
        help="the Art. 17(1) UK GDPR ground, as a code (no free text: the record of the erasure "
        "holds no personal data)",
    )
    erase.add_argument(
        "--by", required=True, type=name_arg, metavar="NAME", help="who asks for the erasure"
    )
    erase.add_argument(
        "--as",
        dest="role",
        choices=[Role.SCHOOL.value, Role.CME_OFFICER.value, Role.TEAM_LEADER.value],
        default=Role.TEAM_LEADER.value,
        help="in which role (default team_leader; only a team leader may erase a case)",
    )
    add_json(erase)
    erase.set_defaults(handler=erase_handler)


async def schedule_handler(args: argparse.Namespace, settings: Settings) -> int:
    client = await connect(settings)
    try:
        done = await ensure_retention_schedule(client, settings)
    except RPCError as exc:
        raise CliError(f"Temporal refused the schedule {SCHEDULE_ID}: {exc.message}") from None
    if args.json:
        print_json(
            {
                "schedule": SCHEDULE_ID,
                "done": done,
                "retention_years": settings.retention_years,
                "task_queue": settings.task_queue,
            }
        )
    else:
        emit(f"{schedule_words(settings)}: {done}")
    return 0


async def run_handler(args: argparse.Namespace, settings: Settings) -> int:
    client = await connect(settings)
    handle = client.get_schedule_handle(SCHEDULE_ID)
    try:
        before = await handle.describe()
        seen = {
            a.action.first_execution_run_id
            for a in before.info.recent_actions
            if isinstance(a.action, ScheduleActionExecutionStartWorkflow)
        }
        await handle.trigger()
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            raise CliError(
                f"there is no schedule {SCHEDULE_ID}: create it with `cme retention schedule`"
            ) from None
        raise CliError(f"Temporal refused to run the schedule: {exc.message}") from None
    started = await _triggered(client, seen)
    if started is None:
        raise CliError(
            f"the schedule {SCHEDULE_ID} did not start a sweep within {TRIGGER_SECONDS:g} s"
        )
    workflow_id, run_id = started
    sweep: WorkflowHandle[Any, RetentionResult] = client.get_workflow_handle_for(
        RetentionSweep.run, workflow_id, run_id=run_id
    )
    result = await _wait(sweep, settings)
    if args.json:
        print_json({"workflow_id": workflow_id, **result.model_dump(mode="json")})
    else:
        emit(sweep_lines(workflow_id, result, settings))
    return 0


async def _triggered(client: Client, seen: set[str]) -> tuple[str, str] | None:
    """The sweep the trigger started (a run not in ``seen``), or, when the trigger was skipped
    because a sweep is running, that one."""
    handle = client.get_schedule_handle(SCHEDULE_ID)
    deadline = time.monotonic() + TRIGGER_SECONDS
    while time.monotonic() < deadline:
        info = (await handle.describe()).info
        for result in reversed(info.recent_actions):
            action = result.action
            if isinstance(action, ScheduleActionExecutionStartWorkflow) and (
                action.first_execution_run_id not in seen
            ):
                return action.workflow_id, action.first_execution_run_id
        if info.num_actions_skipped_overlap and info.running_actions:
            running = info.running_actions[0]
            if isinstance(running, ScheduleActionExecutionStartWorkflow):
                return running.workflow_id, running.first_execution_run_id
        await asyncio.sleep(0.2)
    return None


async def _wait(
    handle: WorkflowHandle[Any, RetentionResult], settings: Settings
) -> RetentionResult:
    try:
        return await asyncio.wait_for(handle.result(), WAIT_SECONDS)
    except TimeoutError:
        raise CliError(
            f"the sweep {handle.id} has not finished within {WAIT_SECONDS:g} s: is the worker "
            f"running (task queue {settings.task_queue})? It goes on when it is; its result is "
            f"in Temporal (temporal workflow describe -w {handle.id})",
            exit_code=NOT_RECORDED_EXIT,
        ) from None
    except WorkflowFailureError as exc:
        raise CliError(f"the sweep {handle.id} failed: {exc.cause or exc}") from None


async def erase_handler(args: argparse.Namespace, settings: Settings) -> int:
    case: str = args.case
    if args.role != Role.TEAM_LEADER.value:
        raise CliError(
            f"only a team leader may erase a case, not a {ROLE_WORDS[Role(args.role)]}: "
            "ask the team leader (--as team_leader)"
        )
    client = await connect(settings)
    description = await describe_if_any(client, case, settings)
    if description is not None and is_running(description):
        attributes = description.typed_search_attributes
        raise CliError(
            open_words(case, attributes.get(sa.EPISODE), attributes.get(sa.STAGE)), exit_code=1
        )
    workflow_id = f"{ERASE_WORKFLOW_PREFIX}{case}"
    try:
        handle = await client.start_workflow(
            RetentionSweep.run,
            RetentionInput(
                rule=ErasureRule.REQUEST,
                cases=[case],
                reason=ErasureReason(args.reason),
                by=args.by,
                by_role=args.role,
                retention_years=settings.retention_years,
            ),
            id=workflow_id,
            task_queue=settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
    except RPCError as exc:
        raise CliError(f"Temporal refused the erasure of {case}: {exc.message}") from None
    result = await _wait(handle, settings)
    [erasure] = result.cases
    if args.json:
        print_json({"workflow_id": workflow_id, **erasure.model_dump(mode="json")})
        return 0 if erasure.outcome in (ErasureOutcome.ERASED, ErasureOutcome.ALREADY_ERASED) else 1
    match erasure.outcome:
        case ErasureOutcome.OPEN:
            raise CliError(open_words(case, erasure.open_episode, erasure.open_stage))
        case ErasureOutcome.UNKNOWN:
            raise CliError(
                f"no case {case}: nothing in the register, in Temporal or in the mail folder; "
                "nothing is erased or recorded"
            )
        case ErasureOutcome.FAILED:
            raise CliError(
                f"the erasure of {case} failed ({erasure.error}): nothing is recorded; run the "
                "same command again once the cause is fixed"
            )
    emit(erasure_words(erasure, ErasureReason(args.reason), args.by))
    return 0


# -- words -----------------------------------------------------------------------------------------


def open_words(case: str, episode: int | None, stage: str | None) -> str:
    where = ", ".join(
        part
        for part in (
            f"episode {episode}" if episode is not None else "",
            f"stage {stage_words(stage)}" if stage else "",
        )
        if part
    )
    return (
        f"case {case} is open{f' ({where})' if where else ''}: only a closed case can be erased; "
        "close or withdraw it first"
    )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _when(erasure: CaseErasure) -> str:
    if erasure.erased_at is None:
        return ""
    return local_time(erasure.erased_at)


def erasure_words(erasure: CaseErasure, reason: ErasureReason, by: str) -> str:
    case = erasure.case
    if erasure.outcome is ErasureOutcome.ALREADY_ERASED:
        rule = erasure.rule.value if erasure.rule else "an earlier erasure"
        return (
            f"case {case} was already erased ({rule}, {_when(erasure)}): there is nothing left "
            "to erase, and the erasure is not recorded again"
        )
    key = (
        "its data key is destroyed: its Temporal history can no longer be read"
        if erasure.key_shredded
        else "it had no data key to destroy"
    )
    return (
        f"erased case {case} ({REASON_WORDS[reason]}, asked by {by}, team leader): {key}; the "
        f"register keeps only the anonymous facts of its "
        f"{_plural(erasure.episodes, 'episode')}; "
        f"{_plural(erasure.emails_deleted, 'email')} deleted from the mail folder; recorded "
        f"{_when(erasure)}"
    )


def _case_line(erasure: CaseErasure) -> str:
    match erasure.outcome:
        case ErasureOutcome.ERASED:
            what = (
                f"erased: key {'destroyed' if erasure.key_shredded else 'already gone'}, "
                f"{_plural(erasure.episodes, 'episode')} anonymised, "
                f"{_plural(erasure.emails_deleted, 'email')} deleted"
            )
        case ErasureOutcome.ALREADY_ERASED:
            what = "already erased"
        case ErasureOutcome.OPEN:
            what = "not erased: it is open again (" + (erasure.open_stage or "") + ")"
        case ErasureOutcome.UNKNOWN:
            what = "not found"
        case _:
            what = f"failed ({erasure.error}): the next sweep tries again"
    return f"  {erasure.case}  {what}"


def sweep_lines(workflow_id: str, result: RetentionResult, settings: Settings) -> list[str]:
    cutoff = (
        f"cases closed before {human_date(local_date(result.closed_before))}"
        if result.closed_before is not None
        else "the cases given"
    )
    lines = [f"retention sweep {workflow_id} ({cutoff}):"]
    if result.search_failed:
        lines.append(
            "  the expired cases could not be listed (is the register reachable?): the next "
            "sweep tries again"
        )
    counts = [
        _plural(result.erased, "case") + " erased",
        f"{result.already_erased} already erased",
        f"{result.open} open (not erased)",
        f"{result.failed} failed",
    ]
    lines.append("  " + ", ".join(counts))
    lines += [_case_line(erasure) for erasure in result.cases]
    if len(result.cases) < result.found:
        lines.append(f"  ({result.found - len(result.cases)} more not listed)")
    return lines
