"""The retention sweep on the time-skipping server, every payload encrypted with its case's key (the
codec of :mod:`security`, over an in-memory key store): a case closed and, once the retention
period has passed, erased by the sweep: its key shredded so that its history no longer decodes,
its register rows anonymised, its emails gone from the mail folder, the erasure recorded. An open
case is refused, and one case that cannot be erased does not stop the sweep.

(Schedules are not implemented by the time-skipping test server, ``CreateSchedule`` answers
UNIMPLEMENTED: the ``cme-retention`` schedule is tested against a real dev server, in
tests/starter/test_retention_cli.py.)"""

from __future__ import annotations

import socket
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities import register
from activities.case_activities import CaseActivities
from activities.config import MailConfig
from activities.erasure import ErasureActivities, case_emails
from activities.v1.legacy import LegacyActivities
from domain.case.commands import Withdraw
from domain.case.model import Stage
from domain.clock import local_date
from domain.retention import (
    ErasureOutcome,
    ErasureReason,
    ErasureRule,
    RetentionInput,
    RetentionResult,
)
from security.codec import ENCODING, KEY_ID_METADATA
from security.converter import data_converter
from security.keys import KeyShredded, MemoryKeyStore
from starter.admin import register_search_attributes
from starter.mail_folder import MailFolderServer
from tests.workflows import harness as workflow_harness
from tests.workflows.harness import (
    SCHOOL_OFFICE,
    TEAM_LEADER,
    Harness,
    memory_key_store,
    rid,
    school_referral,
)
from worker import WORKFLOWS, workflow_runner
from workflows.case import CmeCase
from workflows.retention import RetentionSweep

TEST_SERVER = Path(sys.executable).parent / "temporal-test-server"
YEAR = timedelta(days=366)


class FailingStore(MemoryKeyStore):
    """A key store that cannot shred the keys of ``broken`` cases (its database is refusing)."""

    broken: set[str]

    async def shred(self, key_id: str) -> bool:
        if key_id in self.broken:
            raise RuntimeError("the key store is refusing")
        return await super().shred(key_id)


@pytest.fixture
def store() -> FailingStore:
    plain = memory_key_store()
    failing = FailingStore(plain.ring)
    failing.broken = set()
    return failing


@pytest.fixture
async def env(store: FailingStore) -> AsyncIterator[WorkflowEnvironment]:
    environment = await WorkflowEnvironment.start_time_skipping(
        data_converter=data_converter(store),
        test_server_existing_path=str(TEST_SERVER),
    )
    try:
        await register_search_attributes(environment.client, "default")
        yield environment
    finally:
        await environment.shutdown()


