"""Is deletion on a ground permitted on a date? Worked by hand on the Portsmouth calendar.

Portsmouth 2025/26 (domain/calendars/portsmouth-2025-26.toml): autumn term 3 Sep to 19 Dec 2025,
half term 27 to 31 Oct 2025; school 8512000 has an INSET day on Mon 3 Nov 2025.

The 20-day rule, day 1 = Mon 13 Oct 2025, counted by hand:
  13-17 Oct = days 1-5, 20-24 Oct = days 6-10, 27-31 Oct half term (not counted),
  3-7 Nov = days 11-15, 10-14 Nov = days 16-20, so day 20 = Fri 14 Nov 2025 and the earliest
  deletion date is the school day after it, Mon 17 Nov 2025.
  For school 8512000 (INSET Mon 3 Nov): 4-7 Nov = days 11-14, 10-14 Nov = days 15-19,
  Mon 17 Nov = day 20, earliest Tue 18 Nov 2025.

Decisions under the 2006 rules (before 19 Aug 2024) use a synthetic 2023/24 calendar built below.

"2006" is The Education (Pupil Registration) (England) Regulations 2006, "2024" The School
Attendance (Pupil Registration) (England) Regulations 2024. The helpers below build facts that meet
a ground (the officer's no-sickness confirmation, and for 2024 9(1)(i) a register code on every
session); each rule's own tests take one fact away. The law's new points (docs/law.md) are tested
at the end of this file, each citing its rule.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from domain.calendar import (
    DEFAULT_CALENDAR_PATH,
    LA_CALENDAR_PATH,
    CalendarEndsError,
    SchoolCalendar,
)
from domain.deletion import (
    EVIDENCE_DESCRIPTIONS,
    MOVED_AWAY,
    OTHER_SCHOOL_CONSENT,
    REGISTERED_ELSEWHERE_CONFIRMED,
    CaseFacts,
    ConsentKind,
    CustodialOrder,
    DeletionAssessment,
    LaConsent,
    OfficerConfirmation,
    SessionCode,
    assess_deletion,
)
from domain.enquiries import AbsenceKind, Enquiry, EnquiryBy, EnquiryKind, EnquiryOutcome
from domain.grounds import (
    Ground,
    GroundKey,
    Rulebook,
    UnknownGroundError,
    grounds,
    other_rulebook_code,
)

PORTSMOUTH = SchoolCalendar.load(DEFAULT_CALENDAR_PATH)
LA_CALENDAR = SchoolCalendar.load(LA_CALENDAR_PATH)  # 2025/26 and the provisional 2026/27
INSET_SCHOOL = "8512000"  # INSET day Mon 3 Nov 2025

SYNTHETIC_2023_24 = """
la_code = 851
la_name = "Synthetic"

[[term]]
name = "Autumn 2023"
first_day = 2023-09-04
last_day = 2023-12-20
closures = [[2023-10-23, 2023-10-27]]

[[term]]
name = "Spring 2024"
first_day = 2024-01-03
last_day = 2024-03-28
closures = [[2024-02-12, 2024-02-16]]

[[term]]
name = "Summer 2024"
first_day = 2024-04-15
last_day = 2024-07-23
closures = [[2024-05-27, 2024-05-31]]

[[term]]
name = "Autumn 2024"
first_day = 2024-09-02
last_day = 2024-12-20
closures = [[2024-10-28, 2024-11-01]]
"""


def synthetic_calendar() -> SchoolCalendar:
    """A small 2023/24 (and autumn 2024) calendar, for decisions under the 2006 rules."""
    return SchoolCalendar.loads(SYNTHETIC_2023_24, source="synthetic-2023-24")


OLD = synthetic_calendar()

# 2024 rules, Portsmouth 2025/26.
DAY1 = date(2025, 10, 13)  # Mon
DAY19 = date(2025, 11, 13)  # Thu
DAY20 = date(2025, 11, 14)  # Fri
EARLIEST = date(2025, 11, 17)  # Mon
LEAVE_END = date(2025, 10, 3)  # Fri; day 1 Mon 6 Oct, day 10 Fri 17 Oct
LEAVE_EARLIEST = date(2025, 10, 20)  # Mon

# 2006 rules, synthetic calendar: day 1 Mon 3 Jun 2024, day 20 Fri 28 Jun, earliest Mon 1 Jul.
OLD_DAY1 = date(2024, 6, 3)
OLD_EARLIEST = date(2024, 7, 1)
OLD_LEAVE_END = date(2024, 5, 31)  # Fri (in half term); day 1 Mon 3 Jun, day 10 Fri 14 Jun
OLD_LEAVE_EARLIEST = date(2024, 6, 17)
LAST_2006_DAY = date(2024, 8, 18)
FIRST_2024_DAY = date(2024, 8, 19)


def school(on: date, outcome: EnquiryOutcome = EnquiryOutcome.NO_CONTACT) -> Enquiry:
    return Enquiry(by=EnquiryBy.SCHOOL, kind=EnquiryKind.PHONE_PRIMARY, made_on=on, outcome=outcome)


def la(on: date, outcome: EnquiryOutcome = EnquiryOutcome.NO_CONTACT) -> Enquiry:
    return Enquiry(by=EnquiryBy.LA, kind=EnquiryKind.HOME_VISIT, made_on=on, outcome=outcome)


def register(first: date, code: str = "N", days: int = 70) -> list[SessionCode]:
    """``code`` on both sessions of every weekday for ``days`` days from ``first``.

    A register with no gap, built without the calendar: the rule reads only the sessions of the
    school days it counts, so codes on weekends and holidays are never looked at.
    """
    out = []
    for i in range(days):
        d = date.fromordinal(first.toordinal() + i)
        if d.weekday() < 5:
            out += [SessionCode(day=d, session="am", code=code)]
            out += [SessionCode(day=d, session="pm", code=code)]
    return out


def confirmed(on: date) -> OfficerConfirmation:
    """The officer's confirmation: no reasonable grounds to believe sickness keeps them away."""
    return OfficerConfirmation(by="A Officer", on=on)


def unauthorised(day1: date = DAY1, *, codes_on_file: bool = True, **extra: Any) -> CaseFacts:
    """Unauthorised absence from ``day1``: failed school and LA enquiries soon after, the officer's
    no-sickness confirmation, and (unless ``codes_on_file`` is false) N on every session, with
    ``attendance_codes`` recorded after them."""
    enquiries = [school(day1), la(day1)]
    codes = register(day1) if codes_on_file else []
    return CaseFacts(
        absence_kind=AbsenceKind.UNAUTHORISED,
        first_day_of_absence=day1,
        enquiries=extra.pop("enquiries", enquiries),
        attendance_codes=[*codes, *extra.pop("attendance_codes", [])],
        no_sickness_confirmation=extra.pop("no_sickness_confirmation", confirmed(day1)),
        **extra,
    )


def after_leave(leave_end: date = LEAVE_END, **extra: Any) -> CaseFacts:
    enquiries = [school(leave_end), la(leave_end)]
    return CaseFacts(
        absence_kind=AbsenceKind.AFTER_LEAVE,
        leave_end_date=leave_end,
        enquiries=extra.pop("enquiries", enquiries),
        no_sickness_confirmation=extra.pop("no_sickness_confirmation", confirmed(leave_end)),
        **extra,
    )


# Ceases to be of compulsory school age: born 10 Mar 2008, 16 on 10 Mar 2024 (school year 2023/24),
# so compulsory school age ends on the last Friday in June 2024, Fri 28 Jun (30 Jun 2024 is a
# Sunday). Born 15 Jan 2010: 16 in school year 2025/26, ends Fri 26 Jun 2026 (30 Jun is a Tuesday).
LEAVER_2024 = date(2008, 3, 10)
LEAVER_2026 = date(2010, 1, 15)
LEAVING_DAY_2026 = date(2026, 6, 26)


