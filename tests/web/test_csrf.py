"""Cross-site request forgery: every POST form needs this session's token and the app's own
origin; a refusal is the 403 page and changes nothing."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlmodel import Session

from activities.accounts import list_accounts
from domain.case.model import Role
from tests.web.conftest import ORIGIN, add_user, audit, browser, csrf_of, sign_in

ADMIN = "admin@la.example.gov.uk"
NEW_USER = {
    "email": "new.officer@la.example.gov.uk",
    "display_name": "New Officer",
    "role": "cme_officer",
    "schools": "",
    "sign_in": "password",
}


def _refused(answer: httpx.Response) -> None:
    assert answer.status_code == 403
    assert "This form could not be sent" in answer.text
    assert "Nothing was changed" in answer.text


async def test_a_sign_in_without_the_token_is_refused_and_not_even_tried(
    client: httpx.AsyncClient, sqlite_engine: Engine
) -> None:
    add_user(sqlite_engine, ADMIN)
    await client.get("/sign-in")
    _refused(await client.post("/sign-in", data={"email": ADMIN, "password": "x"}))
    _refused(
        await client.post("/sign-in", data={"csrf_token": "guess", "email": ADMIN, "password": "x"})
    )
    assert audit(sqlite_engine) == []


async def test_another_sessions_token_is_refused(app: FastAPI, sqlite_engine: Engine) -> None:
    add_user(sqlite_engine, ADMIN)
    async with browser(app) as attacker, browser(app) as victim:
        token = csrf_of((await attacker.get("/sign-in")).text)
        await victim.get("/sign-in")
        _refused(
            await victim.post(
                "/sign-in", data={"csrf_token": token, "email": ADMIN, "password": "x"}
            )
        )


async def test_a_form_from_another_origin_is_refused(
    client: httpx.AsyncClient, sqlite_engine: Engine
) -> None:
    add_user(sqlite_engine, ADMIN, role=Role.ADMIN)
    await sign_in(client, ADMIN)
    page = await client.get("/admin/users/new")
    form = {"csrf_token": csrf_of(page.text), **NEW_USER}
    for headers in (
        {"Origin": "https://evil.example"},
        {"Origin": "http://testserver"},  # the same host over http is another origin
        {"Origin": "null"},
    ):
        _refused(await client.post("/admin/users/new", data=form, headers=headers))
    # No Origin at all: the Referer must be one of the app's pages; with neither, refused.
    client.headers.pop("Origin")
    _refused(
        await client.post(
            "/admin/users/new", data=form, headers={"Referer": "https://evil.example/page"}
        )
    )
    _refused(await client.post("/admin/users/new", data=form))
    with Session(sqlite_engine) as session:
        assert [a.email for a in list_accounts(session=session)] == [ADMIN]
    added = await client.post(
        "/admin/users/new", data=form, headers={"Referer": f"{ORIGIN}/admin/users/new"}
    )
    assert added.status_code == 200 and "New Officer can now sign in" in added.text


async def test_a_bad_token_on_an_admin_form_changes_nothing(
    client: httpx.AsyncClient, sqlite_engine: Engine
) -> None:
    add_user(sqlite_engine, ADMIN, role=Role.ADMIN)
    await sign_in(client, ADMIN)
    await client.get("/admin/users/new")
    _refused(await client.post("/admin/users/new", data={"csrf_token": "forged", **NEW_USER}))
    # JSON is no way round it.
    _refused(await client.post("/admin/users/new", json={"csrf_token": "forged", **NEW_USER}))
    with Session(sqlite_engine) as session:
        assert [a.email for a in list_accounts(session=session)] == [ADMIN]
    assert [e.event for e in audit(sqlite_engine)] == ["sign_in"]


async def test_sign_out_needs_the_token_too(
    client: httpx.AsyncClient, sqlite_engine: Engine
) -> None:
    add_user(sqlite_engine, ADMIN)
    await sign_in(client, ADMIN)
    _refused(await client.post("/sign-out"))
    assert (await client.get("/")).status_code == 200  # still signed in


async def test_the_public_url_is_the_origin_forms_must_come_from(
    make_app: Callable[..., FastAPI], sqlite_engine: Engine
) -> None:
    app = make_app(web_public_url="https://cme.portsmouth.example.gov.uk")
    add_user(sqlite_engine, ADMIN)
    async with browser(app) as http:
        page = await http.get("/sign-in")
        form = {"csrf_token": csrf_of(page.text), "email": ADMIN, "password": "x" * 20}
        _refused(await http.post("/sign-in", data=form))  # Origin: https://testserver
        answer = await http.post(
            "/sign-in",
            data=form,
            headers={"Origin": "https://cme.portsmouth.example.gov.uk"},
        )
        assert answer.status_code == 400  # checked, and the password is wrong
