"""The case workflow's activities (version 2): prepare a new episode, reload the calendar, deliver
one notification, sync the register.

They are methods of :class:`CaseActivities`, which receives its dependencies (mail settings, the
register's engine, the calendar file), so tests hand in real local ones: an SMTP server on
localhost, a SQLite file or a PostgreSQL database, a calendar file in a temporary directory.

Error hierarchy
---------------
Non-retryable :class:`ApplicationError`\\ s, by ``type``; the workflow turns each into a problem on
the case (see :mod:`domain.case.machine`). Their messages never carry personal data (no child's
name, no email text, no person's address): they are recorded on the case, shown in lists and
logged. They name the case, the episode and the notification's purpose.

* ``RecipientRejected`` (:func:`deliver_notification`): a recipient's address is missing or
  unusable (no LAESTAB for the school, no address for the referrer or the other LA, a setting
  that is not an email address), or the mail server refused recipients for good (5xx): all of
  them, or some (the others have the message, and a retry sends it to the rest only);
* ``MessageRejected`` (:func:`deliver_notification`): the mail server refused the message itself
  for good (5xx at MAIL FROM or after DATA);
* ``CalendarFileError`` (:func:`reload_calendar`): the calendar file cannot be read or is wrong;
* ``RegisterRejected`` (:func:`sync_register`): the register refused the case's data (a
  constraint, a value it cannot hold: ``IntegrityError``/``DataError``).

Everything else is retried by Temporal, raised as it is: the mail server down, refusing
connections, answering 4xx or timing out (SMTP steps time out after 10 s, so queued mail goes out
within seconds of the server coming back); the register unreachable (``OperationalError``). A
temporary refusal of recipients is a retryable ``RecipientsDeferred``. Delivery does not wait for
the register: see :mod:`activities.mail`.

:func:`prepare_case` never fails for a business reason: what it cannot have comes back as a
problem to record (``calendar_problem``, ``episodes_problem``), and the case opens regardless;
only an unreachable register (``OperationalError``) is retried.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.exc import DataError, IntegrityError, OperationalError, SQLAlchemyError
from sqlmodel import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import register
from activities.config import MailConfig
from activities.mail import RECIPIENT_REJECTED, DeliveryRefused, Mailer, Outgoing
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
from domain.case.model import EpisodeSummary
from domain.case.notifications import NotificationBase, Recipient
from domain.case.register_record import RegisterRecord
from domain.types import check_email, check_laestab

__all__ = ["REGISTER_REJECTED", "CaseActivities", "database_refusal"]

REGISTER_REJECTED = "RegisterRejected"
CALENDAR_FILE_ERROR = "CalendarFileError"

# What a database's refusal means, by SQLSTATE (PostgreSQL) or extended result code (SQLite):
# the words of the refusal, never the values refused.
_SQLSTATES = {
    "22001": "a value is longer than its column allows",
    "22003": "a number is out of range",
    "22007": "a date or time is not valid",
    "22008": "a date or time is out of range",
    "22P02": "a value is not of its column's type",
    "23502": "a required value is missing",
    "23503": "an item refers to a row that does not exist",
    "23505": "a row with the same key already exists",
    "23514": "a value breaks a check",
    "42P01": "a table is missing, the register may need upgrading",
    "42703": "a column is missing, the register may need upgrading",
}
_SQLITE_CODES = {
    "SQLITE_CONSTRAINT_PRIMARYKEY": "a row with the same key already exists",
    "SQLITE_CONSTRAINT_UNIQUE": "a row with the same key already exists",
    "SQLITE_CONSTRAINT_NOTNULL": "a required value is missing",
    "SQLITE_CONSTRAINT_FOREIGNKEY": "an item refers to a row that does not exist",
    "SQLITE_CONSTRAINT_CHECK": "a value breaks a check",
    "SQLITE_CONSTRAINT_TRIGGER": "a value breaks a check",
    "SQLITE_TOOBIG": "a value is too large",
    "SQLITE_MISMATCH": "a value is not of its column's type",
}


@functools.lru_cache(maxsize=1024)
def _configured_address(address: str) -> str:
    """:func:`~domain.types.check_email` of an address the settings make (the teams', a school's
    by the pattern), remembered: the same few recur in every email, and each check parses the
    address afresh (about a tenth of a millisecond; issue 11). A refused one raises each time."""
    return check_email(address)


def _rejected(kind: str, message: str) -> ApplicationError:
    return ApplicationError(message, type=kind, non_retryable=True)


def database_refusal(exc: SQLAlchemyError) -> str:
    """What the database refused, in words, with the table or constraint it names: never the
    values (a database's own message may quote them, so it is not used)."""
    orig = getattr(exc, "orig", None)
    diag = getattr(orig, "diag", None)
    sqlstate = getattr(orig, "sqlstate", None) or getattr(diag, "sqlstate", None)
    if sqlstate:
        what = _SQLSTATES.get(str(sqlstate), f"SQLSTATE {sqlstate}")
        where = [
            f"{label} {name}"
            for label, name in (
                ("table", getattr(diag, "table_name", None)),
                ("column", getattr(diag, "column_name", None)),
                ("constraint", getattr(diag, "constraint_name", None)),
            )
            if name
        ]
        return what + (f" ({', '.join(where)})" if where else "")
    code = getattr(orig, "sqlite_errorname", None)
    if code:
        return _SQLITE_CODES.get(str(code), str(code))
    return type(orig or exc).__name__


class CaseActivities:
    def __init__(self, *, mail: MailConfig, engine: Engine, calendar_path: Path) -> None:
        self._mail = mail
        self._engine = engine
        self._calendar_path = Path(calendar_path)
        self._mailer = Mailer(mail=mail, engine=engine)
        # The calendar file as last parsed, with the (mtime, size) it had then.
        self._calendar: tuple[tuple[int, int], SchoolCalendar] | None = None

    def all(self) -> list[Callable[..., Awaitable[Any]]]:
        """Every activity of a case, for a worker to register."""
        return [
            self.prepare_case,
            self.reload_calendar,
            self.deliver_notification,
            self.sync_register,
        ]

    # -- calendar ------------------------------------------------------------------------------

    def _load_calendar(self) -> SchoolCalendar:
        """The calendar file, parsed again whenever it changed (its modification time or size):
        a corrected or extended file reaches the next case, without every case parsing it."""
        try:
            stat = self._calendar_path.stat()
        except OSError:
            return SchoolCalendar.load(self._calendar_path)  # raises, with the reason
        version = (stat.st_mtime_ns, stat.st_size)
        kept = self._calendar
        if kept is not None and kept[0] == version:
            return kept[1]
        calendar = SchoolCalendar.load(self._calendar_path)
        self._calendar = (version, calendar)
        return calendar

    def _snapshot(self, school: str | None) -> CalendarSnapshot:
        return CalendarSnapshot.of(self._load_calendar(), school)

    @activity.defn
    async def reload_calendar(self, input: LoadCalendarInput) -> CalendarSnapshot:
        """The calendar, read from the file again if it changed since it was last read (a
        corrected or extended file reaches running cases), with only ``input.school_laestab``'s
        INSET days."""
        try:
            return await asyncio.to_thread(self._snapshot, input.school_laestab)
        except CalendarError as exc:
            raise _rejected(
                CALENDAR_FILE_ERROR, f"the school calendar cannot be used: {exc}"
            ) from None

    # -- a new episode ---------------------------------------------------------------------------

    def _earlier_episodes(self, case: str) -> list[EpisodeSummary]:
        with Session(self._engine) as session:
            return register.earlier_episodes(session=session, case=case)

    @activity.defn
    async def prepare_case(self, input: PrepareCaseInput) -> PrepareCaseResult:
        """The calendar and the child's earlier episodes (from the register). What cannot be had
        comes back as a problem to record, never as a failure: the case opens regardless. An
        unreachable register is retried (the episode's number depends on it)."""
        # Both read in one go (in one worker thread, or on SQLite on the loop): a hand-off
        # each cost more than reading the calendar.
        return await register.call_register(self._engine, self._prepare, input)

    def _prepare(self, input: PrepareCaseInput) -> PrepareCaseResult:
        result = PrepareCaseResult()
        try:
            result.calendar = self._snapshot(input.school_laestab)
        except CalendarError as exc:
            result.calendar_problem = f"the school calendar cannot be used: {exc}"
        try:
            result.earlier_episodes = self._earlier_episodes(input.case)
        except OperationalError:
            raise  # the register is unreachable: retried
        except (SQLAlchemyError, ValidationError) as exc:
            reason = (
                database_refusal(exc)
                if isinstance(exc, SQLAlchemyError)
                else "a stored episode is not valid"
            )
            activity.logger.warning(
                "case %s: earlier episodes cannot be read (%s)", input.case, reason
            )
            result.earlier_episodes = None
            result.episodes_problem = (
                f"case {input.case}: the register's earlier episodes cannot be read ({reason}); "
                "the case opened as if it had none"
            )
        return result

    # -- notifications -------------------------------------------------------------------------

    def _school_address(self, laestab: str | None) -> str | None:
        try:
            return _configured_address(
                self._mail.school_email_pattern.format(laestab=check_laestab(laestab or ""))
            )
        except (ValueError, KeyError, IndexError):
            return None

    def _address_of(self, recipient: Recipient, message: NotificationBase) -> str:
        mail = self._mail
        where = f"case {message.case}, episode {message.episode}, {message.purpose}"
        setting = {
            Recipient.MASH: ("MASH", mail.mash_email),
            Recipient.SAT: ("School Attendance Team", mail.sat_email),
            Recipient.TEAM_LEADER: ("SAT team leader", mail.team_leader_email),
        }.get(recipient)
        if setting is not None:
            name, address = setting
            try:
                return _configured_address(address)
            except ValueError:
                raise _rejected(
                    RECIPIENT_REJECTED,
                    f"{where}: the {name} address in the settings is not an email address",
                ) from None
        if recipient is Recipient.SCHOOL:
            try:
                check_laestab(message.school_laestab or "")
            except ValueError:
                raise _rejected(
                    RECIPIENT_REJECTED, f"{where}: the school has no usable LAESTAB"
                ) from None
            school = self._school_address(message.school_laestab)
            if school is None:
                raise _rejected(
                    RECIPIENT_REJECTED,
                    f"{where}: the school address pattern does not make an email address",
                )
            return school
        if not message.other_address:
            who = "the other LA" if recipient is Recipient.OTHER_LA else "the referrer"
            raise _rejected(RECIPIENT_REJECTED, f"{where}: no address for {who}")
        return message.other_address

    def _recipients(self, message: NotificationBase) -> list[str]:
        addresses: list[str] = []
        for recipient in message.to:
            address = self._address_of(recipient, message)
            if address.lower() not in (a.lower() for a in addresses):
                addresses.append(address)
        if not addresses:
            raise _rejected(
                RECIPIENT_REJECTED,
                f"case {message.case}, episode {message.episode}, {message.purpose}: no recipients",
            )
        return addresses

    @activity.defn
    async def deliver_notification(
        self, input: DeliverNotificationInput
    ) -> DeliverNotificationResult:
        """Render one notification and deliver it through the outbox (at least once, never
        silently twice: see :mod:`activities.mail`)."""
        message = input.notification
        rendered = render_notification(
            message,
            la_name=self._mail.la_name,
            school_email=self._school_address(message.school_laestab),
        )
        outgoing = Outgoing(
            case=message.case,
            episode=message.episode,
            purpose=message.purpose,
            template=str(getattr(message, "kind", "")),
            subject=rendered.subject,
            body=rendered.body,
            recipients=self._recipients(message),
        )
        synced: bool | None = None
        refused_by_register: str | None = None
        if input.record is not None:
            # The case's sync, riding along (workflow revision 4): written first, so the outbox
            # row the delivery claims has its episode's row. The register away or refusing holds
            # up no email: the result says so, and the case syncs again the usual way.
            try:
                await self._write(input.record)
                synced = True
            except ApplicationError as exc:  # refused for good (REGISTER_REJECTED)
                synced, refused_by_register = False, exc.message
            except OperationalError:
                activity.logger.warning(
                    "case %s, episode %d: the register is unreachable; the case syncs again",
                    input.record.case,
                    input.record.episode,
                )
                synced = False
        try:
            delivered = await self._mailer.deliver(outgoing)
        except DeliveryRefused as refused:
            raise _rejected(refused.kind, refused.message) from None
        return DeliverNotificationResult(
            message_id=delivered.message_id,
            already_sent=delivered.already_sent,
            recipients=delivered.recipients,
            recorded=delivered.recorded,
            synced=synced,
            register_refused=refused_by_register,
        )

    # -- the register ----------------------------------------------------------------------------

    def _sync(self, record: RegisterRecord) -> register.Synced:
        with Session(self._engine) as session:
            return register.write_record(session=session, record=record)

    @activity.defn
    async def sync_register(self, input: SyncCaseInput) -> SyncCaseResult:
        """Mirror the episode into the register (idempotent)."""
        synced = await self._write(input.register_record())
        return SyncCaseResult(case=synced.case_ref, episode=synced.episode, stage=synced.stage)

    async def _write(self, record: RegisterRecord) -> register.Synced:
        """Write the episode's record (:func:`register.call_register`). The register refusing
        its data is a non-retryable ``REGISTER_REJECTED``; unreachable, an
        ``OperationalError``."""
        try:
            synced = await register.call_register(self._engine, self._sync, record)
        except (IntegrityError, DataError) as exc:
            reason = database_refusal(exc)
            activity.logger.warning(
                "case %s, episode %d: the register refused the case's data (%s)",
                record.case,
                record.episode,
                reason,
            )
            raise _rejected(
                REGISTER_REJECTED,
                f"case {record.case}, episode {record.episode}: the register refused the case's "
                f"data: {reason}",
            ) from None
        # OperationalError (the database unreachable) and anything else: raised, retried.
        if synced.changed:
            # DEBUG: a line for every step of every case cost the worker 2% of its CPU at INFO
            # and says nothing the case's history does not (failures are logged as warnings).
            activity.logger.debug(
                "case %s, episode %d: register synced (stage %s)",
                synced.case_ref,
                synced.episode,
                synced.stage,
            )
        return synced
