"""The `cme` command tells the truth when the case does not answer: nothing recorded yet and safe
to run again (a task), or recorded and opening when the worker runs (a referral); and the same
request sent again is applied exactly once, even across a restart of the Temporal server."""

from __future__ import annotations

import asyncio
import shlex
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from temporalio import workflow
from temporalio.api.enums.v1 import EventType

from activities.config import MailConfig
from domain.calendar import human_date
from domain.clock import local_date
from starter.cases import case_reference
from tests.conftest import SmtpServer
from tests.starter.conftest import (
    REPO,
    CaseWorker,
    Cli,
    PersistentServer,
    cli_environment,
    cme_subprocess,
    eventually,
)
from tests.workflows.harness import SECRET, TestCalendar, school_referral
from workflows.v1 import models as v1
from workflows.v1.case import CmeCaseWorkflow

pytestmark = pytest.mark.asyncio(loop_scope="session")

NOT_RECORDED = 75


def _not_recorded(case: str, seconds: int, task_queue: str, request_id: str) -> str:
    return (
        f"cme: error: case {case} did not answer within {seconds} s: the worker seems not to be "
        f"running (task queue {task_queue}). Nothing is recorded yet; the request may still be "
        "applied when the worker returns. Running the same command again is safe: it is applied "
        f"once (request id {request_id})."
    )


def _request_id(err: str) -> str:
    return err.rsplit("(request id ", 1)[1].rstrip(").\n")


async def _enquiries(cli: Cli, case: str) -> list[dict[str, Any]]:
    enquiries: list[dict[str, Any]] = (await cli.ok("show", case, "--json")).json()["enquiries"]
    return enquiries


async def test_worker_down_nothing_recorded_then_the_same_command_is_applied_once(
    cli: Cli,
) -> None:
    referral = school_referral(
        today=cli.today, day1=cli.calendar.first_school_day_on_or_before(cli.today)
    )
    case = await cli.open("school.json", referral)
    enquiry = ("enquiry", case, "--kind", "letter", "--outcome", "no_contact", "--by", "Ms A")

    await cli.worker.down()
    cli.answer_within(2)
    run = await cli(*enquiry)

    assert run.code == NOT_RECORDED
    assert run.out == ""
    [line] = run.err_lines
    assert line == _not_recorded(case, 2, cli.task_queue, _request_id(line))
    assert _request_id(line).startswith("enquiry-")

    await cli.worker.up()
    cli.answer_within(30)
    again = await cli.ok(*enquiry)

    # applied once: by this command, or by the first once the worker was back
    assert again.out_lines[-1] == (
        f"{case}: enquiry 1 recorded (the school: letter to the last known address: no contact, on "
        f"{human_date(cli.today)}); 1 enquiry on the case"
    )
    assert len(await _enquiries(cli, case)) == 1
    third = await cli.ok(*enquiry)
    assert third.out_lines[0].startswith(f"{case}: already recorded (same request enquiry-")
    assert len(await _enquiries(cli, case)) == 1


async def test_a_referral_with_the_worker_down_is_recorded_and_opens_when_it_runs(
    cli: Cli,
) -> None:
    referral = school_referral(
        today=cli.today, day1=cli.calendar.first_school_day_on_or_before(cli.today)
    )
    path = cli.write("school.json", referral)
    case = case_reference(referral, SECRET)

    await cli.worker.down()
    cli.answer_within(2)
    run = await cli.ok("refer", str(path), "--by", "Ms A")
    assert run.out_lines == [
        f"referral recorded: case {case} opens when the worker runs (it did not answer within "
        f"2 s; task queue {cli.task_queue}); running the same command again is safe: it is "
        "applied once"
    ]
    recorded = (await cli.ok("refer", str(path), "--by", "Ms A", "--json")).json()
    assert (recorded["case"], recorded["answered"]) == (case, False)
    assert recorded["request_id"].startswith("referral-")
    shown = await cli("show", case)
    assert (shown.code, shown.err_lines) == (
        1,
        [
            f"cme: error: case {case} did not answer within 2 s: is the worker running (task "
            f"queue {cli.task_queue})?"
        ],
    )

    await cli.worker.up()
    cli.answer_within(30)
    again = await cli.ok("refer", str(path), "--by", "Ms A")
    assert again.out_lines[-1] == f"opened case {case} (stage: school enquiries)"
    state = (await cli.ok("show", case, "--json")).json()
    assert (state["referrals_received"], state["episode"]) == (1, 1)
    history = (await cli.ok("history", case, "--json")).json()
    assert [e["type"] for e in history].count("case_opened") == 1
    assert history[0]["actor"] == "Ms A (school)"


