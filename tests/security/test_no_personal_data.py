"""No child's personal data anywhere but the register and the mail: one synthetic child per form,
driven through every path the `cme` command has, then every byte the service left elsewhere
searched for each of the child's values.

The stack is the real one, as `cme dev` runs it but with every log turned up: the Temporal dev
server on a SQLite file (``temporal.db``) with its log at debug level in ``temporal.log``; the
worker as ``python worker.py`` runs it (``worker.main``), in a process of its own, with Python
logging at DEBUG for every logger (the SDK's, SQLAlchemy's engine with its rows, the service's)
and the SDK core's own log at DEBUG, all of it in ``worker.log``; the `cme` command in this
process (``starter.cli.main``), its stdout and stderr captured at the file descriptors and its
Python logging at DEBUG in ``cli.log``.

The three children (a school CME referral with a Child Protection Plan, a Pupil Migration LA
Return and a professional referral) have distinctive names, dates of birth, UPNs, addresses,
parents' and contacts' names and phone numbers, a referrer, and a marker in every free text
typed. Their cases go through every task command, the timers that fire at once (the SAT
referral, the threshold, the CTF deadline: their dates are in the past), twelve of the thirteen
kinds of email (the overdue MASH call's needs a day to pass), refused requests, a register
that refuses a table's new rows (the cases', then the outbox's) and, on SQLite, one locked for
longer than the worker waits, a recipient the mail server refuses and the mail server down then
up again. It runs on both registers: SQLite (a trigger refuses) and PostgreSQL (a check
constraint refuses, and PostgreSQL's refusal quotes the row refused).

Then, case-insensitively, every value is looked for in: every payload and every other byte of
every run's raw history (each payload must be ciphertext, but the search attributes and patch
markers, which hold none), ``temporal.db`` and its ``-wal``/``-shm``, the dev server's log, the
worker's log, ``cli.log`` and the `cme` commands' stdout and stderr (but the stdout of `cme show`
and `cme history`, which is the case file an officer asked for). The register and the mail are
where the data belongs. The search is shown to find what is there: every value is in the
history's payloads once decrypted, the register and the mail hold the children's identities,
and the logs were on (SQLAlchemy's engine, the SDK's failed attempts, its core, the server at
debug level).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import re
import signal
import sqlite3
import string
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from temporalio.client import Client
from temporalio.converter import DataConverter

from domain.calendar import SchoolCalendar, human_date
from domain.case.state import CaseState, NotificationStatus
from domain.clock import local_date
from security.codec import ENCODING
from security.converter import data_converter
from security.store import SqlKeyStore
from starter.cli import main
from tests.conftest import REFUSED_DOMAIN, SmtpServer
from tests.keyring import TEST_KEY_SETTINGS, fixed_key_ring
from tests.payloads import (
    history_payloads,
    is_local_activity_marker,
    is_patch_marker,
    is_search_attribute,
)
from tests.starter.conftest import PersistentServer
from tests.workflows.harness import OTHER_SCHOOL, SCHOOL, _upn
from workflows.case import CmeCase

REPO = Path(__file__).parents[2]
SECRET = "no-personal-data-test-secret"
QUEUED = NotificationStatus.QUEUED

# The worker as `python worker.py` runs it, with every log at DEBUG: Python's (SQLAlchemy's
# engine included, which then logs rows) and the SDK core's (to stderr, in the same file).
WORKER = """
import logging, sys
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
logging.basicConfig(
    level=logging.DEBUG, stream=sys.stderr,
    format="%(asctime)s %(levelname)s %(name)s %(message)s",
)
for name in ("sqlalchemy", "sqlalchemy.engine", "temporalio", "cme", "aiosmtplib", "asyncio"):
    logging.getLogger(name).setLevel(logging.DEBUG)
Runtime.set_default(Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(
    filter=TelemetryFilter(core_level="DEBUG", other_level="INFO")))))
