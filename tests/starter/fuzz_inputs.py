"""What the fuzz test of the `cme` command (:mod:`tests.starter.test_fuzz`) types: referral files
and task command lines, as hypothesis strategies.

Referrals start from valid synthetic forms of all three kinds and their variants (a late school
referral with the school's enquiries, an absence after leave, a child-protection case, an EHE
return, a service child's return), each for one of :data:`SERIALS` synthetic children (so that
some referrals open a case and others reach a child's open case), and are mutated: with the
round-trip test's field mutations (:mod:`tests.domain.test_intake_roundtrip`: fields dropped,
blanked, given other values) and structural ones: a field dropped or blanked anywhere, written
twice (the same key twice in the JSON), given the wrong type or a number no Python int or float
holds, control characters (NUL included) and 1 MB strings in a text, deep nesting, dates from
1900 to 2200, other scripts' digits in an identifier, unknown fields (with hostile names), unknown
forms, documents that are not objects, files that are not JSON or not UTF-8, files that do not
exist. A third of the referrals have exactly one structural mutation and nothing else, so that
what it does is seen on its own.

Task commands are argument lists for every task command of the CLI, aimed at the cases of the
referrals sent (mostly at the first few, so that they go a long way; CTFs and deletions often at
the pupil migration returns' cases), with good values (so that cases move on) and hostile ones,
and mutated as lists (a token dropped, a junk token inserted, an option repeated, an unknown
option).

Argument values never hold NUL or surrogates other than U+DC80..U+DCFF, nor exceed
:data:`MAX_ARG`: a command line cannot carry NUL, Python turns the bytes of a non-UTF-8 argument
into exactly those surrogates, and Linux passes no longer argument. Referral files carry all of
them (JSON's ``\\u0000`` and ``\\ud800``; a 1 MB file).

Each referral is labelled with what was done to it and, where a mutation alone makes it invalid
whatever else it holds (a document that is not an object or names no form, NUL or an escape in a
text, an unknown field, a date outside 2000-2099, a text over 4000 characters, a nesting no form
has, a file over 1 MB, not UTF-8 or not JSON, a file that does not exist), with why it must be
refused: the test checks that the CLI refuses every such input.
"""

from __future__ import annotations

import copy
import json
import re
import string
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, TypeVar

from hypothesis import strategies as st
from stdnum.gb import upn as upn_mod

from domain.case.model import InvestigationOutcome
from domain.enquiries import EnquiryKind, EnquiryOutcome
from tests.domain.test_intake_roundtrip import BAD, CONTROL, FIELDS, GOOD, _parent, _values
from tests.starter.conftest import school_days_back
from tests.workflows.harness import (
    OTHER_SCHOOL,
    SCHOOL,
    TestCalendar,
    migration_return,
    professional_referral,
    school_referral,
)

# Synthetic children: a referral is for one of these, so that some referrals open a case and
# others reach a child's open case as further referrals.
SERIALS = 400

T = TypeVar("T")

Path_ = tuple[str | int, ...]
Draw = st.DrawFn

# -- the synthetic children's referrals ----------------------------------------------------------


def fuzz_upn(serial: int) -> str:
    """A UPN with a valid check letter, LA 851, establishment 9000-9999 (the harness's are
    2000-2999, so that no other test's child is ever one of these)."""
    body = f"851{9000 + serial // 1000 % 1000:04d}26{serial % 1000:03d}"
    return str(upn_mod.calc_check_digit(body)) + body


@dataclass(frozen=True)
class Base:
    """A valid referral (JSON data) and the round-trip test's field table for its form."""

    fields: str
    data: dict[str, Any]


