"""The DfE's termly CME return through the real app, on the reports' scenario register (today Wed
10 Jun 2026), for a summer census on Thu 21 May 2026 (see tests.reports.test_dfe for the children
behind each number): the census date chosen in a GOV.UK date input, with the service's words for
a date it cannot use; the figures as tables; the CSV in the DfE's columns; the note of what the
service covers; for CME officers, team leaders and managers only."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import Engine

from settings import Settings, settings_problems
from tests.web.conftest import Clock, error_summary
from tests.web.figures import csv_rows, heading, page, scenario_app, signed_in

CENSUS = "census_date-day=21&census_date-month=5&census_date-year=2026"


@pytest.fixture
def app(
    make_app: Callable[..., FastAPI], sqlite_engine: Engine, clock: Clock, tmp_path: Path
) -> FastAPI:
    return scenario_app(make_app, sqlite_engine, clock, tmp_path)


def _table(html: str, ident: str) -> dict[str, str]:
    return {row[0]: row[1] for row in page(html).by_id(ident).table()}


async def test_the_form_then_the_figures_for_a_census_date(
    app: FastAPI, sqlite_engine: Engine
) -> None:
    async with signed_in(app, sqlite_engine, "manager") as http:
        form = await http.get("/dfe-return")
        assert form.status_code == 200
        assert heading(form.text) == "DfE return: children missing education"
        doc = page(form.text)
        assert [i.attrs["name"] for i in doc.by_id("census_date").iter("input")] == [
            "census_date-day",
            "census_date-month",
            "census_date-year",
        ]
        assert "Figures at" not in form.text
        assert "What the service covers of the collection" in form.text
        answer = await http.get(f"/dfe-return?{CENSUS}")
    assert answer.status_code == 200
    doc = page(answer.text)
    assert doc.by_id("figures").text == "Figures at 21 May 2026"
    assert "Summer term 2025/26" in doc.visible_text
    assert _table(answer.text, "totals") == {
        "CME on census date": "2",  # N2 and N3
        "CME at any point in the academic year to the census date": "4",
        "Became CME in the period": "2",
        "Stopped being CME in the period": "2",
    }
    years = _table(answer.text, "by-year-group")
    assert {k: v for k, v in years.items() if v != "0"} == {"Year 4": "1", "Year 8": "1"}
    assert len(years) == 13
    assert _table(answer.text, "by-length") == {
        "Less than 4 weeks": "1",
        "4 weeks to less than 12 weeks": "0",
        "12 weeks to less than 26 weeks": "1",
        "26 weeks or more": "0",
    }
    circumstances = _table(answer.text, "by-circumstance")
    assert circumstances["Registered at a school"] == "1"
    assert circumstances["Whereabouts not found (not located)"] == "1"
    # What the service covers of the collection, beside the figures.
    coverage = {row[0]: row[1] for row in doc.by_id("coverage-table").table()}
    assert coverage["… by sex"] == "No"
    assert coverage["… by length of time missing education"] == "Yes, bands to check"
    assert coverage["Primary reason for CME"] == "No"


async def test_the_context_for_the_la_is_apart(app: FastAPI, sqlite_engine: Engine) -> None:
    async with signed_in(app, sqlite_engine, "officer") as http:
        answer = await http.get(f"/dfe-return?{CENSUS}")
    tables = page(answer.text).iter("table")
    context = next(t for t in tables if "Figures for the LA" in t.text)
    rows = {row[0]: row[1:] for row in context.table()}
    assert rows["Missing pupils on roll under enquiry at the census date"] == [
        "2",
        "Not CME while registered at a school (DfE definition)",
    ]


async def test_the_csv_is_in_the_dfes_columns(
    make_app: Callable[..., FastAPI], sqlite_engine: Engine, clock: Clock, tmp_path: Path
) -> None:
    app = scenario_app(
        lambda **kw: make_app(la_ons_code="e06000044", **kw), sqlite_engine, clock, tmp_path
    )
    async with signed_in(app, sqlite_engine, "team_leader") as http:
        doc = page((await http.get(f"/dfe-return?{CENSUS}")).text)
        link = [h for t, h in doc.links() if t == "Download the return (CSV)"]
        assert link == ["/dfe-return.csv?census_date=2026-05-21"]
        assert "new_la_code is blank" not in doc.visible_text
        answer = await http.get(link[0])
    assert answer.status_code == 200
    assert 'filename="dfe-cme-return-2026-05-21.csv"' in answer.headers["content-disposition"]
    rows = csv_rows(answer)
    assert list(rows[0]) == [
        "time_period",
        "time_identifier",
        "geographic_level",
        "country_code",
        "country_name",
        "region_code",
        "region_name",
        "old_la_code",
        "new_la_code",
        "la_name",
        "measure",
        "breakdown_topic",
        "breakdown",
        "child_count",
    ]
    first = rows[0]
    assert (first["time_period"], first["time_identifier"]) == ("202526", "Summer term")
    assert (first["old_la_code"], first["new_la_code"], first["la_name"]) == (
        "851",
        "E06000044",
        "Testshire",
    )
    counts = {(r["measure"], r["breakdown"]): r["child_count"] for r in rows}
    assert counts[("CME on census date", "Total")] == "2"
    assert counts[("CME on census date", "Year 8")] == "1"
    assert counts[("Stopped being CME in the period", "Registered at a school")] == "1"
    # The context for the LA is not sent to the DfE.
    assert not [r for r in rows if "under enquiry" in r["measure"]]


async def test_without_the_ons_code_the_page_says_the_csv_lacks_it(
    app: FastAPI, sqlite_engine: Engine
) -> None:
    async with signed_in(app, sqlite_engine, "manager") as http:
        doc = page((await http.get(f"/dfe-return?{CENSUS}")).text)
        rows = csv_rows(await http.get("/dfe-return.csv?census_date=2026-05-21"))
    assert "The CSV's new_la_code is blank" in doc.visible_text
    assert {r["new_la_code"] for r in rows} == {""}


def test_a_bad_ons_code_is_named_by_its_variable() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None, la_ons_code="851")
    assert settings_problems(refused.value) == (
        "CME_LA_ONS_CODE: an LA's ONS code is E06, E08, E09 or E10 then 6 digits, e.g. E06000044"
    )


@pytest.mark.parametrize(
    ("typed", "link", "message", "red"),
    [
        (("", "", ""), "#census_date-day", "Enter the census date", ("day", "month", "year")),
        (("21", "5", ""), "#census_date-year", "Census date must include a year", ("year",)),
        (
            ("", "5", ""),
            "#census_date-day",
            "Census date must include a day and year",
            ("day", "year"),
        ),
        (
            ("31", "2", "2026"),
            "#census_date-day",
            "Census date must be a real date",
            ("day", "month", "year"),
        ),
        (
            ("21", "May", "2026"),
            "#census_date-month",
            "Census date must be a real date",
            ("month",),
        ),
        (("21", "5", "26"), "#census_date-year", "Year must include 4 numbers", ("year",)),
        (
            ("1", "7", "2026"),
            "#census_date-day",
            "Census date: 1 Jul 2026 is in the future: today is 10 Jun 2026",
            ("day", "month", "year"),
        ),
        (
            ("1", "1", "1999"),
            "#census_date-day",
            "Census date: 1999-01-01 is not a plausible date for a case: dates run from "
            "2000-01-01 to 2099-12-31",
            ("day", "month", "year"),
        ),
    ],
)
async def test_a_census_date_the_service_cannot_use_is_a_field_error(
    app: FastAPI,
    sqlite_engine: Engine,
    typed: tuple[str, str, str],
    link: str,
    message: str,
    red: tuple[str, ...],
) -> None:
    day, month, year = typed
    query = f"census_date-day={day}&census_date-month={month}&census_date-year={year}"
    async with signed_in(app, sqlite_engine, "manager") as http:
        answer = await http.get(f"/dfe-return?{query}")
    assert answer.status_code == 400
    assert error_summary(answer.text) == [(link, message)]
    doc = page(answer.text)
    assert doc.by_id("census_date-error").text == f"Error: {message}"
    boxes = {
        i.attrs["name"].removeprefix("census_date-"): i
        for i in doc.by_id("census_date").iter("input")
    }
    assert [b.attrs.get("value", "") for b in boxes.values()] == [day, month, year]
    assert tuple(p for p, b in boxes.items() if "govuk-input--error" in b.attrs["class"]) == red
    assert "Figures at" not in answer.text
    assert page(answer.text).iter("title")[0].text.startswith("Error: ")


async def test_the_csv_with_a_bad_date_is_the_page_with_its_error(
    app: FastAPI, sqlite_engine: Engine
) -> None:
    async with signed_in(app, sqlite_engine, "manager") as http:
        answer = await http.get("/dfe-return.csv?census_date=2026-02-30")
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("text/html")
    assert error_summary(answer.text) == [("#census_date-day", "Census date must be a real date")]


@pytest.mark.parametrize(
    ("who", "words"),
    [
        ("mash", "You are signed in as a MASH user."),
        ("school_a", "You are signed in as a school user."),
        ("admin", "You are signed in as an administrator."),
    ],
)
async def test_only_officers_team_leaders_and_managers_open_it(
    app: FastAPI, sqlite_engine: Engine, who: str, words: str
) -> None:
    async with signed_in(app, sqlite_engine, who) as http:
        for path in (f"/dfe-return?{CENSUS}", "/dfe-return.csv?census_date=2026-05-21"):
            answer = await http.get(path)
            assert answer.status_code == 403, path
            assert words in answer.text
            assert "child_count" not in answer.text
        home = await http.get("/")
    assert "/dfe-return" not in home.text
