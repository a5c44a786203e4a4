"""The case as a pure state machine: a command and the current state in, the new state, its
events, the effects to run and the answer out. No Temporal, no I/O, no clock: the moment and the
school's calendar come in a :class:`Context`.

* :func:`open_case` opens an episode from its referral;
* :func:`decide` applies any other command; it raises :class:`~domain.case.rules.Rejected` (with
  the reason) for a request the case refuses, and then nothing changes: it works on a copy;
* :func:`next_wakeup` is when the case next has something to do on its own (a deadline, a retry);
  the caller sends :class:`~domain.case.commands.Tick` then.

Stages, by kind of case:

- destination not verified (school CME referral): ``school_enquiries`` → (no contact by the end of
  school day 10: referred to SAT) ``la_investigation`` → (officer concludes: on roll elsewhere,
  moved away, home educated, not located) ``awaiting_deletion_authorisation`` → (officer authorises
  on a ground the rulebook permits; written outcome to the school) ``closed``. Contact with the
  child back at school, or located back at school, closes the case with no deletion.
- destination verified (Pupil Migration LA Return): ``awaiting_ctf`` until the school confirms the
  CTF (due within 15 school days; an overdue CTF reminds the school and SAT) and the officer
  authorises deletion on the return's ground → ``closed``.
- not on roll (professional referral): ``la_investigation`` → closure decision → ``closed``.

A Child Protection Plan or safeguarding concern, at intake or raised later, emails MASH and SAT at
once and opens a "phone MASH" task; no call recorded by the end of the next school day escalates
to the SAT team leader.

One failure policy: what the service cannot do (an address refused, the register refusing the
case's data, the calendar file broken or ending) becomes a :class:`~domain.case.model.Problem` on
the case: recorded, escalated to the team leader (by email, unless the failure is that email),
retried daily (weekly for the calendar) or on request, and cleared when a retry succeeds.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel

from domain.calendar import CalendarError, SchoolCalendar, human_date
from domain.case import events as ev
from domain.case import notifications as n
from domain.case import rules
from domain.case.commands import (
    AuthoriseDeletion,
    CalendarReloaded,
    CaseCommand,
    CasePolicy,
    ConcludeInvestigation,
    ConfirmCtf,
    ConfirmNoSicknessGrounds,
    ConfirmRegisterCodes,
    NotificationDelivered,
    NotificationFailed,
    OpenCase,
    RaiseConcern,
    Reassign,
    RecordConsent,
    RecordDeletionFacts,
    RecordEnquiry,
    RecordMashCall,
    RegisterFailed,
    RegisterReferral,
    RegisterSynced,
    ReportContact,
    Request,
    RetryProblems,
    ShareInformation,
    Tick,
    Withdraw,
)
from domain.case.effects import (
    Effect,
    LoadCalendar,
    SendNotification,
    StartNextEpisode,
    SyncRegister,
)
from domain.case.model import (
    Actor,
    CaseKind,
    CaseOutcome,
    CommandResult,
    Conclusion,
    CtfConfirmation,
    Decision,
    DeletionFacts,
    EpisodeSummary,
    Escalation,
    EscalationKind,
    InvestigationOutcome,
    LoggedEnquiry,
    LoggedInformation,
    Problem,
    ProblemKind,
    Role,
    Stage,
    Task,
    TaskName,
    TaskStatus,
    case_kind_of,
)
from domain.case.rules import Rejected
from domain.case.state import CaseState, NotificationRecord, NotificationStatus, RequestRecord
from domain.clock import end_of_day, local_date, start_of_day
from domain.ctf import (
    CTF_SCHOOL_DAYS,
    LOST_PUPIL_DATABASE,
    is_la_without_school,
    validate_ctf_destination,
)
from domain.deletion import (
    DeletionAssessment,
    LaConsent,
    OfficerConfirmation,
    assess_deletion,
    missing_sessions,
)
from domain.enquiries import EnquiryBy
from domain.grounds import (
    GroundKey,
    Rulebook,
    UnknownGroundError,
    find_ground,
    ground_by_key,
    rulebook_for,
)
from domain.intake import (
    ProfessionalCMEReferral,
    PupilMigrationReturn,
    SchoolCMEReferral,
    school_of,
)

__all__ = [
    "SERVICE",
    "Context",
    "Outcome",
    "Rejected",
    "check",
    "decide",
    "episode_summary",
    "finished",
    "next_wakeup",
    "open_case",
    "record_internal_error",
    "request_fingerprint",
]

SERVICE = Actor(name="CME service", role=Role.SERVICE)

_FIRST_STAGE = {
    CaseKind.DESTINATION_NOT_VERIFIED: Stage.SCHOOL_ENQUIRIES,
    CaseKind.DESTINATION_VERIFIED: Stage.AWAITING_CTF,
    CaseKind.NOT_ON_ROLL: Stage.LA_INVESTIGATION,
}
# How often an open problem is retried on its own.
RETRY_EVERY = {
    ProblemKind.CALENDAR_UNUSABLE: timedelta(days=7),
    ProblemKind.CALENDAR_ENDS: timedelta(days=7),
}
RETRY_DEFAULT = timedelta(days=1)
RETRY_AFTER_CLOSING = timedelta(days=7)
# Requests remembered for idempotency, newest kept (a re-send older than this is applied again).
REMEMBERED_REQUESTS = 500


@dataclass(frozen=True)
class Context:
    """What a step needs from outside: the moment, and the school's calendar (``None`` when it
    could not be loaded: deadlines are then not counted, and the case says so)."""

    now: datetime
    calendar: SchoolCalendar | None
    policy: CasePolicy = field(default_factory=CasePolicy)
    # Who may do what (rules.check_referrer, require_school_access) is checked on every request.
    # Off only while a case recorded before those checks replays its history, whose actors
    # carried no schools.
    check_access: bool = True

    @property
    def today(self) -> date:
        return local_date(self.now)


@dataclass
class Outcome:
    """What a command did: the new state, the events it appended, the effects to run, and the
    answer to a request (``None`` for the case's own commands)."""

    state: CaseState
    events: list[Any] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)
    result: CommandResult | None = None


# -- the entry points ------------------------------------------------------------------------------


def open_case(case: str, command: OpenCase, ctx: Context) -> Outcome:
    """Open an episode of ``case`` from its referral."""
    referral = command.referral
    if ctx.check_access:
        rules.check_referrer(referral, command.referred_by)
    kind = case_kind_of(referral)
    state = CaseState(
        case=case,
        episode=command.episode,
        earlier_episodes=list(command.earlier_episodes),
        kind=kind,
        stage=_FIRST_STAGE[kind],
        referral=referral,
        referred_by=command.referred_by,
        opened_at=ctx.now,
        school_laestab=school_of(referral),
    )
    step = _Step(state, ctx)
    step.open(command)
    if command.episodes_problem is not None:
        step.problem(ProblemKind.EPISODES_UNKNOWN, "earlier episodes", command.episodes_problem)
    step.remember(
        command.request_id,
        _fingerprint(command.referral, command.referred_by),
        answered=command.answered,
    )
    return step.outcome()


