"""Protecting children's data: payloads encrypted per case, keys that can be shredded.

Public surface:

* :class:`EnvelopeCodec` (:mod:`security.codec`): the payload codec every client and worker uses;
* :class:`KeyRing`, :class:`KeyStore`, :class:`MemoryKeyStore`, :class:`KeyShredded`
  (:mod:`security.keys`): the key-encryption keys and where the cases' data keys live;
* :func:`data_converter` (:mod:`security.converter`): the pydantic data converter with the codec;
* :class:`security.store.SqlKeyStore`: the key store of every client and worker, the cases' data
  keys in the case register (imported from its module: it needs the register's tables).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from security.codec import EnvelopeCodec, PayloadUndecryptable
    from security.converter import data_converter
    from security.keys import (
        SERVICE_KEY_ID,
        DataKey,
        KeyRing,
        KeyRingError,
        KeyShredded,
        KeyStore,
        MemoryKeyStore,
    )

# Each name from its module when first asked for (PEP 562): importing a submodule, as the
# settings import security.keys, then does not import the codec and with it the Temporal SDK.
_HOME = {
    "EnvelopeCodec": "security.codec",
    "PayloadUndecryptable": "security.codec",
    "data_converter": "security.converter",
    **dict.fromkeys(
        (
            "SERVICE_KEY_ID",
            "DataKey",
            "KeyRing",
            "KeyRingError",
            "KeyShredded",
            "KeyStore",
            "MemoryKeyStore",
        ),
        "security.keys",
    ),
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'security' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)


__all__ = [
    "SERVICE_KEY_ID",
    "DataKey",
    "EnvelopeCodec",
    "KeyRing",
    "KeyRingError",
    "KeyShredded",
    "KeyStore",
    "MemoryKeyStore",
    "PayloadUndecryptable",
    "data_converter",
]
