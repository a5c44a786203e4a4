"""Is deleting a pupil from the admission register on a ground permitted on a date?

:func:`assess_deletion` answers for one ground code and one decision date, from a case's facts and
the school-day calendar. The rulebook is the one in force on the decision date
(:func:`domain.grounds.rulebook_for`), and the code must be one of its grounds: a 2006 code asked
about on or after 19 Aug 2024 (or a 2024 code before it) raises
:class:`domain.grounds.UnknownGroundError`, which names the code to use instead.

The answer lists *every* reason deletion is refused, in plain words with dates and numbers, so an
officer can put them all right at once. Missing facts are reasons ("first day of absence not
recorded", "first day of absence 11 Oct 2025 is not a school day"), never exceptions. Only two
exceptions escape: :class:`~domain.grounds.UnknownGroundError` for a code that is not a ground of
the rulebook in force, and :class:`domain.calendar.CalendarEndsError` when a date the rule needs
(day 1, day 20, the school day after it, the decision date while counting, the day the school next
meets) lies outside the calendar: a deadline past the configured calendar is never guessed, the
caller must say so on the case.

"2006" below is The Education (Pupil Registration) (England) Regulations 2006 (SI 2006/1751),
"2024" The School Attendance (Pupil Registration) (England) Regulations 2024 (SI 2024/208).
``docs/law.md`` sets the rules out with their citations and the readings chosen. By ground:

* **20 school days' continuous unauthorised absence** (2006 8(1)(h), 2024 9(1)(i)): unauthorised
  absence from a recorded day 1 (a school day of the child's school, INSET days included via
  ``school_laestab``). Day 20 is the 20th school day counting day 1; the 20 days must have
  elapsed, so the earliest deletion date is the school day after day 20 (a decision on day 20,
  or on the weekend after it, is refused). Joint enquiries (2006 8(1)(h)(iii), 2024 9(1)(i)): at
  least one school enquiry and one LA enquiry recorded, and no enquiry that made contact (the
  child was located, so the absence grounds do not apply). No sickness or unavoidable cause (2006
  8(1)(h)(ii), 2024 9(1)(i)): a recorded confirmation, who and when, that there are no reasonable
  grounds to believe it keeps the pupil away (``no_sickness_confirmation``).
  Under the 2024 rules **every session** (am and pm) of the 20 counted days up to the decision
  date must have its register code on file and every one must be G, N or O (2024 9(1)(i), codes
  of Table 3 in reg 10): no code is no proof. The refusal names the sessions missing, as date
  ranges, and the days with other codes. When a session has several codes on file, the last one
  recorded is the register's (a code N must be replaced within 5 school days, reg 10).
* **Not back after leave** (2006 8(1)(f), 2024 9(1)(h)): day 1 is the first school day after the
  leave ended; 10 school days must elapse, so the earliest date is the school day after day 10.
  Same joint enquiries and the same confirmation (2006 8(1)(f)(ii)-(iii), 2024 9(1)(h)). Neither
  rulebook prescribes the register codes of those days (the G/N/O rule is 9(1)(i)'s alone), so
  none is required; but a code on file showing the pupil attended (``ATTENDED_CODES``) within the
  days counted refuses this ground and 2006 8(1)(h), since the pupil then did not "fail to
  attend" or was not "continuously absent".
* **EHE** (2006 8(1)(d), 2024 9(1)(f)): the parent's written notice must be on file; the earliest
  date is the day it was received (or the decision date when that is not recorded). Not while a
  school attendance order names the school (2006 8(1)(d) "in a case not falling within
  sub-paragraph (a)"; 2024 9(1)(f)).
* **Registered elsewhere, dual registration** (2006 8(1)(b), (c); 2024 9(1)(a), (c)): not while a
  school attendance order names the school (2006 (b) only; 2024 (a)(i), (c)(iii)), nor for a
  mobile child whose main school this is (2006 reg 9, pupils of no fixed abode; 2024 (a)(ii),
  (c)(iv)).
* **Ceases to be of compulsory school age** (2006 8(1)(k), 2024 9(1)(l)): the evidence that the
  pupil will not continue, and, from the date of birth, compulsory school age ends (Education Act
  1996 s.8, :mod:`domain.school_age`) before the school next meets after the decision date.
* **Custodial** (2006 8(1)(i), 2024 9(1)(j)): the evidence, and the kind of order recorded: a
  final order or an order of recall, never a remand.
* **Every other ground** is documentary: each of the ground's evidence keys
  (:data:`EVIDENCE_DESCRIPTIONS`) must be in ``facts.evidence`` with a non-blank reference (for
  2006 8(1)(a), one of the order's substitution or its revocation).

On every ground but an attendance order, death and permanent exclusion, a child registered at a
special school under arrangements made by the LA (``la_arranged_special_school``) needs that LA's
recorded consent, or a Secretary of State direction (``la_consent``): 2006 reg 8(2), 2024 reg 9(4).
This is law in force under both rulebooks, not a setting.

With ``s37_consent_rule`` on (Children's Wellbeing and Schools Act 2026 s.37, inserting s.434A
into the Education Act 1996; in force only once commenced by regulations under s.78(5)) and the
2024 rules in force, the EHE ground also needs the LA's consent for what s.434A adds: a child
placed by the LA at an independent special school (s.434A(3)(b)), or one for whom the LA is
conducting s.47 Children Act 1989 enquiries or taking action under s.47(8) (s.434A(4),
Condition B; a Child Protection Plan is read as such action).

Enquiries, confirmations and consents count only if made on or before the decision date, so an
old decision can be replayed without later facts changing it.

Deletion is never backdated: ``earliest_date`` can lie before the decision date (the ground was met
earlier), but the deletion itself takes effect on ``max(earliest_date, decision_date)``; callers
must use that, never ``earliest_date`` alone.

"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator

from domain.calendar import SchoolCalendar, human_date
from domain.enquiries import AbsenceKind, Enquiry, EnquiryBy, EnquiryOutcome
from domain.grounds import (
    CEASED_TO_BE_PUPIL,
    CEASES_COMPULSORY_AGE,
    CUSTODIAL_SENTENCE,
    DEATH_NOTIFIED,
    EVIDENCE_DESCRIPTIONS,
    FEES_UNPAID,
    MEDICAL_CERTIFICATE,
    MOVED_AWAY,
    NURSERY_NOT_TRANSFERRING,
    OTHER_SCHOOL_CONSENT,
    PERMANENT_EXCLUSION,
    REGISTERED_ELSEWHERE_CONFIRMED,
    SAO_REVOCATION,
    SAO_SUBSTITUTION,
    Ground,
    GroundKey,
    Rulebook,
    find_ground,
    ground_by_key,
    other_rulebook_code,
    rulebook_for,
)
from domain.school_age import ceases_before_school_next_meets

__all__ = [
    "ABSENCE_CODES_2024",
    "AFTER_LEAVE_DAYS",
    "ATTENDANCE_CODES",
    "ATTENDED_CODES",
    "CEASED_TO_BE_PUPIL",
    "CEASES_COMPULSORY_AGE",
    "CONTINUOUS_ABSENCE_DAYS",
    "CUSTODIAL_SENTENCE",
    "DEATH_NOTIFIED",
    "EVIDENCE_DESCRIPTIONS",
    "FEES_UNPAID",
    "MEDICAL_CERTIFICATE",
    "MOVED_AWAY",
    "NURSERY_NOT_TRANSFERRING",
    "OTHER_SCHOOL_CONSENT",
    "PERMANENT_EXCLUSION",
    "REGISTERED_ELSEWHERE_CONFIRMED",
    "SAO_REVOCATION",
    "SAO_SUBSTITUTION",
    "CaseFacts",
    "ConsentKind",
    "CustodialOrder",
    "DeletionAssessment",
    "LaConsent",
    "OfficerConfirmation",
    "SessionCode",
    "assess_deletion",
    "missing_sessions",
]

CONTINUOUS_ABSENCE_DAYS = 20  # 2006 8(1)(h), 2024 9(1)(i)
AFTER_LEAVE_DAYS = 10  # 2006 8(1)(f)(i), 2024 9(1)(h)
# 2024 9(1)(i): every session of the 20 days recorded with a code of Table 3 in reg 10: G (holiday
# not granted by the school), N (reason not yet established), O (other or unknown circumstances).
ABSENCE_CODES_2024 = frozenset({"G", "N", "O"})
# Codes that show the pupil came to school or to an approved educational activity: present (/ \ L;
# reg 10 Table 1), arrived after the register closed (U), attending elsewhere (B, D, K, P, V, W;
# Table 2, and the 2006 codes of the same letters).
ATTENDED_CODES = frozenset({"/", "\\", "L", "U", "B", "D", "K", "P", "V", "W"})
# Every code a session may carry: one letter (the 2006 codes, and the 2024 single-letter ones), the
# symbols / \ #, and the 2024 codes C1, C2, J1 and Y1 to Y7 (reg 10).
ATTENDANCE_CODES = frozenset(
    {
        *(chr(c) for c in range(ord("A"), ord("Z") + 1)),
        "/",
        "\\",
        "#",
        "C1",
        "C2",
        "J1",
        *(f"Y{n}" for n in range(1, 8)),
    }
)

_Name = Annotated[str, Field(min_length=1, max_length=200)]


class SessionCode(BaseModel, frozen=True):
    """The attendance code one session was recorded with (upper-cased, e.g. "N", "C1", "/")."""

    day: date
    session: Literal["am", "pm"]
    code: str

    @field_validator("code")
    @classmethod
    def _known_code(cls, value: str) -> str:
        code = value.strip().upper()
        if code not in ATTENDANCE_CODES:
            raise ValueError(
                f"{value.strip()!r} is not an attendance register code: give one letter (e.g. N, "
                "O, G, C, I), /, \\, #, or one of C1, C2, J1, Y1 to Y7"
            )
        return code


class ConsentKind(StrEnum):
    LA_CONSENT = "la_consent"  # the local authority that arranged the placement consents
    SECRETARY_OF_STATE_DIRECTION = "secretary_of_state_direction"  # after the LA refused


class LaConsent(BaseModel, frozen=True):
    """Consent to removing the pupil's name, as the officer records it: who, when, how.

    2006 reg 8(2) and 2024 reg 9(4): the consent of the LA that arranged a special-school place,
    or, if it refuses, a direction of the Secretary of State. Also the LA's consent of s.434A
    Education Act 1996 once s.37 of the 2026 Act is commenced.
    """

    kind: ConsentKind = ConsentKind.LA_CONSENT
    by: _Name  # who consented: the LA officer, or the Secretary of State's direction's signatory
    on: date
    reference: Annotated[str, Field(max_length=200)] = ""


class OfficerConfirmation(BaseModel, frozen=True):
    """An officer's recorded confirmation of a fact the regulations need: who, when."""

    by: _Name
    on: date
    note: Annotated[str, Field(max_length=2000)] = ""


