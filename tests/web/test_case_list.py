"""The case list through the real app, on the reports' scenario register: the cases each person
may see (a school's user never another school's case, MASH the child-protection ones), the
filters of the address shown as a summary (each removable, all cleared at once), pages, each row
linking to its case page, a bad filter as a GOV.UK error (never a 500), and the CSV (without the
children's names, with them only for those who act on the cases by name)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from tests.reports.scenario import REFS, SURNAMES, TAG
from tests.web.conftest import Clock, error_summary
from tests.web.figures import csv_rows, heading, page, query_of, scenario_app, signed_in


@pytest.fixture
def app(
    make_app: Callable[..., FastAPI], sqlite_engine: Engine, clock: Clock, tmp_path: Path
) -> FastAPI:
    return scenario_app(make_app, sqlite_engine, clock, tmp_path)


def _tags(html: str) -> list[str]:
    """The scenario's tags of the cases listed, in the list's order."""
    return [TAG[text] for text, href in page(html).links() if href == f"/cases/{text}"]


async def test_a_manager_lists_every_case_each_linking_to_its_page(
    app: FastAPI, sqlite_engine: Engine
) -> None:
    async with signed_in(app, sqlite_engine, "manager") as http:
        answer = await http.get("/cases")
    assert answer.status_code == 200
    assert heading(answer.text) == "Cases"
    doc = page(answer.text)
    assert doc.by_id("results").text == "13 cases"
    # The longest open first.
    assert _tags(answer.text) == [
        "S1", "S2", "N2", "N1", "S3", "N4", "U2", "U1", "N3", "U3", "U5", "U4", "U6",
    ]  # fmt: skip
    rows = doc.iter("table")[0].table()
    u3 = next(row for row in rows if row[0].startswith(REFS["U3"]))
    assert u3 == [
        f"{REFS['U3']} Testchild {SURNAMES['U3']}",
        "School enquiries Missing pupil (destination not verified)",
        "8512000",
        "1 Jun 2026",
        "2 Jun 2026",
        "Child protection Overdue MASH call not confirmed",
    ]
    n4 = next(row for row in rows if row[0].startswith(REFS["N4"]))
    assert n4[1] == "Closed: not located Child on no school roll"
    assert n4[2] == "No school"


async def test_the_filters_are_shown_and_each_can_be_removed(
    app: FastAPI, sqlite_engine: Engine
) -> None:
    async with signed_in(app, sqlite_engine, "manager") as http:
        answer = await http.get("/cases?status=open&stage=la_investigation&school=8512001")
        assert answer.status_code == 200
        doc = page(answer.text)
        assert _tags(answer.text) == ["U1", "U5"]
        summary = doc.iter("dl")[0]
        rows = [
            [c.visible_text for c in row.children if not isinstance(c, str)]
            for row in summary.iter("div")
        ]
        assert rows == [
            ["Status", "Open", "Remove"],
            ["Stage", "LA investigation", "Remove"],
            ["School", "8512001 (LAESTAB)", "Remove"],
        ]
        removes = [a.attrs["href"] for a in summary.iter("a")]
        assert [query_of(href) for href in removes] == [
            {"stage": "la_investigation", "school": "8512001"},
            {"status": "open", "school": "8512001"},
            {"status": "open", "stage": "la_investigation"},
        ]
        assert ("Clear all filters", "/cases") in doc.links()
        # The form shows the filter too, to change it.
        stage = doc.by_id("stage")
        assert [o.attrs.get("value") for o in stage.iter("option") if "selected" in o.attrs] == [
            "la_investigation"
        ]
        # Removing the school widens the list.
        wider = await http.get(removes[2])
        assert _tags(wider.text) == ["S2", "N2", "U1", "N3", "U5", "U4"]
        # A form sent with "any" in most fields is the same as leaving them out.
        form = await http.get(
            "/cases?status=open&stage=&kind=&school=&child_protection=true&overdue="
            "&mash_call_pending="
        )
        assert _tags(form.text) == ["U3", "U5", "U4"]


async def test_pages(app: FastAPI, sqlite_engine: Engine) -> None:
    async with signed_in(app, sqlite_engine, "manager") as http:
        first = await http.get("/cases?page_size=5")
        doc = page(first.text)
        assert "Showing 1 to 5 of 13, the longest open first." in doc.visible_text
        nav = doc.iter("nav")[-1]
        assert nav.attrs["class"] == "govuk-pagination"
        numbered = [(a.visible_text, a.attrs["href"]) for a in nav.iter("a")]
        assert numbered == [
            ("1", "/cases?page_size=5&page=1"),
            ("2", "/cases?page_size=5&page=2"),
            ("3", "/cases?page_size=5&page=3"),
            ("Next", "/cases?page_size=5&page=2"),
        ]
        last = await http.get("/cases?page_size=5&page=3")
        assert "Showing 11 to 13 of 13" in page(last.text).visible_text
        assert _tags(last.text) == ["U5", "U4", "U6"]
        past = await http.get("/cases?page_size=5&page=4")
        assert past.status_code == 200
        assert "There are no cases on page 4: the list has 3 pages." in past.text
        filtered = await http.get("/cases?status=closed&page_size=2&page=2")
        assert _tags(filtered.text) == ["N4"]
        links = [a.attrs["href"] for a in page(filtered.text).iter("nav")[-1].iter("a")]
        assert "/cases?status=closed&page_size=2&page=1" in links


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            "stage=nope&overdue=maybe&colour=red",
            [
                (
                    "#stage",
                    "Stage must be one of: School enquiries, LA investigation, Awaiting deletion "
                    "authorisation, Awaiting CTF, Closed",
                ),
                ("#overdue", "Overdue must be yes or no"),
                (
                    "#filters",
                    "The address has a filter the case list does not have (colour): clear the "
                    "filters, or choose them again below",
                ),
            ],
        ),
        (
            "opened_from=2026-13-01",
            [("#opened_from", "Opened from must be a date like 2026-03-02")],
        ),
        (
            "school=85120",
            [
                (
                    "#school",
                    "School LAESTAB must be 7 digits: 3-digit LA number + 4-digit establishment "
                    "number, e.g. 8512000",
                )
            ],
        ),
        (
            "located_from=2026-05-01&located_to=2026-04-01",
            [
                (
                    "#located_from",
                    "Located from (1 May 2026) must be on or before located to (1 Apr 2026)",
                )
            ],
        ),
        ("school=8512000&no_school=true", [("#school", "Choose a school or no school, not both")]),
        ("status=open&page=0", [("#filters", "Page must be a whole number, 1 or more")]),
        ("page_size=500", [("#filters", "Cases a page must be a whole number from 1 to 200")]),
    ],
)
async def test_a_bad_filter_in_the_address_is_a_field_error(
    app: FastAPI, sqlite_engine: Engine, query: str, expected: list[tuple[str, str]]
) -> None:
    async with signed_in(app, sqlite_engine, "manager") as http:
        answer = await http.get(f"/cases?{query}")
        download = await http.get(f"/cases.csv?{query}")
    assert answer.status_code == 400
    assert error_summary(answer.text) == expected
    doc = page(answer.text)
    for link, message in expected:
        field = doc.by_id(link.removeprefix("#"))  # the summary links to a field of the page
        if link != "#filters":
            assert f"Error: {message}" in doc.by_id(f"{link[1:]}-error").text, field
    assert _tags(answer.text) == []  # no list that would look like the answer
    assert ("Clear all filters", "/cases") in doc.links()
    assert download.status_code == 400
    assert error_summary(download.text) == expected


async def test_a_school_user_sees_only_its_own_schools_cases(
    app: FastAPI, sqlite_engine: Engine
) -> None:
    async with signed_in(app, sqlite_engine, "school_a") as http:
        answer = await http.get("/cases")
        assert answer.status_code == 200
        assert sorted(_tags(answer.text)) == ["S1", "S2", "S3", "U2", "U3", "U6"]
        assert REFS["U1"] not in answer.text  # school B's pupil
        assert SURNAMES["U1"] not in answer.text
        assert REFS["U5"] not in answer.text  # a child on no roll school B referred
        # Asking for the other school's cases gives none, not them.
        other = await http.get("/cases?school=8512001")
        assert other.status_code == 200
        assert _tags(other.text) == []
        assert "No case you can see matches these filters." in other.text
        # Nor does the download, with the names (a school user acts on its pupils by name).
        rows = csv_rows(await http.get("/cases.csv?names=yes"))
        assert sorted(TAG[r["case_ref"]] for r in rows) == ["S1", "S2", "S3", "U2", "U3", "U6"]
        assert {r["last_name"] for r in rows} >= {SURNAMES["S1"], SURNAMES["U3"]}
        assert not csv_rows(await http.get("/cases.csv?school=8512001"))
    async with signed_in(app, sqlite_engine, "school_b") as http:
        answer = await http.get("/cases")
        assert sorted(_tags(answer.text)) == ["U1", "U5"]


async def test_mash_lists_the_child_protection_cases(app: FastAPI, sqlite_engine: Engine) -> None:
    async with signed_in(app, sqlite_engine, "mash") as http:
        answer = await http.get("/cases")
    assert sorted(_tags(answer.text)) == ["U3", "U4", "U5"]


async def test_the_csv_without_names_and_with_them(app: FastAPI, sqlite_engine: Engine) -> None:
    async with signed_in(app, sqlite_engine, "manager") as http:
        listed = page((await http.get("/cases?status=open&overdue=true")).text)
        downloads = [(t, h) for t, h in listed.links() if t.startswith("Download")]
        assert downloads == [
            (
                "Download these cases (CSV, without the children's names)",
                "/cases.csv?status=open&overdue=true",
            )
        ]
        answer = await http.get(downloads[0][1])
        assert answer.status_code == 200
        assert 'filename="cases-2026-06-10.csv"' in answer.headers["content-disposition"]
        rows = csv_rows(answer)
        assert [(TAG[r["case_ref"]], r["stage"], r["overdue"]) for r in rows] == [
            ("U3", "school_enquiries", "yes"),
            ("U5", "la_investigation", "yes"),
        ]
        assert "first_name" not in rows[0]
        assert "Testchild" not in answer.text
        refused = await http.get("/cases.csv?status=open&overdue=true&names=yes")
        assert refused.status_code == 403
        assert heading(refused.text) == "You cannot download the children's names"
        assert "You are signed in as a manager" in page(refused.text).visible_text
    async with signed_in(app, sqlite_engine, "officer") as http:
        listed = page((await http.get("/cases?status=open&overdue=true")).text)
        with_names = [h for t, h in listed.links() if "with the children's names" in t]
        assert with_names == ["/cases.csv?status=open&overdue=true&names=yes"]
        answer = await http.get(with_names[0])
        assert 'filename="cases-2026-06-10-with-names.csv"' in answer.headers["content-disposition"]
        rows = csv_rows(answer)
        assert [(r["case_ref"], r["first_name"], r["last_name"]) for r in rows] == [
            (REFS["U3"], "Testchild", SURNAMES["U3"]),
            (REFS["U5"], "Testchild", SURNAMES["U5"]),
        ]


@pytest.mark.parametrize("path", ["/cases", "/cases.csv", "/cases?status=open"])
async def test_an_administrator_is_refused(app: FastAPI, sqlite_engine: Engine, path: str) -> None:
    async with signed_in(app, sqlite_engine, "admin") as http:
        answer = await http.get(path)
    assert answer.status_code == 403
    assert "You are signed in as an administrator." in answer.text
    assert "CME-" not in answer.text
