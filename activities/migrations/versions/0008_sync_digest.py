"""Sync digest: ``cme_case.sync_digest``, the SHA-256 of what the last sync wrote of the episode
(its row, items, schools, decision and the emails it knows were sent), so that a sync of the same
state writes nothing and a changed one writes without reading first
(:func:`activities.register.upsert_case`).

Existing rows get none: each is written in full at its next sync, which then records its digest.
Downgrading drops the column (nothing else depends on it).

Self-contained (no import of the models).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("cme_case", sa.Column("sync_digest", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("cme_case", "sync_digest")  # SQLite 3.35+ drops a column in place
