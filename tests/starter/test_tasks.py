"""The task commands end to end: each sends its request to a real case and prints the case's
answer; the same command twice is applied once; a task the case refuses prints the case's reason
and exits 1."""

from __future__ import annotations

from datetime import date

import pytest

from domain.calendar import human_date
from tests.starter.conftest import Cli, eventually, school_days_back
from tests.workflows.harness import (
    OTHER_SCHOOL,
    migration_return,
    professional_referral,
    school_referral,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _stage(cli: Cli, case: str) -> str:
    stage: str = (await cli.ok("show", case, "--json")).json()["stage"]
    return stage


async def _at_la_investigation(cli: Cli, *, days_absent: int = 15) -> str:
    """A missing pupil's case already past school day 10: the SAT referral timer fires at once."""
    day1 = school_days_back(cli.calendar, cli.today, days_absent)
    referral = school_referral(
        today=cli.today,
        day1=day1,
        enquiries=[
            {
                "by": "school",
                "kind": "phone_primary",
                "made_on": str(day1),
                "outcome": "no_contact",
            },
            {"by": "school", "kind": "letter", "made_on": str(day1), "outcome": "no_contact"},
        ],
    )
    case = await cli.open("late.json", referral)

    async def referred() -> None:
        assert await _stage(cli, case) == "la_investigation"

    await eventually(referred)
    return case


async def test_a_school_works_its_case_from_enquiry_to_contact(cli: Cli) -> None:
    referral = school_referral(
        today=cli.today, day1=cli.calendar.first_school_day_on_or_before(cli.today)
    )
    case = await cli.open("school.json", referral)
    today = human_date(cli.today)

    run = await cli.ok(
        "enquiry", case, "--kind", "phone_primary", "--outcome", "no_contact", "--by", "Ms A"
    )
    assert run.out_lines == [
        f"{case}: enquiry 1 recorded (the school: phone call to the primary contact: no contact, "
        f"on {today}); "
        "1 enquiry on the case"
    ]

    run = await cli.ok("concern", case, "Neighbour says the family left at night", "--by", "Ms A")
    mash_due = (await cli.ok("show", case, "--json")).json()["deadlines"]["mash_call"]
    assert run.out_lines == [
        f"{case}: concern raised (escalation 1): MASH and SAT are told by email",
        f"MASH must be phoned by the end of {human_date(date.fromisoformat(mash_due))} "
        f"(cme mash-call {case})",
    ]
    await cli.smtp.wait_for(
        lambda m: m["X-CME-Case"] == case and cli.mail.mash_email in str(m["To"])
    )

    run = await cli.ok("mash-call", case, "--reference", "M-77", "--by", "Ms A")
    assert run.out_lines == [f"{case}: MASH call on {today} recorded (task 2 done)"]

    run = await cli.ok(
        "share", case, "Seen with a sibling in town", "--code", f"{cli.today}=N", "--by", "Ms A"
    )
    assert run.out_lines == [f"{case}: information 2 shared with 2 attendance codes"]

    run = await cli.ok("contact", case, "--not-returned", "--note", "phoned", "--by", "Ms A")
    assert run.out_lines == [
        f"{case}: contact recorded; the child is not back at school; stage school enquiries"
    ]

    run = await cli.ok("contact", case, "--on", str(cli.today), "--by", "Ms A", "--json")
    answer = run.json()
    assert (answer["case"], answer["episode"], answer["stage"]) == (case, 1, "closed")
    assert answer["duplicate_request"] is False
    assert answer["request_id"].startswith("contact-")

    await cli.client.get_workflow_handle(case).result()
    closed = await cli("share", case, "more news", "--by", "Ms A")
    assert (closed.code, closed.err_lines) == (
        1,
        [f"cme: error: case {case} is closed (episode 1): nothing more can be recorded on it"],
    )
    # the request that closed it, sent again: the closed case's stored answer, once
    again = await cli.ok("contact", case, "--on", str(cli.today), "--by", "Ms A")
    assert again.out_lines == [
        f"{case}: already recorded (same request {answer['request_id']}): not applied again; "
        "the first answer follows",
        f"{case}: contact recorded; the child is back at school: case closed, the school is told "
        "in writing",
    ]


async def test_the_same_enquiry_twice_is_recorded_once(cli: Cli) -> None:
    referral = school_referral(
        today=cli.today, day1=cli.calendar.first_school_day_on_or_before(cli.today)
    )
    case = await cli.open("school.json", referral)
    enquiry = ("enquiry", case, "--kind", "letter", "--outcome", "no_contact", "--by", "Ms A")

    first = await cli.ok(*enquiry)
    second = await cli.ok(*enquiry)

    recorded = (
        f"{case}: enquiry 1 recorded (the school: letter to the last known address: no contact, "
        f"on {human_date(cli.today)}); "
        "1 enquiry on the case"
    )
    assert first.out_lines == [recorded]
    [notice, answer] = second.out_lines
    assert notice.startswith(f"{case}: already recorded (same request enquiry-")
    assert notice.endswith("): not applied again; the first answer follows")
    assert answer == recorded
    shown = (await cli.ok("show", case, "--json")).json()
    assert [(e["kind"], e["outcome"]) for e in shown["enquiries"]] == [("letter", "no_contact")]

    # An identical enquiry made again (a second letter) is a new request: a new request id.
    third = await cli.ok(*enquiry, "--request-id", "second-letter-1")
    assert third.out_lines[0].startswith(f"{case}: enquiry 2 recorded (the school: letter to the ")
    replay = await cli.ok(*enquiry, "--request-id", "second-letter-1", "--json")
    assert (replay.json()["duplicate_request"], replay.json()["enquiry_id"]) == (True, 2)
    assert len((await cli.ok("show", case, "--json")).json()["enquiries"]) == 2


async def test_a_request_id_reused_for_another_request_is_refused(cli: Cli) -> None:
    referral = school_referral(
        today=cli.today, day1=cli.calendar.first_school_day_on_or_before(cli.today)
    )
    case = await cli.open("school.json", referral)
    base = ("enquiry", case, "--outcome", "no_contact", "--by", "Ms A", "--request-id", "rid-0001")
    await cli.ok(*base, "--kind", "letter")
    other = await cli(*base, "--kind", "home_visit")
    assert other.code == 1
    assert other.err_lines == [
        f"cme: error: rejected: request id rid-0001 was already used on {human_date(cli.today)} "
        "for a different request: send a new request id"
    ]


async def test_a_not_on_roll_case_is_reassigned_investigated_and_closed(cli: Cli) -> None:
    case = await cli.open("professional.json", professional_referral(today=cli.today))

    run = await cli.ok("reassign", case, "Officer Zed", "--by", "Lead Y")
    assert run.out_lines == [f"{case}: assigned to Officer Zed"]

    run = await cli.ok(
        "enquiry",
        case,
        "--kind",
        "school_place_offer",
        "--outcome",
        "information",
        "--by-la",
        "--by",
        "Officer Zed",
    )
    assert "(the LA: check whether a school place was offered" in run.out

    run = await cli.ok(
        "conclude", case, "placed_on_roll", "--new-school", OTHER_SCHOOL, "--by", "Officer Zed"
    )
    assert run.out_lines == [
        f"{case}: investigation concluded: placed on roll",
        f"case closed: closed: placed on roll at {OTHER_SCHOOL}; by Officer Zed (CME officer)",
    ]
    shown = (await cli.ok("show", case, "--json")).json()
    assert shown["stage"] == "closed"
    assert shown["assigned_officer"] == "Officer Zed"
    assert shown["outcome"]["decision"] == "closed"


async def test_a_verified_return_gets_its_ctf_and_deletion_authorised(cli: Cli) -> None:
    case = await cli.open("return.json", migration_return(today=cli.today, leaving_date=cli.today))

    run = await cli.ok("ctf", case, OTHER_SCHOOL, "--by", "Ms A")
    assert run.out_lines == [
        f"{case}: CTF to {OTHER_SCHOOL} confirmed, sent on {human_date(cli.today)} (on time)"
    ]

    run = await cli.ok("authorise", case, "9(1)(a)", "--by", "Officer X")
    assert run.out_lines[0].startswith(f"{case}: deletion authorised on ground 9(1)(a) (")
    school_day = cli.calendar.nth(cli.today, 1)  # a deletion is made on a school day
    assert run.out_lines[1] == (
        f"the pupil may be deleted from {human_date(school_day)}; CTF to {OTHER_SCHOOL}; the "
        "written outcome goes to the school"
    )
    shown = (await cli.ok("show", case, "--json")).json()
    assert shown["stage"] == "closed"
    assert shown["outcome"]["ground"] == "9(1)(a)"
    assert shown["outcome"]["ground_other_rulebook"] == "8(1)(b)"


async def test_deletion_on_the_20_day_ground_before_day_20_is_rejected(cli: Cli) -> None:
    case = await _at_la_investigation(cli, days_absent=15)
    await cli.ok(
        "enquiry",
        case,
        "--kind",
        "partner",
        "--outcome",
        "no_information",
        "--by-la",
        "--by",
        "Officer X",
    )
    run = await cli.ok("conclude", case, "not_located", "--by", "Officer X")
    assert run.out_lines == [
        f"{case}: investigation concluded: not located",
        f"stage awaiting deletion authorisation: authorise deletion with "
        f"cme authorise {case} GROUND",
    ]

    refused = await cli("authorise", case, "9(1)(i)", "--by", "Officer X")

    assert refused.code == 1
    assert refused.out == ""
    assert len(refused.err_lines) == 1
    assert refused.err_lines[0].startswith(
        f"cme: error: rejected: deletion on 9(1)(i) not permitted on {human_date(cli.today)}: "
    )
    assert "of 20 school days" in refused.err_lines[0]
    assert (await _stage(cli, case)) == "awaiting_deletion_authorisation"  # nothing changed


async def test_a_task_in_the_wrong_role_is_rejected_then_done_in_the_right_one(cli: Cli) -> None:
    case = await _at_la_investigation(cli)
    wrong = await cli("withdraw", case, "opened twice", "--as", "school", "--by", "Ms A")
    assert (wrong.code, wrong.err_lines) == (
        1,
        ["cme: error: rejected: withdrawing a case is for a team leader, not a school"],
    )
    run = await cli.ok(
        "withdraw", case, "opened twice", "--duplicate-of", "cme-0123456789ab", "--by", "Lead Y"
    )
    assert run.out_lines == [
        f"{case}: withdrawn, case closed: closed: withdrawn as a duplicate of CME-0123456789AB: "
        "opened twice; by Lead Y (team leader)"
    ]


async def test_a_school_user_acts_only_on_its_own_schools_case(cli: Cli) -> None:
    referral = school_referral(
        today=cli.today, day1=cli.calendar.first_school_day_on_or_before(cli.today)
    )
    case = await cli.open("school.json", referral)
    other = await cli(
        "share", case, "Sibling seen elsewhere", "--by", "Mr Other", "--school", OTHER_SCHOOL
    )
    assert (other.code, other.err_lines) == (
        1,
        [
            "cme: error: rejected: this case is not one of your schools': a school user acts "
            f"only on the cases of {OTHER_SCHOOL}"
        ],
    )
    # Without --school, a school user acts for the case's own school.
    own = await cli.ok("share", case, "Sibling seen elsewhere", "--by", "Ms A")
    assert own.out_lines[0].startswith(f"{case}: information ")
    assert own.out_lines[0].endswith(" shared")
    history = (await cli.ok("history", case, "--json")).json()
    assert history[-1]["actor"] == "Ms A (school)"


async def test_moved_away_tells_the_other_la_and_is_deleted_on_its_ground(cli: Cli) -> None:
    case = await _at_la_investigation(cli)
    run = await cli.ok(
        "conclude",
        case,
        "moved_away",
        "--other-la",
        "Hampshire",
        "--other-la-email",
        "cme@hampshire.example.invalid",
        "--note",
        "family confirmed the move",
        "--by",
        "Officer X",
    )
    assert run.out_lines[0] == f"{case}: investigation concluded: moved away"
    await cli.smtp.wait_for(
        lambda m: m["X-CME-Case"] == case and "cme@hampshire.example.invalid" in str(m["To"])
    )

    run = await cli.ok("authorise", case, "9(1)(g)", "--by", "Officer X", "--json")
    outcome = run.json()["outcome"]
    assert run.json()["stage"] == "closed"
    assert (outcome["ground"], outcome["ctf_destination"]) == ("9(1)(g)", "XXXXXXX")


async def test_a_task_on_an_unknown_case_is_one_line(cli: Cli) -> None:
    run = await cli("reassign", "CME-000000000000", "Officer Z", "--by", "Lead Y")
    assert (run.code, run.out, run.err_lines) == (1, "", ["cme: error: no case CME-000000000000"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["contact", "CME-000000000000", "--on", "2026-13-45", "--by", "Ms A"],
            "cme contact: error: argument --on: '2026-13-45' is not a date",
        ),
        (
            ["conclude", "CME-000000000000", "vanished", "--by", "Officer X"],
            "cme conclude: error: argument OUTCOME: invalid choice: 'vanished'",
        ),
        (
            ["enquiry", "CME-000000000000", "--kind", "phone_primary", "--outcome", "no_contact"],
            "cme enquiry: error: the following arguments are required: --by",
        ),
        (
            ["share", "CME-000000000000", "x", "--code", "2026-03-02=", "--by", "Ms A"],
            "cme share: error: argument --code: '2026-03-02=' is not an attendance code",
        ),
        (
            [
                "conclude",
                "CME-000000000000",
                "on_roll_elsewhere",
                "--new-school",
                "851",
                "--by",
                "X",
            ],
            "cme conclude: error: argument --new-school: '851' is not a LAESTAB",
        ),
        (
            ["authorise", "CME-000000000000", "9(1)(i)", "--by", "X", "--as", "mash"],
            "cme authorise: error: argument --as: invalid choice: 'mash'",
        ),
    ],
)
async def test_bad_argument_values_are_one_line_and_exit_2(
    cli: Cli, argv: list[str], message: str
) -> None:
    run = await cli(*argv)
    assert run.code == 2
    assert run.out == ""
    assert len(run.err_lines) == 1
    assert run.err_lines[0].startswith(message)


