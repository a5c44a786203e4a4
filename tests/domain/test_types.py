"""domain.types: each type's accepted and normalised values, its refusals and their messages.

Every value is synthetic (Ofcom drama numbers 01632 960xxx and 07700 900xxx, reserved example
domains, ZZ postcodes).
"""

from __future__ import annotations

import unicodedata
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError
from stdnum.gb import upn as stdnum_upn

from domain import types
from domain.types import (
    EMAIL_MESSAGE,
    LAESTAB_MESSAGE,
    PHONE_CHARACTERS_MESSAGE,
    POSTCODE_MESSAGE,
    UPN_CHECK_MESSAGE,
    UPN_FORMAT_MESSAGE,
    UPN_LENGTH_MESSAGE,
    CaseRef,
    EmailAddress,
    FreeText,
    Laestab,
    Note,
    PersonName,
    Phone,
    PlausibleDate,
    Postcode,
    Reference,
    RequestId,
    ShortText,
    Upn,
    check_email,
    check_laestab,
    check_phone,
    check_postcode,
    check_text,
    check_upn,
    error_message,
)

SINGLE_LINE = "must not contain control characters or line breaks"
MULTI_LINE = "must not contain control characters"


def ok(kind: Any, value: object) -> Any:
    return TypeAdapter(kind).validate_python(value)


def refused(kind: Any, value: object) -> str:
    """The one message a refused value gets, in plain words."""
    with pytest.raises(ValidationError) as exc:
        TypeAdapter(kind).validate_python(value)
    errors = exc.value.errors()
    assert len(errors) == 1, errors
    return error_message(errors[0])


# -- text ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "normal"),
    [
        ("Jacob Samplefield", "Jacob Samplefield"),
        ("  Jacob   Samplefield \t", "Jacob Samplefield"),
        ("Jacob\tSamplefield", "Jacob Samplefield"),  # a tab is whitespace
        ("Zoë O'Brien-Ñúñez", "Zoë O'Brien-Ñúñez"),
        ("محمد", "محمد"),
        ("a" * 100, "a" * 100),
        ("a" + " " * 150 + "b", "a b"),  # the limit counts what is kept
    ],
)
def test_person_name_is_trimmed_and_folded(value: str, normal: str) -> None:
    assert ok(PersonName, value) == normal


@pytest.mark.parametrize(
    ("value", "found"),
    [
        ("Jacob\x00", "U+0000"),  # NUL: PostgreSQL refuses it
        ("\x1b[31mJacob", "U+001B"),  # an escape code
        ("Jacob\nSamplefield", "U+000A"),  # a line break in a single line
        ("Jacob\rSamplefield", "U+000D"),
        ("Jacob\u2028Samplefield", "U+2028"),  # Unicode's line separator
        ("Jacob\ud800", "U+D800"),  # an unpaired surrogate: cannot be UTF-8
        ("Jacob\u0085", "U+0085"),  # NEL, a C1 control
        ("Jacob\ue000", "U+E000"),  # private use
        ("Jacob\uffff", "U+FFFF"),  # a noncharacter
    ],
)
def test_single_line_text_refuses_control_characters_and_line_breaks(
    value: str, found: str
) -> None:
    for kind in (PersonName, ShortText, Reference):
        assert refused(kind, value) == f"{SINGLE_LINE} (found {found})"


def test_the_message_lists_at_most_three_characters() -> None:
    with pytest.raises(ValueError) as exc:
        check_text("\x00\x01\x02\x03\x04")
    assert str(exc.value) == f"{SINGLE_LINE} (found U+0000, U+0001, U+0002, ...)"


@pytest.mark.parametrize(
    ("kind", "limit"), [(PersonName, 100), (ShortText, 200), (Reference, 100), (FreeText, 4000)]
)
def test_length_limits(kind: Any, limit: int) -> None:
    assert ok(kind, "x" * limit) == "x" * limit
    assert refused(kind, "x" * (limit + 1)) == f"must be at most {limit} characters"
    assert refused(kind, "") == "must not be empty"
    assert refused(kind, " \t ") == "must not be empty"
    assert refused(kind, 5) == "must be text"


def test_free_text_keeps_its_lines_and_tabs() -> None:
    assert ok(FreeText, "  Seen at the GP.\r\nMother said:\r\tnew school\u2029 ") == (
        "Seen at the GP.\nMother said:\n\tnew school"
    )
    assert refused(FreeText, "seen\x00") == f"{MULTI_LINE} (found U+0000)"
    assert refused(FreeText, "seen \x1b]0;title\x07") == f"{MULTI_LINE} (found U+0007, U+001B)"
    assert refused(FreeText, "seen\ud83d") == f"{MULTI_LINE} (found U+D83D)"
    assert refused(FreeText, "\n\n") == "must not be empty"


@pytest.mark.parametrize(("value", "normal"), [(None, ""), ("", ""), ("  \n ", ""), (" a ", "a")])
def test_note_is_optional_free_text(value: str | None, normal: str) -> None:
    assert ok(Note, value) == normal


