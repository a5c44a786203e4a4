"""The administrators' pages: only an administrator opens them (403 for everyone else, the
sign-in page for a visitor); adding a user (the one-time password shown once signs them in),
with the intake's own words for each bad field; disabling a user (signed out at once) and
resetting a password; each change in the audit with the administrator who made it."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from html import unescape

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlmodel import Session

from activities.accounts import find_account
from domain.case.model import Role
from tests.web.conftest import (
    PASSWORD,
    add_user,
    audit,
    browser,
    csrf_of,
    error_summary,
    post_form,
    sign_in,
)

ADMIN = "admin@la.example.gov.uk"
SCHOOL = "head@school.example.org"
ADMIN_PAGES = ["/admin/users", "/admin/users/new", "/admin/users/1"]


@pytest.fixture
async def admin(app: FastAPI, sqlite_engine: Engine) -> AsyncIterator[httpx.AsyncClient]:
    """An administrator's browser, signed in."""
    add_user(sqlite_engine, ADMIN, role=Role.ADMIN, name="Ada Admin")
    async with browser(app) as http:
        assert (await sign_in(http, ADMIN)).status_code == 303
        yield http


def _password_shown(html: str) -> str:
    found = re.search(r'<code class="app-one-time-password">([^<]+)</code>', html)
    assert found, html
    return found.group(1)


async def test_the_admin_pages_are_refused_to_a_school_user(
    client: httpx.AsyncClient, sqlite_engine: Engine
) -> None:
    add_user(sqlite_engine, SCHOOL, role=Role.SCHOOL, name="Hazel Head", schools=("8512000",))
    await sign_in(client, SCHOOL)
    for path in ADMIN_PAGES:
        answer = await client.get(path)
        assert answer.status_code == 403, path
        assert "You cannot use this page" in answer.text
        assert (
            "This page is for an administrator. You are signed in as a school user." in answer.text
        )
    home = await client.get("/")
    token = csrf_of(home.text)
    refused = await client.post(
        "/admin/users/new",
        data={
            "csrf_token": token,
            "email": "sneaky@school.example.org",
            "display_name": "Sneaky",
            "role": "admin",
            "schools": "",
            "sign_in": "password",
        },
    )
    assert refused.status_code == 403
    with Session(sqlite_engine) as session:
        assert find_account(session=session, email="sneaky@school.example.org") is None
    # Nor is it offered to them.
    assert 'href="/admin/users"' not in home.text


async def test_a_visitor_is_sent_to_sign_in(client: httpx.AsyncClient) -> None:
    for path in ADMIN_PAGES:
        answer = await client.get(path)
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/sign-in?next={path}"


async def test_an_admin_sees_the_users_page_from_home(admin: httpx.AsyncClient) -> None:
    home = await admin.get("/")
    assert 'href="/admin/users"' in home.text
    assert "Add people, disable their accounts and reset their passwords." in home.text
    users = await admin.get("/admin/users")
    assert users.status_code == 200
    assert "Ada Admin" in users.text and ADMIN in users.text
    assert 'aria-current="page"' in users.text  # the navigation marks where they are


async def test_a_user_added_signs_in_with_the_password_shown_once(
    app: FastAPI, admin: httpx.AsyncClient, sqlite_engine: Engine
) -> None:
    added = await post_form(
        admin,
        "/admin/users/new",
        "/admin/users/new",
        {
            "email": "Hazel.Head@School.example.org",
            "display_name": "Hazel Head",
            "role": "school",
            "schools": "8512000, 851 2001",
            "sign_in": "password",
        },
    )
    assert added.status_code == 200
    assert "Hazel Head can now sign in" in added.text
    password = _password_shown(added.text)
    listing = await admin.get("/admin/users")
    assert "hazel.head@school.example.org" in listing.text
    assert "8512000, 8512001" in listing.text and "One-time password" in listing.text
    assert password not in listing.text
    async with browser(app) as hazel:
        answer = await sign_in(hazel, "hazel.head@school.example.org", password)
        assert answer.headers["location"] == "/change-password"
    [added_event] = [e for e in audit(sqlite_engine) if e.event == "account_added"]
    assert (added_event.by_email, added_event.method, added_event.detail) == (
        ADMIN,
        "web",
        "school",
    )


