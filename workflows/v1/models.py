"""What a case workflow takes, holds and returns: the case state and one input/result model per
update. Plain pydantic models, sent through Temporal with the pydantic data converter; new fields
always get defaults so running cases keep deserialising.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from domain.enquiries import Enquiry
from domain.grounds import Rulebook
from domain.intake import ProfessionalCMEReferral, PupilMigrationReturn, Referral, SchoolCMEReferral
from workflows.v1.deletion import SessionCode


class CaseKind(StrEnum):
    DESTINATION_VERIFIED = "destination_verified"  # Pupil Migration LA Return (seed 2.3)
    DESTINATION_NOT_VERIFIED = "destination_not_verified"  # school CME referral (seed 2.4)
    NOT_ON_ROLL = "not_on_roll"  # professional CME referral (seed appendix 5)


def case_kind_of(
    referral: PupilMigrationReturn | SchoolCMEReferral | ProfessionalCMEReferral,
) -> CaseKind:
    if isinstance(referral, PupilMigrationReturn):
        return CaseKind.DESTINATION_VERIFIED
    if isinstance(referral, SchoolCMEReferral):
        return CaseKind.DESTINATION_NOT_VERIFIED
    return CaseKind.NOT_ON_ROLL


class Stage(StrEnum):
    SCHOOL_ENQUIRIES = "school_enquiries"  # school's reasonable enquiries, up to school day 10
    LA_INVESTIGATION = "la_investigation"  # referred to SAT: CME officer investigates
    AWAITING_DELETION_AUTHORISATION = "awaiting_deletion_authorisation"  # outcome concluded
    AWAITING_CTF = "awaiting_ctf"  # destination verified: CTF and deletion authorisation due
    CLOSED = "closed"


class Role(StrEnum):
    SCHOOL = "school"
    PROFESSIONAL = "professional"
    CME_OFFICER = "cme_officer"
    TEAM_LEADER = "team_leader"
    SERVICE = "service"  # the workflow itself (timers)


class Actor(BaseModel):
    """Who did something: a named person acting in a role."""

    name: str = Field(min_length=1, max_length=200)
    role: Role


class TaskName(StrEnum):
    SCHOOL_ENQUIRIES = "school_enquiries"
    PHONE_MASH = "phone_mash"
    INVESTIGATE = "investigate"
    AUTHORISE_DELETION = "authorise_deletion"
    SEND_CTF = "send_ctf"


class TaskStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class Task(BaseModel):
    id: int
    name: TaskName
    assignee: Role
    status: TaskStatus = TaskStatus.OPEN
    opened_at: datetime
    due: date | None = None
    overdue: bool = False
    done_by: Actor | None = None
    done_at: datetime | None = None


class EscalationKind(StrEnum):
    MASH = "mash"  # child protection / safeguarding: MASH and SAT told at once
    TEAM_LEADER = "team_leader"  # MASH call not recorded by the end of the next school day
    SAT_REFERRAL = "sat_referral"  # no contact by the end of school day 10
    CTF_OVERDUE = "ctf_overdue"  # CTF not confirmed within 15 school days
    CALENDAR_ENDS = "calendar_ends"  # a deadline lies past the configured calendar


class Escalation(BaseModel):
    id: int
    kind: EscalationKind
    at: datetime
    reason: str
    raised_by: Actor


class LoggedEnquiry(BaseModel):
    id: int
    enquiry: Enquiry
    recorded_by: Actor
    recorded_at: datetime


class LoggedInformation(BaseModel):
    id: int
    information: str
    shared_by: Actor
    shared_at: datetime


class InvestigationOutcome(StrEnum):
    # destination not verified
    LOCATED_BACK_AT_SCHOOL = "located_back_at_school"  # closed, no deletion
    ON_ROLL_ELSEWHERE = "on_roll_elsewhere"  # deletion: registered at another school
    MOVED_AWAY = "moved_away"  # deletion: beyond reasonable distance; other LA told
    HOME_EDUCATED = "home_educated"  # deletion on the EHE ground (letter needed)
    NOT_LOCATED = "not_located"  # deletion: 20-day or after-leave ground
    # not on roll (closure decisions)
    PLACED_ON_ROLL = "placed_on_roll"
    LEFT_AREA = "left_area"


class Decision(StrEnum):
    DELETION_AUTHORISED = "deletion_authorised"
    CLOSED = "closed"


class CaseOutcome(BaseModel):
    """How a case ended: a deletion authorisation, or a closure decision."""

    case: str
    decision: Decision
    investigation_outcome: InvestigationOutcome | None = None
    closure_reason: str | None = None
    rulebook: Rulebook | None = None
    ground: str | None = None
    ground_title: str | None = None
    ground_other_rulebook: str | None = None
    earliest_deletion_date: date | None = None
    ctf_destination: str | None = None
    decided_by: Actor
    decided_at: datetime
    duplicate_of: str | None = None


class CaseState(BaseModel):
    """Everything a manager sees of a case (the query result and the register's source)."""

    case: str
    kind: CaseKind
    stage: Stage
    referral: Referral
    opened_at: datetime
    school_laestab: str | None = None
    child_protection: bool = False  # Child Protection Plan, or a safeguarding concern raised
    rulebook: Rulebook | None = None  # rulebook in force on the case's last step
    day1: date | None = None
    deadlines: dict[str, date] = {}
    tasks: list[Task] = []
    enquiries: list[LoggedEnquiry] = []
    information: list[LoggedInformation] = []
    escalations: list[Escalation] = []
    attendance_codes: list[SessionCode] = []
    assigned_officer: str | None = None
    investigation_outcome: InvestigationOutcome | None = None
    concluded_by: Actor | None = None
    outcome_details: dict[str, str] = {}
    referrals_received: int = 1
    problems: list[str] = []
    outcome: CaseOutcome | None = None


# -- workflow input ----------------------------------------------------------------------------


class OpenCaseInput(BaseModel):
    case: str
    referral: Referral
    referred_by: Actor
    # Children's Wellbeing and Schools Act 2026 s.37 switch, from Settings when the case opens.
    s37_consent_rule: bool = False
    # Continue-as-new (carrying the state) once the history is this long, or when Temporal
    # suggests it, whichever comes first; far below Temporal's 51,200-event limit.
    max_history_events: int = Field(default=10_000, ge=100)
    # Carried across continue-as-new; None on a new case.
    carried_state: CaseState | None = None


# -- updates: one input and one result model each -------------------------------------------


class RegisterReferralInput(BaseModel):
    """Sent with update-with-start: the first delivery opens the case, later ones are duplicates."""

    referral: Referral
    referred_by: Actor


class RegisterReferralResult(BaseModel):
    case: str
    existing: bool
    stage: Stage
    referrals_received: int


class RecordEnquiryInput(BaseModel):
    by: Actor
    enquiry: Enquiry


class RecordEnquiryResult(BaseModel):
    case: str
    enquiry_id: int
    enquiries_recorded: int


class ReportContactInput(BaseModel):
    """Contact made / child located. ``returned_to_school`` closes a case with no deletion."""

    by: Actor
    contact_on: date
    returned_to_school: bool = True
    note: str = Field(default="", max_length=2000)


class ReportContactResult(BaseModel):
    case: str
    stage: Stage


class RaiseConcernInput(BaseModel):
    by: Actor
    concern: str = Field(min_length=1, max_length=4000)
    child_protection_plan: bool = False


class RaiseConcernResult(BaseModel):
    case: str
    escalation_id: int
    mash_call_due: date | None


class ShareInformationInput(BaseModel):
    by: Actor
    information: str = Field(min_length=1, max_length=4000)
    attendance_codes: list[SessionCode] = []


class ShareInformationResult(BaseModel):
    case: str
    information_id: int


class RecordMashCallInput(BaseModel):
    by: Actor
    called_on: date
    mash_reference: str | None = Field(default=None, max_length=100)
    advice: str = Field(default="", max_length=4000)


class RecordMashCallResult(BaseModel):
    case: str
    task_id: int


class ConfirmCtfInput(BaseModel):
    by: Actor
    destination_code: str
    sent_on: date


class ConfirmCtfResult(BaseModel):
    case: str
    destination_code: str
    on_time: bool


class ConcludeInvestigationInput(BaseModel):
    by: Actor
    outcome: InvestigationOutcome
    new_school_laestab: str | None = None  # on roll elsewhere / placed on roll
    other_la: str | None = Field(default=None, max_length=200)  # moved away / left the area
    other_la_email: str | None = Field(default=None, max_length=320)
    ehe_letter_reference: str | None = Field(default=None, max_length=200)
    ehe_letter_received_on: date | None = None
    note: str = Field(default="", max_length=4000)


class ConcludeInvestigationResult(BaseModel):
    case: str
    stage: Stage
    outcome: CaseOutcome | None = None  # set when the conclusion closes the case


class AuthoriseDeletionInput(BaseModel):
    by: Actor
    ground: str
    decision_date: date | None = None  # today when not given; never in the past


class AuthoriseDeletionResult(BaseModel):
    case: str
    outcome: CaseOutcome


class WithdrawInput(BaseModel):
    by: Actor
    reason: str = Field(min_length=1, max_length=2000)
    duplicate_of: str | None = None


class WithdrawResult(BaseModel):
    case: str
    outcome: CaseOutcome


class ReassignInput(BaseModel):
    by: Actor
    officer: str = Field(min_length=1, max_length=200)


class ReassignResult(BaseModel):
    case: str
    assigned_officer: str
