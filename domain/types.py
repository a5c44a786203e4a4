"""One annotated type per concept, shared by every boundary: intake forms, case commands, settings
and the `cme` command's arguments.

Whatever one boundary accepts, every other decodes: a referral the CLI accepts is decoded by the
worker with these same types, so a value can never pass intake and then fail inside a case.

Every type explains itself in words a school office understands (the message of the
``ValueError`` its validator raises, which pydantic reports against the field).

* :data:`EmailAddress`: an address that mail servers accept (``email-validator``, no deliverability
  check); RFC 2606/6761 test domains (``example.invalid``, ``localhost``) are accepted for test and
  development configurations.
* :data:`Laestab`: 3-digit LA number + 4-digit establishment number.
* :data:`Upn`: the DfE Unique Pupil Number, check letter verified (``python-stdnum``).
* :data:`Postcode`: a UK postcode, normalised to ``PO1 2AB``.
* :data:`Phone`: a UK phone number.
* :data:`PersonName`, :data:`ShortText`, :data:`Reference` (single line) and :data:`FreeText`,
  :data:`Note` (multi-line; a note may be blank, and is then ``""``): text without control
  characters (no NUL, no escape codes, no unpaired surrogates), with length limits on the text
  kept; surrounding whitespace is stripped, single-line text has its runs of whitespace folded to
  one space, free text keeps its line breaks (all made ``\\n``) and tabs.
* :data:`PlausibleDate`: a date this service can meet in a real case (1 Jan 2000 to 31 Dec 2099);
  whether it is plausible *for a case* (not before the absence began, not in the future) is the
  case's rule, checked where the case is known.
* :data:`CaseRef` and :data:`RequestId`: the identifiers clients send.

Every validator is idempotent (a normalised value validates to itself), so what one process stores
another decodes to the same value. :func:`error_message` puts a pydantic error in plain words.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Annotated, Final

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints
from pydantic_core import ErrorDetails
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidLength
from stdnum.exceptions import ValidationError as NumberError
from stdnum.gb import upn as stdnum_upn

__all__ = [
    "EARLIEST_PLAUSIBLE_DATE",
    "LATEST_PLAUSIBLE_DATE",
    "CaseRef",
    "EmailAddress",
    "FreeText",
    "Laestab",
    "Note",
    "PersonName",
    "Phone",
    "PlausibleDate",
    "Postcode",
    "Reference",
    "RequestId",
    "ShortText",
    "Upn",
    "check_email",
    "check_laestab",
    "check_phone",
    "check_postcode",
    "check_text",
    "check_upn",
    "error_message",
    "printable",
]

EARLIEST_PLAUSIBLE_DATE: Final = date(2000, 1, 1)
LATEST_PLAUSIBLE_DATE: Final = date(2099, 12, 31)

# -- text ------------------------------------------------------------------------------------------

# Line breaks a multi-line text may use, all made "\n": CR LF, CR, and Unicode's line and paragraph
# separators (which some word processors paste).
_LINE_BREAKS = re.compile(r"\r\n?|\u2028|\u2029")


def _refused_class(*, multiline: bool) -> re.Pattern[str]:
    """A character class of what :func:`_control_characters` refuses, from fixed code points:
    the control characters (Cc), surrogates (Cs) and private-use characters (Co) are sets that
    Unicode's stability policy never changes, and so are the noncharacters (U+FDD0..U+FDEF and
    the last two code points of each plane). A tab is whitespace; a multi-line text may hold line
    feeds; a single-line text may not hold the line and paragraph separators either.
    (tests/domain/test_types.py checks the class against ``unicodedata`` for every code point.)"""
    ranges = [
        (0x00, 0x08),
        *([] if multiline else [(0x0A, 0x0A)]),
        (0x0B, 0x1F),
        (0x7F, 0x9F),
        *([] if multiline else [(0x2028, 0x2029)]),
        (0xD800, 0xDFFF),
        (0xE000, 0xF8FF),
        (0xFDD0, 0xFDEF),
        *((plane + 0xFFFE, plane + 0xFFFF) for plane in range(0, 0xF0000, 0x10000)),
        (0xF0000, 0x10FFFF),  # planes 15 and 16: private use, and their noncharacters
    ]
    return re.compile("[" + "".join(f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges) + "]")


# Checked on every free-text field of every request and record, so a regular expression rather
# than a look-up of each character's category.
_REFUSED = {multiline: _refused_class(multiline=multiline) for multiline in (False, True)}


def _control_characters(text: str, *, multiline: bool) -> list[str]:
    """The characters of ``text`` that no typed text holds, as ``U+XXXX``, sorted.

    Control characters (NUL, escape codes...; tabs are whitespace, and a multi-line text may
    have line feeds), unpaired surrogates (they cannot be stored as UTF-8), private-use
    characters and noncharacters, and in single-line text the Unicode line and paragraph
    separators. Unassigned code points are *not* refused: which ones are unassigned depends on
    the Python version's Unicode database, and a value one process accepts must decode in every
    other.
    """
    return sorted({f"U+{ord(ch):04X}" for ch in _REFUSED[multiline].findall(text)})


def printable(text: str, *, limit: int = 80) -> str:
    """``text`` safe to put in a one-line message: control and format characters (escape codes,
    line breaks, NUL) shown as escapes, cut to ``limit`` characters; empty is ``""``."""
    if not text:
        return '""'
    shown = "".join(
        ch
        if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Cn", "Co", "Zl", "Zp")
        else ascii(ch)[1:-1]
        for ch in text[:limit]
    )
    return shown + ("..." if len(text) > limit else "")


def check_text(value: str, *, multiline: bool = False) -> str:
    """``value`` without surrounding whitespace; single-line text has its runs of spaces folded,
    multi-line text has its line breaks made ``\\n``.

    Refuses control characters (NUL, escape codes), unpaired surrogates, private-use characters
    and noncharacters, and line breaks in single-line text: they corrupt registers (PostgreSQL
    refuses NUL and surrogates), emails and terminals, and never belong in what people type.
    Normalising is idempotent: ``check_text(check_text(v)) == check_text(v)``.
    """
    if multiline:
        value = _LINE_BREAKS.sub("\n", value)
    bad = _control_characters(value, multiline=multiline)
    if bad:
        found = ", ".join(bad[:3]) + (", ..." if len(bad) > 3 else "")
        raise ValueError(
            f"must not contain control characters (found {found})"
            if multiline
            else f"must not contain control characters or line breaks (found {found})"
        )
    return value.strip() if multiline else " ".join(value.split())


def _single_line(value: object) -> object:
    return check_text(value, multiline=False) if isinstance(value, str) else value


def _multi_line(value: object) -> object:
    return check_text(value, multiline=True) if isinstance(value, str) else value


def _optional_multi_line(value: object) -> object:
    return "" if value is None else _multi_line(value)


def _int_to_str(value: object) -> object:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


# The text is checked and normalised first (BeforeValidator), then its length is checked: a limit
# counts the characters that are kept, and the JSON schema shows minLength and maxLength.
PersonName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=100),
    BeforeValidator(_single_line),
    Field(description="a person's name", examples=["Jacob Samplefield"]),
]
ShortText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200),
    BeforeValidator(_single_line),
]
Reference = Annotated[
    str,
    StringConstraints(min_length=1, max_length=100),
    BeforeValidator(_single_line),
    Field(description="a reference number or code", examples=["MASH-2026-0042"]),
]
FreeText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=4000),
    BeforeValidator(_multi_line),
]
# Optional free text: missing, None or blank is "".
Note = Annotated[
    str,
    StringConstraints(max_length=4000),
    BeforeValidator(_optional_multi_line),
]

# -- email -----------------------------------------------------------------------------------------

EMAIL_MESSAGE = "email address must look like name@example.org"
# Domains reserved for testing and documentation (RFC 2606, RFC 6761): accepted, so that test and
# development configurations can use addresses that never reach anybody.
_RESERVED_TLDS = frozenset({"invalid", "test", "localhost", "example", "local"})


def check_email(value: str) -> str:
    """The address, normalised (domain in lower case, in Punycode if internationalised), or a
    ``ValueError`` saying what is wrong. The part before the @ must be ASCII (no SMTPUTF8)."""
    text = value.strip()
    if len(text) > 254:
        raise ValueError("email address must be at most 254 characters")
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain:
        raise ValueError(EMAIL_MESSAGE)
    last_label = domain.rstrip(".").rsplit(".", 1)[-1].lower()
    reserved = last_label in _RESERVED_TLDS
    # email-validator refuses reserved names outright; check the rest of such an address by
    # standing a public suffix in for the reserved one.
    candidate = f"{local}@{domain.rstrip('.')}.org" if reserved else text
    # Imported here: it compiles its patterns on import, which a `cme` command that checks no
    # address (`cme calendar`) need not wait for.
    from email_validator import EmailNotValidError, validate_email

    try:
        checked = validate_email(candidate, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise ValueError(f"{EMAIL_MESSAGE}: {exc}") from None
    # The ASCII form (an internationalised domain in Punycode): what every mail server accepts.
    normal = checked.ascii_email or checked.normalized
    if reserved:
        normal = normal.removesuffix(".org")
    return normal


EmailAddress = Annotated[
    str,
    AfterValidator(check_email),
    Field(max_length=254, description="an email address", examples=["cme@portsmouth.gov.uk"]),
]

# -- school and pupil identifiers ----------------------------------------------------------------

LAESTAB_MESSAGE = (
    "school LAESTAB must be 7 digits: 3-digit LA number + 4-digit establishment number, "
    "e.g. 8512000"
)


def check_laestab(value: str) -> str:
    normal = re.sub(r"[\s/]", "", value)
    # ASCII digits only: ``\d`` would also accept other scripts' digits.
    if not re.fullmatch(r"[0-9]{7}", normal):
        raise ValueError(LAESTAB_MESSAGE)
    return normal


Laestab = Annotated[
    str,
    BeforeValidator(_int_to_str),
    AfterValidator(check_laestab),
    Field(
        description="LAESTAB: 3-digit LA number + 4-digit establishment number",
        examples=["8512000"],
    ),
]

UPN_LENGTH_MESSAGE = "UPN must be 13 characters"
UPN_FORMAT_MESSAGE = (
    "UPN must be a check letter, 11 digits and a last digit (or letter, for a temporary UPN)"
)
UPN_CHECK_MESSAGE = "UPN check letter is wrong"

# LA numbers created after python-stdnum's list of LA numbers (2011); UPNs issued by their schools
# are real. 838 Dorset, 839 Bournemouth, Christchurch and Poole, 940/941 North/West
# Northamptonshire, 942 Cumberland, 943 Westmorland and Furness.
_NEWER_LA_NUMBERS = frozenset({"838", "839", "940", "941", "942", "943"})


def check_upn(value: str) -> str:
    if _control_characters(value, multiline=False):
        raise ValueError(UPN_FORMAT_MESSAGE)
    number = str(stdnum_upn.compact(value))
    try:
        return str(stdnum_upn.validate(number))
    except InvalidLength:
        raise ValueError(UPN_LENGTH_MESSAGE) from None
    except InvalidChecksum:
        raise ValueError(UPN_CHECK_MESSAGE) from None
    except InvalidComponent:
        la = number[1:4]
        if la not in _NEWER_LA_NUMBERS:
            raise ValueError(
                f"UPN must carry an English LA number after the check letter: {la} is not one"
            ) from None
        if str(stdnum_upn.calc_check_digit(number[1:])) != number[0]:
            raise ValueError(UPN_CHECK_MESSAGE) from None
        return number
    except NumberError:
        raise ValueError(UPN_FORMAT_MESSAGE) from None


Upn = Annotated[
    str,
    AfterValidator(check_upn),
    Field(description="Unique Pupil Number: 13 characters", examples=["M851200025001"]),
]

POSTCODE_MESSAGE = (
    "postcode must be a UK postcode, e.g. PO1 2AB (for an address abroad, give its country)"
)


def check_postcode(value: str) -> str:
    """The postcode in capitals with one space before the inward code (``PO1 2AB``)."""
    compact = "".join(value.split())
    # ASCII only, checked before upper(), which turns some other letters into ASCII ones.
    compact = compact.upper() if compact.isascii() else ""
    if not (re.fullmatch(r"[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}", compact) or compact == "GIR0AA"):
        raise ValueError(POSTCODE_MESSAGE)
    return f"{compact[:-3]} {compact[-3:]}"


Postcode = Annotated[
    str,
    AfterValidator(check_postcode),
    Field(max_length=10, description="a UK postcode", examples=["PO1 2AB"]),
]

PHONE_CHARACTERS_MESSAGE = (
    "a phone number may only have digits, spaces and a leading +, e.g. 01632 960123"
)


def check_phone(value: str) -> str:
    text = " ".join(value.split())
    if not re.fullmatch(r"\+?[0-9 ]+", text):
        raise ValueError(PHONE_CHARACTERS_MESSAGE)
    digits = text.replace(" ", "")
    if digits.startswith("+"):
        ok = digits.startswith("+44") and len(digits) in (12, 13) and digits[3] != "0"
    else:
        ok = digits.startswith("0") and len(digits) in (10, 11)
    if not ok:
        raise ValueError(
            f"{text} is not a UK phone number: it must start with 0 and have 10 or 11 digits, or "
            "start with +44, e.g. 01632 960123 or +44 1632 960123"
        )
    return text


Phone = Annotated[
    str,
    BeforeValidator(_int_to_str),
    AfterValidator(check_phone),
    Field(description="UK phone number: digits, spaces, leading +", examples=["01632 960123"]),
]

# -- dates -----------------------------------------------------------------------------------------


def _plausible(value: date) -> date:
    if not EARLIEST_PLAUSIBLE_DATE <= value <= LATEST_PLAUSIBLE_DATE:
        raise ValueError(
            f"{value.isoformat()} is not a plausible date for a case: dates run from "
            f"{EARLIEST_PLAUSIBLE_DATE.isoformat()} to {LATEST_PLAUSIBLE_DATE.isoformat()}"
        )
    return value


def _date_text(value: object) -> object:
    """A date is a date or ``YYYY-MM-DD`` (a number is not: 1795910400 is no date of a form)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("must be a date like 2026-03-02")
    return value


