"""A long case continues as new, carrying its whole state, so it never reaches Temporal's
history limits."""

from __future__ import annotations

import asyncio

from temporalio.api.enums.v1 import EventType

from domain.case.commands import ShareInformation
from domain.case.model import Stage
from starter.cases import case_input, case_reference, referral_update
from tests.workflows.harness import SCHOOL_OFFICE, SECRET, Harness, rid, school_referral
from workflows.case import CmeCase


async def test_a_long_case_continues_as_new_with_its_state(harness: Harness) -> None:
    h = harness
    day1 = h.calendar.first_school_day_on_or_before(h.today)
    referral = school_referral(today=h.today, day1=day1)
    case = case_reference(referral, SECRET)
    handle = await h.client.start_workflow(
        CmeCase.run,
        case_input(case, referral_update(referral, SCHOOL_OFFICE, secret=SECRET)).model_copy(
            update={"max_history_events": 100}
        ),
        id=case,
        task_queue=h.task_queue,
    )
    h.opened.append(case)  # recorded for the replay test: the run that carries the state
    first_run = handle.first_execution_run_id or (await handle.describe()).run_id
    await h.wait_open(case)
    for n in range(1, 31):
        await handle.execute_update(
            CmeCase.share_information,
            ShareInformation(request_id=rid(), by=SCHOOL_OFFICE, information=f"note {n}"),
        )
    # The run continues as new once the burst of updates has been handled and recorded.
    for _ in range(100):
        description = await h.client.get_workflow_handle(case).describe()
        if description.run_id != first_run:
            break
        await asyncio.sleep(0.1)
    assert description.run_id != first_run
    assert description.history_length < 100
    state = await h.state(case)
    assert [i.information for i in state.information] == [f"note {n}" for n in range(1, 31)]
    assert state.stage is Stage.SCHOOL_ENQUIRIES
    assert state.deadlines.sat_referral == h.calendar.nth(day1, 10)
    first = h.client.get_workflow_handle(case, run_id=first_run)
    events = [e async for e in first.fetch_history_events()]
    assert events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
