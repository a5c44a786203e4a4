"""School-day calendar of a local authority.

A school day is a weekday inside one of the LA's terms that is not an LA-wide closure (half term and
the like), not an English bank holiday (from the ``holidays`` package, never listed by hand) and not
one of the school's own INSET days. Every question about a date outside the calendar's terms raises
:class:`CalendarEndsError`: the calendar never guesses what lies beyond it.

The calendar file is TOML::

    la_code = 851
    la_name = "Portsmouth"
    [[term]]
    name = "Autumn 2025"
    first_day = 2025-09-03
    last_day = 2025-12-19
    closures = [[2025-10-27, 2025-10-31]]   # inclusive ranges
    [inset]
    "8512000" = [2025-11-03]
"""

from __future__ import annotations

import bisect
import functools
import importlib.util
import itertools
import re
import sys
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import holidays

# ``human_date`` lives with the clock (light: `cme cases` writes dates without loading `holidays`).
from domain.clock import human_date as human_date

DEFAULT_CALENDAR_PATH = Path(__file__).parent / "calendars" / "portsmouth-2025-26.toml"
# The LA's running calendar: 2025/26 and the provisional 2026/27 (the service's default).
LA_CALENDAR_PATH = Path(__file__).parent / "calendars" / "portsmouth.toml"

# ASCII digits only: ``\d`` would also accept other scripts' digits.
_LAESTAB = re.compile(r"[0-9]{7}")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

_TOP_LEVEL_KEYS = frozenset({"la_code", "la_name", "term", "inset"})
_TERM_KEYS = frozenset({"name", "first_day", "last_day", "closures"})


class CalendarError(ValueError):
    """A calendar question or file that cannot be answered or loaded."""


class CalendarFileError(CalendarError):
    """The calendar file is wrong; ``line`` is the 1-based line at fault, when known."""

    def __init__(self, source: str, line: int | None, problem: str) -> None:
        self.source = source
        self.line = line
        self.problem = problem
        where = f"{source}, line {line}" if line else source
        super().__init__(f"{where}: {problem}")


class CalendarEndsError(CalendarError):
    """The question reaches beyond the calendar's first or last term."""


class NotASchoolDayError(CalendarError):
    """A date that must be a school day is not one."""


@dataclass(frozen=True)
class Term:
    name: str
    first_day: date
    last_day: date
    closures: tuple[tuple[date, date], ...] = ()

    def is_closed(self, d: date) -> bool:
        return any(start <= d <= end for start, end in self.closures)


def england_bank_holidays(years: Iterable[int]) -> Iterable[date]:
    """England's bank holidays in ``years``, from `holidays`' United Kingdom calendar."""
    days: Iterable[date] = _united_kingdom()(subdiv="ENG", years=years)
    return days


def _united_kingdom() -> Any:
    """`holidays`' United Kingdom class. ``holidays.country_holidays`` first imports the package
    of every country (about 280 modules: a tenth of a second, most of ``cme calendar``'s start-up,
    issue 11), so when that package is not imported yet, this one module is loaded from its file
    on its own: the same class, the same days. Should `holidays` ever move it, the documented way
    is taken."""
    name = "holidays.countries.united_kingdom"
    module = sys.modules.get(name)
    if module is None and "holidays.countries" not in sys.modules:
        path = Path(holidays.__file__).parent / "countries" / "united_kingdom.py"
        spec = importlib.util.spec_from_file_location(name, path)
        if path.is_file() and spec is not None and spec.loader is not None:
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            try:
                spec.loader.exec_module(module)
            except Exception:
                del sys.modules[name]
                module = None
    uk = getattr(module, "UnitedKingdom", None)
    if uk is None:
        return functools.partial(holidays.country_holidays, "GB")
    return uk


