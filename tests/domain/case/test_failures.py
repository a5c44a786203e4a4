"""The failure policy: what the service cannot do becomes a problem on the case, escalated to the
team leader (by email, unless that email is what failed), retried daily (weekly for the calendar)
or on request, and cleared when a retry succeeds."""

from __future__ import annotations

from datetime import date, timedelta

from domain.case import SERVICE, next_wakeup, record_internal_error
from domain.case import events as ev
from domain.case import notifications as n
from domain.case.commands import (
    AuthoriseDeletion,
    CalendarReloaded,
    NotificationDelivered,
    NotificationFailed,
    RegisterFailed,
    RegisterSynced,
    RetryProblems,
    Tick,
)
from domain.case.effects import SendNotification
from domain.case.model import (
    Deadlines,
    EscalationKind,
    ProblemKind,
    Stage,
    TaskName,
)
from domain.case.notifications import Recipient
from domain.case.state import NotificationStatus

from .support import (
    CALENDAR,
    CASE,
    OFFICER,
    PROFESSIONAL,
    SCHOOL_OFFICE,
    SHORT_CALENDAR,
    TEAM_LEADER,
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
    rid,
    school_referral,
    verified,
)

REFUSED = "550 5.1.1 mailbox unavailable"


def failed_referral_email() -> Case:
    """A professional referral whose email to the SAT was refused for good, at 10:05."""
    case, _ = not_on_roll()
    case.do(
        NotificationFailed(purpose="not_on_roll_referral", detail=REFUSED),
        when=at(date(2026, 2, 26), 10, 5),
    )
    return case


# -- an email refused ------------------------------------------------------------------------------


def test_a_refused_email_is_a_problem_escalated_and_reported_to_the_team_leader() -> None:
    case, _ = not_on_roll()

    done = case.do(
        NotificationFailed(purpose="not_on_roll_referral", detail=REFUSED),
        when=at(date(2026, 2, 26), 10, 5),
    )

    state = case.state
    assert state.notifications[0].status is NotificationStatus.FAILED
    [problem] = state.open_problems
    assert (problem.kind, problem.subject, problem.detail, problem.attempts) == (
        ProblemKind.NOTIFICATION_UNDELIVERABLE,
        "not_on_roll_referral",
        REFUSED,
        1,
    )
    raised = event(done, ev.ProblemRaised)
    assert (raised.by, raised.kind, raised.subject, raised.detail) == (
        SERVICE,
        ProblemKind.NOTIFICATION_UNDELIVERABLE,
        "not_on_roll_referral",
        REFUSED,
    )
    assert [(e.kind, e.reason, e.raised_by) for e in state.escalations] == [
        (EscalationKind.PROBLEM, "notification undeliverable: not_on_roll_referral", SERVICE)
    ]
    report = notification(done, n.ProblemReport)
    assert report.to == [Recipient.TEAM_LEADER]
    assert report.purpose == f"problem_report:{problem.id}"
    assert (report.problem_kind, report.subject, report.detail) == (
        ProblemKind.NOTIFICATION_UNDELIVERABLE,
        "not_on_roll_referral",
        REFUSED,
    )
    assert report.child is None  # no child's data in a problem report
    assert effect_types(done) == ["send_notification", "sync_register"]
    # Retried daily.
    assert next_wakeup(state) == at(date(2026, 2, 27), 10, 5)


def test_a_refused_problem_report_is_not_reported_again() -> None:
    case = failed_referral_email()

    done = case.do(NotificationFailed(purpose="problem_report:1", detail=REFUSED))

    assert [p.subject for p in case.state.open_problems] == [
        "not_on_roll_referral",
        "problem_report:1",
    ]
    assert event(done, ev.Escalated).kind is EscalationKind.PROBLEM
    assert kinds(done) == []


def test_a_refused_email_to_the_team_leader_is_not_reported_by_email() -> None:
    case, _ = missing_pupil(calendar=None)  # the calendar problem is emailed to the team leader
    purpose = case.state.notifications[0].purpose
    assert case.state.notifications[0].to == ["team_leader"]

    done = case.do(NotificationFailed(purpose=purpose, detail=REFUSED))

    assert ProblemKind.NOTIFICATION_UNDELIVERABLE in [p.kind for p in case.state.open_problems]
    assert kinds(done) == []


