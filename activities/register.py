"""The case register: a relational copy of every case's state, for the LA's reports and the CLI,
and the outbox of notifications.

Tables (SQLModel, one family per table: ``...Base`` fields, the ``...Row`` table, a ``...Public``
read model):

* ``cme_case``: one row per case: where it stands, its next deadline, the outcome, and the child's
  identity (UPN, name, date of birth) for the LA's own reports. The identity never goes to logs;
* ``enquiry``, ``task``, ``escalation``: the case's lists, one row per item, keyed by
  (case, id of the item in the case);
* ``decision``: how the case ended (deletion authorisation or closure decision), once it has;
* ``notification``: the outbox, one row per (case, purpose), see
  :mod:`activities.case_activities`.

The workflow is the source of truth; :func:`upsert_case` mirrors its state, so syncing a state
twice leaves the same rows, and items no longer in the state are removed.

Functions are keyword-only and take the session, and commit their own work. The schema is created
by an explicit step, :func:`create_register_schema`, never on import.
"""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pydantic import field_validator
from sqlalchemy import JSON, DateTime, Engine, Text, UniqueConstraint
from sqlalchemy import event as sa_event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, create_engine, select

from domain.case.model import Actor
from domain.case.state import CaseState

# -- engine and schema -----------------------------------------------------------------------------


def make_engine(url: str) -> Engine:
    """An engine on the register at ``url``.

    SQLite (``sqlite:///path/register.db``): the file's directory is created, foreign keys are
    enforced and the journal is WAL so the CLI can read while the worker writes. PostgreSQL:
    ``postgresql+psycopg://user:password@host:5432/db`` (``postgresql://`` is taken to mean
    psycopg 3, the driver installed).
    """
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url.removeprefix(prefix)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)
        sa_event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def create_register_schema(engine: Engine) -> None:
    """Create the register's tables that do not exist yet."""
    SQLModel.metadata.create_all(engine)


# -- helpers ---------------------------------------------------------------------------------------


def _utc(value: datetime | None) -> datetime | None:
    """Aware UTC (a naive value, as SQLite returns them, is taken to be UTC already)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, datetime) and isinstance(b, datetime):
        return _utc(a) == _utc(b)
    return bool(a == b)


def _assign(row: SQLModel, values: dict[str, Any]) -> bool:
    """Set ``values`` on ``row``; whether anything changed."""
    changed = False
    for name, value in values.items():
        if not _same(getattr(row, name), value):
            setattr(row, name, value)
            changed = True
    return changed


def _tz_column() -> Any:
    return DateTime(timezone=True)


def _case_ref_key() -> Any:
    """Key column of a case's item: part of the primary key, and a reference to its case."""
    return Field(
        primary_key=True, foreign_key="cme_case.case_ref", ondelete="CASCADE", max_length=40
    )


class _UtcTimes(SQLModel):
    """Read models: datetimes come back aware, in UTC, whichever database holds them."""

    @field_validator("*", mode="after")
    @classmethod
    def _aware(cls, value: Any) -> Any:
        return _utc(value) if isinstance(value, datetime) else value


# -- cme_case --------------------------------------------------------------------------------------


class CaseBase(SQLModel):
    case_ref: str = Field(primary_key=True, max_length=40)
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
    # the child's identity, for the LA's own reports only
    upn: str | None = Field(default=None, index=True, max_length=13)
    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)
    date_of_birth: date
    # the outcome, once there is one
    decision: str | None = Field(default=None, max_length=40)
    investigation_outcome: str | None = Field(default=None, max_length=40)
    ground: str | None = Field(default=None, max_length=20)
    earliest_deletion_date: date | None = None
    ctf_destination: str | None = Field(default=None, max_length=8)
    closed_at: datetime | None = Field(default=None, sa_type=_tz_column())
    updated_at: datetime = Field(sa_type=_tz_column())


class CaseRow(CaseBase, table=True):
    __tablename__ = "cme_case"


class CasePublic(CaseBase, _UtcTimes):
    pass


# -- enquiry, task, escalation, decision -----------------------------------------------------------


