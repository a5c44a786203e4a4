"""The local mail server of `cme dev`: every email the service sends lands in a folder as .eml.

An aiosmtpd server accepts any message for any recipient (no authentication, no relaying) and
stores it, byte for byte as received, under the mail folder (``<data_dir>/mail``), with two
headers in front: ``Return-Path`` (the envelope sender) and ``X-CME-Envelope-To`` (the envelope
recipients, so a Bcc is not lost). Open a file with any mail client, or read it with
:mod:`email`.

File names sort by arrival and say which case a message is about::

    20260114T093012.123456Z_CME-3F2A1B0C9D8E_5b1c0e2a.eml
    <UTC time>             _<case reference>_<short id>.eml

The case reference comes from the ``X-CME-Case`` header the service sets, else from a ``CME-…``
reference in the subject, else ``no-case``. A file appears whole or not at all: it is written
under a hidden temporary name in the same folder, flushed to disk, then renamed.
"""

from __future__ import annotations

import contextlib
import email
import errno
import logging
import os
import re
import socket
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

log = logging.getLogger("cme.mail")

_CASE_IN_TEXT = re.compile(r"\bCME-[0-9A-Z]{4,40}\b", re.IGNORECASE)
_UNSAFE = re.compile(r"[^A-Za-z0-9-]+")
_HEADER_END = re.compile(rb"\r?\n\r?\n")


def case_of(message: EmailMessage) -> str | None:
    """The case reference a message is about: its ``X-CME-Case`` header, else one in the subject."""
    header = message.get("X-CME-Case")
    if header and str(header).strip():
        return str(header).strip()
    found = _CASE_IN_TEXT.search(str(message.get("Subject", "")))
    return found.group(0).upper() if found else None


def eml_name(case: str | None, at: datetime, short_id: str) -> str:
    """The file name of a message received ``at``: time, case reference, short id."""
    stamp = at.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    label = _UNSAFE.sub("-", case or "").strip("-")[:40] or "no-case"
    return f"{stamp}_{label}_{short_id}.eml"


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the whole file or none of it."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _with_envelope(content: bytes, mail_from: str, rcpt_tos: list[str]) -> bytes:
    newline = b"\r\n" if b"\r\n" in content[:4096] else b"\n"
    envelope = (
        f"Return-Path: <{mail_from}>".encode() + newline,
        f"X-CME-Envelope-To: {', '.join(rcpt_tos)}".encode() + newline,
    )
    return b"".join(envelope) + content


class MailFolderHandler:
    """aiosmtpd handler: stores each message in ``folder`` and answers 250."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode("utf-8")
        try:
            path = self.store(content, envelope.mail_from or "", list(envelope.rcpt_tos))
        except OSError as exc:
            log.error("mail folder: could not store a message: %s", exc)
            return "451 Requested action aborted: cannot store the message"
        return f"250 Message stored as {path.name}"

    def store(self, content: bytes, mail_from: str, rcpt_tos: list[str]) -> Path:
        """Store one message; the path of its .eml file."""
        headers = _HEADER_END.split(content, maxsplit=1)[0]
        parsed = email.message_from_bytes(headers, policy=default_policy)
        assert isinstance(parsed, EmailMessage)
        case = case_of(parsed)
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / eml_name(case, datetime.now(UTC), uuid.uuid4().hex[:8])
        write_atomically(path, _with_envelope(content, mail_from, rcpt_tos))
        log.info(
            "email for %s to %s, %r: %s",
            case or "no case",
            ", ".join(rcpt_tos),
            str(parsed.get("Subject", "")),
            path.name,
        )
        return path


class MailFolderServer:
    """An SMTP server on ``host:port`` storing every message in ``folder``; runs in a thread.

    ``start()`` raises :class:`OSError` when the port cannot be bound; ``stop()`` is idempotent.
    Also a context manager.
    """

    def __init__(self, folder: Path, host: str = "localhost", port: int = 8025) -> None:
        self.folder = folder
        self.host = host
        self.port = port
        self.handler = MailFolderHandler(folder)
        self._controller: Controller | None = None

    def start(self) -> None:
        if port_in_use(self.host, self.port):  # aiosmtpd would only say so after ready_timeout
            raise OSError(errno.EADDRINUSE, f"{self.host}:{self.port} is already in use")
        self.folder.mkdir(parents=True, exist_ok=True)
        controller = Controller(self.handler, hostname=self.host, port=self.port, ready_timeout=10)
        try:
            controller.start()
        except BaseException:
            with contextlib.suppress(RuntimeError):  # still running: its thread closes it
                controller.loop.close()
            raise
        self._controller = controller

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> MailFolderServer:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def port_in_use(host: str, port: int) -> bool:
    """Whether something listens on (or holds) ``host:port``."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return False
    for family, kind, proto, _name, address in infos:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return True
    return False


def messages(folder: Path) -> list[Path]:
    """The .eml files in ``folder``, oldest first."""
    if not folder.is_dir():
        return []
    return sorted(folder.glob("*.eml"))


def read_message(path: Path) -> EmailMessage:
    """Parse one stored .eml file."""
    message = email.message_from_bytes(path.read_bytes(), policy=default_policy)
    assert isinstance(message, EmailMessage)
    return message
