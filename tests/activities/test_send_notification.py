"""send_notification: what arrives at a real SMTP server, and what never arrives twice."""

from __future__ import annotations

import socket
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities import register
from activities.case_activities import CaseActivities
from activities.models import (
    MailConfig,
    Recipient,
    SendNotificationInput,
    Template,
)
from activities.templates import required_fields
from domain.calendar import DEFAULT_CALENDAR_PATH
from tests.conftest import SmtpServer

CASE = "CME-7F3A9C21D0B4"
SCHOOL_ADDRESS = "attendance.8512000@schools.example.invalid"


@pytest.fixture
def acts(mail_config: MailConfig, sqlite_engine: Engine) -> CaseActivities:
    return CaseActivities(
        mail=mail_config, engine=sqlite_engine, calendar_path=DEFAULT_CALENDAR_PATH
    )


def outcome_input(purpose: str = "outcome_to_school") -> SendNotificationInput:
    return SendNotificationInput(
        case=CASE,
        purpose=purpose,
        template=Template.OUTCOME_TO_SCHOOL,
        to=[Recipient.SCHOOL, Recipient.SAT],
        school_laestab="8512000",
        fields={
            "pupil": "Jacob Samplefield (UPN Z851200018002, born 2 Nov 2013)",
            "school_laestab": "8512000",
            "outcome": "not located",
            "ground": "9(1)(i)",
            "ground_title": "20 school days continuous unauthorised absence, enquiries failed",
            "ground_other_rulebook": "8(1)(h)",
            "earliest_deletion_date": "17 Mar 2026",
            "ctf_destination": "XXXXXXXX",
            "ctf_due": "14 Apr 2026",
            "decided_by": "Sam Officer",
        },
    )


def recipients_of(message: EmailMessage) -> set[str]:
    return {a.addr_spec for a in message["To"].addresses}


def body_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content


def notifications(engine: Engine, case: str = CASE) -> list[register.NotificationPublic]:
    with Session(engine) as session:
        return register.list_notifications(session=session, case=case)


async def test_the_written_outcome_reaches_the_school_and_sat(
    acts: CaseActivities, smtp_server: SmtpServer, sqlite_engine: Engine
) -> None:
    result = await ActivityEnvironment().run(acts.send_notification, outcome_input())

    message = await smtp_server.wait_for(lambda m: CASE in m["Subject"])
    assert recipients_of(message) == {SCHOOL_ADDRESS, "sat@portsmouth.example.invalid"}
    assert set(smtp_server.envelopes[0][1]) == {SCHOOL_ADDRESS, "sat@portsmouth.example.invalid"}
    assert message["Subject"].startswith(f"[CME {CASE}] ")
    assert "Samplefield" not in message["Subject"]  # never the child's name in a subject
    assert "Jacob" not in message["Subject"]
    body = body_of(message)
    assert "Jacob Samplefield" in body
    assert "Ground for deletion: 9(1)(i)" in body
    assert "from 17 Mar 2026" in body
    assert "Destination code: XXXXXXXX" in body
    assert "never backdated" in body
    assert message["Message-ID"] == result.message_id
    assert message["From"].addresses[0].addr_spec == "cme-service@portsmouth.example.invalid"

    assert result.already_sent is False
    assert result.recipients == [SCHOOL_ADDRESS, "sat@portsmouth.example.invalid"]
    [row] = notifications(sqlite_engine)
    assert row.purpose == "outcome_to_school"
    assert row.sent_at is not None
    assert row.attempts == 1
    assert row.message_id == result.message_id


async def test_running_the_same_send_twice_delivers_one_message(
    acts: CaseActivities, smtp_server: SmtpServer
) -> None:
    env = ActivityEnvironment()
    first = await env.run(acts.send_notification, outcome_input())
    await smtp_server.wait_for(lambda m: CASE in m["Subject"])
    second = await env.run(acts.send_notification, outcome_input())

    assert first.already_sent is False
    assert second.already_sent is True
    assert second.message_id == first.message_id
    assert second.recipients == first.recipients
    assert len(smtp_server.messages) == 1


