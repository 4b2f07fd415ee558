"""The simulated controllers and kubelet, and injected failures, seen through the
official client: workloads become ready, Jobs complete, crash loops and node and API
outages show up where Kubernetes shows them."""

from __future__ import annotations

from typing import Any

import kubernetes.client
import kubernetes.config
import pytest
import urllib3

from krake_testing.kube import FakeCluster, manifests


def condition(obj: dict[str, Any] | None, type_: str) -> str | None:
    for found in (obj or {}).get("status", {}).get("conditions") or []:
        if found["type"] == type_:
            return str(found["status"])
    return None


def test_a_deployment_becomes_available_through_a_replica_set_and_pods(
    cluster: FakeCluster, apps: kubernetes.client.AppsV1Api, core: kubernetes.client.CoreV1Api
) -> None:
    apps.create_namespaced_deployment("default", manifests.deployment(replicas=3))
    cluster.wait_for(lambda c: condition(c.get("Deployment", "web"), "Available") == "True")
    deployment = apps.read_namespaced_deployment("web", "default")
    assert (deployment.status.ready_replicas, deployment.status.observed_generation) == (3, 1)
    (replica_set,) = apps.list_namespaced_replica_set("default").items
    assert replica_set.metadata.owner_references[0].name == "web"
    pods = core.list_namespaced_pod("default", label_selector="app=web").items
    assert len(pods) == 3
    assert {p.status.phase for p in pods} == {"Running"}
    assert all(p.spec.node_name == cluster.node_names[0] for p in pods)
    assert all(p.metadata.owner_references[0].name == replica_set.metadata.name for p in pods)


def test_a_new_template_rolls_out_a_new_replica_set(
    cluster: FakeCluster, apps: kubernetes.client.AppsV1Api
) -> None:
    apps.create_namespaced_deployment("default", manifests.deployment(replicas=2))
    cluster.wait_for(lambda c: condition(c.get("Deployment", "web"), "Available") == "True")
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "nginx:2"}]}}}}
    apps.patch_namespaced_deployment("web", "default", patch)

    def rolled_out(c: FakeCluster) -> bool:
        pods = c.objects("Pod", "default")
        images = {p["spec"]["containers"][0]["image"] for p in pods}
        status = (c.get("Deployment", "web") or {}).get("status", {})
        return images == {"nginx:2"} and status.get("updatedReplicas") == 2 == status.get(
            "availableReplicas"
        )

    cluster.wait_for(rolled_out)
    sizes = sorted(rs["spec"]["replicas"] for rs in cluster.objects("ReplicaSet", "default"))
    assert sizes == [0, 2]


def test_deleting_a_deployment_removes_its_replica_sets_and_pods(
    cluster: FakeCluster, apps: kubernetes.client.AppsV1Api
) -> None:
    apps.create_namespaced_deployment("default", manifests.deployment(replicas=2))
    cluster.wait_for(lambda c: len(c.objects("Pod", "default")) == 2)
    apps.delete_namespaced_deployment("web", "default")
    assert cluster.objects("ReplicaSet", "default") == []
    assert cluster.objects("Pod", "default") == []


def test_a_job_completes(cluster: FakeCluster, api: kubernetes.client.ApiClient) -> None:
    batch = kubernetes.client.BatchV1Api(api)
    batch.create_namespaced_job("default", manifests.job(completions=2))
    cluster.wait_for(lambda c: condition(c.get("Job", "batch"), "Complete") == "True")
    job = batch.read_namespaced_job("batch", "default")
    assert (job.status.succeeded, job.status.active) == (2, None)
    assert job.status.completion_time is not None
    phases = [
        p.status.phase
        for p in kubernetes.client.CoreV1Api(api).list_namespaced_pod("default").items
    ]
    assert phases == ["Succeeded", "Succeeded"]


def test_stateful_and_daemon_sets_become_ready(
    cluster: FakeCluster, apps: kubernetes.client.AppsV1Api
) -> None:
    cluster.add_node("extra")
    stateful = manifests.deployment("db", replicas=2)
    stateful["kind"] = "StatefulSet"
    stateful["spec"]["serviceName"] = "db"
    apps.create_namespaced_stateful_set("default", stateful)
    daemon = manifests.deployment("agent")
    daemon["kind"] = "DaemonSet"
    del daemon["spec"]["replicas"]
    apps.create_namespaced_daemon_set("default", daemon)

    def ready(c: FakeCluster) -> bool:
        sts = (c.get("StatefulSet", "db") or {}).get("status", {})
        ds = (c.get("DaemonSet", "agent") or {}).get("status", {})
        return sts.get("readyReplicas") == 2 and ds.get("numberReady") == 2

    cluster.wait_for(ready)
    names = [p["metadata"]["name"] for p in cluster.objects("Pod", "default")]
    assert {"db-0", "db-1"} <= set(names)
    agents = [
        p for p in cluster.objects("Pod", "default") if p["metadata"]["name"].startswith("agent-")
    ]
    assert sorted(p["spec"]["nodeName"] for p in agents) == sorted(cluster.node_names)
    status = apps.read_namespaced_daemon_set("agent", "default").status
    assert (status.desired_number_scheduled, status.number_ready) == (2, 2)


