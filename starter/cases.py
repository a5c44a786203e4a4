"""Client-side operations on cases: opening one from a referral, and the request ids that make
every request safe to send again.

A case reference carries no personal data: it is an HMAC of the child's identity (UPN, or name and
date of birth when there is no UPN) under the LA's secret, so the same child always maps to the
same workflow id. Opening uses update-with-start with ``USE_EXISTING``: if a case for the child is
open, the referral is delivered to it as a further referral and its reference is returned; Temporal
serialises the two, so two referrals racing for one child cannot open two cases. When the child's
last case has closed, the referral opens a new episode (a new run of the same workflow id).

Idempotency: every request carries a request id. A referral's is derived from its content and
sender, a task's from its case, its kind and its content (unless the caller gives one), so the same
command run twice is applied once: Temporal de-duplicates the update by its id within a run, and
the case remembers the ids it has applied across runs.

Known limit: a referral with a UPN and one without (name + date of birth only) for the same child
map to different references; the team leader withdraws the later one as a duplicate.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from typing import Any

from pydantic import BaseModel
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from domain.case.commands import (
    LATEST_REVISION,
    CaseInput,
    CasePolicy,
    OpenCase,
    RegisterReferral,
)
from domain.case.model import Actor, CaseOutcome, CommandResult
from domain.intake import AnyReferral, child_identity_keys
from workflows.case import CmeCase

CASE_PREFIX = "CME-"


def case_reference(referral: AnyReferral, secret: str) -> str:
    """``CME-`` and 12 hex digits, derived from the child's identity; no personal data."""
    key = child_identity_keys(referral)[0]
    digest = hmac.new(secret.encode(), key.encode(), hashlib.sha256).hexdigest()
    return CASE_PREFIX + digest[:12].upper()


def request_id_for(kind: str, *parts: BaseModel | str, secret: str) -> str:
    """A request id derived from the request itself: the same request, the same id. Keyed
    (HMAC-SHA256 with the service's secret, as case references are): an update id is kept in
    Temporal in the clear, and a plain hash of a referral could be confirmed by whoever guessed
    the child's details."""
    digest = hmac.new(secret.encode(), kind.encode(), hashlib.sha256)
    for part in parts:
        text = part if isinstance(part, str) else part.model_dump_json()
        digest.update(b"\x00" + text.encode())
    return f"{kind}-{digest.hexdigest()[:32]}"


def referral_request_id(referral: AnyReferral, by: Actor, *, secret: str) -> str:
    return request_id_for("referral", referral, by, secret=secret)


def referral_update(
    referral: AnyReferral, by: Actor, request_id: str | None = None, *, secret: str
) -> RegisterReferral:
    """The referral's request: its id ``request_id``, or derived from the referral and its
    sender (keyed with ``secret``)."""
    return RegisterReferral(
        by=by,
        request_id=request_id or referral_request_id(referral, by, secret=secret),
        referral=referral,
    )


def case_input(
    case: str,
    update: RegisterReferral,
    *,
    policy: CasePolicy | None = None,
    revision: int = LATEST_REVISION,
) -> CaseInput:
    return CaseInput(
        case=case,
        opening=OpenCase(
            referral=update.referral, referred_by=update.by, request_id=update.request_id
        ),
        policy=policy or CasePolicy(),
        revision=revision,
    )


def start_operation(
    case: str,
    update: RegisterReferral,
    *,
    task_queue: str,
    policy: CasePolicy | None = None,
    revision: int = LATEST_REVISION,
) -> WithStartWorkflowOperation[CmeCase, CaseOutcome | None]:
    """Start the case's workflow at ``revision`` (CaseInput.revision): the latest, unless the
    workers may be older than it (a rolling upgrade)."""
    return WithStartWorkflowOperation(
        CmeCase.run,
        case_input(case, update, policy=policy, revision=revision),
        id=case,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
    )


async def open_case(
    client: Client,
    referral: AnyReferral,
    referred_by: Actor,
    *,
    task_queue: str,
    secret: str,
    policy: CasePolicy | None = None,
    request_id: str | None = None,
    revision: int = LATEST_REVISION,
) -> CommandResult:
    """Open a case for the referral, or deliver it to the child's open case (a new case's run
    at ``revision``, see :func:`start_operation`)."""
    case = case_reference(referral, secret)
    update = referral_update(referral, referred_by, request_id, secret=secret)
    operation = start_operation(
        case, update, task_queue=task_queue, policy=policy, revision=revision
    )
    try:
        result: CommandResult = await client.execute_update_with_start_workflow(
            CmeCase.register_referral,
            update,
            start_workflow_operation=operation,
            id=update.request_id,
        )
    finally:
        read_start_failure(operation)
    return result


def read_start_failure(operation: WithStartWorkflowOperation[Any, Any]) -> None:
    """Mark a failed start of ``operation`` as read (after an update-with-start; nothing if it
    started). Temporal's client raises the failure and also keeps it on the operation, for
    ``operation.workflow_handle()``, which nothing here awaits; left unread, asyncio logs it
    with its traceback whenever the operation is collected: in `cme`, after the command's own
    one-line error. (The operation's future is the SDK's, not public: if it moves, this reads
    nothing and the log line comes back.)"""
    pending = getattr(operation, "_workflow_handle", None)
    if isinstance(pending, asyncio.Future) and pending.done() and not pending.cancelled():
        pending.exception()
