"""The case's rules that are questions, not steps: who may do what, what a case's facts are, which
ground fits an outcome, and how the people and places of a referral are described.

Each refusal is a :class:`Rejected` whose message is the reason, for the person who asked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from domain.calendar import SchoolCalendar, human_date
from domain.case.model import Actor, CaseKind, InvestigationOutcome, Role, Stage
from domain.case.notifications import ChildDetails, ContactDetails, ReferrerDetails
from domain.case.state import CaseState
from domain.ctf import LOST_PUPIL_DATABASE, ctf_deadline_binds, validate_ctf_destination
from domain.deletion import AFTER_LEAVE_DAYS, CONTINUOUS_ABSENCE_DAYS, CaseFacts
from domain.enquiries import (
    LA_ENQUIRY_KINDS,
    SCHOOL_ENQUIRY_KINDS,
    AbsenceKind,
    EnquiryBy,
    EnquiryKind,
)
from domain.grounds import MOVED_AWAY, REGISTERED_ELSEWHERE_CONFIRMED, GroundKey, find_ground
from domain.intake import (
    AnyReferral,
    ProfessionalCMEReferral,
    PupilMigrationReturn,
    SchoolCMEReferral,
)

__all__ = [
    "ABSENCE_GROUND_DAYS",
    "CALENDAR_DID_NOT_LOAD",
    "CASE_FAILED_REQUEST",
    "CASE_OPENING",
    "CHANGERS",
    "DELIVERY_FAILED",
    "NEXT_EPISODE_OPENING",
    "NOT_ON_ROLL_OUTCOMES",
    "NOT_VERIFIED_OUTCOMES",
    "OFFICERS",
    "REGISTER_SYNC_FAILED",
    "DeletionRefusal",
    "Rejected",
    "absence_began",
    "absence_ground_key",
    "can_view",
    "case_facts",
    "case_schools",
    "check_conclusion",
    "check_enquiry",
    "check_referrer",
    "child_details",
    "ctf_deadline_binds_case",
    "ctf_destination_of",
    "day1_of",
    "deletion_refusal",
    "deletion_refused",
    "expected_ground_key",
    "mash_caller",
    "referrer_details",
    "require_in_case_period",
    "require_may_change",
    "require_open",
    "require_role",
    "require_school_access",
]


# What the workflow answers when it cannot put a request to the case (the words live here, with
# the rest of the case's refusals).
CASE_OPENING = "the case is still opening: send the request again in a moment"
NEXT_EPISODE_OPENING = "the case's next episode is opening: send the request again in a moment"
CASE_FAILED_REQUEST = (
    "the case could not process this request: the team leader is told; try again later"
)
# An activity that failed for good without saying why.
DELIVERY_FAILED = "the delivery failed"
REGISTER_SYNC_FAILED = "the register sync failed"
CALENDAR_DID_NOT_LOAD = "the calendar did not load"


class Rejected(Exception):
    """A request the case refuses now; the message says why. Nothing of it is recorded."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# A refused deletion: the ground, the decision date, then every reason the law's conditions are
# not met (domain.deletion.assess_deletion), each once, joined by the separator (which no reason
# contains), so that a client can list them one by one.
_REASONS_SEPARATOR = "; "
_DELETION_REFUSED = re.compile(
    r"deletion on (?P<ground>\S+) not permitted on (?P<on>[^:]+): (?P<reasons>.+)", re.S
)


@dataclass(frozen=True)
class DeletionRefusal:
    """A refused deletion, read back from the case's refusal (:func:`deletion_refusal`)."""

    ground: str
    on: str  # the decision date, as the refusal words it
    reasons: list[str]


def deletion_refused(ground: str, decision_date: date, reasons: list[str]) -> str:
    """The case's refusal of a deletion: every reason, for the officer to put right at once."""
    assert reasons and not any(_REASONS_SEPARATOR in r for r in reasons), reasons
    return (
        f"deletion on {ground} not permitted on {human_date(decision_date)}: "
        + _REASONS_SEPARATOR.join(reasons)
    )


