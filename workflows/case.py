"""One durable workflow per episode of a child's CME case (version 2, type ``CmeCaseV2``).

The workflow only orchestrates; the case's behaviour is the pure state machine in
:mod:`domain.case`. It turns each update (a person's request) and each timer into a command,
applies it with :func:`domain.case.decide`, runs the effects that come out as activities (each
email on its own, child-protection emails first; one register sync at a time for every batch of
changes) and feeds their outcomes back as commands. The case's history is its own event log, in
the state.

One failure policy: an activity that fails for good, or a step that fails with an unexpected
error, becomes a problem on the case (recorded, escalated, retried); nothing here fails or wedges
the workflow. Transient failures (mail server or database down) are retried by Temporal without
holding up anything else.

Lifecycle: a run opens its episode (or carries a long case's state on after continue-as-new),
works until the episode is :func:`~domain.case.finished`, then returns the outcome. A referral
that reaches a closed episode opens the next episode as a new run of the same workflow id.

Cases opened on version 1 (type ``CmeCase``, :mod:`workflows.v1`) continue as new into this
workflow the next time they wake: see :mod:`workflows.v1.migrate`.

Changes of behaviour since v2 shipped, each behind ``workflow.patched`` so that recorded runs
replay as they ran:

- ``access-checked``: the case refuses a request whose actor may not make it (a school's user on
  another school's case, a manager changing anything; :mod:`domain.case.rules`), and a referral
  from someone who may not refer it opens no case (the run returns ``None``). A run started
  before this change keeps running without the checks until its next continue-as-new (a new
  episode, or a long history); its requests come from clients that already send actors with
  their schools.
- ``sync-register-changes``: a delivery that the register's outbox recorded itself asks for no
  register sync (the register holds nothing else of it), so a case's last email is not followed
  by a sync that writes nothing. Runs started before it sync after every delivery, as they did.

Revision 1 (``CaseInput.revision``, set by every client that starts a run, and by a run that
continues as new or opens the next episode): the run behaves as both changes above say without
asking ``workflow.patched`` (each patch costs a new run a marker and a search attribute upsert,
``TemporalChangeVersion``, on Temporal's visibility store), and reads and writes the register as
*local* activities (``prepare_case`` and ``sync_register``: a few milliseconds of database work
each, run by the worker inside the workflow task that asks for them, recorded as a marker),
rather than as activity tasks that cost the server a dispatch, three events and a further
workflow task each. A local activity is tried three times within seconds (it holds its workflow
task, and the case's requests, while it runs); if the register is still away, the same activity
runs as an activity task, which Temporal retries for as long as it takes without adding to the
history. A failure that retrying cannot mend becomes a problem on the case, as before. Mail stays
an activity task at revisions 1 and 2 (a mail server can be away for hours; revision 3 below tries
it locally once first).
A run without the field (revision 0, started before it) replays as it ran; it takes the latest
revision when it continues as new.

Revision 2: the run sets a timer once for each moment it must wake at and cancels none (see
``CmeCase._set_alarm``). Revision 1 cancelled and restarted its timer at every wake-up, including
the one that follows a register sync's local activity; when a query came in while that local
activity ran, Temporal completed the workflow task early and the cancellation went into the next
task, where a replay does not expect it, so the next worker to replay the case failed every
workflow task with a nondeterminism error (``tests/starter/test_queries_during_sync.py``). A
revision-1 run keeps its revision until it continues as new; docs/deploy.md says what to do with
one that is stuck so.

Revision 3: each email is sent as a local activity first, once (as the register's work is from
revision 1): the worker sends it inside the workflow task that asks for it, recorded as a marker,
rather than as an activity task that costs the server a dispatch, three events and a workflow
task more. If the mail server is down, slow (:data:`LOCAL_MAIL_TIMEOUT`) or refuses for now, the
email is sent as an activity task, retried as before (:data:`DELIVERY_RETRY`); a refusal for good
is a problem on the case, as before. The outbox (:mod:`activities.mail`) is the same either way:
an attempt cut short and sent again carries the same Message-ID.

Revision 4: a register sync wanted in the same workflow task as an email rides along with the
email: the email's local activity writes the episode's register record first, then sends
(``CmeCase._dispatch``), one local activity and one activation fewer than a sync of its own beside
it. The register being away or refusing holds up no email (the activity says so in its result:
refused, a problem on the case; away, the case syncs again the usual way). Only the local attempt
carries the record: if it fails, the sync is wanted again (its fate unknown; a sync of the same
state writes nothing) and the email goes as an activity task without the record, since an
activity task's retries could write it over a newer one.

The updates (one per person's request, each with its validator) are declared in
:mod:`workflows.case_requests`, passed through the sandbox so that their definitions are built once
per worker rather than once per run; each hands its request to this class's ``_request``,
``_validate``, ``_open`` or ``_check_opening``. Their names and types are unchanged, so recorded
runs replay as they ran.

The class is decorated with :func:`workflows.definition.defn`, ``@workflow.defn`` worked out
once per process rather than once per run (the same definition; the class and its functions
still the run's own).

A register sync carries the episode's register record
(:func:`~domain.case.register_record.register_record`: what the register holds), not the whole
state. No ``workflow.patched`` is needed for it: a replay compares which activities run, not their
arguments, so runs recorded with the whole state replay as they ran (and the activity still
writes a sync scheduled with it).
"""