def test_an_email_delivered_after_all_clears_its_problem() -> None:
    case = failed_referral_email()

    done = case.do(
        NotificationDelivered(purpose="not_on_roll_referral"), when=at(date(2026, 2, 27))
    )

    record = case.state.notifications[0]
    assert (record.status, record.sent_at, record.message) == (
        NotificationStatus.SENT,
        at(date(2026, 2, 27)),
        None,
    )
    assert case.state.open_problems == []
    cleared = event(done, ev.ProblemCleared)
    assert (cleared.by, cleared.kind, cleared.subject) == (
        SERVICE,
        ProblemKind.NOTIFICATION_UNDELIVERABLE,
        "not_on_roll_referral",
    )
    sent = event(done, ev.NotificationSent)
    assert (sent.by, sent.purpose, sent.kind) == (
        SERVICE,
        "not_on_roll_referral",
        "not_on_roll_referral",
    )


def test_a_delivery_the_outbox_recorded_asks_for_no_register_sync() -> None:
    """The register holds a delivery only in its outbox: when the delivery marked it there, the
    case has nothing more for the register, unless a problem (which it lists) was cleared."""
    case, _ = not_on_roll()
    purpose = case.state.notifications[0].purpose

    recorded = case.do(NotificationDelivered(purpose=purpose, recorded=True))

    assert case.state.notifications[0].status is NotificationStatus.SENT
    assert effect_types(recorded) == []
    unrecorded, _ = not_on_roll()
    assert effect_types(unrecorded.do(NotificationDelivered(purpose=purpose))) == ["sync_register"]
    failed = failed_referral_email()
    cleared = failed.do(NotificationDelivered(purpose=purpose, recorded=True))
    assert failed.state.open_problems == []
    assert effect_types(cleared) == ["sync_register"]


def test_a_refused_email_is_retried_daily_and_counts_its_attempts() -> None:
    case = failed_referral_email()

    retried = case.tick()  # a day later

    assert case.now == at(date(2026, 2, 27), 10, 5)
    assert case.state.notifications[0].status is NotificationStatus.QUEUED
    assert "send_notification" in effect_types(retried)
    assert [e.purpose for e in retried.effects if isinstance(e, SendNotification)] == [
        "not_on_roll_referral"
    ]
    assert case.state.open_problems[0].last_attempt_at == case.now

    again = case.do(NotificationFailed(purpose="not_on_roll_referral", detail=REFUSED))

    [problem] = case.state.open_problems
    assert problem.attempts == 2
    assert kinds(again) == []  # reported once
    assert events(again, ev.ProblemRaised) == []
    assert next_wakeup(case.state) == at(date(2026, 2, 28), 10, 5)


def test_an_officer_retries_the_problems_at_once() -> None:
    case = failed_referral_email()

    done = case.do(RetryProblems(by=OFFICER, request_id=rid()), when=at(date(2026, 2, 26), 11))

    assert done.result is not None and done.result.problems_retried == 1
    assert case.state.notifications[0].status is NotificationStatus.QUEUED
    assert "send_notification" in effect_types(done)


def test_retrying_problems_is_for_officers_and_only_when_there_are_some() -> None:
    case = failed_referral_email()
    assert case.refuse(RetryProblems(by=PROFESSIONAL, request_id=rid())) == (
        "retrying a case's problems is for a cme officer or team leader, not a professional"
    )
    case, _ = not_on_roll()
    assert case.refuse(RetryProblems(by=TEAM_LEADER, request_id=rid())) == (
        f"case {CASE} has no problems to retry"
    )


# -- the register ----------------------------------------------------------------------------------


