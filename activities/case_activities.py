"""The case workflow's activities: prepare a new episode, reload the calendar, deliver one
notification, sync the register.

They are methods of :class:`CaseActivities`, which receives its dependencies (mail settings, the
register's engine, the calendar file), so tests hand in real local ones: an SMTP server on
localhost, a SQLite file or a PostgreSQL database, a calendar file in a temporary directory.

Error hierarchy (non-retryable :class:`ApplicationError`\\ s, by ``type``; the workflow turns each
into a problem on the case, see :mod:`domain.case.machine`). Their messages never carry personal
data: they are recorded on the case, shown in lists and logged.

* ``RecipientRejected``: a recipient's address is missing, unusable or refused by the mail server;
* ``MessageRejected``: the mail server refused the message itself for good (5xx);
* ``CalendarFileError``: the calendar file cannot be read or is wrong;
* ``RegisterRejected``: the register refused the case's data (a constraint, a value it cannot hold).

Everything else (mail server down, database unreachable) raises as it is and is retried.
"""

from __future__ import annotations

import asyncio
import email.policy
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from pathlib import Path
from typing import Any

import aiosmtplib
from sqlalchemy import Engine
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlmodel import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import register
from activities.config import MailConfig
from activities.render import render_notification
from domain.calendar import CalendarError, SchoolCalendar
from domain.calendar_snapshot import CalendarSnapshot
from domain.case.effects import (
    DeliverNotificationInput,
    DeliverNotificationResult,
    LoadCalendarInput,
    PrepareCaseInput,
    PrepareCaseResult,
    SyncCaseInput,
    SyncCaseResult,
)
from domain.case.notifications import NotificationBase, Recipient
from domain.types import check_email, check_laestab

__all__ = ["CaseActivities"]

# SMTP line endings, headers folded only past 998 characters: Python's folder at 78 may move a
# whole subject onto a continuation line, which some readers then show with a leading space.
_WIRE_POLICY = email.policy.SMTP.clone(max_line_length=998)


def _rejected(kind: str, message: str) -> ApplicationError:
    return ApplicationError(message, type=kind, non_retryable=True)


