"""What the `cme` benchmarks run against: the Temporal dev server as `cme dev` runs it (on a
SQLite file, with or without pragmas, or in memory), the real worker in this process (the case
workflow and its activities, every payload encrypted, mail to a sink) and the `cme` command's
settings pointing at them."""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from aiosmtpd.controller import Controller
from temporalio.client import Client

from activities.config import MailConfig
from activities.register import create_register_schema, make_engine
from domain.clock import local_date
from security.converter import data_converter
from security.store import SqlKeyStore
from starter.admin import register_search_attributes
from tests.keyring import TEST_KEY_SETTINGS, fixed_key_ring
from tests.starter.conftest import CaseWorker, PersistentServer
from tests.workflows.harness import SECRET, TestCalendar

# How the dev server keeps its state, by name: `cme dev` before issue 11 (a file, SQLite's
# defaults and the Temporal CLI's dynamic configuration), `cme dev` now (the file with
# starter.dev.SQLITE_PRAGMAS and starter.dev.DYNAMIC_CONFIG: starter.dev.dev_server_args), and
# in memory (with DYNAMIC_CONFIG, as `cme dev` would run it there).
SERVER_MODES = ("file", "file+pragmas", "memory")


@dataclass
class BenchServer(PersistentServer):
    """:class:`tests.starter.conftest.PersistentServer`, or in memory."""

    in_memory: bool = False

    def command(self) -> list[str]:
        command = super().command()
        if self.in_memory:
            at = command.index("--db-filename")
            del command[at : at + 2]
        return command


def server_for(mode: str, directory: Path, converter: object) -> BenchServer:
    from starter.dev import dev_server_args, dynamic_config_args

    if mode not in SERVER_MODES:
        raise ValueError(f"no server mode {mode!r}: {', '.join(SERVER_MODES)}")
    return BenchServer(
        db=directory / "temporal.db",
        log=directory / "temporal.log",
        data_converter=converter,  # type: ignore[arg-type]
        extra_args={"file+pragmas": dev_server_args(), "memory": dynamic_config_args()}.get(
            mode, []
        ),
        in_memory=mode == "memory",
    )


class _Sink:
    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def cli_environment(values: dict[str, str]) -> Iterator[None]:
    """``CME_*`` settings for the `cme` command run in this process, restored afterwards."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@dataclass
class Stack:
    client: Client
    server: BenchServer
    worker: CaseWorker
    task_queue: str
    calendar: TestCalendar
    today: date
    directory: Path
    environment: dict[str, str]


@contextlib.asynccontextmanager
async def stack(mode: str, directory: Path) -> AsyncIterator[Stack]:
    """The dev server in ``mode`` with the worker, until the block ends."""
    directory.mkdir(parents=True, exist_ok=True)
    engine = make_engine(f"sqlite:///{directory / 'register.db'}")
    create_register_schema(engine)
    store = SqlKeyStore(engine, fixed_key_ring())
    converter = data_converter(store)
    server = server_for(mode, directory, converter)
    smtp_port = _free_port()
    smtp = Controller(_Sink(), hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    worker: CaseWorker | None = None
    try:
        client = await server.start()
        await register_search_attributes(client, "default")
        today = local_date(datetime.now(UTC))
        calendar = TestCalendar.write(directory, today)
        mail = MailConfig(
            smtp_host="127.0.0.1",
            smtp_port=smtp_port,
            smtp_username=None,
            smtp_password=None,
            tls_mode="none",
            mail_from="bench@example.invalid",
            mash_email="mash@example.invalid",
            sat_email="sat@example.invalid",
            team_leader_email="tl@example.invalid",
            school_email_pattern="school.{laestab}@example.invalid",
            la_name="Bench",
        )
        task_queue = f"bench-{uuid.uuid4()}"
        worker = CaseWorker(
            client, task_queue, mail, engine, calendar.path, directory / "mail", store=store
        )
        await worker.up()
        environment = {
            "CME_TEMPORAL_ADDRESS": server.address,
            "CME_TASK_QUEUE": task_queue,
            "CME_CALENDAR_FILE": str(calendar.path),
            "CME_DATABASE_URL": str(engine.url),
            "CME_CASE_KEY_SECRET": SECRET,
            "CME_DATA_DIR": str(directory / "cme"),
            "CME_SMTP_HOST": "127.0.0.1",
            "CME_SMTP_PORT": str(smtp_port),
            **TEST_KEY_SETTINGS,
        }
        yield Stack(
            client=client,
            server=server,
            worker=worker,
            task_queue=task_queue,
            calendar=calendar,
            today=today,
            directory=directory,
            environment=environment,
        )
    finally:
        if worker is not None:
            await worker.down()
        server.stop()
        smtp.stop()
        engine.dispose()
