"""A team leader's requests on a case itself (web.leader), against a real case service
(:mod:`tests.web.case_service`): withdrawing a duplicate referral (after each field's problem),
the outcome then on the case page; assigning the case to another officer, then named on the
case page; the links only for a team leader while the case is open; a school's user gets the
404 of a case it cannot see, an officer, MASH and a manager the 403 page, and an officer's form
sent all the same is refused by the case in its own words, nothing recorded.
"""

from __future__ import annotations

import re

import pytest

from domain.case.model import Actor, Role
from tests.web import case_service as service_fixtures
from tests.web.case_service import CaseService
from tests.web.conftest import add_user, csrf_of, error_summary
from tests.web.test_tasks import (
    LEADER,
    OFFICER,
    SCHOOL_USER,
    banners,
    field_error,
    form_of,
    open_case,
    open_task,
    send,
    signed_in,
    text_of,
)
from tests.workflows.harness import SCHOOL, school_referral

pytestmark = pytest.mark.asyncio(loop_scope="session")

temporal = service_fixtures.temporal
case_service = service_fixtures.case_service
clock = service_fixtures.clock

MASH = "mash@la.example.gov.uk"
MANAGER = "manager@la.example.gov.uk"
LINKS = ("Withdraw this case", "Reassign to another officer")


def summary_row(html: str, key: str) -> str:
    """The value of the case page's summary row ``key``."""
    found = re.search(
        rf'<dt class="govuk-summary-list__key">\s*{re.escape(key)}\s*</dt>\s*'
        r'<dd class="govuk-summary-list__value">(.*?)</dd>',
        html,
        re.S,
    )
    assert found, f"no row {key!r} on the page"
    return text_of(found.group(1))


def leader_links(html: str) -> list[str]:
    found = re.search(r'<ul class="govuk-list app-leader-actions">.*?</ul>', html, re.S)
    return (
        re.findall(r'<a class="govuk-link" href="[^"]+">([^<]+)</a>', found.group(0))
        if found
        else []
    )


async def two_cases(service: CaseService) -> tuple[str, str]:
    """Two cases of the school, in the register."""
    add_user(service.engine, LEADER, role=Role.TEAM_LEADER, name="Tess Leader")
    add_user(service.engine, OFFICER, role=Role.CME_OFFICER, name="Otto Officer")
    school = Actor(name="Ms Attendance", role=Role.SCHOOL, schools=(SCHOOL,))
    day1 = service.calendar.first_school_day_on_or_before(service.today)
    cases = []
    for _ in range(2):  # two children (each referral names its own)
        case = await open_case(service, school_referral(today=service.today, day1=day1), school)
        await open_task(service, case, "school_enquiries")  # in the register
        cases.append(case)
    return cases[0], cases[1]


async def test_a_team_leader_withdraws_a_duplicate_after_its_errors(
    case_service: CaseService,
) -> None:
    service = case_service
    kept, duplicate = await two_cases(service)
    url = f"/cases/{duplicate}/withdraw"

    async with signed_in(service.app, LEADER) as http:
        page = await http.get(f"/cases/{duplicate}")
        assert leader_links(page.text) == list(LINKS)

        missing, hidden = await send(http, url, {"reason": " ", "duplicate_of": ""})
        assert missing.status_code == 400
        assert error_summary(missing.text) == [("#reason", "Enter the reason")]
        bad, _ = await send(
            http, url, {"reason": "Referred twice", "duplicate_of": "CME-12"}, hidden
        )
        assert bad.status_code == 400
        assert field_error(bad.text, "duplicate_of") == (
            "Case it duplicates: a case reference is CME- and 12 hex digits, e.g. CME-7F3A9C21D0B4"
        )
        itself, _ = await send(
            http, url, {"reason": "Referred twice", "duplicate_of": duplicate}, hidden
        )
        assert itself.status_code == 409
        assert error_summary(itself.text) == [
            ("#duplicate_of", "Case it duplicates: a case cannot be a duplicate of itself")
        ]
        assert (await service.state(duplicate)).outcome is None

        answers = {"reason": "Referred twice by the school", "duplicate_of": kept.lower()}
        done, _ = await send(http, url, answers, hidden)
        assert (done.status_code, done.headers["location"]) == (303, f"/cases/{duplicate}")
        shown = await http.get(f"/cases/{duplicate}")
        assert banners(shown.text) == [
            f"Case {duplicate} withdrawn as a duplicate of {kept}. The case is closed."
        ]
        assert summary_row(shown.text, "Reason for closing") == (
            f"withdrawn as a duplicate of {kept}: Referred twice by the school"
        )
        assert summary_row(shown.text, "Stage") == "Closed"
        assert leader_links(shown.text) == []  # closed: nothing more to do on it
        assert (await http.get(url)).status_code == 404

        # The same form sent again: the case's first answer, recorded once.
        again, _ = await send(http, url, answers, hidden)
        assert again.status_code == 303
        shown = await http.get(f"/cases/{duplicate}")
        assert banners(shown.text) == [
            "This form was already sent, and the case recorded it once: "
            f"Case {duplicate} withdrawn as a duplicate of {kept}. The case is closed."
        ]
        state = await service.state(duplicate)
        assert state.outcome is not None and state.outcome.duplicate_of == kept
        assert (await service.state(kept)).outcome is None
        assert leader_links((await http.get(f"/cases/{kept}")).text) == list(LINKS)