def facts_meeting(ground: Ground) -> CaseFacts:
    """Facts on which ``ground`` is met by :func:`decision_for` ``(ground)``."""
    old = ground.rulebook is Rulebook.REGS_2006
    if ground.key is GroundKey.CONTINUOUS_ABSENCE:
        return unauthorised(OLD_DAY1 if old else DAY1)
    if ground.key is GroundKey.AFTER_LEAVE:
        return after_leave(OLD_LEAVE_END if old else LEAVE_END)
    if ground.key is GroundKey.EHE:
        return CaseFacts(
            ehe_letter_reference="EHE/2024/17",
            ehe_letter_received_on=date(2024, 7, 1) if old else date(2025, 11, 3),
        )
    evidence = {key: f"ref {key}" for key in (*ground.evidence, *ground.evidence_any[:1])}
    if ground.key is GroundKey.CUSTODIAL:
        return CaseFacts(evidence=evidence, custodial_order=CustodialOrder.FINAL_ORDER)
    if ground.key is GroundKey.CEASED_COMPULSORY_AGE:
        return CaseFacts(evidence=evidence, date_of_birth=LEAVER_2024 if old else LEAVER_2026)
    return CaseFacts(evidence=evidence)


def decision_for(ground: Ground) -> tuple[date, SchoolCalendar]:
    if ground.rulebook is Rulebook.REGS_2006:
        return LAST_2006_DAY, OLD
    if ground.key is GroundKey.CEASED_COMPULSORY_AGE:
        return LEAVING_DAY_2026, LA_CALENDAR  # the school next meets on Mon 29 Jun 2026
    return EARLIEST, PORTSMOUTH


ALL_GROUNDS = [*grounds(Rulebook.REGS_2006), *grounds(Rulebook.REGS_2024)]


def _id(g: Ground) -> str:
    return g.code


NOT_SICK_MISSING = (
    "no recorded confirmation that there are no reasonable grounds to believe the pupil cannot "
    "attend because of sickness or an unavoidable cause"
)

# What a CME officer reads when nothing at all is on file, by meaning (and 2006 8(1)(a) by code).
EMPTY_FACTS_8_1_A = [
    "evidence missing: school attendance order amended by the LA to name another school or "
    "school attendance order revoked by the LA"
]
EMPTY_FACTS_REASONS: dict[GroundKey, list[str]] = {
    GroundKey.SAO_SUBSTITUTED: [
        "evidence missing: school attendance order amended by the LA to name another school"
    ],
    GroundKey.REGISTERED_ELSEWHERE: [
        "evidence missing: registration at the other school confirmed"
    ],
    GroundKey.DUAL_REGISTERED_CONSENT: [
        "evidence missing: consent to the deletion from every other school the pupil is on roll at"
    ],
    GroundKey.EHE: ["EHE letter missing: the parent's written notice is needed"],
    GroundKey.MOVED_AWAY: ["evidence missing: new address beyond a reasonable distance"],
    GroundKey.AFTER_LEAVE: [
        "absence not recorded as after leave",
        "date the leave of absence ended not recorded",
        "no school enquiry recorded",
        "no LA enquiry recorded",
        NOT_SICK_MISSING,
    ],
    GroundKey.MEDICALLY_UNFIT: [
        "evidence missing: medical certificate that the pupil is unlikely to be fit to attend "
        "school"
    ],
    GroundKey.CONTINUOUS_ABSENCE: [
        "absence not recorded as unauthorised",
        "first day of absence not recorded",
        "no school enquiry recorded",
        "no LA enquiry recorded",
        NOT_SICK_MISSING,
    ],
    GroundKey.CUSTODIAL: [
        "evidence missing: final court order or order of recall detaining the pupil for at least "
        "4 months (a remand does not count)",
        "kind of custody not recorded: the ground needs a final court order or an order of "
        "recall, not a remand",
    ],
    GroundKey.DIED: ["evidence missing: notification of the pupil's death"],
    GroundKey.CEASED_COMPULSORY_AGE: [
        "evidence missing: confirmation the pupil will not continue at the school: the parent has "
        "said so, or the pupil does not meet the sixth form's academic entry requirements",
        "date of birth not recorded: it shows whether the pupil ceases to be of compulsory "
        "school age before the school next meets",
    ],
    GroundKey.CEASED_INDEPENDENT: [
        "evidence missing: confirmation the pupil has ceased to be a pupil of the school"
    ],
    GroundKey.PERMANENTLY_EXCLUDED: [
        "evidence missing: permanent exclusion confirmed, with no review or appeal pending"
    ],
    GroundKey.NURSERY_NOT_TRANSFERRING: [
        "evidence missing: confirmation the nursery pupil is not moving up to reception"
    ],
    GroundKey.BOARDER_UNPAID: [
        "evidence missing: boarding charges unpaid at the end of the term they are for"
    ],
    GroundKey.SAO_REVOKED: ["evidence missing: school attendance order revoked by the LA"],
}


# -- every ground, both rulebooks -----------------------------------------------------------------


@pytest.mark.parametrize("ground", ALL_GROUNDS, ids=_id)
def test_every_ground_permitted_when_met(ground: Ground) -> None:
    decision, calendar = decision_for(ground)
    result = assess_deletion(ground.code, decision, facts_meeting(ground), calendar)
    assert isinstance(result, DeletionAssessment)
    assert result.reasons == []
    assert result.permitted is True
    assert result.ground == ground
    if ground.code == "8(1)(a)":  # its evidence shows the order was substituted: 2024 9(1)(d)
        assert result.ground_other_rulebook == "9(1)(d)"
    else:
        assert result.ground_other_rulebook == other_rulebook_code(ground)
    assert result.decision_date == decision
    assert result.earliest_date is not None
    assert result.earliest_date <= decision


@pytest.mark.parametrize("ground", ALL_GROUNDS, ids=_id)
def test_every_ground_refused_on_empty_facts_with_every_reason(ground: Ground) -> None:
    decision, calendar = decision_for(ground)
    result = assess_deletion(ground.code, decision, CaseFacts(), calendar)
    assert result.permitted is False
    expected = EMPTY_FACTS_8_1_A if ground.code == "8(1)(a)" else EMPTY_FACTS_REASONS[ground.key]
    assert result.reasons == expected
    timed = (GroundKey.CONTINUOUS_ABSENCE, GroundKey.AFTER_LEAVE, GroundKey.CEASED_COMPULSORY_AGE)
    if ground.key in timed:  # no day 1, no leave end, no date of birth: no date to give
        assert result.earliest_date is None
    else:  # nothing about time stands in the way
        assert result.earliest_date == decision


@pytest.mark.parametrize("ground", [g for g in ALL_GROUNDS if len(g.evidence) > 0], ids=_id)
def test_documentary_grounds_refuse_blank_evidence(ground: Ground) -> None:
    decision, calendar = decision_for(ground)
    blank = {key: "   " for key in ground.evidence} | {"unrelated": "x"}
    facts = facts_meeting(ground).model_copy(update={"evidence": blank})
    result = assess_deletion(ground.code, decision, facts, calendar)
    assert result.permitted is False
    assert result.reasons == [
        f"evidence missing: {EVIDENCE_DESCRIPTIONS[key]}" for key in ground.evidence
    ]


def test_documentary_ground_by_evidence_constant() -> None:
    facts = CaseFacts(evidence={REGISTERED_ELSEWHERE_CONFIRMED: "Admissions email 4 Nov 2025"})
    result = assess_deletion("9(1)(a)", date(2025, 11, 5), facts, PORTSMOUTH)
    assert result.permitted is True
    assert result.earliest_date == date(2025, 11, 5)
    assert result.ground_other_rulebook == "8(1)(b)"
    wrong = CaseFacts(evidence={MOVED_AWAY: "New address in Leeds"})
    refused = assess_deletion("reg 9(1)(c)", date(2025, 11, 5), wrong, PORTSMOUTH)
    assert refused.reasons == [f"evidence missing: {EVIDENCE_DESCRIPTIONS[OTHER_SCHOOL_CONSENT]}"]


