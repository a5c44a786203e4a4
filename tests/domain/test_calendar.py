"""Tests of the school-day calendar (domain/calendar.py).

Every expected date below was worked out by hand from a 2025/26 wall calendar and Portsmouth's
published term dates, not copied from the code: 1 Sep 2025, 1 Dec 2025, 2 Feb 2026, 2 Mar 2026,
6 Apr 2026, 4 May 2026, 1 Jun 2026 and 6 Jul 2026 are all Mondays. Bank holidays come from the
``holidays`` package (England): 25/26 Dec 2025, 1 Jan, 3 Apr (Good Friday), 6 Apr (Easter Monday),
4 May and 25 May 2026.

The file-error tests load small inline TOML texts; each line that matters carries a ``# line N``
comment so that the expected ``.line`` can be checked by eye.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import holidays
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from domain.calendar import (
    DEFAULT_CALENDAR_PATH,
    CalendarEndsError,
    CalendarFileError,
    NotASchoolDayError,
    SchoolCalendar,
    human_date,
)

CAL = SchoolCalendar.load(DEFAULT_CALENDAR_PATH)
SCHOOL = "8512000"  # has one INSET day, Mon 3 Nov 2025
INSET_DAY = date(2025, 11, 3)
FIRST = date(2025, 9, 3)  # Wed, first day of the autumn term
LAST = date(2026, 7, 22)  # Wed, last day of the summer term
ENDS = "calendar ends on 22 Jul 2026"
STARTS = "calendar starts on 3 Sep 2025"


# -- the shipped Portsmouth 2025/26 calendar -------------------------------------------------------


def test_shipped_file_matches_the_published_term_dates() -> None:
    assert (CAL.la_code, CAL.la_name) == (851, "Portsmouth")
    assert [(t.first_day, t.last_day, t.closures) for t in CAL.terms] == [
        (date(2025, 9, 3), date(2025, 12, 19), ((date(2025, 10, 27), date(2025, 10, 31)),)),
        (date(2026, 1, 5), date(2026, 3, 27), ((date(2026, 2, 16), date(2026, 2, 20)),)),
        (date(2026, 4, 13), date(2026, 7, 22), ((date(2026, 5, 25), date(2026, 5, 29)),)),
    ]
    assert CAL.inset == {SCHOOL: frozenset({INSET_DAY})}
    assert (CAL.first_day, CAL.last_day) == (FIRST, LAST)


def test_bank_holidays_are_not_listed_by_hand() -> None:
    text = Path(DEFAULT_CALENDAR_PATH).read_text(encoding="utf-8")
    data_lines = [line.split("#")[0] for line in text.splitlines()]
    assert not any("2026-05-04" in line for line in data_lines)
    assert not CAL.is_school_day(date(2026, 5, 4))


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # Autumn: Wed-Fri 3-5 Sep, then 14 full weeks (8 Sep-19 Dec, less half term) = 3 + 70
        (date(2025, 9, 3), date(2025, 12, 19), 73),
        # Spring: 11 full weeks (5 Jan-27 Mar, less half term 16-20 Feb)
        (date(2026, 1, 5), date(2026, 3, 27), 55),
        # Summer: 13 Apr-22 Jul is 14 weeks + Mon-Wed; less half term and Mon 4 May: 70 + 3 - 5 - 1
        (date(2026, 4, 13), date(2026, 7, 22), 67),
        (FIRST, LAST, 195),
    ],
)
def test_school_days_in_each_term(start: date, end: date, expected: int) -> None:
    assert CAL.count_school_days(start, end) == expected


def test_school_with_inset_day_has_one_day_fewer_in_the_year() -> None:
    assert CAL.count_school_days(FIRST, LAST, school=SCHOOL) == 194


@pytest.mark.parametrize(
    ("day", "school", "expected"),
    [
        (date(2025, 9, 3), None, True),  # first day of term
        (date(2025, 9, 6), None, False),  # Saturday
        (date(2025, 10, 24), None, True),  # Friday before half term
        (date(2025, 10, 27), None, False),  # half term
        (date(2025, 10, 31), None, False),  # half term
        (date(2025, 11, 3), None, True),  # back after half term...
        (date(2025, 11, 3), SCHOOL, False),  # ...but an INSET day at school 8512000
        (date(2025, 11, 3), "8519999", True),  # a school without INSET days follows the LA
        (date(2025, 11, 4), SCHOOL, True),
        (date(2025, 12, 19), None, True),  # last day of autumn term
        (date(2025, 12, 22), None, False),  # Christmas holiday, between terms
        (date(2026, 1, 1), None, False),
        (date(2026, 1, 5), None, True),
        (date(2026, 2, 16), None, False),  # spring half term
        (date(2026, 3, 27), None, True),  # last day of spring term
        (date(2026, 4, 3), None, False),  # Good Friday, in the Easter holiday
        (date(2026, 4, 6), None, False),  # Easter Monday, in the Easter holiday
        (date(2026, 4, 13), None, True),  # first day of summer term
        (date(2026, 5, 4), None, False),  # early May bank holiday
        (date(2026, 5, 5), None, True),
        (date(2026, 5, 25), None, False),  # half term (and spring bank holiday)
        (date(2026, 7, 22), None, True),  # last day of the calendar
    ],
)
def test_is_school_day(day: date, school: str | None, expected: bool) -> None:
    assert CAL.is_school_day(day, school) is expected


# -- nth_school_day: day 1 is the given school day -------------------------------------------------


@pytest.mark.parametrize(
    ("day1", "n", "school", "expected"),
    [
        (date(2025, 9, 3), 1, None, date(2025, 9, 3)),  # day 1 is day1 itself
        # Wed 3-Fri 5 Sep = days 1-3, Mon 8-Fri 12 = 4-8, Mon 15 = 9, Tue 16 = 10
        (date(2025, 9, 3), 10, None, date(2025, 9, 16)),
        # Mon 20-Fri 24 Oct = days 1-5, half term skipped, Mon 3-Fri 7 Nov = days 6-10
        (date(2025, 10, 20), 10, None, date(2025, 11, 7)),
        # INSET Mon 3 Nov: Tue 4-Fri 7 Nov = days 6-9, Mon 10 Nov = day 10
        (date(2025, 10, 20), 10, SCHOOL, date(2025, 11, 10)),
        # Christmas: Mon 15-Fri 19 Dec = days 1-5, Mon 5-Fri 9 Jan = days 6-10
        (date(2025, 12, 15), 10, None, date(2026, 1, 9)),
        # Spring half term: Mon 9-Fri 13 Feb = days 1-5, Mon 23 Feb = day 6
        (date(2026, 2, 9), 6, None, date(2026, 2, 23)),
        # Easter holiday between terms: Mon 23-Fri 27 Mar = days 1-5, Mon 13 Apr = day 6
        (date(2026, 3, 23), 6, None, date(2026, 4, 13)),
        (date(2026, 3, 27), 2, None, date(2026, 4, 13)),
        # Bank holiday: Mon 27 Apr-Fri 1 May = days 1-5, Mon 4 May skipped, Tue 5 May = day 6
        (date(2026, 4, 27), 6, None, date(2026, 5, 5)),
        # Summer half term: Mon 18-Fri 22 May = days 1-5, Mon 1 Jun = day 6
        (date(2026, 5, 18), 6, None, date(2026, 6, 1)),
        # The end: Mon 13-Fri 17 Jul = days 1-5, Mon 20-Wed 22 Jul = days 6-8
        (date(2026, 7, 13), 8, None, date(2026, 7, 22)),
    ],
)
def test_nth_school_day(day1: date, n: int, school: str | None, expected: date) -> None:
    assert CAL.nth_school_day(day1, n, school) == expected


def test_nth_school_day_past_the_end_raises() -> None:
    with pytest.raises(CalendarEndsError) as err:
        CAL.nth_school_day(date(2026, 7, 13), 9)  # day 9 would be after Wed 22 Jul
    assert str(err.value).startswith(ENDS)
    with pytest.raises(CalendarEndsError, match=f"^{ENDS}"):
        CAL.nth_school_day(date(2026, 7, 13), 9, school=SCHOOL)


@pytest.mark.parametrize(
    ("day1", "school"),
    [
        (date(2025, 10, 25), None),  # Saturday
        (date(2025, 10, 27), None),  # half term
        (date(2026, 5, 4), None),  # bank holiday
        (date(2026, 4, 1), None),  # Easter holiday, between terms
        (INSET_DAY, SCHOOL),  # INSET day of that school
    ],
)
def test_nth_school_day_needs_a_school_day_as_day_1(day1: date, school: str | None) -> None:
    with pytest.raises(NotASchoolDayError, match=human_date(day1)):
        CAL.nth_school_day(day1, 1, school)


def test_nth_school_day_outside_the_calendar_raises() -> None:
    with pytest.raises(CalendarEndsError, match=f"^{ENDS}"):
        CAL.nth_school_day(date(2026, 9, 2), 1)
    with pytest.raises(CalendarEndsError, match=f"^{STARTS}"):
        CAL.nth_school_day(date(2025, 9, 1), 1)


@pytest.mark.parametrize("n", [0, -1])
def test_n_must_be_positive(n: int) -> None:
    with pytest.raises(ValueError, match="n must be 1 or more"):
        CAL.nth_school_day(FIRST, n)
    with pytest.raises(ValueError, match="n must be 1 or more"):
        CAL.school_day_after(FIRST, n)


# -- school_day_after: the nth school day strictly after a date ------------------------------------


@pytest.mark.parametrize(
    ("day", "n", "school", "expected"),
    [
        (date(2025, 9, 3), 1, None, date(2025, 9, 4)),
        (date(2025, 10, 24), 1, None, date(2025, 11, 3)),  # Fri before half term
        (date(2025, 10, 24), 1, SCHOOL, date(2025, 11, 4)),  # ... INSET Mon 3 Nov
        (date(2025, 10, 29), 1, None, date(2025, 11, 3)),  # from inside half term
        (date(2025, 10, 25), 5, None, date(2025, 11, 7)),  # from a Saturday
        (date(2025, 12, 19), 1, None, date(2026, 1, 5)),  # across Christmas
        (date(2025, 12, 25), 3, None, date(2026, 1, 7)),  # from Christmas Day
        (date(2026, 3, 27), 1, None, date(2026, 4, 13)),  # across Easter
        (date(2026, 4, 3), 1, None, date(2026, 4, 13)),  # from Good Friday
        (date(2026, 5, 1), 1, None, date(2026, 5, 5)),  # bank holiday Mon 4 May skipped
        # Fri 15 May: Mon 18-Fri 22 May = 1-5, half term, Mon 1-Fri 5 Jun = 6-10
        (date(2026, 5, 15), 10, None, date(2026, 6, 5)),
        (date(2026, 7, 17), 3, None, date(2026, 7, 22)),  # Mon 20, Tue 21, Wed 22 Jul
    ],
)
def test_school_day_after(day: date, n: int, school: str | None, expected: date) -> None:
    assert CAL.school_day_after(day, n, school) == expected


def test_school_day_after_defaults_to_the_next_school_day() -> None:
    assert CAL.school_day_after(date(2025, 9, 5)) == date(2025, 9, 8)  # Fri -> Mon


@pytest.mark.parametrize(
    ("day", "n"), [(date(2026, 7, 17), 4), (date(2026, 7, 22), 1), (date(2026, 7, 25), 1)]
)
def test_school_day_after_past_the_end_raises(day: date, n: int) -> None:
    with pytest.raises(CalendarEndsError, match=f"^{ENDS}"):
        CAL.school_day_after(day, n)


def test_school_day_after_a_date_before_the_calendar_raises() -> None:
    with pytest.raises(CalendarEndsError, match=f"^{STARTS}"):
        CAL.school_day_after(date(2025, 8, 29), 1)


# -- count_school_days and school_days: both ends included -----------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "school", "expected"),
    [
        (date(2025, 11, 3), date(2025, 11, 3), None, 1),  # one school day counts as 1
        (date(2025, 11, 3), date(2025, 11, 7), None, 5),  # Mon-Fri, both ends included
        (date(2025, 11, 3), date(2025, 11, 7), SCHOOL, 4),  # less the INSET day
        (date(2025, 10, 20), date(2025, 11, 7), None, 10),  # half term in between
        (date(2025, 10, 20), date(2025, 11, 7), SCHOOL, 9),
        (date(2025, 10, 27), date(2025, 11, 2), None, 0),  # half term and a weekend
        (date(2025, 12, 15), date(2026, 1, 9), None, 10),  # across Christmas
        (date(2026, 3, 23), date(2026, 4, 17), None, 10),  # across Easter
        (date(2026, 4, 27), date(2026, 5, 8), None, 9),  # with bank holiday Mon 4 May
        (date(2026, 7, 13), date(2026, 7, 22), None, 8),  # to the last day
        (date(2025, 11, 7), date(2025, 11, 3), None, 0),  # end before start
    ],
)
def test_count_school_days(start: date, end: date, school: str | None, expected: int) -> None:
    assert CAL.count_school_days(start, end, school) == expected


def test_school_days_lists_the_days_counted() -> None:
    assert CAL.school_days(date(2025, 10, 23), date(2025, 11, 5), school=SCHOOL) == [
        date(2025, 10, 23),
        date(2025, 10, 24),
        date(2025, 11, 4),
        date(2025, 11, 5),
    ]
    assert CAL.school_days(date(2026, 4, 30), date(2026, 5, 5)) == [
        date(2026, 4, 30),
        date(2026, 5, 1),
        date(2026, 5, 5),
    ]


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (date(2026, 7, 13), date(2026, 7, 31), ENDS),  # not "8": the rest of July is unknown
        (date(2026, 7, 23), date(2026, 7, 24), ENDS),
        (date(2025, 9, 1), date(2025, 9, 5), STARTS),
    ],
)
def test_counting_beyond_the_calendar_raises(start: date, end: date, message: str) -> None:
    with pytest.raises(CalendarEndsError, match=f"^{message}"):
        CAL.count_school_days(start, end)
    with pytest.raises(CalendarEndsError, match=f"^{message}"):
        CAL.school_days(start, end)


@pytest.mark.parametrize(
    ("day", "message"),
    [(date(2026, 7, 23), ENDS), (date(2026, 9, 1), ENDS), (date(2025, 9, 2), STARTS)],
)
def test_is_school_day_outside_the_calendar_raises(day: date, message: str) -> None:
    with pytest.raises(CalendarEndsError, match=f"^{message}: {human_date(day)}"):
        CAL.is_school_day(day)


def test_human_date() -> None:
    assert human_date(date(2025, 11, 7)) == "7 Nov 2025"
    assert human_date(date(2026, 7, 22)) == "22 Jul 2026"


# -- bank holidays inside a term come from the holidays package ------------------------------------

EASTER_2026 = """\
la_code = 851
la_name = "Synthetic"
[[term]]
name = "Spring spanning Easter"
first_day = 2026-03-30
last_day = 2026-04-10
"""

CHRISTMAS_2025 = """\
la_code = 851
la_name = "Synthetic"
[[term]]
name = "Winter spanning Christmas"
first_day = 2025-12-22
last_day = 2026-01-02
"""


def test_good_friday_and_easter_monday_are_skipped() -> None:
    cal = SchoolCalendar.loads(EASTER_2026)
    assert not cal.is_school_day(date(2026, 4, 3))  # Good Friday
    assert not cal.is_school_day(date(2026, 4, 6))  # Easter Monday
    # Mon 30 Mar-Thu 2 Apr = days 1-4, Tue 7 Apr = day 5
    assert cal.nth_school_day(date(2026, 3, 30), 5) == date(2026, 4, 7)
    assert cal.school_day_after(date(2026, 4, 2)) == date(2026, 4, 7)
    # ten weekdays less the two bank holidays
    assert cal.count_school_days(date(2026, 3, 30), date(2026, 4, 10)) == 8


def test_christmas_boxing_day_and_new_year_are_skipped() -> None:
    cal = SchoolCalendar.loads(CHRISTMAS_2025)
    assert cal.school_days(date(2025, 12, 22), date(2026, 1, 2)) == [
        date(2025, 12, 22),
        date(2025, 12, 23),
        date(2025, 12, 24),
        date(2025, 12, 29),
        date(2025, 12, 30),
        date(2025, 12, 31),
        date(2026, 1, 2),
    ]


# -- loading: errors name the line at fault --------------------------------------------------------


def load_error(text: str) -> CalendarFileError:
    with pytest.raises(CalendarFileError) as err:
        SchoolCalendar.loads(text, source="test.toml")
    return err.value


def test_overlapping_terms_name_the_later_terms_first_day() -> None:
    err = load_error("""\