@dataclass
class SchoolCalendar:
    la_code: int
    la_name: str
    terms: tuple[Term, ...]
    inset: dict[str, frozenset[date]] = field(default_factory=dict)
    # England's bank holidays within the terms; worked out with `holidays` when not given. A
    # snapshot passes them in so a workflow replays the same days whatever `holidays` version runs.
    bank_holidays: frozenset[date] | None = None
    _la_days: list[date] = field(init=False, repr=False)
    _school_days: dict[str, list[date]] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        if not self.terms:
            raise CalendarError("a calendar needs at least one term")
        # Everything below (bounds, bisect) relies on the terms being in date order.
        self.terms = tuple(sorted(self.terms, key=lambda t: t.first_day))
        if self.bank_holidays is None:
            years = range(self.first_day.year, self.last_day.year + 1)
            england = england_bank_holidays(years)
            self.bank_holidays = frozenset(
                d for d in england if self.first_day <= d <= self.last_day
            )
        days: list[date] = []
        for term in self.terms:
            d = term.first_day
            while d <= term.last_day:
                if d.weekday() < 5 and not term.is_closed(d) and d not in self.bank_holidays:
                    days.append(d)
                d += timedelta(days=1)
        self._la_days = days

    # -- loading -------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path | str) -> SchoolCalendar:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            problem = f"cannot read the file ({exc.strerror})"
            raise CalendarFileError(str(path), None, problem) from exc
        return cls.loads(text, source=str(path))

    @classmethod
    def loads(cls, text: str, source: str = "<calendar>") -> SchoolCalendar:
        return _Parser(text, source).parse()

    # -- bounds ----------------------------------------------------------------------------------

    @property
    def first_day(self) -> date:
        return self.terms[0].first_day

    @property
    def last_day(self) -> date:
        return self.terms[-1].last_day

    def _check_in_range(self, d: date, what: str) -> None:
        if d > self.last_day:
            raise CalendarEndsError(
                f"calendar ends on {human_date(self.last_day)}: {what} is after it"
            )
        if d < self.first_day:
            raise CalendarEndsError(
                f"calendar starts on {human_date(self.first_day)}: {what} is before it"
            )

    def _days(self, school: str | None) -> list[date]:
        if school is None or school not in self.inset:
            return self._la_days
        cached = self._school_days.get(school)
        if cached is None:
            closed = self.inset[school]
            cached = [d for d in self._la_days if d not in closed]
            self._school_days[school] = cached
        return cached

    # -- questions -------------------------------------------------------------------------------

    def is_school_day(self, d: date, school: str | None = None) -> bool:
        """Whether ``d`` is a school day for ``school`` (LAESTAB), or LA-wide when ``None``."""
        self._check_in_range(d, human_date(d))
        days = self._days(school)
        i = bisect.bisect_left(days, d)
        return i < len(days) and days[i] == d

    def nth_school_day(self, day1: date, n: int, school: str | None = None) -> date:
        """The ``n``-th school day counting the school day ``day1`` as day 1."""
        if n < 1:
            raise ValueError("n must be 1 or more")
        if not self.is_school_day(day1, school):
            raise NotASchoolDayError(f"{human_date(day1)} is not a school day")
        days = self._days(school)
        i = bisect.bisect_left(days, day1) + n - 1
        if i >= len(days):
            raise CalendarEndsError(
                f"calendar ends on {human_date(self.last_day)}: school day {n} counted from "
                f"{human_date(day1)} falls after it"
            )
        return days[i]

    def school_day_after(self, d: date, n: int = 1, school: str | None = None) -> date:
        """The ``n``-th school day strictly after ``d`` (``d`` itself need not be a school day)."""
        if n < 1:
            raise ValueError("n must be 1 or more")
        self._check_in_range(d, human_date(d))
        days = self._days(school)
        i = bisect.bisect_right(days, d) + n - 1
        if i >= len(days):
            raise CalendarEndsError(
                f"calendar ends on {human_date(self.last_day)}: school day {n} after "
                f"{human_date(d)} falls after it"
            )
        return days[i]

    def count_school_days(self, start: date, end: date, school: str | None = None) -> int:
        """How many school days lie between ``start`` and ``end``, both included."""
        self._check_in_range(start, human_date(start))
        self._check_in_range(end, human_date(end))
        if end < start:
            return 0
        days = self._days(school)
        return bisect.bisect_right(days, end) - bisect.bisect_left(days, start)

    def school_days(self, start: date, end: date, school: str | None = None) -> list[date]:
        """The school days from ``start`` to ``end`` inclusive."""
        self.count_school_days(start, end, school)  # range checks
        days = self._days(school)
        return days[bisect.bisect_left(days, start) : bisect.bisect_right(days, end)]


