"""Synthetic notifications, one of every kind, for the rendering and delivery tests: invented
children and professionals, example.invalid addresses."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from domain.case import notifications as n
from domain.case.model import (
    Actor,
    CaseKind,
    Decision,
    EpisodeSummary,
    InvestigationOutcome,
    ProblemKind,
    Role,
    Stage,
)
from domain.enquiries import Enquiry, EnquiryBy, EnquiryKind, EnquiryOutcome
from domain.grounds import Rulebook
from domain.intake import Address

CASE = "CME-7F3A9C21D0B4"
SCHOOL = "8512000"
FIRST, LAST = "Jacob", "Samplefield"
OFFICER = Actor(name="Sam Officer", role=Role.CME_OFFICER)
SCHOOL_LEAD = Actor(name="Pat Example", role=Role.SCHOOL, schools=(SCHOOL,))
REFERRER_EMAIL = "chris.demo@example.invalid"

CHILD = n.ChildDetails(
    first_name=FIRST,
    last_name=LAST,
    date_of_birth=date(2013, 11, 2),
    upn="Z851200018002",
    gender="male",
    address=Address(lines=["45 Specimen Street", "Portsmouth"], postcode="PO1 9ZZ"),
    address_kind="last known address",
    contacts=[
        n.ContactDetails(
            name="Laura Samplefield",
            relationship="mother",
            phone_numbers=["07700 900123", "01632 960111"],
            is_primary=True,
        ),
        n.ContactDetails(name="Tom Samplefield", relationship="uncle", phone_numbers=[]),
    ],
)
SCHOOL_REFERRER = n.ReferrerDetails(name="Pat Example", role="school", school_laestab=SCHOOL)
PROFESSIONAL = n.ReferrerDetails(
    name="Chris Demo",
    organisation="Example Health Visiting Service",
    role="Health visitor",
    phone="01632 960456",
    email=REFERRER_EMAIL,
)
PHONE_PRIMARY = Enquiry(
    by=EnquiryBy.SCHOOL,
    kind=EnquiryKind.PHONE_PRIMARY,
    made_on=date(2026, 2, 9),
    outcome=EnquiryOutcome.NO_CONTACT,
    note="Mobile rang out, no voicemail",
)
HOME_VISIT = Enquiry(
    by=EnquiryBy.SCHOOL,
    kind=EnquiryKind.HOME_VISIT,
    made_on=date(2026, 2, 26),
    outcome=EnquiryOutcome.NO_CONTACT,
)
PARTNER = Enquiry(
    by=EnquiryBy.LA,
    kind=EnquiryKind.PARTNER,
    made_on=date(2026, 3, 5),
    outcome=EnquiryOutcome.NO_INFORMATION,
)
EARLIER = EpisodeSummary(
    episode=1,
    kind=CaseKind.DESTINATION_NOT_VERIFIED,
    opened_at=datetime(2025, 10, 1, 9, tzinfo=UTC),
    closed_at=datetime(2025, 11, 7, 15, tzinfo=UTC),
    child_protection=False,
    decision=Decision.CLOSED,
    investigation_outcome=InvestigationOutcome.LOCATED_BACK_AT_SCHOOL,
)


def base(kind: str, to: list[n.Recipient], **fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "case": CASE,
        "episode": 2,
        "purpose": kind,
        "to": to,
        "case_kind": CaseKind.DESTINATION_NOT_VERIFIED,
        "school_laestab": SCHOOL,
        "child": CHILD,
    }
    values.update(fields)
    return values


def every_kind() -> dict[str, n.NotificationBase]:
    """One notification of each kind, by kind."""
    sat, school, mash, leader = (
        n.Recipient.SAT,
        n.Recipient.SCHOOL,
        n.Recipient.MASH,
        n.Recipient.TEAM_LEADER,
    )
    messages: list[n.NotificationBase] = [
        n.MashEscalation(
            **base("mash_escalation", [mash, sat]),
            child_protection_plan=False,
            concern="Neighbour reports shouting at night and the child not seen since half term",
            raised_by=SCHOOL_LEAD,
            referrer=SCHOOL_REFERRER,
            stage=Stage.SCHOOL_ENQUIRIES,
            mash_call_due=date(2026, 3, 3),
            mash_caller=Role.SCHOOL,
            earlier_episodes=[EARLIER],
        ),
        n.MashCallOverdue(
            **base("mash_call_overdue:4", [leader]),
            mash_call_due=date(2026, 3, 3),
            mash_caller=Role.SCHOOL,
        ),
        n.SatReferral(
            **base("sat_referral", [sat]),
            day1=date(2026, 2, 9),
            day10=date(2026, 2, 27),
            enquiries=[PHONE_PRIMARY, HOME_VISIT],
            referrer=SCHOOL_REFERRER,
            earlier_episodes=[EARLIER],
        ),
        n.NotOnRollReferral(
            **base(
                "not_on_roll_referral",
                [sat],
                case_kind=CaseKind.NOT_ON_ROLL,
                school_laestab=None,
                child=CHILD.model_copy(update={"address_kind": "address"}),
            ),
            referrer=PROFESSIONAL,
            where_seen="At a health visitor appointment",
            how_known_not_on_roll="Mother said the child has not started school",
            spoke_to_parents=True,
            notes="Family moved from Leeds in January; mother anxious about school places",
            school_place_offered_not_taken=None,
            earlier_episodes=[],
        ),
        n.InformationShared(
            **base("information_shared:3", [sat]),
            shared_by=SCHOOL_LEAD,
            information="A sibling's school says the family may be staying with relatives",
            attendance_codes=2,
        ),
        n.ThresholdReached(
            **base("threshold_reached", [sat]),
            ground_code="9(1)(i)",
            ground_title="20 school days continuous unauthorised absence, enquiries failed",
            threshold_day=date(2026, 3, 13),
            threshold_days=20,
            deletion_permitted_from=date(2026, 3, 16),
            stage=Stage.LA_INVESTIGATION,
            school_enquiries=[PHONE_PRIMARY, HOME_VISIT],
            la_enquiries=[],
        ),
        n.CtfOverdue(
            **base("ctf_overdue:1", [school, sat], case_kind=CaseKind.DESTINATION_VERIFIED),
            ctf_due=date(2026, 3, 20),
            ctf_destination="8512001",
        ),
        n.OutcomeToSchool(
            **base("outcome_to_school", [school, sat]),
            investigation_outcome=InvestigationOutcome.NOT_LOCATED,
            rulebook=Rulebook.REGS_2024,
            ground="9(1)(i)",
            ground_title="20 school days continuous unauthorised absence, enquiries failed",
            ground_other_rulebook="8(1)(h)",
            deletion_from=date(2026, 3, 17),
            ctf_destination="XXXXXXX",
            ctf_due=date(2026, 4, 21),
            decided_by=OFFICER,
        ),
        n.ClosureToSchool(
            **base("closure", [school, sat]),
            investigation_outcome=InvestigationOutcome.LOCATED_BACK_AT_SCHOOL,
            reason="contact made on 3 Mar 2026: the child is back at school",
            decided_by=OFFICER,
        ),
        n.ClosureDecision(
            **base(
                "closure",
                [sat, n.Recipient.REFERRER],
                case_kind=CaseKind.NOT_ON_ROLL,
                school_laestab=None,
                other_address=REFERRER_EMAIL,
            ),
            investigation_outcome=InvestigationOutcome.PLACED_ON_ROLL,
            reason="placed on roll at 8512001",
            decided_by=OFFICER,
        ),
        n.OtherLaNotice(
            **base(
                "other_la_notice",
                [n.Recipient.OTHER_LA],
                other_address="cme@leeds.example.invalid",
            ),
            other_la="Leeds City Council",
        ),
        n.CalendarEnds(
            **base("calendar_problem:2", [leader], child=None),
            deadline="sat_referral",
            problem="1 Sep 2026 is after the calendar's last term (ends 22 Jul 2026)",
        ),
        n.ProblemReport(
            **base("problem_report:1", [leader], child=None),
            problem_kind=ProblemKind.NOTIFICATION_UNDELIVERABLE,
            subject="mash_escalation:1",
            detail=f"case {CASE}, episode 2, mash_escalation:1: the mail server refused every "
            "recipient (550)",
        ),
    ]
    return {str(getattr(m, "kind", "")): m for m in messages}
