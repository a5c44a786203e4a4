"""Refer a child in a real browser (Debian's Chromium): a school's user signs in, refers a missing
pupil, sees the field errors in the intake's words, corrects them, checks the answers and sends,
and sees the confirmation with the case reference. Once on a desktop with JavaScript, once on a
phone without it. Each page is screenshotted (``test-output/screenshots/``) and checked with
axe-core: no serious or critical violation.

Behind the app, a real case service runs in the app's own event loop (its ASGI lifespan, in
:func:`~tests.browser.fixtures.serve_app`'s thread): a Temporal dev server, a worker with the
real workflow and activities, SMTP on loopback and the test's SQLite register.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from playwright.sync_api import Page, expect
from pydantic import SecretStr
from sqlalchemy import Engine
from starlette.types import Receive, Scope, Send
from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.testing import WorkflowEnvironment

from activities.config import MailConfig
from domain.case.model import Role
from domain.clock import local_date
from security.store import SqlKeyStore
from settings import Settings
from starter.cases import case_reference
from tests.browser.fixtures import DESKTOP, PHONE, NewPage, Viewport, serve_app
from tests.conftest import SmtpServer
from tests.starter.conftest import TEMPORAL_CLI, CaseWorker, school_days_back
from tests.web.conftest import FAST_PASSWORDS, PASSWORD, Clock, add_user, web_settings
from tests.workflows import harness
from tests.workflows.harness import SCHOOL, SECRET, school_referral
from web.app import close_app, create_app
from web.context import TemporalConnection
from workflows import search_attributes as sa

SCHOOL_USER = "attendance@school.example.org"

Shot = Callable[[Page, str], Path]
Axe = Callable[[Page], dict[str, Any]]


class WithCaseService:
    """The app, with a Temporal dev server and a worker started by its lifespan: in the loop
    that serves the app, where the app's Temporal client must live too."""

    def __init__(
        self,
        *,
        converter: DataConverter,
        make_worker: Callable[[Client], CaseWorker],
    ) -> None:
        self.converter = converter
        self.make_worker = make_worker
        self.env: WorkflowEnvironment | None = None
        self.worker: CaseWorker | None = None
        self.app: FastAPI | None = None

    async def client(self) -> Client:
        assert self.env is not None, "the case service has not started"
        return self.env.client

    async def start(self) -> None:
        self.env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(TEMPORAL_CLI),
            data_converter=self.converter,
            search_attributes=list(sa.ALL),
            dev_server_log_level="error",
        )
        self.worker = self.make_worker(self.env.client)
        await self.worker.up()

    async def stop(self) -> None:
        if self.worker is not None:
            await self.worker.down()
        if self.env is not None:
            await self.env.shutdown()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.start()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return


def case_worker(
    task_queue: str,
    *,
    tmp_path: Path,
    engine: Engine,
    mail_config: MailConfig,
    calendar: harness.TestCalendar,
    key_store: SqlKeyStore,
) -> Callable[[Client], CaseWorker]:
    """How a :class:`WithCaseService` makes its worker: the real workflow and activities on the
    test's register, mail server and calendar."""
    return lambda client: CaseWorker(
        client, task_queue, mail_config, engine, calendar.path, tmp_path / "mail", store=key_store
    )


def browser_settings(tmp_path: Path, calendar: harness.TestCalendar, task_queue: str) -> Settings:
    """The app's settings on loopback: plain http (no secure cookies), as `cme dev` serves it."""
    return web_settings(
        tmp_path,
        web_secure_cookies=False,
        calendar_file=calendar.path,
        case_key_secret=SecretStr(SECRET),
        task_queue=task_queue,
    )


@contextlib.contextmanager
def served(
    service: WithCaseService, settings: Settings, engine: Engine, *, startup_timeout: float
) -> Iterator[str]:
    """The app on ``settings`` behind ``service``, served on loopback: its URL."""
    app = create_app(
        settings,
        engine=engine,
        temporal=TemporalConnection(service.client),
        passwords=FAST_PASSWORDS,
        clock=Clock(now=datetime.now(UTC)),
    )
    service.app = app
    try:
        with serve_app(service, startup_timeout=startup_timeout) as url:
            yield url
    finally:
        close_app(app)


@pytest.fixture
def calendar(tmp_path: Path) -> harness.TestCalendar:
    return harness.TestCalendar.write(tmp_path, local_date(datetime.now(UTC)))


