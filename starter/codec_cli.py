"""`cme codec-server`: the codec server a deployment's Temporal Web UI decodes cases through.

    cme codec-server --ui-origin https://temporal.example.org            # on 127.0.0.1:8234
    cme codec-server --host 0.0.0.0 --port 8234 --ui-origin http://localhost:8080   # in a container

It serves :mod:`security.codec_server` until SIGTERM or Ctrl-C, with the cases' keys from the
register (the store the worker uses) and the token ``CME_CODEC_SERVER_TOKEN``, without which it
does not start (`cme dev` runs its own, with a token of its own). Callers send the token as
``Authorization: Bearer <token>``; an officer opens ``<server>/login?token=<token>`` once in the
browser and the UI (``TEMPORAL_CODEC_INCLUDE_CREDENTIALS=true``) sends the session it sets.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator
from typing import Any

from activities.register import make_engine
from security.codec_server import create_app, serve
from settings import Settings
from starter.dev import _port, key_store_for
from starter.errors import CliError

log = logging.getLogger("cme.codec_server")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "codec-server",
        help="run the codec server the Temporal Web UI decodes cases through",
        description=(
            "Serve the Temporal codec server protocol (POST /encode, /decode) for the Web UI at "
            "the given origins, with the cases' keys from the register. Callers need the token "
            "CME_CODEC_SERVER_TOKEN, as a bearer token or through the session that "
            "GET /login?token=... sets in a browser. Nothing of a payload is logged."
        ),
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; 0.0.0.0 in a container whose port is "
        "published on the host's loopback only)",
    )
    parser.add_argument(
        "--port", type=_port, help="port (default CME_CODEC_SERVER_PORT, else CME_UI_PORT + 1)"
    )
    parser.add_argument(
        "--ui-origin",
        action="append",
        metavar="ORIGIN",
        help="the Web UI's origin as the browser sees it, scheme://host[:port] (repeatable; "
        "default http://localhost:CME_UI_PORT)",
    )
    parser.set_defaults(handler=handle)


async def handle(args: argparse.Namespace, settings: Settings) -> int:
    if settings.codec_server_token is None:
        raise CliError(
            "CME_CODEC_SERVER_TOKEN is not set: the codec server does not run without a token "
            "(at least 32 characters, e.g. from `openssl rand -hex 32`); `cme dev` runs one of "
            "its own for the local stack",
            exit_code=2,
        )
    port = args.port or settings.codec_port
    origins = args.ui_origin or [f"http://localhost:{settings.ui_port}"]
    engine = make_engine(settings.register_url)
    try:
        _configure_logging()
        try:
            app = create_app(
                store=key_store_for(settings, engine),
                token=settings.codec_server_token,
                ui_origins=origins,
            )
        except ValueError as exc:
            raise CliError(str(exc), exit_code=2) from None
        try:
            server = await serve(app, host=args.host, port=port)
        except OSError as exc:
            raise CliError(f"cannot start the codec server on {args.host}:{port}: {exc}") from exc
        stop = asyncio.Event()
        with _stopped_by_signals(stop):
            print(
                f"codec server on {server.url} for the Web UI at {', '.join(origins)}; "
                "Ctrl-C to stop",
                flush=True,
            )
            waiting = asyncio.create_task(stop.wait())
            try:
                await asyncio.wait([server.task, waiting], return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiting.cancel()
            if server.done():
                raise CliError("the codec server stopped unexpectedly")
            await server.stop()
    finally:
        engine.dispose()
    print("codec server stopped", flush=True)
    return 0


def _configure_logging() -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    logging.getLogger("cme").setLevel(logging.INFO)


@contextlib.contextmanager
def _stopped_by_signals(stop: asyncio.Event) -> Iterator[None]:
    loop = asyncio.get_running_loop()
    handled = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
    try:
        yield
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
