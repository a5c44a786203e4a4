"""`cme import FILE`: bring an LA's open caseload into the service (issue 11, target 4).

    cme import caseload.jsonl                  # JSON lines: one case's record a line
    cme import caseload.csv --concurrency 16   # CSV: the same records, one a row

Each record is a referral as ``cme refer`` takes it (any of the three forms; a school's CME
referral carries day 1 of absence and the school's enquiries so far) with, optionally, who sends
it (``by``, ``as``, ``school``, as ``cme refer --by --as --school``), the enquiries made since
(``enquiries``: each as ``cme enquiry`` records it) and the stage the old system says the case has
reached (``stage``, a check). The columns are in ``docs/import.md``.

1. **Every row is checked before anything is sent**: the referral by the intake
   (:func:`domain.intake.parse_referral`: today in England and the school calendar, as
   ``cme refer``), who sends it (:func:`starter.referrals.referred_by`), each enquiry's fields,
   and then the case itself, offline: the referral opens the case in the pure state machine
   (:mod:`domain.case.machine`) at today's moment, its deadlines so far run, and each enquiry is
   applied as the case would apply it. A bad row is one line on stderr, ``FILE line N: field:
   message`` in the intake's and the case's own words; if any row is bad, nothing is imported
   (exit 2).
2. **Idempotent**: each referral's and enquiry's request id is derived from its content and its
   sender, as ``cme refer`` and ``cme enquiry`` derive them, so a row sent again is applied once
   (``already imported``). Two rows of the same child are sent in file order (the second is a
   further referral of the open case).
3. **Resumable**: each row done is written to a journal in the data directory
   (``<data dir>/imports/<the file's SHA-256>.done``: line numbers, case references and request
   ids, no personal data); after Ctrl-C or a failure, the same command skips those rows without
   asking Temporal and carries on with the rest.
4. **Bounded concurrency that never trips the update deadline**: at most ``--concurrency`` cases
   in flight (16 by default); when a case takes longer than a sixth of the 30 s a case has to
   accept a request (:data:`starter.case_client.ANSWER_TIMEOUT_SECONDS`), fewer are sent at once,
   then more again as answers come back quickly. A request the case does not accept in time
   stops the import: nothing more is sent, and running the same command again resumes it.
5. **Progress** on stderr: a bar with the rate and the time left on a terminal, a plain line every
   10 % (or 10 s) otherwise; the summary on stdout.

No personal data is printed: lines are named by their line numbers and cases by their references.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import io
import json
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError
from temporalio.client import Client

from domain.calendar import CalendarError
from domain.case import machine
from domain.case.commands import OpenCase, RecordEnquiry, Tick
from domain.case.model import Actor, Role, Stage
from domain.case.rules import Rejected
from domain.case.state import CaseState
from domain.enquiries import Enquiry, EnquiryBy
from domain.intake import AnyReferral, ReferralInvalid, parse_referral, school_of
from domain.types import error_message, printable
from settings import Settings
from starter import case_client
from starter.args import laestab_arg, today
from starter.cases import case_reference, referral_update, request_id_for
from starter.connect import connect
from starter.errors import CaseError, CliError, NotRecorded, one_line_errors
from starter.referrals import MAX_REFERRAL_DEPTH, _depth, referred_by
from starter.words import stage_words
from workflows.case import CmeCase

RECORD_FIELDS = ("referral", "by", "as", "school", "enquiries", "stage")
ENQUIRY_FIELDS = ("by", "as", "by_la", "kind", "outcome", "made_on", "note")
ENQUIRY_ROLES = (Role.SCHOOL, Role.CME_OFFICER, Role.TEAM_LEADER)
MAX_ENQUIRIES = 50
DEFAULT_CONCURRENCY = 16
MAX_FILE_BYTES = 2_000_000_000
# A case slower than this to answer means the worker is falling behind: send fewer at once.
SLOW_FRACTION = 1 / 6


def register(subparsers: Any) -> None:
    parser = one_line_errors(
        subparsers.add_parser(
            "import",
            help="import an LA's open caseload (CSV or JSON lines of referrals and their "
            "enquiries)",
            description="Import an LA's open caseload: each row a referral with its history "
            "so far (see docs/import.md). Every row is checked first; nothing is imported if "
            "any is bad. Running it again skips what is done (resumes after Ctrl-C).",
        )
    )
    parser.add_argument("file", type=Path, metavar="FILE", help="the caseload, .csv or .jsonl")
    parser.add_argument(
        "--format",
        choices=("csv", "jsonl"),
        help="the file's format (default: by its name, .csv or .jsonl/.ndjson)",
    )
    parser.add_argument(
        "--concurrency",
        type=_concurrency,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"cases in flight at most (default {DEFAULT_CONCURRENCY}; fewer while the worker "
        "is slow)",
    )
    parser.add_argument(
        "--check", action="store_true", help="check every row and stop: nothing is sent"
    )
    parser.set_defaults(handler=import_handler)


def _concurrency(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 256:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of cases from 1 to 256")
    return int(text)


# -- reading the file ------------------------------------------------------------------------------


class RowError(Exception):
    """A row that cannot be imported: its field (dotted, or "") and the reason."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def file_format(path: Path, given: str | None) -> str:
    if given:
        return given
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    raise CliError(
        f"cannot tell the format of {printable(str(path), limit=200)}: name it .csv or .jsonl, "
        "or give --format",
        exit_code=2,
    )


