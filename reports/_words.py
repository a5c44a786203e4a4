"""The reports' words for the case's codes (stages, kinds, tasks, outcomes), and the CSV writer
they share."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from domain.case.model import CaseKind, InvestigationOutcome, Role, Stage, TaskName

__all__ = ["KIND", "OUTCOME", "ROLE", "STAGE", "TASK", "csv_text"]

STAGE = {
    Stage.SCHOOL_ENQUIRIES.value: "School enquiries",
    Stage.LA_INVESTIGATION.value: "LA investigation",
    Stage.AWAITING_DELETION_AUTHORISATION.value: "Awaiting deletion authorisation",
    Stage.AWAITING_CTF.value: "Awaiting CTF",
    Stage.CLOSED.value: "Closed",
}
KIND = {
    CaseKind.DESTINATION_NOT_VERIFIED.value: "Missing pupil (destination not verified)",
    CaseKind.DESTINATION_VERIFIED.value: "Pupil Migration LA Return (destination verified)",
    CaseKind.NOT_ON_ROLL.value: "Child on no school roll",
}
TASK = {
    TaskName.SCHOOL_ENQUIRIES.value: "Make the school's enquiries",
    TaskName.CONFIRM_REGISTER_CODES.value: "Confirm the register codes",
    TaskName.PHONE_MASH.value: "Phone MASH",
    TaskName.INVESTIGATE.value: "Investigate",
    TaskName.AUTHORISE_DELETION.value: "Authorise deletion",
    TaskName.SEND_CTF.value: "Send the CTF",
}
ROLE = {
    Role.SCHOOL.value: "School",
    Role.CME_OFFICER.value: "CME officer",
    Role.TEAM_LEADER.value: "Team leader",
}
OUTCOME = {
    InvestigationOutcome.LOCATED_BACK_AT_SCHOOL.value: "Located, back at school",
    InvestigationOutcome.ON_ROLL_ELSEWHERE.value: "On roll at another school",
    InvestigationOutcome.MOVED_AWAY.value: "Moved away",
    InvestigationOutcome.HOME_EDUCATED.value: "Home educated",
    InvestigationOutcome.NOT_LOCATED.value: "Not located",
    InvestigationOutcome.PLACED_ON_ROLL.value: "Placed on a school roll",
    InvestigationOutcome.LEFT_AREA.value: "Left the area",
}

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    if isinstance(value, str) and text.startswith(_FORMULA_STARTS):
        return "'" + text
    return text


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """RFC 4180 CSV (CRLF line ends, quoted where needed); a text cell a spreadsheet would run as
    a formula is prefixed with ``'``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return out.getvalue()
