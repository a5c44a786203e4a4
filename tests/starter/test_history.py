"""`cme history`: the case's own log in words, who did each thing in which role and when; the
service, never a person, for what a deadline did."""

from __future__ import annotations

import re

import pytest

from domain.calendar import human_date
from tests.starter.conftest import Cli, eventually, school_days_back, settled
from tests.workflows.harness import school_referral

pytestmark = pytest.mark.asyncio(loop_scope="session")

LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d)  (.+?): (.+)$")


async def test_history_is_the_case_log_with_the_service_acting_on_deadlines(cli: Cli) -> None:
    day1 = school_days_back(cli.calendar, cli.today, 12)  # past day 10 at once: referred to SAT
    referral = school_referral(today=cli.today, day1=day1)
    case = await cli.open("late.json", referral, "--by", "Ms A")

    async def referred() -> None:
        assert (await cli.ok("show", case, "--json")).json()["stage"] == "la_investigation"

    await eventually(referred)
    handle = cli.client.get_workflow_handle(case)
    await settled(handle)
    await cli.ok("concern", case, "Seen with an unknown adult", "--by", "Ms A")
    await cli("authorise", case, "9(1)(i)", "--by", "Officer X")  # rejected: leaves no trace
    await cli.ok("withdraw", case, "duplicate", "--by", "Lead Y")
    await settled(handle)

    run = await cli.ok("history", case)

    head, *lines = run.out_lines
    assert head == f"case {case}, episode 1: {len(lines)} events (times in UK local time)"
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), lines
    entries = [(m.group(2), m.group(3)) for m in parsed if m]
    day10 = human_date(cli.calendar.nth(day1, 10))
    expected_in_order = [
        (
            "Ms A (school)",
            "case opened (episode 1): school CME referral (destination not verified); "
            "destination not verified, stage school enquiries",
        ),
        ("CME service", "task 1 opened: school enquiries (for the school)"),
        ("CME service", f"deadline set: referral to SAT (end of day 10): {day10}"),
        ("CME service", "stage now LA investigation (was school enquiries)"),
        (
            "CME service",
            f"escalated (referred to SAT): no contact by the end of school day 10 ({day10})",
        ),
        ("CME service", "email queued: referral to SAT (to SAT)"),
        ("CME service", "email sent: referral to SAT"),
        ("Ms A (school)", "safeguarding concern raised: Seen with an unknown adult"),
        ("Lead Y (team leader)", "stage now closed (was LA investigation)"),
        ("Lead Y (team leader)", "case closed: duplicate"),
    ]
    positions = [entries.index(entry) for entry in expected_in_order]
    assert positions == sorted(positions), lines
    # the deadline moved the case on: the service did, not the school that referred it
    [stage_change] = [e for e in entries if e[1].startswith("stage now LA investigation")]
    assert stage_change[0] == "CME service"
    assert not [what for _, what in entries if "authoris" in what]  # the refusal left no trace

    entries_json = (await cli.ok("history", case, "--json")).json()
    assert [e["what"] for e in entries_json] == [what for _, what in entries]
    assert all(
        set(e) == {"seq", "at", "who", "role", "actor", "type", "what"} for e in entries_json
    )
    assert [e["seq"] for e in entries_json] == list(range(1, len(entries_json) + 1))
    [timer] = [e for e in entries_json if e["type"] == "stage_changed" and "now LA" in e["what"]]
    assert (timer["who"], timer["role"]) == ("CME service", "service")
    assert entries_json[0]["at"].startswith(str(cli.today.year))
    assert entries_json[0]["at"][-6:] in ("+00:00", "+01:00")  # UK local time


async def test_history_of_an_episode_the_case_never_had_is_one_line(cli: Cli) -> None:
    referral = school_referral(
        today=cli.today, day1=cli.calendar.first_school_day_on_or_before(cli.today)
    )
    case = await cli.open("school.json", referral)

    async def no_episode_2() -> None:
        run = await cli("history", case, "--episode", "2")
        assert (run.code, run.err_lines) == (1, [f"cme: error: case {case} has no episode 2"])

    await eventually(no_episode_2)
    bad = await cli("history", case, "--episode", "0")
    assert bad.code == 2
    assert bad.err_lines[0].startswith("cme history: error: argument --episode: '0' is not")