# -- the rulebook switch on 18/19 Aug 2024 --------------------------------------------------------


@pytest.mark.parametrize("ground", grounds(Rulebook.REGS_2006), ids=_id)
def test_2006_codes_accepted_to_18_aug_2024_refused_from_19_aug(ground: Ground) -> None:
    facts = facts_meeting(ground)
    assert assess_deletion(ground.code, LAST_2006_DAY, facts, OLD).permitted is True
    with pytest.raises(UnknownGroundError) as err:
        assess_deletion(ground.code, FIRST_2024_DAY, facts, OLD)
    assert str(err.value).startswith(ground.code)
    assert "on this date the 2024 regulations apply" in str(err.value)
    other = other_rulebook_code(ground)
    if ground.code == "8(1)(a)":  # substituted or revoked: two 2024 grounds (see item 5 below)
        assert str(err.value).endswith(
            "use 9(1)(d) (school attendance order names another school) or 9(1)(e) (school "
            "attendance order revoked)"
        )
    elif other is not None:
        assert str(err.value).endswith(f"use {other}")


@pytest.mark.parametrize("ground", grounds(Rulebook.REGS_2024), ids=_id)
def test_2024_codes_refused_to_18_aug_2024_accepted_from_19_aug(ground: Ground) -> None:
    with pytest.raises(UnknownGroundError) as err:
        assess_deletion(ground.code, LAST_2006_DAY, CaseFacts(), OLD)
    assert "on this date the 2006 regulations apply" in str(err.value)
    facts = facts_meeting(ground.model_copy(update={"rulebook": Rulebook.REGS_2006}))
    result = assess_deletion(ground.code, FIRST_2024_DAY, facts, OLD)
    assert result.ground == ground
    assert result.permitted is True, result.reasons


def test_switch_messages_a_cme_officer_reads() -> None:
    with pytest.raises(UnknownGroundError) as err:
        assess_deletion("8(1)(h)", FIRST_2024_DAY, unauthorised(OLD_DAY1), OLD)
    assert str(err.value) == (
        "8(1)(h) is a ground of the 2006 regulations; on this date the 2024 regulations apply: "
        "use 9(1)(i)"
    )
    with pytest.raises(UnknownGroundError) as err:
        assess_deletion("9(1)(i)", LAST_2006_DAY, unauthorised(OLD_DAY1), OLD)
    assert str(err.value) == (
        "9(1)(i) is a ground of the 2024 regulations; on this date the 2006 regulations apply: "
        "use 8(1)(h)"
    )


def test_unknown_code_propagates() -> None:
    with pytest.raises(UnknownGroundError, match="'8\\(1\\)\\(x\\)' is not a ground"):
        assess_deletion("8(1)(x)", EARLIEST, CaseFacts(), PORTSMOUTH)


def test_2006_rules_prescribe_no_codes() -> None:
    # 2006 8(1)(h) names no register codes: none on file is no refusal, nor an authorised C.
    assert assess_deletion(
        "8(1)(h)", OLD_EARLIEST, unauthorised(OLD_DAY1, codes_on_file=False), OLD
    ).permitted
    codes = [SessionCode(day=date(2024, 6, 4), session="am", code="C")]
    result = assess_deletion(
        "8(1)(h)", OLD_EARLIEST, unauthorised(OLD_DAY1, attendance_codes=codes), OLD
    )
    assert result.permitted is True
    assert result.earliest_date == OLD_EARLIEST


def test_2006_twenty_days_on_synthetic_calendar() -> None:
    result = assess_deletion("8(1)(h)", date(2024, 6, 28), unauthorised(OLD_DAY1), OLD)
    assert result.reasons == [
        "20 of 20 school days by 28 Jun 2024: deletion is permitted from 1 Jul 2024 at the earliest"
    ]
    assert result.ground_other_rulebook == "9(1)(i)"


# -- 20 school days' continuous unauthorised absence, Portsmouth 2025/26 --------------------------


def test_hand_worked_portsmouth_calendar() -> None:
    assert PORTSMOUTH.nth_school_day(DAY1, 10) == date(2025, 10, 24)
    assert PORTSMOUTH.nth_school_day(DAY1, 11) == date(2025, 11, 3)  # half term skipped
    assert PORTSMOUTH.nth_school_day(DAY1, 19) == DAY19
    assert PORTSMOUTH.nth_school_day(DAY1, 20) == DAY20
    assert PORTSMOUTH.school_day_after(DAY20, 1) == EARLIEST
    assert PORTSMOUTH.nth_school_day(DAY1, 20, INSET_SCHOOL) == date(2025, 11, 17)


def test_refused_on_school_day_19() -> None:
    result = assess_deletion("9(1)(i)", DAY19, unauthorised(), PORTSMOUTH)
    assert result.permitted is False
    assert result.earliest_date == EARLIEST
    assert result.reasons == [
        "19 of 20 school days by 13 Nov 2025: deletion is permitted from 17 Nov 2025 at the "
        "earliest"
    ]


def test_refused_on_school_day_20() -> None:
    result = assess_deletion("9(1)(i)", DAY20, unauthorised(), PORTSMOUTH)
    assert result.permitted is False
    assert result.earliest_date == EARLIEST
    assert result.reasons == [
        "20 of 20 school days by 14 Nov 2025: deletion is permitted from 17 Nov 2025 at the "
        "earliest"
    ]


@pytest.mark.parametrize("weekend", [date(2025, 11, 15), date(2025, 11, 16)])
def test_refused_on_the_weekend_after_day_20(weekend: date) -> None:
    result = assess_deletion("9(1)(i)", weekend, unauthorised(), PORTSMOUTH)
    assert result.permitted is False
    assert result.earliest_date == EARLIEST
    assert result.reasons[0].startswith("20 of 20 school days by ")


def test_permitted_the_school_day_after_day_20_with_joint_enquiries() -> None:
    result = assess_deletion("9(1)(i)", EARLIEST, unauthorised(), PORTSMOUTH)
    assert result.permitted is True
    assert result.reasons == []
    assert result.earliest_date == EARLIEST
    assert result.ground.code == "9(1)(i)"
    assert result.ground_other_rulebook == "8(1)(h)"


def test_permitted_later_keeps_the_earliest_date() -> None:
    decision = date(2025, 12, 1)
    result = assess_deletion("9(1)(i)", decision, unauthorised(), PORTSMOUTH)
    assert result.permitted is True
    assert result.earliest_date == EARLIEST
    assert result.earliest_date is not None
    assert max(result.earliest_date, decision) == decision  # never backdated


def test_half_term_days_are_not_counted() -> None:
    result = assess_deletion("9(1)(i)", date(2025, 10, 29), unauthorised(), PORTSMOUTH)
    assert result.reasons == [
        "10 of 20 school days by 29 Oct 2025: deletion is permitted from 17 Nov 2025 at the "
        "earliest"
    ]


def test_inset_day_of_the_childs_school_is_not_counted() -> None:
    facts = unauthorised(school_laestab=INSET_SCHOOL)
    result = assess_deletion("9(1)(i)", date(2025, 11, 7), facts, PORTSMOUTH)
    assert result.earliest_date == date(2025, 11, 18)
    assert result.reasons == [
        "14 of 20 school days by 7 Nov 2025: deletion is permitted from 18 Nov 2025 at the earliest"
    ]
    assert assess_deletion("9(1)(i)", EARLIEST, facts, PORTSMOUTH).permitted is False
    assert assess_deletion("9(1)(i)", date(2025, 11, 18), facts, PORTSMOUTH).permitted is True


