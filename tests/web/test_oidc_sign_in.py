"""Signing in with the council's account (web/oidc_sign_in.py) end to end: the real app, a person's
browser (httpx, cookies kept, redirects followed) and a real OpenID provider on loopback
(oidc-provider, tests/oidc) with its own login and consent pages. An identity signs in only as an
account an administrator made, matched on its issuer and subject once bound; every attempt is in
the audit.
"""

from __future__ import annotations

import re
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlmodel import Session

from activities.accounts import AccountPublic, find_account
from domain.case.model import Role
from tests.oidc.fixtures import (
    OidcAccount,
    OidcProvider,
    StartProvider,
    run_oidc_provider,
    sign_in,
)
from tests.web.conftest import (
    ORIGIN,
    PASSWORD,
    add_user,
    audit,
    browser,
    csrf_of,
)
from tests.web.conftest import (
    sign_in as password_sign_in,
)
from web.auth import DISABLED, WRONG_CREDENTIALS
from web.oidc_sign_in import NOT_SET_UP, NOT_VERIFIED
from web.users import disable_user

CALLBACK = f"{ORIGIN}/sign-in/oidc/callback"
START = f"{ORIGIN}/sign-in/oidc"
ADDRESS = ("192.0.2.20", 50000)


@pytest.fixture(scope="module")
def provider(oidc_provider_factory: StartProvider) -> OidcProvider:
    """A provider whose client returns to the test app (https://testserver)."""
    return oidc_provider_factory(redirect_uris=[CALLBACK])


def oidc_settings(provider: OidcProvider) -> dict[str, Any]:
    return {
        "oidc_issuer": provider.issuer,
        "oidc_client_id": provider.client_id,
        "oidc_client_secret": SecretStr(provider.client_secret),
    }


@pytest.fixture
async def person() -> AsyncIterator[Callable[[FastAPI], httpx.AsyncClient]]:
    """A person's browser: the app in process, the provider over HTTP."""
    opened: list[httpx.AsyncClient] = []

    def open_browser(app: FastAPI) -> httpx.AsyncClient:
        opened.append(
            httpx.AsyncClient(
                mounts={ORIGIN: httpx.ASGITransport(app=app, client=ADDRESS)},
                follow_redirects=True,
                timeout=15,
            )
        )
        return opened[-1]

    yield open_browser
    for http in opened:
        await http.aclose()


def account(engine: Engine, email: str) -> AccountPublic:
    with Session(engine) as session:
        found = find_account(session=session, email=email)
    assert found is not None
    return found


def refused(page: httpx.Response, words: str, status: int = 403) -> None:
    assert page.status_code == status, page.text
    assert "You could not be signed in" in page.text
    assert words.replace("'", "&#39;") in page.text
    assert str(page.url) == f"{ORIGIN}/sign-in/oidc/callback" or page.url.path.startswith(
        "/sign-in/oidc"
    )


async def signed_in_as(http: httpx.AsyncClient) -> str:
    """The home page's caption: "name, role" (the sign-in page when signed out)."""
    home = await http.get(f"{ORIGIN}/")
    caption = re.search(r'<span class="govuk-caption-l">([^<]*)</span>', home.text)
    return caption.group(1) if caption else f"not signed in ({home.url.path})"


# -- signing in ------------------------------------------------------------------------------------


