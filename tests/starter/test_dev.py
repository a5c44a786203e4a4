"""`cme dev` end to end: the stack starts on free ports, a child-protection referral sends its
email to the mail folder at once, the Web UI is given the codec server, which answers with the
token the banner prints, Ctrl-C stops everything cleanly, and the next start picks the open case
up again from the data directory."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from domain.clock import local_date
from starter.cases import case_reference
from starter.dev import temporal_binary
from starter.errors import CliError
from starter.mail_folder import messages, port_in_use, read_message
from tests.conftest import _free_port
from tests.workflows import harness

REPO = Path(__file__).parents[2]
SECRET = "test-dev-secret"
START_TIMEOUT = 90.0  # the first start creates temporal.db
STOP_TIMEOUT = 45.0

CME = [sys.executable, "-m", "starter.cli"]


@dataclass
class Stack:
    process: subprocess.Popen[bytes]
    out: Path
    err: Path

    def output(self) -> str:
        return self.out.read_text(errors="replace")

    def errors(self) -> str:
        return self.err.read_text(errors="replace")


@dataclass
class Env:
    tmp: Path
    data_dir: Path
    port: int
    ui_port: int
    smtp_port: int
    codec_port: int
    web_port: int
    env: dict[str, str]

    def dev_args(self) -> list[str]:
        return [
            "dev",
            "--data-dir",
            str(self.data_dir),
            "--port",
            str(self.port),
            "--ui-port",
            str(self.ui_port),
            "--smtp-port",
            str(self.smtp_port),
            "--codec-port",
            str(self.codec_port),
            "--web-port",
            str(self.web_port),
        ]

    def cme(self, *argv: str) -> subprocess.CompletedProcess[str]:
        """A `cme` command against this stack, to its end (bounded)."""
        return subprocess.run(
            [*CME, *argv], cwd=self.tmp, env=self.env, capture_output=True, text=True, timeout=60
        )

    def cme_ok(self, *argv: str) -> subprocess.CompletedProcess[str]:
        """A `cme` command that must succeed (and exit cleanly: no crash at interpreter exit)."""
        result = self.cme(*argv)
        assert result.returncode == 0, f"cme {' '.join(argv)}: {result.returncode} {result.stderr}"
        return result

    def start(self, name: str) -> Stack:
        out, err = self.tmp / f"{name}.out", self.tmp / f"{name}.err"
        with open(out, "wb") as o, open(err, "wb") as e:
            process = subprocess.Popen(
                [*CME, *self.dev_args()],
                cwd=self.tmp,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=o,
                stderr=e,
            )
        return Stack(process, out, err)

    def wait_ready(self, stack: Stack) -> int:
        """Until "Ctrl-C to stop"; the dev server's pid."""
        deadline = time.monotonic() + START_TIMEOUT
        while "Ctrl-C to stop" not in stack.output():
            if stack.process.poll() is not None:
                pytest.fail(f"cme dev exited ({stack.process.returncode}): {stack.errors()}")
            if time.monotonic() > deadline:
                pytest.fail(f"cme dev not ready in {START_TIMEOUT} s: {stack.output()}")
            time.sleep(0.1)
        found = re.search(r"dev server pid (\d+)", stack.output())
        assert found, stack.output()
        return int(found.group(1))

    def stop(self, stack: Stack, server_pid: int) -> None:
        stack.process.send_signal(signal.SIGINT)
        try:
            code = stack.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            stack.process.kill()
            pytest.fail(f"cme dev did not stop within {STOP_TIMEOUT} s: {stack.errors()}")
        assert code == 0, stack.errors()
        assert "Traceback" not in stack.errors(), stack.errors()
        assert "cme dev stopped" in stack.output()
        assert not _alive(server_pid), "the Temporal dev server outlived cme dev"
        assert not _processes_mentioning(str(self.data_dir / "temporal.db"))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(int(entry.name))
    return found


