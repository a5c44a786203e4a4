"""The same request sent twice is applied once: the first answer comes back, marked a duplicate;
the same request id with other content is refused. The opening referral, applied when the case
starts, is answered once when its own delivery arrives. A further referral counts."""

from __future__ import annotations

from datetime import UTC, date, datetime

from domain.case import events as ev
from domain.case import notifications as n
from domain.case.commands import RaiseConcern, RecordEnquiry, RegisterReferral, ReportContact
from domain.case.model import EscalationKind, Role, Stage, TaskName

from .support import (
    CALENDAR,
    CASE,
    PROFESSIONAL,
    SCHOOL_OFFICE,
    Case,
    at,
    enquiry,
    event,
    kinds,
    missing_pupil,
    notification,
    professional_referral,
    rid,
    school_referral,
)


def phone_other(request_id: str, made_on: date = date(2026, 2, 4)) -> RecordEnquiry:
    return RecordEnquiry(
        by=SCHOOL_OFFICE, request_id=request_id, enquiry=enquiry("school", "phone_other", made_on)
    )


def test_the_same_request_sent_again_returns_the_first_answer_and_changes_nothing() -> None:
    case, _ = missing_pupil()
    first = case.do(phone_other("enquiry-request-1"))
    assert first.result is not None and not first.result.duplicate_request
    before = case.state.model_copy(deep=True)

    again = case.do(phone_other("enquiry-request-1"), when=at(date(2026, 2, 4), 15))

    assert again.result == first.result.model_copy(update={"duplicate_request": True})
    assert again.result is not None and again.result.enquiry_id == 3
    assert case.state == before
    assert len(case.state.enquiries) == 3
    assert again.events == []
    assert again.effects == []


def test_the_same_request_id_with_other_content_is_refused() -> None:
    case, _ = missing_pupil()
    case.do(phone_other("enquiry-request-1"))

    reason = case.refuse(phone_other("enquiry-request-1", made_on=date(2026, 2, 3)))

    assert reason == (
        "request id enquiry-request-1 was already used on 4 Feb 2026 for a different request: "
        "send a new request id"
    )


def test_a_refused_request_is_not_remembered() -> None:
    case, _ = missing_pupil()
    case.refuse(phone_other("enquiry-request-1", made_on=date(2026, 2, 5)))  # in the future

    done = case.do(phone_other("enquiry-request-1"))

    assert done.result is not None and not done.result.duplicate_request
    assert len(case.state.enquiries) == 3


def test_a_closing_request_sent_again_returns_its_outcome_without_refusing_the_closed_case() -> (
    None
):
    case, _ = missing_pupil()
    contact = ReportContact(
        by=SCHOOL_OFFICE, request_id="contact-request-1", contact_on=date(2026, 2, 4)
    )
    first = case.do(contact)
    assert case.state.stage is Stage.CLOSED

    again = case.do(contact)

    assert again.result is not None and again.result.duplicate_request
    assert again.result.stage is Stage.CLOSED
    assert first.result is not None
    assert again.result.model_copy(update={"duplicate_request": False}) == first.result


def test_the_opening_referral_is_answered_once_when_its_delivery_arrives_then_as_a_duplicate() -> (
    None
):
    case, _ = missing_pupil()  # opened with request id "opening-request-1"
    delivery = RegisterReferral(
        by=SCHOOL_OFFICE, request_id="opening-request-1", referral=case.state.referral
    )

    first = case.do(delivery)

    assert first.result is not None
    assert (first.result.case, first.result.episode, first.result.stage) == (
        CASE,
        1,
        Stage.SCHOOL_ENQUIRIES,
    )
    assert first.result.existing is False
    assert first.result.duplicate_request is False
    assert case.state.referrals_received == 1  # the opening referral counts once
    assert first.events == []

    second = case.do(delivery)

    assert second.result is not None and second.result.duplicate_request
    assert second.result.existing is False
    assert case.state.referrals_received == 1
    assert second.effects == []


