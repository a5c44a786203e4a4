"""My tasks and the task forms (web.tasks).

The list, on the reports' scenario register (:mod:`tests.reports.scenario`, today Wed 10 Jun
2026): overdue first, then by due date; a school's user sees only its own schools' tasks, and
another school's task is the same 404 as no case.

The forms, against a real case service (:mod:`tests.web.case_service`): a school's user records
an enquiry after seeing each field's problem, and the banner says what the case recorded; the
same form sent again is applied once; an officer records the LA's home visit and concludes, and
a deletion the law does not permit yet is refused with every reason the case gives, numbered
by the ground's regulation; a school's user cannot authorise (404: not their task).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlmodel import Session

from activities.register import list_tasks
from domain.calendar import SchoolCalendar, human_date
from domain.case import rules
from domain.case.model import Actor, Role
from domain.deletion import assess_deletion
from domain.intake import AnyReferral
from starter import case_client
from tests.reports.scenario import REFS, SCHOOL_A, SCHOOL_B
from tests.starter.conftest import eventually, school_days_back
from tests.web import case_service as service_fixtures
from tests.web.case_service import CaseService
from tests.web.conftest import Clock, add_user, browser, csrf_of, error_summary, sign_in
from tests.web.figures import scenario_app
from tests.workflows.harness import OTHER_SCHOOL, SCHOOL, migration_return, school_referral

pytestmark = pytest.mark.asyncio(loop_scope="session")

temporal = service_fixtures.temporal
case_service = service_fixtures.case_service
clock = service_fixtures.clock

SCHOOL_USER = "attendance@school.example.org"
OTHER_SCHOOL_USER = "office@other-school.example.org"
OFFICER = "officer@la.example.gov.uk"
LEADER = "leader@la.example.gov.uk"


def text_of(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def task_links(html: str) -> list[str]:
    """The task list's links, in order."""
    listed = re.search(r'<ul class="govuk-list app-task-list">.*?</ul>', html, re.S)
    return re.findall(r'<a class="govuk-link" href="([^"]+)">', listed.group(0)) if listed else []


def banners(html: str) -> list[str]:
    success = r'<div class="govuk-notification-banner govuk-notification-banner--success"'
    found = re.findall(success + r".*?</div>\s*</div>", html, re.S)
    return [text_of(b).removeprefix("Success ") for b in found]


def field_error(html: str, name: str) -> str:
    found = re.search(
        rf'<p id="{re.escape(name)}-error" class="govuk-error-message">(.*?)</p>', html, re.S
    )
    assert found, f"no error at {name}"
    return text_of(found.group(1)).removeprefix("Error: ")


def form_of(html: str) -> dict[str, str]:
    """The hidden fields of the page's task form (CSRF token, action, form key)."""
    form = re.search(r'<form method="post" action="/cases/[^"]+".*?</form>', html, re.S)
    assert form, "the page has no task form"
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form.group(0)))


def date_answer(name: str, day: date) -> dict[str, str]:
    return {
        f"{name}-day": str(day.day),
        f"{name}-month": str(day.month),
        f"{name}-year": str(day.year),
    }


@asynccontextmanager
async def signed_in(app: FastAPI, email: str) -> AsyncIterator[httpx.AsyncClient]:
    async with browser(app) as http:
        answer = await sign_in(http, email)
        assert answer.status_code == 303, answer.text
        yield http


# -- the list, on the scenario's register ---------------------------------------------------------


@pytest.fixture
def scenario(make_app: Any, sqlite_engine: Engine, clock: Clock, tmp_path: Path) -> FastAPI:
    app = scenario_app(make_app, sqlite_engine, clock, tmp_path)
    add_user(
        sqlite_engine,
        "a@school-a.example.org",
        role=Role.SCHOOL,
        name="Ms Attendance",
        schools=(SCHOOL_A,),
    )
    add_user(
        sqlite_engine,
        "b@school-b.example.org",
        role=Role.SCHOOL,
        name="Mr Register",
        schools=(SCHOOL_B,),
    )
    add_user(sqlite_engine, OFFICER, role=Role.CME_OFFICER, name="Otto Officer")
    add_user(sqlite_engine, "mash@la.example.gov.uk", role=Role.MASH, name="Max Mash")
    return app


