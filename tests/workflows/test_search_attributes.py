"""workflows.search_attributes.update: the SDK's search attribute updates, made once per key and
value; a case upserts them through the worker's memo of their encoding."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import temporalio.converter
from temporalio.common import SearchAttributeKey

from tests.workflows.harness import SCHOOL_OFFICE, Harness, school_referral
from worker import memoise_search_attribute_encoding
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


async def test_a_case_upserts_its_search_attributes_through_the_memo(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    current = temporalio.converter.encode_typed_search_attribute_value
    sdks = getattr(current, "__wrapped__", current)  # (a worker run earlier may have installed it)
    # (the SDK's own restored when the test ends)
    monkeypatch.setattr(temporalio.converter, "encode_typed_search_attribute_value", sdks)
    memoise_search_attribute_encoding()
    memoised = temporalio.converter.encode_typed_search_attribute_value
    assert memoised is not sdks
    asked: list[str] = []

    def counting(key: SearchAttributeKey[Any], value: Any) -> Any:
        asked.append(key.name)
        return memoised(key, value)

    monkeypatch.setattr(temporalio.converter, "encode_typed_search_attribute_value", counting)
    referral = school_referral(today=harness.today, day1=harness.today)
    opened = await harness.open(referral, by=SCHOOL_OFFICE)
    assert sa.STAGE.name in asked and sa.CASE_KIND.name in asked
    state = await harness.state(opened.case)
    assert await harness.search_attribute(opened.case, sa.STAGE) == state.stage.value
    assert await harness.search_attribute(opened.case, sa.SCHOOL) == state.school_laestab
    assert state.school_laestab