def test_the_register_refusing_the_case_is_a_problem_until_a_sync_succeeds() -> None:
    case, _ = missing_pupil()

    refused = case.do(RegisterFailed(detail="value too long for column school"))

    [problem] = case.state.open_problems
    assert (problem.kind, problem.subject, problem.detail) == (
        ProblemKind.REGISTER_REJECTED,
        "register",
        "value too long for column school",
    )
    assert case.state.escalations[-1].reason == "register rejected: register"
    report = notification(refused, n.ProblemReport)
    assert (report.to, report.problem_kind, report.subject) == (
        [Recipient.TEAM_LEADER],
        ProblemKind.REGISTER_REJECTED,
        "register",
    )

    again = case.do(RegisterFailed(detail="value too long for column school"))
    assert case.state.open_problems[0].attempts == 2
    assert kinds(again) == []

    synced = case.do(RegisterSynced())
    assert case.state.open_problems == []
    assert event(synced, ev.ProblemCleared).kind is ProblemKind.REGISTER_REJECTED


def test_a_register_problem_is_retried_daily_by_syncing_again() -> None:
    case, _ = missing_pupil()
    case.do(RegisterFailed(detail="constraint violated"), when=at(date(2026, 2, 4), 12))
    assert next_wakeup(case.state) == at(date(2026, 2, 5), 12)

    retried = case.tick()

    assert effect_types(retried) == ["sync_register"]


def test_a_refused_register_sync_is_not_retried_at_once() -> None:
    # Syncing again at once would be refused again and loop (sync, RegisterFailed, sync...): the
    # problem's daily retry syncs instead.
    case, _ = missing_pupil()
    first = case.do(RegisterFailed(detail="constraint violated"))
    assert "sync_register" not in effect_types(first)
    again = case.do(RegisterFailed(detail="constraint violated"))
    assert "sync_register" not in effect_types(again)


def test_a_register_sync_with_nothing_to_clear_changes_nothing() -> None:
    case, _ = missing_pupil()
    done = case.do(RegisterSynced())
    assert done.events == []
    assert done.effects == []


# -- the calendar ----------------------------------------------------------------------------------


def test_without_a_calendar_deadlines_are_not_counted_and_the_case_says_so() -> None:
    case, opened = missing_pupil(calendar=None)

    state = case.state
    assert state.stage is Stage.SCHOOL_ENQUIRIES
    assert state.day1 is None
    assert state.deadlines == Deadlines()
    assert [t.name for t in state.open_tasks()] == [TaskName.SCHOOL_ENQUIRIES]
    [problem] = state.open_problems
    assert (problem.kind, problem.subject, problem.detail) == (
        ProblemKind.CALENDAR_UNUSABLE,
        "calendar",
        "the school calendar could not be loaded",
    )
    assert [(e.kind, e.reason) for e in state.escalations] == [
        (EscalationKind.CALENDAR_ENDS, "calendar: the school calendar could not be loaded")
    ]
    told = notification(opened, n.CalendarEnds)
    assert told.to == [Recipient.TEAM_LEADER]
    assert (told.deadline, told.problem) == ("calendar", "the school calendar could not be loaded")
    assert told.child is None
    assert kinds(opened) == ["calendar_ends"]  # no separate problem report
    # The calendar is re-read weekly.
    assert case.wakeup() == at(date(2026, 2, 11))
    assert effect_types(case.tick()) == ["load_calendar", "sync_register"]


def test_deletion_is_refused_while_the_calendar_cannot_be_loaded() -> None:
    case, _ = verified(calendar=None)
    assert case.refuse(AuthoriseDeletion(by=OFFICER, request_id=rid(), ground="9(1)(a)")) == (
        "the school calendar cannot be loaded, so school days cannot be counted: see the case's "
        "problems"
    )


def test_a_calendar_still_unreadable_counts_another_attempt() -> None:
    case, _ = missing_pupil(calendar=None)
    done = case.do(CalendarReloaded(problem="line 7: term 'Spring' ends before it starts"))
    assert case.state.open_problems[0].attempts == 2
    assert kinds(done) == []


def test_a_calendar_that_cannot_be_read_later_is_a_problem() -> None:
    case, _ = missing_pupil()
    done = case.do(CalendarReloaded(problem="cannot read the file"))
    [problem] = case.state.open_problems
    assert (problem.kind, problem.detail) == (ProblemKind.CALENDAR_UNUSABLE, "cannot read the file")
    assert kinds(done) == ["calendar_ends"]
    # What was counted stays counted.
    assert case.state.deadlines.sat_referral == date(2026, 2, 13)


