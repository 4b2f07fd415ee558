"""The resource types the fake API server serves: one `Kind` row per (group, version,
plural), the built-in rows as a table, and `Kinds`, the registry that CRDs extend.

Invariant: objects are stored per `Kind.resource` (group, plural), whatever version
they were written through; a CRD with several served versions has one row per version,
all sharing one resource (conversion strategy None: only `apiVersion` differs).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

OBJECT_VERBS: Final = (
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
)
SUBRESOURCE_VERBS: Final = ("get", "patch", "update")

POD_FIELDS: Final = (
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
)
EVENT_FIELDS: Final = (
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "reason",
    "type",
)


@dataclass(frozen=True, slots=True)
class Kind:
    """One served resource type at one version."""

    group: str  # "" for the core group
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()  # "status" only; others are not served
    field_labels: tuple[str, ...] = ()  # beyond metadata.name and metadata.namespace
    categories: tuple[str, ...] = ()
    builtin: bool = True  # built-ins take strategic merge patches; CRDs do not
    returns_deleted: bool = False  # DELETE answers with the object, not a Status
    schema: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def resource(self) -> tuple[str, str]:
        """The storage key shared by every version of this type."""
        return (self.group, self.plural)

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def qualified(self) -> str:
        """`deployments.apps`, `pods`: how Kubernetes names a resource in messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources


def _row(group: str, version: str, kind: str, plural: str, **options: Any) -> Kind:
    return Kind(group, version, kind, plural, **options)


STATUS: Final = ("status",)
ALL: Final = ("all",)