# No `from __future__ import annotations`: the sandbox defines this class afresh for every run,
# and temporalio would compile and evaluate string annotations each time (the handlers' types).
import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import TimeoutError as TemporalTimeout

from workflows import search_attributes as sa
from workflows.case_requests import CaseRequests
from workflows.definition import defn

with workflow.unsafe.imports_passed_through():
    # domain.types checks email addresses with email-validator (and idna), which import at call
    # time: passed through, decoding a referral in the sandbox re-imports nothing.
    import email_validator  # noqa: F401
    import idna.uts46data  # noqa: F401

    from activities.case_activities import CaseActivities
    from domain.calendar import SchoolCalendar
    from domain.case import (
        CaseState,
        Context,
        Outcome,
        Rejected,
        decide,
        finished,
        next_wakeup,
        open_case,
        record_internal_error,
        rules,
    )
    from domain.case.commands import (
        LATEST_REVISION,
        CalendarReloaded,
        CaseCommand,
        CaseInput,
        NotificationDelivered,
        NotificationFailed,
        OpenCase,
        RegisterFailed,
        RegisterReferral,
        RegisterSynced,
        Request,
        Tick,
    )
    from domain.case.effects import (
        DeliverNotificationInput,
        LoadCalendar,
        LoadCalendarInput,
        PrepareCaseInput,
        SendNotification,
        StartNextEpisode,
        SyncCaseInput,
        SyncRegister,
    )
    from domain.case.model import CaseOutcome, CommandResult
    from domain.case.notifications import AnyNotification
    from domain.case.register_record import register_record
    from domain.case.state import NotificationStatus
    from domain.clock import end_of_day
    from domain.intake import school_of

WORKFLOW_TYPE = "CmeCaseV2"
# workflow.patched ids, one per change of behaviour (docs: "Changing the case workflow").
ACCESS_CHECKED = "access-checked"
SYNC_REGISTER_CHANGES = "sync-register-changes"

# Mail is retried often so that queued mail goes out within seconds of the server coming back.
DELIVERY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=10)
)
SERVICE_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30))
ACTIVITY_TIMEOUT = timedelta(seconds=60)

_In = TypeVar("_In")
_Out = TypeVar("_Out")


