"""The manager's dashboard through the real app, on the reports' scenario register (today Wed 10
Jun 2026): the numbers a manager reads, each linking to the case list of exactly the cases it
counts, the medians this term against last, the referrals chart with its table, the CSV of the
figures; who may open it (officers, team leaders, managers, MASH with its child-protection cases
only; 403 for a school user and an administrator)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from tests.reports.scenario import REFS
from tests.web.conftest import Clock, browser
from tests.web.figures import Element, csv_rows, page, query_of, scenario_app, signed_in


@pytest.fixture
def app(
    make_app: Callable[..., FastAPI], sqlite_engine: Engine, clock: Clock, tmp_path: Path
) -> FastAPI:
    return scenario_app(make_app, sqlite_engine, clock, tmp_path)


def _figures(board: Element, ident: str) -> dict[str, tuple[str, str]]:
    """A figures table (or the summary list): label -> (the number shown, its link)."""
    section = board.by_id(ident)
    found: dict[str, tuple[str, str]] = {}
    for row in section.iter("tr") or section.iter("div"):
        cells = [
            c for c in row.children if isinstance(c, Element) and c.tag in ("th", "td", "dt", "dd")
        ]
        if len(cells) == 2 and cells[1].iter("a"):
            link = cells[1].iter("a")[0]
            found[cells[0].visible_text] = (link.visible_text, link.attrs["href"])
    return found


async def _listed(http: httpx.AsyncClient, href: str) -> list[str]:
    """The case references the case list shows at ``href`` (all pages)."""
    refs: list[str] = []
    while href:
        answer = await http.get(href)
        assert answer.status_code == 200, (href, answer.text)
        doc = page(answer.text)
        refs += [text for text, link in doc.links() if link == f"/cases/{text}"]
        following = [link for text, link in doc.links() if text.startswith("Next")]
        href = following[0] if following else ""
    return refs


async def test_a_manager_reads_the_figures(app: FastAPI, sqlite_engine: Engine) -> None:
    async with signed_in(app, sqlite_engine, "manager") as http:
        answer = await http.get("/dashboard")
    assert answer.status_code == 200
    board = page(answer.text)
    assert "The cases on 10 Jun 2026." in board.visible_text
    assert _figures(board, "open-and-overdue") == {
        "Open cases": ("10", "/cases?status=open"),
        "Overdue tasks": ("2 tasks on 2 cases", "/cases?status=open&overdue=true"),
        "Overdue cases": ("2", "/cases?status=open&overdue=true"),
        "Child-protection cases whose MASH call is not confirmed": (
            "2",
            "/cases?status=open&child_protection=true&mash_call_pending=true",
        ),
    }
    assert {k: v[0] for k, v in _figures(board, "open-by-stage").items()} == {
        "School enquiries": "1",
        "LA investigation": "6",
        "Awaiting deletion authorisation": "2",
        "Awaiting CTF": "1",
    }
    assert {k: v[0] for k, v in _figures(board, "open-by-school").items()} == {
        "8512000": "5",
        "8512001": "2",
        "No school (child on no roll)": "3",
    }
    assert query_of(_figures(board, "open-by-school")["8512001"][1]) == {
        "status": "open",
        "school": "8512001",
    }
    times = board.by_id("time-from-day-1")
    header = [th.visible_text for th in times.iter("thead")[0].iter("th")]
    assert header == [
        "From day 1 of absence to",
        "This term: Summer 2026 13 Apr 2026 to 22 Jul 2026",
        "Last term: Spring 2026 5 Jan 2026 to 12 Apr 2026",
    ]
    assert times.table() == [
        ["SAT referral", "12 school days 2 cases", "10 school days 3 cases"],
        ["The child located", "15 school days 1 case", "16.5 school days 2 cases"],
    ]
    # What a screen reader says of a link out of its table.
    assert board.by_id("open-by-stage").rows()[1][1].text == "6 open cases, LA investigation"
    assert times.rows()[0][1].iter("a")[0].text == "2 cases referred to the SAT in Summer 2026"
    sat_this_term = times.rows()[0][1].iter("a")[0].attrs["href"]
    assert query_of(sat_this_term) == {
        "kind": "destination_not_verified",
        "sat_referred_from": "2026-04-13",
        "sat_referred_to": "2026-07-22",
    }


async def test_every_figure_links_to_exactly_the_cases_it_counts(
    app: FastAPI, sqlite_engine: Engine
) -> None:
    async with signed_in(app, sqlite_engine, "manager") as http:
        board = page((await http.get("/dashboard")).text)
        checked = 0
        for ident in ("open-and-overdue", "open-by-stage", "open-by-school"):
            for label, (shown, href) in _figures(board, ident).items():
                count = int(shown.split()[-2]) if "tasks on" in shown else int(shown)
                assert len(await _listed(http, href)) == count, label
                checked += 1
        assert checked == 4 + 4 + 3
        # The cases behind the unconfirmed MASH calls: U3 (the school's) and U5 (the officer's).
        behind = _figures(board, "open-and-overdue")[
            "Child-protection cases whose MASH call is not confirmed"
        ][1]
        assert sorted(await _listed(http, behind)) == sorted([REFS["U3"], REFS["U5"]])
        # The medians' cases: summer's SAT referrals are U1 and U2.
        times = board.by_id("time-from-day-1")
        href = times.rows()[0][1].iter("a")[0].attrs["href"]
        assert sorted(await _listed(http, href)) == sorted([REFS["U1"], REFS["U2"]])


async def test_the_referrals_chart_and_its_table_of_links(
    app: FastAPI, sqlite_engine: Engine
) -> None:
    async with signed_in(app, sqlite_engine, "manager") as http:
        answer = await http.get("/dashboard")
        board = page(answer.text)
        # The SVG is drawn, not shown as escaped text.
        assert '<svg xmlns="http://www.w3.org/2000/svg"' in answer.text
        assert "&lt;svg" not in answer.text
        svg = board.by_id("referrals-per-week").iter("svg")[0]
        assert svg.attrs["role"] == "img"
        assert len(svg.iter("rect")) == 12
        table = board.by_id("referrals-per-week-table")
        rows = table.table()
        assert len(rows) == 12
        assert rows[0] == ["Week beginning 23 Mar 2026", "0"]
        assert rows[-1] == ["Week beginning 8 Jun 2026", "2"]
        this_week = table.rows()[-1][1].iter("a")[0].attrs["href"]
        assert query_of(this_week) == {"opened_from": "2026-06-08", "opened_to": "2026-06-14"}
        assert sorted(await _listed(http, this_week)) == sorted([REFS["U4"], REFS["U6"]])


async def test_the_figures_download_as_csv(app: FastAPI, sqlite_engine: Engine) -> None:
    async with signed_in(app, sqlite_engine, "manager") as http:
        board = page((await http.get("/dashboard")).text)
        link = [href for text, href in board.links() if text == "Download these figures (CSV)"]
        assert link == ["/dashboard.csv"]
        answer = await http.get(link[0])
    assert answer.status_code == 200
    assert 'filename="dashboard-2026-06-10.csv"' in answer.headers["content-disposition"]
    rows = {r["figure"]: r for r in csv_rows(answer)}
    assert (rows["open_cases"]["value"], rows["open_cases"]["filter"]) == ("10", "status=open")
    assert rows["open_by_stage.la_investigation"]["value"] == "6"
    assert (rows["overdue_tasks"]["value"], rows["overdue_tasks"]["cases"]) == ("2", "2")
    assert rows["time_to_sat_referral.this_term"]["value"] == "12.0"
    assert rows["time_to_location.last_term"]["value"] == "16.5"
    assert rows["referrals_per_week.2026-06-08"]["value"] == "2"


async def test_mash_sees_the_child_protection_cases_only(
    app: FastAPI, sqlite_engine: Engine
) -> None:
    async with signed_in(app, sqlite_engine, "mash") as http:
        answer = await http.get("/dashboard")
        assert answer.status_code == 200
        board = page(answer.text)
        assert "You see the child-protection cases only" in board.visible_text
        figures = _figures(board, "open-and-overdue")
        assert figures["Open cases"][0] == "3"  # U3, U4, U5
        assert sorted(await _listed(http, figures["Open cases"][1])) == sorted(
            [REFS["U3"], REFS["U4"], REFS["U5"]]
        )
        rows = {r["figure"]: r["value"] for r in csv_rows(await http.get("/dashboard.csv"))}
        assert rows["open_cases"] == "3"


@pytest.mark.parametrize("who", ["officer", "team_leader"])
async def test_officers_and_team_leaders_open_it(
    app: FastAPI, sqlite_engine: Engine, who: str
) -> None:
    async with signed_in(app, sqlite_engine, who) as http:
        answer = await http.get("/dashboard")
        home = await http.get("/")
    assert answer.status_code == 200
    assert _figures(page(answer.text), "open-and-overdue")["Open cases"][0] == "10"
    assert ("Dashboard", "/dashboard") in page(home.text).links()


@pytest.mark.parametrize(
    ("who", "words"),
    [
        ("admin", "You are signed in as an administrator."),
        ("school_a", "You are signed in as a school user."),
    ],
)
async def test_a_school_user_and_an_administrator_are_refused(
    app: FastAPI, sqlite_engine: Engine, who: str, words: str
) -> None:
    async with signed_in(app, sqlite_engine, who) as http:
        for path in ("/dashboard", "/dashboard.csv"):
            answer = await http.get(path)
            assert answer.status_code == 403, path
            assert words in answer.text
            assert "8512000" not in answer.text
        home = await http.get("/")
    assert "/dashboard" not in home.text


async def test_a_visitor_is_sent_to_sign_in(app: FastAPI) -> None:
    async with browser(app) as http:
        answer = await http.get("/dashboard.csv")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/sign-in?next=/dashboard.csv"


async def test_an_unreadable_calendar_is_the_unavailable_page(
    make_app: Callable[..., FastAPI], sqlite_engine: Engine, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("la_code = [", encoding="utf-8")
    app = make_app(calendar_file=broken)
    async with signed_in(app, sqlite_engine, "manager") as http:
        answer = await http.get("/dashboard")
    assert answer.status_code == 503
    assert "Sorry, the service is unavailable" in answer.text
    assert re.search(r"broken\.toml|la_code", answer.text) is None