def deletion_refusal(message: str) -> DeletionRefusal | None:
    """The ground, date and reasons of a refusal made by :func:`deletion_refused`; ``None`` for
    any other refusal."""
    found = _DELETION_REFUSED.fullmatch(message)
    if found is None:
        return None
    return DeletionRefusal(
        ground=found["ground"],
        on=found["on"],
        reasons=found["reasons"].split(_REASONS_SEPARATOR),
    )


NOT_VERIFIED_OUTCOMES = frozenset(
    {
        InvestigationOutcome.LOCATED_BACK_AT_SCHOOL,
        InvestigationOutcome.ON_ROLL_ELSEWHERE,
        InvestigationOutcome.MOVED_AWAY,
        InvestigationOutcome.HOME_EDUCATED,
        InvestigationOutcome.NOT_LOCATED,
    }
)
NOT_ON_ROLL_OUTCOMES = frozenset(
    {
        InvestigationOutcome.PLACED_ON_ROLL,
        InvestigationOutcome.HOME_EDUCATED,
        InvestigationOutcome.LEFT_AREA,
        InvestigationOutcome.NOT_LOCATED,
    }
)
OFFICERS = frozenset({Role.CME_OFFICER, Role.TEAM_LEADER})


def _words(value: str) -> str:
    return value.replace("_", " ")


# -- who may do what, and when ---------------------------------------------------------------------


# Who may change a case at all (each request's own rule then says who may make it).
CHANGERS = frozenset({Role.SCHOOL, Role.PROFESSIONAL, Role.CME_OFFICER, Role.TEAM_LEADER})
_READ_ONLY_WORDS = {
    Role.MASH: "MASH reads child-protection cases and changes none",
    Role.MANAGER: "a manager reads cases and changes none",
    Role.ADMIN: "an administrator manages users and changes no case",
    Role.SERVICE: "the service changes a case only on its own",
}


def require_may_change(by: Actor) -> None:
    """Only schools, professionals, CME officers and team leaders change cases."""
    if by.role not in CHANGERS:
        raise Rejected(_READ_ONLY_WORDS[by.role])


def case_schools(state: CaseState) -> tuple[str, ...]:
    """The schools whose users may act on a case: the school it is missing from or, for a child
    on no roll referred by a school's user, that user's schools."""
    if state.school_laestab is not None:
        return (state.school_laestab,)
    if state.referred_by.role is Role.SCHOOL:
        return state.referred_by.schools
    return ()


def require_school_access(by: Actor, schools: tuple[str, ...]) -> None:
    """A school's user acts only on the cases of the schools they act for."""
    if by.role is not Role.SCHOOL:
        return
    if not by.schools:
        raise Rejected("a school user acts for named schools: none is given")
    if not set(schools) & set(by.schools):
        raise Rejected(
            "this case is not one of your schools': a school user acts only on the cases of "
            + ", ".join(by.schools)
        )


def check_referrer(referral: AnyReferral, by: Actor) -> None:
    """Who may refer: a school's user for its own schools' pupils (or a child on no roll), a
    professional (a child on no roll), a CME officer or team leader (any form)."""
    require_may_change(by)
    if by.role is Role.PROFESSIONAL and not isinstance(referral, ProfessionalCMEReferral):
        raise Rejected(
            "a professional refers a child who may not be on a roll (the professional form); the "
            "school's forms are for its staff"
        )
    if by.role is Role.SCHOOL and not isinstance(referral, ProfessionalCMEReferral):
        require_school_access(by, (referral.school_laestab,))
    elif by.role is Role.SCHOOL and not by.schools:
        raise Rejected("a school user acts for named schools: none is given")


def can_view(by: Actor, *, schools: tuple[str, ...], child_protection: bool) -> bool:
    """Whether ``by`` may read a case (pages, API): officers, team leaders and managers read
    every case; MASH the child-protection ones; a school's user its own schools' cases
    (:func:`case_schools`)."""
    match by.role:
        case Role.CME_OFFICER | Role.TEAM_LEADER | Role.MANAGER:
            return True
        case Role.MASH:
            return child_protection
        case Role.SCHOOL:
            return bool(set(schools) & set(by.schools))
    return False


def require_open(state: CaseState) -> None:
    if state.stage is Stage.CLOSED:
        raise Rejected(f"case {state.case} is closed")


