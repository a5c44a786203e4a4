"""Sync parts: ``cme_case.sync_parts``, a digest of each of the episode's tables as the last sync
wrote them, and ``cme_case.sync_parts_before``, the same as the sync before it left them, which
the sync's upsert of the case row sets and returns, so that a sync writes only the tables that
changed, without reading first (:func:`activities.register.write_record`).

Existing rows get neither: each is written in full at its next sync, which then records its
parts. Downgrading drops both columns (nothing else depends on them).

Self-contained (no import of the models).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("cme_case", sa.Column("sync_parts", sa.String(255), nullable=True))
    op.add_column("cme_case", sa.Column("sync_parts_before", sa.String(255), nullable=True))


def downgrade() -> None:
    # SQLite 3.35+ drops a column in place
    op.drop_column("cme_case", "sync_parts_before")
    op.drop_column("cme_case", "sync_parts")
