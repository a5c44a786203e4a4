"""`cme retention` and `cme erase` against a real dev server (the time-skipping test server has no
schedules: its CreateSchedule is UNIMPLEMENTED): the schedule cme-retention created and updated
idempotently, visible in `temporal schedule list`, its action a retention sweep on the task queue
that erases an expired case when run; `cme erase` refused for an open case and for anyone but a
team leader, erasing a closed one (once)."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.client import (
    Client,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleOverlapPolicy,
)
from temporalio.service import RPCError

from activities import register
from activities.erasure import case_emails
from domain.clock import LONDON
from domain.retention import RetentionInput
from security.keys import KeyShredded
from settings import Settings
from starter import retention_cli
from starter.mail_folder import eml_name
from tests.activities.cases import authorised_state
from tests.starter.conftest import TEMPORAL_CLI, Cli, eventually, run_main
from tests.workflows.harness import school_referral
from workflows.retention import WORKFLOW_TYPE

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(loop_scope="session")
async def no_schedule(cli: Cli) -> AsyncIterator[None]:
    """The session's server without the schedule before the test, and after it."""
    await _delete_schedule(cli.client)
    try:
        yield
    finally:
        await _delete_schedule(cli.client)


async def _delete_schedule(client: Client) -> None:
    with contextlib.suppress(RPCError):
        await client.get_schedule_handle(retention_cli.SCHEDULE_ID).delete()


def _old_closed_case(engine: Engine, case: str) -> None:
    """A case the register saw close in 2019: its retention period has passed."""
    state = authorised_state(case)
    assert state.outcome is not None
    closed = datetime(2019, 3, 18, 11, tzinfo=UTC)
    state = state.model_copy(
        update={"outcome": state.outcome.model_copy(update={"decided_at": closed})}
    )
    with Session(engine) as session:
        register.upsert_case(session=session, state=state)