def require_role(by: Actor, roles: frozenset[Role], action: str) -> None:
    if by.role not in roles:
        allowed = " or ".join(sorted(_words(r.value) for r in roles))
        raise Rejected(f"{action} is for a {allowed}, not a {_words(by.role.value)}")


def absence_began(state: CaseState) -> date:
    """The first day anything about this case can have happened: day 1 of a missing pupil's
    absence, the leaving date of a return, the referral date of a professional's referral."""
    referral = state.referral
    if isinstance(referral, SchoolCMEReferral):
        return min(referral.first_day_of_absence, referral.referral_date)
    if isinstance(referral, PupilMigrationReturn):
        return min(referral.leaving_date, referral.referral_date)
    return referral.referral_date


def require_in_case_period(day: date, state: CaseState, today: date, what: str) -> None:
    """A date a person gives for something done on the case: not in the future, and not before
    the case's absence began (an enquiry dated 1999 is a typing slip)."""
    if day > today:
        raise Rejected(f"{what} {human_date(day)} is in the future (today is {human_date(today)})")
    began = absence_began(state)
    if day < began:
        raise Rejected(
            f"{what} {human_date(day)} is before the case began ({human_date(began)}): check "
            "the date"
        )


def check_enquiry(state: CaseState, by: Actor, kind: EnquiryKind, made_by: EnquiryBy) -> None:
    """Who may record which enquiry, and when (seed 2.4)."""
    if state.kind is CaseKind.DESTINATION_VERIFIED:
        raise Rejected("a destination-verified case has no enquiries: the destination is known")
    if by.role is Role.SCHOOL:
        if made_by is not EnquiryBy.SCHOOL:
            raise Rejected("a school records its own enquiries (by: school)")
        if kind not in SCHOOL_ENQUIRY_KINDS:
            raise Rejected(
                f"{kind.value} is an LA enquiry; a school's are "
                + ", ".join(sorted(k.value for k in SCHOOL_ENQUIRY_KINDS))
            )
        return
    require_role(by, OFFICERS | {Role.SCHOOL}, "recording an enquiry")
    if made_by is not EnquiryBy.LA:
        raise Rejected("a CME officer records the LA's enquiries (by: la)")
    if state.stage is Stage.SCHOOL_ENQUIRIES:
        raise Rejected(
            "the case has not been referred to the School Attendance Team yet: LA enquiries "
            "start after school day 10"
        )
    if kind not in LA_ENQUIRY_KINDS:
        raise Rejected(f"{kind.value} is a school's enquiry, not the LA's")
    if kind is EnquiryKind.HOME_VISIT and state.kind is CaseKind.DESTINATION_NOT_VERIFIED:
        done = {e.enquiry.kind for e in state.enquiries if e.enquiry.by is EnquiryBy.SCHOOL}
        missing = [
            words
            for needed, words in (
                (EnquiryKind.PHONE_PRIMARY, "phone call to the primary contact"),
                (EnquiryKind.LETTER, "letter to the last known address"),
            )
            if needed not in done
        ]
        if missing:
            raise Rejected(
                "the CME officer's home visit comes after the school's reasonable efforts: no "
                + " and no ".join(missing)
                + " recorded"
            )


def check_conclusion(
    state: CaseState,
    outcome: InvestigationOutcome,
    *,
    new_school_laestab: str | None,
    other_la: str | None,
    ehe_letter_reference: str | None,
) -> None:
    if state.stage is not Stage.LA_INVESTIGATION:
        raise Rejected(
            f"only a case under investigation can be concluded; this one is at stage "
            f"{_words(state.stage.value)}"
        )
    allowed = NOT_ON_ROLL_OUTCOMES if state.kind is CaseKind.NOT_ON_ROLL else NOT_VERIFIED_OUTCOMES
    if outcome not in allowed:
        raise Rejected(
            f"{outcome.value} is not an outcome of a {_words(state.kind.value)} case; "
            "choose one of " + ", ".join(sorted(o.value for o in allowed))
        )
    if outcome in (InvestigationOutcome.ON_ROLL_ELSEWHERE, InvestigationOutcome.PLACED_ON_ROLL):
        if not new_school_laestab:
            raise Rejected(
                "new_school_laestab: the school's 7-digit LAESTAB is needed, e.g. 8512001"
            )
        if new_school_laestab == state.school_laestab:
            raise Rejected("new_school_laestab: that is the school the child is missing from")
    if (
        outcome in (InvestigationOutcome.MOVED_AWAY, InvestigationOutcome.LEFT_AREA)
        and not other_la
    ):
        raise Rejected("other_la: name the local authority (or country) the child moved to")
    if outcome is InvestigationOutcome.HOME_EDUCATED and not ehe_letter_reference:
        raise Rejected(
            "ehe_letter_reference: home education needs the parent's written deregistration letter"
        )
    if outcome is InvestigationOutcome.NOT_LOCATED and not any(
        e.enquiry.by is EnquiryBy.LA for e in state.enquiries
    ):
        raise Rejected(
            "no LA enquiry recorded: the CME officer's enquiries come before concluding not located"
        )


