"""Erasure: the child's personal data and the free texts can be removed from an episode (their
columns become nullable), ``cme_case.erased_at`` says when, and the ``erasure`` table records
every case erased (retention rule or request) without personal data.

Columns made nullable: ``cme_case.first_name``, ``last_name``, ``date_of_birth`` (``upn``
already was), ``enquiry.note``, ``escalation.reason``, ``notification.subject`` and ``body``
(``decision.closure_reason`` already was). No row changes.

On SQLite a column's nullability changes by copying the table (Alembic's batch mode); foreign
keys are off while migrations run (:func:`activities.register.upgrade_register`), so copying
``cme_case`` keeps the rows that refer to it.

Revision ID: 0004
Revises: 0002 (to be 0003, the case_key table, when the security branch is merged)
Create Date: 2026-11-29
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

NULLABLE: dict[str, list[tuple[str, Any]]] = {
    "cme_case": [
        ("first_name", sa.String(100)),
        ("last_name", sa.String(100)),
        ("date_of_birth", sa.Date()),
    ],
    "enquiry": [("note", sa.Text())],
    "escalation": [("reason", sa.Text())],
    "notification": [("subject", sa.Text()), ("body", sa.Text())],
}


def _tz() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    for table, columns in NULLABLE.items():
        with op.batch_alter_table(table) as batch:
            for name, kind in columns:
                batch.alter_column(name, existing_type=kind, nullable=True)
            if table == "cme_case":
                batch.add_column(sa.Column("erased_at", _tz(), nullable=True))
    op.create_table(
        "erasure",
        sa.Column("case_ref", sa.String(40), nullable=False),
        sa.Column("through_episode", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("erased_at", _tz(), nullable=False),
        sa.Column("rule", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("erased_by", sa.String(200), nullable=False),
        sa.Column("erased_by_role", sa.String(40), nullable=False),
        sa.Column("retention_years", sa.Integer(), nullable=True),
        sa.Column("episodes", sa.Integer(), nullable=False),
        sa.Column("key_shredded", sa.Boolean(), nullable=False),
        sa.Column("emails_deleted", sa.Integer(), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.CheckConstraint("rule IN ('retention', 'request')", name="ck_erasure_rule"),
        sa.PrimaryKeyConstraint("case_ref", "through_episode", name="pk_erasure"),
    )
    op.create_index("ix_erasure_erased_at", "erasure", ["erased_at"])
    op.create_index("ix_erasure_rule", "erasure", ["rule"])


def downgrade() -> None:
    raise NotImplementedError(
        "an erased episode's personal data cannot be required again: restore the backup taken "
        "before upgrading to 0004"
    )
