"""Every email's words, rendered from a synthetic notification of its kind: the subject the
service promises, and the lines a reader needs to act."""

from __future__ import annotations

import typing
from datetime import date

import pytest

from activities.render import KINDS, render_notification
from domain.case import notifications as n
from domain.case.model import CaseKind, ProblemKind, Role, Stage
from domain.enquiries import Enquiry, EnquiryBy, EnquiryKind, EnquiryOutcome
from tests.activities.notifications import (
    CASE,
    FIRST,
    LAST,
    PARTNER,
    every_kind,
)

MESSAGES = every_kind()

SUBJECTS = {
    "mash_escalation": f"CME case {CASE}: safeguarding referral to MASH",
    "mash_call_overdue": f"CME case {CASE}: MASH call not recorded by 3 Mar 2026",
    "sat_referral": (
        f"CME case {CASE}: referred to the School Attendance Team, no contact by school day 10 "
        "(27 Feb 2026)"
    ),
    "not_on_roll_referral": (
        f"CME case {CASE}: new referral of a child who may not be on a school roll"
    ),
    "information_shared": f"CME case {CASE}: new information shared",
    "threshold_reached": (
        f"CME case {CASE}: school day 20 reached, deletion permitted from 16 Mar 2026 if "
        "enquiries fail"
    ),
    "ctf_overdue": f"CME case {CASE}: Common Transfer File overdue (due 20 Mar 2026)",
    "outcome_to_school": f"CME case {CASE}: written outcome, deletion on ground 9(1)(i) from "
    "17 Mar 2026",
    "closure_to_school": f"CME case {CASE}: written outcome, case closed with no deletion",
    "closure_decision": f"CME case {CASE}: closure decision",
    "other_la_notice": f"CME case {CASE}: child missing education who has moved to your area",
    "calendar_ends": f"CME case {CASE}: deadline school day 10 lies past the school calendar",
    "problem_report": f"CME case {CASE}: problem on the case (an email could not be delivered)",
}

# What a reader of each email needs, line by line (or phrase by phrase).
NEEDS = {
    "mash_escalation": [
        "Name: Jacob Samplefield",
        "Date of birth: 2 Nov 2013",
        "Last known address: 45 Specimen Street, Portsmouth, PO1 9ZZ",
        "Laura Samplefield (mother, primary contact): 07700 900123, 01632 960111",
        "Tom Samplefield (uncle): no phone number given",
        "In the words of Pat Example (school):",
        "  Neighbour reports shouting at night and the child not seen since half term",
        "Who referred the child, and how to reach them",
        "Email: attendance.8512000@schools.example.invalid (the school's attendance lead)",
        "the school is to phone MASH about this child by the end of 3 Mar 2026",
        "Episode 1, destination not verified (the school's CME referral): opened 1 Oct 2025, "
        "closed 7 Nov 2025: closed with no deletion (located: the child is back at school)",
    ],
    "mash_call_overdue": [
        "No phone call to MASH has been recorded on this case by the end of 3 Mar 2026",
        "The call is the school's to make",
        "Child: Jacob Samplefield (born 2 Nov 2013, UPN Z851200018002)",
    ],
    "sat_referral": [
        "no contact with the child or the family by the end of school day 10 (27 Feb 2026), "
        "counting 9 Feb 2026 as day 1",
        '9 Feb 2026: phone call to the primary contact: no contact ("Mobile rang out, no '
        'voicemail")',
        "26 Feb 2026: home visit to the last known address: no contact",
        "The child stays on the school's roll throughout.",
        "Episode 1",
    ],
    "not_on_roll_referral": [
        "Address: 45 Specimen Street, Portsmouth, PO1 9ZZ",
        "Where the child was seen: At a health visitor appointment",
        "Why they seem not to be on a school roll: Mother said the child has not started school",
        "Spoke to the parents: yes",
        "School place offered and not taken up: not known",
        "Notes, in the referrer's words:",
        "  Family moved from Leeds in January; mother anxious about school places",
        "Phone: 01632 960456",
        "Email: chris.demo@example.invalid",
        "Organisation: Example Health Visiting Service",
    ],
    "information_shared": [
        "Shared by: Pat Example (school)",
        "  A sibling's school says the family may be staying with relatives",
        "2 attendance codes were recorded with it",
    ],
    "threshold_reached": [
        "absent without contact for 20 school days: school day 20 was 13 Mar 2026",
        "permits deletion from 16 Mar 2026, but only once both the school's and the LA's "
        "reasonable enquiries have been made and have failed",
        "The school's enquiries:",
        "9 Feb 2026: phone call to the primary contact: no contact",
        "The LA's enquiries:\n  - none recorded",
        "The LA has made no enquiries yet",
        "Deletion is never backdated.",
    ],
    "ctf_overdue": [
        "was due by 20 Mar 2026",
        "CTF destination: 8512001 (the school with LAESTAB 8512001)",
        "confirm it on the case",
    ],
    "outcome_to_school": [
        "Pupil: Jacob Samplefield (born 2 Nov 2013, UPN Z851200018002)",
        "Outcome of the LA's investigation: not located after the school's and the LA's enquiries",
        "Ground for deletion: regulation 9(1)(i) of The School Attendance (Pupil Registration) "
        "(England) Regulations 2024 (SI 2024/208)",
        "The same ground under the 2006 regulations: 8(1)(h)",
        "You may delete the pupil from your admission register on this ground from 17 Mar 2026, "
        "a school day.",
        "deletion is never backdated",
        "Destination: XXXXXXX (the Lost Pupil Database",
        "Send it by: 21 Apr 2026",
        "Decided by: Sam Officer (CME officer)",
    ],
    "closure_to_school": [
        "closed with no deletion: the pupil must not be deleted from your admission register",
        "Outcome: located: the child is back at school",
        "Reason: contact made on 3 Mar 2026: the child is back at school",
    ],
    "closure_decision": [
        "Outcome: placed on a school roll",
        "Reason: placed on roll at 8512001",
        "Decided by: Sam Officer (CME officer)",
    ],
    "other_la_notice": [
        "Dear colleagues at Leeds City Council,",
        "has moved to your area",
        "Last known address: 45 Specimen Street, Portsmouth, PO1 9ZZ",
        "Last school (LAESTAB): 8512000",
    ],
    "calendar_ends": [
        "A deadline on this case (school day 10) lies past the end of the configured school "
        "calendar",
        "Problem: 1 Sep 2026 is after the calendar's last term (ends 22 Jul 2026)",
    ],
    "problem_report": [
        "What failed: the safeguarding referral to MASH",
        "Detail: case CME-7F3A9C21D0B4, episode 2, mash_escalation:1: the mail server refused "
        "every recipient (550)",
        "What to do: check the address",
    ],
}


