"""TLS, mutual TLS and an API key to Temporal, for real: the session's dev server behind a TLS
front (tests.tls.TlsProxy, as a load balancer before a cluster; the dev server has no TLS of its
own) with certificates made by a private CA in the test. The `cme` command's client and the
worker connect with the settings' options (Settings.temporal_client_options), and a certificate
that fails the check, or a missing client certificate, is a one-line refusal."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from settings import Settings
from starter.connect import connect
from starter.errors import CliError
from tests.keyring import TEST_KEK, TEST_KEK_ID
from tests.tls import Pki, TlsProxy, make_pki
from worker import run_worker

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def upstream(temporal: WorkflowEnvironment) -> str:
    return temporal.client.service_client.config.target_host


def settings_via(proxy: TlsProxy, tmp_path: Path, **tls: Any) -> Settings:
    return Settings(
        temporal_address=proxy.address,
        task_queue="cme-tls-test",
        database_url=f"sqlite:///{tmp_path / 'register.db'}",
        smtp_host="127.0.0.1",
        encryption_keys={TEST_KEK_ID: TEST_KEK},
        encryption_key_id=TEST_KEK_ID,
        **tls,
    )


async def answers(client: Client) -> None:
    await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=client.namespace), timeout=timedelta(seconds=10)
    )


@pytest_asyncio.fixture(loop_scope="session")
async def tls_proxy(temporal: WorkflowEnvironment, pki: Pki) -> AsyncIterator[TlsProxy]:
    async with TlsProxy(pki.server_context(), upstream(temporal)) as proxy:
        yield proxy


@pytest_asyncio.fixture(loop_scope="session")
async def mtls_proxy(temporal: WorkflowEnvironment, pki: Pki) -> AsyncIterator[TlsProxy]:
    """Mutual TLS: a client must show a certificate the CA signed."""
    async with TlsProxy(pki.server_context(client_certs=True), upstream(temporal)) as proxy:
        yield proxy


async def test_the_cme_command_connects_over_tls_checking_the_servers_certificate(
    tls_proxy: TlsProxy, pki: Pki, tmp_path: Path
) -> None:
    settings = settings_via(tls_proxy, tmp_path, temporal_tls_ca_file=str(pki.ca))
    await answers(await connect(settings))
    assert tls_proxy.handshakes >= 1


async def test_a_certificate_the_client_cannot_check_is_refused_in_one_line(
    tls_proxy: TlsProxy, tmp_path: Path
) -> None:
    """TLS on, no CA file: the system's CAs do not know the private CA."""
    settings = settings_via(tls_proxy, tmp_path, temporal_tls=True)
    with pytest.raises(CliError) as refused:
        await connect(settings)
    message = refused.value.message
    assert message.startswith(
        f"cannot reach Temporal at {tls_proxy.address} (namespace default) over TLS: "
    )
    assert "UnknownIssuer" in message and "CME_TEMPORAL_TLS_CA_FILE" in message
    assert "\n" not in message


async def test_the_server_name_checked_can_differ_from_the_address(
    temporal: WorkflowEnvironment, tmp_path: Path
) -> None:
    """A cluster reached by an address its certificate does not name (an IP, an internal load
    balancer): CME_TEMPORAL_TLS_SERVER_NAME is the name checked."""
    other = make_pki(tmp_path / "pki", server_names=("temporal.portsmouth.example.invalid",))
    async with TlsProxy(other.server_context(), upstream(temporal)) as proxy:
        plain = settings_via(proxy, tmp_path, temporal_tls_ca_file=str(other.ca))
        with pytest.raises(CliError):
            await connect(plain)  # 127.0.0.1 is not the certificate's name
        named = settings_via(
            proxy,
            tmp_path,
            temporal_tls_ca_file=str(other.ca),
            temporal_tls_server_name="temporal.portsmouth.example.invalid",
        )
        await answers(await connect(named))


async def test_mutual_tls_the_client_shows_its_certificate(
    mtls_proxy: TlsProxy, pki: Pki, tmp_path: Path
) -> None:
    settings = settings_via(
        mtls_proxy,
        tmp_path,
        temporal_tls_ca_file=str(pki.ca),
        temporal_tls_cert_file=str(pki.client_cert),
        temporal_tls_key_file=str(pki.client_key),
    )
    await answers(await connect(settings))
    without = settings_via(mtls_proxy, tmp_path, temporal_tls_ca_file=str(pki.ca))
    with pytest.raises(CliError):
        await answers(await connect(without))


async def test_the_worker_polls_over_mutual_tls(
    mtls_proxy: TlsProxy, pki: Pki, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cme.worker")
    settings = settings_via(
        mtls_proxy,
        tmp_path,
        temporal_tls_ca_file=str(pki.ca),
        temporal_tls_cert_file=str(pki.client_cert),
        temporal_tls_key_file=str(pki.client_key),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(settings, stop=stop))
    try:
        for _ in range(200):
            if any("polling task queue" in r.getMessage() for r in caplog.records):
                break
            if task.done():
                task.result()
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the worker did not poll")
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)
    assert mtls_proxy.handshakes >= 1


async def test_an_api_key_goes_with_every_call_over_tls(
    tls_proxy: TlsProxy, pki: Pki, tmp_path: Path
) -> None:
    """Temporal Cloud's API key (the dev server ignores it): the client carries it, over TLS."""
    settings = settings_via(
        tls_proxy, tmp_path, temporal_tls_ca_file=str(pki.ca), temporal_api_key="cme-key-1"
    )
    client = await connect(settings)
    await answers(client)
    assert client.service_client.config.api_key == "cme-key-1"
    assert client.service_client.config.tls
