"""The three ways a CME case starts, as forms a school office or a professional fills in.

* :class:`PupilMigrationReturn`: destination verified, the school's return at the point of removal
  (seed 2.3);
* :class:`SchoolCMEReferral`: destination not verified, a pupil on roll is missing (seed 2.4);
* :class:`ProfessionalCMEReferral`: a child who may not be on any roll (seed appendix 5).

Each form carries a literal ``form`` field, so :data:`Referral` is a discriminated union.

Validation is split in two:

* rules that need no outside knowledge run on every ``model_validate``: formats (UPN, LAESTAB, CTF
  destination, phone numbers, postcodes), fields needed together, the ground existing in the
  rulebook in force on the leaving date, the child being of compulsory school age on the referral
  date, the leave dates, at least one phone number, the EHE letter. The workflow re-validates
  stored referrals this way, without context;
* rules that need today's date or the school calendar run only when a validation context is given
  (``{"today": date, "calendar": SchoolCalendar}``): no date in the future, and the first day of
  absence being a school day of the school. :func:`parse_referral` always gives that context.

Every message names the field it is about and is written for a school office, not a programmer.

Every field takes its format from :mod:`domain.types` (names, free text, LAESTAB, UPN, phone,
email, postcode, dates), so whatever :func:`parse_referral` accepts, ``model_validate`` of its
``model_dump(mode="json")`` accepts again without context, and gives an equal referral: the worker
always decodes the referral a case started with.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, NoReturn, Self, TypeAlias

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError

from domain.calendar import CalendarEndsError, SchoolCalendar, human_date
from domain.ctf import (
    LOST_PUPIL_DATABASE,
    SCOTLAND_OR_INDEPENDENT,
    SERVICE_CHILDREN_LA,
    DestinationKind,
    SchoolType,
    is_la_without_school,
    la_without_school_message,
    validate_ctf_destination,
)
from domain.deletion import CustodialOrder
from domain.enquiries import SCHOOL_ENQUIRY_KINDS, AbsenceKind, Enquiry, EnquiryBy
from domain.grounds import (
    Ground,
    GroundKey,
    Rulebook,
    UnknownGroundError,
    find_ground,
    rulebook_for,
)
from domain.school_age import ceases_before_school_next_meets, compulsory_school_age_bounds
from domain.types import (
    EMAIL_MESSAGE,
    LAESTAB_MESSAGE,
    PHONE_CHARACTERS_MESSAGE,
    POSTCODE_MESSAGE,
    UPN_CHECK_MESSAGE,
    UPN_FORMAT_MESSAGE,
    UPN_LENGTH_MESSAGE,
    EmailAddress,
    FreeText,
    Laestab,
    Note,
    PersonName,
    Phone,
    PlausibleDate,
    Reference,
    ShortText,
    Upn,
    check_laestab,
    check_postcode,
    check_text,
    printable,
)

__all__ = [
    "EMAIL_MESSAGE",
    "FORM_NAMES",
    "LAESTAB_MESSAGE",
    "PHONE_CHARACTERS_MESSAGE",
    "POSTCODE_MESSAGE",
    "UPN_CHECK_MESSAGE",
    "UPN_FORMAT_MESSAGE",
    "UPN_LENGTH_MESSAGE",
    "Address",
    "AnyReferral",
    "Child",
    "Contact",
    "Destination",
    "Details",
    "FieldProblem",
    "Gender",
    "Laestab",
    "LivesWith",
    "Parent",
    "Phone",
    "ProfessionalCMEReferral",
    "Pupil",
    "PupilMigrationReturn",
    "Referral",
    "ReferralInvalid",
    "Referrer",
    "SchoolCMEReferral",
    "Upn",
    "child_identity_keys",
    "parse_referral",
    "referral_json_schemas",
    "school_of",
]

# -- messages --------------------------------------------------------------------------------------
# The formats' own messages (LAESTAB, UPN, phone, email, postcode) are domain.types'.

UPN_NEEDED_MESSAGE = "the pupil's UPN is needed: a school has it in the pupil's record"
PHONE_NEEDED_MESSAGE = "at least one contact phone number is needed"
ONE_PRIMARY_MESSAGE = "only one contact can be the primary contact"
EHE_LETTER_MESSAGE = "an EHE ground needs the parent's deregistration letter reference"
ABSENCE_GROUND_ON_RETURN_MESSAGE = (
    "a pupil whose destination is known is not deleted on an absence ground (the school and the "
    "LA have not failed to find them): use the ground the destination gives, or refer a pupil "
    "whose whereabouts are unknown with the school CME referral"
)
CUSTODIAL_ORDER_MESSAGE = (
    "the custodial ground needs a final court order or an order of recall (custodial_order: "
    "final_order or order_of_recall); a remand in custody is not one"
)
EHE_DESTINATION_MESSAGE = (
    "a pupil leaving for elective home education goes to the Lost Pupil Database: the destination "
    "kind must be unknown (CTF XXXXXXX)"
)
LEAVE_END_NEEDED_MESSAGE = (
    "the date the agreed leave of absence ended is needed for absence after leave"
)
LEAVE_END_UNWANTED_MESSAGE = (
    "a leave end date is only for absence after agreed leave: leave it empty for unauthorised "
    "absence"
)
DAY_ONE_NEEDS_CALENDAR_MESSAGE = (
    "the first day of absence is needed: it can only be counted from the end of the leave with "
    "the school calendar"
)
FORM_MESSAGE = (
    "form must be one of: pupil_migration_return (destination verified), school_cme_referral "
    "(destination not verified), professional_cme_referral (child not on roll)"
)

# Grounds under which a pupil may leave the register outside compulsory school age.
_AGE_EXEMPT_GROUNDS = frozenset(
    {GroundKey.CEASED_COMPULSORY_AGE, GroundKey.NURSERY_NOT_TRANSFERRING}
)

_UK_COUNTRIES = frozenset(
    {
        "uk",
        "u.k.",
        "united kingdom",
        "great britain",
        "gb",
        "england",
        "wales",
        "scotland",
        "northern ireland",
    }
)

# -- field types -----------------------------------------------------------------------------------


def _int_to_str(value: object) -> object:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _blank_to_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


def _check_gender(value: object) -> object:
    if isinstance(value, str):
        text = value.strip().lower()
        return {"m": "male", "f": "female", "not known": "not_known", "unknown": "not_known"}.get(
            text, text
        )
    return value


def _uk_country(country: str) -> bool:
    return " ".join(country.split()).lower() in _UK_COUNTRIES


def _one_line(value: object) -> object:
    return check_text(value) if isinstance(value, str) else value


# A postcode as typed, before it is known to be a UK one: one line of text.
_PostcodeText = Annotated[
    str, StringConstraints(min_length=1, max_length=20), BeforeValidator(_one_line)
]


class Gender(StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    NOT_KNOWN = "not_known"


GenderField = Annotated[Gender, BeforeValidator(_check_gender)]

# hide_input_in_errors: a validation error's text (which a log may carry) never quotes a value,
# which can be a child's personal data.
_MODEL_CONFIG = ConfigDict(
    frozen=True, extra="forbid", str_strip_whitespace=True, hide_input_in_errors=True
)


# -- reporting problems found across fields --------------------------------------------------------

_Loc: TypeAlias = tuple[str | int, ...]


class _Problems:
    """Problems found by a model validator, each at its own field; one per field, first wins."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.items: dict[_Loc, str] = {}

    def add(self, loc: _Loc, message: str) -> None:
        self.items.setdefault(loc, message)

    def raise_any(self) -> None:
        if not self.items:
            return
        raise ValidationError.from_exception_data(
            self.title,
            [
                InitErrorDetails(
                    type=PydanticCustomError("referral_rule", "{message}", {"message": message}),
                    loc=loc,
                    input=None,
                )
                for loc, message in self.items.items()
            ],
        )


