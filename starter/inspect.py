"""`cme show`, `cme cases`, `cme history`: managers' views of cases, read from Temporal.

    cme show CME-7F3A9C21D0B4            # the case file: stage, deadlines, tasks, escalations
    cme cases --overdue --kind destination_not_verified
    cme history CME-7F3A9C21D0B4         # who did what when, from the workflow's history

Every command takes ``--json``.

Personal data: ``cme cases`` lists cases from Temporal visibility (search attributes), which hold
no personal data: the table shows the case reference, kind, stage, school, child-protection flag,
next deadline and overdue flag, never the child. ``cme show`` is the case file an officer works
from, so it names the child (name, date of birth, UPN) as the referral gave them; ``cme history``
shows the people's steps in their own words (a concern, shared information), as the case file
does, but email lines carry only the subjects, which never name the child.

This module also holds what the case commands share (``starter.tasks``, ``starter.referrals``):
argument types (case references, dates, and names, texts, references, emails and LAESTABs checked
with the types of :mod:`domain.types`, as the forms and the worker check them), one-line argument
errors and turning Temporal's answers into one-line :class:`~starter.errors.CliError`\\ s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, NoReturn, TypeVar

from pydantic import TypeAdapter, ValidationError
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import (
    Client,
    RPCTimeoutOrCancelledError,
    WorkflowExecution,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import FailureError
from temporalio.service import RPCError, RPCStatusCode
from workflows.clock import LONDON, local_date
from workflows.models import (
    CaseKind,
    CaseOutcome,
    CaseState,
    EscalationKind,
    Stage,
    TaskStatus,
)

from domain.calendar import human_date
from domain.grounds import RULEBOOK_CITATIONS
from domain.intake import ProfessionalCMEReferral
from domain.types import (
    CaseRef,
    EmailAddress,
    FreeText,
    Laestab,
    Note,
    PersonName,
    PlausibleDate,
    Reference,
    ShortText,
    error_message,
)
from settings import Settings
from starter.connect import connect
from starter.errors import CliError
from starter.timeline import STAGE_WORDS, actor_words, build_timeline, stage_words
from workflows import search_attributes as sa

T = TypeVar("T")

WORKFLOW_TYPE = "CmeCase"
# How long a command waits for the case to answer a query or an update before saying the worker
# seems not to be running (a case answers only through a worker).
ANSWER_TIMEOUT_SECONDS = 30.0

KIND_WORDS = {
    CaseKind.DESTINATION_VERIFIED: "destination verified",
    CaseKind.DESTINATION_NOT_VERIFIED: "destination not verified",
    CaseKind.NOT_ON_ROLL: "not on roll",
}

ESCALATION_WORDS = {
    EscalationKind.MASH: "to MASH and SAT",
    EscalationKind.TEAM_LEADER: "to the team leader",
    EscalationKind.SAT_REFERRAL: "referred to SAT",
    EscalationKind.CTF_OVERDUE: "CTF overdue",
    EscalationKind.CALENDAR_ENDS: "calendar ends",
}

# -- shared by the case commands ---------------------------------------------------------------


def today() -> date:
    """Today in England."""
    return local_date(datetime.now(UTC))


def _shown(text: str) -> str:
    """The value as typed, quoted and escaped (control characters show as ``\\x1b``), cut short."""
    return repr(text) if len(text) <= 40 else repr(text[:37]) + "..."


def typed_arg(adapter: TypeAdapter[T], what: str) -> Callable[[str], T]:
    """An argparse ``type=`` checking the value with a type of :mod:`domain.types`: a bad value is
    one line naming the option and saying why (``cme reassign: error: argument --by: '  ' is not
    a name: must not be empty``), exit 2, before anything is sent."""

    def parse(text: str) -> T:
        try:
            return adapter.validate_python(text)
        except ValidationError as exc:
            why = "; ".join(error_message(e) for e in exc.errors())
            raise argparse.ArgumentTypeError(f"{_shown(text)} is not {what}: {why}") from None

    parse.__name__ = what  # argparse's own messages name the type
    return parse


_CASE_REF: TypeAdapter[str] = TypeAdapter(CaseRef)
_PERSON_NAME: TypeAdapter[str] = TypeAdapter(PersonName)
_SHORT_TEXT: TypeAdapter[str] = TypeAdapter(ShortText)
_FREE_TEXT: TypeAdapter[str] = TypeAdapter(FreeText)
_NOTE: TypeAdapter[str] = TypeAdapter(Note)
_REFERENCE: TypeAdapter[str] = TypeAdapter(Reference)
_EMAIL: TypeAdapter[str] = TypeAdapter(EmailAddress)
_LAESTAB: TypeAdapter[str] = TypeAdapter(Laestab)
_PLAUSIBLE_DATE: TypeAdapter[date] = TypeAdapter(PlausibleDate)

# A case reference as typed (``cme-7f3a…`` is fine): upper case, no spaces.
case_arg = typed_arg(_CASE_REF, "a case reference")
# A person's name (--by, an officer): one line, at most 100 characters.
name_arg = typed_arg(_PERSON_NAME, "a name")
# A short line of text (another LA's name).
short_text_arg = typed_arg(_SHORT_TEXT, "usable text")
# Free text (a concern, information, a reason): line breaks kept, no control characters.
text_arg = typed_arg(_FREE_TEXT, "usable text")
# Optional free text (--note, --advice): blank is "".
note_arg = typed_arg(_NOTE, "a usable note")
# A reference number or code (MASH's reference, the EHE letter's).
reference_arg = typed_arg(_REFERENCE, "a reference")
email_arg = typed_arg(_EMAIL, "an email address")
laestab_arg = typed_arg(_LAESTAB, "a LAESTAB")


def date_arg(text: str) -> date:
    value = text.strip().lower()
    if value == "today":
        return today()
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date: use YYYY-MM-DD, e.g. 2026-03-02, or today"
        ) from None
    try:
        return _PLAUSIBLE_DATE.validate_python(day)
    except ValidationError as exc:
        raise argparse.ArgumentTypeError(error_message(exc.errors()[0])) from None


def one_line_errors(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Argument errors as one line (``cme show: error: ...``) and exit code 2, no usage dump."""

    def error(message: str) -> NoReturn:
        parser.exit(2, f"{parser.prog}: error: {message} (see {parser.prog} --help)\n")

    parser.error = error  # type: ignore[method-assign]
    return parser


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output (JSON)")


