"""`cme show` and `cme cases`: managers' views of cases, read from Temporal.

    cme show CME-7F3A9C21D0B4               # the case file: stage, deadlines, tasks, problems
    cme show CME-7F3A9C21D0B4 --episode 1   # an earlier episode of the same child's case
    cme cases --overdue --kind destination_not_verified
    cme cases --problems                    # cases with a problem the service could not fix
    cme cases --repeat                      # children with an earlier CME episode

(``cme history`` is :mod:`starter.history`.) Every command takes ``--json``.

Personal data: ``cme cases`` lists cases from Temporal visibility (search attributes), which hold
no personal data: the table shows the case reference, episode, kind, stage, school, next deadline
and flags (overdue, child protection, problem), never the child. ``cme show`` is the case file an
officer works from, so it names the child (name, date of birth, UPN) as the referral gave them.

``cme show --json`` (a stable shape; keys are never removed, new ones may be added)::

    {"case", "episode", "repeat",
     "earlier_episodes": [{"episode", "kind", "opened_at", "closed_at", "child_protection",
                           "decision", "investigation_outcome", "ground"}],
     "kind", "stage", "school", "child": {"name", "date_of_birth", "upn"}, "child_protection",
     "rulebook", "opened_at", "day1", "assigned_officer", "referrals_received", "referred_by",
     "deadlines": {"sat_referral", "threshold_day", "deletion_permitted_from", "ctf",
                   "mash_call"},                     # ISO dates, or null
     "deadline_names": {the same keys: "referral to SAT (end of day 10)", "day 20" (or
                        "day 10 after leave"), "deletion permitted from", "CTF due",
                        "MASH call due"},
     "return": {"ground", "ground_title", "ctf_destination", "leaving_date"} | null,
                                                     # destination verified, before the decision
     "tasks": [{"id", "name", "assignee", "status", "due", "overdue", "done_by", "done_at"}],
     "escalations": [{"id", "kind", "at", "reason", "raised_by"}],
     "enquiries": [{"id", "by", "kind", "made_on", "outcome", "note", "recorded_by"}],
     "information": [{"id", "information", "shared_by", "shared_at"}],
     "conclusion": {"outcome", "by", "at", "new_school_laestab", "other_la",
                    "ehe_letter_reference", "note"} | null,
     "ctf": {"destination_code", "sent_on", "on_time", "by"} | null,
     "problems": [{"id", "open", "kind", "subject", "detail", "raised_at", "last_attempt_at",
                   "attempts", "cleared_at"}],       # open ones first
     "outcome": {"decision", "ground", "ground_title", "ground_other_rulebook", "rulebook",
                 "earliest_deletion_date", "ctf_destination", "investigation_outcome",
                 "closure_reason", "duplicate_of", "decided_by", "decided_at"} | null}

Moments are ISO 8601 in UTC, dates ISO; people are ``"Name (role)"``.

``cme cases --json`` is a JSON array of ``{"case", "episode", "repeat", "version" (1 or 2), "kind",
"stage", "school", "child_protection", "next_deadline", "overdue", "problem", "outcome",
"ground", "status" (the run's Temporal status), "opened_at" (the run's start)}``: one row per
episode, from its latest run (a long episode's earlier runs, continued as new, are left out, as
is an episode whose run went straight on into the child's next episode).

``cme cases`` streams (issue 11, target 5; ``python -m benchmarks.open_cases``): it asks Temporal
for a page of rows at a time (:data:`PAGE_SIZE`) and writes each page as it arrives, so that a
caseload of tens of thousands lists in seconds and in the memory of one page. The table's columns
have fixed widths for that reason; ``--json`` writes one array, a row a line (``[``, the rows,
``]``), so it is both one JSON document and readable line by line. The order comes from the
queries, not from sorting (SQL visibility cannot sort by a search attribute): overdue cases first
(``--overdue`` is that one query), then the others; within each, Temporal's order, open cases
before closed ones and the latest opened first. Every row comes from the listing's own search
attributes: no request per case. Every case is listed by default; ``--limit N`` stops after N.

This module also holds what the case commands share (``starter.tasks``, ``starter.referrals``,
``starter.history``): argument types (case references, dates, and names, texts, references, emails
and LAESTABs checked with the types of :mod:`domain.types`, as the forms and the worker check
them) and one-line argument errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from temporalio.api.workflow.v1 import WorkflowExecutionInfo
from temporalio.api.workflowservice.v1 import (
    ListWorkflowExecutionsRequest,
    ListWorkflowExecutionsResponse,
)
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import SearchAttributeIndexedValueType, SearchAttributeKey
from temporalio.service import RPCError

from domain.calendar import human_date
from domain.case.model import (
    Actor,
    CaseKind,
    CaseOutcome,
    Problem,
    Stage,
    TaskStatus,
)
from domain.case.state import CaseState
from domain.clock import LONDON
from domain.enquiries import BY_WORDS
from domain.grounds import RULEBOOK_CITATIONS, UnknownGroundError, find_ground, rulebook_for
from domain.intake import PupilMigrationReturn
from settings import Settings
from starter.args import add_json, case_arg, episode_arg, laestab_arg, one_line_errors, print_json
from starter.case_client import (
    CASE_WORKFLOW_TYPES,
    V1_WORKFLOW_TYPE,
    case_state,
    quote,
    rpc_failure,
)
from starter.connect import connect
from starter.output import emit
from starter.words import (
    ESCALATION_WORDS,
    KIND_WORDS,
    ROLE_WORDS,
    STAGE_WORDS,
    TASK_WORDS,
    actor_words,
    deadline_names,
    episode_words,
    iso,
    kind_words,
    local_time,
    outcome_words,
    problem_words,
    stage_words,
)
from workflows import search_attributes as sa

# -- cme show ----------------------------------------------------------------------------------


def register(subparsers: Any) -> None:
    show = one_line_errors(
        subparsers.add_parser(
            "show",
            help="a case file: episode, stage, deadlines, tasks, problems, outcome",
            description="Show a case as the workflow holds it now (names the child: the case "
            "file is for officers).",
        )
    )
    show.add_argument("case", type=case_arg, metavar="CASE", help="case reference, CME-…")
    show.add_argument(
        "--episode",
        type=episode_arg,
        metavar="N",
        help="an earlier episode of the child's case (default: the latest)",
    )
    add_json(show)
    show.set_defaults(handler=show_handler)

    cases = one_line_errors(
        subparsers.add_parser(
            "cases",
            help="a table of cases, by kind, stage, school, overdue, child protection, problems",
            description="List cases from Temporal visibility (never names a child), a page "
            "at a time as they arrive: overdue cases on top, then the others; in each part "
            "open cases before closed ones, the latest opened first.",
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
        "--problems",
        action="store_true",
        help="only cases with an open problem (an email, the register or the calendar failed)",
    )
    cases.add_argument(
        "--repeat", action="store_true", help="only repeat episodes (an earlier CME episode)"
    )
    cases.add_argument(
        "--limit", type=_positive, metavar="N", help="at most N cases (default: every one)"
    )
    add_json(cases)
    cases.set_defaults(handler=cases_handler)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number, 1 or more")
    return int(text)


async def show_handler(args: argparse.Namespace, settings: Settings) -> int:
    client = await connect(settings)
    state = await case_state(client, args.case, settings, episode=args.episode)
    if args.json:
        print_json(state_json(state))
    else:
        emit(state_lines(state))
    return 0


def _child(state: CaseState) -> tuple[str, date, str | None]:
    child = state.child
    return f"{child.first_name} {child.last_name}", child.date_of_birth, child.upn


def _who(actor: Actor | None) -> str | None:
    return actor_words(actor) if actor is not None else None


def outcome_json(outcome: CaseOutcome | None) -> dict[str, Any] | None:
    if outcome is None:
        return None
    return {
        "decision": outcome.decision.value,
        "ground": outcome.ground,
        "ground_title": outcome.ground_title,
        "ground_other_rulebook": outcome.ground_other_rulebook,
        "rulebook": outcome.rulebook.value if outcome.rulebook else None,
        "earliest_deletion_date": iso(outcome.earliest_deletion_date),
        "ctf_destination": outcome.ctf_destination,
        "investigation_outcome": (
            outcome.investigation_outcome.value if outcome.investigation_outcome else None
        ),
        "closure_reason": outcome.closure_reason,
        "duplicate_of": outcome.duplicate_of or None,
        "decided_by": actor_words(outcome.decided_by),
        "decided_at": iso(outcome.decided_at),
    }


def return_details(state: CaseState) -> dict[str, Any] | None:
    """A destination-verified case's return (its ground and CTF destination) while the
    decision is still to make; ``None`` otherwise."""
    referral = state.referral
    if not isinstance(referral, PupilMigrationReturn) or state.outcome is not None:
        return None
    try:
        title: str | None = find_ground(referral.ground, rulebook_for(referral.leaving_date)).title
    except UnknownGroundError:
        title = None
    return {
        "ground": referral.ground,
        "ground_title": title,
        "ctf_destination": referral.destination.ctf_code,
        "leaving_date": referral.leaving_date.isoformat(),
    }


def problems_in_order(state: CaseState) -> list[Problem]:
    """Open problems first (oldest first), then the cleared ones."""
    return sorted(state.problems, key=lambda p: (p.cleared_at is not None, p.raised_at, p.id))


def problem_json(problem: Problem) -> dict[str, Any]:
    return {
        "id": problem.id,
        "open": problem.cleared_at is None,
        "kind": problem.kind.value,
        "subject": problem.subject,
        "detail": problem.detail,
        "raised_at": iso(problem.raised_at),
        "last_attempt_at": iso(problem.last_attempt_at),
        "attempts": problem.attempts,
        "cleared_at": iso(problem.cleared_at),
    }


def state_json(state: CaseState) -> dict[str, Any]:
    """The case file as JSON: the keys of ``cme show --json`` (see the module's docstring)."""
    name, born, upn = _child(state)
    conclusion = state.conclusion
    ctf = state.ctf
    return {
        "case": state.case,
        "episode": state.episode,
        "repeat": state.repeat,
        "earlier_episodes": [
            {
                "episode": e.episode,
                "kind": e.kind.value,
                "opened_at": iso(e.opened_at),
                "closed_at": iso(e.closed_at),
                "child_protection": e.child_protection,
                "decision": e.decision.value if e.decision else None,
                "investigation_outcome": (
                    e.investigation_outcome.value if e.investigation_outcome else None
                ),
                "ground": e.ground,
            }
            for e in state.earlier_episodes
        ],
        "kind": state.kind.value,
        "stage": state.stage.value,
        "school": state.school_laestab,
        "child": {"name": name, "date_of_birth": born.isoformat(), "upn": upn},
        "child_protection": state.child_protection,
        "rulebook": state.rulebook.value if state.rulebook else None,
        "opened_at": iso(state.opened_at),
        "day1": iso(state.day1),
        "assigned_officer": state.assigned_officer,
        "referrals_received": state.referrals_received,
        "referred_by": actor_words(state.referred_by),
        "deadlines": {
            field: iso(getattr(state.deadlines, field)) for field in deadline_names(state)
        },
        "deadline_names": deadline_names(state),
        "return": return_details(state),
        "tasks": [
            {
                "id": t.id,
                "name": t.name.value,
                "assignee": t.assignee.value,
                "status": t.status.value,
                "due": iso(t.due),
                "overdue": t.overdue,
                "done_by": _who(t.done_by),
                "done_at": iso(t.done_at),
            }
            for t in state.tasks
        ],
        "escalations": [
            {
                "id": e.id,
                "kind": e.kind.value,
                "at": iso(e.at),
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
                "shared_at": iso(i.shared_at),
            }
            for i in state.information
        ],
        "conclusion": (
            {
                "outcome": conclusion.outcome.value,
                "by": actor_words(conclusion.by),
                "at": iso(conclusion.at),
                "new_school_laestab": conclusion.new_school_laestab,
                "other_la": conclusion.other_la,
                "ehe_letter_reference": conclusion.ehe_letter_reference,
                "note": conclusion.note,
            }
            if conclusion is not None
            else None
        ),
        "ctf": (
            {
                "destination_code": ctf.destination_code,
                "sent_on": ctf.sent_on.isoformat(),
                "on_time": ctf.on_time,
                "by": actor_words(ctf.by),
            }
            if ctf is not None
            else None
        ),
        "problems": [problem_json(p) for p in problems_in_order(state)],
        "outcome": outcome_json(state.outcome),
    }


def episode_heading(state: CaseState) -> str:
    text = f"episode {state.episode}"
    if state.repeat:
        earlier = len(state.earlier_episodes)
        text += f" (REPEAT: {earlier} earlier episode{'s' if earlier != 1 else ''})"
    return text


def state_lines(state: CaseState) -> list[str]:
    """The case file as readable text."""
    name, born, upn = _child(state)
    child = f"{name}, born {human_date(born)}"
    if upn:
        child += f", UPN {upn}"
    rulebook = RULEBOOK_CITATIONS[state.rulebook] if state.rulebook else "not yet set"
    lines = [
        f"case {state.case}: {kind_words(state.kind)}, {episode_heading(state)}",
        f"  stage:             {STAGE_WORDS[state.stage]}",
        f"  child:             {child}",
        f"  school:            {state.school_laestab or 'none (not on roll)'}",
        f"  child protection:  {'YES' if state.child_protection else 'no'}",
        f"  rulebook:          {rulebook}",
        f"  opened:            {local_time(state.opened_at)}, by {actor_words(state.referred_by)}",
    ]
    if state.day1:
        lines.append(f"  day 1:             {human_date(state.day1)}")
    lines.append(f"  officer:           {state.assigned_officer or 'not assigned'}")
    lines.append(f"  referrals:         {state.referrals_received}")
    if state.earlier_episodes:
        lines.append("earlier episodes:")
        lines += [f"  {episode_words(e)}" for e in state.earlier_episodes]
    returned = return_details(state)
    if returned is not None:
        title = f" ({returned['ground_title']})" if returned["ground_title"] else ""
        lines.append("return (destination verified):")
        lines.append(f"  ground:            {returned['ground']}{title}")
        lines.append(f"  CTF destination:   {returned['ctf_destination']}")
        lines.append(
            f"  left on:           {human_date(date.fromisoformat(returned['leaving_date']))}"
        )
    lines += _deadline_lines(state)
    lines.append("tasks:" if state.tasks else "tasks: none")
    for t in state.tasks:
        due = f"due {human_date(t.due)}" if t.due else "no due date"
        flag = "  OVERDUE" if t.overdue and t.status is TaskStatus.OPEN else ""
        done = (
            f", by {actor_words(t.done_by)} {local_time(t.done_at)}"
            if t.done_by and t.done_at and t.status is not TaskStatus.OPEN
            else ""
        )
        lines.append(
            f"  {t.id}. {TASK_WORDS.get(t.name, t.name.value)} "
            f"({ROLE_WORDS.get(t.assignee, t.assignee.value)}): {t.status.value}, {due}{done}{flag}"
        )
    lines.append("escalations:" if state.escalations else "escalations: none")
    for e in state.escalations:
        kind = ESCALATION_WORDS.get(e.kind, e.kind.value)
        lines.append(f"  {local_time(e.at)}  {kind}, by {actor_words(e.raised_by)}: {e.reason}")
    lines.append("enquiries:" if state.enquiries else "enquiries: none")
    for q in state.enquiries:
        note = f" ({q.enquiry.note})" if q.enquiry.note else ""
        lines.append(
            f"  {human_date(q.enquiry.made_on)}  {BY_WORDS[q.enquiry.by]}: {q.enquiry.words}"
            f"{note}, recorded by {actor_words(q.recorded_by)}"
        )
    if state.information:
        lines.append("information:")
        for i in state.information:
            shared = f"{local_time(i.shared_at)}  {actor_words(i.shared_by)}"
            lines.append(f"  {shared}: {i.information}")
    lines += _problem_lines(state)
    lines.append(f"outcome: {outcome_words(state.outcome)}")
    return lines


def _deadline_lines(state: CaseState) -> list[str]:
    names = deadline_names(state)
    dated = [
        (day, names[field])
        for field in names
        if (day := getattr(state.deadlines, field)) is not None
    ]
    if not dated:
        return ["deadlines: none"]
    width = max(len(name) for _, name in dated)
    return ["deadlines:"] + [
        f"  {name:<{width}}  {human_date(day)}" for day, name in sorted(dated, key=lambda d: d[0])
    ]


def _problem_lines(state: CaseState) -> list[str]:
    if not state.problems:
        return ["problems: none"]
    open_count = len(state.open_problems)
    head = f"problems: {open_count} open" if open_count else "problems: none open"
    if open_count:
        head += f" (fix the cause, then `cme retry {state.case}`)"
    lines = [head]
    for problem in problems_in_order(state):
        mark = "OPEN    " if problem.cleared_at is None else "cleared "
        lines.append(f"  {mark}{problem_words(problem)}")
    return lines


# -- cme cases ---------------------------------------------------------------------------------


def cases_query(
    *,
    kind: str | None = None,
    stage: str | None = None,
    school: str | None = None,
    overdue: bool = False,
    child_protection: bool = False,
    problems: bool = False,
    repeat: bool = False,
) -> str:
    """The visibility query of ``cme cases`` for its filters: cases of both versions, one row
    per episode (a long episode's earlier runs, continued as new, are left out)."""
    types = ", ".join(quote(t) for t in CASE_WORKFLOW_TYPES)
    parts = [f"WorkflowType IN ({types})", "ExecutionStatus != 'ContinuedAsNew'"]
    if kind:
        parts.append(f"{sa.CASE_KIND.name} = {quote(kind)}")
    if stage:
        parts.append(f"{sa.STAGE.name} = {quote(stage)}")
    if school:
        parts.append(f"{sa.SCHOOL.name} = {quote(school)}")
    if overdue:
        parts.append(f"{sa.OVERDUE.name} = true")
    if child_protection:
        parts.append(f"{sa.CHILD_PROTECTION.name} = true")
    if problems:
        parts.append(f"{sa.PROBLEM.name} = true")
    if repeat:
        parts.append(f"{sa.EPISODE.name} > 1")
    return " AND ".join(parts)


def _due_day(deadline: datetime | None) -> date | None:
    """``CmeNextDeadline`` is the local midnight that ends the due day: the day itself."""
    if deadline is None:
        return None
    return (deadline.astimezone(LONDON) - timedelta(seconds=1)).date()


def _attribute(fields: Any, key: SearchAttributeKey[Any]) -> Any:
    """The value of search attribute ``key`` in a listed case's ``indexed_fields``, or None.

    Read here rather than through the SDK's ``WorkflowExecution`` (which decodes every search
    attribute twice, typed and untyped, through the payload converter): a listing of tens of
    thousands of cases spent most of its own time there. A search attribute's payload is
    always JSON (never encrypted: it is not one of the case's payloads); a single value may
    come as a one-item list."""
    payload = fields.get(key.name)
    if payload is None:
        return None
    value = json.loads(payload.data)
    if isinstance(value, list):
        value = value[0] if len(value) == 1 else None
    if key.indexed_value_type is SearchAttributeIndexedValueType.DATETIME:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    return value if isinstance(value, key.origin_value_type) else None


def case_row(info: WorkflowExecutionInfo) -> dict[str, Any]:
    """A row of ``cme cases`` from a listed run: its search attributes, no more."""
    fields = info.search_attributes.indexed_fields
    version = 1 if info.type.name == V1_WORKFLOW_TYPE else 2
    episode = _attribute(fields, sa.EPISODE) or 1
    return {
        "case": info.execution.workflow_id,
        "episode": episode,
        "repeat": episode > 1,
        "version": version,
        "kind": _attribute(fields, sa.CASE_KIND),
        "stage": _attribute(fields, sa.STAGE),
        "school": _attribute(fields, sa.SCHOOL) or None,
        "child_protection": bool(_attribute(fields, sa.CHILD_PROTECTION)),
        "next_deadline": iso(_due_day(_attribute(fields, sa.NEXT_DEADLINE))),
        "overdue": bool(_attribute(fields, sa.OVERDUE)),
        "problem": bool(_attribute(fields, sa.PROBLEM)),
        "outcome": _attribute(fields, sa.OUTCOME) or None,
        "ground": _attribute(fields, sa.GROUND) or None,
        "status": WorkflowExecutionStatus(info.status).name.lower() if info.status else None,
        "opened_at": iso(info.start_time.ToDatetime().replace(tzinfo=UTC)),
    }


# Rows asked of Temporal at a time: the most the server gives in one page (its
# ``limit.frontend.visibilityMaxPageSize``, 1000 by default). `cme cases` holds one page at a
# time, and the next one on its way, whatever the number of cases.
PAGE_SIZE = 1000

# A listed episode: its workflow id and run id.
Listed = tuple[str, str]


async def _list_page(
    client: Client, query: str, page_size: int, token: bytes
) -> ListWorkflowExecutionsResponse:
    """One page of visibility's answer to ``query``, after the page ``token`` ends."""
    return await client.workflow_service.list_workflow_executions(
        ListWorkflowExecutionsRequest(
            namespace=client.namespace, query=query, page_size=page_size, next_page_token=token
        ),
        retry=True,
    )


async def case_pages(
    client: Client,
    query: str,
    settings: Settings,
    *,
    limit: int | None = None,
    skip: frozenset[Listed] | set[Listed] = frozenset(),
    seen: set[Listed] | None = None,
) -> AsyncIterator[list[dict[str, Any]]]:
    """The rows of ``query``, one page of visibility at a time (at most :data:`PAGE_SIZE`
    rows), as each page arrives, in visibility's order: open cases before closed ones, the
    latest opened first. Stops after ``limit`` rows; leaves out the episodes in ``skip`` and
    adds those it yields to ``seen``. Each row is the search attributes of the listing itself:
    no further request per case. With no ``limit`` the next page is asked for before this one
    is read, so that the server's work and this process's overlap."""

    def ask(token: bytes) -> asyncio.Future[ListWorkflowExecutionsResponse]:
        size = PAGE_SIZE if limit is None else min(PAGE_SIZE, limit)
        return asyncio.ensure_future(_list_page(client, query, size, token))

    asking = ask(b"")
    try:
        while True:
            try:
                response = await asking
            except RPCError as exc:
                raise rpc_failure(exc, None, settings) from None
            token = response.next_page_token
            if token and limit is None:
                asking = ask(token)
            page = []
            for info in response.executions:
                key = (info.execution.workflow_id, info.execution.run_id)
                if key in skip:
                    continue
                if seen is not None:
                    seen.add(key)
                page.append(case_row(info))
            if limit is not None:
                page = page[:limit]
                limit -= len(page)
            if page:
                yield page
            if not token or (limit is not None and limit <= 0):
                return
            if limit is not None:
                asking = ask(token)
    finally:
        asking.cancel()


async def list_cases(
    client: Client,
    settings: Settings,
    *,
    limit: int | None = None,
    overdue: bool = False,
    **filters: Any,
) -> AsyncIterator[list[dict[str, Any]]]:
    """The pages of ``cme cases``: the overdue cases first, then the others.

    SQL visibility (the dev server's SQLite, PostgreSQL) cannot sort by a search attribute
    (``ORDER BY`` is refused), so the order comes from the queries: with ``overdue``, the one
    query on ``CmeOverdue``; otherwise that query, then the query without it, leaving out the
    episodes the first listed. (Not ``CmeOverdue = false``: a case that became overdue between
    the two queries would be in neither; this way it is listed, in the second part.) The
    memory this holds is one page and the ids of the overdue cases, never the whole list."""
    first = cases_query(overdue=True, **filters)
    if overdue:
        async for page in case_pages(client, first, settings, limit=limit):
            yield page
        return
    overdue_listed: set[Listed] = set()
    async for page in case_pages(client, first, settings, limit=limit, seen=overdue_listed):
        if limit is not None:
            limit -= len(page)
        yield page
    if limit is not None and limit <= 0:
        return
    rest = cases_query(**filters)
    async for page in case_pages(client, rest, settings, limit=limit, skip=overdue_listed):
        yield page


async def cases_handler(args: argparse.Namespace, settings: Settings) -> int:
    client = await connect(settings)
    pages = list_cases(
        client,
        settings,
        limit=args.limit,
        kind=args.kind,
        stage=args.stage,
        school=args.school,
        overdue=args.overdue,
        child_protection=args.child_protection,
        problems=args.problems,
        repeat=args.repeat,
    )
    if args.json:
        await _json_array(pages)
    else:
        await _table(pages)
    return 0


def _write(lines: list[str]) -> None:
    """Write ``lines`` and flush: each page is on screen (or down the pipe) as it arrives. A
    closed pipe raises :class:`BrokenPipeError`, which stops the listing (`cme` exits 141)."""
    if lines:
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()


async def _json_array(pages: AsyncIterator[list[dict[str, Any]]]) -> None:
    """One JSON array, written a page at a time: ``[``, a row a line, ``]``. The last row
    written so far is held back until the next one (or the end) says whether it takes a
    comma."""
    held: str | None = None
    _write(["["])
    async for page in pages:
        rows = [f"  {json.dumps(row, ensure_ascii=False)}" for row in page]
        if held is not None:
            rows.insert(0, held)
        held = rows.pop()
        _write([row + "," for row in rows])
    _write(([] if held is None else [held]) + ["]"])


async def _table(pages: AsyncIterator[list[dict[str, Any]]]) -> None:
    started = False
    async for page in pages:
        lines = [] if started else [_table_line(CASES_HEADER)]
        started = True
        _write(lines + [_table_line(case_cells(row)) for row in page])
    if not started:
        _write(["no cases"])


def _flags(row: dict[str, Any]) -> str:
    flags = []
    if row["overdue"]:
        flags.append("OVERDUE")
    if row["child_protection"]:
        flags.append("CP")
    if row["problem"]:
        flags.append("PROBLEM")
    if row["version"] == 1:
        flags.append("v1")
    return " ".join(flags)


CASES_HEADER = ("CASE", "EPISODE", "KIND", "STAGE", "SCHOOL", "NEXT DEADLINE", "FLAGS")

# The table's columns are as wide as the widest value each can hold, not as the widest row
# listed: rows are written a page at a time, and every page's columns line up. (A case
# reference is ``CME-`` and 12 hex digits; an episode up to ``99 REPEAT``; a date ``30 Sep
# 2025``.)
CASES_WIDTHS = (
    len("CME-") + 12,
    len("99 REPEAT"),
    max(len(words) for words in KIND_WORDS.values()),
    max(len(words) for words in STAGE_WORDS.values()),
    max(len("SCHOOL"), 7),
    max(len("NEXT DEADLINE"), len(human_date(date(2025, 12, 31)))),
)


def _table_line(cells: tuple[str, ...]) -> str:
    padded = [cell.ljust(width) for cell, width in zip(cells, CASES_WIDTHS, strict=False)]
    return "  ".join(padded + list(cells[len(CASES_WIDTHS) :])).rstrip()


def case_cells(row: dict[str, Any]) -> tuple[str, ...]:
    """Case, episode (and a repeat marker), kind, stage, school, next deadline and flags: never
    the child."""
    due = row["next_deadline"]
    return (
        row["case"],
        f"{row['episode']} REPEAT" if row["repeat"] else str(row["episode"]),
        kind_words(row["kind"]) if row["kind"] else "-",
        stage_words(row["stage"]) if row["stage"] else "-",
        row["school"] or "-",
        human_date(date.fromisoformat(due)) if due else "-",
        _flags(row),
    )
