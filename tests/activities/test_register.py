"""sync_case and the register's read functions, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import Engine, func
from sqlmodel import Session, SQLModel, select
from temporalio.testing import ActivityEnvironment

from activities import register
from activities.case_activities import CaseActivities
from activities.models import MailConfig, SyncCaseInput
from domain.calendar import DEFAULT_CALENDAR_PATH
from tests.activities.cases import (
    OTHER_SCHOOL,
    SCHOOL,
    authorised_state,
    investigating_state,
    not_on_roll_state,
    school_referral,
)
from workflows.models import CaseKind, CaseState, Stage

TABLES: list[type[SQLModel]] = [
    register.CaseRow,
    register.EnquiryRow,
    register.TaskRow,
    register.EscalationRow,
    register.DecisionRow,
]


def counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return {
            str(table.__tablename__): session.exec(select(func.count()).select_from(table)).one()
            for table in TABLES
        }


async def sync(acts: CaseActivities, state: CaseState) -> str:
    result = await ActivityEnvironment().run(acts.sync_case, SyncCaseInput(state=state))
    assert result.case == state.case
    return result.stage


def make_acts(mail_config: MailConfig, engine: Engine) -> CaseActivities:
    return CaseActivities(mail=mail_config, engine=engine, calendar_path=DEFAULT_CALENDAR_PATH)


async def test_sync_writes_the_case_its_items_and_the_childs_identity(
    register_engine: Engine, mail_config: MailConfig
) -> None:
    acts = make_acts(mail_config, register_engine)
    state = investigating_state()

    assert await sync(acts, state) == "la_investigation"

    with Session(register_engine) as session:
        case = register.get_case(session=session, case=state.case)
        assert case is not None
        assert case.kind == "destination_not_verified"
        assert case.stage == "la_investigation"
        assert case.school_laestab == SCHOOL
        assert case.child_protection is False
        assert case.opened_at == datetime(2026, 3, 2, 9, tzinfo=UTC)
        assert case.next_deadline == date(2026, 3, 16)  # the open investigation's due date
        assert case.overdue is False
        assert case.day1 == date(2026, 2, 9)
        assert case.assigned_officer == "Sam Officer"
        assert (case.upn, case.first_name, case.last_name) == (
            "Z851200018002",
            "Jacob",
            "Samplefield",
        )
        assert case.date_of_birth == date(2013, 11, 2)
        assert case.decision is None
        assert case.updated_at.tzinfo is not None

        enquiries = register.list_enquiries(session=session, case=state.case)
        assert [(e.id, e.kind, e.outcome) for e in enquiries] == [
            (1, "phone_primary", "no_contact"),
            (2, "home_visit", "no_contact"),
        ]
        assert enquiries[0].recorded_by == "Pat Example"
        tasks = register.list_tasks(session=session, case=state.case)
        assert [(t.id, t.name, t.status) for t in tasks] == [
            (1, "school_enquiries", "done"),
            (2, "investigate", "open"),
        ]
        [escalation] = register.list_escalations(session=session, case=state.case)
        assert escalation.kind == "sat_referral"
        assert register.get_decision(session=session, case=state.case) is None
    assert counts(register_engine) == {
        "cme_case": 1,
        "enquiry": 2,
        "task": 2,
        "escalation": 1,
        "decision": 0,
    }


async def test_syncing_the_same_state_twice_leaves_the_same_rows(
    register_engine: Engine, mail_config: MailConfig
) -> None:
    acts = make_acts(mail_config, register_engine)
    state = investigating_state()
    await sync(acts, state)
    with Session(register_engine) as session:
        before = register.get_case(session=session, case=state.case)
        tasks_before = register.list_tasks(session=session, case=state.case)

    await sync(acts, state)

    with Session(register_engine) as session:
        after = register.get_case(session=session, case=state.case)
        assert after == before  # updated_at included: nothing changed
        assert register.list_tasks(session=session, case=state.case) == tasks_before
    assert counts(register_engine) == {
        "cme_case": 1,
        "enquiry": 2,
        "task": 2,
        "escalation": 1,
        "decision": 0,
    }


async def test_a_later_state_updates_the_stage_items_and_records_the_decision(
    register_engine: Engine, mail_config: MailConfig
) -> None:
    acts = make_acts(mail_config, register_engine)
    await sync(acts, investigating_state())
    with Session(register_engine) as session:
        first = register.get_case(session=session, case="CME-7F3A9C21D0B4")
    assert first is not None

    assert await sync(acts, authorised_state()) == "closed"
    await sync(acts, authorised_state())  # and again: still one decision

    with Session(register_engine) as session:
        case = register.get_case(session=session, case="CME-7F3A9C21D0B4")
        assert case is not None
        assert case.stage == "closed"
        assert case.decision == "deletion_authorised"
        assert case.investigation_outcome == "not_located"
        assert case.ground == "9(1)(i)"
        assert case.earliest_deletion_date == date(2026, 3, 17)
        assert case.ctf_destination == "XXXXXXXX"
        assert case.closed_at == datetime(2026, 3, 17, 11, tzinfo=UTC)
        assert case.next_deadline is None  # no open task left
        assert case.updated_at > first.updated_at
        assert [t.status for t in register.list_tasks(session=session, case=case.case_ref)] == [
            "done",
            "done",
            "done",
        ]
        decision = register.get_decision(session=session, case=case.case_ref)
        assert decision is not None
        assert decision.decision == "deletion_authorised"
        assert decision.ground_title is not None
        assert decision.ground_other_rulebook == "8(1)(h)"
        assert decision.decided_by == "Sam Officer"
        assert decision.decided_by_role == "cme_officer"
    assert counts(register_engine) == {
        "cme_case": 1,
        "enquiry": 3,
        "task": 3,
        "escalation": 1,
        "decision": 1,
    }


async def test_items_no_longer_in_the_state_leave_the_register(
    register_engine: Engine, mail_config: MailConfig
) -> None:
    acts = make_acts(mail_config, register_engine)
    await sync(acts, authorised_state())
    state = investigating_state()
    await sync(acts, state.model_copy(update={"enquiries": state.enquiries[:1]}))
    assert counts(register_engine) == {
        "cme_case": 1,
        "enquiry": 1,
        "task": 2,
        "escalation": 1,
        "decision": 0,
    }


async def test_a_not_on_roll_case_keeps_the_referred_child_and_its_overdue_mash_call(
    register_engine: Engine, mail_config: MailConfig
) -> None:
    acts = make_acts(mail_config, register_engine)
    state = not_on_roll_state()
    await sync(acts, state)
    with Session(register_engine) as session:
        case = register.get_case(session=session, case=state.case)
    assert case is not None
    assert case.kind == "not_on_roll"
    assert case.school_laestab is None
    assert case.upn is None
    assert (case.first_name, case.last_name) == ("Maya", "Placeholder")
    assert case.child_protection is True
    assert case.overdue is True
    assert case.next_deadline == date(2026, 3, 2)


async def test_list_cases_filters(register_engine: Engine, mail_config: MailConfig) -> None:
    acts = make_acts(mail_config, register_engine)
    other_school = investigating_state(
        "CME-111111111111",
        referral=school_referral(
            first_name="Ava", last_name="Exampleton", upn="N851200018003", school=OTHER_SCHOOL
        ),
    )
    await sync(acts, authorised_state("CME-222222222222"))
    await sync(acts, investigating_state("CME-333333333333"))
    await sync(acts, other_school)
    await sync(acts, not_on_roll_state("CME-444444444444"))

    def refs(**filters: object) -> list[str]:
        with Session(register_engine) as session:
            return [c.case_ref for c in register.list_cases(session=session, **filters)]  # type: ignore[arg-type]

    assert sorted(refs()) == [
        "CME-111111111111",
        "CME-222222222222",
        "CME-333333333333",
        "CME-444444444444",
    ]
    assert refs(stage=Stage.CLOSED) == ["CME-222222222222"]
    assert sorted(refs(stage="la_investigation")) == [
        "CME-111111111111",
        "CME-333333333333",
        "CME-444444444444",
    ]
    assert refs(kind=CaseKind.NOT_ON_ROLL) == ["CME-444444444444"]
    assert refs(school=OTHER_SCHOOL) == ["CME-111111111111"]
    assert sorted(refs(school=SCHOOL)) == ["CME-222222222222", "CME-333333333333"]
    assert refs(overdue=True) == ["CME-444444444444"]
    assert refs(child_protection=True) == ["CME-444444444444"]
    assert sorted(refs(child_protection=False, overdue=False, school=SCHOOL)) == [
        "CME-222222222222",
        "CME-333333333333",
    ]
    assert refs(kind=CaseKind.NOT_ON_ROLL, school=SCHOOL) == []


async def test_the_register_reports_no_case_it_has_not_seen(register_engine: Engine) -> None:
    with Session(register_engine) as session:
        assert register.get_case(session=session, case="CME-000000000000") is None
        assert register.list_cases(session=session) == []
        assert register.list_notifications(session=session, case="CME-000000000000") == []


def test_make_engine_creates_the_sqlite_directory(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "register.db"
    engine = register.make_engine(f"sqlite:///{path}")
    try:
        assert path.parent.is_dir()
        register.create_register_schema(engine)
        assert path.is_file()
    finally:
        engine.dispose()
