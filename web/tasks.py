"""My tasks, and the task forms: what a school's user, a CME officer or a team leader does on a
case, in GOV.UK pages that work on a phone (an officer on a home visit) and without JavaScript.

* ``GET /tasks``: the signed-in person's open tasks (:func:`reports.open_tasks`, as the API's
  ``GET /api/v1/tasks``): overdue first, then by due date; each links to its form. A success
  banner there says what the case recorded.
* ``GET /cases/{case_ref}/tasks/{task_id}``: the task's form(s). A task may offer several
  requests (:data:`ACTIONS`): the school's enquiries (record an enquiry, a home visit among them;
  report contact; raise a concern), the investigation (the LA's enquiry or home visit; contact;
  conclude; a concern), authorising deletion (authorise on a ground; confirm no sickness or
  unavoidable cause, which the absence grounds need), the CTF, the MASH call, the register
  codes. One form at a time (``?action=``), so that a page stays short on a phone.
* ``POST`` to the same address: the form's request, sent to the case with
  :func:`starter.case_client.send` (the :mod:`domain.case.commands` model, built from the form and
  checked before anything is sent: each problem in the error summary and at its field).

Who may do what is the case's to say (:mod:`domain.case.rules`): the request carries the
signed-in person as its actor (:func:`web.auth.actor_of`), never anything typed in the form, and
a refusal is shown in the case's words; a refused deletion lists every reason with the ground's
regulation. What the pages decide is what they show: a school's user sees only the school's
tasks on its own schools' cases, and any other task is a 404, the same as for no case (nothing
says another school's case exists); officers and team leaders see every case's tasks.

Idempotent: the form carries a key drawn when the page was rendered (a hidden field), and the
request id is derived from it, the request, the case and the account
(:func:`web.case_requests.form_request_id`): the same form sent twice, or again after "not
recorded", is applied once. Truthful: the banner says only what the case acknowledged; when the
case did not take the request in time, the page says nothing is recorded and offers to send the
same form again; when it took it but its answer did not arrive, it says so.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.responses import RedirectResponse, Response

from activities.register import CasePublic, TaskPublic, list_tasks
from domain.calendar import CalendarError, human_date
from domain.case import rules
from domain.case.commands import Request as CaseRequest
from domain.case.model import (
    Actor,
    CaseKind,
    CommandResult,
    InvestigationOutcome,
    Role,
    Stage,
    TaskName,
    TaskStatus,
)
from domain.clock import local_date
from domain.deletion import SessionCode
from domain.enquiries import (
    KIND_WORDS,
    LA_ENQUIRY_KINDS,
    OUTCOME_WORDS,
    SCHOOL_ENQUIRY_KINDS,
    EnquiryBy,
    EnquiryKind,
    EnquiryOutcome,
)
from domain.grounds import RULEBOOK_TITLES, UnknownGroundError, find_ground, ground_by_key
from domain.grounds import rulebook_for as _rulebook_for
from domain.types import CaseRef, error_message
from reports import open_tasks
from reports._words import OUTCOME, STAGE, TASK
from reports.case import readable_case
from starter import case_client
from starter.errors import (
    CaseClosed,
    CaseError,
    CaseRefused,
    CaseUnavailable,
    CliError,
    NoSuchCase,
    NotRecorded,
    RecordedNotAnswered,
)
from starter.words import investigation_words, stage_words
from web.auth import actor_of, form_data, require_role
from web.case_requests import PENDING_ID, RequestSpec, form_request_id, school_may_act, spec_of
from web.context import ServiceUnavailable, register_session, web_context
from web.date_input import DateField, read_date
from web.forms import FormErrors
from web.pages import flash, render
from web.sessions import SignedInUser

__all__ = ["ACTIONS", "router"]

log = logging.getLogger("cme.web.tasks")

router = APIRouter()

WORKERS = (Role.SCHOOL, Role.CME_OFFICER, Role.TEAM_LEADER)
Worker = Annotated[SignedInUser, Depends(require_role(*WORKERS))]
Db = Annotated[Session, Depends(register_session)]
Posted = Annotated[FormData, Depends(form_data)]

_CASE_REF: TypeAdapter[str] = TypeAdapter(CaseRef)
# The key drawn into a form (secrets.token_urlsafe(24)); anything else is not this app's form.
_FORM_KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
MAX_INPUT_LENGTH = 5000  # a form's text is cut here before the case's own limits check it


# -- finding the task ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    case: CasePublic
    task: TaskPublic

    @property
    def child_name(self) -> str:
        names = [n for n in (self.case.first_name, self.case.last_name) if n]
        return " ".join(names) if names else "(erased)"

    @property
    def kind(self) -> CaseKind:
        return CaseKind(self.case.kind)


def _no_task() -> HTTPException:
    """The same 404 for no case, another school's case and a task that is not the person's."""
    return HTTPException(404)


def _find(engine: Engine, actor: Actor, case_ref: str, task_id: int) -> Found:
    """The task ``task_id`` of the case's latest episode, if ``actor`` may see it (from the
    register: what the lists show)."""
    try:
        ref = _CASE_REF.validate_python(case_ref)
    except ValidationError:
        raise _no_task() from None
    with Session(engine) as db:
        readable = readable_case(session=db, viewer=actor, case_ref=ref)
        if readable is None:
            raise _no_task()
        row = readable.row
        task = next(
            (t for t in list_tasks(session=db, case=ref, episode=row.episode) if t.id == task_id),
            None,
        )
    # A school's user has the school's tasks; officers and team leaders act on any task of any
    # case (the case says what each may do).
    if task is None or (actor.role is Role.SCHOOL and task.assignee != Role.SCHOOL.value):
        raise _no_task()
    return Found(case=row, task=task)


# -- the forms -------------------------------------------------------------------------------------


@dataclass
class Context:
    """What a form is read against: the person, today, the case and its task."""

    actor: Actor
    today: date
    case: CasePublic
    found: Found | None = None  # None: a request on the case itself (web.leader)
    calendar: Any = None  # the school calendar, for the register codes' school days


@dataclass
class Read:
    """A form as read: the request's fields, and the problems found before the model's."""

    fields: dict[str, Any] = field(default_factory=dict)
    errors: FormErrors = field(default_factory=FormErrors)


@dataclass(frozen=True)
class Action:
    """One request a task's page offers: its form (the fields, in order, with their words) and
    what the case's answer means."""

    path: str  # the request's name (web.case_requests.REQUESTS)
    label: str  # the link to this form, and its heading
    button: str
    fields: tuple[str, ...]
    read: Callable[[Context, Mapping[str, str]], Read]
    done: Callable[[CommandResult, Any], str]
    nested: str | None = None  # the model field that holds the form's fields (an enquiry)

    @property
    def spec(self) -> RequestSpec:
        return spec_of(self.path)


