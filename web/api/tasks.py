"""``GET /api/v1/tasks``: the client's open tasks (:func:`reports.open_tasks`, overdue first, then
by due date): a CME officer's, a team leader's (its own and every overdue one), a school's (on its
own schools' cases only). MASH and managers have no tasks: 403."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlmodel import Session

from domain.case.model import Role
from reports import TaskItemPublic, open_tasks
from web.api.auth import ApiCaller, require_client_role
from web.api.problems import problem_responses
from web.context import register_session

__all__ = ["TaskList", "router"]

router = APIRouter(tags=["tasks"])
WithTasks = Annotated[
    ApiCaller, Depends(require_client_role(Role.SCHOOL, Role.CME_OFFICER, Role.TEAM_LEADER))
]


class TaskList(BaseModel):
    items: list[TaskItemPublic]


@router.get(
    "/tasks",
    response_model=TaskList,
    summary="This client's open tasks",
    responses=problem_responses(401, 403, 422, 429),
)
def tasks(caller: WithTasks, db: Annotated[Session, Depends(register_session)]) -> TaskList:
    return TaskList(items=open_tasks(session=db, viewer=caller.actor))
