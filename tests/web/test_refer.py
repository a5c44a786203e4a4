"""Refer a child, through the web app against a real case service (Temporal dev server, the
real workflow and activities, SMTP on loopback, the register): a school's user fills in the
pages, sees each problem in the intake's words in the error summary and at its field, checks
the answers and sends; the case opens (its state, the register's row, the email to the School
Attendance Team); the same form sent twice is one referral; a child with an open case gets
"already has an open case"; a case that does not answer is told truthfully; a school's user
cannot refer another school's pupil; other roles get the 403 page."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date
from html import unescape

import httpx
import pytest
from sqlmodel import Session, select
from temporalio.client import WorkflowQueryFailedError

from activities.accounts import AccountRow
from activities.register import get_case
from domain.case.model import Role
from domain.case.state import CaseState
from domain.intake import (
    ProfessionalCMEReferral,
    PupilMigrationReturn,
    SchoolCMEReferral,
)
from starter.cases import case_reference
from tests.starter.conftest import eventually, school_days_back
from tests.web import case_service as service_fixtures
from tests.web.case_service import CaseService
from tests.web.conftest import add_user, browser, csrf_of, error_summary, sign_in
from tests.workflows.harness import (
    OTHER_SCHOOL,
    SCHOOL,
    SECRET,
    migration_return,
    professional_referral,
    school_referral,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

# The case service's fixtures (and the app's clock at the real now), this module's own.
temporal = service_fixtures.temporal
case_service = service_fixtures.case_service
clock = service_fixtures.clock

SCHOOL_USER = "attendance@school.example.org"
OFFICER = "officer@la.example.gov.uk"


# -- a person at the pages -------------------------------------------------------------------------


@dataclass
class Person:
    """A signed-in browser that remembers every address it asked for."""

    http: httpx.AsyncClient
    urls: list[str] = field(default_factory=list)

    async def get(self, path: str) -> httpx.Response:
        return await self.http.get(path)

    async def send(
        self, page: str, answers: dict[str, str], action: str = "continue"
    ) -> httpx.Response:
        """Open ``page`` and send its form with ``answers`` and the button ``action``."""
        opened = await self.http.get(page)
        assert opened.status_code == 200, opened.text
        action_path = re.search(r'<form method="post" action="(/refer[^"]*)"', opened.text)
        assert action_path, "the page has no referral form"
        data = {"csrf_token": csrf_of(opened.text), "action": action, **answers}
        return await self.http.post(action_path.group(1), data=data)


@pytest.fixture
async def school_person(case_service: CaseService) -> AsyncIterator[Person]:
    add_user(
        case_service.engine,
        SCHOOL_USER,
        role=Role.SCHOOL,
        name="Ms Attendance",
        schools=(SCHOOL,),
    )
    async with signed_in(case_service, SCHOOL_USER) as person:
        yield person


@contextlib.asynccontextmanager
async def signed_in(service: CaseService, email: str) -> AsyncIterator[Person]:
    """Their browser, signed in (remembering every address it asks for)."""
    async with browser(service.app) as http:
        person = Person(http)

        async def remember(request: httpx.Request) -> None:
            person.urls.append(str(request.url))

        http.event_hooks["request"].append(remember)
        response = await sign_in(http, email)
        assert response.status_code == 303, response.text
        yield person


def date_answer(name: str, day: date) -> dict[str, str]:
    return {
        f"{name}-day": str(day.day),
        f"{name}-month": str(day.month),
        f"{name}-year": str(day.year),
    }


def address_answer(name: str, lines: list[str], postcode: str | None) -> dict[str, str]:
    parts = ["line1", "line2", "town", "county"]
    answers = {f"{name}-{part}": "" for part in parts}
    answers.update({f"{name}-{part}": line for part, line in zip(parts, lines, strict=False)})
    answers[f"{name}-postcode"] = postcode or ""
    answers[f"{name}-country"] = "United Kingdom"
    return answers


def yes_no(value: bool) -> str:
    return "yes" if value else "no"


@dataclass
class Page:
    """One page's answers, and the lists to make longer first ("Add another ...")."""

    slug: str
    answers: dict[str, str]
    adds: list[str] = field(default_factory=list)


