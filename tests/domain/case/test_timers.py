"""What a case does on its own, when :func:`next_wakeup` says and a ``Tick`` comes: the SAT
referral at the end of school day 10, the threshold notification at the start of the day deletion
is permitted from, an overdue MASH call escalated to the team leader, an overdue CTF reminded.
Everything the case does on its own is done by the service, not a person."""

from __future__ import annotations

from datetime import date, timedelta

from domain.case import SERVICE, next_wakeup
from domain.case import events as ev
from domain.case import notifications as n
from domain.case.commands import ConfirmCtf, RecordMashCall, Tick
from domain.case.model import EscalationKind, Role, Stage, TaskName, TaskStatus
from domain.case.notifications import Recipient
from domain.enquiries import EnquiryBy

from .support import (
    CALENDAR,
    SCHOOL,
    SCHOOL_OFFICE,
    Case,
    at,
    concluded,
    effect_types,
    enquiry,
    event,
    kinds,
    la_enquiry,
    midnight_after,
    midnight_starting,
    missing_pupil,
    notification,
    referred_to_sat,
    rid,
    school_referral,
    verified,
)


def test_the_case_goes_to_the_sat_at_the_end_of_school_day_10() -> None:
    case, _ = missing_pupil()
    assert case.state.next_deadline == date(2026, 2, 13)
    assert case.wakeup() == midnight_after(date(2026, 2, 13))  # Sat 14 Feb, 00:00

    done = case.tick()

    state = case.state
    assert state.stage is Stage.LA_INVESTIGATION
    changed = event(done, ev.StageChanged)
    assert (changed.by, changed.stage_from, changed.stage_to) == (
        SERVICE,
        Stage.SCHOOL_ENQUIRIES,
        Stage.LA_INVESTIGATION,
    )
    assert changed.by.role is Role.SERVICE
    school_task = state.tasks[0]
    assert (school_task.name, school_task.status, school_task.done_by) == (
        TaskName.SCHOOL_ENQUIRIES,
        TaskStatus.DONE,
        SERVICE,
    )
    assert [(t.name, t.assignee) for t in state.open_tasks()] == [
        (TaskName.INVESTIGATE, Role.CME_OFFICER)
    ]
    assert [(e.kind, e.reason, e.raised_by) for e in state.escalations] == [
        (
            EscalationKind.SAT_REFERRAL,
            "no contact by the end of school day 10 (13 Feb 2026)",
            SERVICE,
        )
    ]
    referral = notification(done, n.SatReferral)
    assert referral.to == [Recipient.SAT]
    assert (referral.day1, referral.day10) == (date(2026, 2, 2), date(2026, 2, 13))
    assert referral.enquiries == [
        enquiry("school", "phone_primary", date(2026, 2, 3)),
        enquiry("school", "letter", date(2026, 2, 3)),
    ]
    assert referral.referrer is not None
    assert (referral.referrer.name, referral.referrer.school_laestab) == ("Ms Attendance", SCHOOL)
    assert referral.earlier_episodes == []
    assert referral.child is not None and referral.child.address_kind == "last known address"
    assert all(e.by == SERVICE for e in done.events)
    assert effect_types(done) == ["send_notification", "sync_register"]
    # Next: the start of the day deletion is permitted from.
    assert case.wakeup() == midnight_starting(date(2026, 3, 10))


def test_a_tick_before_anything_is_due_does_nothing() -> None:
    case, _ = missing_pupil()
    done = case.do(Tick(), when=midnight_after(date(2026, 2, 13)) - timedelta(minutes=1))
    assert case.state.stage is Stage.SCHOOL_ENQUIRIES
    assert done.events == []
    assert done.effects == []


