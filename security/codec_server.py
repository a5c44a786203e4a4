"""The codec server: the Temporal Web UI decodes (and encodes) case payloads through it.

It speaks the Temporal codec server protocol: ``POST /decode`` and ``POST /encode`` take the JSON
form of ``temporalio.api.common.v1.Payloads`` (``{"payloads": [{"metadata": {name: base64},
"data": base64}]}``) and answer the same shape. The UI calls ``<endpoint>/decode?...`` with the
headers ``Content-Type: application/json`` and ``X-Namespace`` (and ``Authorization`` only when it
is told to pass its own login's access token); the ``temporal`` CLI's ``--codec-endpoint`` with
``--codec-auth 'Bearer <token>'`` calls it the same way.

* ``/decode`` decrypts with :class:`~security.codec.EnvelopeCodec`: each encrypted payload names
  its case's key, so no other context is needed. A payload that is not encrypted is returned as it
  came. **A payload whose case key was destroyed (an erased case), or that does not decrypt (no
  key, tampered), is returned still encrypted**, in its place, with the others decoded: never an
  error with details. Only a failure of the key store itself (the register unreachable) is an
  error, a bare 503 that the UI retries.
* ``/encode`` encrypts with the service's data key (:data:`~security.keys.SERVICE_KEY_ID`): the UI
  names no workflow in its request (only the namespace, in ``X-Namespace``), so an input an
  officer types in the UI (a signal's, an update's) cannot be put under its case's key. Such a
  payload decrypts everywhere but is not erased with its case.

Who may call it: a caller with ``Authorization: Bearer <token>`` (compared in constant time), or a
browser holding the session cookie that ``GET /login?token=<token>`` sets (HttpOnly,
SameSite=Lax, path /, expiring after ``session_ttl``; ``Secure`` over https). The cookie is an
expiry time signed with the token (HMAC-SHA256): nothing is kept server-side, a new token ends
every session, and the token cannot be recovered from it. Anyone else gets a bare 401.

For the UI in a browser to send that cookie, the UI must include credentials in its cross-origin
requests (``TEMPORAL_CODEC_INCLUDE_CREDENTIALS=true`` for the ``temporalio/ui`` image; in the UI
of ``temporal server start-dev``, which has no such option, the browser's own Codec Server setting
"Include cross-origin credentials"). CORS admits only the configured UI origins, with credentials,
for POST and OPTIONS and the headers Content-Type, X-Namespace and Authorization; a POST from a
browser page of any other origin is refused (403) before anything is decoded.

Nothing of a payload, a token or a cookie is ever logged: the app logs counts and exception type
names only, and :func:`serve` runs uvicorn with its access log off (a request line carries the
login token in its query). Error answers carry no detail.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import html
import json
import logging
import re
import socket
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from google.protobuf import json_format
from pydantic import SecretStr
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.api.common.v1 import Payload, Payloads

from security.codec import ENCODING, KEY_ID_METADATA, EnvelopeCodec, PayloadUndecryptable
from security.keys import KeyRingError, KeyShredded, KeyStore

__all__ = [
    "MAX_BODY_BYTES",
    "SESSION_COOKIE",
    "SESSION_TTL",
    "RunningCodecServer",
    "create_app",
    "serve",
]

log = logging.getLogger("cme.codec_server")

SESSION_COOKIE = "cme_codec_session"
SESSION_TTL = timedelta(hours=12)  # a working day; then the officer opens the login link again
# Temporal's own limit is 2 MiB a payload (4 MiB a gRPC message); the UI sends one event's.
MAX_BODY_BYTES = 16 * 1024 * 1024

ALLOWED_METHODS = ("POST", "OPTIONS")
ALLOWED_HEADERS = ("Content-Type", "X-Namespace", "Authorization")

_ORIGIN = re.compile(r"https?://[^/\s?#]+")
_SESSION_CONTEXT = b"cme-codec-session\x00"
# Every answer: never cached, never sniffed, no Referer (the login page's URL holds the token).
_SECURITY_HEADERS = [
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


def create_app(
    *,
    store: KeyStore,
    token: str | SecretStr,
    ui_origins: Iterable[str],
    session_ttl: timedelta = SESSION_TTL,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    """The codec server over ``store``, for callers with ``token`` and the UI at ``ui_origins``
    (``scheme://host[:port]``, as the browser sends them in ``Origin``). See the module docstring.
    """
    secret = (token.get_secret_value() if isinstance(token, SecretStr) else token).encode()
    if not secret:
        raise ValueError("the codec server needs a token")
    origins = _origins(ui_origins)
    sessions = _Sessions(secret, session_ttl, clock)
    encoder = EnvelopeCodec(store)  # the service's data key: the UI names no workflow

    app = FastAPI(
        title="CME codec server", docs_url=None, redoc_url=None, openapi_url=None, debug=False
    )

    def authorised(request: Request) -> bool:
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(credentials.strip().encode(), secret):
            return True
        return sessions.valid(request.cookies.get(SESSION_COOKIE))

    async def payloads_in(request: Request) -> Payloads | Response:
        """The request's payloads, or the (bare) refusal to answer with."""
        origin = request.headers.get("origin")
        if origin is not None and origin not in origins:
            return _bare(403)  # a page of another origin, which CORS would not let read the answer
        if not authorised(request):
            return _bare(401, {"WWW-Authenticate": "Bearer"})
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            return _bare(415)
        try:
            body = await _body(request)
        except _TooLarge:
            return _bare(413)
        try:
            return json_format.Parse(body or b"{}", Payloads())
        except (json_format.ParseError, ValueError, RecursionError):
            return _bare(400)

    @app.post("/decode")
    async def decode(request: Request) -> Response:
        parsed = await payloads_in(request)
        if isinstance(parsed, Response):
            return parsed
        try:
            decoded, kept = await _decode(store, parsed.payloads)
        except Exception as exc:
            _log_failure("decode", exc)
            return _bare(503)
        log.debug("decoded %d payloads (%d left encrypted)", len(decoded), kept)
        return _payloads_response(decoded)

    @app.post("/encode")
    async def encode(request: Request) -> Response:
        parsed = await payloads_in(request)
        if isinstance(parsed, Response):
            return parsed
        try:
            encoded = await encoder.encode(parsed.payloads)
        except Exception as exc:
            _log_failure("encode", exc)
            return _bare(503)
        log.debug("encoded %d payloads", len(encoded))
        return _payloads_response(encoded)

    @app.get("/login")
    async def login(request: Request, token: str = "") -> Response:
        if not token or not hmac.compare_digest(token.encode(), secret):
            return _bare(401)
        value, expires = sessions.new()
        endpoint = str(request.base_url).rstrip("/")
        response = Response(
            _LOGIN_PAGE.format(
                until=html.escape(expires.astimezone().strftime("%H:%M on %d %B %Y")),
                endpoint=html.escape(endpoint),
            ),
            media_type="text/html",
        )
        response.set_cookie(
            SESSION_COOKIE,
            value,
            max_age=int(session_ttl.total_seconds()),
            expires=expires,
            path="/",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="lax",
        )
        log.info("a browser signed in to the codec server")
        return response

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        return _bare(400)  # never the default answer, which echoes the input

    # Starlette wraps each new middleware around the last: CORS outermost, so that every answer
    # (a 401, a 503) reaches the UI's page with its CORS headers; the guard inside it.
    app.add_middleware(_Guard)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=sorted(origins),
        allow_credentials=True,
        allow_methods=list(ALLOWED_METHODS),
        allow_headers=list(ALLOWED_HEADERS),
        max_age=600,
    )
    return app