la_code = 851
la_name = "Portsmouth"
[[term]]
name = "Autumn 2025"
first_day = 2025-09-03
last_day = 2025-12-19

[[term]]
name = "Spring 2026"
first_day = 2025-12-15  # line 10
last_day = 2026-03-27
""")
    assert err.line == 10
    assert "'Spring 2026' overlaps term 'Autumn 2025'" in str(err)
    assert str(err).startswith("test.toml, line 10: ")


def test_overlap_is_found_whatever_order_the_terms_are_written_in() -> None:
    err = load_error("""\
la_code = 851
la_name = "Portsmouth"
[[term]]
name = "Spring 2026"
first_day = 2026-01-05
last_day = 2026-03-27
[[term]]
name = "Autumn 2025"
first_day = 2025-09-03
last_day = 2026-01-05  # line 10
""")
    # Autumn starts first, so Spring is the term that overlaps it.
    assert err.line == 5


def test_the_same_term_written_twice_names_the_second() -> None:
    term = '[[term]]\nname = "Autumn"\nfirst_day = 2025-09-03\nlast_day = 2025-12-19\n'
    err = load_error('la_code = 851\nla_name = "Portsmouth"\n' + term + term)
    assert err.line == 9  # first_day of the second copy


def test_closure_outside_its_term() -> None:
    err = load_error("""\
