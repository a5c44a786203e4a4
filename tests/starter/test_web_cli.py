"""`cme web`: refuses to start without a session secret or on a register that is not up to date,
in one line; serves the web app (its health check, a GOV.UK page) and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from activities.register import HEAD, make_engine, upgrade_register
from tests.starter.conftest import free_port, run_main

REPO = Path(__file__).parents[2]
SECRET = "cli-web-session-secret-" + "s" * 32
CME = [sys.executable, "-m", "starter.cli"]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in list(os.environ):
        if key.startswith("CME_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def test_without_a_session_secret_it_does_not_start(capsys: pytest.CaptureFixture[str]) -> None:
    code = run_main(["web"])
    _out, err = capsys.readouterr()
    assert code == 2
    assert err.startswith("cme: error: CME_WEB_SESSION_SECRET is not set: ")
    assert err.count("\n") == 1


def test_a_register_not_up_to_date_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'register.db'}"
    engine = make_engine(url)
    upgrade_register(engine, "0004")
    engine.dispose()
    monkeypatch.setenv("CME_WEB_SESSION_SECRET", SECRET)
    monkeypatch.setenv("CME_DATABASE_URL", url)
    code = run_main(["web"])
    _out, err = capsys.readouterr()
    assert code == 1
    assert err == (
        f"cme: error: the case register at {url} is at revision 0004; the web app needs {HEAD}: "
        "run `cme register upgrade`\n"
    )


def test_it_serves_the_web_app_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    url = f"sqlite:///{tmp_path / 'register.db'}"
    upgrade_register(url)
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "CME_WEB_SESSION_SECRET": SECRET,
        "CME_DATABASE_URL": url,
    }
    out, err = tmp_path / "out", tmp_path / "err"
    with open(out, "wb") as o, open(err, "wb") as e:
        process = subprocess.Popen(
            [*CME, "web", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=o,
            stderr=e,
        )
    try:
        deadline = time.monotonic() + 30
        while "web app on" not in out.read_text():
            assert process.poll() is None, err.read_text()
            assert time.monotonic() < deadline, "not started in 30 s"
            time.sleep(0.1)
        assert out.read_text().startswith(f"web app on http://127.0.0.1:{port}; Ctrl-C to stop")
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/healthz").text == "ok"
        missing = httpx.get(f"{base}/no-such-page")
        assert missing.status_code == 404 and "Page not found" in missing.text
        assert httpx.get(f"{base}/assets/govuk-frontend.min.css").status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
    assert code == 0, err.read_text()
    assert "web app stopped" in out.read_text()
    logs = out.read_text() + err.read_text()
    assert SECRET not in logs and "Traceback" not in logs
