"""deliver_notification: what arrives at a real SMTP server on loopback, what never arrives twice,
and how each failure is told (typed, retryable or not, never with personal data)."""

from __future__ import annotations

import email.policy
import hashlib
import logging
import socket
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities import mail, register
from activities.case_activities import CaseActivities
from activities.config import MailConfig
from activities.mail import SMTP_TIMEOUT, Mailer, Outgoing
from activities.render import render_notification
from domain.calendar import DEFAULT_CALENDAR_PATH
from domain.case import notifications as n
from domain.case.effects import DeliverNotificationInput
from domain.case.register_record import register_record
from tests.activities.cases import investigating_state
from tests.activities.notifications import CASE, FIRST, LAST, REFERRER_EMAIL, every_kind
from tests.conftest import SmtpServer

SCHOOL_ADDRESS = "attendance.8512000@schools.example.invalid"
SAT = "sat@portsmouth.example.invalid"
MASH = "mash@portsmouth.example.invalid"
LEADER = "sat-team-leader@portsmouth.example.invalid"
MESSAGES = every_kind()
# Personal data of the synthetic child and referrer: never in an error message or a log.
PERSONAL = [FIRST, LAST, "Z851200018002", "Specimen", "07700", REFERRER_EMAIL, "Laura"]


def make_acts(mail_config: MailConfig, engine: Engine) -> CaseActivities:
    return CaseActivities(mail=mail_config, engine=engine, calendar_path=DEFAULT_CALENDAR_PATH)


@pytest.fixture
def acts(mail_config: MailConfig, register_engine: Engine) -> CaseActivities:
    return make_acts(mail_config, register_engine)


def deliver_input(kind: str = "outcome_to_school", **update: Any) -> DeliverNotificationInput:
    message = MESSAGES[kind].model_copy(update=update)
    return DeliverNotificationInput.model_validate({"notification": message.model_dump()})


async def deliver(acts: CaseActivities, input: DeliverNotificationInput) -> Any:
    return await ActivityEnvironment().run(acts.deliver_notification, input)


def recipients_of(message: EmailMessage) -> set[str]:
    return {a.addr_spec for a in message["To"].addresses}


def body_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content


def outbox(engine: Engine, episode: int = 2) -> list[register.NotificationPublic]:
    with Session(engine) as session:
        return register.list_notifications(session=session, case=CASE, episode=episode)


def assert_no_personal_data(text: str) -> None:
    for value in PERSONAL:
        assert value not in text, f"{value!r} in {text!r}"


# -- delivery and the outbox -----------------------------------------------------------------------


async def test_the_written_outcome_reaches_the_school_and_sat(
    acts: CaseActivities, smtp_server: SmtpServer, register_engine: Engine
) -> None:
    result = await deliver(acts, deliver_input())

    message = await smtp_server.wait_for(lambda m: CASE in m["Subject"])
    assert recipients_of(message) == {SCHOOL_ADDRESS, SAT}
    assert set(smtp_server.envelopes[0][1]) == {SCHOOL_ADDRESS, SAT}
    assert message["Subject"] == (
        f"CME case {CASE}: written outcome, deletion on ground 9(1)(i) from 17 Mar 2026"
    )
    body = body_of(message)
    assert "Pupil: Jacob Samplefield" in body
    assert "from 17 Mar 2026, a school day" in body
    assert message["Message-ID"] == result.message_id
    assert message["X-CME-Case"] == CASE
    assert message["From"].addresses[0].addr_spec == "cme-service@portsmouth.example.invalid"

    assert result.already_sent is False
    assert result.recipients == [SCHOOL_ADDRESS, SAT]
    [row] = outbox(register_engine)
    assert (row.case_ref, row.episode, row.purpose) == (CASE, 2, "outcome_to_school")
    assert row.template == "outcome_to_school"
    assert row.status == "sent"
    assert row.sent_at is not None
    assert row.attempts == 1
    assert row.message_id == result.message_id
    assert row.delivered_to == [SCHOOL_ADDRESS, SAT]