def rpc_failure(exc: RPCError, case: str | None, settings: Settings) -> CliError:
    """One line for an error answer from the Temporal server."""
    if exc.status is RPCStatusCode.NOT_FOUND and case is not None:
        if "completed" in exc.message.lower():
            return CliError(f"case {case} is closed: nothing more can be recorded on it")
        return CliError(f"no case {case}")
    if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
        return CliError(
            f"lost the connection to Temporal at {settings.temporal_address}: {exc.message}"
        )
    return CliError(f"Temporal refused the request: {exc.message}")


async def answer(
    awaitable: Awaitable[T], *, case: str, settings: Settings, no_answer: str = ""
) -> T:
    """Await a query, update or history call on ``case``, turning every failure into one line:
    an unknown case, a rejected update (the workflow's reason), no worker answering."""
    try:
        return await asyncio.wait_for(awaitable, ANSWER_TIMEOUT_SECONDS)
    except (TimeoutError, RPCTimeoutOrCancelledError):
        more = f"; {no_answer}" if no_answer else ""
        raise CliError(
            f"case {case} did not answer within {ANSWER_TIMEOUT_SECONDS:g} s: is the worker "
            f"running (task queue {settings.task_queue})?{more}"
        ) from None
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        reason = cause.message if isinstance(cause, FailureError) else str(cause or exc)
        raise CliError(f"rejected: {reason}") from None
    except WorkflowQueryFailedError as exc:
        raise CliError(f"case {case} could not answer: {exc.message}") from None
    except RPCError as exc:
        raise rpc_failure(exc, case, settings) from None


async def case_state(client: Client, case: str, settings: Settings) -> CaseState:
    handle = client.get_workflow_handle(case)
    state: CaseState = await answer(
        handle.query("state", result_type=CaseState), case=case, settings=settings
    )
    return state


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


# -- cme show ----------------------------------------------------------------------------------