def test_a_calendar_reloaded_counts_the_deadlines_and_clears_the_problem() -> None:
    case, _ = missing_pupil(calendar=None)
    case.calendar = CALENDAR

    done = case.do(CalendarReloaded(), when=at(date(2026, 2, 5)))

    assert case.state.open_problems == []
    assert case.state.day1 == date(2026, 2, 2)
    assert case.state.deadlines == Deadlines(
        sat_referral=date(2026, 2, 13),
        threshold_day=date(2026, 3, 9),
        deletion_permitted_from=date(2026, 3, 10),
    )
    assert {e.deadline: e.due for e in events(done, ev.DeadlineSet)} == {
        "sat_referral": date(2026, 2, 13),
        "threshold_day": date(2026, 3, 9),
        "deletion_permitted_from": date(2026, 3, 10),
    }
    assert event(done, ev.ProblemCleared).kind is ProblemKind.CALENDAR_UNUSABLE
    assert case.state.calendar_checked_at == at(date(2026, 2, 5))
    assert case.wakeup() == midnight_after(date(2026, 2, 13))


def test_a_calendar_reloaded_gives_the_ctf_its_due_date() -> None:
    case, _ = verified(calendar=None)
    assert case.state.open_tasks(TaskName.SEND_CTF)[0].due is None
    case.calendar = CALENDAR

    case.do(CalendarReloaded(), when=at(date(2026, 2, 10)))

    # 15 school days from the return's date, Mon 9 Feb, not from the reload: Tue 10 Mar.
    assert case.state.open_tasks(TaskName.SEND_CTF)[0].due == date(2026, 3, 10)
    assert case.state.deadlines.ctf == date(2026, 3, 10)
    assert case.state.open_problems == []


def test_a_mash_call_counted_after_the_calendar_returns_is_due_the_school_day_after_the_escalation() -> (  # noqa: E501
    None
):
    case, _ = verified(cp=True, calendar=None)  # escalated to MASH on Mon 9 Feb
    assert case.state.open_tasks(TaskName.PHONE_MASH)[0].due is None
    case.calendar = CALENDAR

    case.do(CalendarReloaded(), when=at(date(2026, 2, 12)))

    # Due Tue 10 Feb, the school day after the escalation; so already overdue.
    assert case.state.open_tasks(TaskName.PHONE_MASH)[0].due == date(2026, 2, 10)
    assert case.wakeup() == midnight_after(date(2026, 2, 10))  # past: the next tick escalates
    done = case.do(Tick())
    assert event(done, ev.TaskOverdue).name is TaskName.PHONE_MASH
    assert notification(done, n.MashCallOverdue).mash_call_due == date(2026, 2, 10)


def test_a_deadline_past_the_calendars_end_is_a_problem_with_the_calendars_words() -> None:
    # The calendar ends Fri 27 Mar. Day 1 Mon 9 Mar: day 10 is Fri 20 Mar, day 20 is past the end.
    referral = school_referral(
        referral_date=date(2026, 3, 11), day1=date(2026, 3, 9), calendar=SHORT_CALENDAR
    )
    case, opened = Case.open(
        referral, SCHOOL_OFFICE, now=at(date(2026, 3, 11)), calendar=SHORT_CALENDAR
    )

    assert case.state.deadlines == Deadlines(sat_referral=date(2026, 3, 20))
    message = "calendar ends on 27 Mar 2026: school day 20 counted from 9 Mar 2026 falls after it"
    [problem] = case.state.open_problems
    assert (problem.kind, problem.subject, problem.detail) == (
        ProblemKind.CALENDAR_ENDS,
        "threshold_day",
        message,
    )
    assert case.state.escalations[-1].kind is EscalationKind.CALENDAR_ENDS
    told = notification(opened, n.CalendarEnds)
    assert (told.to, told.deadline, told.problem) == (
        [Recipient.TEAM_LEADER],
        "threshold_day",
        message,
    )
    # Retried weekly: Wed 18 Mar, before the end of day 10.
    assert case.wakeup() == at(date(2026, 3, 18))
    assert "load_calendar" in effect_types(case.tick())

    # The LA adds the summer term: day 20 is Fri 17 Apr (23-27 Mar, Easter, 13-17 Apr).
    case.calendar = CALENDAR
    reloaded = case.do(CalendarReloaded())
    assert case.state.deadlines == Deadlines(
        sat_referral=date(2026, 3, 20),
        threshold_day=date(2026, 4, 17),
        deletion_permitted_from=date(2026, 4, 20),
    )
    assert case.state.open_problems == []
    assert event(reloaded, ev.ProblemCleared).subject == "threshold_day"


