"""Fixtures for the `cme` case commands, run in-process against a real Temporal dev server.

One dev server for the whole session (the `temporal` CLI from the venv, in memory, with the case
search attributes): it starts in well under a second, but sharing it still saves that for every
test. Each test gets its own task queue, worker (the real workflow and activities, SMTP on
loopback, SQLite register), school calendar around today and fresh synthetic children, so tests
never see each other's cases except in visibility listings, which they filter by case reference.

A test can stop its worker and start it again (``cli.worker.down()`` / ``up()``, with other mail
settings if it likes: an SMTP server nobody runs, or one that refuses every recipient), and a
test that needs the server itself stopped and started again has :class:`PersistentServer`: the
dev server as a subprocess on a SQLite file.

Every client and worker encrypts payloads as in use (:mod:`security`): the test's worker and its
client with the data keys in the test's SQLite register, the `cme` command with the same register
and the tests' KEK (``CME_ENCRYPTION_KEYS``), as a deployment's `cme` shares its workers' keys.

The tests run in the session's event loop (``pytestmark = pytest.mark.asyncio(loop_scope=
"session")`` in each module) so the worker and the server client share it; the CLI runs in a
thread of its own (``main`` calls ``asyncio.run``) and reads its settings from ``CME_*``
environment variables set here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller
from pydantic import BaseModel
from sqlalchemy import Engine
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.converter import DataConverter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker
from temporalio.workflow import NondeterminismError

from activities.case_activities import CaseActivities
from activities.config import MailConfig
from activities.erasure import ErasureActivities
from activities.redaction import RedactingInterceptor
from domain.clock import local_date
from security.converter import data_converter
from security.keys import KeyStore, MemoryKeyStore
from security.store import SqlKeyStore
from starter import case_client
from starter.cli import main
from starter.dev import dynamic_config_args, search_attribute_args
from tests.conftest import SmtpServer
from tests.keyring import TEST_KEY_SETTINGS, fixed_key_ring
from tests.workflows.harness import SECRET, TestCalendar, memory_key_store
from worker import WORKFLOWS, workflow_runner
from workflows import search_attributes as sa
from workflows.case import CmeCase
from workflows.retention import RetentionSweep

TEMPORAL_CLI = Path(sys.executable).parent / "temporal"
REPO = Path(__file__).parents[2]

T = TypeVar("T")

# The in-process worker's sandbox warns (on this process's stderr, which the tests read as the
# CLI's) when a workflow imports a module late; that is the workflow's business, not the CLI's.
warnings.filterwarnings("ignore", message=r"Module .* was imported after initial workflow load")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def temporal() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL_CLI),
        # The session's own client sends no case's payloads: each test makes its client (see
        # client_for_test) with its register's keys.
        data_converter=data_converter(MemoryKeyStore(fixed_key_ring())),
        search_attributes=list(sa.ALL),
        dev_server_log_level="error",
        # As `cme dev` configures it: nothing here may rely on the CLI's default of reading
        # the search attributes' definitions from the database on every use.
        dev_server_extra_args=dynamic_config_args(),
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


class CaseWorker:
    """The test's worker, which a test can stop (the worker is down) and start again, with
    other mail settings if it likes."""

    def __init__(
        self,
        client: Client,
        task_queue: str,
        mail: MailConfig,
        engine: Engine,
        calendar: Path,
        mail_folder: Path | None = None,
        store: KeyStore | None = None,
    ) -> None:
        self.client = client
        self.task_queue = task_queue
        self.mail = mail
        self.engine = engine
        self.calendar = calendar
        # The cases' data keys, the client's own (the erasure shreds them where the codec reads).
        self.store = store if store is not None else memory_key_store()
        self.mail_folder = mail_folder
        self._worker: Worker | None = None
        self._running: asyncio.Task[None] | None = None

    async def up(self, mail: MailConfig | None = None, client: Client | None = None) -> None:
        await self.down()
        if client is not None:
            self.client = client
        activities = CaseActivities(
            mail=mail or self.mail, engine=self.engine, calendar_path=self.calendar
        )
        erasure = ErasureActivities(
            engine=self.engine, store=self.store, mail_folder=self.mail_folder
        )
        self._worker = Worker(
            self.client,
            task_queue=self.task_queue,
            workflows=[CmeCase, RetentionSweep],
            activities=[*activities.all(), *erasure.all()],
            interceptors=[RedactingInterceptor()],
            workflow_runner=workflow_runner(),
        )
        self._running = asyncio.create_task(self._worker.run())

    async def down(self) -> None:
        worker, running = self._worker, self._running
        self._worker = self._running = None
        if worker is None or running is None:
            return
        await worker.shutdown()
        with contextlib.suppress(asyncio.CancelledError):
            await running


@dataclass
class Cli:
    """The `cme` command against the session's server, with this test's worker behind it."""

    client: Client
    task_queue: str
    calendar: TestCalendar
    today: date
    directory: Path
    smtp: SmtpServer
    mail: MailConfig
    worker: CaseWorker
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
        case = run.out.split()[2].rstrip(",")
        assert case.startswith("CME-"), run.out
        return case

    def server_down(self) -> None:
        """Point the CLI at a port nobody listens on."""
        self.monkeypatch.setenv("CME_TEMPORAL_ADDRESS", f"127.0.0.1:{free_port()}")

    def answer_within(self, seconds: float) -> None:
        """How long the CLI waits for a case to accept and answer (30 s in use)."""
        self.monkeypatch.setattr(case_client, "ANSWER_TIMEOUT_SECONDS", seconds)


def cli_environment(
    monkeypatch: pytest.MonkeyPatch,
    *,
    address: str,
    namespace: str,
    task_queue: str,
    calendar: TestCalendar,
    engine: Engine,
    smtp_server: SmtpServer,
) -> None:
    """The `cme` command's settings (``CME_*``) for this test's server and worker."""
    env = {
        "CME_TEMPORAL_ADDRESS": address,
        "CME_TEMPORAL_NAMESPACE": namespace,
        "CME_TASK_QUEUE": task_queue,
        "CME_CALENDAR_FILE": str(calendar.path),
        "CME_DATABASE_URL": str(engine.url),
        "CME_CASE_KEY_SECRET": SECRET,
        "CME_SMTP_HOST": smtp_server.host,
        "CME_SMTP_PORT": str(smtp_server.port),
        "CME_S37_CONSENT_RULE": "false",
        **TEST_KEY_SETTINGS,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def cli_calendar(tmp_path: Path) -> TestCalendar:
    return TestCalendar.write(tmp_path, local_date(datetime.now(UTC)))


def client_for_test(temporal: WorkflowEnvironment, converter: DataConverter) -> Client:
    """A client of the session's server with this test's data converter (its register's keys)."""
    shared = temporal.client
    return Client(shared.service_client, namespace=shared.namespace, data_converter=converter)


@pytest_asyncio.fixture(loop_scope="session")
async def cli(
    temporal: WorkflowEnvironment,
    converter: DataConverter,
    key_store: SqlKeyStore,
    mail_config: MailConfig,
    smtp_server: SmtpServer,
    sqlite_engine: Engine,
    cli_calendar: TestCalendar,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Cli]:
    task_queue = f"cme-cli-test-{uuid.uuid4()}"
    client = client_for_test(temporal, converter)
    cli_environment(
        monkeypatch,
        address=client.service_client.config.target_host,
        namespace=client.namespace,
        task_queue=task_queue,
        calendar=cli_calendar,
        engine=sqlite_engine,
        smtp_server=smtp_server,
    )
    worker = CaseWorker(
        client,
        task_queue,
        mail_config,
        sqlite_engine,
        cli_calendar.path,
        tmp_path / "mail",
        store=key_store,
    )
    await worker.up()
    try:
        yield Cli(
            client=client,
            task_queue=task_queue,
            calendar=cli_calendar,
            today=local_date(datetime.now(UTC)),
            directory=tmp_path,
            smtp=smtp_server,
            mail=mail_config,
            worker=worker,
            capsys=capsys,
            monkeypatch=monkeypatch,
        )
    finally:
        await worker.down()
    await histories_replay(worker.client, task_queue)


async def histories_replay(client: Client, task_queue: str) -> None:
    """Every run the test's worker took replays against the workflows as they are now: a path
    that records a history no worker can replay (as revision 1 did when a query cut a workflow
    task short, tests/starter/test_queries_during_sync.py) fails the test that took it, even if
    the test itself never restarted its worker. Skipped when the test left no server to ask."""
    try:
        await client.count_workflows()
    except RPCError:
        return  # the test stopped the server (PersistentServer)
    runs = client.list_workflows(f"TaskQueue = '{task_queue}'")
    replayed = await Replayer(
        workflows=WORKFLOWS, data_converter=client.data_converter, workflow_runner=workflow_runner()
    ).replay_workflows(runs.map_histories(), raise_on_replay_failure=False)
    # Only nondeterminism: a run whose case was erased cannot even be read (its key is shredded).
    failures = {
        run: str(error)[:300]
        for run, error in replayed.replay_failures.items()
        if isinstance(error, NondeterminismError)
    }
    assert not failures, f"histories that do not replay: {failures}"


# -- mail servers that fail ------------------------------------------------------------------------


def dead_mail(mail: MailConfig) -> MailConfig:
    """``mail`` sending to a port nobody listens on: every email waits, retried."""
    return mail.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": free_port()})


class _Refuser:
    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        return "550 5.1.1 mailbox unavailable"


@contextlib.contextmanager
def refusing_smtp(mail: MailConfig) -> Iterator[MailConfig]:
    """An SMTP server that refuses every recipient for good: each email fails, a problem."""
    host, port = "127.0.0.1", free_port()
    controller = Controller(_Refuser(), hostname=host, port=port)
    controller.start()
    try:
        yield mail.model_copy(update={"smtp_host": host, "smtp_port": port})
    finally:
        controller.stop()


# -- a dev server that keeps its history on disk, to stop and start again -------------------------


class _ServerExited(Exception):
    pass


@dataclass
class PersistentServer:
    """``temporal server start-dev --db-filename ...`` as a subprocess: stopped and started on
    the same database, the cases survive; what was only in the server's memory is lost."""

    db: Path
    log: Path
    data_converter: DataConverter
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    extra_args: list[str] = field(default_factory=list)  # e.g. --sqlite-pragma ...

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        command = [
            str(TEMPORAL_CLI),
            "server",
            "start-dev",
            "--db-filename",
            str(self.db),
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--ui-port",
            str(free_port()),
            "--headless",
            "--log-level",
            "error",
        ]
        return command + search_attribute_args() + self.extra_args

    async def start(self, attempts: int = 3) -> Client:
        """Start the server; a client of it once its namespace answers. The dev server picks
        some internal ports itself and may lose one to another process as it starts: then it
        exits at once, and is started again."""
        for attempt in range(attempts):
            try:
                return await self._start()
            except _ServerExited as exited:
                if attempt == attempts - 1:
                    raise AssertionError(f"the dev server exited: {exited}") from None
        raise AssertionError("unreachable")

    async def _start(self) -> Client:
        offset = self.log.stat().st_size if self.log.exists() else 0
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                text = self.log.read_bytes()[offset:].decode(errors="replace")
                first = next((line for line in text.splitlines() if line.strip()), "")
                raise _ServerExited(first[:500])
            try:
                client = await Client.connect(self.address, data_converter=self.data_converter)
                await client.workflow_service.describe_namespace(
                    DescribeNamespaceRequest(namespace="default")
                )
                return client
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)

    def kill(self) -> None:
        """``kill -9``: the server stops at once, whatever it was doing."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(timeout=10)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def persistent_server(tmp_path: Path, converter: DataConverter) -> Iterator[PersistentServer]:
    server = PersistentServer(
        db=tmp_path / "temporal.db", log=tmp_path / "temporal.log", data_converter=converter
    )
    try:
        yield server
    finally:
        server.stop()


def cme_subprocess(*argv: str) -> subprocess.Popen[bytes]:
    """`cme` as its console script runs it (``starter.cli:run``), with this process's ``CME_*``
    settings, its output on pipes."""
    return subprocess.Popen(
        [sys.executable, "-c", "from starter.cli import run; run()", *argv],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


# -- waiting ---------------------------------------------------------------------------------------


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
