"""The words of every email: the notification's model rendered with its Jinja2 template.

One template per notification ``kind`` in ``activities/templates/`` (``<kind>.txt``), each
extending ``_layout.txt`` and defining two blocks: ``subject`` and ``body``. The template gets
the model as ``m`` and the LA's name as ``la_name``; undefined names fail (``StrictUndefined``),
nothing is HTML-escaped (plain text).

Filters turn values into words, never codes:

* ``date``: ``7 Nov 2025`` (:func:`domain.calendar.human_date`);
* ``enquiry``: ``phone call to the primary contact: no contact`` (kind and outcome), and
  ``enquiry_kind``, ``enquiry_outcome``;
* ``role``, ``caller`` (whose duty: ``the school``), ``actor`` (``Sam Officer (CME officer)``);
* ``outcome`` (investigation outcomes), ``decision``, ``case_kind``, ``stage``, ``problem_kind``,
  ``deadline``, ``purpose`` (what an email was), ``rulebook`` (the regulations' citation),
  ``ctf`` (a CTF destination code with what it means), ``address``, ``yes_no``.

Rules every template keeps: the subject starts ``CME case <ref>: `` and never names the child
(subjects travel through mail logs, previews and notifications); the body may name the child, for
professionals who must act on it; every body ends with the case reference to quote and the LA's
School Attendance Team signature (``_layout.txt``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from domain.calendar import human_date
from domain.case.model import Actor
from domain.case.notifications import NotificationBase
from domain.clock import local_date
from domain.ctf import LOST_PUPIL_DATABASE, SCOTLAND_OR_INDEPENDENT, SERVICE_CHILDREN_LA
from domain.enquiries import BY_WORDS, KIND_WORDS, OUTCOME_WORDS, Enquiry
from domain.grounds import RULEBOOK_TITLES, Rulebook
from domain.intake import Address

__all__ = ["KINDS", "Rendered", "render_notification", "subject_prefix"]

KINDS = (
    "mash_escalation",
    "mash_call_overdue",
    "sat_referral",
    "not_on_roll_referral",
    "information_shared",
    "threshold_reached",
    "ctf_overdue",
    "outcome_to_school",
    "closure_to_school",
    "closure_decision",
    "other_la_notice",
    "calendar_ends",
    "problem_report",
)


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


# -- words for codes -------------------------------------------------------------------------------

ENQUIRY_KINDS = {kind.value: words for kind, words in KIND_WORDS.items()}
ENQUIRY_OUTCOMES = {outcome.value: words for outcome, words in OUTCOME_WORDS.items()}
ENQUIRY_BY = {by.value: words for by, words in BY_WORDS.items()}
ROLES = {
    "school": "school",
    "professional": "professional",
    "cme_officer": "CME officer",
    "team_leader": "SAT team leader",
    "service": "CME service",
}
CALLERS = {
    "school": "the school",
    "professional": "the referring professional",
    "cme_officer": "the CME officer",
    "team_leader": "the SAT team leader",
    "service": "the CME service",
}
OUTCOMES = {
    "located_back_at_school": "located: the child is back at school",
    "on_roll_elsewhere": "on roll at another school",
    "moved_away": "moved beyond a reasonable distance (another LA or abroad)",
    "home_educated": "home educated (the parent's written notice received)",
    "not_located": "not located after the school's and the LA's enquiries",
    "placed_on_roll": "placed on a school roll",
    "left_area": "left the area",
}
DECISIONS = {
    "deletion_authorised": "deletion authorised",
    "closed": "closed with no deletion",
}
CASE_KINDS = {
    "destination_verified": "destination verified (Pupil Migration LA Return)",
    "destination_not_verified": "destination not verified (the school's CME referral)",
    "not_on_roll": "child who may not be on a school roll (a professional's referral)",
}
STAGES = {
    "school_enquiries": "the school's enquiries (up to school day 10)",
    "la_investigation": "the LA's investigation (CME officer)",
    "awaiting_deletion_authorisation": "investigation concluded, awaiting deletion authorisation",
    "awaiting_ctf": "awaiting the CTF and the deletion authorisation",
    "closed": "closed",
}
PROBLEM_KINDS = {
    "notification_undeliverable": "an email could not be delivered",
    "register_rejected": "the case register refused the case's data",
    "calendar_unusable": "the school calendar cannot be used",
    "calendar_ends": "a deadline lies past the school calendar",
    "episodes_unknown": "the child's earlier episodes could not be read",
    "internal_error": "the service could not process a step of the case",
}
DEADLINES = {
    "calendar": "the school calendar",
    "day1": "day 1 of absence",
    "sat_referral": "school day 10",
    "threshold_day": "the absence threshold day",
    "deletion_permitted_from": "the first day deletion is permitted",
    "ctf": "the CTF due date",
    "mash_call": "the MASH call due date",
}
EMAILS = {
    "mash_escalation": "the safeguarding referral to MASH",
    "mash_call_overdue": "the overdue MASH call notice",
    "sat_referral": "the referral to the School Attendance Team",
    "not_on_roll_referral": "the new referral of a child who may not be on a school roll",
    "information_shared": "the new information notice",
    "threshold_reached": "the absence threshold notice",
    "ctf_overdue": "the overdue CTF reminder",
    "outcome_to_school": "the written outcome to the school",
    "closure": "the closure notice",
    "closure_to_school": "the closure notice to the school",
    "closure_decision": "the closure decision",
    "other_la_notice": "the notice to the other LA",
    "calendar_problem": "the calendar notice",
    "problem_report": "a problem report",
}


def _code(value: object) -> str:
    return str(getattr(value, "value", value))


def _lookup(table: dict[str, str]) -> Any:
    def words(value: object) -> str:
        code = _code(value)
        return table.get(code, code.replace("_", " "))

    return words


def _date(value: date | datetime | None) -> str:
    """A date, or a moment's date in England."""
    if value is None:
        return "not known"
    if isinstance(value, datetime):
        value = local_date(value if value.tzinfo is not None else value.replace(tzinfo=UTC))
    return human_date(value)


