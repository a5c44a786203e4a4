"""starter.cases.open_case when Temporal refuses the referral: the error is the caller's
to report (one line in `cme`, a page in the web app), and nothing else is logged later."""

from __future__ import annotations

import gc
import logging
import uuid
from datetime import date

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from starter.cases import open_case
from tests.workflows.harness import SCHOOL_OFFICE, SECRET, school_referral

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_a_referral_the_server_refused_leaves_no_error_to_be_logged_later(
    temporal: WorkflowEnvironment, caplog: pytest.LogCaptureFixture
) -> None:
    # Temporal's client keeps the start's failure on the operation object too; left unread, it
    # was logged as "Future exception was never retrieved", with a traceback, whenever the
    # object was collected (in `cme`, or in the next test's captured output).
    client = Client(  # a namespace the server does not have: the start is refused
        temporal.client.service_client,
        namespace=f"no-such-namespace-{uuid.uuid4().hex}",
        data_converter=pydantic_data_converter,
    )
    today = date(2026, 11, 27)
    with pytest.raises(RPCError):
        await open_case(
            client,
            school_referral(today=today, day1=today),
            SCHOOL_OFFICE,
            task_queue="nowhere",
            secret=SECRET,
        )
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        gc.collect()
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []
