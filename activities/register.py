"""The case register: a relational copy of every episode of every case, for the LA's reports and the
CLI, and the outbox of notifications.

A child's case reference (the workflow id) has one or more **episodes**: a referral that reaches
a closed episode opens the next one. Every table is keyed by ``(case_ref, episode[, id])``.

Tables (SQLModel, one family per table: ``...Base`` fields, the ``...Row`` table, a ``...Public``
read model), all in :data:`METADATA`:

* ``cme_case``: one row per episode: where it stands, its next deadline, the outcome, whether it
  is a repeat episode and how many problems are open, and the child's identity (UPN, name, date of
  birth) for the LA's own reports. The identity never goes to logs or error messages;
* ``enquiry``, ``task``, ``escalation``, ``problem``: the episode's lists, one row per item, keyed
  by (case, episode, id of the item in the episode);
* ``decision``: how the episode ended (deletion authorisation or closure decision), once it has;
* ``case_school``: the schools whose users may see and act on the episode
  (:func:`domain.case.rules.case_schools`), so that a school user's lists can be filtered in the
  query (``reports``);
* ``notification``: the outbox, one row per (case, episode, purpose) with its status
  (``pending``, ``sent``, ``rejected``), see :mod:`activities.mail`. It has no foreign key: an
  email may go out before the episode's first sync, and version 1 cases' emails are episode 1's;
* ``case_key``: each case's data key, wrapped by a key-encryption key (the key store of
  :mod:`security.store`). It has no foreign key either: a case's key is made with its first
  payload, before the case is in the register, and outlives its rows once the case is erased.

* ``erasure``: every case erased (retention rule or request), without personal data.
* ``account``, ``web_session``, ``auth_event``: the web app's people, their sessions and the
  audit of sign-ins (:mod:`activities.accounts`).
* ``api_client``: the JSON API's clients, each with the hash of its bearer token
  (:mod:`activities.api_clients`).

Erasure (:func:`erase_personal_data`, :func:`expired_cases`, :func:`record_erasure`): an erased
case keeps its rows with the anonymous facts (dates, stage, kind, outcome, ground, school,
episode, flags); the child's identity and the free texts are gone (``None``), and the episode's
``erased_at`` says when. An erased episode is never synced again.

The workflow is the source of truth; :func:`upsert_case` mirrors an episode's state, so syncing a
state twice leaves the same rows, and items no longer in the state are removed.

Readers take the episode into account: without ``episode`` they read the case's latest one.

Functions are keyword-only, take the session and commit their own work. The schema is Alembic's
(``activities/migrations``): :func:`upgrade_register` brings a database to the latest revision,
never on import. Engines hide SQL parameters (``hide_parameters=True``): they hold children's
personal data and must never reach an error message or a log.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum, StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from pydantic import BaseModel, field_validator
from sqlalchemy import (
    JSON,
    CheckConstraint,
    Connection,
    DateTime,
    Engine,
    ForeignKeyConstraint,
    LargeBinary,
    MetaData,
    Table,
    Text,
    bindparam,
    delete,
    func,
    inspect,
    update,
)
from sqlalchemy import case as sa_case
from sqlalchemy import event as sa_event
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import registry
from sqlalchemy.pool import NullPool
from sqlmodel import Field, Session, SQLModel, col, create_engine, select

from domain.case.model import EpisodeSummary
from domain.case.register_record import RegisterRecord, register_record
from domain.case.state import CaseState

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "HEAD",
    "METADATA",
    "CaseKeyRow",
    "CasePublic",
    "CaseRow",
    "CaseSchoolRow",
    "DecisionPublic",
    "DecisionRow",
    "EnquiryPublic",
    "EnquiryRow",
    "Erased",
    "ErasurePublic",
    "ErasureRow",
    "EscalationPublic",
    "EscalationRow",
    "NotificationPublic",
    "NotificationRow",
    "OutboxMessage",
    "OutboxStatus",
    "ProblemPublic",
    "ProblemRow",
    "Synced",
    "TaskPublic",
    "TaskRow",
    "alembic_config",
    "call_register",
    "claim_notification",
    "create_register_schema",
    "earlier_episodes",
    "erase_personal_data",
    "expired_cases",
    "get_case",
    "get_decision",
    "get_erasure",
    "latest_episode",
    "list_cases",
    "list_enquiries",
    "list_episodes",
    "list_erasures",
    "list_escalations",
    "list_notifications",
    "list_problems",
    "list_tasks",
    "make_engine",
    "mark_notification_rejected",
    "mark_notification_sent",
    "message_id_for",
    "record_erasure",
    "register_revision",
    "upgrade_register",
    "upsert_case",
    "write_record",
]

log = logging.getLogger("cme.register")

# Constraint names the same on every database, so that migrations can name what they change.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
METADATA = MetaData(naming_convention=NAMING_CONVENTION)
"""The register's tables (their own metadata: nothing else shares it)."""

MIGRATIONS = "activities:migrations"
# The latest revision in activities/migrations/versions (a test keeps them equal).
HEAD = "0009"

# -- engine and schema -----------------------------------------------------------------------------


def make_engine(url: str, *, client: bool = False) -> Engine:
    """An engine on the register at ``url``.

    SQLite (``sqlite:///path/register.db``): the file's directory is created, foreign keys are
    enforced and the journal is WAL so the CLI can read while the worker writes, with
    ``synchronous`` NORMAL (:func:`_sqlite_pragmas`). PostgreSQL:
    ``postgresql+psycopg://user:password@host:5432/db`` (``postgresql://`` is taken to mean
    psycopg 3, the driver installed), with a 10 s connect timeout so an unreachable database
    fails fast (and the activity is retried) instead of hanging.

    SQL parameters are never shown in errors or logs (``hide_parameters``), nor are the rows
    fetched (SQLAlchemy logs each at DEBUG when its engine logger is turned up: dropped, see
    :class:`_NoRowsLogged`). ``client=True``: the
    engine of a short-lived client that only reads and writes the cases' keys (the `cme`
    command's key store): it keeps no connection between uses (nothing to dispose of) and never
    creates the SQLite file's directory (a client does not make the register).
    """
    pool: dict[str, Any] = {"poolclass": NullPool} if client else {}
    _hide_rows()
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url.removeprefix(prefix)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:") and not client:
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, hide_parameters=True, **pool)
        sa_event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    connect_args: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = 10
    return create_engine(
        url, pool_pre_ping=True, hide_parameters=True, connect_args=connect_args, **pool
    )


_P = ParamSpec("_P")
_T = TypeVar("_T")


