"""Whatever intake accepts, the worker decodes: a property test over mutated referrals.

A case's workflow decodes the referral it started with (and every later copy of it) from JSON,
with the pydantic data converter and without a validation context. A referral that
:func:`parse_referral` accepts but that decoding refuses wedges its case: the workflow cannot even
read its input. So, for referrals of all three forms, started from valid synthetic ones and
mutated (fields dropped, blanked, padded, lengthened, given control characters, other dates,
postcodes, emails, phone numbers, UPNs, LAESTABs), whenever ``parse_referral`` accepts one:

* ``model_validate(model_dump(mode="json"))`` without context gives an equal referral;
* the Temporal pydantic payload converter round-trips it, as the form and as the union;
* parsing it again, with the same context, gives an equal referral.

And ``parse_referral`` never fails in any other way than :class:`ReferralInvalid`.
"""

from __future__ import annotations

import copy
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any, cast

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from temporalio.contrib.pydantic import pydantic_data_converter

from domain.calendar import LA_CALENDAR_PATH, SchoolCalendar
from domain.intake import Referral, ReferralInvalid, parse_referral

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TODAY = date(2026, 3, 2)
CALENDAR = SchoolCalendar.load(LA_CALENDAR_PATH)
CONVERTER = pydantic_data_converter.payload_converter


def _example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
    return data


BASES: dict[str, dict[str, Any]] = {
    "pupil_migration_return": _example("pupil-migration-return.json"),
    "school_cme_referral": _example("school-cme-referral.json"),
    "professional_cme_referral": _example("professional-cme-referral.json"),
}
# An EHE return and an absence after leave, so that those rules' fields are in play too.
BASES["ehe_return"] = {
    **BASES["pupil_migration_return"],
    "ground": "9(1)(f)",
    "destination": {"kind": "unknown"},
    "ehe_letter_reference": "EHE-2026-017",
}
BASES["after_leave"] = {
    **BASES["school_cme_referral"],
    "absence_kind": "after_leave",
    "leave_end_date": "2026-02-06",
}
del BASES["after_leave"]["first_day_of_absence"]

Path_ = tuple[str | int, ...]

PUPIL = [
    (("pupil", "first_name"), "name"),
    (("pupil", "last_name"), "name"),
    (("pupil", "date_of_birth"), "date"),
    (("pupil", "gender"), "any"),
    (("pupil", "upn"), "upn"),
    (("school_laestab",), "laestab"),
    (("referral_date",), "date"),
]


def _address(prefix: Path_) -> list[tuple[Path_, str]]:
    return [
        ((*prefix, "lines", 0), "text"),
        ((*prefix, "lines"), "any"),
        ((*prefix, "country"), "country"),
        ((*prefix, "postcode"), "postcode"),
        ((*prefix, "postcode"), "postcode"),  # twice: the field that once wedged cases
    ]


MIGRATION_FIELDS = [
    *PUPIL,
    (("leaving_date",), "date"),
    (("ground",), "any"),
    *_address(("new_address",)),
    (("lives_with", "name"), "name"),
    (("lives_with", "relationship"), "text"),
    (("lives_with_from",), "date"),
    (("destination", "kind"), "any"),
    (("destination", "school_laestab"), "laestab"),
    (("ehe_letter_reference",), "text"),
]
SCHOOL_FIELDS = [
    *PUPIL,
    (("leave_end_date",), "date"),
    (("first_day_of_absence",), "date"),
    (("contacts", 0, "name"), "name"),
    (("contacts", 0, "relationship"), "text"),
    (("contacts", 0, "phone_numbers", 0), "phone"),
    (("contacts", 1, "phone_numbers"), "any"),
    *_address(("last_known_address",)),
    (("enquiries_made", 0, "note"), "free"),
    (("enquiries_made", 1, "note"), "free"),
    (("enquiries_made", 2, "made_on"), "date"),
    (("siblings_schools", 0), "laestab"),
]
PROFESSIONAL_FIELDS = [
    (("child", "first_name"), "name"),
    (("child", "last_name"), "name"),
    (("child", "date_of_birth"), "date"),
    (("child", "upn"), "upn"),
    (("child", "ethnicity"), "text"),
    *_address(("child", "address")),
    (("parents", 0, "name"), "name"),
    (("parents", 0, "contact_number"), "phone"),
    (("parents", 1, "contact_number"), "phone"),
    (("address_if_different",), "any"),
    (("details", "where_seen"), "free"),
    (("details", "how_known_not_on_roll"), "free"),
    (("details", "notes"), "free"),
    (("referral_date",), "date"),
    (("referrer", "name"), "name"),
    (("referrer", "organisation"), "text"),
    (("referrer", "role"), "text"),
    (("referrer", "phone"), "phone"),
    (("referrer", "email"), "email"),
    (("referrer", "email"), "email"),
    (("date_received",), "date"),
    (("school_place_offered_not_taken",), "any"),
]
FIELDS = {
    "pupil_migration_return": MIGRATION_FIELDS,
    "ehe_return": MIGRATION_FIELDS,
    "school_cme_referral": SCHOOL_FIELDS,
    "after_leave": SCHOOL_FIELDS,
    "professional_cme_referral": PROFESSIONAL_FIELDS,
}

