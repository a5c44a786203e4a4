"""A manager's timeline of a case, read from the case workflow's Temporal history.

:func:`build_timeline` turns history events into :class:`TimelineEntry` lines: when each step,
task, escalation, email and decision happened and who did it. It makes no calls to the server; it
only decodes payloads with the data converter it is given (the client's: pydantic, plus any codec),
so it can be tested on a history fetched once.

What the history shows, and where each line comes from:

* a person's step (a referral, an enquiry, a concern, a MASH call, a CTF, a conclusion, an
  authorisation, a withdrawal, a reassignment): the *accepted* update, its input decoded to the
  update's model (``workflows.models``); the actor is the input's ``by``. An update the workflow
  rejected leaves no trace in the history, so it is not on the timeline;
* escalations and emails: the ``send_notification`` activities, their input decoded to
  :class:`~activities.models.SendNotificationInput` (template, purpose, recipients and fields):
  an escalation line when the email is queued, an ``email sent`` line when the activity completes
  (the subject, which never names the child, and who it went to);
* deadlines: a fired timer, labelled from what the workflow did next (the SAT referral at the end
  of school day 10, the deletion threshold, an overdue MASH call or CTF, a calendar re-check);
* stages and overdue tasks: the case's search attribute upserts (``CmeStage``, ``CmeOverdue``);
* the decision: the workflow's result (:class:`~workflows.models.CaseOutcome`), or a termination.

Events of several runs (a case continued-as-new) are read in order as one timeline.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.history.v1 import HistoryEvent
from temporalio.converter import DataConverter
from temporalio.converter import default as default_converter

from activities.models import Recipient, SendNotificationInput, SendNotificationResult, Template
from activities.templates import render
from domain.calendar import human_date
from workflows import search_attributes as sa
from workflows.clock import LONDON
from workflows.models import (
    Actor,
    AuthoriseDeletionInput,
    CaseOutcome,
    ConcludeInvestigationInput,
    ConfirmCtfInput,
    Decision,
    OpenCaseInput,
    RaiseConcernInput,
    ReassignInput,
    RecordEnquiryInput,
    RecordMashCallInput,
    RegisterReferralInput,
    ReportContactInput,
    Role,
    ShareInformationInput,
    Stage,
    WithdrawInput,
)

SERVICE_ACTOR = "CME service"

UPDATE_INPUTS: dict[str, type[BaseModel]] = {
    "register_referral": RegisterReferralInput,
    "record_enquiry": RecordEnquiryInput,
    "report_contact": ReportContactInput,
    "raise_concern": RaiseConcernInput,
    "share_information": ShareInformationInput,
    "record_mash_call": RecordMashCallInput,
    "confirm_ctf": ConfirmCtfInput,
    "conclude_investigation": ConcludeInvestigationInput,
    "authorise_deletion": AuthoriseDeletionInput,
    "withdraw": WithdrawInput,
    "reassign": ReassignInput,
}

FORM_WORDS = {
    "pupil_migration_return": "Pupil Migration LA Return (destination verified)",
    "school_cme_referral": "school CME referral (destination not verified)",
    "professional_cme_referral": "professional CME referral (child not on roll)",
}

_RECIPIENT_WORDS = {
    Recipient.MASH: "MASH",
    Recipient.SAT: "SAT",
    Recipient.TEAM_LEADER: "team leader",
    Recipient.SCHOOL: "school",
    Recipient.OTHER_LA: "other LA",
    Recipient.REFERRER: "referrer",
}

_ROLE_WORDS = {
    Role.SCHOOL: "school",
    Role.PROFESSIONAL: "professional",
    Role.CME_OFFICER: "CME officer",
    Role.TEAM_LEADER: "team leader",
    Role.SERVICE: "service",
}

STAGE_WORDS = {
    Stage.SCHOOL_ENQUIRIES: "school enquiries",
    Stage.LA_INVESTIGATION: "LA investigation",
    Stage.AWAITING_DELETION_AUTHORISATION: "awaiting deletion authorisation",
    Stage.AWAITING_CTF: "awaiting CTF",
    Stage.CLOSED: "closed",
}

# The stage a new case opens at, by its form (as the workflow opens it).
_FIRST_STAGE = {
    "pupil_migration_return": Stage.AWAITING_CTF,
    "school_cme_referral": Stage.SCHOOL_ENQUIRIES,
    "professional_cme_referral": Stage.LA_INVESTIGATION,
}

# Notifications only a deadline sends, by the start of their purpose.
_DEADLINE_PURPOSES = ("sat_referral", "threshold_reached", "mash_call_overdue", "ctf_overdue")


@dataclass(frozen=True)
class TimelineEntry:
    """One line of the timeline: when (aware, UTC), who, and what happened in plain words."""

    at: datetime
    actor: str
    what: str

    @property
    def local_at(self) -> datetime:
        return self.at.astimezone(LONDON)

    def line(self) -> str:
        """``2026-11-28 09:14  referral received from Ms A (school): ...`` (local time)."""
        return f"{self.local_at:%Y-%m-%d %H:%M}  {self.what}"

    def as_json(self) -> dict[str, str]:
        return {"at": self.local_at.isoformat(), "actor": self.actor, "what": self.what}


def actor_words(actor: Actor) -> str:
    """``Ms A (school)``; the workflow's own actor is just ``CME service``."""
    if actor.role is Role.SERVICE:
        return actor.name
    return f"{actor.name} ({_ROLE_WORDS.get(actor.role, actor.role.value)})"


