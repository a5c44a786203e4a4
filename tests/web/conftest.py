"""Fixtures for the web app's tests: the real app (:func:`web.app.create_app`) on a SQLite
register upgraded to the latest revision, with a clock the test moves and a fast password hasher,
and a client that talks to it over ASGI as a browser would (https, cookies kept, the app's own
``Origin`` on every request, as browsers send with every form).

Pages that need Temporal pass their own client (``make_app(temporal=...)``); without one, the app
connects to ``CME_TEMPORAL_ADDRESS`` on first use and shows the 503 page when nobody answers.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlmodel import Session

from activities.accounts import (
    AccountDetails,
    AccountPublic,
    AuthEventPublic,
    add_account,
    list_auth_events,
)
from domain.case.model import Role
from settings import Settings
from web.app import close_app, create_app
from web.passwords import Passwords

ORIGIN = "https://testserver"
SESSION_SECRET = "test-web-session-secret-0123456789abcdef"


@dataclass
class Clock:
    """The app's clock: now, until the test moves it."""

    now: datetime = field(default_factory=lambda: datetime(2026, 3, 2, 9, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


# argon2id with small parameters: the same code, fast enough for many sign-ins per test.
FAST_PASSWORDS = Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def web_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "cme",
        "database_url": f"sqlite:///{tmp_path / 'register' / 'register.db'}",
        "web_session_secret": SecretStr(SESSION_SECRET),
        "web_secure_cookies": True,
        **overrides,
    }
    return Settings(_env_file=None, **values)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_app(
    tmp_path: Path, sqlite_engine: Engine, clock: Clock
) -> Iterator[Callable[..., FastAPI]]:
    """Make the app (settings overridden by keyword), on the test's SQLite register."""
    made: list[FastAPI] = []

    def make(*, temporal: Any = None, **overrides: Any) -> FastAPI:
        app = create_app(
            web_settings(tmp_path, **overrides),
            engine=sqlite_engine,
            temporal=temporal,
            passwords=FAST_PASSWORDS,
            clock=clock,
        )
        made.append(app)
        return app

    yield make
    for app in made:
        close_app(app)


@pytest.fixture
def app(make_app: Callable[..., FastAPI]) -> FastAPI:
    return make_app()


def browser(app: FastAPI, *, client: tuple[str, int] = ("192.0.2.10", 50000)) -> httpx.AsyncClient:
    """A client that keeps cookies, as a browser does, from ``client`` (address, port)."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=client),
        base_url=ORIGIN,
        headers={"Origin": ORIGIN},
    )


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with browser(app) as http:
        yield http


# -- accounts and signing in -----------------------------------------------------------------------

PASSWORD = "a long and unguessable test password"


def add_user(
    engine: Engine,
    email: str,
    *,
    role: Role = Role.CME_OFFICER,
    name: str = "Test Officer",
    schools: tuple[str, ...] = (),
    password: str | None = PASSWORD,
    must_change_password: bool = False,
) -> AccountPublic:
    """An account in the register, as `cme users add` makes one (its password hashed)."""
    with Session(engine) as session:
        return add_account(
            session=session,
            details=AccountDetails(email=email, display_name=name, role=role, schools=schools),
            password_hash=FAST_PASSWORDS.hash(password) if password else None,
            must_change_password=must_change_password,
        )


def csrf_of(html: str) -> str:
    """The CSRF token of the page's (first) form."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


async def sign_in(
    http: httpx.AsyncClient, email: str, password: str = PASSWORD, *, next: str | None = None
) -> httpx.Response:
    """Open the sign-in page and send its form, as a person would."""
    page = await http.get("/sign-in" + (f"?next={next}" if next else ""))
    assert page.status_code == 200, page.text
    form = {"csrf_token": csrf_of(page.text), "email": email, "password": password}
    if next:
        form["next"] = next
    return await http.post("/sign-in", data=form)


async def post_form(
    http: httpx.AsyncClient, page_path: str, action: str, data: dict[str, str]
) -> httpx.Response:
    """Open ``page_path`` and send ``data`` to ``action`` with the page's CSRF token."""
    page = await http.get(page_path)
    assert page.status_code == 200, page.text
    return await http.post(action, data={"csrf_token": csrf_of(page.text), **data})


def audit(engine: Engine, email: str | None = None) -> list[AuthEventPublic]:
    """The audit, oldest first."""
    with Session(engine) as session:
        return list(reversed(list_auth_events(session=session, email=email)))


def error_summary(html: str) -> list[tuple[str, str]]:
    """The error summary's (link, message) pairs."""
    summary = re.search(r'<div class="govuk-error-summary".*?</ul>', html, re.S)
    assert summary, "no error summary on the page"
    return [
        (href, unescape(" ".join(text.split())))
        for href, text in re.findall(r'<a href="([^"]+)">(.*?)</a>', summary.group(0), re.S)
    ]
