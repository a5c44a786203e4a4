"""Frozen copy of domain/deletion.py as version 1 of the case workflow used it: replaying a v1
history must take the decisions it took then, whatever the law module says now. Never edit.

Is deleting a pupil from the admission register on a ground permitted on a date?

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
(day 1, day 20, the school day after it, the decision date while counting) lies outside the
calendar: a deadline past the configured calendar is never guessed, the caller must say so on the
case.

Rules, by ground:

* **20 school days' continuous unauthorised absence** (2006 8(1)(h), 2024 9(1)(i)): unauthorised
  absence from a recorded day 1 (a school day of the child's school, INSET days included via
  ``school_laestab``). Day 20 is the 20th school day counting day 1; the 20 days must have
  elapsed, so the earliest deletion date is the school day after day 20 (a decision on day 20,
  or on the weekend after it, is refused). Joint enquiries: at least
  one school enquiry and one LA enquiry recorded, and no enquiry that made contact (the child was
  located, so the absence grounds do not apply).
* **Not back after leave** (2006 8(1)(f), 2024 9(1)(h)): day 1 is the first school day after the
  leave ended; 10 school days must elapse, so the earliest date is the school day after day 10.
  Same joint enquiries.
* Under the 2024 rules both absence grounds also need every session of the counted days coded G,
  N or O. Only *known* codes are checked: a session whose code the service has not been told is
  not a refusal, because schools send codes only where they have them and the register itself is
  the school's to keep; a known code other than G, N or O is a refusal, one reason per day.
* **EHE** (2006 8(1)(d), 2024 9(1)(f)): the parent's written notice must be on file; the earliest
  date is the day it was received (or the decision date when that is not recorded). With
  ``s37_consent_rule`` on (Children's Wellbeing and Schools Act 2026 s.37, off until commenced)
  and the 2024 rules in force, a child subject to s.47 Children Act 1989 enquiries, on a Child
  Protection Plan or at an LA-arranged special school needs the LA's consent.
* **Every other ground** is documentary: each of the ground's evidence keys
  (:data:`EVIDENCE_DESCRIPTIONS`) must be in ``facts.evidence`` with a non-blank reference.

Enquiries are counted only if made on or before the decision date, so an old decision can be
replayed without later enquiries changing it.

Deletion is never backdated: ``earliest_date`` can lie before the decision date (the ground was met
earlier), but the deletion itself takes effect on ``max(earliest_date, decision_date)``; callers
must use that, never ``earliest_date`` alone.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

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

__all__ = [
    "ABSENCE_CODES_2024",
    "AFTER_LEAVE_DAYS",
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
    "DeletionAssessment",
    "SessionCode",
    "assess_deletion",
]

CONTINUOUS_ABSENCE_DAYS = 20
AFTER_LEAVE_DAYS = 10
# 2024 codes an absence must carry on every session for the 20-day ground: G (holiday not
# authorised), N (reason not yet established), O (absent in other or unknown circumstances).
ABSENCE_CODES_2024 = frozenset({"G", "N", "O"})


class SessionCode(BaseModel, frozen=True):
    """The attendance code one session was recorded with."""

    day: date
    session: Literal["am", "pm"]
    code: str  # attendance code letter, e.g. "N", "C", "G", "O"


class CaseFacts(BaseModel):
    """What the case knows that bears on deletion. Every field may be missing."""

    school_laestab: str | None = Field(default=None, pattern=r"^\d{7}$")
    absence_kind: AbsenceKind | None = None
    first_day_of_absence: date | None = None  # day 1 for unauthorised absence
    leave_end_date: date | None = None  # after leave: day 1 is the first school day after it
    enquiries: list[Enquiry] = Field(default_factory=list)
    attendance_codes: list[SessionCode] = Field(default_factory=list)  # where known
    ehe_letter_reference: str | None = None
    ehe_letter_received_on: date | None = None
    child_protection_plan: bool = False
    s47_enquiries: bool = False  # subject to s.47 Children Act 1989 enquiries
    la_arranged_special_school: bool = False
    la_consent_to_ehe: bool = False
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
        earliest = _ehe(ground, decision_date, facts, reasons, s37_consent_rule)
    else:
        earliest = decision_date
        for key in ground.evidence:
            if not facts.evidence.get(key, "").strip():
                reasons.append(f"evidence missing: {EVIDENCE_DESCRIPTIONS[key]}")

    return DeletionAssessment(
        ground=ground,
        ground_other_rulebook=other_rulebook_code(ground),
        decision_date=decision_date,
        permitted=not reasons,
        earliest_date=earliest,
        reasons=reasons,
    )


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
    last_day: date | None = None
    if day1 is None:
        reasons.append("first day of absence not recorded")
    elif not calendar.is_school_day(day1, school):
        reasons.append(f"first day of absence {human_date(day1)} is not a school day")
        day1 = None
    else:
        n = CONTINUOUS_ABSENCE_DAYS
        last_day = calendar.nth_school_day(day1, n, school)
        earliest = calendar.school_day_after(last_day, 1, school)
        if decision_date < earliest:
            done = _days_done(calendar, day1, decision_date, n, school)
            reasons.append(
                f"{done} of {n} school days by {human_date(decision_date)}: deletion is "
                f"permitted from {human_date(earliest)} at the earliest"
            )
    _check_enquiries(decision_date, facts, reasons)
    if ground.rulebook is Rulebook.REGS_2024 and day1 is not None and last_day is not None:
        _check_codes(calendar.school_days(day1, last_day, school), facts, reasons)
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
    if leave_end is None:
        reasons.append("date the leave of absence ended not recorded")
    else:
        n = AFTER_LEAVE_DAYS
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
    if ground.rulebook is Rulebook.REGS_2024 and counted:
        _check_codes(counted, facts, reasons)
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


def _check_codes(days: list[date], facts: CaseFacts, reasons: list[str]) -> None:
    counted = set(days)
    bad: dict[date, list[SessionCode]] = {}
    for sc in facts.attendance_codes:
        if sc.day in counted and sc.code.strip().upper() not in ABSENCE_CODES_2024:
            bad.setdefault(sc.day, []).append(sc)
    for day in sorted(bad):
        codes: list[str] = []
        for sc in sorted(bad[day], key=lambda s: s.session):  # "am" before "pm"
            if sc.code.strip() not in codes:
                codes.append(sc.code.strip())
        reasons.append(f"sessions on {human_date(day)} coded {' and '.join(codes)}, not G/N/O")


# -- EHE ------------------------------------------------------------------------------------------


def _ehe(
    ground: Ground,
    decision_date: date,
    facts: CaseFacts,
    reasons: list[str],
    s37_consent_rule: bool,
) -> date:
    if not (facts.ehe_letter_reference or "").strip():
        reasons.append("EHE letter missing: the parent's written notice is needed")
    received = facts.ehe_letter_received_on
    earliest = received if received is not None else decision_date
    if earliest > decision_date:
        reasons.append(
            f"EHE letter received on {human_date(earliest)}, after {human_date(decision_date)}: "
            f"deletion is permitted from {human_date(earliest)} at the earliest"
        )
    if s37_consent_rule and ground.rulebook is Rulebook.REGS_2024 and not facts.la_consent_to_ehe:
        if facts.s47_enquiries:
            reasons.append("LA consent needed: child subject to s.47 enquiries")
        if facts.child_protection_plan:
            reasons.append("LA consent needed: child on a Child Protection Plan")
        if facts.la_arranged_special_school:
            reasons.append("LA consent needed: child at an LA-arranged special school")
    return earliest
