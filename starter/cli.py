"""The `cme` command: referrals, officers' tasks, managers' views, the calendar and the local stack.

Each group of subcommands lives in its own module with a ``register(subparsers)`` function that
adds its parsers and sets ``handler`` (an ``async def handler(args, settings) -> int``). Errors are
:class:`~starter.errors.CliError`: one line on stderr, a non-zero exit.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from settings import Settings
from starter.errors import CliError

COMMAND_MODULES = (
    "starter.dev",
    "starter.referrals",
    "starter.inspect",
    "starter.history",
    "starter.migrate",
    "starter.tasks",
    "starter.calendar_cli",
)


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(
        prog="cme", description="Children missing education: cases on Temporal."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"CME_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
        )
        print(f"cme: error: bad settings: {problems}", file=sys.stderr)
        return 2
    try:
        code: int = asyncio.run(args.handler(args, settings))
    except CliError as exc:
        print(f"cme: error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return code


def run() -> None:
    """The console script: exit without interpreter finalisation, which can crash while the
    Temporal client's native runtime shuts down (temporalio/sdk-python#300)."""
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
