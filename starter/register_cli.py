"""`cme register`: the case register's schema, brought up to date by its migrations.

cme register upgrade                 # to the latest revision (idempotent; keeps every row)
cme register upgrade --revision 0001 # to a given revision
cme register current                 # the revision the register is at

The register is ``CME_DATABASE_URL`` unless ``--url`` names another. A deployment runs
``cme register upgrade`` once per release, before the workers start (docker-compose.yml's
``register-schema`` service); ``cme dev`` does it itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from alembic.util import CommandError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from activities.register import HEAD, make_engine, register_revision, upgrade_register
from settings import Settings
from starter.errors import CliError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("register", help="the case register's schema (migrations)")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    def add(name: str, help: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = actions.add_parser(name, help=help)
        p.add_argument("--url", metavar="URL", help="another register (default CME_DATABASE_URL)")
        p.add_argument("--json", action="store_true", help="machine-readable output")
        p.set_defaults(handler=handle)
        return p

    upgrade = add("upgrade", "bring the register's schema to the latest revision")
    upgrade.add_argument(
        "--revision", default="head", metavar="REV", help="a revision to stop at (default head)"
    )
    add("current", "the revision the register's schema is at")


def _shown(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "the configured register"


async def handle(args: argparse.Namespace, settings: Settings) -> int:
    url = args.url or settings.register_url
    try:
        answer = await asyncio.to_thread(_run, args, url)
    except CommandError as exc:
        raise CliError(f"cannot {args.action} the case register: {exc}", exit_code=2) from None
    except SQLAlchemyError as exc:
        # Parameters are hidden (make_engine): the first line names the problem, not the data.
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        where = _shown(url)
        raise CliError(f"cannot {args.action} the case register at {where}: {first}") from None
    if args.json:
        print(json.dumps(answer))
    elif args.action == "upgrade":
        before, after = answer["before"] or "empty", answer["revision"]
        if before == after:
            print(f"the case register at {_shown(url)} is at revision {after}: nothing to do")
        else:
            print(f"the case register at {_shown(url)} upgraded from {before} to {after}")
    else:
        revision = answer["revision"] or "none (not created yet: run cme register upgrade)"
        latest = " (the latest)" if answer["revision"] == HEAD else f" (the latest is {HEAD})"
        print(f"the case register at {_shown(url)} is at revision {revision}{latest}")
    return 0


def _run(args: argparse.Namespace, url: str) -> dict[str, str | None]:
    engine = make_engine(url)
    try:
        if args.action == "upgrade":
            before = upgrade_register(engine, args.revision)
            return {"before": before, "revision": register_revision(engine)}
        return {"revision": register_revision(engine)}
    finally:
        engine.dispose()
