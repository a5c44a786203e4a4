"""The register as version 1 created it: one row per case, no episodes.

The tables exactly as ``SQLModel.metadata.create_all`` made them before migrations existed: built
on a metadata of their own, without the register's naming convention, so constraints stay unnamed
and each database names them as it did then (PostgreSQL: ``cme_case_pkey``,
``enquiry_case_ref_fkey``...). A register created that way is stamped at this revision by
:func:`activities.register.upgrade_register`.

Revision ID: 0001
Revises:
Create Date: 2026-03-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _tz() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _case_ref_key() -> sa.Column[str]:
    return sa.Column(
        "case_ref",
        sa.String(40),
        sa.ForeignKey("cme_case.case_ref", ondelete="CASCADE"),
        nullable=False,
    )


def _tables() -> sa.MetaData:
    metadata = sa.MetaData()  # no naming convention: version 1's unnamed constraints
    sa.Table(
        "cme_case",
        metadata,
        sa.Column("case_ref", sa.String(40), nullable=False),
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
        sa.PrimaryKeyConstraint("case_ref"),
    )
    sa.Table(
        "notification",
        metadata,
        sa.Column("case_ref", sa.String(40), nullable=False),
        sa.Column("purpose", sa.String(200), nullable=False),
        sa.Column("template", sa.String(40), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("message_id", sa.String(300), nullable=False),
        sa.Column("created_at", _tz(), nullable=False),
        sa.Column("sent_at", _tz(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_ref", "purpose", name="uq_notification_case_purpose"),
    )
    sa.Table(
        "decision",
        metadata,
        _case_ref_key(),
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
        sa.PrimaryKeyConstraint("case_ref"),
    )

    sa.Table(
        "enquiry",
        metadata,
        _case_ref_key(),
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("made_by", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("made_on", sa.Date(), nullable=False),
        sa.Column("outcome", sa.String(40), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.Column("recorded_by_role", sa.String(40), nullable=False),
        sa.Column("recorded_at", _tz(), nullable=False),
        sa.PrimaryKeyConstraint("case_ref", "id"),
    )

    sa.Table(
        "escalation",
        metadata,
        _case_ref_key(),
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("raised_at", _tz(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raised_by", sa.String(200), nullable=False),
        sa.Column("raised_by_role", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("case_ref", "id"),
    )

    sa.Table(
        "task",
        metadata,
        _case_ref_key(),
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("assignee", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("opened_at", _tz(), nullable=False),
        sa.Column("due", sa.Date(), nullable=True),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("done_by", sa.String(200), nullable=True),
        sa.Column("done_by_role", sa.String(40), nullable=True),
        sa.Column("done_at", _tz(), nullable=True),
        sa.PrimaryKeyConstraint("case_ref", "id"),
    )
    indexes = {
        "cme_case": ("child_protection", "overdue", "kind", "school_laestab", "upn", "stage"),
        "notification": ("case_ref",),
        "escalation": ("kind",),
        "task": ("status",),
    }
    for table, columns in indexes.items():
        for column in columns:
            sa.Index(f"ix_{table}_{column}", metadata.tables[table].c[column])
    return metadata


def upgrade() -> None:
    for table in _tables().sorted_tables:
        op.execute(sa.schema.CreateTable(table))
        for index in sorted(table.indexes, key=lambda i: str(i.name)):
            op.execute(sa.schema.CreateIndex(index))


def downgrade() -> None:
    for table in ("task", "escalation", "enquiry", "decision", "notification", "cme_case"):
        op.drop_table(table)