def _words(value: str) -> str:
    return value.replace("_", " ")


def stage_words(stage: str) -> str:
    """``LA investigation`` for ``la_investigation``."""
    try:
        return STAGE_WORDS[Stage(stage)]
    except ValueError:
        return _words(stage)


def _event_time(event: HistoryEvent) -> datetime:
    return event.event_time.ToDatetime(tzinfo=UTC)


class _Decoder:
    def __init__(self, converter: DataConverter) -> None:
        self._converter = converter

    async def one(self, payloads: Payloads | Sequence[Payload], hint: type | None) -> Any:
        """The first value of ``payloads`` as ``hint`` (raw JSON-ish value without a hint);
        ``None`` when there is none or it cannot be read."""
        items = list(payloads.payloads) if isinstance(payloads, Payloads) else list(payloads)
        if not items:
            return None
        try:
            values = await self._converter.decode(items[:1], [hint] if hint else None)
        except Exception:
            return None
        return values[0] if values else None


class _Builder:
    def __init__(self, decoder: _Decoder) -> None:
        self.decode = decoder
        self.entries: list[TimelineEntry] = []
        self.cause = SERVICE_ACTOR  # who set off what the workflow does next
        self.notifications: dict[int, SendNotificationInput] = {}  # by scheduled event id
        self.update_entries: dict[str, int] = {}  # update id -> index of its entry
        self.referrals = 0
        self.stage: str | None = None
        self.overdue = False
        self.timer_entry: int | None = None  # index of the last deadline line, to label it
        self.timer_labels: list[str] = []
        self.opening = False  # a new case: its first referral opens it

    def add(self, event: HistoryEvent, actor: str, what: str) -> int:
        self.entries.append(TimelineEntry(at=_event_time(event), actor=actor, what=what))
        return len(self.entries) - 1

    def label_deadline(self, label: str) -> None:
        if self.timer_entry is None or label in self.timer_labels:
            return
        self.timer_labels.append(label)
        entry = self.entries[self.timer_entry]
        self.entries[self.timer_entry] = replace(
            entry, what="deadline reached: " + "; ".join(self.timer_labels)
        )

    async def event(self, event: HistoryEvent) -> None:
        kind = event.WhichOneof("attributes")
        handler = getattr(self, f"_on_{kind}", None)
        if handler is not None:
            await handler(event)

    # -- the workflow itself -------------------------------------------------------------------

    async def _on_workflow_execution_started_event_attributes(self, event: HistoryEvent) -> None:
        attrs = event.workflow_execution_started_event_attributes
        opened: OpenCaseInput | None = await self.decode.one(attrs.input, OpenCaseInput)
        if opened is not None and opened.carried_state is not None:
            # continued-as-new: the same case goes on; nothing happened here
            self.referrals = opened.carried_state.referrals_received
            self.stage = opened.carried_state.stage.value
            return
        self.referrals = 0
        self.stage = None
        self.overdue = False
        self.opening = True

    async def _on_workflow_execution_completed_event_attributes(self, event: HistoryEvent) -> None:
        attrs = event.workflow_execution_completed_event_attributes
        outcome: CaseOutcome | None = await self.decode.one(attrs.result, CaseOutcome)
        if outcome is None:
            self.add(event, SERVICE_ACTOR, "case closed")
            return
        by = outcome.decided_by.name
        if outcome.decision is Decision.DELETION_AUTHORISED:
            what = f"case closed: deletion authorised on {outcome.ground} by {by}"
            details = []
            if outcome.earliest_deletion_date:
                details.append(f"may be deleted from {human_date(outcome.earliest_deletion_date)}")
            if outcome.ctf_destination:
                details.append(f"CTF to {outcome.ctf_destination}")
            if details:
                what += " (" + "; ".join(details) + ")"
        else:
            what = f"case closed: {outcome.closure_reason or 'closed'} (decided by {by})"
        self.add(event, actor_words(outcome.decided_by), what)

    async def _on_workflow_execution_terminated_event_attributes(self, event: HistoryEvent) -> None:
        attrs = event.workflow_execution_terminated_event_attributes
        who = attrs.identity or "an operator"
        reason = f": {attrs.reason}" if attrs.reason else ""
        self.add(event, who, f"case workflow terminated by {who}{reason}")

    async def _on_workflow_execution_failed_event_attributes(self, event: HistoryEvent) -> None:
        message = event.workflow_execution_failed_event_attributes.failure.message
        self.add(event, SERVICE_ACTOR, f"case workflow failed: {message}")

    async def _on_workflow_execution_canceled_event_attributes(self, event: HistoryEvent) -> None:
        self.add(event, SERVICE_ACTOR, "case workflow cancelled")

    async def _on_workflow_execution_timed_out_event_attributes(self, event: HistoryEvent) -> None:
        self.add(event, SERVICE_ACTOR, "case workflow timed out")

    # -- people's steps: accepted updates ------------------------------------------------------

    async def _on_workflow_execution_update_accepted_event_attributes(
        self, event: HistoryEvent
    ) -> None:
        request = event.workflow_execution_update_accepted_event_attributes.accepted_request
        name = request.input.name
        value = await self.decode.one(request.input.args, UPDATE_INPUTS.get(name))
        actor, what = self._describe_update(name, value)
        self.cause = actor
        self.update_entries[request.meta.update_id] = self.add(event, actor, what)

    async def _on_workflow_execution_update_completed_event_attributes(
        self, event: HistoryEvent
    ) -> None:
        attrs = event.workflow_execution_update_completed_event_attributes
        index = self.update_entries.get(attrs.meta.update_id)
        if index is None or not attrs.outcome.HasField("failure"):
            return
        entry = self.entries[index]
        self.entries[index] = replace(
            entry, what=f"{entry.what} (failed: {attrs.outcome.failure.message})"
        )

    def _describe_update(self, name: str, value: Any) -> tuple[str, str]:
        """(actor, what) of an accepted update."""
        if isinstance(value, RegisterReferralInput):
            actor = actor_words(value.referred_by)
            self.referrals += 1
            form = FORM_WORDS.get(value.referral.form, _words(value.referral.form))
            if self.referrals == 1:
                what = f"referral received from {actor}: {form}"
                if self.opening:
                    self.opening = False
                    first = _FIRST_STAGE.get(value.referral.form)
                    if first is not None:
                        what += f"; case opened at stage {STAGE_WORDS[first]}"
                        self.stage = first.value
                return actor, what
            return actor, (
                f"further referral received from {actor}: {form} "
                f"({self.referrals} referrals received)"
            )
        by = value.get("by") if isinstance(value, dict) else getattr(value, "by", None)
        if not isinstance(by, Actor):  # an update this version does not know, read as JSON
            who = str(by.get("name") or "?") if isinstance(by, dict) else "?"
            return who, f"{_words(name)} by {who}"
        actor = actor_words(by)
        match value:
            case RecordEnquiryInput(enquiry=e):
                return actor, (
                    f"enquiry recorded by {actor}: {e.by.value} {e.kind.value}, "
                    f"{e.outcome.value} on {human_date(e.made_on)}"
                )
            case ReportContactInput():
                back = (
                    "the child is back at school"
                    if value.returned_to_school
                    else "the child is not back at school"
                )
                return actor, (
                    f"contact reported by {actor}: made on {human_date(value.contact_on)}, {back}"
                )
            case RaiseConcernInput():
                if value.child_protection_plan:
                    return actor, f"Child Protection Plan reported by {actor}: {value.concern}"
                return actor, f"safeguarding concern raised by {actor}: {value.concern}"
            case ShareInformationInput():
                codes = value.attendance_codes
                extra = f" ({len(codes)} attendance codes)" if codes else ""
                return actor, f"information shared by {actor}: {value.information}{extra}"
            case RecordMashCallInput():
                ref = f", MASH reference {value.mash_reference}" if value.mash_reference else ""
                return actor, (
                    f"MASH call recorded by {actor}: called on {human_date(value.called_on)}{ref}"
                )
            case ConfirmCtfInput():
                return actor, (
                    f"CTF confirmed by {actor}: sent on {human_date(value.sent_on)} to "
                    f"{value.destination_code}"
                )
            case ConcludeInvestigationInput():
                return actor, f"investigation concluded by {actor}: {_conclusion(value)}"
            case AuthoriseDeletionInput():
                when = (
                    f", decision date {human_date(value.decision_date)}"
                    if value.decision_date
                    else ""
                )
                return actor, f"deletion authorised by {actor} on ground {value.ground}{when}"
            case WithdrawInput():
                dup = f" (duplicate of {value.duplicate_of})" if value.duplicate_of else ""
                return actor, f"case withdrawn by {actor}: {value.reason}{dup}"
            case ReassignInput():
                return actor, f"case assigned to {value.officer} by {actor}"
        return actor, f"{_words(name)} by {actor}"

    # -- emails and escalations: the send_notification activity --------------------------------

    async def _on_activity_task_scheduled_event_attributes(self, event: HistoryEvent) -> None:
        attrs = event.activity_task_scheduled_event_attributes
        if attrs.activity_type.name != "send_notification":
            if attrs.activity_type.name == "load_calendar" and self.timer_entry is not None:
                self.label_deadline("calendar checked again")
            return
        notice: SendNotificationInput | None = await self.decode.one(
            attrs.input, SendNotificationInput
        )
        if notice is None:
            return
        self.notifications[event.event_id] = notice
        actor = self.cause
        if notice.purpose.startswith(_DEADLINE_PURPOSES):
            self.label_deadline(_deadline_label(notice))
            actor = SERVICE_ACTOR
        elif notice.template is Template.CALENDAR_ENDS:
            actor = SERVICE_ACTOR
        escalation = _escalation_words(notice)
        if escalation is not None:
            self.add(event, actor, escalation)

    async def _on_activity_task_completed_event_attributes(self, event: HistoryEvent) -> None:
        attrs = event.activity_task_completed_event_attributes
        notice = self.notifications.get(attrs.scheduled_event_id)
        if notice is None:
            return
        result: SendNotificationResult | None = await self.decode.one(
            attrs.result, SendNotificationResult
        )
        again = " (already sent by an earlier attempt)" if result and result.already_sent else ""
        self.add(event, SERVICE_ACTOR, f"email sent: {_email_words(notice)}{again}")

    async def _email_not_sent(self, event: HistoryEvent, scheduled_id: int, why: str) -> None:
        notice = self.notifications.get(scheduled_id)
        if notice is not None:
            self.add(event, SERVICE_ACTOR, f"email NOT sent: {_email_words(notice)}: {why}")

    async def _on_activity_task_failed_event_attributes(self, event: HistoryEvent) -> None:
        attrs = event.activity_task_failed_event_attributes
        await self._email_not_sent(event, attrs.scheduled_event_id, attrs.failure.message)

    async def _on_activity_task_timed_out_event_attributes(self, event: HistoryEvent) -> None:
        attrs = event.activity_task_timed_out_event_attributes
        await self._email_not_sent(event, attrs.scheduled_event_id, "timed out")

    # -- deadlines, stages, overdue tasks ------------------------------------------------------

    async def _on_timer_fired_event_attributes(self, event: HistoryEvent) -> None:
        self.cause = SERVICE_ACTOR
        self.timer_labels = []
        self.timer_entry = self.add(event, SERVICE_ACTOR, "deadline reached")

    async def _on_upsert_workflow_search_attributes_event_attributes(
        self, event: HistoryEvent
    ) -> None:
        attrs = event.upsert_workflow_search_attributes_event_attributes
        fields = attrs.search_attributes.indexed_fields
        stage = _search_value(fields.get(sa.STAGE.name))
        if stage is not None and stage != self.stage:
            first = self.stage is None
            self.stage = stage
            if first:
                self.add(event, SERVICE_ACTOR, f"case opened at stage {stage_words(stage)}")
            elif stage != Stage.CLOSED.value:  # the closing decision has its own line
                self.add(event, self.cause, f"stage now {stage_words(stage)}")
        overdue = _search_value(fields.get(sa.OVERDUE.name))
        if overdue is not None and overdue != self.overdue:
            self.overdue = overdue
            if overdue and not self.timer_labels:  # else the deadline line already says which
                self.add(event, SERVICE_ACTOR, "a task is overdue")