def test_note_refuses_what_free_text_refuses() -> None:
    assert refused(Note, "x\x00") == f"{MULTI_LINE} (found U+0000)"
    assert refused(Note, "x" * 4001) == "must be at most 4000 characters"


def test_a_note_field_defaults_to_empty() -> None:
    class Form(BaseModel):
        note: Note = ""

    assert Form().note == ""
    assert Form.model_validate({"note": None}).note == ""


def test_unassigned_code_points_are_accepted() -> None:
    """Which code points are unassigned depends on the Python version: refusing them would let
    a newer Python accept what an older worker refuses."""
    assert ok(ShortText, "a\U000e0080b") == "a\U000e0080b"


def test_text_json_schema_shows_the_limits() -> None:
    schema = TypeAdapter(PersonName).json_schema()
    assert (schema["type"], schema["minLength"], schema["maxLength"]) == ("string", 1, 100)
    assert TypeAdapter(Note).json_schema()["maxLength"] == 4000


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300), st.booleans())
def test_check_text_is_idempotent(value: str, multiline: bool) -> None:
    try:
        once = check_text(value, multiline=multiline)
    except ValueError:
        return
    assert check_text(once, multiline=multiline) == once


# -- email -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "normal"),
    [
        ("chris.demo@example.org", "chris.demo@example.org"),
        ("  Chris.Demo@EXAMPLE.ORG ", "Chris.Demo@example.org"),
        ("cme@portsmouth.gov.uk", "cme@portsmouth.gov.uk"),
        ("first+tag@sub.example.co.uk", "first+tag@sub.example.co.uk"),
        # reserved test domains (RFC 2606, RFC 6761), for test and development settings
        ("mash@example.invalid", "mash@example.invalid"),
        ("cme-service@localhost", "cme-service@localhost"),
        ("a@schools.example.invalid", "a@schools.example.invalid"),
        ("a@example.test", "a@example.test"),
        ("a@host.example", "a@host.example"),
        ("a@printer.local", "a@printer.local"),
        # an internationalised domain, in the form every mail server takes
        ("a@bücher.example.org", "a@xn--bcher-kva.example.org"),
    ],
)
def test_email_accepted_and_normalised(value: str, normal: str) -> None:
    assert check_email(value) == normal
    assert ok(EmailAddress, value) == normal
    assert check_email(normal) == normal


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("chris,demo@example.org", "invalid characters before the @-sign: ','"),
        ("cme at exampleshire", None),
        ("", None),
        ("@example.org", None),
        ("chris@", None),
        ("chris@exampleshire", "It should have a period"),
        ("chris demo@example.org", "invalid characters before the @-sign: SPACE"),
        ("chris@@example.org", "invalid characters"),
        ("chris\x00@example.org", "U+0000"),
        ("chris@example.org\n", None),  # stripped: accepted; see below
        ('"chris demo"@example.org', "Quoting the part before the @-sign is not allowed"),
        ("chris@[192.0.2.1]", "bracketed IP address"),
        ("zoë@example.org", "Internationalized characters before the @-sign are not supported"),
        ("chris@example..org", "two periods in a row"),
    ],
)
def test_email_refused_with_the_fault(value: str, why: str | None) -> None:
    if value == "chris@example.org\n":
        assert check_email(value) == "chris@example.org"
        return
    message = refused(EmailAddress, value)
    if why is None:
        assert message == EMAIL_MESSAGE
    else:
        assert message.startswith(EMAIL_MESSAGE + ": ")
        assert why in message


def test_email_length() -> None:
    local = "a" * 64
    long = f"{local}@{'b' * 60}.{'c' * 60}.{'d' * 60}.{'e' * 60}.org"
    assert len(long) > 254
    assert refused(EmailAddress, long) == "email address must be at most 254 characters"


# -- LAESTAB, UPN, postcode, phone -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "normal"), [("8512000", "8512000"), ("851/2000", "8512000"), (8512000, "8512000")]
)
def test_laestab(value: object, normal: str) -> None:
    assert ok(Laestab, value) == normal


@pytest.mark.parametrize(
    "value", ["851200", "85120001", "851-2000", "８５１２０００", "٨٥١٢٠٠٠", ""]
)
def test_bad_laestab(value: str) -> None:
    assert refused(Laestab, value) == LAESTAB_MESSAGE
    with pytest.raises(ValueError):
        check_laestab(value)


def _upn(body: str) -> str:
    return str(stdnum_upn.calc_check_digit(body)) + body


