"""The data converter of every client and worker: pydantic underneath, the codec on top.

Failures are encrypted too: a failure's message and stack trace go into its encoded attributes
(:class:`~temporalio.converter.DefaultFailureConverterWithEncodedAttributes`), a payload the codec
encrypts, so that an error message naming a child is not stored in the clear; Temporal keeps
"Encoded failure" as the message. Clients and workers with this converter decode them as before.
"""

from __future__ import annotations

import dataclasses

from temporalio.contrib.pydantic import PydanticPayloadConverter, pydantic_data_converter
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
)

from security.codec import EnvelopeCodec
from security.keys import KeyStore

__all__ = ["SharedPydanticPayloadConverter", "data_converter", "plain_data_converter"]

# One pydantic payload converter's encodings for the whole process (see below).
_ENCODINGS = tuple(PydanticPayloadConverter().converters.values())


class SharedPydanticPayloadConverter(CompositePayloadConverter):
    """Temporal's pydantic payload converter, its encodings (and so its cache of pydantic type
    adapters) shared by every instance in the process.

    Temporal makes a payload converter for every workflow run, and again every time it puts a
    data converter in a new serialization context (each activation, each activity): with
    :class:`~temporalio.contrib.pydantic.PydanticPayloadConverter` each came with a cache of its
    own, so every case built the type adapters of its input, its updates and its results again,
    and kept them for as long as it stayed in the worker's cache (issue 11). The converters are
    stateless but for that cache, which is thread-safe and bounded (1,024 type hints)."""

    def __init__(self) -> None:
        super().__init__(*_ENCODINGS)


def plain_data_converter() -> DataConverter:
    """The pydantic data converter with the shared type adapters, no codec (the baseline of the
    benchmarks)."""
    return dataclasses.replace(
        pydantic_data_converter, payload_converter_class=SharedPydanticPayloadConverter
    )


def data_converter(store: KeyStore) -> DataConverter:
    """The pydantic data converter, every payload encrypted with its case's key from ``store``."""
    return dataclasses.replace(
        plain_data_converter(),
        payload_codec=EnvelopeCodec(store),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
