"""Intake forms: every validation message, the example files, JSON schemas and round trips.

All children, schools, addresses and phone numbers are synthetic (Ofcom drama numbers 01632 960xxx
and 07700 900xxx; ZZ postcodes).
"""

from __future__ import annotations

import copy
import json
import pickle
from datetime import date
from pathlib import Path
from typing import Any, cast

import pytest
from pydantic import TypeAdapter, ValidationError
from stdnum.gb import upn as stdnum_upn
from temporalio.contrib.pydantic import pydantic_data_converter

from domain.calendar import DEFAULT_CALENDAR_PATH, SchoolCalendar
from domain.ctf import DestinationKind
from domain.grounds import GroundKey, Rulebook
from domain.intake import (
    EHE_DESTINATION_MESSAGE,
    EHE_LETTER_MESSAGE,
    FORM_MESSAGE,
    LAESTAB_MESSAGE,
    LEAVE_END_NEEDED_MESSAGE,
    LEAVE_END_UNWANTED_MESSAGE,
    ONE_PRIMARY_MESSAGE,
    PHONE_CHARACTERS_MESSAGE,
    PHONE_NEEDED_MESSAGE,
    UPN_CHECK_MESSAGE,
    UPN_FORMAT_MESSAGE,
    UPN_LENGTH_MESSAGE,
    UPN_NEEDED_MESSAGE,
    Destination,
    FieldProblem,
    Gender,
    ProfessionalCMEReferral,
    PupilMigrationReturn,
    Referral,
    ReferralInvalid,
    SchoolCMEReferral,
    child_identity_keys,
    parse_referral,
    referral_json_schemas,
    school_of,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TODAY = date(2026, 3, 2)
CALENDAR = SchoolCalendar.load(DEFAULT_CALENDAR_PATH)

MIGRATION = "pupil-migration-return.json"
SCHOOL = "school-cme-referral.json"
PROFESSIONAL = "professional-cme-referral.json"


def example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
    return data


def upn(body: str) -> str:
    """A valid UPN for the 12 characters after the check letter."""
    return str(stdnum_upn.calc_check_digit(body)) + body


def parse(data: object, today: date = TODAY) -> Any:
    return parse_referral(data, today=today, calendar=CALENDAR)


def problems(data: object, today: date = TODAY) -> list[tuple[str, str]]:
    with pytest.raises(ReferralInvalid) as exc:
        parse(data, today)
    return [(p.field, p.message) for p in exc.value.problems]


def one_problem(data: object, today: date = TODAY) -> tuple[str, str]:
    found = problems(data, today)
    assert len(found) == 1, found
    return found[0]


# -- the example files -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "model"),
    [
        (MIGRATION, PupilMigrationReturn),
        (SCHOOL, SchoolCMEReferral),
        (PROFESSIONAL, ProfessionalCMEReferral),
    ],
)
def test_each_example_file_parses(name: str, model: type[Any]) -> None:
    referral = parse(example(name))
    assert isinstance(referral, model)
    # ... and stays valid on later days
    assert parse(example(name), today=date(2026, 7, 22)) == referral


def test_example_pupil_migration_return() -> None:
    referral = parse(example(MIGRATION))
    assert isinstance(referral, PupilMigrationReturn)
    assert referral.ground == "9(1)(a)"
    assert referral.rulebook is Rulebook.REGS_2024
    assert referral.deletion_ground.key is GroundKey.REGISTERED_ELSEWHERE
    assert referral.destination.ctf_code == "8512001"
    assert school_of(referral) == "8512000"


def test_example_school_referral() -> None:
    referral = parse(example(SCHOOL))
    assert isinstance(referral, SchoolCMEReferral)
    assert referral.first_day_of_absence == date(2026, 2, 9)
    assert referral.primary_contact is not None
    assert referral.primary_contact.name == "Laura Samplefield"
    assert len(referral.enquiries_made) == 4
    assert school_of(referral) == "8512000"


def test_example_professional_referral() -> None:
    referral = parse(example(PROFESSIONAL))
    assert isinstance(referral, ProfessionalCMEReferral)
    assert referral.child.upn is None
    assert referral.child.gender is Gender.FEMALE
    assert school_of(referral) is None


# -- round trips -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [MIGRATION, SCHOOL, PROFESSIONAL])
def test_json_round_trip_gives_an_equal_model(name: str) -> None:
    referral = parse(example(name))
    model = type(referral)
    assert model.model_validate_json(referral.model_dump_json()) == referral
    assert model.model_validate(referral.model_dump()) == referral
    union: TypeAdapter[Any] = TypeAdapter(Referral)
    assert union.validate_json(union.dump_json(referral)) == referral


@pytest.mark.parametrize("name", [MIGRATION, SCHOOL, PROFESSIONAL])
def test_temporal_pydantic_converter_round_trip(name: str) -> None:
    referral = parse(example(name))
    converter = pydantic_data_converter.payload_converter
    payloads = converter.to_payloads([referral])
    assert converter.from_payloads(payloads, [cast("type", Referral)]) == [referral]
    assert converter.from_payloads(payloads, [type(referral)]) == [referral]


def test_after_leave_day_one_survives_round_trip_without_context() -> None:
    data = example(SCHOOL)
    data.update(absence_kind="after_leave", leave_end_date="2026-02-13")
    del data["first_day_of_absence"]
    referral = parse(data)
    assert SchoolCMEReferral.model_validate_json(referral.model_dump_json()) == referral


def test_models_are_frozen() -> None:
    referral = parse(example(MIGRATION))
    with pytest.raises(ValidationError):
        referral.referral_date = date(2026, 3, 1)


# -- the form field --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data", [{}, {"form": "cme"}, {"form": 3}, [], "school_cme_referral", None]
)
def test_form_missing_or_unknown(data: object) -> None:
    assert one_problem(data) == ("form", FORM_MESSAGE)
    for name in ("pupil_migration_return", "school_cme_referral", "professional_cme_referral"):
        assert name in FORM_MESSAGE


