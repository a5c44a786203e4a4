"""The `cme` command: referrals, officers' tasks, managers' views, the calendar and the local stack.

Each group of subcommands lives in its own module with a ``register(subparsers)`` function that
adds its parsers and sets ``handler`` (an ``async def handler(args, settings) -> int``). Errors are
:class:`~starter.errors.CliError`: one line on stderr, a non-zero exit.

Start-up is lazy (issue 11, target 7; ``python -m benchmarks.cli_startup``): :data:`COMMANDS`
names every command, its module and its one-line help, so ``cme --help`` imports no command
module, and ``cme COMMAND ...`` imports that command's module only. Only the commands that talk
to Temporal import the Temporal SDK and connect; ``cme calendar`` never does. The settings'
module keeps the SDK and the case model out of its own imports for the same reason.
(:func:`build_parser` still builds every command's parser, for the tests that read them; a test
checks that the table's help is each module's own.)

A reader that stops early (``cme show CME-… | head``) closes the pipe: the command then stops
quietly, with no traceback, and exits 141 (128 + SIGPIPE), the status a shell reports for any
Unix tool stopped by a closed pipe, so that ``set -o pipefail`` scripts see the output was cut.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from starter.errors import CliError, one_line_errors

if TYPE_CHECKING:
    from settings import Settings


class Command(NamedTuple):
    name: str
    module: str
    help: str


# Every command in the order `cme --help` lists them; a module's commands are listed together.
COMMANDS = (
    Command(
        "dev",
        "starter.dev",
        "run the local stack: Temporal dev server, worker and mail folder",
    ),
    Command(
        "refer",
        "starter.referrals",
        "submit a referral (JSON, any of the three forms) and open its case",
    ),
    Command(
        "show",
        "starter.inspect",
        "a case file: episode, stage, deadlines, tasks, problems, outcome",
    ),
    Command(
        "cases",
        "starter.case_list_cli",
        "a table of cases, by kind, stage, school, overdue, child protection, problems",
    ),
    Command("history", "starter.history", "who did what when on a case, from the case's own log"),
    Command("migrate", "starter.migrate", "move every running version 1 case to version 2"),
    Command(
        "enquiry",
        "starter.tasks",
        "record an enquiry into the child's whereabouts and its outcome",
    ),
    Command(
        "contact",
        "starter.tasks",
        "report contact with the family; closes the case if the child is back at school",
    ),
    Command(
        "concern",
        "starter.tasks",
        "raise a safeguarding concern: MASH and SAT are told at once",
    ),
    Command(
        "share",
        "starter.tasks",
        "share new information on the case (SAT is told once it investigates)",
    ),
    Command(
        "mash-call",
        "starter.tasks",
        "record the phone call to MASH (due by the next school day after an escalation)",
    ),
    Command("ctf", "starter.tasks", "confirm the Common Transfer File was sent"),
    Command("conclude", "starter.tasks", "conclude the LA's investigation with its outcome"),
    Command(
        "authorise",
        "starter.tasks",
        "authorise deletion from the admission register on a ground",
    ),
    Command(
        "withdraw",
        "starter.tasks",
        "withdraw a case (e.g. a duplicate): it closes with no deletion",
    ),
    Command("reassign", "starter.tasks", "assign the case to a CME officer"),
    Command(
        "codes",
        "starter.tasks",
        "record the register codes of the child's absent sessions (the 20-day ground needs "
        "every session of the 20 school days coded G, N or O)",
    ),
    Command(
        "confirm-no-sickness",
        "starter.tasks",
        "confirm there are no reasonable grounds to believe the child cannot attend because of "
        "sickness or an unavoidable cause (needed for the absence grounds)",
    ),
    Command(
        "consent",
        "starter.tasks",
        "record the consent of the LA that placed the pupil at a special school (or a Secretary"
        " of State direction)",
    ),
    Command(
        "facts",
        "starter.tasks",
        "record facts that bear on deletion (each yes or no; what is left out is unchanged)",
    ),
    Command(
        "retry",
        "starter.tasks",
        "retry what failed on a case (an email, the register, the calendar) once its cause is "
        "fixed; each problem clears when its retry succeeds",
    ),
    Command(
        "import",
        "starter.import_cli",
        "import an LA's open caseload (CSV or JSON lines of referrals and their enquiries)",
    ),
    Command("calendar", "starter.calendar_cli", "school-day questions from the calendar"),
    Command("register", "starter.register_cli", "the case register's schema (migrations)"),
    Command(
        "keys",
        "starter.keys_cli",
        "the cases' data keys: counts by key-encryption key, rotation",
    ),
    Command(
        "codec-server",
        "starter.codec_cli",
        "run the codec server the Temporal Web UI decodes cases through",
    ),
    Command(
        "retention",
        "starter.retention_cli",
        "the retention rule's daily schedule (cme-retention)",
    ),
    Command(
        "erase",
        "starter.retention_cli",
        "erase a closed case now (right to erasure; team leader)",
    ),
    Command(
        "web",
        "starter.web_cli",
        "run the web app (sign-in, pages for schools, officers and managers)",
    ),
    Command("users", "starter.users_cli", "the web app's accounts: add, list, disable"),
    Command(
        "api-clients",
        "starter.api_clients_cli",
        "the JSON API's clients (bearer tokens): add, list, revoke",
    ),
)

COMMAND_MODULES = tuple(dict.fromkeys(command.module for command in COMMANDS))

# Exit status after a broken pipe: 128 + SIGPIPE, as a shell reports a tool killed by SIGPIPE.
BROKEN_PIPE_EXIT = 141


def _top_parser() -> tuple[argparse.ArgumentParser, Any]:
    parser = one_line_errors(
        argparse.ArgumentParser(
            prog="cme", description="Children missing education: cases on Temporal."
        )
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    return parser, subparsers


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The `cme` parser: every command's own, or with ``only`` (a module of
    :data:`COMMAND_MODULES`) that module's commands and, for the others, a parser that only
    names them (enough for ``cme --help`` and for argparse to list the choices)."""
    parser, subparsers = _top_parser()
    registered: set[str] = set()
    for command in COMMANDS:
        if only is None or command.module == only:
            if command.module not in registered:
                registered.add(command.module)
                importlib.import_module(command.module).register(subparsers)
        else:
            subparsers.add_parser(command.name, help=command.help, add_help=False)
    return parser