def make_bases(today: date, calendar: TestCalendar) -> dict[str, Base]:
    """Valid referrals of every form, dated around ``today`` on the test's school calendar."""
    now = calendar.first_school_day_on_or_before(today)
    late = school_days_back(calendar, today, 15)
    enquiries = [
        {"by": "school", "kind": "phone_primary", "made_on": str(late), "outcome": "no_contact"},
        {"by": "school", "kind": "letter", "made_on": str(late), "outcome": "no_contact"},
    ]
    after_leave = school_referral(
        today=today, day1=now, after_leave_end=school_days_back(calendar, today, 6)
    ).model_dump(mode="json")
    del after_leave["first_day_of_absence"]  # worked out from the calendar
    bases = {
        "school_now": Base(
            "school_cme_referral", school_referral(today=today, day1=now).model_dump(mode="json")
        ),
        "school_late": Base(
            "school_cme_referral",
            school_referral(today=today, day1=late, enquiries=enquiries).model_dump(mode="json"),
        ),
        "school_cp": Base(
            "school_cme_referral",
            school_referral(
                today=today,
                day1=now,
                cp=True,
                safeguarding=True,
                enquiries=[{**enquiries[0], "made_on": str(now), "note": "rang twice"}],
            ).model_dump(mode="json"),
        ),
        "after_leave": Base("after_leave", after_leave),
        "return_school": Base(
            "pupil_migration_return",
            migration_return(today=today, leaving_date=today).model_dump(mode="json"),
        ),
        "return_cp": Base(
            "pupil_migration_return",
            migration_return(
                today=today, leaving_date=today - timedelta(days=3), cp=True
            ).model_dump(mode="json"),
        ),
        "return_ehe": Base(
            "ehe_return",
            migration_return(
                today=today,
                leaving_date=today,
                ground="9(1)(f)",
                destination={"kind": "unknown"},
                ehe_letter="EHE-2026-017",
            ).model_dump(mode="json"),
        ),
        "return_service": Base(
            "pupil_migration_return",
            migration_return(
                today=today,
                leaving_date=today,
                destination={"kind": "service_children", "service_school_number": "1234"},
            ).model_dump(mode="json"),
        ),
        "professional": Base(
            "professional_cme_referral", professional_referral(today=today).model_dump(mode="json")
        ),
        "professional_cp": Base(
            "professional_cme_referral",
            professional_referral(today=today, cp=True).model_dump(mode="json"),
        ),
    }
    return bases


def with_child(data: dict[str, Any], serial: int) -> dict[str, Any]:
    """``data`` for synthetic child ``serial`` (by UPN; a professional's, by name and birth)."""
    child = data.get("pupil") or data.get("child")
    assert isinstance(child, dict)
    child["first_name"] = "Fuzzchild"
    if "pupil" in data:
        child["last_name"] = f"Serial{serial}"
        child["upn"] = fuzz_upn(serial)
    else:
        child["last_name"] = f"Professional{serial}"
    return data


# -- building blocks -------------------------------------------------------------------------------

# Digits of other scripts: fullwidth, Arabic-Indic, Extended Arabic-Indic, Devanagari, Bengali,
# mathematical bold.
DIGIT_ZEROS = ["０", "٠", "۰", "०", "০", "𝟎"]
ARGV_SURROGATES = ["\udcff", "\udc80", "\udce9"]  # a non-UTF-8 byte in a command line
HOSTILE_BITS = [
    "\x1b[2J",
    "\x1b]0;pwned\x07",
    "\x07",
    "\x08",
    "\x7f",
    "\x85",
    "\u2028",
    "\u2029",
    "\u202e",
    "\ufeff",
    "\ufffe",
    "\ue000",
    "\r",
    "\n",
    "\r\n",
    "\t",
    "\x0b",
    "\x0c",
    "’",
    "Ǆ",
    "ß",
    "İ",
]
JUNK_TOKENS = [
    "",
    " ",
    "-",
    "--",
    "--json",
    "--by",
    "--as",
    "--bogus",
    "-x",
    "--request-id",
    "CME-000000000000",
    "x" * 5000,
]
# The longest argument Linux passes to a program (MAX_ARG_STRLEN, 32 pages, less the NUL).
MAX_ARG = 32 * 4096 - 1
# JSON text for values no Python value serialises to: numbers beyond float and int limits.
HUGE_NUMBERS = ["1" * 5000, "-" + "9" * 4301, "1e999999", "-1e999999", "1" + "0" * 400]


def non_ascii_digits(text: str, zero: str, every: bool) -> str:
    """``text`` with its ASCII digits (all, or the first) written in another script."""
    out, done = [], False
    for ch in text:
        if ch.isascii() and ch.isdigit() and (every or not done):
            out.append(chr(ord(zero) + int(ch)))
            done = True
        else:
            out.append(ch)
    return "".join(out)


def dates_1900_2200() -> st.SearchStrategy[str]:
    return st.one_of(
        st.dates(date(1900, 1, 1), date(2200, 12, 31)).map(str),
        st.sampled_from(
            [
                "1900-01-01",
                "1999-12-31",
                "2000-01-01",
                "2099-12-31",
                "2100-01-01",
                "2200-12-31",
                "0001-01-01",
                "9999-12-31",
                "2026-02-29",
                "2024-02-29",
                "2026-13-01",
                "2026-00-10",
                "2026-11-31",
                "20261127",
                "2026-W48-5",
                "2026-11-27T00:00:00",
                "2026-11-27T10:00:00Z",
                "2026-11-27 ",
                " 2026-11-27",
                "27/11/2026",
                "today",
                "yesterday",
            ]
        ),
    )


