"""The browser-test machinery works: Debian's Chromium is the browser, axe-core reports a page's
faults by rule and passes a good page, screenshots are whole-page PNGs, a form works with
JavaScript off, and serve_app serves an app on loopback and stops it. The pages are a tiny FastAPI
app of this module's own."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import textwrap
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse
from playwright.sync_api import Browser, Page, expect

from tests.browser.fixtures import (
    AXE_SCRIPT,
    CHROMIUM,
    DESKTOP,
    PHONE,
    REPO,
    SCREENSHOTS,
    WCAG_TAGS,
    NewPage,
    Viewport,
    both_widths,
    serve_app,
)

Axe = Callable[[Page], dict[str, Any]]
Shot = Callable[[Page, str], Path]


def _html(title: str, body: str, *, lang: str = ' lang="en"') -> str:
    return textwrap.dedent(f"""\
        <!DOCTYPE html>
        <html{lang}>
        <head>
          <meta charset="utf-8">
          <meta name="viewport" content="width=device-width, initial-scale=1">
          <title>{title}</title>
          <style>
            body {{ font-family: arial, sans-serif; margin: 0; color: #0b0c0c; }}
            header {{ background: #1d70b8; color: #fff; padding: 10px 15px; }}
            main {{ padding: 15px; max-width: 960px; }}
            .faint {{ color: #d8d8d8; }}
            .tall {{ height: 2400px; background: linear-gradient(#fff, #f3f2f1); }}
            .error {{ color: #d4351c; font-weight: bold; }}
          </style>
        </head>
        <body>
        <header>CME test service</header>
        <main>
        {body}
        </main>
        </body>
        </html>
        """)


GOOD = _html(
    "Refer a child",
    """
    <h1>Refer a child</h1>
    <p>Tell us about a child who may be missing education.</p>
    <form method="post" action="/form">
      <label for="name">Child's full name</label>
      <input id="name" name="name" type="text" autocomplete="off">
      <button type="submit">Continue</button>
    </form>
    """,
)

FAULTY = _html(
    "Faulty page",
    """
    <h1>Faulty page</h1>
    <p id="faint-note" class="faint">This text can hardly be read.</p>
    <input id="nameless" name="nameless" type="text">
    """,
)

# axe reports lang and xml:lang that disagree as a moderate violation: reported, not failing.
MODERATE = _html(
    "Moderate fault",
    "<h1>Moderate fault</h1><p>The page's two languages disagree.</p>",
    lang=' lang="en" xml:lang="fr"',
)

TALL = _html("Tall page", '<h1>Tall page</h1><div class="tall"></div><p>The end.</p>')

# Two fields labelled only by script, one inline and one from a file: a fault with JavaScript off.
LABELLED_BY_SCRIPT = _html(
    "Labelled by script",
    """
    <h1>Labelled by script</h1>
    <input id="inline-labelled" type="text">
    <input id="file-labelled" type="text">
    <script>
      document.getElementById("inline-labelled").setAttribute("aria-label", "Inline");
    </script>
    <script src="/label.js"></script>
    """,
)

FORM_SCRIPT = """
document.body.classList.add("js-enabled");
document.querySelector("form").addEventListener("submit", (event) => {
  event.preventDefault();
  document.querySelector("h1").textContent = "Handled by script";
});
"""


def form_page(error: str | None = None) -> str:
    message = f'<p class="error" id="name-error">Error: {error}</p>' if error else ""
    return _html(
        ("Error: " if error else "") + "Refer a child",
        f"""
        <h1>Refer a child</h1>
        <form method="post" action="/form" novalidate>
          <label for="name">Child's full name</label>
          {message}
          <input id="name" name="name" type="text">
          <button type="submit">Continue</button>
        </form>
        <script src="/form.js"></script>
        """,
    )


def make_app() -> FastAPI:
    app = FastAPI()
    app.state.names = []
    # What the real app will send: no inline script or style from elsewhere. axe must still run.
    csp = {"Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'"}

    @app.get("/good")
    def good() -> HTMLResponse:
        return HTMLResponse(GOOD, headers=csp)

    @app.get("/faulty")
    def faulty() -> HTMLResponse:
        return HTMLResponse(FAULTY)

    @app.get("/moderate")
    def moderate() -> HTMLResponse:
        return HTMLResponse(MODERATE)

    @app.get("/labelled-by-script")
    def labelled_by_script() -> HTMLResponse:
        return HTMLResponse(LABELLED_BY_SCRIPT)

    @app.get("/label.js")
    def label_js() -> PlainTextResponse:
        script = 'document.getElementById("file-labelled").setAttribute("aria-label", "File");'
        return PlainTextResponse(script, media_type="text/javascript")

    @app.get("/tall")
    def tall() -> HTMLResponse:
        return HTMLResponse(TALL)

    @app.get("/form")
    def form() -> HTMLResponse:
        return HTMLResponse(form_page(), headers=csp)

    @app.get("/form.js")
    def form_js() -> PlainTextResponse:
        return PlainTextResponse(FORM_SCRIPT, media_type="text/javascript")

    @app.post("/form", response_model=None)
    async def submit(request: Request) -> HTMLResponse | RedirectResponse:
        fields = parse_qs((await request.body()).decode("utf-8"))
        name = fields.get("name", [""])[0].strip()
        if not name:
            return HTMLResponse(form_page("Enter the child's full name"), 400, headers=csp)
        app.state.names.append(name)
        # Post/redirect/get: the name stays out of the URL.
        return RedirectResponse("/form/done", status_code=303)

    @app.get("/form/done")
    def done() -> HTMLResponse:
        heading = f"<h1>Referral sent for {app.state.names[-1]}</h1>"
        return HTMLResponse(_html("Referral sent", heading))

    return app


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return make_app()


@pytest.fixture(scope="module")
def base_url(app: FastAPI) -> Iterator[str]:
    with serve_app(app) as url:
        yield url


# -- axe -------------------------------------------------------------------------------------------


def test_axe_fails_a_page_with_faults_naming_each_rule_and_element(page: Page, axe: Axe) -> None:
    page.goto("/faulty")

    with pytest.raises(pytest.fail.Exception) as failure:
        axe(page)

    message = str(failure.value)
    assert "axe: 2 serious or critical accessibility violations on http://127.0.0.1:" in message
    assert "- label (critical): Form elements must have labels\n    #nameless\n" in message
    assert "- color-contrast (serious): Elements must meet minimum color contrast" in message
    assert "    #faint-note\n" in message
    assert "https://dequeuniversity.com/rules/axe/" in message


@both_widths
def test_axe_passes_a_good_page_served_with_a_strict_csp(
    page: Page, axe: Axe, viewport: Viewport
) -> None:
    response = page.goto("/good")
    assert response is not None
    assert "default-src 'self'" in response.headers["content-security-policy"]

    result = axe(page)

    assert result["violations"] == []
    passed = {rule["id"] for rule in result["passes"]}
    assert {"label", "color-contrast", "html-has-lang", "document-title"} <= passed
    assert result["toolOptions"]["runOnly"] == {"type": "tag", "values": list(WCAG_TAGS)}
    assert page.viewport_size == {"width": viewport.width, "height": viewport.height}
    lock = json.loads((AXE_SCRIPT.parents[2] / "package-lock.json").read_text())
    assert result["testEngine"]["version"] == lock["packages"]["node_modules/axe-core"]["version"]


def test_axe_returns_lesser_violations_without_failing(page: Page, axe: Axe) -> None:
    page.goto("/moderate")

    result = axe(page)

    assert [(v["id"], v["impact"]) for v in result["violations"]] == [
        ("html-xml-lang-mismatch", "moderate")
    ]


def test_axe_checks_a_page_without_javascript_as_it_shows(new_page: NewPage, axe: Axe) -> None:
    with_javascript = new_page()
    with_javascript.goto("/labelled-by-script")
    assert axe(with_javascript)["violations"] == []

    without = new_page(javascript=False)
    without.goto("/labelled-by-script")
    with pytest.raises(pytest.fail.Exception) as failure:
        axe(without)

    message = str(failure.value)
    assert "/labelled-by-script (JavaScript off):\n- label (critical)" in message
    assert "    #inline-labelled\n    #file-labelled\n" in message


# -- screenshots -----------------------------------------------------------------------------------


def png_size(path: Path) -> tuple[int, int]:
    """The PNG's width and height, after checking that its image data is all there."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    chunks: dict[bytes, bytes] = {}
    offset = 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"{path}: bad {kind!r} chunk"
        chunks[kind] = chunks.get(kind, b"") + body
        offset += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    pixels = zlib.decompress(chunks[b"IDAT"])
    # Each row: a filter byte, then the row's pixels.
    assert len(pixels) == height * (1 + width * channels * depth // 8), f"{path}: data cut short"
    assert b"IEND" in chunks
    return width, height


@both_widths
def test_shot_writes_numbered_full_page_pngs(
    page: Page, shot: Shot, viewport: Viewport, request: pytest.FixtureRequest
) -> None:
    page.goto("/tall")
    page_height = page.evaluate("document.documentElement.scrollHeight")
    assert page_height > 2400 > viewport.height

    first = shot(page, "top")
    page.get_by_text("The end.").scroll_into_view_if_needed()
    second = shot(page, "after scrolling")

    folder = SCREENSHOTS / f"test_shot_writes_numbered_full_page_pngs-{viewport.name}"
    assert (first, second) == (folder / "01-top.png", folder / "02-after-scrolling.png")
    assert sorted(p.name for p in folder.iterdir()) == ["01-top.png", "02-after-scrolling.png"]
    assert png_size(first) == (viewport.width, page_height)
    assert png_size(second) == (viewport.width, page_height)


def test_a_failed_test_leaves_a_screenshot_of_its_page(
    pytester: pytest.Pytester, base_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A test of its own, in a pytest of its own, that uses the fixtures from outside tests/browser.
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    pytester.makeconftest('pytest_plugins = ["tests.browser.fixtures"]')
    pytester.makepyfile(
        test_fails=f"""
        def test_machinery_failing_on_purpose(page):
            page.goto("{base_url}/good")
            assert page.title() == "Another page"
        """
    )
    folder = SCREENSHOTS / "test_machinery_failing_on_purpose"
    try:
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
        result.assert_outcomes(failed=1)
        assert [p.name for p in folder.iterdir()] == ["01-failed.png"]
        assert png_size(folder / "01-failed.png")[0] == DESKTOP.width
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_async_tests_run_beside_browser_tests(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Playwright's sync API leaves its loop marked as running between calls; pytest-asyncio's tests
    # and fixtures after a browser test must still get loops of their own.
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    pytester.makeconftest('pytest_plugins = ["tests.browser.fixtures"]')
    pytester.makeini(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    )
    pytester.makepyfile(
        test_mixed="""
        import asyncio

        import pytest


        @pytest.fixture
        async def answer():
            await asyncio.sleep(0)
            return 42


        def test_browser_first(page):
            page.set_content("<p>first</p>")
            assert page.text_content("p") == "first"


        async def test_async_after_a_browser_test(answer):
            assert answer == 42


        def test_sync_with_an_async_fixture(answer):
            assert answer == 42


        def test_browser_again(page):
            page.set_content("<p>again</p>")
            assert page.text_content("p") == "again"


        async def test_async_last():
            await asyncio.sleep(0)
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=5)


# -- without JavaScript ----------------------------------------------------------------------------


def test_a_form_works_without_javascript(
    new_page: NewPage, app: FastAPI, shot: Shot, axe: Axe
) -> None:
    page = new_page(PHONE, javascript=False)
    page.goto("/form")
    expect(page.locator("body")).not_to_have_class(re.compile("js-enabled"))

    page.get_by_role("button", name="Continue").click()
    expect(page.locator("#name-error")).to_have_text("Error: Enter the child's full name")
    expect(page).to_have_title("Error: Refer a child")
    shot(page, "error")

    page.get_by_label("Child's full name").fill("Testchild Synthetic-Nojs")
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Referral sent for Testchild Synthetic-Nojs"
    )
    assert urlsplit(page.url).path == "/form/done"
    assert app.state.names[-1] == "Testchild Synthetic-Nojs"
    shot(page, "sent")
    axe(page)


def test_javascript_is_on_by_default(page: Page, app: FastAPI) -> None:
    # The control for the test above: with JavaScript on, the page's script takes the submit.
    count = len(app.state.names)
    page.goto("/form")
    expect(page.locator("body")).to_have_class(re.compile("js-enabled"))

    page.get_by_label("Child's full name").fill("Testchild Synthetic-Js")
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Handled by script")
    assert len(app.state.names) == count


# -- the browser -----------------------------------------------------------------------------------


def _ancestors(pid: int) -> Iterator[int]:
    while pid > 1:
        status = Path(f"/proc/{pid}/status").read_text()
        pid = int(re.search(r"^PPid:\s+(\d+)", status, re.M).group(1))  # type: ignore[union-attr]
        yield pid


def test_the_browser_is_debians_chromium(browser: Browser) -> None:
    printed = subprocess.run(
        [str(CHROMIUM), "--version"], capture_output=True, text=True, check=True
    ).stdout
    # "Chromium 156.0.8078.108 built on Debian GNU/Linux 12 (bookworm)"
    match = re.match(r"Chromium (\d+(?:\.\d+){3}) built on Debian", printed)
    assert match, printed
    assert browser.version == match.group(1)

    # The browser process this session drives is the binary /usr/bin/chromium starts
    # (Debian's wrapper script execs /usr/lib/chromium/chromium), not a downloaded one.
    ours = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, AttributeError):
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            if b"--remote-debugging-pipe" in cmdline and os.getpid() in _ancestors(int(entry.name)):
                ours.append(os.readlink(entry / "exe"))
    assert ours == ["/usr/lib/chromium/chromium"]


# -- serve_app -------------------------------------------------------------------------------------


def test_serve_app_serves_on_loopback_then_stops() -> None:
    app = FastAPI()

    @app.get("/")
    def hello() -> PlainTextResponse:
        return PlainTextResponse("hello")

    with serve_app(app) as url:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
        assert httpx.get(url).text == "hello"
    port = urlsplit(url).port
    assert port is not None
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port)):
        pass


def test_serve_app_says_when_the_app_cannot_start() -> None:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        raise RuntimeError("no register")
        yield

    with (
        pytest.raises(RuntimeError, match="the app did not start"),
        serve_app(FastAPI(lifespan=lifespan)),
    ):
        pass


def test_page_tests_get_a_fresh_context_each(page: Page, browser: Browser) -> None:
    # One context per test (no cookies carried over): this one's alone in the browser.
    assert browser.contexts == [page.context]
    assert page.context.cookies() == []
