"""The `cme` command: referrals, officers' tasks, managers' views, the calendar and the local stack.

Each group of subcommands lives in its own module with a ``register(subparsers)`` function that
adds its parsers and sets ``handler`` (an ``async def handler(args, settings) -> int``). Errors are
:class:`~starter.errors.CliError`: one line on stderr, a non-zero exit.

A reader that stops early (``cme show CME-… | head``) closes the pipe: the command then stops
quietly, with no traceback, and exits 141 (128 + SIGPIPE), the status a shell reports for any
Unix tool stopped by a closed pipe, so that ``set -o pipefail`` scripts see the output was cut.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from security.codec import PayloadUndecryptable
from security.keys import KeyRingError, KeyShredded
from security.store import KeyStoreUnavailable
from settings import Settings, settings_problems
from starter.errors import CliError
from starter.inspect import one_line_errors

COMMAND_MODULES = (
    "starter.dev",
    "starter.referrals",
    "starter.inspect",
    "starter.history",
    "starter.migrate",
    "starter.tasks",
    "starter.calendar_cli",
    "starter.register_cli",
    "starter.keys_cli",
    "starter.codec_cli",
    "starter.retention_cli",
    "starter.web_cli",
    "starter.users_cli",
    "starter.api_clients_cli",
)

# Exit status after a broken pipe: 128 + SIGPIPE, as a shell reports a tool killed by SIGPIPE.
BROKEN_PIPE_EXIT = 141


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = one_line_errors(
        argparse.ArgumentParser(
            prog="cme", description="Children missing education: cases on Temporal."
        )
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if extras:  # the command's own parser says so, in one line
        command_parser = getattr(args, "parser_of_command", parser)
        command_parser.error(f"unrecognized arguments: {' '.join(extras)}")
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"cme: error: bad settings: {settings_problems(exc)}", file=sys.stderr)
        return 2
    try:
        code: int = asyncio.run(args.handler(args, settings))
    except CliError as exc:
        print(f"cme: error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyStoreUnavailable as exc:
        print(
            f"cme: error: {exc} (the `cme` command reads the cases' keys where the workers do: "
            "set CME_DATABASE_URL to their register, brought up to date by `cme register "
            "upgrade`)",
            file=sys.stderr,
        )
        return 1
    except KeyShredded as exc:
        # A payload of an erased case (its data key destroyed).
        print(
            f"cme: error: case {exc.key_id} was erased: its data key is destroyed and its "
            "history can no longer be read (the register keeps its anonymous facts)",
            file=sys.stderr,
        )
        return 1
    except (KeyRingError, PayloadUndecryptable) as exc:
        print(
            f"cme: error: {exc} (CME_ENCRYPTION_KEYS must hold the workers' key-encryption keys)",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        _discard_stdout()
        return BROKEN_PIPE_EXIT
    return code


def _discard_stdout() -> None:
    """Send what is left of stdout to /dev/null: its reader has gone, and the flush at exit would
    fail again (Python's documented way, see the ``signal`` module's note on SIGPIPE)."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - replaces stdout until exit
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def run() -> None:
    """The console script: exit without interpreter finalisation, which can crash while the
    Temporal client's native runtime shuts down (temporalio/sdk-python#300)."""
    try:
        code = main()
    except SystemExit as exc:  # argparse: --help, or bad arguments
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BrokenPipeError:  # --help or usage into a closed pipe
        _discard_stdout()
        code = BROKEN_PIPE_EXIT
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _discard_stdout()
        code = BROKEN_PIPE_EXIT
    with contextlib.suppress(BrokenPipeError):
        sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
