"""The register's Alembic migrations, on SQLite and PostgreSQL: from an empty database, from
revision 0001 holding a version 1 case (its rows become episode 1), from a register made before
migrations existed; the models match the latest revision (`alembic check`)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text
from sqlmodel import Session, select
from temporalio.testing import ActivityEnvironment

from activities import register
from activities.api_clients import ApiClientDetails, add_api_client
from activities.case_activities import CaseActivities
from activities.config import MailConfig
from activities.register import METADATA, register_revision, upgrade_register
from domain.calendar import DEFAULT_CALENDAR_PATH
from domain.case import episode_summary
from domain.case.effects import PrepareCaseInput, SyncCaseInput
from domain.case.model import Role
from tests.activities.cases import investigating_state

CASE = "CME-ABCDEF012345"
TABLES = {
    "cme_case",
    "enquiry",
    "task",
    "escalation",
    "problem",
    "decision",
    "notification",
    "case_key",
    "erasure",
    "case_school",
    "account",
    "web_session",
    "auth_event",
    "api_client",
}

# A version 1 case closed with a deletion, and two of its emails (one sent, one not), written
# with the SQL of revision 0001.
V1_ROWS = [
    """INSERT INTO cme_case (case_ref, kind, stage, school_laestab, child_protection, opened_at,
        next_deadline, overdue, assigned_officer, referrals_received, rulebook, day1, upn,
        first_name, last_name, date_of_birth, decision, investigation_outcome, ground,
        earliest_deletion_date, ctf_destination, closed_at, updated_at)
    VALUES (:case, 'destination_not_verified', 'closed', '8512000', :no, :opened, NULL, :no,
        'Sam Officer', 1, '2024', '2025-10-06', 'Z851200018002', 'Jacob', 'Samplefield',
        '2013-11-02', 'deletion_authorised', 'not_located', '9(1)(i)', '2025-11-20', 'XXXXXXXX',
        :closed, :closed)""",
    """INSERT INTO enquiry (case_ref, id, made_by, kind, made_on, outcome, note, recorded_by,
        recorded_by_role, recorded_at)
    VALUES (:case, 1, 'school', 'phone_primary', '2025-10-06', 'no_contact', 'rang out',
        'Pat Example', 'school', :opened),
        (:case, 2, 'la', 'partner', '2025-10-27', 'no_information', '', 'Sam Officer',
        'cme_officer', :opened)""",
    """INSERT INTO task (case_ref, id, name, assignee, status, opened_at, due, overdue, done_by,
        done_by_role, done_at)
    VALUES (:case, 1, 'investigate', 'cme_officer', 'done', :opened, '2025-11-03', :no,
        'Sam Officer', 'cme_officer', :closed)""",
    """INSERT INTO escalation (case_ref, id, kind, raised_at, reason, raised_by, raised_by_role)
    VALUES (:case, 1, 'sat_referral', :opened, 'no contact by the end of school day 10',
        'CME service', 'service')""",
    """INSERT INTO decision (case_ref, decision, investigation_outcome, closure_reason, rulebook,
        ground, ground_title, ground_other_rulebook, earliest_deletion_date, ctf_destination,
        decided_by, decided_by_role, decided_at, duplicate_of)
    VALUES (:case, 'deletion_authorised', 'not_located', NULL, '2024', '9(1)(i)',
        '20 school days continuous unauthorised absence', '8(1)(h)', '2025-11-20', 'XXXXXXXX',
        'Sam Officer', 'cme_officer', :closed, NULL)""",
    """INSERT INTO notification (case_ref, purpose, template, subject, recipients, message_id,
        created_at, sent_at, attempts, body)
    VALUES (:case, 'sat_referral', 'sat_referral', '[CME x] Referred', :recipients, '<sat@x>',
        :opened, :opened, 1, 'Jacob Samplefield ...'),
        (:case, 'outcome_to_school', 'outcome_to_school', '[CME x] Written outcome',
        :recipients, '<outcome@x>', :closed, NULL, 2, 'Jacob Samplefield ...')""",
]
# The tables of 0005 (activities.accounts) and 0007 (activities.api_clients).
ACCOUNT_TABLES = {"account", "web_session", "auth_event", "api_client"}
OPENED = datetime(2025, 10, 8, 9, tzinfo=UTC)
CLOSED = datetime(2025, 11, 20, 11, tzinfo=UTC)


def write_v1_case(engine: Engine) -> None:
    values = {
        "case": CASE,
        "no": False,
        "opened": OPENED,
        "closed": CLOSED,
        "recipients": json.dumps(["sat@portsmouth.example.invalid"]),
    }
    with engine.begin() as connection:
        for statement in V1_ROWS:
            connection.execute(text(statement), values)


def differences(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return list(compare_metadata(MigrationContext.configure(connection), METADATA))


def test_an_empty_database_is_upgraded_to_the_latest_revision(
    empty_register_engine: Engine,
) -> None:
    engine = empty_register_engine
    assert register_revision(engine) is None
    assert upgrade_register(engine) is None  # it was empty
    assert register_revision(engine) == register.HEAD == "0009"
    assert set(inspect(engine).get_table_names()) >= TABLES
    assert differences(engine) == []
    # Again: nothing to do.
    assert upgrade_register(engine) == "0009"
    assert register_revision(engine) == "0009"


def test_head_names_the_latest_revision() -> None:
    script = ScriptDirectory.from_config(register.alembic_config())
    assert script.get_heads() == [register.HEAD]
    assert [r.revision for r in script.walk_revisions()] == [
        "0009",
        "0008",
        "0007",
        "0006",
        "0005",
        "0004",
        "0003",
        "0002",
        "0001",
    ]


def test_the_models_match_the_latest_revision(register_engine: Engine) -> None:
    """`alembic check`: autogenerate finds nothing to add, drop or change."""
    config = register.alembic_config()
    with register_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.check(config)  # raises AutogenerateDiffsDetected on any difference
    assert differences(register_engine) == []


def test_constraints_have_stable_names(postgres_engine: Engine) -> None:
    names = inspect(postgres_engine)
    assert names.get_pk_constraint("cme_case")["name"] == "pk_cme_case"
    [fk] = names.get_foreign_keys("enquiry")
    assert fk["name"] == "fk_enquiry_case_ref_cme_case"
    assert fk["constrained_columns"] == ["case_ref", "episode"]
    assert fk["referred_table"] == "cme_case"
    assert names.get_pk_constraint("notification")["constrained_columns"] == [
        "case_ref",
        "episode",
        "purpose",
    ]


async def test_a_version_1_case_becomes_episode_1(
    empty_register_engine: Engine, mail_config: MailConfig
) -> None:
    engine = empty_register_engine
    upgrade_register(engine, "0001")
    assert register_revision(engine) == "0001"
    write_v1_case(engine)

    assert upgrade_register(engine) == "0001"
    assert register_revision(engine) == register.HEAD
    assert differences(engine) == []

    with Session(engine) as session:
        case = register.get_case(session=session, case=CASE)
        assert case is not None
        assert (case.episode, case.repeat, case.open_problems) == (1, False, 0)
        assert (case.first_name, case.upn, case.stage) == ("Jacob", "Z851200018002", "closed")
        assert case.closed_at == CLOSED
        assert case.day1 == date(2025, 10, 6)
        assert [
            (e.episode, e.id, e.kind) for e in register.list_enquiries(session=session, case=CASE)
        ] == [
            (1, 1, "phone_primary"),
            (1, 2, "partner"),
        ]
        assert [t.episode for t in register.list_tasks(session=session, case=CASE)] == [1]
        assert [e.episode for e in register.list_escalations(session=session, case=CASE)] == [1]
        assert register.list_problems(session=session, case=CASE) == []
        decision = register.get_decision(session=session, case=CASE)
        assert decision is not None and decision.episode == 1 and decision.ground == "9(1)(i)"
        outbox = {n.purpose: n for n in register.list_notifications(session=session, case=CASE)}
        assert {p: (n.episode, n.status) for p, n in outbox.items()} == {
            "sat_referral": (1, "sent"),
            "outcome_to_school": (1, "pending"),
        }
        assert outbox["sat_referral"].delivered_to == ["sat@portsmouth.example.invalid"]
        assert outbox["outcome_to_school"].delivered_to == []
        assert (outbox["outcome_to_school"].message_id, outbox["outcome_to_school"].attempts) == (
            "<outcome@x>",
            2,
        )
        [summary] = register.earlier_episodes(session=session, case=CASE)
        assert (summary.episode, summary.decision, summary.ground) == (
            1,
            "deletion_authorised",
            "9(1)(i)",
        )

    # The child is referred again: the new episode numbers itself after the old one and is
    # written beside it.
    acts = CaseActivities(mail=mail_config, engine=engine, calendar_path=DEFAULT_CALENDAR_PATH)
    prepared = await ActivityEnvironment().run(
        acts.prepare_case, PrepareCaseInput(case=CASE, school_laestab="8512000")
    )
    assert prepared.earlier_episodes == [summary]
    state = investigating_state(CASE, episode=2, earlier=prepared.earlier_episodes)
    await ActivityEnvironment().run(acts.sync_register, SyncCaseInput(state=state))
    with Session(engine) as session:
        assert [c.episode for c in register.list_episodes(session=session, case=CASE)] == [1, 2]
        latest = register.get_case(session=session, case=CASE)
        assert latest is not None and latest.repeat
    assert episode_summary(state).episode == 2


def test_a_register_made_before_migrations_is_stamped_and_upgraded(
    empty_register_engine: Engine,
) -> None:
    """`create_all` made the 0001 tables and no alembic_version: upgrading keeps the rows."""
    engine = empty_register_engine
    upgrade_register(engine, "0001")
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))
    write_v1_case(engine)
    assert register_revision(engine) is None

    assert upgrade_register(engine) == "0001"
    assert register_revision(engine) == register.HEAD
    with Session(engine) as session:
        case = register.get_case(session=session, case=CASE)
        assert case is not None and case.episode == 1


def test_a_url_is_upgraded_with_an_engine_of_its_own(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'by-url' / 'register.db'}"
    assert upgrade_register(url) is None
    engine = register.make_engine(url)
    try:
        assert register_revision(engine) == register.HEAD
    finally:
        engine.dispose()


def test_the_latest_revision_cannot_be_downgraded(sqlite_engine: Engine) -> None:
    config = register.alembic_config()
    with sqlite_engine.begin() as connection:
        config.attributes["connection"] = connection
        with pytest.raises(NotImplementedError, match="restore the backup"):
            command.downgrade(config, "0001")


def test_the_case_keys_go_back_only_while_no_key_is_stored(empty_register_engine: Engine) -> None:
    """Revision 0003's downgrade drops ``case_key`` only when it is empty: dropping data keys
    would make their cases' histories unreadable."""
    engine = empty_register_engine
    upgrade_register(engine, "0003")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO case_key (key_id, kek_id, wrapped_key, created_at) "
                "VALUES ('CME-000000000000', 'kek', :wrapped, :at)"
            ),
            {"wrapped": b"\x00" * 40, "at": OPENED},
        )
    config = register.alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        with pytest.raises(RuntimeError, match="holds 1 case data keys"):
            command.downgrade(config, "0002")
    assert register_revision(engine) == "0003"
    assert inspect(engine).has_table("case_key")

    with engine.begin() as connection:
        connection.execute(text("DELETE FROM case_key"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")
    assert register_revision(engine) == "0002"
    assert not inspect(engine).has_table("case_key")
    assert upgrade_register(engine) == "0002"
    assert register_revision(engine) == register.HEAD
    assert differences(engine) == []


def test_0004_keeps_every_row_and_makes_the_personal_columns_nullable(
    empty_register_engine: Engine,
) -> None:
    """A register at 0002 holding a case and its items: upgraded to 0004, every row is still
    there (on SQLite, cme_case is copied to change its columns: the enquiries, tasks... that
    refer to it are not deleted with the old copy), and the child's identity can be erased."""
    engine = empty_register_engine
    upgrade_register(engine, "0001")
    write_v1_case(engine)
    upgrade_register(engine, "0002")
    before = _row_counts(engine)
    assert before["enquiry"] == 2 and before["task"] == 1 and before["decision"] == 1

    assert upgrade_register(engine) == "0002"
    assert register_revision(engine) == register.HEAD
    assert _row_counts(engine) == before
    assert differences(engine) == []
    columns = {c["name"]: c for c in inspect(engine).get_columns("cme_case")}
    assert all(columns[n]["nullable"] for n in ("upn", "first_name", "last_name", "date_of_birth"))
    assert columns["erased_at"]["nullable"]
    with Session(engine) as session:
        case = register.get_case(session=session, case=CASE)
        assert case is not None and case.first_name == "Jacob" and case.erased_at is None
        register.erase_personal_data(session=session, case=CASE)
        erased = register.get_case(session=session, case=CASE)
        assert erased is not None and erased.first_name is None and erased.date_of_birth is None
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def _row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table: connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            # the tables of 0002
            for table in sorted(TABLES - {"erasure", "case_key", "case_school", *ACCOUNT_TABLES})
        }


NOT_ON_ROLL = "CME-0123456789AB"
# A child on no roll at revision 0004: placed on roll (the investigation task done on 27 Apr),
# and a MASH call still due.
NOT_ON_ROLL_ROWS = [
    """INSERT INTO cme_case (case_ref, episode, repeat, kind, stage, school_laestab,
        child_protection, opened_at, overdue, referrals_received, open_problems, first_name,
        last_name, date_of_birth, decision, investigation_outcome, closed_at, updated_at)
    VALUES (:case, 1, :no, 'not_on_roll', 'closed', NULL, :yes, :opened, :no, 1, 0, 'Maya',
        'Placeholder', '2017-04-21', 'closed', 'placed_on_roll', :closed, :closed)""",
    """INSERT INTO task (case_ref, episode, id, name, assignee, status, opened_at, overdue,
        done_at)
    VALUES (:case, 1, 1, 'investigate', 'cme_officer', 'done', :opened, :no, :closed),
        (:case, 1, 2, 'phone_mash', 'cme_officer', 'open', :opened, :yes, NULL)""",
]


def test_0005_fills_the_reports_columns_from_what_the_register_holds(
    empty_register_engine: Engine,
) -> None:
    """Closed episodes are never synced again: revision 0005_reports fills their schools and
    moments from the rows of 0004, so last term's figures count them."""
    engine = empty_register_engine
    upgrade_register(engine, "0001")
    write_v1_case(engine)  # not located; SAT referral escalated when it opened
    upgrade_register(engine, "0004")
    closed = datetime(2026, 4, 26, 23, 30, tzinfo=UTC)  # 00:30 on Mon 27 Apr in London
    with engine.begin() as connection:
        for statement in NOT_ON_ROLL_ROWS:
            connection.execute(
                text(statement),
                {"case": NOT_ON_ROLL, "no": False, "yes": True, "opened": OPENED, "closed": closed},
            )

    upgrade_register(engine)
    assert register_revision(engine) == register.HEAD
    assert differences(engine) == []
    with Session(engine) as session:
        missing = register.get_case(session=session, case=CASE)
        assert missing is not None
        assert (missing.sat_referred_at, missing.concluded_at) == (OPENED, CLOSED)
        assert (missing.located_on, missing.mash_call_pending) == (None, False)
        on_no_roll = register.get_case(session=session, case=NOT_ON_ROLL)
        assert on_no_roll is not None
        assert (on_no_roll.sat_referred_at, on_no_roll.concluded_at) == (OPENED, closed)
        assert on_no_roll.located_on == date(2026, 4, 27)  # the local day
        assert on_no_roll.mash_call_pending is True
    with engine.connect() as connection:
        assert connection.execute(
            text("SELECT case_ref, episode, laestab FROM case_school")
        ).all() == [(CASE, 1, "8512000")]


async def test_0005_goes_back_to_0004_and_up_again(
    register_engine: Engine, mail_config: MailConfig
) -> None:
    """In place, on SQLite too: no table is copied, so no case loses its items (with foreign
    keys on, dropping a copied cme_case would delete them)."""
    acts = CaseActivities(
        mail=mail_config, engine=register_engine, calendar_path=DEFAULT_CALENDAR_PATH
    )
    await ActivityEnvironment().run(
        acts.sync_register, SyncCaseInput(state=investigating_state(CASE))
    )
    before = _row_counts(register_engine)
    assert before["enquiry"] == 2 and before["task"] == 2
    config = register.alembic_config()
    with register_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0004")
    assert register_revision(register_engine) == "0004"
    assert not inspect(register_engine).has_table("case_school")
    assert "located_on" not in {c["name"] for c in inspect(register_engine).get_columns("cme_case")}
    assert _row_counts(register_engine) == before
    upgrade_register(register_engine)
    assert register_revision(register_engine) == register.HEAD
    assert differences(register_engine) == []
    assert _row_counts(register_engine) == before
    with Session(register_engine) as session:
        assert register.get_case(session=session, case=CASE) is not None
        [school] = list(session.exec(select(register.CaseSchoolRow)))
        assert school.laestab == "8512000"  # filled again from the episode's school


def test_0007_goes_back_only_while_no_api_client_would_be_lost(register_engine: Engine) -> None:
    config = register.alembic_config()
    with register_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0006")
    assert not inspect(register_engine).has_table("api_client")
    upgrade_register(register_engine)
    with Session(register_engine) as session:
        add_api_client(
            session=session,
            details=ApiClientDetails(name="LA case system", role=Role.CME_OFFICER),
            by="test",
        )
    with (
        pytest.raises(RuntimeError, match="the register holds 1 API clients"),
        register_engine.begin() as connection,
    ):
        config.attributes["connection"] = connection
        command.downgrade(config, "0006")
    assert register_revision(register_engine) == register.HEAD
    assert inspect(register_engine).has_table("api_client")