@pytest.fixture
def base_url(
    tmp_path: Path,
    sqlite_engine: Engine,
    converter: DataConverter,
    key_store: SqlKeyStore,
    mail_config: MailConfig,
    smtp_server: SmtpServer,
    calendar: harness.TestCalendar,
) -> Iterator[str]:
    """The app on loopback (plain http: no secure cookies, as `cme dev` runs it), with a case
    service behind it; a school's user for school 8512000."""
    task_queue = f"cme-browser-test-{uuid.uuid4()}"
    service = WithCaseService(
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
    with served(service, settings, sqlite_engine, startup_timeout=60) as url:
        yield url


def fill_date(page: Page, name: str, day: date) -> None:
    page.fill(f"#{name}-day", str(day.day))
    page.fill(f"#{name}-month", str(day.month))
    page.fill(f"#{name}-year", str(day.year))


def choose(page: Page, name: str, value: str) -> None:
    page.check(f'input[name="{name}"][value="{value}"]')


def proceed(page: Page) -> None:
    page.locator("form .govuk-button", has_text="Continue").last.click()


@pytest.mark.parametrize(
    ("viewport", "javascript"),
    [(DESKTOP, True), (PHONE, False)],
    ids=["desktop", "phone-without-javascript"],
)
def test_a_school_user_refers_a_child_sees_the_errors_and_the_confirmation(
    new_page: NewPage,
    viewport: Viewport,
    javascript: bool,
    calendar: harness.TestCalendar,
    shot: Shot,
    axe: Axe,
) -> None:
    page = new_page(viewport, javascript=javascript)
    today = local_date(datetime.now(UTC))
    referral = school_referral(today=today, day1=school_days_back(calendar, today, 1))
    pupil = referral.pupil
    assert pupil.upn is not None

    def look(name: str) -> None:
        shot(page, name)
        axe(page)

    page.goto("/sign-in")
    page.get_by_label("Email address").fill(SCHOOL_USER)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Children missing education")
    look("home")

    page.locator(".app-home-pages").get_by_role("link", name="Refer a child").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Refer a child")
    look("start")
    page.get_by_label("A pupil on your roll is missing and you do not know where they are").check()
    page.get_by_role("button", name="Continue").click()

    # The pupil: a UPN with the wrong check letter and a date that is no date.
    expect(page.get_by_role("heading", level=1)).to_have_text("The pupil")
    look("pupil")
    wrong_letter = ("B" if pupil.upn[0] == "A" else "A") + pupil.upn[1:]
    page.fill("#pupil-first_name", pupil.first_name)
    page.fill("#pupil-last_name", pupil.last_name)
    page.fill("#pupil-date_of_birth-day", "31")
    page.fill("#pupil-date_of_birth-month", "2")
    page.fill("#pupil-date_of_birth-year", str(pupil.date_of_birth.year))
    choose(page, "pupil-gender", pupil.gender.value)
    page.fill("#pupil-upn", wrong_letter)
    proceed(page)

    expect(page).to_have_title("Error: The pupil – Children missing education")
    summary = page.locator(".govuk-error-summary")
    expect(summary.get_by_role("link")).to_have_text(
        ["Pupil's date of birth must be a real date", "UPN check letter is wrong"]
    )
    expect(page.locator("#pupil-upn-error")).to_have_text("Error: UPN check letter is wrong")
    expect(page.locator("#pupil-date_of_birth-error")).to_have_text(
        "Error: Pupil's date of birth must be a real date"
    )
    look("pupil-errors")
    if javascript:
        summary.get_by_role("link", name="UPN check letter is wrong").click()
        expect(page.locator("#pupil-upn")).to_be_focused()

    fill_date(page, "pupil-date_of_birth", pupil.date_of_birth)
    page.fill("#pupil-upn", pupil.upn)
    proceed(page)

    expect(page.get_by_role("heading", level=1)).to_have_text("The absence")
    fill_date(page, "referral_date", referral.referral_date)
    choose(page, "absence_kind", "unauthorised")
    fill_date(page, "first_day_of_absence", referral.first_day_of_absence)
    look("absence")
    proceed(page)

    expect(page.get_by_role("heading", level=1)).to_have_text("Contacts")
    [contact] = referral.contacts
    page.fill("#contacts-0-name", contact.name)
    page.fill("#contacts-0-relationship", contact.relationship)
    page.fill("#contacts-0-phone_numbers-0", contact.phone_numbers[0])
    page.get_by_role("button", name="Add another phone number").click()
    page.fill("#contacts-0-phone_numbers-1", "01632 960123")
    page.check("#contacts-0-is_primary")
    look("contacts")
    proceed(page)

    expect(page.get_by_role("heading", level=1)).to_have_text("Last known address")
    for part, line in zip(("line1", "line2"), referral.last_known_address.lines, strict=False):
        page.fill(f"#last_known_address-{part}", line)
    page.fill("#last_known_address-postcode", referral.last_known_address.postcode or "")
    look("address")
    proceed(page)

    expect(page.get_by_role("heading", level=1)).to_have_text("Enquiries the school has made")
    choose(page, "enquiries_made-0-kind", "phone_primary")
    fill_date(page, "enquiries_made-0-made_on", referral.first_day_of_absence)
    choose(page, "enquiries_made-0-outcome", "no_contact")
    page.fill("#enquiries_made-0-note", "Voicemail left")
    look("enquiries")
    proceed(page)

    expect(page.get_by_role("heading", level=1)).to_have_text("Safeguarding and siblings")
    choose(page, "safeguarding_concern", "no")
    choose(page, "child_protection_plan", "no")
    look("safeguarding")
    proceed(page)

    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Check your answers before sending the referral"
    )
    expect(page.locator("main")).to_contain_text(pupil.upn)
    expect(page.locator("main")).to_contain_text("Phone number 2: 01632 960123")
    look("check-your-answers")
    page.get_by_role("button", name="Send referral").click()

    case = case_reference(referral, SECRET)
    expect(page.locator(".govuk-panel__title")).to_have_text("Referral sent")
    expect(page.locator(".govuk-panel__body")).to_contain_text(case)
    assert page.url.endswith("/refer/sent")
    look("confirmation")
