"""`cme refer`: each of the three forms opens a case; the same child again lands on the open case;
a bad referral is refused field by field and starts nothing."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from temporalio.service import RPCError, RPCStatusCode

from starter.cases import case_reference
from tests.starter.conftest import Cli
from tests.workflows.harness import (
    SECRET,
    migration_return,
    professional_referral,
    school_referral,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

CASE = re.compile(r"CME-[0-9A-F]{12}")


async def test_school_referral_opens_a_case_and_the_same_child_again_matches_it(cli: Cli) -> None:
    referral = school_referral(
        today=cli.today, day1=cli.calendar.first_school_day_on_or_before(cli.today)
    )
    path = cli.write("school.json", referral)

    first = await cli.ok("refer", str(path), "--by", "Ms Attendance")
    expected = case_reference(referral, SECRET)
    assert first.out_lines == [f"opened case {expected} (stage: school enquiries)"]

    again = await cli.ok("refer", str(path))  # by the school this time: another referral
    assert again.out_lines == [f"matched open case {expected} (2 referrals received)"]

    state = (await cli.ok("show", expected, "--json")).json()
    assert state["referrals_received"] == 2
    history = (await cli.ok("history", expected, "--json")).json()
    assert (history[0]["actor"], history[0]["what"]) == (
        "Ms Attendance (school)",
        "case opened (episode 1): school CME referral (destination not verified); destination "
        "not verified, stage school enquiries",
    )
    further = [e for e in history if e["type"] == "referral_added"]
    assert [(e["actor"], e["what"]) for e in further] == [
        (
            "school 8512000 (school)",
            "further referral: school CME referral (destination not verified) (2 referrals "
            "received)",
        )
    ]


async def test_the_same_referral_sent_twice_is_applied_once(cli: Cli) -> None:
    referral = school_referral(
        today=cli.today, day1=cli.calendar.first_school_day_on_or_before(cli.today)
    )
    path = cli.write("school.json", referral)
    case = case_reference(referral, SECRET)

    first = await cli.ok("refer", str(path), "--by", "Ms Attendance")
    again = await cli.ok("refer", str(path), "--by", "Ms Attendance")

    assert first.out_lines == [f"opened case {case} (stage: school enquiries)"]
    [notice, answer] = again.out_lines
    assert notice.startswith(f"{case}: already recorded (same request referral-")
    assert notice.endswith("): not applied again; the first answer follows")
    assert answer == first.out_lines[0]
    assert (await cli.ok("show", case, "--json")).json()["referrals_received"] == 1
    duplicate = (await cli.ok("refer", str(path), "--by", "Ms Attendance", "--json")).json()
    assert (duplicate["duplicate_request"], duplicate["answered"]) == (True, True)
    assert duplicate["request_id"] == notice.split("same request ")[1].split(")")[0]


async def test_pupil_migration_return_opens_a_case_awaiting_the_ctf(cli: Cli) -> None:
    referral = migration_return(today=cli.today, leaving_date=cli.today)
    run = await cli.ok("refer", str(cli.write("return.json", referral)), "--json")
    answer = run.json()
    assert {k: answer[k] for k in ("case", "episode", "existing", "stage", "answered")} == {
        "case": case_reference(referral, SECRET),
        "episode": 1,
        "existing": False,
        "stage": "awaiting_ctf",
        "answered": True,
    }
    assert answer["duplicate_request"] is False
    assert answer["request_id"].startswith("referral-")


async def test_professional_referral_opens_a_case_by_the_referrer(cli: Cli) -> None:
    referral = professional_referral(today=cli.today)
    run = await cli.ok("refer", str(cli.write("professional.json", referral)))
    case = case_reference(referral, SECRET)
    assert run.out_lines == [f"opened case {case} (stage: LA investigation)"]
    history = (await cli.ok("history", case, "--json")).json()
    assert (history[0]["who"], history[0]["role"]) == ("Chris Demo", "professional")
    assert history[0]["what"].startswith("case opened (episode 1): professional CME referral")


async def test_by_and_as_name_who_submitted_it(cli: Cli) -> None:
    referral = professional_referral(today=cli.today)
    case = await cli.open("professional.json", referral, "--by", "Dr Who", "--as", "professional")
    history = (await cli.ok("history", case, "--json")).json()
    assert history[0]["actor"] == "Dr Who (professional)"


async def test_a_referral_its_sender_may_not_make_is_refused_and_starts_no_case(cli: Cli) -> None:
    school_form = school_referral(
        today=cli.today, day1=cli.calendar.first_school_day_on_or_before(cli.today)
    )
    path = str(cli.write("school.json", school_form))
    refusals = [
        await cli("refer", path, "--by", "Dr Who", "--as", "professional"),
        await cli("refer", path, "--by", "Mr Other", "--school", "8512001"),
        await cli(
            "refer",
            str(cli.write("p.json", professional_referral(today=cli.today))),
            "--as",
            "school",
        ),
    ]
    assert [(r.code, r.err_lines) for r in refusals] == [
        (
            1,
            [
                "cme: error: rejected: a professional refers a child who may not be on a roll "
                "(the professional form); the school's forms are for its staff"
            ],
        ),
        (
            1,
            [
                "cme: error: rejected: this case is not one of your schools': a school user acts "
                "only on the cases of 8512001"
            ],
        ),
        (
            2,
            [
                "cme: error: --school: say which school you act for (a school user refers for "
                "its own schools)"
            ],
        ),
    ]
    count = await cli.client.count_workflows(f"TaskQueue = '{cli.task_queue}'")
    assert count.count == 0
    # A school user for several schools refers a pupil of one of them.
    case = await cli.open("school.json", school_form, "--school", "8512001", "--school", "8512000")
    history = (await cli.ok("history", case, "--json")).json()
    assert history[0]["actor"] == "school 8512000 (school)"


async def test_a_bad_request_id_is_one_line_and_sends_nothing(cli: Cli) -> None:
    referral = professional_referral(today=cli.today)
    run = await cli("refer", str(cli.write("p.json", referral)), "--request-id", "no spaces!")
    assert run.code == 2
    assert len(run.err_lines) == 1
    assert run.err_lines[0].startswith("cme: error: --request-id: ")
    count = await cli.client.count_workflows(f"TaskQueue = '{cli.task_queue}'")
    assert count.count == 0


async def test_a_bad_referral_prints_one_line_per_field_and_starts_no_case(cli: Cli) -> None:
    referral = school_referral(
        today=cli.today, day1=cli.calendar.first_school_day_on_or_before(cli.today)
    )
    data = referral.model_dump(mode="json")
    upn = data["pupil"]["upn"]
    wrong_letter = "A" if upn[0] != "A" else "B"
    data["pupil"]["upn"] = wrong_letter + upn[1:]
    data["school_laestab"] = "85120"
    data["referral_date"] = "2026-02-30"

    run = await cli("refer", str(cli.write("bad.json", data)))

    assert run.code == 2
    assert run.out == ""
    assert run.err_lines == [
        "pupil.upn: UPN check letter is wrong",
        "school_laestab: school LAESTAB must be 7 digits: 3-digit LA number + 4-digit "
        "establishment number, e.g. 8512000",
        "referral_date: must be a date like 2026-03-02",
    ]
    # nothing was started: not the case the right UPN would have, nor any on the task queue
    with pytest.raises(RPCError) as raised:
        await cli.client.get_workflow_handle(case_reference(referral, SECRET)).describe()
    assert raised.value.status is RPCStatusCode.NOT_FOUND
    count = await cli.client.count_workflows(f"TaskQueue = '{cli.task_queue}'")
    assert count.count == 0


async def test_a_referral_whose_day_1_is_no_school_day_is_refused(cli: Cli) -> None:
    saturday = cli.calendar.mon0 - timedelta(days=2)  # in term, but a weekend
    referral = school_referral(
        today=cli.today, day1=cli.calendar.first_school_day_on_or_before(cli.today)
    )
    data = referral.model_dump(mode="json")
    data["first_day_of_absence"] = saturday.isoformat()
    run = await cli("refer", str(cli.write("saturday.json", data)))
    assert run.code == 2
    assert len(run.err_lines) == 1
    assert run.err_lines[0].startswith("first_day_of_absence: ")
    count = await cli.client.count_workflows(f"TaskQueue = '{cli.task_queue}'")
    assert count.count == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not JSON: Expecting property name enclosed in double quotes at line 1"),
        ("", "is not JSON: Expecting value at line 1 column 1"),
    ],
)
async def test_a_file_that_is_not_json_is_one_line(cli: Cli, content: str, message: str) -> None:
    path = cli.directory / "broken.json"
    path.write_text(content, encoding="utf-8")
    run = await cli("refer", str(path))
    assert run.code == 2
    assert len(run.err_lines) == 1
    assert run.err_lines[0].startswith(f"cme: error: {path} ")
    assert message in run.err_lines[0]


async def test_a_missing_file_or_a_json_list_is_one_line(cli: Cli) -> None:
    run = await cli("refer", str(cli.directory / "nowhere.json"))
    assert (run.code, run.err_lines) == (
        2,
        [f"cme: error: cannot read {cli.directory / 'nowhere.json'}: no such file"],
    )
    listed = await cli("refer", str(cli.write("list.json", [1, 2])))
    assert listed.code == 2
    assert listed.err_lines == [
        "form: form must be one of: pupil_migration_return (destination verified), "
        "school_cme_referral (destination not verified), professional_cme_referral (child not "
        "on roll)"
    ]
    unknown = await cli("refer", str(cli.write("form.json", {"form": "letter"})))
    assert unknown.code == 2 and len(unknown.err_lines) == 1


async def test_refer_with_the_server_down_is_one_line(cli: Cli) -> None:
    referral = professional_referral(today=cli.today)
    path = cli.write("professional.json", referral)
    cli.server_down()
    run = await cli("refer", str(path))
    assert run.code == 1
    assert len(run.err_lines) == 1
    assert run.err_lines[0].startswith("cme: error: cannot reach Temporal at 127.0.0.1:")
