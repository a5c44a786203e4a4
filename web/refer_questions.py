"""The questions of the three referral forms as the web app asks them, and the way back from the
answers to the referral the intake checks.

* :data:`FORMS`: each form (:class:`Form`) as pages (:class:`Section`) of questions
  (:class:`Question`; :class:`Repeat` for a list: contacts, each contact's phone numbers,
  enquiries, parents, siblings' schools), in the words a school office or an officer reads.
  Every field of the intake's models (:mod:`domain.intake`) is asked: nothing a form has is
  missing from its pages.
* :func:`build`: the answers as typed (each input's text, by its name) -> the referral's data as
  :func:`domain.intake.parse_referral` reads it, and where each of the intake's field paths is
  asked (:class:`Target`: its page, its input), so that each problem the intake finds
  (``pupil.upn``, ``contacts.0.phone_numbers.1``) shows at its input, in the intake's words
  (:func:`problem_words`).
* :func:`page_fields`: a page's questions as the templates draw them (each GOV.UK component's
  parameters); :func:`input_names`: the inputs a page's form sends; :func:`summary`: the answers
  for the check-your-answers page.

No rule is decided here: whether a referral is valid is the intake's business, and who may send
it the case's (:func:`domain.case.rules.check_referrer`). A question left empty is left out of
the data (the intake says what is needed). A question that applies after one answer only (the
leave's end, the destination school) is asked after that choice, not hidden behind it; given
where it does not apply, the intake says so.

Input names follow the intake's paths, dots made dashes (``pupil-upn``; the first contact's
second phone number ``contacts-0-phone_numbers-1``), so they are valid ids for the error
summary's links; a date's parts add ``-day``, ``-month``, ``-year``, an address's ``-line1``
... ``-country``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from markupsafe import Markup, escape

from domain.ctf import DestinationKind, SchoolType
from domain.deletion import CustodialOrder
from domain.enquiries import (
    KIND_WORDS,
    OUTCOME_WORDS,
    SCHOOL_ENQUIRY_KINDS,
    AbsenceKind,
    EnquiryKind,
    EnquiryOutcome,
)
from domain.grounds import GroundKey, Rulebook, grounds
from domain.intake import Gender

__all__ = [
    "FORMS",
    "MAX_INPUT_LENGTH",
    "Built",
    "Form",
    "Option",
    "Question",
    "Repeat",
    "Section",
    "Target",
    "build",
    "input_names",
    "page_fields",
    "problem_words",
    "summary",
]

Kind = Literal["text", "textarea", "date", "radios", "yesno", "checkbox", "address"]

# Longer than any field the intake takes (free text is 4000 characters): kept so that the
# intake names the field as too long, yet a page cannot fill the session with megabytes.
MAX_INPUT_LENGTH = 20_000

DATE_PARTS = ("day", "month", "year")
ADDRESS_LINES = ("line1", "line2", "town", "county")
ADDRESS_PARTS = (*ADDRESS_LINES, "postcode", "country")
UK = "United Kingdom"


@dataclass(frozen=True)
class Option:
    """One answer of a choice."""

    value: str
    text: str
    hint: str = ""


@dataclass(frozen=True)
class Question:
    """One question, at the intake's field ``path`` (relative to its list's item; ``""`` for a
    list of plain values such as phone numbers)."""

    path: str
    label: str
    kind: Kind = "text"
    hint: str = ""
    optional: bool = False
    options: tuple[Option, ...] = ()
    inline: bool = False
    width: str = ""
    input_type: str = "text"
    inputmode: str | None = None
    default: str = ""
    staff_only: bool = False  # asked of CME officers and team leaders, not of a school's user
    called: str = ""  # what "Enter ..." names (default: the label)
    rows: int = 5
    short: str = ""  # its name among the answers (default: the label)

    @property
    def name_words(self) -> str:
        words = self.called or self.label
        if len(words) > 1 and words[1].islower():
            words = words[0].lower() + words[1:]
        return words


@dataclass(frozen=True)
class Repeat:
    """A list the person can add to (up to ``maximum``) and remove from, one fieldset each."""

    path: str
    legend: str  # "Contact": each item is "Contact 1", "Contact 2", ...
    singular: str  # "contact": "Add another contact"
    questions: tuple[Question | Repeat, ...]
    maximum: int
    heading: str = ""
    hint: str = ""
    fixed: Mapping[str, Any] = field(default_factory=dict)  # what every item says
    list_input: str = ""  # where a problem with the whole list shows (item 1's input)

    @property
    def scalar(self) -> bool:
        """A list of plain values (phone numbers, LAESTABs), not of groups."""
        return len(self.questions) == 1 and getattr(self.questions[0], "path", None) == ""


Item = Question | Repeat


@dataclass(frozen=True)
class Section:
    """One page of questions."""

    slug: str
    title: str
    questions: tuple[Item, ...]
    intro: str = ""


@dataclass(frozen=True)
class Form:
    name: str  # the intake's form
    title: str
    sections: tuple[Section, ...]
    school_form: bool  # the pupil's school is the form's: a school's user refers for theirs

    def section(self, slug: str) -> Section | None:
        return next((s for s in self.sections if s.slug == slug), None)


def _name(prefix: str, path: str) -> str:
    part = path.replace(".", "-")
    if not prefix:
        return part
    return f"{prefix}-{part}" if part else prefix


def _join(base: str, path: str) -> str:
    if not base:
        return path
    return f"{base}.{path}" if path else base


# -- the questions ---------------------------------------------------------------------------------

DATE_HINT = "For example, 27 3 2026"
YES_NO = (Option("yes", "Yes"), Option("no", "No"))
GENDERS = (
    Option(Gender.FEMALE.value, "Female"),
    Option(Gender.MALE.value, "Male"),
    Option(Gender.OTHER.value, "Other"),
    Option(Gender.NOT_KNOWN.value, "Not known"),
)


def _child(prefix: str, *, upn_needed: bool) -> tuple[Question, ...]:
    whose = f"the {prefix}'s"  # the pupil's, the child's
    return (
        Question(f"{prefix}.first_name", "First name", called=f"{whose} first name"),
        Question(f"{prefix}.last_name", "Last name", called=f"{whose} last name"),
        Question(
            f"{prefix}.date_of_birth",
            "Date of birth",
            kind="date",
            hint="For example, 14 6 2015",
            called=f"{whose} date of birth",
        ),
        Question(f"{prefix}.gender", "Gender", kind="radios", options=GENDERS, inline=True),
        Question(
            f"{prefix}.upn",
            "Unique pupil number (UPN)" if upn_needed else "Unique pupil number (UPN), if known",
            hint="13 characters, for example A123456789012: it is in the pupil's record",
            optional=not upn_needed,
            width="govuk-input--width-20",
            called="the pupil's UPN",
        ),
    )


def _address(path: str, label: str, *, hint: str = "", optional: bool = False) -> Question:
    return Question(path, label, kind="address", hint=hint, optional=optional)


SCHOOL_LAESTAB = Question(
    "school_laestab",
    "The school's LAESTAB",
    hint="The 7-digit number of the school the pupil is on roll at: the LA's 3 digits and the "
    "school's 4, for example 8512000",
    width="govuk-input--width-10",
    inputmode="numeric",
    staff_only=True,
)

# Questions that follow a choice are asked after it, not revealed by it: GOV.UK Frontend's
# conditional reveal puts aria-expanded on radios, which ARIA does not allow them (axe's
# aria-allowed-attr, govuk-frontend#979). Each says when it applies; an answer where it does not
# apply is the intake's to refuse, in its words.
EHE_LETTER = Question(
    "ehe_letter_reference",
    "Reference of the parent's letter (elective home education only)",
    hint="For ground 9(1)(f): the reference you gave the parent's written notice that they are "
    "educating the child at home",
    optional=True,
    width="govuk-input--width-20",
    called="the reference of the parent's letter",
)
CUSTODIAL_ORDER = Question(
    "custodial_order",
    "What detains the pupil? (custodial ground only)",
    kind="radios",
    optional=True,
    hint="For ground 9(1)(j)",
    options=(
        Option(CustodialOrder.FINAL_ORDER.value, "A final order of a court"),
        Option(CustodialOrder.ORDER_OF_RECALL.value, "An order of recall"),
        Option(CustodialOrder.REMAND.value, "A remand in custody"),
    ),
    called="what detains the pupil",
)
# A pupil whose destination is known is not removed on an absence ground (the intake says so).
_NOT_ON_A_RETURN = frozenset({GroundKey.CONTINUOUS_ABSENCE, GroundKey.AFTER_LEAVE})


def _ground_options() -> tuple[Option, ...]:
    options = []
    for ground in grounds(Rulebook.REGS_2024):
        if ground.key in _NOT_ON_A_RETURN:
            continue
        options.append(Option(ground.code, f"{ground.code}: {ground.title}"))
    return tuple(options)


PUPIL_MIGRATION_RETURN = Form(
    name="pupil_migration_return",
    title="Pupil Migration LA Return",
    school_form=True,
    sections=(
        Section("pupil", "The pupil", (SCHOOL_LAESTAB, *_child("pupil", upn_needed=True))),
        Section(
            "leaving",
            "Leaving the school",
            (
                Question(
                    "referral_date",
                    "Date you remove the pupil from the roll",
                    kind="date",
                    hint="The date of this return: the day the school deletes the pupil's name. "
                    + DATE_HINT,
                    called="the date you remove the pupil from the roll",
                ),
                Question(
                    "leaving_date",
                    "Date the pupil left",
                    kind="date",
                    hint="The last day the pupil attended. " + DATE_HINT,
                    called="the date the pupil left",
                ),
                Question(
                    "ground",
                    "Ground for removing the pupil from the roll",
                    kind="radios",
                    hint="The School Attendance (Pupil Registration) (England) Regulations 2024, "
                    "regulation 9(1)",
                    options=_ground_options(),
                    called="the ground for removing the pupil from the roll",
                ),
                EHE_LETTER,
                CUSTODIAL_ORDER,
                Question(
                    "school_type",
                    "Type of school the pupil is leaving",
                    kind="radios",
                    optional=True,
                    hint="The deadline for the Common Transfer File binds LA-maintained schools; "
                    "if you leave this empty the school is taken to be LA-maintained",
                    options=(
                        Option(
                            SchoolType.LA_MAINTAINED.value,
                            "Maintained by the local authority",
                            hint="Community, foundation or voluntary school, maintained special "
                            "school, pupil referral unit",
                        ),
                        Option(SchoolType.ACADEMY.value, "Academy or free school"),
                        Option(SchoolType.NON_MAINTAINED_SPECIAL.value, "Non-maintained special"),
                        Option(SchoolType.INDEPENDENT.value, "Independent school"),
                    ),
                    called="the type of school",
                ),
            ),
        ),
        Section(
            "destination",
            "Where the pupil has gone",
            (
                Question(
                    "destination.kind",
                    "Where is the pupil going to school?",
                    kind="radios",
                    hint="This is the destination of the Common Transfer File",
                    options=(
                        Option(DestinationKind.SCHOOL.value, "Another school in England or Wales"),
                        Option(
                            DestinationKind.SERVICE_CHILDREN.value,
                            "A Service Children's Education school",
                        ),
                        Option(
                            DestinationKind.SCOTLAND_OR_INDEPENDENT.value,
                            "A school in Scotland, or an independent school",
                        ),
                        Option(
                            DestinationKind.UNKNOWN.value,
                            "Not known, elective home education or abroad",
                            hint="The file goes to the Lost Pupil Database",
                        ),
                    ),
                    called="where the pupil is going to school",
                ),
                Question(
                    "destination.school_laestab",
                    "The new school's LAESTAB (another school only)",
                    hint="7 digits, for example 8512001",
                    optional=True,
                    width="govuk-input--width-10",
                    inputmode="numeric",
                    called="the new school's LAESTAB",
                ),
                Question(
                    "destination.service_school_number",
                    "The service school's number (Service Children's Education only)",
                    hint="Its 4-digit number in LA 702. Leave empty if it is not known yet.",
                    optional=True,
                    width="govuk-input--width-5",
                    inputmode="numeric",
                    called="the service school's number",
                ),
            ),
        ),
        Section(
            "new-address",
            "The pupil's new address",
            (
                _address("new_address", "New address"),
                Question(
                    "lives_with.name",
                    "Name of the person the pupil lives with",
                    called="the name of the person the pupil lives with",
                ),
                Question(
                    "lives_with.relationship",
                    "Their relationship to the pupil",
                    hint="For example, mother",
                    width="govuk-input--width-20",
                    called="their relationship to the pupil",
                ),
                Question(
                    "lives_with_from",
                    "Date the pupil started living with them there",
                    kind="date",
                    hint=DATE_HINT,
                    called="the date the pupil started living there",
                ),
            ),
        ),
        Section(
            "safeguarding",
            "Safeguarding",
            (
                Question(
                    "child_protection_plan",
                    "Is the pupil subject to a Child Protection Plan?",
                    kind="yesno",
                    hint="If yes, MASH and the School Attendance Team are told at once",
                    called="whether the pupil is subject to a Child Protection Plan",
                ),
            ),
        ),
    ),
)

_SCHOOL_ENQUIRY_KINDS = tuple(kind for kind in EnquiryKind if kind in SCHOOL_ENQUIRY_KINDS)

SCHOOL_CME_REFERRAL = Form(
    name="school_cme_referral",
    title="School CME referral",
    school_form=True,
    sections=(
        Section("pupil", "The pupil", (SCHOOL_LAESTAB, *_child("pupil", upn_needed=True))),
        Section(
            "absence",
            "The absence",
            (
                Question(
                    "referral_date",
                    "Date of this referral",
                    kind="date",
                    hint="Usually today. " + DATE_HINT,
                    called="the date of this referral",
                ),
                Question(
                    "absence_kind",
                    "What kind of absence is it?",
                    kind="radios",
                    options=(
                        Option(AbsenceKind.UNAUTHORISED.value, "Unauthorised absence"),
                        Option(
                            AbsenceKind.AFTER_LEAVE.value,
                            "The pupil has not come back after agreed leave",
                        ),
                    ),
                    called="the kind of absence",
                ),
                Question(
                    "leave_end_date",
                    "Last day of the agreed leave (after agreed leave only)",
                    kind="date",
                    optional=True,
                    hint=DATE_HINT,
                    called="the last day of the agreed leave",
                ),
                Question(
                    "first_day_of_absence",
                    "First day of absence (day 1)",
                    kind="date",
                    hint="The first school day the pupil was absent and nobody had been in touch. "
                    "After agreed leave you can leave this empty: it is then the first school "
                    "day after the leave ended. " + DATE_HINT,
                    called="the first day of absence",
                ),
            ),
        ),
        Section(
            "contacts",
            "Contacts",
            (
                Repeat(
                    "contacts",
                    legend="Contact",
                    singular="contact",
                    maximum=10,
                    hint="The people the school can phone about the pupil, with every number "
                    "you have for them",
                    list_input="phone_numbers-0",
                    questions=(
                        Question("name", "Name", called="the contact's name"),
                        Question(
                            "relationship",
                            "Relationship to the pupil",
                            hint="For example, mother",
                            width="govuk-input--width-20",
                            called="the contact's relationship to the pupil",
                        ),
                        Repeat(
                            "phone_numbers",
                            legend="Phone number",
                            singular="phone number",
                            maximum=10,
                            questions=(
                                Question(
                                    "",
                                    "Phone number",
                                    input_type="tel",
                                    width="govuk-input--width-20",
                                    called="a phone number",
                                ),
                            ),
                        ),
                        Question(
                            "is_primary",
                            "This is the primary contact (the school phones them first)",
                            kind="checkbox",
                            short="Primary contact",
                        ),
                    ),
                ),
            ),
        ),
        Section(
            "address",
            "Last known address",
            (_address("last_known_address", "The pupil's last known address"),),
        ),
        Section(
            "enquiries",
            "Enquiries the school has made",
            intro="Record each enquiry the school has made to find the pupil: phone calls to "
            "the primary contact and to every other number, a letter to the last known address, "
            "a home visit. Leave this page empty if you have not made any yet.",
            questions=(
                Repeat(
                    "enquiries_made",
                    legend="Enquiry",
                    singular="enquiry",
                    maximum=50,
                    fixed={"by": "school"},
                    questions=(
                        Question(
                            "kind",
                            "What was the enquiry?",
                            kind="radios",
                            options=tuple(
                                Option(kind.value, KIND_WORDS[kind].capitalize())
                                for kind in _SCHOOL_ENQUIRY_KINDS
                            ),
                            called="what the enquiry was",
                            short="Enquiry",
                        ),
                        Question(
                            "made_on",
                            "Date of the enquiry",
                            kind="date",
                            hint=DATE_HINT,
                            called="the date of the enquiry",
                            short="Date",
                        ),
                        Question(
                            "outcome",
                            "What came of it?",
                            kind="radios",
                            options=tuple(
                                Option(outcome.value, OUTCOME_WORDS[outcome].capitalize())
                                for outcome in EnquiryOutcome
                            ),
                            called="what came of the enquiry",
                            short="Outcome",
                        ),
                        Question("note", "Notes", kind="textarea", optional=True, rows=3),
                    ),
                ),
            ),
        ),
        Section(
            "safeguarding",
            "Safeguarding and siblings",
            (
                Question(
                    "safeguarding_concern",
                    "Do you have a safeguarding concern about the pupil?",
                    kind="yesno",
                    hint="If yes, MASH and the School Attendance Team are told at once",
                    called="whether you have a safeguarding concern",
                ),
                Question(
                    "child_protection_plan",
                    "Is the pupil subject to a Child Protection Plan?",
                    kind="yesno",
                    called="whether the pupil is subject to a Child Protection Plan",
                ),
                Repeat(
                    "siblings_schools",
                    legend="Sibling's school",
                    singular="school",
                    maximum=10,
                    heading="Schools where the pupil's brothers or sisters are on roll",
                    hint="Each school's 7-digit LAESTAB, for example 8512001. Leave empty if "
                    "there are none or you do not know.",
                    questions=(
                        Question(
                            "",
                            "LAESTAB",
                            optional=True,
                            width="govuk-input--width-10",
                            inputmode="numeric",
                            called="the school's LAESTAB",
                        ),
                    ),
                ),
            ),
        ),
    ),
)

PROFESSIONAL_CME_REFERRAL = Form(
    name="professional_cme_referral",
    title="Referral of a child who may not be on a school roll",
    school_form=False,
    sections=(
        Section(
            "child",
            "The child",
            (
                *_child("child", upn_needed=False),
                Question(
                    "child.ethnicity",
                    "Ethnicity",
                    hint="For example, White British, or not known",
                    width="govuk-input--width-20",
                    called="the child's ethnicity, or not known",
                ),
            ),
        ),
        Section(
            "child-address",
            "Where the child lives",
            (
                _address("child.address", "The child's address"),
                _address(
                    "address_if_different",
                    "Address if different",
                    hint="For example, where the child is staying now, if not at the address "
                    "above. Leave empty if it is the same.",
                    optional=True,
                ),
            ),
        ),
        Section(
            "parents",
            "Parents or carers",
            intro="Leave this page empty if you do not know who the parents or carers are.",
            questions=(
                Repeat(
                    "parents",
                    legend="Parent or carer",
                    singular="parent or carer",
                    maximum=2,
                    questions=(
                        Question("name", "Name", called="the parent's or carer's name"),
                        Question(
                            "contact_number",
                            "Contact number",
                            optional=True,
                            input_type="tel",
                            width="govuk-input--width-20",
                        ),
                    ),
                ),
            ),
        ),
        Section(
            "details",
            "About the child's education",
            (
                Question(
                    "details.where_seen",
                    "Where was the child seen?",
                    kind="textarea",
                    called="where the child was seen",
                ),
                Question(
                    "details.how_known_not_on_roll",
                    "Why do you think the child is not on a school roll?",
                    kind="textarea",
                    called="why you think the child is not on a school roll",
                ),
                Question(
                    "details.spoke_to_parents",
                    "Have you spoken to the parents or carers about this?",
                    kind="yesno",
                    called="whether you have spoken to the parents or carers",
                ),
                Question(
                    "school_place_offered_not_taken",
                    "Was the child offered a school place that they did not take up?",
                    kind="radios",
                    inline=True,
                    optional=True,
                    options=(*YES_NO, Option("not_known", "Not known")),
                ),
                Question(
                    "details.notes",
                    "Anything else the School Attendance Team should know",
                    kind="textarea",
                    optional=True,
                ),
            ),
        ),
        Section(
            "referrer",
            "Who is making the referral",
            (
                Question("referrer.name", "Name", called="the referrer's name"),
                Question(
                    "referrer.organisation",
                    "Organisation",
                    hint="For example, the health visiting service",
                    called="the referrer's organisation",
                ),
                Question(
                    "referrer.role",
                    "Job title or role",
                    width="govuk-input--width-20",
                    called="the referrer's job title or role",
                ),
                Question(
                    "referrer.phone",
                    "Phone number",
                    input_type="tel",
                    width="govuk-input--width-20",
                    called="the referrer's phone number",
                ),
                Question(
                    "referrer.email",
                    "Email address",
                    input_type="email",
                    called="the referrer's email address",
                ),
                Question(
                    "referral_date",
                    "Date of the referral",
                    kind="date",
                    hint="Usually today. " + DATE_HINT,
                    called="the date of the referral",
                ),
                Question(
                    "date_received",
                    "Date the local authority received it",
                    kind="date",
                    optional=True,
                    hint="For a referral taken by phone or email. " + DATE_HINT,
                    staff_only=True,
                ),
            ),
        ),
        Section(
            "safeguarding",
            "Safeguarding",
            (
                Question(
                    "safeguarding_concern",
                    "Is there a safeguarding concern about the child?",
                    kind="yesno",
                    hint="If yes, MASH and the School Attendance Team are told at once",
                    called="whether there is a safeguarding concern",
                ),
                Question(
                    "child_protection_plan",
                    "Is the child subject to a Child Protection Plan?",
                    kind="yesno",
                    called="whether the child is subject to a Child Protection Plan",
                ),
            ),
        ),
    ),
)

FORMS: dict[str, Form] = {
    form.name: form
    for form in (PUPIL_MIGRATION_RETURN, SCHOOL_CME_REFERRAL, PROFESSIONAL_CME_REFERRAL)
}


# -- walking the questions -------------------------------------------------------------------------


def _asked(item: Item, staff: bool) -> bool:
    return not (isinstance(item, Question) and item.staff_only and not staff)


def _count(counts: Mapping[str, int], name: str, repeat: Repeat) -> int:
    return max(1, min(int(counts.get(name, 1)), repeat.maximum))


def _question_inputs(question: Question, name: str, staff: bool) -> list[str]:
    if question.kind == "date":
        return [f"{name}-{part}" for part in DATE_PARTS]
    if question.kind == "address":
        return [f"{name}-{part}" for part in ADDRESS_PARTS]
    return [name]


def _item_inputs(item: Item, prefix: str, counts: Mapping[str, int], staff: bool) -> list[str]:
    name = _name(prefix, item.path)
    if isinstance(item, Question):
        return _question_inputs(item, name, staff)
    names = []
    for i in range(_count(counts, name, item)):
        item_prefix = f"{name}-{i}"
        if item.scalar:
            names.append(item_prefix)
            continue
        for inner in item.questions:
            names += _item_inputs(inner, item_prefix, counts, staff)
    return names


def input_names(section: Section, counts: Mapping[str, int], *, staff: bool) -> list[str]:
    """The names of the inputs the page's form sends (as many list items as ``counts`` says)."""
    names: list[str] = []
    for item in section.questions:
        if _asked(item, staff):
            names += _item_inputs(item, "", counts, staff)
    return names


