"""Refer a child: the three referral forms (Pupil Migration LA Return, school CME referral,
professional CME referral) as GOV.UK question pages, for a school's users (the school forms
for their own schools, and the professional form for a child on no roll) and for CME officers
and team leaders (any form: a school's return, a professional's referral taken by phone).

The pages:

* ``/refer``: which form (and, when a school's user acts for several schools and the form is a
  school's, ``/refer/school``: which of their schools);
* ``/refer/<page>``: the form's pages of questions (:mod:`web.refer_questions`), each checked by
  the intake when it is sent (:func:`domain.intake.parse_referral`, with today's date in
  England and the school calendar, as ``cme refer`` does): every problem with a field of the
  page shows in the error summary and at its field, in the intake's words. A problem that needs
  answers from several pages (a date in the future, the child's age on the referral date) shows
  once every page is answered: on the check-your-answers page, linking to the field's page,
  and on that page at its field;
* ``/refer/check``: check your answers; nothing can be sent until the intake finds no problem
  and the case's rule says the signed-in person may send it
  (:func:`domain.case.rules.check_referrer` with :func:`web.auth.actor_of`): else the refusal,
  in the case's words, and nothing is sent;
* ``POST /refer/send``: sends it with :func:`starter.case_client.refer` under the request id
  fixed when the check-your-answers page was drawn (a hidden field, checked against the one kept
  in the session), so that a double submit, or sending again after "not recorded", is the same
  request and is applied once;
* ``/refer/sent``: the confirmation (a GOV.UK panel with the case reference; "this child already
  has an open case — your referral was added to it"; or, when the case did not answer in time,
  that the referral is recorded). When nothing was recorded, the answer to the send says so and
  offers to send the same request again.

**The answers while the person moves between pages** are kept server-side in their session
(the ``web_session`` row of the register, which only the session's cookie opens; see
:mod:`web.sessions`), under ``refer``: the form, the school, each input as typed, the lists'
lengths, the pages answered and the request id. They are never in a URL, a log line or a page
other than the form's own. They are deleted when the referral is sent (or when the person
starts another referral, or cancels), and with the session when it ends (sign-out, 30 idle
minutes, 12 hours); the confirmation keeps only the case reference and the outcome.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import asdict, dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.responses import RedirectResponse, Response

from domain.calendar import CalendarError
from domain.case import Rejected, rules
from domain.case.model import Role
from domain.clock import local_date
from domain.intake import AnyReferral, FieldProblem, ReferralInvalid, parse_referral
from starter import case_client
from starter.cases import case_reference
from starter.errors import (
    CaseError,
    CaseRefused,
    CaseUnavailable,
    NotRecorded,
    RecordedNotAnswered,
)
from starter.words import stage_words
from web.auth import actor_of, form_data, require_role
from web.context import ServiceUnavailable, web_context
from web.forms import FormErrors
from web.pages import Forbidden, Redirect, render
from web.refer_questions import (
    FORMS,
    MAX_INPUT_LENGTH,
    Built,
    Form,
    Section,
    build,
    input_names,
    page_fields,
    problem_words,
    repeats,
    summary,
)
from web.sessions import SignedInUser

__all__ = ["REFERRERS", "router"]

log = logging.getLogger("cme.web.refer")

router = APIRouter(prefix="/refer")

REFERRERS = (Role.SCHOOL, Role.CME_OFFICER, Role.TEAM_LEADER)
Referrer = Annotated[SignedInUser, Depends(require_role(*REFERRERS))]
Posted = Annotated[FormData, Depends(form_data)]

DRAFT = "refer"  # the session's key for the referral being written
SENT = "refer_sent"  # the last referral sent: its case reference and outcome, no personal data

FORM_CHOICES = {
    Role.SCHOOL: {
        "pupil_migration_return": (
            "A pupil has left and you know where they have gone",
            "Pupil Migration LA Return: you are removing the pupil from your roll",
        ),
        "school_cme_referral": (
            "A pupil on your roll is missing and you do not know where they are",
            "School CME referral: the destination is not verified",
        ),
        "professional_cme_referral": (
            "A child who may not be on any school roll",
            "For example, a brother or sister of one of your pupils who has never started school",
        ),
    },
    Role.CME_OFFICER: {
        "pupil_migration_return": (
            "A school's Pupil Migration LA Return",
            "A pupil removed from roll whose destination is known",
        ),
        "school_cme_referral": (
            "A school's CME referral",
            "A pupil on roll is missing and the school does not know where",
        ),
        "professional_cme_referral": (
            "A professional's referral of a child who may not be on any school roll",
            "For example, a referral taken by phone or by email",
        ),
    },
}


def _staff(user: SignedInUser) -> bool:
    """CME officers and team leaders answer every question; a school's user refers for their
    own schools only."""
    return user.role is not Role.SCHOOL


# -- the referral being written, in the session ----------------------------------------------------


@dataclass
class Draft:
    form: str
    school: str | None = None
    values: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    answered: list[str] = field(default_factory=list)
    request_id: str | None = None

    @property
    def spec(self) -> Form:
        return FORMS[self.form]

    @classmethod
    def of(cls, request: Request) -> Draft | None:
        data = request.session.get(DRAFT)
        if not isinstance(data, dict) or data.get("form") not in FORMS:
            return None
        try:
            return cls(**data)
        except TypeError:
            return None

    def save(self, request: Request) -> None:
        request.session[DRAFT] = asdict(self)


def _draft(request: Request, user: SignedInUser) -> Draft:
    """The referral being written; without one, back to the start. A school's form of a school
    user who has not said which school is for: that question first."""
    draft = Draft.of(request)
    if draft is None:
        raise Redirect("/refer")
    if draft.spec.school_form and not _staff(user) and draft.school is None:
        raise Redirect("/refer/school")
    return draft


def _leave(url: str) -> Response:
    return RedirectResponse(url, 303)


# -- checking it -----------------------------------------------------------------------------------


@dataclass
class Checked:
    built: Built
    referral: AnyReferral | None
    problems: list[FieldProblem]


def _check(request: Request, draft: Draft, user: SignedInUser) -> Checked:
    """The referral the answers make, checked by the intake with today's date in England and the
    school calendar (as ``cme refer`` checks it)."""
    web = web_context(request)
    built = build(draft.spec, draft.values, draft.counts, staff=_staff(user), school=draft.school)
    try:
        calendar = web.settings.calendar
    except (CalendarError, OSError) as exc:
        log.error("the school calendar cannot be loaded: %s", exc)
        raise ServiceUnavailable("the school calendar") from None
    try:
        referral = parse_referral(built.data, today=local_date(web.clock()), calendar=calendar)
    except ReferralInvalid as invalid:
        return Checked(built, None, invalid.problems)
    return Checked(built, referral, [])


def _page_errors(checked: Checked, section: str) -> FormErrors:
    errors = FormErrors()
    for problem in checked.problems:
        target = checked.built.target(problem.field)
        if target.section == section:
            errors.add(target.name, problem_words(problem.message, target), id=target.link)
    return errors


class _ErrorsAcrossPages(FormErrors):
    """The error summary of the check-your-answers page: each link goes to its field's page."""

    pages: dict[str, str]

    def __init__(self) -> None:
        super().__init__()
        self.pages = {}

    def summary(self) -> list[dict[str, str]]:
        return [
            {"text": text, "href": f"/refer/{self.pages[name]}#{self.ids.get(name, name)}"}
            for name, text in self.messages.items()
        ]


