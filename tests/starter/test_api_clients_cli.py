"""`cme api-clients`: add (end to end: the token it prints, once, authenticates with the web app's
API, and the register keeps only its hash), list, revoke (the token is refused at once); bad
input is one line and a non-zero exit, never a traceback."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from activities.api_clients import api_token_hash
from activities.register import make_engine, upgrade_register
from tests.starter.conftest import run_main
from tests.web.conftest import ORIGIN, web_settings
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
    code = run_main(["api-clients", *argv])
    out, err = capsys.readouterr()
    return code, out, err


async def _tasks(tmp_path: Path, token: str) -> httpx.Response:
    """``GET /api/v1/tasks`` with ``token``, from the web app on the register the command wrote."""
    app = create_app(web_settings(tmp_path))
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url=ORIGIN,
            headers={"Authorization": f"Bearer {token}"},
        ) as http:
            return await http.get("/api/v1/tasks")
    finally:
        close_app(app)


def test_a_client_added_uses_its_token_until_it_is_revoked(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, register_url: str
) -> None:
    code, out, err = cme(
        capsys, "add", "Northfield  Academy MIS", "--role", "school", "--school", "8512000"
    )
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "added Northfield Academy MIS (school for 8512000)"
    found = re.fullmatch(r"token: (cme_[A-Za-z0-9_-]{43})", lines[1])
    assert found, lines[1]
    token = found.group(1)
    assert "it is shown only now" in lines[2]

    # The register keeps the token's hash, never the token.
    engine = make_engine(register_url)
    try:
        with engine.connect() as connection:
            [(stored,)] = connection.execute(text("SELECT token_hash FROM api_client")).all()
            dump = "\n".join(connection.connection.iterdump())
    finally:
        engine.dispose()
    assert stored == api_token_hash(token)
    assert token not in dump

    assert asyncio.run(_tasks(tmp_path, token)).status_code == 200
    code, out, _ = cme(capsys, "list")
    assert code == 0
    header, row = out.splitlines()
    assert header.split() == ["NAME", "ROLE", "SCHOOLS", "STATUS", "ADDED", "LAST", "USED"]
    assert row.startswith("Northfield Academy MIS  school  8512000  active  ")
    assert not row.endswith("never")  # it was used

    code, out, _ = cme(capsys, "revoke", "Northfield Academy MIS")
    assert (code, out) == (
        0,
        "Northfield Academy MIS (school for 8512000) revoked: its token is refused\n",
    )
    assert asyncio.run(_tasks(tmp_path, token)).status_code == 401
    assert "revoked" in cme(capsys, "list")[1]
    code, out, _ = cme(capsys, "revoke", "Northfield Academy MIS")
    assert out.endswith("was already revoked: its token is refused\n")


def test_each_client_has_a_token_of_its_own(capsys: pytest.CaptureFixture[str]) -> None:
    tokens = set()
    for name in ("LA case system", "LA reporting"):
        code, out, _ = cme(capsys, "add", name, "--role", "cme_officer")
        assert code == 0
        tokens.add(out.splitlines()[1])
    assert len(tokens) == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["add", "X MIS", "--role", "school"],
            "--school: a school client acts for one or more schools: give each school's 7-digit "
            "LAESTAB, e.g. 8512000",
        ),
        (
            ["add", "X MIS", "--role", "manager", "--school", "8512000"],
            "--school: only a school client acts for schools; a manager client acts for none",
        ),
        (
            ["add", "X MIS", "--role", "school", "--school", "85"],
            "--school: school LAESTAB must be 7 digits: 3-digit LA number + 4-digit "
            "establishment number, e.g. 8512000",
        ),
        (["add", "", "--role", "manager"], "NAME: must not be empty"),
        (["revoke", "Nobody"], "no API client named Nobody"),
    ],
)
def test_bad_input_is_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = cme(capsys, *argv)
    assert (code, out, err) == (2, "", f"cme: error: {message}\n")


def test_a_name_is_one_client_s_and_admin_is_no_client_role(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cme(capsys, "add", "LA system", "--role", "team_leader")[0] == 0
    code, _, err = cme(capsys, "add", "LA system", "--role", "manager")
    assert (code, err) == (2, "cme: error: there is already an API client named LA system\n")
    code, _, err = cme(capsys, "add", "Admin tool", "--role", "admin")
    assert code == 2 and "invalid choice: 'admin'" in err
    assert len(err.splitlines()) == 1


def test_an_empty_list_says_how_to_add_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert cme(capsys, "list")[1] == "no API clients yet: add one with `cme api-clients add`\n"
