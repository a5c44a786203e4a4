"""One `cme` command per human task on a case; each sends the case its request.

    cme enquiry CASE --kind phone_primary --outcome no_contact --by "Ms A"     (school)
    cme enquiry CASE --kind partner --outcome information --by-la --by "Officer X"
    cme contact CASE --on 2026-03-02 [--not-returned] --by "Ms A"
    cme concern CASE "Neighbour reports the family left at night" [--cp-plan] --by "Ms A"
    cme share CASE "Sibling seen at another school" [--code 2026-03-02=N] --by "Ms A"
    cme mash-call CASE --on 2026-03-02 --reference M-123 --by "Ms A"
    cme ctf CASE 8512001 --sent-on 2026-03-02 --by "Ms A"
    cme conclude CASE not_located --by "Officer X"                          (CME officer)
    cme authorise CASE "9(1)(i)" --by "Officer X"                           (CME officer)
    cme withdraw CASE "duplicate referral" --duplicate-of CME-… --by "Lead Y" (team leader)
    cme reassign CASE "Officer Z" --by "Lead Y"                             (team leader)
    cme retry CASE --by "Officer X"                                         (CME officer)
    cme codes CASE 2026-03-02=N 2026-03-03:am=N ... --by "Ms A"             (school)
    cme confirm-no-sickness CASE --by "Officer X"                           (CME officer)
    cme consent CASE --consented-by "LA officer" --on 2026-03-02 --by "Officer X"
    cme facts CASE --la-arranged-special-school yes --by "Officer X"        (CME officer)

The last four record what the law needs before some deletions (docs/law.md): every session's
register code for the 20-day ground (2024 reg 9(1)(i)), the officer's confirmation that no
sickness or unavoidable cause keeps the child away (both absence grounds), the placing LA's
consent (or a Secretary of State direction) for a pupil at a special school under LA
arrangements (2006 reg 8(2), 2024 reg 9(4)), and facts such as a school attendance order naming
the school, a mobile child or a custodial order (2024 reg 9(1)(a), (c), (f), (j)).

Every command needs ``--by NAME`` (who is doing it) and takes ``--as ROLE`` (school, cme_officer,
team_leader; the default is the role the task is usually for, shown above). A school's user acts
for named schools: ``--school LAESTAB`` (repeatable), by default the case's own school (its
``CmeSchool`` search attribute). The case refuses what the actor may not do (another school's
case, a school authorising, an officer withdrawing: :mod:`domain.case.rules`); the CLI is the
operator's tool, trusted to say who is acting. Dates default to
today (England). Each request is a :mod:`domain.case.commands` model: a bad value exits 2 with
one line naming the option, before anything is sent.

Idempotent: every request carries a request id, ``--request-id ID`` or, by default, one derived
from the command, the case and the request's content (``starter.cases.request_id_for``). The same
command run twice is applied once; the second run prints ``CASE: already recorded (same request
ID): not applied again; the first answer follows`` and the first answer. To record an identical
request a second time (two identical enquiries on one day), give it a new ``--request-id``.

Truthful: the command waits (30 s) for the case to accept the request. A case that does not
(no worker running) has recorded nothing yet: the command says so, and that running the same
command again is safe, and exits 75. A refused request prints the case's reason as ``cme:
error: rejected: ...``, exits 1 and leaves no trace on the case. See :mod:`starter.case_client`.

``--json`` prints the case's answer (:class:`~domain.case.model.CommandResult`: ``case``,
``episode``, ``stage``, ``duplicate_request`` and the fields of the command's answer, e.g.
``enquiry_id``) with the ``request_id`` it was sent with.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from temporalio.workflow import UpdateMethodMultiParam

from domain.calendar import human_date
from domain.case.commands import (
    AuthoriseDeletion,
    ConcludeInvestigation,
    ConfirmCtf,
    ConfirmNoSicknessGrounds,
    ConfirmRegisterCodes,
    RaiseConcern,
    Reassign,
    RecordConsent,
    RecordDeletionFacts,
    RecordEnquiry,
    RecordMashCall,
    ReportContact,
    Request,
    RetryProblems,
    ShareInformation,
    Withdraw,
)
from domain.case.model import Actor, CommandResult, InvestigationOutcome, Role, Stage
from domain.deletion import ConsentKind, CustodialOrder, SessionCode
from domain.enquiries import BY_WORDS, Enquiry, EnquiryBy, EnquiryKind, EnquiryOutcome
from domain.types import error_message, printable
from settings import Settings
from starter.args import (
    add_json,
    case_arg,
    date_arg,
    email_arg,
    laestab_arg,
    name_arg,
    note_arg,
    one_line_errors,
    print_json,
    reference_arg,
    short_text_arg,
    text_arg,
    today,
)
from starter.case_client import send, state_if_answering
from starter.cases import request_id_for
from starter.connect import connect
from starter.errors import CliError
from starter.output import emit
from starter.words import investigation_words, outcome_words, stage_words
from workflows.case import CmeCase

R = TypeVar("R", bound=BaseModel)

TASK_ROLES = (Role.SCHOOL, Role.CME_OFFICER, Role.TEAM_LEADER)
# A stand-in id while a request is checked, before its own id is derived from its content.
_PENDING_ID = "request-id-pending"

# Which option or argument a model field came from, for one-line input errors.
_OPTION_OF = {
    "name": "--by",
    "request_id": "--request-id",
    "officer": "OFFICER",
    "reason": "REASON",
    "concern": "TEXT",
    "information": "TEXT",
    "note": "--note",
    "advice": "--advice",
    "made_on": "--on",
    "contact_on": "--on",
    "called_on": "--on",
    "sent_on": "--sent-on",
    "mash_reference": "--reference",
    "new_school_laestab": "--new-school",
    "other_la": "--other-la",
    "other_la_email": "--other-la-email",
    "ehe_letter_reference": "--ehe-letter",
    "ehe_letter_received_on": "--ehe-letter-received",
    "decision_date": "--decision-date",
    "duplicate_of": "--duplicate-of",
    "attendance_codes": "--code",
    "codes": "CODES",
    "consented_by": "--consented-by",
    "consented_on": "--on",
    "reference": "--reference",
    "destination_code": "CODE",
    "ground": "GROUND",
}


def _session_codes(text: str) -> list[SessionCode]:
    """``2026-03-02=N`` (both sessions) or ``2026-03-02:am=N``."""
    match = re.fullmatch(r"\s*([0-9-]+)(?::(am|pm))?\s*=\s*(\S{1,2})\s*", text)
    if match is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an attendance code: use DATE=CODE or DATE:am=CODE, e.g. 2026-03-02=N"
        )
    day = date_arg(match.group(1))
    sessions = [match.group(2)] if match.group(2) else ["am", "pm"]
    try:
        return [SessionCode(day=day, session=s, code=match.group(3).upper()) for s in sessions]
    except ValidationError as exc:
        raise argparse.ArgumentTypeError(
            f"{printable(match.group(3))} is not an attendance code of the register: "
            + error_message(exc.errors()[0])
        ) from None


def _yes_no(text: str) -> bool:
    value = text.strip().lower()
    if value in ("yes", "y", "true"):
        return True
    if value in ("no", "n", "false"):
        return False
    raise argparse.ArgumentTypeError(f"{text!r} is not yes or no")


def _text(text: str) -> str:
    return " ".join(text.split())


# -- building the commands ---------------------------------------------------------------------


def _task(
    subparsers: Any,
    name: str,
    *,
    help: str,
    role: Role | None,
    handler: Callable[[argparse.Namespace, Settings], Any],
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = one_line_errors(
        subparsers.add_parser(name, help=help, description=help[0].upper() + help[1:] + ".")
    )
    parser.add_argument("case", type=case_arg, metavar="CASE", help="case reference, CME-…")
    parser.add_argument(
        "--by", required=True, type=name_arg, metavar="NAME", help="who is doing it"
    )
    default = f" (default {role.value})" if role else " (default school; cme_officer with --by-la)"
    parser.add_argument(
        "--as",
        dest="role",
        choices=[r.value for r in TASK_ROLES],
        default=role.value if role else None,
        help=f"in which role{default}",
    )
    parser.add_argument(
        "--school",
        dest="schools",
        action="append",
        type=laestab_arg,
        metavar="LAESTAB",
        help="as a school user: a school you act for (repeatable; default: the case's school)",
    )
    parser.add_argument(
        "--request-id",
        metavar="ID",
        help="the request's idempotency key (default: derived from the command and its "
        "content): the same id again is the same request, applied once",
    )
    add_json(parser)
    parser.set_defaults(handler=handler, command_name=name)
    return parser


def register(subparsers: Any) -> None:
    p = _task(
        subparsers,
        "enquiry",
        help="record an enquiry into the child's whereabouts and its outcome",
        role=None,
        handler=enquiry,
    )
    p.add_argument(
        "--kind",
        required=True,
        choices=[k.value for k in EnquiryKind],
        help="the school's: phone_primary, phone_other, letter, home_visit; the LA's: home_visit, "
        "siblings_school, partner, other_la, sensitive, school_place_offer",
    )
    p.add_argument(
        "--outcome",
        required=True,
        choices=[o.value for o in EnquiryOutcome],
        help="what came of it",
    )
    p.add_argument("--on", type=date_arg, metavar="DATE", help="when it was made (default today)")
    p.add_argument("--note", type=note_arg, default="", help="what happened, briefly")
    p.add_argument(
        "--by-la",
        action="store_true",
        help="an LA enquiry by the CME officer (default role then cme_officer); else the school's",
    )

    p = _task(
        subparsers,
        "contact",
        help="report contact with the family; closes the case if the child is back at school",
        role=Role.SCHOOL,
        handler=contact,
    )
    p.add_argument("--on", type=date_arg, metavar="DATE", help="when (default today)")
    p.add_argument(
        "--not-returned", action="store_true", help="contact made, but the child is not back"
    )
    p.add_argument("--note", type=note_arg, default="")

    p = _task(
        subparsers,
        "concern",
        help="raise a safeguarding concern: MASH and SAT are told at once",
        role=Role.SCHOOL,
        handler=concern,
    )
    p.add_argument("text", type=text_arg, metavar="TEXT", help="the concern")
    p.add_argument("--cp-plan", action="store_true", help="the child has a Child Protection Plan")

    p = _task(
        subparsers,
        "share",
        help="share new information on the case (SAT is told once it investigates)",
        role=Role.SCHOOL,
        handler=share,
    )
    p.add_argument("text", type=text_arg, metavar="TEXT", help="the information")
    p.add_argument(
        "--code",
        dest="codes",
        type=_session_codes,
        action="append",
        default=[],
        metavar="DATE[:am|pm]=CODE",
        help="an attendance code recorded for the child (repeatable), e.g. 2026-03-02=N",
    )

    p = _task(
        subparsers,
        "mash-call",
        help="record the phone call to MASH (due by the next school day after an escalation)",
        role=Role.SCHOOL,
        handler=mash_call,
    )
    p.add_argument("--on", type=date_arg, metavar="DATE", help="when (default today)")
    p.add_argument("--reference", type=reference_arg, metavar="R", help="MASH's reference")
    p.add_argument("--advice", type=note_arg, default="", help="MASH's advice")

    p = _task(
        subparsers,
        "ctf",
        help="confirm the Common Transfer File was sent",
        role=Role.SCHOOL,
        handler=ctf,
    )
    p.add_argument("code", metavar="CODE", help="CTF destination: LAESTAB, XXXXXXX, MMMMMMM, …")
    p.add_argument("--sent-on", type=date_arg, metavar="DATE", help="when (default today)")

    p = _task(
        subparsers,
        "conclude",
        help="conclude the LA's investigation with its outcome",
        role=Role.CME_OFFICER,
        handler=conclude,
    )
    p.add_argument("outcome", choices=[o.value for o in InvestigationOutcome], metavar="OUTCOME")
    p.add_argument("--new-school", type=laestab_arg, metavar="LAESTAB")
    p.add_argument(
        "--other-la", type=short_text_arg, metavar="NAME", help="the LA the child moved to"
    )
    p.add_argument(
        "--other-la-email", type=email_arg, metavar="E", help="tell the other LA at this address"
    )
    p.add_argument(
        "--ehe-letter", type=reference_arg, metavar="REF", help="the parent's EHE letter reference"
    )
    p.add_argument("--ehe-letter-received", type=date_arg, metavar="DATE")
    p.add_argument("--note", type=note_arg, default="")

    p = _task(
        subparsers,
        "authorise",
        help="authorise deletion from the admission register on a ground",
        role=Role.CME_OFFICER,
        handler=authorise,
    )
    p.add_argument("ground", metavar="GROUND", help="e.g. 9(1)(i) (2024 rules) or 8(1)(h)")
    p.add_argument(
        "--decision-date", type=date_arg, metavar="DATE", help="default today; never in the past"
    )

    p = _task(
        subparsers,
        "withdraw",
        help="withdraw a case (e.g. a duplicate): it closes with no deletion",
        role=Role.TEAM_LEADER,
        handler=withdraw,
    )
    p.add_argument("reason", type=text_arg, metavar="REASON")
    p.add_argument("--duplicate-of", type=case_arg, metavar="CASE")

    p = _task(
        subparsers,
        "reassign",
        help="assign the case to a CME officer",
        role=Role.TEAM_LEADER,
        handler=reassign,
    )
    p.add_argument("officer", type=name_arg, metavar="OFFICER")

    p = _task(
        subparsers,
        "codes",
        help="record the register codes of the child's absent sessions (the 20-day ground needs "
        "every session of the 20 school days coded G, N or O)",
        role=Role.SCHOOL,
        handler=codes,
    )
    p.add_argument(
        "codes",
        type=_session_codes,
        nargs="+",
        metavar="DATE[:am|pm]=CODE",
        help="e.g. 2026-03-02=N (both sessions) or 2026-03-02:pm=G",
    )

    p = _task(
        subparsers,
        "confirm-no-sickness",
        help="confirm there are no reasonable grounds to believe the child cannot attend because "
        "of sickness or an unavoidable cause (needed for the absence grounds)",
        role=Role.CME_OFFICER,
        handler=confirm_no_sickness,
    )
    p.add_argument("--note", type=note_arg, default="", help="what the confirmation rests on")

    p = _task(
        subparsers,
        "consent",
        help="record the consent of the LA that placed the pupil at a special school (or a "
        "Secretary of State direction)",
        role=Role.CME_OFFICER,
        handler=consent,
    )
    p.add_argument("--consented-by", required=True, type=name_arg, metavar="NAME")
    p.add_argument("--on", type=date_arg, metavar="DATE", help="when (default today)")
    p.add_argument(
        "--direction",
        action="store_true",
        help="a direction of the Secretary of State, not the LA's consent",
    )
    p.add_argument("--reference", type=note_arg, default="", help="the consent's reference")

    p = _task(
        subparsers,
        "facts",
        help="record facts that bear on deletion (each yes or no; what is left out is unchanged)",
        role=Role.CME_OFFICER,
        handler=deletion_facts,
    )
    for flag, what in (
        ("la-arranged-special-school", "registered at a special school under LA arrangements"),
        (
            "la-arranged-independent-special-school",
            "at an independent special school under LA arrangements (s.37 switch)",
        ),
        ("attendance-order-names-school", "a school attendance order names this school"),
        ("mobile-child-main-school", "a mobile child whose main school this is"),
        ("s47-enquiries", "subject to s.47 Children Act 1989 enquiries (s.37 switch)"),
        ("s47-action", "action under s.47(8) Children Act 1989 (s.37 switch)"),
    ):
        p.add_argument(f"--{flag}", type=_yes_no, metavar="yes|no", help=what)
    p.add_argument(
        "--custodial-order",
        choices=[c.value for c in CustodialOrder],
        help="why the pupil is detained: a final order or recall is the custodial ground",
    )

    _task(
        subparsers,
        "retry",
        help="retry what failed on a case (an email, the register, the calendar) once its cause "
        "is fixed; each problem clears when its retry succeeds",
        role=Role.CME_OFFICER,
        handler=retry,
    )


# -- sending -----------------------------------------------------------------------------------


def _build(model: type[R], **fields: Any) -> R:
    """A model of the request, or one line naming the bad argument (exit 2)."""
    try:
        return model(**fields)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = [str(p) for p in error["loc"]]
        where = next(
            (_OPTION_OF[p] for p in reversed(loc) if p in _OPTION_OF), ".".join(loc) or "input"
        )
        raise CliError(f"{where}: {error['msg']}", exit_code=2) from None


def _actor(args: argparse.Namespace, default: Role | None = None) -> Actor:
    role = Role(args.role or (default.value if default else Role.SCHOOL.value))
    schools = tuple(dict.fromkeys(args.schools or ())) if role is Role.SCHOOL else ()
    return _build(Actor, name=_text(args.by), role=role, schools=schools)


def request(
    args: argparse.Namespace, settings: Settings, model: type[R], *context: str, **fields: Any
) -> R:
    """The request ``model`` for this command: its fields checked, and its request id
    ``--request-id`` or derived from the command, the case, the request's content (and
    ``context``, what else makes it this request), keyed with the service's secret."""
    given = args.request_id.strip() if args.request_id is not None else None
    command = _build(model, request_id=given or _PENDING_ID, **fields)
    if given is None:
        content = command.model_dump_json(exclude={"request_id"})
        derived = request_id_for(
            args.command_name,
            args.case,
            content,
            *context,
            secret=settings.case_key_secret.get_secret_value(),
        )
        command = command.model_copy(update={"request_id": derived})
    return command