async def test_a_team_leader_reassigns_and_no_one_else_may(case_service: CaseService) -> None:
    service = case_service
    case, _ = await two_cases(service)
    add_user(service.engine, SCHOOL_USER, role=Role.SCHOOL, name="Ms Attendance", schools=(SCHOOL,))
    add_user(service.engine, MASH, role=Role.MASH, name="Max Mash")
    add_user(service.engine, MANAGER, role=Role.MANAGER, name="Mo Manager")
    withdraw, reassign = f"/cases/{case}/withdraw", f"/cases/{case}/reassign"

    async with signed_in(service.app, LEADER) as http:
        blank, hidden = await send(http, reassign, {"officer": ""})
        assert error_summary(blank.text) == [("#officer", "Enter the officer's name")]
        done, _ = await send(http, reassign, {"officer": "Olive Other"}, hidden)
        assert (done.status_code, done.headers["location"]) == (303, f"/cases/{case}")
        shown = await http.get(f"/cases/{case}")
        assert banners(shown.text) == [f"Case {case} assigned to Olive Other."]
        assert summary_row(shown.text, "CME officer") == "Olive Other"
        leader_form = form_of((await http.get(withdraw)).text)

    # A school's user: the 404 of a case it cannot see, though it reads this one.
    async with signed_in(service.app, SCHOOL_USER) as http:
        page = await http.get(f"/cases/{case}")
        assert page.status_code == 200 and leader_links(page.text) == []
        unknown = await http.get("/cases/CME-0123456789AB")
        for url in (withdraw, reassign):
            answer = await http.get(url)
            assert answer.status_code == 404
            assert text_of(answer.text) == text_of(unknown.text)
        posted = await http.post(
            withdraw,
            data={**leader_form, "csrf_token": csrf_of(page.text), "reason": "Not ours"},
        )
        assert posted.status_code == 404

    for email in (MASH, MANAGER, OFFICER):
        async with signed_in(service.app, email) as http:
            for url in (withdraw, reassign):
                answer = await http.get(url)
                assert answer.status_code == 403, email
                assert "This page is for a team leader" in text_of(answer.text)

    # An officer's form sent all the same: the case refuses it in its own words.
    async with signed_in(service.app, OFFICER) as http:
        page = await http.get(f"/cases/{case}")
        assert page.status_code == 200 and leader_links(page.text) == []
        posted = await http.post(
            withdraw,
            data={
                "csrf_token": csrf_of(page.text),
                "form_key": "a-form-key-of-the-officer-0001",
                "reason": "I would rather not",
            },
        )
        assert posted.status_code == 409
        assert [m for _, m in error_summary(posted.text)] == [
            "Withdrawing a case is for a team leader, not a cme officer"
        ]
    state = await service.state(case)
    assert state.outcome is None and state.assigned_officer == "Olive Other"
