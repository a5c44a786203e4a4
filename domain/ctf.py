"""Destination codes of the Common Transfer File (seed appendix 1).

When a pupil leaves, the school sends a CTF through the DfE School to School (s2s) service, named by
its destination:

- the destination school's LAESTAB: 3-digit LA number + 4-digit establishment number (``8512001``);
- ``MMMMMMMM``: Scotland or an independent school;
- ``702`` + the school's 4-digit number: a Service Children's Education school (s2s treats SCE as
  LA 702), or ``702LLLL`` when the service school is not yet known (SCE forwards the file);
- ``XXXXXXXX``: the Lost Pupil Database, when the destination is unknown, the pupil leaves the
  maintained system, is home educated or emigrates.

An LA number with ``LLLL`` (``851LLLL``) is never a destination, except 702 for service children:
a pupil whose school is not known goes to the Lost Pupil Database.
"""

from __future__ import annotations

import re
from enum import StrEnum

SCOTLAND_OR_INDEPENDENT = "MMMMMMMM"
LOST_PUPIL_DATABASE = "XXXXXXXX"
SERVICE_CHILDREN_LA = "702"
SERVICE_SCHOOL_NOT_KNOWN = "702LLLL"

_LAESTAB = re.compile(r"^(\d{3})(\d{4})$")
_LA_WITHOUT_SCHOOL = re.compile(r"^(\d{3})LLLL$")


class DestinationKind(StrEnum):
    SCHOOL = "school"
    SCOTLAND_OR_INDEPENDENT = "scotland_or_independent"
    SERVICE_CHILDREN = "service_children"
    UNKNOWN = "unknown"


def _normalise(code: str) -> str:
    return "".join(code.split()).upper()


def validate_ctf_destination(code: str) -> str:
    """``code`` upper-case without spaces; a ``ValueError`` says what is wrong with it."""
    normal = _normalise(code)
    if not normal:
        raise ValueError(
            "the CTF destination is empty: give the destination school's LAESTAB, or XXXXXXXX "
            "(Lost Pupil Database) when the school is not known"
        )
    if normal in (SCOTLAND_OR_INDEPENDENT, LOST_PUPIL_DATABASE, SERVICE_SCHOOL_NOT_KNOWN):
        return normal
    if _LAESTAB.match(normal):
        return normal
    no_school = _LA_WITHOUT_SCHOOL.match(normal)
    if no_school:
        raise ValueError(
            f"{normal} is an LA code without a school: when the school is not known use "
            f"{LOST_PUPIL_DATABASE} (Lost Pupil Database)"
        )
    raise ValueError(
        f"{normal} is not a CTF destination: use the destination school's LAESTAB (7 digits, "
        f"e.g. 8512001), {SCOTLAND_OR_INDEPENDENT} (Scotland or an independent school), "
        f"702 + the school number or {SERVICE_SCHOOL_NOT_KNOWN} (Service Children's Education), "
        f"or {LOST_PUPIL_DATABASE} (Lost Pupil Database)"
    )


def ctf_destination_kind(code: str) -> DestinationKind:
    """What kind of destination a (valid) CTF destination code names."""
    normal = validate_ctf_destination(code)
    if normal == SCOTLAND_OR_INDEPENDENT:
        return DestinationKind.SCOTLAND_OR_INDEPENDENT
    if normal == LOST_PUPIL_DATABASE:
        return DestinationKind.UNKNOWN
    if normal.startswith(SERVICE_CHILDREN_LA):
        return DestinationKind.SERVICE_CHILDREN
    return DestinationKind.SCHOOL