async def test_an_officer_signs_in_with_their_council_account_and_lands_home_as_their_account(
    make_app: Callable[..., FastAPI],
    sqlite_engine: Engine,
    provider: OidcProvider,
    person: Callable[[FastAPI], httpx.AsyncClient],
) -> None:
    officer = provider.accounts["officer"]
    # `cme users add ... --oidc-only`: no password; the account's own name, not the provider's.
    add_user(
        sqlite_engine,
        officer.email.upper(),
        role=Role.CME_OFFICER,
        name="Alex Officer-Account",
        password=None,
    )
    app = make_app(**oidc_settings(provider))
    http = person(app)

    # The sign-in page's button is a link (it works without JavaScript), carrying the page asked
    # for.
    form = await http.get(f"{ORIGIN}/sign-in", params={"next": "/tasks?view=mine"})
    assert re.search(
        r'<a href="/sign-in/oidc\?next=/tasks%3Fview%3Dmine" role="button"[^>]*>\s*'
        r"Sign in with your council account",
        form.text,
    ), form.text
    page = await sign_in(http, f"{START}?next=/tasks%3Fview%3Dmine", officer)
    callback = next(r for r in page.history if r.url.path == "/sign-in/oidc/callback")
    assert callback.status_code == 303
    assert callback.headers["location"] == "/tasks?view=mine"
    # A new session, in a secure cookie.
    assert "__Host-cme_session=" in callback.headers["set-cookie"]
    assert "Secure" in callback.headers["set-cookie"]

    assert await signed_in_as(http) == "Alex Officer-Account, CME officer"
    bound = account(sqlite_engine, officer.email)
    assert (bound.oidc_issuer, bound.oidc_subject) == (provider.issuer, officer.sub)
    assert bound.last_sign_in_at is not None
    [event] = audit(sqlite_engine, officer.email)
    assert (event.event, event.outcome, event.method, event.account_id) == (
        "sign_in",
        "success",
        "oidc",
        bound.id,
    )
    assert event.detail == "first sign-in: bound to this OpenID Connect identity"
    assert event.client_address == ADDRESS[0]

    # Signing out ends the session (the audit says how it had signed in).
    home = await http.get(f"{ORIGIN}/")
    out = await http.post(
        f"{ORIGIN}/sign-out", data={"csrf_token": csrf_of(home.text)}, headers={"Origin": ORIGIN}
    )
    assert out.url.path == "/sign-in"
    assert await signed_in_as(http) == "not signed in (/sign-in)"
    assert [(e.event, e.method) for e in audit(sqlite_engine, officer.email)] == [
        ("sign_in", "oidc"),
        ("sign_out", "oidc"),
    ]

    # An OpenID Connect only account has no password to sign in with.
    async with browser(app) as other:
        local = await password_sign_in(other, officer.email, PASSWORD)
        assert local.status_code == 400 and WRONG_CREDENTIALS in local.text


async def test_an_account_with_a_one_time_password_is_not_asked_to_change_it_after_oidc(
    make_app: Callable[..., FastAPI],
    sqlite_engine: Engine,
    provider: OidcProvider,
    person: Callable[[FastAPI], httpx.AsyncClient],
) -> None:
    officer = provider.accounts["officer"]
    add_user(sqlite_engine, officer.email, name="Alex Officer", must_change_password=True)
    http = person(make_app(**oidc_settings(provider)))
    page = await sign_in(http, START, officer)
    assert page.url.path == "/"
    assert await signed_in_as(http) == "Alex Officer, CME officer"


async def test_an_unknown_email_is_refused_and_audited(
    make_app: Callable[..., FastAPI],
    sqlite_engine: Engine,
    provider: OidcProvider,
    person: Callable[[FastAPI], httpx.AsyncClient],
) -> None:
    officer = provider.accounts["officer"]
    add_user(sqlite_engine, "someone.else@council.example", name="Someone Else")
    http = person(make_app(**oidc_settings(provider)))
    page = await sign_in(http, START, officer)
    refused(page, NOT_SET_UP)
    assert await signed_in_as(http) == "not signed in (/sign-in)"
    [event] = audit(sqlite_engine, officer.email)
    assert (event.event, event.outcome, event.method, event.account_id, event.detail) == (
        "sign_in",
        "failed",
        "oidc",
        None,
        "no such account",
    )
    assert event.client_address == ADDRESS[0]


async def test_an_unverified_email_is_refused_and_does_not_lock_the_password_out(
    make_app: Callable[..., FastAPI],
    sqlite_engine: Engine,
    provider: OidcProvider,
    person: Callable[[FastAPI], httpx.AsyncClient],
) -> None:
    unverified = provider.accounts["unverified"]
    add_user(
        sqlite_engine, unverified.email, name="Sam Account", role=Role.SCHOOL, schools=("8512000",)
    )
    app = make_app(web_sign_in_attempts=2, **oidc_settings(provider))
    for _ in range(3):
        refused(await sign_in(person(app), START, unverified), NOT_VERIFIED)
    found = account(sqlite_engine, unverified.email)
    assert found.oidc_subject is None  # not bound
    assert {(e.outcome, e.method, e.detail) for e in audit(sqlite_engine, unverified.email)} == {
        ("failed", "oidc", "email not verified")
    }
    # Only a password can be guessed: the refusals count for no password sign-in's throttle.
    async with browser(app) as other:
        local = await password_sign_in(other, unverified.email, PASSWORD)
        assert local.status_code == 303, local.text


