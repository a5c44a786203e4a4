"""A real OpenID provider on loopback for the tests (the certified ``oidc-provider`` package, run
by Node.js from ``tests/oidc/provider.mjs``), and a browser's walk through its pages with httpx.

Registered as a pytest plugin by ``tests/conftest.py``, so that every test package can use:

* ``oidc_provider`` (session): a provider whose client redirects to the ASGI test app at
  ``http://testserver/sign-in/oidc/callback``, with the accounts of :func:`staff_accounts`;
* ``oidc_provider_factory`` (session): ``start(redirect_uris=..., accounts=..., ...)`` for a
  provider of one's own (another app URL, a key id, claims only from userinfo); each is stopped at
  the end of the session.

An :class:`OidcProvider` gives its issuer, client id and secret, its accounts (with passwords)
and :meth:`OidcProvider.settings` / :meth:`OidcProvider.env` for the app. :func:`sign_in` signs in
at the provider's pages as a person would (login form, then consent).

Node.js and the provider's packages are installed by ``scripts/_oidc.sh`` (which ``scripts/test``
sources); without them the tests fail saying so, never skip.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest

from settings import Settings

HERE = Path(__file__).parent
PROVIDER_SCRIPT = HERE / "provider.mjs"
TEST_APP_CALLBACK = "http://testserver/sign-in/oidc/callback"
# An Entra ID directory (tenant) ID for the tests, and another directory's.
TENANT = "0b8f2b9c-7d5e-4f6a-9c1d-2e3f4a5b6c7d"
OTHER_TENANT = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"
_START_TIMEOUT = 20.0


@dataclass(frozen=True)
class OidcAccount:
    """A person at the provider: ``claims`` beyond sub, email and name (``email_verified``,
    ``tid``, ``preferred_username``) are given as they are, and none when absent."""

    sub: str
    email: str
    name: str
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12), repr=False)
    claims: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            **self.claims,
            "sub": self.sub,
            "email": self.email,
            "name": self.name,
            "password": self.password,
        }


def staff_accounts() -> dict[str, OidcAccount]:
    """Synthetic LA staff, by role in the tests (new passwords each call)."""
    return {
        "officer": OidcAccount(
            sub="staff-0001",
            email="alex.testofficer@council.example",
            name="Alex Testofficer",
            claims={"email_verified": True},
        ),
        "unverified": OidcAccount(
            sub="staff-0002",
            email="sam.unverified@council.example",
            name="Sam Unverified",
            claims={"email_verified": False},
        ),
        # As Entra ID signs people in: no email_verified, the sign-in name, the directory's tid
        # (and, when the optional claim is configured, xms_edov: the email's domain verified).
        "entra": OidcAccount(
            sub="AAAAAAAAAAAAAAAAAAAAAEntraSubjectOne",
            email="jo.directory@council.example",
            name="Jo Directory",
            claims={"preferred_username": "jo.directory@council.example", "tid": TENANT},
        ),
        "entra_edov": OidcAccount(
            sub="AAAAAAAAAAAAAAAAAAAAAEntraSubjectEdov",
            email="lee.verified@council.example",
            name="Lee Verified",
            claims={"tid": TENANT, "xms_edov": True},
        ),
        "other_tenant": OidcAccount(
            sub="AAAAAAAAAAAAAAAAAAAAAEntraSubjectTwo",
            email="kim.elsewhere@other.example",
            name="Kim Elsewhere",
            claims={"preferred_username": "kim.elsewhere@other.example", "tid": OTHER_TENANT},
        ),
    }


@dataclass(frozen=True)
class OidcProvider:
    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    redirect_uris: tuple[str, ...]
    accounts: dict[str, OidcAccount]
    key_id: str
    log: Path

    def settings(self, **overrides: Any) -> Settings:
        """Settings for an app signing in with this provider (``overrides`` by field name)."""
        values: dict[str, Any] = {
            "oidc_issuer": self.issuer,
            "oidc_client_id": self.client_id,
            "oidc_client_secret": self.client_secret,
            **overrides,
        }
        return Settings(_env_file=None, **values)

    def env(self) -> dict[str, str]:
        """The ``CME_OIDC_*`` variables for an app started as a process of its own."""
        return {
            "CME_OIDC_ISSUER": self.issuer,
            "CME_OIDC_CLIENT_ID": self.client_id,
            "CME_OIDC_CLIENT_SECRET": self.client_secret,
        }

    @property
    def jwks_uri(self) -> str:
        return f"{self.issuer}/jwks"


@contextlib.contextmanager
def run_oidc_provider(
    workdir: Path,
    *,
    redirect_uris: Sequence[str] = (TEST_APP_CALLBACK,),
    accounts: dict[str, OidcAccount] | None = None,
    client_id: str = "cme-web",
    client_secret: str | None = None,
    key_id: str | None = None,
    claims_in_userinfo_only: bool = False,
    port: int = 0,
) -> Iterator[OidcProvider]:
    """Starts ``provider.mjs`` on a free loopback port (the system picks it, the provider says
    which; or ``port``, to start a provider again with the same issuer), waits until its
    discovery document answers, and stops it afterwards."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("the OpenID Connect tests need Node.js: run ./scripts/test (scripts/_oidc.sh)")
    if not (HERE / "node_modules" / "oidc-provider").is_dir():
        pytest.fail(
            "the tests' OpenID provider is not installed: run ./scripts/test, which installs it "
            "(scripts/_oidc.sh: npm ci in tests/oidc)"
        )
    accounts = staff_accounts() if accounts is None else accounts
    client_secret = client_secret or secrets.token_urlsafe(32)
    key_id = key_id or f"test-key-{secrets.token_hex(4)}"
    workdir.mkdir(parents=True, exist_ok=True)
    accounts_file = workdir / "accounts.json"
    accounts_file.write_text(json.dumps([a.as_json() for a in accounts.values()]))
    log = workdir / "provider.log"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "OIDC_PORT": str(port),
        "OIDC_CLIENT_ID": client_id,
        "OIDC_CLIENT_SECRET": client_secret,
        "OIDC_REDIRECT_URIS": " ".join(redirect_uris),
        "OIDC_ACCOUNTS": str(accounts_file),
        "OIDC_KEY_ID": key_id,
        "OIDC_CLAIMS_IN_USERINFO_ONLY": "1" if claims_in_userinfo_only else "0",
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [node, str(PROVIDER_SCRIPT)],
            cwd=HERE,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        issuer = _wait_for_discovery(process, log)
        yield OidcProvider(
            issuer=issuer,
            client_id=client_id,
            client_secret=client_secret,
            redirect_uris=tuple(redirect_uris),
            accounts=accounts,
            key_id=key_id,
            log=log,
        )
    finally:
        _stop(process)


