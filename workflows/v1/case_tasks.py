"""The human tasks of a case: one validated update each. A validator refuses a wrong action
with its reason (nothing reaches the history); a handler changes the state and queues emails."""

from __future__ import annotations

from datetime import date

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.v1.models import (
        Recipient,
        Template,
    )
    from domain.calendar import human_date
    from domain.ctf import validate_ctf_destination
    from workflows.v1 import case_rules as rules
    from workflows.v1.models import (
        AuthoriseDeletionInput,
        AuthoriseDeletionResult,
        CaseKind,
        CaseOutcome,
        ConcludeInvestigationInput,
        ConcludeInvestigationResult,
        ConfirmCtfInput,
        ConfirmCtfResult,
        Decision,
        InvestigationOutcome,
        RaiseConcernInput,
        RaiseConcernResult,
        ReassignInput,
        ReassignResult,
        RecordEnquiryInput,
        RecordEnquiryResult,
        RecordMashCallInput,
        RecordMashCallResult,
        ReportContactInput,
        ReportContactResult,
        Role,
        ShareInformationInput,
        ShareInformationResult,
        Stage,
        TaskName,
        TaskStatus,
        WithdrawInput,
        WithdrawResult,
    )


from workflows.v1.case_base import CaseBase, _closure_words, _note