def _raise_one(title: str, loc: _Loc, message: str) -> NoReturn:
    problems = _Problems(title)
    problems.add(loc, message)
    problems.raise_any()
    raise AssertionError("unreachable")  # raise_any raised


def _context(info: ValidationInfo) -> tuple[date | None, SchoolCalendar | None]:
    """(today, calendar) from the validation context; ``None`` for what is not given."""
    ctx = info.context
    # None first: a stored referral is decoded without a context, every time a workflow or an
    # activity reads one, and an ABC check (Mapping) is slow once anything has been registered
    # with an ABC since the last one (its caches are emptied).
    if ctx is None or not isinstance(ctx, Mapping):
        return None, None
    today = ctx.get("today")
    if isinstance(today, datetime):
        today = today.date()
    calendar = ctx.get("calendar")
    return (
        today if isinstance(today, date) else None,
        calendar if isinstance(calendar, SchoolCalendar) else None,
    )


def _not_future(problems: _Problems, today: date | None, loc: _Loc, day: date | None) -> None:
    if today is not None and day is not None and day > today:
        problems.add(loc, f"{human_date(day)} is in the future: today is {human_date(today)}")


def _school_age(problems: _Problems, loc: _Loc, dob: date, on: date) -> None:
    if dob >= on:
        problems.add(
            loc,
            f"the date of birth is not before the referral date {human_date(on)}",
        )
        return
    start, end = compulsory_school_age_bounds(dob)
    if not start <= on <= end:
        problems.add(
            loc,
            f"the child is not of compulsory school age on the referral date {human_date(on)}: "
            f"by the date of birth given, the child is of compulsory school age from "
            f"{human_date(start)} to {human_date(end)}",
        )


