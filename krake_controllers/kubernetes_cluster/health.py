"""What a member cluster's nodes say about it: pure functions over plain node objects.

A cluster is NOTREADY when it has no node or a node whose `Ready` condition is not
"True" (False or Unknown), else UNHEALTHY when a node reports a `*Pressure`
condition (MemoryPressure, DiskPressure, PIDPressure, ...) as "True", else ONLINE.
NOTREADY wins over UNHEALTHY: a node that cannot run pods matters more than one
that runs them under pressure. Only the fields that make up `status.nodes` are
kept (type, status, reason, message, last transition): heartbeats that change
nothing else never reach the API.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from krake.kubernetes.v1 import kubernetes_pb2

State = kubernetes_pb2.Cluster.Status.State


@dataclass(frozen=True, slots=True)
class Condition:
    type: str
    status: str
    reason: str = ""
    message: str = ""
    last_transition: str = ""  # RFC 3339, as the cluster sent it


@dataclass(frozen=True, slots=True)
class Node:
    name: str
    conditions: tuple[Condition, ...] = ()

    def condition(self, type_: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == type_), None)


@dataclass(frozen=True, slots=True)
class Verdict:
    state: State.ValueType
    message: str = ""  # why, when the state is not ONLINE


def node_of(obj: Mapping[str, Any]) -> Node:
    """The `Node` of a Kubernetes Node object (a dict as the API serves it)."""
    conditions = (obj.get("status") or {}).get("conditions") or ()
    return Node(
        name=str(obj.get("metadata", {}).get("name", "")),
        conditions=tuple(
            Condition(
                type=str(c.get("type", "")),
                status=str(c.get("status", "")),
                reason=str(c.get("reason") or ""),
                message=str(c.get("message") or ""),
                last_transition=str(c.get("lastTransitionTime") or ""),
            )
            for c in conditions
        ),
    )


def verdict(nodes: Iterable[Node]) -> Verdict:
    """The cluster state its nodes call for (see the module docstring)."""
    nodes = sorted(nodes, key=lambda n: n.name)
    if not nodes:
        return Verdict(State.NOTREADY, "the cluster has no nodes")
    for node in nodes:
        ready = node.condition("Ready")
        if ready is None or ready.status != "True":
            why = f": {ready.reason}" if ready is not None and ready.reason else ""
            return Verdict(State.NOTREADY, f"node {node.name} is not Ready{why}")
    for node in nodes:
        for condition in node.conditions:
            if condition.type.endswith("Pressure") and condition.status == "True":
                return Verdict(State.UNHEALTHY, f"node {node.name} has {condition.type}")
    return Verdict(State.ONLINE)


def to_proto(nodes: Iterable[Node]) -> list[kubernetes_pb2.Cluster.Node]:
    """`status.nodes`, sorted by name."""
    made = []
    for node in sorted(nodes, key=lambda n: n.name):
        message = kubernetes_pb2.Cluster.Node(name=node.name)
        for condition in node.conditions:
            added = message.conditions.add(
                type=condition.type,
                status=condition.status,
                reason=condition.reason,
                message=condition.message,
            )
            if condition.last_transition:
                try:
                    added.last_transition.FromJsonString(condition.last_transition)
                except ValueError:
                    added.ClearField("last_transition")
        made.append(message)
    return made
