"""My tasks and the task forms in a real browser (Debian's Chromium), on a phone (an officer on a
home visit) and on a desktop: the CME officer signs in, finds the investigation in My tasks,
records the LA's home visit and concludes "not located"; authorising the deletion is refused
with the case's reason (no confirmation that no sickness or unavoidable cause keeps the pupil
away, which the after-leave ground needs: 2024 reg 9(1)(h)); the officer records it, and the
deletion is authorised. Each page is screenshotted (``test-output/screenshots/``) and checked
with axe-core: no serious or critical violation.

Behind the app, a real case service (:class:`tests.browser.test_refer_pages.WithCaseService`),
with one case opened before the browser starts: a pupil not back 11 school days after a leave of
absence, past day 10, so at the School Attendance Team with the officer's investigation open.
"""

from __future__ import annotations

import asyncio
import re
import time
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
from activities.register import list_tasks
from domain.calendar import human_date
from domain.case.model import Actor, Role
from domain.clock import local_date
from security.store import SqlKeyStore
from starter import case_client
from tests.browser.fixtures import DESKTOP, PHONE, Viewport
from tests.browser.test_refer_pages import WithCaseService, browser_settings, case_worker, served
from tests.conftest import SmtpServer
from tests.starter.conftest import school_days_back
from tests.web.conftest import PASSWORD, add_user
from tests.workflows import harness
from tests.workflows.harness import SCHOOL, school_referral

OFFICER = "officer@la.example.gov.uk"

Shot = Callable[[Page, str], Path]
Axe = Callable[[Page], dict[str, Any]]