import worker
worker.main()
"""


# -- the children's data -----------------------------------------------------------------------


def _token(n: int = 6) -> str:
    return "".join(random.choice(string.ascii_lowercase) for _ in range(n)).capitalize()


@dataclass
class Personal:
    """Each personal value of the three children, by a label that says whose and what."""

    values: dict[str, str] = field(default_factory=dict)

    def add(self, label: str, value: str) -> str:
        assert value not in self.values.values(), label
        self.values[label] = value
        return value

    def add_date(self, label: str, value: date) -> str:
        self.add(f"{label} (ISO)", value.isoformat())
        self.add(f"{label} (as written)", human_date(value))
        return value.isoformat()


def _phone() -> str:
    return f"07700 9{random.randint(0, 99999):05d}"


def _postcode() -> str:
    return f"PO{random.randint(10, 99)} {random.randint(1, 9)}{_token(2).upper()}"


def _address(p: Personal, who: str) -> dict[str, Any]:
    return {
        "lines": [
            p.add(f"{who}'s address, first line", f"{random.randint(11, 99)} {_token()} Mews"),
            "Southsea",
            "Portsmouth",
        ],
        "postcode": p.add(f"{who}'s postcode", _postcode()),
    }


@dataclass
class Children:
    personal: Personal
    school: dict[str, Any]  # school CME referral, Child Protection Plan
    migration: dict[str, Any]  # Pupil Migration LA Return
    professional: dict[str, Any]  # professional referral
    free_text: str  # a marker in every free text typed on the cases


def children(calendar: SchoolCalendar, today: date) -> Children:
    p = Personal()
    surname = f"Quillfeather-{_token()}"

    def school_days_back(n: int) -> date:
        """The school day that makes the last one up to today school day ``n``."""
        return calendar.school_days(calendar.first_day, today)[-n]

    free = p.add("free text marker", f"Gorsemantle{_token()}")
    s = {
        "form": "school_cme_referral",
        "pupil": {
            "first_name": p.add("school child's first name", f"Zephyrine{_token(3).lower()}"),
            "last_name": p.add("school child's last name", surname),
            "date_of_birth": p.add_date("school child's date of birth", date(2013, 11, 2)),
            "gender": "female",
            "upn": p.add("school child's UPN", _upn(random.randint(0, 999_999))),
        },
        "school_laestab": SCHOOL,
        "referral_date": str(today),
        "absence_kind": "unauthorised",
        "leave_end_date": None,
        "first_day_of_absence": str(school_days_back(25)),
        "contacts": [
            {
                "name": p.add("school child's mother", f"Marigold {surname}"),
                "relationship": "mother",
                "phone_numbers": [p.add("school child's mother's phone", _phone())],
                "is_primary": True,
            },
            {
                "name": p.add("school child's grandfather", f"Barnaby Thistle{_token().lower()}"),
                "relationship": "grandfather",
                "phone_numbers": [p.add("school child's grandfather's phone", _phone())],
                "is_primary": False,
            },
        ],
        "last_known_address": _address(p, "school child"),
        "enquiries_made": [
            {
                "by": "school",
                "kind": "phone_primary",
                "made_on": str(school_days_back(24)),
                "outcome": "no_contact",
                "note": f"Mobile rang out ({free})",
            },
            {
                "by": "school",
                "kind": "letter",
                "made_on": str(school_days_back(23)),
                "outcome": "no_contact",
                "note": f"Letter sent ({free})",
            },
        ],
        "safeguarding_concern": False,
        "child_protection_plan": True,
        "siblings_schools": [OTHER_SCHOOL],
    }
    m_surname = f"Brackenholt-{_token()}"
    m = {
        "form": "pupil_migration_return",
        "pupil": {
            "first_name": p.add("migrating child's first name", f"Ottoline{_token(3).lower()}"),
            "last_name": p.add("migrating child's last name", m_surname),
            "date_of_birth": p.add_date("migrating child's date of birth", date(2015, 6, 14)),
            "gender": "female",
            "upn": p.add("migrating child's UPN", _upn(random.randint(0, 999_999))),
        },
        "school_laestab": SCHOOL,
        "referral_date": str(school_days_back(18)),  # the deletion's date: the CTF is overdue
        "leaving_date": str(school_days_back(20)),
        "ground": "9(1)(a)",
        "new_address": _address(p, "migrating child"),
        "lives_with": {
            "name": p.add("migrating child's mother", f"Hyacinth {m_surname}"),
            "relationship": "mother",
        },
        "lives_with_from": str(school_days_back(21)),
        "destination": {"kind": "school", "school_laestab": OTHER_SCHOOL},
        "child_protection_plan": False,
        "ehe_letter_reference": None,
    }
    n_surname = f"Wrenhallow-{_token()}"
    referrer = f"Perpetua Lindqvist{_token().lower()}"
    n = {
        "form": "professional_cme_referral",
        "child": {
            "first_name": p.add("referred child's first name", f"Ignatius{_token(3).lower()}"),
            "last_name": p.add("referred child's last name", n_surname),
            "date_of_birth": p.add_date("referred child's date of birth", date(2017, 4, 21)),
            "gender": "male",
            "ethnicity": "not known",
            "address": _address(p, "referred child"),
            "upn": None,
        },
        "parents": [
            {
                "name": p.add("referred child's mother", f"Clementine {n_surname}"),
                "contact_number": p.add("referred child's mother's phone", _phone()),
            },
            {
                "name": p.add("referred child's father", f"Ambrose {n_surname}"),
                "contact_number": None,
            },
        ],
        "address_if_different": None,
        "details": {
            "where_seen": f"At a health visit ({free})",
            "how_known_not_on_roll": f"The mother said so ({free})",
            "spoke_to_parents": True,
            "notes": f"No school place applied for ({free})",
        },
        "referral_date": str(today),
        "referrer": {
            "name": p.add("referrer's name", referrer),
            "organisation": "Example Health Visiting Service",
            "role": "Health visitor",
            "phone": p.add("referrer's phone", f"01632 9{random.randint(0, 99999):05d}"),
            "email": p.add("referrer's email", f"{referrer.split()[1].lower()}@health.example.org"),
        },
        "date_received": str(today),
        "safeguarding_concern": False,
        "child_protection_plan": False,
        "school_place_offered_not_taken": None,
    }
    return Children(personal=p, school=s, migration=m, professional=n, free_text=free)


# -- the stack -----------------------------------------------------------------------------------


class LoudServer(PersistentServer):
    """The dev server on its SQLite file, logging at debug level."""

    def command(self) -> list[str]:
        command = super().command()
        command[command.index("--log-level") + 1] = "debug"
        return command


def write_calendar(path: Path, today: date) -> SchoolCalendar:
    """One long term that began 30 weeks ago and ends in ten days: the school child's deadlines
    are past, and a referral made today has its deadlines past the calendar's end."""
    path.write_text(
        'la_code = 851\nla_name = "Testshire"\n'
        f'[[term]]\nname = "Long term"\nfirst_day = {today - timedelta(weeks=30)}\n'
        f"last_day = {today + timedelta(days=10)}\n",
        encoding="utf-8",
    )
    return SchoolCalendar.load(path)


