"""sync_register and the register's readers, on SQLite and on PostgreSQL: episodes, idempotence,
the refusals told without personal data, and SQL parameters never shown."""

from __future__ import annotations

import socket
import threading
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, delete, func, update
from sqlalchemy import event as sa_event
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlmodel import Session, SQLModel, select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities import register
from activities.case_activities import CaseActivities
from activities.config import MailConfig
from domain.calendar import DEFAULT_CALENDAR_PATH
from domain.case import episode_summary
from domain.case.effects import SyncCaseInput
from domain.case.model import CaseKind, Decision, EpisodeSummary, InvestigationOutcome, Stage
from domain.case.register_record import register_record
from domain.case.state import CaseState
from tests.activities.cases import (
    CASE,
    FIRST_NAME,
    LAST_NAME,
    OTHER_SCHOOL,
    SCHOOL,
    UPN,
    at,
    authorised_state,
    investigating_state,
    not_on_roll_state,
    school_referral,
)

TABLES: list[type[SQLModel]] = [
    register.CaseRow,
    register.EnquiryRow,
    register.TaskRow,
    register.EscalationRow,
    register.ProblemRow,
    register.DecisionRow,
]
PERSONAL = [FIRST_NAME, LAST_NAME, UPN, "Specimen", "2013-11-02", "Sam Officer", "Pat Example"]


def counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return {
            str(table.__tablename__): session.exec(select(func.count()).select_from(table)).one()
            for table in TABLES
        }


def make_acts(mail_config: MailConfig, engine: Engine) -> CaseActivities:
    return CaseActivities(mail=mail_config, engine=engine, calendar_path=DEFAULT_CALENDAR_PATH)


@pytest.fixture
def acts(mail_config: MailConfig, register_engine: Engine) -> CaseActivities:
    return make_acts(mail_config, register_engine)


async def sync(acts: CaseActivities, state: CaseState) -> str:
    """A sync as the workflow schedules it: with the episode's register record."""
    result = await ActivityEnvironment().run(
        acts.sync_register, SyncCaseInput(record=register_record(state))
    )
    assert (result.case, result.episode) == (state.case, state.episode)
    return result.stage


async def test_sync_writes_the_episode_its_items_its_problems_and_the_childs_identity(
    acts: CaseActivities, register_engine: Engine
) -> None:
    state = investigating_state()

    assert await sync(acts, state) == "la_investigation"

    with Session(register_engine) as session:
        case = register.get_case(session=session, case=CASE)
        assert case is not None
        assert (case.case_ref, case.episode, case.repeat) == (CASE, 1, False)
        assert case.kind == "destination_not_verified"
        assert case.stage == "la_investigation"
        assert case.school_laestab == SCHOOL
        assert case.child_protection is False
        assert case.opened_at == datetime(2026, 3, 2, 9, tzinfo=UTC)
        assert case.next_deadline == date(2026, 3, 16)  # the open investigation's due date
        assert case.overdue is False
        assert case.day1 == date(2026, 2, 9)
        assert case.assigned_officer == "Sam Officer"
        assert case.open_problems == 1
        assert (case.upn, case.first_name, case.last_name) == (UPN, FIRST_NAME, LAST_NAME)
        assert case.date_of_birth == date(2013, 11, 2)
        assert case.decision is None
        assert case.updated_at.tzinfo is not None

        enquiries = register.list_enquiries(session=session, case=CASE)
        assert [(e.episode, e.id, e.kind, e.outcome) for e in enquiries] == [
            (1, 1, "phone_primary", "no_contact"),
            (1, 2, "home_visit", "no_contact"),
        ]
        assert enquiries[0].recorded_by == "Pat Example"
        assert enquiries[0].note == "Mobile rang out"
        tasks = register.list_tasks(session=session, case=CASE)
        assert [(t.id, t.name, t.status) for t in tasks] == [
            (1, "school_enquiries", "done"),
            (2, "investigate", "open"),
        ]
        [escalation] = register.list_escalations(session=session, case=CASE)
        assert escalation.kind == "sat_referral"
        [problem] = register.list_problems(session=session, case=CASE)
        assert (problem.id, problem.kind, problem.subject, problem.attempts) == (
            1,
            "calendar_ends",
            "ctf",
            1,
        )
        assert problem.cleared_at is None
        assert register.get_decision(session=session, case=CASE) is None
    assert counts(register_engine) == {
        "cme_case": 1,
        "enquiry": 2,
        "task": 2,
        "escalation": 1,
        "problem": 1,
        "decision": 0,
    }