# Every date field of the forms (each a PlausibleDate: 2000 to 2099).
DATE_FIELDS = frozenset(
    {
        "date_of_birth",
        "referral_date",
        "leaving_date",
        "lives_with_from",
        "leave_end_date",
        "first_day_of_absence",
        "made_on",
        "date_received",
    }
)
# Fields that hold identifiers, codes or dates: ASCII digits, and no other script's (a field
# name, or the name of the list that holds them).
IDENTIFIERS = frozenset(
    {
        "upn",
        "school_laestab",
        "service_school_number",
        "siblings_schools",
        "phone",
        "phone_numbers",
        "contact_number",
        "postcode",
        *DATE_FIELDS,
    }
)
# Characters no field of a referral takes, whatever the field (a ground, an enum and a date
# refuse them too).
NEVER_IN_TEXT = frozenset(
    {
        "\x00",
        "\x1b[2J",
        "\x1b]0;pwned\x07",
        "\x07",
        "\x08",
        "\x7f",
        chr(0xD800),  # unpaired surrogates
        chr(0xDFFF),
        "\ue000",
        "\ufffe",
    }
)


def _outside_plausible(text: object) -> bool:
    try:
        day = date.fromisoformat(str(text).strip())
    except ValueError:
        return False
    return not date(2000, 1, 1) <= day <= date(2099, 12, 31)


# -- a referral file -------------------------------------------------------------------------------


@dataclass
class ReferralInput:
    """One `cme refer` input: the file's bytes, the command's options and its file name."""

    content: bytes
    options: list[str]
    file: str = "file"  # "file", or a name that does not exist, or "<dir>": a directory
    labels: list[str] = field(default_factory=list)
    must_refuse: list[str] = field(default_factory=list)  # why it must be refused, if it must


class _Raw:
    """JSON text to put as it is (too deep or too big for a Python value to serialise)."""

    def __init__(self, text: str) -> None:
        self.text = text


class _Twice(dict[str, Any]):
    """A JSON object with one of its keys written a second time (JSON keeps the last)."""

    extra: tuple[str, Any] = ("", None)


def _dump(value: Any, ascii_only: bool) -> str:
    if isinstance(value, _Raw):
        return value.text
    if isinstance(value, dict):
        pairs = list(value.items())
        if isinstance(value, _Twice):
            pairs.append(value.extra)
        return (
            "{"
            + ", ".join(
                json.dumps(k, ensure_ascii=ascii_only) + ": " + _dump(v, ascii_only)
                for k, v in pairs
            )
            + "}"
        )
    if isinstance(value, list):
        return "[" + ", ".join(_dump(v, ascii_only) for v in value) + "]"
    return json.dumps(value, ensure_ascii=ascii_only)


def _nodes(value: Any, prefix: Path_ = ()) -> list[Path_]:
    """The path of every field and list item in ``value``, parents before children."""
    found: list[Path_] = []
    items: list[tuple[str | int, Any]] = []
    if isinstance(value, dict) and not isinstance(value, _Twice):
        items = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    for key, child in items:
        found.append((*prefix, key))
        found.extend(_nodes(child, (*prefix, key)))
    return found


def _get(data: Any, path: Path_) -> Any:
    for key in path:
        data = data[key]
    return data


def _put(data: Any, path: Path_, value: Any) -> None:
    _get(data, path[:-1])[path[-1]] = value


def _strings(data: Any) -> list[Path_]:
    return [p for p in _nodes(data) if isinstance(_get(data, p), str)]


WRONG_TYPES: list[Any] = [
    0,
    1,
    -1,
    10**30,
    1.5,
    float("nan"),
    float("inf"),
    True,
    False,
    None,
    [],
    {},
    [[]],
    "",
    "0",
    {"a": 1},
    ["x"],
    1795910400,  # a Unix time at midnight: pydantic reads it as a date
]


class Refusals:
    """Why an input must be refused, by the place in the document that makes it so: a later
    mutation of that place (or of a field around it) takes its reason away."""

    DOCUMENT: Path_ = ("<document>",)
    FILE: Path_ = ("<file>",)

    def __init__(self) -> None:
        self.reasons: dict[Path_, str] = {}

    def replaced(self, path: Path_) -> None:
        """Whatever was at ``path`` (and under it) is gone."""
        for where in [w for w in self.reasons if w[: len(path)] == path]:
            del self.reasons[where]

    def add(self, path: Path_, reason: str) -> None:
        self.reasons[path] = reason

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(set(self.reasons.values())))