la_code = 851
la_name = "Portsmouth"
[[term]]
name = "Autumn 2025"
first_day = 2025-09-03
last_day = 2025-12-19
closures = [[2025-12-15, 2025-12-23]]  # line 7
""")
    assert err.line == 7
    assert "closure 2025-12-15 to 2025-12-23 is outside term 'Autumn 2025'" in str(err)


def test_closure_on_a_line_of_its_own() -> None:
    err = load_error("""\
la_code = 851
la_name = "Portsmouth"
[[term]]
name = "Autumn 2025"
first_day = 2025-09-03
last_day = 2025-12-19
closures = [
    [2025-10-27, 2025-10-31],
    [2025-10-31, 2025-12-22],  # line 9: starts on the day the line above ends
]
[[term]]
name = "Spring 2026"
first_day = 2026-01-05
last_day = 2026-03-27
""")
    assert err.line == 9


def test_closure_ending_before_it_starts() -> None:
    err = load_error("""\
la_code = 851
la_name = "Portsmouth"
[[term]]
name = "Autumn 2025"
first_day = 2025-09-03
last_day = 2025-12-19
closures = [[2025-10-31, 2025-10-27]]  # line 7
""")
    assert (err.line, err.problem) == (7, "a closure ends before it starts")


@pytest.mark.parametrize(
    ("value", "line"),
    [
        ('"2025-13-01"', 6),  # no month 13
        ('"3 Sep 2025"', 6),  # not ISO
        ('"20250903"', 6),  # ISO basic format: too easy to mistype, refused
        ("2025-09-03T08:45:00", 6),  # a date-time, not a date
        ("2025-02-30", 6),  # TOML itself rejects 30 Feb
    ],
)
def test_bad_date(value: str, line: int) -> None:
    err = load_error(f"""\
