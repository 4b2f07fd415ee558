"""Metric health of a cluster or cloud: its `status.metrics_reasons` (metric name ->
why it cannot be used) and the FAILING_METRICS state while any metric fails.

The scheduler owns this health only within the states it may toggle: a cluster
that is ONLINE or FAILING_METRICS (the cluster controller owns its other states),
and a cloud in any state (its states are only ONLINE and FAILING_METRICS).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from krake.core.v1 import metadata_pb2
from krake.infrastructure.v1 import infrastructure_pb2
from krake.kubernetes.v1 import kubernetes_pb2
from krake_controllers.scheduler import views
from krake_controllers.scheduler.readings import Readings

ClusterState = kubernetes_pb2.Cluster.Status
CloudState = infrastructure_pb2.Cloud.Status


class States:
    """The states of one kind the scheduler toggles between, and when it may."""

    def __init__(self, healthy: int, failing: int, owned: frozenset[int]) -> None:
        self.healthy, self.failing, self.owned = healthy, failing, owned


CLUSTER: Final = States(ClusterState.ONLINE, ClusterState.FAILING_METRICS, views.SCHEDULABLE)
CLOUD: Final = States(
    CloudState.ONLINE,
    CloudState.FAILING_METRICS,
    frozenset({CloudState.STATE_UNSPECIFIED, CloudState.ONLINE, CloudState.FAILING_METRICS}),
)


def reasons(target: views.Target, readings: Readings) -> dict[str, metadata_pb2.Reason]:
    return {w.name: readings[w.key].reason() for w in target.metrics if not readings[w.key].usable}


def apply(status: Any, failing: Mapping[str, metadata_pb2.Reason], states: States) -> None:
    """Set `status` (of an object in one of `states.owned`) to reflect `failing`."""
    if status.state not in states.owned:
        return
    status.ClearField("metrics_reasons")
    for name, reason in failing.items():
        status.metrics_reasons[name].CopyFrom(reason)
    status.state = states.failing if failing else states.healthy
