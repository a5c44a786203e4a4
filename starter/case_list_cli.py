"""`cme cases`: a manager's table of cases, read from Temporal visibility.

    cme cases --overdue --kind destination_not_verified
    cme cases --problems                    # cases with a problem the service could not fix
    cme cases --repeat                      # children with an earlier CME episode

Personal data: ``cme cases`` lists cases from Temporal visibility (search attributes), which hold
no personal data: the table shows the case reference, episode, kind, stage, school, next deadline
and flags (overdue, child protection, problem), never the child. (``cme show``, the case file that
names the child, is :mod:`starter.inspect`.)

``cme cases --json`` is a JSON array of ``{"case", "episode", "repeat", "version" (1 or 2), "kind",
"stage", "school", "child_protection", "next_deadline", "overdue", "problem", "outcome",
"ground", "status" (the run's Temporal status), "opened_at" (the run's start)}``: one row per
episode, from its latest run (a long episode's earlier runs, continued as new, are left out, as
is an episode whose run went straight on into the child's next episode). A stable shape: keys
are never removed, new ones may be added. Moments are ISO 8601 in UTC, dates ISO.

``cme cases`` streams (issue 11, target 5; ``python -m benchmarks.open_cases``): it asks Temporal
for a page of rows at a time (:data:`PAGE_SIZE`) and writes each page as it arrives, so that a
caseload of tens of thousands lists in seconds and in the memory of one page. The table's columns
have fixed widths for that reason; ``--json`` writes one array, a row a line (``[``, the rows,
``]``), so it is both one JSON document and readable line by line. The order comes from the
queries, not from sorting (SQL visibility cannot sort by a search attribute): overdue cases first
(``--overdue`` is that one query), then the others; within each, Temporal's order, open cases
before closed ones and the latest opened first. Every row comes from the listing's own search
attributes: no request per case. Every case is listed by default; ``--limit N`` stops after N.

A module of its own, and a light one (issue 11: ``cme cases --overdue`` in 1 s or less with
40,000 open cases; its start-up is ``python -m benchmarks.cli_startup``): a listing reads search
attributes only, never a payload, so it imports neither the case workflow, nor the register, nor
the encryption code and its key store, and connects with Temporal's default data converter
(:func:`starter.connect.connect_to_visibility`). tests/starter/test_cli_startup.py checks what it
imports.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from temporalio.api.workflow.v1 import WorkflowExecutionInfo
from temporalio.api.workflowservice.v1 import (
    ListWorkflowExecutionsRequest,
    ListWorkflowExecutionsResponse,
)
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import SearchAttributeIndexedValueType
from temporalio.service import RPCError

from domain.case.kinds import CaseKind, Stage
from domain.clock import LONDON, human_date
from settings import Settings
from starter.args import add_json, laestab_arg, one_line_errors
from starter.case_words import KIND_WORDS, STAGE_WORDS, iso, kind_words, stage_words
from starter.connect import connect_to_visibility
from starter.visibility import CASE_WORKFLOW_TYPES, V1_WORKFLOW_TYPE, quote, rpc_failure
from workflows import search_attributes as sa


def register(subparsers: Any) -> None:
    cases = one_line_errors(
        subparsers.add_parser(
            "cases",
            help="a table of cases, by kind, stage, school, overdue, child protection, problems",
            description="List cases from Temporal visibility (never names a child), a page "
            "at a time as they arrive: overdue cases on top, then the others; in each part "
            "open cases before closed ones, the latest opened first.",
        )
    )
    cases.add_argument("--kind", choices=[k.value for k in CaseKind], help="kind of case")
    cases.add_argument("--stage", choices=[s.value for s in Stage], help="stage of the case")
    cases.add_argument("--school", type=laestab_arg, metavar="LAESTAB", help="the school")
    cases.add_argument("--overdue", action="store_true", help="only cases with an overdue task")
    cases.add_argument(
        "--child-protection",
        action="store_true",
        help="only cases with a Child Protection Plan or safeguarding concern",
    )
    cases.add_argument(
        "--problems",
        action="store_true",
        help="only cases with an open problem (an email, the register or the calendar failed)",
    )
    cases.add_argument(
        "--repeat", action="store_true", help="only repeat episodes (an earlier CME episode)"
    )
    cases.add_argument(
        "--limit", type=_positive, metavar="N", help="at most N cases (default: every one)"
    )
    add_json(cases)
    cases.set_defaults(handler=cases_handler)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number, 1 or more")
    return int(text)


def cases_query(
    *,
    kind: str | None = None,
    stage: str | None = None,
    school: str | None = None,
    overdue: bool = False,
    child_protection: bool = False,
    problems: bool = False,
    repeat: bool = False,
) -> str:
    """The visibility query of ``cme cases`` for its filters: cases of both versions, one row
    per episode (a long episode's earlier runs, continued as new, are left out)."""
    types = ", ".join(quote(t) for t in CASE_WORKFLOW_TYPES)
    parts = [f"WorkflowType IN ({types})", "ExecutionStatus != 'ContinuedAsNew'"]
    if kind:
        parts.append(f"{sa.CASE_KIND.name} = {quote(kind)}")
    if stage:
        parts.append(f"{sa.STAGE.name} = {quote(stage)}")
    if school:
        parts.append(f"{sa.SCHOOL.name} = {quote(school)}")
    if overdue:
        parts.append(f"{sa.OVERDUE.name} = true")
    if child_protection:
        parts.append(f"{sa.CHILD_PROTECTION.name} = true")
    if problems:
        parts.append(f"{sa.PROBLEM.name} = true")
    if repeat:
        parts.append(f"{sa.EPISODE.name} > 1")
    return " AND ".join(parts)


def _due_day(deadline: datetime | None) -> date | None:
    """``CmeNextDeadline`` is the local midnight that ends the due day: the day itself."""
    if deadline is None:
        return None
    return (deadline.astimezone(LONDON) - timedelta(seconds=1)).date()


_JSON = json.JSONDecoder()


def _json(data: bytes) -> Any:
    """A search attribute's JSON value. The values a case sets (booleans, small whole numbers,
    strings with nothing escaped) are read directly: the decoder was most of a listing's time
    in this process."""
    if data == b"true":
        return True
    if data == b"false":
        return False
    if data.isdigit():
        return int(data)
    if len(data) >= 2 and data[0] == data[-1] == 0x22 and b"\\" not in data:
        return data[1:-1].decode()  # no escape: nothing between the quotes but the text
    return _JSON.decode(data.decode())


# For each case search attribute, by name: whether it is a moment, and the Python type of its
# value. Worked out once: a listing of 40,000 cases decodes 400,000 of them.
_TYPES: dict[str, tuple[bool, type]] = {
    key.name: (
        key.indexed_value_type is SearchAttributeIndexedValueType.DATETIME,
        key.origin_value_type,
    )
    for key in sa.ALL
}


def _attributes(fields: Any) -> dict[str, Any]:
    """The case search attributes in a listed case's ``indexed_fields``, by name; a value not
    of its attribute's type is None, others (Temporal's own) are left out.

    Read here rather than through the SDK's ``WorkflowExecution`` (which decodes every search
    attribute twice, typed and untyped, through the payload converter): a listing of tens of
    thousands of cases spent most of its own time there. A search attribute's payload is
    always JSON (never encrypted: it is not one of the case's payloads); a single value may
    come as a one-item list."""
    values: dict[str, Any] = {}
    for name, (moment, origin) in _TYPES.items():
        payload = fields.get(name)
        if payload is None:
            continue
        value = _json(payload.data)
        if isinstance(value, list):
            value = value[0] if len(value) == 1 else None
        if moment:
            value = datetime.fromisoformat(value) if isinstance(value, str) else None
        elif not isinstance(value, origin):
            value = None
        values[name] = value
    return values


def case_row(info: WorkflowExecutionInfo) -> dict[str, Any]:
    """A row of ``cme cases`` from a listed run: its search attributes, no more."""
    value = _attributes(info.search_attributes.indexed_fields).get
    version = 1 if info.type.name == V1_WORKFLOW_TYPE else 2
    episode = value(sa.EPISODE.name) or 1
    return {
        "case": info.execution.workflow_id,
        "episode": episode,
        "repeat": episode > 1,
        "version": version,
        "kind": value(sa.CASE_KIND.name),
        "stage": value(sa.STAGE.name),
        "school": value(sa.SCHOOL.name) or None,
        "child_protection": bool(value(sa.CHILD_PROTECTION.name)),
        "next_deadline": iso(_due_day(value(sa.NEXT_DEADLINE.name))),
        "overdue": bool(value(sa.OVERDUE.name)),
        "problem": bool(value(sa.PROBLEM.name)),
        "outcome": value(sa.OUTCOME.name) or None,
        "ground": value(sa.GROUND.name) or None,
        "status": WorkflowExecutionStatus(info.status).name.lower() if info.status else None,
        "opened_at": iso(info.start_time.ToDatetime().replace(tzinfo=UTC)),
    }


# Rows asked of Temporal at a time: the most the server gives in one page (its
# ``limit.frontend.visibilityMaxPageSize``, 1000 by default). `cme cases` holds one page at a
# time, and the next one on its way, whatever the number of cases.
PAGE_SIZE = 1000

# A listed episode: its workflow id and run id.
Listed = tuple[str, str]


async def _list_page(
    client: Client, query: str, page_size: int, token: bytes
) -> ListWorkflowExecutionsResponse:
    """One page of visibility's answer to ``query``, after the page ``token`` ends."""
    return await client.workflow_service.list_workflow_executions(
        ListWorkflowExecutionsRequest(
            namespace=client.namespace, query=query, page_size=page_size, next_page_token=token
        ),
        retry=True,
    )


async def case_pages(
    client: Client,
    query: str,
    settings: Settings,
    *,
    limit: int | None = None,
    skip: frozenset[Listed] | set[Listed] = frozenset(),
    seen: set[Listed] | None = None,
) -> AsyncIterator[list[dict[str, Any]]]:
    """The rows of ``query``, one page of visibility at a time (at most :data:`PAGE_SIZE`
    rows), as each page arrives, in visibility's order: open cases before closed ones, the
    latest opened first. Stops after ``limit`` rows; leaves out the episodes in ``skip`` and
    adds those it yields to ``seen``. Each row is the search attributes of the listing itself:
    no further request per case. With no ``limit`` the next page is asked for before this one
    is read, so that the server's work and this process's overlap."""

    def ask(token: bytes) -> asyncio.Future[ListWorkflowExecutionsResponse]:
        size = PAGE_SIZE if limit is None else min(PAGE_SIZE, limit)
        return asyncio.ensure_future(_list_page(client, query, size, token))

    asking = ask(b"")
    try:
        while True:
            try:
                response = await asking
            except RPCError as exc:
                raise rpc_failure(exc, None, settings) from None
            token = response.next_page_token
            if token and limit is None:
                asking = ask(token)
                # Let the request go out now: a task starts only when the event loop runs, and
                # reading the page below never gives it the chance. Without this the server
                # and this process took turns instead of working at once.
                await asyncio.sleep(0)
            page = []
            for info in response.executions:
                key = (info.execution.workflow_id, info.execution.run_id)
                if key in skip:
                    continue
                if seen is not None:
                    seen.add(key)
                page.append(case_row(info))
            if limit is not None:
                page = page[:limit]
                limit -= len(page)
            if page:
                yield page
            if not token or (limit is not None and limit <= 0):
                return
            if limit is not None:
                asking = ask(token)
    finally:
        asking.cancel()


async def list_cases(
    client: Client,
    settings: Settings,
    *,
    limit: int | None = None,
    overdue: bool = False,
    **filters: Any,
) -> AsyncIterator[list[dict[str, Any]]]:
    """The pages of ``cme cases``: the overdue cases first, then the others.

    SQL visibility (the dev server's SQLite, PostgreSQL) cannot sort by a search attribute
    (``ORDER BY`` is refused), so the order comes from the queries: with ``overdue``, the one
    query on ``CmeOverdue``; otherwise that query, then the query without it, leaving out the
    episodes the first listed. (Not ``CmeOverdue = false``: a case that became overdue between
    the two queries would be in neither; this way it is listed, in the second part.) The
    memory this holds is one page and the ids of the overdue cases, never the whole list."""
    first = cases_query(overdue=True, **filters)
    if overdue:
        async for page in case_pages(client, first, settings, limit=limit):
            yield page
        return
    overdue_listed: set[Listed] = set()
    async for page in case_pages(client, first, settings, limit=limit, seen=overdue_listed):
        if limit is not None:
            limit -= len(page)
        yield page
    if limit is not None and limit <= 0:
        return
    rest = cases_query(**filters)
    async for page in case_pages(client, rest, settings, limit=limit, skip=overdue_listed):
        yield page


async def cases_handler(args: argparse.Namespace, settings: Settings) -> int:
    client = await connect_to_visibility(settings)
    pages = list_cases(
        client,
        settings,
        limit=args.limit,
        kind=args.kind,
        stage=args.stage,
        school=args.school,
        overdue=args.overdue,
        child_protection=args.child_protection,
        problems=args.problems,
        repeat=args.repeat,
    )
    if args.json:
        await _json_array(pages)
    else:
        await _table(pages)
    return 0


def _write(lines: list[str]) -> None:
    """Write ``lines`` and flush: each page is on screen (or down the pipe) as it arrives. A
    closed pipe raises :class:`BrokenPipeError`, which stops the listing (`cme` exits 141)."""
    if lines:
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()


async def _json_array(pages: AsyncIterator[list[dict[str, Any]]]) -> None:
    """One JSON array, written a page at a time: ``[``, a row a line, ``]``. The last row
    written so far is held back until the next one (or the end) says whether it takes a
    comma."""
    held: str | None = None
    _write(["["])
    async for page in pages:
        rows = [f"  {json.dumps(row, ensure_ascii=False)}" for row in page]
        if held is not None:
            rows.insert(0, held)
        held = rows.pop()
        _write([row + "," for row in rows])
    _write(([] if held is None else [held]) + ["]"])


async def _table(pages: AsyncIterator[list[dict[str, Any]]]) -> None:
    started = False
    async for page in pages:
        lines = [] if started else [_table_line(CASES_HEADER)]
        started = True
        _write(lines + [_table_line(case_cells(row)) for row in page])
    if not started:
        _write(["no cases"])


def _flags(row: dict[str, Any]) -> str:
    flags = []
    if row["overdue"]:
        flags.append("OVERDUE")
    if row["child_protection"]:
        flags.append("CP")
    if row["problem"]:
        flags.append("PROBLEM")
    if row["version"] == 1:
        flags.append("v1")
    return " ".join(flags)


CASES_HEADER = ("CASE", "EPISODE", "KIND", "STAGE", "SCHOOL", "NEXT DEADLINE", "FLAGS")

# The table's columns are as wide as the widest value each can hold, not as the widest row
# listed: rows are written a page at a time, and every page's columns line up. (A case
# reference is ``CME-`` and 12 hex digits; an episode up to ``99 REPEAT``; a date ``30 Sep
# 2025``.)
CASES_WIDTHS = (
    len("CME-") + 12,
    len("99 REPEAT"),
    max(len(words) for words in KIND_WORDS.values()),
    max(len(words) for words in STAGE_WORDS.values()),
    max(len("SCHOOL"), 7),
    max(len("NEXT DEADLINE"), len(human_date(date(2025, 12, 31)))),
)


def _table_line(cells: tuple[str, ...]) -> str:
    padded = [cell.ljust(width) for cell, width in zip(cells, CASES_WIDTHS, strict=False)]
    return "  ".join(padded + list(cells[len(CASES_WIDTHS) :])).rstrip()


def case_cells(row: dict[str, Any]) -> tuple[str, ...]:
    """Case, episode (and a repeat marker), kind, stage, school, next deadline and flags: never
    the child."""
    due = row["next_deadline"]
    return (
        row["case"],
        f"{row['episode']} REPEAT" if row["repeat"] else str(row["episode"]),
        kind_words(row["kind"]) if row["kind"] else "-",
        stage_words(row["stage"]) if row["stage"] else "-",
        row["school"] or "-",
        human_date(date.fromisoformat(due)) if due else "-",
        _flags(row),
    )
