"""Connecting the `cme` command to Temporal, with a one-line answer when nobody is there."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from settings import Settings
from starter.errors import CliError


async def connect(settings: Settings) -> Client:
    try:
        return await Client.connect(
            settings.temporal_address,
            namespace=settings.temporal_namespace,
            data_converter=pydantic_data_converter,
        )
    except RuntimeError as exc:
        raise CliError(
            f"cannot reach Temporal at {settings.temporal_address} (namespace "
            f"{settings.temporal_namespace}): start the local stack with `cme dev` (or "
            "./scripts/dev), or set CME_TEMPORAL_ADDRESS"
        ) from exc
