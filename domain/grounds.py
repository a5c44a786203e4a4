"""The grounds for deleting a pupil from the admission register, as data: two rulebooks.

A pupil of compulsory school age may be deleted from a school's admission register only on one of
the prescribed grounds (seed 2.6). Two sets of regulations prescribe them:

* :attr:`Rulebook.REGS_2006`: The Education (Pupil Registration) (England) Regulations 2006
  (SI 2006/1751), reg 8(1), grounds (a) to (o), the ones the Portsmouth guidance (2017) quotes;
* :attr:`Rulebook.REGS_2024`: The School Attendance (Pupil Registration) (England) Regulations 2024
  (SI 2024/208), reg 9(1), grounds (a) to (o), in force from 19 Aug 2024 (:data:`RULES_2024_FROM`).

Both have fifteen grounds but in a different order. 2006 (g) "certified medically unfit" has no
2024 counterpart. 2006 (a) covers an attendance order *substituted or revoked* (reg 8(1)(a): "that
another school is substituted ... or the order is revoked"), which 2024 splits into 9(1)(d)
(substituted) and 9(1)(e) (revoked): :attr:`Ground.covers` lists every meaning a ground has.
:class:`GroundKey` names the meaning both rulebooks share, so a case can be replayed under the
rules in force on its decision date.

The evidence keys each documentary ground needs are defined here (they are part of a ground's
data) and re-exported by :mod:`domain.deletion`, which checks them against a case's facts. So are
the grounds on which a child placed at a special school by the LA needs no LA consent
(:data:`NO_SPECIAL_SCHOOL_CONSENT`). ``docs/law.md`` sets out every rule with its citation.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum

from pydantic import BaseModel


class Rulebook(StrEnum):
    REGS_2006 = "2006"  # The Education (Pupil Registration) (England) Regulations 2006, reg 8(1)
    REGS_2024 = "2024"  # The School Attendance (Pupil Registration) (England) Regs 2024, reg 9(1)


# SI 2024/208 comes into force on 19 Aug 2024 and revokes SI 2006/1751. The rulebook of a
# deletion is the one in force on the day the name is deleted (:func:`rulebook_for`), whenever the
# pupil left.
RULES_2024_FROM: date = date(2024, 8, 19)

RULEBOOK_TITLES: dict[Rulebook, str] = {
    Rulebook.REGS_2006: (
        "The Education (Pupil Registration) (England) Regulations 2006 (SI 2006/1751)"
    ),
    Rulebook.REGS_2024: (
        "The School Attendance (Pupil Registration) (England) Regulations 2024 (SI 2024/208)"
    ),
}

RULEBOOK_CITATIONS: dict[Rulebook, str] = {
    Rulebook.REGS_2006: f"{RULEBOOK_TITLES[Rulebook.REGS_2006]}, reg 8(1)",
    Rulebook.REGS_2024: f"{RULEBOOK_TITLES[Rulebook.REGS_2024]}, reg 9(1)",
}

_REGULATION: dict[Rulebook, int] = {Rulebook.REGS_2006: 8, Rulebook.REGS_2024: 9}


class GroundKey(StrEnum):
    """What a ground means, whichever rulebook numbers it."""

    SAO_SUBSTITUTED = "sao_substituted"
    REGISTERED_ELSEWHERE = "registered_elsewhere"
    DUAL_REGISTERED_CONSENT = "dual_registered_consent"
    EHE = "ehe"
    MOVED_AWAY = "moved_away"
    AFTER_LEAVE = "after_leave"
    MEDICALLY_UNFIT = "medically_unfit"
    CONTINUOUS_ABSENCE = "continuous_absence"
    CUSTODIAL = "custodial"
    DIED = "died"
    CEASED_COMPULSORY_AGE = "ceased_compulsory_age"
    CEASED_INDEPENDENT = "ceased_independent"
    PERMANENTLY_EXCLUDED = "permanently_excluded"
    NURSERY_NOT_TRANSFERRING = "nursery_not_transferring"
    BOARDER_UNPAID = "boarder_unpaid"
    SAO_REVOKED = "sao_revoked"


# -- evidence keys: what a documentary ground needs on file before deletion -----------------------

SAO_SUBSTITUTION = "sao_substitution"
REGISTERED_ELSEWHERE_CONFIRMED = "registered_elsewhere"
OTHER_SCHOOL_CONSENT = "other_school_consent"
MOVED_AWAY = "new_address_beyond_reasonable_distance"
MEDICAL_CERTIFICATE = "medical_certificate"
CUSTODIAL_SENTENCE = "custodial_sentence"
DEATH_NOTIFIED = "death_notified"
CEASES_COMPULSORY_AGE = "ceases_compulsory_age"
CEASED_TO_BE_PUPIL = "ceased_to_be_pupil"
PERMANENT_EXCLUSION = "permanent_exclusion"
NURSERY_NOT_TRANSFERRING = "nursery_not_transferring"
FEES_UNPAID = "fees_unpaid"
SAO_REVOCATION = "sao_revocation"

EVIDENCE_DESCRIPTIONS: dict[str, str] = {
    SAO_SUBSTITUTION: "school attendance order amended by the LA to name another school",
    REGISTERED_ELSEWHERE_CONFIRMED: "registration at the other school confirmed",
    OTHER_SCHOOL_CONSENT: "consent to the deletion from every other school the pupil is on roll at",
    MOVED_AWAY: "new address beyond a reasonable distance",
    MEDICAL_CERTIFICATE: (
        "medical certificate that the pupil is unlikely to be fit to attend school"
    ),
    CUSTODIAL_SENTENCE: (
        "final court order or order of recall detaining the pupil for at least 4 months "
        "(a remand does not count)"
    ),
    DEATH_NOTIFIED: "notification of the pupil's death",
    CEASES_COMPULSORY_AGE: (
        "confirmation the pupil will not continue at the school: the parent has said so, or the "
        "pupil does not meet the sixth form's academic entry requirements"
    ),
    CEASED_TO_BE_PUPIL: "confirmation the pupil has ceased to be a pupil of the school",
    PERMANENT_EXCLUSION: "permanent exclusion confirmed, with no review or appeal pending",
    NURSERY_NOT_TRANSFERRING: "confirmation the nursery pupil is not moving up to reception",
    FEES_UNPAID: "boarding charges unpaid at the end of the term they are for",
    SAO_REVOCATION: "school attendance order revoked by the LA",
}


class Ground(BaseModel, frozen=True):
    """One ground for deletion of one rulebook.

    ``key`` is the ground's main meaning; ``covers`` every meaning it has (``key`` first): only
    2006 8(1)(a) has two, an attendance order substituted or revoked. ``evidence`` lists the
    evidence keys all needed on file; ``evidence_any`` keys of which one is enough.
    """

    rulebook: Rulebook
    code: str  # "8(1)(h)" or "9(1)(i)"
    letter: str  # "h"
    key: GroundKey
    title: str
    meaning: str
    conditions: tuple[str, ...]
    evidence: tuple[str, ...]
    covers: tuple[GroundKey, ...] = ()
    evidence_any: tuple[str, ...] = ()

    @property
    def needs_special_school_consent(self) -> bool:
        """Whether a child placed at a special school by the LA needs its consent to go on this
        ground (2006 reg 8(2); 2024 reg 9(4)): every ground but an attendance order, death and
        permanent exclusion."""
        return not set(self.covers or (self.key,)) <= NO_SPECIAL_SCHOOL_CONSENT


class UnknownGroundError(ValueError):
    """A ground code that is not a ground, or not one of the rulebook in force."""

    def __init__(self, message: str, code: str, rulebook: Rulebook | None) -> None:
        super().__init__(message)
        self.code = code
        self.rulebook = rulebook
        books = [rulebook] if rulebook is not None else list(Rulebook)
        self.valid_codes: tuple[str, ...] = tuple(g.code for rb in books for g in grounds(rb))


# -- LA consent for a child placed at a special school by the LA ----------------------------------

# 2006 reg 8(2): "In a case not covered by paragraph (1)(a), (j) or (m), the name of a child who has
# under arrangements made by a local education authority become a registered pupil at a special
# school shall not be removed from the admission register of that school without the consent of
# that authority, or if that authority refuse to give consent, without a direction of the
# Secretary of State." The 2024 regulations keep the rule (reg 9(4)) with the same exceptions: an
# attendance order substituted or revoked (9(1)(d), (e)), death (9(1)(k)), permanent exclusion
# (9(1)(o)).
NO_SPECIAL_SCHOOL_CONSENT: frozenset[GroundKey] = frozenset(
    {
        GroundKey.SAO_SUBSTITUTED,
        GroundKey.SAO_REVOKED,
        GroundKey.DIED,
        GroundKey.PERMANENTLY_EXCLUDED,
    }
)

# -- the two tables -------------------------------------------------------------------------------

_ENQUIRIES_FAILED = (
    "the school and the local authority have failed, after jointly making reasonable enquiries, "
    "to find out where the pupil is"
)
_NOT_SICK = (
    "the school has no reasonable grounds to believe the pupil cannot attend because of sickness "
    "or any unavoidable cause"
)

_NO_SAO = "no school attendance order naming the school is in force"
_NOT_MOBILE_MAIN = "the pupil is not a mobile child whose main school this is"

_TITLES: dict[GroundKey, str] = {
    GroundKey.SAO_SUBSTITUTED: "School attendance order names another school",
    GroundKey.REGISTERED_ELSEWHERE: "Registered at another school",
    GroundKey.DUAL_REGISTERED_CONSENT: "Dual registered, the other school consents",
    GroundKey.EHE: "Parent's written notice of education otherwise than at school (EHE)",
    GroundKey.MOVED_AWAY: "No longer lives within reasonable distance of the school",
    GroundKey.AFTER_LEAVE: "Not back within 10 school days after leave ended",
    GroundKey.MEDICALLY_UNFIT: "Certified medically unfit to attend school",
    GroundKey.CONTINUOUS_ABSENCE: "20 school days' continuous unauthorised absence",
    GroundKey.CUSTODIAL: "Detained under a final court order or order of recall for 4 months+",
    GroundKey.DIED: "Pupil has died",
    GroundKey.CEASED_COMPULSORY_AGE: "Ceases to be of compulsory school age, not continuing",
    GroundKey.CEASED_INDEPENDENT: "Ceased to be a pupil of an independent or non-maintained school",
    GroundKey.PERMANENTLY_EXCLUDED: "Permanently excluded",
    GroundKey.NURSERY_NOT_TRANSFERRING: "Nursery pupil not moving up to reception",
    GroundKey.BOARDER_UNPAID: "Boarder whose fees are unpaid",
    GroundKey.SAO_REVOKED: "School attendance order revoked",
}
# 2006 8(1)(a) is one ground for both: "another school is substituted ... or the order is revoked".
_TITLE_SAO_2006 = "School attendance order names another school or is revoked"

_SHARED_CONDITIONS: dict[GroundKey, tuple[str, ...]] = {
    # 2024 9(1)(d)
    GroundKey.SAO_SUBSTITUTED: (
        "the pupil is registered at the school because a school attendance order names it",
        "the local authority has substituted another school on the order",
    ),
    # 2006 8(1)(b): "except where it has been agreed ... more than one school, in a case not falling
    # within sub-paragraph (a) or regulation 9 [no fixed abode]"; 2024 9(1)(a)(i)-(iii)
    GroundKey.REGISTERED_ELSEWHERE: (
        "the pupil has been registered as a pupil at another school",
        "the school has not agreed that the pupil is registered at more than one school",
        _NO_SAO,
        _NOT_MOBILE_MAIN,
    ),
    # 2024 9(1)(c)(i)-(iv); 2006 8(1)(c) (see _CONDITIONS_2006)
    GroundKey.DUAL_REGISTERED_CONSENT: (
        "the pupil is registered at more than one school",
        "the pupil has ceased to attend this school",
        "every other school the pupil is registered at has consented to the deletion",
        _NO_SAO,
        _NOT_MOBILE_MAIN,
    ),
    # 2006 8(1)(d) "in a case not falling within sub-paragraph (a)"; 2024 9(1)(f)
    GroundKey.EHE: (
        "the pupil has ceased to attend the school",
        "the parent has told the school in writing that the pupil is receiving education "
        "otherwise than at school",
        _NO_SAO,
    ),
    # 2006 8(1)(e); 2024 9(1)(g)
    GroundKey.MOVED_AWAY: (
        "the pupil is not a boarder",
        "the pupil has ceased to attend the school",
        "the pupil no longer ordinarily lives within reasonable distance of the school",
    ),
    # 2006 8(1)(f)(i)-(iii); 2024 9(1)(h). Neither prescribes the register codes of the 10 days.
    GroundKey.AFTER_LEAVE: (
        "the pupil was granted leave of absence",
        "the pupil has not attended within the 10 school days after the leave ended",
        _NOT_SICK,
        _ENQUIRIES_FAILED,
    ),
    # 2006 8(1)(g) (no 2024 counterpart)
    GroundKey.MEDICALLY_UNFIT: (
        "the pupil has been certified medically as unlikely to be fit to attend school before "
        "ceasing to be of compulsory school age",
        "neither the pupil nor the parent has said the pupil will go on attending after that age",
    ),
    # 2006 8(1)(i): "detained in pursuance of a final order made by a court or of an order of
    # recall made by a court or the Secretary of State, that order being for a period of not less
    # than four months"; 2024 9(1)(j) (a remand in custody is neither)
    GroundKey.CUSTODIAL: (
        "the pupil is detained under a final court order or an order of recall, not a remand",
        "the order is for at least 4 months",
        "the school has no reasonable grounds to believe the pupil will return at the end of it",
    ),
    # 2006 8(1)(j); 2024 9(1)(k)
    GroundKey.DIED: ("the pupil has died",),
    # 2006 8(1)(k) (as amended 2013); 2024 9(1)(l). Compulsory school age: Education Act 1996 s.8.
    GroundKey.CEASED_COMPULSORY_AGE: (
        "the pupil will cease to be of compulsory school age before the school next meets",
        "the parent has said the pupil will stop attending, or the pupil does not meet the "
        "academic requirements for the school's sixth form",
    ),
    # 2006 8(1)(l); 2024 9(1)(n)
    GroundKey.CEASED_INDEPENDENT: (
        "the school is not a maintained school, an Academy or a city technology college",
        "the pupil has ceased to be a pupil of the school",
    ),
    # 2006 8(1)(m); 2024 9(1)(o)
    GroundKey.PERMANENTLY_EXCLUDED: (
        "the pupil has been permanently excluded from the school",
        "no review or appeal of the exclusion is pending",
    ),
    # 2006 8(1)(n); 2024 9(1)(b)
    GroundKey.NURSERY_NOT_TRANSFERRING: (
        "the pupil was admitted to the school's nursery",
        "the pupil is not moving up to a reception or higher class at the school",
    ),
    # 2006 8(1)(o); 2024 9(1)(m)
    GroundKey.BOARDER_UNPAID: (
        "the pupil is a boarder",
        "charges the parent must pay are unpaid at the end of the term they are for",
    ),
    # 2024 9(1)(e)
    GroundKey.SAO_REVOKED: (
        "the pupil is registered at the school because a school attendance order names it",
        "the local authority has revoked the order because the child is receiving suitable "
        "education otherwise than at school",
    ),
}

# Where the 2006 wording differs from the 2024 wording above.
_CONDITIONS_2006: dict[GroundKey, tuple[str, ...]] = {
    # 2006 8(1)(a): substituted or revoked, one ground.
    GroundKey.SAO_SUBSTITUTED: (
        "the pupil is registered at the school because a school attendance order names it",
        "the local authority has substituted another school on the order, or revoked the order "
        "because the child is receiving suitable education otherwise than at school",
    ),
    # 2006 8(1)(c): "in a case not falling within sub-paragraph (j) or (m) or regulation 9": the
    # no-fixed-abode exception, but no attendance-order one.
    GroundKey.DUAL_REGISTERED_CONSENT: (
        "the pupil is registered at more than one school",
        "the pupil has ceased to attend this school",
        "every other school the pupil is registered at has consented to the deletion",
        _NOT_MOBILE_MAIN,
    ),
}

# 2006 8(1)(h)(i)-(iii)
_CONTINUOUS_2006 = (
    "the pupil has been continuously absent for at least 20 school days",
    "at no time was the absence authorised by the school",
    _NOT_SICK,
    _ENQUIRIES_FAILED,
)
# 2024 9(1)(i): the 20 days, every session coded G, N or O (Table 3 of reg 10), not sick, enquiries
_CONTINUOUS_2024 = (
    *_CONTINUOUS_2006[:2],
    "every session in those 20 school days was recorded with code G, N or O",
    *_CONTINUOUS_2006[2:],
)

_EVIDENCE: dict[GroundKey, tuple[str, ...]] = {
    GroundKey.SAO_SUBSTITUTED: (SAO_SUBSTITUTION,),
    GroundKey.REGISTERED_ELSEWHERE: (REGISTERED_ELSEWHERE_CONFIRMED,),
    GroundKey.DUAL_REGISTERED_CONSENT: (OTHER_SCHOOL_CONSENT,),
    GroundKey.EHE: (),
    GroundKey.MOVED_AWAY: (MOVED_AWAY,),
    GroundKey.AFTER_LEAVE: (),
    GroundKey.MEDICALLY_UNFIT: (MEDICAL_CERTIFICATE,),
    GroundKey.CONTINUOUS_ABSENCE: (),
    GroundKey.CUSTODIAL: (CUSTODIAL_SENTENCE,),
    GroundKey.DIED: (DEATH_NOTIFIED,),
    GroundKey.CEASED_COMPULSORY_AGE: (CEASES_COMPULSORY_AGE,),
    GroundKey.CEASED_INDEPENDENT: (CEASED_TO_BE_PUPIL,),
    GroundKey.PERMANENTLY_EXCLUDED: (PERMANENT_EXCLUSION,),
    GroundKey.NURSERY_NOT_TRANSFERRING: (NURSERY_NOT_TRANSFERRING,),
    GroundKey.BOARDER_UNPAID: (FEES_UNPAID,),
    GroundKey.SAO_REVOKED: (SAO_REVOCATION,),
}

# 2006 reg 8(1): the meaning in the seed's own words (guidance 2.6); (a) completed from the
# regulation, which the seed quotes only in part ("... or the order is revoked ...").
_MEANINGS_2006: tuple[tuple[str, GroundKey, str], ...] = (
    (
        "a",
        GroundKey.SAO_SUBSTITUTED,
        "On the roll of the school due to a School Attendance Order and another school is "
        "substituted on that order by the local authority, or the order is revoked by the local "
        "authority because the child is receiving suitable education otherwise than at school",
    ),
    ("b", GroundKey.REGISTERED_ELSEWHERE, "Registered as a pupil at another school"),
    (
        "c",
        GroundKey.DUAL_REGISTERED_CONSENT,
        "Pupil is registered at more than one school and has ceased to attend the school and the "
        "proprietor of any other school at which he is registered has given consent to the "
        "deletion",
    ),
    (
        "d",
        GroundKey.EHE,
        "Proprietor has received written notification from the parent that the pupil is "
        "receiving education otherwise than at school",
    ),
    (
        "e",
        GroundKey.MOVED_AWAY,
        "He has ceased to attend school and no longer ordinarily resides at a place which is a "
        "reasonable distance from the school at which he is registered",
    ),
    (
        "f",
        GroundKey.AFTER_LEAVE,
        "In the case of a pupil granted a leave of absence, failed to attend within ten school "
        "days following the expiry of the period for which leave was granted",
    ),
    (
        "g",
        GroundKey.MEDICALLY_UNFIT,
        "He is certified medically as unlikely to be in a fit state to attend school",
    ),
    (
        "h",
        GroundKey.CONTINUOUS_ABSENCE,
        "That he has been continuously absent from school for a period of not less than twenty "
        "days and at no time was the absence authorised by the proprietor",
    ),
    (
        "i",
        GroundKey.CUSTODIAL,
        "Custodial sentence of not less than 4 months, and the proprietor does not have "
        "reasonable grounds to believe the pupil will return to the school at the end of that "
        "period",
    ),
    ("j", GroundKey.DIED, "Pupil has died"),
    (
        "k",
        GroundKey.CEASED_COMPULSORY_AGE,
        "Pupil will cease to be of compulsory school age before the school next meets and the "
        "relevant person has indicated that the pupil will cease to attend the school, or the "
        "pupil does not meet the academic requirements for admission to the school's sixth form",
    ),
    (
        "l",
        GroundKey.CEASED_INDEPENDENT,
        "In the case of a pupil at a school other than a maintained, Academy or UTC, that he has "
        "ceased to be a pupil of the school",
    ),
    ("m", GroundKey.PERMANENTLY_EXCLUDED, "He has been permanently excluded from the school"),
    (
        "n",
        GroundKey.NURSERY_NOT_TRANSFERRING,
        "Admitted to a school to receive nursery education and does not transfer to a reception "
        "or higher class at that school",
    ),
    (
        "o",
        GroundKey.BOARDER_UNPAID,
        "Pupil is a boarder and charges payable by the parent remain unpaid at the end of the "
        "school term to which they relate",
    ),
)

# 2024 reg 9(1): the regulation's meaning in plain English.
_MEANINGS_2024: tuple[tuple[str, GroundKey, str], ...] = (
    (
        "a",
        GroundKey.REGISTERED_ELSEWHERE,
        "The pupil has been registered at another school (other than under an agreed dual "
        "registration), no school attendance order naming this school is in force, and the "
        "pupil is not a mobile child whose main school this is",
    ),
    (
        "b",
        GroundKey.NURSERY_NOT_TRANSFERRING,
        "The pupil was admitted to the school's nursery and has not moved up to a reception or "
        "higher class at the school",
    ),
    (
        "c",
        GroundKey.DUAL_REGISTERED_CONSENT,
        "The pupil is registered at more than one school, has stopped attending this one, every "
        "other school the pupil is registered at has consented to the deletion, no school "
        "attendance order naming this school is in force, and the pupil is not a mobile child "
        "whose main school this is",
    ),
    (
        "d",
        GroundKey.SAO_SUBSTITUTED,
        "The pupil is registered here because of a school attendance order, and the local "
        "authority has substituted another school on the order",
    ),
    (
        "e",
        GroundKey.SAO_REVOKED,
        "The pupil is registered here because of a school attendance order, and the local "
        "authority has revoked the order because the child is receiving suitable education "
        "otherwise than at school",
    ),
    (
        "f",
        GroundKey.EHE,
        "The pupil has stopped attending, the parent has told the school in writing that the "
        "pupil is receiving education otherwise than at school, and no school attendance order "
        "naming the school is in force",
    ),
    (
        "g",
        GroundKey.MOVED_AWAY,
        "The pupil (not a boarder) has stopped attending and no longer ordinarily lives within "
        "reasonable distance of the school",
    ),
    (
        "h",
        GroundKey.AFTER_LEAVE,
        "The pupil has not come back within 10 school days after a leave of absence ended, there "
        "is no reason to think illness or an unavoidable cause prevents it, and the school and "
        "the local authority have failed after joint reasonable enquiries to find the pupil",
    ),
    (
        "i",
        GroundKey.CONTINUOUS_ABSENCE,
        "The pupil has been absent without authorisation for at least 20 continuous school days, "
        "every session recorded as G, N or O, there is no reason to think illness or an "
        "unavoidable cause prevents attendance, and the school and the local authority have "
        "failed after joint reasonable enquiries to find the pupil",
    ),
    (
        "j",
        GroundKey.CUSTODIAL,
        "The pupil is detained under a final court order or an order of recall (not a remand) for "
        "at least 4 months and the school has no reasonable grounds to believe the pupil will "
        "return at the end of it",
    ),
    ("k", GroundKey.DIED, "The pupil has died"),
    (
        "l",
        GroundKey.CEASED_COMPULSORY_AGE,
        "The pupil will cease to be of compulsory school age before the school next meets and "
        "will not continue: the parent has said so, or the pupil does not meet the academic "
        "requirements for the sixth form",
    ),
    (
        "m",
        GroundKey.BOARDER_UNPAID,
        "The pupil is a boarder and the charges the parent must pay remain unpaid at the end of "
        "the term they are for",
    ),
    (
        "n",
        GroundKey.CEASED_INDEPENDENT,
        "At a school other than a maintained school or an Academy: the pupil has ceased to be a "
        "pupil of the school",
    ),
    ("o", GroundKey.PERMANENTLY_EXCLUDED, "The pupil has been permanently excluded"),
)


def _build(rulebook: Rulebook, rows: tuple[tuple[str, GroundKey, str], ...]) -> tuple[Ground, ...]:
    reg = _REGULATION[rulebook]
    built = []
    old = rulebook is Rulebook.REGS_2006
    for letter, key, meaning in rows:
        conditions: tuple[str, ...]
        if key is GroundKey.CONTINUOUS_ABSENCE:
            conditions = _CONTINUOUS_2006 if old else _CONTINUOUS_2024
        elif old and key in _CONDITIONS_2006:
            conditions = _CONDITIONS_2006[key]
        else:
            conditions = _SHARED_CONDITIONS[key]
        sao_2006 = old and key is GroundKey.SAO_SUBSTITUTED  # 8(1)(a): substituted or revoked
        built.append(
            Ground(
                rulebook=rulebook,
                code=f"{reg}(1)({letter})",
                letter=letter,
                key=key,
                title=_TITLE_SAO_2006 if sao_2006 else _TITLES[key],
                meaning=meaning,
                conditions=conditions,
                evidence=() if sao_2006 else _EVIDENCE[key],
                covers=(key, GroundKey.SAO_REVOKED) if sao_2006 else (key,),
                evidence_any=(SAO_SUBSTITUTION, SAO_REVOCATION) if sao_2006 else (),
            )
        )
    return tuple(built)


_GROUNDS: dict[Rulebook, tuple[Ground, ...]] = {
    Rulebook.REGS_2006: _build(Rulebook.REGS_2006, _MEANINGS_2006),
    Rulebook.REGS_2024: _build(Rulebook.REGS_2024, _MEANINGS_2024),
}
_BY_CODE: dict[str, Ground] = {g.code: g for book in _GROUNDS.values() for g in book}
_BY_KEY: dict[tuple[Rulebook, GroundKey], Ground] = {
    (g.rulebook, k): g for book in _GROUNDS.values() for g in book for k in g.covers
}

# "8(1)(h)", "reg 8(1)(h)", "Regulation 8 (1) (H)", "reg. 9(1)(i)"
_CODE = re.compile(r"^(?:reg(?:ulation)?\.?\s*)?(\d+)\s*\(\s*(\d+)\s*\)\s*\(\s*([a-z]+)\s*\)$")


# -- questions ------------------------------------------------------------------------------------


def rulebook_for(decision_date: date) -> Rulebook:
    """The rulebook in force on ``decision_date``: the 2024 regulations from 19 Aug 2024.

    ``decision_date`` is the day the name is (to be) deleted, not the day the pupil left: a pupil
    who last attended in July 2024 and is deleted in September 2024 is a 2024 reg 9(1) case.
    """
    return Rulebook.REGS_2024 if decision_date >= RULES_2024_FROM else Rulebook.REGS_2006


def grounds(rulebook: Rulebook) -> tuple[Ground, ...]:
    """The rulebook's fifteen grounds, (a) to (o) in order."""
    return _GROUNDS[rulebook]