def test_a_ctf_due_past_the_calendars_end_is_a_problem() -> None:
    referral = migration_return(leaving_date=date(2026, 3, 20), calendar=SHORT_CALENDAR)
    case, _ = Case.open(referral, SCHOOL_OFFICE, now=at(date(2026, 3, 20)), calendar=SHORT_CALENDAR)

    assert case.state.open_tasks(TaskName.SEND_CTF)[0].due is None
    [problem] = case.state.open_problems
    assert (problem.kind, problem.subject, problem.detail) == (
        ProblemKind.CALENDAR_ENDS,
        "ctf",
        "calendar ends on 27 Mar 2026: school day 15 after 20 Mar 2026 falls after it",
    )

    case.calendar = CALENDAR
    case.do(CalendarReloaded(), when=at(date(2026, 3, 23)))
    # 23-27 Mar (1-5), Easter, 13-17 Apr (6-10), 20-24 Apr (11-15): Fri 24 Apr.
    assert case.state.open_tasks(TaskName.SEND_CTF)[0].due == date(2026, 4, 24)
    assert case.state.open_problems == []


# -- the service's own errors, and unknown episodes ------------------------------------------------


def test_an_internal_error_is_a_problem_and_the_case_waits_a_day_before_trying_again() -> None:
    case, _ = missing_pupil()
    # The tick at the end of day 10 failed with a bug of the service.
    failed_at = midnight_after(date(2026, 2, 13))
    case.now = failed_at
    outcome = record_internal_error(case.state, "Tick: KeyError", case.context())
    case.state = outcome.state

    [problem] = case.state.open_problems
    assert (problem.kind, problem.subject, problem.detail) == (
        ProblemKind.INTERNAL_ERROR,
        "processing",
        "Tick: KeyError",
    )
    report = notification(outcome, n.ProblemReport)
    assert (report.to, report.problem_kind) == ([Recipient.TEAM_LEADER], ProblemKind.INTERNAL_ERROR)
    assert case.state.stage is Stage.SCHOOL_ENQUIRIES
    # The SAT referral is overdue, but the case waits for the retry rather than spin.
    assert next_wakeup(case.state) == failed_at + timedelta(days=1)

    retried = case.tick()

    assert retried.state.stage is Stage.LA_INVESTIGATION
    assert retried.state.open_problems == []
    assert event(retried, ev.ProblemCleared).kind is ProblemKind.INTERNAL_ERROR


def test_a_tick_that_succeeds_clears_an_internal_error() -> None:
    case, _ = missing_pupil()
    case.state = record_internal_error(
        case.state, "RecordEnquiry: ValueError", case.context()
    ).state
    done = case.do(Tick(), when=at(date(2026, 2, 4), 11))
    assert case.state.open_problems == []
    assert event(done, ev.ProblemCleared).kind is ProblemKind.INTERNAL_ERROR


def test_earlier_episodes_not_read_are_a_problem_on_the_new_case() -> None:
    referral = school_referral(referral_date=date(2026, 2, 4), day1=date(2026, 2, 2))
    case, opened = Case.open(
        referral,
        SCHOOL_OFFICE,
        now=at(date(2026, 2, 4)),
        calendar=CALENDAR,
        episodes_problem="the register could not be read",
    )
    [problem] = case.state.open_problems
    assert (problem.kind, problem.subject, problem.detail) == (
        ProblemKind.EPISODES_UNKNOWN,
        "earlier episodes",
        "the register could not be read",
    )
    assert notification(opened, n.ProblemReport).problem_kind is ProblemKind.EPISODES_UNKNOWN
