"""The worker's sandbox (worker.workflow_runner): the project's deterministic modules are passed
through (imported once per process, not once per case), workflow modules are executed afresh for
each run from code compiled once (worker.share_workflow_code), and workflow code is still refused
what would make it non-deterministic; the sandbox is entered at less cost (worker._LeanInstance)
and answers as Temporal's own does."""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from types import CodeType
from typing import Any

import pytest
from temporalio.api.common.v1 import Payloads
from temporalio.api.failure.v1 import Failure
from temporalio.client import WorkflowFailureError
from temporalio.converter import DataConverter, WorkflowSerializationContext
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import (
    UnsandboxedWorkflowRunner,
    Worker,
    WorkflowInstanceDetails,
    WorkflowRunner,
)
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox._runner import _fake_info
from temporalio.worker.workflow_sandbox._runner import _Instance as _SandboxInstance
from temporalio.workflow import _Definition

import domain.case
import domain.case.machine
import domain.case.rules
import tests.workflows.sandbox_probe as probes
from tests.workflows.harness import SCHOOL_OFFICE, Harness, school_referral
from tests.workflows.sandbox_probe import NamesTheMachine, ReadsTheClock, SharesItsCode
from worker import (
    _CODES,
    _STATEMENTS,
    PASSTHROUGH_MODULES,
    _SharedCodeFinder,
    share_workflow_code,
    workflow_runner,
)
from workflows.case import CmeCase


async def run_probe(env: WorkflowEnvironment, runner: WorkflowRunner, probe: object) -> object:
    queue = f"sandbox-{uuid.uuid4()}"
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[ReadsTheClock, NamesTheMachine, SharesItsCode],
        workflow_runner=runner,
        # A refused call fails the run (rather than retrying its task for ever) so it can be seen.
        workflow_failure_exception_types=[Exception],
    ):
        return await env.client.execute_workflow(
            probe.run,  # type: ignore[attr-defined]
            id=f"probe-{uuid.uuid4()}",
            task_queue=queue,
        )


async def test_the_sandbox_still_refuses_reading_the_clock_in_workflow_code(
    env: WorkflowEnvironment,
) -> None:
    with pytest.raises(WorkflowFailureError) as refused:
        await run_probe(env, workflow_runner(), ReadsTheClock)
    assert "RestrictedWorkflowAccessError" in repr(refused.value.cause)
    assert "datetime.datetime.now" in str(refused.value.cause)
    # The control: without the sandbox the same code runs.
    assert await run_probe(env, UnsandboxedWorkflowRunner(), ReadsTheClock)


async def test_the_case_state_machine_is_passed_through_not_imported_again(
    env: WorkflowEnvironment,
) -> None:
    assert "domain" in PASSTHROUGH_MODULES
    assert await run_probe(env, workflow_runner(), NamesTheMachine) == id(
        domain.case.machine.decide
    )
    # The control: Temporal's default sandbox imports it again for the run.
    assert await run_probe(env, SandboxedWorkflowRunner(), NamesTheMachine) != id(
        domain.case.machine.decide
    )


