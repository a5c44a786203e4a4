"""`cme show`, `cme cases`, `cme history` against cases run by a real worker."""

from __future__ import annotations

from typing import Any

import pytest

from domain.calendar import human_date
from starter.inspect import cases_query
from tests.starter.conftest import Cli, eventually, school_days_back, settled
from tests.workflows.harness import (
    SCHOOL,
    migration_return,
    professional_referral,
    school_referral,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_show_json_has_the_case_file(cli: Cli) -> None:
    referral = school_referral(
        today=cli.today, day1=cli.calendar.first_school_day_on_or_before(cli.today), cp=True
    )
    case = await cli.open("school.json", referral, "--by", "Ms A")

    shown = (await cli.ok("show", case, "--json")).json()

    assert {
        "case",
        "kind",
        "stage",
        "rulebook",
        "deadlines",
        "tasks",
        "escalations",
        "outcome",
    } <= set(shown)
    assert shown["case"] == case
    assert shown["kind"] == "destination_not_verified"
    assert shown["stage"] == "school_enquiries"
    assert shown["rulebook"] == "2024"
    assert shown["child_protection"] is True
    mash_due = cli.calendar.after(cli.today, 1)
    assert shown["deadlines"]["mash_call"] == mash_due.isoformat()
    assert (
        shown["deadlines"]["sat_referral"]
        == cli.calendar.nth(referral.first_day_of_absence, 10).isoformat()
    )
    assert [(t["name"], t["status"], t["due"]) for t in shown["tasks"]] == [
        ("school_enquiries", "open", None),
        ("phone_mash", "open", mash_due.isoformat()),
    ]
    [escalation] = shown["escalations"]
    assert escalation["kind"] == "mash"
    assert escalation["raised_by"] == "Ms A (school)"
    assert shown["outcome"] is None
    assert shown["child"]["name"] == f"{referral.pupil.first_name} {referral.pupil.last_name}"


async def test_show_text_is_the_readable_case_file(cli: Cli) -> None:
    referral = school_referral(
        today=cli.today, day1=cli.calendar.first_school_day_on_or_before(cli.today)
    )
    case = await cli.open("school.json", referral)

    lines = (await cli.ok("show", case)).out_lines

    assert lines[0] == f"case {case}: destination not verified"
    assert "  stage:             school enquiries" in lines
    assert f"  school:            {SCHOOL}" in lines
    assert "  child protection:  no" in lines
    # the case file names the child: officers work from it
    pupil = referral.pupil
    assert any(pupil.last_name in line and "born" in line for line in lines)
    day10 = cli.calendar.nth(referral.first_day_of_absence, 10)
    assert any(line.strip() == f"sat referral        {human_date(day10)}" for line in lines)
    assert "  1. school enquiries (school): open, no due date" in lines
    assert lines[-1] == "outcome: none yet"


async def test_show_of_a_closed_case_gives_its_outcome(cli: Cli) -> None:
    case = await cli.open("return.json", migration_return(today=cli.today, leaving_date=cli.today))
    await cli.ok("ctf", case, "8512001", "--by", "Ms A")
    await cli.ok("authorise", case, "9(1)(a)", "--by", "Officer X")
    await cli.client.get_workflow_handle(case).result()

    shown = (await cli.ok("show", case, "--json")).json()
    outcome = shown["outcome"]
    assert {
        "decision": outcome["decision"],
        "ground": outcome["ground"],
        "ground_other_rulebook": outcome["ground_other_rulebook"],
        "earliest_deletion_date": outcome["earliest_deletion_date"],
        "ctf_destination": outcome["ctf_destination"],
    } == {
        "decision": "deletion_authorised",
        "ground": "9(1)(a)",
        "ground_other_rulebook": "8(1)(b)",
        "earliest_deletion_date": cli.today.isoformat(),
        "ctf_destination": "8512001",
    }
    text = (await cli.ok("show", case)).out_lines
    assert text[-1].startswith("outcome: deletion authorised on ground 9(1)(a) (")
    assert text[-1].endswith("; CTF to 8512001; by Officer X (CME officer)")


@pytest.mark.parametrize("command", ["show", "history"])
async def test_an_unknown_case_is_one_line(cli: Cli, command: str) -> None:
    run = await cli(command, "cme-000000000000")
    assert (run.code, run.out, run.err_lines) == (1, "", ["cme: error: no case CME-000000000000"])


@pytest.mark.parametrize(
    "argv", [["show", "CME-000000000000"], ["cases"], ["history", "cme-00000000000a"]]
)
async def test_read_commands_with_the_server_down_are_one_line(cli: Cli, argv: list[str]) -> None:
    cli.server_down()
    run = await cli(*argv)
    assert run.code == 1
    assert run.out == ""
    assert len(run.err_lines) == 1
    assert run.err_lines[0].startswith("cme: error: cannot reach Temporal at 127.0.0.1:")


async def test_the_cases_query_is_built_from_the_filters() -> None:
    assert cases_query() == "WorkflowType = 'CmeCase'"
    assert cases_query(
        kind="not_on_roll",
        stage="la_investigation",
        school="8512000",
        overdue=True,
        child_protection=True,
    ) == (
        "WorkflowType = 'CmeCase' AND CmeCaseKind = 'not_on_roll' AND CmeStage = "
        "'la_investigation' AND CmeSchool = '8512000' AND CmeOverdue = true AND "
        "CmeChildProtection = true"
    )


async def test_cases_lists_and_filters_without_naming_children(cli: Cli) -> None:
    school = school_referral(
        today=cli.today, day1=cli.calendar.first_school_day_on_or_before(cli.today), cp=True
    )
    late_return = migration_return(
        today=cli.today, leaving_date=school_days_back(cli.calendar, cli.today, 18)
    )  # its CTF was due 15 school days after leaving: overdue already
    professional = professional_referral(today=cli.today)
    cp_case = await cli.open("school.json", school)
    overdue_case = await cli.open("return.json", late_return)
    not_on_roll_case = await cli.open("professional.json", professional)
    mine = {cp_case, overdue_case, not_on_roll_case}

    async def lists(expected: set[str], *filters: str) -> None:
        """``cme cases`` with ``filters`` lists ``expected`` of this test's cases (visibility
        lags about a second behind the workflows: poll)."""

        async def check() -> None:
            rows: list[dict[str, Any]] = (await cli.ok("cases", "--json", *filters)).json()
            assert {row["case"] for row in rows} & mine == expected

        await eventually(check)

    await lists(mine)
    await lists({cp_case}, "--child-protection")
    await lists({overdue_case}, "--overdue")
    await lists({not_on_roll_case}, "--kind", "not_on_roll")
    await lists({overdue_case}, "--stage", "awaiting_ctf")
    await lists({cp_case, overdue_case}, "--school", SCHOOL)
    await lists({overdue_case}, "--school", SCHOOL, "--kind", "destination_verified")

    rows = {row["case"]: row for row in (await cli.ok("cases", "--json")).json()}
    assert rows[cp_case]["child_protection"] is True
    assert rows[cp_case]["next_deadline"] == cli.calendar.after(cli.today, 1).isoformat()
    assert rows[overdue_case]["overdue"] is True
    assert rows[not_on_roll_case]["school"] is None

    table = (await cli.ok("cases")).out_lines
    assert table[0].split() == [
        "CASE",
        "KIND",
        "STAGE",
        "SCHOOL",
        "CP",
        "NEXT",
        "DEADLINE",
        "OVERDUE",
    ]
    [cp_line] = [line for line in table if line.startswith(cp_case)]
    assert "destination not verified" in cp_line and " CP " in cp_line
    [overdue_line] = [line for line in table if line.startswith(overdue_case)]
    assert overdue_line.endswith("OVERDUE")
    assert table.index(overdue_line) < table.index(cp_line)  # overdue cases on top
    output = "\n".join(table)
    for child in (school.pupil, late_return.pupil, professional.child):
        assert child.last_name not in output
        assert child.first_name not in output


async def test_cases_with_a_bad_filter_is_one_line(cli: Cli) -> None:
    run = await cli("cases", "--school", "PO1")
    assert run.code == 2
    assert run.err_lines[0].startswith("cme cases: error: argument --school: 'PO1'")
    assert len(run.err_lines) == 1


async def test_history_is_a_managers_timeline(cli: Cli) -> None:
    day1 = school_days_back(cli.calendar, cli.today, 12)  # past day 10 at once: referred to SAT
    referral = school_referral(today=cli.today, day1=day1)
    case = await cli.open("late.json", referral, "--by", "Ms A")

    async def referred() -> None:
        assert (await cli.ok("show", case, "--json")).json()["stage"] == "la_investigation"

    await eventually(referred)
    handle = cli.client.get_workflow_handle(case)
    await settled(handle)  # each step's emails out before the next: a fixed order to check
    await cli.ok("concern", case, "Seen with an unknown adult", "--by", "Ms A")
    await cli("authorise", case, "9(1)(i)", "--by", "Officer X")  # rejected: leaves no trace
    await settled(handle)
    await cli.ok("withdraw", case, "duplicate", "--by", "Lead Y")
    await handle.result()

    run = await cli.ok("history", case)

    lines = run.out_lines
    assert lines[0].startswith(f"case {case}: ")
    whats = [line[18:] for line in lines[1:]]  # after "YYYY-MM-DD HH:MM  "
    day10 = human_date(cli.calendar.nth(day1, 10))
    expected_in_order = [
        "referral received from Ms A (school): school CME referral (destination not verified); "
        "case opened at stage school enquiries",
        f"referred to the School Attendance Team: no contact by the end of school day 10 ({day10})",
        "email sent: Referred to the School Attendance Team: no contact by school day 10 "
        f"({day10}) (to SAT)",
        "stage now LA investigation",
        "safeguarding concern raised by Ms A (school): Seen with an unknown adult",
        "email sent: Safeguarding: child missing education referred to MASH (to MASH, SAT)",
        "case withdrawn by Lead Y (team leader): duplicate",
        "email sent: Written outcome: case closed, no deletion (to school 8512000, SAT)",
        "case closed: duplicate (decided by Lead Y)",
    ]
    positions = [whats.index(what) for what in expected_in_order]
    assert positions == sorted(positions), lines
    assert not [w for w in whats if "authoris" in w]  # the rejected request is not history
    assert all(line[:4].isdigit() and line[16:18] == "  " for line in lines[1:])

    entries = (await cli.ok("history", case, "--json")).json()
    assert [entry["what"] for entry in entries] == whats
    assert all(set(entry) == {"at", "actor", "what"} for entry in entries)
    assert entries[0]["actor"] == "Ms A (school)"
    assert entries[-1]["actor"] == "Lead Y (team leader)"
