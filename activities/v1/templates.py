"""The wording of every email the service sends: plain, readable English for professionals.

Rules every template keeps:

* the subject is always ``[CME <case reference>] ...`` and never names the child (subjects travel
  through mail logs, previews and notifications); it may carry dates and codes;
* the body may name the pupil: it goes to professionals (MASH, the School Attendance Team, the
  school, another LA, the referrer) who need it to act;
* each template has required fields and optional ones. A required field that is missing or blank
  raises :class:`TemplateFieldMissing`; an optional one that is missing or blank leaves its line
  out. Fields the template does not use are ignored.

Field values are strings the workflow has already formatted (dates as ``7 Nov 2025``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from activities.v1.models import Template


class TemplateFieldMissing(ValueError):
    """A required field of a template was not given (or was blank)."""

    def __init__(self, template: Template, missing: list[str]) -> None:
        self.template = template
        self.missing = missing
        super().__init__(
            f"template {template.value} needs the field(s) {', '.join(missing)}: not given"
        )


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


class _Fields:
    """The fields of one message: ``f["pupil"]`` for a required field, ``f.get(...)`` else."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = {k: v.strip() for k, v in values.items() if v and v.strip()}

    def __getitem__(self, name: str) -> str:
        return self._values[name]

    def get(self, name: str) -> str | None:
        return self._values.get(name)

    def line(self, label: str, name: str) -> str | None:
        value = self.get(name)
        return f"{label}: {value}" if value is not None else None


_Body = Callable[[_Fields], list[str | None]]


@dataclass(frozen=True)
class _Spec:
    required: tuple[str, ...]
    subject: Callable[[_Fields], str]
    body: _Body


def _mash_escalation(f: _Fields) -> list[str | None]:
    return [
        "To MASH and the School Attendance Team,",
        "",
        "A child missing education has a Child Protection Plan, or a safeguarding concern has been "
        "raised. Under the children missing education process MASH is told at once: this does "
        "not wait for school day 10.",
        "",
        f.line("Pupil", "pupil"),
        f.line("School (LAESTAB)", "school_laestab"),
        f.line("Reason", "reason"),
        f.line("MASH call to be recorded on the case by the end of", "mash_call_due"),
        "",
        "If no call to MASH is recorded on the case by then, the SAT team leader is told.",
    ]


def _mash_call_overdue(f: _Fields) -> list[str | None]:
    return [
        "To the SAT team leader,",
        "",
        f"No phone call to MASH has been recorded on this case by the end of "
        f"{f['mash_call_due']}. The child has a Child Protection Plan or a safeguarding concern.",
        "",
        f.line("Pupil", "pupil"),
        f.line("School (LAESTAB)", "school_laestab"),
        "",
        "Please make sure MASH has been phoned and that the call is recorded on the case.",
    ]


def _sat_referral(f: _Fields) -> list[str | None]:
    enquiries = f.get("enquiries")
    return [
        "To the School Attendance Team,",
        "",
        f"The school has had no contact with the family by the end of school day 10 "
        f"({f['day10']}), counting {f['day1']} as day 1. The case is now referred to you for a "
        "CME officer to investigate. The child stays on the school's roll throughout.",
        "",
        f.line("Pupil", "pupil"),
        f.line("School (LAESTAB)", "school_laestab"),
        f.line("Day 1 of absence", "day1"),
        f.line("School day 10", "day10"),
        "",
        "Enquiries recorded so far:",
        enquiries if enquiries is not None else "none recorded",
    ]


def _not_on_roll_referral(f: _Fields) -> list[str | None]:
    return [
        "To the School Attendance Team,",
        "",
        "A professional has referred a child of compulsory school age who may not be on any "
        "school roll.",
        "",
        f.line("Child", "pupil"),
        f.line("Referred by", "referrer"),
        "",
        "A CME officer needs to make enquiries (including whether a school place was offered and "
        "not taken up) and record them on the case.",
    ]