def test_there_is_a_synthetic_message_and_a_template_for_every_kind() -> None:
    assert set(MESSAGES) == set(KINDS) == set(SUBJECTS) == set(NEEDS)
    models = typing.get_args(typing.get_args(n.AnyNotification)[0])
    assert {m.model_fields["kind"].default for m in models} == set(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_its_subject_and_the_lines_its_reader_needs(kind: str) -> None:
    rendered = render_notification(
        MESSAGES[kind],
        la_name="Portsmouth",
        school_email="attendance.8512000@schools.example.invalid",
    )
    assert rendered.subject == SUBJECTS[kind]
    assert FIRST not in rendered.subject and LAST not in rendered.subject
    for line in NEEDS[kind]:
        assert line in rendered.body, (kind, line)
    assert rendered.body.endswith(
        f"Case reference: {CASE} (please quote it in any reply)\n\n"
        "--\nPortsmouth School Attendance Team: children missing education\n"
    )
    assert "\n\n\n" not in rendered.body
    # Words, not codes (a problem's detail is the service's own message, which names a purpose).
    detail = str(getattr(MESSAGES[kind], "detail", ""))
    assert "_" not in rendered.body.replace(detail, ""), "a code, not words"


@pytest.mark.parametrize("kind", KINDS)
def test_no_subject_ever_names_the_child(kind: str) -> None:
    """Whatever the child is called, even when a name is also a word of the subject."""
    message = MESSAGES[kind]
    if message.child is not None:
        child = message.child.model_copy(update={"first_name": "Zebedee", "last_name": "Quux"})
        message = message.model_copy(update={"child": child})
    rendered = render_notification(message, la_name="Portsmouth")
    assert "Zebedee" not in rendered.subject and "Quux" not in rendered.subject
    assert rendered.subject.startswith(f"CME case {CASE}: ")


def test_a_school_referral_without_the_schools_address_still_says_how_to_reach_it() -> None:
    rendered = render_notification(MESSAGES["mash_escalation"], la_name="Portsmouth")
    assert "Contact: the school's attendance lead" in rendered.body


def test_the_mash_email_does_not_make_the_call_mashs_task() -> None:
    body = render_notification(MESSAGES["mash_escalation"], la_name="Portsmouth").body
    duty = [line for line in body.splitlines() if "phone MASH" in line]
    assert duty == [
        "For the School Attendance Team: the school is to phone MASH about this child by the "
        "end of 3 Mar 2026 and record the call on the case. If no call is recorded by then, the "
        "SAT team leader is told."
    ]
    assert "please phone" not in body.lower()


def test_a_child_protection_plan_without_a_concern_in_words_says_so() -> None:
    message = MESSAGES["mash_escalation"].model_copy(
        update={
            "child_protection_plan": True,
            "concern": None,
            "mash_call_due": None,
            "mash_caller": Role.CME_OFFICER,
            "earlier_episodes": [],
        }
    )
    body = render_notification(message, la_name="Portsmouth").body
    assert "A child missing education is subject to a Child Protection Plan." in body
    assert "The child is subject to a Child Protection Plan (reported by Pat Example" in body
    assert "the CME officer is to phone MASH about this child as soon as possible" in body
    assert "Earlier episodes" not in body


def test_the_threshold_email_never_claims_enquiries_that_were_not_made() -> None:
    body = render_notification(MESSAGES["threshold_reached"], la_name="Portsmouth").body
    assert "have not found the child" not in body
    assert "The LA has made no enquiries yet" in body

    both = MESSAGES["threshold_reached"].model_copy(update={"la_enquiries": [PARTNER]})
    body = render_notification(both, la_name="Portsmouth").body
    assert "5 Mar 2026: enquiry with partner agencies" in body
    assert "no information about the child" in body
    assert "The LA has made no enquiries" not in body
    assert "both the school and the LA have recorded enquiries" in body

    none = MESSAGES["threshold_reached"].model_copy(
        update={"school_enquiries": [], "stage": Stage.SCHOOL_ENQUIRIES}
    )
    body = render_notification(none, la_name="Portsmouth").body
    assert "The school has recorded no enquiries." in body
    assert "the case has not been referred to the School Attendance Team" in body

    found = Enquiry(
        by=EnquiryBy.LA,
        kind=EnquiryKind.OTHER_LA,
        made_on=date(2026, 3, 6),
        outcome=EnquiryOutcome.INFORMATION,
        note="Leeds have a record of a new address",
    )
    body = render_notification(
        both.model_copy(update={"la_enquiries": [PARTNER, found]}), la_name="Portsmouth"
    ).body
    assert "information found, child not yet located" in body
    assert "Some enquiries found information or made contact" in body


def test_a_verified_return_outcome_and_the_calendar_problem_have_their_own_words() -> None:
    verified = MESSAGES["outcome_to_school"].model_copy(
        update={
            "investigation_outcome": None,
            "ground_other_rulebook": None,
            "ctf_due": None,
            "case_kind": CaseKind.DESTINATION_VERIFIED,
        }
    )
    body = render_notification(verified, la_name="Portsmouth").body
    assert "Outcome: the destination given in the school's Pupil Migration LA Return" in body
    assert "Send it by" not in body
    assert "same ground under" not in body

    unusable = MESSAGES["calendar_ends"].model_copy(update={"deadline": "calendar"})
    rendered = render_notification(unusable, la_name="Portsmouth")
    assert rendered.subject == (
        f"CME case {CASE}: deadline the school calendar lies past the school calendar"
    )
    assert "The school calendar cannot be used on this case" in rendered.body


@pytest.mark.parametrize(
    ("kind", "subject", "advice"),
    [
        (ProblemKind.REGISTER_REJECTED, "register", "report it to the service's administrator"),
        (ProblemKind.CALENDAR_UNUSABLE, "calendar", "correct or extend the school calendar"),
        (ProblemKind.EPISODES_UNKNOWN, "earlier episodes", "without the child's earlier episodes"),
        (ProblemKind.INTERNAL_ERROR, "processing", "quoting the case reference"),
    ],
)
def test_every_problem_report_says_what_failed_and_what_to_do(
    kind: ProblemKind, subject: str, advice: str
) -> None:
    message = MESSAGES["problem_report"].model_copy(
        update={"problem_kind": kind, "subject": subject, "detail": "detail"}
    )
    rendered = render_notification(message, la_name="Portsmouth")
    assert rendered.subject.startswith(f"CME case {CASE}: problem on the case (")
    assert kind.value not in rendered.subject  # words, not the code
    assert advice in rendered.body
    assert "What failed: " in rendered.body