def repeats(section: Section, counts: Mapping[str, int]) -> dict[str, Repeat]:
    """The page's lists, by input name (``contacts``, ``contacts-0-phone_numbers``)."""
    found: dict[str, Repeat] = {}

    def walk(item: Item, prefix: str) -> None:
        if isinstance(item, Question):
            return
        name = _name(prefix, item.path)
        found[name] = item
        if item.scalar:
            return
        for i in range(_count(counts, name, item)):
            for inner in item.questions:
                walk(inner, f"{name}-{i}")

    for item in section.questions:
        walk(item, "")
    return found


# -- from the answers to the referral --------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where an intake field is asked: the name its error is kept under, the id the error
    summary links to, its page, and how its format messages name it."""

    name: str
    link: str
    section: str
    words: str
    kind: Kind


@dataclass
class Built:
    """A form's answers as the referral's data, and where each field path is asked."""

    data: dict[str, Any]
    targets: dict[str, Target]
    first_section: str

    def target(self, path: str) -> Target:
        """The input of the intake's field ``path`` (``contacts.0.phone_numbers.1``); a path no
        input asks shows at its nearest asked parent, else on the form's first page."""
        parts = path.split(".") if path else []
        while parts:
            found = self.targets.get(".".join(parts))
            if found is not None:
                return found
            parts.pop()
        return Target("form", "main-content", self.first_section, "the form", "text")


