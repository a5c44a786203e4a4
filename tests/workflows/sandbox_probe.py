"""Workflows for tests/workflows/test_sandbox.py: one that reads the clock the forbidden way, one
that reports whether the case's state machine is the worker's own (passed through)."""

from datetime import datetime

from temporalio import workflow

# Imported as workflow code imports (not marked passed through here): only the worker's sandbox
# settings decide whether it is the worker's own module or a fresh copy.
import domain.case.machine


@workflow.defn(name="SandboxProbeClock")
class ReadsTheClock:
    @workflow.run
    async def run(self) -> str:
        return datetime.now().isoformat()  # non-deterministic: the sandbox refuses it


@workflow.defn(name="SandboxProbeDomain")
class NamesTheMachine:
    @workflow.run
    async def run(self) -> int:
        return id(domain.case.machine.decide)


# Module state: a module loaded afresh for each run starts every run with it empty.
RUNS: list[str] = []


@workflow.defn(name="SandboxProbeCode")
class SharesItsCode:
    @workflow.run
    async def run(self) -> tuple[int, int]:
        RUNS.append(workflow.info().workflow_id)
        return id(SharesItsCode.run.__code__), len(RUNS)