la_code = 851
la_name = "Portsmouth"
[[term]]
name = "Autumn 2025"
first_day = 2025-09-03
last_day = {value}
""")
    assert err.line == line


def test_bad_date_in_a_closure() -> None:
    err = load_error("""\
la_code = 851
la_name = "Portsmouth"
[[term]]
name = "Autumn 2025"
first_day = 2025-09-03
last_day = 2025-12-19
closures = [
  [2025-10-27, "31 Oct"],  # line 8
]
""")
    assert err.line == 8
    assert "a closure's last day must be a date" in str(err)


def test_term_ending_before_it_starts() -> None:
    err = load_error("""\
la_code = 851
la_name = "Portsmouth"
[[term]]
name = "Autumn 2025"
first_day = 2025-12-19
last_day = 2025-09-03  # line 6
""")
    assert err.line == 6


def test_toml_syntax_error_names_its_line() -> None:
    err = load_error("""\
la_code = 851
la_name = "Portsmouth"
[[term]]
name = "Autumn 2025
first_day = 2025-09-03
""")
    assert err.line == 4
    assert "not valid TOML" in str(err)


def test_misspelt_term_setting_is_refused() -> None:
    # Ignoring it would silently turn half term into school days.
    err = load_error("""\
la_code = 851
la_name = "Portsmouth"
[[term]]
name = "Autumn 2025"
first_day = 2025-09-03
last_day = 2025-12-19
closure = [[2025-10-27, 2025-10-31]]  # line 7
""")
    assert err.line == 7
    assert "unknown term setting 'closure'" in str(err)


def test_misspelt_table_is_refused() -> None:
    err = load_error("""\
