"""The requests a trusted web client sends a case on behalf of its caller, shared by the JSON API
(:mod:`web.api.cases`) and the task pages (:mod:`web.tasks`): one :class:`RequestSpec` per task
request of the `cme` command (the same names, the same :mod:`domain.case.commands` models, the
case's update by method reference), who may act on a case before anything is sent
(:func:`school_may_act`), and the request id of a form (:func:`form_request_id`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, create_model
from temporalio.client import Client
from temporalio.workflow import UpdateMethodMultiParam

from domain.case import rules
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
    ReportContact,
    RetryProblems,
    ShareInformation,
    Withdraw,
)
from domain.case.commands import (
    Request as CaseRequest,
)
from domain.case.model import Actor, CommandResult, Role
from settings import Settings
from starter import case_client
from starter.cases import request_id_for
from workflows.case import CmeCase

__all__ = [
    "PENDING_ID",
    "REQUESTS",
    "RequestSpec",
    "Update",
    "form_request_id",
    "school_may_act",
    "spec_of",
]

Update = UpdateMethodMultiParam[[CmeCase, Any], CommandResult]
_NOT_THE_CLIENTS = frozenset({"by", "request_id", "type"})
PENDING_ID = "request-id-pending"  # while a request is checked, before its id is made


@dataclass(frozen=True)
class RequestSpec:
    """A task request: its path (the `cme` command's name), its command and the case's update."""

    path: str
    command: type[CaseRequest]
    update: Update
    summary: str
    body: type[BaseModel]


def _body_model(command: type[CaseRequest]) -> type[BaseModel]:
    """The request's body: the command's own fields (with their types and checks), but who acts
    and the request id, which are the API's."""
    fields: dict[str, Any] = {
        name: (field.annotation, field)
        for name, field in command.model_fields.items()
        if name not in _NOT_THE_CLIENTS
    }
    model: type[BaseModel] = create_model(
        f"{command.__name__}Body",
        __config__=ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True),
        __doc__=command.__doc__,
        **fields,
    )
    return model


def _spec(path: str, command: type[CaseRequest], update: Update, summary: str) -> RequestSpec:
    return RequestSpec(path, command, update, summary, _body_model(command))


REQUESTS: tuple[RequestSpec, ...] = (
    _spec("enquiry", RecordEnquiry, CmeCase.record_enquiry, "Record an enquiry"),
    _spec("contact", ReportContact, CmeCase.report_contact, "Report contact with the family"),
    _spec("concern", RaiseConcern, CmeCase.raise_concern, "Raise a safeguarding concern"),
    _spec("share", ShareInformation, CmeCase.share_information, "Share new information"),
    _spec("mash-call", RecordMashCall, CmeCase.record_mash_call, "Record the call to MASH"),
    _spec("ctf", ConfirmCtf, CmeCase.confirm_ctf, "Confirm the Common Transfer File was sent"),
    _spec(
        "conclude",
        ConcludeInvestigation,
        CmeCase.conclude_investigation,
        "Conclude the LA's investigation",
    ),
    _spec("authorise", AuthoriseDeletion, CmeCase.authorise_deletion, "Authorise deletion"),
    _spec("withdraw", Withdraw, CmeCase.withdraw, "Withdraw the case (team leader)"),
    _spec("reassign", Reassign, CmeCase.reassign, "Assign the case to a CME officer"),
    _spec(
        "codes",
        ConfirmRegisterCodes,
        CmeCase.confirm_register_codes,
        "Record the register codes of the absent sessions",
    ),
    _spec(
        "confirm-no-sickness",
        ConfirmNoSicknessGrounds,
        CmeCase.confirm_no_sickness_grounds,
        "Confirm no sickness or unavoidable cause",
    ),
    _spec("consent", RecordConsent, CmeCase.record_consent, "Record the placing LA's consent"),
    _spec("facts", RecordDeletionFacts, CmeCase.record_deletion_facts, "Record facts for deletion"),
    _spec("retry", RetryProblems, CmeCase.retry_problems, "Retry what failed on the case"),
)

_BY_PATH = {spec.path: spec for spec in REQUESTS}


def spec_of(path: str) -> RequestSpec:
    """The request named ``path`` (``enquiry``, ``conclude``, ...)."""
    return _BY_PATH[path]


async def school_may_act(client: Client, settings: Settings, actor: Actor, case: str) -> bool:
    """Whether ``actor`` may act on ``case`` as far as its schools go: a school's user acts only
    on its own schools' cases, and any other is answered as no case is (the case would refuse it
    too, but its refusal would say that the case exists). Read from the case itself, which is
    the authority on its schools; other roles are the case's to judge."""
    if actor.role is not Role.SCHOOL:
        return True
    state = await case_client.case_state(client, case, settings)
    schools = rules.case_schools(state)
    return rules.can_view(actor, schools=schools, child_protection=state.child_protection)


def form_request_id(path: str, case: str, user_id: int, form_key: str, *, secret: str) -> str:
    """The request id of a form of the web app's pages: the request, the case, the signed-in
    account and the key drawn into the form when the page was rendered (a hidden field). The
    same form sent again (a double click, sending again after "not recorded") is the same
    request, applied once; the same form sent with other answers is refused by the case. Keyed
    with the service's secret, as every derived id is (an update id is kept in Temporal in the
    clear)."""
    return request_id_for(f"web-{path}", case, f"account:{user_id}", form_key, secret=secret)
