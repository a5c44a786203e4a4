"""A real case service behind the web app, for the tests of its pages that send requests to
cases: the session's Temporal dev server (:func:`tests.starter.conftest.temporal`), a worker of
the test's own on its own task queue (the real workflow and activities, SMTP on loopback, the
test's SQLite register) and a school calendar around today; the app on the same register, with
its clock at the real now (the cases count days from the server's time).

A test module uses it by naming the fixtures it needs in its own namespace (a fixture found in
a module is that module's: ``clock`` then overrides the web tests' fixed clock there only)::

    from tests.web import case_service as service_fixtures

    temporal = service_fixtures.temporal
    case_service = service_fixtures.case_service
    clock = service_fixtures.clock

and runs in the session's event loop (``pytestmark = pytest.mark.asyncio(loop_scope=
"session")``), as the worker and the server's client share it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment

from activities.config import MailConfig
from domain.case.state import CaseState
from domain.clock import local_date
from security.store import SqlKeyStore
from settings import Settings
from starter import case_client
from tests.conftest import SmtpServer
from tests.starter.conftest import CaseWorker, client_for_test, histories_replay, temporal
from tests.web.conftest import Clock
from tests.workflows.harness import SECRET, TestCalendar
from web.context import WebContext
from workflows.case import CmeCase

__all__ = ["CaseService", "case_service", "clock", "temporal"]


@dataclass
class CaseService:
    """The app (:attr:`app`), the Temporal client it uses, the test's worker (which a test can
    stop and start again: ``worker.down()``, ``worker.up()``), the school calendar, the mail
    server and the register."""

    app: FastAPI
    client: Client
    worker: CaseWorker
    calendar: TestCalendar
    today: date
    smtp: SmtpServer
    mail: MailConfig
    engine: Engine
    task_queue: str

    @property
    def settings(self) -> Settings:
        web: WebContext = self.app.state.web
        return web.settings

    async def state(self, case: str) -> CaseState:
        """The case's state, as the case answers it."""
        return await self.client.get_workflow_handle_for(CmeCase.run, case).query(CmeCase.state)

    async def count(self) -> int:
        """How many case runs were started on this test's task queue."""
        return (await self.client.count_workflows(f"TaskQueue = '{self.task_queue}'")).count

    def answer_within(self, monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
        """How long the app waits for a case to accept and answer a request (30 s in use)."""
        monkeypatch.setattr(case_client, "ANSWER_TIMEOUT_SECONDS", seconds)


@pytest.fixture
def clock() -> Clock:
    """The app's clock at the real now: the case service's today is the server's."""
    return Clock(now=datetime.now(UTC))


@pytest_asyncio.fixture(loop_scope="session")
async def case_service(
    temporal: WorkflowEnvironment,
    converter: DataConverter,
    key_store: SqlKeyStore,
    mail_config: MailConfig,
    smtp_server: SmtpServer,
    sqlite_engine: Engine,
    make_app: Callable[..., FastAPI],
    tmp_path: Path,
) -> AsyncIterator[CaseService]:
    task_queue = f"cme-web-test-{uuid.uuid4()}"
    client = client_for_test(temporal, converter)
    today = local_date(datetime.now(UTC))
    calendar = TestCalendar.write(tmp_path, today)
    worker = CaseWorker(
        client,
        task_queue,
        mail_config,
        sqlite_engine,
        calendar.path,
        tmp_path / "mail",
        store=key_store,
    )
    overrides: dict[str, Any] = {
        "calendar_file": calendar.path,
        "case_key_secret": SecretStr(SECRET),
        "task_queue": task_queue,
    }
    app = make_app(temporal=client, **overrides)
    await worker.up()
    try:
        yield CaseService(
            app=app,
            client=client,
            worker=worker,
            calendar=calendar,
            today=today,
            smtp=smtp_server,
            mail=mail_config,
            engine=sqlite_engine,
            task_queue=task_queue,
        )
    finally:
        await worker.down()
    await histories_replay(worker.client, task_queue)
