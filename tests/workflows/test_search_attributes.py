"""workflows.search_attributes.update: the SDK's search attribute updates, made once per key and
value."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from temporalio.common import SearchAttributeKey

from workflows import search_attributes as sa


def test_an_update_sets_or_unsets_as_the_sdks_own_and_is_made_once() -> None:
    due = datetime(2027, 1, 15, 23, 59, 59, tzinfo=UTC)
    cases: list[tuple[SearchAttributeKey[Any], Any]] = [
        (sa.NEXT_DEADLINE, due),
        (sa.STAGE, "enquiries"),
        (sa.EPISODE, 2),
    ]
    for key, value in cases:
        made = sa.update(key, value)
        by_sdk = key.value_set(value)
        assert (made.key, made.value) == (by_sdk.key, by_sdk.value)
        assert sa.update(key, value) is made
    unset = sa.update(sa.NEXT_DEADLINE, None)
    assert (unset.key, unset.value) == (sa.NEXT_DEADLINE, None)


def test_a_bool_stays_a_bool_where_an_int_equal_to_it_was_made_first() -> None:
    assert sa.update(sa.PROBLEM, 1).value == 1
    assert sa.update(sa.PROBLEM, True).value is True
