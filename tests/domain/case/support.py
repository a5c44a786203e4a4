"""What the case machine's tests share: a fixed school calendar, synthetic referrals, the people
who act on a case, and :class:`Case`, a small driver that applies commands with a clock.

The calendar (Testshire, LA 851) is fixed, so every deadline in the tests is a date counted by hand
on this grid (school 8512000 has an INSET day on Mon 2 Mar 2026; bank holidays in term: Mon 4 May
2026, and Mon 25 May 2026 inside the summer half term)::

    Spring 2026  Mon 5 Jan - Fri 27 Mar     half term Mon 16 - Fri 20 Feb
    Summer 2026  Mon 13 Apr - Wed 22 Jul    half term Mon 25 - Fri 29 May

            Mon  Tue  Wed  Thu  Fri
    Feb      2    3    4    5    6
             9   10   11   12   13
           (16   17   18   19   20  half term)
            23   24   25   26   27
    Mar     (2)   3    4    5    6      (2 Mar: INSET day of 8512000)
             9   10   11   12   13
            16   17   18   19   20
            23   24   25   26   27
          (Easter holidays 30 Mar - 10 Apr)
    Apr     13   14   15   16   17
            20 ...

:data:`SHORT_CALENDAR` is the spring term alone: it ends on Fri 27 Mar 2026.

Every state :class:`Case` produces is checked to survive a JSON round trip, as the workflow
carries it across continue-as-new.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

from domain.calendar import SchoolCalendar
from domain.case import (
    CaseState,
    Context,
    Outcome,
    Rejected,
    decide,
    next_wakeup,
    open_case,
)
from domain.case import events as ev
from domain.case import notifications as n
from domain.case.commands import (
    CaseCommand,
    CasePolicy,
    ConcludeInvestigation,
    ConfirmNoSicknessGrounds,
    ConfirmRegisterCodes,
    OpenCase,
    RecordEnquiry,
    Request,
    Tick,
)
from domain.case.model import Actor, InvestigationOutcome, Role
from domain.clock import LONDON
from domain.deletion import SessionCode
from domain.enquiries import Enquiry, EnquiryBy, EnquiryKind, EnquiryOutcome
from domain.intake import (
    AnyReferral,
    ProfessionalCMEReferral,
    PupilMigrationReturn,
    SchoolCMEReferral,
    parse_referral,
)

SCHOOL = "8512000"
OTHER_SCHOOL = "8512001"
CASE = "CME-0123456789AB"
OTHER_CASE = "CME-BA9876543210"

SCHOOL_OFFICE = Actor(name="Ms Attendance", role=Role.SCHOOL, schools=(SCHOOL,))
OFFICER = Actor(name="Officer Example", role=Role.CME_OFFICER)
TEAM_LEADER = Actor(name="Leader Example", role=Role.TEAM_LEADER)
PROFESSIONAL = Actor(name="Chris Demo", role=Role.PROFESSIONAL)

_SPRING = """
la_code = 851
la_name = "Testshire"