def stack_ports(count: int) -> list[int]:
    """``count`` free ports for the stack, below the kernel's ephemeral range. The Temporal CLI
    picks its HTTP API and metrics ports at random from that range when it starts; a port the
    test took from there (bound to port 0, then released) could be the one it picks, and the
    dev server's Web UI then failed to bind ("address already in use": one CI run in many)."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    chosen: list[int] = []
    if low > 11_000:
        for candidate in random.sample(range(10_000, low), k=1000):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                try:
                    s.bind(("127.0.0.1", candidate))
                except OSError:
                    continue
            chosen.append(candidate)
            if len(chosen) == count:
                return sorted(chosen)
    # No room below the ephemeral range: free ports from it, as the other tests take them.
    ports = {_free_port() for _ in range(count)}
    while len(ports) < count:
        ports.add(_free_port())
    return sorted(ports)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    today = local_date(datetime.now(UTC))
    calendar = harness.TestCalendar.write(tmp_path, today)
    port, ui_port, smtp_port, codec_port, web_port = stack_ports(5)
    environment = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "CME_CALENDAR_FILE": str(calendar.path),
        "CME_DATABASE_URL": f"sqlite:///{tmp_path / 'register.db'}",
        "CME_TASK_QUEUE": f"cme-dev-test-{uuid.uuid4().hex[:8]}",
        "CME_TEMPORAL_ADDRESS": f"localhost:{port}",
        "CME_CASE_KEY_SECRET": SECRET,
    }
    yield Env(
        tmp_path, tmp_path / "cme", port, ui_port, smtp_port, codec_port, web_port, environment
    )
    for pid in _processes_mentioning(str(tmp_path / "cme" / "temporal.db")):  # a failed test's
        os.kill(pid, signal.SIGKILL)


def test_cme_dev_runs_the_stack_stops_on_ctrl_c_and_resumes_open_cases(env: Env) -> None:
    today = local_date(datetime.now(UTC))
    calendar = harness.TestCalendar.write(env.tmp, today)
    referral = harness.school_referral(
        today=today, day1=calendar.first_school_day_on_or_before(today), cp=True
    )
    case = case_reference(referral, SECRET)
    referral_file = env.tmp / "referral.json"
    referral_file.write_text(referral.model_dump_json(indent=2), encoding="utf-8")

    first = env.start("first")
    server_pid = env.wait_ready(first)
    summary = first.output()
    assert f"localhost:{env.port}" in summary and "namespace default" in summary
    assert f"http://localhost:{env.ui_port}" in summary
    assert str(env.data_dir / "mail") in summary
    assert str(env.tmp / "register.db") in summary
    _check_codec_server(env, summary)
    _check_web_app(env, summary)
    assert "schedule cme-retention: every day at 02:00 Europe/London" in summary

    # The retention rule's schedule is there, as `temporal schedule list` shows it (from
    # visibility, which lags its creation by a moment).
    deadline = time.monotonic() + 20
    while True:
        listed = subprocess.run(
            [str(temporal_binary()), "schedule", "list", "--address", f"localhost:{env.port}"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert listed.returncode == 0, listed.stderr
        if "cme-retention" in listed.stdout or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert "cme-retention" in listed.stdout

    # A second stack on the same ports: one line, a non-zero exit, the first one unharmed.
    second = env.cme(*env.dev_args())
    assert second.returncode == 1
    assert second.stderr.strip().count("\n") == 0, second.stderr
    assert "already in use" in second.stderr
    assert first.process.poll() is None

    # The referral, as an LA officer would submit it.
    refer = env.cme_ok("refer", str(referral_file))
    assert f"opened case {case}" in refer.stdout

    # Child protection: MASH is emailed at once; the email is in the mail folder.
    mail = _wait_for_mail(env.data_dir / "mail", case)
    stored = read_message(mail)
    assert "mash" in str(stored["To"]).lower()
    assert case in str(stored["Subject"])

    # The README's example professional referral: the SAT is told of it by email.
    example = env.cme_ok("refer", str(REPO / "examples" / "professional-cme-referral.json"))
    example_case = example.stdout.split()[2]
    assert example.stdout.startswith(f"opened case {example_case} ")
    to_sat = read_message(_wait_for_mail(env.data_dir / "mail", example_case))
    assert "sat" in str(to_sat["To"]).lower()

    env.stop(first, server_pid)
    assert (env.data_dir / "temporal.db").is_file()
    assert not (env.data_dir / "codec-token").exists()  # the run's token ended with it
    assert not port_in_use("127.0.0.1", env.codec_port)

    # Started again on the same data directory, the case is still open.
    again = env.start("again")
    server_pid = env.wait_ready(again)
    # The first administrator's password was changed: no file, nothing in the banner.
    assert "First admin" not in again.output()
    assert not (env.data_dir / "first-admin-password").exists()
    try:
        show = env.cme_ok("show", case, "--json")
        state = json.loads(show.stdout)
        assert state["case"] == case
        assert state["stage"] != "closed"
        assert state["child_protection"] is True
    finally:
        env.stop(again, server_pid)


def _check_codec_server(env: Env, summary: str) -> None:
    """The banner's login link and the token file name this run's token; the Web UI was given
    the codec server as its endpoint; the codec server decodes for the token (and the session
    its login sets), for the UI's origin, and for nobody else."""
    codec = f"http://localhost:{env.codec_port}"
    assert f"Codec server {codec}" in summary
    found = re.search(rf"UI login +{re.escape(codec)}/login\?token=(\S+)", summary)
    assert found, summary
    token = found.group(1)
    token_file = env.data_dir / "codec-token"
    assert token_file.read_text().strip() == token
    assert token_file.stat().st_mode & 0o777 == 0o600
    assert "Include cross-origin credentials" in summary

    # The dev server's UI reports the codec endpoint it gives the browser.
    ui = f"http://localhost:{env.ui_port}"
    settings = httpx.get(f"{ui}/api/v1/settings", timeout=10).json()
    assert settings["Codec"]["Endpoint"] == codec

    plain = {"payloads": [{"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": "eyJhIjoxfQ=="}]}
    headers = {"Content-Type": "application/json", "X-Namespace": "default", "Origin": ui}
    bearer = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{env.codec_port}", timeout=10) as http:
        decoded = http.post("/decode", json=plain, headers={**headers, **bearer})
        assert decoded.status_code == 200, decoded.text
        assert decoded.json() == plain  # a plain payload passes through
        assert decoded.headers["access-control-allow-origin"] == ui
        round_trip = http.post(
            "/decode",
            json=http.post("/encode", json=plain, headers={**headers, **bearer}).json(),
            headers={**headers, **bearer},
        )
        assert round_trip.json() == plain
        assert http.post("/decode", json=plain, headers=headers).status_code == 401
        preflight = http.options(
            "/decode",
            headers={
                "Origin": ui,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type,x-namespace",
            },
        )
        assert preflight.headers["access-control-allow-origin"] == ui
        # The login link, opened as a browser would: its session then decodes.
        assert http.get(f"/login?token={token}").status_code == 200
        assert http.post("/decode", json=plain, headers=headers).json() == plain


