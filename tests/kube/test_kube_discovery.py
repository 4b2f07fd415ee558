"""Discovery through the official client's DynamicClient, and CRDs appearing in it."""

from __future__ import annotations

from pathlib import Path

import kubernetes.client
import kubernetes.dynamic
import pytest
from kubernetes.dynamic.exceptions import ResourceNotFoundError

from krake_testing.kube import FakeCluster, manifests


def dynamic(api: kubernetes.client.ApiClient, tmp_path: Path) -> kubernetes.dynamic.DynamicClient:
    return kubernetes.dynamic.DynamicClient(api, cache_file=str(tmp_path / "discovery.json"))


def test_version_and_core_group(api: kubernetes.client.ApiClient) -> None:
    info = kubernetes.client.VersionApi(api).get_code()
    assert (info.major, info.git_version.startswith("v1.")) == ("1", True)
    assert kubernetes.client.CoreApi(api).get_api_versions().versions == ["v1"]


def test_resource_lists_carry_scope_kind_verbs_and_short_names(
    api: kubernetes.client.ApiClient,
) -> None:
    core = kubernetes.client.CoreV1Api(api).get_api_resources()
    by_name = {r.name: r for r in core.resources}
    assert (by_name["pods"].namespaced, by_name["pods"].kind) == (True, "Pod")
    assert by_name["namespaces"].namespaced is False
    assert "watch" in by_name["configmaps"].verbs
    assert by_name["services"].short_names == ["svc"]
    assert by_name["pods/status"].verbs == ["get", "patch", "update"]
    apps = kubernetes.client.AppsV1Api(api).get_api_resources()
    assert {"deployments", "replicasets", "statefulsets", "daemonsets"} <= {
        r.name for r in apps.resources
    }
    groups = kubernetes.client.ApisApi(api).get_api_versions().groups
    assert {"apps", "batch", "networking.k8s.io", "rbac.authorization.k8s.io"} <= {
        g.name for g in groups
    }


def test_dynamic_client_finds_built_in_kinds(
    cluster: FakeCluster, api: kubernetes.client.ApiClient, tmp_path: Path
) -> None:
    client = dynamic(api, tmp_path)
    deployments = client.resources.get(api_version="apps/v1", kind="Deployment")
    assert (deployments.name, deployments.namespaced) == ("deployments", True)
    nodes = client.resources.get(api_version="v1", kind="Node")
    assert nodes.namespaced is False
    assert [n.metadata.name for n in nodes.get().items] == cluster.node_names


def test_crd_types_appear_in_discovery_and_vanish_with_the_crd(
    cluster: FakeCluster, api: kubernetes.client.ApiClient, tmp_path: Path
) -> None:
    extensions = kubernetes.client.ApiextensionsV1Api(api)
    extensions.create_custom_resource_definition(manifests.crontab_crd())
    crd = extensions.read_custom_resource_definition("crontabs.stable.example.com")
    assert {c.type: c.status for c in crd.status.conditions}["Established"] == "True"

    crontabs = dynamic(api, tmp_path / "a").resources.get(
        api_version="stable.example.com/v1", kind="CronTab"
    )
    assert (crontabs.name, crontabs.short_names) == ("crontabs", ["ct"])
    created = crontabs.create(
        body={
            "apiVersion": "stable.example.com/v1",
            "kind": "CronTab",
            "metadata": {"name": "tick"},
            "spec": {"cronSpec": "* * * * */5", "image": "tick:1"},
        },
        namespace="default",
    )
    assert created.metadata.generation == 1
    assert [o["metadata"]["name"] for o in cluster.objects("crontabs.stable.example.com")] == [
        "tick"
    ]

    extensions.delete_custom_resource_definition("crontabs.stable.example.com")
    assert cluster.objects("Pod") == []  # sanity: nothing else touched
    with pytest.raises(ResourceNotFoundError):
        dynamic(api, tmp_path / "b").resources.get(
            api_version="stable.example.com/v1", kind="CronTab"
        )
    with pytest.raises(KeyError):
        cluster.objects("crontabs.stable.example.com")
