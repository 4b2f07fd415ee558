"""The complete and shutdown hooks: tokens in Secrets on the member cluster (never in
the status), variables in every container, the workload's calls, and the shutdown
hook's grace, retries and failure strategies. The "workload" is this test: it reads
its token from the Secret, as the pod would through its environment."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp.web
import pytest
from app_support import (
    KINDS,
    State,
    add_cluster,
    app_gone,
    app_state,
    bind,
    create_app,
    deployment,
    running,
    service,
)

from krake.kubernetes.v1 import kubernetes_pb2
from krake_controllers.runtime.client import Client
from krake_testing.api import free_port
from krake_testing.kube import FakeCluster

Application = kubernetes_pb2.Application


def token(cluster: FakeCluster, hook: str, ns: str) -> str:
    secret = cluster.get("Secret", f"krake-{hook}-app", ns)
    assert secret is not None
    return base64.b64decode(secret["data"]["token"]).decode()


async def call_hook(client: Client, hook: str, ns: str, value: str) -> Any:
    kind = KINDS["Application"]
    request = client.request(kind, hook, namespace=ns, name="app", token=value)
    return await client.unary(kind, hook)(request, timeout=client.timeout)


@contextlib.asynccontextmanager
async def workload(
    client: Client, cluster: FakeCluster, ns: str, port: int, *, answer: bool = True
) -> AsyncIterator[list[bool]]:
    """An HTTP server standing for the workload's shutdown endpoint: records, per
    request, whether the Deployment was still on the cluster, then (if `answer`)
    reports the shutdown to the API with its token."""
    calls: list[bool] = []

    async def shutdown(_: aiohttp.web.Request) -> aiohttp.web.Response:
        calls.append(cluster.get("Deployment", "web", ns) is not None)
        if answer:
            await call_hook(client, "shutdown", ns, token(cluster, "shutdown", ns))
        return aiohttp.web.Response(text="stopping")

    app = aiohttp.web.Application()
    app.router.add_post("/shutdown", shutdown)
    runner = aiohttp.web.AppRunner(app)
    await runner.setup()
    await aiohttp.web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield calls
    finally:
        await runner.cleanup()


async def test_complete_hook_token_and_deletion(
    client: Client, ns: str, cluster_a: FakeCluster
) -> None:
    await add_cluster(client, ns, cluster_a)
    await create_app(client, ns, "app", [deployment()], hooks={"complete": True})
    async with running(client):
        await bind(client, ns, "app", "a")
        app = await app_state(client, ns, "app", State.RUNNING)
        secret_token = token(cluster_a, "complete", ns)
        assert app.status.complete_token.startswith("sha256:")
        assert secret_token not in str(app)
        env = cluster_a.get("Deployment", "web", ns)["spec"]["template"]["spec"]["containers"][0]
        names = {var["name"]: var for var in env["env"]}
        assert names["KRAKE_COMPLETE_URL"]["value"].endswith(
            f"/kubernetes/namespaces/{ns}/applications/app/complete"
        )
        reference = names["KRAKE_COMPLETE_TOKEN"]["valueFrom"]["secretKeyRef"]
        assert reference == {"name": "krake-complete-app", "key": "token"}
        with contextlib.suppress(Exception):
            await call_hook(client, "complete", ns, "wrong")
        assert not (await client.kind(KINDS["Application"]).get(ns, "app")).metadata.HasField(
            "deleted"
        )
        await call_hook(client, "complete", ns, secret_token)
        await app_gone(client, ns, "app")
        assert cluster_a.get("Deployment", "web", ns) is None
        assert cluster_a.get("Secret", "krake-complete-app", ns) is None


async def test_shutdown_hook_is_called_before_deletion(
    client: Client, ns: str, cluster_a: FakeCluster
) -> None:
    port = free_port()
    await add_cluster(client, ns, cluster_a)
    manifest = [deployment(), service(port=port, kind="LoadBalancer")]
    await create_app(client, ns, "app", manifest, hooks={"shutdown": True}, shutdown_grace_time=10)
    async with running(client), workload(client, cluster_a, ns, port) as calls:
        await bind(client, ns, "app", "a")
        app = await app_state(client, ns, "app", State.RUNNING)
        assert dict(app.status.services) == {"web": f"127.0.0.1:{port}"}
        await client.kind(KINDS["Application"]).delete(ns, "app")
        await app_gone(client, ns, "app")
        assert calls == [True]  # one call, while the workload still ran
        assert cluster_a.get("Deployment", "web", ns) is None


@pytest.mark.parametrize("strategy", [Application.GIVE_UP, Application.DELETE])
async def test_unanswered_shutdown_is_retried_then_the_strategy_decides(
    client: Client, ns: str, cluster_a: FakeCluster, strategy: int
) -> None:
    port = free_port()
    await add_cluster(client, ns, cluster_a)
    manifest = [deployment(), service(port=port, kind="LoadBalancer")]
    await create_app(
        client,
        ns,
        "app",
        manifest,
        hooks={"shutdown": True},
        shutdown_grace_time=1,
        shutdown_retry_count=1,
        shutdown_failure_strategy=strategy,
    )
    async with running(client), workload(client, cluster_a, ns, port, answer=False) as calls:
        await bind(client, ns, "app", "a")
        await app_state(client, ns, "app", State.RUNNING)
        await client.kind(KINDS["Application"]).delete(ns, "app")
        if strategy == Application.GIVE_UP:
            app = await app_state(client, ns, "app", State.DEGRADED)
            assert "did not shut down" in app.status.reason.message
            assert cluster_a.get("Deployment", "web", ns) is not None
        else:
            await app_gone(client, ns, "app")
            assert cluster_a.get("Deployment", "web", ns) is None
        assert calls == [True, True]  # the first request and one retry, both before removal
