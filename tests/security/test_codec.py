"""The payload codec: AES-256-GCM under each case's data key, the key id (the case reference) in
the payload's metadata, bound to the ciphertext; a payload in the clear passes through."""

from __future__ import annotations

import dataclasses
import re
from datetime import date
from typing import Any

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.contrib.pydantic import PydanticPayloadConverter
from temporalio.converter import (
    ActivitySerializationContext,
    SerializationContext,
    WithSerializationContext,
    WorkflowSerializationContext,
)
from temporalio.exceptions import ApplicationError

import security.converter
from domain.case.model import CommandResult, Stage
from security.codec import (
    CIPHER,
    ENCODING,
    KEY_ID_METADATA,
    EnvelopeCodec,
    PayloadUndecryptable,
    key_id_of,
)
from security.converter import SharedPydanticPayloadConverter, data_converter
from security.keys import (
    SERVICE_KEY_ID,
    DataKey,
    KeyRing,
    KeyRingError,
    KeyShredded,
    MemoryKeyStore,
    WrappedKey,
    decode_kek,
)
from starter.cases import case_reference
from tests.keyring import fixed_key_ring, random_kek
from tests.workflows.harness import SECRET, school_referral

CASE = "CME-0123456789AB"
OTHER = "CME-BA9876543210"


def plain(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=text.encode())


def workflow_context(workflow_id: str) -> WorkflowSerializationContext:
    return WorkflowSerializationContext(namespace="default", workflow_id=workflow_id)


def activity_context(workflow_id: str, activity_id: str) -> ActivitySerializationContext:
    return ActivitySerializationContext(
        namespace="default",
        activity_id=activity_id,
        activity_type="sync_register",
        activity_task_queue="q",
        workflow_id=workflow_id,
        workflow_type="CmeCaseV2",
        is_local=True,
    )


@pytest.fixture
def store() -> MemoryKeyStore:
    return MemoryKeyStore(fixed_key_ring())


def codec_for(store: MemoryKeyStore, case: str = CASE) -> EnvelopeCodec:
    return EnvelopeCodec(store).with_context(workflow_context(case))


async def test_a_payload_round_trips_with_its_metadata(store: MemoryKeyStore) -> None:
    original = Payload(
        metadata={"encoding": b"json/plain", "messageType": b"CaseInput"}, data=b'{"a": "Jo"}'
    )
    codec = codec_for(store)
    [sealed] = await codec.encode([original])
    assert sealed.metadata["encoding"] == ENCODING == b"binary/encrypted"
    assert sealed.metadata["encryption-cipher"] == CIPHER == b"AES-256-GCM"
    assert sealed.metadata[KEY_ID_METADATA] == CASE.encode()
    assert key_id_of(sealed) == CASE
    assert set(sealed.metadata) == {"encoding", "encryption-cipher", KEY_ID_METADATA}
    assert b"Jo" not in sealed.data and b"CaseInput" not in sealed.data
    assert len(sealed.data) == 12 + len(original.SerializeToString()) + 16  # nonce, tag
    # Any codec decodes it, with no context: the key id is in the payload.
    [back] = await EnvelopeCodec(store).decode([sealed])
    assert back == original
    # A fresh nonce each time: the same payload twice is two ciphertexts.
    [again] = await codec.encode([original])
    assert again.data != sealed.data
    assert await codec.encode([]) == []


async def test_an_activitys_payloads_use_its_workflows_key(store: MemoryKeyStore) -> None:
    context = activity_context(CASE, "1")
    [sealed] = await EnvelopeCodec(store).with_context(context).encode([plain("x")])
    assert key_id_of(sealed) == CASE


async def test_a_payload_of_no_case_uses_the_service_key(store: MemoryKeyStore) -> None:
    [sealed] = await EnvelopeCodec(store).encode([plain("schedule")])
    assert key_id_of(sealed) == SERVICE_KEY_ID == "_service"
    standalone = ActivitySerializationContext(
        namespace="default",
        activity_id="1",
        activity_type="t",
        activity_task_queue="q",
        workflow_id=None,
        workflow_type=None,
        is_local=False,
    )
    [sealed] = await EnvelopeCodec(store).with_context(standalone).encode([plain("x")])
    assert key_id_of(sealed) == SERVICE_KEY_ID
    assert set(store.keys) == {SERVICE_KEY_ID}


async def test_key_ids_are_case_references_without_personal_data(store: MemoryKeyStore) -> None:
    referral = school_referral(today=date(2026, 3, 2), day1=date(2026, 2, 23))
    case = case_reference(referral, SECRET)
    assert re.fullmatch(r"CME-[0-9A-F]{12}", case)
    [sealed] = await codec_for(store, case).encode([plain(referral.model_dump_json())])
    pupil = referral.pupil
    metadata = b" ".join(sealed.metadata.values())
    for personal in (pupil.first_name, pupil.last_name, pupil.upn, str(pupil.date_of_birth)):
        assert personal is not None
        assert personal.encode() not in metadata
        assert personal.encode() not in sealed.data
    assert key_id_of(sealed) == case


