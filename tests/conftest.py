"""Shared fixtures: a real SMTP server on localhost, the register on SQLite and on PostgreSQL, mail
settings pointing at the SMTP server, and the data converter every test client and worker uses
(payloads encrypted, their keys in the test's SQLite register, wrapped with the tests' KEK).

PostgreSQL is expected at ``CME_TEST_POSTGRES_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``, trust auth). Each test gets a database of
its own, created from that one and dropped afterwards. Tests that need PostgreSQL fail, and say
why, when it cannot be reached: they are never skipped silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from temporalio.converter import DataConverter

from activities.config import MailConfig
from activities.register import create_register_schema, make_engine
from security.converter import data_converter
from security.store import SqlKeyStore
from tests.keyring import fixed_key_ring

# Fixtures for every test package: a real OpenID provider on loopback (oidc_provider,
# oidc_provider_factory); the browser-test fixtures (browser, page, new_page, shot, axe...); and
# pytester, which runs a pytest of its own inside a test (tests/browser/test_machinery.py).
pytest_plugins = ["tests.oidc.fixtures", "tests.browser.fixtures", "pytester"]

POSTGRES_URL = os.environ.get(
    "CME_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


# -- SMTP ------------------------------------------------------------------------------------------


# The SMTP fixture refuses every recipient at this domain (550), as a real server refuses an
# address that does not exist.
REFUSED_DOMAIN = "refused.example.invalid"


class _Collector:
    """aiosmtpd handler: every message received, parsed, in arrival order. Refusals can be
    configured (see :meth:`SmtpServer.refuse_recipient`, :meth:`SmtpServer.refuse_data`)."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []  # (MAIL FROM, RCPT TOs) per message
        self.rcpt_replies: dict[str, str] = {}  # lower-cased address -> reply ("550 ...")
        self.data_reply: str | None = None
        self.refusals: list[tuple[str, str]] = []  # (address or "DATA", reply) per refusal
        self.ehlo_names: list[str] = []  # the name the client gave (EHLO) per message
        self._lock = threading.Lock()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        # A mailbox that does not exist, as a real server answers it.
        if address.lower().endswith("@" + REFUSED_DOMAIN):
            return "550 5.1.1 mailbox unavailable"
        reply = self.rcpt_replies.get(address.lower())
        if reply is not None:
            with self._lock:
                self.refusals.append((address, reply))
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_reply is not None:
            with self._lock:
                self.refusals.append(("DATA", self.data_reply))
            return self.data_reply
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8")
        message = email.message_from_bytes(content, policy=default_policy)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self.messages.append(message)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self.ehlo_names.append(session.host_name)
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self, host: str, port: int, collector: _Collector) -> None:
        self.host = host
        self.port = port
        self._collector = collector
        self._controller: Controller | None = None

    def stop(self) -> None:
        """The mail server goes down: connections are refused until :meth:`start`."""
        assert self._controller is not None
        self._controller.stop()

    def start(self) -> None:
        # A name of its own for the server's greeting (else it looks the host's up at every
        # connection, which a test counting the worker's look-ups would see).
        self._controller = Controller(
            self._collector,
            hostname=self.host,
            port=self.port,
            server_hostname="mail.test.invalid",
        )
        self._controller.start()

    @property
    def messages(self) -> list[EmailMessage]:
        return self._collector.messages

    @property
    def envelopes(self) -> list[tuple[str, list[str]]]:
        return self._collector.envelopes

    @property
    def ehlo_names(self) -> list[str]:
        return self._collector.ehlo_names

    @property
    def refusals(self) -> list[tuple[str, str]]:
        """(address, or "DATA", and the reply) for every refusal the server answered."""
        return self._collector.refusals

    def refuse_recipient(self, address: str, reply: str = "550 5.1.1 mailbox unavailable") -> None:
        """Answer RCPT TO ``address`` with ``reply`` (a 5xx for good, a 4xx for now)."""
        self._collector.rcpt_replies[address.lower()] = reply

    def refuse_data(self, reply: str | None = "554 5.6.0 message refused") -> None:
        """Answer every message's DATA with ``reply`` (``None``: accept again)."""
        self._collector.data_reply = reply

    def accept_everything(self) -> None:
        self._collector.rcpt_replies.clear()
        self._collector.data_reply = None

    async def wait_for(
        self, predicate: Callable[[EmailMessage], bool] = lambda m: True, timeout: float = 10
    ) -> EmailMessage:
        """The first received message matching ``predicate``, waiting up to ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            for message in list(self.messages):
                if predicate(message):
                    return message
            if time.monotonic() > deadline:
                subjects = [str(m["Subject"]) for m in self.messages]
                raise AssertionError(
                    f"no matching email within {timeout} s; received: {subjects or 'none'}"
                )
            await asyncio.sleep(0.05)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server on loopback; accepts everything unless told to refuse."""
    collector = _Collector()
    host, port = "127.0.0.1", _free_port()
    server = SmtpServer(host, port, collector)
    server.start()
    try:
        yield server
    finally:
        with contextlib.suppress(AssertionError, RuntimeError):
            server.stop()


