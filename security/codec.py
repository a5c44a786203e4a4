"""The payload codec: every payload Temporal stores is AES-256-GCM ciphertext under its case's key.

The SDK hands the codec the workflow id of each payload through its serialization context
(:class:`~temporalio.converter.WorkflowSerializationContext` and
:class:`~temporalio.converter.ActivitySerializationContext`); the workflow id of a case is its case
reference, so each case's payloads are encrypted with that case's data key (created on first use).
A payload outside any workflow's context uses the service's own data key.

An encrypted payload names its key in its metadata (``encryption-key-id``: the case reference), so
it decrypts without other context: by a worker, a client, or the codec server that the Temporal
Web UI calls. The whole original payload (metadata and data) is the plaintext; the key id is bound
to the ciphertext as associated data, so a payload cannot be moved to another case's key.

Decoding passes a payload that is not encrypted through unchanged: histories recorded before
encryption keep replaying. A payload whose case was erased cannot be decrypted
(:class:`~security.keys.KeyShredded`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Self

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import (
    ActivitySerializationContext,
    PayloadCodec,
    SerializationContext,
    WithSerializationContext,
    WorkflowSerializationContext,
)

from domain.types import CASE_REF_PATTERN
from security.keys import SERVICE_KEY_ID, KeyStore

__all__ = [
    "CIPHER",
    "ENCODING",
    "KEY_ID_METADATA",
    "EnvelopeCodec",
    "PayloadUndecryptable",
    "key_id_of",
]

ENCODING = b"binary/encrypted"
CIPHER = b"AES-256-GCM"
KEY_ID_METADATA = "encryption-key-id"
_NONCE_BYTES = 12
_CASE_REF = re.compile(CASE_REF_PATTERN.strip("^$"))


class PayloadUndecryptable(ValueError):
    """An encrypted payload that does not decrypt with its case's key (tampered, or the wrong
    key-encryption key)."""


def key_id_of(payload: Payload) -> str | None:
    """The key an encrypted payload was encrypted with; ``None`` for a plain payload."""
    if payload.metadata.get("encoding") != ENCODING:
        return None
    key_id = payload.metadata.get(KEY_ID_METADATA)
    cipher = payload.metadata.get("encryption-cipher")
    if not key_id or cipher != CIPHER:
        raise PayloadUndecryptable(
            f"an encrypted payload without its key id or with another cipher than {CIPHER.decode()}"
        )
    try:
        return key_id.decode()
    except UnicodeDecodeError:
        raise PayloadUndecryptable("an encrypted payload whose key id is not text") from None


class EnvelopeCodec(PayloadCodec, WithSerializationContext):
    """Encrypts each payload with the data key of the case it belongs to (see module docstring)."""

    def __init__(self, store: KeyStore, *, key_id: str = SERVICE_KEY_ID) -> None:
        self._store = store
        self._key_id = key_id

    def with_context(self, context: SerializationContext) -> Self:
        key_id = self.context_key(context)
        return self if key_id is None else type(self)(self._store, key_id=key_id)

    @staticmethod
    def context_key(context: SerializationContext) -> str | None:
        """The key a context's payloads are encrypted with, all the codec reads of a context:
        ``None`` for a context that is neither a workflow's nor an activity's (the codec's own
        key then)."""
        if isinstance(context, WorkflowSerializationContext | ActivitySerializationContext):
            workflow_id = context.workflow_id
            # A case's payloads under its own key; any other workflow's (the retention sweep,
            # an erasure) hold no child's data and share the service's key.
            if workflow_id and _CASE_REF.fullmatch(workflow_id):
                return workflow_id
            return SERVICE_KEY_ID
        return None

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        if not payloads:
            return []
        key = await self._store.data_key(self._key_id, create=True)
        assert key is not None
        cipher = AESGCM(key.key)
        aad = key.key_id.encode()  # the case's key, or a later generation of it
        encoded = []
        for payload in payloads:
            nonce = os.urandom(_NONCE_BYTES)
            sealed = cipher.encrypt(nonce, payload.SerializeToString(), aad)
            encoded.append(
                Payload(
                    metadata={
                        "encoding": ENCODING,
                        "encryption-cipher": CIPHER,
                        KEY_ID_METADATA: aad,
                    },
                    data=nonce + sealed,
                )
            )
        return encoded

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        decoded = []
        ciphers: dict[str, AESGCM] = {}
        for payload in payloads:
            key_id = key_id_of(payload)
            if key_id is None:
                decoded.append(payload)
                continue
            if key_id not in ciphers:
                key = await self._store.data_key(key_id, create=False)
                if key is None:
                    raise PayloadUndecryptable(f"no data key for {key_id}")
                ciphers[key_id] = AESGCM(key.key)
            nonce, sealed = payload.data[:_NONCE_BYTES], payload.data[_NONCE_BYTES:]
            try:
                plain = ciphers[key_id].decrypt(nonce, sealed, key_id.encode())
            except (InvalidTag, ValueError):  # ValueError: too short to hold a nonce
                raise PayloadUndecryptable(
                    f"a payload of {key_id} does not decrypt with its key"
                ) from None
            original = Payload()
            original.ParseFromString(plain)
            decoded.append(original)
        return decoded
