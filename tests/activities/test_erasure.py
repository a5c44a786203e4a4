"""Erasure in the register (SQLite and PostgreSQL) and the erasure activities: every personal field
of every episode gone, the anonymous facts kept, the erasure recorded once and without personal
data; which cases are expired; erasing refused while a case is open (in the register or in
Temporal), the key shredded, the case's emails deleted from the mail folder."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session
from temporalio.api.common.v1 import SearchAttributes
from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.api.workflow.v1 import WorkflowExecutionInfo
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionRequest,
    DescribeWorkflowExecutionResponse,
)
from temporalio.client import Client
from temporalio.converter import default as default_converter
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import ActivityEnvironment

from activities import register
from activities.erasure import ErasureActivities, case_emails, case_in_email_name
from domain.case.model import Decision, Escalation, EscalationKind, InvestigationOutcome
from domain.case.state import CaseState
from domain.retention import (
    EraseCaseInput,
    ErasureOutcome,
    ErasureReason,
    ErasureRule,
    FindExpiredInput,
)
from security.keys import KeyShredded, MemoryKeyStore
from starter.mail_folder import eml_name
from tests.activities.cases import (
    CASE,
    FIRST_NAME,
    LAST_NAME,
    OFFICER,
    SCHOOL,
    UPN,
    at,
    authorised_state,
    investigating_state,
)
from tests.workflows.harness import memory_key_store
from workflows import search_attributes as sa

# Everything in the test cases that is the child's, or free text about the child, or a person's
# address. Officers' names ("Sam Officer", "Pat Example") are not the child's: they are kept.
CHILD = [FIRST_NAME, LAST_NAME, UPN, "2013-11-02"]
FREE_TEXT = [
    "Mobile rang out",  # an enquiry's note
    "aunt in Leeds",  # an escalation's reason
    "moved in with his aunt",  # the closure reason
    "Dear school",  # an email's body
    "chris.demo@example.invalid",  # a person's address
    "Written outcome",  # an email's subject
]
OTHER = "CME-0123456789AB"  # another child's case, never touched
CLOSED = datetime(2026, 3, 17, 11, tzinfo=UTC)


def _closed(
    case: str = CASE,
    *,
    episode: int = 1,
    closed: datetime = CLOSED,
) -> CaseState:
    """A closed episode (deletion authorised on ``closed``) with personal free text: an enquiry
    note, an escalation reason, a closure reason."""
    state = authorised_state(case, episode=episode)
    assert state.outcome is not None
    escalation = Escalation(
        id=2,
        kind=EscalationKind.MASH,
        at=at(date(2026, 3, 3)),
        reason=f"{FIRST_NAME} seen with an aunt in Leeds",
        raised_by=OFFICER,
    )
    return state.model_copy(
        update={
            "escalations": [*state.escalations, escalation],
            "child_protection": True,
            "outcome": state.outcome.model_copy(
                update={
                    "decided_at": closed,
                    "closure_reason": f"{FIRST_NAME} moved in with his aunt",
                }
            ),
        }
    )


def _write(engine: Engine, *states: CaseState) -> None:
    with Session(engine) as session:
        for state in states:
            register.upsert_case(session=session, state=state)


def _email(engine: Engine, case: str, episode: int, purpose: str) -> None:
    with Session(engine) as session:
        register.claim_notification(
            session=session,
            case=case,
            episode=episode,
            purpose=purpose,
            template=purpose,
            subject=f"CME case {case}: Written outcome",
            body=f"Dear school, {FIRST_NAME} {LAST_NAME} (UPN {UPN}, born 2013-11-02) ...",
            recipients=["attendance.8512000@schools.example.invalid", "chris.demo@example.invalid"],
            message_id=f"<{purpose}.{case.lower()}@example.invalid>",
        )
        register.mark_notification_sent(
            session=session,
            case=case,
            episode=episode,
            purpose=purpose,
            at=at(date(2026, 3, 17), 12),
            delivered_to=[
                "attendance.8512000@schools.example.invalid",
                "chris.demo@example.invalid",
            ],
        )


def _dump(engine: Engine, case: str) -> str:
    """Every row of every table about ``case``, as text."""
    rows: list[dict[str, Any]] = []
    with engine.connect() as connection:
        for table in (
            "cme_case",
            "enquiry",
            "task",
            "escalation",
            "problem",
            "decision",
            "notification",
            "erasure",
        ):
            result = connection.execute(
                text(f"SELECT * FROM {table} WHERE case_ref = :case"), {"case": case}
            )
            rows += [dict(row._mapping) for row in result]
    return json.dumps(rows, default=str)


def _erase(engine: Engine, case: str = CASE) -> register.Erased:
    with Session(engine) as session:
        return register.erase_personal_data(session=session, case=case)


# -- the register ----------------------------------------------------------------------------------


def test_erasing_removes_every_personal_field_of_every_episode_and_keeps_the_facts(
    register_engine: Engine,
) -> None:
    engine = register_engine
    second = _closed(episode=2, closed=at(date(2026, 6, 1), 10))
    _write(engine, _closed(), second, _closed(OTHER))
    _email(engine, CASE, 1, "outcome_to_school")
    _email(engine, CASE, 2, "outcome_to_school")
    _email(engine, OTHER, 1, "outcome_to_school")
    before = _dump(engine, CASE)
    assert all(value in before for value in CHILD + FREE_TEXT)

    erased = _erase(engine)

    assert erased.episodes == [1, 2]
    after = _dump(engine, CASE)
    for value in CHILD + FREE_TEXT:
        assert value not in after, value
    with Session(engine) as session:
        episodes = register.list_episodes(session=session, case=CASE)
        for episode in episodes:
            assert (episode.upn, episode.first_name, episode.last_name) == (None, None, None)
            assert episode.date_of_birth is None
            assert episode.erased_at is not None
            # The anonymous facts are kept.
            assert (episode.kind, episode.stage) == ("destination_not_verified", "closed")
            assert (episode.decision, episode.ground) == ("deletion_authorised", "9(1)(i)")
            assert episode.investigation_outcome == InvestigationOutcome.NOT_LOCATED.value
            assert (episode.school_laestab, episode.child_protection) == (SCHOOL, True)
            assert episode.opened_at == at(date(2026, 3, 2))
            assert episode.day1 == date(2026, 2, 9)
            assert episode.earliest_deletion_date == date(2026, 3, 17)
            assert episode.assigned_officer == "Sam Officer"  # an officer: not the child's data
        assert [e.closed_at for e in episodes] == [
            at(date(2026, 3, 17), 11),
            at(date(2026, 6, 1), 10),
        ]
        enquiries = register.list_enquiries(session=session, case=CASE, episode=1)
        first = enquiries[0]
        assert (first.kind, first.outcome, first.made_on, first.note) == (
            "phone_primary",
            "no_contact",
            date(2026, 2, 9),
            None,
        )
        assert [e.reason for e in register.list_escalations(session=session, case=CASE)] == [
            None,
            None,
        ]
        assert [e.kind for e in register.list_escalations(session=session, case=CASE)] == [
            "sat_referral",
            "mash",
        ]
        assert len(register.list_tasks(session=session, case=CASE)) == 3
        decision = register.get_decision(session=session, case=CASE, episode=1)
        assert decision is not None and decision.closure_reason is None
        assert decision.decision == Decision.DELETION_AUTHORISED.value
        assert decision.decided_at == at(date(2026, 3, 17), 11)
        [email] = register.list_notifications(session=session, case=CASE, episode=1)
        assert (email.purpose, email.template, email.status) == (
            "outcome_to_school",
            "outcome_to_school",
            "sent",
        )
        assert email.sent_at == at(date(2026, 3, 17), 12) and email.created_at is not None
        assert (email.subject, email.recipients, email.delivered_to) == (None, [], [])
    # The erasure's summary of what it kept: facts, no personal data.
    assert [f["episode"] for f in erased.facts] == [1, 2]
    assert erased.facts[1]["closed_at"] == "2026-06-01T10:00:00+00:00"
    assert erased.facts[0]["ground"] == "9(1)(i)" and erased.facts[0]["school_laestab"] == SCHOOL
    for value in CHILD + FREE_TEXT:
        assert value not in json.dumps(erased.facts)
    # Another child's case is untouched.
    assert all(value in _dump(engine, OTHER) for value in [FIRST_NAME, "Dear school"])


def test_erasing_twice_changes_nothing_and_records_once(register_engine: Engine) -> None:
    engine = register_engine
    _write(engine, _closed())
    first = _erase(engine)
    with Session(engine) as session:
        erased_at = register.get_case(session=session, case=CASE)
        record, new = register.record_erasure(
            session=session,
            case=CASE,
            rule="request",
            reason=ErasureReason.OBJECTION.value,
            erased_by="Leader Example",
            erased_by_role="team_leader",
            erased=first,
            key_shredded=True,
            emails_deleted=2,
        )
    assert new
    dump = _dump(engine, CASE)

    again = _erase(engine)
    with Session(engine) as session:
        same, new_again = register.record_erasure(
            session=session,
            case=CASE,
            rule="retention",
            reason=ErasureReason.RETENTION_PERIOD.value,
            erased_by="CME service",
            erased_by_role="service",
            erased=again,
            key_shredded=False,
            emails_deleted=0,
            retention_years=6,
        )
        assert register.get_case(session=session, case=CASE) == erased_at  # erased_at kept
        assert register.list_erasures(session=session) == [record]
    assert not new_again and same == record
    assert again.episodes == first.episodes and again.facts == first.facts
    assert _dump(engine, CASE) == dump

    # The record: when, why, by whom, what: no personal data.
    assert (record.case_ref, record.through_episode, record.episodes) == (CASE, 1, 1)
    assert (record.rule, record.reason) == ("request", "objection")
    assert (record.erased_by, record.erased_by_role) == ("Leader Example", "team_leader")
    assert (record.key_shredded, record.emails_deleted, record.retention_years) == (True, 2, None)
    assert record.erased_at.tzinfo is not None
    assert record.facts[0]["decision"] == "deletion_authorised"
    for value in CHILD + FREE_TEXT:
        assert value not in record.model_dump_json()


def test_an_erased_episode_is_not_synced_again(register_engine: Engine) -> None:
    _write(register_engine, _closed())
    _erase(register_engine)
    dump = _dump(register_engine, CASE)
    with Session(register_engine) as session:
        synced = register.upsert_case(session=session, state=_closed())
    assert not synced.changed and synced.stage == "closed"
    assert _dump(register_engine, CASE) == dump


def test_the_erasure_table_refuses_an_unknown_rule(register_engine: Engine) -> None:
    from sqlalchemy.exc import IntegrityError

    with Session(register_engine) as session, pytest.raises(IntegrityError):
        register.record_erasure(
            session=session,
            case=CASE,
            rule="whim",
            reason="objection",
            erased_by="Leader Example",
            erased_by_role="team_leader",
            erased=register.Erased(case_ref=CASE, episodes=[], facts=[]),
            key_shredded=False,
            emails_deleted=0,
        )


# -- which cases are expired -----------------------------------------------------------------------

CUTOFF = datetime(2026, 4, 1, tzinfo=UTC)
LONG_AGO = at(date(2026, 3, 17), 11)
RECENT = at(date(2026, 5, 1), 11)


def _ref(n: int) -> str:
    return f"CME-{n:012X}"


def test_expired_cases_are_those_whose_latest_episode_closed_before_the_cutoff(
    register_engine: Engine,
) -> None:
    engine = register_engine
    expired, recent, reopened, both_old, erased, never_closed, second_recent = (
        _ref(n) for n in range(1, 8)
    )
    _write(
        engine,
        _closed(expired, closed=LONG_AGO),
        _closed(recent, closed=RECENT),
        # a newer episode still open: never expired
        _closed(reopened, closed=LONG_AGO),
        investigating_state(reopened, episode=2),
        # two old episodes: the latest counts
        _closed(both_old, closed=at(date(2025, 1, 6))),
        _closed(both_old, episode=2, closed=LONG_AGO),
        _closed(erased, closed=LONG_AGO),
        investigating_state(never_closed),
        # an old episode, then a recent one
        _closed(second_recent, closed=LONG_AGO),
        _closed(second_recent, episode=2, closed=RECENT),
    )
    _erase(engine, erased)

    def found(**kwargs: Any) -> list[str]:
        with Session(engine) as session:
            return register.expired_cases(session=session, closed_before=CUTOFF, **kwargs)

    assert found() == [expired, both_old]
    assert found(limit=1) == [expired]
    assert found(after=expired) == [both_old]
    assert found(after=both_old) == []
    # The cut-off is a moment: a case closed just before it is expired, at it is not.
    with Session(engine) as session:
        assert register.expired_cases(session=session, closed_before=LONG_AGO) == []
        later = LONG_AGO + timedelta(microseconds=1)
        assert register.expired_cases(session=session, closed_before=later) == [
            expired,
            both_old,
        ]
    # Once erased, a case is not expired any more.
    _erase(engine, expired)
    assert found() == [both_old]


# -- the activities --------------------------------------------------------------------------------


class _Temporal:
    """A client that knows which cases have a workflow, and whether it runs (the describe call
    of Temporal's service, raw, as the activity makes it)."""

    namespace = "default"

    def __init__(self) -> None:
        self.cases: dict[str, DescribeWorkflowExecutionResponse] = {}
        self.workflow_service = self

    def running(self, case: str, episode: int, stage: str) -> None:
        convert = default_converter().payload_converter.to_payload
        attributes = {sa.EPISODE.name: convert(episode), sa.STAGE.name: convert(stage)}
        self.cases[case] = DescribeWorkflowExecutionResponse(
            workflow_execution_info=WorkflowExecutionInfo(
                status=WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING,
                search_attributes=SearchAttributes(indexed_fields=attributes),
            )
        )

    def completed(self, case: str) -> None:
        self.cases[case] = DescribeWorkflowExecutionResponse(
            workflow_execution_info=WorkflowExecutionInfo(
                status=WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_COMPLETED
            )
        )

    async def describe_workflow_execution(
        self, request: DescribeWorkflowExecutionRequest
    ) -> DescribeWorkflowExecutionResponse:
        assert request.namespace == self.namespace
        found = self.cases.get(request.execution.workflow_id)
        if found is None:
            raise RPCError("workflow not found", RPCStatusCode.NOT_FOUND, b"")
        return found


@pytest.fixture
def temporal() -> _Temporal:
    return _Temporal()


@pytest.fixture
def store() -> MemoryKeyStore:
    return memory_key_store()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "mail"


def _activities(engine: Engine, store: MemoryKeyStore, folder: Path) -> ErasureActivities:
    return ErasureActivities(engine=engine, store=store, mail_folder=folder)


async def _run(temporal: _Temporal, activity: Any, input: Any) -> Any:
    return await ActivityEnvironment(client=cast(Client, temporal)).run(activity, input)


def _eml(folder: Path, case: str, n: int, *, temporary: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    name = eml_name(case, datetime(2026, 3, 17, 12, n, tzinfo=UTC), f"{n:08x}")
    path = folder / (f".{name}.0badcafe.tmp" if temporary else name)
    path.write_text(f"Subject: CME case {case}: Referred\n\nabout {FIRST_NAME}\n")
    return path


def _request(case: str = CASE) -> EraseCaseInput:
    return EraseCaseInput(
        case=case,
        rule=ErasureRule.REQUEST,
        reason=ErasureReason.OBJECTION,
        by="Leader Example",
        by_role="team_leader",
    )


def test_the_mail_folder_names_the_case_of_each_file(folder: Path) -> None:
    mine = [_eml(folder, CASE, 1), _eml(folder, CASE, 2), _eml(folder, CASE, 3, temporary=True)]
    _eml(folder, OTHER, 4)
    (folder / "notes.txt").write_text("not an email")
    stamp = datetime(2026, 3, 17, tzinfo=UTC)
    assert case_in_email_name(eml_name(CASE.lower(), stamp, "5b1c0e2a")) == CASE
    assert case_in_email_name(eml_name(None, stamp, "5b1c0e2a")) == "NO-CASE"
    assert case_in_email_name("notes.txt") is None
    assert case_emails(folder, CASE.lower()) == sorted(mine)
    assert case_emails(folder / "none", CASE) == []


async def test_erasing_a_closed_case_shreds_its_key_anonymises_it_and_deletes_its_emails(
    sqlite_engine: Engine, store: MemoryKeyStore, folder: Path, temporal: _Temporal
) -> None:
    _write(sqlite_engine, _closed(), _closed(OTHER))
    temporal.completed(CASE)
    await store.data_key(CASE, create=True)
    await store.data_key(OTHER, create=True)
    _eml(folder, CASE, 1)
    _eml(folder, CASE, 2, temporary=True)
    others = [_eml(folder, OTHER, 3)]
    acts = _activities(sqlite_engine, store, folder)

    erased = await _run(temporal, acts.erase_case, _request())

    assert erased.outcome is ErasureOutcome.ERASED
    assert (erased.episodes, erased.key_shredded, erased.emails_deleted) == (1, True, 2)
    assert erased.rule is ErasureRule.REQUEST and erased.erased_at is not None
    with pytest.raises(KeyShredded):
        await store.data_key(CASE, create=False)
    assert await store.data_key(OTHER, create=False) is not None
    assert case_emails(folder, CASE) == [] and sorted(folder.iterdir()) == others
    for value in CHILD + FREE_TEXT:
        assert value not in _dump(sqlite_engine, CASE)
    with Session(sqlite_engine) as session:
        record = register.get_erasure(session=session, case=CASE)
    assert record is not None
    assert (record.rule, record.reason, record.erased_by) == (
        "request",
        "objection",
        "Leader Example",
    )
    assert (record.key_shredded, record.emails_deleted) == (True, 2)

    # Again: nothing left to do, the erasure is not recorded twice.
    again = await _run(temporal, acts.erase_case, _request())
    assert again.outcome is ErasureOutcome.ALREADY_ERASED
    assert (again.key_shredded, again.emails_deleted) == (False, 0)
    assert again.erased_at == erased.erased_at and again.rule is ErasureRule.REQUEST
    with Session(sqlite_engine) as session:
        assert len(register.list_erasures(session=session)) == 1


async def test_a_case_open_in_the_register_is_refused_and_left_as_it_is(
    sqlite_engine: Engine, store: MemoryKeyStore, folder: Path, temporal: _Temporal
) -> None:
    _write(sqlite_engine, _closed(), investigating_state(CASE, episode=2))
    await store.data_key(CASE, create=True)
    _eml(folder, CASE, 1)
    dump = _dump(sqlite_engine, CASE)

    with pytest.raises(ApplicationError) as refused:
        await _run(temporal, _activities(sqlite_engine, store, folder).erase_case, _request())

    assert refused.value.type == "CaseOpen" and refused.value.non_retryable
    assert refused.value.message == (
        f"case {CASE} is open (episode 2, stage la_investigation): a case is erased only once "
        "it is closed"
    )
    assert _dump(sqlite_engine, CASE) == dump
    assert await store.data_key(CASE, create=False) is not None
    assert len(case_emails(folder, CASE)) == 1


async def test_a_case_running_in_temporal_is_refused(
    sqlite_engine: Engine, store: MemoryKeyStore, folder: Path, temporal: _Temporal
) -> None:
    """The register's latest episode is closed, but the child's next episode is opening."""
    _write(sqlite_engine, _closed())
    temporal.running(CASE, 2, "school_enquiries")
    with pytest.raises(ApplicationError) as refused:
        await _run(temporal, _activities(sqlite_engine, store, folder).erase_case, _request())
    assert refused.value.type == "CaseOpen"
    assert "episode 2, stage school_enquiries" in refused.value.message
    assert refused.value.details == ({"episode": 2, "stage": "school_enquiries"},)
    with Session(sqlite_engine) as session:
        case = register.get_case(session=session, case=CASE)
        assert case is not None and case.first_name == FIRST_NAME


async def test_an_unknown_case_is_not_recorded(
    sqlite_engine: Engine, store: MemoryKeyStore, folder: Path, temporal: _Temporal
) -> None:
    erased = await _run(temporal, _activities(sqlite_engine, store, folder).erase_case, _request())
    assert erased.outcome is ErasureOutcome.UNKNOWN
    with Session(sqlite_engine) as session:
        assert register.list_erasures(session=session) == []


async def test_a_case_only_temporal_knows_is_erased(
    sqlite_engine: Engine, store: MemoryKeyStore, temporal: _Temporal
) -> None:
    """A case that never reached the register (its syncs failed), with no mail folder."""
    temporal.completed(CASE)
    await store.data_key(CASE, create=True)
    acts = ErasureActivities(engine=sqlite_engine, store=store, mail_folder=None)
    erased = await _run(temporal, acts.erase_case, _request())
    assert (erased.outcome, erased.episodes, erased.key_shredded) == (
        ErasureOutcome.ERASED,
        0,
        True,
    )
    with Session(sqlite_engine) as session:
        record = register.get_erasure(session=session, case=CASE)
    assert record is not None and record.through_episode == 0


async def test_find_expired_lists_a_batch(
    sqlite_engine: Engine, store: MemoryKeyStore, folder: Path, temporal: _Temporal
) -> None:
    cases = [_ref(n) for n in range(1, 4)]
    _write(sqlite_engine, *(_closed(c, closed=LONG_AGO) for c in cases))
    acts = _activities(sqlite_engine, store, folder)
    first = await _run(temporal, acts.find_expired, FindExpiredInput(closed_before=CUTOFF, limit=2))
    assert first.cases == cases[:2]
    rest = await _run(
        temporal, acts.find_expired, FindExpiredInput(closed_before=CUTOFF, after=cases[1])
    )
    assert rest.cases == cases[2:]
