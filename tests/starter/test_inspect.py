"""`cme show` and `cme cases` against cases run by a real worker: what an officer or a manager
sees."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from domain.calendar import human_date
from starter.case_list_cli import cases_query
from tests.starter.conftest import (
    Cli,
    eventually,
    refusing_smtp,
    school_days_back,
    settled,
)
from tests.workflows.harness import (
    OTHER_SCHOOL,
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
    assert (shown["episode"], shown["repeat"], shown["earlier_episodes"]) == (1, False, [])
    assert shown["problems"] == []
    assert shown["return"] is None  # not a destination-verified case
    day20 = cli.calendar.nth(referral.first_day_of_absence, 20)
    assert shown["deadlines"]["threshold_day"] == day20.isoformat()
    assert shown["deadlines"]["deletion_permitted_from"] == cli.calendar.after(day20, 1).isoformat()
    assert shown["deadlines"]["ctf"] is None
    assert shown["deadline_names"] == {
        "sat_referral": "referral to SAT (end of day 10)",
        "threshold_day": "day 20",
        "deletion_permitted_from": "deletion permitted from",
        "ctf": "CTF due",
        "mash_call": "MASH call due",
    }


async def test_show_text_is_the_readable_case_file(cli: Cli) -> None:
    referral = school_referral(
        today=cli.today, day1=cli.calendar.first_school_day_on_or_before(cli.today)
    )
    case = await cli.open("school.json", referral)

    lines = (await cli.ok("show", case)).out_lines

    assert lines[0] == f"case {case}: destination not verified, episode 1"
    assert "  stage:             school enquiries" in lines
    assert f"  school:            {SCHOOL}" in lines
    assert "  child protection:  no" in lines
    # the case file names the child: officers work from it
    pupil = referral.pupil
    assert any(pupil.last_name in line and "born" in line for line in lines)
    day1 = referral.first_day_of_absence
    day10, day20 = cli.calendar.nth(day1, 10), cli.calendar.nth(day1, 20)
    deadlines = lines[lines.index("deadlines:") + 1 : lines.index("tasks:")]
    assert deadlines == [
        f"  referral to SAT (end of day 10)  {human_date(day10)}",
        f"  day 20                           {human_date(day20)}",
        f"  deletion permitted from          {human_date(cli.calendar.after(day20, 1))}",
    ]
    assert "  1. school enquiries (school): open, no due date" in lines
    assert "problems: none" in lines
    assert lines[-1] == "outcome: none yet"


async def test_after_leave_the_threshold_is_day_10_after_leave(cli: Cli) -> None:
    day1 = cli.calendar.first_school_day_on_or_before(cli.today)
    leave_end = school_days_back(cli.calendar, cli.today, 2)  # the school day before day 1
    referral = school_referral(today=cli.today, day1=day1, after_leave_end=leave_end)
    case = await cli.open("leave.json", referral)
    shown = (await cli.ok("show", case, "--json")).json()
    assert shown["deadline_names"]["threshold_day"] == "day 10 after leave"
    day10 = cli.calendar.nth(referral.first_day_of_absence, 10)
    assert shown["deadlines"]["threshold_day"] == day10.isoformat()
    lines = (await cli.ok("show", case)).out_lines
    assert f"  day 10 after leave               {human_date(day10)}" in lines


async def test_show_of_a_verified_return_gives_its_ground_and_ctf_destination(cli: Cli) -> None:
    referral = migration_return(today=cli.today, leaving_date=cli.today)
    case = await cli.open("return.json", referral)

    shown = (await cli.ok("show", case, "--json")).json()
    assert shown["return"] == {
        "ground": "9(1)(a)",
        "ground_title": shown["return"]["ground_title"],
        "ctf_destination": OTHER_SCHOOL,
        "leaving_date": cli.today.isoformat(),
    }
    assert shown["return"]["ground_title"]
    lines = (await cli.ok("show", case)).out_lines
    assert "return (destination verified):" in lines
    assert f"  ground:            9(1)(a) ({shown['return']['ground_title']})" in lines
    assert f"  CTF destination:   {OTHER_SCHOOL}" in lines
    ctf_due = date.fromisoformat(shown["deadlines"]["ctf"])
    assert f"  CTF due  {human_date(ctf_due)}" in lines


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
        "earliest_deletion_date": cli.calendar.nth(cli.today, 1).isoformat(),
        "ctf_destination": "8512001",
    }
    assert shown["return"] is None  # decided: the outcome says it all
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
    both = "WorkflowType IN ('CmeCase', 'CmeCaseV2') AND ExecutionStatus != 'ContinuedAsNew'"
    assert cases_query() == both
    assert cases_query(
        kind="not_on_roll",
        stage="la_investigation",
        school="8512000",
        overdue=True,
        child_protection=True,
        problems=True,
        repeat=True,
    ) == (
        f"{both} AND CmeCaseKind = 'not_on_roll' AND CmeStage = 'la_investigation' AND "
        "CmeSchool = '8512000' AND CmeOverdue = true AND CmeChildProtection = true AND "
        "CmeProblem = true AND CmeEpisode > 1"
    )


async def test_cases_lists_and_filters_without_naming_children(cli: Cli) -> None:
    school = school_referral(
        today=cli.today, day1=cli.calendar.first_school_day_on_or_before(cli.today), cp=True
    )
    deleted = school_days_back(cli.calendar, cli.today, 18)
    late_return = migration_return(
        today=cli.today, leaving_date=deleted, referral_date=deleted
    )  # its CTF was due 15 school days after the deletion: overdue already
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

    assert rows[cp_case]["episode"] == 1 and rows[cp_case]["repeat"] is False
    assert rows[cp_case]["version"] == 2 and rows[cp_case]["problem"] is False

    table = (await cli.ok("cases")).out_lines
    assert table[0].split() == [
        "CASE",
        "EPISODE",
        "KIND",
        "STAGE",
        "SCHOOL",
        "NEXT",
        "DEADLINE",
        "FLAGS",
    ]
    [cp_line] = [line for line in table if line.startswith(cp_case)]
    assert cp_line.split()[1] == "1"
    assert "destination not verified" in cp_line and cp_line.endswith(" CP")
    [overdue_line] = [line for line in table if line.startswith(overdue_case)]
    assert overdue_line.endswith(" OVERDUE")
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


async def test_a_case_with_a_problem_is_listed_shown_and_retried(cli: Cli) -> None:
    referral = school_referral(
        today=cli.today, day1=cli.calendar.first_school_day_on_or_before(cli.today), cp=True
    )
    with refusing_smtp(cli.mail) as refusing:
        await cli.worker.up(mail=refusing)  # every email refused for good
        case = await cli.open("cp.json", referral)

        async def has_problems() -> list[dict[str, Any]]:
            problems: list[dict[str, Any]] = (await cli.ok("show", case, "--json")).json()[
                "problems"
            ]
            assert problems and all(p["open"] for p in problems)
            assert any(p["subject"].startswith("mash_escalation") for p in problems)
            return problems

        await eventually(has_problems)
        await settled(cli.client.get_workflow_handle(case))  # every email tried: none in flight
        problems = await has_problems()

        async def listed(expected: bool) -> None:
            rows = (await cli.ok("cases", "--problems", "--json")).json()
            assert (case in {row["case"] for row in rows}) is expected

        await eventually(lambda: listed(True))
        table = (await cli.ok("cases", "--problems")).out_lines
        [line] = [line for line in table if line.startswith(case)]
        assert line.endswith("CP PROBLEM")

        lines = (await cli.ok("show", case)).out_lines
        assert f"problems: {len(problems)} open (fix the cause, then `cme retry {case}`)" in lines
        open_lines = [line for line in lines if line.startswith("  OPEN    ")]
        assert len(open_lines) == len(problems)
        [mash] = [line for line in open_lines if "mash_escalation" in line]
        assert mash.startswith("  OPEN    email undeliverable: mash_escalation")
        assert "1 attempt" in mash

        retried = await cli.ok("retry", case, "--by", "Officer X")
        assert retried.out_lines == [
            f"{case}: {len(problems)} problem{'s' if len(problems) > 1 else ''} retried; each "
            f"clears once its retry succeeds (see cme show {case})"
        ]

        async def tried_again() -> None:
            shown = (await cli.ok("show", case, "--json")).json()
            mash = next(p for p in shown["problems"] if p["subject"].startswith("mash_"))
            assert mash["open"] and mash["attempts"] == 2

        await eventually(tried_again)

    await cli.worker.up()  # the mail server put right: the next retry clears every problem
    await cli.ok("retry", case, "--by", "Officer X")

    async def cleared() -> None:
        shown = (await cli.ok("show", case, "--json")).json()
        assert shown["problems"] and not [p for p in shown["problems"] if p["open"]]

    await eventually(cleared)
    await eventually(lambda: listed(False))
    nothing = await cli("retry", case, "--by", "Officer X")
    assert (nothing.code, nothing.err_lines) == (
        1,
        [f"cme: error: rejected: case {case} has no problems to retry"],
    )
