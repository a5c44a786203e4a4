"""Reports: what the LA's lists, dashboard and DfE return read from the register.

* ``case_school``: the schools whose users may see and act on each episode (the school the
  child is missing from or, for a child on no roll referred by a school's user, that user's
  schools), so that a school user's lists are filtered in the query;
* ``cme_case`` gains the moments the reports measure, none of them personal data:
  ``sat_referred_at`` (the case reached the School Attendance Team), ``concluded_at`` (the
  officer's conclusion), ``located_on`` (the child was located), ``mash_call_pending`` (a
  "phone MASH" task is open) and ``mash_called_on`` (the last MASH call recorded).

Existing rows are filled from what the register already holds, so that closed episodes (which are
never synced again) count in last term's figures: the school of each episode; the SAT referral
from its escalation (or the opening, for a child on no roll); the conclusion from the
investigation task's completion; the location from the conclusion, or the closure of a child
located back at school; the MASH call from the tasks. A school user's referral of a child on no
roll has no school in the register before this revision: it gets one at its next sync (an open
case syncs on its next step). Every episode synced from now on is written from its state.

Self-contained (no import of the models).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

LONDON = ZoneInfo("Europe/London")
# Investigation outcomes that say where the child is (all but "not located").
LOCATING = (
    "located_back_at_school",
    "on_roll_elsewhere",
    "moved_away",
    "home_educated",
    "placed_on_roll",
    "left_area",
)
COLUMNS = ("sat_referred_at", "concluded_at", "located_on", "mash_call_pending", "mash_called_on")


def _tz() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _aware(value: Any) -> datetime | None:
    """A stored moment as aware UTC (SQLite returns naive UTC, or a string)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _local_day(value: Any) -> date | None:
    moment = _aware(value)
    return moment.astimezone(LONDON).date() if moment is not None else None


def upgrade() -> None:
    op.create_table(
        "case_school",
        sa.Column("case_ref", sa.String(40), nullable=False),
        sa.Column("episode", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("laestab", sa.String(7), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_ref", "episode"],
            ["cme_case.case_ref", "cme_case.episode"],
            name="fk_case_school_case_ref_cme_case",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_ref", "episode", "laestab", name="pk_case_school"),
    )
    op.create_index("ix_case_school_laestab", "case_school", ["laestab"])
    # Columns are added (and dropped) in place, never by copying cme_case: on SQLite a copy
    # drops the old table, and with foreign keys on that deletes every item of every case.
    op.add_column("cme_case", sa.Column("sat_referred_at", _tz(), nullable=True))
    op.add_column("cme_case", sa.Column("concluded_at", _tz(), nullable=True))
    op.add_column("cme_case", sa.Column("located_on", sa.Date(), nullable=True))
    # The database's default fills the existing rows (the models set every new row's value).
    op.add_column(
        "cme_case",
        sa.Column("mash_call_pending", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("cme_case", sa.Column("mash_called_on", sa.Date(), nullable=True))
    op.create_index("ix_cme_case_mash_call_pending", "cme_case", ["mash_call_pending"])
    _fill()


def _fill() -> None:
    bind = op.get_bind()
    bind.execute(
        sa.text(
            "INSERT INTO case_school (case_ref, episode, laestab) "
            "SELECT case_ref, episode, school_laestab FROM cme_case "
            "WHERE school_laestab IS NOT NULL"
        )
    )
    cases = bind.execute(
        sa.text(
            # A closure on a contact's report has its outcome in the decision alone.
            "SELECT c.case_ref, c.episode, c.kind, c.opened_at, c.closed_at, "
            "COALESCE(c.investigation_outcome, d.investigation_outcome) AS investigation_outcome "
            "FROM cme_case c LEFT JOIN decision d "
            "ON d.case_ref = c.case_ref AND d.episode = c.episode"
        )
    ).all()
    sat = {
        (r.case_ref, r.episode): r.raised_at
        for r in bind.execute(
            sa.text(
                "SELECT case_ref, episode, MIN(raised_at) AS raised_at FROM escalation "
                "WHERE kind = 'sat_referral' GROUP BY case_ref, episode"
            )
        )
    }
    concluded = {
        (r.case_ref, r.episode): r.done_at
        for r in bind.execute(
            sa.text(
                "SELECT case_ref, episode, MAX(done_at) AS done_at FROM task "
                "WHERE name = 'investigate' AND status = 'done' GROUP BY case_ref, episode"
            )
        )
    }
    pending = {
        (r.case_ref, r.episode)
        for r in bind.execute(
            sa.text(
                "SELECT DISTINCT case_ref, episode FROM task "
                "WHERE name = 'phone_mash' AND status = 'open'"
            )
        )
    }
    called = {
        (r.case_ref, r.episode): r.done_at
        for r in bind.execute(
            sa.text(
                "SELECT case_ref, episode, MAX(done_at) AS done_at FROM task "
                "WHERE name = 'phone_mash' AND status = 'done' GROUP BY case_ref, episode"
            )
        )
    }
    update = sa.text(
        "UPDATE cme_case SET sat_referred_at = :sat_referred_at, concluded_at = :concluded_at, "
        "located_on = :located_on, mash_call_pending = :mash_call_pending, "
        "mash_called_on = :mash_called_on WHERE case_ref = :case_ref AND episode = :episode"
    )
    for case in cases:
        key = (case.case_ref, case.episode)
        sat_referred_at = _aware(sat.get(key))
        if sat_referred_at is None and case.kind == "not_on_roll":
            sat_referred_at = _aware(case.opened_at)  # a child on no roll goes to SAT at once
        concluded_at = _aware(concluded.get(key))
        located_on: date | None = None
        if case.investigation_outcome in LOCATING:
            # Concluded by the officer, or (back at school) closed on the contact's report.
            located_on = _local_day(concluded_at) or _local_day(case.closed_at)
        bind.execute(
            update,
            {
                "case_ref": case.case_ref,
                "episode": case.episode,
                "sat_referred_at": sat_referred_at,
                "concluded_at": concluded_at,
                "located_on": located_on,
                "mash_call_pending": key in pending,
                # the day the call was recorded: the call's own date is in the case's log only
                "mash_called_on": _local_day(called.get(key)),
            },
        )


def downgrade() -> None:
    op.drop_index("ix_cme_case_mash_call_pending", table_name="cme_case")
    for name in COLUMNS:
        op.drop_column("cme_case", name)  # SQLite 3.35+ drops a column in place
    op.drop_index("ix_case_school_laestab", table_name="case_school")
    op.drop_table("case_school")