def pupil_page(referral: SchoolCMEReferral | PupilMigrationReturn) -> Page:
    pupil = referral.pupil
    return Page(
        "pupil",
        {
            "pupil-first_name": pupil.first_name,
            "pupil-last_name": pupil.last_name,
            **date_answer("pupil-date_of_birth", pupil.date_of_birth),
            "pupil-gender": pupil.gender.value,
            "pupil-upn": pupil.upn or "",
        },
    )


def school_pages(referral: SchoolCMEReferral) -> list[Page]:
    """The pages of the school CME referral, answered as ``referral`` says."""
    contacts: dict[str, str] = {}
    adds = ["contacts"] * (len(referral.contacts) - 1)
    for i, contact in enumerate(referral.contacts):
        contacts.update(
            {
                f"contacts-{i}-name": contact.name,
                f"contacts-{i}-relationship": contact.relationship,
                f"contacts-{i}-is_primary": "yes" if contact.is_primary else "",
            }
        )
        for j, number in enumerate(contact.phone_numbers):
            contacts[f"contacts-{i}-phone_numbers-{j}"] = number
            if j:
                adds.append(f"contacts-{i}-phone_numbers")
    enquiries: dict[str, str] = {}
    for i, enquiry in enumerate(referral.enquiries_made):
        enquiries.update(
            {
                f"enquiries_made-{i}-kind": enquiry.kind.value,
                **date_answer(f"enquiries_made-{i}-made_on", enquiry.made_on),
                f"enquiries_made-{i}-outcome": enquiry.outcome.value,
                f"enquiries_made-{i}-note": enquiry.note,
            }
        )
    address = referral.last_known_address
    siblings = {f"siblings_schools-{i}": s for i, s in enumerate(referral.siblings_schools)}
    return [
        pupil_page(referral),
        Page(
            "absence",
            {
                **date_answer("referral_date", referral.referral_date),
                "absence_kind": referral.absence_kind.value,
                **date_answer("first_day_of_absence", referral.first_day_of_absence),
            },
        ),
        Page("contacts", contacts, adds),
        Page(
            "address",
            address_answer("last_known_address", list(address.lines), address.postcode),
        ),
        Page(
            "enquiries",
            enquiries,
            ["enquiries_made"] * max(0, len(referral.enquiries_made) - 1),
        ),
        Page(
            "safeguarding",
            {
                "safeguarding_concern": yes_no(referral.safeguarding_concern),
                "child_protection_plan": yes_no(referral.child_protection_plan),
                **siblings,
            },
            ["siblings_schools"] * max(0, len(referral.siblings_schools) - 1),
        ),
    ]


def return_pages(referral: PupilMigrationReturn) -> list[Page]:
    destination = referral.destination
    return [
        pupil_page(referral),
        Page(
            "leaving",
            {
                **date_answer("referral_date", referral.referral_date),
                **date_answer("leaving_date", referral.leaving_date),
                "ground": referral.ground,
                "school_type": referral.school_type.value if referral.school_type else "",
            },
        ),
        Page(
            "destination",
            {
                "destination-kind": destination.kind.value,
                "destination-school_laestab": destination.school_laestab or "",
            },
        ),
        Page(
            "new-address",
            {
                **address_answer(
                    "new_address", list(referral.new_address.lines), referral.new_address.postcode
                ),
                "lives_with-name": referral.lives_with.name,
                "lives_with-relationship": referral.lives_with.relationship,
                **date_answer("lives_with_from", referral.lives_with_from),
            },
        ),
        Page("safeguarding", {"child_protection_plan": yes_no(referral.child_protection_plan)}),
    ]


