"""What the register holds for the reports, written by upsert_case from real case states: the
schools whose users may see each episode, and the moments the dashboard measures."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from activities.register import CaseRow, CaseSchoolRow, get_case, upsert_case
from domain.case.commands import RecordMashCall
from domain.case.state import CaseState
from tests.domain.case.support import at
from tests.reports.scenario import REFS, SCHOOL_A, SCHOOL_A_USER, TAG, Driven, school_referral


def schools(session: Session) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for row in session.exec(select(CaseSchoolRow).order_by(col(CaseSchoolRow.laestab))):
        found.setdefault(TAG[row.case_ref], []).append(row.laestab)
    return found


def test_the_schools_of_each_case(session: Session) -> None:
    assert schools(session) == {
        "S1": ["8512000"],
        "S2": ["8512000"],
        "S3": ["8512000"],
        "U1": ["8512001"],
        "U2": ["8512000"],
        "U3": ["8512000"],
        "U5": ["8512001"],  # a child on no roll, referred by school B's user
        "U6": ["8512000"],
    }


def test_the_moments_the_dashboard_measures(session: Session) -> None:
    def case(tag: str) -> CaseRow:
        row = session.get(CaseRow, (REFS[tag], 1))
        assert row is not None
        return row

    def utc(row_value: datetime | None) -> datetime | None:
        return row_value.replace(tzinfo=UTC) if row_value and not row_value.tzinfo else row_value

    s1 = case("S1")  # referred to SAT at the end of school day 10 (Fri 13 Feb), back on Wed 25 Feb
    assert utc(s1.sat_referred_at) == at(date(2026, 2, 14), 0).astimezone(UTC)
    assert (s1.located_on, s1.concluded_at) == (date(2026, 2, 25), None)
    s3 = case("S3")  # referred late: to SAT when it opened; on roll elsewhere (Mon 9 Mar)
    assert utc(s3.sat_referred_at) == at(date(2026, 3, 3)).astimezone(UTC)
    assert utc(s3.concluded_at) == at(date(2026, 3, 9)).astimezone(UTC)
    assert s3.located_on == date(2026, 3, 9)
    n4 = case("N4")  # not located: concluded, never located
    assert (n4.located_on, n4.concluded_at is not None) == (None, True)
    u4 = case("U4")  # a child on no roll goes to SAT when the case opens
    assert utc(u4.sat_referred_at) == utc(u4.opened_at)
    assert (u4.mash_call_pending, u4.mash_called_on) == (False, date(2026, 6, 9))
    u3 = case("U3")
    assert (u3.mash_call_pending, u3.mash_called_on, u3.sat_referred_at) == (True, None, None)
    assert case("U6").sat_referred_at is None  # a verified return never goes to SAT


def test_each_sync_follows_the_case(register_engine: Engine) -> None:
    """Synced after every step, as the workflow does: the MASH call is pending, then confirmed;
    the same state twice changes nothing."""
    case = Driven.open(
        "U3",
        school_referral(
            "U3",
            school=SCHOOL_A,
            day1=date(2026, 6, 1),
            referred=date(2026, 6, 1),
            cp=True,
            serial=6,
        ),
        SCHOOL_A_USER,
        at(date(2026, 6, 1)),
    )
    with Session(register_engine) as session:
        upsert_case(session=session, state=case.state)
        first = get_case(session=session, case=REFS["U3"])
        assert first is not None and first.mash_call_pending and first.mash_called_on is None

        case.do(
            RecordMashCall(by=SCHOOL_A_USER, request_id=case.rid(), called_on=date(2026, 6, 1)),
            at(date(2026, 6, 1), 15),
        )
        synced = upsert_case(session=session, state=case.state)
        assert synced.changed
        called = get_case(session=session, case=REFS["U3"])
        assert called is not None
        assert (called.mash_call_pending, called.mash_called_on) == (False, date(2026, 6, 1))
        assert schools(session) == {"U3": ["8512000"]}

        again: CaseState = case.state.model_copy(deep=True)
        assert not upsert_case(session=session, state=again).changed
        assert schools(session) == {"U3": ["8512000"]}