def register(subparsers: Any) -> None:
    show = one_line_errors(
        subparsers.add_parser(
            "show",
            help="a case file: stage, deadlines, tasks, escalations, outcome",
            description="Show a case as the workflow holds it now (names the child: the case "
            "file is for officers).",
        )
    )
    show.add_argument("case", type=case_arg, metavar="CASE", help="case reference, CME-…")
    add_json(show)
    show.set_defaults(handler=show_handler)

    cases = one_line_errors(
        subparsers.add_parser(
            "cases",
            help="a table of cases, by kind, stage, school, overdue, child protection",
            description="List cases from Temporal visibility (never names a child). Soonest "
            "deadline first; overdue cases on top.",
        )
    )
    cases.add_argument("--kind", choices=[k.value for k in CaseKind], help="kind of case")
    cases.add_argument("--stage", choices=[s.value for s in Stage], help="stage of the case")
    cases.add_argument("--school", type=laestab_arg, metavar="LAESTAB", help="the school")
    cases.add_argument("--overdue", action="store_true", help="only cases with an overdue task")
    cases.add_argument(
        "--child-protection",
        action="store_true",
        help="only cases with a Child Protection Plan or safeguarding concern",
    )
    cases.add_argument(
        "--limit", type=_positive, default=500, help="at most this many cases (default 500)"
    )
    add_json(cases)
    cases.set_defaults(handler=cases_handler)

    history = one_line_errors(
        subparsers.add_parser(
            "history",
            help="who did what when on a case, from its workflow history",
            description="A manager's timeline of a case: steps, tasks, escalations, emails and "
            "the decision, with who did each (rejected requests leave no trace).",
        )
    )
    history.add_argument("case", type=case_arg, metavar="CASE", help="case reference, CME-…")
    add_json(history)
    history.set_defaults(handler=history_handler)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number, 1 or more")
    return int(text)


async def show_handler(args: argparse.Namespace, settings: Settings) -> int:
    client = await connect(settings)
    state = await case_state(client, args.case, settings)
    if args.json:
        print_json(state_json(state))
    else:
        print("\n".join(state_lines(state)))
    return 0


def _child(state: CaseState) -> tuple[str, date, str | None]:
    referral = state.referral
    child = referral.child if isinstance(referral, ProfessionalCMEReferral) else referral.pupil
    return f"{child.first_name} {child.last_name}", child.date_of_birth, child.upn


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def outcome_json(outcome: CaseOutcome | None) -> dict[str, Any] | None:
    if outcome is None:
        return None
    return {
        "decision": outcome.decision.value,
        "ground": outcome.ground,
        "ground_title": outcome.ground_title,
        "ground_other_rulebook": outcome.ground_other_rulebook,
        "rulebook": outcome.rulebook.value if outcome.rulebook else None,
        "earliest_deletion_date": _iso(outcome.earliest_deletion_date),
        "ctf_destination": outcome.ctf_destination,
        "investigation_outcome": (
            outcome.investigation_outcome.value if outcome.investigation_outcome else None
        ),
        "closure_reason": outcome.closure_reason,
        "duplicate_of": outcome.duplicate_of or None,
        "decided_by": actor_words(outcome.decided_by),
        "decided_at": _iso(outcome.decided_at),
    }


def state_json(state: CaseState) -> dict[str, Any]:
    """The case file as JSON: the keys of ``cme show --json``."""
    name, born, upn = _child(state)
    return {
        "case": state.case,
        "kind": state.kind.value,
        "stage": state.stage.value,
        "school": state.school_laestab,
        "child": {"name": name, "date_of_birth": born.isoformat(), "upn": upn},
        "child_protection": state.child_protection,
        "rulebook": state.rulebook.value if state.rulebook else None,
        "opened_at": _iso(state.opened_at),
        "day1": _iso(state.day1),
        "assigned_officer": state.assigned_officer,
        "referrals_received": state.referrals_received,
        "deadlines": {name: day.isoformat() for name, day in state.deadlines.items()},
        "tasks": [
            {
                "id": t.id,
                "name": t.name.value,
                "assignee": t.assignee.value,
                "status": t.status.value,
                "due": _iso(t.due),
                "overdue": t.overdue,
                "done_by": actor_words(t.done_by) if t.done_by else None,
                "done_at": _iso(t.done_at),
            }
            for t in state.tasks
        ],
        "escalations": [
            {
                "id": e.id,
                "kind": e.kind.value,
                "at": _iso(e.at),
                "reason": e.reason,
                "raised_by": actor_words(e.raised_by),
            }
            for e in state.escalations
        ],
        "enquiries": [
            {
                "id": e.id,
                "by": e.enquiry.by.value,
                "kind": e.enquiry.kind.value,
                "made_on": e.enquiry.made_on.isoformat(),
                "outcome": e.enquiry.outcome.value,
                "note": e.enquiry.note,
                "recorded_by": actor_words(e.recorded_by),
            }
            for e in state.enquiries
        ],
        "information": [
            {
                "id": i.id,
                "information": i.information,
                "shared_by": actor_words(i.shared_by),
                "shared_at": _iso(i.shared_at),
            }
            for i in state.information
        ],
        "investigation_outcome": (
            state.investigation_outcome.value if state.investigation_outcome else None
        ),
        "problems": list(state.problems),
        "outcome": outcome_json(state.outcome),
    }


