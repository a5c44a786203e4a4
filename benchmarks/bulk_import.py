"""Benchmark: `cme import` of an LA's open caseload (issue 11, target 4: 30 cases/s or more).

    .venv/bin/python -m benchmarks.bulk_import [--cases 500] [--concurrency 16]
        [--server file+pragmas]
    .venv/bin/python -m benchmarks.bulk_import --cases 40000     # a large LA's whole caseload

Starts the dev server as `cme dev` runs it (``--server``: ``file+pragmas``, the default, is
`cme dev` today; ``file`` before issue 11; ``memory``) and the real worker in this process, writes
N synthetic school referrals as JSON lines, and runs ``cme import`` on them in a process of its
own, as an operator runs it (its times include its start-up). Prints, each measured in the same
run: ``cme refer``'s way one referral after another (the baseline: an LA without the import), the
import's check of every row, the import itself, in cases/s and as a ratio of the baseline, and
the CPU time each case costs the import, the worker and the dev server (on a shared machine the
import can go no faster than the CPU the three get). Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.stack import SERVER_MODES, cli_environment, stack
from domain.case.model import Actor, Role
from starter import case_client
from tests.workflows.harness import school_referral

BASELINE_CASES = 20
REPO = Path(__file__).resolve().parents[1]


def _cpu(server_pid: int | None) -> tuple[float, float, float]:
    """CPU seconds so far: of this process's children (the `cme` runs), of this process (the
    worker) and of the dev server."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = resource.getrusage(resource.RUSAGE_SELF)
    server = 0.0
    if server_pid is not None:
        fields = Path(f"/proc/{server_pid}/stat").read_text().rsplit(")", 1)[1].split()
        server = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return (
        children.ru_utime + children.ru_stime,
        own.ru_utime + own.ru_stime,
        server,
    )


async def _cme(argv: list[str], environment: dict[str, str]) -> tuple[int, str, str]:
    """`cme ARGV` as its own process, as an operator runs it (the worker is in this one, as
    `cme dev` runs it in its own)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from starter.cli import run; run()",
        *argv,
        cwd=REPO,
        env={**os.environ, **environment, "PYTHONPATH": str(REPO)},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def run(cases: int, concurrency: int, mode: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with stack(mode, Path(tmp)) as bench, asyncio.timeout(None):
            day1 = bench.calendar.first_school_day_on_or_before(bench.today)
            with cli_environment(bench.environment):
                from settings import Settings

                settings = Settings()
                school = Actor(name="school 8512000", role=Role.SCHOOL, schools=("8512000",))
                start = time.perf_counter()
                for _ in range(BASELINE_CASES):
                    referral = school_referral(today=bench.today, day1=day1)
                    await case_client.refer(bench.client, settings, referral, school)
                baseline = BASELINE_CASES / (time.perf_counter() - start)

                path = Path(tmp) / "caseload.jsonl"
                with path.open("w", encoding="utf-8") as file:
                    for _ in range(cases):
                        referral = school_referral(today=bench.today, day1=day1)
                        file.write(json.dumps({"referral": referral.model_dump(mode="json")}))
                        file.write("\n")
                start = time.perf_counter()
                code, _, err = await _cme(["import", str(path), "--check"], bench.environment)
                checked = cases / (time.perf_counter() - start)
                if code != 0:
                    sys.exit(f"cme import --check exited {code}: {err}")
                start = time.perf_counter()
                cpu = _cpu(bench.server.process.pid if bench.server.process else None)
                code, out, err = await _cme(
                    ["import", str(path), "--concurrency", str(concurrency)], bench.environment
                )
                seconds = time.perf_counter() - start
                used = [
                    after - before
                    for before, after in zip(
                        cpu,
                        _cpu(bench.server.process.pid if bench.server.process else None),
                        strict=True,
                    )
                ]
                if code != 0:
                    sys.exit(f"cme import exited {code}: {err}")
    rate = cases / seconds
    print(f"cme import, {cases} cases, concurrency {concurrency}, dev server: {mode}")
    print(f"  baseline, cme refer one at a time ({BASELINE_CASES}): {baseline:8.1f} cases/s")
    print(f"  import: checking every row (--check):   {checked:8.1f} rows/s")
    print(
        f"  import: {cases} cases in {seconds:.1f} s:   {rate:8.1f} cases/s "
        f"({rate / baseline:.1f} x baseline; target 30 cases/s: "
        f"{'met' if rate >= 30 else 'MISSED'})"
    )
    print(
        f"  CPU seconds per case: the import {used[0] / cases * 1000:.1f} ms, the worker (this "
        f"process) {used[1] / cases * 1000:.1f} ms, the dev server {used[2] / cases * 1000:.1f} ms"
    )
    print(f"  {out.strip()}")


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--server", choices=SERVER_MODES, default="file+pragmas")
    args = parser.parse_args()
    asyncio.run(run(args.cases, args.concurrency, args.server))


if __name__ == "__main__":
    main_()
