"""The two rulebooks of grounds for deletion, as data.

2006: The Education (Pupil Registration) (England) Regulations 2006, reg 8(1). 2024: The School
Attendance (Pupil Registration) (England) Regulations 2024 (SI 2024/208), reg 9(1).
"""

from __future__ import annotations

import re
from datetime import date

import pytest
from pydantic import ValidationError

from domain.grounds import (
    EVIDENCE_DESCRIPTIONS,
    NO_SPECIAL_SCHOOL_CONSENT,
    RULEBOOK_CITATIONS,
    RULEBOOK_TITLES,
    RULES_2024_FROM,
    Ground,
    GroundKey,
    Rulebook,
    UnknownGroundError,
    find_ground,
    ground_by_key,
    grounds,
    other_rulebook_code,
    other_rulebook_codes,
    rulebook_for,
)

R06 = Rulebook.REGS_2006
R24 = Rulebook.REGS_2024

# The spec's table, "Grounds for deletion: two rulebooks", row by row. The last row was
# (None, "9(1)(e)"): 2006 8(1)(a) also covers a revoked order ("that another school is substituted
# ... or the order is revoked"), so it is the 2006 code of 9(1)(e) too.
SPEC_TABLE: list[tuple[GroundKey, str | None, str | None]] = [
    (GroundKey.SAO_SUBSTITUTED, "8(1)(a)", "9(1)(d)"),
    (GroundKey.REGISTERED_ELSEWHERE, "8(1)(b)", "9(1)(a)"),
    (GroundKey.DUAL_REGISTERED_CONSENT, "8(1)(c)", "9(1)(c)"),
    (GroundKey.EHE, "8(1)(d)", "9(1)(f)"),
    (GroundKey.MOVED_AWAY, "8(1)(e)", "9(1)(g)"),
    (GroundKey.AFTER_LEAVE, "8(1)(f)", "9(1)(h)"),
    (GroundKey.MEDICALLY_UNFIT, "8(1)(g)", None),
    (GroundKey.CONTINUOUS_ABSENCE, "8(1)(h)", "9(1)(i)"),
    (GroundKey.CUSTODIAL, "8(1)(i)", "9(1)(j)"),
    (GroundKey.DIED, "8(1)(j)", "9(1)(k)"),
    (GroundKey.CEASED_COMPULSORY_AGE, "8(1)(k)", "9(1)(l)"),
    (GroundKey.CEASED_INDEPENDENT, "8(1)(l)", "9(1)(n)"),
    (GroundKey.PERMANENTLY_EXCLUDED, "8(1)(m)", "9(1)(o)"),
    (GroundKey.NURSERY_NOT_TRANSFERRING, "8(1)(n)", "9(1)(b)"),
    (GroundKey.BOARDER_UNPAID, "8(1)(o)", "9(1)(m)"),
    (GroundKey.SAO_REVOKED, "8(1)(a)", "9(1)(e)"),
]

VALID_2006 = ", ".join(f"8(1)({c})" for c in "abcdefghijklmno")
VALID_2024 = ", ".join(f"9(1)({c})" for c in "abcdefghijklmno")

ALL_GROUNDS = [*grounds(R06), *grounds(R24)]


def _id(g: Ground) -> str:
    return g.code


# -- rulebook_for ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("decision_date", "rulebook"),
    [
        (date(2006, 9, 1), R06),
        (date(2023, 9, 4), R06),
        (date(2024, 8, 18), R06),
        (date(2024, 8, 19), R24),
        (date(2024, 8, 20), R24),
        (date(2025, 11, 17), R24),
    ],
)
def test_rulebook_for_switches_on_19_aug_2024(decision_date: date, rulebook: Rulebook) -> None:
    assert rulebook_for(decision_date) is rulebook


def test_rules_2024_from_is_19_aug_2024() -> None:
    assert date(2024, 8, 19) == RULES_2024_FROM


def test_rulebook_values_and_citations() -> None:
    assert R06.value == "2006"
    assert R24.value == "2024"
    # The titles as made: SI 2006/1751 and SI 2024/208 (issue point 8: "School Attendance").
    assert RULEBOOK_TITLES[R06] == (
        "The Education (Pupil Registration) (England) Regulations 2006 (SI 2006/1751)"
    )
    assert RULEBOOK_TITLES[R24] == (
        "The School Attendance (Pupil Registration) (England) Regulations 2024 (SI 2024/208)"
    )
    assert RULEBOOK_CITATIONS[R06] == f"{RULEBOOK_TITLES[R06]}, reg 8(1)"
    assert RULEBOOK_CITATIONS[R24] == f"{RULEBOOK_TITLES[R24]}, reg 9(1)"


