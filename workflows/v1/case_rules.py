"""Pure helpers of the case workflow: what a case's facts are, which ground fits an outcome, and
the words of each rejection. No Temporal calls here, so validators and handlers share them."""

from __future__ import annotations

from datetime import date

from temporalio.exceptions import ApplicationError

from domain.calendar import SchoolCalendar, human_date
from domain.ctf import LOST_PUPIL_DATABASE, validate_ctf_destination
from domain.enquiries import (
    LA_ENQUIRY_KINDS,
    SCHOOL_ENQUIRY_KINDS,
    AbsenceKind,
    EnquiryBy,
    EnquiryKind,
)
from domain.grounds import (
    MOVED_AWAY,
    REGISTERED_ELSEWHERE_CONFIRMED,
    GroundKey,
    find_ground,
)
from domain.intake import ProfessionalCMEReferral, PupilMigrationReturn, SchoolCMEReferral
from workflows.v1.deletion import AFTER_LEAVE_DAYS, CONTINUOUS_ABSENCE_DAYS, CaseFacts
from workflows.v1.models import (
    Actor,
    CaseKind,
    CaseState,
    InvestigationOutcome,
    Role,
    Stage,
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


class Rejected(ApplicationError):
    """An update a person may not make now; the message says why (the client's error cause)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, type="Rejected", non_retryable=True)


def pupil_line(state: CaseState) -> str:
    """How emails name the child: for professionals' eyes only, never logs or ids."""
    referral = state.referral
    child = referral.child if isinstance(referral, ProfessionalCMEReferral) else referral.pupil
    upn = f", UPN {child.upn}" if child.upn else ""
    return f"{child.first_name} {child.last_name} (born {human_date(child.date_of_birth)}{upn})"


def day1_of(referral: SchoolCMEReferral, calendar: SchoolCalendar) -> date:
    """Day 1: the first school day of absence; after leave, the first school day after it ended."""
    if referral.absence_kind is AbsenceKind.AFTER_LEAVE and referral.leave_end_date is not None:
        return calendar.school_day_after(referral.leave_end_date, 1, referral.school_laestab)
    return referral.first_day_of_absence


def require_open(state: CaseState) -> None:
    if state.stage is Stage.CLOSED:
        raise Rejected(f"case {state.case} is closed")


def require_role(by: Actor, roles: frozenset[Role], action: str) -> None:
    if by.role not in roles:
        allowed = " or ".join(sorted(r.value.replace("_", " ") for r in roles))
        raise Rejected(f"{action} is for a {allowed}, not a {by.role.value.replace('_', ' ')}")


def require_not_future(day: date, today: date, what: str) -> None:
    if day > today:
        raise Rejected(f"{what} {human_date(day)} is in the future (today is {human_date(today)})")


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
            f"{state.stage.value}"
        )
    allowed = NOT_ON_ROLL_OUTCOMES if state.kind is CaseKind.NOT_ON_ROLL else NOT_VERIFIED_OUTCOMES
    if outcome not in allowed:
        raise Rejected(
            f"{outcome.value} is not an outcome of a {state.kind.value.replace('_', ' ')} case; "
            "choose one of " + ", ".join(sorted(o.value for o in allowed))
        )
    if outcome in (InvestigationOutcome.ON_ROLL_ELSEWHERE, InvestigationOutcome.PLACED_ON_ROLL):
        if (
            not new_school_laestab
            or not new_school_laestab.isdigit()
            or len(new_school_laestab) != 7
        ):
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


def expected_ground_key(state: CaseState) -> GroundKey | None:
    """The ground the case's outcome points to (a verified return names its own)."""
    referral = state.referral
    if isinstance(referral, PupilMigrationReturn):
        return find_ground(referral.ground).key
    match state.investigation_outcome:
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


def absence_ground_key(referral: SchoolCMEReferral) -> GroundKey:
    """The ground a missing pupil not located is deleted on: after leave, or 20 days' absence."""
    if referral.absence_kind is AbsenceKind.AFTER_LEAVE:
        return GroundKey.AFTER_LEAVE
    return GroundKey.CONTINUOUS_ABSENCE


ABSENCE_GROUND_DAYS = {
    GroundKey.AFTER_LEAVE: AFTER_LEAVE_DAYS,
    GroundKey.CONTINUOUS_ABSENCE: CONTINUOUS_ABSENCE_DAYS,
}


def case_facts(state: CaseState) -> CaseFacts:
    """What the case knows that bears on deletion, for :func:`domain.deletion.assess_deletion`."""
    referral = state.referral
    details = state.outcome_details
    facts = CaseFacts(
        school_laestab=state.school_laestab,
        enquiries=[e.enquiry for e in state.enquiries],
        attendance_codes=list(state.attendance_codes),
        child_protection_plan=state.child_protection,
        ehe_letter_reference=details.get("ehe_letter_reference"),
        ehe_letter_received_on=(
            date.fromisoformat(details["ehe_letter_received_on"])
            if details.get("ehe_letter_received_on")
            else None
        ),
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
    if details.get("new_school_laestab"):
        facts.evidence[REGISTERED_ELSEWHERE_CONFIRMED] = (
            f"on roll at {details['new_school_laestab']} (CME officer)"
        )
    if details.get("other_la"):
        facts.evidence[MOVED_AWAY] = f"moved to {details['other_la']} (CME officer)"
    return facts


def ctf_destination_of(state: CaseState) -> str:
    referral = state.referral
    if isinstance(referral, PupilMigrationReturn):
        return referral.destination.ctf_code
    if state.investigation_outcome is InvestigationOutcome.ON_ROLL_ELSEWHERE:
        return validate_ctf_destination(state.outcome_details["new_school_laestab"])
    return LOST_PUPIL_DATABASE
