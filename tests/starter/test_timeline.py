"""starter.timeline: a manager's timeline from a case's Temporal history, tested on histories
fetched from real runs (the dev server, and the time-skipping server for deadlines) and on a few
hand-made events for what real runs rarely show."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from temporalio.api.common.v1 import Payloads
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import (
    HistoryEvent,
    TimerFiredEventAttributes,
    WorkflowExecutionTerminatedEventAttributes,
    WorkflowExecutionUpdateAcceptedEventAttributes,
    WorkflowExecutionUpdateCompletedEventAttributes,
)
from temporalio.api.update.v1 import Input, Meta, Outcome, Request
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter

from domain.calendar import human_date
from domain.enquiries import Enquiry, EnquiryBy, EnquiryKind, EnquiryOutcome
from starter.cases import open_case
from starter.timeline import TimelineEntry, build_timeline
from tests.conftest import SmtpServer
from tests.starter.conftest import Cli, settled
from tests.workflows.harness import SECRET, Harness, school_referral
from workflows.models import (
    Actor,
    ReassignInput,
    RecordEnquiryInput,
    RecordMashCallInput,
    ReportContactInput,
    Role,
    WithdrawInput,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

MS_A = Actor(name="Ms A", role=Role.SCHOOL)
LEAD = Actor(name="Lead Y", role=Role.TEAM_LEADER)


async def _timeline(handle: WorkflowHandle[object, object]) -> list[TimelineEntry]:
    events = [event async for event in handle.fetch_history_events()]
    return await build_timeline(events, pydantic_data_converter)


async def test_a_child_protection_case_from_referral_to_closure(cli: Cli) -> None:
    today = cli.today
    referral = school_referral(
        today=today, day1=cli.calendar.first_school_day_on_or_before(today), cp=True
    )
    opened = await open_case(cli.client, referral, MS_A, task_queue=cli.task_queue, secret=SECRET)
    handle = cli.client.get_workflow_handle(opened.case)
    mash_due = cli.calendar.after(today, 1)

    async def step(update: str, payload: object) -> None:
        await settled(handle)
        await handle.execute_update(update, payload)

    enquiry = Enquiry(
        by=EnquiryBy.SCHOOL,
        kind=EnquiryKind.PHONE_PRIMARY,
        made_on=today,
        outcome=EnquiryOutcome.NO_CONTACT,
    )
    await step("record_enquiry", RecordEnquiryInput(by=MS_A, enquiry=enquiry))
    with pytest.raises(WorkflowUpdateFailedError):  # a school may not withdraw: no trace left
        await handle.execute_update("withdraw", WithdrawInput(by=MS_A, reason="mistake"))
    await step(
        "record_mash_call", RecordMashCallInput(by=MS_A, called_on=today, mash_reference="M-1")
    )
    await step("reassign", ReassignInput(by=LEAD, officer="Officer Example"))
    await step("report_contact", ReportContactInput(by=MS_A, contact_on=today))
    await handle.result()

    entries = await _timeline(handle)

    day = human_date(today)
    assert [(e.actor, e.what) for e in entries] == [
        (
            "Ms A (school)",
            "referral received from Ms A (school): school CME referral (destination not "
            "verified); case opened at stage school enquiries",
        ),
        (
            "Ms A (school)",
            "escalated to MASH and SAT: the child is subject to a Child Protection Plan; MASH "
            f"to be phoned by {human_date(mash_due)}",
        ),
        (
            "CME service",
            "email sent: Safeguarding: child missing education referred to MASH (to MASH, SAT)",
        ),
        (
            "Ms A (school)",
            f"enquiry recorded by Ms A (school): school phone_primary, no_contact on {day}",
        ),
        (
            "Ms A (school)",
            f"MASH call recorded by Ms A (school): called on {day}, MASH reference M-1",
        ),
        ("Lead Y (team leader)", "case assigned to Officer Example by Lead Y (team leader)"),
        (
            "Ms A (school)",
            f"contact reported by Ms A (school): made on {day}, the child is back at school",
        ),
        (
            "CME service",
            "email sent: Written outcome: case closed, no deletion (to school 8512000, SAT)",
        ),
        (
            "Ms A (school)",
            f"case closed: contact made on {day}: the child is back at school (decided by Ms A)",
        ),
    ]
    times = [e.at for e in entries]
    assert times == sorted(times)
    assert all(abs((t - datetime.now(UTC)).total_seconds()) < 120 for t in times)

    first = entries[0]
    local = first.at.astimezone(first.local_at.tzinfo)
    assert first.line() == f"{local:%Y-%m-%d %H:%M}  {first.what}"
    assert first.as_json() == {"at": local.isoformat(), "actor": first.actor, "what": first.what}
    assert first.as_json()["at"][-6:] in ("+00:00", "+01:00")  # UK local time, with its offset


async def test_deadlines_that_pass_are_on_the_timeline(
    skipping: Harness, smtp_server: SmtpServer
) -> None:
    h = skipping
    day1 = h.calendar.first_school_day_on_or_before(h.today)
    opened = await h.open(school_referral(today=h.today, day1=day1, cp=True), MS_A)
    handle = h.handle(opened.case)
    mash_due = h.calendar.after(h.today, 1)
    day10 = h.calendar.nth(day1, 10)

    await h.sleep_until_end_of(mash_due)
    await smtp_server.wait_for(lambda m: "leader" in m["To"].lower())
    await settled(handle)
    await h.sleep_until_end_of(day10)
    await smtp_server.wait_for(lambda m: "Referred to the School Attendance Team" in m["Subject"])
    await settled(handle)
    await handle.execute_update("withdraw", WithdrawInput(by=LEAD, reason="test over"))
    await handle.result()

    whats = [e.what for e in await _timeline(handle)]

    mash = human_date(mash_due)
    ten = human_date(day10)
    expected_in_order = [
        f"deadline reached: MASH call due by the end of {mash}",
        f"escalated to the team leader: MASH call not recorded by the end of {mash}",
        f"email sent: MASH call not recorded by {mash} (to team leader)",
        f"deadline reached: end of school day 10 ({ten})",
        f"referred to the School Attendance Team: no contact by the end of school day 10 ({ten})",
        "email sent: Referred to the School Attendance Team: no contact by school day 10 "
        f"({ten}) (to SAT)",
        "stage now LA investigation",
        "case withdrawn by Lead Y (team leader): test over",
    ]
    positions = [whats.index(what) for what in expected_in_order]
    assert positions == sorted(positions), whats
    assert "a task is overdue" not in whats  # the deadline line says which task


def _event(event_id: int, **attributes: object) -> HistoryEvent:
    at = Timestamp()
    at.FromDatetime(datetime(2026, 11, 27, 9, 14, tzinfo=UTC))
    return HistoryEvent(event_id=event_id, event_time=at, **attributes)  # type: ignore[arg-type]


async def test_unknown_updates_failed_updates_timers_and_termination() -> None:
    payloads = Payloads(
        payloads=pydantic_data_converter.payload_converter.to_payloads(
            [{"by": {"name": "Someone", "role": "school"}}]
        )
    )
    events = [
        _event(
            1,
            workflow_execution_update_accepted_event_attributes=(
                WorkflowExecutionUpdateAcceptedEventAttributes(
                    accepted_request=Request(
                        meta=Meta(update_id="u1"), input=Input(name="frobnicate", args=payloads)
                    )
                )
            ),
        ),
        _event(
            2,
            workflow_execution_update_completed_event_attributes=(
                WorkflowExecutionUpdateCompletedEventAttributes(
                    meta=Meta(update_id="u1"), outcome=Outcome(failure=Failure(message="boom"))
                )
            ),
        ),
        _event(3, timer_fired_event_attributes=TimerFiredEventAttributes(timer_id="1")),
        _event(
            4,
            workflow_execution_terminated_event_attributes=(
                WorkflowExecutionTerminatedEventAttributes(
                    reason="opened by mistake", identity="ops"
                )
            ),
        ),
    ]

    entries = await build_timeline(events, pydantic_data_converter)

    assert [(e.actor, e.what) for e in entries] == [
        ("Someone", "frobnicate by Someone (failed: boom)"),
        ("CME service", "deadline reached"),
        ("ops", "case workflow terminated by ops: opened by mistake"),
    ]
    assert entries[0].line() == "2026-11-27 09:14  frobnicate by Someone (failed: boom)"
    assert entries[0].at.date() == date(2026, 11, 27)