[[term]]
name = "Spring 2026"
first_day = 2026-01-05
last_day = 2026-03-27
closures = [[2026-02-16, 2026-02-20]]
"""
_SUMMER = """
[[term]]
name = "Summer 2026"
first_day = 2026-04-13
last_day = 2026-07-22
closures = [[2026-05-25, 2026-05-29]]
"""
_INSET = """
[inset]
"8512000" = [2026-03-02]
"""
CALENDAR = SchoolCalendar.loads(_SPRING + _SUMMER + _INSET, source="testshire.toml")
SHORT_CALENDAR = SchoolCalendar.loads(_SPRING + _INSET, source="testshire-spring.toml")

_EXAMPLES = Path(__file__).parents[3] / "examples"


def at(day: date, hour: int = 10, minute: int = 0) -> datetime:
    """A moment on ``day``, local (Europe/London) time."""
    return datetime.combine(day, time(hour, minute), LONDON)


def midnight_after(day: date) -> datetime:
    """The end of ``day``: local midnight that starts the next day."""
    return datetime.combine(day + timedelta(days=1), time(0), LONDON)


def midnight_starting(day: date) -> datetime:
    return datetime.combine(day, time(0), LONDON)


_ids = itertools.count(1)


def rid() -> str:
    """A fresh request id."""
    return f"request-{next(_ids):06d}"


# -- referrals -------------------------------------------------------------------------------------


def _example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((_EXAMPLES / name).read_text(encoding="utf-8"))
    return data


def school_enquiry(kind: str, made_on: date, outcome: str = "no_contact") -> dict[str, Any]:
    return {"by": "school", "kind": kind, "made_on": str(made_on), "outcome": outcome}


def school_referral(
    *,
    referral_date: date,
    day1: date | None = None,
    leave_end: date | None = None,
    enquiries: list[dict[str, Any]] | None = None,
    cp: bool = False,
    safeguarding: bool = False,
    calendar: SchoolCalendar = CALENDAR,
) -> SchoolCMEReferral:
    """A school's CME referral of a pupil of 8512000 (the example, re-dated), validated as at
    intake. Unauthorised absence from ``day1``, or absence after leave that ended ``leave_end``."""
    data = _example("school-cme-referral.json")
    data.update(
        referral_date=str(referral_date),
        absence_kind="after_leave" if leave_end else "unauthorised",
        leave_end_date=str(leave_end) if leave_end else None,
        first_day_of_absence=str(day1) if day1 else None,
        enquiries_made=enquiries or [],
        child_protection_plan=cp,
        safeguarding_concern=safeguarding,
    )
    referral = parse_referral(data, today=referral_date, calendar=calendar)
    assert isinstance(referral, SchoolCMEReferral)
    return referral


def migration_return(
    *,
    leaving_date: date,
    referral_date: date | None = None,
    ground: str = "9(1)(a)",
    destination: dict[str, Any] | None = None,
    ehe_letter: str | None = None,
    cp: bool = False,
    calendar: SchoolCalendar = CALENDAR,
    **more: Any,
) -> PupilMigrationReturn:
    """A Pupil Migration LA Return of 8512000 (the example, re-dated): by default the pupil is
    registered at 8512001 (9(1)(a))."""
    referral_date = referral_date or leaving_date
    data = _example("pupil-migration-return.json")
    data.update(
        referral_date=str(referral_date),
        leaving_date=str(leaving_date),
        lives_with_from=str(leaving_date),
        ground=ground,
        destination=destination or {"kind": "school", "school_laestab": OTHER_SCHOOL},
        ehe_letter_reference=ehe_letter,
        child_protection_plan=cp,
        **more,
    )
    referral = parse_referral(data, today=referral_date, calendar=calendar)
    assert isinstance(referral, PupilMigrationReturn)
    return referral


def professional_referral(
    *, referral_date: date, cp: bool = False, safeguarding: bool = False, notes: str | None = None
) -> ProfessionalCMEReferral:
    """A health visitor's referral of a child not on roll (the example, re-dated)."""
    data = _example("professional-cme-referral.json")
    data.update(
        referral_date=str(referral_date),
        date_received=str(referral_date),
        child_protection_plan=cp,
        safeguarding_concern=safeguarding,
    )
    if notes is not None:
        data["details"]["notes"] = notes
    referral = parse_referral(data, today=referral_date, calendar=CALENDAR)
    assert isinstance(referral, ProfessionalCMEReferral)
    return referral


# -- driving a case --------------------------------------------------------------------------------


def assert_round_trips(state: CaseState) -> None:
    """The state survives JSON, as the workflow carries it across continue-as-new."""
    text = state.model_dump_json()
    again = CaseState.model_validate_json(text)
    assert again == state
    assert again.model_dump_json() == text


@dataclass
class Case:
    """One episode of a case driven step by step: its state, the clock and the calendar."""

    state: CaseState
    now: datetime
    calendar: SchoolCalendar | None
    states: list[CaseState] = field(default_factory=list)
    policy: CasePolicy = field(default_factory=CasePolicy)

    @classmethod
    def open(
        cls,
        referral: AnyReferral,
        by: Actor,
        *,
        now: datetime,
        calendar: SchoolCalendar | None = CALENDAR,
        request_id: str = "opening-request-1",
        **opening: Any,
    ) -> tuple[Case, Outcome]:
        command = OpenCase(referral=referral, referred_by=by, request_id=request_id, **opening)
        outcome = open_case(CASE, command, Context(now=now, calendar=calendar))
        assert_round_trips(outcome.state)
        case = cls(state=outcome.state, now=now, calendar=calendar, states=[outcome.state])
        return case, outcome

    def context(self) -> Context:
        return Context(now=self.now, calendar=self.calendar, policy=self.policy)

    def _advance(self, when: datetime | None) -> None:
        if when is not None:
            assert when >= self.now, f"the clock does not go back: {when} < {self.now}"
            self.now = when

    def do(self, command: CaseCommand | Request, *, when: datetime | None = None) -> Outcome:
        """Apply ``command`` (at ``when``, if given) and keep the new state."""
        self._advance(when)
        before = self.state.model_copy(deep=True)
        outcome = decide(self.state, command, self.context())
        assert self.state == before, "decide changed the state it was given"
        assert_round_trips(outcome.state)
        self.state = outcome.state
        self.states.append(outcome.state)
        return outcome

    def refuse(self, command: CaseCommand | Request, *, when: datetime | None = None) -> str:
        """Apply ``command``, expecting a refusal; the state stays as it was. The reason."""
        self._advance(when)
        before = self.state.model_copy(deep=True)
        with pytest.raises(Rejected) as refused:
            decide(self.state, command, self.context())
        assert self.state == before
        return refused.value.message

    def wakeup(self) -> datetime:
        wake = next_wakeup(self.state)
        assert wake is not None, "the case has nothing to wake up for"
        return wake

    def tick(self) -> Outcome:
        """Sleep until the case's next wake-up, then tick."""
        return self.do(Tick(), when=self.wakeup())