def _blank(values: Mapping[str, str], names: list[str]) -> bool:
    return all(not values.get(n, "").strip() for n in names)


def _date_value(values: Mapping[str, str], name: str) -> str | None:
    day, month, year = (values.get(f"{name}-{part}", "").strip() for part in DATE_PARTS)
    if not (day or month or year):
        return None
    if day.isdigit() and month.isdigit() and re.fullmatch(r"[0-9]{4}", year):
        try:
            return date(int(year), int(month), int(day)).isoformat()
        except ValueError:
            pass
    # Not a real date: the intake says so, of this field.
    return f"{year or '?'}-{month or '?'}-{day or '?'}"


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        data = data.setdefault(part, {})
    data[parts[-1]] = value


def _parents(data: dict[str, Any], path: str) -> None:
    """The groups ``path`` is in exist, so that a missing field is named as itself."""
    parts = path.split(".")
    for part in parts[:-1]:
        data = data.setdefault(part, {})


class _Builder:
    def __init__(
        self, values: Mapping[str, str], counts: Mapping[str, int], staff: bool, section: str
    ) -> None:
        self.values = values
        self.counts = counts
        self.staff = staff
        self.section = section
        self.targets: dict[str, Target] = {}

    def target(self, path: str, name: str, link: str, words: str, kind: Kind) -> None:
        self.targets.setdefault(path, Target(name, link, self.section, words, kind))

    def item(self, item: Item, data: dict[str, Any], prefix: str, base: str, where: str) -> None:
        """Put ``item``'s answer into ``data`` (its paths relative to ``data``, whose own path is
        ``base``) and record where its fields are asked (``where``: " for contact 2", for the
        messages)."""
        if not _asked(item, self.staff):
            return
        name = _name(prefix, item.path)
        if isinstance(item, Repeat):
            self.repeat(item, data, name, _join(base, item.path), where)
        elif item.kind == "address":
            self.address(item, data, name, _join(base, item.path))
        else:
            self.question(item, data, name, base, where)

    def question(
        self, question: Question, data: dict[str, Any], name: str, base: str, where: str
    ) -> None:
        path = _join(base, question.path)
        _parents(data, question.path)
        link = f"{name}-day" if question.kind == "date" else name
        self.target(path, name, link, question.name_words + where, question.kind)
        text = self.values.get(name, "")
        value: Any
        if question.kind == "date":
            value = _date_value(self.values, name)
        elif question.kind == "checkbox":
            value = text == "yes"
        elif question.kind == "yesno" or {"yes", "no"} <= {o.value for o in question.options}:
            value = {"yes": True, "no": False}.get(text)  # "not known": left out
        else:
            value = text if text.strip() else None
        if value is not None:
            _set(data, question.path, value)

    def address(self, question: Question, data: dict[str, Any], name: str, path: str) -> None:
        lines = [
            (f"{name}-{part}", self.values.get(f"{name}-{part}", "")) for part in ADDRESS_LINES
        ]
        given = [(n, text) for n, text in lines if text.strip()]
        self.target(path, f"{name}-line1", f"{name}-line1", "address line 1", "text")
        self.target(f"{path}.lines", f"{name}-line1", f"{name}-line1", "address line 1", "text")
        for i, (n, _) in enumerate(given):
            self.target(f"{path}.lines.{i}", n, n, "the address line", "text")
        for part, words in (("postcode", "the postcode"), ("country", "the country")):
            n = f"{name}-{part}"
            self.target(f"{path}.{part}", n, n, words, "text")
        postcode = self.values.get(f"{name}-postcode", "")
        if question.optional and not given and not postcode.strip():
            return
        address: dict[str, Any] = {}
        if given:
            address["lines"] = [text for _, text in given]
        if postcode.strip():
            address["postcode"] = postcode
        country = self.values.get(f"{name}-country", "")
        if country.strip():
            address["country"] = country
        _set(data, question.path, address)

    def repeat(
        self, repeat: Repeat, data: dict[str, Any], name: str, path: str, where: str
    ) -> None:
        count = _count(self.counts, name, repeat)
        items: list[Any] = []
        first = f"{name}-0-{repeat.list_input}" if repeat.list_input else None
        for i in range(count):
            item_prefix = f"{name}-{i}"
            inputs = (
                [item_prefix]
                if repeat.scalar
                else [
                    n
                    for q in repeat.questions
                    if not (isinstance(q, Question) and q.kind == "checkbox")
                    for n in _item_inputs(q, item_prefix, self.counts, self.staff)
                ]
            )
            if first is None:
                first = inputs[0]
            if _blank(self.values, inputs):
                continue  # an empty item is not an answer
            j = len(items)
            inner_where = f" for {repeat.singular} {i + 1}" if not repeat.scalar else where
            if repeat.scalar:
                [question] = repeat.questions
                assert isinstance(question, Question)
                self.target(
                    f"{path}.{j}", item_prefix, item_prefix, question.name_words + where, "text"
                )
                items.append(self.values.get(item_prefix, ""))
                continue
            entry: dict[str, Any] = dict(repeat.fixed)
            for inner in repeat.questions:
                self.item(inner, entry, item_prefix, f"{path}.{j}", inner_where)
            items.append(entry)
        assert first is not None
        self.target(path, first, first, repeat.singular + where, "text")
        _set(data, repeat.path, items)


