"""`cme refer FILE`: submit a referral (any of the three forms, as JSON) and open its case.

    cme refer pupil-migration-return.json          # a school's Pupil Migration LA Return
    cme refer school-cme-referral.json --by "Ms A" # a school's CME referral
    cme refer professional-cme-referral.json       # a professional's referral

The form is read from the file's ``form`` field. The referral is checked with every rule,
today's date (England) and the school calendar before anything is sent: a bad one prints one line
per bad field (``pupil.upn: UPN check letter is wrong``) on stderr and exits 2, and no case is
started. A good one opens the child's case, or is delivered to the child's open case as a further
referral; the case reference is printed either way.

``--by`` (who submits it) defaults to the referrer on a professional referral and to the school
(``school 8512000``) on a school's form; ``--as`` defaults to ``professional`` or ``school``
by form. A school's user acts for named schools (``--school LAESTAB``, repeatable; on a school's
form the default is the form's school): a school refers only its own pupils, and a professional
uses the professional form (:func:`domain.case.rules.check_referrer`). A referral its sender may
not make is refused before anything is sent (``cme: error: rejected: ...``, exit 1). The CLI is
the operator's tool: whoever runs it is trusted to say who is acting (the web app takes the
actor from the signed-in user instead).

Idempotent and truthful (see :mod:`starter.case_client`): a referral's request id is derived from
its content and sender (or ``--request-id``), so the same referral sent twice is applied once; the
second run prints ``CASE: already recorded (same request ID): ...`` and the first answer. The
case's start is durable even with no worker running: when the case does not answer within 30 s
but its run was started by this referral, the command prints ``referral recorded: case CASE opens
when the worker runs ...`` (exit 0); when nothing is recorded, it says so and that running the
same command again is safe (exit 75).

Output: ``opened case CASE (stage: ...)`` (``, episode N (REPEAT: ...)`` for a child's later
episode) or ``matched open case CASE (N referrals received)``. ``--json``: the case's answer
(``CommandResult``) with ``request_id`` and ``"answered": true``; or ``{"case", "request_id",
"answered": false}`` when the referral is recorded and the case has not answered yet.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from domain.calendar import CalendarError
from domain.case import Rejected, rules
from domain.case.model import Actor, Role
from domain.intake import AnyReferral, ProfessionalCMEReferral, ReferralInvalid, parse_referral
from domain.types import RequestId, printable
from settings import Settings
from starter import case_client
from starter.args import (
    add_json,
    laestab_arg,
    name_arg,
    one_line_errors,
    print_json,
    today,
)
from starter.case_client import Referred
from starter.connect import connect
from starter.errors import CliError
from starter.output import emit
from starter.words import stage_words

REFERRER_ROLES = (Role.SCHOOL, Role.PROFESSIONAL)
_REQUEST_ID: TypeAdapter[str] = TypeAdapter(RequestId)


def register(subparsers: Any) -> None:
    parser = one_line_errors(
        subparsers.add_parser(
            "refer",
            help="submit a referral (JSON, any of the three forms) and open its case",
            description="Submit a referral: a Pupil Migration LA Return, a school CME referral "
            "or a professional CME referral, as JSON with its 'form' field. Prints the case "
            "reference, or the open case of the same child it was added to.",
        )
    )
    parser.add_argument("file", type=Path, metavar="FILE", help="the referral, JSON")
    parser.add_argument(
        "--by",
        type=name_arg,
        metavar="NAME",
        help="who submits it (default: the referrer, or the school)",
    )
    parser.add_argument(
        "--as",
        dest="role",
        choices=[r.value for r in REFERRER_ROLES],
        help="school or professional (default: by form)",
    )
    parser.add_argument(
        "--school",
        dest="schools",
        action="append",
        type=laestab_arg,
        metavar="LAESTAB",
        help="a school user: a school they act for (repeatable; default: the form's school)",
    )
    parser.add_argument(
        "--request-id",
        metavar="ID",
        help="the referral's idempotency key (default: derived from its content and sender): "
        "the same referral sent again is applied once",
    )
    add_json(parser)
    parser.set_defaults(handler=refer)


# A referral is a few kilobytes, nested four levels deep at most (contacts, each one's numbers).
MAX_REFERRAL_BYTES = 1_000_000
MAX_REFERRAL_DEPTH = 20


def _depth(value: object) -> int:
    """How deeply lists and objects nest in ``value`` (0 for a scalar), without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: list[object] = list(item.values())
        elif isinstance(item, list):
            children = list(item)
        else:
            continue
        deepest = max(deepest, level + 1)
        stack.extend((child, level + 1) for child in children)
    return deepest


