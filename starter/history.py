"""`cme history CASE [--episode N]`: the case's own event log, in words.

    cme history CME-7F3A9C21D0B4              # the latest episode
    cme history CME-7F3A9C21D0B4 --episode 1  # any earlier episode of the same child's case

Every case keeps its history as typed events (``CaseState.log``, :mod:`domain.case.events`): who
did what, in which role, and when. This command reads that log from the case (a query; for
``--episode N``, of the episode's run, found in visibility by ``CmeEpisode``) and writes one line
per event::

    2026-03-02 09:14  Ms A (school): enquiry 1 recorded: the school: phone call to the primary
    contact: no contact, on ...
    2026-03-16 00:00  CME service: stage now LA investigation (was school enquiries)

Times are UK local time. What the case does on its own (a deadline passing, an email going out)
is the service's, never a person's. A request the case refused leaves no trace, so it is not here.

``--json`` is a list of ``{"seq", "at" (ISO 8601, UK local time), "who", "role", "actor"
("Ms A (school)"), "type" (the event's type, e.g. "stage_changed"), "what"}``.
"""

from __future__ import annotations

import argparse
from typing import Any

from domain.calendar import human_date
from domain.case import events as ev
from domain.case.events import CaseEvent
from domain.case.model import Decision
from domain.case.state import CaseState
from domain.clock import LONDON
from domain.enquiries import BY_WORDS, Enquiry
from settings import Settings
from starter.args import add_json, case_arg, episode_arg, one_line_errors, print_json
from starter.case_client import case_state
from starter.connect import connect
from starter.output import emit
from starter.words import (
    ESCALATION_WORDS,
    FORM_WORDS,
    PROBLEM_WORDS,
    ROLE_WORDS,
    TASK_WORDS,
    actor_words,
    deadline_name,
    email_words,
    investigation_words,
    kind_words,
    local_time,
    outcome_words,
    stage_words,
    words,
)


def register(subparsers: Any) -> None:
    history = one_line_errors(
        subparsers.add_parser(
            "history",
            help="who did what when on a case, from the case's own log",
            description="The case's history: every step, task, deadline, escalation, email, "
            "problem and decision, with who did it (the service for deadlines and emails) and "
            "when, in UK local time. Refused requests leave no trace.",
        )
    )
    history.add_argument("case", type=case_arg, metavar="CASE", help="case reference, CME-…")
    history.add_argument(
        "--episode",
        type=episode_arg,
        metavar="N",
        help="an earlier episode of the child's case (default: the latest)",
    )
    add_json(history)
    history.set_defaults(handler=history_handler)


async def history_handler(args: argparse.Namespace, settings: Settings) -> int:
    client = await connect(settings)
    state = await case_state(client, args.case, settings, episode=args.episode)
    if args.json:
        print_json(history_json(state))
    else:
        emit(history_lines(state))
    return 0


def history_lines(state: CaseState) -> list[str]:
    count = len(state.log)
    head = (
        f"case {state.case}, episode {state.episode}: {count} event{'s' if count != 1 else ''} "
        "(times in UK local time)"
    )
    return [head] + [
        f"{local_time(event.at)}  {actor_words(event.by)}: {event_words(event, state)}"
        for event in state.log
    ]


def history_json(state: CaseState) -> list[dict[str, Any]]:
    return [
        {
            "seq": event.seq,
            "at": event.at.astimezone(LONDON).isoformat(),
            "who": event.by.name,
            "role": event.by.role.value,
            "actor": actor_words(event.by),
            "type": event.type,
            "what": event_words(event, state),
        }
        for event in state.log
    ]


def _enquiry(enquiry: Enquiry) -> str:
    text = f"{BY_WORDS[enquiry.by]}: {enquiry.words}, on {human_date(enquiry.made_on)}"
    return text + (f" ({enquiry.note})" if enquiry.note else "")


def _note(note: str) -> str:
    return f" ({note})" if note else ""


