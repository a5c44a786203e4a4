"""The manager's pages in Debian's Chromium, on a phone and a desktop: a manager signs in, opens
the dashboard (the reports' scenario register: today Wed 10 Jun 2026, ten open cases), follows a
figure to the case list of its cases, downloads that list and the dashboard's figures as CSV, and
gets the DfE return for a census date after a date it cannot use. A screenshot of each page (under
``test-output/screenshots/``) and axe-core on each: no serious or critical violation."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from playwright.sync_api import Page, expect
from sqlalchemy import Engine

from domain.case.model import Role
from tests.browser.fixtures import PHONE, Viewport, both_widths, serve_app
from tests.reports.scenario import REFS
from tests.web.conftest import FAST_PASSWORDS, PASSWORD, Clock, add_user, web_settings
from tests.web.figures import scenario_app
from web.app import close_app, create_app

MANAGER = "mina.manager@example.gov.uk"
Shot = Callable[[Page, str], Path]
Axe = Callable[[Page], dict[str, Any]]


@pytest.fixture
def app(sqlite_engine: Engine, tmp_path: Path) -> Iterator[FastAPI]:
    clock = Clock()

    def make(**overrides: Any) -> FastAPI:
        # Plain http on loopback, as `cme dev` serves it: cookies without Secure.
        settings = web_settings(tmp_path, web_secure_cookies=False, **overrides)
        return create_app(settings, engine=sqlite_engine, passwords=FAST_PASSWORDS, clock=clock)

    app = scenario_app(make, sqlite_engine, clock, tmp_path)
    add_user(sqlite_engine, MANAGER, role=Role.MANAGER, name="Mina Manager")
    yield app
    close_app(app)


@pytest.fixture
def base_url(app: FastAPI) -> Iterator[str]:
    with serve_app(app) as url:
        yield url


def _download(page: Page, link_text: str) -> tuple[str, list[dict[str, str]]]:
    """Click a download link; the file's suggested name and its CSV rows."""
    with page.expect_download() as event:
        page.get_by_role("link", name=link_text).click()
    download = event.value
    path = download.path()
    text = Path(path).read_text(encoding="utf-8-sig")
    return download.suggested_filename, list(csv.DictReader(io.StringIO(text)))


@both_widths
def test_a_manager_follows_a_figure_to_its_cases_and_downloads_them(
    page: Page, viewport: Viewport, shot: Shot, axe: Axe
) -> None:
    page.goto("/sign-in")
    page.get_by_label("Email address").fill(MANAGER)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    # From the home page's list of the manager's pages (the header's menu folds on a phone).
    page.get_by_role("main").get_by_role("link", name="Dashboard").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    expect(page.get_by_text("The cases on 10 Jun 2026.")).to_be_visible()
    by_stage = page.locator("#open-by-stage")
    la_row = by_stage.get_by_role("row", name="LA investigation")
    expect(la_row.get_by_role("cell")).to_have_text("6 open cases, LA investigation")
    expect(page.locator("#open-and-overdue")).to_contain_text("2 tasks on 2 cases")
    expect(page.locator("#time-from-day-1")).to_contain_text("16.5 school days")
    expect(page.locator("#referrals-per-week svg")).to_be_visible()
    shot(page, "dashboard")
    axe(page)

    name, figures = _download(page, "Download these figures (CSV)")
    assert name == "dashboard-2026-06-10.csv"
    assert {r["figure"]: r["value"] for r in figures}["open_by_stage.la_investigation"] == "6"

    la_row.get_by_role("link").click()
    page.wait_for_url("**/cases?status=open&stage=la_investigation")
    expect(page.get_by_role("heading", level=2, name="6 cases")).to_be_visible()
    expect(page.locator(".app-filter-summary")).to_contain_text("LA investigation")
    listed = page.locator("table.app-case-list tbody tr")
    expect(listed).to_have_count(6)
    expect(listed.first).to_contain_text(REFS["S2"])
    if viewport == PHONE:
        # The table scrolls sideways in its own region; the page itself does not.
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport.width
    shot(page, "case-list")
    axe(page)

    name, cases = _download(page, "Download these cases (CSV, without the children's names)")
    assert name == "cases-2026-06-10.csv"
    assert sorted(r["case_ref"] for r in cases) == sorted(
        REFS[tag] for tag in ("S2", "N2", "U1", "N3", "U5", "U4")
    )
    assert "first_name" not in cases[0]

    # Each case links to its page.
    expect(page.get_by_role("link", name=REFS["S2"])).to_have_attribute(
        "href", f"/cases/{REFS['S2']}"
    )

    # A filter the address gets wrong: a GOV.UK error, the form open to fix it.
    page.goto("/cases?stage=nope")
    expect(page.locator(".govuk-error-summary")).to_contain_text("Stage must be one of")
    shot(page, "case-list-bad-filter")
    axe(page)

    # The DfE return: a date it cannot use, then the census date.
    page.goto("/dfe-return")
    page.get_by_label("Day").fill("31")
    page.get_by_label("Month").fill("2")
    page.get_by_label("Year").fill("2026")
    page.get_by_role("button", name="Show the figures").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Census date must be a real date")
    shot(page, "dfe-return-bad-date")
    axe(page)
    page.get_by_label("Day").fill("21")
    page.get_by_label("Month").fill("5")
    page.get_by_role("button", name="Show the figures").click()
    expect(page.get_by_role("heading", name="Figures at 21 May 2026")).to_be_visible()
    expect(page.locator("#totals")).to_contain_text("CME on census date")
    shot(page, "dfe-return")
    axe(page)
    name, rows = _download(page, "Download the return (CSV)")
    assert name == "dfe-cme-return-2026-05-21.csv"
    census = [r for r in rows if r["measure"] == "CME on census date" and r["breakdown"] == "Total"]
    assert [r["child_count"] for r in census] == ["2"]