la_code = 851
la_name = "Portsmouth"
[[term]]
name = "Autumn 2025"
first_day = 2025-09-03
last_day = 2025-12-19
[insets]
"8512000" = [2025-11-03]
""")
    assert err.line == 7


def test_bad_la_code() -> None:
    err = load_error('la_name = "Portsmouth"\nla_code = 85\n')
    assert err.line == 2


def test_no_terms() -> None:
    err = load_error('la_code = 851\nla_name = "Portsmouth"\n')
    assert "[[term]]" in err.problem


INSET_HEAD = """\
la_code = 851
la_name = "Portsmouth"
[[term]]
name = "Autumn 2025"
first_day = 2025-09-03
last_day = 2025-12-19
closures = [[2025-10-27, 2025-10-31]]
[[term]]
name = "Spring 2026"
first_day = 2026-01-05
last_day = 2026-03-27

[inset]
"8512000" = [2025-11-03]
"""  # 14 lines; the line under test is line 15


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ('"851200" = [2025-11-03]', "is not a LAESTAB"),  # six digits
        ('"851-2001" = [2025-11-03]', "is not a LAESTAB"),
        ('"8522001" = [2025-11-03]', "is not a school of LA 851"),  # another LA's school
        ('"8512001" = "2025-11-03"', "must be a list of dates"),
        ('"8512001" = [2025-11-31]', "not valid TOML"),
        ('"8512001" = ["next Monday"]', "must be a date"),
        ('"8512001" = [2026-04-01]', "is not in a term"),  # Easter holiday
        ('"8512001" = [2026-07-20]', "is not in a term"),  # after the last term
        ("8512001 = [2025-08-29]", "is not in a term"),  # bare key, before the first term
        ('"8512001" = [2025-10-27]', "is not a school day anyway"),  # half term
        ('"8512001" = [2025-11-08]', "is not a school day anyway"),  # Saturday
    ],
)
def test_bad_inset_entry(entry: str, problem: str) -> None:
    err = load_error(INSET_HEAD + entry + "\n")
    assert err.line == 15
    assert problem in str(err)


def test_inset_day_on_a_line_of_its_own() -> None:
    err = load_error(
        INSET_HEAD
        + """\