def event_words(event: CaseEvent, state: CaseState) -> str:
    """What ``event`` means, in words (the actor is said apart)."""
    match event:
        case ev.CaseOpened():
            form = FORM_WORDS.get(event.form, words(event.form))
            repeat = ", a repeat episode" if event.repeat else ""
            return (
                f"case opened (episode {event.episode}{repeat}): {form}; "
                f"{kind_words(event.kind)}, stage {stage_words(event.stage)}"
            )
        case ev.ReferralAdded():
            form = FORM_WORDS.get(event.form, words(event.form))
            return f"further referral: {form} ({event.referrals_received} referrals received)"
        case ev.StageChanged():
            return f"stage now {stage_words(event.stage_to)} (was {stage_words(event.stage_from)})"
        case ev.EnquiryRecorded():
            return f"enquiry {event.enquiry_id} recorded: {_enquiry(event.enquiry)}"
        case ev.ContactReported():
            back = (
                "the child is back at school"
                if event.returned_to_school
                else "the child is not back at school"
            )
            return f"contact reported: made on {human_date(event.contact_on)}, {back}" + _note(
                event.note
            )
        case ev.ConcernRaised():
            what = (
                "Child Protection Plan reported"
                if event.child_protection_plan
                else "safeguarding concern raised"
            )
            return f"{what}: {event.concern}"
        case ev.InformationShared():
            codes = (
                f" ({event.attendance_codes} attendance codes)" if event.attendance_codes else ""
            )
            return f"information {event.information_id} shared: {event.information}{codes}"
        case ev.MashCallRecorded():
            ref = f", MASH reference {event.mash_reference}" if event.mash_reference else ""
            return f"MASH call recorded: called on {human_date(event.called_on)}{ref}" + _note(
                event.advice
            )
        case ev.CtfConfirmed():
            timing = "on time" if event.on_time else "LATE"
            return (
                f"CTF confirmed: sent on {human_date(event.sent_on)} to {event.destination_code} "
                f"({timing})"
            )
        case ev.InvestigationConcluded():
            return f"investigation concluded: {investigation_words(event.outcome)}" + _note(
                event.note
            )
        case ev.DeletionAuthorised():
            return outcome_words(event.outcome).rsplit("; by ", 1)[0]
        case ev.CaseClosed():
            if event.outcome.decision is Decision.DELETION_AUTHORISED:
                return f"case closed: deletion authorised on ground {event.outcome.ground}"
            return f"case closed: {event.outcome.closure_reason or 'no reason given'}"
        case ev.OfficerAssigned():
            return f"case assigned to {event.officer}"
        case ev.TaskOpened():
            due = f", due by the end of {human_date(event.due)}" if event.due else ""
            who = ROLE_WORDS.get(event.assignee, words(event.assignee.value)).removeprefix("the ")
            return f"task {event.task_id} opened: {TASK_WORDS.get(event.name)} (for the {who}){due}"
        case ev.TaskClosed():
            return f"task {event.task_id} {event.status.value}: {TASK_WORDS.get(event.name)}"
        case ev.TaskOverdue():
            return (
                f"task {event.task_id} overdue: {TASK_WORDS.get(event.name)} was due by the end "
                f"of {human_date(event.due)}"
            )
        case ev.DeadlineSet():
            return f"deadline set: {deadline_name(state, event.deadline)}: {human_date(event.due)}"
        case ev.Escalated():
            return f"escalated ({ESCALATION_WORDS.get(event.kind)}): {event.reason}"
        case ev.NotificationQueued():
            return f"email queued: {email_words(event.kind, event.to)}"
        case ev.NotificationSent():
            return f"email sent: {email_words(event.kind)}"
        case ev.ProblemRaised():
            return (
                f"PROBLEM {event.problem_id}: {PROBLEM_WORDS.get(event.kind)}: {event.subject}: "
                f"{event.detail}"
            )
        case ev.ProblemCleared():
            return (
                f"problem {event.problem_id} cleared: {PROBLEM_WORDS.get(event.kind)}: "
                f"{event.subject}"
            )
    return words(getattr(event, "type", "event"))
