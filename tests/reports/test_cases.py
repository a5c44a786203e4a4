"""The case list: filters, pages, the CSV export, and a filter read from a query string."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from activities.register import erase_personal_data
from domain.case.model import CaseKind, Stage
from reports import BadFilter, CaseFilter, Status, case_page, cases_csv, list_cases
from reports._words import csv_text
from tests.reports.scenario import MANAGER, REFS, SCHOOL_A_USER, SCHOOL_B, TAG


def tags(session: Session, case_filter: CaseFilter) -> list[str]:
    return [
        TAG[c.case_ref]
        for c in list_cases(session=session, viewer=MANAGER, case_filter=case_filter)
    ]


def test_filters_narrow_the_list(session: Session) -> None:
    at_la = CaseFilter(status=Status.OPEN, stage=Stage.LA_INVESTIGATION)
    assert tags(session, at_la) == ["S2", "N2", "U1", "N3", "U5", "U4"]  # the longest-open first
    assert tags(session, at_la.with_(school=SCHOOL_B)) == ["U1", "U5"]
    assert tags(session, at_la.with_(no_school=True)) == ["N2", "N3", "U4"]
    assert tags(session, CaseFilter(status=Status.CLOSED)) == ["S1", "N1", "N4"]
    assert tags(session, CaseFilter(kind=CaseKind.NOT_ON_ROLL, status=Status.OPEN)) == [
        "N2",
        "N3",
        "U5",
        "U4",
    ]
    assert tags(session, CaseFilter(child_protection=True, overdue=True)) == ["U3", "U5"]
    assert tags(session, CaseFilter(mash_call_pending=True)) == ["U3", "U5"]
    assert tags(session, CaseFilter(opened_from=date(2026, 6, 1), opened_to=date(2026, 6, 7))) == [
        "U3",
        "U5",
    ]
    # The SAT referral of S1 was at midnight starting Sat 14 Feb (London): that day, not Friday.
    assert tags(
        session, CaseFilter(sat_referred_from=date(2026, 2, 14), sat_referred_to=date(2026, 2, 14))
    ) == ["S1"]
    assert tags(
        session, CaseFilter(located_from=date(2026, 5, 1), located_to=date(2026, 5, 31))
    ) == ["U2"]


def test_pages(session: Session) -> None:
    everything = list_cases(session=session, viewer=MANAGER)
    assert len(everything) == len(REFS) == 13
    pages = [
        case_page(session=session, viewer=MANAGER, page=n, page_size=4) for n in (1, 2, 3, 4, 5)
    ]
    assert [p.total for p in pages] == [13] * 5
    assert pages[0].pages == 4
    assert [len(p.items) for p in pages] == [4, 4, 4, 1, 0]
    assert [i for p in pages for i in p.items] == everything
    assert TAG[pages[0].items[0].case_ref] == "S1"  # opened Wed 4 Feb, the oldest
    with pytest.raises(ValueError, match="page_size: 1 to 200"):
        case_page(session=session, viewer=MANAGER, page_size=500)
    with pytest.raises(ValueError, match="page: pages are numbered from 1"):
        case_page(session=session, viewer=MANAGER, page=0)


def test_a_school_users_page_counts_only_its_cases(session: Session) -> None:
    page = case_page(
        session=session, viewer=SCHOOL_A_USER, case_filter=CaseFilter(status=Status.OPEN)
    )
    assert page.total == 5
    assert sorted(TAG[i.case_ref] for i in page.items) == ["S2", "S3", "U2", "U3", "U6"]
    item = next(i for i in page.items if TAG[i.case_ref] == "U3")
    assert (item.child_name, item.stage_label, item.schools) == (
        "Testchild Synthetic-Fir",
        "School enquiries",
        ("8512000",),
    )


def _rows(text: str) -> list[dict[str, str]]:
    assert text.endswith("\r\n")
    return list(csv.DictReader(io.StringIO(text)))


def test_the_csv_has_a_row_per_case_and_no_names_unless_asked(session: Session) -> None:
    text = cases_csv(session=session, viewer=MANAGER, case_filter=CaseFilter(status=Status.OPEN))
    rows = _rows(text)
    assert len(rows) == 10
    assert "Testchild" not in text and "Synthetic" not in text
    u3 = next(r for r in rows if r["case_ref"] == REFS["U3"])
    assert {
        k: u3[k]
        for k in (
            "stage",
            "school",
            "child_protection",
            "overdue",
            "mash_call_pending",
            "opened_on",
        )
    } == {
        "stage": "school_enquiries",
        "school": "8512000",
        "child_protection": "yes",
        "overdue": "yes",
        "mash_call_pending": "yes",
        "opened_on": "2026-06-01",
    }
    u5 = next(r for r in rows if r["case_ref"] == REFS["U5"])
    assert (u5["school"], u5["schools"]) == ("", SCHOOL_B)

    named = _rows(cases_csv(session=session, viewer=SCHOOL_A_USER, include_names=True))
    assert [(r["first_name"], r["last_name"]) for r in named][:2] == [
        ("Testchild", "Synthetic-Alder"),
        ("Testchild", "Synthetic-Birch"),
    ]
    assert {r["school"] for r in named} == {"8512000"}


def test_an_erased_case_stays_in_the_counts_without_its_name(register: Engine) -> None:
    with Session(register) as session:
        erase_personal_data(session=session, case=REFS["S1"])
        [s1] = [c for c in list_cases(session=session, viewer=MANAGER) if TAG[c.case_ref] == "S1"]
        assert (s1.first_name, s1.last_name, s1.child_name) == (None, None, "(erased)")
        assert (s1.stage, s1.located_on) == ("closed", date(2026, 2, 25))


def test_a_cell_a_spreadsheet_would_run_is_defused() -> None:
    text = csv_text(["name", "n"], [['=HYPERLINK("http://x")', -1], ["@sum", 2], ["plain", 3]])
    assert _rows(text) == [
        {"name": '\'=HYPERLINK("http://x")', "n": "-1"},
        {"name": "'@sum", "n": "2"},
        {"name": "plain", "n": "3"},
    ]


def test_a_filter_goes_through_a_query_string_and_back() -> None:
    case_filter = CaseFilter(
        status=Status.OPEN,
        stage=Stage.LA_INVESTIGATION,
        school="8512001",
        overdue=False,
        opened_from=date(2026, 6, 1),
    )
    query = case_filter.to_query()
    assert query == {
        "status": "open",
        "stage": "la_investigation",
        "school": "8512001",
        "overdue": "false",
        "opened_from": "2026-06-01",
    }
    assert CaseFilter.from_query(query) == case_filter
    assert CaseFilter.from_query({**query, "page": "2", "page_size": "50"}) == case_filter
    assert CaseFilter.from_query({}) == CaseFilter()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"stage": "lost"}, "stage: not one of 'school_enquiries', "),
        ({"colour": "red"}, "colour: not a case-list filter; use one of status, stage"),
        ({"school": "85120"}, "school: "),
        ({"overdue": "perhaps"}, "overdue: true or false"),
        ({"opened_from": "10/06/2026"}, "opened_from: a date is written YYYY-MM-DD"),
        (
            {"opened_from": "2026-06-10", "opened_to": "2026-06-01"},
            "opened_from: 2026-06-10 is after opened_to 2026-06-01",
        ),
        ({"school": "8512000", "no_school": "true"}, "school: a case list is of one school"),
    ],
)
def test_a_query_that_cannot_be_read_is_refused_by_name(
    query: dict[str, str], message: str
) -> None:
    with pytest.raises(BadFilter) as refused:
        CaseFilter.from_query(query)
    assert str(refused.value).startswith(message)
