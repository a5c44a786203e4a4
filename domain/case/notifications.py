"""The emails a case sends, one model per email: what its template may say, typed.

A case decides *that* a notification is due and *what it must carry*; the words are Jinja2
templates in ``activities/templates/`` (one per ``kind``), rendered by the delivery activity. Each
model carries the facts its readers need to act (MASH: the child's last known address, contacts,
the referrer and the concern in the referrer's words), never codes for them to decode.

Recipients are roles (:class:`Recipient`); the delivery activity turns them into addresses: the
service's settings for MASH, SAT and the team leader, the school's address from its LAESTAB, and
``other_address`` for another LA or the referrer.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.case.model import (
    Actor,
    CaseKind,
    EpisodeSummary,
    InvestigationOutcome,
    ProblemKind,
    Role,
    Stage,
)
from domain.enquiries import Enquiry
from domain.grounds import Rulebook
from domain.intake import Address
from domain.types import EmailAddress

__all__ = [
    "AnyNotification",
    "CalendarEnds",
    "ChildDetails",
    "ClosureDecision",
    "ClosureToSchool",
    "ContactDetails",
    "CtfOverdue",
    "InformationShared",
    "MashCallOverdue",
    "MashEscalation",
    "NotOnRollReferral",
    "NotificationBase",
    "OtherLaNotice",
    "OutcomeToSchool",
    "ProblemReport",
    "Recipient",
    "ReferrerDetails",
    "SatReferral",
    "ThresholdReached",
]


# A validation error's text never quotes a value (the child's details are personal data).
_PRIVATE = ConfigDict(hide_input_in_errors=True)


class Recipient(StrEnum):
    MASH = "mash"
    SAT = "sat"
    TEAM_LEADER = "team_leader"
    SCHOOL = "school"  # the address comes from the school's LAESTAB (a setting's pattern)
    OTHER_LA = "other_la"  # the address is the notification's other_address
    REFERRER = "referrer"  # the address is the notification's other_address


class ContactDetails(BaseModel):
    model_config = _PRIVATE

    name: str
    relationship: str | None = None
    phone_numbers: list[str] = Field(default_factory=list)
    is_primary: bool = False


class ChildDetails(BaseModel):
    """The child as the referral describes them, for professionals who must act."""

    model_config = _PRIVATE

    first_name: str
    last_name: str
    date_of_birth: date
    upn: str | None = None
    gender: str
    address: Address | None = None
    address_kind: Literal["last known address", "new address", "address"] = "address"
    address_if_different: Address | None = None
    lives_with: str | None = None  # "Hannah Testwood (mother)"
    contacts: list[ContactDetails] = Field(default_factory=list)


class ReferrerDetails(BaseModel):
    """Who referred the child and how to reach them."""

    model_config = _PRIVATE

    name: str
    organisation: str | None = None
    role: str | None = None
    phone: str | None = None
    email: str | None = None
    school_laestab: str | None = None


class NotificationBase(BaseModel):
    model_config = _PRIVATE

    case: str
    episode: int
    purpose: str  # unique within the episode: (case, episode, purpose) is the outbox key
    to: list[Recipient]
    case_kind: CaseKind
    school_laestab: str | None = None
    other_address: EmailAddress | None = None  # for OTHER_LA or REFERRER
    child: ChildDetails | None = None


class MashEscalation(NotificationBase):
    """A child with a Child Protection Plan or a safeguarding concern: MASH and SAT at once."""

    kind: Literal["mash_escalation"] = "mash_escalation"
    child_protection_plan: bool
    concern: str | None = None  # in the words of whoever raised it
    raised_by: Actor
    referrer: ReferrerDetails | None = None
    stage: Stage
    mash_call_due: date | None = None  # None: past the calendar, see the case
    mash_caller: Role  # whose duty the phone call to MASH is (school or CME officer)
    earlier_episodes: list[EpisodeSummary] = Field(default_factory=list)


class MashCallOverdue(NotificationBase):
    kind: Literal["mash_call_overdue"] = "mash_call_overdue"
    mash_call_due: date
    mash_caller: Role


class SatReferral(NotificationBase):
    """No contact by the end of school day 10: the case goes to the School Attendance Team."""

    kind: Literal["sat_referral"] = "sat_referral"
    day1: date
    day10: date
    enquiries: list[Enquiry] = Field(default_factory=list)
    referrer: ReferrerDetails | None = None
    earlier_episodes: list[EpisodeSummary] = Field(default_factory=list)


class NotOnRollReferral(NotificationBase):
    kind: Literal["not_on_roll_referral"] = "not_on_roll_referral"
    referrer: ReferrerDetails
    where_seen: str
    how_known_not_on_roll: str
    spoke_to_parents: bool
    notes: str | None = None
    school_place_offered_not_taken: bool | None = None
    earlier_episodes: list[EpisodeSummary] = Field(default_factory=list)


class InformationShared(NotificationBase):
    kind: Literal["information_shared"] = "information_shared"
    shared_by: Actor
    information: str
    attendance_codes: int = 0


class ThresholdReached(NotificationBase):
    """The absence threshold is reached: deletion may be considered once enquiries have failed."""

    kind: Literal["threshold_reached"] = "threshold_reached"
    ground_code: str
    ground_title: str
    threshold_day: date  # school day 20 (or 10 after leave)
    threshold_days: int  # 20 or 10
    deletion_permitted_from: date
    stage: Stage
    school_enquiries: list[Enquiry] = Field(default_factory=list)
    la_enquiries: list[Enquiry] = Field(default_factory=list)


class CtfOverdue(NotificationBase):
    kind: Literal["ctf_overdue"] = "ctf_overdue"
    ctf_due: date
    ctf_destination: str
    # An academy's school: the deadline is a strong encouragement, so a reminder, not a breach.
    reminder_only: bool = False


class OutcomeToSchool(NotificationBase):
    """The written outcome: the pupil may be deleted on a ground, from a school day."""

    kind: Literal["outcome_to_school"] = "outcome_to_school"
    investigation_outcome: InvestigationOutcome | None = None  # None: a verified return
    rulebook: Rulebook
    ground: str
    ground_title: str
    ground_other_rulebook: str | None = None
    deletion_from: date  # a school day of the school, never before the decision
    ctf_destination: str
    ctf_due: date | None = None
    decided_by: Actor


class ClosureToSchool(NotificationBase):
    kind: Literal["closure_to_school"] = "closure_to_school"
    investigation_outcome: InvestigationOutcome | None = None
    reason: str
    decided_by: Actor


class ClosureDecision(NotificationBase):
    """A not-on-roll referral closed: to SAT and the referrer."""

    kind: Literal["closure_decision"] = "closure_decision"
    investigation_outcome: InvestigationOutcome | None = None
    reason: str
    decided_by: Actor


class OtherLaNotice(NotificationBase):
    kind: Literal["other_la_notice"] = "other_la_notice"
    other_la: str | None = None


class CalendarEnds(NotificationBase):
    """A deadline cannot be counted: it lies past the configured calendar."""

    kind: Literal["calendar_ends"] = "calendar_ends"
    deadline: str
    problem: str


class ProblemReport(NotificationBase):
    """To the team leader: something the service could not do for a case (no child's data)."""

    kind: Literal["problem_report"] = "problem_report"
    problem_kind: ProblemKind
    subject: str
    detail: str


AnyNotification = Annotated[
    MashEscalation
    | MashCallOverdue
    | SatReferral
    | NotOnRollReferral
    | InformationShared
    | ThresholdReached
    | CtfOverdue
    | OutcomeToSchool
    | ClosureToSchool
    | ClosureDecision
    | OtherLaNotice
    | CalendarEnds
    | ProblemReport,
    Field(discriminator="kind"),
]