def decide(state: CaseState, command: CaseCommand | Request, ctx: Context) -> Outcome:
    """Apply ``command`` to the case. Raises :class:`Rejected` for a refused request; the state
    given is never changed (the step works on a copy)."""
    if isinstance(command, OpenCase):
        raise Rejected("the case is already open")
    if isinstance(command, Request):
        # Who may touch this case at all, before anything else (a stored answer included). A
        # referral is judged by the referral alone: another school's referral of the same child
        # joins the case (the referrer learns only that its referral was added).
        if not ctx.check_access:
            pass
        elif isinstance(command, RegisterReferral):
            rules.check_referrer(command.referral, command.by)
        else:
            rules.require_may_change(command.by)
            rules.require_school_access(command.by, rules.case_schools(state))
        record = _stored_request(state, command)
        if record is not None and record.answered:
            answer = record.result.model_copy(update={"duplicate_request": True})
            return Outcome(state=state, result=answer)
        if record is not None:
            # The referral that opened the case, delivered with its start: answered now, once.
            step = _Step(_working_copy(state), ctx)
            for kept in step.state.requests:
                if kept.request_id == command.request_id:
                    kept.answered = True
            step.changed = True
            step.result = record.result.model_copy(
                update={
                    "stage": state.stage,
                    "referrals_received": state.referrals_received,
                }
            )
            return step.outcome()
    step = _Step(_working_copy(state), ctx)
    handler = _HANDLERS[type(command)]
    handler(step, command)
    if isinstance(command, Request):
        step.remember(command.request_id, request_fingerprint(command))
    return step.outcome()


def check(state: CaseState, command: CaseCommand | Request, ctx: Context) -> None:
    """Whether ``command`` would be accepted: :func:`decide` without keeping anything."""
    decide(state, command, ctx)


def next_wakeup(state: CaseState) -> datetime | None:
    """When the case next acts on its own: a deadline's end, a task's due date, a retry. While
    the case's own processing is failing (an internal error), it waits for that retry."""
    moments = [at for at, _ in _timers(state)]
    if not moments:
        return None
    failing = [
        p.last_attempt_at + RETRY_DEFAULT
        for p in state.open_problems
        if p.kind is ProblemKind.INTERNAL_ERROR
    ]
    return max([min(moments), *failing])


def finished(state: CaseState, now: datetime) -> bool:
    """Whether the episode's workflow may end: the case is closed, its emails are all sent, and
    no problem is left to retry (a closed case retries for :data:`RETRY_AFTER_CLOSING` at most;
    what still fails then stays recorded on the case and in the register)."""
    if state.stage is not Stage.CLOSED or state.outcome is None:
        return False
    if any(r.status is NotificationStatus.QUEUED for r in state.notifications):
        return False
    closed_at = state.closed_at or state.outcome.decided_at
    return not state.open_problems or now >= closed_at + RETRY_AFTER_CLOSING


def record_internal_error(state: CaseState, detail: str, ctx: Context) -> Outcome:
    """A step failed with an error of the service itself: the case records it as a problem (and
    the team leader is told) instead of failing; the step is retried with the problem."""
    step = _Step(_working_copy(state), ctx)
    step.problem(ProblemKind.INTERNAL_ERROR, "processing", detail)
    return step.outcome()


def episode_summary(state: CaseState) -> EpisodeSummary:
    outcome = state.outcome
    return EpisodeSummary(
        episode=state.episode,
        kind=state.kind,
        opened_at=state.opened_at,
        closed_at=state.closed_at or (outcome.decided_at if outcome else None),
        child_protection=state.child_protection,
        decision=outcome.decision if outcome else None,
        investigation_outcome=state.conclusion.outcome if state.conclusion else None,
        ground=outcome.ground if outcome else None,
    )


# -- idempotency -----------------------------------------------------------------------------------


def _fingerprint(*parts: BaseModel) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.model_dump_json().encode())
        digest.update(b"\x00")
    return digest.hexdigest()


def request_fingerprint(command: Request) -> str:
    """What makes two requests the same request, whatever their ids: their content and sender
    (a client uses it to tell a re-sent request from a reused id)."""
    if isinstance(command, RegisterReferral):
        # A referral is the same request whoever's client re-sends it: its content and sender.
        return _fingerprint(command.referral, command.by)
    return _fingerprint(command.model_copy(update={"request_id": "-" * 8}))


def _stored_request(state: CaseState, command: Request) -> RequestRecord | None:
    for record in state.requests:
        if record.request_id != command.request_id:
            continue
        if record.fingerprint != request_fingerprint(command):
            raise Rejected(
                f"request id {command.request_id} was already used on "
                f"{human_date(local_date(record.at))} "
                "for a different request: send a new request id"
            )
        return record
    return None


# -- one step of the case --------------------------------------------------------------------------

C = TypeVar("C")


def _working_copy(state: CaseState) -> CaseState:
    """A copy of ``state`` for a step to change: deep, but for the log and the referral, which
    the copy shares. A recorded event is never changed (a step only appends to the log, which the
    copy has a list of its own for) and a referral is frozen; the log is most of a long case's
    state, so copying it for every step, and every validator's check, is most of the cost."""
    memo: dict[int, Any] = {id(state.log): list(state.log), id(state.referral): state.referral}
    return copy.deepcopy(state, memo)


