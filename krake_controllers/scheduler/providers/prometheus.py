"""Prometheus, through its HTTP query API: `GET <url>/api/v1/query?query=<metric>`.

The metric name is sent as the PromQL query. The answer is
`{"status": "success", "data": {"resultType": "vector"|"scalar", "result": ...}}`;
the first sample of a vector (or the scalar) is the value, an empty vector means
the metric is unknown. `{"status": "error", "errorType", "error"}` (HTTP 400/422)
means the query is invalid.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from krake.core.v1 import core_pb2
from krake_controllers.scheduler.providers.base import (
    InvalidMetric,
    UnknownMetric,
    Unreachable,
    number,
    request_json,
)


def sample(data: Any, metric: str) -> object:
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar" and isinstance(result, list) and len(result) == 2:
        return result[1]
    if kind == "vector" and isinstance(result, list):
        if not result:
            raise UnknownMetric(f"Prometheus has no series for {metric!r}")
        return result[0]["value"][1]
    raise InvalidMetric(f"Prometheus answered a {kind} for {metric!r}, not a vector or scalar")


async def fetch(
    session: aiohttp.ClientSession,
    config: core_pb2.MetricsProvider.Prometheus,
    metric: str,
    timeout: float,
) -> float:
    url = config.url.rstrip("/") + "/api/v1/query"
    status, body = await request_json(session, "GET", url, timeout, params={"query": metric})
    if not isinstance(body, dict) or "status" not in body:
        raise Unreachable(f"{url} did not answer the Prometheus query API (HTTP {status})")
    if body["status"] != "success":
        raise InvalidMetric(f"Prometheus: {body.get('errorType')}: {body.get('error')}")
    try:
        return number(sample(body["data"], metric), f"Prometheus value of {metric!r}")
    except (KeyError, IndexError, TypeError):
        raise Unreachable(f"{url}: malformed Prometheus answer") from None
