"""The worker decodes every referral intake accepts: cases start even from the plainest forms.

A UK address with no postcode (a school does not always know it) once passed intake and then
failed to decode in the workflow, which could not read its own input: the case was wedged.
"""

from __future__ import annotations

import asyncio

import pytest

from domain.case.model import CaseKind, Stage
from domain.intake import ProfessionalCMEReferral, SchoolCMEReferral
from tests.conftest import SmtpServer
from tests.workflows.harness import (
    PROFESSIONAL,
    SCHOOL_OFFICE,
    Harness,
    professional_referral,
    school_referral,
)


async def test_a_school_referral_without_a_postcode_opens_its_case(harness: Harness) -> None:
    h = harness
    data = school_referral(today=h.today, day1=h.calendar.day1).model_dump(mode="json")
    del data["last_known_address"]["postcode"]
    referral = SchoolCMEReferral.model_validate(data)
    result = await asyncio.wait_for(h.open(referral, SCHOOL_OFFICE), timeout=30)
    state = await h.state(result.case)
    assert state.kind is CaseKind.DESTINATION_NOT_VERIFIED
    assert state.referral == referral
    assert isinstance(state.referral, SchoolCMEReferral)
    assert state.referral.last_known_address.postcode is None


async def test_a_professional_referral_with_blank_fields_opens_its_case(
    harness: Harness, smtp_server: SmtpServer, recwarn: pytest.WarningsRecorder
) -> None:
    """No postcode, an internationalised email domain, notes left blank, text with line breaks:
    decoded by the worker (in its sandbox, importing nothing more: email-validator's lazy
    imports are passed through)."""
    h = harness
    data = professional_referral(today=h.today).model_dump(mode="json")
    data["child"]["address"]["postcode"] = "  "
    data["referrer"]["email"] = "Chris.Demo@Bücher.example.org"
    data["details"]["notes"] = None
    data["details"]["where_seen"] = "At the GP\r\nwith her mother"
    referral = ProfessionalCMEReferral.model_validate(data)
    assert referral.referrer.email == "Chris.Demo@xn--bcher-kva.example.org"

    result = await asyncio.wait_for(h.open(referral, PROFESSIONAL), timeout=30)
    state = await h.state(result.case)
    assert state.stage is Stage.LA_INVESTIGATION
    assert state.referral == referral
    await smtp_server.wait_for(lambda m: result.case in m["Subject"])
    reimported = [
        str(w.message) for w in recwarn if "after initial workflow load" in str(w.message)
    ]
    assert reimported == []