class _Step:
    """The state being changed by one command, with what the change records and asks for."""

    def __init__(self, state: CaseState, ctx: Context) -> None:
        self.state = state
        self.ctx = ctx
        self.events: list[Any] = []
        self.effects: list[Effect] = []
        self.result: CommandResult | None = None
        self.changed = False
        self.sync = True  # whether a change asks for a register sync

    # -- bookkeeping -------------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        return self.ctx.now

    @property
    def today(self) -> date:
        return self.ctx.today

    def record(self, event_type: type[ev.EventBase], by: Actor, **fields: Any) -> None:
        event = event_type(seq=len(self.state.log) + 1, at=self.now, by=by, **fields)
        self.state.log.append(event)  # type: ignore[arg-type]
        self.events.append(event)
        self.changed = True

    def answer(self, **fields: Any) -> CommandResult:
        state = self.state
        self.result = CommandResult(
            case=state.case,
            episode=state.episode,
            stage=state.stage,
            referrals_received=state.referrals_received,
            **fields,
        )
        return self.result

    def remember(self, request_id: str, fingerprint: str, *, answered: bool = True) -> None:
        if self.result is None:
            self.answer()
        assert self.result is not None
        requests = self.state.requests
        requests.append(
            RequestRecord(
                request_id=request_id,
                fingerprint=fingerprint,
                at=self.now,
                result=self.result,
                answered=answered,
            )
        )
        del requests[:-REMEMBERED_REQUESTS]
        self.changed = True

    def outcome(self) -> Outcome:
        if self.changed and self.sync:
            self.effects.append(SyncRegister())
        return Outcome(
            state=self.state, events=self.events, effects=self.effects, result=self.result
        )

    # -- stage, tasks, escalations, information ------------------------------------------------

    def set_stage(self, stage: Stage, by: Actor) -> None:
        if self.state.stage is stage:
            return
        before = self.state.stage
        self.state.stage = stage
        self.record(ev.StageChanged, by, stage_from=before, stage_to=stage)

    def add_task(self, name: TaskName, assignee: Role, due: date | None = None) -> Task:
        task = Task(
            id=len(self.state.tasks) + 1, name=name, assignee=assignee, opened_at=self.now, due=due
        )
        self.state.tasks.append(task)
        self.record(ev.TaskOpened, SERVICE, task_id=task.id, name=name, assignee=assignee, due=due)
        return task

    def close_tasks(self, name: TaskName | None, by: Actor, status: TaskStatus) -> None:
        for task in self.state.open_tasks(name):
            task.status, task.done_by, task.done_at = status, by, self.now
            self.record(ev.TaskClosed, by, task_id=task.id, name=task.name, status=status)

    def escalate(self, kind: EscalationKind, reason: str, by: Actor) -> Escalation:
        escalation = Escalation(
            id=len(self.state.escalations) + 1, kind=kind, at=self.now, reason=reason, raised_by=by
        )
        self.state.escalations.append(escalation)
        self.record(ev.Escalated, by, escalation_id=escalation.id, kind=kind, reason=reason)
        return escalation

    def log_information(self, text: str, by: Actor) -> LoggedInformation:
        logged = LoggedInformation(
            id=len(self.state.information) + 1, information=text, shared_by=by, shared_at=self.now
        )
        self.state.information.append(logged)
        self.changed = True
        return logged

    def log_enquiry(self, command_enquiry: Any, by: Actor) -> LoggedEnquiry:
        logged = LoggedEnquiry(
            id=len(self.state.enquiries) + 1,
            enquiry=command_enquiry,
            recorded_by=by,
            recorded_at=self.now,
        )
        self.state.enquiries.append(logged)
        self.record(ev.EnquiryRecorded, by, enquiry_id=logged.id, enquiry=command_enquiry)
        return logged

    # -- notifications ---------------------------------------------------------------------------

    def base(self, purpose: str, to: list[n.Recipient], **fields: Any) -> dict[str, Any]:
        state = self.state
        values: dict[str, Any] = {
            "case": state.case,
            "episode": state.episode,
            "purpose": purpose,
            "to": to,
            "case_kind": state.kind,
            "school_laestab": state.school_laestab,
            "child": rules.child_details(state.referral),
        }
        values.update(fields)
        return values

    def notify(self, message: n.NotificationBase, *, child_protection: bool = False) -> None:
        state = self.state
        if any(r.purpose == message.purpose for r in state.notifications):
            return  # one message per purpose and episode
        record = NotificationRecord(
            purpose=message.purpose,
            kind=str(getattr(message, "kind", "")),
            to=[r.value for r in message.to],
            child_protection=child_protection,
            queued_at=self.now,
            message=message,
        )
        state.notifications.append(record)
        self.record(
            ev.NotificationQueued, SERVICE, purpose=record.purpose, kind=record.kind, to=record.to
        )
        self.effects.append(SendNotification(purpose=record.purpose))

    def notification(self, purpose: str) -> NotificationRecord | None:
        return next((r for r in self.state.notifications if r.purpose == purpose), None)

    # -- problems --------------------------------------------------------------------------------

    def open_problem(self, kind: ProblemKind, subject: str) -> Problem | None:
        return next(
            (p for p in self.state.open_problems if p.kind is kind and p.subject == subject), None
        )

    def problem(self, kind: ProblemKind, subject: str, detail: str) -> Problem:
        """Record a problem (or another failed attempt at an open one) and escalate a new one."""
        existing = self.open_problem(kind, subject)
        if existing is not None:
            existing.attempts += 1
            existing.last_attempt_at = self.now
            existing.detail = detail
            self.changed = True
            return existing
        problem = Problem(
            id=len(self.state.problems) + 1,
            kind=kind,
            subject=subject,
            detail=detail,
            raised_at=self.now,
            last_attempt_at=self.now,
        )
        self.state.problems.append(problem)
        self.record(
            ev.ProblemRaised,
            SERVICE,
            problem_id=problem.id,
            kind=kind,
            subject=subject,
            detail=detail,
        )
        if kind in (ProblemKind.CALENDAR_ENDS, ProblemKind.CALENDAR_UNUSABLE):
            self.escalate(EscalationKind.CALENDAR_ENDS, f"{subject}: {detail}", SERVICE)
            self.notify(
                n.CalendarEnds(
                    **self.base(
                        f"calendar_problem:{problem.id}",
                        [n.Recipient.TEAM_LEADER],
                        child=None,
                        deadline=subject,
                        problem=detail,
                    )
                )
            )
            return problem
        self.escalate(EscalationKind.PROBLEM, f"{kind.value.replace('_', ' ')}: {subject}", SERVICE)
        failed = (
            self.notification(subject) if kind is ProblemKind.NOTIFICATION_UNDELIVERABLE else None
        )
        # Never report a failed email by the same road: a failed report or a failed email to the
        # team leader is on the case (and in `cme cases --problems`) only.
        if failed is None or (
            n.Recipient.TEAM_LEADER.value not in failed.to and failed.kind != "problem_report"
        ):
            self.notify(
                n.ProblemReport(
                    **self.base(
                        f"problem_report:{problem.id}",
                        [n.Recipient.TEAM_LEADER],
                        child=None,
                        problem_kind=kind,
                        subject=subject,
                        detail=detail,
                    )
                )
            )
        return problem

    def clear_problem(self, kind: ProblemKind, subject: str) -> None:
        problem = self.open_problem(kind, subject)
        if problem is None:
            return
        problem.cleared_at = self.now
        self.record(ev.ProblemCleared, SERVICE, problem_id=problem.id, kind=kind, subject=subject)

    # -- the calendar ------------------------------------------------------------------------------

    @property
    def calendar(self) -> SchoolCalendar | None:
        return self.ctx.calendar

    def count(self, deadline: str, what: Callable[[SchoolCalendar], date]) -> date | None:
        """A date worked out from the calendar; past the calendar (or with none), a problem."""
        calendar = self.calendar
        if calendar is None:
            self.problem(
                ProblemKind.CALENDAR_UNUSABLE, "calendar", "the school calendar could not be loaded"
            )
            return None
        try:
            day = what(calendar)
        except CalendarError as exc:
            self.problem(ProblemKind.CALENDAR_ENDS, deadline, str(exc))
            return None
        self.clear_problem(ProblemKind.CALENDAR_ENDS, deadline)
        return day

    def set_deadline(self, name: str, due: date | None) -> None:
        if due is None or getattr(self.state.deadlines, name) == due:
            return
        setattr(self.state.deadlines, name, due)
        self.record(ev.DeadlineSet, SERVICE, deadline=name, due=due)

    def school_day_after(self, deadline: str, day: date, n_days: int) -> date | None:
        school = self.state.school_laestab
        due = self.count(deadline, lambda c: c.school_day_after(day, n_days, school))
        self.set_deadline(deadline, due)
        return due

    # -- opening --------------------------------------------------------------------------------

    def open(self, command: OpenCase) -> None:
        state, referral, by = self.state, command.referral, command.referred_by
        state.rulebook = rulebook_for(self.today)
        self.record(
            ev.CaseOpened,
            by,
            kind=state.kind,
            stage=state.stage,
            episode=state.episode,
            form=referral.form,
            repeat=state.repeat,
        )
        if isinstance(referral, SchoolCMEReferral):
            for enquiry in referral.enquiries_made:
                self.log_enquiry(enquiry, by)
            self.add_task(TaskName.SCHOOL_ENQUIRIES, Role.SCHOOL)
            self.set_absence_deadlines(referral)
        elif isinstance(referral, PupilMigrationReturn):
            # 15 school days from ceasing to be registered (Pupil Information Regulations 2005
            # reg 9(3)): the return's date, when the school deletes the name.
            ctf_due = self.school_day_after("ctf", referral.deletion_date, CTF_SCHOOL_DAYS)
            self.add_task(TaskName.SEND_CTF, Role.SCHOOL, due=ctf_due)
            self.add_task(TaskName.AUTHORISE_DELETION, Role.CME_OFFICER)
        else:
            self.add_task(TaskName.INVESTIGATE, Role.CME_OFFICER)
            details = referral.details
            self.notify(
                n.NotOnRollReferral(
                    **self.base(
                        "not_on_roll_referral",
                        [n.Recipient.SAT],
                        referrer=rules.referrer_details(referral, by),
                        where_seen=details.where_seen,
                        how_known_not_on_roll=details.how_known_not_on_roll,
                        spoke_to_parents=details.spoke_to_parents,
                        notes=details.notes,
                        school_place_offered_not_taken=referral.school_place_offered_not_taken,
                        earlier_episodes=state.earlier_episodes,
                    )
                )
            )
        if referral.child_protection_plan or getattr(referral, "safeguarding_concern", False):
            reason = (
                "the child is subject to a Child Protection Plan"
                if referral.child_protection_plan
                else "the referrer raised a safeguarding concern"
            )
            notes = (
                referral.details.notes if isinstance(referral, ProfessionalCMEReferral) else None
            )
            self.escalate_to_mash(
                reason, by, concern=notes, child_protection_plan=referral.child_protection_plan
            )
        self.answer(existing=False)

    def set_absence_deadlines(self, referral: SchoolCMEReferral) -> None:
        state, school = self.state, self.state.school_laestab
        day1 = self.count("day1", lambda c: rules.day1_of(referral, c))
        if day1 is None:
            return
        state.day1 = day1
        days = rules.ABSENCE_GROUND_DAYS[rules.absence_ground_key(referral)]
        sat_referral = self.count("sat_referral", lambda c: c.nth_school_day(day1, 10, school))
        self.set_deadline("sat_referral", sat_referral)
        if sat_referral is None:
            return  # the later deadlines lie past the calendar too: one problem says so
        threshold = self.count("threshold_day", lambda c: c.nth_school_day(day1, days, school))
        self.set_deadline("threshold_day", threshold)
        if threshold is not None:
            self.school_day_after("deletion_permitted_from", threshold, 1)

    # -- MASH ------------------------------------------------------------------------------------

    def escalate_to_mash(
        self, reason: str, by: Actor, *, concern: str | None, child_protection_plan: bool
    ) -> Escalation:
        """Tell MASH and SAT at once; a school or officer must phone MASH by the next school day."""
        state = self.state
        state.child_protection = True
        escalation = self.escalate(EscalationKind.MASH, reason, by)
        if not state.open_tasks(TaskName.PHONE_MASH):
            due = self.school_day_after("mash_call", self.today, 1)
            self.add_task(TaskName.PHONE_MASH, rules.mash_caller(state), due=due)
        self.notify(
            n.MashEscalation(
                **self.base(
                    f"mash_escalation:{escalation.id}",
                    [n.Recipient.MASH, n.Recipient.SAT],
                    child_protection_plan=child_protection_plan,
                    concern=concern,
                    raised_by=by,
                    referrer=rules.referrer_details(state.referral, state.referred_by),
                    stage=state.stage,
                    mash_call_due=state.deadlines.mash_call,
                    mash_caller=rules.mash_caller(state),
                    earlier_episodes=state.earlier_episodes,
                )
            ),
            child_protection=True,
        )
        return escalation

    # -- closing ---------------------------------------------------------------------------------

    def close(self, outcome: CaseOutcome, by: Actor | None = None) -> None:
        """Close the episode with ``outcome``; ``by`` is whoever's step closed it (the decider,
        or the school whose CTF completed a verified return)."""
        state = self.state
        closer = by or outcome.decided_by
        state.outcome = outcome
        state.closed_at = self.now
        # Deadlines past the calendar no longer matter once the case is closed.
        for problem in state.open_problems:
            if problem.kind is ProblemKind.CALENDAR_ENDS and problem.subject != "ctf":
                self.clear_problem(problem.kind, problem.subject)
        self.close_tasks(None, closer, TaskStatus.CANCELLED)
        self.set_stage(Stage.CLOSED, closer)
        self.record(ev.CaseClosed, closer, outcome=outcome)

    def closure(
        self,
        by: Actor,
        reason: str,
        outcome: InvestigationOutcome | None = None,
        duplicate_of: str | None = None,
    ) -> CaseOutcome:
        state = self.state
        result = CaseOutcome(
            case=state.case,
            episode=state.episode,
            decision=Decision.CLOSED,
            investigation_outcome=outcome,
            closure_reason=reason,
            decided_by=by,
            decided_at=self.now,
            duplicate_of=duplicate_of,
        )
        self.close(result)
        referral = state.referral
        if isinstance(referral, ProfessionalCMEReferral):
            self.notify(
                n.ClosureDecision(
                    **self.base(
                        "closure",
                        [n.Recipient.SAT, n.Recipient.REFERRER],
                        other_address=referral.referrer.email,
                        investigation_outcome=outcome,
                        reason=reason,
                        decided_by=by,
                    )
                )
            )
        else:
            self.notify(
                n.ClosureToSchool(
                    **self.base(
                        "closure",
                        [n.Recipient.SCHOOL, n.Recipient.SAT],
                        investigation_outcome=outcome,
                        reason=reason,
                        decided_by=by,
                    )
                )
            )
        return result

    def finish_verified(self, by: Actor) -> None:
        state = self.state
        if (
            state.kind is CaseKind.DESTINATION_VERIFIED
            and state.outcome is not None
            and state.stage is not Stage.CLOSED
            and not state.open_tasks(TaskName.SEND_CTF)
        ):
            self.close(state.outcome, by)

    # -- deletion ----------------------------------------------------------------------------------

    def assess(self, command: AuthoriseDeletion) -> DeletionAssessment:
        decision_date = command.decision_date or self.today
        try:
            ground = find_ground(command.ground, rulebook_for(decision_date))
        except UnknownGroundError as exc:
            raise Rejected(str(exc)) from None
        expected = rules.expected_ground_key(self.state)
        if expected is not None and ground.key is not expected:
            raise Rejected(
                f"ground {ground.code} ({ground.title}) does not fit this case: its outcome "
                f"points to the {expected.value.replace('_', ' ')} ground"
            )
        calendar = self.calendar
        if calendar is None:
            raise Rejected(
                "the school calendar cannot be loaded, so school days cannot be counted: see "
                "the case's problems"
            )
        try:
            assessment = assess_deletion(
                ground.code,
                decision_date,
                rules.case_facts(self.state),
                calendar,
                s37_consent_rule=self.ctx.policy.s37_consent_rule,
            )
        except CalendarError as exc:
            raise Rejected(str(exc)) from None
        if not assessment.permitted:
            raise Rejected(rules.deletion_refused(ground.code, decision_date, assessment.reasons))
        return assessment

    def deletion_from(self, earliest: date) -> date:
        """The school day the school may delete from: a deletion is made on a school day, so a
        weekend or holiday moves to the next school day (never earlier: never backdated)."""
        calendar = self.calendar
        assert calendar is not None  # assess() refused without one
        school = self.state.school_laestab
        try:
            if calendar.is_school_day(earliest, school):
                return earliest
            return calendar.school_day_after(earliest, 1, school)
        except CalendarError as exc:
            raise Rejected(str(exc)) from None


