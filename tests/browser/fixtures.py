"""Browser-test machinery, a pytest plugin (registered in ``tests/conftest.py``, so every test under
``tests/`` can use it): Playwright driving Debian's Chromium at ``/usr/bin/chromium`` (installed by
``scripts/_browser.sh``; no browser is ever downloaded), axe-core for accessibility, screenshots,
and a helper that serves an ASGI app on loopback.

Fixtures:

- ``browser``: one headless Chromium for the session.
- ``page``: a fresh context and page for each test, ``viewport`` wide (desktop unless the test is
  parametrized with :data:`PHONE`, e.g. ``@both_widths``), its relative URLs resolved against
  ``base_url``.
- ``base_url``: ``None`` here; page tests override it with a fixture that serves their app
  (``with serve_app(app) as url: yield url``).
- ``new_page``: more pages in the same test: ``new_page(PHONE, javascript=False)``; each in its own
  context (its own cookies), closed after the test.
- ``shot``: ``shot(page, "name")`` writes a full-page screenshot to
  ``test-output/screenshots/<test name>/<nn>-<name>.png``.
- ``axe``: ``axe(page)`` runs axe-core's WCAG 2.0, 2.1 and 2.2 A and AA rules on the page, fails the
  test listing every serious or critical violation, and returns axe's whole result.

Browser tests are plain ``def`` tests, without async fixtures: Playwright's sync API runs its own
event loop, and cannot be called from inside a running one. The app under test (and whatever else
is async: a Temporal worker, say) runs in its own thread with its own loop (:func:`serve_app`).
Async tests elsewhere in the session are unaffected (see ``pytest_runtest_protocol``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import shutil
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urldefrag

import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
AXE_SCRIPT = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = REPO / "test-output" / "screenshots"

# axe-core's tags for WCAG 2.0, 2.1 and 2.2 at levels A and AA (what GOV.UK services must meet);
# axe has no 2.2 rule at level A today, the tag is there for when it has.
WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa")
# Impacts that fail a test. Minor and moderate ones are in the returned result, to assert on.
FAILING_IMPACTS = frozenset({"serious", "critical"})


@dataclass(frozen=True)
class Viewport:
    name: str
    width: int
    height: int


# GOV.UK Frontend's layout changes at 641 px (tablet) and 769 px (desktop): a phone in portrait
# (a common 375 px wide handset) and a laptop screen see the two ends of it.
PHONE = Viewport("phone", 375, 667)
DESKTOP = Viewport("desktop", 1280, 800)

both_widths = pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=lambda v: v.name)
"""Runs a test once on a phone and once on a desktop: its ``page`` (and ``viewport``) follow."""


# -- serving the app -------------------------------------------------------------------------------


@contextlib.contextmanager
def serve_app(app: Any, *, startup_timeout: float = 15) -> Iterator[str]:
    """Serves the ASGI ``app`` with uvicorn on a free port of 127.0.0.1, in a thread with its own
    event loop (the app's lifespan runs there), and yields its base URL (no trailing slash).
    The server is stopped, and its thread joined, on exit.

    The socket is bound here and handed to uvicorn, so no other process can take the port between
    choosing it and listening on it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    exits: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # uvicorn exits (SystemExit 3) when the app's startup fails
            exits.append(exc)

    thread = threading.Thread(target=run, name=f"uvicorn:{port}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + startup_timeout
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError(
                    f"the app did not start ({exits[0]!r} from uvicorn: its lifespan startup "
                    "failed, see the captured log)"
                    if exits
                    else "the app did not start"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"the app did not start within {startup_timeout} s")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


# -- the browser -----------------------------------------------------------------------------------


# Playwright's sync API marks its event loop as the thread's running loop between its calls (its
# dispatcher resumes inside that loop at the next call). While it is marked, pytest-asyncio cannot
# run a loop of its own: every async test or fixture after the first browser test would fail with
# "cannot be called from a running event loop". So the mark is lifted for each test that does not
# use Playwright, and put back after it, and before Playwright's own teardown.
_playwright_loop: asyncio.AbstractEventLoop | None = None


def _mark_playwright_loop_running() -> None:
    if _playwright_loop is not None and not _playwright_loop.is_closed():
        asyncio._set_running_loop(_playwright_loop)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    lifted = "playwright" not in getattr(item, "fixturenames", ()) and (
        _playwright_loop is not None and asyncio._get_running_loop() is _playwright_loop
    )
    if lifted:
        asyncio._set_running_loop(None)
    try:
        return (yield)
    finally:
        if lifted:
            _mark_playwright_loop_running()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    global _playwright_loop
    with sync_playwright() as pw:
        _playwright_loop = asyncio._get_running_loop()
        try:
            yield pw
        finally:
            _mark_playwright_loop_running()
    if asyncio._get_running_loop() is _playwright_loop:
        asyncio._set_running_loop(None)
    _playwright_loop = None


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Debian's Chromium, headless, for the whole session (each test gets its own context)."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: ./scripts/test installs it (apt-get install chromium)",
            pytrace=False,
        )
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        # Without the sandbox (Playwright passes --no-sandbox): Chromium refuses to start its
        # sandbox as root, and a container has neither the user namespaces nor the setuid helper
        # it would need. It loads only the tests' own pages, from loopback.
        chromium_sandbox=False,
        # Playwright's defaults already keep Chromium off the network it cannot reach here
        # (--disable-background-networking, --disable-component-update) and out of a small
        # /dev/shm (--disable-dev-shm-usage).
    )
    try:
        yield browser
    finally:
        _mark_playwright_loop_running()
        browser.close()


