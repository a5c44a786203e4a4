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
by form.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from workflows.models import Actor, Role

from domain.calendar import CalendarError
from domain.intake import AnyReferral, ProfessionalCMEReferral, ReferralInvalid, parse_referral
from settings import Settings
from starter.cases import case_reference, open_case
from starter.connect import connect
from starter.errors import CliError
from starter.inspect import (
    add_json,
    answer,
    name_arg,
    one_line_errors,
    print_json,
    today,
)
from starter.timeline import stage_words

REFERRER_ROLES = (Role.SCHOOL, Role.PROFESSIONAL)


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
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_REFERRAL_BYTES + 1)
    except FileNotFoundError:
        raise CliError(f"cannot read {path}: no such file", exit_code=2) from None
    except IsADirectoryError:
        raise CliError(f"cannot read {path}: it is a directory", exit_code=2) from None
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}", exit_code=2) from None
    if len(raw) > MAX_REFERRAL_BYTES:
        raise CliError(
            f"cannot read {path}: the file is over 1 MB (a referral is a few kilobytes)",
            exit_code=2,
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CliError(f"cannot read {path}: not UTF-8 text", exit_code=2) from None
    too_deep = CliError(f"cannot read {path}: JSON nested too deeply", exit_code=2)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(
            f"{path} is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", exit_code=2
        ) from None
    except RecursionError:  # the decoder's own limit, about 1000 levels
        raise too_deep from None
    if _depth(data) > MAX_REFERRAL_DEPTH:
        raise too_deep
    return data


def referred_by(referral: AnyReferral, name: str | None, role: str | None) -> Actor:
    if isinstance(referral, ProfessionalCMEReferral):
        default_name, default_role = referral.referrer.name, Role.PROFESSIONAL
    else:
        default_name, default_role = f"school {referral.school_laestab}", Role.SCHOOL
    chosen = " ".join((name or "").split()) or default_name
    if len(chosen) > 200:
        raise CliError("--by: at most 200 characters", exit_code=2)
    return Actor(name=chosen, role=Role(role) if role else default_role)


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
    by = referred_by(referral, args.by, args.role)
    client = await connect(settings)
    case = case_reference(referral, settings.case_key_secret.get_secret_value())
    result = await answer(
        open_case(
            client,
            referral,
            by,
            task_queue=settings.task_queue,
            secret=settings.case_key_secret.get_secret_value(),
            s37_consent_rule=settings.s37_consent_rule,
        ),
        case=case,
        settings=settings,
        no_answer="the referral is sent and the case opens once the worker runs",
    )
    if args.json:
        print_json(result.model_dump(mode="json"))
    elif result.existing:
        print(f"matched open case {result.case} ({result.referrals_received} referrals received)")
    else:
        print(f"opened case {result.case} (stage: {stage_words(result.stage.value)})")
    return 0