def _enquiry(enquiry: Enquiry) -> str:
    kind = ENQUIRY_KINDS.get(_code(enquiry.kind), _code(enquiry.kind))
    outcome = ENQUIRY_OUTCOMES.get(_code(enquiry.outcome), _code(enquiry.outcome))
    return f"{kind}: {outcome}"


def _actor(actor: Actor) -> str:
    return f"{actor.name} ({ROLES.get(_code(actor.role), _code(actor.role))})"


SUBJECTS = {
    "register": "the case register's copy of the case",
    "processing": "processing a step of the case",
    "earlier episodes": "reading the child's earlier episodes from the case register",
}


def _purpose(subject: str) -> str:
    """What a problem is about: an email (by its purpose), a deadline, the register."""
    kind, _, _number = subject.partition(":")
    what = EMAILS.get(kind)
    if what is not None:
        return what
    return SUBJECTS.get(subject) or DEADLINES.get(subject, subject.replace("_", " "))


def _rulebook(rulebook: Rulebook | str) -> str:
    return RULEBOOK_TITLES.get(Rulebook(_code(rulebook)), _code(rulebook))


def _other_rulebook(rulebook: Rulebook | str) -> str:
    return "2006" if _code(rulebook) == Rulebook.REGS_2024.value else "2024"


def _ctf(code: str) -> str:
    if code == LOST_PUPIL_DATABASE:
        return f"{code} (the Lost Pupil Database: destination unknown or outside the system)"
    if code == SCOTLAND_OR_INDEPENDENT:
        return f"{code} (Scotland or an independent school)"
    if code.startswith(SERVICE_CHILDREN_LA):
        school = "school not yet known" if code.endswith("LLLL") else "school " + code[3:]
        return f"{code} (Service Children's Education, {school})"
    return f"{code} (the school with LAESTAB {code})"


def _address(address: Address) -> str:
    parts = [*address.lines]
    if address.postcode:
        parts.append(address.postcode)
    if not address.in_uk:
        parts.append(address.country)
    return ", ".join(parts)


def _yes_no(value: bool | None) -> str:
    if value is None:
        return "not known"
    return "yes" if value else "no"


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("activities", "templates"),
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        date=_date,
        enquiry=_enquiry,
        enquiry_kind=_lookup(ENQUIRY_KINDS),
        enquiry_outcome=_lookup(ENQUIRY_OUTCOMES),
        enquiry_by=_lookup(ENQUIRY_BY),
        role=_lookup(ROLES),
        caller=_lookup(CALLERS),
        actor=_actor,
        outcome=_lookup(OUTCOMES),
        decision=_lookup(DECISIONS),
        case_kind=_lookup(CASE_KINDS),
        stage=_lookup(STAGES),
        problem_kind=_lookup(PROBLEM_KINDS),
        deadline=_lookup(DEADLINES),
        purpose=_purpose,
        rulebook=_rulebook,
        other_rulebook=_other_rulebook,
        ctf=_ctf,
        address=_address,
        yes_no=_yes_no,
    )
    return env


_ENV = _environment()
_BLANK_RUNS = re.compile(r"\n{3,}")


def subject_prefix(case: str) -> str:
    return f"CME case {case}: "


def render_notification(
    message: NotificationBase, *, la_name: str, school_email: str | None = None
) -> Rendered:
    """Subject and body of ``message``, from the template of its kind. ``school_email``, the
    school's attendance address, is how professionals reach a referring school."""
    kind = str(getattr(message, "kind", ""))
    template = _ENV.get_template(f"{kind}.txt")
    values = {"m": message, "la_name": la_name, "school_email": school_email}
    subject = " ".join("".join(template.blocks["subject"](template.new_context(values))).split())
    if not subject.startswith(subject_prefix(message.case)):
        raise ValueError(f"template {kind}: the subject must start with the case reference")
    lines = [line.rstrip() for line in template.render(values).splitlines()]
    body = _BLANK_RUNS.sub("\n\n", "\n".join(lines).strip("\n")) + "\n"
    return Rendered(subject=subject, body=body)