def _module_of(argv: Sequence[str]) -> str:
    """The module of the command ``argv`` names, or "" (none: ``cme``, ``cme --help``, a typo):
    then no command module is imported and argparse answers from :data:`COMMANDS`."""
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    if first is None or argv[0] != first:  # an option before the command: only -h exists
        return ""
    return next((command.module for command in COMMANDS if command.name == first), "")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(only=_module_of(argv))
    args, extras = parser.parse_known_args(argv)
    if extras:  # the command's own parser says so, in one line
        command_parser = getattr(args, "parser_of_command", parser)
        command_parser.error(f"unrecognized arguments: {' '.join(extras)}")
    from pydantic import ValidationError

    from settings import settings_problems

    try:
        settings = read_settings()
    except ValidationError as exc:
        print(f"cme: error: bad settings: {settings_problems(exc)}", file=sys.stderr)
        return 2
    try:
        code: int = asyncio.run(args.handler(args, settings))
    except CliError as exc:
        print(f"cme: error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        _discard_stdout()
        return BROKEN_PIPE_EXIT
    except Exception as exc:
        message = _key_failure(exc)
        if message is None:
            raise
        print(f"cme: error: {message}", file=sys.stderr)
        return 1
    return code


def read_settings() -> Settings:
    """The settings (``CME_*``, ``.env``), read when a command runs: `cme --help` reads none."""
    from settings import Settings

    return Settings()


def _key_failure(exc: Exception) -> str | None:
    """One line for a failure to read a case's payloads (its keys), or ``None``. The classes are
    looked up among the modules already imported: a command that did not import them cannot
    have raised them, and importing them here would slow down every other error."""
    store, keys, codec = (
        sys.modules.get(name) for name in ("security.store", "security.keys", "security.codec")
    )
    if store is not None and isinstance(exc, store.KeyStoreUnavailable):
        return (
            f"{exc} (the `cme` command reads the cases' keys where the workers do: set "
            "CME_DATABASE_URL to their register, brought up to date by `cme register upgrade`)"
        )
    if keys is not None and isinstance(exc, keys.KeyShredded):
        # A payload of an erased case (its data key destroyed).
        return (
            f"case {exc.key_id} was erased: its data key is destroyed and its history can no "
            "longer be read (the register keeps its anonymous facts)"
        )
    undecryptable: tuple[type[Exception], ...] = (
        (keys.KeyRingError,) if keys is not None else ()
    ) + ((codec.PayloadUndecryptable,) if codec is not None else ())
    if undecryptable and isinstance(exc, undecryptable):
        return f"{exc} (CME_ENCRYPTION_KEYS must hold the workers' key-encryption keys)"
    return None


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
