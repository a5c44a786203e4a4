"""Envelope encryption keys: a data key per case, wrapped by the LA's key-encryption keys.

* :class:`KeyRing` holds the key-encryption keys (KEKs) from the settings, each with an id. New
  data keys are wrapped with the active one; a key wrapped with an older one still unwraps, and
  ``cme keys rotate`` re-wraps every stored data key with the active KEK.
* :class:`KeyStore` is where each case's wrapped data key lives (the register's ``case_key``
  table, :class:`security.store.SqlKeyStore`; :class:`MemoryKeyStore` for tests). Destroying a
  case's data key (:meth:`KeyStore.shred`) makes every copy of the case's Temporal history, in the
  server, its backups and archives, unreadable for good: crypto-shredding.

Keys are 256-bit AES keys. Data keys are wrapped with AES key wrap (RFC 3394, ``cryptography``).
Nothing here logs a key, a plaintext or a case's personal data.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

# cryptography's key wrap is imported where a key is wrapped: the settings import this module
# to check the KEKs, and a `cme` command that reads no case (`cme calendar`) starts without it.

__all__ = [
    "GENERATION_MARK",
    "MAX_GENERATIONS",
    "SERVICE_KEY_ID",
    "DataKey",
    "KeyRing",
    "KeyRingError",
    "KeyShredded",
    "KeyStore",
    "MemoryKeyStore",
    "WrappedKey",
    "decode_kek",
    "new_data_key",
]

KEY_BYTES = 32  # AES-256
# The data key of payloads that belong to no case (schedules, the retention sweep).
SERVICE_KEY_ID = "_service"
# A case erased and referred again (its reference is its child's) gets a new generation of data
# key for its new data: ``CME-…~2``, ``~3``, ... The erased generations stay destroyed.
GENERATION_MARK = "~"
MAX_GENERATIONS = 100


class KeyRingError(ValueError):
    """A key-encryption key that cannot be used (the message names its id, never its value)."""


class KeyShredded(LookupError):
    """The case's data key was destroyed (the case was erased): its payloads cannot be read."""

    def __init__(self, key_id: str) -> None:
        super().__init__(f"the data key of {key_id} was destroyed: its payloads cannot be read")
        self.key_id = key_id


def decode_kek(kek_id: str, text: str) -> bytes:
    """A KEK from its settings text: 32 bytes, base64 (standard or URL-safe)."""
    try:
        key = base64.urlsafe_b64decode(text.strip().replace("+", "-").replace("/", "_") + "==")
    except (binascii.Error, ValueError):
        raise KeyRingError(f"key-encryption key {kek_id!r} is not base64") from None
    if len(key) != KEY_BYTES:
        raise KeyRingError(
            f"key-encryption key {kek_id!r} must be {KEY_BYTES} bytes (256 bits), base64; "
            f"it is {len(key)} bytes"
        )
    return key


def new_data_key() -> bytes:
    return os.urandom(KEY_BYTES)


@dataclass(frozen=True)
class WrappedKey:
    """A data key as stored: wrapped by the KEK ``kek_id``."""

    kek_id: str
    wrapped: bytes

    def __repr__(self) -> str:  # wrapped, but key material all the same: never print it
        return f"WrappedKey(kek_id={self.kek_id!r}, wrapped=<{len(self.wrapped)} bytes>)"


@dataclass(frozen=True)
class DataKey:
    """A case's data key, unwrapped (held in memory only)."""

    key_id: str  # the case reference (the workflow id), or SERVICE_KEY_ID
    key: bytes

    def __repr__(self) -> str:  # never print the key
        return f"DataKey(key_id={self.key_id!r})"


