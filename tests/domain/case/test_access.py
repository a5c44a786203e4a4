"""Who may do what on a case: the case refuses every request its actor may not make (issue 10).

The actor (name, role and, for a school's user, the schools they act for) comes from a trusted
client (the web app's signed-in user, the operator's CLI); the case decides from it alone.
"""

from __future__ import annotations

from datetime import date

import pytest

from domain.case import Context, Rejected, open_case
from domain.case.commands import (
    AuthoriseDeletion,
    ConcludeInvestigation,
    OpenCase,
    RaiseConcern,
    Reassign,
    RecordEnquiry,
    RegisterReferral,
    ShareInformation,
    Withdraw,
)
from domain.case.model import Actor, InvestigationOutcome, Role
from domain.case.rules import can_view, case_schools
from domain.intake import AnyReferral

from .support import (
    CALENDAR,
    CASE,
    OFFICER,
    OTHER_SCHOOL,
    PROFESSIONAL,
    PROFESSIONAL_REFERRED,
    SCHOOL,
    SCHOOL_OFFICE,
    TEAM_LEADER,
    Case,
    at,
    concluded,
    enquiry,
    missing_pupil,
    not_on_roll,
    professional_referral,
    rid,
    school_referral,
)

OTHER_OFFICE = Actor(name="Mr Other", role=Role.SCHOOL, schools=(OTHER_SCHOOL,))
NO_SCHOOLS = Actor(name="Mr Nobody", role=Role.SCHOOL)
MASH = Actor(name="Mash Duty", role=Role.MASH)
MANAGER = Actor(name="Manager Example", role=Role.MANAGER)
ADMIN = Actor(name="Admin Example", role=Role.ADMIN)


def _school_enquiry(by: Actor) -> RecordEnquiry:
    return RecordEnquiry(
        by=by, request_id=rid(), enquiry=enquiry("school", "home_visit", date(2026, 2, 4))
    )


# -- a school's user: its own schools' cases only --------------------------------------------------


def test_a_school_user_acts_on_its_own_schools_case() -> None:
    case, _ = missing_pupil()
    done = case.do(_school_enquiry(SCHOOL_OFFICE))
    assert done.result is not None and done.result.enquiries_recorded == 3


@pytest.mark.parametrize(
    "request_of",
    [
        _school_enquiry,
        lambda by: RaiseConcern(by=by, request_id=rid(), concern="Seen leaving at night"),
        lambda by: ShareInformation(by=by, request_id=rid(), information="Sibling elsewhere"),
    ],
    ids=["enquiry", "concern", "share"],
)
def test_another_schools_user_cannot_touch_the_case(request_of: object) -> None:
    case, _ = missing_pupil()
    assert callable(request_of)
    reason = case.refuse(request_of(OTHER_OFFICE))
    assert reason == (
        "this case is not one of your schools': a school user acts only on the cases of 8512001"
    )
    # The refusal names only the user's own schools, never the case's.
    assert SCHOOL not in reason


def test_a_school_user_acting_for_no_school_is_refused() -> None:
    case, _ = missing_pupil()
    assert case.refuse(_school_enquiry(NO_SCHOOLS)) == (
        "a school user acts for named schools: none is given"
    )


def test_a_school_user_cannot_conclude_authorise_withdraw_or_reassign_its_own_case() -> None:
    case = concluded()
    refusals = {
        "conclude": case.refuse(
            ConcludeInvestigation(
                by=SCHOOL_OFFICE, request_id=rid(), outcome=InvestigationOutcome.NOT_LOCATED
            )
        ),
        "authorise": case.refuse(
            AuthoriseDeletion(by=SCHOOL_OFFICE, request_id=rid(), ground="9(1)(i)")
        ),
        "withdraw": case.refuse(Withdraw(by=SCHOOL_OFFICE, request_id=rid(), reason="mistake")),
        "reassign": case.refuse(Reassign(by=SCHOOL_OFFICE, request_id=rid(), officer="Officer Z")),
    }
    for action, reason in refusals.items():
        assert reason.endswith("not a school"), (action, reason)


def test_only_a_team_leader_withdraws_or_reassigns() -> None:
    case, _ = missing_pupil()
    assert case.refuse(Withdraw(by=OFFICER, request_id=rid(), reason="mistake")).endswith(
        "not a cme officer"
    )
    assert case.refuse(Reassign(by=OFFICER, request_id=rid(), officer="Officer Z")).endswith(
        "not a cme officer"
    )
    done = case.do(Reassign(by=TEAM_LEADER, request_id=rid(), officer="Officer Z"))
    assert done.state.assigned_officer == "Officer Z"


