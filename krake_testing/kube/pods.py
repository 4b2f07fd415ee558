"""The simulated scheduler and kubelet: how a Pod moves through its phases.

Rules (times count from when the kubelet first sees the pod bound to a node):
- scheduling: an unbound pod goes to the Ready, schedulable node matching its
  `nodeSelector` that runs the fewest pods (ties by name); with none it stays Pending
  with `PodScheduled=False, reason Unschedulable` until a node qualifies;
- creating, for `ready_delay`: phase Pending, containers waiting `ContainerCreating`;
- restartPolicy Always: then Running, containers running and ready, conditions
  Initialized/ContainersReady/Ready/PodScheduled all True;
- restartPolicy Never or OnFailure (batch pods): Running for `completion_delay`, then
  Succeeded with every container terminated (exit code 0, reason Completed);
- crash loop injected (see `faults`): restartPolicy Always/OnFailure pods run with
  containers waiting `CrashLoopBackOff`, `lastState.terminated` exit code 1,
  restartCount rising by one every `restart_interval` (linearly, no back-off growth),
  Ready and ContainersReady False; restartPolicy Never pods end Failed (exit code 1);
  healing lets the containers run again (restartCount keeps its value);
- node NotReady (or gone): the pod's Ready condition turns False (reason
  NodeNotReady) while its containers keep their state, as the node lifecycle
  controller does; nothing is evicted;
- Succeeded and Failed are final. Deleting a pod removes it at once (grace period 0).
Not modelled: init containers, probes, resource requests, taints and tolerations,
images that fail to pull, container logs and exec.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable, Mapping
from typing import Any, Final

from krake_testing.kube import context, selectors
from krake_testing.kube.context import Context, PodClock
from krake_testing.kube.store import Object


def _digest(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


def node_ready(node: Mapping[str, Any] | None) -> bool:
    conditions = (node or {}).get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _schedule(ctx: Context, pod: Object) -> None:
    nodes = ctx.items("Node")
    wanted = selectors.match_labels({"matchLabels": pod["spec"].get("nodeSelector") or {}})
    fit = [n for n in nodes if node_ready(n) and not n["spec"].get("unschedulable") and wanted(n)]
    if not fit:
        scheduled = context.condition(
            pod["status"].get("conditions"),
            "PodScheduled",
            False,
            "Unschedulable",
            f"0/{len(nodes)} nodes are available.",
        )
        ctx.set_status("Pod", pod, {**pod["status"], "phase": "Pending", "conditions": [scheduled]})
        return
    load = {n["metadata"]["name"]: 0 for n in fit}
    for other in ctx.items("Pod"):
        node = other["spec"].get("nodeName")
        if node in load:
            load[node] += 1
    chosen = min(load, key=lambda name: (load[name], name))
    bound = copy.deepcopy(pod)
    bound["spec"]["nodeName"] = chosen
    ctx.update("Pod", pod, bound)


def _state(ctx: Context, pod: Object, clock: PodClock) -> str:
    """The pod's state now; asks for a sweep when it will next change by itself."""
    phase = pod["status"].get("phase")
    if phase in ("Succeeded", "Failed"):
        return str(phase).lower()
    now, timing = ctx.clock(), ctx.timing
    running_at = clock.seen + timing.ready_delay
    if now < running_at:
        ctx.wake_at(running_at)
        return "creating"
    policy = pod["spec"].get("restartPolicy", "Always")
    if ctx.faults.crash_looping(ctx.owner_chain(pod)):
        if policy == "Never":
            return "failed"
        clock.crashing_since = clock.crashing_since or now
        ctx.wake_at(
            now + timing.restart_interval - (now - clock.crashing_since) % timing.restart_interval
        )
        return "crashing"
    if clock.crashing_since is not None:
        clock.restarts = _restarts(ctx, clock)
        clock.crashing_since = None
    if policy == "Always":
        return "running"
    done_at = running_at + timing.completion_delay
    if now < done_at:
        ctx.wake_at(done_at)
        return "running"
    return "succeeded"


def _restarts(ctx: Context, clock: PodClock) -> int:
    if clock.crashing_since is None:
        return clock.restarts
    elapsed = ctx.clock() - clock.crashing_since
    return clock.restarts + 1 + int(elapsed / max(ctx.timing.restart_interval, 1e-3))


