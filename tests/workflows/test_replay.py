"""Recorded version-2 case histories (tests/workflows/histories, made with
``CME_RECORD_HISTORIES=1`` from the workflow scenarios) must replay against the current workflow
code: a change that breaks running cases fails here. Re-record only for a new scenario, never to
hide a replay failure. Version-1 histories replay in tests/workflows/v1/test_replay.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from worker import WORKFLOWS

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))

# One scenario per path at least, named after the tests that record them.
SCENARIOS = (
    "not-located-deletion-refused",  # not verified: SAT referral, threshold, authorisation
    "each-ctf-destination-kind",  # verified: CTF and authorisation
    "professional-referral",  # not on roll
    "cp-case",  # MASH escalation and the team leader
    "concern-raised-later",  # a concern and a MASH call recorded
    "duplicate",  # a further referral
    "new-episode",  # a repeat episode
    "share-information",  # information shared with SAT
    "reassign",  # a team leader reassigns
    "calendar",  # a deadline past the calendar, the weekly re-read
    "refuses",  # problems: a refused address, a register refusal
    "continues-as-new",  # the run that ends in ContinuedAsNew
)


def test_histories_are_recorded() -> None:
    names = " ".join(p.name for p in HISTORIES)
    missing = [scenario for scenario in SCENARIOS if scenario not in names]
    assert not missing, f"no recorded history for: {missing}"
    assert any(
        "ContinuedAsNew" in p.read_text(encoding="utf-8") or "CONTINUED_AS_NEW" in p.read_text()
        for p in HISTORIES
    )


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
    replayer = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)