async def test_worker_down_request_sent_server_restarted_request_resent_applied_once(
    persistent_server: PersistentServer,
    mail_config: MailConfig,
    smtp_server: SmtpServer,
    sqlite_engine: Engine,
    cli_calendar: TestCalendar,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = await persistent_server.start()
    task_queue = f"cme-restart-test-{uuid.uuid4()}"
    cli_environment(
        monkeypatch,
        address=persistent_server.address,
        namespace="default",
        task_queue=task_queue,
        calendar=cli_calendar,
        engine=sqlite_engine,
        smtp_server=smtp_server,
    )
    worker = CaseWorker(client, task_queue, mail_config, sqlite_engine, cli_calendar.path)
    await worker.up()
    cli = Cli(
        client=client,
        task_queue=task_queue,
        calendar=cli_calendar,
        today=local_date(datetime.now(UTC)),
        directory=tmp_path,
        smtp=smtp_server,
        mail=mail_config,
        worker=worker,
        capsys=capsys,
        monkeypatch=monkeypatch,
    )
    try:
        referral = school_referral(
            today=cli.today, day1=cli.calendar.first_school_day_on_or_before(cli.today)
        )
        case = await cli.open("school.json", referral)
        enquiry = ("enquiry", case, "--kind", "home_visit", "--outcome", "no_contact", "--by", "A")

        await worker.down()  # the worker is down
        cli.answer_within(2)
        sent = await cli(*enquiry)  # the request is sent: the case does not accept it
        assert sent.code == NOT_RECORDED
        assert "Nothing is recorded yet" in sent.err

        persistent_server.stop()  # the server restarts: what was only in its memory is gone
        client = await persistent_server.start()
        await worker.up(client=client)
        cli.client = client
        cli.answer_within(30)

        resent = await cli.ok(*enquiry)  # the same request sent again
        assert resent.out_lines[-1].startswith(
            f"{case}: enquiry 1 recorded (the school: home visit to "
        )
        enquiries = await _enquiries(cli, case)
        assert [(e["kind"], e["recorded_by"]) for e in enquiries] == [("home_visit", "A (school)")]
        history = (await cli.ok("history", case, "--json")).json()
        assert [e["type"] for e in history].count("enquiry_recorded") == 1
        accepted = [
            event.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
            async for event in client.get_workflow_handle(case).fetch_history_events()
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
        ]
        assert accepted.count("record_enquiry") == 1
    finally:
        await worker.down()


# -- output into a pipe ------------------------------------------------------------------------


CME = shlex.join([sys.executable, "-c", "from starter.cli import run; run()"])


async def test_show_piped_into_head_prints_one_line_and_does_not_crash(cli: Cli) -> None:
    referral = school_referral(
        today=cli.today, day1=cli.calendar.first_school_day_on_or_before(cli.today)
    )
    case = await cli.open("school.json", referral)

    shell = await asyncio.to_thread(
        subprocess.run,
        ["bash", "-c", f"{CME} show {case} | head -1"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shell.stdout == f"case {case}: destination not verified, episode 1\n"
    assert shell.stderr == ""

    # A reader that has gone before a word is written: still no traceback.
    process = cme_subprocess("history", case, "--json")
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    await asyncio.to_thread(process.wait, 60)
    err = process.stderr.read().decode()
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert err == ""


# -- cme migrate ---------------------------------------------------------------------------------


@workflow.signal(name="migrate")
def _migrate(self: Any) -> None:
    """A stand-in for ``CmeCaseWorkflow.migrate`` until version 1 has it (only its name is
    used: the case below has no worker)."""


async def test_migrate_signals_every_running_version_1_case(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not hasattr(CmeCaseWorkflow, "migrate"):
        monkeypatch.setattr(CmeCaseWorkflow, "migrate", _migrate, raising=False)
    referral = school_referral(
        today=cli.today, day1=cli.calendar.first_school_day_on_or_before(cli.today)
    )
    case = case_reference(referral, SECRET)
    handle = await cli.client.start_workflow(
        CmeCaseWorkflow.run,
        v1.OpenCaseInput(
            case=case, referral=referral, referred_by=v1.Actor(name="Ms A", role=v1.Role.SCHOOL)
        ),
        id=case,
        task_queue=f"version-1-{uuid.uuid4()}",  # no worker: it stays running, on version 1
    )
    try:

        async def listed() -> None:
            rows = {r["case"]: r for r in (await cli.ok("cases", "--json")).json()}
            assert rows[case]["version"] == 1
            table = (await cli.ok("cases")).out_lines
            assert next(line for line in table if case in line).endswith(" v1")

        await eventually(listed)
        shown = await cli("show", case)
        assert (shown.code, shown.err_lines) == (
            1,
            [
                f"cme: error: case {case} is still on version 1 of the service: run `cme "
                "migrate` (with the worker running) to move it to version 2, then try again"
            ],
        )

        run = await cli.ok("migrate", "--json")
        assert case in run.json()["signalled"]
        signals = [
            event.workflow_execution_signaled_event_attributes.signal_name
            async for event in handle.fetch_history_events()
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
        ]
        assert signals == ["migrate"]

        text = await cli.ok("migrate")
        [line] = text.out_lines
        assert line.startswith("signalled ") and " version 1 case" in line
        assert line.endswith(
            "to move to version 2; each continues as a version 2 case, with its state, when "
            "the worker runs"
        )
    finally:
        await handle.terminate("test over")