def read_referral_file(path: Path) -> object:
    """The file's JSON, or one line saying why it cannot be read (exit 2): no such file, over
    1 MB, not UTF-8, not JSON, or JSON nested too deeply to be a referral."""
    name = printable(str(path), limit=200)  # as typed, escaped: one line of text
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_REFERRAL_BYTES + 1)
    except FileNotFoundError:
        raise CliError(f"cannot read {name}: no such file", exit_code=2) from None
    except IsADirectoryError:
        raise CliError(f"cannot read {name}: it is a directory", exit_code=2) from None
    except OSError as exc:
        raise CliError(f"cannot read {name}: {exc.strerror or exc}", exit_code=2) from None
    if len(raw) > MAX_REFERRAL_BYTES:
        raise CliError(
            f"cannot read {name}: the file is over 1 MB (a referral is a few kilobytes)",
            exit_code=2,
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CliError(f"cannot read {name}: not UTF-8 text", exit_code=2) from None
    too_deep = CliError(f"cannot read {name}: JSON nested too deeply", exit_code=2)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(
            f"{name} is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", exit_code=2
        ) from None
    except RecursionError:  # the decoder's own limit, about 1000 levels
        raise too_deep from None
    except ValueError:  # e.g. a number longer than Python reads (4300 digits)
        raise CliError(
            f"{name} is not JSON a referral can be: a number is too long", exit_code=2
        ) from None
    if _depth(data) > MAX_REFERRAL_DEPTH:
        raise too_deep
    return data


def referred_by(
    referral: AnyReferral,
    name: str | None,
    role: str | None,
    schools: list[str] | None = None,
) -> Actor:
    """Who sends the referral, checked as the case will check it: one line and nothing sent
    when they may not make it."""
    if isinstance(referral, ProfessionalCMEReferral):
        default_name, default_role = referral.referrer.name, Role.PROFESSIONAL
    else:
        default_name, default_role = f"school {referral.school_laestab}", Role.SCHOOL
    chosen = " ".join((name or "").split()) or default_name
    if len(chosen) > 200:
        raise CliError("--by: at most 200 characters", exit_code=2)
    acting = Role(role) if role else default_role
    given = tuple(dict.fromkeys(schools or ()))
    if acting is Role.SCHOOL and not given:
        if isinstance(referral, ProfessionalCMEReferral):
            raise CliError(
                "--school: say which school you act for (a school user refers for its own schools)",
                exit_code=2,
            )
        given = (referral.school_laestab,)
    by = Actor(name=chosen, role=acting, schools=given if acting is Role.SCHOOL else ())
    try:
        rules.check_referrer(referral, by)
    except Rejected as refused:
        raise CliError(f"rejected: {refused.message}") from None
    return by


async def refer(args: argparse.Namespace, settings: Settings) -> int:
    data = read_referral_file(args.file)
    try:
        calendar = settings.calendar
    except (CalendarError, OSError) as exc:
        raise CliError(f"cannot load the school calendar {settings.calendar_file}: {exc}") from None
    try:
        referral = parse_referral(data, today=today(), calendar=calendar)
    except ReferralInvalid as invalid:
        for problem in invalid.problems:
            line = f"{problem.field}: {problem.message}" if problem.field else problem.message
            print(line, file=sys.stderr)
        return 2
    by = referred_by(referral, args.by, args.role, args.schools)
    request_id = _request_id(args.request_id)
    client = await connect(settings)
    referred = await case_client.refer(client, settings, referral, by, request_id=request_id)
    if args.json:
        print_json(referred_json(referred))
    else:
        emit(referred_lines(referred, settings))
    return 0


def _request_id(text: str | None) -> str | None:
    """``--request-id`` as given, checked like every request id (exit 2 when it is not one)."""
    if text is None:
        return None
    try:
        return _REQUEST_ID.validate_python(text.strip())
    except ValidationError as exc:
        raise CliError(f"--request-id: {exc.errors()[0]['msg']}", exit_code=2) from None


def referred_json(referred: Referred) -> dict[str, Any]:
    """``cme refer --json``: the case's answer (``CommandResult``) with ``request_id`` and
    ``answered`` true; or, when the case has not answered yet but the referral is recorded,
    ``{"case", "request_id", "answered": false}``."""
    if referred.result is None:
        return {"case": referred.case, "request_id": referred.request_id, "answered": False}
    return {
        **referred.result.model_dump(mode="json"),
        "request_id": referred.request_id,
        "answered": True,
    }


def referred_lines(referred: Referred, settings: Settings) -> list[str]:
    result = referred.result
    waited = f"{case_client.ANSWER_TIMEOUT_SECONDS:g} s"
    if result is None:
        if referred.opened_earlier:
            return [
                f"referral already recorded: it opened case {referred.case}, which did not "
                f"answer within {waited} (is the worker running? task queue "
                f"{settings.task_queue})"
            ]
        return [
            f"referral recorded: case {referred.case} opens when the worker runs (it did not "
            f"answer within {waited}; task queue {settings.task_queue}); "
            "running the same command again is safe: it is applied once"
        ]
    lines = []
    if result.duplicate_request:
        lines.append(
            f"{result.case}: already recorded (same request {referred.request_id}): not applied "
            "again; the first answer follows"
        )
    if result.existing:
        lines.append(
            f"matched open case {result.case} ({result.referrals_received} referrals received)"
        )
    else:
        episode = (
            f", episode {result.episode} (REPEAT: the child had an earlier CME episode)"
            if result.episode > 1
            else ""
        )
        lines.append(f"opened case {result.case}{episode} (stage: {stage_words(result.stage)})")
    return lines
