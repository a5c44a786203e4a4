"""The kinds of case and their stages: plain enumerations, in a module of their own so that a
client that only names them (`cme cases` and its ``--kind`` and ``--stage``) need not load the
case's models (issue 11, ``python -m benchmarks.cli_startup``). :mod:`domain.case.model`
re-exports both; import them from there.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["CaseKind", "Stage"]


class CaseKind(StrEnum):
    DESTINATION_VERIFIED = "destination_verified"  # Pupil Migration LA Return (seed 2.3)
    DESTINATION_NOT_VERIFIED = "destination_not_verified"  # school CME referral (seed 2.4)
    NOT_ON_ROLL = "not_on_roll"  # professional CME referral (seed appendix 5)


class Stage(StrEnum):
    SCHOOL_ENQUIRIES = "school_enquiries"  # school's reasonable enquiries, up to school day 10
    LA_INVESTIGATION = "la_investigation"  # referred to SAT: CME officer investigates
    AWAITING_DELETION_AUTHORISATION = "awaiting_deletion_authorisation"  # outcome concluded
    AWAITING_CTF = "awaiting_ctf"  # destination verified: CTF and deletion authorisation due
    CLOSED = "closed"
