"""Clusters to be created (no kubeconfig, a TOSCA template) are bound to the best
Cloud: namespaced clouds before global ones, label and metric constraints on
clouds, clouds' metrics; they inherit labels and metrics when asked."""

from __future__ import annotations

from typing import Any

import pytest
from scheduling_support import (
    KINDS,
    SQLITE_ONLY,
    add_cluster,
    add_metric,
    add_provider,
    cluster_reader,
    create,
    eventually,
    ref,
)

from krake.core.v1 import metadata_pb2
from krake.infrastructure.v1 import infrastructure_pb2
from krake_controllers.runtime.client import Client
from krake_testing.examples import OPENSTACK

pytestmark = [SQLITE_ONLY, pytest.mark.usefixtures("running")]
Reason = metadata_pb2.Reason
ONLINE = infrastructure_pb2.Cloud.Status.ONLINE
FAILING_METRICS = infrastructure_pb2.Cloud.Status.FAILING_METRICS
TOSCA = {"tosca_definitions_version": "tosca_simple_yaml_1_0"}


async def add_cloud(client: Client, name: str, ns: str, labels: dict[str, str], metric: str) -> Any:
    spec = {"openstack": {**OPENSTACK["openstack"], "metrics": [ref(metric)]}}
    if ns:
        return await create(client, "Cloud", name, spec, namespace=ns, labels=labels)
    return await create(client, "GlobalCloud", name, spec, labels=labels)


async def to_create(client: Client, ns: str, name: str, **spec: Any) -> Any:
    body = {"tosca": TOSCA, **spec}
    return await create(client, "Cluster", name, body, namespace=ns, labels={"own": "yes"})


@pytest.fixture
async def clouds(client: Client, ns: str) -> None:
    await add_provider(client, "static", {"static": {"metrics": {"cheap": 0.1, "fast": 0.9}}})
    await add_metric(client, "cheap", "static")
    await add_metric(client, "fast", "static")
    await add_cloud(client, "local", ns, {"region": "eu", "own": "cloud"}, "cheap")
    await add_cloud(client, "everywhere", "", {"region": "us"}, "fast")


def bound(name: str) -> Any:
    return lambda c: c.status.scheduled_to.name == name and c.status.placement.chosen.name == name


@pytest.mark.usefixtures("clouds")
async def test_namespaced_clouds_come_before_global_ones(client: Client, ns: str) -> None:
    await to_create(client, ns, "new", inherit_labels=True, inherit_metrics=True)
    cluster = await eventually(cluster_reader(client, ns, "new"), bound("local"))
    assert cluster.status.scheduled_to.kind == "Cloud"
    ranked = [(c.ref.kind, c.ref.name) for c in cluster.status.placement.candidates]
    assert ranked == [("Cloud", "local"), ("GlobalCloud", "everywhere")]
    assert dict(cluster.metadata.labels) == {"own": "yes", "region": "eu"}  # own label wins
    assert [(m.name, m.namespaced) for m in cluster.spec.metrics] == [("cheap", False)]


@pytest.mark.usefixtures("clouds")
async def test_cloud_constraints_and_no_inheritance_unless_asked(client: Client, ns: str) -> None:
    wanted = {"cloud": {"labels": ["region is us"], "metrics": ["fast > 0.5"]}}
    await to_create(client, ns, "us", constraints=wanted)
    cluster = await eventually(cluster_reader(client, ns, "us"), bound("everywhere"))
    assert cluster.status.scheduled_to.kind == "GlobalCloud"
    assert dict(cluster.metadata.labels) == {"own": "yes"} and not cluster.spec.metrics
    local = cluster.status.placement.candidates[1]
    assert local.ref.name == "local" and not local.eligible


@pytest.mark.usefixtures("clouds")
async def test_clusters_with_a_kubeconfig_are_not_placed_on_clouds(client: Client, ns: str) -> None:
    await add_cluster(client, ns, "existing", tosca=TOSCA)
    await to_create(client, ns, "marker")  # reconciled after "existing" was
    await eventually(cluster_reader(client, ns, "marker"), bound("local"))
    existing = await cluster_reader(client, ns, "existing")()
    assert not existing.status.scheduled_to.name and not existing.status.placement.candidates


@pytest.mark.usefixtures("clouds")
async def test_clouds_report_their_metric_health(client: Client, ns: str) -> None:
    await add_cloud(client, "broken", ns, {}, "nonexistent")
    clouds = client.kind(KINDS["Cloud"])
    broken = await eventually(
        lambda: clouds.get(ns, "broken"), lambda c: c.status.state == FAILING_METRICS
    )
    assert broken.status.metrics_reasons["nonexistent"].code == Reason.UNKNOWN_METRIC
    local = await eventually(lambda: clouds.get(ns, "local"), lambda c: c.status.state == ONLINE)
    assert not local.status.metrics_reasons
    everywhere = client.kind(KINDS["GlobalCloud"])
    await eventually(lambda: everywhere.get("", "everywhere"), lambda c: c.status.state == ONLINE)
