"""The fake as a process (`python -m krake_testing.kube`), several fakes at once, and use
from async tests with the official asyncio client (`kubernetes.aio`)."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
from pathlib import Path

import kubernetes.aio.client
import kubernetes.aio.config
import kubernetes.aio.watch
import kubernetes.client
import kubernetes.config
import yaml

from krake_testing.kube import FakeCluster, manifests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_module_serves_a_cluster_and_writes_its_kubeconfig(tmp_path: Path) -> None:
    port, path = free_port(), tmp_path / "kubeconfig.yaml"
    command = [
        *(sys.executable, "-m", "krake_testing.kube", "--address", f"127.0.0.1:{port}"),
        *("--kubeconfig", str(path), "--token", "demo-token", "--name", "demo"),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # printed once serving; EOF if it died
        assert f"https://127.0.0.1:{port}" in line
        config = yaml.safe_load(path.read_text())
        assert config["users"][0]["user"] == {"token": "demo-token"}
        with kubernetes.config.new_client_from_config_dict(config) as api:
            nodes = kubernetes.client.CoreV1Api(api).list_node().items
        assert [n.metadata.name for n in nodes] == ["demo-node-1"]
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0


def test_clusters_run_side_by_side_with_separate_state() -> None:
    with FakeCluster("left") as left, FakeCluster("right") as right:
        assert left.url != right.url
        left.create(manifests.config_map("only-left"))
        assert left.get("ConfigMap", "only-left") is not None
        assert right.get("ConfigMap", "only-left") is None
        assert left.node_names == ["left-node-1"] and right.node_names == ["right-node-1"]


async def test_async_tests_and_the_asyncio_client() -> None:
    async with FakeCluster("async", ready_delay=0.05) as cluster:
        api = await kubernetes.aio.config.new_client_from_config_dict(cluster.kubeconfig)
        async with api:
            apps = kubernetes.aio.client.AppsV1Api(api)
            listed = await apps.list_namespaced_deployment("default")
            await apps.create_namespaced_deployment("default", manifests.deployment(replicas=1))
            watch = kubernetes.aio.watch.Watch()
            ready = None
            async with asyncio.timeout(10):
                async for event in watch.stream(
                    apps.list_namespaced_deployment,
                    "default",
                    resource_version=listed.metadata.resource_version,
                    timeout_seconds=10,
                ):
                    if event["object"].status.ready_replicas == 1:
                        ready = event["type"]
                        break
            await watch.close()
        assert ready == "MODIFIED"
        pods = await asyncio.to_thread(cluster.objects, "Pod", "default")
        assert [p["status"]["phase"] for p in pods] == ["Running"]