# What each field is called in an error message, and whether it is a choice (radios): "Select the
# outcome", "Enter the concern", "The new school's LAESTAB must be ...".
FIELD_WORDS: dict[str, tuple[str, bool]] = {
    "kind": ("the kind of enquiry", True),
    "made_on": ("the date of the enquiry", False),
    "outcome": ("the outcome", True),
    "note": ("the note", False),
    "contact_on": ("the date of the contact", False),
    "returned_to_school": ("whether the child is back at school", True),
    "concern": ("the concern", False),
    "child_protection_plan": ("whether the child has a Child Protection Plan", True),
    "called_on": ("the date of the call", False),
    "mash_reference": ("the MASH reference", False),
    "advice": ("MASH's advice", False),
    "destination_code": ("the destination's code", False),
    "sent_on": ("the date the CTF was sent", False),
    "new_school_laestab": ("the new school's LAESTAB", False),
    "other_la": ("the local authority the child moved to", False),
    "other_la_email": ("the other local authority's email address", False),
    "ehe_letter_reference": ("the reference of the parent's letter", False),
    "ehe_letter_received_on": ("the date the letter was received", False),
    "ground": ("the ground", False),
    "decision_date": ("the decision date", False),
    "codes_from": ("the first school day", False),
    "codes_to": ("the last school day", False),
    "code": ("the register code", False),
    "codes": ("the register codes", False),
    "reason": ("the reason", False),
    "duplicate_of": ("the case it duplicates", False),
    "officer": ("the officer's name", False),
}
DATE_LABELS = {
    "made_on": "Date of the enquiry",
    "contact_on": "Date of the contact",
    "called_on": "Date of the call",
    "sent_on": "Date the CTF was sent",
    "ehe_letter_received_on": "Date the letter was received",
    "decision_date": "Decision date",
    "codes_from": "First school day",
    "codes_to": "Last school day",
}


