"""Signing in and out: success and failure with the message shown, throttling by account and by
client address (counted in the register, so shared by every web process), the cookie's flags,
sign-out ending the session server-side, the idle and absolute timeouts, the must-change-password
flow, and the dependencies pages use (the signed-in user, the role check, the actor)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import httpx
from fastapi import Depends, FastAPI, Request
from sqlalchemy import Engine
from sqlmodel import Session, select

from activities.accounts import AccountRow, WebSessionRow
from domain.case.model import Actor, Role
from tests.web.conftest import (
    FAST_PASSWORDS,
    PASSWORD,
    Clock,
    add_user,
    audit,
    browser,
    csrf_of,
    error_summary,
    post_form,
    sign_in,
    web_settings,
)
from web.app import create_app
from web.auth import actor_of, current_user, require_role
from web.sessions import SECURE_COOKIE, SignedInUser

OFFICER = "officer@la.example.gov.uk"
OFFICERS_ONLY = require_role(Role.CME_OFFICER, Role.TEAM_LEADER)
WRONG = "not the password at all"


def _sessions(engine: Engine) -> list[WebSessionRow]:
    with Session(engine) as session:
        return list(session.exec(select(WebSessionRow)))


async def test_signing_in_goes_home_where_the_person_is_named(
    client: httpx.AsyncClient, sqlite_engine: Engine
) -> None:
    add_user(sqlite_engine, OFFICER, name="Olive Officer")
    answer = await sign_in(client, OFFICER)
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    home = await client.get("/")
    assert home.status_code == 200
    assert "Olive Officer, CME officer" in home.text
    assert '<form method="post" action="/sign-out"' in home.text
    [event] = audit(sqlite_engine)
    assert (event.event, event.outcome, event.method, event.email) == (
        "sign_in",
        "success",
        "local",
        OFFICER,
    )
    assert event.client_address == "192.0.2.10"
    with Session(sqlite_engine) as session:
        row = session.exec(select(AccountRow)).one()
        assert row.last_sign_in_at is not None


async def test_the_email_address_is_not_case_sensitive(
    client: httpx.AsyncClient, sqlite_engine: Engine
) -> None:
    add_user(sqlite_engine, OFFICER)
    assert (await sign_in(client, "  Officer@LA.example.gov.uk ")).status_code == 303


async def test_a_wrong_password_or_unknown_address_is_refused_with_one_message(
    client: httpx.AsyncClient, sqlite_engine: Engine
) -> None:
    add_user(sqlite_engine, OFFICER)
    for email, password in ((OFFICER, WRONG), ("nobody@la.example.gov.uk", PASSWORD)):
        answer = await sign_in(client, email, password)
        assert answer.status_code == 400
        assert "<title>Error: Sign in – Children missing education</title>" in answer.text
        assert error_summary(answer.text) == [
            ("#email", "Enter a correct email address and password")
        ]
        assert f'value="{email}"' in answer.text  # kept for the next try; never the password
        assert password not in answer.text
    assert (await client.get("/", follow_redirects=False)).status_code == 303  # not signed in
    failed = [(e.email, e.outcome, e.detail) for e in audit(sqlite_engine)]
    assert failed == [
        (OFFICER, "failed", "wrong password"),
        ("nobody@la.example.gov.uk", "failed", "no such account"),
    ]


async def test_an_empty_form_names_each_missing_field(client: httpx.AsyncClient) -> None:
    answer = await sign_in(client, "", "")
    assert answer.status_code == 400
    assert error_summary(answer.text) == [
        ("#email", "Enter your email address"),
        ("#password", "Enter your password"),
    ]
    assert 'id="email-error"' in answer.text and 'id="password-error"' in answer.text


async def test_an_account_is_throttled_after_repeated_failures_even_with_the_right_password(
    app: FastAPI, client: httpx.AsyncClient, sqlite_engine: Engine, clock: Clock
) -> None:
    add_user(sqlite_engine, OFFICER)
    for _ in range(5):
        assert (await sign_in(client, OFFICER, WRONG)).status_code == 400
        clock.advance(seconds=30)
    throttled = await sign_in(client, OFFICER, PASSWORD)
    assert throttled.status_code == 429
    [(_, message)] = error_summary(throttled.text)
    assert message == "You have tried to sign in too many times. Wait 13 minutes, then try again"
    assert audit(sqlite_engine)[-1].outcome == "throttled"
    # Once the first failure is 15 minutes old, the account opens again.
    clock.advance(minutes=13)
    assert (await sign_in(client, OFFICER, PASSWORD)).status_code == 303
    # A success starts the count again.
    async with browser(app) as other:
        assert (await sign_in(other, OFFICER, WRONG)).status_code == 400


async def test_a_client_address_is_throttled_across_accounts(
    make_app: Callable[..., FastAPI], sqlite_engine: Engine
) -> None:
    app = make_app(web_sign_in_address_attempts=3)
    add_user(sqlite_engine, OFFICER)
    async with browser(app, client=("198.51.100.7", 1000)) as attacker:
        for n in range(3):
            answer = await sign_in(attacker, f"guess{n}@la.example.gov.uk", WRONG)
            assert answer.status_code == 400
        refused = await sign_in(attacker, OFFICER, PASSWORD)
        assert refused.status_code == 429
        assert "You have tried to sign in too many times" in refused.text
    async with browser(app, client=("192.0.2.20", 1000)) as officer:
        assert (await sign_in(officer, OFFICER, PASSWORD)).status_code == 303


async def test_throttling_is_shared_by_every_web_process(
    make_app: Callable[..., FastAPI], sqlite_engine: Engine
) -> None:
    first, second = make_app(), make_app()  # two processes on one register
    add_user(sqlite_engine, OFFICER)
    async with browser(first) as one, browser(second) as two:
        for n in range(5):
            assert (await sign_in(one if n % 2 else two, OFFICER, WRONG)).status_code == 400
        assert (await sign_in(one, OFFICER, PASSWORD)).status_code == 429
        assert (await sign_in(two, OFFICER, PASSWORD)).status_code == 429


async def test_the_session_cookie_holds_a_token_only_with_secure_flags(
    client: httpx.AsyncClient, sqlite_engine: Engine
) -> None:
    add_user(sqlite_engine, OFFICER)
    answer = await sign_in(client, OFFICER)
    cookie = answer.headers["set-cookie"]
    name, _, rest = cookie.partition("=")
    token = rest.split(";")[0]
    assert name == SECURE_COOKIE  # __Host-: Secure, Path=/, no Domain
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "secure", "samesite=lax", "path=/"} <= flags
    assert not any(flag.startswith(("domain", "expires", "max-age")) for flag in flags)
    # The register keeps a keyed hash of the token, never the token.
    [row] = [s for s in _sessions(sqlite_engine) if s.account_id is not None]
    assert row.token_hash != token and len(row.token_hash) == 64
    assert token not in row.token_hash


async def test_without_secure_cookies_the_cookie_has_no_secure_flag(
    make_app: Callable[..., FastAPI], sqlite_engine: Engine
) -> None:
    app = make_app(web_secure_cookies=False)
    add_user(sqlite_engine, OFFICER)
    async with browser(app) as http:
        answer = await sign_in(http, OFFICER)
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("cme_session=")
    assert "secure" not in cookie.lower() and "httponly" in cookie.lower()


async def test_signing_in_starts_a_new_session(
    app: FastAPI, client: httpx.AsyncClient, sqlite_engine: Engine
) -> None:
    add_user(sqlite_engine, OFFICER)
    await client.get("/sign-in")
    before = client.cookies[SECURE_COOKIE]  # the visitor's session (its CSRF token)
    await sign_in(client, OFFICER)
    after = client.cookies[SECURE_COOKIE]
    assert after != before
    # The visitor's session is gone: its cookie signs nobody in and opens no form.
    async with browser(app) as other:
        other.cookies.set(SECURE_COOKIE, before, domain="testserver")
        assert (await other.get("/")).status_code == 303


async def test_sign_out_ends_the_session_server_side(
    app: FastAPI, client: httpx.AsyncClient, sqlite_engine: Engine
) -> None:
    add_user(sqlite_engine, OFFICER)
    await sign_in(client, OFFICER)
    old = client.cookies[SECURE_COOKIE]
    home = await client.get("/")
    answer = await client.post("/sign-out", data={"csrf_token": csrf_of(home.text)})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/sign-in?signed-out=1"
    assert "max-age=0" in answer.headers["set-cookie"].lower()
    assert "You have signed out" in (await client.get(answer.headers["location"])).text
    assert [s for s in _sessions(sqlite_engine) if s.account_id is not None] == []
    # The old cookie, replayed, no longer works.
    async with browser(app) as replay:
        replay.cookies.set(SECURE_COOKIE, old, domain="testserver")
        again = await replay.get("/")
        assert again.status_code == 303 and again.headers["location"].startswith("/sign-in")
    assert [(e.event, e.method) for e in audit(sqlite_engine)][-1] == ("sign_out", "local")


async def test_a_session_ends_after_its_idle_timeout(
    client: httpx.AsyncClient, sqlite_engine: Engine, clock: Clock
) -> None:
    add_user(sqlite_engine, OFFICER)
    await sign_in(client, OFFICER)
    clock.advance(minutes=29)
    assert (await client.get("/")).status_code == 200  # still in use
    clock.advance(minutes=30)
    answer = await client.get("/admin/users")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/sign-in?next=/admin/users&timeout=1"
    page = await client.get(answer.headers["location"])
    assert "You were signed out because you had not used the service" in page.text
    assert [s for s in _sessions(sqlite_engine) if s.account_id is not None] == []


async def test_a_session_ends_after_its_absolute_timeout_however_busy(
    client: httpx.AsyncClient, sqlite_engine: Engine, clock: Clock
) -> None:
    add_user(sqlite_engine, OFFICER)
    await sign_in(client, OFFICER)
    for _ in range(12 * 3 - 1):  # every 20 minutes for nearly 12 hours
        clock.advance(minutes=20)
        assert (await client.get("/")).status_code == 200
    clock.advance(minutes=20)
    assert (await client.get("/")).status_code == 303


async def test_a_page_brings_the_person_back_after_sign_in_and_never_elsewhere(
    client: httpx.AsyncClient, sqlite_engine: Engine
) -> None:
    add_user(sqlite_engine, "admin@la.example.gov.uk", role=Role.ADMIN)
    first = await client.get("/admin/users")
    assert first.status_code == 303 and first.headers["location"] == "/sign-in?next=/admin/users"
    answer = await sign_in(client, "admin@la.example.gov.uk", next="/admin/users")
    assert answer.headers["location"] == "/admin/users"
    await client.post("/sign-out", data={"csrf_token": csrf_of((await client.get("/")).text)})
    for elsewhere in ("//evil.example", "https://evil.example/", "/\\evil.example"):
        answer = await sign_in(client, "admin@la.example.gov.uk", next=elsewhere)
        assert answer.headers["location"] == "/", elsewhere
        await client.post("/sign-out", data={"csrf_token": csrf_of((await client.get("/")).text)})


async def test_a_one_time_password_must_be_changed_before_anything_else(
    app: FastAPI, client: httpx.AsyncClient, sqlite_engine: Engine
) -> None:
    one_time = "Abcd-Efgh-Jkmn-Pqrs"
    add_user(sqlite_engine, OFFICER, password=one_time, must_change_password=True)
    answer = await sign_in(client, OFFICER, one_time)
    assert answer.headers["location"] == "/change-password"
    # Every other page sends the person back there.
    for path in ("/", "/admin/users"):
        elsewhere = await client.get(path)
        assert (elsewhere.status_code, elsewhere.headers["location"]) == (303, "/change-password")
    page = await client.get("/change-password")
    assert "Create a new password" in page.text and "one-time password" in page.text

    async def change(current: str, new: str, confirm: str) -> httpx.Response:
        return await post_form(
            client,
            "/change-password",
            "/change-password",
            {"current_password": current, "new_password": new, "confirm_password": confirm},
        )

    refused = {
        (one_time, one_time, one_time): (
            "#new_password",
            "Your new password must be different from your current (or one-time) password",
        ),
        (one_time, "too short", "too short"): (
            "#new_password",
            "Your new password must be at least 12 characters",
        ),
        (one_time, "a new long password", "a different one"): (
            "#confirm_password",
            "Enter the same new password twice",
        ),
        ("not the one-time one", "a new long password", "a new long password"): (
            "#current_password",
            "Your current password is not correct",
        ),
        (one_time, OFFICER, OFFICER): (
            "#new_password",
            "Your new password must not be your email address",
        ),
    }
    for (current, new, confirm), expected in refused.items():
        answer = await change(current, new, confirm)
        assert answer.status_code == 400
        assert error_summary(answer.text) == [expected]
    done = await change(one_time, "my own long password", "my own long password")
    assert (done.status_code, done.headers["location"]) == (303, "/")
    home = await client.get("/")
    assert home.status_code == 200 and "Your password has been changed" in home.text
    assert "Your password has been changed" not in (await client.get("/")).text  # once
    assert ("password_changed", "success") in [(e.event, e.outcome) for e in audit(sqlite_engine)]
    # The one-time password no longer works; the new one does.
    async with browser(app) as later:
        assert (await sign_in(later, OFFICER, one_time)).status_code == 400
        answer = await sign_in(later, OFFICER, "my own long password")
        assert answer.headers["location"] == "/"


async def test_changing_a_password_ends_the_accounts_other_sessions(
    app: FastAPI, sqlite_engine: Engine
) -> None:
    add_user(sqlite_engine, OFFICER)
    async with browser(app) as laptop, browser(app) as phone:
        await sign_in(laptop, OFFICER)
        await sign_in(phone, OFFICER)
        new = "another long password"
        answer = await post_form(
            laptop,
            "/change-password",
            "/change-password",
            {"current_password": PASSWORD, "new_password": new, "confirm_password": new},
        )
        assert answer.status_code == 303
        assert (await laptop.get("/")).status_code == 200
        assert (await phone.get("/")).status_code == 303


async def test_a_disabled_account_is_signed_out_at_once_and_told_only_with_its_password(
    app: FastAPI, sqlite_engine: Engine, clock: Clock
) -> None:
    account = add_user(sqlite_engine, OFFICER)
    async with browser(app) as http:
        await sign_in(http, OFFICER)
        with Session(sqlite_engine) as session:
            row = session.get(AccountRow, account.id)
            assert row is not None
            row.disabled_at = clock.now
            session.add(row)
            session.commit()
        assert (await http.get("/")).status_code == 303
        wrong = await sign_in(http, OFFICER, WRONG)
        assert error_summary(wrong.text) == [
            ("#email", "Enter a correct email address and password")
        ]
        right = await sign_in(http, OFFICER, PASSWORD)
        assert right.status_code == 400
        assert "Your account has been disabled" in right.text


async def test_an_openid_connect_only_account_has_no_password_to_sign_in_with(
    client: httpx.AsyncClient, sqlite_engine: Engine
) -> None:
    add_user(sqlite_engine, OFFICER, password=None)
    answer = await sign_in(client, OFFICER, "")
    assert error_summary(answer.text) == [("#password", "Enter your password")]
    answer = await sign_in(client, OFFICER, PASSWORD)
    assert error_summary(answer.text) == [("#email", "Enter a correct email address and password")]


async def test_the_dependencies_give_pages_the_user_their_role_check_and_their_actor(
    app: FastAPI, sqlite_engine: Engine
) -> None:
    add_user(
        sqlite_engine,
        "head@school.example.org",
        role=Role.SCHOOL,
        name="Hazel Head",
        schools=("8512000", "8512001"),
    )

    @app.get("/test/actor")
    def actor(user: Annotated[SignedInUser, Depends(current_user)]) -> dict[str, object]:
        return actor_of(user).model_dump(mode="json")

    @app.get("/test/officers-only")
    def officers(user: Annotated[SignedInUser, Depends(OFFICERS_ONLY)]) -> str:
        return "ok"

    async with browser(app) as http:
        await sign_in(http, "head@school.example.org")
        answer = await http.get("/test/actor")
        assert Actor.model_validate(answer.json()) == Actor(
            name="Hazel Head", role=Role.SCHOOL, schools=("8512000", "8512001")
        )
        refused = await http.get("/test/officers-only")
        assert refused.status_code == 403
        assert (
            "This page is for a CME officer or team leader. You are signed in as a school user."
            in refused.text
        )


async def test_request_session_works_before_sign_in(
    app: FastAPI, sqlite_engine: Engine, clock: Clock
) -> None:
    """An OpenID Connect sign-in keeps its state in ``request.session`` across the provider's
    redirect, before anyone is signed in."""

    @app.get("/test/remember")
    async def remember(request: Request) -> str:
        request.session["_state_oidc_abc"] = {"nonce": "n-1", "redirect": "/"}
        return "kept"

    @app.get("/test/recall")
    async def recall(request: Request) -> dict[str, object]:
        return {"state": request.session.pop("_state_oidc_abc", None)}

    async with browser(app) as http:
        assert (await http.get("/test/remember")).status_code == 200
        clock.advance(minutes=5)
        assert (await http.get("/test/recall")).json() == {
            "state": {"nonce": "n-1", "redirect": "/"}
        }
        assert (await http.get("/test/recall")).json() == {"state": None}  # popped for good
    [visitor] = _sessions(sqlite_engine)
    assert visitor.account_id is None
    # A page that writes nothing makes no session.
    async with browser(app) as quiet:
        await quiet.get("/test/recall")
        assert SECURE_COOKIE not in quiet.cookies
    assert len(_sessions(sqlite_engine)) == 1


async def test_timedelta_settings_are_the_ones_documented(app: FastAPI) -> None:
    web = app.state.web
    assert web.idle_timeout == timedelta(minutes=30)
    assert web.session_lifetime == timedelta(hours=12)


async def test_sessions_throttling_and_the_audit_on_postgresql(
    postgres_engine: Engine, tmp_path: Path, clock: Clock
) -> None:
    app = create_app(
        web_settings(tmp_path), engine=postgres_engine, passwords=FAST_PASSWORDS, clock=clock
    )
    add_user(postgres_engine, OFFICER, name="Olive Officer")
    async with browser(app) as http:
        for _ in range(5):
            assert (await sign_in(http, OFFICER, WRONG)).status_code == 400
        assert (await sign_in(http, OFFICER)).status_code == 429
        clock.advance(minutes=16)
        assert (await sign_in(http, OFFICER)).status_code == 303
        home = await http.get("/")
        assert "Olive Officer" in home.text
        await http.post("/sign-out", data={"csrf_token": csrf_of(home.text)})
        assert (await http.get("/")).status_code == 303
    outcomes = [(e.event, e.outcome) for e in audit(postgres_engine)]
    assert outcomes == [
        *[("sign_in", "failed")] * 5,
        ("sign_in", "throttled"),
        ("sign_in", "success"),
        ("sign_out", "success"),
    ]
    assert [s for s in _sessions(postgres_engine) if s.account_id is not None] == []