class CustodialOrder(StrEnum):
    """Why the pupil is detained (2006 8(1)(i), 2024 9(1)(j))."""

    FINAL_ORDER = "final_order"  # a final order of a court: a sentence of detention
    ORDER_OF_RECALL = "order_of_recall"  # recalled by a court or the Secretary of State
    REMAND = "remand"  # remanded in custody awaiting trial or sentence: not the ground


class CaseFacts(BaseModel):
    """What the case knows that bears on deletion. Every field may be missing."""

    school_laestab: str | None = Field(default=None, pattern=r"^[0-9]{7}$")
    date_of_birth: date | None = None  # the age ground, 2006 8(1)(k) / 2024 9(1)(l)
    absence_kind: AbsenceKind | None = None
    first_day_of_absence: date | None = None  # day 1 for unauthorised absence
    leave_end_date: date | None = None  # after leave: day 1 is the first school day after it
    enquiries: list[Enquiry] = Field(default_factory=list)
    attendance_codes: list[SessionCode] = Field(default_factory=list)  # the register, as shared
    # 2006 8(1)(f)(ii), (h)(ii); 2024 9(1)(h), (i): no reasonable grounds to believe the pupil is
    # unable to attend because of sickness or an unavoidable cause.
    no_sickness_confirmation: OfficerConfirmation | None = None
    ehe_letter_reference: str | None = None
    ehe_letter_received_on: date | None = None
    child_protection_plan: bool = False
    s47_enquiries: bool = False  # the LA is conducting s.47 Children Act 1989 enquiries
    s47_action: bool = False  # the LA is taking action under s.47(8) Children Act 1989
    # Registered at a special school under arrangements made by the LA: 2006 reg 8(2), 2024 9(4).
    la_arranged_special_school: bool = False
    # Registered under LA arrangements at an independent school specially organised for SEN:
    # s.434A(3)(b) Education Act 1996, only with the s.37 switch on.
    la_arranged_independent_special_school: bool = False
    la_consent: LaConsent | None = None
    # A school attendance order naming this school is in force (2006 8(1)(b), (d); 2024 9(1)(a)(i),
    # (c)(iii), (f)).
    attendance_order_names_school: bool = False
    # A mobile child (2024 reg 3(1): no fixed abode, parent's trade requires travel) whose main
    # school this is (2006 reg 9; 2024 9(1)(a)(ii), (c)(iv)).
    mobile_child_main_school: bool = False
    custodial_order: CustodialOrder | None = None
    evidence: dict[str, str] = Field(default_factory=dict)  # evidence key -> reference


