"""The case page (``/cases/{case_ref}``): one case as a person who may read it needs it: the child,
the stage, the deadlines (each date, and how many school days away on the school's calendar), the
tasks (an open one links to its form, ``/cases/{case_ref}/tasks/{task_id}``, for whoever may do
it), the enquiries, the escalations, the child's earlier episodes, the outcome, and the timeline:
every event of the case's own log, with who did it and when.

**Who sees it.** The rule of :func:`domain.case.rules.can_view`, applied twice: first on the
register (:func:`reports.case.readable_case`, the rule of the lists and of the API), so that a
case the person may not read is never asked for; then on the case's own state, which is the
authority on its schools and its child-protection flag (a case just opened is in the register a
moment after it opens: until then the case alone decides). A school's user asking for another
school's case, MASH for a case that is not a child-protection one, and anyone for a reference
that names no case get the same 404 page: the page never says that a case exists to someone who
may not read it. Administrators manage users and read no case (the 403 page).

**Where it comes from.** The case's state, read from the case itself (the query of
:func:`starter.case_client.case_state`, as ``cme show`` and ``cme history`` read it), since the
register holds no log. An erased case is not asked (its data key is gone): its page says it was
erased, from the register's anonymous facts. A case that does not answer (no worker) is a 503
page that says so, to a person who may read it: one not yet in the register cannot say whose it
is, so a school's user or MASH gets the 404 (a 503 would say that it exists) until it answers.

**Words.** The case's vocabulary is the one ``cme show`` and ``cme history`` use
(:mod:`starter.words`, :func:`starter.history.event_words`) and the reports' labels
(:mod:`reports._words`): the page writes no wording of its own for what a case holds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import TypeAdapter, ValidationError
from sqlmodel import Session
from starlette.exceptions import HTTPException
from starlette.responses import Response

from activities.register import latest_episode
from domain.calendar import CalendarError, SchoolCalendar, human_date
from domain.case import rules
from domain.case.model import Actor, Role, Stage, Task, TaskStatus
from domain.case.state import CaseState
from domain.clock import LONDON, local_date
from domain.enquiries import BY_WORDS
from domain.grounds import RULEBOOK_CITATIONS
from domain.types import CaseRef
from reports import ReadableCase, readable_case
from reports._words import KIND, OUTCOME, ROLE, STAGE, TASK
from starter import case_client
from starter.errors import CaseError, NoSuchCase
from starter.history import event_words
from starter.words import (
    DECISION_WORDS,
    ESCALATION_WORDS,
    actor_words,
    deadline_names,
    episode_words,
    problem_words,
)
from web.auth import actor_of, require_role
from web.case_list import VIEWERS, case_href
from web.context import register_session, web_context
from web.pages import render
from web.sessions import SignedInUser

__all__ = ["CASE_PAGE", "CaseView", "case_view", "may_do", "router", "task_href"]

log = logging.getLogger("cme.web")

CASE_PAGE = "/cases/{case_ref}"
router = APIRouter()
Viewer = Annotated[SignedInUser, Depends(require_role(*VIEWERS))]
Db = Annotated[Session, Depends(register_session)]
_CASE_REF: TypeAdapter[str] = TypeAdapter(CaseRef)

# The forms of web.leader (a team leader's requests on the case itself): path, link text.
LEADER_LINKS = (("withdraw", "Withdraw this case"), ("reassign", "Reassign to another officer"))

STATUS_WORDS = {TaskStatus.OPEN: "Open", TaskStatus.DONE: "Done", TaskStatus.CANCELLED: "Cancelled"}


def task_href(case_ref: str, task_id: int) -> str:
    """The address of a task's form (the task pages are another module's)."""
    return f"{case_href(case_ref)}/tasks/{task_id}"


def may_do(role: Role, task: Task) -> bool:
    """Whether a person in ``role`` may do ``task`` now: an open task of their role, or, for a
    team leader, of a CME officer (a team leader stands in for the officers). The case decides
    in the end; the page only offers the link to those it would hear."""
    if task.status is not TaskStatus.OPEN:
        return False
    return role is task.assignee or (role is Role.TEAM_LEADER and task.assignee is Role.CME_OFFICER)


def sentence(text: str) -> str:
    """``stage now LA investigation`` as ``Stage now LA investigation``."""
    return text[:1].upper() + text[1:]


def moment_words(moment: datetime) -> str:
    """``2 Mar 2026, 09:14``: UK local time."""
    local = moment.astimezone(LONDON)
    return f"{human_date(local.date())}, {local:%H:%M}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def school_days_away(
    calendar: SchoolCalendar | None, today: date, due: date, school: str | None
) -> str | None:
    """How far ``due`` is from ``today`` in school days on the school's calendar (its INSET days
    too): ``today``, ``in 3 school days``, ``2 school days ago``; ``None`` when the calendar cannot
    count them (it never guesses beyond its terms)."""
    if calendar is None:
        return None
    try:
        if due == today:
            return "today"
        if due > today:
            ahead = calendar.count_school_days(today + timedelta(days=1), due, school)
            return f"in {_plural(ahead, 'school day')}"
        behind = calendar.count_school_days(due + timedelta(days=1), today, school)
        return f"{_plural(behind, 'school day')} ago"
    except CalendarError:
        return None


# -- what the page shows ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Dated:
    """A date, and how far it is from today in school days (``None``: not counted)."""

    day: date
    away: str | None

    @property
    def words(self) -> str:
        return human_date(self.day)


@dataclass(frozen=True)
class DeadlineView:
    name: str
    due: Dated


@dataclass(frozen=True)
class TaskView:
    id: int
    name: str
    assignee: str
    status: str
    open: bool
    overdue: bool
    due: Dated | None
    done: str | None  # "by Ms A (school), 2 Mar 2026, 09:14"
    href: str | None  # the task's form, for a viewer who may do it


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    when: str
    who: str
    what: str


@dataclass
class CaseView:
    """The case page's content, in words: made by :func:`case_view` from the case's state."""

    case_ref: str
    episode: int
    child_name: str
    date_of_birth: str
    upn: str | None
    kind: str
    stage: str
    closed: bool
    school: str | None
    child_protection: bool
    overdue: bool
    opened: str
    referred_by: str
    assigned_officer: str | None
    referrals_received: int
    rulebook: str | None
    next_deadline: Dated | None
    deadlines: list[DeadlineView] = field(default_factory=list)
    tasks: list[TaskView] = field(default_factory=list)
    enquiries: list[dict[str, str]] = field(default_factory=list)
    escalations: list[dict[str, str]] = field(default_factory=list)
    information: list[dict[str, str]] = field(default_factory=list)
    earlier_episodes: list[str] = field(default_factory=list)
    outcome: list[dict[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)
    # The case's own requests a team leader makes (web.leader): while it is open.
    leader_actions: list[dict[str, str]] = field(default_factory=list)


def _dated(calendar: SchoolCalendar | None, today: date, day: date, state: CaseState) -> Dated:
    # A closed case's dates are history: no count towards them.
    counted = calendar if state.stage is not Stage.CLOSED else None
    return Dated(day, school_days_away(counted, today, day, state.school_laestab))


def _task(
    task: Task, state: CaseState, viewer: Role, today: date, calendar: SchoolCalendar | None
) -> TaskView:
    done = None
    if task.status is not TaskStatus.OPEN and task.done_at is not None:
        by = f"by {actor_words(task.done_by)}, " if task.done_by is not None else ""
        done = by + moment_words(task.done_at)
    return TaskView(
        id=task.id,
        name=TASK.get(task.name.value, sentence(task.name.value.replace("_", " "))),
        assignee=ROLE.get(task.assignee.value, sentence(task.assignee.value.replace("_", " "))),
        status=STATUS_WORDS[task.status],
        open=task.status is TaskStatus.OPEN,
        overdue=task.overdue and task.status is TaskStatus.OPEN,
        due=_dated(calendar, today, task.due, state) if task.due is not None else None,
        done=done,
        href=task_href(state.case, task.id) if may_do(viewer, task) else None,
    )


def _outcome(state: CaseState) -> list[dict[str, str]]:
    outcome = state.outcome
    if outcome is None:
        return []
    rows = [{"key": "Decision", "value": sentence(DECISION_WORDS[outcome.decision])}]
    if outcome.investigation_outcome is not None:
        value = outcome.investigation_outcome.value
        rows.append({"key": "Investigation outcome", "value": OUTCOME.get(value, value)})
    if outcome.ground:
        title = f" ({outcome.ground_title})" if outcome.ground_title else ""
        rows.append({"key": "Ground", "value": outcome.ground + title})
    if outcome.earliest_deletion_date is not None:
        rows.append(
            {"key": "May be deleted from", "value": human_date(outcome.earliest_deletion_date)}
        )
    if outcome.ctf_destination:
        rows.append({"key": "CTF destination", "value": outcome.ctf_destination})
    if outcome.closure_reason:
        rows.append({"key": "Reason for closing", "value": outcome.closure_reason})
    rows.append(
        {
            "key": "Decided",
            "value": f"by {actor_words(outcome.decided_by)}, {moment_words(outcome.decided_at)}",
        }
    )
    return rows


def case_view(
    state: CaseState, *, viewer: Actor, today: date, calendar: SchoolCalendar | None
) -> CaseView:
    """What the case page shows of ``state`` to ``viewer`` on ``today``, its school days counted
    on ``calendar`` (``None``: dates only)."""
    child = state.child
    names = deadline_names(state)
    deadlines = sorted(
        (
            DeadlineView(sentence(names[name]), _dated(calendar, today, day, state))
            for name in names
            if (day := getattr(state.deadlines, name)) is not None
        ),
        key=lambda d: d.due.day,
    )
    next_deadline = state.next_deadline if state.stage is not Stage.CLOSED else None
    return CaseView(
        case_ref=state.case,
        episode=state.episode,
        child_name=f"{child.first_name} {child.last_name}",
        date_of_birth=human_date(child.date_of_birth),
        upn=child.upn,
        kind=KIND.get(state.kind.value, state.kind.value),
        stage=STAGE.get(state.stage.value, state.stage.value),
        closed=state.stage is Stage.CLOSED,
        school=state.school_laestab,
        child_protection=state.child_protection,
        overdue=state.overdue,
        opened=moment_words(state.opened_at),
        referred_by=actor_words(state.referred_by),
        assigned_officer=state.assigned_officer,
        referrals_received=state.referrals_received,
        rulebook=RULEBOOK_CITATIONS[state.rulebook] if state.rulebook else None,
        next_deadline=(
            _dated(calendar, today, next_deadline, state) if next_deadline is not None else None
        ),
        deadlines=deadlines,
        tasks=[_task(t, state, viewer.role, today, calendar) for t in state.tasks],
        enquiries=[
            {
                "made_on": human_date(q.enquiry.made_on),
                "by": sentence(BY_WORDS[q.enquiry.by]),
                "what": sentence(q.enquiry.words),
                "note": q.enquiry.note,
                "recorded": f"{actor_words(q.recorded_by)}, {moment_words(q.recorded_at)}",
            }
            for q in state.enquiries
        ],
        escalations=[
            {
                "when": moment_words(e.at),
                "kind": sentence(ESCALATION_WORDS.get(e.kind, e.kind.value.replace("_", " "))),
                "reason": e.reason,
                "by": actor_words(e.raised_by),
            }
            for e in state.escalations
        ],
        information=[
            {
                "when": moment_words(i.shared_at),
                "by": actor_words(i.shared_by),
                "what": i.information,
            }
            for i in state.information
        ],
        earlier_episodes=[sentence(episode_words(e)) for e in state.earlier_episodes],
        outcome=_outcome(state),
        problems=[sentence(problem_words(p)) for p in state.open_problems],
        timeline=[
            TimelineEntry(
                at=event.at,
                when=moment_words(event.at),
                who=actor_words(event.by),
                what=sentence(event_words(event, state)),
            )
            for event in state.log
        ],
        leader_actions=(
            [
                {"text": text, "href": f"{case_href(state.case)}/{path}"}
                for path, text in LEADER_LINKS
            ]
            if viewer.role is Role.TEAM_LEADER and state.stage is not Stage.CLOSED
            else []
        ),
    )


# -- the page --------------------------------------------------------------------------------------


def _not_found() -> HTTPException:
    return HTTPException(404)


def _calendar(request: Request) -> SchoolCalendar | None:
    """The LA's calendar, or ``None`` (dates without their school days) when it cannot be read:
    the case is still worth showing."""
    try:
        return web_context(request).settings.calendar
    except (CalendarError, OSError) as exc:
        log.error("the school calendar cannot be read: %s", exc)
        return None


def _erased_page(request: Request, found: ReadableCase) -> Response:
    row = found.row
    erased_at = row.erased_at
    return render(
        request,
        "cases/erased.html",
        {
            "title": f"Case {row.case_ref}",
            "case_ref": row.case_ref,
            "episode": row.episode,
            "kind": KIND.get(row.kind, row.kind),
            "stage": STAGE.get(row.stage, row.stage),
            "school": row.school_laestab,
            "opened": moment_words(row.opened_at),
            "closed": moment_words(row.closed_at) if row.closed_at else None,
            "erased": moment_words(erased_at) if erased_at else None,
        },
    )


@router.get(CASE_PAGE)
async def case_page(request: Request, case_ref: str, user: Viewer, db: Db) -> Response:
    try:
        ref = _CASE_REF.validate_python(case_ref)
    except ValidationError:
        raise _not_found() from None
    viewer = actor_of(user)
    found = readable_case(session=db, viewer=viewer, case_ref=ref)
    if found is None and latest_episode(session=db, case=ref) is not None:
        raise _not_found()  # in the register, and not this person's to read
    if found is not None and found.row.erased_at is not None:
        return _erased_page(request, found)
    web = web_context(request)
    client = await web.temporal.client()
    try:
        state = await case_client.case_state(client, ref, web.settings)
    except NoSuchCase:
        raise _not_found() from None
    except CaseError as exc:
        log.warning("case %s could not be read: %s", ref, exc.message)
        if found is None and not rules.can_view(viewer, schools=(), child_protection=False):
            # Not in the register yet, and the case cannot say whose it is: to a school's user
            # or MASH, "it does not answer" would say that it exists.
            raise _not_found() from None
        return render(
            request,
            "cases/not_answering.html",
            {"title": "The case cannot be shown just now", "reason": exc.reason},
            status_code=503,
        )
    if not rules.can_view(
        viewer, schools=rules.case_schools(state), child_protection=state.child_protection
    ):
        raise _not_found()
    today = local_date(web.clock())
    view = case_view(state, viewer=viewer, today=today, calendar=_calendar(request))
    context: dict[str, Any] = {"title": f"Case {ref}", "case": view, "today": human_date(today)}
    return render(request, "cases/case.html", context)
