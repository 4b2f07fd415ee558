"""The registry is read from the descriptors; every RPC is bound to a verb."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

import pytest

from krake.infrastructure.v1 import infrastructure_pb2
from krake.kubernetes.v1 import kubernetes_pb2
from krake_api import registry


def test_every_kind_is_a_row_read_from_the_descriptors() -> None:
    kinds = registry.KINDS
    assert len(kinds) == 13
    app = kinds["Application"]
    assert (app.group, app.plural, app.resource, app.field) == (
        "kubernetes",
        "Applications",
        "applications",
        "application",
    )
    assert app.message is kubernetes_pb2.Application and app.namespaced
    assert kinds["RoleBinding"].field == "role_binding"
    assert kinds["GlobalCloud"].message is infrastructure_pb2.GlobalCloud
    namespaced = {name for name, kind in kinds.items() if kind.namespaced}
    assert namespaced == {
        "Metric",
        "MetricsProvider",
        "Lease",
        "Application",
        "Cluster",
        "InfrastructureProvider",
        "Cloud",
    }


def test_storage_keys_follow_the_design() -> None:
    app, cloud = registry.KINDS["Application"], registry.KINDS["GlobalCloud"]
    assert app.key("testing", "web") == "/krake/kubernetes/application/testing/web"
    assert app.prefix("testing") == "/krake/kubernetes/application/testing/"
    assert app.prefix() == "/krake/kubernetes/application/"
    assert cloud.key("", "eu") == "/krake/infrastructure/globalcloud/eu"
    assert not app.key("test", "x").startswith(app.prefix("te"))


def test_every_rpc_is_bound_to_a_verb() -> None:
    bindings = registry.bind()
    methods = [m for service in registry.SERVICES for m in service.methods]
    assert len(bindings) == len(methods) == 87
    verbs = Counter(b.verb for b in bindings.values())
    assert verbs["create"] == verbs["get"] == verbs["list"] == verbs["watch"] == 13
    assert verbs["update"] == verbs["delete"] == 13
    assert verbs["update_status"] == 4
    assert (verbs["bind"], verbs["complete"], verbs["shutdown"]) == (2, 1, 1)
    assert verbs["preview_placement"] == 1
    watch = bindings["/krake.kubernetes.v1.KubernetesService/WatchApplications"]
    assert (watch.verb, watch.kind.name, watch.method.server_streaming) == (
        "watch",
        "Application",
        True,
    )


def test_an_rpc_without_a_verb_fails_start_up() -> None:
    real = registry.SERVICES[1]
    stray = SimpleNamespace(name="FrobApplication", full_name=f"{real.full_name}.FrobApplication")
    service = SimpleNamespace(
        full_name=real.full_name,
        methods=[*real.methods, stray],
        methods_by_name=real.methods_by_name,
    )
    with pytest.raises(registry.UnboundMethod, match="FrobApplication"):
        registry.bind([service])  # type: ignore[list-item]