def _field_words(name: str, message: str) -> str:
    """The model's message for a field, as the page says it (GOV.UK's words for a missing or
    unchosen answer; the model's own for its rules)."""
    words, choice = FIELD_WORDS.get(name, (name.replace("_", " "), False))
    message = message[:1].lower() + message[1:]  # FormErrors starts a message with a capital
    if message in ("this is required", "must not be empty") or (
        choice and message.startswith("input should be")
    ):
        return f"{'Select' if choice else 'Enter'} {words}"
    message = message.strip().rstrip(".")
    subject = words.removeprefix("the ")
    subject = subject[:1].upper() + subject[1:]
    if message.startswith(("must ", "is ")):
        return f"{subject} {message}"
    return f"{subject}: {message}"


def _text(values: Mapping[str, str], name: str) -> str:
    return " ".join(values.get(name, "").split())


def _note(values: Mapping[str, str], name: str) -> str:
    return values.get(name, "").strip()


def _given(fields: dict[str, Any], name: str, value: str) -> None:
    """A field typed: blank is left out (the model then says it is needed, or uses its
    default)."""
    if value:
        fields[name] = value


def _date(
    read: Read,
    values: Mapping[str, str],
    name: str,
    context: Context,
    *,
    into: dict[str, Any] | None = None,
    optional: bool = False,
    future: bool = False,
) -> None:
    typed: DateField = read_date(
        values, name, DATE_LABELS[name], latest=None if future else context.today
    )
    if optional and not typed.given:
        return
    if typed.value is None:
        read.errors.add(name, typed.error or "", id=typed.error_id)
        return
    (read.fields if into is None else into)[name] = typed.value


def _enquiry_by(actor: Actor) -> EnquiryBy:
    """A school's user records the school's enquiries; an officer the LA's (the case checks)."""
    return EnquiryBy.SCHOOL if actor.role is Role.SCHOOL else EnquiryBy.LA


def _read_enquiry(context: Context, values: Mapping[str, str]) -> Read:
    read = Read()
    enquiry: dict[str, Any] = {"by": _enquiry_by(context.actor)}
    _given(enquiry, "kind", values.get("kind", ""))
    _date(read, values, "made_on", context, into=enquiry)
    _given(enquiry, "outcome", values.get("outcome", ""))
    enquiry["note"] = _note(values, "note")
    read.fields["enquiry"] = enquiry
    return read


def _yes_no(values: Mapping[str, str], name: str) -> bool | None:
    return {"yes": True, "no": False}.get(values.get(name, ""))


def _read_contact(context: Context, values: Mapping[str, str]) -> Read:
    read = Read()
    _date(read, values, "contact_on", context)
    back = _yes_no(values, "returned_to_school")
    if back is None:
        read.errors.add(
            "returned_to_school", _field_words("returned_to_school", "this is required")
        )
    else:
        read.fields["returned_to_school"] = back
    read.fields["note"] = _note(values, "note")
    return read


def _read_concern(context: Context, values: Mapping[str, str]) -> Read:
    read = Read()
    read.fields["concern"] = _note(values, "concern")
    read.fields["child_protection_plan"] = values.get("child_protection_plan") == "yes"
    return read


