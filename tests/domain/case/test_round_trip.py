"""Every state of a case survives JSON: the workflow carries it across continue-as-new. (Every
test's ``Case`` checks each state it makes; these walk whole lives that fill every part of it.)"""

from __future__ import annotations

from datetime import UTC, date, datetime

from domain.case import CaseState, Context, open_case, record_internal_error
from domain.case.commands import (
    AuthoriseDeletion,
    CalendarReloaded,
    ConcludeInvestigation,
    ConfirmCtf,
    NotificationDelivered,
    NotificationFailed,
    OpenCase,
    RaiseConcern,
    Reassign,
    RecordConsent,
    RecordDeletionFacts,
    RecordMashCall,
    RegisterFailed,
    RegisterReferral,
    ShareInformation,
)
from domain.case.effects import StartNextEpisode
from domain.case.model import InvestigationOutcome, Stage, TaskName
from domain.deletion import SessionCode

from .support import (
    CALENDAR,
    CASE,
    DAY20,
    OFFICER,
    PROFESSIONAL,
    SCHOOL_OFFICE,
    TEAM_LEADER,
    assert_round_trips,
    at,
    la_enquiry,
    missing_pupil,
    not_on_roll,
    professional_referral,
    record_absence_proofs,
    rid,
    school_referral,
    verified,
)


def test_every_state_of_a_missing_pupils_case_round_trips() -> None:
    case, _ = missing_pupil(cp=True, calendar=None)
    case.calendar = CALENDAR
    case.do(CalendarReloaded(), when=at(date(2026, 2, 4), 11))
    case.do(
        RecordMashCall(by=SCHOOL_OFFICE, request_id=rid(), called_on=date(2026, 2, 4)),
    )
    case.do(
        ShareInformation(
            by=SCHOOL_OFFICE,
            request_id=rid(),
            information="codes so far",
            attendance_codes=[
                SessionCode(day=date(2026, 2, 2), session="am", code="N"),
                SessionCode(day=date(2026, 2, 2), session="pm", code="O"),
            ],
        )
    )
    case.do(NotificationFailed(purpose="mash_escalation:1", detail="550 refused"))
    case.tick()  # the MASH email retried... and the SAT referral in turn
    case.do(RegisterFailed(detail="constraint violated"))
    case.do(Reassign(by=TEAM_LEADER, request_id=rid(), officer="Officer Other"))
    case.do(la_enquiry("partner", date(2026, 2, 23)), when=at(date(2026, 2, 23)))
    case.do(
        RaiseConcern(by=OFFICER, request_id=rid(), concern="new worry"), when=at(date(2026, 2, 24))
    )
    case.state = record_internal_error(case.state, "Tick: KeyError", case.context()).state
    for _ in range(40):  # daily retries, the overdue MASH call, then the threshold
        case.tick()
        if case.state.threshold_reached_on is not None:
            break
    assert case.now == at(date(2026, 3, 10), 0)
    # Only 2 Feb's codes are on file: the school is asked for the rest, then gives them.
    assert case.state.open_tasks(TaskName.CONFIRM_REGISTER_CODES)
    record_absence_proofs(case, DAY20, when=at(date(2026, 3, 10), 8))
    assert case.state.open_tasks(TaskName.CONFIRM_REGISTER_CODES) == []
    case.do(
        RecordDeletionFacts(
            by=OFFICER, request_id=rid(), la_arranged_special_school=True, s47_enquiries=True
        )
    )
    case.do(
        RecordConsent(
            by=OFFICER,
            request_id=rid(),
            consented_by="Head of SEN Placements",
            consented_on=date(2026, 3, 10),
            reference="SEN-2026-017",
        )
    )
    case.do(
        ConcludeInvestigation(
            by=OFFICER, request_id=rid(), outcome=InvestigationOutcome.NOT_LOCATED
        ),
        when=at(date(2026, 3, 10), 9),
    )
    case.do(AuthoriseDeletion(by=OFFICER, request_id=rid(), ground="9(1)(i)"))
    for record in list(case.state.notifications):
        case.do(NotificationDelivered(purpose=record.purpose))
    case.do(
        RegisterReferral(
            by=PROFESSIONAL,
            request_id=rid(),
            referral=professional_referral(referral_date=date(2026, 3, 11)),
        ),
        when=at(date(2026, 3, 11)),
    )

    assert case.state.stage is Stage.CLOSED
    assert len(case.states) > 20
    for state in case.states:
        assert_round_trips(state)


def test_every_state_of_a_verified_return_and_a_professional_referral_round_trips() -> None:
    case, _ = verified(cp=True)
    case.tick()  # the MASH call overdue
    case.do(AuthoriseDeletion(by=OFFICER, request_id=rid(), ground="9(1)(a)"))
    case.tick()  # the CTF overdue (due Tue 10 Mar)
    case.do(
        ConfirmCtf(
            by=SCHOOL_OFFICE,
            request_id=rid(),
            destination_code="8512001",
            sent_on=date(2026, 3, 11),
        ),
        when=at(date(2026, 3, 11)),
    )
    professional, _ = not_on_roll(safeguarding=True)
    professional.do(
        ConcludeInvestigation(
            by=OFFICER,
            request_id=rid(),
            outcome=InvestigationOutcome.LEFT_AREA,
            other_la="Leeds",
            other_la_email="cme@leeds.example.org",
        )
    )
    for state in case.states + professional.states:
        assert_round_trips(state)


def test_a_state_made_on_the_workflows_utc_clock_in_summer_round_trips() -> None:
    referral = school_referral(referral_date=date(2026, 6, 1), day1=date(2026, 5, 18))
    opened = open_case(
        CASE,
        OpenCase(referral=referral, referred_by=SCHOOL_OFFICE, request_id="opening-request-1"),
        Context(now=datetime(2026, 5, 31, 23, 30, tzinfo=UTC), calendar=CALENDAR),
    )
    again = CaseState.model_validate_json(opened.state.model_dump_json())
    assert again == opened.state
    assert again.opened_at == datetime(2026, 5, 31, 23, 30, tzinfo=UTC)
    # Counted in England: 00:30 on Mon 1 Jun. Day 10 from Mon 18 May: 18-22 May, half term,
    # 1-5 Jun: Fri 5 Jun 2026.
    assert again.deadlines.sat_referral == date(2026, 6, 5)


def test_the_next_episodes_opening_round_trips_with_the_earlier_episodes() -> None:
    case, _ = missing_pupil()
    case.tick()
    case.do(la_enquiry("partner", date(2026, 2, 23)), when=at(date(2026, 2, 23)))
    case.do(
        ConcludeInvestigation(
            by=OFFICER, request_id=rid(), outcome=InvestigationOutcome.LOCATED_BACK_AT_SCHOOL
        )
    )
    done = case.do(
        RegisterReferral(
            by=SCHOOL_OFFICE,
            request_id=rid(),
            referral=school_referral(referral_date=date(2026, 3, 11), day1=date(2026, 3, 9)),
        ),
        when=at(date(2026, 3, 11)),
    )
    start = done.effects[0]
    assert isinstance(start, StartNextEpisode)
    assert StartNextEpisode.model_validate_json(start.model_dump_json()) == start
    next_ = open_case(CASE, start.opening, Context(now=case.now, calendar=CALENDAR))
    assert_round_trips(next_.state)
    assert next_.state.earlier_episodes[0].investigation_outcome is (
        InvestigationOutcome.LOCATED_BACK_AT_SCHOOL
    )
