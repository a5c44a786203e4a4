"""The local mail server of `cme dev` stores each email it receives as an .eml file."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest

from starter.mail_folder import MailFolderServer, eml_name, messages, read_message
from tests.conftest import _free_port


@pytest.fixture
def mail_server(tmp_path: Path) -> Iterator[MailFolderServer]:
    server = MailFolderServer(tmp_path / "mail", host="127.0.0.1", port=_free_port())
    with server:
        yield server


def _email(subject: str, to: list[str], case: str | None = None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "cme-service@portsmouth.example.invalid"
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    if case is not None:
        message["X-CME-Case"] = case
    message.set_content("Dear colleague,\n\nA child may be missing education — please call.\n")
    return message


async def test_an_email_is_stored_as_an_eml_file_named_after_its_case(
    mail_server: MailFolderServer,
) -> None:
    to = ["mash@portsmouth.example.invalid", "sat@portsmouth.example.invalid"]
    message = _email("Child protection: CME-0123456789AB referred", to, case="CME-0123456789AB")
    await aiosmtplib.send(
        message,
        sender="cme-service@portsmouth.example.invalid",
        recipients=[*to, "hidden-copy@portsmouth.example.invalid"],
        hostname=mail_server.host,
        port=mail_server.port,
        timeout=10,
    )

    files = messages(mail_server.folder)
    assert len(files) == 1
    path = files[0]
    assert path.suffix == ".eml" and "_CME-0123456789AB_" in path.name
    assert not [p for p in mail_server.folder.iterdir() if p.name.startswith(".")]  # no temp file

    stored = read_message(path)
    assert stored["Subject"] == "Child protection: CME-0123456789AB referred"
    assert [a.addr_spec for a in stored["To"].addresses] == to
    assert stored["X-CME-Case"] == "CME-0123456789AB"
    assert stored["Return-Path"] == "<cme-service@portsmouth.example.invalid>"
    assert "hidden-copy@portsmouth.example.invalid" in stored["X-CME-Envelope-To"]
    assert "please call" in stored.get_content()


async def test_the_case_comes_from_the_subject_without_the_header_and_files_sort_by_arrival(
    mail_server: MailFolderServer,
) -> None:
    for subject in ("About CME-AAAAAAAAAAAA", "No reference at all"):
        await aiosmtplib.send(
            _email(subject, ["sat@portsmouth.example.invalid"]),
            hostname=mail_server.host,
            port=mail_server.port,
            timeout=10,
        )
    first, second = messages(mail_server.folder)
    assert "_CME-AAAAAAAAAAAA_" in first.name
    assert "_no-case_" in second.name
    assert read_message(second)["Subject"] == "No reference at all"


def test_a_port_in_use_fails_to_start(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = MailFolderServer(tmp_path / "mail", host="127.0.0.1", port=port)
        with pytest.raises(OSError):
            server.start()
        server.stop()  # nothing to stop: no error


def test_file_names_are_safe_and_sortable() -> None:
    at = datetime(2026, 1, 14, 9, 30, 12, 123456, tzinfo=UTC)
    assert (
        eml_name("CME-ABC/../x", at, "5b1c0e2a") == "20260114T093012.123456Z_CME-ABC-x_5b1c0e2a.eml"
    )
    assert eml_name(None, at, "00000000").startswith("20260114T093012.123456Z_no-case_")
