"""What the case service's answers and failures become in the API: the ``Idempotency-Key``
header as a request id, and each :class:`starter.errors.CaseError` as its problem document
(:func:`case_problem`), its ``reason`` as the detail.

Truthful, as the `cme` command is (:mod:`starter.case_client`): 503 with ``Retry-After`` only
when nothing is recorded (sending the same request again is then safe), 202 when the case has
the request but its answer did not arrive in time, 409 with the case's own reason when it
refused the request (nothing changed).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Annotated

from fastapi import Header

from starter.errors import (
    CaseClosed,
    CaseError,
    CaseOnVersion1,
    CaseRefused,
    CaseUnavailable,
    CliError,
    NoSuchCase,
    NotRecorded,
)
from web.api.problems import RETRY_AFTER_SECONDS, ApiProblem, FieldError

__all__ = [
    "IDEMPOTENCY_KEY_PATTERN",
    "IdempotencyKey",
    "case_problem",
    "no_case",
    "request_id_of_key",
]

# Within the case's request ids (domain.types.RequestId: 8 to 100 of these characters), with
# room for the client's id in front.
IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9._:-]{8,64}$"
_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="The request's idempotency key (8 to 64 letters, digits and . _ : -, e.g. a "
        "UUID): the same key sent again by the same client is the same request, applied once "
        "and answered with the first answer. Without one, the key is derived from the request's "
        "content (the same request sent twice is applied once).",
    ),
]


def request_id_of_key(client_id: int, key: str, *, secret: str) -> str:
    """The case's request id for a client's idempotency key: keys are the client's own (two
    clients' keys never meet). Keyed and hashed (HMAC-SHA256 with the service's secret): an
    update id is kept in Temporal in the clear, and a client may well build its keys from a
    pupil's UPN."""
    assert _KEY.fullmatch(key), key
    digest = hmac.new(secret.encode(), f"{client_id}:{key}".encode(), hashlib.sha256)
    return f"api-{digest.hexdigest()[:32]}"


def no_case(case: str) -> ApiProblem:
    """The same answer for no case and for another school's case: nothing says which."""
    return ApiProblem(
        404, "not-found", f"There is no case {case} that this client may see.", case=case
    )


def case_problem(exc: CliError, case: str, request_id: str | None = None) -> ApiProblem:
    """The problem document for a case's failure (the case's own ``reason`` as its detail)."""
    reason = exc.reason if isinstance(exc, CaseError) else exc.message
    retry = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if isinstance(exc, NotRecorded):
        return ApiProblem(
            503, "not-recorded", reason, headers=retry, case=case, request_id=request_id
        )
    if isinstance(exc, CaseUnavailable):
        return ApiProblem(
            503, "unavailable", reason, headers=retry, case=case, request_id=request_id
        )
    if isinstance(exc, NoSuchCase):
        return no_case(case)
    reused = re.fullmatch(
        r"rejected: request id \S+ was already used on (.+) for a different request: .*",
        exc.message,
    )
    if isinstance(exc, CaseRefused) and reused:
        # A key sent again with another request (draft-ietf-httpapi-idempotency-key-header: 422).
        words = (
            f"This Idempotency-Key was already used on {reused.group(1)} for a different request: "
            "send a new key for a new request."
        )
        return ApiProblem(
            422,
            "invalid-request",
            words,
            errors=[
                FieldError(field="Idempotency-Key", pointer="#", location="header", detail=words)
            ],
            case=case,
            request_id=request_id,
        )
    if isinstance(exc, CaseRefused | CaseOnVersion1):
        return ApiProblem(409, "case-refused", reason, case=case, request_id=request_id)
    if isinstance(exc, CaseClosed):
        return ApiProblem(409, "case-closed", reason, case=case, request_id=request_id)
    if isinstance(exc, CaseError):  # the case could not process it: a problem is on the case
        return ApiProblem(500, "server-error", reason, case=case, request_id=request_id)
    return ApiProblem(422, "invalid-request", reason, case=case, request_id=request_id)