async def test_the_retention_schedule_runs_the_sweep_daily_and_now(
    cli: Cli, no_schedule: None, sqlite_engine: Engine
) -> None:
    created = await cli.ok("retention", "schedule")
    assert created.out_lines == [
        "schedule cme-retention: every day at 02:00 Europe/London, erases the cases closed more "
        f"than 6 years ago (task queue {cli.task_queue}): created"
    ]
    handle = cli.client.get_schedule_handle("cme-retention")
    described = await handle.describe()
    schedule = described.schedule
    [calendar] = schedule.spec.calendars
    assert [(r.start, r.end) for r in calendar.hour] == [(2, 2)]
    assert [(r.start, r.end) for r in calendar.minute] == [(0, 0)]
    assert [(r.start, r.end) for r in calendar.day_of_week] == [(0, 6)]
    assert schedule.spec.time_zone_name == "Europe/London"
    assert schedule.policy.overlap is ScheduleOverlapPolicy.SKIP
    action = schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert (action.workflow, action.id, action.task_queue) == (
        WORKFLOW_TYPE,
        "cme-retention-sweep",
        cli.task_queue,
    )
    [arg] = await cli.client.data_converter.decode(list(action.args), [RetentionInput])
    assert arg == RetentionInput(retention_years=6)
    # Daily at 02:00 in England (01:00 UTC in summer, 02:00 in winter).
    for at in described.info.next_action_times:
        assert at.astimezone(LONDON).hour == 2

    # Visible to the `temporal` CLI (from visibility, a moment after its creation).
    async def listed() -> None:
        shown = await asyncio.to_thread(
            subprocess.run,
            [
                str(TEMPORAL_CLI),
                "schedule",
                "list",
                "--address",
                cli.client.service_client.config.target_host,
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert shown.returncode == 0, shown.stderr
        assert "cme-retention" in shown.stdout

    await eventually(listed, timeout=20, interval=0.5)

    # Idempotent: again, it is updated to the settings, and a pause is kept.
    await handle.pause(note="paused by the test")
    cli.monkeypatch.setenv("CME_RETENTION_YEARS", "9")
    updated = await cli.ok("retention", "schedule", "--json")
    assert updated.json() == {
        "schedule": "cme-retention",
        "done": "updated",
        "retention_years": 9,
        "task_queue": cli.task_queue,
    }
    described = await handle.describe()
    assert described.schedule.state.paused
    action = described.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    [arg] = await cli.client.data_converter.decode(list(action.args), [RetentionInput])
    assert arg.retention_years == 9
    await handle.unpause()
    cli.monkeypatch.setenv("CME_RETENTION_YEARS", "6")
    await cli.ok("retention", "schedule")

    # Run now: the sweep runs on the worker and erases the expired case.
    expired = "CME-00000000E0E0"
    _old_closed_case(sqlite_engine, expired)
    run = await cli.ok("retention", "run")
    lines = run.out_lines
    assert lines[0].startswith("retention sweep cme-retention-sweep-")
    assert lines[0].endswith(":") and "cases closed before" in lines[0]
    assert lines[1] == "  1 case erased, 0 already erased, 0 open (not erased), 0 failed"
    assert lines[2] == (
        f"  {expired}  erased: key already gone, 1 episode anonymised, 0 emails deleted"
    )
    with Session(sqlite_engine) as session:
        row = register.get_case(session=session, case=expired)
        assert row is not None and row.first_name is None and row.erased_at is not None
        record = register.get_erasure(session=session, case=expired)
    assert record is not None and (record.rule, record.retention_years) == ("retention", 6)

    # And again: nothing left to erase.
    again = (await cli.ok("retention", "run", "--json")).json()
    assert (again["found"], again["erased"], again["rule"]) == (0, 0, "retention")


async def test_run_without_the_schedule_says_how_to_create_it(cli: Cli, no_schedule: None) -> None:
    run = await cli("retention", "run")
    assert (run.code, run.out) == (1, "")
    assert run.err_lines == [
        "cme: error: there is no schedule cme-retention: create it with `cme retention schedule`"
    ]


async def test_the_schedule_is_created_once(cli: Cli, no_schedule: None) -> None:
    settings = Settings()
    assert await retention_cli.ensure_retention_schedule(cli.client, settings) == "created"
    assert await retention_cli.ensure_retention_schedule(cli.client, settings) == "updated"
    with pytest.raises(ScheduleAlreadyRunningError):
        await cli.client.create_schedule(
            "cme-retention", retention_cli.retention_schedule(settings)
        )


async def test_cme_erase_is_refused_for_an_open_case(cli: Cli, sqlite_engine: Engine) -> None:
    referral = school_referral(
        today=cli.today, day1=cli.calendar.first_school_day_on_or_before(cli.today)
    )
    case = await cli.open("school.json", referral)

    run = await cli("erase", case, "--reason", "objection", "--by", "Lead Y")

    assert (run.code, run.out) == (1, "")
    assert run.err_lines == [
        f"cme: error: case {case} is open (episode 1, stage school enquiries): only a closed "
        "case can be erased; close or withdraw it first"
    ]
    assert (await cli.ok("show", case, "--json")).json()["stage"] == "school_enquiries"
    with Session(sqlite_engine) as session:
        assert register.get_erasure(session=session, case=case) is None


async def test_only_a_team_leader_may_erase_a_case(cli: Cli) -> None:
    run = await cli(
        "erase", "CME-0123456789AB", "--reason", "objection", "--by", "A Officer", "--as",
        "cme_officer",
    )  # fmt: skip
    assert (run.code, run.out) == (1, "")
    assert run.err_lines == [
        "cme: error: only a team leader may erase a case, not a CME officer: ask the team "
        "leader (--as team_leader)"
    ]
    bad = await cli("erase", "CME-0123456789AB", "--reason", "because I said so", "--by", "X")
    assert bad.code == 2 and "argument --reason: invalid choice" in bad.err


async def test_cme_erase_erases_a_closed_case_once(cli: Cli, sqlite_engine: Engine) -> None:
    referral = school_referral(
        today=cli.today, day1=cli.calendar.first_school_day_on_or_before(cli.today)
    )
    case = await cli.open("school.json", referral)
    await cli.ok("withdraw", case, "the family asked for it", "--by", "Lead Y")
    handle = cli.client.get_workflow_handle(case)
    await handle.result()  # closed, its emails sent
    folder = cli.worker.mail_folder
    assert folder is not None
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(2):  # as cme dev's mail folder holds them
        (folder / eml_name(case, datetime.now(UTC), f"{n:08x}")).write_text("Subject: x\n\n")
    (folder / eml_name("CME-0123456789AB", datetime.now(UTC), "0000000a")).write_text("x")

    run = await cli.ok("erase", case, "--reason", "objection", "--by", "Lead Y")

    [line] = run.out_lines
    assert line.startswith(
        f"erased case {case} (an objection upheld (Art. 17(1)(c)), asked by Lead Y, team "
        "leader): its data key is destroyed: its Temporal history can no longer be read; the "
        "register keeps only the anonymous facts of its 1 episode; 2 emails deleted from the "
        "mail folder; recorded "
    )
    assert case_emails(folder, case) == [] and len(list(folder.iterdir())) == 1
    with Session(sqlite_engine) as session:
        row = register.get_case(session=session, case=case)
        assert row is not None
        assert (row.first_name, row.last_name, row.upn, row.date_of_birth) == (None,) * 4
        assert (row.stage, row.decision) == ("closed", "closed")
        decision = register.get_decision(session=session, case=case)
        assert decision is not None and decision.closure_reason is None
        record = register.get_erasure(session=session, case=case)
    assert record is not None
    assert (record.rule, record.reason, record.erased_by, record.erased_by_role) == (
        "request",
        "objection",
        "Lead Y",
        "team_leader",
    )
    sweep = await cli.client.get_workflow_handle(f"cme-erase-{case}").describe()
    assert sweep.workflow_type == WORKFLOW_TYPE

    again = await cli.ok("erase", case, "--reason", "objection", "--by", "Lead Y", "--json")
    assert again.json()["outcome"] == "already_erased"
    text = await cli.ok("erase", case, "--reason", "objection", "--by", "Lead Y")
    assert text.out_lines[0].startswith(f"case {case} was already erased (request, ")
    with Session(sqlite_engine) as session:
        assert [e.case_ref for e in register.list_erasures(session=session)] == [case]


async def test_cme_erase_of_an_unknown_case_erases_nothing(cli: Cli, sqlite_engine: Engine) -> None:
    run = await cli("erase", "CME-0000000000AA", "--reason", "objection", "--by", "Lead Y")
    assert (run.code, run.out) == (1, "")
    assert run.err_lines == [
        "cme: error: no case CME-0000000000AA: nothing in the register, in Temporal or in the "
        "mail folder; nothing is erased or recorded"
    ]

    async def nothing_recorded() -> None:
        with Session(sqlite_engine) as session:
            assert register.list_erasures(session=session) == []

    await eventually(nothing_recorded)


async def test_cme_has_the_retention_commands() -> None:
    from starter.cli import COMMAND_MODULES

    assert "starter.retention_cli" in COMMAND_MODULES


async def test_reading_an_erased_case_says_it_was_erased(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Once the codec is in every client, reading an erased case's history meets its destroyed
    key: one line, not a traceback."""
    from starter import inspect

    async def shredded(args: Any, settings: Any) -> int:
        raise KeyShredded("CME-0123456789AB")

    monkeypatch.setattr(inspect, "show_handler", shredded)
    code = await asyncio.to_thread(run_main, ["show", "CME-0123456789AB"])
    out, err = capsys.readouterr()
    assert (code, out) == (1, "")
    assert err == (
        "cme: error: case CME-0123456789AB was erased: its data key is destroyed and its "
        "history can no longer be read (the register keeps its anonymous facts)\n"
    )


async def test_cme_erase_with_no_worker_says_so_and_the_same_command_finishes_it(
    cli: Cli, sqlite_engine: Engine
) -> None:
    referral = school_referral(
        today=cli.today, day1=cli.calendar.first_school_day_on_or_before(cli.today)
    )
    case = await cli.open("school.json", referral)
    await cli.ok("withdraw", case, "opened in error", "--by", "Lead Y")
    await cli.client.get_workflow_handle(case).result()
    await cli.worker.down()
    cli.monkeypatch.setattr(retention_cli, "WAIT_SECONDS", 1.0)

    waiting = await cli("erase", case, "--reason", "no_longer_necessary", "--by", "Lead Y")

    assert (waiting.code, waiting.out) == (75, "")
    assert waiting.err_lines == [
        f"cme: error: the sweep cme-erase-{case} has not finished within 1 s: is the worker "
        f"running (task queue {cli.task_queue})? It goes on when it is; its result is in "
        f"Temporal (temporal workflow describe -w cme-erase-{case})"
    ]
    with Session(sqlite_engine) as session:
        row = register.get_case(session=session, case=case)
        assert row is not None and row.first_name is not None  # nothing erased yet

    await cli.worker.up()
    cli.monkeypatch.setattr(retention_cli, "WAIT_SECONDS", 30.0)
    done = await cli.ok("erase", case, "--reason", "no_longer_necessary", "--by", "Lead Y")
    assert done.out.startswith(f"erased case {case} (no longer necessary (Art. 17(1)(a))")
    with Session(sqlite_engine) as session:
        assert len(register.list_erasures(session=session)) == 1