async def _send(
    args: argparse.Namespace,
    settings: Settings,
    update: UpdateMethodMultiParam[[CmeCase, Any], CommandResult],
    command: Request,
) -> CommandResult:
    client = await connect(settings)
    return await send(client, settings, args.case, update, command)


def _done(args: argparse.Namespace, command: Request, reply: CommandResult, *lines: str) -> int:
    if args.json:
        print_json({**reply.model_dump(mode="json"), "request_id": command.request_id})
        return 0
    if reply.duplicate_request:
        lines = (
            f"{reply.case}: already recorded (same request {command.request_id}): not applied "
            "again; the first answer follows",
            *lines,
        )
    emit(lines)
    return 0


def _plural(n: int | None, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


async def enquiry(args: argparse.Namespace, settings: Settings) -> int:
    by = _actor(args, Role.CME_OFFICER if args.by_la else Role.SCHOOL)
    made = _build(
        Enquiry,
        by=EnquiryBy.LA if args.by_la else EnquiryBy.SCHOOL,
        kind=EnquiryKind(args.kind),
        made_on=args.on or today(),
        outcome=EnquiryOutcome(args.outcome),
        note=_text(args.note),
    )
    command = request(args, settings, RecordEnquiry, by=by, enquiry=made)
    reply = await _send(args, settings, CmeCase.record_enquiry, command)
    return _done(
        args,
        command,
        reply,
        f"{reply.case}: enquiry {reply.enquiry_id} recorded ({BY_WORDS[made.by]}: {made.words}, "
        f"on {human_date(made.made_on)}); "
        f"{_plural(reply.enquiries_recorded, 'enquiry', 'enquiries')} on the case",
    )


async def contact(args: argparse.Namespace, settings: Settings) -> int:
    command = request(
        args,
        settings,
        ReportContact,
        by=_actor(args),
        contact_on=args.on or today(),
        returned_to_school=not args.not_returned,
        note=_text(args.note),
    )
    reply = await _send(args, settings, CmeCase.report_contact, command)
    if reply.stage is Stage.CLOSED:
        line = "the child is back at school: case closed, the school is told in writing"
    else:
        line = f"the child is not back at school; stage {stage_words(reply.stage)}"
    return _done(args, command, reply, f"{reply.case}: contact recorded; {line}")


async def concern(args: argparse.Namespace, settings: Settings) -> int:
    command = request(
        args,
        settings,
        RaiseConcern,
        by=_actor(args),
        concern=args.text.strip(),
        child_protection_plan=args.cp_plan,
    )
    reply = await _send(args, settings, CmeCase.raise_concern, command)
    due = (
        f"MASH must be phoned by the end of {human_date(reply.mash_call_due)} "
        f"(cme mash-call {reply.case})"
        if reply.mash_call_due
        else "the MASH call's due date is past the school calendar: see cme show"
    )
    return _done(
        args,
        command,
        reply,
        f"{reply.case}: concern raised (escalation {reply.escalation_id}): MASH and SAT are "
        "told by email",
        due,
    )


async def share(args: argparse.Namespace, settings: Settings) -> int:
    codes = [code for group in args.codes for code in group]
    command = request(
        args,
        settings,
        ShareInformation,
        by=_actor(args),
        information=args.text.strip(),
        attendance_codes=codes,
    )
    reply = await _send(args, settings, CmeCase.share_information, command)
    extra = f" with {len(codes)} attendance codes" if codes else ""
    return _done(
        args, command, reply, f"{reply.case}: information {reply.information_id} shared{extra}"
    )


async def mash_call(args: argparse.Namespace, settings: Settings) -> int:
    command = request(
        args,
        settings,
        RecordMashCall,
        by=_actor(args),
        called_on=args.on or today(),
        mash_reference=_text(args.reference) if args.reference else None,
        advice=args.advice.strip(),
    )
    reply = await _send(args, settings, CmeCase.record_mash_call, command)
    return _done(
        args,
        command,
        reply,
        f"{reply.case}: MASH call on {human_date(command.called_on)} recorded "
        f"(task {reply.task_id} done)",
    )


async def ctf(args: argparse.Namespace, settings: Settings) -> int:
    command = request(
        args,
        settings,
        ConfirmCtf,
        by=_actor(args),
        destination_code=args.code.strip().upper(),
        sent_on=args.sent_on or today(),
    )
    reply = await _send(args, settings, CmeCase.confirm_ctf, command)
    timing = "on time" if reply.ctf_on_time else "LATE: after the 15 school days"
    return _done(
        args,
        command,
        reply,
        f"{reply.case}: CTF to {reply.destination_code} confirmed, sent on "
        f"{human_date(command.sent_on)} ({timing})",
    )


async def conclude(args: argparse.Namespace, settings: Settings) -> int:
    command = request(
        args,
        settings,
        ConcludeInvestigation,
        by=_actor(args),
        outcome=InvestigationOutcome(args.outcome),
        new_school_laestab=args.new_school,
        other_la=_text(args.other_la) if args.other_la else None,
        other_la_email=args.other_la_email.strip() if args.other_la_email else None,
        ehe_letter_reference=_text(args.ehe_letter) if args.ehe_letter else None,
        ehe_letter_received_on=args.ehe_letter_received,
        note=_text(args.note),
    )
    reply = await _send(args, settings, CmeCase.conclude_investigation, command)
    head = f"{reply.case}: investigation concluded: {investigation_words(command.outcome)}"
    if reply.outcome is not None:
        return _done(args, command, reply, head, f"case closed: {outcome_words(reply.outcome)}")
    return _done(
        args,
        command,
        reply,
        head,
        f"stage {stage_words(reply.stage)}: authorise deletion with "
        f"cme authorise {reply.case} GROUND",
    )


async def authorise(args: argparse.Namespace, settings: Settings) -> int:
    command = request(
        args,
        settings,
        AuthoriseDeletion,
        by=_actor(args),
        ground=args.ground.strip(),
        decision_date=args.decision_date,
    )
    reply = await _send(args, settings, CmeCase.authorise_deletion, command)
    outcome = reply.outcome
    if outcome is None:  # not expected: an authorisation answers with its outcome
        return _done(args, command, reply, f"{reply.case}: deletion authorised")
    title = f" ({outcome.ground_title})" if outcome.ground_title else ""
    other = (
        f"; {outcome.ground_other_rulebook} in the other rulebook"
        if outcome.ground_other_rulebook
        else ""
    )
    when = human_date(outcome.earliest_deletion_date) if outcome.earliest_deletion_date else "today"
    return _done(
        args,
        command,
        reply,
        f"{reply.case}: deletion authorised on ground {outcome.ground}{title}{other}",
        f"the pupil may be deleted from {when}; CTF to {outcome.ctf_destination}; the written "
        "outcome goes to the school",
    )


async def withdraw(args: argparse.Namespace, settings: Settings) -> int:
    command = request(
        args,
        settings,
        Withdraw,
        by=_actor(args),
        reason=args.reason.strip(),
        duplicate_of=args.duplicate_of,
    )
    reply = await _send(args, settings, CmeCase.withdraw, command)
    return _done(
        args,
        command,
        reply,
        f"{reply.case}: withdrawn, case closed: {outcome_words(reply.outcome)}",
    )


async def reassign(args: argparse.Namespace, settings: Settings) -> int:
    command = request(args, settings, Reassign, by=_actor(args), officer=_text(args.officer))
    reply = await _send(args, settings, CmeCase.reassign, command)
    return _done(args, command, reply, f"{reply.case}: assigned to {reply.assigned_officer}")


async def retry(args: argparse.Namespace, settings: Settings) -> int:
    by = _actor(args)
    request(args, settings, RetryProblems, by=by)  # bad values: exit 2 before anything is sent
    # A retry is the same request while the problems are as they were: once it has been tried
    # (each problem's last attempt moves on), the next `cme retry` is a new request.
    client = await connect(settings)
    state = await state_if_answering(client, args.case, settings)
    attempts = (
        [f"{p.id}@{p.last_attempt_at.isoformat()}" for p in state.open_problems] if state else []
    )
    command = request(args, settings, RetryProblems, ",".join(attempts), by=by)
    reply = await send(client, settings, args.case, CmeCase.retry_problems, command)
    retried = _plural(reply.problems_retried, "problem", "problems")
    return _done(
        args,
        command,
        reply,
        f"{reply.case}: {retried} retried; each clears once its retry succeeds "
        f"(see cme show {reply.case})",
    )


async def codes(args: argparse.Namespace, settings: Settings) -> int:
    given = [code for group in args.codes for code in group]
    command = request(args, settings, ConfirmRegisterCodes, by=_actor(args), codes=given)
    reply = await _send(args, settings, CmeCase.confirm_register_codes, command)
    missing = reply.sessions_missing
    left = (
        "every session of the counted days is on file"
        if missing == 0
        else "the counted days cannot be worked out yet (see cme show)"
        if missing is None
        else f"{_plural(missing, 'session', 'sessions')} of the counted days still to give"
    )
    return _done(
        args,
        command,
        reply,
        f"{reply.case}: {_plural(len(given), 'code', 'codes')} recorded; {left}",
    )


async def confirm_no_sickness(args: argparse.Namespace, settings: Settings) -> int:
    command = request(args, settings, ConfirmNoSicknessGrounds, by=_actor(args), note=args.note)
    reply = await _send(args, settings, CmeCase.confirm_no_sickness_grounds, command)
    return _done(
        args,
        command,
        reply,
        f"{reply.case}: confirmed: no reasonable grounds to believe the child cannot attend "
        "because of sickness or an unavoidable cause",
    )


async def consent(args: argparse.Namespace, settings: Settings) -> int:
    command = request(
        args,
        settings,
        RecordConsent,
        by=_actor(args),
        kind=ConsentKind.SECRETARY_OF_STATE_DIRECTION if args.direction else ConsentKind.LA_CONSENT,
        consented_by=args.consented_by,
        consented_on=args.on or today(),
        reference=args.reference,
    )
    reply = await _send(args, settings, CmeCase.record_consent, command)
    what = "Secretary of State direction" if args.direction else "LA consent"
    return _done(
        args,
        command,
        reply,
        f"{reply.case}: {what} of {human_date(command.consented_on)} recorded "
        f"({command.consented_by})",
    )


async def deletion_facts(args: argparse.Namespace, settings: Settings) -> int:
    fields = {
        name: getattr(args, name)
        for name in (
            "la_arranged_special_school",
            "la_arranged_independent_special_school",
            "attendance_order_names_school",
            "mobile_child_main_school",
            "s47_enquiries",
            "s47_action",
        )
        if getattr(args, name) is not None
    }
    if args.custodial_order is not None:
        fields["custodial_order"] = CustodialOrder(args.custodial_order)
    if not fields:
        raise CliError("give at least one fact, e.g. --la-arranged-special-school yes", exit_code=2)
    command = request(args, settings, RecordDeletionFacts, by=_actor(args), **fields)
    reply = await _send(args, settings, CmeCase.record_deletion_facts, command)
    return _done(
        args, command, reply, f"{reply.case}: {_plural(len(fields), 'fact', 'facts')} recorded"
    )