class DeletionAssessment(BaseModel):
    """Whether deletion on ``ground`` is permitted on ``decision_date``, and if not, why not.

    ``earliest_date``: when permitted, the date the ground was met (on or before the decision
    date); when refused but a date can be worked out, the date deletion would be permitted on
    time alone; otherwise ``None``. Deletion takes effect on ``max(earliest_date,
    decision_date)``: it is never backdated.
    """

    ground: Ground
    ground_other_rulebook: str | None
    decision_date: date
    permitted: bool
    earliest_date: date | None
    reasons: list[str]


def assess_deletion(
    ground_code: str,
    decision_date: date,
    facts: CaseFacts,
    calendar: SchoolCalendar,
    *,
    s37_consent_rule: bool = False,
) -> DeletionAssessment:
    """Assess deletion on ``ground_code`` on ``decision_date`` (see the module docstring).

    Raises :class:`~domain.grounds.UnknownGroundError` when the code is not a ground of the
    rulebook in force on ``decision_date`` and :class:`~domain.calendar.CalendarEndsError` when a
    date needed lies outside ``calendar``.
    """
    rulebook = rulebook_for(decision_date)
    ground = find_ground(ground_code, rulebook)
    reasons: list[str] = []
    earliest: date | None

    if ground.key is GroundKey.CONTINUOUS_ABSENCE:
        earliest = _continuous_absence(ground, decision_date, facts, calendar, reasons)
    elif ground.key is GroundKey.AFTER_LEAVE:
        earliest = _after_leave(ground, decision_date, facts, calendar, reasons)
    elif ground.key is GroundKey.EHE:
        earliest = _ehe(decision_date, facts, reasons)
    else:
        earliest = decision_date
        _check_evidence(ground, facts, reasons)
        if ground.key is GroundKey.CUSTODIAL:
            _check_custodial_order(facts, reasons)
        elif ground.key is GroundKey.CEASED_COMPULSORY_AGE:
            earliest = _ceases_compulsory_age(decision_date, facts, calendar, reasons)
    _check_registration_exceptions(ground, facts, reasons)
    earliest = _check_consent(ground, decision_date, facts, reasons, earliest, s37_consent_rule)

    return DeletionAssessment(
        ground=ground,
        ground_other_rulebook=_other_rulebook(ground, facts),
        decision_date=decision_date,
        permitted=not reasons,
        earliest_date=earliest,
        reasons=reasons,
    )