async def call_register(
    engine: Engine, work: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs
) -> _T:
    """Do ``work`` (calls on the register at ``engine``, which block) for an activity: in a
    worker thread, or, on SQLite, right here on the event loop.

    The embedded register (SQLite) is a local file in WAL mode with ``synchronous`` NORMAL: an
    activity's few statements return in well under a millisecond, and handing them to a worker
    thread cost more than doing them (the hand-off, and the GIL passed back and forth between
    the event loop and the thread): 9% of a worker's CPU a case (issue 11,
    ``python -m benchmarks.throughput``). On the loop they hold it up only while SQLite works,
    or while another process holds the file's write lock (a client writing a case's key:
    milliseconds; at most SQLite's busy timeout, 5 s). PostgreSQL, over the network, is called
    in a worker thread, as before. Errors are raised as ``work`` raises them, either way."""
    if engine.dialect.name == "sqlite":
        return work(*args, **kwargs)
    return await asyncio.to_thread(work, *args, **kwargs)


class _NoRowsLogged(logging.Filter):
    """Drops SQLAlchemy's DEBUG record of each row fetched (``Row (...)``, logged when the
    ``sqlalchemy.engine`` logger is set to DEBUG or ``echo="debug"``): the register's rows hold
    children's personal data, and no logging configuration may write them out. The SQL itself
    (INFO) stays: it carries no value, its parameters are hidden."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno <= logging.DEBUG and str(record.msg).startswith("Row "))


_NO_ROWS = _NoRowsLogged()


def _hide_rows() -> None:
    """The filter on the engines' logger (one logger for every engine without a logging name)."""
    engine_log = logging.getLogger("sqlalchemy.engine.Engine")
    if _NO_ROWS not in engine_log.filters:
        engine_log.addFilter(_NO_ROWS)


def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    """Foreign keys on; the journal WAL (readers never wait for the writer); ``synchronous``
    NORMAL, SQLite's recommended setting for WAL: a commit is in the WAL file when it returns,
    so nothing committed is lost when the worker or the machine's processes die (``kill -9``,
    tests/activities/test_register_durability.py); only a power cut or an OS crash before the
    next checkpoint can lose the last commits, which a case's next sync writes again (a sync
    writes the whole register record). It spares an fsync on every commit (issue 11:
    ``python -m benchmarks.throughput``). The same trade as ``cme dev``'s Temporal SQLite file;
    an LA's production register is PostgreSQL."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def alembic_config() -> Config:
    """Alembic's configuration for the register's migrations (``activities/migrations``); hand
    it a connection in ``attributes["connection"]`` to run a command on it."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    return config


def upgrade_register(url_or_engine: str | Engine, revision: str = "head") -> str | None:
    """Bring the register's schema to ``revision`` (the latest by default): ``alembic upgrade``,
    run programmatically, in one transaction where the database allows (PostgreSQL does).

    A register created before migrations existed (the tables of revision 0001, no
    ``alembic_version``) is stamped 0001 first, so its rows are kept and upgraded. Returns the
    revision the database was at before (``None``: empty).
    """
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    try:
        with engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:
                _sqlite_foreign_keys(connection, on=False)
            try:
                with connection.begin():
                    before = MigrationContext.configure(connection).get_current_revision()
                    config = alembic_config()
                    config.attributes["connection"] = connection
                    if before is None and inspect(connection).has_table("cme_case"):
                        log.info("the register predates migrations: stamped as revision 0001")
                        command.stamp(config, "0001")
                        before = "0001"
                    command.upgrade(config, revision)
                    if sqlite:
                        _sqlite_foreign_key_check(connection)
            finally:
                if sqlite:
                    _sqlite_foreign_keys(connection, on=True)
        return before
    finally:
        if isinstance(url_or_engine, str):
            engine.dispose()


def _sqlite_foreign_keys(connection: Connection, *, on: bool) -> None:
    """SQLite changes a table by copying it, dropping the old one and renaming the copy; with
    foreign keys on, dropping a table deletes the rows that refer to it (``ON DELETE CASCADE``).
    So they are off while migrations run, as SQLite's own procedure for schema changes says
    (the pragma takes effect outside a transaction only), and checked before the commit."""
    connection.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    connection.commit()


