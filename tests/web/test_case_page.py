"""The case page (``/cases/{case_ref}``) against a real case service (Temporal dev server, the real
workflow and activities, the register): a school's user reads its own case (stage, deadlines with
their dates and school days, tasks with the link to do one, enquiries, the timeline with who did
what and when); another school's user, and anyone asking for a reference that names no case, get
the same 404 page; MASH reads child-protection cases only; officers and team leaders get the links
to their tasks, managers read every case and do none, administrators have no case pages.

The school days are counted here with the test calendar's own oracle
(:meth:`tests.workflows.harness.TestCalendar.is_school_day`), not with the app's calendar.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlmodel import Session

from activities.register import erase_personal_data, get_case
from domain.calendar import SchoolCalendar
from domain.case import events as ev
from domain.case.commands import RecordEnquiry
from domain.case.model import Actor, Role, Task, TaskName, TaskStatus
from domain.enquiries import Enquiry, EnquiryBy, EnquiryKind, EnquiryOutcome
from domain.intake import AnyReferral
from starter import case_client
from tests.starter.conftest import eventually
from tests.web import case_service as service_fixtures
from tests.web.case_service import CaseService
from tests.web.conftest import add_user, browser, sign_in
from tests.workflows.harness import (
    OTHER_SCHOOL,
    PROFESSIONAL,
    SCHOOL,
    professional_referral,
    school_referral,
)
from web.case_page import may_do, school_days_away
from workflows.case import CmeCase

pytestmark = pytest.mark.asyncio(loop_scope="session")

temporal = service_fixtures.temporal
case_service = service_fixtures.case_service
clock = service_fixtures.clock

LONDON = ZoneInfo("Europe/London")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
SCHOOL_USER = "attendance@school.example.org"
SCHOOL_ACTOR = Actor(name="Ms Attendance", role=Role.SCHOOL, schools=(SCHOOL,))
UNKNOWN_CASE = "CME-0123456789AB"


def day_words(d: date) -> str:
    return f"{d.day} {MONTHS[d.month - 1]} {d.year}"


def moment(at: datetime) -> str:
    local = at.astimezone(LONDON)
    return f"{day_words(local.date())}, {local:%H:%M}"


def text_of(html: str) -> str:
    """The page's main content as a person reads it: tags dropped, spaces collapsed."""
    main = re.search(r"<main.*?</main>", html, re.S)
    assert main, "the page has no main content"
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", main.group(0))).split())


def section(html: str, ident: str) -> str:
    """The text of the page's section under the heading with id ``ident``, to the next h2."""
    found = re.search(rf'<h2[^>]*id="{ident}".*?(?=<h2|</main>)', html, re.S)
    assert found, f"the page has no section {ident}"
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", found.group(0))).split())


def task_links(html: str) -> list[str]:
    return re.findall(r'href="(/cases/CME-[0-9A-F]{12}/tasks/[0-9]+)"[^>]*>\s*Do this task', html)


async def opened(service: CaseService, referral: AnyReferral, by: Actor) -> str:
    """The case ``referral`` opens, once the case has synced it to the register."""
    referred = await case_client.refer(service.client, service.settings, referral, by)

    async def synced() -> None:
        with Session(service.engine) as session:
            assert get_case(session=session, case=referred.case) is not None

    await eventually(synced, timeout=20)
    return referred.case


@contextlib.asynccontextmanager
async def person(
    service: CaseService, email: str, role: Role, name: str, *schools: str
) -> AsyncIterator[httpx.AsyncClient]:
    add_user(service.engine, email, role=role, name=name, schools=schools)
    async with browser(service.app) as http:
        assert (await sign_in(http, email)).status_code == 303
        yield http


def school_days_from(service: CaseService, today: date, due: date) -> int:
    """School days after ``today`` up to and including ``due``, by the test calendar's oracle."""
    return sum(
        service.calendar.is_school_day(today + timedelta(days=n))
        for n in range(1, (due - today).days + 1)
    )