def _wait_for_discovery(process: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + _START_TIMEOUT
    issuer = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"the OpenID provider stopped (exit {process.returncode}):\n{log.read_text()}"
            )
        if issuer is None:
            found = re.search(r"^listening (http://127\.0\.0\.1:\d+)$", log.read_text(), re.M)
            issuer = found.group(1) if found else None
        if issuer is not None:
            with contextlib.suppress(httpx.HTTPError):
                answer = httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=2)
                if answer.status_code == 200 and answer.json().get("issuer") == issuer:
                    return issuer
        time.sleep(0.05)
    _stop(process)
    pytest.fail(
        f"the OpenID provider did not answer within {_START_TIMEOUT:.0f} s:\n{log.read_text()}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


StartProvider = Callable[..., OidcProvider]


@pytest.fixture(scope="session")
def oidc_provider_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartProvider]:
    """``start(**options)``: a provider of one's own (options of :func:`run_oidc_provider`)."""
    with contextlib.ExitStack() as stack:

        def start(**options: Any) -> OidcProvider:
            workdir = tmp_path_factory.mktemp("oidc-provider")
            return stack.enter_context(run_oidc_provider(workdir, **options))

        yield start


@pytest.fixture(scope="session")
def oidc_provider(oidc_provider_factory: StartProvider) -> OidcProvider:
    """The provider for the ASGI test app (``http://testserver``), with :func:`staff_accounts`."""
    return oidc_provider_factory()


# -- a person at the provider's pages ------------------------------------------------------------

_FORM = re.compile(r'<form method="post" action="([^"]+)" id="(login|consent|deny)">')


def page_forms(page: httpx.Response) -> dict[str, str]:
    """The provider page's forms by id (login, consent, deny) and their absolute actions."""
    return {
        form_id: urljoin(str(page.url), unescape(action))
        for action, form_id in _FORM.findall(page.text)
    }


async def sign_in(
    browser: httpx.AsyncClient,
    start_url: str,
    account: OidcAccount,
    *,
    password: str | None = None,
    consent: bool = True,
) -> httpx.Response:
    """Opens ``start_url`` (the app's ``/sign-in/oidc``) in ``browser`` (an httpx client that
    follows redirects and keeps cookies), signs in at the provider's login form, allows (or denies)
    at its consent page, and returns the page it ends on: the app's answer to the callback, or the
    provider's login form again after a wrong password."""
    page = await browser.get(start_url)
    forms = page_forms(page)
    if "login" in forms:
        page = await browser.post(
            forms["login"],
            data={
                "email": account.email,
                "password": account.password if password is None else password,
            },
        )
        forms = page_forms(page)
    if "consent" in forms:
        page = await browser.post(forms["consent" if consent else "deny"])
    return page
