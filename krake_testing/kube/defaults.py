"""Defaulting, as the API server does on every write: a table from kind to a function
that fills the fields Kubernetes fills, plus the initial `status` of a new object.

Modelled defaults: pod specs (also inside templates) get restartPolicy, dnsPolicy,
schedulerName, terminationGracePeriodSeconds, securityContext and, per container,
imagePullPolicy, terminationMessagePath/-Policy, resources and port protocols; Pods get
serviceAccountName `default`; Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs
and CronJobs get their replica counts, strategies and history limits; Jobs get the
generated selector and labels (`batch.kubernetes.io/controller-uid`, `job-name`);
Services get type ClusterIP, a cluster IP from 10.96.0.0/16, TCP ports with
targetPort = port and, for NodePort/LoadBalancer, a nodePort from 30000-32767 (kept
across updates that omit them); Namespaces get the `kubernetes` finalizer and the
`kubernetes.io/metadata.name` label; Secrets get type Opaque and `stringData` folded
into base64 `data`. Everything else is stored as sent.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol

Object = dict[str, Any]


class Allocator(Protocol):
    """Cluster-wide allocations a Service needs (unique within one fake cluster)."""

    def cluster_ip(self) -> str: ...

    def node_port(self) -> int: ...


def pod_spec(spec: Object, *, restart: str | None = "Always") -> None:
    if restart:
        spec.setdefault("restartPolicy", restart)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("securityContext", {})
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if not isinstance(container, dict):
            continue
        image = str(container.get("image", ""))
        tagged = ":" in image.rpartition("/")[2] and not image.endswith(":latest")
        container.setdefault("imagePullPolicy", "IfNotPresent" if tagged else "Always")
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        container.setdefault("resources", {})
        for port in container.get("ports") or []:
            port.setdefault("protocol", "TCP")


def _template(obj: Object, *, restart: str | None = "Always") -> Object:
    template: Object = obj.setdefault("spec", {}).setdefault("template", {})
    pod_spec(template.setdefault("spec", {}), restart=restart)
    return template


def _pod(obj: Object, old: Object | None, allocate: Allocator) -> None:
    spec = obj.setdefault("spec", {})
    pod_spec(spec)
    spec.setdefault("serviceAccountName", "default")
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("priority", 0)


def _deployment(obj: Object, old: Object | None, allocate: Allocator) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    strategy = spec.setdefault("strategy", {"type": "RollingUpdate"})
    if strategy.get("type") == "RollingUpdate":
        strategy.setdefault("rollingUpdate", {"maxSurge": "25%", "maxUnavailable": "25%"})
    _template(obj)


def _replica_set(obj: Object, old: Object | None, allocate: Allocator) -> None:
    obj.setdefault("spec", {}).setdefault("replicas", 1)
    _template(obj)


def _stateful_set(obj: Object, old: Object | None, allocate: Allocator) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("podManagementPolicy", "OrderedReady")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
    _template(obj)


def _daemon_set(obj: Object, old: Object | None, allocate: Allocator) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault(
        "updateStrategy",
        {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
    )
    _template(obj)


def job_spec(spec: Object, meta: Mapping[str, Any]) -> None:
    spec.setdefault("parallelism", 1)
    spec.setdefault("completions", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    template = spec.setdefault("template", {})
    pod_spec(template.setdefault("spec", {}), restart=None)
    if meta.get("uid") and not spec.get("manualSelector"):
        uid, name = meta["uid"], meta.get("name", "")
        generated = {
            "batch.kubernetes.io/controller-uid": uid,
            "batch.kubernetes.io/job-name": name,
            "controller-uid": uid,
            "job-name": name,
        }
        template.setdefault("metadata", {}).setdefault("labels", {}).update(generated)
        spec.setdefault("selector", {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}})


def _job(obj: Object, old: Object | None, allocate: Allocator) -> None:
    job_spec(obj.setdefault("spec", {}), obj.get("metadata", {}))


def _cron_job(obj: Object, old: Object | None, allocate: Allocator) -> None:
    spec = obj.setdefault("spec", {})
    for key, value in (
        ("concurrencyPolicy", "Allow"),
        ("suspend", False),
        ("successfulJobsHistoryLimit", 3),
        ("failedJobsHistoryLimit", 1),
    ):
        spec.setdefault(key, value)
    job = spec.setdefault("jobTemplate", {}).setdefault("spec", {})
    pod_spec(job.setdefault("template", {}).setdefault("spec", {}), restart=None)


def _service(obj: Object, old: Object | None, allocate: Allocator) -> None:
    spec = obj.setdefault("spec", {})
    before = (old or {}).get("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if spec["type"] != "ExternalName":
        spec.setdefault("clusterIP", before.get("clusterIP") or allocate.cluster_ip())
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
    exposed = spec["type"] in ("NodePort", "LoadBalancer")
    if exposed:
        spec.setdefault("externalTrafficPolicy", "Cluster")
    previous = {p.get("port"): p for p in before.get("ports") or []}
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        port.setdefault("targetPort", port.get("port"))
        if exposed and "nodePort" not in port:
            kept = previous.get(port.get("port"), {}).get("nodePort")
            port["nodePort"] = kept or allocate.node_port()


def _namespace(obj: Object, old: Object | None, allocate: Allocator) -> None:
    obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    name = obj.get("metadata", {}).get("name", "")
    labels = obj.setdefault("metadata", {}).setdefault("labels", {})
    labels.setdefault("kubernetes.io/metadata.name", name)


def _secret(obj: Object, old: Object | None, allocate: Allocator) -> None:
    obj.setdefault("type", "Opaque")
    plain = obj.pop("stringData", None) or {}
    data = obj.setdefault("data", {}) if plain else obj.get("data", {})
    for key, value in plain.items():
        data[key] = base64.b64encode(str(value).encode()).decode()


def _claim(obj: Object, old: Object | None, allocate: Allocator) -> None:
    obj.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")


DEFAULTS: Final[Mapping[str, Callable[[Object, Object | None, Allocator], None]]] = {
    "Pod": _pod,
    "Deployment": _deployment,
    "ReplicaSet": _replica_set,
    "StatefulSet": _stateful_set,
    "DaemonSet": _daemon_set,
    "Job": _job,
    "CronJob": _cron_job,
    "Service": _service,
    "Namespace": _namespace,
    "Secret": _secret,
    "PersistentVolumeClaim": _claim,
}

# A new object's status: Go serialises integer fields without `omitempty` even when 0.
INITIAL_STATUS: Final[Mapping[str, Object]] = {
    "Pod": {"phase": "Pending", "qosClass": "BestEffort"},
    "ReplicaSet": {"replicas": 0},
    "StatefulSet": {"replicas": 0, "availableReplicas": 0},
    "DaemonSet": {
        "currentNumberScheduled": 0,
        "desiredNumberScheduled": 0,
        "numberMisscheduled": 0,
        "numberReady": 0,
    },
    "HorizontalPodAutoscaler": {"currentReplicas": 0, "desiredReplicas": 0},
    "PodDisruptionBudget": {
        "currentHealthy": 0,
        "desiredHealthy": 0,
        "disruptionsAllowed": 0,
        "expectedPods": 0,
    },
    "Namespace": {"phase": "Active"},
    "PersistentVolumeClaim": {"phase": "Pending"},
    "Service": {"loadBalancer": {}},
}


def apply_defaults(kind_name: str, obj: Object, old: Object | None, allocate: Allocator) -> None:
    """Fill `obj` in place with the defaults of a built-in kind `kind_name`."""
    fill = DEFAULTS.get(kind_name)
    if fill is not None:
        fill(obj, old, allocate)
