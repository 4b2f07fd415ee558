"""The status a Cluster should have, given what its monitor observed: pure functions.

The cluster controller writes `state` and `reason` only while the state is one of
its own (`OWNED`): the infrastructure controller's lifecycle states (CREATING,
RECONCILING, DELETING, FAILED, ...) are left alone, and so is FAILING_METRICS,
which the scheduler sets on a cluster this controller finds ONLINE (the scheduler
moves it back to ONLINE itself; writing ONLINE here would make the two fight).
`nodes` and `custom_resources` are always written; they survive an outage (last
seen). A monitor that has not had an answer yet makes a Cluster CONNECTING only
when its spec changed since last observed: a restarted controller (or a new
leader) leaves the status as it was until it knows better. `observed_generation`
follows the spec once the monitor of the current kubeconfig has had an outcome (an
answer or a failure) for the current `spec.custom_resources`.
"""

from __future__ import annotations

from typing import Final

from krake.core.v1 import metadata_pb2
from krake.kubernetes.v1 import kubernetes_pb2
from krake_controllers.kubernetes_cluster import health
from krake_controllers.kubernetes_cluster.monitor import Observation, Problem

Cluster = kubernetes_pb2.Cluster
State = Cluster.Status.State
OWNED: Final = frozenset(
    {
        State.STATE_UNSPECIFIED,
        State.PENDING,
        State.CONNECTING,
        State.ONLINE,
        State.OFFLINE,
        State.UNHEALTHY,
        State.NOTREADY,
        State.FAILING_METRICS,
    }
)


def verdict(observation: Observation) -> tuple[State.ValueType, Problem | None]:
    """CONNECTING before the first answer, OFFLINE (with why) when unreachable, else
    what the nodes say (`health.verdict`)."""
    if observation.reachable is None:
        return State.CONNECTING, None
    if not observation.reachable:
        return State.OFFLINE, observation.problem
    found = health.verdict(observation.nodes)
    if found.state == State.ONLINE:
        return State.ONLINE, None
    return found.state, Problem(metadata_pb2.Reason.KUBERNETES_ERROR, found.message)


def desired(cluster: Cluster, observation: Observation) -> Cluster.Status:
    """`cluster.status` updated with `observation` (see the module docstring)."""
    status = Cluster.Status()
    status.CopyFrom(cluster.status)
    if observation.reachable is None and status.observed_generation == cluster.metadata.generation:
        return status  # a restarted controller (or a new leader) has not asked yet
    state, problem = verdict(observation)
    if status.state in OWNED:
        if not (state == State.ONLINE and status.state == State.FAILING_METRICS):
            status.state = state
        if problem is None:
            status.ClearField("reason")
        else:
            status.reason.code, status.reason.message = problem.code, problem.message
    if observation.reachable is not None:
        del status.nodes[:]
        status.nodes.extend(health.to_proto(observation.nodes))
    wanted = frozenset(cluster.spec.custom_resources)
    if observation.wanted == wanted:
        if observation.served is not None:
            del status.custom_resources[:]
            status.custom_resources.extend(sorted(observation.served))
        if observation.reachable is not None:
            status.observed_generation = cluster.metadata.generation
    return status