@pytest.fixture
def viewport() -> Viewport:
    """The ``page``'s size: desktop unless a test is parametrized (``@both_widths``)."""
    return DESKTOP


@pytest.fixture
def base_url() -> str | None:
    """What the ``page``'s relative URLs are resolved against: override it to serve the app."""
    return None


class NewPage(Protocol):
    def __call__(
        self,
        viewport: Viewport = DESKTOP,
        *,
        javascript: bool = True,
        base_url: str | None = None,
    ) -> Page: ...


# The contexts new_page made with JavaScript off: Chromium runs no script in their pages, not even
# Playwright's page.evaluate (it waits for ever), so run_axe checks a copy of such a page.
_NO_JAVASCRIPT: weakref.WeakSet[BrowserContext] = weakref.WeakSet()

# Stored on the test's item by pytest_runtest_makereport, read by the page fixtures' teardown.
_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


@pytest.fixture
def new_page(
    browser: Browser, request: pytest.FixtureRequest, base_url: str | None
) -> Iterator[NewPage]:
    """Makes pages, each in a fresh context; a failed test leaves a screenshot of each."""
    contexts: list[BrowserContext] = []
    default_base_url = base_url
    _clear_screenshots(request)

    def make(
        viewport: Viewport = DESKTOP, *, javascript: bool = True, base_url: str | None = None
    ) -> Page:
        context = browser.new_context(
            viewport={"width": viewport.width, "height": viewport.height},
            java_script_enabled=javascript,
            base_url=base_url or default_base_url,
            locale="en-GB",
            timezone_id="Europe/London",
        )
        # A page that does not answer fails the test in 15 s, not Playwright's 30.
        context.set_default_timeout(15_000)
        contexts.append(context)
        if not javascript:
            _NO_JAVASCRIPT.add(context)
        return context.new_page()

    yield make

    reports = request.node.stash.get(_REPORTS, {})
    failed = any(report.failed for report in reports.values())
    for context in contexts:
        if failed:
            for page in context.pages:
                with contextlib.suppress(Exception):
                    _screenshot(request, page, "failed")
        context.close()


@pytest.fixture
def page(new_page: NewPage, viewport: Viewport) -> Page:
    """A fresh page, ``viewport`` wide, in a context of its own (no cookies from other tests)."""
    return new_page(viewport)


# -- screenshots -----------------------------------------------------------------------------------


_SCREENSHOTS_TAKEN = pytest.StashKey[int]()


def _test_dir_name(request: pytest.FixtureRequest) -> str:
    # "test_refer[phone]" -> "test_refer-phone": a name a shell need not quote.
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")


def _clear_screenshots(request: pytest.FixtureRequest) -> None:
    # Before the test: its folder shows this run only (no shot, or a failure's, left from before).
    shutil.rmtree(SCREENSHOTS / _test_dir_name(request), ignore_errors=True)