def professional_pages(referral: ProfessionalCMEReferral, *, staff: bool) -> list[Page]:
    child, details, referrer = referral.child, referral.details, referral.referrer
    parents: dict[str, str] = {}
    for i, parent in enumerate(referral.parents):
        parents[f"parents-{i}-name"] = parent.name
        parents[f"parents-{i}-contact_number"] = parent.contact_number or ""
    offered = referral.school_place_offered_not_taken
    referrer_page = {
        "referrer-name": referrer.name,
        "referrer-organisation": referrer.organisation,
        "referrer-role": referrer.role,
        "referrer-phone": referrer.phone,
        "referrer-email": referrer.email,
        **date_answer("referral_date", referral.referral_date),
    }
    if staff and referral.date_received is not None:
        referrer_page.update(date_answer("date_received", referral.date_received))
    return [
        Page(
            "child",
            {
                "child-first_name": child.first_name,
                "child-last_name": child.last_name,
                **date_answer("child-date_of_birth", child.date_of_birth),
                "child-gender": child.gender.value,
                "child-upn": child.upn or "",
                "child-ethnicity": child.ethnicity,
            },
        ),
        Page(
            "child-address",
            address_answer("child-address", list(child.address.lines), child.address.postcode),
        ),
        Page("parents", parents, ["parents"] * max(0, len(referral.parents) - 1)),
        Page(
            "details",
            {
                "details-where_seen": details.where_seen,
                "details-how_known_not_on_roll": details.how_known_not_on_roll,
                "details-spoke_to_parents": yes_no(details.spoke_to_parents),
                "school_place_offered_not_taken": "not_known"
                if offered is None
                else yes_no(offered),
                "details-notes": details.notes,
            },
        ),
        Page("referrer", referrer_page),
        Page(
            "safeguarding",
            {
                "safeguarding_concern": yes_no(referral.safeguarding_concern),
                "child_protection_plan": yes_no(referral.child_protection_plan),
            },
        ),
    ]


async def answer(person: Person, pages: list[Page]) -> httpx.Response:
    """Answer each page in turn, as a person does; the last page's answer."""
    response: httpx.Response | None = None
    for page in pages:
        for name in page.adds:
            added = await person.send(f"/refer/{page.slug}", {}, action=f"add:{name}")
            assert added.status_code == 303, added.text
        response = await person.send(f"/refer/{page.slug}", page.answers)
        assert response.status_code == 303, (page.slug, error_summary(response.text))
    assert response is not None
    return response


async def start(person: Person, form: str) -> httpx.Response:
    return await person.send("/refer", {"form": form})


async def check_and_send(person: Person) -> tuple[httpx.Response, str]:
    """Open check your answers and send the referral: the confirmation page, and the request id
    the page carried."""
    check = await person.get("/refer/check")
    assert check.status_code == 200, check.text
    assert "govuk-error-summary" not in check.text, error_summary(check.text)
    request_id = hidden_request_id(check.text)
    sent = await person.http.post(
        "/refer/send", data={"csrf_token": csrf_of(check.text), "request_id": request_id}
    )
    assert sent.status_code == 303, sent.text
    assert sent.headers["location"] == "/refer/sent"
    return await person.get("/refer/sent"), request_id


def hidden_request_id(html: str) -> str:
    found = re.search(r'name="request_id" value="([^"]+)"', html)
    assert found, "the page has no request id to send"
    return found.group(1)


def text_of(html: str) -> str:
    """The page's words, without tags, as one line of text."""
    main = html.split('id="main-content"', 1)[-1]
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", main)).split())


def field_error(html: str, name: str) -> str:
    """The error message drawn at the field ``name`` (GOV.UK's ``<name>-error``)."""
    found = re.search(
        rf'<p id="{re.escape(name)}-error" class="govuk-error-message">(.*?)</p>', html, re.S
    )
    assert found, f"no error message at {name}"
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", found.group(1))).split()).removeprefix(
        "Error: "
    )


def day_one(service: CaseService, *, school_days_ago: int) -> date:
    """Day 1 of an absence such that today's last school day is day ``school_days_ago``."""
    return school_days_back(service.calendar, service.today, school_days_ago)


# -- a school's user refers a pupil ---------------------------------------------------------------