def _all_errors(checked: Checked) -> _ErrorsAcrossPages:
    errors = _ErrorsAcrossPages()
    for problem in checked.problems:
        target = checked.built.target(problem.field)
        errors.add(target.name, problem_words(problem.message, target), id=target.link)
        errors.pages.setdefault(target.name, target.section)
    return errors


def _refusal(referral: AnyReferral, user: SignedInUser) -> str | None:
    """The case's reason why the signed-in person may not send this referral, if any."""
    try:
        rules.check_referrer(referral, actor_of(user))
    except Rejected as refused:
        return _sentence(refused.message)
    return None


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


# -- choosing the form and the school --------------------------------------------------------------


def _choices(user: SignedInUser) -> list[dict[str, Any]]:
    words = FORM_CHOICES[Role.SCHOOL if user.role is Role.SCHOOL else Role.CME_OFFICER]
    return [
        {"value": name, "text": text, "hint": {"text": hint}}
        for name, (text, hint) in words.items()
    ]


def _start_page(request: Request, user: SignedInUser, errors: FormErrors | None = None) -> Response:
    draft = Draft.of(request)
    return render(
        request,
        "refer/start.html",
        {
            "title": "Refer a child",
            "choices": _choices(user),
            "draft": FORMS[draft.form].title if draft is not None else None,
            "draft_next": _next_page(draft) if draft is not None else None,
            "errors": errors,
        },
        status_code=400 if errors else 200,
    )


