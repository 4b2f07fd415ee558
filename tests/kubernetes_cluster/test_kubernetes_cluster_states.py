"""The cluster controller against a real API and fake member clusters: states from
reachability and node conditions, nodes, custom resources, kubeconfig changes."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator

import pytest
from cluster_support import (
    FAST,
    FreezingProxy,
    State,
    clusters,
    controller_running,
    in_state,
    node_conditions,
    register,
    until,
)

from krake.core.v1 import metadata_pb2
from krake_controllers.kubernetes_cluster import ClusterController, paths
from krake_controllers.runtime.client import Client
from krake_testing.kube import FakeCluster

CRD_NAME = "crontabs.stable.example.com"


@pytest.fixture
async def member() -> AsyncIterator[FakeCluster]:
    async with FakeCluster("member", nodes=2) as started:
        yield started


def crontab_crd() -> dict[str, object]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": CRD_NAME},
        "spec": {
            "group": "stable.example.com",
            "scope": "Namespaced",
            "names": {"plural": "crontabs", "singular": "crontab", "kind": "CronTab"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object"}},
                }
            ],
        },
    }


async def test_a_registered_cluster_goes_connecting_then_online_with_its_nodes(
    client: Client, ns: str, running: ClusterController, member: FakeCluster
) -> None:
    seen: list[int] = []

    async def record() -> None:
        async for event in clusters(client).events(ns):
            seen.append(event.object.status.state)

    recording = asyncio.create_task(record())
    try:
        await register(client, ns, "a", member.kubeconfig)
        online = await until(in_state(client, ns, "a", State.ONLINE))
        async with asyncio.timeout(30.0):  # the watch may deliver it after the GET saw it
            while State.ONLINE not in seen:
                await asyncio.sleep(0.02)
    finally:
        recording.cancel()
        await asyncio.gather(recording, return_exceptions=True)
    assert State.CONNECTING in seen
    assert seen.index(State.CONNECTING) < seen.index(State.ONLINE)
    assert node_conditions(online) == {
        name: {"Ready": "True", "MemoryPressure": "False", "DiskPressure": "False",
               "PIDPressure": "False"}
        for name in member.node_names
    }  # fmt: skip
    assert online.status.nodes[0].conditions[0].HasField("last_transition")
    assert online.status.observed_generation == online.metadata.generation
    assert not online.status.HasField("reason")


async def test_a_node_not_ready_makes_the_cluster_notready_until_it_recovers(
    client: Client, ns: str, running: ClusterController, member: FakeCluster
) -> None:
    await register(client, ns, "a", member.kubeconfig)
    await until(in_state(client, ns, "a", State.ONLINE))
    node = member.node_names[1]
    member.set_node_condition("Ready", False, node=node)
    notready = await until(in_state(client, ns, "a", State.NOTREADY))
    assert node_conditions(notready)[node]["Ready"] == "False"
    assert notready.status.reason.message == f"node {node} is not Ready: KubeletNotReady"
    member.set_node_condition("Ready", True, node=node)
    recovered = await until(in_state(client, ns, "a", State.ONLINE))
    assert not recovered.status.HasField("reason")
    # Seen through a watch, not by polling: the nodes were listed once.
    node_reads = [path for _, path in member.requests() if path.startswith("/api/v1/nodes")]
    assert len([p for p in node_reads if "watch=true" not in p]) == 1, node_reads
    assert any("watch=true" in p for p in node_reads), node_reads


async def test_memory_pressure_makes_the_cluster_unhealthy(
    client: Client, ns: str, running: ClusterController, member: FakeCluster
) -> None:
    await register(client, ns, "a", member.kubeconfig)
    await until(in_state(client, ns, "a", State.ONLINE))
    member.set_node_condition("MemoryPressure", True)
    unhealthy = await until(in_state(client, ns, "a", State.UNHEALTHY))
    assert "MemoryPressure" in unhealthy.status.reason.message
    member.set_node_condition("MemoryPressure", False)
    await until(in_state(client, ns, "a", State.ONLINE))


async def test_a_new_node_appears_in_the_status(
    client: Client, ns: str, running: ClusterController, member: FakeCluster
) -> None:
    await register(client, ns, "a", member.kubeconfig)
    await until(in_state(client, ns, "a", State.ONLINE))
    added = member.add_node("late-node")

    async def listed() -> bool:
        return added in node_conditions(await clusters(client).get(ns, "a"))

    await until(listed)


@pytest.mark.parametrize("outage", ["refuse", "hang"])
async def test_an_unreachable_cluster_goes_offline_and_back_online(
    client: Client, ns: str, running: ClusterController, member: FakeCluster, outage: str
) -> None:
    await register(client, ns, "a", member.kubeconfig)
    await until(in_state(client, ns, "a", State.ONLINE))
    member.unreachable(outage)  # type: ignore[arg-type]
    offline = await until(in_state(client, ns, "a", State.OFFLINE))
    assert offline.status.reason.code == metadata_pb2.Reason.CLUSTER_NOT_REACHABLE
    assert len(offline.status.nodes) == 2  # last seen, kept
    member.reachable()
    back = await until(in_state(client, ns, "a", State.ONLINE))
    assert not back.status.HasField("reason")


async def test_a_silent_partition_is_found_by_the_probe_not_the_idle_watch(
    client: Client, ns: str, member: FakeCluster
) -> None:
    # Watches that would notice the silence only after 30 s; probes after 1 s.
    timing = dataclasses.replace(FAST, watch_seconds=30)
    proxy = FreezingProxy(int(member.url.rsplit(":", 1)[1]))
    port = await proxy.start()
    try:
        async with controller_running(client, timing):
            kubeconfig = member.kubeconfig
            kubeconfig["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{port}"
            await register(client, ns, "a", kubeconfig)
            await until(in_state(client, ns, "a", State.ONLINE))

            async def watching() -> bool:
                opened = [p for _, p in member.requests() if "watch=true" in p]
                return {p.split("?")[0] for p in opened} == {paths.NODES, paths.CRDS}

            await until(watching)
            await asyncio.sleep(0.5)  # their response headers pass the proxy (milliseconds)
            proxy.flowing.clear()
            frozen = time.monotonic()
            offline = await until(in_state(client, ns, "a", State.OFFLINE))
            assert time.monotonic() - frozen < timing.watch_seconds / 2, offline.status.reason
            assert offline.status.reason.code == metadata_pb2.Reason.CLUSTER_NOT_REACHABLE
            proxy.flowing.set()
            await until(in_state(client, ns, "a", State.ONLINE))
    finally:
        await proxy.close()


async def test_custom_resources_are_discovered_when_their_crd_appears_and_goes(
    client: Client, ns: str, running: ClusterController, member: FakeCluster
) -> None:
    wanted = [CRD_NAME, "widgets.example.org"]
    await register(client, ns, "a", member.kubeconfig, custom_resources=wanted)
    online = await until(in_state(client, ns, "a", State.ONLINE))
    assert list(online.status.custom_resources) == []
    member.create(crontab_crd())

    async def served() -> list[str]:
        return list((await clusters(client).get(ns, "a")).status.custom_resources)

    assert await until(served) == [CRD_NAME]
    member.delete("customresourcedefinitions", CRD_NAME, namespace=None)

    async def withdrawn() -> bool:
        return not await served()

    await until(withdrawn)


async def test_changing_the_wanted_custom_resources_discovers_again(
    client: Client, ns: str, running: ClusterController, member: FakeCluster
) -> None:
    member.create(crontab_crd())
    created = await register(client, ns, "a", member.kubeconfig)
    online = await until(in_state(client, ns, "a", State.ONLINE))
    assert list(online.status.custom_resources) == []
    online.spec.custom_resources.append(CRD_NAME)
    updated = await clusters(client).update(online)
    assert updated.metadata.generation == created.metadata.generation + 1

    async def discovered() -> bool:
        cluster = await clusters(client).get(ns, "a")
        return (
            list(cluster.status.custom_resources) == [CRD_NAME]
            and cluster.status.observed_generation == updated.metadata.generation
        )

    await until(discovered)


async def test_a_changed_kubeconfig_switches_to_the_other_cluster(
    client: Client, ns: str, running: ClusterController, member: FakeCluster
) -> None:
    async with FakeCluster("other", nodes=1) as other:
        await register(client, ns, "a", member.kubeconfig)
        online = await until(in_state(client, ns, "a", State.ONLINE))
        assert set(node_conditions(online)) == set(member.node_names)
        online.spec.kubeconfig.Clear()
        online.spec.kubeconfig.update(other.kubeconfig)
        await clusters(client).update(online)

        async def switched() -> bool:
            cluster = await clusters(client).get(ns, "a")
            return cluster.status.state == State.ONLINE and set(node_conditions(cluster)) == set(
                other.node_names
            )

        await until(switched)
        # The old cluster's connection is gone: its outage changes nothing.
        member.set_node_condition("Ready", False)
        other.set_node_condition("MemoryPressure", True)
        await until(in_state(client, ns, "a", State.UNHEALTHY))


async def test_an_invalid_kubeconfig_is_offline_until_fixed(
    client: Client, ns: str, running: ClusterController, member: FakeCluster
) -> None:
    unloadable = {**member.kubeconfig, "current-context": "no-such-context"}
    await register(client, ns, "a", unloadable)
    offline = await until(in_state(client, ns, "a", State.OFFLINE))
    assert offline.status.reason.code == metadata_pb2.Reason.INVALID_RESOURCE
    assert "kubeconfig" in offline.status.reason.message
    offline.spec.kubeconfig.Clear()
    offline.spec.kubeconfig.update(member.kubeconfig)
    await clusters(client).update(offline)
    await until(in_state(client, ns, "a", State.ONLINE))


async def test_refused_credentials_are_offline_with_the_kubernetes_error(
    client: Client, ns: str, running: ClusterController, member: FakeCluster
) -> None:
    await register(client, ns, "a", member.kubeconfig_for("none"))
    offline = await until(in_state(client, ns, "a", State.OFFLINE))
    assert offline.status.reason.code == metadata_pb2.Reason.KUBERNETES_ERROR
    assert "401" in offline.status.reason.message