@dataclass
class Stack:
    directory: Path
    server: PersistentServer
    client: Client
    engine: Engine
    smtp: SmtpServer
    worker_log: Path
    cli_log: Path
    cme_output: Path
    capfd: pytest.CaptureFixture[str]
    env: dict[str, str]
    worker: subprocess.Popen[bytes] | None = None
    commands: int = 0
    emails: set[str] = field(default_factory=set)  # the kinds of email sent, or refused for good

    def start_worker(self) -> None:
        with open(self.worker_log, "ab") as log:
            self.worker = subprocess.Popen(
                [sys.executable, "-c", WORKER],
                cwd=REPO,
                env={**os.environ, **self.env, "PYTHONPATH": str(REPO)},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def stop_worker(self) -> None:
        process, self.worker = self.worker, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    async def cme(self, *argv: str, case_file: bool = False, code: int = 0) -> str:
        """`cme ARGV` in this process; its stdout. Its stdout and stderr go to the file the
        search reads, but the stdout of the case file (`cme show`, `cme history`)."""
        self.capfd.readouterr()
        exit_code = await asyncio.to_thread(_run_main, list(argv))
        out, err = self.capfd.readouterr()
        self.commands += 1
        with open(self.cme_output, "a", encoding="utf-8") as record:
            record.write(f"== cme {argv[0]} (exit {exit_code})\n")
            record.write("[stdout: the case file, not searched]\n" if case_file else out)
            record.write(err)
        assert exit_code == code, f"cme {argv[0]} exited {exit_code}: {err.strip()[:500]}"
        return out

    async def refer(self, name: str, referral: dict[str, Any]) -> str:
        path = self.directory / name
        path.write_text(json.dumps(referral), encoding="utf-8")
        out = await self.cme("refer", str(path), "--json")
        case: str = json.loads(out)["case"]
        return case

    async def state(self, case: str) -> CaseState:
        handle = self.client.get_workflow_handle_for(CmeCase.run, case)
        state = await handle.query(CmeCase.state)
        self.emails |= {n.kind for n in state.notifications if n.status is not QUEUED}
        return state

    async def until(
        self, case: str, ready: Callable[[CaseState], bool], what: str, timeout: float = 30
    ) -> CaseState:
        deadline = time.monotonic() + timeout
        state: CaseState | None = None
        while True:
            with contextlib.suppress(Exception):
                state = await self.state(case)
                if ready(state):
                    return state
            problems = [(p.kind, p.subject, p.detail) for p in state.open_problems] if state else []
            assert time.monotonic() < deadline, f"case {case}: never {what} (problems {problems})"
            await asyncio.sleep(0.2)

    def register_rows(self, sql: str) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(text(sql)))

    @property
    def sqlite(self) -> bool:
        return self.engine.url.get_backend_name() == "sqlite"

    def refuse(self, table: str, refuse: bool = True) -> None:
        """The register refuses (or accepts again) every new row of ``table``: a trigger on
        SQLite, a check constraint on PostgreSQL (whose refusal quotes the row refused)."""
        if self.sqlite and refuse:
            sql = (
                f"CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} "
                "BEGIN SELECT RAISE(ABORT, 'refused by a constraint'); END"
            )
        elif self.sqlite:
            sql = f"DROP TRIGGER refuse_{table}"
        elif refuse:
            sql = f"ALTER TABLE {table} ADD CONSTRAINT refuse_{table} CHECK (false) NOT VALID"
        else:
            sql = f"ALTER TABLE {table} DROP CONSTRAINT refuse_{table}"
        with self.engine.begin() as conn:
            conn.execute(text(sql))

    def register_text(self) -> bytes:
        """The register's rows of the cases and the mail, as text."""
        rows = self.register_rows("SELECT * FROM cme_case") + self.register_rows(
            "SELECT * FROM notification"
        )
        return "\n".join(repr(tuple(row)) for row in rows).encode()