def build(
    form: Form,
    values: Mapping[str, str],
    counts: Mapping[str, int],
    *,
    staff: bool,
    school: str | None = None,
) -> Built:
    """The referral's data from the answers (a school's user's ``school`` is the form's
    school), with the input of every field."""
    data: dict[str, Any] = {"form": form.name}
    targets: dict[str, Target] = {}
    for section in form.sections:
        builder = _Builder(values, counts, staff, section.slug)
        for item in section.questions:
            builder.item(item, data, "", "", "")
        for path, target in builder.targets.items():
            targets.setdefault(path, target)
    if form.school_form and not staff and school is not None:
        data["school_laestab"] = school
    return Built(data=data, targets=targets, first_section=form.sections[0].slug)


_FORMAT_PREFIXES = ("must ", "needs at least", "can have at most", "is not a field")


def problem_words(message: str, target: Target) -> str:
    """The intake's message for a field, as its page shows it. The intake's own rules and
    formats (a UPN's check letter, a date in the future, a phone number) are its words as they
    are; its generic words for a missing or malformed value, which name no field, are said of
    the question ("Enter the child's first name", "Date of birth must be a real date")."""
    choice = target.kind in ("radios", "yesno", "checkbox")
    if message in ("this is required", "must not be empty"):
        return f"{'Select' if choice else 'Enter'} {target.words}"
    if message.startswith("must be a date like"):
        return f"{_capital(target.words)} must be a real date"
    if message.startswith(_FORMAT_PREFIXES):
        return f"{_capital(target.words)} {message}"
    # As GOV.UK shows a message: a capital letter first, no full stop.
    message = message.strip().rstrip(".")
    return message[:1].upper() + message[1:]


