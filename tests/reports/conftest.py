"""The scenario's register (tests.reports.scenario), once on SQLite and once on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from domain.case.state import CaseState
from tests.reports.scenario import build_cases, write_register


@cache
def _states() -> dict[str, CaseState]:
    # The cases are driven once per test run: states are values, each test writes its own copy.
    return build_cases()


@pytest.fixture
def states() -> dict[str, CaseState]:
    return {tag: state.model_copy(deep=True) for tag, state in _states().items()}


@pytest.fixture
def register(register_engine: Engine, states: dict[str, CaseState]) -> Engine:
    """The register (SQLite, then PostgreSQL) holding every case of the scenario."""
    write_register(register_engine, states)
    return register_engine


@pytest.fixture
def session(register: Engine) -> Iterator[Session]:
    with Session(register) as session:
        yield session
