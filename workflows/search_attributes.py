"""Typed search attributes of a case: no personal data, only what managers filter on."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

CASE_KIND = SearchAttributeKey.for_keyword("CmeCaseKind")
STAGE = SearchAttributeKey.for_keyword("CmeStage")
SCHOOL = SearchAttributeKey.for_keyword("CmeSchool")  # LAESTAB, never a child's identity
CHILD_PROTECTION = SearchAttributeKey.for_bool("CmeChildProtection")
NEXT_DEADLINE = SearchAttributeKey.for_datetime("CmeNextDeadline")
OVERDUE = SearchAttributeKey.for_bool("CmeOverdue")
OUTCOME = SearchAttributeKey.for_keyword("CmeOutcome")
GROUND = SearchAttributeKey.for_keyword("CmeGround")
EPISODE = SearchAttributeKey.for_int("CmeEpisode")  # 1 for a child's first episode
# Not registered: SQL visibility (the dev server's SQLite, PostgreSQL) holds at most 3 Bool
# attributes per namespace, and a repeat episode is ``CmeEpisode > 1`` anyway.
REPEAT = SearchAttributeKey.for_bool("CmeRepeat")
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
