"""Helpers the scheduler tests share: build clusters, metrics and applications
through the API, and wait on conditions with deadlines."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Final

import pytest
from google.protobuf import json_format

from krake.kubernetes.v1 import kubernetes_pb2
from krake_api import registry
from krake_controllers.runtime.client import Client
from krake_controllers.scheduler.settings import Settings
from krake_testing.examples import KUBECONFIG

KINDS = registry.KINDS
DEADLINE: Final = 120.0  # seconds; generous for loaded machines, met in ~1 s idle
ONLINE: Final = kubernetes_pb2.Cluster.Status.ONLINE
OFFLINE: Final = kubernetes_pb2.Cluster.Status.OFFLINE
FAST: Final = Settings(stickiness=0.1, reschedule_after=0.3, metrics_ttl=0.1, fetch_timeout=2.0)
SQLITE_ONLY: Final = pytest.mark.parametrize("store", ["sqlite"], indirect=True)
"""Storage is not what these tests are about; sqlite is the cheaper backend."""
MANIFEST: Final = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}]


def message(kind: str, data: dict[str, Any]) -> Any:
    return json_format.ParseDict(data, KINDS[kind].message())


async def create(client: Client, kind: str, name: str, spec: dict[str, Any], **meta: Any) -> Any:
    metadata = {"name": name, **meta}
    return await client.kind(KINDS[kind]).create(
        message(kind, {"metadata": metadata, "spec": spec})
    )


async def set_state(client: Client, cluster: Any, state: int) -> Any:
    api = client.kind(KINDS["Cluster"])
    current = await api.get(cluster.metadata.namespace, cluster.metadata.name)
    current.status.state = state
    return await api.update_status(current)


async def add_cluster(
    client: Client,
    ns: str,
    name: str,
    *,
    labels: dict[str, str] | None = None,
    metrics: list[dict[str, Any]] | None = None,
    state: int = ONLINE,
    **spec: Any,
) -> Any:
    """A cluster with a kubeconfig, its state set as the cluster controller would."""
    body = {"kubeconfig": KUBECONFIG, "metrics": metrics or [], **spec}
    made = await create(client, "Cluster", name, body, namespace=ns, labels=labels or {})
    return await set_state(client, made, state)


async def add_app(
    client: Client,
    ns: str,
    name: str,
    *,
    labels: list[str] | None = None,
    metrics: list[str] | None = None,
    migration: bool | None = None,
) -> Any:
    constraints: dict[str, Any] = {"cluster": {"labels": labels or [], "metrics": metrics or []}}
    if migration is not None:
        constraints["migration"] = migration
    spec = {"manifest": MANIFEST, "constraints": constraints}
    return await create(client, "Application", name, spec, namespace=ns)


async def eventually(
    read: Callable[[], Awaitable[Any]], check: Callable[[Any], bool], *, deadline: float = DEADLINE
) -> Any:
    """The first value `read` returns that passes `check`; fails after `deadline` s."""
    last = None
    try:
        async with asyncio.timeout(deadline):
            while True:
                last = await read()
                if check(last):
                    return last
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"condition not met within {deadline}s; last value: {last}") from None


def app_reader(client: Client, ns: str, name: str) -> Callable[[], Awaitable[Any]]:
    api = client.kind(KINDS["Application"])
    return lambda: api.get(ns, name)


def cluster_reader(client: Client, ns: str, name: str) -> Callable[[], Awaitable[Any]]:
    api = client.kind(KINDS["Cluster"])
    return lambda: api.get(ns, name)


async def bound_to(client: Client, ns: str, app: str, cluster: str) -> Any:
    return await eventually(
        app_reader(client, ns, app),
        lambda a: (
            a.status.scheduled_to.name == cluster and a.status.placement.chosen.name == cluster
        ),
    )


async def add_provider(client: Client, name: str, spec: dict[str, Any], ns: str = "") -> Any:
    """A MetricsProvider in `ns`, or a GlobalMetricsProvider when `ns` is ""."""
    if ns:
        return await create(client, "MetricsProvider", name, spec, namespace=ns)
    return await create(client, "GlobalMetricsProvider", name, spec)


async def add_metric(
    client: Client,
    name: str,
    provider: str,
    *,
    ns: str = "",
    source: str = "",
    low: float = 0.0,
    high: float = 1.0,
) -> Any:
    """A Metric in `ns` (a GlobalMetric when ""), read as `source` (default: its name)."""
    spec = {"min": low, "max": high, "provider": {"name": provider, "metric": source or name}}
    if ns:
        return await create(client, "Metric", name, spec, namespace=ns)
    return await create(client, "GlobalMetric", name, spec)


def ref(name: str, weight: float = 1.0, *, namespaced: bool = False) -> dict[str, Any]:
    return {"name": name, "weight": weight, "namespaced": namespaced}


def candidates(placement: Any) -> dict[str, Any]:
    return {c.ref.name: c for c in placement.candidates}