def _age_ground(
    problems: _Problems, ground: Ground, form: PupilMigrationReturn, calendar: SchoolCalendar
) -> None:
    """2024 9(1)(l), 2006 8(1)(k): compulsory school age (Education Act 1996 s.8) must end before
    the school next meets after the deletion, from the date of birth. A Year 10 pupil fails."""
    try:
        check = ceases_before_school_next_meets(
            form.pupil.date_of_birth, form.deletion_date, calendar, form.school_laestab
        )
    except CalendarEndsError:
        return  # checked again when the deletion is decided, where the calendar gap is shown
    if check.met:
        return
    when = (
        f"; the ground applies from {human_date(check.earliest)}"
        if check.earliest is not None
        else ""
    )
    problems.add(
        ("ground",),
        f"{ground.code} needs the pupil to cease to be of compulsory school age before the school "
        f"next meets: by the date of birth given, the pupil is of compulsory school age until "
        f"{human_date(check.leaves_on)}, and the school meets again on "
        f"{human_date(check.school_next_meets)}{when}",
    )


# -- common pieces ---------------------------------------------------------------------------------


class Pupil(BaseModel):
    """A child as the school's roll knows them."""

    model_config = _MODEL_CONFIG

    first_name: PersonName
    last_name: PersonName
    date_of_birth: PlausibleDate
    gender: GenderField
    upn: Annotated[Upn | None, BeforeValidator(_blank_to_none)] = None


class Address(BaseModel):
    """A postal address. In the UK the postcode may be left out (a school does not always know
    it), but one given must be a UK postcode; an address abroad names its country, and its
    postcode, if any, is free text. A missing or blank postcode is ``None``."""

    model_config = _MODEL_CONFIG

    lines: list[ShortText] = Field(min_length=1, max_length=6)
    country: ShortText = "United Kingdom"
    postcode: Annotated[
        _PostcodeText | None,
        BeforeValidator(_blank_to_none),
        Field(description="a UK postcode (e.g. PO1 2AB), or the postcode abroad; may be empty"),
    ] = None

    @field_validator("postcode")
    @classmethod
    def _uk_postcode(cls, value: str | None, info: ValidationInfo) -> str | None:
        country = info.data.get("country")
        if value is None or not isinstance(country, str) or not _uk_country(country):
            return value  # a bad country is reported on its own
        return check_postcode(value)

    @property
    def in_uk(self) -> bool:
        return _uk_country(self.country)


class Contact(BaseModel):
    """A person the school can contact about the pupil."""

    model_config = _MODEL_CONFIG

    name: PersonName
    relationship: ShortText = Field(examples=["mother"])
    phone_numbers: list[Phone] = Field(default_factory=list, max_length=10)
    is_primary: bool = False


class LivesWith(BaseModel):
    """The person the pupil lives with, and who they are to the pupil."""

    model_config = _MODEL_CONFIG

    name: PersonName
    relationship: ShortText = Field(examples=["mother"])


