"""Server-side sessions: the cookie holds only a random token; the register keeps the session
(``web_session``) under the token's keyed hash (HMAC-SHA256 with ``CME_WEB_SESSION_SECRET``), so
neither a copy of the register nor of the logs gives anyone a session.

:class:`SessionMiddleware` loads the session of every request (but the static assets and the
health check) and gives the page:

* ``request.session``: the session's data, a dict kept in the register. It works before sign-in
  too (an OpenID Connect sign-in keeps its state there across the provider's redirect): a
  visitor's session is made the first time something is written to it (the sign-in form's CSRF
  token, say), not before;
* ``request.state.user``: the signed-in :class:`SignedInUser`, or ``None``.

A session ends after ``CME_WEB_SESSION_IDLE_MINUTES`` without a request and
``CME_WEB_SESSION_MAX_HOURS`` after sign-in, whatever happens; when its account is disabled; and
at sign-out, when its row is deleted (the old cookie then finds nothing). Signing in always
starts a new session with a new token (no session fixation). The cookie: HttpOnly,
SameSite=Lax, Path=/, no expiry (it goes when the browser closes), and, with
``CME_WEB_SECURE_COOKIES`` (the default), Secure with the ``__Host-`` prefix.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.cookies import SimpleCookie
from typing import Any

from anyio import to_thread
from pydantic import BaseModel, ConfigDict
from sqlmodel import Session
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from activities.accounts import (
    AccountPublic,
    create_web_session,
    delete_web_session,
    end_account_sessions,
    get_account,
    get_web_session,
    purge_web_sessions,
    save_web_session,
)
from domain.case.model import Role
from web.context import WebContext, web_context
from web.headers import STATIC_PREFIXES

__all__ = [
    "COOKIE",
    "SECURE_COOKIE",
    "SessionData",
    "SessionMiddleware",
    "SignedInUser",
    "cookie_name",
    "end_other_sessions",
    "sign_in",
    "sign_out",
]

COOKIE = "cme_session"
SECURE_COOKIE = "__Host-cme_session"
# How often a session's last use is written when nothing else changes: the idle timeout is
# counted to within this.
TOUCH_EVERY = timedelta(seconds=60)
# The API (web/api) authenticates every request with a bearer token: it has no session at all.
_UNTRACKED = ("/healthz", "/api/")


def cookie_name(secure: bool) -> str:
    return SECURE_COOKIE if secure else COOKIE


class SessionData(dict[str, Any]):
    """``request.session``: a dict that knows whether it was changed."""

    modified = False

    def __setitem__(self, key: str, value: Any) -> None:
        self.modified = True
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.modified = True
        super().__delitem__(key)

    def pop(self, key: str, *default: Any) -> Any:
        if key in self:
            self.modified = True
        return super().pop(key, *default)

    def popitem(self) -> tuple[str, Any]:
        self.modified = True
        return super().popitem()

    def clear(self) -> None:
        self.modified = self.modified or bool(self)
        super().clear()

    def update(self, *args: Any, **kwargs: Any) -> None:
        self.modified = True
        super().update(*args, **kwargs)

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self.modified = True
        return super().setdefault(key, default)


class SignedInUser(BaseModel):
    """The person signed in to this session, as the pages see them (read from the register on
    every request: a role changed or an account disabled takes effect at once)."""

    model_config = ConfigDict(frozen=True)

    id: int
    email: str
    name: str
    role: Role
    schools: tuple[str, ...] = ()
    must_change_password: bool = False
    has_password: bool = False
    method: str = "local"  # how this session signed in: local | oidc

    @classmethod
    def of(cls, account: AccountPublic, method: str) -> SignedInUser:
        return cls(
            id=account.id,
            email=account.email,
            name=account.display_name,
            role=Role(account.role),
            schools=tuple(account.schools),
            # A one-time password is changed at the next password sign-in: a person signed in
            # with their council account (OpenID Connect) may not know it, and needs none here.
            must_change_password=account.must_change_password and method == "local",
            has_password=account.has_password,
            method=method,
        )


@dataclass
class _State:
    """One request's session: what was loaded and what to do with the cookie at the end."""

    data: SessionData = field(default_factory=SessionData)
    token_hash: str | None = None
    last_seen_at: datetime | None = None
    new_token: str | None = None  # a session made in this request: its token goes in the cookie
    clear_cookie: bool = False  # the cookie names no session (any more)
    timed_out: bool = False  # a signed-in session ended by its timeouts


