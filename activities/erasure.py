"""The retention sweep's activities: find the expired cases, and erase one case.

Erasing a case (:meth:`ErasureActivities.erase_case`), once it is known to be closed:

1. its data key is destroyed (:meth:`security.keys.KeyStore.shred`): every payload of its
   Temporal history, on the server, in its backups and archives, is encrypted with that key and
   can no longer be decrypted (crypto-shredding);
2. the register keeps the episode rows with their anonymous facts, without the child's personal
   data (:func:`activities.register.erase_personal_data`);
3. its emails are deleted from the mail folder (the local stack's ``.eml`` files, named with the
   case reference: :func:`case_emails`);
4. the erasure is recorded (:func:`activities.register.record_erasure`), without personal data.

Each step is idempotent, and the record comes last: a retried or repeated erasure does every step
again (there is nothing left to do) and records the erasure once.

Refusals and failures are non-retryable :class:`ApplicationError`\\ s with no personal data in
their messages (case reference, episode, stage):

* ``CaseOpen``: the case has an open episode (the register's latest episode is not closed, or
  its workflow is running in Temporal): a case is erased only once closed.

Everything else (the register or Temporal unreachable) is raised as it is and retried.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session
from temporalio import activity
from temporalio.api.common.v1 import Payload, WorkflowExecution
from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.converter import default as default_converter
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities import register
from domain.retention import (
    CaseErasure,
    EraseCaseInput,
    ErasureOutcome,
    ErasureRule,
    FindExpiredInput,
    FindExpiredResult,
)
from security.keys import KeyStore
from workflows import search_attributes as sa

__all__ = ["CASE_OPEN", "ErasureActivities", "case_emails", "case_in_email_name"]

log = logging.getLogger("cme.erasure")

CASE_OPEN = "CaseOpen"

# The mail folder's file names (starter.mail_folder.eml_name), and the hidden temporary name a
# file has while it is written: <UTC time>_<case reference>_<short id>.eml
_EML_NAME = re.compile(
    r"^\.?\d{8}T\d{6}\.\d{6}Z_(?P<case>[A-Za-z0-9-]+)_[0-9a-f]+\.eml(?:\.[0-9a-f]+\.tmp)?$"
)


def case_in_email_name(name: str) -> str | None:
    """The case reference in a mail folder file's name (upper case), or ``None``."""
    found = _EML_NAME.match(name)
    return found.group("case").upper() if found else None


def case_emails(folder: Path, case: str) -> list[Path]:
    """The mail folder's files (and half-written temporary files) about ``case``."""
    if not folder.is_dir():
        return []
    wanted = case.upper()
    return sorted(
        path
        for path in folder.iterdir()
        if path.is_file() and case_in_email_name(path.name) == wanted
    )


def _delete_case_emails(folder: Path | None, case: str) -> int:
    if folder is None:
        return 0
    deleted = 0
    for path in case_emails(folder, case):
        try:
            path.unlink()
        except FileNotFoundError:  # deleted at the same moment by another attempt
            continue
        deleted += 1
    return deleted


def _case_open(case: str, episode: int | None, stage: str) -> ApplicationError:
    where = f"episode {episode}, " if episode is not None else ""
    return ApplicationError(
        f"case {case} is open ({where}stage {stage}): a case is erased only once it is closed",
        {"episode": episode, "stage": stage},
        type=CASE_OPEN,
        non_retryable=True,
    )


