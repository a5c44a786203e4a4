"""`cme web`: the web app (:mod:`web`), for a deployment (the compose stack's ``web`` service).

    cme web                               # on CME_WEB_HOST:CME_WEB_PORT (127.0.0.1:8000)
    cme web --host 0.0.0.0 --port 8000    # in a container whose port the host publishes

It serves until SIGTERM or Ctrl-C. It needs ``CME_WEB_SESSION_SECRET`` (`cme dev` makes one for
the local stack), the register brought up to date (`cme register upgrade`) and GOV.UK Frontend's
assets (``scripts/_frontend.sh``); it refuses to start, in one line, without any of them. Behind
the LA's proxy, set ``CME_WEB_PUBLIC_URL`` and ``CME_WEB_TRUSTED_PROXIES``. No access log: the
app logs what it does itself, never a child's data.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from activities.register import HEAD, make_engine, register_revision
from security.codec_server import serve
from settings import Settings
from starter.args import one_line_errors
from starter.codec_cli import _configure_logging, _stopped_by_signals
from starter.dev import _port, _shown
from starter.errors import CliError


def register(subparsers: Any) -> None:
    parser = one_line_errors(
        subparsers.add_parser(
            "web",
            help="run the web app (sign-in, pages for schools, officers and managers)",
            description=(
                "Serve the web app until Ctrl-C or SIGTERM. Needs CME_WEB_SESSION_SECRET, the "
                "register at the latest revision (cme register upgrade) and the GOV.UK Frontend "
                "assets (scripts/_frontend.sh)."
            ),
        )
    )
    parser.add_argument("--host", help="address to listen on (default CME_WEB_HOST, 127.0.0.1)")
    parser.add_argument("--port", type=_port, help="port (default CME_WEB_PORT, 8000)")
    parser.set_defaults(handler=handle)


def check_register(url: str) -> None:
    """The register answers and is at the latest revision (the accounts are there)."""
    engine = make_engine(url, client=True)
    try:
        revision = register_revision(engine)
    except SQLAlchemyError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CliError(f"cannot read the case register at {_shown(url)}: {first}") from None
    finally:
        engine.dispose()
    if revision != HEAD:
        raise CliError(
            f"the case register at {_shown(url)} is at revision {revision or 'none'}; the web "
            f"app needs {HEAD}: run `cme register upgrade`"
        )


async def handle(args: argparse.Namespace, settings: Settings) -> int:
    from web.app import AssetsMissing, close_app, create_app  # the web app only for this command

    if settings.web_session_secret is None:
        raise CliError(
            "CME_WEB_SESSION_SECRET is not set: the web app does not run without a session secret "
            "(at least 32 characters, e.g. from `openssl rand -hex 32`); `cme dev` makes one "
            "for the local stack",
            exit_code=2,
        )
    host = args.host or settings.web_host
    port = args.port or settings.web_port
    check_register(settings.register_url)
    _configure_logging()
    try:
        app = create_app(settings)
    except AssetsMissing as exc:
        raise CliError(str(exc)) from None
    try:
        try:
            server = await serve(
                app,
                host=host,
                port=port,
                name="the web app",
                forwarded_allow_ips=settings.web_trusted_proxies,
            )
        except OSError as exc:
            raise CliError(f"cannot start the web app on {host}:{port}: {exc}") from exc
        stop = asyncio.Event()
        with _stopped_by_signals(stop):
            print(f"web app on {server.url}; Ctrl-C to stop", flush=True)
            waiting = asyncio.create_task(stop.wait())
            try:
                await asyncio.wait([server.task, waiting], return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiting.cancel()
            if server.done():
                raise CliError("the web app stopped unexpectedly")
            await server.stop()
    finally:
        close_app(app)
    print("web app stopped", flush=True)
    return 0
