"""Typed search attributes of a case: no personal data, only what managers filter on."""

from __future__ import annotations

import functools
from typing import Any

from temporalio.common import SearchAttributeKey, SearchAttributeUpdate

CASE_KIND = SearchAttributeKey.for_keyword("CmeCaseKind")
STAGE = SearchAttributeKey.for_keyword("CmeStage")
SCHOOL = SearchAttributeKey.for_keyword("CmeSchool")  # LAESTAB, never a child's identity
CHILD_PROTECTION = SearchAttributeKey.for_bool("CmeChildProtection")
NEXT_DEADLINE = SearchAttributeKey.for_datetime("CmeNextDeadline")
OVERDUE = SearchAttributeKey.for_bool("CmeOverdue")
OUTCOME = SearchAttributeKey.for_keyword("CmeOutcome")
GROUND = SearchAttributeKey.for_keyword("CmeGround")
# 1 for a child's first episode; a repeat is ``CmeEpisode > 1`` (SQL visibility has three Bool
# slots only, all taken).
EPISODE = SearchAttributeKey.for_int("CmeEpisode")
PROBLEM = SearchAttributeKey.for_bool("CmeProblem")  # an open problem: see the case

ALL = (
    CASE_KIND,
    STAGE,
    SCHOOL,
    CHILD_PROTECTION,
    NEXT_DEADLINE,
    OVERDUE,
    OUTCOME,
    GROUND,
    EPISODE,
    PROBLEM,
)

# name -> the `temporal` CLI's type word (``--search-attribute Name=Type``)
CLI_TYPES = {
    "CmeCaseKind": "Keyword",
    "CmeStage": "Keyword",
    "CmeSchool": "Keyword",
    "CmeChildProtection": "Bool",
    "CmeNextDeadline": "Datetime",
    "CmeOverdue": "Bool",
    "CmeOutcome": "Keyword",
    "CmeGround": "Keyword",
    "CmeEpisode": "Int",
    "CmeProblem": "Bool",
}


@functools.lru_cache(maxsize=4096, typed=True)
def update(key: SearchAttributeKey[Any], value: Any) -> SearchAttributeUpdate[Any]:
    """The update that sets ``key`` to ``value``, or unsets it (``None``): made once per key and
    value in the process, as the updates are immutable. The SDK makes each through a generic
    alias (``_SearchAttributeUpdate[T](...)``), whose call tries to set ``__orig_class__`` on a
    frozen dataclass and swallows the error: a case's every change paid that for each key it
    changed (issue 11)."""
    return key.value_unset() if value is None else key.value_set(value)
