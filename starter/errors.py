"""How the `cme` command fails: one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations


class CliError(Exception):
    """A failure to report to the person at the terminal; ``exit_code`` 2 means bad input."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
