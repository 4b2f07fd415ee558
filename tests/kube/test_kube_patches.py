"""Merge, strategic-merge and JSON patches, and server-side apply, through the official
client; plus the strategic merge rules as pure functions."""

from __future__ import annotations

import json

import kubernetes.client
import pytest
from kubernetes.client.exceptions import ApiException

from krake_testing.kube import manifests, patches, strategic

APPLY = "application/apply-patch+yaml"


def test_merge_patch_replaces_lists_and_deletes_with_null(
    apps: kubernetes.client.AppsV1Api,
) -> None:
    apps.create_namespaced_deployment("default", manifests.deployment())
    patch = {
        "metadata": {"labels": {"app": None, "tier": "web"}},
        "spec": {"template": {"spec": {"containers": [{"name": "side", "image": "busybox"}]}}},
    }
    patched = apps.patch_namespaced_deployment(
        "web", "default", patch, _content_type="application/merge-patch+json"
    )
    assert patched.metadata.labels == {"tier": "web"}
    assert [c.name for c in patched.spec.template.spec.containers] == ["side"]


def test_strategic_merge_patch_merges_containers_ports_and_env_by_key(
    apps: kubernetes.client.AppsV1Api,
) -> None:
    apps.create_namespaced_deployment("default", manifests.deployment())
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "main",
                            "image": "nginx:1.27",
                            "ports": [{"containerPort": 443}],
                            "env": [{"name": "MODE", "value": "tls"}],
                        },
                        {"name": "side", "image": "busybox:1.36"},
                    ]
                }
            }
        }
    }
    patched = apps.patch_namespaced_deployment("web", "default", patch)  # strategic by default
    main, side = patched.spec.template.spec.containers
    assert (main.name, main.image, side.name) == ("main", "nginx:1.27", "side")
    assert sorted(p.container_port for p in main.ports) == [80, 443]
    assert [(e.name, e.value) for e in main.env] == [("MODE", "tls")]
    deleted = apps.patch_namespaced_deployment(
        "web",
        "default",
        {"spec": {"template": {"spec": {"containers": [{"name": "side", "$patch": "delete"}]}}}},
    )
    assert [c.name for c in deleted.spec.template.spec.containers] == ["main"]


def test_json_patch(core: kubernetes.client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", manifests.config_map("cm", {"a": "1"}))
    patched = core.patch_namespaced_config_map(
        "cm",
        "default",
        [
            {"op": "test", "path": "/data/a", "value": "1"},
            {"op": "add", "path": "/data/b", "value": "2"},
            {"op": "move", "from": "/data/a", "path": "/data/c"},
        ],
    )
    assert patched.data == {"b": "2", "c": "1"}
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_config_map(
            "cm", "default", [{"op": "test", "path": "/data/b", "value": "nope"}]
        )
    assert caught.value.status == 422


def test_server_side_apply_creates_then_is_idempotent(core: kubernetes.client.CoreV1Api) -> None:
    body = manifests.service(type_="NodePort")  # defaulted and allocated fields too
    first = core.patch_namespaced_service(
        "web", "default", body, field_manager="krake", _content_type=APPLY
    )
    second = core.patch_namespaced_service(
        "web", "default", body, field_manager="krake", _content_type=APPLY
    )
    assert second.metadata.resource_version == first.metadata.resource_version
    assert second.spec.ports[0].node_port == first.spec.ports[0].node_port
    managers = {(m.manager, m.operation) for m in second.metadata.managed_fields}
    assert managers == {("krake", "Apply")}
    owned = second.metadata.managed_fields[0].fields_v1
    assert set(owned["f:spec"]) == {"f:type", "f:selector", "f:ports"}
    assert set(owned["f:spec"]["f:ports"]) == {'k:{"port":80}'}


def test_server_side_apply_conflicts_with_another_manager_unless_forced(
    apps: kubernetes.client.AppsV1Api,
) -> None:
    apps.patch_namespaced_deployment(
        "web",
        "default",
        manifests.deployment(replicas=2),
        field_manager="krake",
        _content_type=APPLY,
    )
    other = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"replicas": 5},
    }
    with pytest.raises(ApiException) as caught:
        apps.patch_namespaced_deployment(
            "web", "default", other, field_manager="hpa", _content_type=APPLY
        )
    assert caught.value.status == 409
    causes = json.loads(caught.value.body)["details"]["causes"]
    assert causes == [
        {
            "reason": "FieldManagerConflict",
            "message": 'conflict with "krake"',
            "field": ".spec.replicas",
        }
    ]
    forced = apps.patch_namespaced_deployment(
        "web", "default", other, field_manager="hpa", force=True, _content_type=APPLY
    )
    assert forced.spec.replicas == 5
    owners = {m.manager: m.fields_v1 for m in forced.metadata.managed_fields}
    assert "f:replicas" in owners["hpa"]["f:spec"]
    assert "f:replicas" not in owners["krake"]["f:spec"]


def test_applying_without_a_field_drops_it_when_nobody_else_owns_it(
    core: kubernetes.client.CoreV1Api,
) -> None:
    body = manifests.config_map("cm", {"a": "1", "b": "2"})
    core.patch_namespaced_config_map(
        "cm", "default", body, field_manager="krake", _content_type=APPLY
    )
    core.patch_namespaced_config_map(
        "cm", "default", {"data": {"c": "3"}}, field_manager="editor"
    )  # an Update manager now owns data.c
    body["data"] = {"a": "1"}
    applied = core.patch_namespaced_config_map(
        "cm", "default", body, field_manager="krake", _content_type=APPLY
    )
    assert applied.data == {"a": "1", "c": "3"}


def test_apply_without_field_manager_is_400(core: kubernetes.client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_config_map(
            "cm", "default", manifests.config_map("cm"), _content_type=APPLY
        )
    assert caught.value.status == 400


def test_strategic_merge_rules() -> None:
    service = {"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]}}
    patched = strategic.strategic_merge(service, {"spec": {"ports": [{"port": 80, "name": "web"}]}})
    assert patched["spec"]["ports"] == [{"port": 80, "name": "web"}, {"port": 443, "name": "https"}]
    meta = {"metadata": {"finalizers": ["a"], "labels": {"x": "1"}}}
    merged = strategic.strategic_merge(
        meta, {"metadata": {"finalizers": ["b"], "labels": {"$patch": "replace", "y": "2"}}}
    )
    assert merged == {"metadata": {"finalizers": ["a", "b"], "labels": {"y": "2"}}}
    args = {"containers": [{"name": "c", "args": ["x", "y"]}]}
    assert strategic.strategic_merge(args, {"containers": [{"name": "c", "args": ["z"]}]}) == {
        "containers": [{"name": "c", "args": ["z"]}]
    }
    assert service["spec"]["ports"][0]["name"] == "http"  # inputs untouched


def test_json_patch_is_all_or_nothing() -> None:
    document = {"a": [1, 2]}
    with pytest.raises(Exception, match="does not exist"):
        patches.json_patch(
            document, [{"op": "add", "path": "/a/-", "value": 3}, {"op": "remove", "path": "/b"}]
        )
    assert document == {"a": [1, 2]}
    assert patches.json_patch(document, [{"op": "replace", "path": "/a/0", "value": 9}]) == {
        "a": [9, 2]
    }
