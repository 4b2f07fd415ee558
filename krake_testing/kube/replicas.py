"""The Deployment and ReplicaSet controllers, simplified.

- A Deployment owns one ReplicaSet per template revision, named
  `<deployment>-<template hash>` and labelled `pod-template-hash`; the current one is
  scaled to `spec.replicas` and all others to 0 at once (no surge, no pacing: a
  rollout replaces every pod together). Both carry the
  `deployment.kubernetes.io/revision` annotation.
- Deployment status: replicas, updatedReplicas, readyReplicas, availableReplicas and
  unavailableReplicas summed over its ReplicaSets (zeros left out, as Go's omitempty
  does), observedGeneration, and conditions `Available` (available >= replicas -
  maxUnavailable, rounded down from a percentage) and `Progressing`
  (NewReplicaSetAvailable once every replica is updated and available, else
  ReplicaSetUpdated). `progressDeadlineSeconds`, `paused` and `minReadySeconds` are
  not modelled (available means ready).
- A ReplicaSet keeps `spec.replicas` live pods, deleting the newest first.
"""

from __future__ import annotations

import copy
import math
from typing import Any, Final

from krake_testing.kube import context, templates
from krake_testing.kube.context import Context
from krake_testing.kube.store import Object

REVISION: Final = "deployment.kubernetes.io/revision"
HASH: Final = "pod-template-hash"
TERMINAL: Final = ("Succeeded", "Failed")
ZERO_OMITTED: Final = (
    "replicas",
    "updatedReplicas",
    "readyReplicas",
    "availableReplicas",
    "unavailableReplicas",
)


def replica_set(ctx: Context, rs: Object) -> None:
    if context.deleting(rs):
        return
    want = rs["spec"].get("replicas", 1)
    pods = [
        p
        for p in ctx.owned("Pod", rs)
        if not context.deleting(p) and p["status"].get("phase") not in TERMINAL
    ]
    for _ in range(want - len(pods)):
        pod = templates.pod_from(rs["spec"]["template"], ctx.kind("ReplicaSet"), rs)
        ctx.create("Pod", rs["metadata"]["namespace"], pod)
    newest = sorted(pods, key=lambda p: (p["metadata"]["creationTimestamp"], p["metadata"]["name"]))
    surplus = newest[want:] if want < len(pods) else []
    for pod in surplus:
        ctx.delete("Pod", pod)
    kept = newest[: len(pods) - len(surplus)]
    ready = sum(1 for p in kept if context.is_ready(p))
    status = {
        "replicas": len(kept),
        "fullyLabeledReplicas": len(kept),
        "readyReplicas": ready,
        "availableReplicas": ready,
        "observedGeneration": rs["metadata"]["generation"],
    }
    zeros = ("fullyLabeledReplicas", "readyReplicas", "availableReplicas")
    ctx.set_status("ReplicaSet", rs, context.drop_zeros(status, *zeros))


def _new_replica_set(ctx: Context, deploy: Object, digest: str, revision: int) -> Object:
    spec, template = deploy["spec"], copy.deepcopy(deploy["spec"]["template"])
    labels = {**(template.get("metadata", {}).get("labels") or {}), HASH: digest}
    template.setdefault("metadata", {})["labels"] = labels
    selector = copy.deepcopy(spec["selector"])
    selector["matchLabels"] = {**(selector.get("matchLabels") or {}), HASH: digest}
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{deploy['metadata']['name']}-{digest}",
            "labels": labels,
            "annotations": {REVISION: str(revision)},
            "ownerReferences": [context.controller_ref(ctx.kind("Deployment"), deploy)],
        },
        "spec": {"replicas": spec.get("replicas", 1), "selector": selector, "template": template},
    }


def _scale(ctx: Context, rs: Object, replicas: int) -> None:
    if rs["spec"].get("replicas") != replicas:
        scaled = copy.deepcopy(rs)
        scaled["spec"]["replicas"] = replicas
        ctx.update("ReplicaSet", rs, scaled)


def deployment(ctx: Context, deploy: Object) -> None:
    if context.deleting(deploy):
        return
    digest = templates.template_hash(deploy["spec"]["template"])
    owned = ctx.owned("ReplicaSet", deploy)
    current = next(
        (rs for rs in owned if rs["metadata"].get("labels", {}).get(HASH) == digest), None
    )
    if current is None:
        revisions = [int(rs["metadata"].get("annotations", {}).get(REVISION, 0)) for rs in owned]
        made = _new_replica_set(ctx, deploy, digest, max(revisions, default=0) + 1)
        current = ctx.create("ReplicaSet", deploy["metadata"]["namespace"], made)
        if current is None:
            return
        owned.append(current)
    _scale(ctx, current, deploy["spec"].get("replicas", 1))
    for rs in owned:
        if rs is not current:
            _scale(ctx, rs, 0)
    revision = current["metadata"]["annotations"][REVISION]
    if deploy["metadata"].get("annotations", {}).get(REVISION) != revision:
        annotated = copy.deepcopy(deploy)
        annotated["metadata"].setdefault("annotations", {})[REVISION] = revision
        ctx.update("Deployment", deploy, annotated)
        return  # the status follows on the next sweep, from the stored object
    ctx.set_status("Deployment", deploy, _deployment_status(deploy, current, owned))


def _max_unavailable(deploy: Object, desired: int) -> int:
    strategy = deploy["spec"].get("strategy", {})
    if strategy.get("type") != "RollingUpdate":
        return 0
    value: Any = strategy.get("rollingUpdate", {}).get("maxUnavailable", "25%")
    if isinstance(value, str) and value.endswith("%"):
        return math.floor(desired * int(value[:-1]) / 100)
    return int(value)


def _deployment_conditions(deploy: Object, rs_name: str, minimum: bool, done: bool) -> list[Object]:
    existing = deploy["status"].get("conditions")
    available = context.condition(
        existing,
        "Available",
        minimum,
        "MinimumReplicasAvailable" if minimum else "MinimumReplicasUnavailable",
        f"Deployment {'has' if minimum else 'does not have'} minimum availability.",
        update_time=True,
    )
    progress = "has successfully progressed." if done else "is progressing."
    progressing = context.condition(
        existing,
        "Progressing",
        True,
        "NewReplicaSetAvailable" if done else "ReplicaSetUpdated",
        f'ReplicaSet "{rs_name}" {progress}',
        update_time=True,
    )
    return [available, progressing]


def _deployment_status(deploy: Object, current: Object, owned: list[Object]) -> Object:
    desired = deploy["spec"].get("replicas", 1)

    def total(field: str) -> int:
        return sum(int(rs.get("status", {}).get(field, 0)) for rs in owned)

    available, updated = total("availableReplicas"), int(current["status"].get("replicas", 0))
    minimum = available >= desired - _max_unavailable(deploy, desired)
    done = updated == desired == available == total("replicas")
    status = {
        "observedGeneration": deploy["metadata"]["generation"],
        "replicas": total("replicas"),
        "updatedReplicas": updated,
        "readyReplicas": total("readyReplicas"),
        "availableReplicas": available,
        "unavailableReplicas": max(desired - available, 0),
        "conditions": _deployment_conditions(deploy, current["metadata"]["name"], minimum, done),
    }
    return context.drop_zeros(status, *ZERO_OMITTED)
