"""`cme dev`'s dev server on its SQLite file with the pragmas that make it fast (WAL,
synchronous=normal; starter.dev.SQLITE_PRAGMAS, measured by ``python -m benchmarks.dev_server``)
still keeps every case it acknowledged: cases are opened and updated under load by the real
worker, the server is killed with ``kill -9`` mid-load and started again on the same file, and
every case whose opening, and every enquiry whose recording, was acknowledged is there."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import Engine
from temporalio.converter import DataConverter

from activities.config import MailConfig
from domain.case.commands import RecordEnquiry
from domain.clock import local_date
from domain.enquiries import Enquiry, EnquiryBy, EnquiryKind, EnquiryOutcome
from security.store import SqlKeyStore
from starter.cases import open_case
from starter.dev import SQLITE_PRAGMAS, sqlite_pragma_args
from tests.starter.conftest import CaseWorker, PersistentServer
from tests.workflows.harness import SCHOOL_OFFICE, SECRET, school_referral
from workflows.case import CmeCase

if TYPE_CHECKING:  # imported as a name, pytest would try to collect it
    from tests.workflows.harness import TestCalendar

pytestmark = pytest.mark.asyncio(loop_scope="session")

LOAD_SECONDS = 4.0
IN_FLIGHT = 8


async def test_every_acknowledged_case_survives_kill_9_of_the_dev_server(
    tmp_path: Path,
    converter: DataConverter,
    key_store: SqlKeyStore,
    mail_config: MailConfig,
    sqlite_engine: Engine,
    cli_calendar: TestCalendar,
) -> None:
    assert SQLITE_PRAGMAS == {"journal_mode": "wal", "synchronous": "normal"}
    server = PersistentServer(
        db=tmp_path / "temporal.db",
        log=tmp_path / "temporal.log",
        data_converter=converter,
        extra_args=sqlite_pragma_args(),
    )
    client = await server.start()
    assert (tmp_path / "temporal.db-wal").exists()  # the pragmas took
    task_queue = f"durability-{uuid.uuid4()}"
    worker = CaseWorker(
        client, task_queue, mail_config, sqlite_engine, cli_calendar.path, store=key_store
    )
    await worker.up()
    today = local_date(datetime.now(UTC))
    day1 = cli_calendar.first_school_day_on_or_before(today)
    opened: list[str] = []
    enquiries: list[tuple[str, str]] = []
    unanswered = 0

    async def load() -> None:
        nonlocal unanswered
        while True:
            try:
                result = await open_case(
                    client,
                    school_referral(today=today, day1=day1),
                    SCHOOL_OFFICE,
                    task_queue=task_queue,
                    secret=SECRET,
                )
                opened.append(result.case)
                request = RecordEnquiry(
                    by=SCHOOL_OFFICE,
                    request_id=f"test-{uuid.uuid4().hex}",
                    enquiry=Enquiry(
                        by=EnquiryBy.SCHOOL,
                        kind=EnquiryKind.LETTER,
                        made_on=day1,
                        outcome=EnquiryOutcome.NO_CONTACT,
                    ),
                )
                handle = client.get_workflow_handle(result.case)
                await handle.execute_update(CmeCase.record_enquiry, request, id=request.request_id)
                enquiries.append((result.case, request.request_id))
            except asyncio.CancelledError:
                raise
            except Exception:  # the server was killed: this request was not acknowledged
                unanswered += 1
                return

    try:
        senders = [asyncio.create_task(load()) for _ in range(IN_FLIGHT)]
        deadline = time.monotonic() + LOAD_SECONDS
        while time.monotonic() < deadline and len(opened) < 400:
            await asyncio.sleep(0.1)
        server.kill()  # kill -9, with requests in flight
        await asyncio.wait(senders, timeout=30)
        for sender in senders:
            sender.cancel()
        acknowledged_cases, acknowledged_enquiries = list(opened), list(enquiries)
        assert len(acknowledged_cases) >= 10, "too little load to tell"

        client = await server.start()  # the same file
        await worker.up(client=client)
        for case in acknowledged_cases:
            description = await client.get_workflow_handle(case).describe()
            assert description.workflow_type == "CmeCaseV2", case
        for case, request_id in acknowledged_enquiries:
            state = await client.get_workflow_handle_for(CmeCase.run, case).query(CmeCase.state)
            assert request_id in {r.request_id for r in state.requests}, (case, request_id)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(worker.down(), timeout=30)
        server.stop()
