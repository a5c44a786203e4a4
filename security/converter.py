"""The data converter of every client and worker: pydantic underneath, the codec on top.

Failures are encrypted too: a failure's message and stack trace go into its encoded attributes
(:class:`~temporalio.converter.DefaultFailureConverterWithEncodedAttributes`), a payload the codec
encrypts, so that an error message naming a child is not stored in the clear; Temporal keeps
"Encoded failure" as the message. Clients and workers with this converter decode them as before.
"""

from __future__ import annotations

import dataclasses

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes

from security.codec import EnvelopeCodec
from security.keys import KeyStore

__all__ = ["data_converter"]


def data_converter(store: KeyStore) -> DataConverter:
    """The pydantic data converter, every payload encrypted with its case's key from ``store``."""
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EnvelopeCodec(store),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
