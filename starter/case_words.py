"""The words of ``cme cases``: a case's stage and kind as officers say them, and dates as ISO.
A module of its own, light, so that ``cme cases`` starts without the case's models (issue 11,
``python -m benchmarks.cli_startup``); :mod:`starter.words`, the whole vocabulary, re-exports it.
"""

from __future__ import annotations

from datetime import date, datetime

from domain.case.kinds import CaseKind, Stage

__all__ = ["KIND_WORDS", "STAGE_WORDS", "iso", "kind_words", "stage_words", "words"]

STAGE_WORDS = {
    Stage.SCHOOL_ENQUIRIES: "school enquiries",
    Stage.LA_INVESTIGATION: "LA investigation",
    Stage.AWAITING_DELETION_AUTHORISATION: "awaiting deletion authorisation",
    Stage.AWAITING_CTF: "awaiting CTF",
    Stage.CLOSED: "closed",
}

KIND_WORDS = {
    CaseKind.DESTINATION_VERIFIED: "destination verified",
    CaseKind.DESTINATION_NOT_VERIFIED: "destination not verified",
    CaseKind.NOT_ON_ROLL: "not on roll",
}


def words(value: str) -> str:
    """``la_investigation`` as ``la investigation``: for codes without words of their own."""
    return value.replace("_", " ")


def stage_words(stage: Stage | str) -> str:
    try:
        return STAGE_WORDS[Stage(stage)]
    except ValueError:
        return words(str(stage))


def kind_words(kind: CaseKind | str) -> str:
    try:
        return KIND_WORDS[CaseKind(kind)]
    except ValueError:
        return words(str(kind))


def iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
