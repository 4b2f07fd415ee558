"""A minimal valid object of every kind, and a second spec for each: data, not code.

Used by table-driven tests (one test body for every kind) and demos. `example(kind)`
builds the resource message; `changed_spec(kind)` a different valid spec.
"""

from __future__ import annotations

from typing import Any, Final

from google.protobuf import json_format
from google.protobuf.message import Message

from krake_api.registry import Kind

KUBECONFIG: Final = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443"}}],
    "users": [{"name": "u", "user": {"token": "secret"}}],
    "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
    "current-context": "ctx",
}
OPENSTACK: Final = {
    "openstack": {
        "url": "https://keystone.example:5000/v3",
        "auth": {
            "password": {
                "user": {"username": "u", "password": "p", "domain_name": "Default"},
                "project": {"name": "demo", "domain_id": "default"},
            }
        },
        "infrastructure_provider": {"name": "im"},
    }
}
METRIC: Final = {"min": 0, "max": 1, "provider": {"name": "static", "metric": "load"}}
IM: Final = {"im": {"url": "http://im.example:8800", "username": "u", "password": "p"}}

SPECS: Final[dict[str, tuple[dict[str, Any], dict[str, Any]]]] = {
    # kind: (spec, another valid spec)
    "Role": (
        {"rules": [{"api": "kubernetes", "resources": ["applications"], "verbs": ["get"]}]},
        {"rules": [{"api": "*", "resources": ["*"], "verbs": ["get", "list"]}]},
    ),
    "RoleBinding": ({"users": ["alice"], "roles": ["reader"]}, {"users": ["bob"], "roles": ["r"]}),
    "Metric": (METRIC, {**METRIC, "max": 2}),
    "GlobalMetric": (METRIC, {**METRIC, "max": 2}),
    "MetricsProvider": ({"static": {"metrics": {"load": 0.5}}}, {"static": {"metrics": {}}}),
    "GlobalMetricsProvider": (
        {"static": {"metrics": {"load": 0.5}}},
        {"prometheus": {"url": "http://prometheus.example:9090"}},
    ),
    "Lease": ({"holder": "replica-a", "duration": "15s"}, {"holder": "replica-b"}),
    "Application": (
        {
            "manifest": [
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}}
            ]
        },
        {
            "manifest": [
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "d"}, "data": {}}
            ],
            "backoff_limit": 3,
        },
    ),
    "Cluster": ({"kubeconfig": KUBECONFIG}, {"kubeconfig": KUBECONFIG, "inherit_labels": True}),
    "InfrastructureProvider": (IM, {"openstack_magnum": {}}),
    "GlobalInfrastructureProvider": (IM, {"openstack_magnum": {}}),
    "Cloud": (OPENSTACK, {"openstack": {**OPENSTACK["openstack"], "url": "https://other:5000"}}),
    "GlobalCloud": (OPENSTACK, {"openstack": {**OPENSTACK["openstack"], "url": "https://o:5000"}}),
}


def example(kind: Kind, name: str = "example", namespace: str = "testing") -> Message:
    """A valid `kind` object named `name` (in `namespace` if the kind is namespaced)."""
    metadata = {"name": name, **({"namespace": namespace} if kind.namespaced else {})}
    data = {"metadata": metadata, "spec": SPECS[kind.name][0]}
    return json_format.ParseDict(data, kind.message())


def changed_spec(kind: Kind) -> Message:
    """The kind's second example spec, as its Spec message."""
    obj = json_format.ParseDict({"spec": SPECS[kind.name][1]}, kind.message())
    return obj.spec  # type: ignore[attr-defined,no-any-return]
