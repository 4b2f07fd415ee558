"""CRUD through the official client: metadata semantics, errors as Status objects,
selectors, paging, finalizers, garbage collection and custom resources."""

from __future__ import annotations

import json

import kubernetes.client
import pytest
from kubernetes.client.exceptions import ApiException

from krake_testing.kube import FakeCluster, manifests


def raw(
    api: kubernetes.client.ApiClient, method: str, path: str, body: object = None
) -> tuple[int, dict[str, object]]:
    """One request with the client's credentials but none of its validation."""
    request = api.param_serialize(
        method, path, body=body, header_params={"Content-Type": "application/json"}
    )
    response = api.call_api(*request)
    return response.status, json.loads(response.read())


def status_of(error: ApiException) -> dict[str, object]:
    body: dict[str, object] = json.loads(error.body)
    return body


def test_create_stamps_server_metadata(core: kubernetes.client.CoreV1Api) -> None:
    created = core.create_namespaced_config_map("default", manifests.config_map("one"))
    meta = created.metadata
    assert meta.uid and meta.creation_timestamp is not None
    assert (meta.generation, meta.namespace) == (1, "default")
    again = core.create_namespaced_config_map("default", manifests.config_map("two"))
    assert int(again.metadata.resource_version) > int(meta.resource_version)


def test_missing_objects_are_404_with_a_status(core: kubernetes.client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_config_map("absent", "default")
    status = status_of(caught.value)
    assert (caught.value.status, status["kind"], status["reason"]) == (404, "Status", "NotFound")
    assert status["message"] == 'configmaps "absent" not found'


def test_duplicate_create_is_409_already_exists(core: kubernetes.client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", manifests.config_map("dup"))
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map("default", manifests.config_map("dup"))
    assert (caught.value.status, status_of(caught.value)["reason"]) == (409, "AlreadyExists")


def test_stale_resource_version_is_409_conflict(core: kubernetes.client.CoreV1Api) -> None:
    first = core.create_namespaced_config_map("default", manifests.config_map("cm"))
    first.data = {"key": "changed"}
    core.replace_namespaced_config_map("cm", "default", first)
    first.data = {"key": "stale"}
    with pytest.raises(ApiException) as caught:
        core.replace_namespaced_config_map("cm", "default", first)
    assert (caught.value.status, status_of(caught.value)["reason"]) == (409, "Conflict")
    assert core.read_namespaced_config_map("cm", "default").data == {"key": "changed"}


def test_generation_moves_with_spec_not_metadata_or_status(
    apps: kubernetes.client.AppsV1Api,
) -> None:
    apps.create_namespaced_deployment("default", manifests.deployment(replicas=1))
    labelled = apps.patch_namespaced_deployment(
        "web", "default", {"metadata": {"labels": {"x": "y"}}}
    )
    assert labelled.metadata.generation == 1
    scaled = apps.patch_namespaced_deployment("web", "default", {"spec": {"replicas": 3}})
    assert scaled.metadata.generation == 2


def test_an_update_that_changes_nothing_keeps_the_resource_version(
    core: kubernetes.client.CoreV1Api,
) -> None:
    created = core.create_namespaced_config_map("default", manifests.config_map("same"))
    replaced = core.replace_namespaced_config_map("same", "default", created)
    assert replaced.metadata.resource_version == created.metadata.resource_version


def test_invalid_objects_are_422(core: kubernetes.client.CoreV1Api) -> None:
    cases = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Not_Valid"}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": []}},
    ]
    for body in cases:
        with pytest.raises(ApiException) as caught:
            create = (
                core.create_namespaced_pod
                if body["kind"] == "Pod"
                else core.create_namespaced_config_map
            )
            create("default", body)
        assert (caught.value.status, status_of(caught.value)["reason"]) == (422, "Invalid"), body


def test_a_float_in_an_integer_field_is_400(api: kubernetes.client.ApiClient) -> None:
    body = manifests.deployment()
    body["spec"]["replicas"] = 1.0
    code, status = raw(api, "POST", "/apis/apps/v1/namespaces/default/deployments", body)
    assert (code, status["reason"]) == (400, "BadRequest")
    assert "cannot unmarshal number 1.0" in str(status["message"])
    body["spec"]["replicas"] = 1
    assert raw(api, "POST", "/apis/apps/v1/namespaces/default/deployments", body)[0] == 201