def _capital(text: str) -> str:
    text = text.removeprefix("the ")
    return text[:1].upper() + text[1:]


# -- the page's components -------------------------------------------------------------------------


class _Page:
    """A page's questions as GOV.UK components' parameters (see ``refer/_fields.html``)."""

    def __init__(
        self,
        values: Mapping[str, str],
        counts: Mapping[str, int],
        errors: Mapping[str, str],
        staff: bool,
    ) -> None:
        self.values = values
        self.counts = counts
        self.errors = errors
        self.staff = staff

    def error(self, name: str) -> dict[str, str] | None:
        text = self.errors.get(name)
        return {"text": text} if text else None

    def nodes(self, items: tuple[Item, ...], prefix: str, top: bool) -> list[dict[str, Any]]:
        nodes = []
        for item in items:
            if not _asked(item, self.staff):
                continue
            name = _name(prefix, item.path)
            if isinstance(item, Repeat):
                nodes.append(self.repeat(item, name, top))
            else:
                nodes.append(self.question(item, name, top))
        return nodes

    def label(self, question: Question) -> str:
        return question.label + (" (optional)" if question.optional else "")

    def question(self, question: Question, name: str, top: bool, label: str = "") -> dict[str, Any]:
        text = label or self.label(question)
        hint = {"text": question.hint} if question.hint else None
        value = self.values.get(name, question.default)
        size = "s"
        match question.kind:
            case "text":
                params: dict[str, Any] = {
                    "id": name,
                    "name": name,
                    "label": {"text": text, "classes": f"govuk-label--{size}"},
                    "hint": hint,
                    "value": value,
                    "type": question.input_type,
                    "classes": question.width,
                    "autocomplete": "off",
                    "spellcheck": False,
                    "errorMessage": self.error(name),
                }
                if question.inputmode:
                    params["inputmode"] = question.inputmode
                return {"type": "input", "params": params}
            case "textarea":
                return {
                    "type": "textarea",
                    "params": {
                        "id": name,
                        "name": name,
                        "label": {"text": text, "classes": f"govuk-label--{size}"},
                        "hint": hint,
                        "value": value,
                        "rows": question.rows,
                        "spellcheck": True,
                        "errorMessage": self.error(name),
                    },
                }
            case "date":
                error = self.error(name)
                widths = {"day": 2, "month": 2, "year": 4}
                return {
                    "type": "date",
                    "params": {
                        "id": name,
                        "namePrefix": name,
                        "fieldset": {
                            "legend": {"text": text, "classes": f"govuk-fieldset__legend--{size}"}
                        },
                        "hint": hint,
                        "errorMessage": error,
                        "items": [
                            {
                                "name": part,
                                "label": part.capitalize(),
                                "classes": f"govuk-input--width-{widths[part]}"
                                + (" govuk-input--error" if error else ""),
                                "value": self.values.get(f"{name}-{part}", ""),
                                "inputmode": "numeric",
                            }
                            for part in DATE_PARTS
                        ],
                    },
                }
            case "checkbox":
                return {
                    "type": "checkboxes",
                    "params": {
                        "idPrefix": name,
                        "name": name,
                        "errorMessage": self.error(name),
                        "items": [{"value": "yes", "text": text, "checked": value == "yes"}],
                    },
                }
            case "address":
                return self.address(question, name, text, hint)
        options = question.options if question.kind == "radios" else YES_NO
        items = []
        for option in options:
            items.append(
                {
                    "value": option.value,
                    "text": option.text,
                    "hint": {"text": option.hint} if option.hint else None,
                    "checked": value == option.value,
                }
            )
        inline = question.kind == "yesno" or question.inline
        return {
            "type": "radios",
            "params": {
                "idPrefix": name,
                "name": name,
                "fieldset": {
                    "legend": {"text": text, "classes": f"govuk-fieldset__legend--{size}"}
                },
                "hint": hint,
                "errorMessage": self.error(name),
                "classes": "govuk-radios--inline" if inline else "",
                "items": items,
            },
        }

    def address(
        self, question: Question, name: str, text: str, hint: dict[str, str] | None
    ) -> dict[str, Any]:
        parts = (
            ("line1", "Address line 1", ""),
            ("line2", "Address line 2 (optional)", ""),
            ("town", "Town or city", "govuk-!-width-two-thirds"),
            ("county", "County (optional)", "govuk-!-width-two-thirds"),
            ("postcode", "Postcode", "govuk-input--width-10"),
            ("country", "Country", "govuk-!-width-two-thirds"),
        )
        hints = {
            "postcode": "Leave empty if you do not know it",
            "country": "Change this for an address outside the UK",
        }
        children = []
        for part, label, width in parts:
            input_name = f"{name}-{part}"
            # A UK address is the usual one; an optional address left empty stays empty.
            default = UK if part == "country" and not question.optional else ""
            children.append(
                {
                    "type": "input",
                    "params": {
                        "id": input_name,
                        "name": input_name,
                        "label": {"text": label},
                        "hint": {"text": hints[part]} if part in hints else None,
                        "value": self.values.get(input_name, default),
                        "classes": width,
                        "autocomplete": "off",
                        "spellcheck": False,
                        "errorMessage": self.error(input_name),
                    },
                }
            )
        return {"type": "fieldset", "legend": text, "hint": question.hint, "children": children}

    def repeat(self, repeat: Repeat, name: str, top: bool) -> dict[str, Any]:
        count = _count(self.counts, name, repeat)
        items = []
        for i in range(count):
            item_prefix = f"{name}-{i}"
            legend = f"{repeat.legend} {i + 1}"
            if repeat.scalar:
                [question] = repeat.questions
                assert isinstance(question, Question)
                label = f"{question.label} {i + 1}" + (" (optional)" if question.optional else "")
                children = [self.question(question, item_prefix, False, label=label)]
            else:
                children = self.nodes(repeat.questions, item_prefix, False)
            items.append(
                {
                    "legend": legend,
                    "id": item_prefix,
                    "children": children,
                    "remove": f"remove:{item_prefix}" if count > 1 else None,
                    "remove_text": f"Remove {repeat.singular} {i + 1}",
                }
            )
        return {
            "type": "repeat",
            "scalar": repeat.scalar,
            "heading": repeat.heading,
            "hint": repeat.hint,
            "top": top,
            "items": items,
            "add": f"add:{name}" if count < repeat.maximum else None,
            "add_text": f"Add another {repeat.singular}",
        }


