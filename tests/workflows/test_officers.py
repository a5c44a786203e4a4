"""What officers and team leaders do on a case besides concluding it: information shared with the
School Attendance Team, reassignment, and the case's own history of who did what."""

from __future__ import annotations

from domain.case.commands import Reassign, ShareInformation
from domain.case.model import Role, Stage
from domain.deletion import SessionCode
from tests.conftest import SmtpServer
from tests.workflows.harness import SCHOOL_OFFICE, TEAM_LEADER, Harness, rid, school_referral
from workflows.case import CmeCase


async def test_share_information_once_investigating_tells_sat(
    harness: Harness, smtp_server: SmtpServer
) -> None:
    h = harness
    day1 = h.calendar.day1
    case = (await h.open(school_referral(today=h.today, day1=day1), SCHOOL_OFFICE)).case
    handle = h.handle(case)
    # While the school makes its enquiries, shared information stays on the case.
    await handle.execute_update(
        CmeCase.share_information,
        ShareInformation(request_id=rid(), by=SCHOOL_OFFICE, information="Aunt says they moved"),
    )
    await h.sleep_until_morning_of(h.calendar.after(h.calendar.nth(day1, 10), 1))
    assert (await h.state(case)).stage is Stage.LA_INVESTIGATION
    assert not [m for m in smtp_server.messages if "information" in m["Subject"].lower()]
    shared = await handle.execute_update(
        CmeCase.share_information,
        ShareInformation(
            request_id=rid(),
            by=SCHOOL_OFFICE,
            information="Sibling seen at a school in Exampleshire",
            attendance_codes=[SessionCode(day=day1, session="am", code="N")],
        ),
    )
    assert shared.information_id == 2
    message = await smtp_server.wait_for(lambda m: "information shared" in m["Subject"].lower())
    assert "Sibling seen at a school in Exampleshire" in message.get_content()
    state = await h.state(case)
    assert [c.code for c in state.attendance_codes] == ["N"]


async def test_reassign_is_recorded_with_who_did_it(harness: Harness) -> None:
    h = harness
    day1 = h.calendar.first_school_day_on_or_before(h.today)
    case = (await h.open(school_referral(today=h.today, day1=day1), SCHOOL_OFFICE)).case
    result = await h.handle(case).execute_update(
        CmeCase.reassign, Reassign(request_id=rid(), by=TEAM_LEADER, officer="Officer Other")
    )
    assert result.assigned_officer == "Officer Other"
    state = await h.state(case)
    assert state.assigned_officer == "Officer Other"
    [assigned] = [e for e in state.log if e.type == "officer_assigned"]
    assert assigned.by == TEAM_LEADER and assigned.by.role is Role.TEAM_LEADER
    # The case's own history: who opened it, in which role; the service for its deadlines.
    assert state.log[0].type == "case_opened" and state.log[0].by == SCHOOL_OFFICE
    assert {e.by.role for e in state.log if e.type == "deadline_set"} == {Role.SERVICE}
