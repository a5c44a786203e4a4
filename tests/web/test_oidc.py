"""OpenID Connect sign-in (web/oidc.py) against a real OpenID provider on loopback.

A tiny FastAPI app (Starlette's SessionMiddleware and the sign-in router) is driven by an httpx
"browser" that follows redirects and keeps cookies, through the provider's own login and consent
pages. What the app's ``on_identity`` receives, and the page a person sees when it goes wrong, are
what the tests check. Tampering with what the provider sends goes through the router's
``http_transport`` (a man in the middle between the app and the provider).
"""

from __future__ import annotations

import base64
import json
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any

import httpx
import httpx2
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import ValidationError
from starlette.middleware.sessions import SessionMiddleware

from settings import Settings, settings_problems
from tests.oidc.fixtures import (
    OTHER_TENANT,
    TENANT,
    OidcAccount,
    OidcProvider,
    StartProvider,
    page_forms,
    sign_in,
)
from web.oidc import OidcIdentity, oidc_router

APP = "http://testserver"
START = f"{APP}/sign-in/oidc"

Rewrite = Callable[[httpx2.Request, httpx2.Response], httpx2.Response]


class ManInTheMiddle(httpx2.AsyncBaseTransport):
    """The app's way to the provider, where a test rewrites answers (and records them)."""

    def __init__(self, rewrite: Rewrite | None = None) -> None:
        self.inner = httpx2.AsyncHTTPTransport()
        self.rewrite = rewrite
        self.seen: list[tuple[str, httpx2.Response]] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.inner.handle_async_request(request)
        await response.aread()
        answer = httpx2.Response(
            response.status_code,
            headers={
                k: v
                for k, v in response.headers.items()
                if k.lower() not in {"content-length", "content-encoding", "transfer-encoding"}
            },
            content=response.content,
            request=request,
        )
        if self.rewrite is not None:
            answer = self.rewrite(request, answer)
        self.seen.append((request.url.path, answer))
        return answer

    async def aclose(self) -> None:
        await self.inner.aclose()


def rewritten_json(
    response: httpx2.Response, change: Callable[[dict[str, Any]], None]
) -> httpx2.Response:
    document = response.json()
    change(document)
    return httpx2.Response(
        response.status_code,
        headers={"content-type": "application/json"},
        content=json.dumps(document).encode(),
        request=response.request,
    )


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class App:
    """The test app: the router and what its hooks saw."""

    def __init__(self, settings: Settings, **router_options: Any) -> None:
        self.identities: list[OidcIdentity] = []
        self.callback_urls: list[str] = []
        self.app = FastAPI()
        self.app.add_middleware(SessionMiddleware, secret_key="test-only-session-key")

        async def on_identity(request: Request, identity: OidcIdentity) -> Response:
            self.identities.append(identity)
            self.callback_urls.append(str(request.url))
            return PlainTextResponse(f"Signed in: {identity.subject}")

        self.app.include_router(oidc_router(settings, on_identity, **router_options))

    def browser(self) -> httpx.AsyncClient:
        """A browser for the app and the provider: the app in process, the provider over HTTP."""
        return httpx.AsyncClient(
            mounts={APP: httpx.ASGITransport(app=self.app)},
            follow_redirects=True,
            timeout=15,
        )


@pytest.fixture
async def browser_for() -> AsyncIterator[Callable[[App], httpx.AsyncClient]]:
    opened: list[httpx.AsyncClient] = []

    def open_browser(app: App) -> httpx.AsyncClient:
        opened.append(app.browser())
        return opened[-1]

    yield open_browser
    for browser in opened:
        await browser.aclose()


Refused = Callable[..., None]


@pytest.fixture
def refused(caplog: pytest.LogCaptureFixture) -> Refused:
    """``refused(page, words, kind, status=400)``: the page says it could not sign the person in,
    in these words, with no traceback; the router logged the refusal's kind (and nothing else)."""
    caplog.set_level(logging.INFO, logger="web.oidc")

    def check(page: httpx.Response, words: str, kind: str, status: int = 400) -> None:
        assert page.status_code == status, page.text
        assert "You could not be signed in" in page.text
        assert words in page.text
        assert "Traceback" not in page.text
        logged = [r.getMessage() for r in caplog.records if r.name == "web.oidc"]
        assert logged[-1] == f"oidc sign-in refused: {kind}", logged

    return check


# -- the whole flow --------------------------------------------------------------------------------


