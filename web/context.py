"""What every part of the web app shares, made once by :func:`web.app.create_app`: the settings,
the register's engine, the connection to Temporal, the templates, the password hasher and the
clock. Kept on ``app.state.web``; pages reach it through the dependencies here.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from fastapi import Request
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.client import Client

from settings import Settings
from web.passwords import Passwords

__all__ = [
    "ServiceUnavailable",
    "TemporalConnection",
    "WebContext",
    "register_session",
    "temporal_client",
    "web_context",
]


class ServiceUnavailable(Exception):
    """Something the page needs (Temporal) does not answer: a 503 page, try again later."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


class TemporalConnection:
    """One Temporal client for the app, connected on first use (Temporal may start after the
    app) with the encrypting data converter, its cases' data keys read from the register."""

    def __init__(self, connect: Callable[[], Awaitable[Client]]) -> None:
        self._connect = connect
        self._client: Client | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def of(cls, client: Client) -> TemporalConnection:
        connection = cls(_never)
        connection._client = client
        return connection

    async def client(self) -> Client:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                try:
                    self._client = await self._connect()
                except (RuntimeError, OSError) as exc:
                    raise ServiceUnavailable("the case service (Temporal)") from exc
            return self._client


async def _never() -> Client:  # pragma: no cover - a connection made from a client
    raise RuntimeError("no connection")


@dataclass
class WebContext:
    settings: Settings
    engine: Engine
    templates: Jinja2Templates
    temporal: TemporalConnection
    passwords: Passwords
    clock: Callable[[], datetime]
    secret: bytes
    owns_engine: bool = False
    # Origins a form may be sent on to (CSP form-action), beyond the app's own: an OpenID
    # Connect provider's, for a sign-in form that posts to it.
    form_action_origins: list[str] = field(default_factory=list)

    @property
    def idle_timeout(self) -> timedelta:
        return timedelta(minutes=self.settings.web_session_idle_minutes)

    @property
    def session_lifetime(self) -> timedelta:
        return timedelta(hours=self.settings.web_session_max_hours)

    def token_hash(self, token: str) -> str:
        """A session token's keyed hash (what the register keeps)."""
        return hmac.new(self.secret, token.encode(), hashlib.sha256).hexdigest()


def web_context(request: Request) -> WebContext:
    context: WebContext = request.app.state.web
    return context


def register_session(request: Request) -> Iterator[Session]:
    """A session on the register for one request (a FastAPI dependency)."""
    with Session(web_context(request).engine) as session:
        yield session


async def temporal_client(request: Request) -> Client:
    """The app's Temporal client (a FastAPI dependency); a 503 page when Temporal does not
    answer."""
    return await web_context(request).temporal.client()
