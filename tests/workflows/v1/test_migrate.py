"""A case opened on version 1 moves to version 2 when woken (``cme migrate`` signals it): the same
workflow id continues as new on ``CmeCaseV2`` with everything it had recorded, and goes on."""

from __future__ import annotations

import asyncio

from domain.case.commands import RecordEnquiry
from domain.case.model import Role, Stage, TaskName
from domain.enquiries import Enquiry, EnquiryBy, EnquiryKind, EnquiryOutcome
from starter.cases import case_reference
from tests.conftest import SmtpServer
from tests.workflows.harness import SCHOOL_OFFICE, SECRET, Harness, rid, school_referral
from workflows.case import WORKFLOW_TYPE, CmeCase
from workflows.v1.case import CmeCaseWorkflow
from workflows.v1.models import Actor as ActorV1
from workflows.v1.models import CaseState as CaseStateV1
from workflows.v1.models import OpenCaseInput
from workflows.v1.models import Role as RoleV1


async def test_an_open_v1_case_continues_as_version_2_with_its_records(
    harness: Harness, smtp_server: SmtpServer
) -> None:
    h = harness
    day1 = h.calendar.first_school_day_on_or_before(h.today)
    referral = school_referral(
        today=h.today,
        day1=day1,
        cp=True,
        enquiries=[
            {"by": "school", "kind": "phone_primary", "made_on": str(day1), "outcome": "no_contact"}
        ],
    )
    case = case_reference(referral, SECRET)
    handle = await h.client.start_workflow(
        CmeCaseWorkflow.run,
        OpenCaseInput(
            case=case,
            referral=referral,
            referred_by=ActorV1(name=SCHOOL_OFFICE.name, role=RoleV1.SCHOOL),
        ),
        id=case,
        task_queue=h.task_queue,
    )
    v1_run = handle.result_run_id
    # Version 1 opens the case and sends its MASH email.
    await smtp_server.wait_for(lambda m: "mash" in m["To"].lower())
    for _ in range(100):
        try:
            v1: CaseStateV1 = await handle.query(CmeCaseWorkflow.get_state)
            break
        except Exception:
            await asyncio.sleep(0.05)

    await handle.signal(CmeCaseWorkflow.migrate)
    for _ in range(200):
        description = await h.describe(case)
        info = description.workflow_execution_info
        if info.type.name == WORKFLOW_TYPE:
            break
        await asyncio.sleep(0.05)
    assert info.type.name == WORKFLOW_TYPE and info.execution.run_id != v1_run
    state = await h.wait_open(case)
    assert state.case == case and state.stage is Stage.SCHOOL_ENQUIRIES
    assert state.child_protection and state.day1 == day1 == v1.day1
    assert state.deadlines.sat_referral == v1.deadlines["sat_referral"]
    assert state.deadlines.threshold_day == h.calendar.nth(day1, 20)
    assert [t.name for t in state.tasks] == [t.name.value for t in v1.tasks]
    assert [t.name for t in state.tasks if t.name is TaskName.PHONE_MASH]
    assert [e.enquiry for e in state.enquiries] == [e.enquiry for e in v1.enquiries]
    assert [e.type for e in state.log][:1] == ["case_opened"]
    # The emails version 1 sent are not sent again.
    assert not state.notifications
    mash = [m for m in smtp_server.messages if "mash" in m["To"].lower()]
    assert len(mash) == 1

    # And the case goes on, on version 2.
    result = await h.client.get_workflow_handle(case).execute_update(
        CmeCase.record_enquiry,
        RecordEnquiry(
            request_id=rid(),
            by=SCHOOL_OFFICE,
            enquiry=Enquiry(
                by=EnquiryBy.SCHOOL,
                kind=EnquiryKind.LETTER,
                made_on=h.today,
                outcome=EnquiryOutcome.NO_CONTACT,
            ),
        ),
    )
    assert result.enquiries_recorded == 2
    assert (await h.state(case)).enquiries[-1].recorded_by.role is Role.SCHOOL