async def test_a_payload_in_the_clear_passes_through(store: MemoryKeyStore) -> None:
    """Histories recorded before encryption keep replaying."""
    payloads = [plain('"a"'), Payload(metadata={"encoding": b"binary/null"})]
    assert await EnvelopeCodec(store).decode(payloads) == payloads
    assert store.keys == {}


async def test_tampered_ciphertext_does_not_decrypt(store: MemoryKeyStore) -> None:
    [sealed] = await codec_for(store).encode([plain("Jo Bloggs")])
    for i in (0, 12, len(sealed.data) - 1):  # the nonce, the ciphertext, the tag
        tampered = Payload()
        tampered.CopyFrom(sealed)
        tampered.data = sealed.data[:i] + bytes([sealed.data[i] ^ 1]) + sealed.data[i + 1 :]
        with pytest.raises(PayloadUndecryptable, match=f"a payload of {CASE} does not decrypt"):
            await EnvelopeCodec(store).decode([tampered])
    short = Payload()
    short.CopyFrom(sealed)
    short.data = sealed.data[:5]
    with pytest.raises(PayloadUndecryptable):
        await EnvelopeCodec(store).decode([short])


async def test_a_payload_moved_to_another_cases_key_id_does_not_decrypt(
    store: MemoryKeyStore,
) -> None:
    [sealed] = await codec_for(store, CASE).encode([plain("Jo Bloggs")])
    await codec_for(store, OTHER).encode([plain("other")])  # the other case has a key
    moved = Payload()
    moved.CopyFrom(sealed)
    moved.metadata[KEY_ID_METADATA] = OTHER.encode()
    with pytest.raises(PayloadUndecryptable, match=OTHER):
        await EnvelopeCodec(store).decode([moved])
    # The same key under another id (the id is bound as associated data) fails too.
    store.keys[OTHER] = store.keys[CASE]
    with pytest.raises(PayloadUndecryptable):
        await EnvelopeCodec(store).decode([moved])


async def test_a_payload_of_a_case_with_no_key_does_not_decrypt(store: MemoryKeyStore) -> None:
    [sealed] = await codec_for(store).encode([plain("x")])
    store.keys.clear()
    with pytest.raises(PayloadUndecryptable, match=f"no data key for {CASE}"):
        await EnvelopeCodec(store).decode([sealed])


async def test_an_encrypted_payload_without_its_key_id_is_refused(store: MemoryKeyStore) -> None:
    [sealed] = await codec_for(store).encode([plain("x")])
    del sealed.metadata[KEY_ID_METADATA]
    with pytest.raises(PayloadUndecryptable, match="without its key id"):
        await EnvelopeCodec(store).decode([sealed])


async def test_a_shredded_case_cannot_be_read_and_its_new_data_takes_a_new_key(
    store: MemoryKeyStore,
) -> None:
    [sealed] = await codec_for(store).encode([plain("Jo Bloggs")])
    assert await store.shred(CASE) is True
    with pytest.raises(KeyShredded) as shredded:
        await EnvelopeCodec(store).decode([sealed])
    assert shredded.value.key_id == CASE
    assert CASE in str(shredded.value)
    # The child erased is referred again (the same reference): a new generation of key.
    [again] = await codec_for(store).encode([plain("new")])
    assert key_id_of(again) == f"{CASE}~2"
    assert await EnvelopeCodec(store).decode([again]) == [plain("new")]
    with pytest.raises(KeyShredded):
        await EnvelopeCodec(store).decode([sealed])  # the erased data stays unreadable
    assert await store.shred(CASE) is True  # erased again: the new generation goes too
    assert await store.shred(CASE) is False  # nothing left to destroy


async def test_the_data_converter_encrypts_values_and_failures(store: MemoryKeyStore) -> None:
    converter = data_converter(store).with_context(workflow_context(CASE))
    assert converter.payload_converter_class is SharedPydanticPayloadConverter
    [payload] = await converter.encode([{"last_name": "Bloggs"}])
    assert key_id_of(payload) == CASE and b"Bloggs" not in payload.data
    assert await converter.decode([payload]) == [{"last_name": "Bloggs"}]

    failure = Failure()
    await converter.encode_failure(ApplicationError("no contact with Jo Bloggs"), failure)
    assert failure.message == "Encoded failure"
    assert b"Bloggs" not in failure.SerializeToString()
    assert key_id_of(failure.encoded_attributes) == CASE
    decoded = await converter.decode_failure(failure)
    assert isinstance(decoded, ApplicationError)
    assert decoded.message == "no contact with Jo Bloggs"