def test_decision_before_day_1_counts_nothing() -> None:
    result = assess_deletion("9(1)(i)", date(2025, 10, 10), unauthorised(), PORTSMOUTH)
    assert result.reasons[0] == (
        "0 of 20 school days by 10 Oct 2025: deletion is permitted from 17 Nov 2025 at the earliest"
    )


@pytest.mark.parametrize(
    ("day1", "text"),
    [
        (date(2025, 10, 11), "first day of absence 11 Oct 2025 is not a school day"),  # Sat
        (date(2025, 10, 28), "first day of absence 28 Oct 2025 is not a school day"),  # half term
    ],
)
def test_first_day_of_absence_not_a_school_day(day1: date, text: str) -> None:
    result = assess_deletion("9(1)(i)", EARLIEST, unauthorised(day1), PORTSMOUTH)
    assert result.permitted is False
    assert result.earliest_date is None
    assert result.reasons == [text]


def test_first_day_on_the_schools_inset_day() -> None:
    facts = unauthorised(date(2025, 11, 3), school_laestab=INSET_SCHOOL)
    result = assess_deletion("9(1)(i)", date(2025, 12, 19), facts, PORTSMOUTH)
    assert result.reasons == ["first day of absence 3 Nov 2025 is not a school day"]


def test_absence_recorded_after_leave_names_the_other_ground() -> None:
    facts = unauthorised().model_copy(update={"absence_kind": AbsenceKind.AFTER_LEAVE})
    result = assess_deletion("9(1)(i)", EARLIEST, facts, PORTSMOUTH)
    assert result.reasons == [
        "absence recorded as after leave, not unauthorised: ground 9(1)(h) applies"
    ]
    old = unauthorised(OLD_DAY1).model_copy(update={"absence_kind": AbsenceKind.AFTER_LEAVE})
    result = assess_deletion("8(1)(h)", OLD_EARLIEST, old, OLD)
    assert result.reasons == [
        "absence recorded as after leave, not unauthorised: ground 8(1)(f) applies"
    ]


def test_no_la_enquiry() -> None:
    facts = unauthorised(enquiries=[school(DAY1), school(DAY19)])
    result = assess_deletion("9(1)(i)", EARLIEST, facts, PORTSMOUTH)
    assert result.reasons == ["no LA enquiry recorded"]


def test_no_school_enquiry() -> None:
    facts = unauthorised(enquiries=[la(DAY1)])
    result = assess_deletion("9(1)(i)", EARLIEST, facts, PORTSMOUTH)
    assert result.reasons == ["no school enquiry recorded"]


def test_enquiries_after_the_decision_date_do_not_count() -> None:
    facts = unauthorised(
        enquiries=[
            school(DAY1),
            la(date(2025, 11, 18)),
            school(date(2025, 11, 19), EnquiryOutcome.CONTACT_MADE),
        ]
    )
    result = assess_deletion("9(1)(i)", EARLIEST, facts, PORTSMOUTH)
    assert result.reasons == ["no LA enquiry recorded"]


@pytest.mark.parametrize(("by", "who"), [(school, "school"), (la, "LA")])
def test_child_located_by_enquiry(by: Any, who: str) -> None:
    facts = unauthorised(
        enquiries=[school(DAY1), la(DAY1), by(date(2025, 11, 4), EnquiryOutcome.CONTACT_MADE)]
    )
    result = assess_deletion("9(1)(i)", EARLIEST, facts, PORTSMOUTH)
    assert result.permitted is False
    assert result.earliest_date == EARLIEST
    assert result.reasons == [
        f"child located by {who} enquiry on 4 Nov 2025: the absence grounds do not apply"
    ]


def test_information_but_not_located_still_counts_as_failed() -> None:
    facts = unauthorised(
        enquiries=[
            school(DAY1, EnquiryOutcome.NO_INFORMATION),
            la(DAY19, EnquiryOutcome.INFORMATION),
        ]
    )
    assert assess_deletion("9(1)(i)", EARLIEST, facts, PORTSMOUTH).permitted is True


def test_every_reason_at_once() -> None:
    facts = CaseFacts(
        absence_kind=AbsenceKind.UNAUTHORISED,
        first_day_of_absence=DAY1,
        enquiries=[la(date(2025, 11, 4), EnquiryOutcome.CONTACT_MADE)],
        attendance_codes=[SessionCode(day=date(2025, 10, 20), session="am", code="C")],
    )
    result = assess_deletion("9(1)(i)", date(2025, 11, 7), facts, PORTSMOUTH)
    # Days 1-15 by 7 Nov: 13-17 Oct, 20-24 Oct, 3-7 Nov; 29 of their 30 sessions have no code.
    assert result.reasons == [
        "15 of 20 school days by 7 Nov 2025: deletion is permitted from 17 Nov 2025 at the "
        "earliest",
        "no school enquiry recorded",
        "child located by LA enquiry on 4 Nov 2025: the absence grounds do not apply",
        NOT_SICK_MISSING,
        "sessions on 20 Oct 2025 coded C, not G/N/O",
        "register codes not on file for 29 sessions (school days 13 Oct 2025 to 17 Oct 2025, "
        "20 Oct 2025 (pm), 21 Oct 2025 to 7 Nov 2025): every session of the 20 school days must "
        "be coded G, N or O",
    ]


# -- 2024 attendance codes ------------------------------------------------------------------------


def _codes(*items: tuple[date, str, str]) -> list[SessionCode]:
    return [SessionCode(day=d, session=s, code=c) for d, s, c in items]


def test_offending_c_refuses_under_2024_rules() -> None:
    nov4 = date(2025, 11, 4)
    codes = _codes((nov4, "am", "C"), (nov4, "pm", "C"), (date(2025, 11, 5), "am", "N"))
    result = assess_deletion("9(1)(i)", EARLIEST, unauthorised(attendance_codes=codes), PORTSMOUTH)
    assert result.permitted is False
    assert result.earliest_date == EARLIEST
    assert result.reasons == ["sessions on 4 Nov 2025 coded C, not G/N/O"]


def test_codes_grouped_by_day_am_first_and_days_in_order() -> None:
    codes = _codes(
        (date(2025, 11, 10), "pm", "I"),
        (date(2025, 11, 10), "am", "C"),
        (date(2025, 10, 14), "pm", "M"),
    )
    result = assess_deletion("9(1)(i)", EARLIEST, unauthorised(attendance_codes=codes), PORTSMOUTH)
    assert result.reasons == [
        "sessions on 14 Oct 2025 coded M, not G/N/O",
        "sessions on 10 Nov 2025 coded C and I, not G/N/O",
    ]


def test_g_n_o_codes_and_unknown_sessions_are_fine() -> None:
    codes = _codes(
        (DAY1, "am", "N"),
        (DAY1, "pm", "n"),
        (date(2025, 10, 14), "am", "G"),
        (date(2025, 10, 15), "pm", " O "),
        # outside day 1..day 20, or not a school day: not looked at
        (date(2025, 10, 10), "am", "/"),
        (date(2025, 10, 28), "am", "#"),
        (EARLIEST, "am", "C"),
    )
    result = assess_deletion("9(1)(i)", EARLIEST, unauthorised(attendance_codes=codes), PORTSMOUTH)
    assert result.permitted is True


def test_codes_checked_on_the_schools_own_days() -> None:
    # For the INSET school, Mon 17 Nov 2025 is day 20, so a C on it counts.
    codes = _codes((date(2025, 11, 17), "pm", "C"))
    facts = unauthorised(school_laestab=INSET_SCHOOL, attendance_codes=codes)
    result = assess_deletion("9(1)(i)", date(2025, 11, 18), facts, PORTSMOUTH)
    assert result.reasons == ["sessions on 17 Nov 2025 coded C, not G/N/O"]


# -- after leave ----------------------------------------------------------------------------------


