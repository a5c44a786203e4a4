"""The worker starts against a Temporal server, polls, and stops cleanly on request or SIGTERM;
its memo of the SDK's search attribute encoding (worker.memoise_search_attribute_encoding) gives
the SDK's payloads byte for byte, a fresh copy each time, and refuses what the SDK refuses (a case
upserting through it: tests/workflows/test_search_attributes.py)."""

from __future__ import annotations

import asyncio
import gc
import inspect
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import temporalio.converter
import temporalio.worker._workflow_instance as workflow_instance
from temporalio.common import SearchAttributeKey
from temporalio.testing import WorkflowEnvironment

import worker
from security.converter import data_converter
from security.keys import MemoryKeyStore
from settings import Settings
from tests.conftest import SmtpServer
from tests.keyring import TEST_KEK, TEST_KEK_ID, fixed_key_ring
from worker import WorkerRefused, memoise_search_attribute_encoding, run_worker
from workflows import search_attributes as sa

TEST_SERVER = Path(sys.executable).parent / "temporal-test-server"


@pytest.fixture
async def temporal() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=data_converter(MemoryKeyStore(fixed_key_ring())),
        test_server_existing_path=str(TEST_SERVER),
    )
    try:
        yield env
    finally:
        await env.shutdown()


def settings_for(env: WorkflowEnvironment, tmp_path: Path, smtp: SmtpServer) -> Settings:
    return Settings(
        temporal_address=env.client.service_client.config.target_host,
        task_queue="cme-worker-test",
        database_url=f"sqlite:///{tmp_path / 'register.db'}",
        smtp_host=smtp.host,
        smtp_port=smtp.port,
        encryption_keys={TEST_KEK_ID: TEST_KEK},
        encryption_key_id=TEST_KEK_ID,
    )


async def wait_until_polling(caplog: pytest.LogCaptureFixture, task: asyncio.Task[None]) -> None:
    for _ in range(200):
        if any("polling task queue" in r.getMessage() for r in caplog.records):
            return
        if task.done():
            task.result()  # raises what stopped the worker
        await asyncio.sleep(0.05)
    raise AssertionError("the worker did not start polling")


async def test_the_worker_runs_until_stop_is_set(
    temporal: WorkflowEnvironment,
    tmp_path: Path,
    smtp_server: SmtpServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="cme.worker")
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(settings_for(temporal, tmp_path, smtp_server), stop=stop))
    await wait_until_polling(caplog, task)
    assert not task.done()

    stop.set()
    await asyncio.wait_for(task, timeout=30)
    assert any("worker stopped" in r.getMessage() for r in caplog.records)


async def test_the_worker_stops_cleanly_on_sigterm(
    temporal: WorkflowEnvironment,
    tmp_path: Path,
    smtp_server: SmtpServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="cme.worker")
    task = asyncio.create_task(run_worker(settings_for(temporal, tmp_path, smtp_server)))
    await wait_until_polling(caplog, task)
    # Only signal once the worker's handler is in place: the default would end the test run.
    assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL

    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(task, timeout=30)
    assert any("worker stopped" in r.getMessage() for r in caplog.records)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handler removed again


