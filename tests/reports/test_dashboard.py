"""The manager's dashboard on the scenario's register: the figures a manager would read, every
figure's filter listing exactly its cases, the chart and the CSV."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import date
from urllib.parse import urlencode

import pytest
from sqlmodel import Session

from domain.case.model import Actor
from reports import (
    CaseFilter,
    DashboardPublic,
    build_dashboard,
    dashboard_csv,
    list_cases,
    referrals_chart,
)
from tests.domain.case.support import CALENDAR
from tests.reports.scenario import MANAGER, MASH, SCHOOL_A_USER, TAG, TODAY

SVG = "{http://www.w3.org/2000/svg}"


def dashboard(session: Session, viewer: Actor = MANAGER) -> DashboardPublic:
    return build_dashboard(session=session, viewer=viewer, calendar=CALENDAR, today=TODAY)


def test_open_cases_by_stage_and_by_school(session: Session) -> None:
    board = dashboard(session)
    assert board.open_cases.value == 10
    assert [(f.label, f.value) for f in board.open_by_stage] == [
        ("School enquiries", 1),
        ("LA investigation", 6),
        ("Awaiting deletion authorisation", 2),
        ("Awaiting CTF", 1),
    ]
    assert [(f.label, f.value) for f in board.open_by_school] == [
        ("8512000", 5),
        ("8512001", 2),  # U1, and U5 its staff referred
        ("No school (child on no roll)", 3),
    ]


def test_overdue_and_unconfirmed_mash_calls(session: Session) -> None:
    board = dashboard(session)
    assert (board.overdue_tasks.value, board.overdue_tasks.cases) == (2, 2)
    assert board.overdue_cases.value == 2
    assert board.mash_call_unconfirmed.value == 2  # U3 (the school's call) and U5 (the officer's)
    behind = list_cases(
        session=session, viewer=MANAGER, case_filter=board.mash_call_unconfirmed.case_filter
    )
    assert sorted(TAG[c.case_ref] for c in behind) == ["U3", "U5"]


def test_median_school_days_this_term_and_last(session: Session) -> None:
    board = dashboard(session)
    sat = board.time_to_sat_referral
    assert sat.this_term is not None and sat.last_term is not None
    assert (sat.this_term.term, sat.this_term.median, sat.this_term.cases) == (
        "Summer 2026",
        12.0,
        2,
    )
    assert (sat.last_term.term, sat.last_term.median, sat.last_term.cases) == (
        "Spring 2026",
        10.0,
        3,
    )
    assert (sat.last_term.first_day, sat.last_term.last_day) == (
        date(2026, 1, 5),
        date(2026, 4, 12),
    )
    located = board.time_to_location
    assert located.this_term is not None and located.last_term is not None
    assert (located.this_term.median, located.this_term.cases) == (15.0, 1)
    assert (located.last_term.median, located.last_term.cases) == (16.5, 2)
    assert located.last_term.unit == "school days"


def test_referrals_per_week(session: Session) -> None:
    weeks = dashboard(session).referrals_per_week
    assert len(weeks) == 12
    assert (weeks[0].week_start, weeks[-1].week_start) == (date(2026, 3, 23), date(2026, 6, 8))
    assert [w.value for w in weeks] == [0, 0, 0, 0, 2, 1, 0, 1, 0, 0, 2, 2]


@pytest.mark.parametrize("viewer", [MANAGER, SCHOOL_A_USER, MASH], ids=lambda a: a.role.value)
def test_every_figure_lists_exactly_the_cases_it_counts(session: Session, viewer: Actor) -> None:
    board = dashboard(session, viewer)

    def behind(case_filter: CaseFilter) -> int:
        return len(list_cases(session=session, viewer=viewer, case_filter=case_filter))

    for figure in board.figures():
        expected = figure.cases if figure.cases is not None else figure.value
        assert behind(figure.case_filter) == expected, figure.key
    for week in board.referrals_per_week:
        assert behind(week.case_filter) == week.value
    for comparison in (board.time_to_sat_referral, board.time_to_location):
        for median in (comparison.this_term, comparison.last_term):
            assert median is not None
            assert behind(median.case_filter) == median.cases + median.not_counted


def test_a_school_users_dashboard_counts_its_schools_cases(session: Session) -> None:
    board = dashboard(session, SCHOOL_A_USER)
    assert board.open_cases.value == 5
    assert [(f.label, f.value) for f in board.open_by_school] == [("8512000", 5)]
    assert board.overdue_tasks.value == 1  # U3's MASH call; U5's is not theirs to see
    assert [w.value for w in board.referrals_per_week][-2:] == [1, 1]  # U3; U6


def test_the_chart_is_an_image_with_its_numbers_and_a_table_of_links(session: Session) -> None:
    weeks = dashboard(session).referrals_per_week
    html = referrals_chart(weeks, href=lambda f: "/cases?" + urlencode(f.to_query()))
    root = ET.fromstring(html)
    svg = root.find(f"{SVG}svg")
    assert svg is not None
    assert svg.get("role") == "img"
    assert svg.get("aria-labelledby") == "referrals-per-week-title referrals-per-week-desc"
    title = svg.find(f"{SVG}title")
    desc = svg.find(f"{SVG}desc")
    assert title is not None and title.text == "Cases opened per week (23 Mar 2026 to 14 Jun 2026)"
    assert desc is not None and desc.text is not None
    assert "Week beginning 8 Jun 2026: 2" in desc.text
    assert "Week beginning 23 Mar 2026: 0" in desc.text
    assert len(svg.findall(f"{SVG}rect")) == 12
    table = root.find("table")
    assert table is not None and table.get("class") == "govuk-table"
    rows = table.findall("tbody/tr")
    assert len(rows) == 12
    last = rows[-1]
    assert last.findtext("th") == "Week beginning 8 Jun 2026"
    link = last.find("td/a")
    assert link is not None and link.text == "2"
    assert link.get("href") == "/cases?opened_from=2026-06-08&opened_to=2026-06-14"

    hidden = ET.fromstring(referrals_chart(weeks, href=lambda f: "/x", table_visually_hidden=True))
    hidden_table = hidden.find("table")
    assert hidden_table is not None
    assert hidden_table.get("class") == "govuk-table govuk-visually-hidden"
    assert hidden_table.findall(".//a") == []  # nothing to focus where nobody sees it


def test_the_csv_holds_every_figure_with_its_filter(session: Session) -> None:
    rows = list(csv.DictReader(io.StringIO(dashboard_csv(dashboard(session)))))
    by_key = {r["figure"]: r for r in rows}
    assert by_key["open_by_stage.la_investigation"]["value"] == "6"
    assert (
        by_key["open_by_stage.la_investigation"]["filter"] == "status=open&stage=la_investigation"
    )
    assert by_key["open_by_school.8512001"]["value"] == "2"
    assert (by_key["overdue_tasks"]["value"], by_key["overdue_tasks"]["cases"]) == ("2", "2")
    sat = by_key["time_to_sat_referral.this_term"]
    assert (sat["value"], sat["unit"], sat["cases"], sat["from"], sat["to"]) == (
        "12.0",
        "school days",
        "2",
        "2026-04-13",
        "2026-07-22",
    )
    assert by_key["time_to_location.last_term"]["value"] == "16.5"
    assert by_key["referrals_per_week.2026-06-08"]["value"] == "2"
    assert len(rows) == 1 + 4 + 3 + 3 + 4 + 12