def _other_rulebook(ground: Ground, facts: CaseFacts) -> str | None:
    """The ground's code in the other rulebook; for 2006 8(1)(a) the one its evidence shows."""
    if ground.rulebook is Rulebook.REGS_2006 and ground.key is GroundKey.SAO_SUBSTITUTED:
        substituted = bool(facts.evidence.get(SAO_SUBSTITUTION, "").strip())
        revoked = bool(facts.evidence.get(SAO_REVOCATION, "").strip())
        if substituted != revoked:
            key = GroundKey.SAO_SUBSTITUTED if substituted else GroundKey.SAO_REVOKED
            match = ground_by_key(key, Rulebook.REGS_2024)
            return match.code if match else None
    return other_rulebook_code(ground)


# -- documentary grounds --------------------------------------------------------------------------


def _check_evidence(ground: Ground, facts: CaseFacts, reasons: list[str]) -> None:
    for key in ground.evidence:
        if not facts.evidence.get(key, "").strip():
            reasons.append(f"evidence missing: {EVIDENCE_DESCRIPTIONS[key]}")
    if ground.evidence_any and not any(
        facts.evidence.get(key, "").strip() for key in ground.evidence_any
    ):
        # 2006 8(1)(a): the order substituted, or revoked.
        wanted = " or ".join(EVIDENCE_DESCRIPTIONS[key] for key in ground.evidence_any)
        reasons.append(f"evidence missing: {wanted}")