class Destination(BaseModel):
    """Where the pupil went, as the CTF needs it (seed appendix 1)."""

    model_config = _MODEL_CONFIG

    kind: DestinationKind
    school_laestab: Annotated[Laestab | None, BeforeValidator(_blank_to_none)] = None
    service_school_number: Annotated[
        str | None,
        BeforeValidator(_blank_to_none),
        BeforeValidator(_int_to_str),
        Field(description="4-digit school number in LA 702 (SCE); empty when not yet known"),
    ] = None

    @field_validator("school_laestab", mode="before")
    @classmethod
    def _no_la_without_school(cls, value: object) -> object:
        """``851LLLL`` gets the message ``cme ctf`` gives: the Lost Pupil Database, not an LA."""
        if isinstance(value, str) and is_la_without_school(value):
            raise ValueError(la_without_school_message(value))
        return value

    @model_validator(mode="after")
    def _fields_of_kind(self) -> Self:
        problems = _Problems("Destination")
        if self.kind is DestinationKind.SCHOOL:
            if self.school_laestab is None:
                problems.add(
                    ("school_laestab",),
                    "the destination school's LAESTAB is needed when the destination is a school",
                )
            elif self.school_laestab.startswith(SERVICE_CHILDREN_LA):
                problems.add(
                    ("school_laestab",),
                    "LA 702 is Service Children's Education: use the destination kind "
                    "service_children with the school's 4-digit number",
                )
        elif self.school_laestab is not None:
            problems.add(
                ("school_laestab",),
                f"only a school destination has a LAESTAB, not {self.kind.value}",
            )
        if self.kind is DestinationKind.SERVICE_CHILDREN:
            number = self.service_school_number
            if number is not None and not re.fullmatch(r"[0-9]{4}", number):
                problems.add(
                    ("service_school_number",),
                    "service school number must be 4 digits (the school's number in LA 702), or "
                    "empty when the service school is not yet known",
                )
        elif self.service_school_number is not None:
            problems.add(
                ("service_school_number",),
                "only a service children destination has a service school number",
            )
        problems.raise_any()
        try:
            self.ctf_code  # noqa: B018 - checks the code the fields make
        except ValueError as exc:
            _raise_one("Destination", ("kind",), str(exc))
        return self

    @property
    def ctf_code(self) -> str:
        """The CTF destination code: LAESTAB, MMMMMMM, 702 + school number, 702LLLL, XXXXXXX."""
        match self.kind:
            case DestinationKind.SCHOOL:
                code = self.school_laestab or ""
            case DestinationKind.SERVICE_CHILDREN:
                code = SERVICE_CHILDREN_LA + (self.service_school_number or "LLLL")
            case DestinationKind.SCOTLAND_OR_INDEPENDENT:
                code = SCOTLAND_OR_INDEPENDENT
            case DestinationKind.UNKNOWN:
                code = LOST_PUPIL_DATABASE
        return validate_ctf_destination(code)


# -- 1. destination verified: the Pupil Migration LA Return (seed 2.3) -----------------------------