async def test_each_purpose_is_its_own_message(
    acts: CaseActivities, smtp_server: SmtpServer, sqlite_engine: Engine
) -> None:
    env = ActivityEnvironment()
    a = await env.run(acts.send_notification, outcome_input("outcome_to_school"))
    b = await env.run(acts.send_notification, outcome_input("outcome_to_school:again"))

    assert a.message_id != b.message_id
    assert len(smtp_server.messages) == 2
    assert [n.purpose for n in notifications(sqlite_engine)] == [
        "outcome_to_school",
        "outcome_to_school:again",
    ]


async def test_a_crash_after_sending_resends_with_the_same_message_id(
    acts: CaseActivities,
    smtp_server: SmtpServer,
    sqlite_engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The one window where a message goes out twice: the server accepted it, the worker died
    before recording that. The retry resends the stored message under the same Message-ID, so
    the receiving side can drop the copy; once recorded, nothing is sent again."""
    real_mark = register.mark_notification_sent
    calls = {"n": 0}

    def crash_once(**kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("worker lost before recording the send")
        real_mark(**kwargs)

    monkeypatch.setattr(register, "mark_notification_sent", crash_once)
    env = ActivityEnvironment()

    with pytest.raises(RuntimeError, match="worker lost"):
        await env.run(acts.send_notification, outcome_input())
    await smtp_server.wait_for(lambda m: CASE in m["Subject"])
    [unsent] = notifications(sqlite_engine)
    assert unsent.sent_at is None

    retried = await env.run(acts.send_notification, outcome_input())
    assert retried.already_sent is False
    await smtp_server.wait_for(lambda m: len(smtp_server.messages) == 2)
    first, second = smtp_server.messages
    assert first["Message-ID"] == second["Message-ID"] == retried.message_id
    assert first["Subject"] == second["Subject"]
    assert body_of(first) == body_of(second)

    again = await env.run(acts.send_notification, outcome_input())
    assert again.already_sent is True
    assert len(smtp_server.messages) == 2
    [row] = notifications(sqlite_engine)
    assert row.sent_at is not None
    assert row.attempts == 2


async def test_a_failed_delivery_is_sent_on_retry(
    mail_config: MailConfig, smtp_server: SmtpServer, sqlite_engine: Engine
) -> None:
    """Mail server down: the activity fails (Temporal retries it); once it is back, one message."""
    down = mail_config.model_copy(update={"smtp_port": _closed_port()})
    env = ActivityEnvironment()
    failing = CaseActivities(mail=down, engine=sqlite_engine, calendar_path=DEFAULT_CALENDAR_PATH)
    with pytest.raises(Exception) as raised:
        await env.run(failing.send_notification, outcome_input())
    assert not isinstance(raised.value, ApplicationError)  # retryable
    assert smtp_server.messages == []

    working = CaseActivities(
        mail=mail_config, engine=sqlite_engine, calendar_path=DEFAULT_CALENDAR_PATH
    )
    result = await env.run(working.send_notification, outcome_input())
    assert result.already_sent is False
    await smtp_server.wait_for(lambda m: CASE in m["Subject"])
    assert len(smtp_server.messages) == 1


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # nothing listens on it once the socket is closed


async def test_mash_escalation_goes_to_mash_and_sat(
    acts: CaseActivities, smtp_server: SmtpServer
) -> None:
    await ActivityEnvironment().run(
        acts.send_notification,
        SendNotificationInput(
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
        ),
    )
    message = await smtp_server.wait_for(lambda m: CASE in m["Subject"])
    assert recipients_of(message) == {
        "mash@portsmouth.example.invalid",
        "sat@portsmouth.example.invalid",
    }
    assert "MASH" in message["Subject"]
    body = body_of(message)
    assert "Child Protection Plan" in body
    assert "3 Mar 2026" in body


async def test_closure_decision_goes_to_sat_and_the_referrer(
    acts: CaseActivities, smtp_server: SmtpServer
) -> None:
    result = await ActivityEnvironment().run(
        acts.send_notification,
        SendNotificationInput(
            case="CME-00AA11BB22CC",
            purpose="closure",
            template=Template.CLOSURE_DECISION,
            to=[Recipient.SAT, Recipient.REFERRER],
            other_address="chris.demo@example.invalid",
            fields={
                "pupil": "Maya Placeholder",
                "outcome": "placed on roll",
                "reason": "offered a place at 8512001, started 9 Mar 2026",
                "decided_by": "Sam Officer",
            },
        ),
    )
    message = await smtp_server.wait_for(lambda m: "CME-00AA11BB22CC" in m["Subject"])
    assert recipients_of(message) == {
        "sat@portsmouth.example.invalid",
        "chris.demo@example.invalid",
    }
    assert result.recipients == ["sat@portsmouth.example.invalid", "chris.demo@example.invalid"]
    assert "Outcome: placed on roll" in body_of(message)


@pytest.mark.parametrize(
    ("to", "school", "other", "problem"),
    [
        ([Recipient.SCHOOL], None, None, "no school LAESTAB"),
        ([Recipient.SCHOOL], "85120", None, "not a LAESTAB"),
        ([Recipient.OTHER_LA], None, None, "no other_address"),
        ([Recipient.REFERRER], None, "not an address", "not an email address"),
        ([], None, None, "no recipients"),
    ],
)
async def test_a_recipient_without_an_address_is_a_business_failure(
    acts: CaseActivities,
    smtp_server: SmtpServer,
    sqlite_engine: Engine,
    to: list[Recipient],
    school: str | None,
    other: str | None,
    problem: str,
) -> None:
    input = outcome_input().model_copy(
        update={"to": to, "school_laestab": school, "other_address": other}
    )
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(acts.send_notification, input)
    assert raised.value.type == "RecipientMissing"
    assert raised.value.non_retryable
    assert problem in str(raised.value)
    assert smtp_server.messages == []
    assert notifications(sqlite_engine) == []  # nothing queued that could never go


async def test_a_missing_template_field_is_a_business_failure(
    acts: CaseActivities, smtp_server: SmtpServer
) -> None:
    input = outcome_input()
    input.fields.pop("earliest_deletion_date")
    input.fields["ground"] = "  "
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(acts.send_notification, input)
    assert raised.value.type == "TemplateFieldMissing"
    assert raised.value.non_retryable
    assert "ground" in str(raised.value)
    assert "earliest_deletion_date" in str(raised.value)
    assert smtp_server.messages == []


def _sample_fields(template: Template) -> dict[str, str]:
    return {name: f"<{name}>" for name in required_fields(template)}


@pytest.mark.parametrize("template", list(Template))
async def test_every_template_sends_a_readable_email(
    acts: CaseActivities, smtp_server: SmtpServer, template: Template
) -> None:
    fields = _sample_fields(template)
    fields["pupil"] = "Jacob Samplefield"
    await ActivityEnvironment().run(
        acts.send_notification,
        SendNotificationInput(
            case=CASE,
            purpose=f"every-template:{template.value}",
            template=template,
            to=[Recipient.SCHOOL, Recipient.OTHER_LA],
            school_laestab="8512000",
            other_address="cme@other-la.example.invalid",
            fields=fields,
        ),
    )
    message = await smtp_server.wait_for(lambda m: CASE in m["Subject"])
    subject = message["Subject"]
    assert subject.startswith(f"[CME {CASE}] ")
    assert "Samplefield" not in subject
    body = body_of(message)
    for name, value in fields.items():
        if name != "pupil" or template is not Template.CALENDAR_ENDS:
            assert value in body or value in subject, (template, name)
    assert f"Case reference: {CASE}" in body
    assert "Portsmouth School Attendance Team" in body
