"""Frozen: what version 1 of the case workflow's activities take and return: plain pydantic
models, sent through Temporal with the pydantic data converter (never the register's table
models).

This module is imported by workflow code, so it imports nothing that does I/O: no database, no mail
client, no settings (``Settings`` is only named for type checking).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel

from workflows.v1.models import CaseState


class Recipient(StrEnum):
    MASH = "mash"
    SAT = "sat"
    TEAM_LEADER = "team_leader"
    SCHOOL = "school"  # the address comes from MailConfig.school_email_pattern
    OTHER_LA = "other_la"  # the address comes from SendNotificationInput.other_address
    REFERRER = "referrer"  # the address comes from SendNotificationInput.other_address


class Template(StrEnum):
    """The emails the service sends; see :mod:`activities.templates` for their wording.

    The comment on each names its recipients and its ``fields`` (optional ones in brackets).
    """

    # to MASH + SAT: child with CP plan / safeguarding concern;
    # fields: pupil, [school_laestab], reason, mash_call_due
    MASH_ESCALATION = "mash_escalation"
    # to team leader; fields: pupil, [school_laestab], mash_call_due
    MASH_CALL_OVERDUE = "mash_call_overdue"
    # to SAT: no contact by end of school day 10;
    # fields: pupil, school_laestab, day1, day10, [enquiries] (multi-line text)
    SAT_REFERRAL = "sat_referral"
    # to SAT: professional referral received; fields: pupil, referrer
    NOT_ON_ROLL_REFERRAL = "not_on_roll_referral"
    # to SAT; fields: pupil, shared_by, information
    INFORMATION_SHARED = "information_shared"
    # to SAT; fields: pupil, school_laestab, threshold, ground
    THRESHOLD_REACHED = "threshold_reached"
    # to school + SAT; fields: pupil, school_laestab, ctf_due, ctf_destination
    CTF_OVERDUE = "ctf_overdue"
    # the written outcome to the school; fields: pupil, school_laestab, outcome, ground,
    # ground_title, [ground_other_rulebook], earliest_deletion_date, [ctf_destination],
    # [ctf_due], decided_by
    OUTCOME_TO_SCHOOL = "outcome_to_school"
    # case closed without deletion, to school; fields: pupil, school_laestab, outcome, reason,
    # decided_by
    CLOSURE_TO_SCHOOL = "closure_to_school"
    # not-on-roll case closed, to SAT (+ referrer); fields: pupil, outcome, reason, decided_by
    CLOSURE_DECISION = "closure_decision"
    # moved away: to the other LA; fields: pupil, [other_la], [school_laestab]
    OTHER_LA_NOTICE = "other_la_notice"
    # to team leader: a deadline lies past the configured calendar; fields: deadline, problem
    CALENDAR_ENDS = "calendar_ends"


class SendNotificationInput(BaseModel):
    case: str  # case reference, e.g. "CME-7F3A9C21D0B4": goes in every subject line
    purpose: str  # unique per case and message: the outbox key is (case, purpose)
    template: Template
    to: list[Recipient]
    school_laestab: str | None = None  # needed when SCHOOL is a recipient
    other_address: str | None = None  # needed when OTHER_LA or REFERRER is a recipient
    fields: dict[str, str] = {}


class SendNotificationResult(BaseModel):
    message_id: str
    already_sent: bool  # True: sent by an earlier attempt, nothing sent this time
    recipients: list[str]


class SyncCaseInput(BaseModel):
    state: CaseState


class SyncCaseResult(BaseModel):
    case: str
    stage: str


class LoadCalendarInput(BaseModel):
    school_laestab: str | None = None


# load_calendar returns domain.calendar_snapshot.CalendarSnapshot

# Mail settings: activities.config.MailConfig (shared by both versions).