"8512001" = [
    2025-11-03,
    2026-04-01,  # line 17: Easter holiday
]
"""
    )
    assert err.line == 17


def test_unreadable_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(CalendarFileError) as err:
        SchoolCalendar.load(missing)
    assert err.value.line is None
    assert str(err.value).startswith(str(missing))


def test_comment_after_term_header_keeps_every_term() -> None:
    cal = SchoolCalendar.loads("""\
la_code = 851
la_name = "Portsmouth"
[[term]]  # autumn
name = "Autumn 2025"
first_day = 2025-09-03
last_day = 2025-12-19
[[ term ]]
name = "Spring 2026"
first_day = 2026-01-05
last_day = 2026-03-27
""")
    assert [t.name for t in cal.terms] == ["Autumn 2025", "Spring 2026"]
    assert cal.last_day == date(2026, 3, 27)


def test_terms_may_be_written_in_any_order() -> None:
    cal = SchoolCalendar.loads("""\
la_code = 851
la_name = "Portsmouth"
[[term]]
name = "Spring 2026"
first_day = 2026-01-05
last_day = 2026-03-27
[[term]]
name = "Autumn 2025"
first_day = 2025-09-03
last_day = 2025-12-19
""")
    assert (cal.first_day, cal.last_day) == (FIRST, date(2026, 3, 27))
    assert cal.school_day_after(date(2025, 12, 19)) == date(2026, 1, 5)


# -- properties over the shipped calendar ----------------------------------------------------------

LA_DAYS = CAL.school_days(FIRST, LAST)
BANK_HOLIDAYS = holidays.country_holidays("GB", subdiv="ENG", years=[2025, 2026])

calendar_dates = st.dates(min_value=FIRST, max_value=LAST)
schools = st.sampled_from([None, SCHOOL, "8519999"])  # 8519999 has no INSET days
counts = st.integers(min_value=1, max_value=len(LA_DAYS) + 10)  # some reach past the end


def school_days_left(after: date, school: str | None) -> int:
    """School days strictly after ``after``, up to the calendar's end."""
    return 0 if after >= LAST else CAL.count_school_days(after + timedelta(days=1), LAST, school)