async def test_an_openid_connect_user_gets_no_password(admin: httpx.AsyncClient) -> None:
    added = await post_form(
        admin,
        "/admin/users/new",
        "/admin/users/new",
        {
            "email": "lee@la.example.gov.uk",
            "display_name": "Lee Lead",
            "role": "team_leader",
            "schools": "",
            "sign_in": "oidc",
        },
    )
    assert added.status_code == 200
    assert "there is no password to give them" in added.text
    assert "app-one-time-password" not in added.text


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        (
            {"email": "", "display_name": "", "role": "", "schools": "", "sign_in": "password"},
            [
                ("#email", "Enter their email address"),
                ("#display_name", "Enter their name"),
                ("#role", "Select the person's role"),
            ],
        ),
        (
            {"email": "not an address", "display_name": "X", "role": "school", "schools": ""},
            [
                ("#email", "Email address: email address must look like name@example.org"),
                ("#sign_in", "Select how the person signs in"),
            ],
        ),
        (
            {
                "email": "x@la.example.gov.uk",
                "display_name": "X",
                "role": "manager",
                "schools": "8512000",
                "sign_in": "password",
            },
            [("#schools", "Only a school user acts for schools; a manager acts for none")],
        ),
        (
            {
                "email": "x@la.example.gov.uk",
                "display_name": "X",
                "role": "school",
                "schools": "",
                "sign_in": "password",
            },
            [
                (
                    "#schools",
                    "A school user acts for one or more schools: give each school's 7-digit "
                    "LAESTAB, e.g. 8512000",
                )
            ],
        ),
        (
            {
                "email": "x@la.example.gov.uk",
                "display_name": "X",
                "role": "school",
                "schools": "85120",
                "sign_in": "password",
            },
            [
                (
                    "#schools",
                    "School: school LAESTAB must be 7 digits: 3-digit LA number + "
                    "4-digit establishment number, e.g. 8512000",
                )
            ],
        ),
        (
            {
                "email": ADMIN,
                "display_name": "X",
                "role": "admin",
                "schools": "",
                "sign_in": "password",
            },
            [("#email", f"There is already an account for {ADMIN}")],
        ),
    ],
)
async def test_each_bad_field_is_named_in_the_error_summary_and_beside_it(
    admin: httpx.AsyncClient, form: dict[str, str], expected: list[tuple[str, str]]
) -> None:
    answer = await post_form(admin, "/admin/users/new", "/admin/users/new", form)
    assert answer.status_code == 400
    assert "<title>Error: Add a user – Children missing education</title>" in answer.text
    assert error_summary(answer.text) == expected
    for href, message in expected:
        field = href.removeprefix("#")
        assert f'id="{field}-error"' in answer.text, field
        assert message in unescape(" ".join(answer.text.split()))
    for name, value in form.items():
        if value and name not in ("role", "sign_in"):
            assert f'value="{value}"' in answer.text  # what was typed is kept


async def test_disabling_a_user_signs_them_out_at_once(
    app: FastAPI, admin: httpx.AsyncClient, sqlite_engine: Engine
) -> None:
    officer = add_user(sqlite_engine, "olive@la.example.gov.uk", name="Olive Officer")
    async with browser(app) as olive:
        await sign_in(olive, "olive@la.example.gov.uk")
        assert (await olive.get("/")).status_code == 200
        answer = await post_form(
            admin, f"/admin/users/{officer.id}", f"/admin/users/{officer.id}/disable", {}
        )
        assert answer.status_code == 303
        page = await admin.get(answer.headers["location"])
        assert "Olive Officer&#39;s account is disabled: they are signed out" in page.text
        assert "Disabled on" in page.text
        assert (await olive.get("/")).status_code == 303
        assert (
            "Your account has been disabled"
            in (await sign_in(olive, "olive@la.example.gov.uk")).text
        )
    assert ("account_disabled", ADMIN) in [(e.event, e.by_email) for e in audit(sqlite_engine)]


async def test_an_admin_cannot_disable_themselves(
    admin: httpx.AsyncClient, sqlite_engine: Engine
) -> None:
    with Session(sqlite_engine) as session:
        me = find_account(session=session, email=ADMIN)
    assert me is not None
    page = await admin.get(f"/admin/users/{me.id}")
    assert "Disable account" not in page.text
    answer = await admin.post(
        f"/admin/users/{me.id}/disable", data={"csrf_token": csrf_of(page.text)}
    )
    assert answer.status_code == 403
    assert (await admin.get("/admin/users")).status_code == 200  # still signed in, not disabled


async def test_resetting_a_password_gives_a_new_one_time_password(
    app: FastAPI, admin: httpx.AsyncClient, sqlite_engine: Engine
) -> None:
    officer = add_user(sqlite_engine, "olive@la.example.gov.uk", name="Olive Officer")
    async with browser(app) as olive:
        await sign_in(olive, "olive@la.example.gov.uk")
        answer = await post_form(
            admin, f"/admin/users/{officer.id}", f"/admin/users/{officer.id}/reset-password", {}
        )
        assert answer.status_code == 200
        assert "Olive Officer&#39;s password is reset" in answer.text
        password = _password_shown(answer.text)
        assert (await olive.get("/")).status_code == 303  # signed out
        assert (await sign_in(olive, "olive@la.example.gov.uk", PASSWORD)).status_code == 400
        again = await sign_in(olive, "olive@la.example.gov.uk", password)
        assert again.headers["location"] == "/change-password"
    assert ("password_reset", ADMIN) in [(e.event, e.by_email) for e in audit(sqlite_engine)]


async def test_an_unknown_user_is_the_404_page(admin: httpx.AsyncClient) -> None:
    answer = await admin.get("/admin/users/9999")
    assert answer.status_code == 404 and "Page not found" in answer.text