# The structural mutations, weighted: the round-trip mutations before them already drop and
# blank fields and give them other values.
OPS = [
    *["unknown_field"] * 3,
    *["digits"] * 3,
    *["control"] * 2,
    *["date"] * 2,
    *["wrong_type"] * 2,
    "drop",
    "blank",
    "twice",
    "huge_number",
    "big_string",
    "deep",
    "form",
    "not_object",
    "email",
    "postcode",
]
FORMS = ["pupil_migration_return", "school_cme_referral", "professional_cme_referral"]
FORM_VALUES: list[Any] = [
    "unknown",
    "School_CME_Referral",
    " school_cme_referral",
    "school_cme_referral\x00",
    "",
    None,
    ["school_cme_referral"],
    0,
    *FORMS,
    "__missing__",
]
UNKNOWN_KEYS = [
    "notes_extra",
    "Form",
    "pupil ",
    "",
    "__proto__",
    "x" * 300,
    *(f"field{bit}name" for bit in [*HOSTILE_BITS, "\x00"]),
]
POSTCODES = ["", "   ", "PO1 ２AB", "PO١ 2AB", *GOOD["postcode"]]
TEXT_BITS = ["\x00", "\x00", "\ud800", "\udfff", *HOSTILE_BITS, *CONTROL]
DATE_STRATEGY = dates_1900_2200()


def _where(path: Path_) -> str:
    return ".".join(map(str, path))


def _mutate(draw: Draw, data: Any, labels: list[str], refuse: Refusals) -> Any:
    """One structural mutation of ``data`` (the whole document, which may stop being one)."""
    op = pick(draw, OPS)
    if op == "not_object":
        labels.append("not an object")
        refuse.replaced(())
        refuse.add(Refusals.DOCUMENT, "not an object")
        nested = _Raw("[" * 21 + "]" * 21)
        return pick(draw, [[], [data], "school_cme_referral", 0, 1.5, None, True, "", nested])
    if not isinstance(data, dict):
        return data
    nodes = _nodes(data)
    if op == "form":
        value = copy.deepcopy(pick(draw, FORM_VALUES))  # a list, which later mutations change
        labels.append(f"form={value!r}")
        refuse.replaced(("form",))
        if value == "__missing__":
            data.pop("form", None)
        else:
            data["form"] = value
        if value not in FORMS:
            refuse.add(("form",), "no known form")
        return data
    if op == "unknown_field":
        where = pick(draw, [p for p in [(), *nodes] if isinstance(_get(data, p), dict)])
        key = pick(draw, UNKNOWN_KEYS)
        target = _get(data, where)
        if key not in target:
            target[key] = copy.deepcopy(pick(draw, ["x", 1, None, {"a": 1}]))
            labels.append(f"unknown field {_where((*where, key))!r}")
            refuse.add((*where, key), "unknown field")
        return data
    if op == "email":
        email = pick(draw, BAD["email"] + GOOD["email"])
        labels.append(f"emails {email!r}")
        for path in nodes:
            if path[-1] == "email":
                refuse.replaced(path)
                _put(data, path, email)
                if email in BAD["email"]:
                    refuse.add(path, "bad email")
        return data
    if op == "postcode":
        postcode = pick(draw, POSTCODES)
        labels.append(f"postcodes {postcode!r}")
        for path in nodes:
            if path[-1] == "postcode":
                refuse.replaced(path)
                _put(data, path, postcode)
        return data
    if op in ("control", "big_string", "digits"):
        nodes = _strings(data)
        if op == "digits":  # mostly in an identifier (or a date), where digits are digits
            nodes = [p for p in nodes if any(c in string.digits for c in _get(data, p))]
            kinds = sorted({k for p in nodes for k in IDENTIFIERS.intersection(map(str, p[-2:]))})
            if kinds and draw(ints(0, 4)) != 0:  # a kind of identifier, then one of that kind
                kind = pick(draw, kinds)
                nodes = [p for p in nodes if kind in p[-2:]]
    elif op == "date":
        nodes = [p for p in nodes if p[-1] in DATE_FIELDS]
    if not nodes:
        return data
    path = pick(draw, nodes)
    refuse.replaced(path)
    labels.append(f"{op} {_where(path)}")
    if op == "drop":
        parent = _get(data, path[:-1])
        if isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent.pop(path[-1])
            refuse.replaced(path[:-1])  # the items after it moved
    elif op == "blank":
        _put(data, path, pick(draw, ["", " ", "\t\n", None, [], {}]))
    elif op == "twice":
        where = path[:-1]
        parent = _get(data, where)
        if isinstance(parent, dict):
            twice = _Twice(parent)
            twice.extra = (str(path[-1]), copy.deepcopy(pick(draw, [*WRONG_TYPES, "x"])))
            if where:
                _put(data, where, twice)
            else:
                data = twice
    elif op == "wrong_type":
        _put(data, path, copy.deepcopy(pick(draw, WRONG_TYPES)))
    elif op == "huge_number":
        _put(data, path, _Raw(pick(draw, HUGE_NUMBERS)))
    elif op == "deep":
        depth = pick(draw, [5, 18, 19, 20, 21, 50, 1000, 100_000])
        opener, closer = pick(draw, [("[", "]"), ('{"a": ', "}")])
        _put(data, path, _Raw(opener * depth + "1" + closer * depth))
        refuse.add(path, "nested deeper than any form")
    elif op == "date":
        value = draw(DATE_STRATEGY)
        _put(data, path, value)
        labels[-1] = f"date {_where(path)}={value!r}"
        if _outside_plausible(value):
            refuse.add(path, "date outside 2000-2099")
    elif op == "control":
        current = _get(data, path)
        bit = pick(draw, TEXT_BITS)
        at = draw(ints(0, len(current)))
        _put(data, path, current[:at] + bit + current[at:])
        labels[-1] = f"control {bit!r} in {_where(path)}"
        if bit in NEVER_IN_TEXT:
            refuse.add(path, "control character in a text")
    elif op == "big_string":
        # A 1 MB file is refused unread; a text just under it is read and checked (slowly).
        size = pick(draw, [4001] * 40 + [100_000, 990_000, 1_000_001, 1_000_001])
        _put(data, path, "x" * size)
        labels[-1] = f"{size} characters in {_where(path)}"
        refuse.add(path, "text over 4000 characters")
    elif op == "digits":
        value = non_ascii_digits(_get(data, path), pick(draw, DIGIT_ZEROS), draw(BOOLEANS))
        _put(data, path, value)
        labels[-1] = f"digits {value!r} in {_where(path)}"
    return data


