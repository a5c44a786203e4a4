"""Version 1's activities, kept for cases still running on version 1: send_notification renders
version 1's wording and delivers through the new outbox as episode 1; sync_case does nothing;
load_calendar as before."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities import register
from activities.config import MailConfig
from activities.v1.legacy import LegacyActivities
from activities.v1.models import (
    LoadCalendarInput,
    Recipient,
    SendNotificationInput,
    SyncCaseInput,
    Template,
)
from domain.calendar import DEFAULT_CALENDAR_PATH
from tests.activities.cases import school_referral
from tests.conftest import SmtpServer
from workflows.v1.models import CaseKind, CaseState, Stage

CASE = "CME-7F3A9C21D0B4"
SCHOOL_ADDRESS = "attendance.8512000@schools.example.invalid"
SAT = "sat@portsmouth.example.invalid"


@pytest.fixture
def legacy(mail_config: MailConfig, sqlite_engine: Engine) -> LegacyActivities:
    return LegacyActivities(
        mail=mail_config, engine=sqlite_engine, calendar_path=DEFAULT_CALENDAR_PATH
    )


def mash_input() -> SendNotificationInput:
    return SendNotificationInput(
        case=CASE,
        purpose="mash_escalation:1",
        template=Template.MASH_ESCALATION,
        to=[Recipient.MASH, Recipient.SAT],
        school_laestab="8512000",
        fields={
            "pupil": "Jacob Samplefield",
            "school_laestab": "8512000",
            "reason": "the child is subject to a Child Protection Plan",
            "mash_call_due": "3 Mar 2026",
        },
    )


async def test_send_notification_delivers_version_1_wording_through_the_outbox_as_episode_1(
    legacy: LegacyActivities, smtp_server: SmtpServer, sqlite_engine: Engine
) -> None:
    env = ActivityEnvironment()
    result = await env.run(legacy.send_notification, mash_input())

    message = await smtp_server.wait_for(lambda m: CASE in m["Subject"])
    assert message["Subject"] == (
        f"[CME {CASE}] Safeguarding: child missing education referred to MASH"
    )
    assert {a.addr_spec for a in message["To"].addresses} == {
        "mash@portsmouth.example.invalid",
        SAT,
    }
    assert "Child Protection Plan" in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    # Version 1's Message-ID: derived from the case and the purpose.
    digest = hashlib.sha256(f"{CASE}\x00mash_escalation:1".encode()).hexdigest()[:32]
    assert (
        message["Message-ID"]
        == result.message_id
        == (f"<{digest}.{CASE.lower()}@portsmouth.example.invalid>")
    )
    with Session(sqlite_engine) as session:
        [row] = register.list_notifications(session=session, case=CASE)
    assert (row.episode, row.purpose, row.status, row.template) == (
        1,
        "mash_escalation:1",
        "sent",
        "mash_escalation",
    )

    again = await env.run(legacy.send_notification, mash_input())
    assert again.already_sent is True
    assert len(smtp_server.messages) == 1


async def test_a_refusal_for_good_is_retried_so_the_version_1_workflow_does_not_fail(
    legacy: LegacyActivities, smtp_server: SmtpServer
) -> None:
    smtp_server.refuse_recipient("mash@portsmouth.example.invalid")
    smtp_server.refuse_recipient(SAT)
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(legacy.send_notification, mash_input())
    assert raised.value.type == "RecipientRejected"
    assert not raised.value.non_retryable


async def test_a_refusal_of_some_recipients_is_a_success_as_in_version_1(
    legacy: LegacyActivities, smtp_server: SmtpServer, sqlite_engine: Engine
) -> None:
    smtp_server.refuse_recipient("mash@portsmouth.example.invalid")
    result = await ActivityEnvironment().run(legacy.send_notification, mash_input())
    assert result.already_sent is False
    await smtp_server.wait_for(lambda m: CASE in m["Subject"])
    assert smtp_server.envelopes[0][1] == [SAT]
    with Session(sqlite_engine) as session:
        [row] = register.list_notifications(session=session, case=CASE)
    assert (row.status, row.delivered_to) == ("rejected", [SAT])
    assert row.detail is not None and "refused 1 of 2 recipients (550)" in row.detail


async def test_a_missing_address_is_still_version_1s_recipient_missing(
    legacy: LegacyActivities, smtp_server: SmtpServer
) -> None:
    input = mash_input().model_copy(update={"to": [Recipient.SCHOOL], "school_laestab": None})
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(legacy.send_notification, input)
    assert raised.value.type == "RecipientMissing"
    assert raised.value.non_retryable
    assert smtp_server.messages == []


async def test_sync_case_does_nothing_and_succeeds(
    legacy: LegacyActivities, sqlite_engine: Engine
) -> None:
    referral = school_referral()
    state = CaseState(
        case=CASE,
        kind=CaseKind.DESTINATION_NOT_VERIFIED,
        stage=Stage.SCHOOL_ENQUIRIES,
        referral=referral,
        opened_at=datetime(2026, 3, 2, 9, tzinfo=UTC),
        school_laestab=referral.school_laestab,
    )
    result = await ActivityEnvironment().run(legacy.sync_case, SyncCaseInput(state=state))
    assert (result.case, result.stage) == (CASE, "school_enquiries")
    with Session(sqlite_engine) as session:
        assert register.get_case(session=session, case=CASE) is None


async def test_load_calendar_is_unchanged(legacy: LegacyActivities) -> None:
    snapshot = await ActivityEnvironment().run(
        legacy.load_calendar, LoadCalendarInput(school_laestab="8512000")
    )
    assert snapshot.terms
    assert set(snapshot.inset) <= {"8512000"}
