"""Test harness for case workflows: a synthetic calendar around today, synthetic referrals, and a
worker on a fresh time-skipping server with the real activities (SMTP on loopback, SQLite)."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import holidays
from stdnum.gb import upn as upn_mod
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionRequest,
    DescribeWorkflowExecutionResponse,
)
from temporalio.client import Client, WorkflowHandle, WorkflowQueryFailedError
from temporalio.common import SearchAttributeKey
from temporalio.converter import default as default_converter
from temporalio.testing import WorkflowEnvironment

from domain.case.model import Actor, CaseOutcome, CommandResult, Role
from domain.case.state import CaseState
from domain.clock import end_of_day, local_date
from domain.enquiries import Enquiry, EnquiryBy, EnquiryKind, EnquiryOutcome
from domain.intake import (
    AnyReferral,
    ProfessionalCMEReferral,
    PupilMigrationReturn,
    SchoolCMEReferral,
)
from security.keys import KeyRing, MemoryKeyStore
from starter.cases import open_case
from workflows.case import CmeCase

SCHOOL = "8512000"
OTHER_SCHOOL = "8512001"
SECRET = "test-secret"

SCHOOL_OFFICE = Actor(name="Ms Attendance (school)", role=Role.SCHOOL, schools=(SCHOOL,))
OFFICER = Actor(name="Officer Example", role=Role.CME_OFFICER)
TEAM_LEADER = Actor(name="Leader Example", role=Role.TEAM_LEADER)
PROFESSIONAL = Actor(name="Chris Demo", role=Role.PROFESSIONAL)


@dataclass
class TestCalendar:
    """Terms around ``mon0`` (the Monday of the week the test runs in), with a half term in the
    next week. ``school_days`` is an independent, naive oracle for expected dates."""

    mon0: date
    path: Path
    terms: list[tuple[date, date]] = field(default_factory=list)
    closures: list[tuple[date, date]] = field(default_factory=list)

    @classmethod
    def write(cls, directory: Path, today: date) -> TestCalendar:
        mon0 = today - timedelta(days=today.weekday())
        if _first_working_day(mon0) > today:  # today is a Monday bank holiday: week 0 is last week
            mon0 -= timedelta(weeks=1)
        term1 = (mon0 - timedelta(weeks=4), mon0 + timedelta(weeks=9, days=4))
        half_term = (mon0 + timedelta(weeks=1), mon0 + timedelta(weeks=1, days=4))
        term2 = (mon0 + timedelta(weeks=12), mon0 + timedelta(weeks=24, days=4))
        path = directory / "calendar.toml"
        path.write_text(
            'la_code = 851\nla_name = "Testshire"\n'
            f'[[term]]\nname = "Term 1"\nfirst_day = {term1[0]}\nlast_day = {term1[1]}\n'
            f"closures = [[{half_term[0]}, {half_term[1]}]]\n"
            f'[[term]]\nname = "Term 2"\nfirst_day = {term2[0]}\nlast_day = {term2[1]}\n',
            encoding="utf-8",
        )
        return cls(mon0=mon0, path=path, terms=[term1, term2], closures=[half_term])

    @property
    def day1(self) -> date:
        """Day 1 of the tests' absences: the first school day of week 0, never after today."""
        return _first_working_day(self.mon0)

    def is_school_day(self, d: date) -> bool:
        bank = holidays.country_holidays("GB", subdiv="ENG", years=d.year)
        return (
            d.weekday() < 5
            and any(a <= d <= b for a, b in self.terms)
            and not any(a <= d <= b for a, b in self.closures)
            and d not in bank
        )

    def nth(self, day1: date, n: int) -> date:
        d, count = day1, 0
        while True:
            if self.is_school_day(d):
                count += 1
                if count == n:
                    return d
            d += timedelta(days=1)

    def after(self, d: date, n: int) -> date:
        return self.nth(d + timedelta(days=1), n) if n else d

    def first_school_day_on_or_before(self, d: date) -> date:
        while not self.is_school_day(d):
            d -= timedelta(days=1)
        return d


