"""People's requests on an open case, other than concluding and authorising: enquiries, contact,
concerns, information, the MASH call, withdrawal and reassignment; who may make each, and which
dates are refused. Every refusal leaves the case as it was (checked by ``Case.refuse``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from pydantic import ValidationError

from domain.case import Rejected, check
from domain.case import events as ev
from domain.case import notifications as n
from domain.case.commands import (
    AuthoriseDeletion,
    ConcludeInvestigation,
    ConfirmCtf,
    OpenCase,
    RaiseConcern,
    Reassign,
    RecordEnquiry,
    RecordMashCall,
    ReportContact,
    Request,
    ShareInformation,
    Withdraw,
)
from domain.case.model import (
    Actor,
    Decision,
    EscalationKind,
    InvestigationOutcome,
    Role,
    Stage,
    TaskName,
    TaskStatus,
)
from domain.case.notifications import Recipient
from domain.deletion import SessionCode

from .support import (
    CASE,
    OFFICER,
    OTHER_CASE,
    PROFESSIONAL,
    SCHOOL_OFFICE,
    TEAM_LEADER,
    Case,
    at,
    concluded,
    effect_types,
    enquiry,
    event,
    kinds,
    la_enquiry,
    missing_pupil,
    not_on_roll,
    notification,
    referred_to_sat,
    rid,
    school_enquiry,
    verified,
)

SCHOOL_ENQUIRY_KINDS = "home_visit, letter, phone_other, phone_primary"


def school_records(kind: str, made_on: date, outcome: str = "no_contact") -> RecordEnquiry:
    return RecordEnquiry(
        by=SCHOOL_OFFICE, request_id=rid(), enquiry=enquiry("school", kind, made_on, outcome)
    )


# -- enquiries -------------------------------------------------------------------------------------


def test_the_school_records_its_own_enquiry() -> None:
    case, _ = missing_pupil()

    done = case.do(school_records("phone_other", date(2026, 2, 4)), when=at(date(2026, 2, 4), 11))

    assert done.result is not None
    assert (done.result.enquiry_id, done.result.enquiries_recorded) == (3, 3)
    assert done.result.stage is Stage.SCHOOL_ENQUIRIES
    recorded = event(done, ev.EnquiryRecorded)
    assert recorded.by == SCHOOL_OFFICE
    assert recorded.enquiry == enquiry("school", "phone_other", date(2026, 2, 4))
    assert case.state.enquiries[-1].recorded_by == SCHOOL_OFFICE
    assert kinds(done) == []  # nothing to tell anyone yet
    assert effect_types(done) == ["sync_register"]


@pytest.mark.parametrize(
    ("by", "enquiry_by", "kind", "reason"),
    [
        (SCHOOL_OFFICE, "la", "phone_other", "a school records its own enquiries (by: school)"),
        (
            SCHOOL_OFFICE,
            "school",
            "partner",
            f"partner is an LA enquiry; a school's are {SCHOOL_ENQUIRY_KINDS}",
        ),
        (OFFICER, "school", "phone_other", "a CME officer records the LA's enquiries (by: la)"),
        (
            PROFESSIONAL,
            "school",
            "phone_other",
            "recording an enquiry is for a cme officer or school or team leader, not a "
            "professional",
        ),
        (
            OFFICER,
            "la",
            "partner",
            "the case has not been referred to the School Attendance Team yet: LA enquiries "
            "start after school day 10",
        ),
    ],
)
def test_who_records_which_enquiry_during_the_schools_enquiries(
    by: Actor, enquiry_by: str, kind: str, reason: str
) -> None:
    case, _ = missing_pupil()
    command = RecordEnquiry(
        by=by, request_id=rid(), enquiry=enquiry(enquiry_by, kind, date(2026, 2, 4))
    )
    assert case.refuse(command) == reason


def test_la_enquiries_are_recorded_once_the_case_is_with_the_sat() -> None:
    case = referred_to_sat()

    done = case.do(la_enquiry("partner", date(2026, 2, 23)), when=at(date(2026, 2, 23)))

    assert done.result is not None and done.result.enquiry_id == 3
    assert event(done, ev.EnquiryRecorded).by == OFFICER
    assert case.state.enquiries[-1].enquiry.by.value == "la"
    assert (
        case.refuse(la_enquiry("phone_primary", date(2026, 2, 23)))
        == "phone_primary is a school's enquiry, not the LA's"
    )


def test_the_officers_home_visit_comes_after_the_schools_call_and_letter() -> None:
    case = referred_to_sat()  # the school phoned the primary contact and wrote on 3 Feb
    done = case.do(la_enquiry("home_visit", date(2026, 2, 23)), when=at(date(2026, 2, 23)))
    assert done.result is not None and done.result.enquiry_id == 3


@pytest.mark.parametrize(
    ("school_efforts", "missing"),
    [
        ([], "no phone call to the primary contact and no letter to the last known address"),
        ([("phone_primary", date(2026, 2, 3))], "no letter to the last known address"),
        ([("letter", date(2026, 2, 3))], "no phone call to the primary contact"),
        # Another number rung is not the call to the primary contact.
        ([("phone_other", date(2026, 2, 3))], "no phone call to the primary contact and no letter"),
    ],
)
def test_the_officers_home_visit_is_refused_before_the_schools_reasonable_efforts(
    school_efforts: list[tuple[str, date]], missing: str
) -> None:
    case, _ = missing_pupil(enquiries=[school_enquiry(k, d) for k, d in school_efforts])
    case.tick()  # referred to the SAT at the end of day 10

    reason = case.refuse(la_enquiry("home_visit", date(2026, 2, 23)), when=at(date(2026, 2, 23)))

    assert reason.startswith(
        "the CME officer's home visit comes after the school's reasonable efforts: " + missing
    )
    assert reason.endswith(" recorded")


def test_a_destination_verified_case_has_no_enquiries() -> None:
    case, _ = verified()
    assert (
        case.refuse(school_records("phone_primary", date(2026, 2, 9)))
        == "a destination-verified case has no enquiries: the destination is known"
    )


# -- dates people give -----------------------------------------------------------------------------


def test_an_enquiry_dated_in_the_future_is_refused() -> None:
    case, _ = missing_pupil()  # today is Wed 4 Feb 2026
    assert (
        case.refuse(school_records("phone_other", date(2026, 2, 5)))
        == "enquiry date 5 Feb 2026 is in the future (today is 4 Feb 2026)"
    )


def test_an_enquiry_dated_before_the_absence_began_is_refused() -> None:
    case, _ = missing_pupil()  # day 1 is Mon 2 Feb 2026
    # 1999 cannot even be sent: the shared date type refuses it at the boundary.
    with pytest.raises(ValidationError, match="1999-01-01 is not a plausible date"):
        school_records("phone_other", date(1999, 1, 1))
    assert (
        case.refuse(school_records("phone_other", date(2025, 9, 1)))
        == "enquiry date 1 Sep 2025 is before the case began (2 Feb 2026): check the date"
    )
    assert (
        case.refuse(school_records("phone_other", date(2026, 2, 1)))
        == "enquiry date 1 Feb 2026 is before the case began (2 Feb 2026): check the date"
    )


def test_an_enquiry_made_today_or_on_day_1_is_accepted() -> None:
    case, _ = missing_pupil()
    case.do(school_records("phone_other", date(2026, 2, 2)))
    case.do(school_records("phone_other", date(2026, 2, 4)))
    assert len(case.state.enquiries) == 4


def _cp_case() -> Case:
    case, _ = missing_pupil(cp=True)  # opened Wed 4 Feb, day 1 Mon 2 Feb
    return case


@pytest.mark.parametrize(
    ("build", "make", "what"),
    [
        (
            lambda: missing_pupil()[0],
            lambda day: ReportContact(by=SCHOOL_OFFICE, request_id=rid(), contact_on=day),
            "contact date",
        ),
        (
            _cp_case,
            lambda day: RecordMashCall(by=SCHOOL_OFFICE, request_id=rid(), called_on=day),
            "call date",
        ),
        (
            lambda: missing_pupil()[0],
            lambda day: ShareInformation(
                by=SCHOOL_OFFICE,
                request_id=rid(),
                information="attendance codes",
                attendance_codes=[SessionCode(day=day, session="am", code="N")],
            ),
            "attendance code date",
        ),
    ],
    ids=["contact", "mash call", "attendance code"],
)
def test_other_dates_in_the_future_or_before_the_absence_began_are_refused(
    build: Callable[[], Case], make: Callable[[date], Request], what: str
) -> None:
    case = build()
    future = make(date(2026, 2, 5))
    before = make(date(2026, 1, 30))

    assert case.refuse(future) == f"{what} 5 Feb 2026 is in the future (today is 4 Feb 2026)"
    assert (
        case.refuse(before)
        == f"{what} 30 Jan 2026 is before the case began (2 Feb 2026): check the date"
    )


def test_a_ctf_sent_before_the_pupil_left_is_refused() -> None:
    case, _ = verified()  # left Fri 6 Feb, return filed Mon 9 Feb
    command = ConfirmCtf(
        by=SCHOOL_OFFICE, request_id=rid(), destination_code="8512001", sent_on=date(2026, 2, 5)
    )
    assert case.refuse(command) == (
        "CTF sent date 5 Feb 2026 is before the case began (6 Feb 2026): check the date"
    )


def test_an_ehe_letter_dated_in_the_future_is_refused() -> None:
    case = referred_to_sat()
    command = ConcludeInvestigation(
        by=OFFICER,
        request_id=rid(),
        outcome=InvestigationOutcome.HOME_EDUCATED,
        ehe_letter_reference="EHE-2026-001",
        ehe_letter_received_on=date(2026, 2, 24),
    )
    assert case.refuse(command, when=at(date(2026, 2, 23))) == (
        "EHE letter date 24 Feb 2026 is in the future (today is 23 Feb 2026)"
    )


# -- contact ---------------------------------------------------------------------------------------


def test_contact_with_the_child_back_at_school_closes_the_case_with_no_deletion() -> None:
    case, _ = missing_pupil()

    done = case.do(
        ReportContact(
            by=SCHOOL_OFFICE, request_id=rid(), contact_on=date(2026, 2, 4), note="in class"
        )
    )

    state = case.state
    assert state.stage is Stage.CLOSED
    assert state.outcome is not None
    assert state.outcome.decision is Decision.CLOSED
    assert state.outcome.investigation_outcome is InvestigationOutcome.LOCATED_BACK_AT_SCHOOL
    assert state.outcome.closure_reason == (
        "contact made on 4 Feb 2026: the child is back at school (in class)"
    )
    assert state.outcome.decided_by == SCHOOL_OFFICE
    assert state.open_tasks() == []
    assert [(t.status, t.done_by) for t in state.tasks] == [(TaskStatus.CANCELLED, SCHOOL_OFFICE)]
    reported = event(done, ev.ContactReported)
    assert (reported.by, reported.contact_on, reported.returned_to_school) == (
        SCHOOL_OFFICE,
        date(2026, 2, 4),
        True,
    )
    changed = event(done, ev.StageChanged)
    assert (changed.by, changed.stage_from, changed.stage_to) == (
        SCHOOL_OFFICE,
        Stage.SCHOOL_ENQUIRIES,
        Stage.CLOSED,
    )
    assert event(done, ev.CaseClosed).by == SCHOOL_OFFICE
    closure = notification(done, n.ClosureToSchool)
    assert closure.to == [Recipient.SCHOOL, Recipient.SAT]
    assert closure.investigation_outcome is InvestigationOutcome.LOCATED_BACK_AT_SCHOOL
    assert closure.reason == state.outcome.closure_reason
    assert closure.decided_by == SCHOOL_OFFICE
    assert done.result is not None and done.result.stage is Stage.CLOSED


def test_contact_with_the_child_not_back_at_school_is_logged_and_the_case_goes_on() -> None:
    case = referred_to_sat()

    done = case.do(
        ReportContact(
            by=OFFICER,
            request_id=rid(),
            contact_on=date(2026, 2, 23),
            returned_to_school=False,
            note="mother phoned",
        ),
        when=at(date(2026, 2, 23)),
    )

    assert case.state.stage is Stage.LA_INVESTIGATION
    assert case.state.information[-1].information == (
        "contact made on 23 Feb 2026; the child is not back at school (mother phoned)"
    )
    assert case.state.information[-1].shared_by == OFFICER
    assert event(done, ev.ContactReported).returned_to_school is False
    assert kinds(done) == []


def test_contact_is_refused_on_other_kinds_of_case_after_the_conclusion_and_to_others() -> None:
    command = ReportContact(by=SCHOOL_OFFICE, request_id=rid(), contact_on=date(2026, 2, 9))
    case, _ = verified()
    assert case.refuse(command) == (
        "contact is reported on a missing pupil's case; conclude this case instead"
    )

    case = concluded()
    assert case.refuse(command) == "the investigation is concluded: share the information instead"

    case, _ = missing_pupil()
    assert case.refuse(
        ReportContact(by=PROFESSIONAL, request_id=rid(), contact_on=date(2026, 2, 4))
    ) == ("reporting contact is for a cme officer or school or team leader, not a professional")


# -- a concern raised later ------------------------------------------------------------------------


def test_a_concern_raised_later_escalates_to_mash_with_a_call_due_the_next_school_day() -> None:
    case = referred_to_sat()

    # Thu 26 Feb: the next school day is Fri 27 Feb.
    done = case.do(
        RaiseConcern(by=SCHOOL_OFFICE, request_id=rid(), concern="sibling disclosed an injury"),
        when=at(date(2026, 2, 26)),
    )

    state = case.state
    assert state.child_protection
    reason = "safeguarding concern raised by Ms Attendance: sibling disclosed an injury"
    assert [(e.kind, e.reason, e.raised_by) for e in state.escalations][-1] == (
        EscalationKind.MASH,
        reason,
        SCHOOL_OFFICE,
    )
    assert [(t.assignee, t.due) for t in state.open_tasks(TaskName.PHONE_MASH)] == [
        (Role.SCHOOL, date(2026, 2, 27))
    ]
    raised = event(done, ev.ConcernRaised)
    assert (raised.by, raised.concern, raised.child_protection_plan) == (
        SCHOOL_OFFICE,
        "sibling disclosed an injury",
        False,
    )
    mash = notification(done, n.MashEscalation)
    assert mash.to == [Recipient.MASH, Recipient.SAT]
    assert mash.concern == "sibling disclosed an injury"
    assert mash.raised_by == SCHOOL_OFFICE
    assert mash.stage is Stage.LA_INVESTIGATION
    assert mash.mash_call_due == date(2026, 2, 27)
    assert mash.child_protection_plan is False
    assert done.result is not None
    assert done.result.escalation_id == state.escalations[-1].id
    assert done.result.mash_call_due == date(2026, 2, 27)


def test_a_second_concern_tells_mash_again_but_keeps_the_one_call_task() -> None:
    case, _ = missing_pupil(cp=True)
    done = case.do(
        RaiseConcern(
            by=OFFICER,
            request_id=rid(),
            concern="now on a Child Protection Plan",
            child_protection_plan=True,
        )
    )
    assert kinds(done) == ["mash_escalation"]
    assert notification(done, n.MashEscalation).purpose == "mash_escalation:2"
    assert (
        event(done, ev.Escalated).reason
        == "Child Protection Plan reported by Officer Example: now on a Child Protection Plan"
    )
    assert len(case.state.open_tasks(TaskName.PHONE_MASH)) == 1


# -- information -----------------------------------------------------------------------------------


def test_information_shared_during_the_schools_enquiries_is_kept_without_an_email() -> None:
    case, _ = missing_pupil()
    done = case.do(
        ShareInformation(
            by=SCHOOL_OFFICE,
            request_id=rid(),
            information="neighbour saw a removal van",
            attendance_codes=[SessionCode(day=date(2026, 2, 2), session="am", code="N")],
        )
    )
    assert case.state.information[-1].information == "neighbour saw a removal van"
    assert case.state.attendance_codes == [
        SessionCode(day=date(2026, 2, 2), session="am", code="N")
    ]
    shared = event(done, ev.InformationShared)
    assert (shared.by, shared.attendance_codes) == (SCHOOL_OFFICE, 1)
    assert done.result is not None and done.result.information_id == shared.information_id
    assert kinds(done) == []


def test_information_shared_once_the_sat_has_the_case_is_sent_to_the_sat() -> None:
    case = referred_to_sat()
    done = case.do(
        ShareInformation(by=SCHOOL_OFFICE, request_id=rid(), information="sibling moved to Leeds"),
        when=at(date(2026, 2, 23)),
    )
    sent = notification(done, n.InformationShared)
    assert sent.to == [Recipient.SAT]
    assert (sent.shared_by, sent.information, sent.attendance_codes) == (
        SCHOOL_OFFICE,
        "sibling moved to Leeds",
        0,
    )
    assert sent.purpose == f"information_shared:{event(done, ev.InformationShared).information_id}"


# -- the MASH call ---------------------------------------------------------------------------------


def test_recording_the_mash_call_closes_its_task() -> None:
    case, _ = missing_pupil(cp=True)  # opened Wed 4 Feb: the call is due Thu 5 Feb
    task = case.state.open_tasks(TaskName.PHONE_MASH)[0]
    assert task.due == date(2026, 2, 5)

    done = case.do(
        RecordMashCall(
            by=SCHOOL_OFFICE,
            request_id=rid(),
            called_on=date(2026, 2, 5),
            mash_reference="MASH-42",
            advice="keep trying the family",
        ),
        when=at(date(2026, 2, 5)),
    )

    closed = case.state.tasks[task.id - 1]
    assert (closed.status, closed.done_by) == (TaskStatus.DONE, SCHOOL_OFFICE)
    assert case.state.information[-1].information == (
        "MASH phoned on 5 Feb 2026 (MASH reference MASH-42) (keep trying the family)"
    )
    recorded = event(done, ev.MashCallRecorded)
    assert (recorded.by, recorded.called_on, recorded.mash_reference) == (
        SCHOOL_OFFICE,
        date(2026, 2, 5),
        "MASH-42",
    )
    assert event(done, ev.TaskClosed).by == SCHOOL_OFFICE
    assert done.result is not None and done.result.task_id == task.id
    # No call is due any more: a second one is refused.
    assert case.refuse(
        RecordMashCall(by=SCHOOL_OFFICE, request_id=rid(), called_on=date(2026, 2, 5))
    ) == ("no MASH call is due on this case")


def test_a_mash_call_is_refused_when_none_is_due_or_from_a_professional() -> None:
    case, _ = missing_pupil()
    call = RecordMashCall(by=SCHOOL_OFFICE, request_id=rid(), called_on=date(2026, 2, 4))
    assert case.refuse(call) == "no MASH call is due on this case"

    case, _ = missing_pupil(cp=True)
    assert case.refuse(
        RecordMashCall(by=PROFESSIONAL, request_id=rid(), called_on=date(2026, 2, 4))
    ) == (
        "recording the MASH call is for a cme officer or school or team leader, not a professional"
    )


# -- who may conclude, authorise, withdraw, reassign -----------------------------------------------


def _conclude(by: Actor) -> Request:
    return ConcludeInvestigation(
        by=by, request_id=rid(), outcome=InvestigationOutcome.MOVED_AWAY, other_la="Leeds"
    )


def _authorise(by: Actor) -> Request:
    return AuthoriseDeletion(by=by, request_id=rid(), ground="9(1)(g)")


def _withdraw(by: Actor) -> Request:
    return Withdraw(by=by, request_id=rid(), reason="opened twice")


def _reassign(by: Actor) -> Request:
    return Reassign(by=by, request_id=rid(), officer="Officer Other")


@pytest.mark.parametrize(
    ("make", "by", "reason"),
    [
        (_conclude, SCHOOL_OFFICE, "concluding an investigation is for a cme officer or team "),
        (_authorise, SCHOOL_OFFICE, "authorising deletion is for a cme officer or team "),
        (_withdraw, SCHOOL_OFFICE, "withdrawing a case is for a team "),
        (_reassign, SCHOOL_OFFICE, "reassigning a case is for a team "),
        (_conclude, PROFESSIONAL, "concluding an investigation is for a cme officer or team "),
        (_withdraw, OFFICER, "withdrawing a case is for a team "),
        (_reassign, OFFICER, "reassigning a case is for a team "),
    ],
)
def test_only_officers_conclude_and_authorise_and_only_a_team_leader_withdraws_or_reassigns(
    make: Callable[[Actor], Request], by: Actor, reason: str
) -> None:
    case = referred_to_sat()
    role = by.role.value.replace("_", " ")
    assert case.refuse(make(by)) == f"{reason}leader, not a {role}"


def test_a_team_leader_reassigns_the_case() -> None:
    case = referred_to_sat()
    done = case.do(_reassign(TEAM_LEADER))
    assert case.state.assigned_officer == "Officer Other"
    assigned = event(done, ev.OfficerAssigned)
    assert (assigned.by, assigned.officer) == (TEAM_LEADER, "Officer Other")
    assert case.state.information[-1].information == "case assigned to Officer Other"
    assert done.result is not None and done.result.assigned_officer == "Officer Other"


def test_a_team_leader_withdraws_a_duplicate_case() -> None:
    case = referred_to_sat()

    done = case.do(
        Withdraw(
            by=TEAM_LEADER, request_id=rid(), reason="same child, no UPN", duplicate_of=OTHER_CASE
        ),
        when=at(date(2026, 2, 23)),
    )

    outcome = case.state.outcome
    assert case.state.stage is Stage.CLOSED
    assert outcome is not None
    assert outcome.decision is Decision.CLOSED
    assert outcome.duplicate_of == OTHER_CASE
    assert outcome.closure_reason == (
        f"withdrawn as a duplicate of {OTHER_CASE}: same child, no UPN"
    )
    assert outcome.decided_by == TEAM_LEADER
    assert [t.status for t in case.state.tasks if t.name is TaskName.INVESTIGATE] == [
        TaskStatus.CANCELLED
    ]
    assert event(done, ev.CaseClosed).by == TEAM_LEADER
    closure = notification(done, n.ClosureToSchool)
    assert closure.to == [Recipient.SCHOOL, Recipient.SAT]
    assert closure.decided_by == TEAM_LEADER
    assert done.result is not None and done.result.outcome == outcome


def test_a_withdrawn_professional_referral_is_written_to_the_referrer() -> None:
    case, _ = not_on_roll()
    done = case.do(Withdraw(by=TEAM_LEADER, request_id=rid(), reason="referred in error"))
    closure = notification(done, n.ClosureDecision)
    assert closure.to == [Recipient.SAT, Recipient.REFERRER]
    assert closure.other_address == "chris.demo@example.org"
    assert closure.reason == "referred in error"
    assert closure.investigation_outcome is None


def test_a_case_is_not_a_duplicate_of_itself() -> None:
    case = referred_to_sat()
    command = Withdraw(by=TEAM_LEADER, request_id=rid(), reason="dup", duplicate_of=CASE)
    assert case.refuse(command) == "duplicate_of: a case cannot be a duplicate of itself"


def test_a_closed_case_refuses_peoples_requests() -> None:
    case, _ = missing_pupil()
    case.do(ReportContact(by=SCHOOL_OFFICE, request_id=rid(), contact_on=date(2026, 2, 4)))
    closed = f"case {CASE} is closed"
    assert case.refuse(school_records("phone_other", date(2026, 2, 4))) == closed
    assert case.refuse(_withdraw(TEAM_LEADER)) == closed
    assert case.refuse(_reassign(TEAM_LEADER)) == closed
    assert case.refuse(RaiseConcern(by=SCHOOL_OFFICE, request_id=rid(), concern="x")) == closed
    assert case.refuse(_conclude(OFFICER)) == closed


def test_an_opening_sent_to_an_open_case_is_refused() -> None:
    case, _ = missing_pupil()
    command = OpenCase(
        referral=case.state.referral, referred_by=SCHOOL_OFFICE, request_id="opening-request-2"
    )
    assert case.refuse(command) == "the case is already open"


def test_check_answers_whether_a_request_would_be_accepted_without_keeping_it() -> None:
    case, _ = missing_pupil()
    before = case.state.model_copy(deep=True)
    check(case.state, school_records("phone_other", date(2026, 2, 4)), case.context())
    with pytest.raises(Rejected, match="is in the future"):
        check(case.state, school_records("phone_other", date(2026, 2, 5)), case.context())
    assert case.state == before