def read_text(path: Path) -> tuple[str, str]:
    """The file's text and its SHA-256 (the journal's name), or one line saying why not."""
    name = printable(str(path), limit=200)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CliError(f"cannot read {name}: no such file", exit_code=2) from None
    except IsADirectoryError:
        raise CliError(f"cannot read {name}: it is a directory", exit_code=2) from None
    except OSError as exc:
        raise CliError(f"cannot read {name}: {exc.strerror or exc}", exit_code=2) from None
    if len(raw) > MAX_FILE_BYTES:
        raise CliError(f"cannot read {name}: over 2 GB", exit_code=2)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CliError(f"{name} line {line}: not UTF-8 text", exit_code=2) from None
    return text, hashlib.sha256(raw).hexdigest()


def jsonl_records(text: str) -> Iterator[tuple[int, Any]]:
    """``(line number, record or RowError)`` for each line that is not blank."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record: Any = json.loads(line)
        except json.JSONDecodeError as exc:
            record = RowError("", f"not JSON: {exc.msg} at column {exc.colno}")
        except (RecursionError, ValueError):
            record = RowError(
                "", "not JSON a record can be (nested too deeply, or a number too long)"
            )
        yield number, record


def csv_records(text: str) -> Iterator[tuple[int, Any]]:
    """``(line number, record or RowError)`` for each row: the header names each column by its
    dotted path in the record (``referral.pupil.first_name``, ``enquiries.0.kind``); an empty
    cell is a value not given."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        yield 1, RowError("", f"not CSV: {exc}")
        return
    columns = [column.strip() for column in header]
    start = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield start, RowError("", f"not CSV: {exc}")
            return
        line, start = start, reader.line_num + 1
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(columns):
            yield line, RowError("", f"{len(row)} cells, but the header names {len(columns)}")
            continue
        try:
            yield (
                line,
                unflatten(
                    {
                        column: cell
                        for column, cell in zip(columns, row, strict=False)
                        if cell.strip()
                    }
                ),
            )
        except RowError as exc:
            yield line, exc


def unflatten(cells: dict[str, str]) -> dict[str, Any]:
    """``{"a.b": x, "a.c.0": y}`` → ``{"a": {"b": x, "c": [y]}}``: a number in the path is a
    list's item (in number order; gaps close up)."""
    root: dict[str, Any] = {}
    for path, value in cells.items():
        parts = path.split(".")
        if not path or any(not part for part in parts):
            raise RowError(path, "a column's name is a dotted path, e.g. referral.pupil.upn")
        node = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            existing = node.get(part)
            if last:
                if existing is not None:
                    raise RowError(path, "given twice (as a value and as a group of columns)")
                node[part] = value.strip()
            else:
                if existing is None:
                    existing = node[part] = {}
                if not isinstance(existing, dict):
                    raise RowError(path, "given twice (as a value and as a group of columns)")
                node = existing
    result: dict[str, Any] = _lists(root)
    return result


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    children = {key: _lists(value) for key, value in node.items()}
    if children and all(key.isdigit() for key in children):
        return [children[key] for key in sorted(children, key=int)]
    return children


# -- checking each row -----------------------------------------------------------------------------


@dataclass
class Row:
    """A checked row: what is sent, with the ids it is sent with."""

    line: int
    case: str
    referral: AnyReferral
    by: Actor
    request_id: str
    enquiries: list[RecordEnquiry] = field(default_factory=list)
    stage: Stage = Stage.SCHOOL_ENQUIRIES  # where the case is once its deadlines so far have run


