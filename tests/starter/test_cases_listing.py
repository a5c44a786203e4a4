"""`cme cases` streams (issue 11, target 5): a listing longer than one page of Temporal
visibility is written a page at a time, every case once, overdue cases first; ``--overdue`` is
one query; no request per case. (How fast, and in how much memory, is
``python -m benchmarks.open_cases``: no timed tests.)

The cases here are made in visibility alone: case workflows started on a task queue no worker
polls, with the search attributes a case sets, so that a listing of a dozen cases (and of their
order) costs no worker time. Each test's cases share a school LAESTAB of their own, so
``--school`` lists them and no other test's.
"""

from __future__ import annotations

import random
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes

import starter.case_list_cli
from starter.case_list_cli import cases_query
from tests.starter.conftest import Cli, eventually
from workflows import search_attributes as sa

pytestmark = pytest.mark.asyncio(loop_scope="session")

PAGE = 4
OVERDUE = 5  # more than a page of overdue cases
OTHERS = 7  # and more than a page of the others: 12 in three pages and more


def _school() -> str:
    return f"9{random.randrange(10**6):06d}"  # no school the other tests use


async def _case(client: Client, school: str, overdue: bool | None, n: int) -> str:
    """A case as visibility sees it; ``overdue`` None: not set (a case yet to set it)."""
    case = f"CME-{uuid.uuid4().hex[:12].upper()}"
    pairs: list[SearchAttributePair[Any]] = [
        SearchAttributePair(sa.CASE_KIND, "destination_not_verified"),
        SearchAttributePair(sa.STAGE, "school_enquiries"),
        SearchAttributePair(sa.SCHOOL, school),
        SearchAttributePair(sa.EPISODE, 1),
        SearchAttributePair(sa.NEXT_DEADLINE, datetime.now(UTC) + timedelta(days=n)),
    ]
    if overdue is not None:
        pairs.append(SearchAttributePair(sa.OVERDUE, overdue))
    await client.start_workflow(
        "CmeCaseV2",
        id=case,
        task_queue=f"nobody-{uuid.uuid4()}",
        search_attributes=TypedSearchAttributes(pairs),
    )
    return case


class Listing:
    """One school's cases, and the order `cme cases` lists them in: the overdue ones, then the
    others, each part latest opened first."""

    def __init__(self, school: str, overdue: list[str], others: list[str]) -> None:
        self.school = school
        self.overdue = overdue
        self.others = others
        self.expected = overdue[::-1] + others[::-1]


@pytest_asyncio.fixture(loop_scope="session")
async def listing(cli: Cli) -> AsyncIterator[Listing]:
    school = _school()
    overdue: list[str] = []
    others: list[str] = []
    # Opened one after another (each start awaited): their start times are in this order.
    for n in range(OVERDUE + OTHERS):
        if n % 2 == 0 and len(overdue) < OVERDUE:
            overdue.append(await _case(cli.client, school, True, n))
        else:
            others.append(await _case(cli.client, school, None if n % 3 == 0 else False, n))
    made = Listing(school, overdue, others)

    async def all_visible() -> None:
        query = cases_query(school=school)
        assert len([w async for w in cli.client.list_workflows(query)]) == len(made.expected)

    await eventually(all_visible)
    try:
        yield made
    finally:
        for case in made.expected:
            await cli.client.get_workflow_handle(case).terminate("test over")


class Calls:
    """What `cme cases` asked of Temporal: its queries, the page sizes it asked for, how many
    lines it had written when it asked for each page, and any request about one case."""

    def __init__(self) -> None:
        self.queries: list[str] = []
        self.page_sizes: list[int | None] = []
        self.lines_written: list[int] = []
        self.describes = 0


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Calls:
    seen = Calls()
    monkeypatch.setattr(starter.case_list_cli, "PAGE_SIZE", PAGE)
    list_page = starter.case_list_cli._list_page
    describe = WorkflowHandle.describe

    async def listed(client: Client, query: str, page_size: int, token: bytes) -> Any:
        if not token:
            seen.queries.append(query)
        seen.page_sizes.append(page_size)
        # What pytest has captured of stdout so far (the command runs in this process).
        seen.lines_written.append(sys.stdout.getvalue().count("\n"))  # type: ignore[union-attr]
        return await list_page(client, query, page_size, token)

    async def described(self: WorkflowHandle[Any, Any], *args: Any, **kwargs: Any) -> Any:
        seen.describes += 1
        return await describe(self, *args, **kwargs)

    monkeypatch.setattr(starter.case_list_cli, "_list_page", listed)
    monkeypatch.setattr(WorkflowHandle, "describe", described)
    return seen