def _check_custodial_order(facts: CaseFacts, reasons: list[str]) -> None:
    """2006 8(1)(i): "a final order made by a court or ... an order of recall made by a court or
    the Secretary of State"; 2024 9(1)(j) likewise. A remand is neither."""
    order = facts.custodial_order
    if order is None:
        reasons.append(
            "kind of custody not recorded: the ground needs a final court order or an order of "
            "recall, not a remand"
        )
    elif order is CustodialOrder.REMAND:
        reasons.append(
            "a remand in custody is not a final court order or an order of recall: the custodial "
            "ground does not apply"
        )


def _ceases_compulsory_age(
    decision_date: date, facts: CaseFacts, calendar: SchoolCalendar, reasons: list[str]
) -> date | None:
    """2006 8(1)(k), 2024 9(1)(l): the pupil "will cease to be of compulsory school age before the
    school next meets", from the date of birth (Education Act 1996 s.8)."""
    dob = facts.date_of_birth
    if dob is None:
        reasons.append(
            "date of birth not recorded: it shows whether the pupil ceases to be of compulsory "
            "school age before the school next meets"
        )
        return None
    check = ceases_before_school_next_meets(dob, decision_date, calendar, facts.school_laestab)
    if check.met:
        return check.earliest or decision_date
    text = (
        f"the pupil is of compulsory school age until {human_date(check.leaves_on)} (from the "
        f"date of birth), and the school meets again on {human_date(check.school_next_meets)}, "
        "before then"
    )
    if check.earliest is not None:
        text += f": deletion is permitted from {human_date(check.earliest)} at the earliest"
    reasons.append(text)
    return check.earliest


# -- exceptions to the registration grounds -------------------------------------------------------

# Grounds that do not apply while a school attendance order names the school:
# 2006 8(1)(b) and (d) ("in a case not falling within sub-paragraph (a)"; (c) has no such words);
# 2024 9(1)(a)(i), (c)(iii) and (f).
_NOT_UNDER_ATTENDANCE_ORDER: dict[Rulebook, frozenset[GroundKey]] = {
    Rulebook.REGS_2006: frozenset({GroundKey.REGISTERED_ELSEWHERE, GroundKey.EHE}),
    Rulebook.REGS_2024: frozenset(
        {GroundKey.REGISTERED_ELSEWHERE, GroundKey.DUAL_REGISTERED_CONSENT, GroundKey.EHE}
    ),
}
# Grounds that do not apply to a mobile child whose main school this is: 2006 8(1)(b), (c) ("in a
# case not falling within ... regulation 9", pupils of no fixed abode); 2024 9(1)(a)(ii), (c)(iv).
_NOT_FOR_MOBILE_MAIN_SCHOOL = frozenset(
    {GroundKey.REGISTERED_ELSEWHERE, GroundKey.DUAL_REGISTERED_CONSENT}
)


