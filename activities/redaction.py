"""No database error leaves an activity with the values it refused.

An exception an activity raises goes twice out of the worker: into Temporal as the activity's
failure (encrypted there, see :mod:`security.converter`) and into the worker's log, where the SDK
writes every failed attempt's exception and traceback (``Completing activity as failed``) in the
clear. A database's refusal can quote the row it refused: PostgreSQL's ``DETAIL:  Failing row
contains (...)`` (a check, a not-null column) and ``Key (...)=(...) already exists`` hold the
values, whatever ``hide_parameters`` does for the SQL's own parameters.

The activities turn the refusals they expect into problems in words
(:func:`activities.case_activities.database_refusal`); :class:`RedactingInterceptor`, on the
worker, does the same for any other :class:`~sqlalchemy.exc.SQLAlchemyError` that escapes an
activity (an outbox row refused, a register busy or unreachable): it is raised again as a
retryable :class:`~temporalio.exceptions.ApplicationError` of the same type name (so retry
policies see what they saw), with the refusal in words, the original exception and its chain
dropped. An unreachable or busy database (``OperationalError``) keeps the first line of the
driver's message (``database is locked``, ``connection refused`` with the host and port): no
row's value is in it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import OperationalError, SQLAlchemyError
from temporalio.exceptions import ApplicationError
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from activities.case_activities import database_refusal

__all__ = ["RedactingInterceptor", "redacted_database_error"]


def redacted_database_error(exc: SQLAlchemyError) -> ApplicationError:
    """``exc`` as a retryable failure of the same type name, in words: never a value."""
    words = database_refusal(exc)
    if isinstance(exc, OperationalError):
        first = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else ""
        if first and first != words:
            words = f"{words}: {first}"
    return ApplicationError(f"the register: {words}", type=type(exc).__name__, non_retryable=False)


class _RedactingActivityInbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        try:
            return await super().execute_activity(input)
        except SQLAlchemyError as exc:
            raise redacted_database_error(exc) from None


class RedactingInterceptor(Interceptor):
    """The worker's interceptor: a database error leaves an activity in words (see above)."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _RedactingActivityInbound(next)
