"""`cme keys status` and `cme keys rotate`, in process on a SQLite register: counts by
key-encryption key id (never a key), rotation to the active KEK, and what goes wrong in one line.
(Plain test functions: `main` runs its own event loop.)"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.pool import NullPool
from sqlmodel import Session, select

from activities.register import CaseKeyRow, make_engine
from security.keys import KeyRing, decode_kek
from security.store import SqlKeyStore
from starter.cli import COMMAND_MODULES, main
from tests.keyring import random_kek

KEK1, KEK2 = random_kek(), random_kek()
CASES = ["CME-000000000001", "CME-000000000002", "CME-000000000003", "CME-000000000004"]


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sqlite_engine: Engine) -> None:
    for key in list(os.environ):
        if key.startswith("CME_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CME_DATABASE_URL", sqlite_engine.url.render_as_string(False))


def use_keks(monkeypatch: pytest.MonkeyPatch, keks: dict[str, str], active: str) -> None:
    monkeypatch.setenv("CME_ENCRYPTION_KEYS", json.dumps(keks))
    monkeypatch.setenv("CME_ENCRYPTION_KEY_ID", active)


def cme(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def no_key_material(text: str, engine: Engine) -> None:
    for kek in (KEK1, KEK2):
        assert kek not in text and kek[:10] not in text
    with Session(engine) as session:
        for row in session.exec(select(CaseKeyRow)):
            if row.wrapped_key:
                assert row.wrapped_key.hex()[:16] not in text


async def keys_made(engine: Engine) -> None:
    """Four cases' keys under KEK '2026-01', the last one erased."""
    store = SqlKeyStore(engine, KeyRing({"2026-01": decode_kek("2026-01", KEK1)}, "2026-01"))
    for case in CASES:
        await store.data_key(case, create=True)
    await store.shred(CASES[-1])


def test_cme_has_the_keys_command() -> None:
    assert "starter.keys_cli" in COMMAND_MODULES


def test_status_then_rotate_to_a_new_kek_then_remove_the_old(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], sqlite_engine: Engine
) -> None:
    asyncio.run(keys_made(sqlite_engine))
    use_keks(monkeypatch, {"2026-01": KEK1}, "2026-01")
    code, out, err = cme(capsys, "keys", "status")
    assert (code, err) == (0, "")
    assert out.splitlines()[1:] == [
        "        3  wrapped with '2026-01'  (the active key-encryption key)",
        "        1  erased (shredded: no key left)",
    ]
    no_key_material(out, sqlite_engine)

    # A new KEK beside the old, active: the keys are not wrapped with it yet.
    use_keks(monkeypatch, {"2026-01": KEK1, "2026-07": KEK2}, "2026-07")
    code, out, _ = cme(capsys, "keys", "status")
    assert code == 0
    assert "        3  wrapped with '2026-01'\n" in out
    assert out.splitlines()[-1] == "3 not wrapped with the active key yet: run `cme keys rotate`"

    code, out, err = cme(capsys, "keys", "rotate")
    assert (code, err) == (0, "")
    assert out.splitlines()[0].startswith(
        "re-wrapped 3 data keys with key-encryption key '2026-07' in the case register at sqlite"
    )
    assert "        3  wrapped with '2026-07'  (the active key-encryption key)" in out
    assert "not wrapped with the active key" not in out
    no_key_material(out, sqlite_engine)

    code, out, _ = cme(capsys, "keys", "rotate", "--json")
    assert code == 0
    assert json.loads(out) == {
        "active": "2026-07",
        "by_kek": {"2026-07": 3},
        "shredded": 1,
        "unconfigured": [],
        "rewrapped": 0,
    }

    # The old KEK removed: every key still unwraps with the new one.
    use_keks(monkeypatch, {"2026-07": KEK2}, "2026-07")
    code, out, _ = cme(capsys, "keys", "status", "--json")
    assert json.loads(out) == {
        "active": "2026-07",
        "by_kek": {"2026-07": 3},
        "shredded": 1,
        "unconfigured": [],
    }
    store = SqlKeyStore(sqlite_engine, KeyRing({"2026-07": decode_kek("x", KEK2)}, "2026-07"))
    for case in CASES[:-1]:
        assert asyncio.run(store.data_key(case, create=False)) is not None


def test_a_kek_removed_before_rotating_is_named_and_nothing_is_lost(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], sqlite_engine: Engine
) -> None:
    asyncio.run(keys_made(sqlite_engine))
    use_keks(monkeypatch, {"2026-07": KEK2}, "2026-07")
    code, out, _ = cme(capsys, "keys", "status")
    assert code == 0
    assert (
        "        3  wrapped with '2026-01'  (NOT CONFIGURED: these cases cannot be read; "
        "add it back)" in out
    )
    code, out, err = cme(capsys, "keys", "rotate")
    assert (code, out) == (1, "")
    assert err == (
        "cme: error: cannot re-wrap every data key: a data key is wrapped with key-encryption "
        "key '2026-01', which is not configured: add it back to the settings (rotate before "
        "removing a KEK)\n"
    )
    # Added back, the rotation goes through.
    use_keks(monkeypatch, {"2026-01": KEK1, "2026-07": KEK2}, "2026-07")
    code, out, _ = cme(capsys, "keys", "rotate")
    assert code == 0 and out.startswith("re-wrapped 3 data keys")


def test_a_register_without_keys_says_so_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("CME_DATABASE_URL", f"sqlite:///{tmp_path / 'never-upgraded.db'}")
    code, out, err = cme(capsys, "keys", "status")
    assert (code, out) == (1, "")
    assert err.startswith("cme: error: the cases' data keys cannot be read from the case register")
    assert "no such table: case_key" in err and "cme register upgrade" not in out
    assert err.count("\n") == 1


def test_an_empty_register_has_no_keys_yet(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = cme(capsys, "keys", "status")
    assert code == 0
    assert out.splitlines()[1:] == [
        "  none wrapped yet",
        "        0  erased (shredded: no key left)",
    ]


def test_the_cme_commands_key_store_never_makes_the_register(tmp_path: Path) -> None:
    """A client's engine keeps no connection and creates no directory (`cme show` on a host
    without the local stack leaves nothing behind)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'absent' / 'register.db'}", client=True)
    assert isinstance(engine.pool, NullPool) and engine.dialect.name == "sqlite"
    assert not (tmp_path / "absent").exists()