def _check_registration_exceptions(ground: Ground, facts: CaseFacts, reasons: list[str]) -> None:
    if facts.attendance_order_names_school and ground.key in _NOT_UNDER_ATTENDANCE_ORDER.get(
        ground.rulebook, frozenset()
    ):
        order_grounds = [
            g.code
            for key in (GroundKey.SAO_SUBSTITUTED, GroundKey.SAO_REVOKED)
            if (g := ground_by_key(key, ground.rulebook)) is not None
        ]
        then = " or ".join(dict.fromkeys(order_grounds))
        reasons.append(
            f"a school attendance order naming this school is in force: ground {ground.code} does "
            f"not apply while it is: once the local authority amends or revokes the order, the "
            f"ground is {then}"
        )
    if facts.mobile_child_main_school and ground.key in _NOT_FOR_MOBILE_MAIN_SCHOOL:
        reasons.append(
            f"the pupil is a mobile child and this is their main school: ground {ground.code} "
            "does not apply"
        )


# -- LA consent -----------------------------------------------------------------------------------


def _check_consent(
    ground: Ground,
    decision_date: date,
    facts: CaseFacts,
    reasons: list[str],
    earliest: date | None,
    s37_consent_rule: bool,
) -> date | None:
    needed: list[str] = []
    # 2006 reg 8(2), 2024 reg 9(4): law in force, whatever the s.37 switch.
    if facts.la_arranged_special_school and ground.needs_special_school_consent:
        needed.append(
            "the pupil was placed at a special school by the local authority, so the name may be "
            "removed only with that authority's consent (or a Secretary of State direction)"
        )
    # Education Act 1996 s.434A (inserted by CWSA 2026 s.37), once commenced: EHE only, and only
    # what s.434A adds to reg 9(4).
    if s37_consent_rule and ground.rulebook is Rulebook.REGS_2024 and ground.key is GroundKey.EHE:
        if facts.s47_enquiries:  # s.434A(4)(a)
            needed.append("child subject to s.47 enquiries")
        if facts.s47_action:  # s.434A(4)(b)
            needed.append("local authority taking action under s.47(8)")
        if facts.child_protection_plan and not facts.s47_action:  # read as s.47(8) action
            needed.append("child on a Child Protection Plan")
        if facts.la_arranged_independent_special_school:  # s.434A(3)(b)
            needed.append("child placed at an independent special school by the local authority")
    if not needed:
        return earliest
    consent = facts.la_consent
    if consent is None:
        reasons.extend(f"LA consent needed: {why}" for why in needed)
        return earliest
    if consent.on > decision_date:
        given = (
            "Secretary of State direction"
            if consent.kind is ConsentKind.SECRETARY_OF_STATE_DIRECTION
            else "LA consent"
        )
        reasons.append(
            f"{given} recorded on {human_date(consent.on)}, after {human_date(decision_date)}: "
            f"deletion is permitted from {human_date(consent.on)} at the earliest"
        )
        return consent.on if earliest is None else max(earliest, consent.on)
    return earliest


# -- the absence grounds --------------------------------------------------------------------------


def _continuous_absence(
    ground: Ground,
    decision_date: date,
    facts: CaseFacts,
    calendar: SchoolCalendar,
    reasons: list[str],
) -> date | None:
    school = facts.school_laestab
    _check_kind(ground, facts, AbsenceKind.UNAUTHORISED, reasons)
    earliest: date | None = None
    day1 = facts.first_day_of_absence
    counted: list[date] = []
    n = CONTINUOUS_ABSENCE_DAYS
    if day1 is None:
        reasons.append("first day of absence not recorded")
    elif not calendar.is_school_day(day1, school):
        reasons.append(f"first day of absence {human_date(day1)} is not a school day")
    else:
        last_day = calendar.nth_school_day(day1, n, school)
        earliest = calendar.school_day_after(last_day, 1, school)
        counted = calendar.school_days(day1, last_day, school)
        if decision_date < earliest:
            done = _days_done(calendar, day1, decision_date, n, school)
            reasons.append(
                f"{done} of {n} school days by {human_date(decision_date)}: deletion is "
                f"permitted from {human_date(earliest)} at the earliest"
            )
    _check_enquiries(decision_date, facts, reasons)
    _check_not_sick(decision_date, facts, reasons)
    if counted:
        if ground.rulebook is Rulebook.REGS_2024:
            # 2024 9(1)(i): every session coded G, N or O, and the codes on file.
            _check_codes_2024([d for d in counted if d <= decision_date], facts, reasons)
        else:
            # 2006 8(1)(h): "continuously absent"; a present code breaks the run.
            _check_attended(counted, facts, reasons, f"during the {n} school days")
    return earliest


