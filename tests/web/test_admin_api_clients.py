"""The administrators' pages for API clients: only an administrator opens them; adding a client
shows its token once (and that token then works with the API); each bad field is named in the
domain's words; revoking refuses the token at once."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlmodel import Session

from activities.api_clients import find_api_client
from domain.case.model import Role
from tests.web.conftest import (
    ORIGIN,
    add_user,
    browser,
    csrf_of,
    error_summary,
    post_form,
    sign_in,
)

ADMIN = "admin@la.example.gov.uk"
PAGES = ["/admin/api-clients", "/admin/api-clients/new"]


@pytest.fixture
async def admin(app: FastAPI, sqlite_engine: Engine) -> AsyncIterator[httpx.AsyncClient]:
    add_user(sqlite_engine, ADMIN, role=Role.ADMIN, name="Ada Admin")
    async with browser(app) as http:
        assert (await sign_in(http, ADMIN)).status_code == 303
        yield http


async def _api(app: FastAPI, token: str) -> int:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=ORIGIN,
        headers={"Authorization": f"Bearer {token}"},
    ) as api:
        return (await api.get("/api/v1/tasks")).status_code


async def test_an_administrator_adds_a_client_sees_its_token_once_and_revokes_it(
    app: FastAPI, admin: httpx.AsyncClient, sqlite_engine: Engine
) -> None:
    home = await admin.get("/")
    assert 'href="/admin/api-clients"' in home.text
    added = await post_form(
        admin,
        "/admin/api-clients/new",
        "/admin/api-clients/new",
        {"name": "Northfield Academy MIS", "role": "school", "schools": "8512000, 851 2001"},
    )
    assert added.status_code == 200, added.text
    assert "Northfield Academy MIS can now use the API" in added.text
    found = re.search(r'<code class="app-api-token">(cme_[^<]+)</code>', added.text)
    assert found, added.text
    token = found.group(1)
    with Session(sqlite_engine) as session:
        client = find_api_client(session=session, name="Northfield Academy MIS")
    assert client is not None
    assert (client.role, client.schools, client.created_by) == (
        "school",
        ["8512000", "8512001"],
        ADMIN,
    )
    assert await _api(app, token) == 200

    listing = await admin.get("/admin/api-clients")
    assert "Northfield Academy MIS" in listing.text and token not in listing.text
    revoked = await admin.post(
        f"/admin/api-clients/{client.id}/revoke", data={"csrf_token": csrf_of(listing.text)}
    )
    assert revoked.status_code == 303
    page = await admin.get("/admin/api-clients")
    assert "Northfield Academy MIS&#39;s token is revoked: it is refused from now on" in page.text
    assert await _api(app, token) == 401
    with Session(sqlite_engine) as session:
        client = find_api_client(session=session, name="Northfield Academy MIS")
    assert client is not None and client.revoked_by == ADMIN


async def test_each_bad_field_is_named(admin: httpx.AsyncClient) -> None:
    page = await post_form(
        admin,
        "/admin/api-clients/new",
        "/admin/api-clients/new",
        {"name": "", "role": "school", "schools": "85"},
    )
    assert page.status_code == 400
    assert error_summary(page.text) == [
        ("#name", "Enter the client's name"),
        (
            "#schools",
            "School: school LAESTAB must be 7 digits: 3-digit LA number + 4-digit establishment "
            "number, e.g. 8512000",
        ),
    ]
    page = await post_form(
        admin,
        "/admin/api-clients/new",
        "/admin/api-clients/new",
        {"name": "X MIS", "role": "school", "schools": ""},
    )
    assert error_summary(page.text) == [
        (
            "#schools",
            "A school client acts for one or more schools: give each school's 7-digit LAESTAB, "
            "e.g. 8512000",
        )
    ]
    page = await post_form(
        admin,
        "/admin/api-clients/new",
        "/admin/api-clients/new",
        {"name": "X MIS", "role": "admin"},
    )
    assert error_summary(page.text) == [("#role", "Select the client's role")]


async def test_the_pages_are_refused_to_anyone_but_an_administrator(
    app: FastAPI, sqlite_engine: Engine
) -> None:
    add_user(sqlite_engine, "lee@la.example.gov.uk", role=Role.TEAM_LEADER, name="Lee Lead")
    async with browser(app) as http:
        await sign_in(http, "lee@la.example.gov.uk")
        for path in PAGES:
            assert (await http.get(path)).status_code == 403, path
        home = await http.get("/")
        refused = await http.post(
            "/admin/api-clients/new",
            data={"csrf_token": csrf_of(home.text), "name": "Sneaky", "role": "team_leader"},
        )
        assert refused.status_code == 403
    with Session(sqlite_engine) as session:
        assert find_api_client(session=session, name="Sneaky") is None