# -- decoding --------------------------------------------------------------------------------------


async def _decode(store: KeyStore, payloads: Sequence[Payload]) -> tuple[list[Payload], int]:
    """``payloads`` decoded, in order; those that cannot be decrypted stay as they came. Also how
    many stayed encrypted. Raises only when the key store fails."""
    codec = EnvelopeCodec(store)
    out = list(payloads)
    by_key: dict[str, list[int]] = {}
    kept = 0
    for i, payload in enumerate(payloads):
        if payload.metadata.get("encoding") != ENCODING:
            continue  # plain: passes through
        key_id = _key_id(payload)
        if key_id is None:
            kept += 1
            continue
        by_key.setdefault(key_id, []).append(i)
    for indexes in by_key.values():
        try:
            decoded = await codec.decode([payloads[i] for i in indexes])
        except KeyShredded:
            kept += len(indexes)  # an erased case: its payloads stay unreadable
            continue
        except PayloadUndecryptable:
            kept += await _decode_one_by_one(codec, payloads, indexes, out)
            continue
        for i, payload in zip(indexes, decoded, strict=True):
            out[i] = payload
    return out, kept


async def _decode_one_by_one(
    codec: EnvelopeCodec, payloads: Sequence[Payload], indexes: list[int], out: list[Payload]
) -> int:
    """One case's payloads one at a time (one of them does not decrypt); how many did not."""
    kept = 0
    for i in indexes:
        try:
            [out[i]] = await codec.decode([payloads[i]])
        except (PayloadUndecryptable, KeyShredded):
            kept += 1
    return kept


def _key_id(payload: Payload) -> str | None:
    """An encrypted payload's key id, without touching the payload (a protobuf map inserts a
    missing key on lookup); ``None`` when it names none usable."""
    if KEY_ID_METADATA not in payload.metadata:
        return None
    try:
        key_id = payload.metadata[KEY_ID_METADATA].decode()
    except UnicodeDecodeError:
        return None
    return key_id or None


def _log_failure(what: str, exc: Exception) -> None:
    """A failure, by its type only: an exception's text may quote what it failed on. A key ring
    error names key ids and never a key (security.keys), so its text is kept: it says what to fix.
    """
    if isinstance(exc, KeyRingError):
        log.error("cannot %s: %s", what, exc)
    else:
        log.error("cannot %s: %s (details withheld)", what, type(exc).__name__)


# -- requests and answers --------------------------------------------------------------------------


