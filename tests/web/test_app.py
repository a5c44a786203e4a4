"""The app's foundation: GOV.UK Frontend's assets served from the app (no CDN), the GOV.UK layout
and error pages, the security headers on every answer, and the health check."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from settings import Settings
from tests.web.conftest import browser, web_settings
from web.app import ASSETS_DIR, AssetsMissing, create_app, govuk_version

REPO = Path(__file__).parents[2]


async def test_the_govuk_assets_are_served_by_the_app(client: httpx.AsyncClient) -> None:
    css = await client.get("/assets/govuk-frontend.min.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert ".govuk-template" in css.text
    # Every font and image the stylesheet names is there too, at the address it names.
    for url in sorted(set(re.findall(r"url\((/assets/[^)]+)\)", css.text))):
        asset = await client.get(url)
        assert asset.status_code == 200, url
    # Not on GOV.UK, so not in its typeface: GDS Transport is licensed for GOV.UK only.
    assert "GDS Transport" not in css.text
    assert set(re.findall(r"font-family:([^;}]+)", css.text)) <= {"arial,sans-serif", "sans-serif"}
    assert (await client.get("/assets/fonts/bold-b542beb274-v2.woff2")).status_code == 404
    js = await client.get("/assets/govuk-frontend.min.js")
    assert js.status_code == 200 and "initAll" in js.text
    app_js = await client.get("/static/app.js")
    assert app_js.status_code == 200
    assert 'from "/assets/govuk-frontend.min.js"' in app_js.text


def test_the_assets_are_the_locked_govuk_frontend_5() -> None:
    lock = (REPO / "web/frontend/package-lock.json").read_text()
    locked = re.search(r'"node_modules/govuk-frontend": \{\s*"version": "([^"]+)"', lock)
    assert locked, "govuk-frontend is in the lock file"
    assert govuk_version() == locked.group(1)
    assert locked.group(1).startswith("5.")


async def test_a_page_is_the_govuk_template_with_the_service_name(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/no-such-page")
    assert page.status_code == 404
    html = page.text
    assert "<title>Page not found – Children missing education</title>" in html
    assert '<a href="#main-content" class="govuk-skip-link"' in html
    assert 'id="main-content"' in html
    assert "govuk-service-navigation__service-name" in html
    assert "Children missing education" in html
    assert "govuk-phase-banner" in html and "Beta" in html
    assert '<footer class="govuk-footer">' in html
    assert '<link rel="stylesheet" href="/assets/govuk-frontend.min.css">' in html
    # Not on GOV.UK: neither its header (crown, logotype) nor its copyright notice.
    assert "govuk-header__logo" not in html and "Crown copyright" not in html
    # No CDN: every script and stylesheet comes from the app.
    for url in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert url.startswith(("/", "#", "data:")), url


async def test_every_answer_carries_the_security_headers(client: httpx.AsyncClient) -> None:
    for path in ("/no-such-page", "/healthz", "/assets/govuk-frontend.min.css"):
        answer = await client.get(path)
        csp = answer.headers["content-security-policy"]
        assert "default-src 'self'" in csp
        assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
        assert "frame-ancestors 'none'" in csp
        assert "object-src 'none'" in csp
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "same-origin"
        assert answer.headers["strict-transport-security"].startswith("max-age=")
    # Pages are never cached (they hold children's data); the assets may be.
    assert (await client.get("/no-such-page")).headers["cache-control"] == "no-store"
    assert "no-store" not in (await client.get("/static/app.css")).headers.get("cache-control", "")


async def test_the_only_inline_script_carries_this_answers_nonce(
    client: httpx.AsyncClient,
) -> None:
    first, second = await client.get("/no-such-page"), await client.get("/no-such-page")
    nonces = []
    for page in (first, second):
        [nonce] = re.findall(r"'nonce-([^']+)'", page.headers["content-security-policy"])
        inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", page.text)
        assert inline == [f' nonce="{nonce}"'], inline
        nonces.append(nonce)
    assert nonces[0] != nonces[1]


async def test_no_hsts_when_cookies_are_not_secure(make_app: object) -> None:
    app = make_app(web_secure_cookies=False)  # type: ignore[operator]
    async with browser(app) as http:
        answer = await http.get("/healthz")
    assert "strict-transport-security" not in answer.headers
    assert "upgrade-insecure-requests" not in answer.headers["content-security-policy"]


async def test_an_unexpected_error_is_the_govuk_500_page_without_its_details(
    app: FastAPI, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("Testchild Syntheticname's record failed")

    answer = await client.get("/boom")
    assert answer.status_code == 500
    assert "Sorry, there is a problem with the service" in answer.text
    assert "Syntheticname" not in answer.text
    assert "Syntheticname" not in caplog.text
    assert "RuntimeError" in caplog.text
    assert answer.headers["x-frame-options"] == "DENY"


async def test_the_health_check_answers_ok_while_the_register_does(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get("/healthz")
    assert (answer.status_code, answer.text) == (200, "ok")


def test_the_app_needs_a_session_secret_and_the_assets(tmp_path: Path) -> None:
    settings = web_settings(tmp_path)
    with pytest.raises(ValueError, match="CME_WEB_SESSION_SECRET is not set"):
        create_app(settings.model_copy(update={"web_session_secret": None}))
    with pytest.raises(AssetsMissing, match=r"run scripts/_frontend\.sh"):
        create_app(settings, assets=tmp_path / "nowhere")
    assert ASSETS_DIR.is_dir()


def test_a_short_session_secret_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CME_WEB_SESSION_SECRET", "short")
    with pytest.raises(ValueError, match="web_session_secret"):
        Settings(_env_file=None)
    assert (
        Settings(
            _env_file=None,
            web_session_secret=SecretStr("x" * 32),
        ).web_session_secret
        is not None
    )
