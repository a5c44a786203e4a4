"""My tasks: the open tasks a signed-in person may see and act on, overdue first, then by due date
(tasks with no due date last).

Who gets which (the case's own rules, :mod:`domain.case.rules`, decide what each may then do):

* a **CME officer**: the CME officer's tasks (investigate, authorise deletion, the MASH call on a
  child on no roll), on every case;
* a **team leader**: the team leader's own tasks, and every overdue task of anyone else: an
  overdue task is what the case escalates to the team leader (a MASH call not recorded by the
  end of the next school day, as the spec's escalation to MASH and SAT requires; a CTF past the
  15 school days of the Pupil Information Regulations 2005 reg 9(3), seed appendix 1), so these
  are the escalations to chase (``escalated``);
* a **school's user**: the school's tasks (enquiries, register codes, the MASH call, the CTF) on
  the cases of its own schools only (``case_school``; a school never sees another school's
  task);
* MASH, managers and administrators: none (they change no case).
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import ColumnElement, and_, or_
from sqlmodel import Session, col, select

from activities.register import CaseRow, TaskRow
from domain.case.model import Actor, Role, TaskStatus
from reports._query import CLOSED, aware, visible
from reports._words import STAGE, TASK

__all__ = ["TaskItemPublic", "open_tasks"]


class TaskItemPublic(BaseModel):
    """One open task, as a task list shows it.

    The child's name is shown because the person seeing it may read the case (the same rule as
    the case page, enforced in the query) and must act on it: a school matches the task to the
    pupil in its own records, and an officer at a home visit needs to know whom they are looking
    for; a case reference alone would send each of them to another page to find out. It is the
    name only (not the date of birth, UPN or address), it is on a signed-in page and never in a
    URL or a log, and it is gone once the case is erased (``None``)."""

    model_config = ConfigDict(frozen=True)

    case_ref: str
    episode: int
    task_id: int
    task: str  # the task's code (domain.case.model.TaskName)
    task_label: str
    assignee: str  # the role whose task it is
    due: date | None
    overdue: bool
    escalated: bool  # shown to a team leader because it is overdue
    stage: str
    stage_label: str
    school: str | None  # the school the child is missing from (LAESTAB)
    child_protection: bool
    first_name: str | None
    last_name: str | None
    assigned_officer: str | None
    opened_at: datetime  # when the task was opened

    @property
    def child_name(self) -> str:
        names = [n for n in (self.first_name, self.last_name) if n]
        return " ".join(names) if names else "(erased)"


def open_tasks(*, session: Session, viewer: Actor) -> list[TaskItemPublic]:
    """The open tasks ``viewer`` may see and act on (see the module), overdue first, then by due
    date, tasks without one last; then the oldest first. A task is overdue as its case marks it:
    once its due day has ended (the case's timer fires at local midnight and syncs the register),
    so that this list, the case page and the dashboard always agree."""
    assignee = col(TaskRow.assignee)
    whose: ColumnElement[bool]
    match viewer.role:
        case Role.CME_OFFICER:
            whose = assignee == Role.CME_OFFICER.value
        case Role.TEAM_LEADER:
            whose = or_(assignee == Role.TEAM_LEADER.value, col(TaskRow.overdue).is_(True))
        case Role.SCHOOL:
            whose = assignee == Role.SCHOOL.value
        case _:
            return []
    statement = (
        select(TaskRow, CaseRow)
        .join(
            CaseRow,
            and_(
                col(TaskRow.case_ref) == col(CaseRow.case_ref),
                col(TaskRow.episode) == col(CaseRow.episode),
            ),
        )
        .where(
            col(TaskRow.status) == TaskStatus.OPEN.value,
            col(CaseRow.stage) != CLOSED,
            visible(viewer),
            whose,
        )
    )
    items = [_item(task, case, viewer) for task, case in session.exec(statement)]
    items.sort(
        key=lambda t: (
            not t.overdue,
            t.due is None,
            t.due or date.max,
            t.opened_at,
            t.case_ref,
            t.episode,
            t.task_id,
        )
    )
    return items


def _item(task: TaskRow, case: CaseRow, viewer: Actor) -> TaskItemPublic:
    return TaskItemPublic(
        case_ref=case.case_ref,
        episode=case.episode,
        task_id=task.id,
        task=task.name,
        task_label=TASK.get(task.name, task.name),
        assignee=task.assignee,
        due=task.due,
        overdue=task.overdue,
        escalated=viewer.role is Role.TEAM_LEADER and task.assignee != Role.TEAM_LEADER.value,
        stage=case.stage,
        stage_label=STAGE.get(case.stage, case.stage),
        school=case.school_laestab,
        child_protection=case.child_protection,
        first_name=case.first_name,
        last_name=case.last_name,
        assigned_officer=case.assigned_officer,
        opened_at=aware(task.opened_at),
    )