# -- handlers, one per command ---------------------------------------------------------------------


def _register_referral(step: _Step, command: RegisterReferral) -> None:
    state = step.state
    if state.stage is Stage.CLOSED:
        # The child's earlier episode has closed: this referral opens the next one.
        opening = OpenCase(
            referral=command.referral,
            referred_by=command.by,
            request_id=command.request_id,
            episode=state.episode + 1,
            earlier_episodes=[*state.earlier_episodes, episode_summary(state)],
            answered=True,
        )
        step.effects.append(StartNextEpisode(opening=opening))
        kind = case_kind_of(command.referral)
        step.result = CommandResult(
            case=state.case, episode=opening.episode, stage=_FIRST_STAGE[kind], existing=False
        )
        return
    state.referrals_received += 1
    referral = command.referral
    step.log_information(
        f"further referral received ({referral.form.replace('_', ' ')}) from {command.by.name}",
        command.by,
    )
    step.record(
        ev.ReferralAdded,
        command.by,
        form=referral.form,
        referrals_received=state.referrals_received,
    )
    concern = referral.child_protection_plan or getattr(referral, "safeguarding_concern", False)
    if concern and not state.child_protection:
        notes = referral.details.notes if isinstance(referral, ProfessionalCMEReferral) else None
        step.escalate_to_mash(
            "a further referral reports a safeguarding concern",
            command.by,
            concern=notes,
            child_protection_plan=referral.child_protection_plan,
        )
    step.answer(existing=True)


