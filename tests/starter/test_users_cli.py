"""`cme users`: add (end to end: the one-time password it prints signs the person in to the web
app, which then asks for a new one), list, disable and reset-password; bad input is one line and
a non-zero exit, never a traceback."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session

from activities.accounts import list_auth_events
from activities.register import make_engine, upgrade_register
from tests.starter.conftest import run_main
from tests.web.conftest import browser, sign_in, web_settings
from web.app import close_app, create_app


@pytest.fixture(autouse=True)
def register_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    for key in list(os.environ):
        if key.startswith("CME_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'register' / 'register.db'}"
    upgrade_register(url)
    monkeypatch.setenv("CME_DATABASE_URL", url)
    return url


def cme(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = run_main(["users", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _one_time_password(out: str) -> str:
    found = re.search(r"one-time password: (\S+)", out)
    assert found, out
    return found.group(1)


def test_a_user_added_signs_in_with_the_password_printed_and_must_change_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = cme(
        capsys,
        "add",
        "Ann.Example@School.example.org",
        "--name",
        "Ann Example",
        "--role",
        "school",
        "--school",
        "8512000",
        "--school",
        "8512001",
    )
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == (
        "added Ann Example <ann.example@school.example.org> (school for 8512000, 8512001)"
    )
    password = _one_time_password(out)
    assert "they must change it when they first sign in" in lines[2]

    answer = asyncio.run(_sign_in(tmp_path, "ann.example@school.example.org", password))
    assert answer.headers["location"] == "/change-password"

    code, out, _ = cme(capsys, "list")
    assert code == 0
    header, row = out.splitlines()
    assert header.split() == ["EMAIL", "NAME", "ROLE", "SCHOOLS", "STATUS", "LAST", "SIGN-IN"]
    assert row.split()[:4] == ["ann.example@school.example.org", "Ann", "Example", "school"]
    assert "8512000,8512001" in row and "one-time password" in row


async def _sign_in(tmp_path: Path, email: str, password: str) -> httpx.Response:
    """Sign in to the web app on the register the command wrote to."""
    app = create_app(web_settings(tmp_path))
    try:
        async with browser(app) as http:
            return await sign_in(http, email, password)
    finally:
        close_app(app)


def test_an_openid_connect_account_gets_no_password(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cme(
        capsys,
        "add",
        "lee@la.example.gov.uk",
        "--name",
        "Lee Lead",
        "--role",
        "team_leader",
        "--oidc-only",
    )
    assert code == 0
    assert out == (
        "added Lee Lead <lee@la.example.gov.uk> (team leader): signs in with OpenID Connect only "
        "(no password)\n"
    )
    assert "OpenID Connect" in cme(capsys, "list")[1]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["add", "x@la.example.gov.uk", "--name", "X", "--role", "school"],
            "--school: a school user acts for one or more schools: give each school's 7-digit "
            "LAESTAB, e.g. 8512000",
        ),
        (
            [
                "add",
                "x@la.example.gov.uk",
                "--name",
                "X",
                "--role",
                "manager",
                "--school",
                "8512000",
            ],
            "--school: only a school user acts for schools; a manager acts for none",
        ),
        (
            ["add", "not-an-address", "--name", "X", "--role", "manager"],
            "EMAIL: email address must look like name@example.org",
        ),
        (
            ["add", "x@la.example.gov.uk", "--name", "X", "--role", "school", "--school", "85"],
            "--school: school LAESTAB must be 7 digits",
        ),
        (["disable", "nobody@la.example.gov.uk"], "no account for nobody@la.example.gov.uk"),
    ],
)
def test_bad_input_is_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = cme(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith(f"cme: error: {message}"), err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_an_unknown_role_is_argparses_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = cme(capsys, "add", "x@la.example.gov.uk", "--name", "X", "--role", "service")
    assert code == 2
    assert err.startswith("cme users add: error: argument --role: invalid choice: 'service'")
    assert err.count("\n") == 1


def test_the_same_address_twice_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["add", "x@la.example.gov.uk", "--name", "X", "--role", "mash"]
    assert cme(capsys, *argv)[0] == 0
    code, _out, err = cme(capsys, *[a.upper() if "@" in a else a for a in argv])
    assert code == 2
    assert err == "cme: error: there is already an account for x@la.example.gov.uk\n"


def test_disable_and_reset_password_are_audited(
    capsys: pytest.CaptureFixture[str], register_url: str
) -> None:
    cme(capsys, "add", "x@la.example.gov.uk", "--name", "Xavier Officer", "--role", "cme_officer")
    code, out, _ = cme(capsys, "reset-password", "X@la.example.gov.uk")
    assert code == 0
    assert out.startswith("new one-time password for Xavier Officer <x@la.example.gov.uk>")
    assert cme(capsys, "disable", "x@la.example.gov.uk")[1] == (
        "Xavier Officer <x@la.example.gov.uk> (cme officer) disabled: it cannot sign in\n"
    )
    assert "was already disabled" in cme(capsys, "disable", "x@la.example.gov.uk")[1]
    code, _out, err = cme(capsys, "reset-password", "x@la.example.gov.uk")
    assert (code, err) == (2, "cme: error: x@la.example.gov.uk is disabled: it cannot sign in\n")
    assert "disabled" in cme(capsys, "list")[1]
    engine = make_engine(register_url)
    try:
        with Session(engine) as session:
            events = list_auth_events(session=session, email="x@la.example.gov.uk")
    finally:
        engine.dispose()
    assert [(e.event, e.method) for e in reversed(events)] == [
        ("account_added", "cli"),
        ("password_reset", "cli"),
        ("account_disabled", "cli"),
    ]


def test_a_register_without_accounts_says_to_upgrade(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade_register(url, "0004")
    monkeypatch.setenv("CME_DATABASE_URL", url)
    code, _out, err = cme(capsys, "list")
    assert code == 1
    assert err == (
        f"cme: error: the register at {url} has no accounts yet: run `cme register upgrade`\n"
    )
