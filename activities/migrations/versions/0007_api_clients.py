"""API clients: the JSON API's clients (``api_client``): a school's MIS or an LA system, with
its role, its schools and the SHA-256 of its bearer token (the token itself is never stored),
see :mod:`activities.api_clients`.

Downgrading drops the table only while it holds no client: otherwise every integration would
lose its token, and the cases' logs would name clients the register no longer knows. Restore the
backup taken before upgrading instead.

Self-contained (no import of the models).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

CLIENT_ROLES = ("school", "cme_officer", "team_leader", "mash", "manager")


def _tz() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    roles = ", ".join(f"'{role}'" for role in CLIENT_ROLES)
    op.create_table(
        "api_client",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(40), nullable=False),
        sa.Column("schools", sa.JSON(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", _tz(), nullable=False),
        sa.Column("created_by", sa.String(254), nullable=False),
        sa.Column("last_used_at", _tz(), nullable=True),
        sa.Column("revoked_at", _tz(), nullable=True),
        sa.Column("revoked_by", sa.String(254), nullable=True),
        sa.CheckConstraint(f"role IN ({roles})", name="ck_api_client_role"),
        sa.PrimaryKeyConstraint("id", name="pk_api_client"),
        sa.UniqueConstraint("name", name="uq_api_client_name"),
        sa.UniqueConstraint("token_hash", name="uq_api_client_token_hash"),
    )


def downgrade() -> None:
    clients = op.get_bind().execute(sa.text("SELECT COUNT(*) FROM api_client")).scalar_one()
    if clients:
        raise RuntimeError(
            f"the register holds {clients} API clients: dropping them would break every "
            "integration's token and leave the cases' logs naming unknown clients. Restore the "
            "backup taken before upgrading to 0007 instead"
        )
    op.drop_table("api_client")
