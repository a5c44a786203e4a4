"""CTF destination codes (seed appendix 1; DfE School to School guidance) and the CTF deadline."""

from __future__ import annotations

from datetime import date

import pytest

from domain.calendar import DEFAULT_CALENDAR_PATH, SchoolCalendar
from domain.ctf import (
    CTF_ALIASES,
    LOST_PUPIL_DATABASE,
    SCOTLAND_OR_INDEPENDENT,
    DestinationKind,
    SchoolType,
    ctf_deadline,
    ctf_deadline_binds,
    ctf_destination_kind,
    is_la_without_school,
    validate_ctf_destination,
)

PORTSMOUTH = SchoolCalendar.load(DEFAULT_CALENDAR_PATH)


@pytest.mark.parametrize(
    ("code", "normal", "kind"),
    [
        ("8512001", "8512001", DestinationKind.SCHOOL),
        (" 851 2001 ", "8512001", DestinationKind.SCHOOL),
        ("8502003", "8502003", DestinationKind.SCHOOL),
        ("MMMMMMM", "MMMMMMM", DestinationKind.SCOTLAND_OR_INDEPENDENT),
        ("mmmmmmm", "MMMMMMM", DestinationKind.SCOTLAND_OR_INDEPENDENT),
        ("XXXXXXX", "XXXXXXX", DestinationKind.UNKNOWN),
        ("xxx xxxx", "XXXXXXX", DestinationKind.UNKNOWN),
        ("702LLLL", "702LLLL", DestinationKind.SERVICE_CHILDREN),
        ("702llll", "702LLLL", DestinationKind.SERVICE_CHILDREN),
        ("7024001", "7024001", DestinationKind.SERVICE_CHILDREN),
    ],
)
def test_accepted_destinations(code: str, normal: str, kind: DestinationKind) -> None:
    assert validate_ctf_destination(code) == normal
    assert ctf_destination_kind(code) is kind


def test_lost_pupil_database_is_xxx_plus_xxxx() -> None:
    # DfE School to School guidance: an unknown destination is LA XXX and school XXXX.
    assert LOST_PUPIL_DATABASE == "XXX" + "XXXX"
    assert SCOTLAND_OR_INDEPENDENT == "MMM" + "MMMM"


@pytest.mark.parametrize(
    ("alias", "canonical", "kind"),
    [
        ("XXXXXXXX", "XXXXXXX", DestinationKind.UNKNOWN),
        ("xxxx xxxx", "XXXXXXX", DestinationKind.UNKNOWN),
        ("MMMMMMMM", "MMMMMMM", DestinationKind.SCOTLAND_OR_INDEPENDENT),
        ("mmmmmmmm", "MMMMMMM", DestinationKind.SCOTLAND_OR_INDEPENDENT),
    ],
)
def test_the_seeds_eight_letter_forms_are_aliases(
    alias: str, canonical: str, kind: DestinationKind
) -> None:
    # Seed appendix 1 writes XXXXXXXX and MMMMMMMM; histories recorded with them still decode.
    assert validate_ctf_destination(alias) == canonical
    assert ctf_destination_kind(alias) is kind
    assert CTF_ALIASES == {"XXXXXXXX": "XXXXXXX", "MMMMMMMM": "MMMMMMM"}


LA_WITHOUT_SCHOOL = (
    "{la}LLLL is an LA code without a school: use XXXXXXX, the Lost Pupil Database, when the "
    "school is not known (Portsmouth guidance, appendix 1)"
)


@pytest.mark.parametrize("code", ["851LLLL", "850LLLL", "851llll", "851 LLLL"])
def test_an_la_code_without_a_school_is_rejected_by_default(code: str) -> None:
    # Seed appendix 1: "please do not send the file to the Local Authority number (LLLL), e.g.
    # 851LLLL ... These children must be logged on the Lost Pupil Database."
    with pytest.raises(ValueError) as exc:
        validate_ctf_destination(code)
    assert str(exc.value) == LA_WITHOUT_SCHOOL.format(la=code[:3])
    assert is_la_without_school(code)


def test_an_la_code_without_a_school_where_the_la_accepts_it() -> None:
    assert validate_ctf_destination("851 llll", refuse_la_without_school=False) == "851LLLL"
    assert (
        ctf_destination_kind("851LLLL", refuse_la_without_school=False) is DestinationKind.UNKNOWN
    )
    # 702LLLL is a destination either way (SCE forwards the file).
    assert not is_la_without_school("702LLLL")


@pytest.mark.parametrize("code", ["851200", "85120011", "XXXXXX", "XXXXXXXXX", "851/LLLL", "abc"])
def test_other_codes_are_rejected(code: str) -> None:
    with pytest.raises(ValueError, match="is not a CTF destination: use the destination school"):
        validate_ctf_destination(code)


def test_empty_code_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"^the CTF destination is empty"):
        validate_ctf_destination("  ")


def test_kind_of_an_invalid_code_raises() -> None:
    with pytest.raises(ValueError, match="851LLLL is an LA code without a school"):
        ctf_destination_kind("851LLLL")


def test_ctf_deadline_runs_15_school_days_from_the_deletion() -> None:
    # The Education (Pupil Information) (England) Regulations 2005 reg 9(3): within 15 school days
    # of the pupil ceasing to be registered. Deleted Fri 17 Oct 2025 (Portsmouth 2025/26, half
    # term 27-31 Oct): 20-24 Oct = 1-5, 3-7 Nov = 6-10, 10-14 Nov = 11-15, so Fri 14 Nov 2025.
    assert ctf_deadline(date(2025, 10, 17), PORTSMOUTH) == date(2025, 11, 14)
    # School 8512000's INSET day Mon 3 Nov 2025 is not counted: Mon 17 Nov 2025.
    assert ctf_deadline(date(2025, 10, 17), PORTSMOUTH, "8512000") == date(2025, 11, 17)


@pytest.mark.parametrize(
    ("school_type", "binds"),
    [
        (SchoolType.LA_MAINTAINED, True),
        (SchoolType.ACADEMY, False),  # strongly encouraged: a reminder, not a breach
        (SchoolType.NON_MAINTAINED_SPECIAL, False),
        (SchoolType.INDEPENDENT, False),
        (None, True),  # not known: treated as maintained until the LA records otherwise
    ],
)
def test_ctf_deadline_binds_la_maintained_schools(
    school_type: SchoolType | None, binds: bool
) -> None:
    assert ctf_deadline_binds(school_type) is binds
