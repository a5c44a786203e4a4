"""The data converter of every client and worker: pydantic underneath, the codec on top.

Failures are encrypted too: a failure's message and stack trace go into its encoded attributes
(:class:`~temporalio.converter.DefaultFailureConverterWithEncodedAttributes`), a payload the codec
encrypts, so that an error message naming a child is not stored in the clear; Temporal keeps
"Encoded failure" as the message. Clients and workers with this converter decode them as before.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Self

from temporalio.contrib.pydantic import PydanticPayloadConverter, pydantic_data_converter
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    SerializationContext,
    WithSerializationContext,
    WorkflowSerializationContext,
)

from security.codec import EnvelopeCodec
from security.keys import KeyStore

__all__ = [
    "ContextCachingDataConverter",
    "SharedPydanticPayloadConverter",
    "data_converter",
    "plain_data_converter",
]

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


# A case's serialization context, to ask each part of a converter whether it reads one.
_A_CASE = WorkflowSerializationContext(namespace="default", workflow_id="CME-000000000000")

# Converters kept by ContextCachingDataConverter, at most (then it starts again): a few for each
# case with work in hand (its workflow, its activities), each a few hundred bytes.
CONTEXTS_CACHED = 2048


@dataclasses.dataclass(frozen=True)
class ContextCachingDataConverter(DataConverter):
    """Temporal's data converter, its copy for each serialization context made once.

    The SDK puts the data converter in the context of every payload it encodes or decodes for a
    workflow (which case's key the codec uses): each time a copy made with
    ``dataclasses.replace``, which builds a new payload converter and failure converter only to
    replace them (about 5% of a worker's Python time opening cases, issue 11). A context is a
    frozen value (namespace, workflow id, activity type, ...) and the copy depends on nothing
    else, so the copy for each is kept and handed out again; the SDK's own ``with_context``
    makes it the first time.

    When the codec is the only part that reads a context (the payload, failure and storage
    converters each answer a context with themselves), a workflow's contexts and those of each
    of its activities share one copy: :meth:`EnvelopeCodec.context_key` names what the codec
    reads of a context (the workflow id), so a case's copy is made once, not once more for each
    of its activities (another 1.3% of a worker's time opening cases)."""

    _by_context: dict[object, DataConverter] = dataclasses.field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def with_context(self, context: SerializationContext) -> Self:
        key = self._key(context)
        try:
            return self._by_context[key]  # type: ignore[return-value]
        except KeyError:
            pass
        converter = super().with_context(context)
        if len(self._by_context) >= CONTEXTS_CACHED:
            self._by_context.clear()
        self._by_context[key] = converter
        return converter

    @functools.cached_property
    def _codec_only(self) -> bool:
        """Whether the codec is the only part that reads a context: every other part answers a
        case's context with itself."""
        if not isinstance(self.payload_codec, EnvelopeCodec):
            return False
        others = (self.payload_converter, self.failure_converter, self.external_storage)
        return all(
            not isinstance(part, WithSerializationContext) or part.with_context(_A_CASE) is part
            for part in others
        )

    def _key(self, context: SerializationContext) -> object:
        """What the copy for ``context`` depends on: the codec's key, or the whole context."""
        key_id = EnvelopeCodec.context_key(context) if self._codec_only else None
        return context if key_id is None else key_id


def data_converter(store: KeyStore) -> DataConverter:
    """The pydantic data converter, every payload encrypted with its case's key from ``store``."""
    return ContextCachingDataConverter(
        payload_converter_class=SharedPydanticPayloadConverter,
        payload_codec=EnvelopeCodec(store),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