class EnquiryBase(SQLModel):
    case_ref: str = _case_ref_key()
    id: int = Field(primary_key=True)
    made_by: str = Field(max_length=20)  # school or la
    kind: str = Field(max_length=40)
    made_on: date
    outcome: str = Field(max_length=40)
    note: str = Field(default="", sa_type=Text)
    recorded_by: str = Field(max_length=200)
    recorded_by_role: str = Field(max_length=40)
    recorded_at: datetime = Field(sa_type=_tz_column())


class EnquiryRow(EnquiryBase, table=True):
    __tablename__ = "enquiry"


class EnquiryPublic(EnquiryBase, _UtcTimes):
    pass


class TaskBase(SQLModel):
    case_ref: str = _case_ref_key()
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


class TaskPublic(TaskBase, _UtcTimes):
    pass


class EscalationBase(SQLModel):
    case_ref: str = _case_ref_key()
    id: int = Field(primary_key=True)
    kind: str = Field(index=True, max_length=40)
    raised_at: datetime = Field(sa_type=_tz_column())
    reason: str = Field(sa_type=Text)
    raised_by: str = Field(max_length=200)
    raised_by_role: str = Field(max_length=40)


class EscalationRow(EscalationBase, table=True):
    __tablename__ = "escalation"


class EscalationPublic(EscalationBase, _UtcTimes):
    pass


class DecisionBase(SQLModel):
    case_ref: str = _case_ref_key()
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


class DecisionPublic(DecisionBase, _UtcTimes):
    pass


# -- notification (the outbox) ---------------------------------------------------------------------


class NotificationBase(SQLModel):
    case_ref: str = Field(index=True, max_length=40)
    purpose: str = Field(max_length=200)
    template: str = Field(max_length=40)
    subject: str = Field(sa_type=Text)
    recipients: list[str] = Field(default_factory=list, sa_type=JSON)
    message_id: str = Field(max_length=300)
    created_at: datetime = Field(sa_type=_tz_column())
    sent_at: datetime | None = Field(default=None, sa_type=_tz_column())
    attempts: int = 0  # sends started; more than 1 means a resend with the same Message-ID


class NotificationRow(NotificationBase, table=True):
    __tablename__ = "notification"
    __table_args__ = (UniqueConstraint("case_ref", "purpose", name="uq_notification_case_purpose"),)
    id: int | None = Field(default=None, primary_key=True)
    body: str = Field(sa_type=Text)


class NotificationPublic(NotificationBase, _UtcTimes):
    id: int


class OutboxMessage(NotificationPublic):
    """An outbox row with the text to send (the body names the pupil: never log it)."""

    body: str


# -- writing ---------------------------------------------------------------------------------------


def _actor(actor: Actor) -> tuple[str, str]:
    return actor.name, actor.role.value


def _case_values(state: CaseState) -> dict[str, Any]:
    child = state.child
    outcome = state.outcome
    conclusion = state.conclusion
    return {
        "kind": state.kind.value,
        "stage": state.stage.value,
        "school_laestab": state.school_laestab,
        "child_protection": state.child_protection,
        "opened_at": _utc(state.opened_at),
        "next_deadline": state.next_deadline,
        "overdue": state.overdue,
        "assigned_officer": state.assigned_officer,
        "referrals_received": state.referrals_received,
        "rulebook": state.rulebook.value if state.rulebook is not None else None,
        "day1": state.day1,
        "upn": child.upn,
        "first_name": child.first_name,
        "last_name": child.last_name,
        "date_of_birth": child.date_of_birth,
        "decision": outcome.decision.value if outcome else None,
        "investigation_outcome": conclusion.outcome.value if conclusion else None,
        "ground": outcome.ground if outcome else None,
        "earliest_deletion_date": outcome.earliest_deletion_date if outcome else None,
        "ctf_destination": outcome.ctf_destination if outcome else None,
        "closed_at": _utc(outcome.decided_at) if outcome else None,
    }


