"""The referral forms' questions (:mod:`web.refer_questions`): every field of each intake form is
asked on some page (nothing a form has is missing), the answers make the referral the intake
reads, and each problem the intake finds has an input on its page."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from domain.calendar import SchoolCalendar
from domain.intake import FORM_NAMES, ReferralInvalid, parse_referral, referral_json_schemas
from web.refer_questions import FORMS, build, input_names, repeats

EXAMPLES = Path(__file__).parents[2] / "examples"
TODAY = date(2026, 3, 2)


def leaf_paths(schema: dict[str, Any]) -> set[str]:
    """Every field path of a form's JSON schema, a list's items as ``.0``."""
    definitions = schema.get("$defs", {})
    found: set[str] = set()

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = definitions[node["$ref"].rsplit("/", 1)[1]]
        return node

    def walk(node: dict[str, Any], path: str) -> None:
        node = resolve(node)
        for choice in node.get("anyOf", []):
            choice = resolve(choice)
            if choice.get("type") != "null":
                walk(choice, path)
                return
        if "properties" in node:
            for name, child in node["properties"].items():
                walk(child, f"{path}.{name}" if path else name)
            return
        if node.get("type") == "array":
            walk(node["items"], f"{path}.0")
            return
        found.add(path)

    walk(schema, "")
    return found


def every_input_answered(form: str) -> dict[str, str]:
    """Every input of every page, given something (lists at their first item)."""
    values: dict[str, str] = {}
    for section in FORMS[form].sections:
        for name in input_names(section, {}, staff=True):
            values[name] = "x"
    return values


@pytest.mark.parametrize("form", FORM_NAMES)
def test_every_field_of_the_form_is_asked(form: str) -> None:
    schema = referral_json_schemas()[form]
    fields = leaf_paths(schema) - {"form"}
    # What a person does not answer: a school enquiry is always the school's.
    fixed = {"enquiries_made.0.by"} if form == "school_cme_referral" else set()
    built = build(FORMS[form], every_input_answered(form), {}, staff=True)
    asked = set(built.targets)
    assert fields - fixed - asked == set()
    assert fixed <= leaf_paths(schema)


@pytest.mark.parametrize("form", FORM_NAMES)
def test_a_school_user_is_not_asked_the_school_nor_the_date_received(form: str) -> None:
    names = {
        name for section in FORMS[form].sections for name in input_names(section, {}, staff=False)
    }
    assert "school_laestab" not in names and "date_received-day" not in names
    built = build(FORMS[form], {}, {}, staff=False, school="8512000")
    assert built.data.get("school_laestab") == ("8512000" if FORMS[form].school_form else None)


def values_from(data: Any, prefix: str = "") -> dict[str, str]:
    """A referral's JSON as the inputs a person fills in (dates in parts, addresses in lines)."""
    values: dict[str, str] = {}
    if isinstance(data, dict) and "lines" in data:
        for part, line in zip(("line1", "line2", "town", "county"), data["lines"], strict=False):
            values[f"{prefix}-{part}"] = line
        values[f"{prefix}-postcode"] = data.get("postcode") or ""
        values[f"{prefix}-country"] = data.get("country", "United Kingdom")
        return values
    if isinstance(data, dict):
        for key, value in data.items():
            values.update(values_from(value, f"{prefix}-{key}" if prefix else key))
        return values
    if isinstance(data, list):
        for i, value in enumerate(data):
            values.update(values_from(value, f"{prefix}-{i}"))
        return values
    if isinstance(data, bool):
        return {prefix: "yes" if data else "no"}
    if isinstance(data, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", data):
        day = date.fromisoformat(data)
        return {
            f"{prefix}-day": str(day.day),
            f"{prefix}-month": str(day.month),
            f"{prefix}-year": str(day.year),
        }
    return {prefix: "" if data is None else str(data)}


def counts_of(data: Any, prefix: str = "") -> dict[str, int]:
    counts: dict[str, int] = {}
    if isinstance(data, dict) and "lines" not in data:
        for key, value in data.items():
            counts.update(counts_of(value, f"{prefix}-{key}" if prefix else key))
    elif isinstance(data, list) and data:
        counts[prefix] = len(data)
        for i, value in enumerate(data):
            counts.update(counts_of(value, f"{prefix}-{i}"))
    return counts


@pytest.mark.parametrize("form", FORM_NAMES)
def test_the_examples_answered_on_the_pages_are_the_same_referral(
    form: str, calendar: SchoolCalendar
) -> None:
    example = json.loads((EXAMPLES / f"{form.replace('_', '-')}.json").read_text())
    expected = parse_referral(example, today=TODAY, calendar=calendar)
    values = values_from(example)
    if form == "professional_cme_referral":
        values["school_place_offered_not_taken"] = "not_known"  # null: not known
    built = build(FORMS[form], values, counts_of(example), staff=True)
    assert parse_referral(built.data, today=TODAY, calendar=calendar) == expected


@pytest.fixture
def calendar() -> SchoolCalendar:
    from settings import Settings

    return Settings(_env_file=None).calendar


@pytest.mark.parametrize(
    ("change", "target"),
    [
        ({"ground": "9(1)(f)", "destination-kind": "school"}, "ehe_letter_reference"),
        ({"ground": "9(1)(j)"}, "custodial_order"),
        ({"destination-kind": "unknown"}, "destination-school_laestab"),
        ({"destination-school_laestab": ""}, "destination-school_laestab"),
        ({f"new_address-{part}": "" for part in ("line1", "line2", "town")}, "new_address-line1"),
        ({"lives_with_from-month": "13"}, "lives_with_from"),
    ],
)
def test_each_problem_of_a_return_has_its_input(
    change: dict[str, str], target: str, calendar: SchoolCalendar
) -> None:
    example = json.loads((EXAMPLES / "pupil-migration-return.json").read_text())
    values = {**values_from(example), **change}
    built = build(FORMS["pupil_migration_return"], values, {}, staff=True)
    with pytest.raises(ReferralInvalid) as invalid:
        parse_referral(built.data, today=TODAY, calendar=calendar)
    names = [built.target(problem.field).name for problem in invalid.value.problems]
    assert target in names, invalid.value.problems
    assert "form" not in names


def test_the_lists_of_a_page_are_named_as_their_inputs() -> None:
    section = FORMS["school_cme_referral"].section("contacts")
    assert section is not None
    assert set(repeats(section, {"contacts": 2})) == {
        "contacts",
        "contacts-0-phone_numbers",
        "contacts-1-phone_numbers",
    }
