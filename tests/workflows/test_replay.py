"""Recorded version-2 case histories (tests/workflows/histories, made with
``CME_RECORD_HISTORIES=1`` from the workflow scenarios) must replay against the current workflow
code: a change that breaks running cases fails here. Re-record only for a new scenario, never to
hide a replay failure. Version-1 histories replay in tests/workflows/v1/test_replay.py.

The histories are encrypted as every case's is (:mod:`security`): the replayer decrypts them with
the data keys recorded beside them (``histories/keys.json``, wrapped with the tests' KEK), and no
payload in them holds a child's name in the clear."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from domain.case.commands import LATEST_REVISION
from security.codec import ENCODING, EnvelopeCodec
from security.converter import data_converter
from tests.payloads import (
    activity_tasks,
    encrypted_payloads,
    history_payloads,
    key_id,
    local_activities,
)
from tests.workflows.conftest import history_files, recorded_key_store
from worker import WORKFLOWS, workflow_runner

HISTORIES = history_files()

# One scenario per path at least, named after the tests that record them.
SCENARIOS = (
    "not-located-deletion-refused",  # not verified: SAT referral, threshold, authorisation
    "each-ctf-destination-kind",  # verified: CTF and authorisation
    "professional-referral",  # not on roll
    "cp-case",  # MASH escalation and the team leader
    "concern-raised-later",  # a concern and a MASH call recorded
    "duplicate",  # a further referral
    "new-episode",  # a repeat episode
    "share-information",  # information shared with SAT
    "reassign",  # a team leader reassigns
    "calendar",  # a deadline past the calendar, the weekly re-read
    "refuses",  # problems: a refused address, a register refusal
    "continues-as-new",  # the run that ends in ContinuedAsNew
    "forbidden-actions",  # who may do what: refusals leave no trace, a team leader reassigns
    "another-schools-pupil-opens-no-case",  # a referral its sender may not make
)
# Scenarios of a path that a revision added, by the revision.
SCENARIOS_SINCE = {
    "register-away": 1,  # a local activity that fails over to an activity task
    "mail-server-away": 3,  # an email's local activity that fails over to an activity task
    # an email's local activity carrying the sync, the register away: the sync tried again
    "email-carries-the-sync": 4,
}

# The synthetic children's names (tests/workflows/harness.py): Testchild Synthetic<hex>.
NAMES = (b"Testchild", b"Synthetic")


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("revision", range(LATEST_REVISION + 1))
def test_histories_are_recorded(revision: int) -> None:
    """Every scenario is recorded at every revision of the workflow (CaseInput.revision)."""
    recorded = [p for p in HISTORIES if p.parent.name == f"revision-{revision}"]
    names = " ".join(p.name for p in recorded)
    wanted = [*SCENARIOS, *(name for name, since in SCENARIOS_SINCE.items() if since <= revision)]
    missing = [scenario for scenario in wanted if scenario not in names]
    assert not missing, f"no recorded history for: {missing}"
    assert any(
        "ContinuedAsNew" in p.read_text(encoding="utf-8") or "CONTINUED_AS_NEW" in p.read_text()
        for p in recorded
    )


def verified_path(revision: int) -> WorkflowHistory:
    """The recorded run of the verified path (a CTF to a school) at ``revision``."""
    [path] = [
        p
        for p in HISTORIES
        if p.parent.name == f"revision-{revision}"
        and "each-ctf-destination-kind-destination0" in p.name
    ]
    return load(path)


def test_a_run_at_revision_1_asks_no_patch_and_runs_the_register_locally() -> None:
    """Revision 1's recorded runs of the verified path: no ``workflow.patched`` marker, and the
    register read and written by local activities (markers), only mail as activity tasks."""
    history = verified_path(1)
    markers = [
        e.marker_recorded_event_attributes.marker_name
        for e in history.events
        if e.HasField("marker_recorded_event_attributes")
    ]
    assert "core_patch" not in markers
    # (the SDK's name for a patch marker, as revision 0's later recordings have them)
    assert any('"core_patch"' in p.read_text() for p in HISTORIES if "revision-0" in str(p))
    assert markers.count("core_local_activity") >= 2  # prepare_case, then a sync at least
    assert activity_tasks(history) == ["deliver_notification"]
    # The same scenario at revision 0: the register's work as activity tasks.
    assert {"prepare_case", "sync_register"} <= set(activity_tasks(verified_path(0)))


def test_a_run_at_revision_2_never_cancels_a_timer() -> None:
    """Revision 2's recorded runs set each timer once and cancel none (a cancellation issued as
    a local activity's result arrives replays wrongly: tests/starter/test_queries_during_sync),
    where revision 1's cancelled and restarted the timer at every wake-up."""
    cancelled = EventType.EVENT_TYPE_TIMER_CANCELED
    started = EventType.EVENT_TYPE_TIMER_STARTED

    def count(revision: int, event_type: int) -> int:
        return sum(
            1
            for p in HISTORIES
            if p.parent.name == f"revision-{revision}"
            for e in load(p).events
            if e.event_type == event_type
        )

    assert count(2, started) > 0
    assert count(2, cancelled) == 0
    assert count(1, cancelled) > 0  # (the same scenarios at revision 1)
    assert count(2, started) < count(1, started)


