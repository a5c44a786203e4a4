"""How the `cme` command fails: one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import argparse
from typing import NoReturn


class CliError(Exception):
    """A failure to report to the person at the terminal; ``exit_code`` 2 means bad input."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class CaseError(CliError):
    """A request or a reading that a case did not complete, for any trusted client: the CLI
    prints :attr:`message` (which may name a command or option), the web app shows
    :attr:`reason` (the same, in words for anyone). The subclass says what happened:

    * :class:`CaseRefused`: the case refused the request (its own reason); nothing changed;
    * :class:`NotRecorded`: the case did not take it in time; nothing is recorded yet, and
      sending the same request again is safe (applied once);
    * :class:`RecordedNotAnswered`: the case took it, but its answer did not arrive in time;
    * :class:`NoSuchCase`, :class:`CaseClosed`, :class:`CaseOnVersion1`;
    * :class:`CaseUnavailable`: Temporal or the worker did not answer (nothing was sent, or
      nothing could be read);
    * :class:`CaseError` itself: the case could not process the request (a problem is
      recorded on the case).
    """

    def __init__(self, message: str, *, reason: str | None = None, exit_code: int = 1) -> None:
        super().__init__(message, exit_code)
        self.reason = reason or message


class CaseRefused(CaseError):
    pass


class NotRecorded(CaseError):
    pass


class RecordedNotAnswered(CaseError):
    pass


class NoSuchCase(CaseError):
    pass


class CaseClosed(CaseError):
    pass


class CaseOnVersion1(CaseError):
    pass


class CaseUnavailable(CaseError):
    pass


def one_line_errors(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Argument errors as one line (``cme show: error: ...``) and exit code 2, no usage dump."""

    def error(message: str) -> NoReturn:
        # The message quotes what was typed: escaped, so that it stays one line of text. (Imported
        # here: `cme --help` needs none of the domain's types.)
        from domain.types import printable

        shown = printable(message, limit=300)
        parser.exit(2, f"{parser.prog}: error: {shown} (see {parser.prog} --help)\n")

    parser.error = error  # type: ignore[method-assign]
    parser.set_defaults(parser_of_command=parser)
    return parser
