"""The case workflow's activities: send a notification, sync the register, load the calendar.

They are methods of :class:`CaseActivities`, which receives its dependencies (mail settings, the
register's engine, the calendar file), so tests hand in real local ones: an SMTP server on
localhost, a SQLite file or a PostgreSQL database, a calendar file in a temporary directory.

Business failures are non-retryable :class:`ApplicationError`\\ s whose ``type`` names them:

* ``RecipientMissing``: a recipient's address is not known (no school LAESTAB for SCHOOL, no
  ``other_address`` for OTHER_LA or REFERRER) or is not usable;
* ``TemplateFieldMissing``: a field the template needs was not given;
* ``CalendarFileError``: the calendar file cannot be read or is wrong.

Everything else (mail server down, database unreachable) raises as it is and is retried.

Delivery of notifications: at least once, never silently twice
----------------------------------------------------------------
Each message has an outbox row in the register, unique by (case, purpose), written *before* the
message is sent, with its subject, body, recipients and a Message-ID derived from the case and the
purpose. After the mail server accepts the message the row gets ``sent_at``. On a retry:

* the row has ``sent_at``: nothing is sent, the result says ``already_sent=True``;
* the row has no ``sent_at`` (the earlier attempt failed before the server accepted the message,
  or crashed after it did but before ``sent_at`` was written): the stored message is sent again,
  byte for byte the same text, with the **same Message-ID**. A crash in that narrow window is the
  one case where a recipient can get the message twice, and then both copies carry one
  Message-ID, so mail systems and readers can de-duplicate them. ``attempts`` on the row counts
  the sends started.

Exactly-once delivery over SMTP is not possible (the server's acceptance and our record of it
cannot be one transaction); this is the honest best.

Logs carry case references and purposes only: never a child's name or the message text.
"""

from __future__ import annotations

import asyncio
import email.policy
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from pathlib import Path
from typing import Any

import aiosmtplib
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import register
from activities.config import MailConfig
from activities.v1.models import (
    LoadCalendarInput,
    Recipient,
    SendNotificationInput,
    SendNotificationResult,
    SyncCaseInput,
    SyncCaseResult,
)
from activities.v1.templates import TemplateFieldMissing, render
from domain.calendar import CalendarError, SchoolCalendar
from domain.calendar_snapshot import CalendarSnapshot

_ADDRESS = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\".]+")
_LAESTAB = re.compile(r"[0-9]{7}")
# SMTP line endings, headers folded only past 998 characters: Python's folder at 78 may move a
# whole subject onto a continuation line, which some readers then show with a leading space.
# The body is already encoded (quoted-printable for long lines) by set_content.
_WIRE_POLICY = email.policy.SMTP.clone(max_line_length=998)


def _recipient_missing(message: str) -> ApplicationError:
    return ApplicationError(message, type="RecipientMissing", non_retryable=True)