def page_fields(
    section: Section,
    values: Mapping[str, str],
    counts: Mapping[str, int],
    errors: Mapping[str, str],
    *,
    staff: bool,
) -> list[dict[str, Any]]:
    """The page's questions, each a node the template draws: ``input``, ``textarea``, ``date``,
    ``radios``,
    ``checkboxes`` (their GOV.UK component's ``params``), ``fieldset`` (``legend``, ``children``)
    and ``repeat`` (``items``, each with its ``children`` and its remove button; the add
    button)."""
    return _Page(values, counts, errors, staff).nodes(section.questions, "", True)


# -- check your answers ----------------------------------------------------------------------------


def _date_words(values: Mapping[str, str], name: str) -> str:
    iso = _date_value(values, name)
    if iso is None:
        return ""
    try:
        day = date.fromisoformat(iso)
    except ValueError:
        return "/".join(values.get(f"{name}-{part}", "") for part in DATE_PARTS)
    return f"{day.day} {day:%B %Y}"


def _lines(lines: list[str]) -> Markup:
    return Markup("<br>").join(escape(line) for line in lines)


class _Summary:
    def __init__(self, values: Mapping[str, str], counts: Mapping[str, int], staff: bool) -> None:
        self.values = values
        self.counts = counts
        self.staff = staff

    def answer(self, question: Question, name: str) -> list[str]:
        """The answer's lines (none when it is empty)."""
        match question.kind:
            case "date":
                words = _date_words(self.values, name)
                return [words] if words else []
            case "address":
                parts = [self.values.get(f"{name}-{p}", "").strip() for p in ADDRESS_PARTS]
                lines = [p for p in parts[:5] if p]
                if not lines:
                    return []
                country = parts[5]
                return lines + ([country] if country and country != UK else [])
            case "checkbox":
                return ["Yes"] if self.values.get(name) == "yes" else []
        value = self.values.get(name, "")
        options = question.options if question.kind == "radios" else YES_NO
        if question.kind in ("radios", "yesno"):
            chosen = next((o for o in options if o.value == value), None)
            return [chosen.text] if chosen is not None else []
        return value.strip().splitlines() if value.strip() else []

    def rows(self, items: tuple[Item, ...], prefix: str) -> list[tuple[str, list[str]]]:
        rows: list[tuple[str, list[str]]] = []
        for item in items:
            if not _asked(item, self.staff):
                continue
            name = _name(prefix, item.path)
            if isinstance(item, Question):
                rows.append((item.short or item.label, self.answer(item, name) or ["Not given"]))
                continue
            given = 0
            for i in range(_count(self.counts, name, item)):
                item_prefix = f"{name}-{i}"
                if item.scalar:
                    [question] = item.questions
                    assert isinstance(question, Question)
                    lines = self.answer(question, item_prefix)
                    if lines:
                        given += 1
                        rows.append((f"{item.legend} {given}", lines))
                    continue
                inner = self.rows(item.questions, item_prefix)
                lines = [
                    f"{label}: {', '.join(answer)}"
                    for label, answer in inner
                    if answer != ["Not given"]
                ]
                if lines:
                    given += 1
                    rows.append((f"{item.legend} {given}", lines))
            if not given:
                rows.append((item.heading or f"{item.legend}s", ["None"]))
        return rows


def summary(
    form: Form, values: Mapping[str, str], counts: Mapping[str, int], *, staff: bool
) -> list[dict[str, Any]]:
    """Each page's answers: ``{"section", "title", "rows"}``, the rows as a GOV.UK summary
    list's (each answer escaped, its lines joined with line breaks)."""
    pages = []
    for section in form.sections:
        rows = _Summary(values, counts, staff).rows(section.questions, "")
        pages.append(
            {
                "section": section.slug,
                "title": section.title,
                "rows": [
                    {
                        "key": {"text": label},
                        "value": {"html": _lines(lines)},
                        "actions": {
                            "items": [
                                {
                                    "href": f"/refer/{section.slug}",
                                    "text": "Change",
                                    "visuallyHiddenText": label,
                                }
                            ]
                        },
                    }
                    for label, lines in rows
                ],
            }
        )
    return pages