def test_the_sat_is_told_at_the_start_of_the_day_deletion_is_permitted_from() -> None:
    case = referred_to_sat()
    case.do(la_enquiry("partner", date(2026, 2, 23)), when=at(date(2026, 2, 23)))
    assert case.wakeup() == midnight_starting(date(2026, 3, 10))

    done = case.tick()

    assert case.state.threshold_reached_on == date(2026, 3, 10)
    assert kinds(done) == ["threshold_reached"]
    reached = notification(done, n.ThresholdReached)
    assert reached.to == [Recipient.SAT]
    assert (reached.ground_code, reached.ground_title) == (
        "9(1)(i)",
        "20 school days' continuous unauthorised absence",
    )
    assert (reached.threshold_day, reached.threshold_days, reached.deletion_permitted_from) == (
        date(2026, 3, 9),
        20,
        date(2026, 3, 10),
    )
    assert reached.stage is Stage.LA_INVESTIGATION
    assert [e.kind.value for e in reached.school_enquiries] == ["phone_primary", "letter"]
    assert [(e.by, e.kind.value) for e in reached.la_enquiries] == [(EnquiryBy.LA, "partner")]
    assert event(done, ev.NotificationQueued).by == SERVICE
    # Nothing further is due on its own: the officer concludes.
    assert next_wakeup(case.state) is None


def test_a_late_tick_does_everything_that_fell_due_meanwhile() -> None:
    case, _ = missing_pupil()
    done = case.do(Tick(), when=at(date(2026, 3, 11)))
    assert case.state.stage is Stage.LA_INVESTIGATION
    assert kinds(done) == ["sat_referral", "threshold_reached"]
    assert case.state.threshold_reached_on == date(2026, 3, 11)


def test_an_unrecorded_mash_call_is_escalated_to_the_team_leader_after_its_day() -> None:
    # Opened Fri 13 Feb with a Child Protection Plan: the call is due Mon 23 Feb (after half term).
    case, _ = missing_pupil(opened=date(2026, 2, 13), cp=True)
    case.tick()  # end of day 10 (Fri 13 Feb): to the SAT
    assert case.wakeup() == midnight_after(date(2026, 2, 23))

    done = case.tick()

    task = case.state.tasks[1]
    assert (task.name, task.status, task.overdue) == (TaskName.PHONE_MASH, TaskStatus.OPEN, True)
    assert case.state.overdue
    overdue = event(done, ev.TaskOverdue)
    assert (overdue.by, overdue.task_id, overdue.name, overdue.due) == (
        SERVICE,
        task.id,
        TaskName.PHONE_MASH,
        date(2026, 2, 23),
    )
    escalation = case.state.escalations[-1]
    assert (escalation.kind, escalation.reason, escalation.raised_by) == (
        EscalationKind.TEAM_LEADER,
        "MASH call not recorded by the end of 23 Feb 2026",
        SERVICE,
    )
    sent = notification(done, n.MashCallOverdue)
    assert sent.to == [Recipient.TEAM_LEADER]
    assert sent.purpose == f"mash_call_overdue:{task.id}"
    assert (sent.mash_call_due, sent.mash_caller) == (date(2026, 2, 23), Role.SCHOOL)
    record = next(r for r in case.state.notifications if r.purpose == sent.purpose)
    assert record.child_protection
    # Escalated once: the next wake-up is the threshold, not the task again.
    assert case.wakeup() == midnight_starting(date(2026, 3, 10))

    # The call, recorded late, still closes the task.
    case.do(
        RecordMashCall(by=SCHOOL_OFFICE, request_id=rid(), called_on=date(2026, 2, 24)),
        when=at(date(2026, 2, 24)),
    )
    assert case.state.open_tasks(TaskName.PHONE_MASH) == []
    assert not case.state.overdue


def test_a_mash_call_recorded_in_time_is_not_escalated() -> None:
    case, _ = missing_pupil(opened=date(2026, 2, 13), cp=True)
    case.do(
        RecordMashCall(by=SCHOOL_OFFICE, request_id=rid(), called_on=date(2026, 2, 13)),
        when=at(date(2026, 2, 13), 14),
    )
    case.tick()  # end of day 10
    assert case.wakeup() == midnight_starting(date(2026, 3, 10))
    assert [e.kind for e in case.state.escalations] == [
        EscalationKind.MASH,
        EscalationKind.SAT_REFERRAL,
    ]