def _information_shared(f: _Fields) -> list[str | None]:
    return [
        "To the School Attendance Team,",
        "",
        f"New information has been shared on the case of {f['pupil']}.",
        "",
        f.line("Shared by", "shared_by"),
        "",
        f["information"],
    ]


def _threshold_reached(f: _Fields) -> list[str | None]:
    return [
        "To the School Attendance Team,",
        "",
        "The school-day threshold for deletion on the ground below has been reached, and the "
        "school's and the LA's enquiries have not found the child.",
        "",
        f.line("Pupil", "pupil"),
        f.line("School (LAESTAB)", "school_laestab"),
        f.line("Ground", "ground"),
        f.line("Threshold", "threshold"),
        "",
        "The pupil stays on the school's roll until a CME officer concludes the case and the "
        "outcome is sent to the school in writing. Deletion is never backdated.",
    ]


def _ctf_overdue(f: _Fields) -> list[str | None]:
    return [
        "To the school and the School Attendance Team,",
        "",
        f"The Common Transfer File (CTF) for the pupil below was due by {f['ctf_due']} "
        "(15 school days after the pupil left) and has not been confirmed as sent.",
        "",
        f.line("Pupil", "pupil"),
        f.line("School (LAESTAB)", "school_laestab"),
        f.line("CTF destination code", "ctf_destination"),
        "",
        "Please send the CTF to that destination and confirm it on the case.",
    ]


def _outcome_to_school(f: _Fields) -> list[str | None]:
    ctf = f.get("ctf_destination") is not None or f.get("ctf_due") is not None
    return [
        "Dear attendance lead,",
        "",
        "This is the written outcome of the children missing education case of the pupil below.",
        "",
        f.line("Pupil", "pupil"),
        f.line("School (LAESTAB)", "school_laestab"),
        f.line("Outcome", "outcome"),
        f.line("Ground for deletion", "ground"),
        f.line("Which is", "ground_title"),
        f.line("The same ground under the other regulations", "ground_other_rulebook"),
        "",
        f"You may delete the pupil from your admission register on this ground from "
        f"{f['earliest_deletion_date']}. Do not delete before that date: deletion is never "
        "backdated.",
        "",
        "Common Transfer File (CTF):" if ctf else None,
        f.line("Destination code", "ctf_destination"),
        f.line("Send it by", "ctf_due"),
        "" if ctf else None,
        f.line("Decided by", "decided_by"),
    ]


def _closure_to_school(f: _Fields) -> list[str | None]:
    return [
        "Dear attendance lead,",
        "",
        "The children missing education case of the pupil below is closed without deletion: the "
        "pupil must not be deleted from your admission register because of this case.",
        "",
        f.line("Pupil", "pupil"),
        f.line("School (LAESTAB)", "school_laestab"),
        f.line("Outcome", "outcome"),
        f.line("Reason", "reason"),
        f.line("Decided by", "decided_by"),
    ]


def _closure_decision(f: _Fields) -> list[str | None]:
    return [
        "To the School Attendance Team and the referrer,",
        "",
        "The referral of a child who may not have been on a school roll is closed.",
        "",
        f.line("Child", "pupil"),
        f.line("Outcome", "outcome"),
        f.line("Reason", "reason"),
        f.line("Decided by", "decided_by"),
    ]


def _other_la_notice(f: _Fields) -> list[str | None]:
    return [
        f"Dear colleagues at {f['other_la']}," if f.get("other_la") else "Dear colleagues,",
        "",
        "Our enquiries show that the child below has moved to your area. We are telling you so "
        "that you can make sure the child receives a suitable education there.",
        "",
        f.line("Child", "pupil"),
        f.line("Last school (LAESTAB)", "school_laestab"),
        "",
        "Please contact our School Attendance Team, quoting the case reference, if you need more "
        "information.",
    ]


def _calendar_ends(f: _Fields) -> list[str | None]:
    return [
        "To the SAT team leader,",
        "",
        f"A deadline on this case ({f['deadline']}) lies past the end of the configured school "
        "calendar, so it cannot be counted in school days. The service does not guess: the "
        "deadline is not counted until the calendar covers it.",
        "",
        f.line("Problem", "problem"),
        "",
        "Please add the next school year's term dates to the calendar file; running cases read "
        "the corrected file the next time they count school days.",
    ]