def _after_leave(
    ground: Ground,
    decision_date: date,
    facts: CaseFacts,
    calendar: SchoolCalendar,
    reasons: list[str],
) -> date | None:
    school = facts.school_laestab
    _check_kind(ground, facts, AbsenceKind.AFTER_LEAVE, reasons)
    earliest: date | None = None
    counted: list[date] = []
    leave_end = facts.leave_end_date
    n = AFTER_LEAVE_DAYS
    if leave_end is None:
        reasons.append("date the leave of absence ended not recorded")
    else:
        day1 = calendar.school_day_after(leave_end, 1, school)
        last_day = calendar.nth_school_day(day1, n, school)
        earliest = calendar.school_day_after(last_day, 1, school)
        counted = calendar.school_days(day1, last_day, school)
        if decision_date < earliest:
            done = _days_done(calendar, day1, decision_date, n, school)
            reasons.append(
                f"{done} of {n} school days after leave ended on {human_date(leave_end)}, by "
                f"{human_date(decision_date)}: deletion is permitted from {human_date(earliest)} "
                "at the earliest"
            )
    _check_enquiries(decision_date, facts, reasons)
    _check_not_sick(decision_date, facts, reasons)
    # 2006 8(1)(f)(i), 2024 9(1)(h): "failed to attend ... within the 10 school days". No code is
    # prescribed for those days: only a code showing attendance refuses.
    _check_attended(counted, facts, reasons, f"within the {n} school days after the leave ended")
    return earliest


def _days_done(
    calendar: SchoolCalendar, day1: date, decision_date: date, n: int, school: str | None
) -> int:
    """School days from ``day1`` to ``decision_date`` inclusive, capped at ``n``."""
    if decision_date < day1:
        return 0
    return min(calendar.count_school_days(day1, decision_date, school), n)


def _check_kind(ground: Ground, facts: CaseFacts, needed: AbsenceKind, reasons: list[str]) -> None:
    words = {AbsenceKind.UNAUTHORISED: "unauthorised", AbsenceKind.AFTER_LEAVE: "after leave"}
    kind = facts.absence_kind
    if kind is needed:
        return
    if kind is None:
        reasons.append(f"absence not recorded as {words[needed]}")
        return
    other_key = (
        GroundKey.AFTER_LEAVE if kind is AbsenceKind.AFTER_LEAVE else GroundKey.CONTINUOUS_ABSENCE
    )
    other = ground_by_key(other_key, ground.rulebook)
    assert other is not None  # both rulebooks have both absence grounds
    reasons.append(
        f"absence recorded as {words[kind]}, not {words[needed]}: ground {other.code} applies"
    )


def _check_enquiries(decision_date: date, facts: CaseFacts, reasons: list[str]) -> None:
    """2006 8(1)(f)(iii), (h)(iii); 2024 9(1)(h), (i): the school and the LA "have failed, after
    jointly making reasonable enquiries, to ascertain where the pupil is"."""
    made = sorted(
        (e for e in facts.enquiries if e.made_on <= decision_date), key=lambda e: e.made_on
    )
    if not any(e.by is EnquiryBy.SCHOOL for e in made):
        reasons.append("no school enquiry recorded")
    if not any(e.by is EnquiryBy.LA for e in made):
        reasons.append("no LA enquiry recorded")
    who = {EnquiryBy.SCHOOL: "school", EnquiryBy.LA: "LA"}
    for e in made:
        if e.outcome is EnquiryOutcome.CONTACT_MADE:
            reasons.append(
                f"child located by {who[e.by]} enquiry on {human_date(e.made_on)}: the absence "
                "grounds do not apply"
            )


def _check_not_sick(decision_date: date, facts: CaseFacts, reasons: list[str]) -> None:
    """2006 8(1)(f)(ii), (h)(ii); 2024 9(1)(h), (i): the school "does not have reasonable grounds
    to believe that the pupil is unable to attend ... by reason of sickness or any unavoidable
    cause". Proved by a recorded confirmation, not by the absence of evidence to the contrary."""
    confirmation = facts.no_sickness_confirmation
    if confirmation is None:
        reasons.append(
            "no recorded confirmation that there are no reasonable grounds to believe the pupil "
            "cannot attend because of sickness or an unavoidable cause"
        )
    elif confirmation.on > decision_date:
        reasons.append(
            f"the confirmation that no sickness or unavoidable cause keeps the pupil away was "
            f"recorded on {human_date(confirmation.on)}, after {human_date(decision_date)}"
        )


