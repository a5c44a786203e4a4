"""Recorded case histories (tests/workflows/histories, made with ``CME_RECORD_HISTORIES=1`` from
the workflow scenarios) must replay against the current workflow code: a change that breaks
running cases fails here. Re-record only for a new scenario, never to hide a replay failure."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.case import CmeCaseWorkflow

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_histories_are_recorded() -> None:
    # One scenario per path at least: not verified, verified, not on roll, safeguarding.
    names = " ".join(p.name for p in HISTORIES)
    for scenario in ("not-located", "ctf", "professional-referral", "cp-case", "duplicate"):
        assert scenario in names


# A deletion on the 20-day ground authorised before the law's proofs (the officer's no-sickness
# confirmation, register codes for every session: domain.deletion) is refused by today's rules, so
# its history replays only once the authorise_deletion handler assesses recorded decisions with
# ``assess_deletion(..., legacy_replay=not workflow.patched(...))``: the workflow's change, to come.
AWAITS_WORKFLOW_PATCH = {
    "test-not-located-deletion-refused-on-day-19-and-authorised-after-day-20-1",
}
_PARAMS = [
    pytest.param(
        p,
        marks=pytest.mark.xfail(
            strict=True, reason="needs the workflow's patched() call for pre-proof decisions"
        ),
    )
    if p.stem in AWAITS_WORKFLOW_PATCH
    else p
    for p in HISTORIES
]


@pytest.mark.parametrize("path", _PARAMS, ids=lambda p: p.stem)
async def test_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
    replayer = Replayer(workflows=[CmeCaseWorkflow], data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)
