"""Metrics providers against HTTP fakes of Prometheus, ksqlDB and InfluxDB 2
(krake_testing/metrics.py), and the fetcher's per-(provider, metric) TTL cache."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from krake.core.v1 import core_pb2
from krake_controllers.scheduler.providers.base import MetricFailure
from krake_controllers.scheduler.providers.cache import Fetcher
from krake_controllers.scheduler.readings import (
    INVALID_METRIC,
    UNKNOWN_METRIC,
    UNREACHABLE_METRICS_PROVIDER,
)
from krake_testing.metrics import FakeInflux, FakeKsql, FakePrometheus


def provider(name: str = "p", **spec: Any) -> core_pb2.MetricsProvider:
    made = core_pb2.MetricsProvider(api="core", kind="MetricsProvider")
    made.metadata.name, made.metadata.namespace = name, "ns"
    for member, config in spec.items():
        getattr(made.spec, member).CopyFrom(config)
    return made


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    made = Fetcher(ttl=0.0, timeout=2.0)
    yield made
    await made.close()


async def failure(fetcher: Fetcher, source: Any, metric: str) -> MetricFailure:
    with pytest.raises(MetricFailure) as caught:
        await fetcher.value(source, metric)
    return caught.value


# --- Prometheus -------------------------------------------------------------------


async def test_prometheus_values_errors_and_outages(fetcher: Fetcher) -> None:
    async with FakePrometheus({"heat_demand": 0.25, "whole": 3.0}) as prometheus:
        source = provider(prometheus=core_pb2.MetricsProvider.Prometheus(url=prometheus.url))
        assert await fetcher.value(source, "heat_demand") == 0.25
        assert await fetcher.value(source, "whole") == 3.0
        assert await fetcher.value(source, "42") == 42.0  # a scalar answer
        unknown = await failure(fetcher, source, "no_such_metric")
        assert unknown.code == UNKNOWN_METRIC and "no series" in unknown.message
        invalid = await failure(fetcher, source, "rate(x[5m]) +")
        assert invalid.code == INVALID_METRIC and "bad_data" in invalid.message
        prometheus.unavailable = True
        down = await failure(fetcher, source, "heat_demand")
        assert down.code == UNREACHABLE_METRICS_PROVIDER and "503" in down.message
    gone = await failure(fetcher, source, "heat_demand")
    assert gone.code == UNREACHABLE_METRICS_PROVIDER


async def test_a_server_that_is_not_prometheus_is_unreachable(fetcher: Fetcher) -> None:
    async with FakeKsql() as other:  # 404 with aiohttp's plain-text body
        source = provider(prometheus=core_pb2.MetricsProvider.Prometheus(url=other.url))
        assert (await failure(fetcher, source, "m")).code == UNREACHABLE_METRICS_PROVIDER


# --- ksqlDB -----------------------------------------------------------------------


def kafka(url: str, table: str = "metrics") -> core_pb2.MetricsProvider:
    config = core_pb2.MetricsProvider.Kafka(
        url=url, table=table, comparison_column="name", value_column="value"
    )
    return provider(kafka=config)


async def test_ksql_asks_with_a_session_variable_never_formatting_the_name(
    fetcher: Fetcher,
) -> None:
    rows = [{"name": "heat-demand", "value": 0.75}, {"name": "other", "value": 0.1}]
    async with FakeKsql({"metrics": rows}) as ksql:
        assert await fetcher.value(kafka(ksql.url), "heat-demand") == 0.75
        (statement, variables) = ksql.statements[-1]
        assert variables == {"metric": "heat-demand"}
        assert "heat-demand" not in statement and "'${metric}'" in statement
        assert statement == "SELECT `value` FROM `metrics` WHERE `name` = '${metric}';"
        missing = await failure(fetcher, kafka(ksql.url), "absent")
        assert missing.code == UNKNOWN_METRIC
        table = await failure(fetcher, kafka(ksql.url, table="nope"), "heat-demand")
        assert table.code == INVALID_METRIC and "nope does not exist" in table.message
        asked = ksql.requests
        sneaky = await failure(fetcher, kafka(ksql.url), "x' OR '1'='1")
        assert sneaky.code == INVALID_METRIC and ksql.requests == asked  # never sent
        bad_table = await failure(fetcher, kafka(ksql.url, table="t`; DROP"), "heat-demand")
        assert bad_table.code == INVALID_METRIC and ksql.requests == asked
        ksql.unavailable = True
        down = await failure(fetcher, kafka(ksql.url), "heat-demand")
        assert down.code == UNREACHABLE_METRICS_PROVIDER


# --- InfluxDB 2 -------------------------------------------------------------------


def influx(url: str, token: str = "secret", bucket: str = "krake") -> core_pb2.MetricsProvider:
    config = core_pb2.MetricsProvider.Influx(url=url, token=token, org="org", bucket=bucket)
    return provider(influx=config)


async def test_influx_reads_the_last_value_from_csv(fetcher: Fetcher) -> None:
    odd = 'we"ird ${x} \\ name'
    buckets = {"krake": {"load": 0.4, odd: 0.9}}
    async with FakeInflux("org", "secret", buckets) as server:
        assert await fetcher.value(influx(server.url), "load") == 0.4
        assert await fetcher.value(influx(server.url), odd) == 0.9  # escaped, not injected
        absent = await failure(fetcher, influx(server.url), "absent")
        assert absent.code == UNKNOWN_METRIC
        bucket = await failure(fetcher, influx(server.url, bucket="other"), "load")
        assert bucket.code == UNKNOWN_METRIC and "could not find bucket" in bucket.message
        token = await failure(fetcher, influx(server.url, token="wrong"), "load")
        assert token.code == UNREACHABLE_METRICS_PROVIDER and "401" in token.message


# --- static and the cache ---------------------------------------------------------


async def test_static_values(fetcher: Fetcher) -> None:
    source = provider(static=core_pb2.MetricsProvider.Static(metrics={"a": 0.5}))
    assert await fetcher.value(source, "a") == 0.5
    assert (await failure(fetcher, source, "b")).code == UNKNOWN_METRIC


@dataclass
class Cached:
    """A fetcher with a 10 s TTL on a clock the test sets (`now[0]`), in front of a
    fake Prometheus serving m = 0.5 (`source`)."""

    fetcher: Fetcher
    prometheus: FakePrometheus
    source: core_pb2.MetricsProvider
    now: list[float]


@pytest.fixture
async def cached() -> AsyncIterator[Cached]:
    now = [0.0]
    fetcher = Fetcher(ttl=10.0, timeout=2.0, clock=lambda: now[0])
    try:
        async with FakePrometheus({"m": 0.5}) as prometheus:
            source = provider(prometheus=core_pb2.MetricsProvider.Prometheus(url=prometheus.url))
            yield Cached(fetcher, prometheus, source, now)
    finally:
        await fetcher.close()


async def test_one_fetch_per_metric_and_ttl_with_failures_cached_too(cached: Cached) -> None:
    fetcher, prometheus, source, now = cached.fetcher, cached.prometheus, cached.source, cached.now
    answers = await asyncio.gather(*(fetcher.value(source, "m") for _ in range(50)))
    assert answers == [0.5] * 50 and prometheus.requests == 1
    prometheus.values["m"] = 0.7
    now[0] = 9.9
    assert await fetcher.value(source, "m") == 0.5 and prometheus.requests == 1
    now[0] = 10.0
    assert await fetcher.value(source, "m") == 0.7 and prometheus.requests == 2
    prometheus.unavailable = True
    now[0] = 20.0
    for _ in range(5):
        assert (await failure(fetcher, source, "m")).code == UNREACHABLE_METRICS_PROVIDER
    assert prometheus.requests == 3
    changed = provider(prometheus=core_pb2.MetricsProvider.Prometheus(url=prometheus.url + "/"))
    prometheus.unavailable = False
    assert await fetcher.value(changed, "m") == 0.7 and prometheus.requests == 4


async def test_settled_gives_only_fresh_known_outcomes_as_value_would(cached: Cached) -> None:
    fetcher, prometheus, source, now = cached.fetcher, cached.prometheus, cached.source, cached.now
    assert fetcher.settled(source, "m") is None  # never fetched
    assert await fetcher.value(source, "m") == 0.5
    assert fetcher.settled(source, "m") == 0.5 and prometheus.requests == 1
    now[0] = 10.0
    assert fetcher.settled(source, "m") is None  # expired: value would fetch
    prometheus.unavailable = True
    code = (await failure(fetcher, source, "m")).code
    settled = fetcher.settled(source, "m")
    assert isinstance(settled, MetricFailure) and settled.code == code
    assert prometheus.requests == 2