def _sqlite_foreign_key_check(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        tables = sorted({str(row[0]) for row in broken})
        raise RuntimeError(
            f"the register's migration left rows referring to nothing in {', '.join(tables)}: "
            "nothing was changed"
        )


def register_revision(engine: Engine) -> str | None:
    """The schema revision the register is at (``None``: never upgraded)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def create_register_schema(engine: Engine) -> None:
    """Create or upgrade the register's tables: :func:`upgrade_register` to the latest revision."""
    upgrade_register(engine)


# -- helpers ---------------------------------------------------------------------------------------


def _utc(value: datetime | None) -> datetime | None:
    """Aware UTC (a naive value, as SQLite returns them, is taken to be UTC already)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _tz_column() -> Any:
    return DateTime(timezone=True)


def _episode_fk() -> ForeignKeyConstraint:
    """An item's reference to its episode: removed with it."""
    return ForeignKeyConstraint(
        ["case_ref", "episode"], ["cme_case.case_ref", "cme_case.episode"], ondelete="CASCADE"
    )


class _Model(SQLModel, registry=registry(metadata=METADATA)):
    """The register's tables and read models (on :data:`METADATA`)."""


class _UtcTimes(SQLModel):
    """Read models: datetimes come back aware, in UTC, whichever database holds them."""

    @field_validator("*", mode="after")
    @classmethod
    def _aware(cls, value: Any) -> Any:
        return _utc(value) if isinstance(value, datetime) else value


class _EpisodeKey(_Model):
    case_ref: str = Field(primary_key=True, max_length=40)
    episode: int = Field(primary_key=True)


# -- cme_case --------------------------------------------------------------------------------------


class CaseBase(_EpisodeKey):
    repeat: bool = Field(default=False, index=True)  # the child had an earlier episode
    kind: str = Field(index=True, max_length=40)
    stage: str = Field(index=True, max_length=40)
    school_laestab: str | None = Field(default=None, index=True, max_length=7)
    child_protection: bool = Field(default=False, index=True)
    opened_at: datetime = Field(sa_type=_tz_column())
    next_deadline: date | None = None
    overdue: bool = Field(default=False, index=True)
    assigned_officer: str | None = Field(default=None, max_length=200)
    referrals_received: int = 1
    rulebook: str | None = Field(default=None, max_length=10)
    day1: date | None = None
    open_problems: int = 0
    # the child's identity, for the LA's own reports only (``None`` once the case is erased)
    upn: str | None = Field(default=None, index=True, max_length=13)
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    date_of_birth: date | None = None
    # the outcome, once there is one
    decision: str | None = Field(default=None, max_length=40)
    investigation_outcome: str | None = Field(default=None, max_length=40)
    ground: str | None = Field(default=None, max_length=20)
    earliest_deletion_date: date | None = None
    ctf_destination: str | None = Field(default=None, max_length=8)
    closed_at: datetime | None = Field(default=None, sa_type=_tz_column())
    updated_at: datetime = Field(sa_type=_tz_column())
    # when the episode's personal data was erased (see :func:`erase_personal_data`)
    erased_at: datetime | None = Field(default=None, sa_type=_tz_column())
    # The moments the LA's reports measure (from the case's own log; no personal data): when the
    # case reached the School Attendance Team (its first day at stage la_investigation), when the
    # officer concluded the investigation (any outcome), the day the child was located (contact
    # made, or an investigation outcome that finds the child), whether a MASH call is still due
    # (an open "phone MASH" task) and the day MASH was last phoned.
    sat_referred_at: datetime | None = Field(default=None, sa_type=_tz_column())
    concluded_at: datetime | None = Field(default=None, sa_type=_tz_column())
    located_on: date | None = None
    mash_call_pending: bool = Field(default=False, index=True)
    mash_called_on: date | None = None


class CaseRow(CaseBase, table=True):
    __tablename__ = "cme_case"
    # The SHA-256 of what the last sync wrote of the episode (:func:`write_record`): a sync of
    # the same state writes nothing.
    sync_digest: str | None = Field(default=None, max_length=64)
    # What the last sync wrote of each of the episode's tables, digested (:func:`_parts`), and
    # what the sync before it had: the upsert that writes this row sets the one from the other
    # and returns it, so that a sync learns which tables changed without reading first.
    sync_parts: str | None = Field(default=None, max_length=255)
    sync_parts_before: str | None = Field(default=None, max_length=255)


class CaseSchoolRow(_Model, table=True):
    """The schools whose users may see and act on an episode (:func:`domain.case.rules.
    case_schools`): the school the child is missing from or, for a child on no roll referred by a
    school's user, that user's schools. What a school user's lists are filtered by."""

    __tablename__ = "case_school"
    __table_args__ = (_episode_fk(),)
    case_ref: str = Field(primary_key=True, max_length=40)
    episode: int = Field(primary_key=True)
    laestab: str = Field(primary_key=True, index=True, max_length=7)


class CasePublic(CaseBase, _UtcTimes):
    pass


# -- enquiry, task, escalation, problem, decision --------------------------------------------------


class EnquiryBase(_EpisodeKey):
    id: int = Field(primary_key=True)
    made_by: str = Field(max_length=20)  # school or la
    kind: str = Field(max_length=40)
    made_on: date
    outcome: str = Field(max_length=40)
    note: str | None = Field(default="", sa_type=Text)  # None: erased
    recorded_by: str = Field(max_length=200)
    recorded_by_role: str = Field(max_length=40)
    recorded_at: datetime = Field(sa_type=_tz_column())


class EnquiryRow(EnquiryBase, table=True):
    __tablename__ = "enquiry"
    __table_args__ = (_episode_fk(),)


class EnquiryPublic(EnquiryBase, _UtcTimes):
    pass


class TaskBase(_EpisodeKey):
    id: int = Field(primary_key=True)
    name: str = Field(max_length=40)
    assignee: str = Field(max_length=40)
    status: str = Field(index=True, max_length=20)
    opened_at: datetime = Field(sa_type=_tz_column())
    due: date | None = None
    overdue: bool = False
    done_by: str | None = Field(default=None, max_length=200)
    done_by_role: str | None = Field(default=None, max_length=40)
    done_at: datetime | None = Field(default=None, sa_type=_tz_column())


class TaskRow(TaskBase, table=True):
    __tablename__ = "task"
    __table_args__ = (_episode_fk(),)


class TaskPublic(TaskBase, _UtcTimes):
    pass


class EscalationBase(_EpisodeKey):
    id: int = Field(primary_key=True)
    kind: str = Field(index=True, max_length=40)
    raised_at: datetime = Field(sa_type=_tz_column())
    reason: str | None = Field(default=None, sa_type=Text)  # None: erased
    raised_by: str = Field(max_length=200)
    raised_by_role: str = Field(max_length=40)


class EscalationRow(EscalationBase, table=True):
    __tablename__ = "escalation"
    __table_args__ = (_episode_fk(),)


class EscalationPublic(EscalationBase, _UtcTimes):
    pass


class ProblemBase(_EpisodeKey):
    """Something the service could not do for the episode (no personal data in it)."""

    id: int = Field(primary_key=True)
    kind: str = Field(index=True, max_length=40)
    subject: str = Field(max_length=200)
    detail: str = Field(sa_type=Text)
    raised_at: datetime = Field(sa_type=_tz_column())
    last_attempt_at: datetime = Field(sa_type=_tz_column())
    attempts: int = 1
    cleared_at: datetime | None = Field(default=None, sa_type=_tz_column())


class ProblemRow(ProblemBase, table=True):
    __tablename__ = "problem"
    __table_args__ = (_episode_fk(),)


class ProblemPublic(ProblemBase, _UtcTimes):
    pass


class DecisionBase(_EpisodeKey):
    decision: str = Field(max_length=40)
    investigation_outcome: str | None = Field(default=None, max_length=40)
    closure_reason: str | None = Field(default=None, sa_type=Text)
    rulebook: str | None = Field(default=None, max_length=10)
    ground: str | None = Field(default=None, max_length=20)
    ground_title: str | None = Field(default=None, sa_type=Text)
    ground_other_rulebook: str | None = Field(default=None, max_length=200)
    earliest_deletion_date: date | None = None
    ctf_destination: str | None = Field(default=None, max_length=8)
    decided_by: str = Field(max_length=200)
    decided_by_role: str = Field(max_length=40)
    decided_at: datetime = Field(sa_type=_tz_column())
    duplicate_of: str | None = Field(default=None, max_length=40)


class DecisionRow(DecisionBase, table=True):
    __tablename__ = "decision"
    __table_args__ = (_episode_fk(),)


class DecisionPublic(DecisionBase, _UtcTimes):
    pass


# -- notification (the outbox) ---------------------------------------------------------------------


class OutboxStatus(StrEnum):
    PENDING = "pending"  # written before sending; not (yet) accepted by the mail server
    SENT = "sent"  # accepted for every recipient
    REJECTED = "rejected"  # refused for good (see ``detail``); sent again only on a retry


class NotificationBase(_EpisodeKey):
    purpose: str = Field(primary_key=True, max_length=200)
    template: str = Field(max_length=40)
    subject: str | None = Field(default=None, sa_type=Text)  # None: erased
    recipients: list[str] = Field(default_factory=list, sa_type=JSON)
    # Recipients the mail server has accepted the message for: a resend goes to the others only.
    delivered_to: list[str] = Field(default_factory=list, sa_type=JSON)
    message_id: str = Field(max_length=300)
    status: str = Field(default=OutboxStatus.PENDING.value, index=True, max_length=20)
    created_at: datetime = Field(sa_type=_tz_column())
    last_attempt_at: datetime | None = Field(default=None, sa_type=_tz_column())
    sent_at: datetime | None = Field(default=None, sa_type=_tz_column())
    attempts: int = 0  # sends started; more than 1 means a resend with the same Message-ID
    detail: str | None = Field(default=None, sa_type=Text)  # why it was refused: no personal data


class NotificationRow(NotificationBase, table=True):
    __tablename__ = "notification"
    body: str | None = Field(default=None, sa_type=Text)  # None: erased


class NotificationPublic(NotificationBase, _UtcTimes):
    pass


class OutboxMessage(NotificationPublic):
    """An outbox row with the text to send (the body names the pupil: never log it)."""

    subject: str
    body: str

    @field_validator("subject", "body", mode="before")
    @classmethod
    def _erased(cls, value: Any) -> Any:
        return "" if value is None else value  # an erased row's text is gone

    @property
    def undelivered(self) -> list[str]:
        """The recipients still to send to."""
        done = {a.lower() for a in self.delivered_to}
        return [a for a in self.recipients if a.lower() not in done]


# -- case_key (the cases' data keys) ---------------------------------------------------------------


class CaseKeyRow(_Model, table=True):
    """A case's data key, wrapped by the key-encryption key ``kek_id`` (AES key wrap): what
    :class:`security.store.SqlKeyStore` keeps. ``key_id`` is the case reference (the workflow
    id), or ``_service`` for payloads of no case. A shredded row (the case was erased) keeps no
    key material: its ``wrapped_key`` is empty and ``shredded_at`` says when; it stays, so that
    no new key is ever made for the erased case."""

    __tablename__ = "case_key"
    key_id: str = Field(primary_key=True, max_length=255)
    kek_id: str = Field(index=True, max_length=100)  # "" for a case shredded before it had a key
    wrapped_key: bytes = Field(sa_type=LargeBinary)
    created_at: datetime = Field(sa_type=_tz_column())
    shredded_at: datetime | None = Field(default=None, sa_type=_tz_column())


# -- writing a case --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Synced:
    """What :func:`upsert_case` did: the episode it wrote, its stage, and whether anything
    changed."""

    case_ref: str
    episode: int
    stage: str
    changed: bool


def _column(value: Any) -> Any:
    """A record's value as the register stores it: an enum's value, a moment in UTC."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return _utc(value)
    return value


def _columns(model: BaseModel, *, without: str | None = None) -> dict[str, Any]:
    return {name: _column(value) for name, value in model if name != without}


def _items(record: RegisterRecord) -> dict[Any, dict[int, dict[str, Any]]]:
    return {
        table: {item.id: _columns(item, without="id") for item in items}
        for table, items in (
            (EnquiryRow, record.enquiries),
            (TaskRow, record.tasks),
            (EscalationRow, record.escalations),
            (ProblemRow, record.problems),
        )
    }


def _insert(dialect: str, table: Table) -> Any:
    """``INSERT`` with ``ON CONFLICT`` for the database (SQLite or PostgreSQL)."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"the register runs on SQLite or PostgreSQL, not {dialect}")


# The sync's statements are built once per process and table, their values bound at execution:
# building an upsert (its ``excluded`` columns) costs more than running it, and a statement with
# the same structure every time is compiled once (SQLAlchemy's compiled cache).


@functools.cache
def _case_upsert(dialect: str, names: tuple[str, ...]) -> Any:
    """The episode's row, its columns ``names`` written only when its digest differs and it was
    never erased; returns, when it wrote, what the tables' digests were before
    (``sync_parts_before``: as inserted for a new row; for an existing one, the row's
    ``sync_parts`` until now, since an update's values are worked out from the row as it was,
    or none if a sync that knew no parts wrote the row since)."""
    table: Table = CaseRow.__table__  # type: ignore[attr-defined]
    statement = _insert(dialect, table)
    written = {name: statement.excluded[name] for name in names}
    # The row's parts, if the sync that wrote them was the last to write the row.
    written["sync_parts_before"] = sa_case(
        (
            func.substr(table.c.sync_parts, 1, _DIGEST_LENGTH) == table.c.sync_digest,
            table.c.sync_parts,
        ),
        else_=None,
    )
    return statement.on_conflict_do_update(
        index_elements=["case_ref", "episode"],
        set_=written,
        where=(
            table.c.erased_at.is_(None)
            & table.c.sync_digest.is_distinct_from(statement.excluded.sync_digest)
        ),
    ).returning(table.c.sync_parts_before)


@functools.cache
def _items_upsert(dialect: str, table: Table, key: tuple[str, ...], names: tuple[str, ...]) -> Any:
    statement = _insert(dialect, table)
    if not names:
        return statement.on_conflict_do_nothing(index_elements=list(key))
    return statement.on_conflict_do_update(
        index_elements=list(key), set_={name: statement.excluded[name] for name in names}
    )


@functools.cache
def _items_prune(table: Table, column: str) -> Any:
    """Delete the episode's rows whose ``column`` is not among ``keep`` (bound, expanding)."""
    return delete(table).where(
        table.c.case_ref == bindparam("b_ref"),
        table.c.episode == bindparam("b_episode"),
        table.c[column].not_in(bindparam("b_keep", expanding=True)),
    )


@functools.cache
def _episode_delete(table: Table) -> Any:
    return delete(table).where(
        table.c.case_ref == bindparam("b_ref"), table.c.episode == bindparam("b_episode")
    )


@functools.cache
def _outbox_sent() -> Any:
    table: Table = NotificationRow.__table__  # type: ignore[attr-defined]
    return (
        update(table)
        .where(
            table.c.case_ref == bindparam("b_ref"),
            table.c.episode == bindparam("b_episode"),
            table.c.purpose == bindparam("p_purpose"),
            table.c.status != OutboxStatus.SENT.value,
        )
        .values(
            status=OutboxStatus.SENT.value,
            sent_at=bindparam("p_sent_at"),
            delivered_to=table.c.recipients,
        )
    )


def _upsert_all(
    connection: Connection,
    table: Table,
    key: tuple[str, ...],
    rows: list[dict[str, Any]],
    episode: dict[str, Any],
    *,
    prune: bool = True,
) -> None:
    """Make the episode's rows of ``table`` exactly ``rows``: each inserted or overwritten by its
    ``key``, and (``prune``: the episode may have others) the episode's other rows (by the key's
    last column) deleted."""
    dialect = connection.dialect.name
    if rows:
        names = tuple(name for name in rows[0] if name not in key)
        connection.execute(_items_upsert(dialect, table, key, names), rows)
    if prune:
        last = key[-1]
        connection.execute(
            _items_prune(table, last), {**episode, "b_keep": [r[last] for r in rows]}
        )


def _json_value(value: Any) -> str:
    return _utc(value).isoformat() if isinstance(value, datetime) else str(value)  # type: ignore[union-attr]


# The parts of an episode a sync writes apart: each of its tables below the case row, and the
# emails it knows were sent (the outbox rows it marks sent).
_PARTS = ("enquiry", "task", "escalation", "problem", "case_school", "decision", "sent")
# ``sync_parts_before`` of a row a sync has just inserted: nothing was there before it.
_NEW_EPISODE = ""


def _part_digest(value: Any) -> str:
    # 48 bits: enough to tell one state of a table from the next of the same episode.
    text = json.dumps(value, sort_keys=True, default=_json_value)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _parts(
    items: dict[Any, dict[int, dict[str, Any]]],
    schools: tuple[str, ...],
    decision: dict[str, Any] | None,
    sent: dict[str, datetime],
) -> dict[str, str]:
    """Each part of an episode (:data:`_PARTS`), digested: the same rows, the same digest."""
    values: dict[str, Any] = {table.__tablename__: rows for table, rows in items.items()}
    values.update(case_school=sorted(schools), decision=decision, sent=sent)
    return {name: _part_digest(values[name]) for name in _PARTS}


def _format_parts(parts: dict[str, str]) -> str:
    return ";".join(f"{name}={digest}" for name, digest in parts.items())


def _parse_parts(text: str) -> dict[str, str]:
    return dict(entry.split("=", 1) for entry in text.split(";") if "=" in entry)


def _digest(values: dict[str, Any], parts: str) -> str:
    """What the register holds of an episode, hashed: the same state, the same digest."""
    text = json.dumps({"case": values, "parts": parts}, sort_keys=True, default=_json_value)
    return hashlib.sha256(text.encode()).hexdigest()


# ``sync_parts`` starts with the episode's whole digest (``sync_digest``, 64 characters) as the
# same sync wrote it, then its tables' digests: a sync by a worker that knows no parts (before
# register revision 0009, during a rolling upgrade or a rollback) writes a new ``sync_digest``
# and leaves ``sync_parts`` as it was, and the two no longer agree.
_DIGEST_LENGTH = 64


def _reconcile_outbox(
    *, connection: Connection, episode: dict[str, Any], sent: dict[str, datetime]
) -> None:
    """Outbox rows of emails the case knows were sent, still pending because the register was
    unreachable when the delivery ended: marked sent now (the case's record is the truth)."""
    if sent:
        connection.execute(
            _outbox_sent(),
            [
                {**episode, "p_purpose": purpose, "p_sent_at": _utc(sent_at)}
                for purpose, sent_at in sent.items()
            ],
        )


def upsert_case(*, session: Session, state: CaseState) -> Synced:
    """Make the register hold the episode ``state`` (:func:`write_record` of its
    :func:`~domain.case.register_record.register_record`)."""
    return write_record(session=session, record=register_record(state))


def write_record(*, session: Session, record: RegisterRecord) -> Synced:
    """Make the register hold the episode ``record``: the case row, its items, its problems and
    its decision. Idempotent: the same record twice leaves the same rows, and ``updated_at``
    moves only when something changed.

    One statement when nothing changed. Otherwise, in one transaction, the case row's upsert
    (``INSERT .. ON CONFLICT``), then for each table whose rows changed an upsert of its rows and
    a delete of the episode's rows no longer in the record. Nothing is read first and nothing
    read back: the case row keeps a digest of what was last written (``sync_digest``) and one
    of each table (``sync_parts``), and its upsert returns the tables' digests as they were
    before it (``sync_parts_before``), so only the tables that changed are written, and a new
    episode's only inserted (it has no rows to delete). A row written before the tables had
    digests (none before) is written in full.

    An erased episode is never written again (its personal data would come back): the sync
    changes nothing."""
    ref, episode = record.case, record.episode
    now = datetime.now(UTC)
    values = _columns(record.case_row)
    items = _items(record)
    schools = tuple(record.schools)
    decision = _columns(record.decision) if record.decision is not None else None
    sent = record.sent
    stage = record.case_row.stage.value
    parts = _parts(items, schools, decision, sent)
    formatted = _format_parts(parts)
    digest = _digest(values, formatted)

    connection = session.connection()
    row = {
        **values,
        "updated_at": now,
        "sync_digest": digest,
        "sync_parts": f"{digest}{formatted}",
        "sync_parts_before": _NEW_EPISODE,
    }
    written = connection.execute(
        _case_upsert(connection.dialect.name, tuple(row)),
        {"case_ref": ref, "episode": episode, **row},
    ).first()
    if written is None:
        # The same digest (nothing changed), or an erased episode: nothing is written.
        session.rollback()
        return Synced(case_ref=ref, episode=episode, stage=stage, changed=False)

    before = written.sync_parts_before
    new = before == _NEW_EPISODE
    # None: written by a worker that knows no parts since this row's parts were (or never with
    # parts); every table is written.
    was = {} if before is None else _parse_parts(before[_DIGEST_LENGTH:])

    def changed(part: str) -> bool:
        return was.get(part) != parts[part]

    key = {"b_ref": ref, "b_episode": episode}
    item_key = ("case_ref", "episode", "id")
    for item_table, rows in items.items():
        if changed(item_table.__tablename__):
            _upsert_all(
                connection,
                item_table.__table__,
                item_key,
                [{"case_ref": ref, "episode": episode, "id": i, **v} for i, v in rows.items()],
                key,
                prune=not new,
            )
    if changed("case_school"):
        _upsert_all(
            connection,
            CaseSchoolRow.__table__,  # type: ignore[attr-defined]
            ("case_ref", "episode", "laestab"),
            [{"case_ref": ref, "episode": episode, "laestab": laestab} for laestab in schools],
            key,
            prune=not new,
        )
    decision_table: Table = DecisionRow.__table__  # type: ignore[attr-defined]
    if changed("decision") and decision is not None:
        connection.execute(
            _items_upsert(
                connection.dialect.name, decision_table, ("case_ref", "episode"), tuple(decision)
            ),
            [{"case_ref": ref, "episode": episode, **decision}],
        )
    elif changed("decision") and not new:
        connection.execute(_episode_delete(decision_table), key)
    if changed("sent"):
        _reconcile_outbox(connection=connection, episode=key, sent=sent)
    session.commit()
    return Synced(case_ref=ref, episode=episode, stage=stage, changed=True)


# -- the outbox ------------------------------------------------------------------------------------


def message_id_for(*, case: str, episode: int, purpose: str, domain: str) -> str:
    """The Message-ID of the one message for (case, episode, purpose): the same on every attempt,
    with or without the register. Episode 1 keeps version 1's derivation (case and purpose), so a
    message first sent before the upgrade keeps its Message-ID when it is sent again."""
    key = f"{case}\x00{purpose}" if episode == 1 else f"{case}\x00{episode}\x00{purpose}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"<{digest}.{case.lower()}@{domain}>"


def _outbox_statement(case: str, episode: int, purpose: str) -> Any:
    return select(NotificationRow).where(
        NotificationRow.case_ref == case,
        NotificationRow.episode == episode,
        NotificationRow.purpose == purpose,
    )


# The outbox's statements, like the sync's, are built once per process (and dialect), their values
# bound at execution: a claim and a delivery are each one statement on the row, rather than the
# ORM's read, insert and update, and nothing is tracked in a session.


@functools.cache
def _outbox_claim(dialect: str) -> Any:
    """The row of (case, episode, purpose) written for a new attempt, unless it was sent: a new
    row as given; a row not yet sent takes the attempt's text and recipients, is pending again
    and counts the attempt. Returns the row it wrote (none: the row was sent)."""
    table: Table = NotificationRow.__table__  # type: ignore[attr-defined]
    statement = _insert(dialect, table)
    attempt = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=["case_ref", "episode", "purpose"],
        set_={
            "template": attempt.template,
            "subject": attempt.subject,
            "body": attempt.body,
            "recipients": attempt.recipients,
            "status": attempt.status,
            "attempts": table.c.attempts + 1,
            "last_attempt_at": attempt.last_attempt_at,
        },
        where=table.c.status != OutboxStatus.SENT.value,
    ).returning(*table.c)