async def test_a_school_user_reads_its_case_deadlines_tasks_enquiries_and_timeline(
    case_service: CaseService,
) -> None:
    service = case_service
    calendar = service.calendar
    day1 = calendar.first_school_day_on_or_before(service.today)
    referral = school_referral(today=service.today, day1=day1)
    case = await opened(service, referral, SCHOOL_ACTOR)
    await case_client.send(
        service.client,
        service.settings,
        case,
        CmeCase.record_enquiry,
        RecordEnquiry(
            by=SCHOOL_ACTOR,
            request_id="enquiry-phone-1",
            enquiry=Enquiry(
                by=EnquiryBy.SCHOOL,
                kind=EnquiryKind.PHONE_PRIMARY,
                made_on=service.today,
                outcome=EnquiryOutcome.NO_CONTACT,
                note="rang twice",
            ),
        ),
    )
    state = await service.state(case)

    async with person(service, SCHOOL_USER, Role.SCHOOL, "Ms Attendance", SCHOOL) as http:
        page = await http.get(f"/cases/{case}")
    assert page.status_code == 200, page.text
    text = text_of(page.text)
    pupil = referral.pupil
    assert f"Case {case}" in text
    assert f"{pupil.first_name} {pupil.last_name}" in text
    assert "Stage School enquiries" in text
    assert f"School (LAESTAB) {SCHOOL}" in text

    # Deadlines: day 10 (the referral to SAT) and day 20, each a date and its school days away.
    sat_day = calendar.nth(day1, 10)
    day_20 = calendar.nth(day1, 20)
    deadlines = section(page.text, "deadlines")
    ahead = school_days_from(service, service.today, sat_day)
    assert ahead > 0
    assert (
        f"Referral to SAT (end of day 10) {day_words(sat_day)} in {ahead} school "
        f"day{'s' if ahead != 1 else ''}" in deadlines
    )
    assert f"Day 20 {day_words(day_20)} in {school_days_from(service, service.today, day_20)}" in (
        deadlines
    )
    assert f"Next deadline {day_words(sat_day)} in {ahead} school day" in text

    # The school's task, open, with the link to do it.
    tasks = section(page.text, "tasks")
    assert (
        "Make the school's enquiries Do this task (Make the school's enquiries) For School "
        "Status Open" in tasks
    )
    assert task_links(page.text) == [f"/cases/{case}/tasks/1"]

    enquiries = section(page.text, "enquiries")
    assert (
        f"{day_words(service.today)} The school Phone call to the primary contact: no contact "
        "rang twice Ms Attendance (school)" in enquiries
    )
    assert "No escalations." in section(page.text, "escalations")
    assert "first episode" in section(page.text, "episodes")
    assert "No outcome yet." in section(page.text, "outcome")

    # The timeline: who did what, when, from the case's own log.
    timeline = section(page.text, "timeline")
    opening = next(e for e in state.log if isinstance(e, ev.CaseOpened))
    recorded = next(e for e in state.log if isinstance(e, ev.EnquiryRecorded))
    assert (
        "Case opened (episode 1): school CME referral (destination not verified); destination "
        f"not verified, stage school enquiries Ms Attendance (school), {moment(opening.at)}"
    ) in timeline
    assert (
        "Enquiry 1 recorded: the school: phone call to the primary contact: no contact, on "
        f"{day_words(service.today)} (rang twice) Ms Attendance (school), {moment(recorded.at)}"
    ) in timeline
    assert f"Deadline set: referral to SAT (end of day 10): {day_words(sat_day)} CME service" in (
        timeline
    )
    assert timeline.count("CME service,") + timeline.count("Ms Attendance (school),") == len(
        state.log
    )


async def test_another_schools_case_is_the_same_404_as_no_case(
    case_service: CaseService,
) -> None:
    service = case_service
    day1 = service.calendar.first_school_day_on_or_before(service.today)
    case = await opened(service, school_referral(today=service.today, day1=day1), SCHOOL_ACTOR)

    async with person(
        service, "office@other.example.org", Role.SCHOOL, "Mr Other", OTHER_SCHOOL
    ) as http:
        theirs = await http.get(f"/cases/{case}")
        unknown = await http.get(f"/cases/{UNKNOWN_CASE}")
        malformed = await http.get("/cases/not-a-case")
        own_list = await http.get("/cases")
    assert theirs.status_code == unknown.status_code == malformed.status_code == 404
    assert "Page not found" in text_of(theirs.text)
    # Nothing on the page tells the two apart: the same words, no case reference, no child.
    assert text_of(theirs.text) == text_of(unknown.text) == text_of(malformed.text)
    assert case not in theirs.text
    assert case not in own_list.text

    # The school's own user reads it (a reference typed in lower case is the same reference).
    async with person(service, SCHOOL_USER, Role.SCHOOL, "Ms Attendance", SCHOOL) as http:
        assert (await http.get(f"/cases/{case}")).status_code == 200
        assert case in (await http.get(f"/cases/{case.lower()}")).text
        assert (await http.get(f"/cases/{UNKNOWN_CASE}")).status_code == 404


