"""Case keys: the ``case_key`` table, each case's data key wrapped by a key-encryption key (see
:mod:`security.store`). A shredded row keeps no key material (an empty ``wrapped_key``) and the
time it was shredded.

Downgrading drops the table only while it is empty: dropping data keys would make every payload
of their cases in Temporal unreadable for good (crypto-shredding every case at once).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_key",
        sa.Column("key_id", sa.String(255), nullable=False),
        sa.Column("kek_id", sa.String(100), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("shredded_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key_id", name="pk_case_key"),
    )
    op.create_index("ix_case_key_kek_id", "case_key", ["kek_id"])


def downgrade() -> None:
    keys = op.get_bind().execute(sa.text("SELECT COUNT(*) FROM case_key")).scalar_one()
    if keys:
        raise RuntimeError(
            f"the register holds {keys} case data keys: dropping them would make those cases' "
            "Temporal histories unreadable for good. Restore the backup taken before upgrading "
            "to 0003 instead"
        )
    op.drop_index("ix_case_key_kek_id", table_name="case_key")
    op.drop_table("case_key")
