"""``@workflow.defn`` for a workflow class that the sandbox defines afresh for every run.

The sandbox executes a workflow's module anew for every run it starts (a new case, a case back
in the worker's cache), so ``@workflow.defn`` runs again each time: it walks every member of the
class and its bases, checks each against the SDK's runtime protocols and compares the update
validators' signatures with their handlers'. The profile of a worker opening cases (issue 11)
put about 7% of its Python time there, for the same answer every time.

:func:`defn` gives the SDK's decorator the first class it sees and remembers where that
definition found each handler; a later class of the same name, executed from the same code
objects (``worker.share_workflow_code``) with the same bases, gets a definition built the way
the SDK builds one, from that class's own run method and handlers, without the walk. Anything
else (other code, other bases, no shared code) goes through the SDK's decorator as before.
Nothing of one run reaches another: the definition holds the new class and its own functions;
what is shared is only what the bases (passed through the sandbox, one per process) hold
already. ``tests/workflows/test_definition.py`` compares both paths' definitions.

This module is passed through the sandbox (``worker.PASSTHROUGH_MODULES``) so that it is one
per process. It leans on the SDK's private ``_Definition`` (temporalio 1.35), as the SDK's own
decorator leaves it on the class; the test above fails if its shape changes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.workflow import _Definition

__all__ = ["defn"]

_C = TypeVar("_C", bound=type)

_DEFINITION = "__temporal_workflow_definition"
# Where a handler's definition hangs on its member, by kind (an update's member is the SDK's
# update method object, which keeps it as ``_defn``).
_HANDLER_ATTRIBUTE = {
    "signals": "__temporal_signal_definition",
    "queries": "__temporal_query_definition",
    "updates": "_defn",
}


@dataclasses.dataclass(frozen=True)
class _Template:
    """What the SDK's decorator made of a class, and where it found each part."""

    definition: _Definition
    bases: tuple[type, ...]
    codes: tuple[tuple[str, object], ...]
    run_attribute: str
    # Per kind, the handler's key -> the class attribute it is on, or None (on a base).
    handlers: Mapping[str, Mapping[str | None, str | None]]


# By (module, class, workflow name). Two runs starting at once may both make one: either will do.
_TEMPLATES: dict[tuple[str, str, str | None], _Template] = {}


def _codes(cls: type) -> tuple[tuple[str, object], ...]:
    """The class body's code: each attribute's name and its function's code object."""
    codes: list[tuple[str, object]] = []
    for name, member in vars(cls).items():
        if name == _DEFINITION:  # the decorator's own mark, not the class body's
            continue
        code = getattr(member, "__code__", None)
        if code is None:
            fn = getattr(getattr(member, "_defn", None), "fn", None)
            code = getattr(fn, "__code__", None)
        codes.append((name, code))
    return tuple(codes)


def _same(a: tuple[tuple[str, object], ...], b: tuple[tuple[str, object], ...]) -> bool:
    """The same attributes, each with the very same code object (or none)."""
    return len(a) == len(b) and all(
        name_a == name_b and code_a is code_b
        for (name_a, code_a), (name_b, code_b) in zip(a, b, strict=True)
    )


def _template(cls: type, definition: _Definition) -> _Template:
    own = vars(cls)
    run_attribute = next(name for name, member in own.items() if member is definition.run_fn)
    handlers: dict[str, dict[str | None, str | None]] = {}
    for kind, attribute in _HANDLER_ATTRIBUTE.items():
        found: dict[str | None, str | None] = {}
        for key, handler in getattr(definition, kind).items():
            found[key] = next(
                (name for name, m in own.items() if getattr(m, attribute, None) is handler), None
            )
        handlers[kind] = found
    return _Template(
        definition=definition,
        bases=cls.__bases__,
        codes=_codes(cls),
        run_attribute=run_attribute,
        handlers=handlers,
    )


def _types_of(run_fn: Any, old: _Definition) -> dict[str, Any]:
    """The run method's argument and result types as the first class's definition has them,
    when its annotations are equal to that class's (the same classes, passed through the
    sandbox; ``X | None`` is a new but equal object each time): the SDK would work them out
    again from the annotations, a quarter of the time a run spends defining its class.
    Otherwise (a class defined in the module itself, new for every run, or a string, to be
    resolved in this run's module) nothing: the SDK works them out."""
    new_hints = getattr(run_fn, "__annotations__", None)
    old_hints = getattr(old.run_fn, "__annotations__", None)
    if (
        not isinstance(new_hints, dict)
        or not isinstance(old_hints, dict)
        or new_hints.keys() != old_hints.keys()
        or any(isinstance(h, str) or h != old_hints[k] for k, h in new_hints.items())
    ):
        return {}
    return {"arg_types": old.arg_types, "ret_type": old.ret_type}


def _from_template(cls: type, template: _Template) -> _Definition:
    """The definition the SDK's decorator would give ``cls``, built as it builds one."""
    own = vars(cls)
    parts: dict[str, dict[str | None, Any]] = {}
    for kind, attribute in _HANDLER_ATTRIBUTE.items():
        inherited = getattr(template.definition, kind)
        parts[kind] = {
            key: inherited[key] if name is None else getattr(own[name], attribute)
            for key, name in template.handlers[kind].items()
        }
    old = template.definition
    run_fn = own[template.run_attribute]
    definition = _Definition(
        name=old.name,
        cls=cls,
        run_fn=run_fn,
        signals=parts["signals"],
        queries=parts["queries"],
        updates=parts["updates"],
        sandboxed=old.sandboxed,
        failure_exception_types=old.failure_exception_types,
        versioning_behavior=old.versioning_behavior,
        **_types_of(run_fn, old),
    )
    setattr(cls, _DEFINITION, definition)
    setattr(run_fn, _DEFINITION, definition)
    return definition


def defn(*, name: str) -> Callable[[_C], _C]:
    """``@workflow.defn(name=name)``, its work done once per process for a class the sandbox
    defines again from the same code (see the module docstring)."""

    def decorate(cls: _C) -> _C:
        key = (cls.__module__, cls.__qualname__, name)
        template = _TEMPLATES.get(key)
        if (
            template is not None
            and len(cls.__bases__) == len(template.bases)
            and all(a is b for a, b in zip(cls.__bases__, template.bases, strict=True))
            and _same(_codes(cls), template.codes)
        ):
            _from_template(cls, template)
            return cls
        decorated = workflow.defn(name=name)(cls)
        definition = _Definition.must_from_class(decorated)
        if definition.dynamic_config_fn is None:  # else the class's own: not remembered
            _TEMPLATES[key] = _template(decorated, definition)
        return decorated

    return decorate