# How an activity's failure reaches the workflow: wrapped in an ActivityError (an activity task),
# or as the activity's own error (a local activity whose retries are over: a non-retryable one).
ACTIVITY_FAILED = (ActivityError, ApplicationError)
# A local activity's run may also end in its timeout.
LOCAL_FAILED = (ActivityError, ApplicationError, TemporalTimeout)
# The register's local activities (revision 1) try a few times within seconds: a local activity
# holds its workflow task (and the case's requests) while it runs, and every retry past that
# would be recorded in the history; an outage is left to an activity task's retries.
LOCAL_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=500), maximum_attempts=3)
LOCAL_TIMEOUT = timedelta(seconds=5)
# An email (revision 3) is tried once as a local activity, for as long as one SMTP step may take
# (activities.mail.SMTP_TIMEOUT): a mail server that is down, slow or refusing for now leaves the
# retries to an activity task (DELIVERY_RETRY), so the case's requests are not held up meanwhile.
LOCAL_MAIL_RETRY = RetryPolicy(maximum_attempts=1)
LOCAL_MAIL_TIMEOUT = timedelta(seconds=10)


def _failure(error: ActivityError | ApplicationError | TemporalTimeout) -> str | None:
    """The reason of a failure that retrying cannot mend, or ``None`` (a timeout, or an error
    that retrying may mend)."""
    cause = error.cause if isinstance(error, ActivityError) else error
    if isinstance(cause, ApplicationError) and cause.non_retryable:
        return cause.message
    return None


