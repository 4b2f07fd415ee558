"""The one interface every metrics provider implements, and its failures.

`Fetch(session, config, metric, timeout) -> float` reads the current value of
`metric` from the provider configured by `config` (the set member of the
provider spec's `type` oneof). It raises a `MetricFailure`, whose `code` is the
`Reason` the scheduler records:
- `Unreachable`: connection refused, timeout, 5xx, an answer that is not the
  provider's protocol (UNREACHABLE_METRICS_PROVIDER);
- `UnknownMetric`: the provider answered but has no value for the metric;
- `InvalidMetric`: it has one, but it is not a number (or the metric's name cannot
  be asked for safely).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from krake_controllers.scheduler.readings import (
    INVALID_METRIC,
    UNKNOWN_METRIC,
    UNREACHABLE_METRICS_PROVIDER,
)

Fetch = Callable[[aiohttp.ClientSession, Any, str, float], Awaitable[float]]


class MetricFailure(Exception):
    code: int = 0

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unreachable(MetricFailure):
    code = UNREACHABLE_METRICS_PROVIDER


class UnknownMetric(MetricFailure):
    code = UNKNOWN_METRIC


class InvalidMetric(MetricFailure):
    code = INVALID_METRIC


def number(raw: object, what: str) -> float:
    """`raw` as a float, or InvalidMetric naming `what`."""
    if isinstance(raw, bool):
        raise InvalidMetric(f"{what}: {raw!r} is not a number")
    try:
        return float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidMetric(f"{what}: {raw!r} is not a number") from None


async def request_json(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    timeout: float,
    **options: Any,
) -> tuple[int, Any]:
    """(status, decoded JSON body) of one HTTP call; transport failures, 5xx and
    non-JSON bodies are `Unreachable`."""
    try:
        async with session.request(
            method, url, timeout=aiohttp.ClientTimeout(total=timeout), **options
        ) as response:
            if response.status >= 500:
                raise Unreachable(f"{url} answered HTTP {response.status}")
            try:
                return response.status, await response.json(content_type=None)
            except ValueError:
                raise Unreachable(f"{url} did not answer JSON") from None
    except (aiohttp.ClientError, TimeoutError) as err:
        raise Unreachable(f"{url}: {type(err).__name__}: {err}") from None


async def request_text(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    timeout: float,
    **options: Any,
) -> tuple[int, str]:
    """(status, body text) of one HTTP call; transport failures and 5xx: `Unreachable`."""
    try:
        async with session.request(
            method, url, timeout=aiohttp.ClientTimeout(total=timeout), **options
        ) as response:
            if response.status >= 500:
                raise Unreachable(f"{url} answered HTTP {response.status}")
            return response.status, await response.text()
    except (aiohttp.ClientError, TimeoutError) as err:
        raise Unreachable(f"{url}: {type(err).__name__}: {err}") from None