@pytest.fixture
def mail_folder(tmp_path: Path) -> Iterator[MailFolderServer]:
    """`cme dev`'s mail server: every email an .eml file in the mail folder."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = MailFolderServer(tmp_path / "mail", host="127.0.0.1", port=port)
    with server:
        yield server


@pytest.fixture
async def harness(
    env: WorkflowEnvironment,
    store: FailingStore,
    mail_folder: MailFolderServer,
    mail_config: MailConfig,
    sqlite_engine: Engine,
    tmp_path: Path,
) -> AsyncIterator[Harness]:
    today = local_date(await env.get_current_time())
    calendar = workflow_harness.TestCalendar.write(tmp_path, today)
    mail = mail_config.model_copy(
        update={"smtp_host": mail_folder.host, "smtp_port": mail_folder.port}
    )
    deps: dict[str, Any] = {"mail": mail, "engine": sqlite_engine, "calendar_path": calendar.path}
    erasure = ErasureActivities(engine=sqlite_engine, store=store, mail_folder=mail_folder.folder)
    task_queue = f"cme-retention-test-{uuid.uuid4()}"
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=[
            *CaseActivities(**deps).all(),
            *LegacyActivities(**deps).all(),
            *erasure.all(),
        ],
        workflow_runner=workflow_runner(),
    ):
        yield Harness(
            env=env, client=env.client, task_queue=task_queue, calendar=calendar, today=today
        )


async def sweep(h: Harness, input: RetentionInput | None = None) -> RetentionResult:
    return await h.client.execute_workflow(
        RetentionSweep.run,
        input or RetentionInput(),
        id=f"cme-retention-test-{uuid.uuid4().hex[:8]}",
        task_queue=h.task_queue,
    )


async def closed_case(h: Harness) -> str:
    """A school referral withdrawn by the team leader: closed, its emails sent."""
    referral = school_referral(today=h.today, day1=h.calendar.day1)
    case = (await h.open(referral, SCHOOL_OFFICE)).case
    handle = h.handle(case)
    await handle.execute_update(
        CmeCase.withdraw,
        Withdraw(request_id=rid(), by=TEAM_LEADER, reason="the family say they moved to Leeds"),
    )
    await handle.result()  # the run ends once its emails are sent
    return case


def codec(h: Harness) -> PayloadCodec:
    found = h.client.data_converter.payload_codec
    assert found is not None
    return found


async def started_input(h: Harness, case: str) -> list[Payload]:
    """The encoded payloads of the case's first run's input, as the server stores them."""
    history = await h.handle(case).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    return list(started.input.payloads)


async def test_a_closed_case_is_erased_by_the_sweep_once_its_retention_period_has_passed(
    harness: Harness, store: FailingStore, mail_folder: MailFolderServer, sqlite_engine: Engine
) -> None:
    h = harness
    case = await closed_case(h)
    referral_name = (await h.handle(case).query(CmeCase.state)).child.last_name
    emails = case_emails(mail_folder.folder, case)
    assert emails, "the withdrawal's emails are in the mail folder"
    payloads = await started_input(h, case)
    assert {p.metadata["encoding"] for p in payloads} == {ENCODING}  # encrypted on the server
    assert referral_name.encode() not in b"".join(p.data for p in payloads)
    decoded = await codec(h).decode(payloads)
    assert referral_name.encode() in b"".join(p.data for p in decoded)

    with Session(sqlite_engine) as session:
        row = register.get_case(session=session, case=case)
        assert row is not None and row.closed_at is not None
        closed_at = row.closed_at

    # Five years on, the case is kept: the sweep's cut-off (six calendar years before it
    # started) is before the case closed.
    await h.env.sleep(5 * YEAR)
    started = await h.env.get_current_time()
    kept = await sweep(h)
    assert (kept.rule, kept.found, kept.erased) == (ErasureRule.RETENTION, 0, 0)
    assert kept.closed_before is not None
    assert started - 6 * YEAR <= kept.closed_before <= started - timedelta(days=6 * 365) < closed_at

    # Six years after it closed (and a day), the daily sweep erases it.
    await h.env.sleep(YEAR + timedelta(days=1))
    result = await sweep(h)
    assert result.closed_before is not None and result.closed_before > closed_at
    assert (result.found, result.erased, result.failed, result.open) == (1, 1, 0, 0)
    [erased] = result.cases
    assert (erased.case, erased.outcome, erased.rule) == (
        case,
        ErasureOutcome.ERASED,
        ErasureRule.RETENTION,
    )
    assert erased.key_shredded and erased.episodes == 1
    assert erased.emails_deleted == len(emails)

    # The key is gone: its history, on the server (and in any backup), no longer decodes.
    with pytest.raises(KeyShredded):
        await store.data_key(case, create=False)
    with pytest.raises(KeyShredded):
        await codec(h).decode(await started_input(h, case))
    # The register keeps the anonymous facts only, and the erasure's record.
    with Session(sqlite_engine) as session:
        row = register.get_case(session=session, case=case)
        assert row is not None
        assert (row.first_name, row.last_name, row.upn, row.date_of_birth) == (
            None,
            None,
            None,
            None,
        )
        assert (row.stage, row.decision, row.erased_at is not None) == ("closed", "closed", True)
        decision = register.get_decision(session=session, case=case)
        assert decision is not None and decision.closure_reason is None
        emails_kept = register.list_notifications(session=session, case=case)
        assert emails_kept and all(n.status == "sent" for n in emails_kept)
        assert all((n.subject, n.recipients) == (None, []) for n in emails_kept)
        record = register.get_erasure(session=session, case=case)
    assert record is not None
    assert (record.rule, record.reason, record.retention_years) == (
        "retention",
        "retention_period",
        6,
    )
    assert (record.erased_by, record.erased_by_role) == ("CME service", "service")
    assert referral_name not in record.model_dump_json()
    # Its emails are gone from the mail folder.
    assert case_emails(mail_folder.folder, case) == []

    # The next day's sweep finds nothing more; erasing it on request says it already is.
    await h.env.sleep(timedelta(days=1))
    assert (await sweep(h)).found == 0
    again = await sweep(
        h,
        RetentionInput(
            rule=ErasureRule.REQUEST,
            cases=[case],
            reason=ErasureReason.OBJECTION,
            by="Leader Example",
            by_role="team_leader",
        ),
    )
    assert (again.found, again.already_erased) == (1, 1)
    assert again.cases[0].outcome is ErasureOutcome.ALREADY_ERASED
    with Session(sqlite_engine) as session:
        assert len(register.list_erasures(session=session)) == 1


async def test_an_open_case_is_refused_and_a_failing_one_does_not_stop_the_sweep(
    harness: Harness, store: FailingStore, sqlite_engine: Engine
) -> None:
    h = harness
    broken, closed = await closed_case(h), await closed_case(h)
    store.broken.add(broken)
    referral = school_referral(today=h.today, day1=h.calendar.day1)
    open_case = (await h.open(referral, SCHOOL_OFFICE)).case

    result = await sweep(
        h,
        RetentionInput(
            rule=ErasureRule.REQUEST,
            cases=[open_case, broken, closed],
            reason=ErasureReason.LEGAL_OBLIGATION,
            by="Leader Example",
            by_role="team_leader",
        ),
    )

    assert (result.found, result.open, result.failed, result.erased) == (3, 1, 1, 1)
    refused, failed, erased = result.cases
    assert (refused.case, refused.outcome, refused.error) == (
        open_case,
        ErasureOutcome.OPEN,
        "CaseOpen",
    )
    assert (refused.open_episode, refused.open_stage) == (1, Stage.SCHOOL_ENQUIRIES.value)
    assert (failed.case, failed.outcome, failed.error) == (
        broken,
        ErasureOutcome.FAILED,
        "RuntimeError",
    )
    assert (erased.case, erased.outcome) == (closed, ErasureOutcome.ERASED)
    # The open case is untouched: it runs, its key works, the register still names the child.
    assert await h.running(open_case)
    assert (await h.state(open_case)).stage is not Stage.CLOSED  # (time moved on in retries)
    assert await store.data_key(open_case, create=False) is not None
    with Session(sqlite_engine) as session:
        row = register.get_case(session=session, case=open_case)
        assert row is not None and row.first_name is not None
        assert register.get_erasure(session=session, case=broken) is None
        assert register.get_erasure(session=session, case=closed) is not None


async def test_a_child_erased_and_referred_again_opens_a_new_episode_under_a_new_key(
    harness: Harness, store: FailingStore, sqlite_engine: Engine
) -> None:
    """The case reference is the child's, so an erased child referred years later lands on the
    same workflow id: the new episode's data takes a new generation of key, and the erased one
    stays unreadable."""
    h = harness
    referral = school_referral(today=h.today, day1=h.calendar.day1)
    case = (await h.open(referral, SCHOOL_OFFICE)).case
    handle = h.handle(case)
    await handle.execute_update(
        CmeCase.withdraw, Withdraw(request_id=rid(), by=TEAM_LEADER, reason="sent in error")
    )
    await handle.result()
    erased_input = await started_input(h, case)
    result = await sweep(
        h,
        RetentionInput(
            rule=ErasureRule.REQUEST,
            cases=[case],
            reason=ErasureReason.OBJECTION,
            by="Leader Example",
            by_role="team_leader",
        ),
    )
    assert (result.erased, result.cases[0].key_shredded) == (1, True)

    again = referral.model_copy(update={"safeguarding_concern": True})
    reopened = await h.open(again, SCHOOL_OFFICE)
    assert (reopened.case, reopened.episode, reopened.existing) == (case, 2, False)
    state = await h.state(case)
    assert state.child.last_name == referral.pupil.last_name  # the new episode reads
    [earlier] = state.earlier_episodes  # the erased one, by its anonymous facts
    assert earlier.episode == 1
    new_input = await started_input(h, case)
    assert {p.metadata[KEY_ID_METADATA].decode() for p in new_input} == {f"{case}~2"}
    with pytest.raises(KeyShredded):
        await codec(h).decode(erased_input)