def _register(days: Iterable[date], facts: CaseFacts) -> dict[tuple[date, str], str]:
    """The code of each session of ``days`` on file; the last one recorded wins."""
    wanted = set(days)
    return {(sc.day, sc.session): sc.code for sc in facts.attendance_codes if sc.day in wanted}


def missing_sessions(days: list[date], facts: CaseFacts) -> list[tuple[date, str]]:
    """The sessions of ``days`` (school days, in order) with no register code on file."""
    register = _register(days, facts)
    return [(d, s) for d in days for s in ("am", "pm") if (d, s) not in register]


def _session_runs(days: list[date], missing: list[tuple[date, str]]) -> str:
    """Missing sessions as runs of consecutive school days: "13 Oct 2025 to 24 Oct 2025, 3 Nov
    2025 (pm)"."""
    gaps: dict[date, set[str]] = {}
    for d, s in missing:
        gaps.setdefault(d, set()).add(s)
    runs: list[tuple[date, date, frozenset[str]]] = []
    previous: date | None = None
    for d in days:
        sessions = frozenset(gaps.get(d, ()))
        if sessions and runs and runs[-1][2] == sessions and previous == runs[-1][1]:
            runs[-1] = (runs[-1][0], d, sessions)
        elif sessions:
            runs.append((d, d, sessions))
        previous = d
    parts = []
    for first, last, sessions in runs:
        text = human_date(first) if first == last else f"{human_date(first)} to {human_date(last)}"
        if len(sessions) == 1:
            text += f" ({next(iter(sessions))})"
        parts.append(text)
    return ", ".join(parts)


def _check_codes_2024(days: list[date], facts: CaseFacts, reasons: list[str]) -> None:
    """2024 9(1)(i): every session of the 20 days coded G, N or O, each code on file."""
    register = _register(days, facts)
    bad: dict[date, list[str]] = {}
    for d in days:
        for s in ("am", "pm"):
            code = register.get((d, s))
            if code is not None and code not in ABSENCE_CODES_2024 and code not in bad.get(d, []):
                bad.setdefault(d, []).append(code)
    for d in sorted(bad):
        reasons.append(f"sessions on {human_date(d)} coded {' and '.join(bad[d])}, not G/N/O")
    missing = missing_sessions(days, facts)
    if missing:
        sessions = f"{len(missing)} session{'s' if len(missing) != 1 else ''}"
        reasons.append(
            f"register codes not on file for {sessions} (school days "
            f"{_session_runs(days, missing)}): every session of the {CONTINUOUS_ABSENCE_DAYS} "
            "school days must be coded G, N or O"
        )


def _check_attended(days: list[date], facts: CaseFacts, reasons: list[str], why: str) -> None:
    register = _register(days, facts)
    for d in days:
        codes = [
            code
            for s in ("am", "pm")
            if (code := register.get((d, s))) is not None and code in ATTENDED_CODES
        ]
        if codes:
            shown = " and ".join(dict.fromkeys(codes))
            reasons.append(f"sessions on {human_date(d)} coded {shown}: the pupil attended {why}")


# -- EHE ------------------------------------------------------------------------------------------


def _ehe(decision_date: date, facts: CaseFacts, reasons: list[str]) -> date:
    """2006 8(1)(d), 2024 9(1)(f): the parent's written notice."""
    if not (facts.ehe_letter_reference or "").strip():
        reasons.append("EHE letter missing: the parent's written notice is needed")
    received = facts.ehe_letter_received_on
    earliest = received if received is not None else decision_date
    if earliest > decision_date:
        reasons.append(
            f"EHE letter received on {human_date(earliest)}, after {human_date(decision_date)}: "
            f"deletion is permitted from {human_date(earliest)} at the earliest"
        )
    return earliest