def _read_mash_call(context: Context, values: Mapping[str, str]) -> Read:
    read = Read()
    _date(read, values, "called_on", context)
    _given(read.fields, "mash_reference", _text(values, "mash_reference"))
    read.fields["advice"] = _note(values, "advice")
    return read


def _read_ctf(context: Context, values: Mapping[str, str]) -> Read:
    read = Read()
    read.fields["destination_code"] = _text(values, "destination_code")
    _date(read, values, "sent_on", context)
    return read


def _read_conclude(context: Context, values: Mapping[str, str]) -> Read:
    read = Read()
    _given(read.fields, "outcome", values.get("outcome", ""))
    for name in ("new_school_laestab", "other_la", "other_la_email", "ehe_letter_reference"):
        _given(read.fields, name, _text(values, name))
    _date(read, values, "ehe_letter_received_on", context, optional=True)
    read.fields["note"] = _note(values, "note")
    return read


def _read_authorise(context: Context, values: Mapping[str, str]) -> Read:
    read = Read()
    read.fields["ground"] = _text(values, "ground")
    # Deletion is never backdated: a decision date may be later than today, never earlier.
    _date(read, values, "decision_date", context, optional=True, future=True)
    return read


def _read_no_sickness(context: Context, values: Mapping[str, str]) -> Read:
    read = Read()
    read.fields["note"] = _note(values, "note")
    return read


def _read_codes(context: Context, values: Mapping[str, str]) -> Read:
    """Every session (am and pm) of the school days from one date to another, with one code:
    what the 20-day ground needs on file (2024 reg 9(1)(i))."""
    read = Read()
    span: dict[str, date] = {}
    _date(read, values, "codes_from", context, into=span)
    _date(read, values, "codes_to", context, into=span)
    code = _text(values, "code").upper()
    if not code:
        read.errors.add("code", _field_words("code", "this is required"))
    if read.errors or len(span) < 2:
        return read
    first, last = span["codes_from"], span["codes_to"]
    if last < first:
        read.errors.add("codes_to", "The last school day must be on or after the first")
        return read
    school = context.case.school_laestab
    try:
        days = context.calendar.school_days(first, last, school) if context.calendar else []
    except CalendarError as exc:
        read.errors.add("codes_from", f"First school day: {exc}")
        return read
    if not days:
        read.errors.add(
            "codes_from", f"There is no school day from {human_date(first)} to {human_date(last)}"
        )
        return read
    try:
        read.fields["codes"] = [
            SessionCode(day=d, session=s, code=code) for d in days for s in ("am", "pm")
        ]
    except ValidationError as exc:
        read.errors.add("code", _field_words("code", error_message(exc.errors()[0])))
    return read


# -- what the case's answers mean ------------------------------------------------------------------


def _stage_now(result: CommandResult) -> str:
    if result.stage is Stage.CLOSED:
        return "The case is closed."
    return f"The case is now at stage {stage_words(result.stage)}."


def _done_enquiry(result: CommandResult, command: Any) -> str:
    enquiry = command.enquiry
    return (
        f"{KIND_WORDS[enquiry.kind][:1].upper()}{KIND_WORDS[enquiry.kind][1:]} on "
        f"{human_date(enquiry.made_on)} recorded ({OUTCOME_WORDS[enquiry.outcome]}): enquiry "
        f"{result.enquiry_id} of case {result.case}."
    )


def _done_contact(result: CommandResult, command: Any) -> str:
    return f"Contact on {human_date(command.contact_on)} recorded on case {result.case}. " + (
        _stage_now(result)
    )


def _done_concern(result: CommandResult, command: Any) -> str:
    due = (
        f" Phone MASH by the end of {human_date(result.mash_call_due)}."
        if result.mash_call_due
        else ""
    )
    return (
        f"Concern recorded on case {result.case}: MASH and the School Attendance Team are told."
        + due
    )