def ground_by_key(key: GroundKey, rulebook: Rulebook) -> Ground | None:
    """The rulebook's ground with this meaning, or ``None`` when the rulebook has none."""
    return _BY_KEY.get((rulebook, key))


def _equivalents(ground: Ground, rulebook: Rulebook) -> list[Ground]:
    """The grounds of ``rulebook`` with one of ``ground``'s meanings, in their order."""
    found: list[Ground] = []
    for key in ground.covers or (ground.key,):
        match = ground_by_key(key, rulebook)
        if match is not None and match not in found:
            found.append(match)
    return found


def other_rulebook_codes(ground: Ground) -> tuple[str, ...]:
    """The same ground's codes in the other rulebook: ``8(1)(h)`` -> ``("9(1)(i)",)``.

    2006 8(1)(a) (attendance order substituted or revoked) -> ``("9(1)(d)", "9(1)(e)")``, and both
    of those -> ``("8(1)(a)",)``; empty for 2006 8(1)(g) (certified medically unfit), which has no
    counterpart.
    """
    other = Rulebook.REGS_2024 if ground.rulebook is Rulebook.REGS_2006 else Rulebook.REGS_2006
    return tuple(g.code for g in _equivalents(ground, other))


def other_rulebook_code(ground: Ground) -> str | None:
    """:func:`other_rulebook_codes` as one text: ``9(1)(i)``, ``9(1)(d) or 9(1)(e)``, ``None``."""
    return " or ".join(other_rulebook_codes(ground)) or None


