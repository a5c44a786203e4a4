"""What a case asks the world to do, and the contracts of the activities that do it.

The state machine returns effects; the workflow runs each as an activity and feeds the outcome
back as a command (:mod:`domain.case.commands`). These models are shared by the workflow and the
activities, below both.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

from domain.calendar_snapshot import CalendarSnapshot
from domain.case.commands import OpenCase
from domain.case.model import EpisodeSummary
from domain.case.notifications import AnyNotification
from domain.case.register_record import RegisterRecord, register_record
from domain.case.state import CaseState

__all__ = [
    "DeliverNotificationInput",
    "DeliverNotificationResult",
    "Effect",
    "LoadCalendar",
    "LoadCalendarInput",
    "PrepareCaseInput",
    "PrepareCaseResult",
    "SendNotification",
    "StartNextEpisode",
    "SyncCaseInput",
    "SyncCaseResult",
    "SyncRegister",
]


class SendNotification(BaseModel):
    """Deliver the case's queued notification ``purpose`` (its message is in the state)."""

    type: Literal["send_notification"] = "send_notification"
    purpose: str


class SyncRegister(BaseModel):
    """Bring the register up to date with the case's state (one sync covers every change)."""

    type: Literal["sync_register"] = "sync_register"


class LoadCalendar(BaseModel):
    """Read the calendar file again (an LA extended or corrected it)."""

    type: Literal["load_calendar"] = "load_calendar"


class StartNextEpisode(BaseModel):
    """A referral reached a closed episode: it opens the child's next episode, in a new run."""

    type: Literal["start_next_episode"] = "start_next_episode"
    opening: OpenCase


Effect = SendNotification | SyncRegister | LoadCalendar | StartNextEpisode

# -- activity contracts ----------------------------------------------------------------------------


class PrepareCaseInput(BaseModel):
    case: str
    school_laestab: str | None = None


class PrepareCaseResult(BaseModel):
    """What a new episode needs before it opens: the school's calendar and the earlier episodes.
    A part that cannot be had is ``None`` with its problem named (never personal data)."""

    calendar: CalendarSnapshot | None = None
    calendar_problem: str | None = None
    earlier_episodes: list[EpisodeSummary] | None = Field(default_factory=list)
    episodes_problem: str | None = None


class LoadCalendarInput(BaseModel):
    school_laestab: str | None = None


class DeliverNotificationInput(BaseModel):
    notification: AnyNotification
    # A register sync riding along (workflow revision 4): the episode's record, written before
    # the email is sent. Only ever given to a local attempt, never to an activity task, whose
    # retries could write it over a newer one.
    record: RegisterRecord | None = None


class DeliverNotificationResult(BaseModel):
    message_id: str
    already_sent: bool  # sent by an earlier attempt: nothing sent this time
    recipients: list[str]
    # The register's outbox says it was sent (else the register was unreachable: the case's next
    # sync marks it).
    recorded: bool = False
    # With a record to write (DeliverNotificationInput.record): whether the register took it;
    # None without one. Not taken: ``register_refused`` says why if the register refused it for
    # good, else the register was unreachable (the case syncs again the usual way).
    synced: bool | None = None
    register_refused: str | None = None


class SyncCaseInput(BaseModel):
    """What a register sync writes: the episode's :class:`RegisterRecord` (what the register
    holds of it). ``state``, the whole state, is what syncs sent before the record existed: a
    sync scheduled then and still running is written from it."""

    record: RegisterRecord | None = None
    state: CaseState | None = None

    @model_validator(mode="after")
    def _one_of_them(self) -> SyncCaseInput:
        if (self.record is None) == (self.state is None):
            raise ValueError("a sync carries either the episode's record or its state")
        return self

    def register_record(self) -> RegisterRecord:
        if self.record is not None:
            return self.record
        assert self.state is not None
        return register_record(self.state)


class SyncCaseResult(BaseModel):
    case: str
    episode: int
    stage: str