def _check_web_app(env: Env, summary: str) -> None:
    """The banner gives the web app's URL and says its cookies are not Secure (plain http); it
    answers there, with the GOV.UK pages, and keeps its session secret for the owner only."""
    web = f"http://127.0.0.1:{env.web_port}"
    assert f"Web app      {web}  (cookies without Secure: plain http" in summary
    assert httpx.get(f"{web}/healthz", timeout=10).text == "ok"
    page = httpx.get(f"{web}/no-such-page", timeout=10)
    assert page.status_code == 404 and "Children missing education" in page.text
    assert "strict-transport-security" not in page.headers
    secret = env.data_dir / "web-session-secret"
    assert secret.stat().st_mode & 0o777 == 0o600
    assert len(secret.read_text().strip()) >= 32

    # The first administrator: its one-time password in a file for the owner only, which signs
    # in and must be changed first; once changed, the file goes.
    password_file = env.data_dir / "first-admin-password"
    assert (
        f"First admin  admin@localhost: its one-time password is in {password_file} "
        "(change it when you first sign in)"
    ) in summary
    assert password_file.stat().st_mode & 0o777 == 0o600
    email, password = password_file.read_text().splitlines()[:2]
    assert email == "admin@localhost"
    with httpx.Client(base_url=web, headers={"Origin": web}, timeout=10) as browser:
        token = _csrf(browser.get("/sign-in").text)
        answer = browser.post(
            "/sign-in", data={"csrf_token": token, "email": email, "password": password}
        )
        assert (answer.status_code, answer.headers["location"]) == (303, "/change-password")
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith("cme_session=") and "secure" not in cookie.lower()
        new = "the first administrator's own password"
        changed = browser.post(
            "/change-password",
            data={
                "csrf_token": _csrf(browser.get("/change-password").text),
                "current_password": password,
                "new_password": new,
                "confirm_password": new,
            },
        )
        assert (changed.status_code, changed.headers["location"]) == (303, "/")
        assert "First Administrator, administrator" in browser.get("/").text


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def _wait_for_mail(folder: Path, case: str, timeout: float = 30) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in messages(folder):
            if case in path.name:
                return path
        time.sleep(0.1)
    pytest.fail(f"no email for {case} in {folder} within {timeout} s: {messages(folder)}")


def test_a_port_in_use_is_one_line_and_nothing_is_started(env: Env) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", env.port))
        taken.listen()
        result = env.cme(*env.dev_args())
    err = result.stderr.strip()
    assert result.returncode == 1
    assert err == (
        f"cme: error: port already in use: {env.port} (Temporal gRPC, --port); is another "
        "`cme dev` running? Stop it, or choose free ports with the flags shown"
    )
    assert not (env.data_dir / "temporal.db").exists()


def test_a_missing_temporal_binary_is_a_cli_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare = tmp_path / "bin"  # a Python with no `temporal` beside it, and none on PATH
    bare.mkdir()
    monkeypatch.setattr(sys, "executable", str(bare / "python"))
    monkeypatch.setenv("PATH", str(bare))
    with pytest.raises(CliError) as raised:
        temporal_binary()
    assert raised.value.message.startswith("the Temporal CLI (`temporal`) is not installed")
    assert "\n" not in raised.value.message