def _first_working_day(monday: date) -> date:
    bank = holidays.country_holidays("GB", subdiv="ENG", years=monday.year)
    d = monday
    while d in bank:
        d += timedelta(days=1)
    return d


def _upn(serial: int) -> str:
    """A synthetic UPN with a valid check letter: LA 851, establishment 2000-2999, issued 2026."""
    body = f"851{2000 + serial // 1000 % 1000:04d}26{serial % 1000:03d}"
    return upn_mod.calc_check_digit(body) + body


def _child_names() -> tuple[str, str]:
    token = uuid.uuid4().hex[:6]
    return "Testchild", f"Synthetic{token}"


def school_referral(
    *,
    today: date,
    day1: date,
    after_leave_end: date | None = None,
    cp: bool = False,
    safeguarding: bool = False,
    enquiries: list[dict[str, Any]] | None = None,
    serial: int | None = None,
) -> SchoolCMEReferral:
    first, last = _child_names()
    data = {
        "form": "school_cme_referral",
        "pupil": {
            "first_name": first,
            "last_name": last,
            "date_of_birth": str(today.replace(year=today.year - 10, day=1)),
            "gender": "female",
            "upn": _upn(serial if serial is not None else uuid.uuid4().int),
        },
        "school_laestab": SCHOOL,
        "referral_date": str(today),
        "absence_kind": "after_leave" if after_leave_end else "unauthorised",
        "leave_end_date": str(after_leave_end) if after_leave_end else None,
        "first_day_of_absence": str(day1),
        "contacts": [
            {
                "name": "Parent Synthetic",
                "relationship": "mother",
                "phone_numbers": ["07700 900123"],
                "is_primary": True,
            }
        ],
        "last_known_address": {"lines": ["1 Example Road", "Testtown"], "postcode": "PO1 9ZZ"},
        "enquiries_made": enquiries or [],
        "safeguarding_concern": safeguarding,
        "child_protection_plan": cp,
        "siblings_schools": [],
    }
    return SchoolCMEReferral.model_validate(data)


def migration_return(
    *,
    today: date,
    leaving_date: date,
    ground: str = "9(1)(a)",
    destination: dict[str, Any] | None = None,
    ehe_letter: str | None = None,
    cp: bool = False,
    referral_date: date | None = None,
    serial: int | None = None,
    **more: Any,
) -> PupilMigrationReturn:
    first, last = _child_names()
    data = {
        "form": "pupil_migration_return",
        "pupil": {
            "first_name": first,
            "last_name": last,
            "date_of_birth": str(today.replace(year=today.year - 9, day=1)),
            "gender": "male",
            "upn": _upn(serial if serial is not None else uuid.uuid4().int),
        },
        "school_laestab": SCHOOL,
        "referral_date": str(referral_date or today),
        "leaving_date": str(leaving_date),
        "ground": ground,
        "new_address": {"lines": ["2 Sample Street", "Testtown"], "postcode": "PO4 0ZZ"},
        "lives_with": {"name": "Parent Synthetic", "relationship": "father"},
        "lives_with_from": str(leaving_date),
        "destination": destination or {"kind": "school", "school_laestab": OTHER_SCHOOL},
        "child_protection_plan": cp,
        "ehe_letter_reference": ehe_letter,
        **more,
    }
    return PupilMigrationReturn.model_validate(data)


def professional_referral(*, today: date, cp: bool = False) -> ProfessionalCMEReferral:
    first, last = _child_names()
    data = json.loads(
        (Path(__file__).parents[2] / "examples" / "professional-cme-referral.json").read_text()
    )
    data["child"].update(
        first_name=first, last_name=last, date_of_birth=str(today.replace(year=today.year - 8))
    )
    data["referral_date"] = str(today)
    data["date_received"] = str(today)
    data["child_protection_plan"] = cp
    return ProfessionalCMEReferral.model_validate(data)


