"""What the `cme` commands share to read their arguments: argument types (case references, dates,
and names, texts, references, emails and LAESTABs checked with the types of :mod:`domain.types`,
as the forms and the worker check them), one-line argument errors and ``--json``.

Kept apart from the commands (no Temporal, no case model) so that a command that does not talk
to Temporal, such as ``cme calendar``, starts without importing them (issue 11, target 7:
``python -m benchmarks.cli_startup``).
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError

from domain.clock import local_date
from domain.types import (
    CaseRef,
    EmailAddress,
    FreeText,
    Laestab,
    Note,
    PersonName,
    PlausibleDate,
    Reference,
    ShortText,
    error_message,
)
from starter.errors import one_line_errors as one_line_errors  # where the commands find it
from starter.output import emit_json


def today() -> date:
    """Today in England."""
    return local_date(datetime.now(UTC))


def _shown(text: str) -> str:
    """The value as typed, quoted and escaped (control characters show as ``\\x1b``), cut short."""
    return repr(text) if len(text) <= 40 else repr(text[:37]) + "..."


def typed_arg(kind: Any, what: str) -> Callable[[str], str]:
    """An argparse ``type=`` checking the value with a type of :mod:`domain.types`: a bad value is
    one line naming the option and saying why (``cme reassign: error: argument --by: '  ' is not
    a name: must not be empty``), exit 2, before anything is sent. The type's validator is built
    when first used: building every one at import would slow down every command's start."""

    @functools.cache
    def adapter() -> TypeAdapter[str]:
        return TypeAdapter(kind)

    def parse(text: str) -> str:
        try:
            return adapter().validate_python(text)
        except ValidationError as exc:
            why = "; ".join(error_message(e) for e in exc.errors())
            raise argparse.ArgumentTypeError(f"{_shown(text)} is not {what}: {why}") from None

    parse.__name__ = what  # argparse's own messages name the type
    return parse


@functools.cache
def _plausible_date() -> TypeAdapter[date]:
    return TypeAdapter(PlausibleDate)


# A case reference as typed (``cme-7f3a…`` is fine): upper case, no spaces.
case_arg = typed_arg(CaseRef, "a case reference")
# A person's name (--by, an officer): one line, at most 100 characters.
name_arg = typed_arg(PersonName, "a name")
# A short line of text (another LA's name).
short_text_arg = typed_arg(ShortText, "usable text")
# Free text (a concern, information, a reason): line breaks kept, no control characters.
text_arg = typed_arg(FreeText, "usable text")
# Optional free text (--note, --advice): blank is "".
note_arg = typed_arg(Note, "a usable note")
# A reference number or code (MASH's reference, the EHE letter's).
reference_arg = typed_arg(Reference, "a reference")
email_arg = typed_arg(EmailAddress, "an email address")
laestab_arg = typed_arg(Laestab, "a LAESTAB")


def date_arg(text: str) -> date:
    value = text.strip().lower()
    if value == "today":
        return today()
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date: use YYYY-MM-DD, e.g. 2026-03-02, or today"
        ) from None
    try:
        return _plausible_date().validate_python(day)
    except ValidationError as exc:
        raise argparse.ArgumentTypeError(error_message(exc.errors()[0])) from None


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output (JSON)")


def print_json(value: Any) -> None:
    emit_json(value)


def episode_arg(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not an episode number: 1, 2, ...")
    return int(text)