# -- the case's facts ------------------------------------------------------------------------------


def day1_of(referral: SchoolCMEReferral, calendar: SchoolCalendar) -> date:
    """Day 1: the first school day of absence; after leave, the first school day after it ended."""
    if referral.absence_kind is AbsenceKind.AFTER_LEAVE and referral.leave_end_date is not None:
        return calendar.school_day_after(referral.leave_end_date, 1, referral.school_laestab)
    return referral.first_day_of_absence


def absence_ground_key(referral: SchoolCMEReferral) -> GroundKey:
    """The ground a missing pupil not located is deleted on: after leave, or 20 days' absence."""
    if referral.absence_kind is AbsenceKind.AFTER_LEAVE:
        return GroundKey.AFTER_LEAVE
    return GroundKey.CONTINUOUS_ABSENCE


ABSENCE_GROUND_DAYS = {
    GroundKey.AFTER_LEAVE: AFTER_LEAVE_DAYS,
    GroundKey.CONTINUOUS_ABSENCE: CONTINUOUS_ABSENCE_DAYS,
}


def expected_ground_key(state: CaseState) -> GroundKey | None:
    """The ground the case's outcome points to (a verified return names its own)."""
    referral = state.referral
    if isinstance(referral, PupilMigrationReturn):
        return find_ground(referral.ground).key
    conclusion = state.conclusion
    match conclusion.outcome if conclusion else None:
        case InvestigationOutcome.ON_ROLL_ELSEWHERE:
            return GroundKey.REGISTERED_ELSEWHERE
        case InvestigationOutcome.MOVED_AWAY:
            return GroundKey.MOVED_AWAY
        case InvestigationOutcome.HOME_EDUCATED:
            return GroundKey.EHE
        case InvestigationOutcome.NOT_LOCATED:
            assert isinstance(referral, SchoolCMEReferral)
            return absence_ground_key(referral)
    return None


def case_facts(state: CaseState) -> CaseFacts:
    """What the case knows that bears on deletion, for :func:`domain.deletion.assess_deletion`."""
    referral = state.referral
    conclusion = state.conclusion
    recorded = state.facts
    facts = CaseFacts(
        school_laestab=state.school_laestab,
        date_of_birth=state.child.date_of_birth,
        enquiries=[e.enquiry for e in state.enquiries],
        attendance_codes=list(state.attendance_codes),
        no_sickness_confirmation=state.no_sickness_confirmation,
        child_protection_plan=state.child_protection,
        ehe_letter_reference=conclusion.ehe_letter_reference if conclusion else None,
        ehe_letter_received_on=conclusion.ehe_letter_received_on if conclusion else None,
        s47_enquiries=recorded.s47_enquiries,
        s47_action=recorded.s47_action,
        la_arranged_special_school=recorded.la_arranged_special_school,
        la_arranged_independent_special_school=recorded.la_arranged_independent_special_school,
        la_consent=state.la_consent,
        attendance_order_names_school=recorded.attendance_order_names_school,
        mobile_child_main_school=recorded.mobile_child_main_school,
        custodial_order=recorded.custodial_order,
    )
    if isinstance(referral, SchoolCMEReferral):
        facts.absence_kind = referral.absence_kind
        facts.first_day_of_absence = referral.first_day_of_absence
        facts.leave_end_date = referral.leave_end_date
    if isinstance(referral, PupilMigrationReturn):
        # The completed return is itself the school's evidence for the ground it names.
        ground = find_ground(referral.ground)
        evidence = f"Pupil Migration LA Return of {human_date(referral.referral_date)}"
        facts.evidence = dict.fromkeys(ground.evidence, evidence)
        if referral.ehe_letter_reference:
            facts.ehe_letter_reference = referral.ehe_letter_reference
            facts.ehe_letter_received_on = referral.leaving_date
        if facts.custodial_order is None:
            facts.custodial_order = referral.custodial_order
    if conclusion is not None and conclusion.new_school_laestab:
        facts.evidence[REGISTERED_ELSEWHERE_CONFIRMED] = (
            f"on roll at {conclusion.new_school_laestab} (CME officer)"
        )
    if conclusion is not None and conclusion.other_la:
        facts.evidence[MOVED_AWAY] = f"moved to {conclusion.other_la} (CME officer)"
    return facts