class CaseActivities:
    def __init__(self, *, mail: MailConfig, engine: Engine, calendar_path: Path) -> None:
        self._mail = mail
        self._engine = engine
        self._calendar_path = Path(calendar_path)

    def all(self) -> list[Callable[..., Awaitable[Any]]]:
        """Every activity of a case, for a worker to register."""
        return [
            self.prepare_case,
            self.reload_calendar,
            self.deliver_notification,
            self.sync_register,
        ]

    # -- calendar ------------------------------------------------------------------------------

    def _snapshot(self, school: str | None) -> CalendarSnapshot:
        return CalendarSnapshot.of(SchoolCalendar.load(self._calendar_path), school)

    @activity.defn
    async def reload_calendar(self, input: LoadCalendarInput) -> CalendarSnapshot:
        """The calendar, read from the file on every call (a corrected or extended file reaches
        running cases), with only ``input.school_laestab``'s INSET days."""
        try:
            return await asyncio.to_thread(self._snapshot, input.school_laestab)
        except CalendarError as exc:
            raise _rejected(
                "CalendarFileError", f"the school calendar cannot be used: {exc}"
            ) from None

    @activity.defn
    async def prepare_case(self, input: PrepareCaseInput) -> PrepareCaseResult:
        """The calendar and the child's earlier episodes. What cannot be had comes back as a
        problem to record, never as a failure: the case opens regardless."""
        result = PrepareCaseResult()
        try:
            result.calendar = await asyncio.to_thread(self._snapshot, input.school_laestab)
        except CalendarError as exc:
            result.calendar_problem = f"the school calendar cannot be used: {exc}"
        result.earlier_episodes = []
        return result

    # -- notifications -------------------------------------------------------------------------

    def _address_of(self, recipient: Recipient, message: NotificationBase) -> str:
        mail = self._mail
        where = f"case {message.case}, {message.purpose}"
        match recipient:
            case Recipient.MASH:
                return mail.mash_email
            case Recipient.SAT:
                return mail.sat_email
            case Recipient.TEAM_LEADER:
                return mail.team_leader_email
            case Recipient.SCHOOL:
                try:
                    laestab = check_laestab(message.school_laestab or "")
                except ValueError:
                    raise _rejected(
                        "RecipientRejected", f"{where}: the school has no usable LAESTAB"
                    ) from None
                try:
                    return check_email(mail.school_email_pattern.format(laestab=laestab))
                except ValueError:
                    raise _rejected(
                        "RecipientRejected",
                        f"{where}: the school address pattern does not make an email address",
                    ) from None
            case Recipient.OTHER_LA | Recipient.REFERRER:
                if not message.other_address:
                    raise _rejected(
                        "RecipientRejected", f"{where}: no address for {recipient.value}"
                    )
                return message.other_address

    def _recipients(self, message: NotificationBase) -> list[str]:
        addresses: list[str] = []
        for recipient in message.to:
            address = self._address_of(recipient, message)
            if address.lower() not in (a.lower() for a in addresses):
                addresses.append(address)
        if not addresses:
            raise _rejected(
                "RecipientRejected", f"case {message.case}, {message.purpose}: no recipients"
            )
        return addresses

    def _claim(
        self, message: NotificationBase, subject: str, body: str, recipients: list[str], kind: str
    ) -> register.OutboxMessage:
        key = f"e{message.episode}:{message.purpose}"
        domain = self._mail.mail_from.rpartition("@")[2] or "localhost"
        with Session(self._engine) as session:
            return register.claim_notification(
                session=session,
                case=message.case,
                purpose=key,
                template=kind,
                subject=subject,
                body=body,
                recipients=recipients,
                message_id=register.message_id_for(case=message.case, purpose=key, domain=domain),
            )

    def _mark_sent(self, message: NotificationBase) -> None:
        with Session(self._engine) as session:
            register.mark_notification_sent(
                session=session,
                case=message.case,
                purpose=f"e{message.episode}:{message.purpose}",
                at=datetime.now(UTC),
            )

    def _email(self, outbox: register.OutboxMessage) -> EmailMessage:
        email_message = EmailMessage()
        email_message["Subject"] = outbox.subject
        email_message["From"] = formataddr(
            (f"{self._mail.la_name} CME service", self._mail.mail_from)
        )
        email_message["To"] = ", ".join(outbox.recipients)
        email_message["Date"] = formatdate(localtime=False, usegmt=True)
        email_message["Message-ID"] = outbox.message_id
        email_message["X-CME-Case"] = outbox.case_ref
        email_message.set_content(outbox.body)
        return email_message

    async def _deliver(self, email_message: EmailMessage, recipients: list[str]) -> None:
        mail = self._mail
        try:
            await aiosmtplib.send(
                email_message.as_bytes(policy=_WIRE_POLICY),
                sender=mail.mail_from,
                recipients=recipients,
                hostname=mail.smtp_host,
                port=mail.smtp_port,
                username=mail.smtp_username,
                password=mail.smtp_password,
                start_tls=mail.start_tls,
                timeout=30,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            if all(400 <= r.code < 500 for r in exc.recipients):
                raise  # a temporary refusal: retried
            raise _rejected(
                "RecipientRejected",
                f"case {email_message['X-CME-Case']}: the mail server refused every recipient",
            ) from None
        except aiosmtplib.SMTPResponseException as exc:
            if 500 <= exc.code < 600:
                raise _rejected(
                    "MessageRejected",
                    f"case {email_message['X-CME-Case']}: the mail server refused the message "
                    f"({exc.code})",
                ) from None
            raise

    @activity.defn
    async def deliver_notification(
        self, input: DeliverNotificationInput
    ) -> DeliverNotificationResult:
        message = input.notification
        rendered = render_notification(message, la_name=self._mail.la_name)
        recipients = self._recipients(message)
        outbox = await asyncio.to_thread(
            self._claim, message, rendered.subject, rendered.body, recipients, message.kind
        )
        if outbox.sent_at is not None:
            return DeliverNotificationResult(
                message_id=outbox.message_id, already_sent=True, recipients=outbox.recipients
            )
        await self._deliver(self._email(outbox), outbox.recipients)
        await asyncio.to_thread(self._mark_sent, message)
        activity.logger.info(
            "case %s: sent %s to %d recipient(s)", message.case, message.purpose, len(recipients)
        )
        return DeliverNotificationResult(
            message_id=outbox.message_id, already_sent=False, recipients=outbox.recipients
        )

    # -- the register ----------------------------------------------------------------------------

    def _sync(self, input: SyncCaseInput) -> register.CasePublic:
        with Session(self._engine) as session:
            return register.upsert_case(session=session, state=input.state)

    @activity.defn
    async def sync_register(self, input: SyncCaseInput) -> SyncCaseResult:
        try:
            row = await asyncio.to_thread(self._sync, input)
        except (IntegrityError, DataError) as exc:
            raise _rejected(
                "RegisterRejected",
                f"case {input.state.case}: the register refused the case's data "
                f"({type(exc.orig).__name__})",
            ) from None
        except OperationalError:
            raise  # the database is unreachable: retried
        return SyncCaseResult(case=row.case_ref, episode=input.state.episode, stage=row.stage)
