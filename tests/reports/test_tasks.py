"""My tasks: each person's open tasks, overdue first, then by due date, undated last; a school
never sees another school's; MASH and managers have none to act on."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session

from domain.case.model import Actor
from reports import TaskItemPublic, open_tasks
from tests.reports.scenario import (
    ADMIN,
    MANAGER,
    MASH,
    OFFICER,
    SCHOOL_A_USER,
    SCHOOL_B_USER,
    TAG,
    TEAM_LEADER,
)


def listed(session: Session, viewer: Actor) -> list[tuple[str, str]]:
    return [(TAG[t.case_ref], t.task) for t in open_tasks(session=session, viewer=viewer)]


def test_the_officer_sees_the_overdue_mash_call_first_then_the_oldest_tasks(
    session: Session,
) -> None:
    assert listed(session, OFFICER) == [
        ("U5", "phone_mash"),  # due Wed 3 Jun, not recorded: overdue
        ("N2", "investigate"),  # no due date: oldest first
        ("S2", "investigate"),
        ("S3", "authorise_deletion"),
        ("U1", "investigate"),
        ("U2", "authorise_deletion"),
        ("N3", "investigate"),
        ("U5", "investigate"),
        ("U4", "investigate"),
        ("U6", "authorise_deletion"),
    ]
    first = open_tasks(session=session, viewer=OFFICER)[0]
    assert (first.overdue, first.due, first.escalated) == (True, date(2026, 6, 3), False)
    assert first.child_name == "Testchild Synthetic-Hazel"
    assert (first.task_label, first.stage_label) == ("Phone MASH", "LA investigation")
    assert first.school is None and first.child_protection


def test_a_school_sees_only_its_own_schools_tasks(session: Session) -> None:
    tasks = open_tasks(session=session, viewer=SCHOOL_A_USER)
    assert [(TAG[t.case_ref], t.task, t.due, t.overdue) for t in tasks] == [
        ("U3", "phone_mash", date(2026, 6, 2), True),
        ("U6", "send_ctf", date(2026, 6, 29), False),
        ("S2", "confirm_register_codes", None, False),
        ("U3", "school_enquiries", None, False),
    ]
    assert {t.school for t in tasks} == {"8512000"}
    assert [t.child_name for t in tasks][:2] == [
        "Testchild Synthetic-Fir",
        "Testchild Synthetic-Ivy",
    ]
    # School B's pupil's register codes are school B's alone.
    assert listed(session, SCHOOL_B_USER) == [("U1", "confirm_register_codes")]


def test_the_team_leader_sees_the_escalated_overdue_tasks(session: Session) -> None:
    tasks = open_tasks(session=session, viewer=TEAM_LEADER)
    assert [(TAG[t.case_ref], t.task, t.assignee, t.escalated) for t in tasks] == [
        ("U3", "phone_mash", "school", True),
        ("U5", "phone_mash", "cme_officer", True),
    ]


def test_readers_have_no_tasks(session: Session) -> None:
    for viewer in (MASH, MANAGER, ADMIN):
        assert open_tasks(session=session, viewer=viewer) == []


def test_a_closed_case_has_no_open_tasks(session: Session) -> None:
    every: list[TaskItemPublic] = []
    for viewer in (OFFICER, SCHOOL_A_USER, SCHOOL_B_USER, TEAM_LEADER):
        every += open_tasks(session=session, viewer=viewer)
    assert not {TAG[t.case_ref] for t in every} & {"S1", "N1", "N4"}
