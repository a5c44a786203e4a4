"""Benchmark: how fast the embedded dev server lets cases open, by how it keeps its state (issue
11, target 3).

    .venv/bin/python -m benchmarks.dev_server [--cases 200] [--concurrency 32]

In one run, for each way `cme dev` could keep the dev server's state: ``file`` (the SQLite file
with SQLite's defaults: `cme dev` before issue 11), ``file+pragmas`` (the same file with
:data:`starter.dev.SQLITE_PRAGMAS`, WAL and synchronous=normal: `cme dev` now) and ``memory``
(nothing kept: the upper bound), starts the server and the real worker, opens N cases with
``case_client.refer`` (as ``cme refer`` and ``cme import`` do), at most C at once, and prints the
cases/s, the dev server's CPU time per case and the ratio of each to ``file``. Asserts nothing.
That the pragmas keep every acknowledged case through a ``kill -9`` of the server is
tests/starter/test_dev_durability.py.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from benchmarks.stack import SERVER_MODES, Stack, cli_environment, stack
from domain.case.model import Actor, Role
from starter import case_client
from tests.workflows.harness import school_referral


def _server_cpu(bench: Stack) -> float:
    assert bench.server.process is not None
    stat = Path(f"/proc/{bench.server.process.pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def open_cases(mode: str, cases: int, concurrency: int) -> tuple[float, float]:
    """Cases/s and the server's CPU seconds per case, opening ``cases`` cases on ``mode``."""
    with tempfile.TemporaryDirectory() as tmp:
        async with stack(mode, Path(tmp)) as bench:
            with cli_environment(bench.environment):
                from settings import Settings

                settings = Settings()
            day1 = bench.calendar.first_school_day_on_or_before(bench.today)
            school = Actor(name="school 8512000", role=Role.SCHOOL, schools=("8512000",))
            referrals = [school_referral(today=bench.today, day1=day1) for _ in range(cases)]
            gate = asyncio.Semaphore(concurrency)

            async def one(referral: object) -> None:
                async with gate:
                    referred = await case_client.refer(
                        bench.client,
                        settings,
                        referral,  # type: ignore[arg-type]
                        school,
                    )
                    assert referred.result is not None

            cpu = _server_cpu(bench)
            start = time.perf_counter()
            await asyncio.gather(*(one(r) for r in referrals))
            seconds = time.perf_counter() - start
            return cases / seconds, (_server_cpu(bench) - cpu) / cases


async def run(cases: int, concurrency: int) -> None:
    results = {}
    for mode in SERVER_MODES:
        results[mode] = await open_cases(mode, cases, concurrency)
    base_rate, base_cpu = results["file"]
    print(f"opening {cases} cases, at most {concurrency} at once, by the dev server's store")
    print(f"{'store':<14} {'cases/s':>8} {'x file':>7} {'server CPU ms/case':>19} {'x file':>7}")
    for mode, (rate, cpu) in results.items():
        print(
            f"{mode:<14} {rate:8.1f} {rate / base_rate:7.2f} {cpu * 1000:19.1f} "
            f"{cpu / base_cpu:7.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    asyncio.run(run(args.cases, args.concurrency))


if __name__ == "__main__":
    main()