def _run_main(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)


class _NotTheMailServer(logging.Filter):
    """The test's SMTP server (aiosmtpd, ``mail.log``) stands for the mail relay: its log of
    the messages it receives is mail, not the service's."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith("mail.log")


@contextlib.contextmanager
def logging_to(path: Path) -> Iterator[None]:
    """Every logger of this process (the `cme` command's) at DEBUG into ``path``."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.addFilter(_NotTheMailServer())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    names = ("sqlalchemy", "sqlalchemy.engine", "temporalio", "cme", "asyncio")
    levels = {name: logging.getLogger(name).level for name in names}
    root_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for name in names:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(root_level)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        handler.close()


@pytest.fixture
async def stack(
    tmp_path: Path,
    empty_register_engine: Engine,  # no schema yet (`cme register upgrade` makes it)
    smtp_server: SmtpServer,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Stack]:
    data = tmp_path / "data"
    data.mkdir()
    engine = empty_register_engine
    register_url = engine.url.render_as_string(hide_password=False)
    converter: DataConverter = data_converter(SqlKeyStore(engine, fixed_key_ring()))
    server = LoudServer(
        db=data / "temporal.db", log=data / "temporal.log", data_converter=converter
    )
    env = {
        "CME_TEMPORAL_ADDRESS": server.address,
        "CME_TEMPORAL_NAMESPACE": "default",
        "CME_TASK_QUEUE": "cme-no-personal-data",
        "CME_DATA_DIR": str(data),
        "CME_DATABASE_URL": register_url,
        "CME_CALENDAR_FILE": str(tmp_path / "calendar.toml"),
        "CME_CASE_KEY_SECRET": SECRET,
        "CME_SMTP_HOST": smtp_server.host,
        "CME_SMTP_PORT": str(smtp_server.port),
        "CME_MAIL_FROM": "cme-service@portsmouth.example.invalid",
        "CME_MASH_EMAIL": "mash@portsmouth.example.invalid",
        # short, so that PostgreSQL's refusal of an outbox row, which shows the first 64
        # characters of each value, reaches the referrer's address after it
        "CME_SAT_EMAIL": "sat@la.test",
        "CME_TEAM_LEADER_EMAIL": "sat-team-leader@portsmouth.example.invalid",
        **TEST_KEY_SETTINGS,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    cli_log = tmp_path / "cli.log"
    with logging_to(cli_log):
        client = await server.start()
        client = Client(client.service_client, namespace=client.namespace, data_converter=converter)
        stack = Stack(
            directory=tmp_path,
            server=server,
            client=client,
            engine=engine,
            smtp=smtp_server,
            worker_log=tmp_path / "worker.log",
            cli_log=cli_log,
            cme_output=tmp_path / "cme-output.txt",
            capfd=capfd,
            env=env,
        )
        try:
            yield stack
        finally:
            stack.stop_worker()
            server.stop()


# -- searching -----------------------------------------------------------------------------------


@dataclass
class Found:
    where: str
    label: str
    offset: int
    context: str

    def __str__(self) -> str:
        return f"{self.where} @{self.offset}: {self.label} in …{self.context}…"


def _masked(text: str, personal: dict[str, str]) -> str:
    """``text`` with every personal value in it replaced by its label."""
    for label, value in personal.items():
        text = re.sub(re.escape(value), f"<{label}>", text, flags=re.IGNORECASE)
    return text.replace("\n", "\\n")


def search(data: bytes, where: str, personal: dict[str, str]) -> list[Found]:
    """Every occurrence of every value in ``data`` (case-insensitive), with 40 bytes either side
    for context: no value is shown, only its label."""
    lowered = data.lower()
    found: list[Found] = []
    for label, value in personal.items():
        needle = value.lower().encode()
        start = lowered.find(needle)
        while start != -1:
            end = start + len(needle)
            context = data[max(0, start - 40) : end + 40].decode(errors="replace")
            found.append(Found(where, label, start, _masked(context, personal)))
            start = lowered.find(needle, start + 1)
    return found


def report(found: list[Found]) -> str:
    """How many of each value where, then the first occurrences with their context."""
    counts = Counter((f.where.split(",")[0], f.label) for f in found)
    lines = [f"{len(found)} personal values found outside the register and the mail:"]
    lines += [f"  {where}: {label} ×{n}" for (where, label), n in sorted(counts.items())]
    lines += ["first occurrences:", *(f"  {f}" for f in found[:20])]
    return "\n".join(lines)


def sqlite_files(db: Path) -> list[Path]:
    return [
        p
        for p in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm"))
        if p.exists()
    ]


# -- the test ----------------------------------------------------------------------------------


async def test_no_personal_data_outside_the_register_and_the_mail(stack: Stack) -> None:
    begun = time.monotonic()
    today = local_date(datetime.now(UTC))
    calendar = write_calendar(Path(stack.env["CME_CALENDAR_FILE"]), today)
    kids = children(calendar, today)
    free = kids.free_text
    s = stack

    await s.cme("register", "upgrade")
    s.start_worker()

    # -- the school child: referred with a Child Protection Plan, 25 school days absent: MASH is
    # told, the SAT referral and the threshold are past, so both go at once.
    school = await s.refer("school.json", kids.school)
    await s.until(school, lambda st: st.threshold_reached_on is not None, "past the threshold")
    await s.cme("show", school, case_file=True)
    await s.cme(
        "enquiry", school, "--kind", "home_visit", "--outcome", "no_contact", "--by-la",
        "--note", f"Nobody home ({free})", "--by", "A Officer",
    )  # fmt: skip
    # The mail server goes down: the concern's emails wait, retried, and go once it is back.
    s.smtp.stop()
    await s.cme("concern", school, f"Neighbour reports a move at night ({free})", "--by", "Ms A")
    await asyncio.sleep(3)
    s.smtp.start()
    await s.until(
        school,
        lambda st: all(n.status.value == "sent" for n in st.notifications),
        "its emails sent once the mail server is back",
    )
    await s.cme(
        "mash-call", school, "--reference", "M-123", "--advice", f"Keep looking ({free})",
        "--by", "Ms A",
    )  # fmt: skip
    await s.cme(
        "share", school, f"Sibling seen in town ({free})", "--code", f"{today}=N", "--by", "Ms A"
    )
    await s.cme("contact", school, "--not-returned", "--note", f"Phoned ({free})", "--by", "Ms A")
    await s.cme("reassign", school, "Officer Zed", "--by", "Lead Y")
    await s.cme(
        "facts", school, "--la-arranged-special-school", "yes",
        "--attendance-order-names-school", "no", "--by", "Officer Zed",
    )  # fmt: skip
    await s.cme(
        "conclude", school, "moved_away", "--other-la", "Exampleshire County Council",
        "--other-la-email", "cme@exampleshire.example.invalid", "--note", f"Gone ({free})",
        "--by", "Officer Zed",
    )  # fmt: skip
    # Refused: a ground that is not the conclusion's, then the conclusion's without the placing
    # LA's consent (a special school under LA arrangements); the proofs and the consent follow.
    await s.cme("authorise", school, "9(1)(i)", "--by", "Officer Zed", code=1)
    await s.cme("authorise", school, "9(1)(g)", "--by", "Officer Zed", code=1)
    state = await s.state(school)
    assert state.day1 is not None and state.deadlines.threshold_day is not None
    days = calendar.school_days(state.day1, state.deadlines.threshold_day)
    await s.cme("codes", school, *(f"{d}=N" for d in days), "--by", "Ms A")
    await s.cme(
        "confirm-no-sickness", school, "--note", f"Seen well ({free})", "--by", "Officer Zed"
    )
    await s.cme(
        "consent", school, "--consented-by", "LA SEN lead", "--reference", f"C-1 ({free})",
        "--by", "Officer Zed",
    )  # fmt: skip
    await s.cme("authorise", school, "9(1)(g)", "--by", "Officer Zed")
    await s.cme("history", school, case_file=True)

    # -- the migrating child: the CTF deadline is past (overdue at once). The register refuses
    # the case (a problem, retried), then accepts it; on SQLite, it is then locked for longer
    # than the worker waits (retried by Temporal).
    # (A return on the age ground first: refused before anything is sent, and the refusal does
    # not repeat the date of birth.)
    path = s.directory / "age.json"
    path.write_text(json.dumps({**kids.migration, "ground": "9(1)(l)"}), encoding="utf-8")
    await s.cme("refer", str(path), code=2)
    s.refuse("cme_case")
    migration = await s.refer("migration.json", kids.migration)
    await s.until(
        migration,
        lambda st: any(p.kind.value == "register_rejected" for p in st.open_problems),
        "refused by the register",
    )
    await s.cme("retry", migration, "--by", "A Officer")  # refused again
    s.refuse("cme_case", False)
    lock = await asyncio.to_thread(_lock_register, s.engine) if s.sqlite else None
    try:
        await s.cme("ctf", migration, OTHER_SCHOOL, "--by", "Ms A")
        if lock is not None:
            await asyncio.sleep(7)  # the worker's sync waits 5 s, fails, and is retried
    finally:
        if lock is not None:
            await asyncio.to_thread(lock.release)
    await s.until(migration, lambda st: not st.open_problems, "in the register")
    await s.cme("authorise", migration, "9(1)(a)", "--by", "A Officer")
    await s.cme("show", migration, case_file=True)

    # -- the professional's referral: the child left the area. The register's outbox refuses
    # the emails' rows for a while (the closure decision's names the referrer's address:
    # PostgreSQL's refusal quotes it), retried; the other LA's address is refused by the mail
    # server (a problem, the team leader told), retried.
    professional = await s.refer("professional.json", kids.professional)
    await s.cme(
        "enquiry", professional, "--kind", "partner", "--outcome", "information", "--by-la",
        "--note", f"Health records ({free})", "--by", "A Officer",
    )  # fmt: skip
    s.refuse("notification")
    await s.cme(
        "conclude", professional, "left_area", "--other-la", "Exampleshire County Council",
        "--other-la-email", f"cme@{REFUSED_DOMAIN}", "--by", "A Officer",
    )  # fmt: skip
    await asyncio.sleep(2)  # the outbox refuses, the emails are retried
    s.refuse("notification", False)
    await s.until(
        professional,
        lambda st: any(p.kind.value == "notification_undeliverable" for p in st.open_problems),
        "the other LA's email refused",
    )
    await s.cme("retry", professional, "--by", "A Officer")

    # -- second episodes: the school child referred again today (its deadlines past the
    # calendar: a problem), back at school; the referred child again, withdrawn.
    last_school_day = calendar.school_days(calendar.first_day, today)[-1]
    again = {**kids.school, "first_day_of_absence": str(last_school_day), "enquiries_made": []}
    again["child_protection_plan"] = False
    assert await s.refer("school-again.json", again) == school
    await s.until(school, lambda st: st.episode == 2 and bool(st.open_problems), "episode 2")
    await s.cme(
        "enquiry", school, "--kind", "phone_primary", "--outcome", "no_contact",
        "--note", f"No answer ({free})", "--by", "Ms A",
    )  # fmt: skip
    await s.cme("contact", school, "--note", f"Back today ({free})", "--by", "Ms A")
    again = {**kids.professional}
    again["details"] = {**again["details"], "notes": f"Seen again ({free})"}
    assert await s.refer("professional-again.json", again) == professional
    await s.until(professional, lambda st: st.episode == 2, "episode 2")
    # (not the marker: the command's answer repeats the reason typed, as `cme show` does)
    await s.cme("withdraw", professional, "duplicate referral", "--by", "Lead Y")
    await s.cme("cases")
    await s.cme("cases", "--problems")
    await s.cme("show", professional, "--episode", "1", case_file=True)

    # Everything sent that can be: every kind of email but the overdue MASH call's.
    for case in (school, migration, professional):
        await s.until(
            case, lambda st: all(n.status is not QUEUED for n in st.notifications), "sent"
        )
    assert s.emails == {
        "mash_escalation", "sat_referral", "threshold_reached", "information_shared",
        "outcome_to_school", "closure_to_school", "calendar_ends", "ctf_overdue",
        "problem_report", "not_on_roll_referral", "closure_decision", "other_la_notice",
    }  # fmt: skip

    # -- what Temporal holds: every run's raw history.
    personal = kids.personal.values
    found: list[Found] = []
    runs = encrypted = 0
    decrypted = b""  # the control: the payloads decrypted do hold the values
    codec = s.client.data_converter.payload_codec
    assert codec is not None
    async for execution in s.client.list_workflows():
        runs += 1
        handle = s.client.get_workflow_handle(execution.id, run_id=execution.run_id)
        history = await handle.fetch_history()
        where = f"history of {execution.id} run {execution.run_id}"
        for field_path, payload in history_payloads(history):
            if (
                is_search_attribute(field_path)
                or is_patch_marker(field_path)
                or is_local_activity_marker(field_path)
            ):
                found += search(payload.SerializeToString(), f"{where}, {field_path}", personal)
                continue
            clear = f"{where}: {field_path} is in the clear"
            assert payload.metadata.get("encoding") == ENCODING, clear
            encrypted += 1
            decrypted += b"".join(p.data for p in await codec.decode([payload]))
        for event in history.events:
            found += search(event.SerializeToString(), f"{where}, event {event.event_id}", personal)
    assert runs >= 5

    s.stop_worker()
    s.server.stop()  # its database checkpointed and closed: every byte on disk
    files = [*sqlite_files(s.server.db), s.server.log, s.worker_log, s.cli_log, s.cme_output]
    sizes: dict[str, int] = {}
    for path in files:
        data = path.read_bytes()
        sizes[path.name] = len(data)
        found += search(data, path.name, personal)
    # ... and they were there to be found: the logs were on, the history's words are plain bytes.
    worker_log = s.worker_log.read_bytes()
    for logged in (b"sqlalchemy.engine.Engine", b"Completing activity as failed", b"sdk_core"):
        assert logged in worker_log, logged
    assert b"level=DEBUG" in s.server.log.read_bytes()
    assert b"deliver_notification" in s.server.db.read_bytes()

    elapsed = time.monotonic() - begun
    print(
        f"\n{len(personal)} values searched in {runs} runs' histories ({encrypted} payloads, all "
        f"encrypted), {len(files)} files ({sizes}) and {s.commands} cme commands' output, in "
        f"{elapsed:.0f} s"
    )
    assert not found, report(found)

    # The search finds the values where they are: every one is in the decrypted payloads, and
    # the register and the mail hold the child's identity.
    in_payloads = {f.label for f in search(decrypted, "payloads", personal)}
    assert in_payloads == {label for label in personal if "(as written)" not in label}
    register = s.register_text()
    mail = b"".join(m.as_bytes() for m in s.smtp.messages)
    for where, data in (("register", register), ("mail", mail)):
        held = {f.label for f in search(data, where, personal)}
        assert {"school child's last name", "school child's UPN"} <= held, where


class _Lock:
    """The register's file locked for writing (``BEGIN EXCLUSIVE``) until released."""

    def __init__(self, path: str) -> None:
        self.connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.connection.execute("BEGIN EXCLUSIVE")

    def release(self) -> None:
        self.connection.rollback()
        self.connection.close()


def _lock_register(engine: Engine) -> _Lock:
    return _Lock(str(engine.url.database))
