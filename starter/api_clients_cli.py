"""`cme api-clients`: the JSON API's clients (``/api/v1``), from the operator's terminal.

    cme api-clients add "Northfield Academy MIS" --role school --school 8512000
    cme api-clients add "LA case system" --role cme_officer
    cme api-clients list
    cme api-clients revoke "Northfield Academy MIS"

Roles: school (with one or more ``--school`` LAESTABs), cme_officer, team_leader, mash, manager:
a client acts on the cases as a person of that role would (the cases' logs name it). ``add``
prints the client's bearer token once: the register keeps only its SHA-256
(:mod:`activities.api_clients`), so a lost token is replaced by revoking the client and adding
another. ``revoke`` refuses the token from the next request on. Errors are one line and a
non-zero exit (2 for bad input), never a traceback.
"""

from __future__ import annotations

import argparse
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session

from activities.api_clients import (
    API_CLIENT_ROLES,
    ApiClientDetails,
    ApiClientExists,
    ApiClientPublic,
    add_api_client,
    find_api_client,
    list_api_clients,
    revoke_api_client,
)
from activities.register import make_engine
from domain.case.model import Role
from settings import Settings
from starter.args import one_line_errors
from starter.errors import CliError
from starter.register_commands import one_line_problems, require_table, run_on_register

ROLES = [r.value for r in API_CLIENT_ROLES]
BY_CLI = "cli"


def register(subparsers: Any) -> None:
    parser = one_line_errors(
        subparsers.add_parser(
            "api-clients", help="the JSON API's clients (bearer tokens): add, list, revoke"
        )
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    add = one_line_errors(
        actions.add_parser(
            "add",
            help="add a client (prints its bearer token, once)",
            description="Add a client of the JSON API (/api/v1): a school's MIS or an LA system. "
            "Its bearer token is printed once and never kept.",
        )
    )
    add.add_argument("name", help="the client's name, as the cases' logs will show it")
    add.add_argument("--role", required=True, choices=ROLES, help="the role it acts in")
    add.add_argument(
        "--school",
        action="append",
        default=[],
        metavar="LAESTAB",
        help="a school a school client acts for (7 digits; repeat for each school)",
    )
    add.set_defaults(handler=handle)

    listing = one_line_errors(actions.add_parser("list", help="every client"))
    listing.set_defaults(handler=handle)

    words = "revoke a client's token (refused from the next request on; the client is kept)"
    revoke = one_line_errors(
        actions.add_parser("revoke", help=words, description=words[:1].upper() + words[1:])
    )
    revoke.add_argument("name", help="the client's name")
    revoke.set_defaults(handler=handle)


async def handle(args: argparse.Namespace, settings: Settings) -> int:
    return await run_on_register(args, settings.register_url, "the API clients", _run)


def _run(args: argparse.Namespace, url: str) -> list[str]:
    engine = make_engine(url, client=True)
    try:
        require_table(engine, url, "api_client", "API clients")
        with Session(engine) as session:
            if args.action == "list":
                return _listing(list_api_clients(session=session))
            if args.action == "add":
                try:
                    new = add_api_client(session=session, details=_details(args), by=BY_CLI)
                except ApiClientExists as exc:
                    raise CliError(str(exc), exit_code=2) from None
                return [
                    f"added {_who(new.client)}",
                    f"token: {new.token}",
                    "give it to the client's operator by a safe route: it is shown only now "
                    "(the register keeps its hash); the client sends it as "
                    "'Authorization: Bearer <token>'",
                ]
            client = find_api_client(session=session, name=args.name)
            if client is None:
                raise CliError(f"no API client named {' '.join(args.name.split())}", exit_code=2)
            _, changed = revoke_api_client(session=session, client_id=client.id, by=BY_CLI)
            state = "revoked" if changed else "was already revoked"
            return [f"{_who(client)} {state}: its token is refused"]
    finally:
        engine.dispose()


def _details(args: argparse.Namespace) -> ApiClientDetails:
    try:
        return ApiClientDetails(name=args.name, role=Role(args.role), schools=tuple(args.school))
    except ValidationError as exc:
        raise one_line_problems(exc, {"name": "NAME", "schools": "--school"}) from None


def _who(client: ApiClientPublic) -> str:
    role = client.role.replace("_", " ")
    schools = f" for {', '.join(client.schools)}" if client.schools else ""
    return f"{client.name} ({role}{schools})"


def _moment(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else "never"


def _listing(clients: list[ApiClientPublic]) -> list[str]:
    if not clients:
        return ["no API clients yet: add one with `cme api-clients add`"]
    rows = [("NAME", "ROLE", "SCHOOLS", "STATUS", "ADDED", "LAST USED")]
    for c in clients:
        status = f"revoked {_moment(c.revoked_at)}" if c.revoked else "active"
        rows.append(
            (
                c.name,
                c.role,
                ",".join(c.schools),
                status,
                _moment(c.created_at),
                _moment(c.last_used_at),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