async def test_mash_reads_only_child_protection_cases_officers_get_their_tasks_managers_read(
    case_service: CaseService,
) -> None:
    service = case_service
    day1 = service.calendar.first_school_day_on_or_before(service.today)
    plain = await opened(service, school_referral(today=service.today, day1=day1), SCHOOL_ACTOR)
    protected = await opened(
        service, professional_referral(today=service.today, cp=True), PROFESSIONAL
    )

    async with person(service, "mash@la.example.gov.uk", Role.MASH, "Mash Reader") as http:
        not_cp = await http.get(f"/cases/{plain}")
        cp = await http.get(f"/cases/{protected}")
    assert not_cp.status_code == 404
    assert plain not in not_cp.text
    assert cp.status_code == 200, cp.text
    assert "Child protection" in text_of(cp.text)
    escalations = section(cp.text, "escalations")
    assert "To MASH and SAT the child is subject to a Child Protection Plan" in escalations
    assert "Chris Demo (professional)" in escalations
    assert task_links(cp.text) == []  # MASH does no task

    # The phone call to MASH and the investigation are the CME officer's, on a child on no roll.
    state = await service.state(protected)
    officer_tasks = [
        f"/cases/{protected}/tasks/{t.id}"
        for t in state.tasks
        if t.assignee is Role.CME_OFFICER and t.status is TaskStatus.OPEN
    ]
    assert {t.name for t in state.tasks} == {TaskName.INVESTIGATE, TaskName.PHONE_MASH}
    mash_call = state.deadlines.mash_call
    assert mash_call is not None
    async with person(service, "officer@la.example.gov.uk", Role.CME_OFFICER, "Officer A") as http:
        page = await http.get(f"/cases/{protected}")
    assert page.status_code == 200
    assert sorted(task_links(page.text)) == sorted(officer_tasks)
    tasks = section(page.text, "tasks")
    assert "Phone MASH Do this task (Phone MASH) For CME officer Status Open" in tasks
    away = school_days_from(service, service.today, mash_call)
    assert f"Due by the end of {day_words(mash_call)} in {away} school day" in tasks
    async with person(service, "leader@la.example.gov.uk", Role.TEAM_LEADER, "Leader A") as http:
        page = await http.get(f"/cases/{protected}")
    assert sorted(task_links(page.text)) == sorted(officer_tasks)

    # A manager reads every case and does no task; a school's user never sees this one.
    async with person(service, "manager@la.example.gov.uk", Role.MANAGER, "Manager A") as http:
        for case in (plain, protected):
            page = await http.get(f"/cases/{case}")
            assert page.status_code == 200
            assert task_links(page.text) == []
    async with person(service, SCHOOL_USER, Role.SCHOOL, "Ms Attendance", SCHOOL) as http:
        assert (await http.get(f"/cases/{protected}")).status_code == 404
    async with person(service, "admin@la.example.gov.uk", Role.ADMIN, "Admin A") as http:
        refused = await http.get(f"/cases/{plain}")
    assert refused.status_code == 403
    assert plain not in refused.text


# -- the page's rules, on their own ----------------------------------------------------------------


def _task(assignee: Role, status: TaskStatus = TaskStatus.OPEN) -> Task:
    return Task(
        id=1,
        name=TaskName.INVESTIGATE,
        assignee=assignee,
        status=status,
        opened_at=datetime(2026, 3, 2, 9, 0, tzinfo=LONDON),
    )


@pytest.mark.parametrize(
    ("viewer", "assignee", "may"),
    [
        (Role.CME_OFFICER, Role.CME_OFFICER, True),
        (Role.TEAM_LEADER, Role.CME_OFFICER, True),
        (Role.TEAM_LEADER, Role.TEAM_LEADER, True),
        (Role.CME_OFFICER, Role.TEAM_LEADER, False),
        (Role.CME_OFFICER, Role.SCHOOL, False),
        (Role.SCHOOL, Role.SCHOOL, True),
        (Role.SCHOOL, Role.CME_OFFICER, False),
        (Role.TEAM_LEADER, Role.SCHOOL, False),
        (Role.MANAGER, Role.CME_OFFICER, False),
        (Role.MASH, Role.CME_OFFICER, False),
    ],
)
async def test_who_gets_the_link_to_an_open_task(viewer: Role, assignee: Role, may: bool) -> None:
    assert may_do(viewer, _task(assignee)) is may
    assert may_do(viewer, _task(assignee, TaskStatus.DONE)) is False


