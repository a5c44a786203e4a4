"""What the law needs on file before a name is deleted, and the requests that record it: the
school's register codes (2024 9(1)(i): every session of the 20 days coded G, N or O, asked of the
school at the threshold), the officer's confirmation that no sickness or unavoidable cause keeps
the pupil away (both absence grounds, both rulebooks), the LA's consent for a pupil it placed at a
special school (2006 reg 8(2), 2024 reg 9(4)), and the facts that bear on deletion (an attendance
order, a mobile child, the kind of custodial order). See ``docs/law.md``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from domain.case import SERVICE, Outcome, next_wakeup, rules
from domain.case import events as ev
from domain.case import notifications as n
from domain.case.commands import (
    AuthoriseDeletion,
    ConcludeInvestigation,
    ConfirmNoSicknessGrounds,
    ConfirmRegisterCodes,
    RecordConsent,
    RecordDeletionFacts,
    ReportContact,
)
from domain.case.model import (
    Actor,
    DeletionFacts,
    InvestigationOutcome,
    Role,
    Stage,
    TaskName,
    TaskStatus,
)
from domain.deletion import (
    ConsentKind,
    CustodialOrder,
    LaConsent,
    OfficerConfirmation,
    SessionCode,
)
from domain.intake import ReferralInvalid

from .support import (
    CALENDAR,
    CASE,
    DAY1,
    DAY20,
    NO_SICKNESS_NOTE,
    OFFICER,
    OTHER_SCHOOL,
    PROFESSIONAL,
    SCHOOL_OFFICE,
    TEAM_LEADER,
    Case,
    absence_codes,
    at,
    concluded,
    effect_types,
    event,
    kinds,
    la_enquiry,
    midnight_starting,
    migration_return,
    missing_pupil,
    not_on_roll,
    notification,
    record_absence_proofs,
    referred_to_sat,
    rid,
    school_enquiry,
    school_referral,
    verified,
)

NOT_SICK_REASON = (
    "no recorded confirmation that there are no reasonable grounds to believe the pupil cannot "
    "attend because of sickness or an unavoidable cause"
)
SPECIAL_SCHOOL_REASON = (
    "LA consent needed: the pupil was placed at a special school by the local authority, so the "
    "name may be removed only with that authority's consent (or a Secretary of State direction)"
)


def codes(by: Actor, given: list[SessionCode]) -> ConfirmRegisterCodes:
    return ConfirmRegisterCodes(by=by, request_id=rid(), codes=given)


def no_sickness(by: Actor = OFFICER, note: str = "") -> ConfirmNoSicknessGrounds:
    return ConfirmNoSicknessGrounds(by=by, request_id=rid(), note=note)


def consent(
    by: Actor = OFFICER,
    on: date = date(2026, 3, 4),
    kind: ConsentKind = ConsentKind.LA_CONSENT,
) -> RecordConsent:
    return RecordConsent(
        by=by,
        request_id=rid(),
        kind=kind,
        consented_by="Head of SEN Placements",
        consented_on=on,
        reference="SEN-2026-017",
    )


def facts(by: Actor = OFFICER, **given: Any) -> RecordDeletionFacts:
    return RecordDeletionFacts(by=by, request_id=rid(), **given)


def authorise(ground: str, **fields: Any) -> AuthoriseDeletion:
    return AuthoriseDeletion(by=OFFICER, request_id=rid(), ground=ground, **fields)


def at_threshold() -> tuple[Case, Outcome]:
    """The standard missing pupil with the LA's partner enquiry of Mon 23 Feb, ticked at the start
    of Tue 10 Mar 2026, the day deletion is permitted from, with no register code on file; and
    what the tick did."""
    case = referred_to_sat()
    case.do(la_enquiry("partner", date(2026, 2, 23)), when=at(date(2026, 2, 23)))
    reached = case.tick()
    assert case.now == midnight_starting(date(2026, 3, 10))
    return case, reached


# -- register codes --------------------------------------------------------------------------------


def test_the_school_confirms_register_codes_and_hears_how_many_sessions_are_missing() -> None:
    case, _ = missing_pupil()  # Wed 4 Feb: day 3 of the absence

    done = case.do(codes(SCHOOL_OFFICE, absence_codes(DAY1, date(2026, 2, 4))))

    # 20 school days of 2 sessions, 3 of those days (2-4 Feb) on file: 40 - 6 = 34 missing.
    assert done.result is not None
    assert done.result.sessions_missing == 34
    assert done.result.stage is Stage.SCHOOL_ENQUIRIES
    assert case.state.attendance_codes == absence_codes(DAY1, date(2026, 2, 4))
    confirmed = event(done, ev.RegisterCodesConfirmed)
    assert (confirmed.by, confirmed.codes, confirmed.sessions_missing) == (SCHOOL_OFFICE, 6, 34)
    assert kinds(done) == []
    assert effect_types(done) == ["sync_register"]


@pytest.mark.parametrize("by", [SCHOOL_OFFICE, OFFICER, TEAM_LEADER])
def test_the_school_or_an_officer_confirms_register_codes(by: Actor) -> None:
    case = referred_to_sat()
    done = case.do(codes(by, absence_codes(DAY1, date(2026, 2, 13))), when=at(date(2026, 2, 23)))
    # 2-13 Feb, 10 school days, on file: 20 of the 40 sessions missing.
    assert done.result is not None and done.result.sessions_missing == 20
    assert event(done, ev.RegisterCodesConfirmed).by == by


def test_register_codes_are_refused_from_a_professional() -> None:
    case, _ = missing_pupil()
    assert case.refuse(codes(PROFESSIONAL, absence_codes(DAY1, DAY1))) == (
        "confirming register codes is for a cme officer or school or team leader, not a "
        "professional"
    )


@pytest.mark.parametrize(
    "build", [lambda: verified()[0], lambda: not_on_roll()[0]], ids=["return", "professional"]
)
def test_register_codes_are_for_a_missing_pupils_case_only(build: Callable[[], Case]) -> None:
    case = build()
    assert case.refuse(codes(OFFICER, absence_codes(date(2026, 2, 9), date(2026, 2, 9)))) == (
        "register codes are for a missing pupil's absence"
    )


def test_register_codes_dated_in_the_future_or_before_the_absence_began_are_refused() -> None:
    case, _ = missing_pupil()  # today Wed 4 Feb 2026, day 1 Mon 2 Feb 2026
    future = [SessionCode(day=date(2026, 2, 5), session="am", code="N")]
    before = [SessionCode(day=date(2026, 1, 30), session="pm", code="N")]
    assert case.refuse(codes(SCHOOL_OFFICE, absence_codes(DAY1, DAY1) + future)) == (
        "attendance code date 5 Feb 2026 is in the future (today is 4 Feb 2026)"
    )
    assert case.refuse(codes(SCHOOL_OFFICE, before)) == (
        "attendance code date 30 Jan 2026 is before the case began (2 Feb 2026): check the date"
    )


def test_register_codes_are_refused_once_the_case_is_closed() -> None:
    case, _ = missing_pupil()
    case.do(ReportContact(by=SCHOOL_OFFICE, request_id=rid(), contact_on=date(2026, 2, 4)))
    assert case.refuse(codes(SCHOOL_OFFICE, absence_codes(DAY1, DAY1))) == (
        f"case {CASE} is closed"
    )


def test_a_request_without_codes_or_with_a_code_not_of_the_register_is_not_made() -> None:
    with pytest.raises(ValidationError, match="at least 1 item"):
        ConfirmRegisterCodes(by=SCHOOL_OFFICE, request_id=rid(), codes=[])
    with pytest.raises(ValidationError, match="'Q9' is not an attendance register code"):
        SessionCode(day=DAY1, session="am", code="Q9")
    assert SessionCode(day=DAY1, session="pm", code=" c1 ").code == "C1"


# -- the school's task at the threshold ------------------------------------------------------------


def test_the_threshold_asks_the_school_for_the_codes_and_the_task_closes_once_all_are_on_file() -> (
    None
):
    case, reached = at_threshold()

    [task] = case.state.open_tasks(TaskName.CONFIRM_REGISTER_CODES)
    assert (task.assignee, task.due, task.opened_at) == (
        Role.SCHOOL,
        None,
        midnight_starting(date(2026, 3, 10)),
    )
    opened = event(reached, ev.TaskOpened)
    assert (opened.by, opened.name, opened.assignee) == (
        SERVICE,
        TaskName.CONFIRM_REGISTER_CODES,
        Role.SCHOOL,
    )
    assert notification(reached, n.ThresholdReached).ground_code == "9(1)(i)"
    assert next_wakeup(case.state) is None  # no due date: nothing to chase on its own

    # Codes up to Fri 27 Feb (day 15): Tue 3 - Fri 6 Mar and Mon 9 Mar (days 16-20) are still
    # missing, 10 sessions. The task stays open.
    partly = case.do(
        codes(SCHOOL_OFFICE, absence_codes(DAY1, date(2026, 2, 27))), when=at(date(2026, 3, 10))
    )
    assert partly.result is not None and partly.result.sessions_missing == 10
    assert case.state.open_tasks(TaskName.CONFIRM_REGISTER_CODES) == [task]
    assert [e for e in partly.events if isinstance(e, ev.TaskClosed)] == []

    done = case.do(codes(SCHOOL_OFFICE, absence_codes(date(2026, 3, 3), DAY20)))

    assert done.result is not None and done.result.sessions_missing == 0
    assert case.state.open_tasks(TaskName.CONFIRM_REGISTER_CODES) == []
    closed = case.state.tasks[task.id - 1]
    assert (closed.status, closed.done_by, closed.done_at) == (
        TaskStatus.DONE,
        SCHOOL_OFFICE,
        at(date(2026, 3, 10)),
    )
    task_closed = event(done, ev.TaskClosed)
    assert (task_closed.by, task_closed.name, task_closed.status) == (
        SCHOOL_OFFICE,
        TaskName.CONFIRM_REGISTER_CODES,
        TaskStatus.DONE,
    )


def test_no_codes_task_when_every_session_is_on_file_by_the_threshold() -> None:
    case = referred_to_sat()
    case.do(la_enquiry("partner", date(2026, 2, 23)), when=at(date(2026, 2, 23)))
    # After school on day 20 (Mon 9 Mar) every session of the 20 days is on file.
    done = case.do(codes(SCHOOL_OFFICE, absence_codes(DAY1, DAY20)), when=at(date(2026, 3, 9), 16))
    assert done.result is not None and done.result.sessions_missing == 0

    reached = case.tick()

    assert case.state.threshold_reached_on == date(2026, 3, 10)
    assert kinds(reached) == ["threshold_reached"]
    assert [t.name for t in case.state.open_tasks()] == [TaskName.INVESTIGATE]


def test_codes_confirmed_while_the_calendar_cannot_be_loaded_do_not_close_the_task() -> None:
    case, _ = at_threshold()
    case.calendar = None  # the calendar file broke after the threshold

    done = case.do(
        codes(SCHOOL_OFFICE, absence_codes(DAY1, date(2026, 2, 6))), when=at(date(2026, 3, 10))
    )

    # 2-6 Feb only: 30 of the 40 sessions are still missing, whatever the calendar's state.
    assert done.result is not None and done.result.sessions_missing != 0
    assert [t.name for t in case.state.open_tasks(TaskName.CONFIRM_REGISTER_CODES)] == [
        TaskName.CONFIRM_REGISTER_CODES
    ]


# -- the 20-day ground refused for its codes -------------------------------------------------------


def test_a_refusal_names_the_sessions_missing_and_the_days_coded_otherwise() -> None:
    case = concluded()
    case.do(no_sickness(), when=at(date(2026, 3, 10)))
    # Every session of the 20 days on file but both of Tue 10 Feb, the afternoon of Tue 3 Mar
    # and both of Thu 5 and Fri 6 Mar: 2 + 1 + 4 = 7 missing. Wed 4 Mar's morning is coded C
    # (leave granted in exceptional circumstances), not an unauthorised absence.
    gaps = {(date(2026, 2, 10), "am"), (date(2026, 2, 10), "pm"), (date(2026, 3, 3), "pm")}
    gaps |= {(day, s) for day in (date(2026, 3, 5), date(2026, 3, 6)) for s in ("am", "pm")}
    given = [
        SessionCode(day=c.day, session=c.session, code="C")
        if (c.day, c.session) == (date(2026, 3, 4), "am")
        else c
        for c in absence_codes(DAY1, DAY20)
        if (c.day, c.session) not in gaps
    ]
    confirmed = case.do(codes(SCHOOL_OFFICE, given))
    assert confirmed.result is not None and confirmed.result.sessions_missing == 7

    assert case.refuse(authorise("9(1)(i)")) == (
        "deletion on 9(1)(i) not permitted on 10 Mar 2026: sessions on 4 Mar 2026 coded C, not "
        "G/N/O; register codes not on file for 7 sessions (school days 10 Feb 2026, 3 Mar 2026 "
        "(pm), 5 Mar 2026 to 6 Mar 2026): every session of the 20 school days must be coded G, N "
        "or O"
    )

    # The school fills the gaps and corrects Wed 4 Mar: the last code recorded for a session is
    # the register's.
    corrected = [SessionCode(day=d, session=s, code="O") for d, s in sorted(gaps)]
    corrected.append(SessionCode(day=date(2026, 3, 4), session="am", code="N"))
    case.do(codes(SCHOOL_OFFICE, corrected))
    done = case.do(authorise("9(1)(i)"))
    assert done.state.stage is Stage.CLOSED


# -- the officer's confirmation: no sickness or unavoidable cause ----------------------------------


@pytest.mark.parametrize("by", [OFFICER, TEAM_LEADER])
def test_an_officer_confirms_there_are_no_grounds_of_sickness(by: Actor) -> None:
    case = concluded()

    done = case.do(no_sickness(by, note=NO_SICKNESS_NOTE), when=at(date(2026, 3, 5)))

    assert case.state.no_sickness_confirmation == OfficerConfirmation(
        by=by.name, on=date(2026, 3, 5), note=NO_SICKNESS_NOTE
    )
    confirmed = event(done, ev.NoSicknessGroundsConfirmed)
    assert (confirmed.by, confirmed.note) == (by, NO_SICKNESS_NOTE)
    assert done.result is not None
    assert done.result.stage is Stage.AWAITING_DELETION_AUTHORISATION
    assert kinds(done) == []
    assert effect_types(done) == ["sync_register"]


@pytest.mark.parametrize("by", [SCHOOL_OFFICE, PROFESSIONAL])
def test_the_confirmation_is_the_officers_not_the_schools(by: Actor) -> None:
    case = referred_to_sat()
    role = by.role.value
    assert case.refuse(no_sickness(by)) == (
        f"confirming there are no grounds of sickness is for a cme officer or team leader, not a "
        f"{role}"
    )


def test_the_confirmation_is_for_a_missing_pupils_open_case() -> None:
    reason = "this confirmation is for the absence grounds of a missing pupil's case"
    case, _ = verified()
    assert case.refuse(no_sickness()) == reason
    case, _ = not_on_roll()
    assert case.refuse(no_sickness()) == reason
    case, _ = missing_pupil()
    case.do(ReportContact(by=SCHOOL_OFFICE, request_id=rid(), contact_on=date(2026, 2, 4)))
    assert case.refuse(no_sickness()) == f"case {CASE} is closed"


def test_the_20_day_ground_is_refused_without_the_confirmation_though_every_code_is_on_file() -> (
    None
):
    case = concluded()
    case.do(codes(SCHOOL_OFFICE, absence_codes(DAY1, DAY20)), when=at(date(2026, 3, 10)))
    assert case.refuse(authorise("9(1)(i)")) == (
        f"deletion on 9(1)(i) not permitted on 10 Mar 2026: {NOT_SICK_REASON}"
    )


def test_the_after_leave_ground_needs_the_confirmation_and_no_register_code() -> None:
    # Leave ended Fri 6 Feb: day 1 Mon 9 Feb, day 10 Fri 27 Feb, INSET Mon 2 Mar, so deletion is
    # permitted from Tue 3 Mar. No code of the 10 days is on file, and none is needed.
    referral = school_referral(
        referral_date=date(2026, 2, 23),
        leave_end=date(2026, 2, 6),
        enquiries=[school_enquiry("phone_primary", date(2026, 2, 10))],
    )
    case, _ = Case.open(referral, SCHOOL_OFFICE, now=at(date(2026, 2, 23)), calendar=CALENDAR)
    case.tick()  # the end of day 10: to the SAT
    case.do(la_enquiry("partner", date(2026, 2, 28)), when=at(date(2026, 2, 28)))
    case.do(
        ConcludeInvestigation(
            by=OFFICER, request_id=rid(), outcome=InvestigationOutcome.NOT_LOCATED
        )
    )
    reached = case.tick()  # Tue 3 Mar: the after-leave ground asks for no codes
    assert case.state.open_tasks(TaskName.CONFIRM_REGISTER_CODES) == []
    assert kinds(reached) == ["threshold_reached"]

    assert case.refuse(authorise("9(1)(h)"), when=at(date(2026, 3, 3))) == (
        f"deletion on 9(1)(h) not permitted on 3 Mar 2026: {NOT_SICK_REASON}"
    )
    record_absence_proofs(case, None)
    done = case.do(authorise("9(1)(h)"))
    assert notification(done, n.OutcomeToSchool).deletion_from == date(2026, 3, 3)


# -- the LA's consent, for a pupil it placed at a special school -----------------------------------


@pytest.mark.parametrize("kind", list(ConsentKind))
def test_an_officer_records_the_las_consent(kind: ConsentKind) -> None:
    case = concluded("moved_away", other_la="Leeds")

    done = case.do(consent(kind=kind, on=date(2026, 3, 3)), when=at(date(2026, 3, 4), 14))

    expected = LaConsent(
        kind=kind, by="Head of SEN Placements", on=date(2026, 3, 3), reference="SEN-2026-017"
    )
    assert case.state.la_consent == expected
    recorded = event(done, ev.ConsentRecorded)
    assert (recorded.by, recorded.consent) == (OFFICER, expected)
    assert done.result is not None
    assert done.result.stage is Stage.AWAITING_DELETION_AUTHORISATION
    assert kinds(done) == []


def test_consent_is_recorded_by_an_officer_only() -> None:
    case = concluded("moved_away", other_la="Leeds")
    assert case.refuse(consent(SCHOOL_OFFICE)) == (
        "recording the LA's consent is for a cme officer or team leader, not a school"
    )


def test_a_consent_dated_in_the_future_or_on_a_closed_case_is_refused() -> None:
    case = concluded("moved_away", other_la="Leeds")  # Wed 4 Mar 2026
    assert case.refuse(consent(on=date(2026, 3, 5))) == (
        "consent date 5 Mar 2026 is in the future (today is 4 Mar 2026)"
    )
    # The LA may have agreed before the pupil went missing: an earlier date is recorded as given.
    case.do(consent(on=date(2026, 1, 30)))
    assert case.state.la_consent is not None and case.state.la_consent.on == date(2026, 1, 30)
    case, _ = missing_pupil()
    case.do(ReportContact(by=SCHOOL_OFFICE, request_id=rid(), contact_on=date(2026, 2, 4)))
    assert case.refuse(consent(on=date(2026, 2, 4))) == f"case {CASE} is closed"


@pytest.mark.parametrize("kind", list(ConsentKind))
def test_a_pupil_the_la_placed_at_a_special_school_moves_away_only_with_its_consent(
    kind: ConsentKind,
) -> None:
    # Concluded moved away on Wed 4 Mar: the documentary ground needs no count, but the LA that
    # placed the pupil must consent (2024 reg 9(4)), or the Secretary of State direct.
    case = concluded("moved_away", other_la="Leeds")
    case.do(facts(la_arranged_special_school=True), when=at(date(2026, 3, 4), 14))

    assert case.refuse(authorise("9(1)(g)")) == (
        f"deletion on 9(1)(g) not permitted on 4 Mar 2026: {SPECIAL_SCHOOL_REASON}"
    )

    case.do(consent(kind=kind, on=date(2026, 3, 4)), when=at(date(2026, 3, 4), 15))
    done = case.do(authorise("9(1)(g)"))

    assert case.state.stage is Stage.CLOSED
    letter = notification(done, n.OutcomeToSchool)
    assert (letter.ground, letter.deletion_from) == ("9(1)(g)", date(2026, 3, 4))


def test_the_absence_ground_of_a_pupil_placed_by_the_la_also_needs_its_consent() -> None:
    case = concluded()
    case.do(facts(la_arranged_special_school=True))
    record_absence_proofs(case, DAY20, when=at(date(2026, 3, 10)))
    assert case.refuse(authorise("9(1)(i)")) == (
        f"deletion on 9(1)(i) not permitted on 10 Mar 2026: {SPECIAL_SCHOOL_REASON}"
    )
    case.do(consent(on=date(2026, 3, 10)))
    assert case.do(authorise("9(1)(i)")).state.stage is Stage.CLOSED


# -- the facts that bear on deletion ---------------------------------------------------------------


def test_an_officer_records_facts_and_a_fact_left_out_is_unchanged() -> None:
    case = concluded("on_roll_elsewhere", new_school_laestab=OTHER_SCHOOL)

    first = case.do(
        facts(la_arranged_special_school=True, attendance_order_names_school=True),
        when=at(date(2026, 3, 4), 14),
    )

    expected = DeletionFacts(
        la_arranged_special_school=True,
        attendance_order_names_school=True,
        recorded_by=OFFICER,
        recorded_at=at(date(2026, 3, 4), 14),
    )
    assert case.state.facts == expected
    recorded = event(first, ev.DeletionFactsRecorded)
    assert (recorded.by, recorded.facts) == (OFFICER, expected)
    assert first.result is not None
    assert first.result.stage is Stage.AWAITING_DELETION_AUTHORISATION
    assert kinds(first) == []

    # Later: the order is revoked (False), the pupil found to be a mobile child; the placement,
    # left out, stays recorded.
    case.do(
        facts(TEAM_LEADER, attendance_order_names_school=False, mobile_child_main_school=True),
        when=at(date(2026, 3, 5)),
    )

    assert case.state.facts == DeletionFacts(
        la_arranged_special_school=True,
        attendance_order_names_school=False,
        mobile_child_main_school=True,
        recorded_by=TEAM_LEADER,
        recorded_at=at(date(2026, 3, 5)),
    )


def test_recording_facts_needs_a_fact_an_officer_and_an_open_case() -> None:
    case = concluded("moved_away", other_la="Leeds")
    assert case.refuse(facts()) == "no fact given: say which facts to record"
    assert case.refuse(facts(SCHOOL_OFFICE, s47_enquiries=True)) == (
        "recording facts that bear on deletion is for a cme officer or team leader, not a school"
    )
    case, _ = missing_pupil()
    case.do(ReportContact(by=SCHOOL_OFFICE, request_id=rid(), contact_on=date(2026, 2, 4)))
    assert case.refuse(facts(s47_enquiries=True)) == f"case {CASE} is closed"


@pytest.mark.parametrize(
    ("fact", "reason"),
    [
        (
            "attendance_order_names_school",
            "a school attendance order naming this school is in force: ground 9(1)(a) does not "
            "apply while it is: once the local authority amends or revokes the order, the ground "
            "is 9(1)(d) or 9(1)(e)",
        ),
        (
            "mobile_child_main_school",
            "the pupil is a mobile child and this is their main school: ground 9(1)(a) does not "
            "apply",
        ),
    ],
)
def test_a_fact_recorded_refuses_the_registered_elsewhere_ground(fact: str, reason: str) -> None:
    case = concluded("on_roll_elsewhere", new_school_laestab=OTHER_SCHOOL)
    case.do(facts(OFFICER, **{fact: True}), when=at(date(2026, 3, 4), 14))
    assert case.refuse(authorise("9(1)(a)")) == (
        f"deletion on 9(1)(a) not permitted on 4 Mar 2026: {reason}"
    )
    case.do(facts(OFFICER, **{fact: False}))
    assert case.do(authorise("9(1)(a)")).state.stage is Stage.CLOSED


def custodial_return(order: CustodialOrder) -> Case:
    """A Pupil Migration LA Return of Mon 9 Feb 2026 on the custodial ground, 9(1)(j): the pupil,
    who left on Fri 6 Feb, is detained under ``order``; the destination is not known (XXXXXXX)."""
    referral = migration_return(
        leaving_date=date(2026, 2, 6),
        referral_date=date(2026, 2, 9),
        ground="9(1)(j)",
        destination={"kind": "unknown"},
        custodial_order=order.value,
    )
    case, _ = Case.open(referral, SCHOOL_OFFICE, now=at(date(2026, 2, 9)), calendar=CALENDAR)
    return case


@pytest.mark.parametrize("order", [CustodialOrder.FINAL_ORDER, CustodialOrder.ORDER_OF_RECALL])
def test_the_custodial_ground_needs_a_final_order_or_a_recall_not_a_remand(
    order: CustodialOrder,
) -> None:
    # A return on the custodial ground without the order, or with a remand, is refused at intake.
    for kind in (None, "remand"):
        with pytest.raises(ReferralInvalid, match="a remand in custody is not one"):
            migration_return(
                leaving_date=date(2026, 2, 6),
                referral_date=date(2026, 2, 9),
                ground="9(1)(j)",
                destination={"kind": "unknown"},
                custodial_order=kind,
            )
    case = custodial_return(order)
    # The officer finds the sentence was quashed and the pupil is on remand: not the ground.
    case.do(facts(custodial_order=CustodialOrder.REMAND))
    assert case.state.facts.custodial_order is CustodialOrder.REMAND
    assert case.refuse(authorise("9(1)(j)")) == (
        "deletion on 9(1)(j) not permitted on 9 Feb 2026: a remand in custody is not a final "
        "court order or an order of recall: the custodial ground does not apply"
    )

    # Sentenced (or recalled) later: the officer records the order, and the ground is met.
    recorded = case.do(facts(custodial_order=order), when=at(date(2026, 2, 12)))
    assert event(recorded, ev.DeletionFactsRecorded).facts.custodial_order is order
    done = case.do(authorise("9(1)(j)"))
    letter = notification(done, n.OutcomeToSchool)
    assert (letter.ground, letter.deletion_from, letter.ctf_destination) == (
        "9(1)(j)",
        date(2026, 2, 12),
        "XXXXXXX",
    )
    assert case.state.stage is Stage.AWAITING_CTF  # the CTF is still due


def test_a_refused_deletion_reads_back_as_its_ground_date_and_every_reason() -> None:
    reasons = [
        "no LA enquiry recorded",
        "a school attendance order naming this school is in force: ground 9(1)(f) does not "
        "apply while it is: once the local authority amends or revokes the order, the ground "
        "is 9(1)(d) or 9(1)(e)",
    ]
    message = rules.deletion_refused("9(1)(f)", date(2026, 3, 4), reasons)
    assert message.startswith("deletion on 9(1)(f) not permitted on 4 Mar 2026: ")
    refusal = rules.deletion_refusal(message)
    assert refusal == rules.DeletionRefusal(ground="9(1)(f)", on="4 Mar 2026", reasons=reasons)
    assert rules.deletion_refusal("authorising deletion is for a cme officer") is None
