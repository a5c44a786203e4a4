"""Benchmark: how fast the rules answer and how many cases one worker opens and closes.

    .venv/bin/python -m benchmarks.cases [--cases 200]

Prints figures; asserts nothing (speed targets live here, not in timed tests). Sizing from the
spec: an LA carries a few hundred open cases and a few hundred new referrals a quarter, so a
single worker needs well under one case a second.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import socket
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

from aiosmtpd.controller import Controller
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.case_activities import CaseActivities
from activities.config import MailConfig
from activities.register import create_register_schema, make_engine
from domain.calendar import DEFAULT_CALENDAR_PATH, SchoolCalendar
from domain.case.commands import Withdraw
from domain.clock import local_date
from domain.deletion import CaseFacts, assess_deletion
from domain.enquiries import AbsenceKind, Enquiry, EnquiryBy, EnquiryKind, EnquiryOutcome
from security.converter import data_converter
from security.keys import KeyRing
from security.store import SqlKeyStore
from starter.admin import register_search_attributes
from starter.cases import open_case
from tests.workflows.harness import SCHOOL_OFFICE, TEAM_LEADER, TestCalendar, rid, school_referral
from worker import WORKFLOWS
from workflows.case import CmeCase


def rules() -> None:
    calendar = SchoolCalendar.load(DEFAULT_CALENDAR_PATH)
    n = 20_000
    start = time.perf_counter()
    for i in range(n):
        calendar.nth_school_day(date(2025, 9, 3), 1 + i % 150, "8512000")
    per_s = n / (time.perf_counter() - start)
    print(f"calendar nth_school_day: {per_s:,.0f} questions/s")
    facts = CaseFacts(
        school_laestab="8512000",
        absence_kind=AbsenceKind.UNAUTHORISED,
        first_day_of_absence=date(2025, 10, 13),
        enquiries=[
            Enquiry(
                by=EnquiryBy.SCHOOL,
                kind=EnquiryKind.LETTER,
                made_on=date(2025, 10, 14),
                outcome=EnquiryOutcome.NO_CONTACT,
            ),
            Enquiry(
                by=EnquiryBy.LA,
                kind=EnquiryKind.HOME_VISIT,
                made_on=date(2025, 11, 3),
                outcome=EnquiryOutcome.NO_CONTACT,
            ),
        ],
    )
    n = 5_000
    start = time.perf_counter()
    for _ in range(n):
        assess_deletion("9(1)(i)", date(2025, 11, 20), facts, calendar)
    print(f"assess_deletion 9(1)(i): {n / (time.perf_counter() - start):,.0f} decisions/s")


class _Sink:
    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        return "250 OK"


async def workflows(cases: int) -> None:
    tmp = Path(tempfile.mkdtemp())
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        smtp_port = probe.getsockname()[1]
    smtp = Controller(_Sink(), hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    engine = make_engine(f"sqlite:///{tmp}/register.db")
    create_register_schema(engine)
    # Every payload encrypted, as in use: the data keys in the register, wrapped by a KEK made
    # for this run.
    ring = KeyRing({"bench": os.urandom(32)}, "bench")
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=data_converter(SqlKeyStore(engine, ring)),
        test_server_existing_path=str(Path(sys.executable).parent / "temporal-test-server"),
    )
    try:
        await register_search_attributes(env.client, "default")
        today = local_date(await env.get_current_time())
        calendar = TestCalendar.write(tmp, today)
        mail = MailConfig(
            smtp_host="127.0.0.1",
            smtp_port=smtp_port,
            smtp_username=None,
            smtp_password=None,
            tls_mode="none",
            mail_from="bench@example.invalid",
            mash_email="mash@example.invalid",
            sat_email="sat@example.invalid",
            team_leader_email="tl@example.invalid",
            school_email_pattern="school.{laestab}@example.invalid",
            la_name="Bench",
        )
        acts = CaseActivities(mail=mail, engine=engine, calendar_path=calendar.path)
        queue = f"bench-{uuid.uuid4()}"
        async with Worker(
            env.client,
            task_queue=queue,
            workflows=WORKFLOWS,
            activities=acts.all(),
        ):
            day1 = calendar.first_school_day_on_or_before(today)
            start = time.perf_counter()
            opened = await asyncio.gather(
                *(
                    open_case(
                        env.client,
                        school_referral(today=today, day1=day1),
                        SCHOOL_OFFICE,
                        task_queue=queue,
                        secret="bench",
                    )
                    for _ in range(cases)
                )
            )
            opened_s = time.perf_counter() - start
            cases = len({o.case for o in opened})
            start = time.perf_counter()
            await asyncio.gather(
                *(
                    env.client.get_workflow_handle(o.case).execute_update(
                        CmeCase.withdraw,
                        Withdraw(request_id=rid(), by=TEAM_LEADER, reason="benchmark"),
                    )
                    for o in {o.case: o for o in opened}.values()
                )
            )
            closed_s = time.perf_counter() - start
        print(f"opened {cases} cases in {opened_s:.1f} s ({cases / opened_s:.1f} cases/s)")
        print(f"closed {cases} cases in {closed_s:.1f} s ({cases / closed_s:.1f} cases/s)")
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS of the worker process: {rss:.0f} MiB")
    finally:
        await env.shutdown()
        smtp.stop()
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=200)
    args = parser.parse_args()
    rules()
    asyncio.run(workflows(args.cases))


if __name__ == "__main__":
    main()
