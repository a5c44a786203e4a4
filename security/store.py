"""The cases' data keys in the case register: :class:`SqlKeyStore`, the :class:`KeyStore` of every
client and worker.

Each case's data key is a row of the register's ``case_key`` table
(:class:`activities.register.CaseKeyRow`), wrapped by a key-encryption key of the
:class:`~security.keys.KeyRing` (the settings' ``CME_ENCRYPTION_KEYS``). Build one from the
settings with::

    engine = make_engine(settings.register_url)   # activities.register: parameters hidden
    store = SqlKeyStore(engine, settings.key_ring)
    client = await Client.connect(..., data_converter=data_converter(store))

* **One key per case, whoever asks first.** Two processes that make a case's first payload at the
  same moment both try to insert its key: the primary key lets one win, and the other reads the
  winner's key back (:meth:`SqlKeyStore.data_key`).
* **A cache of unwrapped keys** (10,000 by default, least recently used first out), each for a
  minute (``cache_ttl``): a case shredded by another process cannot be read here within a
  minute; a shred in this process takes effect at once. A shredded key is remembered for good.
* **Shredding** (:meth:`SqlKeyStore.shred`) overwrites the wrapped key with nothing and records
  when; the row stays, so no new key is ever made for that case. Copies of the wrapped key made
  before (database backups, PostgreSQL's not yet vacuumed row versions, its WAL archive) still
  need a key-encryption key to be read: rotating the KEK (``cme keys rotate``) and destroying
  the old one, or letting such copies expire, completes the erasure.
* **Rotation** (:meth:`SqlKeyStore.rewrap`) re-wraps every live key with the active KEK, in
  batches of ``batch_size`` rows, each its own transaction; a key shredded meanwhile stays
  shredded.

The database is used through synchronous SQLAlchemy calls in worker threads
(:func:`asyncio.to_thread`). Errors say which case (its reference: no personal data) and never
show a key or an SQL parameter (the register's engines hide parameters).
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import Engine, Table, bindparam, func, insert, update
from sqlalchemy import select as core_select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import Session, col, select

from activities.register import CaseKeyRow
from security.keys import (
    GENERATION_MARK,
    MAX_GENERATIONS,
    DataKey,
    KeyRing,
    KeyShredded,
    WrappedKey,
    new_data_key,
)

__all__ = ["KeyStatus", "KeyStoreUnavailable", "SqlKeyStore"]

MAX_KEY_ID = 255  # CaseKeyRow.key_id's length

T = TypeVar("T")


class KeyStoreUnavailable(RuntimeError):
    """The case register holding the data keys cannot be used (unreachable, or without its
    ``case_key`` table: ``cme register upgrade``). The message is the database's first line:
    no SQL parameter, no key."""


@dataclass(frozen=True)
class KeyStatus:
    """How many data keys the store holds, without any of them: live keys by the KEK that wraps
    them, and the shredded (erased) cases."""

    by_kek: dict[str, int] = field(default_factory=dict)
    shredded: int = 0

    @property
    def live(self) -> int:
        return sum(self.by_kek.values())


class _Shredded:
    """The cache's mark for a key that was destroyed (for good: it never expires)."""


_SHREDDED = _Shredded()


_KEYS: Table = CaseKeyRow.__table__  # type: ignore[attr-defined]
# A case's key row, read by its id (built once; the value bound at execution).
_READ_KEY = core_select(_KEYS.c.kek_id, _KEYS.c.wrapped_key, _KEYS.c.shredded_at).where(
    _KEYS.c.key_id == bindparam("b_key_id")
)