@given(day1=st.sampled_from(LA_DAYS), n=counts, school=schools)
def test_nth_school_day_is_the_nth_counted(day1: date, n: int, school: str | None) -> None:
    assume(CAL.is_school_day(day1, school))
    try:
        nth = CAL.nth_school_day(day1, n, school)
    except CalendarEndsError as err:
        assert str(err).startswith(ENDS)
        assert CAL.count_school_days(day1, LAST, school) < n
        return
    assert CAL.is_school_day(nth, school)
    assert CAL.count_school_days(day1, nth, school) == n


@given(day=calendar_dates, n=counts, school=schools)
def test_school_day_after_is_n_school_days_later(day: date, n: int, school: str | None) -> None:
    try:
        after = CAL.school_day_after(day, n, school)
    except CalendarEndsError as err:
        assert str(err).startswith(ENDS)
        assert school_days_left(day, school) < n
        return
    assert after > day
    assert CAL.is_school_day(after, school)
    assert CAL.count_school_days(day + timedelta(days=1), after, school) == n


@given(day1=st.sampled_from(LA_DAYS), n=counts)
def test_nth_school_day_agrees_with_school_day_after(day1: date, n: int) -> None:
    assume(n >= 2 and CAL.count_school_days(day1, LAST) >= n)
    assert CAL.nth_school_day(day1, n) == CAL.school_day_after(day1, n - 1)


@given(day=calendar_dates, school=schools)
def test_school_day_is_a_weekday_in_a_term(day: date, school: str | None) -> None:
    in_term = [t for t in CAL.terms if t.first_day <= day <= t.last_day]
    expected = (
        day.weekday() < 5
        and len(in_term) == 1
        and not in_term[0].is_closed(day)
        and day not in BANK_HOLIDAYS
        and not (school == SCHOOL and day == INSET_DAY)
    )
    assert CAL.is_school_day(day, school) is expected


@given(a=calendar_dates, b=calendar_dates)
def test_inset_school_never_has_more_school_days(a: date, b: date) -> None:
    start, end = min(a, b), max(a, b)
    la_wide = CAL.count_school_days(start, end)
    at_school = CAL.count_school_days(start, end, school=SCHOOL)
    assert at_school <= la_wide
    assert la_wide - at_school == (1 if start <= INSET_DAY <= end else 0)


@given(day1=st.sampled_from(LA_DAYS), n=counts, school=schools)
def test_nth_school_day_increases_with_n(day1: date, n: int, school: str | None) -> None:
    assume(CAL.is_school_day(day1, school))
    assume(CAL.count_school_days(day1, LAST, school) > n)
    assert CAL.nth_school_day(day1, n, school) < CAL.nth_school_day(day1, n + 1, school)


@given(a=calendar_dates, b=calendar_dates, n=counts, school=schools)
def test_school_day_after_is_monotonic(a: date, b: date, n: int, school: str | None) -> None:
    early, late = min(a, b), max(a, b)
    assume(school_days_left(late, school) > n)
    assert CAL.school_day_after(early, n, school) < CAL.school_day_after(late, n + 1, school)
    assert CAL.school_day_after(early, n, school) <= CAL.school_day_after(late, n, school)


@given(a=calendar_dates, b=calendar_dates, c=calendar_dates, school=schools)
def test_counts_add_up(a: date, b: date, c: date, school: str | None) -> None:
    first, middle, last = sorted((a, b, c))
    assume(middle < LAST)
    whole = CAL.count_school_days(first, last, school)
    left = CAL.count_school_days(first, middle, school)
    right = CAL.count_school_days(middle + timedelta(days=1), last, school)
    assert whole == left + right
    assert len(CAL.school_days(first, last, school)) == whole


@given(
    day=st.one_of(
        st.dates(max_value=FIRST - timedelta(days=1)),
        st.dates(min_value=LAST + timedelta(days=1)),
    ),
    school=schools,
)
def test_every_question_outside_the_calendar_raises(day: date, school: str | None) -> None:
    prefix = STARTS if day < FIRST else ENDS
    with pytest.raises(CalendarEndsError, match=f"^{prefix}"):
        CAL.is_school_day(day, school)
    with pytest.raises(CalendarEndsError, match=f"^{prefix}"):
        CAL.count_school_days(min(day, FIRST), max(day, LAST), school)
    with pytest.raises(CalendarEndsError, match=f"^{prefix}"):
        CAL.nth_school_day(day, 1, school)
