"""The retention sweep (type ``CmeRetentionSweep``): erase the cases whose retention period has
passed, or the cases given (an erasure on request).

Started every day by the Temporal Schedule ``cme-retention`` (:mod:`starter.retention_cli`) with
no cases: it fixes the cut-off (:func:`~domain.retention.retention_cutoff` of its own start, the
schedule's ``retention_years`` before), lists the expired cases in batches and erases each. `cme
erase` starts it with one case and the rule ``request``.

Orchestration only: each step is an activity of :class:`~activities.erasure.ErasureActivities`
called by method reference, and the result is codes and counts (the CLI has the words). No
activity's failure fails the sweep: a case refused (``CaseOpen``) or failing (after a few
attempts) is counted and listed, and the sweep goes on; the next day's sweep tries it again.
A long sweep continues as new, carrying its cut-off, where it got to and its counts.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.erasure import CASE_OPEN, ErasureActivities
    from domain.retention import (
        CaseErasure,
        EraseCaseInput,
        ErasureOutcome,
        FindExpiredInput,
        RetentionInput,
        RetentionResult,
        retention_cutoff,
    )

WORKFLOW_TYPE = "CmeRetentionSweep"

BATCH = 100  # expired cases listed at a time
MAX_HISTORY_EVENTS = 10_000  # continue as new beyond this (or when Temporal suggests it)
ACTIVITY_TIMEOUT = timedelta(minutes=2)
# A case that cannot be erased within a few attempts is left for the next day's sweep.
ERASE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=5,
)


def _details(error: ApplicationError) -> dict[str, Any]:
    details = error.details
    return details[0] if details and isinstance(details[0], dict) else {}


@workflow.defn(name=WORKFLOW_TYPE)
class RetentionSweep:
    @workflow.run
    async def run(self, input: RetentionInput) -> RetentionResult:
        result = input.carried or RetentionResult(rule=input.rule)
        if input.cases is not None:
            for case in input.cases:
                result.found += 1
                result.add(await self._erase(input, case))
            return result

        closed_before = input.closed_before or retention_cutoff(
            workflow.now(), input.retention_years
        )
        result.closed_before = closed_before
        after = input.after
        while True:
            try:
                batch = await workflow.execute_activity_method(
                    ErasureActivities.find_expired,
                    FindExpiredInput(closed_before=closed_before, after=after, limit=BATCH),
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                    retry_policy=ERASE_RETRY,
                )
            except ActivityError:
                result.search_failed = True
                return result
            result.found += len(batch.cases)
            for case in batch.cases:
                result.add(await self._erase(input, case))
            if len(batch.cases) < BATCH:
                return result
            after = batch.cases[-1]
            if self._history_is_long():
                workflow.continue_as_new(
                    input.model_copy(
                        update={"closed_before": closed_before, "after": after, "carried": result}
                    )
                )

    @staticmethod
    def _history_is_long() -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= MAX_HISTORY_EVENTS
        )

    async def _erase(self, input: RetentionInput, case: str) -> CaseErasure:
        try:
            return await workflow.execute_activity_method(
                ErasureActivities.erase_case,
                EraseCaseInput(
                    case=case,
                    rule=input.rule,
                    reason=input.reason,
                    by=input.by,
                    by_role=input.by_role,
                    retention_years=input.retention_years,
                ),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=ERASE_RETRY,
            )
        except ActivityError as exc:
            cause = exc.cause
            if isinstance(cause, ApplicationError) and cause.type == CASE_OPEN:
                details = _details(cause)
                return CaseErasure(
                    case=case,
                    outcome=ErasureOutcome.OPEN,
                    error=CASE_OPEN,
                    open_episode=details.get("episode"),
                    open_stage=details.get("stage"),
                )
            error = cause.type if isinstance(cause, ApplicationError) else None
            return CaseErasure(
                case=case,
                outcome=ErasureOutcome.FAILED,
                error=error or type(cause or exc).__name__,
            )
