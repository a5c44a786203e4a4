"""A CME case as a pure state machine: commands in, new state, events and effects out.

Public surface:

* the state and its records: :class:`CaseState` (:mod:`domain.case.state`) and
  :mod:`domain.case.model`;
* what can be asked: :mod:`domain.case.commands`; what happened: :mod:`domain.case.events`;
  what the world must do: :mod:`domain.case.effects`, the emails: :mod:`domain.case.notifications`;
* the machine: :func:`open_case`, :func:`decide`, :func:`check`, :func:`next_wakeup`,
  :func:`finished` and :class:`Rejected` (:mod:`domain.case.machine`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from domain.case.machine import (
        SERVICE,
        Context,
        Outcome,
        check,
        decide,
        episode_summary,
        finished,
        next_wakeup,
        open_case,
        record_internal_error,
    )
    from domain.case.rules import Rejected
    from domain.case.state import CaseState

# Loaded on first use (PEP 562), not when the package is: importing one of its light modules
# (``domain.case.kinds`` for the kinds and stages) must not load the whole machine with it. With
# this and those light modules, `cme cases` started in 0.52 s, not 0.71 s (issue 11).
_HOME = {
    "SERVICE": "machine",
    "Context": "machine",
    "Outcome": "machine",
    "check": "machine",
    "decide": "machine",
    "episode_summary": "machine",
    "finished": "machine",
    "next_wakeup": "machine",
    "open_case": "machine",
    "record_internal_error": "machine",
    "Rejected": "rules",
    "CaseState": "state",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


__all__ = [
    "SERVICE",
    "CaseState",
    "Context",
    "Outcome",
    "Rejected",
    "check",
    "decide",
    "episode_summary",
    "finished",
    "next_wakeup",
    "open_case",
    "record_internal_error",
]
