"""One failure policy: no refused address, broken calendar, register refusal or mail outage fails
or wedges a case. Each becomes a problem on the case (recorded, escalated to the team leader,
retried) and nothing else waits for it."""

from __future__ import annotations

import asyncio
import time
from datetime import date, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from activities.case_activities import CaseActivities
from activities.register import get_case
from domain.case.commands import ConcludeInvestigation, RecordEnquiry, RetryProblems
from domain.case.model import InvestigationOutcome, ProblemKind, Stage
from domain.case.register_record import RegisterRecord
from domain.case.state import NotificationStatus
from domain.enquiries import EnquiryKind
from tests.conftest import REFUSED_DOMAIN, SmtpServer
from tests.payloads import activity_tasks, local_activities
from tests.workflows.harness import (
    OFFICER,
    SCHOOL_OFFICE,
    TEAM_LEADER,
    Harness,
    rid,
    school_enquiry,
    school_referral,
)
from workflows import search_attributes as sa
from workflows.case import CmeCase


async def scheduled(h: Harness, case: str) -> list[str]:
    """The activity tasks the case has scheduled, by type."""
    return activity_tasks(await h.handle(case).fetch_history())


async def reach_investigation(h: Harness, **kw: Any) -> str:
    day1 = h.calendar.day1
    case = (await h.open(school_referral(today=h.today, day1=day1, **kw), SCHOOL_OFFICE)).case
    day10 = h.calendar.nth(day1, 10)
    await h.sleep_until_morning_of(h.calendar.after(day10, 1))
    assert (await h.state(case)).stage is Stage.LA_INVESTIGATION
    return case


async def school_rang_without_contact(h: Harness, case: str, on: date) -> None:
    """The school records a phone call that made no contact."""
    await h.handle(case).execute_update(
        CmeCase.record_enquiry,
        RecordEnquiry(
            request_id=rid(),
            by=SCHOOL_OFFICE,
            enquiry=school_enquiry(EnquiryKind.PHONE_PRIMARY, on),
        ),
    )


async def wait_for_state(h: Harness, case: str, ready: object, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while True:
        state = await h.state(case)
        if ready(state):  # type: ignore[operator]
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"case {case} never got there: {state.problems}")
        await asyncio.sleep(0.1)


def test_an_address_that_is_not_one_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(ValidationError) as refused:
        ConcludeInvestigation(
            by=OFFICER,
            request_id=rid(),
            outcome=InvestigationOutcome.MOVED_AWAY,
            other_la="Exampleshire",
            other_la_email="cme at exampleshire",
        )
    assert "other_la_email" in str(refused.value)


async def test_an_address_the_mail_server_refuses_is_a_problem_not_a_failed_case(
    harness: Harness, smtp_server: SmtpServer
) -> None:
    """Issue 7 (2): `conclude … --other-la-email` refused by the mail server ended the case
    `WorkflowExecutionFailed`; now the case goes on, the problem is on it and the team leader is
    told, and the written outcome still reaches the school."""
    h = harness
    case = await reach_investigation(h)
    handle = h.handle(case)
    await handle.execute_update(
        CmeCase.conclude_investigation,
        ConcludeInvestigation(
            request_id=rid(),
            by=OFFICER,
            outcome=InvestigationOutcome.MOVED_AWAY,
            other_la="Exampleshire County Council",
            other_la_email=f"cme@{REFUSED_DOMAIN}",
        ),
    )
    await wait_for_state(h, case, lambda s: bool(s.open_problems))
    state = await h.state(case)
    [problem] = state.open_problems
    assert problem.kind is ProblemKind.NOTIFICATION_UNDELIVERABLE
    assert problem.subject == "other_la_notice"
    assert "refused" in problem.detail and state.child.last_name not in problem.detail
    report = await smtp_server.wait_for(
        lambda m: "leader" in m["To"] and "problem" in m["Subject"].lower()
    )
    assert case in report["Subject"] and state.child.last_name not in report.get_content()
    assert await h.running(case)
    assert await h.search_attribute(case, sa.PROBLEM) is True

    # The case goes on: deletion is authorised and the written outcome reaches the school.
    from domain.case.commands import AuthoriseDeletion

    await handle.execute_update(
        CmeCase.authorise_deletion,
        AuthoriseDeletion(request_id=rid(), by=OFFICER, ground="9(1)(g)"),
    )
    await smtp_server.wait_for(lambda m: "outcome" in m["Subject"].lower() and case in m["Subject"])
    state = await h.state(case)
    assert state.stage is Stage.CLOSED
    # Closed, but still retrying its problem rather than ending with it unseen.
    assert await h.running(case)
    retried = await handle.execute_update(
        CmeCase.retry_problems, RetryProblems(request_id=rid(), by=TEAM_LEADER)
    )
    assert retried.problems_retried == 1


