"""The case's vocabulary in the words officers use: stages, kinds, roles, deadlines, outcomes,
problems, emails. Shared by ``cme show``, ``cme cases``, ``cme history`` and the task commands;
no Temporal, no I/O."""

from __future__ import annotations

from datetime import datetime

from domain.calendar import human_date
from domain.case.model import (
    Actor,
    CaseOutcome,
    Decision,
    EpisodeSummary,
    EscalationKind,
    InvestigationOutcome,
    Problem,
    ProblemKind,
    Role,
    TaskName,
)
from domain.case.state import CaseState
from domain.clock import LONDON
from domain.enquiries import AbsenceKind
from domain.intake import SchoolCMEReferral
from starter.case_words import KIND_WORDS as KIND_WORDS
from starter.case_words import STAGE_WORDS as STAGE_WORDS
from starter.case_words import iso as iso
from starter.case_words import kind_words as kind_words
from starter.case_words import stage_words as stage_words
from starter.case_words import words as words

FORM_WORDS = {
    "pupil_migration_return": "Pupil Migration LA Return (destination verified)",
    "school_cme_referral": "school CME referral (destination not verified)",
    "professional_cme_referral": "professional CME referral (child not on roll)",
}

ROLE_WORDS = {
    Role.SCHOOL: "school",
    Role.PROFESSIONAL: "professional",
    Role.CME_OFFICER: "CME officer",
    Role.TEAM_LEADER: "team leader",
    Role.SERVICE: "the service",
}

TASK_WORDS = {
    TaskName.SCHOOL_ENQUIRIES: "school enquiries",
    TaskName.CONFIRM_REGISTER_CODES: "confirm the register codes",
    TaskName.PHONE_MASH: "phone MASH",
    TaskName.INVESTIGATE: "investigate",
    TaskName.AUTHORISE_DELETION: "authorise deletion",
    TaskName.SEND_CTF: "send the CTF",
}

ESCALATION_WORDS = {
    EscalationKind.MASH: "to MASH and SAT",
    EscalationKind.TEAM_LEADER: "to the team leader",
    EscalationKind.SAT_REFERRAL: "referred to SAT",
    EscalationKind.CTF_OVERDUE: "CTF overdue",
    EscalationKind.CALENDAR_ENDS: "calendar problem, to the team leader",
    EscalationKind.PROBLEM: "problem, to the team leader",
}

PROBLEM_WORDS = {
    ProblemKind.NOTIFICATION_UNDELIVERABLE: "email undeliverable",
    ProblemKind.REGISTER_REJECTED: "register refused the case",
    ProblemKind.CALENDAR_UNUSABLE: "calendar unusable",
    ProblemKind.CALENDAR_ENDS: "deadline past the calendar",
    ProblemKind.EPISODES_UNKNOWN: "earlier episodes unknown",
    ProblemKind.INTERNAL_ERROR: "service error",
}

# Emails by the notification's kind (their subjects never name the child; these words neither).
EMAIL_WORDS = {
    "mash_escalation": "MASH escalation",
    "mash_call_overdue": "MASH call overdue",
    "sat_referral": "referral to SAT",
    "not_on_roll_referral": "referral of a child not on roll",
    "information_shared": "new information",
    "threshold_reached": "deletion threshold reached",
    "ctf_overdue": "CTF overdue reminder",
    "outcome_to_school": "written outcome",
    "closure_to_school": "written closure",
    "closure_decision": "closure decision",
    "other_la_notice": "notice to the other LA",
    "calendar_ends": "calendar problem",
    "problem_report": "problem report",
}

RECIPIENT_WORDS = {
    "mash": "MASH",
    "sat": "SAT",
    "team_leader": "team leader",
    "school": "school",
    "other_la": "other LA",
    "referrer": "referrer",
}

DECISION_WORDS = {
    Decision.DELETION_AUTHORISED: "deletion authorised",
    Decision.CLOSED: "closed",
}