def _done_mash_call(result: CommandResult, command: Any) -> str:
    return f"Call to MASH on {human_date(command.called_on)} recorded on case {result.case}."


def _done_ctf(result: CommandResult, command: Any) -> str:
    timing = "on time" if result.ctf_on_time else "late"
    return (
        f"CTF to {result.destination_code} sent on {human_date(command.sent_on)} ({timing}) "
        f"recorded on case {result.case}. " + _stage_now(result)
    )


def _done_conclude(result: CommandResult, command: Any) -> str:
    return (
        f"Investigation of case {result.case} concluded: "
        f"{investigation_words(command.outcome)}. " + _stage_now(result)
    )


def _done_authorise(result: CommandResult, command: Any) -> str:
    outcome = result.outcome
    if outcome is None or outcome.earliest_deletion_date is None:
        return f"Deletion authorised on case {result.case}. " + _stage_now(result)
    return (
        f"Deletion authorised on case {result.case} on ground {outcome.ground} "
        f"({outcome.ground_title}): the pupil may be deleted from "
        f"{human_date(outcome.earliest_deletion_date)}. " + _stage_now(result)
    )


def _done_no_sickness(result: CommandResult, command: Any) -> str:
    return (
        f"Recorded on case {result.case}: there are no reasonable grounds to believe the pupil "
        "cannot attend because of sickness or an unavoidable cause."
    )


def _done_codes(result: CommandResult, command: Any) -> str:
    missing = result.sessions_missing
    still = (
        f" {missing} session{'s' if missing != 1 else ''} of the absence still need a code."
        if missing
        else ""
    )
    return f"{len(command.codes)} register codes recorded on case {result.case}.{still}"


ENQUIRY = Action(
    "enquiry",
    "Record an enquiry or a home visit",
    "Record the enquiry",
    ("kind", "made_on", "outcome", "note"),
    _read_enquiry,
    _done_enquiry,
    nested="enquiry",
)
CONTACT = Action(
    "contact",
    "Report contact with the family",
    "Report the contact",
    ("contact_on", "returned_to_school", "note"),
    _read_contact,
    _done_contact,
)
CONCERN = Action(
    "concern",
    "Raise a safeguarding concern",
    "Raise the concern",
    ("concern", "child_protection_plan"),
    _read_concern,
    _done_concern,
)
MASH_CALL = Action(
    "mash-call",
    "Record the call to MASH",
    "Record the call",
    ("called_on", "mash_reference", "advice"),
    _read_mash_call,
    _done_mash_call,
)
CTF = Action(
    "ctf",
    "Confirm the Common Transfer File was sent",
    "Confirm the CTF",
    ("destination_code", "sent_on"),
    _read_ctf,
    _done_ctf,
)
CONCLUDE = Action(
    "conclude",
    "Conclude the investigation",
    "Conclude the investigation",
    (
        "outcome",
        "new_school_laestab",
        "other_la",
        "other_la_email",
        "ehe_letter_reference",
        "ehe_letter_received_on",
        "note",
    ),
    _read_conclude,
    _done_conclude,
)
AUTHORISE = Action(
    "authorise",
    "Authorise deletion",
    "Authorise deletion",
    ("ground", "decision_date"),
    _read_authorise,
    _done_authorise,
)
NO_SICKNESS = Action(
    "confirm-no-sickness",
    "Confirm no sickness or unavoidable cause",
    "Confirm",
    ("note",),
    _read_no_sickness,
    _done_no_sickness,
)
CODES = Action(
    "codes",
    "Record the register codes",
    "Record the codes",
    ("codes_from", "codes_to", "code"),
    _read_codes,
    _done_codes,
)

# The requests each task's page offers, the task's own first.
ACTIONS: dict[TaskName, tuple[Action, ...]] = {
    TaskName.SCHOOL_ENQUIRIES: (ENQUIRY, CONTACT, CONCERN),
    TaskName.CONFIRM_REGISTER_CODES: (CODES,),
    TaskName.PHONE_MASH: (MASH_CALL,),
    TaskName.INVESTIGATE: (ENQUIRY, CONCLUDE, CONTACT, CONCERN),
    TaskName.AUTHORISE_DELETION: (AUTHORISE, NO_SICKNESS),
    TaskName.SEND_CTF: (CTF,),
}