@pytest.mark.parametrize("kind", sorted(MESSAGES))
def test_every_email_is_byte_for_byte_what_pythons_default_policy_makes(
    kind: str, mail_config: MailConfig, sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The mailer makes each header's class once (issue 11), and nothing else: each kind of
    email, as sent, is the bytes Python's default email policy makes of it."""
    monkeypatch.setattr(mail, "formatdate", lambda **_: "Sun, 29 Nov 2026 12:00:00 +0000")
    rendered = render_notification(MESSAGES[kind], la_name="Portsmouth City Council")
    out = Outgoing(
        case=CASE,
        episode=2,
        purpose=kind,
        template=kind,
        subject=rendered.subject,
        body=rendered.body,
        recipients=[SAT, "Ünïcode Name <unicode@example.invalid>", LEADER],
    )
    mailer = Mailer(mail=mail_config, engine=sqlite_engine)

    def sent(policy: Any) -> bytes:
        with monkeypatch.context() as patch:
            patch.setattr(mail, "_POLICY", policy)
            mail._address_header.cache_clear()
            message = mailer._email(
                out, "<id@example.invalid>", out.subject, out.body, out.recipients
            )
            return message.as_bytes(policy=mail._WIRE_POLICY)

    made_once = sent(mail._POLICY)
    assert made_once == sent(email.policy.default)
    assert rendered.subject.encode() in made_once or b"=?utf-8?" in made_once


async def test_the_same_delivery_twice_sends_one_message(
    acts: CaseActivities, smtp_server: SmtpServer
) -> None:
    first = await deliver(acts, deliver_input())
    await smtp_server.wait_for(lambda m: CASE in m["Subject"])
    second = await deliver(acts, deliver_input())

    assert first.already_sent is False
    assert second.already_sent is True
    assert second.message_id == first.message_id
    assert second.recipients == first.recipients
    assert len(smtp_server.messages) == 1


async def test_each_episode_and_purpose_is_its_own_message(
    acts: CaseActivities, smtp_server: SmtpServer, register_engine: Engine
) -> None:
    a = await deliver(acts, deliver_input())
    b = await deliver(acts, deliver_input(purpose="outcome_to_school:again"))
    c = await deliver(acts, deliver_input(episode=3))

    assert len({a.message_id, b.message_id, c.message_id}) == 3
    assert len(smtp_server.messages) == 3
    assert [r.purpose for r in outbox(register_engine)] == [
        "outcome_to_school",
        "outcome_to_school:again",
    ]
    assert [r.purpose for r in outbox(register_engine, episode=3)] == ["outcome_to_school"]


async def test_the_worker_names_itself_to_the_mail_server_by_its_host_name_looked_up_once(
    acts: CaseActivities, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    lookups: list[str] = []

    def getfqdn(name: str = "") -> str:
        lookups.append(name)
        return "worker-1.cme.example.invalid"

    monkeypatch.setattr(socket, "getfqdn", getfqdn)
    await deliver(acts, deliver_input())
    await deliver(acts, deliver_input(purpose="outcome_to_school:again"))

    assert smtp_server.ehlo_names == ["worker-1.cme.example.invalid"] * 2
    assert len(lookups) == 1  # not once per connection


def test_message_ids_are_derived_from_case_episode_and_purpose() -> None:
    def mid(case: str, episode: int, purpose: str) -> str:
        return register.message_id_for(
            case=case, episode=episode, purpose=purpose, domain="la.example.invalid"
        )

    first = mid(CASE, 2, "closure")
    assert first == mid(CASE, 2, "closure")
    assert first.startswith("<") and first.endswith(f".{CASE.lower()}@la.example.invalid>")
    assert (
        len({first, mid(CASE, 3, "closure"), mid(CASE, 2, "other"), mid("CME-1", 2, "closure")})
        == 4
    )
    # Episode 1 keeps version 1's derivation (case and purpose only).
    digest = hashlib.sha256(f"{CASE}\x00closure".encode()).hexdigest()[:32]
    assert mid(CASE, 1, "closure") == f"<{digest}.{CASE.lower()}@la.example.invalid>"


async def test_a_crash_after_sending_resends_with_the_same_message_id(
    acts: CaseActivities,
    smtp_server: SmtpServer,
    register_engine: Engine,
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

    with pytest.raises(RuntimeError, match="worker lost"):
        await deliver(acts, deliver_input())
    await smtp_server.wait_for(lambda m: CASE in m["Subject"])
    [unsent] = outbox(register_engine)
    assert (unsent.status, unsent.sent_at) == ("pending", None)

    retried = await deliver(acts, deliver_input())
    assert retried.already_sent is False
    await smtp_server.wait_for(lambda m: len(smtp_server.messages) == 2)
    first, second = smtp_server.messages
    assert first["Message-ID"] == second["Message-ID"] == retried.message_id
    assert first["Subject"] == second["Subject"]
    assert body_of(first) == body_of(second)

    again = await deliver(acts, deliver_input())
    assert again.already_sent is True
    assert len(smtp_server.messages) == 2
    [row] = outbox(register_engine)
    assert row.status == "sent"
    assert row.attempts == 2


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # nothing listens on it once the socket is closed


async def test_a_mail_server_that_is_down_is_retried_and_the_message_goes_once_it_is_back(
    mail_config: MailConfig, smtp_server: SmtpServer, register_engine: Engine
) -> None:
    down = make_acts(mail_config.model_copy(update={"smtp_port": _closed_port()}), register_engine)
    with pytest.raises(Exception) as raised:
        await deliver(down, deliver_input())
    assert not isinstance(raised.value, ApplicationError)  # raised as it is: retried
    assert isinstance(raised.value, OSError)
    assert smtp_server.messages == []
    [pending] = outbox(register_engine)
    assert pending.status == "pending"

    result = await deliver(make_acts(mail_config, register_engine), deliver_input())
    assert result.already_sent is False
    await smtp_server.wait_for(lambda m: CASE in m["Subject"])
    assert len(smtp_server.messages) == 1
    [sent] = outbox(register_engine)
    assert (sent.status, sent.attempts) == ("sent", 2)


def test_smtp_steps_time_out_quickly() -> None:
    """Retries at most 10 s apart, each attempt giving up within 10 s: queued mail goes out
    within about 30 s of the server coming back."""
    assert SMTP_TIMEOUT <= 10


def _with_message_id(message_id: str) -> Callable[[EmailMessage], bool]:
    return lambda m: bool(m["Message-ID"] == message_id)


async def test_every_kind_is_delivered_to_its_recipients(
    mail_config: MailConfig, smtp_server: SmtpServer, sqlite_engine: Engine
) -> None:
    acts = make_acts(mail_config, sqlite_engine)
    expected = {
        n.Recipient.MASH: MASH,
        n.Recipient.SAT: SAT,
        n.Recipient.TEAM_LEADER: LEADER,
        n.Recipient.SCHOOL: SCHOOL_ADDRESS,
    }
    for kind, message in MESSAGES.items():
        result = await deliver(acts, deliver_input(kind, purpose=f"every-kind:{kind}"))
        received = await smtp_server.wait_for(_with_message_id(result.message_id))
        wanted = {expected.get(r) or str(message.other_address) for r in message.to}
        assert recipients_of(received) == wanted, kind
        assert received["Subject"].startswith(f"CME case {CASE}: ")
        assert FIRST not in received["Subject"] and LAST not in received["Subject"]
    assert len(smtp_server.messages) == len(MESSAGES)


# -- failures --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("update", "problem"),
    [
        ({"to": [n.Recipient.SCHOOL], "school_laestab": None}, "the school has no usable LAESTAB"),
        ({"to": [n.Recipient.SCHOOL], "school_laestab": "85120"}, "no usable LAESTAB"),
        ({"to": [n.Recipient.OTHER_LA], "other_address": None}, "no address for the other LA"),
        ({"to": [n.Recipient.REFERRER], "other_address": None}, "no address for the referrer"),
        ({"to": []}, "no recipients"),
    ],
)
async def test_a_recipient_without_an_address_is_rejected_for_good(
    acts: CaseActivities,
    smtp_server: SmtpServer,
    register_engine: Engine,
    update: dict[str, Any],
    problem: str,
) -> None:
    with pytest.raises(ApplicationError) as raised:
        await deliver(acts, deliver_input(**update))
    assert raised.value.type == "RecipientRejected"
    assert raised.value.non_retryable
    assert problem in raised.value.message
    assert raised.value.message.startswith(f"case {CASE}, episode 2, outcome_to_school: ")
    assert_no_personal_data(raised.value.message)
    assert smtp_server.messages == []
    assert outbox(register_engine) == []  # nothing queued that could never go


async def test_a_setting_that_is_not_an_address_is_rejected_for_good(
    mail_config: MailConfig, smtp_server: SmtpServer, register_engine: Engine
) -> None:
    acts = make_acts(mail_config.model_copy(update={"sat_email": "sat team"}), register_engine)
    with pytest.raises(ApplicationError) as raised:
        await deliver(acts, deliver_input())
    assert raised.value.type == "RecipientRejected" and raised.value.non_retryable
    assert "the School Attendance Team address in the settings is not an email address" in str(
        raised.value
    )


async def test_every_recipient_refused_for_good_is_a_recipient_rejected(
    acts: CaseActivities, smtp_server: SmtpServer, register_engine: Engine
) -> None:
    smtp_server.refuse_recipient(REFERRER_EMAIL, "550 5.1.1 <chris.demo@example.invalid> unknown")
    smtp_server.refuse_recipient(SAT, "553 5.1.3 mailbox name not allowed")
    with pytest.raises(ApplicationError) as raised:
        await deliver(acts, deliver_input("closure_decision"))
    error = raised.value
    assert (error.type, error.non_retryable) == ("RecipientRejected", True)
    assert error.message == (
        f"case {CASE}, episode 2, closure: the mail server refused every recipient (550, 553)"
    )
    assert_no_personal_data(str(error))
    assert smtp_server.messages == []
    [row] = outbox(register_engine)
    assert (row.status, row.detail, row.delivered_to) == ("rejected", error.message, [])

    # The address is corrected (here: the server accepts it again); the retry of the case's
    # problem sends it, with the same Message-ID.
    smtp_server.accept_everything()
    result = await deliver(acts, deliver_input("closure_decision"))
    message = await smtp_server.wait_for(lambda m: CASE in m["Subject"])
    assert message["Message-ID"] == row.message_id == result.message_id
    [sent] = outbox(register_engine)
    assert (sent.status, sent.detail, sent.attempts) == ("sent", None, 2)


async def test_some_recipients_refused_is_rejected_and_the_others_are_not_sent_it_again(
    acts: CaseActivities, smtp_server: SmtpServer, register_engine: Engine
) -> None:
    smtp_server.refuse_recipient(MASH)
    with pytest.raises(ApplicationError) as raised:
        await deliver(acts, deliver_input("mash_escalation"))
    assert raised.value.type == "RecipientRejected" and raised.value.non_retryable
    assert "refused 1 of 2 recipients (550)" in raised.value.message
    assert_no_personal_data(raised.value.message)
    await smtp_server.wait_for(lambda m: CASE in m["Subject"])
    assert smtp_server.envelopes == [("cme-service@portsmouth.example.invalid", [SAT])]
    [row] = outbox(register_engine)
    assert (row.status, row.delivered_to) == ("rejected", [SAT])

    smtp_server.accept_everything()
    await deliver(acts, deliver_input("mash_escalation"))
    await smtp_server.wait_for(lambda m: len(smtp_server.messages) == 2)
    assert smtp_server.envelopes[1][1] == [MASH]  # only the one who had not had it
    first, second = smtp_server.messages
    assert first["Message-ID"] == second["Message-ID"]
    assert recipients_of(second) == {MASH, SAT}  # the same message, To: both
    [row] = outbox(register_engine)
    assert row.status == "sent"


async def test_a_temporary_refusal_of_every_recipient_is_retried(
    acts: CaseActivities, smtp_server: SmtpServer, register_engine: Engine
) -> None:
    smtp_server.refuse_recipient(SAT, "451 4.3.0 try again later")
    with pytest.raises(ApplicationError) as raised:
        await deliver(acts, deliver_input("sat_referral"))
    assert raised.value.type == "RecipientsDeferred"
    assert not raised.value.non_retryable
    assert raised.value.message.endswith("the mail server deferred every recipient (451)")
    [row] = outbox(register_engine)
    assert row.status == "pending"

    smtp_server.accept_everything()
    result = await deliver(acts, deliver_input("sat_referral"))
    assert result.already_sent is False
    assert len(smtp_server.messages) == 1


async def test_some_recipients_deferred_is_retried_for_them_only(
    acts: CaseActivities, smtp_server: SmtpServer, register_engine: Engine
) -> None:
    smtp_server.refuse_recipient(SCHOOL_ADDRESS, "450 4.2.1 mailbox busy")
    with pytest.raises(ApplicationError) as raised:
        await deliver(acts, deliver_input())
    assert (raised.value.type, raised.value.non_retryable) == ("RecipientsDeferred", False)
    assert raised.value.message.endswith("the mail server deferred 1 of 2 recipients (450)")
    [row] = outbox(register_engine)
    assert (row.status, row.delivered_to) == ("pending", [SAT])

    smtp_server.accept_everything()
    await deliver(acts, deliver_input())
    assert [envelope[1] for envelope in smtp_server.envelopes] == [[SAT], [SCHOOL_ADDRESS]]
    [row] = outbox(register_engine)
    assert row.status == "sent"


async def test_a_message_refused_for_good_is_a_message_rejected(
    acts: CaseActivities, smtp_server: SmtpServer, register_engine: Engine
) -> None:
    smtp_server.refuse_data("554 5.6.0 message content rejected")
    with pytest.raises(ApplicationError) as raised:
        await deliver(acts, deliver_input("mash_escalation"))
    error = raised.value
    assert (error.type, error.non_retryable) == ("MessageRejected", True)
    assert error.message == (
        f"case {CASE}, episode 2, mash_escalation: the mail server refused the message (554)"
    )
    assert smtp_server.messages == []
    assert smtp_server.refusals == [("DATA", "554 5.6.0 message content rejected")]
    [row] = outbox(register_engine)
    assert row.status == "rejected"


async def test_a_temporary_refusal_of_the_message_is_raised_as_it_is(
    acts: CaseActivities, smtp_server: SmtpServer
) -> None:
    smtp_server.refuse_data("452 4.3.1 insufficient system storage")
    with pytest.raises(Exception) as raised:
        await deliver(acts, deliver_input())
    assert not isinstance(raised.value, ApplicationError)
    assert getattr(raised.value, "code", None) == 452


async def test_logs_carry_no_personal_data(
    acts: CaseActivities, smtp_server: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await deliver(acts, deliver_input("mash_escalation"))
    await deliver(acts, deliver_input("mash_escalation"))
    smtp_server.refuse_recipient(REFERRER_EMAIL)
    with pytest.raises(ApplicationError):
        await deliver(acts, deliver_input("closure_decision"))
    # Every log of the service and its libraries; not the test's SMTP server's (mail.log), which
    # logs every line it receives.
    messages = [r.getMessage() for r in caplog.records if not r.name.startswith("mail.log")]
    assert any("already sent" in m for m in messages)
    for message in messages:
        assert_no_personal_data(message)


# -- without the register --------------------------------------------------------------------------


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
async def test_delivery_goes_on_when_the_register_is_unreachable(
    mail_config: MailConfig,
    smtp_server: SmtpServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    database: str,
) -> None:
    """The outbox cannot be written: the message is sent anyway, with its deterministic
    Message-ID, and a warning (no personal data) is logged."""
    if database == "sqlite":
        unreachable = register.make_engine(f"sqlite:///{tmp_path / 'nowhere' / 'register.db'}")
        (tmp_path / "nowhere").rmdir()  # the directory make_engine made: the file cannot open
    else:
        unreachable = register.make_engine(
            f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/test"
        )
    caplog.set_level(logging.WARNING)
    acts = make_acts(mail_config, unreachable)
    try:
        result = await deliver(acts, deliver_input("mash_escalation"))
    finally:
        unreachable.dispose()
    assert result.already_sent is False
    message = await smtp_server.wait_for(lambda m: CASE in m["Subject"])
    domain = "portsmouth.example.invalid"
    assert (
        message["Message-ID"]
        == result.message_id
        == register.message_id_for(case=CASE, episode=2, purpose="mash_escalation", domain=domain)
    )
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("the register is unreachable" in w for w in warnings)
    for warning in warnings:
        assert_no_personal_data(warning)


# -- a register sync riding along (workflow revision 4) ----------------------------------------


def with_record(kind: str = "mash_escalation") -> DeliverNotificationInput:
    """A delivery carrying its episode's register record, as a revision-4 case sends it."""
    record = register_record(investigating_state(CASE, episode=2))
    return deliver_input(kind).model_copy(update={"record": record})


async def test_a_delivery_carrying_the_sync_writes_the_register_then_sends(
    acts: CaseActivities, smtp_server: SmtpServer, register_engine: Engine
) -> None:
    result = await deliver(acts, with_record())
    assert (result.synced, result.register_refused) == (True, None)
    assert result.recorded  # the outbox row found its episode's row
    with Session(register_engine) as session:
        case = register.get_case(session=session, case=CASE)
    assert case is not None and case.episode == 2
    await smtp_server.wait_for(lambda m: CASE in m["Subject"])
    assert [n.status for n in outbox(register_engine)] == ["sent"]


async def test_a_delivery_without_a_record_writes_no_case(
    acts: CaseActivities, smtp_server: SmtpServer, register_engine: Engine
) -> None:
    result = await deliver(acts, deliver_input("mash_escalation"))
    assert result.synced is None
    with Session(register_engine) as session:
        assert register.get_case(session=session, case=CASE) is None


async def test_a_register_refusing_the_carried_sync_holds_up_no_email(
    mail_config: MailConfig,
    smtp_server: SmtpServer,
    sqlite_engine: Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The register refuses the record for good: the email goes regardless, and the result
    says why in words (no personal data), for the case to record as a problem."""
    acts = make_acts(mail_config, sqlite_engine)
    with sqlite_engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TRIGGER refuse_case BEFORE INSERT ON cme_case "
                "BEGIN SELECT RAISE(ABORT, 'refused by a constraint'); END"
            )
        )
    caplog.set_level(logging.WARNING)
    result = await deliver(acts, with_record())
    assert result.synced is False
    assert result.register_refused is not None
    assert result.register_refused.startswith(f"case {CASE}, episode 2: the register refused")
    assert_no_personal_data(result.register_refused)
    await smtp_server.wait_for(lambda m: CASE in m["Subject"])
    for record in caplog.records:
        assert_no_personal_data(record.getMessage())


async def test_a_register_away_for_the_carried_sync_holds_up_no_email(
    mail_config: MailConfig,
    smtp_server: SmtpServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The register is unreachable: the email goes regardless, and the result says the sync was
    not taken (and not refused), for the case to sync again the usual way."""
    unreachable = register.make_engine(f"sqlite:///{tmp_path / 'nowhere' / 'register.db'}")
    (tmp_path / "nowhere").rmdir()
    caplog.set_level(logging.WARNING)
    try:
        result = await deliver(make_acts(mail_config, unreachable), with_record())
    finally:
        unreachable.dispose()
    assert (result.synced, result.register_refused) == (False, None)
    await smtp_server.wait_for(lambda m: CASE in m["Subject"])
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("the register is unreachable; the case syncs again" in w for w in warnings)
    for warning in warnings:
        assert_no_personal_data(warning)


async def test_a_send_that_cannot_be_recorded_still_counts(
    acts: CaseActivities,
    smtp_server: SmtpServer,
    register_engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The register goes away between the send and its record: the activity succeeds (failing
    would send again); the case's next sync marks the row sent."""

    def unreachable(**kwargs: Any) -> None:
        raise OperationalError("UPDATE notification ...", {}, Exception("connection refused"))

    monkeypatch.setattr(register, "mark_notification_sent", unreachable)
    result = await deliver(acts, deliver_input())
    assert result.already_sent is False
    assert len(smtp_server.messages) == 1
    [row] = outbox(register_engine)
    assert row.status == "pending"