def test_form_of_a_model_instance_is_validated_again_with_context() -> None:
    referral = SchoolCMEReferral.model_validate(example(SCHOOL))
    assert parse(referral) == referral
    with pytest.raises(ReferralInvalid):
        parse(referral, today=date(2026, 2, 27))  # referral date 2 Mar is in the future


# -- pupil -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("Z85120001800", UPN_LENGTH_MESSAGE),
        ("Z8512000180021", UPN_LENGTH_MESSAGE),
        ("A851200018002", UPN_CHECK_MESSAGE),
        ("Z85120001800!", UPN_FORMAT_MESSAGE),
        ("Z8512000X8002", UPN_FORMAT_MESSAGE),
        (
            upn("000200018001"),
            "UPN must carry an English LA number after the check letter: 000 is not one",
        ),
        ("A838200020007", UPN_CHECK_MESSAGE),
    ],
)
def test_bad_upn(value: str, message: str) -> None:
    data = example(SCHOOL)
    data["pupil"]["upn"] = value
    assert one_problem(data) == ("pupil.upn", message)


def test_upn_is_normalised() -> None:
    data = example(SCHOOL)
    data["pupil"]["upn"] = " z851 2000 18002 "
    assert parse(data).pupil.upn == "Z851200018002"


def test_upn_of_an_la_newer_than_stdnums_list_is_accepted() -> None:
    data = example(SCHOOL)
    data["pupil"]["upn"] = upn("838200020007")  # Dorset, LA 838 since 2019
    assert parse(data).pupil.upn == "R838200020007"


def test_temporary_upn_ending_in_a_letter_is_accepted() -> None:
    data = example(SCHOOL)
    data["pupil"]["upn"] = upn("85120001801A")
    assert parse(data).pupil.upn.endswith("1A")


@pytest.mark.parametrize(("name", "field"), [(MIGRATION, "pupil"), (SCHOOL, "pupil")])
@pytest.mark.parametrize("value", [None, "", "  "])
def test_school_forms_need_the_upn(name: str, field: str, value: str | None) -> None:
    data = example(name)
    data[field]["upn"] = value
    assert one_problem(data) == (f"{field}.upn", UPN_NEEDED_MESSAGE)


def test_professional_referral_upn_is_optional_and_checked_when_given() -> None:
    data = example(PROFESSIONAL)
    data["child"]["upn"] = ""
    assert parse(data).child.upn is None
    data["child"]["upn"] = "A851200018002"
    assert one_problem(data) == ("child.upn", UPN_CHECK_MESSAGE)
    data["child"]["upn"] = "Z851200018002"
    assert parse(data).child.upn == "Z851200018002"


@pytest.mark.parametrize(
    ("value", "gender"),
    [
        ("female", Gender.FEMALE),
        ("M", Gender.MALE),
        ("f", Gender.FEMALE),
        ("Not known", Gender.NOT_KNOWN),
    ],
)
def test_gender(value: str, gender: Gender) -> None:
    data = example(SCHOOL)
    data["pupil"]["gender"] = value
    assert parse(data).pupil.gender is gender


def test_unknown_gender() -> None:
    data = example(SCHOOL)
    data["pupil"]["gender"] = "x"
    assert one_problem(data) == (
        "pupil.gender",
        "must be one of 'female', 'male', 'other' or 'not_known'",
    )


def test_names_are_trimmed_and_must_not_be_empty() -> None:
    data = example(SCHOOL)
    data["pupil"]["first_name"] = "  Jacob "
    assert parse(data).pupil.first_name == "Jacob"
    data["pupil"]["first_name"] = "   "
    assert one_problem(data) == ("pupil.first_name", "must not be empty")


def test_missing_and_extra_fields() -> None:
    data = example(MIGRATION)
    del data["referral_date"]
    data["favourite_colour"] = "blue"
    assert problems(data) == [
        ("referral_date", "this is required"),
        ("favourite_colour", "is not a field of this form"),
    ]


def test_bad_date_and_bool() -> None:
    data = example(SCHOOL)
    data["pupil"]["date_of_birth"] = "14/05/2014"
    data["safeguarding_concern"] = "perhaps"
    assert problems(data) == [
        ("pupil.date_of_birth", "must be a date like 2026-03-02"),
        ("safeguarding_concern", "must be true or false"),
    ]


# -- compulsory school age -------------------------------------------------------------------------


def test_child_too_young_for_compulsory_school_age() -> None:
    data = example(PROFESSIONAL)
    data["child"]["date_of_birth"] = "2021-09-01"  # 31 Dec 2026 to Fri 25 Jun 2038 (16 in Sep 2037)
    assert one_problem(data) == (
        "child.date_of_birth",
        "the child is not of compulsory school age on the referral date 26 Feb 2026: by the date "
        "of birth given, the child is of compulsory school age from 31 Dec 2026 to 25 Jun 2038",
    )


def test_pupil_past_compulsory_school_age() -> None:
    data = example(SCHOOL)
    data["pupil"]["date_of_birth"] = "2009-08-31"  # left on 27 Jun 2025
    assert one_problem(data) == (
        "pupil.date_of_birth",
        "the child is not of compulsory school age on the referral date 2 Mar 2026: by the date "
        "of birth given, the child is of compulsory school age from 31 Aug 2014 to 27 Jun 2025",
    )


def test_date_of_birth_after_referral_date() -> None:
    data = example(MIGRATION)
    data["pupil"]["date_of_birth"] = "2026-02-28"
    assert one_problem(data) == (
        "pupil.date_of_birth",
        "the date of birth is not before the referral date 27 Feb 2026",
    )


def test_nursery_pupil_leaving_is_not_held_to_compulsory_school_age() -> None:
    data = example(MIGRATION)
    data["pupil"]["date_of_birth"] = "2021-09-10"
    data["ground"] = "9(1)(b)"  # nursery pupil not moving up to reception
    assert parse(data).deletion_ground.key is GroundKey.NURSERY_NOT_TRANSFERRING
    data["ground"] = "9(1)(a)"
    assert one_problem(data)[0] == "pupil.date_of_birth"


