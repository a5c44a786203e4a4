"""Connecting the `cme` command to Temporal, with a one-line answer when nobody is there.

Every payload in Temporal is encrypted with its case's data key (:mod:`security`), so the `cme`
command needs what the worker needs to read and write them: the case register, where the data
keys are (``CME_DATABASE_URL``, or the local stack's ``register.db``), and the key-encryption
keys that wrap them (``CME_ENCRYPTION_KEYS``, ``CME_ENCRYPTION_KEY_ID``). On the local stack both
are there with no configuration; a deployment's `cme` needs the same values as its workers, and
the same Temporal options: TLS or mutual TLS, an API key (:meth:`Settings.temporal_client_options`,
which every client of the service connects with).

A command that reads only search attributes (``cme cases``: never encrypted, never personal data)
reads no payload, so it connects with :func:`connect_to_visibility`: the same options, Temporal's
default data converter, and no key store. The register and the encryption code are imported only
by :func:`client_data_converter`, so that such a command starts without them (issue 11:
``python -m benchmarks.cli_startup``).
"""

from __future__ import annotations

from temporalio.client import Client
from temporalio.converter import DataConverter

from settings import Settings
from starter.errors import CliError


def client_data_converter(settings: Settings) -> DataConverter:
    """The data converter of a short-lived client: its key store on the settings' register,
    opening a connection only when a key is not in its cache (no pool to dispose of, and no
    directory made for a register that is not there)."""
    from activities.register import make_engine
    from security.converter import data_converter
    from security.store import SqlKeyStore

    engine = make_engine(settings.register_url, client=True)
    return data_converter(SqlKeyStore(engine, settings.key_ring))


async def connect(settings: Settings) -> Client:
    """A client that reads and writes the cases' payloads (encrypted with their data keys)."""
    return await _connect(settings, client_data_converter(settings))


async def connect_to_visibility(settings: Settings) -> Client:
    """A client for visibility listings only: it reads search attributes, never a payload, so it
    has Temporal's default data converter: no key store, no register."""
    return await _connect(settings, DataConverter.default)


async def _connect(settings: Settings, converter: DataConverter) -> Client:
    try:
        return await Client.connect(
            settings.temporal_address,
            **settings.temporal_client_options(),  # namespace, TLS / mutual TLS, API key
            data_converter=converter,
        )
    except RuntimeError as exc:
        address, namespace = settings.temporal_address, settings.temporal_namespace
        where = f"cannot reach Temporal at {address} (namespace {namespace})"
        if settings.temporal_uses_tls:  # the SDK's words say which check failed
            why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CliError(
                f"{where} over TLS: {why[:400]}; check CME_TEMPORAL_ADDRESS and the TLS settings "
                "(CME_TEMPORAL_TLS_CA_FILE, CME_TEMPORAL_TLS_SERVER_NAME, the client certificate)"
            ) from exc
        raise CliError(
            f"{where}: start the local stack with `cme dev` (or ./scripts/dev), or set "
            "CME_TEMPORAL_ADDRESS"
        ) from exc