async def test_school_days_are_counted_on_the_schools_calendar_and_never_guessed() -> None:
    # Mon 2 to Fri 13 Mar 2026, with an INSET day of school 8512000 on Wed 4 Mar.
    calendar = SchoolCalendar.loads(
        'la_code = 851\nla_name = "Testshire"\n'
        '[[term]]\nname = "T"\nfirst_day = 2026-03-02\nlast_day = 2026-03-13\n'
        '[inset]\n"8512000" = [2026-03-04]\n'
    )
    monday = date(2026, 3, 2)
    assert school_days_away(calendar, monday, monday, None) == "today"
    assert school_days_away(calendar, monday, date(2026, 3, 3), None) == "in 1 school day"
    assert school_days_away(calendar, monday, date(2026, 3, 9), None) == "in 5 school days"
    assert school_days_away(calendar, monday, date(2026, 3, 9), "8512000") == "in 4 school days"
    assert school_days_away(calendar, date(2026, 3, 9), monday, None) == "5 school days ago"
    assert school_days_away(calendar, monday, date(2026, 4, 1), None) is None  # past its end
    assert school_days_away(None, monday, date(2026, 3, 9), None) is None


async def test_a_case_that_does_not_answer_says_so_and_an_erased_case_shows_no_child(
    case_service: CaseService, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = case_service
    day1 = service.calendar.first_school_day_on_or_before(service.today)
    referral = school_referral(today=service.today, day1=day1)
    case = await opened(service, referral, SCHOOL_ACTOR)
    service.answer_within(monkeypatch, 1.0)
    async with person(service, SCHOOL_USER, Role.SCHOOL, "Ms Attendance", SCHOOL) as http:
        await service.worker.down()
        try:
            silent = await http.get(f"/cases/{case}")
        finally:
            await service.worker.up()
        assert silent.status_code == 503
        text = text_of(silent.text)
        assert "The case cannot be shown just now" in text
        assert f"Case {case} did not answer in time" in text
        assert referral.pupil.last_name not in silent.text

        # Erased (the retention rule's erasure of the register): the case is not asked, and its
        # page keeps only the anonymous facts.
        with Session(service.engine) as session:
            erase_personal_data(session=session, case=case)
        erased = await http.get(f"/cases/{case}")
    assert erased.status_code == 200
    text = text_of(erased.text)
    assert "This case's personal data has been erased" in text
    assert "Stage School enquiries" in text
    assert referral.pupil.last_name not in erased.text
    assert referral.pupil.first_name not in erased.text


async def test_a_case_not_yet_in_the_register_that_does_not_answer_is_no_schools_business(
    case_service: CaseService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opened while no worker runs: the case is not in the register, and cannot say whose it is.
    An officer is told it does not answer; a school's user gets the 404 of no case (saying that
    it does not answer would say that it exists); once the worker is back, its school reads it."""
    service = case_service
    service.answer_within(monkeypatch, 1.0)
    day1 = service.calendar.first_school_day_on_or_before(service.today)
    referral = school_referral(today=service.today, day1=day1)
    await service.worker.down()
    try:
        referred = await case_client.refer(service.client, service.settings, referral, SCHOOL_ACTOR)
        assert referred.result is None  # recorded, not answered: no worker
        case = referred.case
        with Session(service.engine) as session:
            assert get_case(session=session, case=case) is None
        async with person(
            service, "office@other.example.org", Role.SCHOOL, "Mr Other", OTHER_SCHOOL
        ) as http:
            other = await http.get(f"/cases/{case}")
            unknown = await http.get(f"/cases/{UNKNOWN_CASE}")
        assert other.status_code == 404
        assert text_of(other.text) == text_of(unknown.text)
        async with person(
            service, "officer@la.example.gov.uk", Role.CME_OFFICER, "Officer A"
        ) as http:
            silent = await http.get(f"/cases/{case}")
        assert silent.status_code == 503
        assert f"Case {case} did not answer in time" in text_of(silent.text)
    finally:
        await service.worker.up()

    async def synced() -> None:
        with Session(service.engine) as session:
            assert get_case(session=session, case=case) is not None

    await eventually(synced, timeout=20)
    async with person(service, SCHOOL_USER, Role.SCHOOL, "Ms Attendance", SCHOOL) as http:
        page = await http.get(f"/cases/{case}")
    assert page.status_code == 200
    assert referral.pupil.last_name in page.text