# -- LAESTAB ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["85120", "851200A", "85120000", "", "LLLL851"])
def test_bad_school_laestab(value: str) -> None:
    data = example(SCHOOL)
    data["school_laestab"] = value
    assert one_problem(data) == ("school_laestab", LAESTAB_MESSAGE)


@pytest.mark.parametrize("value", ["851/2000", " 851 2000 ", 8512000])
def test_school_laestab_is_normalised(value: object) -> None:
    data = example(SCHOOL)
    data["school_laestab"] = value
    assert parse(data).school_laestab == "8512000"


def test_bad_sibling_school() -> None:
    data = example(SCHOOL)
    data["siblings_schools"] = ["8512001", "851-2002"]
    assert one_problem(data) == ("siblings_schools.1", LAESTAB_MESSAGE)


# -- destination (pupil migration return) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("destination", "code", "kind"),
    [
        ({"kind": "school", "school_laestab": "8502003"}, "8502003", DestinationKind.SCHOOL),
        ({"kind": "scotland_or_independent"}, "MMMMMMM", DestinationKind.SCOTLAND_OR_INDEPENDENT),
        ({"kind": "service_children"}, "702LLLL", DestinationKind.SERVICE_CHILDREN),
        (
            {"kind": "service_children", "service_school_number": "4001"},
            "7024001",
            DestinationKind.SERVICE_CHILDREN,
        ),
        ({"kind": "unknown", "school_laestab": ""}, "XXXXXXX", DestinationKind.UNKNOWN),
    ],
)
def test_destination_ctf_code(
    destination: dict[str, Any], code: str, kind: DestinationKind
) -> None:
    data = example(MIGRATION)
    data["destination"] = destination
    referral = parse(data)
    assert referral.destination.kind is kind
    assert referral.destination.ctf_code == code


@pytest.mark.parametrize(
    ("destination", "field", "message"),
    [
        (
            {"kind": "school"},
            "destination.school_laestab",
            "the destination school's LAESTAB is needed when the destination is a school",
        ),
        (  # the message cme ctf gives (seed appendix 1): the Lost Pupil Database
            {"kind": "school", "school_laestab": "851LLLL"},
            "destination.school_laestab",
            "851LLLL is an LA code without a school: use XXXXXXX, the Lost Pupil Database, when "
            "the school is not known (Portsmouth guidance, appendix 1)",
        ),
        (
            {"kind": "school", "school_laestab": "7024001"},
            "destination.school_laestab",
            "LA 702 is Service Children's Education: use the destination kind service_children "
            "with the school's 4-digit number",
        ),
        (
            {"kind": "unknown", "school_laestab": "8512001"},
            "destination.school_laestab",
            "only a school destination has a LAESTAB, not unknown",
        ),
        (
            {"kind": "service_children", "service_school_number": "LLLL"},
            "destination.service_school_number",
            "service school number must be 4 digits (the school's number in LA 702), or empty "
            "when the service school is not yet known",
        ),
        (
            {"kind": "school", "school_laestab": "8512001", "service_school_number": "4001"},
            "destination.service_school_number",
            "only a service children destination has a service school number",
        ),
        (
            {"kind": "lost"},
            "destination.kind",
            "must be one of 'school', 'scotland_or_independent', 'service_children' or 'unknown'",
        ),
        (
            {"kind": "school", "school_laestab": "8512000"},
            "destination.school_laestab",
            "the destination school is the school the pupil is leaving",
        ),
    ],
)
def test_bad_destination(destination: dict[str, Any], field: str, message: str) -> None:
    data = example(MIGRATION)
    data["destination"] = destination
    assert one_problem(data) == (field, message)


def test_destination_model_on_its_own() -> None:
    assert Destination(kind=DestinationKind.UNKNOWN).ctf_code == "XXXXXXX"
    with pytest.raises(ValidationError) as exc:
        Destination(kind=DestinationKind.SCHOOL)
    assert exc.value.errors()[0]["loc"] == ("school_laestab",)


# -- ground and EHE (pupil migration return) -------------------------------------------------------


def test_ground_must_exist_in_the_rulebook_of_the_return_date() -> None:
    data = example(MIGRATION)
    data["ground"] = "8(1)(b)"  # a 2006 code; the 2024 rules apply on 27 Feb 2026
    assert one_problem(data) == (
        "ground",
        "8(1)(b) is a ground of the 2006 regulations; on this date the 2024 regulations apply: "
        "use 9(1)(a)",
    )


def test_unknown_ground() -> None:
    data = example(MIGRATION)
    data["ground"] = "9(1)(z)"
    field, message = one_problem(data)
    assert field == "ground"
    assert message.startswith("9(1)(z) is not a ground of the 2024 regulations: valid codes are ")


def test_2006_ground_before_19_august_2024_is_normalised() -> None:
    data = example(MIGRATION)
    data.update(leaving_date="2024-07-19", referral_date="2024-07-19", ground="reg 8(1)(b)")
    data["lives_with_from"] = "2024-07-20"
    referral = parse(data)
    assert referral.ground == "8(1)(b)"
    assert referral.rulebook is Rulebook.REGS_2006
    assert PupilMigrationReturn.model_validate_json(referral.model_dump_json()) == referral


def test_ehe_ground_needs_the_deregistration_letter_and_the_lost_pupil_database() -> None:
    data = example(MIGRATION)
    data["ground"] = "9(1)(f)"
    assert problems(data) == [
        ("ehe_letter_reference", EHE_LETTER_MESSAGE),
        ("destination.kind", EHE_DESTINATION_MESSAGE),
    ]
    data["ehe_letter_reference"] = "  "
    data["destination"] = {"kind": "unknown"}
    assert one_problem(data) == ("ehe_letter_reference", EHE_LETTER_MESSAGE)
    data["ehe_letter_reference"] = "EHE/2026/014"
    referral = parse(data)
    assert referral.destination.ctf_code == "XXXXXXX"
    assert referral.ehe_letter_reference == "EHE/2026/014"