def test_create_in_a_missing_namespace_is_404(core: kubernetes.client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map("nowhere", manifests.config_map("cm"))
    assert caught.value.status == 404
    assert status_of(caught.value)["message"] == 'namespaces "nowhere" not found'


def test_label_and_field_selectors_and_paging(core: kubernetes.client.CoreV1Api) -> None:
    for index in range(5):
        tier = "front" if index % 2 else "back"
        core.create_namespaced_config_map("default", manifests.config_map(f"cm{index}", tier=tier))
    front = core.list_namespaced_config_map("default", label_selector="tier=front")
    assert [c.metadata.name for c in front.items] == ["cm1", "cm3"]
    not_front = core.list_namespaced_config_map(
        "default", label_selector="tier in (back),tier!=front"
    )
    assert [c.metadata.name for c in not_front.items] == ["cm0", "cm2", "cm4"]
    named = core.list_config_map_for_all_namespaces(field_selector="metadata.name=cm2")
    assert [c.metadata.name for c in named.items] == ["cm2"]
    pages, token = [], None
    while True:
        page = core.list_namespaced_config_map(
            "default", limit=2, _continue=token, label_selector="tier"
        )
        pages.append([c.metadata.name for c in page.items])
        token = page.metadata._continue
        if not token:
            break
    assert pages == [["cm0", "cm1"], ["cm2", "cm3"], ["cm4"]]
    with pytest.raises(ApiException) as caught:
        core.list_namespaced_config_map("default", field_selector="data.key=value")
    assert caught.value.status == 400


def test_finalizers_hold_a_deleted_object_until_removed(core: kubernetes.client.CoreV1Api) -> None:
    body = manifests.config_map("held")
    body["metadata"]["finalizers"] = ["example.com/hold"]
    core.create_namespaced_config_map("default", body)
    core.delete_namespaced_config_map("held", "default")
    held = core.read_namespaced_config_map("held", "default")
    assert held.metadata.deletion_timestamp is not None
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_config_map(
            "held", "default", {"metadata": {"finalizers": ["example.com/hold", "more"]}}
        )
    assert caught.value.status == 422
    core.patch_namespaced_config_map("held", "default", {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as gone:
        core.read_namespaced_config_map("held", "default")
    assert gone.value.status == 404


def test_deleting_an_owner_deletes_its_dependents_unless_orphaned(
    cluster: FakeCluster, core: kubernetes.client.CoreV1Api
) -> None:
    owner = core.create_namespaced_config_map("default", manifests.config_map("owner"))
    reference = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "owner",
        "uid": owner.metadata.uid,
    }
    for name in ("child", "orphan"):
        body = manifests.config_map(name)
        body["metadata"]["ownerReferences"] = [reference]
        core.create_namespaced_config_map("default", body)
    core.delete_namespaced_config_map("owner", "default")
    assert cluster.get("ConfigMap", "child") is None
    assert cluster.get("ConfigMap", "orphan") is None

    owner = core.create_namespaced_config_map("default", manifests.config_map("owner"))
    body = manifests.config_map("kept")
    body["metadata"]["ownerReferences"] = [{**reference, "uid": owner.metadata.uid}]
    core.create_namespaced_config_map("default", body)
    core.delete_namespaced_config_map("owner", "default", propagation_policy="Orphan")
    kept = cluster.get("ConfigMap", "kept")
    assert kept is not None and not kept["metadata"].get("ownerReferences")


def test_deleting_a_namespace_terminates_then_removes_it_and_its_content(
    cluster: FakeCluster, core: kubernetes.client.CoreV1Api
) -> None:
    core.create_namespace({"metadata": {"name": "doomed"}})
    core.create_namespaced_config_map("doomed", manifests.config_map("cm"))
    core.delete_namespace("doomed")
    cluster.wait_for(lambda c: c.get("Namespace", "doomed") is None, timeout=5)
    assert cluster.objects("ConfigMap", "doomed") == []


def test_custom_resources_crud_and_status_subresource(
    cluster: FakeCluster, api: kubernetes.client.ApiClient
) -> None:
    kubernetes.client.ApiextensionsV1Api(api).create_custom_resource_definition(
        manifests.crontab_crd()
    )
    custom = kubernetes.client.CustomObjectsApi(api)
    group = ("stable.example.com", "v1", "default", "crontabs")
    body = {
        "apiVersion": "stable.example.com/v1",
        "kind": "CronTab",
        "metadata": {"name": "tick"},
        "spec": {"cronSpec": "* * * * */5"},
        "status": {"ignored": True},
    }
    created = custom.create_namespaced_custom_object(*group, body)
    assert "status" not in created or not created["status"]
    custom.patch_namespaced_custom_object_status(*group, "tick", {"status": {"runs": 1}})
    updated = custom.patch_namespaced_custom_object(
        *group, "tick", {"spec": {"cronSpec": "@hourly"}}
    )
    assert (updated["metadata"]["generation"], updated["status"]) == (2, {"runs": 1})
    listed = custom.list_namespaced_custom_object(*group)
    assert [o["metadata"]["name"] for o in listed["items"]] == ["tick"]
    with pytest.raises(ApiException) as caught:
        custom.patch_namespaced_custom_object(
            *group, "tick", {"spec": {}}, _content_type="application/strategic-merge-patch+json"
        )
    assert caught.value.status == 415
    custom.delete_namespaced_custom_object(*group, "tick")
    assert cluster.objects("CronTab") == []


def test_resource_versions_come_from_one_counter_and_pods_delete_as_objects(
    core: kubernetes.client.CoreV1Api,
) -> None:
    first = core.create_namespaced_config_map("default", manifests.config_map("cm"))
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    second = core.create_namespaced_pod("default", pod)
    third = core.create_namespace({"metadata": {"name": "ns"}})
    versions = [int(o.metadata.resource_version) for o in (first, second, third)]
    assert versions == sorted(versions) and len(set(versions)) == 3
    deleted = core.delete_namespaced_pod("p", "default")
    assert (deleted.kind, deleted.metadata.name) == ("Pod", "p")
    status = core.delete_namespaced_config_map("cm", "default")
    assert (status["kind"], status["status"]) == ("Status", "Success")
    with pytest.raises(ApiException) as caught:
        core.delete_namespace("default")
    assert caught.value.status == 403


def test_cluster_scoped_objects_have_no_namespace(core: kubernetes.client.CoreV1Api) -> None:
    created = core.create_namespace({"metadata": {"name": "team-a"}})
    assert created.metadata.namespace is None
    assert created.status.phase == "Active"
    code, status = raw(core.api_client, "GET", "/api/v1/namespaces/default/nodes")
    assert (code, status["kind"]) == (404, "Status")
