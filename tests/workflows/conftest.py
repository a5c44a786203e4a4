"""Fixtures for case workflow tests: a fresh time-skipping server, task queue and worker each."""

from __future__ import annotations

import os
import re
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.case_activities import CaseActivities
from activities.erasure import ErasureActivities
from activities.v1.legacy import LegacyActivities
from domain.clock import local_date
from starter.admin import register_search_attributes
from tests.workflows.harness import Harness, TestCalendar, memory_key_store
from worker import WORKFLOWS

TEST_SERVER = Path(sys.executable).parent / "temporal-test-server"
HISTORIES = Path(__file__).parent / "histories"


@pytest.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    environment = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=str(TEST_SERVER),
    )
    try:
        await register_search_attributes(environment.client, "default")
        yield environment
    finally:
        await environment.shutdown()


@pytest.fixture
async def harness(  # type: ignore[no-untyped-def]
    env, mail_config, sqlite_engine, tmp_path, request
) -> AsyncIterator[Harness]:
    today = local_date(await env.get_current_time())
    calendar = TestCalendar.write(tmp_path, today)
    deps = {"mail": mail_config, "engine": sqlite_engine, "calendar_path": calendar.path}
    erasure = ErasureActivities(
        engine=sqlite_engine, store=memory_key_store(), mail_folder=tmp_path / "mail"
    )
    activities = [*CaseActivities(**deps).all(), *LegacyActivities(**deps).all(), *erasure.all()]
    task_queue = f"cme-test-{uuid.uuid4()}"
    async with Worker(
        env.client, task_queue=task_queue, workflows=WORKFLOWS, activities=activities
    ):
        harness = Harness(
            env=env, client=env.client, task_queue=task_queue, calendar=calendar, today=today
        )
        yield harness
        if os.environ.get("CME_RECORD_HISTORIES"):
            await record_histories(harness, request.node.name)


async def record_histories(harness: Harness, test_name: str) -> None:
    """Keep each case's history for the replay test (``CME_RECORD_HISTORIES=1 pytest ...``): its
    latest run, and the runs it continued as new from (``-run1``, ``-run2``, ... oldest first)."""
    HISTORIES.mkdir(exist_ok=True)
    name = re.sub(r"[^a-z0-9]+", "-", test_name.lower()).strip("-")
    for n, case in enumerate(harness.opened, 1):
        runs: list[WorkflowHistory] = []
        run_id: str | None = None
        while len(runs) < 20:
            history = await harness.client.get_workflow_handle(case, run_id=run_id).fetch_history()
            runs.append(history)
            started = history.events[0].workflow_execution_started_event_attributes
            run_id = started.continued_execution_run_id or None
            if run_id is None:
                break
        for r, history in enumerate(reversed(runs), 1):
            suffix = f"-run{r}" if len(runs) > 1 else ""
            (HISTORIES / f"{name}-{n}{suffix}.json").write_text(history.to_json(), encoding="utf-8")