class LegacyActivities:
    def __init__(self, *, mail: MailConfig, engine: Engine, calendar_path: Path) -> None:
        self._mail = mail
        self._engine = engine
        self._calendar_path = Path(calendar_path)

    def all(self) -> list[Callable[..., Awaitable[Any]]]:
        """Every activity of a case, for a worker to register."""
        return [self.send_notification, self.sync_case, self.load_calendar]

    # -- send_notification -----------------------------------------------------------------------

    def _address_of(self, recipient: Recipient, input: SendNotificationInput) -> str:
        mail = self._mail
        match recipient:
            case Recipient.MASH:
                address = mail.mash_email
            case Recipient.SAT:
                address = mail.sat_email
            case Recipient.TEAM_LEADER:
                address = mail.team_leader_email
            case Recipient.SCHOOL:
                laestab = (input.school_laestab or "").strip()
                if not laestab:
                    raise _recipient_missing(
                        f"case {input.case}, {input.purpose}: the school is a recipient but no "
                        "school LAESTAB was given"
                    )
                if not _LAESTAB.fullmatch(laestab):
                    raise _recipient_missing(
                        f"case {input.case}, {input.purpose}: {laestab!r} is not a LAESTAB "
                        "(7 digits), so the school's address cannot be made"
                    )
                address = mail.school_email_pattern.format(laestab=laestab)
            case Recipient.OTHER_LA | Recipient.REFERRER:
                address = (input.other_address or "").strip()
                if not address:
                    raise _recipient_missing(
                        f"case {input.case}, {input.purpose}: {recipient.value} is a recipient "
                        "but no other_address was given"
                    )
                if not _ADDRESS.fullmatch(address):
                    raise _recipient_missing(
                        f"case {input.case}, {input.purpose}: the other_address of "
                        f"{recipient.value} is not an email address"
                    )
        # Addresses from the settings are not second-guessed: a wrong one is fixed in the
        # settings, and the retried activity then uses the corrected address.
        return address

    def _recipients(self, input: SendNotificationInput) -> list[str]:
        if not input.to:
            raise _recipient_missing(f"case {input.case}, {input.purpose}: no recipients")
        addresses: list[str] = []
        for recipient in input.to:
            address = self._address_of(recipient, input)
            if address.lower() not in (a.lower() for a in addresses):
                addresses.append(address)
        return addresses

    def _message_id(self, case: str, purpose: str) -> str:
        domain = self._mail.mail_from.rpartition("@")[2] or "localhost"
        return register.message_id_for(case=case, purpose=purpose, domain=domain)

    def _claim(
        self, input: SendNotificationInput, subject: str, body: str, recipients: list[str]
    ) -> register.OutboxMessage:
        with Session(self._engine) as session:
            return register.claim_notification(
                session=session,
                case=input.case,
                purpose=input.purpose,
                template=input.template.value,
                subject=subject,
                body=body,
                recipients=recipients,
                message_id=self._message_id(input.case, input.purpose),
            )

    def _mark_sent(self, input: SendNotificationInput) -> None:
        with Session(self._engine) as session:
            register.mark_notification_sent(
                session=session, case=input.case, purpose=input.purpose, at=datetime.now(UTC)
            )

    def _email(self, outbox: register.OutboxMessage) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = outbox.subject
        message["From"] = formataddr((f"{self._mail.la_name} CME service", self._mail.mail_from))
        message["To"] = ", ".join(outbox.recipients)
        message["Date"] = formatdate(localtime=False, usegmt=True)
        message["Message-ID"] = outbox.message_id
        message["X-CME-Case"] = outbox.case_ref
        message.set_content(outbox.body)
        return message

    async def _deliver(self, message: EmailMessage, recipients: list[str]) -> None:
        mail = self._mail
        errors, _response = await aiosmtplib.send(
            message.as_bytes(policy=_WIRE_POLICY),
            sender=mail.mail_from,
            recipients=recipients,
            hostname=mail.smtp_host,
            port=mail.smtp_port,
            username=mail.smtp_username,
            password=mail.smtp_password,
            start_tls=mail.start_tls,
            timeout=30,
        )
        if errors:
            # Some recipients were refused (all refused raises): the others have the message.
            activity.logger.warning(
                "case %s: the mail server refused %d of %d recipient(s)",
                message["X-CME-Case"],
                len(errors),
                len(recipients),
            )

    @activity.defn(name="send_notification")
    async def send_notification(self, input: SendNotificationInput) -> SendNotificationResult:
        try:
            rendered = render(
                input.template, case=input.case, fields=input.fields, la_name=self._mail.la_name
            )
        except TemplateFieldMissing as exc:
            raise ApplicationError(
                f"case {input.case}, {input.purpose}: {exc}",
                type="TemplateFieldMissing",
                non_retryable=True,
            ) from None
        recipients = self._recipients(input)

        outbox = await asyncio.to_thread(
            self._claim, input, rendered.subject, rendered.body, recipients
        )
        if outbox.sent_at is not None:
            activity.logger.info(
                "case %s: %s already sent at %s, not sending again",
                input.case,
                input.purpose,
                outbox.sent_at.isoformat(),
            )
            return SendNotificationResult(
                message_id=outbox.message_id, already_sent=True, recipients=outbox.recipients
            )
        if outbox.attempts > 1:
            activity.logger.info(
                "case %s: sending %s again (attempt %d, same Message-ID)",
                input.case,
                input.purpose,
                outbox.attempts,
            )

        await self._deliver(self._email(outbox), outbox.recipients)
        await asyncio.to_thread(self._mark_sent, input)
        activity.logger.info(
            "case %s: sent %s (%s) to %d recipient(s)",
            input.case,
            input.purpose,
            outbox.template,
            len(outbox.recipients),
        )
        return SendNotificationResult(
            message_id=outbox.message_id, already_sent=False, recipients=outbox.recipients
        )

    # -- sync_case -------------------------------------------------------------------------------

    def _sync(self, input: SyncCaseInput) -> register.CasePublic:
        with Session(self._engine) as session:
            return register.upsert_case(session=session, state=input.state)

    @activity.defn(name="sync_case")
    async def sync_case(self, input: SyncCaseInput) -> SyncCaseResult:
        row = await asyncio.to_thread(self._sync, input)
        activity.logger.info("case %s: register synced (stage %s)", row.case_ref, row.stage)
        return SyncCaseResult(case=row.case_ref, stage=row.stage)

    # -- load_calendar ---------------------------------------------------------------------------

    @activity.defn(name="load_calendar")
    async def load_calendar(self, input: LoadCalendarInput) -> CalendarSnapshot:
        """The calendar, read from the file on every call (a corrected or extended file reaches
        running cases), with only ``input.school_laestab``'s INSET days."""
        try:
            calendar = await asyncio.to_thread(SchoolCalendar.load, self._calendar_path)
        except CalendarError as exc:
            raise ApplicationError(
                f"the school calendar cannot be used: {exc}",
                type="CalendarFileError",
                non_retryable=True,
            ) from None
        return CalendarSnapshot.of(calendar, input.school_laestab)
