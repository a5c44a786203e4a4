"""Every human task is an update with a validator: a wrong action is refused with its reason and
leaves no trace in the case's history."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from domain.case.commands import (
    AuthoriseDeletion,
    ConcludeInvestigation,
    ConfirmCtf,
    Reassign,
    RecordEnquiry,
    RecordMashCall,
    ReportContact,
    ShareInformation,
    Withdraw,
)
from domain.case.model import (
    InvestigationOutcome,
    Stage,
)
from domain.deletion import SessionCode
from domain.enquiries import Enquiry, EnquiryBy, EnquiryKind, EnquiryOutcome
from tests.workflows.harness import (
    OFFICER,
    PROFESSIONAL,
    SCHOOL,
    SCHOOL_OFFICE,
    TEAM_LEADER,
    Harness,
    migration_return,
    rid,
    school_referral,
)
from workflows.case import CmeCase


async def rejected(handle: WorkflowHandle[Any, Any], update: Any, arg: Any) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(update, arg)
    cause = refused.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "Rejected"
    return cause.message


async def accepted_updates(handle: WorkflowHandle[Any, Any]) -> int:
    return len(
        [
            e
            async for e in handle.fetch_history_events()
            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
        ]
    )


def enquiry(by: EnquiryBy, kind: EnquiryKind, day: Any) -> Enquiry:
    return Enquiry(by=by, kind=kind, made_on=day, outcome=EnquiryOutcome.NO_CONTACT)


async def test_rejections_while_the_school_makes_its_enquiries(harness: Harness) -> None:
    h = harness
    day1 = h.calendar.first_school_day_on_or_before(h.today)
    case = (await h.open(school_referral(today=h.today, day1=day1), SCHOOL_OFFICE)).case
    handle = h.handle(case)
    before = await accepted_updates(handle)
    tomorrow = h.today + timedelta(days=1)
    rec = CmeCase.record_enquiry
    reasons = [
        await rejected(
            handle,
            rec,
            RecordEnquiry(
                request_id=rid(),
                by=SCHOOL_OFFICE,
                enquiry=enquiry(EnquiryBy.LA, EnquiryKind.LETTER, h.today),
            ),
        ),
        await rejected(
            handle,
            rec,
            RecordEnquiry(
                request_id=rid(),
                by=SCHOOL_OFFICE,
                enquiry=enquiry(EnquiryBy.SCHOOL, EnquiryKind.PARTNER, h.today),
            ),
        ),
        await rejected(
            handle,
            rec,
            RecordEnquiry(
                request_id=rid(),
                by=OFFICER,
                enquiry=enquiry(EnquiryBy.LA, EnquiryKind.PARTNER, h.today),
            ),
        ),
        await rejected(
            handle,
            rec,
            RecordEnquiry(
                request_id=rid(),
                by=SCHOOL_OFFICE,
                enquiry=enquiry(EnquiryBy.SCHOOL, EnquiryKind.LETTER, tomorrow),
            ),
        ),
        await rejected(
            handle,
            rec,
            RecordEnquiry(
                request_id=rid(),
                by=PROFESSIONAL,
                enquiry=enquiry(EnquiryBy.LA, EnquiryKind.PARTNER, h.today),
            ),
        ),
        await rejected(
            handle,
            CmeCase.report_contact,
            ReportContact(request_id=rid(), by=PROFESSIONAL, contact_on=h.today),
        ),
        await rejected(
            handle,
            CmeCase.report_contact,
            ReportContact(request_id=rid(), by=SCHOOL_OFFICE, contact_on=tomorrow),
        ),
        await rejected(
            handle,
            CmeCase.share_information,
            ShareInformation(
                request_id=rid(),
                by=SCHOOL_OFFICE,
                information="codes",
                attendance_codes=[SessionCode(day=tomorrow, session="am", code="N")],
            ),
        ),
        await rejected(
            handle,
            CmeCase.record_mash_call,
            RecordMashCall(request_id=rid(), by=SCHOOL_OFFICE, called_on=h.today),
        ),
        await rejected(
            handle,
            CmeCase.confirm_ctf,
            ConfirmCtf(
                request_id=rid(), by=SCHOOL_OFFICE, destination_code="XXXXXXXX", sent_on=h.today
            ),
        ),
        await rejected(
            handle,
            CmeCase.conclude_investigation,
            ConcludeInvestigation(
                request_id=rid(), by=SCHOOL_OFFICE, outcome=InvestigationOutcome.NOT_LOCATED
            ),
        ),
        await rejected(
            handle,
            CmeCase.conclude_investigation,
            ConcludeInvestigation(
                request_id=rid(), by=OFFICER, outcome=InvestigationOutcome.NOT_LOCATED
            ),
        ),
        await rejected(
            handle,
            CmeCase.authorise_deletion,
            AuthoriseDeletion(request_id=rid(), by=OFFICER, ground="9(1)(i)"),
        ),
        await rejected(
            handle,
            CmeCase.authorise_deletion,
            AuthoriseDeletion(request_id=rid(), by=SCHOOL_OFFICE, ground="9(1)(i)"),
        ),
        await rejected(
            handle, CmeCase.withdraw, Withdraw(request_id=rid(), by=OFFICER, reason="duplicate")
        ),
        await rejected(
            handle,
            CmeCase.withdraw,
            Withdraw(request_id=rid(), by=TEAM_LEADER, reason="dup", duplicate_of=case),
        ),
        await rejected(
            handle,
            CmeCase.reassign,
            Reassign(request_id=rid(), by=SCHOOL_OFFICE, officer="Someone"),
        ),
    ]
    future = "is in the future (today is "
    assert reasons == [
        "a school records its own enquiries (by: school)",
        "partner is an LA enquiry; a school's are home_visit, letter, phone_other, phone_primary",
        "the case has not been referred to the School Attendance Team yet: LA enquiries start "
        "after school day 10",
        reasons[3],
        "recording an enquiry is for a cme officer or school or team leader, not a professional",
        "reporting contact is for a cme officer or school or team leader, not a professional",
        reasons[6],
        reasons[7],
        "no MASH call is due on this case",
        "no CTF is due on this case",
        "concluding an investigation is for a cme officer or team leader, not a school",
        "only a case under investigation can be concluded; this one is at stage school enquiries",
        "deletion cannot be authorised at stage school enquiries: the investigation must be "
        "concluded first",
        "authorising deletion is for a cme officer or team leader, not a school",
        "withdrawing a case is for a team leader, not a cme officer",
        "duplicate_of: a case cannot be a duplicate of itself",
        "reassigning a case is for a team leader, not a school",
    ]
    for i in (3, 6, 7):
        assert future in reasons[i] and "in the future" in reasons[i]
    # Rejected updates leave no trace: nothing was accepted into the history.
    assert await accepted_updates(handle) == before
    state = await h.state(case)
    assert state.stage is Stage.SCHOOL_ENQUIRIES and not state.information


async def test_rejections_during_the_investigation(harness: Harness) -> None:
    h = harness
    day1 = h.calendar.day1
    referral = school_referral(today=h.today, day1=day1)
    case = (await h.open(referral, SCHOOL_OFFICE)).case
    handle = h.handle(case)
    day10 = h.calendar.nth(day1, 10)
    await h.sleep_until_morning_of(h.calendar.after(day10, 1))
    today = await h.now_date()
    conclude = CmeCase.conclude_investigation
    assert await rejected(
        handle,
        CmeCase.record_enquiry,
        RecordEnquiry(
            request_id=rid(),
            by=OFFICER,
            enquiry=enquiry(EnquiryBy.LA, EnquiryKind.HOME_VISIT, today),
        ),
    ) == (
        "the CME officer's home visit comes after the school's reasonable efforts: no phone call "
        "to the primary contact and no letter to the last known address recorded"
    )
    assert (
        await rejected(
            handle,
            CmeCase.record_enquiry,
            RecordEnquiry(
                request_id=rid(),
                by=OFFICER,
                enquiry=enquiry(EnquiryBy.LA, EnquiryKind.LETTER, today),
            ),
        )
        == "letter is a school's enquiry, not the LA's"
    )
    assert (
        await rejected(
            handle,
            conclude,
            ConcludeInvestigation(
                request_id=rid(), by=OFFICER, outcome=InvestigationOutcome.NOT_LOCATED
            ),
        )
        == "no LA enquiry recorded: the CME officer's enquiries come before concluding not located"
    )
    assert (
        await rejected(
            handle,
            conclude,
            ConcludeInvestigation(
                request_id=rid(), by=OFFICER, outcome=InvestigationOutcome.ON_ROLL_ELSEWHERE
            ),
        )
        == "new_school_laestab: the school's 7-digit LAESTAB is needed, e.g. 8512001"
    )
    assert (
        await rejected(
            handle,
            conclude,
            ConcludeInvestigation(
                request_id=rid(),
                by=OFFICER,
                outcome=InvestigationOutcome.ON_ROLL_ELSEWHERE,
                new_school_laestab=SCHOOL,
            ),
        )
        == "new_school_laestab: that is the school the child is missing from"
    )
    assert (
        await rejected(
            handle,
            conclude,
            ConcludeInvestigation(
                request_id=rid(), by=OFFICER, outcome=InvestigationOutcome.MOVED_AWAY
            ),
        )
        == "other_la: name the local authority (or country) the child moved to"
    )
    assert await rejected(
        handle,
        conclude,
        ConcludeInvestigation(request_id=rid(), by=OFFICER, outcome=InvestigationOutcome.LEFT_AREA),
    ) == (
        "left_area is not an outcome of a destination not verified case; choose one of "
        "home_educated, located_back_at_school, moved_away, not_located, on_roll_elsewhere"
    )
    await handle.execute_update(
        CmeCase.record_enquiry,
        RecordEnquiry(
            request_id=rid(), by=OFFICER, enquiry=enquiry(EnquiryBy.LA, EnquiryKind.PARTNER, today)
        ),
    )
    await handle.execute_update(
        conclude,
        ConcludeInvestigation(
            request_id=rid(), by=OFFICER, outcome=InvestigationOutcome.NOT_LOCATED
        ),
    )
    authorise = CmeCase.authorise_deletion
    backdated = await rejected(
        handle,
        authorise,
        AuthoriseDeletion(
            request_id=rid(), by=OFFICER, ground="9(1)(i)", decision_date=today - timedelta(days=1)
        ),
    )
    assert backdated.startswith("deletion is never backdated: decision date ")
    assert await rejected(
        handle, authorise, AuthoriseDeletion(request_id=rid(), by=OFFICER, ground="8(1)(h)")
    ) == (
        "8(1)(h) is a ground of the 2006 regulations; on this date the 2024 regulations apply: "
        "use 9(1)(i)"
    )
    assert (
        await rejected(
            handle,
            CmeCase.report_contact,
            ReportContact(request_id=rid(), by=SCHOOL_OFFICE, contact_on=today),
        )
        == "the investigation is concluded: share the information instead"
    )
    assert (await h.state(case)).stage is Stage.AWAITING_DELETION_AUTHORISATION


async def test_rejections_on_a_verified_case_and_a_closed_one(harness: Harness) -> None:
    h = harness
    leaving = h.calendar.first_school_day_on_or_before(h.today)
    case = (await h.open(migration_return(today=h.today, leaving_date=leaving), SCHOOL_OFFICE)).case
    handle = h.handle(case)
    assert (
        await rejected(
            handle,
            CmeCase.record_enquiry,
            RecordEnquiry(
                request_id=rid(),
                by=SCHOOL_OFFICE,
                enquiry=enquiry(EnquiryBy.SCHOOL, EnquiryKind.LETTER, h.today),
            ),
        )
        == "a destination-verified case has no enquiries: the destination is known"
    )
    assert (
        await rejected(
            handle,
            CmeCase.report_contact,
            ReportContact(request_id=rid(), by=SCHOOL_OFFICE, contact_on=h.today),
        )
        == "contact is reported on a missing pupil's case; conclude this case instead"
    )
    future_ctf = await rejected(
        handle,
        CmeCase.confirm_ctf,
        ConfirmCtf(
            request_id=rid(),
            by=SCHOOL_OFFICE,
            destination_code="8512001",
            sent_on=h.today + timedelta(days=1),
        ),
    )
    assert future_ctf.startswith("CTF sent date ")
    # A withdrawn case refuses everything, and says so.
    await handle.execute_update(
        CmeCase.withdraw,
        Withdraw(
            request_id=rid(), by=TEAM_LEADER, reason="sent twice", duplicate_of="CME-000000000000"
        ),
    )
    outcome = await handle.result()
    assert outcome.duplicate_of == "CME-000000000000"
    assert outcome.closure_reason == "withdrawn as a duplicate of CME-000000000000: sent twice"
