"""The path of an open version-1 case onto version 2.

A case opened on version 1 (workflow type ``CmeCase``) keeps running on the frozen v1 code until it
next wakes (a deadline, a task, or the ``migrate`` signal that ``cme migrate`` sends to every open
v1 case). It then finishes what it was doing (its queued emails and register sync, through the
legacy activities), and continues as new into version 2 (``CmeCaseV2``) with its state converted by
:func:`to_v2`: same workflow id, same case reference, the v1 run kept in Temporal's history.

The conversion is deterministic and loses nothing a v2 case needs: deadlines, tasks, enquiries,
escalations, information, attendance codes, the conclusion, the CTF, problems and the outcome.
The case's event log starts with events rebuilt from the v1 records, each at its own time.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from domain.calendar import CalendarError, SchoolCalendar
from domain.case import events as ev
from domain.case.commands import LATEST_REVISION, CaseInput, CasePolicy, OpenCase
from domain.case.machine import SERVICE
from domain.case.model import (
    Actor,
    CaseOutcome,
    Conclusion,
    CtfConfirmation,
    Deadlines,
    Escalation,
    InvestigationOutcome,
    LoggedEnquiry,
    LoggedInformation,
    Problem,
    ProblemKind,
    Role,
    Task,
    TaskName,
    TaskStatus,
)
from domain.case.model import CaseKind as CaseKindV2
from domain.case.model import Stage as StageV2
from domain.case.state import CaseState as CaseStateV2
from domain.deletion import SessionCode
from domain.intake import SchoolCMEReferral
from workflows.v1 import case_rules
from workflows.v1.models import Actor as ActorV1
from workflows.v1.models import CaseState, OpenCaseInput

__all__ = ["MIGRATE_TO_V2", "to_v2"]

# The patch that moves a live v1 case to version 2 (absent from every history recorded before).
MIGRATE_TO_V2 = "migrate-to-v2"


def _actor(actor: ActorV1) -> Actor:
    return Actor(name=actor.name, role=Role(actor.role.value))


def _day(details: dict[str, str], key: str) -> date | None:
    value = details.get(key)
    return date.fromisoformat(value) if value else None


def _tasks(state: CaseState) -> list[Task]:
    return [
        Task(
            id=t.id,
            name=TaskName(t.name.value),
            assignee=Role(t.assignee.value),
            status=TaskStatus(t.status.value),
            opened_at=t.opened_at,
            due=t.due,
            overdue=t.overdue,
            done_by=_actor(t.done_by) if t.done_by else None,
            done_at=t.done_at,
        )
        for t in state.tasks
    ]


def _deadlines(state: CaseState, calendar: SchoolCalendar | None) -> Deadlines:
    given = state.deadlines
    deadlines = Deadlines(
        sat_referral=given.get("sat_referral"),
        deletion_permitted_from=given.get("deletion_threshold"),
        ctf=given.get("ctf"),
        mash_call=given.get("mash_call"),
    )
    referral = state.referral
    if isinstance(referral, SchoolCMEReferral) and state.day1 is not None and calendar:
        days = case_rules.ABSENCE_GROUND_DAYS[case_rules.absence_ground_key(referral)]
        try:
            deadlines.threshold_day = calendar.nth_school_day(
                state.day1, days, state.school_laestab
            )
        except CalendarError:
            deadlines.threshold_day = None
    return deadlines


def _done(tasks: list[Task], name: TaskName) -> Task | None:
    return next((t for t in tasks if t.name is name and t.status is TaskStatus.DONE), None)


def _log(state: CaseStateV2) -> list[Any]:
    """Events rebuilt from the v1 records, in time order."""
    found: list[tuple[datetime, type[ev.EventBase], Actor, dict[str, Any]]] = [
        (
            state.opened_at,
            ev.CaseOpened,
            state.referred_by,
            {
                "kind": state.kind,
                "stage": state.stage,
                "episode": 1,
                "form": state.referral.form,
            },
        )
    ]
    for t in state.tasks:
        found.append(
            (
                t.opened_at,
                ev.TaskOpened,
                SERVICE,
                {"task_id": t.id, "name": t.name, "assignee": t.assignee, "due": t.due},
            )
        )
        if t.done_at is not None and t.done_by is not None:
            found.append(
                (
                    t.done_at,
                    ev.TaskClosed,
                    t.done_by,
                    {"task_id": t.id, "name": t.name, "status": t.status},
                )
            )
    for e in state.enquiries:
        found.append(
            (
                e.recorded_at,
                ev.EnquiryRecorded,
                e.recorded_by,
                {"enquiry_id": e.id, "enquiry": e.enquiry},
            )
        )
    for x in state.escalations:
        found.append(
            (
                x.at,
                ev.Escalated,
                x.raised_by,
                {"escalation_id": x.id, "kind": x.kind, "reason": x.reason},
            )
        )
    for i in state.information:
        found.append(
            (
                i.shared_at,
                ev.InformationShared,
                i.shared_by,
                {"information_id": i.id, "information": i.information},
            )
        )
    if state.outcome is not None:
        found.append(
            (
                state.outcome.decided_at,
                ev.CaseClosed,
                state.outcome.decided_by,
                {"outcome": state.outcome},
            )
        )
    found.sort(key=lambda item: item[0])
    return [
        event_type(seq=n, at=at, by=by, **fields)
        for n, (at, event_type, by, fields) in enumerate(found, 1)
    ]


def to_v2(
    state: CaseState, input: OpenCaseInput, calendar: SchoolCalendar | None, now: datetime
) -> CaseInput:
    """The v2 workflow input that carries this v1 case on."""
    details = state.outcome_details
    tasks = _tasks(state)
    conclusion: Conclusion | None = None
    if state.investigation_outcome is not None and state.concluded_by is not None:
        investigate = _done(tasks, TaskName.INVESTIGATE)
        conclusion = Conclusion(
            outcome=InvestigationOutcome(state.investigation_outcome.value),
            by=_actor(state.concluded_by),
            at=investigate.done_at if investigate and investigate.done_at else now,
            new_school_laestab=details.get("new_school_laestab") or None,
            other_la=details.get("other_la") or None,
            ehe_letter_reference=details.get("ehe_letter_reference") or None,
            ehe_letter_received_on=_day(details, "ehe_letter_received_on"),
        )
    ctf: CtfConfirmation | None = None
    sent_on = _day(details, "ctf_sent_on")
    ctf_task = _done(tasks, TaskName.SEND_CTF)
    if sent_on is not None and ctf_task is not None and ctf_task.done_by is not None:
        ctf = CtfConfirmation(
            destination_code=details.get("ctf_destination", ""),
            sent_on=sent_on,
            on_time=ctf_task.due is None or sent_on <= ctf_task.due,
            by=ctf_task.done_by,
            at=ctf_task.done_at or now,
        )
    checked = details.get("calendar_checked_at")
    checked_at = datetime.fromisoformat(checked) if checked else None
    problems = []
    for n, text in enumerate(state.problems, 1):
        subject, _, detail = text.partition(": ")
        problems.append(
            Problem(
                id=n,
                kind=ProblemKind.CALENDAR_ENDS,
                subject=subject,
                detail=detail or text,
                raised_at=checked_at or state.opened_at,
                last_attempt_at=checked_at or state.opened_at,
            )
        )
    outcome = state.outcome
    carried = CaseStateV2(
        case=state.case,
        kind=CaseKindV2(state.kind.value),
        stage=StageV2(state.stage.value),
        referral=state.referral,
        referred_by=_actor(input.referred_by),
        opened_at=state.opened_at,
        school_laestab=state.school_laestab,
        child_protection=state.child_protection,
        rulebook=state.rulebook,
        day1=state.day1,
        deadlines=_deadlines(state, calendar),
        threshold_reached_on=_day(details, "threshold_reached"),
        tasks=tasks,
        enquiries=[
            LoggedEnquiry(
                id=e.id,
                enquiry=e.enquiry,
                recorded_by=_actor(e.recorded_by),
                recorded_at=e.recorded_at,
            )
            for e in state.enquiries
        ],
        information=[
            LoggedInformation(
                id=i.id,
                information=i.information,
                shared_by=_actor(i.shared_by),
                shared_at=i.shared_at,
            )
            for i in state.information
        ],
        escalations=[
            Escalation.model_validate({**x.model_dump(), "raised_by": _actor(x.raised_by)})
            for x in state.escalations
        ],
        attendance_codes=[
            SessionCode.model_validate(c.model_dump()) for c in state.attendance_codes
        ],
        assigned_officer=state.assigned_officer,
        conclusion=conclusion,
        ctf=ctf,
        referrals_received=state.referrals_received,
        problems=problems,
        calendar_checked_at=checked_at,
        outcome=(
            CaseOutcome.model_validate(
                {**outcome.model_dump(), "decided_by": _actor(outcome.decided_by)}
            )
            if outcome is not None
            else None
        ),
    )
    carried.log = _log(carried)
    return CaseInput(
        case=state.case,
        opening=OpenCase(
            referral=state.referral,
            referred_by=carried.referred_by,
            request_id=f"v1-migrated-{state.case}",
            answered=True,
        ),
        episodes_known=True,
        carried_state=carried,
        policy=CasePolicy(s37_consent_rule=input.s37_consent_rule),
        max_history_events=input.max_history_events,
        revision=LATEST_REVISION,
    )