def test_rulebook_of_the_return_date_not_the_leaving_date() -> None:
    # Issue point 7. The school deletes the name at the point of the return (seed 2.3; 2024 reg
    # 13(4)), so the return's date is the decision date: left Fri 19 Jul 2024 (2006 rules),
    # deleted Mon 2 Sep 2024, after SI 2024/208 came into force on 19 Aug 2024: a reg 9(1) case.
    data = example(MIGRATION)
    data.update(leaving_date="2024-07-19", referral_date="2024-09-02", ground="8(1)(b)")
    data["lives_with_from"] = "2024-07-20"
    assert one_problem(data) == (
        "ground",
        "8(1)(b) is a ground of the 2006 regulations; on this date the 2024 regulations apply: "
        "use 9(1)(a)",
    )
    data["ground"] = "9(1)(a)"
    referral = parse(data)
    assert referral.rulebook is Rulebook.REGS_2024
    assert referral.deletion_date == date(2024, 9, 2)
    assert referral.deletion_ground.code == "9(1)(a)"


def test_a_return_stored_under_the_leaving_date_rule_still_decodes() -> None:
    # Returns accepted before point 7 named the leaving date's ground; the workflow validates a
    # stored return again without context, and it must still decode.
    data = example(MIGRATION)
    data.update(leaving_date="2024-07-19", referral_date="2024-09-02", ground="reg 8(1)(b)")
    data["lives_with_from"] = "2024-07-20"
    stored = PupilMigrationReturn.model_validate(data)
    assert stored.ground == "8(1)(b)"
    assert stored.deletion_ground.key is GroundKey.REGISTERED_ELSEWHERE
    assert PupilMigrationReturn.model_validate_json(stored.model_dump_json()) == stored


def test_age_ground_refused_at_intake_for_a_year_10_pupil() -> None:
    # Issue point 3; 2024 9(1)(l), Education Act 1996 s.8. Born 15 Jan 2011: 16 in school year
    # 2026/27, so compulsory school age ends on the last Friday in June 2027, Fri 25 Jun 2027
    # (30 Jun 2027 is a Wednesday). The return of Fri 27 Feb 2026: the school meets again on
    # Mon 2 Mar 2026, before then. (The 2025/26 calendar cannot say from when the ground applies.)
    data = example(MIGRATION)
    data["pupil"]["date_of_birth"] = "2011-01-15"
    data["ground"] = "9(1)(l)"
    assert one_problem(data) == (
        "ground",
        "9(1)(l) needs the pupil to cease to be of compulsory school age before the school next "
        "meets: by the date of birth given, the pupil is of compulsory school age until "
        "25 Jun 2027, and "
        "the school meets again on 2 Mar 2026",
    )


def test_age_ground_at_intake_for_a_year_11_pupil_from_the_leaving_date() -> None:
    # Born 15 Jan 2010: compulsory school age ends Fri 26 Jun 2026 (30 Jun 2026 is a Tuesday).
    data = example(MIGRATION)
    data["pupil"]["date_of_birth"] = "2010-01-15"
    data.update(ground="9(1)(l)", referral_date="2026-06-25", leaving_date="2026-06-25")
    today = date(2026, 7, 1)
    assert one_problem(data, today) == (
        "ground",
        "9(1)(l) needs the pupil to cease to be of compulsory school age before the school next "
        "meets: by the date of birth given, the pupil is of compulsory school age until "
        "26 Jun 2026, and "
        "the school meets again on 26 Jun 2026; the ground applies from 26 Jun 2026",
    )
    data.update(referral_date="2026-06-26", leaving_date="2026-06-26")
    assert parse(data, today).deletion_ground.key is GroundKey.CEASED_COMPULSORY_AGE


def test_ehe_ground_under_the_2006_rules() -> None:
    data = example(MIGRATION)
    data.update(leaving_date="2024-07-19", referral_date="2024-07-19", ground="8(1)(d)")
    assert problems(data)[0] == ("ehe_letter_reference", EHE_LETTER_MESSAGE)


# -- addresses -------------------------------------------------------------------------------------


def test_uk_postcode_is_checked_and_normalised() -> None:
    data = example(MIGRATION)
    data["new_address"]["postcode"] = "po40zz"
    assert parse(data).new_address.postcode == "PO4 0ZZ"
    data["new_address"]["postcode"] = "PO4"
    assert one_problem(data) == (
        "new_address.postcode",
        "postcode must be a UK postcode, e.g. PO1 2AB (for an address abroad, give its country)",
    )


def test_address_abroad() -> None:
    data = example(MIGRATION)
    data["new_address"] = {"lines": ["Calle Ejemplo 5", "Valencia"], "country": "Spain"}
    data["destination"] = {"kind": "unknown"}
    referral = parse(data)
    assert referral.new_address.postcode is None
    assert not referral.new_address.in_uk
    data["new_address"]["postcode"] = " 46001 "
    assert parse(data).new_address.postcode == "46001"  # free text abroad
    data["new_address"]["postcode"] = "46\x00001"
    assert one_problem(data) == (
        "new_address.postcode",
        "must not contain control characters or line breaks (found U+0000)",
    )


@pytest.mark.parametrize("postcode", [None, "", "   "])
@pytest.mark.parametrize(
    ("name", "field"),
    [
        (MIGRATION, ("new_address",)),
        (SCHOOL, ("last_known_address",)),
        (PROFESSIONAL, ("child", "address")),
    ],
)
def test_uk_address_without_a_postcode_is_accepted_and_decodes_without_context(
    name: str, field: tuple[str, ...], postcode: str | None
) -> None:
    """A school does not always know the postcode. The referral accepted at intake must decode in
    the worker (model_validate without context) to the same referral: it once wedged the case."""
    data = example(name)
    address = data
    for key in field:
        address = address[key]
    if postcode is None:
        del address["postcode"]
    else:
        address["postcode"] = postcode
    referral = parse(data)
    model = type(referral)
    assert model.model_validate(referral.model_dump(mode="json")) == referral
    assert model.model_validate_json(referral.model_dump_json()) == referral
    converter = pydantic_data_converter.payload_converter
    assert converter.from_payloads(converter.to_payloads([referral]), [model]) == [referral]


