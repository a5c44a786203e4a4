"""The codec server as the Temporal Web UI calls it: the protocol's JSON both ways, plain payloads
passed through, an erased case's payloads left encrypted, the token or the login's session and
nothing else, CORS for the UI's origin only, and nothing of a payload, a token or a cookie in the
logs. In process (httpx over ASGI), and once over a real socket."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from temporalio.api.common.v1 import Payload

from security.codec import ENCODING, KEY_ID_METADATA, EnvelopeCodec
from security.codec_server import SESSION_COOKIE, create_app, serve
from security.keys import SERVICE_KEY_ID, DataKey, KeyRing, MemoryKeyStore, new_data_key

TOKEN = "codec-test-token-" + "x" * 32
UI = "http://localhost:8233"
OTHER = "http://localhost:9999"
CASE = "CME-0123456789ab"
# What a case's payload holds: personal data that must never reach a log.
CHILD = {"name": "Ada Testchild", "upn": "A123456789012", "dob": "2015-03-02"}

BEARER = {"Authorization": f"Bearer {TOKEN}"}
JSON = {"Content-Type": "application/json", "X-Namespace": "default"}


def plain(value: Any) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(value).encode())


def as_json(*payloads: Payload) -> dict[str, Any]:
    """The protocol's body: Payloads in protobuf's JSON form (bytes as base64)."""
    return {
        "payloads": [
            {
                "metadata": {k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
                "data": base64.b64encode(p.data).decode(),
            }
            for p in payloads
        ]
    }


def from_json(body: dict[str, Any]) -> list[Payload]:
    return [
        Payload(
            metadata={k: base64.b64decode(v) for k, v in p.get("metadata", {}).items()},
            data=base64.b64decode(p.get("data", "")),
        )
        for p in body["payloads"]
    ]


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store() -> MemoryKeyStore:
    return MemoryKeyStore(KeyRing({"kek-1": new_data_key()}, "kek-1"))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def client(store: MemoryKeyStore, clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        store=store, token=TOKEN, ui_origins=[UI], session_ttl=timedelta(hours=1), clock=clock
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8234") as client:
        yield client


async def encrypted(store: MemoryKeyStore, key_id: str, *payloads: Payload) -> list[Payload]:
    """As a worker stores a case's payloads: encrypted with the case's key."""
    return await EnvelopeCodec(store, key_id=key_id).encode(list(payloads))


async def post(
    client: httpx.AsyncClient, path: str, *payloads: Payload, **headers: str
) -> httpx.Response:
    return await client.post(path, json=as_json(*payloads), headers={**JSON, **headers})


# -- the protocol ----------------------------------------------------------------------------------


async def test_decode_gives_the_plaintext_payloads(
    client: httpx.AsyncClient, store: MemoryKeyStore
) -> None:
    originals = [plain(CHILD), plain({"stage": "la_investigation"})]
    stored = await encrypted(store, CASE, *originals)
    assert all(p.metadata["encoding"] == ENCODING for p in stored)

    response = await post(client, "/decode", *stored, **BEARER)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert from_json(response.json()) == originals


async def test_plain_payloads_pass_through_beside_encrypted_ones(
    client: httpx.AsyncClient, store: MemoryKeyStore
) -> None:
    before = plain({"recorded": "before encryption"})
    binary = Payload(metadata={"encoding": b"binary/null"})
    [case_payload] = await encrypted(store, CASE, plain(CHILD))

    response = await post(client, "/decode", before, case_payload, binary, **BEARER)

    assert response.status_code == 200
    assert from_json(response.json()) == [before, plain(CHILD), binary]


async def test_encode_then_decode_round_trips_under_the_service_key(
    client: httpx.AsyncClient,
) -> None:
    originals = [plain({"signal": "from the UI"}), plain([1, 2, 3])]

    encoded = await post(client, "/encode", *originals, **BEARER)

    assert encoded.status_code == 200
    sealed = from_json(encoded.json())
    assert [p.metadata["encoding"] for p in sealed] == [ENCODING, ENCODING]
    # The UI names no workflow (only X-Namespace): the service's key.
    assert {p.metadata[KEY_ID_METADATA] for p in sealed} == {SERVICE_KEY_ID.encode()}
    assert all(b"from the UI" not in p.data for p in sealed)
    decoded = await post(client, "/decode", *sealed, **BEARER)
    assert from_json(decoded.json()) == originals


async def test_no_payloads_is_an_empty_list(client: httpx.AsyncClient) -> None:
    for path in ("/decode", "/encode"):
        response = await client.post(path, json={}, headers={**JSON, **BEARER})
        assert response.status_code == 200
        assert response.json() == {"payloads": []}


async def test_the_ui_query_string_is_accepted(
    client: httpx.AsyncClient, store: MemoryKeyStore
) -> None:
    """The UI calls <endpoint>/decode?preserveStorageRefs=true."""
    stored = await encrypted(store, CASE, plain(CHILD))
    response = await client.post(
        "/decode?preserveStorageRefs=true", json=as_json(*stored), headers={**JSON, **BEARER}
    )
    assert from_json(response.json()) == [plain(CHILD)]


# -- what cannot be decrypted ----------------------------------------------------------------------


async def test_an_erased_cases_payload_comes_back_encrypted(
    client: httpx.AsyncClient, store: MemoryKeyStore
) -> None:
    [erased] = await encrypted(store, CASE, plain(CHILD))
    [other] = await encrypted(store, "CME-ba9876543210", plain({"kept": True}))
    assert await store.shred(CASE)

    response = await post(client, "/decode", erased, other, plain("plain"), **BEARER)

    assert response.status_code == 200
    assert from_json(response.json()) == [erased, plain({"kept": True}), plain("plain")]
    assert "Testchild" not in response.text


async def test_a_tampered_or_unknown_payload_comes_back_as_it_came(
    client: httpx.AsyncClient, store: MemoryKeyStore
) -> None:
    good, bad = await encrypted(store, CASE, plain(CHILD), plain({"n": 2}))
    bad.data = bad.data[:-1] + bytes([bad.data[-1] ^ 1])
    nobody = Payload(metadata={"encoding": ENCODING, KEY_ID_METADATA: b"CME-000000000000"})
    no_key_id = Payload(metadata={"encoding": ENCODING}, data=b"\x00" * 40)

    response = await post(client, "/decode", good, bad, nobody, no_key_id, **BEARER)

    assert response.status_code == 200
    assert from_json(response.json()) == [plain(CHILD), bad, nobody, no_key_id]


async def test_a_failing_key_store_is_a_bare_503(
    client: httpx.AsyncClient, store: MemoryKeyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    [stored] = await encrypted(store, CASE, plain(CHILD))

    async def down(key_id: str, *, create: bool) -> DataKey | None:
        raise ConnectionError(f"register unreachable while reading {key_id}")

    monkeypatch.setattr(store, "data_key", down)
    for path in ("/decode", "/encode"):
        response = await post(client, path, stored, **BEARER)
        assert response.status_code == 503
        assert response.content == b""


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b'{"payloads": [{"data": "not base64!"}]}', "application/json", 400),
        (b'{"payloads": [{"unknown": 1}]}', "application/json", 400),
        (b"[not json", "application/json", 400),
        (b'{"payloads": []}', "text/plain", 415),
    ],
)
async def test_a_bad_request_is_refused_without_detail(
    client: httpx.AsyncClient, body: bytes, content_type: str, status: int
) -> None:
    response = await client.post(
        "/decode", content=body, headers={"Content-Type": content_type, **BEARER}
    )
    assert response.status_code == status
    assert response.content == b""


# -- who may call it -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN[:-1]}"},
        {"Cookie": f"{SESSION_COOKIE}=1900000000.forged"},
        {"Cookie": f"{SESSION_COOKIE}={TOKEN}"},
    ],
)
async def test_without_the_token_or_a_session_it_is_401_and_nothing_decoded(
    client: httpx.AsyncClient, store: MemoryKeyStore, headers: dict[str, str]
) -> None:
    stored = await encrypted(store, CASE, plain(CHILD))
    for path in ("/decode", "/encode"):
        response = await post(client, path, *stored, **headers)
        assert response.status_code == 401
        assert response.content == b""
        assert "set-cookie" not in response.headers


async def test_login_sets_the_session_cookie_which_then_decodes(
    client: httpx.AsyncClient, store: MemoryKeyStore, clock: Clock
) -> None:
    stored = await encrypted(store, CASE, plain(CHILD))

    login = await client.get("/login", params={"token": TOKEN})

    assert login.status_code == 200
    assert login.headers["content-type"].startswith("text/html")
    assert "Include cross-origin credentials" in login.text
    assert TOKEN not in login.text
    cookie = login.headers["set-cookie"]
    attributes = {a.strip().split("=")[0].lower() for a in cookie.split(";")[1:]}
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert {"httponly", "path", "max-age", "expires", "samesite"} <= attributes
    assert "samesite=lax" in cookie.lower() and "path=/" in cookie.lower()
    assert "max-age=3600" in cookie.lower()
    assert "secure" not in attributes  # http://localhost; https gets Secure
    assert TOKEN not in cookie
    assert login.headers["referrer-policy"] == "no-referrer"
    assert login.headers["cache-control"] == "no-store"

    # The client keeps the cookie, as the browser does: no Authorization header now.
    decoded = await post(client, "/decode", *stored, Origin=UI)
    assert decoded.status_code == 200
    assert from_json(decoded.json()) == [plain(CHILD)]

    clock.now += 3600  # the session has expired
    assert (await post(client, "/decode", *stored, Origin=UI)).status_code == 401


async def test_a_wrong_login_token_sets_no_cookie(client: httpx.AsyncClient) -> None:
    for params in ({"token": "wrong"}, {}):
        login = await client.get("/login", params=params)
        assert login.status_code == 401
        assert login.content == b""
        assert "set-cookie" not in login.headers


async def test_a_new_token_ends_every_session(store: MemoryKeyStore) -> None:
    first = create_app(store=store, token=TOKEN, ui_origins=[UI])
    second = create_app(store=store, token=TOKEN + "-rotated", ui_origins=[UI])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=first), base_url="http://localhost:8234"
    ) as browser:
        assert (await browser.get("/login", params={"token": TOKEN})).status_code == 200
        cookie = browser.cookies[SESSION_COOKIE]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=second),
        base_url="http://localhost:8234",
        cookies={SESSION_COOKIE: cookie},
    ) as browser:
        assert (await post(browser, "/decode", plain(1))).status_code == 401


# -- CORS ------------------------------------------------------------------------------------------


def preflight(origin: str, headers: str = "content-type,x-namespace") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": headers,
    }


async def test_a_preflight_from_the_ui_origin_is_allowed_with_credentials(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/decode", "/encode"):
        response = await client.options(path, headers=preflight(UI, "content-type,x-namespace"))
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == UI
        assert response.headers["access-control-allow-credentials"] == "true"
        methods = {m.strip() for m in response.headers["access-control-allow-methods"].split(",")}
        assert methods == {"POST", "OPTIONS"}
        allowed = response.headers["access-control-allow-headers"].lower()
        assert {"content-type", "x-namespace", "authorization"} <= {
            h.strip() for h in allowed.split(",")
        }


async def test_a_preflight_from_another_origin_is_refused(client: httpx.AsyncClient) -> None:
    for origin in (OTHER, "null", "http://127.0.0.1:8233"):
        response = await client.options("/decode", headers=preflight(origin))
        assert response.status_code >= 400
        assert "access-control-allow-origin" not in response.headers
    # A header the UI never sends is not allowed either.
    response = await client.options("/decode", headers=preflight(UI, "x-something-else"))
    assert response.status_code >= 400


async def test_the_ui_origin_reads_answers_and_another_origin_gets_nothing(
    client: httpx.AsyncClient, store: MemoryKeyStore
) -> None:
    stored = await encrypted(store, CASE, plain(CHILD))

    allowed = await post(client, "/decode", *stored, Origin=UI, **BEARER)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == UI
    assert allowed.headers["access-control-allow-credentials"] == "true"

    # Even with the token: a page of another origin is refused before anything is decoded.
    refused = await post(client, "/decode", *stored, Origin=OTHER, **BEARER)
    assert refused.status_code == 403
    assert refused.content == b""
    assert "access-control-allow-origin" not in refused.headers

    # A refusal to the UI carries CORS headers, so that the UI sees a 401 rather than a
    # network error.
    unauthorised = await post(client, "/decode", *stored, Origin=UI)
    assert unauthorised.status_code == 401
    assert unauthorised.headers["access-control-allow-origin"] == UI


def test_a_ui_origin_must_be_an_origin(store: MemoryKeyStore) -> None:
    for bad in ("*", "localhost:8233", "http://localhost:8233/ui", ""):
        with pytest.raises(ValueError, match="origin"):
            create_app(store=store, token=TOKEN, ui_origins=[bad])
    with pytest.raises(ValueError, match="origin"):
        create_app(store=store, token=TOKEN, ui_origins=[])
    with pytest.raises(ValueError, match="token"):
        create_app(store=store, token="", ui_origins=[UI])
    create_app(store=store, token=TOKEN, ui_origins=["https://temporal.example.org/"])


# -- logs ------------------------------------------------------------------------------------------


@pytest.fixture
def every_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)
    yield caplog


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """Everything the server side logged (the test's own HTTP client, httpx, logs the URLs it
    requests, the login's query included: that is the caller's log, not the server's)."""
    lines = []
    for record in caplog.records:
        if record.name.startswith(("httpx", "httpcore")):
            continue
        lines.append(record.getMessage())
        if record.exc_info:
            lines.append(logging.Formatter().formatException(record.exc_info))
        if record.exc_text:
            lines.append(record.exc_text)
        lines.append(repr(record.__dict__))
    return "\n".join(lines)


async def test_nothing_of_a_payload_a_token_or_a_cookie_is_logged(
    client: httpx.AsyncClient,
    store: MemoryKeyStore,
    every_log: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stored = await encrypted(store, CASE, plain(CHILD))
    [other] = await encrypted(store, "CME-ba9876543210", plain(CHILD))
    await store.shred("CME-ba9876543210")

    login = await client.get("/login", params={"token": TOKEN})
    cookie = client.cookies[SESSION_COOKIE]
    await post(client, "/decode", *stored, other, Origin=UI)
    encoded = await post(client, "/encode", plain(CHILD), **BEARER)
    await post(client, "/decode", *stored, Authorization="Bearer wrong-token")
    await client.post("/decode", content=b'{"payloads": "Ada Testchild"}', headers=JSON)
    await client.get("/login", params={"token": "guessed-token"})

    async def failing(key_id: str, *, create: bool) -> DataKey | None:
        raise RuntimeError(f"cannot read {key_id}: {CHILD['name']}")

    monkeypatch.setattr(store, "data_key", failing)
    assert (await post(client, "/decode", *stored, **BEARER)).status_code == 503

    text = logged(every_log)
    assert login.status_code == 200 and encoded.status_code == 200
    assert "signed in" in text  # something was logged, at every level
    secrets = [
        TOKEN,
        "guessed-token",
        "wrong-token",
        cookie,
        cookie.split(".")[1],
        CHILD["name"],
        "Testchild",
        CHILD["upn"],
        CASE,  # the key id is the payload's own metadata
        base64.b64encode(stored[0].data).decode()[:24],
        base64.b64encode(plain(CHILD).data).decode()[:24],
        base64.b64encode(from_json(encoded.json())[0].data).decode()[:24],
    ]
    for secret in secrets:
        assert secret not in text, f"logged: {secret!r}"


# -- over a real socket ----------------------------------------------------------------------------


async def test_served_on_a_socket_it_answers_and_stops(store: MemoryKeyStore) -> None:
    app = create_app(store=store, token=TOKEN, ui_origins=[UI])
    server = await serve(app, host="127.0.0.1", port=0)
    try:
        assert server.url == f"http://127.0.0.1:{server.port}"
        stored = await encrypted(store, CASE, plain(CHILD))
        async with httpx.AsyncClient(base_url=server.url) as http:
            response = await post(http, "/decode", *stored, **BEARER)
            assert from_json(response.json()) == [plain(CHILD)]
            assert (await post(http, "/decode", *stored)).status_code == 401
            assert "server" not in response.headers
    finally:
        await server.stop()
    assert server.done()
    # The port is free again: a second server binds it.
    again = await serve(app, host="127.0.0.1", port=server.port)
    await again.stop()


async def test_a_port_in_use_is_an_os_error(store: MemoryKeyStore) -> None:
    app = create_app(store=store, token=TOKEN, ui_origins=[UI])
    first = await serve(app, host="127.0.0.1", port=0)
    try:
        with pytest.raises(OSError):
            await serve(app, host="127.0.0.1", port=first.port)
    finally:
        await first.stop()
