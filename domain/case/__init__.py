"""A CME case as a pure state machine: commands in, new state, events and effects out.

Public surface:

* the state and its records: :class:`CaseState` (:mod:`domain.case.state`) and
  :mod:`domain.case.model`;
* what can be asked: :mod:`domain.case.commands`; what happened: :mod:`domain.case.events`;
  what the world must do: :mod:`domain.case.effects`, the emails: :mod:`domain.case.notifications`;
* the machine: :func:`open_case`, :func:`decide`, :func:`check`, :func:`next_wakeup`,
  :func:`finished` and :class:`Rejected` (:mod:`domain.case.machine`).
"""

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
