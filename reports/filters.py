"""The case list's filter: what a list of cases is narrowed to, and what every dashboard figure
carries so that its number links to exactly the cases behind it.

A filter travels in a page's query string (:meth:`CaseFilter.to_query`,
:meth:`CaseFilter.from_query`): stages, kinds, LAESTABs, flags and dates only, never a child's
personal data. A query that cannot be read is refused with a :class:`BadFilter` naming the
parameter and why.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date
from enum import StrEnum
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from domain.case.model import CaseKind, Stage
from domain.types import Laestab

__all__ = ["BadFilter", "CaseFilter", "Status"]


class Status(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class BadFilter(ValueError):
    """A case-list filter that cannot be read: the message names the parameter and why."""


# The query-string names of the filter's fields, in the order a query is written.
_FIELDS = (
    "status",
    "stage",
    "kind",
    "school",
    "no_school",
    "child_protection",
    "overdue",
    "mash_call_pending",
    "opened_from",
    "opened_to",
    "sat_referred_from",
    "sat_referred_to",
    "located_from",
    "located_to",
)
_RANGES = (
    ("opened_from", "opened_to"),
    ("sat_referred_from", "sat_referred_to"),
    ("located_from", "located_to"),
)


class CaseFilter(BaseModel):
    """Every condition given must hold (``None``: any). Dates are local (Europe/London) days,
    both ends included.

    * ``status``: open (any stage but closed) or closed; ``stage``: one stage;
    * ``school``: a case of that school (the school the child is missing from or, for a child on
      no roll referred by a school's user, that user's school); ``no_school``: cases of no
      school (a professional's referral of a child on no roll);
    * ``child_protection``, ``overdue`` (an open task past its due date), ``mash_call_pending``
      (a child-protection case whose MASH call is not yet recorded);
    * ``opened_*``: the day the case opened; ``sat_referred_*``: the day it reached the School
      Attendance Team; ``located_*``: the day the child was located.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    status: Status | None = None
    stage: Stage | None = None
    kind: CaseKind | None = None
    school: Laestab | None = None
    no_school: bool = False
    child_protection: bool | None = None
    overdue: bool | None = None
    mash_call_pending: bool | None = None
    opened_from: date | None = None
    opened_to: date | None = None
    sat_referred_from: date | None = None
    sat_referred_to: date | None = None
    located_from: date | None = None
    located_to: date | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.school is not None and self.no_school:
            raise ValueError("school: a case list is of one school or of no school, not both")
        for first, last in _RANGES:
            start, end = getattr(self, first), getattr(self, last)
            if start is not None and end is not None and start > end:
                raise ValueError(f"{first}: {start.isoformat()} is after {last} {end.isoformat()}")
        return self

    def to_query(self) -> dict[str, str]:
        """The filter as query-string parameters (only the conditions set)."""
        query: dict[str, str] = {}
        for name in _FIELDS:
            value = getattr(self, name)
            if value is None or (name == "no_school" and not value):
                continue
            if isinstance(value, bool):
                query[name] = "true" if value else "false"
            elif isinstance(value, date):
                query[name] = value.isoformat()
            else:
                query[name] = str(value)
        return query

    @classmethod
    def from_query(
        cls, query: Mapping[str, str], *, page_parameters: Collection[str] = ("page", "page_size")
    ) -> CaseFilter:
        """A filter from query-string parameters; an unknown parameter, or a value that is not
        one of the parameter's, is refused with a :class:`BadFilter` naming it.
        ``page_parameters``: the page's own parameters, skipped."""
        values: dict[str, Any] = {}
        for name, value in query.items():
            if name in page_parameters:
                continue
            if name not in _FIELDS:
                raise BadFilter(f"{name}: not a case-list filter; use one of {', '.join(_FIELDS)}")
            values[name] = value.strip()
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise BadFilter(_first_problem(exc)) from None

    def with_(self, **changes: Any) -> CaseFilter:
        """A copy with ``changes`` (validated)."""
        return CaseFilter.model_validate({**self.model_dump(), **changes})


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors(include_input=False)[0]
    where = ".".join(str(part) for part in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    name = where or message.split(":", 1)[0]
    if error["type"] == "enum":
        allowed = error.get("ctx", {}).get("expected", "")
        return f"{name}: not one of {allowed}"
    if error["type"].startswith("bool"):
        return f"{name}: true or false"
    if error["type"].startswith("date"):
        return f"{name}: a date is written YYYY-MM-DD"
    return message if not where else f"{where}: {message}"