class ErasureActivities:
    """The erasure activities, with their dependencies: the register's engine, the store of the
    cases' data keys, and the mail folder (``None``: there is none, as in a deployment whose mail
    goes to the LA's relay)."""

    def __init__(self, *, engine: Engine, store: KeyStore, mail_folder: Path | None) -> None:
        self._engine = engine
        self._store = store
        self._mail_folder = Path(mail_folder) if mail_folder is not None else None

    def all(self) -> list[Callable[..., Awaitable[Any]]]:
        """Every erasure activity, for a worker to register."""
        return [self.find_expired, self.erase_case]

    # -- finding -----------------------------------------------------------------------------------

    def _expired(self, input: FindExpiredInput) -> list[str]:
        with Session(self._engine) as session:
            return register.expired_cases(
                session=session,
                closed_before=input.closed_before,
                after=input.after,
                limit=input.limit,
            )

    @activity.defn
    async def find_expired(self, input: FindExpiredInput) -> FindExpiredResult:
        """The next batch of expired cases: latest episode closed before ``closed_before``, not
        erased yet, after ``after`` in case-reference order."""
        return FindExpiredResult(cases=await asyncio.to_thread(self._expired, input))

    # -- erasing -----------------------------------------------------------------------------------

    def _register_check(self, case: str) -> tuple[int | None, register.ErasurePublic | None]:
        """The case's latest episode (refused when it is open) and its latest erasure."""
        with Session(self._engine) as session:
            latest = register.get_case(session=session, case=case)
            erasure = register.get_erasure(session=session, case=case)
        if latest is None:
            return None, erasure
        if latest.stage != "closed":
            raise _case_open(case, latest.episode, latest.stage)
        return latest.episode, erasure

    async def _temporal_check(self, case: str) -> bool:
        """Refuse a case whose workflow runs (an open episode); whether Temporal knows it. The
        description is read raw: nothing in it is decoded (an erased case's memo no longer
        decrypts), and the search attributes are plain."""
        client = activity.client()
        try:
            raw = await client.workflow_service.describe_workflow_execution(
                DescribeWorkflowExecutionRequest(
                    namespace=client.namespace, execution=WorkflowExecution(workflow_id=case)
                )
            )
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                return False
            raise
        info = raw.workflow_execution_info
        if info.status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING:
            fields = info.search_attributes.indexed_fields
            episode = _attribute(fields, sa.EPISODE.name)
            stage = _attribute(fields, sa.STAGE.name)
            raise _case_open(
                case,
                int(episode) if isinstance(episode, int | float) else None,
                stage if isinstance(stage, str) and stage else "unknown",
            )
        return True

    def _erase_register(self, case: str) -> register.Erased:
        with Session(self._engine) as session:
            return register.erase_personal_data(session=session, case=case)

    def _record(
        self, input: EraseCaseInput, erased: register.Erased, shredded: bool, emails: int
    ) -> tuple[register.ErasurePublic, bool]:
        with Session(self._engine) as session:
            return register.record_erasure(
                session=session,
                case=input.case,
                rule=input.rule.value,
                reason=input.reason.value,
                erased_by=input.by,
                erased_by_role=input.by_role,
                erased=erased,
                key_shredded=shredded,
                emails_deleted=emails,
                retention_years=(
                    input.retention_years if input.rule is ErasureRule.RETENTION else None
                ),
                at=datetime.now(UTC),
            )

    @activity.defn
    async def erase_case(self, input: EraseCaseInput) -> CaseErasure:
        """Erase a closed case (see the module's docstring); refused (``CaseOpen``) while it has
        an open episode. Idempotent: a case already erased is erased again (nothing is left)
        and its erasure is not recorded twice (``already_erased``). A case nobody knows (not in
        the register nor in Temporal, no key, no email) is ``unknown``: nothing is recorded."""
        case = input.case
        latest, erasure = await asyncio.to_thread(self._register_check, case)
        in_temporal = await self._temporal_check(case)
        shredded = await self._store.shred(case)
        erased = await asyncio.to_thread(self._erase_register, case)
        emails = await asyncio.to_thread(_delete_case_emails, self._mail_folder, case)
        if latest is None and erasure is None and not (in_temporal or shredded or emails):
            activity.logger.info("case %s: unknown, nothing to erase", case)
            return CaseErasure(case=case, outcome=ErasureOutcome.UNKNOWN)
        record, new = await asyncio.to_thread(self._record, input, erased, shredded, emails)
        activity.logger.info(
            "case %s: %s (%s): key %s, %d episode(s) anonymised, %d email(s) deleted",
            case,
            "erased" if new else "already erased",
            record.rule,
            "shredded" if shredded else "already gone",
            len(erased.episodes),
            emails,
        )
        return CaseErasure(
            case=case,
            outcome=ErasureOutcome.ERASED if new else ErasureOutcome.ALREADY_ERASED,
            episodes=len(erased.episodes),
            key_shredded=shredded,
            emails_deleted=emails,
            erased_at=record.erased_at,
            rule=ErasureRule(record.rule),
        )


def _attribute(fields: Mapping[str, Payload], name: str) -> Any:
    """A search attribute's value from its raw payload (``None``: not set)."""
    payload = fields.get(name)
    if payload is None:
        return None
    return default_converter().payload_converter.from_payload(payload)