def _record_enquiry(step: _Step, command: RecordEnquiry) -> None:
    state, enquiry = step.state, command.enquiry
    rules.require_open(state)
    rules.check_enquiry(state, command.by, enquiry.kind, enquiry.by)
    rules.require_in_case_period(enquiry.made_on, state, step.today, "enquiry date")
    logged = step.log_enquiry(enquiry, command.by)
    step.answer(enquiry_id=logged.id, enquiries_recorded=len(state.enquiries))


def _report_contact(step: _Step, command: ReportContact) -> None:
    state = step.state
    rules.require_open(state)
    if state.kind is not CaseKind.DESTINATION_NOT_VERIFIED:
        raise Rejected("contact is reported on a missing pupil's case; conclude this case instead")
    rules.require_role(command.by, rules.OFFICERS | {Role.SCHOOL}, "reporting contact")
    if state.stage is Stage.AWAITING_DELETION_AUTHORISATION:
        raise Rejected("the investigation is concluded: share the information instead")
    rules.require_in_case_period(command.contact_on, state, step.today, "contact date")
    step.record(
        ev.ContactReported,
        command.by,
        contact_on=command.contact_on,
        returned_to_school=command.returned_to_school,
        note=command.note,
    )
    when = human_date(command.contact_on)
    if command.returned_to_school:
        step.closure(
            command.by,
            f"contact made on {when}: the child is back at school" + _note(command.note),
            InvestigationOutcome.LOCATED_BACK_AT_SCHOOL,
        )
    else:
        step.log_information(
            f"contact made on {when}; the child is not back at school" + _note(command.note),
            command.by,
        )
    step.answer()


def _raise_concern(step: _Step, command: RaiseConcern) -> None:
    state = step.state
    rules.require_open(state)
    step.record(
        ev.ConcernRaised,
        command.by,
        concern=command.concern,
        child_protection_plan=command.child_protection_plan,
    )
    what = (
        "Child Protection Plan reported"
        if command.child_protection_plan
        else "safeguarding concern raised"
    )
    escalation = step.escalate_to_mash(
        f"{what} by {command.by.name}: {command.concern}",
        command.by,
        concern=command.concern,
        child_protection_plan=command.child_protection_plan,
    )
    step.answer(escalation_id=escalation.id, mash_call_due=state.deadlines.mash_call)


def _share_information(step: _Step, command: ShareInformation) -> None:
    state = step.state
    rules.require_open(state)
    for code in command.attendance_codes:
        rules.require_in_case_period(code.day, state, step.today, "attendance code date")
    logged = step.log_information(command.information, command.by)
    state.attendance_codes.extend(command.attendance_codes)
    if command.attendance_codes:
        _close_codes_task_if_complete(step, command.by)
    step.record(
        ev.InformationShared,
        command.by,
        information_id=logged.id,
        information=command.information,
        attendance_codes=len(command.attendance_codes),
    )
    if state.stage is not Stage.SCHOOL_ENQUIRIES:
        step.notify(
            n.InformationShared(
                **step.base(
                    f"information_shared:{logged.id}",
                    [n.Recipient.SAT],
                    shared_by=command.by,
                    information=command.information,
                    attendance_codes=len(command.attendance_codes),
                )
            )
        )
    step.answer(information_id=logged.id)


def _record_mash_call(step: _Step, command: RecordMashCall) -> None:
    state = step.state
    rules.require_open(state)
    tasks = state.open_tasks(TaskName.PHONE_MASH)
    if not tasks:
        raise Rejected("no MASH call is due on this case")
    rules.require_role(command.by, rules.OFFICERS | {Role.SCHOOL}, "recording the MASH call")
    rules.require_in_case_period(command.called_on, state, step.today, "call date")
    step.close_tasks(TaskName.PHONE_MASH, command.by, TaskStatus.DONE)
    ref = f" (MASH reference {command.mash_reference})" if command.mash_reference else ""
    step.log_information(
        f"MASH phoned on {human_date(command.called_on)}{ref}" + _note(command.advice), command.by
    )
    step.record(
        ev.MashCallRecorded,
        command.by,
        called_on=command.called_on,
        mash_reference=command.mash_reference,
        advice=command.advice,
    )
    step.answer(task_id=tasks[0].id)


def _confirm_ctf(step: _Step, command: ConfirmCtf) -> None:
    state = step.state
    rules.require_open(state)
    tasks = state.open_tasks(TaskName.SEND_CTF)
    if not tasks:
        raise Rejected("no CTF is due on this case")
    rules.require_role(command.by, rules.OFFICERS | {Role.SCHOOL}, "confirming the CTF")
    refuse = step.ctx.policy.refuse_la_without_school
    try:
        code = validate_ctf_destination(command.destination_code, refuse_la_without_school=refuse)
    except ValueError as exc:
        raise Rejected(f"destination_code: {exc}") from None
    expected = rules.ctf_destination_of(state)
    # Where the LA allows them, an LA code without a school stands for an unknown school.
    if code != expected and not (
        not refuse and is_la_without_school(code) and expected == LOST_PUPIL_DATABASE
    ):
        raise Rejected(f"destination_code: the return names destination {expected}, not {code}")
    rules.require_in_case_period(command.sent_on, state, step.today, "CTF sent date")
    task = tasks[0]
    on_time = task.due is None or command.sent_on <= task.due
    step.close_tasks(TaskName.SEND_CTF, command.by, TaskStatus.DONE)
    state.ctf = CtfConfirmation(
        destination_code=code, sent_on=command.sent_on, on_time=on_time, by=command.by, at=step.now
    )
    step.record(
        ev.CtfConfirmed, command.by, destination_code=code, sent_on=command.sent_on, on_time=on_time
    )
    step.finish_verified(command.by)
    step.answer(destination_code=code, ctf_on_time=on_time)


def _closure_words(command: ConcludeInvestigation) -> str:
    match command.outcome:
        case InvestigationOutcome.PLACED_ON_ROLL:
            return f"placed on roll at {command.new_school_laestab}"
        case InvestigationOutcome.LEFT_AREA:
            return f"left the area: {command.other_la}; the other LA has been told"
        case InvestigationOutcome.HOME_EDUCATED:
            return "home educated (parent's written notice received)"
        case _:
            return "not located after the LA's enquiries"