def _search_value(payload: Payload | None) -> Any:
    """One search attribute's value from an upsert (``None`` when unset or unreadable).

    Not ``decode_typed_search_attributes``: it fails on the whole upsert when a datetime
    attribute is unset (a ``binary/null`` payload)."""
    if payload is None:
        return None
    try:
        value = default_converter().payload_converter.from_payload(payload)
    except Exception:
        return None
    if isinstance(value, list):
        return value[0] if len(value) == 1 else None
    return value


def _conclusion(value: ConcludeInvestigationInput) -> str:
    parts = [_words(value.outcome.value)]
    if value.new_school_laestab:
        parts.append(f"school {value.new_school_laestab}")
    if value.other_la:
        parts.append(f"other LA {value.other_la}")
    if value.ehe_letter_reference:
        parts.append(f"EHE letter {value.ehe_letter_reference}")
    return ", ".join(parts)


def _deadline_label(notice: SendNotificationInput) -> str:
    f = notice.fields
    match notice.template:
        case Template.SAT_REFERRAL:
            return f"end of school day 10 ({f.get('day10', '?')})"
        case Template.THRESHOLD_REACHED:
            return f"deletion threshold ({f.get('threshold', '?')})"
        case Template.MASH_CALL_OVERDUE:
            return f"MASH call due by the end of {f.get('mash_call_due', '?')}"
        case Template.CTF_OVERDUE:
            return f"CTF due by the end of {f.get('ctf_due', '?')}"
    return _words(notice.purpose.split(":")[0])


