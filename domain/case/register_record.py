"""What the register holds of an episode, projected from its state: the argument of a register
sync (:class:`~domain.case.effects.SyncCaseInput`).

A sync carries this record rather than the whole :class:`~domain.case.state.CaseState`: the
register keeps none of the case's log, requests, referral or emails (only the moments the LA's
reports measure, worked out from the log here), so a sync's payload, and the history it is
written into, holds only what the register stores. Each field is a column of the register's
tables (:mod:`activities.register`), typed as the state types it; the projection is pure and
deterministic (the workflow makes it, the activity writes it).
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from domain.case import events as ev
from domain.case.model import (
    Actor,
    CaseKind,
    Decision,
    EscalationKind,
    InvestigationOutcome,
    ProblemKind,
    Role,
    Stage,
    TaskName,
    TaskStatus,
)
from domain.case.rules import case_schools
from domain.case.state import CaseState, NotificationStatus
from domain.clock import local_date
from domain.enquiries import EnquiryBy, EnquiryKind, EnquiryOutcome
from domain.grounds import Rulebook

__all__ = [
    "CaseRecord",
    "DecisionRecord",
    "EnquiryRecord",
    "EscalationRecord",
    "ProblemRecord",
    "RegisterRecord",
    "TaskRecord",
    "register_record",
]

# A validation error's text never quotes a value (the record holds personal data).
_CONFIG = ConfigDict(hide_input_in_errors=True)


class CaseRecord(BaseModel):
    """The episode's row (``cme_case``), but for its key and the register's own columns."""

    model_config = _CONFIG

    repeat: bool
    kind: CaseKind
    stage: Stage
    school_laestab: str | None
    child_protection: bool
    opened_at: datetime
    next_deadline: date | None
    overdue: bool
    assigned_officer: str | None
    referrals_received: int
    rulebook: Rulebook | None
    day1: date | None
    open_problems: int
    upn: str | None
    first_name: str | None
    last_name: str | None
    date_of_birth: date | None
    decision: Decision | None
    investigation_outcome: InvestigationOutcome | None
    ground: str | None
    earliest_deletion_date: date | None
    ctf_destination: str | None
    closed_at: datetime | None
    sat_referred_at: datetime | None
    concluded_at: datetime | None
    located_on: date | None
    mash_call_pending: bool
    mash_called_on: date | None


class EnquiryRecord(BaseModel):
    model_config = _CONFIG

    id: int
    made_by: EnquiryBy
    kind: EnquiryKind
    made_on: date
    outcome: EnquiryOutcome
    note: str
    recorded_by: str
    recorded_by_role: Role
    recorded_at: datetime


class TaskRecord(BaseModel):
    model_config = _CONFIG

    id: int
    name: TaskName
    assignee: Role
    status: TaskStatus
    opened_at: datetime
    due: date | None
    overdue: bool
    done_by: str | None
    done_by_role: Role | None
    done_at: datetime | None


class EscalationRecord(BaseModel):
    model_config = _CONFIG

    id: int
    kind: EscalationKind
    raised_at: datetime
    reason: str
    raised_by: str
    raised_by_role: Role


class ProblemRecord(BaseModel):
    model_config = _CONFIG

    id: int
    kind: ProblemKind
    subject: str
    detail: str
    raised_at: datetime
    last_attempt_at: datetime
    attempts: int
    cleared_at: datetime | None


class DecisionRecord(BaseModel):
    model_config = _CONFIG

    decision: Decision
    investigation_outcome: InvestigationOutcome | None
    closure_reason: str | None
    rulebook: Rulebook | None
    ground: str | None
    ground_title: str | None
    ground_other_rulebook: str | None
    earliest_deletion_date: date | None
    ctf_destination: str | None
    decided_by: str
    decided_by_role: Role
    decided_at: datetime
    duplicate_of: str | None


class RegisterRecord(BaseModel):
    """Everything the register holds of one episode (see module docstring)."""

    model_config = _CONFIG

    case: str
    episode: int
    case_row: CaseRecord
    enquiries: list[EnquiryRecord] = Field(default_factory=list)
    tasks: list[TaskRecord] = Field(default_factory=list)
    escalations: list[EscalationRecord] = Field(default_factory=list)
    problems: list[ProblemRecord] = Field(default_factory=list)
    # the schools whose users may see and act on the episode (rules.case_schools)
    schools: list[str] = Field(default_factory=list)
    decision: DecisionRecord | None = None
    # the emails the case knows were sent, by purpose, and when
    sent: dict[str, datetime] = Field(default_factory=dict)


# An investigation outcome that says where the child is (everything but "not located").
_LOCATING_OUTCOMES = frozenset(InvestigationOutcome) - {InvestigationOutcome.NOT_LOCATED}


def _milestones(state: CaseState) -> dict[str, object]:
    """The moments the LA's reports measure, from the case's log (falling back on its records
    for a case converted from version 1, whose log may be shorter)."""
    sat_referred_at: datetime | None = None
    located: list[date] = []
    mash_called_on: date | None = None
    for event in state.log:
        if sat_referred_at is None and (
            (isinstance(event, ev.CaseOpened) and event.stage is Stage.LA_INVESTIGATION)
            or (isinstance(event, ev.StageChanged) and event.stage_to is Stage.LA_INVESTIGATION)
        ):
            sat_referred_at = event.at
        elif isinstance(event, ev.ContactReported):
            located.append(event.contact_on)  # contact made: the child is located
        elif isinstance(event, ev.MashCallRecorded):
            mash_called_on = event.called_on
    if sat_referred_at is None:
        sat_referred_at = next(
            (e.at for e in state.escalations if e.kind is EscalationKind.SAT_REFERRAL), None
        )
    conclusion = state.conclusion
    if conclusion is not None and conclusion.outcome in _LOCATING_OUTCOMES:
        located.append(local_date(conclusion.at))
    return {
        "sat_referred_at": sat_referred_at,
        "concluded_at": conclusion.at if conclusion else None,
        "located_on": min(located, default=None),
        "mash_call_pending": bool(state.open_tasks(TaskName.PHONE_MASH)),
        "mash_called_on": mash_called_on,
    }


def _case_row(state: CaseState) -> CaseRecord:
    child = state.child
    outcome = state.outcome
    conclusion = state.conclusion
    milestones = _milestones(state)
    return CaseRecord(
        repeat=state.repeat,
        kind=state.kind,
        stage=state.stage,
        school_laestab=state.school_laestab,
        child_protection=state.child_protection,
        opened_at=state.opened_at,
        next_deadline=state.next_deadline,
        overdue=state.overdue,
        assigned_officer=state.assigned_officer,
        referrals_received=state.referrals_received,
        rulebook=state.rulebook,
        day1=state.day1,
        open_problems=len(state.open_problems),
        upn=child.upn,
        first_name=child.first_name,
        last_name=child.last_name,
        date_of_birth=child.date_of_birth,
        decision=outcome.decision if outcome else None,
        investigation_outcome=conclusion.outcome if conclusion else None,
        ground=outcome.ground if outcome else None,
        earliest_deletion_date=outcome.earliest_deletion_date if outcome else None,
        ctf_destination=outcome.ctf_destination if outcome else None,
        closed_at=outcome.decided_at if outcome else None,
        **milestones,
    )


def _decision(state: CaseState) -> DecisionRecord | None:
    outcome = state.outcome
    if outcome is None:
        return None
    return DecisionRecord(
        decision=outcome.decision,
        investigation_outcome=outcome.investigation_outcome,
        closure_reason=outcome.closure_reason,
        rulebook=outcome.rulebook,
        ground=outcome.ground,
        ground_title=outcome.ground_title,
        ground_other_rulebook=outcome.ground_other_rulebook,
        earliest_deletion_date=outcome.earliest_deletion_date,
        ctf_destination=outcome.ctf_destination,
        decided_by=outcome.decided_by.name,
        decided_by_role=outcome.decided_by.role,
        decided_at=outcome.decided_at,
        duplicate_of=outcome.duplicate_of,
    )


def _done_by(actor: Actor | None) -> tuple[str | None, Role | None]:
    return (actor.name, actor.role) if actor is not None else (None, None)


def register_record(state: CaseState) -> RegisterRecord:
    """What the register holds of the episode ``state``."""
    tasks = []
    for task in state.tasks:
        done_by, done_role = _done_by(task.done_by)
        tasks.append(
            TaskRecord(
                id=task.id,
                name=task.name,
                assignee=task.assignee,
                status=task.status,
                opened_at=task.opened_at,
                due=task.due,
                overdue=task.overdue,
                done_by=done_by,
                done_by_role=done_role,
                done_at=task.done_at,
            )
        )
    return RegisterRecord(
        case=state.case,
        episode=state.episode,
        case_row=_case_row(state),
        enquiries=[
            EnquiryRecord(
                id=logged.id,
                made_by=logged.enquiry.by,
                kind=logged.enquiry.kind,
                made_on=logged.enquiry.made_on,
                outcome=logged.enquiry.outcome,
                note=logged.enquiry.note,
                recorded_by=logged.recorded_by.name,
                recorded_by_role=logged.recorded_by.role,
                recorded_at=logged.recorded_at,
            )
            for logged in state.enquiries
        ],
        tasks=tasks,
        escalations=[
            EscalationRecord(
                id=escalation.id,
                kind=escalation.kind,
                raised_at=escalation.at,
                reason=escalation.reason,
                raised_by=escalation.raised_by.name,
                raised_by_role=escalation.raised_by.role,
            )
            for escalation in state.escalations
        ],
        problems=[
            ProblemRecord(
                id=problem.id,
                kind=problem.kind,
                subject=problem.subject,
                detail=problem.detail,
                raised_at=problem.raised_at,
                last_attempt_at=problem.last_attempt_at,
                attempts=problem.attempts,
                cleared_at=problem.cleared_at,
            )
            for problem in state.problems
        ],
        schools=list(case_schools(state)),
        decision=_decision(state),
        sent={
            r.purpose: r.sent_at
            for r in state.notifications
            if r.status is NotificationStatus.SENT and r.sent_at is not None
        },
    )