@pytest.fixture
def mail_config(smtp_server: SmtpServer) -> MailConfig:
    return MailConfig(
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        smtp_username=None,
        smtp_password=None,
        tls_mode="none",
        mail_from="cme-service@portsmouth.example.invalid",
        mash_email="mash@portsmouth.example.invalid",
        sat_email="sat@portsmouth.example.invalid",
        team_leader_email="sat-team-leader@portsmouth.example.invalid",
        school_email_pattern="attendance.{laestab}@schools.example.invalid",
        la_name="Portsmouth",
    )


# -- the register ----------------------------------------------------------------------------------


@pytest.fixture
def empty_sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """An engine on a SQLite register file that has no schema yet."""
    engine = make_engine(f"sqlite:///{tmp_path / 'register' / 'register.db'}")
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def sqlite_engine(empty_sqlite_engine: Engine) -> Engine:
    """The register on SQLite, upgraded to the latest schema."""
    create_register_schema(empty_sqlite_engine)
    return empty_sqlite_engine


@pytest.fixture
def empty_postgres_engine() -> Iterator[Engine]:
    """An engine on a new, empty PostgreSQL database of this test's own, dropped afterwards."""
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"cme_test_{uuid.uuid4().hex[:16]}"
    problem: str | None = None
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        problem = str(exc).splitlines()[0]
    if problem is not None:
        admin.dispose()
        shown = make_url(POSTGRES_URL).render_as_string(hide_password=True)
        pytest.fail(
            f"PostgreSQL is needed for this test and cannot be used at {shown}: {problem}\n"
            "Start PostgreSQL (trust auth for 127.0.0.1) or point CME_TEST_POSTGRES_URL at one.",
            pytrace=False,
        )
    url = make_url(POSTGRES_URL).set(database=name)
    engine = make_engine(url.render_as_string(hide_password=False))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def postgres_engine(empty_postgres_engine: Engine) -> Engine:
    """The register on PostgreSQL, upgraded to the latest schema."""
    create_register_schema(empty_postgres_engine)
    return empty_postgres_engine


@pytest.fixture(params=["sqlite", "postgres"])
def register_engine(request: pytest.FixtureRequest) -> Engine:
    """The register, once on SQLite and once on PostgreSQL."""
    engine: Engine = request.getfixturevalue(f"{request.param}_engine")
    return engine


@pytest.fixture(params=["sqlite", "postgres"])
def empty_register_engine(request: pytest.FixtureRequest) -> Engine:
    """A database with no register yet, once on SQLite and once on PostgreSQL."""
    engine: Engine = request.getfixturevalue(f"empty_{request.param}_engine")
    return engine


# -- encryption ------------------------------------------------------------------------------------


@pytest.fixture
def key_store(sqlite_engine: Engine) -> SqlKeyStore:
    """The cases' data keys in the test's SQLite register, wrapped with the tests' KEK."""
    return SqlKeyStore(sqlite_engine, fixed_key_ring())


@pytest.fixture
def converter(key_store: SqlKeyStore) -> DataConverter:
    """The data converter of the test's clients and workers: every payload encrypted."""
    return data_converter(key_store)