class SqlKeyStore:
    """The data keys of the cases in the register's ``case_key`` table (see module docstring)."""

    def __init__(
        self,
        engine: Engine,
        ring: KeyRing,
        *,
        cache_size: int = 10_000,
        cache_ttl: float = 60.0,
        batch_size: int = 500,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if cache_size < 0 or cache_ttl < 0 or batch_size < 1:
            raise ValueError("cache_size and cache_ttl must be >= 0, batch_size >= 1")
        self.engine = engine
        self.ring = ring
        self.cache_size = cache_size
        self.cache_ttl = cache_ttl
        self.batch_size = batch_size
        self._clock = clock
        self._cache: OrderedDict[str, tuple[DataKey | _Shredded, float]] = OrderedDict()
        self._lock = threading.Lock()  # the cache is shared by event loops and threads

    def __repr__(self) -> str:
        return f"SqlKeyStore({self.engine.url.render_as_string(hide_password=True)!r})"

    # -- the KeyStore protocol

    async def data_key(self, key_id: str, *, create: bool) -> DataKey | None:
        _check_key_id(key_id)
        cached = self._cached(key_id)
        if isinstance(cached, _Shredded) and not create:
            raise KeyShredded(key_id)
        if isinstance(cached, DataKey):
            return cached
        if create:
            # A case erased and referred again: its new data goes under a new generation of key.
            return await self._in_thread(self._live_generation, key_id)
        found = await self._in_thread(self._load, key_id, create)
        if found is None:
            return None
        found = self._remember(key_id, found)  # shredded here meanwhile: stays shredded
        if isinstance(found, _Shredded):
            raise KeyShredded(key_id)
        return found

    async def shred(self, key_id: str) -> bool:
        _check_key_id(key_id)
        destroyed = await self._in_thread(self._shred, key_id)
        with self._lock:
            for cached_id in list(self._cache):
                if cached_id.startswith(f"{key_id}{GENERATION_MARK}"):
                    self._cache[cached_id] = (_SHREDDED, math.inf)
        self._remember(key_id, _SHREDDED)
        return destroyed

    async def rewrap(self) -> int:
        return await self._in_thread(self._rewrap)

    # -- beyond the protocol

    async def status(self) -> KeyStatus:
        """Counts of the stored keys by KEK id, and of the shredded ones (no key material)."""
        return await self._in_thread(self._status)

    def evict(self, key_id: str | None = None) -> None:
        """Forget the cached key of ``key_id`` (every cached key when ``None``)."""
        with self._lock:
            if key_id is None:
                self._cache.clear()
            else:
                self._cache.pop(key_id, None)

    @property
    def cached(self) -> int:
        """How many keys the cache holds (expired ones included until they are asked for)."""
        return len(self._cache)

    # -- the cache

    def _cached(self, key_id: str) -> DataKey | _Shredded | None:
        with self._lock:
            entry = self._cache.get(key_id)
            if entry is None:
                return None
            value, expires = entry
            if self._clock() >= expires:
                del self._cache[key_id]
                return None
            self._cache.move_to_end(key_id)
            return value

    def _remember(self, key_id: str, value: DataKey | _Shredded) -> DataKey | _Shredded:
        """Cache ``value``; what the cache now says (a key read just before this process
        shredded it does not undo the shred)."""
        expires = math.inf if isinstance(value, _Shredded) else self._clock() + self.cache_ttl
        with self._lock:
            entry = self._cache.get(key_id)
            if entry is not None and isinstance(entry[0], _Shredded):
                return entry[0]
            if self.cache_size == 0 or (self.cache_ttl == 0 and not isinstance(value, _Shredded)):
                return value
            self._cache[key_id] = (value, expires)
            self._cache.move_to_end(key_id)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return value

    # -- the database (in worker threads)

    async def _in_thread(self, work: Callable[..., T], *args: object) -> T:
        try:
            return await asyncio.to_thread(work, *args)
        except SQLAlchemyError as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise KeyStoreUnavailable(
                f"the cases' data keys cannot be read from the case register: {first}"
            ) from None

    def _live_generation(self, key_id: str) -> DataKey:
        """The live key of ``key_id``, made if there is none; when its key was shredded (the
        case erased), the live one of its next generation (``CME-…~2``, ``~3``, ...)."""
        for generation in range(1, MAX_GENERATIONS + 1):
            generation_id = key_id if generation == 1 else f"{key_id}{GENERATION_MARK}{generation}"
            found = self._load(generation_id, create=True)
            if isinstance(found, DataKey):
                self._remember(key_id, found)
                return found
        raise RuntimeError(f"{key_id} has been erased {MAX_GENERATIONS} times")

    def _load(self, key_id: str, create: bool) -> DataKey | _Shredded | None:
        # SQLAlchemy Core, not the ORM: a new case's first payload reads and writes its key
        # here, and the ORM's identity map and unit of work cost more than the statements.
        with self.engine.connect() as connection:
            row = connection.execute(_READ_KEY, {"b_key_id": key_id}).first()
            if row is None and create:
                key = new_data_key()
                wrapped = self.ring.wrap(key)
                try:
                    connection.execute(
                        insert(_KEYS),
                        {
                            "key_id": key_id,
                            "kek_id": wrapped.kek_id,
                            "wrapped_key": wrapped.wrapped,
                            "created_at": datetime.now(UTC),
                        },
                    )
                    connection.commit()
                    return DataKey(key_id, key)
                except IntegrityError:  # another process made it first: theirs is the key
                    connection.rollback()
                row = connection.execute(_READ_KEY, {"b_key_id": key_id}).first()
                if row is None:  # pragma: no cover - the insert failed for another reason
                    raise RuntimeError(f"the data key of {key_id} could not be stored")
            if row is None:
                return None
            if row.shredded_at is not None:
                return _SHREDDED
            return DataKey(key_id, self.ring.unwrap(WrappedKey(row.kek_id, row.wrapped_key)))

    def _shred(self, key_id: str) -> bool:
        now = datetime.now(UTC)
        with Session(self.engine) as session:
            # Every generation of the case's key goes (see _live_generation).
            destroyed = session.exec(
                update(CaseKeyRow)
                .where(
                    (col(CaseKeyRow.key_id) == key_id)
                    | col(CaseKeyRow.key_id).startswith(f"{key_id}{GENERATION_MARK}"),
                    col(CaseKeyRow.shredded_at).is_(None),
                )
                .values(wrapped_key=b"", shredded_at=now)
            )
            if destroyed.rowcount:
                session.commit()
                return True
            if session.get(CaseKeyRow, key_id) is not None:
                return False  # shredded before
            # No key yet: a tombstone, so that none is made for the erased case later.
            session.add(
                CaseKeyRow(
                    key_id=key_id, kek_id="", wrapped_key=b"", created_at=now, shredded_at=now
                )
            )
            try:
                session.commit()
            except IntegrityError:  # its key was made at this moment: shred that one
                session.rollback()
                return self._shred(key_id)
            return False

    def _rewrap(self) -> int:
        """Every live key not wrapped with the active KEK, re-wrapped, ``batch_size`` at a time
        (in key order, each batch its own transaction)."""
        active = self.ring.active
        done = 0
        after = ""
        while True:
            with Session(self.engine) as session:
                batch = session.exec(
                    select(CaseKeyRow.key_id, CaseKeyRow.kek_id, CaseKeyRow.wrapped_key)
                    .where(
                        col(CaseKeyRow.shredded_at).is_(None),
                        col(CaseKeyRow.kek_id) != active,
                        col(CaseKeyRow.key_id) > after,
                    )
                    .order_by(col(CaseKeyRow.key_id))
                    .limit(self.batch_size)
                ).all()
                if not batch:
                    return done
                for key_id, kek_id, wrapped_key in batch:
                    rewrapped = self.ring.rewrap(WrappedKey(kek_id, wrapped_key))
                    changed = session.exec(
                        update(CaseKeyRow)
                        .where(
                            col(CaseKeyRow.key_id) == key_id,
                            col(CaseKeyRow.kek_id) == kek_id,
                            col(CaseKeyRow.shredded_at).is_(None),
                        )
                        .values(kek_id=rewrapped.kek_id, wrapped_key=rewrapped.wrapped)
                    )
                    done += changed.rowcount  # 0: shredded (or re-wrapped) meanwhile
                session.commit()
                after = batch[-1][0]

    def _status(self) -> KeyStatus:
        with Session(self.engine) as session:
            live = session.exec(
                select(CaseKeyRow.kek_id, func.count())
                .where(col(CaseKeyRow.shredded_at).is_(None))
                .group_by(col(CaseKeyRow.kek_id))
            ).all()
            shredded = session.exec(
                select(func.count())
                .select_from(CaseKeyRow)
                .where(col(CaseKeyRow.shredded_at).is_not(None))
            ).one()
        return KeyStatus(by_kek={kek: int(n) for kek, n in sorted(live)}, shredded=int(shredded))


def _check_key_id(key_id: str) -> None:
    if not key_id or len(key_id) > MAX_KEY_ID:
        raise ValueError(f"a key id is 1 to {MAX_KEY_ID} characters")
