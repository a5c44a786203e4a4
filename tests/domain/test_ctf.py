"""CTF destination codes (seed appendix 1)."""

from __future__ import annotations

import pytest

from domain.ctf import DestinationKind, ctf_destination_kind, validate_ctf_destination


@pytest.mark.parametrize(
    ("code", "normal", "kind"),
    [
        ("8512001", "8512001", DestinationKind.SCHOOL),
        (" 851 2001 ", "8512001", DestinationKind.SCHOOL),
        ("8502003", "8502003", DestinationKind.SCHOOL),
        ("MMMMMMMM", "MMMMMMMM", DestinationKind.SCOTLAND_OR_INDEPENDENT),
        ("mmmmmmmm", "MMMMMMMM", DestinationKind.SCOTLAND_OR_INDEPENDENT),
        ("XXXXXXXX", "XXXXXXXX", DestinationKind.UNKNOWN),
        ("xxxx xxxx", "XXXXXXXX", DestinationKind.UNKNOWN),
        ("702LLLL", "702LLLL", DestinationKind.SERVICE_CHILDREN),
        ("702llll", "702LLLL", DestinationKind.SERVICE_CHILDREN),
        ("7024001", "7024001", DestinationKind.SERVICE_CHILDREN),
    ],
)
def test_accepted_destinations(code: str, normal: str, kind: DestinationKind) -> None:
    assert validate_ctf_destination(code) == normal
    assert ctf_destination_kind(code) is kind


@pytest.mark.parametrize("code", ["851LLLL", "850LLLL", "851llll", "851 LLLL"])
def test_an_la_code_without_a_school_is_rejected(code: str) -> None:
    la = code[:3]
    with pytest.raises(ValueError) as exc:
        validate_ctf_destination(code)
    assert str(exc.value) == (
        f"{la}LLLL is an LA code without a school: when the school is not known use XXXXXXXX "
        "(Lost Pupil Database)"
    )


@pytest.mark.parametrize("code", ["851200", "85120011", "MMMMMMM", "XXXXXXX", "851/LLLL", "abc"])
def test_other_codes_are_rejected(code: str) -> None:
    with pytest.raises(ValueError, match="is not a CTF destination: use the destination school"):
        validate_ctf_destination(code)


def test_empty_code_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"^the CTF destination is empty"):
        validate_ctf_destination("  ")


def test_kind_of_an_invalid_code_raises() -> None:
    with pytest.raises(ValueError, match="851LLLL is an LA code without a school"):
        ctf_destination_kind("851LLLL")