# -- reading what a step did -----------------------------------------------------------------------

E = TypeVar("E", bound=ev.EventBase)
N = TypeVar("N", bound=n.NotificationBase)


def events(outcome: Outcome, kind: type[E]) -> list[E]:
    return [e for e in outcome.events if isinstance(e, kind)]


def event(outcome: Outcome, kind: type[E]) -> E:
    found = events(outcome, kind)
    assert len(found) == 1, f"expected one {kind.__name__}, got {found}"
    return found[0]


def queued(outcome: Outcome) -> list[n.NotificationBase]:
    """The emails a step queued, in order."""
    purposes = [e.purpose for e in events(outcome, ev.NotificationQueued)]
    messages = {r.purpose: r.message for r in outcome.state.notifications}
    found: list[n.NotificationBase] = []
    for purpose in purposes:
        message = messages[purpose]
        assert message is not None
        found.append(message)
    return found


def notification(outcome: Outcome, kind: type[N]) -> N:
    """The one email of type ``kind`` the step queued."""
    found = [m for m in queued(outcome) if isinstance(m, kind)]
    assert len(found) == 1, f"expected one {kind.__name__}, queued {queued(outcome)}"
    return found[0]


def kinds(outcome: Outcome) -> list[str]:
    """The kinds of the emails a step queued, in order."""
    return [str(getattr(m, "kind", "")) for m in queued(outcome)]


def effect_types(outcome: Outcome) -> list[str]:
    return [e.type for e in outcome.effects]


# -- the tests' standard cases ---------------------------------------------------------------------

# A missing pupil of 8512000: day 1 Mon 2 Feb 2026 (unauthorised), referred Wed 4 Feb 2026 with the
# school's phone call to the primary contact and letter of Tue 3 Feb. Day 10 is Fri 13 Feb; day 20
# is Mon 9 Mar (half term and the INSET day of Mon 2 Mar are not counted), so deletion is
# permitted from Tue 10 Mar 2026.
DAY1 = date(2026, 2, 2)
REFERRED = date(2026, 2, 4)
DAY10 = date(2026, 2, 13)
DAY20 = date(2026, 3, 9)
DELETION_PERMITTED_FROM = date(2026, 3, 10)


def school_efforts() -> list[dict[str, Any]]:
    """The school's phone call to the primary contact and letter, both on Tue 3 Feb 2026."""
    return [
        school_enquiry("phone_primary", date(2026, 2, 3)),
        school_enquiry("letter", date(2026, 2, 3)),
    ]


def missing_pupil(
    *,
    opened: date = REFERRED,
    enquiries: list[dict[str, Any]] | None = None,
    cp: bool = False,
    safeguarding: bool = False,
    calendar: SchoolCalendar | None = CALENDAR,
) -> tuple[Case, Outcome]:
    """The standard school CME referral (see above), opened at 10:00 on ``opened``."""
    referral = school_referral(
        referral_date=opened,
        day1=DAY1,
        enquiries=school_efforts() if enquiries is None else enquiries,
        cp=cp,
        safeguarding=safeguarding,
    )
    return Case.open(referral, SCHOOL_OFFICE, now=at(opened), calendar=calendar)


def enquiry(
    by: str, kind: str, made_on: date, outcome: str = "no_contact", note: str = ""
) -> Enquiry:
    return Enquiry(
        by=EnquiryBy(by),
        kind=EnquiryKind(kind),
        made_on=made_on,
        outcome=EnquiryOutcome(outcome),
        note=note,
    )