async def test_a_schools_tasks_are_its_own_overdue_first_then_by_due_date(
    scenario: FastAPI, sqlite_engine: Engine
) -> None:
    with Session(sqlite_engine) as db:
        ids = {
            (tag, t.name): t.id
            for tag in ("U3", "U6", "S2", "U1")
            for t in list_tasks(session=db, case=REFS[tag])
        }

    def link(tag: str, task: str) -> str:
        return f"/cases/{REFS[tag]}/tasks/{ids[(tag, task)]}"

    async with signed_in(scenario, "a@school-a.example.org") as http:
        home = await http.get("/")
        assert '<a class="govuk-link" href="/tasks">My tasks</a>' in home.text
        page = await http.get("/tasks")
        assert page.status_code == 200
        # The MASH call due Tue 2 Jun, not recorded: overdue, first; then the CTF due 29 Jun;
        # then the tasks with no due date, the oldest first.
        assert task_links(page.text) == [
            link("U3", "phone_mash"),
            link("U6", "send_ctf"),
            link("S2", "confirm_register_codes"),
            link("U3", "school_enquiries"),
        ]
        items = re.findall(r'<li class="app-task-list__item">(.*?)</li>', page.text, re.S)
        assert "Overdue" in text_of(items[0]) and "Due 2 Jun 2026" in text_of(items[0])
        assert "Overdue" not in text_of(items[1]) and "Due 29 Jun 2026" in text_of(items[1])
        assert "4 open tasks, 1 overdue" in text_of(page.text)

        form = await http.get(link("U3", "school_enquiries"))
        assert form.status_code == 200
        assert "Record an enquiry or a home visit" in form.text
        # Another school's task: the same 404 as a case that does not exist.
        other = await http.get(link("U1", "confirm_register_codes"))
        unknown = await http.get("/cases/CME-0123456789AB/tasks/1")
        assert other.status_code == unknown.status_code == 404
        assert text_of(other.text) == text_of(unknown.text)

    async with signed_in(scenario, "b@school-b.example.org") as http:
        page = await http.get("/tasks")
        assert task_links(page.text) == [link("U1", "confirm_register_codes")]
        assert (await http.get(link("U3", "school_enquiries"))).status_code == 404

    async with signed_in(scenario, "mash@la.example.gov.uk") as http:
        assert (await http.get("/tasks")).status_code == 403


# -- the forms, against a real case service -----------------------------------------------------


async def open_case(service: CaseService, referral: AnyReferral, by: Actor) -> str:
    referred = await case_client.refer(service.client, service.settings, referral, by)
    return referred.case


async def open_task(service: CaseService, case: str, name: str) -> int:
    """The id of the case's open task ``name``, once the register has it."""

    async def synced() -> int:
        with Session(service.engine) as db:
            tasks = [
                t
                for t in list_tasks(session=db, case=case)
                if t.name == name and t.status == "open"
            ]
        assert tasks, f"no open {name} task on {case} yet"
        return tasks[0].id

    return await eventually(synced, timeout=20)


async def send(
    http: httpx.AsyncClient, url: str, answers: dict[str, str], hidden: dict[str, str] | None = None
) -> tuple[httpx.Response, dict[str, str]]:
    """Open the form at ``url`` (unless its hidden fields are given: the same form again) and
    send it with ``answers``."""
    if hidden is None:
        page = await http.get(url)
        assert page.status_code == 200, page.text
        hidden = form_of(page.text)
    return await http.post(url.split("?")[0], data={**hidden, **answers}), hidden