@defn(name=WORKFLOW_TYPE)
class CmeCase(CaseRequests):
    @workflow.init
    def __init__(self, input: CaseInput) -> None:
        self._input = input
        self._state: CaseState | None = input.carried_state
        self._calendar: SchoolCalendar | None = None
        self._delivering: set[str] = set()
        self._syncing = False
        self._sync_wanted = False
        self._loading_calendar = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._next_episode: OpenCase | None = None
        self._woken = False
        # Revision 2 on: the timers set, by the moment each wakes the run (_set_alarm).
        self._alarms: dict[datetime, asyncio.Task[None]] = {}
        self._last_search: dict[str, object] = {}
        # Revision 4 on: the emails asked for in this workflow task, waiting for the dispatch at
        # its end (_dispatch), which lets a wanted sync ride along with the first.
        self._riders: list[tuple[str, AnyNotification]] = []
        self._dispatching = False
        self._check_access = True
        self._sync_register_changes = True
        self._refused: str | None = None
        # The outcome an update's validator worked out, for its handler (see _request).
        self._checked: tuple[Request, CaseState, Context, Outcome] | None = None

    # -- the main loop -------------------------------------------------------------------------

    @workflow.run
    async def run(self, input: CaseInput) -> CaseOutcome | None:
        if input.revision < 1:
            # Runs recorded before the case checked who may do what replay without the checks.
            self._check_access = workflow.patched(ACCESS_CHECKED)
            # Runs recorded before it sync after every delivery.
            self._sync_register_changes = workflow.patched(SYNC_REGISTER_CHANGES)
        await self._prepare()
        if self._refused is not None:
            # The referrer may not make this referral: no case opens (None: nothing decided).
            await workflow.wait_condition(workflow.all_handlers_finished)
            return None
        while True:
            state = self._case
            idle = not self._tasks
            if idle and self._next_episode is not None:
                workflow.continue_as_new(self._next_episode_input())
            if idle and finished(state, workflow.now()):
                break
            if idle and self._history_is_long():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(
                    self._input.model_copy(
                        update={"carried_state": self._case, "revision": LATEST_REVISION}
                    )
                )
            wake = next_wakeup(state)
            if self._steady_alarm:
                self._set_alarm(wake)
                await workflow.wait_condition(lambda: self._woken)
            else:
                timeout = None if wake is None else max(wake - workflow.now(), timedelta(0))
                with contextlib.suppress(TimeoutError):
                    await workflow.wait_condition(lambda: self._woken, timeout=timeout)
            self._woken = False
            if wake is not None and workflow.now() >= wake:
                self._apply(Tick())
        await workflow.wait_condition(workflow.all_handlers_finished)
        outcome = self._case.outcome
        assert outcome is not None
        return outcome

    @property
    def _local_register(self) -> bool:
        """Revision 1 on: the register's activities run as local activities first."""
        return self._input.revision >= 1

    @property
    def _local_mail(self) -> bool:
        """Revision 3 on: each email is sent as a local activity first."""
        return self._input.revision >= 3

    @property
    def _sync_rides_along(self) -> bool:
        """Revision 4 on: a register sync wanted in the same workflow task as an email is written
        by the email's local activity (see :meth:`_dispatch`)."""
        return self._input.revision >= 4

    @property
    def _steady_alarm(self) -> bool:
        """Revision 2 on: the run's timers are set once per moment and never cancelled (see
        :meth:`_set_alarm`)."""
        return self._input.revision >= 2

    def _set_alarm(self, wake: datetime | None) -> None:
        """A timer that wakes the run at ``wake``, unless one is already set for that moment.

        Before revision 2 every wake-up (an email sent, a sync done) cancelled the timer and
        started another: two events each time, and a cancellation issued as a local activity's
        result arrives. Temporal answers a query that comes in while a local activity runs by
        completing the workflow task early, so a command issued on the result lands in the next
        task; a replay places a timer's cancellation there wrongly (a nondeterminism error that
        wedges the case on its next replay). So no timer is cancelled: one whose moment has
        passed from the case's plans (a deadline met early) fires into a loop that finds
        nothing due, at the cost of a workflow task if the case is still open then."""
        if wake is None or wake in self._alarms:
            return
        delay = wake - workflow.now()
        if delay <= timedelta(0):
            self._woken = True  # already due: the loop ticks without waiting
            return

        async def ring() -> None:
            await workflow.sleep(delay)
            del self._alarms[wake]
            self._woken = True

        self._alarms[wake] = asyncio.create_task(ring())

    @property
    def _case(self) -> CaseState:
        assert self._state is not None, "the case is not open yet"
        return self._state

    def _context(self) -> Context:
        return Context(
            now=workflow.now(),
            calendar=self._calendar,
            policy=self._input.policy,
            check_access=self._check_access,
        )

    def _history_is_long(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= self._input.max_history_events
        )

    async def _prepare(self) -> None:
        """Load the calendar (and, for a new episode, the earlier episodes), then open."""
        opening = self._input.opening
        school = school_of(opening.referral)
        prepared = await self._on_register(
            CaseActivities.prepare_case,
            PrepareCaseInput(case=self._input.case, school_laestab=school),
        )
        if prepared.calendar is not None:
            self._calendar = prepared.calendar.to_calendar()
        if self._state is None:
            if not self._input.episodes_known:
                episodes = prepared.earlier_episodes or []
                opening = opening.model_copy(
                    update={
                        "episode": len(episodes) + 1,
                        "earlier_episodes": episodes,
                        "episodes_problem": prepared.episodes_problem,
                    }
                )
            try:
                self._take(open_case(self._input.case, opening, self._context()))
            except Rejected as exc:
                self._refused = exc.message
                return
            if prepared.calendar_problem is not None:
                self._apply(CalendarReloaded(problem=prepared.calendar_problem))
        else:
            # A continued run: restart what the previous run left queued.
            self._resume_deliveries()
            self._want_sync()

    def _next_episode_input(self) -> CaseInput:
        assert self._next_episode is not None
        return CaseInput(
            case=self._input.case,
            opening=self._next_episode,
            episodes_known=True,
            policy=self._input.policy,
            max_history_events=self._input.max_history_events,
            revision=LATEST_REVISION,
        )

    async def _on_register(
        self, activity: Callable[[CaseActivities, _In], Awaitable[_Out]], arg: _In
    ) -> _Out:
        """Run one of the register's activities: from revision 1 on, first as a local activity,
        then, if the register is away, as an activity task."""
        return await self._locally_first(
            activity,
            arg,
            local=self._local_register,
            local_timeout=LOCAL_TIMEOUT,
            local_retry=LOCAL_RETRY,
            retry=SERVICE_RETRY,
        )

    async def _locally_first(
        self,
        activity: Callable[[CaseActivities, _In], Awaitable[_Out]],
        arg: _In,
        *,
        local: bool,
        local_timeout: timedelta,
        local_retry: RetryPolicy,
        retry: RetryPolicy,
    ) -> _Out:
        """Run ``activity`` as a local activity first (when ``local``), then, if what it needs is
        away (or slow), as an activity task, which Temporal retries for as long as it takes,
        adding nothing to the history meanwhile. A failure that retrying cannot mend is raised
        at once: a problem on the case."""
        if local:
            try:
                return await workflow.execute_local_activity_method(
                    activity, arg, start_to_close_timeout=local_timeout, retry_policy=local_retry
                )
            except LOCAL_FAILED as exc:
                if _failure(exc) is not None:
                    raise
        return await workflow.execute_activity_method(
            activity, arg, start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=retry
        )

    # -- applying commands -----------------------------------------------------------------------

    def _apply(self, command: CaseCommand) -> CommandResult | None:
        """Apply one of the case's own commands; an unexpected error becomes a problem."""
        try:
            outcome = decide(self._case, command, self._context())
        except Exception as exc:
            outcome = record_internal_error(
                self._case, f"{type(command).__name__}: {type(exc).__name__}", self._context()
            )
        self._take(outcome)
        return outcome.result

    def _take(self, outcome: Outcome) -> None:
        self._state = outcome.state
        for effect in outcome.effects:
            if isinstance(effect, SendNotification):
                self._deliver(effect.purpose)
            elif isinstance(effect, SyncRegister):
                self._want_sync()
            elif isinstance(effect, LoadCalendar):
                self._reload_calendar()
            elif isinstance(effect, StartNextEpisode):
                self._next_episode = effect.opening
        self._upsert_search_attributes()
        self._woken = True

    def _request(self, command: Request) -> CommandResult:
        """Apply a person's request: a refusal is the update's failure, with its reason."""
        checked, self._checked = self._checked, None
        try:
            outcome = self._checked_outcome(checked, command)
            if outcome is None:
                outcome = decide(self._case, command, self._context())
        except Rejected as exc:
            raise ApplicationError(exc.message, type="Rejected", non_retryable=True) from None
        except Exception as exc:
            self._take(
                record_internal_error(
                    self._case, f"{type(command).__name__}: {type(exc).__name__}", self._context()
                )
            )
            raise ApplicationError(
                rules.CASE_FAILED_REQUEST,
                type="InternalError",
                non_retryable=True,
            ) from None
        self._take(outcome)
        assert outcome.result is not None
        return outcome.result

    def _validate(self, command: Request) -> None:
        """An update's validator: refuse (leaving no trace) what the case would refuse."""
        if self._state is None:
            raise ApplicationError(
                rules.CASE_OPENING,
                type="Rejected",
                non_retryable=True,
            )
        if self._next_episode is not None:
            raise ApplicationError(
                rules.NEXT_EPISODE_OPENING,
                type="Rejected",
                non_retryable=True,
            )
        context = self._context()
        try:
            outcome = decide(self._case, command, context)
        except Rejected as exc:
            raise ApplicationError(exc.message, type="Rejected", non_retryable=True) from None
        except Exception:
            return  # the handler records what went wrong
        self._checked = (command, self._case, context, outcome)

    def _checked_outcome(
        self, checked: tuple[Request, CaseState, Context, Outcome] | None, command: Request
    ) -> Outcome | None:
        """The outcome the validator worked out for ``command``, if nothing has changed since:
        the same request, on the same state, at the same moment and with the same calendar.
        ``decide`` is pure, so deciding again would give the same outcome; the handler, which
        runs right after its validator, takes it rather than copying and deciding the case
        again. (A replay runs no validators: its handlers decide, with the same result.)"""
        if checked is None:
            return None
        request, state, context, outcome = checked
        now = self._context()
        if (
            state is not self._state
            or context.now != now.now
            or context.calendar is not now.calendar
            or context.check_access != now.check_access
            or request != command
        ):
            return None
        return outcome

    # -- effects ----------------------------------------------------------------------------------

    def _spawn(self, work: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(work)
        self._tasks.add(task)

        def done(finished_task: asyncio.Task[None]) -> None:
            self._tasks.discard(finished_task)
            self._woken = True

        task.add_done_callback(done)

    def _resume_deliveries(self) -> None:
        queued = [r for r in self._case.notifications if r.status is NotificationStatus.QUEUED]
        for record in sorted(queued, key=lambda r: not r.child_protection):
            self._deliver(record.purpose)

    def _deliver(self, purpose: str) -> None:
        if purpose in self._delivering:
            return
        record = next((r for r in self._case.notifications if r.purpose == purpose), None)
        if record is None or record.message is None:
            return
        self._delivering.add(purpose)
        if self._sync_rides_along:
            self._riders.append((purpose, record.message))
            self._dispatch()
            return
        self._spawn(self._delivery(purpose, record.message, local=self._local_mail))

    async def _delivery(self, purpose: str, message: AnyNotification, *, local: bool) -> None:
        """Send one email: first as a local activity (``local``), then as an activity task."""
        try:
            delivered = await self._locally_first(
                CaseActivities.deliver_notification,
                DeliverNotificationInput(notification=message),
                local=local,
                local_timeout=LOCAL_MAIL_TIMEOUT,
                local_retry=LOCAL_MAIL_RETRY,
                retry=DELIVERY_RETRY,
            )
        except ACTIVITY_FAILED as exc:
            self._delivery_failed(purpose, _failure(exc) or rules.DELIVERY_FAILED)
            return
        self._delivered(purpose, delivered.recorded)

    def _delivered(self, purpose: str, recorded: bool) -> None:
        self._delivering.discard(purpose)
        recorded = recorded and self._sync_register_changes
        self._apply(NotificationDelivered(purpose=purpose, recorded=recorded))

    def _delivery_failed(self, purpose: str, detail: str) -> None:
        self._delivering.discard(purpose)
        self._apply(NotificationFailed(purpose=purpose, detail=detail))

    def _want_sync(self) -> None:
        self._sync_wanted = True
        if self._syncing:
            return
        if self._sync_rides_along:
            self._dispatch()
            return
        self._syncing = True

        async def sync() -> None:
            if self._local_register:
                # Let every request and outcome handled in this workflow task ask first: one
                # sync writes them all (a local activity starts at once, before they could).
                await workflow.wait_condition(lambda: True)
            await self._sync_loop()

        self._spawn(sync())

    async def _sync_loop(self) -> None:
        """Sync the register until no change is left unwritten (``_syncing`` is set)."""
        while self._sync_wanted:
            self._sync_wanted = False
            try:
                await self._on_register(
                    CaseActivities.sync_register,
                    SyncCaseInput(record=register_record(self._case)),
                )
            except ACTIVITY_FAILED as exc:
                self._syncing = False
                self._apply(RegisterFailed(detail=_failure(exc) or rules.REGISTER_SYNC_FAILED))
                return
            self._register_written()
        self._syncing = False

    def _register_written(self) -> None:
        """A sync succeeded: a register problem on the case is cleared."""
        if self._has_register_problem():
            self._apply(RegisterSynced())

    def _dispatch(self) -> None:
        """Revision 4 on: at the end of this workflow task's work, start the emails asked for and
        the register sync wanted; if both, the first email's local activity writes the sync too
        (:meth:`_delivery_with_sync`): one local activity, and one activation, fewer."""
        if self._dispatching:
            return
        self._dispatching = True

        async def dispatch() -> None:
            # Let every request and outcome handled in this workflow task ask first.
            await workflow.wait_condition(lambda: True)
            self._dispatching = False
            riders, self._riders = self._riders, []
            if self._sync_wanted and not self._syncing:
                self._syncing = True
                if riders:
                    purpose, message = riders.pop(0)
                    self._spawn(self._delivery_with_sync(purpose, message))
                else:
                    self._spawn(self._sync_loop())
            for purpose, message in riders:
                self._spawn(self._delivery(purpose, message, local=self._local_mail))

        self._spawn(dispatch())

    async def _delivery_with_sync(self, purpose: str, message: AnyNotification) -> None:
        """One email's local activity, writing the register's sync first (revision 4). Only the
        local attempt carries the record: if it fails, the sync is wanted again the usual way
        (its fate unknown; a sync of the same state writes nothing) and the email goes as an
        activity task without it, whose retries could otherwise write an old record over a
        newer one."""
        self._sync_wanted = False
        try:
            delivered = await workflow.execute_local_activity_method(
                CaseActivities.deliver_notification,
                DeliverNotificationInput(notification=message, record=register_record(self._case)),
                start_to_close_timeout=LOCAL_MAIL_TIMEOUT,
                retry_policy=LOCAL_MAIL_RETRY,
            )
        except LOCAL_FAILED as exc:
            self._syncing = False
            self._want_sync()
            refusal = _failure(exc)
            if refusal is None:
                await self._delivery(purpose, message, local=False)
            else:
                self._delivery_failed(purpose, refusal)
            return
        self._syncing = False
        if delivered.synced:
            self._register_written()
        elif delivered.register_refused is not None:
            self._apply(RegisterFailed(detail=delivered.register_refused))
        else:
            self._sync_wanted = True  # the register was away: synced the usual way
        if self._sync_wanted:
            self._want_sync()
        self._delivered(purpose, delivered.recorded)

    def _has_register_problem(self) -> bool:
        return any(p.subject == "register" for p in self._case.open_problems)

    def _reload_calendar(self) -> None:
        if self._loading_calendar:
            return
        self._loading_calendar = True
        school = self._case.school_laestab

        async def reload() -> None:
            try:
                snapshot = await workflow.execute_activity_method(
                    CaseActivities.reload_calendar,
                    LoadCalendarInput(school_laestab=school),
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                    retry_policy=SERVICE_RETRY,
                )
            except ActivityError as exc:
                self._loading_calendar = False
                self._apply(CalendarReloaded(problem=_failure(exc) or rules.CALENDAR_DID_NOT_LOAD))
                return
            self._loading_calendar = False
            self._calendar = snapshot.to_calendar()
            self._apply(CalendarReloaded())

        self._spawn(reload())

    # -- search attributes ------------------------------------------------------------------------

    def _upsert_search_attributes(self) -> None:
        state = self._case
        due = state.next_deadline
        outcome = state.outcome
        values: dict[str, object] = {
            sa.CASE_KIND.name: state.kind.value,
            sa.STAGE.name: state.stage.value,
            sa.SCHOOL.name: state.school_laestab or "",
            sa.CHILD_PROTECTION.name: state.child_protection,
            sa.NEXT_DEADLINE.name: end_of_day(due) if due else None,
            sa.OVERDUE.name: state.overdue,
            sa.OUTCOME.name: outcome.decision.value if outcome else "",
            sa.GROUND.name: (outcome.ground or "") if outcome else "",
            sa.EPISODE.name: state.episode,
            sa.PROBLEM.name: bool(state.open_problems),
        }
        updates: list[SearchAttributeUpdate[Any]] = []
        for key in sa.ALL:
            value = values[key.name]
            if self._last_search.get(key.name, ...) == value:
                continue
            self._last_search[key.name] = value
            updates.append(sa.update(key, value))
        if updates:
            workflow.upsert_search_attributes(updates)

    # -- the query (declared in workflows.case_requests, as the updates are) ---------------------

    def _current(self) -> CaseState:
        return self._case

    # -- the referral's update (declared in workflows.case_requests, as every update is) ------

    async def _open(self, command: RegisterReferral) -> CommandResult:
        # Answer once the case is open, so that the caller sees its deadlines and tasks.
        await workflow.wait_condition(lambda: self._state is not None or self._refused is not None)
        if self._refused is not None:
            raise ApplicationError(self._refused, type="Rejected", non_retryable=True)
        return self._request(command)

    def _check_opening(self, command: RegisterReferral) -> None:
        if self._state is not None:
            self._validate(command)
            return
        # The referral that opens the case: refused here, before it is accepted, if its
        # referrer may not make it (the case then never opens).
        try:
            rules.check_referrer(command.referral, command.by)
        except Rejected as exc:
            raise ApplicationError(exc.message, type="Rejected", non_retryable=True) from None