def test_after_leave_refused_before_10_school_days() -> None:
    result = assess_deletion("9(1)(h)", date(2025, 10, 13), after_leave(), PORTSMOUTH)
    assert result.permitted is False
    assert result.earliest_date == LEAVE_EARLIEST
    assert result.reasons == [
        "6 of 10 school days after leave ended on 3 Oct 2025, by 13 Oct 2025: deletion is "
        "permitted from 20 Oct 2025 at the earliest"
    ]


def test_after_leave_refused_on_day_10_permitted_after() -> None:
    day10 = date(2025, 10, 17)
    result = assess_deletion("9(1)(h)", day10, after_leave(), PORTSMOUTH)
    assert result.reasons == [
        "10 of 10 school days after leave ended on 3 Oct 2025, by 17 Oct 2025: deletion is "
        "permitted from 20 Oct 2025 at the earliest"
    ]
    permitted = assess_deletion("9(1)(h)", LEAVE_EARLIEST, after_leave(), PORTSMOUTH)
    assert permitted.permitted is True
    assert permitted.earliest_date == LEAVE_EARLIEST
    assert permitted.ground_other_rulebook == "8(1)(f)"


def test_after_leave_across_half_term() -> None:
    # Leave ends Wed 22 Oct: day 1 Thu 23 Oct, 23-24 Oct = 2, 3-7 Nov = 7, day 10 = Wed 12 Nov.
    facts = after_leave(date(2025, 10, 22))
    result = assess_deletion("9(1)(h)", date(2025, 11, 12), facts, PORTSMOUTH)
    assert result.earliest_date == date(2025, 11, 13)
    assert result.reasons == [
        "10 of 10 school days after leave ended on 22 Oct 2025, by 12 Nov 2025: deletion is "
        "permitted from 13 Nov 2025 at the earliest"
    ]
    assert assess_deletion("9(1)(h)", date(2025, 11, 13), facts, PORTSMOUTH).permitted is True


def test_after_leave_needs_joint_enquiries_but_no_g_n_o_codes() -> None:
    # 2024 9(1)(h) prescribes no register code for the 10 days (G/N/O is 9(1)(i)'s rule): codes
    # C and E (absent) do not refuse it; the missing LA enquiry does.
    codes = _codes((date(2025, 10, 8), "am", "C"), (date(2025, 10, 8), "pm", "E"))
    facts = after_leave(enquiries=[school(LEAVE_END)], attendance_codes=codes)
    result = assess_deletion("9(1)(h)", LEAVE_EARLIEST, facts, PORTSMOUTH)
    assert result.reasons == ["no LA enquiry recorded"]


def test_after_leave_recorded_as_unauthorised_names_the_other_ground() -> None:
    facts = after_leave().model_copy(update={"absence_kind": AbsenceKind.UNAUTHORISED})
    result = assess_deletion("9(1)(h)", LEAVE_EARLIEST, facts, PORTSMOUTH)
    assert result.reasons == [
        "absence recorded as unauthorised, not after leave: ground 9(1)(i) applies"
    ]


def test_after_leave_2006_rules() -> None:
    result = assess_deletion("8(1)(f)", date(2024, 6, 14), after_leave(OLD_LEAVE_END), OLD)
    assert result.reasons == [
        "10 of 10 school days after leave ended on 31 May 2024, by 14 Jun 2024: deletion is "
        "permitted from 17 Jun 2024 at the earliest"
    ]
    ok = assess_deletion("8(1)(f)", OLD_LEAVE_EARLIEST, after_leave(OLD_LEAVE_END), OLD)
    assert ok.permitted is True
    assert ok.ground_other_rulebook == "9(1)(h)"


# -- calendar ends: never guessed -----------------------------------------------------------------


def test_day_20_past_the_calendar_raises() -> None:
    with pytest.raises(CalendarEndsError, match="calendar ends on 22 Jul 2026"):
        assess_deletion("9(1)(i)", date(2026, 7, 20), unauthorised(date(2026, 7, 1)), PORTSMOUTH)


def test_first_day_before_the_calendar_raises() -> None:
    with pytest.raises(CalendarEndsError, match="calendar starts on 3 Sep 2025"):
        assess_deletion("9(1)(i)", EARLIEST, unauthorised(date(2025, 7, 14)), PORTSMOUTH)


def test_after_leave_day_10_past_the_calendar_raises() -> None:
    with pytest.raises(CalendarEndsError):
        assess_deletion("9(1)(h)", date(2026, 7, 22), after_leave(date(2026, 7, 15)), PORTSMOUTH)


# -- EHE ------------------------------------------------------------------------------------------


def ehe(**extra: Any) -> CaseFacts:
    return CaseFacts(
        ehe_letter_reference="Letter from parent dated 3 Nov 2025",
        ehe_letter_received_on=date(2025, 11, 5),
        **extra,
    )


def test_ehe_with_letter_permitted_from_receipt() -> None:
    result = assess_deletion("9(1)(f)", date(2025, 11, 7), ehe(), PORTSMOUTH)
    assert result.permitted is True
    assert result.earliest_date == date(2025, 11, 5)
    assert result.ground_other_rulebook == "8(1)(d)"


def test_ehe_letter_without_receipt_date_uses_decision_date() -> None:
    facts = CaseFacts(ehe_letter_reference="EHE/17")
    result = assess_deletion("9(1)(f)", date(2025, 11, 7), facts, PORTSMOUTH)
    assert result.permitted is True
    assert result.earliest_date == date(2025, 11, 7)


@pytest.mark.parametrize("reference", [None, "", "  "])
def test_ehe_without_letter_refused(reference: str | None) -> None:
    facts = CaseFacts(ehe_letter_reference=reference, ehe_letter_received_on=date(2025, 11, 5))
    result = assess_deletion("9(1)(f)", date(2025, 11, 7), facts, PORTSMOUTH)
    assert result.permitted is False
    assert result.earliest_date == date(2025, 11, 5)
    assert result.reasons == ["EHE letter missing: the parent's written notice is needed"]


def test_ehe_letter_received_after_the_decision_date() -> None:
    result = assess_deletion("9(1)(f)", date(2025, 11, 4), ehe(), PORTSMOUTH)
    assert result.permitted is False
    assert result.earliest_date == date(2025, 11, 5)
    assert result.reasons == [
        "EHE letter received on 5 Nov 2025, after 4 Nov 2025: deletion is permitted from "
        "5 Nov 2025 at the earliest"
    ]


def test_ehe_2006_rules() -> None:
    facts = CaseFacts(ehe_letter_reference="EHE/2024/3", ehe_letter_received_on=date(2024, 7, 1))
    result = assess_deletion("8(1)(d)", date(2024, 7, 2), facts, OLD)
    assert result.permitted is True
    assert result.ground_other_rulebook == "9(1)(f)"


S434A_INDEPENDENT = (
    "LA consent needed: child placed at an independent special school by the local authority"
)


@pytest.mark.parametrize(
    ("flags", "reasons"),
    [
        # s.434A(4)(a), Condition B: s.47 enquiries
        ({"s47_enquiries": True}, ["LA consent needed: child subject to s.47 enquiries"]),
        # s.434A(4)(b), Condition B: action under s.47(8)
        (
            {"s47_action": True},
            ["LA consent needed: local authority taking action under s.47(8)"],
        ),
        # a Child Protection Plan, read as s.47(8) action
        (
            {"child_protection_plan": True},
            ["LA consent needed: child on a Child Protection Plan"],
        ),
        # s.434A(3)(b), Condition A: an independent special school, placed by the LA
        ({"la_arranged_independent_special_school": True}, [S434A_INDEPENDENT]),
        (
            {"s47_enquiries": True, "la_arranged_independent_special_school": True},
            ["LA consent needed: child subject to s.47 enquiries", S434A_INDEPENDENT],
        ),
        ({}, []),
    ],
)
def test_s37_consent_rule_switched_on(flags: dict[str, bool], reasons: list[str]) -> None:
    result = assess_deletion(
        "9(1)(f)", date(2025, 11, 7), ehe(**flags), PORTSMOUTH, s37_consent_rule=True
    )
    assert result.reasons == reasons
    assert result.permitted is (not reasons)
    assert result.earliest_date == date(2025, 11, 5)