async def test_an_empty_name_is_refused_before_anything_is_sent(cli: Cli) -> None:
    cli.server_down()  # would be exit 1 if it got that far
    run = await cli("reassign", "CME-000000000000", "Officer Z", "--by", "  ")
    assert run.code == 2
    assert run.err_lines == [
        "cme reassign: error: argument --by: '  ' is not a name: must not be empty "
        "(see cme reassign --help)"
    ]


async def test_a_task_with_the_server_down_is_one_line(cli: Cli) -> None:
    cli.server_down()
    run = await cli("concern", "CME-000000000000", "worried", "--by", "Ms A")
    assert run.code == 1
    assert len(run.err_lines) == 1
    assert run.err_lines[0].startswith("cme: error: cannot reach Temporal at 127.0.0.1:")


async def test_the_20_day_grounds_proofs_are_recorded_from_the_command_line(cli: Cli) -> None:
    """2024 reg 9(1)(i): every session's register code on file, and the officer's confirmation
    that no sickness keeps the child away; each is named in the refusal until it is recorded."""
    case = await _at_la_investigation(cli, days_absent=25)
    await cli.ok(
        "enquiry", case, "--kind", "partner", "--outcome", "no_information", "--by-la",
        "--by", "Officer X",
    )  # fmt: skip
    await cli.ok("conclude", case, "not_located", "--by", "Officer X")
    refused = await cli("authorise", case, "9(1)(i)", "--by", "Officer X")
    assert "register codes not on file" in refused.err_lines[0]
    assert "no recorded confirmation" in refused.err_lines[0]

    day1 = school_days_back(cli.calendar, cli.today, 25)
    days = [day1]
    while len(days) < 20:
        days.append(cli.calendar.after(days[-1], 1))
    run = await cli.ok("codes", case, *[f"{d.isoformat()}=N" for d in days], "--by", "Ms A")
    assert run.out_lines == [
        f"{case}: 40 codes recorded; every session of the counted days is on file"
    ]
    run = await cli.ok("confirm-no-sickness", case, "--note", "GP has no record", "--by", "Off X")
    assert run.out_lines[0].startswith(f"{case}: confirmed: no reasonable grounds")
    facts = await cli.ok("facts", case, "--mobile-child-main-school", "no", "--by", "Officer X")
    assert facts.out_lines == [f"{case}: 1 fact recorded"]

    authorised = await cli.ok("authorise", case, "9(1)(i)", "--by", "Officer X")
    assert authorised.out_lines[0].startswith(f"{case}: deletion authorised on ground 9(1)(i)")