class SessionMiddleware:
    """ASGI middleware: loads the session before the page, saves it before the answer starts."""

    def __init__(self, app: ASGIApp, *, context: WebContext) -> None:
        self.app = app
        self.web = context
        self.cookie = cookie_name(context.settings.web_secure_cookies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith((*STATIC_PREFIXES, *_UNTRACKED)):
            await self.app(scope, receive, send)
            return
        token = Request(scope).cookies.get(self.cookie)
        state, user = await to_thread.run_sync(self._load, token)
        scope["session"] = state.data
        scope.setdefault("state", {})
        scope["state"]["session_state"] = state
        scope["state"]["user"] = user

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                # The page may have signed in or out: its scope holds this request's session.
                current: _State = scope["state"]["session_state"]
                current.data = scope["session"]
                header = await to_thread.run_sync(self._save, current)
                if header is not None:
                    message = dict(message)
                    message["headers"] = [*message.get("headers", []), (b"set-cookie", header)]
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    # -- loading and saving (in a worker thread: the register is synchronous)

    def _load(self, token: str | None) -> tuple[_State, SignedInUser | None]:
        if not token:
            return _State(), None
        now = self.web.clock()
        token_hash = self.web.token_hash(token)
        with Session(self.web.engine) as db:
            found = get_web_session(session=db, token_hash=token_hash)
            if found is None:
                return _State(clear_cookie=True), None
            ended = now >= found.expires_at or now - found.last_seen_at >= self.web.idle_timeout
            account = None
            if found.account_id is not None and not ended:
                account = get_account(session=db, account_id=found.account_id)
                ended = account is None or account.disabled
            if ended:
                delete_web_session(session=db, token_hash=token_hash)
                return _State(clear_cookie=True, timed_out=found.account_id is not None), None
        state = _State(
            data=SessionData(found.data), token_hash=token_hash, last_seen_at=found.last_seen_at
        )
        user = SignedInUser.of(account, found.method or "local") if account is not None else None
        return state, user

    def _save(self, state: _State) -> bytes | None:
        """Write what changed; the Set-Cookie header to send, if any."""
        now = self.web.clock()
        with Session(self.web.engine) as db:
            if state.new_token is not None:
                if state.data.modified:
                    save_web_session(
                        session=db,
                        token_hash=self.web.token_hash(state.new_token),
                        data=state.data,
                        last_seen_at=now,
                    )
                return self._cookie(state.new_token)
            if state.token_hash is not None:
                stale = state.last_seen_at is None or now - state.last_seen_at >= TOUCH_EVERY
                if state.data.modified or stale:
                    save_web_session(
                        session=db,
                        token_hash=state.token_hash,
                        data=state.data if state.data.modified else None,
                        last_seen_at=now,
                    )
                return None
            if state.data.modified and state.data:
                token = secrets.token_urlsafe(32)
                create_web_session(
                    session=db,
                    token_hash=self.web.token_hash(token),
                    account_id=None,
                    method=None,
                    data=dict(state.data),
                    at=now,
                    expires_at=now + self.web.session_lifetime,
                )
                purge_web_sessions(session=db, now=now, idle_since=now - self.web.idle_timeout)
                return self._cookie(token)
        return self._cookie("", clear=True) if state.clear_cookie else None

    def _cookie(self, token: str, *, clear: bool = False) -> bytes:
        cookie: SimpleCookie = SimpleCookie()
        cookie[self.cookie] = token
        morsel = cookie[self.cookie]
        morsel["path"] = "/"
        morsel["httponly"] = True
        morsel["samesite"] = "Lax"
        if self.web.settings.web_secure_cookies:
            morsel["secure"] = True
        if clear:
            morsel["max-age"] = 0
            morsel["expires"] = "Thu, 01 Jan 1970 00:00:00 GMT"
        return morsel.OutputString().encode("latin-1")


def _state(request: Request) -> _State:
    state = getattr(request.state, "session_state", None)
    if not isinstance(state, _State):
        raise RuntimeError("no session: SessionMiddleware does not cover this path")
    return state


def sign_in(request: Request, account: AccountPublic, *, method: str) -> SignedInUser:
    """Start a new session for ``account`` (``local`` or ``oidc``), ending the visitor's session
    (its data goes: the new session gets a new CSRF token). Call it from a page's worker thread
    (a ``def`` route): it writes to the register."""
    web = web_context(request)
    state = _state(request)
    now = web.clock()
    token = secrets.token_urlsafe(32)
    with Session(web.engine) as db:
        if state.token_hash is not None:
            delete_web_session(session=db, token_hash=state.token_hash)
        create_web_session(
            session=db,
            token_hash=web.token_hash(token),
            account_id=account.id,
            method=method,
            data={},
            at=now,
            expires_at=now + web.session_lifetime,
        )
        purge_web_sessions(session=db, now=now, idle_since=now - web.idle_timeout)
    fresh = _State(token_hash=web.token_hash(token), last_seen_at=now, new_token=token)
    request.scope["session"] = fresh.data
    request.scope["state"]["session_state"] = fresh
    user = SignedInUser.of(account, method)
    request.state.user = user
    return user


def sign_out(request: Request) -> str | None:
    """End this session in the register (its cookie then finds nothing) and clear the cookie;
    how it had signed in (``None``: it was not signed in)."""
    web = web_context(request)
    state = _state(request)
    ended = None
    if state.token_hash is not None:
        with Session(web.engine) as db:
            ended = delete_web_session(session=db, token_hash=state.token_hash)
    cleared = _State(clear_cookie=True)
    request.scope["session"] = cleared.data
    request.scope["state"]["session_state"] = cleared
    request.state.user = None
    return ended.method if ended is not None and ended.account_id is not None else None


def end_other_sessions(request: Request, account_id: int) -> int:
    """End the account's other sessions (after a password change); how many."""
    web = web_context(request)
    with Session(web.engine) as db:
        return end_account_sessions(
            session=db, account_id=account_id, keep=_state(request).token_hash
        )