# -- the tables -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("rulebook", "reg"), [(R06, 8), (R24, 9)])
def test_each_rulebook_has_fifteen_grounds_a_to_o(rulebook: Rulebook, reg: int) -> None:
    book = grounds(rulebook)
    assert len(book) == 15
    assert [g.letter for g in book] == list("abcdefghijklmno")
    assert [g.code for g in book] == [f"{reg}(1)({c})" for c in "abcdefghijklmno"]
    assert all(g.rulebook is rulebook for g in book)
    assert len({g.key for g in book}) == 15


def test_each_rulebook_misses_exactly_one_meaning() -> None:
    # 2006 8(1)(a) covers two: substituted and revoked; the 2024 rules have no medical ground.
    assert {k for g in grounds(R06) for k in g.covers} == set(GroundKey)
    assert set(GroundKey) - {g.key for g in grounds(R06)} == {GroundKey.SAO_REVOKED}
    assert set(GroundKey) - {g.key for g in grounds(R24)} == {GroundKey.MEDICALLY_UNFIT}


def test_ground_keys_are_lower_snake() -> None:
    for key in GroundKey:
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", key.value), key
        assert key.value == key.name.lower()


@pytest.mark.parametrize("ground", ALL_GROUNDS, ids=_id)
def test_every_ground_is_described_in_plain_words(ground: Ground) -> None:
    assert ground.title and (ground.title[0].isupper() or ground.title[0].isdigit())
    assert ground.meaning and ground.meaning[0].isupper()
    assert ground.conditions
    assert all(c and c[0].islower() for c in ground.conditions)
    for key in ground.evidence:
        assert key in EVIDENCE_DESCRIPTIONS


@pytest.mark.parametrize("ground", ALL_GROUNDS, ids=_id)
def test_only_absence_and_ehe_grounds_have_no_evidence_keys(ground: Ground) -> None:
    special = {GroundKey.CONTINUOUS_ABSENCE, GroundKey.AFTER_LEAVE, GroundKey.EHE}
    if ground.key in special:
        assert ground.evidence == ()
    elif ground.code == "8(1)(a)":  # the order substituted or revoked: one of two
        assert ground.evidence == ()
        assert ground.evidence_any == ("sao_substitution", "sao_revocation")
    else:
        assert len(ground.evidence) >= 1


def test_every_evidence_description_is_used() -> None:
    used = {k for g in ALL_GROUNDS for k in g.evidence}
    assert used == set(EVIDENCE_DESCRIPTIONS)


def test_evidence_keys_named_in_the_brief() -> None:
    assert EVIDENCE_DESCRIPTIONS["registered_elsewhere"] == (
        "registration at the other school confirmed"
    )
    assert EVIDENCE_DESCRIPTIONS["new_address_beyond_reasonable_distance"] == (
        "new address beyond a reasonable distance"
    )


def test_2006_meanings_are_the_seed_words() -> None:
    g = find_ground("8(1)(b)")
    assert g.meaning == "Registered as a pupil at another school"
    assert find_ground("8(1)(j)").meaning == "Pupil has died"
    assert find_ground("8(1)(h)").title == "20 school days' continuous unauthorised absence"


def test_2024_continuous_absence_needs_g_n_o_codes_2006_does_not() -> None:
    c24 = find_ground("9(1)(i)").conditions
    c06 = find_ground("8(1)(h)").conditions
    assert "every session in those 20 school days was recorded with code G, N or O" in c24
    assert not any("G, N or O" in c for c in c06)
    assert len(c24) == len(c06) + 1


def test_ground_is_frozen() -> None:
    g = find_ground("9(1)(i)")
    with pytest.raises(ValidationError):
        g.code = "9(1)(a)"  # type: ignore[misc]


# -- the mapping between rulebooks ----------------------------------------------------------------


@pytest.mark.parametrize(("key", "code_2006", "code_2024"), SPEC_TABLE, ids=lambda v: str(v))
def test_spec_table_row(key: GroundKey, code_2006: str | None, code_2024: str | None) -> None:
    g06 = ground_by_key(key, R06)
    g24 = ground_by_key(key, R24)
    assert (g06.code if g06 else None) == code_2006
    assert (g24.code if g24 else None) == code_2024
    if g06 is not None:
        assert code_2024 is None or code_2024 in other_rulebook_codes(g06)
        assert key in find_ground(code_2006 or "").covers
    if g24 is not None:
        assert other_rulebook_code(g24) == code_2006
        assert find_ground(code_2024 or "").key is key


def test_spec_table_covers_every_ground() -> None:
    assert {k for k, _, _ in SPEC_TABLE} == set(GroundKey)
    assert {c for _, c, _ in SPEC_TABLE if c} == {g.code for g in grounds(R06)}
    assert {c for _, _, c in SPEC_TABLE if c} == {g.code for g in grounds(R24)}


