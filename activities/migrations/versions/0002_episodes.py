"""Episodes: every table keyed by (case_ref, episode[, id]); cme_case gains repeat and
open_problems; a problem table; the outbox keyed by (case_ref, episode, purpose) with a status and
the recipients already delivered to. Existing rows become episode 1 (not a repeat, no open
problems; an outbox row is sent if it had been, else pending).

Every key changes, so each table is rebuilt the same way on SQLite and PostgreSQL: the new table
is created beside the old one, the rows copied, the old table dropped and the new one renamed.
Constraints get the names of :data:`activities.register.NAMING_CONVENTION`.

Revision ID: 0002
Revises: 0001
Create Date: 2026-03-02
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Columns kept as they were, per table.
CASE_COLUMNS = [
    "case_ref",
    "kind",
    "stage",
    "school_laestab",
    "child_protection",
    "opened_at",
    "next_deadline",
    "overdue",
    "assigned_officer",
    "referrals_received",
    "rulebook",
    "day1",
    "upn",
    "first_name",
    "last_name",
    "date_of_birth",
    "decision",
    "investigation_outcome",
    "ground",
    "earliest_deletion_date",
    "ctf_destination",
    "closed_at",
    "updated_at",
]
ENQUIRY_COLUMNS = [
    "case_ref",
    "id",
    "made_by",
    "kind",
    "made_on",
    "outcome",
    "note",
    "recorded_by",
    "recorded_by_role",
    "recorded_at",
]
TASK_COLUMNS = [
    "case_ref",
    "id",
    "name",
    "assignee",
    "status",
    "opened_at",
    "due",
    "overdue",
    "done_by",
    "done_by_role",
    "done_at",
]
ESCALATION_COLUMNS = [
    "case_ref",
    "id",
    "kind",
    "raised_at",
    "reason",
    "raised_by",
    "raised_by_role",
]
DECISION_COLUMNS = [
    "case_ref",
    "decision",
    "investigation_outcome",
    "closure_reason",
    "rulebook",
    "ground",
    "ground_title",
    "ground_other_rulebook",
    "earliest_deletion_date",
    "ctf_destination",
    "decided_by",
    "decided_by_role",
    "decided_at",
    "duplicate_of",
]
NOTIFICATION_COLUMNS = [
    "case_ref",
    "purpose",
    "template",
    "subject",
    "recipients",
    "message_id",
    "created_at",
    "sent_at",
    "attempts",
    "body",
]


TABLES = ("cme_case", "enquiry", "task", "escalation", "problem", "decision", "notification")
CASE_INDEXES = ("repeat", "kind", "stage", "school_laestab", "child_protection", "overdue", "upn")


def _tz() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _key(*, item: bool) -> list[sa.Column[object]]:
    columns: list[sa.Column[object]] = [
        sa.Column("case_ref", sa.String(40), nullable=False),
        sa.Column("episode", sa.Integer(), autoincrement=False, nullable=False),
    ]
    if item:
        columns.append(sa.Column("id", sa.Integer(), autoincrement=False, nullable=False))
    return columns


def _episode_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["case_ref", "episode"],
        ["cme_case_new.case_ref", "cme_case_new.episode"],
        name=f"fk_{table}_case_ref_cme_case",
        ondelete="CASCADE",
    )


def _pk(table: str, *columns: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint(*columns, name=f"pk_{table}")


def _create_tables() -> None:
    op.create_table(
        "cme_case_new",
        *_key(item=False),
        sa.Column("repeat", sa.Boolean(), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("stage", sa.String(40), nullable=False),
        sa.Column("school_laestab", sa.String(7), nullable=True),
        sa.Column("child_protection", sa.Boolean(), nullable=False),
        sa.Column("opened_at", _tz(), nullable=False),
        sa.Column("next_deadline", sa.Date(), nullable=True),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("assigned_officer", sa.String(200), nullable=True),
        sa.Column("referrals_received", sa.Integer(), nullable=False),
        sa.Column("rulebook", sa.String(10), nullable=True),
        sa.Column("day1", sa.Date(), nullable=True),
        sa.Column("open_problems", sa.Integer(), nullable=False),
        sa.Column("upn", sa.String(13), nullable=True),
        sa.Column("first_name", sa.String(100), nullable=False),
        sa.Column("last_name", sa.String(100), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=False),
        sa.Column("decision", sa.String(40), nullable=True),
        sa.Column("investigation_outcome", sa.String(40), nullable=True),
        sa.Column("ground", sa.String(20), nullable=True),
        sa.Column("earliest_deletion_date", sa.Date(), nullable=True),
        sa.Column("ctf_destination", sa.String(8), nullable=True),
        sa.Column("closed_at", _tz(), nullable=True),
        sa.Column("updated_at", _tz(), nullable=False),
        _pk("cme_case", "case_ref", "episode"),
    )
    op.create_table(
        "enquiry_new",
        *_key(item=True),
        sa.Column("made_by", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("made_on", sa.Date(), nullable=False),
        sa.Column("outcome", sa.String(40), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.Column("recorded_by_role", sa.String(40), nullable=False),
        sa.Column("recorded_at", _tz(), nullable=False),
        _episode_fk("enquiry"),
        _pk("enquiry", "case_ref", "episode", "id"),
    )
    op.create_table(
        "task_new",
        *_key(item=True),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("assignee", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("opened_at", _tz(), nullable=False),
        sa.Column("due", sa.Date(), nullable=True),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("done_by", sa.String(200), nullable=True),
        sa.Column("done_by_role", sa.String(40), nullable=True),
        sa.Column("done_at", _tz(), nullable=True),
        _episode_fk("task"),
        _pk("task", "case_ref", "episode", "id"),
    )
    op.create_table(
        "escalation_new",
        *_key(item=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("raised_at", _tz(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raised_by", sa.String(200), nullable=False),
        sa.Column("raised_by_role", sa.String(40), nullable=False),
        _episode_fk("escalation"),
        _pk("escalation", "case_ref", "episode", "id"),
    )
    op.create_table(
        "problem_new",
        *_key(item=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("raised_at", _tz(), nullable=False),
        sa.Column("last_attempt_at", _tz(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("cleared_at", _tz(), nullable=True),
        _episode_fk("problem"),
        _pk("problem", "case_ref", "episode", "id"),
    )
    op.create_table(
        "decision_new",
        *_key(item=False),
        sa.Column("decision", sa.String(40), nullable=False),
        sa.Column("investigation_outcome", sa.String(40), nullable=True),
        sa.Column("closure_reason", sa.Text(), nullable=True),
        sa.Column("rulebook", sa.String(10), nullable=True),
        sa.Column("ground", sa.String(20), nullable=True),
        sa.Column("ground_title", sa.Text(), nullable=True),
        sa.Column("ground_other_rulebook", sa.String(200), nullable=True),
        sa.Column("earliest_deletion_date", sa.Date(), nullable=True),
        sa.Column("ctf_destination", sa.String(8), nullable=True),
        sa.Column("decided_by", sa.String(200), nullable=False),
        sa.Column("decided_by_role", sa.String(40), nullable=False),
        sa.Column("decided_at", _tz(), nullable=False),
        sa.Column("duplicate_of", sa.String(40), nullable=True),
        _episode_fk("decision"),
        _pk("decision", "case_ref", "episode"),
    )
    op.create_table(
        "notification_new",
        *_key(item=False),
        sa.Column("purpose", sa.String(200), nullable=False),
        sa.Column("template", sa.String(40), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("delivered_to", sa.JSON(), nullable=False),
        sa.Column("message_id", sa.String(300), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", _tz(), nullable=False),
        sa.Column("last_attempt_at", _tz(), nullable=True),
        sa.Column("sent_at", _tz(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        _pk("notification", "case_ref", "episode", "purpose"),
    )


def _copy(table: str, columns: list[str], extra: dict[str, sa.ColumnElement[Any]]) -> None:
    """Every row of ``table`` into ``<table>_new``, as episode 1, with ``extra`` values."""
    old = sa.table(table, *(sa.column(c) for c in columns))
    new = sa.table(f"{table}_new", *(sa.column(c) for c in [*columns, "episode", *extra]))
    values = [*(old.c[c] for c in columns), sa.literal_column("1"), *extra.values()]
    op.execute(new.insert().from_select([*columns, "episode", *extra], sa.select(*values)))


def _copy_rows() -> None:
    _copy(
        "cme_case",
        CASE_COLUMNS,
        {"repeat": sa.false(), "open_problems": sa.literal_column("0")},
    )
    _copy("enquiry", ENQUIRY_COLUMNS, {})
    _copy("task", TASK_COLUMNS, {})
    _copy("escalation", ESCALATION_COLUMNS, {})
    _copy("decision", DECISION_COLUMNS, {})
    sent = sa.column("sent_at").is_not(None)
    empty = "'[]'::json" if op.get_context().dialect.name == "postgresql" else "'[]'"
    _copy(
        "notification",
        NOTIFICATION_COLUMNS,
        {
            "status": sa.case(
                (sent, sa.literal_column("'sent'")), else_=sa.literal_column("'pending'")
            ),
            "delivered_to": sa.case(
                (sent, sa.column("recipients")), else_=sa.literal_column(empty)
            ),
        },
    )


def upgrade() -> None:
    _create_tables()
    _copy_rows()
    for table in ("enquiry", "task", "escalation", "decision", "notification", "cme_case"):
        op.drop_table(table)
    for table in (
        "cme_case",
        "enquiry",
        "task",
        "escalation",
        "problem",
        "decision",
        "notification",
    ):
        op.rename_table(f"{table}_new", table)
    for column in (
        "repeat",
        "kind",
        "stage",
        "school_laestab",
        "child_protection",
        "overdue",
        "upn",
    ):
        op.create_index(f"ix_cme_case_{column}", "cme_case", [column])
    op.create_index("ix_task_status", "task", ["status"])
    op.create_index("ix_escalation_kind", "escalation", ["kind"])
    op.create_index("ix_problem_kind", "problem", ["kind"])
    op.create_index("ix_notification_status", "notification", ["status"])


def downgrade() -> None:
    raise NotImplementedError(
        "the register cannot go back to one episode per case without losing episodes: restore "
        "the backup taken before upgrading to 0002"
    )
