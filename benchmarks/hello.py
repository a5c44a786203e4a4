"""The baseline of :mod:`benchmarks.throughput`: a workflow that runs five no-op activities one
after another (as many as a verified case's path runs), then returns, or waits for a signal when
asked to (a cached workflow that is waiting, for the memory figure). Its own small module, so
that the sandbox imports as little for it as Temporal itself needs."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow

ACTIVITIES = 5


@activity.defn(name="bench_noop")
async def noop(step: int) -> int:
    return step


@workflow.defn(name="BenchHello")
class Hello:
    def __init__(self) -> None:
        self._done = False
        self._steps = 0

    @workflow.run
    async def run(self, wait: bool) -> int:
        total = 0
        for step in range(ACTIVITIES):
            total += await workflow.execute_activity(
                noop, step, start_to_close_timeout=timedelta(seconds=60)
            )
            self._steps += 1
        if wait:
            await workflow.wait_condition(lambda: self._done)
        return total

    @workflow.signal
    def finish(self) -> None:
        self._done = True

    @workflow.update
    async def ran(self) -> None:
        """Answers once the activities are done."""
        await workflow.wait_condition(lambda: self._steps == ACTIVITIES)
