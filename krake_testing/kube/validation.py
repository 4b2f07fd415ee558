"""What the fake refuses, as tables: name formats, label syntax, required fields per kind,
and whole-number fields that must not arrive as `1.0`.

Only these checks are modelled; OpenAPI schemas (built-in or a CRD's) are not enforced,
so unknown fields are stored as sent. Invalid objects raise `Invalid` (HTTP 422) with
one cause per violation; a float in an integer field raises `BadRequest` (HTTP 400), as
the Kubernetes JSON decoder does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

from krake_testing.kube import crds, errors
from krake_testing.kube.kinds import Kind

Object = dict[str, Any]

DNS_LABEL: Final = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN: Final = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
LABEL_NAME: Final = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
LABEL_VALUE: Final = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

# Kinds whose names must be DNS-1123 labels (63 characters); the rest take subdomains.
LABEL_NAMED: Final = frozenset({"Namespace", "Service"})

# Fields that hold whole numbers in every built-in type that has them (Go int32/int64).
INTEGER_FIELDS: Final = frozenset(
    {
        "replicas", "containerPort", "hostPort", "nodePort", "port", "completions",
        "parallelism", "backoffLimit", "activeDeadlineSeconds", "revisionHistoryLimit",
        "terminationGracePeriodSeconds", "minReadySeconds", "progressDeadlineSeconds",
        "initialDelaySeconds", "periodSeconds", "timeoutSeconds", "failureThreshold",
        "successThreshold", "runAsUser", "runAsGroup", "fsGroup", "defaultMode", "mode",
        "ttlSecondsAfterFinished", "successfulJobsHistoryLimit", "failedJobsHistoryLimit",
        "startingDeadlineSeconds", "priority", "weight", "number", "partition",
        "minReplicas", "maxReplicas", "expirationSeconds",
    }
)  # fmt: skip

# Paths (dots between fields) that must be present and non-empty, per kind.
POD_TEMPLATE: Final = ("spec.template.spec.containers",)
REQUIRED: Final[Mapping[str, tuple[str, ...]]] = {
    "Pod": ("spec.containers",),
    "Deployment": ("spec.selector", *POD_TEMPLATE),
    "ReplicaSet": ("spec.selector", *POD_TEMPLATE),
    "StatefulSet": ("spec.selector", *POD_TEMPLATE),
    "DaemonSet": ("spec.selector", *POD_TEMPLATE),
    "Job": POD_TEMPLATE,
    "CronJob": ("spec.schedule", "spec.jobTemplate.spec.template.spec.containers"),
    "RoleBinding": ("roleRef.kind", "roleRef.name"),
    "ClusterRoleBinding": ("roleRef.kind", "roleRef.name"),
    "CustomResourceDefinition": (
        "spec.group",
        "spec.names.plural",
        "spec.names.kind",
        "spec.scope",
        "spec.versions",
    ),
    "PersistentVolumeClaim": ("spec.accessModes",),
}


def lookup(obj: Any, path: str) -> Any:
    """The value at a dotted path, or None."""
    for part in path.split("."):
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(part)
    return obj


def check_integers(value: Any, path: str = "") -> None:
    """Refuse `1.0` where Kubernetes decodes an integer."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if key in INTEGER_FIELDS and isinstance(item, float):
                raise errors.BadRequest(
                    f"json: cannot unmarshal number {item} into Go struct field {where} "
                    "of type int32"
                )
            check_integers(item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_integers(item, f"{path}[{index}]")


def validate(kind: Kind, obj: Object) -> None:
    """Raise `Invalid` listing every violation in `obj` (a full object, after defaults)."""
    causes = [
        {"reason": "FieldValueInvalid", "message": message, "field": field}
        for field, message in _violations(kind, obj)
    ]
    if causes:
        name = obj.get("metadata", {}).get("name", "")
        summary = "; ".join(f"{c['field']}: {c['message']}" for c in causes)
        raise errors.Invalid(
            f'{kind.kind} "{name}" is invalid: {summary}',
            details={"name": name, "group": kind.group, "kind": kind.kind, "causes": causes},
        )


def _violations(kind: Kind, obj: Object) -> Iterator[tuple[str, str]]:
    for check in CHECKS:
        yield from check(kind, obj)


def _name(kind: Kind, obj: Object) -> Iterator[tuple[str, str]]:
    name = obj.get("metadata", {}).get("name")
    if not name:
        yield "metadata.name", "Required value: name or generateName is required"
        return
    label = kind.kind in LABEL_NAMED
    pattern, limit = (DNS_LABEL, 63) if label else (DNS_SUBDOMAIN, 253)
    if not isinstance(name, str) or len(name) > limit or not pattern.match(name):
        rule = "RFC 1123 label" if label else "RFC 1123 subdomain"
        yield "metadata.name", f"Invalid value: {name!r}: a lowercase {rule} must be used"
    if kind.kind == "CustomResourceDefinition":
        spec = obj.get("spec", {})
        expected = f"{lookup(spec, 'names.plural')}.{spec.get('group')}"
        if name != expected:
            yield (
                "metadata.name",
                f"Invalid value: {name!r}: must be spec.names.plural+'.'+spec.group",
            )


def _labels(kind: Kind, obj: Object) -> Iterator[tuple[str, str]]:
    labels = obj.get("metadata", {}).get("labels") or {}
    if not isinstance(labels, Mapping):
        yield "metadata.labels", "Invalid value: must be a map of strings"
        return
    for key, value in labels.items():
        prefix, _, name = key.rpartition("/")
        if (
            len(name) > 63
            or not LABEL_NAME.match(name)
            or (prefix and not DNS_SUBDOMAIN.match(prefix))
        ):
            yield "metadata.labels", f"Invalid value: {key!r}: name part must be a valid label key"
        if not isinstance(value, str) or len(value) > 63 or not LABEL_VALUE.match(value):
            yield f"metadata.labels.{key}", f"Invalid value: {value!r}: a valid label value"


def _required(kind: Kind, obj: Object) -> Iterator[tuple[str, str]]:
    for path in REQUIRED.get(kind.kind, ()) if kind.builtin else ():
        if lookup(obj, path) in (None, "", [], {}):
            yield path, "Required value"


def _containers(kind: Kind, obj: Object) -> Iterator[tuple[str, str]]:
    path = {"Pod": "spec.containers"}.get(kind.kind, "spec.template.spec.containers")
    containers = lookup(obj, path) if kind.builtin else None
    for index, container in enumerate(containers if isinstance(containers, list) else ()):
        where = f"{path}[{index}]"
        if not isinstance(container, Mapping):
            yield where, "Invalid value: must be an object"
            continue
        if not DNS_LABEL.match(str(container.get("name", ""))):
            yield f"{where}.name", "Required value: a lowercase RFC 1123 label"
        if not container.get("image"):
            yield f"{where}.image", "Required value"


def _selector(kind: Kind, obj: Object) -> Iterator[tuple[str, str]]:
    wanted = lookup(obj, "spec.selector.matchLabels")
    if kind.kind not in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet") or not wanted:
        return
    labels = lookup(obj, "spec.template.metadata.labels") or {}
    if any(labels.get(k) != v for k, v in wanted.items()):
        yield (
            "spec.template.metadata.labels",
            "Invalid value: `selector` does not match template `labels`",
        )


def _kind_rules(kind: Kind, obj: Object) -> Iterator[tuple[str, str]]:
    if not kind.builtin:
        return
    if kind.kind == "CustomResourceDefinition":
        yield from crds.version_problems(obj)
    if kind.kind == "Job":
        policy = lookup(obj, "spec.template.spec.restartPolicy")
        if policy not in ("Never", "OnFailure"):
            yield "spec.template.spec.restartPolicy", 'Required value: "OnFailure" or "Never"'


CHECKS: Final[tuple[Callable[[Kind, Object], Iterator[tuple[str, str]]], ...]] = (
    _name,
    _labels,
    _required,
    _containers,
    _selector,
    _kind_rules,
)
