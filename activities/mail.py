"""Delivering one email through the outbox: at least once, never silently twice.

Used by both versions' activities (:mod:`activities.case_activities`,
:mod:`activities.v1.legacy`); they render the text and resolve the addresses, :class:`Mailer`
does the rest.

The outbox
----------
Each message has a row in the register's ``notification`` table, keyed by (case, episode,
purpose), written *before* the message is sent, with its subject, body, recipients and a
Message-ID derived from the case, the episode and the purpose
(:func:`activities.register.message_id_for`). When the mail server accepts the message the row
records the recipients it was accepted for, and once every recipient has it, ``sent``. On a
retry:

* the row is ``sent``: nothing is sent again (``already_sent``);
* otherwise (the earlier attempt failed before the server accepted the message, or crashed after
  it did but before the row was marked): the message is sent again with the **same Message-ID**,
  to the recipients who have not had it. A crash in that narrow window is the one case where a
  recipient can get the message twice, and then both copies carry one Message-ID, so mail
  systems and readers can de-duplicate them. ``attempts`` counts the sends started.

A row not yet sent keeps its Message-ID but takes each attempt's text and addresses (rendered
from the same notification, so the same words; an address corrected in the settings meanwhile
takes effect). A refusal for good leaves the row ``rejected``, with why (no personal data), until
the case retries it.

Exactly-once delivery over SMTP is not possible (the server's acceptance and the record of it
cannot be one transaction); this is the honest best.

When the register is unreachable
--------------------------------
Delivery must not wait for the register: safeguarding emails matter more than their record. If
the outbox cannot be written or read because the database is unreachable (``OperationalError``),
the message is sent anyway, with the same deterministic Message-ID, and a warning is logged.
The trade-off: without the row, a retry of an attempt whose send succeeded cannot know it did,
so that recipient may get a second copy, carrying the same Message-ID. If the row cannot be
marked after a successful send, the send still counts (the activity succeeds: failing it would
resend); the row stays ``pending`` until the case's next register sync marks it sent from the
case's own record (:func:`activities.register.upsert_case`).

Failures
--------
:class:`DeliveryRefused` (``kind`` ``RecipientRejected`` or ``MessageRejected``) when the mail
server refuses for good (5xx): every recipient, or some of them (the others have the message and
are not sent it again), or the message itself (at MAIL FROM or DATA). Each version's activities
turn it into their own error. A mail server whose certificate fails the check (STARTTLS or
implicit TLS, against the system's CAs and ``CME_SMTP_CA_FILE``) gets nothing: a retryable
``MailServerCertificateRefused`` :class:`ApplicationError`, retried as a server that is down
is, until the certificate or the CA file is put right (not a problem on the case: every email,
the team leader's report included, would fail alike). Anything else (server down or refusing
connections, 4xx, timeouts) is raised as it is, to be retried; a temporary refusal of
recipients is raised as a retryable ``RecipientsDeferred`` :class:`ApplicationError`, whose
message, unlike the mail library's, names no address.

Logs and error messages carry case references, episodes, purposes, counts and SMTP codes only:
never a child's name, an address or the message text.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.headerregistry
import email.policy
import functools
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from typing import Any, TypeVar

import aiosmtplib
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import register
from activities.config import MailConfig
from security.tls import smtp_tls_context

__all__ = [
    "MESSAGE_REJECTED",
    "RECIPIENT_REJECTED",
    "SMTP_TIMEOUT",
    "Delivered",
    "DeliveryRefused",
    "Mailer",
    "Outgoing",
]

RECIPIENT_REJECTED = "RecipientRejected"
MESSAGE_REJECTED = "MessageRejected"
RECIPIENTS_DEFERRED = "RecipientsDeferred"
CERTIFICATE_REFUSED = "MailServerCertificateRefused"

# Seconds for each SMTP step (connect, each command): short, so an attempt against a server that
# is down fails fast and the retry (at most 10 s apart) finds it as soon as it is back.
SMTP_TIMEOUT = 10.0

# SMTP line endings, headers folded only past 998 characters: Python's folder at 78 may move a
# whole subject onto a continuation line, which some readers then show with a leading space.
_WIRE_POLICY = email.policy.SMTP.clone(max_line_length=998)

T = TypeVar("T")


class _HeaderClasses(email.headerregistry.HeaderRegistry):
    """The standard library's header registry, making each header's class once.

    ``HeaderRegistry`` creates a new class (``type(...)``) every time a header is set or
    parsed, the same class each time for the same name: about half the cost of building an
    email (issue 11). Here each name's class is made once and kept; the service sets a handful
    of header names, and any other is made again rather than kept past :data:`KEPT`."""

    KEPT = 64

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[str, type[Any]] = {}

    def __getitem__(self, name: str) -> type[Any]:
        key = name.lower()
        made = self._made.get(key)
        if made is None:
            made = super().__getitem__(name)
            if len(self._made) < self.KEPT:
                self._made[key] = made
        return made


# Python's default email policy, its header classes each made once (the same emails, byte for
# byte: tests/activities/test_deliver_notification.py).
_POLICY = email.policy.default.clone(header_factory=_HeaderClasses())


@functools.lru_cache(maxsize=1024)
def _address_header(name: str, value: str) -> Any:
    """The ``From`` or ``To`` header ``value``, parsed once: the service's sender and the few
    addresses it writes to recur in every email, and parsing an address header costs more than
    the rest of an email's headers (a header object set on a message is kept as it is)."""
    return _POLICY.header_factory(name, value)


