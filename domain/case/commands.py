"""What can be asked of a case: one command model per request, plus the case's own commands
(deadlines, deliveries). Requests are what clients send as Temporal updates; every field uses the
shared boundary types (:mod:`domain.types`), so whatever a client builds, the worker decodes.

Every request carries ``by`` (who, in which role: set by a trusted client) and ``request_id``, an
idempotency key made by the client: the same request sent twice is applied once and the first
answer returned.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.case.model import Actor, EpisodeSummary, InvestigationOutcome
from domain.case.state import CaseState
from domain.deletion import ConsentKind, CustodialOrder, SessionCode
from domain.enquiries import Enquiry
from domain.intake import Referral
from domain.types import (
    CaseRef,
    EmailAddress,
    FreeText,
    Laestab,
    Note,
    PersonName,
    PlausibleDate,
    Reference,
    RequestId,
    ShortText,
)

__all__ = [
    "AuthoriseDeletion",
    "CalendarReloaded",
    "CaseCommand",
    "CaseInput",
    "CasePolicy",
    "ConcludeInvestigation",
    "ConfirmCtf",
    "ConfirmNoSicknessGrounds",
    "ConfirmRegisterCodes",
    "NotificationDelivered",
    "NotificationFailed",
    "OpenCase",
    "RaiseConcern",
    "Reassign",
    "RecordConsent",
    "RecordDeletionFacts",
    "RecordEnquiry",
    "RecordMashCall",
    "RegisterFailed",
    "RegisterReferral",
    "RegisterSynced",
    "ReportContact",
    "Request",
    "RetryProblems",
    "ShareInformation",
    "Tick",
    "Withdraw",
]

# A validation error's text never quotes a value (it can be a child's personal data).
_CONFIG = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)


class Request(BaseModel):
    """A person's request on a case."""

    model_config = _CONFIG

    by: Actor
    request_id: RequestId


class OpenCase(BaseModel):
    """The referral that opens an episode (the workflow's input, applied once it has started)."""

    model_config = _CONFIG

    type: Literal["open_case"] = "open_case"
    referral: Referral
    referred_by: Actor
    request_id: RequestId
    episode: int = Field(default=1, ge=1)
    earlier_episodes: list[EpisodeSummary] = Field(default_factory=list)
    # Why the earlier episodes are not known (the register could not be read), if they are not.
    episodes_problem: str | None = None
    # True when the referral's client already has its answer (a new episode opened from a
    # referral that reached the previous episode's run).
    answered: bool = False


class CasePolicy(BaseModel):
    """The LA's settings that decide a case's rules; carried by the case from its opening, so
    that it replays the same whatever the settings say later."""

    model_config = _CONFIG

    # Children's Wellbeing and Schools Act 2026 s.37 (s.434A EA 1996): off until commenced.
    s37_consent_rule: bool = False
    # Refuse a CTF to an LA code without a school (851LLLL): Portsmouth's rule (seed appendix 1).
    refuse_la_without_school: bool = True


# The revision every new run of the case workflow starts at (CaseInput.revision): 1, the
# register's work as local activities; 2, timers set once and never cancelled; 3, each email
# sent as a local activity first; 4, a sync wanted with an email rides along with its local
# activity.
LATEST_REVISION = 4


class CaseInput(BaseModel):
    """The case workflow's input: the opening referral, or the state a long case carries into
    its next run."""

    model_config = _CONFIG

    case: CaseRef
    opening: OpenCase
    # The episode and the earlier episodes are in ``opening`` already (a new episode opened by
    # the previous one): the register need not be read.
    episodes_known: bool = False
    carried_state: CaseState | None = None
    policy: CasePolicy = Field(default_factory=CasePolicy)
    # Continue-as-new (carrying the state) once the history is this long, or when Temporal
    # suggests it, whichever comes first; far below Temporal's 51,200-event limit.
    max_history_events: int = Field(default=10_000, ge=100)
    # How the run orchestrates the case (workflows.case: which of the workflow's changes it
    # runs with). Absent from the input of a run started before the field (0: those replay as
    # they ran); every run started since gets LATEST_REVISION. Left out of the payload when 0,
    # so that a revision-0 input is what it was before the field, which a worker older than the
    # field still decodes (a rolling upgrade, docs/deploy.md). A revision this code does not know
    # is refused (the run's first workflow task fails until a newer worker takes it) rather than
    # run the way an older revision runs, which a newer worker's replay would not match.
    revision: int = Field(
        default=0, ge=0, le=LATEST_REVISION, exclude_if=lambda revision: revision == 0
    )


class RegisterReferral(Request):
    """A referral delivered to the case (update-with-start): the opening one, or a further one."""

    type: Literal["register_referral"] = "register_referral"
    referral: Referral


class RecordEnquiry(Request):
    type: Literal["record_enquiry"] = "record_enquiry"
    enquiry: Enquiry


class ReportContact(Request):
    """Contact made / child located. ``returned_to_school`` closes a case with no deletion."""

    type: Literal["report_contact"] = "report_contact"
    contact_on: PlausibleDate
    returned_to_school: bool = True
    note: Note = ""


class RaiseConcern(Request):
    type: Literal["raise_concern"] = "raise_concern"
    concern: FreeText
    child_protection_plan: bool = False


