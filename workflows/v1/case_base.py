"""The case workflow's state and the helpers its handlers share: tasks, escalations, emails,
closures and the deletion assessment. See :mod:`workflows.case` for the stages."""

from __future__ import annotations

from datetime import date, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.v1.models import (
        Recipient,
        SendNotificationInput,
        Template,
    )
    from domain.calendar import CalendarError, SchoolCalendar, human_date
    from domain.clock import local_date
    from domain.enquiries import Enquiry
    from domain.grounds import (
        UnknownGroundError,
        find_ground,
        rulebook_for,
    )
    from domain.intake import (
        ProfessionalCMEReferral,
    )
    from workflows.v1 import case_rules as rules
    from workflows.v1.deletion import (
        DeletionAssessment,
        assess_deletion,
    )
    from workflows.v1.models import (
        Actor,
        AuthoriseDeletionInput,
        CaseKind,
        CaseOutcome,
        CaseState,
        ConcludeInvestigationInput,
        Decision,
        Escalation,
        EscalationKind,
        InvestigationOutcome,
        LoggedEnquiry,
        LoggedInformation,
        OpenCaseInput,
        Role,
        Stage,
        Task,
        TaskName,
        TaskStatus,
    )

_FIRST_STAGE = {
    CaseKind.DESTINATION_NOT_VERIFIED: Stage.SCHOOL_ENQUIRIES,
    CaseKind.DESTINATION_VERIFIED: Stage.AWAITING_CTF,
    CaseKind.NOT_ON_ROLL: Stage.LA_INVESTIGATION,
}
SERVICE = Actor(name="CME service", role=Role.SERVICE)
ACTIVITY_TIMEOUT = timedelta(seconds=60)
ACTIVITY_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=5))
CALENDAR_RETRY = timedelta(days=7)