def test_a_stored_referral_with_an_empty_uk_postcode_decodes() -> None:
    """Referrals stored before the postcode became optional carry "" for an unknown postcode."""
    data = example(SCHOOL)
    data["last_known_address"]["postcode"] = ""
    referral = SchoolCMEReferral.model_validate(data)
    assert referral.last_known_address.postcode is None


def test_address_needs_a_line() -> None:
    data = example(SCHOOL)
    data["last_known_address"]["lines"] = []
    assert one_problem(data) == ("last_known_address.lines", "needs at least 1")


# -- contacts and phone numbers (school referral) --------------------------------------------------


def test_at_least_one_contact_phone_number() -> None:
    data = example(SCHOOL)
    for contact in data["contacts"]:
        contact["phone_numbers"] = []
    assert one_problem(data) == ("contacts", PHONE_NEEDED_MESSAGE)
    data["contacts"] = []
    assert one_problem(data) == ("contacts", PHONE_NEEDED_MESSAGE)


def test_only_one_primary_contact() -> None:
    data = example(SCHOOL)
    data["contacts"][1]["is_primary"] = True
    assert one_problem(data) == ("contacts", ONE_PRIMARY_MESSAGE)


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("07700-900123", PHONE_CHARACTERS_MESSAGE),
        ("(01632) 960123", PHONE_CHARACTERS_MESSAGE),
        (
            "0770 090",
            "0770 090 is not a UK phone number: it must start with 0 and have 10 or 11 digits, or "
            "start with +44, e.g. 01632 960123 or +44 1632 960123",
        ),
        (
            "+33 1 23 45 67 89",
            "+33 1 23 45 67 89 is not a UK phone number: it must start with 0 and have 10 or 11 "
            "digits, or start with +44, e.g. 01632 960123 or +44 1632 960123",
        ),
    ],
)
def test_bad_phone_number(number: str, message: str) -> None:
    data = example(SCHOOL)
    data["contacts"][0]["phone_numbers"][1] = number
    assert one_problem(data) == ("contacts.0.phone_numbers.1", message)


@pytest.mark.parametrize(
    ("number", "normal"),
    [
        ("+44 7700  900123", "+44 7700 900123"),
        ("01632960123", "01632960123"),
        (" 0163 296 0123", "0163 296 0123"),
    ],
)
def test_good_phone_number(number: str, normal: str) -> None:
    data = example(SCHOOL)
    data["contacts"][0]["phone_numbers"] = [number]
    assert parse(data).contacts[0].phone_numbers == [normal]


# -- absence kind and leave (school referral) ------------------------------------------------------


def after_leave(leave_end: str | None, first_day: str | None = None) -> dict[str, Any]:
    data = example(SCHOOL)
    data["absence_kind"] = "after_leave"
    data["leave_end_date"] = leave_end
    if first_day is None:
        del data["first_day_of_absence"]
    else:
        data["first_day_of_absence"] = first_day
    return data


def test_after_leave_day_one_defaults_to_the_first_school_day_after_the_leave() -> None:
    # Leave ended Fri 13 Feb 2026; 16-20 Feb is half term: day 1 is Mon 23 Feb.
    referral = parse(after_leave("2026-02-13"))
    assert referral.first_day_of_absence == date(2026, 2, 23)
    assert referral.leave_end_date == date(2026, 2, 13)


def test_after_leave_day_one_given() -> None:
    assert parse(after_leave("2026-02-13", "2026-02-24")).first_day_of_absence == date(2026, 2, 24)


def test_after_leave_needs_the_leave_end_date() -> None:
    assert one_problem(after_leave(None)) == ("leave_end_date", LEAVE_END_NEEDED_MESSAGE)
    assert one_problem(after_leave(None, "2026-02-23")) == (
        "leave_end_date",
        LEAVE_END_NEEDED_MESSAGE,
    )


def test_after_leave_day_one_must_be_after_the_leave() -> None:
    assert one_problem(after_leave("2026-02-23", "2026-02-23")) == (
        "first_day_of_absence",
        "the first day of absence must be after the leave ended (23 Feb 2026)",
    )


def test_unauthorised_absence_has_no_leave_end_date() -> None:
    data = example(SCHOOL)
    data["leave_end_date"] = "2026-02-06"
    assert one_problem(data) == ("leave_end_date", LEAVE_END_UNWANTED_MESSAGE)


def test_first_day_of_absence_not_after_referral_date() -> None:
    data = example(SCHOOL)
    data.update(first_day_of_absence="2026-02-27", referral_date="2026-02-26")
    assert one_problem(data) == (
        "first_day_of_absence",
        "the first day of absence 27 Feb 2026 is after the referral date 26 Feb 2026",
    )


def test_after_leave_without_day_one_needs_the_calendar() -> None:
    with pytest.raises(ValidationError) as exc:
        SchoolCMEReferral.model_validate(after_leave("2026-02-13"))
    [error] = exc.value.errors()
    assert error["loc"] == ("first_day_of_absence",)
    assert error["msg"] == (
        "the first day of absence is needed: it can only be counted from the end of the leave "
        "with the school calendar"
    )


def test_after_leave_day_one_beyond_the_calendar() -> None:
    late = date(2026, 9, 10)
    assert one_problem(after_leave("2026-07-22"), today=late) == (
        "first_day_of_absence",
        "calendar ends on 22 Jul 2026: school day 1 after 22 Jul 2026 falls after it",
    )


# -- enquiries (school referral) -------------------------------------------------------------------


def test_enquiries_must_be_the_schools() -> None:
    data = example(SCHOOL)
    data["enquiries_made"][1].update(by="la", kind="siblings_school")
    assert problems(data) == [
        (
            "enquiries_made.1.by",
            "a school referral records the school's own enquiries: by must be school",
        ),
        (
            "enquiries_made.1.kind",
            "siblings_school is an enquiry the CME officer makes, not the school",
        ),
    ]


def test_enquiry_not_after_referral_date() -> None:
    data = example(SCHOOL)
    data["referral_date"] = "2026-02-27"
    data["enquiries_made"][3]["made_on"] = "2026-03-02"
    assert one_problem(data) == (
        "enquiries_made.3.made_on",
        "the enquiry of 2 Mar 2026 is after the referral date 27 Feb 2026",
    )


