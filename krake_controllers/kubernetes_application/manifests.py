"""The objects an Application asks for, as plain dicts, in the order to apply them.

- Every manifest item needs `apiVersion`, `kind` and `metadata.name`; anything else
  is an `InvalidManifest` (terminal: retrying cannot fix the user's input).
- Apply order follows Helm's install order (the dependency order of the common
  kinds): Namespaces and CRDs first, then what workloads reference (quotas,
  service accounts, secrets, config, storage, RBAC), then Services, then workloads;
  unknown kinds (custom resources) last. Deletion runs the order backwards.
- Every applied object carries the label `krake.io/application-uid` (also on pod
  templates, so the application's Pods are found by one label selector): the
  member-cluster watches select Krake's objects by it, and map events back to
  their application.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

APP_LABEL: Final = "krake.io/application-uid"

ORDER: Final[Mapping[str, int]] = {
    kind: rank
    for rank, kind in enumerate(
        (
            "Namespace",
            "CustomResourceDefinition",
            "PriorityClass",
            "NetworkPolicy",
            "ResourceQuota",
            "LimitRange",
            "PodSecurityPolicy",
            "PodDisruptionBudget",
            "ServiceAccount",
            "Secret",
            "ConfigMap",
            "StorageClass",
            "PersistentVolume",
            "PersistentVolumeClaim",
            "ClusterRole",
            "ClusterRoleBinding",
            "Role",
            "RoleBinding",
            "Service",
            "DaemonSet",
            "Pod",
            "ReplicationController",
            "ReplicaSet",
            "Deployment",
            "HorizontalPodAutoscaler",
            "StatefulSet",
            "Job",
            "CronJob",
            "IngressClass",
            "Ingress",
            "APIService",
        )
    )
}
TEMPLATE_PATHS: Final[Mapping[str, tuple[str, ...]]] = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}
"""Where each workload kind keeps its pod template."""


class InvalidManifest(Exception):
    """The manifest cannot be applied as written."""


@dataclass(frozen=True, slots=True, order=True)
class Ref:
    """One object on a member cluster (namespace empty for cluster-scoped kinds)."""

    api_version: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> Ref:
        meta = obj.get("metadata", {})
        return cls(obj["apiVersion"], obj["kind"], meta.get("namespace", ""), meta["name"])

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"


def rank(obj: Mapping[str, Any]) -> int:
    return ORDER.get(obj["kind"], len(ORDER))


def check(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The manifest items (fresh dicts, which the functions below change in place),
    or InvalidManifest naming the first bad one."""
    checked: list[dict[str, Any]] = []
    seen: set[tuple[str, str, str, str]] = set()
    for index, item in enumerate(items):
        meta = item.get("metadata")
        if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
            raise InvalidManifest(f"manifest[{index}] has no metadata.name")
        for field in ("apiVersion", "kind"):
            if not isinstance(item.get(field), str) or not item[field]:
                raise InvalidManifest(f"manifest[{index}] has no {field}")
        identity = (item["apiVersion"], item["kind"], meta.get("namespace", ""), meta["name"])
        if identity in seen:
            raise InvalidManifest(f"manifest[{index}] repeats {item['kind']} {meta['name']}")
        seen.add(identity)
        checked.append(dict(item))
    return checked


def ordered(objects: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Apply order (stable within one rank)."""
    return sorted(objects, key=rank)


def placed(new: dict[str, Any], namespace: str, namespaced: bool) -> dict[str, Any]:
    """`new` (changed in place) with its namespace filled in (namespaced kinds) or
    removed (cluster-scoped)."""
    meta = new.setdefault("metadata", {})
    if namespaced:
        meta.setdefault("namespace", namespace)
    else:
        meta.pop("namespace", None)
    return new


def labelled(new: dict[str, Any], uid: str) -> dict[str, Any]:
    """`new` (changed in place) with the application label on it and on its pod
    template, if any."""
    new.setdefault("metadata", {}).setdefault("labels", {})[APP_LABEL] = uid
    template = pod_template(new)
    if template is not None:
        template.setdefault("metadata", {}).setdefault("labels", {})[APP_LABEL] = uid
    return new


def pod_template(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The pod template inside a workload (the object itself for a Pod), or None."""
    if obj.get("kind") == "Pod":
        return obj
    node: Any = obj
    for step in TEMPLATE_PATHS.get(obj.get("kind", ""), ()):
        if not isinstance(node, dict):
            return None
        node = node.setdefault(step, {})
    return node if isinstance(node, dict) and node is not obj else None