def test_other_rulebook_code_named_examples() -> None:
    assert other_rulebook_code(find_ground("8(1)(h)")) == "9(1)(i)"
    assert other_rulebook_code(find_ground("9(1)(i)")) == "8(1)(h)"
    assert other_rulebook_code(find_ground("8(1)(g)")) is None
    assert other_rulebook_codes(find_ground("8(1)(g)")) == ()


def test_reg_8_1_a_maps_to_both_9_1_d_and_9_1_e() -> None:
    # 2006 8(1)(a): "that another school is substituted ... or the order is revoked"; 2024 splits
    # it into 9(1)(d) (substituted) and 9(1)(e) (revoked).
    g = find_ground("8(1)(a)")
    assert g.covers == (GroundKey.SAO_SUBSTITUTED, GroundKey.SAO_REVOKED)
    assert g.title == "School attendance order names another school or is revoked"
    assert other_rulebook_codes(g) == ("9(1)(d)", "9(1)(e)")
    assert other_rulebook_code(g) == "9(1)(d) or 9(1)(e)"
    assert other_rulebook_code(find_ground("9(1)(d)")) == "8(1)(a)"
    assert other_rulebook_code(find_ground("9(1)(e)")) == "8(1)(a)"
    assert ground_by_key(GroundKey.SAO_REVOKED, R06) == g


def test_special_school_consent_exceptions() -> None:
    # 2006 reg 8(2): "In a case not covered by paragraph (1)(a), (j) or (m)"; 2024 reg 9(4).
    assert {
        GroundKey.SAO_SUBSTITUTED,
        GroundKey.SAO_REVOKED,
        GroundKey.DIED,
        GroundKey.PERMANENTLY_EXCLUDED,
    } == NO_SPECIAL_SCHOOL_CONSENT
    exempt = {g.code for g in ALL_GROUNDS if not g.needs_special_school_consent}
    assert exempt == {"8(1)(a)", "8(1)(j)", "8(1)(m)", "9(1)(d)", "9(1)(e)", "9(1)(k)", "9(1)(o)"}


def test_exceptions_are_among_the_conditions() -> None:
    # 2024 9(1)(a)(i)-(ii), (c)(iii)-(iv), (f); the custodial ground's final order (2006 8(1)(i)).
    order = "no school attendance order naming the school is in force"
    mobile = "the pupil is not a mobile child whose main school this is"
    assert {order, mobile} <= set(find_ground("9(1)(a)").conditions)
    assert {order, mobile} <= set(find_ground("9(1)(c)").conditions)
    assert order in find_ground("9(1)(f)").conditions
    assert mobile not in find_ground("9(1)(f)").conditions
    assert order not in find_ground("8(1)(c)").conditions  # 2006 (c): regulation 9 only
    assert mobile in find_ground("8(1)(c)").conditions
    assert any("not a remand" in c for c in find_ground("9(1)(j)").conditions)


def test_titles_are_shared_across_rulebooks() -> None:
    for key, c06, c24 in SPEC_TABLE:
        if c06 and c24 and c06 != "8(1)(a)":  # 8(1)(a) is both 9(1)(d) and 9(1)(e)
            assert find_ground(c06).title == find_ground(c24).title, key
            assert find_ground(c06).evidence == find_ground(c24).evidence, key


# -- find_ground ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("8(1)(h)", "8(1)(h)"),
        ("9(1)(i)", "9(1)(i)"),
        ("reg 8(1)(h)", "8(1)(h)"),
        ("Reg 8(1)(h)", "8(1)(h)"),
        ("reg. 9(1)(i)", "9(1)(i)"),
        ("Regulation 9(1)(a)", "9(1)(a)"),
        ("regulation8(1)(o)", "8(1)(o)"),
        ("  8(1)(H)  ", "8(1)(h)"),
        ("8 (1) (h)", "8(1)(h)"),
        ("REG 9 ( 1 ) ( E )", "9(1)(e)"),
        ("\t9(1)(i)\n", "9(1)(i)"),
    ],
)
def test_find_ground_accepts_variants(text: str, code: str) -> None:
    assert find_ground(text).code == code


@pytest.mark.parametrize("ground", ALL_GROUNDS, ids=_id)
def test_find_ground_finds_every_ground_in_its_own_rulebook(ground: Ground) -> None:
    assert find_ground(ground.code) == ground
    assert find_ground(ground.code, ground.rulebook) == ground
    assert find_ground(f"reg {ground.code.upper()}", ground.rulebook) == ground


def test_find_ground_2006_code_under_2024_rules_names_the_code_to_use() -> None:
    with pytest.raises(UnknownGroundError) as err:
        find_ground("8(1)(h)", R24)
    assert str(err.value) == (
        "8(1)(h) is a ground of the 2006 regulations; on this date the 2024 regulations apply: "
        "use 9(1)(i)"
    )
    assert err.value.code == "8(1)(h)"
    assert err.value.rulebook is R24
    assert err.value.valid_codes == tuple(VALID_2024.split(", "))