def test_bad_enquiry_outcome() -> None:
    data = example(SCHOOL)
    data["enquiries_made"][0]["outcome"] = "maybe"
    field, message = one_problem(data)
    assert field == "enquiries_made.0.outcome"
    assert message.startswith("must be one of 'no_contact', ")


# -- professional referral -------------------------------------------------------------------------


def test_at_most_two_parents() -> None:
    data = example(PROFESSIONAL)
    data["parents"].append({"name": "Third Placeholder"})
    assert one_problem(data) == ("parents", "can have at most 2")


def test_parent_contact_number_is_checked() -> None:
    data = example(PROFESSIONAL)
    data["parents"][1]["contact_number"] = ""
    assert parse(data).parents[1].contact_number is None
    data["parents"][1]["contact_number"] = "n/a"
    assert one_problem(data) == ("parents.1.contact_number", PHONE_CHARACTERS_MESSAGE)


def test_referrer_contact_details() -> None:
    data = example(PROFESSIONAL)
    data["referrer"]["email"] = "chris.demo at example.org"
    data["referrer"]["phone"] = "ext 4456"
    assert problems(data) == [
        ("referrer.phone", PHONE_CHARACTERS_MESSAGE),
        ("referrer.email", "email address must look like name@example.org"),
    ]


@pytest.mark.parametrize(
    ("email", "why"),
    [
        ("chris,demo@example.org", "invalid characters before the @-sign: ','"),
        ("chris.demo@exampleshire", "It should have a period"),
        ("chris.demo@example..org", "two periods in a row"),
    ],
)
def test_referrer_email_is_a_real_address(email: str, why: str) -> None:
    data = example(PROFESSIONAL)
    data["referrer"]["email"] = email
    field, message = one_problem(data)
    assert field == "referrer.email"
    assert message.startswith("email address must look like name@example.org: ")
    assert why in message


def test_referrer_email_is_normalised() -> None:
    data = example(PROFESSIONAL)
    data["referrer"]["email"] = " Chris.Demo@Example.ORG "
    assert parse(data).referrer.email == "Chris.Demo@example.org"


TEXT_FIELDS = [
    (MIGRATION, ("pupil", "first_name")),
    (MIGRATION, ("pupil", "last_name")),
    (MIGRATION, ("new_address", "lines", 0)),
    (MIGRATION, ("new_address", "country")),
    (MIGRATION, ("lives_with", "name")),
    (MIGRATION, ("lives_with", "relationship")),
    (SCHOOL, ("contacts", 0, "name")),
    (SCHOOL, ("contacts", 0, "relationship")),
    (SCHOOL, ("last_known_address", "lines", 1)),
    (SCHOOL, ("enquiries_made", 0, "note")),
    (PROFESSIONAL, ("child", "ethnicity")),
    (PROFESSIONAL, ("parents", 0, "name")),
    (PROFESSIONAL, ("details", "where_seen")),
    (PROFESSIONAL, ("details", "how_known_not_on_roll")),
    (PROFESSIONAL, ("details", "notes")),
    (PROFESSIONAL, ("referrer", "name")),
    (PROFESSIONAL, ("referrer", "organisation")),
    (PROFESSIONAL, ("referrer", "role")),
]
FREE_TEXT_FIELDS = {"note", "where_seen", "how_known_not_on_roll", "notes"}


def _set(data: dict[str, Any], path: tuple[str | int, ...], value: object) -> None:
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


@pytest.mark.parametrize(("name", "path"), TEXT_FIELDS)
@pytest.mark.parametrize(("bad", "found"), [("\x00", "U+0000"), ("\x1b[2J", "U+001B")])
def test_control_characters_in_names_and_texts_are_refused(
    name: str, path: tuple[str | int, ...], bad: str, found: str
) -> None:
    """NUL and escape codes once passed intake, then broke the PostgreSQL register."""
    data = example(name)
    _set(data, path, f"Sample{bad}text")
    kind = "" if path[-1] in FREE_TEXT_FIELDS else " or line breaks"
    assert one_problem(data) == (
        ".".join(str(p) for p in path),
        f"must not contain control characters{kind} (found {found})",
    )


def test_a_line_break_is_refused_in_a_name_but_kept_in_free_text() -> None:
    data = example(PROFESSIONAL)
    data["child"]["first_name"] = "Maya\nRose"
    assert one_problem(data) == (
        "child.first_name",
        "must not contain control characters or line breaks (found U+000A)",
    )
    data["child"]["first_name"] = "Maya"
    data["details"]["where_seen"] = "At the GP\r\nWith her mother"
    assert parse(data).details.where_seen == "At the GP\nWith her mother"


def test_an_unpaired_surrogate_is_refused_with_a_plain_message() -> None:
    data = example(SCHOOL)
    data["pupil"]["last_name"] = "Sample\ud800field"
    assert one_problem(data) == (
        "pupil.last_name",
        "must not contain control characters or line breaks (found U+D800)",
    )


def test_ehe_letter_reference_is_one_line() -> None:
    data = example(MIGRATION)
    data.update(
        ground="9(1)(f)", destination={"kind": "unknown"}, ehe_letter_reference=" EHE-\x0017 "
    )
    assert one_problem(data)[0] == "ehe_letter_reference"
    data["ehe_letter_reference"] = "  EHE  2026/17 "
    assert parse(data).ehe_letter_reference == "EHE 2026/17"
    data["ehe_letter_reference"] = "   "
    assert one_problem(data) == ("ehe_letter_reference", EHE_LETTER_MESSAGE)


@pytest.mark.parametrize(
    ("name", "field"),
    [
        (MIGRATION, "referral_date"),
        (MIGRATION, "leaving_date"),
        (SCHOOL, "first_day_of_absence"),
        (PROFESSIONAL, "referral_date"),
    ],
)
def test_implausible_dates_are_refused(name: str, field: str) -> None:
    data = example(name)
    data[field] = "1999-09-01"
    assert (
        field,
        "1999-09-01 is not a plausible date for a case: dates run from 2000-01-01 to 2099-12-31",
    ) in problems(data)