def la_enquiry(kind: str, made_on: date, outcome: str = "no_information") -> RecordEnquiry:
    """The CME officer's request to record an LA enquiry."""
    return RecordEnquiry(
        by=OFFICER, request_id=rid(), enquiry=enquiry("la", kind, made_on, outcome)
    )


def referred_to_sat() -> Case:
    """The standard missing pupil after the end of day 10: at the SAT since Sat 14 Feb 00:00."""
    case, _ = missing_pupil()
    case.tick()
    return case


def concluded(outcome: str = "not_located", **fields: Any) -> Case:
    """The standard missing pupil with the LA's partner enquiry of Mon 23 Feb, concluded by the
    officer on Wed 4 Mar 2026 (awaiting deletion authorisation)."""
    case = referred_to_sat()
    case.do(la_enquiry("partner", date(2026, 2, 23)), when=at(date(2026, 2, 23)))
    case.do(
        ConcludeInvestigation(
            by=OFFICER, request_id=rid(), outcome=InvestigationOutcome(outcome), **fields
        ),
        when=at(date(2026, 3, 4)),
    )
    return case


def absence_codes(first: date, last: date, code: str = "N") -> list[SessionCode]:
    """``code`` for both sessions (am and pm) of every school day of 8512000 from ``first`` to
    ``last``: the register of an absence, as the school confirms it."""
    return [
        SessionCode(day=day, session=session, code=code)
        for day in CALENDAR.school_days(first, last, SCHOOL)
        for session in ("am", "pm")
    ]


NO_SICKNESS_NOTE = "school and family liaison checked: no illness or other cause known"


def record_absence_proofs(
    case: Case, codes_to: date | None = DAY20, *, when: datetime | None = None
) -> None:
    """Record the proofs the absence grounds need besides the count and the joint enquiries
    (at ``when``, if given):

    * the CME officer's confirmation that there are no reasonable grounds to believe the pupil
      cannot attend because of sickness or an unavoidable cause (2006 8(1)(f)(ii), (h)(ii); 2024
      9(1)(h), (i)), dated today, so on or before the decision;
    * the school's register code N for every session (am and pm) of the counted school days from
      day 1 to ``codes_to`` (2024 9(1)(i); by default the standard case's day 20, Mon 9 Mar
      2026). ``None``: no codes, as for the after-leave ground, which prescribes none.

    A code may not be dated after today: record the codes up to day 20 on or after day 20.
    """
    case.do(
        ConfirmNoSicknessGrounds(by=OFFICER, request_id=rid(), note=NO_SICKNESS_NOTE), when=when
    )
    if codes_to is None:
        return
    day1 = case.state.day1
    assert day1 is not None, "day 1 is not counted: no calendar?"
    case.do(
        ConfirmRegisterCodes(
            by=SCHOOL_OFFICE, request_id=rid(), codes=absence_codes(day1, codes_to)
        )
    )


# A Pupil Migration LA Return: the pupil left 8512000 on Fri 6 Feb 2026 for 8512001; the return is
# filed, and the name deleted, on Mon 9 Feb. The CTF is due 15 school days after the deletion, the
# return's date (Pupil Information Regulations 2005 reg 9(3)), not the leaving date: 10-13 Feb
# (1-4), half term, 23-27 Feb (5-9), INSET Mon 2 Mar, 3-6 Mar (10-13), Mon 9 Mar (14), Tue 10 Mar
# 2026 (15).
LEFT = date(2026, 2, 6)
RETURN_FILED = date(2026, 2, 9)
CTF_DUE = date(2026, 3, 10)


def verified(
    *, cp: bool = False, calendar: SchoolCalendar | None = CALENDAR
) -> tuple[Case, Outcome]:
    referral = migration_return(leaving_date=LEFT, referral_date=RETURN_FILED, cp=cp)
    return Case.open(referral, SCHOOL_OFFICE, now=at(RETURN_FILED), calendar=calendar)


# A health visitor's referral of a child on no roll, made and opened on Thu 26 Feb 2026.
PROFESSIONAL_REFERRED = date(2026, 2, 26)


def not_on_roll(*, cp: bool = False, safeguarding: bool = False) -> tuple[Case, Outcome]:
    referral = professional_referral(
        referral_date=PROFESSIONAL_REFERRED, cp=cp, safeguarding=safeguarding
    )
    return Case.open(referral, PROFESSIONAL, now=at(PROFESSIONAL_REFERRED), calendar=CALENDAR)
