"""The StatefulSet and DaemonSet controllers, simplified.

- A StatefulSet keeps pods `<name>-0` .. `<name>-<replicas-1>` (hostname = pod name,
  subdomain = serviceName), labelled `controller-revision-hash`,
  `statefulset.kubernetes.io/pod-name` and `apps.kubernetes.io/pod-index`. All
  pods are created at once (`podManagementPolicy` is treated as Parallel); pods of an
  older template revision are deleted and recreated, all together; ordinals beyond
  `replicas` are deleted. No PersistentVolumeClaims are made from
  `volumeClaimTemplates`.
- A DaemonSet keeps one pod per node whose labels match the template's
  `nodeSelector` (taints and affinity are ignored; NotReady nodes count too), bound
  to that node directly; pods of an older template revision are recreated.
- Status fields as Kubernetes reports them; `available` means ready.
"""

from __future__ import annotations

from typing import Final

from krake_testing.kube import context, selectors, templates
from krake_testing.kube.context import Context
from krake_testing.kube.store import Object

REVISION_LABEL: Final = "controller-revision-hash"


def _revision(owner: Object) -> str:
    return f"{owner['metadata']['name']}-{templates.template_hash(owner['spec']['template'])}"


def _live(ctx: Context, owner: Object) -> list[Object]:
    return [p for p in ctx.owned("Pod", owner) if not context.deleting(p)]


def _member(ctx: Context, sts: Object, index: int, revision: str) -> Object:
    """Pod `<name>-<index>` of a StatefulSet."""
    pod_name = f"{sts['metadata']['name']}-{index}"
    labels = {
        REVISION_LABEL: revision,
        "statefulset.kubernetes.io/pod-name": pod_name,
        "apps.kubernetes.io/pod-index": str(index),
    }
    spec = {"hostname": pod_name, "subdomain": sts["spec"].get("serviceName", "")}
    kind = ctx.kind("StatefulSet")
    return templates.pod_from(
        sts["spec"]["template"], kind, sts, name=pod_name, labels=labels, spec=spec
    )


def stateful_set(ctx: Context, sts: Object) -> None:
    if context.deleting(sts):
        return
    name, namespace = sts["metadata"]["name"], sts["metadata"]["namespace"]
    revision, want = _revision(sts), sts["spec"].get("replicas", 1)
    pods = {p["metadata"]["name"]: p for p in _live(ctx, sts)}
    for index in range(want):
        pod = pods.get(f"{name}-{index}")
        if pod is None:
            ctx.create("Pod", namespace, _member(ctx, sts, index, revision))
        elif pod["metadata"]["labels"].get(REVISION_LABEL) != revision:
            ctx.delete("Pod", pod)
    for pod_name, pod in pods.items():
        if int(pod_name.rpartition("-")[2] or 0) >= want:
            ctx.delete("Pod", pod)
    current = [p for p in pods.values() if p["metadata"]["labels"].get(REVISION_LABEL) == revision]
    ready = sum(1 for p in pods.values() if context.is_ready(p))
    status = {
        "observedGeneration": sts["metadata"]["generation"],
        "replicas": len(pods),
        "readyReplicas": ready,
        "currentReplicas": len(current),
        "updatedReplicas": len(current),
        "availableReplicas": ready,
        "currentRevision": revision,
        "updateRevision": revision,
        "collisionCount": 0,
    }
    zeros = ("readyReplicas", "currentReplicas", "updatedReplicas")
    ctx.set_status("StatefulSet", sts, context.drop_zeros(status, *zeros))


def daemon_set(ctx: Context, ds: Object) -> None:
    if context.deleting(ds):
        return
    revision = _revision(ds)
    wanted = selectors.match_labels(
        {"matchLabels": ds["spec"]["template"]["spec"].get("nodeSelector") or {}}
    )
    nodes = [n["metadata"]["name"] for n in ctx.items("Node") if wanted(n)]
    pods = _live(ctx, ds)
    placed = {p["spec"].get("nodeName"): p for p in pods}
    for pod in pods:
        stale = pod["metadata"]["labels"].get(REVISION_LABEL) != revision
        if stale or pod["spec"].get("nodeName") not in nodes:
            ctx.delete("Pod", pod)
    for node in nodes:
        if node not in placed:
            made = templates.pod_from(
                ds["spec"]["template"],
                ctx.kind("DaemonSet"),
                ds,
                labels={REVISION_LABEL: revision},
                spec={"nodeName": node},
            )
            ctx.create("Pod", ds["metadata"]["namespace"], made)
    current = [p for p in pods if p["metadata"]["labels"].get(REVISION_LABEL) == revision]
    ready = sum(1 for p in pods if context.is_ready(p))
    status = {
        "observedGeneration": ds["metadata"]["generation"],
        "desiredNumberScheduled": len(nodes),
        "currentNumberScheduled": len([p for p in pods if p["spec"].get("nodeName") in nodes]),
        "numberMisscheduled": len([p for p in pods if p["spec"].get("nodeName") not in nodes]),
        "numberReady": ready,
        "updatedNumberScheduled": len(current),
        "numberAvailable": ready,
        "numberUnavailable": max(len(nodes) - ready, 0),
    }
    zeros = ("updatedNumberScheduled", "numberAvailable", "numberUnavailable")
    ctx.set_status("DaemonSet", ds, context.drop_zeros(status, *zeros))
