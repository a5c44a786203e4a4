"""Destination not verified (school CME referral): the school's enquiries, referral to SAT at the
end of school day 10, the CME officer's investigation and its outcomes."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError

from domain.calendar import human_date
from domain.case.commands import (
    AuthoriseDeletion,
    ConcludeInvestigation,
    ConfirmNoSicknessGrounds,
    ConfirmRegisterCodes,
    RecordEnquiry,
    ReportContact,
)
from domain.case.model import (
    CaseOutcome,
    Decision,
    EscalationKind,
    InvestigationOutcome,
    Stage,
    TaskName,
    TaskStatus,
)
from domain.clock import end_of_day
from domain.deletion import SessionCode
from domain.enquiries import EnquiryKind, EnquiryOutcome
from tests.conftest import SmtpServer
from tests.workflows.harness import (
    OFFICER,
    OTHER_SCHOOL,
    SCHOOL_OFFICE,
    Harness,
    decided,
    la_enquiry,
    rid,
    school_enquiry,
    school_referral,
)
from workflows.case import CmeCase


async def refer_day1_this_week(h: Harness, **kw: Any) -> tuple[str, date]:
    day1 = h.calendar.first_school_day_on_or_before(h.today)
    referral = school_referral(today=h.today, day1=day1, **kw)
    opened = await h.open(referral, SCHOOL_OFFICE)
    return opened.case, day1


async def test_contact_made_on_day_3_closes_the_case_without_deletion(
    harness: Harness, smtp_server: SmtpServer
) -> None:
    h = harness
    day1 = h.calendar.day1
    referral = school_referral(today=h.today, day1=day1)
    case = (await h.open(referral, SCHOOL_OFFICE)).case
    day3 = h.calendar.nth(day1, 3)
    await h.sleep_until_morning_of(max(day3, h.today))
    handle = h.handle(case)
    await handle.execute_update(
        CmeCase.record_enquiry,
        RecordEnquiry(
            request_id=rid(),
            by=SCHOOL_OFFICE,
            enquiry=school_enquiry(EnquiryKind.PHONE_PRIMARY, day3, EnquiryOutcome.CONTACT_MADE),
        ),
    )
    await handle.execute_update(
        CmeCase.report_contact,
        ReportContact(
            request_id=rid(), by=SCHOOL_OFFICE, contact_on=day3, note="mother phoned back"
        ),
    )
    outcome = await handle.result()
    assert isinstance(outcome, CaseOutcome)
    assert outcome.decision is Decision.CLOSED
    assert outcome.investigation_outcome is InvestigationOutcome.LOCATED_BACK_AT_SCHOOL
    assert outcome.ground is None and outcome.earliest_deletion_date is None
    message = await smtp_server.wait_for(lambda m: "closed" in m["Subject"].lower())
    assert case in message["Subject"]
    assert f"attendance.{h.calendar and '8512000'}" in message["To"] or "8512000" in message["To"]
    assert "back at school" in message.get_content()
    # No referral to SAT ever happened.
    state = await h.state(case)
    assert state.stage is Stage.CLOSED
    assert not [e for e in state.escalations if e.kind is EscalationKind.SAT_REFERRAL]


async def test_no_contact_is_referred_to_sat_at_the_end_of_school_day_10_across_half_term(
    harness: Harness, smtp_server: SmtpServer
) -> None:
    h = harness
    day1 = h.calendar.day1
    referral = school_referral(today=h.today, day1=day1)
    case = (await h.open(referral, SCHOOL_OFFICE)).case
    # Hand-worked: days 1-5 this week, half term next week, days 6-10 the week after.
    day10 = h.calendar.nth(day1, 10)
    assert day10 >= day1 + timedelta(weeks=2), "half term must push day 10 into week 3"
    state = await h.state(case)
    assert not state.problems, state.problems
    assert state.deadlines.sat_referral == day10
    assert state.stage is Stage.SCHOOL_ENQUIRIES

    await h.sleep_until_morning_of(day10)
    assert (await h.state(case)).stage is Stage.SCHOOL_ENQUIRIES
    assert not [m for m in smtp_server.messages if "referred" in m["Subject"].lower()]

    await h.sleep_until_end_of(day10)
    state = await h.state(case)
    assert state.stage is Stage.LA_INVESTIGATION
    referral_escalation = [e for e in state.escalations if e.kind is EscalationKind.SAT_REFERRAL]
    assert len(referral_escalation) == 1
    assert referral_escalation[0].at >= end_of_day(day10)
    assert [t.name for t in state.tasks if t.status is TaskStatus.OPEN] == [TaskName.INVESTIGATE]
    message = await smtp_server.wait_for(
        lambda m: case in m["Subject"] and "sat" in m["To"].lower()
    )
    assert human_date(day10) in message.get_content()


async def record_proofs(h: Harness, case: str, day1: date, last: date) -> None:
    """What the absence grounds need on file: every session's register code (G, N or O) from
    day 1 to ``last``, and the officer's confirmation that no sickness keeps the child away."""
    handle = h.handle(case)
    days, d = [], day1
    while d <= last:
        if h.calendar.is_school_day(d):
            days.append(d)
        d += timedelta(days=1)
    codes = [SessionCode(day=d, session=s, code="N") for d in days for s in ("am", "pm")]
    answer = await handle.execute_update(
        CmeCase.confirm_register_codes,
        ConfirmRegisterCodes(request_id=rid(), by=SCHOOL_OFFICE, codes=codes),
    )
    assert answer.sessions_missing == 0
    await handle.execute_update(
        CmeCase.confirm_no_sickness_grounds,
        ConfirmNoSicknessGrounds(request_id=rid(), by=OFFICER, note="no medical evidence"),
    )


