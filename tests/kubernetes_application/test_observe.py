"""Observing with watches: the first Krake's observer scenarios (deletion, update on
the cluster, non-observed update, additional resource, container health) and the
observer schema's list bounds."""

from __future__ import annotations

from typing import Any

from app_support import (
    State,
    add_cluster,
    app_state,
    bind,
    create_app,
    deployment,
    on_cluster,
    reconciles,
    running,
    service,
    settled,
    until,
)

from krake_api import registry
from krake_api.structs import to_dict
from krake_controllers.runtime.client import Client
from krake_testing.kube import FakeCluster


async def started(client: Client, ns: str, cluster: FakeCluster, manifest: Any, **spec: Any) -> Any:
    await add_cluster(client, ns, cluster)
    await create_app(client, ns, "app", manifest, **spec)
    await bind(client, ns, "app", cluster.name)
    return await app_state(client, ns, "app", State.RUNNING)


async def test_deleted_object_is_recreated(client: Client, ns: str, cluster_a: FakeCluster) -> None:
    async with running(client):
        await started(client, ns, cluster_a, [deployment(), service()])
        old = cluster_a.get("Deployment", "web", ns)["metadata"]["uid"]
        cluster_a.delete("Service", "web", ns)
        cluster_a.delete("Deployment", "web", ns)
        await on_cluster(cluster_a, "Service", "web", ns)
        new = await on_cluster(cluster_a, "Deployment", "web", ns)
        assert new["metadata"]["uid"] != old
        await app_state(client, ns, "app", State.RUNNING)


async def test_drift_in_an_observed_field_is_reverted(
    client: Client, ns: str, cluster_a: FakeCluster
) -> None:
    async with running(client):
        await started(client, ns, cluster_a, [deployment(replicas=2)])
        cluster_a.patch("Deployment", "web", {"spec": {"replicas": 5}}, ns)
        await on_cluster(cluster_a, "Deployment", "web", ns, lambda d: d["spec"]["replicas"] == 2)
        image = {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "x"}]}}}}
        cluster_a.patch("Deployment", "web", image, ns)
        await on_cluster(
            cluster_a,
            "Deployment",
            "web",
            ns,
            lambda d: d["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25",
        )


async def test_fields_outside_the_schema_are_left_alone(
    client: Client, ns: str, cluster_a: FakeCluster
) -> None:
    schema = [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {"replicas": None},
        }
    ]
    async with running(client) as controller:
        app = await started(client, ns, cluster_a, [deployment()], observer_schema=schema)
        observed = to_dict(app.status.last_observed_manifest[0])
        assert observed["spec"] == {"replicas": 2}
        assert "template" not in observed["spec"]
        before = reconciles(controller)
        image = {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "x"}]}}}}
        cluster_a.patch("Deployment", "web", {**image, "metadata": {"labels": {"extra": "1"}}}, ns)
        cluster_a.patch("Deployment", "web", {"spec": {"minReadySeconds": 3}}, ns)
        await settled(controller, before)
        live = cluster_a.get("Deployment", "web", ns)
        assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "x"
        assert live["metadata"]["labels"]["extra"] == "1"
        assert live["spec"]["minReadySeconds"] == 3


async def test_non_observed_field_of_the_default_schema_is_left_alone(
    client: Client, ns: str, cluster_a: FakeCluster
) -> None:
    async with running(client) as controller:
        await started(client, ns, cluster_a, [deployment()])
        before = reconciles(controller)
        cluster_a.patch("Deployment", "web", {"spec": {"minReadySeconds": 3}}, ns)
        await settled(controller, before)
        # a later revert of observed drift re-applies the object, yet keeps the field
        cluster_a.patch("Deployment", "web", {"spec": {"replicas": 7}}, ns)
        live = await on_cluster(
            cluster_a, "Deployment", "web", ns, lambda d: d["spec"]["replicas"] == 2
        )
        assert live["spec"]["minReadySeconds"] == 3


async def test_additional_resource_is_left_alone(
    client: Client, ns: str, cluster_a: FakeCluster
) -> None:
    async with running(client) as controller:
        await started(client, ns, cluster_a, [deployment()])
        before = reconciles(controller)
        foreign = deployment("foreign", replicas=1)
        foreign["metadata"]["namespace"] = ns
        cluster_a.create(foreign)
        cluster_a.patch("Deployment", "web", {"spec": {"replicas": 4}}, ns)
        await on_cluster(cluster_a, "Deployment", "web", ns, lambda d: d["spec"]["replicas"] == 2)
        await settled(controller, before)
        assert cluster_a.get("Deployment", "foreign", ns)["spec"]["replicas"] == 1
        app = await client.kind(registry.KINDS["Application"]).get(ns, "app")
        names = {to_dict(s)["metadata"]["name"] for s in app.status.last_observed_manifest}
        assert names == {"web"}


async def test_container_health_follows_crash_loops(
    client: Client, ns: str, cluster_a: FakeCluster
) -> None:
    async with running(client):
        app = await started(client, ns, cluster_a, [deployment(replicas=2)])
        assert (app.status.container_health.desired, app.status.container_health.running) == (
            2,
            2,
        )
        cluster_a.crash_loop("Deployment", "web", ns)
        app = await app_state(client, ns, "app", State.DEGRADED)

        async def failing() -> Any:
            got = await client.kind(registry.KINDS["Application"]).get(ns, "app")
            return got if got.status.container_health.failed == 2 else None

        app = await until(failing)
        assert app.status.container_health.running == 0
        assert app.status.reason.message
        cluster_a.heal("Deployment", "web", ns)
        app = await app_state(client, ns, "app", State.RUNNING)
        assert app.status.container_health.failed == 0
        assert not app.status.reason.message


async def test_list_length_bounds_of_the_schema(
    client: Client, ns: str, cluster_a: FakeCluster
) -> None:
    schema = [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web"},
            "spec": {
                "ports": [
                    {"port": None},
                    {"observer_schema_list_min_length": 1, "observer_schema_list_max_length": 2},
                ]
            },
        }
    ]
    async with running(client) as controller:
        await started(client, ns, cluster_a, [service()], observer_schema=schema)
        two = [{"name": "a", "port": 80}, {"name": "b", "port": 81}]
        before = reconciles(controller)
        cluster_a.patch("Service", "web", {"spec": {"ports": two}}, ns)
        await settled(controller, before)
        assert len(cluster_a.get("Service", "web", ns)["spec"]["ports"]) == 2
        three = [*two, {"name": "c", "port": 82}]
        cluster_a.patch("Service", "web", {"spec": {"ports": three}}, ns)
        await on_cluster(cluster_a, "Service", "web", ns, lambda s: len(s["spec"]["ports"]) == 1)