def test_the_opening_request_id_with_another_referral_is_refused() -> None:
    case, _ = missing_pupil()
    other = professional_referral(referral_date=date(2026, 2, 4))
    reason = case.refuse(
        RegisterReferral(by=PROFESSIONAL, request_id="opening-request-1", referral=other)
    )
    assert reason.startswith("request id opening-request-1 was already used on 4 Feb 2026")


def test_a_further_referral_counts_and_is_answered_as_an_existing_case() -> None:
    case, _ = missing_pupil()
    referral = professional_referral(referral_date=date(2026, 2, 4))

    done = case.do(RegisterReferral(by=PROFESSIONAL, request_id=rid(), referral=referral))

    assert case.state.referrals_received == 2
    assert case.state.information[-1].information == (
        "further referral received (professional cme referral) from Chris Demo"
    )
    added = event(done, ev.ReferralAdded)
    assert (added.by, added.form, added.referrals_received) == (
        PROFESSIONAL,
        "professional_cme_referral",
        2,
    )
    assert done.result is not None
    assert (done.result.existing, done.result.referrals_received) == (True, 2)
    assert done.result.stage is Stage.SCHOOL_ENQUIRIES
    assert kinds(done) == []  # no concern: nobody to tell
    assert not case.state.child_protection


def test_a_further_referral_with_a_concern_escalates_to_mash() -> None:
    case, _ = missing_pupil()  # opened Wed 4 Feb: the call is due Thu 5 Feb
    referral = professional_referral(
        referral_date=date(2026, 2, 4), safeguarding=True, notes="bruising seen"
    )

    done = case.do(RegisterReferral(by=PROFESSIONAL, request_id=rid(), referral=referral))

    assert case.state.child_protection
    escalated = event(done, ev.Escalated)
    assert (escalated.by, escalated.kind, escalated.reason) == (
        PROFESSIONAL,
        EscalationKind.MASH,
        "a further referral reports a safeguarding concern",
    )
    mash = notification(done, n.MashEscalation)
    assert mash.concern == "bruising seen"
    assert mash.raised_by == PROFESSIONAL
    assert mash.mash_call_due == date(2026, 2, 5)
    assert mash.mash_caller is Role.SCHOOL  # the school's pupil: the school phones MASH
    assert [t.due for t in case.state.open_tasks(TaskName.PHONE_MASH)] == [date(2026, 2, 5)]


def test_a_further_referral_with_a_concern_on_a_child_protection_case_does_not_escalate_again() -> (
    None
):
    case, _ = missing_pupil(cp=True)
    referral = professional_referral(referral_date=date(2026, 2, 4), cp=True)
    done = case.do(RegisterReferral(by=PROFESSIONAL, request_id=rid(), referral=referral))
    assert kinds(done) == []
    assert len(case.state.escalations) == 1
    assert case.state.referrals_received == 2


def test_a_concern_sent_twice_tells_mash_once() -> None:
    case, _ = missing_pupil()
    concern = RaiseConcern(by=SCHOOL_OFFICE, request_id="concern-request-1", concern="injury")
    case.do(concern)
    again = case.do(concern)
    assert again.result is not None and again.result.duplicate_request
    assert len(case.state.escalations) == 1
    assert len(case.state.notifications) == 1


def test_the_request_id_reuse_message_gives_the_date_in_england() -> None:
    # The workflow's clock is UTC: 23:30 UTC on Sun 31 May 2026 is 00:30 on Mon 1 Jun in England.
    referral = school_referral(
        referral_date=date(2026, 5, 29), day1=date(2026, 5, 18), calendar=CALENDAR
    )
    case, _ = Case.open(
        referral, SCHOOL_OFFICE, now=datetime(2026, 5, 31, 23, 30, tzinfo=UTC), calendar=CALENDAR
    )
    case.do(phone_other("enquiry-request-9", made_on=date(2026, 5, 29)))
    reason = case.refuse(phone_other("enquiry-request-9", made_on=date(2026, 5, 28)))
    assert reason.startswith("request id enquiry-request-9 was already used on 1 Jun 2026 ")