def _outbox_key(table: Table) -> Any:
    return (
        (table.c.case_ref == bindparam("b_ref"))
        & (table.c.episode == bindparam("b_episode"))
        & (table.c.purpose == bindparam("b_purpose"))
    )


@functools.cache
def _outbox_row() -> Any:
    table: Table = NotificationRow.__table__  # type: ignore[attr-defined]
    return sa_select(*table.c).where(_outbox_key(table))


@functools.cache
def _outbox_delivered(finished: bool) -> Any:
    """A row not yet sent: the recipients delivered to; ``finished``, sent (when, no detail)."""
    table: Table = NotificationRow.__table__  # type: ignore[attr-defined]
    values: dict[str, Any] = {"delivered_to": bindparam("p_delivered_to", type_=JSON)}
    if finished:
        values |= {
            "status": OutboxStatus.SENT.value,
            "sent_at": bindparam("p_sent_at", type_=_tz_column()),
            "detail": None,
        }
    return (
        update(table)
        .where(_outbox_key(table), table.c.status != OutboxStatus.SENT.value)
        .values(values)
    )


def claim_notification(
    *,
    session: Session,
    case: str,
    episode: int,
    purpose: str,
    template: str,
    subject: str,
    body: str,
    recipients: list[str],
    message_id: str,
) -> OutboxMessage:
    """The outbox row of (case, episode, purpose), written now if there is none, before sending.

    A row already sent is returned as it is (nothing to send). A row not yet sent keeps its
    Message-ID and the recipients already delivered to, takes this attempt's subject, body and
    recipients (rendered from the same notification, so the same text, but with an address
    corrected in the settings since), and counts the attempt.

    One statement (``INSERT .. ON CONFLICT DO UPDATE .. WHERE`` not sent), so two attempts at
    the same moment each count and neither fails; a sent row is then read as it is.
    """
    now = datetime.now(UTC)
    connection = session.connection()
    row = connection.execute(
        _outbox_claim(connection.dialect.name),
        {
            "case_ref": case,
            "episode": episode,
            "purpose": purpose,
            "template": template,
            "subject": subject,
            "body": body,
            "recipients": list(recipients),
            "delivered_to": [],
            "message_id": message_id,
            "status": OutboxStatus.PENDING.value,
            "created_at": now,
            "last_attempt_at": now,
            "sent_at": None,
            "attempts": 1,
            "detail": None,
        },
    ).first()
    if row is None:  # sent already: nothing was written
        row = connection.execute(
            _outbox_row(), {"b_ref": case, "b_episode": episode, "b_purpose": purpose}
        ).one()
    claimed = OutboxMessage.model_validate(row._asdict())
    session.commit()
    return claimed