def test_implausible_date_of_birth_and_enquiry_date() -> None:
    data = example(SCHOOL)
    data["pupil"]["date_of_birth"] = "1899-11-02"
    data["enquiries_made"][0]["made_on"] = "0206-02-09"
    found = dict(problems(data))
    assert found["pupil.date_of_birth"].startswith("1899-11-02 is not a plausible date")
    assert found["enquiries_made.0.made_on"].startswith("0206-02-09 is not a plausible date")


def test_date_received_not_before_referral_date() -> None:
    data = example(PROFESSIONAL)
    data["date_received"] = "2026-02-25"
    assert one_problem(data) == (
        "date_received",
        "the date received 25 Feb 2026 is before the referral date 26 Feb 2026",
    )


def test_professional_referral_details() -> None:
    data = example(PROFESSIONAL)
    data["details"]["where_seen"] = ""
    data["details"]["notes"] = "   "
    assert one_problem(data) == ("details.where_seen", "must not be empty")
    data["details"]["where_seen"] = "At the GP surgery"
    assert parse(data).details.notes == ""  # blank notes are "", as every optional note


def test_address_if_different() -> None:
    data = example(PROFESSIONAL)
    data["address_if_different"] = {"lines": ["2 Sample Terrace"], "postcode": "po6 9zy"}
    referral = parse(data)
    assert referral.address_if_different is not None
    assert referral.address_if_different.postcode == "PO6 9ZY"


def test_school_place_offered_not_taken_is_optional() -> None:
    data = example(PROFESSIONAL)
    del data["school_place_offered_not_taken"]
    assert parse(data).school_place_offered_not_taken is None
    data["school_place_offered_not_taken"] = True
    assert parse(data).school_place_offered_not_taken is True


# -- rules that need today or the calendar ---------------------------------------------------------


FUTURE = "3 Mar 2026 is in the future: today is 2 Mar 2026"


@pytest.mark.parametrize(
    ("name", "path", "field"),
    [
        (MIGRATION, ("referral_date",), "referral_date"),
        (MIGRATION, ("leaving_date",), "leaving_date"),
        (SCHOOL, ("referral_date",), "referral_date"),
        (SCHOOL, ("enquiries_made", 2, "made_on"), "enquiries_made.2.made_on"),
        (PROFESSIONAL, ("referral_date",), "referral_date"),
        (PROFESSIONAL, ("date_received",), "date_received"),
    ],
)
def test_dates_in_the_future_are_refused_only_with_context(
    name: str, path: tuple[str | int, ...], field: str
) -> None:
    data = example(name)
    if name == SCHOOL and field == "enquiries_made.2.made_on":
        data["referral_date"] = "2026-03-03"
    if field == "referral_date" and name == PROFESSIONAL:
        data["date_received"] = None
    target: Any = data
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = "2026-03-03"
    TypeAdapter(Referral).validate_python(copy.deepcopy(data))  # no context: accepted
    assert (field, FUTURE) in problems(data)
    assert parse(data, today=date(2026, 3, 3))


def test_first_day_of_absence_in_the_future() -> None:
    data = example(SCHOOL)
    data.update(first_day_of_absence="2026-03-03", referral_date="2026-03-03")
    data["enquiries_made"] = []
    SchoolCMEReferral.model_validate(data)
    assert problems(data) == [("referral_date", FUTURE), ("first_day_of_absence", FUTURE)]


def test_date_of_birth_in_the_future() -> None:
    data = example(PROFESSIONAL)
    data["child"]["date_of_birth"] = "2026-03-03"
    data.update(referral_date="2026-03-04", date_received=None)
    assert problems(data)[:2] == [
        ("child.date_of_birth", FUTURE),
        ("referral_date", FUTURE.replace("3 Mar", "4 Mar")),
    ]


@pytest.mark.parametrize(
    ("school", "day", "message"),
    [
        (
            "8512000",
            "2026-02-14",
            "14 Feb 2026 is not a school day at school 8512000: day 1 is the first school day of "
            "absence",
        ),
        (
            "8512000",
            "2026-02-17",  # half term
            "17 Feb 2026 is not a school day at school 8512000: day 1 is the first school day of "
            "absence",
        ),
        (
            "8512000",
            "2025-11-03",  # INSET day of 8512000
            "3 Nov 2025 is not a school day at school 8512000: day 1 is the first school day of "
            "absence",
        ),
        (
            "8512000",
            "2025-06-02",
            "calendar starts on 3 Sep 2025: 2 Jun 2025 is before it",
        ),
    ],
)
def test_first_day_of_absence_must_be_a_school_day_of_the_school(
    school: str, day: str, message: str
) -> None:
    data = example(SCHOOL)
    data.update(school_laestab=school, first_day_of_absence=day)
    data["enquiries_made"] = []
    SchoolCMEReferral.model_validate(data)  # no calendar: accepted
    assert one_problem(data) == ("first_day_of_absence", message)


def test_an_inset_day_of_one_school_is_a_school_day_of_another() -> None:
    data = example(SCHOOL)
    data.update(school_laestab="8512001", first_day_of_absence="2025-11-03")
    data["siblings_schools"] = []
    data["enquiries_made"] = []
    assert parse(data).first_day_of_absence == date(2025, 11, 3)


def test_first_day_of_absence_after_the_calendar_ends() -> None:
    data = example(SCHOOL)
    data.update(first_day_of_absence="2026-09-03", referral_date="2026-09-10")
    data["enquiries_made"] = []
    assert one_problem(data, today=date(2026, 9, 10)) == (
        "first_day_of_absence",
        "calendar ends on 22 Jul 2026: 3 Sep 2026 is after it",
    )


# -- ReferralInvalid and FieldProblem --------------------------------------------------------------