def _regs(rulebook: Rulebook) -> str:
    return f"the {rulebook.value} regulations"


def _valid(rulebook: Rulebook) -> str:
    return ", ".join(g.code for g in grounds(rulebook))


def find_ground(code: str, rulebook: Rulebook | None = None) -> Ground:
    """The ground with this code: ``8(1)(h)``, ``9(1)(i)``, ``reg 8(1)(h)``, ``Reg. 9 (1) (I)``.

    With ``rulebook`` given, the code must be one of that rulebook's grounds; a code of the other
    rulebook raises :class:`UnknownGroundError` naming the equivalent code to use instead.
    """
    text = " ".join(code.split())
    m = _CODE.match(text.lower())
    found: Ground | None = None
    if m:
        normal = f"{m.group(1)}({m.group(2)})({m.group(3)})"
        found = _BY_CODE.get(normal)
        if found is None:
            book = next((rb for rb, reg in _REGULATION.items() if str(reg) == m.group(1)), None)
            if book is not None and m.group(2) == "1" and rulebook in (None, book):
                raise UnknownGroundError(
                    f"{normal} is not a ground of {_regs(book)}: valid codes are {_valid(book)}",
                    code,
                    rulebook,
                )
    if found is None:
        if rulebook is None:
            valid = "; ".join(f"{_valid(rb)} ({_regs(rb)})" for rb in Rulebook)
            message = f"{text!r} is not a ground for deletion: valid codes are {valid}"
        else:
            message = (
                f"{text!r} is not a ground for deletion under {_regs(rulebook)}: valid codes are "
                f"{_valid(rulebook)}"
            )
        raise UnknownGroundError(message, code, rulebook)
    if rulebook is not None and found.rulebook is not rulebook:
        equivalents = _equivalents(found, rulebook)
        if len(equivalents) == 1:
            message = (
                f"{found.code} is a ground of {_regs(found.rulebook)}; on this date "
                f"{_regs(rulebook)} apply: use {equivalents[0].code}"
            )
        elif equivalents:  # 8(1)(a) under the 2024 rules: substituted (d) or revoked (e)
            choices = " or ".join(f"{g.code} ({g.title.lower()})" for g in equivalents)
            message = (
                f"{found.code} is a ground of {_regs(found.rulebook)}; on this date "
                f"{_regs(rulebook)} apply: use {choices}"
            )
        else:
            message = (
                f"{found.code} ({found.title.lower()}) is a ground of {_regs(found.rulebook)}; "
                f"on this date {_regs(rulebook)} apply: they have no such ground; valid codes are "
                f"{_valid(rulebook)}"
            )
        raise UnknownGroundError(message, code, rulebook)
    return found