def test_s37_consent_given() -> None:
    consent = LaConsent(by="Head of Inclusion", on=date(2025, 11, 6))
    facts = ehe(s47_enquiries=True, la_arranged_independent_special_school=True, la_consent=consent)
    result = assess_deletion("9(1)(f)", date(2025, 11, 7), facts, PORTSMOUTH, s37_consent_rule=True)
    assert result.permitted is True


def test_s37_switched_off_needs_no_consent() -> None:
    # What s.434A adds waits for commencement (CWSA 2026 s.78(5)): off, none of it applies.
    facts = ehe(
        s47_enquiries=True,
        s47_action=True,
        la_arranged_independent_special_school=True,
        child_protection_plan=True,
    )
    assert assess_deletion("9(1)(f)", date(2025, 11, 7), facts, PORTSMOUTH).permitted is True


def test_s37_never_applies_to_2006_rules() -> None:
    facts = CaseFacts(
        ehe_letter_reference="EHE/2024/3",
        ehe_letter_received_on=date(2024, 7, 1),
        s47_enquiries=True,
    )
    result = assess_deletion("8(1)(d)", date(2024, 7, 2), facts, OLD, s37_consent_rule=True)
    assert result.permitted is True


def test_ehe_missing_letter_and_consent_both_reported() -> None:
    facts = CaseFacts(s47_enquiries=True)
    result = assess_deletion("9(1)(f)", date(2025, 11, 7), facts, PORTSMOUTH, s37_consent_rule=True)
    assert result.reasons == [
        "EHE letter missing: the parent's written notice is needed",
        "LA consent needed: child subject to s.47 enquiries",
    ]


# -- the models -----------------------------------------------------------------------------------


def test_case_facts_defaults_are_not_shared() -> None:
    a, b = CaseFacts(), CaseFacts()
    a.evidence["x"] = "y"
    a.enquiries.append(school(DAY1))
    assert b.evidence == {}
    assert b.enquiries == []


@pytest.mark.parametrize("laestab", ["851200", "85120001", "851-2000", "abcdefg"])
def test_case_facts_rejects_a_bad_laestab(laestab: str) -> None:
    with pytest.raises(ValidationError):
        CaseFacts(school_laestab=laestab)


def test_session_code_is_frozen_and_checks_the_session() -> None:
    sc = SessionCode(day=DAY1, session="am", code="N")
    with pytest.raises(ValidationError):
        sc.code = "C"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        SessionCode(day=DAY1, session="evening", code="N")


def test_assessment_round_trips_as_json() -> None:
    result = assess_deletion("9(1)(i)", DAY19, unauthorised(), PORTSMOUTH)
    again = DeletionAssessment.model_validate_json(result.model_dump_json())
    assert again == result


def test_session_code_must_be_a_register_code_and_is_upper_cased() -> None:
    # 2024 reg 10 Tables 1-4: single letters, / \ #, and C1, C2, J1, Y1-Y7.
    assert SessionCode(day=DAY1, session="am", code=" n ").code == "N"
    assert SessionCode(day=DAY1, session="am", code="y7").code == "Y7"
    assert SessionCode(day=DAY1, session="pm", code="\\").code == "\\"
    for bad in ("", "NN", "Y8", "?", "1", "C3"):
        with pytest.raises(ValidationError, match="is not an attendance register code"):
            SessionCode(day=DAY1, session="am", code=bad)


# == The law as it stands: one block per point of the issue, each citing its rule =================
#
# 1. LA consent for a child placed at a special school by the LA: 2006 reg 8(2); 2024 reg 9(4).

SPECIAL_SCHOOL_CONSENT = (
    "LA consent needed: the pupil was placed at a special school by the local authority, so the "
    "name may be removed only with that authority's consent (or a Secretary of State direction)"
)
# 2006 reg 8(2): "In a case not covered by paragraph (1)(a), (j) or (m)"; the 2024 counterparts of
# (a) are 9(1)(d) and (e), of (j) 9(1)(k), of (m) 9(1)(o).
NO_CONSENT_NEEDED = {"8(1)(a)", "8(1)(j)", "8(1)(m)", "9(1)(d)", "9(1)(e)", "9(1)(k)", "9(1)(o)"}


@pytest.mark.parametrize("ground", ALL_GROUNDS, ids=_id)
def test_reg_8_2_and_9_4_special_school_consent_on_every_ground_but_order_death_exclusion(
    ground: Ground,
) -> None:
    decision, calendar = decision_for(ground)
    facts = facts_meeting(ground).model_copy(update={"la_arranged_special_school": True})
    result = assess_deletion(ground.code, decision, facts, calendar)  # s.37 switch off
    if ground.code in NO_CONSENT_NEEDED:
        assert result.permitted is True
    else:
        assert result.reasons == [SPECIAL_SCHOOL_CONSENT]
        consent = LaConsent(by="SEN Team Manager", on=date(2024, 6, 3), reference="SEN/123")
        given = facts.model_copy(update={"la_consent": consent})
        assert assess_deletion(ground.code, decision, given, calendar).permitted is True


def test_special_school_consent_for_moved_away_and_ehe_without_the_s37_switch() -> None:
    # The case: "moved away" and EHE deletions at such a school were permitted.
    moved = CaseFacts(
        evidence={MOVED_AWAY: "New address in Leeds"}, la_arranged_special_school=True
    )
    assert assess_deletion("9(1)(g)", date(2025, 11, 7), moved, PORTSMOUTH).reasons == [
        SPECIAL_SCHOOL_CONSENT
    ]
    home = ehe(la_arranged_special_school=True)
    assert assess_deletion("9(1)(f)", date(2025, 11, 7), home, PORTSMOUTH).reasons == [
        SPECIAL_SCHOOL_CONSENT
    ]
    old = CaseFacts(evidence={MOVED_AWAY: "New address in Leeds"}, la_arranged_special_school=True)
    assert assess_deletion("8(1)(e)", date(2024, 7, 2), old, OLD).reasons == [
        SPECIAL_SCHOOL_CONSENT
    ]


def test_special_school_consent_recorded_after_the_decision_date_or_by_direction() -> None:
    later = LaConsent(by="SEN Team Manager", on=date(2025, 11, 10))
    facts = ehe(la_arranged_special_school=True, la_consent=later)
    result = assess_deletion("9(1)(f)", date(2025, 11, 7), facts, PORTSMOUTH)
    assert result.reasons == [
        "LA consent recorded on 10 Nov 2025, after 7 Nov 2025: deletion is permitted from "
        "10 Nov 2025 at the earliest"
    ]
    assert result.earliest_date == date(2025, 11, 10)
    assert assess_deletion("9(1)(f)", date(2025, 11, 10), facts, PORTSMOUTH).permitted is True
    # "if that authority refuse to give consent, without a direction of the Secretary of State"
    direction = LaConsent(
        kind=ConsentKind.SECRETARY_OF_STATE_DIRECTION, by="DfE", on=date(2025, 11, 6)
    )
    directed = ehe(la_arranged_special_school=True, la_consent=direction)
    assert assess_deletion("9(1)(f)", date(2025, 11, 7), directed, PORTSMOUTH).permitted is True


def test_la_consent_records_who_and_when() -> None:
    with pytest.raises(ValidationError):
        LaConsent(by="", on=date(2025, 11, 6))
    with pytest.raises(ValidationError):
        LaConsent.model_validate({"by": "SEN Team Manager"})  # when is needed


# 2. The 20-day ground needs proof: 2024 9(1)(i) (every session coded G, N or O, on file) and,
#    in both rulebooks, the confirmation of no sickness or unavoidable cause (2006 8(1)(h)(ii),
#    (f)(ii); 2024 9(1)(i), (h)).