@dataclass
class Checker:
    """Checks rows as the intake and the case would, with one calendar and one moment."""

    settings: Settings
    now: datetime
    secret: str = ""

    def __post_init__(self) -> None:
        self.secret = self.settings.case_key_secret.get_secret_value()
        try:
            self.calendar = self.settings.calendar
        except (CalendarError, OSError) as exc:
            raise CliError(
                f"cannot load the school calendar {self.settings.calendar_file}: {exc}"
            ) from None
        self.context = machine.Context(
            now=self.now, calendar=self.calendar, policy=self.settings.case_policy
        )
        self.today = today()

    def row(self, line: int, record: Any) -> Row:
        if isinstance(record, RowError):
            raise record
        if not isinstance(record, dict):
            raise RowError("", 'a record is a JSON object: {"referral": {...}, ...}')
        unknown = sorted(set(record) - set(RECORD_FIELDS))
        if unknown:
            raise RowError(unknown[0], f"not a field of a record ({', '.join(RECORD_FIELDS)})")
        data = record.get("referral")
        if not isinstance(data, dict):
            raise RowError("referral", "the referral is needed, as cme refer takes it")
        if _depth(data) > MAX_REFERRAL_DEPTH:
            raise RowError("referral", "nested too deeply to be a referral")
        try:
            referral = parse_referral(data, today=self.today, calendar=self.calendar)
        except ReferralInvalid as invalid:
            problem = invalid.problems[0]
            where = f"referral.{problem.field}" if problem.field else "referral"
            more = len(invalid.problems) - 1
            also = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
            raise RowError(where, problem.message + also) from None
        schools = _schools(record.get("school"))
        try:
            by = referred_by(referral, _text(record, "by"), _role(record, "as"), schools)
        except CliError as exc:
            where = "school" if exc.message.startswith("--school") else "by"
            raise RowError(where, exc.message.removeprefix("--school: ")) from None
        update = referral_update(referral, by, secret=self.secret)
        case = case_reference(referral, self.secret)
        try:
            state = self._caught_up(
                machine.open_case(
                    case,
                    OpenCase(referral=referral, referred_by=by, request_id=update.request_id),
                    self.context,
                ).state
            )
        except Rejected as refused:
            raise RowError("referral", f"rejected: {refused.message}") from None
        row = Row(line=line, case=case, referral=referral, by=by, request_id=update.request_id)
        enquiries = record.get("enquiries") or []
        if not isinstance(enquiries, list) or len(enquiries) > MAX_ENQUIRIES:
            raise RowError("enquiries", f"a list of at most {MAX_ENQUIRIES} enquiries")
        for i, given in enumerate(enquiries):
            command = self.enquiry(f"enquiries.{i}", given, case)
            acting = _acting(command, school_of(referral))
            try:
                state = self._caught_up(machine.decide(state, acting, self.context).state)
            except Rejected as refused:
                raise RowError(f"enquiries.{i}", f"rejected: {refused.message}") from None
            row.enquiries.append(command)
        row.stage = state.stage
        expected = record.get("stage")
        if expected not in (None, "") and expected != state.stage.value:
            raise RowError(
                "stage",
                f"the case would be at {state.stage.value} ({stage_words(state.stage)}) "
                f"today, not {printable(str(expected), limit=60)}",
            )
        return row

    def enquiry(self, where: str, given: Any, case: str) -> RecordEnquiry:
        """An enquiry as ``cme enquiry`` sends it, with the request id it derives."""
        if not isinstance(given, dict):
            raise RowError(where, 'an enquiry is an object: {"kind", "outcome", ...}')
        unknown = sorted(set(given) - set(ENQUIRY_FIELDS))
        if unknown:
            raise RowError(
                f"{where}.{unknown[0]}", f"not a field of an enquiry ({', '.join(ENQUIRY_FIELDS)})"
            )
        by_la = _boolean(given.get("by_la", False), f"{where}.by_la")
        role = _role(given, "as", where) or (Role.CME_OFFICER if by_la else Role.SCHOOL).value
        if Role(role) not in ENQUIRY_ROLES:
            raise RowError(f"{where}.as", "school, cme_officer or team_leader")
        name = _text(given, "by", where)
        if not name:
            raise RowError(f"{where}.by", "who made the enquiry is needed (a name)")
        if given.get("made_on") in (None, ""):
            raise RowError(f"{where}.made_on", "the date the enquiry was made is needed")
        try:
            actor = Actor(name=" ".join(name.split()), role=Role(role))
            command = RecordEnquiry(
                by=actor,
                request_id="request-id-pending",
                enquiry=Enquiry.model_validate(
                    {
                        "by": EnquiryBy.LA if by_la else EnquiryBy.SCHOOL,
                        "kind": given.get("kind"),
                        "made_on": given.get("made_on"),
                        "outcome": given.get("outcome"),
                        "note": " ".join(str(given.get("note") or "").split()),
                    }
                ),
            )
        except ValidationError as exc:
            error = exc.errors()[0]
            loc = [str(p) for p in error["loc"] if p not in ("enquiry",)]
            raise RowError(f"{where}.{'.'.join(loc)}", error_message(error)) from None
        content = command.model_dump_json(exclude={"request_id"})
        derived = request_id_for("enquiry", case, content, secret=self.secret)
        return command.model_copy(update={"request_id": derived})

    def _caught_up(self, state: CaseState) -> CaseState:
        """``state`` once every deadline due by now has run, as the case runs them."""
        for _ in range(100):
            wake = machine.next_wakeup(state)
            if wake is None or wake > self.now:
                return state
            state = machine.decide(state, Tick(), self.context).state
        return state