class _TooLarge(Exception):
    pass


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _TooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _payloads_response(payloads: Sequence[Payload]) -> Response:
    body = {"payloads": [json_format.MessageToDict(p) for p in payloads]}
    return Response(json.dumps(body, separators=(",", ":")), media_type="application/json")


def _bare(status: int, headers: dict[str, str] | None = None) -> Response:
    """An answer with its status only: no detail."""
    return Response(status_code=status, headers=headers)


def _origins(ui_origins: Iterable[str]) -> frozenset[str]:
    origins = set()
    for origin in ui_origins:
        cleaned = origin.strip().rstrip("/")
        if not _ORIGIN.fullmatch(cleaned):
            raise ValueError(
                f"a UI origin is scheme://host[:port], e.g. http://localhost:8233, not {origin!r}"
            )
        origins.add(cleaned)
    if not origins:
        raise ValueError("the codec server needs the Web UI's origin")
    return frozenset(origins)


class _Sessions:
    """Session cookies: ``<expiry, unix seconds>.<HMAC-SHA256 of it under the token>``."""

    def __init__(self, secret: bytes, ttl: timedelta, clock: Callable[[], float]) -> None:
        self._secret = secret
        self._ttl = ttl
        self._clock = clock

    def _mac(self, expiry: str) -> str:
        digest = hmac.new(self._secret, _SESSION_CONTEXT + expiry.encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")

    def new(self) -> tuple[str, datetime]:
        expiry = int(self._clock() + self._ttl.total_seconds())
        return f"{expiry}.{self._mac(str(expiry))}", datetime.fromtimestamp(expiry, UTC)

    def valid(self, cookie: str | None) -> bool:
        if not cookie:
            return False
        expiry, _, mac = cookie.partition(".")
        if not expiry.isdigit() or not hmac.compare_digest(
            mac.encode(), self._mac(expiry).encode()
        ):
            return False
        return int(expiry) > self._clock()


class _Guard:
    """Security headers on every answer, and a bare 500 (its type logged, never its text or a
    traceback) for anything the handlers did not expect."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = dict(message)
                message["headers"] = [*message.get("headers", []), *_SECURITY_HEADERS]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:
            log.error("codec server request failed: %s (details withheld)", type(exc).__name__)
            if not started:
                await _bare(500)(scope, receive, send_with_headers)


_LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>CME codec server: signed in</title></head>
<body>
<h1>Signed in to the CME codec server</h1>
<p>The Temporal Web UI in this browser can decode cases through this codec server until
{until}. Go back to the UI and reload the page.</p>
<p>If the UI still shows encrypted payloads (<code>binary/encrypted</code>), it does not send
this browser's session with its requests: in the UI open <em>Codec Server</em> (the data encoder
settings), choose <em>Use my browser setting</em>, enter the endpoint <code>{endpoint}</code>
and tick <em>Include cross-origin credentials</em>.</p>
</body></html>
"""


# -- serving ---------------------------------------------------------------------------------------


class _Server(uvicorn.Server):
    """uvicorn without its own signal handlers (it installs them with ``signal.signal`` and raises
    them again when it stops): the process that runs it decides when it stops."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class RunningCodecServer:
    """A codec server serving on this process's event loop (:func:`serve`)."""

    server: uvicorn.Server
    task: asyncio.Task[None]
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def done(self) -> bool:
        return self.task.done()

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, let requests in flight finish (up to ``timeout``), close."""
        self.server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self.task), timeout)
        except TimeoutError:
            self.server.force_exit = True
            self.task.cancel()
        with contextlib.suppress(BaseException):
            await self.task


async def serve(
    app: ASGIApp,
    *,
    host: str = "127.0.0.1",
    port: int,
    ready_timeout: float = 10.0,
    name: str = "the codec server",
    forwarded_allow_ips: str | None = None,
) -> RunningCodecServer:
    """Serve ``app`` on ``host:port`` (port 0: any free one) on the running event loop, with no
    access log and uvicorn's own logging left to the process. Raises :class:`OSError` when the
    address cannot be bound (the port is in use). ``name`` says what it is in errors (`cme dev`
    serves its web app with it too). ``forwarded_allow_ips``: the proxies whose X-Forwarded-For and
    X-Forwarded-Proto are believed (none by default)."""
    family, kind, proto, _name, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    bound_port: int = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_config=None,  # the process's logging, untouched
        log_level=logging.WARNING,
        access_log=False,  # a request line holds the login token in its query
        lifespan="off",
        server_header=False,
        proxy_headers=forwarded_allow_ips is not None,
        forwarded_allow_ips=forwarded_allow_ips,
        timeout_graceful_shutdown=5,
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name=f"cme {name}")
    running = RunningCodecServer(server, task, host, bound_port)
    deadline = time.monotonic() + ready_timeout
    while not server.started:
        if task.done():
            sock.close()
            task.result()  # its exception, if any
            raise OSError(f"{name} stopped as it started on {host}:{bound_port}")
        if time.monotonic() > deadline:
            await running.stop()
            raise OSError(f"{name} did not start on {host}:{bound_port}")
        await asyncio.sleep(0.01)
    return running
