"""`cme` reads and writes encrypted cases with the keys the workers use; when it cannot (the
register without keys, another key-encryption key, an erased case) it says so in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlmodel import Session, select

from activities.register import CaseKeyRow
from tests.keyring import TEST_KEK_ID, TEST_KEY_SETTINGS, random_kek
from tests.payloads import encrypted_payloads, key_id
from tests.starter.conftest import Cli
from tests.workflows.harness import school_referral

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_cme_reads_the_case_it_referred_and_the_history_is_ciphertext(cli: Cli) -> None:
    referral = school_referral(today=cli.today, day1=cli.calendar.day1)
    case = await cli.open("school.json", referral, "--by", "Ms A")
    shown = (await cli.ok("show", case, "--json")).json()
    assert referral.pupil.last_name in shown["child"]["name"]
    history = await cli.client.get_workflow_handle(case).fetch_history()
    payloads = encrypted_payloads(history)
    assert payloads and {key_id(p) for _, p in payloads} == {case}
    assert not any(referral.pupil.last_name.encode() in p.data for _, p in payloads)
    # The CLI and the worker made one key for the case between them, in the shared register.
    with Session(cli.worker.engine) as session:
        assert session.exec(select(CaseKeyRow.key_id)).all() == [case]


async def test_what_cme_says_when_it_cannot_read_a_case(cli: Cli, tmp_path: Path) -> None:
    referral = school_referral(today=cli.today, day1=cli.calendar.day1)
    case = await cli.open("school.json", referral, "--by", "Ms A")

    # Another register, without the cases' keys.
    cli.monkeypatch.setenv("CME_DATABASE_URL", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    run = await cli("show", case)
    assert run.code == 1 and run.out == ""
    assert run.err.startswith(
        "cme: error: the cases' data keys cannot be read from the case register: "
    )
    assert "no such table: case_key" in run.err and "CME_DATABASE_URL" in run.err
    assert run.err.count("\n") == 1
    cli.monkeypatch.setenv("CME_DATABASE_URL", str(cli.worker.engine.url))

    # Another key-encryption key under the same id: named, never shown.
    impostor = random_kek()
    cli.monkeypatch.setenv("CME_ENCRYPTION_KEYS", json.dumps({TEST_KEK_ID: impostor}))
    run = await cli("show", case)
    assert run.code == 1
    assert "does not unwrap with key-encryption key 'test-kek-1'" in run.err
    assert impostor not in run.err and run.err.count("\n") == 1
    cli.monkeypatch.setenv("CME_ENCRYPTION_KEYS", TEST_KEY_SETTINGS["CME_ENCRYPTION_KEYS"])

    # Erased: its key is destroyed.
    with Session(cli.worker.engine) as session:
        row = session.get(CaseKeyRow, case)
        assert row is not None
        row.wrapped_key, row.shredded_at = b"", row.created_at
        session.commit()
    run = await cli("show", case)
    assert (run.code, run.out) == (1, "")
    assert run.err == (
        f"cme: error: case {case} was erased: its data key is destroyed and its history can no "
        "longer be read (the register keeps its anonymous facts)\n"
    )