def _conclude(step: _Step, command: ConcludeInvestigation) -> None:
    state = step.state
    rules.require_open(state)
    rules.require_role(command.by, rules.OFFICERS, "concluding an investigation")
    rules.check_conclusion(
        state,
        command.outcome,
        new_school_laestab=command.new_school_laestab,
        other_la=command.other_la,
        ehe_letter_reference=command.ehe_letter_reference,
    )
    if command.ehe_letter_received_on is not None:
        rules.require_in_case_period(
            command.ehe_letter_received_on, state, step.today, "EHE letter date"
        )
    state.conclusion = Conclusion(
        outcome=command.outcome,
        by=command.by,
        at=step.now,
        new_school_laestab=command.new_school_laestab,
        other_la=command.other_la,
        other_la_email=command.other_la_email,
        ehe_letter_reference=command.ehe_letter_reference,
        ehe_letter_received_on=command.ehe_letter_received_on,
        note=command.note,
    )
    step.close_tasks(TaskName.INVESTIGATE, command.by, TaskStatus.DONE)
    step.record(ev.InvestigationConcluded, command.by, outcome=command.outcome, note=command.note)
    if command.other_la_email:
        step.notify(
            n.OtherLaNotice(
                **step.base(
                    "other_la_notice",
                    [n.Recipient.OTHER_LA],
                    other_address=command.other_la_email,
                    other_la=command.other_la,
                )
            )
        )
    outcome: CaseOutcome | None = None
    if state.kind is CaseKind.NOT_ON_ROLL:
        outcome = step.closure(
            command.by, _closure_words(command) + _note(command.note), command.outcome
        )
    elif command.outcome is InvestigationOutcome.LOCATED_BACK_AT_SCHOOL:
        outcome = step.closure(
            command.by,
            "located: the child is back at school" + _note(command.note),
            command.outcome,
        )
    else:
        step.set_stage(Stage.AWAITING_DELETION_AUTHORISATION, command.by)
        step.add_task(TaskName.AUTHORISE_DELETION, Role.CME_OFFICER)
    step.answer(outcome=outcome)


def _authorise(step: _Step, command: AuthoriseDeletion) -> None:
    state = step.state
    outcome = state.outcome
    if outcome is not None and outcome.decision is Decision.DELETION_AUTHORISED:
        raise Rejected(
            f"deletion was already authorised on ground {outcome.ground} by "
            f"{outcome.decided_by.name} on {human_date(local_date(outcome.decided_at))}"
        )
    rules.require_open(state)
    rules.require_role(command.by, rules.OFFICERS, "authorising deletion")
    if not state.open_tasks(TaskName.AUTHORISE_DELETION):
        raise Rejected(
            "deletion cannot be authorised at stage "
            f"{state.stage.value.replace('_', ' ')}: the investigation must be concluded first"
        )
    today = step.today
    if command.decision_date is not None and command.decision_date < today:
        raise Rejected(
            f"deletion is never backdated: decision date {human_date(command.decision_date)} "
            f"is before today ({human_date(today)})"
        )
    assessment = step.assess(command)
    decision_date = command.decision_date or today
    deletion_from = step.deletion_from(
        max(assessment.earliest_date or decision_date, decision_date)
    )
    ctf_destination = rules.ctf_destination_of(state)
    result = CaseOutcome(
        case=state.case,
        episode=state.episode,
        decision=Decision.DELETION_AUTHORISED,
        investigation_outcome=state.conclusion.outcome if state.conclusion else None,
        rulebook=assessment.ground.rulebook,
        ground=assessment.ground.code,
        ground_title=assessment.ground.title,
        ground_other_rulebook=assessment.ground_other_rulebook,
        earliest_deletion_date=deletion_from,
        ctf_destination=ctf_destination,
        decided_by=command.by,
        decided_at=step.now,
    )
    state.rulebook = assessment.ground.rulebook
    step.close_tasks(TaskName.AUTHORISE_DELETION, command.by, TaskStatus.DONE)
    ctf_due = state.deadlines.ctf
    if state.kind is not CaseKind.DESTINATION_VERIFIED:
        ctf_due = step.school_day_after("ctf", deletion_from, CTF_SCHOOL_DAYS)
    step.record(ev.DeletionAuthorised, command.by, outcome=result)
    step.notify(
        n.OutcomeToSchool(
            **step.base(
                "outcome_to_school",
                [n.Recipient.SCHOOL, n.Recipient.SAT],
                investigation_outcome=result.investigation_outcome,
                rulebook=assessment.ground.rulebook,
                ground=assessment.ground.code,
                ground_title=assessment.ground.title,
                ground_other_rulebook=assessment.ground_other_rulebook,
                deletion_from=deletion_from,
                ctf_destination=ctf_destination,
                ctf_due=ctf_due,
                decided_by=command.by,
            )
        )
    )
    if state.kind is CaseKind.DESTINATION_VERIFIED:
        state.outcome = result
        step.finish_verified(command.by)
    else:
        step.close(result)
    step.answer(outcome=result)


def _withdraw(step: _Step, command: Withdraw) -> None:
    state = step.state
    rules.require_open(state)
    rules.require_role(command.by, frozenset({Role.TEAM_LEADER}), "withdrawing a case")
    if command.duplicate_of == state.case:
        raise Rejected("duplicate_of: a case cannot be a duplicate of itself")
    reason = command.reason
    if command.duplicate_of:
        reason = f"withdrawn as a duplicate of {command.duplicate_of}: {reason}"
    outcome = step.closure(command.by, reason, duplicate_of=command.duplicate_of)
    step.answer(outcome=outcome)


def _reassign(step: _Step, command: Reassign) -> None:
    state = step.state
    rules.require_open(state)
    rules.require_role(command.by, frozenset({Role.TEAM_LEADER}), "reassigning a case")
    state.assigned_officer = command.officer
    step.log_information(f"case assigned to {command.officer}", command.by)
    step.record(ev.OfficerAssigned, command.by, officer=command.officer)
    step.answer(assigned_officer=command.officer)


def _retry_problems(step: _Step, command: RetryProblems) -> None:
    rules.require_role(command.by, rules.OFFICERS, "retrying a case's problems")
    problems = step.state.open_problems
    if not problems:
        raise Rejected(f"case {step.state.case} has no problems to retry")
    _retry(step, problems)
    step.answer(problems_retried=len(problems))


def _retry(step: _Step, problems: list[Problem]) -> None:
    """Try again what each problem is about; a problem clears when its retry succeeds."""
    calendar = False
    for problem in problems:
        problem.last_attempt_at = step.now
        step.changed = True
        match problem.kind:
            case ProblemKind.NOTIFICATION_UNDELIVERABLE:
                record = step.notification(problem.subject)
                if record is not None and record.status is NotificationStatus.FAILED:
                    record.status = NotificationStatus.QUEUED
                    step.effects.append(SendNotification(purpose=record.purpose))
            case ProblemKind.CALENDAR_UNUSABLE | ProblemKind.CALENDAR_ENDS:
                calendar = True
            case ProblemKind.INTERNAL_ERROR:
                # The step that failed runs again now; it raises the problem again if it fails.
                step.clear_problem(problem.kind, problem.subject)
            case _:
                pass  # a register problem: the register sync every change makes retries it
    if calendar:
        step.effects.append(LoadCalendar())


# -- the case's own commands -----------------------------------------------------------------------