DAMAGE = ["none"] * 24 + ["latin1", "bom", "truncate", "trailing", "empty", "nul"]


def _serialise(
    draw: Draw, data: Any, labels: list[str], refuse: Refusals, *, damaged: bool = True
) -> bytes:
    ascii_only = draw(BOOLEANS)
    try:
        content = _dump(data, ascii_only).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: only JSON's \u escape can carry it
        content = _dump(data, True).encode("utf-8")
    damage = pick(draw, DAMAGE) if damaged else "none"
    if damage != "none":
        labels.append(f"file {damage}")
    if damage == "latin1":
        content = content + b' "caf\xe9"'
        refuse.add(Refusals.FILE, "not UTF-8")
    elif damage == "bom":
        content = b"\xef\xbb\xbf" + content
        refuse.add(Refusals.FILE, "not JSON (a byte order mark)")
    elif damage == "truncate" and len(content) > 2:
        content = content[: draw(ints(0, len(content) - 1))]
        refuse.add(Refusals.FILE, "not JSON")
    elif damage == "trailing":
        content = content + b" }"
        refuse.add(Refusals.FILE, "not JSON")
    elif damage == "empty":
        content = pick(draw, [b"", b"   \n", b"\x00"])
        refuse.add(Refusals.FILE, "not JSON")
    elif damage == "nul":
        content = content + b"\x00"
        refuse.add(Refusals.FILE, "not JSON")
    if len(content) > 1_000_000:
        refuse.add(Refusals.FILE, "file over 1 MB")
    return content


FILES = ["file"] * 60 + ["<dir>", "missing.json", "no\nsuch\x1b[2J.json"]