class _Parser:
    """Reads the TOML and turns each mistake into an error naming the line at fault.

    ``tomllib`` gives values but not where they are, so lines are found in the text. Table
    headers are found with a small scanner that skips strings, comments and multi-line arrays
    (a closure ``[2025-10-27, 2025-10-31]`` on a line of its own is not a header).
    """

    def __init__(self, text: str, source: str) -> None:
        self.text = text
        self.source = source
        self.lines = text.splitlines()
        self.headers: list[tuple[int, str, bool]] = []

    def fail(self, line: int | None, problem: str) -> CalendarFileError:
        return CalendarFileError(self.source, line, problem)

    def find_line(self, pattern: str, start: int = 1, end: int | None = None) -> int | None:
        """First 1-based line from ``start`` (up to ``end``) matching the regex ``pattern``."""
        rx = re.compile(pattern)
        stop = len(self.lines) if end is None else min(end, len(self.lines))
        for no in range(start, stop + 1):
            if rx.search(self.lines[no - 1]):
                return no
        return None

    def key_line(self, key: str, start: int = 1, end: int | None = None) -> int | None:
        """Line of ``key = ...`` (bare or quoted key) from ``start`` up to ``end``."""
        return self.find_line(rf"^\s*([\"']?){re.escape(key)}\1\s*=", start, end)

    def section_end(self, header_line: int) -> int:
        """Last line of the table whose header is on ``header_line``."""
        later = [no for no, _, _ in self.headers if no > header_line]
        return later[0] - 1 if later else len(self.lines)

    def term_blocks(self) -> list[tuple[int, int]]:
        """(first line, last line) of each ``[[term]]`` block."""
        return [
            (no, self.section_end(no))
            for no, name, array in self.headers
            if array and name == "term"
        ]

    def table(self, name: str) -> tuple[int, int] | None:
        """(header line, last line) of the table ``[name]``, if the file has one."""
        for no, header, array in self.headers:
            if not array and header == name:
                return no, self.section_end(no)
        return None

    def as_date(self, value: Any, line: int | None, what: str) -> date:
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        if isinstance(value, str) and _ISO_DATE.fullmatch(value):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        raise self.fail(line, f"{what} must be a date like 2025-09-03, not {value!r}")

    def parse(self) -> SchoolCalendar:
        try:
            data = tomllib.loads(self.text)
        except tomllib.TOMLDecodeError as exc:
            m = re.search(r"line (\d+)", str(exc))
            raise self.fail(int(m.group(1)) if m else None, f"not valid TOML: {exc}") from exc
        self.headers = _table_headers(self.lines)

        for key in data:
            if key not in _TOP_LEVEL_KEYS:
                line = self.key_line(key) or self.find_line(rf"^\s*\[+\s*{re.escape(key)}\b")
                raise self.fail(line, f"unknown setting {key!r}")

        la_code = data.get("la_code")
        if not isinstance(la_code, int) or isinstance(la_code, bool) or not 100 <= la_code <= 999:
            raise self.fail(self.key_line("la_code"), "la_code must be the LA's 3-digit number")
        la_name = data.get("la_name")
        if not isinstance(la_name, str) or not la_name.strip():
            raise self.fail(self.key_line("la_name"), "la_name must be the LA's name")

        raw_terms = data.get("term")
        if not isinstance(raw_terms, list) or not raw_terms:
            raise self.fail(
                self.find_line(r"^\s*\[?\s*term\b"), "the calendar needs its terms, each a [[term]]"
            )
        blocks = self.term_blocks()
        if len(blocks) != len(raw_terms):
            # Terms written as an inline array (``term = [...]``): lines are only known roughly.
            at = self.key_line("term") or 1
            blocks = [(at, at)] * len(raw_terms)
        terms = [self.parse_term(raw, block) for raw, block in zip(raw_terms, blocks, strict=True)]

        # Sorting is stable, so of two terms starting together the one written later is blamed.
        order = sorted(range(len(terms)), key=lambda k: terms[k].first_day)
        for a, b in itertools.pairwise(order):
            before, after = terms[a], terms[b]
            if after.first_day <= before.last_day:
                start, end = blocks[b]
                raise self.fail(
                    self.key_line("first_day", start, end) or start,
                    f"term {after.name!r} overlaps term {before.name!r}",
                )

        la_wide = SchoolCalendar(la_code=la_code, la_name=la_name, terms=tuple(terms))
        inset = self.parse_inset(data.get("inset", {}), la_wide)
        return SchoolCalendar(la_code=la_code, la_name=la_name, terms=la_wide.terms, inset=inset)

    def parse_term(self, raw: Any, block: tuple[int, int]) -> Term:
        start, end = block
        if not isinstance(raw, dict):
            raise self.fail(start, "each term must be a table with name, first_day and last_day")

        def line_of(key: str) -> int:
            return self.key_line(key, start, end) or start

        for key in raw:
            if key not in _TERM_KEYS:
                # A misspelt "closures" would silently turn half term into school days.
                raise self.fail(line_of(key), f"unknown term setting {key!r}")
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip():
            raise self.fail(line_of("name"), "each [[term]] needs a name")
        for key in ("first_day", "last_day"):
            if key not in raw:
                raise self.fail(start, f"term {name!r} has no {key}")
        first = self.as_date(raw["first_day"], line_of("first_day"), "first_day")
        last = self.as_date(raw["last_day"], line_of("last_day"), "last_day")
        if last < first:
            raise self.fail(line_of("last_day"), f"term {name!r} ends before it starts")
        raw_closures = raw.get("closures", [])
        if not isinstance(raw_closures, list):
            raise self.fail(line_of("closures"), "closures must be a list of [first, last] dates")
        closures = []
        cursor = line_of("closures")
        for item in raw_closures:
            # A closure may sit on a line of its own: point at the line where it opens.
            line = cursor
            if isinstance(item, list) and item:
                opening = r"\[\s*[\"']?" + re.escape(_text_of(item[0]))
                line = cursor = self.find_line(opening, cursor, end) or cursor
            if not isinstance(item, list) or len(item) != 2:
                raise self.fail(line, "each closure must be [first day, last day]")
            c_first = self.as_date(item[0], line, "a closure's first day")
            c_last = self.as_date(item[1], line, "a closure's last day")
            if c_last < c_first:
                raise self.fail(line, "a closure ends before it starts")
            if c_first < first or c_last > last:
                raise self.fail(
                    line,
                    f"closure {c_first.isoformat()} to {c_last.isoformat()} is outside term "
                    f"{name!r} ({first.isoformat()} to {last.isoformat()})",
                )
            closures.append((c_first, c_last))
        return Term(name=name, first_day=first, last_day=last, closures=tuple(closures))

    def parse_inset(self, raw: Any, la_wide: SchoolCalendar) -> dict[str, frozenset[date]]:
        start, end = self.table("inset") or (1, len(self.lines))
        if not isinstance(raw, dict):
            raise self.fail(
                self.key_line("inset") or start,
                "[inset] must map a school's LAESTAB to a list of dates",
            )
        inset: dict[str, frozenset[date]] = {}
        for laestab, days in raw.items():
            line = self.key_line(laestab, start, end) or start
            if not _LAESTAB.fullmatch(laestab):
                raise self.fail(line, f"{laestab!r} is not a LAESTAB (7 digits)")
            if not laestab.startswith(str(la_wide.la_code)):
                raise self.fail(
                    line, f"{laestab} is not a school of LA {la_wide.la_code} (wrong LAESTAB?)"
                )
            if not isinstance(days, list):
                raise self.fail(line, f"INSET days of {laestab} must be a list of dates")
            parsed: set[date] = set()
            cursor = line
            for item in days:
                # The list may span lines: point at the line holding this date.
                at = cursor = self.find_line(re.escape(_text_of(item)), cursor, end) or cursor
                d = self.as_date(item, at, f"an INSET day of {laestab}")
                if not _in_any_term(d, la_wide.terms):
                    raise self.fail(at, f"INSET day {d.isoformat()} of {laestab} is not in a term")
                if not la_wide.is_school_day(d):
                    raise self.fail(
                        at,
                        f"INSET day {d.isoformat()} of {laestab} is not a school day anyway "
                        "(weekend, closure or bank holiday)",
                    )
                parsed.add(d)
            inset[laestab] = frozenset(parsed)
        return inset