async def test_a_school_records_an_enquiry_after_its_errors_and_a_form_sent_twice_counts_once(
    case_service: CaseService,
) -> None:
    service = case_service
    add_user(service.engine, SCHOOL_USER, role=Role.SCHOOL, name="Ms Attendance", schools=(SCHOOL,))
    school = Actor(name="Ms Attendance", role=Role.SCHOOL, schools=(SCHOOL,))
    day1 = service.calendar.first_school_day_on_or_before(service.today)
    case = await open_case(service, school_referral(today=service.today, day1=day1), school)
    task = await open_task(service, case, "school_enquiries")
    url = f"/cases/{case}/tasks/{task}"

    async with signed_in(service.app, SCHOOL_USER) as http:
        listed = await http.get("/tasks")
        assert url in task_links(listed.text)

        # Nothing chosen, a date that is no date: each field in the error summary, nothing sent.
        bad, hidden = await send(
            http, url, {"made_on-day": "31", "made_on-month": "2", "made_on-year": "2026"}
        )
        assert bad.status_code == 400
        assert error_summary(bad.text) == [
            ("#kind", "Select the kind of enquiry"),
            ("#made_on-day", "Date of the enquiry must be a real date"),
            ("#outcome", "Select the outcome"),
        ]
        assert field_error(bad.text, "outcome") == "Select the outcome"
        assert form_of(bad.text)["form_key"] == hidden["form_key"]  # the same form, kept
        assert (await service.state(case)).enquiries == []

        answers = {"kind": "phone_primary", "outcome": "no_contact", **date_answer("made_on", day1)}
        done, _ = await send(http, url, answers, hidden)
        assert (done.status_code, done.headers["location"]) == (303, "/tasks")
        shown = await http.get("/tasks")
        assert banners(shown.text) == [
            f"Phone call to the primary contact on {human_date(day1)} recorded (no contact): "
            f"enquiry 1 of case {case}."
        ]
        # The same form sent again (a double click, the back button): recorded once.
        again, _ = await send(http, url, answers, hidden)
        assert again.status_code == 303
        shown = await http.get("/tasks")
        assert banners(shown.text) == [
            "This form was already sent, and the case recorded it once: Phone call to the "
            f"primary contact on {human_date(day1)} recorded (no contact): enquiry 1 of case "
            f"{case}."
        ]
        state = await service.state(case)
        assert [(e.enquiry.kind.value, e.recorded_by.name) for e in state.enquiries] == [
            ("phone_primary", "Ms Attendance")
        ]
        # The same form with other answers is not a new request: the case says so.
        changed, _ = await send(http, url, {**answers, "outcome": "no_information"}, hidden)
        assert changed.status_code == 409
        [(_, message)] = error_summary(changed.text)
        assert message.startswith("This form was already sent on ")
        assert len((await service.state(case)).enquiries) == 1

        # The task's other forms and their errors.
        contact, _ = await send(http, url + "?action=contact", {"contact_on-day": ""})
        assert contact.status_code == 400
        assert error_summary(contact.text) == [
            ("#contact_on-day", "Enter the date of the contact"),
            ("#returned_to_school", "Select whether the child is back at school"),
        ]
        concern, _ = await send(http, url + "?action=concern", {"concern": "  "})
        assert error_summary(concern.text) == [("#concern", "Enter the concern")]
        # A task's page offers only its own requests.
        assert (await http.get(url + "?action=authorise")).status_code == 404

    # Another school's user: the same 404 as no case, to read or to send.
    add_user(
        service.engine,
        OTHER_SCHOOL_USER,
        role=Role.SCHOOL,
        name="Mr Other",
        schools=(OTHER_SCHOOL,),
    )
    async with signed_in(service.app, OTHER_SCHOOL_USER) as http:
        assert url not in task_links((await http.get("/tasks")).text)
        assert (await http.get(url)).status_code == 404
        page = await http.get("/tasks")
        posted = await http.post(url, data={**hidden, **answers, "csrf_token": csrf_of(page.text)})
        assert posted.status_code == 404
    assert len((await service.state(case)).enquiries) == 1


