"""Recorded case histories (tests/workflows/histories, made with ``CME_RECORD_HISTORIES=1`` from
the workflow scenarios) must replay against the current workflow code: a change that breaks
running cases fails here. Re-record only for a new scenario, never to hide a replay failure.

They were recorded before payloads were encrypted: they replay through the same data converter
as every worker's, whose codec passes a payload in the clear through."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from security.codec import ENCODING
from security.converter import data_converter
from security.keys import MemoryKeyStore
from tests.keyring import fixed_key_ring
from tests.payloads import encrypted_payloads
from worker import workflow_runner
from workflows.v1.case import CmeCaseWorkflow

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_histories_are_recorded() -> None:
    # One scenario per path at least: not verified, verified, not on roll, safeguarding.
    names = " ".join(p.name for p in HISTORIES)
    for scenario in ("not-located", "ctf", "professional-referral", "cp-case", "duplicate"):
        assert scenario in names


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
    assert not any(p.metadata.get("encoding") == ENCODING for _, p in encrypted_payloads(history))
    converter = data_converter(MemoryKeyStore(fixed_key_ring()))
    replayer = Replayer(
        workflows=[CmeCaseWorkflow], data_converter=converter, workflow_runner=workflow_runner()
    )
    await replayer.replay_workflow(history)