async def test_a_sync_scheduled_with_the_whole_state_writes_what_its_record_writes(
    acts: CaseActivities, register_engine: Engine
) -> None:
    """A sync scheduled before syncs carried the record (a run recorded then, still running)."""
    state = investigating_state()
    old = await ActivityEnvironment().run(acts.sync_register, SyncCaseInput(state=state))
    assert (old.case, old.episode, old.stage) == (CASE, 1, "la_investigation")
    with Session(register_engine) as session:
        written = register.get_case(session=session, case=CASE)
        tasks = register.list_tasks(session=session, case=CASE)

    await sync(acts, state)  # the same episode, as a record: nothing to change

    with Session(register_engine) as session:
        assert register.get_case(session=session, case=CASE) == written
        assert register.list_tasks(session=session, case=CASE) == tasks
    assert counts(register_engine)["task"] == 2


def test_a_sync_carries_what_the_register_holds_not_the_cases_log() -> None:
    state = investigating_state()
    record = SyncCaseInput(record=register_record(state)).model_dump_json()
    whole = SyncCaseInput(state=state).model_dump_json()
    assert len(record) < len(whole)
    for kept_out in ('"log"', '"requests"', '"referral"', '"notifications"'):
        assert kept_out in whole
        assert kept_out not in record
    with pytest.raises(ValueError, match="either the episode's record or its state"):
        SyncCaseInput()


async def test_syncing_the_same_state_twice_leaves_the_same_rows(
    acts: CaseActivities, register_engine: Engine
) -> None:
    state = investigating_state()
    await sync(acts, state)
    with Session(register_engine) as session:
        before = register.get_case(session=session, case=CASE)
        tasks_before = register.list_tasks(session=session, case=CASE)

    await sync(acts, state)

    with Session(register_engine) as session:
        after = register.get_case(session=session, case=CASE)
        assert after == before  # updated_at included: nothing changed
        assert register.list_tasks(session=session, case=CASE) == tasks_before
        synced = register.upsert_case(session=session, state=state)
    assert synced == register.Synced(
        case_ref=CASE, episode=1, stage="la_investigation", changed=False
    )
    assert counts(register_engine)["cme_case"] == 1


def test_a_sync_reads_nothing_and_an_unchanged_state_is_one_statement(
    register_engine: Engine,
) -> None:
    """The register keeps up with many cases: a sync writes without reading first or after (no
    SELECT when the state changed), and a sync of the same state is a single statement."""
    with Statements(register_engine) as seen, Session(register_engine) as session:
        assert register.upsert_case(session=session, state=investigating_state()).changed
    assert seen and "SELECT" not in {verb for verb, _ in seen}, seen
    with Statements(register_engine) as seen, Session(register_engine) as session:
        assert register.upsert_case(session=session, state=authorised_state()).changed
    assert seen and "SELECT" not in {verb for verb, _ in seen}, seen
    with Statements(register_engine) as seen, Session(register_engine) as session:
        assert not register.upsert_case(session=session, state=authorised_state()).changed
    assert [verb for verb, _ in seen] == ["INSERT"]
    assert counts(register_engine)["decision"] == 1


async def test_a_sync_runs_on_the_event_loop_on_sqlite_and_in_a_worker_thread_on_postgresql(
    acts: CaseActivities, register_engine: Engine
) -> None:
    """SQLite's few statements cost less than the hand-off to a thread (issue 11); PostgreSQL,
    over the network, never holds up the worker's event loop."""
    threads: list[int] = []

    def seen(*_args: Any) -> None:
        threads.append(threading.get_ident())

    sa_event.listen(register_engine, "before_cursor_execute", seen)
    try:
        await sync(acts, investigating_state())
    finally:
        sa_event.remove(register_engine, "before_cursor_execute", seen)
    assert threads
    loop = threading.get_ident()
    if register_engine.dialect.name == "sqlite":
        assert set(threads) == {loop}
    else:
        assert loop not in threads