def _escalation_words(notice: SendNotificationInput) -> str | None:
    f = notice.fields
    match notice.template:
        case Template.MASH_ESCALATION:
            return (
                f"escalated to MASH and SAT: {f.get('reason', '')}; MASH to be phoned by "
                f"{f.get('mash_call_due', '?')}"
            )
        case Template.MASH_CALL_OVERDUE:
            return (
                "escalated to the team leader: MASH call not recorded by the end of "
                f"{f.get('mash_call_due', '?')}"
            )
        case Template.SAT_REFERRAL:
            return (
                "referred to the School Attendance Team: no contact by the end of school day 10 "
                f"({f.get('day10', '?')})"
            )
        case Template.CTF_OVERDUE:
            return f"CTF overdue (due {f.get('ctf_due', '?')}): school and SAT reminded"
        case Template.THRESHOLD_REACHED:
            return f"deletion threshold reached: ground {f.get('ground', '?')}"
        case Template.CALENDAR_ENDS:
            return (
                f"escalated to the team leader: {f.get('deadline', '?')} lies past the school "
                "calendar"
            )
    return None


def _email_words(notice: SendNotificationInput) -> str:
    """The subject without its ``[CME ref]`` prefix (subjects never name the child) and who it
    went to."""
    try:
        rendered = render(notice.template, case=notice.case, fields=notice.fields, la_name="")
        subject = rendered.subject.removeprefix(f"[CME {notice.case}]").strip()
    except Exception:
        subject = _words(notice.template.value)
    to = []
    for recipient in notice.to:
        words = _RECIPIENT_WORDS.get(recipient, recipient.value)
        if recipient is Recipient.SCHOOL and notice.school_laestab:
            words = f"school {notice.school_laestab}"
        to.append(words)
    return f"{subject} (to {', '.join(to)})"


async def build_timeline(
    events: Iterable[HistoryEvent], data_converter: DataConverter
) -> list[TimelineEntry]:
    """The timeline of a case from its history events (one run, or several runs in order)."""
    builder = _Builder(_Decoder(data_converter))
    for event in events:
        await builder.event(event)
    return builder.entries
