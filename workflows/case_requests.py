"""The case workflow's updates, one per request a person makes, each with its validator, and its
query (the case's state).

Declared here, once per process, rather than in :mod:`workflows.case` (issue 11): the sandbox
executes the case workflow's module afresh for every run (a new case, a case back in the cache),
and each ``@workflow.update`` (or ``@workflow.query``) it executes builds its definition again
(signatures, type hints), which made a run of the case cost more than four times a bare
workflow's to set up and hold.
This module is passed through the sandbox (``worker.PASSTHROUGH_MODULES``); its updates and query
hold no logic: each hands the request to the workflow's own methods (``_request``,
``_validate``, ``_open``, ``_check_opening``; the query asks ``_current``), which run in the
sandbox with its protection, in :class:`workflows.case.CmeCase`. The update and query names,
argument and result types are those the case has always had, so recorded histories replay
unchanged and clients still call each by method reference (``CmeCase.confirm_ctf``,
``CmeCase.state``).
"""

from __future__ import annotations

from temporalio import workflow

from domain.case.commands import (
    AuthoriseDeletion,
    ConcludeInvestigation,
    ConfirmCtf,
    ConfirmNoSicknessGrounds,
    ConfirmRegisterCodes,
    RaiseConcern,
    Reassign,
    RecordConsent,
    RecordDeletionFacts,
    RecordEnquiry,
    RecordMashCall,
    RegisterReferral,
    ReportContact,
    Request,
    RetryProblems,
    ShareInformation,
    Withdraw,
)
from domain.case.model import CommandResult
from domain.case.state import CaseState


class CaseRequests:
    """The updates and the query of the case workflow. A subclass (the workflow) provides the
    four methods every update hands its request to, and the one the query asks."""

    def _current(self) -> CaseState:
        """The case's state as it stands."""
        raise NotImplementedError

    def _request(self, command: Request) -> CommandResult:
        """Apply a person's request; a refusal is the update's failure."""
        raise NotImplementedError

    def _validate(self, command: Request) -> None:
        """Refuse, before the update is accepted and leaving no trace, what the case would."""
        raise NotImplementedError

    async def _open(self, command: RegisterReferral) -> CommandResult:
        """Apply a referral: the one that opens the case, or one that joins it."""
        raise NotImplementedError

    def _check_opening(self, command: RegisterReferral) -> None:
        """Validate a referral, the one that opens the case included."""
        raise NotImplementedError

    @workflow.query
    def state(self) -> CaseState:
        return self._current()

    @workflow.update
    async def register_referral(self, command: RegisterReferral) -> CommandResult:
        return await self._open(command)

    @register_referral.validator
    def _check_register_referral(self, command: RegisterReferral) -> None:
        self._check_opening(command)

    @workflow.update
    def record_enquiry(self, command: RecordEnquiry) -> CommandResult:
        return self._request(command)

    @record_enquiry.validator
    def _check_record_enquiry(self, command: RecordEnquiry) -> None:
        self._validate(command)

    @workflow.update
    def report_contact(self, command: ReportContact) -> CommandResult:
        return self._request(command)

    @report_contact.validator
    def _check_report_contact(self, command: ReportContact) -> None:
        self._validate(command)

    @workflow.update
    def raise_concern(self, command: RaiseConcern) -> CommandResult:
        return self._request(command)

    @raise_concern.validator
    def _check_raise_concern(self, command: RaiseConcern) -> None:
        self._validate(command)

    @workflow.update
    def share_information(self, command: ShareInformation) -> CommandResult:
        return self._request(command)

    @share_information.validator
    def _check_share_information(self, command: ShareInformation) -> None:
        self._validate(command)

    @workflow.update
    def record_mash_call(self, command: RecordMashCall) -> CommandResult:
        return self._request(command)

    @record_mash_call.validator
    def _check_record_mash_call(self, command: RecordMashCall) -> None:
        self._validate(command)

    @workflow.update
    def confirm_ctf(self, command: ConfirmCtf) -> CommandResult:
        return self._request(command)

    @confirm_ctf.validator
    def _check_confirm_ctf(self, command: ConfirmCtf) -> None:
        self._validate(command)

    @workflow.update
    def conclude_investigation(self, command: ConcludeInvestigation) -> CommandResult:
        return self._request(command)

    @conclude_investigation.validator
    def _check_conclude_investigation(self, command: ConcludeInvestigation) -> None:
        self._validate(command)

    @workflow.update
    def authorise_deletion(self, command: AuthoriseDeletion) -> CommandResult:
        return self._request(command)

    @authorise_deletion.validator
    def _check_authorise_deletion(self, command: AuthoriseDeletion) -> None:
        self._validate(command)

    @workflow.update
    def withdraw(self, command: Withdraw) -> CommandResult:
        return self._request(command)

    @withdraw.validator
    def _check_withdraw(self, command: Withdraw) -> None:
        self._validate(command)

    @workflow.update
    def reassign(self, command: Reassign) -> CommandResult:
        return self._request(command)

    @reassign.validator
    def _check_reassign(self, command: Reassign) -> None:
        self._validate(command)

    @workflow.update
    def confirm_register_codes(self, command: ConfirmRegisterCodes) -> CommandResult:
        return self._request(command)

    @confirm_register_codes.validator
    def _check_confirm_register_codes(self, command: ConfirmRegisterCodes) -> None:
        self._validate(command)

    @workflow.update
    def confirm_no_sickness_grounds(self, command: ConfirmNoSicknessGrounds) -> CommandResult:
        return self._request(command)

    @confirm_no_sickness_grounds.validator
    def _check_confirm_no_sickness_grounds(self, command: ConfirmNoSicknessGrounds) -> None:
        self._validate(command)

    @workflow.update
    def record_consent(self, command: RecordConsent) -> CommandResult:
        return self._request(command)

    @record_consent.validator
    def _check_record_consent(self, command: RecordConsent) -> None:
        self._validate(command)

    @workflow.update
    def record_deletion_facts(self, command: RecordDeletionFacts) -> CommandResult:
        return self._request(command)

    @record_deletion_facts.validator
    def _check_record_deletion_facts(self, command: RecordDeletionFacts) -> None:
        self._validate(command)

    @workflow.update
    def retry_problems(self, command: RetryProblems) -> CommandResult:
        return self._request(command)

    @retry_problems.validator
    def _check_retry_problems(self, command: RetryProblems) -> None:
        self._validate(command)