def test_reg_9_1_i_no_codes_on_file_is_no_proof() -> None:
    # Days 1-20: 13 Oct to 14 Nov 2025, 40 sessions, one unbroken run of school days.
    result = assess_deletion("9(1)(i)", EARLIEST, unauthorised(codes_on_file=False), PORTSMOUTH)
    assert result.permitted is False
    assert result.earliest_date == EARLIEST
    assert result.reasons == [
        "register codes not on file for 40 sessions (school days 13 Oct 2025 to 14 Nov 2025): "
        "every session of the 20 school days must be coded G, N or O"
    ]


def test_reg_9_1_i_names_the_missing_sessions_compactly() -> None:
    codes = [
        sc
        for sc in register(DAY1, "O")
        if not (sc.day in (date(2025, 10, 21), date(2025, 10, 22)) and sc.session == "pm")
        and sc.day != date(2025, 11, 10)
        and sc.day not in (date(2025, 10, 24), date(2025, 11, 3))
    ]
    facts = unauthorised(codes_on_file=False, attendance_codes=codes)
    result = assess_deletion("9(1)(i)", EARLIEST, facts, PORTSMOUTH)
    # Fri 24 Oct and Mon 3 Nov are consecutive school days (half term between): one run.
    assert result.reasons == [
        "register codes not on file for 8 sessions (school days 21 Oct 2025 to 22 Oct 2025 (pm), "
        "24 Oct 2025 to 3 Nov 2025, 10 Nov 2025): every session of the 20 school days must be "
        "coded G, N or O"
    ]


def test_reg_9_1_i_only_sessions_up_to_the_decision_date_are_asked_for() -> None:
    codes = [sc for sc in register(DAY1) if sc.day <= date(2025, 10, 24)]  # days 1-10
    facts = unauthorised(codes_on_file=False, attendance_codes=codes)
    result = assess_deletion("9(1)(i)", date(2025, 11, 4), facts, PORTSMOUTH)
    # By Tue 4 Nov: days 11-12 (3-4 Nov) have no codes; days 13-20 lie ahead.
    assert result.reasons == [
        "12 of 20 school days by 4 Nov 2025: deletion is permitted from 17 Nov 2025 at the "
        "earliest",
        "register codes not on file for 4 sessions (school days 3 Nov 2025 to 4 Nov 2025): every "
        "session of the 20 school days must be coded G, N or O",
    ]


def test_reg_9_1_i_the_last_code_recorded_for_a_session_is_the_registers() -> None:
    nov4 = date(2025, 11, 4)
    corrected = unauthorised(attendance_codes=_codes((nov4, "am", "C"), (nov4, "am", "O")))
    assert assess_deletion("9(1)(i)", EARLIEST, corrected, PORTSMOUTH).permitted is True
    wrong = unauthorised(attendance_codes=_codes((nov4, "am", "N"), (nov4, "am", "I")))
    assert assess_deletion("9(1)(i)", EARLIEST, wrong, PORTSMOUTH).reasons == [
        "sessions on 4 Nov 2025 coded I, not G/N/O"
    ]


@pytest.mark.parametrize(
    ("code", "decision", "facts"),
    [
        ("9(1)(i)", EARLIEST, unauthorised(no_sickness_confirmation=None)),
        ("9(1)(h)", LEAVE_EARLIEST, after_leave(no_sickness_confirmation=None)),
        ("8(1)(h)", OLD_EARLIEST, unauthorised(OLD_DAY1, no_sickness_confirmation=None)),
        ("8(1)(f)", OLD_LEAVE_EARLIEST, after_leave(OLD_LEAVE_END, no_sickness_confirmation=None)),
    ],
)
def test_absence_grounds_need_the_recorded_no_sickness_confirmation(
    code: str, decision: date, facts: CaseFacts
) -> None:
    calendar = OLD if code.startswith("8") else PORTSMOUTH
    assert assess_deletion(code, decision, facts, calendar).reasons == [NOT_SICK_MISSING]


def test_no_sickness_confirmation_recorded_after_the_decision_does_not_count() -> None:
    facts = unauthorised(no_sickness_confirmation=confirmed(date(2025, 11, 18)))
    assert assess_deletion("9(1)(i)", EARLIEST, facts, PORTSMOUTH).reasons == [
        "the confirmation that no sickness or unavoidable cause keeps the pupil away was recorded "
        "on 18 Nov 2025, after 17 Nov 2025"
    ]


def test_reg_9_1_h_needs_no_codes_but_a_code_of_attendance_refuses() -> None:
    # 2024 9(1)(h): "failed to attend ... within the 10 school days"; no code is prescribed.
    assert assess_deletion("9(1)(h)", LEAVE_EARLIEST, after_leave(), PORTSMOUTH).permitted is True
    # Day 1 is Mon 6 Oct 2025; a present mark on Thu 9 Oct (day 4) shows the pupil attended.
    came = after_leave(attendance_codes=_codes((date(2025, 10, 9), "am", "/")))
    assert assess_deletion("9(1)(h)", LEAVE_EARLIEST, came, PORTSMOUTH).reasons == [
        "sessions on 9 Oct 2025 coded /: the pupil attended within the 10 school days after the "
        "leave ended"
    ]
    # 2006 8(1)(h) "continuously absent": a late mark L on day 2 (Tue 4 Jun 2024) breaks the run.
    late = unauthorised(OLD_DAY1, attendance_codes=_codes((date(2024, 6, 4), "pm", "L")))
    assert assess_deletion("8(1)(h)", OLD_EARLIEST, late, OLD).reasons == [
        "sessions on 4 Jun 2024 coded L: the pupil attended during the 20 school days"
    ]


# 3. Ceases to be of compulsory school age before the school next meets: 2024 9(1)(l), 2006
#    8(1)(k); Education Act 1996 s.8 (the last Friday in June of the school year in which the
#    pupil turns 16).

AGE_EVIDENCE = {"ceases_compulsory_age": "Parent's email: leaving for college"}


def test_reg_9_1_l_refused_for_a_year_10_pupil() -> None:
    # Born Sat 15 Jan 2011: 16 on 15 Jan 2027 (school year 2026/27), so compulsory school age ends
    # on the last Friday in June 2027: 30 Jun 2027 is a Wednesday, so Fri 25 Jun 2027. Asked on
    # Mon 17 Nov 2025, the school next meets on Tue 18 Nov 2025.
    facts = CaseFacts(evidence=AGE_EVIDENCE, date_of_birth=date(2011, 1, 15))
    result = assess_deletion("9(1)(l)", EARLIEST, facts, LA_CALENDAR)
    assert result.permitted is False
    assert result.reasons == [
        "the pupil is of compulsory school age until 25 Jun 2027 (from the date of birth), and "
        "the school meets again on 18 Nov 2025, before then: deletion is permitted from "
        "25 Jun 2027 at the earliest"
    ]
    assert result.earliest_date == date(2027, 6, 25)
    # With a calendar ending in July 2026 the date cannot be given; the refusal stands.
    short = assess_deletion("9(1)(l)", EARLIEST, facts, PORTSMOUTH)
    assert short.earliest_date is None
    assert short.reasons == [
        "the pupil is of compulsory school age until 25 Jun 2027 (from the date of birth), and "
        "the school meets again on 18 Nov 2025, before then"
    ]


