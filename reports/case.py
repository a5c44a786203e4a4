"""One case, for the case page and the API's ``GET /cases/{case_ref}``: the case's latest episode
in the register, if the person asking may read it.

Who may read it is :func:`domain.case.rules.can_view`, on the schools of ``case_school`` and the
episode's child-protection flag (the rule the lists apply in their query): a case another school's
user asks for is ``None``, as a case that does not exist is, so that no page or answer says that
it exists.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from activities.register import CasePublic, CaseSchoolRow, get_case
from domain.case import rules
from domain.case.model import Actor

__all__ = ["ReadableCase", "readable_case"]


@dataclass(frozen=True)
class ReadableCase:
    """The case's latest episode as the register holds it, and the schools whose users may see
    it (``case_school``, in LAESTAB order)."""

    row: CasePublic
    schools: tuple[str, ...]


def readable_case(*, session: Session, viewer: Actor, case_ref: str) -> ReadableCase | None:
    """``case_ref``'s latest episode if ``viewer`` may read it; ``None`` when there is no such
    case in the register or ``viewer`` may not read it (the same answer, on purpose)."""
    row = get_case(session=session, case=case_ref)
    if row is None:
        return None
    schools = tuple(
        session.exec(
            select(CaseSchoolRow.laestab)
            .where(CaseSchoolRow.case_ref == case_ref, CaseSchoolRow.episode == row.episode)
            .order_by(col(CaseSchoolRow.laestab))
        )
    )
    if not rules.can_view(viewer, schools=schools, child_protection=row.child_protection):
        return None
    return ReadableCase(row=row, schools=schools)
