"""`cme users`: the web app's accounts, from the operator's terminal.

    cme users add ann@school.example.org --name "Ann Example" --role school --school 8512000
    cme users add lead@la.example.gov.uk --name "Lee Lead" --role team_leader --oidc-only
    cme users list
    cme users disable ann@school.example.org
    cme users reset-password ann@school.example.org

Roles: school (with one or more ``--school`` LAESTABs), cme_officer, team_leader, mash, manager,
admin. ``add`` and ``reset-password`` print a one-time password, which must be changed at the
next sign-in; an ``--oidc-only`` account has none (it signs in with the LA's OpenID Connect
provider). Every change is in the register's audit (``auth_event``, method ``cli``). Errors are
one line and a non-zero exit (2 for bad input), never a traceback.
"""

from __future__ import annotations

import argparse
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session

from activities.accounts import (
    ACCOUNT_ROLES,
    AccountDetails,
    AccountExists,
    AccountPublic,
    find_account,
    list_accounts,
)
from activities.register import make_engine
from domain.case.model import Role
from settings import Settings
from starter.args import one_line_errors
from starter.errors import CliError
from starter.register_commands import one_line_problems, require_table, run_on_register

ROLES = [r.value for r in ACCOUNT_ROLES]


def register(subparsers: Any) -> None:
    parser = one_line_errors(
        subparsers.add_parser("users", help="the web app's accounts: add, list, disable")
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    add = one_line_errors(
        actions.add_parser(
            "add",
            help="add an account (prints its one-time password)",
            description="Add an account to the web app. It gets a one-time password, printed "
            "once, to be changed at the first sign-in, unless it signs in with OpenID Connect "
            "only.",
        )
    )
    add.add_argument("email", help="the person's email address (their sign-in name)")
    add.add_argument("--name", required=True, help="their name, as cases will show it")
    add.add_argument("--role", required=True, choices=ROLES, help="their role")
    add.add_argument(
        "--school",
        action="append",
        default=[],
        metavar="LAESTAB",
        help="a school a school user acts for (7 digits; repeat for each school)",
    )
    add.add_argument(
        "--oidc-only",
        action="store_true",
        help="no password: signs in with the LA's OpenID Connect provider only",
    )
    add.set_defaults(handler=handle)

    listing = one_line_errors(actions.add_parser("list", help="every account"))
    listing.set_defaults(handler=handle)

    for name, words in (
        ("disable", "disable an account (its sessions end; it is kept, for the audit)"),
        ("reset-password", "give an account a new one-time password (its sessions end)"),
    ):
        action = one_line_errors(
            actions.add_parser(name, help=words, description=words[:1].upper() + words[1:])
        )
        action.add_argument("email", help="the account's email address")
        action.set_defaults(handler=handle)


async def handle(args: argparse.Namespace, settings: Settings) -> int:
    return await run_on_register(args, settings.register_url, "the accounts", _run)


def _run(args: argparse.Namespace, url: str) -> list[str]:
    from web.passwords import Passwords  # here: only the commands that hash need argon2
    from web.users import add_user, disable_user, reset_password

    engine = make_engine(url, client=True)
    try:
        require_table(engine, url, "account", "accounts")
        with Session(engine) as session:
            if args.action == "list":
                return _listing(list_accounts(session=session))
            if args.action == "add":
                details = _details(args)
                try:
                    new = add_user(
                        session=session,
                        details=details,
                        oidc_only=args.oidc_only,
                        passwords=Passwords(),
                        by=None,
                        method="cli",
                    )
                except AccountExists as exc:
                    raise CliError(str(exc), exit_code=2) from None
                added = f"added {_who(new.account)}"
                if new.one_time_password is None:
                    return [f"{added}: signs in with OpenID Connect only (no password)"]
                return [
                    added,
                    f"one-time password: {new.one_time_password}",
                    "give it to them by a safe route: they must change it when they first sign in",
                ]
            account = find_account(session=session, email=args.email)
            if account is None:
                raise CliError(f"no account for {args.email.strip().lower()}", exit_code=2)
            if args.action == "disable":
                changed = disable_user(session=session, account=account, by=None, method="cli")
                state = "disabled" if changed else "was already disabled"
                return [f"{_who(account)} {state}: it cannot sign in"]
            if account.disabled:
                raise CliError(f"{account.email} is disabled: it cannot sign in", exit_code=2)
            password = reset_password(
                session=session, account=account, passwords=Passwords(), by=None, method="cli"
            )
            return [
                f"new one-time password for {_who(account)}: {password}",
                "their sessions have ended; they must change it when they next sign in",
            ]
    finally:
        engine.dispose()


def _details(args: argparse.Namespace) -> AccountDetails:
    try:
        return AccountDetails(
            email=args.email,
            display_name=args.name,
            role=Role(args.role),
            schools=tuple(args.school),
        )
    except ValidationError as exc:
        raise one_line_problems(
            exc, {"email": "EMAIL", "display_name": "--name", "schools": "--school"}
        ) from None


def _who(account: AccountPublic) -> str:
    role = account.role.replace("_", " ")
    schools = f" for {', '.join(account.schools)}" if account.schools else ""
    return f"{account.display_name} <{account.email}> ({role}{schools})"


def _listing(accounts: list[AccountPublic]) -> list[str]:
    if not accounts:
        return ["no accounts yet: add one with `cme users add`"]
    rows = [("EMAIL", "NAME", "ROLE", "SCHOOLS", "STATUS", "LAST SIGN-IN")]
    for a in accounts:
        status = (
            "disabled"
            if a.disabled
            else ("one-time password" if a.must_change_password else "active")
        )
        if not a.has_password and not a.disabled:
            status += " (OpenID Connect)"
        last = a.last_sign_in_at.strftime("%Y-%m-%d %H:%M") if a.last_sign_in_at else "never"
        rows.append((a.email, a.display_name, a.role, ",".join(a.schools), status, last))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