def test_reg_9_1_l_year_11_from_the_last_friday_in_june() -> None:
    # Born 15 Jan 2010: compulsory school age ends Fri 26 Jun 2026 (30 Jun 2026 is a Tuesday).
    facts = CaseFacts(evidence=AGE_EVIDENCE, date_of_birth=LEAVER_2026)
    thursday = assess_deletion("9(1)(l)", date(2026, 6, 25), facts, LA_CALENDAR)
    assert thursday.reasons == [
        "the pupil is of compulsory school age until 26 Jun 2026 (from the date of birth), and "
        "the school meets again on 26 Jun 2026, before then: deletion is permitted from "
        "26 Jun 2026 at the earliest"
    ]
    friday = assess_deletion("9(1)(l)", LEAVING_DAY_2026, facts, LA_CALENDAR)
    assert friday.permitted is True  # the school next meets on Mon 29 Jun 2026
    assert friday.earliest_date == LEAVING_DAY_2026


def test_reg_8_1_k_2006_rules_same_check() -> None:
    # Born 10 Mar 2008: compulsory school age ends Fri 28 Jun 2024 (30 Jun 2024 is a Sunday).
    facts = CaseFacts(evidence=AGE_EVIDENCE, date_of_birth=LEAVER_2024)
    assert assess_deletion("8(1)(k)", date(2024, 6, 27), facts, OLD).permitted is False
    result = assess_deletion("8(1)(k)", date(2024, 6, 28), facts, OLD)
    assert result.permitted is True
    assert result.ground_other_rulebook == "9(1)(l)"


# 5. 2006 8(1)(a) covers an order substituted *or revoked*: 2024 9(1)(d) and 9(1)(e).


def test_reg_8_1_a_covers_revocation_and_names_the_2024_ground_its_evidence_shows() -> None:
    revoked = CaseFacts(evidence={"sao_revocation": "LA letter revoking the order, 1 Jul 2024"})
    result = assess_deletion("8(1)(a)", date(2024, 7, 2), revoked, OLD)
    assert result.permitted is True
    assert result.ground_other_rulebook == "9(1)(e)"
    substituted = CaseFacts(evidence={"sao_substitution": "Amended order, 1 Jul 2024"})
    result = assess_deletion("8(1)(a)", date(2024, 7, 2), substituted, OLD)
    assert result.ground_other_rulebook == "9(1)(d)"
    # 9(1)(e), the revoked order, maps back to 8(1)(a)
    order = CaseFacts(evidence={"sao_revocation": "LA letter revoking the order"})
    assert assess_deletion("9(1)(e)", EARLIEST, order, PORTSMOUTH).ground_other_rulebook == (
        "8(1)(a)"
    )


# 6. Grounds that do not apply under an attendance order or to a mobile child's main school:
#    2024 9(1)(a)(i)-(ii), (c)(iii)-(iv), (f); 2006 8(1)(b), (c) ("regulation 9"), (d).

ORDER_IN_FORCE_2024 = (
    "a school attendance order naming this school is in force: ground {code} does not apply "
    "while it is: once the local authority amends or revokes the order, the ground is 9(1)(d) or "
    "9(1)(e)"
)
MOBILE = "the pupil is a mobile child and this is their main school: ground {code} does not apply"


@pytest.mark.parametrize(
    ("code", "evidence"),
    [
        ("9(1)(a)", {REGISTERED_ELSEWHERE_CONFIRMED: "Admissions email"}),
        ("9(1)(c)", {OTHER_SCHOOL_CONSENT: "Consent of the other school"}),
    ],
)
def test_reg_9_1_a_and_c_not_under_an_attendance_order_nor_for_a_mobile_childs_main_school(
    code: str, evidence: dict[str, str]
) -> None:
    decision = date(2025, 11, 5)
    ok = CaseFacts(evidence=evidence)
    assert assess_deletion(code, decision, ok, PORTSMOUTH).permitted is True
    order = ok.model_copy(update={"attendance_order_names_school": True})
    assert assess_deletion(code, decision, order, PORTSMOUTH).reasons == [
        ORDER_IN_FORCE_2024.format(code=code)
    ]
    mobile = ok.model_copy(update={"mobile_child_main_school": True})
    assert assess_deletion(code, decision, mobile, PORTSMOUTH).reasons == [MOBILE.format(code=code)]


def test_reg_9_1_f_home_education_not_while_an_attendance_order_names_the_school() -> None:
    result = assess_deletion(
        "9(1)(f)", date(2025, 11, 7), ehe(attendance_order_names_school=True), PORTSMOUTH
    )
    assert result.reasons == [ORDER_IN_FORCE_2024.format(code="9(1)(f)")]
    # The mobile-child exception is 9(1)(a) and (c)'s alone.
    mobile = ehe(mobile_child_main_school=True)
    assert assess_deletion("9(1)(f)", date(2025, 11, 7), mobile, PORTSMOUTH).permitted is True


def test_reg_8_1_b_c_d_2006_exceptions() -> None:
    decision = date(2024, 7, 2)
    order_2006 = (
        "a school attendance order naming this school is in force: ground {code} does not apply "
        "while it is: once the local authority amends or revokes the order, the ground is 8(1)(a)"
    )
    elsewhere = CaseFacts(
        evidence={REGISTERED_ELSEWHERE_CONFIRMED: "Admissions email"},
        attendance_order_names_school=True,
        mobile_child_main_school=True,
    )
    assert assess_deletion("8(1)(b)", decision, elsewhere, OLD).reasons == [
        order_2006.format(code="8(1)(b)"),
        MOBILE.format(code="8(1)(b)"),
    ]
    # 8(1)(c) carves out regulation 9 (no fixed abode) but not sub-paragraph (a).
    dual = elsewhere.model_copy(update={"evidence": {OTHER_SCHOOL_CONSENT: "Consent"}})
    assert assess_deletion("8(1)(c)", decision, dual, OLD).reasons == [
        MOBILE.format(code="8(1)(c)")
    ]
    home = CaseFacts(
        ehe_letter_reference="EHE/2024/3",
        ehe_letter_received_on=date(2024, 7, 1),
        attendance_order_names_school=True,
    )
    assert assess_deletion("8(1)(d)", decision, home, OLD).reasons == [
        order_2006.format(code="8(1)(d)")
    ]


# 7. The rulebook of a deletion is the one in force on its decision date (SI 2024/208 in force
#    19 Aug 2024): a pupil absent from June 2024 and deleted in September 2024 is a 9(1) case.


def test_rulebook_of_the_decision_date_for_an_absence_that_began_under_the_2006_rules() -> None:
    facts = unauthorised(OLD_DAY1)  # day 1 Mon 3 Jun 2024, day 20 Fri 28 Jun 2024
    september = date(2024, 9, 2)
    with pytest.raises(UnknownGroundError, match="use 9\\(1\\)\\(i\\)"):
        assess_deletion("8(1)(h)", september, facts, OLD)
    result = assess_deletion("9(1)(i)", september, facts, OLD)
    assert result.ground.rulebook is Rulebook.REGS_2024
    assert result.permitted is True
    assert result.earliest_date == OLD_EARLIEST


# 9. The custodial ground needs a final order or an order of recall, not a remand: 2006 8(1)(i)
#    ("a final order made by a court or ... an order of recall"), 2024 9(1)(j).


@pytest.mark.parametrize("code", ["9(1)(j)", "8(1)(i)"])
def test_custodial_ground_final_order_or_recall_not_remand(code: str) -> None:
    decision, calendar = (EARLIEST, PORTSMOUTH) if code.startswith("9") else (LAST_2006_DAY, OLD)
    facts = CaseFacts(evidence={"custodial_sentence": "Youth court order, 24 months DTO"})
    for order in (CustodialOrder.FINAL_ORDER, CustodialOrder.ORDER_OF_RECALL):
        recorded = facts.model_copy(update={"custodial_order": order})
        assert assess_deletion(code, decision, recorded, calendar).permitted is True
    remand = facts.model_copy(update={"custodial_order": CustodialOrder.REMAND})
    assert assess_deletion(code, decision, remand, calendar).reasons == [
        "a remand in custody is not a final court order or an order of recall: the custodial "
        "ground does not apply"
    ]


# -- replaying decisions recorded before the proofs -----------------------------------------------