@pytest.mark.parametrize(
    ("value", "normal"),
    [
        ("Z851200018002", "Z851200018002"),
        (" z8512 0001 8002 ", "Z851200018002"),
        (_upn("940200025001"), _upn("940200025001")),  # an LA newer than stdnum's list
    ],
)
def test_upn(value: str, normal: str) -> None:
    assert ok(Upn, value) == normal
    assert check_upn(normal) == normal


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("Z85120001800", UPN_LENGTH_MESSAGE),
        ("A851200018002", UPN_CHECK_MESSAGE),
        ("Z85120001800!", UPN_FORMAT_MESSAGE),
        ("Z851200018002\x00", UPN_FORMAT_MESSAGE),
        (
            _upn("999200025001"),
            "UPN must carry an English LA number after the check letter: 999 is not one",
        ),
    ],
)
def test_bad_upn(value: str, message: str) -> None:
    assert refused(Upn, value) == message


@pytest.mark.parametrize(
    ("value", "normal"),
    [
        ("PO1 2AB", "PO1 2AB"),
        ("po12ab", "PO1 2AB"),
        (" p o 1 2 a b ", "PO1 2AB"),
        ("SW1A 1AA", "SW1A 1AA"),
        ("m1 1aa", "M1 1AA"),
        ("gir0aa", "GIR 0AA"),
    ],
)
def test_postcode(value: str, normal: str) -> None:
    assert ok(Postcode, value) == normal
    assert check_postcode(normal) == normal


@pytest.mark.parametrize("value", ["PO4", "PO1 2A", "12345", "ﬀ1 2AB", "PO1\x002AB", ""])
def test_bad_postcode(value: str) -> None:
    assert refused(Postcode, value) == POSTCODE_MESSAGE


@pytest.mark.parametrize(
    ("value", "normal"),
    [
        ("01632 960123", "01632 960123"),
        ("  07700   900123 ", "07700 900123"),
        ("+44 1632 960123", "+44 1632 960123"),
        ("01632960123", "01632960123"),
    ],
)
def test_phone(value: str, normal: str) -> None:
    assert ok(Phone, value) == normal
    assert check_phone(normal) == normal


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("07700-900123", PHONE_CHARACTERS_MESSAGE),
        ("０１６３２ ９６０１２３", PHONE_CHARACTERS_MESSAGE),  # digits of another script
        ("01632 960123\x00", PHONE_CHARACTERS_MESSAGE),
        (
            "+33 1 23 45 67 89",
            "+33 1 23 45 67 89 is not a UK phone number: it must start with 0 and have 10 or 11 "
            "digits, or start with +44, e.g. 01632 960123 or +44 1632 960123",
        ),
    ],
)
def test_bad_phone(value: str, message: str) -> None:
    assert refused(Phone, value) == message


# -- dates and identifiers ---------------------------------------------------------------------


@pytest.mark.parametrize("value", ["2000-01-01", "2026-03-02", "2099-12-31"])
def test_plausible_date(value: str) -> None:
    assert ok(PlausibleDate, value) == date.fromisoformat(value)


@pytest.mark.parametrize("value", ["1999-12-31", "0001-01-01", "2100-01-01", "9999-12-31"])
def test_implausible_date(value: str) -> None:
    assert refused(PlausibleDate, value) == (
        f"{value} is not a plausible date for a case: dates run from 2000-01-01 to 2099-12-31"
    )
    assert refused(PlausibleDate, "2026-02-30") == "must be a date like 2026-03-02"


def test_case_ref() -> None:
    assert ok(CaseRef, " cme-7f3a9c21d0b4 ") == "CME-7F3A9C21D0B4"
    for bad in ("CME-7F3A9C21D0B", "CME-7F3A9C21D0BG", "7F3A9C21D0B4", "CME-7F3A9C21D0B4\n1"):
        assert refused(CaseRef, bad) == (
            "a case reference is CME- and 12 hex digits, e.g. CME-7F3A9C21D0B4"
        )


def test_request_id() -> None:
    assert ok(RequestId, "cli:2026-03-02T10:00:00.1") == "cli:2026-03-02T10:00:00.1"
    for bad in ("short", "has space here", "x" * 101, "nul\x00in-the-middle"):
        assert refused(RequestId, bad).startswith("a request id is 8 to 100 letters")


@pytest.mark.parametrize("multiline", [False, True])
def test_refused_characters_are_exactly_controls_surrogates_private_use_and_noncharacters(
    multiline: bool,
) -> None:
    """The character classes check_text uses (fixed code points, for speed) refuse exactly the
    characters the definition names, every code point compared with the Unicode database."""

    def refused(code: int) -> bool:
        ch = chr(code)
        if ch == "\t" or (multiline and ch == "\n"):
            return False
        return (
            unicodedata.category(ch) in ("Cc", "Cs", "Co")
            or 0xFDD0 <= code <= 0xFDEF
            or (code & 0xFFFE) == 0xFFFE
            or (not multiline and ch in "\u2028\u2029")
        )

    pattern = types._REFUSED[multiline]
    wrong = [
        f"U+{code:04X}"
        for code in range(0x110000)
        if (pattern.fullmatch(chr(code)) is not None) != refused(code)
    ]
    assert wrong == []
