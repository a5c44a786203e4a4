"""Who is calling the API: the client of the bearer token (``Authorization: Bearer <token>``),
never a session cookie (the API's paths have no session at all: :mod:`web.sessions` skips them).

Dependencies:

* :func:`api_caller`: the :class:`ApiCaller` of a valid, unrevoked token; else 401 with
  ``WWW-Authenticate: Bearer`` (RFC 6750: ``error="invalid_token"`` for a token that is not
  one, or was revoked); a client over its rate is answered 429 with ``Retry-After``;
* :func:`require_client_role` ``(*roles)``: the same, and 403 for a client of another role.

:func:`actor_of_client` makes the case's :class:`~domain.case.model.Actor` from the client alone
(its name, role and schools), as :func:`web.auth.actor_of` does for a signed-in person: nothing
a request says can change who it acts as.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBearer
from sqlmodel import Session

from activities.api_clients import ApiClientPublic, api_client_for_token, touch_api_client
from domain.case.model import Actor, Role
from web.api.problems import ApiProblem
from web.context import web_context

__all__ = [
    "ApiCaller",
    "Caller",
    "RateLimiter",
    "actor_of_client",
    "api_caller",
    "require_client_role",
]

REALM = "cme"
# How often a client's last use is written (not on every request).
TOUCH_EVERY = timedelta(seconds=60)
# A token is 47 characters: anything much longer is not one (and is not hashed).
MAX_TOKEN_LENGTH = 200

# Declares the scheme in the OpenAPI document; the header is read and checked below.
bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearerToken",
    description="The client's token from `cme api-clients add` (or the admin pages), as "
    "`Authorization: Bearer <token>`.",
)

ROLE_WORDS = {
    Role.SCHOOL: "school",
    Role.CME_OFFICER: "CME officer",
    Role.TEAM_LEADER: "team leader",
    Role.MASH: "MASH",
    Role.MANAGER: "manager",
}


@dataclass(frozen=True)
class ApiCaller:
    client: ApiClientPublic
    actor: Actor


def actor_of_client(client: ApiClientPublic) -> Actor:
    """The actor the case's updates carry for ``client``: its name, role and schools."""
    return Actor(name=client.name, role=Role(client.role), schools=tuple(client.schools))


class RateLimiter:
    """A token bucket per client (in this process): ``per_minute`` requests a minute, in bursts
    of up to as many."""

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.clock = clock
        self._buckets: dict[int, tuple[float, float]] = {}  # client id -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key: int) -> float | None:
        """``None`` when the client may go on; else how many seconds until it may."""
        with self._lock:
            now = self.clock()
            tokens, at = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - at) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return None
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate


def _unauthorized(detail: str, *, error: str | None) -> ApiProblem:
    challenge = f'Bearer realm="{REALM}"'
    if error is not None:
        challenge += f', error="{error}"'
    return ApiProblem(401, "unauthorized", detail, headers={"WWW-Authenticate": challenge})


def _token(request: Request) -> str:
    header = request.headers.get("authorization")
    if header is None:
        raise _unauthorized(
            "Send the client's token as 'Authorization: Bearer <token>'.", error=None
        )
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _unauthorized(
            "Send the client's token as 'Authorization: Bearer <token>'.", error="invalid_request"
        )
    return token


def api_caller(request: Request, _: Annotated[object, Depends(bearer_scheme)]) -> ApiCaller:
    """The client of the request's bearer token (a FastAPI dependency, run in a worker thread:
    it reads the register)."""
    token = _token(request)
    web = web_context(request)
    client = None
    if len(token) <= MAX_TOKEN_LENGTH:
        with Session(web.engine) as db:
            client = api_client_for_token(session=db, token=token)
    if client is None or client.revoked:
        raise _unauthorized(
            "The token is not valid, or it was revoked: ask the service's administrator for "
            "another.",
            error="invalid_token",
        )
    limiter: RateLimiter = request.app.state.rate_limiter
    wait = limiter.take(client.id)
    if wait is not None:
        raise ApiProblem(
            429,
            "rate-limited",
            f"This client may make {web.settings.api_rate_limit_per_minute} requests a minute: "
            "wait, then send the request again.",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )
    now = web.clock()
    if client.last_used_at is None or now - client.last_used_at >= TOUCH_EVERY:
        with Session(web.engine) as db:
            touch_api_client(session=db, client_id=client.id, at=now)
    return ApiCaller(client=client, actor=actor_of_client(client))


Caller = Annotated[ApiCaller, Depends(api_caller)]


def _a(words: str) -> str:
    return f"{'an' if words[:1].lower() in 'aeiou' else 'a'} {words}"


def require_client_role(*roles: Role) -> Callable[[ApiCaller], ApiCaller]:
    """A dependency: the caller, if its role is one of ``roles`` (else 403)."""
    allowed = frozenset(roles)
    words = ", ".join(ROLE_WORDS[r] for r in roles[:-1])
    words = f"{words} or {ROLE_WORDS[roles[-1]]}" if words else ROLE_WORDS[roles[-1]]

    def dependency(caller: Caller) -> ApiCaller:
        if caller.actor.role not in allowed:
            raise ApiProblem(
                403,
                "forbidden",
                f"This is for {_a(words)} client; this client's role is "
                f"{ROLE_WORDS.get(caller.actor.role, caller.actor.role.value)}.",
            )
        return caller

    return dependency
