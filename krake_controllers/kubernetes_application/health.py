"""How healthy one Kubernetes object is, by kind: one row per workload kind.

`HEALTH[kind](obj)` reads the object's own status, as Kubernetes' controllers
write it, into a `Health`:
- Deployment, ReplicaSet, StatefulSet: desired `spec.replicas` (default 1), ready
  `status.readyReplicas`, current once `status.observedGeneration` has caught up
  with `metadata.generation`.
- DaemonSet: desired `status.desiredNumberScheduled`, ready `status.numberReady`.
- Job: finished once a `Complete` condition is True, failed on a `Failed` one.
- Pod: ready when Running with a Ready condition; a Pod with restartPolicy Never
  finishes when it Succeeded.
Kinds without a row (ConfigMaps, Services, ...) are healthy as soon as they exist.

`pods(pods)` counts the application's Pods into container health: running (Ready),
completed (Succeeded), failed (Failed, or a container waiting in CrashLoopBackOff
or with restarts after a failure).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final


@dataclass(frozen=True, slots=True)
class Health:
    desired: int = 0
    ready: int = 0
    current: bool = True  # the object's controller has seen its latest spec
    completable: bool = False  # a run-to-completion workload (Job, restartPolicy Never Pod)
    finished: bool = False  # ... which has completed
    failed: bool = False  # ... which has failed for good

    @property
    def healthy(self) -> bool:
        if self.completable:
            return not self.failed
        return self.current and self.ready >= self.desired


def _condition(obj: Mapping[str, Any], kind: str) -> bool:
    conditions = obj.get("status", {}).get("conditions") or []
    return any(c.get("type") == kind and c.get("status") == "True" for c in conditions)


def _current(obj: Mapping[str, Any]) -> bool:
    observed = obj.get("status", {}).get("observedGeneration", 0)
    return bool(observed >= obj.get("metadata", {}).get("generation", 0))


def replicated(obj: Mapping[str, Any]) -> Health:
    desired = obj.get("spec", {}).get("replicas", 1)
    ready = obj.get("status", {}).get("readyReplicas", 0)
    return Health(desired=desired, ready=ready, current=_current(obj))


def daemon_set(obj: Mapping[str, Any]) -> Health:
    status = obj.get("status", {})
    desired = status.get("desiredNumberScheduled", 0)
    current = _current(obj) and "desiredNumberScheduled" in status
    return Health(desired=desired, ready=status.get("numberReady", 0), current=current)


def job(obj: Mapping[str, Any]) -> Health:
    desired = obj.get("spec", {}).get("completions", 1)
    succeeded = obj.get("status", {}).get("succeeded", 0)
    return Health(
        desired=desired,
        ready=succeeded,
        completable=True,
        finished=_condition(obj, "Complete"),
        failed=_condition(obj, "Failed"),
    )


def pod(obj: Mapping[str, Any]) -> Health:
    phase = obj.get("status", {}).get("phase", "")
    ready = int(phase == "Running" and _condition(obj, "Ready"))
    if obj.get("spec", {}).get("restartPolicy") == "Never":
        return Health(
            desired=1,
            ready=int(phase == "Succeeded"),
            completable=True,
            finished=phase == "Succeeded",
            failed=phase == "Failed",
        )
    return Health(desired=1, ready=ready)


HEALTH: Final[Mapping[str, Callable[[Mapping[str, Any]], Health]]] = {
    "Deployment": replicated,
    "ReplicaSet": replicated,
    "StatefulSet": replicated,
    "DaemonSet": daemon_set,
    "Job": job,
    "Pod": pod,
}


def of(obj: Mapping[str, Any]) -> Health:
    row = HEALTH.get(obj.get("kind", ""))
    return Health() if row is None else row(obj)


@dataclass(frozen=True, slots=True)
class PodCounts:
    running: int = 0
    completed: int = 0
    failed: int = 0


def _crashing(pod: Mapping[str, Any]) -> bool:
    for container in pod.get("status", {}).get("containerStatuses") or []:
        waiting = container.get("state", {}).get("waiting") or {}
        if waiting.get("reason") in ("CrashLoopBackOff", "Error", "ImagePullBackOff"):
            return True
    return False


def pods(items: Iterable[Mapping[str, Any]]) -> PodCounts:
    running = completed = failed = 0
    for item in items:
        phase = item.get("status", {}).get("phase", "")
        if phase == "Succeeded":
            completed += 1
        elif phase == "Failed" or _crashing(item):
            failed += 1
        elif phase == "Running" and _condition(item, "Ready"):
            running += 1
    return PodCounts(running, completed, failed)