def _local(moment: datetime) -> str:
    return f"{moment.astimezone(LONDON):%Y-%m-%d %H:%M}"


def state_lines(state: CaseState) -> list[str]:
    """The case file as readable text."""
    name, born, upn = _child(state)
    child = f"{name}, born {human_date(born)}"
    if upn:
        child += f", UPN {upn}"
    rulebook = RULEBOOK_CITATIONS[state.rulebook] if state.rulebook else "not yet set"
    lines = [
        f"case {state.case}: {KIND_WORDS[state.kind]}",
        f"  stage:             {STAGE_WORDS[state.stage]}",
        f"  child:             {child}",
        f"  school:            {state.school_laestab or 'none (not on roll)'}",
        f"  child protection:  {'YES' if state.child_protection else 'no'}",
        f"  rulebook:          {rulebook}",
        f"  opened:            {_local(state.opened_at)}",
    ]
    if state.day1:
        lines.append(f"  day 1:             {human_date(state.day1)}")
    lines.append(f"  officer:           {state.assigned_officer or 'not assigned'}")
    lines.append(f"  referrals:         {state.referrals_received}")
    lines.append("deadlines:" if state.deadlines else "deadlines: none")
    width = max((len(k) for k in state.deadlines), default=0)
    for key, day in sorted(state.deadlines.items(), key=lambda kv: kv[1]):
        lines.append(f"  {key.replace('_', ' '):<{width}}  {human_date(day)}")
    lines.append("tasks:" if state.tasks else "tasks: none")
    for t in state.tasks:
        due = f"due {human_date(t.due)}" if t.due else "no due date"
        flag = "  OVERDUE" if t.overdue and t.status is TaskStatus.OPEN else ""
        done = (
            f", by {actor_words(t.done_by)} {_local(t.done_at)}"
            if t.done_by and t.done_at and t.status is not TaskStatus.OPEN
            else ""
        )
        lines.append(
            f"  {t.id}. {t.name.value.replace('_', ' ')} ({t.assignee.value.replace('_', ' ')})"
            f": {t.status.value}, {due}{done}{flag}"
        )
    lines.append("escalations:" if state.escalations else "escalations: none")
    for e in state.escalations:
        kind = ESCALATION_WORDS.get(e.kind, e.kind.value)
        lines.append(f"  {_local(e.at)}  {kind}, by {actor_words(e.raised_by)}: {e.reason}")
    lines.append("enquiries:" if state.enquiries else "enquiries: none")
    for q in state.enquiries:
        note = f" ({q.enquiry.note})" if q.enquiry.note else ""
        lines.append(
            f"  {human_date(q.enquiry.made_on)}  {q.enquiry.by.value} {q.enquiry.kind.value}, "
            f"{q.enquiry.outcome.value}{note}, recorded by {actor_words(q.recorded_by)}"
        )
    if state.information:
        lines.append("information:")
        for i in state.information:
            lines.append(f"  {_local(i.shared_at)}  {actor_words(i.shared_by)}: {i.information}")
    for problem in state.problems:
        lines.append(f"PROBLEM: {problem}")
    lines.append(f"outcome: {outcome_words(state.outcome)}")
    return lines


def outcome_words(outcome: CaseOutcome | None) -> str:
    if outcome is None:
        return "none yet"
    by = actor_words(outcome.decided_by)
    if outcome.ground:
        parts = [f"deletion authorised on ground {outcome.ground}"]
        if outcome.ground_title:
            parts[0] += f" ({outcome.ground_title})"
        if outcome.ground_other_rulebook:
            parts.append(f"other rulebook {outcome.ground_other_rulebook}")
        if outcome.earliest_deletion_date:
            parts.append(f"may be deleted from {human_date(outcome.earliest_deletion_date)}")
        if outcome.ctf_destination:
            parts.append(f"CTF to {outcome.ctf_destination}")
        return "; ".join(parts) + f"; by {by}"
    return f"closed: {outcome.closure_reason or 'no reason given'}; by {by}"