class PupilMigrationReturn(BaseModel):
    """The school's return when it removes a pupil whose destination it knows (seed 2.3).

    The school completes the return "at the point of removing [the] child from roll" (seed 2.3;
    the deletion return of 2024 reg 13(4) is made when the name is deleted), so the return's date,
    ``referral_date``, is the deletion's decision date: the ground must be one of the regulations
    in force on it (2024 reg 9(1) from 19 Aug 2024), whenever the pupil last attended
    (``leaving_date``). A pupil who left in July 2024 and was deleted in September 2024 is a
    reg 9(1) case.
    """

    model_config = _MODEL_CONFIG

    form: Literal["pupil_migration_return"] = "pupil_migration_return"
    pupil: Pupil
    school_laestab: Laestab
    referral_date: PlausibleDate
    leaving_date: PlausibleDate
    ground: str = Field(
        description="ground for deletion in the regulations in force on the date of the return "
        "(the day the school deletes the name): 9(1)(a) to 9(1)(o) from 19 Aug 2024, 8(1)(a) to "
        "8(1)(o) before",
        examples=["9(1)(a)"],
    )
    new_address: Address
    lives_with: LivesWith
    lives_with_from: PlausibleDate
    destination: Destination
    child_protection_plan: bool
    ehe_letter_reference: Annotated[Reference | None, BeforeValidator(_blank_to_none)] = None
    # The leaving school's category: the CTF deadline binds LA-maintained schools (Pupil
    # Information Regulations 2005 reg 9(3)); for an academy an overdue CTF is a reminder. Not
    # given: treated as LA-maintained.
    school_type: SchoolType | None = None
    # 2024 9(1)(j), 2006 8(1)(i): a final court order or an order of recall, never a remand.
    custodial_order: CustodialOrder | None = None

    @field_validator("ground")
    @classmethod
    def _ground_in_rulebook(cls, code: str, info: ValidationInfo) -> str:
        deleted_on = info.data.get("referral_date")
        if not isinstance(deleted_on, date):
            return code  # the return date's own problem is reported
        try:
            return find_ground(code, rulebook_for(deleted_on)).code
        except UnknownGroundError as exc:
            # Returns accepted before the rulebook followed the return's date were checked
            # against the leaving date's: a stored one (validated again without context) still
            # decodes. A new return (parse_referral gives context) is held to the return's date.
            leaving = info.data.get("leaving_date")
            if info.context is None and isinstance(leaving, date):
                try:
                    return find_ground(code, rulebook_for(leaving)).code
                except UnknownGroundError:
                    pass
            raise ValueError(str(exc)) from None

    @model_validator(mode="after")
    def _rules(self, info: ValidationInfo) -> Self:
        problems = _Problems(type(self).__name__)
        today, calendar = _context(info)
        _not_future(problems, today, ("pupil", "date_of_birth"), self.pupil.date_of_birth)
        _not_future(problems, today, ("referral_date",), self.referral_date)
        _not_future(problems, today, ("leaving_date",), self.leaving_date)
        if self.pupil.upn is None:
            problems.add(("pupil", "upn"), UPN_NEEDED_MESSAGE)
        ground = self.deletion_ground
        if ground.key not in _AGE_EXEMPT_GROUNDS:
            _school_age(
                problems, ("pupil", "date_of_birth"), self.pupil.date_of_birth, self.referral_date
            )
        if ground.key is GroundKey.CEASED_COMPULSORY_AGE and calendar is not None:
            _age_ground(problems, ground, self, calendar)
        if ground.key is GroundKey.EHE:
            if self.ehe_letter_reference is None:
                problems.add(("ehe_letter_reference",), EHE_LETTER_MESSAGE)
            if self.destination.kind is not DestinationKind.UNKNOWN:
                problems.add(("destination", "kind"), EHE_DESTINATION_MESSAGE)
        if self.destination.school_laestab == self.school_laestab:
            problems.add(
                ("destination", "school_laestab"),
                "the destination school is the school the pupil is leaving",
            )
        if info.context is not None:
            # Rules for a new return only: a stored one (decoded without context) keeps loading.
            if ground.key in (GroundKey.CONTINUOUS_ABSENCE, GroundKey.AFTER_LEAVE):
                problems.add(("ground",), ABSENCE_GROUND_ON_RETURN_MESSAGE)
            if ground.key is GroundKey.CUSTODIAL and self.custodial_order in (
                None,
                CustodialOrder.REMAND,
            ):
                problems.add(("custodial_order",), CUSTODIAL_ORDER_MESSAGE)
        problems.raise_any()
        return self

    @property
    def deletion_date(self) -> date:
        """The day the school deletes the name: the return's date (seed 2.3, 2024 reg 13(4)).

        The CTF's 15 school days run from it (:func:`domain.ctf.ctf_deadline`).
        """
        return self.referral_date

    @property
    def rulebook(self) -> Rulebook:
        """The regulations in force on the date of the return, the deletion's decision date."""
        return rulebook_for(self.deletion_date)

    @property
    def deletion_ground(self) -> Ground:
        """The ground the return names (its code says which regulations it is of)."""
        return find_ground(self.ground)


# -- 2. destination not verified: the school's CME referral (seed 2.4) -----------------------------


