"""A database error leaves an activity in words: PostgreSQL's refusal quotes the row it refused
(``DETAIL:  Failing row contains (...)``), and the SDK logs every failed attempt's exception and
traceback in the worker's log."""

from __future__ import annotations

import sqlite3
import traceback
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from temporalio.exceptions import ApplicationError
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput

from activities.redaction import RedactingInterceptor, redacted_database_error
from activities.register import make_engine

CHILD = "Zephyrine Quillfeather"


def refused_on_postgres(engine: Engine) -> IntegrityError:
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE child (name text, CONSTRAINT no_one CHECK (false))"))
    with pytest.raises(IntegrityError) as raised, engine.begin() as conn:
        conn.execute(text("INSERT INTO child VALUES (:name)"), {"name": CHILD})
    assert CHILD in str(raised.value)  # PostgreSQL quotes the row: hide_parameters cannot help
    return raised.value


def shown(exc: BaseException) -> str:
    """What the SDK's log of a failed attempt shows: the exception, its chain, its traceback."""
    return "".join(traceback.format_exception(exc))


class _Raising(ActivityInboundInterceptor):
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        raise self.exc


async def through_interceptor(exc: BaseException) -> BaseException:
    inbound = RedactingInterceptor().intercept_activity(_Raising(exc))
    with pytest.raises(BaseException) as raised:
        await inbound.execute_activity(None)  # type: ignore[arg-type]
    return raised.value


async def test_a_refusal_quoting_the_row_leaves_the_activity_in_words(
    empty_postgres_engine: Engine,
) -> None:
    raised = await through_interceptor(refused_on_postgres(empty_postgres_engine))
    assert isinstance(raised, ApplicationError)
    assert raised.type == "IntegrityError"  # as Temporal named it before: retry policies agree
    assert not raised.non_retryable
    assert raised.message == "the register: a value breaks a check (table child, constraint no_one)"
    assert CHILD not in shown(raised)


async def test_a_busy_register_keeps_the_drivers_first_line(tmp_path: Path) -> None:
    path = tmp_path / "register.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE child (name text)"))
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        busy = make_engine(f"sqlite:///{path}?timeout=0.1")
        with pytest.raises(OperationalError) as locked, busy.begin() as conn:
            conn.execute(text("INSERT INTO child VALUES (:name)"), {"name": CHILD})
    finally:
        holder.rollback()
        holder.close()
        engine.dispose()
    raised = await through_interceptor(locked.value)
    assert isinstance(raised, ApplicationError)
    assert (raised.type, raised.non_retryable) == ("OperationalError", False)
    assert raised.message == "the register: SQLITE_BUSY: database is locked"


async def test_other_errors_pass_unchanged() -> None:
    error = ApplicationError("refused", type="RecipientRejected", non_retryable=True)
    assert await through_interceptor(error) is error
    value = ValueError("not a database's")
    assert await through_interceptor(value) is value


def test_any_sqlalchemy_error_is_named_by_its_type() -> None:
    raised = redacted_database_error(SQLAlchemyError(f"something about {CHILD}"))
    assert (raised.type, raised.message) == ("SQLAlchemyError", "the register: SQLAlchemyError")
