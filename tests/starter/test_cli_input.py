"""The `cme` command on hostile input: one line and exit 2, never a traceback, before anything is
sent (no Temporal server is needed: every input here is refused first); and a closed pipe ends a
command quietly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from domain.calendar import DEFAULT_CALENDAR_PATH
from starter.cli import BROKEN_PIPE_EXIT, main

REPO = Path(__file__).resolve().parents[2]
CASE = "CME-000000000000"


@pytest.fixture(autouse=True)
def quiet_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("CME_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("CME_CALENDAR_FILE", str(DEFAULT_CALENDAR_PATH))
    monkeypatch.setenv("CME_TEMPORAL_ADDRESS", "127.0.0.1:1")  # nothing may be sent


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, list[str]]:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err.splitlines()


# -- cme refer FILE --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        "[" * 100_000 + "]" * 100_000,  # beyond the decoder's recursion limit
        "[" * 1000 + "]" * 1000,
        '{"form": ' + '{"a": ' * 50 + "1" + "}" * 50 + "}",  # decodes, but no referral is so deep
    ],
    ids=["100000-deep", "1000-deep", "50-deep"],
)
def test_deeply_nested_json_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str
) -> None:
    path = tmp_path / "deep.json"
    path.write_text(content, encoding="utf-8")
    assert run(capsys, "refer", str(path)) == (
        2,
        "",
        [f"cme: error: cannot read {path}: JSON nested too deeply"],
    )


def test_a_file_over_1_mb_is_refused_unread(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"form": "school_cme_referral", "pad": "x" * 1_000_000}))
    assert run(capsys, "refer", str(path)) == (
        2,
        "",
        [f"cme: error: cannot read {path}: the file is over 1 MB (a referral is a few kilobytes)"],
    )


def test_a_file_that_is_not_utf8_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes('{"form": "Zoë"}'.encode("latin-1"))
    assert run(capsys, "refer", str(path)) == (
        2,
        "",
        [f"cme: error: cannot read {path}: not UTF-8 text"],
    )


def test_a_referral_with_a_nul_in_a_name_is_refused_by_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = json.loads((REPO / "examples" / "school-cme-referral.json").read_text())
    data["pupil"]["first_name"] = "Ja\u0000cob"
    path = tmp_path / "nul.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert run(capsys, "refer", str(path)) == (
        2,
        "",
        ["pupil.first_name: must not contain control characters or line breaks (found U+0000)"],
    )


# -- argument values -------------------------------------------------------------------------------

NOT_A_NAME = "is not a name: must not contain control characters or line breaks"
ENQUIRY = ["enquiry", CASE, "--kind", "letter", "--outcome", "no_contact", "--by", "Ms A"]
MOVED_AWAY = ["conclude", CASE, "moved_away", "--by", "X"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["refer", "x.json", "--by", "Ms\x00A"],
            f"cme refer: error: argument --by: 'Ms\\x00A' {NOT_A_NAME} (found U+0000)",
        ),
        (
            ["reassign", CASE, "Officer\x1b[2JZ", "--by", "Lead Y"],
            f"cme reassign: error: argument OFFICER: 'Officer\\x1b[2JZ' {NOT_A_NAME} "
            "(found U+001B)",
        ),
        (
            ["reassign", CASE, "Officer Z", "--by", "Lead\nY"],
            f"cme reassign: error: argument --by: 'Lead\\nY' {NOT_A_NAME} (found U+000A)",
        ),
        (
            ["reassign", CASE, "x" * 101, "--by", "Lead Y"],
            "cme reassign: error: argument OFFICER: 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'... "
            "is not a name: must be at most 100 characters",
        ),
        (
            ["concern", CASE, "worried\x00", "--by", "Ms A"],
            "cme concern: error: argument TEXT: 'worried\\x00' is not usable text: must not "
            "contain control characters (found U+0000)",
        ),
        (
            ["share", CASE, "   ", "--by", "Ms A"],
            "cme share: error: argument TEXT: '   ' is not usable text: must not be empty",
        ),
        (
            [*ENQUIRY, "--note", "sent\x1b"],
            "cme enquiry: error: argument --note: 'sent\\x1b' is not a usable note: must not "
            "contain control characters (found U+001B)",
        ),
        (
            ["mash-call", CASE, "--reference", "M-1\n2", "--by", "Ms A"],
            "cme mash-call: error: argument --reference: 'M-1\\n2' is not a reference: must not "
            "contain control characters or line breaks (found U+000A)",
        ),
        (
            [*MOVED_AWAY, "--other-la-email", "chris,demo@example.org"],
            "cme conclude: error: argument --other-la-email: 'chris,demo@example.org' is not an "
            "email address: email address must look like name@example.org: The email address "
            "contains invalid characters before the @-sign: ','.",
        ),
        (
            [*MOVED_AWAY, "--other-la-email", "cme at exampleshire"],
            "cme conclude: error: argument --other-la-email: 'cme at exampleshire' is not an "
            "email address: email address must look like name@example.org",
        ),
        (
            ["conclude", CASE, "moved_away", "--other-la", "Hampshire\x00", "--by", "X"],
            "cme conclude: error: argument --other-la: 'Hampshire\\x00' is not usable text",
        ),
        (
            ["conclude", CASE, "home_educated", "--ehe-letter", "\x00", "--by", "X"],
            "cme conclude: error: argument --ehe-letter: '\\x00' is not a reference",
        ),
        (
            ["withdraw", CASE, "dup\x00", "--by", "X"],
            "cme withdraw: error: argument REASON: 'dup\\x00' is not usable text",
        ),
        (
            ["withdraw", CASE, "duplicate", "--duplicate-of", "CME-12", "--by", "X"],
            "cme withdraw: error: argument --duplicate-of: 'CME-12' is not a case reference: a "
            "case reference is CME- and 12 hex digits, e.g. CME-7F3A9C21D0B4",
        ),
        (
            ["show", "CME-7F3A9C21D0BZ"],
            "cme show: error: argument CASE: 'CME-7F3A9C21D0BZ' is not a case reference",
        ),
        (
            ["cases", "--school", "851 200"],
            "cme cases: error: argument --school: '851 200' is not a LAESTAB: school LAESTAB must "
            "be 7 digits",
        ),
        (
            ["contact", CASE, "--on", "1999-12-31", "--by", "Ms A"],
            "cme contact: error: argument --on: 1999-12-31 is not a plausible date for a case",
        ),
    ],
)
def test_bad_argument_values_are_one_line_naming_the_option(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert (code, out) == (2, "")
    assert len(err) == 1, err
    assert err[0].startswith(message)


def test_calendar_school_is_a_laestab(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "calendar", "nth", "2025-10-20", "10", "--school", "85")
    assert (code, out) == (2, "")
    assert err[-1].startswith(
        "cme calendar nth: error: argument --school: '85' is not a LAESTAB: school LAESTAB must"
    )
    code, out, _ = run(capsys, "calendar", "nth", "2025-10-20", "10", "--school", "851/2000")
    assert code == 0 and out.strip().endswith("at 8512000")


def test_values_are_normalised_before_use(capsys: pytest.CaptureFixture[str]) -> None:
    """A good value gets as far as the server (refused: nobody listens), normalised."""
    code, _, err = run(capsys, "reassign", " cme-00000000000a ", "  Officer   Z ", "--by", "Lead")
    assert code == 1
    assert err[0].startswith("cme: error: cannot reach Temporal at 127.0.0.1:1")


# -- a closed pipe ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [["calendar", "count", "2025-09-03", "2025-12-19"], ["--help"], ["calendar", "nth", "--help"]],
    ids=["output", "help", "subcommand-help"],
)
def test_a_closed_pipe_ends_the_command_quietly(argv: list[str]) -> None:
    """``cme … | head``: the reader goes away before the command writes; no traceback."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CME_")},
        "PYTHONPATH": str(REPO),
        "CME_CALENDAR_FILE": str(DEFAULT_CALENDAR_PATH),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "starter.cli", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
        env=env,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # long before the command has imported anything
    err = process.stderr.read().decode()
    code = process.wait(timeout=60)
    assert err == ""
    # 128 + SIGPIPE, as a shell reports a tool stopped by a closed pipe; argparse's own help
    # output ignores a failed write and exits 0.
    assert code == (0 if "--help" in argv else BROKEN_PIPE_EXIT)