async def test_a_disabled_account_is_refused_even_once_bound(
    make_app: Callable[..., FastAPI],
    sqlite_engine: Engine,
    provider: OidcProvider,
    person: Callable[[FastAPI], httpx.AsyncClient],
) -> None:
    officer = provider.accounts["officer"]
    add_user(sqlite_engine, officer.email, name="Alex Officer", password=None)
    app = make_app(**oidc_settings(provider))
    first = person(app)
    await sign_in(first, START, officer)
    assert await signed_in_as(first) == "Alex Officer, CME officer"

    with Session(sqlite_engine) as session:
        disable_user(
            session=session, account=account(sqlite_engine, officer.email), by=None, method="cli"
        )
    assert await signed_in_as(first) == "not signed in (/sign-in)"  # its session ended
    again = person(app)
    refused(await sign_in(again, START, officer), DISABLED)
    assert await signed_in_as(again) == "not signed in (/sign-in)"
    sign_ins = [e for e in audit(sqlite_engine, officer.email) if e.event == "sign_in"]
    assert [(e.outcome, e.method, e.detail) for e in sign_ins] == [
        ("success", "oidc", "first sign-in: bound to this OpenID Connect identity"),
        ("failed", "oidc", "account disabled"),
    ]

    # A disabled account that was never bound is refused too, and not bound.
    other = provider.accounts["entra_edov"]
    add_user(sqlite_engine, other.email, name="Lee Verified", password=None)
    with Session(sqlite_engine) as session:
        disable_user(
            session=session, account=account(sqlite_engine, other.email), by=None, method="cli"
        )
    refused(await sign_in(person(app), START, other), DISABLED)
    assert account(sqlite_engine, other.email).oidc_subject is None


async def test_too_many_failures_from_an_address_are_throttled(
    make_app: Callable[..., FastAPI],
    sqlite_engine: Engine,
    provider: OidcProvider,
    person: Callable[[FastAPI], httpx.AsyncClient],
) -> None:
    officer = provider.accounts["officer"]
    app = make_app(web_sign_in_address_attempts=2, **oidc_settings(provider))
    for _ in range(2):
        refused(await sign_in(person(app), START, officer), NOT_SET_UP)
    add_user(sqlite_engine, officer.email, name="Alex Officer", password=None)
    page = await sign_in(person(app), START, officer)
    refused(page, "too many failed attempts to sign in from your network", status=429)
    assert "Wait 15 minutes" in page.text
    assert [e.outcome for e in audit(sqlite_engine, officer.email)] == [
        "failed",
        "failed",
        "throttled",
    ]
    assert account(sqlite_engine, officer.email).oidc_subject is None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_the_binding_to_issuer_and_subject_holds_when_the_email_changes(
    make_app: Callable[..., FastAPI],
    sqlite_engine: Engine,
    person: Callable[[FastAPI], httpx.AsyncClient],
    tmp_path: Path,
) -> None:
    """The person's address changes at the provider: they still sign in as their own account
    (not the account of their new address), and whoever has their old address now does not."""
    old, new = "jo.before@council.example", "jo.after@council.example"
    jo = OidcAccount(sub="staff-0100", email=old, name="Jo Mover", claims={"email_verified": True})
    port, secret = _free_port(), "test-client-secret-0123456789"
    add_user(sqlite_engine, old, name="Jo Mover (account)", password=None)
    add_user(sqlite_engine, new, name="Another Person", role=Role.MANAGER, password=None)
    options: dict[str, Any] = {"redirect_uris": [CALLBACK], "client_secret": secret, "port": port}

    with run_oidc_provider(tmp_path / "before", accounts={"jo": jo}, **options) as before:
        app = make_app(**oidc_settings(before))
        http = person(app)
        await sign_in(http, START, jo)
        assert await signed_in_as(http) == "Jo Mover (account), CME officer"

    moved = OidcAccount(sub=jo.sub, email=new, name=jo.name, password=jo.password, claims=jo.claims)
    newcomer = OidcAccount(
        sub="staff-0200", email=old, name="Newcomer", claims={"email_verified": True}
    )
    accounts = {"jo": moved, "newcomer": newcomer}
    with run_oidc_provider(tmp_path / "after", accounts=accounts, **options) as after:
        assert after.issuer == before.issuer  # the same provider, started again
        http = person(app)
        await sign_in(http, START, moved)
        assert await signed_in_as(http) == "Jo Mover (account), CME officer"
        refused(await sign_in(person(app), START, newcomer), NOT_SET_UP)

    assert account(sqlite_engine, old).oidc_subject == jo.sub
    assert account(sqlite_engine, new).oidc_subject is None
    assert [e.detail for e in audit(sqlite_engine, old) if e.outcome == "failed"] == [
        "the account is bound to another OpenID Connect identity"
    ]


async def test_without_openid_connect_settings_there_is_no_button_and_no_route(
    make_app: Callable[..., FastAPI],
) -> None:
    app = make_app()
    async with browser(app) as http:
        page = await http.get("/sign-in")
        assert "/sign-in/oidc" not in page.text
        assert (await http.get("/sign-in/oidc")).status_code == 404
