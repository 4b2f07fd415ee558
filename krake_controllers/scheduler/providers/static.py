"""The static provider: fixed values in the provider's spec (tests and demos)."""

from __future__ import annotations

import aiohttp

from krake.core.v1 import core_pb2
from krake_controllers.scheduler.providers.base import UnknownMetric


async def fetch(
    session: aiohttp.ClientSession,
    config: core_pb2.MetricsProvider.Static,
    metric: str,
    timeout: float,
) -> float:
    if metric not in config.metrics:
        raise UnknownMetric(f"the static provider has no metric {metric!r}")
    return config.metrics[metric]
