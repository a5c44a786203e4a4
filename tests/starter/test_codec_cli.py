"""`cme codec-server`: refuses to start without a token, serves the codec server protocol with
the token from the settings for the UI origins given, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.starter.conftest import free_port, run_main

REPO = Path(__file__).parents[2]
TOKEN = "cli-codec-token-" + "k" * 32
CME = [sys.executable, "-m", "starter.cli"]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in list(os.environ):
        if key.startswith("CME_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def test_without_a_token_it_does_not_start(capsys: pytest.CaptureFixture[str]) -> None:
    code = run_main(["codec-server"])
    _out, err = capsys.readouterr()
    assert code == 2
    assert err.startswith("cme: error: CME_CODEC_SERVER_TOKEN is not set: ")
    assert err.count("\n") == 1


def test_a_bad_ui_origin_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CME_CODEC_SERVER_TOKEN", TOKEN)
    code = run_main(["codec-server", "--ui-origin", "*"])
    _out, err = capsys.readouterr()
    assert code == 2
    assert err.startswith("cme: error: a UI origin is scheme://host[:port]")


def test_it_serves_the_ui_origin_with_the_token_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    ui = "http://localhost:8080"
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "CME_CODEC_SERVER_TOKEN": TOKEN,
        "CME_DATABASE_URL": f"sqlite:///{tmp_path / 'register.db'}",
    }
    out, err = tmp_path / "out", tmp_path / "err"
    with open(out, "wb") as o, open(err, "wb") as e:
        process = subprocess.Popen(
            [*CME, "codec-server", "--port", str(port), "--ui-origin", ui],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=o,
            stderr=e,
        )
    try:
        deadline = time.monotonic() + 30
        while "codec server on" not in out.read_text():
            assert process.poll() is None, err.read_text()
            assert time.monotonic() < deadline, "not started in 30 s"
            time.sleep(0.1)
        assert out.read_text().startswith(f"codec server on http://127.0.0.1:{port} for the Web UI")
        body = {"payloads": [{"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": "MQ=="}]}
        url = f"http://127.0.0.1:{port}/decode"
        headers = {"Content-Type": "application/json", "Origin": ui}
        answer = httpx.post(url, json=body, headers={**headers, "Authorization": f"Bearer {TOKEN}"})
        assert answer.status_code == 200 and answer.json() == body
        assert answer.headers["access-control-allow-origin"] == ui
        assert httpx.post(url, json=body, headers=headers).status_code == 401
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
    assert code == 0, err.read_text()
    assert "codec server stopped" in out.read_text()
    logs = out.read_text() + err.read_text()
    assert TOKEN not in logs and "Traceback" not in logs