class KeyRing:
    """The LA's key-encryption keys by id, and the one that wraps new data keys."""

    def __init__(self, keks: Mapping[str, bytes], active: str) -> None:
        if not keks:
            raise KeyRingError("no key-encryption key is configured")
        if active not in keks:
            raise KeyRingError(
                f"the active key-encryption key {active!r} is not among the configured ones "
                f"({', '.join(sorted(keks))})"
            )
        for kek_id, kek in keks.items():
            if len(kek) != KEY_BYTES:
                raise KeyRingError(f"key-encryption key {kek_id!r} must be {KEY_BYTES} bytes")
        self._keks = dict(keks)
        self.active = active

    def __repr__(self) -> str:
        return f"KeyRing(ids={sorted(self._keks)!r}, active={self.active!r})"

    @property
    def ids(self) -> list[str]:
        return sorted(self._keks)

    def wrap(self, key: bytes) -> WrappedKey:
        from cryptography.hazmat.primitives.keywrap import aes_key_wrap

        return WrappedKey(self.active, aes_key_wrap(self._keks[self.active], key))

    def unwrap(self, wrapped: WrappedKey) -> bytes:
        kek = self._keks.get(wrapped.kek_id)
        if kek is None:
            raise KeyRingError(
                f"a data key is wrapped with key-encryption key {wrapped.kek_id!r}, which is not "
                "configured: add it back to the settings (rotate before removing a KEK)"
            )
        from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap

        try:
            return aes_key_unwrap(kek, wrapped.wrapped)
        except (InvalidUnwrap, ValueError):  # ValueError: not a wrapped key's length at all
            raise KeyRingError(
                f"a data key does not unwrap with key-encryption key {wrapped.kek_id!r}: the "
                "configured key is not the one it was wrapped with"
            ) from None

    def rewrap(self, wrapped: WrappedKey) -> WrappedKey:
        """The same data key, wrapped with the active KEK."""
        return self.wrap(self.unwrap(wrapped))


class KeyStore(Protocol):
    """Where each case's wrapped data key is kept. Every method is safe to call concurrently."""

    async def data_key(self, key_id: str, *, create: bool) -> DataKey | None:
        """The data key of ``key_id``: made and stored when ``create`` and there is none yet;
        ``None`` when there is none and not ``create``. Raises :class:`KeyShredded` when it was
        destroyed."""
        ...

    async def shred(self, key_id: str) -> bool:
        """Destroy the data key of ``key_id`` for good; whether there was one to destroy."""
        ...

    async def rewrap(self) -> int:
        """Re-wrap every stored data key with the active KEK; how many were re-wrapped."""
        ...


class MemoryKeyStore:
    """A key store in memory, for tests and benchmarks. Wraps like the real one."""

    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring
        self.keys: dict[str, WrappedKey] = {}
        self.shredded: dict[str, datetime] = {}

    async def data_key(self, key_id: str, *, create: bool) -> DataKey | None:
        if not create:
            if key_id in self.shredded:
                raise KeyShredded(key_id)
            wrapped = self.keys.get(key_id)
            return None if wrapped is None else DataKey(key_id, self.ring.unwrap(wrapped))
        for generation in range(1, MAX_GENERATIONS + 1):
            generation_id = key_id if generation == 1 else f"{key_id}{GENERATION_MARK}{generation}"
            if generation_id in self.shredded:
                continue
            wrapped = self.keys.setdefault(generation_id, self.ring.wrap(new_data_key()))
            return DataKey(generation_id, self.ring.unwrap(wrapped))
        raise RuntimeError(f"{key_id} has been erased {MAX_GENERATIONS} times")

    async def shred(self, key_id: str) -> bool:
        """Destroy the key of ``key_id`` and every later generation of it."""
        now = datetime.now(UTC)
        generations = [k for k in self.keys if k.startswith(f"{key_id}{GENERATION_MARK}")]
        for generation_id in [key_id, *generations]:
            self.shredded.setdefault(generation_id, now)
        destroyed = [self.keys.pop(k, None) for k in [key_id, *generations]]
        return any(w is not None for w in destroyed)

    async def rewrap(self) -> int:
        stale = {k: w for k, w in self.keys.items() if w.kek_id != self.ring.active}
        for key_id, wrapped in stale.items():
            self.keys[key_id] = self.ring.rewrap(wrapped)
        return len(stale)