def _screenshot(request: pytest.FixtureRequest, page: Page, name: str) -> Path:
    folder = SCREENSHOTS / _test_dir_name(request)
    taken = request.node.stash.get(_SCREENSHOTS_TAKEN, 0)
    request.node.stash[_SCREENSHOTS_TAKEN] = taken + 1
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{taken + 1:02d}-{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
    page.screenshot(path=path, full_page=True)
    return path


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Callable[[Page, str], Path]:
    """``shot(page, name)``: a full-page PNG of ``page`` in
    ``test-output/screenshots/<test name>/<nn>-<name>.png``, numbered in the order taken."""
    _clear_screenshots(request)
    return functools.partial(_screenshot, request)


# -- accessibility ---------------------------------------------------------------------------------


@functools.cache
def _axe_source() -> str:
    if not AXE_SCRIPT.exists():
        pytest.fail(
            f"{AXE_SCRIPT.relative_to(REPO)} is missing: ./scripts/test installs it "
            "(npm ci in tests/browser)",
            pytrace=False,
        )
    return AXE_SCRIPT.read_text(encoding="utf-8")


def describe_violations(violations: Sequence[dict[str, Any]]) -> str:
    """axe's violations, one block each: rule id, impact, what it asks, the elements at fault."""
    lines: list[str] = []
    for violation in violations:
        lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"]:
            # A target is a list of selectors, one per nested frame or shadow root.
            lines.append("    " + " >> ".join(str(part) for part in node["target"]))
        lines.append(f"    {violation['helpUrl']}")
    return "\n".join(lines)


def _axe_run(page: Page, tags: Sequence[str]) -> dict[str, Any]:
    # Evaluated through the DevTools protocol, as Playwright evaluates everything: the page's
    # Content-Security-Policy does not keep axe out, so the page is checked as served.
    page.evaluate(_axe_source())
    result: dict[str, Any] = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", list(tags)
    )
    return result


def _axe_run_on_copy(page: Page, tags: Sequence[str]) -> dict[str, Any]:
    """axe on a page whose context has JavaScript off: the page's markup, as it is now (no script
    changed it), served at its URL with its cookies and size in a context where scripts can run,
    but none of the page's own (a Content-Security-Policy of ``script-src 'none'``, which axe,
    evaluated through the DevTools protocol, is not subject to). One difference is left: the copy
    does not show what is inside ``<noscript>``."""
    browser = page.context.browser
    assert browser is not None
    html, url = page.content(), page.url
    requested_url = urldefrag(url).url  # what the copy's navigation asks for: no #fragment
    context = browser.new_context(
        viewport=page.viewport_size, locale="en-GB", timezone_id="Europe/London"
    )
    try:
        context.set_default_timeout(15_000)
        context.add_cookies(page.context.cookies())  # type: ignore[arg-type]
        copy = context.new_page()
        copy.route(
            lambda requested: requested == requested_url,
            lambda route: route.fulfill(
                body=html,
                content_type="text/html; charset=utf-8",
                headers={"Content-Security-Policy": "script-src 'none'"},
            ),
        )
        copy.goto(url)
        return _axe_run(copy, tags)
    finally:
        context.close()


def run_axe(page: Page, *, tags: Sequence[str] = WCAG_TAGS) -> dict[str, Any]:
    """Runs axe-core on ``page`` as it is now; fails the test when any violation is serious or
    critical, listing them. Returns axe's result (``violations``, ``passes``, ``incomplete``...).
    A page of a context without JavaScript is checked as that page shows (see _axe_run_on_copy)."""
    without_javascript = page.context in _NO_JAVASCRIPT
    result = _axe_run_on_copy(page, tags) if without_javascript else _axe_run(page, tags)
    failing = [v for v in result["violations"] if v["impact"] in FAILING_IMPACTS]
    if failing:
        pytest.fail(
            f"axe: {len(failing)} serious or critical accessibility violation"
            f"{'s' if len(failing) != 1 else ''} on {page.url}"
            f"{' (JavaScript off)' if without_javascript else ''}:\n"
            f"{describe_violations(failing)}",
            pytrace=False,
        )
    return result


@pytest.fixture
def axe() -> Callable[[Page], dict[str, Any]]:
    """``axe(page)``: :func:`run_axe` (the WCAG A and AA rules; serious or critical ones fail)."""
    return run_axe
