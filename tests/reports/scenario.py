"""A register a manager would recognise, built the way the service builds it: every case opened
from a validated referral, driven through the case's state machine (its requests and its timers,
on the Testshire calendar of :mod:`tests.domain.case.support`), and written with
:func:`activities.register.upsert_case`. Synthetic children ("Testchild Synthetic-...").

Today is **Wed 10 Jun 2026**, in the summer term (13 Apr - 22 Jul; half term 25-29 May, bank
holiday Mon 4 May); last term is spring (5 Jan - 27 Mar; half term 16-20 Feb; school 8512000 has
an INSET day on Mon 2 Mar). School days counted by hand:

====  =======  ==========================================  ==================  ========  ========
case  school   what happened                               stage today         to SAT    located
====  =======  ==========================================  ==================  ========  ========
S1    8512000  day 1 Mon 2 Feb, referred Wed 4 Feb; back    closed              10        13
               at school (contact on Wed 25 Feb)
S2    8512000  day 1 Mon 9 Feb, referred Mon 23 Feb          LA investigation    10        -
S3    8512000  day 1 Mon 2 Feb, referred late Tue 3 Mar;     awaiting deletion   16        20
               on roll at 8512001 (Mon 9 Mar)                authorisation
U1    8512001  day 1 Mon 13 Apr, referred late Thu 30 Apr    LA investigation    14        -
U2    8512000  day 1 Mon 20 Apr, referred Tue 21 Apr;        awaiting deletion   10        15
               moved away (Mon 11 May)                       authorisation
U3    8512000  Child Protection Plan, day 1 and referred     school enquiries    -         -
               Mon 1 Jun: the school's MASH call (due Tue
               2 Jun) never recorded: overdue
U4    none     professional, safeguarding, Mon 8 Jun; MASH   LA investigation    -         -
               phoned Tue 9 Jun
U5    8512001  a school B user's referral of a child on no   LA investigation    -         -
               roll, safeguarding, Tue 2 Jun; the officer's
               MASH call (due Wed 3 Jun) not recorded
U6    8512000  Pupil Migration LA Return filed Mon 8 Jun      awaiting CTF        -         -
N1    none     on no roll, Mon 2 Mar; placed on roll Mon     closed              -         -
               27 Apr
N2    none     on no roll, Thu 26 Feb                         LA investigation    -         -
N3    none     on no roll, Mon 11 May                         LA investigation    -         -
N4    none     on no roll, Mon 20 Apr; not located Mon 18    closed              -         -
               May
====  =======  ==========================================  ==================  ========  ========

Medians: SAT referral spring [10, 10, 16] -> 10, summer [14, 10] -> 12; located spring [13, 20]
-> 16.5, summer [15] -> 15.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session
from stdnum.gb import upn as stdnum_upn

from activities.register import upsert_case
from domain.case import Context, decide, next_wakeup, open_case
from domain.case.commands import (
    CaseCommand,
    ConcludeInvestigation,
    OpenCase,
    RecordEnquiry,
    RecordMashCall,
    ReportContact,
    Request,
    Tick,
)
from domain.case.model import Actor, InvestigationOutcome, Role
from domain.case.state import CaseState
from domain.enquiries import Enquiry, EnquiryBy, EnquiryKind, EnquiryOutcome
from domain.intake import AnyReferral, parse_referral
from tests.domain.case.support import CALENDAR, at

SCHOOL_A = "8512000"
SCHOOL_B = "8512001"
TODAY = date(2026, 6, 10)
NOW = at(TODAY, 9)

SCHOOL_A_USER = Actor(name="Ms Attendance", role=Role.SCHOOL, schools=(SCHOOL_A,))
SCHOOL_B_USER = Actor(name="Mr Register", role=Role.SCHOOL, schools=(SCHOOL_B,))
OFFICER = Actor(name="Officer Example", role=Role.CME_OFFICER)
TEAM_LEADER = Actor(name="Leader Example", role=Role.TEAM_LEADER)
MANAGER = Actor(name="Manager Example", role=Role.MANAGER)
MASH = Actor(name="Mash Example", role=Role.MASH)
ADMIN = Actor(name="Admin Example", role=Role.ADMIN)
PROFESSIONAL = Actor(name="Chris Demo", role=Role.PROFESSIONAL)

REFS = {
    tag: f"CME-5A00000000{n:02X}"
    for n, tag in enumerate(
        ["S1", "S2", "S3", "U1", "U2", "U3", "U4", "U5", "U6", "N1", "N2", "N3", "N4"], start=1
    )
}
TAG = {ref: tag for tag, ref in REFS.items()}
SURNAMES = {
    tag: f"Synthetic-{word}"
    for tag, word in zip(
        REFS,
        [
            "Alder",
            "Birch",
            "Cedar",
            "Damson",
            "Elder",
            "Fir",
            "Gorse",
            "Hazel",
            "Ivy",
            "Juniper",
            "Larch",
            "Maple",
            "Oak",
        ],
        strict=True,
    )
}
_EXAMPLES = Path(__file__).parents[2] / "examples"


def _example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((_EXAMPLES / name).read_text(encoding="utf-8"))
    return data


def _upn(serial: int) -> str:
    body = f"85120001{8:02d}{serial:03d}"[:12]
    return stdnum_upn.calc_check_digit(body) + body


def _pupil(tag: str, dob: str, serial: int) -> dict[str, Any]:
    return {
        "first_name": "Testchild",
        "last_name": SURNAMES[tag],
        "date_of_birth": dob,
        "gender": "female",
        "upn": _upn(serial),
    }


def _enquiry(kind: str, made_on: date) -> dict[str, Any]:
    return {"by": "school", "kind": kind, "made_on": str(made_on), "outcome": "no_contact"}


def school_referral(
    tag: str, *, school: str, day1: date, referred: date, cp: bool = False, serial: int
) -> AnyReferral:
    data = _example("school-cme-referral.json")
    data.update(
        pupil=_pupil(tag, "2013-11-02", serial),
        school_laestab=school,
        referral_date=str(referred),
        absence_kind="unauthorised",
        leave_end_date=None,
        first_day_of_absence=str(day1),
        enquiries_made=[_enquiry("phone_primary", day1), _enquiry("letter", day1)],
        child_protection_plan=cp,
        safeguarding_concern=False,
        siblings_schools=[],
    )
    return parse_referral(data, today=referred, calendar=CALENDAR)


def professional_referral(
    tag: str, *, referred: date, dob: str = "2017-04-21", safeguarding: bool = False
) -> AnyReferral:
    data = _example("professional-cme-referral.json")
    data["child"].update(first_name="Testchild", last_name=SURNAMES[tag], date_of_birth=dob)
    data.update(
        referral_date=str(referred),
        date_received=str(referred),
        safeguarding_concern=safeguarding,
        child_protection_plan=False,
    )
    return parse_referral(data, today=referred, calendar=CALENDAR)


def migration_return(tag: str, *, left: date, filed: date, serial: int) -> AnyReferral:
    data = _example("pupil-migration-return.json")
    data.update(
        pupil=_pupil(tag, "2015-06-14", serial),
        referral_date=str(filed),
        leaving_date=str(left),
        lives_with_from=str(left),
    )
    return parse_referral(data, today=filed, calendar=CALENDAR)


@dataclass
class Driven:
    """A case driven through the state machine, with its clock."""

    state: CaseState
    now: datetime
    requests: int = 0

    @classmethod
    def open(cls, tag: str, referral: AnyReferral, by: Actor, when: datetime) -> Driven:
        command = OpenCase(referral=referral, referred_by=by, request_id=f"{tag}-opening")
        outcome = open_case(REFS[tag], command, Context(now=when, calendar=CALENDAR))
        return cls(state=outcome.state, now=when)

    def do(self, command: CaseCommand | Request, when: datetime) -> Driven:
        """Apply ``command`` at ``when``, first letting the case act on its own until then."""
        self.advance(when)
        self.now = when
        self.state = decide(self.state, command, Context(now=when, calendar=CALENDAR)).state
        return self

    def advance(self, until: datetime) -> Driven:
        """Time passes until ``until``: every timer due by then fires (as soon as it can: a
        deadline already past when the case opened fires at once)."""
        for _ in range(200):
            wake = next_wakeup(self.state)
            if wake is None or wake > until:
                return self
            self.now = max(wake, self.now)
            self.state = decide(self.state, Tick(), Context(now=self.now, calendar=CALENDAR)).state
        raise AssertionError("the case keeps waking up")

    def rid(self) -> str:
        self.requests += 1
        return f"{self.state.case}-request-{self.requests}"


def la_enquiry(case: Driven, made_on: date) -> RecordEnquiry:
    return RecordEnquiry(
        by=OFFICER,
        request_id=case.rid(),
        enquiry=Enquiry(
            by=EnquiryBy.LA,
            kind=EnquiryKind.PARTNER,
            made_on=made_on,
            outcome=EnquiryOutcome.NO_INFORMATION,
        ),
    )


def conclude(case: Driven, outcome: InvestigationOutcome, **fields: Any) -> ConcludeInvestigation:
    return ConcludeInvestigation(by=OFFICER, request_id=case.rid(), outcome=outcome, **fields)


def build_cases() -> dict[str, CaseState]:
    """Every case of the scenario, as its state stands at 09:00 on Wed 10 Jun 2026."""
    d = date
    cases: dict[str, Driven] = {}

    s1 = Driven.open(
        "S1",
        school_referral(
            "S1", school=SCHOOL_A, day1=d(2026, 2, 2), referred=d(2026, 2, 4), serial=1
        ),
        SCHOOL_A_USER,
        at(d(2026, 2, 4)),
    )
    s1.do(la_enquiry(s1, d(2026, 2, 23)), at(d(2026, 2, 23)))
    s1.do(
        ReportContact(by=OFFICER, request_id=s1.rid(), contact_on=d(2026, 2, 25)),
        at(d(2026, 2, 25), 11),
    )
    cases["S1"] = s1

    cases["S2"] = Driven.open(
        "S2",
        school_referral(
            "S2", school=SCHOOL_A, day1=d(2026, 2, 9), referred=d(2026, 2, 23), serial=2
        ),
        SCHOOL_A_USER,
        at(d(2026, 2, 23)),
    )

    s3 = Driven.open(
        "S3",
        school_referral(
            "S3", school=SCHOOL_A, day1=d(2026, 2, 2), referred=d(2026, 3, 3), serial=3
        ),
        SCHOOL_A_USER,
        at(d(2026, 3, 3)),
    )
    s3.do(la_enquiry(s3, d(2026, 3, 4)), at(d(2026, 3, 4)))
    s3.do(
        conclude(s3, InvestigationOutcome.ON_ROLL_ELSEWHERE, new_school_laestab=SCHOOL_B),
        at(d(2026, 3, 9)),
    )
    cases["S3"] = s3

    cases["U1"] = Driven.open(
        "U1",
        school_referral(
            "U1", school=SCHOOL_B, day1=d(2026, 4, 13), referred=d(2026, 4, 30), serial=4
        ),
        SCHOOL_B_USER,
        at(d(2026, 4, 30)),
    )

    u2 = Driven.open(
        "U2",
        school_referral(
            "U2", school=SCHOOL_A, day1=d(2026, 4, 20), referred=d(2026, 4, 21), serial=5
        ),
        SCHOOL_A_USER,
        at(d(2026, 4, 21)),
    )
    u2.do(la_enquiry(u2, d(2026, 5, 5)), at(d(2026, 5, 5)))
    u2.do(
        conclude(u2, InvestigationOutcome.MOVED_AWAY, other_la="Examplecounty"), at(d(2026, 5, 11))
    )
    cases["U2"] = u2

    cases["U3"] = Driven.open(
        "U3",
        school_referral(
            "U3", school=SCHOOL_A, day1=d(2026, 6, 1), referred=d(2026, 6, 1), cp=True, serial=6
        ),
        SCHOOL_A_USER,
        at(d(2026, 6, 1)),
    )

    u4 = Driven.open(
        "U4",
        professional_referral("U4", referred=d(2026, 6, 8), safeguarding=True),
        PROFESSIONAL,
        at(d(2026, 6, 8)),
    )
    u4.do(
        RecordMashCall(by=OFFICER, request_id=u4.rid(), called_on=d(2026, 6, 9)),
        at(d(2026, 6, 9), 11),
    )
    cases["U4"] = u4

    cases["U5"] = Driven.open(
        "U5",
        professional_referral("U5", referred=d(2026, 6, 2), safeguarding=True),
        SCHOOL_B_USER,
        at(d(2026, 6, 2)),
    )
    cases["U6"] = Driven.open(
        "U6",
        migration_return("U6", left=d(2026, 6, 5), filed=d(2026, 6, 8), serial=9),
        SCHOOL_A_USER,
        at(d(2026, 6, 8)),
    )

    n1 = Driven.open(
        "N1", professional_referral("N1", referred=d(2026, 3, 2)), PROFESSIONAL, at(d(2026, 3, 2))
    )
    n1.do(
        conclude(n1, InvestigationOutcome.PLACED_ON_ROLL, new_school_laestab=SCHOOL_B),
        at(d(2026, 4, 27)),
    )
    cases["N1"] = n1
    cases["N2"] = Driven.open(
        "N2", professional_referral("N2", referred=d(2026, 2, 26)), PROFESSIONAL, at(d(2026, 2, 26))
    )
    cases["N3"] = Driven.open(
        "N3",
        professional_referral("N3", referred=d(2026, 5, 11), dob="2012-10-01"),
        PROFESSIONAL,
        at(d(2026, 5, 11)),
    )
    n4 = Driven.open(
        "N4", professional_referral("N4", referred=d(2026, 4, 20)), PROFESSIONAL, at(d(2026, 4, 20))
    )
    n4.do(la_enquiry(n4, d(2026, 4, 22)), at(d(2026, 4, 22)))
    n4.do(conclude(n4, InvestigationOutcome.NOT_LOCATED), at(d(2026, 5, 18)))
    cases["N4"] = n4

    return {tag: case.advance(NOW).state for tag, case in cases.items()}


def write_register(
    engine: Engine, states: dict[str, CaseState] | None = None
) -> dict[str, CaseState]:
    """The scenario's cases written to the register, as the workflow's sync writes them."""
    states = states if states is not None else build_cases()
    with Session(engine) as session:
        for state in states.values():
            upsert_case(session=session, state=state)
    return states