def _in_any_term(d: date, terms: Iterable[Term]) -> bool:
    return any(t.first_day <= d <= t.last_day for t in terms)


def _text_of(value: Any) -> str:
    """How a TOML value is most likely spelt in the file, to find its line."""
    return value.isoformat() if isinstance(value, date) else str(value)


def _table_headers(lines: Sequence[str]) -> list[tuple[int, str, bool]]:
    """(1-based line, dotted name, is ``[[array]]``) of each table header of a valid TOML text."""
    headers: list[tuple[int, str, bool]] = []
    depth = 0  # open [ and { of multi-line values
    open_string: str | None = None  # the closing quotes of a multi-line string
    for no, line in enumerate(lines, start=1):
        stripped = line.lstrip()
        if depth == 0 and open_string is None and stripped.startswith("["):
            array = stripped.startswith("[[")
            inner = stripped[2:] if array else stripped[1:]
            inner = inner.split("]", 1)[0]
            parts = (part.strip().strip("\"'") for part in inner.split("."))
            headers.append((no, ".".join(parts), array))
            continue
        depth, open_string = _scan(line, depth, open_string)
    return headers


def _scan(line: str, depth: int, open_string: str | None) -> tuple[int, str | None]:
    """Bracket depth and open multi-line string after ``line``, skipping strings and comments."""
    i = 0
    while i < len(line):
        if open_string is not None:
            close = line.find(open_string, i)
            if close < 0:
                return depth, open_string
            i, open_string = close + 3, None
            continue
        c = line[i]
        if c == "#":
            break
        if line.startswith(('"""', "'''"), i):
            open_string = line[i : i + 3]
            i += 3
        elif c == '"':
            i += 1
            while i < len(line) and line[i] != '"':
                i += 2 if line[i] == "\\" else 1
            i += 1
        elif c == "'":
            close = line.find("'", i + 1)
            i = (close if close >= 0 else len(line)) + 1
        else:
            if c in "[{":
                depth += 1
            elif c in "]}":
                depth -= 1
            i += 1
    return depth, open_string
