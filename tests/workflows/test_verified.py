"""Destination verified (Pupil Migration LA Return): CTF within 15 school days with the right
destination code, the overdue-CTF reminder, and deletion on the return's ground."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError

from domain.calendar import human_date
from domain.case.commands import (
    AuthoriseDeletion,
    ConfirmCtf,
)
from domain.case.model import (
    Decision,
    EscalationKind,
    Stage,
    TaskName,
)
from tests.conftest import SmtpServer
from tests.workflows.harness import (
    OFFICER,
    SCHOOL_OFFICE,
    Harness,
    decided,
    migration_return,
    rid,
)
from workflows.case import CmeCase


@pytest.mark.parametrize(
    ("destination", "ctf_code"),
    [
        ({"kind": "school", "school_laestab": "8512001"}, "8512001"),
        ({"kind": "scotland_or_independent"}, "MMMMMMM"),
        ({"kind": "service_children", "service_school_number": "1234"}, "7021234"),
        ({"kind": "service_children"}, "702LLLL"),
        ({"kind": "unknown"}, "XXXXXXX"),
    ],
)
async def test_each_ctf_destination_kind(
    harness: Harness, smtp_server: SmtpServer, destination: dict[str, str], ctf_code: str
) -> None:
    h = harness
    leaving = h.calendar.first_school_day_on_or_before(h.today)
    ground = "9(1)(a)" if destination["kind"] == "school" else "9(1)(g)"
    referral = migration_return(
        today=h.today, leaving_date=leaving, destination=destination, ground=ground
    )
    case = (await h.open(referral, SCHOOL_OFFICE)).case
    handle = h.handle(case)
    state = await h.state(case)
    assert state.stage is Stage.AWAITING_CTF
    assert state.deadlines.ctf == h.calendar.after(leaving, 15)

    with pytest.raises(WorkflowUpdateFailedError) as wrong:
        await handle.execute_update(
            CmeCase.confirm_ctf,
            ConfirmCtf(
                request_id=rid(), by=SCHOOL_OFFICE, destination_code="851LLLL", sent_on=h.today
            ),
        )
    assert "851LLLL is an LA code without a school" in str(wrong.value.cause)
    other = "XXXXXXX" if ctf_code != "XXXXXXX" else "MMMMMMM"
    with pytest.raises(WorkflowUpdateFailedError) as mismatch:
        await handle.execute_update(
            CmeCase.confirm_ctf,
            ConfirmCtf(request_id=rid(), by=SCHOOL_OFFICE, destination_code=other, sent_on=h.today),
        )
    assert f"the return names destination {ctf_code}" in str(mismatch.value.cause)

    confirmed = await handle.execute_update(
        CmeCase.confirm_ctf,
        ConfirmCtf(
            request_id=rid(), by=SCHOOL_OFFICE, destination_code=ctf_code.lower(), sent_on=h.today
        ),
    )
    assert confirmed.destination_code == ctf_code and confirmed.ctf_on_time
    assert (await h.state(case)).stage is Stage.AWAITING_CTF  # deletion not yet authorised
    result = await handle.execute_update(
        CmeCase.authorise_deletion, AuthoriseDeletion(request_id=rid(), by=OFFICER, ground=ground)
    )
    assert decided(result).ctf_destination == ctf_code
    outcome = await handle.result()
    assert outcome.decision is Decision.DELETION_AUTHORISED and outcome.ground == ground
    letter = await smtp_server.wait_for(lambda m: "outcome" in m["Subject"].lower())
    assert ctf_code in letter.get_content()


async def test_overdue_ctf_reminds_the_school_and_sat(
    harness: Harness, smtp_server: SmtpServer
) -> None:
    h = harness
    leaving = h.calendar.first_school_day_on_or_before(h.today)
    case = (await h.open(migration_return(today=h.today, leaving_date=leaving), SCHOOL_OFFICE)).case
    handle = h.handle(case)
    await handle.execute_update(
        CmeCase.authorise_deletion,
        AuthoriseDeletion(request_id=rid(), by=OFFICER, ground="9(1)(a)"),
    )
    due = h.calendar.after(leaving, 15)
    await h.sleep_until_morning_of(due)
    assert not [m for m in smtp_server.messages if "transfer file" in m["Subject"].lower()]
    await h.sleep_until_end_of(due)
    reminder = await smtp_server.wait_for(lambda m: "common transfer file" in m["Subject"].lower())
    assert "8512000" in reminder["To"] and "sat" in reminder["To"].lower()
    assert human_date(due) in reminder.get_content()
    state = await h.state(case)
    assert [e.kind for e in state.escalations] == [EscalationKind.CTF_OVERDUE]
    assert [t.overdue for t in state.tasks if t.name is TaskName.SEND_CTF] == [True]
    late = await handle.execute_update(
        CmeCase.confirm_ctf,
        ConfirmCtf(
            request_id=rid(),
            by=SCHOOL_OFFICE,
            destination_code="8512001",
            sent_on=await h.now_date(),
        ),
    )
    assert not late.ctf_on_time
    assert (await handle.result()).ctf_destination == "8512001"


async def test_ehe_return_deletion_on_the_ehe_ground(
    harness: Harness, smtp_server: SmtpServer
) -> None:
    h = harness
    leaving = h.calendar.first_school_day_on_or_before(h.today)
    referral = migration_return(
        today=h.today,
        leaving_date=leaving,
        ground="9(1)(f)",
        destination={"kind": "unknown"},
        ehe_letter="EHE-2026-17",
    )
    case = (await h.open(referral, SCHOOL_OFFICE)).case
    handle = h.handle(case)
    with pytest.raises(WorkflowUpdateFailedError) as other_ground:
        await handle.execute_update(
            CmeCase.authorise_deletion,
            AuthoriseDeletion(request_id=rid(), by=OFFICER, ground="9(1)(a)"),
        )
    assert "does not fit this case" in str(other_ground.value.cause)
    result = await handle.execute_update(
        CmeCase.authorise_deletion,
        AuthoriseDeletion(request_id=rid(), by=OFFICER, ground="9(1)(f)"),
    )
    assert decided(result).ground_other_rulebook == "8(1)(d)"
    await handle.execute_update(
        CmeCase.confirm_ctf,
        ConfirmCtf(request_id=rid(), by=SCHOOL_OFFICE, destination_code="XXXXXXX", sent_on=h.today),
    )
    # the seed's eight-letter alias, accepted and recorded in the canonical seven-letter form
    assert (await handle.result()).ctf_destination == "XXXXXXX"


async def test_a_return_filed_after_the_ctf_deadline_is_escalated_at_once(
    harness: Harness, smtp_server: SmtpServer
) -> None:
    h = harness
    # Deleted 16 school days before the last school day up to today, and the return dated that
    # day only reaches the LA now: the CTF deadline (15 school days from the deletion) has passed.
    last = h.calendar.first_school_day_on_or_before(h.today)
    leaving = last
    while h.calendar.after(leaving, 15) >= last:
        leaving -= timedelta(days=1)
    due = h.calendar.after(leaving, 15)
    late = migration_return(today=h.today, leaving_date=leaving, referral_date=leaving)
    case = (await h.open(late, SCHOOL_OFFICE)).case
    reminder = await smtp_server.wait_for(lambda m: "common transfer file" in m["Subject"].lower())
    assert case in reminder["Subject"] and human_date(due) in reminder.get_content()
    state = await h.state(case)
    assert [e.kind for e in state.escalations] == [EscalationKind.CTF_OVERDUE]
    assert [t.overdue for t in state.tasks if t.name is TaskName.SEND_CTF] == [True]
