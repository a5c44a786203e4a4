"""Fixtures for the `cme` case commands, run in-process against a real Temporal dev server.

One dev server for the whole session (the `temporal` CLI from the venv, in memory, with the case
search attributes): it starts in well under a second, but sharing it still saves that for every
test. Each test gets its own task queue, worker (the real workflow and activities, SMTP on
loopback, SQLite register), school calendar around today and fresh synthetic children, so tests
never see each other's cases except in visibility listings, which they filter by case reference.

The tests run in the session's event loop (``pytestmark = pytest.mark.asyncio(loop_scope=
"session")`` in each module) so the worker and the server client share it; the CLI runs in a
thread of its own (``main`` calls ``asyncio.run``) and reads its settings from ``CME_*``
environment variables set here.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
import pytest_asyncio
from pydantic import BaseModel
from sqlalchemy import Engine
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from workflows.clock import local_date

from activities.case_activities import CaseActivities
from activities.config import MailConfig
from starter.admin import register_search_attributes
from starter.cli import main
from tests.conftest import SmtpServer
from tests.workflows.harness import SECRET, Harness, TestCalendar
from workflows import search_attributes as sa
from workflows.case import CmeCaseWorkflow

TEMPORAL_CLI = Path(sys.executable).parent / "temporal"
TEST_SERVER = Path(sys.executable).parent / "temporal-test-server"

T = TypeVar("T")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def temporal() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL_CLI),
        data_converter=pydantic_data_converter,
        search_attributes=list(sa.ALL),
        dev_server_log_level="error",
    )
    try:
        yield env
    finally:
        await env.shutdown()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def run_main(argv: list[str]) -> int:
    """``main`` as the `cme` script runs it: argparse's ``SystemExit`` is an exit code too."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)


@dataclass
class Run:
    """What one `cme` command did: exit code, stdout and stderr lines."""

    code: int
    out: str
    err: str

    @property
    def out_lines(self) -> list[str]:
        return self.out.splitlines()

    @property
    def err_lines(self) -> list[str]:
        return self.err.splitlines()

    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class Cli:
    """The `cme` command against the session's server, with this test's worker behind it."""

    client: Client
    task_queue: str
    calendar: TestCalendar
    today: date
    directory: Path
    smtp: SmtpServer
    capsys: pytest.CaptureFixture[str]
    monkeypatch: pytest.MonkeyPatch

    async def __call__(self, *argv: str) -> Run:
        self.capsys.readouterr()  # drop anything printed before
        code = await asyncio.to_thread(run_main, list(argv))
        out, err = self.capsys.readouterr()
        return Run(code=code, out=out, err=err)

    async def ok(self, *argv: str) -> Run:
        run = await self(*argv)
        assert run.code == 0, f"cme {' '.join(argv)} exited {run.code}: {run.err}"
        assert run.err == ""
        return run

    def write(self, name: str, data: BaseModel | Any) -> Path:
        """A referral (model or plain data) as a JSON file in the test's directory."""
        if isinstance(data, BaseModel):
            data = data.model_dump(mode="json")
        path = self.directory / name
        path.write_text(json.dumps(data, indent=2), encoding="utf-8")
        return path

    async def open(self, name: str, referral: BaseModel, *extra: str) -> str:
        """Refer ``referral`` with `cme refer`; its case reference."""
        run = await self.ok("refer", str(self.write(name, referral)), *extra)
        case = run.out.split()[2]
        assert case.startswith("CME-"), run.out
        return case

    def server_down(self) -> None:
        """Point the CLI at a port nobody listens on."""
        self.monkeypatch.setenv("CME_TEMPORAL_ADDRESS", f"127.0.0.1:{free_port()}")


@pytest.fixture
def cli_calendar(tmp_path: Path) -> TestCalendar:
    return TestCalendar.write(tmp_path, local_date(datetime.now(UTC)))


@pytest_asyncio.fixture(loop_scope="session")
async def cli(
    temporal: WorkflowEnvironment,
    mail_config: MailConfig,
    smtp_server: SmtpServer,
    sqlite_engine: Engine,
    cli_calendar: TestCalendar,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Cli]:
    task_queue = f"cme-cli-test-{uuid.uuid4()}"
    client = temporal.client
    calendar = cli_calendar
    env = {
        "CME_TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "CME_TEMPORAL_NAMESPACE": client.namespace,
        "CME_TASK_QUEUE": task_queue,
        "CME_CALENDAR_FILE": str(calendar.path),
        "CME_DATABASE_URL": str(sqlite_engine.url),
        "CME_CASE_KEY_SECRET": SECRET,
        "CME_SMTP_HOST": smtp_server.host,
        "CME_SMTP_PORT": str(smtp_server.port),
        "CME_S37_CONSENT_RULE": "false",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    activities = CaseActivities(mail=mail_config, engine=sqlite_engine, calendar_path=calendar.path)
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[CmeCaseWorkflow],
        activities=activities.all(),
    ):
        yield Cli(
            client=client,
            task_queue=task_queue,
            calendar=calendar,
            today=local_date(datetime.now(UTC)),
            directory=tmp_path,
            smtp=smtp_server,
            capsys=capsys,
            monkeypatch=monkeypatch,
        )


@pytest_asyncio.fixture(loop_scope="session")
async def skipping(
    mail_config: MailConfig, sqlite_engine: Engine, tmp_path: Path
) -> AsyncIterator[Harness]:
    """A fresh time-skipping server and worker, for what needs deadlines to pass (timers)."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter, test_server_existing_path=str(TEST_SERVER)
    )
    try:
        await register_search_attributes(env.client, "default")
        today = local_date(await env.get_current_time())
        calendar = TestCalendar.write(tmp_path, today)
        activities = CaseActivities(
            mail=mail_config, engine=sqlite_engine, calendar_path=calendar.path
        )
        task_queue = f"cme-timeline-test-{uuid.uuid4()}"
        async with Worker(
            env.client,
            task_queue=task_queue,
            workflows=[CmeCaseWorkflow],
            activities=activities.all(),
        ):
            yield Harness(
                env=env, client=env.client, task_queue=task_queue, calendar=calendar, today=today
            )
    finally:
        await env.shutdown()


async def settled(handle: WorkflowHandle[Any, Any], timeout: float = 10.0) -> None:
    """Until the case has nothing in flight (no activity, no workflow task): its history is
    then in a fixed order for the next step."""

    async def idle() -> None:
        described = await handle.describe()
        raw = described.raw_description
        assert not raw.pending_activities
        assert not raw.HasField("pending_workflow_task")

    await eventually(idle, timeout=timeout, interval=0.05)


async def eventually(
    check: Callable[[], Awaitable[T]], *, timeout: float = 10.0, interval: float = 0.2
) -> T:
    """``check()`` until it returns without an AssertionError (visibility lags about 1 s)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(interval)


def school_days_back(calendar: TestCalendar, today: date, n: int) -> date:
    """The school day that makes ``today``'s last school day day ``n`` (counting it as day 1)."""
    d, count = calendar.first_school_day_on_or_before(today), 1
    while count < n:
        d -= timedelta(days=1)
        assert d >= calendar.terms[0][0], f"the test calendar has no {n} school days before {today}"
        if calendar.is_school_day(d):
            count += 1
    return d