async def test_one_undeliverable_email_blocks_neither_the_others_nor_the_register(
    harness: Harness, smtp_server: SmtpServer, sqlite_engine: Engine
) -> None:
    """Issue 7 (6): with the mail server down, the register held none of the new cases and the
    MASH alerts waited behind other mail. Now the register is synced at once, and the queued
    child-protection mail goes out within seconds of the server coming back."""
    h = harness
    smtp_server.stop()
    day1 = h.calendar.first_school_day_on_or_before(h.today)
    opened = await h.open(school_referral(today=h.today, day1=day1, cp=True), SCHOOL_OFFICE)
    case = opened.case

    def in_register() -> bool:
        with Session(sqlite_engine) as session:
            return get_case(session=session, case=case) is not None

    deadline = time.monotonic() + 15
    while not in_register():
        assert time.monotonic() < deadline, "the register waited for the mail server"
        await asyncio.sleep(0.1)
    state = await h.state(case)
    assert [r.status for r in state.notifications] == [NotificationStatus.QUEUED]
    assert not state.open_problems  # a mail server being down is not a problem: it is retried

    smtp_server.start()
    back = time.monotonic()
    await smtp_server.wait_for(lambda m: "mash" in m["To"].lower(), timeout=30)
    assert time.monotonic() - back < 30
    await wait_for_state(
        h, case, lambda s: all(r.status is NotificationStatus.SENT for r in s.notifications)
    )


async def test_a_broken_calendar_file_at_the_weekly_reread_is_a_problem(
    harness: Harness, smtp_server: SmtpServer
) -> None:
    """Issue 7 (2): a typo in the calendar TOML failed the case at the weekly re-read. A case
    whose deadline lies past the calendar re-reads it weekly; a broken file is now a problem on
    the case, and the deadline is counted once the file is put right."""
    h = harness
    good = h.calendar.path.read_text(encoding="utf-8")
    # The LA's calendar ends this week: school day 10 cannot be counted yet.
    first = h.calendar.terms[0][0]
    ends_soon = (
        'la_code = 851\nla_name = "Testshire"\n'
        f'[[term]]\nname = "Term 1"\nfirst_day = {first}\n'
        f"last_day = {h.today + timedelta(days=2)}\n"
    )
    h.calendar.path.write_text(ends_soon, encoding="utf-8")
    day1 = h.calendar.first_school_day_on_or_before(h.today)
    case = (await h.open(school_referral(today=h.today, day1=day1), SCHOOL_OFFICE)).case
    state = await h.state(case)
    assert state.deadlines.sat_referral is None
    assert [p.kind for p in state.open_problems] == [ProblemKind.CALENDAR_ENDS]
    await smtp_server.wait_for(
        lambda m: "calendar" in m["Subject"].lower() and case in m["Subject"]
    )

    h.calendar.path.write_text(ends_soon.replace("la_code = 851", "la_code = = 851"))
    await h.env.sleep(timedelta(days=7, minutes=1))
    await wait_for_state(h, case, lambda s: s.open_problems[0].attempts > 1)
    assert await h.running(case)

    # The LA puts the file right, with the rest of the year: school day 10 is counted.
    h.calendar.path.write_text(good, encoding="utf-8")
    await h.handle(case).execute_update(
        CmeCase.retry_problems, RetryProblems(request_id=rid(), by=TEAM_LEADER)
    )
    await wait_for_state(h, case, lambda s: not s.open_problems)
    assert (await h.state(case)).deadlines.sat_referral == h.calendar.nth(day1, 10)


async def test_a_register_that_refuses_the_case_is_a_problem_until_it_accepts(
    harness: Harness, smtp_server: SmtpServer, sqlite_engine: Engine
) -> None:
    """Issue 7 (3): a value the register refused (PostgreSQL refused a NUL) made the sync fail for
    ever and held back the case's MASH alert. Now the refusal is a problem, the MASH alert goes
    regardless, and the next sync after the register accepts clears it."""
    h = harness
    with sqlite_engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TRIGGER refuse_case BEFORE INSERT ON cme_case "
                "BEGIN SELECT RAISE(ABORT, 'refused by a constraint'); END"
            )
        )
    day1 = h.calendar.first_school_day_on_or_before(h.today)
    case = (await h.open(school_referral(today=h.today, day1=day1, cp=True), SCHOOL_OFFICE)).case
    await wait_for_state(
        h, case, lambda s: any(p.kind is ProblemKind.REGISTER_REJECTED for p in s.open_problems)
    )
    await smtp_server.wait_for(lambda m: "mash" in m["To"].lower())
    await smtp_server.wait_for(lambda m: "leader" in m["To"] and "problem" in m["Subject"].lower())
    with sqlite_engine.begin() as conn:
        conn.execute(text("DROP TRIGGER refuse_case"))
    await school_rang_without_contact(h, case, day1)
    await wait_for_state(h, case, lambda s: not s.open_problems)
    with Session(sqlite_engine) as session:
        assert get_case(session=session, case=case) is not None