async def test_a_case_leaves_the_processs_own_modules_as_they_were(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A module the sandbox imports afresh is set as an attribute of its parent package: were
    ``domain.case`` passed through but ``domain.case.rules`` not, a case run in this process would
    leave the real ``domain.case.rules`` pointing at the sandbox's copy, whose ``Rejected`` is
    another class (the web app then failed to catch a refusal, in one process with a worker)."""
    # Start from the real modules, whatever ran earlier in this process.
    monkeypatch.setattr(domain.case, "rules", sys.modules["domain.case.rules"])
    h = harness
    day1 = h.calendar.first_school_day_on_or_before(h.today)
    await h.open(school_referral(today=h.today, day1=day1), SCHOOL_OFFICE)
    assert domain.case.rules is sys.modules["domain.case.rules"]
    assert domain.case.Rejected is domain.case.rules.Rejected
    assert domain.case.machine is sys.modules["domain.case.machine"]


def _method_code(module_code: CodeType, cls: str, name: str) -> CodeType:
    """The code of method ``cls.name`` compiled within ``module_code``."""
    [body] = [c for c in module_code.co_consts if isinstance(c, CodeType) and c.co_name == cls]
    [method] = [c for c in body.co_consts if isinstance(c, CodeType) and c.co_name == name]
    return method


async def test_each_run_executes_the_workflow_module_afresh_from_code_compiled_once(
    env: WorkflowEnvironment,
) -> None:
    share_workflow_code("tests.workflows.sandbox_probe")
    first = await run_probe(env, workflow_runner(), SharesItsCode)
    second = await run_probe(env, workflow_runner(), SharesItsCode)

    shared = _method_code(_CODES[probes.__file__], "SharesItsCode", "run")
    # Both runs ran the one code object compiled for the first (alive, so its id is its own)...
    assert list(first) == list(second) == [id(shared), 1]  # type: ignore[call-overload]
    # ...each in a module of its own: the first run's module state did not reach the second, nor
    # the worker's own module.
    assert probes.RUNS == []


class _InstallFinder:
    """Finds modules in one folder that is not on ``sys.path``, as an editable install's finder
    does (where ``cme`` finds the ``workflows`` package); counts what it is asked."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.asked: list[str] = []

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        self.asked.append(fullname)
        return importlib.machinery.PathFinder.find_spec(fullname, [str(self.folder)])


def test_workflow_modules_found_by_another_finder_share_their_code_and_are_looked_up_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"wfpkg_{uuid.uuid4().hex}"
    package = tmp_path / name
    package.mkdir()
    (package / "__init__.py").write_text("LOADS = []\n", encoding="utf-8")
    (package / "flow.py").write_text("def step():\n    return 1\n", encoding="utf-8")
    install = _InstallFinder(tmp_path)
    monkeypatch.setattr(sys, "meta_path", [_SharedCodeFinder((name,)), *sys.meta_path, install])

    def load() -> tuple[Any, Any]:
        # As the sandbox does for every run: the package and its module afresh.
        for module in (name, f"{name}.flow"):
            sys.modules.pop(module, None)
        flow = importlib.import_module(f"{name}.flow")
        return sys.modules[name], flow

    first_package, first = load()
    second_package, second = load()
    assert first is not second and first_package is not second_package  # each run its own
    first_package.LOADS.append("first")
    assert second_package.LOADS == []
    # The package itself (found by the install's finder, not on the path) shares its code too.
    assert first.step.__code__ is second.step.__code__
    assert str(package / "__init__.py") in _CODES
    # Where each is was asked once, not once a run...
    assert install.asked.count(name) == 1
    # ...until the import system's caches are invalidated.
    importlib.invalidate_caches()
    load()
    assert install.asked.count(name) == 2


# What an update declared outside the sandbox may do: hand its request to the workflow.
HANDED_TO_THE_WORKFLOW = {"_request", "_validate", "_open", "_check_opening", "_current"}


def test_the_case_updates_are_declared_once_and_hold_no_logic_outside_the_sandbox() -> None:
    """The case's updates and validators are declared in a passed-through module
    (workflows.case_requests), so that a run does not build their definitions again; what runs
    outside the sandbox's protection is only the hand-over to the workflow's own methods, which
    the sandbox executes afresh for each run with its restrictions (``workflows.case``)."""
    assert "workflows.case_requests" in PASSTHROUGH_MODULES
    assert not any(
        "workflows.case".startswith(m) or m == "workflows" for m in PASSTHROUGH_MODULES
    ), "the case workflow's own module must stay in the sandbox"
    definition = _Definition.must_from_class(CmeCase)
    assert set(definition.updates) >= {"register_referral", "confirm_ctf", "authorise_deletion"}
    for name, update in definition.updates.items():
        assert update.validator is not None, name
        for fn in (update.fn, update.validator):
            assert fn.__module__ == "workflows.case_requests", name
            # Only attribute lookups on self and the call: no module-level name, no clock,
            # no randomness, nothing but the hand-over.
            assert set(fn.__code__.co_names) <= HANDED_TO_THE_WORKFLOW, (name, fn.__code__.co_names)
    assert set(definition.queries) == {"state"}
    for name, query in definition.queries.items():
        assert query.fn.__module__ == "workflows.case_requests", name
        assert set(query.fn.__code__.co_names) <= HANDED_TO_THE_WORKFLOW, name
    for method in HANDED_TO_THE_WORKFLOW:
        assert getattr(CmeCase, method).__module__ == "workflows.case", method


def _sandboxed_case(runner: SandboxedWorkflowRunner) -> Any:
    """A case workflow instance in ``runner``'s sandbox, as the SDK creates one to validate a
    workflow (its fake run info, no history)."""
    defn = _Definition.must_from_class(CmeCase)
    return runner.create_instance(
        WorkflowInstanceDetails(
            payload_converter_factory=DataConverter.default._new_payload_converter,
            failure_converter_class=DataConverter.default.failure_converter_class,
            interceptor_classes=[],
            defn=defn,
            info=_fake_info,
            randomness_seed=-1,
            extern_functions={},
            disable_eager_activity_execution=False,
            worker_level_failure_exception_types=[],
            patch_activation_callback=None,
            last_completion_result=Payloads(),
            last_failure=Failure(),
        )
    )


async def test_the_lean_sandbox_names_the_same_serialization_context_without_entering_it() -> None:
    """The worker's sandbox reads a payload's serialization context (which case's key the codec
    uses) from the SDK's instance directly; the SDK's own sandbox enters the sandbox to ask the
    same instance. Both must answer alike (were the SDK to change its instance, this fails)."""
    instance = _sandboxed_case(workflow_runner())
    assert isinstance(instance, _SandboxInstance)
    ours = instance.get_serialization_context(None)
    sdks = _SandboxInstance.get_serialization_context(instance, None)
    assert isinstance(ours, WorkflowSerializationContext)
    assert (
        ours
        == sdks
        == WorkflowSerializationContext(
            namespace=_fake_info.namespace, workflow_id=_fake_info.workflow_id
        )
    )
    assert instance.get_external_store_context(None) == (
        _SandboxInstance.get_external_store_context(instance, None)
    )


async def test_the_lean_sandbox_compiles_the_statements_it_enters_with_once() -> None:
    _sandboxed_case(workflow_runner())
    compiled = dict(_STATEMENTS)
    assert compiled  # creating an instance ran (and compiled) the SDK's statements
    _sandboxed_case(workflow_runner())
    # A second instance ran the very same code objects and compiled nothing new.
    assert compiled == _STATEMENTS
    assert all(_STATEMENTS[k] is v for k, v in compiled.items())