def test_an_overdue_ctf_reminds_the_school_and_the_sat() -> None:
    case, _ = verified()  # the CTF is due Tue 10 Mar (see support)
    assert case.wakeup() == midnight_after(date(2026, 3, 10))

    done = case.tick()

    task = case.state.open_tasks(TaskName.SEND_CTF)[0]
    assert task.overdue
    assert event(done, ev.TaskOverdue).by == SERVICE
    escalation = case.state.escalations[-1]
    assert (escalation.kind, escalation.reason, escalation.raised_by) == (
        EscalationKind.CTF_OVERDUE,
        "CTF not confirmed by the end of 10 Mar 2026",
        SERVICE,
    )
    reminder = notification(done, n.CtfOverdue)
    assert reminder.to == [Recipient.SCHOOL, Recipient.SAT]
    assert (reminder.ctf_due, reminder.ctf_destination) == (date(2026, 3, 10), "8512001")
    assert reminder.purpose == f"ctf_overdue:{task.id}"
    assert case.state.stage is Stage.AWAITING_CTF
    assert next_wakeup(case.state) is None

    late = case.do(
        ConfirmCtf(
            by=SCHOOL_OFFICE,
            request_id=rid(),
            destination_code="8512001",
            sent_on=date(2026, 3, 11),
        ),
        when=at(date(2026, 3, 11)),
    )
    assert late.result is not None and late.result.ctf_on_time is False
    assert case.state.ctf is not None and not case.state.ctf.on_time


def test_after_leave_the_threshold_is_10_school_days_on_the_after_leave_ground() -> None:
    # Leave ended Fri 6 Feb: day 10 is Fri 27 Feb, Mon 2 Mar is the INSET day, so deletion is
    # permitted from Tue 3 Mar; the SAT is told at its start.
    referral = school_referral(referral_date=date(2026, 2, 23), leave_end=date(2026, 2, 6))
    case, _ = Case.open(referral, SCHOOL_OFFICE, now=at(date(2026, 2, 23)), calendar=CALENDAR)
    case.tick()  # the end of day 10: to the SAT
    assert case.wakeup() == midnight_starting(date(2026, 3, 3))

    done = case.tick()

    reached = notification(done, n.ThresholdReached)
    assert (reached.ground_code, reached.ground_title) == (
        "9(1)(h)",
        "Not back within 10 school days after leave ended",
    )
    assert (reached.threshold_day, reached.threshold_days, reached.deletion_permitted_from) == (
        date(2026, 2, 27),
        10,
        date(2026, 3, 3),
    )
    # The after-leave ground prescribes no register code: the school is asked for none.
    assert case.state.open_tasks(TaskName.CONFIRM_REGISTER_CODES) == []


def test_the_sat_is_told_of_the_threshold_when_the_officer_concluded_not_located_before_it() -> (
    None
):
    case = concluded()  # not located, on Wed 4 Mar: awaiting the authorisation
    assert case.wakeup() == midnight_starting(date(2026, 3, 10))

    done = case.tick()

    assert case.state.threshold_reached_on == date(2026, 3, 10)
    assert case.state.stage is Stage.AWAITING_DELETION_AUTHORISATION
    reached = notification(done, n.ThresholdReached)
    assert reached.to == [Recipient.SAT]
    assert reached.stage is Stage.AWAITING_DELETION_AUTHORISATION
    assert (reached.ground_code, reached.deletion_permitted_from) == ("9(1)(i)", date(2026, 3, 10))
    assert [(e.by, e.kind.value) for e in reached.la_enquiries] == [(EnquiryBy.LA, "partner")]
    # No code is on file: the school is asked for them.
    assert [(t.name, t.assignee) for t in case.state.open_tasks()] == [
        (TaskName.AUTHORISE_DELETION, Role.CME_OFFICER),
        (TaskName.CONFIRM_REGISTER_CODES, Role.SCHOOL),
    ]
    assert next_wakeup(case.state) is None
    # Announced once.
    assert kinds(case.do(Tick(), when=at(date(2026, 3, 11)))) == []


def test_no_threshold_once_the_officer_concluded_on_another_ground() -> None:
    case = concluded("moved_away", other_la="Leeds")
    assert next_wakeup(case.state) is None
    done = case.do(Tick(), when=at(date(2026, 3, 10)))
    assert kinds(done) == []
    assert case.state.threshold_reached_on is None