async def reaches_register(engine: Engine, case: str, timeout: float = 30) -> None:
    """Wait for the case's row in the register."""
    deadline = time.monotonic() + timeout
    while True:
        with Session(engine) as session:
            if get_case(session=session, case=case) is not None:
                return
        assert time.monotonic() < deadline, "the case never reached the register"
        await asyncio.sleep(0.2)


async def test_a_register_away_for_a_while_is_waited_for_not_a_problem(
    harness: Harness, sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Revision 1 writes the register as a local activity, tried three times within seconds; a
    register away for longer is left to an activity task's retries (nothing added to the case's
    history meanwhile, its requests not held up), and the case is in the register once it is
    back, with no problem recorded."""
    h = harness
    away = True
    attempts = 0
    sync = CaseActivities._sync

    def unreachable(self: CaseActivities, record: RegisterRecord) -> Any:
        nonlocal attempts
        attempts += 1
        if away:
            raise OperationalError("INSERT", {}, Exception("the register is away"))
        return sync(self, record)

    monkeypatch.setattr(CaseActivities, "_sync", unreachable)
    day1 = h.calendar.first_school_day_on_or_before(h.today)
    case = (await h.open(school_referral(today=h.today, day1=day1), SCHOOL_OFFICE)).case

    deadline = time.monotonic() + 15
    while "sync_register" not in await scheduled(h, case):
        assert time.monotonic() < deadline, "the sync never became an activity task"
        await asyncio.sleep(0.1)
    assert attempts >= 3  # the local activity's attempts first
    # A request while the register is away is answered at once.
    await school_rang_without_contact(h, case, day1)
    with Session(sqlite_engine) as session:
        assert get_case(session=session, case=case) is None
    away = False
    await reaches_register(sqlite_engine, case)
    assert not (await h.state(case)).open_problems


async def test_a_register_away_when_an_email_carries_the_sync_holds_up_neither(
    harness: Harness,
    smtp_server: SmtpServer,
    sqlite_engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Revision 4 writes a sync wanted with an email in the email's local activity. With the
    register away, the email goes out regardless (MASH is told at once), the sync is tried again
    the usual way and left to an activity task, and the case is in the register once it is back,
    with no problem recorded."""
    h = harness
    away = True
    sync = CaseActivities._sync

    def unreachable(self: CaseActivities, record: RegisterRecord) -> Any:
        if away:
            raise OperationalError("INSERT", {}, Exception("the register is away"))
        return sync(self, record)

    monkeypatch.setattr(CaseActivities, "_sync", unreachable)
    day1 = h.calendar.first_school_day_on_or_before(h.today)
    referral = school_referral(today=h.today, day1=day1, cp=True)  # MASH is told at once
    case = (await h.open(referral, SCHOOL_OFFICE)).case

    mash = await smtp_server.wait_for(lambda m: "mash@" in m["To"], timeout=15)
    assert case in mash["Subject"]
    deadline = time.monotonic() + 15
    while "sync_register" not in await scheduled(h, case):
        assert time.monotonic() < deadline, "the sync never became an activity task"
        await asyncio.sleep(0.1)
    # The email carried the sync; then the sync's own local activity was tried.
    tried = local_activities(await h.handle(case).fetch_history())
    assert tried[:3] == ["prepare_case", "deliver_notification", "sync_register"]
    with Session(sqlite_engine) as session:
        assert get_case(session=session, case=case) is None
    away = False
    await reaches_register(sqlite_engine, case)
    state = await h.state(case)
    assert not state.open_problems
    assert [n.status for n in state.notifications] == [NotificationStatus.SENT]


async def test_a_mail_server_away_for_a_while_is_waited_for_not_a_problem(
    harness: Harness, smtp_server: SmtpServer
) -> None:
    """Revision 3 sends each email as a local activity first, once; a mail server that is away
    leaves it to an activity task's retries (the case's requests not held up meanwhile), and the
    email goes out once the server is back, with no problem recorded."""
    h = harness
    smtp_server.stop()
    day1 = h.calendar.first_school_day_on_or_before(h.today)
    referral = school_referral(today=h.today, day1=day1, cp=True)  # MASH is told at once
    case = (await h.open(referral, SCHOOL_OFFICE)).case

    deadline = time.monotonic() + 15
    while "deliver_notification" not in await scheduled(h, case):
        assert time.monotonic() < deadline, "the email never became an activity task"
        await asyncio.sleep(0.1)
    # Its first attempt was the local activity's.
    assert "deliver_notification" in local_activities(await h.handle(case).fetch_history())
    # A request while the mail server is away is answered at once.
    await school_rang_without_contact(h, case, day1)
    assert not smtp_server.messages
    smtp_server.start()
    mash = await smtp_server.wait_for(lambda m: "mash@" in m["To"], timeout=30)
    assert case in mash["Subject"]
    await wait_for_state(
        h,
        case,
        lambda s: all(n.status is NotificationStatus.SENT for n in s.notifications),
        timeout=30,
    )
    state = await h.state(case)
    assert not state.open_problems
    assert await scheduled(h, case) == ["deliver_notification"]  # the one email, and nothing else
