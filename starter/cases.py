"""Client-side operations on cases: opening one from a referral, and finding a case's handle.

A case reference carries no personal data: it is an HMAC of the child's identity (UPN, or name and
date of birth when there is no UPN) under the LA's secret, so the same child always maps to the
same workflow id. Opening uses update-with-start with ``USE_EXISTING``: if a case for the child is
open, the referral is delivered to it as a further referral and its reference is returned; Temporal
serialises the two, so two referrals racing for one child cannot open two cases.

Known limit: a referral with a UPN and one without (name + date of birth only) for the same child
map to different references; the officer withdraws the later one as a duplicate.
"""

from __future__ import annotations

import hashlib
import hmac

from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from domain.intake import AnyReferral, child_identity_keys
from workflows.case import CmeCaseWorkflow
from workflows.models import (
    Actor,
    OpenCaseInput,
    RegisterReferralInput,
    RegisterReferralResult,
)

CASE_PREFIX = "CME-"


def case_reference(referral: AnyReferral, secret: str) -> str:
    """``CME-`` and 12 hex digits, derived from the child's identity; no personal data."""
    key = child_identity_keys(referral)[0]
    digest = hmac.new(secret.encode(), key.encode(), hashlib.sha256).hexdigest()
    return CASE_PREFIX + digest[:12].upper()


async def open_case(
    client: Client,
    referral: AnyReferral,
    referred_by: Actor,
    *,
    task_queue: str,
    secret: str,
    s37_consent_rule: bool = False,
) -> RegisterReferralResult:
    """Open a case for the referral, or deliver it to the child's open case."""
    case = case_reference(referral, secret)
    start = WithStartWorkflowOperation(
        CmeCaseWorkflow.run,
        OpenCaseInput(
            case=case,
            referral=referral,
            referred_by=referred_by,
            s37_consent_rule=s37_consent_rule,
        ),
        id=case,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
    )
    result: RegisterReferralResult = await client.execute_update_with_start_workflow(
        CmeCaseWorkflow.register_referral,  # type: ignore[arg-type]
        RegisterReferralInput(referral=referral, referred_by=referred_by),
        start_workflow_operation=start,
    )
    return result