def _text(record: dict[str, Any], key: str, where: str = "") -> str | None:
    value = record.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise RowError(f"{where}.{key}" if where else key, "must be text")
    return value


def _role(record: dict[str, Any], key: str, where: str = "") -> str | None:
    value = _text(record, key, where)
    if value is not None and value not in {r.value for r in Role}:
        raise RowError(
            f"{where}.{key}" if where else key, f"{printable(value, limit=40)} is not a role"
        )
    return value


def _schools(value: Any) -> list[str] | None:
    """``school``: a LAESTAB, several separated by spaces, or a list of them."""
    if value is None or value == "":
        return None
    items = value.split() if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(s, str) for s in items):
        raise RowError("school", "a school's LAESTAB, or several separated by spaces")
    try:
        return [laestab_arg(s) for s in items]
    except argparse.ArgumentTypeError as exc:
        raise RowError("school", str(exc)) from None


def _boolean(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in (
        "yes",
        "y",
        "true",
        "1",
        "no",
        "n",
        "false",
        "0",
        "",
    ):
        return value.strip().lower() in ("yes", "y", "true", "1")
    raise RowError(where, "yes or no")


def _acting(command: RecordEnquiry, school: str | None) -> RecordEnquiry:
    """As :func:`starter.case_client.send` sends it: a school's user named without schools acts
    for the case's own school."""
    by = command.by
    if by.role is not Role.SCHOOL or by.schools or school is None:
        return command
    return command.model_copy(update={"by": by.model_copy(update={"schools": (school,)})})


def check_rows(records: Iterator[tuple[int, Any]], checker: Checker) -> tuple[list[Row], list[str]]:
    """Every row checked: the good ones, and one line for each bad one."""
    rows: list[Row] = []
    problems: list[str] = []
    for line, record in records:
        try:
            rows.append(checker.row(line, record))
        except RowError as bad:
            where = f"{bad.field}: " if bad.field else ""
            problems.append(f"line {line}: {where}{printable(bad.message, limit=500)}")
    return rows, problems


# -- the journal -----------------------------------------------------------------------------------


class Journal:
    """The rows of one file already imported: ``line request-id case`` a line (no personal data),
    appended as each row is done, so that a run stopped part-way resumes where it stopped."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.done: set[tuple[int, str]] = set()
        if path.exists():
            for entry in path.read_text(encoding="utf-8").splitlines():
                parts = entry.split()
                if len(parts) == 3 and parts[0].isdigit():
                    self.done.add((int(parts[0]), parts[1]))
        self._file: IO[str] | None = None

    def has(self, row: Row) -> bool:
        return (row.line, row.request_id) in self.done

    def add(self, row: Row) -> None:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")
        self._file.write(f"{row.line} {row.request_id} {row.case}\n")
        self._file.flush()
        self.done.add((row.line, row.request_id))

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


# -- sending ---------------------------------------------------------------------------------------


class Window:
    """At most ``limit`` cases in flight; the limit halves when a case answers slowly (its
    worker is falling behind: a request must be accepted within the deadline) and grows by one
    with each quick answer, up to ``maximum``."""

    def __init__(self, maximum: int, slow: float) -> None:
        self.maximum = maximum
        self.limit = maximum
        self.slow = slow
        self.active = 0
        self._changed = asyncio.Condition()

    async def acquire(self) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self.active < self.limit)
            self.active += 1

    async def release(self, seconds: float | None) -> None:
        async with self._changed:
            self.active -= 1
            if seconds is not None and seconds > self.slow:
                self.limit = max(1, self.limit // 2)
            elif seconds is not None and seconds < self.slow / 4:
                self.limit = min(self.maximum, self.limit + 1)
            self._changed.notify_all()


class Progress:
    """Rows done of the total, with the rate and the time left: a bar redrawn in place on a
    terminal, a plain line every 10 % (or 10 s) otherwise."""

    def __init__(self, total: int, stream: IO[str], clock: Callable[[], float] = time.monotonic):
        self.total = total
        self.stream = stream
        self.clock = clock
        self.start = clock()
        self.done = 0
        self.tty = stream.isatty()
        self._drawn = self.start
        self._tenth = 0

    def advance(self, rows: int = 1) -> None:
        self.done += rows
        now = self.clock()
        if self.tty:
            if now - self._drawn >= 0.1 or self.done == self.total:
                self._drawn = now
                self.stream.write("\r" + self.line(now) + "\x1b[K")
                self.stream.flush()
            return
        tenth = self.done * 10 // max(self.total, 1)
        if tenth > self._tenth or now - self._drawn >= 10:
            self._tenth, self._drawn = tenth, now
            self.stream.write(self.line(now) + "\n")
            self.stream.flush()

    def line(self, now: float) -> str:
        elapsed = max(now - self.start, 1e-9)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate > 0 else None
        eta = _duration(left) if left is not None else "--:--"
        share = self.done / max(self.total, 1)
        text = f"{self.done}/{self.total} rows ({share:.0%}), {rate:.1f} cases/s, ETA {eta}"
        if not self.tty:
            return f"imported {text}"
        width = 30
        filled = int(share * width)
        return f"[{'#' * filled}{'-' * (width - filled)}] {text}"

    def finish(self) -> None:
        if self.tty and self.done:
            self.stream.write("\n")
            self.stream.flush()


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


@dataclass
class Tally:
    opened: int = 0
    added: int = 0  # a further referral of a case already open
    repeated: int = 0  # already imported (the same request): not applied again
    skipped: int = 0  # done by an earlier run (the journal)
    enquiries: int = 0
    failed: list[str] = field(default_factory=list)


class Stop(Exception):
    """Nothing more can be sent now (the case service does not take requests in time)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass
class Importer:
    client: Client
    settings: Settings
    journal: Journal
    window: Window
    progress: Progress
    tally: Tally = field(default_factory=Tally)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, rows: list[Row]) -> None:
        """Every row not yet done; a child's rows one after another, in file order."""
        by_case: dict[str, list[Row]] = {}
        for row in rows:
            if self.journal.has(row):
                self.tally.skipped += 1
                self.progress.advance()
                continue
            by_case.setdefault(row.case, []).append(row)
        queue: asyncio.Queue[list[Row]] = asyncio.Queue()
        for case_rows in by_case.values():
            queue.put_nowait(case_rows)
        workers = [
            asyncio.create_task(self._worker(queue))
            for _ in range(min(self.window.maximum, len(by_case)))
        ]
        try:
            await asyncio.gather(*workers)
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def _worker(self, queue: asyncio.Queue[list[Row]]) -> None:
        while not queue.empty() and not self.stopping.is_set():
            for row in queue.get_nowait():
                if self.stopping.is_set():  # Ctrl-C: no row is started, those begun end
                    return
                await self.window.acquire()
                started = time.monotonic()
                seconds: float | None = None
                try:
                    await self.row(row)
                    seconds = (time.monotonic() - started) / (1 + len(row.enquiries))
                except CaseError as failed:
                    self.tally.failed.append(f"line {row.line}: {row.case}: {failed.message}")
                finally:
                    await self.window.release(seconds)
                self.progress.advance()

    async def row(self, row: Row) -> None:
        try:
            referred = await case_client.refer(
                self.client, self.settings, row.referral, row.by, request_id=row.request_id
            )
        except NotRecorded as exc:
            raise Stop(row.line, exc.message) from None
        result = referred.result
        if result is None:
            raise Stop(
                row.line,
                f"case {row.case} did not answer within {case_client.ANSWER_TIMEOUT_SECONDS:g} s "
                f"(is the worker running? task queue {self.settings.task_queue}); its referral "
                "is recorded",
            )
        if result.duplicate_request:
            self.tally.repeated += 1
        elif result.existing:
            self.tally.added += 1
        else:
            self.tally.opened += 1
        if row.enquiries and result.stage is not row.stage:
            await self._stage(row)
        for command in row.enquiries:
            try:
                await case_client.send(
                    self.client, self.settings, row.case, CmeCase.record_enquiry, command
                )
            except NotRecorded as exc:
                raise Stop(row.line, exc.message) from None
            self.tally.enquiries += 1
        self.journal.add(row)

    async def _stage(self, row: Row) -> None:
        """Until the case has run the deadlines already past (its first moments after opening),
        so that the enquiries meet it where the check met it."""
        deadline = time.monotonic() + case_client.ANSWER_TIMEOUT_SECONDS
        while True:
            state = await case_client.case_state(self.client, row.case, self.settings)
            if state.stage is row.stage or time.monotonic() > deadline:
                return
            await asyncio.sleep(0.05)