def mark_notification_sent(
    *,
    session: Session,
    case: str,
    episode: int,
    purpose: str,
    at: datetime,
    delivered_to: list[str],
) -> None:
    """Record the recipients the mail server accepted the message for; with every recipient
    done, the message is sent. No row (it could not be written before sending): nothing to do."""
    connection = session.connection()
    key = {"b_ref": case, "b_episode": episode, "b_purpose": purpose}
    row = connection.execute(_outbox_row(), key).first()
    if row is None or row.status == OutboxStatus.SENT.value:
        session.rollback()
        return
    done = list(row.delivered_to)
    for address in delivered_to:
        if address.lower() not in (a.lower() for a in done):
            done.append(address)
    finished = not {a.lower() for a in row.recipients} - {a.lower() for a in done}
    values = {**key, "p_delivered_to": done}
    if finished:
        values["p_sent_at"] = _utc(at)
    connection.execute(_outbox_delivered(finished), values)
    session.commit()


def mark_notification_rejected(
    *, session: Session, case: str, episode: int, purpose: str, detail: str
) -> None:
    """Record that the mail server refused the message for good; ``detail`` says why and holds
    no personal data."""
    row = session.exec(_outbox_statement(case, episode, purpose)).first()
    if row is None or row.status == OutboxStatus.SENT.value:
        return
    row.status = OutboxStatus.REJECTED.value
    row.detail = detail
    session.commit()


