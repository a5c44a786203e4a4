"""The DfE's termly CME figures from the scenario's register, for a summer census on Thu 21 May
2026 (the summer term began Mon 13 Apr):

* on no roll and open at the census: N2 (since Thu 26 Feb: 84 days; Year 4) and N3 (since Mon
  11 May: 10 days; Year 8); U4 and U5 came in June;
* at any point since 1 Sep 2025: N1, N2, N3, N4;
* became CME in the term: N3, N4; stopped: N1 (placed on roll), N4 (not located);
* on roll, under enquiry at the census (not CME): S2 and U1 (S3 and U2 were concluded before).
"""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from sqlmodel import Session

from reports import DfeReturnPublic, NotPermitted, dfe_cme_return, dfe_cme_return_csv
from reports.dfe import length_band, year_group
from tests.domain.case.support import CALENDAR
from tests.reports.scenario import MANAGER, MASH, SCHOOL_A_USER

CENSUS = date(2026, 5, 21)


def summer_return(session: Session) -> DfeReturnPublic:
    return dfe_cme_return(
        session=session,
        viewer=MANAGER,
        census_date=CENSUS,
        calendar=CALENDAR,
        new_la_code="E06000044",
    )


def test_cme_at_the_census_date_by_year_group_and_length_of_time(session: Session) -> None:
    r = summer_return(session)
    assert (r.time_period, r.time_identifier, r.la_code, r.la_name) == (
        "202526",
        "Summer term",
        "851",
        "Testshire",
    )
    assert r.period_start == date(2026, 4, 13)
    assert r.figure("cme_census") == 2
    years = {f.breakdown: f.child_count for f in r.figures if f.breakdown_topic == "Year group"}
    assert {k: v for k, v in years.items() if v} == {"Year 4": 1, "Year 8": 1}
    assert len(years) == 13  # Reception, Years 1 to 11, unknown: every row, zeros included
    lengths = {
        f.breakdown: f.child_count
        for f in r.figures
        if f.breakdown_topic == "Length of time missing education"
    }
    assert lengths == {
        "Less than 4 weeks": 1,
        "4 weeks to less than 12 weeks": 0,
        "12 weeks to less than 26 weeks": 1,
        "26 weeks or more": 0,
    }


def test_children_becoming_and_stopping_being_cme(session: Session) -> None:
    r = summer_return(session)
    assert r.figure("cme_any_point") == 4
    assert r.figure("became_cme") == 2
    assert r.figure("ceased_cme") == 2
    assert r.figure("ceased_cme", "Registered at a school") == 1
    assert r.figure("ceased_cme", "Whereabouts not found (not located)") == 1
    assert r.figure("ceased_cme", "Elective home education") == 0


def test_context_the_dfe_does_not_count(session: Session) -> None:
    r = summer_return(session)
    context = {f.measure: f for f in r.figures if not f.in_collection}
    assert context["context_on_roll"].child_count == 2
    assert "not CME while registered" in context["context_on_roll"].note
    assert context["context_deleted_not_located"].child_count == 0
    assert context["context_ehe"].child_count == 0


def test_the_spring_census_counts_what_was_open_then(session: Session) -> None:
    r = dfe_cme_return(
        session=session, viewer=MANAGER, census_date=date(2026, 3, 12), calendar=CALENDAR
    )
    assert r.time_identifier == "Spring term"
    assert r.figure("cme_census") == 2  # N1 (since Mon 2 Mar) and N2 (since Thu 26 Feb)
    assert r.figure("became_cme") == 2
    assert r.figure("ceased_cme") == 0
    assert r.figure("context_on_roll") == 1  # S2; S3 was concluded on Mon 9 Mar
    before = dfe_cme_return(
        session=session, viewer=MANAGER, census_date=date(2026, 3, 5), calendar=CALENDAR
    )
    assert before.figure("context_on_roll") == 2  # S2, and S3 still under investigation


def test_the_csv_has_the_published_datas_columns_and_the_dfes_items_only(session: Session) -> None:
    text = dfe_cme_return_csv(summer_return(session))
    rows = list(csv.DictReader(io.StringIO(text)))
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
    assert {
        k: first[k] for k in ("time_period", "time_identifier", "old_la_code", "new_la_code")
    } == {
        "time_period": "202526",
        "time_identifier": "Summer term",
        "old_la_code": "851",
        "new_la_code": "E06000044",
    }
    assert (
        first["measure"],
        first["breakdown_topic"],
        first["breakdown"],
        first["child_count"],
    ) == (
        "CME on census date",
        "Total",
        "Total",
        "2",
    )
    assert any(
        (r["breakdown_topic"], r["breakdown"], r["child_count"]) == ("Year group", "Year 8", "1")
        for r in rows
    )
    assert len(rows) == 1 + 13 + 4 + 1 + 1 + 1 + 5
    assert "context" not in text and "Testchild" not in text


@pytest.mark.parametrize("viewer", [SCHOOL_A_USER, MASH], ids=lambda a: a.role.value)
def test_the_return_is_the_las(session: Session, viewer: object) -> None:
    with pytest.raises(NotPermitted, match="the DfE return is the LA's"):
        dfe_cme_return(session=session, viewer=viewer, census_date=CENSUS, calendar=CALENDAR)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("born", "on", "group"),
    [
        (date(2013, 11, 2), date(2026, 5, 21), "Year 7"),
        (date(2017, 4, 21), date(2026, 5, 21), "Year 4"),
        (date(2017, 9, 1), date(2026, 5, 21), "Year 3"),  # born 1 Sep: the younger cohort
        (date(2017, 8, 31), date(2026, 5, 21), "Year 4"),
        (date(2021, 8, 31), date(2025, 10, 2), "Reception"),
        (date(2009, 9, 1), date(2025, 10, 2), "Year 11"),
        (date(2009, 8, 31), date(2025, 10, 2), "Year group unknown"),  # past Year 11
        (None, date(2025, 10, 2), "Year group unknown"),  # erased
    ],
)
def test_year_groups(born: date | None, on: date, group: str) -> None:
    assert year_group(born, on) == group


def test_length_bands() -> None:
    assert [length_band(d) for d in (0, 27, 28, 83, 84, 181, 182, 900)] == [
        "Less than 4 weeks",
        "Less than 4 weeks",
        "4 weeks to less than 12 weeks",
        "4 weeks to less than 12 weeks",
        "12 weeks to less than 26 weeks",
        "12 weeks to less than 26 weeks",
        "26 weeks or more",
        "26 weeks or more",
    ]
