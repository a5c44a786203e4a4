"""`cme show`: the case file, read from the case's workflow in Temporal.

    cme show CME-7F3A9C21D0B4               # the case file: stage, deadlines, tasks, problems
    cme show CME-7F3A9C21D0B4 --episode 1   # an earlier episode of the same child's case

(``cme cases``, the table of cases, is :mod:`starter.case_list_cli`; ``cme history`` is
:mod:`starter.history`.) Every command takes ``--json``.

Personal data: ``cme show`` is the case file an officer works from, so it names the child (name,
date of birth, UPN) as the referral gave them.

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

What the case commands share (argument types checked with :mod:`domain.types`, one-line
argument errors, ``--json``) is in :mod:`starter.args`.
"""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

from domain.calendar import human_date
from domain.case.model import (
    Actor,
    CaseOutcome,
    Problem,
    TaskStatus,
)
from domain.case.state import CaseState
from domain.enquiries import BY_WORDS
from domain.grounds import RULEBOOK_CITATIONS, UnknownGroundError, find_ground, rulebook_for
from domain.intake import PupilMigrationReturn
from settings import Settings
from starter.args import add_json, case_arg, episode_arg, one_line_errors, print_json
from starter.case_client import case_state
from starter.connect import connect
from starter.output import emit
from starter.words import (
    ESCALATION_WORDS,
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
)

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
