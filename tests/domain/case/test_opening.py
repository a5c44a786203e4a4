"""Opening a case from each kind of referral: its first stage, tasks and deadlines (dates counted by
hand on the tests' calendar, see :mod:`tests.domain.case.support`), and the MASH escalation of a
child-protection case at intake."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

from domain.case import SERVICE, Outcome, next_wakeup
from domain.case import events as ev
from domain.case import notifications as n
from domain.case.model import (
    Actor,
    CaseKind,
    Deadlines,
    EscalationKind,
    Role,
    Stage,
    TaskName,
    TaskStatus,
)
from domain.case.notifications import Recipient
from domain.case.state import NotificationStatus
from domain.intake import SchoolCMEReferral

from .support import (
    CALENDAR,
    CASE,
    DAY1,
    LEFT,
    PROFESSIONAL,
    PROFESSIONAL_REFERRED,
    RETURN_FILED,
    SCHOOL,
    SCHOOL_OFFICE,
    Case,
    at,
    effect_types,
    event,
    events,
    kinds,
    midnight_after,
    migration_return,
    missing_pupil,
    not_on_roll,
    notification,
    school_referral,
    verified,
)


def tasks(case: Case) -> list[tuple[TaskName, Role, date | None]]:
    return [(t.name, t.assignee, t.due) for t in case.state.open_tasks()]


def deadlines_set(outcome: Outcome) -> dict[str, date]:
    return {e.deadline: e.due for e in events(outcome, ev.DeadlineSet)}


# -- a school's CME referral (destination not verified) --------------------------------------------


def test_a_missing_pupil_starts_with_the_schools_enquiries_and_day_10_and_day_20_counted() -> None:
    case, opened = missing_pupil()

    state = case.state
    assert state.case == CASE
    assert state.kind is CaseKind.DESTINATION_NOT_VERIFIED
    assert state.stage is Stage.SCHOOL_ENQUIRIES
    assert state.school_laestab == SCHOOL
    assert state.day1 == date(2026, 2, 2)
    # Day 10: 2-6 Feb are days 1-5, 9-13 Feb days 6-10.
    # Day 20: half term 16-20 Feb, 23-27 Feb days 11-15, Mon 2 Mar is the school's INSET day,
    # 3-6 Mar days 16-19, Mon 9 Mar day 20; deletion permitted from the school day after.
    assert state.deadlines == Deadlines(
        sat_referral=date(2026, 2, 13),
        threshold_day=date(2026, 3, 9),
        deletion_permitted_from=date(2026, 3, 10),
    )
    assert tasks(case) == [(TaskName.SCHOOL_ENQUIRIES, Role.SCHOOL, None)]
    assert [e.enquiry.kind.value for e in state.enquiries] == ["phone_primary", "letter"]
    assert all(e.recorded_by == SCHOOL_OFFICE for e in state.enquiries)
    assert state.escalations == []
    assert state.notifications == []
    assert state.problems == []
    assert not state.child_protection

    opening = event(opened, ev.CaseOpened)
    assert opening.by == SCHOOL_OFFICE
    assert (opening.kind, opening.stage, opening.episode, opening.form, opening.repeat) == (
        CaseKind.DESTINATION_NOT_VERIFIED,
        Stage.SCHOOL_ENQUIRIES,
        1,
        "school_cme_referral",
        False,
    )
    assert [e.by for e in events(opened, ev.EnquiryRecorded)] == [SCHOOL_OFFICE] * 2
    assert event(opened, ev.TaskOpened).by == SERVICE
    assert deadlines_set(opened) == {
        "sat_referral": date(2026, 2, 13),
        "threshold_day": date(2026, 3, 9),
        "deletion_permitted_from": date(2026, 3, 10),
    }
    assert all(e.by == SERVICE for e in events(opened, ev.DeadlineSet))
    assert [e.seq for e in opened.events] == list(range(1, len(opened.events) + 1))

    assert opened.result is not None
    assert opened.result.stage is Stage.SCHOOL_ENQUIRIES
    assert (opened.result.episode, opened.result.existing, opened.result.duplicate_request) == (
        1,
        False,
        False,
    )
    assert effect_types(opened) == ["sync_register"]
    # The SAT referral is the next thing the case does on its own: at the end of day 10.
    assert case.wakeup() == midnight_after(date(2026, 2, 13))


def test_absence_after_leave_counts_10_school_days_from_the_first_school_day_after_the_leave() -> (
    None
):
    # Leave ended Fri 6 Feb: day 1 is Mon 9 Feb. 9-13 Feb are days 1-5, half term, 23-27 Feb days
    # 6-10: day 10 (the SAT referral and the after-leave threshold) is Fri 27 Feb. The school day
    # after it is Mon 2 Mar, the school's INSET day, so deletion is permitted from Tue 3 Mar.
    referral = school_referral(referral_date=date(2026, 2, 23), leave_end=date(2026, 2, 6))
    case, _ = Case.open(referral, SCHOOL_OFFICE, now=at(date(2026, 2, 23)), calendar=CALENDAR)

    assert case.state.day1 == date(2026, 2, 9)
    assert case.state.deadlines == Deadlines(
        sat_referral=date(2026, 2, 27),
        threshold_day=date(2026, 2, 27),
        deletion_permitted_from=date(2026, 3, 3),
    )


# -- a Pupil Migration LA Return (destination verified) --------------------------------------------


def test_a_migration_return_awaits_the_ctf_within_15_school_days_and_the_authorisation() -> None:
    case, opened = verified()

    state = case.state
    assert state.kind is CaseKind.DESTINATION_VERIFIED
    assert state.stage is Stage.AWAITING_CTF
    # 15 school days from the deletion, the return's date Mon 9 Feb (Pupil Information
    # Regulations 2005 reg 9(3)), not from the leaving date Fri 6 Feb: 10-13 Feb (1-4), half
    # term, 23-27 Feb (5-9), INSET Mon 2 Mar, 3-6 Mar (10-13), Mon 9 Mar (14), Tue 10 Mar (15).
    assert state.deadlines == Deadlines(ctf=date(2026, 3, 10))
    assert tasks(case) == [
        (TaskName.SEND_CTF, Role.SCHOOL, date(2026, 3, 10)),
        (TaskName.AUTHORISE_DELETION, Role.CME_OFFICER, None),
    ]
    assert state.enquiries == []
    assert state.notifications == []
    opening = event(opened, ev.CaseOpened)
    assert (opening.by, opening.kind, opening.stage, opening.form) == (
        SCHOOL_OFFICE,
        CaseKind.DESTINATION_VERIFIED,
        Stage.AWAITING_CTF,
        "pupil_migration_return",
    )
    assert deadlines_set(opened) == {"ctf": date(2026, 3, 10)}
    assert opened.result is not None and opened.result.stage is Stage.AWAITING_CTF
    # Nothing happens on its own before the CTF is overdue: the end of Tue 10 Mar.
    assert case.wakeup() == midnight_after(date(2026, 3, 10))
    assert state.opened_at == at(RETURN_FILED)


def test_a_returns_ctf_is_due_15_school_days_from_the_returns_date_not_the_leaving_date() -> None:
    # Left Fri 6 Feb, the return (the deletion) only on Mon 23 Feb. From the deletion: 24-27 Feb
    # (1-4), INSET Mon 2 Mar, 3-6 Mar (5-8), 9-13 Mar (9-13), Mon 16 Mar (14), Tue 17 Mar (15).
    # (From the leaving date it would have been Mon 9 Mar.)
    referral = migration_return(leaving_date=LEFT, referral_date=date(2026, 2, 23))
    case, opened = Case.open(referral, SCHOOL_OFFICE, now=at(date(2026, 2, 23)), calendar=CALENDAR)

    assert case.state.deadlines.ctf == date(2026, 3, 17)
    assert case.state.open_tasks(TaskName.SEND_CTF)[0].due == date(2026, 3, 17)
    assert deadlines_set(opened) == {"ctf": date(2026, 3, 17)}
    assert case.wakeup() == midnight_after(date(2026, 3, 17))


# -- a professional's referral (not on roll) -------------------------------------------------------


def test_a_professional_referral_goes_straight_to_the_cme_officer_and_tells_the_sat() -> None:
    case, opened = not_on_roll()

    state = case.state
    assert state.kind is CaseKind.NOT_ON_ROLL
    assert state.stage is Stage.LA_INVESTIGATION
    assert state.school_laestab is None
    assert state.deadlines == Deadlines()
    assert tasks(case) == [(TaskName.INVESTIGATE, Role.CME_OFFICER, None)]
    assert event(opened, ev.CaseOpened).by == PROFESSIONAL

    assert kinds(opened) == ["not_on_roll_referral"]
    sent = notification(opened, n.NotOnRollReferral)
    assert sent.to == [Recipient.SAT]
    assert sent.purpose == "not_on_roll_referral"
    assert sent.case == CASE
    assert sent.case_kind is CaseKind.NOT_ON_ROLL
    assert sent.referrer == n.ReferrerDetails(
        name="Chris Demo",
        organisation="Example Health Visiting Service",
        role="Health visitor",
        phone="01632 960456",
        email="chris.demo@example.org",
    )
    assert sent.where_seen.startswith("At a health visitor appointment")
    assert sent.how_known_not_on_roll.startswith("Mother said the family arrived")
    assert sent.spoke_to_parents is True
    assert sent.notes == "Mother had not applied for a school place and did not know how to"
    assert sent.child is not None
    assert (sent.child.first_name, sent.child.last_name) == ("Maya", "Placeholder")
    assert sent.child.address_kind == "address"
    assert [c.name for c in sent.child.contacts] == ["Sofia Placeholder", "Daniel Placeholder"]
    queued_event = event(opened, ev.NotificationQueued)
    assert (queued_event.by, queued_event.kind, queued_event.to) == (
        SERVICE,
        "not_on_roll_referral",
        ["sat"],
    )
    assert state.notifications[0].status is NotificationStatus.QUEUED
    assert effect_types(opened) == ["send_notification", "sync_register"]
    # No deadline: the case waits for the officer.
    assert next_wakeup(state) is None
    assert state.opened_at == at(PROFESSIONAL_REFERRED)


# -- child protection at intake --------------------------------------------------------------------


def _school_cp() -> tuple[Case, Outcome]:
    # Opened on Fri 13 Feb, the last day before half term: the next school day is Mon 23 Feb.
    return missing_pupil(opened=date(2026, 2, 13), cp=True)


def _school_safeguarding() -> tuple[Case, Outcome]:
    return missing_pupil(opened=date(2026, 2, 13), safeguarding=True)


def _return_cp() -> tuple[Case, Outcome]:
    # Opened on Mon 9 Feb: the next school day is Tue 10 Feb.
    return verified(cp=True)


def _professional_safeguarding() -> tuple[Case, Outcome]:
    # Opened on Thu 26 Feb: the next school day is Fri 27 Feb.
    return not_on_roll(safeguarding=True)


@pytest.mark.parametrize(
    ("open_", "referrer", "reason", "mash_call_due", "caller", "plan", "concern"),
    [
        pytest.param(
            _school_cp,
            SCHOOL_OFFICE,
            "the child is subject to a Child Protection Plan",
            date(2026, 2, 23),
            Role.SCHOOL,
            True,
            None,
            id="school referral, plan, across half term",
        ),
        pytest.param(
            _school_safeguarding,
            SCHOOL_OFFICE,
            "the referrer raised a safeguarding concern",
            date(2026, 2, 23),
            Role.SCHOOL,
            False,
            None,
            id="school referral, concern",
        ),
        pytest.param(
            _return_cp,
            SCHOOL_OFFICE,
            "the child is subject to a Child Protection Plan",
            date(2026, 2, 10),
            Role.SCHOOL,
            True,
            None,
            id="migration return, plan",
        ),
        pytest.param(
            _professional_safeguarding,
            PROFESSIONAL,
            "the referrer raised a safeguarding concern",
            date(2026, 2, 27),
            Role.CME_OFFICER,
            False,
            "Mother had not applied for a school place and did not know how to",
            id="professional referral, concern",
        ),
    ],
)
def test_child_protection_at_intake_tells_mash_and_sat_and_asks_for_a_call_by_the_next_school_day(
    open_: Callable[[], tuple[Case, Outcome]],
    referrer: Actor,
    reason: str,
    mash_call_due: date,
    caller: Role,
    plan: bool,
    concern: str | None,
) -> None:
    case, opened = open_()
    state = case.state

    assert state.child_protection
    assert [(e.kind, e.reason, e.raised_by) for e in state.escalations] == [
        (EscalationKind.MASH, reason, referrer)
    ]
    escalated = event(opened, ev.Escalated)
    assert (escalated.by, escalated.kind, escalated.reason) == (
        referrer,
        EscalationKind.MASH,
        reason,
    )
    phone = state.open_tasks(TaskName.PHONE_MASH)
    assert [(t.assignee, t.due, t.status) for t in phone] == [
        (caller, mash_call_due, TaskStatus.OPEN)
    ]
    assert state.deadlines.mash_call == mash_call_due

    mash = notification(opened, n.MashEscalation)
    assert mash.to == [Recipient.MASH, Recipient.SAT]
    assert mash.purpose == "mash_escalation:1"
    assert mash.child_protection_plan is plan
    assert mash.concern == concern
    assert mash.raised_by == referrer
    assert mash.stage is state.stage
    assert mash.mash_call_due == mash_call_due
    assert mash.mash_caller is caller
    assert mash.child is not None and mash.child.first_name in ("Jacob", "Amelia", "Maya")
    assert mash.referrer is not None
    record = next(r for r in state.notifications if r.purpose == "mash_escalation:1")
    assert record.child_protection  # sent before anything else
    assert record.to == ["mash", "sat"]


def test_the_mash_escalation_names_the_school_as_referrer_and_the_last_known_address() -> None:
    case, opened = _school_cp()
    mash = notification(opened, n.MashEscalation)
    assert mash.referrer == n.ReferrerDetails(
        name="Ms Attendance", role="school", school_laestab=SCHOOL
    )
    assert mash.child is not None
    assert mash.child.address_kind == "last known address"
    assert mash.child.address is not None and mash.child.address.postcode == "PO1 9ZZ"
    assert [c.phone_numbers for c in mash.child.contacts if c.is_primary] == [
        ["07700 900123", "01632 960123"]
    ]
    referral = case.state.referral
    assert isinstance(referral, SchoolCMEReferral)
    assert referral.first_day_of_absence == DAY1