class CaseBase:
    """State and helpers of a case; :class:`workflows.case.CmeCaseWorkflow` sets them up."""

    state: CaseState
    _input: OpenCaseInput
    _calendar: SchoolCalendar | None
    _outbox: list[SendNotificationInput]
    _dirty: bool

    def _today(self) -> date:
        return local_date(workflow.now())

    @property
    def calendar(self) -> SchoolCalendar:
        assert self._calendar is not None, "calendar not loaded"
        return self._calendar

    def _changed(self) -> None:
        self._dirty = True

    def _school_day_after(self, day: date, n: int, deadline: str) -> date | None:
        try:
            due = self.calendar.school_day_after(day, n, self.state.school_laestab)
        except CalendarError as exc:
            self._calendar_problem(deadline, str(exc))
            return None
        self.state.deadlines[deadline] = due
        return due

    def _calendar_problem(self, deadline: str, problem: str) -> None:
        """A deadline past the configured calendar is said on the case, never guessed."""
        text = f"{deadline}: {problem}"
        if text in self.state.problems:
            return
        self.state.problems.append(text)
        self._add_escalation(EscalationKind.CALENDAR_ENDS, text, SERVICE)
        self._notify(
            f"calendar_ends:{len(self.state.problems)}",
            Template.CALENDAR_ENDS,
            [Recipient.TEAM_LEADER],
            deadline=deadline,
            problem=problem,
        )

    # -- state helpers -------------------------------------------------------------------------

    def _add_task(self, name: TaskName, assignee: Role, due: date | None = None) -> Task:
        task = Task(
            id=len(self.state.tasks) + 1,
            name=name,
            assignee=assignee,
            opened_at=workflow.now(),
            due=due,
        )
        self.state.tasks.append(task)
        return task

    def _open_tasks(self, name: TaskName) -> list[Task]:
        return [t for t in self.state.tasks if t.name is name and t.status is TaskStatus.OPEN]

    def _close_tasks(self, name: TaskName, by: Actor, status: TaskStatus) -> None:
        for task in self._open_tasks(name):
            task.status, task.done_by, task.done_at = status, by, workflow.now()

    def _add_escalation(self, kind: EscalationKind, reason: str, by: Actor) -> Escalation:
        escalation = Escalation(
            id=len(self.state.escalations) + 1,
            kind=kind,
            at=workflow.now(),
            reason=reason,
            raised_by=by,
        )
        self.state.escalations.append(escalation)
        return escalation

    def _log_enquiry(self, enquiry: Enquiry, by: Actor) -> LoggedEnquiry:
        logged = LoggedEnquiry(
            id=len(self.state.enquiries) + 1,
            enquiry=enquiry,
            recorded_by=by,
            recorded_at=workflow.now(),
        )
        self.state.enquiries.append(logged)
        return logged

    def _notify(self, purpose: str, template: Template, to: list[Recipient], **fields: str) -> None:
        fields.setdefault("pupil", rules.pupil_line(self.state))
        fields.setdefault("school_laestab", self.state.school_laestab or "not on roll")
        other = fields.pop("other_address", None)
        self._outbox.append(
            SendNotificationInput(
                case=self.state.case,
                purpose=purpose,
                template=template,
                to=to,
                school_laestab=self.state.school_laestab,
                other_address=other,
                fields=fields,
            )
        )

    def _escalate_to_mash(self, reason: str, by: Actor) -> Escalation:
        """Tell MASH and SAT at once; a school or officer must phone MASH by the next school day."""
        self.state.child_protection = True
        escalation = self._add_escalation(EscalationKind.MASH, reason, by)
        if not self._open_tasks(TaskName.PHONE_MASH):
            task = self._add_task(TaskName.PHONE_MASH, _mash_caller(self.state))
            task.due = self._school_day_after(self._today(), 1, "mash_call")
        due = self.state.deadlines.get("mash_call")
        self._notify(
            f"mash_escalation:{escalation.id}",
            Template.MASH_ESCALATION,
            [Recipient.MASH, Recipient.SAT],
            reason=reason,
            mash_call_due=human_date(due) if due else "see the case: calendar ends",
        )
        return escalation

    def _close_case(self, outcome: CaseOutcome) -> None:
        self.state.outcome = outcome
        self.state.stage = Stage.CLOSED
        for task in self.state.tasks:
            if task.status is TaskStatus.OPEN:
                task.status, task.done_by, task.done_at = (
                    TaskStatus.CANCELLED,
                    outcome.decided_by,
                    workflow.now(),
                )
        self._changed()

    def _closure(
        self,
        by: Actor,
        reason: str,
        outcome: InvestigationOutcome | None = None,
        duplicate_of: str | None = None,
    ) -> CaseOutcome:
        result = CaseOutcome(
            case=self.state.case,
            decision=Decision.CLOSED,
            investigation_outcome=outcome,
            closure_reason=reason,
            decided_by=by,
            decided_at=workflow.now(),
            duplicate_of=duplicate_of,
        )
        self._close_case(result)
        words = outcome.value.replace("_", " ") if outcome else "closed"
        if self.state.kind is CaseKind.NOT_ON_ROLL:
            referrer = self.state.referral
            assert isinstance(referrer, ProfessionalCMEReferral)
            self._notify(
                "closure",
                Template.CLOSURE_DECISION,
                [Recipient.SAT, Recipient.REFERRER],
                other_address=referrer.referrer.email,
                outcome=words,
                reason=reason,
                decided_by=by.name,
            )
        else:
            self._notify(
                "closure",
                Template.CLOSURE_TO_SCHOOL,
                [Recipient.SCHOOL, Recipient.SAT],
                outcome=words,
                reason=reason,
                decided_by=by.name,
            )
        return result

    def _log_information(self, text: str, by: Actor) -> LoggedInformation:
        logged = LoggedInformation(
            id=len(self.state.information) + 1,
            information=text,
            shared_by=by,
            shared_at=workflow.now(),
        )
        self.state.information.append(logged)
        return logged

    def _assess(self, input: AuthoriseDeletionInput) -> DeletionAssessment:
        decision_date = input.decision_date or self._today()
        try:
            ground = find_ground(input.ground, rulebook_for(decision_date))
        except UnknownGroundError as exc:
            raise rules.Rejected(str(exc)) from None
        expected = rules.expected_ground_key(self.state)
        if expected is not None and ground.key is not expected:
            raise rules.Rejected(
                f"ground {ground.code} ({ground.title}) does not fit this case: its outcome "
                f"points to the {expected.value.replace('_', ' ')} ground"
            )
        try:
            assessment = assess_deletion(
                ground.code,
                decision_date,
                rules.case_facts(self.state),
                self.calendar,
                s37_consent_rule=self._input.s37_consent_rule,
            )
        except CalendarError as exc:
            raise rules.Rejected(str(exc)) from None
        if not assessment.permitted:
            raise rules.Rejected(
                f"deletion on {ground.code} not permitted on {human_date(decision_date)}: "
                + "; ".join(assessment.reasons)
            )
        return assessment

    def _maybe_finish_verified(self) -> None:
        state = self.state
        if (
            state.kind is CaseKind.DESTINATION_VERIFIED
            and state.outcome is not None
            and not self._open_tasks(TaskName.SEND_CTF)
        ):
            self._close_case(state.outcome)


def _note(note: str) -> str:
    return f" ({note})" if note else ""


def _mash_caller(state: CaseState) -> Role:
    return Role.CME_OFFICER if state.kind is CaseKind.NOT_ON_ROLL else Role.SCHOOL


def _closure_words(input: ConcludeInvestigationInput) -> str:
    match input.outcome:
        case InvestigationOutcome.PLACED_ON_ROLL:
            return f"placed on roll at {input.new_school_laestab}"
        case InvestigationOutcome.LEFT_AREA:
            return f"left the area: {input.other_la}; the other LA has been told"
        case InvestigationOutcome.HOME_EDUCATED:
            return "home educated (parent's written notice received)"
        case _:
            return "not located after the LA's enquiries"
