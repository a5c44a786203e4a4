"""The cases' data keys in the register (SqlKeyStore), on SQLite and PostgreSQL: one key per case
however many ask at once, a cache that notices a shred elsewhere within its time to live, shred
that leaves no key material, rotation from one key-encryption key to the next."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.api.common.v1 import Payload
from temporalio.converter import WorkflowSerializationContext

from activities.register import CaseKeyRow, make_engine
from security.codec import EnvelopeCodec
from security.keys import (
    DataKey,
    KeyRing,
    KeyRingError,
    KeyShredded,
    WrappedKey,
    decode_kek,
)
from security.store import KeyStatus, KeyStoreUnavailable, SqlKeyStore
from tests.keyring import random_kek

CASE = "CME-0123456789AB"


class Clock:
    """A clock the test moves (the cache's time to live)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def ring(kek_id: str) -> KeyRing:
    """A ring of one new random KEK."""
    return KeyRing({kek_id: decode_kek(kek_id, random_kek())}, kek_id)


def rows(engine: Engine) -> dict[str, CaseKeyRow]:
    with Session(engine) as session:
        return {r.key_id: r for r in session.exec(select(CaseKeyRow))}


async def encrypt(store: SqlKeyStore, case: str, text: str) -> Payload:
    codec = EnvelopeCodec(store).with_context(
        WorkflowSerializationContext(namespace="default", workflow_id=case)
    )
    [sealed] = await codec.encode(
        [Payload(metadata={"encoding": b"json/plain"}, data=text.encode())]
    )
    return sealed


async def decrypt(store: SqlKeyStore, payload: Payload) -> bytes:
    [plain] = await EnvelopeCodec(store).decode([payload])
    return plain.data


async def test_a_key_is_made_once_stored_wrapped_and_read_back(register_engine: Engine) -> None:
    keys = ring("kek-1")
    store = SqlKeyStore(register_engine, keys)
    assert await store.data_key(CASE, create=False) is None
    assert rows(register_engine) == {}  # asking does not make one

    made = await store.data_key(CASE, create=True)
    assert isinstance(made, DataKey) and len(made.key) == 32
    [row] = rows(register_engine).values()
    assert (row.key_id, row.kek_id, row.shredded_at) == (CASE, "kek-1", None)
    assert made.key not in row.wrapped_key and len(row.wrapped_key) == 40  # AES key wrap
    assert keys.unwrap(WrappedKey(row.kek_id, row.wrapped_key)) == made.key
    assert row.created_at is not None

    # Another process (another store, no cache) reads the same key.
    other = SqlKeyStore(register_engine, keys)
    assert await other.data_key(CASE, create=False) == made
    assert await other.data_key(CASE, create=True) == made
    assert len(rows(register_engine)) == 1


async def test_twenty_racing_creates_make_one_key(register_engine: Engine) -> None:
    keys = ring("kek-1")
    # In one process: twenty at once.
    store = SqlKeyStore(register_engine, keys)
    got = await asyncio.gather(*(store.data_key(CASE, create=True) for _ in range(20)))
    assert len({k.key for k in got if k is not None}) == 1
    # In twenty processes (twenty stores, each with its own engine and cache): one key.
    engines = [
        make_engine(register_engine.url.render_as_string(hide_password=False)) for _ in range(20)
    ]
    try:
        stores = [SqlKeyStore(engine, keys) for engine in engines]
        other = "CME-FEDCBA987654"
        got = await asyncio.gather(*(s.data_key(other, create=True) for s in stores))
    finally:
        for engine in engines:
            engine.dispose()
    assert len({k.key for k in got if k is not None}) == 1
    assert sorted(rows(register_engine)) == [CASE, "CME-FEDCBA987654"]
    # Every payload any of them encrypted decrypts with the one stored key.
    fresh = SqlKeyStore(register_engine, keys)
    sealed = await encrypt(stores[7], other, "hello")
    assert await decrypt(fresh, sealed) == b"hello"


async def test_a_shred_leaves_no_key_material_and_new_data_a_new_key(
    register_engine: Engine,
) -> None:
    keys = ring("kek-1")
    store = SqlKeyStore(register_engine, keys)
    sealed = await encrypt(store, CASE, "Jo Bloggs")

    assert await store.shred(CASE) is True
    row = rows(register_engine)[CASE]
    assert row.wrapped_key == b"" and row.shredded_at is not None
    with pytest.raises(KeyShredded):  # at once in this process
        await decrypt(store, sealed)
    fresh = SqlKeyStore(register_engine, keys)
    with pytest.raises(KeyShredded):  # never made again
        await fresh.data_key(CASE, create=False)
    with pytest.raises(KeyShredded):
        await decrypt(fresh, sealed)
    # The child, erased, is referred again: its new data takes a new generation of key, and the
    # erased data stays unreadable.
    again = await fresh.data_key(CASE, create=True)
    assert again is not None and again.key_id == f"{CASE}~2"
    with pytest.raises(KeyShredded):
        await decrypt(fresh, sealed)
    assert await store.shred(CASE) is True  # erased again: the new generation goes too
    assert rows(register_engine)[f"{CASE}~2"].wrapped_key == b""
    assert await store.shred(CASE) is False  # nothing left

    # A case shredded before it had a key: a tombstone, and its first key is generation 2.
    assert await fresh.shred("CME-000000000001") is False
    tombstone = rows(register_engine)["CME-000000000001"]
    assert tombstone.wrapped_key == b"" and tombstone.shredded_at is not None
    late = await SqlKeyStore(register_engine, keys).data_key("CME-000000000001", create=True)
    assert late is not None and late.key_id == "CME-000000000001~2"
    assert await fresh.status() == KeyStatus(by_kek={"kek-1": 1}, shredded=3)


async def test_a_shred_elsewhere_takes_effect_within_the_cache_ttl(
    register_engine: Engine, tmp_path: Path
) -> None:
    keys = ring("kek-1")
    clock = Clock()
    worker = SqlKeyStore(register_engine, keys, cache_ttl=60, clock=clock)
    sealed = await encrypt(worker, CASE, "Jo Bloggs")
    assert worker.cached == 1

    eraser = SqlKeyStore(register_engine, keys)  # another process erases the case
    assert await eraser.shred(CASE) is True

    clock.now += 59  # still cached here: the key is in memory for up to a minute
    assert await decrypt(worker, sealed) == b"Jo Bloggs"
    clock.now += 2  # a minute on: read again, and gone
    with pytest.raises(KeyShredded):
        await decrypt(worker, sealed)
    clock.now += 10_000  # and the shred is remembered for good, with no database read
    worker.engine = gone = make_engine(f"sqlite:///{tmp_path / 'gone.db'}")
    with pytest.raises(KeyShredded):
        await worker.data_key(CASE, create=False)
    gone.dispose()


async def test_the_cache_is_bounded_and_serves_without_the_database(
    register_engine: Engine, tmp_path: Path
) -> None:
    keys = ring("kek-1")
    store = SqlKeyStore(register_engine, keys, cache_size=3)
    cases = [f"CME-00000000000{i}" for i in range(5)]
    made = [await store.data_key(case, create=True) for case in cases]
    assert store.cached == 3  # the least recently used went first
    real = store.engine
    store.engine = gone = make_engine(f"sqlite:///{tmp_path / 'gone.db'}")  # the database is gone
    for case, key in zip(cases[2:], made[2:], strict=True):
        assert await store.data_key(case, create=False) == key  # from the cache
    with pytest.raises(KeyStoreUnavailable, match="cannot be read from the case register"):
        await store.data_key(cases[0], create=False)
    store.engine = real
    gone.dispose()
    assert await store.data_key(cases[0], create=False) == made[0]
    store.evict()
    assert store.cached == 0


async def test_rotation_rewraps_every_live_key_and_the_old_kek_can_go(
    register_engine: Engine,
) -> None:
    kek1, kek2 = decode_kek("2026-01", random_kek()), decode_kek("2026-07", random_kek())
    before = SqlKeyStore(register_engine, KeyRing({"2026-01": kek1}, "2026-01"))
    cases = [f"CME-0000000000{i:02d}" for i in range(12)]
    sealed = {case: await encrypt(before, case, f"child of {case}") for case in cases}
    assert await before.shred(cases[-1]) is True
    assert await before.status() == KeyStatus(by_kek={"2026-01": 11}, shredded=1)

    # A new KEK, active, beside the old one: old payloads still decrypt, new keys use the new.
    both = KeyRing({"2026-01": kek1, "2026-07": kek2}, "2026-07")
    during = SqlKeyStore(register_engine, both, batch_size=5)
    for case in cases[:-1]:
        assert await decrypt(during, sealed[case]) == f"child of {case}".encode()
    await during.data_key("CME-NEWCASE00001", create=True)
    assert await during.status() == KeyStatus(by_kek={"2026-01": 11, "2026-07": 1}, shredded=1)

    assert await during.rewrap() == 11  # in batches of 5: 5, 5, 1
    assert await during.status() == KeyStatus(by_kek={"2026-07": 12}, shredded=1)
    assert await during.rewrap() == 0  # nothing left
    assert rows(register_engine)[cases[-1]].wrapped_key == b""  # the shredded one stays so

    # The old KEK removed: everything still decrypts, with the new one alone.
    after = SqlKeyStore(register_engine, KeyRing({"2026-07": kek2}, "2026-07"))
    for case in cases[:-1]:
        assert await decrypt(after, sealed[case]) == f"child of {case}".encode()
    with pytest.raises(KeyShredded):
        await decrypt(after, sealed[cases[-1]])
    # A process still on the old KEK alone cannot read them: the error names the KEK's id.
    stale = SqlKeyStore(register_engine, KeyRing({"2026-01": kek1}, "2026-01"))
    with pytest.raises(KeyRingError) as raised:
        await stale.data_key(cases[0], create=False)
    assert "'2026-07', which is not configured" in str(raised.value)


async def test_a_wrong_kek_is_an_error_naming_its_id_only(register_engine: Engine) -> None:
    real = random_kek()
    store = SqlKeyStore(register_engine, KeyRing({"la-1": decode_kek("la-1", real)}, "la-1"))
    await store.data_key(CASE, create=True)
    impostor = random_kek()
    wrong = SqlKeyStore(register_engine, KeyRing({"la-1": decode_kek("la-1", impostor)}, "la-1"))
    with pytest.raises(KeyRingError) as raised:
        await wrong.data_key(CASE, create=False)
    message = str(raised.value)
    assert message == (
        "a data key does not unwrap with key-encryption key 'la-1': the configured key is not "
        "the one it was wrapped with"
    )
    with pytest.raises(KeyRingError):  # and rotation stops there, naming it too
        await SqlKeyStore(
            register_engine,
            KeyRing({"la-1": decode_kek("la-1", impostor), "la-2": b"2" * 32}, "la-2"),
        ).rewrap()


async def test_a_register_without_the_table_is_unavailable_not_a_traceback(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        store = SqlKeyStore(engine, ring("kek-1"))
        with pytest.raises(KeyStoreUnavailable) as raised:
            await store.data_key(CASE, create=True)
        assert "no such table: case_key" in str(raised.value)
        assert "\n" not in str(raised.value)
    finally:
        engine.dispose()


async def test_a_key_id_is_checked(sqlite_engine: Engine) -> None:
    store = SqlKeyStore(sqlite_engine, ring("kek-1"))
    for bad in ("", "x" * 256):
        with pytest.raises(ValueError, match="1 to 255 characters"):
            await store.data_key(bad, create=True)


async def test_a_key_read_while_this_process_shreds_it_stays_shredded(
    sqlite_engine: Engine,
) -> None:
    store = SqlKeyStore(sqlite_engine, ring("kek-1"))
    await store.data_key(CASE, create=True)
    store.evict()
    loaded, go = threading.Event(), threading.Event()
    real = store._load

    def slow(key_id: str, create: bool) -> object:
        found = real(key_id, create)  # read before the shred...
        loaded.set()
        go.wait(10)
        return found  # ...and handed back after it

    store._load = slow  # type: ignore[method-assign,assignment]
    reading = asyncio.create_task(store.data_key(CASE, create=False))
    assert await asyncio.to_thread(loaded.wait, 10)
    store._load = real  # type: ignore[method-assign]
    assert await store.shred(CASE) is True
    go.set()
    with pytest.raises(KeyShredded):
        await reading
    with pytest.raises(KeyShredded):
        await store.data_key(CASE, create=False)
