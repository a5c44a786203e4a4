"""Version 1's activities (frozen names and models), kept so that cases opened on version 1
replay and run until they continue as new into version 2: ``send_notification``, ``sync_case``,
``load_calendar``.

* ``send_notification`` renders with version 1's wording (:mod:`activities.v1.templates`) and
  delivers through the outbox of version 2 (:mod:`activities.mail`) as **episode 1** of the
  case: at least once, never silently twice, with the same Message-ID as version 1 gave it.
* ``sync_case`` does nothing and succeeds: a version 1 case is mirrored into the register by
  version 2 once it migrates (its first sync there writes the whole episode). The register's
  schema is version 2's now, which version 1's state does not fit.
* ``load_calendar`` is unchanged.

Failures, as version 1 had them: ``RecipientMissing`` (a recipient's address is not known or not
usable) and ``TemplateFieldMissing`` (a field the template needs was not given) are
non-retryable. A version 1 workflow fails on a non-retryable error, so a mail server's refusal
for good (``RecipientRejected``, ``MessageRejected``, see :mod:`activities.mail`) is raised here
as a *retryable* error of the same type, retried (every 5 minutes at most) until the address or
the settings are corrected, as version 1 always did; a refusal of some recipients only is a
success with a warning, as in version 1 (the outbox row keeps the refusal). Everything else
raises as it is and is retried.

Logs carry case references and purposes only: never a child's name or the message text.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.config import MailConfig
from activities.mail import DeliveryRefused, Mailer, Outgoing
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
# Version 1 cases are episode 1 of their case reference in the register's outbox.
EPISODE = 1


def _recipient_missing(message: str) -> ApplicationError:
    return ApplicationError(message, type="RecipientMissing", non_retryable=True)


class LegacyActivities:
    def __init__(self, *, mail: MailConfig, engine: Engine, calendar_path: Path) -> None:
        self._mail = mail
        self._engine = engine
        self._calendar_path = Path(calendar_path)
        self._mailer = Mailer(mail=mail, engine=engine)

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
        outgoing = Outgoing(
            case=input.case,
            episode=EPISODE,
            purpose=input.purpose,
            template=input.template.value,
            subject=rendered.subject,
            body=rendered.body,
            recipients=self._recipients(input),
        )
        try:
            delivered = await self._mailer.deliver(outgoing)
        except DeliveryRefused as refused:
            if refused.partial:
                # As version 1 did: the others have it; the outbox row keeps the refusal.
                activity.logger.warning("%s", refused.message)
                return SendNotificationResult(
                    message_id=self._mailer.message_id(outgoing),
                    already_sent=False,
                    recipients=outgoing.recipients,
                )
            # Not non-retryable: that would fail the version 1 workflow (see the module's doc).
            raise ApplicationError(refused.message, type=refused.kind) from None
        return SendNotificationResult(
            message_id=delivered.message_id,
            already_sent=delivered.already_sent,
            recipients=delivered.recipients,
        )

    # -- sync_case -------------------------------------------------------------------------------

    @activity.defn(name="sync_case")
    async def sync_case(self, input: SyncCaseInput) -> SyncCaseResult:
        """Nothing to do: version 2 mirrors a version 1 case into the register once the case
        migrates (continues as new into version 2), from its state then. Succeeds, so that
        running version 1 cases go on."""
        return SyncCaseResult(case=input.state.case, stage=input.state.stage.value)

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