@dataclass
class Harness:
    env: WorkflowEnvironment
    client: Client
    task_queue: str
    calendar: TestCalendar
    today: date
    opened: list[str] = field(default_factory=list)
    # Runs other than a case's latest to record for the replay test (case, run id).
    runs: list[tuple[str, str]] = field(default_factory=list)

    async def open(self, referral: AnyReferral, by: Actor) -> CommandResult:
        result = await open_case(
            self.client, referral, by, task_queue=self.task_queue, secret=SECRET
        )
        if result.case not in self.opened:
            self.opened.append(result.case)
        return result

    def handle(self, case: str) -> WorkflowHandle[Any, Any]:
        return self.client.get_workflow_handle_for(CmeCase.run, case)

    async def state(self, case: str) -> CaseState:
        return await self.handle(case).query(CmeCase.state)

    async def wait_open(self, case: str) -> CaseState:
        """The case's state once it has opened (a case started without update-with-start)."""
        for _ in range(200):
            try:
                return await self.state(case)
            except WorkflowQueryFailedError:
                await asyncio.sleep(0.05)
        raise AssertionError(f"case {case} did not open")

    async def describe(self, case: str) -> DescribeWorkflowExecutionResponse:
        """The case's latest run, described raw (see :meth:`search_attribute`)."""
        return await self.client.workflow_service.describe_workflow_execution(
            DescribeWorkflowExecutionRequest(
                namespace=self.client.namespace, execution=WorkflowExecution(workflow_id=case)
            )
        )

    async def running(self, case: str) -> bool:
        status = (await self.describe(case)).workflow_execution_info.status
        return bool(status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING)

    async def search_attribute(self, case: str, key: SearchAttributeKey[Any]) -> Any:
        """One search attribute of the case's latest run (read raw: the time-skipping server's
        datetime attributes do not decode as typed ones)."""
        fields = (await self.describe(case)).workflow_execution_info.search_attributes
        payload = fields.indexed_fields.get(key.name)
        return (
            None if payload is None else default_converter().payload_converter.from_payload(payload)
        )

    async def now_date(self) -> date:
        return local_date(await self.env.get_current_time())

    async def sleep_until_end_of(self, day: date, extra: timedelta = timedelta(minutes=1)) -> None:
        """Skip time to just after the end of ``day`` (local midnight)."""
        target = end_of_day(day) + extra
        now = await self.env.get_current_time()
        if target > now:
            await self.env.sleep(target - now)

    async def sleep_until_morning_of(self, day: date) -> None:
        """Skip time to 09:00 on ``day`` (local)."""
        target = end_of_day(day - timedelta(days=1)) + timedelta(hours=9)
        now = await self.env.get_current_time()
        if target > now:
            await self.env.sleep(target - now)


def memory_key_store() -> MemoryKeyStore:
    """The cases' data keys in memory, wrapped with a key-encryption key of the test's own."""
    return MemoryKeyStore(KeyRing({"test": os.urandom(32)}, "test"))


def rid() -> str:
    """A fresh request id (each test request is a new request)."""
    return f"test-{uuid.uuid4().hex}"


def school_enquiry(
    kind: EnquiryKind, day: date, outcome: EnquiryOutcome = EnquiryOutcome.NO_CONTACT
) -> Enquiry:
    """An enquiry the school made on ``day`` (by default, one that made no contact)."""
    return Enquiry(by=EnquiryBy.SCHOOL, kind=kind, made_on=day, outcome=outcome)


def la_enquiry(
    kind: EnquiryKind, day: date, outcome: EnquiryOutcome = EnquiryOutcome.NO_INFORMATION
) -> Enquiry:
    """An enquiry the LA's officer made on ``day``."""
    return Enquiry(by=EnquiryBy.LA, kind=kind, made_on=day, outcome=outcome)


def decided(result: CommandResult) -> CaseOutcome:
    """The outcome a request's answer carries (the test fails when there is none)."""
    assert result.outcome is not None, result
    return result.outcome