def _timers(state: CaseState) -> list[tuple[datetime, str]]:
    """(moment, what) for everything the case will do on its own."""
    if state.stage is Stage.CLOSED:
        closed_at = state.closed_at or (state.outcome.decided_at if state.outcome else None)
        return [
            (p.last_attempt_at + RETRY_EVERY.get(p.kind, RETRY_DEFAULT), f"problem {p.id}")
            for p in state.open_problems
            if closed_at is not None
            and p.last_attempt_at + RETRY_EVERY.get(p.kind, RETRY_DEFAULT)
            < closed_at + RETRY_AFTER_CLOSING
        ]
    timers: list[tuple[datetime, str]] = []
    deadlines = state.deadlines
    if state.stage is Stage.SCHOOL_ENQUIRIES and deadlines.sat_referral is not None:
        timers.append((end_of_day(deadlines.sat_referral), "sat_referral"))
    if deadlines.deletion_permitted_from is not None and _threshold_pending(state):
        timers.append((start_of_day(deadlines.deletion_permitted_from), "threshold"))
    for task in state.open_tasks():
        if task.due is not None and not task.overdue:
            timers.append((end_of_day(task.due), f"task {task.id}"))
    for problem in state.open_problems:
        every = RETRY_EVERY.get(problem.kind, RETRY_DEFAULT)
        timers.append((problem.last_attempt_at + every, f"problem {problem.id}"))
    return timers


def _threshold_pending(state: CaseState) -> bool:
    """Whether the absence threshold is still to be announced: the case is open, and either still
    under enquiry or concluded "not located" (then the officer waits for it to authorise)."""
    if state.threshold_reached_on is not None:
        return False
    if state.stage in (Stage.SCHOOL_ENQUIRIES, Stage.LA_INVESTIGATION):
        return True
    conclusion = state.conclusion
    return (
        state.stage is Stage.AWAITING_DELETION_AUTHORISATION
        and conclusion is not None
        and conclusion.outcome is InvestigationOutcome.NOT_LOCATED
    )


def _tick(step: _Step, command: Tick) -> None:
    state, now = step.state, step.now
    deadlines = state.deadlines
    if (
        state.stage is Stage.SCHOOL_ENQUIRIES
        and deadlines.sat_referral is not None
        and end_of_day(deadlines.sat_referral) <= now
    ):
        _refer_to_sat(step)
    if (
        deadlines.deletion_permitted_from is not None
        and _threshold_pending(state)
        and start_of_day(deadlines.deletion_permitted_from) <= now
    ):
        _threshold_reached(step)
    for task in state.open_tasks():
        if task.due is not None and not task.overdue and end_of_day(task.due) <= now:
            _task_overdue(step, task)
    due = [
        p
        for p in state.open_problems
        if p.last_attempt_at + RETRY_EVERY.get(p.kind, RETRY_DEFAULT) <= now
    ]
    if due:
        _retry(step, due)
    step.clear_problem(ProblemKind.INTERNAL_ERROR, "processing")


def _refer_to_sat(step: _Step) -> None:
    """No contact by the end of school day 10: the case goes to the CME officer."""
    state = step.state
    day10 = state.deadlines.sat_referral
    assert day10 is not None and state.day1 is not None
    step.set_stage(Stage.LA_INVESTIGATION, SERVICE)
    step.close_tasks(TaskName.SCHOOL_ENQUIRIES, SERVICE, TaskStatus.DONE)
    step.add_task(TaskName.INVESTIGATE, Role.CME_OFFICER)
    step.escalate(
        EscalationKind.SAT_REFERRAL,
        f"no contact by the end of school day 10 ({human_date(day10)})",
        SERVICE,
    )
    step.notify(
        n.SatReferral(
            **step.base(
                "sat_referral",
                [n.Recipient.SAT],
                day1=state.day1,
                day10=day10,
                enquiries=[e.enquiry for e in state.enquiries],
                referrer=rules.referrer_details(state.referral, state.referred_by),
                earlier_episodes=state.earlier_episodes,
            )
        )
    )


def _threshold_reached(step: _Step) -> None:
    state = step.state
    referral = state.referral
    assert isinstance(referral, SchoolCMEReferral)
    state.threshold_reached_on = step.today
    step.changed = True
    key = rules.absence_ground_key(referral)
    ground = ground_by_key(key, rulebook_for(step.today))
    if (
        key is GroundKey.CONTINUOUS_ABSENCE
        and ground is not None
        and ground.rulebook is Rulebook.REGS_2024
        and _sessions_missing(step) != 0
        and not state.open_tasks(TaskName.CONFIRM_REGISTER_CODES)
    ):
        # 2024 9(1)(i): every session of the 20 days coded G, N or O, with the codes on file.
        step.add_task(TaskName.CONFIRM_REGISTER_CODES, Role.SCHOOL)
    deadlines = state.deadlines
    assert deadlines.threshold_day is not None and deadlines.deletion_permitted_from is not None
    step.notify(
        n.ThresholdReached(
            **step.base(
                "threshold_reached",
                [n.Recipient.SAT],
                ground_code=ground.code if ground else key.value,
                ground_title=ground.title if ground else key.value,
                threshold_day=deadlines.threshold_day,
                threshold_days=rules.ABSENCE_GROUND_DAYS[key],
                deletion_permitted_from=deadlines.deletion_permitted_from,
                stage=state.stage,
                school_enquiries=[
                    e.enquiry for e in state.enquiries if e.enquiry.by is EnquiryBy.SCHOOL
                ],
                la_enquiries=[e.enquiry for e in state.enquiries if e.enquiry.by is EnquiryBy.LA],
            )
        )
    )


def _task_overdue(step: _Step, task: Task) -> None:
    state = step.state
    task.overdue = True
    assert task.due is not None
    step.record(ev.TaskOverdue, SERVICE, task_id=task.id, name=task.name, due=task.due)
    if task.name is TaskName.PHONE_MASH:
        step.escalate(
            EscalationKind.TEAM_LEADER,
            f"MASH call not recorded by the end of {human_date(task.due)}",
            SERVICE,
        )
        step.notify(
            n.MashCallOverdue(
                **step.base(
                    f"mash_call_overdue:{task.id}",
                    [n.Recipient.TEAM_LEADER],
                    mash_call_due=task.due,
                    mash_caller=task.assignee,
                )
            ),
            child_protection=True,
        )
    elif task.name is TaskName.SEND_CTF:
        binds = rules.ctf_deadline_binds_case(state)
        if binds:
            step.escalate(
                EscalationKind.CTF_OVERDUE,
                f"CTF not confirmed by the end of {human_date(task.due)}",
                SERVICE,
            )
        step.notify(
            n.CtfOverdue(
                **step.base(
                    f"ctf_overdue:{task.id}",
                    # An academy is reminded; a maintained school's breach goes to SAT too.
                    [n.Recipient.SCHOOL, n.Recipient.SAT] if binds else [n.Recipient.SCHOOL],
                    ctf_due=task.due,
                    ctf_destination=rules.ctf_destination_of(state),
                    reminder_only=not binds,
                )
            )
        )


def _counted_days(state: CaseState, calendar: SchoolCalendar) -> list[date]:
    """The school days the absence ground counts (day 1 to the threshold day)."""
    deadlines = state.deadlines
    if state.day1 is None or deadlines.threshold_day is None:
        return []
    return calendar.school_days(state.day1, deadlines.threshold_day, state.school_laestab)


def _sessions_missing(step: _Step) -> int | None:
    """Sessions of the counted days with no register code on file; ``None`` when the days cannot
    be counted (no calendar, or past it: the case's problems say so)."""
    calendar = step.calendar
    if calendar is None or step.state.deadlines.threshold_day is None:
        return None
    try:
        days = _counted_days(step.state, calendar)
    except CalendarError:
        return None
    return len(missing_sessions(days, rules.case_facts(step.state)))