async def test_a_school_user_sees_the_intakes_words_then_sends_and_the_case_opens(
    case_service: CaseService, school_person: Person, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    service, person = case_service, school_person
    # Day 1 eleven school days ago: school day 10 has ended, so the case goes straight to the
    # School Attendance Team and emails it.
    referral = school_referral(
        today=service.today,
        day1=day_one(service, school_days_ago=11),
        enquiries=[
            {
                "by": "school",
                "kind": "phone_primary",
                "made_on": str(day_one(service, school_days_ago=11)),
                "outcome": "no_contact",
                "note": "Rang out",
            }
        ],
    )
    referral = referral.model_copy(
        update={
            "contacts": [
                referral.contacts[0].model_copy(
                    update={"phone_numbers": ["07700 900123", "01632 960123"]}
                ),
                referral.contacts[0].model_copy(
                    update={
                        "name": "Grandparent Synthetic",
                        "relationship": "grandfather",
                        "phone_numbers": ["07700 900456"],
                        "is_primary": False,
                    }
                ),
            ],
            "siblings_schools": [OTHER_SCHOOL],
        }
    )
    pages = school_pages(referral)
    upn = referral.pupil.upn
    assert upn is not None

    home = await person.get("/")
    assert '<a class="govuk-service-navigation__link" href="/refer"' in home.text
    chosen = await start(person, "school_cme_referral")
    assert chosen.headers["location"] == "/refer/pupil"  # one school: no question about it

    # The pupil page, with a UPN whose check letter is wrong and a date that is no date.
    wrong_letter = ("B" if upn[0] == "A" else "A") + upn[1:]
    bad = await person.send(
        "/refer/pupil",
        {
            **pages[0].answers,
            "pupil-upn": wrong_letter,
            "pupil-date_of_birth-day": "31",
            "pupil-date_of_birth-month": "2",
        },
    )
    assert bad.status_code == 400
    assert "<title>Error: The pupil" in bad.text
    assert error_summary(bad.text) == [
        ("#pupil-date_of_birth-day", "Pupil's date of birth must be a real date"),
        ("#pupil-upn", "UPN check letter is wrong"),
    ]
    assert field_error(bad.text, "pupil-upn") == "UPN check letter is wrong"
    assert (
        field_error(bad.text, "pupil-date_of_birth") == "Pupil's date of birth must be a real date"
    )
    assert f'value="{wrong_letter}"' in bad.text  # what they typed is kept

    # A date of birth in the future is a rule of the whole referral: the intake checks it once
    # every page is answered.
    next_year = service.today.replace(year=service.today.year + 1, day=1)
    pupil = await person.send(
        "/refer/pupil", {**pages[0].answers, **date_answer("pupil-date_of_birth", next_year)}
    )
    assert pupil.headers["location"] == "/refer/absence"
    await answer(person, pages[1:])

    check = await person.get("/refer/check")
    assert check.status_code == 200
    future = (
        f"{next_year.day} {next_year:%b %Y} is in the future: today is "
        f"{service.today.day} {service.today:%b %Y}"
    )
    assert error_summary(check.text) == [("/refer/pupil#pupil-date_of_birth-day", future)]
    assert "Send referral" not in check.text
    again = await person.get("/refer/pupil")
    assert field_error(again.text, "pupil-date_of_birth") == future

    fixed = await person.send("/refer/pupil", pages[0].answers)
    assert fixed.headers["location"] == "/refer/check"  # every page answered: back to the check
    check = await person.get("/refer/check")
    words = text_of(check.text)
    for shown in (
        referral.pupil.last_name,
        upn,
        "Grandparent Synthetic",
        "Phone number 2: 01632 960123",
        "Primary contact: Yes",
        "Enquiry: Phone call to the primary contact",
        OTHER_SCHOOL,
    ):
        assert shown in words

    confirmation, request_id = await check_and_send(person)
    case = case_reference(referral, SECRET)
    assert confirmation.status_code == 200
    page = text_of(confirmation.text)
    assert "Referral sent Case reference " + case in page
    assert referral.pupil.last_name not in confirmation.text

    # The case: opened by the signed-in person with the referral as they gave it.
    state = await service.state(case)
    assert state.referral == referral
    assert (state.referred_by.name, state.referred_by.role, state.referred_by.schools) == (
        "Ms Attendance",
        Role.SCHOOL,
        (SCHOOL,),
    )
    assert state.stage.value == "la_investigation"

    # The register's row, and the School Attendance Team's email.
    async def registered() -> None:
        with Session(service.engine) as db:
            row = get_case(session=db, case=case)
            assert row is not None
            assert (row.stage, row.school_laestab, row.upn, row.referrals_received) == (
                "la_investigation",
                SCHOOL,
                upn,
                1,
            )

    await eventually(registered)
    email = await service.smtp.wait_for(
        lambda m: case in str(m["Subject"]) and "School Attendance Team" in str(m["Subject"])
    )
    assert service.mail.sat_email in str(email["To"])
    assert "Ms Attendance" in email.get_content()

    # The answers are gone from the session, the child from every address and log line.
    assert (await person.get("/refer/check")).headers["location"] == "/refer"
    for url in person.urls:
        assert referral.pupil.last_name not in url and upn not in url
    # (The test's own mail server logs what it receives: the mail may carry the child.)
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("mail."))
    assert referral.pupil.last_name not in logged and upn not in logged
    assert f"referral {request_id} sent: case {case}, opened" in logged