async def refer_and_reach_investigation(
    h: Harness, smtp_server: SmtpServer, **kw: Any
) -> tuple[str, date, WorkflowHandle[Any, Any]]:
    """Open a referral with day 1 this week and skip to the morning after the SAT referral."""
    day1 = h.calendar.day1
    referral = school_referral(today=h.today, day1=day1, **kw)
    case = (await h.open(referral, SCHOOL_OFFICE)).case
    handle = h.handle(case)
    for kind, n in ((EnquiryKind.PHONE_PRIMARY, 1), (EnquiryKind.LETTER, 2)):
        await handle.execute_update(
            CmeCase.record_enquiry,
            RecordEnquiry(
                request_id=rid(),
                by=SCHOOL_OFFICE,
                enquiry=school_enquiry(kind, min(h.calendar.nth(day1, n), h.today)),
            ),
        )
    day10 = (await h.state(case)).deadlines.sat_referral
    assert day10 is not None
    await h.sleep_until_morning_of(h.calendar.after(day10, 1))
    assert (await h.state(case)).stage is Stage.LA_INVESTIGATION
    return case, day1, handle


async def test_not_located_deletion_refused_on_day_19_and_authorised_after_day_20(
    harness: Harness, smtp_server: SmtpServer, sqlite_engine: Engine
) -> None:
    h = harness
    case, day1, handle = await refer_and_reach_investigation(h, smtp_server)
    visit_day = await h.now_date()
    await handle.execute_update(
        CmeCase.record_enquiry,
        RecordEnquiry(
            request_id=rid(),
            by=OFFICER,
            enquiry=la_enquiry(EnquiryKind.HOME_VISIT, visit_day, EnquiryOutcome.NO_CONTACT),
        ),
    )
    await handle.execute_update(
        CmeCase.conclude_investigation,
        ConcludeInvestigation(
            request_id=rid(), by=OFFICER, outcome=InvestigationOutcome.NOT_LOCATED
        ),
    )
    day19, day20 = h.calendar.nth(day1, 19), h.calendar.nth(day1, 20)
    earliest = h.calendar.after(day20, 1)
    await h.sleep_until_morning_of(day19)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            CmeCase.authorise_deletion,
            AuthoriseDeletion(request_id=rid(), by=OFFICER, ground="9(1)(i)"),
        )
    message = str(refused.value.cause)
    assert f"19 of 20 school days by {human_date(day19)}" in message
    assert f"permitted from {human_date(earliest)}" in message
    # The law's proofs (2024 9(1)(i)) are named too: not yet on file.
    assert "no recorded confirmation that there are no reasonable grounds" in message
    assert "register codes not on file" in message

    await h.sleep_until_morning_of(earliest)
    # The school asked for the codes at the threshold; it gives every session's, the officer
    # confirms no sickness or unavoidable cause keeps the child away.
    state = await h.state(case)
    assert [t.name for t in state.tasks if t.status is TaskStatus.OPEN] == [
        TaskName.AUTHORISE_DELETION,
        TaskName.CONFIRM_REGISTER_CODES,
    ]
    await record_proofs(h, case, day1, day20)
    state = await h.state(case)
    assert TaskName.CONFIRM_REGISTER_CODES not in [
        t.name for t in state.tasks if t.status is TaskStatus.OPEN
    ]
    result = await handle.execute_update(
        CmeCase.authorise_deletion,
        AuthoriseDeletion(request_id=rid(), by=OFFICER, ground="9(1)(i)"),
    )
    outcome = decided(result)
    assert outcome.decision is Decision.DELETION_AUTHORISED
    assert (outcome.ground, outcome.ground_other_rulebook) == ("9(1)(i)", "8(1)(h)")
    assert outcome.earliest_deletion_date == earliest
    assert outcome.ctf_destination == "XXXXXXX"
    assert outcome.decided_by == OFFICER
    assert (await handle.result()).decision is Decision.DELETION_AUTHORISED

    letter = await smtp_server.wait_for(
        lambda m: "outcome" in m["Subject"].lower() and case in m["Subject"]
    )
    body = letter.get_content()
    assert "9(1)(i)" in body and human_date(earliest) in body and "XXXXXXX" in body
    assert "8512000" in letter["To"]

    from sqlmodel import Session

    from activities.register import get_case

    with Session(sqlite_engine) as session:
        row = get_case(session=session, case=case)
    assert row is not None
    assert row.stage == "closed"
    assert row.ground == "9(1)(i)"
    assert row.earliest_deletion_date == earliest


