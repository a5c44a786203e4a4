"""Synthetic case states (version 2) for the activity tests: invented children, example.invalid
addresses."""

from __future__ import annotations

from datetime import UTC, date, datetime

from domain.case.model import (
    Actor,
    CaseKind,
    CaseOutcome,
    Conclusion,
    Deadlines,
    Decision,
    EpisodeSummary,
    Escalation,
    EscalationKind,
    InvestigationOutcome,
    LoggedEnquiry,
    Problem,
    ProblemKind,
    Role,
    Stage,
    Task,
    TaskName,
    TaskStatus,
)
from domain.case.state import CaseState, NotificationRecord, NotificationStatus
from domain.enquiries import AbsenceKind, Enquiry, EnquiryBy, EnquiryKind, EnquiryOutcome
from domain.grounds import Rulebook
from domain.intake import (
    Address,
    Child,
    Contact,
    Details,
    Gender,
    ProfessionalCMEReferral,
    Pupil,
    Referrer,
    SchoolCMEReferral,
)

CASE = "CME-7F3A9C21D0B4"
SCHOOL = "8512000"
OTHER_SCHOOL = "8512001"
FIRST_NAME, LAST_NAME, UPN = "Jacob", "Samplefield", "Z851200018002"
SCHOOL_LEAD = Actor(name="Pat Example", role=Role.SCHOOL, schools=(SCHOOL,))
OFFICER = Actor(name="Sam Officer", role=Role.CME_OFFICER)
SERVICE = Actor(name="CME service", role=Role.SERVICE)


