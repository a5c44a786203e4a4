"""SMTP with TLS: STARTTLS and implicit TLS to a real server (aiosmtpd) with a certificate made in
the test by a private CA. With the CA's certificate (CME_SMTP_CA_FILE) the email is delivered;
without it nothing is sent, and the failure is retried (never a problem on the case: every email
would fail alike), one line naming the certificate check, no personal data."""

from __future__ import annotations

import email
import re
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.case_activities import CaseActivities
from activities.config import MailConfig
from activities.mail import CERTIFICATE_REFUSED
from domain.calendar import DEFAULT_CALENDAR_PATH
from domain.case.effects import DeliverNotificationInput
from tests.activities.notifications import CASE, FIRST, LAST, every_kind
from tests.conftest import _free_port
from tests.tls import Pki, make_pki


@dataclass
class _Inbox:
    messages: list[EmailMessage] = field(default_factory=list)
    tls: list[bool] = field(default_factory=list)  # whether each arrived over TLS

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        message = email.message_from_bytes(content, policy=default_policy)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.tls.append(server.transport.get_extra_info("ssl_object") is not None)
        return "250 OK"


@dataclass
class TlsServer:
    host: str
    port: int
    inbox: _Inbox


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _serve(inbox: _Inbox, **kwargs: Any) -> Iterator[TlsServer]:
    host, port = "127.0.0.1", _free_port()
    controller = Controller(inbox, hostname=host, port=port, **kwargs)
    controller.start()
    try:
        yield TlsServer(host, port, inbox)
    finally:
        controller.stop()


@pytest.fixture
def starttls_server(pki: Pki) -> Iterator[TlsServer]:
    """Port 587's way: plain, then STARTTLS, which it requires before anything else."""
    yield from _serve(_Inbox(), tls_context=pki.server_context(), require_starttls=True)


@pytest.fixture
def implicit_tls_server(pki: Pki) -> Iterator[TlsServer]:
    """Port 465's way: TLS from the first byte."""
    yield from _serve(_Inbox(), ssl_context=pki.server_context())


def mail_to(server: TlsServer, mail_config: MailConfig, **update: Any) -> MailConfig:
    return mail_config.model_copy(
        update={"smtp_host": server.host, "smtp_port": server.port, **update}
    )


async def deliver(mail: MailConfig, engine: Engine) -> Any:
    acts = CaseActivities(mail=mail, engine=engine, calendar_path=DEFAULT_CALENDAR_PATH)
    message = every_kind()["outcome_to_school"]
    input = DeliverNotificationInput.model_validate({"notification": message.model_dump()})
    return await ActivityEnvironment().run(acts.deliver_notification, input)


@pytest.mark.parametrize(
    ("mode", "server"), [("starttls", "starttls_server"), ("tls", "implicit_tls_server")]
)
async def test_with_the_private_cas_certificate_the_email_is_delivered_over_tls(
    mode: str,
    server: str,
    pki: Pki,
    mail_config: MailConfig,
    sqlite_engine: Engine,
    request: pytest.FixtureRequest,
) -> None:
    smtp: TlsServer = request.getfixturevalue(server)
    delivered = await deliver(
        mail_to(smtp, mail_config, tls_mode=mode, ca_cert=pki.ca.read_bytes()), sqlite_engine
    )
    assert not delivered.already_sent
    [message] = smtp.inbox.messages
    assert message["X-CME-Case"] == CASE
    assert smtp.inbox.tls == [True]


@pytest.mark.parametrize(
    ("mode", "server"), [("starttls", "starttls_server"), ("tls", "implicit_tls_server")]
)
async def test_without_it_nothing_is_sent_and_the_email_is_retried(
    mode: str,
    server: str,
    mail_config: MailConfig,
    sqlite_engine: Engine,
    request: pytest.FixtureRequest,
) -> None:
    smtp: TlsServer = request.getfixturevalue(server)
    with pytest.raises(ApplicationError) as refused:
        await deliver(mail_to(smtp, mail_config, tls_mode=mode), sqlite_engine)
    assert refused.value.type == CERTIFICATE_REFUSED
    assert not refused.value.non_retryable  # retried until the certificate or the CA is right
    message = refused.value.message
    assert "certificate failed the check (unable to get local issuer certificate)" in message
    assert message.startswith(f"case {CASE}, episode 2, ") and "\n" not in message
    assert FIRST not in message and LAST not in message
    assert smtp.inbox.messages == []


async def test_a_server_whose_certificate_names_another_gets_nothing(
    tmp_path: Path, mail_config: MailConfig, sqlite_engine: Engine
) -> None:
    """Signed by the CA given, but for another name than the one the service connects to."""
    other = make_pki(tmp_path / "pki", server_names=("mail.example.invalid",))
    for smtp in _serve(_Inbox(), tls_context=other.server_context(), require_starttls=True):
        mail = mail_to(smtp, mail_config, tls_mode="starttls", ca_cert=other.ca.read_bytes())
        with pytest.raises(ApplicationError) as refused:
            await deliver(mail, sqlite_engine)
        assert refused.value.type == CERTIFICATE_REFUSED
        assert "IP address mismatch" in refused.value.message
        assert smtp.inbox.messages == []


async def test_plain_smtp_to_a_server_requiring_starttls_is_refused(
    starttls_server: TlsServer, mail_config: MailConfig, sqlite_engine: Engine
) -> None:
    """Mode none never upgrades on its own (aiosmtplib would, opportunistically, by default)."""
    with pytest.raises(ApplicationError) as refused:
        await deliver(mail_to(starttls_server, mail_config, tls_mode="none"), sqlite_engine)
    assert "refused the sender (530)" in refused.value.message
    assert starttls_server.inbox.messages == []


def test_the_tls_context_checks_certificates_and_names() -> None:
    from security.tls import smtp_tls_context

    context = smtp_tls_context()
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname


def test_a_ca_file_that_cannot_be_used_is_one_line(tmp_path: Path) -> None:
    from security.tls import read_pem

    missing = tmp_path / "missing.pem"
    with pytest.raises(ValueError, match=f"^no such file: {re.escape(str(missing))}$"):
        read_pem(missing)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    with pytest.raises(ValueError, match=r"^not a PEM certificate file \(no -----BEGIN line\): "):
        read_pem(garbage)
    broken = tmp_path / "broken.pem"
    broken.write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    with pytest.raises(
        ValueError, match=f"^not a usable PEM certificate file: {re.escape(str(broken))} "
    ):
        read_pem(broken)
    with pytest.raises(ValueError, match=r"^is a directory, not a private key file: "):
        read_pem(tmp_path, "private key")
