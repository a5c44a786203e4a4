"""A case opened on version 1 moves to version 2 when woken (``cme migrate`` signals it): the same
workflow id continues as new on ``CmeCaseV2`` with everything it had recorded, and goes on."""

from __future__ import annotations

import asyncio
import contextlib

from temporalio.api.enums.v1 import EventType
from temporalio.service import RPCError

from domain.case.commands import RecordEnquiry
from domain.case.model import Role, Stage, TaskName
from domain.enquiries import EnquiryKind
from starter.cases import case_reference
from tests.conftest import SmtpServer
from tests.workflows.harness import (
    SCHOOL_OFFICE,
    SECRET,
    Harness,
    rid,
    school_enquiry,
    school_referral,
)
from workflows.case import WORKFLOW_TYPE, CmeCase
from workflows.v1.case import CmeCaseWorkflow
from workflows.v1.models import Actor as ActorV1
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
    h.opened.append(case)  # recorded for the replay test: the v1 run and the v2 run it became
    # Version 1 opens the case and sends its MASH email.
    await smtp_server.wait_for(lambda m: "mash" in m["To"].lower())
    # A live version-1 case moves at its next wake-up: this one at once, as it has just opened;
    # a sleeping one when `cme migrate` signals it.
    with contextlib.suppress(RPCError):
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
    assert state.child_protection and state.day1 == day1
    assert state.deadlines.sat_referral == h.calendar.nth(day1, 10)
    assert state.deadlines.threshold_day == h.calendar.nth(day1, 20)
    assert [t.name for t in state.tasks] == [TaskName.SCHOOL_ENQUIRIES, TaskName.PHONE_MASH]
    assert [e.enquiry for e in state.enquiries] == list(referral.enquiries_made)
    # The version-1 run ended by continuing as the version-2 one.
    v1_handle = h.client.get_workflow_handle(case, run_id=v1_run)
    for _ in range(100):
        v1_events = [e async for e in v1_handle.fetch_history_events()]
        last = v1_events[-1].event_type
        if last == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            break
        await asyncio.sleep(0.05)
    assert last == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
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
            enquiry=school_enquiry(EnquiryKind.LETTER, h.today),
        ),
    )
    assert result.enquiries_recorded == 2
    assert (await h.state(case)).enquiries[-1].recorded_by.role is Role.SCHOOL