def _terminated(clock: PodClock, code: int, reason: str) -> Object:
    return {
        "terminated": {
            "exitCode": code,
            "reason": reason,
            "startedAt": clock.mark("running"),
            "finishedAt": clock.mark(f"exit-{code}"),
        }
    }


# state -> (phase, containers ready, container `state` built from the pod clock)
STATES: Final[Mapping[str, tuple[str, bool, Callable[[PodClock], Object]]]] = {
    "creating": ("Pending", False, lambda c: {"waiting": {"reason": "ContainerCreating"}}),
    "running": ("Running", True, lambda c: {"running": {"startedAt": c.mark("running")}}),
    "succeeded": ("Succeeded", False, lambda c: _terminated(c, 0, "Completed")),
    "failed": ("Failed", False, lambda c: _terminated(c, 1, "Error")),
    "crashing": (
        "Running",
        False,
        lambda c: {
            "waiting": {
                "reason": "CrashLoopBackOff",
                "message": "back-off restarting failed container",
            }
        },
    ),
}
READY_REASONS: Final = {"succeeded": "PodCompleted", "failed": "PodFailed"}


def _container(ctx: Context, pod: Object, clock: PodClock, spec: Object, state: str) -> Object:
    _, ready, make = STATES[state]
    image = str(spec.get("image", ""))
    status: Object = {
        "name": spec.get("name", ""),
        "image": image,
        "imageID": "" if state == "creating" else f"sha256:{_digest(image)}",
        "ready": ready,
        "restartCount": _restarts(ctx, clock),
        "started": state == "running",
        "state": make(clock),
    }
    if state != "creating":
        status["containerID"] = f"containerd://{_digest(pod['metadata']['uid'], status['name'])}"
    if state == "crashing" or status["restartCount"]:
        status["lastState"] = _terminated(clock, 1, "Error")
    return status


def _conditions(pod: Object, state: str, node_is_ready: bool) -> list[Object]:
    existing = pod["status"].get("conditions")
    containers_ready = STATES[state][1]
    ready = containers_ready and node_is_ready
    reason = READY_REASONS.get(state, "ContainersNotReady" if not containers_ready else "")
    if containers_ready and not node_is_ready:
        reason = "NodeNotReady"
    return [
        context.condition(existing, "Initialized", True),
        context.condition(existing, "Ready", ready, "" if ready else reason),
        context.condition(
            existing, "ContainersReady", containers_ready, "" if containers_ready else reason
        ),
        context.condition(existing, "PodScheduled", True),
    ]


def _address(ctx: Context, pod: Object, state: str) -> dict[str, Any]:
    if state == "creating":
        return {}
    ip = pod["status"].get("podIP")
    if not ip:
        index = next(ctx.addresses)
        ip = f"10.244.{index // 250}.{index % 250 + 1}"
    return {"podIP": ip, "podIPs": [{"ip": ip}]}


def reconcile(ctx: Context, pod: Object) -> None:
    """Schedule `pod`, or bring its status to what the kubelet would report now."""
    if context.deleting(pod):
        return
    node_name = pod["spec"].get("nodeName")
    if not node_name:
        _schedule(ctx, pod)
        return
    clock = ctx.pods.setdefault(pod["metadata"]["uid"], PodClock(ctx.clock()))
    state = _state(ctx, pod, clock)
    node = ctx.api.store.get(ctx.kind("Node").resource, ("", node_name))
    host = next(iter(a["address"] for a in (node or {}).get("status", {}).get("addresses", [])), "")
    containers = [_container(ctx, pod, clock, c, state) for c in pod["spec"].get("containers", [])]
    status: Object = {
        "phase": STATES[state][0],
        "conditions": _conditions(pod, state, node_ready(node)),
        "hostIP": host,
        "hostIPs": [{"ip": host}],
        **_address(ctx, pod, state),
        "startTime": clock.mark("started"),
        "containerStatuses": containers,
        "qosClass": pod["status"].get("qosClass", "BestEffort"),
    }
    ctx.set_status("Pod", pod, status)
