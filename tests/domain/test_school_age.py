"""Compulsory school age: dates worked out by hand from Education Act 1996 s.8."""

from __future__ import annotations

from datetime import date

import pytest

from domain.calendar import DEFAULT_CALENDAR_PATH, SchoolCalendar
from domain.school_age import (
    birthday,
    ceases_before_school_next_meets,
    compulsory_school_age_bounds,
    is_compulsory_school_age,
)

PORTSMOUTH = SchoolCalendar.load(DEFAULT_CALENDAR_PATH)  # 2025/26: autumn term from Wed 3 Sep


@pytest.mark.parametrize(
    ("dob", "start"),
    [
        # 5th birthday on a prescribed day: compulsory school age starts that very day.
        (date(2020, 8, 31), date(2025, 8, 31)),
        (date(2020, 12, 31), date(2020 + 5, 12, 31)),
        (date(2021, 3, 31), date(2026, 3, 31)),
        # The day after a prescribed day: wait for the next one.
        (date(2020, 9, 1), date(2025, 12, 31)),
        (date(2021, 1, 1), date(2026, 3, 31)),
        (date(2021, 4, 1), date(2026, 8, 31)),
        # The day before a prescribed day.
        (date(2020, 8, 30), date(2025, 8, 31)),
        (date(2020, 12, 30), date(2025, 12, 31)),
        (date(2021, 3, 30), date(2026, 3, 31)),
        # Born 29 Feb: fifth birthday 1 Mar 2025 (no 29 Feb that year), next prescribed day 31 Mar.
        (date(2020, 2, 29), date(2025, 3, 31)),
    ],
)
def test_compulsory_school_age_starts_on_first_prescribed_day_on_or_after_fifth_birthday(
    dob: date, start: date
) -> None:
    assert compulsory_school_age_bounds(dob)[0] == start


@pytest.mark.parametrize(
    ("dob", "end"),
    [
        # Turns 16 on 15 Jan 2026, school year 2025/26: last Friday in June 2026 is 26 Jun.
        (date(2010, 1, 15), date(2026, 6, 26)),
        # Turns 16 on 1 Sep 2025, the first day of school year 2025/26.
        (date(2009, 9, 1), date(2026, 6, 26)),
        # Turns 16 on 31 Aug 2026, the last day of school year 2025/26: leaves before the birthday.
        (date(2010, 8, 31), date(2026, 6, 26)),
        # Turns 16 on 31 Aug 2025: school year 2024/25, last Friday in June 2025 is 27 Jun.
        (date(2009, 8, 31), date(2025, 6, 27)),
        # Turns 16 on the leaving date itself (Fri 26 Jun 2026).
        (date(2010, 6, 26), date(2026, 6, 26)),
        # Turns 16 on Sat 27 Jun 2026, after the leaving date, still school year 2025/26.
        (date(2010, 6, 27), date(2026, 6, 26)),
        # Born 29 Feb 2020: 16 on 29 Feb 2036 (a leap year); 30 Jun 2036 is a Monday → 27 Jun.
        (date(2020, 2, 29), date(2036, 6, 27)),
        # Born 29 Feb 2084: 2100 is no leap year, 16 on 1 Mar 2100; 30 Jun 2100 is a Wednesday.
        (date(2084, 2, 29), date(2100, 6, 25)),
    ],
)
def test_compulsory_school_age_ends_on_last_friday_in_june_of_the_year_the_child_turns_16(
    dob: date, end: date
) -> None:
    assert compulsory_school_age_bounds(dob)[1] == end


def test_bounds_are_included() -> None:
    dob = date(2015, 8, 31)  # starts 31 Aug 2020; 16 on 31 Aug 2031 → school year 2030/31
    start, end = compulsory_school_age_bounds(dob)
    assert (start, end) == (date(2020, 8, 31), date(2031, 6, 27))
    assert not is_compulsory_school_age(dob, date(2020, 8, 30))
    assert is_compulsory_school_age(dob, date(2020, 8, 31))
    assert is_compulsory_school_age(dob, date(2026, 3, 2))
    assert is_compulsory_school_age(dob, date(2031, 6, 27))
    assert not is_compulsory_school_age(dob, date(2031, 6, 28))


def test_born_on_29_february() -> None:
    dob = date(2016, 2, 29)  # fifth birthday 1 Mar 2021 → starts 31 Mar 2021
    assert not is_compulsory_school_age(dob, date(2021, 3, 30))
    assert is_compulsory_school_age(dob, date(2021, 3, 31))
    assert birthday(dob, 5) == date(2021, 3, 1)
    assert birthday(dob, 8) == date(2024, 2, 29)
    # 16 on 29 Feb 2032: school year 2031/32; 30 Jun 2032 is a Wednesday → Fri 25 Jun 2032.
    assert compulsory_school_age_bounds(dob)[1] == date(2032, 6, 25)


def test_a_four_year_old_and_a_sixth_former_are_not_of_compulsory_school_age() -> None:
    on = date(2026, 3, 2)
    assert not is_compulsory_school_age(date(2021, 9, 1), on)  # starts 31 Dec 2026
    assert not is_compulsory_school_age(date(2009, 8, 31), on)  # left on 27 Jun 2025
    assert is_compulsory_school_age(date(2009, 9, 1), on)  # leaves on 26 Jun 2026


@pytest.mark.parametrize(
    "dob",
    [date(2009, 9, 1), date(2009, 9, 2)],
)
def test_s8_3_a_16th_birthday_between_1_september_and_the_autumn_term(dob: date) -> None:
    # Issue point 10, the reading chosen (module docstring, docs/law.md): for s.8(3)(a) the school
    # year runs 1 Sep to 31 Aug. Born 1 or 2 Sep 2009: 16 on Mon 1 / Tue 2 Sep 2025, before
    # Portsmouth's autumn term began on Wed 3 Sep 2025. Such a birthday falls in school year
    # 2025/26, so compulsory school age ends on the last Friday in June 2026, Fri 26 Jun 2026 (30
    # Jun 2026 is a Tuesday), not on Fri 27 Jun 2025 as a term-based "school year" would have it.
    assert PORTSMOUTH.first_day == date(2025, 9, 3)
    assert compulsory_school_age_bounds(dob)[1] == date(2026, 6, 26)
    assert is_compulsory_school_age(dob, date(2025, 9, 3))
    # A 16th birthday on 31 Aug 2025 is in school year 2024/25: ended Fri 27 Jun 2025.
    assert compulsory_school_age_bounds(date(2009, 8, 31))[1] == date(2025, 6, 27)


def test_ceases_before_school_next_meets() -> None:
    # 2024 9(1)(l). Born 15 Jan 2010: compulsory school age ends Fri 26 Jun 2026; Portsmouth's
    # summer term runs to 22 Jul 2026, so the school meets on Fri 26 Jun and Mon 29 Jun.
    dob = date(2010, 1, 15)
    thursday = ceases_before_school_next_meets(dob, date(2026, 6, 25), PORTSMOUTH)
    assert thursday == (False, date(2026, 6, 26), date(2026, 6, 26), date(2026, 6, 26))
    friday = ceases_before_school_next_meets(dob, date(2026, 6, 26), PORTSMOUTH)
    assert friday == (True, date(2026, 6, 26), date(2026, 6, 29), date(2026, 6, 26))
    saturday = ceases_before_school_next_meets(dob, date(2026, 6, 27), PORTSMOUTH)
    assert saturday.met and saturday.earliest == date(2026, 6, 26)