def ctf_destination_of(state: CaseState) -> str:
    referral = state.referral
    if isinstance(referral, PupilMigrationReturn):
        return referral.destination.ctf_code
    conclusion = state.conclusion
    if (
        conclusion is not None
        and conclusion.outcome is InvestigationOutcome.ON_ROLL_ELSEWHERE
        and conclusion.new_school_laestab
    ):
        return validate_ctf_destination(conclusion.new_school_laestab)
    return LOST_PUPIL_DATABASE


def ctf_deadline_binds_case(state: CaseState) -> bool:
    """Whether an overdue CTF is a breach to escalate (an LA-maintained school, or one whose type
    is not known) or a reminder (an academy: strongly encouraged, not bound; Pupil Information
    Regulations 2005 reg 9(3))."""
    referral = state.referral
    school_type = referral.school_type if isinstance(referral, PupilMigrationReturn) else None
    return ctf_deadline_binds(school_type)


def mash_caller(state: CaseState) -> Role:
    """Whose duty the phone call to MASH is: the school's, or the CME officer's on a referral of
    a child not on roll."""
    return Role.CME_OFFICER if state.kind is CaseKind.NOT_ON_ROLL else Role.SCHOOL


# -- people and places, for the emails -------------------------------------------------------------


def child_details(referral: AnyReferral) -> ChildDetails:
    if isinstance(referral, ProfessionalCMEReferral):
        child = referral.child
        return ChildDetails(
            first_name=child.first_name,
            last_name=child.last_name,
            date_of_birth=child.date_of_birth,
            upn=child.upn,
            gender=_words(child.gender.value),
            address=child.address,
            address_kind="address",
            address_if_different=referral.address_if_different,
            contacts=[
                ContactDetails(
                    name=parent.name,
                    relationship="parent",
                    phone_numbers=[parent.contact_number] if parent.contact_number else [],
                )
                for parent in referral.parents
            ],
        )
    pupil = referral.pupil
    if isinstance(referral, SchoolCMEReferral):
        return ChildDetails(
            first_name=pupil.first_name,
            last_name=pupil.last_name,
            date_of_birth=pupil.date_of_birth,
            upn=pupil.upn,
            gender=_words(pupil.gender.value),
            address=referral.last_known_address,
            address_kind="last known address",
            contacts=[
                ContactDetails(
                    name=contact.name,
                    relationship=contact.relationship,
                    phone_numbers=list(contact.phone_numbers),
                    is_primary=contact.is_primary,
                )
                for contact in referral.contacts
            ],
        )
    return ChildDetails(
        first_name=pupil.first_name,
        last_name=pupil.last_name,
        date_of_birth=pupil.date_of_birth,
        upn=pupil.upn,
        gender=_words(pupil.gender.value),
        address=referral.new_address,
        address_kind="new address",
        lives_with=f"{referral.lives_with.name} ({referral.lives_with.relationship})",
    )


def referrer_details(referral: AnyReferral, by: Actor) -> ReferrerDetails:
    if isinstance(referral, ProfessionalCMEReferral):
        r = referral.referrer
        return ReferrerDetails(
            name=r.name, organisation=r.organisation, role=r.role, phone=r.phone, email=r.email
        )
    return ReferrerDetails(name=by.name, role="school", school_laestab=referral.school_laestab)