@router.get("")
def start(request: Request, user: Referrer) -> Response:
    return _start_page(request, user)


@router.post("")
def choose_form(request: Request, user: Referrer, posted: Posted) -> Response:
    form = str(posted.get("form") or "")
    if form not in FORMS:
        errors = FormErrors()
        errors.add("form", "Select what you are referring", id="form")
        return _start_page(request, user, errors)
    draft = Draft(form=form)
    if FORMS[form].school_form and not _staff(user):
        if len(user.schools) == 1:
            draft.school = user.schools[0]
    elif form == "professional_cme_referral" and not _staff(user):
        # A school's user refers as themselves: their name and email to start with.
        draft.values.update({"referrer-name": user.name, "referrer-email": user.email})
    draft.save(request)
    request.session.pop(SENT, None)
    if draft.spec.school_form and not _staff(user) and draft.school is None:
        return _leave("/refer/school")
    return _leave(f"/refer/{draft.spec.sections[0].slug}")


def _school_page(
    request: Request, user: SignedInUser, draft: Draft, errors: FormErrors | None = None
) -> Response:
    return render(
        request,
        "refer/school.html",
        {
            "title": "Which school is the pupil on roll at?",
            "form_title": draft.spec.title,
            "schools": [
                {"value": s, "text": f"School {s}", "checked": s == draft.school}
                for s in user.schools
            ],
            "errors": errors,
        },
        status_code=400 if errors else 200,
    )


def _school_draft(request: Request, user: SignedInUser) -> Draft:
    draft = Draft.of(request)
    if draft is None:
        raise Redirect("/refer")
    if not draft.spec.school_form or _staff(user):
        raise Redirect(f"/refer/{draft.spec.sections[0].slug}")
    return draft


@router.get("/school")
def school(request: Request, user: Referrer) -> Response:
    draft = _school_draft(request, user)
    return _school_page(request, user, draft)


@router.post("/school")
def choose_school(request: Request, user: Referrer, posted: Posted) -> Response:
    draft = _school_draft(request, user)
    chosen = str(posted.get("school") or "").strip()
    if not chosen:
        errors = FormErrors()
        errors.add("school", "Select the school the pupil is on roll at", id="school")
        return _school_page(request, user, draft, errors)
    try:
        # The page offers only the person's schools; any other is the case's to refuse.
        rules.require_school_access(actor_of(user), (chosen,))
    except Rejected as refused:
        raise Forbidden(_sentence(refused.message), title="You cannot refer this pupil") from None
    if chosen != draft.school:
        draft.school = chosen
        draft.request_id = None
    draft.save(request)
    return _leave(_next_page(draft))


# -- the pages of questions ------------------------------------------------------------------------


def _next_page(draft: Draft, after: str | None = None) -> str:
    """The first page not yet answered (after ``after``), else check your answers."""
    slugs = [s.slug for s in draft.spec.sections]
    start = slugs.index(after) + 1 if after in slugs else 0
    for slug in slugs[start:]:
        if slug not in draft.answered:
            return f"/refer/{slug}"
    for slug in slugs[:start]:
        if slug not in draft.answered:
            return f"/refer/{slug}"
    return "/refer/check"


def _back(draft: Draft, section: Section, user: SignedInUser) -> str:
    slugs = [s.slug for s in draft.spec.sections]
    i = slugs.index(section.slug)
    if i > 0:
        return f"/refer/{slugs[i - 1]}"
    if draft.spec.school_form and not _staff(user) and len(user.schools) > 1:
        return "/refer/school"
    return "/refer"


def _section(draft: Draft, slug: str) -> Section:
    section = draft.spec.section(slug)
    if section is None:
        raise HTTPException(404)
    return section


