"""Not on roll (professional referral): straight to the CME officer, ends in a closure decision."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from domain.case.commands import (
    AuthoriseDeletion,
    ConcludeInvestigation,
)
from domain.case.model import (
    CaseKind,
    Decision,
    InvestigationOutcome,
    Stage,
    TaskName,
    TaskStatus,
)
from tests.conftest import SmtpServer
from tests.workflows.harness import OFFICER, PROFESSIONAL, Harness, professional_referral, rid
from workflows.case import CmeCase


async def test_professional_referral_closed_as_placed_on_roll(
    harness: Harness, smtp_server: SmtpServer
) -> None:
    h = harness
    referral = professional_referral(today=h.today)
    case = (await h.open(referral, PROFESSIONAL)).case
    state = await h.state(case)
    assert (state.kind, state.stage) == (CaseKind.NOT_ON_ROLL, Stage.LA_INVESTIGATION)
    assert [(t.name, t.status) for t in state.tasks] == [(TaskName.INVESTIGATE, TaskStatus.OPEN)]
    new = await smtp_server.wait_for(lambda m: case in m["Subject"] and "sat" in m["To"].lower())
    assert "Example Health Visiting Service" in new.get_content()

    handle = h.handle(case)
    with pytest.raises(WorkflowUpdateFailedError) as not_a_school_outcome:
        await handle.execute_update(
            CmeCase.conclude_investigation,
            ConcludeInvestigation(
                request_id=rid(), by=OFFICER, outcome=InvestigationOutcome.ON_ROLL_ELSEWHERE
            ),
        )
    assert "on_roll_elsewhere is not an outcome of a not on roll case" in str(
        not_a_school_outcome.value.cause
    )
    result = await handle.execute_update(
        CmeCase.conclude_investigation,
        ConcludeInvestigation(
            request_id=rid(),
            by=OFFICER,
            outcome=InvestigationOutcome.PLACED_ON_ROLL,
            new_school_laestab="8512001",
        ),
    )
    assert result.stage is Stage.CLOSED
    outcome = await handle.result()
    assert outcome.decision is Decision.CLOSED
    assert outcome.investigation_outcome is InvestigationOutcome.PLACED_ON_ROLL
    assert outcome.closure_reason == "placed on roll at 8512001"
    assert outcome.ground is None
    closure = await smtp_server.wait_for(lambda m: "chris.demo@example.org" in m["To"])
    assert "placed on roll at 8512001" in closure.get_content()
    # The case is over: the server refuses any further task.
    with pytest.raises((WorkflowUpdateFailedError, RPCError)):
        await handle.execute_update(
            CmeCase.authorise_deletion,
            AuthoriseDeletion(request_id=rid(), by=OFFICER, ground="9(1)(a)"),
        )


async def test_professional_referral_with_a_cp_plan_goes_to_mash_at_once(
    harness: Harness, smtp_server: SmtpServer
) -> None:
    h = harness
    case = (await h.open(professional_referral(today=h.today, cp=True), PROFESSIONAL)).case
    message = await smtp_server.wait_for(lambda m: "mash" in m["To"].lower())
    assert case in message["Subject"]
    state = await h.state(case)
    [call] = [t for t in state.tasks if t.name is TaskName.PHONE_MASH]
    assert call.assignee.value == "cme_officer"