def test_crash_loop_injection_and_healing(
    cluster: FakeCluster, apps: kubernetes.client.AppsV1Api, core: kubernetes.client.CoreV1Api
) -> None:
    cluster.crash_loop("Deployment", "web")
    apps.create_namespaced_deployment("default", manifests.deployment(replicas=1))

    def restarts(c: FakeCluster) -> int:
        pods = c.objects("Pod", "default")
        statuses = pods[0]["status"].get("containerStatuses") if pods else None
        return int(statuses[0]["restartCount"]) if statuses else 0

    cluster.wait_for(lambda c: restarts(c) >= 2)
    (pod,) = core.list_namespaced_pod("default").items
    container = pod.status.container_statuses[0]
    assert container.state.waiting.reason == "CrashLoopBackOff"
    assert (container.ready, container.last_state.terminated.exit_code) == (False, 1)
    assert condition(cluster.get("Deployment", "web"), "Available") == "False"

    cluster.heal("Deployment", "web")
    cluster.wait_for(lambda c: condition(c.get("Deployment", "web"), "Available") == "True")
    assert restarts(cluster) >= 2  # the count never goes back


def test_node_conditions_are_settable_and_not_ready_nodes_unready_pods(
    cluster: FakeCluster, apps: kubernetes.client.AppsV1Api, core: kubernetes.client.CoreV1Api
) -> None:
    apps.create_namespaced_deployment("default", manifests.deployment(replicas=1))
    cluster.wait_for(lambda c: condition(c.get("Deployment", "web"), "Available") == "True")
    cluster.set_node_condition("MemoryPressure", True)
    cluster.set_node_condition("Ready", False)
    node = core.list_node().items[0]
    conditions = {c.type: c.status for c in node.status.conditions}
    assert conditions == {
        "Ready": "False",
        "MemoryPressure": "True",
        "DiskPressure": "False",
        "PIDPressure": "False",
    }
    cluster.wait_for(lambda c: condition(c.get("Deployment", "web"), "Available") == "False")
    assert condition(cluster.objects("Pod", "default")[0], "Ready") == "False"
    cluster.set_node_condition("Ready", True)
    cluster.wait_for(lambda c: condition(c.get("Deployment", "web"), "Available") == "True")


def test_pods_wait_for_a_ready_node(
    cluster: FakeCluster, core: kubernetes.client.CoreV1Api
) -> None:
    cluster.set_node_condition("Ready", "Unknown")
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    core.create_namespaced_pod("default", pod)
    cluster.wait_for(lambda c: condition(c.get("Pod", "p"), "PodScheduled") == "False")
    assert cluster.get("Pod", "p")["spec"].get("nodeName") is None  # type: ignore[index]
    cluster.set_node_condition("Ready", True)
    cluster.wait_for(lambda c: condition(c.get("Pod", "p"), "Ready") == "True")


def test_ready_delay_is_adjustable(cluster: FakeCluster, core: kubernetes.client.CoreV1Api) -> None:
    cluster.ready_delay = 60
    pod = {"metadata": {"name": "slow"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    core.create_namespaced_pod("default", pod)
    waiting = cluster.wait_for(
        lambda c: (
            (c.get("Pod", "slow") or {}).get("status", {}).get("containerStatuses") or [None]
        )[0]
    )
    assert waiting["state"]["waiting"]["reason"] == "ContainerCreating"
    cluster.ready_delay = 0
    cluster.wait_for(lambda c: condition(c.get("Pod", "slow"), "Ready") == "True")


@pytest.mark.parametrize("mode", ["refuse", "hang"])
def test_the_api_becomes_unreachable_and_recovers(cluster: FakeCluster, mode: str) -> None:
    configuration = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config_from_dict(
        cluster.kubeconfig, client_configuration=configuration
    )
    configuration.retries = 0
    with kubernetes.client.ApiClient(configuration) as api:
        core = kubernetes.client.CoreV1Api(api)
        assert core.list_namespace().items
        cluster.unreachable(mode)  # type: ignore[arg-type]
        with pytest.raises(urllib3.exceptions.HTTPError):
            core.list_namespace(_request_timeout=0.5)
        cluster.reachable()
        assert cluster.wait_for(lambda c: _lists(core))


def _lists(core: kubernetes.client.CoreV1Api) -> bool:
    try:
        return bool(core.list_namespace(_request_timeout=2).items)
    except urllib3.exceptions.HTTPError:
        return False


def test_namespaces_get_a_default_service_account(
    cluster: FakeCluster, core: kubernetes.client.CoreV1Api
) -> None:
    core.create_namespace({"metadata": {"name": "team"}})
    cluster.wait_for(lambda c: c.get("ServiceAccount", "default", "team"))


def test_load_balancers_get_an_address(
    cluster: FakeCluster, core: kubernetes.client.CoreV1Api
) -> None:
    created = core.create_namespaced_service("default", manifests.service(type_="LoadBalancer"))
    port = created.spec.ports[0]
    assert 30000 <= port.node_port <= 32767 and port.target_port == 80
    cluster.wait_for(
        lambda c: (c.get("Service", "web") or {})["status"]["loadBalancer"].get("ingress")
    )
    assert (
        core.read_namespaced_service("web", "default").status.load_balancer.ingress[0].ip
        == "127.0.0.1"
    )