async def test_register_work_is_called_with_its_arguments_and_raises_as_it_raises(
    register_engine: Engine,
) -> None:
    def work(a: int, *, b: int) -> int:
        if b < 0:
            raise OperationalError("SELECT 1", {}, Exception("away"))
        return a + b

    assert await register.call_register(register_engine, work, 1, b=2) == 3
    with pytest.raises(OperationalError):
        await register.call_register(register_engine, work, 1, b=-1)


class Statements:
    """The statements a register engine runs, as (verb, table)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.seen: list[tuple[str, str]] = []

    def _seen(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # INSERT INTO t, DELETE FROM t, UPDATE t; anything else by its verb alone.
        words = statement.split()
        verb = words[0].upper()
        table = {"INSERT": 2, "DELETE": 2, "UPDATE": 1}.get(verb)
        self.seen.append((verb, words[table] if table is not None else ""))

    def __enter__(self) -> list[tuple[str, str]]:
        sa_event.listen(self.engine, "before_cursor_execute", self._seen)
        return self.seen

    def __exit__(self, *_exc: object) -> None:
        sa_event.remove(self.engine, "before_cursor_execute", self._seen)


def write(engine: Engine, state: CaseState) -> list[tuple[str, str]]:
    """The statements one sync of ``state`` runs."""
    with Statements(engine) as seen, Session(engine) as session:
        register.upsert_case(session=session, state=state)
    return list(seen)


ITEM_TABLES = ("enquiry", "task", "escalation", "problem", "case_school")


def test_a_sync_writes_only_the_tables_that_changed(register_engine: Engine) -> None:
    """Issue 11: a new episode's rows are inserted, with nothing to delete first; a later sync
    writes the case row and only the tables whose rows changed (an upsert of what it has, a
    delete of what it no longer has)."""
    state = investigating_state()
    record = register_record(state)
    assert record.enquiries and record.tasks and record.escalations and record.problems
    assert record.sent
    assert write(register_engine, state) == [
        ("INSERT", "cme_case"),
        *[("INSERT", table) for table in ITEM_TABLES],
        ("UPDATE", "notification"),  # the emails it knows were sent: marked so in the outbox
    ]

    assert write(register_engine, state.model_copy(update={"problems": []})) == [
        ("INSERT", "cme_case"),
        ("DELETE", "problem"),
    ]
    assert write(register_engine, state.model_copy(update={"enquiries": state.enquiries[:1]})) == [
        ("INSERT", "cme_case"),
        ("INSERT", "enquiry"),
        ("DELETE", "enquiry"),
        ("INSERT", "problem"),
        ("DELETE", "problem"),
    ]
    decided = write(register_engine, authorised_state())
    assert ("INSERT", "decision") in decided
    assert ("INSERT", "case_school") not in decided  # the same school
    assert write(register_engine, state)[-1] == ("DELETE", "decision")
    assert counts(register_engine)["decision"] == 0


def test_a_row_synced_before_the_tables_had_digests_is_written_in_full_once(
    register_engine: Engine,
) -> None:
    """A row written before revision 0009 (no ``sync_parts``) is written in full at its next
    sync, whatever changed: its tables' rows are then what the record says."""
    write(register_engine, investigating_state())
    with Session(register_engine) as session:
        session.execute(
            update(register.CaseRow).values(sync_parts=None, sync_digest=None)  # as 0008 left it
        )
        session.commit()
    state = investigating_state()
    everything = write(register_engine, state.model_copy(update={"problems": []}))
    assert ("DELETE", "case_school") in everything
    assert [t for v, t in everything if v == "DELETE"] == [*ITEM_TABLES, "decision"]
    assert ("UPDATE", "notification") in everything
    assert counts(register_engine)["problem"] == 0
    assert write(register_engine, state)[1:] == [("INSERT", "problem"), ("DELETE", "problem")]


