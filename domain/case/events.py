"""The case's own history: one event per thing that happened, who did it, in which role, when.

Events are facts, in codes (no English): ``cme history`` and the web app put them into words.
Every event has a sequence number within the episode (``seq``), the moment (``at``) and the actor
(``by``; the service itself for deadlines and deliveries).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.case.model import (
    Actor,
    CaseKind,
    CaseOutcome,
    DeletionFacts,
    EscalationKind,
    InvestigationOutcome,
    ProblemKind,
    Role,
    Stage,
    TaskName,
    TaskStatus,
)
from domain.deletion import LaConsent
from domain.enquiries import Enquiry

__all__ = [
    "CaseClosed",
    "CaseEvent",
    "CaseOpened",
    "ConcernRaised",
    "ConsentRecorded",
    "ContactReported",
    "CtfConfirmed",
    "DeadlineSet",
    "DeletionAuthorised",
    "DeletionFactsRecorded",
    "EnquiryRecorded",
    "Escalated",
    "EventBase",
    "InformationShared",
    "InvestigationConcluded",
    "MashCallRecorded",
    "NoSicknessGroundsConfirmed",
    "NotificationQueued",
    "NotificationSent",
    "OfficerAssigned",
    "ProblemCleared",
    "ProblemRaised",
    "ReferralAdded",
    "RegisterCodesConfirmed",
    "StageChanged",
    "TaskClosed",
    "TaskOpened",
    "TaskOverdue",
]


class EventBase(BaseModel):
    # A validation error's text never quotes a value (events hold people's words).
    model_config = ConfigDict(hide_input_in_errors=True)

    seq: int
    at: datetime
    by: Actor


class CaseOpened(EventBase):
    type: Literal["case_opened"] = "case_opened"
    kind: CaseKind
    stage: Stage
    episode: int
    form: str
    repeat: bool = False


class ReferralAdded(EventBase):
    type: Literal["referral_added"] = "referral_added"
    form: str
    referrals_received: int


class StageChanged(EventBase):
    type: Literal["stage_changed"] = "stage_changed"
    stage_from: Stage
    stage_to: Stage


class EnquiryRecorded(EventBase):
    type: Literal["enquiry_recorded"] = "enquiry_recorded"
    enquiry_id: int
    enquiry: Enquiry


class ContactReported(EventBase):
    type: Literal["contact_reported"] = "contact_reported"
    contact_on: date
    returned_to_school: bool
    note: str = ""


class ConcernRaised(EventBase):
    type: Literal["concern_raised"] = "concern_raised"
    concern: str
    child_protection_plan: bool


class InformationShared(EventBase):
    type: Literal["information_shared"] = "information_shared"
    information_id: int
    information: str
    attendance_codes: int = 0


class MashCallRecorded(EventBase):
    type: Literal["mash_call_recorded"] = "mash_call_recorded"
    called_on: date
    mash_reference: str | None = None
    advice: str = ""


class CtfConfirmed(EventBase):
    type: Literal["ctf_confirmed"] = "ctf_confirmed"
    destination_code: str
    sent_on: date
    on_time: bool


class InvestigationConcluded(EventBase):
    type: Literal["investigation_concluded"] = "investigation_concluded"
    outcome: InvestigationOutcome
    note: str = ""


class DeletionAuthorised(EventBase):
    type: Literal["deletion_authorised"] = "deletion_authorised"
    outcome: CaseOutcome


class CaseClosed(EventBase):
    type: Literal["case_closed"] = "case_closed"
    outcome: CaseOutcome


class RegisterCodesConfirmed(EventBase):
    type: Literal["register_codes_confirmed"] = "register_codes_confirmed"
    codes: int
    sessions_missing: int | None  # None: the days cannot be counted (see the problems)


class NoSicknessGroundsConfirmed(EventBase):
    type: Literal["no_sickness_grounds_confirmed"] = "no_sickness_grounds_confirmed"
    note: str = ""


class ConsentRecorded(EventBase):
    type: Literal["consent_recorded"] = "consent_recorded"
    consent: LaConsent


class DeletionFactsRecorded(EventBase):
    type: Literal["deletion_facts_recorded"] = "deletion_facts_recorded"
    facts: DeletionFacts


class OfficerAssigned(EventBase):
    type: Literal["officer_assigned"] = "officer_assigned"
    officer: str


class TaskOpened(EventBase):
    type: Literal["task_opened"] = "task_opened"
    task_id: int
    name: TaskName
    assignee: Role
    due: date | None = None


class TaskClosed(EventBase):
    type: Literal["task_closed"] = "task_closed"
    task_id: int
    name: TaskName
    status: TaskStatus


class TaskOverdue(EventBase):
    type: Literal["task_overdue"] = "task_overdue"
    task_id: int
    name: TaskName
    due: date


class DeadlineSet(EventBase):
    type: Literal["deadline_set"] = "deadline_set"
    deadline: str
    due: date


class Escalated(EventBase):
    type: Literal["escalated"] = "escalated"
    escalation_id: int
    kind: EscalationKind
    reason: str


class NotificationQueued(EventBase):
    type: Literal["notification_queued"] = "notification_queued"
    purpose: str
    kind: str
    to: list[str]


class NotificationSent(EventBase):
    type: Literal["notification_sent"] = "notification_sent"
    purpose: str
    kind: str


class ProblemRaised(EventBase):
    type: Literal["problem_raised"] = "problem_raised"
    problem_id: int
    kind: ProblemKind
    subject: str
    detail: str


class ProblemCleared(EventBase):
    type: Literal["problem_cleared"] = "problem_cleared"
    problem_id: int
    kind: ProblemKind
    subject: str


CaseEvent = Annotated[
    CaseOpened
    | ReferralAdded
    | StageChanged
    | EnquiryRecorded
    | ContactReported
    | ConcernRaised
    | InformationShared
    | MashCallRecorded
    | CtfConfirmed
    | InvestigationConcluded
    | DeletionAuthorised
    | CaseClosed
    | OfficerAssigned
    | RegisterCodesConfirmed
    | NoSicknessGroundsConfirmed
    | ConsentRecorded
    | DeletionFactsRecorded
    | TaskOpened
    | TaskClosed
    | TaskOverdue
    | DeadlineSet
    | Escalated
    | NotificationQueued
    | NotificationSent
    | ProblemRaised
    | ProblemCleared,
    Field(discriminator="type"),
]