class ShareInformation(Request):
    type: Literal["share_information"] = "share_information"
    information: FreeText
    attendance_codes: list[SessionCode] = Field(default_factory=list, max_length=400)


class RecordMashCall(Request):
    type: Literal["record_mash_call"] = "record_mash_call"
    called_on: PlausibleDate
    mash_reference: Reference | None = None
    advice: Note = ""


class ConfirmCtf(Request):
    type: Literal["confirm_ctf"] = "confirm_ctf"
    destination_code: Annotated[str, Field(min_length=1, max_length=20)]
    sent_on: PlausibleDate


class ConcludeInvestigation(Request):
    type: Literal["conclude_investigation"] = "conclude_investigation"
    outcome: InvestigationOutcome
    new_school_laestab: Laestab | None = None  # on roll elsewhere / placed on roll
    other_la: ShortText | None = None  # moved away / left the area
    other_la_email: EmailAddress | None = None
    ehe_letter_reference: Reference | None = None
    ehe_letter_received_on: PlausibleDate | None = None
    note: Note = ""


class AuthoriseDeletion(Request):
    type: Literal["authorise_deletion"] = "authorise_deletion"
    ground: Annotated[str, Field(min_length=1, max_length=40)]
    decision_date: PlausibleDate | None = None  # today when not given; never in the past


class Withdraw(Request):
    type: Literal["withdraw"] = "withdraw"
    reason: FreeText
    duplicate_of: CaseRef | None = None


class Reassign(Request):
    type: Literal["reassign"] = "reassign"
    officer: PersonName


class ConfirmRegisterCodes(Request):
    """The school's register codes for the sessions of the absence (2024 9(1)(i) needs every
    session of the 20 school days on file, coded G, N or O)."""

    type: Literal["confirm_register_codes"] = "confirm_register_codes"
    codes: list[SessionCode] = Field(min_length=1, max_length=400)


class ConfirmNoSicknessGrounds(Request):
    """The officer's confirmation that there are no reasonable grounds to believe the pupil cannot
    attend because of sickness or an unavoidable cause (2006 8(1)(f)(ii), (h)(ii); 2024 9(1)(h),
    (i))."""

    type: Literal["confirm_no_sickness_grounds"] = "confirm_no_sickness_grounds"
    note: Note = ""


class RecordConsent(Request):
    """The consent of the LA that placed the pupil at a special school, or a Secretary of State
    direction (2006 reg 8(2), 2024 reg 9(4)); the LA's consent of s.434A once commenced."""

    type: Literal["record_consent"] = "record_consent"
    kind: ConsentKind = ConsentKind.LA_CONSENT
    consented_by: PersonName
    consented_on: PlausibleDate
    reference: Note = ""


class RecordDeletionFacts(Request):
    """Facts that bear on deletion, as the officer finds them; a field left out is unchanged."""

    type: Literal["record_deletion_facts"] = "record_deletion_facts"
    la_arranged_special_school: bool | None = None
    la_arranged_independent_special_school: bool | None = None
    attendance_order_names_school: bool | None = None
    mobile_child_main_school: bool | None = None
    s47_enquiries: bool | None = None
    s47_action: bool | None = None
    custodial_order: CustodialOrder | None = None


class RetryProblems(Request):
    """Retry what failed (after the address, settings or calendar file were put right)."""

    type: Literal["retry_problems"] = "retry_problems"


# -- the case's own commands ---------------------------------------------------------------------


class Tick(BaseModel):
    """Time has passed: act on every deadline and retry that is due now."""

    model_config = _CONFIG
    type: Literal["tick"] = "tick"


class NotificationDelivered(BaseModel):
    model_config = _CONFIG
    type: Literal["notification_delivered"] = "notification_delivered"
    purpose: str
    # The delivery marked the email sent in the register's outbox itself: no register sync is
    # needed for it (the register holds nothing else of a delivery).
    recorded: bool = False


class NotificationFailed(BaseModel):
    """The notification was refused for good (an address, the message); ``detail`` names the
    failure without personal data."""

    model_config = _CONFIG
    type: Literal["notification_failed"] = "notification_failed"
    purpose: str
    detail: str


class RegisterSynced(BaseModel):
    model_config = _CONFIG
    type: Literal["register_synced"] = "register_synced"


class RegisterFailed(BaseModel):
    model_config = _CONFIG
    type: Literal["register_failed"] = "register_failed"
    detail: str


class CalendarReloaded(BaseModel):
    """The calendar was read again; ``problem`` says why it cannot be used, if it cannot."""

    model_config = _CONFIG
    type: Literal["calendar_reloaded"] = "calendar_reloaded"
    problem: str | None = None


CaseCommand = (
    OpenCase
    | RegisterReferral
    | RecordEnquiry
    | ReportContact
    | RaiseConcern
    | ShareInformation
    | RecordMashCall
    | ConfirmCtf
    | ConcludeInvestigation
    | AuthoriseDeletion
    | Withdraw
    | Reassign
    | ConfirmRegisterCodes
    | ConfirmNoSicknessGrounds
    | RecordConsent
    | RecordDeletionFacts
    | RetryProblems
    | Tick
    | NotificationDelivered
    | NotificationFailed
    | RegisterSynced
    | RegisterFailed
    | CalendarReloaded
)