class SchoolCMEReferral(BaseModel):
    """A pupil on roll is missing and the school does not know where (seed 2.4)."""

    model_config = _MODEL_CONFIG

    form: Literal["school_cme_referral"] = "school_cme_referral"
    pupil: Pupil
    school_laestab: Laestab
    referral_date: PlausibleDate
    absence_kind: AbsenceKind
    leave_end_date: PlausibleDate | None = Field(
        default=None, description="last day of the agreed leave: only for absence after leave"
    )
    first_day_of_absence: PlausibleDate = Field(
        description="day 1: the first school day of absence without contact; for absence after "
        "leave, the first school day after the leave ended (worked out from the calendar when "
        "left out)"
    )
    contacts: list[Contact] = Field(max_length=10)
    last_known_address: Address
    enquiries_made: list[Enquiry] = Field(default_factory=list, max_length=50)
    safeguarding_concern: bool
    child_protection_plan: bool
    siblings_schools: list[Laestab] = Field(default_factory=list, max_length=10)

    @model_validator(mode="before")
    @classmethod
    def _day_one_after_leave(cls, data: Any, info: ValidationInfo) -> Any:
        """For absence after leave, day 1 defaults to the first school day after the leave ended."""
        if not isinstance(data, Mapping) or data.get("absence_kind") != AbsenceKind.AFTER_LEAVE:
            return data
        if _blank_to_none(data.get("first_day_of_absence")) is not None:
            return data
        raw_leave_end = _blank_to_none(data.get("leave_end_date"))
        if raw_leave_end is None:
            _raise_one(cls.__name__, ("leave_end_date",), LEAVE_END_NEEDED_MESSAGE)
        _, calendar = _context(info)
        if calendar is None:
            _raise_one(cls.__name__, ("first_day_of_absence",), DAY_ONE_NEEDS_CALENDAR_MESSAGE)
        try:
            leave_end = _DATE.validate_python(raw_leave_end)
            school = check_laestab(str(_int_to_str(data.get("school_laestab"))))
        except ValueError:
            return data  # the fields' own problems are reported
        try:
            day_one = calendar.school_day_after(leave_end, school=school)
        except CalendarEndsError as exc:
            _raise_one(cls.__name__, ("first_day_of_absence",), str(exc))
        return {**data, "first_day_of_absence": day_one}

    @model_validator(mode="after")
    def _rules(self, info: ValidationInfo) -> Self:
        problems = _Problems(type(self).__name__)
        today, calendar = _context(info)
        _not_future(problems, today, ("pupil", "date_of_birth"), self.pupil.date_of_birth)
        _not_future(problems, today, ("referral_date",), self.referral_date)
        _not_future(problems, today, ("first_day_of_absence",), self.first_day_of_absence)
        for i, enquiry in enumerate(self.enquiries_made):
            _not_future(problems, today, ("enquiries_made", i, "made_on"), enquiry.made_on)
        if calendar is not None:
            try:
                if not calendar.is_school_day(self.first_day_of_absence, self.school_laestab):
                    problems.add(
                        ("first_day_of_absence",),
                        f"{human_date(self.first_day_of_absence)} is not a school day at school "
                        f"{self.school_laestab}: day 1 is the first school day of absence",
                    )
            except CalendarEndsError as exc:
                problems.add(("first_day_of_absence",), str(exc))

        if self.pupil.upn is None:
            problems.add(("pupil", "upn"), UPN_NEEDED_MESSAGE)
        _school_age(
            problems, ("pupil", "date_of_birth"), self.pupil.date_of_birth, self.referral_date
        )
        if self.absence_kind is AbsenceKind.AFTER_LEAVE:
            if self.leave_end_date is None:
                problems.add(("leave_end_date",), LEAVE_END_NEEDED_MESSAGE)
            elif self.first_day_of_absence <= self.leave_end_date:
                problems.add(
                    ("first_day_of_absence",),
                    f"the first day of absence must be after the leave ended "
                    f"({human_date(self.leave_end_date)})",
                )
        elif self.leave_end_date is not None:
            problems.add(("leave_end_date",), LEAVE_END_UNWANTED_MESSAGE)
        if self.first_day_of_absence > self.referral_date:
            problems.add(
                ("first_day_of_absence",),
                f"the first day of absence {human_date(self.first_day_of_absence)} is after the "
                f"referral date {human_date(self.referral_date)}",
            )
        if not any(contact.phone_numbers for contact in self.contacts):
            problems.add(("contacts",), PHONE_NEEDED_MESSAGE)
        elif sum(contact.is_primary for contact in self.contacts) > 1:
            problems.add(("contacts",), ONE_PRIMARY_MESSAGE)
        for i, enquiry in enumerate(self.enquiries_made):
            if enquiry.by is not EnquiryBy.SCHOOL:
                problems.add(
                    ("enquiries_made", i, "by"),
                    "a school referral records the school's own enquiries: by must be school",
                )
            if enquiry.kind not in SCHOOL_ENQUIRY_KINDS:
                problems.add(
                    ("enquiries_made", i, "kind"),
                    f"{enquiry.kind.value} is an enquiry the CME officer makes, not the school",
                )
            if enquiry.made_on > self.referral_date:
                problems.add(
                    ("enquiries_made", i, "made_on"),
                    f"the enquiry of {human_date(enquiry.made_on)} is after the referral date "
                    f"{human_date(self.referral_date)}",
                )
        problems.raise_any()
        return self

    @property
    def primary_contact(self) -> Contact | None:
        """The contact marked primary, else the first one with a phone number."""
        marked = [c for c in self.contacts if c.is_primary]
        if marked:
            return marked[0]
        return next((c for c in self.contacts if c.phone_numbers), None)