def at(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def school_referral(
    *,
    first_name: str = FIRST_NAME,
    last_name: str = LAST_NAME,
    upn: str = UPN,
    school: str = SCHOOL,
    child_protection_plan: bool = False,
) -> SchoolCMEReferral:
    return SchoolCMEReferral(
        pupil=Pupil(
            first_name=first_name,
            last_name=last_name,
            date_of_birth=date(2013, 11, 2),
            gender=Gender.MALE,
            upn=upn,
        ),
        school_laestab=school,
        referral_date=date(2026, 3, 2),
        absence_kind=AbsenceKind.UNAUTHORISED,
        first_day_of_absence=date(2026, 2, 9),
        contacts=[
            Contact(
                name="Laura Samplefield",
                relationship="mother",
                phone_numbers=["07700 900123"],
                is_primary=True,
            )
        ],
        last_known_address=Address(lines=["45 Specimen Street", "Portsmouth"], postcode="PO1 9ZZ"),
        safeguarding_concern=False,
        child_protection_plan=child_protection_plan,
    )


def professional_referral() -> ProfessionalCMEReferral:
    return ProfessionalCMEReferral(
        child=Child(
            first_name="Maya",
            last_name="Placeholder",
            date_of_birth=date(2017, 4, 21),
            gender=Gender.FEMALE,
            ethnicity="not known",
            address=Address(lines=["7 Illustration Close", "Portsmouth"], postcode="PO6 9ZZ"),
        ),
        details=Details(
            where_seen="At a health visitor appointment",
            how_known_not_on_roll="Mother said the child has not started school",
            spoke_to_parents=True,
        ),
        referral_date=date(2026, 2, 26),
        referrer=Referrer(
            name="Chris Demo",
            organisation="Example Health Visiting Service",
            role="Health visitor",
            phone="01632 960456",
            email="chris.demo@example.invalid",
        ),
        safeguarding_concern=True,
        child_protection_plan=False,
    )


def investigating_state(
    case: str = CASE,
    *,
    referral: SchoolCMEReferral | None = None,
    episode: int = 1,
    earlier: list[EpisodeSummary] | None = None,
) -> CaseState:
    """A school referral past day 10: with the CME officer, two enquiries, one escalation, a
    sent email and an open problem."""
    referral = referral or school_referral()
    opened = at(date(2026, 3, 2))
    return CaseState(
        case=case,
        episode=episode,
        earlier_episodes=earlier or [],
        kind=CaseKind.DESTINATION_NOT_VERIFIED,
        stage=Stage.LA_INVESTIGATION,
        referral=referral,
        referred_by=SCHOOL_LEAD,
        opened_at=opened,
        school_laestab=referral.school_laestab,
        rulebook=Rulebook.REGS_2024,
        day1=date(2026, 2, 9),
        deadlines=Deadlines(
            sat_referral=date(2026, 2, 20),
            threshold_day=date(2026, 3, 13),
            deletion_permitted_from=date(2026, 3, 16),
        ),
        tasks=[
            Task(
                id=1,
                name=TaskName.SCHOOL_ENQUIRIES,
                assignee=Role.SCHOOL,
                status=TaskStatus.DONE,
                opened_at=opened,
                due=date(2026, 2, 20),
                done_by=SERVICE,
                done_at=at(date(2026, 3, 2), 15),
            ),
            Task(
                id=2,
                name=TaskName.INVESTIGATE,
                assignee=Role.CME_OFFICER,
                opened_at=at(date(2026, 3, 2), 15),
                due=date(2026, 3, 16),
            ),
        ],
        enquiries=[
            LoggedEnquiry(
                id=1,
                enquiry=Enquiry(
                    by=EnquiryBy.SCHOOL,
                    kind=EnquiryKind.PHONE_PRIMARY,
                    made_on=date(2026, 2, 9),
                    outcome=EnquiryOutcome.NO_CONTACT,
                    note="Mobile rang out",
                ),
                recorded_by=SCHOOL_LEAD,
                recorded_at=opened,
            ),
            LoggedEnquiry(
                id=2,
                enquiry=Enquiry(
                    by=EnquiryBy.SCHOOL,
                    kind=EnquiryKind.HOME_VISIT,
                    made_on=date(2026, 2, 26),
                    outcome=EnquiryOutcome.NO_CONTACT,
                ),
                recorded_by=SCHOOL_LEAD,
                recorded_at=opened,
            ),
        ],
        escalations=[
            Escalation(
                id=1,
                kind=EscalationKind.SAT_REFERRAL,
                at=at(date(2026, 3, 2), 15),
                reason="no contact by the end of school day 10 (20 Feb 2026)",
                raised_by=SERVICE,
            )
        ],
        problems=[
            Problem(
                id=1,
                kind=ProblemKind.CALENDAR_ENDS,
                subject="ctf",
                detail="1 Sep 2026 is after the calendar's last term",
                raised_at=opened,
                last_attempt_at=opened,
            )
        ],
        notifications=[
            NotificationRecord(
                purpose="sat_referral",
                kind="sat_referral",
                to=["sat"],
                status=NotificationStatus.SENT,
                queued_at=at(date(2026, 3, 2), 15),
                sent_at=at(date(2026, 3, 2), 16),
            )
        ],
        assigned_officer="Sam Officer",
    )


def authorised_state(case: str = CASE, *, episode: int = 1) -> CaseState:
    """The same case, deletion authorised on the 20-day ground and closed; its problem cleared."""
    state = investigating_state(case, episode=episode)
    decided = at(date(2026, 3, 17), 11)
    tasks = [t.model_copy() for t in state.tasks]
    tasks[1] = tasks[1].model_copy(
        update={"status": TaskStatus.DONE, "done_by": OFFICER, "done_at": decided}
    )
    tasks.append(
        Task(
            id=3,
            name=TaskName.AUTHORISE_DELETION,
            assignee=Role.CME_OFFICER,
            status=TaskStatus.DONE,
            opened_at=decided,
            done_by=OFFICER,
            done_at=decided,
        )
    )
    enquiries = [
        *state.enquiries,
        LoggedEnquiry(
            id=3,
            enquiry=Enquiry(
                by=EnquiryBy.LA,
                kind=EnquiryKind.PARTNER,
                made_on=date(2026, 3, 5),
                outcome=EnquiryOutcome.NO_INFORMATION,
            ),
            recorded_by=OFFICER,
            recorded_at=at(date(2026, 3, 5)),
        ),
    ]
    outcome = CaseOutcome(
        case=case,
        episode=episode,
        decision=Decision.DELETION_AUTHORISED,
        investigation_outcome=InvestigationOutcome.NOT_LOCATED,
        rulebook=Rulebook.REGS_2024,
        ground="9(1)(i)",
        ground_title="20 school days continuous unauthorised absence, enquiries failed",
        ground_other_rulebook="8(1)(h)",
        earliest_deletion_date=date(2026, 3, 17),
        ctf_destination="XXXXXXX",
        decided_by=OFFICER,
        decided_at=decided,
    )
    problems = [p.model_copy(update={"cleared_at": decided}) for p in state.problems]
    return state.model_copy(
        update={
            "stage": Stage.CLOSED,
            "tasks": tasks,
            "enquiries": enquiries,
            "conclusion": Conclusion(
                outcome=InvestigationOutcome.NOT_LOCATED, by=OFFICER, at=at(date(2026, 3, 16))
            ),
            "problems": problems,
            "outcome": outcome,
        }
    )


def not_on_roll_state(case: str = "CME-00AA11BB22CC") -> CaseState:
    """A professional's referral, with a safeguarding escalation whose MASH call is overdue."""
    opened = at(date(2026, 2, 27))
    return CaseState(
        case=case,
        kind=CaseKind.NOT_ON_ROLL,
        stage=Stage.LA_INVESTIGATION,
        referral=professional_referral(),
        referred_by=Actor(name="Chris Demo", role=Role.PROFESSIONAL),
        opened_at=opened,
        child_protection=True,
        tasks=[
            Task(id=1, name=TaskName.INVESTIGATE, assignee=Role.CME_OFFICER, opened_at=opened),
            Task(
                id=2,
                name=TaskName.PHONE_MASH,
                assignee=Role.CME_OFFICER,
                opened_at=opened,
                due=date(2026, 3, 2),
                overdue=True,
            ),
        ],
        escalations=[
            Escalation(
                id=1,
                kind=EscalationKind.MASH,
                at=opened,
                reason="the referrer raised a safeguarding concern",
                raised_by=Actor(name="Chris Demo", role=Role.PROFESSIONAL),
            )
        ],
    )
