"""The case page in Debian's Chromium: a school's user signs in, follows its case from the case
list to the case page (the stage, the deadlines in school days, its task's link, the timeline),
and asking for another school's case gets the page-not-found page, as for no case. On a desktop
with JavaScript, then on a phone without it. Each page is screenshotted
(``test-output/screenshots/``) and checked with axe-core: no serious or critical violation.

Behind the app, the real case service of :mod:`tests.browser.test_refer_pages` (a Temporal dev
server and a worker, in the app's own event loop); the two cases are opened when it starts.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.client import Client
from temporalio.converter import DataConverter

from activities.config import MailConfig
from activities.register import get_case
from domain.calendar import human_date
from domain.case.model import Actor, Role
from domain.clock import local_date
from domain.intake import SchoolCMEReferral
from security.store import SqlKeyStore
from starter import case_client
from starter.cases import case_reference
from tests.browser.fixtures import DESKTOP, PHONE, NewPage
from tests.browser.test_refer_pages import WithCaseService, browser_settings, case_worker, served
from tests.conftest import SmtpServer
from tests.starter.conftest import eventually
from tests.web.conftest import PASSWORD, add_user
from tests.workflows import harness
from tests.workflows.harness import OTHER_SCHOOL, SCHOOL, SECRET, school_referral

SCHOOL_USER = "attendance@school.example.org"
OWN = Actor(name="Ms Attendance", role=Role.SCHOOL, schools=(SCHOOL,))
OTHER = Actor(name="Mr Other", role=Role.SCHOOL, schools=(OTHER_SCHOOL,))

Shot = Callable[[Page, str], Path]
Axe = Callable[[Page], dict[str, Any]]


class WithCases(WithCaseService):
    """The case service, and two cases opened once it runs (each synced to the register): one
    of the school's, one of another school's."""

    def __init__(
        self, *, referrals: list[tuple[SchoolCMEReferral, Actor]], engine: Engine, **kw: Any
    ) -> None:
        super().__init__(**kw)
        self.referrals = referrals
        self.engine = engine

    async def start(self) -> None:
        await super().start()
        assert self.app is not None
        settings = self.app.state.web.settings
        client: Client = await self.client()
        for referral, by in self.referrals:
            referred = await case_client.refer(client, settings, referral, by)

            async def synced(case: str = referred.case) -> None:
                with Session(self.engine) as session:
                    assert get_case(session=session, case=case) is not None

            await eventually(synced, timeout=30)


@pytest.fixture
def calendar(tmp_path: Path) -> harness.TestCalendar:
    return harness.TestCalendar.write(tmp_path, local_date(datetime.now(UTC)))


@pytest.fixture
def referrals(calendar: harness.TestCalendar) -> dict[str, SchoolCMEReferral]:
    today = local_date(datetime.now(UTC))
    day1 = calendar.first_school_day_on_or_before(today)
    other = school_referral(today=today, day1=day1).model_copy(
        update={"school_laestab": OTHER_SCHOOL}
    )
    return {"own": school_referral(today=today, day1=day1), "other": other}


@pytest.fixture
def base_url(
    tmp_path: Path,
    sqlite_engine: Engine,
    converter: DataConverter,
    key_store: SqlKeyStore,
    mail_config: MailConfig,
    smtp_server: SmtpServer,
    calendar: harness.TestCalendar,
    referrals: dict[str, SchoolCMEReferral],
) -> Iterator[str]:
    task_queue = f"cme-browser-test-{uuid.uuid4()}"
    service = WithCases(
        referrals=[(referrals["own"], OWN), (referrals["other"], OTHER)],
        engine=sqlite_engine,
        converter=converter,
        make_worker=case_worker(
            task_queue,
            tmp_path=tmp_path,
            engine=sqlite_engine,
            mail_config=mail_config,
            calendar=calendar,
            key_store=key_store,
        ),
    )
    add_user(sqlite_engine, SCHOOL_USER, role=Role.SCHOOL, name="Ms Attendance", schools=(SCHOOL,))
    settings = browser_settings(tmp_path, calendar, task_queue)
    with served(service, settings, sqlite_engine, startup_timeout=90) as url:
        yield url


def sign_in(page: Page) -> None:
    page.goto("/sign-in")
    page.get_by_label("Email address").fill(SCHOOL_USER)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Children missing education")


def test_a_school_user_reads_its_case_and_not_another_schools(
    new_page: NewPage,
    calendar: harness.TestCalendar,
    referrals: dict[str, SchoolCMEReferral],
    shot: Shot,
    axe: Axe,
) -> None:
    own, other = (case_reference(referrals[k], SECRET) for k in ("own", "other"))
    pupil = referrals["own"].pupil
    sat_day = calendar.nth(referrals["own"].first_day_of_absence, 10)

    page = new_page(DESKTOP)
    sign_in(page)
    page.goto("/cases")
    expect(page.get_by_role("link", name=other)).to_have_count(0)
    page.get_by_role("link", name=own).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"{pupil.first_name} {pupil.last_name}"
    )
    main = page.locator("main")
    expect(main).to_contain_text(f"Case {own}")
    expect(page.locator(".govuk-summary-list__row", has_text="Stage")).to_contain_text(
        "School enquiries"
    )
    deadline = page.locator(".app-deadlines .govuk-summary-list__row", has_text="day 10")
    expect(deadline).to_contain_text(human_date(sat_day))
    expect(deadline).to_contain_text("school day")
    task = page.get_by_role("link", name="Do this task (Make the school's enquiries)")
    expect(task).to_have_attribute("href", f"/cases/{own}/tasks/1")
    expect(page.locator(".app-timeline")).to_contain_text("Case opened (episode 1)")
    expect(page.locator(".app-timeline")).to_contain_text("Ms Attendance (school)")
    shot(page, "own-case")
    axe(page)

    page.goto(f"/cases/{other}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    expect(page.locator("main")).not_to_contain_text(other)
    expect(page.locator("main")).not_to_contain_text(referrals["other"].pupil.last_name)
    shot(page, "another-schools-case")
    axe(page)

    phone = new_page(PHONE, javascript=False)
    sign_in(phone)
    phone.goto(f"/cases/{own}")
    expect(phone.get_by_role("heading", level=1)).to_have_text(
        f"{pupil.first_name} {pupil.last_name}"
    )
    expect(
        phone.get_by_role("link", name="Do this task (Make the school's enquiries)")
    ).to_be_visible()
    shot(phone, "own-case-phone-without-javascript")
    axe(phone)
