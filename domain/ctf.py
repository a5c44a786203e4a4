"""Destination codes and the deadline of the Common Transfer File (seed appendix 1).

When a pupil leaves, the school sends a CTF through the DfE School to School (s2s) service, named by
its destination:

- the destination school's LAESTAB: 3-digit LA number + 4-digit establishment number (``8512001``);
- ``MMMMMMM``: Scotland or an independent school;
- ``702`` + the school's 4-digit number: a Service Children's Education school (s2s treats SCE as
  LA 702), or ``702LLLL`` when the service school is not yet known (SCE forwards the file);
- ``XXXXXXX``: the Lost Pupil Database, when the destination is unknown, the pupil leaves the
  maintained system, is home educated or emigrates.

DfE's School to School guidance writes an unknown destination as LA ``XXX`` and school ``XXXX``:
``XXXXXXX``, seven characters like every other destination; likewise ``MMMMMMM``. The Portsmouth
guidance (2017, appendix 1) writes eight, ``XXXXXXXX`` and ``MMMMMMMM``: those are accepted as
aliases (:data:`CTF_ALIASES`) and turned into the seven-letter form, so every code recorded before
(workflow histories hold the eight-letter forms) still decodes.

An LA number with ``LLLL`` (``851LLLL``), an LA without a school, is refused by default: the
Portsmouth rule of appendix 1 ("please do not send the file to the Local Authority number (LLLL)
... These children must be logged on the Lost Pupil Database"), an LA setting
(``refuse_la_without_school``). 702 for service children is the exception.

The CTF is due within 15 school days of the pupil ceasing to be registered (The Education (Pupil
Information) (England) Regulations 2005, reg 9(3); seed appendix 1): :func:`ctf_deadline`. The duty
binds LA-maintained schools; academies are strongly encouraged to follow it, so for them the
deadline is a reminder, not an overdue escalation (:func:`ctf_deadline_binds`).
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum

from domain.calendar import SchoolCalendar
from domain.types import printable

SCOTLAND_OR_INDEPENDENT = "MMMMMMM"
LOST_PUPIL_DATABASE = "XXXXXXX"
# The seed's eight-letter spellings, accepted and turned into the canonical seven-letter ones.
CTF_ALIASES: dict[str, str] = {
    "MMMMMMMM": SCOTLAND_OR_INDEPENDENT,
    "XXXXXXXX": LOST_PUPIL_DATABASE,
}
SERVICE_CHILDREN_LA = "702"
SERVICE_SCHOOL_NOT_KNOWN = "702LLLL"
CTF_SCHOOL_DAYS = 15

# ASCII digits only: ``\d`` would also accept other scripts' digits.
_LAESTAB = re.compile(r"^([0-9]{3})([0-9]{4})$")
_LA_WITHOUT_SCHOOL = re.compile(r"^([0-9]{3})LLLL$")


class DestinationKind(StrEnum):
    SCHOOL = "school"
    SCOTLAND_OR_INDEPENDENT = "scotland_or_independent"
    SERVICE_CHILDREN = "service_children"
    UNKNOWN = "unknown"


class SchoolType(StrEnum):
    """Who the CTF deadline binds: the leaving school's legal category."""

    LA_MAINTAINED = "la_maintained"  # community, foundation, voluntary, maintained special, PRU
    ACADEMY = "academy"  # academies and free schools
    NON_MAINTAINED_SPECIAL = "non_maintained_special"
    INDEPENDENT = "independent"


def _normalise(code: str) -> str:
    return "".join(code.split()).upper()


def la_without_school_message(code: str) -> str:
    """What an officer or a school reads when it names an LA without a school (``851LLLL``)."""
    return (
        f"{_normalise(code)} is an LA code without a school: use {LOST_PUPIL_DATABASE}, the Lost "
        "Pupil Database, when the school is not known (Portsmouth guidance, appendix 1)"
    )