# -- reading ---------------------------------------------------------------------------------------


def latest_episode(*, session: Session, case: str) -> int | None:
    """The case's latest episode the register holds (``None``: it has none)."""
    value = session.exec(select(func.max(CaseRow.episode)).where(CaseRow.case_ref == case)).one()
    return int(value) if value is not None else None


def _episode_or_latest(session: Session, case: str, episode: int | None) -> int | None:
    return episode if episode is not None else latest_episode(session=session, case=case)


def get_case(*, session: Session, case: str, episode: int | None = None) -> CasePublic | None:
    """An episode of the case: the latest one unless ``episode`` is given."""
    number = _episode_or_latest(session, case, episode)
    if number is None:
        return None
    row = session.get(CaseRow, (case, number))
    return CasePublic.model_validate(row) if row is not None else None


def list_episodes(*, session: Session, case: str) -> list[CasePublic]:
    """Every episode of the case, oldest first."""
    statement = select(CaseRow).where(CaseRow.case_ref == case).order_by(col(CaseRow.episode))
    return [CasePublic.model_validate(row) for row in session.exec(statement)]


@functools.cache
def _earlier_episodes_query() -> Any:
    """The columns of a child's episodes a new episode reads, oldest first (built once)."""
    table: Table = CaseRow.__table__  # type: ignore[attr-defined]
    columns = [table.c[name] for name in EpisodeSummary.model_fields]
    return (
        sa_select(*columns).where(table.c.case_ref == bindparam("b_ref")).order_by(table.c.episode)
    )


