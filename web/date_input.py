"""A GOV.UK date input (day, month and year boxes) read from a form or a query string, with the
error messages of the GOV.UK Design System's date input pattern for what is missing or not a
date, and the domain's own words (:mod:`domain.types`, the intake) for a date the service does
not accept: outside the plausible range, or in the future.

The boxes are named ``<name>-day``, ``<name>-month`` and ``<name>-year`` (the component's
``namePrefix``); a page that links to itself may also give the whole date as ``<name>=YYYY-MM-DD``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from pydantic import TypeAdapter, ValidationError

from domain.calendar import human_date
from domain.types import PlausibleDate, error_message

__all__ = ["DateField", "read_date"]

PARTS = ("day", "month", "year")
_PLAUSIBLE: TypeAdapter[date] = TypeAdapter(PlausibleDate)


@dataclass
class DateField:
    """What a date input holds: the boxes as typed, the date when they make one, and the error
    (with the boxes it is about, to mark in red, and the id the error summary links to)."""

    name: str
    parts: dict[str, str]
    value: date | None = None
    error: str | None = None
    error_parts: tuple[str, ...] = ()
    given: bool = False  # anything was typed

    @property
    def error_id(self) -> str:
        return f"{self.name}-{(self.error_parts or PARTS)[0]}"

    def items(self) -> list[dict[str, str]]:
        """The component's ``items``: each box with its value, and the error's red outline."""
        widths = {"day": "2", "month": "2", "year": "4"}
        return [
            {
                "name": part,
                "value": self.parts.get(part, ""),
                "classes": f"govuk-input--width-{widths[part]}"
                + (" govuk-input--error" if part in self.error_parts else ""),
            }
            for part in PARTS
        ]


@dataclass
class _Problem(Exception):
    message: str
    parts: tuple[str, ...] = field(default=PARTS)


def read_date(
    values: Mapping[str, str], name: str, label: str, *, latest: date | None = None
) -> DateField:
    """The date input ``name`` (its words ``label``: "Census date") from ``values``.
    ``latest``: the last day accepted (today, for a date that cannot be in the future)."""
    whole = values.get(name, "").strip()
    if whole and not any(values.get(f"{name}-{p}", "").strip() for p in PARTS):
        year, _, rest = whole.partition("-")
        month, _, day = rest.partition("-")
        parts = {"day": day, "month": month, "year": year}
    else:
        parts = {p: values.get(f"{name}-{p}", "").strip() for p in PARTS}
    result = DateField(name=name, parts=parts, given=any(parts.values()))
    try:
        result.value = _date(parts, label, latest)
    except _Problem as problem:
        result.error = problem.message
        result.error_parts = problem.parts
    return result


def _date(parts: dict[str, str], label: str, latest: date | None) -> date:
    missing = tuple(p for p in PARTS if not parts[p])
    if len(missing) == len(PARTS):
        raise _Problem(f"Enter the {label[:1].lower()}{label[1:]}")
    if missing:
        raise _Problem(f"{label} must include a {' and '.join(missing)}", missing)
    if not all(parts[p].isascii() and parts[p].isdigit() for p in PARTS):
        wrong = tuple(p for p in PARTS if not (parts[p].isascii() and parts[p].isdigit()))
        raise _Problem(f"{label} must be a real date", wrong)
    if len(parts["year"]) != 4:
        raise _Problem("Year must include 4 numbers", ("year",))
    try:
        day = date(int(parts["year"]), int(parts["month"]), int(parts["day"]))
    except ValueError:
        raise _Problem(f"{label} must be a real date") from None
    try:
        _PLAUSIBLE.validate_python(day)
    except ValidationError as exc:
        raise _Problem(f"{label}: {error_message(exc.errors()[0])}") from None
    if latest is not None and day > latest:
        # The intake's words for a date in the future.
        raise _Problem(
            f"{label}: {human_date(day)} is in the future: today is {human_date(latest)}"
        )
    return day