async def test_an_officer_concludes_and_a_deletion_refused_lists_every_reason(
    case_service: CaseService,
) -> None:
    service = case_service
    add_user(service.engine, OFFICER, role=Role.CME_OFFICER, name="Otto Officer")
    add_user(service.engine, SCHOOL_USER, role=Role.SCHOOL, name="Ms Attendance", schools=(SCHOOL,))
    school = Actor(name="Ms Attendance", role=Role.SCHOOL, schools=(SCHOOL,))
    day1 = school_days_back(service.calendar, service.today, 15)
    enquiries = [
        {"by": "school", "kind": kind, "made_on": str(day1), "outcome": "no_contact"}
        for kind in ("phone_primary", "letter")
    ]
    referral = school_referral(today=service.today, day1=day1, enquiries=enquiries)
    case = await open_case(service, referral, school)
    investigate = await open_task(service, case, "investigate")  # past day 10: at the SAT
    url = f"/cases/{case}/tasks/{investigate}"
    today = service.today

    async with signed_in(service.app, OFFICER) as http:
        assert url in task_links((await http.get("/tasks")).text)
        visit = {"kind": "home_visit", "outcome": "no_contact", **date_answer("made_on", today)}
        done, _ = await send(http, url, {**visit, "note": "Nobody home; neighbour not seen them"})
        assert done.status_code == 303
        assert banners((await http.get("/tasks")).text) == [
            f"Home visit to the last known address on {human_date(today)} recorded (no "
            f"contact): enquiry 3 of case {case}."
        ]

        nothing, _ = await send(http, url + "?action=conclude", {})
        assert error_summary(nothing.text) == [("#outcome", "Select the outcome")]
        concluded, _ = await send(http, url + "?action=conclude", {"outcome": "not_located"})
        assert concluded.status_code == 303
        assert banners((await http.get("/tasks")).text) == [
            f"Investigation of case {case} concluded: not located. The case is now at stage "
            "awaiting deletion authorisation."
        ]

        authorise = await open_task(service, case, "authorise_deletion")
        authorise_url = f"/cases/{case}/tasks/{authorise}"
        form = await http.get(authorise_url)
        ground = re.search(r'<input[^>]*name="ground"[^>]*>', form.text)
        assert ground and 'value="9(1)(i)"' in ground.group(0)  # the ground the case points to
        blank, _ = await send(http, authorise_url, {"ground": ""})
        assert error_summary(blank.text) == [("#ground", "Enter the ground")]

        refused, _ = await send(http, authorise_url, {"ground": "9(1)(i)"})
        assert refused.status_code == 409
        state = await service.state(case)
        assessment = assess_deletion(
            "9(1)(i)", today, rules.case_facts(state), SchoolCalendar.load(service.calendar.path)
        )
        assert len(assessment.reasons) >= 3  # the days, the confirmation, the register codes
        assert [m for _, m in error_summary(refused.text)] == [
            r[:1].upper() + r[1:] for r in assessment.reasons
        ]
        assert any(m.startswith("15 of 20 school days by ") for _, m in error_summary(refused.text))
        found = re.search(r'<div class="govuk-error-summary".*?</ul>', refused.text, re.S)
        assert found, "no error summary"
        summary = text_of(found.group(0))
        assert (
            "The case refused: deletion on ground 9(1)(i) of The School Attendance (Pupil "
            "Registration) (England) Regulations 2024 (SI 2024/208) is not permitted on "
            f"{human_date(today)}, because:"
        ) in summary
        assert state.outcome is None

    # A school's user cannot authorise: not their task, a 404; nothing changed.
    async with signed_in(service.app, SCHOOL_USER) as http:
        assert (await http.get(authorise_url)).status_code == 404
        page = await http.get("/tasks")
        posted = await http.post(
            authorise_url,
            data={
                "csrf_token": csrf_of(page.text),
                "action": "authorise",
                "form_key": "a-form-key-of-the-school-0001",
                "ground": "9(1)(i)",
            },
        )
        assert posted.status_code == 404
    assert (await service.state(case)).outcome is None


async def test_the_ctf_and_mash_call_forms_name_each_field(case_service: CaseService) -> None:
    service = case_service
    add_user(service.engine, SCHOOL_USER, role=Role.SCHOOL, name="Ms Attendance", schools=(SCHOOL,))
    school = Actor(name="Ms Attendance", role=Role.SCHOOL, schools=(SCHOOL,))
    returned = migration_return(today=service.today, leaving_date=service.today, cp=True)
    case = await open_case(service, returned, school)
    ctf = await open_task(service, case, "send_ctf")
    mash = await open_task(service, case, "phone_mash")

    async with signed_in(service.app, SCHOOL_USER) as http:
        url = f"/cases/{case}/tasks/{ctf}"
        form = await http.get(url)
        assert f'value="{OTHER_SCHOOL}"' in form.text  # the destination the return names
        bad, _ = await send(
            http,
            url,
            {"destination_code": "", "sent_on-day": "", "sent_on-month": "", "sent_on-year": ""},
        )
        assert error_summary(bad.text) == [
            ("#destination_code", "Enter the destination's code"),
            ("#sent_on-day", "Enter the date the CTF was sent"),
        ]
        wrong, _ = await send(
            http, url, {"destination_code": "8512999", **date_answer("sent_on", service.today)}
        )
        assert wrong.status_code == 409, error_summary(wrong.text)
        assert error_summary(wrong.text) == [
            (
                "#destination_code",
                f"Destination's code: the return names destination {OTHER_SCHOOL}, not 8512999",
            )
        ]

        mash_url = f"/cases/{case}/tasks/{mash}"
        bad, _ = await send(
            http, mash_url, {"called_on-day": "1", "called_on-month": "", "called_on-year": "2026"}
        )
        assert error_summary(bad.text) == [
            ("#called_on-month", "Date of the call must include a month")
        ]
        done, _ = await send(
            http,
            mash_url,
            {"mash_reference": "M-123", **date_answer("called_on", service.today)},
        )
        assert done.status_code == 303
        assert banners((await http.get("/tasks")).text) == [
            f"Call to MASH on {human_date(service.today)} recorded on case {case}."
        ]