# -- the command -----------------------------------------------------------------------------------


def journal_path(settings: Settings, digest: str) -> Path:
    return settings.data_dir.expanduser() / "imports" / f"{digest}.done"


async def import_handler(args: argparse.Namespace, settings: Settings) -> int:
    name = printable(str(args.file), limit=200)
    kind = file_format(args.file, args.format)
    text, digest = read_text(args.file)
    records = csv_records(text) if kind == "csv" else jsonl_records(text)
    checker = Checker(settings=settings, now=datetime.now(UTC))
    rows, problems = check_rows(records, checker)
    if problems:
        for problem in problems:
            print(f"{name} {problem}", file=sys.stderr)
        raise CliError(
            f"nothing imported: {len(problems)} of {len(rows) + len(problems)} rows of {name} "
            "cannot be imported (each is listed above)",
            exit_code=2,
        )
    if not rows:
        raise CliError(f"nothing to import: {name} has no rows", exit_code=2)
    if args.check:
        print(f"{name}: all {len(rows)} rows can be imported (nothing sent: --check)")
        return 0
    journal = Journal(journal_path(settings, digest))
    progress = Progress(len(rows), sys.stderr)
    window = Window(args.concurrency, slow=case_client.ANSWER_TIMEOUT_SECONDS * SLOW_FRACTION)
    client = await connect(settings)
    importer = Importer(client, settings, journal, window, progress)
    started = time.monotonic()
    stopped: str | None = None
    interrupted = _on_ctrl_c(importer.stopping)
    try:
        await importer.run(rows)
    except Stop as stop:
        stopped = f"line {stop.line}: {stop.message}"
    finally:
        journal.close()
        if interrupted:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGINT)
    progress.finish()
    if importer.stopping.is_set():
        print(_resume(importer.tally, len(rows), name), file=sys.stderr)
        return 130
    tally = importer.tally
    seconds = time.monotonic() - started
    sent = tally.opened + tally.added + tally.repeated
    print(
        f"{name}: {tally.opened} cases opened, {tally.added} referrals added to open cases, "
        f"{tally.repeated + tally.skipped} already imported, {tally.enquiries} enquiries "
        f"recorded, {len(tally.failed)} failed; {sent / max(seconds, 1e-9):.1f} cases/s"
    )
    for failure in tally.failed:
        print(f"{name} {failure}", file=sys.stderr)
    if stopped is not None:
        raise CliError(f"{stopped}. {_resume(tally, len(rows), name)}", exit_code=75)
    return 1 if tally.failed else 0


def _on_ctrl_c(stopping: asyncio.Event) -> bool:
    """Ctrl-C stops the import gracefully: no more rows are started, those in flight finish
    (each within the update deadline) and are journalled; a second Ctrl-C stops at once. Only
    where the process's signals are this thread's (not when `main` runs in a thread)."""
    loop = asyncio.get_running_loop()

    def first() -> None:
        stopping.set()
        loop.remove_signal_handler(signal.SIGINT)  # the next one interrupts at once

    try:
        loop.add_signal_handler(signal.SIGINT, first)
    except (RuntimeError, ValueError):
        return False
    return True


def _resume(tally: Tally, total: int, name: str) -> str:
    done = tally.opened + tally.added + tally.repeated + tally.skipped
    return (
        f"stopped: {done} of {total} rows of {name} imported; running the same command again "
        "resumes (rows done are skipped)"
    )
