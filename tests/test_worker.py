"""worker.memoise_search_attribute_encoding: the SDK's search attribute encoding, remembered for
each key and value, gives the SDK's payloads byte for byte, a fresh copy each time, and refuses
what the SDK refuses (a case upserting through it: tests/workflows/test_search_attributes.py)."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import temporalio.converter
import temporalio.worker._workflow_instance as workflow_instance
from temporalio.common import SearchAttributeKey

from worker import memoise_search_attribute_encoding
from workflows import search_attributes as sa

SDKS = temporalio.converter.encode_typed_search_attribute_value

BST = timezone(timedelta(hours=1))
VALUES: list[tuple[SearchAttributeKey[Any], Any]] = [
    (sa.STAGE, "enquiries"),
    (sa.SCHOOL, ""),
    (sa.CHILD_PROTECTION, True),
    (sa.PROBLEM, False),
    (sa.EPISODE, 2),
    (sa.NEXT_DEADLINE, datetime(2027, 1, 15, 23, 59, 59, tzinfo=UTC)),
    # The same instant in another zone: equal, but the SDK encodes it with its own offset.
    (sa.NEXT_DEADLINE, datetime(2027, 1, 16, 0, 59, 59, tzinfo=BST)),
    (sa.NEXT_DEADLINE, None),
    (SearchAttributeKey.for_float("CmeProbeFloat"), 1.5),
    (SearchAttributeKey.for_keyword_list("CmeProbeList"), ["a", "b"]),  # unhashable
]


@pytest.fixture
def memoised(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The memo installed for the test only."""
    monkeypatch.setattr(temporalio.converter, "encode_typed_search_attribute_value", SDKS)
    memoise_search_attribute_encoding()
    encode = temporalio.converter.encode_typed_search_attribute_value
    assert encode is not SDKS
    memoise_search_attribute_encoding()  # installed once, not wrapped twice
    assert temporalio.converter.encode_typed_search_attribute_value is encode
    yield encode


def test_each_value_is_encoded_as_the_sdk_encodes_it(memoised: Any) -> None:
    for key, value in VALUES:
        expected = SDKS(key, value)
        first = memoised(key, value)
        again = memoised(key, value)
        assert first == again == expected, (key.name, value)
        assert first.SerializeToString(deterministic=True) == expected.SerializeToString(
            deterministic=True
        )
        # A fresh copy each time: what one caller does to its payload reaches no other.
        assert first is not again
        first.metadata["type"] = b"changed"
        assert memoised(key, value) == expected


def test_a_bool_is_not_taken_for_the_int_equal_to_it(memoised: Any) -> None:
    number = SearchAttributeKey.for_int("CmeProbeInt")
    assert memoised(number, 1) == SDKS(number, 1)
    # True == 1, but the SDK encodes it as JSON's true.
    assert memoised(number, True) == SDKS(number, True) != SDKS(number, 1)


def test_what_the_sdk_refuses_is_refused(memoised: Any) -> None:
    with pytest.raises(ValueError, match="Timezone must be present"):
        memoised(sa.NEXT_DEADLINE, datetime(2027, 1, 15))
    with pytest.raises(TypeError, match="not suitable"):
        memoised(sa.EPISODE, "two")


def test_the_sdks_workflow_instance_still_encodes_through_the_function_by_its_name() -> None:
    """The memo works only while the SDK calls the module's function at the time of the call
    (temporalio 1.35): were it to import the function by name, this fails."""
    source = inspect.getsource(workflow_instance._WorkflowInstanceImpl)
    assert "temporalio.converter.encode_typed_search_attribute_value(" in source
    assert "import encode_typed_search_attribute_value" not in inspect.getsource(workflow_instance)
