"""InfluxDB 2, through its query API: `POST <url>/api/v2/query?org=<org>` with a Flux
query and `Authorization: Token <token>`; the answer is CSV.

The query takes the last point of measurement `<metric>` in `<bucket>` over the
last hour. Both names are written as Flux string literals with `\\`, `"` and `${`
escaped, so a name cannot change the query. The CSV's header row names the
columns; the last row's `_value` is the value; no row means the metric is
unknown. Errors are JSON `{"code", "message"}`: 400 an invalid query, 404 an
unknown bucket, 401/403 a refused token.
"""

from __future__ import annotations

import csv
import io
from typing import Final

import aiohttp

from krake.core.v1 import core_pb2
from krake_controllers.scheduler.providers.base import (
    InvalidMetric,
    UnknownMetric,
    Unreachable,
    number,
    request_text,
)

QUERY: Final = (
    "from(bucket: {bucket})\n"
    "  |> range(start: -1h)\n"
    "  |> filter(fn: (r) => r._measurement == {metric})\n"
    "  |> last()"
)


def literal(text: str) -> str:
    """A Flux string literal holding exactly `text`."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("${", "\\${")
    return f'"{escaped}"'


def last_value(body: str, metric: str) -> object:
    rows = [row for row in csv.reader(io.StringIO(body)) if any(row)]
    value: object = None
    column = -1
    for row in rows:
        if "_value" in row:  # a header row (one per table)
            column = row.index("_value")
        elif 0 <= column < len(row) and not row[0].startswith("#"):
            value = row[column]
    if value is None:
        raise UnknownMetric(f"InfluxDB has no recent point of {metric!r}")
    return value


async def fetch(
    session: aiohttp.ClientSession,
    config: core_pb2.MetricsProvider.Influx,
    metric: str,
    timeout: float,
) -> float:
    url = config.url.rstrip("/") + "/api/v2/query"
    query = QUERY.format(bucket=literal(config.bucket), metric=literal(metric))
    status, body = await request_text(
        session,
        "POST",
        url,
        timeout,
        params={"org": config.org},
        json={"query": query, "type": "flux", "dialect": {"header": True, "annotations": []}},
        headers={"Authorization": f"Token {config.token}", "Accept": "application/csv"},
    )
    if status == 200:
        return number(last_value(body, metric), f"InfluxDB value of {metric!r}")
    detail = f"InfluxDB (HTTP {status}): {body[:200]}"
    if status == 400:
        raise InvalidMetric(detail)
    if status == 404:
        raise UnknownMetric(detail)
    raise Unreachable(detail)
