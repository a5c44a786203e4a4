"""End to end: a case opened through the real worker (``worker.run_worker``, on a time-skipping
server) leaves no child's name in any payload of its history. Every payload but the search
attributes is AES-256-GCM ciphertext under the case's own key (its reference as key id); a client
with the keys reads the case, one without cannot; shredding the key makes the history unreadable."""

from __future__ import annotations

import asyncio
import logging
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment

from domain.case.commands import RecordEnquiry
from domain.clock import local_date
from domain.enquiries import Enquiry, EnquiryBy, EnquiryKind, EnquiryOutcome
from security.codec import ENCODING, EnvelopeCodec
from security.keys import KeyShredded
from security.store import SqlKeyStore
from settings import Settings
from starter.admin import register_search_attributes
from starter.cases import open_case
from tests.conftest import SmtpServer
from tests.keyring import TEST_KEK, TEST_KEK_ID, fixed_key_ring
from tests.payloads import encrypted_payloads, history_payloads, is_search_attribute, key_id
from tests.workflows import harness
from tests.workflows.harness import SCHOOL_OFFICE, SECRET, rid, school_referral
from worker import run_worker
from workflows.case import CmeCase

TEST_SERVER = Path(sys.executable).parent / "temporal-test-server"


@pytest.fixture
async def env(converter: DataConverter) -> AsyncIterator[WorkflowEnvironment]:
    environment = await WorkflowEnvironment.start_time_skipping(
        data_converter=converter, test_server_existing_path=str(TEST_SERVER)
    )
    try:
        await register_search_attributes(environment.client, "default")
        yield environment
    finally:
        await environment.shutdown()


async def running_worker(settings: Settings, stop: asyncio.Event) -> asyncio.Task[None]:
    """worker.run_worker as `python worker.py` runs it, until ``stop``; once it polls."""
    polling = asyncio.Event()

    class Watch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "polling task queue" in record.getMessage():
                polling.set()

    log = logging.getLogger("cme.worker")
    handler, level = Watch(), log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    task = asyncio.create_task(run_worker(settings, stop=stop))
    try:
        done, _ = await asyncio.wait(
            [task, asyncio.ensure_future(polling.wait())],
            timeout=30,
            return_when=asyncio.FIRST_COMPLETED,
        )
        if task in done:
            task.result()
        assert polling.is_set(), "the worker did not start polling"
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
    return task


async def test_a_case_through_the_real_worker_leaves_no_name_in_its_history(
    env: WorkflowEnvironment,
    sqlite_engine: Engine,
    key_store: SqlKeyStore,
    smtp_server: SmtpServer,
    tmp_path: Path,
) -> None:
    today = local_date(await env.get_current_time())
    calendar = harness.TestCalendar.write(tmp_path, today)
    task_queue = f"cme-e2e-{uuid.uuid4()}"
    settings = Settings(
        temporal_address=env.client.service_client.config.target_host,
        task_queue=task_queue,
        database_url=sqlite_engine.url.render_as_string(hide_password=False),
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        calendar_file=calendar.path,
        case_key_secret=SECRET,
        encryption_keys={TEST_KEK_ID: TEST_KEK},
        encryption_key_id=TEST_KEK_ID,
    )
    referral = school_referral(today=today, day1=calendar.day1, cp=True)
    pupil = referral.pupil
    personal = [pupil.first_name, pupil.last_name, str(pupil.upn), "Parent Synthetic"]

    stop = asyncio.Event()
    worker = await running_worker(settings, stop)
    try:
        opened = await open_case(
            env.client, referral, SCHOOL_OFFICE, task_queue=task_queue, secret=SECRET
        )
        case = opened.case
        await smtp_server.wait_for(lambda m: case in str(m["Subject"]))  # MASH told
        handle = env.client.get_workflow_handle_for(CmeCase.run, case)
        await handle.execute_update(
            CmeCase.record_enquiry,
            RecordEnquiry(
                request_id=rid(),
                by=SCHOOL_OFFICE,
                enquiry=Enquiry(
                    by=EnquiryBy.SCHOOL,
                    kind=EnquiryKind.PHONE_OTHER,
                    made_on=today,
                    outcome=EnquiryOutcome.NO_CONTACT,
                    note=f"rang about {pupil.first_name} {pupil.last_name}",
                ),
            ),
        )
        # A client with the keys reads the case; one without them cannot.
        state = await handle.query(CmeCase.state)
        assert state.child.last_name == pupil.last_name
        plain = Client(env.client.service_client, data_converter=pydantic_data_converter)
        with pytest.raises(Exception, match="binary/encrypted"):
            await plain.get_workflow_handle_for(CmeCase.run, case).query(CmeCase.state)
        history = await handle.fetch_history()
    finally:
        stop.set()
        await asyncio.wait_for(worker, timeout=30)

    assert case.startswith("CME-") and case != pupil.upn
    everything = list(history_payloads(history))
    encrypted = encrypted_payloads(history)
    # Every kind of payload the codec handles is there to check (how many activities have run
    # by now depends on timing; which kinds exist does not). The register's work and the emails
    # are local activities (revision 3), their results in markers; an activity task's input and
    # result (an email sent while the mail server was away) are checked in the recorded
    # histories (tests/workflows/test_replay.py).
    kinds = {
        "workflow_execution_started_event_attributes.input",
        "workflow_execution_update_accepted_event_attributes",
        "marker_recorded_event_attributes.details[result]",
    }
    for kind in kinds:
        assert any(kind in where for where, _ in encrypted), (kind, [w for w, _ in everything])
    for where, payload in everything:
        for value in personal:
            assert value.encode() not in payload.data, f"{value!r} in the clear at {where}"
            assert value.encode() not in b"".join(payload.metadata.values()), where
    for where, payload in encrypted:
        assert payload.metadata["encoding"] == ENCODING == b"binary/encrypted", where
        assert key_id(payload) == case, where
    assert any(is_search_attribute(where) for where, _ in everything)  # there, and plain
    raw = b"".join(event.SerializeToString() for event in history.events)
    for value in personal:
        assert value.encode() not in raw  # nowhere at all: not in ids, messages or attributes
        assert value not in history.to_json()

    # Decrypted, the history holds the child (the check above has something to find).
    decoded = await EnvelopeCodec(key_store).decode([p for _, p in encrypted])
    assert any(pupil.last_name.encode() in p.data for p in decoded)

    # Erased: the case's key is destroyed, and no copy of its history can be read again.
    assert await key_store.shred(case) is True
    fresh = SqlKeyStore(sqlite_engine, fixed_key_ring())
    with pytest.raises(KeyShredded):
        await EnvelopeCodec(fresh).decode([encrypted[0][1]])


def test_the_synthetic_child_has_the_names_the_checks_look_for() -> None:
    referral = school_referral(today=date(2026, 3, 2), day1=date(2026, 2, 23))
    assert referral.pupil.first_name == "Testchild"
    assert referral.pupil.last_name.startswith("Synthetic")
