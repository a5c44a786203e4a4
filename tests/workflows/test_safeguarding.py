"""Child protection: MASH and SAT told at once, a MASH call due by the end of the next school day,
and the SAT team leader told when nobody records it."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowUpdateFailedError

from domain.calendar import human_date
from domain.case.commands import (
    RaiseConcern,
    RecordMashCall,
)
from domain.case.model import (
    EscalationKind,
    Stage,
    TaskName,
    TaskStatus,
)
from tests.conftest import SmtpServer
from tests.workflows.harness import OFFICER, SCHOOL_OFFICE, Harness, rid, school_referral
from workflows.case import CmeCase


async def test_cp_case_escalated_on_day_1_and_to_the_team_leader_when_mash_is_not_phoned(
    harness: Harness, smtp_server: SmtpServer
) -> None:
    h = harness
    day1 = h.calendar.first_school_day_on_or_before(h.today)
    case = (await h.open(school_referral(today=h.today, day1=day1, cp=True), SCHOOL_OFFICE)).case
    mash_due = h.calendar.after(h.today, 1)
    # At once, not at day 10: MASH and SAT get the same email.
    message = await smtp_server.wait_for(lambda m: "mash" in m["To"].lower())
    assert "sat" in message["To"].lower()
    assert case in message["Subject"]
    assert "Child Protection Plan" in message.get_content()
    assert human_date(mash_due) in message.get_content()
    state = await h.state(case)
    assert state.child_protection
    assert state.stage is Stage.SCHOOL_ENQUIRIES
    [task] = [t for t in state.tasks if t.name is TaskName.PHONE_MASH]
    assert task.due == mash_due and task.status is TaskStatus.OPEN

    await h.sleep_until_morning_of(mash_due)
    assert not [
        e for e in (await h.state(case)).escalations if e.kind is EscalationKind.TEAM_LEADER
    ]
    await h.sleep_until_end_of(mash_due)
    leader = await smtp_server.wait_for(lambda m: "leader" in m["To"].lower())
    assert case in leader["Subject"]
    state = await h.state(case)
    [escalation] = [e for e in state.escalations if e.kind is EscalationKind.TEAM_LEADER]
    assert human_date(mash_due) in escalation.reason
    assert [t.overdue for t in state.tasks if t.name is TaskName.PHONE_MASH] == [True]


async def test_concern_raised_later_and_mash_call_recorded_in_time(
    harness: Harness, smtp_server: SmtpServer
) -> None:
    h = harness
    day1 = h.calendar.first_school_day_on_or_before(h.today)
    case = (await h.open(school_referral(today=h.today, day1=day1), SCHOOL_OFFICE)).case
    handle = h.handle(case)
    with pytest.raises(WorkflowUpdateFailedError) as early:
        await handle.execute_update(
            CmeCase.record_mash_call,
            RecordMashCall(request_id=rid(), by=SCHOOL_OFFICE, called_on=h.today),
        )
    assert "no MASH call is due" in str(early.value.cause)
    assert not smtp_server.messages

    result = await handle.execute_update(
        CmeCase.raise_concern,
        RaiseConcern(
            request_id=rid(),
            by=SCHOOL_OFFICE,
            concern="neighbour reports the family left in a hurry",
        ),
    )
    assert result.mash_call_due == h.calendar.after(h.today, 1)
    await smtp_server.wait_for(lambda m: "mash" in m["To"].lower())
    await handle.execute_update(
        CmeCase.record_mash_call,
        RecordMashCall(request_id=rid(), by=SCHOOL_OFFICE, called_on=h.today, mash_reference="M-1"),
    )
    await h.sleep_until_end_of(result.mash_call_due)
    state = await h.state(case)
    assert not [e for e in state.escalations if e.kind is EscalationKind.TEAM_LEADER]
    [task] = [t for t in state.tasks if t.name is TaskName.PHONE_MASH]
    assert task.status is TaskStatus.DONE and task.done_by == SCHOOL_OFFICE
    assert not [m for m in smtp_server.messages if "leader" in m["To"].lower()]
    assert OFFICER.name  # the officer is not involved before day 10