def test_find_ground_2024_code_under_2006_rules_names_the_code_to_use() -> None:
    with pytest.raises(UnknownGroundError) as err:
        find_ground("reg 9(1)(a)", R06)
    assert str(err.value) == (
        "9(1)(a) is a ground of the 2024 regulations; on this date the 2006 regulations apply: "
        "use 8(1)(b)"
    )
    assert err.value.code == "reg 9(1)(a)"


@pytest.mark.parametrize(("key", "code_2006", "code_2024"), SPEC_TABLE, ids=lambda v: str(v))
def test_find_ground_wrong_rulebook_for_every_row(
    key: GroundKey, code_2006: str | None, code_2024: str | None
) -> None:
    for code, wrong in ((code_2006, R24), (code_2024, R06)):
        if code is None:
            continue
        with pytest.raises(UnknownGroundError) as err:
            find_ground(code, wrong)
        equivalent = code_2024 if wrong is R24 else code_2006
        if code == "8(1)(a)":  # two 2024 grounds, each named with its title
            assert f"{equivalent} (school attendance order" in str(err.value)
        elif equivalent is not None:
            assert str(err.value).endswith(f": use {equivalent}")
        else:
            assert "they have no such ground" in str(err.value)


def test_find_ground_medically_unfit_under_2024_rules_has_no_equivalent() -> None:
    with pytest.raises(UnknownGroundError) as err:
        find_ground("8(1)(g)", R24)
    assert str(err.value) == (
        "8(1)(g) (certified medically unfit to attend school) is a ground of the 2006 "
        "regulations; on this date the 2024 regulations apply: they have no such ground; "
        f"valid codes are {VALID_2024}"
    )


def test_find_ground_sao_grounds_across_the_switch() -> None:
    with pytest.raises(UnknownGroundError) as err:
        find_ground("9(1)(e)", R06)
    assert str(err.value) == (
        "9(1)(e) is a ground of the 2024 regulations; on this date the 2006 regulations apply: "
        "use 8(1)(a)"
    )
    with pytest.raises(UnknownGroundError) as err:
        find_ground("8(1)(a)", R24)
    assert str(err.value) == (
        "8(1)(a) is a ground of the 2006 regulations; on this date the 2024 regulations apply: "
        "use 9(1)(d) (school attendance order names another school) or 9(1)(e) (school "
        "attendance order revoked)"
    )


def test_find_ground_letter_past_o() -> None:
    with pytest.raises(UnknownGroundError) as err:
        find_ground("9(1)(p)")
    assert str(err.value) == (
        f"9(1)(p) is not a ground of the 2024 regulations: valid codes are {VALID_2024}"
    )
    with pytest.raises(UnknownGroundError) as err:
        find_ground("8(1)(hh)")
    assert str(err.value).startswith("8(1)(hh) is not a ground of the 2006 regulations: ")
    with pytest.raises(UnknownGroundError) as err:
        find_ground("reg 8(1)(z)", R06)
    assert str(err.value) == (
        f"8(1)(z) is not a ground of the 2006 regulations: valid codes are {VALID_2006}"
    )


@pytest.mark.parametrize("text", ["foo", "", "8(2)(a)", "10(1)(a)", "8(1)", "h"])
def test_find_ground_rejects_non_codes_listing_both_rulebooks(text: str) -> None:
    with pytest.raises(UnknownGroundError) as err:
        find_ground(text)
    assert str(err.value) == (
        f"{text!r} is not a ground for deletion: valid codes are {VALID_2006} "
        f"(the 2006 regulations); {VALID_2024} (the 2024 regulations)"
    )
    assert err.value.rulebook is None
    assert len(err.value.valid_codes) == 30


def test_find_ground_rejects_non_codes_listing_the_rulebook_given() -> None:
    with pytest.raises(UnknownGroundError) as err:
        find_ground("deleted", R24)
    assert str(err.value) == (
        f"'deleted' is not a ground for deletion under the 2024 regulations: valid codes are "
        f"{VALID_2024}"
    )
    with pytest.raises(UnknownGroundError) as err:
        find_ground("9(1)(p)", R06)
    assert str(err.value) == (
        f"'9(1)(p)' is not a ground for deletion under the 2006 regulations: valid codes are "
        f"{VALID_2006}"
    )


def test_unknown_ground_error_is_a_value_error() -> None:
    assert issubclass(UnknownGroundError, ValueError)


def test_ground_by_key_missing_meaning_is_none() -> None:
    assert ground_by_key(GroundKey.MEDICALLY_UNFIT, R24) is None