def actor_words(actor: Actor) -> str:
    """``Ms A (school)``; the case's own actor is ``CME service``."""
    if actor.role is Role.SERVICE:
        return actor.name
    return f"{actor.name} ({ROLE_WORDS.get(actor.role, words(actor.role.value))})"


def local_time(moment: datetime) -> str:
    """``2026-03-02 09:14``, UK local time."""
    return f"{moment.astimezone(LONDON):%Y-%m-%d %H:%M}"


def local_date_words(moment: datetime) -> str:
    return human_date(moment.astimezone(LONDON).date())


def outcome_words(outcome: CaseOutcome | None) -> str:
    if outcome is None:
        return "none yet"
    by = actor_words(outcome.decided_by)
    if outcome.decision is Decision.DELETION_AUTHORISED:
        parts = [f"deletion authorised on ground {outcome.ground}"]
        if outcome.ground_title:
            parts[0] += f" ({outcome.ground_title})"
        if outcome.ground_other_rulebook:
            parts.append(f"other rulebook {outcome.ground_other_rulebook}")
        if outcome.earliest_deletion_date:
            parts.append(f"may be deleted from {human_date(outcome.earliest_deletion_date)}")
        if outcome.ctf_destination:
            parts.append(f"CTF to {outcome.ctf_destination}")
        return "; ".join(parts) + f"; by {by}"
    return f"closed: {outcome.closure_reason or 'no reason given'}; by {by}"


def after_leave(state: CaseState) -> bool:
    referral = state.referral
    return isinstance(referral, SchoolCMEReferral) and (
        referral.absence_kind is AbsenceKind.AFTER_LEAVE
    )


def deadline_names(state: CaseState) -> dict[str, str]:
    """Each of :class:`~domain.case.model.Deadlines`' fields, named as officers name it."""
    return {
        "sat_referral": "referral to SAT (end of day 10)",
        "threshold_day": "day 10 after leave" if after_leave(state) else "day 20",
        "deletion_permitted_from": "deletion permitted from",
        "ctf": "CTF due",
        "mash_call": "MASH call due",
    }


def deadline_name(state: CaseState, field: str) -> str:
    return deadline_names(state).get(field, words(field))


def episode_words(summary: EpisodeSummary) -> str:
    """``episode 1: destination not verified, opened 2 Mar 2026, closed 20 Mar 2026: deletion
    authorised on 9(1)(i)``."""
    text = f"episode {summary.episode}: {kind_words(summary.kind)}, opened "
    text += local_date_words(summary.opened_at)
    if summary.closed_at is not None:
        text += f", closed {local_date_words(summary.closed_at)}"
    else:
        text += ", not closed"
    text += f": {episode_outcome_words(summary)}"
    if summary.child_protection:
        text += " (child protection)"
    return text


def episode_outcome_words(summary: EpisodeSummary) -> str:
    parts: list[str] = []
    if summary.decision is not None:
        parts.append(DECISION_WORDS[summary.decision])
    if summary.ground:
        parts.append(f"on {summary.ground}")
    if summary.investigation_outcome is not None:
        parts.append(f"({investigation_words(summary.investigation_outcome)})")
    return " ".join(parts) or "no outcome recorded"


def investigation_words(outcome: InvestigationOutcome) -> str:
    return words(outcome.value)


def problem_words(problem: Problem) -> str:
    """``email undeliverable: sat_referral: address refused; since 2 Mar 2026 09:00, 3
    attempts``, and when it cleared."""
    kind = PROBLEM_WORDS.get(problem.kind, words(problem.kind.value))
    attempts = "1 attempt" if problem.attempts == 1 else f"{problem.attempts} attempts"
    text = (
        f"{kind}: {problem.subject}: {problem.detail}; since {local_time(problem.raised_at)}, "
        f"{attempts}"
    )
    if problem.cleared_at is not None:
        text += f"; cleared {local_time(problem.cleared_at)}"
    return text


def email_words(kind: str, to: list[str] | None = None) -> str:
    text = EMAIL_WORDS.get(kind, words(kind) or "email")
    if to:
        text += " (to " + ", ".join(RECIPIENT_WORDS.get(r, words(r)) for r in to) + ")"
    return text