def _actions(found: Found) -> tuple[Action, ...]:
    actions = ACTIONS.get(TaskName(found.task.name), ())
    if found.kind is not CaseKind.DESTINATION_NOT_VERIFIED:
        # Contact is reported on a missing pupil's case (rules: "conclude this case instead").
        actions = tuple(a for a in actions if a is not CONTACT)
    return actions


def _action(found: Found, path: str | None) -> Action:
    actions = _actions(found)
    if not actions:
        raise _no_task()
    if not path:
        return actions[0]
    chosen = next((a for a in actions if a.path == path), None)
    if chosen is None:
        raise _no_task()
    return chosen


def _build(action: Action, context: Context, values: Mapping[str, str], request_id: str) -> Any:
    """The request the form makes, or :class:`FormErrors` in the model's words."""
    read = action.read(context, values)
    command: CaseRequest | None = None
    model_errors = FormErrors()
    try:
        command = action.spec.command(by=context.actor, request_id=request_id, **read.fields)
    except ValidationError as exc:
        names = (
            {f"{action.nested}.{name}": name for name in action.fields} if action.nested else None
        )
        model_errors = FormErrors.from_validation(exc, names=names)
    if not read.errors and not model_errors:
        return command
    errors = FormErrors()
    for name in action.fields:
        if name in read.errors:
            errors.add(name, read.errors.messages[name], id=read.errors.ids.get(name))
        elif name in model_errors:
            errors.add(name, _field_words(name, model_errors.messages[name]), id=_id(action, name))
    for name, message in {**read.errors.messages, **model_errors.messages}.items():
        if name not in errors:
            errors.add(name, message, id=_id(action, name))
    return errors


def _id(action: Action, name: str) -> str:
    """Where the summary's link for ``name`` goes: its input (a date's day box)."""
    if name in DATE_LABELS:
        return f"{name}-day"
    return name if name in action.fields else action.fields[0]


# -- the pages -------------------------------------------------------------------------------------


@router.get("/tasks")
def my_tasks(request: Request, user: Worker, db: Db) -> Response:
    items = open_tasks(session=db, viewer=actor_of(user))
    return render(
        request,
        "tasks/list.html",
        {
            "title": "My tasks",
            "items": items,
            "overdue": sum(1 for t in items if t.overdue),
            "role": user.role.value,
        },
    )


class RefusalErrors(FormErrors):
    """The error summary of a refused request: the case's words, every reason a link to the
    field it is about."""

    description: str | None = None


def _refusal_errors(action: Action, reason: str) -> RefusalErrors:
    errors = RefusalErrors()
    deletion = rules.deletion_refusal(reason)
    if deletion is not None:
        try:
            ground = find_ground(deletion.ground)
            regulations = f" of {RULEBOOK_TITLES[ground.rulebook]}"
        except UnknownGroundError:
            regulations = ""
        errors.description = (
            f"The case refused: deletion on ground {deletion.ground}{regulations} is not "
            f"permitted on {deletion.on}, because:"
        )
        for i, why in enumerate(deletion.reasons, 1):
            errors.add(f"reason-{i}", why[:1].upper() + why[1:], id=_id(action, "ground"))
        return errors
    errors.description = "The case refused this request:"
    name, sep, rest = reason.partition(": ")
    if sep and name in action.fields:
        errors.add(name, _field_words(name, rest), id=_id(action, name))
    else:
        errors.add("refused", reason[:1].upper() + reason[1:], id=_id(action, action.fields[0]))
    return errors


