"""The application's state, derived from what runs on its cluster.

    spec changed (generation > observed_generation) -> CREATING the first time,
                                                       RECONCILING afterwards
    every object present and healthy                -> RUNNING
        ... and every workload runs to completion, all finished -> COMPLETED
    not (yet) healthy: CREATING / RECONCILING / MIGRATING stay while they converge,
        unless a container fails (crash loop, failed Job)       -> DEGRADED
    RUNNING that stops being healthy                              -> DEGRADED

`services(objects, host)` maps each NodePort/LoadBalancer Service's name to the
address it is reachable at: the load balancer's ingress, else the cluster's
host with the node port.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from krake.kubernetes.v1 import kubernetes_pb2
from krake_controllers.kubernetes_application import health

State = kubernetes_pb2.Application.Status.State
CONVERGING: Final = frozenset({State.CREATING, State.RECONCILING, State.MIGRATING})


@dataclass(frozen=True, slots=True)
class Observed:
    """What the controller found on the cluster for one application."""

    objects: Sequence[Mapping[str, Any] | None]  # one per manifest object; None: missing
    pods: health.PodCounts
    healths: Sequence[health.Health]

    @classmethod
    def of(
        cls, objects: Sequence[Mapping[str, Any] | None], pods: Iterable[Mapping[str, Any]]
    ) -> Observed:
        healths = [health.of(obj) for obj in objects if obj is not None]
        return cls(objects, health.pods(pods), healths)

    @property
    def healthy(self) -> bool:
        return all(obj is not None for obj in self.objects) and all(h.healthy for h in self.healths)

    @property
    def completed(self) -> bool:
        workloads = [h for h in self.healths if h.desired or h.completable]
        completable = [h for h in workloads if h.completable]
        return (
            bool(completable)
            and len(completable) == len(workloads)
            and all(h.finished for h in completable)
        )

    @property
    def failing(self) -> bool:
        return self.pods.failed > 0 or any(h.failed for h in self.healths)

    def container_health(self) -> kubernetes_pb2.Application.ContainerHealth:
        return kubernetes_pb2.Application.ContainerHealth(
            desired=sum(h.desired for h in self.healths),
            running=self.pods.running,
            completed=self.pods.completed,
            failed=self.pods.failed,
        )


def state(current: int, spec_changed: bool, first: bool, observed: Observed) -> int:
    """The next state (see the module docstring)."""
    if spec_changed:
        current = State.CREATING if first else State.RECONCILING
    if observed.healthy:
        return State.COMPLETED if observed.completed else State.RUNNING
    if current in CONVERGING and not observed.failing:
        return current
    return State.DEGRADED


def services(objects: Iterable[Mapping[str, Any] | None], host: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for obj in objects:
        if obj is None or obj.get("kind") != "Service":
            continue
        spec = obj.get("spec", {})
        ports = spec.get("ports") or []
        if spec.get("type") not in ("NodePort", "LoadBalancer") or not ports:
            continue
        ingress = (obj.get("status", {}).get("loadBalancer", {}).get("ingress")) or []
        name = obj["metadata"]["name"]
        if spec["type"] == "LoadBalancer" and ingress:
            address = ingress[0].get("ip") or ingress[0].get("hostname")
            found[name] = f"{address}:{ports[0]['port']}"
        elif ports[0].get("nodePort"):
            found[name] = f"{host}:{ports[0]['nodePort']}"
    return found