class WithOpenCase(WithCaseService):
    """The case service, and once it runs, the case the test works on (see the module)."""

    def __init__(self, *, open_case: Callable[[Client], Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.open_case = open_case

    async def start(self) -> None:
        await super().start()
        await self.open_case(await self.client())


@pytest.fixture
def calendar(tmp_path: Path) -> harness.TestCalendar:
    return harness.TestCalendar.write(tmp_path, local_date(datetime.now(UTC)))


@pytest.fixture
def opened() -> dict[str, str]:
    """The case opened for the test: its reference, once the service has started."""
    return {}


@pytest.fixture
def base_url(
    tmp_path: Path,
    sqlite_engine: Engine,
    converter: DataConverter,
    key_store: SqlKeyStore,
    mail_config: MailConfig,
    smtp_server: SmtpServer,
    calendar: harness.TestCalendar,
    opened: dict[str, str],
) -> Iterator[str]:
    task_queue = f"cme-browser-test-{uuid.uuid4()}"
    settings = browser_settings(tmp_path, calendar, task_queue)
    today = local_date(datetime.now(UTC))
    leave_end = school_days_back(calendar, today, 12)
    day1 = calendar.after(leave_end, 1)  # today's last school day is day 11 after the leave
    referral = school_referral(
        today=today,
        day1=day1,
        after_leave_end=leave_end,
        enquiries=[
            {"by": "school", "kind": kind, "made_on": str(day1), "outcome": "no_contact"}
            for kind in ("phone_primary", "letter")
        ],
    )
    school = Actor(name="Ms Attendance", role=Role.SCHOOL, schools=(SCHOOL,))

    async def open_case(client: Client) -> None:
        referred = await case_client.refer(client, settings, referral, school)
        opened["case"] = referred.case
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # past day 10: at the SAT once the register has it
            with Session(sqlite_engine) as db:
                if any(
                    t.name == "investigate" and t.status == "open"
                    for t in list_tasks(session=db, case=referred.case)
                ):
                    return
            await asyncio.sleep(0.2)
        raise AssertionError("the case did not reach the School Attendance Team")

    service = WithOpenCase(
        open_case=open_case,
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
    add_user(sqlite_engine, OFFICER, role=Role.CME_OFFICER, name="Otto Officer")
    with served(service, settings, sqlite_engine, startup_timeout=90) as url:
        yield url


def banner(page: Page) -> Any:
    return page.locator(".govuk-notification-banner--success")


def task_link(page: Page, label: str, case: str) -> Any:
    """My tasks' link to the task (its label, and the case for a screen reader)."""
    return page.get_by_role("link", name=re.compile(rf"^{re.escape(label)}\s*: case {case}$"))


def open_task(page: Page, label: str, case: str, *, wait: float = 20) -> None:
    """From My tasks, the task's form (reloading while the register catches up)."""
    link = task_link(page, label, case)
    deadline = time.monotonic() + wait
    while link.count() == 0 and time.monotonic() < deadline:
        time.sleep(0.3)
        page.goto("/tasks")
    link.click()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=lambda v: v.name)
def test_the_officer_records_a_home_visit_concludes_and_a_deletion_is_refused_then_authorised(
    page: Page, viewport: Viewport, opened: dict[str, str], shot: Shot, axe: Axe
) -> None:
    today = local_date(datetime.now(UTC))

    def look(name: str) -> None:
        shot(page, name)
        axe(page)
        if viewport == PHONE:  # nothing wider than the phone: no sideways scrolling
            assert page.evaluate("document.documentElement.scrollWidth") <= viewport.width

    page.goto("/sign-in")
    page.get_by_label("Email address").fill(OFFICER)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    case = opened["case"]
    page.locator(".app-home-pages").get_by_role("link", name="My tasks").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My tasks")
    expect(task_link(page, "Investigate", case)).to_be_visible()
    look("my-tasks")

    # The home visit.
    open_task(page, "Investigate", case)
    expect(page.get_by_role("heading", level=1)).to_have_text("Record an enquiry or a home visit")
    look("investigate")
    page.get_by_label("Home visit to the last known address").check()
    page.get_by_label("No contact").check()
    page.get_by_label("Note (optional)").fill("Nobody at home; the curtains drawn")
    page.get_by_role("button", name="Record the enquiry").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My tasks")
    expect(banner(page)).to_contain_text(
        f"Home visit to the last known address on {human_date(today)} recorded (no contact): "
        f"enquiry 3 of case {case}."
    )
    look("home-visit-recorded")

    # Conclude: first with nothing chosen, then not located.
    open_task(page, "Investigate", case)
    page.get_by_role("link", name="Conclude the investigation").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Conclude the investigation")
    page.get_by_role("button", name="Conclude the investigation").click()
    expect(page.locator(".govuk-error-summary").get_by_role("link")).to_have_text(
        ["Select the outcome"]
    )
    look("conclude-errors")
    page.get_by_label("Not located").check()
    page.get_by_role("button", name="Conclude the investigation").click()
    expect(banner(page)).to_contain_text(
        f"Investigation of case {case} concluded: not located. The case is now at stage "
        "awaiting deletion authorisation."
    )
    look("concluded")

    # Authorise: refused, with the case's reason under the ground's regulation.
    open_task(page, "Authorise deletion", case)
    expect(page.get_by_label("Ground for deletion")).to_have_value("9(1)(h)")
    look("authorise")
    page.get_by_role("button", name="Authorise deletion").click()
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_contain_text(
        "The case refused: deletion on ground 9(1)(h) of The School Attendance (Pupil "
        f"Registration) (England) Regulations 2024 (SI 2024/208) is not permitted on "
        f"{human_date(today)}, because:"
    )
    expect(summary.get_by_role("listitem")).to_have_text(
        [
            "No recorded confirmation that there are no reasonable grounds to believe the pupil "
            "cannot attend because of sickness or an unavoidable cause"
        ]
    )
    look("authorise-refused")

    # What the ground needs, then the deletion.
    page.get_by_role("link", name="Confirm no sickness or unavoidable cause").click()
    page.get_by_label("Note (optional)").fill("The family's GP has no record of illness")
    look("confirm-no-sickness")
    page.get_by_role("button", name="Confirm", exact=True).click()
    expect(banner(page)).to_contain_text(
        f"Recorded on case {case}: there are no reasonable grounds to believe the pupil cannot "
        "attend because of sickness or an unavoidable cause."
    )
    open_task(page, "Authorise deletion", case)
    page.get_by_role("button", name="Authorise deletion").click()
    expect(banner(page)).to_contain_text(f"Deletion authorised on case {case} on ground 9(1)(h) (")
    expect(banner(page)).to_contain_text("The case is closed.")
    look("authorised")
    # The case is closed: once the register has it, the task leaves My tasks.
    deadline = time.monotonic() + 20
    while task_link(page, "Authorise deletion", case).count() and time.monotonic() < deadline:
        time.sleep(0.3)
        page.goto("/tasks")
    expect(task_link(page, "Authorise deletion", case)).to_have_count(0)