def _defaults(action: Action, context: Context, suggested: FromCase) -> dict[str, str]:
    """A new form: today's date in the date boxes it asks for, what the case suggests."""
    values: dict[str, str] = {}
    today = context.today
    for name in action.fields:
        if name in ("made_on", "contact_on", "called_on", "sent_on"):
            values.update(
                {f"{name}-day": str(today.day), f"{name}-month": str(today.month)}
                | {f"{name}-year": str(today.year)}
            )
    if action is AUTHORISE and suggested.ground:
        values["ground"] = suggested.ground[0]
    if action is CTF and suggested.destination_code:
        values["destination_code"] = suggested.destination_code
    return values


@dataclass(frozen=True)
class FromCase:
    """What the case itself suggests for a form: the ground its outcome points to (code, title),
    the CTF's destination."""

    ground: tuple[str, str] | None = None
    destination_code: str | None = None


async def _from_case(request: Request, found: Found, today: date) -> FromCase:
    """Asked of the case (the authority on both); nothing when it does not answer now."""
    web = web_context(request)
    try:
        client = await web.temporal.client()
        state = await case_client.case_state(client, found.case.case_ref, web.settings)
    except (CliError, ServiceUnavailable):
        return FromCase()
    key = rules.expected_ground_key(state)
    ground = ground_by_key(key, _rulebook_for(today)) if key is not None else None
    return FromCase(
        ground=(ground.code, ground.title) if ground is not None else None,
        destination_code=rules.ctf_destination_of(state),
    )


def _context(request: Request, user: SignedInUser, found: Found) -> Context:
    web = web_context(request)
    return Context(
        actor=actor_of(user), today=local_date(web.clock()), case=found.case, found=found
    )


