"""Scheduler pieces around placement: views of the protobuf objects, inheritance
from the chosen cloud, metric health, and snapshots reusing scores."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format

from krake.core.v1 import metadata_pb2
from krake.infrastructure.v1 import infrastructure_pb2
from krake.kubernetes.v1 import kubernetes_pb2
from krake_controllers.scheduler import health, inheritance, views
from krake_controllers.scheduler.readings import UNKNOWN_METRIC, MetricKey, Reading, failed
from krake_controllers.scheduler.snapshots import Snapshot
from krake_testing.examples import KUBECONFIG, OPENSTACK

Cluster = kubernetes_pb2.Cluster


def cluster(data: dict[str, Any]) -> Cluster:
    base = {"metadata": {"name": "c", "namespace": "ns"}}
    return json_format.ParseDict({**base, **data}, Cluster())


def cloud(labels: dict[str, str], metrics: list[str], ns: str = "ns") -> Any:
    spec = {"openstack": {**OPENSTACK["openstack"], "metrics": [{"name": m} for m in metrics]}}
    meta = {"name": "cloud", "labels": labels, **({"namespace": ns} if ns else {})}
    message = infrastructure_pb2.Cloud() if ns else infrastructure_pb2.GlobalCloud()
    return json_format.ParseDict({"metadata": meta, "spec": spec}, message)


def test_only_clusters_with_a_template_and_no_kubeconfig_need_a_cloud() -> None:
    assert views.needs_cloud(cluster({"spec": {"tosca": {"a": 1}}}))
    assert not views.needs_cloud(cluster({"spec": {"tosca": {"a": 1}, "kubeconfig": KUBECONFIG}}))
    assert not views.needs_cloud(cluster({"spec": {}}))


def test_migration_defaults_to_allowed() -> None:
    app = kubernetes_pb2.Application()
    assert views.application_subject(app).migration
    app.spec.constraints.migration = False
    assert not views.application_subject(app).migration


def test_metric_refs_resolve_to_namespaced_or_global_metrics() -> None:
    target = views.cluster_target(
        cluster({"spec": {"metrics": [{"name": "a", "namespaced": True}, {"name": "b"}]}})
    )
    assert [w.key for w in target.metrics] == [MetricKey("ns", "a"), MetricKey("", "b")]
    assert (
        views.cloud_target(cloud({}, ["x"], ns="")).tier > views.cloud_target(cloud({}, ["x"])).tier
    )


def test_inheritance_takes_the_chosen_clouds_labels_and_metrics_without_overriding() -> None:
    own = cluster(
        {
            "metadata": {"name": "c", "namespace": "ns", "labels": {"zone": "mine"}},
            "spec": {"inherit_labels": True, "inherit_metrics": True, "metrics": [{"name": "a"}]},
        }
    )
    new = inheritance.inherited(own, cloud({"zone": "theirs", "region": "eu"}, ["a", "b"]))
    assert new is not None
    assert dict(new.metadata.labels) == {"zone": "mine", "region": "eu"}
    assert [m.name for m in new.spec.metrics] == ["a", "b"]
    assert inheritance.inherited(new, cloud({"region": "eu"}, ["b"])) is None  # nothing new
    plain = cluster({"spec": {}})
    assert inheritance.inherited(plain, cloud({"region": "eu"}, ["b"])) is None  # not asked


def test_health_toggles_only_the_states_the_scheduler_owns() -> None:
    why = {"m": metadata_pb2.Reason(code=UNKNOWN_METRIC, message="gone")}  # type: ignore[arg-type]
    status = Cluster.Status(state=Cluster.Status.ONLINE)
    health.apply(status, why, health.CLUSTER)
    assert (
        status.state == Cluster.Status.FAILING_METRICS and status.metrics_reasons["m"] == why["m"]
    )
    health.apply(status, {}, health.CLUSTER)
    assert status.state == Cluster.Status.ONLINE and not status.metrics_reasons
    offline = Cluster.Status(state=Cluster.Status.OFFLINE)
    health.apply(offline, why, health.CLUSTER)
    assert offline.state == Cluster.Status.OFFLINE and not offline.metrics_reasons
    fresh = infrastructure_pb2.Cloud.Status()
    health.apply(fresh, {}, health.CLOUD)
    assert fresh.state == infrastructure_pb2.Cloud.Status.ONLINE


def test_snapshots_score_once_per_distinct_readings() -> None:
    target = views.cluster_target(cluster({"spec": {"metrics": [{"name": "m", "weight": 1}]}}))
    snapshot = Snapshot(1, [target], (MetricKey("", "m"),))
    first = {MetricKey("", "m"): Reading(0.5, 0.5)}
    scores = snapshot.scores(first)
    assert scores[target.key].base == 0.5
    assert snapshot.scores(dict(first)) is scores  # equal readings: the same scores
    changed = snapshot.scores({MetricKey("", "m"): failed(UNKNOWN_METRIC, "gone")})
    assert changed is not scores and not changed[target.key].has_metrics