# fmt: off
BUILTIN: Final[tuple[Kind, ...]] = (
    _row("", "v1", "Namespace", "namespaces", namespaced=False, short_names=("ns",),
         subresources=STATUS, field_labels=("status.phase",)),
    _row("", "v1", "Node", "nodes", namespaced=False, short_names=("no",),
         subresources=STATUS, field_labels=("spec.unschedulable",)),
    _row("", "v1", "Pod", "pods", short_names=("po",), subresources=STATUS,
         field_labels=POD_FIELDS, categories=ALL, returns_deleted=True),
    _row("", "v1", "Service", "services", short_names=("svc",), subresources=STATUS,
         field_labels=("spec.clusterIP", "spec.type"), categories=ALL, returns_deleted=True),
    _row("", "v1", "ConfigMap", "configmaps", short_names=("cm",)),
    _row("", "v1", "Secret", "secrets", field_labels=("type",)),
    _row("", "v1", "ServiceAccount", "serviceaccounts", short_names=("sa",),
         returns_deleted=True),
    _row("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", short_names=("pvc",),
         subresources=STATUS, returns_deleted=True),
    _row("", "v1", "PersistentVolume", "persistentvolumes", namespaced=False,
         short_names=("pv",), subresources=STATUS, returns_deleted=True),
    _row("", "v1", "Endpoints", "endpoints", short_names=("ep",)),
    _row("", "v1", "Event", "events", short_names=("ev",), field_labels=EVENT_FIELDS),
    _row("", "v1", "LimitRange", "limitranges", short_names=("limits",)),
    _row("", "v1", "ResourceQuota", "resourcequotas", short_names=("quota",),
         subresources=STATUS, returns_deleted=True),
    _row("apps", "v1", "Deployment", "deployments", short_names=("deploy",),
         subresources=STATUS, categories=ALL),
    _row("apps", "v1", "ReplicaSet", "replicasets", short_names=("rs",), subresources=STATUS,
         field_labels=("status.replicas",), categories=ALL),
    _row("apps", "v1", "StatefulSet", "statefulsets", short_names=("sts",),
         subresources=STATUS, categories=ALL),
    _row("apps", "v1", "DaemonSet", "daemonsets", short_names=("ds",), subresources=STATUS,
         categories=ALL),
    _row("apps", "v1", "ControllerRevision", "controllerrevisions"),
    _row("batch", "v1", "Job", "jobs", subresources=STATUS,
         field_labels=("status.successful",), categories=ALL),
    _row("batch", "v1", "CronJob", "cronjobs", short_names=("cj",), subresources=STATUS,
         categories=ALL),
    _row("networking.k8s.io", "v1", "Ingress", "ingresses", short_names=("ing",),
         subresources=STATUS),
    _row("networking.k8s.io", "v1", "IngressClass", "ingressclasses", namespaced=False),
    _row("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies",
         short_names=("netpol",)),
    _row("rbac.authorization.k8s.io", "v1", "Role", "roles"),
    _row("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
    _row("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", namespaced=False),
    _row("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings",
         namespaced=False),
    _row("apiextensions.k8s.io", "v1", "CustomResourceDefinition",
         "customresourcedefinitions", namespaced=False, short_names=("crd", "crds"),
         subresources=STATUS),
    _row("storage.k8s.io", "v1", "StorageClass", "storageclasses", namespaced=False,
         short_names=("sc",), returns_deleted=True),
    _row("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", short_names=("pdb",),
         subresources=STATUS),
    _row("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers",
         short_names=("hpa",), subresources=STATUS, categories=ALL),
    _row("coordination.k8s.io", "v1", "Lease", "leases"),
)
# fmt: on


def crd_kinds(crd: Mapping[str, Any]) -> list[Kind]:
    """The rows a CustomResourceDefinition serves: one per version with `served: true`."""
    spec = crd.get("spec", {})
    names = spec.get("names", {})
    rows = []
    for version in spec.get("versions", []):
        if not version.get("served", True):
            continue
        subresources = tuple(sorted(version.get("subresources") or {}))
        rows.append(
            Kind(
                group=spec["group"],
                version=version["name"],
                kind=names["kind"],
                plural=names["plural"],
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames", ())),
                subresources=tuple(s for s in subresources if s == "status"),
                categories=tuple(names.get("categories", ())),
                builtin=False,
                returns_deleted=True,
                schema=(version.get("schema") or {}).get("openAPIV3Schema", {}),
            )
        )
    return rows


class Kinds:
    """The registry: built-in rows plus the rows of every established CRD.

    Invariant: at most one row per (group, version, plural) and per (apiVersion, kind).
    """

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str, str], Kind] = {
            (k.group, k.version, k.plural): k for k in BUILTIN
        }
        self._crds: dict[str, list[Kind]] = {}

    def __iter__(self) -> Iterator[Kind]:
        return iter(self._rows.values())

    def add_crd(self, crd: Mapping[str, Any]) -> None:
        """Serve (or re-serve, after an update) the versions of `crd`."""
        self.remove_crd(crd["metadata"]["name"])
        rows = crd_kinds(crd)
        self._crds[crd["metadata"]["name"]] = rows
        self._rows.update({(k.group, k.version, k.plural): k for k in rows})

    def remove_crd(self, name: str) -> list[Kind]:
        rows = self._crds.pop(name, [])
        for row in rows:
            self._rows.pop((row.group, row.version, row.plural), None)
        return rows

    def by_path(self, group: str, version: str, plural: str) -> Kind | None:
        return self._rows.get((group, version, plural))

    def by_type(self, api_version: str, kind: str) -> Kind | None:
        group, _, version = api_version.rpartition("/")
        return next(
            (k for k in self if (k.group, k.version, k.kind) == (group, version, kind)), None
        )

    def by_resource(self, resource: tuple[str, str]) -> Kind | None:
        """The preferred (first registered) row of a stored resource."""
        return next((k for k in self if k.resource == resource), None)

    def versions(self, group: str) -> list[str]:
        """The served versions of `group`, preferred (first registered) first."""
        found = [k.version for k in self if k.group == group]
        return list(dict.fromkeys(found))

    def groups(self) -> list[str]:
        """Named groups (the core group "" excluded), in registration order."""
        return list(dict.fromkeys(k.group for k in self if k.group))

    def find(self, name: str) -> Kind:
        """Look a type up as tests name it: `Deployment`, `deployments`, `deploy`,
        `deployments.apps` or `Deployment.apps`; the preferred version wins."""
        plural, _, group = name.partition(".")
        for row in self:
            names = (row.kind, row.plural, row.singular, *row.short_names)
            if plural in names and (not group or group == row.group):
                return row
        raise KeyError(f"no resource type named {name!r}")