async def test_a_listing_longer_than_a_page_has_every_case_once_overdue_first(
    cli: Cli, listing: Listing, calls: Calls
) -> None:
    rows = (await cli.ok("cases", "--school", listing.school, "--json")).json()

    assert [row["case"] for row in rows] == listing.expected
    assert [row["overdue"] for row in rows] == [True] * OVERDUE + [False] * OTHERS
    # Two queries: the overdue cases, then every case (less those already listed).
    assert calls.queries == [
        cases_query(school=listing.school, overdue=True),
        cases_query(school=listing.school),
    ]
    assert calls.describes == 0  # every row from the listing's own search attributes
    # Never more than a page asked for, and the rows written as the pages come (the next page
    # is asked for as one is written): the listing holds a page or two, not the whole list.
    assert calls.page_sizes and all(size is not None and size <= PAGE for size in calls.page_sizes)
    assert len(calls.page_sizes) >= (OVERDUE + OTHERS + OVERDUE) // PAGE
    assert calls.lines_written == sorted(calls.lines_written)
    assert calls.lines_written[-1] > PAGE  # rows were out before the last page was asked for


async def test_the_table_lists_every_case_once_with_one_header(
    cli: Cli, listing: Listing, calls: Calls
) -> None:
    table = (await cli.ok("cases", "--school", listing.school)).out_lines

    assert table[0].split()[:2] == ["CASE", "EPISODE"]
    assert [line.split()[0] for line in table[1:]] == listing.expected
    assert all(line.endswith(" OVERDUE") for line in table[1 : 1 + OVERDUE])
    assert not any("OVERDUE" in line for line in table[1 + OVERDUE :])
    # The columns line up across pages: every row's school starts where the header's does.
    column = table[0].index("SCHOOL")
    assert {line[column : column + 7] for line in table[1:]} == {listing.school}


async def test_overdue_is_one_query_on_the_overdue_attribute(
    cli: Cli, listing: Listing, calls: Calls
) -> None:
    rows = (await cli.ok("cases", "--school", listing.school, "--overdue", "--json")).json()

    assert [row["case"] for row in rows] == listing.expected[:OVERDUE]
    assert calls.queries == [cases_query(school=listing.school, overdue=True)]
    assert "CmeOverdue = true" in calls.queries[0]
    assert calls.describes == 0


@pytest.mark.parametrize("limit", [3, OVERDUE, OVERDUE + 2])
async def test_limit_stops_after_that_many_cases(
    cli: Cli, listing: Listing, calls: Calls, limit: int
) -> None:
    rows = (
        await cli.ok("cases", "--school", listing.school, "--limit", str(limit), "--json")
    ).json()

    assert [row["case"] for row in rows] == listing.expected[:limit]
    assert all(size is not None and size <= min(PAGE, limit) for size in calls.page_sizes)


async def test_no_cases_is_an_empty_array_or_says_so(cli: Cli, calls: Calls) -> None:
    school = _school()
    assert (await cli.ok("cases", "--school", school, "--json")).json() == []
    assert (await cli.ok("cases", "--school", school)).out_lines == ["no cases"]


@pytest.mark.parametrize(
    "data",
    [
        b"true",
        b"false",
        b"0",
        b"12",
        b"-3",
        b"1.5",
        b"null",
        b'""',
        b'"8512345"',
        b'"a\\"b"',
        b'"tab\\there"',
        b'"caf\xc3\xa9"',
        b'"\\u00e9"',
        b'["x"]',
        b'["x", "y"]',
        b'"2026-12-10T00:00:00Z"',
    ],
)
async def test_a_search_attribute_value_reads_as_json_does(data: bytes) -> None:
    # The listing reads the values a case sets without the JSON decoder (its speed at 40,000
    # cases): whatever the payload, the value is the one JSON gives.
    import json

    from starter.case_list_cli import _json

    value = _json(data)
    assert value == json.loads(data) and type(value) is type(json.loads(data))
