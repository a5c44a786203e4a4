"""The records a case keeps (tasks, enquiries, escalations, problems, its outcome) and the words
of its vocabulary (kinds, stages, roles), as typed, serialisable models. The case's state, which
holds them, is :class:`domain.case.state.CaseState`. New fields always get defaults, so a record
serialised by an earlier version keeps decoding.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from domain.case.kinds import CaseKind, Stage
from domain.deletion import CustodialOrder
from domain.enquiries import Enquiry
from domain.grounds import Rulebook
from domain.intake import ProfessionalCMEReferral, PupilMigrationReturn, SchoolCMEReferral
from domain.types import EmailAddress, Laestab, Note, PersonName, Reference, ShortText

__all__ = [
    "Actor",
    "CaseKind",
    "CaseOutcome",
    "CommandResult",
    "Conclusion",
    "CtfConfirmation",
    "Deadlines",
    "Decision",
    "DeletionFacts",
    "EpisodeSummary",
    "Escalation",
    "EscalationKind",
    "InvestigationOutcome",
    "LoggedEnquiry",
    "LoggedInformation",
    "Problem",
    "ProblemKind",
    "Role",
    "Stage",
    "Task",
    "TaskName",
    "TaskStatus",
    "case_kind_of",
]


def case_kind_of(
    referral: PupilMigrationReturn | SchoolCMEReferral | ProfessionalCMEReferral,
) -> CaseKind:
    if isinstance(referral, PupilMigrationReturn):
        return CaseKind.DESTINATION_VERIFIED
    if isinstance(referral, SchoolCMEReferral):
        return CaseKind.DESTINATION_NOT_VERIFIED
    return CaseKind.NOT_ON_ROLL


class Role(StrEnum):
    SCHOOL = "school"  # a school's user: acts only on its own schools' cases
    PROFESSIONAL = "professional"  # refers a child who may not be on a roll
    CME_OFFICER = "cme_officer"
    TEAM_LEADER = "team_leader"  # SAT team leader: withdraws, reassigns
    MASH = "mash"  # reads child-protection cases
    MANAGER = "manager"  # reads every case, changes none
    ADMIN = "admin"  # manages users only
    SERVICE = "service"  # the case itself: deadlines, deliveries


class Actor(BaseModel):
    """Who did something: a named person acting in a role (and, for a school's user, the schools
    they act for). Set by a trusted client from its signed-in user, never typed by that user."""

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    name: PersonName
    role: Role
    schools: tuple[Laestab, ...] = ()


class TaskName(StrEnum):
    SCHOOL_ENQUIRIES = "school_enquiries"
    CONFIRM_REGISTER_CODES = "confirm_register_codes"  # 2024 9(1)(i): every session's code
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
    PROBLEM = "problem"  # something the service could not do: see the case's problems


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
    episode: int = 1
    decision: Decision
    investigation_outcome: InvestigationOutcome | None = None
    closure_reason: str | None = None
    rulebook: Rulebook | None = None
    ground: str | None = None
    ground_title: str | None = None
    ground_other_rulebook: str | None = None
    # The first school day the school may delete the pupil from (never before the decision).
    earliest_deletion_date: date | None = None
    ctf_destination: str | None = None
    decided_by: Actor
    decided_at: datetime
    duplicate_of: str | None = None


class Deadlines(BaseModel):
    """The case's deadlines, as dates of the school's calendar (``None``: none, or not counted)."""

    sat_referral: date | None = None  # school day 10: referred to SAT at its end
    threshold_day: date | None = None  # school day 20 (10 after leave): the absence threshold
    deletion_permitted_from: date | None = None  # the school day after the threshold day
    ctf: date | None = None  # 15 school days after the pupil ceased to be registered
    mash_call: date | None = None  # the end of the next school day after a MASH escalation


class Conclusion(BaseModel):
    """The CME officer's conclusion of the investigation."""

    outcome: InvestigationOutcome
    by: Actor
    at: datetime
    new_school_laestab: Laestab | None = None
    other_la: ShortText | None = None
    other_la_email: EmailAddress | None = None
    ehe_letter_reference: Reference | None = None
    ehe_letter_received_on: date | None = None
    note: Note = ""


class CtfConfirmation(BaseModel):
    destination_code: str
    sent_on: date
    on_time: bool
    by: Actor
    at: datetime


class DeletionFacts(BaseModel):
    """Facts an officer records that bear on whether the pupil's name may be removed (see
    :class:`domain.deletion.CaseFacts` for the regulation behind each)."""

    la_arranged_special_school: bool = False  # 2006 reg 8(2), 2024 reg 9(4): LA consent needed
    la_arranged_independent_special_school: bool = False  # s.434A(3)(b), with the s.37 switch
    attendance_order_names_school: bool = False  # 2024 9(1)(a)(i), (c)(iii), (f)
    mobile_child_main_school: bool = False  # 2024 9(1)(a)(ii), (c)(iv)
    s47_enquiries: bool = False  # s.47 Children Act 1989 enquiries (s.37 switch)
    s47_action: bool = False  # action under s.47(8) Children Act 1989 (s.37 switch)
    custodial_order: CustodialOrder | None = None  # 2024 9(1)(j): a final order or recall
    recorded_by: Actor | None = None
    recorded_at: datetime | None = None


class EpisodeSummary(BaseModel):
    """An earlier episode of the same child's case: what it was and how it ended."""

    episode: int
    kind: CaseKind
    opened_at: datetime
    closed_at: datetime | None = None
    child_protection: bool = False
    decision: Decision | None = None
    investigation_outcome: InvestigationOutcome | None = None
    ground: str | None = None


class ProblemKind(StrEnum):
    NOTIFICATION_UNDELIVERABLE = "notification_undeliverable"  # an address or message refused
    REGISTER_REJECTED = "register_rejected"  # the register refused the case's data
    CALENDAR_UNUSABLE = "calendar_unusable"  # the calendar file cannot be read
    CALENDAR_ENDS = "calendar_ends"  # a deadline lies past the configured calendar
    EPISODES_UNKNOWN = "episodes_unknown"  # earlier episodes could not be read from the register
    INTERNAL_ERROR = "internal_error"  # the service failed to process a step: a bug to report


class Problem(BaseModel):
    """Something the service could not do for this case. It stays on the case, is escalated to
    the team leader, and is retried (daily, weekly for the calendar, or by ``retry_problems``)
    until it clears. ``detail`` never carries personal data: it is shown in lists and logs."""

    id: int
    kind: ProblemKind
    subject: str  # what failed: a notification's purpose, a deadline's name, "register"
    detail: str
    raised_at: datetime
    last_attempt_at: datetime
    attempts: int = 1
    cleared_at: datetime | None = None


class CommandResult(BaseModel):
    """The answer to any request on a case. A request sent again with the same ``request_id``
    gets the first answer back, with ``duplicate_request`` set."""

    case: str
    episode: int
    stage: Stage
    duplicate_request: bool = False
    existing: bool = False  # a referral added to an open case, not a new one
    referrals_received: int = 1
    enquiry_id: int | None = None
    enquiries_recorded: int | None = None
    information_id: int | None = None
    escalation_id: int | None = None
    task_id: int | None = None
    mash_call_due: date | None = None
    destination_code: str | None = None
    ctf_on_time: bool | None = None
    outcome: CaseOutcome | None = None
    assigned_officer: str | None = None
    problems_retried: int | None = None
    sessions_missing: int | None = None  # register codes still needed for the 20-day ground
