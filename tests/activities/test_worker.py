"""The worker starts against a Temporal server, polls, and stops cleanly on request or SIGTERM."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

import worker
from security.converter import data_converter
from security.keys import MemoryKeyStore
from settings import Settings
from tests.conftest import SmtpServer
from tests.keyring import TEST_KEK, TEST_KEK_ID, fixed_key_ring
from worker import WorkerRefused, run_worker

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
