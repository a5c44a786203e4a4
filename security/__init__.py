"""Protecting children's data: payloads encrypted per case, keys that can be shredded.

Public surface:

* :class:`EnvelopeCodec` (:mod:`security.codec`): the payload codec every client and worker uses;
* :class:`KeyRing`, :class:`KeyStore`, :class:`MemoryKeyStore`, :class:`KeyShredded`
  (:mod:`security.keys`): the key-encryption keys and where the cases' data keys live;
* :func:`data_converter` (:mod:`security.converter`): the pydantic data converter with the codec;
* :class:`security.store.SqlKeyStore`: the key store of every client and worker, the cases' data
  keys in the case register (imported from its module: it needs the register's tables).
"""

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