def test_a_sync_by_a_worker_that_knows_no_parts_has_the_next_write_in_full(
    register_engine: Engine,
) -> None:
    """During a rolling upgrade (or a rollback) a worker of before register revision 0009 may
    sync the episode between two syncs of this one: it writes its own digest and every table,
    and leaves ``sync_parts`` as they were. The next sync here then trusts no table's digest:
    a table the older worker changed and this sync's state has as before is written again."""
    state = investigating_state()
    write(register_engine, state)
    # What the older worker leaves: the problems gone, its own digest, the parts untouched.
    with Session(register_engine) as session:
        session.execute(delete(register.ProblemRow))
        session.execute(update(register.CaseRow).values(sync_digest="0" * 64))
        session.commit()
    assert counts(register_engine)["problem"] == 0
    everything = write(register_engine, state.model_copy(update={"tasks": state.tasks[:1]}))
    assert [t for v, t in everything if v == "DELETE"] == [*ITEM_TABLES, "decision"]
    assert counts(register_engine)["problem"] == len(state.problems)


ROW_TABLES: list[type[SQLModel]] = [*TABLES, register.CaseSchoolRow]


def rows_of(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every row of the episode's tables, without the columns a sync stamps."""
    stamped = {"updated_at", "sync_digest", "sync_parts", "sync_parts_before"}
    with Session(engine) as session:
        return {
            str(table.__tablename__): sorted(
                (
                    {k: v for k, v in row.model_dump().items() if k not in stamped}
                    for row in session.exec(select(table))
                ),
                key=repr,
            )
            for table in ROW_TABLES
        }


def test_syncs_of_changing_states_leave_the_rows_one_sync_of_the_last_would(
    register_engine: Engine,
) -> None:
    """Writing only what changed ends where writing everything would: after a run of states,
    the rows are those of the last state synced alone."""
    state = investigating_state()
    states = [
        state,
        state.model_copy(update={"problems": [], "enquiries": state.enquiries[:1]}),
        authorised_state(),
        state.model_copy(update={"tasks": state.tasks[:1]}),
        not_on_roll_state().model_copy(update={"case": CASE}),
        authorised_state(),
    ]
    for each in states:
        write(register_engine, each)
        after_run = rows_of(register_engine)
        with Session(register_engine) as session:
            for table in reversed(ROW_TABLES):  # the case row last
                session.execute(delete(table))
            session.commit()
        write(register_engine, each)
        assert rows_of(register_engine) == after_run


async def test_a_later_state_updates_the_episode_and_records_the_decision(
    acts: CaseActivities, register_engine: Engine
) -> None:
    await sync(acts, investigating_state())
    with Session(register_engine) as session:
        first = register.get_case(session=session, case=CASE)
    assert first is not None

    assert await sync(acts, authorised_state()) == "closed"
    await sync(acts, authorised_state())  # and again: still one decision

    with Session(register_engine) as session:
        case = register.get_case(session=session, case=CASE)
        assert case is not None
        assert case.stage == "closed"
        assert case.decision == "deletion_authorised"
        assert case.investigation_outcome == "not_located"
        assert case.ground == "9(1)(i)"
        assert case.earliest_deletion_date == date(2026, 3, 17)
        assert case.ctf_destination == "XXXXXXX"
        assert case.closed_at == datetime(2026, 3, 17, 11, tzinfo=UTC)
        assert case.next_deadline is None  # no open task left
        assert case.open_problems == 0
        assert case.updated_at > first.updated_at
        decision = register.get_decision(session=session, case=CASE)
        assert decision is not None
        assert (decision.episode, decision.decision) == (1, "deletion_authorised")
        assert decision.ground_other_rulebook == "8(1)(h)"
        assert (decision.decided_by, decision.decided_by_role) == ("Sam Officer", "cme_officer")
        [problem] = register.list_problems(session=session, case=CASE)
        assert problem.cleared_at == datetime(2026, 3, 17, 11, tzinfo=UTC)
        assert register.list_problems(session=session, case=CASE, open_only=True) == []
    assert counts(register_engine) == {
        "cme_case": 1,
        "enquiry": 3,
        "task": 3,
        "escalation": 1,
        "problem": 1,
        "decision": 1,
    }


async def test_items_no_longer_in_the_state_leave_the_register(
    acts: CaseActivities, register_engine: Engine
) -> None:
    await sync(acts, authorised_state())
    state = investigating_state()
    await sync(acts, state.model_copy(update={"enquiries": state.enquiries[:1], "problems": []}))
    assert counts(register_engine) == {
        "cme_case": 1,
        "enquiry": 1,
        "task": 2,
        "escalation": 1,
        "problem": 0,
        "decision": 0,
    }


async def test_a_not_on_roll_case_keeps_the_referred_child_and_its_overdue_mash_call(
    acts: CaseActivities, register_engine: Engine
) -> None:
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


# -- episodes --------------------------------------------------------------------------------------


async def test_a_second_episode_is_a_row_of_its_own_and_readers_default_to_the_latest(
    acts: CaseActivities, register_engine: Engine
) -> None:
    first = authorised_state()
    await sync(acts, first)
    second = investigating_state(episode=2, earlier=[episode_summary(first)])
    second = second.model_copy(update={"enquiries": second.enquiries[:1]})
    await sync(acts, second)

    with Session(register_engine) as session:
        latest = register.get_case(session=session, case=CASE)
        assert latest is not None
        assert (latest.episode, latest.repeat, latest.stage) == (2, True, "la_investigation")
        earlier = register.get_case(session=session, case=CASE, episode=1)
        assert earlier is not None
        assert (earlier.episode, earlier.repeat, earlier.stage) == (1, False, "closed")
        assert register.get_case(session=session, case=CASE, episode=3) is None
        assert register.latest_episode(session=session, case=CASE) == 2
        assert [c.episode for c in register.list_episodes(session=session, case=CASE)] == [1, 2]
        assert len(register.list_enquiries(session=session, case=CASE)) == 1
        assert len(register.list_enquiries(session=session, case=CASE, episode=1)) == 3
        assert register.get_decision(session=session, case=CASE) is None
        assert register.get_decision(session=session, case=CASE, episode=1) is not None

        assert register.earlier_episodes(session=session, case=CASE) == [
            EpisodeSummary(
                episode=1,
                kind=CaseKind.DESTINATION_NOT_VERIFIED,
                opened_at=datetime(2026, 3, 2, 9, tzinfo=UTC),
                closed_at=datetime(2026, 3, 17, 11, tzinfo=UTC),
                child_protection=False,
                decision=Decision.DELETION_AUTHORISED,
                investigation_outcome=InvestigationOutcome.NOT_LOCATED,
                ground="9(1)(i)",
            ),
            EpisodeSummary(
                episode=2,
                kind=CaseKind.DESTINATION_NOT_VERIFIED,
                opened_at=datetime(2026, 3, 2, 9, tzinfo=UTC),
            ),
        ]
        assert register.earlier_episodes(session=session, case="CME-000000000000") == []

        # The summary the register gives is the one the case itself makes.
        assert register.earlier_episodes(session=session, case=CASE)[0] == episode_summary(first)

        # Every case once, at its latest episode; every episode when asked.
        assert [(c.case_ref, c.episode) for c in register.list_cases(session=session)] == [
            (CASE, 2)
        ]
        assert [c.episode for c in register.list_cases(session=session, all_episodes=True)] == [
            1,
            2,
        ]
        assert register.list_cases(session=session, stage="closed") == []
        assert [c.episode for c in register.list_cases(session=session, repeat=True)] == [2]
    assert counts(register_engine)["cme_case"] == 2


async def test_list_cases_filters(acts: CaseActivities, register_engine: Engine) -> None:
    other_school = investigating_state(
        "CME-111111111111",
        referral=school_referral(
            first_name="Ava", last_name="Exampleton", upn="N851200018003", school=OTHER_SCHOOL
        ),
    )
    await sync(acts, authorised_state("CME-222222222222"))
    await sync(acts, investigating_state("CME-333333333333"))
    await sync(acts, other_school.model_copy(update={"problems": []}))
    await sync(acts, not_on_roll_state("CME-444444444444"))

    def refs(**filters: Any) -> list[str]:
        with Session(register_engine) as session:
            return sorted(c.case_ref for c in register.list_cases(session=session, **filters))

    assert refs() == [
        "CME-111111111111",
        "CME-222222222222",
        "CME-333333333333",
        "CME-444444444444",
    ]
    assert refs(stage=Stage.CLOSED) == ["CME-222222222222"]
    assert refs(stage="la_investigation") == [
        "CME-111111111111",
        "CME-333333333333",
        "CME-444444444444",
    ]
    assert refs(kind=CaseKind.NOT_ON_ROLL) == ["CME-444444444444"]
    assert refs(school=OTHER_SCHOOL) == ["CME-111111111111"]
    assert refs(school=SCHOOL) == ["CME-222222222222", "CME-333333333333"]
    assert refs(overdue=True) == ["CME-444444444444"]
    assert refs(child_protection=True) == ["CME-444444444444"]
    assert refs(child_protection=False, overdue=False, school=SCHOOL) == [
        "CME-222222222222",
        "CME-333333333333",
    ]
    assert refs(problems=True) == ["CME-333333333333"]
    assert refs(problems=False, school=OTHER_SCHOOL) == ["CME-111111111111"]
    assert refs(repeat=True) == []
    assert refs(kind=CaseKind.NOT_ON_ROLL, school=SCHOOL) == []


async def test_the_register_reports_no_case_it_has_not_seen(register_engine: Engine) -> None:
    with Session(register_engine) as session:
        assert register.get_case(session=session, case="CME-000000000000") is None
        assert register.list_cases(session=session) == []
        assert register.list_tasks(session=session, case="CME-000000000000") == []
        assert register.get_decision(session=session, case="CME-000000000000") is None
        assert register.list_notifications(session=session, case="CME-000000000000") == []


async def test_a_sync_marks_sent_the_emails_the_case_knows_were_sent(
    acts: CaseActivities, register_engine: Engine
) -> None:
    """An email delivered while the register could not record it: the case's record wins."""
    with Session(register_engine) as session:
        register.claim_notification(
            session=session,
            case=CASE,
            episode=1,
            purpose="sat_referral",
            template="sat_referral",
            subject="subject",
            body="body",
            recipients=["sat@portsmouth.example.invalid"],
            message_id="<m@x>",
        )
    await sync(acts, investigating_state())
    with Session(register_engine) as session:
        [row] = register.list_notifications(session=session, case=CASE)
    assert row.status == "sent"
    assert row.sent_at == at(date(2026, 3, 2), 16)
    assert row.delivered_to == ["sat@portsmouth.example.invalid"]


def test_the_outbox_counts_attempts_keeps_its_message_id_and_never_reopens_a_sent_message(
    register_engine: Engine,
) -> None:
    """The outbox's lifecycle on both databases: a claim writes the row or counts another attempt
    (taking the attempt's text and recipients), a delivery records its recipients, and once
    every recipient is done the message is sent and no later claim changes it."""
    school, sat = "office@school.example.invalid", "sat@portsmouth.example.invalid"

    def claim(subject: str, recipients: list[str], message_id: str) -> register.OutboxMessage:
        with Session(register_engine) as session:
            return register.claim_notification(
                session=session,
                case=CASE,
                episode=1,
                purpose="sat_referral",
                template="sat_referral",
                subject=subject,
                body=f"{subject} body",
                recipients=recipients,
                message_id=message_id,
            )

    def delivered(to: list[str], when: datetime) -> register.NotificationPublic:
        with Session(register_engine) as session:
            register.mark_notification_sent(
                session=session,
                case=CASE,
                episode=1,
                purpose="sat_referral",
                at=when,
                delivered_to=to,
            )
            [row] = register.list_notifications(session=session, case=CASE)
        return row

    first = claim("first", [school], "<m1@x>")
    assert (first.status, first.attempts, first.message_id) == ("pending", 1, "<m1@x>")
    assert (first.subject, first.body, first.recipients) == ("first", "first body", [school])
    assert first.delivered_to == [] and first.sent_at is None

    # A retry with an address corrected since: the same row and Message-ID, the new recipients.
    second = claim("second", [school, sat], "<m2@x>")
    assert (second.status, second.attempts, second.message_id) == ("pending", 2, "<m1@x>")
    assert (second.subject, second.recipients) == ("second", [school, sat])
    assert second.created_at == first.created_at

    partly = delivered([school.upper()], at(date(2026, 3, 2), 16))
    assert (partly.status, partly.delivered_to, partly.sent_at) == (
        "pending",
        [school.upper()],
        None,
    )
    assert claim("third", [school, sat], "<m3@x>").undelivered == [sat]

    done = delivered([school, sat], at(date(2026, 3, 2), 17))
    assert done.status == "sent"
    assert done.delivered_to == [school.upper(), sat]
    assert done.sent_at == at(date(2026, 3, 2), 17)

    again = claim("fourth", [sat], "<m4@x>")
    assert (again.status, again.attempts, again.subject, again.message_id) == (
        "sent",
        3,
        "third",
        "<m1@x>",
    )
    assert delivered([sat], at(date(2026, 3, 3), 9)).sent_at == at(date(2026, 3, 2), 17)


# -- refusals and failures -------------------------------------------------------------------------


def refuse_a_note(engine: Engine, note: str = "Mobile rang out") -> None:
    """Make the register refuse an enquiry with ``note``: a check on PostgreSQL, a trigger on
    SQLite (which cannot add a check to a table)."""
    if engine.dialect.name == "sqlite":
        ddl = (
            "CREATE TRIGGER refuse_note BEFORE INSERT ON enquiry "
            f"WHEN NEW.note = '{note}' BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    else:
        ddl = f"ALTER TABLE enquiry ADD CONSTRAINT ck_refuse_note CHECK (note <> '{note}')"
    with engine.begin() as connection:
        connection.exec_driver_sql(ddl)


async def test_data_the_register_refuses_is_rejected_for_good_without_personal_data(
    acts: CaseActivities, register_engine: Engine
) -> None:
    refuse_a_note(register_engine)
    with pytest.raises(ApplicationError) as raised:
        await sync(acts, investigating_state())
    error = raised.value
    assert (error.type, error.non_retryable) == ("RegisterRejected", True)
    # PostgreSQL's own message quotes the refused row: it is never used.
    assert error.message.startswith(
        f"case {CASE}, episode 1: the register refused the case's data: a value breaks a check"
    )
    for value in [*PERSONAL, "Mobile rang out"]:
        assert value not in str(error)
    assert counts(register_engine)["cme_case"] == 0  # nothing half-written


async def test_a_value_too_long_for_postgresql_is_rejected_for_good(
    mail_config: MailConfig, postgres_engine: Engine
) -> None:
    acts = make_acts(mail_config, postgres_engine)
    state = investigating_state().model_copy(update={"assigned_officer": "Sam Officer " * 30})
    with pytest.raises(ApplicationError) as raised:
        await sync(acts, state)
    assert raised.value.type == "RegisterRejected"
    assert raised.value.message == (
        f"case {CASE}, episode 1: the register refused the case's data: a value is longer than "
        "its column allows"
    )


def test_database_errors_never_show_the_values_they_were_given(register_engine: Engine) -> None:
    """hide_parameters: a forced error's text has the SQL but none of the values sent with it
    (an error whose database message does not quote them: SQLite's trigger, PostgreSQL's
    value too long)."""
    assert register_engine.hide_parameters
    state = investigating_state()
    expected: type[Exception]
    if register_engine.dialect.name == "sqlite":
        refuse_a_note(register_engine)
        expected = IntegrityError
    else:
        state = state.model_copy(update={"assigned_officer": "Sam Officer " * 30})
        expected = DataError
    with Session(register_engine) as session, pytest.raises(expected) as raised:
        register.upsert_case(session=session, state=state)
    text = str(raised.value)
    assert "[SQL parameters hidden due to hide_parameters=True]" in text
    for value in [*PERSONAL, "Mobile rang out"]:
        assert value not in text


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_an_unreachable_register_is_retried(mail_config: MailConfig) -> None:
    engine = register.make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/x")
    try:
        with pytest.raises(OperationalError) as raised:
            await sync(make_acts(mail_config, engine), investigating_state())
    finally:
        engine.dispose()
    assert not isinstance(raised.value, ApplicationError)
    for value in PERSONAL:
        assert value not in str(raised.value)


def test_make_engine_creates_the_sqlite_directory_and_hides_parameters(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "register.db"
    engine = register.make_engine(f"sqlite:///{path}")
    try:
        assert path.parent.is_dir()
        assert engine.hide_parameters
        register.create_register_schema(engine)
        assert path.is_file()
        assert register.register_revision(engine) == register.HEAD
    finally:
        engine.dispose()
    postgres = register.make_engine("postgresql://cme:secret@db.example.invalid/cme")
    assert postgres.url.drivername == "postgresql+psycopg"
    assert postgres.hide_parameters
    postgres.dispose()