async def test_the_same_form_sent_twice_is_one_referral(
    case_service: CaseService, school_person: Person
) -> None:
    service, person = case_service, school_person
    referral = school_referral(today=service.today, day1=day_one(service, school_days_ago=1))
    case = case_reference(referral, SECRET)
    await start(person, "school_cme_referral")
    await answer(person, school_pages(referral))
    check = await person.get("/refer/check")
    form = {"csrf_token": csrf_of(check.text), "request_id": hidden_request_id(check.text)}

    # Two clicks at once: both requests carry the answers and the same request id.
    first, second = await asyncio.gather(
        person.http.post("/refer/send", data=form), person.http.post("/refer/send", data=form)
    )
    assert [first.status_code, second.status_code] == [303, 303]
    assert {first.headers["location"], second.headers["location"]} == {"/refer/sent"}
    # And once more, after the confirmation: the same answer, nothing sent.
    third = await person.http.post("/refer/send", data=form)
    assert third.headers["location"] == "/refer/sent"
    shown = text_of((await person.get("/refer/sent")).text)
    assert f"Case reference {case}" in shown

    state = await service.state(case)
    assert state.referrals_received == 1
    assert [r.request_id for r in state.requests] == [form["request_id"]]


async def test_a_child_with_an_open_case_gets_the_referral_added_to_it(
    case_service: CaseService, school_person: Person
) -> None:
    service, person = case_service, school_person
    referral = school_referral(today=service.today, day1=day_one(service, school_days_ago=1))
    case = case_reference(referral, SECRET)
    await start(person, "school_cme_referral")
    await answer(person, school_pages(referral))
    first, _ = await check_and_send(person)
    assert "Referral sent" in text_of(first.text)

    # The same pupil again (another contact found since): a further referral to the open case.
    await start(person, "school_cme_referral")
    pages = school_pages(referral)
    pages[2].answers["contacts-0-name"] = "Another Contact"
    await answer(person, pages)
    repeat, _ = await check_and_send(person)
    shown = text_of(repeat.text)
    assert "Referral added to the child's open case" in shown
    assert f"Case reference {case}" in shown
    assert "This child already has an open case — your referral was added to it." in shown
    assert (await service.state(case)).referrals_received == 2


# -- every form, every field -----------------------------------------------------------------------


async def test_a_pupil_migration_return_arrives_with_every_field(
    case_service: CaseService, school_person: Person
) -> None:
    service = case_service
    referral = migration_return(
        today=service.today,
        leaving_date=service.today,
        school_type="academy",
    )
    await start(school_person, "pupil_migration_return")
    await answer(school_person, return_pages(referral))
    confirmation, _ = await check_and_send(school_person)
    case = case_reference(referral, SECRET)
    assert f"Case reference {case}" in text_of(confirmation.text)
    state = await service.state(case)
    assert state.referral == referral
    assert state.stage.value == "awaiting_ctf"