# -- 3. not on roll: the professional CME referral (seed appendix 5) -------------------------------


class Child(Pupil):
    """The child a professional refers: the pupil fields plus ethnicity and address."""

    ethnicity: ShortText = Field(examples=["White British", "not known"])
    address: Address


class Parent(BaseModel):
    model_config = _MODEL_CONFIG

    name: PersonName
    contact_number: Annotated[Phone | None, BeforeValidator(_blank_to_none)] = None


class Details(BaseModel):
    """Where the child was seen, why they seem not on roll, and whether the parents were asked."""

    model_config = _MODEL_CONFIG

    where_seen: FreeText
    how_known_not_on_roll: FreeText
    spoke_to_parents: bool
    notes: Note = ""


class Referrer(BaseModel):
    model_config = _MODEL_CONFIG

    name: PersonName
    organisation: ShortText
    role: ShortText
    phone: Phone
    email: EmailAddress


class ProfessionalCMEReferral(BaseModel):
    """A professional's referral of a child who may not be on any school roll (appendix 5)."""

    model_config = _MODEL_CONFIG

    form: Literal["professional_cme_referral"] = "professional_cme_referral"
    child: Child
    parents: list[Parent] = Field(default_factory=list, max_length=2)
    address_if_different: Address | None = None
    details: Details
    referral_date: PlausibleDate
    referrer: Referrer
    date_received: PlausibleDate | None = None
    safeguarding_concern: bool
    child_protection_plan: bool
    school_place_offered_not_taken: bool | None = None

    @model_validator(mode="after")
    def _rules(self, info: ValidationInfo) -> Self:
        problems = _Problems(type(self).__name__)
        today, _ = _context(info)
        _not_future(problems, today, ("child", "date_of_birth"), self.child.date_of_birth)
        _not_future(problems, today, ("referral_date",), self.referral_date)
        _not_future(problems, today, ("date_received",), self.date_received)
        _school_age(
            problems, ("child", "date_of_birth"), self.child.date_of_birth, self.referral_date
        )
        if self.date_received is not None and self.date_received < self.referral_date:
            problems.add(
                ("date_received",),
                f"the date received {human_date(self.date_received)} is before the referral date "
                f"{human_date(self.referral_date)}",
            )
        problems.raise_any()
        return self


Referral = Annotated[
    PupilMigrationReturn | SchoolCMEReferral | ProfessionalCMEReferral,
    Field(discriminator="form"),
]
AnyReferral: TypeAlias = PupilMigrationReturn | SchoolCMEReferral | ProfessionalCMEReferral

_FORMS: dict[str, type[AnyReferral]] = {
    "pupil_migration_return": PupilMigrationReturn,
    "school_cme_referral": SchoolCMEReferral,
    "professional_cme_referral": ProfessionalCMEReferral,
}
FORM_NAMES: tuple[str, ...] = tuple(_FORMS)

_DATE: TypeAdapter[date] = TypeAdapter(PlausibleDate)


