"""Invalid manifests are terminal, objects leaving the manifest are deleted, objects
naming a namespace or defining types land where they should, and deleting the
application removes every object before its finalizer goes."""

from __future__ import annotations

from typing import Any

import pytest
from app_support import (
    KINDS,
    State,
    add_cluster,
    app_gone,
    app_state,
    bind,
    config_map,
    create_app,
    deployment,
    off_cluster,
    running,
    service,
    until,
    update_app,
)

from krake.core.v1 import metadata_pb2
from krake_api.structs import to_struct
from krake_controllers.runtime.client import Client
from krake_testing.kube import FakeCluster

BAD_DEPLOYMENT = deployment()
BAD_DEPLOYMENT["spec"]["template"]["metadata"]["labels"] = {"app": "other"}  # selector mismatch


@pytest.mark.parametrize(
    ("item", "why"),
    [
        ({"apiVersion": "v1", "kind": "Gadget", "metadata": {"name": "g"}}, "serves no Gadget"),
        ({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}, "Widget"),
        (BAD_DEPLOYMENT, "Deployment"),
    ],
    ids=["unknown-kind", "unknown-group", "refused-by-cluster"],
)
async def test_invalid_manifest_is_terminal_until_fixed(
    client: Client, ns: str, cluster_a: FakeCluster, item: dict[str, Any], why: str
) -> None:
    await add_cluster(client, ns, cluster_a)
    await create_app(client, ns, "app", [config_map(), item])
    async with running(client) as controller:
        await bind(client, ns, "app", "a")
        app = await app_state(client, ns, "app", State.FAILED)
        assert app.status.reason.code == metadata_pb2.Reason.INVALID_RESOURCE
        assert why in app.status.reason.message
        terminal = controller.metrics.registry.get_sample_value(
            "krake_controller_reconciles_total",
            {"controller": "kubernetes-application", "outcome": "terminal"},
        )
        assert terminal and terminal >= 1

        def fix(app: Any) -> None:
            del app.spec.manifest[1:]
            app.spec.manifest.append(to_struct(deployment()))

        await update_app(client, ns, "app", fix)
        app = await app_state(client, ns, "app", State.RUNNING)
        assert not app.status.reason.message


async def test_objects_removed_from_the_manifest_are_deleted(
    client: Client, ns: str, cluster_a: FakeCluster
) -> None:
    await add_cluster(client, ns, cluster_a)
    await create_app(client, ns, "app", [deployment(), service(), config_map()])
    async with running(client):
        await bind(client, ns, "app", "a")
        await app_state(client, ns, "app", State.RUNNING)

        def drop(app: Any) -> None:
            del app.spec.manifest[1:]

        await update_app(client, ns, "app", drop)
        await off_cluster(cluster_a, "Service", "web", ns)
        await off_cluster(cluster_a, "ConfigMap", "settings", ns)
        app = await app_state(client, ns, "app", State.RUNNING)
        assert len(app.status.last_applied_manifest) == 1
        assert cluster_a.get("Deployment", "web", ns) is not None


async def test_named_namespaces_and_custom_resources(
    client: Client, ns: str, cluster_a: FakeCluster
) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [{"name": "v1", "served": True, "storage": True}],
        },
    }
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    elsewhere = config_map("remote")
    elsewhere["metadata"]["namespace"] = "team-x"
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-x"}}
    await add_cluster(client, ns, cluster_a)
    await create_app(client, ns, "app", [widget, elsewhere, crd, namespace])
    async with running(client):
        await bind(client, ns, "app", "a")
        await app_state(client, ns, "app", State.RUNNING)
        assert cluster_a.get("Widget", "w", ns) is not None
        assert cluster_a.get("ConfigMap", "remote", "team-x") is not None
        assert cluster_a.get("ConfigMap", "remote", ns) is None
        await client.kind(KINDS["Application"]).delete(ns, "app")
        await app_gone(client, ns, "app")
        assert cluster_a.get("CustomResourceDefinition", "widgets.example.com", None) is None


async def test_deletion_removes_every_object_then_the_finalizer(
    client: Client, ns: str, cluster_a: FakeCluster
) -> None:
    await add_cluster(client, ns, cluster_a)
    await create_app(client, ns, "app", [deployment(), service(), config_map()])
    foreign = config_map("foreign")
    foreign["metadata"]["namespace"] = ns
    async with running(client):
        await bind(client, ns, "app", "a")
        await app_state(client, ns, "app", State.RUNNING)
        cluster_a.create(foreign)
        deleted = await client.kind(KINDS["Application"]).delete(ns, "app")
        assert deleted.metadata.HasField("deleted")  # held by the finalizer
        await app_gone(client, ns, "app")
        for kind, name in (("Deployment", "web"), ("Service", "web"), ("ConfigMap", "settings")):
            assert cluster_a.get(kind, name, ns) is None, kind
        assert not [
            p for p in cluster_a.objects("Pod", ns) if "deletionTimestamp" not in p["metadata"]
        ]
        assert cluster_a.get("ConfigMap", "foreign", ns) is not None


async def test_unreachable_cluster_is_retried(
    client: Client, ns: str, cluster_a: FakeCluster
) -> None:
    await add_cluster(client, ns, cluster_a)
    await create_app(client, ns, "app", [deployment()])
    cluster_a.unreachable()
    async with running(client) as controller:
        await bind(client, ns, "app", "a")

        async def failed_twice() -> bool:
            errors = controller.metrics.registry.get_sample_value(
                "krake_controller_reconciles_total",
                {"controller": "kubernetes-application", "outcome": "error"},
            )
            return bool(errors and errors >= 2)

        await until(failed_twice)
        cluster_a.reachable()
        await app_state(client, ns, "app", State.RUNNING)
        assert cluster_a.get("Deployment", "web", ns) is not None


async def test_deleted_cluster_is_no_longer_watched(
    client: Client, ns: str, cluster_a: FakeCluster
) -> None:
    await add_cluster(client, ns, cluster_a)
    await create_app(client, ns, "app", [deployment()])
    async with running(client) as controller:
        await bind(client, ns, "app", "a")
        await app_state(client, ns, "app", State.RUNNING)
        watches = controller.reconciler.watches
        assert watches.of_cluster(f"{ns}/a")
        await client.kind(KINDS["Application"]).delete(ns, "app")
        await app_gone(client, ns, "app")
        await client.kind(KINDS["Cluster"]).delete(ns, "a")

        async def unwatched() -> bool:
            return (
                not watches.of_cluster(f"{ns}/a") and f"{ns}/a" not in controller.reconciler.targets
            )

        await until(unwatched)