def _question_page(
    request: Request,
    user: SignedInUser,
    draft: Draft,
    section: Section,
    errors: FormErrors,
    *,
    status_code: int = 200,
) -> Response:
    slugs = [s.slug for s in draft.spec.sections]
    return render(
        request,
        "refer/section.html",
        {
            "title": section.title,
            "form_title": draft.spec.title,
            "section": section,
            "step": slugs.index(section.slug) + 1,
            "steps": len(slugs),
            "school": draft.school if draft.spec.school_form and not _staff(user) else None,
            "fields": page_fields(
                section, draft.values, draft.counts, errors.messages, staff=_staff(user)
            ),
            "back": _back(draft, section, user),
            "errors": errors or None,
        },
        status_code=status_code,
    )


def _remove(draft: Draft, name: str, index: int) -> None:
    """Remove item ``index`` of the list ``name``: the later items move up one."""
    count = max(1, draft.counts.get(name, 1))
    if index >= count or count == 1:
        return

    def of_item(key: str, i: int) -> str | None:
        """``key`` without the item's prefix, if it is item ``i``'s (``""`` for the item)."""
        prefix = f"{name}-{i}"
        if key == prefix:
            return ""
        return key[len(prefix) :] if key.startswith(prefix + "-") else None

    for store in (draft.values, draft.counts):
        moved: dict[str, Any] = {}
        for key in list(store):
            for i in range(index, count):
                rest = of_item(key, i)
                if rest is None:
                    continue
                value = store.pop(key)
                if i > index:
                    moved[f"{name}-{i - 1}{rest}"] = value
                break
        store.update(moved)
    draft.counts[name] = count - 1


# -- check your answers, and sending ---------------------------------------------------------------


@router.get("/check")
def check_answers(request: Request, user: Referrer) -> Response:
    draft = _draft(request, user)
    unanswered = _next_page(draft)
    if unanswered != "/refer/check":
        return _leave(unanswered)
    checked = _check(request, draft, user)
    refusal = _refusal(checked.referral, user) if checked.referral is not None else None
    if checked.referral is not None and refusal is None and draft.request_id is None:
        # Fixed now: sending this page twice, or again after "not recorded", is one request.
        draft.request_id = f"web-referral-{secrets.token_hex(16)}"
        draft.save(request)
    school_row = None
    if draft.spec.school_form and not _staff(user):
        school_row = {
            "school": draft.school,
            "change": len(user.schools) > 1,
        }
    return render(
        request,
        "refer/check.html",
        {
            "title": "Check your answers before sending the referral",
            "form_title": draft.spec.title,
            "pages": summary(draft.spec, draft.values, draft.counts, staff=_staff(user)),
            "school": school_row,
            "refusal": refusal,
            "request_id": draft.request_id if checked.referral is not None else None,
            "back": f"/refer/{draft.spec.sections[-1].slug}",
            "errors": _all_errors(checked) if checked.problems else None,
        },
    )


def _sent_outcome(referred: case_client.Referred, draft: Draft) -> dict[str, Any]:
    result = referred.result
    outcome: dict[str, Any] = {
        "request_id": referred.request_id,
        "case": referred.case,
        "form": draft.form,
    }
    if result is None:
        outcome.update(outcome="recorded", opened_earlier=referred.opened_earlier)
    else:
        outcome.update(
            outcome="existing" if result.existing else "opened",
            duplicate=result.duplicate_request,
            episode=result.episode,
            stage=stage_words(result.stage),
            referrals_received=result.referrals_received,
        )
    return outcome


def _not_recorded_page(request: Request, reason: str, request_id: str, *, title: str) -> Response:
    return render(
        request,
        "refer/not_recorded.html",
        {"title": title, "reason": reason, "request_id": request_id},
        status_code=503,
    )


