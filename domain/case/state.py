"""The state of one episode of a child's case: the query answer, the register's source and the
value carried across continue-as-new. Every field is typed; new fields always get defaults, so a
state serialised by an earlier version keeps decoding."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from domain.case.events import CaseEvent
from domain.case.model import (
    Actor,
    CaseKind,
    CaseOutcome,
    CommandResult,
    Conclusion,
    CtfConfirmation,
    Deadlines,
    DeletionFacts,
    EpisodeSummary,
    Escalation,
    LoggedEnquiry,
    LoggedInformation,
    Problem,
    Stage,
    Task,
    TaskName,
    TaskStatus,
)
from domain.case.notifications import AnyNotification
from domain.deletion import LaConsent, OfficerConfirmation, SessionCode
from domain.grounds import Rulebook
from domain.intake import ProfessionalCMEReferral, Pupil, Referral

__all__ = ["CaseState", "NotificationRecord", "NotificationStatus", "RequestRecord"]


class NotificationStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"  # refused for good: a problem on the case until retried


class NotificationRecord(BaseModel):
    """One email of the case. Its ``message`` is kept until it is sent, so that a retry, or the
    run a long case continues as, can send it; then it is dropped (the register keeps the text)."""

    purpose: str  # unique within the episode: the outbox key is (case, episode, purpose)
    kind: str
    to: list[str]
    status: NotificationStatus = NotificationStatus.QUEUED
    child_protection: bool = False  # sent before the others
    queued_at: datetime
    sent_at: datetime | None = None
    message: AnyNotification | None = None


class RequestRecord(BaseModel):
    """A request the case has applied, by its idempotency key, with the answer it gave."""

    request_id: str
    fingerprint: str  # of the request's content: the same id with other content is refused
    at: datetime
    result: CommandResult
    # False until the request's own client has had the answer (the opening referral's, which
    # is applied when the case starts and answered when its update arrives).
    answered: bool = True


class CaseState(BaseModel):
    """Everything about one episode of a child's case."""

    # A validation error's text never quotes a value (the case holds personal data).
    model_config = ConfigDict(hide_input_in_errors=True)

    case: str
    episode: int = 1
    earlier_episodes: list[EpisodeSummary] = Field(default_factory=list)
    kind: CaseKind
    stage: Stage
    referral: Referral
    referred_by: Actor
    opened_at: datetime
    school_laestab: str | None = None
    child_protection: bool = False  # Child Protection Plan, or a safeguarding concern raised
    rulebook: Rulebook | None = None  # rulebook in force on the case's last step
    day1: date | None = None
    deadlines: Deadlines = Field(default_factory=Deadlines)
    threshold_reached_on: date | None = None
    tasks: list[Task] = Field(default_factory=list)
    enquiries: list[LoggedEnquiry] = Field(default_factory=list)
    information: list[LoggedInformation] = Field(default_factory=list)
    escalations: list[Escalation] = Field(default_factory=list)
    attendance_codes: list[SessionCode] = Field(default_factory=list)
    assigned_officer: str | None = None
    conclusion: Conclusion | None = None
    ctf: CtfConfirmation | None = None
    facts: DeletionFacts = Field(default_factory=DeletionFacts)
    no_sickness_confirmation: OfficerConfirmation | None = None
    la_consent: LaConsent | None = None
    referrals_received: int = 1
    problems: list[Problem] = Field(default_factory=list)
    calendar_checked_at: datetime | None = None
    notifications: list[NotificationRecord] = Field(default_factory=list)
    requests: list[RequestRecord] = Field(default_factory=list)
    log: list[CaseEvent] = Field(default_factory=list)
    outcome: CaseOutcome | None = None
    closed_at: datetime | None = None

    # -- derived views (never stored twice) --------------------------------------------------------

    @property
    def child(self) -> Pupil:
        referral = self.referral
        return referral.child if isinstance(referral, ProfessionalCMEReferral) else referral.pupil

    @property
    def open_problems(self) -> list[Problem]:
        return [p for p in self.problems if p.cleared_at is None]

    @property
    def repeat(self) -> bool:
        return bool(self.earlier_episodes)

    def open_tasks(self, name: TaskName | None = None) -> list[Task]:
        return [
            t
            for t in self.tasks
            if t.status is TaskStatus.OPEN and (name is None or t.name is name)
        ]

    @property
    def overdue(self) -> bool:
        return any(t.overdue for t in self.open_tasks())

    @property
    def next_deadline(self) -> date | None:
        """The soonest date something is due: an open task, or the SAT referral."""
        dues = [t.due for t in self.open_tasks() if t.due is not None]
        if self.stage is Stage.SCHOOL_ENQUIRIES and self.deadlines.sat_referral is not None:
            dues.append(self.deadlines.sat_referral)
        return min(dues) if dues else None
