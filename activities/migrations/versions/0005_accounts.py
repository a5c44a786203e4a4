"""Accounts: the web app's people (``account``), their sessions (``web_session``, keyed by a
keyed hash of the cookie's token) and the audit of sign-ins, sign-outs and account changes
(``auth_event``), see :mod:`activities.accounts`.

Downgrading drops the three tables only while no account has ever signed in or been added:
otherwise the audit would go with them. Restore the backup taken before upgrading instead.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ACCOUNT_ROLES = ("school", "cme_officer", "team_leader", "mash", "manager", "admin")


def _tz() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    roles = ", ".join(f"'{role}'" for role in ACCOUNT_ROLES)
    op.create_table(
        "account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(40), nullable=False),
        sa.Column("schools", sa.JSON(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("must_change_password", sa.Boolean(), nullable=False),
        sa.Column("disabled_at", _tz(), nullable=True),
        sa.Column("oidc_issuer", sa.String(500), nullable=True),
        sa.Column("oidc_subject", sa.String(255), nullable=True),
        sa.Column("created_at", _tz(), nullable=False),
        sa.Column("last_sign_in_at", _tz(), nullable=True),
        sa.Column("password_changed_at", _tz(), nullable=True),
        sa.CheckConstraint(f"role IN ({roles})", name="ck_account_role"),
        sa.PrimaryKeyConstraint("id", name="pk_account"),
        sa.UniqueConstraint("email", name="uq_account_email"),
        sa.UniqueConstraint("oidc_issuer", "oidc_subject", name="uq_account_oidc_identity"),
    )
    op.create_table(
        "web_session",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("method", sa.String(20), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", _tz(), nullable=False),
        sa.Column("last_seen_at", _tz(), nullable=False),
        sa.Column("expires_at", _tz(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name="fk_web_session_account_id_account",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name="pk_web_session"),
    )
    op.create_index("ix_web_session_account_id", "web_session", ["account_id"])
    op.create_index("ix_web_session_expires_at", "web_session", ["expires_at"])
    op.create_table(
        "auth_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", _tz(), nullable=False),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("method", sa.String(20), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("by_email", sa.String(254), nullable=True),
        sa.Column("client_address", sa.String(100), nullable=True),
        sa.Column("detail", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_auth_event"),
    )
    op.create_index("ix_auth_event_at", "auth_event", ["at"])
    op.create_index("ix_auth_event_email_at", "auth_event", ["email", "at"])
    op.create_index("ix_auth_event_client_address_at", "auth_event", ["client_address", "at"])


def downgrade() -> None:
    bind = op.get_bind()
    accounts = bind.execute(sa.text("SELECT COUNT(*) FROM account")).scalar_one()
    events = bind.execute(sa.text("SELECT COUNT(*) FROM auth_event")).scalar_one()
    if accounts or events:
        raise RuntimeError(
            f"the register holds {accounts} accounts and {events} audit events: dropping them "
            "would lose the audit of sign-ins. Restore the backup taken before upgrading to 0005 "
            "instead"
        )
    op.drop_table("auth_event")
    op.drop_table("web_session")
    op.drop_table("account")