@st.composite
def referral_inputs(draw: Draw, bases: dict[str, Base]) -> ReferralInput:
    name = pick(draw, sorted(bases))
    base = bases[name]
    serial = draw(ints(0, SERIALS - 1))
    data: Any = with_child(copy.deepcopy(base.data), serial)
    labels, refuse = [f"{name} #{serial}"], Refusals()
    # A third of the inputs have exactly one structural mutation, so that what it does is seen
    # alone; the others mix the round-trip test's mutations of the form's fields (drop, blank,
    # other values), structural ones, damage to the file and the command's options.
    single = draw(ints(0, 2)) == 0
    for _ in range(0 if single else draw(ints(0, 3))):
        path, kind = pick(draw, FIELDS[base.fields])
        parent = _parent(data, path)
        if parent is None:
            continue
        last = path[-1]
        if draw(ints(0, 4)) == 0:
            labels.append(f"drop {_where(path)}")
            if isinstance(parent, dict):
                parent.pop(last, None)
            else:
                del parent[last]
        else:
            current = parent.get(last) if isinstance(parent, dict) else parent[last]
            # a copy: the strategies hand out the same list or dict every time
            value = copy.deepcopy(draw(field_values(kind, current)))
            parent[last] = value
            labels.append(f"{_where(path)}={str(value)[:40]!r}")
    for _ in range(1 if single else pick(draw, [0, 1, 1, 2])):
        data = _mutate(draw, data, labels, refuse)
    content = _serialise(draw, data, labels, refuse, damaged=not single)
    options: list[str] = []
    if single:
        pass
    elif draw(ints(0, 5)) == 0:
        options += ["--by", draw(arg_texts(NAMES))]
    if draw(ints(0, 7)) == 0:
        options += ["--as", pick(draw, ["school", "professional", "cme_officer", ""])]
    if draw(ints(0, 9)) == 0:
        options += ["--request-id", draw(REQUEST_IDS)]
    if draw(ints(0, 3)) == 0:
        options.append("--json")
    file = "file" if single else pick(draw, FILES)
    if file != "file":
        refuse.add(Refusals.FILE, "not a file that can be read")
    return ReferralInput(
        content=content, options=options, file=file, labels=labels, must_refuse=list(refuse)
    )


_FIELD_VALUES: dict[tuple[str, str | None], st.SearchStrategy[Any]] = {}


def field_values(kind: str, current: Any) -> st.SearchStrategy[Any]:
    """The round-trip test's values for a field (:func:`~tests.domain.test_intake_roundtrip.
    _values`), each strategy built once."""
    key = (kind, current if isinstance(current, str) else None)
    if key not in _FIELD_VALUES:
        _FIELD_VALUES[key] = _values(kind, current)
    return _FIELD_VALUES[key]


def pick(draw: Draw, items: Sequence[T]) -> T:
    """One of ``items`` (``st.sampled_from`` of a list built on the spot is slow to draw from)."""
    return items[draw(ints(0, len(items) - 1))]


_INTS: dict[tuple[int, int], st.SearchStrategy[int]] = {}
BOOLEANS = st.booleans()


def ints(low: int, high: int) -> st.SearchStrategy[int]:
    """``st.integers(low, high)``, built once (hypothesis's own cache is slower to look up)."""
    strategy = _INTS.get((low, high))
    if strategy is None:
        strategy = _INTS[(low, high)] = st.integers(low, high)
    return strategy


# -- task commands ---------------------------------------------------------------------------------

NAMES = [
    "Ms Attendance",
    "A Officer",
    "Lead Y",
    "Zoë O'Brien-Ñúñez",
    "محمد",
    "  Jacob   Samplefield  ",
]
NOTES = ["", "left a message", "Line one\nline two", "  spaced  "]
ROLES = ["school", "cme_officer", "team_leader"]
COMMANDS = [
    "enquiry",
    "contact",
    "concern",
    "share",
    "mash-call",
    "ctf",
    "conclude",
    "authorise",
    "withdraw",
    "reassign",
    "retry",
]
BAD_CASES = [
    "CME-000000000000",
    "CME-FFFFFFFFFFFF",
    "CME-",
    "",
    "CME-ZZZZZZZZZZZZ",
    "CME-٠٠٠٠٠٠٠٠٠٠٠٠",
    "CME-０００００００００００００",
    "CME-\x1b[2J",
    "cme-7f3a9c21d0b4\n",
]
CTF_CODES = [
    OTHER_SCHOOL,
    "XXXXXXX",
    "XXXXXXXX",
    "MMMMMMM",
    "7021234",
    "702LLLL",
    "851LLLL",
    SCHOOL,
    "851 2001",
    " 8512001 ",
    "xxxxxxx",
    "85120011",
    "",
    "٨٥١٢٠٠١",
    "８５１２００１",
    "702١٢٣٤",
    "85\x1b[2J",
]
GROUNDS = [
    "9(1)(a)",
    "9(1)(f)",
    "9(1)(i)",
    "reg 9(1)(i)",
    "Regulation 9 (1) (I)",
    "8(1)(h)",
    "9(1)(z)",
    "9(2)(a)",
    "٩(١)(a)",
    "",
    "x" * 41,
    "9(1)(a)\n",
]
ATTENDANCE = ["N", "O", "G", "/", "C1", "n", "ZZ", "", "ǆ", "١", "\x1b"]
SESSIONS = ["", ":am", ":pm", ":noon"]
KINDS = [k.value for k in EnquiryKind] + ["email", ""]
OUTCOMES = [o.value for o in EnquiryOutcome] + ["maybe"]
CONCLUSIONS = [o.value for o in InvestigationOutcome] + ["lost", ""]
NEW_SCHOOLS = [OTHER_SCHOOL, SCHOOL, "851 2001", "８５１２００１", "85"]
AS_ROLES = [*ROLES, "professional", "service", "", "SCHOOL"]
ARGV_JUNK = JUNK_TOKENS + HOSTILE_BITS + ARGV_SURROGATES
UNKNOWN_OPTIONS = ["--bogus", "--by-la=1", "--jso", "-q", "extra"]


