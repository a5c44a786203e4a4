"""A second referral for a child with an open case lands on that case; a closed case's child gets
a new episode under the same reference."""

from __future__ import annotations

import asyncio

from domain.case.commands import Withdraw
from domain.case.model import Actor, EscalationKind, Role
from tests.conftest import SmtpServer
from tests.workflows.harness import (
    SCHOOL,
    SCHOOL_OFFICE,
    TEAM_LEADER,
    Harness,
    rid,
    school_referral,
)
from workflows import search_attributes as sa
from workflows.case import CmeCase


async def test_duplicate_referral_returns_the_open_case(
    harness: Harness, smtp_server: SmtpServer
) -> None:
    h = harness
    day1 = h.calendar.first_school_day_on_or_before(h.today)
    first = school_referral(today=h.today, day1=day1, serial=4242)
    again = first.model_copy(update={"safeguarding_concern": True})
    opened = await h.open(first, SCHOOL_OFFICE)
    assert not opened.existing
    assert opened.case.startswith("CME-") and len(opened.case) == 16
    assert first.pupil.last_name not in opened.case and str(first.pupil.upn) not in opened.case

    matched = await h.open(again, SCHOOL_OFFICE)
    assert matched.existing and matched.case == opened.case
    assert matched.referrals_received == 2
    state = await h.state(opened.case)
    assert "further referral received" in state.information[-1].information
    # The new concern is acted on in the open case: MASH is told.
    assert [e.kind for e in state.escalations] == [EscalationKind.MASH]
    await smtp_server.wait_for(lambda m: "mash" in m["To"].lower())


async def test_racing_referrals_for_one_child_open_one_case(harness: Harness) -> None:
    h = harness
    day1 = h.calendar.first_school_day_on_or_before(h.today)
    referral = school_referral(today=h.today, day1=day1, serial=777)
    # Four members of staff send the same child's referral at once: four requests.
    staff = [Actor(name=f"Office {n}", role=Role.SCHOOL, schools=(SCHOOL,)) for n in range(4)]
    results = await asyncio.gather(*(h.open(referral, by) for by in staff))
    assert len({r.case for r in results}) == 1
    assert sorted(r.existing for r in results) == [False, True, True, True]
    assert (await h.state(results[0].case)).referrals_received == 4


async def test_after_a_case_closes_a_new_referral_opens_a_new_episode(
    harness: Harness, smtp_server: SmtpServer
) -> None:
    h = harness
    day1 = h.calendar.first_school_day_on_or_before(h.today)
    referral = school_referral(today=h.today, day1=day1, serial=31)
    case = (await h.open(referral, SCHOOL_OFFICE)).case
    handle = h.handle(case)
    await handle.execute_update(
        CmeCase.withdraw, Withdraw(request_id=rid(), by=TEAM_LEADER, reason="sent in error")
    )
    first = await handle.result()
    # Weeks later the child goes missing again: a new referral, with a safeguarding concern.
    again = referral.model_copy(update={"safeguarding_concern": True})
    reopened = await h.open(again, SCHOOL_OFFICE)
    assert reopened.case == case and not reopened.existing
    assert reopened.episode == 2
    state = await h.state(case)
    assert state.episode == 2 and state.referrals_received == 1
    assert [(e.episode, e.decision) for e in state.earlier_episodes] == [(1, first.decision)]
    # The new episode's emails are its own: MASH is told, naming the earlier episode.
    mash = await smtp_server.wait_for(lambda m: "MASH" in m["Subject"] and case in m["Subject"])
    assert "episode 1" in mash.get_content().lower()
    assert await h.search_attribute(case, sa.EPISODE) == 2  # a repeat: CmeEpisode > 1


async def test_the_same_referral_sent_twice_is_applied_once(harness: Harness) -> None:
    h = harness
    day1 = h.calendar.first_school_day_on_or_before(h.today)
    referral = school_referral(today=h.today, day1=day1, serial=99)
    opened = await h.open(referral, SCHOOL_OFFICE)
    again = await h.open(referral, SCHOOL_OFFICE)
    assert again == opened  # the first answer, again
    assert (await h.state(opened.case)).referrals_received == 1