async def test_an_officer_enters_a_professionals_referral_taken_by_phone(
    case_service: CaseService,
) -> None:
    service = case_service
    add_user(service.engine, OFFICER, role=Role.CME_OFFICER, name="Officer Example")
    referral = professional_referral(today=service.today, cp=True)
    referral = referral.model_copy(
        update={"school_place_offered_not_taken": False, "date_received": service.today}
    )
    async with signed_in(service, OFFICER) as officer:
        await start(officer, "professional_cme_referral")
        referrer = await officer.get("/refer/referrer")
        assert 'name="date_received-day"' in referrer.text  # the date the LA received it
        await answer(officer, professional_pages(referral, staff=True))
        confirmation, _ = await check_and_send(officer)
    case = case_reference(referral, SECRET)
    assert f"Case reference {case}" in text_of(confirmation.text)
    state = await service.state(case)
    assert state.referral == referral
    assert (state.referred_by.name, state.referred_by.role) == ("Officer Example", Role.CME_OFFICER)
    await service.smtp.wait_for(
        lambda m: case in str(m["Subject"]) and "may not be on a school roll" in str(m["Subject"])
    )


async def test_a_school_user_refers_a_child_on_no_roll_as_themselves(
    case_service: CaseService, school_person: Person
) -> None:
    service = case_service
    await start(school_person, "professional_cme_referral")
    referrer = await school_person.get("/refer/referrer")
    # Their own name and email to start with; no "date received" (that is the LA's).
    assert 'value="Ms Attendance"' in referrer.text and f'value="{SCHOOL_USER}"' in referrer.text
    assert "date_received" not in referrer.text
    referral = professional_referral(today=service.today).model_copy(update={"date_received": None})
    await answer(school_person, professional_pages(referral, staff=False))
    confirmation, _ = await check_and_send(school_person)
    case = case_reference(referral, SECRET)
    assert f"Case reference {case}" in text_of(confirmation.text)
    state = await service.state(case)
    assert state.referral == referral
    assert state.referred_by.schools == (SCHOOL,)


# -- lists: add and remove without JavaScript ------------------------------------------------------


async def test_lists_grow_and_shrink_and_keep_what_was_typed(
    case_service: CaseService, school_person: Person
) -> None:
    person = school_person
    await start(person, "school_cme_referral")
    typed = {"contacts-0-name": "First Contact", "contacts-0-phone_numbers-0": "07700 900111"}
    added = await person.send("/refer/contacts", typed, action="add:contacts")
    assert added.headers["location"] == "/refer/contacts#contacts-1"
    page = await person.get("/refer/contacts")
    assert 'value="First Contact"' in page.text and 'id="contacts-1-name"' in page.text
    second = {
        **typed,
        "contacts-1-name": "Second Contact",
        "contacts-1-phone_numbers-0": "07700 900222",
    }
    await person.send("/refer/contacts", second, action="add:contacts-1-phone_numbers")
    page = await person.get("/refer/contacts")
    assert 'id="contacts-1-phone_numbers-1"' in page.text
    removed = await person.send(
        "/refer/contacts", {**second, "contacts-1-phone_numbers-1": ""}, action="remove:contacts-0"
    )
    assert removed.status_code == 303
    page = await person.get("/refer/contacts")
    assert 'value="Second Contact"' in page.text and "First Contact" not in page.text
    assert 'id="contacts-1-name"' not in page.text
    assert 'id="contacts-0-phone_numbers-1"' in page.text  # its numbers moved up with it

    bad = await person.send(
        "/refer/contacts",
        {
            "contacts-0-name": "Second Contact",
            "contacts-0-relationship": "",
            "contacts-0-phone_numbers-0": "07700 900222",
            "contacts-0-phone_numbers-1": "123",
        },
    )
    assert bad.status_code == 400
    assert error_summary(bad.text) == [
        ("#contacts-0-relationship", "Enter the contact's relationship to the pupil for contact 1"),
        (
            "#contacts-0-phone_numbers-1",
            "123 is not a UK phone number: it must start with 0 and have 10 or 11 digits, or "
            "start with +44, e.g. 01632 960123 or +44 1632 960123",
        ),
    ]