@pytest.mark.parametrize(
    ("reader", "words"),
    [
        (MASH, "MASH reads child-protection cases and changes none"),
        (MANAGER, "a manager reads cases and changes none"),
        (ADMIN, "an administrator manages users and changes no case"),
    ],
    ids=["mash", "manager", "admin"],
)
def test_readers_and_administrators_change_nothing(reader: Actor, words: str) -> None:
    case, _ = missing_pupil()
    assert case.refuse(_school_enquiry(reader)) == words
    assert case.refuse(Reassign(by=reader, request_id=rid(), officer="Officer Z")) == words


def test_a_stored_answer_is_not_given_to_someone_who_may_not_ask() -> None:
    case, _ = missing_pupil()
    first = _school_enquiry(SCHOOL_OFFICE)
    case.do(first)
    # The same request id from another school's user: refused, not answered from the store.
    stolen = first.model_copy(update={"by": OTHER_OFFICE})
    assert case.refuse(stolen).startswith("this case is not one of your schools'")


# -- who may refer ---------------------------------------------------------------------------------


def _open(referral: AnyReferral, by: Actor) -> str:
    command = OpenCase(referral=referral, referred_by=by, request_id="opening-1")
    with pytest.raises(Rejected) as refused:
        open_case(CASE, command, Context(now=at(date(2026, 2, 4)), calendar=CALENDAR))
    return refused.value.message


def test_a_school_user_refers_only_its_own_schools_pupils() -> None:
    referral = school_referral(referral_date=date(2026, 2, 4), day1=date(2026, 2, 2))
    assert _open(referral, OTHER_OFFICE).startswith("this case is not one of your schools'")
    case, _ = Case.open(referral, SCHOOL_OFFICE, now=at(date(2026, 2, 4)))
    assert case_schools(case.state) == (SCHOOL,)


def test_a_professional_uses_the_professional_form_only() -> None:
    referral = school_referral(referral_date=date(2026, 2, 4), day1=date(2026, 2, 2))
    assert _open(referral, PROFESSIONAL) == (
        "a professional refers a child who may not be on a roll (the professional form); the "
        "school's forms are for its staff"
    )


def test_a_manager_cannot_refer() -> None:
    referral = professional_referral(referral_date=PROFESSIONAL_REFERRED)
    assert _open(referral, MANAGER).startswith("a manager reads cases")


def test_a_child_on_no_roll_referred_by_a_school_is_that_schools_case() -> None:
    referral = professional_referral(referral_date=PROFESSIONAL_REFERRED)
    case, _ = Case.open(referral, OTHER_OFFICE, now=at(PROFESSIONAL_REFERRED))
    assert case_schools(case.state) == (OTHER_SCHOOL,)
    assert case.refuse(
        RaiseConcern(by=SCHOOL_OFFICE, request_id=rid(), concern="Seen leaving at night")
    ).startswith("this case is not one of your schools'")


def test_another_schools_referral_of_the_same_child_joins_the_case() -> None:
    case, _ = missing_pupil()
    # Another school's user refers the same child (the professional form: not on their roll).
    again = professional_referral(referral_date=date(2026, 2, 4))
    done = case.do(RegisterReferral(by=OTHER_OFFICE, request_id=rid(), referral=again))
    assert done.result is not None and done.result.referrals_received == 2
    # ... yet may not act on the case.
    assert case.refuse(_school_enquiry(OTHER_OFFICE)).startswith(
        "this case is not one of your schools'"
    )


# -- who may read ----------------------------------------------------------------------------------


def test_who_may_read_a_case() -> None:
    ordinary, _ = missing_pupil()
    protected, _ = not_on_roll(cp=True)
    for state, cp in ((ordinary.state, False), (protected.state, True)):
        schools = case_schools(state)
        assert can_view(OFFICER, schools=schools, child_protection=cp)
        assert can_view(TEAM_LEADER, schools=schools, child_protection=cp)
        assert can_view(MANAGER, schools=schools, child_protection=cp)
        assert can_view(MASH, schools=schools, child_protection=cp) is cp
        assert not can_view(ADMIN, schools=schools, child_protection=cp)
        assert not can_view(OTHER_OFFICE, schools=schools, child_protection=cp)
        assert not can_view(PROFESSIONAL, schools=schools, child_protection=cp)
    assert can_view(SCHOOL_OFFICE, schools=case_schools(ordinary.state), child_protection=False)