def test_referral_invalid_lists_one_line_per_problem() -> None:
    data = example(SCHOOL)
    data["school_laestab"] = "85"
    data["pupil"]["upn"] = "Z85"
    with pytest.raises(ReferralInvalid) as exc:
        parse(data)
    assert str(exc.value) == f"pupil.upn: {UPN_LENGTH_MESSAGE}\nschool_laestab: {LAESTAB_MESSAGE}"
    assert exc.value.problems == [
        FieldProblem(field="pupil.upn", message=UPN_LENGTH_MESSAGE),
        FieldProblem(field="school_laestab", message=LAESTAB_MESSAGE),
    ]
    assert isinstance(exc.value, ValueError)
    again = pickle.loads(pickle.dumps(exc.value))
    assert again.problems == exc.value.problems
    assert str(again) == str(exc.value)


def test_no_message_keeps_pydantics_prefix() -> None:
    data = example(MIGRATION)
    data["pupil"]["upn"] = "bad"
    data["ground"] = "none"
    data["new_address"]["postcode"] = "?"
    for _, message in problems(data):
        assert not message.startswith("Value error")


# -- JSON schemas ----------------------------------------------------------------------------------


def test_json_schema_of_each_form() -> None:
    schemas = referral_json_schemas()
    assert set(schemas) == {
        "pupil_migration_return",
        "school_cme_referral",
        "professional_cme_referral",
    }
    for name, schema in schemas.items():
        assert schema["type"] == "object"
        assert schema["properties"]["form"]["const"] == name
        assert schema["additionalProperties"] is False
        json.dumps(schema)  # plain JSON

    migration = schemas["pupil_migration_return"]
    assert {"pupil", "school_laestab", "ground", "destination", "child_protection_plan"} <= set(
        migration["required"]
    )
    assert "ehe_letter_reference" not in migration["required"]
    assert set(migration["$defs"]["DestinationKind"]["enum"]) == {k.value for k in DestinationKind}

    school = schemas["school_cme_referral"]
    assert "first_day_of_absence" not in school["required"]
    assert {"pupil", "contacts", "last_known_address", "absence_kind"} <= set(school["required"])
    assert school["$defs"]["Contact"]["properties"]["phone_numbers"]["type"] == "array"

    professional = schemas["professional_cme_referral"]
    assert professional["properties"]["parents"]["maxItems"] == 2
    assert {"child", "details", "referrer", "referral_date"} <= set(professional["required"])
    assert "ethnicity" in professional["$defs"]["Child"]["required"]


# -- identity keys ---------------------------------------------------------------------------------


def test_child_identity_keys() -> None:
    school = parse(example(SCHOOL))
    assert child_identity_keys(school) == [
        "upn:Z851200018002",
        "name-dob:jacob|samplefield|2013-11-02",
    ]
    professional_data = example(PROFESSIONAL)
    professional_data["child"]["first_name"] = "  MAYA  Rose "
    professional = parse(professional_data)
    assert child_identity_keys(professional) == ["name-dob:maya rose|placeholder|2017-04-21"]


def test_the_same_child_gets_the_same_keys_on_every_form() -> None:
    professional_data = example(PROFESSIONAL)
    professional_data["child"].update(
        first_name="jacob", last_name="SAMPLEFIELD", date_of_birth="2013-11-02", upn="z851200018002"
    )
    assert child_identity_keys(parse(professional_data)) == child_identity_keys(
        parse(example(SCHOOL))
    )


def _return_data(**changes: object) -> dict[str, Any]:
    import json
    from pathlib import Path

    data = json.loads(
        (Path(__file__).parents[2] / "examples" / "pupil-migration-return.json").read_text()
    )
    data.update(changes)
    return cast(dict[str, Any], data)


def test_a_return_names_no_absence_ground_2024_reg_9_1_h_and_i() -> None:
    """2024 reg 9(1)(h) and (i) need the school and the LA to have failed to find the pupil: a
    return whose destination is known cannot name them (the school CME referral is for that)."""
    from datetime import date

    from domain.calendar import LA_CALENDAR_PATH, SchoolCalendar
    from domain.intake import ABSENCE_GROUND_ON_RETURN_MESSAGE, ReferralInvalid, parse_referral

    calendar = SchoolCalendar.load(LA_CALENDAR_PATH)
    for ground in ("9(1)(h)", "9(1)(i)"):
        with pytest.raises(ReferralInvalid) as refused:
            parse_referral(_return_data(ground=ground), today=date(2026, 3, 2), calendar=calendar)
        assert ("ground", ABSENCE_GROUND_ON_RETURN_MESSAGE) in [
            (p.field, p.message) for p in refused.value.problems
        ]


def test_a_return_carries_the_school_type_for_the_ctf_deadline_pupil_information_regs_9_3() -> None:
    """The 2005 regulations' 15 school days bind LA-maintained schools; an academy's return says
    so, and an overdue CTF is then a reminder (see domain.case)."""
    from datetime import date

    from domain.calendar import LA_CALENDAR_PATH, SchoolCalendar
    from domain.ctf import SchoolType
    from domain.intake import PupilMigrationReturn, parse_referral

    calendar = SchoolCalendar.load(LA_CALENDAR_PATH)
    referral = parse_referral(
        _return_data(school_type="academy"), today=date(2026, 3, 2), calendar=calendar
    )
    assert isinstance(referral, PupilMigrationReturn)
    assert referral.school_type is SchoolType.ACADEMY
    assert (
        parse_referral(_return_data(), today=date(2026, 3, 2), calendar=calendar).model_dump()[
            "school_type"
        ]
        is None
    )


def test_a_validation_error_never_quotes_the_childs_data() -> None:
    """A log may carry a validation error's text: it names the field and the fault, never the
    value (a child's name, date of birth, UPN or address is personal data)."""
    from pydantic import ValidationError

    from domain.intake import SchoolCMEReferral

    data = _return_data()
    data["pupil"] = {**data["pupil"], "upn": "Zephyrine-Quillfeather"}
    with pytest.raises(ValidationError) as refused:
        PupilMigrationReturn.model_validate(data)
    assert "Zephyrine" not in str(refused.value) and "upn" in str(refused.value)
    with pytest.raises(ValidationError) as refused_again:
        SchoolCMEReferral.model_validate({"pupil": {"first_name": "Zephyrine\x00"}})
    assert "Zephyrine" not in str(refused_again.value)