CONTROL = ["\x00", "\x1b", "\x1b[2J", "\n", "\r\n", "\r", "\t", "\u2028", "\ud800", "\x7f", "\x85"]
LENGTHS = [19, 20, 21, 99, 100, 101, 199, 200, 201, 3999, 4000, 4001]
# Values of each kind of field that intake should accept (in the right place), and ones it should
# refuse; the mutations mix them.
GOOD: dict[str, list[Any]] = {
    "name": ["Zoë O'Brien-Ñúñez", "محمد", "A", "  Jacob   Samplefield  ", "Jacob\tSamplefield"],
    "text": ["Example Health Visiting Service", "mother", "x", " step-father "],
    "free": ["Seen at the GP.\r\nMother said: new school\u2029soon", "\t indented", "ok"],
    "date": [],
    "postcode": ["PO1 2AB", "po12ab", "SW1A 1AA", "GIR 0AA", "p o 4 0 z z", "46001"],
    "email": ["a@bücher.example.org", "Chris.Demo@EXAMPLE.ORG", "x@localhost", " a@b.example\n"],
    "phone": ["01632 960123", "+44 1632 960123", " 07700  900123 ", 1632960123],
    "upn": ["Z851200018002", "z8512 0001 8002", "K851200018001"],
    "laestab": ["8512001", "851/2001", 8512001, " 851 2002 "],
    "country": ["United Kingdom", " uk ", "England", "Spain", "France", "UNITED  KINGDOM"],
    "any": [],
}
BAD: dict[str, list[Any]] = {
    "name": [],
    "text": [],
    "free": [],
    "date": ["2026-02-30", "not a date", "1999-12-31", "2100-01-01", 20260302],
    "postcode": ["PO4", "12345", "ﬀ1 2AB"],
    "email": ["chris,demo@example.org", "cme at exampleshire", "a@b", "zoë@example.org"],
    "phone": ["07700-900123", "0770 090", "+33 1 23 45 67 89"],
    "upn": ["A851200018002", "Z85120001800", "Z8512000180\x0002"],
    "laestab": ["851200", "8512000", "８５１２００１"],
    "country": [],
    "any": [[], {}, 0, True, "unknown", "school", ["a"], {"lines": ["1 Road"]}],
}


def _iso_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _has(data: Any, key: str | int) -> bool:
    if isinstance(data, dict):
        return isinstance(key, str) and key in data
    return isinstance(data, list) and isinstance(key, int) and key < len(data)


def _parent(data: Any, path: Path_) -> Any | None:
    """The dict or list holding the field at ``path``, if it is still there."""
    for key in path[:-1]:
        if not _has(data, key):
            return None
        data = data[key]
    last = path[-1]
    if isinstance(data, dict) and isinstance(last, str):
        return data
    if isinstance(data, list) and isinstance(last, int) and last < len(data):
        return data
    return None


def _values(kind: str, current: Any) -> st.SearchStrategy[Any]:
    """Mostly values intake may accept (so that the round trips are tested often), often ones
    it must refuse."""
    good: list[st.SearchStrategy[Any]] = [st.sampled_from(["", "   ", None])]
    bad: list[st.SearchStrategy[Any]] = [
        st.text(max_size=25),
        st.sampled_from(LENGTHS).map(lambda n: ("Ab " * n)[:n]),
        st.sampled_from(LENGTHS).map(lambda n: "x" * n),
    ]
    if GOOD[kind]:
        good.append(st.sampled_from(GOOD[kind]))
    if BAD[kind]:
        bad.append(st.sampled_from(BAD[kind]))
    if isinstance(current, str):
        good.append(st.sampled_from([f"  {current}  ", current.upper(), current.lower()]))
        bad.append(
            st.builds(
                lambda ch, at: current[:at] + ch + current[at:],
                st.sampled_from(CONTROL),
                st.integers(0, len(current)),
            )
        )
        base = _iso_date(current) if kind == "date" else None
        if base is not None:
            shift = st.integers(-400, 400) | st.integers(-10, 10)
            good.append(shift.map(lambda d: str(base + timedelta(days=d))))
    if kind == "date":
        bad.append(st.dates(date(1995, 1, 1), date(2105, 1, 1)).map(str))
    if kind == "email":
        good.append(st.emails())
    return st.one_of(*good, *good, *bad)


@st.composite
def referrals(draw: st.DrawFn) -> dict[str, Any]:
    form = draw(st.sampled_from(sorted(BASES)))
    data = copy.deepcopy(BASES[form])
    for _ in range(draw(st.integers(0, 3))):
        path, kind = draw(st.sampled_from(FIELDS[form]))
        parent = _parent(data, path)
        if parent is None:
            continue
        last = path[-1]
        if draw(st.integers(0, 4)) == 0:  # drop the field
            if isinstance(parent, dict):
                parent.pop(last, None)
            else:
                del parent[last]
        else:
            current = parent.get(last) if isinstance(parent, dict) else parent[last]
            parent[last] = draw(_values(kind, current))
    return data


def test_every_base_referral_is_accepted() -> None:
    for name, data in BASES.items():
        assert parse_referral(copy.deepcopy(data), today=TODAY, calendar=CALENDAR), name


@settings(
    max_examples=800,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(referrals())
def test_whatever_intake_accepts_the_worker_decodes(data: dict[str, Any]) -> None:
    try:
        referral = parse_referral(data, today=TODAY, calendar=CALENDAR)
    except ReferralInvalid as invalid:
        assert invalid.problems  # never an empty refusal
        event("refused")
        return
    event(f"accepted {referral.form}")
    model = type(referral)

    # The worker decodes it without context...
    assert model.model_validate(referral.model_dump(mode="json")) == referral
    assert model.model_validate_json(referral.model_dump_json()) == referral
    # ... through Temporal's pydantic payload converter, as the form and as the union ...
    payloads = CONVERTER.to_payloads([referral])
    assert CONVERTER.from_payloads(payloads, [model]) == [referral]
    assert CONVERTER.from_payloads(payloads, [cast("type", Referral)]) == [referral]
    # ... and intake, given it again, accepts the same referral.
    again = parse_referral(referral.model_dump(mode="json"), today=TODAY, calendar=CALENDAR)
    assert again == referral
