"""What a client needs to ask Temporal's visibility about cases, and nothing heavier: the case
workflows' type names, a query's string literal and Temporal's error answers as one line.

Kept apart from :mod:`starter.case_client` (which imports the case workflow, the case model and
the commands) so that ``cme cases``, which reads only search attributes, starts without them
(issue 11: ``python -m benchmarks.cli_startup``). The version 2 type is
``workflows.case.WORKFLOW_TYPE``, written out here for the same reason; a test checks the two
agree (tests/starter/test_cli_startup.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio.service import RPCError, RPCStatusCode

from starter.errors import CaseError, CaseUnavailable, NoSuchCase

if TYPE_CHECKING:
    from settings import Settings

V1_WORKFLOW_TYPE = "CmeCase"
V2_WORKFLOW_TYPE = "CmeCaseV2"  # workflows.case.WORKFLOW_TYPE
CASE_WORKFLOW_TYPES = (V1_WORKFLOW_TYPE, V2_WORKFLOW_TYPE)

# What the web app shows for a case service that does not answer (the CLI names the server).
UNAVAILABLE_WORDS = (
    "The case service is not answering just now, so nothing has been recorded. Try again in a "
    "few minutes."
)


def quote(value: str) -> str:
    """A string literal of Temporal's visibility query language."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def rpc_failure(exc: RPCError, case: str | None, settings: Settings) -> CaseError:
    """One line for an error answer from the Temporal server."""
    if exc.status is RPCStatusCode.NOT_FOUND and case is not None:
        return NoSuchCase(f"no case {case}")
    if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
        return CaseUnavailable(
            f"lost the connection to Temporal at {settings.temporal_address}: {exc.message}",
            reason=UNAVAILABLE_WORDS,
        )
    return CaseUnavailable(
        f"Temporal refused the request: {exc.message}",
        reason=f"The service refused the request: {exc.message}",
    )