# -- public entry points ---------------------------------------------------------------------------


class FieldProblem(BaseModel):
    """One problem with a referral: the dotted path of the field and what is wrong with it."""

    model_config = ConfigDict(frozen=True)

    field: str
    message: str


class ReferralInvalid(ValueError):
    """A referral that cannot be accepted; ``problems`` lists every problem found."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        self.problems = list(problems)
        super().__init__(
            "\n".join(f"{p.field}: {p.message}" if p.field else p.message for p in self.problems)
        )

    def __reduce__(self) -> tuple[Callable[..., ReferralInvalid], tuple[list[FieldProblem]]]:
        return type(self), (self.problems,)


def _plain(error: ErrorDetails) -> str:
    """A pydantic error as a school office would read it."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    match kind:
        case "referral_rule":
            return str(ctx.get("message", error["msg"]))
        case "value_error":
            return error["msg"].removeprefix("Value error, ")
        case "missing":
            return "this is required"
        case "extra_forbidden":
            return "is not a field of this form"
        case "string_too_short" if ctx.get("min_length") == 1:
            return "must not be empty"
        case "string_too_long":
            return f"must be at most {ctx.get('max_length')} characters"
        case "too_short":
            return f"needs at least {ctx.get('min_length')}"
        case "too_long":
            return f"can have at most {ctx.get('max_length')}"
        case (
            "date_type"
            | "date_parsing"
            | "date_from_datetime_parsing"
            | "date_from_datetime_inexact"
        ):
            return "must be a date like 2026-03-02"
        case "bool_type" | "bool_parsing":
            return "must be true or false"
        case "string_type":
            return "must be text"
        case "list_type":
            return "must be a list"
        case "model_type" | "model_attributes_type" | "dict_type":
            return "must be a group of fields"
        case "enum":
            return f"must be one of {ctx.get('expected')}"
    return error["msg"]


def _problems_of(exc: ValidationError) -> list[FieldProblem]:
    return [
        FieldProblem(
            field=".".join(printable(str(part), limit=40) for part in error["loc"]),
            message=_plain(error),
        )
        for error in exc.errors()
    ]


def parse_referral(data: object, *, today: date, calendar: SchoolCalendar) -> AnyReferral:
    """Validate a referral with every rule, today's date and the school calendar included.

    ``data`` is the decoded JSON object (or a referral model, which is validated again).
    Raises :class:`ReferralInvalid` listing every problem found, by field.
    """
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    if not isinstance(data, Mapping):
        raise ReferralInvalid([FieldProblem(field="form", message=FORM_MESSAGE)])
    form = data.get("form")
    model = _FORMS.get(form) if isinstance(form, str) else None
    if model is None:
        raise ReferralInvalid([FieldProblem(field="form", message=FORM_MESSAGE)])
    try:
        return model.model_validate(data, context={"today": today, "calendar": calendar})
    except ValidationError as exc:
        raise ReferralInvalid(_problems_of(exc)) from None


def referral_json_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema of each form, by form name (for web forms)."""
    schemas = {name: model.model_json_schema() for name, model in _FORMS.items()}
    # Day 1 of an absence after leave is worked out from the calendar when left out.
    school = schemas["school_cme_referral"]
    school["required"] = [r for r in school["required"] if r != "first_day_of_absence"]
    return schemas


def _child(referral: AnyReferral) -> Pupil:
    return referral.child if isinstance(referral, ProfessionalCMEReferral) else referral.pupil


def child_identity_keys(referral: AnyReferral) -> list[str]:
    """Keys for duplicate matching: ``upn:<UPN>`` when the UPN is known, ``name-dob:...`` always."""
    child = _child(referral)
    keys = [f"upn:{child.upn}"] if child.upn else []

    def norm(name: str) -> str:
        return " ".join(name.split()).lower()

    keys.append(
        f"name-dob:{norm(child.first_name)}|{norm(child.last_name)}|{child.date_of_birth.isoformat()}"
    )
    return keys


def school_of(referral: AnyReferral) -> str | None:
    """The LAESTAB of the pupil's school; ``None`` for a professional referral."""
    if isinstance(referral, ProfessionalCMEReferral):
        return None
    return referral.school_laestab
