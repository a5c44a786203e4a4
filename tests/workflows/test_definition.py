"""workflows.definition: the case workflow's class, defined afresh by the sandbox for every run,
gets the definition the SDK's ``@workflow.defn`` would give it, without the SDK's walk over
its members after the first time."""

from __future__ import annotations

import dataclasses
import types
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.workflow import _Definition

import workflows.case
import workflows.definition as definition
from tests.workflows.harness import SCHOOL_OFFICE, Harness, school_referral
from worker import share_workflow_code
from workflows.case_requests import CaseRequests

SOURCE = Path(workflows.case.__file__).read_text(encoding="utf-8")


def compiled() -> types.CodeType:
    # As Python's loader compiles it: without this module's own `from __future__` flags.
    return compile(SOURCE, workflows.case.__file__, "exec", dont_inherit=True)


CODE = compiled()


def fresh_case_class(code: types.CodeType = CODE) -> type:
    """workflows.case executed again into a module of its own, as the sandbox does for a run
    (from one code object, as worker.share_workflow_code has it)."""
    module = types.ModuleType("workflows.case")
    module.__file__ = workflows.case.__file__
    exec(code, module.__dict__)
    return module.CmeCase  # type: ignore[no-any-return]


@pytest.fixture
def sdk_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[type]]:
    """The classes handed to the SDK's own decorator while the test runs."""
    calls: list[type] = []
    sdk_defn = workflow.defn

    def counting(*args: object, **kwargs: object) -> object:
        decorate = sdk_defn(*args, **kwargs)  # type: ignore[call-overload]

        def wrapped(cls: type) -> type:
            calls.append(cls)
            return decorate(cls)  # type: ignore[no-any-return]

        return wrapped

    monkeypatch.setattr(workflow, "defn", counting)  # as workflows.definition calls it
    monkeypatch.setattr(definition, "_TEMPLATES", {})
    yield calls


def comparable(defn: _Definition) -> dict[str, object]:
    """A definition's fields, with each function named by its owner and name."""

    def named(fn: object) -> object:
        return (getattr(fn, "__qualname__", None), getattr(fn, "__module__", None))

    fields = {f.name: getattr(defn, f.name) for f in dataclasses.fields(defn)}
    fields["cls"] = defn.cls.__qualname__
    fields["run_fn"] = named(defn.run_fn)
    for kind in ("signals", "queries", "updates"):
        fields[kind] = {
            key: {
                **{f.name: getattr(h, f.name) for f in dataclasses.fields(h)},
                "fn": named(h.fn),
            }
            for key, h in getattr(defn, kind).items()
        }
    return fields


def test_a_class_defined_again_from_the_same_code_gets_the_sdks_definition_without_its_walk(
    sdk_calls: list[type],
) -> None:
    first = fresh_case_class()
    second = fresh_case_class()
    assert sdk_calls == [first]  # the second was not walked again

    made = _Definition.must_from_class(second)
    by_sdk = _Definition.must_from_class(first)
    assert comparable(made) == comparable(by_sdk)
    # Everything of the second run is its own; only the bases' (passed through) are shared.
    assert made.cls is second
    assert made.run_fn is vars(second)["run"]
    assert _Definition.from_run_fn(made.run_fn) is made
    assert made.updates, "the case's updates"
    for key, update in made.updates.items():
        assert update is by_sdk.updates[key]
        assert getattr(CaseRequests, update.fn.__name__)._defn is update
    # The query is declared on the passed-through base too: one definition for every run.
    assert made.queries["state"] is by_sdk.queries["state"]
    assert made.queries["state"].fn is vars(CaseRequests)["state"]
    # The run method's types, taken from the first definition: the same passed-through classes.
    assert made.arg_types == by_sdk.arg_types and made.ret_type == by_sdk.ret_type
    assert made.arg_types is by_sdk.arg_types


def test_the_run_methods_types_are_worked_out_again_when_its_annotations_are_not_the_same(
    sdk_calls: list[type],
) -> None:
    """A run method annotated with a class of the module's own (a new class for every run) gets
    its types from its own annotations, not the first run's."""
    source = SOURCE.replace(
        "async def run(self, input: CaseInput) -> CaseOutcome | None:",
        "async def run(self, input: CaseInput) -> _Own:",
    ).replace("\nWORKFLOW_TYPE = ", "\nclass _Own:\n    pass\n\n\nWORKFLOW_TYPE = ", 1)
    assert "-> _Own:" in source and "class _Own:" in source
    code = compile(source, workflows.case.__file__, "exec", dont_inherit=True)
    first = fresh_case_class(code)
    second = fresh_case_class(code)
    assert sdk_calls == [first]
    made = _Definition.must_from_class(second)
    assert made.ret_type is vars(second)["run"].__annotations__["return"]
    assert made.ret_type is not _Definition.must_from_class(first).ret_type


def test_a_class_from_other_code_goes_through_the_sdks_decorator(sdk_calls: list[type]) -> None:
    first = fresh_case_class()
    other_code = compiled()
    other = fresh_case_class(other_code)
    again = fresh_case_class(other_code)
    assert sdk_calls == [first, other]  # new code: walked; the same code again: not
    assert _Definition.must_from_class(again).cls is again


def test_the_sdk_still_refuses_a_workflow_class_that_is_not_one(sdk_calls: list[type]) -> None:
    with pytest.raises(ValueError, match=r"Missing @workflow\.run method"):

        @definition.defn(name=f"NotAWorkflow-{uuid.uuid4()}")
        class NotAWorkflow:
            pass


@pytest.fixture
def shared_code() -> None:
    """The workflow modules' code shared between runs, as the worker has it (worker.main)."""
    share_workflow_code()


async def test_cases_in_the_sandbox_are_defined_from_the_first_runs_definition(
    sdk_calls: list[type], shared_code: None, harness: Harness
) -> None:
    """Three cases in the worker's sandbox: each run defines the class afresh; only the first
    (the worker checking the workflow as it starts) goes through the SDK's walk, and every case
    opens and answers its query."""
    for serial in range(3):
        referral = school_referral(today=harness.today, day1=harness.today, serial=serial)
        result = await harness.open(referral, by=SCHOOL_OFFICE)
        state = await harness.state(result.case)
        assert state.referrals_received == 1
    walked = [cls for cls in sdk_calls if cls.__module__ == "workflows.case"]
    assert len(walked) == 1
