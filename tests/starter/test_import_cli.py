"""`cme import FILE`: an LA's open caseload comes in with its history so far; a bad row is named
by its line and nothing is started; running it again skips what is done, also after Ctrl-C."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from domain.intake import AnyReferral
from starter.cases import case_reference
from tests.starter.conftest import REPO, Cli, school_days_back
from tests.workflows.harness import SECRET, professional_referral, school_referral

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture(autouse=True)
def data_directory(cli: Cli) -> None:
    """The import's journal in the test's own data directory."""
    cli.monkeypatch.setenv("CME_DATA_DIR", str(cli.directory / "data"))


def record(referral: AnyReferral, **more: Any) -> dict[str, Any]:
    return {"referral": referral.model_dump(mode="json"), **more}


def write_jsonl(cli: Cli, name: str, records: list[dict[str, Any]]) -> Path:
    path = cli.directory / name
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """A record as CSV cells named by their dotted paths (what an LA's export would give)."""
    if isinstance(value, dict):
        return {
            k: v for key, item in value.items() for k, v in flatten(item, f"{prefix}{key}.").items()
        }
    if isinstance(value, list):
        return {
            k: v for i, item in enumerate(value) for k, v in flatten(item, f"{prefix}{i}.").items()
        }
    if value is None:
        return {}
    return {prefix[:-1]: str(value).lower() if isinstance(value, bool) else str(value)}


def write_csv(cli: Cli, name: str, records: list[dict[str, Any]]) -> Path:
    rows = [flatten(r) for r in records]
    columns = list(dict.fromkeys(c for row in rows for c in row))
    path = cli.directory / name
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def caseload(cli: Cli) -> tuple[list[dict[str, Any]], list[str]]:
    """Three open cases: one past school day 10 (with the school's enquiries and the LA's since),
    one referred today, and a professional's referral."""
    day1 = school_days_back(cli.calendar, cli.today, 15)
    late = school_referral(
        today=cli.today,
        day1=day1,
        enquiries=[
            {
                "by": "school",
                "kind": "phone_primary",
                "made_on": str(day1),
                "outcome": "no_contact",
            },
            {"by": "school", "kind": "letter", "made_on": str(day1), "outcome": "no_contact"},
        ],
    )
    fresh = school_referral(
        today=cli.today, day1=cli.calendar.first_school_day_on_or_before(cli.today)
    )
    professional = professional_referral(today=cli.today)
    records = [
        record(
            late,
            by="Ms Attendance",
            stage="la_investigation",
            enquiries=[
                {
                    "by": "A Officer",
                    "by_la": True,
                    "kind": "partner",
                    "outcome": "no_information",
                    "made_on": str(cli.today),
                    "note": "asked health",
                }
            ],
        ),
        record(fresh),
        record(professional),
    ]
    cases = [case_reference(r, SECRET) for r in (late, fresh, professional)]
    return records, cases


async def test_a_caseload_opens_its_cases_with_their_history(cli: Cli) -> None:
    records, cases = caseload(cli)
    path = write_csv(cli, "caseload.csv", records)

    run = await cli("import", str(path))

    assert run.code == 0, run.err
    assert run.out_lines[0].startswith(
        f"{path}: 3 cases opened, 0 referrals added to open cases, 0 already imported, "
        "1 enquiries recorded, 0 failed; "
    )
    late = (await cli.ok("show", cases[0], "--json")).json()
    assert late["stage"] == "la_investigation"
    assert [(e["by"], e["kind"], e["outcome"]) for e in late["enquiries"]] == [
        ("school", "phone_primary", "no_contact"),
        ("school", "letter", "no_contact"),
        ("la", "partner", "no_information"),
    ]
    assert late["referred_by"].startswith("Ms Attendance")
    fresh = (await cli.ok("show", cases[1], "--json")).json()
    assert fresh["stage"] == "school_enquiries"
    assert (await cli.ok("show", cases[2], "--json")).json()["kind"] == "not_on_roll"
    # progress went to stderr as plain lines (not a terminal), naming no child
    assert run.err_lines[-1].startswith("imported 3/3 rows (100%), ")
    assert "ETA" in run.err_lines[-1]


async def test_a_bad_row_is_named_by_its_line_and_nothing_is_started(cli: Cli) -> None:
    records, cases = caseload(cli)
    bad = json.loads(json.dumps(records[1]))
    bad["referral"]["pupil"]["upn"] = "A12345678901X"
    wrong_stage = {**records[2], "stage": "awaiting_ctf"}
    path = write_jsonl(cli, "caseload.jsonl", [records[0], bad, wrong_stage])

    run = await cli("import", str(path))

    assert run.code == 2
    assert run.out == ""
    assert run.err_lines[0].startswith(f"{path} line 2: referral.pupil.upn: ")
    assert run.err_lines[1] == (
        f"{path} line 3: stage: the case would be at la_investigation (LA investigation) today, "
        "not awaiting_ctf"
    )
    assert run.err_lines[-1] == (
        f"cme: error: nothing imported: 2 of 3 rows of {path} cannot be imported (each is "
        "listed above)"
    )
    for case in cases:
        shown = await cli("show", case)
        assert (shown.code, shown.err) == (1, f"cme: error: no case {case}\n")


async def test_an_enquiry_the_case_would_refuse_is_reported_before_anything_is_sent(
    cli: Cli,
) -> None:
    records, cases = caseload(cli)
    early = {
        **records[1],
        "enquiries": [
            {
                "by": "A Officer",
                "by_la": "yes",
                "kind": "partner",
                "outcome": "no_information",
                "made_on": str(cli.today),
            }
        ],
    }
    path = write_jsonl(cli, "caseload.jsonl", [early])

    run = await cli("import", str(path))

    assert run.code == 2
    assert run.err_lines[0] == (
        f"{path} line 1: enquiries.0: rejected: the case has not been referred to the School "
        "Attendance Team yet: LA enquiries start after school day 10"
    )
    assert (await cli("show", cases[1])).code == 1


async def test_running_it_again_skips_what_is_done(cli: Cli) -> None:
    records, cases = caseload(cli)
    path = write_jsonl(cli, "caseload.jsonl", records)
    assert (await cli("import", str(path))).code == 0

    again = await cli("import", str(path))  # the journal: nothing asked of Temporal
    assert again.code == 0
    assert (
        ": 0 cases opened, 0 referrals added to open cases, 3 already imported, "
        in (again.out_lines[0])
    )

    for journal in (cli.directory / "data" / "imports").iterdir():
        journal.unlink()  # without it, the cases themselves know their requests
    third = await cli("import", str(path))
    assert third.code == 0, third.err
    assert (
        "0 cases opened, 0 referrals added to open cases, 3 already imported, 1 enquiries "
        in (third.out_lines[0])
    )
    for case in cases:
        shown = (await cli.ok("show", case, "--json")).json()
        assert shown["referrals_received"] == 1
    assert len((await cli.ok("show", cases[0], "--json")).json()["enquiries"]) == 3


async def test_an_import_stopped_with_ctrl_c_resumes(cli: Cli) -> None:
    referrals = [
        school_referral(today=cli.today, day1=cli.calendar.first_school_day_on_or_before(cli.today))
        for _ in range(30)
    ]
    path = write_jsonl(cli, "caseload.jsonl", [record(r) for r in referrals])
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from starter.cli import run; run()",
        "import",
        str(path),
        "--concurrency",
        "1",
        cwd=cli.directory,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    first = await asyncio.wait_for(process.stderr.readline(), timeout=60)
    assert first.decode().startswith("imported "), first  # some rows are done
    process.send_signal(signal.SIGINT)
    _, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 130, err
    stopped = err.decode().splitlines()[-1]
    assert stopped.startswith("stopped: ")
    assert "running the same command again resumes" in stopped
    done = int(stopped.split()[1])
    assert 3 <= done < 30

    rest = await cli("import", str(path))

    assert rest.code == 0, rest.err
    summary = rest.out_lines[0]
    opened = int(summary.split(": ")[1].split()[0])
    already = int(summary.split("open cases, ")[1].split()[0])
    assert already >= done and opened + already == 30, summary
    for referral in referrals:
        shown = (await cli.ok("show", case_reference(referral, SECRET), "--json")).json()
        assert shown["referrals_received"] == 1


async def test_with_no_worker_the_import_stops_and_running_it_again_finishes(cli: Cli) -> None:
    records, cases = caseload(cli)
    path = write_jsonl(cli, "caseload.jsonl", records)
    await cli.worker.down()
    cli.answer_within(1.0)

    stopped = await cli("import", str(path), "--concurrency", "1")

    assert stopped.code == 75, stopped.err
    assert "running the same command again resumes" in stopped.err_lines[-1]
    await cli.worker.up()
    cli.answer_within(30.0)
    rest = await cli("import", str(path))
    assert rest.code == 0, rest.err
    for case in cases:
        shown = (await cli.ok("show", case, "--json")).json()
        assert shown["referrals_received"] == 1
    assert len((await cli.ok("show", cases[0], "--json")).json()["enquiries"]) == 3