class DeliveryRefused(Exception):
    """The mail server refused for good. ``kind`` is :data:`RECIPIENT_REJECTED` or
    :data:`MESSAGE_REJECTED`; the message names the case and purpose, never a person.
    ``partial``: some recipients refused, the others have the message."""

    def __init__(self, kind: str, message: str, *, partial: bool = False) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.partial = partial


@dataclass(frozen=True)
class Outgoing:
    """One email to deliver: its outbox key, its words and its addresses."""

    case: str
    episode: int
    purpose: str
    template: str
    subject: str
    body: str
    recipients: list[str]

    @property
    def where(self) -> str:
        return f"case {self.case}, episode {self.episode}, {self.purpose}"


@dataclass(frozen=True)
class Delivered:
    message_id: str
    already_sent: bool  # sent by an earlier attempt: nothing sent this time
    recipients: list[str]
    recorded: bool = False  # the outbox row says sent (else the register was unreachable)


def _deferred(message: str) -> ApplicationError:
    return ApplicationError(message, type=RECIPIENTS_DEFERRED, non_retryable=False)


class Mailer:
    """Sends :class:`Outgoing` emails through the register's outbox and the SMTP server."""

    def __init__(self, *, mail: MailConfig, engine: Engine) -> None:
        self._mail = mail
        self._engine = engine
        # Made once (the CA file read once); never one that skips the certificate check.
        self._tls = smtp_tls_context(mail.ca_cert) if mail.tls_mode != "none" else None
        self._ehlo: str | None = None

    async def _local_hostname(self) -> str:
        """The name this worker gives the mail server (EHLO): the host's fully qualified name,
        looked up once. aiosmtplib looks it up for every connection otherwise (a DNS query where
        the hosts file does not have it, in a thread each time)."""
        if self._ehlo is None:
            self._ehlo = await asyncio.to_thread(socket.getfqdn)
        return self._ehlo

    @property
    def mail(self) -> MailConfig:
        return self._mail

    def message_id(self, out: Outgoing) -> str:
        domain = self._mail.mail_from.rpartition("@")[2] or "localhost"
        return register.message_id_for(
            case=out.case, episode=out.episode, purpose=out.purpose, domain=domain
        )

    # -- the outbox, best effort when the register is unreachable --------------------------------

    async def _outbox(self, out: Outgoing, what: str, work: Callable[..., T], **kwargs: Any) -> T:
        def call() -> T:
            with Session(self._engine) as session:
                return work(session=session, **kwargs)

        try:
            return await register.call_register(self._engine, call)
        except OperationalError:
            activity.logger.warning("%s: the register is unreachable: %s", out.where, what)
            raise

    async def _claim(self, out: Outgoing, message_id: str) -> register.OutboxMessage | None:
        try:
            return await self._outbox(
                out,
                "no outbox row, delivering without it (same Message-ID)",
                register.claim_notification,
                case=out.case,
                episode=out.episode,
                purpose=out.purpose,
                template=out.template,
                subject=out.subject,
                body=out.body,
                recipients=out.recipients,
                message_id=message_id,
            )
        except OperationalError:
            return None

    async def _mark_sent(self, out: Outgoing, accepted: list[str]) -> bool:
        """Whether the outbox row is marked sent."""
        try:
            await self._outbox(
                out,
                "the send is not recorded (the case's next sync records it)",
                register.mark_notification_sent,
                case=out.case,
                episode=out.episode,
                purpose=out.purpose,
                at=datetime.now(UTC),
                delivered_to=accepted,
            )
        except OperationalError:
            return False
        return True

    async def _mark_rejected(self, out: Outgoing, detail: str) -> None:
        with contextlib.suppress(OperationalError):
            await self._outbox(
                out,
                "the refusal is not recorded",
                register.mark_notification_rejected,
                case=out.case,
                episode=out.episode,
                purpose=out.purpose,
                detail=detail,
            )

    # -- delivery --------------------------------------------------------------------------------

    async def deliver(self, out: Outgoing) -> Delivered:
        """Send ``out`` unless the outbox says it was sent. Raises :class:`DeliveryRefused` for a
        refusal for good, anything else (retryable) when the server cannot be used now."""
        message_id = self.message_id(out)
        outbox = await self._claim(out, message_id)
        if outbox is None:
            to_send, subject, body = list(out.recipients), out.subject, out.body
        else:
            if outbox.status == register.OutboxStatus.SENT:
                activity.logger.info("%s: already sent, not sending again", out.where)
                return Delivered(
                    message_id=outbox.message_id,
                    already_sent=True,
                    recipients=outbox.recipients,
                    recorded=True,
                )
            message_id, subject, body = outbox.message_id, outbox.subject, outbox.body
            to_send = outbox.undelivered
            if outbox.attempts > 1:
                activity.logger.info(
                    "%s: sending again (attempt %d, same Message-ID) to %d recipient(s)",
                    out.where,
                    outbox.attempts,
                    len(to_send),
                )
        recorded = outbox is not None  # else the register is unreachable: not touched again
        marked = False
        recipients = outbox.recipients if outbox is not None else list(out.recipients)
        if to_send:
            email_message = self._email(out, message_id, subject, body, recipients)
            try:
                accepted, refused = await self._send(out, email_message, to_send)
            except DeliveryRefused as refusal:
                if recorded:
                    await self._mark_rejected(out, refusal.message)
                raise
            if recorded:  # those have it: not sent to them again
                marked = await self._mark_sent(out, accepted)
            if refused:
                problem = _partly_refused(out, len(to_send), refused)
                if recorded and isinstance(problem, DeliveryRefused):
                    await self._mark_rejected(out, problem.message)
                raise problem
        elif recorded:
            marked = await self._mark_sent(out, [])
        activity.logger.info("%s: sent to %d recipient(s)", out.where, len(to_send))
        return Delivered(
            message_id=message_id, already_sent=False, recipients=recipients, recorded=marked
        )

    def _email(
        self, out: Outgoing, message_id: str, subject: str, body: str, recipients: list[str]
    ) -> EmailMessage:
        message = EmailMessage(policy=_POLICY)
        message["Subject"] = subject
        sender = formataddr((f"{self._mail.la_name} CME service", self._mail.mail_from))
        message["From"] = _address_header("From", sender)
        message["To"] = _address_header("To", ", ".join(recipients))
        message["Date"] = formatdate(localtime=False, usegmt=True)
        message["Message-ID"] = message_id
        message["X-CME-Case"] = out.case
        message.set_content(body)
        return message

    async def _send(
        self, out: Outgoing, message: EmailMessage, to: list[str]
    ) -> tuple[list[str], list[int]]:
        """Send ``message`` to ``to``: the recipients the server accepted it for, and the codes
        of those it refused (when it accepted it for at least one)."""
        mail = self._mail
        try:
            refused, _ = await aiosmtplib.send(
                message.as_bytes(policy=_WIRE_POLICY),
                sender=mail.mail_from,
                recipients=to,
                hostname=mail.smtp_host,
                port=mail.smtp_port,
                local_hostname=await self._local_hostname(),
                username=mail.smtp_username,
                password=mail.smtp_password,
                use_tls=mail.tls_mode == "tls",
                start_tls=mail.tls_mode == "starttls",  # never opportunistic: asked for, or not
                tls_context=self._tls,
                timeout=SMTP_TIMEOUT,
            )
        except ssl.SSLCertVerificationError as exc:  # at STARTTLS
            raise _certificate_refused(out, exc) from None
        except aiosmtplib.SMTPConnectError as exc:  # implicit TLS: at the connection
            if isinstance(exc.__cause__, ssl.SSLCertVerificationError):
                raise _certificate_refused(out, exc.__cause__) from None
            raise
        except aiosmtplib.SMTPRecipientsRefused as exc:
            every = sorted({r.code for r in exc.recipients})
            if all(400 <= code < 500 for code in every):
                raise _deferred(
                    f"{out.where}: the mail server deferred every recipient ({_codes(every)})"
                ) from None
            raise DeliveryRefused(
                RECIPIENT_REJECTED,
                f"{out.where}: the mail server refused every recipient ({_codes(every)})",
            ) from None
        except (aiosmtplib.SMTPSenderRefused, aiosmtplib.SMTPDataError) as exc:
            if 500 <= exc.code < 600:
                step = "sender" if isinstance(exc, aiosmtplib.SMTPSenderRefused) else "message"
                raise DeliveryRefused(
                    MESSAGE_REJECTED,
                    f"{out.where}: the mail server refused the {step} ({exc.code})",
                ) from None
            raise
        refused_for = {address.lower(): response.code for address, response in refused.items()}
        accepted = [a for a in to if a.lower() not in refused_for]
        return accepted, sorted(refused_for.values())