def _children(state: CaseState) -> dict[Any, dict[int, dict[str, Any]]]:
    enquiries: dict[int, dict[str, Any]] = {}
    for logged in state.enquiries:
        by, by_role = _actor(logged.recorded_by)
        enquiries[logged.id] = {
            "made_by": logged.enquiry.by.value,
            "kind": logged.enquiry.kind.value,
            "made_on": logged.enquiry.made_on,
            "outcome": logged.enquiry.outcome.value,
            "note": logged.enquiry.note,
            "recorded_by": by,
            "recorded_by_role": by_role,
            "recorded_at": _utc(logged.recorded_at),
        }
    tasks: dict[int, dict[str, Any]] = {}
    for task in state.tasks:
        done_by, done_role = _actor(task.done_by) if task.done_by else (None, None)
        tasks[task.id] = {
            "name": task.name.value,
            "assignee": task.assignee.value,
            "status": task.status.value,
            "opened_at": _utc(task.opened_at),
            "due": task.due,
            "overdue": task.overdue,
            "done_by": done_by,
            "done_by_role": done_role,
            "done_at": _utc(task.done_at),
        }
    escalations: dict[int, dict[str, Any]] = {}
    for escalation in state.escalations:
        raised_by, raised_role = _actor(escalation.raised_by)
        escalations[escalation.id] = {
            "kind": escalation.kind.value,
            "raised_at": _utc(escalation.at),
            "reason": escalation.reason,
            "raised_by": raised_by,
            "raised_by_role": raised_role,
        }
    return {EnquiryRow: enquiries, TaskRow: tasks, EscalationRow: escalations}


def _decision_values(state: CaseState) -> dict[str, Any] | None:
    outcome = state.outcome
    if outcome is None:
        return None
    decided_by, decided_role = _actor(outcome.decided_by)
    return {
        "decision": outcome.decision.value,
        "investigation_outcome": (
            outcome.investigation_outcome.value if outcome.investigation_outcome else None
        ),
        "closure_reason": outcome.closure_reason,
        "rulebook": outcome.rulebook.value if outcome.rulebook else None,
        "ground": outcome.ground,
        "ground_title": outcome.ground_title,
        "ground_other_rulebook": outcome.ground_other_rulebook,
        "earliest_deletion_date": outcome.earliest_deletion_date,
        "ctf_destination": outcome.ctf_destination,
        "decided_by": decided_by,
        "decided_by_role": decided_role,
        "decided_at": _utc(outcome.decided_at),
        "duplicate_of": outcome.duplicate_of,
    }


def _mirror_items(
    *, session: Session, table: Any, case: str, items: dict[int, dict[str, Any]]
) -> bool:
    """Make ``table`` hold exactly ``items`` (by id) of ``case``; whether anything changed."""
    changed = False
    existing = {r.id: r for r in session.exec(select(table).where(table.case_ref == case))}
    for item_id, values in items.items():
        row = existing.pop(item_id, None)
        if row is None:
            session.add(table(case_ref=case, id=item_id, **values))
            changed = True
        elif _assign(row, values):
            changed = True
    for stale in existing.values():
        session.delete(stale)
        changed = True
    return changed


def upsert_case(*, session: Session, state: CaseState) -> CasePublic:
    """Make the register hold ``state``: the case row, its items and its decision. Idempotent.

    ``updated_at`` moves only when something changed.
    """
    ref = state.case
    now = datetime.now(UTC)
    changed = False

    row = session.get(CaseRow, ref)
    values = _case_values(state)
    if row is None:
        row = CaseRow(case_ref=ref, updated_at=now, **values)
        session.add(row)
        session.flush()  # the children's foreign key needs the case row
        changed = True
    else:
        changed = _assign(row, values)

    for table, items in _children(state).items():
        if _mirror_items(session=session, table=table, case=ref, items=items):
            changed = True

    decision = session.get(DecisionRow, ref)
    decision_values = _decision_values(state)
    if decision_values is None:
        if decision is not None:
            session.delete(decision)
            changed = True
    elif decision is None:
        session.add(DecisionRow(case_ref=ref, **decision_values))
        changed = True
    elif _assign(decision, decision_values):
        changed = True

    if changed:
        row.updated_at = now
    session.commit()
    session.refresh(row)
    return CasePublic.model_validate(row)