PlausibleDate = Annotated[date, BeforeValidator(_date_text), AfterValidator(_plausible)]

# -- identifiers clients send ----------------------------------------------------------------------

CASE_REF_PATTERN: Final = r"^CME-[0-9A-F]{12}$"


def _case_ref(value: str) -> str:
    normal = value.strip().upper()
    if not normal.isascii() or not re.fullmatch(CASE_REF_PATTERN, normal):
        raise ValueError("a case reference is CME- and 12 hex digits, e.g. CME-7F3A9C21D0B4")
    return normal


CaseRef = Annotated[str, AfterValidator(_case_ref)]


def _request_id(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._:-]{8,100}", value):
        raise ValueError(
            "a request id is 8 to 100 letters, digits and . _ : - (the same id for the same "
            "request, so that sending it again is safe)"
        )
    return value


RequestId = Annotated[str, AfterValidator(_request_id)]


# -- messages --------------------------------------------------------------------------------------


def error_message(error: ErrorDetails) -> str:
    """One pydantic error in plain words: this module's own message, or pydantic's for the
    limits (lengths, types) it checks itself."""
    ctx = error.get("ctx") or {}
    match error["type"]:
        case "value_error":
            return error["msg"].removeprefix("Value error, ")
        case "missing":
            return "this is required"
        case "string_too_short" if ctx.get("min_length") == 1:
            return "must not be empty"
        case "string_too_long":
            return f"must be at most {ctx.get('max_length')} characters"
        case "string_type":
            return "must be text"
        case "date_type" | "date_parsing" | "date_from_datetime_parsing":
            return "must be a date like 2026-03-02"
    return error["msg"]
