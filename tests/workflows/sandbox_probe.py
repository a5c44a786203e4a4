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
