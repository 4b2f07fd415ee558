"""What a cluster created on a cloud takes over from the chosen cloud.

With `inherit_labels`, the chosen cloud's labels that the cluster does not set
itself; with `inherit_metrics`, the chosen cloud's metric references whose names
the cluster does not use itself (the first Krake iterated the wrong list here:
it is the CHOSEN cloud's, and the cluster's own entries win).
"""

from __future__ import annotations

from typing import Any

from krake.kubernetes.v1 import kubernetes_pb2
from krake_controllers.scheduler.views import cloud_metrics


def inherited(cluster: kubernetes_pb2.Cluster, cloud: Any) -> kubernetes_pb2.Cluster | None:
    """The cluster with what it inherits from `cloud`; None when that changes nothing."""
    new = kubernetes_pb2.Cluster()
    new.CopyFrom(cluster)
    if cluster.spec.inherit_labels:
        for key, value in cloud.metadata.labels.items():
            new.metadata.labels.setdefault(key, value)
    if cluster.spec.inherit_metrics:
        own = {ref.name for ref in cluster.spec.metrics}
        new.spec.metrics.extend(ref for ref in cloud_metrics(cloud) if ref.name not in own)
    return None if new == cluster else new