async def test_a_rule_across_pages_shows_once_every_page_is_answered(
    case_service: CaseService, school_person: Person
) -> None:
    """No phone number for any contact: the referral's rule, checked when the whole referral is
    there, links from the check-your-answers page to the first contact's number."""
    service, person = case_service, school_person
    referral = school_referral(today=service.today, day1=day_one(service, school_days_ago=1))
    pages = school_pages(referral)
    pages[2].answers["contacts-0-phone_numbers-0"] = ""
    await start(person, "school_cme_referral")
    await answer(person, pages)
    check = await person.get("/refer/check")
    assert error_summary(check.text) == [
        (
            "/refer/contacts#contacts-0-phone_numbers-0",
            "At least one contact phone number is needed",
        )
    ]
    assert "Send referral" not in check.text
    contacts = await person.get("/refer/contacts")
    assert (
        field_error(contacts.text, "contacts-0-phone_numbers-0")
        == "At least one contact phone number is needed"
    )
    assert await service.count() == 0


# -- who may refer what ----------------------------------------------------------------------------


async def test_a_school_user_refers_only_their_own_schools_pupils(
    case_service: CaseService,
) -> None:
    service = case_service
    add_user(
        service.engine,
        SCHOOL_USER,
        role=Role.SCHOOL,
        name="Ms Two Schools",
        schools=(SCHOOL, "8512002"),
    )
    async with signed_in(service, SCHOOL_USER) as person:
        chosen = await start(person, "school_cme_referral")
        assert chosen.headers["location"] == "/refer/school"
        offered = await person.get("/refer/school")
        assert re.findall(r'name="school" type="radio" value="(\d+)"', offered.text) == [
            SCHOOL,
            "8512002",
        ]
        # A forged answer naming another school: the case's own words, and nothing changes.
        forged = await person.send("/refer/school", {"school": OTHER_SCHOOL})
        assert forged.status_code == 403
        assert (
            "This case is not one of your schools': a school user acts only on the cases of "
            "8512000, 8512002" in text_of(forged.text)
        )
        assert (await person.get("/refer/pupil")).headers["location"] == "/refer/school"

        # A pupil of one of theirs, and then the account loses that school before sending.
        picked = await person.send("/refer/school", {"school": "8512002"})
        assert picked.headers["location"] == "/refer/pupil"
        referral = school_referral(today=service.today, day1=day_one(service, school_days_ago=1))
        await answer(person, school_pages(referral))
        check = await person.get("/refer/check")
        request_id = hidden_request_id(check.text)
        with Session(service.engine) as db:
            account = db.exec(select(AccountRow).where(AccountRow.email == SCHOOL_USER)).one()
            account.schools = [SCHOOL]
            db.add(account)
            db.commit()
        refused = await person.http.post(
            "/refer/send", data={"csrf_token": csrf_of(check.text), "request_id": request_id}
        )
        assert refused.status_code == 403
        assert (
            "This case is not one of your schools': a school user acts only on the cases of "
            "8512000" in text_of(refused.text)
        )
    assert await service.count() == 0  # nothing was sent


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MANAGER, Role.MASH])
async def test_other_roles_get_the_403_page(case_service: CaseService, role: Role) -> None:
    email = f"{role.value}@la.example.gov.uk"
    add_user(case_service.engine, email, role=role, name="Someone Else")
    async with signed_in(case_service, email) as person:
        home = await person.get("/")
        assert 'href="/refer"' not in home.text
        for path in ("/refer", "/refer/pupil", "/refer/check", "/refer/sent"):
            page = await person.get(path)
            assert page.status_code == 403, path
        token = csrf_of(home.text)
        for path, data in (
            ("/refer", {"form": "school_cme_referral"}),
            ("/refer/send", {"request_id": "web-referral-0123456789"}),
        ):
            refused = await person.http.post(path, data={"csrf_token": token, **data})
            assert refused.status_code == 403, path
            assert "This page is for a school user or CME officer or team leader" in text_of(
                refused.text
            )
    assert await case_service.count() == 0


