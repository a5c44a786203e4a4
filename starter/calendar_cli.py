"""`cme calendar`: officers' school-day questions answered from the configured calendar.

cme calendar is-school-day 2025-11-03 --school 8512000
cme calendar nth 2025-10-20 10          # the 10th school day counting 20 Oct as day 1
cme calendar after 2025-10-24 15        # the 15th school day after 24 Oct
cme calendar count 2025-10-20 2025-11-07
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path
from typing import Any

from domain.calendar import CalendarError, SchoolCalendar, human_date
from settings import Settings
from starter.args import laestab_arg
from starter.errors import CliError


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2025-11-03") from None


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days, 1 or more")
    return int(text)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("calendar", help="school-day questions from the calendar")
    questions = parser.add_subparsers(dest="question", required=True, metavar="QUESTION")

    def add(name: str, help: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = questions.add_parser(name, help=help)
        p.add_argument(
            "--school",
            type=laestab_arg,
            metavar="LAESTAB",
            help="count that school's INSET days too",
        )
        p.add_argument("--calendar", type=Path, metavar="FILE", help="another calendar file")
        p.add_argument("--json", action="store_true", help="machine-readable output")
        p.set_defaults(handler=handle)
        return p

    add("is-school-day", "is DATE a school day?").add_argument("day", type=_date, metavar="DATE")
    nth = add("nth", "the Nth school day counting DAY1 as day 1")
    nth.add_argument("day", type=_date, metavar="DAY1")
    nth.add_argument("n", type=_positive, metavar="N")
    after = add("after", "the Nth school day after DATE")
    after.add_argument("day", type=_date, metavar="DATE")
    after.add_argument("n", type=_positive, metavar="N")
    count = add("count", "how many school days from FROM to TO, both included")
    count.add_argument("day", type=_date, metavar="FROM")
    count.add_argument("to", type=_date, metavar="TO")


async def handle(args: argparse.Namespace, settings: Settings) -> int:
    try:
        calendar = SchoolCalendar.load(args.calendar or settings.calendar_file)
        answer, text = _answer(args, calendar)
    except CalendarError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        print(json.dumps({"question": args.question, "school": args.school, "answer": answer}))
    else:
        print(text)
    return 0


def _answer(args: argparse.Namespace, calendar: SchoolCalendar) -> tuple[Any, str]:
    school, day = args.school, args.day
    where = f" at {school}" if school else f" in {calendar.la_name}"
    match args.question:
        case "is-school-day":
            yes = calendar.is_school_day(day, school)
            return yes, f"{human_date(day)} is {'' if yes else 'not '}a school day{where}"
        case "nth":
            result = calendar.nth_school_day(day, args.n, school)
            return result.isoformat(), (
                f"school day {args.n} counting {human_date(day)} as day 1 is "
                f"{result:%a} {human_date(result)}{where}"
            )
        case "after":
            result = calendar.school_day_after(day, args.n, school)
            return result.isoformat(), (
                f"school day {args.n} after {human_date(day)} is {result:%a} "
                f"{human_date(result)}{where}"
            )
        case _:
            n = calendar.count_school_days(day, args.to, school)
            return n, (
                f"{n} school days from {human_date(day)} to {human_date(args.to)}{where}, "
                "both included"
            )
