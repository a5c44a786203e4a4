"""A case read (queried) while its register sync runs must still replay.

Temporal answers a query that arrives while a local activity runs by completing the workflow
task early, with the activity's result but without what the workflow did on it; that goes in
the next task. Revision 1 of the case workflow cancelled and restarted its timer on every
wake-up, so a sync's result was followed by a timer cancellation in that next task, which a
replay placed wrongly: the next worker to replay the case (a restart, a cache eviction, a query
on a closed case) failed every workflow task with a nondeterminism error, and the case was
wedged (a CI run caught it as a refused `cme retry` after a worker restart). Revision 2 sets
each timer once and never cancels it (``workflows.case.CmeCase._set_alarm``).

Here three readers query the case while its problems are retried a few times over (each retry
two failed emails, each failure a sync): some syncs are cut short. The test checks that some were
(with revision 1's workflow it then failed to replay in 9 runs of 10), and that the history
replays. At revision 3 a retry's emails are local activities too, so the retry, its emails and
their syncs all run in the workflow task that takes the retry, which the queries did not cut
short in any run seen: the same reading of a revision-3 case is checked to replay, and revision
2's runs (still open in LAs' workers) to be cut short and replay. Revision 4, whose syncs ride
along with the retry's first email, is read the same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle, WorkflowHistory
from temporalio.worker import Replayer

from starter.cases import open_case
from tests.starter.conftest import Cli, eventually, refusing_smtp, settled
from tests.workflows.harness import SCHOOL_OFFICE, SECRET, school_referral
from worker import workflow_runner
from workflows.case import CmeCase

pytestmark = pytest.mark.asyncio(loop_scope="session")

# Each retry sends the case's two failed emails again; each failure asks for a sync.
RETRIES = 4

# Events a workflow task's commands write (the early completion leaves the next workflow task
# scheduled right after them, with nothing from outside in between).
COMMAND_EVENTS = {
    EventType.EVENT_TYPE_MARKER_RECORDED,
    EventType.EVENT_TYPE_TIMER_STARTED,
    EventType.EVENT_TYPE_TIMER_CANCELED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
    EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
}


async def queried_while(handle: WorkflowHandle[Any, Any], work: Awaitable[None]) -> None:
    """Run ``work`` while three readers query the case as fast as they can."""
    stop = asyncio.Event()

    async def read() -> None:
        while not stop.is_set():
            await handle.query(CmeCase.state)

    readers = [asyncio.create_task(read()) for _ in range(3)]
    try:
        await work
    finally:
        stop.set()
        await asyncio.gather(*readers)


def completed_early(history: WorkflowHistory) -> int:
    """How many workflow tasks were scheduled straight after a command's event with nothing new
    in the history (no event from outside, no update): the tasks Temporal started to finish
    what a query cut short."""
    events = list(history.events)
    count = 0
    for i in range(1, len(events) - 3):
        if (
            events[i].event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED
            and events[i - 1].event_type in COMMAND_EVENTS
            and events[i + 3].event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
        ):
            count += 1
    return count


@pytest.mark.parametrize("revision", [2, 3, 4])
async def test_a_case_queried_while_it_syncs_still_replays(cli: Cli, revision: int) -> None:
    referral = school_referral(
        today=cli.today, day1=cli.calendar.first_school_day_on_or_before(cli.today), cp=True
    )
    with refusing_smtp(cli.mail) as refusing:
        await cli.worker.up(mail=refusing)  # each email a problem, each problem a sync
        opened = await open_case(
            cli.client,
            referral,
            SCHOOL_OFFICE,
            task_queue=cli.task_queue,
            secret=SECRET,
            revision=revision,
        )
        case = opened.case
        handle = cli.client.get_workflow_handle(case)

        async def problems() -> None:
            assert (await handle.query(CmeCase.state)).open_problems

        await eventually(problems)
        await settled(handle)

        async def retried() -> None:
            for _ in range(RETRIES):
                await cli.ok("retry", case, "--by", "Officer X")
                await settled(handle)

        await queried_while(handle, retried())

    history = await handle.fetch_history()
    if revision == 2:
        assert completed_early(history) >= 1, "no query cut a sync short: the test tests nothing"
    replayed = await Replayer(
        workflows=[CmeCase],
        data_converter=cli.client.data_converter,
        workflow_runner=workflow_runner(),
    ).replay_workflow(history, raise_on_replay_failure=False)
    assert replayed.replay_failure is None, str(replayed.replay_failure)

    # And a worker that has not seen the case (a restart) carries it on: the retry is accepted.
    await cli.worker.up()
    await cli.ok("retry", case, "--by", "Officer X")