# What a command line cannot carry: NUL, and surrogates other than those of undecodable bytes.
_NOT_IN_ARGV = re.compile("[\x00\ud800-\udc7f\udd00-\udfff]")


def _argv_safe(text: str) -> str:
    """``text`` as a command line can carry it: no NUL, and only the surrogates of undecodable
    bytes (U+DC80..U+DCFF)."""
    return _NOT_IN_ARGV.sub(lambda m: "" if m.group() == "\x00" else "\udcff", text)


def _insert(value: str, bit: str, at: int) -> str:
    return value[:at] + bit + value[at:]


_ARG_TEXTS: dict[tuple[str, ...], st.SearchStrategy[str]] = {}


def arg_texts(good: list[str]) -> st.SearchStrategy[str]:
    """An argument value: mostly a good one, often a hostile one (each strategy built once)."""
    key = tuple(good)
    if key not in _ARG_TEXTS:
        hostile = st.one_of(
            st.text(max_size=20),
            st.sampled_from(HOSTILE_BITS + ARGV_SURROGATES + JUNK_TOKENS),
            st.builds(
                _insert,
                st.sampled_from(good),
                st.sampled_from(HOSTILE_BITS + ARGV_SURROGATES),
                st.integers(0, 6),
            ),
            st.sampled_from([99, 100, 101, 200, 201, 4000, 4001] * 12 + [MAX_ARG]).map(
                lambda n: "x" * n
            ),
        )
        _ARG_TEXTS[key] = st.one_of(st.sampled_from(good), st.sampled_from(good), hostile).map(
            _argv_safe
        )
    return _ARG_TEXTS[key]


def arg_dates(today: date) -> st.SearchStrategy[str]:
    return st.one_of(
        st.integers(-40, 0).map(lambda d: str(today + timedelta(days=d))),
        st.just("today"),
        st.integers(1, 400).map(lambda d: str(today + timedelta(days=d))),
        DATE_STRATEGY,
        st.builds(
            non_ascii_digits, st.just(str(today)), st.sampled_from(DIGIT_ZEROS), st.booleans()
        ),
    ).map(_argv_safe)


REQUEST_IDS = st.one_of(
    st.sampled_from(["fuzz-request-0001", "fuzz-request-0002", "fuzz.request:3"]),
    st.sampled_from(["short", "has space here", "x" * 101, "ünïcode-id", "", "fuzz-\x1b[2J-id"]),
    st.text(string.ascii_letters + string.digits + "._:-", min_size=8, max_size=12),
).map(_argv_safe)


@dataclass
class TaskInput:
    """One task command line, and the case it is aimed at (``None``: a hostile reference)."""

    argv: list[str]
    case: str | None
    labels: list[str] = field(default_factory=list)