def is_la_without_school(code: str) -> bool:
    """Whether ``code`` names an LA but no school (``851LLLL``); ``702LLLL`` is a destination."""
    normal = _normalise(code)
    return normal != SERVICE_SCHOOL_NOT_KNOWN and _LA_WITHOUT_SCHOOL.match(normal) is not None


def validate_ctf_destination(code: str, *, refuse_la_without_school: bool = True) -> str:
    """``code`` upper-case without spaces, aliases made canonical (``XXXXXXXX`` -> ``XXXXXXX``).

    A ``ValueError`` says what is wrong with it. An LA code without a school (``851LLLL``) is
    refused while ``refuse_la_without_school`` (the LA's setting, on by default) is on, and
    accepted as it is when the LA has turned it off.
    """
    normal = _normalise(code)
    normal = CTF_ALIASES.get(normal, normal)
    if not normal:
        raise ValueError(
            f"the CTF destination is empty: give the destination school's LAESTAB, or "
            f"{LOST_PUPIL_DATABASE} (Lost Pupil Database) when the school is not known"
        )
    if normal in (SCOTLAND_OR_INDEPENDENT, LOST_PUPIL_DATABASE, SERVICE_SCHOOL_NOT_KNOWN):
        return normal
    if _LAESTAB.match(normal):
        return normal
    if _LA_WITHOUT_SCHOOL.match(normal):
        if refuse_la_without_school:
            raise ValueError(la_without_school_message(normal))
        return normal
    raise ValueError(
        f"{printable(normal, limit=20)} is not a CTF destination: use the destination school's "
        "LAESTAB (7 digits, "
        f"e.g. 8512001), {SCOTLAND_OR_INDEPENDENT} (Scotland or an independent school), "
        f"702 + the school number or {SERVICE_SCHOOL_NOT_KNOWN} (Service Children's Education), "
        f"or {LOST_PUPIL_DATABASE} (Lost Pupil Database)"
    )


def ctf_destination_kind(code: str, *, refuse_la_without_school: bool = True) -> DestinationKind:
    """What kind of destination a (valid) CTF destination code names.

    An LA code without a school, where the LA accepts one, is a destination whose school is
    unknown: :attr:`DestinationKind.UNKNOWN`.
    """
    normal = validate_ctf_destination(code, refuse_la_without_school=refuse_la_without_school)
    if normal == SCOTLAND_OR_INDEPENDENT:
        return DestinationKind.SCOTLAND_OR_INDEPENDENT
    if normal == LOST_PUPIL_DATABASE:
        return DestinationKind.UNKNOWN
    if normal.startswith(SERVICE_CHILDREN_LA):
        return DestinationKind.SERVICE_CHILDREN
    if _LA_WITHOUT_SCHOOL.match(normal):
        return DestinationKind.UNKNOWN
    return DestinationKind.SCHOOL


def ctf_deadline(
    ceased_to_be_registered_on: date, calendar: SchoolCalendar, school: str | None = None
) -> date:
    """The last day to send the CTF: the 15th school day after the pupil's name is deleted.

    The Education (Pupil Information) (England) Regulations 2005, reg 9(3): within 15 school days
    of the pupil ceasing to be registered (the day of deletion, not the day the pupil last
    attended). Counted in the leaving school's school days; raises
    :class:`~domain.calendar.CalendarEndsError` past the calendar.
    """
    return calendar.school_day_after(ceased_to_be_registered_on, CTF_SCHOOL_DAYS, school)


def ctf_deadline_binds(school_type: SchoolType | None) -> bool:
    """Whether a CTF sent late is a breach to escalate (``True``) or a reminder only (``False``).

    The 2005 regulations bind LA-maintained schools (and PRUs); academies are strongly encouraged
    to follow them, non-maintained and independent schools have no duty. A school whose type is
    not known is treated as maintained (escalated) until the LA records otherwise.
    """
    return school_type is None or school_type is SchoolType.LA_MAINTAINED