async def test_after_leave_deletion_needs_ten_school_days_after_leave_ended(
    harness: Harness, smtp_server: SmtpServer
) -> None:
    h = harness
    leave_end = h.calendar.mon0 - timedelta(days=3)  # the Friday before this week
    day1 = h.calendar.after(leave_end, 1)
    referral = school_referral(today=h.today, day1=day1, after_leave_end=leave_end)
    case = (await h.open(referral, SCHOOL_OFFICE)).case
    state = await h.state(case)
    assert state.day1 == day1
    threshold = h.calendar.after(h.calendar.nth(day1, 10), 1)
    assert state.deadlines.deletion_permitted_from == threshold
    assert state.deadlines.sat_referral == h.calendar.nth(day1, 10)
    handle = h.handle(case)
    await handle.execute_update(
        CmeCase.record_enquiry,
        RecordEnquiry(
            request_id=rid(),
            by=SCHOOL_OFFICE,
            enquiry=school_enquiry(EnquiryKind.PHONE_PRIMARY, min(day1, h.today)),
        ),
    )
    await h.sleep_until_morning_of(threshold)
    # The threshold tells the officer the after-leave ground may now be met.
    await smtp_server.wait_for(
        lambda m: "deletion permitted from" in m["Subject"] and case in m["Subject"]
    )
    await handle.execute_update(
        CmeCase.record_enquiry,
        RecordEnquiry(
            request_id=rid(), by=OFFICER, enquiry=la_enquiry(EnquiryKind.OTHER_LA, threshold)
        ),
    )
    await handle.execute_update(
        CmeCase.conclude_investigation,
        ConcludeInvestigation(
            request_id=rid(), by=OFFICER, outcome=InvestigationOutcome.NOT_LOCATED
        ),
    )
    with pytest.raises(WorkflowUpdateFailedError) as wrong_ground:
        await handle.execute_update(
            CmeCase.authorise_deletion,
            AuthoriseDeletion(request_id=rid(), by=OFFICER, ground="9(1)(i)"),
        )
    assert "points to the after leave ground" in str(wrong_ground.value.cause)
    await handle.execute_update(
        CmeCase.confirm_no_sickness_grounds,
        ConfirmNoSicknessGrounds(request_id=rid(), by=OFFICER),
    )
    result = await handle.execute_update(
        CmeCase.authorise_deletion,
        AuthoriseDeletion(request_id=rid(), by=OFFICER, ground="9(1)(h)"),
    )
    assert decided(result).ground_other_rulebook == "8(1)(f)"
    assert decided(result).earliest_deletion_date == threshold