def _certificate_refused(out: Outgoing, exc: ssl.SSLCertVerificationError) -> ApplicationError:
    """The mail server's certificate failed the check: nothing was sent. Retried, as when the
    server is down, until the certificate (or CME_SMTP_CA_FILE) is put right: every email would
    fail alike, the team leader's report of it too."""
    why = exc.verify_message or exc.reason or "certificate verify failed"
    return ApplicationError(
        f"{out.where}: the mail server's certificate failed the check ({why}): nothing sent, "
        "retried until it passes (check the server's certificate or CME_SMTP_CA_FILE)",
        type=CERTIFICATE_REFUSED,
        non_retryable=False,
    )


def _partly_refused(out: Outgoing, sent_to: int, codes: list[int]) -> Exception:
    """Some recipients refused, the others have the message: for good (any 5xx), or for now."""
    counted = f"{len(codes)} of {sent_to} recipients"
    shown = _codes(sorted(set(codes)))
    if all(400 <= code < 500 for code in codes):
        return _deferred(f"{out.where}: the mail server deferred {counted} ({shown})")
    return DeliveryRefused(
        RECIPIENT_REJECTED,
        f"{out.where}: the mail server refused {counted} ({shown})",
        partial=True,
    )


def _codes(codes: list[int]) -> str:
    return ", ".join(str(c) for c in codes)