def task_inputs(
    cases: list[str], today: date, returns: Sequence[str] = ()
) -> st.SearchStrategy[TaskInput]:
    """Task commands aimed at one of ``cases`` (mostly at the first few, so that they go a long
    way; a CTF or a deletion often at one of ``returns``, the cases of pupil migration returns,
    which await them), or at a reference that is bad or names no case."""
    dates = arg_dates(today)
    codes = st.builds(
        lambda day, session, code: _argv_safe(f"{day}{session}={code}"),
        dates,
        st.sampled_from(SESSIONS),
        st.sampled_from(ATTENDANCE),
    )
    names, notes = arg_texts(NAMES), arg_texts(NOTES)
    texts = arg_texts(["Neighbour says the family left", "duplicate referral", "x"])
    references, others = arg_texts(["M-123", "MASH-2026-0042"]), arg_texts(["Hampshire"])
    letters, ctf_texts, ground_texts = (
        arg_texts(["EHE-2026-017"]),
        arg_texts([OTHER_SCHOOL]),
        arg_texts(["9(1)(a)"]),
    )
    emails = [_argv_safe(e) for e in GOOD["email"] + BAD["email"]]
    duplicates = [*cases[:5], "CME-000000000000", "CME-1"]

    @st.composite
    def task(draw: Draw) -> TaskInput:
        command = pick(draw, COMMANDS)
        labels = [command]
        case: str | None = None
        aim = draw(ints(0, 9))
        if returns and command in ("ctf", "authorise") and aim < 5:
            case = pick(draw, returns)
        elif cases and aim < 6:
            case = cases[draw(ints(0, min(len(cases), 40) - 1))]
        elif cases and aim < 9:
            case = cases[draw(ints(0, len(cases) - 1))]
        if case is not None:
            shown = pick(draw, [case] * 6 + [case.lower(), f" {case} ", case + "0"])
        else:
            shown = pick(draw, BAD_CASES)
            labels.append(f"case {shown!r}")
        argv = [command, shown]

        def option(name: str, values: st.SearchStrategy[str] | list[str], odds: int = 2) -> None:
            """``name VALUE`` unless a draw of 0 in 0..odds."""
            if draw(ints(0, odds)) != 0:
                value = pick(draw, values) if isinstance(values, list) else draw(values)
                argv.extend([name, value])

        def flag(name: str, odds: int = 3) -> None:
            """``name`` on a draw of 0 in 0..odds."""
            if draw(ints(0, odds)) == 0:
                argv.append(name)

        match command:
            case "enquiry":
                option("--kind", KINDS, 9)
                option("--outcome", OUTCOMES, 9)
                option("--on", dates)
                option("--note", notes)
                flag("--by-la", 1)
            case "contact":
                option("--on", dates)
                flag("--not-returned", 2)
                option("--note", notes)
            case "concern":
                argv.append(draw(texts))
                flag("--cp-plan")
            case "share":
                argv.append(draw(texts))
                for _ in range(draw(ints(0, 3))):
                    argv.extend(["--code", draw(codes)])
            case "withdraw":
                argv.append(draw(texts))
                option("--duplicate-of", duplicates, 3)
            case "mash-call":
                option("--on", dates)
                option("--reference", references)
                option("--advice", notes)
            case "ctf":
                argv.append(
                    _argv_safe(pick(draw, CTF_CODES)) if draw(BOOLEANS) else draw(ctf_texts)
                )
                option("--sent-on", dates)
            case "conclude":
                argv.append(pick(draw, CONCLUSIONS))
                option("--new-school", NEW_SCHOOLS, 3)
                option("--other-la", others, 3)
                option("--other-la-email", emails, 3)
                option("--ehe-letter", letters, 3)
                option("--ehe-letter-received", dates, 3)
                option("--note", notes, 3)
            case "authorise":
                argv.append(
                    _argv_safe(pick(draw, GROUNDS)) if draw(BOOLEANS) else draw(ground_texts)
                )
                option("--decision-date", dates, 3)
            case "reassign":
                argv.append(draw(names))
        if draw(ints(0, 12)) != 0:
            argv.extend(["--by", draw(names)])
        option("--as", AS_ROLES, 3)
        if draw(ints(0, 9)) == 0:
            argv.extend(["--request-id", draw(REQUEST_IDS)])
        flag("--json", 4)
        # Mutations of the command line itself.
        for _ in range(pick(draw, [0, 0, 0, 0, 1, 1, 2])):
            how = pick(draw, ["drop", "insert", "repeat", "unknown"])
            if how == "drop" and len(argv) > 1:
                at = draw(ints(1, len(argv) - 1))
                labels.append(f"drop {argv[at][:20]!r}")
                del argv[at]
            elif how == "insert":
                at = draw(ints(1, len(argv)))
                token = _argv_safe(pick(draw, ARGV_JUNK))
                labels.append(f"insert {token[:20]!r}")
                argv.insert(at, token)
            elif how == "repeat" and "--by" in argv:
                argv.extend(["--by", draw(names)])
                labels.append("--by twice")
            elif how == "unknown":
                argv.append(pick(draw, UNKNOWN_OPTIONS))
                labels.append(f"unknown {argv[-1]!r}")
        return TaskInput(argv=argv, case=case, labels=labels)

    return task()
