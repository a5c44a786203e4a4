"""`cme dev`'s dev server reads the case search attributes' definitions from its cache, not from
its database once per listed row (issue 11, target 5; starter.dev.DYNAMIC_CONFIG; how much faster
a listing of 40,000 cases is, is ``python -m benchmarks.open_cases``: no timed tests).

Watched through the server's own metrics: the persistence requests its frontend makes for the
cluster's metadata, where the search attributes' definitions are kept. The same listing on a dev
server with the Temporal CLI's default (refresh on every read) makes one such request per row:
that is the control, which shows the metric sees the difference.
"""

from __future__ import annotations

import asyncio
import re
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.converter import DataConverter

from starter.case_list_cli import case_pages, cases_query
from starter.dev import DYNAMIC_CONFIG, dev_server_args, sqlite_pragma_args
from tests.starter.conftest import PersistentServer, eventually, free_port
from workflows import search_attributes as sa

pytestmark = pytest.mark.asyncio(loop_scope="session")

CASES = 30
METADATA_READS = re.compile(
    r'^persistence_requests\{[^}]*operation="GetCurrentClusterMetadata"[^}]*'
    r'service_name="frontend"[^}]*\} (\d+)',
    re.MULTILINE,
)


def _metadata_reads(metrics_port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as r:
        text = r.read().decode()
    return sum(int(count) for count in METADATA_READS.findall(text))


async def _settled_reads(metrics_port: int) -> int:
    """The count once the server has reported it: its metrics are flushed about every second,
    so a count is taken as settled when it has not changed for longer than that."""
    count = _metadata_reads(metrics_port)
    while True:
        await asyncio.sleep(1.5)
        again = _metadata_reads(metrics_port)
        if again == count:
            return count
        count = again


async def _list_cases(tmp_path: Path, extra_args: list[str]) -> tuple[int, int, set[str]]:
    """On a fresh dev server started with ``extra_args``: open :data:`CASES` cases in visibility
    (a task queue no worker polls), list them as `cme cases` does. The frontend's cluster
    metadata reads during the listing, the rows listed, the schools they name."""
    metrics = free_port()
    tmp_path.mkdir()
    server = PersistentServer(
        db=tmp_path / "temporal.db",
        log=tmp_path / "temporal.log",
        data_converter=DataConverter.default,
        extra_args=[*extra_args, "--metrics-port", str(metrics)],
    )
    client = await server.start()
    try:
        school = "8512345"
        for n in range(CASES):
            await client.start_workflow(
                "CmeCaseV2",
                id=f"CME-{uuid.uuid4().hex[:12].upper()}",
                task_queue=f"nobody-{uuid.uuid4()}",
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(sa.CASE_KIND, "destination_verified"),
                        SearchAttributePair(sa.STAGE, "awaiting_ctf"),
                        SearchAttributePair(sa.SCHOOL, school),
                        SearchAttributePair(sa.EPISODE, 1),
                        SearchAttributePair(sa.OVERDUE, n % 3 == 0),
                        SearchAttributePair(sa.NEXT_DEADLINE, datetime(2026, 12, 10, tzinfo=UTC)),
                    ]
                ),
            )

        async def all_visible() -> None:
            assert (await client.count_workflows(cases_query())).count == CASES

        await eventually(all_visible)
        before = await _settled_reads(metrics)
        rows = [
            row
            async for page in case_pages(client, cases_query(), None)  # type: ignore[arg-type]
            for row in page
        ]
        reads = await _settled_reads(metrics) - before
        return reads, len(rows), {row["school"] for row in rows}
    finally:
        server.stop()


async def test_listing_cases_does_not_read_the_search_attribute_definitions_per_row(
    tmp_path: Path,
) -> None:
    assert DYNAMIC_CONFIG == {"system.forceSearchAttributesCacheRefreshOnRead": "false"}
    reads, rows, schools = await _list_cases(tmp_path / "cme-dev", dev_server_args())
    assert rows == CASES
    assert schools == {"8512345"}  # the search attributes are still read, from the cache
    assert reads < 3, f"{reads} reads of the cluster metadata for a listing of {rows} cases"

    # The control: the Temporal CLI's default, a read per row and more.
    reads, rows, _ = await _list_cases(tmp_path / "cli-default", sqlite_pragma_args())
    assert rows == CASES
    assert reads >= CASES