async def test_located_on_roll_at_another_school(harness: Harness, smtp_server: SmtpServer) -> None:
    h = harness
    case, _, handle = await refer_and_reach_investigation(h, smtp_server)
    await handle.execute_update(
        CmeCase.record_enquiry,
        RecordEnquiry(
            request_id=rid(),
            by=OFFICER,
            enquiry=la_enquiry(
                EnquiryKind.SIBLINGS_SCHOOL, await h.now_date(), EnquiryOutcome.INFORMATION
            ),
        ),
    )
    concluded = await handle.execute_update(
        CmeCase.conclude_investigation,
        ConcludeInvestigation(
            request_id=rid(),
            by=OFFICER,
            outcome=InvestigationOutcome.ON_ROLL_ELSEWHERE,
            new_school_laestab=OTHER_SCHOOL,
        ),
    )
    assert concluded.stage is Stage.AWAITING_DELETION_AUTHORISATION
    result = await handle.execute_update(
        CmeCase.authorise_deletion,
        AuthoriseDeletion(request_id=rid(), by=OFFICER, ground="9(1)(a)"),
    )
    today = await h.now_date()
    assert decided(result).ctf_destination == OTHER_SCHOOL
    assert decided(result).earliest_deletion_date == today  # never backdated
    assert decided(result).ground_other_rulebook == "8(1)(b)"
    letter = await smtp_server.wait_for(
        lambda m: "outcome" in m["Subject"].lower() and case in m["Subject"]
    )
    assert OTHER_SCHOOL in letter.get_content()


async def test_moved_away_tells_the_other_la(harness: Harness, smtp_server: SmtpServer) -> None:
    h = harness
    case, _, handle = await refer_and_reach_investigation(h, smtp_server)
    await handle.execute_update(
        CmeCase.conclude_investigation,
        ConcludeInvestigation(
            request_id=rid(),
            by=OFFICER,
            outcome=InvestigationOutcome.MOVED_AWAY,
            other_la="Exampleshire County Council",
            other_la_email="cme@exampleshire.example.invalid",
        ),
    )
    notice = await smtp_server.wait_for(lambda m: "exampleshire" in m["To"])
    assert case in notice["Subject"]
    assert "Exampleshire County Council" in notice.get_content()
    result = await handle.execute_update(
        CmeCase.authorise_deletion,
        AuthoriseDeletion(request_id=rid(), by=OFFICER, ground="9(1)(g)"),
    )
    assert decided(result).ground_other_rulebook == "8(1)(e)"
    assert decided(result).ctf_destination == "XXXXXXX"


async def test_home_education_needs_the_parents_letter(
    harness: Harness, smtp_server: SmtpServer
) -> None:
    h = harness
    case, _, handle = await refer_and_reach_investigation(h, smtp_server)
    with pytest.raises(WorkflowUpdateFailedError) as no_letter:
        await handle.execute_update(
            CmeCase.conclude_investigation,
            ConcludeInvestigation(
                request_id=rid(), by=OFFICER, outcome=InvestigationOutcome.HOME_EDUCATED
            ),
        )
    assert "written deregistration letter" in str(no_letter.value.cause)
    assert (await h.state(case)).stage is Stage.LA_INVESTIGATION
    await handle.execute_update(
        CmeCase.conclude_investigation,
        ConcludeInvestigation(
            request_id=rid(),
            by=OFFICER,
            outcome=InvestigationOutcome.HOME_EDUCATED,
            ehe_letter_reference="EHE-LETTER-001",
            ehe_letter_received_on=await h.now_date(),
        ),
    )
    result = await handle.execute_update(
        CmeCase.authorise_deletion,
        AuthoriseDeletion(request_id=rid(), by=OFFICER, ground="9(1)(f)"),
    )
    assert decided(result).ground_other_rulebook == "8(1)(d)"
    assert decided(result).ctf_destination == "XXXXXXX"
