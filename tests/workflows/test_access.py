"""The case workflow enforces who may do what, whoever sends the update (issue 10): a school's
user cannot act on another school's case nor authorise, conclude, withdraw or reassign; a
manager changes nothing; a referral its sender may not make opens no case. Each refusal leaves
no trace in the case's history."""

from __future__ import annotations

from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from domain.case.commands import (
    AuthoriseDeletion,
    ConcludeInvestigation,
    RaiseConcern,
    Reassign,
    RecordEnquiry,
    Withdraw,
)
from domain.case.model import Actor, InvestigationOutcome, Role
from domain.enquiries import Enquiry, EnquiryBy, EnquiryKind, EnquiryOutcome
from starter.cases import case_reference, referral_update, start_operation
from tests.workflows.harness import (
    OFFICER,
    OTHER_SCHOOL,
    SCHOOL_OFFICE,
    SECRET,
    TEAM_LEADER,
    Harness,
    rid,
    school_referral,
)
from tests.workflows.test_validators import accepted_updates, rejected
from workflows.case import CmeCase

OTHER_OFFICE = Actor(name="Mr Other (school)", role=Role.SCHOOL, schools=(OTHER_SCHOOL,))
MANAGER = Actor(name="Manager Example", role=Role.MANAGER)


async def test_forbidden_actions_are_refused_by_the_case_and_leave_no_trace(
    harness: Harness,
) -> None:
    h = harness
    day1 = h.calendar.first_school_day_on_or_before(h.today)
    case = (await h.open(school_referral(today=h.today, day1=day1), SCHOOL_OFFICE)).case
    handle = h.handle(case)
    before = await accepted_updates(handle)
    visit = Enquiry(
        by=EnquiryBy.SCHOOL,
        kind=EnquiryKind.HOME_VISIT,
        made_on=h.today,
        outcome=EnquiryOutcome.NO_CONTACT,
    )

    reasons = {
        "another school's enquiry": await rejected(
            handle,
            CmeCase.record_enquiry,
            RecordEnquiry(request_id=rid(), by=OTHER_OFFICE, enquiry=visit),
        ),
        "another school's concern": await rejected(
            handle,
            CmeCase.raise_concern,
            RaiseConcern(request_id=rid(), by=OTHER_OFFICE, concern="Seen leaving at night"),
        ),
        "school concludes": await rejected(
            handle,
            CmeCase.conclude_investigation,
            ConcludeInvestigation(
                request_id=rid(), by=SCHOOL_OFFICE, outcome=InvestigationOutcome.NOT_LOCATED
            ),
        ),
        "school authorises": await rejected(
            handle,
            CmeCase.authorise_deletion,
            AuthoriseDeletion(request_id=rid(), by=SCHOOL_OFFICE, ground="9(1)(i)"),
        ),
        "school withdraws": await rejected(
            handle,
            CmeCase.withdraw,
            Withdraw(request_id=rid(), by=SCHOOL_OFFICE, reason="mistake"),
        ),
        "officer withdraws": await rejected(
            handle,
            CmeCase.withdraw,
            Withdraw(request_id=rid(), by=OFFICER, reason="mistake"),
        ),
        "officer reassigns": await rejected(
            handle,
            CmeCase.reassign,
            Reassign(request_id=rid(), by=OFFICER, officer="Officer Z"),
        ),
        "manager reassigns": await rejected(
            handle,
            CmeCase.reassign,
            Reassign(request_id=rid(), by=MANAGER, officer="Officer Z"),
        ),
    }

    assert reasons == {
        "another school's enquiry": (
            "this case is not one of your schools': a school user acts only on the cases of 8512001"
        ),
        "another school's concern": (
            "this case is not one of your schools': a school user acts only on the cases of 8512001"
        ),
        "school concludes": (
            "concluding an investigation is for a cme officer or team leader, not a school"
        ),
        "school authorises": "authorising deletion is for a cme officer or team leader, not a "
        "school",
        "school withdraws": "withdrawing a case is for a team leader, not a school",
        "officer withdraws": "withdrawing a case is for a team leader, not a cme officer",
        "officer reassigns": "reassigning a case is for a team leader, not a cme officer",
        "manager reassigns": "a manager reads cases and changes none",
    }
    assert await accepted_updates(handle) == before
    state = await h.state(case)
    assert all(e.recorded_by != OTHER_OFFICE for e in state.enquiries)
    assert state.escalations == []  # the refused concern told no one
    assert state.assigned_officer is None

    # The team leader may: the case takes it.
    done = await handle.execute_update(
        CmeCase.reassign, Reassign(request_id=rid(), by=TEAM_LEADER, officer="Officer Z")
    )
    assert (await h.state(done.case)).assigned_officer == "Officer Z"


async def test_a_referral_of_another_schools_pupil_opens_no_case(harness: Harness) -> None:
    h = harness
    day1 = h.calendar.first_school_day_on_or_before(h.today)
    referral = school_referral(today=h.today, day1=day1)  # a pupil of 8512000
    case = case_reference(referral, SECRET)
    update = referral_update(referral, OTHER_OFFICE, None, secret=SECRET)

    # Sent straight to Temporal, as a client that skipped its own check would.
    try:
        await h.client.execute_update_with_start_workflow(
            CmeCase.register_referral,
            update,
            start_workflow_operation=start_operation(case, update, task_queue=h.task_queue),
            id=update.request_id,
        )
    except WorkflowUpdateFailedError as refused:
        cause = refused.cause
    else:
        raise AssertionError("the referral was accepted")
    assert isinstance(cause, ApplicationError) and cause.type == "Rejected"
    assert cause.message == (
        "this case is not one of your schools': a school user acts only on the cases of 8512001"
    )
    # The run that started ends at once with nothing decided; no case opened.
    refused_run = h.handle(case)
    assert await refused_run.result() is None
    described = await refused_run.describe()
    h.runs.append((case, described.run_id))  # recorded for the replay test

    # The school's own referral of the child then opens the case as usual.
    opened = await h.open(referral, SCHOOL_OFFICE)
    assert opened.case == case and not opened.existing
    assert (await h.state(case)).episode == 1
