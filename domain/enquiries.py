"""Enquiries into a missing child's whereabouts, in the guidance's words (seed 2.4).

Schools make the first reasonable enquiries (phone the primary contact, then every other number,
letter to the last known address, home visit); the CME officer then makes the LA's (home visit,
siblings' schools, partners, other LAs, sensitive cases). Deletion on the absence grounds needs both
the school's and the LA's enquiries to have failed: the "joint enquiries" of the regulations.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from domain.types import Note, PlausibleDate


class AbsenceKind(StrEnum):
    UNAUTHORISED = "unauthorised"
    AFTER_LEAVE = "after_leave"


class EnquiryBy(StrEnum):
    SCHOOL = "school"
    LA = "la"


class EnquiryKind(StrEnum):
    PHONE_PRIMARY = "phone_primary"  # school: primary contact number
    PHONE_OTHER = "phone_other"  # school: every other listed number
    LETTER = "letter"  # school: letter to the last known address
    HOME_VISIT = "home_visit"  # school, or CME officer once the school has made its efforts
    SIBLINGS_SCHOOL = "siblings_school"  # LA: schools where siblings are on roll
    PARTNER = "partner"  # LA: social care, health, housing, police
    OTHER_LA = "other_la"  # LA: another local authority
    SENSITIVE = "sensitive"  # LA: refuge, domestic abuse
    SCHOOL_PLACE_OFFER = "school_place_offer"  # LA: was a place offered and not taken up?


SCHOOL_ENQUIRY_KINDS = frozenset(
    {EnquiryKind.PHONE_PRIMARY, EnquiryKind.PHONE_OTHER, EnquiryKind.LETTER, EnquiryKind.HOME_VISIT}
)
LA_ENQUIRY_KINDS = frozenset(EnquiryKind) - {
    EnquiryKind.PHONE_PRIMARY,
    EnquiryKind.PHONE_OTHER,
    EnquiryKind.LETTER,
}


class EnquiryOutcome(StrEnum):
    NO_CONTACT = "no_contact"  # nobody answered / no reply / nobody at the address
    NO_INFORMATION = "no_information"  # answered, but nothing known of the child
    INFORMATION = "information"  # something learnt, child not yet located
    CONTACT_MADE = "contact_made"  # spoke to the family / child located


# The words officers and partners read for each code (emails, the case file).
KIND_WORDS: dict[EnquiryKind, str] = {
    EnquiryKind.PHONE_PRIMARY: "phone call to the primary contact",
    EnquiryKind.PHONE_OTHER: "phone calls to the other contact numbers",
    EnquiryKind.LETTER: "letter to the last known address",
    EnquiryKind.HOME_VISIT: "home visit to the last known address",
    EnquiryKind.SIBLINGS_SCHOOL: "enquiry at the schools where siblings are on roll",
    EnquiryKind.PARTNER: "enquiry with partner agencies (social care, health, housing, police)",
    EnquiryKind.OTHER_LA: "enquiry with another local authority",
    EnquiryKind.SENSITIVE: "sensitive enquiry (refuge, domestic abuse services)",
    EnquiryKind.SCHOOL_PLACE_OFFER: "check whether a school place was offered and not taken up",
}
OUTCOME_WORDS: dict[EnquiryOutcome, str] = {
    EnquiryOutcome.NO_CONTACT: "no contact",
    EnquiryOutcome.NO_INFORMATION: "no information about the child",
    EnquiryOutcome.INFORMATION: "information found, child not yet located",
    EnquiryOutcome.CONTACT_MADE: "contact made",
}
BY_WORDS: dict[EnquiryBy, str] = {EnquiryBy.SCHOOL: "the school", EnquiryBy.LA: "the LA"}


class Enquiry(BaseModel):
    """One enquiry and what came of it."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    by: EnquiryBy
    kind: EnquiryKind
    made_on: PlausibleDate
    outcome: EnquiryOutcome
    note: Note = ""

    @property
    def words(self) -> str:
        """``phone call to the primary contact: no contact``."""
        return f"{KIND_WORDS[self.kind]}: {OUTCOME_WORDS[self.outcome]}"

    @property
    def failed(self) -> bool:
        return self.outcome is not EnquiryOutcome.CONTACT_MADE
