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
from datetime import datetime
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    # domain.types checks email addresses with email-validator (and idna), which import at call
    # time: passed through, decoding a referral in the sandbox re-imports nothing.
    import email_validator  # noqa: F401
    import idna.uts46data  # noqa: F401

    from activities.v1.models import (
        LoadCalendarInput,
        Recipient,
        SendNotificationInput,
        SyncCaseInput,
        Template,
    )
    from domain.calendar import CalendarError, SchoolCalendar, human_date
    from domain.calendar_snapshot import CalendarSnapshot
    from domain.clock import end_of_day, start_of_day
    from domain.grounds import (
        ground_by_key,
        rulebook_for,
    )
    from domain.intake import (
        PupilMigrationReturn,
        SchoolCMEReferral,
        school_of,
    )
    from workflows.v1 import case_rules as rules
    from workflows.v1 import search_attributes as sa
    from workflows.v1.models import (
        CaseOutcome,
        CaseState,
        EscalationKind,
        OpenCaseInput,
        RegisterReferralInput,
        RegisterReferralResult,
        Role,
        Stage,
        TaskName,
        TaskStatus,
        case_kind_of,
    )


from workflows.case import CmeCase
from workflows.v1.case_base import (
    _FIRST_STAGE,
    ACTIVITY_RETRY,
    ACTIVITY_TIMEOUT,
    CALENDAR_RETRY,
    SERVICE,
)
from workflows.v1.case_tasks import CaseTaskUpdates
from workflows.v1.migrate import MIGRATE_TO_V2, to_v2

# Patch: a task is marked overdue only by its timer, which also escalates it.
OVERDUE_BY_TIMER_ONLY = "overdue-by-timer-only"


@workflow.defn(name="CmeCase")
class CmeCaseWorkflow(CaseTaskUpdates):
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
        self._wake_for_migration = False

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
            if workflow.patched(MIGRATE_TO_V2):
                # Version 2 carries the case on from here (workflows/v1/migrate.py).
                await workflow.wait_condition(workflow.all_handlers_finished)
                await self._flush(stop_when_long=False)
                workflow.continue_as_new(
                    to_v2(self.state, self._input, self._calendar, workflow.now()),
                    workflow=CmeCase.run,
                )
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
                        lambda: bool(self._outbox) or self._dirty or self._wake_for_migration,
                        timeout=timeout,
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
            if not workflow.patched(OVERDUE_BY_TIMER_ONLY):
                self._refresh_overdue()
            await workflow.execute_activity(
                "sync_case",
                SyncCaseInput(state=self.state),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=ACTIVITY_RETRY,
            )
            self._upsert_search_attributes()

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
        threshold_days = rules.ABSENCE_GROUND_DAYS[rules.absence_ground_key(referral)]
        school = self.state.school_laestab
        try:
            self.state.deadlines["sat_referral"] = self.calendar.nth_school_day(day1, 10, school)
            last_day = self.calendar.nth_school_day(day1, threshold_days, school)
            self.state.deadlines["deletion_threshold"] = self.calendar.school_day_after(
                last_day, 1, school
            )
        except CalendarError as exc:
            self._calendar_problem("the referral and deletion thresholds", str(exc))

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
        assert isinstance(state.referral, SchoolCMEReferral)
        ground_key = rules.absence_ground_key(state.referral)
        ground = ground_by_key(ground_key, rulebook_for(self._today()))
        self._notify(
            "threshold_reached",
            Template.THRESHOLD_REACHED,
            [Recipient.SAT],
            threshold=human_date(state.deadlines["deletion_threshold"]),
            ground=f"{ground.code} {ground.title}" if ground else ground_key.value,
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

    def _refresh_overdue(self) -> None:
        """Before OVERDUE_BY_TIMER_ONLY: marked a task past its due date overdue, which kept its
        timer from firing, so a task already overdue when the case opened was never escalated.
        Kept for cases recorded before the patch."""
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

    # -- migration ----------------------------------------------------------------------------

    @workflow.signal
    def migrate(self) -> None:
        """Wake the case so that it moves to version 2 now (``cme migrate``)."""
        self._wake_for_migration = True

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