def earlier_episodes(*, session: Session, case: str) -> list[EpisodeSummary]:
    """The child's episodes the register holds, oldest first, as a new episode sees them: how
    each ended. An episode the register never saw close (its last sync failed, or its workflow
    was ended by hand) is listed too, without an outcome, so that the new episode's number never
    reuses one. Read with SQLAlchemy Core, only the columns it needs: every new case asks, and
    loading whole rows through the ORM was 2% of a worker's time opening cases (issue 11)."""
    rows = session.connection().execute(_earlier_episodes_query(), {"b_ref": case})
    return [
        EpisodeSummary.model_validate(
            {
                name: _utc(value) if isinstance(value, datetime) else value
                for name, value in row._mapping.items()
            }
        )
        for row in rows
    ]


def list_cases(
    *,
    session: Session,
    kind: str | None = None,
    stage: str | None = None,
    school: str | None = None,
    overdue: bool | None = None,
    child_protection: bool | None = None,
    repeat: bool | None = None,
    problems: bool | None = None,
    all_episodes: bool = False,
) -> list[CasePublic]:
    """Cases matching every filter given, oldest first: each case's latest episode, or every
    episode with ``all_episodes``. ``problems``: whether the episode has open problems."""
    statement = select(CaseRow)
    if not all_episodes:
        latest = (
            select(CaseRow.case_ref, func.max(CaseRow.episode).label("episode"))
            .group_by(col(CaseRow.case_ref))
            .subquery()
        )
        statement = statement.join(
            latest,
            (col(CaseRow.case_ref) == latest.c.case_ref)
            & (col(CaseRow.episode) == latest.c.episode),
        )
    if kind is not None:
        statement = statement.where(CaseRow.kind == str(kind))
    if stage is not None:
        statement = statement.where(CaseRow.stage == str(stage))
    if school is not None:
        statement = statement.where(CaseRow.school_laestab == school)
    if overdue is not None:
        statement = statement.where(CaseRow.overdue == overdue)
    if child_protection is not None:
        statement = statement.where(CaseRow.child_protection == child_protection)
    if repeat is not None:
        statement = statement.where(CaseRow.repeat == repeat)
    if problems is not None:
        statement = statement.where(
            col(CaseRow.open_problems) > 0 if problems else col(CaseRow.open_problems) == 0
        )
    statement = statement.order_by(
        col(CaseRow.opened_at), col(CaseRow.case_ref), col(CaseRow.episode)
    )
    return [CasePublic.model_validate(row) for row in session.exec(statement)]


def _items_of(
    session: Session, table: Any, public: Any, case: str, episode: int | None
) -> list[Any]:
    number = _episode_or_latest(session, case, episode)
    if number is None:
        return []
    statement = (
        select(table).where(table.case_ref == case, table.episode == number).order_by(col(table.id))
    )
    return [public.model_validate(row) for row in session.exec(statement)]


def list_enquiries(
    *, session: Session, case: str, episode: int | None = None
) -> list[EnquiryPublic]:
    return _items_of(session, EnquiryRow, EnquiryPublic, case, episode)


def list_tasks(*, session: Session, case: str, episode: int | None = None) -> list[TaskPublic]:
    return _items_of(session, TaskRow, TaskPublic, case, episode)


def list_escalations(
    *, session: Session, case: str, episode: int | None = None
) -> list[EscalationPublic]:
    return _items_of(session, EscalationRow, EscalationPublic, case, episode)


def list_problems(
    *, session: Session, case: str, episode: int | None = None, open_only: bool = False
) -> list[ProblemPublic]:
    problems: list[ProblemPublic] = _items_of(session, ProblemRow, ProblemPublic, case, episode)
    return [p for p in problems if p.cleared_at is None] if open_only else problems


def get_decision(
    *, session: Session, case: str, episode: int | None = None
) -> DecisionPublic | None:
    number = _episode_or_latest(session, case, episode)
    if number is None:
        return None
    row = session.get(DecisionRow, (case, number))
    return DecisionPublic.model_validate(row) if row is not None else None


def list_notifications(
    *, session: Session, case: str, episode: int | None = None
) -> list[NotificationPublic]:
    """The outbox of an episode (the case's latest, else the latest the outbox holds), in the
    order the emails were first written."""
    number = episode
    if number is None:
        number = latest_episode(session=session, case=case)
    if number is None:
        found = session.exec(
            select(func.max(NotificationRow.episode)).where(NotificationRow.case_ref == case)
        ).one()
        number = int(found) if found is not None else None
    if number is None:
        return []
    statement = (
        select(NotificationRow)
        .where(NotificationRow.case_ref == case, NotificationRow.episode == number)
        .order_by(col(NotificationRow.created_at), col(NotificationRow.purpose))
    )
    return [NotificationPublic.model_validate(row) for row in session.exec(statement)]


# -- erasure ---------------------------------------------------------------------------------------


class ErasureBase(_Model):
    """A case erased (retention rule or request): when, why, by whom, what was erased and the
    anonymous facts kept. No personal data: the case reference (a keyed hash, not the child's
    identity), dates, codes and counts; ``erased_by`` is an officer's name (or the service's),
    never the child's. One row per (case, latest episode erased): erasing again records nothing
    new; a case erased, then referred again, is erased again through its new episode."""

    case_ref: str = Field(primary_key=True, max_length=40)
    # The case's latest episode when it was erased (0: the register held none).
    through_episode: int = Field(primary_key=True)
    erased_at: datetime = Field(sa_type=_tz_column(), index=True)
    rule: str = Field(index=True, max_length=20)  # retention | request
    reason: str = Field(max_length=40)  # domain.retention.ErasureReason
    erased_by: str = Field(max_length=200)
    erased_by_role: str = Field(max_length=40)
    retention_years: int | None = None  # the rule's period, for a retention erasure
    episodes: int = 0  # episodes whose personal data was removed from the register
    key_shredded: bool = False  # the case's data key was destroyed by this erasure
    emails_deleted: int = 0  # .eml files deleted from the mail folder
    # The anonymous facts kept, per episode (see :data:`KEPT_FACTS`).
    facts: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)


class ErasureRow(ErasureBase, table=True):
    __tablename__ = "erasure"
    __table_args__ = (CheckConstraint("rule IN ('retention', 'request')", name="rule"),)