async def test_the_data_converter_in_each_context_is_made_once_and_keeps_to_its_case(
    store: MemoryKeyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    converter = data_converter(store)
    first = converter.with_context(workflow_context(CASE))
    assert converter.with_context(workflow_context(CASE)) is first
    other = converter.with_context(workflow_context(OTHER))
    assert other is not first
    [mine] = await first.encode(["x"])
    [theirs] = await other.encode(["x"])
    assert (key_id_of(mine), key_id_of(theirs)) == (CASE, OTHER)
    # Bounded: when full it starts again, and the copies it makes are as before.
    monkeypatch.setattr(security.converter, "CONTEXTS_CACHED", 2)
    third = converter.with_context(workflow_context("CME-000000000001"))
    assert converter.with_context(workflow_context(CASE)) is not first
    [again] = await converter.with_context(workflow_context(CASE)).encode(["x"])
    assert key_id_of(again) == CASE and key_id_of((await third.encode(["x"]))[0]) != CASE


async def test_a_case_and_its_activities_share_one_copy_of_the_converter(
    store: MemoryKeyStore,
) -> None:
    """Only the codec reads a context, and of it only the workflow id: a case's workflow and
    every activity it runs are encoded by one copy, made once."""
    converter = data_converter(store)
    mine = converter.with_context(workflow_context(CASE))
    assert converter.with_context(activity_context(CASE, "1")) is mine
    assert converter.with_context(activity_context(CASE, "2")) is mine
    theirs = converter.with_context(activity_context(OTHER, "1"))
    assert theirs is not mine
    [sealed] = await converter.with_context(activity_context(CASE, "3")).encode(["x"])
    [other] = await theirs.encode(["x"])
    assert (key_id_of(sealed), key_id_of(other)) == (CASE, OTHER)


class _ContextAware(SharedPydanticPayloadConverter, WithSerializationContext):
    """A payload converter that reads its context (none of the project's does)."""

    context: SerializationContext | None = None

    def with_context(self, context: SerializationContext) -> _ContextAware:
        copy = _ContextAware()
        copy.context = context
        return copy


def test_a_converter_whose_other_parts_read_the_context_gets_a_copy_per_context(
    store: MemoryKeyStore,
) -> None:
    converter = dataclasses.replace(data_converter(store), payload_converter_class=_ContextAware)
    first = converter.with_context(activity_context(CASE, "1"))
    second = converter.with_context(activity_context(CASE, "2"))
    assert first is not second
    # (the SDK wraps the payload converter in its own, which hands the context on)
    inner = second.payload_converter._inner_payload_converter  # type: ignore[attr-defined]
    assert isinstance(inner, _ContextAware)
    assert inner.context == activity_context(CASE, "2")
    assert converter.with_context(activity_context(CASE, "2")) is second


def test_keys_are_never_printed() -> None:
    key = DataKey(CASE, b"k" * 32)
    wrapped = WrappedKey("kek-1", b"w" * 40)
    assert "kkkk" not in repr(key) and "kkkk" not in str(key)
    assert "wwww" not in repr(wrapped) and "40 bytes" in repr(wrapped)
    ring = KeyRing({"kek-1": b"s" * 32}, "kek-1")
    assert "ssss" not in repr(ring)


def test_a_wrong_or_missing_kek_is_named_by_its_id_only() -> None:
    kek = random_kek()
    ring = KeyRing({"2026-01": decode_kek("2026-01", kek)}, "2026-01")
    wrapped = ring.wrap(b"d" * 32)
    impostor = random_kek()
    wrong = KeyRing({"2026-01": decode_kek("2026-01", impostor)}, "2026-01")
    with pytest.raises(KeyRingError) as raised:
        wrong.unwrap(wrapped)
    message = str(raised.value)
    assert "'2026-01'" in message and "not the one it was wrapped with" in message
    for secret in (kek, impostor, kek[:12], impostor[:12]):
        assert secret not in message
    with pytest.raises(KeyRingError, match="'2026-01', which is not configured"):
        KeyRing({"2027-01": b"x" * 32}, "2027-01").unwrap(wrapped)
    with pytest.raises(KeyRingError, match="does not unwrap"):
        ring.unwrap(WrappedKey("2026-01", b""))  # a shredded row's empty key
    with pytest.raises(KeyRingError, match="'bad' must be 32 bytes"):
        decode_kek("bad", "c2hvcnQ=")


# An update's result type, as Temporal hands it to the converter (a union: a new type adapter).
RESULT: Any = CommandResult | None


def test_payload_converters_share_their_pydantic_type_adapters() -> None:
    """Temporal makes a payload converter per workflow run and per serialization context: each
    converts as Temporal's pydantic converter does, and a type adapter built for one (a case's
    input, an update's result) serves them all."""
    first, second = SharedPydanticPayloadConverter(), SharedPydanticPayloadConverter()
    reference = PydanticPayloadConverter()
    value = CommandResult(case=CASE, episode=1, stage=Stage.LA_INVESTIGATION)
    [payload] = first.to_payloads([value])
    assert payload == reference.to_payloads([value])[0]
    assert second.from_payloads([payload], [RESULT]) == [value]
    assert reference.from_payloads([payload], [RESULT]) == [value]
    [json_first] = [c for c in first.converters.values() if c.encoding == "json/plain"]
    [json_second] = [c for c in second.converters.values() if c.encoding == "json/plain"]
    assert json_first is json_second
    hits = json_first._type_adapter.cache_info().hits  # type: ignore[attr-defined]
    assert first.from_payloads([payload], [RESULT]) == [value]
    assert json_first._type_adapter.cache_info().hits == hits + 1  # type: ignore[attr-defined]