async def test_staff_sign_in_through_the_provider_pages(
    oidc_provider: OidcProvider,
    browser_for: Callable[[App], httpx.AsyncClient],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    app = App(oidc_provider.settings())
    browser = browser_for(app)
    officer = oidc_provider.accounts["officer"]

    # The app sends the browser to the provider with PKCE (S256), a state and a nonce.
    start = await browser.get(START, follow_redirects=False)
    assert start.status_code == 302
    location = httpx.URL(start.headers["location"])
    assert str(location).startswith(f"{oidc_provider.issuer}/auth?")
    query = location.params
    assert query["response_type"] == "code"
    assert query["client_id"] == oidc_provider.client_id
    assert query["redirect_uri"] == f"{APP}/sign-in/oidc/callback"
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert query["state"] and query["nonce"]
    assert query["scope"] == "openid email profile"

    # The provider's login page: a wrong password is refused there and nothing reaches the app.
    login = await browser.get(str(location))
    assert "Sign in to the test provider" in login.text
    wrong = await browser.post(
        page_forms(login)["login"], data={"email": officer.email, "password": "not-the-password"}
    )
    assert wrong.status_code == 401 and "Wrong email address or password" in wrong.text
    assert app.identities == []

    page = await sign_in(browser, START, officer)
    assert page.status_code == 200, page.text
    assert page.text == f"Signed in: {officer.sub}"
    assert app.identities == [
        OidcIdentity(
            issuer=oidc_provider.issuer,
            subject=officer.sub,
            email=officer.email,
            email_verified=True,
            name=officer.name,
        )
    ]
    # Nothing about the person in the logs (the app's or the libraries').
    for secret in (officer.email, officer.sub, officer.name, officer.password):
        assert secret not in caplog.text


async def test_a_second_sign_in_needs_no_consent_again(
    oidc_provider: OidcProvider, browser_for: Callable[[App], httpx.AsyncClient]
) -> None:
    app = App(oidc_provider.settings())
    browser = browser_for(app)
    officer = oidc_provider.accounts["officer"]
    assert (await sign_in(browser, START, officer)).text == f"Signed in: {officer.sub}"
    # The provider remembers the session and the consent: straight back to the app.
    again = await browser.get(START)
    assert again.text == f"Signed in: {officer.sub}"
    assert [i.subject for i in app.identities] == [officer.sub, officer.sub]


async def test_an_unverified_email_is_reported_so_the_app_can_refuse_it(
    oidc_provider: OidcProvider, browser_for: Callable[[App], httpx.AsyncClient]
) -> None:
    app = App(oidc_provider.settings())
    account = oidc_provider.accounts["unverified"]
    await sign_in(browser_for(app), START, account)
    [identity] = app.identities
    assert identity.email == account.email
    assert identity.email_verified is False
    # Trusting the provider's addresses never overrides its explicit "not verified".
    trusting = App(oidc_provider.settings(oidc_trust_email=True))
    await sign_in(browser_for(trusting), START, account)
    assert trusting.identities[0].email_verified is False


async def test_claims_only_from_userinfo_are_fetched_for_the_same_subject(
    oidc_provider_factory: StartProvider, browser_for: Callable[[App], httpx.AsyncClient]
) -> None:
    strict = oidc_provider_factory(claims_in_userinfo_only=True)
    mitm = ManInTheMiddle()
    app = App(strict.settings(), http_transport=mitm)
    officer = strict.accounts["officer"]
    assert (await sign_in(browser_for(app), START, officer)).status_code == 200
    # The ID token had no email: the userinfo endpoint gave it.
    [(_, token)] = [(p, r) for p, r in mitm.seen if p == "/token"]
    claims = json.loads(unb64(token.json()["id_token"].split(".")[1]))
    assert "email" not in claims
    assert "/me" in [path for path, _ in mitm.seen]
    assert app.identities[0].email == officer.email
    assert app.identities[0].email_verified is True


async def test_userinfo_for_another_subject_is_refused(
    oidc_provider_factory: StartProvider,
    browser_for: Callable[[App], httpx.AsyncClient],
    refused: Refused,
) -> None:
    strict = oidc_provider_factory(claims_in_userinfo_only=True)

    def other_subject(request: httpx2.Request, response: httpx2.Response) -> httpx2.Response:
        if request.url.path != "/me":
            return response
        return rewritten_json(response, lambda info: info.update(sub="someone-else"))

    app = App(strict.settings(), http_transport=ManInTheMiddle(other_subject))
    page = await sign_in(browser_for(app), START, strict.accounts["officer"])
    refused(page, "could not verify its answer", "userinfo-sub")
    assert app.identities == []


# -- Entra ID: tenant, sign-in name, trusted directory addresses --------------------------------


async def test_entra_style_sign_in_name_and_tenant(
    oidc_provider: OidcProvider,
    browser_for: Callable[[App], httpx.AsyncClient],
    refused: Refused,
) -> None:
    entra = oidc_provider.accounts["entra"]
    settings = oidc_provider.settings(
        oidc_email_claim="preferred_username", oidc_tenant_id=TENANT, oidc_trust_email=True
    )
    app = App(settings)
    assert (await sign_in(browser_for(app), START, entra)).text == f"Signed in: {entra.sub}"
    assert app.identities[0].email == entra.claims["preferred_username"]
    assert app.identities[0].email_verified is True

    # Not trusted: an address with no email_verified claim is not verified, unless Entra ID
    # says its domain is the directory's (xms_edov).
    cautious = App(oidc_provider.settings(oidc_tenant_id=TENANT))
    await sign_in(browser_for(cautious), START, entra)
    edov = oidc_provider.accounts["entra_edov"]
    await sign_in(browser_for(cautious), START, edov)
    assert [(i.email, i.email_verified) for i in cautious.identities] == [
        (entra.email, False),
        (edov.email, True),
    ]

    # Someone from another organisation's directory is refused.
    outsider = oidc_provider.accounts["other_tenant"]
    assert outsider.claims["tid"] == OTHER_TENANT
    page = await sign_in(browser_for(App(settings)), START, outsider)
    refused(page, "not in your council&#x27;s directory", "tid")


# -- state, replay, provider errors ----------------------------------------------------------------


async def test_a_replayed_callback_is_refused(
    oidc_provider: OidcProvider,
    browser_for: Callable[[App], httpx.AsyncClient],
    refused: Refused,
) -> None:
    app = App(oidc_provider.settings())
    browser = browser_for(app)
    callback = await held_at_callback(browser, oidc_provider.accounts["officer"])
    cookies_before = httpx.Cookies(browser.cookies)  # the session that holds the state
    assert (await browser.get(callback)).status_code == 200
    assert len(app.identities) == 1

    # Same browser: its session no longer holds the state.
    refused(await browser.get(callback), "expired or was already used", "state")
    # The session cookie from before (still holding the state): the provider refuses the used
    # code.
    replay = browser_for(app)
    replay.cookies = cookies_before
    refused(await replay.get(callback), "expired or was already used", "token:invalid_grant")
    assert len(app.identities) == 1


async def test_a_tampered_state_or_another_browser_is_refused(
    oidc_provider: OidcProvider,
    browser_for: Callable[[App], httpx.AsyncClient],
    refused: Refused,
) -> None:
    app = App(oidc_provider.settings())
    browser = browser_for(app)
    callback = httpx.URL(await held_at_callback(browser, oidc_provider.accounts["officer"]))
    state = callback.params["state"]

    tampered = callback.copy_set_param("state", state[:-2] + ("AA" if state[-2:] != "AA" else "BB"))
    refused(await browser.get(str(tampered)), "expired or was already used", "state")
    # Another browser (no session, as when a link is sent to someone else).
    refused(await browser_for(app).get(str(callback)), "expired or was already used", "state")
    no_state = callback.copy_remove_param("state")
    refused(await browser.get(str(no_state)), "expired or was already used", "state")
    assert app.identities == []


async def test_a_sign_in_left_for_over_an_hour_is_refused(
    oidc_provider: OidcProvider,
    browser_for: Callable[[App], httpx.AsyncClient],
    monkeypatch: pytest.MonkeyPatch,
    refused: Refused,
) -> None:
    app = App(oidc_provider.settings())
    browser = browser_for(app)
    callback = await held_at_callback(browser, oidc_provider.accounts["officer"])
    later = time.time() + 3601
    monkeypatch.setattr("web.oidc.time", SimpleNamespace(time=lambda: later))
    refused(await browser.get(callback), "expired or was already used", "state")
    assert app.identities == []


async def held_at_callback(browser: httpx.AsyncClient, account: OidcAccount) -> str:
    """Signs in at the provider and returns the callback URL it sends the browser to, unopened."""

    async def hold(request: httpx.Request) -> None:
        if request.url.path == "/sign-in/oidc/callback":
            raise StopAtCallbackError(str(request.url))

    browser.event_hooks["request"] = [hold]
    try:
        with pytest.raises(StopAtCallbackError) as held:
            await sign_in(browser, START, account)
    finally:
        browser.event_hooks["request"] = []
    return held.value.url


class StopAtCallbackError(Exception):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


async def test_an_issuer_mix_up_in_the_callback_is_refused(
    oidc_provider: OidcProvider,
    browser_for: Callable[[App], httpx.AsyncClient],
    refused: Refused,
) -> None:
    app = App(oidc_provider.settings())
    browser = browser_for(app)

    async def other_issuer(request: httpx.Request) -> None:
        if request.url.path == "/sign-in/oidc/callback":
            request.url = request.url.copy_set_param("iss", "https://attacker.example")

    browser.event_hooks["request"] = [other_issuer]
    refused(await sign_in(browser, START, oidc_provider.accounts["officer"]), "verify", "iss")
    assert app.identities == []


async def test_denied_consent_ends_on_a_clear_page(
    oidc_provider: OidcProvider,
    browser_for: Callable[[App], httpx.AsyncClient],
    refused: Refused,
) -> None:
    app = App(oidc_provider.settings())
    page = await sign_in(browser_for(app), START, oidc_provider.accounts["officer"], consent=False)
    refused(page, "You cancelled the sign-in", "provider:access_denied")
    assert 'href="http://testserver/sign-in/oidc"' in page.text
    assert app.identities == []


async def test_a_wrong_client_secret_fails_cleanly(
    oidc_provider: OidcProvider,
    browser_for: Callable[[App], httpx.AsyncClient],
    refused: Refused,
) -> None:
    app = App(oidc_provider.settings(oidc_client_secret="not-the-secret"))
    page = await sign_in(browser_for(app), START, oidc_provider.accounts["officer"])
    refused(page, "did not accept this service&#x27;s credentials", "token:invalid_client")
    assert app.identities == []


async def test_an_unreachable_provider_is_a_clear_page(
    browser_for: Callable[[App], httpx.AsyncClient],
    refused: Refused,
) -> None:
    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings(
        _env_file=None,
        oidc_issuer=f"http://127.0.0.1:{port}",
        oidc_client_id="cme-web",
        oidc_client_secret="secret",
    )
    app = App(settings)
    refused(await browser_for(app).get(START), "cannot be reached", "discovery", status=502)


async def test_a_discovery_document_of_another_issuer_is_refused(
    oidc_provider: OidcProvider,
    browser_for: Callable[[App], httpx.AsyncClient],
    refused: Refused,
) -> None:
    def other_issuer(request: httpx2.Request, response: httpx2.Response) -> httpx2.Response:
        if request.url.path.endswith("/openid-configuration"):
            return rewritten_json(response, lambda d: d.update(issuer="https://attacker.example"))
        return response

    app = App(oidc_provider.settings(), http_transport=ManInTheMiddle(other_issuer))
    page = await browser_for(app).get(START)
    refused(page, "could not verify its answer", "discovery-issuer", status=502)


# -- the ID token is verified ---------------------------------------------------------------------


async def test_an_id_token_with_a_changed_payload_is_refused(
    oidc_provider: OidcProvider,
    browser_for: Callable[[App], httpx.AsyncClient],
    refused: Refused,
) -> None:
    def change_email(request: httpx2.Request, response: httpx2.Response) -> httpx2.Response:
        if request.url.path != "/token":
            return response

        def change(token: dict[str, Any]) -> None:
            header, payload, signature = token["id_token"].split(".")
            claims = json.loads(unb64(payload))
            claims["email"] = "mallory@council.example"
            token["id_token"] = ".".join([header, b64(json.dumps(claims).encode()), signature])

        return rewritten_json(response, change)

    app = App(oidc_provider.settings(), http_transport=ManInTheMiddle(change_email))
    page = await sign_in(browser_for(app), START, oidc_provider.accounts["officer"])
    refused(page, "verify", "id-token")
    assert app.identities == []


async def test_an_id_token_is_checked_against_the_providers_own_keys(
    oidc_provider_factory: StartProvider,
    browser_for: Callable[[App], httpx.AsyncClient],
    refused: Refused,
) -> None:
    """Two providers with the same key id but their own keys: a token of one does not verify
    with the other's JWKS (the signature itself is checked, not only the key id)."""
    first = oidc_provider_factory(key_id="shared-kid")
    second = oidc_provider_factory(key_id="shared-kid")
    assert httpx.get(first.jwks_uri).json() != httpx.get(second.jwks_uri).json()

    def second_jwks(request: httpx2.Request, response: httpx2.Response) -> httpx2.Response:
        if request.url.path.endswith("/openid-configuration"):
            return rewritten_json(response, lambda d: d.update(jwks_uri=second.jwks_uri))
        return response

    app = App(first.settings(), http_transport=ManInTheMiddle(second_jwks))
    refused(await sign_in(browser_for(app), START, first.accounts["officer"]), "verify", "id-token")
    assert app.identities == []
    # The same flow with the provider's own keys signs in.
    honest = App(first.settings())
    assert (await sign_in(browser_for(honest), START, first.accounts["officer"])).status_code == 200


async def test_an_id_token_from_another_sign_in_is_refused(
    oidc_provider: OidcProvider,
    browser_for: Callable[[App], httpx.AsyncClient],
    refused: Refused,
) -> None:
    """A valid, signed ID token of an earlier sign-in (another nonce) put in a new answer."""
    earlier: list[str] = []

    def swap(request: httpx2.Request, response: httpx2.Response) -> httpx2.Response:
        if request.url.path != "/token":
            return response
        if not earlier:
            earlier.append(response.json()["id_token"])
            return response
        return rewritten_json(response, lambda token: token.update(id_token=earlier[0]))

    app = App(oidc_provider.settings(), http_transport=ManInTheMiddle(swap))
    officer = oidc_provider.accounts["officer"]
    assert (await sign_in(browser_for(app), START, officer)).status_code == 200
    refused(await sign_in(browser_for(app), START, officer), "verify", "id-token")
    assert len(app.identities) == 1


async def test_an_unsigned_id_token_is_refused(
    oidc_provider: OidcProvider,
    browser_for: Callable[[App], httpx.AsyncClient],
    refused: Refused,
) -> None:
    def unsigned(request: httpx2.Request, response: httpx2.Response) -> httpx2.Response:
        if request.url.path != "/token":
            return response

        def strip(token: dict[str, Any]) -> None:
            _, payload, _ = token["id_token"].split(".")
            header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
            token["id_token"] = f"{header}.{payload}."

        return rewritten_json(response, strip)

    app = App(oidc_provider.settings(), http_transport=ManInTheMiddle(unsigned))
    page = await sign_in(browser_for(app), START, oidc_provider.accounts["officer"])
    refused(page, "verify", "id-token")
    assert app.identities == []


# -- settings --------------------------------------------------------------------------------------


def _problems(**values: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None, **values)
    return settings_problems(caught.value)


def test_oidc_settings_are_checked() -> None:
    plain = _problems(
        oidc_issuer="http://login.example.org/x", oidc_client_id="c", oidc_client_secret="s"
    )
    assert plain.startswith("CME_OIDC_ISSUER: ") and "https://" in plain
    missing = _problems(oidc_issuer="https://login.example.org/x", oidc_client_id="c")
    assert missing.startswith("CME_OIDC_CLIENT_SECRET: ")
    assert "missing: CME_OIDC_CLIENT_SECRET" in missing
    assert "openid" in _problems(oidc_scopes="email profile")
    assert "GUID" in _problems(oidc_tenant_id="contoso")
    assert "CME_OIDC_EMAIL_CLAIM" in _problems(oidc_email_claim="upn")

    off = Settings(_env_file=None)
    assert not off.oidc_enabled
    with pytest.raises(ValueError, match="CME_OIDC_ISSUER"):
        oidc_router(off, lambda request, identity: None)  # type: ignore[arg-type,return-value]
    on = Settings(
        _env_file=None,
        oidc_issuer="https://login.microsoftonline.com/0b8f2b9c-7d5e-4f6a-9c1d-2e3f4a5b6c7d/v2.0",
        oidc_client_id="c",
        oidc_client_secret="s",
        oidc_tenant_id="0B8F2B9C-7D5E-4F6A-9C1D-2E3F4A5B6C7D",
    )
    assert on.oidc_enabled and on.oidc_tenant_id == TENANT
    assert on.oidc_label == "Sign in with your council account"
