"""One durable workflow per CME case, from referral to deletion authorisation or closure.

Stages (``CaseState.stage``), by kind of case:

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

Handlers: the ``register_referral`` update (sent with update-with-start; a second referral for the
same child lands here), one validated update per human task, and the ``state`` query. Updates only
change the state and queue emails; the main loop sends the emails, keeps the register in step,
upserts search attributes and sleeps until the next deadline. Deadlines are dates worked out from
the school's calendar and waited on with durable timers that fire at local midnight.
"""

from __future__ import annotations

import contextlib
from datetime import date, datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    from activities.models import (
        LoadCalendarInput,
        Recipient,
        SendNotificationInput,
        SyncCaseInput,
        Template,
    )
    from domain.calendar import CalendarError, SchoolCalendar, human_date
    from domain.calendar_snapshot import CalendarSnapshot
    from domain.ctf import validate_ctf_destination
    from domain.deletion import (
        AFTER_LEAVE_DAYS,
        CONTINUOUS_ABSENCE_DAYS,
        DeletionAssessment,
        assess_deletion,
    )
    from domain.enquiries import AbsenceKind, Enquiry
    from domain.grounds import (
        GroundKey,
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
    from workflows import case_rules as rules
    from workflows import search_attributes as sa
    from workflows.clock import end_of_day, local_date, start_of_day
    from workflows.models import (
        Actor,
        AuthoriseDeletionInput,
        AuthoriseDeletionResult,
        CaseKind,
        CaseOutcome,
        CaseState,
        ConcludeInvestigationInput,
        ConcludeInvestigationResult,
        ConfirmCtfInput,
        ConfirmCtfResult,
        Decision,
        Escalation,
        EscalationKind,
        InvestigationOutcome,
        LoggedEnquiry,
        LoggedInformation,
        OpenCaseInput,
        RaiseConcernInput,
        RaiseConcernResult,
        ReassignInput,
        ReassignResult,
        RecordEnquiryInput,
        RecordEnquiryResult,
        RecordMashCallInput,
        RecordMashCallResult,
        RegisterReferralInput,
        RegisterReferralResult,
        ReportContactInput,
        ReportContactResult,
        Role,
        ShareInformationInput,
        ShareInformationResult,
        Stage,
        Task,
        TaskName,
        TaskStatus,
        WithdrawInput,
        WithdrawResult,
        case_kind_of,
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


@workflow.defn(name="CmeCase")
class CmeCaseWorkflow:
    @workflow.init
    def __init__(self, input: OpenCaseInput) -> None:
        self._input = input
        referral = input.referral
        if input.carried_state is not None:
            self.state = input.carried_state
        else:
            self.state = CaseState(
                case=input.case,
                kind=case_kind_of(referral),
                stage=_FIRST_STAGE[case_kind_of(referral)],
                referral=referral,
                opened_at=workflow.now(),
                school_laestab=school_of(referral),
            )
        self._new = input.carried_state is None
        self._opened = not self._new
        self._first_registration = self._new
        self._calendar: SchoolCalendar | None = None
        self._outbox: list[SendNotificationInput] = []
        self._dirty = True
        self._last_search: dict[str, object] = {}

    # -- main loop -----------------------------------------------------------------------------

    @workflow.run
    async def run(self, input: OpenCaseInput) -> CaseOutcome:
        await self._load_calendar()
        if self._new:
            self._open()
            self._opened = True
        while True:
            await self._flush()
            if self.state.stage is Stage.CLOSED:
                break
            if self._history_is_long():
                await workflow.wait_condition(workflow.all_handlers_finished)
                await self._flush(stop_when_long=False)
                workflow.continue_as_new(
                    OpenCaseInput(
                        case=self.state.case,
                        referral=self.state.referral,
                        referred_by=self._input.referred_by,
                        carried_state=self.state,
                        s37_consent_rule=self._input.s37_consent_rule,
                        max_history_events=self._input.max_history_events,
                    )
                )
            fire_at = self._next_timer()
            if fire_at is None or fire_at > workflow.now():
                timeout = None if fire_at is None else fire_at - workflow.now()
                with contextlib.suppress(TimeoutError):
                    # Wakes for anything an update left to do (emails, register, new deadlines).
                    await workflow.wait_condition(
                        lambda: bool(self._outbox) or self._dirty, timeout=timeout
                    )
            await self._fire_due_timers()
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._flush()
        assert self.state.outcome is not None
        return self.state.outcome

    def _history_is_long(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= self._input.max_history_events
        )

    def _today(self) -> date:
        return local_date(workflow.now())

    @property
    def calendar(self) -> SchoolCalendar:
        assert self._calendar is not None, "calendar not loaded"
        return self._calendar

    async def _load_calendar(self) -> None:
        snapshot = await workflow.execute_activity(
            "load_calendar",
            LoadCalendarInput(school_laestab=self.state.school_laestab),
            result_type=CalendarSnapshot,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
        self._calendar = snapshot.to_calendar()

    async def _flush(self, *, stop_when_long: bool = True) -> None:
        """Send queued emails, then bring the register and search attributes up to date; repeat
        while updates handled meanwhile leave more to do (but hand back to the main loop when the
        history is long, so that it can continue as new)."""
        while self._outbox or self._dirty:
            if stop_when_long and self._history_is_long():
                return
            if self._outbox:
                await workflow.execute_activity(
                    "send_notification",
                    self._outbox.pop(0),
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                    retry_policy=ACTIVITY_RETRY,
                )
                continue
            self._dirty = False
            self._refresh_overdue()
            await workflow.execute_activity(
                "sync_case",
                SyncCaseInput(state=self.state),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=ACTIVITY_RETRY,
            )
            self._upsert_search_attributes()

    def _changed(self) -> None:
        self._dirty = True

    # -- opening a case ------------------------------------------------------------------------

    def _open(self) -> None:
        state, referral = self.state, self.state.referral
        state.rulebook = rulebook_for(self._today())
        if isinstance(referral, SchoolCMEReferral):
            for enquiry in referral.enquiries_made:
                self._log_enquiry(enquiry, self._input.referred_by)
            self._add_task(TaskName.SCHOOL_ENQUIRIES, Role.SCHOOL)
            self._set_absence_deadlines(referral)
        elif isinstance(referral, PupilMigrationReturn):
            ctf_due = self._school_day_after(referral.leaving_date, 15, "ctf")
            self._add_task(TaskName.SEND_CTF, Role.SCHOOL, due=ctf_due)
            self._add_task(TaskName.AUTHORISE_DELETION, Role.CME_OFFICER)
        else:
            self._add_task(TaskName.INVESTIGATE, Role.CME_OFFICER)
            self._notify(
                "not_on_roll_referral",
                Template.NOT_ON_ROLL_REFERRAL,
                [Recipient.SAT],
                referrer=f"{referral.referrer.name}, {referral.referrer.organisation}",
            )
        if referral.child_protection_plan or getattr(referral, "safeguarding_concern", False):
            reason = (
                "the child is subject to a Child Protection Plan"
                if referral.child_protection_plan
                else "the referrer raised a safeguarding concern"
            )
            self._escalate_to_mash(reason, self._input.referred_by)
        self._changed()

    def _set_absence_deadlines(self, referral: SchoolCMEReferral) -> None:
        try:
            day1 = rules.day1_of(referral, self.calendar)
        except CalendarError as exc:
            self._calendar_problem("day 1", str(exc))
            return
        self.state.day1 = day1
        threshold_days = (
            AFTER_LEAVE_DAYS
            if referral.absence_kind is AbsenceKind.AFTER_LEAVE
            else CONTINUOUS_ABSENCE_DAYS
        )
        school = self.state.school_laestab
        try:
            self.state.deadlines["sat_referral"] = self.calendar.nth_school_day(day1, 10, school)
            last_day = self.calendar.nth_school_day(day1, threshold_days, school)
            self.state.deadlines["deletion_threshold"] = self.calendar.school_day_after(
                last_day, 1, school
            )
        except CalendarError as exc:
            self._calendar_problem("the referral and deletion thresholds", str(exc))

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

    # -- timers --------------------------------------------------------------------------------

    def _timers(self) -> list[tuple[datetime, str]]:
        state, timers = self.state, []
        if state.stage is Stage.SCHOOL_ENQUIRIES and "sat_referral" in state.deadlines:
            timers.append((end_of_day(state.deadlines["sat_referral"]), "sat_referral"))
        threshold = state.deadlines.get("deletion_threshold")
        if (
            threshold is not None
            and state.stage in (Stage.SCHOOL_ENQUIRIES, Stage.LA_INVESTIGATION)
            and "threshold_reached" not in state.outcome_details
        ):
            timers.append((start_of_day(threshold), "deletion_threshold"))
        for task in state.tasks:
            if task.status is TaskStatus.OPEN and task.due is not None and not task.overdue:
                timers.append((end_of_day(task.due), f"task:{task.id}"))
        if state.problems:
            timers.append((workflow.now() + CALENDAR_RETRY, "calendar_retry"))
        return timers

    def _next_timer(self) -> datetime | None:
        timers = self._timers()
        return min(at for at, _ in timers) if timers else None

    async def _fire_due_timers(self) -> None:
        now = workflow.now()
        for at, name in self._timers():
            if at > now:
                continue
            if name == "sat_referral":
                self._refer_to_sat()
            elif name == "deletion_threshold":
                self._threshold_reached()
            elif name.startswith("task:"):
                self._task_overdue(int(name.removeprefix("task:")))
        if self.state.problems and self._calendar_retry_due(now):
            await self._retry_calendar()

    def _calendar_retry_due(self, now: datetime) -> bool:
        last = self.state.outcome_details.get("calendar_checked_at")
        return last is None or datetime.fromisoformat(last) + CALENDAR_RETRY <= now

    async def _retry_calendar(self) -> None:
        """Reload the calendar (an LA adds next year's terms) and work the deadlines out again."""
        self.state.outcome_details["calendar_checked_at"] = workflow.now().isoformat()
        await self._load_calendar()
        self.state.problems.clear()
        referral = self.state.referral
        if isinstance(referral, SchoolCMEReferral) and self.state.stage in (
            Stage.SCHOOL_ENQUIRIES,
            Stage.LA_INVESTIGATION,
        ):
            self._set_absence_deadlines(referral)
        for task in self.state.tasks:
            if task.status is TaskStatus.OPEN and task.due is None:
                if task.name is TaskName.SEND_CTF and isinstance(referral, PupilMigrationReturn):
                    task.due = self._school_day_after(referral.leaving_date, 15, "ctf")
                elif task.name is TaskName.PHONE_MASH:
                    task.due = self._school_day_after(self._today(), 1, "mash_call")
        self._changed()

    def _refer_to_sat(self) -> None:
        """No contact by the end of school day 10: the case goes to the CME officer."""
        state = self.state
        state.stage = Stage.LA_INVESTIGATION
        self._close_tasks(TaskName.SCHOOL_ENQUIRIES, SERVICE, TaskStatus.DONE)
        self._add_task(TaskName.INVESTIGATE, Role.CME_OFFICER)
        day10 = state.deadlines["sat_referral"]
        self._add_escalation(
            EscalationKind.SAT_REFERRAL,
            f"no contact by the end of school day 10 ({human_date(day10)})",
            SERVICE,
        )
        enquiries = "\n".join(
            f"- {human_date(e.enquiry.made_on)}: {e.enquiry.by.value} {e.enquiry.kind.value}, "
            f"{e.enquiry.outcome.value}"
            for e in state.enquiries
        )
        assert state.day1 is not None
        self._notify(
            "sat_referral",
            Template.SAT_REFERRAL,
            [Recipient.SAT],
            day1=human_date(state.day1),
            day10=human_date(day10),
            enquiries=enquiries or "(none recorded)",
        )
        self._changed()

    def _threshold_reached(self) -> None:
        state = self.state
        state.outcome_details["threshold_reached"] = self._today().isoformat()
        ground_key = (
            "after_leave"
            if isinstance(state.referral, SchoolCMEReferral)
            and state.referral.absence_kind is AbsenceKind.AFTER_LEAVE
            else "continuous_absence"
        )
        rulebook = rulebook_for(self._today())
        ground = ground_by_key(GroundKey(ground_key), rulebook)
        self._notify(
            "threshold_reached",
            Template.THRESHOLD_REACHED,
            [Recipient.SAT],
            threshold=human_date(state.deadlines["deletion_threshold"]),
            ground=f"{ground.code} {ground.title}" if ground else ground_key,
        )
        self._changed()

    def _task_overdue(self, task_id: int) -> None:
        task = self.state.tasks[task_id - 1]
        task.overdue = True
        assert task.due is not None
        if task.name is TaskName.PHONE_MASH:
            self._add_escalation(
                EscalationKind.TEAM_LEADER,
                f"MASH call not recorded by the end of {human_date(task.due)}",
                SERVICE,
            )
            self._notify(
                f"mash_call_overdue:{task.id}",
                Template.MASH_CALL_OVERDUE,
                [Recipient.TEAM_LEADER],
                mash_call_due=human_date(task.due),
            )
        elif task.name is TaskName.SEND_CTF:
            self._add_escalation(
                EscalationKind.CTF_OVERDUE,
                f"CTF not confirmed by the end of {human_date(task.due)}",
                SERVICE,
            )
            self._notify(
                f"ctf_overdue:{task.id}",
                Template.CTF_OVERDUE,
                [Recipient.SCHOOL, Recipient.SAT],
                ctf_due=human_date(task.due),
                ctf_destination=rules.ctf_destination_of(self.state),
            )
        self._changed()

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
        self, by: Actor, reason: str, outcome: InvestigationOutcome | None = None, **kw: str
    ) -> CaseOutcome:
        result = CaseOutcome(
            case=self.state.case,
            decision=Decision.CLOSED,
            investigation_outcome=outcome,
            closure_reason=reason,
            decided_by=by,
            decided_at=workflow.now(),
            duplicate_of=kw.get("duplicate_of"),
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

    def _refresh_overdue(self) -> None:
        today = self._today()
        for task in self.state.tasks:
            if task.status is TaskStatus.OPEN and task.due is not None and task.due < today:
                task.overdue = True

    def _upsert_search_attributes(self) -> None:
        state = self.state
        open_due = [t.due for t in state.tasks if t.status is TaskStatus.OPEN and t.due]
        if state.stage is Stage.SCHOOL_ENQUIRIES and "sat_referral" in state.deadlines:
            open_due.append(state.deadlines["sat_referral"])
        next_deadline = end_of_day(min(open_due)) if open_due else None
        values: dict[str, object] = {
            sa.CASE_KIND.name: state.kind.value,
            sa.STAGE.name: state.stage.value,
            sa.SCHOOL.name: state.school_laestab or "",
            sa.CHILD_PROTECTION.name: state.child_protection,
            sa.NEXT_DEADLINE.name: next_deadline,
            sa.OVERDUE.name: any(t.overdue for t in state.tasks if t.status is TaskStatus.OPEN),
            sa.OUTCOME.name: (state.outcome.decision.value if state.outcome else ""),
            sa.GROUND.name: (state.outcome.ground or "") if state.outcome else "",
        }
        updates: list[SearchAttributeUpdate[Any]] = []
        for key in sa.ALL:
            value = values[key.name]
            if self._last_search.get(key.name, ...) == value:
                continue
            self._last_search[key.name] = value
            updates.append(key.value_unset() if value is None else key.value_set(value))  # type: ignore[arg-type]
        if updates:
            workflow.upsert_search_attributes(updates)

    # -- query ---------------------------------------------------------------------------------

    @workflow.query(name="state")
    def get_state(self) -> CaseState:
        return self.state

    # -- updates -------------------------------------------------------------------------------

    @workflow.update(name="register_referral")
    async def register_referral(self, input: RegisterReferralInput) -> RegisterReferralResult:
        # Answer once the case is open, so the caller sees its deadlines and tasks.
        await workflow.wait_condition(lambda: self._opened)
        first = self._first_registration and input.referral == self._input.referral
        self._first_registration = False
        if not first:
            self.state.referrals_received += 1
            self._log_information(
                f"further referral received ({input.referral.form.replace('_', ' ')}) from "
                f"{input.referred_by.name}",
                input.referred_by,
            )
            referral = input.referral
            concern = referral.child_protection_plan or getattr(
                referral, "safeguarding_concern", False
            )
            if concern and not self.state.child_protection and self.state.stage is not Stage.CLOSED:
                self._escalate_to_mash(
                    "a further referral reports a safeguarding concern", input.referred_by
                )
            self._changed()
        return RegisterReferralResult(
            case=self.state.case,
            existing=not first,
            stage=self.state.stage,
            referrals_received=self.state.referrals_received,
        )

    @workflow.update(name="record_enquiry")
    def record_enquiry(self, input: RecordEnquiryInput) -> RecordEnquiryResult:
        logged = self._log_enquiry(input.enquiry, input.by)
        self._changed()
        return RecordEnquiryResult(
            case=self.state.case, enquiry_id=logged.id, enquiries_recorded=len(self.state.enquiries)
        )

    @record_enquiry.validator
    def _validate_record_enquiry(self, input: RecordEnquiryInput) -> None:
        rules.require_open(self.state)
        rules.check_enquiry(self.state, input.by, input.enquiry.kind, input.enquiry.by)
        rules.require_not_future(input.enquiry.made_on, self._today(), "enquiry date")

    @workflow.update(name="report_contact")
    def report_contact(self, input: ReportContactInput) -> ReportContactResult:
        when = human_date(input.contact_on)
        if input.returned_to_school:
            self._closure(
                input.by,
                f"contact made on {when}: the child is back at school" + _note(input.note),
                InvestigationOutcome.LOCATED_BACK_AT_SCHOOL,
            )
        else:
            self._log_information(
                f"contact made on {when}; the child is not back at school" + _note(input.note),
                input.by,
            )
            self._changed()
        return ReportContactResult(case=self.state.case, stage=self.state.stage)

    @report_contact.validator
    def _validate_report_contact(self, input: ReportContactInput) -> None:
        rules.require_open(self.state)
        if self.state.kind is not CaseKind.DESTINATION_NOT_VERIFIED:
            raise rules.Rejected(
                "contact is reported on a missing pupil's case; conclude this case instead"
            )
        rules.require_role(input.by, rules.OFFICERS | {Role.SCHOOL}, "reporting contact")
        if self.state.stage is Stage.AWAITING_DELETION_AUTHORISATION:
            raise rules.Rejected("the investigation is concluded: share the information instead")
        rules.require_not_future(input.contact_on, self._today(), "contact date")

    @workflow.update(name="raise_concern")
    def raise_concern(self, input: RaiseConcernInput) -> RaiseConcernResult:
        reason = f"safeguarding concern raised by {input.by.name}: {input.concern}"
        if input.child_protection_plan:
            reason = f"Child Protection Plan reported by {input.by.name}: {input.concern}"
        escalation = self._escalate_to_mash(reason, input.by)
        self._changed()
        return RaiseConcernResult(
            case=self.state.case,
            escalation_id=escalation.id,
            mash_call_due=self.state.deadlines.get("mash_call"),
        )

    @raise_concern.validator
    def _validate_raise_concern(self, input: RaiseConcernInput) -> None:
        rules.require_open(self.state)

    @workflow.update(name="share_information")
    def share_information(self, input: ShareInformationInput) -> ShareInformationResult:
        logged = self._log_information(input.information, input.by)
        self.state.attendance_codes.extend(input.attendance_codes)
        if self.state.stage is not Stage.SCHOOL_ENQUIRIES:
            self._notify(
                f"information_shared:{logged.id}",
                Template.INFORMATION_SHARED,
                [Recipient.SAT],
                shared_by=f"{input.by.name} ({input.by.role.value.replace('_', ' ')})",
                information=input.information,
            )
        self._changed()
        return ShareInformationResult(case=self.state.case, information_id=logged.id)

    @share_information.validator
    def _validate_share_information(self, input: ShareInformationInput) -> None:
        rules.require_open(self.state)
        for code in input.attendance_codes:
            rules.require_not_future(code.day, self._today(), "attendance code date")

    def _log_information(self, text: str, by: Actor) -> LoggedInformation:
        logged = LoggedInformation(
            id=len(self.state.information) + 1,
            information=text,
            shared_by=by,
            shared_at=workflow.now(),
        )
        self.state.information.append(logged)
        return logged

    @workflow.update(name="record_mash_call")
    def record_mash_call(self, input: RecordMashCallInput) -> RecordMashCallResult:
        task = self._open_tasks(TaskName.PHONE_MASH)[0]
        self._close_tasks(TaskName.PHONE_MASH, input.by, TaskStatus.DONE)
        ref = f" (MASH reference {input.mash_reference})" if input.mash_reference else ""
        self._log_information(
            f"MASH phoned on {human_date(input.called_on)}{ref}" + _note(input.advice), input.by
        )
        self._changed()
        return RecordMashCallResult(case=self.state.case, task_id=task.id)

    @record_mash_call.validator
    def _validate_record_mash_call(self, input: RecordMashCallInput) -> None:
        rules.require_open(self.state)
        if not self._open_tasks(TaskName.PHONE_MASH):
            raise rules.Rejected("no MASH call is due on this case")
        rules.require_role(input.by, rules.OFFICERS | {Role.SCHOOL}, "recording the MASH call")
        rules.require_not_future(input.called_on, self._today(), "call date")

    @workflow.update(name="confirm_ctf")
    def confirm_ctf(self, input: ConfirmCtfInput) -> ConfirmCtfResult:
        code = validate_ctf_destination(input.destination_code)
        task = self._open_tasks(TaskName.SEND_CTF)[0]
        on_time = task.due is None or input.sent_on <= task.due
        self._close_tasks(TaskName.SEND_CTF, input.by, TaskStatus.DONE)
        self.state.outcome_details["ctf_sent_on"] = input.sent_on.isoformat()
        self.state.outcome_details["ctf_destination"] = code
        self._maybe_finish_verified()
        self._changed()
        return ConfirmCtfResult(case=self.state.case, destination_code=code, on_time=on_time)

    @confirm_ctf.validator
    def _validate_confirm_ctf(self, input: ConfirmCtfInput) -> None:
        rules.require_open(self.state)
        if not self._open_tasks(TaskName.SEND_CTF):
            raise rules.Rejected("no CTF is due on this case")
        rules.require_role(input.by, rules.OFFICERS | {Role.SCHOOL}, "confirming the CTF")
        try:
            code = validate_ctf_destination(input.destination_code)
        except ValueError as exc:
            raise rules.Rejected(f"destination_code: {exc}") from None
        expected = rules.ctf_destination_of(self.state)
        if code != expected:
            raise rules.Rejected(
                f"destination_code: the return names destination {expected}, not {code}"
            )
        rules.require_not_future(input.sent_on, self._today(), "CTF sent date")

    @workflow.update(name="conclude_investigation")
    def conclude_investigation(
        self, input: ConcludeInvestigationInput
    ) -> ConcludeInvestigationResult:
        state = self.state
        state.investigation_outcome = input.outcome
        state.concluded_by = input.by
        for key in ("new_school_laestab", "other_la", "ehe_letter_reference"):
            value = getattr(input, key)
            if value:
                state.outcome_details[key] = value
        if input.ehe_letter_received_on:
            state.outcome_details["ehe_letter_received_on"] = (
                input.ehe_letter_received_on.isoformat()
            )
        self._close_tasks(TaskName.INVESTIGATE, input.by, TaskStatus.DONE)
        words = input.outcome.value.replace("_", " ")
        if input.other_la_email:
            self._notify(
                "other_la_notice",
                Template.OTHER_LA_NOTICE,
                [Recipient.OTHER_LA],
                other_address=input.other_la_email,
                other_la=input.other_la or "",
            )
        outcome = None
        if state.kind is CaseKind.NOT_ON_ROLL:
            outcome = self._closure(
                input.by, _closure_words(input) + _note(input.note), input.outcome
            )
        elif input.outcome is InvestigationOutcome.LOCATED_BACK_AT_SCHOOL:
            outcome = self._closure(
                input.by, "located: the child is back at school" + _note(input.note), input.outcome
            )
        else:
            state.stage = Stage.AWAITING_DELETION_AUTHORISATION
            self._add_task(TaskName.AUTHORISE_DELETION, Role.CME_OFFICER)
            self._log_information(f"investigation concluded: {words}" + _note(input.note), input.by)
            self._changed()
        return ConcludeInvestigationResult(case=state.case, stage=state.stage, outcome=outcome)

    @conclude_investigation.validator
    def _validate_conclude(self, input: ConcludeInvestigationInput) -> None:
        rules.require_open(self.state)
        rules.require_role(input.by, rules.OFFICERS, "concluding an investigation")
        rules.check_conclusion(
            self.state,
            input.outcome,
            new_school_laestab=input.new_school_laestab,
            other_la=input.other_la,
            ehe_letter_reference=input.ehe_letter_reference,
        )

    @workflow.update(name="authorise_deletion")
    def authorise_deletion(self, input: AuthoriseDeletionInput) -> AuthoriseDeletionResult:
        assessment = self._assess(input)
        state = self.state
        decision_date = input.decision_date or self._today()
        earliest = max(assessment.earliest_date or decision_date, decision_date)
        ctf_destination = rules.ctf_destination_of(state)
        outcome = CaseOutcome(
            case=state.case,
            decision=Decision.DELETION_AUTHORISED,
            investigation_outcome=state.investigation_outcome,
            rulebook=assessment.ground.rulebook,
            ground=assessment.ground.code,
            ground_title=assessment.ground.title,
            ground_other_rulebook=assessment.ground_other_rulebook,
            earliest_deletion_date=earliest,
            ctf_destination=ctf_destination,
            decided_by=input.by,
            decided_at=workflow.now(),
        )
        state.rulebook = assessment.ground.rulebook
        self._close_tasks(TaskName.AUTHORISE_DELETION, input.by, TaskStatus.DONE)
        ctf_due: date | None = state.deadlines.get("ctf")
        if state.kind is not CaseKind.DESTINATION_VERIFIED:
            ctf_due = self._school_day_after(earliest, 15, "ctf")
        self._notify(
            "outcome_to_school",
            Template.OUTCOME_TO_SCHOOL,
            [Recipient.SCHOOL, Recipient.SAT],
            outcome=(
                state.investigation_outcome.value.replace("_", " ")
                if state.investigation_outcome
                else "destination verified (Pupil Migration LA Return)"
            ),
            ground=assessment.ground.code,
            ground_title=assessment.ground.title,
            ground_other_rulebook=assessment.ground_other_rulebook or "none",
            earliest_deletion_date=human_date(earliest),
            ctf_destination=ctf_destination,
            ctf_due=human_date(ctf_due) if ctf_due else "see the case: calendar ends",
            decided_by=input.by.name,
        )
        if state.kind is CaseKind.DESTINATION_VERIFIED:
            state.outcome = outcome
            self._maybe_finish_verified()
        else:
            self._close_case(outcome)
        self._changed()
        return AuthoriseDeletionResult(case=state.case, outcome=outcome)

    @authorise_deletion.validator
    def _validate_authorise_deletion(self, input: AuthoriseDeletionInput) -> None:
        rules.require_open(self.state)
        rules.require_role(input.by, rules.OFFICERS, "authorising deletion")
        if not self._open_tasks(TaskName.AUTHORISE_DELETION):
            raise rules.Rejected(
                "deletion cannot be authorised at stage "
                f"{self.state.stage.value}: the investigation must be concluded first"
            )
        today = self._today()
        if input.decision_date is not None and input.decision_date < today:
            raise rules.Rejected(
                f"deletion is never backdated: decision date {human_date(input.decision_date)} "
                f"is before today ({human_date(today)})"
            )
        self._assess(input)

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

    @workflow.update(name="withdraw")
    def withdraw(self, input: WithdrawInput) -> WithdrawResult:
        reason = input.reason
        if input.duplicate_of:
            reason = f"withdrawn as a duplicate of {input.duplicate_of}: {reason}"
        outcome = self._closure(input.by, reason, duplicate_of=input.duplicate_of or "")
        return WithdrawResult(case=self.state.case, outcome=outcome)

    @withdraw.validator
    def _validate_withdraw(self, input: WithdrawInput) -> None:
        rules.require_open(self.state)
        rules.require_role(input.by, frozenset({Role.TEAM_LEADER}), "withdrawing a case")
        if input.duplicate_of == self.state.case:
            raise rules.Rejected("duplicate_of: a case cannot be a duplicate of itself")

    @workflow.update(name="reassign")
    def reassign(self, input: ReassignInput) -> ReassignResult:
        self.state.assigned_officer = input.officer
        self._log_information(f"case assigned to {input.officer}", input.by)
        self._changed()
        return ReassignResult(case=self.state.case, assigned_officer=input.officer)

    @reassign.validator
    def _validate_reassign(self, input: ReassignInput) -> None:
        rules.require_open(self.state)
        rules.require_role(input.by, frozenset({Role.TEAM_LEADER}), "reassigning a case")


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