# -- a case that does not answer -------------------------------------------------------------------


async def test_a_referral_the_case_has_not_answered_is_recorded_and_said_so(
    case_service: CaseService, school_person: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, person = case_service, school_person
    service.answer_within(monkeypatch, 2)
    referral = school_referral(today=service.today, day1=day_one(service, school_days_ago=1))
    case = case_reference(referral, SECRET)
    await start(person, "school_cme_referral")
    await answer(person, school_pages(referral))
    await service.worker.down()
    confirmation, _ = await check_and_send(person)
    shown = text_of(confirmation.text)
    assert "Your referral is recorded" in shown
    assert f"Case reference {case}" in shown
    assert "The case did not answer in time, but your referral is recorded." in shown
    await service.worker.up()

    async def opened() -> CaseState:
        try:
            return await service.state(case)
        except WorkflowQueryFailedError as exc:
            raise AssertionError(f"case {case} has not opened yet") from exc

    state = await eventually(opened, timeout=20)
    assert state.referral == referral


async def test_a_referral_not_recorded_is_said_so_and_sending_again_applies_it_once(
    case_service: CaseService, school_person: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, person = case_service, school_person
    referral = school_referral(today=service.today, day1=day_one(service, school_days_ago=1))
    case = case_reference(referral, SECRET)
    await start(person, "school_cme_referral")
    await answer(person, school_pages(referral))
    await check_and_send(person)  # the case is open

    # A further referral of the same pupil while no worker runs: the open case cannot take it.
    service.answer_within(monkeypatch, 2)
    await service.worker.down()
    await start(person, "school_cme_referral")
    pages = school_pages(referral)
    pages[2].answers["contacts-0-name"] = "Another Contact"
    await answer(person, pages)
    check = await person.get("/refer/check")
    request_id = hidden_request_id(check.text)
    not_recorded = await person.http.post(
        "/refer/send", data={"csrf_token": csrf_of(check.text), "request_id": request_id}
    )
    assert not_recorded.status_code == 503
    shown = text_of(not_recorded.text)
    assert "Your referral has not been recorded" in shown
    assert "nothing is recorded yet" in shown
    assert "Sending the referral again is safe" in shown
    assert hidden_request_id(not_recorded.text) == request_id  # the same request again

    await service.worker.up()
    monkeypatch.setattr("starter.case_client.ANSWER_TIMEOUT_SECONDS", 30.0)
    again = await person.http.post(
        "/refer/send", data={"csrf_token": csrf_of(not_recorded.text), "request_id": request_id}
    )
    assert again.headers["location"] == "/refer/sent"
    shown = text_of((await person.get("/refer/sent")).text)
    assert "This child already has an open case — your referral was added to it." in shown
    assert (await service.state(case)).referrals_received == 2  # applied once


async def test_an_officer_names_the_school_and_may_delete_a_referral_unsent(
    case_service: CaseService,
) -> None:
    add_user(case_service.engine, OFFICER, role=Role.TEAM_LEADER, name="Leader Example")
    async with signed_in(case_service, OFFICER) as officer:
        start_page = await officer.get("/refer")
        assert "A school's Pupil Migration LA Return" in text_of(start_page.text)
        await start(officer, "pupil_migration_return")
        bad = await officer.send("/refer/pupil", {"school_laestab": "85120"})
        assert (
            "#school_laestab",
            "School LAESTAB must be 7 digits: 3-digit LA number + "
            "4-digit establishment number, e.g. 8512000",
        ) in error_summary(bad.text)
        check = await officer.get("/refer/check")
        assert check.headers["location"] == "/refer/leaving"  # pages still to answer

        started = await officer.get("/refer")
        assert "You have started a Pupil Migration LA Return and not sent it." in text_of(
            started.text
        )
        deleted = await officer.http.post(
            "/refer/cancel", data={"csrf_token": csrf_of(started.text)}
        )
        assert deleted.headers["location"] == "/refer"
        assert (await officer.get("/refer/pupil")).headers["location"] == "/refer"
        assert "You have started" not in (await officer.get("/refer")).text
    assert await case_service.count() == 0