# -- cme cases ---------------------------------------------------------------------------------


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def cases_query(
    *,
    kind: str | None = None,
    stage: str | None = None,
    school: str | None = None,
    overdue: bool = False,
    child_protection: bool = False,
) -> str:
    """The visibility query of ``cme cases`` for its filters."""
    parts = [f"WorkflowType = {_quote(WORKFLOW_TYPE)}"]
    if kind:
        parts.append(f"{sa.CASE_KIND.name} = {_quote(kind)}")
    if stage:
        parts.append(f"{sa.STAGE.name} = {_quote(stage)}")
    if school:
        parts.append(f"{sa.SCHOOL.name} = {_quote(school)}")
    if overdue:
        parts.append(f"{sa.OVERDUE.name} = true")
    if child_protection:
        parts.append(f"{sa.CHILD_PROTECTION.name} = true")
    return " AND ".join(parts)


def _due_day(deadline: datetime | None) -> date | None:
    """``CmeNextDeadline`` is the local midnight that ends the due day: the day itself."""
    if deadline is None:
        return None
    return (deadline.astimezone(LONDON) - timedelta(seconds=1)).date()


def case_row(execution: WorkflowExecution) -> dict[str, Any]:
    attrs = execution.typed_search_attributes
    due = _due_day(attrs.get(sa.NEXT_DEADLINE))
    return {
        "case": execution.id,
        "kind": attrs.get(sa.CASE_KIND),
        "stage": attrs.get(sa.STAGE),
        "school": attrs.get(sa.SCHOOL) or None,
        "child_protection": bool(attrs.get(sa.CHILD_PROTECTION)),
        "next_deadline": _iso(due),
        "overdue": bool(attrs.get(sa.OVERDUE)),
        "outcome": attrs.get(sa.OUTCOME) or None,
        "ground": attrs.get(sa.GROUND) or None,
        "status": execution.status.name.lower() if execution.status else None,
        "opened_at": _iso(execution.start_time),
    }


def _sort_key(row: dict[str, Any]) -> tuple[bool, str, str]:
    return (not row["overdue"], row["next_deadline"] or "9999-12-31", row["case"])


async def cases_handler(args: argparse.Namespace, settings: Settings) -> int:
    client = await connect(settings)
    query = cases_query(
        kind=args.kind,
        stage=args.stage,
        school=args.school,
        overdue=args.overdue,
        child_protection=args.child_protection,
    )
    rows: list[dict[str, Any]] = []
    try:
        async for execution in client.list_workflows(query, limit=args.limit):
            rows.append(case_row(execution))
    except RPCError as exc:
        raise rpc_failure(exc, None, settings) from None
    rows.sort(key=_sort_key)
    if args.json:
        print_json(rows)
    elif not rows:
        print("no cases")
    else:
        print("\n".join(cases_table(rows)))
    return 0


def cases_table(rows: list[dict[str, Any]]) -> list[str]:
    """Case, kind, stage, school, CP flag, next deadline, overdue: never the child."""
    header = ("CASE", "KIND", "STAGE", "SCHOOL", "CP", "NEXT DEADLINE", "OVERDUE")
    table = [header]
    for row in rows:
        kind = KIND_WORDS.get(row["kind"], row["kind"])  # StrEnum keys match their values
        due = row["next_deadline"]
        table.append(
            (
                row["case"],
                kind or "-",
                stage_words(row["stage"]) if row["stage"] else "-",
                row["school"] or "-",
                "CP" if row["child_protection"] else "",
                human_date(date.fromisoformat(due)) if due else "-",
                "OVERDUE" if row["overdue"] else "",
            )
        )
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in table]


# -- cme history -------------------------------------------------------------------------------


async def history_events(client: Client, case: str, settings: Settings) -> list[HistoryEvent]:
    """The events of the case's latest run, preceded by those of the runs it continued from."""
    runs: list[list[HistoryEvent]] = []
    run_id: str | None = None
    while True:
        handle = client.get_workflow_handle(case, run_id=run_id)

        async def fetch(h: Any = handle) -> list[HistoryEvent]:
            return [event async for event in h.fetch_history_events()]

        events = await answer(fetch(), case=case, settings=settings)
        runs.append(events)
        if not events or len(runs) > 100:
            break
        started = events[0].workflow_execution_started_event_attributes
        run_id = started.continued_execution_run_id or None
        if run_id is None:
            break
    return [event for run in reversed(runs) for event in run]


async def history_handler(args: argparse.Namespace, settings: Settings) -> int:
    client = await connect(settings)
    events = await history_events(client, args.case, settings)
    entries = await build_timeline(events, client.data_converter)
    if args.json:
        print_json([entry.as_json() for entry in entries])
    else:
        print(f"case {args.case}: {len(entries)} entries (times in UK local time)")
        for entry in entries:
            print(entry.line())
    return 0
