"""Fixtures for case workflow tests: a fresh time-skipping server, task queue and worker each.

The environment's client and the worker encrypt every payload as in use (:mod:`security`), their
data keys in the test's SQLite register. Recording histories (``CME_RECORD_HISTORIES=1``) also
keeps the data keys they were encrypted with, wrapped with the tests' KEK, in
``histories/keys.json``: the test's database goes, the keys stay, and the histories replay.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.client import WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.case_activities import CaseActivities
from activities.erasure import ErasureActivities
from activities.redaction import RedactingInterceptor
from activities.register import CaseKeyRow
from activities.v1.legacy import LegacyActivities
from domain.case.commands import LATEST_REVISION
from domain.clock import local_date
from security.keys import MemoryKeyStore, WrappedKey
from security.store import SqlKeyStore
from starter.admin import register_search_attributes
from tests.keyring import TEST_KEK_ID, fixed_key_ring
from tests.payloads import history_payloads, key_id
from tests.workflows.harness import Harness, TestCalendar
from worker import WORKFLOWS, workflow_runner

TEST_SERVER = Path(sys.executable).parent / "temporal-test-server"
HISTORIES = Path(__file__).parent / "histories"
# Each revision's recordings in a folder of its own (CaseInput.revision): revision-0 holds the
# runs recorded before the field, with their workflow.patched markers, and new recordings go to
# the latest revision's.
RECORDING = HISTORIES / f"revision-{LATEST_REVISION}"
# The data keys of the recorded histories: key id -> {"kek_id", "wrapped_key" (base64)}.
HISTORY_KEYS = HISTORIES / "keys.json"

# Key ids recorded in this run, with their wrapped keys: a case reference recorded twice with
# two keys (two tests referring the same child) would leave one history unreadable.
_recorded_this_run: dict[str, str] = {}


@pytest.fixture
async def env(converter: DataConverter) -> AsyncIterator[WorkflowEnvironment]:
    environment = await WorkflowEnvironment.start_time_skipping(
        data_converter=converter,
        test_server_existing_path=str(TEST_SERVER),
    )
    try:
        await register_search_attributes(environment.client, "default")
        yield environment
    finally:
        await environment.shutdown()


@pytest.fixture
async def harness(  # type: ignore[no-untyped-def]
    env, mail_config, sqlite_engine, key_store, tmp_path, request
) -> AsyncIterator[Harness]:
    today = local_date(await env.get_current_time())
    calendar = TestCalendar.write(tmp_path, today)
    deps = {"mail": mail_config, "engine": sqlite_engine, "calendar_path": calendar.path}
    erasure = ErasureActivities(
        engine=sqlite_engine, store=key_store, mail_folder=tmp_path / "mail"
    )
    activities = [*CaseActivities(**deps).all(), *LegacyActivities(**deps).all(), *erasure.all()]
    task_queue = f"cme-test-{uuid.uuid4()}"
    if os.environ.get("CME_RECORD_HISTORIES"):
        reuse_history_keys(sqlite_engine)
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=activities,
        interceptors=[RedactingInterceptor()],
        workflow_runner=workflow_runner(),
    ):
        harness = Harness(
            env=env, client=env.client, task_queue=task_queue, calendar=calendar, today=today
        )
        yield harness
        if os.environ.get("CME_RECORD_HISTORIES"):
            await record_histories(harness, request.node.name, key_store)


def history_files() -> list[Path]:
    """The recorded histories (every JSON file under histories/ but the keys)."""
    return sorted(p for p in HISTORIES.rglob("*.json") if p != HISTORY_KEYS)


def recorded_keys() -> dict[str, WrappedKey]:
    """The recorded histories' data keys (``keys.json``), by key id, as wrapped."""
    if not HISTORY_KEYS.exists():
        return {}
    return {
        kid: WrappedKey(entry["kek_id"], base64.b64decode(entry["wrapped_key"]))
        for kid, entry in json.loads(HISTORY_KEYS.read_text(encoding="utf-8")).items()
    }


def recorded_key_store() -> MemoryKeyStore:
    """The recorded histories' data keys, unwrapped with the tests' KEK."""
    store = MemoryKeyStore(fixed_key_ring())
    store.keys.update(recorded_keys())
    return store


async def record_histories(harness: Harness, test_name: str, store: SqlKeyStore) -> None:
    """Keep each case's history for the replay test (``CME_RECORD_HISTORIES=1 pytest ...``): its
    latest run, and the runs it continued as new from (``-run1``, ``-run2``, ... oldest first);
    and the data keys its payloads are encrypted with, in ``keys.json``."""
    RECORDING.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^a-z0-9]+", "-", test_name.lower()).strip("-")
    used: set[str] = set()
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
            (RECORDING / f"{name}-{n}{suffix}.json").write_text(history.to_json(), encoding="utf-8")
            used |= {k for _, p in history_payloads(history) if (k := key_id(p)) is not None}
    for n, (case, run_id) in enumerate(harness.runs, 1):
        history = await harness.client.get_workflow_handle(case, run_id=run_id).fetch_history()
        (RECORDING / f"{name}-run-{n}.json").write_text(history.to_json(), encoding="utf-8")
        used |= {k for _, p in history_payloads(history) if (k := key_id(p)) is not None}
    save_history_keys(store, used)


def reuse_history_keys(engine: Engine) -> None:
    """Give the test's register the recorded data keys (``keys.json``): a case reference
    recorded before (the same synthetic child in the same test) is encrypted with the key its
    earlier histories need, so that recording a new revision's histories keeps the old ones
    readable."""
    with Session(engine) as session:
        for kid, key in recorded_keys().items():
            if session.get(CaseKeyRow, kid) is None:
                session.add(
                    CaseKeyRow(
                        key_id=kid,
                        kek_id=key.kek_id,
                        wrapped_key=key.wrapped,
                        created_at=datetime.now(UTC),
                    )
                )
        session.commit()


def save_history_keys(store: SqlKeyStore, key_ids: set[str]) -> None:
    """Add the wrapped data keys of ``key_ids`` (from the test's register) to ``keys.json``."""
    assert store.ring.active == TEST_KEK_ID, "recorded keys are wrapped with the tests' KEK"
    keys = json.loads(HISTORY_KEYS.read_text(encoding="utf-8")) if HISTORY_KEYS.exists() else {}
    with Session(store.engine) as session:
        for kid in sorted(key_ids):
            row = session.get(CaseKeyRow, kid)
            assert row is not None and row.shredded_at is None, f"no data key for {kid}"
            wrapped = base64.b64encode(row.wrapped_key).decode()
            earlier = _recorded_this_run.setdefault(kid, wrapped)
            assert earlier == wrapped, f"{kid} was recorded with two data keys: record again"
            keys[kid] = {"kek_id": row.kek_id, "wrapped_key": wrapped}
    HISTORY_KEYS.write_text(json.dumps(keys, indent=1, sort_keys=True) + "\n", encoding="utf-8")
