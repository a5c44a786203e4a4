"""What the commands that manage the register's people share (``cme users``, ``cme
api-clients``): running one on the register in a thread with one-line errors, refusing a register
whose schema lacks the table, and turning a details model's validation errors into one line that
names each option."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable

from pydantic import ValidationError
from sqlalchemy import Engine, inspect
from sqlalchemy.exc import SQLAlchemyError

from domain.types import error_message
from starter.dev import _shown
from starter.errors import CliError

__all__ = ["one_line_problems", "require_table", "run_on_register"]


async def run_on_register(
    args: argparse.Namespace,
    url: str,
    what: str,
    run: Callable[[argparse.Namespace, str], list[str]],
) -> int:
    """Print what ``run`` returns; a database error is one line naming ``what`` it was for."""
    try:
        lines = await asyncio.to_thread(run, args, url)
    except SQLAlchemyError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CliError(f"cannot use {what} in the register at {_shown(url)}: {first}") from None
    print("\n".join(lines), flush=True)
    return 0


def require_table(engine: Engine, url: str, table: str, what: str) -> None:
    """A register not yet upgraded to hold ``table`` is one line saying what to run."""
    if not inspect(engine).has_table(table):
        raise CliError(
            f"the register at {_shown(url)} has no {what} yet: run `cme register upgrade`"
        )


def one_line_problems(exc: ValidationError, options: dict[str, str]) -> CliError:
    """Each problem of a details model in the words of :mod:`domain.types`, after the option it
    came from (``options``: field → option); a model-wide ``schools: …`` belongs to
    ``schools``. Exit 2: nothing was changed."""
    problems = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        message = error_message(error)
        if not field and message.startswith("schools: "):
            field, message = "schools", message.removeprefix("schools: ")
        where = options.get(field)
        problems.append(f"{where}: {message}" if where else message)
    return CliError("; ".join(problems), exit_code=2)
