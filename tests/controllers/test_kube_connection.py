"""krake_controllers.kube.connection against a fake cluster over HTTPS."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from krake_controllers.kube.connection import Connection, Connections, KubeError, Unreachable
from krake_testing.kube import FakeCluster

DEADLINE = 30.0


@pytest.fixture
async def cluster() -> AsyncIterator[FakeCluster]:
    async with FakeCluster("conn", ready_delay=0.05) as started:
        yield started


@pytest.fixture
async def connection(cluster: FakeCluster) -> AsyncIterator[Connection]:
    opened = Connection(cluster.kubeconfig, timeout=(1.0, 2.0))
    yield opened
    await opened.close()


def config_map(name: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {}}


async def test_calls_run_off_the_loop_and_errors_carry_the_status(
    connection: Connection,
) -> None:
    core = connection.core()
    await connection.call(core.create_namespaced_config_map, "default", config_map("a"))
    listed = await connection.call(core.list_namespaced_config_map, "default")
    assert [item.metadata.name for item in listed.items] == ["a"]
    with pytest.raises(KubeError) as raised:
        await connection.call(core.create_namespaced_config_map, "default", config_map("a"))
    assert (raised.value.status, raised.value.reason) == (409, "AlreadyExists")


async def test_the_dynamic_client_reaches_any_kind(connection: Connection) -> None:
    dynamic = await connection.dynamic()
    maps = await connection.call(dynamic.resources.get, api_version="v1", kind="ConfigMap")
    applied = await connection.call(
        dynamic.server_side_apply,
        maps,
        body=config_map("b"),
        name="b",
        namespace="default",
        field_manager="krake",
    )
    assert applied.metadata.name == "b"


async def test_a_watch_yields_plain_events_and_stops_when_left(
    cluster: FakeCluster, connection: Connection
) -> None:
    core = connection.core()
    start = (await connection.call(core.list_namespaced_config_map, "default")).metadata
    events = connection.watch(
        core.list_namespaced_config_map, "default", resource_version=start.resource_version
    )
    await connection.call(core.create_namespaced_config_map, "default", config_map("c"))
    async with asyncio.timeout(DEADLINE):
        event = await anext(events)
    assert event["type"] == "ADDED"
    assert event["object"]["metadata"]["name"] == "c"
    await events.aclose()


async def test_an_unreachable_cluster_fails_within_the_timeout(
    cluster: FakeCluster, connection: Connection
) -> None:
    cluster.unreachable("hang")
    started = time.monotonic()
    with pytest.raises(Unreachable):
        await connection.call(connection.core().list_namespaced_config_map, "default")
    assert time.monotonic() - started < 2.0 + 3.0  # read timeout plus load margin
    cluster.reachable()
    await connection.call(connection.core().list_namespaced_config_map, "default")


async def test_connections_are_rebuilt_when_the_kubeconfig_changes(cluster: FakeCluster) -> None:
    connections = Connections(timeout=(1.0, 2.0))
    try:
        first = connections.get("a", cluster.kubeconfig)
        assert connections.get("a", cluster.kubeconfig) is first
        changed = dict(
            cluster.kubeconfig, **{"current-context": cluster.kubeconfig["current-context"]}
        )
        changed["preferences"] = {"colors": True}
        assert connections.get("a", changed) is not first
    finally:
        await connections.close()
