"""Benchmark: the register's sync of a case's three steps, only the tables that changed against
every table, in one run.

    .venv/bin/python -m benchmarks.register_sync [--cases 300] [--rounds 3] [--url URL]

Each case is synced as a case is on its way to a decision: opened (its enquiries, tasks,
escalation, problem and school), a problem cleared, then closed with its decision. The same
steps are written two ways, interleaved round by round, each way its own cases: on a SQLite file
of its own each (the default), or both in the PostgreSQL database ``--url`` names (one of its
own: the register's rows in it are deleted before and after):

* **changed tables** -- :func:`activities.register.write_record` as the worker runs it (register
  revision 0009: the case row's upsert returns its tables' digests as they were, and only the
  tables whose rows changed are written, a new episode's only inserted);
* **every table** -- the same, told that no table's digest is known (as a sync is after a
  worker of before revision 0009 wrote the row), so that every table is written, an upsert and
  a delete each, as before that revision.

Printed for each: statements and the process's CPU per case (three syncs), and their ratio.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from statistics import median
from typing import Any

from sqlalchemy import Engine, event
from sqlmodel import Session

from activities import register
from activities.register import create_register_schema, make_engine
from domain.case.state import CaseState
from tests.activities.cases import authorised_state, investigating_state


def steps(case: str) -> list[CaseState]:
    opened = investigating_state(case)
    return [opened, opened.model_copy(update={"problems": []}), authorised_state(case)]


def engine_for(url: str | None, name: str, tmp: Path) -> Engine:
    engine = make_engine(url or f"sqlite:///{tmp / name}.db")
    create_register_schema(engine)
    if url is not None:
        empty(engine)
    return engine


def empty(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in reversed(register.METADATA.sorted_tables):
            connection.execute(table.delete())


@contextlib.contextmanager
def every_table() -> Iterator[None]:
    """Syncs that know no table's digest, and no episode as new: every table written."""
    parse, new = register._parse_parts, register._NEW_EPISODE
    register._parse_parts = lambda _text: {}  # type: ignore[assignment]  # no digest known
    register._NEW_EPISODE = "never"  # no episode is new: every table is pruned too
    try:
        yield
    finally:
        register._parse_parts, register._NEW_EPISODE = parse, new


def sync_all(engine: Engine, cases: list[str], *, forget_parts: bool) -> None:
    with every_table() if forget_parts else contextlib.nullcontext():
        for case in cases:
            for state in steps(case):
                with Session(engine) as session:
                    register.upsert_case(session=session, state=state)


def measure(engine: Engine, cases: list[str], **options: Any) -> tuple[float, float]:
    """CPU ms and statements per case."""
    seen = [0]

    def count(*_args: object) -> None:
        seen[0] += 1

    event.listen(engine, "before_cursor_execute", count)
    started = time.process_time()
    sync_all(engine, cases, **options)
    cpu = time.process_time() - started
    event.remove(engine, "before_cursor_execute", count)
    return cpu * 1000 / len(cases), seen[0] / len(cases)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--url", help="a register URL (default: a SQLite file each way)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ways: dict[str, tuple[Engine, dict[str, Any]]] = {
            "changed tables": (engine_for(args.url, "changed", Path(tmp)), {"forget_parts": False}),
            "every table": (engine_for(args.url, "every", Path(tmp)), {"forget_parts": True}),
        }
        figures: dict[str, list[tuple[float, float]]] = {name: [] for name in ways}
        for way, (engine, options) in enumerate(ways.values()):
            # Statements compiled and pages cached first, with cases of their own.
            sync_all(engine, [f"CME-{way:02X}FFFF{i:06X}" for i in range(20)], **options)
        for round_ in range(args.rounds):
            for way, (name, (engine, options)) in enumerate(ways.items()):
                # Each way its own cases (on PostgreSQL both write to the one database).
                cases = [f"CME-{way:02X}{round_:04X}{i:06X}" for i in range(args.cases)]
                figures[name].append(measure(engine, cases, **options))
        for engine, _ in ways.values():
            if args.url is not None:
                empty(engine)
            engine.dispose()
    cpu = {name: median(f[0] for f in runs) for name, runs in figures.items()}
    statements = {name: median(f[1] for f in runs) for name, runs in figures.items()}
    print(f"{args.cases} cases x {args.rounds} rounds, three syncs a case (median of rounds):")
    for name in ways:
        print(f"  {name:15} {cpu[name]:6.2f} ms CPU  {statements[name]:5.1f} statements a case")
    base, new = "every table", "changed tables"
    print(
        f"  ratio           {cpu[new] / cpu[base]:6.2f}x CPU  "
        f"{statements[new] / statements[base]:5.2f}x statements"
    )


if __name__ == "__main__":
    main()
