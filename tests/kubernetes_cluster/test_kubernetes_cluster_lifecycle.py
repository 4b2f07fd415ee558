"""The cluster controller's resources: a deleted Cluster releases its watches and
connection (and loses this controller's finalizer); many clusters are monitored
independently, so a hanging one delays no other."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator

import grpc
import pytest
from cluster_support import (
    FAST,
    State,
    clusters,
    controller_running,
    in_state,
    kube_threads,
    register,
    until,
)

from krake_api import registry
from krake_controllers.kubernetes_cluster import NAME, ClusterController
from krake_controllers.kubernetes_cluster.reconciler import FINALIZER
from krake_controllers.runtime.client import Client
from krake_controllers.runtime.leader import LeaderElector
from krake_testing.kube import FakeCluster


@pytest.fixture
async def member() -> AsyncIterator[FakeCluster]:
    async with FakeCluster("member") as started:
        yield started


async def gone(client: Client, ns: str, name: str) -> bool:
    try:
        await clusters(client).get(ns, name)
    except grpc.aio.AioRpcError as err:
        return err.code() == grpc.StatusCode.NOT_FOUND
    return False


async def test_a_deleted_cluster_releases_its_watches_and_connection(
    client: Client, ns: str, running: ClusterController, member: FakeCluster
) -> None:
    before = kube_threads()
    await register(client, ns, "a", member.kubeconfig)
    await until(in_state(client, ns, "a", State.ONLINE))
    watching = {t.name for t in kube_threads() - before}
    assert "kube-watch" in watching, watching
    await clusters(client).delete(ns, "a")

    async def released() -> bool:
        return len(running.monitors) == 0 and not kube_threads() - before

    await until(released)
    # Nothing talks to the member any more: no probe, no watch, for 3 probe intervals.
    requests = len(member.requests())
    await asyncio.sleep(3 * FAST.probe_interval)
    assert len(member.requests()) == requests


async def test_a_deleted_cluster_loses_this_controllers_finalizer(
    client: Client, ns: str, running: ClusterController, member: FakeCluster
) -> None:
    await register(client, ns, "a", member.kubeconfig, finalizers=[FINALIZER, "someone-else"])
    await until(in_state(client, ns, "a", State.ONLINE))
    await clusters(client).delete(ns, "a")

    async def only_foreign_finalizer_left() -> bool:
        cluster = await clusters(client).get(ns, "a")
        return list(cluster.metadata.finalizers) == ["someone-else"]

    await until(only_foreign_finalizer_left)
    assert len(running.monitors) == 0
    remaining = await clusters(client).get(ns, "a")
    remaining.metadata.ClearField("finalizers")
    await clusters(client).update(remaining)
    await until(lambda: gone(client, ns, "a"))


async def test_a_cluster_without_kubeconfig_is_left_alone(
    client: Client, ns: str, running: ClusterController
) -> None:
    """A Cluster the infrastructure controller is to create has no kubeconfig yet."""
    await register(client, ns, "todo", {})

    async def reconciled() -> bool:
        sample = running.metrics.registry.get_sample_value(
            "krake_controller_reconciles_total", {"controller": NAME, "outcome": "success"}
        )
        return bool(sample)

    await until(reconciled)
    cluster = await clusters(client).get(ns, "todo")
    assert cluster.status.state == State.STATE_UNSPECIFIED
    assert len(running.monitors) == 0


async def test_ten_clusters_with_one_hanging_the_other_nine_go_online_promptly(
    client: Client, ns: str
) -> None:
    hang_seconds = 15.0  # the nine took 6.2 s at load average 25 on 2 cores
    timing = dataclasses.replace(FAST, timeout=(hang_seconds, hang_seconds))
    async with contextlib.AsyncExitStack() as stack:
        members = [FakeCluster(f"m{i}") for i in range(10)]
        await asyncio.gather(*(asyncio.to_thread(m.start) for m in members))
        for started in members:
            stack.callback(started.stop)
        hanging = members[0]
        hanging.unreachable("hang")
        for i, started in enumerate(members):  # all at once for the controller's first list
            await register(client, ns, f"c{i}", started.kubeconfig)
        controller = await stack.enter_async_context(controller_running(client, timing))
        synced = time.monotonic()

        async def nine_online() -> bool:
            page = await clusters(client).list(ns)
            states = {c.metadata.name: c.status.state for c in page.items}
            return all(states.get(f"c{i}") == State.ONLINE for i in range(1, 10))

        await until(nine_online)
        took = time.monotonic() - synced
        hung = await clusters(client).get(ns, "c0")
        # The nine were ONLINE while the hanging cluster's first request still waited.
        assert hung.status.state == State.CONNECTING, (took, hung.status)
        offline = await until(in_state(client, ns, "c0", State.OFFLINE))
        assert "timed out" in offline.status.reason.message.lower()
        assert len(controller.monitors) == 10
        online = controller.metrics.registry.get_sample_value(
            "krake_kubernetes_cluster_monitors", {"state": "ONLINE"}
        )
        assert online == 9


async def test_a_restarted_controller_does_not_reset_observed_clusters_to_connecting(
    client: Client, ns: str, member: FakeCluster
) -> None:
    async with controller_running(client):
        await register(client, ns, "a", member.kubeconfig)
        await until(in_state(client, ns, "a", State.ONLINE))
    member.set_node_condition("Ready", False)  # while no controller runs
    seen: list[int] = []

    async def record() -> None:
        async for event in clusters(client).events(ns):
            seen.append(event.object.status.state)

    recording = asyncio.create_task(record())
    try:
        async with controller_running(client):
            await until(in_state(client, ns, "a", State.NOTREADY))
    finally:
        recording.cancel()
        await asyncio.gather(recording, return_exceptions=True)
    assert State.CONNECTING not in seen, seen


async def test_monitors_run_only_while_leading_and_resume_with_leadership(
    client: Client, ns: str, member: FakeCluster
) -> None:
    leases = client.kind(registry.KINDS["Lease"])
    elector = LeaderElector(
        leases, NAME, "me", namespace=ns,
        lease_duration=2.0, renew_deadline=1.5, retry_period=0.2,
    )  # fmt: skip

    async def stolen() -> bool:
        """The lease given to a holder that then never renews (so it expires)."""
        lease = await leases.get(ns, NAME)
        lease.spec.holder = "thief"
        try:
            await leases.update(lease)
        except grpc.aio.AioRpcError as err:  # the leader renewed meanwhile: again
            assert err.code() == grpc.StatusCode.ABORTED
            return False
        return True

    async with controller_running(client, elector=elector) as controller:
        before = kube_threads()
        await register(client, ns, "a", member.kubeconfig)
        await until(in_state(client, ns, "a", State.ONLINE))
        await until(stolen)

        async def stepped_down() -> bool:
            released = not kube_threads() - before
            return not elector.leading and len(controller.monitors) == 0 and released

        await until(stepped_down)
        member.set_node_condition("Ready", False)  # seen by nobody while nobody leads
        assert (await clusters(client).get(ns, "a")).status.state == State.ONLINE
        await until(in_state(client, ns, "a", State.NOTREADY))
        assert elector.leading and len(controller.monitors) == 1
