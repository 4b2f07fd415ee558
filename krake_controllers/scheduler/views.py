"""What placement needs to know about the placed resource (`Subject`) and about each
candidate (`Target`), read once from the protobuf objects.

Two pairs exist: an Application over Clusters, and a Cluster over Clouds and
GlobalClouds. Placement itself (filters, scoring, ranking) sees only these views.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from krake.core.v1 import metadata_pb2
from krake.kubernetes.v1 import kubernetes_pb2
from krake_api import constraints as grammar
from krake_controllers.scheduler.readings import MetricKey

Cluster = kubernetes_pb2.Cluster
# A cluster in these states may receive applications (FAILING_METRICS: it is
# reachable, only some of its metrics are not).
SCHEDULABLE: Final = frozenset({Cluster.Status.ONLINE, Cluster.Status.FAILING_METRICS})
NAMESPACED_TIER: Final = 0
GLOBAL_TIER: Final = 1


@dataclass(frozen=True, slots=True)
class Weighted:
    """One of a target's MetricRefs, resolved to the metric it names."""

    name: str
    weight: float
    key: MetricKey


@dataclass(frozen=True, slots=True)
class Target:
    ref: metadata_pb2.ResourceRef
    key: str  # "Kind/namespace/name", unique among candidates
    labels: Mapping[str, str]
    deleted: bool
    state: str  # the state's name, "" when the kind has no state filter
    schedulable: bool
    custom_resources: frozenset[str] | None  # None: the kind serves none (clouds)
    metrics: tuple[Weighted, ...]
    tier: int = NAMESPACED_TIER  # lower tiers are preferred (namespaced before global)


@dataclass(frozen=True, slots=True)
class Subject:
    key: str  # "Kind/namespace/name"; with the target key it breaks ties
    labels: tuple[grammar.LabelConstraint, ...]
    metrics: tuple[grammar.MetricConstraint, ...]
    custom_resources: frozenset[str]
    current: str  # key of the target it is bound to; "" when unbound
    migration: bool


def ref_of(obj: Any) -> metadata_pb2.ResourceRef:
    meta = obj.metadata
    api = obj.api or obj.DESCRIPTOR.file.package.split(".")[1]
    kind = obj.kind or obj.DESCRIPTOR.name
    return metadata_pb2.ResourceRef(
        api=api, kind=kind, namespace=meta.namespace, name=meta.name, uid=meta.uid
    )


def ref_key(ref: metadata_pb2.ResourceRef) -> str:
    return f"{ref.kind}/{ref.namespace}/{ref.name}" if ref.name else ""


def _weighted(refs: Any, namespace: str) -> tuple[Weighted, ...]:
    return tuple(Weighted(r.name, r.weight, MetricKey.of(r, namespace)) for r in refs)


def cluster_target(cluster: Cluster) -> Target:
    ref = ref_of(cluster)
    state = cluster.status.state
    return Target(
        ref=ref,
        key=ref_key(ref),
        labels=cluster.metadata.labels,
        deleted=cluster.metadata.HasField("deleted"),
        state=Cluster.Status.State.Name(state),
        schedulable=state in SCHEDULABLE,
        custom_resources=frozenset(cluster.status.custom_resources),  # what it really serves
        metrics=_weighted(cluster.spec.metrics, cluster.metadata.namespace),
    )


def cloud_metrics(cloud: Any) -> Any:
    """The MetricRefs of a Cloud or GlobalCloud, whichever cloud type it is."""
    member = cloud.spec.WhichOneof("type")
    return getattr(cloud.spec, member).metrics if member else ()


def cloud_target(cloud: Any) -> Target:
    ref = ref_of(cloud)
    return Target(
        ref=ref,
        key=ref_key(ref),
        labels=cloud.metadata.labels,
        deleted=cloud.metadata.HasField("deleted"),
        state="",
        schedulable=True,
        custom_resources=None,
        metrics=_weighted(cloud_metrics(cloud), cloud.metadata.namespace),
        tier=NAMESPACED_TIER if cloud.metadata.namespace else GLOBAL_TIER,
    )


def application_subject(app: kubernetes_pb2.Application) -> Subject:
    """The app's placement needs; constraints were validated by the API on write."""
    wanted = app.spec.constraints
    return Subject(
        key=ref_key(ref_of(app)),
        labels=tuple(grammar.parse_label(text) for text in wanted.cluster.labels),
        metrics=tuple(grammar.parse_metric(text) for text in wanted.cluster.metrics),
        custom_resources=frozenset(wanted.cluster.custom_resources),
        current=ref_key(app.status.scheduled_to),
        migration=not wanted.HasField("migration") or wanted.migration,
    )


def cluster_subject(cluster: Cluster) -> Subject:
    wanted = cluster.spec.constraints.cloud
    return Subject(
        key=ref_key(ref_of(cluster)),
        labels=tuple(grammar.parse_label(text) for text in wanted.labels),
        metrics=tuple(grammar.parse_metric(text) for text in wanted.metrics),
        custom_resources=frozenset(),
        current=ref_key(cluster.status.scheduled_to),
        migration=False,  # a created cluster stays on its cloud
    )


def needs_cloud(cluster: Cluster) -> bool:
    """A cluster Krake is to create: no kubeconfig, a TOSCA template instead."""
    return not cluster.spec.kubeconfig.fields and cluster.spec.HasField("tosca")
