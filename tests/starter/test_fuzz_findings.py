"""What the fuzz test (:mod:`tests.starter.test_fuzz`) found, each as the smallest input that shows
it. Every test here fails until its bug is fixed in the product; none needs a Temporal server
(each input is refused, or should be, before anything is sent).

1. A JSON number too long for Python's int conversion (over 4300 digits) makes ``json.loads``
   raise a ``ValueError`` that ``read_referral_file`` does not catch: `cme refer` ends in a
   traceback.
2. The name of an unknown field in a referral is printed as it is: its control characters reach
   the terminal and a line break splits the problem's line in two.
3. An enquiry in a school referral's ``enquiries_made`` takes unknown fields and drops them
   (``domain.enquiries.Enquiry`` does not forbid extra fields, unlike every model of the forms): a
   misspelt ``notes`` is accepted and the school's note is lost.
4. A service child's ``service_school_number`` is checked with ``\\d``, which matches every
   script's digits: ``١٢٣٤`` is accepted and the CTF destination becomes ``702١٢٣٤``.
5. An argument the command does not take is reported by the top-level parser, which has no
   one-line errors: two lines (``usage: cme [-h] COMMAND ...`` first), the argument as it is,
   control characters included.
6. ``cme refer`` prints the name of a file it cannot read as it is.
7. A case refuses a CTF destination code naming the code as it was typed (``cme ctf CASE
   $'8\\a512001'`` prints ``rejected: destination_code: 8<BEL>512001 is not a CTF destination``):
   ``validate_ctf_destination`` removes whitespace, not control characters, and the CLI prints the
   case's reason as it is. (Found once a sent ``cme ctf`` reached a case awaiting its CTF.)
"""

from __future__ import annotations

import copy
import json
import os
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from domain.calendar import DEFAULT_CALENDAR_PATH
from domain.case.commands import ConfirmCtf
from domain.intake import ReferralInvalid, parse_referral
from starter.cli import main
from tests.domain.case.support import SCHOOL_OFFICE, at, rid, verified
from tests.domain.test_intake_roundtrip import BASES, CALENDAR, TODAY
from tests.starter.test_fuzz import control_characters

CASE = "CME-000000000000"


@pytest.fixture(autouse=True)
def nothing_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("CME_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("CME_CALENDAR_FILE", str(DEFAULT_CALENDAR_PATH))
    monkeypatch.setenv("CME_TEMPORAL_ADDRESS", "127.0.0.1:1")  # nothing may be sent


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``main`` as the `cme` script runs it (an exception other than ``SystemExit`` is a
    traceback, and fails the test)."""
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_clean_line(err: str) -> None:
    lines = err.removesuffix("\n").split("\n")
    assert len(lines) == 1, f"{len(lines)} lines: {err!r}"
    assert control_characters(err.removesuffix("\n")) == [], repr(err)


def referral(name: str) -> dict[str, Any]:
    data: dict[str, Any] = copy.deepcopy(BASES[name])
    return data


def test_a_json_number_too_long_for_python_is_one_line_not_a_traceback(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "long-number.json"
    path.write_text('{"form": "school_cme_referral", "pupil": ' + "1" * 5000 + "}")
    code, out, err = run(capsys, "refer", str(path))  # ValueError: Exceeds the limit (4300 ...
    assert (code, out) == (2, "")
    assert_one_clean_line(err)
    assert err.startswith(f"cme: error: {path} is not JSON")


def test_an_unknown_field_name_is_shown_escaped_on_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = referral("school_cme_referral")
    data["pupil"]["first\x1b[2J\nname"] = "Jacob"
    path = tmp_path / "unknown-field.json"
    path.write_text(json.dumps(data))
    code, out, err = run(capsys, "refer", str(path))
    assert (code, out) == (2, "")
    # now: 'pupil.first\x1b[2J\nname: is not a field of this form\n'
    assert_one_clean_line(err)
    assert err.endswith(": is not a field of this form\n")


def test_an_unknown_field_of_an_enquiry_is_refused() -> None:
    data = referral("school_cme_referral")
    enquiry = data["enquiries_made"][0]
    enquiry["notes"] = enquiry.pop("note")  # misspelt
    with pytest.raises(ReferralInvalid) as refused:  # now accepted, the note dropped
        parse_referral(data, today=TODAY, calendar=CALENDAR)
    assert [(p.field, p.message) for p in refused.value.problems] == [
        ("enquiries_made.0.notes", "is not a field of this form")
    ]


def test_a_service_school_number_in_another_scripts_digits_is_refused() -> None:
    data = referral("pupil_migration_return")
    data["destination"] = {"kind": "service_children", "service_school_number": "١٢٣٤"}
    with pytest.raises(ReferralInvalid) as refused:  # now accepted: CTF destination 702١٢٣٤
        parse_referral(data, today=TODAY, calendar=CALENDAR)
    assert [p.field for p in refused.value.problems] == ["destination.service_school_number"]


@pytest.mark.parametrize("extra", ["extra", "\x1b[2J", "two\nlines"])
def test_an_argument_the_command_does_not_take_is_one_line(
    capsys: pytest.CaptureFixture[str], extra: str
) -> None:
    code, out, err = run(capsys, "reassign", CASE, "Officer Z", "--by", "Lead Y", extra)
    assert (code, out) == (2, "")
    # now: 'usage: cme [-h] COMMAND ...\ncme: error: unrecognized arguments: <extra as it is>\n'
    assert_one_clean_line(err)
    assert err.startswith("cme reassign: error: ")


def test_a_file_that_cannot_be_read_is_named_escaped(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(capsys, "refer", str(tmp_path / "no\nsuch\x1b[2J.json"))
    assert (code, out) == (2, "")
    # now: 'cme: error: cannot read .../no\nsuch\x1b[2J.json: no such file\n'
    assert_one_clean_line(err)
    assert err.startswith("cme: error: cannot read ")


def test_a_refused_ctf_destination_is_named_escaped() -> None:
    case, _ = verified()
    reason = case.refuse(
        ConfirmCtf(
            by=SCHOOL_OFFICE,
            request_id=rid(),
            destination_code="8\x07512001",
            sent_on=date(2026, 2, 24),
        ),
        when=at(date(2026, 2, 24)),
    )
    # now: 'destination_code: 8\x07512001 is not a CTF destination: use ...', printed by the CLI
    # as `cme: error: rejected: <reason>`
    assert reason.startswith("destination_code: ")
    assert control_characters(reason) == [], repr(reason)