def _page(
    request: Request,
    context: Context,
    action: Action,
    values: Mapping[str, str],
    form_key: str,
    *,
    errors: FormErrors | None = None,
    not_recorded: str | None = None,
    expected_ground: tuple[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    found = context.found
    assert found is not None  # a task's page
    base = f"/cases/{found.case.case_ref}/tasks/{found.task.id}"
    dates: dict[str, DateField] = {}
    for name in (n for n in action.fields if n in DATE_LABELS):
        typed = read_date(values, name, DATE_LABELS[name])
        if errors is None or name not in errors:
            typed.error_parts = ()  # red boxes only beside the error that names them
        dates[name] = typed
    by = _enquiry_by(context.actor)
    kinds = SCHOOL_ENQUIRY_KINDS if by is EnquiryBy.SCHOOL else LA_ENQUIRY_KINDS
    outcomes = (
        rules.NOT_ON_ROLL_OUTCOMES
        if found.kind is CaseKind.NOT_ON_ROLL
        else rules.NOT_VERIFIED_OUTCOMES
    )
    return render(
        request,
        "tasks/task.html",
        {
            "title": action.label,
            "found": found,
            "task_label": TASK.get(found.task.name, found.task.name),
            "stage_label": STAGE.get(found.case.stage, found.case.stage),
            "action": action,
            "actions": [
                {"label": a.label, "href": f"{base}?action={a.path}", "current": a is action}
                for a in _actions(found)
            ],
            "post_to": base,
            "values": values,
            "dates": dates,
            "form_key": form_key,
            "errors": errors or None,
            "not_recorded": not_recorded,
            "enquiry_by": by.value,
            "kinds": [(k.value, KIND_WORDS[k]) for k in EnquiryKind if k in kinds],
            "enquiry_outcomes": [(o.value, OUTCOME_WORDS[o]) for o in EnquiryOutcome],
            "outcomes": [
                (o.value, OUTCOME[o.value]) for o in InvestigationOutcome if o in outcomes
            ],
            "expected_ground": expected_ground,
        },
        status_code=status_code,
    )


@router.get("/cases/{case_ref}/tasks/{task_id}")
async def task_page(
    request: Request, case_ref: str, task_id: int, user: Worker, action: str | None = None
) -> Response:
    web = web_context(request)
    found = await run_in_threadpool(_find, web.engine, actor_of(user), case_ref, task_id)
    if found.task.status != TaskStatus.OPEN.value:
        raise _no_task()  # done or cancelled: nothing more to do on it
    chosen = _action(found, action)
    context = _context(request, user, found)
    suggested = (
        await _from_case(request, found, context.today)
        if chosen in (AUTHORISE, CTF)
        else FromCase()
    )
    return _page(
        request,
        context,
        chosen,
        _defaults(chosen, context, suggested),
        secrets.token_urlsafe(24),
        expected_ground=suggested.ground,
    )


def _typed(posted: FormData) -> dict[str, str]:
    return {
        name: value[:MAX_INPUT_LENGTH]
        for name, value in posted.multi_items()
        if isinstance(value, str) and name not in ("csrf_token",)
    }


@router.post("/cases/{case_ref}/tasks/{task_id}")
async def task_submit(
    request: Request, case_ref: str, task_id: int, user: Worker, posted: Posted
) -> Response:
    web = web_context(request)
    actor = actor_of(user)
    # A task done since the form was drawn is still found: the same form sent again gets the
    # case's first answer, and any other request the case's own answer.
    found = await run_in_threadpool(_find, web.engine, actor, case_ref, task_id)
    values = _typed(posted)
    action = _action(found, values.get("action"))
    form_key = values.get("form_key", "")
    if not _FORM_KEY.fullmatch(form_key):
        raise HTTPException(400)
    context = _context(request, user, found)
    if action is CODES:
        try:
            context.calendar = web.settings.calendar
        except (CalendarError, OSError) as exc:
            log.error("the school calendar cannot be loaded: %s", exc)
            context.calendar = None
    return await send_form(
        request,
        user,
        action,
        context,
        values,
        form_key,
        again=lambda status_code, **more: _page(
            request, context, action, values, form_key, status_code=status_code, **more
        ),
        done_to="/tasks",
        not_found=_no_task,
    )


async def send_form(
    request: Request,
    user: SignedInUser,
    action: Action,
    context: Context,
    values: Mapping[str, str],
    form_key: str,
    *,
    again: Callable[..., Response],
    done_to: str,
    not_found: Callable[[], HTTPException],
) -> Response:
    """Send a form's request to the case and answer truthfully: the form again with its errors
    (400), the case's refusal (409) or "not recorded" (503); else the case's answer in a banner
    on ``done_to``. Shared by the task pages and the case's own requests (:mod:`web.leader`)."""
    web = web_context(request)
    actor = context.actor
    ref = context.case.case_ref
    request_id = form_request_id(
        action.path, ref, user.id, form_key, secret=web.settings.case_key_secret.get_secret_value()
    )
    built = _build(action, context, values, request_id)
    if isinstance(built, FormErrors):
        return again(400, errors=built)
    command: CaseRequest = built
    assert command.request_id != PENDING_ID
    client = await web.temporal.client()
    try:
        if not await school_may_act(client, web.settings, actor, ref):
            raise not_found()
        result = await case_client.send(client, web.settings, ref, action.spec.update, command)
    except RecordedNotAnswered as exc:
        log.warning("request %s on %s recorded, its answer did not arrive", request_id, ref)
        flash(request, exc.reason)
        return RedirectResponse(done_to, 303)
    except (NotRecorded, CaseUnavailable) as exc:
        log.warning("request %s on %s not recorded: %s", request_id, ref, type(exc).__name__)
        return again(503, not_recorded=exc.reason)
    except NoSuchCase:
        raise not_found() from None
    except (CaseRefused, CaseClosed) as exc:
        return again(409, errors=_refusal_errors(action, exc.reason))
    except CaseError as exc:
        log.error("request %s on %s failed: %s", request_id, ref, exc.message)
        return again(500, not_recorded=exc.reason)
    words = action.done(result, command)
    if result.duplicate_request:
        words = "This form was already sent, and the case recorded it once: " + words
    log.info("request %s on %s: %s", request_id, ref, action.path)
    flash(request, words)
    return RedirectResponse(done_to, 303)
