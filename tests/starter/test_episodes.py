"""A child's second CME episode: `cme refer` opens it on the same case reference, `cme show`
gives the episode and the earlier one, `cme history --episode 1` reaches the closed episode, and
`cme cases --repeat` lists the case."""

from __future__ import annotations

from typing import Any

import pytest

from domain.calendar import human_date
from tests.starter.conftest import Cli, dead_mail, eventually
from tests.workflows.harness import school_referral

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_a_repeat_episode_is_shown_with_the_earlier_one(cli: Cli) -> None:
    referral = school_referral(
        today=cli.today, day1=cli.calendar.first_school_day_on_or_before(cli.today)
    )
    path = cli.write("school.json", referral)
    # While the mail server is down, the closed episode's written closure waits to be sent, so
    # its run is still there when the child is referred again: the new referral opens episode 2.
    await cli.worker.up(mail=dead_mail(cli.mail))
    case = await cli.open("school.json", referral, "--by", "Ms A")
    await cli.ok("enquiry", case, "--kind", "letter", "--outcome", "no_contact", "--by", "Ms A")
    await cli.ok("withdraw", case, "family back in touch", "--by", "Lead Y")

    again = await cli.ok("refer", str(path), "--by", "Mr B")  # another referral: a new request
    assert again.out_lines == [
        f"opened case {case}, episode 2 (REPEAT: the child had an earlier CME episode) "
        "(stage: school enquiries)"
    ]
    await cli.worker.up()  # mail back: episode 1's closure goes out, and episode 2 opens

    async def second_episode() -> dict[str, Any]:
        shown: dict[str, Any] = (await cli.ok("show", case, "--json")).json()
        assert (shown["episode"], shown["repeat"]) == (2, True)
        return shown

    shown = await eventually(second_episode, timeout=30)
    [earlier] = shown["earlier_episodes"]
    assert {k: earlier[k] for k in ("episode", "kind", "decision", "ground")} == {
        "episode": 1,
        "kind": "destination_not_verified",
        "decision": "closed",
        "ground": None,
    }
    assert earlier["closed_at"] is not None
    assert shown["stage"] == "school_enquiries" and shown["enquiries"] == []

    lines = (await cli.ok("show", case)).out_lines
    assert lines[0] == (
        f"case {case}: destination not verified, episode 2 (REPEAT: 1 earlier episode)"
    )
    today = human_date(cli.today)
    assert lines[lines.index("earlier episodes:") + 1] == (
        f"  episode 1: destination not verified, opened {today}, closed {today}: closed"
    )

    # Episode 1, closed, with its own history; the latest is episode 2's.
    first = (await cli.ok("history", case, "--episode", "1")).out_lines
    assert first[0].startswith(f"case {case}, episode 1: ")
    assert "Ms A (school): case opened (episode 1): school CME referral" in first[1]
    assert any(
        line.endswith("Lead Y (team leader): case closed: family back in touch") for line in first
    )
    assert any(
        "enquiry 1 recorded: the school: letter to the last known address: no contact" in line
        for line in first
    )
    latest = (await cli.ok("history", case)).out_lines
    assert latest[0].startswith(f"case {case}, episode 2: ")
    assert "Mr B (school): case opened (episode 2, a repeat episode)" in latest[1]
    assert (await cli.ok("show", case, "--episode", "1", "--json")).json()["stage"] == "closed"

    async def listed_as_repeat() -> None:
        rows = {row["case"]: row for row in (await cli.ok("cases", "--repeat", "--json")).json()}
        assert (rows[case]["episode"], rows[case]["repeat"]) == (2, True)
        table = (await cli.ok("cases", "--repeat")).out_lines
        [line] = [line for line in table if line.startswith(case)]
        assert line.split()[1:3] == ["2", "REPEAT"]

    await eventually(listed_as_repeat)
