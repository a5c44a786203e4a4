"""Who sees which cases: the queries apply the rule of domain.case.rules.can_view, on real case
states, for every kind of signed-in person."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from domain.case.model import Actor, Role
from domain.case.rules import can_view, case_schools
from domain.case.state import CaseState
from reports import CaseFilter, list_cases
from tests.reports.scenario import (
    ADMIN,
    MANAGER,
    MASH,
    OFFICER,
    PROFESSIONAL,
    REFS,
    SCHOOL_A,
    SCHOOL_A_USER,
    SCHOOL_B,
    SCHOOL_B_USER,
    TAG,
    TEAM_LEADER,
)

BOTH_SCHOOLS = Actor(name="Trust Lead", role=Role.SCHOOL, schools=(SCHOOL_A, SCHOOL_B))
NO_SCHOOL = Actor(name="Nobody Assigned", role=Role.SCHOOL, schools=())
VIEWERS = [
    SCHOOL_A_USER,
    SCHOOL_B_USER,
    BOTH_SCHOOLS,
    NO_SCHOOL,
    OFFICER,
    TEAM_LEADER,
    MANAGER,
    MASH,
    ADMIN,
    PROFESSIONAL,
]


def seen(session: Session, viewer: Actor, case_filter: CaseFilter | None = None) -> set[str]:
    return {
        TAG[c.case_ref] for c in list_cases(session=session, viewer=viewer, case_filter=case_filter)
    }


@pytest.mark.parametrize("viewer", VIEWERS, ids=lambda a: f"{a.role.value}-{len(a.schools)}")
def test_the_list_holds_exactly_the_cases_can_view_allows(
    session: Session, states: dict[str, CaseState], viewer: Actor
) -> None:
    allowed = {
        tag
        for tag, state in states.items()
        if can_view(viewer, schools=case_schools(state), child_protection=state.child_protection)
    }
    assert seen(session, viewer) == allowed


def test_a_school_sees_its_own_cases_and_the_child_on_no_roll_its_staff_referred(
    session: Session,
) -> None:
    assert seen(session, SCHOOL_A_USER) == {"S1", "S2", "S3", "U2", "U3", "U6"}
    # U5 is a professional's form sent by school B's user: a child on no roll, no school of its
    # own, and still on school B's list.
    assert seen(session, SCHOOL_B_USER) == {"U1", "U5"}
    assert seen(session, BOTH_SCHOOLS) == seen(session, SCHOOL_A_USER) | {"U1", "U5"}


def test_a_school_asking_for_another_schools_cases_gets_none(session: Session) -> None:
    assert seen(session, SCHOOL_A_USER, CaseFilter(school=SCHOOL_B)) == set()
    assert seen(session, SCHOOL_A_USER, CaseFilter(no_school=True)) == set()
    assert seen(session, MANAGER, CaseFilter(school=SCHOOL_B)) == {"U1", "U5"}


def test_mash_reads_child_protection_cases_only(session: Session) -> None:
    assert seen(session, MASH) == {"U3", "U4", "U5"}


def test_everyone_else_sees_nothing(session: Session) -> None:
    for viewer in (ADMIN, PROFESSIONAL, NO_SCHOOL):
        assert seen(session, viewer) == set()
    assert seen(session, OFFICER) == seen(session, MANAGER) == set(REFS)
