"""Kafka metrics through ksqlDB's REST API: a pull query on a table whose rows hold
one metric each (`comparison_column` = name, `value_column` = value).

`POST <url>/query` with `{"ksql": ..., "sessionVariables": {"metric": <name>}}`:
the statement is a constant text with a `${metric}` variable that ksqlDB
substitutes itself, never a string we format with the name. Table and column
names come from the provider spec and are sent as quoted identifiers (backticks),
after refusing any that is not a plain identifier. ksqlDB's substitution is
textual, so a metric name is also limited to characters that cannot end the
quoted literal. The answer is a JSON array: a `header`, then one `row` per
match; an error is `{"@type": ..., "error_code": ..., "message": ...}`.
"""

from __future__ import annotations

import re
from typing import Any, Final

import aiohttp

from krake.core.v1 import core_pb2
from krake_controllers.scheduler.providers.base import (
    InvalidMetric,
    UnknownMetric,
    Unreachable,
    number,
    request_json,
)

MEDIA_TYPE: Final = "application/vnd.ksql.v1+json"
IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
SAFE_NAME: Final = re.compile(r"[A-Za-z0-9_.:/-]+")


def identifier(name: str, what: str) -> str:
    if not IDENTIFIER.fullmatch(name):
        raise InvalidMetric(f"KSQL {what} {name!r} is not a plain identifier")
    return f"`{name}`"


def statement(config: core_pb2.MetricsProvider.Kafka) -> str:
    value = identifier(config.value_column, "column")
    table = identifier(config.table, "table")
    compared = identifier(config.comparison_column, "column")
    return f"SELECT {value} FROM {table} WHERE {compared} = '${{metric}}';"


def first_value(body: Any, metric: str) -> object:
    if not isinstance(body, list):
        raise Unreachable("ksqlDB did not answer a query result")
    for item in body:
        row = item.get("row") if isinstance(item, dict) else None
        if row and row.get("columns"):
            return row["columns"][0]
    raise UnknownMetric(f"the KSQL table has no row for {metric!r}")


async def fetch(
    session: aiohttp.ClientSession,
    config: core_pb2.MetricsProvider.Kafka,
    metric: str,
    timeout: float,
) -> float:
    if not SAFE_NAME.fullmatch(metric):
        raise InvalidMetric(f"{metric!r} cannot be asked of ksqlDB (allowed: {SAFE_NAME.pattern})")
    url = config.url.rstrip("/") + "/query"
    request = {
        "ksql": statement(config),
        "streamsProperties": {},
        "sessionVariables": {"metric": metric},
    }
    status, body = await request_json(
        session,
        "POST",
        url,
        timeout,
        json=request,
        headers={"Accept": MEDIA_TYPE, "Content-Type": MEDIA_TYPE},
    )
    if status != 200:
        message = body.get("message") if isinstance(body, dict) else body
        if status in (401, 403):
            raise Unreachable(f"ksqlDB refused the query (HTTP {status}): {message}")
        raise InvalidMetric(f"ksqlDB: {message}")
    return number(first_value(body, metric), f"KSQL value of {metric!r}")