def test_the_worker_refuses_to_send_mail_across_the_network_unencrypted(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """`python worker.py` with the LA's relay and no TLS: one line naming CME_SMTP_TLS_MODE,
    exit 2, before it connects to anything."""
    for key in list(os.environ):
        if key.startswith("CME_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("CME_SMTP_HOST", "relay.portsmouth.example.org")
    monkeypatch.setenv("CME_TEMPORAL_ADDRESS", "127.0.0.1:1")  # never reached
    with pytest.raises(SystemExit) as exited:
        worker.main()
    assert exited.value.code == 2
    [record] = [r for r in caplog.records if r.name == "cme.worker"]
    assert record.getMessage().startswith(
        "the worker does not start: CME_SMTP_TLS_MODE is none: mail to "
        "relay.portsmouth.example.org would cross the network unencrypted"
    )


async def test_run_worker_refuses_too(tmp_path: Path) -> None:
    settings = Settings(smtp_host="relay.portsmouth.example.org", smtp_start_tls=False)
    with pytest.raises(WorkerRefused, match=r"^CME_SMTP_TLS_MODE is none"):
        await run_worker(settings)


def test_the_workers_process_collects_garbage_less_often_and_never_walks_its_start_up() -> None:
    thresholds = gc.get_threshold()
    try:
        worker.tune_gc()
        assert gc.get_threshold() == worker.GC_THRESHOLDS
        assert gc.get_threshold()[0] > thresholds[0]
        # The modules and objects made so far are out of every collection's walk.
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


# -- the memo of search attribute encodings ------------------------------------------------------

# The SDK's own (a worker run earlier in the process may have installed the memo).
SDKS = getattr(
    temporalio.converter.encode_typed_search_attribute_value,
    "__wrapped__",
    temporalio.converter.encode_typed_search_attribute_value,
)

BST = timezone(timedelta(hours=1))
VALUES: list[tuple[SearchAttributeKey[Any], Any]] = [
    (sa.STAGE, "enquiries"),
    (sa.SCHOOL, ""),
    (sa.CHILD_PROTECTION, True),
    (sa.PROBLEM, False),
    (sa.EPISODE, 2),
    (sa.NEXT_DEADLINE, datetime(2027, 1, 15, 23, 59, 59, tzinfo=UTC)),
    # The same instant in another zone: equal, but the SDK encodes it with its own offset.
    (sa.NEXT_DEADLINE, datetime(2027, 1, 16, 0, 59, 59, tzinfo=BST)),
    (sa.NEXT_DEADLINE, None),
    (SearchAttributeKey.for_float("CmeProbeFloat"), 1.5),
    (SearchAttributeKey.for_keyword_list("CmeProbeList"), ["a", "b"]),  # unhashable
]


@pytest.fixture
def memoised(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The memo installed for the test only."""
    monkeypatch.setattr(temporalio.converter, "encode_typed_search_attribute_value", SDKS)
    memoise_search_attribute_encoding()
    encode = temporalio.converter.encode_typed_search_attribute_value
    assert encode is not SDKS
    memoise_search_attribute_encoding()  # installed once, not wrapped twice
    assert temporalio.converter.encode_typed_search_attribute_value is encode
    yield encode


def test_each_value_is_encoded_as_the_sdk_encodes_it(memoised: Any) -> None:
    for key, value in VALUES:
        expected = SDKS(key, value)
        first = memoised(key, value)
        again = memoised(key, value)
        assert first == again == expected, (key.name, value)
        assert first.SerializeToString(deterministic=True) == expected.SerializeToString(
            deterministic=True
        )
        # A fresh copy each time: what one caller does to its payload reaches no other.
        assert first is not again
        first.metadata["type"] = b"changed"
        assert memoised(key, value) == expected


def test_a_bool_is_not_taken_for_the_int_equal_to_it(memoised: Any) -> None:
    number = SearchAttributeKey.for_int("CmeProbeInt")
    assert memoised(number, 1) == SDKS(number, 1)
    # True == 1, but the SDK encodes it as JSON's true.
    assert memoised(number, True) == SDKS(number, True) != SDKS(number, 1)


def test_what_the_sdk_refuses_is_refused(memoised: Any) -> None:
    with pytest.raises(ValueError, match="Timezone must be present"):
        memoised(sa.NEXT_DEADLINE, datetime(2027, 1, 15))
    with pytest.raises(TypeError, match="not suitable"):
        memoised(sa.EPISODE, "two")


def test_the_sdks_workflow_instance_still_encodes_through_the_function_by_its_name() -> None:
    """The memo works only while the SDK calls the module's function at the time of the call
    (temporalio 1.35): were it to import the function by name, this fails."""
    source = inspect.getsource(workflow_instance._WorkflowInstanceImpl)
    assert "temporalio.converter.encode_typed_search_attribute_value(" in source
    assert "import encode_typed_search_attribute_value" not in inspect.getsource(workflow_instance)
