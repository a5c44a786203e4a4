"""`cme migrate`: move every running version 1 case to version 2.

Cases opened before version 2 run the frozen version 1 workflow (type ``CmeCase``,
:mod:`workflows.v1`). Each continues as new into version 2 (type ``CmeCaseV2``), carrying its
state, when it is woken by the signal ``CmeCaseWorkflow.migrate`` (no argument). This command
finds the running version 1 cases in visibility and signals each once; a signal is durable, so
cases move as soon as the worker runs (now, if it is running). Running it again is harmless: a
case that has moved is no longer a running version 1 case.

    cme migrate          # "signalled 3 version 1 cases to move to version 2 ..."
    cme migrate --json   # {"signalled": [cases], "already_moved": [cases]}
"""

from __future__ import annotations

import argparse
from typing import Any

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from settings import Settings
from starter.args import add_json, one_line_errors, print_json
from starter.connect import connect
from starter.output import emit
from starter.visibility import V1_WORKFLOW_TYPE, quote, rpc_failure
from workflows.v1.case import CmeCaseWorkflow


def register(subparsers: Any) -> None:
    parser = one_line_errors(
        subparsers.add_parser(
            "migrate",
            help="move every running version 1 case to version 2",
            description="Signal every running version 1 case (workflow type CmeCase) to "
            "continue as a version 2 case (CmeCaseV2), carrying its state. Prints how many.",
        )
    )
    add_json(parser)
    parser.set_defaults(handler=migrate)


def migrate_signal() -> Any:
    """The version 1 workflow's ``migrate`` signal, by method reference."""
    return CmeCaseWorkflow.migrate


def running_v1_query() -> str:
    return f"WorkflowType = {quote(V1_WORKFLOW_TYPE)} AND ExecutionStatus = 'Running'"


async def running_v1_cases(client: Client, settings: Settings) -> list[tuple[str, str]]:
    """(case, run id) of every running version 1 case."""
    try:
        return [(w.id, w.run_id) async for w in client.list_workflows(running_v1_query())]
    except RPCError as exc:
        raise rpc_failure(exc, None, settings) from None


async def migrate(args: argparse.Namespace, settings: Settings) -> int:
    signal = migrate_signal()
    client = await connect(settings)
    signalled: list[str] = []
    moved: list[str] = []
    for case, run_id in await running_v1_cases(client, settings):
        try:
            await client.get_workflow_handle(case, run_id=run_id).signal(signal)
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:  # it has moved (or closed) meanwhile
                moved.append(case)
                continue
            raise rpc_failure(exc, case, settings) from None
        signalled.append(case)
    if args.json:
        print_json({"signalled": signalled, "already_moved": moved})
    elif not signalled:
        emit("no running version 1 cases: nothing to migrate")
    else:
        count = f"{len(signalled)} version 1 case{'s' if len(signalled) != 1 else ''}"
        emit(
            f"signalled {count} to move to version 2; each continues as a version 2 case, with "
            "its state, when the worker runs"
        )
    return 0
