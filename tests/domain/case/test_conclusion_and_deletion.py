"""Concluding an investigation (the outcomes each kind of case allows) and authorising deletion:
the day-20 rule with its count, never backdated, the ground fitting the outcome, the written
outcome to the school with its deletion date and CTF; and a verified return's CTF."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from domain.case import events as ev
from domain.case import notifications as n
from domain.case.commands import AuthoriseDeletion, ConcludeInvestigation, ConfirmCtf
from domain.case.model import (
    Decision,
    InvestigationOutcome,
    Role,
    Stage,
    TaskName,
    TaskStatus,
)
from domain.case.notifications import Recipient
from domain.grounds import Rulebook

from .support import (
    CALENDAR,
    CASE,
    DAY20,
    OFFICER,
    OTHER_SCHOOL,
    PROFESSIONAL,
    SCHOOL,
    SCHOOL_OFFICE,
    TEAM_LEADER,
    Case,
    at,
    concluded,
    event,
    kinds,
    la_enquiry,
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

NOT_VERIFIED_OUTCOMES = (
    "home_educated, located_back_at_school, moved_away, not_located, on_roll_elsewhere"
)
NOT_ON_ROLL_OUTCOMES = "home_educated, left_area, not_located, placed_on_roll"


def conclude(outcome: str, **fields: Any) -> ConcludeInvestigation:
    return ConcludeInvestigation(
        by=OFFICER, request_id=rid(), outcome=InvestigationOutcome(outcome), **fields
    )


def authorise(ground: str, **fields: Any) -> AuthoriseDeletion:
    return AuthoriseDeletion(by=OFFICER, request_id=rid(), ground=ground, **fields)


# -- concluding a missing pupil's investigation ----------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "fields"),
    [
        ("on_roll_elsewhere", {"new_school_laestab": OTHER_SCHOOL}),
        ("moved_away", {"other_la": "Leeds"}),
        ("home_educated", {"ehe_letter_reference": "EHE-2026-001"}),
        ("not_located", {}),
    ],
)
def test_a_missing_pupils_investigation_concluded_awaits_the_authorisation(
    outcome: str, fields: dict[str, Any]
) -> None:
    case = referred_to_sat()
    case.do(la_enquiry("partner", date(2026, 2, 23)), when=at(date(2026, 2, 23)))

    done = case.do(conclude(outcome, note="checked", **fields), when=at(date(2026, 3, 4)))

    state = case.state
    assert state.stage is Stage.AWAITING_DELETION_AUTHORISATION
    assert state.conclusion is not None
    assert (state.conclusion.outcome.value, state.conclusion.by) == (outcome, OFFICER)
    assert [(t.name, t.assignee) for t in state.open_tasks()] == [
        (TaskName.AUTHORISE_DELETION, Role.CME_OFFICER)
    ]
    investigate = next(t for t in state.tasks if t.name is TaskName.INVESTIGATE)
    assert (investigate.status, investigate.done_by) == (TaskStatus.DONE, OFFICER)
    concluded_event = event(done, ev.InvestigationConcluded)
    assert (concluded_event.by, concluded_event.outcome.value, concluded_event.note) == (
        OFFICER,
        outcome,
        "checked",
    )
    changed = event(done, ev.StageChanged)
    assert (changed.by, changed.stage_to) == (OFFICER, Stage.AWAITING_DELETION_AUTHORISATION)
    assert kinds(done) == []
    assert done.result is not None and done.result.outcome is None


def test_a_missing_pupil_located_back_at_school_is_closed_with_no_deletion() -> None:
    case = referred_to_sat()
    done = case.do(conclude("located_back_at_school"), when=at(date(2026, 2, 23)))

    assert case.state.stage is Stage.CLOSED
    outcome = case.state.outcome
    assert outcome is not None
    assert outcome.decision is Decision.CLOSED
    assert outcome.closure_reason == "located: the child is back at school"
    closure = notification(done, n.ClosureToSchool)
    assert closure.to == [Recipient.SCHOOL, Recipient.SAT]
    assert closure.investigation_outcome is InvestigationOutcome.LOCATED_BACK_AT_SCHOOL
    assert done.result is not None and done.result.outcome == outcome


def test_moving_away_with_the_other_las_address_tells_the_other_la() -> None:
    case = referred_to_sat()
    done = case.do(
        conclude("moved_away", other_la="Leeds", other_la_email="cme@leeds.example.org"),
        when=at(date(2026, 2, 23)),
    )
    notice = notification(done, n.OtherLaNotice)
    assert notice.to == [Recipient.OTHER_LA]
    assert notice.other_address == "cme@leeds.example.org"
    assert notice.other_la == "Leeds"


@pytest.mark.parametrize(
    ("outcome", "fields", "reason"),
    [
        (
            "placed_on_roll",
            {"new_school_laestab": OTHER_SCHOOL},
            "placed_on_roll is not an outcome of a destination not verified case; choose one of "
            + NOT_VERIFIED_OUTCOMES,
        ),
        (
            "on_roll_elsewhere",
            {},
            "new_school_laestab: the school's 7-digit LAESTAB is needed, e.g. 8512001",
        ),
        (
            "on_roll_elsewhere",
            {"new_school_laestab": SCHOOL},
            "new_school_laestab: that is the school the child is missing from",
        ),
        (
            "moved_away",
            {},
            "other_la: name the local authority (or country) the child moved to",
        ),
        (
            "home_educated",
            {},
            "ehe_letter_reference: home education needs the parent's written deregistration letter",
        ),
        (
            "not_located",
            {},
            "no LA enquiry recorded: the CME officer's enquiries come before concluding not "
            "located",
        ),
    ],
)
def test_a_missing_pupils_conclusion_is_refused_without_what_its_outcome_needs(
    outcome: str, fields: dict[str, Any], reason: str
) -> None:
    case = referred_to_sat()  # no LA enquiry yet
    assert case.refuse(conclude(outcome, **fields), when=at(date(2026, 2, 23))) == reason


def test_only_a_case_under_investigation_is_concluded() -> None:
    case, _ = missing_pupil()
    assert case.refuse(conclude("moved_away", other_la="Leeds")) == (
        "only a case under investigation can be concluded; this one is at stage school enquiries"
    )
    case, _ = verified()
    assert case.refuse(conclude("on_roll_elsewhere", new_school_laestab=OTHER_SCHOOL)) == (
        "only a case under investigation can be concluded; this one is at stage awaiting ctf"
    )
    case = concluded()
    assert case.refuse(conclude("moved_away", other_la="Leeds")) == (
        "only a case under investigation can be concluded; this one is at stage awaiting "
        "deletion authorisation"
    )


# -- concluding a professional referral: a closure decision ----------------------------------------


@pytest.mark.parametrize(
    ("outcome", "fields", "reason"),
    [
        ("placed_on_roll", {"new_school_laestab": OTHER_SCHOOL}, "placed on roll at 8512001"),
        (
            "left_area",
            {"other_la": "Leeds"},
            "left the area: Leeds; the other LA has been told",
        ),
        (
            "home_educated",
            {"ehe_letter_reference": "EHE-2026-002"},
            "home educated (parent's written notice received)",
        ),
        ("not_located", {}, "not located after the LA's enquiries"),
    ],
)
def test_a_professional_referral_concluded_is_closed_and_written_to_the_referrer(
    outcome: str, fields: dict[str, Any], reason: str
) -> None:
    case, _ = not_on_roll()
    case.do(la_enquiry("school_place_offer", date(2026, 2, 26)))

    done = case.do(conclude(outcome, note="seen by SAT", **fields), when=at(date(2026, 2, 27)))

    state = case.state
    assert state.stage is Stage.CLOSED
    assert state.outcome is not None
    assert state.outcome.decision is Decision.CLOSED
    assert state.outcome.investigation_outcome is not None
    assert state.outcome.investigation_outcome.value == outcome
    assert state.outcome.closure_reason == f"{reason} (seen by SAT)"
    assert state.outcome.decided_by == OFFICER
    closure = notification(done, n.ClosureDecision)
    assert closure.to == [Recipient.SAT, Recipient.REFERRER]
    assert closure.other_address == "chris.demo@example.org"
    assert closure.reason == f"{reason} (seen by SAT)"
    assert closure.decided_by == OFFICER
    assert event(done, ev.CaseClosed).by == OFFICER
    assert done.result is not None and done.result.outcome == state.outcome
    # A closure decision is no deletion.
    assert case.refuse(authorise("9(1)(a)")) == f"case {CASE} is closed"


def test_a_professional_referral_has_no_missing_pupils_outcomes() -> None:
    case, _ = not_on_roll()
    assert case.refuse(conclude("on_roll_elsewhere", new_school_laestab=OTHER_SCHOOL)) == (
        "on_roll_elsewhere is not an outcome of a not on roll case; choose one of "
        + NOT_ON_ROLL_OUTCOMES
    )
    assert case.refuse(conclude("left_area")) == (
        "other_la: name the local authority (or country) the child moved to"
    )


# -- authorising deletion of a missing pupil -------------------------------------------------------


def test_deletion_is_not_authorised_before_day_20_has_passed() -> None:
    case = concluded()  # concluded not located on Wed 4 Mar 2026

    # 2-6 Feb, 9-13 Feb, 23-27 Feb (15), INSET Mon 2 Mar, 3-4 Mar: 17 school days by 4 Mar. Nor
    # are the proofs on file: the confirmation, and the codes of the 34 sessions of those 17 days
    # (the codes asked for are those of the counted days up to the decision date).
    assert case.refuse(authorise("9(1)(i)")) == (
        "deletion on 9(1)(i) not permitted on 4 Mar 2026: 17 of 20 school days by 4 Mar 2026: "
        "deletion is permitted from 10 Mar 2026 at the earliest; no recorded confirmation that "
        "there are no reasonable grounds to believe the pupil cannot attend because of sickness "
        "or an unavoidable cause; register codes not on file for 34 sessions (school days 2 Feb "
        "2026 to 4 Mar 2026): every session of the 20 school days must be coded G, N or O"
    )
    # Day 20 itself (Mon 9 Mar) is not enough, even with every proof: the 20 days must have
    # elapsed.
    record_absence_proofs(case, DAY20, when=at(date(2026, 3, 9), 16))
    assert case.refuse(authorise("9(1)(i)")) == (
        "deletion on 9(1)(i) not permitted on 9 Mar 2026: 20 of 20 school days by 9 Mar 2026: "
        "deletion is permitted from 10 Mar 2026 at the earliest"
    )


def test_a_missing_pupil_not_located_is_authorised_for_deletion_from_the_day_after_day_20() -> None:
    case = concluded()
    record_absence_proofs(case, DAY20, when=at(date(2026, 3, 10), 9))

    done = case.do(authorise("9(1)(i)"))

    state = case.state
    assert state.stage is Stage.CLOSED
    outcome = state.outcome
    assert outcome is not None
    assert outcome.decision is Decision.DELETION_AUTHORISED
    assert outcome.investigation_outcome is InvestigationOutcome.NOT_LOCATED
    assert (outcome.rulebook, outcome.ground, outcome.ground_other_rulebook) == (
        Rulebook.REGS_2024,
        "9(1)(i)",
        "8(1)(h)",
    )
    assert outcome.ground_title == "20 school days' continuous unauthorised absence"
    assert outcome.earliest_deletion_date == date(2026, 3, 10)
    assert outcome.ctf_destination == "XXXXXXX"  # the Lost Pupil Database
    assert (outcome.decided_by, outcome.decided_at) == (OFFICER, at(date(2026, 3, 10), 9))
    assert state.rulebook is Rulebook.REGS_2024
    assert state.open_tasks() == []
    authorisation = next(t for t in state.tasks if t.name is TaskName.AUTHORISE_DELETION)
    assert (authorisation.status, authorisation.done_by) == (TaskStatus.DONE, OFFICER)
    # The CTF is due 15 school days after the deletion date: 11-13 Mar (1-3), 16-20 (4-8),
    # 23-27 (9-13), Easter holidays, Mon 13 Apr (14), Tue 14 Apr 2026 (15).
    assert state.deadlines.ctf == date(2026, 4, 14)

    letter = notification(done, n.OutcomeToSchool)
    assert letter.to == [Recipient.SCHOOL, Recipient.SAT]
    assert letter.school_laestab == SCHOOL
    assert (letter.ground, letter.ground_other_rulebook, letter.rulebook) == (
        "9(1)(i)",
        "8(1)(h)",
        Rulebook.REGS_2024,
    )
    assert letter.deletion_from == date(2026, 3, 10)
    assert letter.ctf_destination == "XXXXXXX"
    assert letter.ctf_due == date(2026, 4, 14)
    assert letter.investigation_outcome is InvestigationOutcome.NOT_LOCATED
    assert letter.decided_by == OFFICER
    assert event(done, ev.DeletionAuthorised).by == OFFICER
    assert event(done, ev.CaseClosed).by == OFFICER
    assert done.result is not None and done.result.outcome == outcome


def test_absence_after_leave_is_authorised_after_10_school_days() -> None:
    # Leave ended Fri 6 Feb: day 1 Mon 9 Feb, day 10 Fri 27 Feb, INSET Mon 2 Mar, so deletion is
    # permitted from Tue 3 Mar.
    referral = school_referral(
        referral_date=date(2026, 2, 23),
        leave_end=date(2026, 2, 6),
        enquiries=[school_enquiry("phone_primary", date(2026, 2, 10))],
    )
    case, _ = Case.open(referral, SCHOOL_OFFICE, now=at(date(2026, 2, 23)), calendar=CALENDAR)
    case.tick()  # end of day 10: referred to the SAT
    case.do(la_enquiry("partner", date(2026, 2, 28)), when=at(date(2026, 2, 28)))
    case.do(conclude("not_located"), when=at(date(2026, 2, 28), 11))
    record_absence_proofs(case, None)  # the officer's confirmation; no code is prescribed

    assert case.refuse(authorise("9(1)(i)")) == (
        "ground 9(1)(i) (20 school days' continuous unauthorised absence) does not fit this "
        "case: its outcome points to the after leave ground"
    )
    # Mon 2 Mar is the INSET day: 10 school days (9-13, 23-27 Feb) have been counted.
    assert case.refuse(authorise("9(1)(h)"), when=at(date(2026, 3, 2))) == (
        "deletion on 9(1)(h) not permitted on 2 Mar 2026: 10 of 10 school days after leave "
        "ended on 6 Feb 2026, by 2 Mar 2026: deletion is permitted from 3 Mar 2026 at the "
        "earliest"
    )
    done = case.do(authorise("9(1)(h)"), when=at(date(2026, 3, 3)))
    assert notification(done, n.OutcomeToSchool).deletion_from == date(2026, 3, 3)


@pytest.mark.parametrize(
    ("outcome", "fields", "ground", "other", "ctf_destination"),
    [
        (
            "on_roll_elsewhere",
            {"new_school_laestab": OTHER_SCHOOL},
            "9(1)(a)",
            "8(1)(b)",
            "8512001",
        ),
        ("moved_away", {"other_la": "Leeds"}, "9(1)(g)", "8(1)(e)", "XXXXXXX"),
        (
            "home_educated",
            {"ehe_letter_reference": "EHE-2026-001", "ehe_letter_received_on": date(2026, 3, 2)},
            "9(1)(f)",
            "8(1)(d)",
            "XXXXXXX",
        ),
    ],
)
def test_a_documentary_ground_is_authorised_from_the_decision_date(
    outcome: str, fields: dict[str, Any], ground: str, other: str, ctf_destination: str
) -> None:
    # Concluded on Wed 4 Mar, before day 20: these grounds do not wait for the absence count.
    case = concluded(outcome, **fields)

    done = case.do(authorise(ground), when=at(date(2026, 3, 4), 15))

    letter = notification(done, n.OutcomeToSchool)
    assert (letter.ground, letter.ground_other_rulebook) == (ground, other)
    assert letter.deletion_from == date(2026, 3, 4)
    assert letter.ctf_destination == ctf_destination
    assert case.state.stage is Stage.CLOSED


@pytest.mark.parametrize(
    ("outcome", "fields", "ground", "title", "expected"),
    [
        (
            "on_roll_elsewhere",
            {"new_school_laestab": OTHER_SCHOOL},
            "9(1)(i)",
            "20 school days' continuous unauthorised absence",
            "registered elsewhere",
        ),
        ("not_located", {}, "9(1)(a)", "Registered at another school", "continuous absence"),
        (
            "moved_away",
            {"other_la": "Leeds"},
            "9(1)(f)",
            "Parent's written notice of education otherwise than at school (EHE)",
            "moved away",
        ),
        (
            "home_educated",
            {"ehe_letter_reference": "EHE-1"},
            "9(1)(g)",
            "No longer lives within reasonable distance of the school",
            "ehe",
        ),
    ],
)
def test_the_ground_must_fit_the_outcome(
    outcome: str, fields: dict[str, Any], ground: str, title: str, expected: str
) -> None:
    case = concluded(outcome, **fields)
    assert case.refuse(authorise(ground), when=at(date(2026, 3, 10))) == (
        f"ground {ground} ({title}) does not fit this case: its outcome points to the "
        f"{expected} ground"
    )


def test_a_ground_of_the_rules_no_longer_in_force_is_refused_with_the_code_to_use() -> None:
    case = concluded()
    assert case.refuse(authorise("8(1)(h)"), when=at(date(2026, 3, 10))) == (
        "8(1)(h) is a ground of the 2006 regulations; on this date the 2024 regulations apply: "
        "use 9(1)(i)"
    )


def test_deletion_is_never_backdated() -> None:
    case = concluded()
    assert case.refuse(
        authorise("9(1)(i)", decision_date=date(2026, 3, 10)), when=at(date(2026, 3, 11))
    ) == ("deletion is never backdated: decision date 10 Mar 2026 is before today (11 Mar 2026)")


def test_deletion_is_refused_before_the_conclusion() -> None:
    case = referred_to_sat()
    assert case.refuse(authorise("9(1)(i)"), when=at(date(2026, 3, 10))) == (
        "deletion cannot be authorised at stage la investigation: the investigation must be "
        "concluded first"
    )


def test_deletion_authorised_twice_says_by_whom_and_when() -> None:
    case = concluded()
    record_absence_proofs(case, DAY20, when=at(date(2026, 3, 10)))
    case.do(authorise("9(1)(i)"))

    assert case.refuse(
        AuthoriseDeletion(by=TEAM_LEADER, request_id=rid(), ground="9(1)(i)"),
        when=at(date(2026, 3, 12)),
    ) == ("deletion was already authorised on ground 9(1)(i) by Officer Example on 10 Mar 2026")


def test_the_joint_enquiries_are_needed_for_the_absence_ground() -> None:
    # The school made no enquiry: the 20-day ground refuses, with the reason, though every other
    # proof is on file.
    case, _ = missing_pupil(enquiries=[])
    case.tick()
    case.do(la_enquiry("partner", date(2026, 2, 23)), when=at(date(2026, 2, 23)))
    case.do(conclude("not_located"), when=at(date(2026, 3, 4)))
    record_absence_proofs(case, DAY20, when=at(date(2026, 3, 10)))
    assert case.refuse(authorise("9(1)(i)")) == (
        "deletion on 9(1)(i) not permitted on 10 Mar 2026: no school enquiry recorded"
    )


# -- a verified return: the CTF and the authorisation ----------------------------------------------


def test_a_verified_return_closes_once_authorised_and_the_ctf_is_confirmed() -> None:
    case, _ = verified()

    # Authorised in half term (Tue 17 Feb): the school deletes from the next school day, Mon 23 Feb.
    authorised = case.do(authorise("9(1)(a)"), when=at(date(2026, 2, 17)))

    state = case.state
    assert state.stage is Stage.AWAITING_CTF  # the CTF is still due
    assert state.outcome is not None
    assert state.outcome.decision is Decision.DELETION_AUTHORISED
    assert state.outcome.earliest_deletion_date == date(2026, 2, 23)
    assert state.outcome.investigation_outcome is None
    letter = notification(authorised, n.OutcomeToSchool)
    assert letter.to == [Recipient.SCHOOL, Recipient.SAT]
    assert (letter.ground, letter.ground_other_rulebook) == ("9(1)(a)", "8(1)(b)")
    assert letter.deletion_from == date(2026, 2, 23)
    assert letter.ctf_destination == "8512001"
    # 15 school days from the deletion, the return's date (Mon 9 Feb), not from the deletion date
    # the officer gives: Tue 10 Mar (see support).
    assert letter.ctf_due == date(2026, 3, 10)
    assert letter.investigation_outcome is None
    assert [t.name for t in state.open_tasks()] == [TaskName.SEND_CTF]

    confirmed = case.do(
        ConfirmCtf(
            by=SCHOOL_OFFICE,
            request_id=rid(),
            destination_code="851 2001",
            sent_on=date(2026, 2, 24),
        ),
        when=at(date(2026, 2, 24)),
    )

    state = case.state
    assert state.stage is Stage.CLOSED
    assert state.ctf is not None
    assert (state.ctf.destination_code, state.ctf.sent_on, state.ctf.on_time, state.ctf.by) == (
        "8512001",
        date(2026, 2, 24),
        True,
        SCHOOL_OFFICE,
    )
    ctf = event(confirmed, ev.CtfConfirmed)
    assert (ctf.by, ctf.destination_code, ctf.on_time) == (SCHOOL_OFFICE, "8512001", True)
    assert event(confirmed, ev.StageChanged).stage_to is Stage.CLOSED
    assert confirmed.result is not None
    assert (confirmed.result.destination_code, confirmed.result.ctf_on_time) == ("8512001", True)
    assert confirmed.result.stage is Stage.CLOSED


def test_a_verified_return_confirmed_first_closes_on_the_authorisation() -> None:
    case, _ = verified()
    case.do(
        ConfirmCtf(
            by=SCHOOL_OFFICE, request_id=rid(), destination_code="8512001", sent_on=date(2026, 2, 9)
        )
    )
    assert case.state.stage is Stage.AWAITING_CTF
    assert [t.name for t in case.state.open_tasks()] == [TaskName.AUTHORISE_DELETION]

    done = case.do(authorise("9(1)(a)"), when=at(date(2026, 2, 10)))

    assert done.state.stage is Stage.CLOSED
    assert notification(done, n.OutcomeToSchool).deletion_from == date(2026, 2, 10)
    assert event(done, ev.CaseClosed).by == OFFICER


def test_a_verified_return_is_deleted_on_the_returns_own_ground_only() -> None:
    case, _ = verified()
    assert case.refuse(authorise("9(1)(g)")) == (
        "ground 9(1)(g) (No longer lives within reasonable distance of the school) does not fit "
        "this case: its outcome points to the registered elsewhere ground"
    )


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("8512002", "destination_code: the return names destination 8512001, not 8512002"),
        ("XXXXXXX", "destination_code: the return names destination 8512001, not XXXXXXX"),
        # The seed's eight-letter spelling is an alias, named in the canonical seven letters.
        ("XXXXXXXX", "destination_code: the return names destination 8512001, not XXXXXXX"),
        ("MMMMMMMM", "destination_code: the return names destination 8512001, not MMMMMMM"),
        (
            "851LLLL",
            "destination_code: 851LLLL is an LA code without a school: use XXXXXXX, the Lost "
            "Pupil Database, when the school is not known (Portsmouth guidance, appendix 1)",
        ),
    ],
)
def test_a_ctf_to_another_destination_is_refused(code: str, reason: str) -> None:
    case, _ = verified()
    command = ConfirmCtf(
        by=SCHOOL_OFFICE, request_id=rid(), destination_code=code, sent_on=date(2026, 2, 9)
    )
    assert case.refuse(command) == reason


@pytest.mark.parametrize("code", ["XXXXXXX", "XXXXXXXX", "xxxx xxx"])
def test_a_ctf_to_the_lost_pupil_database_is_recorded_in_seven_letters(code: str) -> None:
    # The destination is not known: the return names the Lost Pupil Database. The seed's
    # eight-letter spelling is accepted as an alias, and recorded as XXXXXXX.
    referral = migration_return(
        leaving_date=date(2026, 2, 6),
        referral_date=date(2026, 2, 9),
        destination={"kind": "unknown"},
    )
    case, _ = Case.open(referral, SCHOOL_OFFICE, now=at(date(2026, 2, 9)), calendar=CALENDAR)

    done = case.do(
        ConfirmCtf(
            by=SCHOOL_OFFICE, request_id=rid(), destination_code=code, sent_on=date(2026, 2, 9)
        )
    )

    assert case.state.ctf is not None and case.state.ctf.destination_code == "XXXXXXX"
    assert event(done, ev.CtfConfirmed).destination_code == "XXXXXXX"
    assert done.result is not None and done.result.destination_code == "XXXXXXX"


def test_a_ctf_is_confirmed_only_where_one_is_due_and_not_by_a_professional() -> None:
    command = ConfirmCtf(
        by=SCHOOL_OFFICE, request_id=rid(), destination_code="8512001", sent_on=date(2026, 2, 9)
    )
    case, _ = missing_pupil()
    assert case.refuse(command) == "no CTF is due on this case"

    case, _ = verified()
    assert case.refuse(
        ConfirmCtf(
            by=PROFESSIONAL,
            request_id=rid(),
            destination_code="8512001",
            sent_on=date(2026, 2, 9),
        )
    ) == ("confirming the CTF is for a cme officer or school or team leader, not a professional")


def test_an_la_that_allows_them_takes_a_ctf_to_an_la_code_without_a_school() -> None:
    """Portsmouth refuses 851LLLL (seed appendix 1: an unknown school is the Lost Pupil
    Database); an LA that turns the setting off takes it for a destination whose school is not
    known."""
    from domain.case.commands import CasePolicy, ConfirmCtf
    from tests.domain.case.support import LEFT, RETURN_FILED

    unknown = {"kind": "unknown"}
    case, _ = Case.open(
        migration_return(leaving_date=LEFT, referral_date=RETURN_FILED, destination=unknown),
        SCHOOL_OFFICE,
        now=at(RETURN_FILED),
    )
    sent = ConfirmCtf(
        by=SCHOOL_OFFICE, request_id=rid(), destination_code="851LLLL", sent_on=RETURN_FILED
    )
    assert "an LA code without a school: use XXXXXXX" in case.refuse(sent)
    case.policy = CasePolicy(refuse_la_without_school=False)
    assert case.do(sent).result is not None
    assert case.state.ctf is not None and case.state.ctf.destination_code == "851LLLL"