@router.post("/send")
async def send(request: Request, user: Referrer, posted: Posted) -> Response:
    sent_id = str(posted.get("request_id") or "")
    draft = Draft.of(request)
    earlier = request.session.get(SENT)
    if draft is None:
        if isinstance(earlier, dict) and sent_id and earlier.get("request_id") == sent_id:
            return _leave("/refer/sent")  # sent already: its answer again, nothing sent
        return _leave("/refer")
    if draft.request_id is None or sent_id != draft.request_id:
        # The answers changed since this page was drawn (in another tab, say): check again.
        return _leave("/refer/check")
    checked = _check(request, draft, user)
    if checked.referral is None:
        return _leave("/refer/check")
    refusal = _refusal(checked.referral, user)
    if refusal is not None:
        raise Forbidden(refusal, title="You cannot send this referral")
    web = web_context(request)
    client = await web.temporal.client()
    actor = actor_of(user)
    try:
        referred = await case_client.refer(
            client, web.settings, checked.referral, actor, request_id=draft.request_id
        )
    except NotRecorded as exc:
        log.warning("referral %s not recorded: the case did not take it", draft.request_id)
        return _not_recorded_page(
            request, exc.reason, draft.request_id, title="Your referral has not been recorded"
        )
    except CaseUnavailable as exc:
        log.warning("referral %s not sent: the case service did not answer", draft.request_id)
        return _not_recorded_page(
            request, exc.reason, draft.request_id, title="Your referral has not been sent"
        )
    except RecordedNotAnswered:
        referred = case_client.Referred(
            case=case_reference(checked.referral, web.settings.case_key_secret.get_secret_value()),
            request_id=draft.request_id,
            result=None,
        )
    except CaseRefused as exc:
        raise Forbidden(_sentence(exc.reason), title="The case refused this referral") from None
    except CaseError as exc:
        log.error("referral %s failed: %s", draft.request_id, exc.message)
        return render(
            request,
            "refer/not_recorded.html",
            {
                "title": "Your referral could not be sent",
                "reason": exc.reason,
                "request_id": draft.request_id,
            },
            status_code=500,
        )
    outcome = _sent_outcome(referred, draft)
    log.info(
        "referral %s sent: case %s, %s", referred.request_id, referred.case, outcome["outcome"]
    )
    request.session.pop(DRAFT, None)  # the answers go once the case has them
    request.session[SENT] = outcome
    return _leave("/refer/sent")


@router.get("/sent")
def sent(request: Request, user: Referrer) -> Response:
    outcome = request.session.get(SENT)
    if not isinstance(outcome, dict):
        return _leave("/refer")
    titles = {
        "opened": "Referral sent",
        "existing": "Referral added to the child's open case",
        "recorded": "Your referral is recorded",
    }
    return render(
        request,
        "refer/sent.html",
        {"title": titles[outcome["outcome"]], "sent": outcome},
    )


@router.post("/cancel")
def cancel(request: Request, user: Referrer) -> Response:
    request.session.pop(DRAFT, None)
    return _leave("/refer")


# -- the pages of questions (routed last: /refer/check and the rest are not pages) ---------


@router.get("/{slug}")
def question_page(request: Request, slug: str, user: Referrer) -> Response:
    draft = _draft(request, user)
    section = _section(draft, slug)
    # A page answered before shows what is still wrong with it (coming back from the
    # check-your-answers page, say).
    errors = (
        _page_errors(_check(request, draft, user), slug) if slug in draft.answered else FormErrors()
    )
    return _question_page(request, user, draft, section, errors)


@router.post("/{slug}")
def answer_page(request: Request, slug: str, user: Referrer, posted: Posted) -> Response:
    draft = _draft(request, user)
    section = _section(draft, slug)
    staff = _staff(user)
    names = input_names(section, draft.counts, staff=staff)
    typed = {}
    for name in names:
        value = posted.get(name)
        typed[name] = value[:MAX_INPUT_LENGTH] if isinstance(value, str) else ""
    if any(draft.values.get(name, "") != value for name, value in typed.items()):
        draft.request_id = None  # other answers: another request
    draft.values.update(typed)
    action = str(posted.get("action") or "continue")
    verb, _, target = action.partition(":")
    lists = repeats(section, draft.counts)
    if verb == "add" and target in lists:
        draft.counts[target] = min(draft.counts.get(target, 1) + 1, lists[target].maximum)
        draft.request_id = None
        draft.save(request)
        return _leave(f"/refer/{slug}#{target}-{draft.counts[target] - 1}")
    if verb == "remove":
        name, _, index = target.rpartition("-")
        if name in lists and index.isdigit():
            _remove(draft, name, int(index))
            draft.request_id = None
            draft.save(request)
            return _leave(f"/refer/{slug}#{name}")
    if slug not in draft.answered:
        draft.answered.append(slug)
    draft.save(request)
    errors = _page_errors(_check(request, draft, user), slug)
    if errors:
        return _question_page(request, user, draft, section, errors, status_code=400)
    return _leave(_next_page(draft, after=slug))
