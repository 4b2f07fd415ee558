"""Validation reports every violation, each with its path from the resource root."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import pytest
from google.protobuf import json_format
from google.protobuf.message import Message

from krake.core.v1 import core_pb2
from krake.infrastructure.v1 import infrastructure_pb2
from krake.kubernetes.v1 import kubernetes_pb2
from krake_api import errors, registry
from krake_api.resources import validation, validation_kinds
from krake_api.storage import base

DROP = object()  # in an override: remove the key

MANIFEST = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web"},
    "spec": {"replicas": 1},
}
KUBECONFIG = {
    "apiVersion": "v1",
    "kind": "Config",
    "current-context": "admin@one",
    "contexts": [{"name": "admin@one", "context": {"cluster": "one", "user": "admin"}}],
    "clusters": [{"name": "one", "cluster": {"server": "https://10.0.0.1:6443"}}],
    "users": [{"name": "admin", "user": {"token": "secret"}}],
}
OPENSTACK = {
    "url": "https://keystone.example.com:5000/v3",
    "auth": {
        "password": {
            "user": {"username": "krake", "password": "secret", "domain_name": "Default"},
            "project": {"name": "krake", "domain_id": "default"},
        }
    },
    "metrics": [{"name": "heat-demand", "weight": 0.5, "namespaced": True}],
    "infrastructure_provider": {"name": "im", "namespaced": True},
}

SPECS: Mapping[type[Message], dict[str, Any]] = {
    kubernetes_pb2.Application: {
        "manifest": [MANIFEST],
        "observer_schema": [
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}}
        ],
        "constraints": {"cluster": {"custom_resources": ["crontabs.stable.example.com"]}},
        "backoff": 1,
        "backoff_delay": 1,
        "backoff_limit": -1,
        "shutdown_grace_time": 30,
    },
    kubernetes_pb2.Cluster: {
        "kubeconfig": KUBECONFIG,
        "custom_resources": ["crontabs.stable.example.com"],
        "metrics": [{"name": "latency", "weight": 1.0}],
        "backoff_limit": -1,
    },
    core_pb2.Metric: {"min": 0, "max": 1, "provider": {"name": "prometheus", "metric": "load"}},
    core_pb2.GlobalMetric: {"provider": {"name": "static", "metric": "heat"}},
    core_pb2.MetricsProvider: {"prometheus": {"url": "http://prometheus:9090"}},
    core_pb2.GlobalMetricsProvider: {"static": {"metrics": {"heat": 0.5, "load": 1}}},
    core_pb2.Role: {
        "rules": [{"api": "kubernetes", "resources": ["applications"], "verbs": ["get", "list"]}]
    },
    core_pb2.RoleBinding: {"users": ["alice"], "roles": ["developer"]},
    core_pb2.Lease: {"holder": "scheduler-1", "duration": "15s"},
    infrastructure_pb2.InfrastructureProvider: {"im": {"url": "https://im.example.com:8800"}},
    infrastructure_pb2.GlobalInfrastructureProvider: {"openstack_magnum": {}},
    infrastructure_pb2.Cloud: {"openstack": OPENSTACK},
    infrastructure_pb2.GlobalCloud: {
        "openstack": {
            **OPENSTACK,
            "auth": {"application_credential": {"id": "abc", "secret": "s3cret"}},
        }
    },
}


def _namespaced(kind: type[Message]) -> bool:
    return registry.KINDS[kind.DESCRIPTOR.name].namespaced


def _fixture(kind: type[Message]) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": "example",
        "labels": {"app": "web", "example.com/tier": "gold", "empty": ""},
        "annotations": {"krake.io/note": "anything goes here: ,;=()"},
        "finalizers": ["krake.io/cleanup", "cleanup"],
        "owners": [{"api": "kubernetes", "kind": "Cluster", "namespace": "team-a", "name": "c1"}],
    }
    if _namespaced(kind):
        metadata["namespace"] = "team-a"
    return {
        "api": kind.DESCRIPTOR.file.package.split(".")[1],
        "kind": kind.DESCRIPTOR.name,
        "metadata": metadata,
        "spec": copy.deepcopy(SPECS[kind]),
    }


def _merge(base: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if value is DROP:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _build(kind: type[Message], overrides: Mapping[str, Any] | None = None) -> Message:
    return json_format.ParseDict(_merge(_fixture(kind), overrides or {}), kind())


def test_the_fixtures_cover_every_kind_and_every_spec_has_rules() -> None:
    assert set(SPECS) == {kind.message for kind in registry.KINDS.values()}
    assert len(SPECS) == 13
    for kind in SPECS:
        spec = kind.DESCRIPTOR.fields_by_name["spec"].message_type
        assert spec is not None
        assert spec.full_name in validation_kinds.CHECKS, kind.DESCRIPTOR.name


@pytest.mark.parametrize("kind", list(SPECS), ids=lambda k: k.DESCRIPTOR.name)
def test_a_valid_object_of_every_kind_passes(kind: type[Message]) -> None:
    assert validation.validate(_build(kind), namespaced=_namespaced(kind)) == []


def test_a_cluster_without_kubeconfig_is_valid() -> None:
    cluster = _build(kubernetes_pb2.Cluster, {"spec": {"kubeconfig": DROP, "auto_generated": True}})
    assert validation.validate(cluster, namespaced=True) == []


BAD = [
    # (kind, overrides, expected violation fields, in any order)
    pytest.param(
        kubernetes_pb2.Application,
        {
            "metadata": {
                "name": "Web_1",
                "namespace": "Team",
                "labels": {"app/x/y": "ok", "ok": "-bad", "k": "v" * 64},
            }
        },
        [
            "metadata.name",
            "metadata.namespace",
            'metadata.labels["app/x/y"]',
            'metadata.labels["k"]',
            'metadata.labels["ok"]',
        ],
        id="metadata-names-and-labels",
    ),
    pytest.param(
        kubernetes_pb2.Application,
        {"metadata": {"name": DROP, "namespace": DROP}},
        ["metadata.name", "metadata.namespace"],
        id="metadata-required",
    ),
    pytest.param(
        core_pb2.Metric,
        {"metadata": {"name": "a" * 254, "namespace": "n" * 64}},
        ["metadata.name", "metadata.namespace"],
        id="metadata-too-long",
    ),
    pytest.param(
        core_pb2.GlobalMetric,
        {"metadata": {"namespace": "team-a"}},
        ["metadata.namespace"],
        id="global-kind-with-namespace",
    ),
    pytest.param(
        core_pb2.Role,
        {"metadata": {"namespace": "team-a"}},
        ["metadata.namespace"],
        id="role-is-global",
    ),
    pytest.param(
        core_pb2.RoleBinding,
        {
            "metadata": {
                "annotations": {"bad key": "x", "big": "x" * (256 * 1024)},
                "finalizers": ["ok", "bad/", "UPPER.example.com/x"],
                "owners": [
                    {"name": "Bad"},
                    {"api": "core", "kind": "Role", "name": "r", "namespace": "Bad_ns"},
                ],
            }
        },
        [
            'metadata.annotations["bad key"]',
            "metadata.annotations",
            "metadata.finalizers[1]",
            "metadata.finalizers[2]",
            "metadata.owners[0].api",
            "metadata.owners[0].kind",
            "metadata.owners[0].name",
            "metadata.owners[1].namespace",
        ],
        id="annotations-finalizers-owners",
    ),
    pytest.param(
        kubernetes_pb2.Application,
        {
            "spec": {
                "manifest": [
                    {"kind": "Deployment", "metadata": {}},
                    {"apiVersion": "v1", "kind": 5, "metadata": {"name": "x"}},
                    {"apiVersion": "", "kind": "Service", "metadata": "svc"},
                ]
            }
        },
        [
            "spec.manifest[0].apiVersion",
            "spec.manifest[0].metadata.name",
            "spec.manifest[1].kind",
            "spec.manifest[2].apiVersion",
            "spec.manifest[2].metadata.name",
        ],
        id="application-manifest-items",
    ),
    pytest.param(
        kubernetes_pb2.Application,
        {
            "spec": {
                "manifest": [],
                "backoff": -1,
                "backoff_delay": -1,
                "backoff_limit": -2,
                "shutdown_grace_time": -1,
                "shutdown_retry_count": -1,
            }
        },
        [
            "spec.manifest",
            "spec.backoff",
            "spec.backoff_delay",
            "spec.backoff_limit",
            "spec.shutdown_grace_time",
            "spec.shutdown_retry_count",
        ],
        id="application-empty-manifest-and-negative-numbers",
    ),
    pytest.param(
        kubernetes_pb2.Application,
        {
            "spec": {
                "observer_schema": [{"apiVersion": "v1"}],
                "constraints": {"cluster": {"custom_resources": ["crontabs", "Foo.example.com"]}},
            }
        },
        [
            "spec.observer_schema[0].kind",
            "spec.observer_schema[0].metadata.name",
            "spec.constraints.cluster.custom_resources[0]",
            "spec.constraints.cluster.custom_resources[1]",
        ],
        id="application-observer-schema-and-custom-resources",
    ),
    pytest.param(
        kubernetes_pb2.Application,
        {
            "spec": {
                "constraints": {
                    "cluster": {
                        "labels": ["location is DE", "location maybe DE"],
                        "metrics": ["load < 0.5", "load < fast"],
                    }
                },
            }
        },
        [
            "spec.constraints.cluster.labels[1]",
            "spec.constraints.cluster.metrics[1]",
        ],
        id="application-constraints",
    ),
    pytest.param(
        kubernetes_pb2.Cluster,
        {"spec": {"constraints": {"cloud": {"labels": ["zone in ()"], "metrics": ["x"]}}}},
        ["spec.constraints.cloud.labels[0]", "spec.constraints.cloud.metrics[0]"],
        id="cluster-cloud-constraints",
    ),
    pytest.param(
        kubernetes_pb2.Cluster,
        {
            "spec": {
                "kubeconfig": {
                    "contexts": [KUBECONFIG["contexts"][0], KUBECONFIG["contexts"][0]],
                    "users": [],
                    "clusters": "one",
                },
                "custom_resources": ["crontabs"],
            }
        },
        [
            "spec.kubeconfig.contexts",
            "spec.kubeconfig.users",
            "spec.kubeconfig.clusters",
            "spec.custom_resources[0]",
        ],
        id="cluster-kubeconfig-counts",
    ),
    pytest.param(
        kubernetes_pb2.Cluster,
        {
            "spec": {
                "kubeconfig": {
                    "contexts": [{"name": "c", "context": {"cluster": "other", "user": "admin"}}],
                    "clusters": [{"name": "one", "cluster": {"server": "ftp://10.0.0.1"}}],
                },
                "metrics": [{"name": "", "weight": 0}, {"name": "ok", "weight": 2}],
                "backoff": -3,
            }
        },
        [
            "spec.kubeconfig.contexts[0].context.cluster",
            "spec.kubeconfig.clusters[0].cluster.server",
            "spec.metrics[0].name",
            "spec.metrics[0].weight",
            "spec.backoff",
        ],
        id="cluster-kubeconfig-references-and-metrics",
    ),
    pytest.param(
        kubernetes_pb2.Cluster,
        {
            "spec": {
                "kubeconfig": {
                    "contexts": [{"name": "c", "context": {"cluster": "one"}}],
                    "users": [{"user": {}}],
                    "clusters": [{"name": "one", "cluster": {}}],
                }
            }
        },
        ["spec.kubeconfig.users[0].name", "spec.kubeconfig.clusters[0].cluster.server"],
        id="cluster-kubeconfig-unnamed-user-no-server",
    ),
    pytest.param(
        core_pb2.Metric,
        {"spec": {"min": 2, "max": 1, "provider": {"name": DROP, "metric": DROP}}},
        ["spec.provider.name", "spec.provider.metric", "spec.min"],
        id="metric",
    ),
    pytest.param(
        core_pb2.GlobalMetric,
        {"spec": {"min": 1, "max": 1, "provider": {"name": "Not_A_Name"}}},
        ["spec.provider.name", "spec.min"],
        id="global-metric",
    ),
    pytest.param(
        core_pb2.MetricsProvider,
        {"spec": {"prometheus": DROP}},
        ["spec.type"],
        id="metrics-provider-without-type",
    ),
    pytest.param(
        core_pb2.MetricsProvider,
        {"spec": {"prometheus": {"url": "prometheus:9090"}}},
        ["spec.prometheus.url"],
        id="prometheus-url",
    ),
    pytest.param(
        core_pb2.MetricsProvider,
        {"spec": {"prometheus": DROP, "kafka": {"url": "localhost:8088"}}},
        [
            "spec.kafka.url",
            "spec.kafka.table",
            "spec.kafka.comparison_column",
            "spec.kafka.value_column",
        ],
        id="kafka",
    ),
    pytest.param(
        core_pb2.GlobalMetricsProvider,
        {"spec": {"static": DROP, "influx": {"url": "https://influx", "bucket": "b"}}},
        ["spec.influx.token", "spec.influx.org"],
        id="influx",
    ),
    pytest.param(
        core_pb2.GlobalMetricsProvider,
        {"spec": {"static": {"metrics": {"": 1, "ok": 2}}}},
        ['spec.static.metrics[""]'],
        id="static-empty-metric-name",
    ),
    pytest.param(
        core_pb2.Role,
        {
            "spec": {
                "rules": [
                    {"api": "core"},
                    {"api": "core", "resources": ["roles"], "verbs": ["get", "patch", "*"]},
                ]
            }
        },
        ["spec.rules[0].verbs", "spec.rules[0].resources", "spec.rules[1].verbs[1]"],
        id="role-rules",
    ),
    pytest.param(
        core_pb2.RoleBinding,
        {"spec": {"users": DROP, "roles": DROP}},
        ["spec.users", "spec.roles"],
        id="role-binding-empty",
    ),
    pytest.param(
        core_pb2.RoleBinding,
        {"spec": {"users": ["alice", ""], "roles": ["Admin"]}},
        ["spec.users[1]", "spec.roles[0]"],
        id="role-binding-items",
    ),
    pytest.param(core_pb2.Lease, {"spec": {"duration": "-5s"}}, ["spec.duration"], id="lease"),
    pytest.param(
        infrastructure_pb2.InfrastructureProvider,
        {"spec": {"im": DROP}},
        ["spec.type"],
        id="infrastructure-provider-without-type",
    ),
    pytest.param(
        infrastructure_pb2.GlobalInfrastructureProvider,
        {"spec": {"openstack_magnum": DROP, "im": {"url": "", "username": "u"}}},
        ["spec.im.url"],
        id="im-url",
    ),
    pytest.param(
        infrastructure_pb2.Cloud,
        {"spec": {"openstack": {"url": "keystone", "auth": DROP, "infrastructure_provider": DROP}}},
        [
            "spec.openstack.url",
            "spec.openstack.auth.method",
            "spec.openstack.infrastructure_provider.name",
        ],
        id="cloud-openstack",
    ),
    pytest.param(
        infrastructure_pb2.Cloud,
        {
            "spec": {
                "openstack": {
                    "auth": {"password": {"user": {"password": ""}, "project": {"name": ""}}}
                }
            }
        },
        ["spec.openstack.auth.password.user.password", "spec.openstack.auth.password.project.name"],
        id="cloud-password-auth",
    ),
    pytest.param(
        infrastructure_pb2.GlobalCloud,
        {
            "spec": {
                "openstack": {
                    "auth": {"application_credential": {"secret": ""}},
                    "metrics": [{"name": "heat", "weight": -1}],
                }
            }
        },
        [
            "spec.openstack.auth.application_credential.secret",
            "spec.openstack.metrics[0].weight",
        ],
        id="global-cloud-application-credential",
    ),
    pytest.param(
        infrastructure_pb2.GlobalCloud,
        {"metadata": {"name": ""}, "spec": {"openstack": DROP}},
        ["metadata.name", "spec.type"],
        id="global-cloud-without-type",
    ),
]


@pytest.mark.parametrize(("kind", "overrides", "fields"), BAD)
def test_every_violation_is_reported_with_its_path(
    kind: type[Message], overrides: Mapping[str, Any], fields: list[str]
) -> None:
    violations = validation.validate(_build(kind, overrides), namespaced=_namespaced(kind))
    assert sorted(v.field for v in violations) == sorted(fields)
    assert all(v.description for v in violations)


def test_descriptions_say_what_is_wrong() -> None:
    cluster = _build(
        kubernetes_pb2.Cluster,
        {"spec": {"kubeconfig": {"contexts": [{}, {}], "users": []}}},
    )
    described = {v.field: v.description for v in validation.validate(cluster, namespaced=True)}
    assert "exactly one" in described["spec.kubeconfig.contexts"]
    assert "has 2" in described["spec.kubeconfig.contexts"]
    assert "has 0" in described["spec.kubeconfig.users"]
    role = _build(core_pb2.Role, {"spec": {"rules": [{"resources": ["x"], "verbs": ["patch"]}]}})
    [violation] = validation.validate(role, namespaced=False)
    assert "'patch'" in violation.description


def test_label_paths_quote_the_key() -> None:
    app = _build(kubernetes_pb2.Application, {"metadata": {"labels": {'a"b': "x"}}})
    [violation] = validation.validate(app, namespaced=True)
    assert violation.field == 'metadata.labels["a\\"b"]'


def test_check_size_refuses_requests_over_1_5_mib() -> None:
    validation.check_size(base.MAX_VALUE_SIZE)
    validation.check_size(b"x" * base.MAX_VALUE_SIZE)
    for data in (base.MAX_VALUE_SIZE + 1, b"x" * (base.MAX_VALUE_SIZE + 1)):
        with pytest.raises(errors.InvalidArgument) as caught:
            validation.check_size(data)
        [violation] = caught.value.violations
        assert violation.field == "<request>"
        assert violation.description == (
            f"request is {base.MAX_VALUE_SIZE + 1} bytes, over the 1.5 MiB limit"
        )
