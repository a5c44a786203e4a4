"""`cme calendar` answers officers' date questions from the shipped Portsmouth calendar."""

from __future__ import annotations

import json

import pytest

from domain.calendar import DEFAULT_CALENDAR_PATH
from starter.cli import main


@pytest.fixture(autouse=True)
def portsmouth(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CME_CALENDAR_FILE", str(DEFAULT_CALENDAR_PATH))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["calendar", *argv])
    out, err = capsys.readouterr()
    return code, out.strip(), err.strip()


def test_nth_school_day_skips_half_term_and_the_schools_inset_day(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(capsys, "nth", "2025-10-20", "10") == (
        0,
        "school day 10 counting 20 Oct 2025 as day 1 is Fri 7 Nov 2025 in Portsmouth",
        "",
    )
    code, out, _ = run(capsys, "nth", "2025-10-20", "10", "--school", "8512000", "--json")
    assert code == 0
    assert json.loads(out) == {"question": "nth", "school": "8512000", "answer": "2025-11-10"}


def test_is_school_day_after_and_count(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "is-school-day", "2026-05-04")[1] == (
        "4 May 2026 is not a school day in Portsmouth"
    )
    assert run(capsys, "is-school-day", "2025-11-03", "--school", "8512000")[1] == (
        "3 Nov 2025 is not a school day at 8512000"
    )
    assert run(capsys, "after", "2025-12-19", "1")[1] == (
        "school day 1 after 19 Dec 2025 is Mon 5 Jan 2026 in Portsmouth"
    )
    _, out, _ = run(capsys, "count", "2025-10-20", "2025-11-07", "--json")
    assert json.loads(out)["answer"] == 10


def test_past_the_calendar_is_one_line_and_a_non_zero_exit(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "nth", "2026-07-13", "9")
    assert code == 1 and out == ""
    assert err == (
        "cme: error: calendar ends on 22 Jul 2026: school day 9 counted from 13 Jul 2026 falls "
        "after it"
    )


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["calendar", "nth", "2025-13-01", "10"])
    assert exit_.value.code == 2
    assert "'2025-13-01' is not a date like 2025-11-03" in capsys.readouterr().err