_SPECS: dict[Template, _Spec] = {
    Template.MASH_ESCALATION: _Spec(
        ("pupil", "reason", "mash_call_due"),
        lambda f: "Safeguarding: child missing education referred to MASH",
        _mash_escalation,
    ),
    Template.MASH_CALL_OVERDUE: _Spec(
        ("pupil", "mash_call_due"),
        lambda f: f"MASH call not recorded by {f['mash_call_due']}",
        _mash_call_overdue,
    ),
    Template.SAT_REFERRAL: _Spec(
        ("pupil", "school_laestab", "day1", "day10"),
        lambda f: (
            f"Referred to the School Attendance Team: no contact by school day 10 ({f['day10']})"
        ),
        _sat_referral,
    ),
    Template.NOT_ON_ROLL_REFERRAL: _Spec(
        ("pupil", "referrer"),
        lambda f: "New referral: child who may not be on a school roll",
        _not_on_roll_referral,
    ),
    Template.INFORMATION_SHARED: _Spec(
        ("pupil", "shared_by", "information"),
        lambda f: "New information shared on the case",
        _information_shared,
    ),
    Template.THRESHOLD_REACHED: _Spec(
        ("pupil", "school_laestab", "threshold", "ground"),
        lambda f: f"Deletion threshold reached: ground {f['ground']}",
        _threshold_reached,
    ),
    Template.CTF_OVERDUE: _Spec(
        ("pupil", "school_laestab", "ctf_due", "ctf_destination"),
        lambda f: f"Common Transfer File overdue (due {f['ctf_due']})",
        _ctf_overdue,
    ),
    Template.OUTCOME_TO_SCHOOL: _Spec(
        (
            "pupil",
            "school_laestab",
            "outcome",
            "ground",
            "ground_title",
            "earliest_deletion_date",
            "decided_by",
        ),
        lambda f: (
            f"Written outcome: deletion on ground {f['ground']} from {f['earliest_deletion_date']}"
        ),
        _outcome_to_school,
    ),
    Template.CLOSURE_TO_SCHOOL: _Spec(
        ("pupil", "school_laestab", "outcome", "reason", "decided_by"),
        lambda f: "Written outcome: case closed, no deletion",
        _closure_to_school,
    ),
    Template.CLOSURE_DECISION: _Spec(
        ("pupil", "outcome", "reason", "decided_by"),
        lambda f: "Closure decision on a referral of a child not on roll",
        _closure_decision,
    ),
    Template.OTHER_LA_NOTICE: _Spec(
        ("pupil",),
        lambda f: "Child missing education who has moved to your area",
        _other_la_notice,
    ),
    Template.CALENDAR_ENDS: _Spec(
        ("deadline", "problem"),
        lambda f: f"Deadline {f['deadline']} lies past the school calendar",
        _calendar_ends,
    ),
}


def required_fields(template: Template) -> tuple[str, ...]:
    return _SPECS[template].required


def _one_line(text: str) -> str:
    return " ".join(text.split())


def render(template: Template, *, case: str, fields: Mapping[str, str], la_name: str) -> Rendered:
    """Subject and body of ``template`` for ``case``; raises :class:`TemplateFieldMissing`."""
    spec = _SPECS[template]
    f = _Fields(fields)
    missing = [name for name in spec.required if f.get(name) is None]
    if missing:
        raise TemplateFieldMissing(template, missing)
    subject = _one_line(f"[CME {case}] {spec.subject(f)}")
    lines = [line for line in spec.body(f) if line is not None]
    lines += [
        "",
        f"Case reference: {case} (please quote it in any reply)",
        "",
        "--",
        f"{la_name} School Attendance Team: children missing education",
    ]
    return Rendered(subject=subject, body="\n".join(lines) + "\n")