class CaseTaskUpdates(CaseBase):
    @workflow.update(name="record_enquiry")
    def record_enquiry(self, input: RecordEnquiryInput) -> RecordEnquiryResult:
        logged = self._log_enquiry(input.enquiry, input.by)
        self._changed()
        return RecordEnquiryResult(
            case=self.state.case, enquiry_id=logged.id, enquiries_recorded=len(self.state.enquiries)
        )

    @record_enquiry.validator
    def _validate_record_enquiry(self, input: RecordEnquiryInput) -> None:
        rules.require_open(self.state)
        rules.check_enquiry(self.state, input.by, input.enquiry.kind, input.enquiry.by)
        rules.require_not_future(input.enquiry.made_on, self._today(), "enquiry date")

    @workflow.update(name="report_contact")
    def report_contact(self, input: ReportContactInput) -> ReportContactResult:
        when = human_date(input.contact_on)
        if input.returned_to_school:
            self._closure(
                input.by,
                f"contact made on {when}: the child is back at school" + _note(input.note),
                InvestigationOutcome.LOCATED_BACK_AT_SCHOOL,
            )
        else:
            self._log_information(
                f"contact made on {when}; the child is not back at school" + _note(input.note),
                input.by,
            )
            self._changed()
        return ReportContactResult(case=self.state.case, stage=self.state.stage)

    @report_contact.validator
    def _validate_report_contact(self, input: ReportContactInput) -> None:
        rules.require_open(self.state)
        if self.state.kind is not CaseKind.DESTINATION_NOT_VERIFIED:
            raise rules.Rejected(
                "contact is reported on a missing pupil's case; conclude this case instead"
            )
        rules.require_role(input.by, rules.OFFICERS | {Role.SCHOOL}, "reporting contact")
        if self.state.stage is Stage.AWAITING_DELETION_AUTHORISATION:
            raise rules.Rejected("the investigation is concluded: share the information instead")
        rules.require_not_future(input.contact_on, self._today(), "contact date")

    @workflow.update(name="raise_concern")
    def raise_concern(self, input: RaiseConcernInput) -> RaiseConcernResult:
        reason = f"safeguarding concern raised by {input.by.name}: {input.concern}"
        if input.child_protection_plan:
            reason = f"Child Protection Plan reported by {input.by.name}: {input.concern}"
        escalation = self._escalate_to_mash(reason, input.by)
        self._changed()
        return RaiseConcernResult(
            case=self.state.case,
            escalation_id=escalation.id,
            mash_call_due=self.state.deadlines.get("mash_call"),
        )

    @raise_concern.validator
    def _validate_raise_concern(self, input: RaiseConcernInput) -> None:
        rules.require_open(self.state)

    @workflow.update(name="share_information")
    def share_information(self, input: ShareInformationInput) -> ShareInformationResult:
        logged = self._log_information(input.information, input.by)
        self.state.attendance_codes.extend(input.attendance_codes)
        if self.state.stage is not Stage.SCHOOL_ENQUIRIES:
            self._notify(
                f"information_shared:{logged.id}",
                Template.INFORMATION_SHARED,
                [Recipient.SAT],
                shared_by=f"{input.by.name} ({input.by.role.value.replace('_', ' ')})",
                information=input.information,
            )
        self._changed()
        return ShareInformationResult(case=self.state.case, information_id=logged.id)

    @share_information.validator
    def _validate_share_information(self, input: ShareInformationInput) -> None:
        rules.require_open(self.state)
        for code in input.attendance_codes:
            rules.require_not_future(code.day, self._today(), "attendance code date")

    @workflow.update(name="record_mash_call")
    def record_mash_call(self, input: RecordMashCallInput) -> RecordMashCallResult:
        task = self._open_tasks(TaskName.PHONE_MASH)[0]
        self._close_tasks(TaskName.PHONE_MASH, input.by, TaskStatus.DONE)
        ref = f" (MASH reference {input.mash_reference})" if input.mash_reference else ""
        self._log_information(
            f"MASH phoned on {human_date(input.called_on)}{ref}" + _note(input.advice), input.by
        )
        self._changed()
        return RecordMashCallResult(case=self.state.case, task_id=task.id)

    @record_mash_call.validator
    def _validate_record_mash_call(self, input: RecordMashCallInput) -> None:
        rules.require_open(self.state)
        if not self._open_tasks(TaskName.PHONE_MASH):
            raise rules.Rejected("no MASH call is due on this case")
        rules.require_role(input.by, rules.OFFICERS | {Role.SCHOOL}, "recording the MASH call")
        rules.require_not_future(input.called_on, self._today(), "call date")

    @workflow.update(name="confirm_ctf")
    def confirm_ctf(self, input: ConfirmCtfInput) -> ConfirmCtfResult:
        code = validate_ctf_destination(input.destination_code)
        task = self._open_tasks(TaskName.SEND_CTF)[0]
        on_time = task.due is None or input.sent_on <= task.due
        self._close_tasks(TaskName.SEND_CTF, input.by, TaskStatus.DONE)
        self.state.outcome_details["ctf_sent_on"] = input.sent_on.isoformat()
        self.state.outcome_details["ctf_destination"] = code
        self._maybe_finish_verified()
        self._changed()
        return ConfirmCtfResult(case=self.state.case, destination_code=code, on_time=on_time)

    @confirm_ctf.validator
    def _validate_confirm_ctf(self, input: ConfirmCtfInput) -> None:
        rules.require_open(self.state)
        if not self._open_tasks(TaskName.SEND_CTF):
            raise rules.Rejected("no CTF is due on this case")
        rules.require_role(input.by, rules.OFFICERS | {Role.SCHOOL}, "confirming the CTF")
        try:
            code = validate_ctf_destination(input.destination_code)
        except ValueError as exc:
            raise rules.Rejected(f"destination_code: {exc}") from None
        expected = rules.ctf_destination_of(self.state)
        if code != expected:
            raise rules.Rejected(
                f"destination_code: the return names destination {expected}, not {code}"
            )
        rules.require_not_future(input.sent_on, self._today(), "CTF sent date")

    @workflow.update(name="conclude_investigation")
    def conclude_investigation(
        self, input: ConcludeInvestigationInput
    ) -> ConcludeInvestigationResult:
        state = self.state
        state.investigation_outcome = input.outcome
        state.concluded_by = input.by
        for key in ("new_school_laestab", "other_la", "ehe_letter_reference"):
            value = getattr(input, key)
            if value:
                state.outcome_details[key] = value
        if input.ehe_letter_received_on:
            state.outcome_details["ehe_letter_received_on"] = (
                input.ehe_letter_received_on.isoformat()
            )
        self._close_tasks(TaskName.INVESTIGATE, input.by, TaskStatus.DONE)
        words = input.outcome.value.replace("_", " ")
        if input.other_la_email:
            self._notify(
                "other_la_notice",
                Template.OTHER_LA_NOTICE,
                [Recipient.OTHER_LA],
                other_address=input.other_la_email,
                other_la=input.other_la or "",
            )
        outcome = None
        if state.kind is CaseKind.NOT_ON_ROLL:
            outcome = self._closure(
                input.by, _closure_words(input) + _note(input.note), input.outcome
            )
        elif input.outcome is InvestigationOutcome.LOCATED_BACK_AT_SCHOOL:
            outcome = self._closure(
                input.by, "located: the child is back at school" + _note(input.note), input.outcome
            )
        else:
            state.stage = Stage.AWAITING_DELETION_AUTHORISATION
            self._add_task(TaskName.AUTHORISE_DELETION, Role.CME_OFFICER)
            self._log_information(f"investigation concluded: {words}" + _note(input.note), input.by)
            self._changed()
        return ConcludeInvestigationResult(case=state.case, stage=state.stage, outcome=outcome)

    @conclude_investigation.validator
    def _validate_conclude(self, input: ConcludeInvestigationInput) -> None:
        rules.require_open(self.state)
        rules.require_role(input.by, rules.OFFICERS, "concluding an investigation")
        rules.check_conclusion(
            self.state,
            input.outcome,
            new_school_laestab=input.new_school_laestab,
            other_la=input.other_la,
            ehe_letter_reference=input.ehe_letter_reference,
        )

    @workflow.update(name="authorise_deletion")
    def authorise_deletion(self, input: AuthoriseDeletionInput) -> AuthoriseDeletionResult:
        assessment = self._assess(input)
        state = self.state
        decision_date = input.decision_date or self._today()
        earliest = max(assessment.earliest_date or decision_date, decision_date)
        ctf_destination = rules.ctf_destination_of(state)
        outcome = CaseOutcome(
            case=state.case,
            decision=Decision.DELETION_AUTHORISED,
            investigation_outcome=state.investigation_outcome,
            rulebook=assessment.ground.rulebook,
            ground=assessment.ground.code,
            ground_title=assessment.ground.title,
            ground_other_rulebook=assessment.ground_other_rulebook,
            earliest_deletion_date=earliest,
            ctf_destination=ctf_destination,
            decided_by=input.by,
            decided_at=workflow.now(),
        )
        state.rulebook = assessment.ground.rulebook
        self._close_tasks(TaskName.AUTHORISE_DELETION, input.by, TaskStatus.DONE)
        ctf_due: date | None = state.deadlines.get("ctf")
        if state.kind is not CaseKind.DESTINATION_VERIFIED:
            ctf_due = self._school_day_after(earliest, 15, "ctf")
        self._notify(
            "outcome_to_school",
            Template.OUTCOME_TO_SCHOOL,
            [Recipient.SCHOOL, Recipient.SAT],
            outcome=(
                state.investigation_outcome.value.replace("_", " ")
                if state.investigation_outcome
                else "destination verified (Pupil Migration LA Return)"
            ),
            ground=assessment.ground.code,
            ground_title=assessment.ground.title,
            ground_other_rulebook=assessment.ground_other_rulebook or "none",
            earliest_deletion_date=human_date(earliest),
            ctf_destination=ctf_destination,
            ctf_due=human_date(ctf_due) if ctf_due else "see the case: calendar ends",
            decided_by=input.by.name,
        )
        if state.kind is CaseKind.DESTINATION_VERIFIED:
            state.outcome = outcome
            self._maybe_finish_verified()
        else:
            self._close_case(outcome)
        self._changed()
        return AuthoriseDeletionResult(case=state.case, outcome=outcome)

    @authorise_deletion.validator
    def _validate_authorise_deletion(self, input: AuthoriseDeletionInput) -> None:
        rules.require_open(self.state)
        rules.require_role(input.by, rules.OFFICERS, "authorising deletion")
        if not self._open_tasks(TaskName.AUTHORISE_DELETION):
            raise rules.Rejected(
                "deletion cannot be authorised at stage "
                f"{self.state.stage.value}: the investigation must be concluded first"
            )
        today = self._today()
        if input.decision_date is not None and input.decision_date < today:
            raise rules.Rejected(
                f"deletion is never backdated: decision date {human_date(input.decision_date)} "
                f"is before today ({human_date(today)})"
            )
        self._assess(input)

    @workflow.update(name="withdraw")
    def withdraw(self, input: WithdrawInput) -> WithdrawResult:
        reason = input.reason
        if input.duplicate_of:
            reason = f"withdrawn as a duplicate of {input.duplicate_of}: {reason}"
        outcome = self._closure(input.by, reason, duplicate_of=input.duplicate_of)
        return WithdrawResult(case=self.state.case, outcome=outcome)

    @withdraw.validator
    def _validate_withdraw(self, input: WithdrawInput) -> None:
        rules.require_open(self.state)
        rules.require_role(input.by, frozenset({Role.TEAM_LEADER}), "withdrawing a case")
        if input.duplicate_of == self.state.case:
            raise rules.Rejected("duplicate_of: a case cannot be a duplicate of itself")

    @workflow.update(name="reassign")
    def reassign(self, input: ReassignInput) -> ReassignResult:
        self.state.assigned_officer = input.officer
        self._log_information(f"case assigned to {input.officer}", input.by)
        self._changed()
        return ReassignResult(case=self.state.case, assigned_officer=input.officer)

    @reassign.validator
    def _validate_reassign(self, input: ReassignInput) -> None:
        rules.require_open(self.state)
        rules.require_role(input.by, frozenset({Role.TEAM_LEADER}), "reassigning a case")