class ErasurePublic(ErasureBase, _UtcTimes):
    pass


# The columns of an episode that hold the child's personal data, or free text that can.
PERSONAL_CASE_FIELDS = ("upn", "first_name", "last_name", "date_of_birth")
# The anonymous facts of an episode an erasure keeps (in the register's rows, and in the erasure
# record): dates, stage, kind, outcome, ground, school, episode and flags.
KEPT_FACTS = (
    "episode",
    "kind",
    "stage",
    "school_laestab",
    "child_protection",
    "repeat",
    "opened_at",
    "closed_at",
    "day1",
    "rulebook",
    "decision",
    "investigation_outcome",
    "ground",
    "earliest_deletion_date",
    "ctf_destination",
)


@dataclass(frozen=True)
class Erased:
    """What :func:`erase_personal_data` did: the episodes it went through (oldest first) and
    their anonymous facts, as kept."""

    case_ref: str
    episodes: list[int]
    facts: list[dict[str, Any]]


def _fact(value: Any) -> Any:
    if isinstance(value, datetime):
        return _utc(value).isoformat()  # type: ignore[union-attr]
    if isinstance(value, date):
        return value.isoformat()
    return value


def erase_personal_data(*, session: Session, case: str, at: datetime | None = None) -> Erased:
    """Remove the child's personal data from every episode of ``case``: the child's names, date
    of birth and UPN; the free texts that can hold personal data (enquiry notes, escalation
    reasons, closure reasons); every email's subject, body and recipients' addresses (the
    outbox keeps each email's purpose, kind, dates and status). Kept: dates, stage, kind,
    outcome, ground, school, episode and flags, and the officers' names.

    Idempotent: erasing again changes nothing (an episode keeps the moment it was first
    erased, ``erased_at``). It does not check that the case is closed: the caller does."""
    now = _utc(at) or datetime.now(UTC)
    rows = list(
        session.exec(select(CaseRow).where(CaseRow.case_ref == case).order_by(col(CaseRow.episode)))
    )
    for row in rows:
        for name in PERSONAL_CASE_FIELDS:
            setattr(row, name, None)
        if row.erased_at is None:
            row.erased_at = now
    for enquiry in session.exec(select(EnquiryRow).where(EnquiryRow.case_ref == case)):
        enquiry.note = None
    for escalation in session.exec(select(EscalationRow).where(EscalationRow.case_ref == case)):
        escalation.reason = None
    for decision in session.exec(select(DecisionRow).where(DecisionRow.case_ref == case)):
        decision.closure_reason = None
    for email in session.exec(select(NotificationRow).where(NotificationRow.case_ref == case)):
        email.subject = None
        email.body = None
        email.recipients = []
        email.delivered_to = []
    facts = [{name: _fact(getattr(row, name)) for name in KEPT_FACTS} for row in rows]
    episodes = [row.episode for row in rows]
    session.commit()
    return Erased(case_ref=case, episodes=episodes, facts=facts)


def expired_cases(
    *,
    session: Session,
    closed_before: datetime,
    after: str | None = None,
    limit: int | None = None,
) -> list[str]:
    """Cases whose latest episode closed before ``closed_before`` and is not erased yet, in
    case-reference order (``after``: only those after that reference; ``limit``: at most that
    many). A child with a newer episode still open is never expired, and neither is an episode
    the register never saw close."""
    latest = (
        select(CaseRow.case_ref, func.max(CaseRow.episode).label("episode"))
        .group_by(col(CaseRow.case_ref))
        .subquery()
    )
    statement = (
        select(CaseRow.case_ref)
        .join(
            latest,
            (col(CaseRow.case_ref) == latest.c.case_ref)
            & (col(CaseRow.episode) == latest.c.episode),
        )
        .where(
            CaseRow.stage == "closed",
            col(CaseRow.closed_at).is_not(None),
            col(CaseRow.closed_at) < _utc(closed_before),
            col(CaseRow.erased_at).is_(None),
        )
        .order_by(col(CaseRow.case_ref))
    )
    if after is not None:
        statement = statement.where(col(CaseRow.case_ref) > after)
    if limit is not None:
        statement = statement.limit(limit)
    return list(session.exec(statement))


def get_erasure(*, session: Session, case: str) -> ErasurePublic | None:
    """The case's latest recorded erasure (``None``: never erased)."""
    row = session.exec(
        select(ErasureRow)
        .where(ErasureRow.case_ref == case)
        .order_by(col(ErasureRow.through_episode).desc())
    ).first()
    return ErasurePublic.model_validate(row) if row is not None else None


def list_erasures(*, session: Session, since: datetime | None = None) -> list[ErasurePublic]:
    """Every erasure recorded (since ``since``), oldest first: the LA's record of erasures."""
    statement = select(ErasureRow)
    if since is not None:
        statement = statement.where(col(ErasureRow.erased_at) >= _utc(since))
    statement = statement.order_by(col(ErasureRow.erased_at), col(ErasureRow.case_ref))
    return [ErasurePublic.model_validate(row) for row in session.exec(statement)]


def record_erasure(
    *,
    session: Session,
    case: str,
    rule: str,
    reason: str,
    erased_by: str,
    erased_by_role: str,
    erased: Erased,
    key_shredded: bool,
    emails_deleted: int,
    retention_years: int | None = None,
    at: datetime | None = None,
) -> tuple[ErasurePublic, bool]:
    """Record that ``case`` was erased (through its latest episode); the record, and whether it
    is new. Recorded once: an erasure already recorded through the same episode is returned as
    it is (the first one's moment, rule and counts)."""
    through = max(erased.episodes, default=0)
    existing = session.get(ErasureRow, (case, through))
    if existing is not None:
        return ErasurePublic.model_validate(existing), False
    row = ErasureRow(
        case_ref=case,
        through_episode=through,
        erased_at=_utc(at) or datetime.now(UTC),
        rule=rule,
        reason=reason,
        erased_by=erased_by,
        erased_by_role=erased_by_role,
        retention_years=retention_years,
        episodes=len(erased.episodes),
        key_shredded=key_shredded,
        emails_deleted=emails_deleted,
        facts=erased.facts,
    )
    session.add(row)
    try:
        session.commit()
    except IntegrityError:  # recorded at the same moment by another attempt
        session.rollback()
        existing = session.get(ErasureRow, (case, through))
        if existing is None:
            raise
        return ErasurePublic.model_validate(existing), False
    return ErasurePublic.model_validate(row), True


# The web app's accounts, sessions and sign-in audit, and the API's clients, are the register's
# tables too: imported here so that METADATA (and so Alembic) always has them.
import activities.accounts  # noqa: E402
import activities.api_clients  # noqa: E402, F401