def test_a_run_at_revision_3_sends_its_mail_as_a_local_activity() -> None:
    """Revision 3's recorded run of the verified path sends its email as a local activity (a
    marker): no activity task at all, and fewer events than revision 2's, which sent it as an
    activity task."""
    now, before = verified_path(3), verified_path(2)
    assert activity_tasks(before) == ["deliver_notification"]
    assert activity_tasks(now) == []
    assert "deliver_notification" in local_activities(now)
    assert "deliver_notification" not in local_activities(before)
    assert len(now.events) < len(before.events)


def test_a_run_at_revision_4_writes_the_register_with_its_email() -> None:
    """Revision 4's recorded run of the verified path writes the register's last sync in the
    email's local activity: one local activity fewer than revision 3's, which wrote it in one of
    its own beside the email's."""
    now, before = verified_path(4), verified_path(3)
    assert local_activities(before).count("sync_register") == 3
    assert local_activities(now).count("sync_register") == 2
    assert "deliver_notification" in local_activities(now)
    assert len(local_activities(now)) == len(local_activities(before)) - 1
    assert activity_tasks(now) == []
    assert len(now.events) < len(before.events)


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_history_replays(path: Path) -> None:
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=data_converter(recorded_key_store()),
        workflow_runner=workflow_runner(),
    )
    await replayer.replay_workflow(load(path))


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_no_payload_is_in_the_clear(path: Path) -> None:
    """Every payload (but search attributes) is encrypted with its case's key, and none holds a
    child's name: the names are found only once decrypted."""
    history = load(path)
    payloads = encrypted_payloads(history)
    assert payloads
    plain = [where for where, p in payloads if p.metadata.get("encoding") != ENCODING]
    assert not plain, f"payloads in the clear: {plain}"
    [case] = {key_id(p) for _, p in payloads}
    assert case is not None and re.fullmatch(r"CME-[0-9A-F]{12}", case), case
    for where, payload in history_payloads(history):
        for name in NAMES:
            assert name not in payload.data, f"{name!r} in the clear at {where}"
    text = path.read_text(encoding="utf-8")
    assert not any(name.decode() in text for name in NAMES)
    # A failure's message and stack trace are in its encrypted attributes.
    assert set(re.findall(r'"message": "([^"]*)"', text)) <= {"Encoded failure"}
    # The control: decrypted, the case's opening names the child.
    decoded = await EnvelopeCodec(recorded_key_store()).decode([p for _, p in payloads])
    assert any(NAMES[0] in p.data for p in decoded)


async def test_without_the_recorded_keys_a_history_cannot_be_replayed() -> None:
    """The control for the replays above: they read the payloads through the keys."""
    store = recorded_key_store()
    store.keys.clear()
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=data_converter(store),
        workflow_runner=workflow_runner(),
    )
    with pytest.raises(Exception, match="PayloadUndecryptable"):
        await replayer.replay_workflow(load(HISTORIES[0]))