def message_id_for(*, case: str, purpose: str, domain: str) -> str:
    """The Message-ID of the one message for (case, purpose): the same on every attempt."""
    digest = hashlib.sha256(f"{case}\x00{purpose}".encode()).hexdigest()[:32]
    return f"<{digest}.{case.lower()}@{domain}>"


def claim_notification(
    *,
    session: Session,
    case: str,
    purpose: str,
    template: str,
    subject: str,
    body: str,
    recipients: list[str],
    message_id: str,
) -> OutboxMessage:
    """The outbox row of (case, purpose), written now if there is none.

    Returns the stored row: a row written by an earlier attempt keeps its subject, body,
    recipients and Message-ID, so a resend is the same message. When the row is not yet sent,
    ``attempts`` counts this attempt.
    """
    statement = select(NotificationRow).where(
        NotificationRow.case_ref == case, NotificationRow.purpose == purpose
    )
    row = session.exec(statement).first()
    if row is None:
        row = NotificationRow(
            case_ref=case,
            purpose=purpose,
            template=template,
            subject=subject,
            body=body,
            recipients=recipients,
            message_id=message_id,
            created_at=datetime.now(UTC),
        )
        session.add(row)
        try:
            session.flush()
        except IntegrityError:  # written at the same moment by another attempt
            session.rollback()
            row = session.exec(statement).one()
    if row.sent_at is None:
        row.attempts += 1
    session.commit()
    session.refresh(row)
    return OutboxMessage.model_validate(row)


def mark_notification_sent(*, session: Session, case: str, purpose: str, at: datetime) -> None:
    """Record that the message of (case, purpose) was accepted by the mail server."""
    row = session.exec(
        select(NotificationRow).where(
            NotificationRow.case_ref == case, NotificationRow.purpose == purpose
        )
    ).one()
    if row.sent_at is None:
        row.sent_at = _utc(at)
        session.commit()


# -- reading ---------------------------------------------------------------------------------------


def get_case(*, session: Session, case: str) -> CasePublic | None:
    row = session.get(CaseRow, case)
    return CasePublic.model_validate(row) if row is not None else None


def list_cases(
    *,
    session: Session,
    kind: str | None = None,
    stage: str | None = None,
    school: str | None = None,
    overdue: bool | None = None,
    child_protection: bool | None = None,
) -> list[CasePublic]:
    """Cases matching every filter given, oldest first."""
    statement = select(CaseRow)
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
    statement = statement.order_by(col(CaseRow.opened_at), col(CaseRow.case_ref))
    return [CasePublic.model_validate(row) for row in session.exec(statement)]


def list_enquiries(*, session: Session, case: str) -> list[EnquiryPublic]:
    statement = select(EnquiryRow).where(EnquiryRow.case_ref == case).order_by(col(EnquiryRow.id))
    return [EnquiryPublic.model_validate(row) for row in session.exec(statement)]


def list_tasks(*, session: Session, case: str) -> list[TaskPublic]:
    statement = select(TaskRow).where(TaskRow.case_ref == case).order_by(col(TaskRow.id))
    return [TaskPublic.model_validate(row) for row in session.exec(statement)]


def list_escalations(*, session: Session, case: str) -> list[EscalationPublic]:
    statement = (
        select(EscalationRow).where(EscalationRow.case_ref == case).order_by(col(EscalationRow.id))
    )
    return [EscalationPublic.model_validate(row) for row in session.exec(statement)]


def get_decision(*, session: Session, case: str) -> DecisionPublic | None:
    row = session.get(DecisionRow, case)
    return DecisionPublic.model_validate(row) if row is not None else None


def list_notifications(*, session: Session, case: str) -> list[NotificationPublic]:
    statement = (
        select(NotificationRow)
        .where(NotificationRow.case_ref == case)
        .order_by(col(NotificationRow.id))
    )
    return [NotificationPublic.model_validate(row) for row in session.exec(statement)]
