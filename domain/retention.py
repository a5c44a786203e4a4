"""Retention and erasure: the rule that says when a closed case's personal data goes, and the
contracts of the retention sweep (:mod:`workflows.retention`) and its activities
(:mod:`activities.erasure`).

A case is **expired** when its latest episode closed before the retention cut-off
(:func:`retention_cutoff`: ``retention_years`` calendar years before now; 6 by default, the 2024
regulations' period for keeping registers) and it has not been erased since. A child with a newer
open episode is never expired. Erasing a case destroys its data key (crypto-shredding every copy
of its Temporal history), removes the child's personal data from the register (keeping the
anonymous facts), deletes its emails from the mail folder and records the erasure, without
personal data. A case is also erased on a request (UK GDPR Art. 17), for one of the reasons of
:class:`ErasureReason`: codes, never free text, so that the record holds no personal data.

Everything here is a code or a number: the words are the CLI's.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from domain.types import CaseRef, PersonName

__all__ = [
    "DEFAULT_RETENTION_YEARS",
    "MAX_DETAILS",
    "REQUEST_REASONS",
    "SERVICE_NAME",
    "CaseErasure",
    "EraseCaseInput",
    "ErasureOutcome",
    "ErasureReason",
    "ErasureRule",
    "FindExpiredInput",
    "FindExpiredResult",
    "RetentionInput",
    "RetentionResult",
    "retention_cutoff",
]

DEFAULT_RETENTION_YEARS = 6
# Who erases a case under the retention rule (the erasure record's ``erased_by``).
SERVICE_NAME = "CME service"
# A sweep's result lists at most this many cases one by one (its counts cover them all).
MAX_DETAILS = 200


class ErasureRule(StrEnum):
    RETENTION = "retention"  # the retention period after the case closed has passed
    REQUEST = "request"  # a right-to-erasure request (UK GDPR Art. 17), by a team leader


class ErasureReason(StrEnum):
    """Why a case is erased: a code, never free text (the record holds no personal data)."""

    RETENTION_PERIOD = "retention_period"  # the retention rule
    # Art. 17(1) UK GDPR grounds that apply to an LA's public task:
    NO_LONGER_NECESSARY = "no_longer_necessary"  # (a) no longer necessary for its purpose
    OBJECTION = "objection"  # (c) an objection under Art. 21(1) with no overriding grounds
    UNLAWFUL_PROCESSING = "unlawful_processing"  # (d) processed unlawfully
    LEGAL_OBLIGATION = "legal_obligation"  # (e) erasure required by law (e.g. a court order)


REQUEST_REASONS = (
    ErasureReason.NO_LONGER_NECESSARY,
    ErasureReason.OBJECTION,
    ErasureReason.UNLAWFUL_PROCESSING,
    ErasureReason.LEGAL_OBLIGATION,
)


class ErasureOutcome(StrEnum):
    ERASED = "erased"  # erased now
    ALREADY_ERASED = "already_erased"  # erased before (done again: nothing was left)
    OPEN = "open"  # refused: the case has an open episode
    UNKNOWN = "unknown"  # no such case: nothing in the register, in Temporal or the mail folder
    FAILED = "failed"  # the erasure failed (see ``error``); the next sweep tries again


def retention_cutoff(now: datetime, years: int) -> datetime:
    """The moment ``years`` calendar years before ``now``: a case whose latest episode closed
    before it is expired. 29 February goes back to 28 February in a year that has none."""
    if years < 1:
        raise ValueError("a retention period is at least 1 year")
    try:
        return now.replace(year=now.year - years)
    except ValueError:  # 29 February
        return now.replace(year=now.year - years, day=28)


# -- activities ------------------------------------------------------------------------------------


class FindExpiredInput(BaseModel):
    closed_before: datetime
    after: str | None = None  # the last case reference of the previous batch
    limit: int = Field(default=100, ge=1, le=1000)


class FindExpiredResult(BaseModel):
    cases: list[str] = Field(default_factory=list)  # in case-reference order


class EraseCaseInput(BaseModel):
    case: CaseRef
    rule: ErasureRule
    reason: ErasureReason
    by: PersonName = SERVICE_NAME  # the team leader of a request; the service for retention
    by_role: str = "service"
    retention_years: int | None = None  # the rule's period, for a retention erasure


class CaseErasure(BaseModel):
    """What erasing one case did (the answer of ``erase_case``, and a sweep's line for it)."""

    case: str
    outcome: ErasureOutcome
    episodes: int = 0  # episodes whose personal data the register no longer holds
    key_shredded: bool = False  # a data key was destroyed now
    emails_deleted: int = 0  # .eml files deleted from the mail folder now
    erased_at: datetime | None = None  # when the erasure was recorded (the first time)
    rule: ErasureRule | None = None  # the recorded erasure's rule
    error: str | None = None  # a failure's type (``CaseOpen``, ``ActivityError``...): no text
    # The open episode that refused an erasure (from the register or Temporal).
    open_episode: int | None = None
    open_stage: str | None = None


# -- the sweep -------------------------------------------------------------------------------------


class RetentionResult(BaseModel):
    """A sweep's summary: counts, and its cases one by one (at most :data:`MAX_DETAILS`)."""

    rule: ErasureRule
    closed_before: datetime | None = None  # the cut-off of a retention sweep
    found: int = 0  # cases the sweep set out to erase
    erased: int = 0
    already_erased: int = 0
    open: int = 0
    unknown: int = 0
    failed: int = 0
    search_failed: bool = False  # the expired cases could not be listed (the register down)
    cases: list[CaseErasure] = Field(default_factory=list)

    def add(self, erasure: CaseErasure) -> None:
        counter = {
            ErasureOutcome.ERASED: "erased",
            ErasureOutcome.ALREADY_ERASED: "already_erased",
            ErasureOutcome.OPEN: "open",
            ErasureOutcome.UNKNOWN: "unknown",
            ErasureOutcome.FAILED: "failed",
        }[erasure.outcome]
        setattr(self, counter, getattr(self, counter) + 1)
        if len(self.cases) < MAX_DETAILS:
            self.cases.append(erasure)


class RetentionInput(BaseModel):
    """A retention sweep (the daily schedule: ``cases`` is ``None``, find the expired ones) or an
    erasure on request (``cases`` given, rule ``request``)."""

    rule: ErasureRule = ErasureRule.RETENTION
    cases: list[CaseRef] | None = None
    reason: ErasureReason = ErasureReason.RETENTION_PERIOD
    by: PersonName = SERVICE_NAME
    by_role: str = "service"
    retention_years: int = Field(default=DEFAULT_RETENTION_YEARS, ge=1, le=100)
    # Carried across continue-as-new: the cut-off fixed at the sweep's start, where the search
    # got to, and the counts so far.
    closed_before: datetime | None = None
    after: str | None = None
    carried: RetentionResult | None = None