def _close_codes_task_if_complete(step: _Step, by: Actor) -> int | None:
    missing = _sessions_missing(step)
    if missing == 0:
        step.close_tasks(TaskName.CONFIRM_REGISTER_CODES, by, TaskStatus.DONE)
    return missing


def _confirm_register_codes(step: _Step, command: ConfirmRegisterCodes) -> None:
    state = step.state
    rules.require_open(state)
    if state.kind is not CaseKind.DESTINATION_NOT_VERIFIED:
        raise Rejected("register codes are for a missing pupil's absence")
    rules.require_role(command.by, rules.OFFICERS | {Role.SCHOOL}, "confirming register codes")
    for code in command.codes:
        rules.require_in_case_period(code.day, state, step.today, "attendance code date")
    state.attendance_codes.extend(command.codes)
    missing = _close_codes_task_if_complete(step, command.by)
    step.record(
        ev.RegisterCodesConfirmed,
        command.by,
        codes=len(command.codes),
        sessions_missing=missing,
    )
    step.answer(sessions_missing=missing)


def _confirm_no_sickness(step: _Step, command: ConfirmNoSicknessGrounds) -> None:
    state = step.state
    rules.require_open(state)
    if state.kind is not CaseKind.DESTINATION_NOT_VERIFIED:
        raise Rejected("this confirmation is for the absence grounds of a missing pupil's case")
    rules.require_role(command.by, rules.OFFICERS, "confirming there are no grounds of sickness")
    state.no_sickness_confirmation = OfficerConfirmation(
        by=command.by.name, on=step.today, note=command.note
    )
    step.record(ev.NoSicknessGroundsConfirmed, command.by, note=command.note)
    step.answer()


def _record_consent(step: _Step, command: RecordConsent) -> None:
    state = step.state
    rules.require_open(state)
    rules.require_role(command.by, rules.OFFICERS, "recording the LA's consent")
    # An LA may have consented before the pupil went missing: only a future date is refused.
    if command.consented_on > step.today:
        raise Rejected(
            f"consent date {human_date(command.consented_on)} is in the future (today is "
            f"{human_date(step.today)})"
        )
    consent = LaConsent(
        kind=command.kind,
        by=command.consented_by,
        on=command.consented_on,
        reference=command.reference,
    )
    state.la_consent = consent
    step.record(ev.ConsentRecorded, command.by, consent=consent)
    step.answer()


def _record_deletion_facts(step: _Step, command: RecordDeletionFacts) -> None:
    state = step.state
    rules.require_open(state)
    rules.require_role(command.by, rules.OFFICERS, "recording facts that bear on deletion")
    given = command.model_dump(
        include=set(DeletionFacts.model_fields) - {"recorded_by", "recorded_at"},
        exclude_none=True,
    )
    if not given:
        raise Rejected("no fact given: say which facts to record")
    state.facts = state.facts.model_copy(
        update={**given, "recorded_by": command.by, "recorded_at": step.now}
    )
    step.record(ev.DeletionFactsRecorded, command.by, facts=state.facts)
    step.answer()


def _notification_delivered(step: _Step, command: NotificationDelivered) -> None:
    record = step.notification(command.purpose)
    if record is None or record.status is NotificationStatus.SENT:
        return
    record.status, record.sent_at, record.message = NotificationStatus.SENT, step.now, None
    step.record(ev.NotificationSent, SERVICE, purpose=record.purpose, kind=record.kind)
    problem = step.open_problem(ProblemKind.NOTIFICATION_UNDELIVERABLE, record.purpose)
    step.clear_problem(ProblemKind.NOTIFICATION_UNDELIVERABLE, record.purpose)
    # The register holds a delivery only in its outbox, which the delivery marked itself: unless
    # a problem (which the register lists) was cleared, nothing here is for the register.
    if command.recorded and problem is None:
        step.sync = False


def _notification_failed(step: _Step, command: NotificationFailed) -> None:
    record = step.notification(command.purpose)
    if record is None or record.status is NotificationStatus.SENT:
        return
    record.status = NotificationStatus.FAILED
    step.problem(ProblemKind.NOTIFICATION_UNDELIVERABLE, record.purpose, command.detail)


def _register_synced(step: _Step, command: RegisterSynced) -> None:
    step.clear_problem(ProblemKind.REGISTER_REJECTED, "register")


def _register_failed(step: _Step, command: RegisterFailed) -> None:
    step.problem(ProblemKind.REGISTER_REJECTED, "register", command.detail)
    # Syncing again at once would be refused again: the problem's retry syncs (daily, or asked).
    step.sync = False


def _calendar_reloaded(step: _Step, command: CalendarReloaded) -> None:
    """The calendar was read again: count again what could not be counted."""
    state = step.state
    state.calendar_checked_at = step.now
    step.changed = True
    calendar_problems = [
        p
        for p in state.open_problems
        if p.kind in (ProblemKind.CALENDAR_UNUSABLE, ProblemKind.CALENDAR_ENDS)
    ]
    if command.problem is not None:
        for problem in calendar_problems:
            problem.attempts += 1
            problem.last_attempt_at = step.now
        if not calendar_problems:
            step.problem(ProblemKind.CALENDAR_UNUSABLE, "calendar", command.problem)
        return
    # Each count clears its own problem when it succeeds (see _Step.count).
    step.clear_problem(ProblemKind.CALENDAR_UNUSABLE, "calendar")
    referral = state.referral
    if isinstance(referral, SchoolCMEReferral) and state.stage is not Stage.CLOSED:
        step.set_absence_deadlines(referral)
    for task in state.open_tasks():
        if task.due is not None:
            continue
        if task.name is TaskName.SEND_CTF and isinstance(referral, PupilMigrationReturn):
            task.due = step.school_day_after("ctf", referral.deletion_date, CTF_SCHOOL_DAYS)
        elif task.name is TaskName.PHONE_MASH:
            # Due the school day after the escalation, however late the calendar came back.
            task.due = step.school_day_after("mash_call", local_date(task.opened_at), 1)
    outcome = state.outcome
    if (
        outcome is not None
        and state.kind is not CaseKind.DESTINATION_VERIFIED
        and state.deadlines.ctf is None
        and outcome.earliest_deletion_date is not None
    ):
        step.school_day_after("ctf", outcome.earliest_deletion_date, CTF_SCHOOL_DAYS)


def _note(note: str) -> str:
    return f" ({note})" if note else ""


_HANDLERS: dict[type[Any], Callable[[_Step, Any], None]] = {
    RegisterReferral: _register_referral,
    RecordEnquiry: _record_enquiry,
    ReportContact: _report_contact,
    RaiseConcern: _raise_concern,
    ShareInformation: _share_information,
    RecordMashCall: _record_mash_call,
    ConfirmCtf: _confirm_ctf,
    ConcludeInvestigation: _conclude,
    AuthoriseDeletion: _authorise,
    Withdraw: _withdraw,
    Reassign: _reassign,
    RetryProblems: _retry_problems,
    ConfirmRegisterCodes: _confirm_register_codes,
    ConfirmNoSicknessGrounds: _confirm_no_sickness,
    RecordConsent: _record_consent,
    RecordDeletionFacts: _record_deletion_facts,
    Tick: _tick,
    NotificationDelivered: _notification_delivered,
    NotificationFailed: _notification_failed,
    RegisterSynced: _register_synced,
    RegisterFailed: _register_failed,
    CalendarReloaded: _calendar_reloaded,
}
