"""The data converter of every client and worker: pydantic underneath, the codec on top."""

from __future__ import annotations

import dataclasses

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter

from security.codec import EnvelopeCodec
from security.keys import KeyStore

__all__ = ["data_converter"]


def data_converter(store: KeyStore) -> DataConverter:
    """The pydantic data converter, every payload encrypted with its case's key from ``store``."""
    return dataclasses.replace(pydantic_data_converter, payload_codec=EnvelopeCodec(store))
