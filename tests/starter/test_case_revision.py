"""The revision a client starts a case's run at (CaseInput.revision, workflows/case.py): the
latest by default; revision 0 is sent exactly as before the field existed, so that a worker older
than the field (a rolling upgrade, docs/deploy.md) still decodes it."""

from __future__ import annotations

import json
from datetime import date

import pytest
from pydantic import ValidationError
from temporalio.contrib.pydantic import pydantic_data_converter

from domain.case.commands import LATEST_REVISION, CaseInput
from starter.cases import case_input, referral_update
from tests.workflows.harness import SCHOOL_OFFICE, migration_return

CASE = "CME-7F3A9C21D0B4"


def _sent(revision: int | None) -> dict[str, object]:
    """The start input as a worker receives it (the pydantic converter's JSON)."""
    referral = migration_return(today=date(2026, 11, 27), leaving_date=date(2026, 11, 27))
    update = referral_update(referral, SCHOOL_OFFICE, secret="test")
    made = (
        case_input(CASE, update)
        if revision is None
        else case_input(CASE, update, revision=revision)
    )
    [payload] = pydantic_data_converter.payload_converter.to_payloads([made])
    sent: dict[str, object] = json.loads(payload.data)
    return sent


def test_a_new_case_starts_at_the_latest_revision() -> None:
    assert LATEST_REVISION >= 1
    sent = _sent(None)
    assert sent["revision"] == LATEST_REVISION
    assert CaseInput.model_validate(sent).revision == LATEST_REVISION


def test_revision_0_is_sent_as_before_the_field_and_read_back_as_0() -> None:
    sent = _sent(0)
    # Only the fields a worker before revisions knew: it refuses any other (extra="forbid").
    assert set(sent) == set(CaseInput.model_fields) - {"revision"}
    assert CaseInput.model_validate(sent).revision == 0


def test_a_revision_newer_than_this_code_is_refused_not_run_as_an_older_one() -> None:
    sent = _sent(None)
    sent["revision"] = LATEST_REVISION + 1
    with pytest.raises(ValidationError, match="revision"):
        CaseInput.model_validate(sent)
