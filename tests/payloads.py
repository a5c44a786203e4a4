"""Every :class:`~temporalio.api.common.v1.Payload` in a protobuf message, wherever it is: event
attributes, failures and their causes, memos, headers, search attributes, maps and lists."""

from __future__ import annotations

import json
from collections.abc import Iterator

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowHistory

from security.codec import ENCODING, KEY_ID_METADATA


def payloads_in(message: Message, path: str = "") -> Iterator[tuple[str, Payload]]:
    """(path, payload) for each payload in ``message``, depth first; the path names the fields
    on the way (``workflow_execution_started_event_attributes.input.payloads[0]``)."""
    if isinstance(message, Payload):
        yield path, message
        return
    for field, value in message.ListFields():
        if field.type != FieldDescriptor.TYPE_MESSAGE:
            continue
        here = f"{path}.{field.name}" if path else field.name
        if isinstance(value, Message):
            yield from payloads_in(value, here)
        elif hasattr(value, "items"):  # a map
            for key, item in value.items():
                if isinstance(item, Message):
                    yield from payloads_in(item, f"{here}[{key}]")
        else:  # a list
            for i, item in enumerate(value):
                yield from payloads_in(item, f"{here}[{i}]")


def history_payloads(history: WorkflowHistory) -> Iterator[tuple[str, Payload]]:
    """Every payload of every event, with the event's id and type in its path."""
    for event in history.events:
        yield from payloads_in(event, f"event {event.event_id}")


def is_search_attribute(path: str) -> bool:
    """Search attributes cannot be encrypted (the server indexes them): they hold no personal
    data instead."""
    return "search_attributes" in path


def is_patch_marker(path: str) -> bool:
    """The SDK's own record of a ``workflow.patched`` call (the patch's id): written by the
    worker's core, outside the data converter."""
    return "marker_recorded_event_attributes.details[patch-data]" in path


def is_local_activity_marker(path: str) -> bool:
    """The SDK's own record of a local activity's run (its sequence number, attempt, activity id
    and type, times): written by the worker's core, outside the data converter. The activity's
    result, beside it in the marker (``details[result]``), is encrypted as every result is."""
    return "marker_recorded_event_attributes.details[data]" in path


def encrypted_payloads(history: WorkflowHistory) -> list[tuple[str, Payload]]:
    """The payloads the codec handles (all but search attributes and the SDK's markers)."""
    return [
        (p, x)
        for p, x in history_payloads(history)
        if not is_search_attribute(p) and not is_patch_marker(p) and not is_local_activity_marker(p)
    ]


def key_id(payload: Payload) -> str | None:
    """The key id of an encrypted payload (``None``: not encrypted)."""
    if payload.metadata.get("encoding") != ENCODING:
        return None
    return payload.metadata[KEY_ID_METADATA].decode()


def local_activities(history: WorkflowHistory) -> list[str]:
    """The activity types of a history's local activities (their markers' own plain data)."""
    return [
        json.loads(e.marker_recorded_event_attributes.details["data"].payloads[0].data)[
            "activity_type"
        ]
        for e in history.events
        if e.HasField("marker_recorded_event_attributes")
        and e.marker_recorded_event_attributes.marker_name == "core_local_activity"
    ]


def activity_tasks(history: WorkflowHistory) -> list[str]:
    """The activity types of a history's activity tasks, in the order they were scheduled."""
    return [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
